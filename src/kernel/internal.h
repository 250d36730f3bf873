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

/* A copy of t for fork (each description referenced once more); NULL on -ENOMEM. */
struct fd_table *fd_table_dup(const struct fd_table *t);
/* execve: close every close-on-exec descriptor. */
void fd_table_close_on_exec(struct fd_table *t);
/* Is this fcntl command one pagoda models (the descriptor-table ones)? */
bool fcntl_modelled(long cmd);
long sys_fcntl(struct process *p, long fd, long cmd, uint64_t arg);
long sys_close_range(struct process *p, unsigned first, unsigned last, unsigned flags);
/* memfd_create with the shmem inode number to list. */
long sys_memfd_create(struct process *p, const char *name, unsigned flags, uint64_t ino);
/* Put a description of something pagoda does not model (a pipe, socket, eventfd ...)
 * at fd, closing what was there: it can be closed and dup()ed, and mmap of it gives
 * ENODEV.  0, -EBADF (fd out of range), -ENOMEM. */
int fd_install_opaque(struct process *p, long fd, const char *what, bool cloexec);
/* Put a read-only open of host file path at fd (as the configured user).  0 or -errno. */
int fd_install_path(struct process *p, long fd, const char *path);

/* ---- tlbflush.c ---- */

/* Give a process's new mm a PCID and the TLB-shootdown hook (mm->tlb_flush). */
void kernel_mm_attach(struct kernel *k, struct mm *mm);
/* The mm is going (exit, exec): flush what its PCID holds and take the hook away.
 * Call before mm_destroy; an mm never attached is left alone. */
void kernel_mm_detach(struct kernel *k, struct mm *mm);
/* switch_mm(): load mm's page tables and PCID into CR3, keeping the TLB entries
 * cached under that PCID when they are this mm's (the no-flush bit). */
void kernel_load_mm(struct kernel *k, struct mm *mm);

/* ---- access.c ---- */
/* The kernel half's TLB hook (kmem_set_tlb_flush): INVLPG every page of [start, end)
 * on the CPU ctx, global entries included. */
void kernel_flush_kernel_tlb(void *ctx, uint64_t start, uint64_t end);

#endif
