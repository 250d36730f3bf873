/*
 * mmap, munmap, brk and the address allocator, in the order Linux 6.18 checks things
 * (mm/mmap.c do_mmap and __get_unmapped_area, mm/vma.c __mmap_region,
 * arch/x86/kernel/sys_x86_64.c), so that errors come out with the same precedence.
 */
#include "mm/huge.h"

/* ---- get_unmapped_area ---------------------------------------------------------- */

/* vm_start_gap(): where the gap below a VMA ends, its stack guard counted. */
static uint64_t vm_start_gap(const struct vm_area *v)
{
    if (!(v->flags & VM_GROWSDOWN))
        return vma_start(v);
    uint64_t gap = v->mm->cfg.stack_guard_gap;
    return vma_start(v) > gap ? vma_start(v) - gap : 0;
}

/* vm_unmapped_area() as 6.x does it (mm/mmap.c unmapped_area{,_topdown}): search for a
 * free range of len + align_mask bytes (the worst case of aligning) in [low, high)
 * ignoring guards; if the VMA after it is a stack whose guard reaches into it, lower
 * the high limit to the guard (raise the low limit past that VMA) and search again.
 * The result is the highest (lowest) address in the range found aligned to
 * align_mask + PAGE_SIZE (align_mask 0: no alignment). */
static long unmapped_area(const struct mm *mm, bool topdown, uint64_t len, uint64_t align_mask, uint64_t low,
                          uint64_t high)
{
    uint64_t length = len + align_mask;
    if (length < len)
        return -ENOMEM;
    struct vma_gap_request req = {.length = length, .low_limit = mm_max(low, mm->cfg.mmap_min_addr),
                                  .high_limit = high};
    for (;;) {
        uint64_t addr;
        if (req.high_limit <= req.low_limit || req.high_limit - req.low_limit < length)
            return -ENOMEM;
        int err = topdown ? vma_tree_gap_topdown(&mm->vmas, &req, &addr)
                          : vma_tree_gap_bottomup(&mm->vmas, &req, &addr);
        if (err)
            return err;
        struct vm_area *next = mm_find_vma(mm, addr);
        bool stack_next = next && (next->flags & VM_GROWSDOWN);
        if (topdown) {
            /* The free range found ends where it was cut: at next or at high. */
            uint64_t gap_end = addr + length, gap = gap_end - len;
            if (stack_next && vm_start_gap(next) < gap_end) {
                req.high_limit = vm_start_gap(next);
                continue;
            }
            return (long)(gap - (gap & align_mask));
        }
        uint64_t gap = addr + ((0 - addr) & align_mask);
        if (stack_next && vm_start_gap(next) < gap + length - 1) {
            req.low_limit = vma_end(next);
            continue;
        }
        return (long)gap;
    }
}

/* mmap_address_hint_valid(). */
static bool hint_valid(const struct mm *mm, uint64_t addr, uint64_t len)
{
    if (mm->task_size - len < addr)
        return false;
    return (addr > PGD_DEFAULT_MAP_WINDOW) == (addr + len > PGD_DEFAULT_MAP_WINDOW);
}

/* Is [addr, addr+len) free, the next VMA's stack guard included? */
static bool range_free(const struct mm *mm, uint64_t addr, uint64_t len)
{
    struct vm_area *v = mm_find_vma(mm, addr);
    return !v || addr + len <= vm_start_gap(v);
}

/* arch_get_unmapped_area(): the bottom-up allocator (legacy layout, MAP_32BIT, and
 * the fallback of the top-down one).  align_mask as for unmapped_area(). */
static long get_area_bottomup(const struct mm *mm, uint64_t addr, uint64_t len, uint64_t flags,
                              uint64_t align_mask)
{
    uint64_t begin = mm->mmap_legacy_base, end = addr > PGD_DEFAULT_MAP_WINDOW ? mm->task_size
                                                                                   : PGD_DEFAULT_MAP_WINDOW;
    if (len > mm->task_size)
        return -ENOMEM;
    if (flags & PGD_MAP_FIXED)
        return (long)addr;
    if (flags & PGD_MAP_32BIT) {
        begin = 0x40000000ULL;
        end = 0x80000000ULL;
    }
    if (len > end)
        return -ENOMEM;
    if (addr) {
        addr = PAGE_ALIGN(addr);
        if (end - len >= addr && range_free(mm, addr, len))
            return (long)addr;
    }
    return unmapped_area(mm, false, len, align_mask, begin, end);
}

/* arch_get_unmapped_area_topdown(). */
static long get_area_topdown(const struct mm *mm, uint64_t addr, uint64_t len, uint64_t flags, uint64_t align_mask)
{
    if (len > mm->task_size)
        return -ENOMEM;
    if (flags & PGD_MAP_FIXED)
        return (long)addr;
    if (flags & PGD_MAP_32BIT)
        return get_area_bottomup(mm, addr, len, flags, align_mask);
    if (addr) {
        addr &= PAGE_MASK;
        if (hint_valid(mm, addr, len) && range_free(mm, addr, len))
            return (long)addr;
    }
    uint64_t high = mm->mmap_base;
    if (addr > PGD_DEFAULT_MAP_WINDOW)
        high += mm->task_size - PGD_DEFAULT_MAP_WINDOW;
    long r = unmapped_area(mm, true, len, align_mask, (flags & PGD_MAP_ABOVE4G) ? 1ULL << 32 : PAGE_SIZE, high);
    if (r >= 0)
        return r;
    return get_area_bottomup(mm, addr, len, flags, align_mask);
}

/* The mm's allocator: top-down, or bottom-up with the legacy layout. */
static long get_area_aligned(const struct mm *mm, uint64_t addr, uint64_t len, uint64_t flags, uint64_t align_mask)
{
    return mm->cfg.legacy_layout ? get_area_bottomup(mm, addr, len, flags, align_mask)
                                 : get_area_topdown(mm, addr, len, flags, align_mask);
}

static long get_area(const struct mm *mm, uint64_t addr, uint64_t len, uint64_t flags)
{
    return get_area_aligned(mm, addr, len, flags, 0);
}

/* hugetlb_get_unmapped_area(): whole huge pages (EINVAL), a fixed address huge-page
 * aligned (EINVAL), a hint rounded up to a huge page, and a search aligned to the
 * huge page size (x86's get_align_mask() of a hugetlbfs file). */
static long hugetlb_area(const struct mm *mm, uint64_t addr, uint64_t len, uint64_t flags, uint64_t hsize)
{
    if (len & (hsize - 1))
        return -EINVAL;
    if ((flags & PGD_MAP_FIXED) && (addr & (hsize - 1)))
        return -EINVAL;
    if (addr)
        addr = (addr + hsize - 1) & ~(hsize - 1); /* ALIGN(), which may wrap to 0 */
    return get_area_aligned(mm, addr, len, flags, hsize - PAGE_SIZE);
}

/* __thp_get_unmapped_area(): place a large mapping so that file offset and address
 * agree modulo 2 MiB.  0 when not applicable. */
static long thp_area(const struct mm *mm, uint64_t addr, uint64_t len, uint64_t off, uint64_t flags)
{
    uint64_t off_end = off + len, off_align = (off + PMD_SIZE - 1) & ~(PMD_SIZE - 1);
    if (off_end <= off_align || off_end - off_align < PMD_SIZE)
        return 0;
    uint64_t len_pad = len + PMD_SIZE;
    if (len_pad < len || off + len_pad < off)
        return 0;
    long ret = get_area(mm, addr, len_pad, flags);
    if (ret < 0)
        return 0;
    if ((uint64_t)ret == addr)
        return (long)addr;
    uint64_t off_sub = (off - (uint64_t)ret) & (PMD_SIZE - 1);
    if (!mm->cfg.legacy_layout && !off_sub)
        return ret + (long)PMD_SIZE;
    return ret + (long)off_sub;
}

long mm_get_unmapped_area(struct mm *mm, struct mm_file *file, uint64_t addr, uint64_t len, uint64_t pgoff,
                          uint64_t flags, uint64_t vm_flags)
{
    long r;
    uint64_t hsize = hugetlbfs_page_size(file);
    if (len > mm->task_size)
        return -ENOMEM;
    if (!file)
        pgoff = 0;
    if (hsize) {
        r = hugetlb_area(mm, addr, len, flags, hsize);
    } else if (file && file->thp_aligned && !(flags & PGD_MAP_FIXED) && mm->cfg.thp_enabled) {
        r = thp_area(mm, addr, len, pgoff << PAGE_SHIFT, flags);
        if (!r)
            r = get_area(mm, addr, len, flags);
    } else if (!file && (flags & PGD_MAP_TYPE) != PGD_MAP_SHARED && !addr && mm->cfg.thp_enabled &&
               !(len & (PMD_SIZE - 1)) && !(flags & PGD_MAP_FIXED)) {
        r = thp_area(mm, 0, len, 0, flags);
        if (!r)
            r = get_area(mm, addr, len, flags);
    } else {
        r = get_area(mm, addr, len, flags);
    }
    if (r < 0)
        return r;
    if ((uint64_t)r > mm->task_size - len)
        return -ENOMEM;
    if (r & (long)~PAGE_MASK)
        return -EINVAL;
    if ((uint64_t)r < mm->cfg.dac_mmap_min_addr)
        return -EPERM;
    return r;
}

/* ---- mmap ------------------------------------------------------------------------- */

/* include/linux/mman.h LEGACY_MAP_MASK: what MAP_SHARED_VALIDATE accepts. */
#define LEGACY_MAP_MASK                                                                                      \
    ((uint64_t)(PGD_MAP_SHARED | PGD_MAP_PRIVATE | PGD_MAP_FIXED | PGD_MAP_ANONYMOUS | PGD_MAP_DENYWRITE |    \
                PGD_MAP_EXECUTABLE | PGD_MAP_UNINITIALIZED | PGD_MAP_GROWSDOWN | PGD_MAP_LOCKED |            \
                PGD_MAP_NORESERVE | PGD_MAP_POPULATE | PGD_MAP_NONBLOCK | PGD_MAP_STACK | PGD_MAP_HUGETLB |        \
                PGD_MAP_32BIT | PGD_MAP_ABOVE4G) |                                                           \
     (21ULL << PGD_MAP_HUGE_SHIFT) | (30ULL << PGD_MAP_HUGE_SHIFT))

static uint64_t calc_vm_prot_bits(uint64_t prot)
{
    return (prot & PGD_PROT_READ ? VM_READ : 0) | (prot & PGD_PROT_WRITE ? VM_WRITE : 0) |
           (prot & PGD_PROT_EXEC ? VM_EXEC : 0);
}

static uint64_t calc_vm_flag_bits(uint64_t flags)
{
    return (flags & PGD_MAP_GROWSDOWN ? VM_GROWSDOWN : 0) | (flags & PGD_MAP_LOCKED ? VM_LOCKED : 0) |
           (flags & PGD_MAP_SYNC ? VM_SYNC : 0) | (flags & PGD_MAP_STACK ? VM_NOHUGEPAGE : 0);
}

/* accountable_mapping(): private writable, not NORESERVE, not hugetlbfs (whose pages
 * are reserved from the huge page pool instead). */
static bool accountable(const struct mm_file *file, uint64_t vm_flags)
{
    if (hugetlbfs_page_size(file))
        return false;
    return (vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) == VM_WRITE;
}

/* may the caller lock `pages` more? (can_do_mlock + mlock_future_ok) */
static bool mlock_allowed(const struct mm *mm, uint64_t pages)
{
    if (mm->cfg.cap_ipc_lock)
        return true;
    if (mm->cfg.rlimit_memlock == UINT64_MAX)
        return true;
    return mm->locked_vm + pages <= mm->cfg.rlimit_memlock >> PAGE_SHIFT;
}

/* A fresh shared-anonymous (shmem) object of `len` bytes, as shmem_zero_setup(). */
static struct mm_file *shmem_object(struct mm *mm, uint64_t len)
{
    struct mm_file *f = mm_file_unbacked("/dev/zero (deleted)", 0, 1, mm->shmem_inodes + 1);
    if (!f)
        return NULL;
    mm->shmem_inodes++;
    f->size = len;
    f->writable = f->is_shmem = true;
    return f;
}

/* Pages of VM_ACCOUNT VMAs inside [start,end): what MAP_FIXED would uncharge. */
static uint64_t accounted_pages_in(const struct mm *mm, uint64_t start, uint64_t end)
{
    uint64_t n = 0;
    for (struct vm_area *v = vma_of(vma_tree_find_intersection(&mm->vmas, start, end)); v && vma_start(v) < end;
         v = vma_next(v))
        if (v->flags & VM_ACCOUNT)
            n += (mm_min(end, vma_end(v)) - mm_max(start, vma_start(v))) >> PAGE_SHIFT;
    return n;
}

/* hugetlb_vm_op_split(): a hugetlb VMA splits only at a huge page boundary. */
static int hugetlb_vm_op_split(struct vm_area *vma, uint64_t addr)
{
    return (addr & (vma_page_size(vma) - 1)) ? -EINVAL : 0;
}

const struct vm_operations hugetlb_vm_ops = {
    .may_split = hugetlb_vm_op_split,
    .open = hugetlb_vma_open,
    .close = hugetlb_vma_close,
};

/* hugetlbfs_file_mmap(): the VMA becomes VM_HUGETLB|VM_DONTEXPAND (so it never merges);
 * the file offset must be huge-page aligned (EINVAL); without VM_NORESERVE the pages
 * are reserved from the pool now, ENOMEM when free pages not yet reserved are short
 * (hugetlb_reserve_pages, in hugetlb.c). */
static int hugetlbfs_mmap(const struct mm *mm, const struct mm_file *file, uint64_t hsize, uint64_t *vm_flags,
                          uint64_t pgoff, uint64_t len)
{
    *vm_flags |= VM_HUGETLB | VM_DONTEXPAND;
    if (pgoff & ((hsize >> PAGE_SHIFT) - 1))
        return -EINVAL;
    return hugetlb_reserve(mm, file, hsize, pgoff, len, *vm_flags);
}

/* The work __mmap_new_vma() does once the old mappings are cleared: the file's ->mmap
 * hook, or shmem_zero_setup() for shared anonymous memory (and shared /dev/zero),
 * which charges the pages unless VM_NORESERVE.  May add flags; 0 or -errno. */
static int mmap_setup_hook(const struct mm *mm, const struct mm_file *file, uint64_t *vm_flags, uint64_t pgoff,
                           uint64_t len, bool shmem)
{
    if (shmem)
        return !(*vm_flags & VM_NORESERVE) && mm_vm_enough_memory(mm, len >> PAGE_SHIFT) ? -ENOMEM : 0;
    if (!file)
        return 0;
    if (file->sync_capable && (*vm_flags & VM_SYNC))
        return -EOPNOTSUPP; /* ext4/xfs: VM_SYNC needs DAX */
    uint64_t hsize = hugetlbfs_page_size(file);
    return hsize ? hugetlbfs_mmap(mm, file, hsize, vm_flags, pgoff, len) : 0;
}

/* __mmap_complete(): what a locked mapping adds to locked_vm.  Special and hugetlb
 * VMAs are never locked: they lose the lock flags instead. */
static void mmap_account_locked(struct mm *mm, struct vm_area *vma, uint64_t vm_flags, uint64_t pages)
{
    if (!(vm_flags & VM_LOCKED))
        return;
    if (vm_flags & (VM_SPECIAL | VM_HUGETLB))
        vma_set_flags(mm, vma, vma->flags & ~VM_LOCKED_MASK);
    else
        mm->locked_vm += pages;
}

/* Install the new VMA for [addr, addr+len) (the range is free): merged with a
 * neighbour when possible, else a VMA of its own.  Takes a reference on vfile for
 * the VMA.  The VMA, or NULL when out of memory. */
static struct vm_area *mmap_new_vma(struct mm *mm, struct mm_file *vfile, uint64_t addr, uint64_t len,
                                    uint64_t vm_flags, uint64_t pgoff, bool shared_anon)
{
    struct vm_area *next = mm_find_vma(mm, addr);
    struct vm_area *prev = next ? vma_prev(next) : vma_of(mm->vmas.last);
    struct vma_merge vmg = {.start = addr, .end = addr + len, .pgoff = pgoff, .flags = vm_flags, .file = vfile,
                            .prev = prev, .next = next};
    struct vm_area *vma = NULL;
    if (!shared_anon)
        vma = vma_merge_new_range(mm, &vmg);
    if (vma)
        return vma;
    vma = vma_alloc(mm);
    if (!vma)
        return NULL;
    vma_set_range(vma, addr, addr + len, pgoff);
    vma->flags = vm_flags;
    vma->file = vfile ? mm_file_get(vfile) : NULL;
    if (vm_flags & VM_HUGETLB)
        vma->ops = &hugetlb_vm_ops;
    vma_link(mm, vma);
    hugetlb_vma_own_reserve(vma); /* a private mapping owns the pages it reserved */
    return vma;
}

/* __mmap_region(): put [addr, addr+len) in place, unmapping what MAP_FIXED covers.
 * As __mmap_setup() does, the VMAs the range cuts are split first (those splits stay
 * when a later check fails), then come the address-space limit and the commit
 * charge, then the old mappings are cleared and the file's hook runs: a failing hook
 * leaves a hole where a MAP_FIXED target was. */
static long mmap_region(struct mm *mm, struct mm_file *file, uint64_t addr, uint64_t len, uint64_t vm_flags,
                        uint64_t pgoff, bool shared_anon)
{
    uint64_t end = addr + len, pages = len >> PAGE_SHIFT;
    int err = munmap_gather(mm, addr, end);
    if (err)
        return err;
    if (!may_expand_vm(mm, vm_flags, pages - count_vma_pages_range(mm, addr, end)))
        return -ENOMEM;
    if (accountable(file, vm_flags)) {
        uint64_t charged = pages - accounted_pages_in(mm, addr, end);
        if (charged && mm_vm_enough_memory(mm, charged))
            return -ENOMEM;
        vm_flags |= VM_ACCOUNT;
    }
    bool shmem = shared_anon || (file && file->is_dev_zero && (vm_flags & VM_SHARED));
    int hook_err = mmap_setup_hook(mm, file, &vm_flags, pgoff, len, shmem);
    err = do_munmap_range(mm, addr, end);
    PAGODA_BUG_ON(err, "unmapping a range whose edge VMAs are already split cannot fail");
    if (hook_err)
        return hook_err;

    struct mm_file *vfile = file;
    if (shmem) {
        vfile = shmem_object(mm, len);
        if (!vfile)
            return -ENOMEM;
        pgoff = 0;
    }
    struct vm_area *vma = mmap_new_vma(mm, vfile, addr, len, vm_flags, pgoff, shared_anon);
    if (shmem)
        mm_file_put(vfile);
    if (!vma)
        return -ENOMEM;
    vm_stat_account(mm, vm_flags, (long)pages);
    mmap_account_locked(mm, vma, vm_flags, pages);
    return (long)addr;
}

/* do_mmap()'s rules for a file mapping, in its order: file_mmap_ok() (EOVERFLOW), the
 * type (unknown flags with MAP_SHARED_VALIDATE: EOPNOTSUPP; write access: EACCES),
 * noexec mounts (EPERM), an mmap operation (ENODEV), no growsdown (EINVAL).  Adds the
 * sharing flags to *vm_flags; 0 or -errno. */
static long mmap_file_rules(const struct mm_file *file, uint64_t flags, uint64_t prot, uint64_t len, uint64_t pgoff,
                            uint64_t *vm_flags)
{
    /* file_mmap_ok(): regular files reach LLONG_MAX, other files ULONG_MAX. */
    uint64_t maxsize = file->regular ? 0x7fffffffffffffffULL : UINT64_MAX;
    if (len > maxsize || pgoff > (maxsize - len) >> PAGE_SHIFT)
        return -EOVERFLOW;
    switch (flags & PGD_MAP_TYPE) {
    case PGD_MAP_SHARED:
        flags &= LEGACY_MAP_MASK; /* unknown flags are ignored with plain MAP_SHARED */
        /* fallthrough */
    case PGD_MAP_SHARED_VALIDATE: {
        uint64_t mask = LEGACY_MAP_MASK | (file->sync_capable ? (uint64_t)PGD_MAP_SYNC : 0);
        if (flags & ~mask)
            return -EOPNOTSUPP;
        if ((prot & PGD_PROT_WRITE) && !file->writable)
            return -EACCES;
        if (file->append_only && file->writable)
            return -EACCES;
        *vm_flags |= VM_SHARED | VM_MAYSHARE;
        if (!file->writable)
            *vm_flags &= ~(VM_MAYWRITE | VM_SHARED);
    }
        /* fallthrough */
    case PGD_MAP_PRIVATE:
        if (!file->readable)
            return -EACCES;
        if (file->noexec) {
            if (*vm_flags & VM_EXEC)
                return -EPERM;
            *vm_flags &= ~VM_MAYEXEC;
        }
        if (!file->mmappable)
            return -ENODEV;
        if (*vm_flags & VM_GROWSDOWN)
            return -EINVAL;
        return 0;
    default:
        return -EINVAL;
    }
}

/* do_mmap()'s rules for an anonymous mapping: the type (EINVAL for unknown ones),
 * no growsdown shared memory, MAP_DROPPABLE's restrictions.  Sets the flags, the
 * pgoff (the page number of addr for private maps) and whether it is shared
 * anonymous memory; 0 or -EINVAL. */
static long mmap_anon_rules(uint64_t flags, uint64_t addr, uint64_t *vm_flags, uint64_t *pgoff, bool *shared_anon)
{
    switch (flags & PGD_MAP_TYPE) {
    case PGD_MAP_SHARED:
        if (*vm_flags & VM_GROWSDOWN)
            return -EINVAL;
        *pgoff = 0;
        *vm_flags |= VM_SHARED | VM_MAYSHARE;
        *shared_anon = true;
        return 0;
    case PGD_MAP_DROPPABLE:
        /* Locked, hugetlb or stack areas make no sense droppable. */
        if ((flags & (PGD_MAP_LOCKED | PGD_MAP_HUGETLB)) || (*vm_flags & VM_GROWSDOWN))
            return -EINVAL;
        *vm_flags |= VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP;
        /* fallthrough */
    case PGD_MAP_PRIVATE:
        *pgoff = addr >> PAGE_SHIFT;
        return 0;
    default:
        return -EINVAL;
    }
}

/* do_mmap(): the checks in Linux's order, then mmap_region() and population.  A
 * hugetlbfs file's length is already whole huge pages. */
static long do_mmap(struct mm *mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, struct mm_file *file,
                    uint64_t pgoff)
{
    if (!len)
        return -EINVAL;
    if (flags & PGD_MAP_FIXED_NOREPLACE)
        flags |= PGD_MAP_FIXED;
    if (!(flags & PGD_MAP_FIXED)) {
        addr &= PAGE_MASK;
        if (addr && addr < mm->cfg.mmap_min_addr)
            addr = PAGE_ALIGN(mm->cfg.mmap_min_addr);
    }
    uint64_t alen = PAGE_ALIGN(len);
    if (!alen)
        return -ENOMEM;
    len = alen;
    if (pgoff + (len >> PAGE_SHIFT) < pgoff)
        return -EOVERFLOW;
    if (mm->map_count > mm->cfg.max_map_count)
        return -ENOMEM;

    uint64_t vm_flags = calc_vm_prot_bits(prot) | calc_vm_flag_bits(flags) | mm->def_flags | VM_MAYREAD |
                        VM_MAYWRITE | VM_MAYEXEC;
    long r = mm_get_unmapped_area(mm, file, addr, len, pgoff, flags, vm_flags);
    if (r < 0)
        return r;
    addr = (uint64_t)r;
    if ((flags & PGD_MAP_FIXED_NOREPLACE) && vma_tree_find_intersection(&mm->vmas, addr, addr + len))
        return -EEXIST;
    if ((flags & PGD_MAP_LOCKED) && !mm->cfg.cap_ipc_lock && mm->cfg.rlimit_memlock == 0)
        return -EPERM;
    if ((vm_flags & VM_LOCKED) && !mlock_allowed(mm, len >> PAGE_SHIFT))
        return -EAGAIN;

    bool shared_anon = false;
    r = file ? mmap_file_rules(file, flags, prot, len, pgoff, &vm_flags)
             : mmap_anon_rules(flags, addr, &vm_flags, &pgoff, &shared_anon);
    if (r)
        return r;
    /* MAP_NORESERVE is honoured unless overcommit is strict - and always for
     * hugetlbfs, which otherwise reserves huge pages. */
    if ((flags & PGD_MAP_NORESERVE) && (mm->cfg.overcommit != 2 || hugetlbfs_page_size(file)))
        vm_flags |= VM_NORESERVE;

    r = mmap_region(mm, file, addr, len, vm_flags, pgoff, shared_anon);
    if (r >= 0 && ((vm_flags & VM_LOCKED) || (flags & (PGD_MAP_POPULATE | PGD_MAP_NONBLOCK)) == PGD_MAP_POPULATE))
        mm_populate_range(mm, addr, addr + len);
    mm_validate(mm);
    return r;
}

/* hstate_sizelog(): the huge page size the MAP_HUGE_* bits of a MAP_HUGETLB call
 * name (none: the default 2 MiB), or 0 when no hstate has that size. */
static uint64_t hugetlb_size_of_flags(uint64_t flags)
{
    unsigned log = (unsigned)((flags >> PGD_MAP_HUGE_SHIFT) & PGD_MAP_HUGE_MASK);
    if (!log || log == 21)
        return HPAGE_SIZE_2M;
    return log == 30 ? HPAGE_SIZE_1G : 0;
}

/* ALIGN(len, size) as the kernel computes it: wraps to 0 past the top. */
static uint64_t align_up_wrapping(uint64_t len, uint64_t size)
{
    return (len + size - 1) & ~(size - 1);
}

/* ksys_mmap_pgoff(): a hugetlbfs file maps whole huge pages, MAP_HUGETLB with any
 * other file is EINVAL, and anonymous MAP_HUGETLB first makes an unlinked hugetlbfs
 * file of the size the MAP_HUGE_* bits name (EINVAL for sizes without an hstate) -
 * which uses an inode number even when the mapping then fails. */
long mm_mmap(struct mm *mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, struct mm_file *file,
             uint64_t pgoff)
{
    uint64_t hsize = hugetlbfs_page_size(file);
    if (file) {
        if (!hsize && (flags & PGD_MAP_HUGETLB))
            return -EINVAL;
        return do_mmap(mm, addr, hsize ? align_up_wrapping(len, hsize) : len, prot, flags, file, pgoff);
    }
    if (!(flags & PGD_MAP_HUGETLB))
        return do_mmap(mm, addr, len, prot, flags, NULL, pgoff);
    hsize = hugetlb_size_of_flags(flags);
    if (!hsize)
        return -EINVAL;
    len = align_up_wrapping(len, hsize);
    struct mm_file *hf = hugetlbfs_anon_file(mm, hsize, len);
    if (!hf)
        return -ENOMEM;
    long r = do_mmap(mm, addr, len, prot, flags, hf, pgoff);
    mm_file_put(hf);
    return r;
}

/* ---- munmap ----------------------------------------------------------------------- */

long mm_munmap(struct mm *mm, uint64_t start, uint64_t len)
{
    if ((start & ~PAGE_MASK) || start > mm->task_size || len > mm->task_size - start)
        return -EINVAL;
    uint64_t end = start + PAGE_ALIGN(len);
    if (end == start)
        return -EINVAL;
    return do_munmap_range(mm, start, end);
}

/* ---- brk -------------------------------------------------------------------------- */

int do_brk_flags(struct mm *mm, struct vm_area *prev, uint64_t addr, uint64_t len, uint64_t flags)
{
    uint64_t pages = len >> PAGE_SHIFT;
    if (!may_expand_vm(mm, flags, pages))
        return -ENOMEM;
    if (mm->map_count > mm->cfg.max_map_count)
        return -ENOMEM;
    if (mm_vm_enough_memory(mm, pages))
        return -ENOMEM;
    struct vm_area *vma = NULL;
    if (prev && vma_end(prev) == addr) {
        struct vma_merge vmg = {.start = addr, .end = addr + len, .pgoff = addr >> PAGE_SHIFT, .flags = flags,
                                .prev = prev, .just_expand = true};
        vma = vma_merge_new_range(mm, &vmg);
    }
    if (!vma) {
        vma = vma_alloc(mm);
        if (!vma)
            return -ENOMEM;
        vma_set_range(vma, addr, addr + len, addr >> PAGE_SHIFT);
        vma->flags = flags;
        vma_link(mm, vma);
    }
    vm_stat_account(mm, flags, (long)pages);
    if (flags & VM_LOCKED)
        mm->locked_vm += pages;
    return 0;
}

long mm_brk(struct mm *mm, uint64_t brk)
{
    uint64_t origbrk = mm->brk;
    if (brk < mm->start_brk)
        return (long)origbrk;
    if (mm->cfg.rlimit_data != UINT64_MAX &&
        (brk - mm->start_brk) + (mm->end_data - mm->start_data) > mm->cfg.rlimit_data)
        return (long)origbrk;
    uint64_t newbrk = PAGE_ALIGN(brk), oldbrk = PAGE_ALIGN(mm->brk);
    if (oldbrk == newbrk) {
        mm->brk = brk;
        return (long)brk;
    }
    if (brk <= mm->brk) {
        struct vm_area *v = vma_of(vma_tree_find_intersection(&mm->vmas, newbrk, oldbrk));
        if (!v)
            return (long)origbrk;
        mm->brk = brk;
        if (do_munmap_range(mm, newbrk, oldbrk)) {
            mm->brk = origbrk;
            return (long)origbrk;
        }
        return (long)brk;
    }
    /* check_brk_limits(): mlock limit and the address range. */
    if ((mm->def_flags & VM_LOCKED) && !mlock_allowed(mm, (newbrk - oldbrk) >> PAGE_SHIFT))
        return (long)origbrk;
    if (newbrk - oldbrk > mm->task_size || oldbrk > mm->task_size - (newbrk - oldbrk))
        return (long)origbrk;
    struct vm_area *next = mm_find_vma(mm, oldbrk);
    if (next && newbrk + PAGE_SIZE > vm_start_gap(next))
        return (long)origbrk;
    struct vm_area *brkvma = next ? vma_prev(next) : vma_of(mm->vmas.last);
    if (brkvma && vma_end(brkvma) <= mm->start_brk)
        brkvma = NULL;
    uint64_t flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT | mm->def_flags;
    if (do_brk_flags(mm, brkvma, oldbrk, newbrk - oldbrk, flags))
        return (long)origbrk;
    mm->brk = brk;
    if (mm->def_flags & VM_LOCKED)
        mm_populate_range(mm, oldbrk, newbrk);
    mm_validate(mm);
    return (long)brk;
}

/* ---- special mappings ------------------------------------------------------------- */

int mm_install_special(struct mm *mm, uint64_t addr, uint64_t len, uint64_t vm_flags, const struct vm_operations *ops)
{
    if ((addr | len) & ~PAGE_MASK || !len || vma_tree_find_intersection(&mm->vmas, addr, addr + len))
        return -EINVAL;
    struct vm_area *vma = vma_alloc(mm);
    if (!vma)
        return -ENOMEM;
    vma_set_range(vma, addr, addr + len, 0);
    vma->flags = vm_flags | VM_DONTEXPAND;
    vma->ops = ops;
    vma_link(mm, vma);
    vm_stat_account(mm, vma->flags, (long)(len >> PAGE_SHIFT));
    mm_validate(mm);
    return 0;
}
