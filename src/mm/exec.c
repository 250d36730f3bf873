/*
 * The memory manager's side of execve: what Linux 6.18 does to a fresh mm while
 * loading a program - arch_pick_mmap_layout() (arch/x86/mm/mmap.c), the stack of
 * __bprm_mm_init()/setup_arg_pages() (fs/exec.c, mm/mmap.c expand_downwards),
 * vm_brk_flags() for bss (mm/mmap.c), map_vdso() (arch/x86/entry/vdso/vma.c) and the
 * randomization helpers (mm/util.c randomize_stack_top/randomize_page,
 * arch/x86/kernel/process.c arch_align_stack/arch_randomize_brk).
 *
 * Randomness comes from a splitmix64 stream over the exec's seed, so a seed always
 * gives the same layout; with randomization off every draw is 0.
 */
#include "mm/internal.h"

/* ---- randomness ------------------------------------------------------------------ */

#define STACK_RND_MASK 0x3fffffULL   /* 64-bit: 22 bits of pages (16 GiB) */
#define MMAP_RND_BITS 28             /* vm.mmap_rnd_bits default on x86-64 */
#define BRK_RND_RANGE (1ULL << 30)   /* arch_randomize_brk(): SZ_1G for 64-bit */
#define ALIGN_STACK_RND 8192         /* arch_align_stack(): get_random_u32_below(8192) */

void mm_exec_rng_init(struct mm_exec_rng *r, uint64_t seed, bool on)
{
    r->state = seed;
    r->on = on;
}

uint64_t mm_exec_random(struct mm_exec_rng *r)
{
    if (!r->on)
        return 0;
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t mm_exec_mmap_rnd(struct mm_exec_rng *r)
{
    return (mm_exec_random(r) & ((1ULL << MMAP_RND_BITS) - 1)) << PAGE_SHIFT;
}

uint64_t mm_exec_align_stack(struct mm_exec_rng *r, uint64_t sp)
{
    if (r->on)
        sp -= mm_exec_random(r) % ALIGN_STACK_RND;
    return sp & ~0xfULL;
}

uint64_t mm_exec_stack_top(struct mm_exec_rng *r)
{
    uint64_t top = MM_EXEC_STACK_TOP - ((mm_exec_random(r) & STACK_RND_MASK) << PAGE_SHIFT);
    return PAGE_ALIGN(mm_exec_align_stack(r, top));
}

/* randomize_page(): a page-aligned address in [start, start + range). */
static uint64_t randomize_page(struct mm_exec_rng *r, uint64_t start, uint64_t range)
{
    if (start & ~PAGE_MASK) {
        range -= PAGE_ALIGN(start) - start;
        start = PAGE_ALIGN(start);
    }
    if (start > UINT64_MAX - range)
        range = UINT64_MAX - start;
    range >>= PAGE_SHIFT;
    if (range == 0)
        return start;
    return start + ((mm_exec_random(r) % range) << PAGE_SHIFT);
}

uint64_t mm_exec_randomize_brk(struct mm_exec_rng *r, uint64_t brk)
{
    return randomize_page(r, brk, BRK_RND_RANGE);
}

/* ---- layout ----------------------------------------------------------------------- */

/* mmap_base(): below the stack's rlimit, its guard gap and (when randomizing) its
 * maximal random offset, clamped to [128 MiB, 5/6 of the space], minus rnd. */
static uint64_t exec_mmap_base(const struct mm_config *cfg, bool randomizing, uint64_t rnd)
{
    uint64_t task_size = PGD_DEFAULT_MAP_WINDOW;
    uint64_t gap = cfg->stack_rlimit;
    uint64_t pad = cfg->stack_guard_gap + (randomizing ? STACK_RND_MASK << PAGE_SHIFT : 0);
    if (gap + pad > gap)
        gap += pad;
    uint64_t gap_min = 128ULL << 20, gap_max = task_size / 6 * 5;
    if (gap < gap_min)
        gap = gap_min;
    else if (gap > gap_max)
        gap = gap_max;
    return PAGE_ALIGN(task_size - gap - rnd);
}

void mm_exec_pick_mmap_layout(struct mm *mm, bool legacy, bool randomizing, uint64_t rnd)
{
    mm->cfg.legacy_layout = legacy;
    mm->cfg.randomize = randomizing;
    mm->mmap_legacy_base = PGD_TASK_UNMAPPED_BASE_4L + rnd;
    mm->mmap_base = legacy ? mm->mmap_legacy_base : exec_mmap_base(&mm->cfg, randomizing, rnd);
}

void mm_exec_set_image(struct mm *mm, const struct mm_exec_image *img)
{
    mm->start_code = img->start_code;
    mm->end_code = img->end_code;
    mm->start_data = img->start_data;
    mm->end_data = img->end_data;
    mm->start_brk = mm->brk = img->brk;
    mm->start_stack = img->start_stack;
}

/* ---- the stack ---------------------------------------------------------------------- */

/* VM_STACK_FLAGS for a 64-bit image: VM_DATA_DEFAULT_FLAGS (no VM_EXEC: a 64-bit exec
 * clears READ_IMPLIES_EXEC) plus growsdown and accounting. */
#define EXEC_VM_STACK_FLAGS (VM_GROWSDOWN | VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT)

/* expand_downwards() + acct_stack_growth(): move the stack's start down to address.
 * 0 or -errno (EPERM below mmap_min_addr, ENOMEM for the guard gap or a limit). */
static int stack_grow(struct mm *mm, struct vm_area *vma, uint64_t address)
{
    address &= PAGE_MASK;
    if (address < mm->cfg.mmap_min_addr)
        return -EPERM;
    if (address >= vma_start(vma))
        return 0;
    struct vm_area *prev = vma_prev(vma);
    if (prev && vma_end(prev) > address)
        return -ENOMEM;
    if (prev && !(prev->flags & VM_GROWSDOWN) && (prev->flags & VM_ACCESS_FLAGS) &&
        address - vma_end(prev) < mm->cfg.stack_guard_gap)
        return -ENOMEM;
    uint64_t grow = (vma_start(vma) - address) >> PAGE_SHIFT, size = vma_end(vma) - address;
    if (grow > vma->pgoff)
        return -ENOMEM;
    if (!may_expand_vm(mm, vma->flags, grow) || size > mm->cfg.stack_rlimit)
        return -ENOMEM;
    if ((vma->flags & VM_LOCKED) && !mm->cfg.cap_ipc_lock && mm->cfg.rlimit_memlock != UINT64_MAX &&
        mm->locked_vm + grow > mm->cfg.rlimit_memlock >> PAGE_SHIFT)
        return -ENOMEM;
    if (mm_vm_enough_memory(mm, grow))
        return -ENOMEM;
    vma_set_range(vma, address, vma_end(vma), vma->pgoff - grow);
    vma_tree_adjusted(&mm->vmas, &vma->node);
    vm_stat_account(mm, vma->flags, (long)grow);
    if (vma->flags & VM_LOCKED)
        mm->locked_vm += grow;
    return 0;
}

int mm_exec_setup_stack(struct mm *mm, uint64_t stack_top, uint64_t arg_size, enum mm_exec_stack exstack)
{
    PAGODA_BUG_ON(arg_size == 0 || (arg_size & ~PAGE_MASK) || (stack_top & ~PAGE_MASK),
                  "the argument pages are whole pages below a page-aligned top");
    if (stack_top < mm->cfg.mmap_min_addr || arg_size >= stack_top - mm->cfg.mmap_min_addr)
        return -ENOMEM;
    if (vma_tree_find_intersection(&mm->vmas, stack_top - arg_size, stack_top))
        return -ENOMEM;
    uint64_t flags = EXEC_VM_STACK_FLAGS;
    if (exstack == MM_EXSTACK_ENABLE_X)
        flags |= VM_EXEC;
    else if (exstack == MM_EXSTACK_DISABLE_X)
        flags &= ~VM_EXEC;
    flags |= mm->def_flags;
    struct vm_area *vma = vma_alloc(mm);
    if (!vma)
        return -ENOMEM;
    /* The pgoff the temporary stack at STACK_TOP_MAX (TASK_SIZE_MAX) had once its
     * argument pages were in: shifting it down (relocate_vma_down) keeps it. */
    uint64_t pages = arg_size >> PAGE_SHIFT;
    vma_set_range(vma, stack_top - arg_size, stack_top, (mm->task_size >> PAGE_SHIFT) - pages);
    vma->flags = flags;
    vma->anon_vma = anon_vma_new(mm); /* the argument strings were written */
    if (!vma->anon_vma) {
        vma_free(vma);
        return -ENOMEM;
    }
    vma->anon_chain = 1;
    vma_link(mm, vma);
    vm_stat_account(mm, flags, (long)pages);
    if (flags & VM_LOCKED)
        mm->locked_vm += pages;
    mm->start_stack = stack_top - sizeof(uint64_t);

    uint64_t expand = mm_min(mm->cfg.stack_rlimit & PAGE_MASK, arg_size + MM_EXEC_STACK_EXPAND);
    int err = stack_grow(mm, vma, vma_end(vma) - expand);
    mm_validate(mm);
    return err ? -EFAULT : 0;
}

int mm_exec_extend_stack(struct mm *mm, uint64_t addr)
{
    struct vm_area *vma = mm_find_vma(mm, addr);
    if (!vma)
        return -EFAULT;
    if (vma_start(vma) <= addr)
        return 0;
    if (!(vma->flags & VM_GROWSDOWN) || stack_grow(mm, vma, addr))
        return -EFAULT;
    mm_validate(mm);
    return 0;
}

/* ---- bss ------------------------------------------------------------------------------ */

/* The bss's anonymous area: do_brk_flags() after the area below addr, if any. */
static int brk_area(struct mm *mm, uint64_t addr, uint64_t len, uint64_t flags)
{
    struct vm_area *next = mm_find_vma(mm, addr);
    struct vm_area *prev = next ? vma_prev(next) : vma_of(mm->vmas.last);
    return do_brk_flags(mm, prev, addr, len, flags);
}

int mm_exec_brk_flags(struct mm *mm, uint64_t addr, uint64_t len, uint64_t vm_exec)
{
    PAGODA_BUG_ON(vm_exec & ~VM_EXEC, "vm_brk_flags takes VM_EXEC only");
    uint64_t alen = PAGE_ALIGN(len);
    if (alen < len)
        return -ENOMEM;
    if (!alen)
        return 0;
    /* check_brk_limits(): the range must be a valid fixed mapping, and within the
     * mlock limit when everything is locked. */
    long r = mm_get_unmapped_area(mm, NULL, addr, alen, 0, PGD_MAP_FIXED, 0);
    if (r < 0)
        return (int)r;
    if ((mm->def_flags & VM_LOCKED) && !mm->cfg.cap_ipc_lock && mm->cfg.rlimit_memlock != UINT64_MAX &&
        mm->locked_vm + (alen >> PAGE_SHIFT) > mm->cfg.rlimit_memlock >> PAGE_SHIFT)
        return -EAGAIN;
    int err = do_munmap_range(mm, addr, addr + alen);
    if (err)
        return err;
    uint64_t flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT | mm->def_flags | vm_exec;
    err = brk_area(mm, addr, alen, flags);
    mm_validate(mm);
    return err;
}

void mm_exec_kernel_write(struct mm *mm, uint64_t addr)
{
    struct vm_area *v = mm_vma_lookup(mm, addr);
    if (v && (v->flags & (VM_WRITE | VM_SHARED)) == VM_WRITE)
        vma_anon_prepare(mm, v);
}

/* ---- vDSO ------------------------------------------------------------------------------ */

#define VDSO_NR_PAGES 4        /* [vvar]: the generic vDSO data pages */
#define VDSO_NR_VCLOCK_PAGES 2 /* [vvar_vclock]: pvclock and hvclock pages */
#define VDSO_TEXT_PAGES 2      /* vdso64_image.size */

/* The maps names of the three special mappings. */
static const char *vvar_name(struct vm_area *vma)
{
    (void)vma;
    return "[vvar]";
}

static const char *vvar_vclock_name(struct vm_area *vma)
{
    (void)vma;
    return "[vvar_vclock]";
}

static const char *vdso_name(struct vm_area *vma)
{
    (void)vma;
    return "[vdso]";
}

/* special_mapping_close() exists in Linux, so merges never remove these VMAs. */
static void special_close(struct vm_area *vma)
{
    (void)vma;
}

/* special_mapping_split(): special mappings are never split. */
static int special_may_split(struct vm_area *vma, uint64_t addr)
{
    (void)vma;
    (void)addr;
    return -EINVAL;
}

/* vdso_mremap(): the text may move, but only whole. */
static int vdso_mremap(struct vm_area *vma)
{
    return vma_pages(vma) == VDSO_TEXT_PAGES ? 0 : -EINVAL;
}

static const struct vm_operations vvar_ops = {
    .name = vvar_name, .close = special_close, .may_split = special_may_split};
static const struct vm_operations vvar_vclock_ops = {
    .name = vvar_vclock_name, .close = special_close, .may_split = special_may_split};
static const struct vm_operations vdso_ops = {
    .name = vdso_name, .close = special_close, .may_split = special_may_split, .mremap = vdso_mremap};

long mm_exec_install_vdso(struct mm *mm)
{
    uint64_t data_pages = VDSO_NR_PAGES + VDSO_NR_VCLOCK_PAGES;
    uint64_t len = (data_pages + VDSO_TEXT_PAGES) << PAGE_SHIFT;
    long addr = mm_get_unmapped_area(mm, NULL, 0, len, 0, 0, 0);
    if (addr < 0)
        return addr;
    uint64_t base = (uint64_t)addr, text = base + (data_pages << PAGE_SHIFT);
    const uint64_t data_flags = VM_READ | VM_MAYREAD | VM_IO | VM_DONTDUMP | VM_PFNMAP;
    int err = mm_install_special(mm, text, VDSO_TEXT_PAGES << PAGE_SHIFT,
                                 VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC, &vdso_ops);
    if (!err)
        err = mm_install_special(mm, base, VDSO_NR_PAGES << PAGE_SHIFT, data_flags, &vvar_ops);
    if (!err)
        err = mm_install_special(mm, base + (VDSO_NR_PAGES << PAGE_SHIFT), VDSO_NR_VCLOCK_PAGES << PAGE_SHIFT,
                                 data_flags, &vvar_vclock_ops);
    return err ? err : (long)text;
}

int mm_exec_map_page_zero(struct mm *mm)
{
    int err = do_munmap_range(mm, 0, PAGE_SIZE);
    if (err)
        return err;
    struct vm_area *vma = vma_alloc(mm);
    if (!vma)
        return -ENOMEM;
    uint64_t flags = VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | mm->def_flags;
    vma_set_range(vma, 0, PAGE_SIZE, 0);
    vma->flags = flags;
    vma_link(mm, vma);
    vm_stat_account(mm, flags, 1);
    if (flags & VM_LOCKED)
        mm->locked_vm += 1;
    mm_validate(mm);
    return 0;
}
