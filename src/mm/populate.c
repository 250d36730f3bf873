/*
 * mm/populate.c - faulting pages in ahead of use, as mm/gup.c does it.
 *
 * Two callers in Linux, two entry points here:
 *   - __mm_populate() (MAP_POPULATE, MAP_LOCKED, mlock, mlockall(MCL_CURRENT), brk and
 *     mmap under MCL_FUTURE, mremap growing a locked area, mprotect making a locked
 *     area writable): VMA by VMA, private writable areas write-faulted (breaking COW),
 *     everything else read-faulted with FOLL_FORCE; VM_IO/VM_PFNMAP areas and
 *     lock-on-fault areas are left alone.
 *   - faultin_page_range() (MADV_POPULATE_READ/WRITE): the access asked for, no
 *     FOLL_FORCE; a hole is ENOMEM, an area not allowing the access EINVAL.
 * Both look each page up first (follow_page_mask) and fault only where the access
 * could not be served, through mm_handle_fault, so that every counter a fault keeps
 * moves as it does for a user fault.  A fault that would signal ends the walk with
 * EFAULT (SIGSEGV/SIGBUS) or ENOMEM (out of memory) after the pages before it.
 */
#include "mm/internal.h"

#include <pagoda/cpu.h>

/* Does an access of this kind at va need a fault?  *e gets the leaf (0 if none).  A
 * present leaf serves a read; a write needs a writable one (follow_page_pte). */
static bool access_needs_fault(struct mm *mm, uint64_t va, bool write, pte_t *e)
{
    int level;
    if (pt_lookup(&mm->pt, va, e, &level))
        *e = 0;
    if (!(*e & PTE_P))
        return true;
    return write && !(*e & PTE_RW);
}

/* FOLL_TOUCH of a write to a present, writable but clean leaf: folio_mark_dirty(),
 * which for a lazily freed page means it is no longer free to drop. */
static void touch_for_write(struct mm *mm, pte_t e)
{
    if ((e & (PTE_D | PTE_SPECIAL)) || !(e & PTE_RW))
        return;
    struct page *pg = phys_page(mm->phys, (e & PTE_ADDR_MASK) >> PAGE_SHIFT);
    pg->flags |= PG_DIRTY;
}

/* faultin_page() for one page: 0, -EFAULT (the fault would signal SIGSEGV or SIGBUS)
 * or -ENOMEM (out of memory). */
static int faultin_one(struct mm *mm, uint64_t va, bool write)
{
    pte_t e;
    if (!access_needs_fault(mm, va, write, &e)) {
        if (write)
            touch_for_write(mm, e);
        return 0;
    }
    unsigned ec = PF_U | (write ? PF_W : 0) | ((e & PTE_P) ? PF_P : 0);
    int signo, code;
    if (!mm_handle_fault(mm, va, ec, &signo, &code))
        return 0;
    return signo == PGD_SIGKILL ? -ENOMEM : -EFAULT;
}

/* __get_user_pages() over [start, end), which lies in one VMA: the pages done, or the
 * error of the first page when that one fails. */
static long faultin_vma_range(struct mm *mm, uint64_t start, uint64_t end, bool write)
{
    for (uint64_t va = start; va < end; va += PAGE_SIZE) {
        int err = faultin_one(mm, va, write);
        if (err)
            return va == start ? err : (long)((va - start) >> PAGE_SHIFT);
    }
    return (long)((end - start) >> PAGE_SHIFT);
}

/* populate_vma_page_range(): [start, end) of vma; pages done or -errno. */
static long populate_vma_range(struct mm *mm, struct vm_area *vma, uint64_t start, uint64_t end)
{
    uint64_t f = vma->flags;
    if (f & VM_LOCKONFAULT)
        return (long)((end - start) >> PAGE_SHIFT);
    bool write = (f & (VM_WRITE | VM_SHARED)) == VM_WRITE;
    /* check_vma_flags(): FOLL_FORCE only for accessible areas; a forced read still
     * needs VM_MAYREAD. */
    if (!(f & VM_ACCESS_FLAGS) || (!write && !(f & VM_READ) && !(f & VM_MAYREAD)))
        return -EFAULT;
    return faultin_vma_range(mm, start, end, write);
}

int mm_populate(struct mm *mm, uint64_t start, uint64_t end, bool ignore_errors)
{
    uint64_t nend;
    for (uint64_t nstart = start; nstart < end; nstart = nend) {
        struct vm_area *vma = vma_of(vma_tree_find_intersection(&mm->vmas, nstart, end));
        if (!vma)
            break;
        nend = mm_min(end, vma_end(vma));
        if (vma->flags & (VM_IO | VM_PFNMAP))
            continue;
        nstart = mm_max(nstart, vma_start(vma));
        long ret = populate_vma_range(mm, vma, nstart, nend);
        if (ret < 0) {
            if (ignore_errors)
                continue; /* on at the next VMA */
            return (int)ret;
        }
        nend = nstart + ((uint64_t)ret << PAGE_SHIFT);
    }
    return 0;
}

void mm_populate_range(struct mm *mm, uint64_t start, uint64_t end)
{
    mm_populate(mm, start, end, true);
}

/* check_vma_flags() for FOLL_MADV_POPULATE: may the range be faulted in this way? */
static bool madv_populate_vma_ok(const struct vm_area *vma, bool write)
{
    if (vma->flags & (VM_IO | VM_PFNMAP))
        return false;
    return (vma->flags & (write ? VM_WRITE : VM_READ)) != 0;
}

long mm_faultin_range(struct mm *mm, uint64_t start, uint64_t end, bool write)
{
    while (start < end) {
        struct vm_area *vma = mm_vma_lookup(mm, start);
        if (!vma)
            return -ENOMEM;
        if (!madv_populate_vma_ok(vma, write))
            return -EINVAL;
        uint64_t vend = mm_min(vma_end(vma), end);
        long done = faultin_vma_range(mm, start, vend, write);
        if (done < 0)
            return done;
        start += (uint64_t)done << PAGE_SHIFT;
    }
    return 0;
}
