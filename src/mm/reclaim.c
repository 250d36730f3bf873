/*
 * mm/reclaim.c - the LRU and reclaim side of the madvise page effects, as Linux 6.18
 * has them with no swap device:
 *   - the lru_lazyfree folio batch (mm/swap.c): MADV_FREE queues pages, and they
 *     become lazyfree (PG_swapbacked cleared, pglazyfree counted) when the batch holds
 *     31 or lru_add_drain() runs (MADV_FREE/COLD/PAGEOUT, munmap, exit);
 *   - MADV_FREE's page walk (madvise_free_pte_range);
 *   - MADV_COLD and MADV_PAGEOUT (madvise_cold_or_pageout_pte_range, then
 *     shrink_folio_list for PAGEOUT): anonymous pages stay (no swap), lazyfree clean
 *     ones are freed (pglazyfreed), file and shmem pages are unmapped and, when clean,
 *     dropped from the page cache;
 *   - punching a hole in a file (MADV_REMOVE; truncation would do the same):
 *     unmap_mapping_range() over every mm, then the cache pages go.
 * Linux finds every mapping of a file page through the file's i_mmap tree; pagoda
 * walks the machine's list of address spaces (mm_machine.mms) instead and looks at
 * the VMAs of the file.
 */
#include "mm/fault.h"

/* ---- helpers ------------------------------------------------------------------------- */

/* Linux's pte_present(): a PROT_NONE entry is present too. */
static bool leaf_mapped(pte_t e)
{
    return e & (PTE_P | PTE_PROTNONE);
}

static struct page *leaf_page(struct mm *mm, pte_t e, int level)
{
    return phys_page(mm->phys, pte_addr(e, level, true) >> PAGE_SHIFT);
}

/* Pages of the block a frame heads (a compound page counts all of its frames). */
static unsigned block_order(const struct page *pg)
{
    return (pg->flags & PG_HEAD) ? pg->order : 0;
}

/* Addresses collected during a walk, acted on after it (zapping inside the walker's
 * callbacks would free the tables it walks). */
struct va_list_ {
    uint64_t *va;
    size_t n, cap;
};

static int va_push(struct va_list_ *l, uint64_t va)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        uint64_t *grown = realloc(l->va, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        l->va = grown;
        l->cap = cap;
    }
    l->va[l->n++] = va;
    return 0;
}

/* ---- the lru_lazyfree batch ----------------------------------------------------------- */

void mm_lru_add_drain(struct phys *phys)
{
    struct mm_machine *m = mm_machine_of(phys);
    for (unsigned i = 0; i < m->lazyfree_count; i++) {
        pfn_t pfn = m->lazyfree_batch[i];
        struct page *pg = phys_page(phys, pfn);
        unsigned order = block_order(pg);
        if ((pg->flags & (PG_ANON | PG_SWAPBACKED)) == (PG_ANON | PG_SWAPBACKED)) { /* lru_lazyfree() */
            pg->flags &= ~(uint32_t)(PG_ACTIVE | PG_REFERENCED | PG_SWAPBACKED);
            count_vm_events(phys, VM_PGLAZYFREE, 1ULL << order);
        }
        if (--pg->refcount == 0) /* zapped while queued: the batch held the last reference */
            phys_free(phys, pfn, order);
    }
    m->lazyfree_count = 0;
}

/* folio_mark_lazyfree(): queue an anonymous swap-backed page, with a reference. */
static void mark_lazyfree(struct phys *phys, pfn_t pfn)
{
    struct page *pg = phys_page(phys, pfn);
    if ((pg->flags & (PG_ANON | PG_SWAPBACKED)) != (PG_ANON | PG_SWAPBACKED))
        return;
    struct mm_machine *m = mm_machine_of(phys);
    pg->refcount++;
    m->lazyfree_batch[m->lazyfree_count++] = pfn;
    if (m->lazyfree_count == MM_LRU_BATCH)
        mm_lru_add_drain(phys);
}

/* ---- MADV_FREE -------------------------------------------------------------------------- */

struct lazyfree_walk {
    struct mm *mm;
    uint64_t start, end;
};

/* madvise_free_pte_range() for one leaf: a page dirty in the struct page is cleaned
 * only when this is its one mapping; the PTE loses its accessed and dirty bits; the
 * page is queued to become lazyfree.  Swap entries, markers and the zero page stay;
 * a huge page the range covers only in part is left alone. */
static int lazyfree_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    const struct lazyfree_walk *w = arg;
    pte_t e = *entry;
    if (!leaf_mapped(e) || (e & PTE_SPECIAL))
        return 0;
    if (va < w->start || va + pt_level_size(level) > w->end)
        return 0;
    struct page *pg = leaf_page(w->mm, e, level);
    if (pg->flags & PG_DIRTY) {
        if (pg->mapcount != 1)
            return 0; /* do not interfere with other mappings */
        pg->flags &= ~(uint32_t)PG_DIRTY;
    }
    *entry = e & ~(PTE_A | PTE_D);
    mark_lazyfree(w->mm->phys, phys_page_pfn(w->mm->phys, pg));
    return 0;
}

int mm_lazyfree_range(struct mm *mm, uint64_t start, uint64_t end)
{
    mm_lru_add_drain(mm->phys);
    const struct pt_walk_ops ops = {.leaf = lazyfree_leaf};
    struct lazyfree_walk w = {mm, start, end};
    int err = pt_walk_range(&mm->pt, start, end, PT_LEVEL_PTE, 0, &ops, &w);
    mm_flush_tlb_range(mm, start, end);
    return err;
}

/* ---- MADV_COLD / MADV_PAGEOUT --------------------------------------------------------- */

struct lru_walk {
    struct mm *mm;
    bool pageout, file_ok;
    struct va_list_ out; /* PAGEOUT: pages isolated for reclaim */
    int err;
};

/* madvise_cold_or_pageout_pte_range() for one leaf: only pages this is the one
 * mapping of (not the zero page); PAGEOUT of a file the caller may not write takes
 * anonymous pages only.  COLD makes the page old and inactive; PAGEOUT isolates it. */
static int lru_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    struct lru_walk *w = arg;
    pte_t e = *entry;
    if (!leaf_mapped(e) || (e & PTE_SPECIAL) || level != PT_LEVEL_PTE)
        return 0;
    struct page *pg = leaf_page(w->mm, e, level);
    if (pg->mapcount != 1)
        return 0;
    if (w->pageout && !(pg->flags & PG_ANON) && !w->file_ok)
        return 0;
    pg->flags &= ~(uint32_t)PG_REFERENCED;
    if (!w->pageout) {
        *entry = e & ~PTE_A;
        pg->flags &= ~(uint32_t)PG_ACTIVE; /* folio_deactivate() */
        return 0;
    }
    w->err = va_push(&w->out, va);
    return w->err;
}

/* shrink_folio_list() for one isolated page, with no swap device:
 *   - anonymous and swap-backed: cannot go anywhere; activated;
 *   - lazyfree: freed when clean and unreferenced elsewhere (pglazyfreed), else it
 *     was written again and becomes swap-backed (and dirty) once more;
 *   - file or shmem: unmapped (a dirty PTE dirties the page), then dropped from the
 *     cache when clean; a dirty page stays cached (only kswapd writes back). */
static void reclaim_page(struct mm *mm, uint64_t va)
{
    pte_t e;
    int level;
    if (pt_lookup(&mm->pt, va, &e, &level) || !leaf_mapped(e))
        return;
    struct page *pg = leaf_page(mm, e, level);
    if ((pg->flags & (PG_ANON | PG_SWAPBACKED)) == (PG_ANON | PG_SWAPBACKED)) {
        pg->flags |= PG_ACTIVE;
        return;
    }
    if (pg->flags & PG_ANON) {
        if ((e & PTE_D) || (pg->flags & PG_DIRTY) || pg->refcount != pg->mapcount) {
            pg->flags |= PG_SWAPBACKED | PG_ACTIVE | ((e & PTE_D) ? PG_DIRTY : 0);
            return;
        }
        mm_zap_range(mm, va, va + PAGE_SIZE);
        count_vm_events(mm->phys, VM_PGLAZYFREED, 1);
        return;
    }
    struct pagecache *c = pg->mapping;
    uint64_t pgoff = pg->index;
    if (e & PTE_D)
        pg->flags |= PG_DIRTY;
    mm_zap_range(mm, va, va + PAGE_SIZE); /* the cache keeps its own reference */
    if (pg->flags & PG_DIRTY)
        pg->flags |= PG_ACTIVE;
    else
        pagecache_drop(c, pgoff);
}

int mm_cold_range(struct mm *mm, uint64_t start, uint64_t end, bool pageout, bool file_ok)
{
    mm_lru_add_drain(mm->phys);
    struct lru_walk w = {.mm = mm, .pageout = pageout, .file_ok = file_ok};
    const struct pt_walk_ops ops = {.leaf = lru_leaf};
    pt_walk_range(&mm->pt, start, end, PT_LEVEL_PTE, 0, &ops, &w);
    for (size_t i = 0; i < w.out.n; i++)
        reclaim_page(mm, w.out.va[i]);
    free(w.out.va);
    mm_flush_tlb_range(mm, start, end);
    return w.err;
}

/* ---- punching holes ---------------------------------------------------------------------- */

struct cache_ptes {
    struct mm *mm;
    const struct pagecache *c;
    struct va_list_ out;
    int err;
};

/* A PTE mapping a page of the cache (not a private copy: even_cows is off). */
static int cache_pte_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    struct cache_ptes *w = arg;
    pte_t e = *entry;
    if (!leaf_mapped(e) || (e & PTE_SPECIAL) || level != PT_LEVEL_PTE)
        return 0;
    const struct page *pg = leaf_page(w->mm, e, level);
    if ((pg->flags & PG_ANON) || pg->mapping != w->c)
        return 0;
    w->err = va_push(&w->out, va);
    return w->err;
}

/* unmap_mapping_range(mapping, [first, last), even_cows = 0) in one mm. */
static int unmap_cache_range(struct mm *mm, const struct pagecache *c, uint64_t first, uint64_t last)
{
    for (struct vm_area *v = mm_first_vma(mm); v; v = vma_next(v)) {
        if (!v->file || vma_is_anonymous(v) || pagecache_find(v->file, mm->phys) != c)
            continue;
        uint64_t lo = mm_max(first, v->pgoff), hi = mm_min(last, v->pgoff + vma_pages(v));
        if (lo >= hi)
            continue;
        uint64_t start = vma_start(v) + ((lo - v->pgoff) << PAGE_SHIFT);
        uint64_t end = vma_start(v) + ((hi - v->pgoff) << PAGE_SHIFT);
        struct cache_ptes w = {.mm = mm, .c = c};
        const struct pt_walk_ops ops = {.leaf = cache_pte_leaf};
        pt_walk_range(&mm->pt, start, end, PT_LEVEL_PTE, 0, &ops, &w);
        for (size_t i = 0; i < w.out.n; i++)
            mm_zap_range(mm, w.out.va[i], w.out.va[i] + PAGE_SIZE);
        free(w.out.va);
        if (w.err)
            return w.err;
        mm_flush_tlb_range(mm, start, end);
    }
    return 0;
}

int mm_punch_hole(struct mm_file *f, struct phys *phys, uint64_t first, uint64_t last)
{
    struct pagecache *c = pagecache_attach(f, phys);
    if (!c)
        return -ENOMEM;
    for (struct mm *mm = mm_machine_of(phys)->mms; mm; mm = mm->machine_next) {
        int err = unmap_cache_range(mm, c, first, last);
        if (err)
            return err;
    }
    return pagecache_punch(c, first, last);
}
