/*
 * kernel/process.c - tasks as Linux keeps them: creation by clone/fork/vfork, the
 * image replaced by execve, exit and exit_group, and reaping by wait4.
 *
 * A task (struct process) is what strace's pid column names: a thread id.  Tasks of
 * one thread group share tgid, their mm and usually their descriptor table; the group
 * leader is the task whose pid equals tgid, and only leaders are waited for.  A task
 * that ends stays on the list as a zombie, holding neither mm nor descriptors, until
 * wait4 (or a new task wanting its pid) reaps it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/bug.h"
#include "kernel/exec.h"
#include "kernel/internal.h"

/* include/uapi/linux/sched.h */
#define K_CSIGNAL 0xffULL
#define K_CLONE_VM 0x100ULL
#define K_CLONE_FS 0x200ULL
#define K_CLONE_FILES 0x400ULL
#define K_CLONE_SIGHAND 0x800ULL
#define K_CLONE_PARENT 0x8000ULL
#define K_CLONE_THREAD 0x10000ULL
#define K_CLONE_NEWNS 0x20000ULL
#define K_CLONE_NEWUSER 0x10000000ULL
#define K_SIGCHLD 17
#define K_READ_IMPLIES_EXEC 0x0400000UL
#define K_ADDR_NO_RANDOMIZE 0x0040000UL
/* wait4 options */
#define K_WNOHANG 0x1
#define K_WUNTRACED 0x2
#define K_WCONTINUED 0x8
#define K_WNOTHREAD 0x20000000
#define K_WALL 0x40000000
#define K_WCLONE 0x80000000

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

/* A pid for a new task: `want` if given (a zombie holding it is reaped first, as the
 * host had reaped it by then), else the next free one; -EEXIST if a live task has it. */
static int claim_pid(struct kernel *k, int want)
{
    if (want <= 0)
        return next_free_pid(k);
    struct process *old = kernel_find(k, want);
    if (old && !old->exited)
        return -EEXIST;
    if (old)
        kernel_reap(k, old);
    return want;
}

/* A zeroed task with pid, linked; NULL without memory. */
static struct process *task_alloc(struct kernel *k, int pid)
{
    struct process *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->pid = p->tgid = pid;
    p->exit_signal = K_SIGCHLD;
    if (pid >= k->next_pid)
        k->next_pid = pid + 1;
    return p;
}

struct process *kernel_new_process(struct kernel *k, int pid)
{
    if (pid <= 0)
        pid = next_free_pid(k);
    else if (kernel_find(k, pid))
        return NULL;
    struct process *p = task_alloc(k, pid);
    if (!p)
        return NULL;
    p->uid = k->cfg.uid;
    p->gid = k->cfg.gid;
    p->aslr_image = false; /* no image yet: its layout is what the script makes it */
    p->files = fd_table_create();
    if (!p->files || mm_create(k->phys, &k->cfg.mm, &p->mm)) {
        fd_table_put(p->files);
        free(p);
        return NULL;
    }
    kernel_mm_attach(k, p->mm);
    link_process(k, p);
    k->booted = true;
    if (!k->current)
        k->current = p;
    return p;
}

/* Drop the task's reference on its address space (shared with CLONE_VM tasks); the
 * last one flushes its PCID and destroys it. */
static void release_mm(struct kernel *k, struct process *p)
{
    struct mm *mm = p->mm;
    p->mm = NULL;
    if (mm && --mm->users <= 0) {
        kernel_mm_detach(k, mm);
        mm_destroy(mm);
    }
}

void kernel_exit(struct kernel *k, struct process *p, int wstatus)
{
    if (p->exited)
        return;
    p->exited = true;
    p->wait_status = wstatus;
    p->exit_code = (wstatus & 0x7f) ? (wstatus & 0x7f) : (wstatus >> 8) & 0xff;
    fd_table_put(p->files);
    p->files = NULL;
    release_mm(k, p);
}

void kernel_exit_group(struct kernel *k, struct process *p, int wstatus)
{
    int tgid = p->tgid;
    for (struct process *q = k->procs; q; q = q->next) {
        if (q->tgid == tgid)
            kernel_exit(k, q, wstatus);
    }
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
    free(p->exe);
    free(p);
}

int kernel_install_fd(struct process *p, long fd, const char *what, bool cloexec)
{
    if (!p || p->exited)
        return -ESRCH;
    return fd_install_opaque(p, fd, what, cloexec);
}

int kernel_adopt_fd(struct process *p, long fd, const char *path)
{
    if (!p || p->exited)
        return -ESRCH;
    if (path && fd_install_path(p, fd, path) == 0)
        return 0;
    return fd_install_opaque(p, fd, path ? path : "descriptor", false);
}

/* ---- clone ---------------------------------------------------------------------- */

/* The group leader of p's thread group (p itself for a process), or NULL if gone. */
static struct process *group_leader(struct kernel *k, struct process *p)
{
    return p->pid == p->tgid ? p : kernel_find(k, p->tgid);
}

/* copy_process()'s checks of the flag combination, in its order. */
static int clone_flags_valid(uint64_t flags)
{
    if ((flags & (K_CLONE_NEWNS | K_CLONE_FS)) == (K_CLONE_NEWNS | K_CLONE_FS))
        return -EINVAL;
    if ((flags & (K_CLONE_NEWUSER | K_CLONE_FS)) == (K_CLONE_NEWUSER | K_CLONE_FS))
        return -EINVAL;
    if ((flags & K_CLONE_THREAD) && !(flags & K_CLONE_SIGHAND))
        return -EINVAL;
    if ((flags & K_CLONE_SIGHAND) && !(flags & K_CLONE_VM))
        return -EINVAL;
    return 0;
}

/* The child's address space and descriptors, shared or copied as flags say. */
static int clone_resources(struct kernel *k, struct process *child, struct process *p, uint64_t flags)
{
    if (flags & K_CLONE_VM) {
        child->mm = p->mm;
        p->mm->users++;
    } else {
        int err = mm_dup(p->mm, &child->mm);
        if (err)
            return err;
        kernel_mm_attach(k, child->mm);
    }
    if (flags & K_CLONE_FILES) {
        child->files = p->files;
        p->files->refcount++;
    } else if (!(child->files = fd_table_dup(p->files))) {
        release_mm(k, child);
        return -ENOMEM;
    }
    return 0;
}

long kernel_clone(struct kernel *k, struct process *p, uint64_t flags, int exit_signal, int pid)
{
    if (!p || p->exited)
        return -ESRCH;
    int err = clone_flags_valid(flags);
    if (err)
        return err;
    pid = claim_pid(k, pid);
    if (pid < 0)
        return pid;
    struct process *child = task_alloc(k, pid);
    if (!child)
        return -ENOMEM;
    err = clone_resources(k, child, p, flags);
    if (err) {
        free(child);
        return err;
    }
    child->personality = p->personality;
    child->uid = p->uid;
    child->gid = p->gid;
    child->aslr_image = p->aslr_image;
    child->exe = p->exe ? strdup(p->exe) : NULL;
    if (flags & K_CLONE_THREAD) {
        child->tgid = p->tgid;
        child->exit_signal = -1;
        struct process *leader = group_leader(k, p);
        child->parent = leader ? leader->parent : NULL;
    } else {
        child->exit_signal = exit_signal;
        child->parent = (flags & K_CLONE_PARENT) ? p->parent : group_leader(k, p);
    }
    link_process(k, child);
    return pid;
}

/* ---- execve --------------------------------------------------------------------- */

/* de_thread(): every other task of p's group ends; a non-leader p takes over the
 * leader's pid (the leader's task is freed), as strace's "superseded" line shows. */
static void become_sole_task(struct kernel *k, struct process *p)
{
    for (struct process *q = k->procs, *next; q; q = next) {
        next = q->next;
        if (q != p && q->tgid == p->tgid && q->pid != p->tgid) {
            kernel_exit(k, q, 0);
            kernel_reap(k, q);
        }
    }
    if (p->pid == p->tgid)
        return;
    struct process *leader = kernel_find(k, p->tgid);
    if (leader) {
        p->parent = leader->parent;
        p->exit_signal = leader->exit_signal;
        for (struct process *q = k->procs; q; q = q->next) {
            if (q->parent == leader)
                q->parent = p;
        }
        kernel_reap(k, leader);
    }
    p->pid = p->tgid;
}

/* unshare_files() then close-on-exec: a table shared with another task is copied. */
static int exec_files(struct process *p)
{
    if (p->files->refcount > 1) {
        struct fd_table *own = fd_table_dup(p->files);
        if (!own)
            return -ENOMEM;
        fd_table_put(p->files);
        p->files = own;
    }
    fd_table_close_on_exec(p->files);
    return 0;
}

long kernel_execve(struct kernel *k, struct process *p, const char *path, const char *const *argv, int argc,
                   int envc, uint64_t strings_bytes)
{
    if (!p || p->exited)
        return -ESRCH;
    if (!path)
        return -EFAULT;
    struct exec_args a = {
        .filename = path,
        .argv = argv,
        .argc = argc,
        .envc = envc,
        .strings_bytes = strings_bytes,
        .personality = p->personality,
        .uid = p->uid,
        .gid = p->gid,
        .aslr = k->cfg.aslr,
        .seed = k->cfg.seed ^ ((uint64_t)p->pid << 32) ^ k->exec_count++,
    };
    struct exec_info info = {0};
    struct mm *mm;
    int err = exec_load(k->phys, &k->cfg.mm, &a, &mm, &info);
    if (err && info.fatal_signal) /* past the point of no return: the process dies */
        kernel_exit_group(k, p, KERNEL_WSTATUS_KILLED(info.fatal_signal));
    if (err)
        return err;
    char *exe = strdup(path);
    if (!exe || exec_files(p)) {
        free(exe);
        mm_destroy(mm);
        return -ENOMEM;
    }
    /* The point of no return: from here on nothing fails. */
    become_sole_task(k, p);
    release_mm(k, p);
    p->mm = mm;
    kernel_mm_attach(k, mm);
    free(p->exe);
    p->exe = exe;
    p->aslr_image = !(p->personality & K_ADDR_NO_RANDOMIZE);
    p->personality &= ~K_READ_IMPLIES_EXEC; /* SET_PERSONALITY for a 64-bit image */
    return 0;
}

/* ---- wait4 ---------------------------------------------------------------------- */

/* Is q a child p's group may wait for under these options (wait's eligible_child)? */
static bool wait_eligible(const struct process *q, const struct process *leader, int pid, int options)
{
    if (q->parent != leader || q->pid != q->tgid)
        return false;
    if (pid > 0 && q->pid != pid)
        return false;
    if (options & K_WALL)
        return true;
    bool clone_child = q->exit_signal != K_SIGCHLD;
    return (options & K_WCLONE) ? clone_child : !clone_child;
}

/* A zombie group: its leader and every thread have ended. */
static bool group_ended(struct kernel *k, const struct process *leader)
{
    for (struct process *q = k->procs; q; q = q->next) {
        if (q->tgid == leader->tgid && !q->exited)
            return false;
    }
    return true;
}

/* Free every task of an ended group. */
static void reap_group(struct kernel *k, struct process *leader)
{
    int tgid = leader->tgid;
    for (struct process *q = k->procs, *next; q; q = next) {
        next = q->next;
        if (q->tgid == tgid && q != leader)
            kernel_reap(k, q);
    }
    kernel_reap(k, leader);
}

long kernel_wait4(struct kernel *k, struct process *p, int pid, int *status, int options)
{
    if (!p || p->exited)
        return -ESRCH;
    if (options & ~(K_WNOHANG | K_WUNTRACED | K_WCONTINUED | K_WNOTHREAD | K_WALL | K_WCLONE))
        return -EINVAL;
    struct process *leader = group_leader(k, p);
    bool any = false;
    for (struct process *q = k->procs; q; q = q->next) {
        if (!leader || !wait_eligible(q, leader, pid, options))
            continue;
        any = true;
        if (!group_ended(k, q))
            continue;
        int child = q->pid;
        if (status)
            *status = q->wait_status;
        reap_group(k, q);
        return child;
    }
    if (!any)
        return -ECHILD;
    return (options & K_WNOHANG) ? 0 : KERNEL_WAIT_WOULD_BLOCK;
}
