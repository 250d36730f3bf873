/*
 * Processes: fork's copy of the address space (dup_mmap), threads sharing it, exit and
 * exit_group, wait4's reaping and errors, descriptors across fork and exec-less
 * clone, fcntl/close_range/memfd_create.  The fork layouts were measured on Linux 6.18
 * with a C program that maps, forks, maps again next to the copies and prints
 * /proc/self/maps in both processes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#include <pagoda/kernel.h>

#define PROT_RW (PGD_PROT_READ | PGD_PROT_WRITE)
#define ANON (PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS)
#define CLONE_VM 0x100ULL
#define CLONE_FILES 0x400ULL
#define CLONE_SIGHAND 0x800ULL
#define CLONE_THREAD 0x10000ULL
#define SIGCHLD 17
#define WNOHANG 1
#define F_DUPFD_CLOEXEC 1030
#define F_GETFD 1


static long map_fixed(struct kernel *k, struct process *p, uint64_t addr, uint64_t len, uint64_t extra)
{
    return test_sys(k, p, NR_mmap, addr, len, PROT_RW, ANON | PGD_MAP_FIXED | extra, (uint64_t)-1, 0);
}

/* The maps lines of p between lo and hi, as one string (caller frees). */
static char *maps_between(struct process *p, uint64_t lo, uint64_t hi)
{
    char *all = NULL, *out = NULL;
    size_t n = 0, m = 0;
    FILE *f = open_memstream(&all, &n);
    mm_print_maps(p->mm, f);
    fclose(f);
    FILE *o = open_memstream(&out, &m);
    for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n")) {
        uint64_t start = strtoull(line, NULL, 16);
        if (start >= lo && start < hi)
            fprintf(o, "%s\n", line);
    }
    fclose(o);
    free(all);
    return out;
}

static void assert_maps(struct process *p, const char *want)
{
    char *got = maps_between(p, 0x200000000ULL, 0x300000000ULL);
    assert_string_equal(got, want);
    free(got);
}

/*
 *   parent before fork:  A [0,4000) populated (anon_vma)   C [10000,14000) with [10000,11000) locked
 *   child after fork:    A' is a fork child: a new area after it does not merge;
 *                        C's pieces stay split although the lock is gone; a new area
 *                        after C (no anon_vma) merges; VmLck is 0.
 *   parent:              the same new area after A merges (A is not a fork child).
 */
static void test_fork_copies_and_anon_vma_rules(void **state)
{
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 100);
    const uint64_t base = 0x200000000ULL;
    assert_int_equal(map_fixed(k, p, base, 0x4000, PGD_MAP_POPULATE), (long)base);
    assert_int_equal(map_fixed(k, p, base + 0x10000, 0x4000, 0), (long)(base + 0x10000));
    assert_int_equal(test_sys(k, p, NR_mlock, base + 0x10000, 0x1000, 0, 0, 0, 0), 0);
    assert_int_equal(kernel_clone(k, p, 0, SIGCHLD, 101), 101);
    struct process *c = kernel_find(k, 101);
    assert_non_null(c);
    assert_ptr_not_equal(c->mm, p->mm);
    assert_int_equal(c->mm->locked_vm, 0);
    assert_int_equal(p->mm->locked_vm, 1);
    assert_int_equal(c->mm->total_vm, p->mm->total_vm);
    assert_int_equal(map_fixed(k, c, base + 0x4000, 0x4000, 0), (long)(base + 0x4000));
    assert_int_equal(map_fixed(k, c, base + 0x14000, 0x4000, 0), (long)(base + 0x14000));
    assert_maps(c, "200000000-200004000 rw-p 00000000 00:00 0 \n"
                   "200004000-200008000 rw-p 00000000 00:00 0 \n"
                   "200010000-200011000 rw-p 00000000 00:00 0 \n"
                   "200011000-200018000 rw-p 00000000 00:00 0 \n");
    assert_int_equal(map_fixed(k, p, base + 0x4000, 0x4000, 0), (long)(base + 0x4000));
    assert_maps(p, "200000000-200008000 rw-p 00000000 00:00 0 \n"
                   "200010000-200011000 rw-p 00000000 00:00 0 \n"
                   "200011000-200014000 rw-p 00000000 00:00 0 \n");
    test_kernel_teardown(k);
}

/* MADV_DONTFORK areas are not copied (and not counted); WIPEONFORK ones are copied
 * empty, without the parent's anon_vma. */
static void test_fork_dontfork_wipeonfork(void **state)
{
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 1);
    const uint64_t base = 0x200000000ULL;
    assert_int_equal(map_fixed(k, p, base, 0x4000, PGD_MAP_POPULATE), (long)base);
    assert_int_equal(map_fixed(k, p, base + 0x10000, 0x4000, PGD_MAP_POPULATE), (long)(base + 0x10000));
    assert_int_equal(test_sys(k, p, NR_madvise, base, 0x4000, 10 /* MADV_DONTFORK */, 0, 0, 0), 0);
    assert_int_equal(test_sys(k, p, NR_madvise, base + 0x10000, 0x4000, 18 /* MADV_WIPEONFORK */, 0, 0, 0), 0);
    assert_int_equal(test_sys(k, p, NR_fork, 0, 0, 0, 0, 0, 0), 2);
    struct process *c = kernel_find(k, 2);
    assert_maps(c, "200010000-200014000 rw-p 00000000 00:00 0 \n");
    assert_int_equal(c->mm->total_vm, 4);
    assert_null(mm_vma_lookup(c->mm, base + 0x10000)->anon_vma);
    assert_non_null(mm_vma_lookup(p->mm, base + 0x10000)->anon_vma);
    test_kernel_teardown(k);
}

/* A thread shares the mm and descriptors; exit ends one task, exit_group all; the
 * parent reaps the group only when every task has ended. */
static void test_threads_and_wait(void **state)
{
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 10);
    assert_int_equal(kernel_clone(k, p, 0, SIGCHLD, 11), 11);
    struct process *c = kernel_find(k, 11);
    long t = kernel_clone(k, c, CLONE_VM | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, 0, 12);
    assert_int_equal(t, 12);
    struct process *th = kernel_find(k, 12);
    assert_ptr_equal(th->mm, c->mm);
    assert_ptr_equal(th->files, c->files);
    assert_int_equal(th->tgid, 11);
    assert_int_equal(c->mm->users, 2);
    /* A mapping made by the thread is the process's. */
    assert_int_equal(map_fixed(k, th, 0x200000000ULL, 0x1000, 0), 0x200000000L);
    assert_non_null(mm_vma_lookup(c->mm, 0x200000000ULL));
    /* Only SIGCHLD children are waited for by default; none has ended. */
    int status = -1;
    assert_int_equal(kernel_wait4(k, p, -1, &status, WNOHANG), 0);
    assert_int_equal(kernel_wait4(k, p, -1, &status, 0), KERNEL_WAIT_WOULD_BLOCK);
    assert_int_equal(kernel_wait4(k, p, 12, &status, 0), -ECHILD); /* a thread is nobody's child */
    assert_int_equal(kernel_wait4(k, p, -1, &status, 0x4), -EINVAL);
    /* The leader exits alone: the group is not a zombie while the thread runs. */
    assert_int_equal(test_sys(k, c, NR_exit, 0, 0, 0, 0, 0, 0), 0);
    assert_int_equal(kernel_wait4(k, p, -1, &status, WNOHANG), 0);
    assert_int_equal(test_sys(k, th, NR_exit_group, 3, 0, 0, 0, 0, 0), 0);
    assert_int_equal(kernel_wait4(k, p, -1, &status, 0), 11);
    assert_int_equal(status, 0); /* the leader's own exit(0) */
    assert_null(kernel_find(k, 11));
    assert_null(kernel_find(k, 12));
    assert_int_equal(kernel_wait4(k, p, -1, &status, 0), -ECHILD);
    test_kernel_teardown(k);
}

/* exit_group's status as wait4 reports it; flag combinations copy_process refuses. */
static void test_wait_status_and_bad_clone_flags(void **state)
{
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 1);
    assert_int_equal(kernel_clone(k, p, CLONE_THREAD, 0, 0), -EINVAL);  /* without SIGHAND */
    assert_int_equal(kernel_clone(k, p, CLONE_SIGHAND, 0, 0), -EINVAL); /* without VM */
    assert_int_equal(kernel_clone(k, p, 0, SIGCHLD, 1), -EEXIST);       /* a live task's pid */
    long c = kernel_clone(k, p, 0, SIGCHLD, 0);
    assert_int_equal(c, 2);
    assert_int_equal(test_sys(k, kernel_find(k, 2), NR_exit_group, 7, 0, 0, 0, 0, 0), 0);
    int status = 0;
    assert_int_equal(kernel_wait4(k, p, 2, &status, 0), 2);
    assert_int_equal(status, 7 << 8);
    test_kernel_teardown(k);
}

/* vfork shares the address space until the child execs or exits. */
static void test_vfork_shares_mm(void **state)
{
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 1);
    assert_int_equal(test_sys(k, p, NR_vfork, 0, 0, 0, 0, 0, 0), 2);
    struct process *c = kernel_find(k, 2);
    assert_ptr_equal(c->mm, p->mm);
    assert_ptr_not_equal(c->files, p->files);
    assert_int_equal(test_sys(k, c, NR_exit_group, 0, 0, 0, 0, 0, 0), 0);
    assert_int_equal(p->mm->users, 1);
    test_kernel_teardown(k);
}

/* Descriptors: a fork copies the table; close_range, F_DUPFD_CLOEXEC, memfd maps. */
static void test_descriptors(void **state)
{
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 1);
    assert_int_equal(kernel_install_fd(p, 5, "pipe", false), 0);
    assert_int_equal(test_sys(k, p, NR_fcntl, 5, F_DUPFD_CLOEXEC, 10, 0, 0, 0), 10);
    assert_int_equal(test_sys(k, p, NR_fcntl, 10, F_GETFD, 0, 0, 0, 0), 1);
    assert_int_equal(test_sys(k, p, NR_mmap, 0, 4096, PGD_PROT_READ, PGD_MAP_PRIVATE, 5, 0), -ENODEV);
    assert_int_equal(test_sys(k, p, NR_fork, 0, 0, 0, 0, 0, 0), 2);
    struct process *c = kernel_find(k, 2);
    assert_int_equal(test_sys(k, c, NR_close_range, 3, ~0U, 0, 0, 0, 0), 0);
    assert_int_equal(test_sys(k, c, NR_close, 5, 0, 0, 0, 0, 0), -EBADF);
    assert_int_equal(test_sys(k, p, NR_close, 5, 0, 0, 0, 0, 0), 0); /* the parent's is its own */
    assert_int_equal(test_sys(k, p, NR_close_range, 9, 3, 0, 0, 0, 0), -EINVAL);
    long fd = test_sys(k, p, NR_memfd_create, (uint64_t)(uintptr_t)"buf", 1, 0, 0, 0, 0);
    assert_int_equal(fd, 3);
    long a = test_sys(k, p, NR_mmap, 0x200000000ULL, 8192, PROT_RW, PGD_MAP_SHARED | PGD_MAP_FIXED, 3, 0);
    assert_int_equal(a, 0x200000000L);
    char *m = maps_between(p, 0x200000000ULL, 0x300000000ULL);
    assert_string_equal(m, "200000000-200002000 rw-s 00000000 00:01 1001                             /memfd:buf (deleted)\n");
    free(m);
    char big[300];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(test_sys(k, p, NR_memfd_create, (uint64_t)(uintptr_t)big, 0, 0, 0, 0, 0), -EINVAL);
    assert_int_equal(test_sys(k, p, NR_memfd_create, (uint64_t)(uintptr_t)"x", 0x100, 0, 0, 0, 0), -EINVAL);
    test_kernel_teardown(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_copies_and_anon_vma_rules),
        cmocka_unit_test(test_fork_dontfork_wipeonfork),
        cmocka_unit_test(test_threads_and_wait),
        cmocka_unit_test(test_wait_status_and_bad_clone_flags),
        cmocka_unit_test(test_vfork_shares_mm),
        cmocka_unit_test(test_descriptors),
    };
    return cmocka_run_group_tests_name("process", tests, NULL, NULL);
}
