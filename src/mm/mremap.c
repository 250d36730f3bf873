/*
 * mremap: Linux 6.18's mm/mremap.c (the 6.16 vma_remap_struct rewrite, 6.17's
 * check_prep_vma() and multi-VMA moves), with the same order of checks so that
 * errors come out with the same precedence, and copy_vma() of mm/vma.c.
 *
 * A move copies the VMA (merging it with its new neighbours when the attributes
 * allow), moves every page-table entry of the old range to the new one, then unmaps
 * the old range - or, with MREMAP_DONTUNMAP, leaves it mapped but empty.
 */
#include "mm/huge.h"

/* What a call is doing to its (current) VMA; see vrm_remap_type(). */
enum remap_type { REMAP_NO_RESIZE, REMAP_SHRINK, REMAP_EXPAND };

/* One mremap request as it is worked through (Linux's struct vma_remap_struct).
 * Lengths are page-aligned; for a multi-VMA move each VMA in turn fills it. */
struct remap {
    uint64_t addr, old_len, new_len, flags, new_addr;
    uint64_t delta;         /* |old_len - new_len| */
    enum remap_type type;
    struct vm_area *vma;    /* the VMA containing addr */
    bool populate_expand;   /* a locked VMA grew: populate the new part afterwards */
};

/* ---- parameter checks --------------------------------------------------------- */

/* FIXED or DONTUNMAP: the call will certainly map somewhere new. */
static bool implies_new_addr(const struct remap *r)
{
    return r->flags & (PGD_MREMAP_FIXED | PGD_MREMAP_DONTUNMAP);
}

/* FIXED with equal lengths: a pure move, which may span several VMAs (6.17+). */
static bool move_only(const struct remap *r)
{
    return (r->flags & PGD_MREMAP_FIXED) && r->old_len == r->new_len;
}

static bool ranges_overlap(const struct remap *r)
{
    return r->addr + r->old_len > r->new_addr && r->new_addr + r->new_len > r->addr;
}

/* check_mremap_params(): everything decidable without looking at a VMA. */
static long check_params(const struct mm *mm, const struct remap *r)
{
    if (r->flags & ~(uint64_t)(PGD_MREMAP_MAYMOVE | PGD_MREMAP_FIXED | PGD_MREMAP_DONTUNMAP))
        return -EINVAL;
    if (r->addr & ~PAGE_MASK)
        return -EINVAL;
    if (!r->new_len || r->new_len > mm->task_size)
        return -EINVAL;
    if (!implies_new_addr(r))
        return 0;
    if (r->new_addr > mm->task_size - r->new_len)
        return -EINVAL;
    if (r->new_addr & ~PAGE_MASK)
        return -EINVAL;
    if (!(r->flags & PGD_MREMAP_MAYMOVE))
        return -EINVAL;
    if ((r->flags & PGD_MREMAP_DONTUNMAP) && r->old_len != r->new_len)
        return -EINVAL;
    if (ranges_overlap(r))
        return -EINVAL;
    /* Both the destination and the source may be split in three before the
     * move itself; stay four maps below the limit (the unlocked early check). */
    if (mm->map_count + 2 >= mm->cfg.max_map_count - 3)
        return -ENOMEM;
    return 0;
}

/* mlock_future_ok(): may a VM_LOCKED area grow by `bytes`? */
static bool mlock_future_ok(const struct mm *mm, uint64_t vm_flags, uint64_t bytes)
{
    if (!(vm_flags & VM_LOCKED) || mm->cfg.cap_ipc_lock)
        return true;
    return (bytes >> PAGE_SHIFT) + mm->locked_vm <= mm->cfg.rlimit_memlock >> PAGE_SHIFT;
}

/* align_hugetlb(): hugetlb lengths are whole huge pages of the VMA, addresses (also
 * an unused new_addr) huge-aligned, and growth is refused (the reservation cannot be
 * split). */
static bool align_hugetlb(struct remap *r)
{
    const uint64_t hmask = vma_page_size(r->vma) - 1;
    r->old_len = (r->old_len + hmask) & ~hmask;
    r->new_len = (r->new_len + hmask) & ~hmask;
    if ((r->addr & hmask) || (r->new_addr & hmask))
        return false;
    return r->new_len <= r->old_len;
}

/* check_prep_vma(): the checks that need the VMA at addr, in Linux's order.  Sets
 * delta and type; a call that maps nothing new (same size, plain shrink) is checked
 * no further, which is why `old_len` may then overrun the VMA. */
static int check_prep_vma(struct mm *mm, struct remap *r)
{
    struct vm_area *vma = r->vma;
    if (!vma)
        return -EFAULT;
    if (vma->flags & VM_SEALED)
        return -EPERM;
    if ((vma->flags & VM_HUGETLB) && !align_hugetlb(r))
        return -EINVAL;
    r->delta = r->old_len > r->new_len ? r->old_len - r->new_len : r->new_len - r->old_len;
    r->type = !r->delta ? REMAP_NO_RESIZE : r->old_len > r->new_len ? REMAP_SHRINK : REMAP_EXPAND;
    if (!implies_new_addr(r))
        r->new_addr = r->addr;
    if (r->type != REMAP_EXPAND && !implies_new_addr(r))
        return 0;

    uint64_t old_len = r->old_len, new_len = r->new_len;
    if (!old_len && !(vma->flags & (VM_SHARED | VM_MAYSHARE)))
        return -EINVAL; /* "duplicating" a private mapping */
    if ((r->flags & PGD_MREMAP_DONTUNMAP) && (vma->flags & (VM_DONTEXPAND | VM_PFNMAP)))
        return -EINVAL;
    if (r->type == REMAP_SHRINK)
        old_len = new_len; /* the part to be unmapped may cross VMAs */
    if (old_len > vma_end(vma) - r->addr)
        return -EFAULT;
    if (new_len == old_len)
        return 0;
    if (vma->flags & VM_LOCKED)
        r->populate_expand = true;
    uint64_t pgoff = vma->pgoff + ((r->addr - vma_start(vma)) >> PAGE_SHIFT);
    if (pgoff + (new_len >> PAGE_SHIFT) < pgoff)
        return -EINVAL;
    if (vma->flags & (VM_DONTEXPAND | VM_PFNMAP))
        return -EFAULT;
    if (!mlock_future_ok(mm, vma->flags, r->delta))
        return -EAGAIN;
    if (!may_expand_vm(mm, vma->flags, r->delta >> PAGE_SHIFT))
        return -ENOMEM;
    return 0;
}

/* vrm_calc_charge(): an accounted VMA's new pages must pass the overcommit policy -
 * all of new_len with DONTUNMAP, else the difference of the lengths.  Checked only
 * when the work is about to be done: after a FIXED target was already unmapped. */
static bool charge_ok(const struct mm *mm, const struct remap *r)
{
    if (!(r->vma->flags & VM_ACCOUNT))
        return true;
    uint64_t bytes = (r->flags & PGD_MREMAP_DONTUNMAP) ? r->new_len : r->delta;
    return !mm_vm_enough_memory(mm, bytes >> PAGE_SHIFT);
}

/* ---- page tables ------------------------------------------------------------------ */

/* Leaves of one 2 MiB window of the old range, in address order. */
struct leaf_batch {
    unsigned n;
    struct {
        uint64_t va;
        int level;
        pte_t e;
    } leaf[PT_ENTRIES];
};

static int collect_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    struct leaf_batch *b = arg;
    PAGODA_BUG_ON(b->n >= PT_ENTRIES, "a 2 MiB window holds at most 512 leaves");
    b->leaf[b->n].va = va;
    b->leaf[b->n].level = level;
    b->leaf[b->n].e = *entry;
    b->n++;
    return 0;
}

static int install_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    PAGODA_BUG_ON(*entry, "the destination of a page-table move is empty");
    *entry = *(const pte_t *)arg;
    return 0;
}

static int clear_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    *entry = 0;
    return 0;
}

/* Move one leaf entry (any kind: page, swap, marker) from va to dst.  The source
 * tables are kept, so a move back never needs memory.  0 or -ENOMEM. */
static int move_one_leaf(struct mm *mm, uint64_t va, uint64_t dst, int level, pte_t e)
{
    const struct pt_walk_ops install = {.leaf = install_leaf}, clear = {.leaf = clear_leaf};
    uint64_t size = pt_level_size(level);
    int err = pt_walk_range(&mm->pt, dst, dst + size, level, PT_WALK_ALLOC, &install, &e);
    if (err)
        return err;
    return pt_walk_range(&mm->pt, va, va + size, level, 0, &clear, NULL);
}

/* Move the entries of [w, wend) (inside one 2 MiB window) by `shift` bytes.  A huge
 * leaf whose destination is not aligned like it is split first.  Sets *done to the
 * bytes of the window (from w) whose entries have all moved; 0 or -ENOMEM. */
static int move_window(struct mm *mm, uint64_t w, uint64_t wend, uint64_t shift, uint64_t *done)
{
    struct leaf_batch *b = malloc(sizeof(*b));
    *done = 0;
    if (!b)
        return -ENOMEM;
    const struct pt_walk_ops collect = {.leaf = collect_leaf};
    bool resplit;
    int err;
    do {
        resplit = false;
        b->n = 0;
        err = pt_walk_range(&mm->pt, w, wend, PT_LEVEL_PTE, PT_WALK_SPLIT, &collect, b);
        for (unsigned i = 0; !err && !resplit && i < b->n; i++) {
            uint64_t va = b->leaf[i].va, size = pt_level_size(b->leaf[i].level);
            if (b->leaf[i].level > PT_LEVEL_PTE && ((va + shift) & (size - 1))) {
                err = thp_split_leaf(mm, va, b->leaf[i].level); /* split_huge_pmd() */
                resplit = !err;
                continue;
            }
            err = move_one_leaf(mm, va, va + shift, b->leaf[i].level, b->leaf[i].e);
            if (!err)
                *done = va + size - w;
        }
    } while (resplit);
    if (!err)
        *done = wend - w;
    free(b);
    return err;
}

/* move_page_tables(): move every entry of [old, old+len) to [new, new+len).  Returns
 * the bytes moved from the start: len, or less when memory ran out.  The moved part
 * of the old range is shot down from the TLB. */
static uint64_t move_page_tables(struct mm *mm, uint64_t old, uint64_t new, uint64_t len)
{
    uint64_t pos = old, end = old + len, moved = len;
    thp_split_edges(mm, old, end); /* a PMD the range cuts is split, not moved */
    while (pos < end) {
        uint64_t wend = mm_min((pos + PMD_SIZE) & ~(PMD_SIZE - 1), end), done = 0;
        if (move_window(mm, pos, wend, new - old, &done)) { /* unsigned shift wraps as needed */
            moved = pos + done - old;
            break;
        }
        pos = wend;
    }
    mm_flush_tlb_range(mm, old, old + moved); /* the old addresses translate no more */
    return moved;
}

/* After a move: free the page tables of the old range's 2 MiB windows that are now
 * empty (entries of other VMAs are left alone: only empty tables go). */
static void free_empty_tables(struct mm *mm, uint64_t old, uint64_t len)
{
    uint64_t lo = old & ~(PMD_SIZE - 1), hi = (old + len + PMD_SIZE - 1) & ~(PMD_SIZE - 1);
    if (len)
        pt_walk_range(&mm->pt, lo, hi, PT_LEVEL_PTE, PT_WALK_FREE_EMPTY, NULL, NULL);
}

/* ---- VMA copy ----------------------------------------------------------------------- */

/* The merged-into VMA inherits the copied VMA's anon_vma (vmg->copied_from). */
static void inherit_anon(struct vm_area *dst, struct anon_vma *av, int chain)
{
    if (av && !dst->anon_vma) {
        dst->anon_vma = anon_vma_get(av);
        dst->anon_chain = chain ? chain : 1;
    }
}

/* copy_vma(): a VMA for [addr, addr+len) with *srcp's attributes, merged with its new
 * neighbours when possible.  An anonymous VMA that was never faulted takes the new
 * address as pgoff, so that it can merge there.  If the source itself was merged
 * into the result, *srcp becomes the result.  NULL when out of memory. */
static struct vm_area *copy_vma(struct mm *mm, struct vm_area **srcp, uint64_t addr, uint64_t len, uint64_t pgoff)
{
    struct vm_area *src = *srcp;
    uint64_t src_start = vma_start(src);
    if (vma_is_anonymous(src) && !src->anon_vma)
        pgoff = addr >> PAGE_SHIFT;
    struct vm_area *next = mm_find_vma(mm, addr);
    PAGODA_BUG_ON(next && vma_start(next) < addr + len, "the destination of a move is free");
    struct vma_merge vmg = {.start = addr, .end = addr + len, .pgoff = pgoff, .flags = src->flags,
                            .file = src->file, .anon_vma = src->anon_vma, .anon_name = src->anon_name,
                            .prev = next ? vma_prev(next) : vma_of(mm->vmas.last), .next = next, .middle = src};
    struct anon_vma *av = src->anon_vma ? anon_vma_get(src->anon_vma) : NULL; /* src may be absorbed */
    int chain = src->anon_chain;
    struct vm_area *nv = vma_merge_new_range(mm, &vmg);
    if (nv) {
        inherit_anon(nv, av, chain);
        if (src_start >= vma_start(nv) && src_start < vma_end(nv))
            *srcp = nv;
    } else {
        nv = vma_dup(src);
        if (nv) {
            vma_set_range(nv, addr, addr + len, pgoff);
            if (nv->ops && nv->ops->open)
                nv->ops->open(nv);
            vma_link(mm, nv);
        }
    }
    if (av)
        anon_vma_put(av);
    return nv;
}

/* ---- moving ----------------------------------------------------------------------- */

/* vrm_stat_account(): the pages the call adds, in the VMA's categories. */
static void remap_stat_account(struct mm *mm, const struct vm_area *vma, uint64_t bytes)
{
    vm_stat_account(mm, vma->flags, (long)(bytes >> PAGE_SHIFT));
    if (vma->flags & VM_LOCKED)
        mm->locked_vm += bytes >> PAGE_SHIFT;
}

/* vrm_set_new_addr(): the destination - exactly new_addr with FIXED, new_addr as a
 * hint with DONTUNMAP alone, else anywhere (a top-down search without a hint). */
static long set_new_addr(struct mm *mm, struct remap *r)
{
    struct vm_area *vma = r->vma;
    uint64_t pgoff = vma->pgoff + ((r->addr - vma_start(vma)) >> PAGE_SHIFT);
    uint64_t map_flags = (r->flags & PGD_MREMAP_FIXED ? PGD_MAP_FIXED : 0) |
                         (vma->flags & VM_MAYSHARE ? PGD_MAP_SHARED : 0);
    long res = mm_get_unmapped_area(mm, vma->file, implies_new_addr(r) ? r->new_addr : 0, r->new_len, pgoff,
                                    map_flags, vma->flags);
    if (res < 0)
        return res;
    r->new_addr = (uint64_t)res;
    return 0;
}

/* prep_move_vma(): room under the map-count limit for the splits a move may make,
 * and the VMA's consent to being split at the range edges. */
static int prep_move(struct mm *mm, const struct remap *r)
{
    struct vm_area *vma = r->vma;
    int err = 0;
    if (mm->map_count >= mm->cfg.max_map_count - 3)
        return -ENOMEM;
    if (vma->ops && vma->ops->may_split) {
        if (vma_start(vma) != r->addr)
            err = vma->ops->may_split(vma, r->addr);
        if (!err && vma_end(vma) != r->addr + r->old_len)
            err = vma->ops->may_split(vma, r->addr + r->old_len);
    }
    return err;
}

/* copy_vma_and_data(): the new VMA and the page tables.  On a failure after the new
 * VMA exists, the moved entries go back and *r is pointed at the new range, so that
 * the caller unmaps that instead of the source.  *nvp is NULL if nothing was made. */
static int copy_vma_and_data(struct mm *mm, struct remap *r, struct vm_area **nvp)
{
    struct vm_area *vma = r->vma;
    uint64_t pgoff = vma->pgoff + ((r->addr - vma_start(vma)) >> PAGE_SHIFT);
    struct vm_area *nv = copy_vma(mm, &vma, r->new_addr, r->new_len, pgoff);
    *nvp = nv;
    if (!nv)
        return -ENOMEM;
    r->vma = vma;
    int err = 0;
    uint64_t moved = move_page_tables(mm, r->addr, r->new_addr, r->old_len);
    if (moved < r->old_len)
        err = -ENOMEM;
    else if (vma->ops && vma->ops->mremap)
        err = vma->ops->mremap(nv);
    if (!err) {
        free_empty_tables(mm, r->addr, r->old_len);
    } else {
        uint64_t back = move_page_tables(mm, r->new_addr, r->addr, moved);
        PAGODA_BUG_ON(back != moved, "moving entries back into their own tables needs no memory");
        r->vma = nv;
        r->old_len = r->new_len;
        r->addr = r->new_addr;
    }
    return err;
}

/* dontunmap_complete(): the old VMA stays, empty, and is no longer locked.  Like
 * Linux, locked_vm is left alone: move_vma() has added the new range, and the pages
 * the old VMA no longer locks stay counted, so VmLck (and the RLIMIT_MEMLOCK checks
 * that read locked_vm) over-count from here on; mm_check() allows exactly that.  When
 * the copy merged with the source itself, the merged VMA loses its lock flags. */
static void dontunmap_complete(struct remap *r, struct vm_area *nv)
{
    struct vm_area *old = r->vma;
    bool whole = r->addr == vma_start(old) && r->addr + r->old_len == vma_end(old);
    /* Only the mlock flags: since 2025 ("mm/mremap: do not clear VM_ACCOUNT on
     * DONTUNMAP") the old VMA stays accounted, as 6.18 hosts show by merging it
     * with accounted neighbours. */
    vma_set_flags(old->mm, old, old->flags & ~VM_LOCKED_MASK);
    if (nv != old && whole && old->anon_vma) { /* unlink_anon_vmas() */
        anon_vma_put(old->anon_vma);
        old->anon_vma = NULL;
        old->anon_chain = 0;
    }
}

/* unmap_source_vma(): the old range goes as with munmap (best effort: a failed split
 * leaves both mapped, as in Linux). */
static void unmap_source(struct mm *mm, struct remap *r)
{
    (void)do_munmap_range(mm, r->addr, r->addr + r->old_len);
    r->vma = NULL;
}

/* move_vma(): copy, move the page tables, then unmap (or empty) the source.
 * Returns the new address or -errno. */
static long move_vma(struct mm *mm, struct remap *r)
{
    int err = prep_move(mm, r);
    if (err)
        return err;
    if (!charge_ok(mm, r))
        return -ENOMEM;
    struct vm_area *nv;
    err = copy_vma_and_data(mm, r, &nv);
    if (err && !nv)
        return err;
    remap_stat_account(mm, r->vma, r->new_len);
    if (!err && (r->flags & PGD_MREMAP_DONTUNMAP))
        dontunmap_complete(r, nv);
    else
        unmap_source(mm, r);
    return err ? err : (long)r->new_addr;
}

/* ---- shrink, expand ---------------------------------------------------------------- */

/* shrink_vma(): unmap [addr+new_len, addr+old_len) like munmap, which may cross VMA
 * boundaries.  With `reload`, find the VMA at addr again for a following move. */
static long shrink(struct mm *mm, struct remap *r, bool reload)
{
    uint64_t start = r->addr + r->new_len;
    r->vma = NULL;
    if (start > mm->task_size || r->delta > mm->task_size - start)
        return -EINVAL; /* do_vmi_munmap()'s range check */
    int err = do_munmap_range(mm, start, start + r->delta);
    if (err)
        return err;
    if (reload) {
        r->vma = mm_vma_lookup(mm, r->addr);
        if (!r->vma)
            return -EFAULT;
    }
    return 0;
}

/* vma_expandable(): is [vm_end, vm_end+delta) free and a valid place to map? */
static bool vma_expandable(struct mm *mm, const struct vm_area *vma, uint64_t delta)
{
    uint64_t end = vma_end(vma) + delta;
    if (end < vma_end(vma))
        return false;
    if (vma_tree_find_intersection(&mm->vmas, vma_end(vma), end))
        return false;
    return mm_get_unmapped_area(mm, NULL, vma_start(vma), end - vma_start(vma), 0, PGD_MAP_FIXED, 0) >= 0;
}

/* expand_vma_in_place(): vma_merge_extend() - grow the VMA over the free space after
 * it, merging with the next VMA when that is compatible. */
static long expand_in_place(struct mm *mm, struct remap *r)
{
    if (!charge_ok(mm, r))
        return -ENOMEM;
    struct vm_area *vma = r->vma;
    struct vma_merge vmg = {.start = vma_end(vma), .end = vma_end(vma) + r->delta,
                            .pgoff = vma->pgoff + vma_pages(vma), .flags = vma->flags, .file = vma->file,
                            .anon_vma = vma->anon_vma, .anon_name = vma->anon_name, .prev = vma,
                            .next = vma_next(vma)};
    vma = vma_merge_new_range(mm, &vmg);
    if (!vma)
        return -ENOMEM;
    r->vma = vma;
    remap_stat_account(mm, vma, r->delta);
    return 0;
}

/* expand_vma(): in place when the range ends the VMA and the space after it is free;
 * otherwise move, if allowed. */
static long expand(struct mm *mm, struct remap *r)
{
    if (vma_end(r->vma) - r->addr == r->old_len && vma_expandable(mm, r->vma, r->delta)) {
        long err = expand_in_place(mm, r);
        return err ? err : (long)r->addr;
    }
    if (!(r->flags & PGD_MREMAP_MAYMOVE))
        return -ENOMEM;
    long err = set_new_addr(mm, r);
    if (err)
        return err;
    return move_vma(mm, r);
}

/* mremap_at(): resize without a required new address. */
static long remap_at(struct mm *mm, struct remap *r)
{
    switch (r->type) {
    case REMAP_NO_RESIZE:
        return (long)r->addr;
    case REMAP_SHRINK: {
        long err = shrink(mm, r, false);
        return err ? err : (long)r->addr;
    }
    case REMAP_EXPAND:
        return expand(mm, r);
    }
    PAGODA_BUG_ON(true, "a remap is a no-op, a shrink or an expansion");
    return -EINVAL;
}

/* mremap_to(): move to new_addr (FIXED: exactly there, after unmapping it). */
static long remap_to(struct mm *mm, struct remap *r)
{
    long err;
    if (r->flags & PGD_MREMAP_FIXED) {
        r->vma = NULL;
        err = do_munmap_range(mm, r->new_addr, r->new_addr + r->new_len);
        if (err)
            return err;
        r->vma = mm_vma_lookup(mm, r->addr);
        if (!r->vma)
            return -EFAULT;
    }
    if (r->type == REMAP_SHRINK) {
        err = shrink(mm, r, true);
        if (err)
            return err;
        r->old_len = r->new_len;
    }
    if ((r->flags & PGD_MREMAP_DONTUNMAP) && !may_expand_vm(mm, r->vma->flags, r->old_len >> PAGE_SHIFT))
        return -ENOMEM;
    err = set_new_addr(mm, r);
    if (err)
        return err;
    return move_vma(mm, r);
}

/* ---- multi-VMA move ----------------------------------------------------------------- */

/* vma_multi_allowed(): the VMA's placement is sure to honour MAP_FIXED (anonymous,
 * shmem, or a file system using thp_get_unmapped_area; /dev/zero has its own). */
static bool multi_allowed(const struct vm_area *vma)
{
    const struct mm_file *f = vma->file;
    if (!f || f->is_shmem || (vma->flags & VM_HUGETLB) || f->thp_aligned)
        return true;
    return !f->is_dev_zero;
}

/* remap_move(): a FIXED move of [addr, addr+len) that may span several VMAs; each is
 * moved so that the gaps between them are kept.  A gap at the start is EFAULT. */
static long remap_move(struct mm *mm, struct remap *r)
{
    uint64_t start = r->addr, end = r->addr + r->old_len, target = r->new_addr, last_end = 0, pos = start;
    long res = -EFAULT;
    bool seen = false;
    for (struct vm_area *vma = mm_find_vma(mm, start); vma && vma_start(vma) < end && pos < end;
         vma = mm_find_vma(mm, pos)) {
        if (!seen && start < vma_start(vma))
            return -EFAULT;
        uint64_t offset = seen ? vma_start(vma) - last_end : 0;
        uint64_t piece = mm_max(vma_start(vma), start), len = mm_min(end, vma_end(vma)) - piece;
        last_end = vma_end(vma);
        r->vma = vma;
        r->addr = piece;
        r->new_addr = target + offset;
        r->old_len = r->new_len = len;
        if (!multi_allowed(vma) && (seen || vma_end(vma) < end))
            return -EFAULT;
        long got = check_prep_vma(mm, r);
        if (!got)
            got = remap_to(mm, r);
        if (got < 0)
            return got;
        if (!seen)
            res = got;
        seen = true;
        /* new_len, not len: a hugetlb piece was rounded to whole huge pages. */
        target = (uint64_t)got + r->new_len;
        pos = piece + len;
    }
    return res;
}

/* ---- the system call ----------------------------------------------------------------- */

long mm_mremap(struct mm *mm, uint64_t addr, uint64_t old_len, uint64_t new_len, uint64_t flags, uint64_t new_addr)
{
    struct remap r = {.addr = addr, .old_len = PAGE_ALIGN(old_len), .new_len = PAGE_ALIGN(new_len),
                      .flags = flags, .new_addr = new_addr};
    long res = check_params(mm, &r);
    if (res)
        return res;
    if (move_only(&r)) {
        res = remap_move(mm, &r);
    } else {
        r.vma = mm_vma_lookup(mm, r.addr);
        res = check_prep_vma(mm, &r);
        if (!res)
            res = implies_new_addr(&r) ? remap_to(mm, &r) : remap_at(mm, &r);
    }
    if (res >= 0 && r.populate_expand)
        mm_populate_range(mm, r.new_addr + r.old_len, r.new_addr + r.old_len + r.delta);
    mm_validate(mm);
    return res;
}
