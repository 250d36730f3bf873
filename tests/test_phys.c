/*
 * tests/test_phys.c - simulated RAM and the buddy allocator (src/hw/phys.c).
 */
#include "support/support.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pagoda/pte.h>

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define FRAMES_256M 65536u

/* Allocate one block, asserting success; returns its pfn. */
static pfn_t alloc_ok(struct phys *phys, unsigned order, unsigned flags)
{
    pfn_t pfn = ~0ULL;

    assert_int_equal(phys_alloc(phys, order, flags, &pfn), 0);
    return pfn;
}

/* Assert nr_free[0..10] equals `expect` exactly. */
static void assert_nr_free(const struct phys *phys, const uint64_t expect[PHYS_NR_ORDERS])
{
    for (unsigned k = 0; k < PHYS_NR_ORDERS; k++)
        assert_int_equal(phys->nr_free[k], expect[k]);
}

static bool page_is_zero(const struct page *page)
{
    static const struct page zero;
    return memcmp(page, &zero, sizeof(zero)) == 0;
}

static bool bytes_all(const uint8_t *p, size_t n, uint8_t value)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != value)
            return false;
    return true;
}

static uint8_t *frame_bytes(struct phys *phys, pfn_t pfn)
{
    return phys_host(phys, pfn << PAGE_SHIFT);
}

/* ---- death tests: run `fn` in a child; it must abort with `msg` on stderr --------- */

struct death_case {
    struct phys *phys;
    pfn_t pfn;
    unsigned order;
};

typedef void (*death_fn)(const struct death_case *);

static void expect_invariant_abort(death_fn fn, const struct death_case *dc, const char *msg)
{
    char out[1024] = "";
    size_t used = 0;
    ssize_t n;
    int fds[2], status;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        signal(SIGABRT, SIG_DFL);
        fn(dc);
        _exit(0); /* no abort: the parent's checks fail */
    }
    close(fds[1]);
    while (used < sizeof(out) - 1 && (n = read(fds[0], out + used, sizeof(out) - 1 - used)) > 0)
        used += (size_t)n;
    out[used] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status))
        fprintf(stderr, "child exited normally, expected: %s\n", msg);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(out, "pagoda: invariant broken: "));
    if (!strstr(out, msg))
        fprintf(stderr, "child said: %s\n", out);
    assert_non_null(strstr(out, msg));
}

static void do_free(const struct death_case *dc)
{
    phys_free(dc->phys, dc->pfn, dc->order);
}

/* Write one byte into a freed (poisoned) frame, then allocate it again. */
static void do_write_then_alloc(const struct death_case *dc)
{
    pfn_t pfn;

    frame_bytes(dc->phys, dc->pfn)[100] = 0x42;
    (void)phys_alloc(dc->phys, dc->order, 0, &pfn);
}

/* ---- creation ------------------------------------------------------------------ */

/* 256 MiB boots as 65536 free frames in 64 order-10 blocks; nothing else. */
static void test_boot_counts(void **state)
{
    struct phys *phys = test_phys(256 * MIB, false);
    const uint64_t expect[PHYS_NR_ORDERS] = {[10] = 64};

    assert_int_equal(phys->nframes, FRAMES_256M);
    assert_int_equal(phys->ram_bytes, 256 * MIB);
    assert_int_equal(phys->free_frames, FRAMES_256M);
    assert_int_equal(phys->managed_frames, FRAMES_256M);
    assert_int_equal(phys_free_count(phys), FRAMES_256M);
    assert_nr_free(phys, expect);
    assert_int_equal(phys->stats.allocs + phys->stats.frees + phys->stats.alloc_failures +
                         phys->stats.splits + phys->stats.merges,
                     0);
    assert_false(phys->poison);
    /* Booting leaves struct pages alone: an untouched page is the all-zero state. */
    assert_true(page_is_zero(phys_page(phys, 0)));
    assert_true(page_is_zero(phys_page(phys, 1024)));
    assert_true(phys_pa_valid(phys, 256 * MIB - 1));
    assert_false(phys_pa_valid(phys, 256 * MIB));
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Size limits, the default and rounding down to whole frames. */
static void test_create_sizes(void **state)
{
    struct phys_config cfg = {0};
    struct phys *phys;

    phys = phys_create(&cfg);
    assert_non_null(phys);
    assert_int_equal(phys->ram_bytes, PHYS_DEFAULT_RAM);
    phys_destroy(phys);

    phys = phys_create(NULL);
    assert_non_null(phys);
    assert_int_equal(phys->nframes, PHYS_DEFAULT_RAM / PAGE_SIZE);
    phys_destroy(phys);

    cfg.ram_bytes = PHYS_MIN_RAM - 1;
    errno = 0;
    assert_null(phys_create(&cfg));
    assert_int_equal(errno, EINVAL);

    cfg.ram_bytes = PHYS_MAX_RAM + PAGE_SIZE;
    errno = 0;
    assert_null(phys_create(&cfg));
    assert_int_equal(errno, EINVAL);

    cfg.ram_bytes = PHYS_MIN_RAM + 100;
    phys = phys_create(&cfg);
    assert_non_null(phys);
    assert_int_equal(phys->nframes, 1024);
    assert_int_equal(phys->ram_bytes, PHYS_MIN_RAM);
    test_leak_audit(phys);
    phys_destroy(phys);
    phys_destroy(NULL);
}

/* 4 MiB + 12 KiB = 1027 frames = blocks of 1024 (pfn 0), 2 (pfn 1024), 1 (pfn 1026).
 * The smallest fitting block goes first, so order 0 yields 1026, 1024, 1025, 0. */
static void test_odd_ram_size(void **state)
{
    struct phys *phys = test_phys(4 * MIB + 12 * 1024, false);
    const uint64_t boot[PHYS_NR_ORDERS] = {[0] = 1, [1] = 1, [10] = 1};
    const pfn_t expect[] = {1026, 1024, 1025, 0};

    assert_int_equal(phys->nframes, 1027);
    assert_int_equal(phys->free_frames, 1027);
    assert_nr_free(phys, boot);
    phys_check(phys);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(alloc_ok(phys, 0, 0), expect[i]);
    for (unsigned i = 0; i < 4; i++)
        phys_free(phys, expect[i], 0);
    assert_nr_free(phys, boot);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* ---- allocation order -------------------------------------------------------------- */

/* After boot, order 0 returns 0, 1, 2, ...: each split hands out the lower half and
 * pushes the upper half, and the lowest free block is always at a list's head. */
static void test_order0_ascending(void **state)
{
    struct phys *phys = test_phys(256 * MIB, false);
    /* Splits after allocation i: pfn 0 splits order 10 down (10), pfn 2 splits an
     * order-1 block (1), pfn 4 an order-2 block (2), pfn 6 order 1 (1), pfn 8 order 3. */
    const uint64_t splits[9] = {10, 10, 11, 11, 13, 13, 14, 14, 17};
    const uint64_t after_first[PHYS_NR_ORDERS] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 63};
    const uint64_t boot[PHYS_NR_ORDERS] = {[10] = 64};

    for (pfn_t i = 0; i < 2048; i++) {
        assert_int_equal(alloc_ok(phys, 0, 0), i);
        if (i == 0)
            assert_nr_free(phys, after_first);
        if (i < 9)
            assert_int_equal(phys->stats.splits, splits[i]);
    }
    assert_int_equal(phys->free_frames, FRAMES_256M - 2048);
    for (pfn_t i = 0; i < 2048; i++)
        phys_free(phys, i, 0);
    assert_nr_free(phys, boot);
    assert_int_equal(phys->stats.splits, phys->stats.merges);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Freed blocks go to the head of their list and come back first (LIFO). */
static void test_lifo_reuse(void **state)
{
    struct phys *phys = test_phys(256 * MIB, false);

    for (pfn_t i = 0; i < 4; i++)
        assert_int_equal(alloc_ok(phys, 0, 0), i);
    phys_free(phys, 2, 0);
    phys_free(phys, 0, 0);
    assert_int_equal(phys->nr_free[0], 2);
    assert_int_equal(alloc_ok(phys, 0, 0), 0);
    assert_int_equal(alloc_ok(phys, 0, 0), 2);
    assert_int_equal(alloc_ok(phys, 0, 0), 4);
    for (pfn_t i = 0; i < 5; i++)
        phys_free(phys, i, 0);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Split and merge counts of a small mixed sequence, worked out by hand. */
static void test_split_and_merge_counts(void **state)
{
    struct phys *phys = test_phys(256 * MIB, false);
    const uint64_t after_o3[PHYS_NR_ORDERS] = {0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 63};
    const uint64_t boot[PHYS_NR_ORDERS] = {[10] = 64};

    /* Order 3 from order 10: 7 splits, upper halves 8(o3) 16(o4) .. 512(o9). */
    assert_int_equal(alloc_ok(phys, 3, 0), 0);
    assert_int_equal(phys->stats.splits, 7);
    assert_nr_free(phys, after_o3);
    /* Order 0 splits 8(o3) three times: 12(o2), 10(o1), 9(o0) go free. */
    assert_int_equal(alloc_ok(phys, 0, 0), 8);
    assert_int_equal(phys->stats.splits, 10);
    /* Order 1 takes 10 directly. */
    assert_int_equal(alloc_ok(phys, 1, 0), 10);
    assert_int_equal(phys->stats.splits, 10);
    /* Free 8: merges with 9 into 8(o1); its buddy 10 is allocated.  1 merge. */
    phys_free(phys, 8, 0);
    assert_int_equal(phys->stats.merges, 1);
    /* Free 10(o1): 8(o1) -> 8(o2) with 12 -> 8(o3); buddy 0(o3) allocated.  3 merges. */
    phys_free(phys, 10, 1);
    assert_int_equal(phys->stats.merges, 3);
    /* Free 0(o3): merges with 8, 16, .., 512 up to order 10.  7 merges. */
    phys_free(phys, 0, 3);
    assert_int_equal(phys->stats.merges, 10);
    assert_nr_free(phys, boot);
    assert_int_equal(phys->stats.allocs, 3);
    assert_int_equal(phys->stats.frees, 3);
    assert_int_equal(phys->stats.alloc_failures, 0);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Deterministic Fisher-Yates shuffle (xorshift64). */
static void shuffle(pfn_t *a, size_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;

    for (size_t i = n - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t j = (size_t)(x % (i + 1));
        pfn_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Allocate every frame, free them in a scrambled order: everything coalesces back to
 * 64 order-10 blocks.  Block counting: 64 + splits - 65536 allocs = 0 free blocks, and
 * 0 + 65536 frees - merges = 64, so splits = merges = 65536 - 64 = 65472. */
static void test_coalesce_scrambled(void **state)
{
    struct phys *phys = test_phys(256 * MIB, false);
    const uint64_t boot[PHYS_NR_ORDERS] = {[10] = 64};
    pfn_t *pfns = malloc(FRAMES_256M * sizeof(*pfns));

    assert_non_null(pfns);
    for (size_t i = 0; i < FRAMES_256M; i++)
        pfns[i] = alloc_ok(phys, 0, 0);
    assert_int_equal(phys->free_frames, 0);
    assert_int_equal(phys->stats.splits, 65472);
    shuffle(pfns, FRAMES_256M);
    for (size_t i = 0; i < FRAMES_256M; i++)
        phys_free(phys, pfns[i], 0);
    assert_int_equal(phys->stats.merges, 65472);
    assert_nr_free(phys, boot);
    free(pfns);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Allocation until -ENOMEM: exactly every frame, in ascending order; failures are
 * counted and never abort.  Then 64 order-10 blocks and no 65th. */
static void test_exhaustion(void **state)
{
    struct phys *phys = test_phys(256 * MIB, false);
    uint64_t count = 0;
    pfn_t pfn;

    while (phys_alloc(phys, 0, 0, &pfn) == 0) {
        assert_int_equal(pfn, count);
        count++;
    }
    assert_int_equal(count, FRAMES_256M);
    assert_int_equal(phys->free_frames, 0);
    assert_int_equal(phys->stats.alloc_failures, 1);
    assert_int_equal(phys_alloc(phys, 10, 0, &pfn), -ENOMEM);
    assert_int_equal(phys->stats.alloc_failures, 2);
    for (pfn_t i = 0; i < count; i++)
        phys_free(phys, i, 0);
    test_leak_audit(phys);

    /* Freeing ascending completed block 63 last, so LIFO hands them out descending. */
    for (pfn_t i = 0; i < 64; i++)
        assert_int_equal(alloc_ok(phys, 10, 0), (63 - i) * 1024);
    assert_int_equal(phys_alloc(phys, 10, 0, &pfn), -ENOMEM);
    assert_int_equal(phys_alloc(phys, 0, 0, &pfn), -ENOMEM);
    assert_int_equal(phys->stats.alloc_failures, 4);
    for (pfn_t i = 0; i < 64; i++)
        phys_free(phys, i * 1024, 10);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Order above PHYS_MAX_ORDER and unknown flags are -EINVAL, not failures. */
static void test_bad_order_and_flags(void **state)
{
    struct phys *phys = test_phys(0, false);
    pfn_t pfn = 1234;

    assert_int_equal(phys_alloc(phys, PHYS_MAX_ORDER + 1, 0, &pfn), -EINVAL);
    assert_int_equal(phys_alloc(phys, 64, 0, &pfn), -EINVAL);
    assert_int_equal(phys_alloc(phys, 0, 1u << 7, &pfn), -EINVAL);
    assert_int_equal(pfn, 1234);
    assert_int_equal(phys->stats.alloc_failures, 0);
    assert_int_equal(phys->stats.allocs, 0);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* ---- contents: zeroing and poisoning ----------------------------------------------- */

/* Without poisoning, a freed block keeps its bytes; PHYS_ZERO clears them. */
static void test_zero_flag(void **state)
{
    struct phys *phys = test_phys(PHYS_MIN_RAM, false);

    assert_int_equal(alloc_ok(phys, 1, 0), 0);
    memset(frame_bytes(phys, 0), 0x5c, 2 * PAGE_SIZE);
    phys_free(phys, 0, 1);
    assert_int_equal(alloc_ok(phys, 1, 0), 0);
    assert_true(bytes_all(frame_bytes(phys, 0), 2 * PAGE_SIZE, 0x5c));
    phys_free(phys, 0, 1);
    assert_int_equal(alloc_ok(phys, 1, PHYS_ZERO), 0);
    assert_true(bytes_all(frame_bytes(phys, 0), 2 * PAGE_SIZE, 0));
    phys_free(phys, 0, 1);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Poisoning: freed frames are filled with 0xaa and come back so; frames never freed
 * since boot are not checked (they hold zeros). */
static void test_poison_fill(void **state)
{
    struct phys *phys = test_phys(PHYS_MIN_RAM, true);

    assert_true(phys->poison);
    assert_int_equal(alloc_ok(phys, 2, 0), 0);
    assert_true(bytes_all(frame_bytes(phys, 0), 4 * PAGE_SIZE, 0));
    memset(frame_bytes(phys, 0), 0x11, 4 * PAGE_SIZE);
    phys_free(phys, 0, 2);
    assert_true(bytes_all(frame_bytes(phys, 0), 4 * PAGE_SIZE, PHYS_POISON_BYTE));
    assert_true(bytes_all(frame_bytes(phys, 4), PAGE_SIZE, 0)); /* never freed */
    assert_int_equal(alloc_ok(phys, 2, 0), 0);
    assert_true(bytes_all(frame_bytes(phys, 0), 4 * PAGE_SIZE, PHYS_POISON_BYTE));
    assert_int_equal(alloc_ok(phys, 0, PHYS_ZERO), 4);
    assert_true(bytes_all(frame_bytes(phys, 4), PAGE_SIZE, 0));
    phys_free(phys, 4, 0);
    phys_free(phys, 0, 2);
    /* Poisoned frames inside a merged free block are checked when split off again. */
    for (pfn_t i = 0; i < 8; i++)
        assert_int_equal(alloc_ok(phys, 0, 0), i);
    for (pfn_t i = 0; i < 8; i++)
        phys_free(phys, i, 0);
    test_leak_audit(phys);
    phys_destroy(phys);
}

static void test_write_after_free_detected(void **state)
{
    struct phys *phys = test_phys(PHYS_MIN_RAM, true);
    struct death_case dc = {.phys = phys, .pfn = 0, .order = 0};

    assert_int_equal(alloc_ok(phys, 0, 0), 0);
    phys_free(phys, 0, 0);
    expect_invariant_abort(do_write_then_alloc, &dc, "frame written after free");
    /* The parent's copy is untouched: the frame comes back clean. */
    assert_int_equal(alloc_ok(phys, 0, 0), 0);
    phys_free(phys, 0, 0);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* ---- misuse of phys_free --------------------------------------------------------- */

static void test_double_free_detected(void **state)
{
    struct phys *phys = test_phys(PHYS_MIN_RAM, false);
    struct death_case dc = {.phys = phys};

    assert_int_equal(alloc_ok(phys, 0, 0), 0);
    assert_int_equal(alloc_ok(phys, 0, 0), 1);
    phys_free(phys, 0, 0); /* stays a free order-0 head: buddy 1 is allocated */
    dc.pfn = 0;
    expect_invariant_abort(do_free, &dc, "double free");
    phys_free(phys, 1, 0); /* now 0 and 1 merge up to order 10 */
    expect_invariant_abort(do_free, &dc, "double free");
    dc.pfn = 2; /* inside the merged block, never a head */
    expect_invariant_abort(do_free, &dc, "double free");
    dc.order = 1; /* a whole sub-block of a free block */
    expect_invariant_abort(do_free, &dc, "double free");

    /* An allocated order-1 block that contains a free order-0 head. */
    assert_int_equal(alloc_ok(phys, 0, 0), 0);
    assert_int_equal(alloc_ok(phys, 0, 0), 1);
    phys_free(phys, 1, 0);
    dc.pfn = 0;
    dc.order = 1;
    expect_invariant_abort(do_free, &dc, "double free");
    phys_free(phys, 0, 0);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Frames never allocated since boot (the untouched boot range) are free too. */
static void test_free_of_untouched_frame_detected(void **state)
{
    struct phys *phys = test_phys(256 * MIB, false);
    struct death_case dc = {.phys = phys, .pfn = 2048, .order = 0};

    expect_invariant_abort(do_free, &dc, "double free");
    dc.pfn = 4096;
    dc.order = 10;
    expect_invariant_abort(do_free, &dc, "double free");
    test_leak_audit(phys);
    phys_destroy(phys);
}

static void test_bad_free_arguments_detected(void **state)
{
    struct phys *phys = test_phys(PHYS_MIN_RAM + 2 * PAGE_SIZE, false);
    struct death_case dc = {.phys = phys};

    assert_int_equal(alloc_ok(phys, 1, 0), 1024); /* the ragged-end order-1 block */
    assert_int_equal(alloc_ok(phys, 2, 0), 0);
    dc.pfn = 1;
    dc.order = 1;
    expect_invariant_abort(do_free, &dc, "freed pfn is aligned to its order");
    dc.pfn = 1026;
    dc.order = 0;
    expect_invariant_abort(do_free, &dc, "freed block lies within RAM");
    dc.pfn = 1024;
    dc.order = 2; /* 1024..1027 runs past the 1026 frames */
    expect_invariant_abort(do_free, &dc, "freed block lies within RAM");
    dc.pfn = 0;
    dc.order = PHYS_MAX_ORDER + 1;
    expect_invariant_abort(do_free, &dc, "freed order is at most PHYS_MAX_ORDER");
    phys_free(phys, 1024, 1);
    phys_free(phys, 0, 2);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* ---- struct page bookkeeping ----------------------------------------------------- */

static void test_compound_flags(void **state)
{
    struct phys *phys = test_phys(PHYS_MIN_RAM, false);
    struct death_case dc = {.phys = phys};
    const struct page *head;

    assert_int_equal(alloc_ok(phys, 0, 0), 0);
    assert_int_equal(alloc_ok(phys, 3, PHYS_COMPOUND), 8);
    head = phys_page(phys, 8);
    assert_int_equal(head->flags, PG_HEAD);
    assert_int_equal(head->order, 3);
    assert_int_equal(head->refcount, 1);
    assert_int_equal(head->mapcount, 0);
    assert_null(head->mapping);
    assert_int_equal(head->index, 0);
    assert_int_equal(head->private, 0);
    for (pfn_t i = 9; i < 16; i++) {
        const struct page *tail = phys_page(phys, i);
        assert_int_equal(tail->flags, PG_TAIL);
        assert_int_equal(tail->private, 8);
        assert_int_equal(tail->refcount, 0);
    }
    dc.pfn = 9;
    dc.order = 0;
    expect_invariant_abort(do_free, &dc, "freed pfn is not a compound tail");
    dc.pfn = 8;
    dc.order = 2;
    expect_invariant_abort(do_free, &dc,
                           "compound block freed with the order it was allocated with");
    phys_free(phys, 8, 3); /* buddy 0(o3) is partly allocated: no merge */
    assert_int_equal(head->flags, PG_BUDDY);
    assert_int_equal(head->order, 3);
    assert_int_equal(head->refcount, 0);
    for (pfn_t i = 9; i < 16; i++)
        assert_true(page_is_zero(phys_page(phys, i)));
    phys_free(phys, 0, 0);
    assert_true(page_is_zero(head)); /* merged into 0(o10): an interior frame */

    /* Order 0 "compound" is a plain frame; non-compound order 3 has plain tails. */
    assert_int_equal(alloc_ok(phys, 0, PHYS_COMPOUND), 0);
    assert_int_equal(phys_page(phys, 0)->flags, 0);
    assert_int_equal(phys_page(phys, 0)->refcount, 1);
    assert_int_equal(alloc_ok(phys, 3, 0), 8);
    assert_int_equal(phys_page(phys, 8)->flags, 0);
    assert_int_equal(phys_page(phys, 8)->order, 0);
    assert_true(page_is_zero(phys_page(phys, 9)));
    phys_free(phys, 0, 0);
    phys_free(phys, 8, 3);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Whatever the owner left in struct page is wiped on free. */
static void test_owner_state_reset_on_free(void **state)
{
    struct phys *phys = test_phys(PHYS_MIN_RAM, false);
    struct page *page;
    static int owner;

    assert_int_equal(alloc_ok(phys, 0, 0), 0);
    assert_int_equal(alloc_ok(phys, 0, 0), 1);
    page = phys_page(phys, 1);
    page->flags = PG_LRU | PG_DIRTY | PG_ANON;
    page->refcount = 0;
    page->mapcount = 3;
    page->mapping = &owner;
    page->index = 77;
    page->private = 5;
    phys_free(phys, 1, 0);
    assert_int_equal(page->flags, PG_BUDDY);
    assert_int_equal(page->order, 0);
    assert_int_equal(page->mapcount, 0);
    assert_null(page->mapping);
    assert_int_equal(page->index, 0);
    assert_int_equal(page->private, 0);
    phys_free(phys, 0, 0);
    assert_true(page_is_zero(page));
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* ---- watermarks ------------------------------------------------------------------ */

/*
 * 256 MiB: managed = 65536 frames = 262144 KiB.
 *   min_free_kbytes = int_sqrt(262144 * 16) = int_sqrt(4194304) = 2048 (in [128, 262144])
 *   min  = 2048 KiB / 4 = 512 frames
 *   tmp  = max(512 / 4 = 128, 65536 * 10 / 10000 = 65) = 128
 *   low  = 512 + 128 = 640, high = 512 + 256 = 768
 * 4 MiB: 1024 frames = 4096 KiB; int_sqrt(65536) = 256 KiB; min 64;
 *   tmp = max(16, 1) = 16; low 80, high 96.
 */
static void test_watermarks(void **state)
{
    struct phys *phys = test_phys(256 * MIB, false);
    struct phys *small = test_phys(4 * MIB, false);

    assert_int_equal(phys->wmark[PHYS_WMARK_MIN], 512);
    assert_int_equal(phys->wmark[PHYS_WMARK_LOW], 640);
    assert_int_equal(phys->wmark[PHYS_WMARK_HIGH], 768);
    assert_int_equal(small->wmark[PHYS_WMARK_MIN], 64);
    assert_int_equal(small->wmark[PHYS_WMARK_LOW], 80);
    assert_int_equal(small->wmark[PHYS_WMARK_HIGH], 96);
    assert_true(phys_watermark_ok(phys, PHYS_WMARK_HIGH, 10));

    /* Bring free_frames to exactly 768: 63 order-10 blocks and one order-8 block. */
    for (pfn_t i = 0; i < 63; i++)
        alloc_ok(phys, 10, 0);
    alloc_ok(phys, 8, 0);
    assert_int_equal(phys->free_frames, 768);
    assert_false(phys_watermark_ok(phys, PHYS_WMARK_HIGH, 0)); /* 767 < 768 */
    assert_true(phys_watermark_ok(phys, PHYS_WMARK_LOW, 0));   /* 767 >= 640 */
    assert_true(phys_watermark_ok(phys, PHYS_WMARK_LOW, 7));   /* 640 >= 640 */
    assert_false(phys_watermark_ok(phys, PHYS_WMARK_LOW, 8));  /* 512 < 640 */
    assert_true(phys_watermark_ok(phys, PHYS_WMARK_MIN, 8));   /* 512 >= 512 */
    assert_false(phys_watermark_ok(phys, PHYS_WMARK_MIN, 9));  /* 256 < 512 */
    assert_false(phys_watermark_ok(phys, PHYS_WMARK_MIN, 10)); /* 1024 > 768: no wrap */
    for (pfn_t i = 0; i < 63; i++)
        phys_free(phys, i * 1024, 10);
    phys_free(phys, 63 * 1024, 8);
    test_leak_audit(phys);
    test_leak_audit(small);
    phys_destroy(phys);
    phys_destroy(small);
}

/* ---- reservation ----------------------------------------------------------------- */

/*
 * Reserve pfns 0..2 of 256 MiB.  Block 0(o10) is carved: upper halves 512(o9) ..
 * 4(o2) stay free, [2,4) splits into reserved 2 and free 3(o0), [0,2) is reserved:
 * 10 splits.  managed = 65533: int_sqrt(262132 * 16 = 4194112) = 2047 KiB, min 511,
 * tmp = max(127, 65) = 127, low 638, high 765.
 */
static void test_reserve(void **state)
{
    struct phys *phys = test_phys(256 * MIB, false);
    struct death_case dc = {.phys = phys, .pfn = 1, .order = 0};
    const uint64_t expect[PHYS_NR_ORDERS] = {1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 63};

    assert_int_equal(phys_reserve(phys, 0, 3), 0);
    assert_int_equal(phys->managed_frames, FRAMES_256M - 3);
    assert_int_equal(phys->free_frames, FRAMES_256M - 3);
    assert_nr_free(phys, expect);
    assert_int_equal(phys->stats.splits, 10);
    for (pfn_t i = 0; i < 3; i++) {
        assert_int_equal(phys_page(phys, i)->flags, PG_RESERVED);
        assert_int_equal(phys_page(phys, i)->refcount, 1);
    }
    assert_int_equal(phys->wmark[PHYS_WMARK_MIN], 511);
    assert_int_equal(phys->wmark[PHYS_WMARK_LOW], 638);
    assert_int_equal(phys->wmark[PHYS_WMARK_HIGH], 765);

    assert_int_equal(alloc_ok(phys, 0, 0), 3);
    assert_int_equal(alloc_ok(phys, 0, 0), 4);
    assert_int_equal(phys_reserve(phys, 0, 1), -EINVAL); /* already reserved */
    assert_int_equal(phys_reserve(phys, 3, 1), -EINVAL); /* allocated */
    assert_int_equal(phys_reserve(phys, 2, 4), -EINVAL); /* partly reserved */
    assert_int_equal(phys_reserve(phys, FRAMES_256M - 1, 2), -EINVAL);
    assert_int_equal(phys_reserve(phys, FRAMES_256M, 1), -EINVAL);
    assert_int_equal(phys_reserve(phys, 5, UINT64_MAX), -EINVAL);
    assert_int_equal(phys->managed_frames, FRAMES_256M - 3); /* failures change nothing */
    expect_invariant_abort(do_free, &dc, "freed frames are not reserved");
    phys_free(phys, 3, 0);
    phys_free(phys, 4, 0);
    assert_nr_free(phys, expect);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Reserving inside the untouched boot range keeps the logical list order. */
static void test_reserve_in_boot_range(void **state)
{
    struct phys *phys = test_phys(256 * MIB, false);
    const uint64_t expect[PHYS_NR_ORDERS] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 63};

    assert_int_equal(phys_reserve(phys, FRAMES_256M - 1, 1), 0);
    assert_nr_free(phys, expect);
    assert_int_equal(alloc_ok(phys, 10, 0), 0);
    assert_int_equal(alloc_ok(phys, 10, 0), 1024);
    assert_int_equal(alloc_ok(phys, 0, 0), FRAMES_256M - 2); /* the only order-0 block */
    phys_free(phys, 0, 10);
    phys_free(phys, 1024, 10);
    phys_free(phys, FRAMES_256M - 2, 0);
    assert_nr_free(phys, expect);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Reserving nearly everything clamps min_free_kbytes at 128: 64 managed frames are
 * 256 KiB, int_sqrt(4096) = 64 < 128, so min = 32, tmp = max(8, 0) = 8. */
static void test_reserve_clamps_watermarks(void **state)
{
    struct phys *phys = test_phys(4 * MIB, false);
    const uint64_t expect[PHYS_NR_ORDERS] = {[6] = 1};

    assert_int_equal(phys_reserve(phys, 64, 960), 0);
    assert_nr_free(phys, expect);
    assert_int_equal(phys->stats.splits, 4);
    assert_int_equal(phys->managed_frames, 64);
    assert_int_equal(phys->wmark[PHYS_WMARK_MIN], 32);
    assert_int_equal(phys->wmark[PHYS_WMARK_LOW], 40);
    assert_int_equal(phys->wmark[PHYS_WMARK_HIGH], 48);
    assert_int_equal(phys_reserve(phys, 0, 0), 0);
    assert_int_equal(phys->managed_frames, 64);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* ---- phys_check catches corruption ------------------------------------------------ */

enum corruption {
    CORRUPT_NR_FREE,
    CORRUPT_FREE_FRAMES,
    CORRUPT_ORDER,
    CORRUPT_PREV_LINK,
    CORRUPT_UNMERGED_BUDDY,
    CORRUPT_MISALIGNED,
    CORRUPT_OVERLAP,
    CORRUPT_MANAGED,
};

/* Link a fake free block of `order` at pfn and count it, as phys.c would. */
static void fake_free_block(struct phys *phys, pfn_t pfn, unsigned order)
{
    struct page *page = phys_page(phys, pfn);
    struct page_list *head = &phys->free_list[order];

    page->flags = PG_BUDDY;
    page->order = (uint8_t)order;
    page->lru.prev = head;
    page->lru.next = head->next;
    head->next->prev = &page->lru;
    head->next = &page->lru;
    phys->nr_free[order]++;
    phys->free_frames += 1ULL << order;
}

/* dc->order selects the corruption; the state is that of test_check_detects_corruption. */
static void do_corrupt_and_check(const struct death_case *dc)
{
    struct phys *phys = dc->phys;

    switch ((enum corruption)dc->order) {
    case CORRUPT_NR_FREE: phys->nr_free[3]++; break;
    case CORRUPT_FREE_FRAMES: phys->free_frames--; break;
    case CORRUPT_ORDER: phys_page(phys, 8)->order = 2; break;
    case CORRUPT_PREV_LINK: phys_page(phys, 8)->lru.prev = &phys->free_list[0]; break;
    case CORRUPT_UNMERGED_BUDDY: phys_page(phys, 0)->flags = PG_BUDDY; break;
    case CORRUPT_MISALIGNED: fake_free_block(phys, 6, 2); break;
    case CORRUPT_OVERLAP: fake_free_block(phys, 12, 2); break;
    case CORRUPT_MANAGED: phys->managed_frames = 1; break;
    }
    phys_check(phys);
}

/* Each corruption aborts with the name of the invariant it breaks.  State: 4 MiB with
 * pfn 0 and 1 allocated, 1 freed again, so 1(o0) 2(o1) 4(o2) 8(o3) .. 512(o9) are free. */
static void test_check_detects_corruption(void **state)
{
    static const struct {
        enum corruption what;
        const char *msg;
    } cases[] = {
        {CORRUPT_NR_FREE, "nr_free[order] equals the list length"},
        {CORRUPT_FREE_FRAMES, "free_frames is the sum of free block sizes"},
        {CORRUPT_ORDER, "free-list block's order equals its list's"},
        {CORRUPT_PREV_LINK, "free list next/prev links agree"},
        {CORRUPT_UNMERGED_BUDDY, "free buddies of equal order have merged"},
        {CORRUPT_MISALIGNED, "free block aligned to its order"},
        {CORRUPT_OVERLAP, "free blocks do not overlap"},
        {CORRUPT_MANAGED, "free_frames <= managed_frames"},
    };
    struct phys *phys = test_phys(PHYS_MIN_RAM, false);
    struct death_case dc = {.phys = phys};

    assert_int_equal(alloc_ok(phys, 0, 0), 0);
    assert_int_equal(alloc_ok(phys, 0, 0), 1);
    phys_free(phys, 1, 0);
    phys_check(phys);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dc.order = cases[i].what;
        expect_invariant_abort(do_corrupt_and_check, &dc, cases[i].msg);
    }
    phys_free(phys, 0, 0);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* ---- large machines -------------------------------------------------------------- */

static uint64_t rss_bytes(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    assert_non_null(f);
    assert_int_equal(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * 64 GiB creates at once and costs only what is touched: booting touches no struct
 * page, so RSS grows by well under 4 MiB (the requirement is < 64 MiB).
 * Watermarks: 16777216 frames = 67108864 KiB; int_sqrt(2^30) = 32768 KiB; min 8192;
 * tmp = max(2048, 16777216 * 10 / 10000 = 16777) = 16777; low 24969, high 41746.
 */
static void test_64g_is_cheap(void **state)
{
    uint64_t rss_before = rss_bytes();
    double t0 = now_seconds();
    struct phys *phys = test_phys(64 * GIB, false);
    const uint64_t boot[PHYS_NR_ORDERS] = {[10] = 16384};

    assert_int_equal(phys->nframes, 16777216);
    assert_int_equal(phys->free_frames, 16777216);
    assert_nr_free(phys, boot);
    assert_int_equal(phys->wmark[PHYS_WMARK_MIN], 8192);
    assert_int_equal(phys->wmark[PHYS_WMARK_LOW], 24969);
    assert_int_equal(phys->wmark[PHYS_WMARK_HIGH], 41746);
    phys_check(phys);
    assert_int_equal(alloc_ok(phys, 0, PHYS_ZERO), 0);
    assert_int_equal(alloc_ok(phys, 10, 0), 1024);
    assert_int_equal(alloc_ok(phys, 0, 0), 1);
    phys_free(phys, 1024, 10);
    phys_free(phys, 0, 0);
    phys_free(phys, 1, 0);
    assert_nr_free(phys, boot);
    test_leak_audit(phys);
    assert_true(rss_bytes() - rss_before < 4 * MIB);
    phys_destroy(phys);
    assert_true(now_seconds() - t0 < 5.0);
}

/* The largest machine (1 TiB) also creates without committing anything. */
static void test_max_ram_creates(void **state)
{
    uint64_t rss_before = rss_bytes();
    struct phys *phys = test_phys(PHYS_MAX_RAM, false);

    assert_int_equal(phys->nframes, PHYS_MAX_RAM / PAGE_SIZE);
    assert_int_equal(phys->nr_free[PHYS_MAX_ORDER], PHYS_MAX_RAM / PAGE_SIZE / 1024);
    assert_int_equal(alloc_ok(phys, 0, 0), 0);
    phys_free(phys, 0, 0);
    test_leak_audit(phys);
    assert_true(rss_bytes() - rss_before < 4 * MIB);
    phys_destroy(phys);
}

/* ---- pte.c ---------------------------------------------------------------------- */

static void test_pt_level_name(void **state)
{
    assert_string_equal(pt_level_name(1), "PTE");
    assert_string_equal(pt_level_name(2), "PDE");
    assert_string_equal(pt_level_name(3), "PDPTE");
    assert_string_equal(pt_level_name(4), "PML4E");
    assert_string_equal(pt_level_name(5), "PML5E");
    assert_string_equal(pt_level_name(0), "?");
    assert_string_equal(pt_level_name(6), "?");
    assert_string_equal(pt_level_name(-1), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boot_counts),
        cmocka_unit_test(test_create_sizes),
        cmocka_unit_test(test_odd_ram_size),
        cmocka_unit_test(test_order0_ascending),
        cmocka_unit_test(test_lifo_reuse),
        cmocka_unit_test(test_split_and_merge_counts),
        cmocka_unit_test(test_coalesce_scrambled),
        cmocka_unit_test(test_exhaustion),
        cmocka_unit_test(test_bad_order_and_flags),
        cmocka_unit_test(test_zero_flag),
        cmocka_unit_test(test_poison_fill),
        cmocka_unit_test(test_write_after_free_detected),
        cmocka_unit_test(test_double_free_detected),
        cmocka_unit_test(test_free_of_untouched_frame_detected),
        cmocka_unit_test(test_bad_free_arguments_detected),
        cmocka_unit_test(test_compound_flags),
        cmocka_unit_test(test_owner_state_reset_on_free),
        cmocka_unit_test(test_watermarks),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_reserve_in_boot_range),
        cmocka_unit_test(test_reserve_clamps_watermarks),
        cmocka_unit_test(test_check_detects_corruption),
        cmocka_unit_test(test_64g_is_cheap),
        cmocka_unit_test(test_max_ram_creates),
        cmocka_unit_test(test_pt_level_name),
    };

    return cmocka_run_group_tests_name("phys", tests, NULL, NULL);
}
