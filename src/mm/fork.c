/*
 * mm/fork.c - copying an address space for fork(), as Linux's dup_mmap() does.
 *
 * The child gets a copy of every VMA except VM_DONTCOPY ones (whose pages are
 * subtracted from the copied counters), each with its own anon_vma chained to the
 * parent's (a fork child: it no longer merges with areas of a different anon_vma),
 * the mlock flags cleared (locks are not inherited) and VM_WIPEONFORK areas left
 * without anon_vma or pages.  Page tables are copied only where a fault could not
 * rebuild them: areas with anonymous pages and hugetlb/PFN maps.  Private writable
 * pages become read-only in both processes, so that the first write copies
 * (copy-on-write); every copied entry takes a reference on its frame.
 */
#include "mm/huge.h"

/* Linux's VM_INIT_DEF_MASK: the only def_flags a new mm inherits. */
#define VM_INIT_DEF_MASK VM_NOHUGEPAGE

struct copy_ctx {
    struct mm *mm;
    bool cow; /* private writable area: write-protect both copies */
    uint64_t wp_start, wp_end; /* parent pages write-protected here, for the TLB flush */
    struct mm *child;
};

/* pt_copy's transform: reference the frame once more, and write-protect a private
 * writable page in parent and child alike. */
static pte_t copy_leaf(void *arg, uint64_t va, int level, pte_t *src)
{
    struct copy_ctx *c = arg;
    pte_t huge, before = *src;
    if (huge_copy_leaf(c->mm, c->child, level, src, c->cow, &huge)) { /* huge leaves, THP subpages */
        if ((before & PTE_RW) && !(*src & PTE_RW)) {
            c->wp_start = mm_min(c->wp_start, va);
            c->wp_end = mm_max(c->wp_end, va + pt_level_size(level));
        }
        return huge;
    }
    if (!(*src & (PTE_P | PTE_PROTNONE)) || (*src & PTE_SPECIAL))
        return *src; /* swap entries and special maps: no frame behind */
    struct page *pg = phys_page(c->mm->phys, pte_addr(*src, level, true) >> PAGE_SHIFT);
    pg->refcount++;
    pg->mapcount++;
    if (c->cow && (*src & PTE_RW)) {
        *src &= ~(pte_t)PTE_RW;
        c->wp_start = mm_min(c->wp_start, va);
        c->wp_end = mm_max(c->wp_end, va + pt_level_size(level));
    }
    return *src;
}

/* Does fork copy this VMA's page tables (Linux's vma_needs_copy)? */
static bool fork_copies_pages(const struct vm_area *v)
{
    if (v->flags & VM_WIPEONFORK)
        return false;
    return (v->flags & (VM_HUGETLB | VM_PFNMAP | VM_MIXEDMAP)) || v->anon_vma;
}

/* The child's copy of src, linked into child; 0 or -ENOMEM. */
static int dup_one_vma(struct mm *child, struct mm *parent, const struct vm_area *src)
{
    struct vm_area *v = vma_dup(src);
    if (!v)
        return -ENOMEM;
    v->mm = child;
    if (v->flags & VM_WIPEONFORK) {
        if (v->anon_vma)
            anon_vma_put(v->anon_vma);
        v->anon_vma = NULL;
        v->anon_chain = 0;
    } else if (v->anon_vma) {
        /* anon_vma_fork(): a new anon_vma of the child's, chained under the parent's.
         * Its identity is new, so the copy merges only with areas forked alongside. */
        struct anon_vma *own = anon_vma_new(child);
        if (!own) {
            vma_free(v); /* drops vma_dup's references */
            return -ENOMEM;
        }
        own->parent = v->anon_vma; /* takes over vma_dup's reference */
        v->anon_vma = own;
        v->anon_chain = (src->anon_chain ? src->anon_chain : 1) + 1;
    }
    v->flags &= ~VM_LOCKED_MASK;
    hugetlb_vma_forget_reserve(v); /* hugetlb_dup_vma_private(): the child owns none */
    if (v->ops && v->ops->open)
        v->ops->open(v);
    vma_link(child, v);
    vm_stat_account(child, v->flags, (long)vma_pages(v));
    if (!fork_copies_pages(src))
        return 0;
    struct copy_ctx c = {parent, !(src->flags & VM_SHARED) && (src->flags & VM_WRITE), UINT64_MAX, 0, child};
    int err = pt_copy(&child->pt, &parent->pt, vma_start(src), vma_end(src) - vma_start(src), copy_leaf, &c);
    if (c.wp_end) /* the parent's writable translations of these pages must go */
        mm_flush_tlb_range(parent, c.wp_start, c.wp_end);
    return err;
}

int mm_dup(struct mm *parent, struct mm **out)
{
    *out = NULL;
    struct mm *child;
    int err = mm_create(parent->phys, &parent->cfg, &child);
    if (err)
        return err;
    child->task_size = parent->task_size;
    child->mmap_base = parent->mmap_base;
    child->mmap_legacy_base = parent->mmap_legacy_base;
    child->start_brk = parent->start_brk;
    child->brk = parent->brk;
    child->start_stack = parent->start_stack;
    child->start_code = parent->start_code;
    child->end_code = parent->end_code;
    child->start_data = parent->start_data;
    child->end_data = parent->end_data;
    child->def_flags = parent->def_flags & VM_INIT_DEF_MASK;
    child->anon_vma_ids = parent->anon_vma_ids;
    child->shmem_inodes = parent->shmem_inodes;
    for (struct vm_area *v = mm_first_vma(parent); v; v = vma_next(v)) {
        if (v->flags & VM_DONTCOPY)
            continue;
        /* Each accountable area is charged again (security_vm_enough_memory_mm). */
        if ((v->flags & VM_ACCOUNT) && mm_vm_enough_memory(parent, vma_pages(v)))
            err = -ENOMEM;
        else
            err = dup_one_vma(child, parent, v);
        if (err) {
            mm_destroy(child);
            return err;
        }
    }
    mm_validate(child);
    mm_validate(parent);
    *out = child;
    return 0;
}
