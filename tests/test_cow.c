/*
 * tests/test_cow.c - the copy-on-write matrix, in the spirit of Linux's
 * tools/testing/selftests/mm/cow.c: fork x {4 KiB pages, a THP, a 2 MiB hugetlb page}
 * x {the child writes, the parent writes, both} x {no munmap, the other side unmaps
 * before the writes, after them}.  Each case writes patterns through the MMU
 * (kernel_user_access) and reads them back in both processes, checks the frames the
 * writes allocated, the reference counts of the frames left, the split events, and
 * ends with the leak audit (every frame and every pool page back).
 */
#include "support/support.h"

#include <stdio.h>
#include <string.h>

#include <pagoda/kernel.h>

#include "mm/fault.h"
#include "mm/huge.h"

#define PG 0x1000ULL
#define H2M (2ULL << 20)
#define BASE 0x40000000ULL
#define RW (PGD_PROT_READ | PGD_PROT_WRITE)
#define SIGCHLD_NR 17
#define MADV_HUGEPAGE 14

enum kind { SMALL, THP, HUGETLB };
enum writer { CHILD, PARENT, BOTH };
enum unmap { NONE, BEFORE, AFTER };

static const char *const kind_name[] = {"4K", "THP", "hugetlb"};

struct cow_case {
    struct kernel *k;
    struct process *side[2]; /* [0] parent, [1] child */
    bool mapped[2];
    enum kind kind;
};

static long access_as(struct cow_case *c, int s, uint64_t addr, const char *w, char *r, uint64_t len)
{
    int sig, code;
    return kernel_user_access(c->k, c->side[s], addr, len, w ? KERNEL_ACCESS_WRITE : KERNEL_ACCESS_READ, w, r, &sig,
                              &code);
}

static pfn_t frame_at(struct cow_case *c, int s, uint64_t addr, int *level)
{
    pte_t e;
    assert_int_equal(pt_lookup(&c->side[s]->mm->pt, addr, &e, level), 0);
    return pte_addr(e, *level, true) >> PAGE_SHIFT;
}

/* Refcount of the folio (head) or frame mapping addr in side s. */
static int32_t refs_at(struct cow_case *c, int s, uint64_t addr)
{
    int level;
    pfn_t pfn = frame_at(c, s, addr, &level), head;
    if (level == PT_LEVEL_PTE && thp_folio_of(c->k->phys, pfn, &head))
        pfn = head;
    return phys_page(c->k->phys, pfn)->refcount;
}

/* Data frames in use: buddy frames not holding page tables, plus pool pages. */
static uint64_t data_frames(struct cow_case *c)
{
    uint64_t n = c->k->phys->managed_frames - c->k->phys->free_frames;
    for (int s = 0; s < 2; s++)
        if (c->side[s])
            n -= c->side[s]->mm->pt.table_frames;
    const struct mm_hstate *h = &mm_machine_of(c->k->phys)->hstate[0];
    return n + (h->nr - h->free) * 512;
}

/* The region, filled with the pattern "P<page>" at three pages. */
static void setup(struct cow_case *c, enum kind kind)
{
    struct kernel_config cfg;
    kernel_config_default(&cfg);
    cfg.ram = 64ULL << 20;
    cfg.mm.hugetlb_pages_2m = 3;
    assert_int_equal(kernel_create(&cfg, &c->k), 0);
    c->kind = kind;
    c->side[0] = kernel_new_process(c->k, 0);
    uint64_t flags = PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS | PGD_MAP_FIXED | (kind == HUGETLB ? PGD_MAP_HUGETLB : 0);
    assert_int_equal(mm_mmap(c->side[0]->mm, BASE, H2M, RW, flags, NULL, 0), (long)BASE);
    if (kind == THP)
        assert_int_equal(mm_madvise(c->side[0]->mm, BASE, H2M, MADV_HUGEPAGE), 0);
    const uint64_t pages[] = {0, 1, 511};
    for (int i = 0; i < 3; i++) {
        char pat[8];
        snprintf(pat, sizeof(pat), "P%03d", (int)pages[i]);
        assert_int_equal(access_as(c, 0, BASE + pages[i] * PG, pat, NULL, 4), 0);
    }
    long pid = kernel_clone(c->k, c->side[0], 0, SIGCHLD_NR, 0);
    assert_true(pid > 0);
    c->side[1] = kernel_find(c->k, (int)pid);
    c->mapped[0] = c->mapped[1] = true;
}

static void unmap_side(struct cow_case *c, int s)
{
    assert_int_equal(mm_munmap(c->side[s]->mm, BASE, H2M), 0);
    c->mapped[s] = false;
}

static void expect_at(struct cow_case *c, int s, uint64_t addr, const char *want)
{
    char buf[8] = {0};
    assert_int_equal(access_as(c, s, addr, NULL, buf, 4), 0);
    if (memcmp(buf, want, 4))
        fail_msg("%s: side %d at %#llx: '%.4s', want '%.4s'", kind_name[c->kind], s, (unsigned long long)addr, buf,
                 want);
}

static void run_case(enum kind kind, enum writer w, enum unmap u)
{
    struct cow_case c = {0};
    setup(&c, kind);
    struct mm_machine *m = mm_machine_of(c.k->phys);
    uint64_t splits0 = m->events[VM_THP_SPLIT_PMD];
    int other = w == CHILD ? 0 : 1; /* the side that unmaps */
    if (u == BEFORE)
        unmap_side(&c, other);
    uint64_t data0 = data_frames(&c);
    const char *const pat[2] = {"PAR!", "CHD!"};
    int writes = 0;
    for (int s = 1; s >= 0; s--) { /* the child first, then the parent */
        if (!(w == BOTH || (w == CHILD) == (s == 1)))
            continue;
        long r = access_as(&c, s, BASE + PG, pat[s], NULL, 4);
        if (!c.mapped[s]) {
            assert_int_equal(r, PGD_SIGSEGV);
            continue;
        }
        assert_int_equal(r, 0);
        writes++;
    }
    /* frames the writes took: a copy per write while the page was shared (the second
     * writer of BOTH reuses for 4K and hugetlb; a THP is still shared by the other
     * side's PTEs then, so it copies too); nothing when the other side had unmapped */
    uint64_t unit = kind == HUGETLB ? 512 : 1;
    uint64_t copies = u == BEFORE ? 0 : (w == BOTH && kind != THP) ? 1 : (uint64_t)writes;
    assert_int_equal(data_frames(&c) - data0, copies * unit);
    uint64_t splits = kind == THP && u != BEFORE ? (uint64_t)writes : 0;
    assert_int_equal(m->events[VM_THP_SPLIT_PMD] - splits0, splits);
    if (u == AFTER)
        unmap_side(&c, other);
    /* contents on every side still mapping */
    for (int s = 0; s < 2; s++) {
        if (!c.mapped[s])
            continue;
        bool wrote = w == BOTH || (w == CHILD) == (s == 1);
        expect_at(&c, s, BASE + PG, wrote ? pat[s] : "P001");
        expect_at(&c, s, BASE, "P000");
        expect_at(&c, s, BASE + 511 * PG, "P511");
    }
    /* references: the unwritten 4 KiB page is shared by every side still mapping it */
    int sides = c.mapped[0] + c.mapped[1];
    for (int s = 0; s < 2; s++) {
        if (!c.mapped[s])
            continue;
        /* a hugetlb write copies (or reuses) the whole huge page: each side has its own */
        int32_t want = kind == SMALL ? sides : kind == HUGETLB ? (writes ? 1 : sides) : -1;
        if (kind == THP) { /* PMD (1) or 511 PTEs per side still sharing the folio */
            int level;
            frame_at(&c, s, BASE, &level);
            int32_t per[2] = {0, 0};
            for (int t = 0; t < 2; t++) {
                if (!c.mapped[t])
                    continue;
                int l;
                frame_at(&c, t, BASE, &l);
                bool wrote = w == BOTH || (w == CHILD) == (t == 1);
                per[t] = l == PT_LEVEL_PMD ? 1 : (u == BEFORE && wrote ? 512 : 511);
            }
            want = per[0] + per[1];
        }
        if (refs_at(&c, s, BASE) != want)
            fail_msg("%s writer %d unmap %d side %d: refcount %d, want %d", kind_name[kind], (int)w, (int)u, s,
                     refs_at(&c, s, BASE), want);
    }
    while (c.k->procs)
        kernel_reap(c.k, c.k->procs);
    assert_int_equal(m->hstate[0].free, m->hstate[0].nr);
    assert_int_equal(m->hstate[0].resv, 0);
    assert_int_equal(m->huge_zero_users, 0);
    test_leak_audit(c.k->phys);
    kernel_destroy(c.k);
}

static void test_cow_matrix(void **state)
{
    (void)state;
    for (int kind = SMALL; kind <= HUGETLB; kind++)
        for (int w = CHILD; w <= BOTH; w++)
            for (int u = NONE; u <= AFTER; u++)
                run_case((enum kind)kind, (enum writer)w, (enum unmap)u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cow_matrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
