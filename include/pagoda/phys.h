/*
 * pagoda/phys.h - simulated physical memory: RAM, frames, struct page, buddy allocator.
 *
 * RAM is one host mapping reserved with MAP_NORESERVE, so a 64 GiB machine costs the
 * host only the frames that are actually touched.  The struct page array is reserved
 * the same way; an all-zero struct page is a valid "inside a free block" state, so
 * booting touches none of it (see free_list below).
 *
 * This is the machine layer: nothing here knows about processes or VMAs.
 */
#ifndef PAGODA_PHYS_H
#define PAGODA_PHYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ULL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))

/* Buddy orders 0..PHYS_MAX_ORDER: 4 KiB .. 4 MiB blocks, as Linux's MAX_PAGE_ORDER 10. */
#define PHYS_MAX_ORDER 10
#define PHYS_NR_ORDERS (PHYS_MAX_ORDER + 1)

/* Default and limits of simulated RAM. */
#define PHYS_DEFAULT_RAM (256ULL << 20)
#define PHYS_MIN_RAM (4ULL << 20)
#define PHYS_MAX_RAM (1ULL << 40) /* 1 TiB; at least 64 GiB is required */

/* Byte written over every freed frame when poisoning is on (Linux's PAGE_POISON). */
#define PHYS_POISON_BYTE 0xaa

typedef uint64_t pfn_t;
typedef uint64_t paddr_t;

/* Doubly linked list node stored inside struct page (free lists, LRU lists). */
struct page_list {
    struct page_list *next, *prev;
};

/* struct page flags.  The machine layer uses BUDDY, HEAD, TAIL, PGTABLE and RESERVED;
 * the rest are for the memory manager above. */
enum page_flag {
    PG_BUDDY = 1u << 0,    /* head of a free buddy block; ->order is its order */
    PG_HEAD = 1u << 1,     /* head of an allocated compound (order > 0) block */
    PG_TAIL = 1u << 2,     /* tail frame of a compound block; ->private = head pfn */
    PG_PGTABLE = 1u << 3,  /* frame holds a page table; ->private = non-zero entries */
    PG_RESERVED = 1u << 4, /* never handed out */
    PG_LRU = 1u << 5,
    PG_ACTIVE = 1u << 6,
    PG_REFERENCED = 1u << 7,
    PG_DIRTY = 1u << 8,
    PG_UPTODATE = 1u << 9,
    PG_ANON = 1u << 10,
    PG_SWAPBACKED = 1u << 11,
    PG_LOCKED = 1u << 12,
    PG_SLAB = 1u << 13,
    PG_ZERO = 1u << 14, /* the shared zero page */
};

/*
 * One per frame, at most 64 bytes (checked by a static assertion in phys.c).
 * Fields besides flags/order/refcount are owned by whoever allocated the frame.
 */
struct page {
    uint32_t flags;
    int32_t refcount; /* 0 while free; phys_alloc sets the head's to 1 */
    int32_t mapcount; /* leaf PTEs mapping this frame (kept by the memory manager) */
    uint8_t order;    /* buddy order when PG_BUDDY, compound order when PG_HEAD */
    uint8_t unused_[3];
    struct page_list lru; /* free-list links while PG_BUDDY; LRU links later */
    void *mapping;        /* anon_vma or page-cache owner */
    uint64_t index;       /* page offset within mapping */
    uint64_t private;     /* owner's word; see PG_TAIL and PG_PGTABLE */
};

enum phys_wmark { PHYS_WMARK_MIN, PHYS_WMARK_LOW, PHYS_WMARK_HIGH, PHYS_NR_WMARKS };

struct phys_config {
    uint64_t ram_bytes; /* rounded down to whole frames; 0 means PHYS_DEFAULT_RAM */
    bool poison;        /* fill freed frames with PHYS_POISON_BYTE, verify on allocation */
};

struct phys_stats {
    uint64_t allocs, frees;       /* calls that succeeded */
    uint64_t alloc_failures;      /* calls that returned -ENOMEM */
    uint64_t splits, merges;      /* buddy block splits and coalesces */
};

/*
 * The machine's RAM.  Fields are public so that phys_host()/phys_page() inline to a
 * single add; treat them as read-only outside phys.c.
 */
struct phys {
    uint8_t *ram;           /* host base of simulated RAM; pa 0 is ram[0] */
    uint64_t ram_bytes;     /* nframes * PAGE_SIZE */
    uint64_t nframes;       /* frames of RAM */
    struct page *pages;     /* nframes entries */
    uint64_t free_frames;   /* frames currently on free lists */
    uint64_t managed_frames;/* frames handed to the allocator (nframes - reserved) */
    uint64_t nr_free[PHYS_NR_ORDERS];           /* free blocks per order */
    /* Circular, head sentinel.  Whole order-10 blocks never touched since boot are
     * not linked (that would commit their struct pages): they form a lazy range
     * counted in nr_free[10] at the list's logical tail.  Read nr_free, never walk
     * the lists outside phys.c. */
    struct page_list free_list[PHYS_NR_ORDERS];
    uint64_t wmark[PHYS_NR_WMARKS];             /* in frames */
    bool poison;
    struct phys_stats stats;
    /* The owner's machine-wide state (the memory manager's struct mm_machine): hw never
     * looks inside; phys_destroy calls owner_release(owner_state) when it is set. */
    void *owner_state;
    void (*owner_release)(void *state);
};

/* Allocation flags. */
enum {
    PHYS_ZERO = 1u << 0,     /* zero the block's contents */
    PHYS_COMPOUND = 1u << 1, /* order > 0: mark head PG_HEAD and tails PG_TAIL */
};

/* Create a machine's RAM.  Returns NULL with errno set (EINVAL bad size, ENOMEM). */
struct phys *phys_create(const struct phys_config *cfg);
/* Release the host memory.  Frames still allocated are simply dropped. */
void phys_destroy(struct phys *phys);

/* Allocate 2^order contiguous frames aligned to their size.  Returns 0 and stores
 * the first pfn, or -ENOMEM (never aborts).  The head's refcount becomes 1. */
int phys_alloc(struct phys *phys, unsigned order, unsigned flags, pfn_t *out);
/* Return a block obtained from phys_alloc with the same order. */
void phys_free(struct phys *phys, pfn_t pfn, unsigned order);

/* Is the free frame count at or above the given watermark (after taking 2^order)? */
bool phys_watermark_ok(const struct phys *phys, enum phys_wmark mark, unsigned order);

/* Mark frames reserved (never allocated); only before any allocation. -EINVAL if any
 * frame in the range is not currently free. */
int phys_reserve(struct phys *phys, pfn_t first, uint64_t count);

/* Check every allocator invariant; aborts with a message naming the broken one. */
void phys_check(const struct phys *phys);

static inline bool phys_pa_valid(const struct phys *phys, paddr_t pa)
{
    return pa < phys->ram_bytes;
}

/* Host pointer for a physical address.  The caller guarantees pa is valid. */
static inline void *phys_host(const struct phys *phys, paddr_t pa)
{
    return phys->ram + pa;
}

static inline struct page *phys_page(const struct phys *phys, pfn_t pfn)
{
    return &phys->pages[pfn];
}

static inline pfn_t phys_page_pfn(const struct phys *phys, const struct page *page)
{
    return (pfn_t)(page - phys->pages);
}

static inline uint64_t phys_free_count(const struct phys *phys)
{
    return phys->free_frames;
}

#endif
