/*
 * tests/test_fault.c - demand paging (src/mm/fault.c, src/mm/pagecache.c,
 * src/kernel/access.c) against Linux 6.18's fault semantics (spec 8).
 *
 * Every access goes from user mode through the simulated MMU of a booted kernel;
 * page-table entries are checked with pt_lookup (what pagemap would show), frames by
 * their struct page counts.  Each test reaps its processes, releases the machine's
 * zero page and caches and ends with a leak audit.
 */
#include "support/support.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagoda/kernel.h>

#include "mm/fault.h"

#define PG 0x1000ULL
#define BASE 0x10000000ULL /* 2 MiB aligned */
#define A(page) (BASE + (uint64_t)(page) * PG)
#define RW (PGD_PROT_READ | PGD_PROT_WRITE)
#define PRIV_ANON (PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS | PGD_MAP_FIXED)
#define SHARED_ANON (PGD_MAP_SHARED | PGD_MAP_ANONYMOUS | PGD_MAP_FIXED)
#define PRIV_FILE (PGD_MAP_PRIVATE | PGD_MAP_FIXED)
#define SHARED_FILE (PGD_MAP_SHARED | PGD_MAP_FIXED)
#define SIGCHLD_NR 17

/* ---- the machine ------------------------------------------------------------------- */

static struct kernel *boot(void)
{
    struct kernel_config cfg;
    kernel_config_default(&cfg);
    cfg.ram = 64ULL << 20;
    struct kernel *k = NULL;
    assert_int_equal(kernel_create(&cfg, &k), 0);
    assert_int_equal(mm_zero_page_reserve(k->phys), 0); /* kernel_create may have done it */
    return k;
}

static struct process *spawn(struct kernel *k)
{
    struct process *p = kernel_new_process(k, 0);
    assert_non_null(p);
    return p;
}

/* Reap everything, free the zero page and caches, audit, destroy. */
static void shutdown_audit(struct kernel *k)
{
    while (k->procs)
        kernel_reap(k, k->procs);
    mm_fault_release_phys(k->phys);
    test_kernel_half_audit(k->phys);
    test_leak_audit(k->phys);
    kernel_destroy(k);
}

static struct process *fork_of(struct kernel *k, struct process *p)
{
    long pid = kernel_clone(k, p, 0, SIGCHLD_NR, 0);
    assert_true(pid > 0);
    return kernel_find(k, (int)pid);
}

static void map_at(struct process *p, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags,
                   struct mm_file *f, uint64_t pgoff)
{
    assert_int_equal(mm_mmap(p->mm, addr, len, prot, flags, f, pgoff), (long)addr);
}

/* ---- accesses: 0 or the signal; *code gets si_code ---------------------------------- */

static int code_seen;

static long rd(struct kernel *k, struct process *p, uint64_t addr, void *buf, uint64_t len)
{
    int sig;
    return kernel_user_access(k, p, addr, len, KERNEL_ACCESS_READ, NULL, buf, &sig, &code_seen);
}

static long wr(struct kernel *k, struct process *p, uint64_t addr, const char *s)
{
    int sig;
    return kernel_user_access(k, p, addr, strlen(s), KERNEL_ACCESS_WRITE, s, NULL, &sig, &code_seen);
}

static long touch(struct kernel *k, struct process *p, uint64_t addr, int kind)
{
    int sig;
    return kernel_user_access(k, p, addr, 1, kind, NULL, NULL, &sig, &code_seen);
}

/* Read len bytes at addr and compare them with s. */
static void expect_bytes(struct kernel *k, struct process *p, uint64_t addr, const char *s, size_t len)
{
    char buf[64] = {0};
    assert_true(len <= sizeof(buf));
    assert_int_equal(rd(k, p, addr, buf, len), 0);
    assert_memory_equal(buf, s, len);
}

/* ---- page tables and frames ---------------------------------------------------------- */

static pte_t pte_of(struct process *p, uint64_t va)
{
    pte_t e = 0;
    int level;
    return pt_lookup(&p->mm->pt, va, &e, &level) == 0 ? e : 0;
}

static pfn_t pfn_of(struct process *p, uint64_t va)
{
    return (pte_of(p, va) & PTE_ADDR_MASK) >> PAGE_SHIFT;
}

static struct page *page_of(struct kernel *k, struct process *p, uint64_t va)
{
    return phys_page(k->phys, pfn_of(p, va));
}

#define ANON_RW (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | PTE_NX)
#define FLAGS_OF(e) ((e) & ~PTE_ADDR_MASK)

/* A host file of `pages` pages plus `extra` bytes, page i filled with 'a' + i. */
static struct mm_file *host_file(uint64_t pages, uint64_t extra, int mode, char *path)
{
    strcpy(path, "/tmp/pagoda-fault-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char page[PG];
    for (uint64_t i = 0; i <= pages; i++) {
        memset(page, 'a' + (int)(i % 26), sizeof(page));
        size_t n = i < pages ? PG : extra;
        assert_int_equal(write(fd, page, n), (ssize_t)n);
    }
    close(fd);
    int err = 0;
    struct mm_file *f = mm_file_open(path, mode, &err);
    assert_non_null(f);
    return f;
}

/* ---- anonymous memory --------------------------------------------------------------- */

static void test_read_maps_zero_page(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, BASE, 4 * PG, RW, PRIV_ANON, NULL, 0);
    uint64_t free0 = k->phys->free_frames;
    char buf[8];
    assert_int_equal(rd(k, p, A(0), buf, 8), 0);
    assert_int_equal(rd(k, p, A(1) + 100, buf, 8), 0);
    assert_memory_equal(buf, "\0\0\0\0\0\0\0\0", 8);
    pte_t e0 = pte_of(p, A(0)), e1 = pte_of(p, A(1));
    assert_int_equal(e0, e1);
    assert_int_equal(FLAGS_OF(e0), PTE_P | PTE_US | PTE_A | PTE_NX | PTE_SPECIAL);
    assert_true(phys_page(k->phys, pfn_of(p, A(0)))->flags & PG_ZERO);
    /* three new tables (PDPT, PD, PT); the zero page is reserved frame 0 */
    assert_int_equal(pfn_of(p, A(0)), 0);
    assert_int_equal(free0 - k->phys->free_frames, 3);
    assert_int_equal(pte_of(p, A(2)), 0);
    shutdown_audit(k);
}

static void test_write_allocates_zeroed_frame(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, BASE, 4 * PG, RW, PRIV_ANON, NULL, 0);
    assert_int_equal(wr(k, p, A(2) + 10, "hello"), 0);
    assert_int_equal(FLAGS_OF(pte_of(p, A(2))), ANON_RW);
    struct page *pg = page_of(k, p, A(2));
    assert_int_equal(pg->refcount, 1);
    assert_int_equal(pg->mapcount, 1);
    assert_true(pg->flags & PG_ANON);
    assert_ptr_equal(pg->mapping, mm_vma_lookup(p->mm, A(2))->anon_vma);
    assert_int_equal(pg->index, A(2) >> PAGE_SHIFT);
    expect_bytes(k, p, A(2) + 8, "\0\0hello\0", 8);
    shutdown_audit(k);
}

static void test_write_after_read_replaces_zero_page(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, BASE, 2 * PG, RW, PRIV_ANON, NULL, 0);
    char c;
    assert_int_equal(rd(k, p, A(0), &c, 1), 0);
    assert_int_equal(rd(k, p, A(1), &c, 1), 0);
    pfn_t zero = pfn_of(p, A(0));
    assert_int_equal(wr(k, p, A(0), "w"), 0);
    assert_int_not_equal(pfn_of(p, A(0)), zero);
    assert_int_equal(FLAGS_OF(pte_of(p, A(0))), ANON_RW);
    assert_int_equal(pfn_of(p, A(1)), zero); /* the other page still maps it */
    assert_int_equal(phys_page(k->phys, zero)->refcount, 1);
    expect_bytes(k, p, A(0), "w\0", 2);
    shutdown_audit(k);
}

static void test_signals_and_error_codes(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, A(0), PG, PGD_PROT_READ, PRIV_ANON, NULL, 0);
    map_at(p, A(1), PG, 0, PRIV_ANON, NULL, 0);
    map_at(p, A(2), PG, RW, PRIV_ANON, NULL, 0);
    char c;
    /* write to a read-only page never faulted: 0x6; after a read mapped it: 0x7 */
    assert_int_equal(wr(k, p, A(0), "x"), PGD_SIGSEGV);
    assert_int_equal(code_seen, PGD_SEGV_ACCERR);
    assert_int_equal(k->cpu.last_trap.error_code, PF_U | PF_W);
    assert_int_equal(rd(k, p, A(0), &c, 1), 0);
    assert_int_equal(wr(k, p, A(0), "x"), PGD_SIGSEGV);
    assert_int_equal(k->cpu.last_trap.error_code, PF_U | PF_W | PF_P);
    /* PROT_NONE: ACCERR for read and write, not-present error codes */
    assert_int_equal(rd(k, p, A(1), &c, 1), PGD_SIGSEGV);
    assert_int_equal(code_seen, PGD_SEGV_ACCERR);
    assert_int_equal(k->cpu.last_trap.error_code, PF_U);
    /* nothing mapped, NULL, kernel half: MAPERR */
    assert_int_equal(touch(k, p, A(3), KERNEL_ACCESS_WRITE), PGD_SIGSEGV);
    assert_int_equal(code_seen, PGD_SEGV_MAPERR);
    assert_int_equal(touch(k, p, 0, KERNEL_ACCESS_READ), PGD_SIGSEGV);
    assert_int_equal(code_seen, PGD_SEGV_MAPERR);
    assert_int_equal(touch(k, p, 0xffff888000000000ULL, KERNEL_ACCESS_READ), PGD_SIGSEGV);
    assert_int_equal(code_seen, PGD_SEGV_MAPERR);
    /* non-canonical: #GP, SI_KERNEL */
    assert_int_equal(touch(k, p, 0x0000900000000000ULL, KERNEL_ACCESS_READ), PGD_SIGSEGV);
    assert_int_equal(code_seen, PGD_SI_KERNEL);
    assert_int_equal(k->cpu.last_trap.vector, VEC_GP);
    /* execute: in a non-exec area the retry after mapping faults with 0x15; with no
     * area 0x14 */
    assert_int_equal(touch(k, p, A(2), KERNEL_ACCESS_EXEC), PGD_SIGSEGV);
    assert_int_equal(code_seen, PGD_SEGV_ACCERR);
    assert_int_equal(k->cpu.last_trap.error_code, PF_U | PF_I | PF_P);
    assert_int_equal(touch(k, p, A(3), KERNEL_ACCESS_EXEC), PGD_SIGSEGV);
    assert_int_equal(k->cpu.last_trap.error_code, PF_U | PF_I);
    assert_int_equal(code_seen, PGD_SEGV_MAPERR);
    shutdown_audit(k);
}

static void test_stack_growth_and_guard_gap(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    uint64_t low_end = BASE + PG, stack = BASE + 0x200000;
    map_at(p, BASE, PG, RW, PRIV_ANON, NULL, 0);
    map_at(p, stack, 2 * PG, RW, PRIV_ANON | PGD_MAP_GROWSDOWN, NULL, 0);
    uint64_t stack_vm = p->mm->stack_vm;
    /* 100 pages below: grows, no "near the stack pointer" rule */
    assert_int_equal(touch(k, p, stack - 100 * PG + 8, KERNEL_ACCESS_WRITE), 0);
    assert_int_equal(vma_start(mm_vma_lookup(p->mm, stack)), stack - 100 * PG);
    assert_int_equal(p->mm->stack_vm, stack_vm + 100);
    /* 255 pages of gap left: refused; exactly 256: fine */
    assert_int_equal(touch(k, p, low_end + 255 * PG, KERNEL_ACCESS_READ), PGD_SIGSEGV);
    assert_int_equal(code_seen, PGD_SEGV_MAPERR);
    assert_int_equal(touch(k, p, low_end + 256 * PG, KERNEL_ACCESS_READ), 0);
    assert_int_equal(vma_start(mm_vma_lookup(p->mm, stack)), low_end + 256 * PG);
    /* a non-growsdown area does not grow */
    assert_int_equal(touch(k, p, BASE - 1, KERNEL_ACCESS_READ), PGD_SIGSEGV);
    assert_int_equal(code_seen, PGD_SEGV_MAPERR);
    shutdown_audit(k);
}

static void test_zero_page_on_first_use(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, true);
    pfn_t a, b;
    assert_int_equal(mm_zero_page(phys, &a), 0);
    assert_int_equal(mm_zero_page(phys, &b), 0);
    assert_int_equal(a, b);
    assert_true(phys_page(phys, a)->flags & PG_ZERO);
    assert_int_equal(phys->managed_frames - phys->free_frames, 1);
    mm_fault_release_phys(phys);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* ---- copy-on-write ---------------------------------------------------------------------- */

static void test_fork_copy_on_write(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *parent = spawn(k);
    map_at(parent, BASE, 2 * PG, RW, PRIV_ANON, NULL, 0);
    assert_int_equal(wr(k, parent, A(0), "parent"), 0);
    pfn_t orig = pfn_of(parent, A(0));
    struct process *child = fork_of(k, parent);
    /* both map the frame read-only, referenced twice */
    assert_int_equal(pfn_of(child, A(0)), orig);
    assert_int_equal(pte_of(parent, A(0)) & PTE_RW, 0);
    assert_int_equal(pte_of(child, A(0)) & PTE_RW, 0);
    assert_int_equal(phys_page(k->phys, orig)->refcount, 2);
    assert_int_equal(phys_page(k->phys, orig)->mapcount, 2);
    /* the child's write copies */
    assert_int_equal(wr(k, child, A(0), "child!"), 0);
    pfn_t copy = pfn_of(child, A(0));
    assert_int_not_equal(copy, orig);
    expect_bytes(k, child, A(0), "child!", 6);
    expect_bytes(k, parent, A(0), "parent", 6);
    assert_int_equal(phys_page(k->phys, orig)->refcount, 1);
    assert_int_equal(phys_page(k->phys, orig)->mapcount, 1);
    assert_int_equal(phys_page(k->phys, copy)->refcount, 1);
    assert_ptr_equal(phys_page(k->phys, copy)->mapping, mm_vma_lookup(child->mm, A(0))->anon_vma);
    /* the parent is now the only user: its write reuses the frame */
    assert_int_equal(wr(k, parent, A(0), "PARENT"), 0);
    assert_int_equal(pfn_of(parent, A(0)), orig);
    assert_int_equal(FLAGS_OF(pte_of(parent, A(0))), ANON_RW);
    expect_bytes(k, child, A(0), "child!", 6);
    shutdown_audit(k);
}

static void test_write_reuses_sole_frame(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, BASE, PG, RW, PRIV_ANON, NULL, 0);
    assert_int_equal(wr(k, p, A(0), "one"), 0);
    pfn_t pfn = pfn_of(p, A(0));
    /* mprotect back to writable leaves private PTEs read-only (spec 9.1) */
    assert_int_equal(mm_mprotect(p->mm, BASE, PG, PGD_PROT_READ), 0);
    assert_int_equal(mm_mprotect(p->mm, BASE, PG, RW), 0);
    assert_int_equal(pte_of(p, A(0)) & PTE_RW, 0);
    assert_int_equal(wr(k, p, A(0), "two"), 0);
    assert_int_equal(pfn_of(p, A(0)), pfn);
    assert_true(pte_of(p, A(0)) & PTE_RW);
    expect_bytes(k, p, A(0), "two", 3);
    shutdown_audit(k);
}

/* ---- files ------------------------------------------------------------------------------- */

static void test_file_read_and_fault_around(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    char path[64];
    struct mm_file *f = host_file(40, 0, O_RDONLY, path);
    map_at(p, BASE, 40 * PG, PGD_PROT_READ, PRIV_FILE, f, 0);
    expect_bytes(k, p, A(20), "uuuu", 4);
    /* fault-around: the aligned 16-page window 16..31, all read-only cache pages */
    for (int i = 0; i < 40; i++)
        assert_int_equal(pte_of(p, A(i)) != 0, i >= 16 && i < 32);
    pfn_t cached;
    assert_true(pagecache_lookup(f, k->phys, 20, &cached));
    assert_int_equal(pfn_of(p, A(20)), cached);
    assert_int_equal(FLAGS_OF(pte_of(p, A(20))), PTE_P | PTE_US | PTE_A | PTE_NX);
    assert_int_equal(phys_page(k->phys, cached)->refcount, 2);
    assert_int_equal(phys_page(k->phys, cached)->mapcount, 1);
    expect_bytes(k, p, A(39) + PG - 2, "nn", 2); /* page 39: 'a' + 39 % 26 */
    shutdown_audit(k);
    mm_file_put(f);
    unlink(path);
}

static void test_sigbus_beyond_eof(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    char path[64];
    struct mm_file *f = host_file(1, 100, O_RDWR, path); /* 4196 bytes: 2 pages */
    map_at(p, BASE, 4 * PG, RW, PRIV_FILE, f, 0);
    map_at(p, A(8), 4 * PG, RW, SHARED_FILE, f, 0);
    char buf[4];
    assert_int_equal(rd(k, p, A(1) + 98, buf, 4), 0);
    assert_memory_equal(buf, "bb\0\0", 4);
    for (int base = 0; base <= 8; base += 8) {
        assert_int_equal(touch(k, p, A(base + 2), KERNEL_ACCESS_READ), PGD_SIGBUS);
        assert_int_equal(code_seen, PGD_BUS_ADRERR);
        assert_int_equal(touch(k, p, A(base + 3), KERNEL_ACCESS_WRITE), PGD_SIGBUS);
    }
    assert_int_equal(pte_of(p, A(2)), 0);
    shutdown_audit(k);
    mm_file_put(f);
    unlink(path);
}

static void test_private_write_keeps_cache(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    char path[64];
    struct mm_file *f = host_file(2, 0, O_RDONLY, path);
    map_at(p, BASE, 2 * PG, RW, PRIV_FILE, f, 0);
    map_at(p, A(4), 2 * PG, PGD_PROT_READ, SHARED_FILE, f, 0);
    expect_bytes(k, p, A(0), "aa", 2); /* maps the cache page read-only */
    pfn_t cached;
    assert_true(pagecache_lookup(f, k->phys, 0, &cached));
    assert_int_equal(pfn_of(p, A(0)), cached);
    assert_int_equal(wr(k, p, A(0), "XY"), 0);
    assert_int_not_equal(pfn_of(p, A(0)), cached);
    assert_true(page_of(k, p, A(0))->flags & PG_ANON);
    assert_int_equal(phys_page(k->phys, cached)->mapcount, 0);
    assert_int_equal(memcmp(phys_host(k->phys, cached << PAGE_SHIFT), "aa", 2), 0);
    expect_bytes(k, p, A(0), "XYa", 3);
    expect_bytes(k, p, A(4), "aaa", 3);
    /* a write to a never-read private page copies at once (do_cow_fault) */
    assert_int_equal(wr(k, p, A(1), "Z"), 0);
    expect_bytes(k, p, A(1), "Zb", 2);
    expect_bytes(k, p, A(5), "bb", 2);
    shutdown_audit(k);
    mm_file_put(f);
    unlink(path);
}

static void test_shared_write_seen_by_every_mapper(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k), *q = spawn(k);
    char path[64];
    struct mm_file *f = host_file(2, 0, O_RDWR, path);
    int err = 0;
    struct mm_file *g = mm_file_open(path, O_RDWR, &err); /* a second open of the inode */
    assert_non_null(g);
    map_at(p, BASE, 2 * PG, RW, SHARED_FILE, f, 0);
    map_at(p, A(8), 2 * PG, RW, SHARED_FILE, f, 0);
    /* a read maps it read-only (write-notify), the write makes it RW and dirty */
    expect_bytes(k, p, A(0), "aa", 2);
    assert_int_equal(pte_of(p, A(0)) & PTE_RW, 0);
    assert_int_equal(wr(k, p, A(0), "shared"), 0);
    assert_int_equal(FLAGS_OF(pte_of(p, A(0))), PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | PTE_NX);
    assert_true(page_of(k, p, A(0))->flags & PG_DIRTY);
    expect_bytes(k, p, A(8), "shared", 6);
    map_at(q, BASE, 2 * PG, PGD_PROT_READ, PRIV_FILE, g, 0);
    expect_bytes(k, q, A(0), "shareda", 7);
    assert_int_equal(pfn_of(q, A(0)), pfn_of(p, A(0)));
    /* never written to the host file */
    char host[2];
    assert_int_equal(pread(f->host_fd, host, 2, 0), 2);
    assert_memory_equal(host, "aa", 2);
    shutdown_audit(k);
    mm_file_put(f);
    mm_file_put(g);
    unlink(path);
}

static void test_shmem_and_dev_zero(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    int err = 0;
    struct mm_file *zero = mm_file_open("/dev/zero", O_RDWR, &err);
    assert_non_null(zero);
    map_at(p, BASE, 2 * PG, RW, SHARED_ANON, NULL, 0);
    map_at(p, A(4), PG, RW, SHARED_FILE, zero, 0);
    map_at(p, A(6), PG, RW, PRIV_FILE, zero, 0);
    /* shmem: a read maps a zeroed cache page writable at once (no write-notify) */
    expect_bytes(k, p, A(0), "\0\0", 2);
    assert_int_equal(FLAGS_OF(pte_of(p, A(0))), PTE_P | PTE_RW | PTE_US | PTE_A | PTE_NX);
    assert_int_equal(wr(k, p, A(0), "mem"), 0);
    struct process *c = fork_of(k, p);
    expect_bytes(k, c, A(0), "mem", 3);
    assert_int_equal(wr(k, c, A(1), "back"), 0);
    expect_bytes(k, p, A(1), "back", 4);
    assert_int_equal(wr(k, c, A(4), "dz"), 0);
    expect_bytes(k, p, A(4), "dz", 2);
    /* private /dev/zero is anonymous: the zero page */
    char ch;
    assert_int_equal(rd(k, p, A(6), &ch, 1), 0);
    assert_true(pte_of(p, A(6)) & PTE_SPECIAL);
    shutdown_audit(k);
    mm_file_put(zero);
}

/* ---- unmapping and moving ------------------------------------------------------------------- */

static void test_munmap_frees_frames(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, BASE, 8 * PG, RW, PRIV_ANON, NULL, 0);
    uint64_t free0 = k->phys->free_frames;
    for (int i = 0; i < 8; i++)
        assert_int_equal(wr(k, p, A(i), "x"), 0);
    assert_int_equal(free0 - k->phys->free_frames, 8 + 3);
    assert_int_equal(mm_munmap(p->mm, BASE, 8 * PG), 0);
    assert_int_equal(k->phys->free_frames, free0);
    assert_int_equal(touch(k, p, A(0), KERNEL_ACCESS_READ), PGD_SIGSEGV);
    assert_int_equal(code_seen, PGD_SEGV_MAPERR);
    shutdown_audit(k);
}

static void test_mremap_moves_pages(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, BASE, 2 * PG, RW, PRIV_ANON, NULL, 0);
    map_at(p, A(2), PG, PGD_PROT_READ, PRIV_ANON, NULL, 0); /* blocks growing in place */
    assert_int_equal(wr(k, p, A(0), "first"), 0);
    assert_int_equal(wr(k, p, A(1), "second"), 0);
    pfn_t pfn = pfn_of(p, A(0));
    long to = mm_mremap(p->mm, BASE, 2 * PG, 4 * PG, PGD_MREMAP_MAYMOVE, 0);
    assert_true(to > 0 && (uint64_t)to != BASE);
    assert_int_equal(pfn_of(p, (uint64_t)to), pfn);
    expect_bytes(k, p, (uint64_t)to, "first", 5);
    expect_bytes(k, p, (uint64_t)to + PG, "second", 6);
    expect_bytes(k, p, (uint64_t)to + 2 * PG, "\0", 1);
    assert_int_equal(touch(k, p, A(0), KERNEL_ACCESS_READ), PGD_SIGSEGV);
    shutdown_audit(k);
}

/* ---- a VMA with its own vm_operations (an embedder's device memory) --------------------- */

/* The "device": one frame per page offset, filled with 'A' + pgoff, kept referenced by
 * the device itself (as a page cache keeps its pages); page 3 does not exist. */
struct device {
    struct phys *phys;
    pfn_t frame[4];
    int faults, mkwrites;
};
static struct device dev;

static int dev_fault(struct vm_area *vma, struct vm_fault *vmf)
{
    (void)vma;
    dev.faults++;
    if (vmf->pgoff >= 3)
        return VM_FAULT_SIGBUS;
    if (!dev.frame[vmf->pgoff]) {
        assert_int_equal(phys_alloc(dev.phys, 0, 0, &dev.frame[vmf->pgoff]), 0);
        memset(phys_host(dev.phys, dev.frame[vmf->pgoff] << PAGE_SHIFT), 'A' + (int)vmf->pgoff, PAGE_SIZE);
    }
    vmf->pfn = dev.frame[vmf->pgoff];
    phys_page(dev.phys, vmf->pfn)->refcount++; /* the mapping's reference */
    return VM_FAULT_OK;
}

static int dev_page_mkwrite(struct vm_area *vma, struct vm_fault *vmf)
{
    (void)vma;
    assert_int_equal(vmf->pfn, dev.frame[vmf->pgoff]);
    dev.mkwrites++;
    return VM_FAULT_OK;
}

static const struct vm_operations dev_ops = {.fault = dev_fault, .page_mkwrite = dev_page_mkwrite};

static void test_vm_operations_fault_and_page_mkwrite(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    memset(&dev, 0, sizeof(dev));
    dev.phys = k->phys;
    uint64_t shared = VM_READ | VM_WRITE | VM_SHARED | VM_MAYREAD | VM_MAYWRITE | VM_MAYSHARE;
    uint64_t private = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE;
    assert_int_equal(mm_install_special(p->mm, A(0), 4 * PG, shared, &dev_ops), 0);
    assert_int_equal(mm_install_special(p->mm, A(16), 4 * PG, private, &dev_ops), 0);

    /* A read maps the device's frame read-only (write-notify), taking a reference. */
    expect_bytes(k, p, A(1) + 5, "BBB", 3);
    assert_int_equal(dev.faults, 1);
    assert_int_equal(pfn_of(p, A(1)), dev.frame[1]);
    assert_int_equal(FLAGS_OF(pte_of(p, A(1))), PTE_P | PTE_US | PTE_A | PTE_NX);
    assert_int_equal(phys_page(k->phys, dev.frame[1])->refcount, 2);
    assert_int_equal(phys_page(k->phys, dev.frame[1])->mapcount, 1);
    /* The first write is announced to page_mkwrite, then lands in the device's frame. */
    assert_int_equal(wr(k, p, A(1), "hi"), 0);
    assert_int_equal(dev.mkwrites, 1);
    assert_int_equal(FLAGS_OF(pte_of(p, A(1))), ANON_RW);
    assert_memory_equal(phys_host(k->phys, dev.frame[1] << PAGE_SHIFT), "hiB", 3);
    /* A write fault on a missing shared page: page_mkwrite at once, mapped writable. */
    assert_int_equal(wr(k, p, A(2), "x"), 0);
    assert_int_equal(dev.mkwrites, 2);
    /* A private write gets an anonymous copy: the device keeps its bytes. */
    assert_int_equal(wr(k, p, A(16), "private"), 0);
    assert_true(pfn_of(p, A(16)) != dev.frame[0]);
    assert_true(page_of(k, p, A(16))->flags & PG_ANON);
    expect_bytes(k, p, A(16), "privateAA", 9);
    assert_int_equal(phys_page(k->phys, dev.frame[0])->refcount, 1); /* the device's own */
    assert_memory_equal(phys_host(k->phys, dev.frame[0] << PAGE_SHIFT), "AAAA", 4);
    /* The callback's VM_FAULT_SIGBUS is the process's SIGBUS. */
    assert_int_equal(touch(k, p, A(3), KERNEL_ACCESS_READ), PGD_SIGBUS);
    assert_int_equal(code_seen, PGD_BUS_ADRERR);

    /* Unmapping drops the mappings' references; the device frees its own. */
    assert_int_equal(mm_munmap(p->mm, A(0), 32 * PG), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(phys_page(k->phys, dev.frame[i])->refcount, 1);
        phys_free(k->phys, dev.frame[i], 0);
    }
    shutdown_audit(k);
}

/* rmap_walk_anon's callback: record where it found the frame. */
struct rmap_seen {
    int n;
    struct mm *mm[8];
    uint64_t addr[8];
};

static int rmap_record(void *arg, struct vm_area *vma, uint64_t addr, pte_t *pte)
{
    struct rmap_seen *seen = arg;
    assert_non_null(pte);
    assert_true(seen->n < 8);
    seen->mm[seen->n] = vma->mm;
    seen->addr[seen->n++] = addr;
    return 0;
}

/* The reverse map finds every PTE of an anonymous frame: in the process that faulted
 * it, in its fork descendants while they share it, at a new address after mremap, and
 * no longer where a copy-on-write or munmap took it away.  It always equals mapcount. */
static void test_rmap_finds_every_pte(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, A(0), 4 * PG, RW, PRIV_ANON, NULL, 0);
    assert_int_equal(wr(k, p, A(1), "shared"), 0);
    pfn_t frame = pfn_of(p, A(1));
    struct process *c = fork_of(k, p);
    struct process *g = fork_of(k, c);
    struct rmap_seen seen = {0};
    assert_int_equal(rmap_walk_anon(k->phys, frame, rmap_record, &seen), 3);
    assert_int_equal(phys_page(k->phys, frame)->mapcount, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(seen.addr[i], A(1));
    assert_true(seen.mm[0] != seen.mm[1] && seen.mm[1] != seen.mm[2] && seen.mm[0] != seen.mm[2]);

    assert_int_equal(wr(k, c, A(1), "child!"), 0); /* the child's copy leaves the frame */
    assert_int_equal(rmap_walk_anon(k->phys, frame, NULL, NULL), 2);
    assert_int_equal(rmap_walk_anon(k->phys, pfn_of(c, A(1)), NULL, NULL), 1);

    /* mremap moves the parent's page: found at its new address. */
    assert_int_equal(mm_mremap(p->mm, A(0), 4 * PG, 4 * PG, PGD_MREMAP_MAYMOVE | PGD_MREMAP_FIXED, A(64)),
                     (long)A(64));
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(rmap_walk_anon(k->phys, frame, rmap_record, &seen), 2);
    for (int i = 0; i < 2; i++)
        assert_true(seen.mm[i] == p->mm ? seen.addr[i] == A(65) : seen.mm[i] == g->mm && seen.addr[i] == A(1));

    assert_int_equal(mm_munmap(g->mm, A(0), 4 * PG), 0);
    assert_int_equal(rmap_walk_anon(k->phys, frame, NULL, NULL), 1);
    assert_int_equal(phys_page(k->phys, frame)->mapcount, 1);
    shutdown_audit(k);
}

static void test_pagecache_release_frees_pages(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    char path[64];
    struct mm_file *f = host_file(3, 0, O_RDONLY, path);
    map_at(p, BASE, 3 * PG, PGD_PROT_READ, PRIV_FILE, f, 0);
    expect_bytes(k, p, A(2), "cc", 2);
    assert_int_equal(mm_munmap(p->mm, BASE, 3 * PG), 0);
    pfn_t pfn;
    uint64_t free0 = k->phys->free_frames;
    assert_true(pagecache_lookup(f, k->phys, 1, &pfn));
    pagecache_release(f); /* what mm_file_put does with the last reference */
    assert_false(pagecache_lookup(f, k->phys, 1, &pfn));
    assert_int_equal(k->phys->free_frames, free0 + 3);
    shutdown_audit(k);
    mm_file_put(f);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_maps_zero_page),
        cmocka_unit_test(test_write_allocates_zeroed_frame),
        cmocka_unit_test(test_write_after_read_replaces_zero_page),
        cmocka_unit_test(test_zero_page_on_first_use),
        cmocka_unit_test(test_signals_and_error_codes),
        cmocka_unit_test(test_stack_growth_and_guard_gap),
        cmocka_unit_test(test_fork_copy_on_write),
        cmocka_unit_test(test_write_reuses_sole_frame),
        cmocka_unit_test(test_file_read_and_fault_around),
        cmocka_unit_test(test_sigbus_beyond_eof),
        cmocka_unit_test(test_private_write_keeps_cache),
        cmocka_unit_test(test_shared_write_seen_by_every_mapper),
        cmocka_unit_test(test_shmem_and_dev_zero),
        cmocka_unit_test(test_munmap_frees_frames),
        cmocka_unit_test(test_mremap_moves_pages),
        cmocka_unit_test(test_pagecache_release_frees_pages),
        cmocka_unit_test(test_vm_operations_fault_and_page_mkwrite),
        cmocka_unit_test(test_rmap_finds_every_pte),
    };
    return cmocka_run_group_tests_name("fault", tests, NULL, NULL);
}
