/*
 * hw/pgtable.c - x86-64 page tables held in simulated frames, and the one walker.
 *
 * Every table is one PG_PGTABLE frame whose struct page ->private counts its non-zero
 * entries.  All range operations (map, unmap, protect, copy, dump, destroy) are
 * callbacks of pt_walk_range, which descends once per table, so the cost of an
 * operation is proportional to the tables it touches, never to per-entry root walks.
 *
 * Linear addresses.  The walker works on the "linear" form of a canonical address:
 * its low va_bits bits (48 or 57).  The lower half keeps its value, the upper (kernel)
 * half becomes [2^(va_bits-1), 2^va_bits), so a top-level table covers [0, 2^va_bits)
 * with no hole, and a range end of 0 ("top of the 64-bit space") becomes 2^va_bits.
 * Non-canonical bounds clamp to the start of the upper half.  Callbacks always see
 * canonical addresses.
 *
 * Entry kinds above the PTE level: 0 (empty), a present entry without PS (a table),
 * or a leaf: PS set (huge page, present or PROT_NONE) or non-zero with P clear (a huge
 * swap / migration entry).  The walker never descends into a leaf.
 */
#include <pagoda/pgtable.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw/bug.h"

/* Bits of an intermediate (table) entry; the MMU sets A itself. */
#define PT_TABLE_BITS (PTE_P | PTE_RW | PTE_US)

/* The bits of the table entries this page table installs (the kernel's own tables
 * use Linux's _KERNPG_TABLE, without US). */
static pte_t table_bits(const struct pgtable *pt)
{
    return pt->table_bits ? pt->table_bits : PT_TABLE_BITS;
}

/* Internal walk flag (above the public ones): also free tables that had entries
 * before this walk visited them and have none after, wherever their span lies.  This
 * is what "free tables left empty" means for pt_unmap. */
#define PT_WALK_FREE_EMPTIED_ (1u << 8)

/* ---- address geometry ------------------------------------------------------ */

static unsigned pt_va_bits(const struct pgtable *pt)
{
    return pt->levels == 5 ? 57u : 48u;
}

/* Bytes of linear space: 2^48 or 2^57. */
static uint64_t pt_space(const struct pgtable *pt)
{
    return 1ULL << pt_va_bits(pt);
}

/* Linear form of a range bound that is not an end of 0 (see the file comment). */
static uint64_t lin_of(const struct pgtable *pt, uint64_t va)
{
    uint64_t half = pt_space(pt) / 2;

    if (va <= half)
        return va;
    if (va < (uint64_t)0 - half) /* in the non-canonical hole */
        return half;
    return va & (pt_space(pt) - 1);
}

static uint64_t lin_of_end(const struct pgtable *pt, uint64_t end)
{
    return end == 0 ? pt_space(pt) : lin_of(pt, end);
}

/* Canonical address of a linear start address (< 2^va_bits). */
static uint64_t va_of(const struct pgtable *pt, uint64_t lin)
{
    return lin < pt_space(pt) / 2 ? lin : lin | ~(pt_space(pt) - 1);
}

/* Canonical form of a linear exclusive end: the end of the lower half stays
 * 2^(va_bits-1), the end of the space becomes 0. */
static uint64_t va_end_of(const struct pgtable *pt, uint64_t lin)
{
    if (lin == pt_space(pt))
        return 0;
    return lin <= pt_space(pt) / 2 ? lin : lin | ~(pt_space(pt) - 1);
}

static bool pt_va_canonical(const struct pgtable *pt, uint64_t va)
{
    return va_canonical(va, pt_va_bits(pt));
}

/* ---- entries and table frames ---------------------------------------------- */

/* Is non-zero `e` at `level` a leaf: a PTE, a PDE/PDPTE with PS, or any entry with P
 * clear (swap, PROT_NONE; above the PDPT only a broken table has one, and pt_check
 * says so), which is never descended into? */
static bool is_leaf(pte_t e, int level)
{
    if (level == PT_LEVEL_PTE || !(e & PTE_P))
        return true;
    return level <= PT_LEVEL_PUD && (e & PTE_PS);
}

/* Address bits of a leaf at `level`: 12..51 for a PTE, 21..51 / 30..51 for huge ones. */
static pte_t leaf_addr_mask(int level)
{
    return PTE_ADDR_MASK & ~(pt_level_size(level) - 1);
}

static pte_t *table_entries(const struct phys *phys, paddr_t table)
{
    return phys_host(phys, table);
}

static struct page *table_page(const struct phys *phys, paddr_t table)
{
    return phys_page(phys, table >> PAGE_SHIFT);
}

/* Keep the table's non-zero entry count exact across one entry rewrite. */
static void count_change(struct page *tp, pte_t before, pte_t after)
{
    if (!before && after) {
        tp->private++;
    } else if (before && !after) {
        PAGODA_BUG_ON(tp->private == 0, "table ->private counts its non-zero entries");
        tp->private--;
    }
}

/* Pre-allocated zeroed frames, linked through page->private (pfn + 1, 0 ends), so
 * that pt_map can fail before changing anything instead of undoing. */
struct table_pool {
    pfn_t head; /* pfn + 1 of the first frame, 0 when empty */
    uint64_t count;
};

static pfn_t pool_take(struct phys *phys, struct table_pool *pool)
{
    pfn_t pfn = pool->head - 1;
    struct page *pg = phys_page(phys, pfn);

    pool->head = pg->private;
    pg->private = 0;
    pool->count--;
    return pfn;
}

static void pool_drain(struct phys *phys, struct table_pool *pool)
{
    while (pool->count > 0)
        phys_free(phys, pool_take(phys, pool), 0);
}

/* Grow the pool to n frames; on failure it is emptied and -ENOMEM returned. */
static int pool_fill(struct phys *phys, struct table_pool *pool, uint64_t n)
{
    while (pool->count < n) {
        pfn_t pfn;

        if (phys_alloc(phys, 0, PHYS_ZERO, &pfn) != 0) {
            pool_drain(phys, pool);
            return -ENOMEM;
        }
        phys_page(phys, pfn)->private = pool->head;
        pool->head = pfn + 1;
        pool->count++;
    }
    return 0;
}

/* A zeroed table frame (from `pool` when given), PG_PGTABLE with no entries and
 * counted in table_frames.  0 or -ENOMEM. */
static int table_alloc(struct pgtable *pt, struct table_pool *pool, paddr_t *out)
{
    pfn_t pfn;
    struct page *pg;

    if (pool) {
        PAGODA_BUG_ON(pool->count == 0, "pt_map pre-allocates every table it needs");
        pfn = pool_take(pt->phys, pool);
    } else if (phys_alloc(pt->phys, 0, PHYS_ZERO, &pfn) != 0) {
        return -ENOMEM;
    }
    pg = phys_page(pt->phys, pfn);
    pg->flags |= PG_PGTABLE;
    pg->private = 0;
    pt->table_frames++;
    *out = (paddr_t)pfn << PAGE_SHIFT;
    return 0;
}

/* Return an empty table frame to the allocator. */
static void table_free(struct pgtable *pt, paddr_t table)
{
    struct page *pg = table_page(pt->phys, table);

    PAGODA_BUG_ON(!(pg->flags & PG_PGTABLE), "table frames are PG_PGTABLE");
    PAGODA_BUG_ON(pg->private != 0, "only empty tables are freed");
    PAGODA_BUG_ON(pt->table_frames == 0, "table_frames counts every table frame");
    pg->flags &= ~(uint32_t)PG_PGTABLE;
    phys_free(pt->phys, table >> PAGE_SHIFT, 0);
    pt->table_frames--;
}

/* Entry i of the table that replaces huge leaf `e` at `level`: same bits, one level
 * down, address stepped by the smaller size.  Demoting to PTEs drops PS and moves the
 * PAT bit from bit 12 to bit 7; demoting a 1 GiB leaf keeps both. */
static pte_t demoted_entry(pte_t e, int level, unsigned i)
{
    pte_t bits = e & ~PTE_ADDR_MASK;
    pte_t base = e & leaf_addr_mask(level);

    if (level - 1 == PT_LEVEL_PTE) {
        bits &= ~PTE_PS;
        if (e & PTE_PATLG)
            bits |= PTE_PAT4K;
    } else {
        bits |= e & PTE_PATLG;
    }
    return bits | (base + (uint64_t)i * pt_level_size(level - 1));
}

/* Replace the huge leaf *ep at `level` by a table of 512 leaves one level down.  The
 * entry stays non-zero, so its table's count is unchanged.  0 or -ENOMEM. */
static int demote(struct pgtable *pt, pte_t *ep, int level)
{
    paddr_t table;
    pte_t *t;
    uint64_t nonzero = 0;
    int rc = table_alloc(pt, NULL, &table);

    if (rc != 0)
        return rc;
    t = table_entries(pt->phys, table);
    for (unsigned i = 0; i < PT_ENTRIES; i++) {
        t[i] = demoted_entry(*ep, level, i);
        nonzero += t[i] != 0;
    }
    table_page(pt->phys, table)->private = nonzero;
    *ep = table | table_bits(pt);
    return 0;
}

/* ---- init / destroy ---------------------------------------------------------- */

int pgtable_init(struct pgtable *pt, struct phys *phys, int levels)
{
    if (levels != 4 && levels != 5)
        return -EINVAL;
    *pt = (struct pgtable){.phys = phys, .levels = levels};
    return table_alloc(pt, NULL, &pt->root);
}

struct release_args {
    pt_leaf_fn release;
    void *arg;
};

/* Leaf callback: hand a copy of the old value to ->release, then clear the entry.
 * release's return value is ignored: clearing cannot be refused. */
static int release_and_clear(void *arg, uint64_t va, int level, pte_t *entry)
{
    struct release_args *r = arg;
    pte_t old = *entry;

    if (r->release)
        r->release(r->arg, va, level, &old);
    *entry = 0;
    return 0;
}

/* Huge leaves overlapping the range are released and cleared whole (no splitting:
 * destroying must not allocate).  Tables whose span lies in the range end up empty
 * and are freed with their parent entries cleared. */
void pgtable_destroy_range(struct pgtable *pt, uint64_t start, uint64_t end, pt_leaf_fn release, void *arg)
{
    struct release_args r = {release, arg};
    const struct pt_walk_ops ops = {.leaf = release_and_clear};
    int rc = pt_walk_range(pt, start, end, PT_LEVEL_PTE, PT_WALK_FREE_EMPTY, &ops, &r);

    PAGODA_BUG_ON(rc != 0, "pgtable_destroy_range gets a range that does not wrap");
}

/* Linear address where the top-level entry `index` starts. */
static uint64_t top_entry_lin(const struct pgtable *pt, unsigned index)
{
    return (uint64_t)index << pt_level_shift(pt->levels);
}

void pgtable_share_top(struct pgtable *dst, const struct pgtable *src, unsigned first)
{
    const pte_t *s = table_entries(src->phys, src->root);
    pte_t *d = table_entries(dst->phys, dst->root);
    struct page *dtp = table_page(dst->phys, dst->root);

    PAGODA_BUG_ON(dst->phys != src->phys || dst->levels != src->levels || first == 0 || first >= PT_ENTRIES,
                  "shared top-level entries come from a table of the same machine and depth");
    PAGODA_BUG_ON(dst->shared_top_first && dst->shared_top_first != first,
                  "a page table shares one range of top-level entries");
    for (unsigned i = first; i < PT_ENTRIES; i++) {
        PAGODA_BUG_ON(d[i] && d[i] != s[i], "shared top-level entries are not the table's own");
        count_change(dtp, d[i], s[i]);
        d[i] = s[i];
    }
    dst->shared_top_first = first;
}

int pgtable_populate_top(struct pgtable *pt, unsigned first)
{
    pte_t *t = table_entries(pt->phys, pt->root);
    struct page *tp = table_page(pt->phys, pt->root);

    if (first >= PT_ENTRIES || pt->shared_top_first)
        return -EINVAL;
    for (unsigned i = first; i < PT_ENTRIES; i++) {
        paddr_t child;

        if (t[i])
            continue;
        if (table_alloc(pt, NULL, &child) != 0)
            return -ENOMEM; /* the tables made so far stay: pgtable_destroy frees them */
        t[i] = child | table_bits(pt);
        count_change(tp, 0, t[i]);
    }
    return 0;
}

/* Forget the shared top-level entries (they belong to another page table). */
static void unshare_top(struct pgtable *pt)
{
    pte_t *t = table_entries(pt->phys, pt->root);
    struct page *tp = table_page(pt->phys, pt->root);

    for (unsigned i = pt->shared_top_first; pt->shared_top_first && i < PT_ENTRIES; i++) {
        count_change(tp, t[i], 0);
        t[i] = 0;
    }
    pt->shared_top_first = 0;
}

void pgtable_destroy(struct pgtable *pt, pt_leaf_fn release, void *arg)
{
    if (pt->shared_top_first)
        pgtable_destroy_range(pt, 0, va_end_of(pt, top_entry_lin(pt, pt->shared_top_first)), release, arg);
    else
        pgtable_destroy_range(pt, 0, 0, release, arg);
    unshare_top(pt);
    table_free(pt, pt->root);
    PAGODA_BUG_ON(pt->table_frames != 0, "table_frames counts every table frame");
    pt->root = 0;
}

/* ---- the walker ---------------------------------------------------------------- */

struct walk {
    struct pgtable *pt;
    uint64_t lo, hi; /* linear range */
    int leaf_level;
    unsigned flags;
    const struct pt_walk_ops *ops;
    void *arg;
    struct table_pool *pool; /* pt_map's pre-allocated tables, else NULL */
};

/* A run of zero entries in one table not yet reported to ->hole: [lo, hi) linear. */
struct hole_run {
    bool open;
    uint64_t lo, hi;
};

static int walk_table(struct walk *w, paddr_t table, int level, uint64_t base);

static bool covers(const struct walk *w, uint64_t elin, uint64_t size)
{
    return elin >= w->lo && elin + size <= w->hi;
}

static void hole_extend(struct hole_run *run, uint64_t elin, uint64_t size)
{
    if (!run->open) {
        run->open = true;
        run->lo = elin;
    }
    run->hi = elin + size;
}

/* Report the open run, clipped to the walk's range, at `level`. */
static int hole_flush(struct walk *w, struct hole_run *run, int level)
{
    uint64_t lo, hi;

    if (!run->open)
        return 0;
    run->open = false;
    if (!w->ops || !w->ops->hole)
        return 0;
    lo = run->lo > w->lo ? run->lo : w->lo;
    hi = run->hi < w->hi ? run->hi : w->hi;
    return w->ops->hole(w->arg, va_of(w->pt, lo), va_end_of(w->pt, hi), level);
}

/* Pass *ep to ->leaf and keep the table's count exact whatever it writes. */
static int call_leaf(struct walk *w, struct page *tp, pte_t *ep, int level, uint64_t elin)
{
    pte_t before = *ep;
    int rc;

    if (!w->ops || !w->ops->leaf)
        return 0;
    rc = w->ops->leaf(w->arg, va_of(w->pt, elin), level, ep);
    count_change(tp, before, *ep);
    return rc;
}

/* Should the child table just visited (now empty) be freed?  `had` is its count
 * before the visit, `fresh` says this walk allocated it. */
static bool free_child(const struct walk *w, uint64_t elin, int level, uint64_t had, bool fresh, int rc)
{
    if ((w->flags & PT_WALK_FREE_EMPTY) && covers(w, elin, pt_level_size(level)))
        return true;
    if ((w->flags & PT_WALK_FREE_EMPTIED_) && had > 0)
        return true;
    return fresh && rc != 0; /* an allocation of a walk that failed */
}

/* Walk the table *ep (at `level`) points to, then free it if it is empty and the
 * walk's flags say so, clearing *ep. */
static int descend(struct walk *w, struct page *tp, pte_t *ep, int level, uint64_t elin, bool fresh)
{
    paddr_t child = *ep & PTE_ADDR_MASK;
    struct page *cp;
    uint64_t had;
    int rc;

    PAGODA_BUG_ON(!(*ep & PTE_P) || !phys_pa_valid(w->pt->phys, child),
                  "table entries are present and point into RAM");
    cp = table_page(w->pt->phys, child);
    had = cp->private;
    rc = walk_table(w, child, level - 1, elin);
    if (cp->private == 0 && free_child(w, elin, level, had, fresh, rc)) {
        table_free(w->pt, child);
        count_change(tp, *ep, 0);
        *ep = 0;
    }
    return rc;
}

/* Zero entry above leaf_level with PT_WALK_ALLOC: install a table and walk it. */
static int descend_new(struct walk *w, struct page *tp, pte_t *ep, int level, uint64_t elin)
{
    paddr_t child;
    int rc = table_alloc(w->pt, w->pool, &child);

    if (rc != 0)
        return rc;
    *ep = child | table_bits(w->pt);
    count_change(tp, 0, *ep);
    return descend(w, tp, ep, level, elin, true);
}

/* Non-zero entry above leaf_level: descend into a table; split a huge leaf the range
 * cuts when PT_WALK_SPLIT asks (only PS leaves can be split); else pass the leaf on. */
static int visit_upper(struct walk *w, struct page *tp, pte_t *ep, int level, uint64_t elin)
{
    int rc;

    if (!is_leaf(*ep, level))
        return descend(w, tp, ep, level, elin, false);
    if (!(w->flags & PT_WALK_SPLIT) || !(*ep & PTE_PS) || covers(w, elin, pt_level_size(level)))
        return call_leaf(w, tp, ep, level, elin);
    rc = demote(w->pt, ep, level);
    if (rc != 0)
        return rc;
    return descend(w, tp, ep, level, elin, false);
}

/* One entry of a table: see pt_walk_range. */
static int visit_entry(struct walk *w, struct page *tp, pte_t *ep, int level, uint64_t elin,
                       struct hole_run *run)
{
    bool above = level > w->leaf_level;
    int rc;

    if (*ep == 0 && !(w->flags & PT_WALK_ALLOC)) {
        hole_extend(run, elin, pt_level_size(level));
        return 0;
    }
    rc = hole_flush(w, run, level);
    if (rc != 0)
        return rc;
    if (*ep == 0)
        return above ? descend_new(w, tp, ep, level, elin) : call_leaf(w, tp, ep, level, elin);
    return above ? visit_upper(w, tp, ep, level, elin) : call_leaf(w, tp, ep, level, elin);
}

/* Visit the entries of `table` (at `level`, mapping linear `base`..) that overlap the
 * range.  Hole runs never cross the middle of the top-level table (the canonical gap). */
static int walk_table(struct walk *w, paddr_t table, int level, uint64_t base)
{
    pte_t *t = table_entries(w->pt->phys, table);
    struct page *tp = table_page(w->pt->phys, table);
    unsigned shift = pt_level_shift(level);
    uint64_t first = w->lo > base ? w->lo : base;
    uint64_t span_end = base + ((uint64_t)PT_ENTRIES << shift);
    uint64_t last = w->hi < span_end ? w->hi : span_end;
    unsigned iend = (unsigned)((last - 1 - base) >> shift) + 1;
    struct hole_run run = {0};
    int rc = 0;

    for (unsigned i = (unsigned)((first - base) >> shift); i < iend && rc == 0; i++) {
        if (level == w->pt->levels && i == PT_ENTRIES / 2)
            rc = hole_flush(w, &run, level);
        if (rc == 0)
            rc = visit_entry(w, tp, &t[i], level, base + ((uint64_t)i << shift), &run);
    }
    if (rc == 0)
        rc = hole_flush(w, &run, level);
    return rc;
}

/* pt_walk_range with an optional table pool.  -EINVAL for a bad leaf_level or a
 * range that wraps (end below start, end not 0). */
static int walk_range(struct pgtable *pt, uint64_t start, uint64_t end, int leaf_level, unsigned flags,
                      const struct pt_walk_ops *ops, void *arg, struct table_pool *pool)
{
    struct walk w = {pt, lin_of(pt, start), lin_of_end(pt, end), leaf_level, flags, ops, arg, pool};

    if (leaf_level < PT_LEVEL_PTE || leaf_level > PT_LEVEL_PUD || (end != 0 && end < start))
        return -EINVAL;
    if (w.lo >= w.hi)
        return 0;
    PAGODA_BUG_ON(pt->shared_top_first && w.hi > top_entry_lin(pt, pt->shared_top_first) &&
                      (flags & (PT_WALK_ALLOC | PT_WALK_SPLIT | PT_WALK_FREE_EMPTY | PT_WALK_FREE_EMPTIED_)),
                  "the shared top-level entries' tables change only through their owner");
    return walk_table(&w, pt->root, pt->levels, 0);
}

/* The fast path of a walk over one 4 KiB page whose upper tables all exist (a fault's
 * walk): straight down the tables to the PTE, making exactly the callbacks the
 * general walk would (one ->leaf; no hole, no allocation, nothing freed).  true with
 * *rc set when it handled the page; false when the general walk must (a missing
 * table, a huge leaf on the way, a zero PTE without PT_WALK_ALLOC). */
static bool walk_one_page(struct pgtable *pt, uint64_t va, unsigned flags, const struct pt_walk_ops *ops,
                          void *arg, int *rc)
{
    paddr_t table = pt->root;

    if ((va & (PAGE_SIZE - 1)) || !pt_va_canonical(pt, va))
        return false;
    for (int level = pt->levels; level > PT_LEVEL_PTE; level--) {
        pte_t e = table_entries(pt->phys, table)[pt_index(va, level)];

        if (e == 0 || is_leaf(e, level))
            return false;
        table = e & PTE_ADDR_MASK;
        PAGODA_BUG_ON(!phys_pa_valid(pt->phys, table), "table entries are present and point into RAM");
    }
    pte_t *ep = &table_entries(pt->phys, table)[pt_index(va, PT_LEVEL_PTE)];
    if (*ep == 0 && !(flags & PT_WALK_ALLOC))
        return false;
    struct walk w = {.pt = pt, .ops = ops, .arg = arg};
    *rc = call_leaf(&w, table_page(pt->phys, table), ep, PT_LEVEL_PTE, lin_of(pt, va));
    return true;
}

int pt_walk_range(struct pgtable *pt, uint64_t start, uint64_t end, int leaf_level, unsigned flags,
                  const struct pt_walk_ops *ops, void *arg)
{
    int rc;

    if (leaf_level == PT_LEVEL_PTE && end - start == PAGE_SIZE && !(flags & ~(unsigned)PT_WALK_ALLOC) &&
        walk_one_page(pt, start, flags, ops, arg, &rc))
        return rc;
    return walk_range(pt, start, end, leaf_level, flags & (PT_WALK_ALLOC | PT_WALK_SPLIT | PT_WALK_FREE_EMPTY),
                      ops, arg, NULL);
}

/* ---- pt_map ---------------------------------------------------------------------- */

struct map_args {
    uint64_t va;
    paddr_t pa;
    pte_t bits; /* flags, with PS for huge leaves */
    int level;
    uint64_t tables_needed;
};

/* Is [va, va+len) a non-empty range of canonical addresses inside one half? */
static bool range_in_one_half(const struct pgtable *pt, uint64_t va, uint64_t len)
{
    uint64_t last = va + len - 1;

    return len != 0 && last >= va && pt_va_canonical(pt, va) && pt_va_canonical(pt, last) &&
           (va >> 63) == (last >> 63);
}

/* pt_map's argument rules (see pgtable.h); flags may not carry address bits. */
static bool map_args_valid(const struct pgtable *pt, uint64_t va, paddr_t pa, uint64_t len, int level,
                           pte_t flags)
{
    uint64_t size;
    pte_t addr_bits;

    if (level < PT_LEVEL_PTE || level > PT_LEVEL_PUD)
        return false;
    size = pt_level_size(level);
    addr_bits = PTE_ADDR_MASK & ~(level > PT_LEVEL_PTE ? PTE_PATLG : 0);
    if ((va | pa | len) & (size - 1) || !range_in_one_half(pt, va, len))
        return false;
    if (pa + len < pa || ((pa + len - 1) & ~PTE_ADDR_MASK & ~(PAGE_SIZE - 1)))
        return false; /* beyond the 52 physical address bits */
    return (flags & addr_bits) == 0 && (flags | (level > PT_LEVEL_PTE ? PTE_PS : 0)) != 0;
}

static int refuse_mapped(void *arg, uint64_t va, int level, pte_t *entry)
{
    return -EEXIST;
}

/* Blocks of 2^shift bytes that [va, end) touches (end 0: top of the space). */
static uint64_t blocks_touched(uint64_t va, uint64_t end, unsigned shift)
{
    return ((end - 1) >> shift) - (va >> shift) + 1;
}

/* A run of zero entries at `level`: every table from level-1 down to the leaf level
 * under it must be allocated, one per entry of the level above that it touches. */
static int count_missing_tables(void *arg, uint64_t va, uint64_t end, int level)
{
    struct map_args *m = arg;

    for (int k = m->level; k < level; k++)
        m->tables_needed += blocks_touched(va, end, pt_level_shift(k + 1));
    return 0;
}

static int write_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    struct map_args *m = arg;

    PAGODA_BUG_ON(*entry != 0 || level != m->level, "pt_map writes only entries it checked empty");
    *entry = (m->pa + (va - m->va)) | m->bits;
    return 0;
}

/* Check pass (-EEXIST, counting missing tables), allocate them all, then the mapping
 * pass, which cannot fail: so nothing changes unless everything succeeds. */
int pt_map(struct pgtable *pt, uint64_t va, paddr_t pa, uint64_t len, int level, pte_t flags)
{
    struct map_args m = {va, pa, flags | (level > PT_LEVEL_PTE ? PTE_PS : 0), level, 0};
    const struct pt_walk_ops check = {.leaf = refuse_mapped, .hole = count_missing_tables};
    const struct pt_walk_ops map = {.leaf = write_leaf};
    struct table_pool pool = {0};
    int rc;

    if (!map_args_valid(pt, va, pa, len, level, flags))
        return -EINVAL;
    rc = walk_range(pt, va, va + len, level, 0, &check, &m, NULL);
    if (rc != 0)
        return rc;
    if (pool_fill(pt->phys, &pool, m.tables_needed) != 0)
        return -ENOMEM;
    rc = walk_range(pt, va, va + len, level, PT_WALK_ALLOC, &map, &m, &pool);
    PAGODA_BUG_ON(rc != 0 || pool.count != 0, "pt_map's check pass counted exactly the tables needed");
    return 0;
}

/* ---- unmap / protect / split ------------------------------------------------------- */

/* Common rules of unmap/protect/copy ranges: 4 KiB multiples, no wrap past the top. */
static bool range_valid(uint64_t va, uint64_t len)
{
    return ((va | len) & (PAGE_SIZE - 1)) == 0 && (va + len >= va || va + len == 0);
}

int pt_unmap(struct pgtable *pt, uint64_t va, uint64_t len, pt_leaf_fn release, void *arg)
{
    struct release_args r = {release, arg};
    const struct pt_walk_ops ops = {.leaf = release_and_clear};

    if (!range_valid(va, len))
        return -EINVAL;
    if (len == 0)
        return 0;
    return walk_range(pt, va, va + len, PT_LEVEL_PTE,
                      PT_WALK_SPLIT | PT_WALK_FREE_EMPTY | PT_WALK_FREE_EMPTIED_, &ops, &r, NULL);
}

struct protect_args {
    pte_t set, clear;
};

static int protect_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    const struct protect_args *p = arg;

    if ((*entry & PTE_P) || ((p->set | p->clear) & PTE_P))
        *entry = (*entry & ~p->clear) | p->set;
    return 0;
}

int pt_protect(struct pgtable *pt, uint64_t va, uint64_t len, pte_t set, pte_t clear)
{
    struct protect_args p = {set, clear};
    const struct pt_walk_ops ops = {.leaf = protect_leaf};

    if (!range_valid(va, len))
        return -EINVAL;
    if (len == 0)
        return 0;
    return walk_range(pt, va, va + len, PT_LEVEL_PTE, PT_WALK_SPLIT, &ops, &p, NULL);
}

int pt_split(struct pgtable *pt, uint64_t va, int level)
{
    pte_t *ep;

    if (level != PT_LEVEL_PMD && level != PT_LEVEL_PUD)
        return -EINVAL;
    ep = pt_entry_ptr(pt, va, level);
    if (!ep || !(*ep & PTE_PS))
        return -EINVAL;
    return demote(pt, ep, level);
}

/* ---- pt_copy ------------------------------------------------------------------------- */

/* The path of tables last used in a destination, so that consecutive leaves descend
 * from the lowest table they share instead of from the root. */
struct pt_cursor {
    struct pgtable *pt;
    bool valid[PT_LEVEL_PML5 + 1];
    paddr_t table[PT_LEVEL_PML5 + 1];
    uint64_t base[PT_LEVEL_PML5 + 1]; /* va of the first byte table[l] maps */
};

/* Start of the span of the level-`level` table containing va. */
static uint64_t table_base(uint64_t va, int level)
{
    return va & ~(pt_level_size(level + 1) - 1);
}

/* Entry for va at `level` in c->pt and the struct page of its table, allocating the
 * tables on the way.  -EEXIST when a leaf sits above `level`, -ENOMEM. */
static int cursor_entry(struct pt_cursor *c, uint64_t va, int level, pte_t **out, struct page **tp_out)
{
    struct pgtable *pt = c->pt;
    int l = pt->levels;
    paddr_t table = pt->root;

    for (int k = level; k < pt->levels; k++) {
        if (c->valid[k] && c->base[k] == table_base(va, k)) {
            l = k;
            table = c->table[k];
            break;
        }
    }
    for (; l > level; l--) {
        pte_t *ep = &table_entries(pt->phys, table)[pt_index(va, l)];

        if (*ep == 0) {
            paddr_t child;

            if (table_alloc(pt, NULL, &child) != 0)
                return -ENOMEM;
            *ep = child | table_bits(pt);
            count_change(table_page(pt->phys, table), 0, *ep);
        } else if (is_leaf(*ep, l)) {
            return -EEXIST;
        }
        table = *ep & PTE_ADDR_MASK;
        c->valid[l - 1] = true;
        c->table[l - 1] = table;
        c->base[l - 1] = table_base(va, l - 1);
    }
    *out = &table_entries(pt->phys, table)[pt_index(va, level)];
    *tp_out = table_page(pt->phys, table);
    return 0;
}

struct copy_args {
    struct pt_cursor dst;
    pte_t (*xform)(void *arg, uint64_t va, int level, pte_t *src_entry);
    void *arg;
};

/* Find (allocating) the destination slot, refuse if taken, then transform. */
static int copy_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    struct copy_args *c = arg;
    struct page *dtp;
    pte_t *dep, val;
    int rc = cursor_entry(&c->dst, va, level, &dep, &dtp);

    if (rc != 0)
        return rc;
    if (*dep != 0)
        return -EEXIST;
    val = c->xform ? c->xform(c->arg, va, level, entry) : *entry;
    count_change(dtp, *dep, val);
    *dep = val;
    return 0;
}

/* Huge leaves overlapping the range are copied whole, as huge leaves. */
int pt_copy(struct pgtable *dst, struct pgtable *src, uint64_t va, uint64_t len,
            pte_t (*xform)(void *arg, uint64_t va, int level, pte_t *src_entry), void *arg)
{
    struct copy_args c = {.dst = {.pt = dst}, .xform = xform, .arg = arg};
    const struct pt_walk_ops ops = {.leaf = copy_leaf};

    if (!range_valid(va, len) || dst->phys != src->phys || dst->levels != src->levels)
        return -EINVAL;
    if (len == 0)
        return 0;
    return walk_range(src, va, va + len, PT_LEVEL_PTE, 0, &ops, &c, NULL);
}

/* ---- single-address lookups --------------------------------------------------------- */

int pt_lookup(const struct pgtable *pt, uint64_t va, pte_t *entry, int *level)
{
    paddr_t table = pt->root;

    if (!pt_va_canonical(pt, va)) {
        if (level)
            *level = pt->levels;
        return -ENOENT;
    }
    for (int l = pt->levels; l >= PT_LEVEL_PTE; l--) {
        pte_t e = table_entries(pt->phys, table)[pt_index(va, l)];

        if (e == 0 || is_leaf(e, l)) {
            if (level)
                *level = l;
            if (e == 0)
                return -ENOENT;
            if (entry)
                *entry = e;
            return 0;
        }
        table = e & PTE_ADDR_MASK;
    }
    PAGODA_BUG_ON(true, "every PTE is a leaf");
    return -ENOENT;
}

pte_t *pt_entry_ptr(const struct pgtable *pt, uint64_t va, int level)
{
    paddr_t table = pt->root;

    if (level < PT_LEVEL_PTE || level > pt->levels || !pt_va_canonical(pt, va))
        return NULL;
    for (int l = pt->levels; l > level; l--) {
        pte_t e = table_entries(pt->phys, table)[pt_index(va, l)];

        if (e == 0 || is_leaf(e, l))
            return NULL;
        table = e & PTE_ADDR_MASK;
    }
    return &table_entries(pt->phys, table)[pt_index(va, level)];
}

void pt_trace(const struct pgtable *pt, uint64_t va, struct pt_trace *tr)
{
    paddr_t table = pt->root;

    tr->nsteps = 0;
    tr->result = -ENOENT;
    if (!pt_va_canonical(pt, va))
        return;
    for (int l = pt->levels; l >= PT_LEVEL_PTE; l--) {
        unsigned index = pt_index(va, l);
        pte_t e = table_entries(pt->phys, table)[index];

        tr->step[tr->nsteps++] = (struct pt_trace_step){l, index, table, e};
        if (e == 0)
            return;
        if (is_leaf(e, l)) {
            tr->result = (e & PTE_P) ? 0 : -ENOENT;
            return;
        }
        table = e & PTE_ADDR_MASK;
    }
}

/* ---- text ------------------------------------------------------------------------------ */

/* Append `word` to buf (space-separated), truncating safely. */
static void append_word(char *buf, size_t size, size_t *len, const char *word)
{
    int n;

    if (*len >= size)
        return;
    n = snprintf(buf + *len, size - *len, "%s%s", *len ? " " : "", word);
    if (n > 0)
        *len += (size_t)n;
    if (*len >= size)
        *len = size;
}

char *pte_flags_str(pte_t e, int level, char *buf, size_t size)
{
    static const struct {
        pte_t bit;
        const char *name;
    } low[] = {{PTE_P, "P"},     {PTE_RW, "RW"}, {PTE_US, "US"}, {PTE_PWT, "PWT"},
               {PTE_PCD, "PCD"}, {PTE_A, "A"},   {PTE_D, "D"}};
    bool huge = (level == PT_LEVEL_PMD || level == PT_LEVEL_PUD) && (e & PTE_PS);
    size_t len = 0;
    char pk[8];

    if (size == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(low) / sizeof(low[0]); i++)
        if (e & low[i].bit)
            append_word(buf, size, &len, low[i].name);
    if (e & PTE_PS)
        append_word(buf, size, &len, level == PT_LEVEL_PTE ? "PAT" : "PS");
    if (e & PTE_G)
        append_word(buf, size, &len, (e & PTE_P) ? "G" : "PROTNONE");
    if (huge && (e & PTE_PATLG))
        append_word(buf, size, &len, "PAT");
    if (e & PTE_SW1)
        append_word(buf, size, &len, "SW1");
    if (e & PTE_SW2)
        append_word(buf, size, &len, "SW2");
    if (e & PTE_SW3)
        append_word(buf, size, &len, "SW3");
    if (pte_pkey(e)) {
        snprintf(pk, sizeof(pk), "PK=%u", pte_pkey(e));
        append_word(buf, size, &len, pk);
    }
    if (e & PTE_NX)
        append_word(buf, size, &len, "NX");
    return buf;
}

static const char *size_label(int level)
{
    return level == PT_LEVEL_PTE ? "4K" : level == PT_LEVEL_PMD ? "2M" : "1G";
}

void pt_trace_print(const struct pgtable *pt, uint64_t va, FILE *out)
{
    struct pt_trace tr;
    const struct pt_trace_step *last;
    char name[24], flags[96];

    pt_trace(pt, va, &tr);
    fprintf(out, "walk 0x%llx (%d-level)\n", (unsigned long long)va, pt->levels);
    for (int i = 0; i < tr.nsteps; i++) {
        const struct pt_trace_step *s = &tr.step[i];

        snprintf(name, sizeof(name), "%s[%u]", pt_level_name(s->level), s->index);
        pte_flags_str(s->entry, s->level, flags, sizeof(flags));
        fprintf(out, "  %-10s @0x%016llx = 0x%016llx%s%s\n", name,
                (unsigned long long)(s->table + 8ULL * s->index), (unsigned long long)s->entry,
                flags[0] ? " " : "", flags);
    }
    if (tr.nsteps == 0) {
        fprintf(out, "  -> non-canonical address\n");
        return;
    }
    last = &tr.step[tr.nsteps - 1];
    snprintf(name, sizeof(name), "%s[%u]", pt_level_name(last->level), last->index);
    if (tr.result == 0)
        fprintf(out, "  -> pa 0x%016llx (%s page)\n",
                (unsigned long long)(pte_addr(last->entry, last->level, true) |
                                     (va & (pt_level_size(last->level) - 1))),
                size_label(last->level));
    else if (last->entry == 0)
        fprintf(out, "  -> not mapped: %s is empty\n", name);
    else
        fprintf(out, "  -> not present: %s = 0x%016llx (swap or PROT_NONE entry)\n", name,
                (unsigned long long)last->entry);
}

/* The open run of pt_dump: leaves with equal bits and size, contiguous in va and pa. */
struct dump_run {
    FILE *out;
    bool open;
    int level;
    pte_t bits;
    uint64_t va, va_end;
    paddr_t pa, pa_end;
};

static void dump_flush(struct dump_run *d)
{
    char flags[96];

    if (!d->open)
        return;
    d->open = false;
    fprintf(d->out, "0x%016llx-0x%016llx %4s pa 0x%013llx %s\n", (unsigned long long)d->va,
            (unsigned long long)d->va_end, size_label(d->level), (unsigned long long)d->pa,
            pte_flags_str(d->bits, d->level, flags, sizeof(flags)));
}

static int dump_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    struct dump_run *d = arg;
    uint64_t size = pt_level_size(level);
    pte_t e = *entry, bits = e & ~leaf_addr_mask(level);
    paddr_t pa = e & leaf_addr_mask(level);

    if (!(e & PTE_P)) {
        dump_flush(d);
        fprintf(d->out, "0x%016llx-0x%016llx %4s swap 0x%016llx\n", (unsigned long long)va,
                (unsigned long long)(va + size), size_label(level), (unsigned long long)e);
        return 0;
    }
    if (d->open && d->level == level && d->bits == bits && d->va_end == va && d->pa_end == pa) {
        d->va_end += size;
        d->pa_end += size;
        return 0;
    }
    dump_flush(d);
    *d = (struct dump_run){d->out, true, level, bits, va, va + size, pa, pa + size};
    return 0;
}

/* Read-only walk: no flags and a leaf callback that writes nothing, so casting away
 * const is safe. */
void pt_dump(const struct pgtable *pt, uint64_t start, uint64_t end, FILE *out)
{
    struct dump_run d = {.out = out};
    const struct pt_walk_ops ops = {.leaf = dump_leaf};

    walk_range((struct pgtable *)pt, start, end, PT_LEVEL_PTE, 0, &ops, &d, NULL);
    dump_flush(&d);
}

/* ---- pt_check ------------------------------------------------------------------------ */

struct check {
    const struct pgtable *pt;
    pfn_t *seen; /* table frames reached, at most table_frames of them */
    uint64_t nseen;
};

static int cmp_pfn(const void *a, const void *b)
{
    pfn_t x = *(const pfn_t *)a, y = *(const pfn_t *)b;

    return (x > y) - (x < y);
}

static void check_table(struct check *c, paddr_t table, int level);

/* Abort if a frame appears twice among the tables reached so far (sorts c->seen). */
static void check_reached_once(struct check *c)
{
    if (!c->seen)
        return;
    qsort(c->seen, c->nseen, sizeof(pfn_t), cmp_pfn);
    for (uint64_t i = 1; i < c->nseen; i++)
        PAGODA_BUG_ON(c->seen[i] == c->seen[i - 1], "every table frame is reached once");
}

/* One non-zero entry at `level`: reserved bits, addresses in RAM, recurse into tables. */
static void check_entry(struct check *c, pte_t e, int level)
{
    const struct phys *phys = c->pt->phys;
    uint64_t size = pt_level_size(level);

    if (level > PT_LEVEL_PUD) {
        PAGODA_BUG_ON(!(e & PTE_P), "PML4E/PML5E entries are present tables or zero");
        PAGODA_BUG_ON(e & PTE_PS, "PS is reserved (zero) in PML4E/PML5E entries");
    }
    if (!is_leaf(e, level)) {
        PAGODA_BUG_ON(!phys_pa_valid(phys, e & PTE_ADDR_MASK), "table entries point into RAM");
        check_table(c, e & PTE_ADDR_MASK, level - 1);
        return;
    }
    if (!(e & PTE_P))
        return; /* swap or PROT_NONE: the address bits are not a frame */
    if (level > PT_LEVEL_PTE)
        PAGODA_BUG_ON(e & PTE_ADDR_MASK & ~PTE_PATLG & (size - 1),
                      "huge leaves have their reserved low address bits zero");
    PAGODA_BUG_ON((e & leaf_addr_mask(level)) >= phys->ram_bytes ||
                      phys->ram_bytes - (e & leaf_addr_mask(level)) < size,
                  "present leaves map frames within RAM");
}

static void check_table(struct check *c, paddr_t table, int level)
{
    const struct phys *phys = c->pt->phys;
    const struct page *tp = table_page(phys, table);
    const pte_t *t = table_entries(phys, table);
    uint64_t nonzero = 0;

    PAGODA_BUG_ON((tp->flags & (PG_PGTABLE | PG_BUDDY)) != PG_PGTABLE,
                  "table frames are allocated PG_PGTABLE frames");
    if (c->nseen >= c->pt->table_frames) {
        for (uint64_t i = 0; c->seen && i < c->nseen; i++) /* a table linked twice? */
            PAGODA_BUG_ON(c->seen[i] == table >> PAGE_SHIFT, "every table frame is reached once");
        PAGODA_BUG_ON(true, "table_frames counts every table frame");
    }
    if (c->seen)
        c->seen[c->nseen] = table >> PAGE_SHIFT;
    c->nseen++;
    for (unsigned i = 0; i < PT_ENTRIES; i++) {
        if (t[i] == 0)
            continue;
        nonzero++;
        if (level == c->pt->levels && c->pt->shared_top_first && i >= c->pt->shared_top_first) {
            PAGODA_BUG_ON((t[i] & (PTE_P | PTE_PS)) != PTE_P || !phys_pa_valid(phys, t[i] & PTE_ADDR_MASK),
                          "shared top-level entries are present tables in RAM");
            continue; /* another page table owns (and checks) what they point to */
        }
        check_entry(c, t[i], level);
    }
    PAGODA_BUG_ON(tp->private != nonzero, "table ->private counts its non-zero entries");
}

/* The reached-once check needs a scratch array; without memory it is skipped. */
void pt_check(const struct pgtable *pt)
{
    struct check c = {pt, NULL, 0};

    PAGODA_BUG_ON(pt->levels != 4 && pt->levels != 5, "a page table has 4 or 5 levels");
    PAGODA_BUG_ON(!phys_pa_valid(pt->phys, pt->root) || (pt->root & (PAGE_SIZE - 1)),
                  "the root is a frame within RAM");
    c.seen = calloc(pt->table_frames ? pt->table_frames : 1, sizeof(pfn_t));
    check_table(&c, pt->root, pt->levels);
    PAGODA_BUG_ON(c.nseen != pt->table_frames, "table_frames counts every table frame");
    check_reached_once(&c);
    free(c.seen);
}
