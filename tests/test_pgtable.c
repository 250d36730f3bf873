/*
 * tests/test_pgtable.c - page tables and the walker (src/hw/pgtable.c).
 *
 * Every test builds its tables on a fresh machine, checks exact entries, table-frame
 * counts and text, runs pt_check, and ends with pgtable_destroy and a leak audit.
 */
#include "support/support.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pagoda/pgtable.h>

#define KiB4 0x1000ULL
#define MiB2 0x200000ULL
#define GiB1 0x40000000ULL
#define USER_VA 0x7f0000000000ULL
#define KERNEL_VA 0xffff888000000000ULL
#define URW (PTE_P | PTE_RW | PTE_US)
#define PKEY(n) ((pte_t)(n) << PTE_PKEY_SHIFT)

/* ---- helpers -------------------------------------------------------------------- */

static void finish(struct pgtable *pt, struct phys *phys)
{
    pt_check(pt);
    pgtable_destroy(pt, NULL, NULL);
    assert_int_equal(pt->table_frames, 0);
    test_leak_audit(phys);
    phys_destroy(phys);
}

static void init_pt(struct pgtable *pt, struct phys *phys, int levels)
{
    assert_int_equal(pgtable_init(pt, phys, levels), 0);
    assert_int_equal(pt->table_frames, 1);
}

/* The struct page of the table holding va's entry at `level`. */
static struct page *table_of(const struct pgtable *pt, uint64_t va, int level)
{
    pte_t *ep = pt_entry_ptr(pt, va, level);

    assert_non_null(ep);
    return phys_page(pt->phys, (uint64_t)((uint8_t *)ep - pt->phys->ram) >> PAGE_SHIFT);
}

static pte_t root_entry(const struct pgtable *pt, unsigned index)
{
    return ((const pte_t *)phys_host(pt->phys, pt->root))[index];
}

static void expect_leaf(const struct pgtable *pt, uint64_t va, pte_t entry, int level)
{
    pte_t e = 0;
    int l = 0;

    assert_int_equal(pt_lookup(pt, va, &e, &l), 0);
    assert_int_equal(l, level);
    assert_int_equal(e, entry);
}

static void expect_none(const struct pgtable *pt, uint64_t va, int level)
{
    int l = 0;

    assert_int_equal(pt_lookup(pt, va, NULL, &l), -ENOENT);
    assert_int_equal(l, level);
}

/* Text printed by fn into a memory stream; caller frees. */
static char *capture_dump(const struct pgtable *pt, uint64_t start, uint64_t end)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);

    assert_non_null(f);
    pt_dump(pt, start, end, f);
    fclose(f);
    return text;
}

static char *capture_trace(const struct pgtable *pt, uint64_t va)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);

    assert_non_null(f);
    pt_trace_print(pt, va, f);
    fclose(f);
    return text;
}

static void expect_trace(const struct pgtable *pt, uint64_t va, const char *want)
{
    char *text = capture_trace(pt, va);

    assert_string_equal(text, want);
    free(text);
}

static void expect_dump(const struct pgtable *pt, uint64_t start, uint64_t end, const char *want)
{
    char *text = capture_dump(pt, start, end);

    assert_string_equal(text, want);
    free(text);
}

/* Map two leaves of `level` at va, look them up, unmap; table frame counts exact. */
static void map_lookup_unmap(int levels, uint64_t ram, uint64_t va, paddr_t pa, int level,
                             uint64_t frames)
{
    struct phys *phys = test_phys(ram, true); /* poisoned: catches writes after free */
    struct pgtable pt;
    uint64_t size = pt_level_size(level);
    pte_t ps = level > 1 ? PTE_PS : 0;

    init_pt(&pt, phys, levels);
    assert_int_equal(pt_map(&pt, va, pa, 2 * size, level, URW | PTE_NX), 0);
    assert_int_equal(pt.table_frames, frames);
    expect_leaf(&pt, va, pa | URW | PTE_NX | ps, level);
    expect_leaf(&pt, va + size - 1, pa | URW | PTE_NX | ps, level);
    expect_leaf(&pt, va + size, (pa + size) | URW | PTE_NX | ps, level);
    expect_none(&pt, va + 2 * size, level);
    assert_int_equal(table_of(&pt, va, level)->private, 2);
    pt_check(&pt);
    assert_int_equal(pt_unmap(&pt, va, 2 * size, NULL, NULL), 0);
    assert_int_equal(pt.table_frames, 1);
    expect_none(&pt, va, levels);
    finish(&pt, phys);
}

/* ---- map / lookup / unmap for every size and depth --------------------------------- */

static void test_map_4k_4level(void **state)
{
    map_lookup_unmap(4, 0, USER_VA, 0x123000, 1, 4);
}

static void test_map_2m_4level(void **state)
{
    map_lookup_unmap(4, 0, USER_VA, 0x400000, 2, 3);
}

static void test_map_1g_4level(void **state)
{
    map_lookup_unmap(4, 2 * GiB1, USER_VA, 0, 3, 2);
}

static void test_map_4k_5level(void **state)
{
    map_lookup_unmap(5, 0, USER_VA, 0x123000, 1, 5);
}

static void test_map_2m_5level(void **state)
{
    map_lookup_unmap(5, 0, 0x00ff000000000000ULL, 0x400000, 2, 4);
}

static void test_map_1g_5level(void **state)
{
    map_lookup_unmap(5, 2 * GiB1, USER_VA, 0, 3, 3);
}

static void test_one_page_frames(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, USER_VA, 0x5000, KiB4, 1, URW), 0);
    assert_int_equal(pt.table_frames, 4);
    assert_int_not_equal(root_entry(&pt, 254), 0);
    assert_int_equal(root_entry(&pt, 254) & ~PTE_ADDR_MASK, URW);
    assert_int_equal(phys_page(phys, pt.root >> PAGE_SHIFT)->private, 1);
    assert_true(phys_page(phys, pt.root >> PAGE_SHIFT)->flags & PG_PGTABLE);
    expect_none(&pt, 0x1000, 4);
    pt_check(&pt);
    assert_int_equal(pt_unmap(&pt, USER_VA, KiB4, NULL, NULL), 0);
    assert_int_equal(pt.table_frames, 1);
    assert_int_equal(root_entry(&pt, 254), 0);
    assert_int_equal(phys_page(phys, pt.root >> PAGE_SHIFT)->private, 0);
    finish(&pt, phys);
}

static void test_kernel_half(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;
    struct pt_trace tr;

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, KERNEL_VA, 0x123000, KiB4, 1, PTE_P | PTE_RW | PTE_G), 0);
    assert_int_equal(pt.table_frames, 4);
    assert_ptr_equal(pt_entry_ptr(&pt, KERNEL_VA, 4), (pte_t *)phys_host(phys, pt.root) + 273);
    assert_int_not_equal(root_entry(&pt, 273), 0);
    expect_leaf(&pt, KERNEL_VA + 0x10, 0x123000 | PTE_P | PTE_RW | PTE_G, 1);
    expect_none(&pt, 0x0000088000000000ULL, 4); /* same low bits, lower half */
    pt_trace(&pt, KERNEL_VA, &tr);
    assert_int_equal(tr.nsteps, 4);
    assert_int_equal(tr.step[0].index, 273);
    assert_int_equal(tr.result, 0);
    expect_dump(&pt, 0xffff800000000000ULL, 0,
                "0xffff888000000000-0xffff888000001000   4K pa 0x0000000123000 P RW G\n");
    assert_int_equal(pt_unmap(&pt, KERNEL_VA, KiB4, NULL, NULL), 0);
    assert_int_equal(pt.table_frames, 1);
    finish(&pt, phys);
}

static void test_kernel_half_5level(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;
    const uint64_t va = 0xff11000000000000ULL;

    init_pt(&pt, phys, 5);
    assert_int_equal(pt_map(&pt, va, 0x200000, MiB2, 2, PTE_P | PTE_RW), 0);
    assert_int_equal(pt.table_frames, 4);
    assert_ptr_equal(pt_entry_ptr(&pt, va, 5), (pte_t *)phys_host(phys, pt.root) + 273);
    expect_leaf(&pt, va + 0x1234, 0x200000 | PTE_P | PTE_RW | PTE_PS, 2);
    expect_none(&pt, 0xffff888000000000ULL, 5);
    finish(&pt, phys);
}

/* ---- pt_map errors ---------------------------------------------------------------- */

static void test_map_einval(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, 0x1800, 0x1000, KiB4, 1, URW), -EINVAL);
    assert_int_equal(pt_map(&pt, 0x1000, 0x1800, KiB4, 1, URW), -EINVAL);
    assert_int_equal(pt_map(&pt, 0x1000, 0x1000, 0, 1, URW), -EINVAL);
    assert_int_equal(pt_map(&pt, 0x1000, 0x1000, 0x1800, 1, URW), -EINVAL);
    assert_int_equal(pt_map(&pt, 0x1000, 0x1000, KiB4, 0, URW), -EINVAL);
    assert_int_equal(pt_map(&pt, 0x1000, 0x1000, KiB4, 4, URW), -EINVAL);
    assert_int_equal(pt_map(&pt, 0x201000, 0x200000, MiB2, 2, URW), -EINVAL);
    assert_int_equal(pt_map(&pt, 0x200000, 0x201000, MiB2, 2, URW), -EINVAL);
    assert_int_equal(pt_map(&pt, 0x200000, 0x200000, KiB4, 2, URW), -EINVAL);
    assert_int_equal(pt_map(&pt, 0x0000900000000000ULL, 0, KiB4, 1, URW), -EINVAL);
    assert_int_equal(pt_map(&pt, 0x7ffffffff000ULL, 0, 2 * KiB4, 1, URW), -EINVAL);
    assert_int_equal(pt_map(&pt, 0xfffffffffffff000ULL, 0, 2 * KiB4, 1, URW), -EINVAL);
    assert_int_equal(pt_map(&pt, 0x1000, 0x1000, KiB4, 1, 0), -EINVAL);
    assert_int_equal(pt_map(&pt, 0x1000, 0x1000, KiB4, 1, URW | 0x5000), -EINVAL);
    assert_int_equal(pt_map(&pt, 0x1000, 0xfffffffffffff000ULL, KiB4, 1, URW), -EINVAL);
    assert_int_equal(pt.table_frames, 1);
    /* The last page of the space is fine, and so is PAT in a huge leaf. */
    assert_int_equal(pt_map(&pt, 0xfffffffffffff000ULL, 0x1000, KiB4, 1, URW), 0);
    assert_int_equal(pt_map(&pt, 0x200000, 0x200000, MiB2, 2, URW | PTE_PATLG), 0);
    expect_leaf(&pt, 0x200000, 0x200000 | URW | PTE_PS | PTE_PATLG, 2);
    finish(&pt, phys);
}

static void test_map_eexist(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, 0x200000, 0x1000, KiB4, 1, URW), 0);
    assert_int_equal(pt.table_frames, 4);
    assert_int_equal(pt_map(&pt, 0x1ff000, 0x1000, 2 * KiB4, 1, URW), -EEXIST);
    expect_none(&pt, 0x1ff000, 2);
    assert_int_equal(pt_map(&pt, 0x200000, 0x200000, MiB2, 2, URW), -EEXIST);
    assert_int_equal(pt_map(&pt, 0, 0, GiB1, 3, URW), -EEXIST);
    assert_int_equal(pt_map(&pt, 0x400000, 0x400000, MiB2, 2, URW), 0);
    assert_int_equal(pt_map(&pt, 0x401000, 0x1000, KiB4, 1, URW), -EEXIST);
    assert_int_equal(pt_map(&pt, 0x3ff000, 0x1000, 2 * KiB4, 1, URW), -EEXIST);
    expect_none(&pt, 0x3ff000, 1);
    assert_int_equal(pt_map(&pt, 0x400000, 0x400000, MiB2, 2, URW), -EEXIST);
    assert_int_equal(pt.table_frames, 4);
    expect_leaf(&pt, 0x200000, 0x1000 | URW, 1);
    expect_leaf(&pt, 0x400000, 0x400000 | URW | PTE_PS, 2);
    finish(&pt, phys);
}

static void test_map_enomem_changes_nothing(void **state)
{
    struct phys *phys = test_phys(PHYS_MIN_RAM, false);
    struct pgtable pt;
    const struct pt_walk_ops none = {0};
    pfn_t held[1024];
    unsigned nheld = 0;

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, MiB2, MiB2, MiB2, 2, URW), 0);
    assert_int_equal(pt.table_frames, 3);
    while (phys->free_frames > 2)
        assert_int_equal(phys_alloc(phys, 0, 0, &held[nheld++]), 0);
    /* A lone page needs PDPT + PD + PT: 3 tables, 2 available. */
    assert_int_equal(pt_map(&pt, USER_VA, 0x1000, KiB4, 1, URW), -ENOMEM);
    assert_int_equal(phys->free_frames, 2);
    assert_int_equal(pt.table_frames, 3);
    assert_int_equal(root_entry(&pt, 254), 0);
    /* The walker itself frees the tables it allocated when it fails. */
    assert_int_equal(pt_walk_range(&pt, USER_VA, USER_VA + KiB4, 1, PT_WALK_ALLOC, &none, NULL), -ENOMEM);
    assert_int_equal(phys->free_frames, 2);
    assert_int_equal(pt.table_frames, 3);
    assert_int_equal(root_entry(&pt, 254), 0);
    pt_check(&pt);
    phys_free(phys, held[--nheld], 0);
    assert_int_equal(pt_map(&pt, USER_VA, 0x1000, KiB4, 1, URW), 0);
    assert_int_equal(pt.table_frames, 6);
    assert_int_equal(phys->free_frames, 0);
    /* Spans an existing PT (first page) and a missing one: fails before the first. */
    assert_int_equal(pt_map(&pt, USER_VA + MiB2 - KiB4, 0x2000, 2 * KiB4, 1, URW), -ENOMEM);
    expect_none(&pt, USER_VA + MiB2 - KiB4, 1);
    expect_none(&pt, USER_VA + MiB2, 2);
    assert_int_equal(table_of(&pt, USER_VA, 1)->private, 1);
    assert_int_equal(pt.table_frames, 6);
    /* Within the existing PT no table is needed. */
    assert_int_equal(pt_map(&pt, USER_VA + MiB2 - KiB4, 0x2000, KiB4, 1, URW), 0);
    /* Unmapping part of a 2M leaf needs a PT for the split. */
    assert_int_equal(pt_unmap(&pt, MiB2 + KiB4, KiB4, NULL, NULL), -ENOMEM);
    expect_leaf(&pt, MiB2 + KiB4, MiB2 | URW | PTE_PS, 2);
    assert_int_equal(pt_protect(&pt, MiB2, KiB4, 0, PTE_RW), -ENOMEM);
    assert_int_equal(pt_split(&pt, MiB2, 2), -ENOMEM);
    expect_leaf(&pt, MiB2, MiB2 | URW | PTE_PS, 2);
    assert_int_equal(pt.table_frames, 6);
    pt_check(&pt);
    while (nheld > 0)
        phys_free(phys, held[--nheld], 0);
    finish(&pt, phys);
}

/* ---- splitting ------------------------------------------------------------------- */

static int count_release(void *arg, uint64_t va, int level, pte_t *entry)
{
    (*(int *)arg)++;
    return 0;
}

static void test_unmap_splits_2m(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;
    const uint64_t va = USER_VA + MiB2;
    const pte_t bits = URW | PTE_A | PTE_D | PTE_G | PTE_SW1 | PKEY(3) | PTE_NX;
    int released = 0;

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, va, 0x600000, MiB2, 2, bits | PTE_PATLG), 0);
    assert_int_equal(pt.table_frames, 3);
    assert_int_equal(pt_unmap(&pt, va + 100 * KiB4, KiB4, count_release, &released), 0);
    assert_int_equal(released, 1);
    assert_int_equal(pt.table_frames, 4);
    for (unsigned i = 0; i < 512; i++) {
        if (i == 100)
            expect_none(&pt, va + i * KiB4, 1);
        else
            expect_leaf(&pt, va + i * KiB4, (0x600000 + i * KiB4) | bits | PTE_PAT4K, 1);
    }
    assert_int_equal(table_of(&pt, va, 1)->private, 511);
    assert_int_equal(table_of(&pt, va, 2)->private, 1);
    pt_check(&pt);
    assert_int_equal(pt_unmap(&pt, va, MiB2, count_release, &released), 0);
    assert_int_equal(released, 512);
    assert_int_equal(pt.table_frames, 1);
    finish(&pt, phys);
}

static void test_protect_splits_1g(void **state)
{
    struct phys *phys = test_phys(GiB1, false);
    struct pgtable pt;
    const uint64_t va = GiB1;
    const pte_t ro = PTE_P | PTE_US;

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, va, 0, GiB1, 3, URW), 0);
    assert_int_equal(pt.table_frames, 2);
    assert_int_equal(pt_protect(&pt, va + 0x402000, 0x3fe000, 0, PTE_RW), 0);
    assert_int_equal(pt.table_frames, 4);
    expect_leaf(&pt, va, URW | PTE_PS, 2);
    expect_leaf(&pt, va + 0x400000, 0x400000 | URW, 1);
    expect_leaf(&pt, va + 0x401000, 0x401000 | URW, 1);
    expect_leaf(&pt, va + 0x402000, 0x402000 | ro, 1);
    expect_leaf(&pt, va + 0x5ff000, 0x5ff000 | ro, 1);
    expect_leaf(&pt, va + 0x600000, 0x600000 | ro | PTE_PS, 2);
    expect_leaf(&pt, va + 0x800000, 0x800000 | URW | PTE_PS, 2);
    expect_leaf(&pt, va + GiB1 - MiB2, (GiB1 - MiB2) | URW | PTE_PS, 2);
    assert_int_equal(table_of(&pt, va, 2)->private, 512);
    expect_dump(&pt, va, va + 0xa00000,
                "0x0000000040000000-0x0000000040400000   2M pa 0x0000000000000 P RW US PS\n"
                "0x0000000040400000-0x0000000040402000   4K pa 0x0000000400000 P RW US\n"
                "0x0000000040402000-0x0000000040600000   4K pa 0x0000000402000 P US\n"
                "0x0000000040600000-0x0000000040800000   2M pa 0x0000000600000 P US PS\n"
                "0x0000000040800000-0x0000000040a00000   2M pa 0x0000000800000 P RW US PS\n");
    pt_check(&pt);
    assert_int_equal(pt_unmap(&pt, va, GiB1, NULL, NULL), 0);
    assert_int_equal(pt.table_frames, 1);
    finish(&pt, phys);
}

static void test_protect_protnone(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;
    const uint64_t va = 0x400000;

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, va, 0x10000, 4 * KiB4, 1, URW | PTE_A), 0);
    assert_int_equal(pt_protect(&pt, va, 2 * KiB4, PTE_PROTNONE, PTE_P), 0);
    expect_leaf(&pt, va, 0x10000 | PTE_RW | PTE_US | PTE_A | PTE_PROTNONE, 1);
    /* Without P in set/clear, P-clear entries are left alone. */
    assert_int_equal(pt_protect(&pt, va, 4 * KiB4, 0, PTE_RW), 0);
    expect_leaf(&pt, va + KiB4, 0x11000 | PTE_RW | PTE_US | PTE_A | PTE_PROTNONE, 1);
    expect_leaf(&pt, va + 2 * KiB4, 0x12000 | PTE_P | PTE_US | PTE_A, 1);
    assert_int_equal(pt_protect(&pt, va, 2 * KiB4, PTE_P, PTE_PROTNONE | PTE_RW), 0);
    expect_leaf(&pt, va, 0x10000 | PTE_P | PTE_US | PTE_A, 1);
    assert_int_equal(pt_protect(&pt, va, 0, PTE_P, 0), 0);
    assert_int_equal(pt_protect(&pt, va + 1, KiB4, PTE_P, 0), -EINVAL);
    assert_int_equal(table_of(&pt, va, 1)->private, 4);
    finish(&pt, phys);
}

/* Huge leaves with P clear are leaves: PROT_NONE ones split; swap ones go whole. */
static void test_nonpresent_huge_leaves(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;
    const uint64_t va = 0x400000;
    pte_t *pde;
    int released = 0;

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, va, 0x800000, MiB2, 2, URW), 0);
    assert_int_equal(pt_protect(&pt, va, MiB2, PTE_PROTNONE, PTE_P), 0);
    expect_leaf(&pt, va + KiB4, 0x800000 | PTE_RW | PTE_US | PTE_PS | PTE_PROTNONE, 2);
    assert_int_equal(pt_unmap(&pt, va + KiB4, KiB4, NULL, NULL), 0);
    expect_leaf(&pt, va + 2 * KiB4, 0x802000 | PTE_RW | PTE_US | PTE_PROTNONE, 1);
    expect_none(&pt, va + KiB4, 1);
    assert_int_equal(pt.table_frames, 4);
    pt_check(&pt);
    /* A huge swap entry: no PS, cannot be split, so unmapping part clears it whole. */
    assert_int_equal(pt_map(&pt, va + MiB2, 0xa00000, MiB2, 2, URW), 0);
    pde = pt_entry_ptr(&pt, va + MiB2, 2);
    assert_non_null(pde);
    *pde = 0xabc000;
    expect_leaf(&pt, va + MiB2 + KiB4, 0xabc000, 2);
    assert_null(pt_entry_ptr(&pt, va + MiB2, 1));
    assert_int_equal(pt_unmap(&pt, va + MiB2 + KiB4, KiB4, count_release, &released), 0);
    assert_int_equal(released, 1);
    expect_none(&pt, va + MiB2, 2);
    assert_int_equal(pt.table_frames, 4);
    finish(&pt, phys);
}

static void test_split(void **state)
{
    struct phys *phys = test_phys(GiB1, false);
    struct pgtable pt;
    const uint64_t va = GiB1;
    const pte_t bits = URW | PTE_G;

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, va, 0, GiB1, 3, bits | PTE_PATLG), 0);
    assert_int_equal(pt_split(&pt, va + 0x500000, 3), 0);
    assert_int_equal(pt.table_frames, 3);
    expect_leaf(&pt, va + 0x500000, 0x400000 | bits | PTE_PS | PTE_PATLG, 2);
    expect_leaf(&pt, va + GiB1 - 1, (GiB1 - MiB2) | bits | PTE_PS | PTE_PATLG, 2);
    assert_int_equal(pt_split(&pt, va + 0x500000, 2), 0);
    assert_int_equal(pt.table_frames, 4);
    expect_leaf(&pt, va + 0x500000, 0x500000 | bits | PTE_PAT4K, 1);
    expect_leaf(&pt, va + 0x400000, 0x400000 | bits | PTE_PAT4K, 1);
    assert_int_equal(table_of(&pt, va + 0x400000, 1)->private, 512);
    assert_int_equal(table_of(&pt, va, 2)->private, 512);
    assert_int_equal(pt_split(&pt, va + 0x500000, 2), -EINVAL);
    assert_int_equal(pt_split(&pt, va + 0x500000, 3), -EINVAL);
    assert_int_equal(pt_split(&pt, va, 1), -EINVAL);
    assert_int_equal(pt_split(&pt, USER_VA, 2), -EINVAL);
    pt_check(&pt);
    finish(&pt, phys);
}

/* ---- pt_copy --------------------------------------------------------------------- */

struct cow {
    int calls;
};

/* Write-protect the source (present entries) and give the destination the same. */
static pte_t cow_xform(void *arg, uint64_t va, int level, pte_t *src_entry)
{
    ((struct cow *)arg)->calls++;
    if (*src_entry & PTE_P)
        *src_entry &= ~PTE_RW;
    return *src_entry;
}

static void test_copy(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable src, dst;
    struct cow cow = {0};
    pte_t *ep;
    char *a, *b;

    init_pt(&src, phys, 4);
    init_pt(&dst, phys, 4);
    assert_int_equal(pt_map(&src, 0x400000, 0x100000, 5 * KiB4, 1, URW), 0);
    ep = pt_entry_ptr(&src, 0x404000, 1);
    *ep = 0xabc000; /* a swap entry: copied, not write-protected */
    assert_int_equal(pt_map(&src, 0x600000, 0x800000, MiB2, 2, URW | PTE_A), 0);
    assert_int_equal(pt_map(&src, 0xa00000, 0x300000, KiB4, 1, URW), 0); /* outside */
    assert_int_equal(pt_copy(&dst, &src, 0x400000, 0x600000, cow_xform, &cow), 0);
    assert_int_equal(cow.calls, 6);
    assert_int_equal(dst.table_frames, 4);
    assert_int_equal(src.table_frames, 5);
    expect_leaf(&src, 0x400000, 0x100000 | PTE_P | PTE_US, 1);
    expect_leaf(&dst, 0x403000, 0x103000 | PTE_P | PTE_US, 1);
    expect_leaf(&dst, 0x404000, 0xabc000, 1);
    expect_leaf(&src, 0x600000, 0x800000 | PTE_P | PTE_US | PTE_A | PTE_PS, 2);
    expect_leaf(&dst, 0x7ff000, 0x800000 | PTE_P | PTE_US | PTE_A | PTE_PS, 2);
    expect_leaf(&src, 0xa00000, 0x300000 | URW, 1);
    expect_none(&dst, 0xa00000, 2);
    assert_int_equal(table_of(&dst, 0x400000, 1)->private, 5);
    assert_int_equal(table_of(&dst, 0x400000, 2)->private, 2);
    a = capture_dump(&src, 0x400000, 0xa00000);
    b = capture_dump(&dst, 0, 0);
    assert_string_equal(a, b);
    free(a);
    free(b);
    pt_check(&src);
    pt_check(&dst);
    assert_int_equal(pt_copy(&dst, &src, 0x400000, KiB4, NULL, NULL), -EEXIST);
    assert_int_equal(pt_copy(&dst, &src, 0x400000, 0x800, NULL, NULL), -EINVAL);
    /* Without xform entries are copied as they are. */
    assert_int_equal(pt_copy(&dst, &src, 0xa00000, KiB4, NULL, NULL), 0);
    expect_leaf(&dst, 0xa00000, 0x300000 | URW, 1);
    pt_check(&dst);
    pgtable_destroy(&dst, NULL, NULL);
    finish(&src, phys);
}

/* ---- trace and text ----------------------------------------------------------------- */

static void set_entry(struct phys *phys, paddr_t table, unsigned index, pte_t e)
{
    ((pte_t *)phys_host(phys, table))[index] = e;
}

/*
 * A hand-built 4-level table in reserved frames 0..15 (so addresses are fixed):
 * root 0x1000, PDPT 0x3000, PD 0x5000, PT 0x7000.  It owns no allocated frames, so it
 * is not destroyed; the leak audit covers the managed frames.
 */
static void test_trace_print(void **state)
{
    struct phys *phys = test_phys(16ULL << 20, false);
    struct pgtable pt = {.phys = phys, .root = 0x1000, .levels = 4, .table_frames = 4};
    struct pt_trace tr;

    assert_int_equal(phys_reserve(phys, 0, 16), 0);
    set_entry(phys, 0x1000, 254, 0x3067);
    set_entry(phys, 0x3000, 0, 0x5067);
    set_entry(phys, 0x3000, 1, 0x400010e7);
    set_entry(phys, 0x5000, 0, 0x7067);
    set_entry(phys, 0x5000, 1, 0x80000000004000e7ULL);
    set_entry(phys, 0x7000, 1, 0x8000000000123067ULL);
    set_entry(phys, 0x7000, 5, 0x12345000);
    set_entry(phys, 0x7000, 6, 0x456120);

    expect_trace(&pt, 0x7f0000001234ULL,
                 "walk 0x7f0000001234 (4-level)\n"
                 "  PML4E[254] @0x00000000000017f0 = 0x0000000000003067 P RW US A D\n"
                 "  PDPTE[0]   @0x0000000000003000 = 0x0000000000005067 P RW US A D\n"
                 "  PDE[0]     @0x0000000000005000 = 0x0000000000007067 P RW US A D\n"
                 "  PTE[1]     @0x0000000000007008 = 0x8000000000123067 P RW US A D NX\n"
                 "  -> pa 0x0000000000123234 (4K page)\n");
    expect_trace(&pt, 0x7f0000201234ULL,
                 "walk 0x7f0000201234 (4-level)\n"
                 "  PML4E[254] @0x00000000000017f0 = 0x0000000000003067 P RW US A D\n"
                 "  PDPTE[0]   @0x0000000000003000 = 0x0000000000005067 P RW US A D\n"
                 "  PDE[1]     @0x0000000000005008 = 0x80000000004000e7 P RW US A D PS NX\n"
                 "  -> pa 0x0000000000401234 (2M page)\n");
    expect_trace(&pt, 0x7f0040001234ULL,
                 "walk 0x7f0040001234 (4-level)\n"
                 "  PML4E[254] @0x00000000000017f0 = 0x0000000000003067 P RW US A D\n"
                 "  PDPTE[1]   @0x0000000000003008 = 0x00000000400010e7 P RW US A D PS PAT\n"
                 "  -> pa 0x0000000040001234 (1G page)\n");
    expect_trace(&pt, 0x7f0000600000ULL,
                 "walk 0x7f0000600000 (4-level)\n"
                 "  PML4E[254] @0x00000000000017f0 = 0x0000000000003067 P RW US A D\n"
                 "  PDPTE[0]   @0x0000000000003000 = 0x0000000000005067 P RW US A D\n"
                 "  PDE[3]     @0x0000000000005018 = 0x0000000000000000\n"
                 "  -> not mapped: PDE[3] is empty\n");
    expect_trace(&pt, 0x1000,
                 "walk 0x1000 (4-level)\n"
                 "  PML4E[0]   @0x0000000000001000 = 0x0000000000000000\n"
                 "  -> not mapped: PML4E[0] is empty\n");
    expect_trace(&pt, 0x7f0000005000ULL,
                 "walk 0x7f0000005000 (4-level)\n"
                 "  PML4E[254] @0x00000000000017f0 = 0x0000000000003067 P RW US A D\n"
                 "  PDPTE[0]   @0x0000000000003000 = 0x0000000000005067 P RW US A D\n"
                 "  PDE[0]     @0x0000000000005000 = 0x0000000000007067 P RW US A D\n"
                 "  PTE[5]     @0x0000000000007028 = 0x0000000012345000\n"
                 "  -> not present: PTE[5] = 0x0000000012345000 (swap or PROT_NONE entry)\n");
    expect_trace(&pt, 0x7f0000006000ULL,
                 "walk 0x7f0000006000 (4-level)\n"
                 "  PML4E[254] @0x00000000000017f0 = 0x0000000000003067 P RW US A D\n"
                 "  PDPTE[0]   @0x0000000000003000 = 0x0000000000005067 P RW US A D\n"
                 "  PDE[0]     @0x0000000000005000 = 0x0000000000007067 P RW US A D\n"
                 "  PTE[6]     @0x0000000000007030 = 0x0000000000456120 A PROTNONE\n"
                 "  -> not present: PTE[6] = 0x0000000000456120 (swap or PROT_NONE entry)\n");
    expect_trace(&pt, 0x0000800000000000ULL,
                 "walk 0x800000000000 (4-level)\n"
                 "  -> non-canonical address\n");
    pt_trace(&pt, 0x7f0000201234ULL, &tr);
    assert_int_equal(tr.nsteps, 3);
    assert_int_equal(tr.result, 0);
    assert_int_equal(tr.step[2].level, 2);
    assert_int_equal(tr.step[2].index, 1);
    assert_int_equal(tr.step[2].table, 0x5000);
    assert_int_equal(tr.step[2].entry, 0x80000000004000e7ULL);
    pt_trace(&pt, 0x7f0000005000ULL, &tr);
    assert_int_equal(tr.nsteps, 4);
    assert_int_equal(tr.result, -ENOENT);
    test_leak_audit(phys);
    phys_destroy(phys);
}

static void test_trace_5level(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;
    char *text;

    init_pt(&pt, phys, 5);
    assert_int_equal(pt_map(&pt, 0xff11000000000000ULL, 0x123000, KiB4, 1, PTE_P | PTE_RW), 0);
    text = capture_trace(&pt, 0xff11000000000abcULL);
    assert_non_null(strstr(text, "walk 0xff11000000000abc (5-level)\n  PML5E[273] @0x"));
    assert_non_null(strstr(text, "\n  PML4E[0]   @0x"));
    assert_non_null(strstr(text, "\n  PTE[0]     @0x"));
    assert_non_null(strstr(text, " = 0x0000000000123003 P RW\n  -> pa 0x0000000000123abc (4K page)\n"));
    free(text);
    finish(&pt, phys);
}

static void expect_flags(pte_t e, int level, const char *want)
{
    char buf[128];

    assert_string_equal(pte_flags_str(e, level, buf, sizeof(buf)), want);
}

static void test_pte_flags_str(void **state)
{
    char small[4];

    expect_flags(URW | PTE_A | PTE_D | PTE_NX, 1, "P RW US A D NX");
    expect_flags(PTE_P | PTE_PWT | PTE_PCD | PTE_PAT4K | PTE_G | PTE_SW1 | PTE_SW2 | PTE_SW3 | PKEY(5), 1,
                 "P PWT PCD PAT G SW1 SW2 SW3 PK=5");
    expect_flags(PTE_P | PTE_PS | PTE_PATLG | PKEY(15), 2, "P PS PAT PK=15");
    expect_flags(PTE_P | PTE_PS | PTE_PATLG | 0x40000000, 3, "P PS PAT");
    expect_flags(PTE_P | PTE_RW | 0x1000, 2, "P RW"); /* table entry: bit 12 is address */
    expect_flags(PTE_P | 0x1000, 1, "P");
    expect_flags(PTE_A | PTE_PROTNONE, 1, "A PROTNONE");
    expect_flags(PTE_P | PTE_PS, 4, "P PS");
    expect_flags(0, 1, "");
    pte_flags_str(URW, 1, small, sizeof(small));
    assert_string_equal(small, "P R");
}

static void test_dump(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, 0x400000, 0x200000, 3 * KiB4, 1, PTE_P | PTE_US), 0);
    assert_int_equal(pt_map(&pt, 0x403000, 0x203000, KiB4, 1, URW), 0);
    assert_int_equal(pt_map(&pt, 0x404000, 0x300000, 2 * KiB4, 1, URW), 0);
    assert_int_equal(pt_map(&pt, 0x406000, 0x302000, KiB4, 1, URW), 0);
    *pt_entry_ptr(&pt, 0x406000, 1) = 0xabc000;
    assert_int_equal(pt_map(&pt, 0x600000, 0x800000, 2 * MiB2, 2, URW | PTE_NX), 0);
    assert_int_equal(pt_map(&pt, KERNEL_VA, 0x1000, KiB4, 1, PTE_P | PTE_RW | PTE_G), 0);
    expect_dump(&pt, 0, 0,
                "0x0000000000400000-0x0000000000403000   4K pa 0x0000000200000 P US\n"
                "0x0000000000403000-0x0000000000404000   4K pa 0x0000000203000 P RW US\n"
                "0x0000000000404000-0x0000000000406000   4K pa 0x0000000300000 P RW US\n"
                "0x0000000000406000-0x0000000000407000   4K swap 0x0000000000abc000\n"
                "0x0000000000600000-0x0000000000a00000   2M pa 0x0000000800000 P RW US PS NX\n"
                "0xffff888000000000-0xffff888000001000   4K pa 0x0000000001000 P RW G\n");
    expect_dump(&pt, 0x401000, 0x404000,
                "0x0000000000401000-0x0000000000403000   4K pa 0x0000000201000 P US\n"
                "0x0000000000403000-0x0000000000404000   4K pa 0x0000000203000 P RW US\n");
    expect_dump(&pt, 0x7f0000000000ULL, 0x800000000000ULL, "");
    finish(&pt, phys);
}

/* ---- the walker itself ------------------------------------------------------------ */

static int clear_entry(void *arg, uint64_t va, int level, pte_t *entry)
{
    *entry = 0;
    return 0;
}

static void test_free_empty(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;
    const struct pt_walk_ops clear = {.leaf = clear_entry};

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, 0x200000, 0x1000, KiB4, 1, URW), 0);
    assert_int_equal(pt_map(&pt, 0x400000, 0x2000, KiB4, 1, URW), 0);
    assert_int_equal(pt.table_frames, 5);
    assert_int_equal(pt_walk_range(&pt, 0x200000, 0x201000, 1, 0, &clear, NULL), 0);
    assert_int_equal(pt.table_frames, 5);
    assert_int_equal(table_of(&pt, 0x200000, 1)->private, 0);
    pt_check(&pt);
    /* The PT's span is not inside the range: kept. */
    assert_int_equal(pt_walk_range(&pt, 0x200000, 0x201000, 1, PT_WALK_FREE_EMPTY, NULL, NULL), 0);
    assert_int_equal(pt.table_frames, 5);
    assert_int_equal(pt_walk_range(&pt, 0x200000, 0x400000, 1, PT_WALK_FREE_EMPTY, NULL, NULL), 0);
    assert_int_equal(pt.table_frames, 4);
    assert_null(pt_entry_ptr(&pt, 0x200000, 1));
    assert_int_equal(table_of(&pt, 0x200000, 2)->private, 1);
    pt_check(&pt);
    /* Non-empty tables and the root are never freed. */
    assert_int_equal(pt_walk_range(&pt, 0, 0, 1, PT_WALK_FREE_EMPTY, NULL, NULL), 0);
    assert_int_equal(pt.table_frames, 4);
    assert_int_equal(pt_walk_range(&pt, 0x400000, 0x401000, 1, 0, &clear, NULL), 0);
    assert_int_equal(pt_walk_range(&pt, 0, 0, 1, PT_WALK_FREE_EMPTY, NULL, NULL), 0);
    assert_int_equal(pt.table_frames, 1);
    assert_int_equal(phys_page(phys, pt.root >> PAGE_SHIFT)->private, 0);
    finish(&pt, phys);
}

struct holes {
    int n, leaves, stop_at;
    struct {
        uint64_t va, end;
        int level;
    } h[16];
};

static int record_hole(void *arg, uint64_t va, uint64_t end, int level)
{
    struct holes *hs = arg;

    assert_true(hs->n < 16);
    hs->h[hs->n].va = va;
    hs->h[hs->n].end = end;
    hs->h[hs->n].level = level;
    hs->n++;
    return hs->n == hs->stop_at ? -EINTR : 0;
}

static int count_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    ((struct holes *)arg)->leaves++;
    return 0;
}

static void expect_hole(const struct holes *hs, int i, uint64_t va, uint64_t end, int level)
{
    assert_true(i < hs->n);
    assert_int_equal(hs->h[i].va, va);
    assert_int_equal(hs->h[i].end, end);
    assert_int_equal(hs->h[i].level, level);
}

static void test_holes(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;
    const struct pt_walk_ops ops = {.leaf = count_leaf, .hole = record_hole};
    struct holes hs = {0};

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_walk_range(&pt, 0, 0, 1, 0, &ops, &hs), 0);
    assert_int_equal(hs.n, 2);
    expect_hole(&hs, 0, 0, 0x800000000000ULL, 4);
    expect_hole(&hs, 1, 0xffff800000000000ULL, 0, 4);

    assert_int_equal(pt_map(&pt, USER_VA + KiB4, 0x1000, KiB4, 1, URW), 0);
    hs = (struct holes){0};
    assert_int_equal(pt_walk_range(&pt, USER_VA, USER_VA + 2 * MiB2, 1, 0, &ops, &hs), 0);
    assert_int_equal(hs.leaves, 1);
    assert_int_equal(hs.n, 3);
    expect_hole(&hs, 0, USER_VA, USER_VA + KiB4, 1);
    expect_hole(&hs, 1, USER_VA + 2 * KiB4, USER_VA + MiB2, 1);
    expect_hole(&hs, 2, USER_VA + MiB2, USER_VA + 2 * MiB2, 2);

    hs = (struct holes){0};
    assert_int_equal(pt_walk_range(&pt, 0, 0, 1, 0, &ops, &hs), 0);
    assert_int_equal(hs.n, 7);
    expect_hole(&hs, 0, 0, USER_VA, 4);
    expect_hole(&hs, 1, USER_VA, USER_VA + KiB4, 1);
    expect_hole(&hs, 2, USER_VA + 2 * KiB4, USER_VA + MiB2, 1);
    expect_hole(&hs, 3, USER_VA + MiB2, USER_VA + GiB1, 2);
    expect_hole(&hs, 4, USER_VA + GiB1, 0x7f8000000000ULL, 3);
    expect_hole(&hs, 5, 0x7f8000000000ULL, 0x800000000000ULL, 4);
    expect_hole(&hs, 6, 0xffff800000000000ULL, 0, 4);

    /* Unaligned bounds: holes are clipped to the range. */
    hs = (struct holes){0};
    assert_int_equal(pt_walk_range(&pt, USER_VA + 0x123, USER_VA + 0x3456, 1, 0, &ops, &hs), 0);
    assert_int_equal(hs.n, 2);
    expect_hole(&hs, 0, USER_VA + 0x123, USER_VA + KiB4, 1);
    expect_hole(&hs, 1, USER_VA + 2 * KiB4, USER_VA + 0x3456, 1);

    /* leaf_level 2: the PDE pointing at the PT is handed to ->leaf as it is. */
    hs = (struct holes){0};
    assert_int_equal(pt_walk_range(&pt, USER_VA, USER_VA + 2 * MiB2, 2, 0, &ops, &hs), 0);
    assert_int_equal(hs.leaves, 1);
    assert_int_equal(hs.n, 1);
    expect_hole(&hs, 0, USER_VA + MiB2, USER_VA + 2 * MiB2, 2);

    /* A callback's error stops the walk and is returned. */
    hs = (struct holes){.stop_at = 2};
    assert_int_equal(pt_walk_range(&pt, 0, 0, 1, 0, &ops, &hs), -EINTR);
    assert_int_equal(hs.n, 2);
    assert_int_equal(hs.leaves, 0);

    assert_int_equal(pt_walk_range(&pt, 0, 0, 0, 0, &ops, &hs), -EINVAL);
    assert_int_equal(pt_walk_range(&pt, 0, 0, 4, 0, &ops, &hs), -EINVAL);
    assert_int_equal(pt_walk_range(&pt, 0x2000, 0x1000, 1, 0, &ops, &hs), -EINVAL);
    finish(&pt, phys);
}

static void test_holes_5level(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;
    const struct pt_walk_ops ops = {.hole = record_hole};
    struct holes hs = {0};

    init_pt(&pt, phys, 5);
    assert_int_equal(pt_walk_range(&pt, 0, 0, 1, 0, &ops, &hs), 0);
    assert_int_equal(hs.n, 2);
    expect_hole(&hs, 0, 0, 0x0100000000000000ULL, 5);
    expect_hole(&hs, 1, 0xff00000000000000ULL, 0, 5);
    finish(&pt, phys);
}

static int alloc_count_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    (*(int *)arg)++;
    return 0;
}

/* PT_WALK_ALLOC hands zero leaf-level entries to ->leaf after building the tables. */
static void test_walk_alloc(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;
    const struct pt_walk_ops ops = {.leaf = alloc_count_leaf};
    int n = 0;

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_walk_range(&pt, MiB2 - KiB4, MiB2 + KiB4, 1, PT_WALK_ALLOC, &ops, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(pt.table_frames, 5);
    pt_check(&pt);
    /* Empty tables the range does not span survive FREE_EMPTY; the whole space frees them. */
    assert_int_equal(pt_walk_range(&pt, 0, 0, 1, PT_WALK_FREE_EMPTY, NULL, NULL), 0);
    assert_int_equal(pt.table_frames, 1);
    finish(&pt, phys);
}

static void test_entry_ptr(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;

    init_pt(&pt, phys, 4);
    assert_null(pt_entry_ptr(&pt, 0x1000, 1));
    assert_non_null(pt_entry_ptr(&pt, 0x1000, 4));
    assert_null(pt_entry_ptr(&pt, 0x1000, 5));
    assert_null(pt_entry_ptr(&pt, 0x1000, 0));
    assert_null(pt_entry_ptr(&pt, 0x0000900000000000ULL, 4));
    assert_int_equal(pt_map(&pt, 0x200000, 0x200000, MiB2, 2, URW), 0);
    assert_null(pt_entry_ptr(&pt, 0x201000, 1));
    assert_int_equal(*pt_entry_ptr(&pt, 0x201000, 2), 0x200000 | URW | PTE_PS);
    assert_int_equal(pt_map(&pt, 0x400000, 0x1000, KiB4, 1, URW), 0);
    assert_int_equal(*pt_entry_ptr(&pt, 0x400000, 1), 0x1000 | URW);
    assert_ptr_equal(pt_entry_ptr(&pt, 0x401000, 1), pt_entry_ptr(&pt, 0x400000, 1) + 1);
    expect_none(&pt, 0x0000900000000000ULL, 4);
    finish(&pt, phys);
}

/* ---- destroy ----------------------------------------------------------------------- */

struct released {
    int n;
    uint64_t va[4];
};

static int record_release(void *arg, uint64_t va, int level, pte_t *entry)
{
    struct released *r = arg;

    if (r->n < 4)
        r->va[r->n] = va;
    r->n++;
    return 0;
}

static void test_destroy_range_keeps_kernel(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;
    struct released r = {0};

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, USER_VA, 0x1000, KiB4, 1, URW), 0);
    assert_int_equal(pt_map(&pt, KERNEL_VA, 0x2000, KiB4, 1, PTE_P | PTE_RW), 0);
    assert_int_equal(pt.table_frames, 7);
    pgtable_destroy_range(&pt, 0, 0x800000000000ULL, record_release, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.va[0], USER_VA);
    assert_int_equal(pt.table_frames, 4);
    assert_int_equal(root_entry(&pt, 254), 0);
    assert_int_not_equal(root_entry(&pt, 273), 0);
    expect_leaf(&pt, KERNEL_VA, 0x2000 | PTE_P | PTE_RW, 1);
    pt_check(&pt);
    pgtable_destroy(&pt, record_release, &r);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.va[1], KERNEL_VA);
    assert_int_equal(pt.table_frames, 0);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* ---- pt_check catches corruption ------------------------------------------------------- */

typedef void (*corrupt_fn)(struct pgtable *pt);

/* Run corrupt + pt_check in a child; it must abort naming `invariant`. */
static void expect_check_abort(struct pgtable *pt, corrupt_fn corrupt, const char *invariant)
{
    int fds[2], status;
    char msg[512] = {0};
    size_t got = 0;
    ssize_t n;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        corrupt(pt);
        pt_check(pt);
        _exit(0);
    }
    close(fds[1]);
    while (got < sizeof(msg) - 1 && (n = read(fds[0], msg + got, sizeof(msg) - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    if (!strstr(msg, invariant))
        fprintf(stderr, "child said: %s\n", msg);
    assert_non_null(strstr(msg, invariant));
}

static void corrupt_private(struct pgtable *pt)
{
    table_of(pt, USER_VA, 1)->private++;
}

static void corrupt_ps_in_pml4e(struct pgtable *pt)
{
    ((pte_t *)phys_host(pt->phys, pt->root))[254] |= PTE_PS;
}

static void corrupt_table_outside_ram(struct pgtable *pt)
{
    *pt_entry_ptr(pt, USER_VA, 2) = (pt->phys->ram_bytes + 0x1000) | PTE_P | PTE_RW | PTE_US;
}

static void corrupt_table_twice(struct pgtable *pt)
{
    pte_t *pde = pt_entry_ptr(pt, USER_VA, 2);

    pde[1] = pde[0]; /* replaces the 2M leaf: the count stays right */
}

static void corrupt_table_frames(struct pgtable *pt)
{
    pt->table_frames++;
}

static void corrupt_not_pgtable(struct pgtable *pt)
{
    table_of(pt, USER_VA, 1)->flags &= ~(uint32_t)PG_PGTABLE;
}

static void corrupt_huge_reserved(struct pgtable *pt)
{
    *pt_entry_ptr(pt, USER_VA + MiB2, 2) |= 0x2000;
}

static void test_check_detects_corruption(void **state)
{
    struct phys *phys = test_phys(0, false);
    struct pgtable pt;

    init_pt(&pt, phys, 4);
    assert_int_equal(pt_map(&pt, USER_VA, 0x1000, KiB4, 1, URW), 0);
    assert_int_equal(pt_map(&pt, USER_VA + MiB2, 0x200000, MiB2, 2, URW), 0);
    pt_check(&pt);
    expect_check_abort(&pt, corrupt_private, "table ->private counts its non-zero entries");
    expect_check_abort(&pt, corrupt_ps_in_pml4e, "PS is reserved (zero) in PML4E/PML5E entries");
    expect_check_abort(&pt, corrupt_table_outside_ram, "table entries point into RAM");
    expect_check_abort(&pt, corrupt_table_twice, "every table frame is reached once");
    expect_check_abort(&pt, corrupt_table_frames, "table_frames counts every table frame");
    expect_check_abort(&pt, corrupt_not_pgtable, "table frames are allocated PG_PGTABLE frames");
    expect_check_abort(&pt, corrupt_huge_reserved, "huge leaves have their reserved low address bits zero");
    finish(&pt, phys);
}

/* ---- scale --------------------------------------------------------------------------- */

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_map_1gib_of_4k(void **state)
{
    struct phys *phys = test_phys(GiB1, false);
    struct pgtable pt;
    struct timespec t0;
    double map_s, unmap_s;
    int released = 0;

    init_pt(&pt, phys, 4);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(pt_map(&pt, USER_VA, 0, GiB1, 1, URW), 0);
    map_s = seconds_since(&t0);
    assert_int_equal(pt.table_frames, 1 + 1 + 1 + 512);
    expect_leaf(&pt, USER_VA, URW, 1);
    expect_leaf(&pt, USER_VA + GiB1 - KiB4, (GiB1 - KiB4) | URW, 1);
    expect_none(&pt, USER_VA + GiB1, 3);
    pt_check(&pt);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(pt_unmap(&pt, USER_VA, GiB1, count_release, &released), 0);
    unmap_s = seconds_since(&t0);
    assert_int_equal(released, 262144);
    assert_int_equal(pt.table_frames, 1);
    assert_true(map_s < 1.0);
    assert_true(unmap_s < 1.0);
    finish(&pt, phys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_4k_4level),
        cmocka_unit_test(test_map_2m_4level),
        cmocka_unit_test(test_map_1g_4level),
        cmocka_unit_test(test_map_4k_5level),
        cmocka_unit_test(test_map_2m_5level),
        cmocka_unit_test(test_map_1g_5level),
        cmocka_unit_test(test_one_page_frames),
        cmocka_unit_test(test_kernel_half),
        cmocka_unit_test(test_kernel_half_5level),
        cmocka_unit_test(test_map_einval),
        cmocka_unit_test(test_map_eexist),
        cmocka_unit_test(test_map_enomem_changes_nothing),
        cmocka_unit_test(test_unmap_splits_2m),
        cmocka_unit_test(test_protect_splits_1g),
        cmocka_unit_test(test_protect_protnone),
        cmocka_unit_test(test_nonpresent_huge_leaves),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_trace_print),
        cmocka_unit_test(test_trace_5level),
        cmocka_unit_test(test_pte_flags_str),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_free_empty),
        cmocka_unit_test(test_holes),
        cmocka_unit_test(test_holes_5level),
        cmocka_unit_test(test_walk_alloc),
        cmocka_unit_test(test_entry_ptr),
        cmocka_unit_test(test_destroy_range_keeps_kernel),
        cmocka_unit_test(test_check_detects_corruption),
        cmocka_unit_test(test_map_1gib_of_4k),
    };

    return cmocka_run_group_tests_name("pgtable", tests, NULL, NULL);
}
