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

/* UAPI values the entry code needs. */
#define K_MAP_ANONYMOUS 0x20
#define K_MLOCK_ONFAULT 1
#define K_PR_SET_VMA 0x53564d41
#define K_PR_SET_VMA_ANON_NAME 0
#define K_PERSONALITY_QUERY 0xffffffffu
#define K_O_PATH 010000000
#define K_AT_FDCWD (-100)

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
    int err = cpu_init(&k->cpu, k->phys, &k->cfg.cpu);
    if (err) {
        phys_destroy(k->phys);
        free(k);
        return err;
    }
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
    cpu_destroy(&k->cpu);
    phys_destroy(k->phys);
    free(k);
}

struct process *kernel_find(struct kernel *k, int pid)
{
    for (struct process *p = k->procs; p; p = p->next) {
        if (p->pid == pid)
            return p;
    }
    return NULL;
}

/* The next pid nobody uses, counting up from k->next_pid as Linux's pid allocator
 * does (without wrapping: 2^31 processes are not a concern here). */
static int next_free_pid(struct kernel *k)
{
    while (kernel_find(k, k->next_pid))
        k->next_pid++;
    return k->next_pid;
}

/* Append p to the list of processes, which is kept in creation order. */
static void link_process(struct kernel *k, struct process *p)
{
    struct process **tail = &k->procs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = p;
}

struct process *kernel_new_process(struct kernel *k, int pid)
{
    if (pid <= 0)
        pid = next_free_pid(k);
    else if (kernel_find(k, pid))
        return NULL;
    struct process *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->pid = pid;
    p->uid = k->cfg.uid;
    p->gid = k->cfg.gid;
    p->files = fd_table_create();
    if (!p->files || mm_create(k->phys, &k->cfg.mm, &p->mm)) {
        fd_table_put(p->files);
        free(p);
        return NULL;
    }
    if (pid >= k->next_pid)
        k->next_pid = pid + 1;
    link_process(k, p);
    k->booted = true;
    if (!k->current)
        k->current = p;
    return p;
}

/* Drop the process's reference on its address space (shared with CLONE_VM threads). */
static void release_mm(struct process *p)
{
    struct mm *mm = p->mm;
    p->mm = NULL;
    if (mm && --mm->users <= 0)
        mm_destroy(mm);
}

void kernel_exit(struct kernel *k, struct process *p, int code)
{
    if (p->exited)
        return;
    p->exited = true;
    p->exit_code = code;
    fd_table_put(p->files);
    p->files = NULL;
    release_mm(p);
}

void kernel_reap(struct kernel *k, struct process *p)
{
    kernel_exit(k, p, 0);
    struct process **link = &k->procs;
    while (*link && *link != p)
        link = &(*link)->next;
    PAGODA_BUG_ON(!*link, "a reaped process is on the kernel's process list");
    *link = p->next;
    for (struct process *q = k->procs; q; q = q->next) {
        if (q->parent == p)
            q->parent = NULL;
    }
    if (k->current == p)
        k->current = k->procs;
    free(p);
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
    case NR_personality: return sys_personality(p, a[0]);
    case NR_exit:
    case NR_exit_group: kernel_exit(k, p, (int)a[0]); return 0;
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
    case NR_dup3: case NR_personality: case NR_exit: case NR_exit_group:
        return true;
    default:
        return false;
    }
}

long kernel_syscall(struct kernel *k, struct process *p, long nr, const uint64_t args[6])
{
    if (!p || p->exited)
        return -ESRCH;
    if (!kernel_implements(nr))
        return -ENOSYS;
    long r = dispatch_mm(k, p, nr, args);
    if (PAGODA_CHECKING && p->mm)
        mm_check(p->mm);
    return r;
}
