/*
 * madvise, mlock/mlock2/munlock/mlockall/munlockall, msync, mincore and
 * PR_SET_VMA_ANON_NAME, as Linux 6.18 does them (mm/madvise.c, mm/mlock.c,
 * mm/msync.c, mm/mincore.c, kernel/sys.c prctl_set_vma), checks in the same order.
 *
 * Attribute changes go through vma_modify(), exactly like mprotect_fixup(): the range
 * is split out of its VMA, or merged with a neighbour whose attributes now match.
 */
#include "mm/fault.h"

#include <unistd.h>

/* madvise advice values (include/uapi/asm-generic/mman-common.h). */
enum {
    MADV_NORMAL = 0,
    MADV_RANDOM = 1,
    MADV_SEQUENTIAL = 2,
    MADV_WILLNEED = 3,
    MADV_DONTNEED = 4,
    MADV_FREE = 8,
    MADV_REMOVE = 9,
    MADV_DONTFORK = 10,
    MADV_DOFORK = 11,
    MADV_MERGEABLE = 12,
    MADV_UNMERGEABLE = 13,
    MADV_HUGEPAGE = 14,
    MADV_NOHUGEPAGE = 15,
    MADV_DONTDUMP = 16,
    MADV_DODUMP = 17,
    MADV_WIPEONFORK = 18,
    MADV_KEEPONFORK = 19,
    MADV_COLD = 20,
    MADV_PAGEOUT = 21,
    MADV_POPULATE_READ = 22,
    MADV_POPULATE_WRITE = 23,
    MADV_DONTNEED_LOCKED = 24,
    MADV_COLLAPSE = 25,
    MADV_HWPOISON = 100,
    MADV_SOFT_OFFLINE = 101,
    MADV_GUARD_INSTALL = 102,
    MADV_GUARD_REMOVE = 103,
    MADV_SET_ANON_VMA_NAME = -1, /* internal: prctl(PR_SET_VMA_ANON_NAME) */
};

#define ANON_VMA_NAME_MAX_LEN 80 /* bytes, the terminating NUL included */

/*
 * A guard-region marker as x86-64 Linux stores it: a swap entry of type
 * SWP_PTE_MARKER (31) whose offset is PTE_MARKER_GUARD (bit 2), the offset inverted
 * into bits 9..58 and the type in bits 59..63.  P, bit 7 and PROTNONE are clear.
 */
#define SWP_TYPE_PTE_MARKER 31ULL
#define PTE_MARKER_GUARD 4ULL
#define PTE_GUARD_MARKER ((((pte_t)~PTE_MARKER_GUARD << 14) >> 5) | (SWP_TYPE_PTE_MARKER << 59))

static bool pte_is_guard(pte_t e)
{
    return e == PTE_GUARD_MARKER;
}

/* Linux's pte_present(): a PROT_NONE entry is present too. */
static bool pte_mapped(pte_t e)
{
    return e & (PTE_P | PTE_PROTNONE);
}

/* One madvise call's state (Linux's struct madvise_behavior). */
struct madv {
    struct mm *mm;
    int behavior;
    struct anon_name *anon_name; /* the name to set, for MADV_SET_ANON_VMA_NAME */
    uint64_t start, end;         /* the part of the current VMA being advised */
    struct vm_area *prev, *vma;
};

/* ---- page-table helpers ------------------------------------------------------------ */

/* Leaf callback: stop at the first guard marker, remembering where. */
static int stop_at_guard(void *arg, uint64_t va, int level, pte_t *entry)
{
    if (!pte_is_guard(*entry))
        return 0;
    *(uint64_t *)arg = va;
    return 1;
}

/* Leaf callback: stop at the first entry that is not a guard marker. */
static int stop_at_non_guard(void *arg, uint64_t va, int level, pte_t *entry)
{
    return pte_is_guard(*entry) ? 0 : 1;
}

/* The first guard marker in [start, end), or `end`. */
static uint64_t next_guard(struct mm *mm, uint64_t start, uint64_t end)
{
    const struct pt_walk_ops ops = {.leaf = stop_at_guard};
    uint64_t at = end;
    pt_walk_range(&mm->pt, start, end, PT_LEVEL_PTE, 0, &ops, &at);
    return at;
}

/* Zap pages (zap_page_range_single without ZAP_FLAG_DROP_MARKER): every entry of
 * [start, end) goes except guard markers, which only munmap removes. */
static void zap_keep_guards(struct mm *mm, uint64_t start, uint64_t end)
{
    while (start < end) {
        uint64_t guard = next_guard(mm, start, end);
        mm_zap_range(mm, start, guard);
        start = guard == end ? end : guard + PAGE_SIZE;
    }
}

static int set_guard(void *arg, uint64_t va, int level, pte_t *entry)
{
    PAGODA_BUG_ON(*entry && !pte_is_guard(*entry), "guards are installed over empty entries only");
    *entry = PTE_GUARD_MARKER;
    return 0;
}

static int clear_guard(void *arg, uint64_t va, int level, pte_t *entry)
{
    if (pte_is_guard(*entry))
        *entry = 0;
    return 0;
}

/* ---- VMA attribute changes ------------------------------------------------------------ */

/* madvise_update_vma(): give [start, end) of the current VMA new flags (or a new
 * name), splitting or merging through vma_modify(). */
static int madvise_update_vma(struct madv *m, uint64_t new_flags)
{
    struct vm_area *vma = m->vma;
    bool set_name = m->behavior == MADV_SET_ANON_VMA_NAME;
    if (new_flags == vma->flags && (!set_name || anon_name_eq(vma->anon_name, m->anon_name)))
        return 0;
    struct vma_merge attrs = {.flags = new_flags, .anon_name = set_name ? m->anon_name : vma->anon_name};
    int err = 0;
    struct vm_area *v = vma_modify(m->mm, m->prev, vma, m->start, m->end, &attrs, &err);
    if (!v)
        return err;
    m->vma = v;
    vma_set_flags(m->mm, v, new_flags);
    if (set_name && !anon_name_eq(v->anon_name, m->anon_name)) {
        struct anon_name *old = v->anon_name;
        v->anon_name = m->anon_name ? anon_name_get(m->anon_name) : NULL;
        if (old)
            anon_name_put(old);
    }
    return 0;
}

/* ksm_madvise(): KSM (built in on the reference machine) ignores what it cannot
 * merge rather than failing. */
static uint64_t ksm_flags(const struct vm_area *vma, uint64_t flags, int behavior)
{
    const uint64_t incompatible =
        VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_HUGETLB | VM_MIXEDMAP | VM_DROPPABLE;
    if (behavior == MADV_MERGEABLE)
        return (vma->flags & (VM_MERGEABLE | incompatible)) ? flags : flags | VM_MERGEABLE;
    return flags & ~VM_MERGEABLE;
}

/* The new flags of a flag-changing advice, or -EINVAL/-EBADF for a VMA it does not
 * apply to (madvise_vma_behavior()'s switch). */
static int advice_flags(const struct madv *m, uint64_t *flags)
{
    const struct vm_area *vma = m->vma;
    uint64_t f = vma->flags;
    switch (m->behavior) {
    case MADV_NORMAL: f &= ~(VM_RAND_READ | VM_SEQ_READ); break;
    case MADV_SEQUENTIAL: f = (f & ~VM_RAND_READ) | VM_SEQ_READ; break;
    case MADV_RANDOM: f = (f & ~VM_SEQ_READ) | VM_RAND_READ; break;
    case MADV_DONTFORK: f |= VM_DONTCOPY; break;
    case MADV_DOFORK:
        if (f & VM_IO)
            return -EINVAL;
        f &= ~VM_DONTCOPY;
        break;
    case MADV_WIPEONFORK:
        if (vma->file || (f & VM_SHARED))
            return -EINVAL;
        f |= VM_WIPEONFORK;
        break;
    case MADV_KEEPONFORK:
        if (f & VM_DROPPABLE)
            return -EINVAL;
        f &= ~VM_WIPEONFORK;
        break;
    case MADV_DONTDUMP: f |= VM_DONTDUMP; break;
    case MADV_DODUMP:
        if ((!(f & VM_HUGETLB) && (f & VM_SPECIAL)) || (f & VM_DROPPABLE))
            return -EINVAL;
        f &= ~VM_DONTDUMP;
        break;
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE: f = ksm_flags(vma, f, m->behavior); break;
    case MADV_HUGEPAGE: f = (f & ~VM_NOHUGEPAGE) | VM_HUGEPAGE; break;
    case MADV_NOHUGEPAGE: f = (f & ~VM_HUGEPAGE) | VM_NOHUGEPAGE; break;
    case MADV_SET_ANON_VMA_NAME:
        if (vma->file && !vma->file->is_shmem)
            return -EBADF; /* only anonymous memory can be named */
        break;
    default: PAGODA_BUG_ON(true, "advice_flags() sees flag-changing advice only");
    }
    *flags = f;
    return 0;
}

/* ---- page-level advice ------------------------------------------------------------------ */

/* madvise_dontneed_free_valid_vma(): a hugetlb range must start on a huge page of the
 * VMA, and its end is rounded down to one (so as not to free more than asked);
 * MADV_FREE does not apply to hugetlb. */
static bool dontneed_free_valid(struct madv *m)
{
    const struct vm_area *vma = m->vma;
    if (!(vma->flags & VM_HUGETLB)) {
        uint64_t forbidden = VM_PFNMAP | (m->behavior != MADV_DONTNEED_LOCKED ? VM_LOCKED : 0);
        return !(vma->flags & forbidden);
    }
    uint64_t hmask = vma_page_size(vma) - 1;
    if (m->behavior == MADV_FREE || (m->start & hmask))
        return false;
    m->end &= ~hmask;
    return true;
}

/* MADV_DONTNEED(_LOCKED) and MADV_FREE: the VMA is never split. */
static int madvise_dontneed_free(struct madv *m)
{
    if (!dontneed_free_valid(m))
        return -EINVAL;
    if (m->start == m->end)
        return 0;
    if (m->behavior != MADV_FREE) {
        zap_keep_guards(m->mm, m->start, m->end);
        mm_flush_tlb_range(m->mm, m->start, m->end);
        return 0;
    }
    if (!vma_is_anonymous(m->vma))
        return -EINVAL;
    return mm_lazyfree_range(m->mm, m->start, m->end);
}

/* MADV_REMOVE: vfs_fallocate(PUNCH_HOLE | KEEP_SIZE) on the backing file - shmem,
 * memfd, shared /dev/zero or a host file: the pages leave every mapping of the file
 * in every process (private copies stay) and the page cache; afterwards the hole
 * reads as zeros.  The host file itself is never written. */
static int madvise_remove(struct madv *m)
{
    const struct vm_area *vma = m->vma;
    if (vma->flags & VM_LOCKED)
        return -EINVAL;
    if (!vma->file)
        return -EINVAL;
    if ((vma->flags & (VM_SHARED | VM_MAYWRITE)) != (VM_SHARED | VM_MAYWRITE))
        return -EACCES;
    uint64_t first = vma->pgoff + ((m->start - vma_start(vma)) >> PAGE_SHIFT);
    return mm_punch_hole(vma->file, m->mm->phys, first, first + ((m->end - m->start) >> PAGE_SHIFT));
}

/* can_do_file_pageout(): the owner of the file, or someone who may write it. */
static bool may_page_out_file(const struct vm_area *vma)
{
    const struct mm_file *f = vma->file;
    if (!f)
        return false;
    if (f->is_shmem || f->writable)
        return true;
    return f->path && access(f->path, W_OK) == 0;
}

/* MADV_COLD / MADV_PAGEOUT (can_madv_lru_vma(): not locked, PFN-mapped or hugetlb). */
static int madvise_lru_hint(const struct madv *m)
{
    if (m->vma->flags & (VM_LOCKED | VM_PFNMAP | VM_HUGETLB))
        return -EINVAL;
    bool pageout = m->behavior == MADV_PAGEOUT;
    bool file_ok = vma_is_anonymous(m->vma) || may_page_out_file(m->vma);
    return mm_cold_range(m->mm, m->start, m->end, pageout, file_ok);
}

/* MADV_WILLNEED: a host file's pages are read into the page cache
 * (vfs_fadvise(POSIX_FADV_WILLNEED), up to the end of the file); shmem and anonymous
 * memory would only be swapped in, and there is no swap. */
static int madvise_willneed(const struct madv *m)
{
    struct vm_area *vma = m->vma;
    if (!vma->file || vma_is_anonymous(vma) || vma->file->host_fd < 0)
        return 0;
    struct pagecache *c = pagecache_attach(vma->file, m->mm->phys);
    if (c) {
        uint64_t first = vma->pgoff + ((m->start - vma_start(vma)) >> PAGE_SHIFT);
        pagecache_readahead(c, vma->file, first, (m->end - m->start) >> PAGE_SHIFT);
    }
    return 0;
}

/* is_valid_guard_vma(). */
static bool guard_vma_ok(const struct vm_area *vma, bool allow_locked)
{
    uint64_t disallowed = VM_SPECIAL | VM_HUGETLB | (allow_locked ? 0 : VM_LOCKED);
    return !(vma->flags & disallowed);
}

/* MADV_GUARD_INSTALL: whatever is mapped goes, then every entry becomes a marker. */
static int madvise_guard_install(struct madv *m)
{
    if (!guard_vma_ok(m->vma, false))
        return -EINVAL;
    vma_anon_prepare(m->mm, m->vma);
    const struct pt_walk_ops probe = {.leaf = stop_at_non_guard}, install = {.leaf = set_guard};
    if (pt_walk_range(&m->mm->pt, m->start, m->end, PT_LEVEL_PTE, 0, &probe, NULL))
        zap_keep_guards(m->mm, m->start, m->end);
    return pt_walk_range(&m->mm->pt, m->start, m->end, PT_LEVEL_PTE, PT_WALK_ALLOC, &install, NULL);
}

static int madvise_guard_remove(struct madv *m)
{
    if (!guard_vma_ok(m->vma, true))
        return -EINVAL;
    const struct pt_walk_ops ops = {.leaf = clear_guard};
    return pt_walk_range(&m->mm->pt, m->start, m->end, PT_LEVEL_PTE, 0, &ops, NULL);
}

/* Leaf callback: is anything mapped here as a PMD (a huge page)? */
static int stop_at_pmd_leaf(void *arg, uint64_t va, int level, pte_t *entry)
{
    return level == PT_LEVEL_PMD && pte_mapped(*entry);
}

/* MADV_COLLAPSE: only an anonymous VMA holding an aligned 2 MiB range is eligible.
 * Collapsing needs pages; a 2 MiB range not already mapped by a PMD cannot be
 * collapsed here, and Linux answers an empty one with EINVAL (SCAN_PMD_NULL). */
static int madvise_collapse(const struct madv *m)
{
    const struct vm_area *vma = m->vma;
    uint64_t last = (vma_end(vma) - PMD_SIZE) & ~(PMD_SIZE - 1);
    if (!vma_is_anonymous(vma) || (vma->flags & (VM_NOHUGEPAGE | VM_SPECIAL | VM_HUGETLB)) ||
        vma_end(vma) - vma_start(vma) < PMD_SIZE || last < vma_start(vma))
        return -EINVAL;
    uint64_t hstart = (m->start + PMD_SIZE - 1) & ~(PMD_SIZE - 1), hend = m->end & ~(PMD_SIZE - 1);
    const struct pt_walk_ops ops = {.leaf = stop_at_pmd_leaf};
    for (uint64_t a = hstart; a < hend; a += PMD_SIZE)
        if (!pt_walk_range(&m->mm->pt, a, a + PMD_SIZE, PT_LEVEL_PMD, 0, &ops, NULL))
            return -EINVAL;
    return 0;
}

/* ---- one VMA ------------------------------------------------------------------------- */

static bool is_discard(int behavior)
{
    switch (behavior) {
    case MADV_FREE:
    case MADV_DONTNEED:
    case MADV_DONTNEED_LOCKED:
    case MADV_REMOVE:
    case MADV_DONTFORK:
    case MADV_WIPEONFORK:
    case MADV_GUARD_INSTALL: return true;
    default: return false;
    }
}

/* can_madvise_modify(): a sealed read-only anonymous VMA may not lose its data. */
static bool can_modify(const struct madv *m)
{
    const struct vm_area *vma = m->vma;
    if (!(vma->flags & VM_SEALED) || !is_discard(m->behavior) || !vma_is_anonymous(vma))
        return true;
    return vma->flags & VM_WRITE;
}

/* madvise_vma_behavior(): apply the advice to [m->start, m->end) of m->vma.  A
 * refused split (-ENOMEM) becomes -EAGAIN, as madvise reports it. */
static int madvise_vma_behavior(struct madv *m)
{
    if (!can_modify(m))
        return -EPERM;
    switch (m->behavior) {
    case MADV_REMOVE: return madvise_remove(m);
    case MADV_WILLNEED: return madvise_willneed(m);
    case MADV_COLD:
    case MADV_PAGEOUT: return madvise_lru_hint(m);
    case MADV_FREE:
    case MADV_DONTNEED:
    case MADV_DONTNEED_LOCKED: return madvise_dontneed_free(m);
    case MADV_COLLAPSE: return madvise_collapse(m);
    case MADV_GUARD_INSTALL: return madvise_guard_install(m);
    case MADV_GUARD_REMOVE: return madvise_guard_remove(m);
    default: break;
    }
    uint64_t flags;
    int err = advice_flags(m, &flags);
    if (!err)
        err = madvise_update_vma(m, flags);
    return err == -ENOMEM ? -EAGAIN : err;
}

/* madvise_walk_vmas(): the advice goes to every mapped part of [start, end); holes
 * make the result -ENOMEM but do not stop the walk.  An error does. */
static int madvise_walk_vmas(struct madv *m)
{
    uint64_t last_end = m->end;
    int unmapped = 0;
    struct vm_area *vma = mm_find_vma(m->mm, m->start);
    struct vm_area *prev = vma ? vma_prev(vma) : vma_of(m->mm->vmas.last);
    if (vma && m->start > vma_start(vma))
        prev = vma;
    for (;;) {
        if (!vma)
            return -ENOMEM;
        if (m->start < vma_start(vma)) {
            unmapped = -ENOMEM;
            m->start = vma_start(vma);
            if (m->start >= last_end)
                break;
        }
        m->end = mm_min(vma_end(vma), last_end);
        m->prev = prev;
        m->vma = vma;
        int err = madvise_vma_behavior(m);
        if (err)
            return err;
        vma = prev = m->vma;
        if (m->end < vma_end(vma))
            m->end = vma_end(vma);
        if (m->end >= last_end)
            break;
        vma = mm_find_vma(m->mm, vma_end(vma));
        m->start = m->end;
    }
    return unmapped;
}

/* ---- madvise(2) --------------------------------------------------------------------- */

static bool behavior_valid(const struct mm *mm, int behavior)
{
    switch (behavior) {
    case MADV_DOFORK: case MADV_DONTFORK: case MADV_NORMAL: case MADV_SEQUENTIAL: case MADV_RANDOM:
    case MADV_REMOVE: case MADV_WILLNEED: case MADV_DONTNEED: case MADV_DONTNEED_LOCKED: case MADV_FREE:
    case MADV_COLD: case MADV_PAGEOUT: case MADV_POPULATE_READ: case MADV_POPULATE_WRITE:
    case MADV_MERGEABLE: case MADV_UNMERGEABLE: /* CONFIG_KSM */
    case MADV_DONTDUMP: case MADV_DODUMP: case MADV_WIPEONFORK: case MADV_KEEPONFORK:
    case MADV_GUARD_INSTALL: case MADV_GUARD_REMOVE:
    case MADV_SOFT_OFFLINE: case MADV_HWPOISON: /* CONFIG_MEMORY_FAILURE */
        return true;
    case MADV_HUGEPAGE: case MADV_NOHUGEPAGE: case MADV_COLLAPSE:
        return mm->cfg.thp_enabled; /* CONFIG_TRANSPARENT_HUGEPAGE */
    default:
        return false;
    }
}

/* madvise's range rules: start page aligned, len rounded up, no wrap (-EINVAL);
 * 1 with *end set when there is a range to work on, 0 for an empty one. */
static int madvise_range(uint64_t start, uint64_t len, uint64_t *end)
{
    uint64_t alen = PAGE_ALIGN(len);
    if ((start & ~PAGE_MASK) || (len && !alen) || start + alen < start)
        return -EINVAL;
    *end = start + alen;
    return alen != 0;
}

long mm_madvise(struct mm *mm, uint64_t start, uint64_t len, int advice)
{
    uint64_t end;
    if (!behavior_valid(mm, advice))
        return -EINVAL;
    int r = madvise_range(start, len, &end);
    if (r <= 0)
        return r;
    long err;
    if (advice == MADV_HWPOISON || advice == MADV_SOFT_OFFLINE) {
        err = -EPERM; /* memory-failure injection needs CAP_SYS_ADMIN */
    } else if (advice == MADV_POPULATE_READ || advice == MADV_POPULATE_WRITE) {
        err = mm_faultin_range(mm, start, end, advice == MADV_POPULATE_WRITE);
    } else {
        struct madv m = {.mm = mm, .behavior = advice, .start = start, .end = end};
        err = madvise_walk_vmas(&m);
    }
    mm_validate(mm);
    return err;
}

/* ---- PR_SET_VMA_ANON_NAME ------------------------------------------------------------- */

/* Printable ASCII except \ ` $ [ ] (kernel/sys.c is_valid_name_char()). */
static bool anon_name_valid(const char *name)
{
    if (strlen(name) + 1 > ANON_VMA_NAME_MAX_LEN)
        return false; /* strndup_user() */
    for (const char *p = name; *p; p++)
        if (*p <= 0x1f || *p >= 0x7f || strchr("\\`$[]", *p))
            return false;
    return true;
}

/* madvise_set_anon_name(): madvise's range rules, then the name VMA by VMA. */
static long set_anon_name_range(struct mm *mm, uint64_t start, uint64_t len, struct anon_name *name)
{
    uint64_t end;
    int r = madvise_range(start, len, &end);
    if (r <= 0)
        return r;
    struct madv m = {.mm = mm, .behavior = MADV_SET_ANON_VMA_NAME, .anon_name = name, .start = start,
                     .end = end};
    return madvise_walk_vmas(&m);
}

long mm_set_anon_name(struct mm *mm, uint64_t start, uint64_t len, const char *name)
{
    if (!mm->cfg.anon_vma_names)
        return -EINVAL; /* CONFIG_ANON_VMA_NAME off: prctl_set_vma() is a stub */
    struct anon_name *an = NULL;
    if (name) {
        if (!anon_name_valid(name))
            return -EINVAL;
        an = anon_name_new(name);
        if (!an)
            return -ENOMEM;
    }
    long err = set_anon_name_range(mm, start, len, an);
    if (an)
        anon_name_put(an);
    mm_validate(mm);
    return err;
}

/* ---- mlock ---------------------------------------------------------------------------- */

/* can_do_mlock(). */
static bool can_do_mlock(const struct mm *mm)
{
    return mm->cfg.rlimit_memlock != 0 || mm->cfg.cap_ipc_lock;
}

/* mlock_fixup(): give [start, end) of vma the lock flags `newflags`, keeping locked_vm
 * equal to the VM_LOCKED pages.  Special, hugetlb and droppable VMAs are silently
 * left alone.  *out becomes the VMA now covering the range. */
static int mlock_fixup(struct mm *mm, struct vm_area *vma, struct vm_area **out, uint64_t start, uint64_t end,
                       uint64_t newflags)
{
    uint64_t oldflags = vma->flags;
    *out = vma;
    if (newflags == oldflags || (oldflags & (VM_SPECIAL | VM_HUGETLB | VM_DROPPABLE)))
        return 0;
    struct vma_merge attrs = {.flags = newflags, .anon_name = vma->anon_name};
    int err = 0;
    struct vm_area *v = vma_modify(mm, vma_prev(vma), vma, start, end, &attrs, &err);
    if (!v)
        return err;
    uint64_t pages = (end - start) >> PAGE_SHIFT;
    if (!(newflags & VM_LOCKED))
        mm->locked_vm -= pages;
    else if (!(oldflags & VM_LOCKED))
        mm->locked_vm += pages;
    vma_set_flags(mm, v, newflags);
    *out = v;
    return 0;
}

/* apply_vma_lock_flags(): set the lock flags over [start, start+len), which must be
 * mapped from its start; a later hole is -ENOMEM after the VMAs before it changed. */
static int apply_vma_lock_flags(struct mm *mm, uint64_t start, uint64_t len, uint64_t flags)
{
    uint64_t end = start + len;
    if (end < start)
        return -EINVAL;
    if (end == start)
        return 0;
    struct vm_area *vma = mm_vma_lookup(mm, start), *prev;
    if (!vma)
        return -ENOMEM;
    uint64_t nstart = start, tmp = vma_start(vma);
    while (vma && vma_start(vma) < end) {
        if (vma_start(vma) != tmp)
            return -ENOMEM;
        uint64_t newflags = (vma->flags & ~VM_LOCKED_MASK) | flags;
        tmp = mm_min(vma_end(vma), end);
        int err = mlock_fixup(mm, vma, &prev, nstart, tmp, newflags);
        if (err)
            return err;
        tmp = vma_end(prev);
        nstart = tmp;
        vma = vma_next(prev);
    }
    return tmp < end ? -ENOMEM : 0;
}

/* count_mm_mlocked_page_nr(): pages of [start, start+len) already VM_LOCKED. */
static uint64_t locked_pages_in(const struct mm *mm, uint64_t start, uint64_t len)
{
    uint64_t end = UINT64_MAX - len < start ? UINT64_MAX : start + len, count = 0;
    for (struct vm_area *v = vma_of(vma_tree_find_intersection(&mm->vmas, start, end)); v && vma_start(v) < end;
         v = vma_next(v))
        if (v->flags & VM_LOCKED)
            count += mm_min(end, vma_end(v)) - mm_max(start, vma_start(v));
    return count >> PAGE_SHIFT;
}

/* __mm_populate() without ignore_errors, as mlock calls it after locking: the VMAs
 * stay locked whatever happens; __mlock_posix_error_return() turns a fault that
 * would signal (EFAULT: a PROT_NONE area, a file page past EOF, a guard marker, an
 * empty hugetlb pool) into ENOMEM and running out of memory into EAGAIN. */
static long mlock_populate(struct mm *mm, uint64_t start, uint64_t end)
{
    int err = mm_populate(mm, start, end, false);
    return err == -EFAULT ? -ENOMEM : err == -ENOMEM ? -EAGAIN : err;
}

/* do_mlock(). */
static long do_mlock(struct mm *mm, uint64_t start, uint64_t len, uint64_t flags)
{
    if (!can_do_mlock(mm))
        return -EPERM;
    len = PAGE_ALIGN(len + (start & ~PAGE_MASK));
    start &= PAGE_MASK;
    uint64_t limit = mm->cfg.rlimit_memlock >> PAGE_SHIFT, locked = (len >> PAGE_SHIFT) + mm->locked_vm;
    if (locked > limit && !mm->cfg.cap_ipc_lock)
        locked -= locked_pages_in(mm, start, len);
    long err = -ENOMEM;
    if (locked <= limit || mm->cfg.cap_ipc_lock)
        err = apply_vma_lock_flags(mm, start, len, flags);
    if (!err && len)
        err = mlock_populate(mm, start, start + len);
    mm_validate(mm);
    return err;
}

long mm_mlock(struct mm *mm, uint64_t start, uint64_t len, unsigned flags)
{
    if (flags & ~(unsigned)PGD_MLOCK_ONFAULT)
        return -EINVAL;
    return do_mlock(mm, start, len, VM_LOCKED | (flags & PGD_MLOCK_ONFAULT ? VM_LOCKONFAULT : 0));
}

long mm_munlock(struct mm *mm, uint64_t start, uint64_t len)
{
    len = PAGE_ALIGN(len + (start & ~PAGE_MASK));
    start &= PAGE_MASK;
    long err = apply_vma_lock_flags(mm, start, len, 0);
    mm_validate(mm);
    return err;
}

/* apply_mlockall_flags(): MCL_FUTURE goes to def_flags (new mappings), MCL_CURRENT
 * to every VMA; errors on single VMAs are ignored. */
static void apply_mlockall_flags(struct mm *mm, unsigned flags)
{
    uint64_t to_add = 0;
    mm->def_flags &= ~VM_LOCKED_MASK;
    if (flags & PGD_MCL_FUTURE) {
        mm->def_flags |= VM_LOCKED | (flags & PGD_MCL_ONFAULT ? VM_LOCKONFAULT : 0);
        if (!(flags & PGD_MCL_CURRENT))
            return;
    }
    if (flags & PGD_MCL_CURRENT)
        to_add = VM_LOCKED | (flags & PGD_MCL_ONFAULT ? VM_LOCKONFAULT : 0);
    struct vm_area *vma = mm_first_vma(mm), *prev;
    while (vma) {
        uint64_t newflags = (vma->flags & ~VM_LOCKED_MASK) | to_add;
        if (mlock_fixup(mm, vma, &prev, vma_start(vma), vma_end(vma), newflags))
            prev = vma;
        vma = vma_next(prev);
    }
}

long mm_mlockall(struct mm *mm, unsigned flags)
{
    const unsigned all = PGD_MCL_CURRENT | PGD_MCL_FUTURE | PGD_MCL_ONFAULT;
    if (!flags || (flags & ~all) || flags == PGD_MCL_ONFAULT)
        return -EINVAL;
    if (!can_do_mlock(mm))
        return -EPERM;
    long err = -ENOMEM;
    if (!(flags & PGD_MCL_CURRENT) || mm->total_vm <= mm->cfg.rlimit_memlock >> PAGE_SHIFT ||
        mm->cfg.cap_ipc_lock) {
        apply_mlockall_flags(mm, flags);
        err = 0;
    }
    if (!err && (flags & PGD_MCL_CURRENT))
        mm_populate_range(mm, 0, mm->task_size);
    mm_validate(mm);
    return err;
}

long mm_munlockall(struct mm *mm)
{
    apply_mlockall_flags(mm, 0);
    mm_validate(mm);
    return 0;
}

/* ---- msync ------------------------------------------------------------------------------ */

/* msync(2): file data is never dirty in pagoda (host files are read-only), so a sync
 * has nothing to write; what remains are the checks and the walk's errors. */
long mm_msync(struct mm *mm, uint64_t start, uint64_t len, int flags)
{
    if (flags & ~(PGD_MS_ASYNC | PGD_MS_INVALIDATE | PGD_MS_SYNC))
        return -EINVAL;
    if (start & ~PAGE_MASK)
        return -EINVAL;
    if ((flags & PGD_MS_ASYNC) && (flags & PGD_MS_SYNC))
        return -EINVAL;
    uint64_t end = start + PAGE_ALIGN(len);
    if (end < start)
        return -ENOMEM;
    if (end == start)
        return 0;
    int unmapped = 0;
    for (struct vm_area *vma = mm_find_vma(mm, start);; vma = mm_find_vma(mm, start)) {
        if (!vma)
            return -ENOMEM;
        if (start < vma_start(vma)) {
            if (flags == PGD_MS_ASYNC)
                return -ENOMEM;
            start = vma_start(vma);
            if (start >= end)
                return -ENOMEM;
            unmapped = -ENOMEM;
        }
        if ((flags & PGD_MS_INVALIDATE) && (vma->flags & VM_LOCKED))
            return -EBUSY;
        start = vma_end(vma);
        if (start >= end)
            return unmapped;
    }
}

/* ---- mincore ------------------------------------------------------------------------------ */

/* can_do_mincore(): a file the caller could not open for writing reports every page
 * resident (no side channel on its page cache). */
static bool can_do_mincore(const struct vm_area *vma)
{
    const struct mm_file *f = vma->file;
    if (vma_is_anonymous(vma) || !f || f->is_shmem || f->writable)
        return true;
    return f->path && access(f->path, W_OK) == 0;
}

/* mincore_pte_range() for one page: a present (or PROT_NONE) leaf is resident; an
 * empty entry or a guard marker (pte_none_mostly) asks the page cache of a file
 * mapping, so a file page counts while cached even where this mapping has no PTE;
 * anonymous memory without a PTE is not resident (nor would a swap entry be). */
static unsigned char page_resident(struct mm *mm, const struct vm_area *vma, const struct pagecache *c,
                                   uint64_t va)
{
    pte_t e = 0;
    int level;
    if (pt_lookup(&mm->pt, va, &e, &level))
        e = 0;
    if (pte_mapped(e))
        return 1;
    if ((e && !pte_is_guard(e)) || !c)
        return 0;
    pfn_t pfn;
    return pagecache_peek(c, vma->pgoff + ((va - vma_start(vma)) >> PAGE_SHIFT), &pfn);
}

/* do_mincore(): the pages of [addr, ...) inside the VMA at addr; their count, or
 * -ENOMEM when no VMA contains addr. */
static long mincore_vma(struct mm *mm, uint64_t addr, uint64_t pages, unsigned char *vec)
{
    struct vm_area *vma = mm_vma_lookup(mm, addr);
    if (!vma)
        return -ENOMEM;
    uint64_t end = mm_min(vma_end(vma), addr + (pages << PAGE_SHIFT)), n = (end - addr) >> PAGE_SHIFT;
    if (!can_do_mincore(vma)) {
        memset(vec, 1, n);
        return (long)n;
    }
    const struct pagecache *c = NULL; /* hugetlb: the page tables alone (mincore_hugetlb) */
    if (vma->file && !vma_is_anonymous(vma) && !(vma->flags & VM_HUGETLB))
        c = pagecache_find(vma->file, mm->phys);
    for (uint64_t i = 0; i < n; i++)
        vec[i] = page_resident(mm, vma, c, addr + (i << PAGE_SHIFT));
    return (long)n;
}

long mm_mincore(struct mm *mm, uint64_t start, uint64_t len, unsigned char *vec)
{
    if (start & ~PAGE_MASK)
        return -EINVAL;
    if (start + len < start || start + len > mm->task_size)
        return -ENOMEM; /* access_ok() */
    uint64_t pages = (len >> PAGE_SHIFT) + ((len & ~PAGE_MASK) != 0);
    if (pages && !vec)
        return -EFAULT;
    while (pages) {
        long n = mincore_vma(mm, start, pages, vec);
        if (n < 0)
            return n;
        pages -= (uint64_t)n;
        vec += n;
        start += (uint64_t)n << PAGE_SHIFT;
    }
    return 0;
}
