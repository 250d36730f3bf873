/*
 * The address-space core: mm lifecycle, VMA objects, anon_vmas, split, the two merge
 * paths of Linux's mm/vma.c (a new range, and a changed part of an existing VMA),
 * munmap, accounting and the invariant checker.
 */
#include "mm/huge.h"

#include <inttypes.h>

#include <pagoda/kmem.h>

void mm_config_default(struct mm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->paging_levels = 4;
    cfg->stack_rlimit = 8ULL << 20;
    cfg->rlimit_as = UINT64_MAX;
    cfg->rlimit_data = UINT64_MAX;
    cfg->rlimit_memlock = 8ULL << 20;
    cfg->mmap_min_addr = 65536;
    cfg->dac_mmap_min_addr = 4096;
    cfg->max_map_count = 65530;
    cfg->stack_guard_gap = 256 * PAGE_SIZE;
    cfg->overcommit = 0;
    cfg->thp_enabled = true;
    cfg->thp_policy = 1; /* madvise, as on the reference machine */
    cfg->anon_vma_names = false;
    cfg->overcommit_ratio = 50;
}

/* splitmix64: the deterministic random source behind cfg->seed. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* arch_rnd(): mmap_rnd_bits (28) bits of page-granular entropy. */
static uint64_t mmap_rnd(const struct mm_config *cfg)
{
    uint64_t state = cfg->seed;
    return cfg->randomize ? (splitmix64(&state) & ((1ULL << 28) - 1)) << PAGE_SHIFT : 0;
}

/* arch/x86/mm/mmap.c mmap_base(): the gap below the stack limit, the guard gap and,
 * when randomizing, the stack's own maximum randomization (16 GiB), clamped to
 * [128 MiB, 5/6 of the space], then the random offset. */
static uint64_t compute_mmap_base(const struct mm_config *cfg, uint64_t task_size)
{
    uint64_t gap = cfg->stack_rlimit, pad = cfg->stack_guard_gap;
    if (cfg->randomize)
        pad += 0x3fffffULL << PAGE_SHIFT; /* stack_maxrandom_size(): STACK_RND_MASK pages */
    if (gap + pad > gap)
        gap += pad;
    uint64_t gap_min = 128ULL << 20, gap_max = (task_size / 6) * 5;
    if (gap < gap_min)
        gap = gap_min;
    else if (gap > gap_max)
        gap = gap_max;
    return PAGE_ALIGN(task_size - gap - mmap_rnd(cfg));
}

int mm_create(struct phys *phys, const struct mm_config *cfg, struct mm **out)
{
    if (cfg->paging_levels != 4 && cfg->paging_levels != 5)
        return -EINVAL;
    struct mm *mm = calloc(1, sizeof(*mm));
    if (!mm)
        return -ENOMEM;
    int err = pgtable_init(&mm->pt, phys, cfg->paging_levels);
    if (!err && mm_machine_of(phys)->kmem) /* the kernel half, shared by reference */
        err = kmem_share_kernel_half(phys, &mm->pt);
    if (err) {
        if (mm->pt.table_frames)
            pgtable_destroy(&mm->pt, NULL, NULL);
        free(mm);
        return err;
    }
    mm->phys = phys;
    mm->cfg = *cfg;
    if (cfg->hugetlb_pages_2m > 0 || cfg->hugetlb_pages_1g > 0) /* a machine booted without the kernel */
        mm_hugetlb_pool_init(phys, cfg->hugetlb_pages_2m > 0 ? (uint64_t)cfg->hugetlb_pages_2m : 0,
                             cfg->hugetlb_pages_1g > 0 ? (uint64_t)cfg->hugetlb_pages_1g : 0);
    vma_tree_init(&mm->vmas);
    mm->task_size = cfg->paging_levels == 5 ? PGD_TASK_SIZE_5L : PGD_TASK_SIZE_4L;
    mm->mmap_legacy_base = PGD_TASK_UNMAPPED_BASE_4L + mmap_rnd(cfg);
    mm->mmap_base = cfg->legacy_layout ? mm->mmap_legacy_base : compute_mmap_base(cfg, PGD_DEFAULT_MAP_WINDOW);
    mm->users = 1;
    struct mm_machine *m = mm_machine_of(phys);
    mm->machine_next = m->mms;
    if (m->mms)
        m->mms->machine_prev = mm;
    m->mms = mm;
    *out = mm;
    return 0;
}

void mm_destroy(struct mm *mm)
{
    if (!mm)
        return;
    mm_lru_add_drain(mm->phys); /* exit_mmap() */
    while (mm->vmas.first) {
        struct vm_area *v = vma_of(mm->vmas.first);
        mm_zap_range(mm, vma_start(v), vma_end(v));
        vma_unlink(mm, v);
        if (v->ops && v->ops->close)
            v->ops->close(v);
        vma_free(v);
    }
    pgtable_destroy(&mm->pt, NULL, NULL);
    thp_mm_exit(mm);
    struct mm_machine *m = mm_machine_of(mm->phys);
    if (mm->machine_prev)
        mm->machine_prev->machine_next = mm->machine_next;
    else
        m->mms = mm->machine_next;
    if (mm->machine_next)
        mm->machine_next->machine_prev = mm->machine_prev;
    free(mm);
}

struct vm_area *vma_of(struct vma_node *n)
{
    return n ? vma_tree_entry(n, struct vm_area, node) : NULL;
}

struct vm_area *mm_find_vma(const struct mm *mm, uint64_t addr)
{
    return vma_of(vma_tree_find(&mm->vmas, addr));
}

struct vm_area *mm_vma_lookup(const struct mm *mm, uint64_t addr)
{
    return vma_of(vma_tree_lookup(&mm->vmas, addr));
}

/* ---- objects ---------------------------------------------------------------------- */

struct vm_area *vma_alloc(struct mm *mm)
{
    struct vm_area *v = calloc(1, sizeof(*v));
    if (v)
        v->mm = mm;
    return v;
}

void vma_free(struct vm_area *vma)
{
    if (vma->file)
        mm_file_put(vma->file);
    if (vma->anon_vma)
        anon_vma_put(vma->anon_vma);
    if (vma->anon_name)
        anon_name_put(vma->anon_name);
    free(vma);
}

struct vm_area *vma_dup(const struct vm_area *src)
{
    struct vm_area *v = malloc(sizeof(*v));
    if (!v)
        return NULL;
    *v = *src;
    memset(&v->node, 0, sizeof(v->node));
    v->node.start = src->node.start;
    v->node.end = src->node.end;
    if (v->file)
        mm_file_get(v->file);
    if (v->anon_vma)
        anon_vma_get(v->anon_vma);
    if (v->anon_name)
        anon_name_get(v->anon_name);
    return v;
}

void vma_set_range(struct vm_area *vma, uint64_t start, uint64_t end, uint64_t pgoff)
{
    vma->node.start = start;
    vma->node.end = end;
    vma->pgoff = pgoff;
}

void vma_link(struct mm *mm, struct vm_area *vma)
{
    vma->mm = mm;
    vma->node.tag = vma->flags;
    int err = vma_tree_insert(&mm->vmas, &vma->node);
    PAGODA_BUG_ON(err, "a VMA is linked only where nothing is mapped");
    mm->map_count++;
}

void vma_unlink(struct mm *mm, struct vm_area *vma)
{
    vma_tree_remove(&mm->vmas, &vma->node);
    mm->map_count--;
}

/* Change a linked VMA's range in place; neighbours must not be crossed. */
static void vma_adjust_range(struct mm *mm, struct vm_area *vma, uint64_t start, uint64_t end, uint64_t pgoff)
{
    vma_set_range(vma, start, end, pgoff);
    vma_tree_adjusted(&mm->vmas, &vma->node);
}

struct anon_vma *anon_vma_new(struct mm *mm)
{
    struct anon_vma *av = calloc(1, sizeof(*av));
    if (av) {
        av->refcount = 1;
        av->id = ++mm->anon_vma_ids;
    }
    return av;
}

struct anon_vma *anon_vma_get(struct anon_vma *av)
{
    av->refcount++;
    return av;
}

void anon_vma_put(struct anon_vma *av)
{
    while (av) {
        PAGODA_BUG_ON(av->refcount <= 0, "anon_vma reference count stays positive while referenced");
        if (--av->refcount > 0)
            return;
        struct anon_vma *parent = av->parent; /* a child holds its parent */
        free(av);
        av = parent;
    }
}

struct anon_name *anon_name_new(const char *name)
{
    size_t n = strlen(name);
    struct anon_name *a = malloc(sizeof(*a) + n + 1);
    if (a) {
        a->refcount = 1;
        memcpy(a->name, name, n + 1);
    }
    return a;
}

struct anon_name *anon_name_get(struct anon_name *n)
{
    n->refcount++;
    return n;
}

void anon_name_put(struct anon_name *n)
{
    if (--n->refcount == 0)
        free(n);
}

bool anon_name_eq(const struct anon_name *a, const struct anon_name *b)
{
    return a == b || (a && b && !strcmp(a->name, b->name));
}

static bool vma_is_fork_child(const struct vm_area *v)
{
    return v && v->anon_vma && v->anon_chain > 1;
}

/* Linux's anon_vma_compatible(a, b): a directly below b, same file, flags differing
 * only in access bits, contiguous pgoff. */
static bool anon_vma_compatible(const struct vm_area *a, const struct vm_area *b)
{
    return vma_end(a) == vma_start(b) && a->file == b->file &&
           !((a->flags ^ b->flags) & ~(VM_ACCESS_FLAGS | VM_SOFTDIRTY)) &&
           b->pgoff == a->pgoff + vma_pages(a);
}

static struct anon_vma *reusable_anon_vma(const struct vm_area *old, const struct vm_area *a,
                                          const struct vm_area *b)
{
    if (anon_vma_compatible(a, b) && old->anon_vma && !vma_is_fork_child(old))
        return old->anon_vma;
    return NULL;
}

void vma_anon_prepare(struct mm *mm, struct vm_area *vma)
{
    if (vma->anon_vma)
        return;
    struct vm_area *next = vma_next(vma), *prev = vma_prev(vma);
    struct anon_vma *av = NULL;
    if (next)
        av = reusable_anon_vma(next, vma, next);
    if (!av && prev)
        av = reusable_anon_vma(prev, prev, vma);
    vma->anon_vma = av ? anon_vma_get(av) : anon_vma_new(mm);
    vma->anon_chain = 1;
}

void vm_stat_account(struct mm *mm, uint64_t flags, long npages)
{
    mm->total_vm += (uint64_t)npages;
    if (mm->total_vm > mm->hiwater_vm)
        mm->hiwater_vm = mm->total_vm;
    if (is_exec_mapping(flags))
        mm->exec_vm += (uint64_t)npages;
    else if (is_stack_mapping(flags))
        mm->stack_vm += (uint64_t)npages;
    else if (is_data_mapping(flags))
        mm->data_vm += (uint64_t)npages;
}

int mm_vm_enough_memory(const struct mm *mm, uint64_t pages)
{
    uint64_t ram = mm->phys->managed_frames, swap = mm->cfg.swap_pages;
    switch (mm->cfg.overcommit) {
    case 1:
        return 0;
    case 2: {
        /* The commit charge of this address space: its VM_ACCOUNT pages. */
        uint64_t committed = 0;
        for (const struct vm_area *v = mm_first_vma(mm); v; v = vma_next(v))
            if (v->flags & VM_ACCOUNT)
                committed += vma_pages(v);
        return committed + pages > swap + ram * (uint64_t)mm->cfg.overcommit_ratio / 100 ? -ENOMEM : 0;
    }
    default:
        return pages > ram + swap ? -ENOMEM : 0;
    }
}

bool may_expand_vm(const struct mm *mm, uint64_t flags, uint64_t npages)
{
    if (mm->cfg.rlimit_as != UINT64_MAX && mm->total_vm + npages > mm->cfg.rlimit_as >> PAGE_SHIFT)
        return false;
    if (is_data_mapping(flags) && mm->cfg.rlimit_data != UINT64_MAX &&
        mm->data_vm + npages > mm->cfg.rlimit_data >> PAGE_SHIFT)
        return false;
    return true;
}

uint64_t count_vma_pages_range(const struct mm *mm, uint64_t start, uint64_t end)
{
    uint64_t n = 0;
    for (struct vm_area *v = vma_of(vma_tree_find_intersection(&mm->vmas, start, end)); v && vma_start(v) < end;
         v = vma_next(v))
        n += (mm_min(end, vma_end(v)) - mm_max(start, vma_start(v))) >> PAGE_SHIFT;
    return n;
}

/* ---- split ---------------------------------------------------------------------- */

int vma_split_nocheck(struct mm *mm, struct vm_area *vma, uint64_t addr, int new_below, struct vm_area **out)
{
    PAGODA_BUG_ON(addr <= vma_start(vma) || addr >= vma_end(vma), "a split point lies strictly inside the VMA");
    if (vma->ops && vma->ops->may_split) {
        int err = vma->ops->may_split(vma, addr);
        if (err)
            return err;
    }
    int err = thp_split_at(mm, addr); /* vma_adjust_trans_huge(): no PMD crosses a VMA edge */
    if (err)
        return err;
    struct vm_area *nv = vma_dup(vma);
    if (!nv)
        return -ENOMEM;
    uint64_t delta = (addr - vma_start(vma)) >> PAGE_SHIFT;
    if (new_below) {
        vma_set_range(nv, vma_start(vma), addr, vma->pgoff);
        vma_adjust_range(mm, vma, addr, vma_end(vma), vma->pgoff + delta);
    } else {
        vma_set_range(nv, addr, vma_end(vma), vma->pgoff + delta);
        vma_adjust_range(mm, vma, vma_start(vma), addr, vma->pgoff);
    }
    if (nv->ops && nv->ops->open)
        nv->ops->open(nv);
    vma_link(mm, nv);
    if (out)
        *out = nv;
    return 0;
}

int vma_split(struct mm *mm, struct vm_area *vma, uint64_t addr, int new_below, struct vm_area **out)
{
    if (mm->map_count >= mm->cfg.max_map_count)
        return -ENOMEM;
    return vma_split_nocheck(mm, vma, addr, new_below, out);
}

/* ---- merge ------------------------------------------------------------------------ */

/* is_mergeable_vma(): flags (soft-dirty aside), file, name. */
static bool is_mergeable_vma(const struct vma_merge *vmg, const struct vm_area *vma)
{
    return !((vma->flags ^ vmg->flags) & ~VM_SOFTDIRTY) && vma->file == vmg->file &&
           anon_name_eq(vma->anon_name, vmg->anon_name);
}

/* anon_vma compatibility (6.16+): both NULL, the same, or exactly one present on a
 * side that is not a fork child. */
static bool anon_compatible(struct anon_vma *src, const struct vm_area *src_vma, const struct vm_area *tgt)
{
    if (!tgt->anon_vma && src)
        return !vma_is_fork_child(src_vma);
    if (tgt->anon_vma && !src)
        return !vma_is_fork_child(tgt);
    return src == tgt->anon_vma;
}

static bool can_merge_after(const struct vma_merge *vmg, const struct vm_area *prev)
{
    return is_mergeable_vma(vmg, prev) && anon_compatible(vmg->anon_vma, vmg->middle, prev) &&
           prev->pgoff + vma_pages(prev) == vmg->pgoff;
}

static bool can_merge_before(const struct vma_merge *vmg, const struct vm_area *next)
{
    return is_mergeable_vma(vmg, next) && anon_compatible(vmg->anon_vma, vmg->middle, next) &&
           next->pgoff == vmg->pgoff + ((vmg->end - vmg->start) >> PAGE_SHIFT);
}

static bool can_remove(const struct vm_area *v)
{
    return !v->ops || !v->ops->close;
}

/* prev and next may both join: their anon_vmas must agree with each other. */
static bool prev_next_compatible(const struct vm_area *prev, const struct vm_area *next)
{
    if (!prev->anon_vma || !next->anon_vma)
        return true;
    return prev->anon_vma == next->anon_vma;
}

/* The surviving VMA takes an anon_vma from a removed or shrunk one (dup_anon_vma). */
static void take_anon(struct vm_area *dst, const struct vm_area *src)
{
    if (src->anon_vma && !dst->anon_vma) {
        dst->anon_vma = anon_vma_get(src->anon_vma);
        dst->anon_chain = src->anon_chain ? src->anon_chain : 1;
    }
}

static void remove_merged(struct mm *mm, struct vm_area *v)
{
    vma_unlink(mm, v);
    vma_free(v);
}

struct vm_area *vma_merge_new_range(struct mm *mm, struct vma_merge *vmg)
{
    struct vm_area *prev = vmg->prev, *next = vmg->next;
    if (vmg->flags & VM_SPECIAL)
        return NULL;
    bool left = prev && vma_end(prev) == vmg->start && can_merge_after(vmg, prev);
    bool right = !vmg->just_expand && next && vma_start(next) == vmg->end && can_merge_before(vmg, next) &&
                 (!left || (prev_next_compatible(prev, next) && can_remove(next)));
    if (left && right) {
        uint64_t end = vma_end(next);
        take_anon(prev, next);
        remove_merged(mm, next);
        vma_adjust_range(mm, prev, vma_start(prev), end, prev->pgoff);
        return prev;
    }
    if (left) {
        vma_adjust_range(mm, prev, vma_start(prev), vmg->end, prev->pgoff);
        return prev;
    }
    if (right) {
        vma_adjust_range(mm, next, vmg->start, vma_end(next), vmg->pgoff);
        return next;
    }
    return NULL;
}

/* vma_merge_existing_range(): [start,end) of `mid` with new attributes joins prev and/or
 * next.  Returns the merged VMA or NULL. */
static struct vm_area *merge_existing(struct mm *mm, struct vma_merge *vmg)
{
    struct vm_area *mid = vmg->middle, *prev = vmg->prev, *next = vmg->next;
    bool left_side = vmg->start == vma_start(mid), right_side = vmg->end == vma_end(mid);
    if ((vmg->flags & VM_SPECIAL) || (!left_side && !right_side))
        return NULL;
    bool left = left_side && prev && vma_end(prev) == vmg->start && can_merge_after(vmg, prev);
    bool right = right_side && next && vma_start(next) == vmg->end && can_merge_before(vmg, next) &&
                 (!left || prev_next_compatible(prev, next));
    if (!left && !right)
        return NULL;
    if (left_side && right_side && !can_remove(mid))
        return NULL;
    if (left && right && !can_remove(next))
        right = false;

    uint64_t pages = (vmg->end - vmg->start) >> PAGE_SHIFT;
    if (left && right) { /* prev swallows mid and next */
        uint64_t end = vma_end(next);
        take_anon(prev, mid);
        take_anon(prev, next);
        remove_merged(mm, mid);
        remove_merged(mm, next);
        vma_adjust_range(mm, prev, vma_start(prev), end, prev->pgoff);
        return prev;
    }
    if (left) {
        take_anon(prev, mid);
        if (right_side) {
            remove_merged(mm, mid);
        } else {
            vma_adjust_range(mm, mid, vmg->end, vma_end(mid), mid->pgoff + pages);
        }
        vma_adjust_range(mm, prev, vma_start(prev), vmg->end, prev->pgoff);
        return prev;
    }
    /* right */
    take_anon(next, mid);
    if (left_side) {
        remove_merged(mm, mid);
    } else {
        vma_adjust_range(mm, mid, vma_start(mid), vmg->start, mid->pgoff);
    }
    vma_adjust_range(mm, next, vmg->start, vma_end(next), vmg->pgoff);
    return next;
}

struct vm_area *vma_modify(struct mm *mm, struct vm_area *prev, struct vm_area *vma, uint64_t start, uint64_t end,
                           const struct vma_merge *attrs, int *err)
{
    struct vma_merge vmg = *attrs;
    vmg.start = start;
    vmg.end = end;
    vmg.pgoff = vma->pgoff + ((start - vma_start(vma)) >> PAGE_SHIFT);
    vmg.middle = vma;
    vmg.prev = prev;
    vmg.next = vma_next(vma);
    vmg.anon_vma = vma->anon_vma;
    vmg.file = vma->file;
    struct vm_area *merged = merge_existing(mm, &vmg);
    if (merged)
        return merged;
    *err = 0;
    if (vma_start(vma) < start) {
        *err = vma_split(mm, vma, start, 1, NULL);
        if (*err)
            return NULL;
    }
    if (vma_end(vma) > end) {
        *err = vma_split(mm, vma, end, 0, NULL);
        if (*err)
            return NULL;
    }
    return vma;
}

/* ---- munmap ----------------------------------------------------------------------- */

static int release_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    struct mm *mm = arg;
    (void)va;
    if (huge_release_leaf(mm, level, *entry)) /* huge leaves, subpages of THPs */
        return 0;
    if (!(*entry & (PTE_P | PTE_PROTNONE)) || (*entry & PTE_SPECIAL))
        return 0; /* swap entries and markers map no frame; PROT_NONE ones do */
    struct page *pg = phys_page(mm->phys, pte_addr(*entry, level, true) >> PAGE_SHIFT);
    pg->mapcount--;
    if (--pg->refcount == 0)
        phys_free(mm->phys, phys_page_pfn(mm->phys, pg), (unsigned)(9 * (level - 1)));
    return 0;
}

void mm_zap_range(struct mm *mm, uint64_t start, uint64_t end)
{
    if (end <= start)
        return;
    thp_split_edges(mm, start, end); /* zap_pmd_range's partial PMDs */
    pt_unmap(&mm->pt, start, end - start, release_leaf, mm);
    mm_flush_tlb_range(mm, start, end);
}

int munmap_precheck(const struct mm *mm, uint64_t start, uint64_t end)
{
    struct vm_area *v = vma_of(vma_tree_find_intersection(&mm->vmas, start, end));
    if (v && start > vma_start(v) && end < vma_end(v) && mm->map_count >= mm->cfg.max_map_count)
        return -ENOMEM;
    return 0;
}

/* Remove one VMA entirely: pages, accounting, the object. */
static void remove_vma_range(struct mm *mm, struct vm_area *v)
{
    long pages = (long)vma_pages(v);
    mm_zap_range(mm, vma_start(v), vma_end(v));
    vm_stat_account(mm, v->flags, -pages);
    if (v->flags & VM_LOCKED)
        mm->locked_vm -= (uint64_t)pages;
    vma_unlink(mm, v);
    if (v->ops && v->ops->close)
        v->ops->close(v);
    vma_free(v);
}

int munmap_gather(struct mm *mm, uint64_t start, uint64_t end)
{
    struct vm_area *v = vma_of(vma_tree_find_intersection(&mm->vmas, start, end));
    if (!v)
        return 0;
    int err = munmap_precheck(mm, start, end);
    if (err)
        return err;
    if (start > vma_start(v)) {
        err = vma_split_nocheck(mm, v, start, 1, NULL);
        if (err)
            return err;
    }
    struct vm_area *last = vma_of(vma_tree_find(&mm->vmas, end - 1));
    if (last && vma_start(last) < end && vma_end(last) > end)
        return vma_split_nocheck(mm, last, end, 0, NULL);
    return 0;
}

int do_munmap_range(struct mm *mm, uint64_t start, uint64_t end)
{
    int err = munmap_gather(mm, start, end);
    if (err)
        return err;
    mm_lru_add_drain(mm->phys); /* vms_clear_ptes() */
    struct vm_area *v = vma_of(vma_tree_find_intersection(&mm->vmas, start, end));
    while (v && vma_start(v) < end) {
        struct vm_area *next = vma_next(v);
        remove_vma_range(mm, v);
        v = next;
    }
    mm_validate(mm);
    return 0;
}

/* ---- checker ---------------------------------------------------------------------- */

void mm_check(const struct mm *mm)
{
    vma_tree_validate(&mm->vmas);
    PAGODA_BUG_ON((int)mm->vmas.count != mm->map_count, "map_count equals the number of VMAs");
    uint64_t total = 0, data = 0, exec = 0, stack = 0, locked = 0;
    for (const struct vm_area *v = mm_first_vma(mm); v; v = vma_next(v)) {
        PAGODA_BUG_ON(vma_start(v) & ~PAGE_MASK || vma_end(v) & ~PAGE_MASK, "VMA boundaries are page aligned");
        PAGODA_BUG_ON(vma_start(v) >= vma_end(v), "a VMA is not empty");
        PAGODA_BUG_ON(v->node.tag != v->flags, "the VMA tree's tag of a VMA is its flags");
        PAGODA_BUG_ON(v->mm != mm, "a VMA points back to its mm");
        PAGODA_BUG_ON((v->flags & VM_SHARED) && !(v->flags & VM_MAYSHARE), "VM_SHARED implies VM_MAYSHARE");
        PAGODA_BUG_ON(v->node.guard_below || v->node.guard_above, "the VMA tree holds raw gaps, guards are the allocator's");
        PAGODA_BUG_ON(v->anon_vma && v->anon_vma->refcount <= 0, "a VMA's anon_vma is alive");
        PAGODA_BUG_ON(v->file && v->file->refcount <= 0, "a VMA's file is alive");
        uint64_t n = vma_pages(v);
        total += n;
        if (is_exec_mapping(v->flags))
            exec += n;
        else if (is_stack_mapping(v->flags))
            stack += n;
        else if (is_data_mapping(v->flags))
            data += n;
        if (v->flags & VM_LOCKED)
            locked += n;
    }
    PAGODA_BUG_ON(total != mm->total_vm, "total_vm equals the pages of all VMAs");
    PAGODA_BUG_ON(exec != mm->exec_vm, "exec_vm equals the pages of executable VMAs");
    PAGODA_BUG_ON(stack != mm->stack_vm, "stack_vm equals the pages of stack VMAs");
    PAGODA_BUG_ON(data != mm->data_vm, "data_vm equals the pages of private writable VMAs");
    /* Linux's locked_vm only ever over-counts: mremap(MREMAP_DONTUNMAP) unlocks the old
     * VMA without uncharging it. */
    PAGODA_BUG_ON(locked > mm->locked_vm, "locked_vm covers the pages of VM_LOCKED VMAs");
    pt_check(&mm->pt);
}
