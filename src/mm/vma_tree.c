/*
 * mm/vma_tree.c - augmented red-black tree of VMAs with a sorted list and gap search.
 *
 * The red-black tree follows the classic formulation (CLRS, Linux lib/rbtree.c): NULL
 * children count as black leaves.  The augmented value is
 *     subtree_gap(n) = max(own_gap(n), subtree_gap(n->left), subtree_gap(n->right))
 * where own_gap(n) is the free space between the previous node's end gap and n's start
 * gap.  Because own_gap depends on the list predecessor, the list is always updated
 * before the tree, and after any structural change the paths to the root from every
 * node whose own gap or subtree changed are recomputed; rotations then keep the values
 * exact locally (the node that moves up inherits the old subtree's value).
 *
 * Beside the tree, large trees keep a lookup index (see vma_tree.h and the section
 * "lookup index" below): a B+tree of node ends that vma_tree_find() descends in a few
 * cache lines per level instead of the red-black tree's one cache miss per level.
 */
#include <pagoda/vma_tree.h>

#include "hw/bug.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* With checks on, trees up to this size are fully validated after every update;
 * larger ones get the O(log n) check of the touched paths. */
#define VMA_TREE_FULL_CHECK_MAX 512

/* ---- gaps ---------------------------------------------------------------------- */

/* Where the gap owned by `node` begins: the previous node's end gap, or 0. */
static uint64_t gap_floor(const struct vma_node *node)
{
    return node->prev ? vma_node_end_gap(node->prev) : 0;
}

/* The gap owned by `node`: free bytes between its predecessor and itself. */
static uint64_t own_gap(const struct vma_node *node)
{
    uint64_t lo = gap_floor(node);
    uint64_t hi = vma_node_start_gap(node);
    return hi > lo ? hi - lo : 0;
}

/* The larger of a and b. */
static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* subtree_gap of `node` from its own gap and its children's (assumed correct) values. */
static uint64_t compute_subtree_gap(const struct vma_node *node)
{
    uint64_t gap = own_gap(node);
    if (node->left)
        gap = max_u64(gap, node->left->subtree_gap);
    if (node->right)
        gap = max_u64(gap, node->right->subtree_gap);
    return gap;
}

/* Recompute subtree_gap on the whole path from `node` to the root.  Needed after the
 * own gap of `node` or the shape of its subtree changed; the full path (no early stop)
 * keeps it correct when several paths are refreshed one after another. */
static void propagate_gap(struct vma_node *node)
{
    for (; node; node = node->parent)
        node->subtree_gap = compute_subtree_gap(node);
}

/* ---- red-black tree primitives ---------------------------------------------------- */

/* NULL children are black leaves. */
static bool is_red(const struct vma_node *node)
{
    return node && node->color == VMA_RED;
}

/* Not red (NULL included). */
static bool is_black(const struct vma_node *node)
{
    return !is_red(node);
}

/* Make `new_child` take the place of `old_child` under `parent` (or as the root). */
static void replace_child(struct vma_tree *tree, struct vma_node *parent,
                          struct vma_node *old_child, struct vma_node *new_child)
{
    if (!parent)
        tree->root = new_child;
    else if (parent->left == old_child)
        parent->left = new_child;
    else
        parent->right = new_child;
    if (new_child)
        new_child->parent = parent;
}

/* Rotate `x` down to the left; its right child takes its place.  The risen node now
 * spans x's old subtree, so it inherits x's subtree_gap; x is recomputed. */
static void rotate_left(struct vma_tree *tree, struct vma_node *x)
{
    struct vma_node *y = x->right;
    PAGODA_BUG_ON(!y, "rotate_left needs a right child");
    x->right = y->left;
    if (y->left)
        y->left->parent = x;
    replace_child(tree, x->parent, x, y);
    y->left = x;
    x->parent = y;
    y->subtree_gap = x->subtree_gap;
    x->subtree_gap = compute_subtree_gap(x);
}

/* Mirror of rotate_left(). */
static void rotate_right(struct vma_tree *tree, struct vma_node *x)
{
    struct vma_node *y = x->left;
    PAGODA_BUG_ON(!y, "rotate_right needs a left child");
    x->left = y->right;
    if (y->right)
        y->right->parent = x;
    replace_child(tree, x->parent, x, y);
    y->right = x;
    x->parent = y;
    y->subtree_gap = x->subtree_gap;
    x->subtree_gap = compute_subtree_gap(x);
}

/* Restore "no red node has a red child" after linking the red leaf `node`. */
static void insert_fixup(struct vma_tree *tree, struct vma_node *node)
{
    struct vma_node *parent;
    while ((parent = node->parent) && is_red(parent)) {
        struct vma_node *grand = parent->parent;
        PAGODA_BUG_ON(!grand, "a red node is never the root");
        bool parent_is_left = grand->left == parent;
        struct vma_node *uncle = parent_is_left ? grand->right : grand->left;
        if (is_red(uncle)) {            /* recolour and continue two levels up */
            parent->color = VMA_BLACK;
            uncle->color = VMA_BLACK;
            grand->color = VMA_RED;
            node = grand;
            continue;
        }
        if (parent_is_left && node == parent->right) {   /* zig-zag to zig-zig */
            rotate_left(tree, parent);
            parent = node;
        } else if (!parent_is_left && node == parent->left) {
            rotate_right(tree, parent);
            parent = node;
        }
        parent->color = VMA_BLACK;
        grand->color = VMA_RED;
        if (parent_is_left)
            rotate_right(tree, grand);
        else
            rotate_left(tree, grand);
        break;
    }
    tree->root->color = VMA_BLACK;
}

/* One step of erase_fixup() when the doubly black `node` is the left child of
 * `parent`: returns the next node to fix, or NULL when done. */
static struct vma_node *erase_fixup_left(struct vma_tree *tree, struct vma_node *parent)
{
    struct vma_node *sibling = parent->right;
    PAGODA_BUG_ON(!sibling, "the sibling of a doubly black node exists");
    if (is_red(sibling)) {
        sibling->color = VMA_BLACK;
        parent->color = VMA_RED;
        rotate_left(tree, parent);
        sibling = parent->right;
    }
    if (is_black(sibling->left) && is_black(sibling->right)) {
        sibling->color = VMA_RED;
        return parent;
    }
    if (is_black(sibling->right)) {
        sibling->left->color = VMA_BLACK;
        sibling->color = VMA_RED;
        rotate_right(tree, sibling);
        sibling = parent->right;
    }
    sibling->color = parent->color;
    parent->color = VMA_BLACK;
    sibling->right->color = VMA_BLACK;
    rotate_left(tree, parent);
    return NULL;
}

/* Mirror of erase_fixup_left(). */
static struct vma_node *erase_fixup_right(struct vma_tree *tree, struct vma_node *parent)
{
    struct vma_node *sibling = parent->left;
    PAGODA_BUG_ON(!sibling, "the sibling of a doubly black node exists");
    if (is_red(sibling)) {
        sibling->color = VMA_BLACK;
        parent->color = VMA_RED;
        rotate_right(tree, parent);
        sibling = parent->left;
    }
    if (is_black(sibling->left) && is_black(sibling->right)) {
        sibling->color = VMA_RED;
        return parent;
    }
    if (is_black(sibling->left)) {
        sibling->right->color = VMA_BLACK;
        sibling->color = VMA_RED;
        rotate_left(tree, sibling);
        sibling = parent->left;
    }
    sibling->color = parent->color;
    parent->color = VMA_BLACK;
    sibling->left->color = VMA_BLACK;
    rotate_right(tree, parent);
    return NULL;
}

/* Restore equal black heights after a black node was unlinked: `node` (possibly NULL)
 * under `parent` is one black short. */
static void erase_fixup(struct vma_tree *tree, struct vma_node *node,
                        struct vma_node *parent)
{
    while (parent && is_black(node)) {
        struct vma_node *next;
        if (node == parent->left)
            next = erase_fixup_left(tree, parent);
        else
            next = erase_fixup_right(tree, parent);
        if (!next) {
            node = tree->root;
            break;
        }
        node = next;
        parent = node->parent;
    }
    if (node)
        node->color = VMA_BLACK;
}

/* Leftmost node of the subtree rooted at `node`. */
static struct vma_node *subtree_first(struct vma_node *node)
{
    while (node->left)
        node = node->left;
    return node;
}

/* ---- lookup index: a B+tree of node ends ----------------------------------------- */

/*
 * Each index node holds up to INDEX_SLOTS entries (key, slot) sorted by key.  In a leaf
 * the slot is a vma_node and the key its end; in an inner node the slot is a child and
 * the key the largest key in the child's subtree.  The first entry with key > addr
 * therefore leads, level by level, to the lowest vma_node with end > addr, which is
 * find_vma().  Keys past count are UINT64_MAX, so the branch-free count of keys <= addr
 * never passes count unless addr is UINT64_MAX, where nothing is found anyway.  All
 * leaves are at the same depth; nodes hold at least INDEX_MIN_FILL entries except
 * the root (an inner root at least two) and the nodes on the leftmost and rightmost
 * paths (see split_point()), so the height is O(log n).
 *
 * A node is eight cache lines: the keys a descent searches in the first two, the slots
 * in the next two, which the descent prefetches while it searches the keys, and in
 * leaves each entry's start and tag (the caller's word: the VMA's flags) in the last
 * four, so that vma_tree_find_summary() answers without reading the vma_node.
 *
 * The index changes only through insert (index_insert: splits, allocating first),
 * remove (index_remove: merges or evens out underfull nodes) and rekey (an end moved
 * in place), each along one root-to-leaf path, or is built from the list in one go.
 */
#define INDEX_SLOTS 15
#define INDEX_MIN_FILL 7
#define INDEX_MAX_HEIGHT 24 /* 7^23 > 2^64: more levels than any tree can have */
#define INDEX_ALIGN 64

union index_slot {
    struct vma_index_node *child; /* inner nodes */
    struct vma_node *vma;         /* leaves */
};

/* What a leaf keeps of its node besides the end: the start and the caller's tag, so
 * that vma_tree_find_summary() answers without touching the node (one cache miss per
 * lookup among tens of thousands of VMAs).  Unused in inner nodes. */
struct index_extra {
    uint64_t start, tag;
};

struct vma_index_node {
    uint64_t keys[INDEX_SLOTS];
    uint64_t count;
    union index_slot slots[INDEX_SLOTS];
    uint64_t unused;
    struct index_extra extra[INDEX_SLOTS];
    uint64_t unused2[2];
};

_Static_assert(INDEX_SLOTS == 15, "keys_at_most() searches 15 slots in groups of four");
_Static_assert(sizeof(struct vma_index_node) == 8 * INDEX_ALIGN,
               "an index node is eight cache lines: keys, slots, then the leaves' extras");

/* The nodes and entry positions of one root-to-leaf descent; level 0 is the root. */
struct index_path {
    struct vma_index_node *node[INDEX_MAX_HEIGHT];
    unsigned pos[INDEX_MAX_HEIGHT]; /* the entry taken (at the leaf: found or to insert) */
};

/* Number of keys of `n` that are <= key (padding included when key is UINT64_MAX),
 * without branches in two dependent steps: keys 3, 7 and 11 pick the group of four
 * slots where the count ends (the group's fourth key, if any, is above key), then the
 * group's first three keys finish it.  Few instructions and no mispredictions keep
 * several lookups in flight at once. */
static inline __attribute__((always_inline)) unsigned keys_at_most(const struct vma_index_node *n,
                                                                    uint64_t key)
{
    const uint64_t *k = n->keys;
    unsigned group = 4 * ((k[3] <= key) + (k[7] <= key) + (k[11] <= key));
    k += group;
    return group + (k[0] <= key) + (k[1] <= key) + (k[2] <= key);
}

/* Number of keys of `n` that are < key: the position of key in the node. */
static unsigned keys_below(const struct vma_index_node *n, uint64_t key)
{
    unsigned below = 0;
    for (unsigned i = 0; i < INDEX_SLOTS; i++)
        below += n->keys[i] < key;
    return below;
}

/* The largest key under `n`, which has at least one entry. */
static uint64_t index_max(const struct vma_index_node *n)
{
    return n->keys[n->count - 1];
}

/* Cache-line aligned memory for the index, or NULL when out of memory or when a test
 * injects a failure (tree->index_fail_countdown). */
static void *index_alloc(struct vma_tree *tree, size_t bytes)
{
    if (tree->index_fail_countdown && --tree->index_fail_countdown == 0)
        return NULL;
    return aligned_alloc(INDEX_ALIGN, (bytes + INDEX_ALIGN - 1) / INDEX_ALIGN * INDEX_ALIGN);
}

/* A new empty index node, or NULL. */
static struct vma_index_node *index_node_new(struct vma_tree *tree)
{
    struct vma_index_node *n = index_alloc(tree, sizeof(*n));
    if (!n)
        return NULL;
    n->count = 0;
    memset(n, 0, sizeof(*n));
    for (unsigned i = 0; i < INDEX_SLOTS; i++)
        n->keys[i] = UINT64_MAX;
    return n;
}

/* Free the subtree of `n`, whose leaves are `height` levels down (1: n is a leaf). */
static void index_free(struct vma_index_node *n, unsigned height)
{
    if (height > 1)
        for (unsigned i = 0; i < n->count; i++)
            index_free(n->slots[i].child, height - 1);
    free(n);
}

/* Drop the whole index; lookups go back to the red-black tree. */
static void index_drop(struct vma_tree *tree)
{
    if (tree->index)
        index_free(tree->index, tree->index_height);
    tree->index = NULL;
    tree->index_height = 0;
}

/* An allocation failed: drop the index and wait as many updates as the tree has
 * nodes before rebuilding it, so repeated failures cost O(1) amortized per update. */
static void index_give_up(struct vma_tree *tree)
{
    index_drop(tree);
    tree->index_retry = tree->count > 0 ? tree->count : 1;
}

/* Put (key, slot) at `pos` of `n`, which has room, shifting the entries above up. */
static void node_insert_at(struct vma_index_node *n, unsigned pos, uint64_t key,
                           union index_slot slot, struct index_extra extra)
{
    PAGODA_BUG_ON(n->count >= INDEX_SLOTS || pos > n->count,
                  "an index entry goes into a node with room, within its entries");
    for (unsigned i = (unsigned)n->count; i > pos; i--) {
        n->keys[i] = n->keys[i - 1];
        n->slots[i] = n->slots[i - 1];
        n->extra[i] = n->extra[i - 1];
    }
    n->keys[pos] = key;
    n->slots[pos] = slot;
    n->extra[pos] = extra;
    n->count++;
}

/* The extra of a leaf entry for `node`; inner entries have none. */
static struct index_extra leaf_extra(const struct vma_node *node)
{
    return (struct index_extra){.start = node->start, .tag = node->tag};
}

static const struct index_extra no_extra;

/* Take the entry at `pos` out of `n`, shifting the entries above down. */
static void node_remove_at(struct vma_index_node *n, unsigned pos)
{
    for (unsigned i = pos; i + 1 < n->count; i++) {
        n->keys[i] = n->keys[i + 1];
        n->slots[i] = n->slots[i + 1];
        n->extra[i] = n->extra[i + 1];
    }
    n->count--;
    n->keys[n->count] = UINT64_MAX;
    n->slots[n->count].vma = NULL;
    n->extra[n->count] = no_extra;
}

/* Entries of up to two nodes lined up, for splitting and rebalancing. */
struct index_run {
    uint64_t keys[2 * INDEX_SLOTS];
    union index_slot slots[2 * INDEX_SLOTS];
    struct index_extra extra[2 * INDEX_SLOTS];
    unsigned count;
};

/* Append the entries of `n` to `run`. */
static void run_append(struct index_run *run, const struct vma_index_node *n)
{
    for (unsigned i = 0; i < n->count; i++) {
        run->keys[run->count] = n->keys[i];
        run->extra[run->count] = n->extra[i];
        run->slots[run->count++] = n->slots[i];
    }
}

/* Make `n` hold exactly entries [from, to) of `run` (at most INDEX_SLOTS). */
static void run_fill(struct vma_index_node *n, const struct index_run *run, unsigned from,
                     unsigned to)
{
    PAGODA_BUG_ON(to - from > INDEX_SLOTS, "an index node holds at most 15 entries");
    n->count = to - from;
    for (unsigned i = 0; i < INDEX_SLOTS; i++) {
        n->keys[i] = i < n->count ? run->keys[from + i] : UINT64_MAX;
        n->slots[i] = i < n->count ? run->slots[from + i] : (union index_slot){.vma = NULL};
        n->extra[i] = i < n->count ? run->extra[from + i] : no_extra;
    }
}

/* Descend to the leaf where `key` is or belongs: at each level the first entry with a
 * key >= key (the last one when key is above them all). */
static void index_descend(const struct vma_tree *tree, uint64_t key, struct index_path *path)
{
    struct vma_index_node *n = tree->index;
    for (unsigned level = 0;; level++) {
        unsigned pos = keys_below(n, key);
        path->node[level] = n;
        if (level + 1 == tree->index_height) {
            path->pos[level] = pos;
            return;
        }
        if (pos == n->count)
            pos = (unsigned)n->count - 1;
        path->pos[level] = pos;
        n = n->slots[pos].child;
    }
}

/* The position of `node` in the leaf of `path` after index_descend() by its
 * index_key; stops if the node is not filed there. */
static unsigned index_locate(const struct vma_tree *tree, const struct vma_node *node,
                             struct index_path *path)
{
    index_descend(tree, node->index_key, path);
    const struct vma_index_node *leaf = path->node[tree->index_height - 1];
    unsigned pos = path->pos[tree->index_height - 1];
    PAGODA_BUG_ON(pos >= leaf->count || leaf->slots[pos].vma != node,
                  "vma_tree index: every node is filed under its index_key");
    return pos;
}

/* Make the key of entry `pos` of `parent` the largest key of its `child`.  Callers
 * loop over a path themselves: GCC 12.2 at -O1 wrongly drops calls of a helper that
 * stores through node pointers it loads from a struct index_path argument (its modref
 * flags miss the indirect store). */
static void index_set_key(struct vma_index_node *parent, unsigned pos,
                          const struct vma_index_node *child)
{
    parent->keys[pos] = index_max(child);
}

/* The nodes an insertion at the leaf of `path` splits: the full ones from the leaf up,
 * plus a new root when every level is full. */
static unsigned index_nodes_needed(const struct vma_tree *tree, const struct index_path *path)
{
    unsigned needed = 0, level = tree->index_height;
    while (level-- > 0 && path->node[level]->count == INDEX_SLOTS)
        needed++;
    return needed == tree->index_height ? needed + 1 : needed;
}

/* Where a full node that gains an entry at `pos` splits (the first that many of the
 * sixteen entries stay, the rest move right).  In the middle, except at the edge of
 * the index when the entry goes to the node's far end: address spaces grow at their
 * edges (mmap top-down, brk and stacks, a mapping carved up in address order), and
 * splitting there just beside the new entry leaves the old node full instead of half
 * empty, which halves the index's memory for such growth.  So nodes on the leftmost
 * and rightmost paths may hold fewer than INDEX_MIN_FILL entries: leaves at least one,
 * inner nodes at least two (an underfull node must have a sibling to merge with). */
static unsigned split_point(unsigned pos, bool leaf, bool leftmost, bool rightmost)
{
    unsigned least = leaf ? 1 : 2; /* entries either half keeps at the least */
    if (rightmost && pos >= INDEX_SLOTS - 1)
        return pos < INDEX_SLOTS + 1 - least ? pos : INDEX_SLOTS + 1 - least;
    if (leftmost && pos <= 1)
        return pos + 1 > least ? pos + 1 : least;
    return (INDEX_SLOTS + 1) / 2;
}

/* Insert (key, slot) at `pos` of the full node `n`, moving the entries from `split`
 * on (of the sixteen) into the empty node `right`. */
static void split_insert(struct vma_index_node *n, struct vma_index_node *right, unsigned pos,
                         unsigned split, uint64_t key, union index_slot slot,
                         struct index_extra extra)
{
    struct index_run run = {.count = 0};
    run_append(&run, n);
    for (unsigned i = run.count; i > pos; i--) {
        run.keys[i] = run.keys[i - 1];
        run.slots[i] = run.slots[i - 1];
        run.extra[i] = run.extra[i - 1];
    }
    run.keys[pos] = key;
    run.slots[pos] = slot;
    run.extra[pos] = extra;
    run.count++;
    run_fill(n, &run, 0, split);
    run_fill(right, &run, split, run.count);
}

/* Whether the node at `level` of `path` is the leftmost (want_last false) or the
 * rightmost (want_last true) of its level: the path took the first (last) entry at
 * every level above. */
static bool path_on_edge(const struct index_path *path, unsigned level, bool want_last)
{
    for (unsigned j = 0; j < level; j++) {
        unsigned edge = want_last ? (unsigned)path->node[j]->count - 1 : 0;
        if (path->pos[j] != edge)
            return false;
    }
    return true;
}

/* File `node` under its end: 0, or -ENOMEM with the index unchanged.  The nodes the
 * splits need are allocated first, so a failure leaves nothing half done. */
static int index_insert(struct vma_tree *tree, struct vma_node *node)
{
    struct index_path path;
    struct vma_index_node *spare[INDEX_MAX_HEIGHT + 1];
    index_descend(tree, node->end, &path);
    unsigned needed = index_nodes_needed(tree, &path);
    PAGODA_BUG_ON(needed > INDEX_MAX_HEIGHT, "vma_tree index: the height stays bounded");
    for (unsigned i = 0; i < needed; i++) {
        spare[i] = index_node_new(tree);
        if (!spare[i]) {
            while (i > 0)
                free(spare[--i]);
            return -ENOMEM;
        }
    }
    node->index_key = node->end;
    uint64_t key = node->end;
    union index_slot slot = {.vma = node};
    struct index_extra extra = leaf_extra(node);
    unsigned level = tree->index_height - 1;
    for (;;) {
        struct vma_index_node *n = path.node[level];
        if (n->count < INDEX_SLOTS) {
            node_insert_at(n, path.pos[level], key, slot, extra);
            for (; level > 0; level--) /* n's largest key may have grown */
                index_set_key(path.node[level - 1], path.pos[level - 1], path.node[level]);
            return 0;
        }
        struct vma_index_node *right = spare[--needed];
        unsigned split = split_point(path.pos[level], level + 1 == tree->index_height,
                                     path_on_edge(&path, level, false),
                                     path_on_edge(&path, level, true));
        split_insert(n, right, path.pos[level], split, key, slot, extra);
        if (level == 0) { /* the root split: a new root above both halves */
            struct vma_index_node *root = spare[--needed];
            node_insert_at(root, 0, index_max(n), (union index_slot){.child = n}, no_extra);
            node_insert_at(root, 1, index_max(right), (union index_slot){.child = right}, no_extra);
            tree->index = root;
            tree->index_height++;
            return 0;
        }
        /* The parent's entry keeps n, with n's new largest key; right goes after it. */
        index_set_key(path.node[level - 1], path.pos[level - 1], n);
        path.pos[level - 1]++;
        key = index_max(right);
        slot = (union index_slot){.child = right};
        extra = no_extra;
        level--;
    }
}

/* `parent`'s child at `pos` fell below INDEX_MIN_FILL: merge it with a neighbour when
 * both fit in one node (removing an entry of parent), else even the two out. */
static void index_rebalance(struct vma_index_node *parent, unsigned pos)
{
    unsigned left_pos = pos > 0 ? pos - 1 : pos;
    PAGODA_BUG_ON(left_pos + 1 >= parent->count, "an inner index node has two children");
    struct vma_index_node *left = parent->slots[left_pos].child;
    struct vma_index_node *right = parent->slots[left_pos + 1].child;
    struct index_run run = {.count = 0};
    run_append(&run, left);
    run_append(&run, right);
    if (run.count <= INDEX_SLOTS) {
        run_fill(left, &run, 0, run.count);
        free(right);
        index_set_key(parent, left_pos, left);
        node_remove_at(parent, left_pos + 1);
        return;
    }
    run_fill(left, &run, 0, run.count / 2);
    run_fill(right, &run, run.count / 2, run.count);
    index_set_key(parent, left_pos, left);
    index_set_key(parent, left_pos + 1, right);
}

/* Take `node` out of the index, which keeps at least one other entry. */
static void index_remove(struct vma_tree *tree, struct vma_node *node)
{
    struct index_path path;
    unsigned level = tree->index_height - 1;
    unsigned pos = index_locate(tree, node, &path);
    node_remove_at(path.node[level], pos);
    for (; level > 0; level--) {
        struct vma_index_node *n = path.node[level], *parent = path.node[level - 1];
        if (n->count >= INDEX_MIN_FILL)
            index_set_key(parent, path.pos[level - 1], n);
        else
            index_rebalance(parent, path.pos[level - 1]);
    }
    struct vma_index_node *root = tree->index;
    PAGODA_BUG_ON(root->count == 0, "vma_tree index: the index is dropped before it empties");
    if (tree->index_height > 1 && root->count == 1) { /* a root with one child: shrink */
        tree->index = root->slots[0].child;
        tree->index_height--;
        free(root);
    }
}

/* `node`'s end moved between its neighbours' ends: file it under the new end.  The
 * order of the keys is unchanged, so only the path's keys are refreshed. */
__attribute__((noinline)) static void index_rekey(struct vma_tree *tree, struct vma_node *node)
{
    struct index_path path;
    unsigned level = tree->index_height - 1;
    PAGODA_BUG_ON((node->prev && node->prev->index_key >= node->end) ||
                      (node->next && node->next->index_key <= node->end),
                  "vma_tree index: an adjusted end stays between its neighbours' ends");
    unsigned pos = index_locate(tree, node, &path);
    path.node[level]->keys[pos] = node->end;
    path.node[level]->extra[pos] = leaf_extra(node);
    node->index_key = node->end;
    for (; level > 0; level--)
        index_set_key(path.node[level - 1], path.pos[level - 1], path.node[level]);
}

/* Copy `node`'s start and tag into its leaf entry again. */
__attribute__((noinline)) static void index_refresh(struct vma_tree *tree, struct vma_node *node)
{
    struct index_path path;
    unsigned pos = index_locate(tree, node, &path);
    path.node[tree->index_height - 1]->extra[pos] = leaf_extra(node);
}

/* Nodes of a bulk-built index over `entries` entries: ceil(entries / 15) leaves, the
 * same over those, and so on up to one root. */
static size_t index_build_size(size_t entries)
{
    size_t total = 0;
    do {
        entries = (entries + INDEX_SLOTS - 1) / INDEX_SLOTS;
        total += entries;
    } while (entries > 1);
    return total;
}

/* Fill the `count` nodes at `nodes` with `entries` entries spread evenly (so each holds
 * at least INDEX_MIN_FILL when there are two or more); the entries are the list from
 * *vma on for leaves (advancing *vma), else the nodes at `children`. */
static void index_build_level(struct vma_index_node **nodes, size_t count, size_t entries,
                              struct vma_node **vma, struct vma_index_node **children)
{
    for (size_t j = 0; j < count; j++) {
        struct vma_index_node *n = nodes[j];
        size_t fill = entries / count + (j < entries % count);
        for (size_t i = 0; i < fill; i++) {
            union index_slot slot;
            struct index_extra extra = no_extra;
            uint64_t key;
            if (children) {
                slot.child = *children++;
                key = index_max(slot.child);
            } else {
                slot.vma = *vma;
                key = slot.vma->end;
                extra = leaf_extra(slot.vma);
                slot.vma->index_key = key;
                *vma = slot.vma->next;
            }
            node_insert_at(n, (unsigned)i, key, slot, extra);
        }
    }
}

/* Build the index of the whole (non-empty) tree bottom-up from the list, all nodes
 * allocated first: 0, or -ENOMEM with no index. */
static int index_build(struct vma_tree *tree)
{
    size_t total = index_build_size(tree->count), made = 0;
    struct vma_index_node **nodes = index_alloc(tree, total * sizeof(*nodes));
    if (!nodes)
        return -ENOMEM;
    while (made < total && (nodes[made] = index_node_new(tree)))
        made++;
    if (made < total) {
        while (made > 0)
            free(nodes[--made]);
        free(nodes);
        return -ENOMEM;
    }
    struct vma_node *vma = tree->first;
    size_t entries = tree->count, level_start = 0;
    size_t width = (entries + INDEX_SLOTS - 1) / INDEX_SLOTS;
    index_build_level(nodes, width, entries, &vma, NULL);
    tree->index_height = 1;
    while (width > 1) {
        size_t upper = (width + INDEX_SLOTS - 1) / INDEX_SLOTS;
        index_build_level(nodes + level_start + width, upper, width, NULL, nodes + level_start);
        level_start += width;
        width = upper;
        tree->index_height++;
    }
    tree->index = nodes[level_start];
    free(nodes);
    return 0;
}

/* Without an index, after an update: count down a pending retry, and build the index
 * when none is pending and the tree is large enough.  Callers check first that there
 * is something to do, which keeps small trees' updates free of this. */
static void index_build_when_due(struct vma_tree *tree)
{
    if (tree->index_retry > 0 && --tree->index_retry > 0)
        return;
    if (tree->count >= VMA_INDEX_BUILD_AT && index_build(tree))
        index_give_up(tree);
}

/* The tree gained `node`, and has an index or is due for one: file the node, or build
 * the index. */
__attribute__((noinline)) static void index_after_insert(struct vma_tree *tree,
                                                         struct vma_node *node)
{
    if (!tree->index)
        index_build_when_due(tree);
    else if (index_insert(tree, node))
        index_give_up(tree);
}

/* The tree lost `node`, and has an index or a rebuild pending: unfile the node, drop
 * the index when the tree got small, or count the rebuild down. */
__attribute__((noinline)) static void index_after_remove(struct vma_tree *tree,
                                                         struct vma_node *node)
{
    if (tree->index && tree->count < VMA_INDEX_DROP_BELOW)
        index_drop(tree);
    else if (tree->index)
        index_remove(tree, node);
    else if (tree->count < VMA_INDEX_DROP_BELOW)
        tree->index_retry = 0; /* nothing to rebuild at this size */
    else
        index_build_when_due(tree);
}

/* Keep the index in step after an insertion.  The test is all that small trees pay;
 * the work is out of line so that it does not weigh on their inserts. */
static void index_note_insert(struct vma_tree *tree, struct vma_node *node)
{
    if (tree->index || tree->count >= VMA_INDEX_BUILD_AT || tree->index_retry)
        index_after_insert(tree, node);
}

/* The same after a removal. */
static void index_note_remove(struct vma_tree *tree, struct vma_node *node)
{
    if (tree->index || tree->index_retry)
        index_after_remove(tree, node);
}

/* Start loading the slot half of `n` while its keys are searched: the slot taken is
 * then usually in cache, and a descent waits for one memory access per level, not two. */
static void index_prefetch_slots(const struct vma_index_node *n)
{
    __builtin_prefetch(&n->slots[0]);
    __builtin_prefetch(&n->slots[INDEX_SLOTS - 1]);
}

/* find_vma() through the index.  Every inner key is the largest key below it, so once
 * the root has a key above addr, the first such key at each level leads to a subtree
 * that has one too, and the leaf's first such entry is the answer.  Kept out of line
 * so that the small-tree lookup it sits beside (tree_find) stays small enough to be
 * inlined into every lookup function. */
__attribute__((noinline)) static struct vma_node *index_find(const struct vma_tree *tree,
                                                             uint64_t addr)
{
    const struct vma_index_node *n = tree->index;
    if (index_max(n) <= addr)
        return NULL;
    for (unsigned level = tree->index_height; level > 1; level--) {
        index_prefetch_slots(n);
        n = n->slots[keys_at_most(n, addr)].child;
    }
    index_prefetch_slots(n);
    return n->slots[keys_at_most(n, addr)].vma;
}

/* ---- invariant checks ------------------------------------------------------------ */

/* Stop on a broken invariant: PAGODA_BUG_ON()'s message format, plus the node. */
static _Noreturn void broken(const char *invariant, const struct vma_node *node)
{
    if (node)
        fprintf(stderr, "pagoda: invariant broken: vma_tree: %s (node [%#llx, %#llx))\n",
                invariant, (unsigned long long)node->start,
                (unsigned long long)node->end);
    else
        fprintf(stderr, "pagoda: invariant broken: vma_tree: %s\n", invariant);
    abort();
}

/* Cursor of the in-order walk compared against the list during validation. */
struct walk {
    const struct vma_node *expect; /* the list node the walk must meet next */
    const struct vma_node *last;   /* the node visited last */
    size_t visited;
};

/* Check the subtree of `node` (child of `parent`), walking it in order against the
 * list; returns its black height. */
static int validate_subtree(const struct vma_node *node, const struct vma_node *parent,
                            struct walk *walk)
{
    if (!node)
        return 1;
    if (node->parent != parent)
        broken("child's parent pointer is its parent", node);
    if (is_red(node) && (is_red(node->left) || is_red(node->right)))
        broken("no red node has a red child", node);
    int left_height = validate_subtree(node->left, node, walk);
    if (node->start >= node->end)
        broken("every node has start < end", node);
    if (walk->last && walk->last->end > node->start)
        broken("in-order nodes are sorted and do not overlap", node);
    if (node != walk->expect)
        broken("list order equals in-order traversal", node);
    if (node->prev != walk->last)
        broken("prev is the in-order predecessor", node);
    if (walk->last && walk->last->next != node)
        broken("next is the in-order successor", walk->last);
    walk->last = node;
    walk->expect = node->next;
    walk->visited++;
    int right_height = validate_subtree(node->right, node, walk);
    if (left_height != right_height)
        broken("equal black heights", node);
    if (node->subtree_gap != compute_subtree_gap(node))
        broken("subtree_gap is the largest own gap in the subtree", node);
    return left_height + (is_red(node) ? 0 : 1);
}

/* Cursor of the walk comparing the index's leaves with the list. */
struct index_walk {
    const struct vma_node *expect; /* the list node the next leaf entry must be */
    size_t entries;
};

/* Check the keys of index node `n` (sorted, padded, within fill limits); `edge`: the
 * node is on the leftmost or rightmost path (the root is on both). */
static void validate_index_keys(const struct vma_index_node *n, unsigned height, bool is_root,
                                bool edge)
{
    if (n->count == 0 || n->count > INDEX_SLOTS)
        broken("index: a node holds 1 to 15 entries", NULL);
    if (!is_root && !edge && n->count < INDEX_MIN_FILL)
        broken("index: nodes off the edges hold at least 7 entries", NULL);
    if (!is_root && edge && height > 1 && n->count < 2)
        broken("index: inner nodes on the edges hold at least 2 entries", NULL);
    if (is_root && height > 1 && n->count < 2)
        broken("index: an inner root has at least two children", NULL);
    for (unsigned i = 1; i < n->count; i++)
        if (n->keys[i - 1] >= n->keys[i])
            broken("index: keys in a node are strictly increasing", NULL);
    for (unsigned i = (unsigned)n->count; i < INDEX_SLOTS; i++)
        if (n->keys[i] != UINT64_MAX)
            broken("index: keys past count are UINT64_MAX", NULL);
}

/* Check the index subtree of `n` (leaves `height` levels down; `leftmost`/`rightmost`:
 * n is on that path) and walk its leaves against the list; returns its largest key. */
static uint64_t validate_index_node(const struct vma_index_node *n, unsigned height,
                                    bool leftmost, bool rightmost, struct index_walk *walk)
{
    validate_index_keys(n, height, leftmost && rightmost, leftmost || rightmost);
    for (unsigned i = 0; i < n->count; i++) {
        if (height > 1) {
            bool first = leftmost && i == 0, last = rightmost && i + 1 == n->count;
            if (validate_index_node(n->slots[i].child, height - 1, first, last, walk) !=
                n->keys[i])
                broken("index: an inner key is the largest key below it", NULL);
            continue;
        }
        const struct vma_node *vma = n->slots[i].vma;
        if (vma != walk->expect)
            broken("index: leaf entries equal the list in order", walk->expect);
        if (n->keys[i] != vma->end || vma->index_key != vma->end)
            broken("index: each node is filed under its end", vma);
        if (n->extra[i].start != vma->start || n->extra[i].tag != vma->tag)
            broken("index: a leaf entry holds its node's start and tag", vma);
        walk->expect = vma->next;
        walk->entries++;
    }
    return index_max(n);
}

/* Check the index as a whole: present exactly when the policy wants it, B+tree shape,
 * entries equal to the list. */
static void validate_index(const struct vma_tree *tree)
{
    if (!tree->index) {
        if (tree->index_height)
            broken("index: no index has no height", NULL);
        if (tree->count >= VMA_INDEX_BUILD_AT && !tree->index_retry)
            broken("index: a tree of VMA_INDEX_BUILD_AT nodes has one unless a rebuild waits",
                   NULL);
        return;
    }
    if (tree->count < VMA_INDEX_DROP_BELOW)
        broken("index: a tree below VMA_INDEX_DROP_BELOW nodes has none", NULL);
    if (tree->index_height == 0 || tree->index_height > INDEX_MAX_HEIGHT)
        broken("index: the height is 1 to 24", NULL);
    struct index_walk walk = {.expect = tree->first, .entries = 0};
    validate_index_node(tree->index, tree->index_height, true, true, &walk);
    if (walk.expect)
        broken("index: leaf entries equal the list in order", walk.expect);
    if (walk.entries != tree->count)
        broken("index: it holds count entries", NULL);
}

/* O(log n) check that `node` (may be NULL) is filed under its end and that the keys on
 * its path name the largest key below them. */
static void validate_index_path(const struct vma_tree *tree, const struct vma_node *node)
{
    struct index_path path;
    if (!tree->index || !node)
        return;
    if (node->index_key != node->end)
        broken("index: each node is filed under its end", node);
    unsigned pos = index_locate(tree, node, &path);
    const struct index_extra *x = &path.node[tree->index_height - 1]->extra[pos];
    if (x->start != node->start || x->tag != node->tag)
        broken("index: a leaf entry holds its node's start and tag", node);
    for (unsigned level = 0; level < tree->index_height; level++)
        validate_index_keys(path.node[level], tree->index_height - level, level == 0,
                            path_on_edge(&path, level, false) ||
                                path_on_edge(&path, level, true));
    for (unsigned level = 1; level < tree->index_height; level++)
        if (path.node[level - 1]->keys[path.pos[level - 1]] != index_max(path.node[level]))
            broken("index: an inner key is the largest key below it", node);
}

void vma_tree_validate(const struct vma_tree *tree)
{
    struct walk walk = {.expect = tree->first, .last = NULL, .visited = 0};
    if (is_red(tree->root))
        broken("root is black", tree->root);
    if (tree->first && tree->first->prev)
        broken("first has no prev", tree->first);
    validate_subtree(tree->root, NULL, &walk);
    if (walk.expect)
        broken("list holds no node beyond the tree", walk.expect);
    if (walk.last != tree->last)
        broken("last is the highest node", tree->last);
    if (walk.visited != tree->count)
        broken("count equals the number of nodes", NULL);
    validate_index(tree);
}

/* Check the paths from `node` to the root: parent links, colours and subtree_gap. */
static void validate_path(const struct vma_node *node)
{
    for (; node; node = node->parent) {
        if (node->parent && node->parent->left != node && node->parent->right != node)
            broken("parent links back to its child", node);
        if (is_red(node) && is_red(node->parent))
            broken("no red node has a red child", node);
        if (node->subtree_gap != compute_subtree_gap(node))
            broken("subtree_gap is the largest own gap in the subtree", node);
    }
}

/* With PAGODA_CHECKS builds, check the tree after an update that touched `node` and its
 * neighbours `prev`/`next` (any may be NULL). */
static void check_after_update(const struct vma_tree *tree, const struct vma_node *node,
                               const struct vma_node *prev, const struct vma_node *next)
{
    if (!PAGODA_CHECKING)
        return;
    if (tree->count <= VMA_TREE_FULL_CHECK_MAX) {
        vma_tree_validate(tree);
        return;
    }
    if (is_red(tree->root))
        broken("root is black", tree->root);
    validate_path(node);
    validate_path(prev);
    validate_path(next);
    validate_index_path(tree, node);
    validate_index_path(tree, prev);
    validate_index_path(tree, next);
}

/* ---- insert / remove / adjust ------------------------------------------------------ */

/* See vma_tree.h for the contracts of the public functions below. */
void vma_tree_init(struct vma_tree *tree)
{
    tree->root = NULL;
    tree->first = NULL;
    tree->last = NULL;
    tree->count = 0;
    tree->index = NULL;
    tree->index_height = 0;
    tree->index_retry = 0;
    tree->index_fail_countdown = 0;
}

/* Whether [a->start, a->end) and [b->start, b->end) share a byte. */
static bool nodes_overlap(const struct vma_node *a, const struct vma_node *b)
{
    return a->start < b->end && b->start < a->end;
}

/* Put `node` on the list between `prev` and `next` (either may be NULL). */
static void list_link(struct vma_tree *tree, struct vma_node *node, struct vma_node *prev,
                      struct vma_node *next)
{
    node->prev = prev;
    node->next = next;
    if (prev)
        prev->next = node;
    else
        tree->first = node;
    if (next)
        next->prev = node;
    else
        tree->last = node;
}

/* Take `node` off the list. */
static void list_unlink(struct vma_tree *tree, struct vma_node *node)
{
    if (node->prev)
        node->prev->next = node->next;
    else
        tree->first = node->next;
    if (node->next)
        node->next->prev = node->prev;
    else
        tree->last = node->prev;
}

int vma_tree_insert(struct vma_tree *tree, struct vma_node *node)
{
    struct vma_node **link = &tree->root;
    struct vma_node *parent = NULL, *prev = NULL, *next = NULL;
    PAGODA_BUG_ON(node->start >= node->end, "a VMA node has start < end");
    /* Any overlapping node lies on the search path: every node passed is wholly
     * below or wholly above the new range, and the descent goes towards it. */
    while (*link) {
        parent = *link;
        if (nodes_overlap(parent, node))
            return -EEXIST;
        if (node->end <= parent->start) {
            next = parent;
            link = &parent->left;
        } else {
            prev = parent;
            link = &parent->right;
        }
    }
    list_link(tree, node, prev, next);
    node->parent = parent;
    node->left = NULL;
    node->right = NULL;
    node->color = VMA_RED;
    *link = node;
    tree->count++;
    /* The successor of a new leaf is one of its ancestors, so this one walk also
     * recomputes next's own gap, which is now measured from the new node. */
    propagate_gap(node);
    insert_fixup(tree, node);
    index_note_insert(tree, node);
    check_after_update(tree, node, prev, next);
    return 0;
}

/* Unlink `node`, which has two children, from the tree shape: its in-order successor
 * takes its place and colour.  Returns the parent of the spot the successor left,
 * storing that spot's new occupant in *hole and the successor's old colour in *color. */
static struct vma_node *unlink_with_successor(struct vma_tree *tree, struct vma_node *node,
                                              struct vma_node **hole,
                                              enum vma_color *color)
{
    struct vma_node *succ = subtree_first(node->right);
    struct vma_node *hole_parent;
    *hole = succ->right;
    *color = succ->color;
    if (succ->parent == node) {
        hole_parent = succ;
    } else {
        hole_parent = succ->parent;
        replace_child(tree, hole_parent, succ, succ->right);
        succ->right = node->right;
        node->right->parent = succ;
    }
    replace_child(tree, node->parent, node, succ);
    succ->left = node->left;
    node->left->parent = succ;
    succ->color = node->color;
    return hole_parent;
}

void vma_tree_remove(struct vma_tree *tree, struct vma_node *node)
{
    struct vma_node *prev = node->prev, *next = node->next;
    struct vma_node *hole, *hole_parent;
    enum vma_color removed_color;
    PAGODA_BUG_ON(tree->count == 0, "removing from a non-empty tree");
    list_unlink(tree, node);
    tree->count--;
    if (node->left && node->right) {
        hole_parent = unlink_with_successor(tree, node, &hole, &removed_color);
    } else {
        hole = node->left ? node->left : node->right;
        hole_parent = node->parent;
        removed_color = node->color;
        replace_child(tree, hole_parent, node, hole);
    }
    propagate_gap(hole_parent);
    propagate_gap(next); /* its gap now reaches down to prev */
    if (removed_color == VMA_BLACK)
        erase_fixup(tree, hole, hole_parent);
    index_note_remove(tree, node);
    node->parent = node->left = node->right = NULL;
    node->prev = node->next = NULL;
    check_after_update(tree, NULL, prev, next);
}

void vma_tree_adjusted(struct vma_tree *tree, struct vma_node *node)
{
    PAGODA_BUG_ON(node->start >= node->end, "a VMA node has start < end");
    PAGODA_BUG_ON(node->prev && node->prev->end > node->start,
                  "an adjusted node stays above its predecessor");
    PAGODA_BUG_ON(node->next && node->end > node->next->start,
                  "an adjusted node stays below its successor");
    propagate_gap(node);       /* start or guard_below moved its own gap */
    propagate_gap(node->next); /* end or guard_above moved the next one's */
    if (tree->index && node->index_key != node->end)
        index_rekey(tree, node);
    else if (tree->index)
        index_refresh(tree, node); /* the start may have moved */
    check_after_update(tree, node, node->prev, node->next);
}

/* ---- lookups --------------------------------------------------------------------- */

/* find_vma() in the red-black tree: descend keeping the lowest node seen with
 * end > addr; stop early at a node that contains addr, since nothing below it can have
 * end > addr. */
static struct vma_node *rb_find(const struct vma_tree *tree, uint64_t addr)
{
    struct vma_node *node = tree->root, *found = NULL;
    while (node) {
        if (node->end > addr) {
            found = node;
            if (node->start <= addr)
                break;
            node = node->left;
        } else {
            node = node->right;
        }
    }
    return found;
}

/* find_vma(): through the index when there is one, else down the red-black tree.
 * Every lookup below calls this, not the public function, so that it is inlined. */
static struct vma_node *tree_find(const struct vma_tree *tree, uint64_t addr)
{
    return tree->index ? index_find(tree, addr) : rb_find(tree, addr);
}

struct vma_node *vma_tree_find(const struct vma_tree *tree, uint64_t addr)
{
    return tree_find(tree, addr);
}

void vma_tree_set_tag(struct vma_tree *tree, struct vma_node *node, uint64_t tag)
{
    node->tag = tag;
    if (tree->index)
        index_refresh(tree, node);
    check_after_update(tree, node, NULL, NULL);
}

/* find_vma() through the index, with the entry's summary. */
__attribute__((noinline)) static struct vma_node *index_find_summary(const struct vma_tree *tree,
                                                                     uint64_t addr,
                                                                     struct vma_summary *sum)
{
    const struct vma_index_node *n = tree->index;
    if (index_max(n) <= addr)
        return NULL;
    for (unsigned level = tree->index_height; level > 1; level--) {
        index_prefetch_slots(n);
        n = n->slots[keys_at_most(n, addr)].child;
    }
    index_prefetch_slots(n);
    for (unsigned line = 0; line < sizeof(n->extra); line += INDEX_ALIGN)
        __builtin_prefetch((const char *)n->extra + line);
    unsigned i = keys_at_most(n, addr);
    sum->start = n->extra[i].start;
    sum->end = n->keys[i];
    sum->tag = n->extra[i].tag;
    return n->slots[i].vma;
}

struct vma_node *vma_tree_find_summary(const struct vma_tree *tree, uint64_t addr,
                                       struct vma_summary *sum)
{
    if (tree->index)
        return index_find_summary(tree, addr, sum);
    struct vma_node *found = rb_find(tree, addr);
    if (found)
        *sum = (struct vma_summary){.start = found->start, .end = found->end, .tag = found->tag};
    return found;
}

struct vma_node *vma_tree_find_prev(const struct vma_tree *tree, uint64_t addr,
                                    struct vma_node **pprev)
{
    struct vma_node *found = tree_find(tree, addr);
    *pprev = found ? found->prev : tree->last;
    return found;
}

struct vma_node *vma_tree_lookup(const struct vma_tree *tree, uint64_t addr)
{
    struct vma_node *found = tree_find(tree, addr);
    return found && found->start <= addr ? found : NULL;
}

struct vma_node *vma_tree_find_intersection(const struct vma_tree *tree, uint64_t start,
                                            uint64_t end)
{
    struct vma_node *found;
    if (start >= end)
        return NULL;
    found = tree_find(tree, start);
    return found && found->start < end ? found : NULL;
}

/* ---- gap search ------------------------------------------------------------------ */

/* A gap request with its derived bounds. */
struct gap_search {
    const struct vma_gap_request *req;
    uint64_t lowest_end;    /* low_limit + length: no fitting range ends below */
    uint64_t highest_start; /* high_limit - length: no fitting range starts above */
};

/* Fill `search` from `req`; false when no address can satisfy the limits at all. */
static bool gap_search_init(struct gap_search *search, const struct vma_gap_request *req)
{
    PAGODA_BUG_ON(req->length == 0, "a gap request asks for at least one byte");
    PAGODA_BUG_ON(req->align_mask & (req->align_mask + 1),
                  "align_mask is a power of two minus one");
    search->req = req;
    if (req->length > req->high_limit || req->low_limit > req->high_limit - req->length)
        return false;
    search->lowest_end = req->low_limit + req->length;
    search->highest_start = req->high_limit - req->length;
    return true;
}

/* Clip the gap [*lo, *hi) to the request's limits; true when length still fits. */
static bool clip_gap(const struct vma_gap_request *req, uint64_t *lo, uint64_t *hi)
{
    if (*lo < req->low_limit)
        *lo = req->low_limit;
    if (*hi > req->high_limit)
        *hi = req->high_limit;
    return *hi > *lo && *hi - *lo >= req->length;
}

/* Highest aligned address of a range of `length` inside the gap [lo, hi). */
static bool fit_highest(const struct vma_gap_request *req, uint64_t lo, uint64_t hi,
                        uint64_t *addr)
{
    if (!clip_gap(req, &lo, &hi))
        return false;
    uint64_t candidate = hi - req->length;
    uint64_t down = (candidate - req->align_offset) & req->align_mask;
    if (down > candidate - lo)
        return false;
    *addr = candidate - down;
    return true;
}

/* Lowest aligned address of a range of `length` inside the gap [lo, hi). */
static bool fit_lowest(const struct vma_gap_request *req, uint64_t lo, uint64_t hi,
                       uint64_t *addr)
{
    if (!clip_gap(req, &lo, &hi))
        return false;
    uint64_t up = (req->align_offset - lo) & req->align_mask;
    if (up > hi - lo - req->length)
        return false;
    *addr = lo + up;
    return true;
}

/* The open-ended gap above the last node: [end gap of last, 2^64). */
static uint64_t top_gap_floor(const struct vma_tree *tree)
{
    return tree->last ? vma_node_end_gap(tree->last) : 0;
}

/*
 * Reverse in-order walk of the subtree of `node` for the highest fitting gap.
 * Pruned three ways, each a necessary condition for a fit:
 *  - subtree_gap < length: no gap below here is long enough;
 *  - node->end > highest_start: every gap in the right subtree starts at or above
 *    node->end, too high;
 *  - node->start < lowest_end: this gap and every lower one ends at or below
 *    node->start, too low; the ancestors still to visit are lower still, so they stop
 *    at the same test and the whole walk ends.
 */
static bool search_topdown(const struct vma_node *node, const struct gap_search *search,
                           uint64_t *addr)
{
    const struct vma_gap_request *req = search->req;
    if (!node || node->subtree_gap < req->length)
        return false;
    if (node->end <= search->highest_start && search_topdown(node->right, search, addr))
        return true;
    if (node->start < search->lowest_end)
        return false;
    if (fit_highest(req, gap_floor(node), vma_node_start_gap(node), addr))
        return true;
    return search_topdown(node->left, search, addr);
}

/*
 * In-order walk of the subtree of `node` for the lowest fitting gap; the mirror of
 * search_topdown(): the left subtree's gaps all end below node->start, and once a
 * gap's floor (the previous node's end or more) is above highest_start, so is every
 * later one's.
 */
static bool search_bottomup(const struct vma_node *node, const struct gap_search *search,
                            uint64_t *addr)
{
    const struct vma_gap_request *req = search->req;
    if (!node || node->subtree_gap < req->length)
        return false;
    if (node->start >= search->lowest_end && search_bottomup(node->left, search, addr))
        return true;
    if ((node->prev ? node->prev->end : 0) > search->highest_start)
        return false;
    if (fit_lowest(req, gap_floor(node), vma_node_start_gap(node), addr))
        return true;
    return search_bottomup(node->right, search, addr);
}

/* The open gap above the last node is the highest, so it is tried first. */
int vma_tree_gap_topdown(const struct vma_tree *tree, const struct vma_gap_request *req,
                         uint64_t *addr)
{
    struct gap_search search;
    if (!gap_search_init(&search, req))
        return -ENOMEM;
    if (fit_highest(req, top_gap_floor(tree), UINT64_MAX, addr))
        return 0;
    return search_topdown(tree->root, &search, addr) ? 0 : -ENOMEM;
}

/* ... and last when searching upwards. */
int vma_tree_gap_bottomup(const struct vma_tree *tree, const struct vma_gap_request *req,
                          uint64_t *addr)
{
    struct gap_search search;
    if (!gap_search_init(&search, req))
        return -ENOMEM;
    if (search_bottomup(tree->root, &search, addr))
        return 0;
    return fit_lowest(req, top_gap_floor(tree), UINT64_MAX, addr) ? 0 : -ENOMEM;
}
