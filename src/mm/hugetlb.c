/*
 * mm/hugetlb.c - the hugetlb pool and hugetlb faults, as Linux 6.18's mm/hugetlb.c:
 *   - two pools (hstates), 2 MiB and 1 GiB pages, reserved at boot (config
 *     hugepages=N, hugepages_1g=N) as contiguous aligned frames outside managed
 *     memory (a 1 GiB page is beyond the buddy allocator's largest order);
 *   - reservations as hugetlb_reserve_pages() makes them: a mapping without
 *     MAP_NORESERVE reserves its pages at mmap (ENOMEM when free - reserved is short),
 *     a private one in its VMA (the owner's resv_map: which pages consumed theirs), a
 *     shared one in the file (which file pages are reserved or instantiated); a fault
 *     consumes the reservation, or takes an unreserved free page, or gets SIGBUS;
 *     unused reservations go back when the VMA (private) or the file (shared) goes;
 *   - faults map the page with one PMD or PUD leaf: shared mappings the file's page
 *     (kept in the file's huge page cache), private ones a zeroed anonymous page, or a
 *     copy when written (hugetlb_wp; reuse when it is the only mapping); fork shares
 *     every page, write-protecting private ones.
 * hugetlb pages count in no rss counter (Linux shows them as *_Hugetlb in smaps).
 */
#include <sys/mman.h>

#include "mm/huge.h"

#include <pagoda/cpu.h>

/* ---- the pools ------------------------------------------------------------------------ */

static const unsigned hstate_order[2] = {9, 18};

static uint64_t hstate_frames(int hs)
{
    return 1ULL << hstate_order[hs];
}

static int hstate_of_size(uint64_t hsize)
{
    return hsize == HPAGE_SIZE_1G ? 1 : 0;
}

/* Reserve up to n pages of hstate hs as one run of free frames at or above `from`:
 * the lowest aligned place where all n fit, else fewer; how many were made. */
static uint64_t pool_reserve(struct phys *phys, int hs, uint64_t from, uint64_t n)
{
    struct mm_hstate *h = &mm_machine_of(phys)->hstate[hs];
    uint64_t size = hstate_frames(hs), base = 0;
    if (h->nr) /* already made */
        return h->nr;
    uint64_t first = (from + size - 1) & ~(size - 1);
    n = mm_min(n, first < phys->nframes ? (phys->nframes - first) / size : 0);
    for (; n; n--) {
        for (base = first; base + n * size <= phys->nframes; base += size)
            if (phys_reserve(phys, base, n * size) == 0)
                break;
        if (base + n * size <= phys->nframes)
            break;
    }
    for (uint64_t i = 0; i < n; i++) {
        struct page *pg = phys_page(phys, base + i * size);
        *pg = (struct page){.flags = PG_RESERVED | PG_HEAD, .order = (uint8_t)hstate_order[hs]};
    }
    *h = (struct mm_hstate){.base_pfn = base, .nr = n, .free = n};
    return n;
}

void mm_hugetlb_pool_init(struct phys *phys, uint64_t pages_2m, uint64_t pages_1g)
{
    /* 1 GiB pages first (from 1 GiB up: they need the room), then 2 MiB pages
     * (from 2 MiB up: frame 0 is the zero page). */
    pool_reserve(phys, 1, hstate_frames(1), pages_1g);
    pool_reserve(phys, 0, hstate_frames(0), pages_2m);
}

/* The hstate whose pool holds pfn, or -1. */
static int pool_of(struct phys *phys, pfn_t pfn)
{
    const struct mm_machine *m = mm_machine_of(phys);
    for (int hs = 0; hs < 2; hs++) {
        const struct mm_hstate *h = &m->hstate[hs];
        if (h->nr && pfn >= h->base_pfn && pfn < h->base_pfn + h->nr * hstate_frames(hs))
            return hs;
    }
    return -1;
}

bool hugetlb_pfn(struct phys *phys, pfn_t pfn)
{
    return pool_of(phys, pfn) >= 0;
}

/* Zero a huge page: 2 MiB by memset, 1 GiB by giving the host pages back (RAM is a
 * private anonymous host mapping, so they read as zero again). */
static void clear_huge_page(struct phys *phys, pfn_t head, int hs)
{
    uint64_t bytes = hstate_frames(hs) << PAGE_SHIFT;
    void *p = phys_host(phys, head << PAGE_SHIFT);
    if (hs == 0 || madvise(p, bytes, MADV_DONTNEED) != 0)
        memset(p, 0, bytes);
}

/* alloc_hugetlb_folio(): a page from the pool, consuming a reservation when
 * `reserved`, else only while free pages exceed the reserved ones.  Zeroed unless
 * the caller copies over it; refcount 1.  false: the pool has none (SIGBUS). */
static bool pool_alloc(struct phys *phys, int hs, bool reserved, bool zero, pfn_t *out)
{
    struct mm_hstate *h = &mm_machine_of(phys)->hstate[hs];
    if (!h->free || (!reserved && h->free <= h->resv))
        return false;
    for (uint64_t i = 0; i < h->nr; i++) {
        pfn_t pfn = h->base_pfn + i * hstate_frames(hs);
        struct page *pg = phys_page(phys, pfn);
        if (pg->refcount)
            continue;
        h->free--;
        if (reserved)
            h->resv--;
        pg->refcount = 1;
        if (zero)
            clear_huge_page(phys, pfn, hs);
        *out = pfn;
        return true;
    }
    PAGODA_BUG_ON(true, "the pool's free count equals its unreferenced pages");
    return false;
}

void hugetlb_put_page(struct phys *phys, pfn_t head)
{
    int hs = pool_of(phys, head);
    struct page *pg = phys_page(phys, head);
    PAGODA_BUG_ON(hs < 0 || pg->refcount <= 0, "a hugetlb page put is a referenced pool page");
    if (--pg->refcount)
        return;
    PAGODA_BUG_ON(pg->mapcount, "a hugetlb page without references is unmapped");
    *pg = (struct page){.flags = PG_RESERVED | PG_HEAD, .order = (uint8_t)hstate_order[hs]};
    mm_machine_of(phys)->hstate[hs].free++;
}

/* ---- shared files: the huge page cache and the file's reservations -------------------- */

struct hfile {
    const struct mm_file *file;
    struct phys *phys;
    int hs;
    uint64_t n;        /* slots in page[] and resv[] */
    pfn_t *page;       /* 0: not instantiated (frame 0 is never a pool page) */
    uint8_t *resv;     /* region map: reserved or instantiated */
    struct hfile *next;
};
static struct hfile *hfiles;

static struct hfile *hfile_find(const struct mm_file *f)
{
    for (struct hfile *h = hfiles; h; h = h->next)
        if (h->file == f)
            return h;
    return NULL;
}

/* The file's record with room for index idx; NULL without host memory. */
static struct hfile *hfile_get(const struct mm_file *f, struct phys *phys, int hs, uint64_t idx)
{
    struct hfile *h = hfile_find(f);
    if (!h) {
        h = calloc(1, sizeof(*h));
        if (!h)
            return NULL;
        *h = (struct hfile){.file = f, .phys = phys, .hs = hs, .next = hfiles};
        hfiles = h;
    }
    if (idx >= h->n) {
        uint64_t n = mm_max(idx + 1, h->n * 2);
        pfn_t *page = realloc(h->page, n * sizeof(*page));
        if (page)
            h->page = page;
        uint8_t *resv = page ? realloc(h->resv, n) : NULL;
        if (!resv)
            return NULL;
        h->resv = resv;
        memset(h->page + h->n, 0, (n - h->n) * sizeof(*page));
        memset(h->resv + h->n, 0, n - h->n);
        h->n = n;
    }
    return h;
}

void hugetlb_file_release(struct mm_file *f)
{
    for (struct hfile **p = &hfiles; *p; p = &(*p)->next) {
        struct hfile *h = *p;
        if (h->file != f)
            continue;
        for (uint64_t i = 0; i < h->n; i++) {
            if (h->page[i])
                hugetlb_put_page(h->phys, h->page[i]); /* remove_inode_hugepages() */
            else if (h->resv[i])
                mm_machine_of(h->phys)->hstate[h->hs].resv--; /* hugetlb_unreserve_pages() */
        }
        *p = h->next;
        free(h->page);
        free(h->resv);
        free(h);
        return;
    }
}

/* ---- private mappings: the owner's reservation map --------------------------------------- */

struct resv_map {
    int refcount;
    struct phys *phys;
    int hs;
    uint64_t first, n; /* huge page indexes of the file the map covers */
    uint8_t used[];    /* the reservation was consumed (region_add on fault) */
};

static uint64_t huge_index(const struct vm_area *vma, uint64_t addr)
{
    uint64_t hsize = vma_page_size(vma);
    return vma->pgoff / (hsize >> PAGE_SHIFT) + (addr - vma_start(vma)) / hsize;
}

int hugetlb_reserve(const struct mm *mm, const struct mm_file *file, uint64_t hsize, uint64_t pgoff, uint64_t len,
                    uint64_t vm_flags)
{
    if (vm_flags & VM_NORESERVE)
        return 0;
    int hs = hstate_of_size(hsize);
    struct mm_hstate *h = &mm_machine_of(mm->phys)->hstate[hs];
    uint64_t first = pgoff / (hsize >> PAGE_SHIFT), n = len / hsize, chg = n;
    struct hfile *hf = NULL;
    if (vm_flags & VM_MAYSHARE) { /* region_chg() on the file's map */
        hf = n ? hfile_get(file, mm->phys, hs, first + n - 1) : NULL;
        if (n && !hf)
            return -ENOMEM;
        for (uint64_t i = 0; i < n; i++)
            chg -= hf->resv[first + i];
    }
    if (h->free < h->resv || h->free - h->resv < chg) /* hugetlb_acct_memory() */
        return -ENOMEM;
    h->resv += chg;
    for (uint64_t i = 0; hf && i < n; i++)
        hf->resv[first + i] = 1;
    return 0;
}

void hugetlb_vma_own_reserve(struct vm_area *vma)
{
    if (!(vma->flags & VM_HUGETLB) || (vma->flags & (VM_MAYSHARE | VM_NORESERVE)))
        return;
    uint64_t hsize = vma_page_size(vma), n = (vma_end(vma) - vma_start(vma)) / hsize;
    struct resv_map *r = calloc(1, sizeof(*r) + n);
    int hs = hstate_of_size(hsize);
    if (!r) { /* no host memory for the map: give the reservation back */
        mm_machine_of(vma->mm->phys)->hstate[hs].resv -= n;
        return;
    }
    *r = (struct resv_map){.refcount = 1, .phys = vma->mm->phys, .hs = hs, .first = huge_index(vma, vma_start(vma)),
                           .n = n};
    vma->private_data = r;
}

void hugetlb_vma_forget_reserve(struct vm_area *vma)
{
    if (vma->flags & VM_HUGETLB)
        vma->private_data = NULL;
}

void hugetlb_vma_open(struct vm_area *vma)
{
    struct resv_map *r = vma->private_data;
    if (r)
        r->refcount++;
}

void hugetlb_vma_close(struct vm_area *vma)
{
    struct resv_map *r = vma->private_data;
    if (!r)
        return;
    uint64_t lo = huge_index(vma, vma_start(vma)), hi = huge_index(vma, vma_end(vma));
    for (uint64_t i = lo; i < hi; i++) /* the unused reservations of this piece */
        if (i >= r->first && i < r->first + r->n && !r->used[i - r->first]) {
            r->used[i - r->first] = 1;
            mm_machine_of(r->phys)->hstate[r->hs].resv--;
        }
    vma->private_data = NULL;
    if (--r->refcount == 0)
        free(r);
}

/* Does this private VMA hold an unused reservation for idx?  Consumes it if so. */
static bool private_consume(struct vm_area *vma, uint64_t idx)
{
    struct resv_map *r = vma->private_data;
    if (!r || idx < r->first || idx >= r->first + r->n || r->used[idx - r->first])
        return false;
    r->used[idx - r->first] = 1;
    return true;
}

/* ---- faults ------------------------------------------------------------------------------- */

struct hfault {
    struct mm *mm;
    struct vm_area *vma;
    unsigned ec;
    int hs, level;
    uint64_t haddr, idx;
    bool flush;
    enum huge_result result;
};

static pte_t huge_leaf_bits(const struct vm_area *vma)
{
    return PTE_P | PTE_US | PTE_A | PTE_PS | ((vma->flags & VM_EXEC) ? 0 : PTE_NX);
}

/* Map page pfn at *e, taking a mapping reference. */
static void map_huge(struct hfault *hf, pte_t *e, pfn_t pfn, bool writable)
{
    struct page *pg = phys_page(hf->mm->phys, pfn);
    pg->refcount++;
    pg->mapcount++;
    *e = ((pte_t)pfn << PAGE_SHIFT) | huge_leaf_bits(hf->vma) | (writable ? PTE_RW | PTE_D : 0);
}

/* A fresh private (anonymous) page for idx: the owner's reservation, else an
 * unreserved free page.  Copied from src when has_src. */
static bool new_private_page(struct hfault *hf, bool has_src, pfn_t src, pfn_t *out)
{
    struct phys *phys = hf->mm->phys;
    bool reserved = private_consume(hf->vma, hf->idx);
    if (!pool_alloc(phys, hf->hs, reserved, !has_src, out)) {
        if (reserved) /* restore_reserve_on_error() */
            ((struct resv_map *)hf->vma->private_data)->used[hf->idx - ((struct resv_map *)hf->vma->private_data)->first] = 0;
        return false;
    }
    if (has_src)
        memcpy(phys_host(phys, *out << PAGE_SHIFT), phys_host(phys, src << PAGE_SHIFT),
               hstate_frames(hf->hs) << PAGE_SHIFT);
    struct page *pg = phys_page(phys, *out);
    pg->flags |= PG_ANON | PG_SWAPBACKED | PG_UPTODATE;
    pg->refcount = 0; /* map_huge takes the mapping's reference */
    pg->mapping = hf->vma->anon_vma;
    pg->index = hf->idx;
    return true;
}

/* hugetlb_no_page() for a shared mapping: the file's page, instantiated on first use. */
static void shared_no_page(struct hfault *hf, pte_t *e)
{
    struct hfile *h = hfile_get(hf->vma->file, hf->mm->phys, hf->hs, hf->idx);
    if (!h) {
        hf->result = HUGE_OOM;
        return;
    }
    if (!h->page[hf->idx]) {
        pfn_t pfn;
        if (!pool_alloc(hf->mm->phys, hf->hs, h->resv[hf->idx], true, &pfn)) {
            hf->result = HUGE_SIGBUS;
            return;
        }
        phys_page(hf->mm->phys, pfn)->flags |= PG_UPTODATE | PG_DIRTY;
        h->page[hf->idx] = pfn; /* the cache's reference: pool_alloc's */
        h->resv[hf->idx] = 1;
    }
    bool writable = (hf->vma->flags & (VM_SHARED | VM_WRITE)) == (VM_SHARED | VM_WRITE);
    map_huge(hf, e, h->page[hf->idx], writable);
    hf->result = HUGE_DONE;
}

/* hugetlb_no_page() for a private mapping: the file's page read-only if a shared
 * mapping made one, else (and on a write) a private page of its own. */
static void private_no_page(struct hfault *hf, pte_t *e)
{
    struct hfile *h = hfile_find(hf->vma->file);
    pfn_t cached = h && hf->idx < h->n ? h->page[hf->idx] : 0, pfn;
    bool write = hf->ec & PF_W;
    if (cached && !write) {
        map_huge(hf, e, cached, false);
        hf->result = HUGE_DONE;
        return;
    }
    vma_anon_prepare(hf->mm, hf->vma);
    if (!new_private_page(hf, cached != 0, cached, &pfn)) {
        hf->result = HUGE_SIGBUS;
        return;
    }
    map_huge(hf, e, pfn, write && (hf->vma->flags & VM_WRITE));
    hf->result = HUGE_DONE;
}

/* hugetlb_wp(): a write to a write-protected private huge page. */
static void huge_wp(struct hfault *hf, pte_t *e)
{
    struct phys *phys = hf->mm->phys;
    pfn_t old = pte_addr(*e, hf->level, true) >> PAGE_SHIFT, pfn;
    struct page *pg = phys_page(phys, old);
    if ((pg->flags & PG_ANON) && pg->mapcount == 1 && pg->refcount == 1) { /* the only mapping */
        *e |= PTE_RW | PTE_D | PTE_A;
        hf->result = HUGE_DONE;
        return;
    }
    vma_anon_prepare(hf->mm, hf->vma);
    if (!new_private_page(hf, true, old, &pfn)) {
        hf->result = HUGE_SIGBUS;
        return;
    }
    pg->mapcount--;
    hugetlb_put_page(phys, old);
    map_huge(hf, e, pfn, true);
    hf->flush = true;
    hf->result = HUGE_DONE;
}

static int hugetlb_leaf(void *arg, uint64_t va, int level, pte_t *e)
{
    struct hfault *hf = arg;
    (void)va;
    if (level != hf->level) { /* a page table where a huge leaf belongs: impossible */
        hf->result = HUGE_SIGBUS;
        return 0;
    }
    if (*e == 0) {
        if (hf->vma->flags & VM_MAYSHARE)
            shared_no_page(hf, e);
        else
            private_no_page(hf, e);
        return 0;
    }
    if (!(*e & PTE_P)) { /* PROT_NONE left in an accessible VMA */
        bool rw = (hf->vma->flags & (VM_SHARED | VM_WRITE)) == (VM_SHARED | VM_WRITE);
        *e = (*e & (PTE_ADDR_MASK | PTE_D)) | huge_leaf_bits(hf->vma) | (rw ? PTE_RW : 0);
        hf->result = HUGE_DONE;
        return 0;
    }
    if ((hf->ec & PF_W) && !(*e & PTE_RW)) {
        huge_wp(hf, e);
        return 0;
    }
    *e |= PTE_A | ((hf->ec & PF_W) ? PTE_D : 0);
    hf->result = HUGE_DONE;
    return 0;
}

enum huge_result hugetlb_handle_fault(struct mm *mm, struct vm_area *vma, uint64_t addr, unsigned ec)
{
    uint64_t hsize = vma_page_size(vma);
    struct hfault hf = {.mm = mm, .vma = vma, .ec = ec, .hs = hstate_of_size(hsize),
                        .level = hsize == HPAGE_SIZE_1G ? PT_LEVEL_PUD : PT_LEVEL_PMD,
                        .haddr = addr & ~(hsize - 1), .result = HUGE_SIGBUS};
    hf.idx = huge_index(vma, hf.haddr);
    if (hf.idx >= (vma->file ? (vma->file->size + hsize - 1) / hsize : UINT64_MAX) && (vma->flags & VM_MAYSHARE))
        return HUGE_SIGBUS; /* beyond the file */
    const struct pt_walk_ops ops = {.leaf = hugetlb_leaf};
    uint64_t page = addr & PAGE_MASK;
    if (pt_walk_range(&mm->pt, page, page + PAGE_SIZE, hf.level, PT_WALK_ALLOC, &ops, &hf) < 0)
        return HUGE_OOM;
    if (hf.flush)
        mm_flush_tlb_range(mm, hf.haddr, hf.haddr + hsize);
    return hf.result;
}
