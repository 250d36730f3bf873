/*
 * tests/test_huge.c - transparent huge pages and hugetlb (src/mm/huge_memory.c,
 * src/mm/hugetlb.c) against Linux 6.18, as measured on the host (enabled=madvise):
 * exact frames, folio reference counts, rss and /proc/vmstat events.
 *
 * Host facts these follow (a C program with MADV_HUGEPAGE, /proc/vmstat deltas and
 * smaps): a write maps a THP (thp_fault_alloc +1, AnonHugePages 2048 kB); a read maps
 * the huge zero page (Rss 0); a write after it maps a THP without a split; a fork
 * child's write splits the child's PMD only (thp_split_pmd +1); the parent's write
 * while the child still maps the folio splits too, once the child is gone it reuses;
 * munmap or MADV_DONTNEED of one 4 KiB page: thp_split_pmd +1 and
 * thp_deferred_split_page +1; mprotect of one page: thp_split_pmd +1 only.
 */
#include "support/support.h"

#include <stdio.h>
#include <string.h>

#include <pagoda/kernel.h>

#include "mm/fault.h"
#include "mm/huge.h"

#define PG 0x1000ULL
#define H2M (2ULL << 20)
#define BASE 0x40000000ULL /* 1 GiB aligned */
#define RW (PGD_PROT_READ | PGD_PROT_WRITE)
#define PRIV_ANON (PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS | PGD_MAP_FIXED)
#define SIGCHLD_NR 17
#define MADV_DONTNEED 4
#define MADV_HUGEPAGE 14
#define MADV_NOHUGEPAGE 15
#define HUGE_1GB (30ULL << PGD_MAP_HUGE_SHIFT)

static struct kernel *boot_with(const char *key, const char *value, uint64_t ram)
{
    struct kernel_config cfg;
    kernel_config_default(&cfg);
    cfg.ram = ram ? ram : 64ULL << 20;
    char err[128];
    if (key)
        assert_int_equal(kernel_config_set(&cfg, key, value, err, sizeof(err)), 0);
    struct kernel *k = NULL;
    assert_int_equal(kernel_create(&cfg, &k), 0);
    return k;
}

static struct kernel *boot(void)
{
    return boot_with(NULL, NULL, 0);
}

static uint64_t ev(struct kernel *k, enum vm_event e)
{
    return mm_machine_of(k->phys)->events[e];
}

/* Reap everything, check the pools and the huge zero page are back, audit. */
static void shutdown_audit(struct kernel *k)
{
    while (k->procs)
        kernel_reap(k, k->procs);
    struct mm_machine *m = mm_machine_of(k->phys);
    assert_int_equal(m->huge_zero_users, 0);
    for (int hs = 0; hs < 2; hs++) {
        assert_int_equal(m->hstate[hs].free, m->hstate[hs].nr);
        assert_int_equal(m->hstate[hs].resv, 0);
    }
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

static struct process *fork_of(struct kernel *k, struct process *p)
{
    long pid = kernel_clone(k, p, 0, SIGCHLD_NR, 0);
    assert_true(pid > 0);
    return kernel_find(k, (int)pid);
}

static void exit_reap(struct kernel *k, struct process *p)
{
    kernel_reap(k, p);
}

static long put(struct kernel *k, struct process *p, uint64_t addr, const char *s)
{
    int sig, code;
    return kernel_user_access(k, p, addr, strlen(s), KERNEL_ACCESS_WRITE, s, NULL, &sig, &code);
}

static long get(struct kernel *k, struct process *p, uint64_t addr, char *buf, uint64_t len)
{
    int sig, code;
    return kernel_user_access(k, p, addr, len, KERNEL_ACCESS_READ, NULL, buf, &sig, &code);
}

static void expect(struct kernel *k, struct process *p, uint64_t addr, const char *s)
{
    char buf[64] = {0};
    assert_int_equal(get(k, p, addr, buf, strlen(s)), 0);
    assert_memory_equal(buf, s, strlen(s));
}

/* The leaf mapping addr: its level, entry. */
static int leaf_level(struct process *p, uint64_t addr, pte_t *e)
{
    pte_t x;
    int level;
    if (pt_lookup(&p->mm->pt, addr, &x, &level))
        return 0;
    if (e)
        *e = x;
    return level;
}

static pfn_t leaf_pfn(struct process *p, uint64_t addr)
{
    pte_t e;
    int level = leaf_level(p, addr, &e);
    assert_true(level > 0);
    return pte_addr(e, level, true) >> PAGE_SHIFT;
}

static struct page *page_of(struct kernel *k, pfn_t pfn)
{
    return phys_page(k->phys, pfn);
}

/* A THP-eligible private anonymous area: 4 MiB at BASE with MADV_HUGEPAGE. */
static void map_thp_area(struct process *p, uint64_t len)
{
    assert_int_equal(mm_mmap(p->mm, BASE, len, RW, PRIV_ANON, NULL, 0), (long)BASE);
    assert_int_equal(mm_madvise(p->mm, BASE, len, MADV_HUGEPAGE), 0);
}

/* ---- THP faults ----------------------------------------------------------------------- */

static void test_thp_write_fault_maps_pmd(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_thp_area(p, 2 * H2M);
    uint64_t free0 = k->phys->free_frames, tables0 = p->mm->pt.table_frames;
    assert_int_equal(put(k, p, BASE + 100, "huge"), 0);
    pte_t e;
    assert_int_equal(leaf_level(p, BASE + 100, &e), PT_LEVEL_PMD);
    assert_true((e & (PTE_PS | PTE_RW | PTE_D | PTE_P)) == (PTE_PS | PTE_RW | PTE_D | PTE_P));
    pfn_t head = leaf_pfn(p, BASE);
    assert_int_equal(head % 512, 0);
    assert_true(page_of(k, head)->flags & PG_HEAD);
    assert_int_equal(page_of(k, head)->refcount, 1);
    /* one compound frame of 512, plus the PUD and PMD tables (no PTE table) */
    uint64_t new_tables = p->mm->pt.table_frames - tables0;
    assert_int_equal(new_tables, 2);
    assert_int_equal(free0 - k->phys->free_frames, 512 + new_tables);
    assert_int_equal(ev(k, VM_THP_FAULT_ALLOC), 1);
    assert_int_equal(ev(k, VM_THP_FAULT_FALLBACK), 0);
    assert_int_equal(p->mm->rss[MM_ANONPAGES], 512);
    expect(k, p, BASE + 100, "huge");
    expect(k, p, BASE + H2M - 4, "\0\0\0\0");
    /* a second huge page beside it */
    assert_int_equal(put(k, p, BASE + H2M + 5, "x"), 0);
    assert_int_equal(ev(k, VM_THP_FAULT_ALLOC), 2);
    assert_int_equal(p->mm->rss[MM_ANONPAGES], 1024);
    assert_int_equal(mm_munmap(p->mm, BASE, 2 * H2M), 0);
    assert_int_equal(p->mm->rss[MM_ANONPAGES], 0);
    assert_int_equal(k->phys->free_frames, free0);
    shutdown_audit(k);
}

/* The policy: madvise needs VM_HUGEPAGE; always needs nothing; never nothing maps;
 * VM_NOHUGEPAGE and a 2 MiB range not inside the VMA fall back to 4 KiB pages. */
static void test_thp_policy(void **state)
{
    (void)state;
    const struct {
        const char *thp;
        int advice;        /* 0: none */
        uint64_t start;    /* VMA start (its length is 2 MiB) */
        int level;         /* leaf level after a write at BASE + 2 MiB - 4 KiB */
    } cases[] = {
        {"madvise", 0, BASE + H2M, PT_LEVEL_PTE},     {"madvise", MADV_HUGEPAGE, BASE + H2M, PT_LEVEL_PMD},
        {"always", 0, BASE + H2M, PT_LEVEL_PMD},      {"always", MADV_NOHUGEPAGE, BASE + H2M, PT_LEVEL_PTE},
        {"never", MADV_HUGEPAGE, BASE + H2M, PT_LEVEL_PTE},
        {"always", 0, BASE + H2M + PG, PT_LEVEL_PTE}, /* the aligned 2 MiB is not inside */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kernel *k = boot_with("thp", cases[i].thp, 0);
        struct process *p = spawn(k);
        assert_int_equal(mm_mmap(p->mm, cases[i].start, H2M, RW, PRIV_ANON, NULL, 0), (long)cases[i].start);
        if (cases[i].advice)
            assert_int_equal(mm_madvise(p->mm, cases[i].start, H2M, cases[i].advice), 0);
        uint64_t at = cases[i].start + H2M - PG;
        assert_int_equal(put(k, p, at, "p"), 0);
        assert_int_equal(leaf_level(p, at, NULL), cases[i].level);
        assert_int_equal(ev(k, VM_THP_FAULT_ALLOC), cases[i].level == PT_LEVEL_PMD);
        shutdown_audit(k);
    }
}

/* A read maps the huge zero page (allocated once, counted once, no rss); a write to it
 * maps a fresh THP in its place (6.18's do_huge_zero_wp_pmd: no split). */
static void test_huge_zero_page(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_thp_area(p, 2 * H2M);
    uint64_t free0 = k->phys->free_frames;
    char buf[8];
    assert_int_equal(get(k, p, BASE + 8, buf, 8), 0);
    assert_int_equal(get(k, p, BASE + H2M, buf, 8), 0);
    pte_t e;
    assert_int_equal(leaf_level(p, BASE, &e), PT_LEVEL_PMD);
    assert_true(e & PTE_SPECIAL);
    assert_false(e & PTE_RW);
    assert_int_equal(leaf_pfn(p, BASE), leaf_pfn(p, BASE + H2M));
    assert_int_equal(ev(k, VM_THP_ZERO_PAGE_ALLOC), 1);
    assert_int_equal(p->mm->rss[MM_ANONPAGES], 0);
    assert_non_null(mm_vma_lookup(p->mm, BASE)->anon_vma); /* vmf_anon_prepare() before the zero page */
    /* 512 frames of zero page + PUD and PMD tables */
    assert_int_equal(free0 - k->phys->free_frames, 512 + 2);
    assert_int_equal(put(k, p, BASE + 8, "w"), 0);
    assert_int_equal(leaf_level(p, BASE, &e), PT_LEVEL_PMD);
    assert_false(e & PTE_SPECIAL);
    assert_int_equal(ev(k, VM_THP_FAULT_ALLOC), 1);
    assert_int_equal(ev(k, VM_THP_SPLIT_PMD), 0);
    assert_int_equal(p->mm->rss[MM_ANONPAGES], 512);
    expect(k, p, BASE + 7, "\0w\0");
    /* another process reading shares the same huge zero page */
    struct process *q = spawn(k);
    map_thp_area(q, H2M);
    assert_int_equal(get(k, q, BASE, buf, 1), 0);
    assert_int_equal(leaf_pfn(q, BASE), leaf_pfn(p, BASE + H2M));
    assert_int_equal(mm_machine_of(k->phys)->huge_zero_users, 2);
    assert_int_equal(ev(k, VM_THP_ZERO_PAGE_ALLOC), 1);
    shutdown_audit(k); /* the last holder's exit frees it */
}

/* No free 2 MiB block: thp_fault_fallback and a 4 KiB page. */
static void test_thp_fallback(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_thp_area(p, H2M);
    static pfn_t held[64], small[4096];
    unsigned n = 0, m = 0;
    while (n < 64 && phys_alloc(k->phys, 9, 0, &held[n]) == 0)
        n++;
    assert_true(n < 64);
    /* give one block back, then split it: 4 KiB frames are left, no 2 MiB block */
    phys_free(k->phys, held[--n], 9);
    while (k->phys->nr_free[9] + k->phys->nr_free[10] > 0) {
        assert_true(m < 4096);
        assert_int_equal(phys_alloc(k->phys, 0, 0, &small[m++]), 0);
    }
    for (unsigned i = 0; i + 1 < m; i++) /* the last one split the block: it stays */
        phys_free(k->phys, small[i], 0);
    assert_int_equal(put(k, p, BASE, "s"), 0);
    assert_int_equal(leaf_level(p, BASE, NULL), PT_LEVEL_PTE);
    assert_int_equal(ev(k, VM_THP_FAULT_FALLBACK), 1);
    assert_int_equal(ev(k, VM_THP_FAULT_ALLOC), 0);
    phys_free(k->phys, small[m - 1], 0);
    while (n)
        phys_free(k->phys, held[--n], 9);
    shutdown_audit(k);
}

/* ---- splitting ------------------------------------------------------------------------- */

/* munmap of one 4 KiB page: the PMD becomes 512 PTEs, one is zapped; the compound
 * frame stays until its last subpage mapping goes. */
static void test_split_on_partial_munmap(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_thp_area(p, H2M);
    uint64_t free0 = k->phys->free_frames;
    assert_int_equal(put(k, p, BASE + 5 * PG, "five"), 0);
    pfn_t head = leaf_pfn(p, BASE);
    uint64_t free1 = k->phys->free_frames;
    assert_int_equal(mm_munmap(p->mm, BASE + 7 * PG, PG), 0);
    assert_int_equal(ev(k, VM_THP_SPLIT_PMD), 1);
    assert_int_equal(ev(k, VM_THP_DEFERRED_SPLIT_PAGE), 1);
    assert_int_equal(leaf_level(p, BASE, NULL), PT_LEVEL_PTE);
    assert_int_equal(leaf_level(p, BASE + 7 * PG, NULL), 0);
    assert_int_equal(leaf_pfn(p, BASE + 5 * PG), head + 5);
    assert_int_equal(page_of(k, head)->refcount, 511);
    assert_int_equal(page_of(k, head + 7)->mapcount, 0);
    assert_int_equal(page_of(k, head + 8)->mapcount, 1);
    assert_int_equal(p->mm->rss[MM_ANONPAGES], 511);
    assert_int_equal(free1 - k->phys->free_frames, 1); /* the new PTE table */
    expect(k, p, BASE + 5 * PG, "five");
    assert_int_equal(mm_munmap(p->mm, BASE, 7 * PG), 0);
    assert_int_equal(page_of(k, head)->refcount, 504);
    assert_int_equal(mm_munmap(p->mm, BASE + 8 * PG, H2M - 8 * PG), 0);
    assert_int_equal(p->mm->rss[MM_ANONPAGES], 0);
    assert_int_equal(k->phys->free_frames, free0);
    assert_int_equal(ev(k, VM_THP_DEFERRED_SPLIT_PAGE), 1); /* counted once per folio */
    shutdown_audit(k);
}

/* mprotect of one page splits without unmapping; MADV_DONTNEED of one page splits and
 * leaves the folio partially mapped. */
static void test_split_on_mprotect_and_dontneed(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_thp_area(p, 2 * H2M);
    assert_int_equal(put(k, p, BASE, "a"), 0);
    assert_int_equal(put(k, p, BASE + H2M, "b"), 0);
    pfn_t h1 = leaf_pfn(p, BASE), h2 = leaf_pfn(p, BASE + H2M);
    assert_int_equal(mm_mprotect(p->mm, BASE, PG, PGD_PROT_READ), 0);
    assert_int_equal(ev(k, VM_THP_SPLIT_PMD), 1);
    assert_int_equal(ev(k, VM_THP_DEFERRED_SPLIT_PAGE), 0);
    assert_int_equal(page_of(k, h1)->refcount, 512);
    pte_t e;
    assert_int_equal(leaf_level(p, BASE, &e), PT_LEVEL_PTE);
    assert_false(e & PTE_RW);
    assert_int_equal(leaf_level(p, BASE + PG, &e), PT_LEVEL_PTE);
    assert_true(e & PTE_RW);
    /* a write to the still-writable part needs no fault; one to the read-only page is refused */
    assert_int_equal(put(k, p, BASE + PG, "c"), 0);
    assert_int_equal(put(k, p, BASE, "d"), PGD_SIGSEGV);
    assert_int_equal(mm_madvise(p->mm, BASE + H2M + PG, PG, MADV_DONTNEED), 0);
    assert_int_equal(ev(k, VM_THP_SPLIT_PMD), 2);
    assert_int_equal(ev(k, VM_THP_DEFERRED_SPLIT_PAGE), 1);
    assert_int_equal(page_of(k, h2)->refcount, 511);
    expect(k, p, BASE + H2M, "b");
    expect(k, p, BASE + H2M + PG, "\0"); /* refaulted: a fresh page */
    /* the whole-PMD DONTNEED does not split */
    assert_int_equal(mm_mprotect(p->mm, BASE, PG, RW), 0);
    shutdown_audit(k);
}

/* mremap of a whole THP to a 2 MiB aligned place moves the PMD; to a misaligned one
 * splits it. */
static void test_mremap_thp(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_thp_area(p, H2M);
    assert_int_equal(put(k, p, BASE + 3, "moved"), 0);
    pfn_t head = leaf_pfn(p, BASE);
    uint64_t to = BASE + 8 * H2M;
    assert_int_equal(mm_mremap(p->mm, BASE, H2M, H2M, PGD_MREMAP_MAYMOVE | PGD_MREMAP_FIXED, to), (long)to);
    assert_int_equal(leaf_level(p, to, NULL), PT_LEVEL_PMD);
    assert_int_equal(leaf_pfn(p, to), head);
    assert_int_equal(ev(k, VM_THP_SPLIT_PMD), 0);
    expect(k, p, to + 3, "moved");
    uint64_t odd = BASE + 16 * H2M + PG;
    assert_int_equal(mm_mremap(p->mm, to, H2M, H2M, PGD_MREMAP_MAYMOVE | PGD_MREMAP_FIXED, odd), (long)odd);
    assert_int_equal(ev(k, VM_THP_SPLIT_PMD), 1);
    assert_int_equal(leaf_level(p, odd, NULL), PT_LEVEL_PTE);
    assert_int_equal(leaf_pfn(p, odd + PG), head + 1);
    assert_int_equal(page_of(k, head)->refcount, 512);
    expect(k, p, odd + 3, "moved");
    shutdown_audit(k);
}

/* ---- fork and copy-on-write -------------------------------------------------------------- */

static void test_fork_thp_cow(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_thp_area(p, H2M);
    assert_int_equal(put(k, p, BASE, "parent"), 0);
    pfn_t head = leaf_pfn(p, BASE);
    struct process *c = fork_of(k, p);
    pte_t e;
    assert_int_equal(leaf_level(c, BASE, &e), PT_LEVEL_PMD);
    assert_false(e & PTE_RW);
    assert_int_equal(leaf_level(p, BASE, &e), PT_LEVEL_PMD);
    assert_false(e & PTE_RW);
    assert_int_equal(page_of(k, head)->refcount, 2);
    assert_int_equal(c->mm->rss[MM_ANONPAGES], 512);
    /* the child's write: its PMD splits and one 4 KiB page is copied */
    uint64_t free0 = k->phys->free_frames;
    assert_int_equal(put(k, c, BASE + PG, "child"), 0);
    assert_int_equal(ev(k, VM_THP_SPLIT_PMD), 1);
    assert_int_equal(leaf_level(c, BASE, NULL), PT_LEVEL_PTE);
    assert_int_equal(leaf_level(p, BASE, NULL), PT_LEVEL_PMD);
    assert_true(leaf_pfn(c, BASE + PG) != head + 1);
    assert_int_equal(leaf_pfn(c, BASE + 2 * PG), head + 2);
    assert_int_equal(page_of(k, head)->refcount, 1 + 511);
    assert_int_equal(free0 - k->phys->free_frames, 2); /* PTE table + the copy */
    expect(k, p, BASE + PG, "\0\0\0\0\0");
    expect(k, c, BASE, "parent");
    expect(k, c, BASE + PG, "child");
    /* the child goes: subpage 1 is no longer mapped by anyone (partially mapped) */
    exit_reap(k, c);
    assert_int_equal(ev(k, VM_THP_DEFERRED_SPLIT_PAGE), 0); /* the PMD still maps all */
    assert_int_equal(page_of(k, head)->refcount, 1);
    /* the parent's write reuses its now exclusive PMD */
    assert_int_equal(put(k, p, BASE + 2 * PG, "reuse"), 0);
    assert_int_equal(leaf_level(p, BASE, &e), PT_LEVEL_PMD);
    assert_true(e & PTE_RW);
    assert_int_equal(ev(k, VM_THP_SPLIT_PMD), 1);
    shutdown_audit(k);
}

/* The parent writes while the child still maps the folio: the parent splits and copies;
 * the child's exit leaves the parent's replaced subpage unmapped (deferred split). */
static void test_fork_parent_writes(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_thp_area(p, H2M);
    assert_int_equal(put(k, p, BASE, "x"), 0);
    pfn_t head = leaf_pfn(p, BASE);
    struct process *c = fork_of(k, p);
    assert_int_equal(put(k, p, BASE + 2 * PG, "p"), 0);
    assert_int_equal(ev(k, VM_THP_SPLIT_PMD), 1);
    assert_int_equal(page_of(k, head)->refcount, 1 + 511);
    exit_reap(k, c);
    assert_int_equal(ev(k, VM_THP_DEFERRED_SPLIT_PAGE), 1);
    assert_int_equal(page_of(k, head)->refcount, 511);
    /* now exclusive to the parent: a write to another subpage reuses it */
    uint64_t free0 = k->phys->free_frames;
    assert_int_equal(put(k, p, BASE + 3 * PG, "r"), 0);
    assert_int_equal(leaf_pfn(p, BASE + 3 * PG), head + 3);
    assert_int_equal(k->phys->free_frames, free0);
    shutdown_audit(k);
}

/* ---- hugetlb ---------------------------------------------------------------------------- */

static void test_hugetlb_pool_and_reservations(void **state)
{
    (void)state;
    struct kernel *k = boot_with("hugepages", "2", 0);
    struct mm_hstate *h = &mm_machine_of(k->phys)->hstate[0];
    assert_int_equal(h->nr, 2);
    assert_int_equal(h->free, 2);
    struct process *p = spawn(k);
    uint64_t managed = k->phys->managed_frames;
    long a = mm_mmap(p->mm, 0, 2 * H2M, RW, PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS | PGD_MAP_HUGETLB, NULL, 0);
    assert_true(a > 0);
    assert_int_equal(h->resv, 2);
    assert_int_equal(mm_mmap(p->mm, 0, H2M, RW, PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS | PGD_MAP_HUGETLB, NULL, 0),
                     -ENOMEM);
    assert_int_equal(put(k, p, (uint64_t)a + 10, "hugetlb"), 0);
    pte_t e;
    assert_int_equal(leaf_level(p, (uint64_t)a, &e), PT_LEVEL_PMD);
    assert_true(e & PTE_RW);
    assert_int_equal(h->free, 1);
    assert_int_equal(h->resv, 1);
    assert_int_equal(p->mm->rss[MM_ANONPAGES], 0); /* hugetlb is in no rss counter */
    expect(k, p, (uint64_t)a + 10, "hugetlb");
    assert_int_equal(k->phys->managed_frames, managed);
    /* NORESERVE with every free page reserved: SIGBUS */
    long b = mm_mmap(p->mm, 0, H2M, RW,
                     PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS | PGD_MAP_HUGETLB | PGD_MAP_NORESERVE, NULL, 0);
    assert_true(b > 0);
    int sig, code;
    assert_int_equal(kernel_user_access(k, p, (uint64_t)b, 1, KERNEL_ACCESS_WRITE, "z", NULL, &sig, &code),
                     PGD_SIGBUS);
    assert_int_equal(code, PGD_BUS_ADRERR);
    /* unmapping the reserved but untouched half gives its reservation back */
    assert_int_equal(mm_munmap(p->mm, (uint64_t)a + H2M, H2M), 0);
    assert_int_equal(h->resv, 0);
    assert_int_equal(put(k, p, (uint64_t)b, "z"), 0);
    assert_int_equal(h->free, 0);
    assert_int_equal(mm_munmap(p->mm, (uint64_t)a, H2M), 0);
    assert_int_equal(h->free, 1);
    shutdown_audit(k);
}

/* Private hugetlb after fork: both share the page write-protected; a write copies the
 * whole huge page; shared hugetlb stays shared. */
static void test_hugetlb_fork(void **state)
{
    (void)state;
    struct kernel *k = boot_with("hugepages", "4", 0);
    struct mm_hstate *h = &mm_machine_of(k->phys)->hstate[0];
    struct process *p = spawn(k);
    long a = mm_mmap(p->mm, 0, H2M, RW, PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS | PGD_MAP_HUGETLB, NULL, 0);
    long s = mm_mmap(p->mm, 0, H2M, RW, PGD_MAP_SHARED | PGD_MAP_ANONYMOUS | PGD_MAP_HUGETLB, NULL, 0);
    assert_true(a > 0 && s > 0);
    assert_int_equal(h->resv, 2);
    assert_int_equal(put(k, p, (uint64_t)a, "priv"), 0);
    assert_int_equal(put(k, p, (uint64_t)s, "shared"), 0);
    assert_int_equal(h->free, 2);
    assert_int_equal(h->resv, 0);
    pfn_t pa = leaf_pfn(p, (uint64_t)a), ps = leaf_pfn(p, (uint64_t)s);
    assert_int_equal(page_of(k, ps)->refcount, 2); /* the file's cache and the mapping */
    struct process *c = fork_of(k, p);
    assert_int_equal(page_of(k, pa)->refcount, 2);
    assert_int_equal(page_of(k, ps)->refcount, 3);
    assert_int_equal(put(k, c, (uint64_t)a, "CHILD"), 0);
    assert_true(leaf_pfn(c, (uint64_t)a) != pa);
    assert_int_equal(h->free, 1);
    assert_int_equal(page_of(k, pa)->refcount, 1);
    expect(k, p, (uint64_t)a, "priv");
    expect(k, c, (uint64_t)a, "CHILD");
    assert_int_equal(put(k, c, (uint64_t)s + 6, "!"), 0);
    expect(k, p, (uint64_t)s, "shared!");
    /* the parent's write now reuses its page */
    assert_int_equal(put(k, p, (uint64_t)a, "P"), 0);
    assert_int_equal(leaf_pfn(p, (uint64_t)a), pa);
    shutdown_audit(k);
}

/* A 1 GiB page: a PUD leaf from the 1 GiB pool. */
static void test_hugetlb_1g(void **state)
{
    (void)state;
    struct kernel *k = boot_with("hugepages_1g", "1", 3ULL << 30);
    struct mm_hstate *h = &mm_machine_of(k->phys)->hstate[1];
    assert_int_equal(h->nr, 1);
    assert_int_equal(h->base_pfn % (1u << 18), 0);
    struct process *p = spawn(k);
    long a = mm_mmap(p->mm, 0, 1ULL << 30, RW, PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS | PGD_MAP_HUGETLB | HUGE_1GB,
                     NULL, 0);
    assert_true(a > 0);
    assert_int_equal(put(k, p, (uint64_t)a + (1ULL << 29), "gig"), 0);
    assert_int_equal(leaf_level(p, (uint64_t)a, NULL), PT_LEVEL_PUD);
    assert_int_equal(leaf_pfn(p, (uint64_t)a), h->base_pfn);
    assert_int_equal(h->free, 0);
    expect(k, p, (uint64_t)a + (1ULL << 29), "gig");
    expect(k, p, (uint64_t)a, "\0\0\0");
    shutdown_audit(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thp_write_fault_maps_pmd),
        cmocka_unit_test(test_thp_policy),
        cmocka_unit_test(test_huge_zero_page),
        cmocka_unit_test(test_thp_fallback),
        cmocka_unit_test(test_split_on_partial_munmap),
        cmocka_unit_test(test_split_on_mprotect_and_dontneed),
        cmocka_unit_test(test_mremap_thp),
        cmocka_unit_test(test_fork_thp_cow),
        cmocka_unit_test(test_fork_parent_writes),
        cmocka_unit_test(test_hugetlb_pool_and_reservations),
        cmocka_unit_test(test_hugetlb_fork),
        cmocka_unit_test(test_hugetlb_1g),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
