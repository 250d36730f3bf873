/*
 * mm/huge_memory.c - transparent huge pages for anonymous private memory, as Linux
 * 6.18's mm/huge_memory.c and the PMD half of mm/memory.c's __handle_mm_fault():
 *   - the policy (transparent_hugepage/enabled: always, madvise, never) and a VMA's
 *     VM_HUGEPAGE / VM_NOHUGEPAGE decide whether a fault on an empty PMD whose
 *     aligned 2 MiB range lies inside the VMA maps a huge page;
 *   - a write maps a fresh zeroed 2 MiB compound frame with one PMD leaf
 *     (thp_fault_alloc; thp_fault_fallback and 4 KiB pages when the allocation
 *     fails), a read maps the huge zero page (thp_zero_page_alloc on its first use);
 *   - a write to the huge zero page maps a fresh THP in its place (6.18's
 *     do_huge_zero_wp_pmd), or splits it into 4 KiB zero-page PTEs when none can be
 *     had; a write to a write-protected THP reuses it when it is the only reference,
 *     else splits the PMD and lets the 4 KiB path copy one page (do_huge_pmd_wp_page);
 *   - splitting a PMD (thp_split_pmd) turns it into 512 PTEs mapping the subpages;
 *     the compound frame stays until its last subpage mapping goes.
 * Reference counting is described in mm/huge.h.
 */
#include "mm/huge.h"

#include <pagoda/cpu.h>

#include "mm/fault.h"

/* ---- large folios ------------------------------------------------------------------- */

/* Folio fields in the first tail pages (as Linux keeps _entire_mapcount, _mm_id and
 * _large_mapcount there). */
enum {
    FOLIO_ENTIRE = 1, /* ->index: PMD leaves mapping the folio */
    FOLIO_SLOT0 = 2,  /* ->mapping: an mm mapping the folio; ->index: its mappings */
    FOLIO_SLOT1 = 3,
    FOLIO_LARGE = 4,  /* ->index: every mapping (PMD or PTE) */
    FOLIO_FLAGS = 5,  /* ->index: FOLIO_* bits below */
};
#define FOLIO_MAYBE_SHARED 1u   /* FOLIO_MM_IDS_SHARED_BIT */
#define FOLIO_PARTIAL 2u        /* partially mapped: on the deferred split queue */

static struct page *fpage(struct phys *phys, pfn_t head, unsigned i)
{
    return phys_page(phys, head + i);
}

bool thp_folio_of(struct phys *phys, pfn_t pfn, pfn_t *head)
{
    const struct page *pg = phys_page(phys, pfn);
    pfn_t h = (pg->flags & PG_TAIL) ? pg->private : pfn;
    const struct page *hp = phys_page(phys, h);
    if (!(hp->flags & PG_HEAD) || (hp->flags & PG_RESERVED) || hp->order != HPAGE_PMD_ORDER)
        return false;
    *head = h;
    return true;
}

/* folio_add_return_large_mapcount(): diff more mappings by mm. */
static void folio_mm_add(struct phys *phys, pfn_t head, struct mm *mm, uint64_t diff)
{
    struct page *s0 = fpage(phys, head, FOLIO_SLOT0), *s1 = fpage(phys, head, FOLIO_SLOT1);
    uint64_t *large = &fpage(phys, head, FOLIO_LARGE)->index, *flags = &fpage(phys, head, FOLIO_FLAGS)->index;
    *large += diff;
    if (s0->mapping == mm) {
        s0->index += diff;
    } else if (s1->mapping == mm) {
        s1->index += diff;
    } else if (!s0->mapping) {
        s0->mapping = mm;
        s0->index = diff;
        if (*large != diff)
            *flags |= FOLIO_MAYBE_SHARED;
    } else if (!s1->mapping) {
        s1->mapping = mm;
        s1->index = diff;
        *flags |= FOLIO_MAYBE_SHARED;
    } /* else a third mm: both slots are taken, the folio is already maybe-shared */
}

/* folio_sub_return_large_mapcount(): diff mappings by mm fewer; a slot whose count
 * reaches 0 is freed, and the folio is exclusive again if one slot holds them all. */
static void folio_mm_sub(struct phys *phys, pfn_t head, struct mm *mm, uint64_t diff)
{
    struct page *s0 = fpage(phys, head, FOLIO_SLOT0), *s1 = fpage(phys, head, FOLIO_SLOT1);
    uint64_t *large = &fpage(phys, head, FOLIO_LARGE)->index, *flags = &fpage(phys, head, FOLIO_FLAGS)->index;
    PAGODA_BUG_ON(*large < diff, "a folio's large mapcount covers the mappings removed");
    *large -= diff;
    struct page *slot = s0->mapping == mm ? s0 : s1->mapping == mm ? s1 : NULL;
    if (!slot)
        return;
    PAGODA_BUG_ON(slot->index < diff, "an mm slot's mapcount covers the mappings removed");
    slot->index -= diff;
    if (slot->index)
        return;
    slot->mapping = NULL;
    if (s0->index == *large || s1->index == *large)
        *flags &= ~(uint64_t)FOLIO_MAYBE_SHARED;
}

/* Drop one folio reference; the folio goes back to the buddy allocator with its last. */
static void folio_put(struct phys *phys, pfn_t head)
{
    struct page *h = phys_page(phys, head);
    PAGODA_BUG_ON(h->refcount <= 0, "a mapped folio holds a reference per mapping");
    if (--h->refcount == 0)
        phys_free(phys, head, HPAGE_PMD_ORDER);
}

/* deferred_split_folio(): a mapped folio with an unmapped subpage and no PMD mapping
 * is partially mapped; counted once, when first queued. */
static void folio_check_partial(struct phys *phys, pfn_t head)
{
    uint64_t *flags = &fpage(phys, head, FOLIO_FLAGS)->index;
    if (!fpage(phys, head, FOLIO_LARGE)->index || fpage(phys, head, FOLIO_ENTIRE)->index ||
        (*flags & FOLIO_PARTIAL))
        return;
    for (unsigned i = 0; i < HPAGE_PMD_NR; i++)
        if (fpage(phys, head, i)->mapcount == 0) {
            *flags |= FOLIO_PARTIAL;
            count_vm_events(phys, VM_THP_DEFERRED_SPLIT_PAGE, 1);
            return;
        }
}

/* One PTE mapping subpage pfn of the folio at head, in mm, is gone. */
static void folio_remove_pte(struct mm *mm, pfn_t head, pfn_t pfn)
{
    struct page *pg = phys_page(mm->phys, pfn);
    PAGODA_BUG_ON(pg->mapcount <= 0, "a subpage mapped by a PTE counts it");
    pg->mapcount--;
    folio_mm_sub(mm->phys, head, mm, 1);
    mm_rss_add(mm, MM_ANONPAGES, -1);
    bool last = phys_page(mm->phys, head)->refcount == 1;
    if (!last && pg->mapcount == 0)
        folio_check_partial(mm->phys, head);
    folio_put(mm->phys, head);
}

/* One PMD leaf mapping the folio at head, in mm, is gone. */
static void folio_remove_pmd(struct mm *mm, pfn_t head)
{
    uint64_t *entire = &fpage(mm->phys, head, FOLIO_ENTIRE)->index;
    PAGODA_BUG_ON(*entire == 0, "a folio mapped by a PMD counts it");
    (*entire)--;
    folio_mm_sub(mm->phys, head, mm, 1);
    mm_rss_add(mm, MM_ANONPAGES, -HPAGE_PMD_NR);
    if (phys_page(mm->phys, head)->refcount > 1)
        folio_check_partial(mm->phys, head);
    folio_put(mm->phys, head);
}

/* ---- the huge zero page ------------------------------------------------------------------ */

/* mm_get_huge_zero_folio(): the machine's huge zero page, allocated on first use; mm
 * holds it until it exits.  false when it cannot be allocated. */
static bool huge_zero_get(struct mm *mm, pfn_t *pfn)
{
    struct mm_machine *m = mm_machine_of(mm->phys);
    if (!m->huge_zero_users) {
        pfn_t p;
        if (phys_alloc(mm->phys, HPAGE_PMD_ORDER, PHYS_ZERO | PHYS_COMPOUND, &p)) {
            count_vm_events(mm->phys, VM_THP_ZERO_PAGE_ALLOC_FAILED, 1);
            return false;
        }
        phys_page(mm->phys, p)->flags |= PG_ZERO | PG_UPTODATE;
        m->huge_zero_pfn = p;
        count_vm_events(mm->phys, VM_THP_ZERO_PAGE_ALLOC, 1);
    }
    if (!mm->huge_zero_page) {
        mm->huge_zero_page = true;
        m->huge_zero_users++;
    }
    *pfn = m->huge_zero_pfn;
    return true;
}

void thp_mm_exit(struct mm *mm)
{
    if (!mm->huge_zero_page)
        return;
    struct mm_machine *m = mm_machine_of(mm->phys);
    mm->huge_zero_page = false;
    PAGODA_BUG_ON(m->huge_zero_users == 0, "the huge zero page counts the mms holding it");
    if (--m->huge_zero_users == 0) {
        phys_page(mm->phys, m->huge_zero_pfn)->refcount = 0;
        phys_free(mm->phys, m->huge_zero_pfn, HPAGE_PMD_ORDER);
    }
}

static bool is_huge_zero_pmd(const struct mm *mm, pte_t e)
{
    const struct mm_machine *m = mm_machine_of(mm->phys);
    return (e & PTE_SPECIAL) && m->huge_zero_users && (pte_addr(e, PT_LEVEL_PMD, true) >> PAGE_SHIFT) == m->huge_zero_pfn;
}

/* ---- policy ------------------------------------------------------------------------------ */

/* thp_vma_allowable_order(PMD_ORDER) + thp_vma_suitable_order() for an anonymous VMA. */
static bool thp_allowed(const struct mm *mm, const struct vm_area *vma, uint64_t haddr)
{
    if (vma->flags & (VM_NOHUGEPAGE | VM_HUGETLB | VM_SPECIAL))
        return false;
    switch (mm->cfg.thp_policy) {
    case 2: break;
    case 1:
        if (!(vma->flags & VM_HUGEPAGE))
            return false;
        break;
    default: return false;
    }
    return haddr >= vma_start(vma) && haddr + PMD_SIZE <= vma_end(vma);
}

/* ---- the PMD fault -------------------------------------------------------------------------- */

struct pmd_fault {
    struct mm *mm;
    struct vm_area *vma;
    uint64_t haddr;
    unsigned ec;
    bool allowed;
    bool split;  /* split the PMD, then fall back */
    bool flush;  /* a translation was replaced */
    enum huge_result result;
};

static pte_t pmd_leaf_bits(const struct vm_area *vma)
{
    return PTE_P | PTE_US | PTE_A | PTE_PS | ((vma->flags & VM_EXEC) ? 0 : PTE_NX);
}

/* vma_alloc_anon_folio_pmd() + map_anon_folio_pmd(): a zeroed THP mapped at *pmd.
 * false (thp_fault_fallback counted) when no 2 MiB block is free. */
static bool map_new_thp(struct pmd_fault *pf, pte_t *pmd)
{
    struct mm *mm = pf->mm;
    pfn_t head;
    if (phys_alloc(mm->phys, HPAGE_PMD_ORDER, PHYS_ZERO | PHYS_COMPOUND, &head)) {
        count_vm_events(mm->phys, VM_THP_FAULT_FALLBACK, 1);
        return false;
    }
    count_vm_events(mm->phys, VM_THP_FAULT_ALLOC, 1);
    struct page *h = phys_page(mm->phys, head);
    h->flags |= PG_ANON | PG_SWAPBACKED | PG_UPTODATE;
    h->mapping = pf->vma->anon_vma;
    h->index = pf->vma->pgoff + ((pf->haddr - vma_start(pf->vma)) >> PAGE_SHIFT);
    fpage(mm->phys, head, FOLIO_ENTIRE)->index = 1;
    folio_mm_add(mm->phys, head, mm, 1);
    mm_rss_add(mm, MM_ANONPAGES, HPAGE_PMD_NR);
    pte_t write = (pf->vma->flags & VM_WRITE) ? PTE_RW | PTE_D : 0;
    *pmd = ((pte_t)head << PAGE_SHIFT) | pmd_leaf_bits(pf->vma) | write;
    return true;
}

/* do_huge_pmd_anonymous_page(): the huge zero page for a read, a THP for a write. */
static void create_huge_pmd(struct pmd_fault *pf, pte_t *pmd)
{
    vma_anon_prepare(pf->mm, pf->vma);
    if (!pf->vma->anon_vma) {
        pf->result = HUGE_OOM;
        return;
    }
    if (!(pf->ec & PF_W)) {
        pfn_t zero;
        if (!huge_zero_get(pf->mm, &zero)) {
            count_vm_events(pf->mm->phys, VM_THP_FAULT_FALLBACK, 1);
            return;
        }
        *pmd = ((pte_t)zero << PAGE_SHIFT) | pmd_leaf_bits(pf->vma) | PTE_SPECIAL;
        pf->result = HUGE_DONE;
        return;
    }
    if (map_new_thp(pf, pmd))
        pf->result = HUGE_DONE;
}

/* do_huge_pmd_wp_page(): a write to a write-protected PMD leaf. */
static void wp_huge_pmd(struct pmd_fault *pf, pte_t *pmd)
{
    struct mm *mm = pf->mm;
    if (is_huge_zero_pmd(mm, *pmd)) { /* do_huge_zero_wp_pmd() */
        if (map_new_thp(pf, pmd)) {
            pf->flush = true;
            pf->result = HUGE_DONE;
        } else {
            pf->split = true;
        }
        return;
    }
    pfn_t head = pte_addr(*pmd, PT_LEVEL_PMD, true) >> PAGE_SHIFT;
    if (phys_page(mm->phys, head)->refcount == 1) { /* the only reference: reuse */
        *pmd |= PTE_RW | PTE_D | PTE_A;
        pf->result = HUGE_DONE;
        return;
    }
    pf->split = true; /* shared: copy-on-write happens on the 4 KiB page */
}

static int pmd_fault_leaf(void *arg, uint64_t va, int level, pte_t *pmd)
{
    struct pmd_fault *pf = arg;
    (void)va;
    if (level != PT_LEVEL_PMD)
        return 0;
    if (*pmd == 0) {
        if (pf->allowed)
            create_huge_pmd(pf, pmd);
        return 0;
    }
    if (!(*pmd & PTE_PS)) /* a page table: 4 KiB pages */
        return 0;
    if (!(*pmd & PTE_P)) { /* PROT_NONE left in an accessible VMA: the VMA's bits */
        *pmd = (*pmd & (PTE_ADDR_MASK | PTE_SPECIAL | PTE_D)) | pmd_leaf_bits(pf->vma);
        pf->result = HUGE_DONE;
        return 0;
    }
    if ((pf->ec & PF_W) && !(*pmd & PTE_RW)) {
        wp_huge_pmd(pf, pmd);
        return 0;
    }
    *pmd |= PTE_A | ((pf->ec & PF_W) ? PTE_D : 0); /* huge_pmd_set_accessed() */
    pf->result = HUGE_DONE;
    return 0;
}

static int split_pmd(struct mm *mm, uint64_t haddr, pte_t pmd);

enum huge_result thp_handle_pmd_fault(struct mm *mm, struct vm_area *vma, uint64_t addr, unsigned ec)
{
    if (!vma_is_anonymous(vma) || (vma->flags & VM_HUGETLB))
        return HUGE_FALLBACK;
    uint64_t page = addr & PAGE_MASK;
    struct pmd_fault pf = {mm, vma, addr & ~(PMD_SIZE - 1), ec, false, false, false, HUGE_FALLBACK};
    pf.allowed = thp_allowed(mm, vma, pf.haddr);
    if (!pf.allowed) { /* only an existing PMD leaf needs this path */
        int level;
        pte_t e;
        if (pt_lookup(&mm->pt, page, &e, &level) || level != PT_LEVEL_PMD)
            return HUGE_FALLBACK;
    }
    const struct pt_walk_ops ops = {.leaf = pmd_fault_leaf};
    int rc = pt_walk_range(&mm->pt, page, page + PAGE_SIZE, PT_LEVEL_PMD, pf.allowed ? PT_WALK_ALLOC : 0, &ops, &pf);
    if (rc < 0)
        return HUGE_OOM;
    if (pf.flush)
        mm_flush_tlb_range(mm, pf.haddr, pf.haddr + PMD_SIZE);
    if (pf.split) {
        int level;
        pte_t e;
        if (!pt_lookup(&mm->pt, page, &e, &level) && level == PT_LEVEL_PMD && split_pmd(mm, pf.haddr, e))
            return HUGE_OOM;
        return HUGE_FALLBACK;
    }
    return pf.result;
}

/* ---- splitting ---------------------------------------------------------------------------- */

/* After a huge zero PMD was demoted: point its 512 PTEs at the 4 KiB zero page. */
static int zero_pte_leaf(void *arg, uint64_t va, int level, pte_t *pte)
{
    (void)va;
    if (level == PT_LEVEL_PTE && *pte)
        *pte = (*pte & ~PTE_ADDR_MASK) | ((pte_t)*(const pfn_t *)arg << PAGE_SHIFT);
    return 0;
}

/* __split_huge_pmd_locked(): the PMD leaf pmd at haddr becomes a table of 512 PTEs
 * with its bits; the folio's one PMD reference becomes one per PTE. */
static int split_pmd(struct mm *mm, uint64_t haddr, pte_t pmd)
{
    pfn_t head = pte_addr(pmd, PT_LEVEL_PMD, true) >> PAGE_SHIFT;
    bool zero = is_huge_zero_pmd(mm, pmd);
    int err = pt_split(&mm->pt, haddr, PT_LEVEL_PMD);
    if (err)
        return err;
    count_vm_events(mm->phys, VM_THP_SPLIT_PMD, 1);
    if (zero) {
        pfn_t z;
        if (mm_zero_page(mm->phys, &z) == 0) {
            const struct pt_walk_ops ops = {.leaf = zero_pte_leaf};
            pt_walk_range(&mm->pt, haddr, haddr + PMD_SIZE, PT_LEVEL_PTE, 0, &ops, &z);
        }
    } else if (pmd & (PTE_P | PTE_PROTNONE)) {
        struct page *h = phys_page(mm->phys, head);
        h->refcount += HPAGE_PMD_NR - 1;
        fpage(mm->phys, head, FOLIO_ENTIRE)->index--;
        for (unsigned i = 0; i < HPAGE_PMD_NR; i++)
            fpage(mm->phys, head, i)->mapcount++;
        folio_mm_add(mm->phys, head, mm, HPAGE_PMD_NR - 1);
    }
    mm_flush_tlb_range(mm, haddr, haddr + PMD_SIZE);
    return 0;
}

int thp_split_leaf(struct mm *mm, uint64_t va, int level)
{
    pte_t e;
    int l;
    if (level != PT_LEVEL_PMD || pt_lookup(&mm->pt, va, &e, &l) || l != PT_LEVEL_PMD)
        return level == PT_LEVEL_PMD ? -EINVAL : pt_split(&mm->pt, va, level);
    if (hugetlb_pfn(mm->phys, pte_addr(e, l, true) >> PAGE_SHIFT))
        return pt_split(&mm->pt, va, level);
    return split_pmd(mm, va & ~(PMD_SIZE - 1), e);
}

int thp_split_at(struct mm *mm, uint64_t addr)
{
    pte_t e;
    int level;
    if (!(addr & (PMD_SIZE - 1)) || pt_lookup(&mm->pt, addr, &e, &level) || level != PT_LEVEL_PMD)
        return 0;
    if (hugetlb_pfn(mm->phys, pte_addr(e, level, true) >> PAGE_SHIFT))
        return 0;
    return split_pmd(mm, addr & ~(PMD_SIZE - 1), e);
}

int thp_split_edges(struct mm *mm, uint64_t start, uint64_t end)
{
    int err = thp_split_at(mm, start);
    if (!err && end > start)
        err = thp_split_at(mm, end);
    return err;
}

/* ---- zap, fork, copy-on-write ----------------------------------------------------------- */

bool huge_release_leaf(struct mm *mm, int level, pte_t e)
{
    if (!(e & (PTE_P | PTE_PROTNONE)))
        return false;
    pfn_t pfn = pte_addr(e, level, true) >> PAGE_SHIFT, head;
    if (level > PT_LEVEL_PTE) {
        if (hugetlb_pfn(mm->phys, pfn)) {
            phys_page(mm->phys, pfn)->mapcount--;
            hugetlb_put_page(mm->phys, pfn);
        } else if (!(e & PTE_SPECIAL)) { /* the huge zero page is held per mm */
            folio_remove_pmd(mm, pfn);
        }
        return true;
    }
    if ((e & PTE_SPECIAL) || !thp_folio_of(mm->phys, pfn, &head))
        return false;
    folio_remove_pte(mm, head, pfn);
    return true;
}

bool huge_copy_leaf(struct mm *parent, struct mm *child, int level, pte_t *src, bool cow, pte_t *out)
{
    struct phys *phys = parent->phys;
    if (!(*src & (PTE_P | PTE_PROTNONE)))
        return false;
    pfn_t pfn = pte_addr(*src, level, true) >> PAGE_SHIFT, head;
    if (level > PT_LEVEL_PTE && hugetlb_pfn(phys, pfn)) { /* copy_hugetlb_page_range() */
        phys_page(phys, pfn)->refcount++;
        phys_page(phys, pfn)->mapcount++;
        if (cow)
            *src &= ~(pte_t)PTE_RW;
        *out = *src;
        return true;
    }
    if (level > PT_LEVEL_PTE) { /* copy_huge_pmd(): write-protected, old in the child */
        if (is_huge_zero_pmd(parent, *src)) {
            pfn_t z;
            huge_zero_get(child, &z);
        } else {
            phys_page(phys, pfn)->refcount++;
            fpage(phys, pfn, FOLIO_ENTIRE)->index++;
            folio_mm_add(phys, pfn, child, 1);
            mm_rss_add(child, MM_ANONPAGES, HPAGE_PMD_NR);
            if (cow)
                *src &= ~(pte_t)PTE_RW;
        }
        *out = *src & ~(pte_t)PTE_A;
        return true;
    }
    if ((*src & PTE_SPECIAL) || !thp_folio_of(phys, pfn, &head))
        return false;
    phys_page(phys, head)->refcount++;
    phys_page(phys, pfn)->mapcount++;
    folio_mm_add(phys, head, child, 1);
    mm_rss_add(child, MM_ANONPAGES, 1);
    if (cow)
        *src &= ~(pte_t)PTE_RW;
    *out = *src;
    return true;
}

bool anon_frame_reusable(struct mm *mm, pfn_t pfn)
{
    pfn_t head;
    if (!thp_folio_of(mm->phys, pfn, &head)) {
        const struct page *pg = phys_page(mm->phys, pfn);
        return (pg->flags & PG_ANON) && pg->refcount == 1;
    }
    /* __wp_can_reuse_large_anon_folio(): every reference a mapping of this mm alone;
     * a folio with a single mapping left is copied (and freed) instead. */
    uint64_t large = fpage(mm->phys, head, FOLIO_LARGE)->index;
    if (large <= 1 || (fpage(mm->phys, head, FOLIO_FLAGS)->index & FOLIO_MAYBE_SHARED))
        return false;
    return large == (uint64_t)phys_page(mm->phys, head)->refcount;
}

bool huge_drop_pte_mapping(struct mm *mm, pfn_t pfn)
{
    pfn_t head;
    if (!thp_folio_of(mm->phys, pfn, &head))
        return false;
    folio_remove_pte(mm, head, pfn);
    return true;
}
