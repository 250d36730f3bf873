/*
 * kernel/internal.h - what the kernel's source files share and nobody else sees.
 */
#ifndef PAGODA_KERNEL_INTERNAL_H
#define PAGODA_KERNEL_INTERNAL_H

#include <pagoda/kernel.h>

/* Linux's RLIMIT_NOFILE soft default, the size of every descriptor table. */
#define KERNEL_NOFILE KERNEL_MAX_FDS

/* ---- files.c ---- */

/* A descriptor table with 0, 1 and 2 open on one description of /dev/null (as a
 * shell started from a terminal shares one).  NULL on allocation failure. */
struct fd_table *fd_table_create(void);
/* Drop a reference; the last one closes every descriptor. */
void fd_table_put(struct fd_table *t);

/* The open description behind fd, or NULL (closed, out of range, negative). */
struct open_file *fd_lookup(const struct fd_table *t, long fd);

long sys_openat(struct process *p, long dirfd, const char *path, long flags, long mode);
long sys_close(struct process *p, long fd);
long sys_dup(struct process *p, long fd);
long sys_dup2(struct process *p, long oldfd, long newfd);
long sys_dup3(struct process *p, long oldfd, long newfd, long flags);

#endif
