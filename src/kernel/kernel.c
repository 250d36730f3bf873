/*
 * kernel/kernel.c - the machine, its processes, and the system-call entry.
 *
 * kernel_syscall is arch/x86's syscall entry reduced to what pagoda models: it takes
 * the six argument registers as the hardware delivers them, truncates them to the
 * C types of the kernel's SYSCALL_DEFINE, makes the checks Linux makes before the
 * memory manager is reached (mmap's offset and descriptor), and hands over to mm_*
 * or to the descriptor table.  Everything returns a value or -errno.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/bug.h"
#include "kernel/internal.h"

#include <pagoda/kmem.h>

/* UAPI values the entry code needs. */
#define K_MAP_ANONYMOUS 0x20
#define K_MLOCK_ONFAULT 1
#define K_PR_SET_VMA 0x53564d41
#define K_PR_SET_VMA_ANON_NAME 0
#define K_PERSONALITY_QUERY 0xffffffffu
#define K_O_PATH 010000000
#define K_AT_FDCWD (-100)
#define K_AT_EMPTY_PATH 0x1000
#define K_AT_SYMLINK_NOFOLLOW 0x100
#define K_SIGCHLD 17
#define K_CLONE_VM 0x100ULL
#define K_CLONE_VFORK 0x4000ULL

int kernel_create(const struct kernel_config *cfg, struct kernel **out)
{
    *out = NULL;
    struct kernel *k = calloc(1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    k->cfg = *cfg;
    kernel_config_sync(&k->cfg);
    struct phys_config pc = {.ram_bytes = k->cfg.ram};
    k->phys = phys_create(&pc);
    if (!k->phys) {
        int err = errno ? -errno : -ENOMEM;
        free(k);
        return err;
    }
    mm_zero_page_reserve(k->phys); /* frame 0: the shared zero page, outside managed memory */
    mm_hugetlb_pool_init(k->phys, (uint64_t)k->cfg.mm.hugetlb_pages_2m, (uint64_t)k->cfg.mm.hugetlb_pages_1g);
    int err = cpu_init(&k->cpu, k->phys, &k->cfg.cpu);
    if (err) {
        mm_fault_release_phys(k->phys);
        phys_destroy(k->phys);
        free(k);
        return err;
    }
    err = kmem_boot(k->phys, k->cfg.paging_levels); /* init_mm: the kernel half */
    if (err) {
        cpu_destroy(&k->cpu);
        mm_fault_release_phys(k->phys);
        phys_destroy(k->phys);
        free(k);
        return err;
    }
    kmem_set_tlb_flush(k->phys, kernel_flush_kernel_tlb, &k->cpu);
    k->next_pid = 1;
    *out = k;
    return 0;
}

void kernel_destroy(struct kernel *k)
{
    if (!k)
        return;
    while (k->procs)
        kernel_reap(k, k->procs);
    kmem_destroy(k->phys);
    cpu_destroy(&k->cpu);
    mm_fault_release_phys(k->phys);
    phys_destroy(k->phys);
    free(k);
}

/* ---- system calls ---------------------------------------------------------- */

/* mmap(2) at the x86 entry (sys_x86_64.c, then ksys_mmap_pgoff): the offset must be
 * page aligned even for anonymous maps; a file map needs an open descriptor that is
 * not O_PATH; anonymous maps ignore fd.  The rest is the memory manager's. */
static long sys_mmap(struct process *p, const uint64_t a[6])
{
    uint64_t addr = a[0], len = a[1], prot = a[2], flags = a[3], off = a[5];
    if (off & (PAGE_SIZE - 1))
        return -EINVAL;
    struct mm_file *file = NULL;
    if (!(flags & K_MAP_ANONYMOUS)) {
        struct open_file *of = fd_lookup(p->files, (int)a[4]);
        if (!of || (of->flags & K_O_PATH))
            return -EBADF;
        file = of->file;
    }
    return mm_mmap(p->mm, addr, len, prot, flags, file, off >> PAGE_SHIFT);
}

/* mincore(2).  A replayed log may give no vector (NULL): the kernel then computes
 * into a scratch page of its own, as Linux does chunk by chunk, and reports the copy
 * to the user's NULL as EFAULT - after the checks and lookups that come first. */
static long sys_mincore(struct process *p, uint64_t start, uint64_t len, unsigned char *vec)
{
    if (vec)
        return mm_mincore(p->mm, start, len, vec);
    unsigned char scratch[PAGE_SIZE];
    uint64_t chunk = PAGE_SIZE << PAGE_SHIFT;
    long r = mm_mincore(p->mm, start, len < chunk ? len : chunk, scratch);
    if (r == 0 && len)
        return -EFAULT;
    return r;
}

/* prctl(2): only PR_SET_VMA/PR_SET_VMA_ANON_NAME touches memory management; other
 * options are not modelled and fail as an unknown option does. */
static long sys_prctl(struct process *p, const uint64_t a[6])
{
    if ((int)a[0] != K_PR_SET_VMA)
        return -EINVAL;
    if (a[1] != K_PR_SET_VMA_ANON_NAME)
        return -EINVAL;
    return mm_set_anon_name(p->mm, a[2], a[3], (const char *)(uintptr_t)a[4]);
}

/* personality(2): set unless queried with 0xffffffff; the old value is returned. */
static long sys_personality(struct process *p, uint64_t persona)
{
    unsigned old = (unsigned)p->personality;
    if ((unsigned)persona != K_PERSONALITY_QUERY)
        p->personality = (unsigned)persona;
    return old;
}

/* mlock2(2): flags other than MLOCK_ONFAULT are refused before anything else. */
static long sys_mlock2(struct process *p, const uint64_t a[6])
{
    if ((int)a[2] & ~K_MLOCK_ONFAULT)
        return -EINVAL;
    return mm_mlock(p->mm, a[0], a[1], (unsigned)a[2]);
}

/* Bytes of a NULL-terminated host array of strings, counting each NUL; *n gets the
 * number of strings. */
static uint64_t strings_size(const char *const *v, int *n)
{
    uint64_t bytes = 0;
    *n = 0;
    for (; v && v[*n]; (*n)++)
        bytes += strlen(v[*n]) + 1;
    return bytes;
}

/* execve(2) with host pointers for the path, argv and envp arrays. */
static long sys_execve(struct kernel *k, struct process *p, const char *path, const char *const *argv,
                       const char *const *envp)
{
    int argc, envc;
    uint64_t bytes = strings_size(argv, &argc) + strings_size(envp, &envc);
    return kernel_execve(k, p, path, argv, argc, envc, bytes);
}

/* execveat(2): an absolute path, or one relative to the cwd with AT_FDCWD, or with
 * AT_EMPTY_PATH and "" the file dirfd is open on.  Other directory descriptors are not
 * modelled (ENOSYS would hide that: EBADF is what a closed one gives). */
static long sys_execveat(struct kernel *k, struct process *p, const uint64_t a[6])
{
    const char *path = (const char *)(uintptr_t)a[1];
    int flags = (int)a[4];
    if (flags & ~(K_AT_EMPTY_PATH | K_AT_SYMLINK_NOFOLLOW))
        return -EINVAL;
    if (path && !path[0] && (flags & K_AT_EMPTY_PATH)) {
        struct open_file *of = fd_lookup(p->files, (long)a[0]);
        if (!of)
            return -EBADF;
        path = of->file->path;
    } else if (path && path[0] != '/' && (int)a[0] != K_AT_FDCWD) {
        return fd_lookup(p->files, (long)a[0]) ? -ENOTDIR : -EBADF;
    }
    return sys_execve(k, p, path, (const char *const *)(uintptr_t)a[2], (const char *const *)(uintptr_t)a[3]);
}

/* clone3(2): struct clone_args at a host address; its size must cover version 0
 * (64 bytes), exit_signal must be a signal number and the flags carry none. */
static long sys_clone3(struct kernel *k, struct process *p, const uint64_t a[6])
{
    const uint64_t *args = (const uint64_t *)(uintptr_t)a[0];
    if (a[1] < 64 || a[1] > 4096)
        return -EINVAL;
    if (!args)
        return -EFAULT;
    uint64_t flags = args[0], exit_signal = args[4];
    if ((flags & 0xff) || exit_signal > 0xff)
        return -EINVAL;
    return kernel_clone(k, p, flags, (int)exit_signal, 0);
}

/* Descriptor and process calls. */
static long dispatch_other(struct kernel *k, struct process *p, long nr, const uint64_t a[6])
{
    switch (nr) {
    case NR_open: return sys_openat(p, K_AT_FDCWD, (const char *)(uintptr_t)a[0], (int)a[1], (int)a[2]);
    case NR_openat: return sys_openat(p, (int)a[0], (const char *)(uintptr_t)a[1], (int)a[2], (int)a[3]);
    case NR_close: return sys_close(p, (long)a[0]);
    case NR_dup: return sys_dup(p, (long)a[0]);
    case NR_dup2: return sys_dup2(p, (long)a[0], (long)a[1]);
    case NR_dup3: return sys_dup3(p, (long)a[0], (long)a[1], (int)a[2]);
    case NR_fcntl: return sys_fcntl(p, (long)a[0], (long)(int)a[1], a[2]);
    case NR_close_range: return sys_close_range(p, (unsigned)a[0], (unsigned)a[1], (unsigned)a[2]);
    case NR_memfd_create:
        return sys_memfd_create(p, (const char *)(uintptr_t)a[0], (unsigned)a[1], ++k->shmem_inodes + 1000);
    case NR_personality: return sys_personality(p, a[0]);
    case NR_fork: return kernel_clone(k, p, K_SIGCHLD, K_SIGCHLD, 0);
    case NR_vfork: return kernel_clone(k, p, K_CLONE_VM | K_CLONE_VFORK | K_SIGCHLD, K_SIGCHLD, 0);
    case NR_clone: return kernel_clone(k, p, a[0] & ~0xffULL, (int)(a[0] & 0xff), 0);
    case NR_clone3: return sys_clone3(k, p, a);
    case NR_execve:
        return sys_execve(k, p, (const char *)(uintptr_t)a[0], (const char *const *)(uintptr_t)a[1],
                          (const char *const *)(uintptr_t)a[2]);
    case NR_execveat: return sys_execveat(k, p, a);
    case NR_wait4: return kernel_wait4(k, p, (int)a[0], (int *)(uintptr_t)a[1], (int)a[2]);
    case NR_exit: kernel_exit(k, p, KERNEL_WSTATUS_EXITED((int)a[0])); return 0;
    case NR_exit_group: kernel_exit_group(k, p, KERNEL_WSTATUS_EXITED((int)a[0])); return 0;
    default: return -ENOSYS;
    }
}

/* The memory-management calls, straight to the memory manager; the rest goes on to
 * dispatch_other. */
static long dispatch_mm(struct kernel *k, struct process *p, long nr, const uint64_t a[6])
{
    struct mm *mm = p->mm;
    switch (nr) {
    case NR_mmap: return sys_mmap(p, a);
    case NR_munmap: return mm_munmap(mm, a[0], a[1]);
    case NR_mprotect: return mm_mprotect(mm, a[0], a[1], a[2]);
    case NR_mremap: return mm_mremap(mm, a[0], a[1], a[2], a[3], a[4]);
    case NR_brk: return mm_brk(mm, a[0]);
    case NR_madvise: return mm_madvise(mm, a[0], a[1], (int)a[2]);
    case NR_mlock: return mm_mlock(mm, a[0], a[1], 0);
    case NR_mlock2: return sys_mlock2(p, a);
    case NR_munlock: return mm_munlock(mm, a[0], a[1]);
    case NR_mlockall: return mm_mlockall(mm, (unsigned)(int)a[0]);
    case NR_munlockall: return mm_munlockall(mm);
    case NR_msync: return mm_msync(mm, a[0], a[1], (int)a[2]);
    case NR_mincore: return sys_mincore(p, a[0], a[1], (unsigned char *)(uintptr_t)a[2]);
    case NR_prctl: return sys_prctl(p, a);
    default: return dispatch_other(k, p, nr, a);
    }
}

bool kernel_implements(long nr)
{
    switch (nr) {
    case NR_mmap: case NR_munmap: case NR_mprotect: case NR_mremap: case NR_brk: case NR_madvise:
    case NR_mlock: case NR_mlock2: case NR_munlock: case NR_mlockall: case NR_munlockall: case NR_msync:
    case NR_mincore: case NR_prctl: case NR_open: case NR_openat: case NR_close: case NR_dup: case NR_dup2:
    case NR_dup3: case NR_personality: case NR_exit: case NR_exit_group: case NR_fork: case NR_vfork:
    case NR_clone: case NR_clone3: case NR_execve: case NR_execveat: case NR_wait4: case NR_fcntl:
    case NR_close_range: case NR_memfd_create:
        return true;
    default:
        return false;
    }
}

bool kernel_models(long nr, const uint64_t args[6])
{
    if (!kernel_implements(nr))
        return false;
    if (nr == NR_fcntl)
        return fcntl_modelled((long)(int)args[1]);
    if (nr == NR_prctl)
        return (int)args[0] == K_PR_SET_VMA;
    return true;
}

long kernel_syscall(struct kernel *k, struct process *p, long nr, const uint64_t args[6])
{
    if (!p || p->exited)
        return -ESRCH;
    if (!kernel_implements(nr))
        return -ENOSYS;
    long r = dispatch_mm(k, p, nr, args);
    /* A task is never freed by its own call (an ended one stays a zombie), but exit
     * drops its mm and execve replaces it: check whichever it has now. */
    if (PAGODA_CHECKING && p->mm)
        mm_check(p->mm);
    return r;
}
