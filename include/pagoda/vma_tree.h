/*
 * pagoda/vma_tree.h - the index of a process's VMAs, kept as Linux kept it before maple
 * trees (mm/mmap.c up to 6.0): an augmented red-black tree keyed by start address,
 * whose nodes also carry the largest free gap in their subtree, plus a sorted doubly
 * linked list of the same nodes.
 *
 * A struct vma_node is embedded in the memory manager's VMA; the tree knows only the
 * address range and the guard gaps.  The caller fills start, end, guard_below and
 * guard_above before vma_tree_insert(); every other field belongs to the tree.
 *
 * Gaps.  Each node owns the gap below it: the free space between the previous node's
 * end + guard_above and its own start - guard_below (clamped at 0; the first node's
 * gap is measured from address 0).  The gap above the last node is open-ended.  The
 * gap searches treat exactly those gaps as free, so a growsdown stack's guard below
 * it is never handed out.  See docs/vma-tree.md.
 *
 * Lookup index.  Once a tree holds VMA_INDEX_BUILD_AT nodes it also keeps a compact
 * B+tree keyed by end address (512-byte nodes of up to 15 sorted keys), which the
 * lookups (vma_tree_find and the functions built on it) descend instead of the
 * red-black tree: a few cache lines per level over 3 to 5 levels, instead of one cache
 * miss on each of ~20 levels.  The index only accelerates: the red-black tree and the
 * list stay the authority; the index is dropped again below VMA_INDEX_DROP_BELOW
 * nodes, and when one of its allocations fails it is dropped and rebuilt later, so no
 * update fails for lack of memory.  An emptied tree holds no memory.
 *
 * The tree does no locking.
 */
#ifndef PAGODA_VMA_TREE_H
#define PAGODA_VMA_TREE_H

#include <stddef.h>
#include <stdint.h>

/* A tree builds its lookup index when it reaches this many nodes, and drops it when
 * it falls below VMA_INDEX_DROP_BELOW (small trees are faster to descend directly). */
#define VMA_INDEX_BUILD_AT 64
#define VMA_INDEX_DROP_BELOW 32

enum vma_color { VMA_BLACK = 0, VMA_RED = 1 };

/* The fields a lookup and a list walk read (range and list links) come last, next to
 * the first fields of the structure embedding the node (the VMA's flags), so that a
 * lookup among many VMAs touches as few of the VMA's cache lines as it can. */
struct vma_node {
    /* Red-black tree links, owned by the tree. */
    struct vma_node *parent, *left, *right;
    enum vma_color color;
    /* Bytes below start that the gap search treats as taken (Linux's stack_guard_gap
     * for VM_GROWSDOWN areas) and the same above end (VM_GROWSUP).  Set by the caller. */
    uint64_t guard_below;
    uint64_t guard_above;
    /* Largest own gap of any node in this subtree, owned by the tree. */
    uint64_t subtree_gap;
    /* The end this node is filed under in the lookup index, owned by the tree. */
    uint64_t index_key;
    /* Address-ordered list of all nodes, owned by the tree. */
    struct vma_node *next, *prev;
    /* The mapped range [start, end); start < end.  Set by the caller. */
    uint64_t start, end;
    /* A word of the caller's (the memory manager keeps the VMA's flags here), set before
     * vma_tree_insert() and afterwards only through vma_tree_set_tag(): the lookup
     * index keeps a copy, which vma_tree_find_summary() returns. */
    uint64_t tag;
};

/* What vma_tree_find_summary() knows of a node without touching it. */
struct vma_summary {
    uint64_t start, end, tag;
};

/* A node of the lookup index (private to vma_tree.c). */
struct vma_index_node;

struct vma_tree {
    struct vma_node *root;
    struct vma_node *first, *last; /* lowest and highest node, NULL when empty */
    size_t count;
    /* The lookup index, owned by the tree: its root (NULL when there is none), its
     * number of levels (leaves included), and after an allocation failure the number
     * of updates to wait before trying to rebuild it. */
    struct vma_index_node *index;
    unsigned index_height;
    size_t index_retry;
    /* Fault injection for tests: when non-zero, each allocation of the index counts
     * it down, and the one that brings it to zero fails. */
    unsigned index_fail_countdown;
};

/* Request for a free range, like Linux's struct vm_unmapped_area_info. */
struct vma_gap_request {
    uint64_t length;       /* bytes wanted; non-zero */
    uint64_t low_limit;    /* the range must start at or above this */
    uint64_t high_limit;   /* ... and end at or below this */
    uint64_t align_mask;   /* 2^k - 1: want ((addr - align_offset) & align_mask) == 0 */
    uint64_t align_offset;
};

/* The struct containing an embedded vma_node (container_of). */
#define vma_tree_entry(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Lowest address the gap below `node` may reach up to: start - guard_below, or 0 when
 * the guard would reach below address 0 (Linux's vm_start_gap()). */
static inline uint64_t vma_node_start_gap(const struct vma_node *node)
{
    return node->guard_below < node->start ? node->start - node->guard_below : 0;
}

/* Where the gap above `node` may begin: end + guard_above, saturated at UINT64_MAX
 * when that would overflow (Linux's vm_end_gap()). */
static inline uint64_t vma_node_end_gap(const struct vma_node *node)
{
    uint64_t end = node->end + node->guard_above;
    return end < node->end ? UINT64_MAX : end;
}

/* An empty tree. */
void vma_tree_init(struct vma_tree *tree);

/* Link `node` (start, end and guards set) into the tree and the list: 0, or -EEXIST
 * when [start, end) overlaps a node already present (then nothing changes).
 * O(log n). */
int vma_tree_insert(struct vma_tree *tree, struct vma_node *node);

/* Unlink `node`, which must be in the tree.  O(log n). */
void vma_tree_remove(struct vma_tree *tree, struct vma_node *node);

/* The caller changed start, end, guard_below or guard_above of `node` in place without
 * making it overlap or pass a neighbour: recompute the gaps it affects.  O(log n). */
void vma_tree_adjusted(struct vma_tree *tree, struct vma_node *node);

/* Linux's find_vma(): the lowest node with end > addr, or NULL.  O(log n). */
struct vma_node *vma_tree_find(const struct vma_tree *tree, uint64_t addr);

/* Change a linked node's tag (and the index's copy of it).  O(log n). */
void vma_tree_set_tag(struct vma_tree *tree, struct vma_node *node, uint64_t tag);

/* vma_tree_find(), also filling *sum with the node's start, end and tag; with the lookup
 * index they come from the index's leaf, so the node itself is not read (a caller that
 * needs only these saves the cache miss on it).  O(log n). */
struct vma_node *vma_tree_find_summary(const struct vma_tree *tree, uint64_t addr,
                                       struct vma_summary *sum);

/* Linux's find_vma_prev(): vma_tree_find(addr), and in *pprev the node before it (the
 * last node when the result is NULL; NULL when there is none).  O(log n). */
struct vma_node *vma_tree_find_prev(const struct vma_tree *tree, uint64_t addr,
                                    struct vma_node **pprev);

/* Linux's vma_lookup(): the node containing addr, or NULL.  O(log n). */
struct vma_node *vma_tree_lookup(const struct vma_tree *tree, uint64_t addr);

/* The lowest node overlapping [start, end), or NULL (always NULL when start >= end).
 * O(log n). */
struct vma_node *vma_tree_find_intersection(const struct vma_tree *tree, uint64_t start,
                                            uint64_t end);

/* Highest address `addr` with [addr, addr + length) inside one gap, aligned so that
 * ((addr - align_offset) & align_mask) == 0, low_limit <= addr and
 * addr + length <= high_limit: 0 and *addr, or -ENOMEM.  O(log n) without alignment;
 * see docs/vma-tree.md for alignment. */
int vma_tree_gap_topdown(const struct vma_tree *tree, const struct vma_gap_request *req,
                         uint64_t *addr);

/* The same, lowest such address. */
int vma_tree_gap_bottomup(const struct vma_tree *tree, const struct vma_gap_request *req,
                          uint64_t *addr);

/* Check every invariant: red-black shape (root black, no red child of a red node, equal
 * black heights, parent links), BST order with non-overlapping nodes, the list equal to
 * the in-order walk with symmetric prev/next, first/last, count, every subtree_gap, and
 * the lookup index: B+tree shape (fill, sorted keys, each separator the largest key
 * below it) and its entries equal to the list's (node, end) pairs in order, present
 * whenever the tree is large enough and no allocation failure is pending.
 * Aborts with a message naming the broken invariant.  O(n). */
void vma_tree_validate(const struct vma_tree *tree);

#endif
