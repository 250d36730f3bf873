/*
 * Tests of mm/vma_tree: the augmented red-black tree + list of VMAs and its gap search.
 *
 * In the style of Linux's tools/testing/vma, layouts are drawn as strings: each
 * character is one "unit" of address space (a page unless a test says otherwise),
 * a run of one letter is one node named by that letter, '.' is free.  layout()
 * builds a tree from such a string and dump() prints the tree back the same way.
 * No frames are involved, so there is no leak audit; ASan checks the heap.
 */
#include "support/support.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pagoda/vma_tree.h>

#define PAGE 4096ULL
#define MiB (1ULL << 20)
#define MAX_LAYOUT 128

/* A VMA as the memory manager would embed the node. */
struct tvma {
    struct vma_node node;
    char label;
};

struct fixture {
    struct vma_tree tree;
    struct tvma *pool;
    size_t used, cap;
    uint64_t unit; /* bytes per layout character */
    char text[MAX_LAYOUT + 1];
};

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->cap = 256;
    f->pool = calloc(f->cap, sizeof(*f->pool));
    assert_non_null(f->pool);
    f->unit = PAGE;
    vma_tree_init(&f->tree);
    *state = f;
    return 0;
}

/* Empty the tree before freeing its nodes: an emptied tree holds no memory (its
 * lookup index, if it grew one, goes with the last nodes), so ASan sees no leak. */
static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    while (f->tree.first)
        vma_tree_remove(&f->tree, f->tree.first);
    assert_null(f->tree.index);
    free(f->pool);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------- */

/* Units to bytes. */
static uint64_t U(const struct fixture *f, uint64_t units)
{
    return units * f->unit;
}

/* A fresh node [start, end) in units, labelled, not yet in the tree. */
static struct tvma *new_vma(struct fixture *f, char label, uint64_t start, uint64_t end)
{
    assert_true(f->used < f->cap);
    struct tvma *v = &f->pool[f->used++];
    memset(v, 0, sizeof(*v));
    v->label = label;
    v->node.start = U(f, start);
    v->node.end = U(f, end);
    return v;
}

/* Build the tree drawn by `text` with `unit` bytes per character, inserting the nodes
 * from right to left (so the helper itself exercises rebalancing). */
static void layout_unit(struct fixture *f, const char *text, uint64_t unit)
{
    size_t len = strlen(text), i = len;
    f->unit = unit;
    while (i > 0) {
        size_t end = i;
        char c = text[i - 1];
        while (i > 0 && text[i - 1] == c)
            i--;
        if (c == '.')
            continue;
        assert_null(memchr(text, c, i)); /* one run per label */
        assert_int_equal(vma_tree_insert(&f->tree, &new_vma(f, c, i, end)->node), 0);
        vma_tree_validate(&f->tree);
    }
}

static void layout(struct fixture *f, const char *text)
{
    layout_unit(f, text, PAGE);
}

static char label_of(const struct vma_node *node)
{
    return node ? vma_tree_entry(node, struct tvma, node)->label : '-';
}

/* The node labelled `label`, which must be in the tree. */
static struct vma_node *node_of(struct fixture *f, char label)
{
    for (struct vma_node *n = f->tree.first; n; n = n->next)
        if (label_of(n) == label)
            return n;
    fail_msg("no node %c", label);
    return NULL;
}

/* The tree drawn as a string of `len` units (nodes must lie on unit boundaries and
 * inside those units).  Walks the list; vma_tree_validate() ties it to the tree. */
static const char *dump(struct fixture *f, size_t len)
{
    assert_true(len <= MAX_LAYOUT);
    memset(f->text, '.', len);
    f->text[len] = '\0';
    for (struct vma_node *n = f->tree.first; n; n = n->next) {
        assert_int_equal(n->start % f->unit, 0);
        assert_int_equal(n->end % f->unit, 0);
        assert_true(n->end / f->unit <= len);
        memset(f->text + n->start / f->unit, label_of(n), (n->end - n->start) / f->unit);
    }
    return f->text;
}

/* Set a guard (in units) on the node labelled `label` and tell the tree. */
static void set_guards(struct fixture *f, char label, uint64_t below, uint64_t above)
{
    struct vma_node *n = node_of(f, label);
    n->guard_below = U(f, below);
    n->guard_above = U(f, above);
    vma_tree_adjusted(&f->tree, n);
    vma_tree_validate(&f->tree);
}

/* Result of a gap search, in bytes, or the negative error. */
static int64_t gap_search(struct fixture *f, bool topdown, uint64_t length,
                          uint64_t low, uint64_t high, uint64_t align_mask,
                          uint64_t align_offset)
{
    struct vma_gap_request req = {.length = length, .low_limit = low, .high_limit = high,
                                  .align_mask = align_mask, .align_offset = align_offset};
    uint64_t addr = 0xdeadbeef;
    int rc = topdown ? vma_tree_gap_topdown(&f->tree, &req, &addr)
                     : vma_tree_gap_bottomup(&f->tree, &req, &addr);
    return rc ? rc : (int64_t)addr;
}

/* Unaligned searches with length and limits in units; result in units or -errno. */
static int64_t topdown(struct fixture *f, uint64_t len, uint64_t low, uint64_t high)
{
    int64_t r = gap_search(f, true, U(f, len), U(f, low), U(f, high), 0, 0);
    return r < 0 ? r : r / (int64_t)f->unit;
}

static int64_t bottomup(struct fixture *f, uint64_t len, uint64_t low, uint64_t high)
{
    int64_t r = gap_search(f, false, U(f, len), U(f, low), U(f, high), 0, 0);
    return r < 0 ? r : r / (int64_t)f->unit;
}

/* ---- building, inserting, removing --------------------------------------------- */

static void test_layout_round_trip(void **state)
{
    struct fixture *f = *state;
    /*   0    4    8   12   16   20   (pages)
     *   |AAAA|    |BB  |   CCCC|       */
    layout(f, "AAAA....BB......CCCC");
    assert_string_equal(dump(f, 20), "AAAA....BB......CCCC");
    assert_int_equal(f->tree.count, 3);
    assert_int_equal(label_of(f->tree.first), 'A');
    assert_int_equal(label_of(f->tree.last), 'C');
    assert_int_equal(label_of(node_of(f, 'B')->prev), 'A');
    assert_int_equal(label_of(node_of(f, 'B')->next), 'C');
    /* own gaps: A 0, B 4 pages, C 6 pages */
    assert_int_equal(f->tree.root->subtree_gap, 6 * PAGE);
}

static void test_insert_overlap_is_eexist(void **state)
{
    struct fixture *f = *state;
    /*   0    4    8   12
     *   ..AAAA..BB..          */
    layout(f, "..AAAA..BB..");
    static const uint64_t clash[][2] = {
        {0, 3}, {2, 6}, {3, 4}, {5, 7}, {5, 9}, {1, 12}, {9, 10}, {9, 11}, {7, 9},
    };
    for (size_t i = 0; i < sizeof(clash) / sizeof(clash[0]); i++) {
        struct tvma *v = new_vma(f, 'x', clash[i][0], clash[i][1]);
        assert_int_equal(vma_tree_insert(&f->tree, &v->node), -EEXIST);
        assert_string_equal(dump(f, 12), "..AAAA..BB..");
        assert_int_equal(f->tree.count, 2);
        vma_tree_validate(&f->tree);
    }
    /* byte-granular: one byte of overlap is enough, touching is not */
    struct tvma *v = new_vma(f, 'y', 0, 0);
    v->node.start = U(f, 6) - 1;
    v->node.end = U(f, 7);
    assert_int_equal(vma_tree_insert(&f->tree, &v->node), -EEXIST);
    v->node.start = U(f, 6);
    v->node.end = U(f, 8);
    assert_int_equal(vma_tree_insert(&f->tree, &v->node), 0);
    assert_int_equal(vma_tree_insert(&f->tree, &new_vma(f, 'z', 0, 2)->node), 0);
    assert_int_equal(vma_tree_insert(&f->tree, &new_vma(f, 'w', 10, 12)->node), 0);
    assert_string_equal(dump(f, 12), "zzAAAAyyBBww");
    vma_tree_validate(&f->tree);
}

static void test_remove_first_middle_last(void **state)
{
    struct fixture *f = *state;
    layout(f, "AA.BB.CC.DD.EE.FF.GG");
    vma_tree_remove(&f->tree, node_of(f, 'A'));
    vma_tree_validate(&f->tree);
    assert_string_equal(dump(f, 20), "...BB.CC.DD.EE.FF.GG");
    vma_tree_remove(&f->tree, node_of(f, 'G'));
    vma_tree_validate(&f->tree);
    assert_string_equal(dump(f, 20), "...BB.CC.DD.EE.FF...");
    vma_tree_remove(&f->tree, node_of(f, 'D'));
    vma_tree_validate(&f->tree);
    assert_string_equal(dump(f, 20), "...BB.CC....EE.FF...");
    assert_int_equal(f->tree.root->subtree_gap, 4 * PAGE); /* below E */
    assert_int_equal(f->tree.count, 4);
    vma_tree_remove(&f->tree, f->tree.root);
    vma_tree_validate(&f->tree);
    assert_int_equal(f->tree.count, 3);
    while (f->tree.root) {
        vma_tree_remove(&f->tree, f->tree.first);
        vma_tree_validate(&f->tree);
    }
    assert_null(f->tree.first);
    assert_null(f->tree.last);
    assert_int_equal(f->tree.count, 0);
}

/* Insert `n` one-page nodes with one-page holes in the order given by `order`, then
 * remove them in the order given by `removal`, validating after every step. */
static void insert_remove_in_order(struct fixture *f, const size_t *order,
                                   const size_t *removal, size_t n)
{
    struct tvma *v = &f->pool[0];
    for (size_t i = 0; i < n; i++) {
        size_t k = order[i];
        v[k].label = 'n';
        v[k].node.start = U(f, 2 * k + 1);
        v[k].node.end = U(f, 2 * k + 2);
        assert_int_equal(vma_tree_insert(&f->tree, &v[k].node), 0);
        vma_tree_validate(&f->tree);
    }
    assert_int_equal(f->tree.count, n);
    assert_int_equal(f->tree.root->subtree_gap, PAGE);
    for (size_t i = 0; i < n; i++) {
        vma_tree_remove(&f->tree, &v[removal[i]].node);
        vma_tree_validate(&f->tree);
    }
    assert_null(f->tree.root);
}

/* xorshift64*: a fixed-seed generator, identical on every libc. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static uint64_t rnd_below(uint64_t n)
{
    return rnd() % n;
}

static void shuffle(size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd_below(i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static void test_insert_remove_orders(void **state)
{
    struct fixture *f = *state;
    enum { N = 200 };
    size_t up[N], down[N], middle_out[N], random_a[N], random_b[N];
    rng_state = 0x5eed0001;
    for (size_t i = 0; i < N; i++) {
        up[i] = i;
        down[i] = N - 1 - i;
        middle_out[i] = i % 2 ? N / 2 + i / 2 : N / 2 - 1 - i / 2;
        random_a[i] = random_b[i] = i;
    }
    shuffle(random_a, N);
    shuffle(random_b, N);
    const size_t *orders[] = {up, down, middle_out, random_a, random_b};
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 5; b++)
            insert_remove_in_order(f, orders[a], orders[b], N);
}

/* ---- lookups ------------------------------------------------------------------- */

/*   0    4    8   12   16
 *   ..AAAA..BBCC....D        (B and C touch) */
static const char find_layout[] = "..AAAA..BBCC....D";

static void test_find_at_every_boundary(void **state)
{
    struct fixture *f = *state;
    layout(f, find_layout);
    /* per page: find_vma() result, containing node, and find_vma_prev()'s prev */
    static const char find[] = "AAAAAABBBBCCDDDDD-";
    static const char look[] = "..AAAA..BBCC....D-";
    static const char prev[] = "------AAAABBCCCCCD";
    for (uint64_t p = 0; p < sizeof(find) - 1; p++) {
        uint64_t edges[] = {U(f, p), U(f, p) + 1, U(f, p + 1) - 1};
        for (size_t e = 0; e < 3; e++) {
            struct vma_node *pp = (struct vma_node *)1;
            assert_int_equal(label_of(vma_tree_find(&f->tree, edges[e])), find[p]);
            assert_int_equal(label_of(vma_tree_find_prev(&f->tree, edges[e], &pp)), find[p]);
            assert_int_equal(label_of(pp), prev[p]);
            char expect = look[p] == '.' ? '-' : look[p];
            assert_int_equal(label_of(vma_tree_lookup(&f->tree, edges[e])), expect);
        }
    }
    assert_null(vma_tree_find(&f->tree, UINT64_MAX));
}

/* First label in find_layout[start..end), the brute-force intersection. */
static char first_label_in(uint64_t start, uint64_t end)
{
    for (uint64_t p = start; p < end && p < sizeof(find_layout) - 1; p++)
        if (find_layout[p] != '.')
            return find_layout[p];
    return '-';
}

static void test_find_intersection(void **state)
{
    struct fixture *f = *state;
    layout(f, find_layout);
    /* every pair of page boundaries, against the drawing */
    for (uint64_t s = 0; s <= 20; s++)
        for (uint64_t e = 0; e <= 20; e++)
            assert_int_equal(
                label_of(vma_tree_find_intersection(&f->tree, U(f, s), U(f, e))),
                first_label_in(s, e));
    /* byte edges */
    assert_int_equal(label_of(vma_tree_find_intersection(&f->tree, U(f, 6) - 1, U(f, 6))), 'A');
    assert_int_equal(label_of(vma_tree_find_intersection(&f->tree, U(f, 6), U(f, 8))), '-');
    assert_int_equal(label_of(vma_tree_find_intersection(&f->tree, U(f, 6), U(f, 8) + 1)), 'B');
    assert_int_equal(label_of(vma_tree_find_intersection(&f->tree, U(f, 10) - 1, U(f, 10))), 'B');
    assert_int_equal(label_of(vma_tree_find_intersection(&f->tree, U(f, 10), U(f, 10) + 1)), 'C');
    assert_int_equal(label_of(vma_tree_find_intersection(&f->tree, U(f, 3), U(f, 3))), '-');
    assert_int_equal(label_of(vma_tree_find_intersection(&f->tree, 0, UINT64_MAX)), 'A');
}

/* ---- gap search ---------------------------------------------------------------- */

static void test_gap_search_basic(void **state)
{
    struct fixture *f = *state;
    /*   0    4    8   12   16   20
     *   AAAA....BB......CCCC          gaps [4,8) and [10,16) */
    layout(f, "AAAA....BB......CCCC");
    assert_int_equal(topdown(f, 2, 0, 20), 14);
    assert_int_equal(topdown(f, 6, 0, 20), 10);
    assert_int_equal(topdown(f, 7, 0, 20), -ENOMEM);
    assert_int_equal(topdown(f, 4, 0, 14), 10);
    assert_int_equal(topdown(f, 4, 0, 13), 4);
    assert_int_equal(topdown(f, 2, 0, 15), 13);
    assert_int_equal(topdown(f, 2, 11, 13), 11);
    assert_int_equal(topdown(f, 2, 5, 9), 6);
    assert_int_equal(topdown(f, 2, 7, 9), -ENOMEM);
    assert_int_equal(bottomup(f, 2, 0, 20), 4);
    assert_int_equal(bottomup(f, 5, 0, 20), 10);
    assert_int_equal(bottomup(f, 2, 5, 20), 5);
    assert_int_equal(bottomup(f, 2, 7, 20), 10);
    assert_int_equal(bottomup(f, 2, 13, 16), 13);
    assert_int_equal(bottomup(f, 7, 0, 20), -ENOMEM);
    /* byte-granular limits */
    assert_int_equal(gap_search(f, true, PAGE, 0, U(f, 16) - 1, 0, 0), (int64_t)(U(f, 15) - 1));
    assert_int_equal(gap_search(f, false, PAGE, U(f, 4) + 1, U(f, 20), 0, 0),
                     (int64_t)(U(f, 4) + 1));
}

static void test_gap_above_last(void **state)
{
    struct fixture *f = *state;
    /*   0    4    8
     *   AAAA..BB......... (free to the top of the address space) */
    layout(f, "AAAA..BB");
    assert_int_equal(topdown(f, 3, 0, 100), 97);
    assert_int_equal(bottomup(f, 3, 0, 100), 8);
    assert_int_equal(bottomup(f, 2, 0, 100), 4);
    assert_int_equal(topdown(f, 3, 0, 10), -ENOMEM);
    assert_int_equal(topdown(f, 2, 0, 10), 8);
    /* up to the very last byte */
    assert_int_equal(gap_search(f, true, PAGE, 0, UINT64_MAX, 0, 0),
                     (int64_t)(UINT64_MAX - PAGE));
    assert_int_equal(gap_search(f, true, PAGE, 0, UINT64_MAX, PAGE - 1, 0),
                     (int64_t)(UINT64_MAX - 2 * PAGE + 1));
}

static void test_gap_below_first(void **state)
{
    struct fixture *f = *state;
    /*   0    4    8
     *   ......AAAA          */
    layout(f, "......AAAA");
    assert_int_equal(topdown(f, 3, 0, 6), 3);
    assert_int_equal(topdown(f, 6, 0, 10), 0);
    assert_int_equal(bottomup(f, 3, 0, 100), 0);
    assert_int_equal(bottomup(f, 3, 1, 100), 1);
    assert_int_equal(bottomup(f, 6, 1, 100), 10);
    assert_int_equal(topdown(f, 7, 0, 10), -ENOMEM);
}

static void test_gap_empty_tree(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(topdown(f, 1, 0, 10), 9);
    assert_int_equal(bottomup(f, 1, 3, 10), 3);
    assert_int_equal(topdown(f, 10, 0, 10), 0);
    assert_int_equal(topdown(f, 11, 0, 10), -ENOMEM);
    assert_int_equal(bottomup(f, 2, 9, 10), -ENOMEM);
    assert_int_equal(topdown(f, 1, 5, 4), -ENOMEM);
    assert_int_equal(gap_search(f, false, UINT64_MAX, 1, UINT64_MAX, 0, 0), -ENOMEM);
    assert_int_equal(gap_search(f, false, UINT64_MAX, 0, UINT64_MAX, 0, 0), 0);
}

static void test_gap_enomem_when_full(void **state)
{
    struct fixture *f = *state;
    layout(f, "AAAABBBBCCCC");
    assert_int_equal(f->tree.root->subtree_gap, 0);
    assert_int_equal(topdown(f, 1, 0, 12), -ENOMEM);
    assert_int_equal(bottomup(f, 1, 0, 12), -ENOMEM);
    assert_int_equal(bottomup(f, 1, 0, 13), 12);
    vma_tree_remove(&f->tree, node_of(f, 'B'));
    /*   AAAA....CCCC: an exact fit */
    assert_int_equal(topdown(f, 4, 0, 12), 4);
    assert_int_equal(bottomup(f, 4, 0, 12), 4);
    assert_int_equal(topdown(f, 5, 0, 12), -ENOMEM);
}

static void test_gap_alignment(void **state)
{
    struct fixture *f = *state;
    const uint64_t thp = 2 * MiB - 1; /* like Linux's PMD alignment */
    /* one character = 512 KiB, so '|' (2 MiB) every 4 characters:
     *   0   4   8   12  16  20
     *   |   |   |   |   |   |
     *   .AA......BB.....CC         gaps [0,1) [3,9) [11,16) */
    layout_unit(f, ".AA......BB.....CC", 512 * 1024);
    assert_int_equal(gap_search(f, true, MiB, 0, U(f, 16), 0, 0), (int64_t)U(f, 14));
    assert_int_equal(gap_search(f, true, MiB, 0, U(f, 16), thp, 0), (int64_t)U(f, 12));
    assert_int_equal(gap_search(f, false, MiB, 0, U(f, 16), 0, 0), (int64_t)U(f, 3));
    assert_int_equal(gap_search(f, false, MiB, 0, U(f, 16), thp, 0), (int64_t)U(f, 4));
    /* 2 MiB aligned 2 MiB: fits in [11,16) although it is shorter than
     * length + align_mask (exact search, not Linux's conservative one) */
    assert_int_equal(gap_search(f, true, 2 * MiB, 0, U(f, 16), thp, 0), (int64_t)U(f, 12));
    assert_int_equal(gap_search(f, false, 2 * MiB, 0, U(f, 16), thp, 0), (int64_t)U(f, 4));
    assert_int_equal(gap_search(f, true, 2 * MiB, 0, U(f, 15), thp, 0), (int64_t)U(f, 4));
    /* align_offset: addresses that are 512 KiB past a 2 MiB boundary */
    assert_int_equal(gap_search(f, true, MiB, 0, U(f, 16), thp, U(f, 1)), (int64_t)U(f, 13));
    assert_int_equal(gap_search(f, false, MiB, 0, U(f, 16), thp, U(f, 1)), (int64_t)U(f, 5));
    /* align_offset larger than the alignment acts modulo it */
    assert_int_equal(gap_search(f, false, MiB, 0, U(f, 16), thp, U(f, 9)), (int64_t)U(f, 5));
    /* alignment with limits */
    assert_int_equal(gap_search(f, false, MiB, U(f, 5), U(f, 16), thp, 0), (int64_t)U(f, 12));
    assert_int_equal(gap_search(f, true, MiB, 0, U(f, 13), thp, 0), (int64_t)U(f, 4));
    /* the top gap, aligned */
    assert_int_equal(gap_search(f, true, MiB, 0, U(f, 23), thp, 0), (int64_t)U(f, 20));
}

static void test_gap_alignment_enomem(void **state)
{
    struct fixture *f = *state;
    const uint64_t thp = 2 * MiB - 1;
    /*   0   4   8   12  16
     *   |   |   |   |   |
     *   A.BBBBB.CCCCC.DD        one-unit holes at 1, 7, 13: none 2 MiB aligned */
    layout_unit(f, "A.BBBBB.CCCCC.DD", 512 * 1024);
    assert_int_equal(gap_search(f, true, 512 * 1024, 0, U(f, 16), 0, 0), (int64_t)U(f, 13));
    assert_int_equal(gap_search(f, true, 512 * 1024, 0, U(f, 16), thp, 0), -ENOMEM);
    assert_int_equal(gap_search(f, false, 512 * 1024, 0, U(f, 16), thp, 0), -ENOMEM);
    assert_int_equal(gap_search(f, false, 512 * 1024, 0, U(f, 16), thp, U(f, 3)),
                     (int64_t)U(f, 7));
    assert_int_equal(gap_search(f, false, 512 * 1024, 0, U(f, 20), thp, 0), (int64_t)U(f, 16));
}

static void test_gap_alignment_near_zero(void **state)
{
    struct fixture *f = *state;
    /*   0   4   8
     *   .AAAAAAA            aligning down from 0 must not wrap around */
    layout(f, ".AAAAAAA");
    uint64_t mask = 4 * PAGE - 1;
    assert_int_equal(gap_search(f, true, PAGE, 0, U(f, 8), mask, U(f, 2)), -ENOMEM);
    assert_int_equal(gap_search(f, true, PAGE, 0, U(f, 8), mask, 0), 0);
    assert_int_equal(gap_search(f, true, PAGE, 0, U(f, 20), mask, U(f, 2)), (int64_t)U(f, 18));
    assert_int_equal(gap_search(f, false, PAGE, 0, U(f, 20), mask, U(f, 2)), (int64_t)U(f, 10));
}

static void test_gap_stack_guard(void **state)
{
    struct fixture *f = *state;
    /* one character = 64 pages; S is a growsdown stack with Linux's 256-page guard:
     *   0   4   8   12  16
     *   AA..........SSSS        S's guard covers [8,12): the gap below S is [2,8) */
    layout_unit(f, "AA..........SSSS", 64 * PAGE);
    set_guards(f, 'S', 4, 0);
    assert_int_equal(topdown(f, 2, 0, 16), 6);
    assert_int_equal(topdown(f, 6, 0, 16), 2);
    assert_int_equal(topdown(f, 7, 0, 16), -ENOMEM);
    assert_int_equal(topdown(f, 1, 8, 12), -ENOMEM); /* the hole just below S */
    assert_int_equal(bottomup(f, 1, 8, 100), 16);     /* nothing guarded above S */
    assert_int_equal(bottomup(f, 1, 0, 100), 2);
    /* find and lookup ignore guards */
    assert_int_equal(label_of(vma_tree_find(&f->tree, U(f, 10))), 'S');
    assert_null(vma_tree_lookup(&f->tree, U(f, 10)));
    /* dropping the guard frees the hole again */
    set_guards(f, 'S', 0, 0);
    assert_int_equal(topdown(f, 1, 8, 12), 11);
}

static void test_gap_guard_clamps(void **state)
{
    struct fixture *f = *state;
    /*   0    4    8
     *   ..SS......UU..BB    S: guard below larger than its start (clamps at 0);
     *                       U: growsup, guard above 3 units reaching into [12,15) */
    layout(f, "..SS......UU..BB");
    set_guards(f, 'S', 100, 0);
    assert_int_equal(topdown(f, 1, 0, 4), -ENOMEM); /* gap below the first node is gone */
    set_guards(f, 'U', 0, 3);
    assert_int_equal(topdown(f, 1, 0, 16), 9);       /* [12,14) lies in U's guard */
    assert_int_equal(bottomup(f, 1, 11, 20), 16);
    set_guards(f, 'U', 0, 1);
    assert_int_equal(bottomup(f, 1, 10, 16), 13);
    /* guards of two neighbours overlapping: no gap at all between them */
    set_guards(f, 'B', 2, 0);
    assert_int_equal(bottomup(f, 1, 10, 16), -ENOMEM);
    /* a guard above reaching past the top of the address space saturates */
    set_guards(f, 'B', 2, UINT64_MAX / PAGE);
    assert_int_equal(vma_node_end_gap(node_of(f, 'B')), UINT64_MAX);
    assert_int_equal(topdown(f, 1, 0, 1000), 9);
    assert_int_equal(bottomup(f, 1, 12, 1000), -ENOMEM);
}

static void test_adjusted_stack_growth(void **state)
{
    struct fixture *f = *state;
    /*   0    4    8   12   16
     *   AA........SSSS..BB       S growsdown with a 2-unit guard */
    layout(f, "AA........SSSS..BB");
    set_guards(f, 'S', 2, 0);
    assert_int_equal(topdown(f, 2, 0, 16), 14);      /* [14,16) below B */
    assert_int_equal(topdown(f, 3, 0, 16), 5);       /* [2,8) below S's guard */
    /* the stack grows down by 3 pages */
    struct vma_node *s = node_of(f, 'S');
    s->start -= U(f, 3);
    vma_tree_adjusted(&f->tree, s);
    vma_tree_validate(&f->tree);
    assert_string_equal(dump(f, 18), "AA.....SSSSSSS..BB");
    assert_int_equal(label_of(vma_tree_lookup(&f->tree, U(f, 7))), 'S');
    assert_int_equal(topdown(f, 3, 0, 16), 2);
    assert_int_equal(topdown(f, 4, 0, 16), -ENOMEM);
    /* and shrinks back past where it started */
    s->start += U(f, 5);
    vma_tree_adjusted(&f->tree, s);
    vma_tree_validate(&f->tree);
    assert_string_equal(dump(f, 18), "AA..........SS..BB");
    assert_int_equal(topdown(f, 3, 0, 16), 7);
    assert_int_equal(topdown(f, 8, 0, 16), 2);
    /* the end of A shrinks, the end of S grows: both move the next node's gap */
    struct vma_node *a = node_of(f, 'A');
    a->end -= U(f, 1);
    vma_tree_adjusted(&f->tree, a);
    s->end += U(f, 2);
    vma_tree_adjusted(&f->tree, s);
    vma_tree_validate(&f->tree);
    assert_string_equal(dump(f, 18), "A...........SSSSBB");
    assert_int_equal(topdown(f, 9, 0, 16), 1);
    assert_int_equal(bottomup(f, 1, 14, 18), -ENOMEM);
}

static void test_adjusted_deep_in_tree(void **state)
{
    struct fixture *f = *state;
    /* 60 one-page nodes with one-page holes; shrinking one makes the only 3-page gap,
     * which must reach the root's subtree_gap */
    char text[121];
    for (int i = 0; i < 60; i++) {
        text[2 * i] = '.';
        text[2 * i + 1] = (char)(i < 26 ? 'A' + i : i < 52 ? 'a' + i - 26 : '0' + i - 52);
    }
    text[120] = '\0';
    layout(f, text);
    assert_int_equal(f->tree.root->subtree_gap, PAGE);
    for (char label = 'A'; label <= 'Z'; label++) {
        struct vma_node *n = node_of(f, label);
        n->end += PAGE; /* fill the hole above: the next gap vanishes */
        vma_tree_adjusted(&f->tree, n);
        vma_tree_validate(&f->tree);
        assert_int_equal(f->tree.root->subtree_gap, PAGE);
        n->end -= PAGE;
        vma_tree_adjusted(&f->tree, n);
    }
    struct vma_node *k = node_of(f, 'k'); /* node 36, [73,74) */
    vma_tree_remove(&f->tree, k);
    vma_tree_validate(&f->tree);
    assert_int_equal(f->tree.root->subtree_gap, 3 * PAGE);
    assert_int_equal(topdown(f, 3, 0, 120), 72);
    assert_int_equal(bottomup(f, 2, 0, 120), 72);
    assert_int_equal(topdown(f, 2, 0, 72), -ENOMEM);
}

/* ---- random operations against a brute-force model ------------------------------- */

enum { SPACE = 256, TOP = 320, POOL = 256 };

/* The model: which node owns each page of [0, SPACE); guards live in the nodes. */
struct model {
    int owner[SPACE];
    bool in_tree[POOL];
};

/* Where the gap below a node may reach up to, guard clamped at 0 (written
 * independently of the library's helper). */
static uint64_t model_start_gap(uint64_t start, uint64_t guard_below)
{
    return guard_below >= start ? 0 : start - guard_below;
}

/* Where the gap above a node may begin, saturated at UINT64_MAX. */
static uint64_t model_end_gap(uint64_t end, uint64_t guard_above)
{
    return guard_above > UINT64_MAX - end ? UINT64_MAX : end + guard_above;
}

/* Mark free_page[q] for the units q < TOP lying wholly inside a gap, computed from the
 * model's runs of owners and the nodes' guards only. */
static void model_free_map(struct fixture *f, const struct model *m, bool *free_page)
{
    int owner[SPACE];
    uint64_t start[SPACE], end[SPACE];
    size_t count = 0;
    for (uint64_t p = 0; p < SPACE; p++) {
        int o = m->owner[p];
        if (o < 0)
            continue;
        if (count && owner[count - 1] == o && end[count - 1] == p) {
            end[count - 1] = p + 1;
            continue;
        }
        owner[count] = o;
        start[count] = p;
        end[count++] = p + 1;
    }
    memset(free_page, 0, TOP * sizeof(*free_page));
    for (size_t i = 0; i <= count; i++) {
        uint64_t lo = i ? model_end_gap(U(f, end[i - 1]), f->pool[owner[i - 1]].node.guard_above)
                        : 0;
        uint64_t hi = i < count
                          ? model_start_gap(U(f, start[i]), f->pool[owner[i]].node.guard_below)
                          : UINT64_MAX;
        for (uint64_t q = lo / f->unit + (lo % f->unit != 0); q < TOP && U(f, q) + f->unit <= hi;
             q++)
            free_page[q] = true;
    }
}

/* Brute-force gap search over unit addresses, using `free_before[q]` = free units
 * below q; -ENOMEM or the address in bytes. */
static int64_t model_gap(struct fixture *f, const unsigned *free_before,
                         const struct vma_gap_request *req, bool top)
{
    int64_t found = -ENOMEM;
    uint64_t len = req->length / f->unit;
    for (uint64_t a = 0; a + len <= TOP; a++) {
        uint64_t addr = U(f, a);
        if (addr < req->low_limit || addr + req->length > req->high_limit)
            continue;
        if ((addr - req->align_offset) & req->align_mask)
            continue;
        if (free_before[a + len] - free_before[a] != len)
            continue;
        if (top || found < 0)
            found = (int64_t)addr;
    }
    return found;
}

/* Compare the tree with the model: the list, find/lookup and gap searches. */
static void check_against_model(struct fixture *f, const struct model *m)
{
    static bool free_page[TOP];
    static unsigned free_before[TOP + 1];
    vma_tree_validate(&f->tree);
    struct vma_node *n = f->tree.first;
    for (uint64_t p = 0; p < SPACE; p++) {
        while (n && n->end <= U(f, p))
            n = n->next;
        int o = n && n->start <= U(f, p) ? (int)(vma_tree_entry(n, struct tvma, node) - f->pool) : -1;
        assert_int_equal(o, m->owner[p]);
        struct vma_node *look = vma_tree_lookup(&f->tree, U(f, p));
        assert_int_equal(look ? vma_tree_entry(look, struct tvma, node) - f->pool : -1, o);
    }
    model_free_map(f, m, free_page);
    for (uint64_t q = 0; q < TOP; q++)
        free_before[q + 1] = free_before[q] + free_page[q];
    for (int q = 0; q < 4; q++) {
        uint64_t align = (uint64_t[]){0, 1, 2, 4, 8, 16}[rnd_below(6)];
        uint64_t low = rnd_below(TOP), high = low + rnd_below(TOP + 1 - low);
        struct vma_gap_request req = {
            .length = U(f, 1 + rnd_below(q < 2 ? 4 : 16)),
            .low_limit = U(f, low), .high_limit = U(f, high),
            .align_mask = align ? U(f, align) - 1 : 0, .align_offset = U(f, rnd_below(16))};
        uint64_t addr;
        int rc = vma_tree_gap_topdown(&f->tree, &req, &addr);
        assert_int_equal(rc ? rc : (int64_t)addr, model_gap(f, free_before, &req, true));
        rc = vma_tree_gap_bottomup(&f->tree, &req, &addr);
        assert_int_equal(rc ? rc : (int64_t)addr, model_gap(f, free_before, &req, false));
    }
}

/* A random guard: mostly none, sometimes a few units, rarely enormous. */
static uint64_t random_guard(struct fixture *f)
{
    uint64_t r = rnd_below(100);
    if (r < 70)
        return 0;
    if (r < 95)
        return U(f, 1 + rnd_below(6));
    return r < 98 ? U(f, 1000) : UINT64_MAX - rnd_below(3);
}

static void model_set(struct model *m, uint64_t start, uint64_t end, int owner)
{
    for (uint64_t p = start; p < end; p++)
        m->owner[p] = owner;
}

/* Insert pool node k at a random place; -EEXIST exactly when the model overlaps. */
static void random_insert(struct fixture *f, struct model *m, int k)
{
    uint64_t start = rnd_below(SPACE), end = start + 1 + rnd_below(8);
    if (end > SPACE)
        end = SPACE;
    bool clash = false;
    for (uint64_t p = start; p < end; p++)
        clash = clash || m->owner[p] >= 0;
    struct vma_node *n = &f->pool[k].node;
    memset(n, 0, sizeof(*n));
    n->start = U(f, start);
    n->end = U(f, end);
    n->guard_below = random_guard(f);
    n->guard_above = random_guard(f);
    assert_int_equal(vma_tree_insert(&f->tree, n), clash ? -EEXIST : 0);
    if (!clash) {
        model_set(m, start, end, k);
        m->in_tree[k] = true;
    }
}

/* Move the edges or guards of pool node k within its neighbours. */
static void random_adjust(struct fixture *f, struct model *m, int k)
{
    struct vma_node *n = &f->pool[k].node;
    uint64_t start = n->start / f->unit, end = n->end / f->unit;
    uint64_t lo = n->prev ? n->prev->end / f->unit : 0;
    uint64_t hi = n->next ? n->next->start / f->unit : SPACE;
    uint64_t new_start = start, new_end = end;
    switch (rnd_below(3)) {
    case 0: /* move the start within [lo, end) */
        new_start = lo + rnd_below(end - lo);
        break;
    case 1: /* move the end within (start, hi] */
        new_end = start + 1 + rnd_below(hi - start);
        break;
    default: /* move both anywhere between the neighbours */
        new_start = lo + rnd_below(hi - lo);
        new_end = new_start + 1 + rnd_below(hi - new_start);
        break;
    }
    model_set(m, start, end, -1);
    model_set(m, new_start, new_end, k);
    n->start = U(f, new_start);
    n->end = U(f, new_end);
    if (rnd_below(4) == 0)
        n->guard_below = random_guard(f);
    if (rnd_below(4) == 0)
        n->guard_above = random_guard(f);
    vma_tree_adjusted(&f->tree, n);
}

static void test_random_operations(void **state)
{
    struct fixture *f = *state;
    static struct model m;
    rng_state = 0x9a60da;
    memset(m.in_tree, 0, sizeof(m.in_tree));
    model_set(&m, 0, SPACE, -1);
    for (int op = 0; op < 10000; op++) {
        int k = (int)rnd_below(POOL);
        uint64_t what = rnd_below(10);
        if (!m.in_tree[k]) {
            random_insert(f, &m, k);
        } else if (what < 4) {
            struct vma_node *n = &f->pool[k].node;
            model_set(&m, n->start / f->unit, n->end / f->unit, -1);
            vma_tree_remove(&f->tree, n);
            m.in_tree[k] = false;
        } else {
            random_adjust(f, &m, k);
        }
        check_against_model(f, &m);
    }
}

/* ---- many nodes ---------------------------------------------------------------- */

static void test_max_map_count_nodes(void **state)
{
    struct fixture *f = *state;
    enum { N = 65530 }; /* Linux's default vm.max_map_count */
    struct tvma *v = calloc(N, sizeof(*v));
    size_t *order = calloc(N, sizeof(*order));
    assert_non_null(v);
    assert_non_null(order);
    rng_state = 0x65530;
    for (size_t i = 0; i < N; i++)
        order[i] = i;
    shuffle(order, N);
    /* node i is page 2i: A.A.A.A. ... */
    for (size_t i = 0; i < N; i++) {
        struct tvma *t = &v[order[i]];
        t->node.start = U(f, 2 * order[i]);
        t->node.end = t->node.start + PAGE;
        assert_int_equal(vma_tree_insert(&f->tree, &t->node), 0);
    }
    vma_tree_validate(&f->tree);
    assert_int_equal(f->tree.count, N);
    for (size_t i = 0; i < N; i++) {
        uint64_t s = U(f, 2 * i);
        assert_ptr_equal(vma_tree_find(&f->tree, s), &v[i].node);
        assert_ptr_equal(vma_tree_find(&f->tree, s + PAGE - 1), &v[i].node);
        assert_ptr_equal(vma_tree_find(&f->tree, s + PAGE), i + 1 < N ? &v[i + 1].node : NULL);
        assert_null(vma_tree_lookup(&f->tree, s + PAGE));
    }
    assert_int_equal(topdown(f, 1, 0, 2 * N), 2 * N - 1);
    assert_int_equal(topdown(f, 1, 0, 2 * N - 1), 2 * N - 3);
    assert_int_equal(topdown(f, 2, 0, 2 * N - 1), -ENOMEM);
    assert_int_equal(bottomup(f, 1, 0, 2 * N), 1);
    assert_int_equal(bottomup(f, 2, 0, 2 * N + 1), 2 * N - 1);
    /* remove the odd nodes in random order: 3-page gaps everywhere */
    for (size_t i = 0; i < N; i++)
        if (order[i] % 2)
            vma_tree_remove(&f->tree, &v[order[i]].node);
    vma_tree_validate(&f->tree);
    assert_int_equal(f->tree.count, N / 2);
    assert_int_equal(bottomup(f, 3, 0, 2 * N), 1);
    assert_int_equal(topdown(f, 3, 0, 2 * N - 2), 2 * N - 7);
    for (size_t i = 0; i < N; i++)
        if (order[i] % 2 == 0)
            vma_tree_remove(&f->tree, &v[order[i]].node);
    vma_tree_validate(&f->tree);
    assert_null(f->tree.root);
    free(order);
    free(v);
}

/* ---- the lookup index ------------------------------------------------------------ */

/* Remove every node of the tree. */
static void empty_tree(struct fixture *f)
{
    while (f->tree.first)
        vma_tree_remove(&f->tree, f->tree.first);
}

/* n one-page nodes with one-page holes, node i at page 2i + 1, inserted in ascending
 * order; calloc'ed, the caller frees after emptying the tree. */
static struct tvma *spaced_nodes(struct fixture *f, size_t n)
{
    struct tvma *v = calloc(n, sizeof(*v));
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        v[i].node.start = U(f, 2 * i + 1);
        v[i].node.end = U(f, 2 * i + 2);
    }
    return v;
}

/* Every find/lookup/find_intersection around the n spaced nodes, as drawn. */
static void check_spaced_lookups(struct fixture *f, const struct tvma *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t s = v[i].node.start, e = v[i].node.end;
        const struct vma_node *next = i + 1 < n ? &v[i + 1].node : NULL;
        assert_ptr_equal(vma_tree_find(&f->tree, s - 1), &v[i].node);
        assert_ptr_equal(vma_tree_find(&f->tree, s), &v[i].node);
        assert_ptr_equal(vma_tree_find(&f->tree, e - 1), &v[i].node);
        assert_ptr_equal(vma_tree_find(&f->tree, e), next);
        assert_null(vma_tree_lookup(&f->tree, s - 1));
        assert_ptr_equal(vma_tree_lookup(&f->tree, e - 1), &v[i].node);
        assert_null(vma_tree_find_intersection(&f->tree, e, e + PAGE));
        assert_ptr_equal(vma_tree_find_intersection(&f->tree, s - PAGE, s + 1), &v[i].node);
    }
}

static void test_index_built_and_dropped_at_thresholds(void **state)
{
    struct fixture *f = *state;
    enum { N = VMA_INDEX_BUILD_AT };
    struct tvma *v = spaced_nodes(f, N);
    for (size_t i = 0; i + 1 < N; i++)
        assert_int_equal(vma_tree_insert(&f->tree, &v[i].node), 0);
    assert_null(f->tree.index); /* 63 nodes: the red-black tree alone */
    assert_int_equal(f->tree.index_height, 0);
    check_spaced_lookups(f, v, N - 1);
    assert_int_equal(vma_tree_insert(&f->tree, &v[N - 1].node), 0);
    assert_non_null(f->tree.index); /* 64: built from the list, 5 leaves under a root */
    assert_int_equal(f->tree.index_height, 2);
    vma_tree_validate(&f->tree);
    check_spaced_lookups(f, v, N);
    /* a failed insertion leaves the index alone */
    struct tvma clash = {.node = {.start = v[10].node.start, .end = v[10].node.end + PAGE}};
    assert_int_equal(vma_tree_insert(&f->tree, &clash.node), -EEXIST);
    vma_tree_validate(&f->tree);
    /* hysteresis: kept down to 32 nodes, dropped below */
    for (size_t i = N; i-- > VMA_INDEX_DROP_BELOW - 1;) {
        assert_non_null(f->tree.index);
        vma_tree_remove(&f->tree, &v[i].node);
        vma_tree_validate(&f->tree);
    }
    assert_int_equal(f->tree.count, VMA_INDEX_DROP_BELOW - 1);
    assert_null(f->tree.index);
    check_spaced_lookups(f, v, VMA_INDEX_DROP_BELOW - 1);
    /* ... and not rebuilt until the tree is back at 64 */
    for (size_t i = VMA_INDEX_DROP_BELOW - 1; i + 1 < N; i++)
        assert_int_equal(vma_tree_insert(&f->tree, &v[i].node), 0);
    assert_null(f->tree.index);
    assert_int_equal(vma_tree_insert(&f->tree, &v[N - 1].node), 0);
    assert_non_null(f->tree.index);
    vma_tree_validate(&f->tree);
    empty_tree(f);
    free(v);
}

/* Grow n nodes at one edge (ascending or descending), check, shrink from the other. */
static void grow_at_edge(struct fixture *f, size_t n, bool ascending, unsigned height)
{
    struct tvma *v = spaced_nodes(f, n);
    for (size_t i = 0; i < n; i++) {
        size_t k = ascending ? i : n - 1 - i;
        assert_int_equal(vma_tree_insert(&f->tree, &v[k].node), 0);
    }
    vma_tree_validate(&f->tree);
    /* splits beside the new entry leave full nodes behind: 3000 entries fill 200
     * leaves of 15 under 15 inner nodes and a root (middle splits: 4 levels) */
    assert_int_equal(f->tree.index_height, height);
    check_spaced_lookups(f, v, n);
    for (size_t i = 0; i < n; i++) {
        vma_tree_remove(&f->tree, &v[ascending ? i : n - 1 - i].node);
        if (i % 97 == 0)
            vma_tree_validate(&f->tree);
    }
    assert_null(f->tree.root);
    assert_null(f->tree.index);
    free(v);
}

static void test_index_edge_growth(void **state)
{
    struct fixture *f = *state;
    grow_at_edge(f, 3000, true, 3);
    grow_at_edge(f, 3000, false, 3);
}

static void test_index_extreme_addresses(void **state)
{
    struct fixture *f = *state;
    enum { N = 100 };
    struct tvma *v = calloc(N, sizeof(*v));
    assert_non_null(v);
    /* node 0 at [0, 1), then one-page nodes, the last ending at UINT64_MAX itself */
    v[0].node.end = 1;
    for (size_t i = 1; i < N; i++) {
        v[i].node.end = UINT64_MAX - (N - 1 - i) * 2 * PAGE;
        v[i].node.start = v[i].node.end - PAGE;
    }
    for (size_t i = 0; i < N; i++)
        assert_int_equal(vma_tree_insert(&f->tree, &v[(i * 37) % N].node), 0);
    assert_non_null(f->tree.index);
    vma_tree_validate(&f->tree);
    assert_ptr_equal(vma_tree_find(&f->tree, 0), &v[0].node);
    assert_ptr_equal(vma_tree_lookup(&f->tree, 0), &v[0].node);
    assert_ptr_equal(vma_tree_find(&f->tree, 1), &v[1].node);
    assert_null(vma_tree_lookup(&f->tree, 1));
    assert_null(vma_tree_find(&f->tree, UINT64_MAX));
    assert_ptr_equal(vma_tree_find(&f->tree, UINT64_MAX - 1), &v[N - 1].node);
    assert_ptr_equal(vma_tree_lookup(&f->tree, UINT64_MAX - PAGE), &v[N - 1].node);
    assert_null(vma_tree_lookup(&f->tree, UINT64_MAX - PAGE - 1));
    assert_ptr_equal(vma_tree_find_intersection(&f->tree, 0, UINT64_MAX), &v[0].node);
    assert_ptr_equal(vma_tree_find_intersection(&f->tree, 1, UINT64_MAX), &v[1].node);
    assert_null(vma_tree_find_intersection(&f->tree, UINT64_MAX - 1, UINT64_MAX - 1));
    struct vma_node *prev = NULL;
    assert_null(vma_tree_find_prev(&f->tree, UINT64_MAX, &prev));
    assert_ptr_equal(prev, &v[N - 1].node);
    /* the last node's end moves down and back up to UINT64_MAX in place */
    v[N - 1].node.end -= 1;
    vma_tree_adjusted(&f->tree, &v[N - 1].node);
    vma_tree_validate(&f->tree);
    assert_null(vma_tree_find(&f->tree, UINT64_MAX - 1));
    v[N - 1].node.end = UINT64_MAX;
    vma_tree_adjusted(&f->tree, &v[N - 1].node);
    vma_tree_validate(&f->tree);
    assert_ptr_equal(vma_tree_find(&f->tree, UINT64_MAX - 1), &v[N - 1].node);
    empty_tree(f);
    free(v);
}

/* Insert the spaced nodes v[from, to) in order, checking the index after each. */
static void insert_range(struct fixture *f, struct tvma *v, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        assert_int_equal(vma_tree_insert(&f->tree, &v[i].node), 0);
        vma_tree_validate(&f->tree);
    }
}

static void test_index_allocation_failure(void **state)
{
    struct fixture *f = *state;
    enum { N = 400, B = VMA_INDEX_BUILD_AT };
    struct tvma *v = spaced_nodes(f, N);
    insert_range(f, v, 0, B - 1);
    /* the build's first allocation (its node table) fails: no index, and the rebuild
     * waits as many updates as the tree has nodes; lookups use the red-black tree */
    f->tree.index_fail_countdown = 1;
    insert_range(f, v, B - 1, B);
    assert_null(f->tree.index);
    assert_int_equal(f->tree.index_retry, B);
    check_spaced_lookups(f, v, B);
    insert_range(f, v, B, 2 * B - 1);
    assert_null(f->tree.index);
    assert_int_equal(f->tree.index_retry, 1);
    /* removals count down too: the 64th update rebuilds */
    vma_tree_remove(&f->tree, &v[2 * B - 2].node);
    assert_non_null(f->tree.index);
    assert_int_equal(f->tree.index_retry, 0);
    vma_tree_validate(&f->tree);
    check_spaced_lookups(f, v, 2 * B - 2);

    /* a failure half way through a build frees what it had built (ASan checks) */
    empty_tree(f);
    insert_range(f, v, 0, B - 1);
    f->tree.index_fail_countdown = 4; /* the table and two nodes, then the third fails */
    insert_range(f, v, B - 1, B);
    assert_null(f->tree.index);
    assert_int_equal(f->tree.index_fail_countdown, 0);
    assert_int_equal(f->tree.index_retry, B);

    /* with an index: the next allocation, the first split's, fails; the index goes */
    empty_tree(f);
    insert_range(f, v, 0, 2 * B);
    assert_non_null(f->tree.index);
    f->tree.index_fail_countdown = 1;
    size_t i = 2 * B;
    while (f->tree.index) {
        assert_true(i < 2 * B + 16); /* a leaf splits within 15 insertions */
        insert_range(f, v, i, i + 1);
        i++;
    }
    assert_int_equal(f->tree.index_retry, i);
    check_spaced_lookups(f, v, i);
    insert_range(f, v, i, N); /* more than i further updates: rebuilt on the way */
    assert_non_null(f->tree.index);
    check_spaced_lookups(f, v, N);

    /* a rebuild pending when the tree falls below VMA_INDEX_DROP_BELOW is forgotten */
    empty_tree(f);
    insert_range(f, v, 0, B - 1);
    f->tree.index_fail_countdown = 1;
    insert_range(f, v, B - 1, B);
    assert_int_equal(f->tree.index_retry, B);
    while (f->tree.count >= VMA_INDEX_DROP_BELOW) {
        assert_int_not_equal(f->tree.index_retry, 0);
        vma_tree_remove(&f->tree, f->tree.first);
    }
    assert_int_equal(f->tree.index_retry, 0);
    vma_tree_validate(&f->tree);
    empty_tree(f);
    free(v);
}

/* ---- the index against a naive model, 100,000 operations --------------------------- */

enum { IDX_SPACE = 1 << 14, IDX_POOL = 4096, IDX_OPS = 100000 };

/* The naive model: the nodes in the tree as pool indices sorted by address in a plain
 * array (linear insert and remove), with their ranges in units kept apart from the
 * nodes, and whether the index should exist. */
struct sorted_model {
    int ids[IDX_POOL];
    size_t count;
    uint64_t start[IDX_POOL], end[IDX_POOL]; /* units */
    uint64_t tag[IDX_POOL];
    bool in_tree[IDX_POOL];
    bool indexed;
};

/* Position of the first model node with end > unit (count when none). */
static size_t model_upper(const struct sorted_model *m, uint64_t unit)
{
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->end[m->ids[mid]] > unit)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The node find_vma() must return for byte address addr, by the model. */
static const struct vma_node *model_find_node(struct fixture *f, const struct tvma *pool,
                                              const struct sorted_model *m, uint64_t addr)
{
    /* end > addr with unit-aligned ends: end > addr / unit */
    size_t pos = model_upper(m, addr / f->unit);
    return pos < m->count ? &pool[m->ids[pos]].node : NULL;
}

/* Compare find, lookup and find_intersection at addr (bytes) with the model. */
static void check_model_at(struct fixture *f, const struct tvma *pool,
                           const struct sorted_model *m, uint64_t addr)
{
    const struct vma_node *want = model_find_node(f, pool, m, addr);
    assert_ptr_equal(vma_tree_find(&f->tree, addr), want);
    bool inside = want && want->start <= addr;
    assert_ptr_equal(vma_tree_lookup(&f->tree, addr), inside ? want : NULL);
    uint64_t end = addr + 3 * f->unit;
    assert_ptr_equal(vma_tree_find_intersection(&f->tree, addr, end),
                     want && want->start < end ? want : NULL);
    /* The summary, from the index's copy when there is one, is the model's node. */
    struct vma_summary sum = {1, 1, 1};
    assert_ptr_equal(vma_tree_find_summary(&f->tree, addr, &sum), want);
    if (want) {
        size_t k = (size_t)((const struct tvma *)want - pool);
        assert_int_equal(sum.start, U(f, m->start[k]));
        assert_int_equal(sum.end, U(f, m->end[k]));
        assert_int_equal(sum.tag, m->tag[k]);
    }
}

/* Insert pool node k somewhere random, usually into a gap: -EEXIST exactly when it
 * overlaps a model node (the first one ending above its start is the only candidate). */
static void model_insert(struct fixture *f, struct tvma *pool, struct sorted_model *m, int k)
{
    uint64_t unit = rnd_below(IDX_SPACE);
    size_t pos = model_upper(m, unit);
    uint64_t lo = pos > 0 ? m->end[m->ids[pos - 1]] : 0;
    uint64_t hi = pos < m->count ? m->start[m->ids[pos]] : IDX_SPACE;
    uint64_t start = unit, end = unit + 1 + rnd_below(8); /* may overlap */
    if (unit < hi && rnd_below(8) != 0) {                 /* inside the gap at unit */
        uint64_t room;
        start = lo + rnd_below(hi - lo);
        room = hi - start < 8 ? hi - start : 8;
        end = start + 1 + rnd_below(room);
    }
    size_t at = model_upper(m, start);
    bool clash = at < m->count && m->start[m->ids[at]] < end;
    struct vma_node *n = &pool[k].node;
    memset(n, 0, sizeof(*n));
    n->start = U(f, start);
    n->end = U(f, end);
    n->tag = rnd_below(1000);
    assert_int_equal(vma_tree_insert(&f->tree, n), clash ? -EEXIST : 0);
    if (clash)
        return;
    memmove(&m->ids[at + 1], &m->ids[at], (m->count - at) * sizeof(m->ids[0]));
    m->ids[at] = k;
    m->count++;
    m->start[k] = start;
    m->end[k] = end;
    m->tag[k] = n->tag;
    m->in_tree[k] = true;
    if (m->count >= VMA_INDEX_BUILD_AT)
        m->indexed = true;
}

/* Remove the model node at position pos. */
static void model_remove(struct fixture *f, struct tvma *pool, struct sorted_model *m, size_t pos)
{
    int k = m->ids[pos];
    vma_tree_remove(&f->tree, &pool[k].node);
    memmove(&m->ids[pos], &m->ids[pos + 1], (m->count - pos - 1) * sizeof(m->ids[0]));
    m->count--;
    m->in_tree[k] = false;
    if (m->count < VMA_INDEX_DROP_BELOW)
        m->indexed = false;
}

/* Move the start and/or end of the model node at pos between its neighbours. */
static void model_adjust(struct fixture *f, struct tvma *pool, struct sorted_model *m, size_t pos)
{
    int k = m->ids[pos];
    uint64_t lo = pos > 0 ? m->end[m->ids[pos - 1]] : 0;
    uint64_t hi = pos + 1 < m->count ? m->start[m->ids[pos + 1]] : IDX_SPACE;
    uint64_t start = m->start[k], end = m->end[k];
    switch (rnd_below(3)) {
    case 0: start = lo + rnd_below(end - lo); break;
    case 1: end = start + 1 + rnd_below(hi - start); break;
    default:
        start = lo + rnd_below(hi - lo);
        end = start + 1 + rnd_below(hi - start);
        break;
    }
    m->start[k] = start;
    m->end[k] = end;
    pool[k].node.start = U(f, start);
    pool[k].node.end = U(f, end);
    vma_tree_adjusted(&f->tree, &pool[k].node);
}

/* The size the random walk heads for in phase `phase`: large and small by turns, so
 * the index is built, split, merged, dropped and rebuilt again and again. */
static size_t phase_target(unsigned phase)
{
    static const size_t targets[] = {1500, 20, 600, 45, 2500, 70, 300, 5};
    return targets[phase % (sizeof(targets) / sizeof(targets[0]))];
}

static void test_index_random_against_model(void **state)
{
    struct fixture *f = *state;
    static struct sorted_model m;
    struct tvma *pool = calloc(IDX_POOL, sizeof(*pool));
    assert_non_null(pool);
    memset(&m, 0, sizeof(m));
    rng_state = 0x1de5;
    for (unsigned op = 0; op < IDX_OPS; op++) {
        size_t target = phase_target(op / 5000);
        uint64_t what = rnd_below(100);
        if (what < 20 && m.count > 0) {
            model_adjust(f, pool, &m, rnd_below(m.count));
        } else if (what < 25 && m.count > 0) { /* a new tag, and its copy in the index */
            int k = m.ids[rnd_below(m.count)];
            m.tag[k] = rnd_below(1000);
            vma_tree_set_tag(&f->tree, &pool[k].node, m.tag[k]);
        } else if ((m.count < target) == (what < 80) || m.count == 0) {
            int k;
            do
                k = (int)rnd_below(IDX_POOL);
            while (m.in_tree[k]);
            model_insert(f, pool, &m, k);
        } else {
            model_remove(f, pool, &m, rnd_below(m.count));
        }
        assert_int_equal(f->tree.count, m.count);
        assert_int_equal(f->tree.index != NULL, m.indexed);
        for (int q = 0; q < 3; q++) {
            uint64_t addr = U(f, rnd_below(IDX_SPACE + 2));
            check_model_at(f, pool, &m, addr + (uint64_t[]){0, 1, f->unit - 1}[q]);
        }
        if (m.count > 0) { /* both edges of a random node */
            int k = m.ids[rnd_below(m.count)];
            check_model_at(f, pool, &m, U(f, m.start[k]) - 1);
            check_model_at(f, pool, &m, U(f, m.end[k]) - 1);
            check_model_at(f, pool, &m, U(f, m.end[k]));
        }
        if (op % 512 == 0)
            vma_tree_validate(&f->tree);
    }
    vma_tree_validate(&f->tree);
    empty_tree(f);
    free(pool);
}

/* ---- vma_tree_validate catches corruption ---------------------------------------- */

enum corruption {
    BAD_GAP, RED_ROOT, RED_RED, BAD_LIST, BAD_COUNT, OVERLAP, BAD_PARENT,
    BAD_INDEX_KEY, LOST_INDEX, STALE_TAG,
};

/* Break one invariant of a small tree. */
static void corrupt(struct fixture *f, enum corruption what)
{
    struct vma_node *root = f->tree.root;
    switch (what) {
    case BAD_GAP: root->subtree_gap++; break;
    case RED_ROOT: root->color = VMA_RED; break;
    case RED_RED: root->left->color = VMA_RED; root->left->left->color = VMA_RED; break;
    case BAD_LIST: f->tree.first->next = f->tree.first->next->next; break;
    case BAD_COUNT: f->tree.count++; break;
    case OVERLAP: node_of(f, 'C')->start -= 2 * PAGE; break;
    case BAD_PARENT: root->left->parent = root->right; break;
    case BAD_INDEX_KEY: f->tree.first->next->index_key++; break;
    case STALE_TAG: f->tree.first->next->tag++; break; /* not through vma_tree_set_tag */
    case LOST_INDEX: /* the child leaks the index; it aborts anyway */
        f->tree.index = NULL;
        f->tree.index_height = 0;
        break;
    }
}

/* In a child process, corrupt the tree and validate: it must abort, naming `invariant`. */
static void expect_validate_abort(struct fixture *f, enum corruption what,
                                  const char *invariant)
{
    int fds[2];
    char message[512] = "";
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL); /* cmocka's handler would resume the test runner */
        dup2(fds[1], STDERR_FILENO);
        corrupt(f, what);
        vma_tree_validate(&f->tree);
        _exit(0);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], message, sizeof(message) - 1);
    message[got > 0 ? got : 0] = '\0';
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    if (!strstr(message, invariant))
        fail_msg("expected \"%s\", got \"%s\"", invariant, message);
}

static void test_validate_catches_corruption(void **state)
{
    struct fixture *f = *state;
    layout(f, "AA.BB.CC.DD.EE.FF.GG");
    expect_validate_abort(f, BAD_GAP, "subtree_gap");
    expect_validate_abort(f, RED_ROOT, "root is black");
    expect_validate_abort(f, RED_RED, "no red node has a red child");
    expect_validate_abort(f, BAD_LIST, "list order equals in-order traversal");
    expect_validate_abort(f, BAD_COUNT, "count");
    expect_validate_abort(f, OVERLAP, "do not overlap");
    expect_validate_abort(f, BAD_PARENT, "parent pointer");
    vma_tree_validate(&f->tree); /* the parent's copy is untouched */
}

static void test_validate_catches_index_corruption(void **state)
{
    struct fixture *f = *state;
    for (uint64_t i = 0; i < 100; i++) {
        struct tvma *v = new_vma(f, 'n', 2 * i + 1, 2 * i + 2);
        assert_int_equal(vma_tree_insert(&f->tree, &v->node), 0);
    }
    assert_non_null(f->tree.index);
    expect_validate_abort(f, BAD_INDEX_KEY, "index: each node is filed under its end");
    expect_validate_abort(f, LOST_INDEX, "has one unless a rebuild waits");
    expect_validate_abort(f, STALE_TAG, "index: a leaf entry holds its node's start and tag");
    vma_tree_validate(&f->tree);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_layout_round_trip),
        T(test_insert_overlap_is_eexist),
        T(test_remove_first_middle_last),
        T(test_insert_remove_orders),
        T(test_find_at_every_boundary),
        T(test_find_intersection),
        T(test_gap_search_basic),
        T(test_gap_above_last),
        T(test_gap_below_first),
        T(test_gap_empty_tree),
        T(test_gap_enomem_when_full),
        T(test_gap_alignment),
        T(test_gap_alignment_enomem),
        T(test_gap_alignment_near_zero),
        T(test_gap_stack_guard),
        T(test_gap_guard_clamps),
        T(test_adjusted_stack_growth),
        T(test_adjusted_deep_in_tree),
        T(test_random_operations),
        T(test_max_map_count_nodes),
        T(test_index_built_and_dropped_at_thresholds),
        T(test_index_edge_growth),
        T(test_index_extreme_addresses),
        T(test_index_allocation_failure),
        T(test_index_random_against_model),
        T(test_validate_catches_corruption),
        T(test_validate_catches_index_corruption),
    };
    return cmocka_run_group_tests_name("vma_tree", tests, NULL, NULL);
}
