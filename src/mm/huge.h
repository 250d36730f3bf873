/*
 * mm/huge.h - huge pages: transparent huge pages for anonymous memory
 * (huge_memory.c) and the hugetlb pool (hugetlb.c), as the rest of the memory
 * manager calls them.
 *
 * Reference counting of large folios (compound frames from phys_alloc with
 * PHYS_COMPOUND, and hugetlb pool pages):
 *   - The head page's ->refcount is the folio's: one reference per PMD/PUD leaf
 *     mapping the whole folio and one per PTE mapping any of its subpages (a
 *     hugetlb page in a shared file's cache holds one more for the cache).  Tail
 *     pages keep refcount 0.  The folio is freed when the head's count reaches 0.
 *   - Each subpage's ->mapcount counts the PTEs mapping that 4 KiB subpage.
 *   - THP folios keep, like Linux's folio fields in the first tail pages: the
 *     entire mapcount (PMD leaves), the large mapcount (every mapping, PMD or PTE)
 *     and two (mm, mapcount) slots telling whether the folio may be mapped by more
 *     than one mm (folio_maybe_mapped_shared), which decides copy-on-write reuse.
 *   - hugetlb pages are only ever mapped whole: their head's ->mapcount is the
 *     entire mapcount.
 * Splitting a PMD (thp_split_pmd) turns its one reference into 512, one per PTE.
 */
#ifndef PAGODA_MM_HUGE_H
#define PAGODA_MM_HUGE_H

#include "mm/internal.h"

#define HPAGE_PMD_NR 512
#define HPAGE_PMD_ORDER 9

/* How a huge-page fault step ended. */
enum huge_result {
    HUGE_FALLBACK, /* not handled here: continue with 4 KiB pages */
    HUGE_DONE,     /* resolved: retry the access */
    HUGE_SIGBUS,   /* SIGBUS (BUS_ADRERR): the hugetlb pool has no page */
    HUGE_OOM,      /* out of memory */
};

/* ---- transparent huge pages (huge_memory.c) ----------------------------------------- */

/* __handle_mm_fault()'s PMD step for an anonymous VMA: an empty PMD gets a THP (write)
 * or the huge zero page (read) when the VMA and policy allow; a write to a read-only
 * PMD leaf reuses, replaces the huge zero page, or splits it and falls back. */
enum huge_result thp_handle_pmd_fault(struct mm *mm, struct vm_area *vma, uint64_t addr, unsigned ec);

/* Split the THP PMD leaf covering addr (any address inside it) into 512 PTEs, when
 * there is one and addr is not 2 MiB aligned (a range edge cuts it).  hugetlb leaves
 * are left alone.  0 or -ENOMEM. */
int thp_split_at(struct mm *mm, uint64_t addr);
/* The same at both edges of [start, end). */
int thp_split_edges(struct mm *mm, uint64_t start, uint64_t end);
/* Split the huge leaf at va (level 2) whatever the alignment (mremap moving it to a
 * misaligned place); hugetlb leaves are never split.  0, -EINVAL, -ENOMEM. */
int thp_split_leaf(struct mm *mm, uint64_t va, int level);

/* zap: a leaf being removed.  Handles PMD/PUD leaves and PTEs of large folios (drops
 * the references, rss, frees the folio when the last goes) and returns true; false
 * for anything else (order-0 frames, non-present entries), which the caller handles. */
bool huge_release_leaf(struct mm *mm, int level, pte_t e);

/* fork: a leaf being copied from parent to child.  Handles PMD/PUD leaves and PTEs of
 * large folios (references, rss, write protection of private writable ones: *src is
 * rewritten), storing the child's entry in *out and returning true; false otherwise. */
bool huge_copy_leaf(struct mm *parent, struct mm *child, int level, pte_t *src, bool cow, pte_t *out);

/* The write-protect fault's reuse test (wp_can_reuse_anon_folio) for the anonymous
 * frame pfn mapped by a PTE in mm: order-0 frames with one reference, or a large
 * folio whose references are all mappings of this mm alone. */
bool anon_frame_reusable(struct mm *mm, pfn_t pfn);

/* Drop one PTE mapping of a subpage of a large folio (the COW copy replaced it);
 * false when pfn is not part of one (the caller drops an order-0 frame itself). */
bool huge_drop_pte_mapping(struct mm *mm, pfn_t pfn);

/* The mm is going: its hold on the huge zero page ends (freed with the last holder,
 * as the shrinker would free it). */
void thp_mm_exit(struct mm *mm);

/* Is pfn part of a compound (large) anonymous folio?  Its head in *head. */
bool thp_folio_of(struct phys *phys, pfn_t pfn, pfn_t *head);

/* ---- hugetlb (hugetlb.c) -------------------------------------------------------------- */

/* hugetlb_fault(): map the huge page of a VM_HUGETLB VMA at addr (PMD or PUD leaf). */
enum huge_result hugetlb_handle_fault(struct mm *mm, struct vm_area *vma, uint64_t addr, unsigned ec);

/* hugetlb_reserve_pages(): at mmap, reserve the pages of [pgoff, pgoff + len) of a
 * hugetlbfs file unless VM_NORESERVE.  0 or -ENOMEM (the pool is short). */
int hugetlb_reserve(const struct mm *mm, const struct mm_file *file, uint64_t hsize, uint64_t pgoff, uint64_t len,
                    uint64_t vm_flags);
/* After mmap made a private VM_HUGETLB VMA that reserved its pages: it becomes the
 * reservation's owner (HPAGE_RESV_OWNER). */
void hugetlb_vma_own_reserve(struct vm_area *vma);
/* fork: the child's copy owns no reservation (hugetlb_dup_vma_private). */
void hugetlb_vma_forget_reserve(struct vm_area *vma);
/* hugetlb_vm_op_open/close. */
void hugetlb_vma_open(struct vm_area *vma);
void hugetlb_vma_close(struct vm_area *vma);
/* The file's last reference: its huge pages and unused reservations go back. */
void hugetlb_file_release(struct mm_file *f);
/* Is pfn a hugetlb pool page (any frame of one)? */
bool hugetlb_pfn(struct phys *phys, pfn_t pfn);
/* Drop one reference on the hugetlb page with head pfn; back to the pool at 0. */
void hugetlb_put_page(struct phys *phys, pfn_t head);

#endif
