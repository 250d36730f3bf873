/*
 * mm/kmem.c - the kernel half: init_mm's page table (direct map, vmemmap, kernel
 * image) shared by every process, kmalloc's slab caches and vmalloc.
 *
 * Layout (Documentation/arch/x86/x86_64/mm.rst, randomization off).  The top-level
 * entries 256..511 of init_mm's table each get a table at boot; mm_create copies the
 * 256 entries into every process's top-level table (pgtable_share_top), so changes
 * below them are seen by all.  Kernel tables are never freed while the kernel half
 * lives (Linux's vunmap leaves page tables in place too); kmem_destroy frees them.
 *
 * Slabs (SLUB without debugging, per-CPU slabs or freelist hardening).  A slab is a
 * buddy block of the cache's order with PG_SLAB on its head page; the head's
 * ->mapping is the cache, ->index the kernel address of the first free object (0 when
 * none), ->private the objects in use, ->lru links it on the cache's partial or full
 * list.  A free object holds the address of the next free one at the cache's free
 * pointer offset (the middle of the object, as SLUB places it), in simulated RAM.
 * A slab whose last object is freed goes back to the buddy allocator at once
 * (Linux keeps up to min_partial empty slabs; pagoda keeps none, so that a leak
 * audit sees exactly the live objects).
 *
 * kmalloc_large: a compound block whose head's ->mapping is &large_marker, on a list
 * through its ->lru.  vmalloc areas: a host-side list sorted by address.
 */
#include "mm/internal.h"

#include <inttypes.h>
#include <pagoda/kmem.h>

/* Linux's PAGE_KERNEL family (arch/x86/include/asm/pgtable_types.h). */
#define KPTE_KERNEL (PTE_P | PTE_RW | PTE_A | PTE_D | PTE_G | PTE_NX)
#define KPTE_KERNEL_RO (PTE_P | PTE_A | PTE_G | PTE_NX)
#define KPTE_KERNEL_ROX (PTE_P | PTE_A | PTE_G)
#define KPTE_KERNPG_TABLE (PTE_P | PTE_RW | PTE_A | PTE_D)

#define GIB (1ULL << 30)
#define NR_KMALLOC_CACHES 13

struct kmem_cache {
    const char *name;
    uint32_t size;         /* object size and stride */
    unsigned order;        /* slab order (pages per slab = 1 << order) */
    unsigned objs;         /* objects per slab */
    unsigned offset;       /* free pointer offset in a free object */
    struct page_list partial, full;
    uint64_t nr_slabs, inuse;
};

struct vmap_area {
    uint64_t start, size;  /* size includes the guard page */
    uint64_t nr_pages;
    pfn_t *pages;
    struct vmap_area *next;
};

struct kmem {
    struct phys *phys;
    struct kmem_layout lay;
    struct pgtable pt;            /* init_mm */
    pfn_t image_pfn;              /* order-3 block, when image_mapped */
    bool image_mapped;
    struct {
        pfn_t pfn;
        unsigned order;
    } *vmemmap;
    uint64_t nr_vmemmap, vmemmap_frames;
    struct kmem_cache caches[NR_KMALLOC_CACHES];
    struct page_list large;       /* kmalloc_large blocks */
    uint64_t large_frames, large_count;
    struct vmap_area *areas;      /* sorted by start */
    uint64_t vmalloc_pages;
    void (*tlb_flush)(void *ctx, uint64_t start, uint64_t end);
    void *tlb_ctx;
};

static char large_marker; /* ->mapping of a kmalloc_large head page */

/* Size classes in creation order (96 and 192 come first, as kmalloc_index numbers
 * them) with the slab orders SLUB picks on the 2-CPU reference machine
 * (/proc/slabinfo: objperslab and pagesperslab). */
static const struct {
    const char *name;
    uint32_t size;
    unsigned order;
} kmalloc_info[NR_KMALLOC_CACHES] = {
    {"kmalloc-96", 96, 0},   {"kmalloc-192", 192, 0}, {"kmalloc-8", 8, 0},     {"kmalloc-16", 16, 0},
    {"kmalloc-32", 32, 0},   {"kmalloc-64", 64, 0},   {"kmalloc-128", 128, 0}, {"kmalloc-256", 256, 0},
    {"kmalloc-512", 512, 1}, {"kmalloc-1k", 1024, 2}, {"kmalloc-2k", 2048, 3}, {"kmalloc-4k", 4096, 3},
    {"kmalloc-8k", 8192, 3},
};

/* ---- list helpers (struct page_list, circular with a sentinel) -------------------- */

static void klist_init(struct page_list *h) { h->next = h->prev = h; }
static bool klist_empty(const struct page_list *h) { return h->next == h; }
static void klist_add(struct page_list *n, struct page_list *h)
{
    n->next = h->next;
    n->prev = h;
    h->next->prev = n;
    h->next = n;
}
static void klist_del(struct page_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
}
static struct page *klist_page(struct page_list *n)
{
    return (struct page *)((char *)n - offsetof(struct page, lru));
}

/* ---- layout ----------------------------------------------------------------------- */

void kmem_layout_of(int levels, struct kmem_layout *out)
{
    if (levels == 5) {
        *out = (struct kmem_layout){5, 0xff11000000000000ULL, 0xffa0000000000000ULL,
                                    0xffa0000000000000ULL + (12800ULL << 40) - 1, 0xffd4000000000000ULL};
    } else {
        *out = (struct kmem_layout){4, 0xffff888000000000ULL, 0xffffc90000000000ULL,
                                    0xffffc90000000000ULL + (32ULL << 40) - 1, 0xffffea0000000000ULL};
    }
}

static struct kmem *kmem_of(struct phys *phys)
{
    return mm_machine_of(phys)->kmem;
}

bool kmem_present(struct phys *phys) { return kmem_of(phys) != NULL; }

const struct kmem_layout *kmem_layout(struct phys *phys)
{
    struct kmem *k = kmem_of(phys);
    return k ? &k->lay : NULL;
}

struct pgtable *kmem_init_pgtable(struct phys *phys)
{
    struct kmem *k = kmem_of(phys);
    return k ? &k->pt : NULL;
}

int kmem_share_kernel_half(struct phys *phys, struct pgtable *pt)
{
    struct kmem *k = kmem_of(phys);
    if (!k)
        return -ENOENT;
    if (pt->levels != k->pt.levels || pt->phys != phys)
        return -EINVAL;
    pgtable_share_top(pt, &k->pt, KMEM_KERNEL_PGD_FIRST);
    return 0;
}

void kmem_set_tlb_flush(struct phys *phys, void (*fn)(void *ctx, uint64_t start, uint64_t end), void *ctx)
{
    struct kmem *k = kmem_of(phys);
    if (k) {
        k->tlb_flush = fn;
        k->tlb_ctx = ctx;
    }
}

uint64_t kmem_va(struct phys *phys, paddr_t pa)
{
    struct kmem *k = kmem_of(phys);
    PAGODA_BUG_ON(!k, "__va needs a kernel half");
    return k->lay.page_offset_base + pa;
}

paddr_t kmem_pa(struct phys *phys, uint64_t va)
{
    struct kmem *k = kmem_of(phys);
    PAGODA_BUG_ON(!k, "__pa needs a kernel half");
    return va - k->lay.page_offset_base;
}

uint64_t kmem_page_to_vmemmap(struct phys *phys, pfn_t pfn)
{
    struct kmem *k = kmem_of(phys);
    PAGODA_BUG_ON(!k, "pfn_to_page needs a kernel half");
    return k->lay.vmemmap_base + pfn * KMEM_STRUCT_PAGE_SIZE;
}

paddr_t kmem_image_pa(struct phys *phys)
{
    struct kmem *k = kmem_of(phys);
    return k ? (paddr_t)k->image_pfn << PAGE_SHIFT : 0;
}

/* Is va inside the direct map of this machine's RAM? */
static bool in_direct_map(const struct kmem *k, uint64_t va)
{
    return va >= k->lay.page_offset_base && va - k->lay.page_offset_base < k->phys->ram_bytes;
}

/* ---- boot ------------------------------------------------------------------------- */

/* The direct map: [page_offset_base, + RAM) -> [0, RAM), 1 GiB leaves for whole
 * gigabytes, 2 MiB leaves for whole 2 MiB blocks after them, 4 KiB for the rest. */
static int map_direct(struct kmem *k)
{
    uint64_t ram = k->phys->ram_bytes, base = k->lay.page_offset_base;
    uint64_t g = ram & ~(GIB - 1), m = ram & ~(PMD_SIZE - 1);
    int err = 0;
    if (g)
        err = pt_map(&k->pt, base, 0, g, PT_LEVEL_PUD, KPTE_KERNEL);
    if (!err && m > g)
        err = pt_map(&k->pt, base + g, g, m - g, PT_LEVEL_PMD, KPTE_KERNEL);
    if (!err && ram > m)
        err = pt_map(&k->pt, base + m, m, ram - m, PT_LEVEL_PTE, KPTE_KERNEL);
    return err;
}

/* One block of frames standing for part of the struct page array, mapped at `va`. */
static int vmemmap_block(struct kmem *k, uint64_t va, unsigned order)
{
    pfn_t pfn;
    if (phys_alloc(k->phys, order, 0, &pfn))
        return -ENOMEM;
    k->vmemmap[k->nr_vmemmap].pfn = pfn;
    k->vmemmap[k->nr_vmemmap].order = order;
    k->nr_vmemmap++;
    k->vmemmap_frames += 1ULL << order;
    return pt_map(&k->pt, va, (paddr_t)pfn << PAGE_SHIFT, PAGE_SIZE << order,
                  order ? PT_LEVEL_PMD : PT_LEVEL_PTE, KPTE_KERNEL);
}

/* vmemmap: 64 bytes per frame from vmemmap_base, 2 MiB leaves (order-9 blocks) as
 * vmemmap_populate_hugepages maps them, 4 KiB frames for a partial last block. */
static int map_vmemmap(struct kmem *k)
{
    uint64_t bytes = PAGE_ALIGN(k->phys->nframes * KMEM_STRUCT_PAGE_SIZE);
    uint64_t n2m = bytes / PMD_SIZE, n4k = (bytes % PMD_SIZE) / PAGE_SIZE;
    k->vmemmap = calloc(n2m + n4k + 1, sizeof(*k->vmemmap));
    if (!k->vmemmap)
        return -ENOMEM;
    uint64_t va = k->lay.vmemmap_base;
    int err = 0;
    for (uint64_t i = 0; i < n2m && !err; i++, va += PMD_SIZE)
        err = vmemmap_block(k, va, 9);
    for (uint64_t i = 0; i < n4k && !err; i++, va += PAGE_SIZE)
        err = vmemmap_block(k, va, 0);
    return err;
}

/* The image: one zeroed order-3 block at _text, sections mapped as Linux leaves them
 * after mark_rodata_ro (text ROX, rodata RO+NX, data and bss RW+NX). */
static int map_image(struct kmem *k)
{
    static const struct {
        unsigned pages;
        pte_t bits;
    } sect[] = {{KMEM_IMAGE_TEXT_PAGES, KPTE_KERNEL_ROX},
                {KMEM_IMAGE_RODATA_PAGES, KPTE_KERNEL_RO},
                {KMEM_IMAGE_DATA_PAGES, KPTE_KERNEL},
                {KMEM_IMAGE_BSS_PAGES, KPTE_KERNEL}};
    if (phys_alloc(k->phys, 3, PHYS_ZERO, &k->image_pfn))
        return -ENOMEM;
    k->image_mapped = true;
    uint64_t off = 0;
    for (size_t i = 0; i < sizeof(sect) / sizeof(sect[0]); i++) {
        uint64_t len = (uint64_t)sect[i].pages * PAGE_SIZE;
        int err = pt_map(&k->pt, KMEM_START_KERNEL + off, ((paddr_t)k->image_pfn << PAGE_SHIFT) + off, len,
                         PT_LEVEL_PTE, sect[i].bits);
        if (err)
            return err;
        off += len;
    }
    return 0;
}

static void caches_init(struct kmem *k)
{
    for (int i = 0; i < NR_KMALLOC_CACHES; i++) {
        struct kmem_cache *c = &k->caches[i];
        c->name = kmalloc_info[i].name;
        c->size = kmalloc_info[i].size;
        c->order = kmalloc_info[i].order;
        c->objs = (unsigned)((PAGE_SIZE << c->order) / c->size);
        c->offset = (c->size / 2) & ~7u;
        klist_init(&c->partial);
        klist_init(&c->full);
    }
    klist_init(&k->large);
}

static void kmem_teardown(struct kmem *k);

int kmem_boot(struct phys *phys, int levels)
{
    struct mm_machine *m = mm_machine_of(phys);
    if (levels != 4 && levels != 5)
        return -EINVAL;
    if (m->kmem)
        return -EEXIST;
    struct kmem *k = calloc(1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    k->phys = phys;
    kmem_layout_of(levels, &k->lay);
    caches_init(k);
    int err = pgtable_init(&k->pt, phys, levels);
    if (err) {
        free(k);
        return err;
    }
    k->pt.table_bits = KPTE_KERNPG_TABLE;
    err = pgtable_populate_top(&k->pt, KMEM_KERNEL_PGD_FIRST);
    if (!err)
        err = map_direct(k);
    if (!err)
        err = map_vmemmap(k);
    if (!err)
        err = map_image(k);
    if (err) {
        kmem_teardown(k);
        return err;
    }
    m->kmem = k;
    return 0;
}

/* ---- kmalloc ---------------------------------------------------------------------- */

uint64_t kmem_kmalloc_size_class(uint64_t size)
{
    static const uint32_t classes[] = {8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192};
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        if (size <= classes[i])
            return classes[i];
    return 0;
}

static struct kmem_cache *cache_for(struct kmem *k, uint64_t size)
{
    uint64_t cls = kmem_kmalloc_size_class(size);
    for (int i = 0; i < NR_KMALLOC_CACHES; i++)
        if (k->caches[i].size == cls)
            return &k->caches[i];
    return NULL;
}

/* The 8-byte word at kernel direct-map address va. */
static uint64_t *kword(struct kmem *k, uint64_t va)
{
    return phys_host(k->phys, va - k->lay.page_offset_base);
}

static uint64_t slab_base(struct kmem *k, const struct page *head)
{
    return kmem_va(k->phys, (paddr_t)phys_page_pfn(k->phys, head) << PAGE_SHIFT);
}

/* allocate_slab(): a new slab with every object free, linked in order. */
static struct page *new_slab(struct kmem *k, struct kmem_cache *c)
{
    pfn_t pfn;
    if (phys_alloc(k->phys, c->order, c->order ? PHYS_COMPOUND : 0, &pfn))
        return NULL;
    struct page *pg = phys_page(k->phys, pfn);
    uint64_t base = kmem_va(k->phys, (paddr_t)pfn << PAGE_SHIFT);
    for (unsigned i = 0; i < c->objs; i++)
        *kword(k, base + (uint64_t)i * c->size + c->offset) = i + 1 < c->objs ? base + (uint64_t)(i + 1) * c->size : 0;
    pg->flags |= PG_SLAB;
    pg->mapping = c;
    pg->index = base;
    pg->private = 0;
    klist_add(&pg->lru, &c->partial);
    c->nr_slabs++;
    return pg;
}

static uint64_t kmalloc_large(struct kmem *k, uint64_t size)
{
    unsigned order = 0;
    while ((PAGE_SIZE << order) < size)
        order++;
    pfn_t pfn;
    if (order > PHYS_MAX_ORDER || phys_alloc(k->phys, order, order ? PHYS_COMPOUND : 0, &pfn))
        return 0;
    struct page *pg = phys_page(k->phys, pfn);
    pg->mapping = &large_marker;
    pg->private = order;
    klist_add(&pg->lru, &k->large);
    k->large_frames += 1ULL << order;
    k->large_count++;
    return kmem_va(k->phys, (paddr_t)pfn << PAGE_SHIFT);
}

uint64_t kmem_kmalloc(struct phys *phys, uint64_t size)
{
    struct kmem *k = kmem_of(phys);
    if (!k || size > KMEM_KMALLOC_MAX_SIZE)
        return 0;
    if (size == 0)
        return KMEM_ZERO_SIZE_PTR;
    if (size > KMEM_KMALLOC_MAX_CACHE_SIZE)
        return kmalloc_large(k, size);
    struct kmem_cache *c = cache_for(k, size);
    struct page *pg = klist_empty(&c->partial) ? new_slab(k, c) : klist_page(c->partial.next);
    if (!pg)
        return 0;
    uint64_t obj = pg->index;
    PAGODA_BUG_ON(!obj, "a partial slab has a free object");
    pg->index = *kword(k, obj + c->offset);
    pg->private++;
    c->inuse++;
    if (pg->private == c->objs) {
        klist_del(&pg->lru);
        klist_add(&pg->lru, &c->full);
    }
    return obj;
}

/* Give an empty slab back to the buddy allocator. */
static void discard_slab(struct kmem *k, struct kmem_cache *c, struct page *pg)
{
    klist_del(&pg->lru);
    pg->flags &= ~(uint32_t)PG_SLAB;
    pg->mapping = NULL;
    pg->index = 0;
    pg->private = 0;
    c->nr_slabs--;
    phys_free(k->phys, phys_page_pfn(k->phys, pg), c->order);
}

static int slab_free(struct kmem *k, struct page *pg, uint64_t va)
{
    struct kmem_cache *c = pg->mapping;
    uint64_t off = va - slab_base(k, pg);
    if (off % c->size || off / c->size >= c->objs)
        return -EINVAL; /* not an object boundary */
    for (uint64_t f = pg->index; f; f = *kword(k, f + c->offset))
        if (f == va)
            return -EINVAL; /* already free: a double free */
    bool was_full = pg->private == c->objs;
    *kword(k, va + c->offset) = pg->index;
    pg->index = va;
    pg->private--;
    c->inuse--;
    if (pg->private == 0) {
        discard_slab(k, c, pg);
    } else if (was_full) {
        klist_del(&pg->lru);
        klist_add(&pg->lru, &c->partial);
    }
    return 0;
}

int kmem_kfree(struct phys *phys, uint64_t addr)
{
    struct kmem *k = kmem_of(phys);
    if (addr == 0 || addr == KMEM_ZERO_SIZE_PTR)
        return 0;
    if (!k || !in_direct_map(k, addr))
        return -EINVAL;
    pfn_t pfn = kmem_pa(phys, addr) >> PAGE_SHIFT;
    struct page *pg = phys_page(phys, pfn);
    if (pg->flags & PG_TAIL)
        pg = phys_page(phys, pg->private);
    if ((pg->flags & PG_SLAB) && pg->mapping)
        return slab_free(k, pg, addr);
    if (pg->mapping != &large_marker || (addr & (PAGE_SIZE - 1)) || phys_page_pfn(phys, pg) != pfn)
        return -EINVAL;
    unsigned order = (unsigned)pg->private;
    klist_del(&pg->lru);
    pg->mapping = NULL;
    pg->private = 0;
    k->large_frames -= 1ULL << order;
    k->large_count--;
    phys_free(phys, pfn, order);
    return 0;
}

/* ---- vmalloc ---------------------------------------------------------------------- */

struct vmap_fill {
    const pfn_t *pages;
    uint64_t start;
};

static int vmap_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    const struct vmap_fill *f = arg;
    PAGODA_BUG_ON(*entry || level != PT_LEVEL_PTE, "a vmalloc area is mapped where nothing is");
    *entry = ((paddr_t)f->pages[(va - f->start) >> PAGE_SHIFT] << PAGE_SHIFT) | KPTE_KERNEL;
    return 0;
}

static int vunmap_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    *entry = 0;
    return 0;
}

/* vunmap_range(): clear the PTEs (page tables stay), then drop cached translations. */
static void vunmap(struct kmem *k, uint64_t start, uint64_t len)
{
    const struct pt_walk_ops ops = {.leaf = vunmap_leaf};
    pt_walk_range(&k->pt, start, start + len, PT_LEVEL_PTE, 0, &ops, NULL);
    if (k->tlb_flush)
        k->tlb_flush(k->tlb_ctx, start, start + len);
}

static void free_area_pages(struct kmem *k, struct vmap_area *a, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        phys_free(k->phys, a->pages[i], 0);
}

/* alloc_vmap_area(): the lowest gap of `size` bytes in the vmalloc area, linked in
 * order; NULL when none. */
static struct vmap_area *place_area(struct kmem *k, uint64_t size)
{
    struct vmap_area **link = &k->areas;
    uint64_t addr = k->lay.vmalloc_start;
    for (; *link; link = &(*link)->next) {
        if ((*link)->start - addr >= size)
            break;
        addr = (*link)->start + (*link)->size;
    }
    if (k->lay.vmalloc_end - addr < size - 1)
        return NULL;
    struct vmap_area *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->start = addr;
    a->size = size;
    a->next = *link;
    *link = a;
    return a;
}

static void unlink_area(struct kmem *k, struct vmap_area *a)
{
    struct vmap_area **link = &k->areas;
    while (*link != a)
        link = &(*link)->next;
    *link = a->next;
    free(a->pages);
    free(a);
}

uint64_t kmem_vmalloc(struct phys *phys, uint64_t size)
{
    struct kmem *k = kmem_of(phys);
    if (!k || size == 0 || size > (k->phys->ram_bytes))
        return 0;
    uint64_t n = PAGE_ALIGN(size) >> PAGE_SHIFT;
    struct vmap_area *a = place_area(k, (n + 1) * PAGE_SIZE);
    if (!a)
        return 0;
    a->pages = calloc(n, sizeof(pfn_t));
    uint64_t got = 0;
    while (a->pages && got < n && phys_alloc(phys, 0, 0, &a->pages[got]) == 0)
        got++;
    struct vmap_fill fill = {a->pages, a->start};
    const struct pt_walk_ops ops = {.leaf = vmap_leaf};
    if (got < n || pt_walk_range(&k->pt, a->start, a->start + n * PAGE_SIZE, PT_LEVEL_PTE, PT_WALK_ALLOC, &ops,
                                 &fill)) {
        vunmap(k, a->start, n * PAGE_SIZE);
        free_area_pages(k, a, got);
        unlink_area(k, a);
        return 0;
    }
    a->nr_pages = n;
    k->vmalloc_pages += n;
    return a->start;
}

/* Unmap a vmalloc area, free its pages and forget it. */
static void area_free(struct kmem *k, struct vmap_area *a)
{
    vunmap(k, a->start, a->nr_pages * PAGE_SIZE);
    free_area_pages(k, a, a->nr_pages);
    k->vmalloc_pages -= a->nr_pages;
    unlink_area(k, a);
}

int kmem_vfree(struct phys *phys, uint64_t addr)
{
    struct kmem *k = kmem_of(phys);
    if (addr == 0)
        return 0;
    struct vmap_area *a = k ? k->areas : NULL;
    while (a && a->start != addr)
        a = a->next;
    if (!a)
        return -EINVAL; /* "Trying to vfree() nonexistent vm area" */
    area_free(k, a);
    return 0;
}

int kmem_vmalloc_to_pfn(struct phys *phys, uint64_t addr, pfn_t *pfn)
{
    struct kmem *k = kmem_of(phys);
    pte_t e;
    int level;
    if (!k || addr < k->lay.vmalloc_start || addr > k->lay.vmalloc_end ||
        pt_lookup(&k->pt, addr, &e, &level) || level != PT_LEVEL_PTE || !(e & PTE_P))
        return -EFAULT;
    *pfn = (e & PTE_ADDR_MASK) >> PAGE_SHIFT;
    return 0;
}

/* ---- accounting, audit, teardown ------------------------------------------------------ */

static uint64_t slab_frames(const struct kmem *k)
{
    uint64_t n = 0;
    for (int i = 0; i < NR_KMALLOC_CACHES; i++)
        n += k->caches[i].nr_slabs << k->caches[i].order;
    return n;
}

void kmem_meminfo(struct phys *phys, struct kmem_meminfo *out)
{
    struct kmem *k = kmem_of(phys);
    memset(out, 0, sizeof(*out));
    if (!k)
        return;
    out->sunreclaim_kb = (slab_frames(k) + k->large_frames) * 4;
    out->slab_kb = out->sunreclaim_kb + out->sreclaimable_kb;
    out->vmalloc_total_kb = (k->lay.vmalloc_end - k->lay.vmalloc_start) >> 10;
    out->vmalloc_used_kb = k->vmalloc_pages * 4;
    out->kernel_pt_kb = k->pt.table_frames * 4;
    out->kernel_image_kb = KMEM_IMAGE_PAGES * 4;
    out->vmemmap_kb = k->vmemmap_frames * 4;
}

void kmem_print_slabinfo(struct phys *phys, FILE *out)
{
    struct kmem *k = kmem_of(phys);
    fputs("slabinfo - version: 2.1\n"
          "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> "
          "<batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n",
          out);
    for (int i = NR_KMALLOC_CACHES - 1; k && i >= 0; i--) {
        const struct kmem_cache *c = &k->caches[i];
        fprintf(out, "%-17s %6" PRIu64 " %6" PRIu64 " %6u %4u %4d : tunables %4u %4u %4u : slabdata %6" PRIu64
                     " %6" PRIu64 " %6u\n",
                c->name, c->inuse, c->nr_slabs * c->objs, c->size, c->objs, 1 << c->order, 0u, 0u, 0u,
                c->nr_slabs, c->nr_slabs, 0u);
    }
}

uint64_t kmem_frames(struct phys *phys)
{
    struct kmem *k = kmem_of(phys);
    if (!k)
        return 0;
    return k->pt.table_frames + KMEM_IMAGE_PAGES + k->vmemmap_frames + slab_frames(k) + k->large_frames +
           k->vmalloc_pages;
}

uint64_t kmem_audit(struct phys *phys, FILE *out)
{
    struct kmem *k = kmem_of(phys);
    uint64_t n = 0;
    if (!k)
        return 0;
    for (int i = 0; i < NR_KMALLOC_CACHES; i++) {
        const struct kmem_cache *c = &k->caches[i];
        if (c->inuse && out)
            fprintf(out, "kmem leak: %" PRIu64 " object(s) of %s in %" PRIu64 " slab(s)\n", c->inuse, c->name,
                    c->nr_slabs);
        n += c->inuse;
    }
    for (struct page_list *l = k->large.next; l != &k->large; l = l->next, n++)
        if (out)
            fprintf(out, "kmem leak: kmalloc_large 0x%" PRIx64 " (order %" PRIu64 ")\n",
                    kmem_va(phys, (paddr_t)phys_page_pfn(phys, klist_page(l)) << PAGE_SHIFT),
                    klist_page(l)->private);
    for (const struct vmap_area *a = k->areas; a; a = a->next, n++)
        if (out)
            fprintf(out, "kmem leak: vmalloc 0x%" PRIx64 "-0x%" PRIx64 " (%" PRIu64 " pages)\n", a->start,
                    (uint64_t)(a->start + a->nr_pages * PAGE_SIZE), a->nr_pages);
    return n;
}

/* Count a slab list's slabs and objects in use, checking each slab. */
static void check_slabs(struct kmem *k, struct kmem_cache *c, struct page_list *h, bool full, uint64_t *slabs,
                        uint64_t *inuse)
{
    for (struct page_list *l = h->next; l != h; l = l->next) {
        struct page *pg = klist_page(l);
        uint64_t nfree = 0;
        PAGODA_BUG_ON(!(pg->flags & PG_SLAB) || pg->mapping != c, "a slab's head page is PG_SLAB of its cache");
        for (uint64_t f = pg->index; f; f = *kword(k, f + c->offset)) {
            PAGODA_BUG_ON((f - slab_base(k, pg)) % c->size || (f - slab_base(k, pg)) / c->size >= c->objs ||
                              ++nfree > c->objs,
                          "a slab's freelist links its own free objects once");
        }
        PAGODA_BUG_ON(nfree + pg->private != c->objs, "a slab's objects are free or in use");
        PAGODA_BUG_ON(full != (pg->private == c->objs) || pg->private == 0,
                      "full slabs are on the full list, partial ones on the partial list, none empty");
        (*slabs)++;
        *inuse += pg->private;
    }
}

void kmem_check(struct phys *phys)
{
    struct kmem *k = kmem_of(phys);
    if (!k)
        return;
    pt_check(&k->pt);
    for (int i = 0; i < NR_KMALLOC_CACHES; i++) {
        struct kmem_cache *c = &k->caches[i];
        uint64_t slabs = 0, inuse = 0;
        check_slabs(k, c, &c->partial, false, &slabs, &inuse);
        check_slabs(k, c, &c->full, true, &slabs, &inuse);
        PAGODA_BUG_ON(slabs != c->nr_slabs || inuse != c->inuse, "a cache counts its slabs and objects");
    }
    uint64_t pages = 0, end = k->lay.vmalloc_start;
    for (const struct vmap_area *a = k->areas; a; a = a->next) {
        PAGODA_BUG_ON(a->start < end || a->size != (a->nr_pages + 1) * PAGE_SIZE,
                      "vmalloc areas are sorted, apart, and one guard page longer than their pages");
        end = a->start + a->size;
        pages += a->nr_pages;
    }
    PAGODA_BUG_ON(pages != k->vmalloc_pages, "vmalloc_pages counts the pages of every area");
}

/* Free every frame the kernel half holds, then the host structure. */
static void kmem_teardown(struct kmem *k)
{
    while (k->areas)
        area_free(k, k->areas);
    for (int i = 0; i < NR_KMALLOC_CACHES; i++) {
        struct kmem_cache *c = &k->caches[i];
        struct page_list *lists[2] = {&c->partial, &c->full};
        for (int l = 0; l < 2; l++)
            while (!klist_empty(lists[l]))
                discard_slab(k, c, klist_page(lists[l]->next));
        c->inuse = 0;
    }
    while (!klist_empty(&k->large)) {
        struct page *pg = klist_page(k->large.next);
        unsigned order = (unsigned)pg->private;
        klist_del(&pg->lru);
        pg->mapping = NULL;
        pg->private = 0;
        phys_free(k->phys, phys_page_pfn(k->phys, pg), order);
    }
    if (k->image_mapped)
        phys_free(k->phys, k->image_pfn, 3);
    for (uint64_t i = 0; i < k->nr_vmemmap; i++)
        phys_free(k->phys, k->vmemmap[i].pfn, k->vmemmap[i].order);
    if (k->pt.table_frames) /* the root may be frame 0 on a bare machine */
        pgtable_destroy(&k->pt, NULL, NULL);
    free(k->vmemmap);
    free(k);
}

void kmem_destroy(struct phys *phys)
{
    struct mm_machine *m = mm_machine_of(phys);
    if (m->kmem)
        kmem_teardown(m->kmem);
    m->kmem = NULL;
}

void kmem_release_host(struct kmem *k)
{
    if (!k)
        return;
    struct vmap_area *a = k->areas;
    while (a) {
        struct vmap_area *next = a->next;
        free(a->pages);
        free(a);
        a = next;
    }
    free(k->vmemmap);
    free(k);
}
