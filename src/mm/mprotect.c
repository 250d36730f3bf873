/*
 * mprotect: Linux's do_mprotect_pkey() and mprotect_fixup() (mm/mprotect.c).
 */
#include "mm/huge.h"

/* Page-table bits for a VMA's flags (Linux's protection_map on x86-64): private
 * writable maps are mapped read-only so the first write faults (COW); PROT_NONE is
 * PROTNONE with P clear. */
static pte_t vma_pte_bits(uint64_t flags)
{
    if (!(flags & (VM_READ | VM_WRITE | VM_EXEC)))
        return PTE_PROTNONE | PTE_A;
    pte_t b = PTE_P | PTE_US | PTE_A;
    if ((flags & VM_WRITE) && (flags & VM_SHARED))
        b |= PTE_RW;
    if (!(flags & VM_EXEC))
        b |= PTE_NX;
    return b;
}

/* Rewrite the present PTEs of [start,end) for new flags; writable bits are only ever
 * removed here, a write fault restores them (no COW state is known to this layer).
 * When a right goes (an access right of the VMA, or RW from PTEs that may have it),
 * the range's TLB entries are shot down. */
static void change_protection(struct mm *mm, uint64_t start, uint64_t end, uint64_t oldflags, uint64_t newflags)
{
    pte_t want = vma_pte_bits(newflags);
    pte_t clear = PTE_RW | PTE_NX | PTE_US | PTE_PROTNONE | PTE_P;
    pte_t set = want & ~PTE_RW;
    thp_split_edges(mm, start, end); /* change_pmd_range's partial PMDs */
    pt_protect(&mm->pt, start, end - start, set, clear & ~(want & PTE_RW));
    if ((oldflags & ~newflags & VM_ACCESS_FLAGS) || ((oldflags & VM_WRITE) && !(want & PTE_RW)))
        mm_flush_tlb_range(mm, start, end);
}

/* mprotect_fixup(): give [start,end) of vma newflags.  *pprev becomes the VMA now
 * covering the range. */
static int mprotect_fixup(struct mm *mm, struct vm_area *vma, struct vm_area **pprev, uint64_t start, uint64_t end,
                          uint64_t newflags)
{
    uint64_t oldflags = vma->flags, pages = (end - start) >> PAGE_SHIFT;
    if (newflags == oldflags) {
        *pprev = vma;
        return 0;
    }
    if (newflags & VM_WRITE) {
        if (!may_expand_vm(mm, newflags, pages) && may_expand_vm(mm, oldflags, pages))
            return -ENOMEM;
        if (!(oldflags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE))) {
            if (mm_vm_enough_memory(mm, pages))
                return -ENOMEM;
            newflags |= VM_ACCOUNT;
        }
    } else if ((oldflags & VM_ACCOUNT) && vma_is_anonymous(vma) && !vma->anon_vma) {
        newflags &= ~VM_ACCOUNT;
    }
    struct vma_merge attrs = {.flags = newflags, .anon_name = vma->anon_name};
    int err = 0;
    struct vm_area *v = vma_modify(mm, *pprev, vma, start, end, &attrs, &err);
    if (!v)
        return err;
    *pprev = v;
    vma_set_flags(mm, v, newflags);
    change_protection(mm, start, end, oldflags, newflags);
    vm_stat_account(mm, oldflags, -(long)pages);
    vm_stat_account(mm, newflags, (long)pages);
    if ((oldflags & (VM_WRITE | VM_SHARED | VM_LOCKED)) == VM_LOCKED && (newflags & VM_WRITE))
        mm_populate_range(mm, start, end);
    return 0;
}

/* calc_vm_prot_bits() for mprotect: PROT_READ/WRITE/EXEC as VM_READ/WRITE/EXEC. */
static uint64_t prot_to_vm_access(uint64_t prot)
{
    return (prot & PGD_PROT_READ ? VM_READ : 0) | (prot & PGD_PROT_WRITE ? VM_WRITE : 0) |
           (prot & PGD_PROT_EXEC ? VM_EXEC : 0);
}

long mm_mprotect(struct mm *mm, uint64_t start, uint64_t len, uint64_t prot)
{
    uint64_t grows = prot & (PGD_PROT_GROWSDOWN | PGD_PROT_GROWSUP);
    prot &= ~(uint64_t)(PGD_PROT_GROWSDOWN | PGD_PROT_GROWSUP);
    if (grows == (PGD_PROT_GROWSDOWN | PGD_PROT_GROWSUP))
        return -EINVAL;
    if (start & ~PAGE_MASK)
        return -EINVAL;
    if (!len)
        return 0;
    len = PAGE_ALIGN(len);
    uint64_t end = start + len;
    if (end <= start)
        return -ENOMEM;
    if (prot & ~(uint64_t)(PGD_PROT_READ | PGD_PROT_WRITE | PGD_PROT_EXEC | PGD_PROT_SEM))
        return -EINVAL;

    /* One VMA holding the whole range already with these rights (the loop below would
     * find newflags == oldflags and change nothing): decided from the lookup index's
     * copy of the VMA's range and flags, without reading the VMA itself. */
    struct vma_summary sum;
    if (!grows && vma_tree_find_summary(&mm->vmas, start, &sum) && sum.start <= start && end <= sum.end) {
        uint64_t newflags = prot_to_vm_access(prot) | (sum.tag & ~VM_ACCESS_FLAGS);
        if ((newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS)
            return -EACCES;
        if (newflags == sum.tag)
            return 0;
    }

    struct vm_area *vma = vma_of(vma_tree_find_intersection(&mm->vmas, start, end));
    if (!vma)
        return -ENOMEM;
    if (grows & PGD_PROT_GROWSDOWN) {
        if (vma_start(vma) >= end)
            return -ENOMEM;
        start = vma_start(vma);
        if (!(vma->flags & VM_GROWSDOWN))
            return -EINVAL;
    } else {
        if (vma_start(vma) > start)
            return -ENOMEM;
        if (grows & PGD_PROT_GROWSUP)
            return -EINVAL; /* no VM_GROWSUP on x86-64 */
    }
    struct vm_area *prev = vma_prev(vma);
    if (start > vma_start(vma))
        prev = vma;
    uint64_t nstart = start, tmp = vma_start(vma);
    int err = 0;
    while (vma && vma_start(vma) < end) {
        if (vma_start(vma) != tmp) {
            err = -ENOMEM;
            break;
        }
        uint64_t newflags = prot_to_vm_access(prot) | (vma->flags & ~VM_ACCESS_FLAGS);
        if ((newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS) {
            err = -EACCES;
            break;
        }
        tmp = mm_min(vma_end(vma), end);
        err = mprotect_fixup(mm, vma, &prev, nstart, tmp, newflags);
        if (err)
            break;
        tmp = vma_end(prev);
        nstart = tmp;
        if (tmp >= end) /* done: skip the loop test's look at the next VMA */
            break;
        vma = vma_next(prev);
    }
    if (!err && tmp < end)
        err = -ENOMEM;
    mm_validate(mm);
    return err;
}
