/*
 * pagoda/kernel.h - the kernel layer: the machine's configuration, processes with
 * their mm and file-descriptor table, and system calls dispatched by their x86-64
 * numbers with Linux's return convention (a value, or -errno).
 *
 * Pointer arguments that name host data - paths for openat/open, the name of
 * PR_SET_VMA_ANON_NAME, mincore's vector - are host pointers: a replayed log has
 * no user memory behind them.
 */
#ifndef PAGODA_KERNEL_H
#define PAGODA_KERNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cpu.h"
#include "mm.h"
#include "phys.h"

/* Settings of `config KEY=VALUE` (script language), fixed before the first process. */
struct kernel_config {
    uint64_t ram;               /* bytes */
    uint64_t swap;              /* bytes, 0 = none */
    int paging_levels;          /* 4 or 5 */
    int thp;                    /* 0 never, 1 madvise, 2 always */
    bool pcid;
    bool aslr;
    uint64_t seed;
    int overcommit;
    int max_map_count;
    int reclaim;                /* 0 lru2q, 1 clock, 2 fifo, 3 opt */
    long uid, gid;              /* credentials host-file permissions are judged by
                                   (default: pagoda's own effective ids) */
    struct cpu_config cpu;
    struct mm_config mm;
};

/* Defaults as on the reference machine: 256 MiB, 4-level, THP madvise, PCID on,
 * ASLR off, overcommit 0, max_map_count 65530, Skylake TLBs. */
void kernel_config_default(struct kernel_config *cfg);

/* Apply one KEY=VALUE.  0, or -EINVAL with a message in err ("unknown key 'x'",
 * "bad value 'y' for ram: expected a size like 256M"). */
int kernel_config_set(struct kernel_config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Copy the settings that live twice (paging levels, PCID, overcommit, max_map_count)
 * from the top-level fields into cfg->cpu and cfg->mm.  kernel_config_set and
 * kernel_create call it; call it after changing those fields by hand. */
void kernel_config_sync(struct kernel_config *cfg);

#define KERNEL_MAX_FDS 1024

/* An open file description, shared by dup()ed descriptors. */
struct open_file {
    int refcount;
    struct mm_file *file;
    int flags; /* O_* as the program asked, O_ACCMODE included */
};

struct fd_table {
    int refcount;
    struct open_file *fd[KERNEL_MAX_FDS];
    bool cloexec[KERNEL_MAX_FDS];
};

struct process {
    int pid;
    struct mm *mm;
    struct fd_table *files;
    unsigned long personality;
    long uid, gid;
    bool exited;
    int exit_code;
    struct process *parent;
    struct process *next; /* all processes, by creation */
};

struct kernel {
    struct kernel_config cfg;
    struct phys *phys;
    struct cpu cpu;
    struct process *procs;
    struct process *current;
    int next_pid;
    bool booted; /* a process exists: config is frozen */
};

/* Boot a machine with this configuration.  0, -EINVAL, -ENOMEM. */
int kernel_create(const struct kernel_config *cfg, struct kernel **out);
void kernel_destroy(struct kernel *k);

/* The process with this pid, or NULL. */
struct process *kernel_find(struct kernel *k, int pid);
/* A new process with an empty address space and descriptors 0, 1, 2 open on
 * /dev/null; pid <= 0 picks the next free pid.  NULL on -ENOMEM / pid in use. */
struct process *kernel_new_process(struct kernel *k, int pid);

/* The process ends (exit_group, a fatal signal): its descriptors are closed and its
 * address space released; it stays findable, marked exited, until reaped. */
void kernel_exit(struct kernel *k, struct process *p, int code);

/* Forget a process (exiting it first if it still runs) and free it, so that its pid
 * can be used again. */
void kernel_reap(struct kernel *k, struct process *p);

/* A system call by x86-64 number in process p.  Unknown numbers give -ENOSYS. */
long kernel_syscall(struct kernel *k, struct process *p, long nr, const uint64_t args[6]);

/* Does kernel_syscall implement this number (anything else gives -ENOSYS)? */
bool kernel_implements(long nr);

/* x86-64 system call numbers <-> names, for the calls pagoda knows by name. */
long syscall_number(const char *name);
const char *syscall_name(long nr);

/* Syscall numbers used directly. */
enum {
    NR_read = 0, NR_write = 1, NR_open = 2, NR_close = 3, NR_mmap = 9, NR_mprotect = 10, NR_munmap = 11,
    NR_brk = 12, NR_mremap = 25, NR_msync = 26, NR_mincore = 27, NR_madvise = 28, NR_dup = 32,
    NR_dup2 = 33, NR_clone = 56, NR_fork = 57, NR_vfork = 58, NR_execve = 59, NR_exit = 60,
    NR_wait4 = 61, NR_mlock = 149, NR_munlock = 150, NR_mlockall = 151, NR_munlockall = 152,
    NR_prctl = 157, NR_personality = 135, NR_exit_group = 231, NR_openat = 257, NR_dup3 = 292,
    NR_mlock2 = 325, NR_execveat = 322, NR_clone3 = 435,
};

#endif
