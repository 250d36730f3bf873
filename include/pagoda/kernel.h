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
    int pid;                 /* the task's id (strace's pid column: a thread id) */
    int tgid;                /* its thread group, the process as ps shows it */
    struct mm *mm;           /* shared with CLONE_VM tasks (mm->users counts them) */
    struct fd_table *files;  /* shared with CLONE_FILES tasks */
    unsigned long personality;
    long uid, gid;
    bool exited;             /* ended; a zombie until reaped */
    int exit_code;           /* the code given to exit/exit_group, or the signal */
    int wait_status;         /* what wait4 reports: code << 8, or the killing signal */
    int exit_signal;         /* signal the parent gets at exit (SIGCHLD); -1 for threads */
    bool aslr_image;         /* the image was loaded without ADDR_NO_RANDOMIZE: on a host
                                with randomization on (one that recorded a log) its layout
                                was random */
    char *exe;               /* path of the loaded image, NULL before the first execve */
    struct process *parent;  /* the group leader that waits for it (NULL: none left) */
    struct process *next;    /* all processes, by creation */
};

struct kernel {
    struct kernel_config cfg;
    struct phys *phys;
    struct cpu cpu;
    struct process *procs;
    struct process *current;
    int next_pid;
    bool booted; /* a process exists: config is frozen */
    uint64_t exec_count; /* images loaded, mixed into each exec's random seed */
    uint64_t shmem_inodes; /* inode numbers of memfd files */
    /* TLB shootdown (src/kernel/tlbflush.c): each process mm holds one PCID slot (its
     * mm->tlb_flush_ctx points at it); pcid_loaded says whose translations the TLB
     * may hold under each hardware PCID (NULL: nobody's). */
    struct kernel_pcid {
        struct kernel *k;
        unsigned users; /* mms holding this PCID (more than one only past 4095 mms) */
    } pcid[4096];
    const struct mm *pcid_loaded[4096];
    unsigned next_pcid;
    struct kernel_tlb_counts {
        uint64_t flush_pages;   /* pages invalidated one by one (INVLPG / INVPCID 0) */
        uint64_t flush_full;    /* whole-PCID flushes (ranges above 33 pages, exec, exit) */
        uint64_t flush_skipped; /* flushes of an mm with nothing in the TLB */
    } tlb_flushes;
};

/* Boot a machine with this configuration.  0, -EINVAL, -ENOMEM. */
int kernel_create(const struct kernel_config *cfg, struct kernel **out);
void kernel_destroy(struct kernel *k);

/* The process with this pid, or NULL. */
struct process *kernel_find(struct kernel *k, int pid);
/* A new process with an empty address space and descriptors 0, 1, 2 open on
 * /dev/null; pid <= 0 picks the next free pid.  NULL on -ENOMEM / pid in use. */
struct process *kernel_new_process(struct kernel *k, int pid);

/* One task ends with this wait status (KERNEL_WSTATUS_*): its descriptors are closed
 * and its share of the address space dropped; it stays findable, marked exited, until
 * reaped (threads are never waited for: kernel_reap or a reuse of the pid frees them). */
void kernel_exit(struct kernel *k, struct process *p, int wstatus);
/* exit_group / a fatal signal: every task of p's thread group ends. */
void kernel_exit_group(struct kernel *k, struct process *p, int wstatus);
#define KERNEL_WSTATUS_EXITED(code) (((code) & 0xff) << 8)
#define KERNEL_WSTATUS_KILLED(sig) ((sig) & 0x7f)

/* Forget a process (exiting it first if it still runs) and free it, so that its pid
 * can be used again. */
void kernel_reap(struct kernel *k, struct process *p);

/* clone(2), fork(2), vfork(2), clone3(2): a new task copied from p.  CLONE_VM shares the
 * address space (else mm_dup copies it), CLONE_FILES the descriptor table (else it is
 * copied), CLONE_THREAD puts the task in p's thread group (it needs CLONE_SIGHAND, which
 * needs CLONE_VM: -EINVAL otherwise, as copy_process checks), CLONE_PARENT gives it p's
 * parent.  pid > 0 asks for that pid (a replay reproduces the log's; -EEXIST when a live
 * task has it), 0 takes the next free one.  The new pid, or -errno. */
long kernel_clone(struct kernel *k, struct process *p, uint64_t flags, int exit_signal, int pid);

/* execve(2) of a host file: the kernel's ELF loader builds a new address space (see
 * src/kernel/exec.h); on success the other tasks of the group end, a non-leader caller
 * takes the leader's pid, close-on-exec descriptors close and the old mm is dropped.
 * argv may be NULL (argc and strings_bytes then say what a log showed); envc counts the
 * environment.  0 or -errno as Linux's execve returns it (ENOENT, EACCES, ENOEXEC ...). */
long kernel_execve(struct kernel *k, struct process *p, const char *path, const char *const *argv, int argc,
                   int envc, uint64_t strings_bytes);

/* wait4(2): reap an ended child of p's thread group (pid > 0 that one; -1, 0 or < -1
 * any).  options WNOHANG, __WCLONE, __WALL, __WNOTHREAD (others -EINVAL).  The child's
 * pid with *status (may be NULL) set, 0 with WNOHANG when none has ended, -ECHILD when
 * there is no such child, or KERNEL_WAIT_WOULD_BLOCK: children run but none has ended
 * (a replayed log that resumes a wait before its child's exit). */
long kernel_wait4(struct kernel *k, struct process *p, int pid, int *status, int options);
#define KERNEL_WAIT_WOULD_BLOCK (-512) /* -ERESTARTSYS */

/* Give p a descriptor at fd for something pagoda does not model (the pipe, socket or
 * eventfd a replayed log created with a call pagoda skips): it can be closed and
 * dup()ed, and mmap of it gives ENODEV.  0 or -errno. */
int kernel_install_fd(struct process *p, long fd, const char *what, bool cloexec);

/* Give p descriptor fd (free) as a read-only open of the host file at path, or, with
 * path NULL or unopenable, as kernel_install_fd's opaque description.  0 or -errno. */
int kernel_adopt_fd(struct process *p, long fd, const char *path);

/* Does kernel_syscall model this call with these arguments?  Some numbers are modelled
 * only in part (fcntl's descriptor commands, prctl's PR_SET_VMA): the rest would be
 * skipped by a replay rather than answered. */
bool kernel_models(long nr, const uint64_t args[6]);

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
    NR_mlock2 = 325, NR_execveat = 322, NR_clone3 = 435, NR_fcntl = 72, NR_close_range = 436,
    NR_memfd_create = 319,
};

/* ---- user memory access through the MMU (src/kernel/access.c) ---------------------- */

/* What a user access does (kernel_user_access's kind). */
#define KERNEL_ACCESS_READ 'r'
#define KERNEL_ACCESS_WRITE 'w'
#define KERNEL_ACCESS_EXEC 'x'

/* Access [addr, addr+len) of process p from user mode (CPL 3) through the MMU, with
 * p's page tables loaded (CR3 = its root, PCID = its mm's own when PCIDE; entries
 * cached under that PCID survive between calls, as the memory manager shoots down
 * every translation it changes through mm->tlb_flush).  A
 * page fault calls mm_handle_fault and retries; #GP (non-canonical) is SIGSEGV with
 * si_code SI_KERNEL.  kind 'w' stores wbuf, 'r'/'x' load into rbuf; with no buffer
 * (touch) each page of the range is only translated for that access, which faults,
 * fills the TLB and sets A/D exactly as an access would.  Bytes before a faulting page
 * are transferred.  Returns 0, or the signal number (SIGSEGV, SIGBUS, SIGKILL) with
 * *signo and *si_code set (0 and 0 on success). */
long kernel_user_access(struct kernel *k, struct process *p, uint64_t addr, uint64_t len, int kind,
                        const void *wbuf, void *rbuf, int *signo, int *si_code);

/* ---- kernel-mode accesses (src/kernel/access.c, the kernel half: pagoda/kmem.h) ---- */

/* The fault a kernel-mode access could not survive (Linux's oops): the vector
 * (VEC_PF, VEC_GP), the #PF error code and CR2. */
struct kernel_oops {
    int vector;
    uint32_t error_code;
    uint64_t addr;
};

/* Access [addr, addr+len) from kernel mode (CPL 0), page by page as touch does, with
 * p's page tables loaded (init_mm's, PCID 0, when p is NULL).  Faults on p's user
 * addresses go to the memory manager unless SMAP (on, RFLAGS.AC clear) forbids the
 * access; any other fault is an oops.  kind 'r' or 'w'.  0, -EFAULT with *oops set,
 * or -ENOENT (no kernel half). */
long kernel_kernel_access(struct kernel *k, struct process *p, uint64_t addr, uint64_t len, int kind,
                          struct kernel_oops *oops);

#endif
