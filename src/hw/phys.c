/*
 * hw/phys.c - simulated RAM and its buddy allocator.
 *
 * Layout.  RAM and the struct page array are host mappings made with MAP_NORESERVE
 * (and MADV_NOHUGEPAGE), so the host commits only what is touched.
 *
 * Free blocks.  A free block of order k is 2^k frames aligned to 2^k.  Its head frame
 * has PG_BUDDY, ->order = k and ->lru linked into free_list[k]; every other frame of
 * the block is all zero, except PG_POISONED (below).  Lists are circular with a
 * sentinel in struct phys; allocation takes the block at the head and freed blocks
 * are pushed at the head (LIFO, like Linux's hot pages).
 *
 * Untouched boot blocks.  Booting must not touch 16M struct pages (64 GiB) or even
 * the heads of its 16K order-10 blocks (that alone commits 64 MiB).  So the whole
 * order-PHYS_MAX_ORDER blocks of boot RAM are not linked at all: they are the range
 * [boot_next, boot_end), logically the TAIL of free_list[PHYS_MAX_ORDER] in ascending
 * order, and counted in nr_free[] and free_frames.  When the real list is empty an
 * order-10 "pop" takes boot_next.  Since a block is only ever pushed back after having
 * been taken, the logical list order is exactly that of a list built at boot.
 * Consequence: allocating order 0 repeatedly after boot returns 0, 1, 2, 3, ... (each
 * split hands out the lower half and pushes the upper half), when RAM is a multiple of
 * 4 MiB.  With a ragged end (e.g. 4 MiB + 12 KiB: blocks 1024 + 2 + 1 frames) the
 * smallest fitting block is taken first, as in any buddy allocator.
 *
 * Poisoning (phys->poison).  Freeing fills the block with PHYS_POISON_BYTE and sets
 * PG_POISONED on each frame; allocation verifies every poisoned frame and clears the
 * flag.  Frames never freed since boot carry no flag and are not checked.
 *
 * Invariant checks.  phys_check is O(free blocks).  In PAGODA_CHECKS builds it runs
 * after operations with an amortized budget: every operation earns
 * CHECK_BUDGET_PER_OP block visits and a full check runs once the budget covers the
 * current number of linked free blocks (so it runs after every operation while that
 * number is small, and stays linear overall when it is large).
 */
#include <pagoda/phys.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hw/bug.h"

_Static_assert(sizeof(struct page) <= 64, "struct page must fit in 64 bytes");
/* reset_freed_pages compares whole struct pages with memcmp: no padding allowed. */
_Static_assert(sizeof(struct page) == 56, "struct page has no padding bytes");

/* Internal flag: the frame was filled with PHYS_POISON_BYTE when freed and has not
 * been handed out since.  Kept above the public flags; only phys.c uses it. */
#define PG_POISONED (1u << 30)
_Static_assert(PG_POISONED > PG_ZERO, "PG_POISONED must not collide with public flags");

#define MAX_BLOCK_FRAMES (1ULL << PHYS_MAX_ORDER)
#define CHECK_BUDGET_PER_OP 32
#define MIN_FREE_KBYTES_FLOOR 128
#define MIN_FREE_KBYTES_CEIL 262144
#define WATERMARK_SCALE_FACTOR 10 /* Linux's vm.watermark_scale_factor default */

/* struct phys plus the state users need not see.  phys_create hands out &impl->phys;
 * it is the first member, so the pointer converts back. */
struct phys_impl {
    struct phys phys;
    pfn_t boot_next;       /* first untouched boot block (order PHYS_MAX_ORDER) */
    pfn_t boot_end;        /* end of the untouched boot range */
    uint64_t check_budget; /* PAGODA_CHECKS: block visits earned since the last check */
};

static struct phys_impl *impl_of(struct phys *phys)
{
    return (struct phys_impl *)phys;
}

static const struct phys_impl *cimpl_of(const struct phys *phys)
{
    return (const struct phys_impl *)phys;
}

static uint64_t order_frames(unsigned order)
{
    return 1ULL << order;
}

/* Untouched boot blocks still counted in nr_free[PHYS_MAX_ORDER]. */
static uint64_t boot_blocks_left(const struct phys_impl *impl)
{
    return (impl->boot_end - impl->boot_next) >> PHYS_MAX_ORDER;
}

static bool in_boot_range(const struct phys_impl *impl, pfn_t pfn)
{
    return pfn >= impl->boot_next && pfn < impl->boot_end;
}

/* ---- free lists ------------------------------------------------------------------ */

static void list_init(struct page_list *head)
{
    head->next = head->prev = head;
}

static void list_insert_between(struct page_list *node, struct page_list *prev,
                                struct page_list *next)
{
    node->prev = prev;
    node->next = next;
    prev->next = node;
    next->prev = node;
}

static void list_unlink(struct page_list *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->next = node->prev = NULL;
}

static struct page *page_of_node(struct page_list *node)
{
    return (struct page *)((char *)node - offsetof(struct page, lru));
}

/* Make pfn the head of a free block of `order` and link it (at the list head, or at
 * the tail while booting).  Counts are the caller's business. */
static void block_link(struct phys *phys, pfn_t pfn, unsigned order, bool at_tail)
{
    struct page *page = phys_page(phys, pfn);
    struct page_list *head = &phys->free_list[order];

    page->flags = (page->flags & PG_POISONED) | PG_BUDDY;
    page->order = (uint8_t)order;
    if (at_tail)
        list_insert_between(&page->lru, head->prev, head);
    else
        list_insert_between(&page->lru, head, head->next);
}

/* Unlink a free block's head and return it to the all-zero interior state. */
static void block_unlink(struct phys *phys, pfn_t pfn)
{
    struct page *page = phys_page(phys, pfn);

    list_unlink(&page->lru);
    page->flags &= PG_POISONED;
    page->order = 0;
}

static void count_block(struct phys *phys, unsigned order, bool added)
{
    if (added) {
        phys->nr_free[order]++;
        phys->free_frames += order_frames(order);
    } else {
        phys->nr_free[order]--;
        phys->free_frames -= order_frames(order);
    }
}

/* Push a free block at the head of its list (LIFO). */
static void free_block_push(struct phys *phys, pfn_t pfn, unsigned order)
{
    block_link(phys, pfn, order, false);
    count_block(phys, order, true);
}

/* Take a specific linked free block off its list. */
static void free_block_remove(struct phys *phys, pfn_t pfn, unsigned order)
{
    block_unlink(phys, pfn);
    count_block(phys, order, false);
}

/* Take the block at the logical head of free_list[order]; the list must be non-empty.
 * Untouched boot blocks come after every linked block of the top order. */
static pfn_t free_block_pop(struct phys_impl *impl, unsigned order)
{
    struct phys *phys = &impl->phys;
    struct page_list *head = &phys->free_list[order];
    pfn_t pfn;

    if (head->next != head) {
        pfn = phys_page_pfn(phys, page_of_node(head->next));
        PAGODA_BUG_ON(!(phys_page(phys, pfn)->flags & PG_BUDDY) ||
                          phys_page(phys, pfn)->order != order,
                      "free-list block has PG_BUDDY and its list's order");
        block_unlink(phys, pfn);
    } else {
        PAGODA_BUG_ON(order != PHYS_MAX_ORDER || boot_blocks_left(impl) == 0,
                      "nr_free counts a block its free list does not hold");
        pfn = impl->boot_next;
        impl->boot_next += MAX_BLOCK_FRAMES;
    }
    count_block(phys, order, false);
    return pfn;
}

/* Link untouched boot blocks below `end` at the tail of the top-order list, keeping
 * their logical order, so that struct-page based code can find them.  Counts do not
 * change: those blocks were already counted. */
static void boot_materialize_below(struct phys_impl *impl, pfn_t end)
{
    while (impl->boot_next < impl->boot_end && impl->boot_next < end) {
        block_link(&impl->phys, impl->boot_next, PHYS_MAX_ORDER, true);
        impl->boot_next += MAX_BLOCK_FRAMES;
    }
}

/* If pfn lies in a linked free block, store its head and order and return true.
 * A block containing pfn has its head at pfn rounded down to its own order. */
static bool find_linked_free_block(const struct phys *phys, pfn_t pfn, pfn_t *head,
                                   unsigned *order)
{
    for (unsigned k = 0; k <= PHYS_MAX_ORDER; k++) {
        pfn_t h = pfn & ~(order_frames(k) - 1);
        const struct page *page = phys_page(phys, h);

        if ((page->flags & PG_BUDDY) && pfn < h + order_frames(page->order)) {
            *head = h;
            *order = page->order;
            return true;
        }
    }
    return false;
}

/* ---- watermarks ------------------------------------------------------------------ */

/* floor(sqrt(x)), bit by bit. */
static uint64_t int_sqrt64(uint64_t x)
{
    uint64_t root = 0, bit = 1ULL << 62;

    while (bit > x)
        bit >>= 2;
    while (bit) {
        if (x >= root + bit) {
            x -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return root;
}

/* Linux's __setup_per_zone_wmarks for a single zone holding every managed frame:
 * min_free_kbytes = sqrt(managed KiB * 16) clamped to [128, 262144]; min is that in
 * frames; the low/high gaps are the larger of min/4 and 0.1% of managed frames. */
static void compute_watermarks(struct phys *phys)
{
    uint64_t managed_kbytes = phys->managed_frames * (PAGE_SIZE / 1024);
    uint64_t min_free_kbytes = int_sqrt64(managed_kbytes * 16);

    if (min_free_kbytes < MIN_FREE_KBYTES_FLOOR)
        min_free_kbytes = MIN_FREE_KBYTES_FLOOR;
    if (min_free_kbytes > MIN_FREE_KBYTES_CEIL)
        min_free_kbytes = MIN_FREE_KBYTES_CEIL;

    uint64_t min = min_free_kbytes / (PAGE_SIZE / 1024);
    uint64_t scaled = phys->managed_frames * WATERMARK_SCALE_FACTOR / 10000;
    uint64_t gap = min / 4 > scaled ? min / 4 : scaled;

    phys->wmark[PHYS_WMARK_MIN] = min;
    phys->wmark[PHYS_WMARK_LOW] = min + gap;
    phys->wmark[PHYS_WMARK_HIGH] = min + 2 * gap;
}

bool phys_watermark_ok(const struct phys *phys, enum phys_wmark mark, unsigned order)
{
    PAGODA_BUG_ON((unsigned)mark >= PHYS_NR_WMARKS, "watermark index in range");
    if (order > PHYS_MAX_ORDER || phys->free_frames < order_frames(order))
        return false;
    return phys->free_frames - order_frames(order) >= phys->wmark[mark];
}

/* ---- create / destroy ------------------------------------------------------------ */

/* A host mapping that commits only what gets touched; NULL on failure. */
static void *map_noreserve(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (p == MAP_FAILED)
        return NULL;
    /* Advisory: a transparent huge page would commit 2 MiB per touch. */
    (void)madvise(p, bytes, MADV_NOHUGEPAGE);
    return p;
}

static size_t pages_array_bytes(uint64_t nframes)
{
    return (size_t)nframes * sizeof(struct page);
}

/* Put all RAM on the free lists: whole top-order blocks as the untouched boot range,
 * the ragged end as descending aligned blocks linked at their lists' tails. */
static void boot_free_all(struct phys_impl *impl)
{
    struct phys *phys = &impl->phys;
    pfn_t pfn;

    for (unsigned k = 0; k <= PHYS_MAX_ORDER; k++)
        list_init(&phys->free_list[k]);
    impl->boot_next = 0;
    impl->boot_end = phys->nframes & ~(MAX_BLOCK_FRAMES - 1);
    phys->nr_free[PHYS_MAX_ORDER] = boot_blocks_left(impl);
    phys->free_frames = impl->boot_end;

    pfn = impl->boot_end;
    for (unsigned k = PHYS_MAX_ORDER; k-- > 0;) {
        if (phys->nframes - pfn >= order_frames(k)) {
            block_link(phys, pfn, k, true);
            count_block(phys, k, true);
            pfn += order_frames(k);
        }
    }
}

struct phys *phys_create(const struct phys_config *cfg)
{
    uint64_t bytes = cfg && cfg->ram_bytes ? cfg->ram_bytes : PHYS_DEFAULT_RAM;
    struct phys_impl *impl;
    struct phys *phys;

    if (bytes < PHYS_MIN_RAM || bytes > PHYS_MAX_RAM) {
        errno = EINVAL;
        return NULL;
    }
    impl = calloc(1, sizeof(*impl));
    if (!impl) {
        errno = ENOMEM;
        return NULL;
    }
    phys = &impl->phys;
    phys->nframes = bytes >> PAGE_SHIFT;
    phys->ram_bytes = phys->nframes * PAGE_SIZE;
    phys->poison = cfg && cfg->poison;
    phys->ram = map_noreserve(phys->ram_bytes);
    phys->pages = map_noreserve(pages_array_bytes(phys->nframes));
    if (!phys->ram || !phys->pages) {
        phys_destroy(phys);
        errno = ENOMEM;
        return NULL;
    }
    phys->managed_frames = phys->nframes;
    boot_free_all(impl);
    compute_watermarks(phys);
    if (PAGODA_CHECKING)
        phys_check(phys);
    return phys;
}

void phys_destroy(struct phys *phys)
{
    if (!phys)
        return;
    if (phys->owner_release)
        phys->owner_release(phys->owner_state);
    if (phys->ram)
        munmap(phys->ram, phys->ram_bytes);
    if (phys->pages)
        munmap(phys->pages, pages_array_bytes(phys->nframes));
    free(impl_of(phys));
}

/* ---- checking -------------------------------------------------------------------- */

/* pfn of a free-list node, after checking that it points at a struct page's lru. */
static pfn_t checked_node_pfn(const struct phys *phys, const struct page_list *node)
{
    uintptr_t base = (uintptr_t)&phys->pages[0].lru;
    uintptr_t at = (uintptr_t)node;

    PAGODA_BUG_ON(at < base || (at - base) % sizeof(struct page) != 0,
                  "free-list node is the lru of a struct page");
    pfn_t pfn = (at - base) / sizeof(struct page);
    PAGODA_BUG_ON(pfn >= phys->nframes, "free-list node lies within RAM's struct pages");
    return pfn;
}

/* Does a larger free block also contain the free block (pfn, order)?  Blocks are
 * aligned powers of two, so two overlap only if one holds the other's head, and the
 * larger one's head is then pfn rounded down to some higher order. */
static bool has_free_ancestor(const struct phys *phys, pfn_t pfn, unsigned order)
{
    for (unsigned k = order + 1; k <= PHYS_MAX_ORDER; k++) {
        pfn_t h = pfn & ~(order_frames(k) - 1);
        const struct page *page = phys_page(phys, h);

        if (h != pfn && (page->flags & PG_BUDDY) && pfn < h + order_frames(page->order))
            return true;
    }
    return false;
}

/* Invariants of one linked free block of `order` at pfn. */
static void check_free_block(const struct phys_impl *impl, pfn_t pfn, unsigned order)
{
    const struct phys *phys = &impl->phys;
    const struct page *page = phys_page(phys, pfn);

    PAGODA_BUG_ON(!(page->flags & PG_BUDDY), "free-list block has PG_BUDDY");
    PAGODA_BUG_ON(page->order != order, "free-list block's order equals its list's");
    PAGODA_BUG_ON(page->flags & ~(PG_BUDDY | PG_POISONED),
                  "free block head carries no other flag");
    PAGODA_BUG_ON(page->refcount != 0 || page->mapcount != 0,
                  "free block head has zero refcount and mapcount");
    PAGODA_BUG_ON(pfn & (order_frames(order) - 1), "free block aligned to its order");
    PAGODA_BUG_ON(phys->nframes - pfn < order_frames(order), "free block within RAM");
    PAGODA_BUG_ON(in_boot_range(impl, pfn), "free blocks do not overlap the boot range");
    PAGODA_BUG_ON(has_free_ancestor(phys, pfn, order), "free blocks do not overlap");
    if (order < PHYS_MAX_ORDER) {
        pfn_t buddy = pfn ^ order_frames(order);
        const struct page *bp = buddy < phys->nframes ? phys_page(phys, buddy) : NULL;

        PAGODA_BUG_ON(bp && (bp->flags & PG_BUDDY) && bp->order == order,
                      "free buddies of equal order have merged");
    }
}

/* Walk free_list[order]; returns (linked blocks, frames) via the out parameters. */
static void check_free_list(const struct phys_impl *impl, unsigned order,
                            uint64_t *blocks, uint64_t *frames)
{
    const struct phys *phys = &impl->phys;
    const struct page_list *head = &phys->free_list[order];
    const struct page_list *prev = head;
    uint64_t n = 0;

    for (const struct page_list *node = head->next; node != head; node = node->next) {
        PAGODA_BUG_ON(!node, "free list is circular");
        PAGODA_BUG_ON(node->prev != prev, "free list next/prev links agree");
        PAGODA_BUG_ON(++n > phys->nframes, "free list has no cycle off its sentinel");
        check_free_block(impl, checked_node_pfn(phys, node), order);
        prev = node;
    }
    PAGODA_BUG_ON(head->prev != prev, "free list sentinel's prev is its last node");
    *blocks = n;
    *frames = n * order_frames(order);
}

void phys_check(const struct phys *phys)
{
    const struct phys_impl *impl = cimpl_of(phys);
    uint64_t total = 0;

    PAGODA_BUG_ON(phys->ram_bytes != phys->nframes * PAGE_SIZE, "ram_bytes is whole frames");
    PAGODA_BUG_ON(impl->boot_next > impl->boot_end || impl->boot_end > phys->nframes ||
                      (impl->boot_next | impl->boot_end) & (MAX_BLOCK_FRAMES - 1),
                  "untouched boot range is aligned and within RAM");
    for (unsigned k = 0; k <= PHYS_MAX_ORDER; k++) {
        uint64_t blocks, frames;

        check_free_list(impl, k, &blocks, &frames);
        if (k == PHYS_MAX_ORDER) {
            blocks += boot_blocks_left(impl);
            frames += impl->boot_end - impl->boot_next;
        }
        PAGODA_BUG_ON(phys->nr_free[k] != blocks, "nr_free[order] equals the list length");
        total += frames;
    }
    PAGODA_BUG_ON(total != phys->free_frames, "free_frames is the sum of free block sizes");
    PAGODA_BUG_ON(phys->free_frames > phys->managed_frames, "free_frames <= managed_frames");
    PAGODA_BUG_ON(phys->managed_frames > phys->nframes, "managed_frames <= nframes");
    PAGODA_BUG_ON(phys->wmark[PHYS_WMARK_MIN] > phys->wmark[PHYS_WMARK_LOW] ||
                      phys->wmark[PHYS_WMARK_LOW] > phys->wmark[PHYS_WMARK_HIGH],
                  "watermarks min <= low <= high");
}

/* PAGODA_CHECKS builds: run phys_check once the earned budget covers its cost. */
static void check_after_op(struct phys_impl *impl)
{
    uint64_t linked = 0;

    for (unsigned k = 0; k <= PHYS_MAX_ORDER; k++)
        linked += impl->phys.nr_free[k];
    linked -= boot_blocks_left(impl);
    impl->check_budget += CHECK_BUDGET_PER_OP;
    if (impl->check_budget >= linked) {
        impl->check_budget = 0;
        phys_check(&impl->phys);
    }
}

/* ---- allocation ------------------------------------------------------------------ */

/* Smallest order >= `order` with a free block, or -1. */
static int smallest_free_order(const struct phys *phys, unsigned order)
{
    for (unsigned k = order; k <= PHYS_MAX_ORDER; k++)
        if (phys->nr_free[k])
            return (int)k;
    return -1;
}

/* Halve the block at pfn from order `from` down to `to`: the lower half is kept, the
 * upper half goes on the free list (so repeated order-0 allocations ascend). */
static void split_down(struct phys *phys, pfn_t pfn, unsigned from, unsigned to)
{
    while (from > to) {
        from--;
        free_block_push(phys, pfn + order_frames(from), from);
        phys->stats.splits++;
    }
}

/* Verify a poisoned frame still holds only PHYS_POISON_BYTE. */
static void verify_poison(const struct phys *phys, pfn_t pfn)
{
    const uint64_t pattern = 0x0101010101010101ULL * PHYS_POISON_BYTE;
    const uint64_t *word = phys_host(phys, pfn << PAGE_SHIFT);

    for (size_t i = 0; i < PAGE_SIZE / sizeof(*word); i++)
        PAGODA_BUG_ON(word[i] != pattern, "frame written after free");
}

/* Poison mode: check and unflag every poisoned frame of a block being handed out. */
static void unpoison_block(struct phys *phys, pfn_t pfn, unsigned order)
{
    for (uint64_t i = 0; i < order_frames(order); i++) {
        struct page *page = phys_page(phys, pfn + i);

        if (page->flags & PG_POISONED) {
            verify_poison(phys, pfn + i);
            page->flags &= ~PG_POISONED;
        }
    }
}

/* PAGODA_CHECKS: frames inside a free block have all-zero struct pages. */
static void check_interior_clean(const struct phys *phys, pfn_t pfn, unsigned order)
{
    static const struct page zero;

    for (uint64_t i = 1; i < order_frames(order); i++)
        PAGODA_BUG_ON(memcmp(phys_page(phys, pfn + i), &zero, sizeof(zero)) != 0,
                      "frames inside a free block have all-zero struct pages");
}

/* Give a just-taken block its allocated state: head refcount 1, owner fields clear,
 * compound head/tail marks if asked for. */
static void prepare_allocated(struct phys *phys, pfn_t pfn, unsigned order, unsigned flags)
{
    struct page *head = phys_page(phys, pfn);
    bool compound = (flags & PHYS_COMPOUND) && order > 0;

    if (phys->poison)
        unpoison_block(phys, pfn, order);
    if (PAGODA_CHECKING)
        check_interior_clean(phys, pfn, order);
    if (flags & PHYS_ZERO)
        memset(phys_host(phys, pfn << PAGE_SHIFT), 0, order_frames(order) * PAGE_SIZE);
    *head = (struct page){.flags = compound ? PG_HEAD : 0,
                          .refcount = 1,
                          .order = (uint8_t)(compound ? order : 0)};
    for (uint64_t i = 1; compound && i < order_frames(order); i++)
        *phys_page(phys, pfn + i) = (struct page){.flags = PG_TAIL, .private = pfn};
}

int phys_alloc(struct phys *phys, unsigned order, unsigned flags, pfn_t *out)
{
    int from;
    pfn_t pfn;

    PAGODA_BUG_ON(!out, "phys_alloc has somewhere to store the pfn");
    if (order > PHYS_MAX_ORDER || (flags & ~(unsigned)(PHYS_ZERO | PHYS_COMPOUND)))
        return -EINVAL;
    from = smallest_free_order(phys, order);
    if (from < 0) {
        phys->stats.alloc_failures++;
        return -ENOMEM;
    }
    pfn = free_block_pop(impl_of(phys), (unsigned)from);
    split_down(phys, pfn, (unsigned)from, order);
    prepare_allocated(phys, pfn, order, flags);
    phys->stats.allocs++;
    *out = pfn;
    if (PAGODA_CHECKING)
        check_after_op(impl_of(phys));
    return 0;
}

/* ---- freeing --------------------------------------------------------------------- */

/* Abort unless [pfn, pfn + 2^order) is an allocated block that may be freed. */
static void validate_free(const struct phys_impl *impl, pfn_t pfn, unsigned order)
{
    const struct phys *phys = &impl->phys;
    const struct page *head_page;
    pfn_t head;
    unsigned k;

    PAGODA_BUG_ON(order > PHYS_MAX_ORDER, "freed order is at most PHYS_MAX_ORDER");
    PAGODA_BUG_ON(pfn & (order_frames(order) - 1), "freed pfn is aligned to its order");
    PAGODA_BUG_ON(pfn >= phys->nframes || phys->nframes - pfn < order_frames(order),
                  "freed block lies within RAM");
    PAGODA_BUG_ON(in_boot_range(impl, pfn) || find_linked_free_block(phys, pfn, &head, &k),
                  "double free: block is already free");
    head_page = phys_page(phys, pfn);
    PAGODA_BUG_ON(head_page->flags & PG_TAIL, "freed pfn is not a compound tail");
    PAGODA_BUG_ON((head_page->flags & PG_HEAD) && head_page->order != order,
                  "compound block freed with the order it was allocated with");
}

/* Return the freed frames' struct pages to the free-block interior state (all zero,
 * plus PG_POISONED when poisoning), checking each one; poison mode fills RAM.  Pages
 * already zero are only read, so untouched struct pages stay uncommitted. */
static void reset_freed_pages(struct phys *phys, pfn_t pfn, unsigned order)
{
    const struct page clean = {.flags = phys->poison ? PG_POISONED : 0};

    for (uint64_t i = 0; i < order_frames(order); i++) {
        struct page *page = phys_page(phys, pfn + i);

        PAGODA_BUG_ON(page->flags & PG_BUDDY, "double free: block is already free");
        PAGODA_BUG_ON(page->flags & PG_RESERVED, "freed frames are not reserved");
        PAGODA_BUG_ON(i > 0 && (page->flags & PG_TAIL) && page->private != pfn,
                      "freed block holds no other compound block's tail");
        if (memcmp(page, &clean, sizeof(clean)) != 0)
            *page = clean;
    }
    if (phys->poison)
        memset(phys_host(phys, pfn << PAGE_SHIFT), PHYS_POISON_BYTE,
               order_frames(order) * PAGE_SIZE);
}

void phys_free(struct phys *phys, pfn_t pfn, unsigned order)
{
    validate_free(impl_of(phys), pfn, order);
    reset_freed_pages(phys, pfn, order);
    while (order < PHYS_MAX_ORDER) {
        pfn_t buddy = pfn ^ order_frames(order);
        const struct page *bp;

        if (buddy >= phys->nframes)
            break;
        bp = phys_page(phys, buddy);
        if (!(bp->flags & PG_BUDDY) || bp->order != order)
            break;
        free_block_remove(phys, buddy, order);
        pfn &= ~order_frames(order);
        order++;
        phys->stats.merges++;
    }
    free_block_push(phys, pfn, order);
    phys->stats.frees++;
    if (PAGODA_CHECKING)
        check_after_op(impl_of(phys));
}

/* ---- reservation ----------------------------------------------------------------- */

/* Is every frame of [first, end) in a free block?  Walks block by block. */
static bool range_all_free(const struct phys_impl *impl, pfn_t first, pfn_t end)
{
    pfn_t pfn = first;

    while (pfn < end) {
        pfn_t head;
        unsigned order;

        if (in_boot_range(impl, pfn)) {
            pfn = (pfn | (MAX_BLOCK_FRAMES - 1)) + 1;
            continue;
        }
        if (!find_linked_free_block(&impl->phys, pfn, &head, &order))
            return false;
        pfn = head + order_frames(order);
    }
    return true;
}

static void mark_reserved(struct phys *phys, pfn_t pfn, uint64_t count)
{
    /* refcount 1 like Linux's never-freed boot pages. */
    for (uint64_t i = 0; i < count; i++)
        *phys_page(phys, pfn + i) = (struct page){.flags = PG_RESERVED, .refcount = 1};
}

/* The free block (pfn, order), already off its list and uncounted: reserve its part inside
 * [lo, hi) and push the rest back, halving as needed.  The upper half is handled
 * first so that lower blocks end up nearer the LIFO heads. */
static void carve_block(struct phys *phys, pfn_t pfn, unsigned order, pfn_t lo, pfn_t hi)
{
    pfn_t end = pfn + order_frames(order);

    if (end <= lo || pfn >= hi) {
        free_block_push(phys, pfn, order);
    } else if (pfn >= lo && end <= hi) {
        mark_reserved(phys, pfn, order_frames(order));
    } else {
        phys->stats.splits++;
        carve_block(phys, pfn + order_frames(order - 1), order - 1, lo, hi);
        carve_block(phys, pfn, order - 1, lo, hi);
    }
}

int phys_reserve(struct phys *phys, pfn_t first, uint64_t count)
{
    struct phys_impl *impl = impl_of(phys);
    pfn_t end = first + count;

    if (first >= phys->nframes || count > phys->nframes - first)
        return -EINVAL;
    if (!range_all_free(impl, first, end))
        return -EINVAL;
    boot_materialize_below(impl, end);
    for (pfn_t pfn = first; pfn < end;) {
        pfn_t head;
        unsigned order;

        PAGODA_BUG_ON(!find_linked_free_block(phys, pfn, &head, &order),
                      "a frame checked free is in a linked free block");
        free_block_remove(phys, head, order);
        carve_block(phys, head, order, first, end);
        pfn = head + order_frames(order);
    }
    phys->managed_frames -= count;
    compute_watermarks(phys);
    if (PAGODA_CHECKING)
        check_after_op(impl);
    return 0;
}
