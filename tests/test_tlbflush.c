/*
 * tests/test_tlbflush.c - TLB shootdown (src/kernel/tlbflush.c and the
 * mm_flush_tlb_range calls of the memory manager).
 *
 * kernel_user_access keeps a process's TLB entries between calls, so every test here
 * first makes the MMU cache a translation (an access through it), then changes the
 * mapping with a system call or a fault, then accesses again: the new contents or the
 * fault must appear, never what the stale entry would give.  The other half checks
 * that calls which change no mapping keep the TLB's hits (walks counted), and that
 * flushes follow Linux's ceiling of 33 single-page invalidations.  Every test ends
 * with the leak audit.
 */
#include "support/support.h"

#include <string.h>

#include <pagoda/kernel.h>

#define PG 0x1000ULL
#define BASE 0x10000000ULL /* 2 MiB aligned */
#define A(page) (BASE + (uint64_t)(page) * PG)
#define RW (PGD_PROT_READ | PGD_PROT_WRITE)
#define PRIV_ANON (PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS | PGD_MAP_FIXED)
#define SIGCHLD_NR 17

static struct kernel *boot_pcid(bool pcid)
{
    struct kernel_config cfg;
    kernel_config_default(&cfg);
    cfg.ram = 64ULL << 20;
    cfg.pcid = pcid;
    struct kernel *k = NULL;
    assert_int_equal(kernel_create(&cfg, &k), 0);
    return k;
}

static struct kernel *boot(void)
{
    return boot_pcid(true);
}

static void shutdown_audit(struct kernel *k)
{
    while (k->procs)
        kernel_reap(k, k->procs);
    mm_fault_release_phys(k->phys);
    test_leak_audit(k->phys);
    kernel_destroy(k);
}

static struct process *spawn(struct kernel *k)
{
    struct process *p = kernel_new_process(k, 0);
    assert_non_null(p);
    return p;
}

static void map_at(struct process *p, uint64_t addr, uint64_t len, uint64_t prot)
{
    assert_int_equal(mm_mmap(p->mm, addr, len, prot, PRIV_ANON, NULL, 0), (long)addr);
}

static int code_seen;

/* Read 8 bytes at addr into *v: 0 or the signal. */
static long rd(struct kernel *k, struct process *p, uint64_t addr, uint64_t *v)
{
    int sig;
    *v = 0;
    return kernel_user_access(k, p, addr, 8, KERNEL_ACCESS_READ, NULL, v, &sig, &code_seen);
}

static long wr(struct kernel *k, struct process *p, uint64_t addr, uint64_t v)
{
    int sig;
    return kernel_user_access(k, p, addr, 8, KERNEL_ACCESS_WRITE, &v, NULL, &sig, &code_seen);
}

static uint64_t read_ok(struct kernel *k, struct process *p, uint64_t addr)
{
    uint64_t v;
    assert_int_equal(rd(k, p, addr, &v), 0);
    return v;
}

static uint64_t walks(const struct kernel *k)
{
    return k->cpu.tlb.stats.walks;
}

/* ---- stale translations are never used ---------------------------------------------- */

/* munmap: the page's cached translation goes with it (a read faults), and a new map
 * at the same place shows its own (zero) contents. */
static void test_munmap_shoots_down(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, BASE, 4 * PG, RW);
    assert_int_equal(wr(k, p, A(1), 0x1111), 0);
    assert_int_equal(read_ok(k, p, A(1)), 0x1111);
    uint64_t pages = k->tlb_flushes.flush_pages;
    assert_int_equal(mm_munmap(p->mm, A(1), PG), 0);
    assert_int_equal(k->tlb_flushes.flush_pages, pages + 1);
    uint64_t v;
    assert_int_equal(rd(k, p, A(1), &v), PGD_SIGSEGV);
    assert_int_equal(code_seen, PGD_SEGV_MAPERR);
    map_at(p, A(1), PG, RW);
    assert_int_equal(read_ok(k, p, A(1)), 0);
    shutdown_audit(k);
}

/* mprotect to read-only: a write through the cached writable (dirty) entry would
 * succeed; it must fault.  PROT_NONE: reads fault too. */
static void test_mprotect_shoots_down(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, BASE, 2 * PG, RW);
    assert_int_equal(wr(k, p, A(0), 7), 0);
    assert_int_equal(wr(k, p, A(0), 8), 0); /* a TLB hit: the entry is writable and dirty */
    assert_int_equal(mm_mprotect(p->mm, A(0), PG, PGD_PROT_READ), 0);
    assert_int_equal(wr(k, p, A(0), 9), PGD_SIGSEGV);
    assert_int_equal(code_seen, PGD_SEGV_ACCERR);
    assert_int_equal(read_ok(k, p, A(0)), 8);
    assert_int_equal(mm_mprotect(p->mm, A(0), PG, 0), 0);
    uint64_t v;
    assert_int_equal(rd(k, p, A(0), &v), PGD_SIGSEGV);
    assert_int_equal(code_seen, PGD_SEGV_ACCERR);
    shutdown_audit(k);
}

/* fork write-protects the parent's pages: the parent's next write must copy, not
 * go through its cached writable entry into the frame the child shares. */
static void test_fork_then_parent_write_copies(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, BASE, PG, RW);
    assert_int_equal(wr(k, p, A(0), 0xaaaa), 0);
    assert_int_equal(wr(k, p, A(0), 0xbbbb), 0); /* cached writable */
    long pid = kernel_clone(k, p, 0, SIGCHLD_NR, 0);
    assert_true(pid > 0);
    struct process *c = kernel_find(k, (int)pid);
    assert_int_equal(wr(k, p, A(0), 0xcccc), 0);
    assert_int_equal(read_ok(k, c, A(0)), 0xbbbb);
    assert_int_equal(read_ok(k, p, A(0)), 0xcccc);
    /* and the child's copy: its write copies as well, the parent keeps its bytes */
    assert_int_equal(wr(k, c, A(0), 0xdddd), 0);
    assert_int_equal(read_ok(k, p, A(0)), 0xcccc);
    assert_int_equal(read_ok(k, c, A(0)), 0xdddd);
    shutdown_audit(k);
}

/* A copy-on-write fault replaces a present PTE (the zero page here): what the other
 * translations of the process see afterwards is the new frame. */
static void test_cow_fault_replaces_zero_page(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, BASE, 2 * PG, RW);
    assert_int_equal(read_ok(k, p, A(0)), 0); /* the zero page, cached read-only */
    assert_int_equal(read_ok(k, p, A(0)), 0);
    uint64_t pages = k->tlb_flushes.flush_pages;
    assert_int_equal(wr(k, p, A(0), 0x5555), 0);
    assert_int_equal(k->tlb_flushes.flush_pages, pages + 1);
    assert_int_equal(read_ok(k, p, A(0)), 0x5555);
    assert_int_equal(read_ok(k, p, A(1)), 0); /* the zero page itself is untouched */
    shutdown_audit(k);
}

/* mremap moves the pages: the old address faults, the new one shows the data, and a
 * new map at the old address is empty. */
static void test_mremap_shoots_down_old_range(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, BASE, 2 * PG, RW);
    assert_int_equal(wr(k, p, A(0), 0x1234), 0);
    assert_int_equal(wr(k, p, A(1), 0x5678), 0);
    assert_int_equal(read_ok(k, p, A(0)), 0x1234);
    uint64_t to = BASE + (64ULL << 20);
    assert_int_equal(mm_mremap(p->mm, BASE, 2 * PG, 2 * PG, PGD_MREMAP_MAYMOVE | PGD_MREMAP_FIXED, to), (long)to);
    uint64_t v;
    assert_int_equal(rd(k, p, A(0), &v), PGD_SIGSEGV);
    assert_int_equal(read_ok(k, p, to), 0x1234);
    assert_int_equal(read_ok(k, p, to + PG), 0x5678);
    map_at(p, BASE, PG, RW);
    assert_int_equal(read_ok(k, p, A(0)), 0);
    shutdown_audit(k);
}

/* MADV_DONTNEED zaps: the next read sees a zero-filled page. */
static void test_madvise_dontneed_shoots_down(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, BASE, PG, RW);
    assert_int_equal(wr(k, p, A(0), 0x77), 0);
    assert_int_equal(read_ok(k, p, A(0)), 0x77);
    assert_int_equal(mm_madvise(p->mm, A(0), PG, 4 /* MADV_DONTNEED */), 0);
    assert_int_equal(read_ok(k, p, A(0)), 0);
    shutdown_audit(k);
}

/* Without PCIDs every mm shares PCID 0: switching processes flushes, and the
 * shootdowns still work. */
static void test_without_pcid(void **state)
{
    (void)state;
    struct kernel *k = boot_pcid(false);
    struct process *p = spawn(k);
    map_at(p, BASE, PG, RW);
    assert_int_equal(wr(k, p, A(0), 1), 0);
    long pid = kernel_clone(k, p, 0, SIGCHLD_NR, 0);
    struct process *c = kernel_find(k, (int)pid);
    assert_int_equal(read_ok(k, c, A(0)), 1);
    assert_int_equal(wr(k, p, A(0), 2), 0);
    assert_int_equal(read_ok(k, c, A(0)), 1);
    assert_int_equal(read_ok(k, p, A(0)), 2);
    assert_int_equal(mm_munmap(p->mm, A(0), PG), 0);
    uint64_t v;
    assert_int_equal(rd(k, p, A(0), &v), PGD_SIGSEGV);
    assert_int_equal(read_ok(k, c, A(0)), 1);
    shutdown_audit(k);
}

/* ---- hits survive what changes no mapping --------------------------------------------- */

/* Two reads in separate calls: the second is an L1 DTLB hit, no walk.  mmap elsewhere,
 * mprotect that only adds a right, and another process's accesses keep it so. */
static void test_hits_survive_unrelated_calls(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k), *q = spawn(k);
    map_at(p, BASE, 2 * PG, PGD_PROT_READ);
    map_at(q, BASE, PG, RW);
    assert_int_equal(read_ok(k, p, A(0)), 0);
    uint64_t w = walks(k), hits = k->cpu.tlb.stats.l1d_hits;
    assert_int_equal(read_ok(k, p, A(0)), 0);
    assert_int_equal(walks(k), w);
    assert_int_equal(k->cpu.tlb.stats.l1d_hits, hits + 1);

    assert_int_equal(mm_mmap(p->mm, BASE + (32ULL << 20), PG, RW, PRIV_ANON, NULL, 0), (long)(BASE + (32ULL << 20)));
    assert_int_equal(mm_mprotect(p->mm, A(0), PG, PGD_PROT_READ | PGD_PROT_EXEC), 0);
    assert_int_equal(wr(k, q, A(0), 3), 0); /* another mm, another PCID */
    assert_int_equal(read_ok(k, q, A(0)), 3);
    w = walks(k);
    hits = k->cpu.tlb.stats.l1d_hits;
    assert_int_equal(read_ok(k, p, A(0)), 0);
    assert_int_equal(walks(k), w);
    assert_int_equal(k->cpu.tlb.stats.l1d_hits, hits + 1);
    assert_int_equal(read_ok(k, q, A(0)), 3);
    assert_int_equal(walks(k), w);
    shutdown_audit(k);
}

/* ---- how ranges are flushed ------------------------------------------------------------ */

/* Up to 33 pages one by one, above that the whole PCID; an mm with nothing in the TLB
 * (never loaded, or its PCID used by nobody since) is skipped; exit flushes all. */
static void test_flush_ceiling_and_counts(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k), *q = spawn(k);
    map_at(p, BASE, 64 * PG, RW);
    map_at(q, BASE, PG, RW);
    assert_int_equal(mm_munmap(q->mm, BASE, PG), 0); /* q never ran: nothing cached */
    assert_int_equal(k->tlb_flushes.flush_skipped, 1);
    assert_int_equal(k->tlb_flushes.flush_pages, 0);
    assert_int_equal(wr(k, p, A(40), 1), 0);
    assert_int_equal(mm_munmap(p->mm, A(0), 33 * PG), 0);
    assert_int_equal(k->tlb_flushes.flush_pages, 33);
    assert_int_equal(k->tlb_flushes.flush_full, 0);
    assert_int_equal(read_ok(k, p, A(40)), 1); /* not in the range: still cached */
    uint64_t flushes = k->cpu.tlb.stats.flushes;
    assert_int_equal(mm_munmap(p->mm, A(33), 31 * PG), 0);
    assert_int_equal(k->tlb_flushes.flush_pages, 33 + 31);
    map_at(p, BASE, 64 * PG, RW);
    assert_int_equal(wr(k, p, A(40), 1), 0);
    assert_int_equal(mm_munmap(p->mm, A(0), 34 * PG), 0);
    assert_int_equal(k->tlb_flushes.flush_pages, 33 + 31);
    assert_int_equal(k->tlb_flushes.flush_full, 1);
    assert_int_equal(k->cpu.tlb.stats.flushes, flushes + 1);
    kernel_exit(k, p, 0);
    assert_int_equal(k->tlb_flushes.flush_full, 2);
    kernel_exit(k, q, 0); /* never loaded: no flush */
    assert_int_equal(k->tlb_flushes.flush_full, 2);
    shutdown_audit(k);
}

/* exec replaces the mm: the new image's PCID starts empty (old entries flushed). */
static void test_exec_flushes_old_mm(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, BASE, PG, RW);
    assert_int_equal(wr(k, p, A(0), 5), 0);
    uint64_t full = k->tlb_flushes.flush_full;
    assert_int_equal(kernel_execve(k, p, "/bin/true", NULL, 1, 0, 16), 0);
    assert_int_equal(k->tlb_flushes.flush_full, full + 1);
    uint64_t v;
    assert_int_equal(rd(k, p, A(0), &v), PGD_SIGSEGV);
    shutdown_audit(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_munmap_shoots_down),
        cmocka_unit_test(test_mprotect_shoots_down),
        cmocka_unit_test(test_fork_then_parent_write_copies),
        cmocka_unit_test(test_cow_fault_replaces_zero_page),
        cmocka_unit_test(test_mremap_shoots_down_old_range),
        cmocka_unit_test(test_madvise_dontneed_shoots_down),
        cmocka_unit_test(test_without_pcid),
        cmocka_unit_test(test_hits_survive_unrelated_calls),
        cmocka_unit_test(test_flush_ceiling_and_counts),
        cmocka_unit_test(test_exec_flushes_old_mm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
