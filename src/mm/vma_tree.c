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
 */
#include <pagoda/vma_tree.h>

#include "hw/bug.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

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
}

/* ---- insert / remove / adjust ------------------------------------------------------ */

/* See vma_tree.h for the contracts of the public functions below. */
void vma_tree_init(struct vma_tree *tree)
{
    tree->root = NULL;
    tree->first = NULL;
    tree->last = NULL;
    tree->count = 0;
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
    check_after_update(tree, node, node->prev, node->next);
}

/* ---- lookups --------------------------------------------------------------------- */

/* Descend keeping the lowest node seen with end > addr; stop early at a node that
 * contains addr, since nothing below it can have end > addr. */
struct vma_node *vma_tree_find(const struct vma_tree *tree, uint64_t addr)
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

struct vma_node *vma_tree_find_prev(const struct vma_tree *tree, uint64_t addr,
                                    struct vma_node **pprev)
{
    struct vma_node *found = vma_tree_find(tree, addr);
    *pprev = found ? found->prev : tree->last;
    return found;
}

struct vma_node *vma_tree_lookup(const struct vma_tree *tree, uint64_t addr)
{
    struct vma_node *found = vma_tree_find(tree, addr);
    return found && found->start <= addr ? found : NULL;
}

struct vma_node *vma_tree_find_intersection(const struct vma_tree *tree, uint64_t start,
                                            uint64_t end)
{
    struct vma_node *found;
    if (start >= end)
        return NULL;
    found = vma_tree_find(tree, start);
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
