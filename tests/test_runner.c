/*
 * Tests of the kernel layer (configuration, processes, descriptors, the system-call
 * entry), the ABI tables, and the script runner: exit statuses, divergence and error
 * texts, and every script under tests/scripts/ (each must run with status 0).
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#include <pagoda/kernel.h>

/* The command-line objects are not in libpagoda: the sources under test are
 * compiled into this test, as test_script.c does with the parser. */
#include "cli/abi.c"
#include "cli/errno_names.c"
#include "cli/replay.c"
#include "cli/run.c"
#include "cli/script.c"
#include "cli/script_value.c"

#define O_RDONLY_ 0
#define O_RDWR_ 02
#define O_NONBLOCK_ 04000
#define O_DIRECTORY_ 0200000
#define O_CLOEXEC_ 02000000
#define O_PATH_ 010000000
#define AT_FDCWD_ (-100)

/* ------------------------------------------------------------- helpers ---- */


static long sys_open(struct kernel *k, struct process *p, long dirfd, const char *path, long flags)
{
    return test_sys(k, p, NR_openat, (uint64_t)dirfd, (uint64_t)(uintptr_t)path, (uint64_t)flags, 0, 0, 0);
}

/* What a run printed, and how it ended. */
struct capture {
    char *out, *err;
    size_t out_len, err_len;
    int status;
};

/* Run a script given as text through the runner (as `pagoda run` does: summary
 * unless quiet), capturing both streams; audits frames before the machine goes. */
static void run_capture(const char *filename, const char *text, bool verbose, bool quiet, struct capture *c)
{
    memset(c, 0, sizeof(*c));
    FILE *out = open_memstream(&c->out, &c->out_len), *err = open_memstream(&c->err, &c->err_len);
    assert_non_null(out);
    assert_non_null(err);
    struct run_options opt = {.verbose = verbose, .quiet = quiet, .out = out, .err = err};
    struct runner *r = runner_create(&opt);
    assert_non_null(r);
    c->status = runner_run_text(r, filename, text, strlen(text));
    if (c->status != RUN_ERROR && !quiet)
        runner_print_summary(r, out);
    struct kernel *k = runner_kernel(r);
    if (k) {
        while (k->procs)
            kernel_reap(k, k->procs);
        test_kernel_half_audit(k->phys);
        test_leak_audit(k->phys);
    }
    runner_destroy(r);
    fclose(out);
    fclose(err);
}

static void capture_free(struct capture *c)
{
    free(c->out);
    free(c->err);
}

/* --------------------------------------------------------------- config ---- */

static void test_config_defaults(void **state)
{
    struct kernel_config cfg;
    kernel_config_default(&cfg);
    assert_int_equal(cfg.ram, 256ULL << 20);
    assert_int_equal(cfg.swap, 0);
    assert_int_equal(cfg.paging_levels, 4);
    assert_int_equal(cfg.cpu.paging_levels, 4);
    assert_int_equal(cfg.mm.paging_levels, 4);
    assert_int_equal(cfg.thp, 1);
    assert_true(cfg.pcid);
    assert_true(cfg.cpu.pcid);
    assert_false(cfg.aslr);
    assert_int_equal(cfg.overcommit, 0);
    assert_int_equal(cfg.max_map_count, 65530);
    assert_int_equal(cfg.mm.max_map_count, 65530);
    assert_int_equal(cfg.reclaim, 0);
    assert_int_equal(cfg.cpu.tlb.l1d[TLB_4K].entries, 64);
    assert_int_equal(cfg.cpu.tlb.l1d[TLB_4K].ways, 4);
}

/* Set one key; expect success. */
static void set_ok(struct kernel_config *cfg, const char *key, const char *value)
{
    char err[256] = "untouched";
    assert_int_equal(kernel_config_set(cfg, key, value, err, sizeof(err)), 0);
    assert_string_equal(err, "");
}

/* Set one key; expect -EINVAL with exactly this message. */
static void set_fails(struct kernel_config *cfg, const char *key, const char *value, const char *message)
{
    char err[256] = "";
    assert_int_equal(kernel_config_set(cfg, key, value, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, message);
}

static void test_config_sizes(void **state)
{
    struct kernel_config cfg;
    kernel_config_default(&cfg);
    set_ok(&cfg, "ram", "512M");
    assert_int_equal(cfg.ram, 512ULL << 20);
    set_ok(&cfg, "ram", "4G");
    assert_int_equal(cfg.ram, 4ULL << 30);
    set_ok(&cfg, "ram", "1073741824");
    assert_int_equal(cfg.ram, 1ULL << 30);
    set_ok(&cfg, "ram", "64MiB");
    assert_int_equal(cfg.ram, 64ULL << 20);
    set_fails(&cfg, "ram", "lots", "bad value 'lots' for ram: expected a size like 256M");
    set_fails(&cfg, "ram", "12Q", "bad value '12Q' for ram: expected a size like 256M");
    set_fails(&cfg, "ram", "1K", "bad value '1K' for ram: expected a size from 4M to 1T");
    set_fails(&cfg, "ram", "2T", "bad value '2T' for ram: expected a size from 4M to 1T");
    assert_int_equal(cfg.ram, 64ULL << 20); /* unchanged by failures */
    set_ok(&cfg, "swap", "2G");
    assert_int_equal(cfg.swap, 2ULL << 30);
    set_ok(&cfg, "swap", "0");
    assert_int_equal(cfg.swap, 0);
    set_fails(&cfg, "swap", "-1", "bad value '-1' for swap: expected a size like 1G, or 0 for none");
}

static void test_config_choices(void **state)
{
    struct kernel_config cfg;
    kernel_config_default(&cfg);
    set_ok(&cfg, "paging", "5");
    assert_int_equal(cfg.paging_levels, 5);
    assert_int_equal(cfg.cpu.paging_levels, 5);
    assert_int_equal(cfg.mm.paging_levels, 5);
    set_fails(&cfg, "paging", "3", "bad value '3' for paging: expected 4 or 5");
    set_ok(&cfg, "thp", "always");
    assert_int_equal(cfg.thp, 2);
    set_ok(&cfg, "thp", "never");
    assert_int_equal(cfg.thp, 0);
    set_fails(&cfg, "thp", "sometimes", "bad value 'sometimes' for thp: expected always, madvise or never");
    set_ok(&cfg, "pcid", "off");
    assert_false(cfg.pcid);
    assert_false(cfg.cpu.pcid);
    set_fails(&cfg, "pcid", "yes", "bad value 'yes' for pcid: expected on or off");
    set_ok(&cfg, "aslr", "on");
    assert_true(cfg.aslr);
    set_fails(&cfg, "aslr", "1", "bad value '1' for aslr: expected on or off");
    set_ok(&cfg, "reclaim", "clock");
    assert_int_equal(cfg.reclaim, 1);
    set_ok(&cfg, "reclaim", "opt");
    assert_int_equal(cfg.reclaim, 3);
    set_fails(&cfg, "reclaim", "lru", "bad value 'lru' for reclaim: expected lru2q, clock, fifo or opt");
    set_ok(&cfg, "seed", "0x2a");
    assert_int_equal(cfg.seed, 42);
    set_fails(&cfg, "seed", "x", "bad value 'x' for seed: expected a number");
    set_ok(&cfg, "overcommit", "2");
    assert_int_equal(cfg.overcommit, 2);
    assert_int_equal(cfg.mm.overcommit, 2);
    set_fails(&cfg, "overcommit", "3", "bad value '3' for overcommit: expected 0, 1 or 2");
    set_ok(&cfg, "max_map_count", "100");
    assert_int_equal(cfg.max_map_count, 100);
    assert_int_equal(cfg.mm.max_map_count, 100);
    set_fails(&cfg, "max_map_count", "-1", "bad value '-1' for max_map_count: expected a number from 0 to 2147483647");
    set_fails(&cfg, "colour", "blue", "unknown key 'colour'");
}

static void test_config_tlb(void **state)
{
    struct kernel_config cfg;
    kernel_config_default(&cfg);
    set_ok(&cfg, "tlb.l1d", "32x4");
    assert_int_equal(cfg.cpu.tlb.l1d[TLB_4K].entries, 32);
    assert_int_equal(cfg.cpu.tlb.l1d[TLB_4K].ways, 4);
    set_ok(&cfg, "tlb.l1d.2m", "16x2");
    assert_int_equal(cfg.cpu.tlb.l1d[TLB_2M].entries, 16);
    assert_int_equal(cfg.cpu.tlb.l1d[TLB_2M].ways, 2);
    set_ok(&cfg, "tlb.l1i.1g", "0");
    assert_int_equal(cfg.cpu.tlb.l1i[TLB_1G].entries, 0);
    set_ok(&cfg, "tlb.l2", "2048x16");
    assert_int_equal(cfg.cpu.tlb.l2[TLB_4K].entries, 2048);
    set_ok(&cfg, "tlb.l2.2m", "32x4");
    assert_false(cfg.cpu.tlb.l2_shared_4k_2m);
    assert_int_equal(cfg.cpu.tlb.l2[TLB_2M].entries, 32);
    set_ok(&cfg, "tlb.l2.2m", "shared");
    assert_true(cfg.cpu.tlb.l2_shared_4k_2m);
    set_fails(&cfg, "tlb.l1d", "big", "bad value 'big' for tlb.l1d: expected ENTRIESxWAYS like 64x4");
    set_fails(&cfg, "tlb.l1d", "30x4", "bad value '30x4' for tlb.l1d: expected ENTRIESxWAYS like 64x4");
    set_fails(&cfg, "tlb.l1d.4k", "48x4",
              "bad value '48x4' for tlb.l1d.4k: expected ENTRIESxWAYS with a power-of-two number of sets "
              "(ENTRIES/WAYS)");
    set_fails(&cfg, "tlb.l1i", "0", "bad value '0' for tlb.l1i: every TLB level needs a 4K array");
    set_fails(&cfg, "tlb.l3", "8x8", "unknown key 'tlb.l3'");
    set_fails(&cfg, "tlb.l1d.4m", "8x8", "unknown key 'tlb.l1d.4m'");
    /* The machine boots with what was set. */
    struct kernel *k;
    set_ok(&cfg, "paging", "5");
    assert_int_equal(kernel_create(&cfg, &k), 0);
    assert_int_equal(k->cpu.tlb.l1d[TLB_4K].entries, 32);
    assert_true(k->cpu.cr4 & CR4_LA57);
    test_kernel_teardown(k);
}

/* ------------------------------------------------------------ processes ---- */

static void test_processes(void **state)
{
    struct kernel *k = test_boot();
    assert_false(k->booted);
    struct process *a = kernel_new_process(k, 0), *b = kernel_new_process(k, 500), *c = kernel_new_process(k, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_true(k->booted);
    assert_int_equal(a->pid, 1);
    assert_int_equal(b->pid, 500);
    assert_int_equal(c->pid, 501);
    assert_ptr_equal(k->current, a);
    assert_null(kernel_new_process(k, 500)); /* pid in use */
    assert_ptr_equal(kernel_find(k, 500), b);
    assert_null(kernel_find(k, 2));
    /* Descriptors 0, 1, 2 share one description of /dev/null. */
    assert_non_null(a->files->fd[0]);
    assert_ptr_equal(a->files->fd[0], a->files->fd[2]);
    assert_int_equal(a->files->fd[0]->refcount, 3);
    assert_null(a->files->fd[3]);
    /* exit_group ends the process; later calls find no process. */
    assert_int_equal(test_sys(k, b, NR_exit_group, 3, 0, 0, 0, 0, 0), 0);
    assert_true(b->exited);
    assert_int_equal(b->exit_code, 3);
    assert_null(b->mm);
    assert_int_equal(test_sys(k, b, NR_close, 0, 0, 0, 0, 0, 0), -ESRCH);
    kernel_reap(k, b);
    assert_null(kernel_find(k, 500));
    test_kernel_teardown(k);
}

static void test_syscall_names(void **state)
{
    assert_int_equal(syscall_number("read"), 0);
    assert_int_equal(syscall_number("mmap"), 9);
    assert_int_equal(syscall_number("brk"), 12);
    assert_int_equal(syscall_number("mremap"), 25);
    assert_int_equal(syscall_number("clone"), 56);
    assert_int_equal(syscall_number("execve"), 59);
    assert_int_equal(syscall_number("arch_prctl"), 158);
    assert_int_equal(syscall_number("exit_group"), 231);
    assert_int_equal(syscall_number("openat"), 257);
    assert_int_equal(syscall_number("newfstatat"), 262);
    assert_int_equal(syscall_number("set_robust_list"), 273);
    assert_int_equal(syscall_number("prlimit64"), 302);
    assert_int_equal(syscall_number("getrandom"), 318);
    assert_int_equal(syscall_number("mlock2"), 325);
    assert_int_equal(syscall_number("rseq"), 334);
    assert_int_equal(syscall_number("clone3"), 435);
    assert_int_equal(syscall_number("mseal"), 462);
    assert_int_equal(syscall_number("nosuchcall"), -1);
    assert_int_equal(syscall_number(""), -1);
    assert_string_equal(syscall_name(9), "mmap");
    assert_string_equal(syscall_name(231), "exit_group");
    assert_string_equal(syscall_name(0), "read");
    assert_null(syscall_name(400));
    assert_null(syscall_name(-1));
    assert_true(kernel_implements(NR_mmap));
    assert_true(kernel_implements(NR_dup3));
    assert_false(kernel_implements(0));
}

static void test_syscall_misc(void **state)
{
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 0);
    /* personality: the old value; 0xffffffff only asks. */
    assert_int_equal(test_sys(k, p, NR_personality, 0xffffffff, 0, 0, 0, 0, 0), 0);
    assert_int_equal(test_sys(k, p, NR_personality, 0x0040000, 0, 0, 0, 0, 0), 0);
    assert_int_equal(test_sys(k, p, NR_personality, 0xffffffff, 0, 0, 0, 0, 0), 0x40000);
    assert_int_equal(test_sys(k, p, NR_personality, 0, 0, 0, 0, 0, 0), 0x40000);
    /* prctl: only PR_SET_VMA is modelled. */
    assert_int_equal(test_sys(k, p, NR_prctl, 15, 0, 0, 0, 0, 0), -EINVAL);
    assert_int_equal(test_sys(k, p, NR_prctl, 0x53564d41, 1, 0, 0, 0, 0), -EINVAL);
    /* mlock2 flags other than MLOCK_ONFAULT. */
    assert_int_equal(test_sys(k, p, NR_mlock2, 0x10000, 4096, 2, 0, 0, 0), -EINVAL);
    /* Not simulated. */
    assert_int_equal(test_sys(k, p, 0 /* read */, 0, 0, 0, 0, 0, 0), -ENOSYS);
    assert_int_equal(test_sys(k, p, 9999, 0, 0, 0, 0, 0, 0), -ENOSYS);
    test_kernel_teardown(k);
}

/* ---------------------------------------------------------- descriptors ---- */

static void test_fd_open_close(void **state)
{
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 0);
    assert_int_equal(sys_open(k, p, AT_FDCWD_, "/etc/passwd", O_RDONLY_ | O_CLOEXEC_), 3);
    assert_true(p->files->cloexec[3]);
    assert_int_equal(sys_open(k, p, AT_FDCWD_, "/etc/passwd", O_RDONLY_), 4);
    assert_false(p->files->cloexec[4]);
    assert_ptr_not_equal(p->files->fd[3]->file, p->files->fd[4]->file); /* two descriptions */
    assert_int_equal(test_sys(k, p, NR_close, 3, 0, 0, 0, 0, 0), 0);
    assert_int_equal(test_sys(k, p, NR_close, 3, 0, 0, 0, 0, 0), -EBADF);
    assert_int_equal(test_sys(k, p, NR_close, (uint64_t)-1, 0, 0, 0, 0, 0), -EBADF);
    assert_int_equal(test_sys(k, p, NR_close, 5000, 0, 0, 0, 0, 0), -EBADF);
    /* The lowest free descriptor is reused; open() is openat(AT_FDCWD). */
    assert_int_equal(test_sys(k, p, NR_open, (uint64_t)(uintptr_t)"/etc/passwd", O_RDONLY_, 0, 0, 0, 0), 3);
    assert_int_equal(sys_open(k, p, AT_FDCWD_, "/nonexistent/pagoda", O_RDONLY_), -ENOENT);
    assert_int_equal(sys_open(k, p, AT_FDCWD_, "", O_RDONLY_), -ENOENT);
    assert_int_equal(sys_open(k, p, AT_FDCWD_, NULL, O_RDONLY_), -EFAULT);
    assert_int_equal(test_sys(k, p, NR_close, 1, 0, 0, 0, 0, 0), 0);
    assert_int_equal(sys_open(k, p, AT_FDCWD_, "/etc/passwd", O_RDONLY_), 1);
    test_kernel_teardown(k);
}

static void test_fd_dirfd(void **state)
{
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 0);
    assert_int_equal(sys_open(k, p, AT_FDCWD_, "/etc", O_RDONLY_ | O_DIRECTORY_), 3);
    assert_int_equal(sys_open(k, p, 3, "passwd", O_RDONLY_), 4);
    assert_int_equal(sys_open(k, p, 4, "passwd", O_RDONLY_), -ENOTDIR);
    assert_int_equal(sys_open(k, p, 99, "passwd", O_RDONLY_), -EBADF);
    assert_int_equal(sys_open(k, p, 99, "/etc/passwd", O_RDONLY_), 5); /* absolute: dirfd ignored */
    assert_int_equal(sys_open(k, p, 3, "no-such-file-here", O_RDONLY_), -ENOENT);
    test_kernel_teardown(k);
}

static void test_fd_dup(void **state)
{
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 0);
    assert_int_equal(sys_open(k, p, AT_FDCWD_, "/etc/passwd", O_RDONLY_), 3);
    assert_int_equal(test_sys(k, p, NR_dup, 3, 0, 0, 0, 0, 0), 4);
    assert_ptr_equal(p->files->fd[3], p->files->fd[4]); /* one description */
    assert_int_equal(p->files->fd[3]->refcount, 2);
    assert_int_equal(test_sys(k, p, NR_dup, 9, 0, 0, 0, 0, 0), -EBADF);
    /* dup2 with equal descriptors: newfd if open, else EBADF. */
    assert_int_equal(test_sys(k, p, NR_dup2, 3, 3, 0, 0, 0, 0), 3);
    assert_int_equal(test_sys(k, p, NR_dup2, 9, 9, 0, 0, 0, 0), -EBADF);
    assert_int_equal(test_sys(k, p, NR_dup2, 9, 10, 0, 0, 0, 0), -EBADF);
    assert_int_equal(test_sys(k, p, NR_dup2, 3, 1024, 0, 0, 0, 0), -EBADF);
    assert_int_equal(test_sys(k, p, NR_dup2, 3, (uint64_t)-1, 0, 0, 0, 0), -EBADF);
    /* dup3: flags first, then equal descriptors, then the descriptors. */
    assert_int_equal(test_sys(k, p, NR_dup3, 3, 3, 0, 0, 0, 0), -EINVAL);
    assert_int_equal(test_sys(k, p, NR_dup3, 9, 9, O_NONBLOCK_, 0, 0, 0), -EINVAL);
    assert_int_equal(test_sys(k, p, NR_dup3, 3, 5, O_NONBLOCK_, 0, 0, 0), -EINVAL);
    assert_int_equal(test_sys(k, p, NR_dup3, 9, 5, 0, 0, 0, 0), -EBADF);
    assert_int_equal(test_sys(k, p, NR_dup3, 3, 5, O_CLOEXEC_, 0, 0, 0), 5);
    assert_true(p->files->cloexec[5]);
    /* dup2 over an open descriptor closes it and clears close-on-exec. */
    assert_int_equal(test_sys(k, p, NR_dup2, 0, 5, 0, 0, 0, 0), 5);
    assert_false(p->files->cloexec[5]);
    assert_ptr_equal(p->files->fd[5], p->files->fd[0]);
    assert_int_equal(p->files->fd[3]->refcount, 2);
    test_kernel_teardown(k);
}

static void test_fd_emfile(void **state)
{
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 0);
    for (long fd = 3; fd < KERNEL_MAX_FDS; fd++)
        assert_int_equal(test_sys(k, p, NR_dup, 0, 0, 0, 0, 0, 0), fd);
    assert_int_equal(test_sys(k, p, NR_dup, 0, 0, 0, 0, 0, 0), -EMFILE);
    assert_int_equal(sys_open(k, p, AT_FDCWD_, "/etc/passwd", O_RDONLY_), -EMFILE);
    assert_int_equal(sys_open(k, p, AT_FDCWD_, "", O_RDONLY_), -ENOENT); /* the name is checked first */
    assert_int_equal(test_sys(k, p, NR_dup2, 0, 1023, 0, 0, 0, 0), 1023);  /* replacing needs no free slot */
    test_kernel_teardown(k);
}

static void test_mmap_entry_checks(void **state)
{
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 0);
    const uint64_t priv = 0x02, anon = 0x20, read = 0x1;
    /* The offset is checked first, even for anonymous maps and bad descriptors. */
    assert_int_equal(test_sys(k, p, NR_mmap, 0, 4096, read, priv | anon, (uint64_t)-1, 1), -EINVAL);
    assert_int_equal(test_sys(k, p, NR_mmap, 0, 4096, read, priv, 77, 4095), -EINVAL);
    /* A file map needs an open descriptor: -1, closed, out of range. */
    assert_int_equal(test_sys(k, p, NR_mmap, 0, 4096, read, priv, (uint64_t)-1, 0), -EBADF);
    assert_int_equal(test_sys(k, p, NR_mmap, 0, 4096, read, priv, 7, 0), -EBADF);
    assert_int_equal(test_sys(k, p, NR_mmap, 0, 4096, read, priv, 4096, 0), -EBADF);
    assert_int_equal(sys_open(k, p, AT_FDCWD_, "/etc/passwd", O_RDONLY_), 3);
    assert_int_equal(test_sys(k, p, NR_close, 3, 0, 0, 0, 0, 0), 0);
    assert_int_equal(test_sys(k, p, NR_mmap, 0, 4096, read, priv, 3, 0), -EBADF);
    /* An O_PATH descriptor cannot be mapped. */
    assert_int_equal(sys_open(k, p, AT_FDCWD_, "/etc/passwd", O_PATH_), 3);
    assert_int_equal(test_sys(k, p, NR_mmap, 0, 4096, read, priv, 3, 0), -EBADF);
    test_kernel_teardown(k);
}

/* ------------------------------------------------------------------ abi ---- */

static uint64_t lookup(const char *name)
{
    uint64_t v = 0xdeadbeef;
    assert_true(abi_lookup(name, &v));
    return v;
}

static void test_abi_names(void **state)
{
    assert_int_equal(lookup("PROT_NONE"), 0);
    assert_int_equal(lookup("PROT_READ"), 1);
    assert_int_equal(lookup("PROT_WRITE"), 2);
    assert_int_equal(lookup("PROT_EXEC"), 4);
    assert_int_equal(lookup("PROT_GROWSDOWN"), 0x01000000);
    assert_int_equal(lookup("MAP_SHARED"), 1);
    assert_int_equal(lookup("MAP_PRIVATE"), 2);
    assert_int_equal(lookup("MAP_FIXED"), 0x10);
    assert_int_equal(lookup("MAP_ANONYMOUS"), 0x20);
    assert_int_equal(lookup("MAP_GROWSDOWN"), 0x100);
    assert_int_equal(lookup("MAP_STACK"), 0x20000);
    assert_int_equal(lookup("MAP_FIXED_NOREPLACE"), 0x100000);
    assert_int_equal(lookup("MAP_HUGE_SHIFT"), 26);
    assert_int_equal(lookup("MAP_HUGE_2MB"), 21ULL << 26);
    assert_int_equal(lookup("MAP_HUGE_1GB"), 30ULL << 26);
    assert_int_equal(lookup("MREMAP_MAYMOVE"), 1);
    assert_int_equal(lookup("MREMAP_DONTUNMAP"), 4);
    static const struct {
        const char *name;
        int value;
    } madv[] = {
        {"MADV_NORMAL", 0},       {"MADV_RANDOM", 1},          {"MADV_SEQUENTIAL", 2},   {"MADV_WILLNEED", 3},
        {"MADV_DONTNEED", 4},     {"MADV_FREE", 8},            {"MADV_REMOVE", 9},       {"MADV_DONTFORK", 10},
        {"MADV_DOFORK", 11},      {"MADV_MERGEABLE", 12},      {"MADV_UNMERGEABLE", 13}, {"MADV_HUGEPAGE", 14},
        {"MADV_NOHUGEPAGE", 15},  {"MADV_DONTDUMP", 16},       {"MADV_DODUMP", 17},      {"MADV_WIPEONFORK", 18},
        {"MADV_KEEPONFORK", 19},  {"MADV_COLD", 20},           {"MADV_PAGEOUT", 21},     {"MADV_POPULATE_READ", 22},
        {"MADV_POPULATE_WRITE", 23}, {"MADV_DONTNEED_LOCKED", 24}, {"MADV_COLLAPSE", 25}, {"MADV_HWPOISON", 100},
        {"MADV_SOFT_OFFLINE", 101}, {"MADV_GUARD_INSTALL", 102}, {"MADV_GUARD_REMOVE", 103},
    };
    for (size_t i = 0; i < sizeof(madv) / sizeof(madv[0]); i++)
        assert_int_equal(lookup(madv[i].name), madv[i].value);
    assert_int_equal(lookup("MCL_CURRENT"), 1);
    assert_int_equal(lookup("MCL_FUTURE"), 2);
    assert_int_equal(lookup("MCL_ONFAULT"), 4);
    assert_int_equal(lookup("MLOCK_ONFAULT"), 1);
    assert_int_equal(lookup("MS_SYNC"), 4);
    assert_int_equal(lookup("O_RDONLY"), 0);
    assert_int_equal(lookup("O_WRONLY"), 1);
    assert_int_equal(lookup("O_RDWR"), 2);
    assert_int_equal(lookup("O_CREAT"), 0100);
    assert_int_equal(lookup("O_EXCL"), 0200);
    assert_int_equal(lookup("O_NOCTTY"), 0400);
    assert_int_equal(lookup("O_TRUNC"), 01000);
    assert_int_equal(lookup("O_APPEND"), 02000);
    assert_int_equal(lookup("O_NONBLOCK"), 04000);
    assert_int_equal(lookup("O_DSYNC"), 010000);
    assert_int_equal(lookup("O_LARGEFILE"), 0100000);
    assert_int_equal(lookup("O_DIRECTORY"), 0200000);
    assert_int_equal(lookup("O_NOFOLLOW"), 0400000);
    assert_int_equal(lookup("O_CLOEXEC"), 02000000);
    assert_int_equal(lookup("O_PATH"), 010000000);
    assert_int_equal(lookup("AT_FDCWD"), (uint64_t)-100);
    assert_int_equal(lookup("PR_SET_NAME"), 15);
    assert_int_equal(lookup("PR_SET_VMA"), 0x53564d41);
    assert_int_equal(lookup("PR_SET_VMA_ANON_NAME"), 0);
    assert_int_equal(lookup("PER_LINUX"), 0);
    assert_int_equal(lookup("ADDR_NO_RANDOMIZE"), 0x0040000);
    assert_int_equal(lookup("ADDR_COMPAT_LAYOUT"), 0x0200000);
    assert_int_equal(lookup("READ_IMPLIES_EXEC"), 0x0400000);
    uint64_t v;
    assert_false(abi_lookup("MAP_BOGUS", &v));
    assert_false(abi_lookup("", &v));
}

/* The arguments of the only statement of a one-line script, converted; the script
 * (which string arguments point into) is returned for the caller to free. */
static struct script *convert_line(const char *line, uint64_t *out, size_t n)
{
    char err[256];
    struct script *s;
    assert_int_equal(script_parse("t.pgd", line, strlen(line), &s, err, sizeof(err)), 0);
    const struct script_stmt *st = script_stmt_at(s, 0);
    assert_int_equal(st->nargs, n);
    for (size_t i = 0; i < n; i++) {
        struct abi_error e;
        assert_int_equal(abi_value(st->args[i], &out[i], &e), 0);
    }
    return s;
}

static void test_abi_values(void **state)
{
    uint64_t a[6];
    script_free(convert_line(
        "mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|21<<MAP_HUGE_SHIFT, -1, 0x2000)", a, 6));
    assert_int_equal(a[0], 0);
    assert_int_equal(a[1], 4096);
    assert_int_equal(a[2], 3);
    assert_int_equal(a[3], 0x54000022);
    assert_int_equal(a[4], UINT64_MAX);
    assert_int_equal(a[5], 0x2000);
    script_free(convert_line(
        "mmap(0x7f0000000000, 8192*1024, PROT_NONE, MAP_SHARED|MAP_FIXED|0x800000, 3</etc/passwd>, 0)", a, 6));
    assert_int_equal(a[0], 0x7f0000000000);
    assert_int_equal(a[1], 8ULL << 20);
    assert_int_equal(a[2], 0);
    assert_int_equal(a[3], 0x800011);
    assert_int_equal(a[4], 3);
    struct script *open_line = convert_line("openat(AT_FDCWD</tmp>, \"/etc/passwd\", O_RDONLY|O_CLOEXEC)", a, 3);
    assert_int_equal(a[0], (uint64_t)-100);
    assert_string_equal((const char *)(uintptr_t)a[1], "/etc/passwd");
    assert_int_equal(a[2], 02000000);
    script_free(open_line);
    script_free(convert_line("personality(PER_LINUX|ADDR_NO_RANDOMIZE)", a, 1));
    assert_int_equal(a[0], 0x40000);

    char err[256];
    struct script *s;
    const char *bad = "mprotect(0x1000, 4096, PROT_READ|PROT_BOGUS)";
    assert_int_equal(script_parse("t.pgd", bad, strlen(bad), &s, err, sizeof(err)), 0);
    struct abi_error e;
    uint64_t v;
    assert_int_equal(abi_value(script_stmt_at(s, 0)->args[2], &v, &e), -1);
    assert_string_equal(e.message, "unknown flag 'PROT_BOGUS'");
    assert_string_equal(e.ident, "PROT_BOGUS");
    script_free(s);
}

/* --------------------------------------------------------------- runner ---- */

static void test_run_ok(void **state)
{
    struct capture c;
    run_capture("t.pgd",
                "# descriptors and personality need no mappings\n"
                "openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY|O_CLOEXEC) = 3\n"
                "openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY) = 4</etc/passwd>\n"
                "close(3) = 0\n"
                "close(3) = -1 EBADF (Bad file descriptor)\n"
                "dup3(4, 4, 0) = -1 EINVAL (Invalid argument)\n"
                "personality(0xffffffff) = 0\n"
                "personality(ADDR_NO_RANDOMIZE) = 0 (PER_LINUX)\n"
                "personality(0xffffffff) = 0x40000 (PER_LINUX|ADDR_NO_RANDOMIZE)\n"
                "close(4) = ?\n"
                "exit_group(0) = ?\n"
                "+++ exited with 0 +++\n",
                false, false, &c);
    assert_int_equal(c.status, RUN_OK);
    assert_string_equal(c.out, "summary: 10 statements, 8 system calls verified, 0 skipped, 0 divergences\n");
    assert_string_equal(c.err, "");
    capture_free(&c);
}

static void test_run_divergences(void **state)
{
    struct capture c;
    run_capture("t.pgd",
                "personality(0xffffffff) = 0x40000\n"
                "close(5) = 0\n"
                "close(1) = -1 EBADF (Bad file descriptor)\n"
                "openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY) = 7\n"
                "close(2) = 0\n",
                false, false, &c);
    assert_int_equal(c.status, RUN_DIVERGED);
    assert_string_equal(c.out, "divergence at line 1: expected 0x40000, got 0\n"
                               "divergence at line 2: expected 0, got -1 EBADF (Bad file descriptor)\n"
                               "divergence at line 3: expected -1 EBADF (Bad file descriptor), got 0\n"
                               "divergence at line 4: expected 7, got 1\n"
                               "summary: 5 statements, 5 system calls verified, 0 skipped, 4 divergences\n");
    capture_free(&c);
}

static void test_run_skipped(void **state)
{
    struct capture c;
    run_capture("t.pgd",
                "write(1, \"hello\\n\", 6) = 6\n"
                "read(0, \"\", 4096) = 0\n"
                "write(1, \"x\", 1) = 1\n"
                "fstat(3, {st_mode=S_IFREG|0644, st_size=3, ...}) = 0\n"
                "rt_sigaction(SIGINT, {sa_handler=SIG_IGN, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0\n"
                "frobnicate(1, 2) = 0\n",
                false, false, &c);
    assert_int_equal(c.status, RUN_OK);
    assert_string_equal(c.out, "summary: 6 statements, 0 system calls verified, 6 skipped (write 2, read 1, fstat 1, "
                               "rt_sigaction 1, frobnicate 1), 0 divergences\n");
    capture_free(&c);
}

static void test_run_strace_log(void **state)
{
    struct capture c;
    run_capture("log.txt",
                "100   12:00:01.000001 execve(\"/bin/true\", [\"true\"], 0x7ffd6b3a3c40 /* 30 vars */) = 0\n"
                "100   12:00:01.000002 personality(ADDR_NO_RANDOMIZE) = 0\n"
                "[pid   101] 12:00:01.000003 personality(0xffffffff <unfinished ...>\n"
                "100   12:00:01.000004 close(7) = -1 EBADF (Bad file descriptor)\n"
                "[pid   101] 12:00:01.000005 <... personality resumed>) = 0\n"
                "101   12:00:01.000006 --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL} ---\n"
                "101   12:00:01.000007 +++ killed by SIGSEGV (core dumped) +++\n"
                "100   12:00:01.000008 personality(0xffffffff) = 0x40000\n"
                "100   12:00:01.000009 exit_group(0) = ?\n"
                "100   12:00:01.000010 +++ exited with 0 +++\n",
                false, false, &c);
    assert_int_equal(c.status, RUN_OK);
    assert_string_equal(c.out, "summary: 6 statements, 5 system calls verified, 0 skipped, 0 divergences\n"
                               "  process 100 /bin/true (randomized layout: best effort): 4 verified, 0 skipped, "
                               "0 differences\n"
                               "  process 101 (no image): 1 verified, 0 skipped, 0 divergences\n");
    capture_free(&c);
}

static void test_run_processes(void **state)
{
    struct run_options opt = {.out = stdout, .err = stderr};
    struct runner *r = runner_create(&opt);
    const char *text = "100 personality(ADDR_NO_RANDOMIZE) = 0\n"
                       "200 personality(0xffffffff) = 0\n"
                       "100 personality(0xffffffff) = 0x40000\n"
                       "personality(0xffffffff) = 0x40000\n" /* the current process: 100 */
                       "200 exit_group(1) = ?\n"
                       "200 +++ exited with 1 +++\n"
                       "200 personality(0xffffffff) = 0\n"; /* pid 200 again: a new process */
    assert_int_equal(runner_run_text(r, "t.pgd", text, strlen(text)), RUN_OK);
    struct kernel *k = runner_kernel(r);
    assert_non_null(kernel_find(k, 100));
    assert_non_null(kernel_find(k, 200));
    assert_false(kernel_find(k, 200)->exited);
    assert_null(kernel_find(k, 1));
    while (k->procs)
        kernel_reap(k, k->procs);
    test_kernel_half_audit(k->phys);
    test_leak_audit(k->phys);
    runner_destroy(r);
}

static void test_run_verbose_and_quiet(void **state)
{
    struct capture c;
    const char *text = "personality(0xffffffff)\n"
                       "7 close(9) = -1 EBADF (Bad file descriptor)\n"
                       "write(1, \"hi\", 2) = 2\n"
                       "exit_group(0) = ?\n";
    run_capture("t.pgd", text, true, false, &c);
    assert_int_equal(c.status, RUN_OK);
    assert_string_equal(c.out, "personality(0xffffffff) = 0\n"
                               "7 close(9) = -1 EBADF (Bad file descriptor)\n"
                               "# skipped: write(1, \"hi\", 2)\n"
                               "exit_group(0) = ?\n"
                               "summary: 4 statements, 1 system call verified, 1 skipped (write 1), 0 divergences\n"
                               "  process 1 (no image): 0 verified, 0 skipped, 0 divergences\n"
                               "  process 7 (no image): 1 verified, 1 skipped (write 1), 0 divergences\n");
    capture_free(&c);
    run_capture("t.pgd", "close(9) = 0\n", false, true, &c);
    assert_int_equal(c.status, RUN_DIVERGED);
    assert_string_equal(c.out, "divergence at line 1: expected 0, got -1 EBADF (Bad file descriptor)\n");
    capture_free(&c);
}

static void test_run_errors(void **state)
{
    struct capture c;
    /* A parse error: file:line:column, status 2, nothing run. */
    run_capture("bad.pgd", "close(3)\nmmap(NULL, 4096\n", false, false, &c);
    assert_int_equal(c.status, RUN_ERROR);
    assert_string_equal(c.out, "");
    assert_true(strncmp(c.err, "bad.pgd:2:", 10) == 0);
    capture_free(&c);
    /* An unknown flag, at its column. */
    run_capture("t.pgd", "\nmprotect(0x1000, 4096, PROT_READ|PROT_BOGUS)\nclose(0) = 0\n", false, false, &c);
    assert_int_equal(c.status, RUN_ERROR);
    assert_string_equal(c.err, "t.pgd:2:34: unknown flag 'PROT_BOGUS'\n");
    assert_string_equal(c.out, "");
    capture_free(&c);
    /* Statements that do not exist yet. */
    run_capture("t.pgd", "personality(0xffffffff) = 0\n  pagemap 0x1000 = ok\n", false, false, &c);
    assert_int_equal(c.status, RUN_ERROR);
    assert_string_equal(c.err, "t.pgd:2:3: 'pagemap' is not supported yet\n");
    capture_free(&c);
    run_capture("t.pgd", "smaps\n", false, false, &c);
    assert_string_equal(c.err, "t.pgd:1:1: 'smaps' is not supported yet\n");
    capture_free(&c);
    /* An unknown errno name. */
    run_capture("t.pgd", "close(1) = -1 EWHATEVER (Oops)\n", false, false, &c);
    assert_int_equal(c.status, RUN_ERROR);
    assert_string_equal(c.err, "t.pgd:1:12: unknown errno 'EWHATEVER'\n");
    capture_free(&c);
}

static void test_run_config(void **state)
{
    struct capture c;
    run_capture("t.pgd", "config ram=512M paging=5 tlb.l1d=32x4 = ok\ntlb\nconfig thp=never\nclose(0) = 0\n", false,
                false, &c);
    assert_int_equal(c.status, RUN_OK);
    assert_string_equal(c.err, "");
    assert_non_null(strstr(c.out, "L1 DTLB 4K      32 entries"));
    capture_free(&c);
    run_capture("t.pgd", "config ram=512M\nconfig ram=2K\n", false, false, &c);
    assert_int_equal(c.status, RUN_ERROR);
    assert_string_equal(c.err, "t.pgd:2:8: bad value '2K' for ram: expected a size from 4M to 1T\n");
    capture_free(&c);
    run_capture("t.pgd", "config  paging=4 colour=blue\n", false, false, &c);
    assert_string_equal(c.err, "t.pgd:1:18: unknown key 'colour'\n");
    capture_free(&c);
    run_capture("t.pgd", "close(0) = 0\nconfig ram=1G\n", false, false, &c);
    assert_int_equal(c.status, RUN_ERROR);
    assert_string_equal(c.err, "t.pgd:2:1: config must come before the first process runs\n");
    capture_free(&c);
    run_capture("t.pgd", "config ram=1G = fine\n", false, false, &c);
    assert_int_equal(c.status, RUN_DIVERGED);
    assert_string_equal(c.out, "divergence at line 1: expected fine, got ok\n"
                               "summary: 1 statement, 0 system calls verified, 0 skipped, 1 divergence\n");
    capture_free(&c);
}

static void test_run_walk_block(void **state)
{
    /* The walk of an address in an empty address space, compared with itself. */
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 0);
    char *walk = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&walk, &len);
    pt_trace_print(&p->mm->pt, 0x400000, f);
    fclose(f);
    test_kernel_teardown(k);
    assert_true(len > 0);

    size_t cap = len + 64;
    char *script = malloc(cap);
    snprintf(script, cap, "walk 0x400000 = <<END\n%sEND\n", walk);
    struct capture c;
    run_capture("t.pgd", script, false, false, &c);
    assert_int_equal(c.status, RUN_OK);
    assert_string_equal(c.out, "summary: 1 statement, 0 system calls verified, 0 skipped, 0 divergences\n");
    capture_free(&c);
    /* A different expectation: the first differing line, at its script line. */
    snprintf(script, cap, "walk 0x400000 = <<END\nnot this\nEND\n");
    run_capture("t.pgd", script, false, true, &c);
    assert_int_equal(c.status, RUN_DIVERGED);
    char *first = strndup(walk, strcspn(walk, "\n"));
    char expect[512];
    snprintf(expect, sizeof(expect), "divergence at line 2: expected \"not this\", got \"%s\"\n", first);
    assert_string_equal(c.out, expect);
    capture_free(&c);
    /* Without an expectation the block is printed. */
    run_capture("t.pgd", "walk 0x400000\n", false, false, &c);
    assert_int_equal(c.status, RUN_OK);
    assert_true(strncmp(c.out, walk, len) == 0);
    assert_string_equal(c.out + len, "summary: 1 statement, 0 system calls verified, 0 skipped, 0 divergences\n");
    capture_free(&c);
    free(first);
    free(script);
    free(walk);
}

static void test_maps_line_compare(void **state)
{
    const char *stack = "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]";
    const char *stack2 = "7ffffffdd000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]";
    assert_true(run_maps_line_equal(stack, stack, false));
    assert_false(run_maps_line_equal(stack, stack2, false));
    assert_true(run_maps_line_equal(stack, stack2, true));
    assert_false(run_maps_line_equal(stack, "7ffffffdd000-7ffffff00000 rw-p 00000000 00:00 0      [stack]", true));
    /* Trailing spaces never count. */
    assert_true(run_maps_line_equal("7ffff7ffe000-7ffff7fff000 rw-p 00000000 00:00 0 ",
                                    "7ffff7ffe000-7ffff7fff000 rw-p 00000000 00:00 0", false));
    /* Shared anonymous memory: the inode is exempt with ~stack only. */
    const char *z1 = "7ffff7ffe000-7ffff7fff000 rw-s 00000000 00:01 1035                       /dev/zero (deleted)";
    const char *z2 = "7ffff7ffe000-7ffff7fff000 rw-s 00000000 00:01 2048                       /dev/zero (deleted)";
    assert_false(run_maps_line_equal(z1, z2, false));
    assert_true(run_maps_line_equal(z1, z2, true));
    /* ... and so is the padding, which follows the inode's width. */
    const char *z3 = "7ffff7ffe000-7ffff7fff000 rw-s 00000000 00:01 3                          /dev/zero (deleted)";
    assert_true(run_maps_line_equal(z1, z3, true));
    assert_false(run_maps_line_equal(z1, z3, false));
    assert_true(run_maps_line_equal("7ffff7ffe000-7ffff7fff000 rw-s 00000000 00:01 5 [anon_shmem:x]",
                                    "7ffff7ffe000-7ffff7fff000 rw-s 00000000 00:01 6 [anon_shmem:x]", true));
    assert_true(run_maps_line_equal("7ffff7ffe000-7ffff7fff000 rw-s 00000000 00:01 5 SYSV00000000 (deleted)",
                                    "7ffff7ffe000-7ffff7fff000 rw-s 00000000 00:01 9 SYSV00000000 (deleted)", true));
    /* Everything else still counts. */
    assert_false(run_maps_line_equal(z1, "7ffff7ffd000-7ffff7fff000 rw-s 00000000 00:01 2048 /dev/zero (deleted)", true));
    assert_false(run_maps_line_equal("7ffff7ffe000-7ffff7fff000 r--p 00000000 08:01 5 /usr/bin/cat",
                                     "7ffff7ffe000-7ffff7fff000 r--p 00000000 08:01 6 /usr/bin/cat", true));
}

/* ------------------------------------------------------ tests/scripts ---- */

/* tests/scripts next to this file. */
static void scripts_pattern(char *out, size_t n)
{
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dir = slash ? (int)(slash - file) : 0;
    snprintf(out, n, "%.*s%sscripts/*.pgd", dir, file, slash ? "/" : "");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = NULL;
    size_t cap = 0;
    FILE *m = open_memstream(&text, &cap);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    *len = cap;
    return text;
}

static void test_scripts_pass(void **state)
{
    char pattern[4096];
    glob_t g;
    scripts_pattern(pattern, sizeof(pattern));
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    assert_true(g.gl_pathc > 0);
    int failures = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        size_t len;
        char *text = read_file(g.gl_pathv[i], &len);
        struct capture c;
        run_capture(g.gl_pathv[i], text, false, true, &c);
        if (c.status != RUN_OK) {
            fprintf(stderr, "%s: status %d\n%s%s", g.gl_pathv[i], c.status, c.out, c.err);
            failures++;
        }
        capture_free(&c);
        free(text);
    }
    globfree(&g);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_sizes),
        cmocka_unit_test(test_config_choices),
        cmocka_unit_test(test_config_tlb),
        cmocka_unit_test(test_processes),
        cmocka_unit_test(test_syscall_names),
        cmocka_unit_test(test_syscall_misc),
        cmocka_unit_test(test_fd_open_close),
        cmocka_unit_test(test_fd_dirfd),
        cmocka_unit_test(test_fd_dup),
        cmocka_unit_test(test_fd_emfile),
        cmocka_unit_test(test_mmap_entry_checks),
        cmocka_unit_test(test_abi_names),
        cmocka_unit_test(test_abi_values),
        cmocka_unit_test(test_run_ok),
        cmocka_unit_test(test_run_divergences),
        cmocka_unit_test(test_run_skipped),
        cmocka_unit_test(test_run_strace_log),
        cmocka_unit_test(test_run_processes),
        cmocka_unit_test(test_run_verbose_and_quiet),
        cmocka_unit_test(test_run_errors),
        cmocka_unit_test(test_run_config),
        cmocka_unit_test(test_run_walk_block),
        cmocka_unit_test(test_maps_line_compare),
        cmocka_unit_test(test_scripts_pass),
    };
    return cmocka_run_group_tests_name("runner", tests, NULL, NULL);
}
