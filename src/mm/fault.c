/*
 * mm/fault.c - the page-fault handler: arch/x86/mm/fault.c's do_user_addr_fault()
 * and mm/memory.c's handle_mm_fault(), for 4 KiB pages.
 *
 * A fault finds its VMA (growing a VM_GROWSDOWN stack down to it, with the guard
 * gap), checks the access against the VMA as access_error() does, builds the
 * missing page-table levels and resolves the PTE through the VMA kind's callbacks
 * (anonymous or file/shmem, in the manner of vm_operations_struct):
 *   - a missing anonymous page: the shared zero page for a read, a zeroed frame for
 *     a write;
 *   - a missing file page: the page-cache frame (plus fault-around for reads), an
 *     anonymous copy for a private write, the cache frame made dirty for a shared one;
 *     beyond the page holding EOF: SIGBUS;
 *   - a write to a present read-only page: page_mkwrite for shared maps, otherwise
 *     copy-on-write, or reuse when the anonymous frame has no other user.
 * The caller retries the access when 0 is returned.  PTEs are only ever changed in
 * the walker's leaf callbacks, which keep the table counts exact.
 */
#include "mm/fault.h"
#include "mm/huge.h"

#include <pagoda/cpu.h>

/* x86-64 swap entries keep their type in bits 59..63; PTE markers (guard regions)
 * are type 31 (SWP_PTE_MARKER). */
#define SWP_TYPE_SHIFT 59
#define SWP_TYPE_PTE_MARKER 31ULL

enum fault_result {
    FAULT_DONE,   /* resolved: retry the access */
    FAULT_MAPERR, /* SIGSEGV, SEGV_MAPERR */
    FAULT_ACCERR, /* SIGSEGV, SEGV_ACCERR */
    FAULT_PKUERR, /* SIGSEGV, SEGV_PKUERR */
    FAULT_SIGBUS, /* SIGBUS, BUS_ADRERR */
    FAULT_OOM,    /* out of memory: the OOM killer takes the task (SIGKILL) */
};

/* One fault being handled (struct vm_fault). */
struct fault {
    struct mm *mm;
    struct vm_area *vma;
    uint64_t addr;  /* page of the faulting address */
    unsigned ec;    /* x86 error code */
    uint64_t pgoff; /* file page offset, or linear index for anonymous memory */
    bool read_fault_done; /* a missing file page was mapped for a read: fault around */
};

/* What each kind of VMA does on faults (a vm_operations_struct's fault part). */
struct fault_ops {
    /* A missing PTE: fill *pte. */
    enum fault_result (*fault)(struct fault *f, pte_t *pte);
    /* After a read fault: map neighbours already at hand (NULL: none). */
    void (*map_pages)(struct fault *f);
    /* A write to a present read-only PTE of a shared VMA. */
    enum fault_result (*page_mkwrite)(struct fault *f, pte_t *pte);
};

/* ---- the zero page ------------------------------------------------------------------ */

/* One zero frame per machine: frame 0, reserved at boot (mm_zero_page_reserve) as
 * Linux's zero page lies outside managed memory, or else allocated on first use.
 * struct mm knows no machine-wide state, so a small registry keyed by phys holds
 * them; an entry is trusted only while its frame is still PG_ZERO and referenced (a
 * machine destroyed without mm_fault_release_phys leaves a stale entry, dropped
 * then). */
#define ZERO_SLOTS 16
static struct zero_slot {
    struct phys *phys;
    pfn_t pfn;
} zero_slots[ZERO_SLOTS];
static unsigned zero_evict; /* round-robin victim when every slot is taken */

static bool zero_slot_live(const struct zero_slot *z)
{
    if (z->pfn >= z->phys->nframes)
        return false;
    const struct page *pg = phys_page(z->phys, z->pfn);
    return (pg->flags & PG_ZERO) && pg->refcount > 0;
}

/* The slot of phys (live), else NULL; stale slots of phys are cleared. */
static struct zero_slot *zero_slot_of(struct phys *phys)
{
    for (unsigned i = 0; i < ZERO_SLOTS; i++) {
        struct zero_slot *z = &zero_slots[i];
        if (z->phys != phys)
            continue;
        if (zero_slot_live(z))
            return z;
        z->phys = NULL;
    }
    return NULL;
}

/* A free registry slot, or the round-robin victim. */
static struct zero_slot *zero_slot_free(void)
{
    for (unsigned i = 0; i < ZERO_SLOTS; i++)
        if (!zero_slots[i].phys)
            return &zero_slots[i];
    return &zero_slots[zero_evict++ % ZERO_SLOTS];
}

int mm_zero_page(struct phys *phys, pfn_t *pfn)
{
    struct zero_slot *z = zero_slot_of(phys);
    if (z) {
        *pfn = z->pfn;
        return 0;
    }
    pfn_t new;
    if (phys_alloc(phys, 0, PHYS_ZERO, &new))
        return -ENOMEM;
    phys_page(phys, new)->flags |= PG_ZERO | PG_UPTODATE;
    *zero_slot_free() = (struct zero_slot){phys, new};
    *pfn = new;
    return 0;
}

int mm_zero_page_reserve(struct phys *phys)
{
    if (zero_slot_of(phys))
        return 0;
    int err = phys_reserve(phys, 0, 1);
    if (err)
        return err;
    memset(phys_host(phys, 0), 0, PAGE_SIZE);
    phys_page(phys, 0)->flags |= PG_ZERO | PG_UPTODATE;
    *zero_slot_free() = (struct zero_slot){phys, 0};
    return 0;
}

void mm_fault_release_phys(struct phys *phys)
{
    mm_lru_add_drain(phys);
    struct zero_slot *z = zero_slot_of(phys);
    if (z) {
        struct page *pg = phys_page(phys, z->pfn);
        if (!(pg->flags & PG_RESERVED)) { /* allocated on first use, not at boot */
            pg->refcount = 0;
            phys_free(phys, z->pfn, 0);
        }
        z->phys = NULL;
    }
    pagecache_release_phys(phys);
}

/* ---- PTE helpers ---------------------------------------------------------------------- */

/* Bits every user leaf of this VMA carries: present, user, accessed (Linux's
 * protection_map has _PAGE_ACCESSED), NX unless executable.  RW/D are per case. */
static pte_t leaf_bits(const struct vm_area *vma)
{
    return PTE_P | PTE_US | PTE_A | ((vma->flags & VM_EXEC) ? 0 : PTE_NX);
}

static pte_t frame_pte(pfn_t pfn)
{
    return (pte_t)pfn << PAGE_SHIFT;
}

static pfn_t pte_pfn(pte_t e)
{
    return (e & PTE_ADDR_MASK) >> PAGE_SHIFT;
}

/* Drop one mapping's references on the frame of a (non-special) PTE. */
static void drop_mapping(struct mm *mm, pte_t e)
{
    if (huge_drop_pte_mapping(mm, pte_pfn(e))) /* a subpage of a THP */
        return;
    struct page *pg = phys_page(mm->phys, pte_pfn(e));
    PAGODA_BUG_ON(pg->refcount <= 0 || pg->mapcount <= 0, "a mapped frame is referenced by its PTE");
    pg->mapcount--;
    if (--pg->refcount == 0)
        phys_free(mm->phys, pte_pfn(e), 0);
}

/* Map a fresh anonymous frame at f (zeroed, or a copy of frame src when
 * has_src), writable and dirty when the VMA is writable (do_anonymous_page,
 * wp_page_copy, do_cow_fault).  The old PTE's frame is the caller's business. */
static enum fault_result map_new_anon(struct fault *f, pte_t *pte, bool has_src, pfn_t src)
{
    struct phys *phys = f->mm->phys;
    vma_anon_prepare(f->mm, f->vma);
    if (!f->vma->anon_vma)
        return FAULT_OOM;
    pfn_t pfn;
    if (phys_alloc(phys, 0, has_src ? 0 : PHYS_ZERO, &pfn))
        return FAULT_OOM;
    if (has_src)
        memcpy(phys_host(phys, pfn << PAGE_SHIFT), phys_host(phys, src << PAGE_SHIFT), PAGE_SIZE);
    struct page *pg = phys_page(phys, pfn);
    pg->flags |= PG_ANON | PG_SWAPBACKED | PG_UPTODATE;
    pg->mapping = f->vma->anon_vma;
    pg->index = f->pgoff;
    pg->mapcount = 1;
    pte_t write = (f->vma->flags & VM_WRITE) ? PTE_RW | PTE_D : 0;
    *pte = frame_pte(pfn) | leaf_bits(f->vma) | write;
    return FAULT_DONE;
}

/* ---- anonymous memory ------------------------------------------------------------------ */

/* do_anonymous_page(): the zero page for a read, a zeroed frame for a write. */
static enum fault_result anon_fault(struct fault *f, pte_t *pte)
{
    if (f->ec & PF_W)
        return map_new_anon(f, pte, false, 0);
    pfn_t zero;
    if (mm_zero_page(f->mm->phys, &zero))
        return FAULT_OOM;
    *pte = frame_pte(zero) | leaf_bits(f->vma) | PTE_SPECIAL;
    return FAULT_DONE;
}

static const struct fault_ops anon_fault_ops = {.fault = anon_fault};

/* ---- files and shmem ------------------------------------------------------------------ */

/* Host files get write-notify (ext4's page_mkwrite): a shared writable page is mapped
 * read-only until written.  shmem has none, so its shared writable pages map RW. */
static bool wants_writenotify(const struct pagecache *c)
{
    return pagecache_reads_host(c);
}

/* Map cache frame pfn at *pte for this VMA, taking a mapping reference. */
static void map_cache_page(struct fault *f, pte_t *pte, pfn_t pfn, bool write, const struct pagecache *c)
{
    struct page *pg = phys_page(f->mm->phys, pfn);
    pg->refcount++;
    pg->mapcount++;
    bool shared_rw = (f->vma->flags & (VM_SHARED | VM_WRITE)) == (VM_SHARED | VM_WRITE);
    pte_t bits = leaf_bits(f->vma);
    if (write) {
        bits |= PTE_RW | PTE_D;
        pg->flags |= PG_DIRTY;
    } else if (shared_rw && !wants_writenotify(c)) {
        bits |= PTE_RW;
    }
    *pte = frame_pte(pfn) | bits;
}

/* The cache of the VMA's file and the frame for f->pgoff, read if needed.
 * FAULT_DONE with *c and *pfn set, FAULT_SIGBUS beyond EOF or on a read error. */
static enum fault_result cache_page(struct fault *f, struct pagecache **c, pfn_t *pfn)
{
    struct mm_file *file = f->vma->file;
    if (f->pgoff >= pagecache_file_pages(file))
        return FAULT_SIGBUS;
    *c = pagecache_attach(file, f->mm->phys);
    if (!*c)
        return FAULT_OOM;
    int err = pagecache_get(*c, file, f->pgoff, pfn);
    return err == -ENOMEM ? FAULT_OOM : err ? FAULT_SIGBUS : FAULT_DONE;
}

/* do_read_fault / do_cow_fault / do_shared_fault for a missing PTE. */
static enum fault_result file_fault(struct fault *f, pte_t *pte)
{
    if ((f->ec & PF_W) && !(f->vma->flags & VM_SHARED)) {
        vma_anon_prepare(f->mm, f->vma); /* do_cow_fault() prepares before reading */
        if (!f->vma->anon_vma)
            return FAULT_OOM;
    }
    struct pagecache *c;
    pfn_t pfn;
    enum fault_result r = cache_page(f, &c, &pfn);
    if (r != FAULT_DONE)
        return r;
    if (!(f->ec & PF_W)) {
        map_cache_page(f, pte, pfn, false, c);
        f->read_fault_done = true;
        return FAULT_DONE;
    }
    if (!(f->vma->flags & VM_SHARED))
        return map_new_anon(f, pte, true, pfn);
    map_cache_page(f, pte, pfn, true, c);
    return FAULT_DONE;
}

/* wp_page_shared(): the write-notify fault of a shared page: writable and dirty. */
static enum fault_result file_page_mkwrite(struct fault *f, pte_t *pte)
{
    phys_page(f->mm->phys, pte_pfn(*pte))->flags |= PG_DIRTY;
    *pte |= PTE_RW | PTE_D | PTE_A;
    return FAULT_DONE;
}

/* Fault-around state: the cache and the VMA's shape. */
struct around {
    struct fault *f;
    struct pagecache *c;
    uint64_t file_pages;
};

/* Map one empty PTE of the fault-around window to its cached page: host files read
 * the page in (the readahead that brought it), shmem maps only pages it has. */
static int around_leaf(void *arg, uint64_t va, int level, pte_t *pte)
{
    struct around *a = arg;
    struct fault *f = a->f;
    if (*pte || level != PT_LEVEL_PTE)
        return 0;
    uint64_t pgoff = f->vma->pgoff + ((va - vma_start(f->vma)) >> PAGE_SHIFT);
    pfn_t pfn;
    if (pgoff >= a->file_pages)
        return 0;
    if (pagecache_reads_host(a->c) ? pagecache_get(a->c, f->vma->file, pgoff, &pfn) != 0
                                   : !pagecache_peek(a->c, pgoff, &pfn))
        return 0;
    map_cache_page(f, pte, pfn, false, a->c);
    return 0;
}

/* do_fault_around(): the fault_around_bytes-aligned window of PTEs around the fault,
 * within the VMA and the same page table, as Linux computes it. */
static void file_map_pages(struct fault *f)
{
    if (!f->read_fault_done)
        return;
    uint64_t pte_off = (f->addr >> PAGE_SHIFT) & (PT_ENTRIES - 1);
    uint64_t vma_off = f->pgoff - f->vma->pgoff;
    uint64_t from = mm_max(pte_off & ~(uint64_t)(FAULT_AROUND_PAGES - 1), pte_off - mm_min(pte_off, vma_off));
    uint64_t to = mm_min(mm_min(from + FAULT_AROUND_PAGES, PT_ENTRIES), pte_off + vma_pages(f->vma) - vma_off);
    uint64_t table = f->addr & ~(PMD_SIZE - 1);
    struct around a = {f, pagecache_attach(f->vma->file, f->mm->phys), pagecache_file_pages(f->vma->file)};
    if (!a.c || to <= from)
        return;
    const struct pt_walk_ops ops = {.leaf = around_leaf};
    pt_walk_range(&f->mm->pt, table + (from << PAGE_SHIFT), table + (to << PAGE_SHIFT), PT_LEVEL_PTE, PT_WALK_ALLOC,
                  &ops, &a);
}

static const struct fault_ops file_fault_ops = {
    .fault = file_fault,
    .map_pages = file_map_pages,
    .page_mkwrite = file_page_mkwrite,
};

/* ---- VMAs with their own vm_operations -------------------------------------------------- */

/* A vm_fault_t answer as a fault outcome. */
static enum fault_result vm_fault_result(int ret)
{
    if (ret & VM_FAULT_OOM)
        return FAULT_OOM;
    if (ret & VM_FAULT_SIGBUS)
        return FAULT_SIGBUS;
    if (ret & VM_FAULT_SIGSEGV)
        return FAULT_MAPERR;
    return FAULT_DONE;
}

static struct vm_fault vm_fault_of(const struct fault *f)
{
    return (struct vm_fault){.address = f->addr, .pgoff = f->pgoff, .write = (f->ec & PF_W) != 0};
}

/* __do_fault() through vma->ops->fault: map the frame it supplies (its reference goes
 * to the PTE), or for a private write an anonymous copy of it.  A shared writable map
 * with ->page_mkwrite maps read-only until the first write (write-notify). */
static enum fault_result ops_fault(struct fault *f, pte_t *pte)
{
    const struct vm_operations *ops = f->vma->ops;
    struct vm_fault vmf = vm_fault_of(f);
    int ret = ops->fault(f->vma, &vmf);
    if (ret != VM_FAULT_OK)
        return vm_fault_result(ret);
    PAGODA_BUG_ON(vmf.pfn >= f->mm->phys->nframes || phys_page(f->mm->phys, vmf.pfn)->refcount <= 0,
                  "a vm_operations fault supplies a referenced frame");
    struct page *pg = phys_page(f->mm->phys, vmf.pfn);
    bool shared = (f->vma->flags & VM_SHARED) != 0;
    if (vmf.write && !shared) {
        enum fault_result r = map_new_anon(f, pte, true, vmf.pfn);
        if (--pg->refcount == 0)
            phys_free(f->mm->phys, vmf.pfn, 0);
        return r;
    }
    if (vmf.write && ops->page_mkwrite) {
        ret = ops->page_mkwrite(f->vma, &vmf);
        if (ret != VM_FAULT_OK) {
            if (--pg->refcount == 0)
                phys_free(f->mm->phys, vmf.pfn, 0);
            return vm_fault_result(ret);
        }
    }
    pg->mapcount++;
    pte_t bits = leaf_bits(f->vma);
    if (vmf.write)
        bits |= PTE_RW | PTE_D;
    else if (shared && (f->vma->flags & VM_WRITE) && !ops->page_mkwrite)
        bits |= PTE_RW;
    *pte = frame_pte(vmf.pfn) | bits;
    return FAULT_DONE;
}

/* wp_page_shared() through vma->ops->page_mkwrite. */
static enum fault_result ops_page_mkwrite(struct fault *f, pte_t *pte)
{
    struct vm_fault vmf = vm_fault_of(f);
    vmf.pfn = pte_pfn(*pte);
    if (f->vma->ops->page_mkwrite) {
        int ret = f->vma->ops->page_mkwrite(f->vma, &vmf);
        if (ret != VM_FAULT_OK)
            return vm_fault_result(ret);
    }
    *pte |= PTE_RW | PTE_D | PTE_A;
    return FAULT_DONE;
}

static const struct fault_ops vm_ops_fault_ops = {.fault = ops_fault, .page_mkwrite = ops_page_mkwrite};

static const struct fault_ops *fault_ops_of(const struct vm_area *vma)
{
    if (vma->ops && vma->ops->fault)
        return &vm_ops_fault_ops;
    return vma_is_anonymous(vma) ? &anon_fault_ops : &file_fault_ops;
}

/* ---- write protection ------------------------------------------------------------------ */

/* do_wp_page(): a write to a present read-only PTE of a writable VMA. */
static enum fault_result wp_fault(struct fault *f, pte_t *pte)
{
    const struct fault_ops *ops = fault_ops_of(f->vma);
    pte_t e = *pte;
    if ((f->vma->flags & (VM_SHARED | VM_MAYSHARE)) == (VM_SHARED | VM_MAYSHARE) && ops->page_mkwrite)
        return ops->page_mkwrite(f, pte);
    enum fault_result r;
    if (e & PTE_SPECIAL) { /* the zero page: a fresh zeroed frame */
        r = map_new_anon(f, pte, false, 0);
    } else {
        if (anon_frame_reusable(f->mm, pte_pfn(e))) { /* wp_can_reuse_anon_folio() */
            *pte |= PTE_RW | PTE_D | PTE_A;
            return FAULT_DONE;
        }
        r = map_new_anon(f, pte, true, pte_pfn(e));
        if (r == FAULT_DONE)
            drop_mapping(f->mm, e);
    }
    if (r == FAULT_DONE) /* ptep_clear_flush(): the old frame's translation goes */
        mm_flush_tlb_range(f->mm, f->addr, f->addr + PAGE_SIZE);
    return r;
}

/* ---- one PTE ------------------------------------------------------------------------------ */

/* handle_pte_fault(). */
static enum fault_result handle_pte(struct fault *f, pte_t *pte)
{
    pte_t e = *pte;
    if (e == 0)
        return fault_ops_of(f->vma)->fault(f, pte);
    if (!(e & (PTE_P | PTE_PROTNONE))) /* a guard marker (VM_FAULT_SIGSEGV), or swap */
        return (e >> SWP_TYPE_SHIFT) == SWP_TYPE_PTE_MARKER ? FAULT_MAPERR : FAULT_SIGBUS;
    if (!(e & PTE_P)) { /* PROT_NONE left in an accessible VMA: give the VMA's bits */
        *pte = (e & (PTE_ADDR_MASK | PTE_SPECIAL | PTE_D)) | leaf_bits(f->vma);
        return FAULT_DONE;
    }
    if ((f->ec & PF_W) && !(e & PTE_RW))
        return wp_fault(f, pte);
    *pte |= PTE_A | ((f->ec & PF_W) ? PTE_D : 0); /* spurious: already resolved */
    return FAULT_DONE;
}

/* The walker's leaf callback: resolve the PTE; non-zero stops with the outcome. */
static int resolve_leaf(void *arg, uint64_t va, int level, pte_t *pte)
{
    struct fault *f = arg;
    enum fault_result r;
    if (level == PT_LEVEL_PTE)
        r = handle_pte(f, pte);
    else /* huge leaves are not made by faults yet: only a spurious fault passes */
        r = ((f->ec & PF_W) && !(*pte & PTE_RW)) ? FAULT_SIGBUS : FAULT_DONE;
    return (int)r;
}

/* ---- the VMA -------------------------------------------------------------------------------- */

/* lock_mm_and_find_vma(): the VMA holding addr, growing a VM_GROWSDOWN one below it
 * (expand_stack: guard gap, RLIMIT_STACK, RLIMIT_AS); NULL for SEGV_MAPERR. */
static struct vm_area *find_fault_vma(struct mm *mm, uint64_t addr)
{
    struct vm_area *vma = mm_find_vma(mm, addr);
    if (!vma || vma_start(vma) <= addr)
        return vma;
    if (!(vma->flags & VM_GROWSDOWN))
        return NULL;
    vma_anon_prepare(mm, vma);
    if (mm_exec_extend_stack(mm, addr))
        return NULL;
    return mm_find_vma(mm, addr);
}

/* access_error(): may this access fault in pages of vma at all? */
static enum fault_result access_error(unsigned ec, const struct vm_area *vma)
{
    if (ec & PF_PK)
        return FAULT_PKUERR;
    if (ec & PF_W)
        return (vma->flags & VM_WRITE) ? FAULT_DONE : FAULT_ACCERR;
    if (ec & PF_P) /* read or fetch of a present page: a protection fault */
        return FAULT_ACCERR;
    return (vma->flags & VM_ACCESS_FLAGS) ? FAULT_DONE : FAULT_ACCERR;
}

/* do_user_addr_fault() + handle_mm_fault(). */
static enum fault_result do_fault(struct mm *mm, uint64_t addr, unsigned ec)
{
    PAGODA_BUG_ON(ec & PF_RSVD, "page tables never hold reserved bits");
    if (addr >= mm->task_size)
        return FAULT_MAPERR;
    struct vm_area *vma = find_fault_vma(mm, addr);
    if (!vma)
        return FAULT_MAPERR;
    enum fault_result r = access_error(ec, vma);
    if (r != FAULT_DONE)
        return r;
    enum huge_result hr = (vma->flags & VM_HUGETLB) ? hugetlb_handle_fault(mm, vma, addr, ec)
                                                    : thp_handle_pmd_fault(mm, vma, addr, ec);
    if (hr != HUGE_FALLBACK) /* a huge page, or a hugetlb outcome */
        return hr == HUGE_DONE ? FAULT_DONE : hr == HUGE_SIGBUS ? FAULT_SIGBUS : FAULT_OOM;
    struct fault f = {.mm = mm, .vma = vma, .addr = addr & PAGE_MASK, .ec = ec};
    f.pgoff = vma->pgoff + ((f.addr - vma_start(vma)) >> PAGE_SHIFT);
    const struct pt_walk_ops ops = {.leaf = resolve_leaf};
    int rc = pt_walk_range(&mm->pt, f.addr, f.addr + PAGE_SIZE, PT_LEVEL_PTE, PT_WALK_ALLOC, &ops, &f);
    if (rc < 0)
        return FAULT_OOM;
    if (rc > 0)
        return (enum fault_result)rc;
    const struct fault_ops *fops = fault_ops_of(vma);
    if (fops->map_pages && !(ec & PF_W))
        fops->map_pages(&f);
    return FAULT_DONE;
}

int mm_handle_fault(struct mm *mm, uint64_t addr, unsigned error_code, int *signo, int *si_code)
{
    static const struct {
        int signo, code;
    } outcome[] = {
        [FAULT_DONE] = {0, 0},
        [FAULT_MAPERR] = {PGD_SIGSEGV, PGD_SEGV_MAPERR},
        [FAULT_ACCERR] = {PGD_SIGSEGV, PGD_SEGV_ACCERR},
        [FAULT_PKUERR] = {PGD_SIGSEGV, PGD_SEGV_PKUERR},
        [FAULT_SIGBUS] = {PGD_SIGBUS, PGD_BUS_ADRERR},
        [FAULT_OOM] = {PGD_SIGKILL, 0},
    };
    enum fault_result r = do_fault(mm, addr, error_code);
    *signo = outcome[r].signo;
    *si_code = outcome[r].code;
    return outcome[r].signo;
}
