/*
 * pagoda/mm.h - the memory manager's address spaces: struct mm, VMAs, and the
 * mapping system calls with Linux 6.18's semantics (same addresses, same errno, same
 * /proc/PID/maps).
 *
 * VMAs live in an augmented red-black tree plus a sorted list (vma_tree.h).  Merge
 * and split follow mm/vma.c: flags, file identity, pgoff continuity, anon_vma
 * compatibility, names, vm_ops.  Page tables are reached only through pgtable.h.
 */
#ifndef PAGODA_MM_H
#define PAGODA_MM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pgtable.h"
#include "phys.h"
#include "vma_tree.h"

/* vm_flags, with Linux's values (include/linux/mm.h). */
#define VM_NONE 0x00000000ULL
#define VM_READ 0x00000001ULL
#define VM_WRITE 0x00000002ULL
#define VM_EXEC 0x00000004ULL
#define VM_SHARED 0x00000008ULL
#define VM_MAYREAD 0x00000010ULL
#define VM_MAYWRITE 0x00000020ULL
#define VM_MAYEXEC 0x00000040ULL
#define VM_MAYSHARE 0x00000080ULL
#define VM_GROWSDOWN 0x00000100ULL
#define VM_UFFD_MISSING 0x00000200ULL
#define VM_PFNMAP 0x00000400ULL
#define VM_UFFD_WP 0x00001000ULL
#define VM_LOCKED 0x00002000ULL
#define VM_IO 0x00004000ULL
#define VM_SEQ_READ 0x00008000ULL
#define VM_RAND_READ 0x00010000ULL
#define VM_DONTCOPY 0x00020000ULL
#define VM_DONTEXPAND 0x00040000ULL
#define VM_LOCKONFAULT 0x00080000ULL
#define VM_ACCOUNT 0x00100000ULL
#define VM_NORESERVE 0x00200000ULL
#define VM_HUGETLB 0x00400000ULL
#define VM_SYNC 0x00800000ULL
#define VM_ARCH_1 0x01000000ULL
#define VM_WIPEONFORK 0x02000000ULL
#define VM_DONTDUMP 0x04000000ULL
#define VM_SOFTDIRTY 0x08000000ULL
#define VM_MIXEDMAP 0x10000000ULL
#define VM_HUGEPAGE 0x20000000ULL
#define VM_NOHUGEPAGE 0x40000000ULL
#define VM_MERGEABLE 0x80000000ULL
#define VM_DROPPABLE (1ULL << 40)
#define VM_SEALED (1ULL << 42)

#define VM_ACCESS_FLAGS (VM_READ | VM_WRITE | VM_EXEC)
#define VM_MAY_FLAGS (VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC)
#define VM_SPECIAL (VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP)
#define VM_LOCKED_MASK (VM_LOCKED | VM_LOCKONFAULT)

/* User-space ABI values (x86-64). */
#define PGD_PROT_READ 0x1
#define PGD_PROT_WRITE 0x2
#define PGD_PROT_EXEC 0x4
#define PGD_PROT_SEM 0x8
#define PGD_PROT_GROWSDOWN 0x01000000
#define PGD_PROT_GROWSUP 0x02000000
#define PGD_MAP_SHARED 0x01
#define PGD_MAP_PRIVATE 0x02
#define PGD_MAP_SHARED_VALIDATE 0x03
#define PGD_MAP_DROPPABLE 0x08
#define PGD_MAP_TYPE 0x0f
#define PGD_MAP_FIXED 0x10
#define PGD_MAP_ANONYMOUS 0x20
#define PGD_MAP_32BIT 0x40
#define PGD_MAP_ABOVE4G 0x80
#define PGD_MAP_GROWSDOWN 0x100
#define PGD_MAP_DENYWRITE 0x800
#define PGD_MAP_EXECUTABLE 0x1000
#define PGD_MAP_LOCKED 0x2000
#define PGD_MAP_NORESERVE 0x4000
#define PGD_MAP_POPULATE 0x8000
#define PGD_MAP_NONBLOCK 0x10000
#define PGD_MAP_STACK 0x20000
#define PGD_MAP_HUGETLB 0x40000
#define PGD_MAP_SYNC 0x80000
#define PGD_MAP_FIXED_NOREPLACE 0x100000
#define PGD_MAP_UNINITIALIZED 0x4000000
#define PGD_MAP_HUGE_SHIFT 26
#define PGD_MAP_HUGE_MASK 0x3f
#define PGD_MREMAP_MAYMOVE 1
#define PGD_MREMAP_FIXED 2
#define PGD_MREMAP_DONTUNMAP 4
#define PGD_MLOCK_ONFAULT 1
#define PGD_MCL_CURRENT 1
#define PGD_MCL_FUTURE 2
#define PGD_MCL_ONFAULT 4
#define PGD_MS_ASYNC 1
#define PGD_MS_INVALIDATE 2
#define PGD_MS_SYNC 4

/* Linux x86-64 layout constants. */
#define PGD_TASK_SIZE_4L 0x00007ffffffff000ULL
#define PGD_TASK_SIZE_5L 0x00fffffffffff000ULL
#define PGD_DEFAULT_MAP_WINDOW 0x00007ffffffff000ULL
#define PGD_TASK_UNMAPPED_BASE_4L 0x00002aaaaaaab000ULL /* PAGE_ALIGN(TASK_SIZE/3) */

/*
 * An open file's mappable identity: Linux's struct file as far as mappings care.
 * Mappings merge only with the same mm_file (the same open file description), so
 * dup()ed descriptors share one and a second openat() makes another.
 */
struct mm_file {
    int refcount;
    int host_fd;            /* read-only descriptor on the host file, -1 for shmem */
    uint32_t dev_major, dev_minor;
    uint64_t ino;
    uint64_t size;          /* bytes, at open time */
    char *path;             /* as maps prints it */
    bool readable, writable;/* the access mode the program asked for */
    bool append_only;       /* inode append-only attribute */
    bool noexec;            /* on a noexec mount */
    bool mmappable;         /* has an mmap operation (not a directory or pipe) */
    bool is_dev_zero;       /* /dev/zero: private maps become anonymous, shared ones shmem */
    bool is_shmem;          /* anonymous shared memory object */
    bool thp_aligned;       /* the filesystem's get_unmapped_area aligns large maps to 2 MiB */
    bool sync_capable;      /* FOP_MMAP_SYNC (ext4, xfs): MAP_SYNC passes validation, and the
                               filesystem's mmap then refuses VM_SYNC on non-DAX files */
    bool regular;           /* a regular file or block device (offsets up to LLONG_MAX) */
};

/* anon_vma: the reverse-map root of anonymous pages.  Merges compare identities.
 * A fork child's anon_vma names the parent VMA's as its parent (and holds a reference
 * on it), so the pages a parent made, which every descendant may map after
 * copy-on-write fork, are found from the page's anon_vma down (rmap_walk). */
struct anon_vma {
    int refcount;
    uint64_t id;
    struct anon_vma *parent; /* the anon_vma this one was forked from, NULL for a root */
};

/* Anonymous VMA names (PR_SET_VMA_ANON_NAME), shared by reference like Linux's. */
struct anon_name {
    int refcount;
    char name[];
};

struct vm_area;

/* A page fault handed to a VMA's own ->fault or ->page_mkwrite (struct vm_fault). */
struct vm_fault {
    uint64_t address; /* the faulting page's address */
    uint64_t pgoff;   /* its page offset in the VMA's object: vma->pgoff + page index */
    bool write;       /* a write access */
    pfn_t pfn;        /* ->fault's answer: the frame to map, with one reference that the
                         mapping takes over (unmapping drops it; keep a reference of your
                         own to keep the frame, as a page cache does) */
};

/* What ->fault and ->page_mkwrite return (Linux's vm_fault_t bits). */
#define VM_FAULT_OK 0x000
#define VM_FAULT_OOM 0x001     /* out of memory: the task is killed */
#define VM_FAULT_SIGBUS 0x002
#define VM_FAULT_SIGSEGV 0x040

/* Callbacks a VMA may carry (vm_operations_struct).  Any may be NULL.  A program
 * embedding libpagoda gives a mapping its own by mm_install_special(..., ops). */
struct vm_operations {
    const char *(*name)(struct vm_area *vma); /* maps name of a special mapping */
    void (*open)(struct vm_area *vma);        /* a copy was made (split, fork) */
    void (*close)(struct vm_area *vma);       /* forbids merges that would delete the VMA */
    int (*may_split)(struct vm_area *vma, uint64_t addr); /* -errno forbids the split */
    int (*mremap)(struct vm_area *vma);
    /* A missing page: supply vmf->pfn.  The fault handler maps it (a private write maps
     * an anonymous copy instead and drops the reference); VM_FAULT_* bits otherwise. */
    int (*fault)(struct vm_area *vma, struct vm_fault *vmf);
    /* The first write to a page of a shared writable mapping that has this callback is
     * announced here (the page was mapped read-only for it, write-notify): VM_FAULT_OK
     * makes it writable and dirty. */
    int (*page_mkwrite)(struct vm_area *vma, struct vm_fault *vmf);
};

struct mm;

struct vm_area {
    struct vma_node node;   /* node.start, node.end: [vm_start, vm_end) */
    uint64_t flags;         /* VM_* */
    uint64_t pgoff;         /* file page offset; for anon, start >> 12 when created */
    struct mm_file *file;
    struct anon_vma *anon_vma;
    int anon_chain;         /* anon_vma_chain links; > 1 marks a fork child */
    const struct vm_operations *ops;
    struct anon_name *anon_name;
    struct mm *mm;
    void *private_data;
};

static inline uint64_t vma_start(const struct vm_area *v) { return v->node.start; }
static inline uint64_t vma_end(const struct vm_area *v) { return v->node.end; }
static inline uint64_t vma_pages(const struct vm_area *v) { return (v->node.end - v->node.start) >> PAGE_SHIFT; }

struct mm_config {
    int paging_levels;         /* 4 or 5 */
    uint64_t stack_rlimit;     /* RLIMIT_STACK, bytes (default 8 MiB; UINT64_MAX unlimited) */
    uint64_t rlimit_as;        /* RLIMIT_AS (default unlimited) */
    uint64_t rlimit_data;      /* RLIMIT_DATA (default unlimited) */
    uint64_t rlimit_memlock;   /* RLIMIT_MEMLOCK (default 8 MiB, as Debian sets it) */
    bool cap_ipc_lock;         /* may lock beyond the limit */
    uint64_t mmap_min_addr;    /* hints are raised to this (65536) */
    uint64_t dac_mmap_min_addr;/* MAP_FIXED below this is EPERM (sysctl, 4096) */
    int max_map_count;         /* vm.max_map_count (65530) */
    uint64_t stack_guard_gap;  /* bytes (256 pages) */
    int overcommit;            /* vm.overcommit_memory 0, 1, 2 */
    bool legacy_layout;        /* bottom-up allocator (ADDR_COMPAT_LAYOUT) */
    bool randomize;            /* address-space randomization (off by default, as setarch -R) */
    uint64_t seed;             /* its random source: the same seed, the same layout */
    bool thp_enabled;          /* CONFIG_TRANSPARENT_HUGEPAGE: large anon maps 2 MiB aligned */
    bool anon_vma_names;       /* CONFIG_ANON_VMA_NAME (off on the reference machine: EINVAL) */
    int hugetlb_pages_2m;      /* hugetlb pool sizes (0 on the reference machine) */
    uint64_t swap_pages;       /* total swap, for the overcommit heuristic */
    int overcommit_ratio;      /* vm.overcommit_ratio (50), for overcommit mode 2 */
    int hugetlb_pages_1g;
    int thp_policy;            /* transparent_hugepage/enabled: 0 never, 1 madvise, 2 always */
};

/* Resident pages of an mm by kind (Linux's MM_* rss counters, mm_rss_stat). */
enum mm_rss_kind { MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES, MM_NR_RSS };

struct mm {
    struct vma_tree vmas;
    struct pgtable pt;
    struct phys *phys;
    struct mm_config cfg;
    uint64_t task_size;
    uint64_t mmap_base;
    uint64_t mmap_legacy_base; /* where the bottom-up allocator starts */
    uint64_t start_brk, brk;
    uint64_t start_stack;      /* address inside the [stack] VMA */
    uint64_t start_code, end_code, start_data, end_data;
    int map_count;
    uint64_t total_vm, locked_vm, data_vm, exec_vm, stack_vm; /* pages */
    uint64_t def_flags;        /* VM_LOCKED/VM_LOCKONFAULT after mlockall(MCL_FUTURE) */
    uint64_t anon_vma_ids;     /* counter naming new anon_vmas */
    uint64_t shmem_inodes;     /* counter for shared-anonymous inode numbers */
    int users;
    int64_t rss[MM_NR_RSS];    /* pages mapped, by kind: add_mm_counter() */
    uint64_t hiwater_rss;      /* VmHWM: the largest rss seen (pages) */
    uint64_t hiwater_vm;       /* VmPeak: the largest total_vm seen (pages) */
    bool huge_zero_page;       /* MMF_HUGE_ZERO_PAGE: holds the huge zero page */
    /* flush_tlb_range(): called after PTEs of [start, end) were cleared, pointed
     * elsewhere or lost rights, so that no CPU keeps a stale translation.  The kernel
     * sets it (the memory manager knows no CPUs); NULL: nothing is cached. */
    void (*tlb_flush)(struct mm *mm, uint64_t start, uint64_t end, void *ctx);
    void *tlb_flush_ctx;
    struct mm *machine_next, *machine_prev; /* the machine's list of address spaces */
};

/* flush_tlb_range(mm, start, end): every memory-manager path that clears a PTE, moves
 * it or takes a right away calls this after the change. */
static inline void mm_flush_tlb_range(struct mm *mm, uint64_t start, uint64_t end)
{
    if (mm->tlb_flush && end > start)
        mm->tlb_flush(mm, start, end, mm->tlb_flush_ctx);
}

/* ---- machine-wide accounting (src/mm/machine.c) ----------------------------------- */

/* /proc/vmstat's event counters, in the order /proc/vmstat prints them (6.18). */
#define MM_VM_EVENTS(X)                                                                    \
    X(PGALLOC_NORMAL, "pgalloc_normal")                                                    \
    X(PGFREE, "pgfree")                                                                    \
    X(PGLAZYFREE, "pglazyfree")                                                            \
    X(PGFAULT, "pgfault")                                                                  \
    X(PGMAJFAULT, "pgmajfault")                                                            \
    X(PGLAZYFREED, "pglazyfreed")                                                          \
    X(PGREUSE, "pgreuse")                                                                  \
    X(HTLB_BUDDY_ALLOC_SUCCESS, "htlb_buddy_alloc_success")                                \
    X(HTLB_BUDDY_ALLOC_FAIL, "htlb_buddy_alloc_fail")                                      \
    X(THP_FAULT_ALLOC, "thp_fault_alloc")                                                  \
    X(THP_FAULT_FALLBACK, "thp_fault_fallback")                                            \
    X(THP_SPLIT_PAGE, "thp_split_page")                                                    \
    X(THP_DEFERRED_SPLIT_PAGE, "thp_deferred_split_page")                                  \
    X(THP_SPLIT_PMD, "thp_split_pmd")                                                      \
    X(THP_SPLIT_PUD, "thp_split_pud")                                                      \
    X(THP_ZERO_PAGE_ALLOC, "thp_zero_page_alloc")                                          \
    X(THP_ZERO_PAGE_ALLOC_FAILED, "thp_zero_page_alloc_failed")

#define MM_VM_EVENT_ENUM(id, name) VM_##id,
enum vm_event { MM_VM_EVENTS(MM_VM_EVENT_ENUM) VM_NR_EVENTS };
#undef MM_VM_EVENT_ENUM

/* The memory manager's state for one machine (one struct phys), shared by every mm on
 * it: event counters now; the zero page, page caches and the kernel half may move here. */
struct kmem;
#define MM_LRU_BATCH 31 /* PAGEVEC_SIZE: pages a per-CPU folio batch holds */
struct mm_machine {
    uint64_t events[VM_NR_EVENTS];
    struct mm *mms; /* every address space on the machine (mm->machine_next) */
    struct kmem *kmem; /* the kernel half (src/mm/kmem.c, pagoda/kmem.h); NULL: none */
    /* The huge zero page (src/mm/huge_memory.c): allocated on first use, freed when no
     * mm holds it any more (as the shrinker frees it). */
    pfn_t huge_zero_pfn;
    uint64_t huge_zero_users;
    /* The hugetlb pools (hstates), [0] 2 MiB and [1] 1 GiB pages, reserved at boot as
     * contiguous frames outside managed memory (src/mm/hugetlb.c). */
    struct mm_hstate {
        uint64_t base_pfn;     /* first frame of the pool */
        uint64_t nr;           /* HugePages_Total */
        uint64_t free;         /* HugePages_Free */
        uint64_t resv;         /* HugePages_Rsvd */
    } hstate[2];
    /* The lru_lazyfree folio batch (one CPU's): pages MADV_FREE marked, each with a
     * reference, made lazyfree when the batch fills or lru_add_drain() runs. */
    pfn_t lazyfree_batch[MM_LRU_BATCH];
    unsigned lazyfree_count;
};

/* The machine state of phys, created on first use (and freed by phys_destroy). */
struct mm_machine *mm_machine_of(struct phys *phys);

/* count_vm_events(): add n to a machine-wide event counter. */
static inline void count_vm_events(struct phys *phys, enum vm_event e, uint64_t n)
{
    mm_machine_of(phys)->events[e] += n;
}

/* The reverse map (src/mm/rmap.c): call fn for every PTE on the machine that maps the
 * anonymous frame pfn - in the VMAs whose anon_vma is the frame's (page->mapping) or
 * descends from it by fork, at the address its page->index gives in each.  fn returns
 * 0 to go on.  Returns the number of PTEs found (or fn's non-zero value).  Linux's
 * rmap_walk_anon(), as reclaim and page migration use it. */
typedef int (*rmap_fn)(void *arg, struct vm_area *vma, uint64_t addr, pte_t *pte);
long rmap_walk_anon(struct phys *phys, pfn_t pfn, rmap_fn fn, void *arg);

/* /proc/vmstat's name of an event. */
const char *vm_event_name(enum vm_event e);

/* add_mm_counter(): pages of one kind mapped (n > 0) or unmapped (n < 0) in mm; keeps
 * the high-water mark. */
static inline void mm_rss_add(struct mm *mm, enum mm_rss_kind kind, long n)
{
    mm->rss[kind] += n;
    uint64_t rss = (uint64_t)(mm->rss[MM_FILEPAGES] + mm->rss[MM_ANONPAGES] + mm->rss[MM_SHMEMPAGES]);
    if (rss > mm->hiwater_rss)
        mm->hiwater_rss = rss;
}

void mm_config_default(struct mm_config *cfg);

/* A new, empty address space.  0, -EINVAL or -ENOMEM. */
int mm_create(struct phys *phys, const struct mm_config *cfg, struct mm **out);
/* Unmap everything, free the page tables and the mm. */
void mm_destroy(struct mm *mm);
/* fork()'s copy of an address space (Linux's dup_mmap): every VMA but VM_DONTCOPY
 * ones, each anonymous area under a new anon_vma chained to the parent's, mlock flags
 * and MCL_FUTURE dropped, VM_WIPEONFORK areas empty; page tables copied where a fault
 * could not rebuild them, private writable pages write-protected in both (COW).
 * 0, or -ENOMEM (also when an accountable area cannot be charged again). */
int mm_dup(struct mm *parent, struct mm **out);

/* The mapping system calls.  Each returns a non-negative result or -errno exactly as
 * Linux would; `file` is NULL for anonymous maps (the caller resolved the fd). */
long mm_mmap(struct mm *mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, struct mm_file *file,
             uint64_t pgoff);
long mm_munmap(struct mm *mm, uint64_t addr, uint64_t len);
long mm_mprotect(struct mm *mm, uint64_t start, uint64_t len, uint64_t prot);
long mm_mremap(struct mm *mm, uint64_t addr, uint64_t old_len, uint64_t new_len, uint64_t flags, uint64_t new_addr);
long mm_brk(struct mm *mm, uint64_t brk);
long mm_madvise(struct mm *mm, uint64_t start, uint64_t len, int advice);
long mm_mlock(struct mm *mm, uint64_t start, uint64_t len, unsigned flags);
long mm_munlock(struct mm *mm, uint64_t start, uint64_t len);
long mm_mlockall(struct mm *mm, unsigned flags);
long mm_munlockall(struct mm *mm);
long mm_msync(struct mm *mm, uint64_t start, uint64_t len, int flags);
long mm_mincore(struct mm *mm, uint64_t start, uint64_t len, unsigned char *vec);
long mm_set_anon_name(struct mm *mm, uint64_t start, uint64_t len, const char *name);

/* Linux's find_vma(): the first VMA ending above addr, or NULL. */
struct vm_area *mm_find_vma(const struct mm *mm, uint64_t addr);
/* The VMA containing addr, or NULL. */
struct vm_area *mm_vma_lookup(const struct mm *mm, uint64_t addr);
static inline struct vm_area *vma_next(const struct vm_area *v)
{
    return v->node.next ? vma_tree_entry(v->node.next, struct vm_area, node) : NULL;
}
static inline struct vm_area *vma_prev(const struct vm_area *v)
{
    return v->node.prev ? vma_tree_entry(v->node.prev, struct vm_area, node) : NULL;
}
static inline struct vm_area *mm_first_vma(const struct mm *mm)
{
    return mm->vmas.first ? vma_tree_entry(mm->vmas.first, struct vm_area, node) : NULL;
}

/* Place a special mapping ([vdso], [vvar] ...) with fixed flags; 0 or -errno. */
int mm_install_special(struct mm *mm, uint64_t addr, uint64_t len, uint64_t vm_flags, const struct vm_operations *ops);

/* Host files. */
struct mm_file *mm_file_open(const char *path, int open_flags, int *err);
/* The same, judging permissions as user uid / group gid would be judged (root: all
 * access; otherwise the owner, group or other bits of the mode).  *err gets -errno. */
struct mm_file *mm_file_open_as(const char *path, int open_flags, long uid, long gid, int *err);
/* A file identity with no host descriptor behind it (shmem, memfd, a listed file that
 * cannot be opened, a pipe): readable and mappable, refcount 1; NULL without memory. */
struct mm_file *mm_file_unbacked(const char *path, unsigned maj, unsigned min, uint64_t ino);
struct mm_file *mm_file_get(struct mm_file *f);
void mm_file_put(struct mm_file *f);

/* /proc/PID/maps, byte for byte. */
void mm_print_maps(const struct mm *mm, FILE *out);

/* Give an empty mm the layout a maps listing describes (see the script language's
 * load-maps).  0, or -EINVAL with a message "line N: ..." in err. */
int mm_load_maps(struct mm *mm, const char *text, char *err, size_t errlen);

/* Every invariant of the address space (tree, list, map_count, vm counters, no
 * overlap, flags consistent); aborts naming the broken one. */
void mm_check(const struct mm *mm);

/* Name shown in maps for a VMA, or NULL for none (file path handled separately). */
const char *mm_vma_special_name(const struct mm *mm, const struct vm_area *vma);

/* ---- exec support (src/mm/exec.c) ---- */
/* What execve (src/kernel/exec.c) needs from the memory manager beyond the mapping
 * calls: the x86-64 layout of a new image, its randomization, the initial stack VMA,
 * vm_brk_flags()-style bss areas, the vDSO and the mm's image fields. */

#define MM_EXEC_STACK_TOP 0x00007ffffffff000ULL      /* STACK_TOP (DEFAULT_MAP_WINDOW) */
#define MM_EXEC_ELF_ET_DYN_BASE 0x0000555555554aaaULL /* DEFAULT_MAP_WINDOW / 3 * 2 */
#define MM_EXEC_STACK_EXPAND (128ULL << 10)           /* setup_arg_pages' extra stack */

/* PT_GNU_STACK's request (EXSTACK_*): none, non-executable, executable. */
enum mm_exec_stack { MM_EXSTACK_DEFAULT, MM_EXSTACK_DISABLE_X, MM_EXSTACK_ENABLE_X };

/* One execve's random source: a splitmix64 stream over the seed, drawn in the order
 * Linux draws (mmap base, stack top, stack alignment, PIE base, auxv alignment, brk).
 * Every draw is 0 when randomization is off, so the same seed gives the same layout. */
struct mm_exec_rng {
    uint64_t state;
    bool on;
};
void mm_exec_rng_init(struct mm_exec_rng *r, uint64_t seed, bool on);
uint64_t mm_exec_random(struct mm_exec_rng *r);
/* arch_mmap_rnd(): 28 bits of pages (mmap_rnd_bits), as a byte offset. */
uint64_t mm_exec_mmap_rnd(struct mm_exec_rng *r);
/* arch_align_stack(): up to 8 KiB lower when randomizing, 16-byte aligned. */
uint64_t mm_exec_align_stack(struct mm_exec_rng *r, uint64_t sp);
/* The new stack's top: randomize_stack_top(STACK_TOP) (22 bits of pages), then
 * setup_arg_pages' arch_align_stack() and PAGE_ALIGN(). */
uint64_t mm_exec_stack_top(struct mm_exec_rng *r);
/* arch_randomize_brk(): a page in [brk, brk + 1 GiB). */
uint64_t mm_exec_randomize_brk(struct mm_exec_rng *r, uint64_t brk);

/* arch_pick_mmap_layout() for a new image: mmap_base below the stack gap (rnd = the
 * mmap_rnd offset, 0 when not randomizing), the legacy base, and the allocator's
 * direction (legacy = ADDR_COMPAT_LAYOUT or the sysctl). */
void mm_exec_pick_mmap_layout(struct mm *mm, bool legacy, bool randomizing, uint64_t rnd);

/* The initial [stack] VMA, already at its final place: the argument pages (arg_size
 * bytes, page multiple, below stack_top) with VM_STACK_FLAGS adjusted by PT_GNU_STACK,
 * then setup_arg_pages' expansion by 128 KiB (capped by RLIMIT_STACK).  Sets
 * mm->start_stack to stack_top - 8 (the caller refines it).  0, -ENOMEM (no room below
 * stack_top), -EFAULT (the expansion is refused, as setup_arg_pages reports it). */
int mm_exec_setup_stack(struct mm *mm, uint64_t stack_top, uint64_t arg_size, enum mm_exec_stack exstack);
/* find_extend_vma() for the initial stack pointer: grow [stack] down to addr's page.
 * 0 or -EFAULT. */
int mm_exec_extend_stack(struct mm *mm, uint64_t addr);
/* vm_brk_flags(addr, len, VM_EXEC or 0): what was mapped there is unmapped, then an
 * anonymous rw (+x) VM_ACCOUNT area joins an adjacent identical one or is made.  0 or
 * -errno (ENOMEM, EPERM, EAGAIN). */
int mm_exec_brk_flags(struct mm *mm, uint64_t addr, uint64_t len, uint64_t vm_exec);
/* The kernel wrote user memory at addr (padzero, argument strings): a private
 * writable VMA there gets its anon_vma.  Writes to other VMAs fail silently. */
void mm_exec_kernel_write(struct mm *mm, uint64_t addr);
/* map_vdso(): [vvar] (4 pages), [vvar_vclock] (2) and [vdso] (2) placed together by
 * get_unmapped_area.  The [vdso] text address, or -errno. */
long mm_exec_install_vdso(struct mm *mm);
/* MMAP_PAGE_ZERO: page 0 mapped read+exec (SVr4 compatibility).  0 or -errno. */
int mm_exec_map_page_zero(struct mm *mm);

/* The image's places in the mm (mm->start_code ... start_stack, start_brk == brk). */
struct mm_exec_image {
    uint64_t start_code, end_code, start_data, end_data;
    uint64_t brk, start_stack;
};
void mm_exec_set_image(struct mm *mm, const struct mm_exec_image *img);

/* ---- demand paging (src/mm/fault.c, src/mm/pagecache.c) ---------------------------- */

/* Signals and si_codes of faults, with the x86-64 Linux values (no <signal.h> here:
 * its si_addr macro would rename struct trap_frame's field). */
#define PGD_SIGBUS 7
#define PGD_SIGKILL 9
#define PGD_SIGSEGV 11
#define PGD_SEGV_MAPERR 1
#define PGD_SEGV_ACCERR 2
#define PGD_SEGV_PKUERR 4
#define PGD_BUS_ADRERR 2
#define PGD_SI_KERNEL 0x80

/* The #PF handler's memory-manager half (do_user_addr_fault + handle_mm_fault): find
 * the VMA of addr (growing a VM_GROWSDOWN stack, with the guard gap), check the access
 * (error_code: the x86 PF_* bits), build missing page-table levels and resolve the
 * PTE: zero page / zeroed frame for anonymous memory, page-cache frames for files and
 * shmem (fault-around 64 KiB for reads), copy-on-write or reuse for writes to
 * read-only private pages.  Returns 0 when the access may be retried, else the signal
 * (SIGSEGV, SIGBUS; SIGKILL when out of memory) with *signo and *si_code set
 * (SEGV_MAPERR, SEGV_ACCERR, SEGV_PKUERR, BUS_ADRERR; 0 with 0 on success). */
int mm_handle_fault(struct mm *mm, uint64_t addr, unsigned error_code, int *signo, int *si_code);

/* A file's last reference is going: drop it from its page cache, freeing the cached
 * frames when no other open file shares the cache.  mm_file_put calls it. */
void pagecache_release(struct mm_file *f);

/* Reserve frame 0 of a new machine as its shared zero page (outside managed memory,
 * so leak audits do not see it; without this call the zero page is allocated on
 * first use).  0, or -EINVAL when frame 0 is no longer free. */
int mm_zero_page_reserve(struct phys *phys);

/* Reserve the hugetlb pools of a new machine (config hugepages=N, hugepages_1g=N):
 * as many of the pages as fit, each a contiguous, aligned run of frames outside
 * managed memory (1 GiB pages exceed the buddy allocator's largest order).  Call at
 * boot, before processes exist.  mm_machine_of(phys)->hstate[].nr says how many
 * pages of each size were made. */
void mm_hugetlb_pool_init(struct phys *phys, uint64_t pages_2m, uint64_t pages_1g);

/* The machine is going: forget its zero page (freeing it unless reserved) and free
 * every page cache left on it.  Call before phys_destroy. */
void mm_fault_release_phys(struct phys *phys);

#endif
