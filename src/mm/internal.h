/*
 * mm/internal.h - what the memory manager's files share and nothing else sees.
 */
#ifndef PAGODA_MM_INTERNAL_H
#define PAGODA_MM_INTERNAL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pagoda/mm.h>

#include "hw/bug.h"

#define PAGE_ALIGN(x) (((x) + PAGE_SIZE - 1) & PAGE_MASK)
#define PMD_SIZE (2ULL << 20)

static inline uint64_t mm_min(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline uint64_t mm_max(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* The VMA stack (VM_STACK is VM_GROWSDOWN on x86-64). */
#define VM_STACK VM_GROWSDOWN

/* Linux's vm_stat_account() categories. */
static inline bool is_exec_mapping(uint64_t f) { return (f & (VM_WRITE | VM_EXEC | VM_STACK)) == VM_EXEC; }
static inline bool is_stack_mapping(uint64_t f) { return (f & VM_STACK) == VM_STACK; }
static inline bool is_data_mapping(uint64_t f) { return (f & (VM_WRITE | VM_SHARED | VM_STACK)) == VM_WRITE; }

static inline bool vma_is_anonymous(const struct vm_area *v) { return !v->file || (v->file->is_dev_zero && !(v->flags & VM_MAYSHARE)); }

/* ---- VMA objects (mm.c) -------------------------------------------------------- */

struct vm_area *vma_alloc(struct mm *mm);
void vma_free(struct vm_area *vma);                       /* drops file, anon_vma, name refs */
struct vm_area *vma_dup(const struct vm_area *src);       /* a copy, not linked */
void vma_set_range(struct vm_area *vma, uint64_t start, uint64_t end, uint64_t pgoff);
void vma_link(struct mm *mm, struct vm_area *vma);        /* insert; map_count++ */
/* Change a linked VMA's flags: the tree's lookup index keeps a copy of them (node.tag)
 * so that mprotect can see a no-op without reading the VMA; mm_check checks it. */
static inline void vma_set_flags(struct mm *mm, struct vm_area *vma, uint64_t flags)
{
    vma->flags = flags;
    vma_tree_set_tag(&mm->vmas, &vma->node, flags);
}
void vma_unlink(struct mm *mm, struct vm_area *vma);      /* remove; map_count-- */
/* The VMA tree holds raw gaps (guard_below/above stay 0): Linux 6.x's allocator
 * applies the stack guard itself, looking at the VMA after the gap it found (see
 * unmapped_area() in mmap.c), which skips every gap inside a guard. */

struct anon_vma *anon_vma_new(struct mm *mm);
struct anon_vma *anon_vma_get(struct anon_vma *av);
void anon_vma_put(struct anon_vma *av);
/* Give vma an anon_vma as Linux's anon_vma_prepare(): borrow a compatible neighbour's. */
void vma_anon_prepare(struct mm *mm, struct vm_area *vma);

struct anon_name *anon_name_new(const char *name);
struct anon_name *anon_name_get(struct anon_name *n);
void anon_name_put(struct anon_name *n);
bool anon_name_eq(const struct anon_name *a, const struct anon_name *b);

/* vm_stat_account(). */
void vm_stat_account(struct mm *mm, uint64_t flags, long npages);
/* security_vm_enough_memory_mm(): may `pages` more be committed?  0 or -ENOMEM.
 * Mode 0 (heuristic) refuses a single charge above RAM + swap; mode 1 never refuses;
 * mode 2 keeps the total under swap + RAM * overcommit_ratio / 100. */
int mm_vm_enough_memory(const struct mm *mm, uint64_t pages);

/* may_expand_vm(): RLIMIT_AS and RLIMIT_DATA. */
bool may_expand_vm(const struct mm *mm, uint64_t flags, uint64_t npages);

/* Split vma at addr; the new VMA is the lower part when new_below.  Bypasses
 * max_map_count (__split_vma).  0 or -errno; *out (may be NULL) gets the new VMA. */
int vma_split_nocheck(struct mm *mm, struct vm_area *vma, uint64_t addr, int new_below, struct vm_area **out);
/* split_vma(): -ENOMEM at the map-count limit. */
int vma_split(struct mm *mm, struct vm_area *vma, uint64_t addr, int new_below, struct vm_area **out);

/* What a new or changed range would be (Linux's struct vma_merge_struct). */
struct vma_merge {
    uint64_t start, end, pgoff, flags;
    struct mm_file *file;
    struct anon_vma *anon_vma;
    struct anon_name *anon_name;
    struct vm_area *prev, *next, *middle;
    bool just_expand; /* brk: merge with prev only */
};

/* vma_merge_new_range(): extend prev and/or next over [start,end) if the attributes
 * allow; returns the VMA that now covers the range, or NULL (nothing changed). */
struct vm_area *vma_merge_new_range(struct mm *mm, struct vma_merge *vmg);

/* vma_modify(): make [start,end) inside vma (middle) a VMA of its own with the new
 * attributes in vmg, merging with prev/next when possible, else splitting.  Returns
 * the VMA covering exactly [start,end) (attributes not yet applied by this call:
 * the caller sets flags etc.), or NULL with *err (-ENOMEM at the map-count limit). */
struct vm_area *vma_modify(struct mm *mm, struct vm_area *prev, struct vm_area *vma, uint64_t start, uint64_t end,
                           const struct vma_merge *attrs, int *err);

/* do_brk_flags(): an anonymous area of `flags` at [addr, addr+len), which must be free:
 * prev is extended when it ends at addr and the attributes allow (brk's just_expand
 * merge), else a new VMA is linked.  Checks RLIMIT_AS/DATA, max_map_count and the commit
 * charge first.  0 or -ENOMEM.  brk and the ELF loader's bss use it. */
int do_brk_flags(struct mm *mm, struct vm_area *prev, uint64_t addr, uint64_t len, uint64_t flags);

/* Unmap [start,end): split edges, zap pages, free VMAs.  do_vmi_align_munmap(). */
int do_munmap_range(struct mm *mm, uint64_t start, uint64_t end);
/* The first half of it (vms_gather_munmap_vmas()): the map-count check and the splits
 * at start and end, so that every VMA in [start,end) lies wholly inside.  The splits
 * stay if a later step fails.  0 or -errno (-ENOMEM, a vm_ops->may_split refusal). */
int munmap_gather(struct mm *mm, uint64_t start, uint64_t end);
/* The VMAs and splits munmap would need, checked without changing anything:
 * -ENOMEM if a three-way split is needed at the map-count limit, else 0. */
int munmap_precheck(const struct mm *mm, uint64_t start, uint64_t end);
/* Pages of VMAs inside [start,end). */
uint64_t count_vma_pages_range(const struct mm *mm, uint64_t start, uint64_t end);

/* Drop page-table entries of [start,end) and the frames they reference, then shoot
 * down their TLB entries (mm_flush_tlb_range). */
void mm_zap_range(struct mm *mm, uint64_t start, uint64_t end);

/* get_unmapped_area (mmap.c). */
long mm_get_unmapped_area(struct mm *mm, struct mm_file *file, uint64_t addr, uint64_t len, uint64_t pgoff,
                          uint64_t flags, uint64_t vm_flags);

/* ---- hugetlbfs (file.c, mmap.c) ----------------------------------------------------- */

/* Huge page sizes (hstates) of x86-64 with pdpe1gb: 2 MiB, the default, and 1 GiB. */
#define HPAGE_SIZE_2M (2ULL << 20)
#define HPAGE_SIZE_1G (1ULL << 30)

/* Linux gives each hstate an internal hugetlbfs mount, whose anonymous device numbers
 * come from the boot order of get_anon_bdev(): on the reference machine (6.18 x86-64)
 * 00:11 for 2 MiB and 00:12 for 1 GiB.  The mount (the superblock) decides a file's
 * huge page size, so pagoda tells hugetlbfs files and their page size by that device. */
#define HUGETLBFS_DEV_MINOR_2M 0x11
#define HUGETLBFS_DEV_MINOR_1G 0x12

/* The huge page size of a hugetlbfs file, 0 for any other file (or NULL). */
uint64_t hugetlbfs_page_size(const struct mm_file *f);
/* hugetlb_file_setup(): the unlinked file behind an anonymous MAP_HUGETLB mapping,
 * "/anon_hugepage (deleted)" on the mount of page size hsize, `size` bytes long, with
 * the next inode number of the counter it shares with shmem (Linux's get_next_ino()).
 * Opened read-write; NULL when out of memory. */
struct mm_file *hugetlbfs_anon_file(struct mm *mm, uint64_t hsize, uint64_t size);
/* The callbacks of a hugetlb VMA (hugetlb_vm_ops): splits only at huge page
 * boundaries (EINVAL otherwise). */
extern const struct vm_operations hugetlb_vm_ops;

/* vma_kernel_pagesize(): the huge page size of a VM_HUGETLB VMA (2 MiB when its file
 * does not say), else PAGE_SIZE. */
static inline uint64_t vma_page_size(const struct vm_area *v)
{
    if (!(v->flags & VM_HUGETLB))
        return PAGE_SIZE;
    uint64_t size = hugetlbfs_page_size(v->file);
    return size ? size : HPAGE_SIZE_2M;
}

/* ---- populating (populate.c) -------------------------------------------------------- */

/* __mm_populate(): fault in [start, end) VMA by VMA as mm/gup.c's
 * populate_vma_page_range() does (private writable areas by write faults, the rest by
 * forced read faults; VM_IO/VM_PFNMAP and lock-on-fault areas skipped).  With
 * ignore_errors a failing VMA is left at its first bad page and the walk goes on;
 * without, 0 or the first -EFAULT (a fault would signal) / -ENOMEM (out of memory). */
int mm_populate(struct mm *mm, uint64_t start, uint64_t end, bool ignore_errors);
/* mm_populate(..., true): after mmap (MAP_POPULATE, VM_LOCKED), brk, mremap, mprotect
 * and mlockall(MCL_CURRENT). */
void mm_populate_range(struct mm *mm, uint64_t start, uint64_t end);
/* faultin_page_range() for MADV_POPULATE_(READ|WRITE): 0, -ENOMEM (a hole),
 * -EINVAL (VM_IO/VM_PFNMAP or an area without the access), -EFAULT (a fault would
 * signal); the pages before a failure stay populated. */
long mm_faultin_range(struct mm *mm, uint64_t start, uint64_t end, bool write);

/* ---- LRU and reclaim effects (reclaim.c) ------------------------------------------- */

/* lru_add_drain(): pages MADV_FREE queued become lazyfree (pglazyfree), and the
 * batch's references go.  MADV_FREE/COLD/PAGEOUT, munmap and exit drain. */
void mm_lru_add_drain(struct phys *phys);
/* MADV_FREE's page walk over [start, end) of an anonymous VMA. */
int mm_lazyfree_range(struct mm *mm, uint64_t start, uint64_t end);
/* MADV_COLD (pageout false) or MADV_PAGEOUT over [start, end) of one VMA; file_ok:
 * the caller may write the file (can_do_file_pageout), else only anonymous pages. */
int mm_cold_range(struct mm *mm, uint64_t start, uint64_t end, bool pageout, bool file_ok);
/* Punch [first, last) (page offsets) out of f: every PTE mapping those cache pages
 * in every mm on phys goes (private copies stay), then the pages leave the cache.
 * 0 or -ENOMEM. */
int mm_punch_hole(struct mm_file *f, struct phys *phys, uint64_t first, uint64_t last);

/* Check the whole address space in test builds. */
static inline void mm_validate(const struct mm *mm)
{
    if (PAGODA_CHECKING)
        mm_check(mm);
}

struct vm_area *vma_of(struct vma_node *n);

/* ---- the kernel half (kmem.c) ---- */
/* Free the kernel half's host memory when the machine goes (its frames go with it). */
void kmem_release_host(struct kmem *k);

#endif
