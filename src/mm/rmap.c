/*
 * mm/rmap.c - the reverse map of anonymous pages: from a frame to every PTE mapping it.
 *
 * An anonymous frame records the anon_vma of the VMA it was faulted in (page->mapping)
 * and its linear page index (page->index: vma->pgoff plus the page's offset, which
 * mremap keeps).  After fork the frame may be mapped, copy-on-write, in any descendant
 * of that VMA; each descendant's anon_vma names its parent, as Linux's anon_vma chains
 * link a fork child's VMA to every anon_vma above it.  The walk therefore looks at
 * every VMA on the machine whose anon_vma is the frame's or descends from it, computes
 * the address the index gives there (vma_address()), and looks the PTE up.  Linux keeps
 * per-anon_vma interval trees to find those VMAs without a scan; pagoda scans the
 * machine's address spaces, which gives the same PTEs.
 */
#include "mm/internal.h"

/* Does vma's anon_vma descend from (or equal) av? */
static bool anon_vma_descends(const struct anon_vma *vma_av, const struct anon_vma *av)
{
    for (; vma_av; vma_av = vma_av->parent)
        if (vma_av == av)
            return true;
    return false;
}

long rmap_walk_anon(struct phys *phys, pfn_t pfn, rmap_fn fn, void *arg)
{
    const struct page *pg = phys_page(phys, pfn);
    if (!(pg->flags & PG_ANON) || !pg->mapping)
        return 0;
    const struct anon_vma *av = pg->mapping;
    long found = 0;
    for (struct mm *mm = mm_machine_of(phys)->mms; mm; mm = mm->machine_next) {
        for (struct vm_area *v = mm_first_vma(mm); v; v = vma_next(v)) {
            if (!anon_vma_descends(v->anon_vma, av) || pg->index < v->pgoff ||
                pg->index - v->pgoff >= vma_pages(v))
                continue;
            uint64_t addr = vma_start(v) + ((pg->index - v->pgoff) << PAGE_SHIFT);
            pte_t e;
            int level;
            if (pt_lookup(&mm->pt, addr, &e, &level) || !(e & (PTE_P | PTE_PROTNONE)) || (e & PTE_SPECIAL))
                continue;
            uint64_t base = pte_addr(e, level, true) >> PAGE_SHIFT;
            if (pfn < base || pfn >= base + (pt_level_size(level) >> PAGE_SHIFT))
                continue;
            found++;
            if (fn) {
                int rc = fn(arg, v, addr, pt_entry_ptr(&mm->pt, addr, level));
                if (rc)
                    return rc;
            }
        }
    }
    return found;
}
