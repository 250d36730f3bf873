/*
 * tests/diff/mmfuzz.c - random address-space system calls for pagoda's live
 * differential test against the host kernel (tests/diff/run-diff).
 *
 *   mmfuzz SEED COUNT [SCRATCH_FILE]
 *
 * Run under `strace ... setarch -R mmfuzz ...`.  The program sets itself up
 * (resource limits, privileges, descriptors, a small touched heap), reads
 * /proc/self/maps, writes "PAGODA-BEGIN\n" to fd 2, opens a few host files and
 * performs COUNT random mmap/munmap/mprotect/mremap/madvise/brk/mlock/msync
 * calls, writes "PAGODA-END\n" to fd 2, reads /proc/self/maps again and prints
 * both listings on stdout separated by a line "----".  The strace lines between
 * the two markers plus the two listings make a pagoda script that pagoda must
 * reproduce exactly.
 *
 * What keeps the run reproducible by pure simulation:
 *  - the memory it maps is never touched, and no call that makes the kernel
 *    write-fault private pages (which would create anon_vmas and change merging)
 *    is issued: plain mlock / MAP_LOCKED / MAP_POPULATE only where no page can be
 *    private-writable (and plain locks are undone by the very next call), no
 *    populating madvise advices, no MAP_DROPPABLE mapping ever reaches a lock;
 *  - nothing is read from /proc between the markers, and no malloc/stdio is used
 *    after setup: static buffers and raw syscall(2) only;
 *  - it never unmaps, moves or changes its own text/data/heap/stack/libraries:
 *    a shadow of the address space (struct span list) keeps every range it
 *    changes inside what it mapped itself or free gaps, away from the stack;
 *  - lengths the kernel checks against the commit limit are either small
 *    (<= 64 MiB) or enormous (>= 8 TiB), so that the result does not depend on
 *    how much RAM the host or the simulation has.
 * Root runs drop to uid/gid 65534 before the first marker so that permission
 * rules (EACCES, mmap_min_addr, the mlock limit) are those of a normal user.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ------------------------------------------------------------ constants ---- */

#define PAGE 4096ULL
#define MIB (1ULL << 20)
#define TASK_SIZE 0x7ffffffff000ULL
#define HUGE_LEN (1ULL << 44)  /* 16 TiB: far above any RAM, far below TASK_SIZE */
#define SMALL_MAX (64 * MIB)   /* lengths above this are pushed to HUGE_LEN */

/* x86-64 UAPI values (spec section 1.1), spelled out so that no libc header
 * decides which ones exist. */
enum {
    P_NONE = 0, P_READ = 1, P_WRITE = 2, P_EXEC = 4, P_SEM = 8,
    P_GROWSDOWN = 0x01000000, P_GROWSUP = 0x02000000,
};
enum {
    M_SHARED = 0x1, M_PRIVATE = 0x2, M_SHARED_VALIDATE = 0x3, M_DROPPABLE = 0x8,
    M_TYPE = 0xf, M_FIXED = 0x10, M_ANONYMOUS = 0x20, M_32BIT = 0x40,
    M_ABOVE4G = 0x80, M_GROWSDOWN = 0x100, M_DENYWRITE = 0x800,
    M_EXECUTABLE = 0x1000, M_LOCKED = 0x2000, M_NORESERVE = 0x4000,
    M_POPULATE = 0x8000, M_NONBLOCK = 0x10000, M_STACK = 0x20000,
    M_HUGETLB = 0x40000, M_SYNC = 0x80000, M_FIXED_NOREPLACE = 0x100000,
    M_UNINITIALIZED = 0x4000000, M_HUGE_SHIFT = 26,
};
enum { MR_MAYMOVE = 1, MR_FIXED = 2, MR_DONTUNMAP = 4 };
enum { ML_ONFAULT = 1 };
enum { MCL_CUR = 1, MCL_FUT = 2, MCL_ONF = 4 };
enum { MS_ASYNC_ = 1, MS_INVALIDATE_ = 2, MS_SYNC_ = 4 };
enum {
    MADV_NORMAL_ = 0, MADV_RANDOM_ = 1, MADV_SEQUENTIAL_ = 2, MADV_DONTFORK_ = 10,
    MADV_DOFORK_ = 11, MADV_MERGEABLE_ = 12, MADV_UNMERGEABLE_ = 13,
    MADV_HUGEPAGE_ = 14, MADV_NOHUGEPAGE_ = 15, MADV_DONTDUMP_ = 16,
    MADV_DODUMP_ = 17, MADV_WIPEONFORK_ = 18, MADV_KEEPONFORK_ = 19,
};

/* ------------------------------------------------------------- utilities ---- */

/* A system call through syscall(2); returns the result or -errno. */
static long sys6(long nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
                 uint64_t f)
{
    long r = syscall(nr, a, b, c, d, e, f);
    return r == -1 ? -errno : r;
}

static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* Write all of buf to fd (stdout/stderr), ignoring errors. */
static void put(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        long w = sys6(SYS_write, (uint64_t)fd, (uint64_t)(uintptr_t)buf, len, 0, 0, 0);
        if (w <= 0)
            return;
        buf += w;
        len -= (size_t)w;
    }
}

/* Stop the program: after the first marker this leaves the log without
 * "PAGODA-END", which the harness reports as a failed host run. */
static _Noreturn void die(const char *why)
{
    put(2, "mmfuzz: ", 8);
    put(2, why, str_len(why));
    put(2, "\n", 1);
    sys6(SYS_exit_group, 3, 0, 0, 0, 0, 0);
    for (;;)
        ;
}

static uint64_t page_down(uint64_t a) { return a & ~(PAGE - 1); }

/* a rounded up to a page, saturating at the top of the 64-bit space. */
static uint64_t page_up_sat(uint64_t a)
{
    return a > UINT64_MAX - (PAGE - 1) ? UINT64_MAX : (a + PAGE - 1) & ~(PAGE - 1);
}

/* End of the pages a call on (addr, len) can reach: page_up(addr + len),
 * saturating instead of wrapping, so range checks stay conservative. */
static uint64_t reach_end(uint64_t addr, uint64_t len)
{
    if (len > UINT64_MAX - addr)
        return UINT64_MAX;
    return page_up_sat(addr + len);
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* ------------------------------------------------------------------ random ---- */

static uint64_t rng_state;

/* splitmix64: small, fast, and the same sequence on every host. */
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n); 0 when n == 0. */
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

static bool chance(unsigned percent) { return below(100) < percent; }

/* Index of the weight bucket a random draw falls into. */
static unsigned pick_weighted(const unsigned *weights, unsigned n)
{
    unsigned total = 0;
    for (unsigned i = 0; i < n; i++)
        total += weights[i];
    uint64_t r = below(total);
    for (unsigned i = 0; i < n; i++) {
        if (r < weights[i])
            return i;
        r -= weights[i];
    }
    return n - 1;
}

#define PICK(weights) pick_weighted((weights), sizeof(weights) / sizeof((weights)[0]))

/* A uniformly chosen element of a constant table. */
#define ONE_OF(table) ((table)[below(sizeof(table) / sizeof((table)[0]))])

/* ----------------------------------------------------- shadow address space ---- */

/* What the program knows about each page, as a bit set.  Over-approximations are
 * safe in one direction only: a page shown with fewer bits than the kernel's
 * state could lead to a populating lock on a writable private page, so every
 * uncertain case sets bits rather than clearing them. */
enum {
    S_OURS = 1,     /* mapped by this program */
    S_FOREIGN = 2,  /* in the initial maps: never changed */
    S_HEAP = 4,     /* the brk heap: changed only by brk */
    S_PRIVW = 8,    /* may be private and writable */
    S_FILE = 16,    /* may be file-backed */
    S_ACCESS = 32,  /* may be accessible (not PROT_NONE) */
    S_SHARED = 64,  /* shared mapping: locking never write-faults it */
    S_DANGER = 128, /* MAP_DROPPABLE or MAP_HUGETLB: never lock or populate */
    S_HUGETLB = 256, /* MAP_HUGETLB: mremap rounds lengths to huge pages (2 MiB) */
    S_HUGE_1G = 512, /* ... of 1 GiB (MAP_HUGE_1GB) */
};

struct span {
    uint64_t start, end; /* [start, end), page-aligned, start < end */
    uint16_t bits;        /* never 0: free space has no span */
};

#define SPANS_MAX 8192
static struct span spans[SPANS_MAX], spans_next[SPANS_MAX], pieces[SPANS_MAX];
static size_t span_count;

/* Append a span to the list being built, merging with an equal neighbour. */
static void push_span(struct span *list, size_t *n, uint64_t start, uint64_t end,
                      uint16_t bits)
{
    if (start >= end || bits == 0)
        return;
    if (*n > 0 && list[*n - 1].end == start && list[*n - 1].bits == bits) {
        list[*n - 1].end = end;
        return;
    }
    if (*n == SPANS_MAX)
        die("shadow span table full");
    list[(*n)++] = (struct span){start, end, bits};
}

static void commit_spans(size_t n)
{
    for (size_t i = 0; i < n; i++)
        spans[i] = spans_next[i];
    span_count = n;
}

/* Set [start, end) to bits (0 = free). */
static void shadow_paint(uint64_t start, uint64_t end, uint16_t bits)
{
    size_t n = 0;
    bool placed = false;
    for (size_t i = 0; i < span_count; i++) {
        struct span s = spans[i];
        if (s.end <= start) { /* wholly before */
            push_span(spans_next, &n, s.start, s.end, s.bits);
            continue;
        }
        if (!placed) {
            push_span(spans_next, &n, s.start, min_u64(s.end, start), s.bits);
            push_span(spans_next, &n, start, end, bits);
            placed = true;
        }
        push_span(spans_next, &n, max_u64(s.start, end), s.end, s.bits);
    }
    if (!placed)
        push_span(spans_next, &n, start, end, bits);
    commit_spans(n);
}

/* Replace the bits of every mapped page in [start, end) by f(bits). */
static void shadow_update(uint64_t start, uint64_t end, uint16_t (*f)(uint16_t, unsigned),
                          unsigned arg)
{
    size_t n = 0;
    for (size_t i = 0; i < span_count; i++) {
        struct span s = spans[i];
        if (s.end <= start || s.start >= end) {
            push_span(spans_next, &n, s.start, s.end, s.bits);
            continue;
        }
        uint64_t lo = max_u64(s.start, start), hi = min_u64(s.end, end);
        push_span(spans_next, &n, s.start, lo, s.bits);
        push_span(spans_next, &n, lo, hi, f(s.bits, arg));
        push_span(spans_next, &n, hi, s.end, s.bits);
    }
    commit_spans(n);
}

/* OR of the bits of all pages in [start, end). */
static uint16_t shadow_bits(uint64_t start, uint64_t end)
{
    uint16_t bits = 0;
    for (size_t i = 0; i < span_count; i++)
        if (spans[i].start < end && spans[i].end > start)
            bits |= spans[i].bits;
    return bits;
}

/* The mapped pieces of [start, end) into pieces[], as offsets from start. */
static size_t shadow_collect(uint64_t start, uint64_t end)
{
    size_t n = 0;
    for (size_t i = 0; i < span_count; i++) {
        struct span s = spans[i];
        if (s.end <= start || s.start >= end)
            continue;
        pieces[n++] = (struct span){max_u64(s.start, start) - start,
                                    min_u64(s.end, end) - start, s.bits};
    }
    return n;
}

/* Set [start, end) to bits (0 = free), except the pages of the program's own
 * image, libraries and heap: an over-reaching update (a rounded length) must
 * never make them look free or ours. */
static void shadow_set(uint64_t start, uint64_t end, uint16_t bits)
{
    static struct span kept[SPANS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < span_count; i++)
        if (spans[i].start < end && spans[i].end > start && (spans[i].bits & (S_FOREIGN | S_HEAP)))
            kept[n++] = spans[i];
    shadow_paint(start, end, bits);
    for (size_t i = 0; i < n; i++)
        shadow_paint(max_u64(kept[i].start, start), min_u64(kept[i].end, end), kept[i].bits);
}

/* Start of the run of contiguous mapped pages that contains addr (addr itself
 * if it is free): a superset of the VMA holding addr. */
static uint64_t shadow_run_start(uint64_t addr)
{
    size_t i = 0;
    while (i < span_count && spans[i].end <= addr)
        i++;
    if (i == span_count || spans[i].start > addr)
        return addr;
    while (i > 0 && spans[i - 1].end == spans[i].start)
        i--;
    return spans[i].start;
}

/* bits of a mapped page, or the worst case when the shadow does not know it. */
static uint16_t known_or_worst(uint16_t bits)
{
    return bits ? bits : (uint16_t)(S_OURS | S_PRIVW | S_FILE | S_ACCESS | S_DANGER);
}

/* ---------------------------------------------------------------- world ---- */

static uint64_t zone_top;      /* nothing is changed at or above this */
static uint64_t start_brk;     /* heap start, from the initial maps */
static uint64_t cur_brk;       /* the break as the kernel last reported it */
static uint64_t lib_low;       /* lowest mapping of the top-down library area */
static uint64_t image_low;     /* lowest mapping of the executable */
static bool future_locked;     /* mlockall(MCL_FUTURE) is in force */

/* Recently created mappings: where most addresses are drawn from. */
struct anchor {
    uint64_t start, len; /* page-aligned */
    int fd;              /* -1 anonymous, -2 unknown (moved), else the fd */
    uint64_t off;        /* file offset of start */
    uint64_t prot, flags;
};
#define ANCHORS_MAX 48
static struct anchor anchors[ANCHORS_MAX];
static unsigned anchor_count, anchor_next;

static void add_anchor(struct anchor a)
{
    if (a.len == 0)
        return;
    anchors[anchor_next] = a;
    anchor_next = (anchor_next + 1) % ANCHORS_MAX;
    if (anchor_count < ANCHORS_MAX)
        anchor_count++;
}

static const struct anchor *any_anchor(void)
{
    return anchor_count ? &anchors[below(anchor_count)] : NULL;
}

/* Host files the run opens. */
enum { F_BASH, F_SERVICES, F_LIBC, F_SCRATCH, F_DIR, F_SHADOW, F_MISSING, F_COUNT };
static struct host_file {
    const char *path;
    uint64_t size;
} files[F_COUNT] = {
    [F_BASH] = {"/usr/bin/bash", 0},
    [F_SERVICES] = {"/etc/services", 0},
    [F_LIBC] = {"/usr/lib/x86_64-linux-gnu/libc.so.6", 0},
    [F_SCRATCH] = {"/etc/hostname", 0},
    [F_DIR] = {"/etc", 0},
    [F_SHADOW] = {"/etc/shadow", 0},
    [F_MISSING] = {"/nonexistent/pagoda-diff", 0},
};

/* Open descriptors, as the program believes them to be. */
#define FDS_MAX 64
static struct fd_slot {
    bool open;
    uint16_t file;
    uint16_t mode; /* O_ACCMODE bits */
} fds[FDS_MAX];

/* ------------------------------------------------------ safety predicates ---- */

/* May a call change the pages of [addr, addr+len)?  Only if they are all below
 * the stack zone and none belongs to the program's own image, libraries or heap. */
static bool range_allowed(uint64_t addr, uint64_t len)
{
    uint64_t lo = page_down(addr), hi = reach_end(addr, len);
    if (hi > zone_top || lo >= zone_top)
        return false;
    if (hi == lo)
        hi = lo + PAGE;
    return !(shadow_bits(lo, hi) & (S_FOREIGN | S_HEAP));
}

/* May a populating lock (mlock, MAP_LOCKED) cover [addr, addr+len)?  Only where
 * population cannot write-fault a private page nor read a file page. */
static bool populate_safe(uint64_t addr, uint64_t len)
{
    uint16_t b = shadow_bits(page_down(addr), reach_end(addr, len));
    if (b & (S_FOREIGN | S_HEAP | S_PRIVW | S_DANGER))
        return false;
    return !((b & S_FILE) && (b & S_ACCESS));
}

/* Lengths the commit limit sees are small or enormous, never in between. */
static uint64_t clamp_len(uint64_t len)
{
    if (len > SMALL_MAX && len < (1ULL << 43))
        return chance(50) ? HUGE_LEN : PAGE * (1 + below(16));
    return len;
}

/* --------------------------------------------------- addresses and lengths ---- */

/* An address away from the program's recent mappings but where mappings may go:
 * below the libraries, near the bottom of the space, in the 32-bit window, at
 * the end of the heap, below the executable, or anywhere in the lower half. */
static uint64_t far_addr(void)
{
    static const unsigned w[] = {30, 12, 12, 14, 10, 12, 10};
    switch (PICK(w)) {
    case 0: return lib_low - PAGE * (1 + below(4096));
    case 1: return 0x10000 + PAGE * below(16);
    case 2: return 0x40000000 + PAGE * below(64);
    case 3: return page_up_sat(cur_brk) + PAGE * below(4);
    case 4: return image_low - PAGE * (1 + below(16));
    case 5: return page_down((1ULL << 32) + below((1ULL << 46) - (1ULL << 32)));
    default: return lib_low - 16 * MIB - PAGE * below(8192);
    }
}

/* An address in or next to a recent mapping: its start, end, interior, the page
 * before it or just after it.  Interiors of huge mappings stay near the ends or
 * at the middle, keeping the pieces either small or huge. */
static uint64_t near_addr(void)
{
    const struct anchor *a = any_anchor();
    if (!a || chance(10))
        return far_addr();
    uint64_t pages = a->len / PAGE;
    uint64_t interior = pages <= 64 ? below(pages + 1)
                        : chance(40) ? below(33)
                        : chance(50) ? pages - below(33)
                                     : pages / 2;
    static const unsigned w[] = {22, 18, 30, 12, 12, 6};
    switch (PICK(w)) {
    case 0: return a->start;
    case 1: return a->start + a->len;
    case 2: return a->start + PAGE * interior;
    case 3: return a->start - PAGE * (1 + below(3));
    case 4: return a->start + a->len + PAGE * below(4);
    default: return a->start + a->len - PAGE * (1 + below(min_u64(pages, 4)));
    }
}

/* A length for a call: mostly a few pages, sometimes odd, zero, THP-sized or huge. */
static uint64_t any_len(void)
{
    static const unsigned w[] = {52, 12, 7, 4, 6, 5, 3, 2, 2, 7};
    const struct anchor *a = any_anchor();
    switch (PICK(w)) {
    case 0: return PAGE * (1 + below(8));
    case 1: return PAGE * (1 + below(64));
    case 2: return 1 + below(3 * PAGE);
    case 3: return 0;
    case 4: {
        static const uint64_t thp[] = {2 * MIB, 4 * MIB, 2 * MIB + PAGE, 3 * MIB, 6 * MIB};
        return ONE_OF(thp);
    }
    case 5: return HUGE_LEN;
    case 6: return 1ULL << 46;
    case 7: return chance(50) ? TASK_SIZE + PAGE : (1ULL << 47);
    case 8: return chance(50) ? UINT64_MAX : UINT64_MAX - PAGE + 2;
    default: return a ? a->len : PAGE;
    }
}

/* A range (addr, len) for munmap/mprotect/madvise/mlock/msync, in or around
 * the program's mappings.  Lengths may cover holes and several mappings. */
static void any_range(uint64_t *addr, uint64_t *len)
{
    const struct anchor *a = any_anchor(), *b = any_anchor();
    static const unsigned w[] = {22, 18, 10, 10, 10, 20, 10};
    unsigned k = a ? PICK(w) : 5;
    uint64_t pages = a ? a->len / PAGE : 0;
    switch (k) {
    case 0: *addr = a->start; *len = a->len; break;
    case 1:
        *addr = a->start + PAGE * (pages <= 64 ? below(pages) : below(33));
        *len = PAGE * (1 + below(8));
        break;
    case 2:
        *addr = chance(50) ? a->start : a->start + a->len - PAGE * (1 + below(min_u64(pages, 8)));
        *len = PAGE * (1 + below(min_u64(pages, 8)));
        break;
    case 3: { /* from one mapping to another */
        uint64_t lo = min_u64(a->start, b->start);
        uint64_t hi = max_u64(a->start + a->len, b->start + b->len);
        *addr = lo;
        *len = hi - lo;
        break;
    }
    case 4: /* around a mapping, covering the holes next to it */
        *addr = a->start - PAGE * (1 + below(3));
        *len = a->len + PAGE * (2 + below(6));
        break;
    case 5: *addr = near_addr(); *len = any_len(); break;
    default: *addr = far_addr(); *len = PAGE * (1 + below(16)); break;
    }
    *len = clamp_len(*len);
}

/* ---------------------------------------------------------------- mmap ---- */

/* Bits a successful mapping gives its pages in the shadow. */
static uint16_t map_bits(uint64_t prot, uint64_t flags, bool file)
{
    uint16_t bits = S_OURS;
    uint64_t type = flags & M_TYPE;
    bool shared = type == M_SHARED || type == M_SHARED_VALIDATE;
    if (shared)
        bits |= S_SHARED;
    else if (prot & P_WRITE)
        bits |= S_PRIVW;
    if (type == M_DROPPABLE)
        bits |= S_DANGER | S_PRIVW;
    if (flags & M_HUGETLB)
        bits |= S_DANGER | S_HUGETLB | (((flags >> M_HUGE_SHIFT) & 0x3f) == 30 ? S_HUGE_1G : 0);
    if (file)
        bits |= S_FILE;
    if (prot & (P_READ | P_WRITE | P_EXEC))
        bits |= S_ACCESS;
    return bits;
}

static uint64_t any_map_prot(void)
{
    static const uint64_t prots[] = {
        P_READ, P_READ | P_WRITE, P_READ | P_WRITE, P_NONE, P_READ | P_EXEC,
        P_READ | P_WRITE | P_EXEC, P_WRITE, P_EXEC, P_READ | P_WRITE | 0x100,
        P_READ | P_GROWSDOWN, P_READ | P_SEM, P_READ | P_WRITE, P_READ,
    };
    return ONE_OF(prots);
}

/* An open descriptor of the program, or sometimes a closed or invalid one. */
static int any_fd(void)
{
    if (chance(4))
        return -1;
    if (chance(3))
        return 60;
    int candidates[FDS_MAX], n = 0;
    for (int fd = 3; fd < FDS_MAX; fd++)
        if (fds[fd].open)
            candidates[n++] = fd;
    return n ? candidates[below((uint64_t)n)] : -1;
}

/* An open descriptor of the same file as fd, other than fd, or fd itself. */
static int sibling_fd(int fd)
{
    int candidates[FDS_MAX], n = 0;
    for (int i = 3; i < FDS_MAX; i++)
        if (i != fd && fds[i].open && fds[i].file == fds[fd].file)
            candidates[n++] = i;
    return n ? candidates[below((uint64_t)n)] : fd;
}

/* A file offset: start, inside, at the end, past the end, unaligned or absurd. */
static uint64_t any_file_offset(int fd)
{
    uint64_t size = (fd >= 0 && fd < FDS_MAX && fds[fd].open) ? files[fds[fd].file].size : 0;
    uint64_t pages = (size + PAGE - 1) / PAGE;
    static const unsigned w[] = {30, 25, 10, 12, 5, 6, 4, 8};
    switch (PICK(w)) {
    case 0: return 0;
    case 1: return PAGE * below(pages + 1);
    case 2: return PAGE * (pages > 2 ? pages - 1 - below(2) : 0);
    case 3: return PAGE * (pages + below(16));
    case 4: return chance(50) ? (1ULL << 30) : (1ULL << 40);
    case 5: return PAGE * below(pages + 1) + 1 + below(PAGE - 1);
    case 6: return chance(50) ? (1ULL << 50) : UINT64_MAX - PAGE + 1;
    default: return PAGE * below(8);
    }
}

/* Extra mmap flags: each with its own probability; populating ones only where
 * population cannot write-fault a private page, and only on small lengths
 * (populating a huge read-only range maps the zero page terabytes long). */
static uint64_t any_map_extras(uint64_t prot, uint64_t type, bool anon, uint64_t len)
{
    uint64_t f = 0;
    bool priv_w = (type != M_SHARED && type != M_SHARED_VALIDATE) && (prot & P_WRITE);
    bool small = len <= 16 * MIB;
    if (chance(10)) f |= M_NORESERVE;
    if (chance(4)) f |= M_STACK;
    if (chance(4)) f |= M_GROWSDOWN;
    if (chance(3)) f |= M_32BIT;
    if (chance(1)) f |= M_ABOVE4G;
    if (chance(2)) {
        static const uint64_t sizes[] = {0, 21ULL << M_HUGE_SHIFT, 25ULL << M_HUGE_SHIFT,
                                         30ULL << M_HUGE_SHIFT};
        f |= M_HUGETLB | ONE_OF(sizes);
        if (chance(50))
            f |= M_NORESERVE; /* succeeds without a pool */
        small = false;        /* never populate huge pages */
    }
    if (small && !priv_w && type != M_DROPPABLE && chance(3)) f |= M_POPULATE;
    if (chance(2)) f |= M_POPULATE | M_NONBLOCK;
    if (small && !priv_w && type != M_DROPPABLE && chance(anon ? 3 : 2)) f |= M_LOCKED;
    if (chance(2)) f |= M_SYNC;
    if (chance(2)) f |= chance(50) ? M_DENYWRITE : M_EXECUTABLE;
    if (chance(3)) {
        static const uint64_t unknown[] = {0x200, 0x400, 0x400000, 0x800000, 0x1000000,
                                           M_UNINITIALIZED};
        f |= ONE_OF(unknown);
    }
    return f;
}

struct map_call {
    uint64_t addr, len, prot, flags, off;
    int fd;
};

/* A mapping placed right after or before a recent one, of the same kind and
 * offsets that continue it: the cases where mappings merge (or must not). */
static bool continue_anchor(struct map_call *c)
{
    const struct anchor *a = any_anchor();
    if (!a || a->fd == -2)
        return false;
    bool after = chance(65);
    c->len = PAGE * (1 + below(8));
    c->prot = chance(75) ? a->prot : any_map_prot();
    c->flags = a->flags & (M_TYPE | M_ANONYMOUS | M_NORESERVE | M_STACK | M_GROWSDOWN);
    if (chance(10))
        c->flags ^= M_NORESERVE;
    c->fd = a->fd;
    if (a->fd >= 0 && a->fd < FDS_MAX && fds[a->fd].open && chance(40))
        c->fd = sibling_fd(a->fd);
    else if (a->fd >= 0 && !(a->fd < FDS_MAX && fds[a->fd].open))
        return false;
    c->addr = after ? a->start + a->len : a->start - c->len;
    c->off = a->fd < 0 ? 0 : after ? a->off + a->len : a->off - c->len;
    static const unsigned w[] = {45, 20, 35};
    switch (PICK(w)) {
    case 0: c->flags |= M_FIXED; break;
    case 1: c->flags |= M_FIXED_NOREPLACE; break;
    default: break; /* a hint */
    }
    return true;
}

/* The mapping type and descriptor for a fresh random mapping. */
static void any_map_kind(struct map_call *c)
{
    static const unsigned w[] = {42, 12, 24, 14, 8};
    switch (PICK(w)) {
    case 0: c->flags = M_PRIVATE | M_ANONYMOUS; c->fd = chance(95) ? -1 : 3; break;
    case 1:
        c->flags = (chance(85) ? M_SHARED : M_SHARED_VALIDATE) | M_ANONYMOUS;
        c->fd = -1;
        break;
    case 2: c->flags = M_PRIVATE; c->fd = any_fd(); break;
    case 3: c->flags = chance(75) ? M_SHARED : M_SHARED_VALIDATE; c->fd = any_fd(); break;
    default: {
        static const uint64_t odd[] = {0, M_TYPE, M_DROPPABLE | M_ANONYMOUS,
                                       M_SHARED_VALIDATE | M_ANONYMOUS, M_PRIVATE,
                                       M_SHARED | M_PRIVATE | M_ANONYMOUS | 0x4};
        c->flags = ONE_OF(odd);
        c->fd = chance(70) ? -1 : any_fd();
        break;
    }
    }
}

/* Where a fresh random mapping goes: anywhere, a hint, or fixed. */
static void any_map_place(struct map_call *c)
{
    static const unsigned w[] = {45, 20, 25, 10};
    switch (PICK(w)) {
    case 0: c->addr = 0; break;
    case 1: {
        static const unsigned hw[] = {60, 22, 6, 6, 6};
        switch (PICK(hw)) {
        case 0: c->addr = near_addr(); break;
        case 1: c->addr = far_addr(); break;
        case 2: c->addr = 0x1000 + below(0xf000); break;
        case 3: c->addr = chance(50) ? (1ULL << 47) + PAGE * below(16) : 0xffff800000000000ULL; break;
        default: c->addr = near_addr() + 1 + below(PAGE - 1); break;
        }
        break;
    }
    case 2:
        c->flags |= M_FIXED;
        c->addr = chance(3) ? PAGE * below(16) : near_addr();
        if (chance(4))
            c->addr += 1 + below(PAGE - 1);
        break;
    default:
        c->flags |= M_FIXED_NOREPLACE;
        c->addr = chance(8) ? lib_low + PAGE * below(16) : near_addr();
        break;
    }
}

/* A fresh random mmap call. */
static void any_map_call(struct map_call *c)
{
    any_map_kind(c);
    c->prot = any_map_prot();
    c->len = any_len();
    if (c->fd >= 0 && !(c->flags & M_ANONYMOUS) && chance(15) && c->fd < FDS_MAX &&
        fds[c->fd].open)
        c->len = files[fds[c->fd].file].size + below(3 * PAGE);
    c->len = clamp_len(c->len);
    bool anon = c->flags & M_ANONYMOUS;
    c->off = anon ? (chance(90) ? 0 : chance(60) ? PAGE * below(64) : 1 + below(PAGE))
                  : any_file_offset(c->fd);
    any_map_place(c);
    c->flags |= any_map_extras(c->prot, c->flags & M_TYPE, anon, c->len);
}

/* Is the kernel certain to refuse this mmap before it changes anything? */
static bool map_refused_early(const struct map_call *c)
{
    if (c->off & (PAGE - 1))
        return true;
    if (c->len == 0 || c->len > TASK_SIZE - 0x10000)
        return true;
    return (c->flags & M_FIXED) && (c->addr & (PAGE - 1));
}

/* Could this mmap make the kernel fault in a private writable page (or any page
 * of a MAP_DROPPABLE mapping)? */
static bool map_populates_privw(const struct map_call *c)
{
    bool locked = (c->flags & M_LOCKED) || future_locked;
    bool populate = (c->flags & (M_POPULATE | M_NONBLOCK)) == M_POPULATE;
    uint64_t type = c->flags & M_TYPE;
    bool priv_w = type != M_SHARED && type != M_SHARED_VALIDATE && (c->prot & P_WRITE);
    if (type == M_DROPPABLE || (c->flags & M_HUGETLB))
        return locked || populate;
    return priv_w && ((c->flags & M_LOCKED) || populate);
}

/* How far a fixed mmap may unmap: MAP_HUGETLB rounds the length up to the huge
 * page size, and a fixed mapping whose setup fails (no huge pages) has already
 * unmapped what it covered. */
static uint64_t map_reach_len(const struct map_call *c)
{
    if (!(c->flags & M_HUGETLB))
        return c->len;
    uint64_t shift = (c->flags >> M_HUGE_SHIFT) & 0x3f;
    uint64_t huge = 1ULL << (shift ? shift : 21);
    return c->len > UINT64_MAX - huge ? UINT64_MAX : (c->len + huge - 1) & ~(huge - 1);
}

static uint64_t pending_unlock_addr, pending_unlock_len;
static bool pending_unlock;

static void op_mmap(void)
{
    struct map_call c;
    for (int tries = 0;; tries++) {
        if (tries == 16) {
            c = (struct map_call){0, PAGE * (1 + below(4)), P_READ | P_WRITE,
                                  M_PRIVATE | M_ANONYMOUS, 0, -1};
            break;
        }
        if (!(chance(22) && continue_anchor(&c)))
            any_map_call(&c);
        if (map_populates_privw(&c))
            continue;
        if ((c.flags & M_FIXED) && !(c.flags & M_FIXED_NOREPLACE) && !map_refused_early(&c) &&
            !range_allowed(c.addr, map_reach_len(&c)))
            continue;
        if ((c.flags & M_FIXED_NOREPLACE) && (c.addr >= zone_top || reach_end(c.addr, c.len) > zone_top))
            continue;
        break;
    }
    long r = sys6(SYS_mmap, c.addr, c.len, c.prot, c.flags, (uint64_t)(int64_t)c.fd, c.off);
    if (r < 0)
        return;
    bool anon = c.flags & M_ANONYMOUS;
    uint64_t start = (uint64_t)r, end = reach_end(start, map_reach_len(&c));
    uint16_t bits = map_bits(c.prot, c.flags, !anon);
    shadow_set(start, end, bits);
    add_anchor((struct anchor){start, end - start, anon ? -1 : c.fd, anon ? 0 : c.off, c.prot,
                               c.flags & ~(uint64_t)(M_FIXED | M_FIXED_NOREPLACE)});
    if (c.flags & M_LOCKED) {
        pending_unlock = true;
        pending_unlock_addr = start;
        pending_unlock_len = end - start;
    }
}

/* -------------------------------------------------------------- munmap ---- */

static void op_munmap(void)
{
    uint64_t addr, len;
    static const unsigned w[] = {88, 4, 3, 3, 2};
    switch (PICK(w)) {
    case 0:
        for (int tries = 0;; tries++) {
            any_range(&addr, &len);
            if (chance(4))
                len += 1 + below(PAGE - 1);
            if (len != 0 && !(addr & (PAGE - 1)) && range_allowed(addr, len))
                break;
            if (tries == 16) {
                len = 0; /* EINVAL, harmless */
                break;
            }
        }
        break;
    case 1: addr = near_addr() + 1 + below(PAGE - 1); len = PAGE; break; /* EINVAL */
    case 2: addr = near_addr(); len = 0; break;                           /* EINVAL */
    case 3: addr = chance(50) ? (1ULL << 47) : TASK_SIZE + PAGE; len = PAGE; break;
    default: addr = near_addr(); len = TASK_SIZE; break; /* crosses TASK_SIZE */
    }
    long r = sys6(SYS_munmap, addr, len, 0, 0, 0, 0);
    if (r == 0)
        shadow_set(page_down(addr), reach_end(addr, len), 0);
}

/* ------------------------------------------------------------ mprotect ---- */

/* Shadow after a successful mprotect to prot (no GROWSDOWN): exact. */
static uint16_t protected_bits(uint16_t bits, unsigned prot)
{
    if (!(bits & S_OURS))
        return bits;
    bits &= (uint16_t)~(S_ACCESS | (bits & S_SHARED ? 0 : S_PRIVW));
    if (prot & (P_READ | P_WRITE | P_EXEC))
        bits |= S_ACCESS;
    if ((prot & P_WRITE) && !(bits & S_SHARED))
        bits |= S_PRIVW;
    return bits;
}

/* Shadow after an mprotect whose reach is uncertain: only adds possibilities. */
static uint16_t maybe_protected_bits(uint16_t bits, unsigned prot)
{
    if (!(bits & S_OURS))
        return bits;
    if (prot & (P_READ | P_WRITE | P_EXEC))
        bits |= S_ACCESS;
    if ((prot & P_WRITE) && !(bits & S_SHARED))
        bits |= S_PRIVW;
    return bits;
}

static void op_mprotect(void)
{
    static const uint64_t prots[] = {
        P_NONE, P_READ, P_READ, P_READ | P_WRITE, P_READ | P_WRITE, P_READ | P_WRITE | P_EXEC,
        P_READ | P_EXEC, P_WRITE, P_READ | P_SEM, P_READ | P_GROWSDOWN,
        P_READ | P_WRITE | P_GROWSDOWN, P_NONE | P_GROWSDOWN,
    };
    static const uint64_t bad[] = {0x10, 0x40, P_READ | 0x100, P_GROWSDOWN | P_GROWSUP | P_READ,
                                   P_GROWSUP | P_READ, 0x80000000};
    uint64_t addr, len, prot = chance(6) ? ONE_OF(bad) : ONE_OF(prots);
    static const unsigned w[] = {86, 5, 4, 5};
    bool early = true;
    switch (PICK(w)) {
    case 0:
        early = (prot & ~(uint64_t)(P_READ | P_WRITE | P_EXEC | P_SEM | P_GROWSDOWN)) != 0;
        for (int tries = 0;; tries++) {
            any_range(&addr, &len);
            if (early || range_allowed(addr, len))
                break;
            if (tries == 16) {
                addr = near_addr() + 1; /* unaligned: EINVAL */
                early = true;
                break;
            }
        }
        break;
    case 1: addr = near_addr() + 1 + below(PAGE - 1); len = PAGE; break; /* EINVAL */
    case 2: addr = near_addr(); len = 0; break;                           /* 0 */
    default: addr = near_addr(); len = UINT64_MAX - PAGE * below(4); break; /* wraps: ENOMEM */
    }
    long r = sys6(SYS_mprotect, addr, len, prot, 0, 0, 0);
    if (early)
        return;
    uint64_t lo = page_down(addr), hi = reach_end(addr, len);
    if (prot & P_GROWSDOWN)
        lo = shadow_run_start(lo);
    if (r == 0 && !(prot & P_GROWSDOWN))
        shadow_update(lo, hi, protected_bits, (unsigned)prot);
    else
        shadow_update(lo, hi, maybe_protected_bits, (unsigned)prot);
}

/* -------------------------------------------------------------- mremap ---- */

/* The anchor a moved range came from, for its kind and offset. */
static struct anchor anchor_for_move(uint64_t old, uint64_t start, uint64_t len)
{
    for (unsigned i = 0; i < anchor_count; i++) {
        const struct anchor *a = &anchors[i];
        if (old >= a->start && old < a->start + a->len) {
            struct anchor m = *a;
            m.off = a->fd >= 0 ? a->off + (old - a->start) : 0;
            m.start = start;
            m.len = len;
            return m;
        }
    }
    return (struct anchor){start, len, -2, 0, P_READ | P_WRITE, M_PRIVATE | M_ANONYMOUS};
}

/* Shadow after mremap moved [old, old+old_len) to new_addr with new_len.  Only
 * the moved pieces land at the target: a multi-mapping move (6.17+) leaves
 * whatever the target had in the gaps between them (found by seed 235). */
static void shadow_moved(uint64_t old, uint64_t old_len, uint64_t to, uint64_t new_len,
                         bool dontunmap)
{
    uint64_t old_end = reach_end(old, old_len), keep = min_u64(old_len, new_len);
    uint16_t last = known_or_worst(shadow_bits(old_end - PAGE, old_end));
    size_t n = shadow_collect(old, old + keep);
    if (!dontunmap)
        shadow_set(old, old_end, 0);
    for (size_t i = 0; i < n; i++)
        shadow_set(to + pieces[i].start, to + pieces[i].end, pieces[i].bits);
    if (new_len > old_len)
        shadow_set(to + old_len, to + new_len, last);
}

struct remap_call {
    uint64_t old, old_len, new_len, flags, new_addr;
};

static uint64_t any_remap_flags(void)
{
    static const unsigned w[] = {20, 35, 20, 10, 5, 10};
    switch (PICK(w)) {
    case 0: return 0;
    case 1: return MR_MAYMOVE;
    case 2: return MR_MAYMOVE | MR_FIXED;
    case 3: return MR_MAYMOVE | MR_DONTUNMAP;
    case 4: return MR_MAYMOVE | MR_FIXED | MR_DONTUNMAP;
    default: {
        static const uint64_t bad[] = {MR_FIXED, MR_DONTUNMAP, MR_MAYMOVE | 8, 0x10,
                                       MR_FIXED | MR_DONTUNMAP};
        return ONE_OF(bad);
    }
    }
}

static void any_remap_call(struct remap_call *c)
{
    const struct anchor *a = any_anchor();
    uint64_t end = a ? a->start + a->len : 0;
    static const unsigned ow[] = {60, 25, 5, 10};
    switch (a ? PICK(ow) : 3) {
    case 0: c->old = a->start; break;
    case 1: c->old = a->start + PAGE * below(min_u64(a->len / PAGE, 33)); break;
    case 2: c->old = a->start + 1 + below(PAGE - 1); break;
    default: c->old = near_addr(); break;
    }
    static const unsigned lw[] = {50, 30, 10, 5, 5};
    switch (PICK(lw)) {
    case 0: c->old_len = end > c->old ? end - c->old : PAGE; break;
    case 1: c->old_len = PAGE * (1 + below(6)); break;
    case 2: c->old_len = 0; break;
    case 3: c->old_len = PAGE * (1 + below(6)) - 1 - below(100); break;
    default: {
        const struct anchor *b = any_anchor();
        c->old_len = b && b->start + b->len > c->old ? b->start + b->len - c->old : PAGE;
        break;
    }
    }
    c->old_len = clamp_len(c->old_len);
    uint64_t base = c->old_len ? c->old_len : PAGE * (1 + below(4));
    static const unsigned nw[] = {25, 30, 20, 5, 5, 5, 5, 5};
    switch (PICK(nw)) {
    case 0: c->new_len = c->old_len; break;
    case 1: c->new_len = base + PAGE * (1 + below(8)); break;
    case 2: c->new_len = base > PAGE ? base - PAGE * (1 + below(base / PAGE - 1)) : base; break;
    case 3: c->new_len = 0; break;
    case 4: c->new_len = base + 1 + below(PAGE - 1); break;
    case 5: c->new_len = base + 2 * MIB; break;
    case 6: c->new_len = chance(50) ? HUGE_LEN : TASK_SIZE + PAGE; break;
    default: c->new_len = base; break;
    }
    c->new_len = clamp_len(c->new_len);
    c->flags = any_remap_flags();
    if ((c->flags & MR_DONTUNMAP) && chance(85))
        c->new_len = c->old_len ? c->old_len : c->new_len;
    c->new_addr = 0;
    if (c->flags & MR_FIXED) {
        c->new_addr = chance(8) ? c->old + PAGE * below(4) : near_addr();
        if (chance(4))
            c->new_addr += 1 + below(PAGE - 1);
    }
}

/* Is the kernel certain to refuse this mremap before it changes anything? */
static bool remap_refused_early(const struct remap_call *c)
{
    if (c->flags & ~(uint64_t)(MR_MAYMOVE | MR_FIXED | MR_DONTUNMAP))
        return true;
    if ((c->flags & (MR_FIXED | MR_DONTUNMAP)) && !(c->flags & MR_MAYMOVE))
        return true;
    if ((c->old & (PAGE - 1)) || page_up_sat(c->new_len) == 0 || c->new_len > TASK_SIZE)
        return true;
    return (c->flags & MR_FIXED) && (c->new_addr & (PAGE - 1));
}

/* A length as mremap applies it: hugetlb mappings round it up to their huge page
 * size (2 MiB, or 1 GiB). */
static uint64_t remap_len(uint64_t old, uint64_t len)
{
    uint16_t bits = shadow_bits(page_down(old), page_down(old) + PAGE);
    if (!(bits & S_HUGETLB))
        return len;
    uint64_t huge = (bits & S_HUGE_1G) ? 1024 * MIB : 2 * MIB;
    return len > UINT64_MAX - huge ? UINT64_MAX : (len + huge - 1) & ~(huge - 1);
}

static bool remap_allowed(const struct remap_call *c)
{
    if (remap_refused_early(c))
        return true;
    if (!range_allowed(c->old, max_u64(remap_len(c->old, c->old_len), PAGE)))
        return false;
    if (c->flags & MR_FIXED)
        return range_allowed(c->new_addr, remap_len(c->old, c->new_len));
    return true;
}

static void op_mremap(void)
{
    struct remap_call c;
    int tries = 0;
    do {
        any_remap_call(&c);
    } while (!remap_allowed(&c) && ++tries < 16);
    if (tries == 16)
        c = (struct remap_call){0x10000 + 1, PAGE, PAGE, MR_MAYMOVE, 0}; /* EINVAL */
    long r = sys6(SYS_mremap, c.old, c.old_len, c.new_len, c.flags, c.new_addr, 0);
    if (r < 0)
        return;
    uint64_t to = (uint64_t)r;
    uint64_t old_len = page_up_sat(remap_len(c.old, c.old_len));
    uint64_t new_len = page_up_sat(remap_len(c.old, c.new_len));
    if (c.old_len == 0) { /* a second mapping of shared pages */
        shadow_set(to, to + new_len, known_or_worst(shadow_bits(c.old, c.old + PAGE)));
    } else if (to == c.old && !(c.flags & MR_DONTUNMAP)) {
        if (new_len < old_len)
            shadow_set(to + new_len, to + old_len, 0);
        else if (new_len > old_len)
            shadow_set(to + old_len, to + new_len,
                         known_or_worst(shadow_bits(to + old_len - PAGE, to + old_len)));
    } else {
        shadow_moved(c.old, old_len, to, new_len, c.flags & MR_DONTUNMAP);
    }
    add_anchor(anchor_for_move(c.old, to, new_len));
}

/* ------------------------------------------------------------- madvise ---- */

static void op_madvise(void)
{
    static const uint64_t advice[] = {
        MADV_NORMAL_, MADV_RANDOM_, MADV_SEQUENTIAL_, MADV_DONTFORK_, MADV_DOFORK_,
        MADV_DONTFORK_, MADV_HUGEPAGE_, MADV_NOHUGEPAGE_, MADV_HUGEPAGE_, MADV_NOHUGEPAGE_,
        MADV_DONTDUMP_, MADV_DODUMP_, MADV_WIPEONFORK_, MADV_KEEPONFORK_, MADV_WIPEONFORK_,
        MADV_MERGEABLE_, MADV_UNMERGEABLE_, MADV_RANDOM_, MADV_SEQUENTIAL_, MADV_NORMAL_,
    };
    static const uint64_t unknown[] = {5, 6, 7, 99, 64, 0x7fffffff, UINT64_MAX};
    uint64_t adv = chance(8) ? ONE_OF(unknown) : ONE_OF(advice), addr, len;
    static const unsigned w[] = {88, 5, 4, 3};
    bool early = true;
    switch (PICK(w)) {
    case 0:
        for (int tries = 0;; tries++) {
            any_range(&addr, &len);
            early = len == 0 || adv > MADV_KEEPONFORK_ || (adv >= 3 && adv <= 9);
            if (early || range_allowed(addr, len))
                break;
            if (tries == 16) {
                len = 0;
                early = true;
                break;
            }
        }
        break;
    case 1: addr = near_addr() + 1 + below(PAGE - 1); len = PAGE; break;
    case 2: addr = near_addr(); len = 0; break;
    default: addr = near_addr(); len = UINT64_MAX - PAGE * below(4); break;
    }
    sys6(SYS_madvise, addr, len, adv, 0, 0, 0);
}

/* ----------------------------------------------------------------- brk ---- */

static void op_brk(void)
{
    uint64_t want;
    static const unsigned w[] = {15, 35, 20, 8, 7, 5, 10};
    switch (PICK(w)) {
    case 0: want = 0; break;
    case 1: want = cur_brk + PAGE * (1 + below(16)); break;
    case 2: want = max_u64(start_brk, cur_brk - min_u64(cur_brk, PAGE * (1 + below(16)))); break;
    case 3: want = start_brk - PAGE * (1 + below(4)); break;
    case 4: want = start_brk; break;
    case 5: {
        uint64_t big[] = {cur_brk + 16 * MIB, lib_low - PAGE, UINT64_MAX - PAGE + 1,
                          TASK_SIZE + PAGE};
        want = ONE_OF(big);
        break;
    }
    default: want = cur_brk + 1 + below(PAGE * 3); break;
    }
    long r = sys6(SYS_brk, want, 0, 0, 0, 0, 0);
    uint64_t now = (uint64_t)r, old_end = page_up_sat(cur_brk), new_end = page_up_sat(now);
    if (new_end > old_end)
        shadow_paint(old_end, new_end, S_HEAP);
    else if (new_end < old_end)
        shadow_paint(new_end, old_end, 0);
    cur_brk = now;
}

/* ---------------------------------------------------------------- locks ---- */

/* A range for a lock call that passes range_allowed (or a harmless far one). */
static void lock_range(uint64_t *addr, uint64_t *len)
{
    for (int tries = 0; tries < 16; tries++) {
        any_range(addr, len);
        if (chance(5))
            *addr += 1 + below(PAGE - 1); /* mlock rounds the start down */
        if (*len <= 16 * MIB && range_allowed(*addr, *len))
            return;
    }
    *addr = near_addr();
    *len = 0; /* page-aligned and empty: locks nothing, populates nothing */
}

static void op_lock(void)
{
    uint64_t addr, len;
    static const unsigned w[] = {34, 26, 8, 18, 8, 6};
    switch (PICK(w)) {
    case 0: /* mlock2 on fault: never populates, but not over MAP_DROPPABLE */
        lock_range(&addr, &len);
        if (shadow_bits(page_down(addr), reach_end(addr, len)) & S_DANGER) {
            /* mlock skips MAP_DROPPABLE areas and then populates them; an
             * unaligned start with len 0 would still cover a page */
            addr = page_down(addr);
            len = 0;
        }
        sys6(SYS_mlock2, addr, len, ML_ONFAULT, 0, 0, 0);
        break;
    case 1:
        lock_range(&addr, &len);
        sys6(SYS_munlock, addr, len, 0, 0, 0, 0);
        break;
    case 2: {
        static const uint64_t bad[] = {2, 0x10, ML_ONFAULT | 4, UINT64_MAX};
        lock_range(&addr, &len);
        sys6(SYS_mlock2, addr, len, ONE_OF(bad), 0, 0, 0);
        break;
    }
    case 3: /* populating lock: only where population writes nothing private */
        lock_range(&addr, &len);
        if (!populate_safe(addr, len)) {
            addr = page_down(addr);
            len = 0;
        }
        if (chance(50))
            sys6(SYS_mlock, addr, len, 0, 0, 0, 0);
        else
            sys6(SYS_mlock2, addr, len, 0, 0, 0, 0);
        pending_unlock = true;
        pending_unlock_addr = addr;
        pending_unlock_len = len;
        break;
    case 4: {
        static const uint64_t good[] = {MCL_CUR | MCL_ONF, MCL_FUT | MCL_ONF,
                                        MCL_CUR | MCL_FUT | MCL_ONF};
        static const uint64_t bad[] = {0, MCL_ONF, 8, MCL_CUR | 8};
        uint64_t flags = chance(40) ? ONE_OF(bad) : ONE_OF(good);
        if ((shadow_bits(0, UINT64_MAX) & S_DANGER) && (flags & ~(uint64_t)MCL_ONF))
            flags = MCL_ONF; /* a populate pass would fault MAP_DROPPABLE pages */
        long r = sys6(SYS_mlockall, flags, 0, 0, 0, 0, 0);
        if (r == 0)
            future_locked = (flags & MCL_FUT) != 0;
        break;
    }
    default:
        if (sys6(SYS_munlockall, 0, 0, 0, 0, 0, 0) == 0)
            future_locked = false;
        break;
    }
}

/* --------------------------------------------------------------- msync ---- */

static void op_msync(void)
{
    static const uint64_t flags[] = {MS_ASYNC_, MS_SYNC_, MS_INVALIDATE_,
                                     MS_ASYNC_ | MS_INVALIDATE_, MS_ASYNC_ | MS_SYNC_, 0, 8,
                                     MS_SYNC_, MS_ASYNC_};
    uint64_t addr, len;
    any_range(&addr, &len);
    if (len > 16 * MIB)
        len = PAGE * (1 + below(8));
    if (chance(5))
        addr += 1 + below(PAGE - 1);
    sys6(SYS_msync, addr, len, ONE_OF(flags), 0, 0, 0);
}

/* ---------------------------------------------------------- descriptors ---- */

static int open_file(unsigned file, unsigned flags)
{
    long fd = sys6(SYS_openat, (uint64_t)(int64_t)AT_FDCWD,
                   (uint64_t)(uintptr_t)files[file].path, flags, 0, 0, 0);
    if (fd >= 0 && fd < FDS_MAX)
        fds[fd] = (struct fd_slot){true, (uint16_t)file, (uint16_t)(flags & O_ACCMODE)};
    return (int)fd;
}

/* Copy the slot of fd to newfd after dup/dup2/dup3 returned newfd. */
static void dup_slot(int fd, long newfd)
{
    if (newfd >= 0 && newfd < FDS_MAX && fd >= 0 && fd < FDS_MAX)
        fds[newfd] = fds[fd];
}

static unsigned open_count(void)
{
    unsigned n = 0;
    for (int fd = 0; fd < FDS_MAX; fd++)
        n += fds[fd].open;
    return n;
}

static void op_fd(void)
{
    int fd = any_fd();
    static const unsigned w[] = {25, 30, 12, 10, 8, 5, 5, 5};
    unsigned k = PICK(w);
    if (open_count() > 24 && (k == 1 || k == 2 || k == 3 || k == 4))
        k = 0;
    switch (k) {
    case 0:
        if (sys6(SYS_close, (uint64_t)(int64_t)fd, 0, 0, 0, 0, 0) == 0 && fd >= 0 && fd < FDS_MAX)
            fds[fd].open = false;
        break;
    case 1: {
        static const unsigned modes[] = {O_RDONLY, O_RDONLY, O_RDWR, O_WRONLY, O_RDONLY | O_CLOEXEC};
        static const unsigned which[] = {F_BASH, F_SERVICES, F_LIBC, F_SCRATCH, F_SCRATCH,
                                         F_SERVICES, F_SHADOW, F_MISSING, F_DIR};
        unsigned f = ONE_OF(which);
        open_file(f, f == F_DIR ? O_RDONLY | O_DIRECTORY : ONE_OF(modes));
        break;
    }
    case 2: dup_slot(fd, sys6(SYS_dup, (uint64_t)(int64_t)fd, 0, 0, 0, 0, 0)); break;
    case 3: {
        uint64_t to = 20 + below(8);
        dup_slot(fd, sys6(SYS_dup2, (uint64_t)(int64_t)fd, to, 0, 0, 0, 0));
        break;
    }
    case 4: {
        uint64_t to = 28 + below(4);
        dup_slot(fd, sys6(SYS_dup3, (uint64_t)(int64_t)fd, to, O_CLOEXEC, 0, 0, 0));
        break;
    }
    case 5: sys6(SYS_dup3, (uint64_t)(int64_t)fd, (uint64_t)(int64_t)fd, 0, 0, 0, 0); break;
    case 6: sys6(SYS_dup2, (uint64_t)(int64_t)fd, (uint64_t)(int64_t)fd, 0, 0, 0, 0); break;
    default: sys6(SYS_close, 59, 0, 0, 0, 0, 0); break;
    }
}

/* ------------------------------------------------------------ the run ---- */

static void one_call(void)
{
    if (pending_unlock) {
        pending_unlock = false;
        sys6(SYS_munlock, pending_unlock_addr, pending_unlock_len, 0, 0, 0, 0);
        return;
    }
    static const unsigned w[] = {30, 12, 16, 12, 10, 4, 8, 4, 4};
    switch (PICK(w)) {
    case 0: op_mmap(); break;
    case 1: op_munmap(); break;
    case 2: op_mprotect(); break;
    case 3: op_mremap(); break;
    case 4: op_madvise(); break;
    case 5: op_brk(); break;
    case 6: op_lock(); break;
    case 7: op_msync(); break;
    default: op_fd(); break;
    }
}

/* The descriptors every run starts with (after the first marker). */
static void open_initial_files(void)
{
    open_file(F_BASH, O_RDONLY);
    open_file(F_SERVICES, O_RDONLY);
    open_file(F_LIBC, O_RDONLY | O_CLOEXEC);
    open_file(F_SCRATCH, O_RDWR);
    open_file(F_SCRATCH, O_WRONLY);
    open_file(F_SERVICES, O_RDWR);  /* EACCES for a normal user */
    open_file(F_DIR, O_RDONLY | O_DIRECTORY);
    open_file(F_MISSING, O_RDONLY); /* ENOENT */
}

/* ---------------------------------------------------------------- setup ---- */

#define MAPS_MAX (1024 * 1024)
static char maps_before[MAPS_MAX], maps_after[MAPS_MAX];

/* Read /proc/self/maps into buf; returns its length. */
static size_t read_maps(char *buf)
{
    long fd = sys6(SYS_openat, (uint64_t)(int64_t)AT_FDCWD, (uint64_t)(uintptr_t)"/proc/self/maps",
                   O_RDONLY, 0, 0, 0);
    if (fd < 0)
        die("cannot open /proc/self/maps");
    size_t n = 0;
    for (;;) {
        long r = sys6(SYS_read, (uint64_t)fd, (uint64_t)(uintptr_t)(buf + n), MAPS_MAX - 1 - n,
                      0, 0, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n >= MAPS_MAX - 1)
            die("/proc/self/maps too long");
    }
    sys6(SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
    buf[n] = 0;
    return n;
}

static uint64_t parse_hex(const char **p)
{
    uint64_t v = 0;
    for (;; (*p)++) {
        char ch = **p;
        if (ch >= '0' && ch <= '9')
            v = v * 16 + (uint64_t)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v = v * 16 + (uint64_t)(ch - 'a' + 10);
        else
            return v;
    }
}

static bool line_has(const char *line, const char *end, const char *word)
{
    size_t n = str_len(word);
    for (const char *p = line; p + n <= end; p++) {
        size_t i = 0;
        while (i < n && p[i] == word[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

/* Learn the initial layout: every line is foreign, [heap] is the heap, [stack]
 * fixes the zone top; the lowest mapping above the heap is the library floor. */
static void learn_layout(const char *maps)
{
    uint64_t stack_start = TASK_SIZE;
    lib_low = TASK_SIZE;
    image_low = TASK_SIZE;
    for (const char *p = maps; *p;) {
        const char *line = p, *end = p;
        while (*end && *end != '\n')
            end++;
        uint64_t start = parse_hex(&p);
        p++;
        uint64_t stop = parse_hex(&p);
        if (start < TASK_SIZE) {
            bool heap = line_has(line, end, "[heap]");
            shadow_paint(start, stop, heap ? S_HEAP : S_FOREIGN);
            if (heap)
                start_brk = start;
            if (line_has(line, end, "[stack]"))
                stack_start = start;
            else if (start >= (1ULL << 46) && start < lib_low)
                lib_low = start;
            else if (start < (1ULL << 46) && !heap && start < image_low)
                image_low = start;
        }
        p = *end ? end + 1 : end;
    }
    zone_top = stack_start - 64 * MIB;
}

static uint64_t parse_u64(const char *s)
{
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint64_t)(*s++ - '0');
    return v;
}

/* Limits of an ordinary 8 MiB-stack user: mlock limit 8 MiB, no data/AS limit. */
static void set_limits(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max < 8 * MIB ? rl.rlim_max : 8 * MIB;
        setrlimit(RLIMIT_MEMLOCK, &rl);
    }
    const int unlimited[] = {RLIMIT_AS, RLIMIT_DATA};
    for (unsigned i = 0; i < 2; i++)
        if (getrlimit(unlimited[i], &rl) == 0) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(unlimited[i], &rl);
        }
}

/* Root becomes nobody so that the run sees a normal user's permission rules. */
static void drop_root(void)
{
    if (geteuid() != 0)
        return;
    sys6(SYS_setgroups, 0, 0, 0, 0, 0, 0);
    if (sys6(SYS_setresgid, 65534, 65534, 65534, 0, 0, 0) != 0 ||
        sys6(SYS_setresuid, 65534, 65534, 65534, 0, 0, 0) != 0)
        die("cannot drop root privileges");
    sys6(SYS_prctl, 4 /* PR_SET_DUMPABLE */, 1, 0, 0, 0, 0);
}

/* Parse a decimal number at *p, skipping leading spaces. */
static uint64_t parse_dec(const char **p)
{
    uint64_t v = 0;
    while (**p == ' ')
        (*p)++;
    while (**p >= '0' && **p <= '9')
        v = v * 10 + (uint64_t)(*(*p)++ - '0');
    return v;
}

static bool starts_with(const char *p, const char *word)
{
    while (*word)
        if (*p++ != *word++)
            return false;
    return true;
}

/* The premise of the run: no mapping made by the program holds anonymous pages
 * (they would mean a write fault and an anon_vma that pagoda cannot know of).
 * Checks /proc/self/smaps after the last marker and complains on stderr, which
 * the harness treats as an invalid host run. */
static void check_untouched(char *buf)
{
    long fd = sys6(SYS_openat, (uint64_t)(int64_t)AT_FDCWD, (uint64_t)(uintptr_t)"/proc/self/smaps",
                   O_RDONLY, 0, 0, 0);
    if (fd < 0)
        return;
    size_t n = 0;
    long r;
    while (n < MAPS_MAX - 1 &&
           (r = sys6(SYS_read, (uint64_t)fd, (uint64_t)(uintptr_t)(buf + n), MAPS_MAX - 1 - n,
                     0, 0, 0)) > 0)
        n += (size_t)r;
    sys6(SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
    buf[n] = 0;
    uint64_t start = 0, end = 0;
    const char *header = buf;
    for (const char *p = buf; *p;) {
        const char *line = p;
        if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')) {
            header = line;
            start = parse_hex(&p);
            p++;
            end = parse_hex(&p);
        } else if (starts_with(p, "Anonymous:")) {
            p += 10;
            if (parse_dec(&p) != 0 && end > start && end <= TASK_SIZE &&
                !(shadow_bits(start, end) & (S_FOREIGN | S_HEAP))) {
                static const char msg[] = "mmfuzz: a mapping of the run holds anonymous pages: ";
                const char *eol = header;
                while (*eol && *eol != '\n')
                    eol++;
                put(2, msg, sizeof msg - 1);
                put(2, header, (size_t)(eol - header) + 1);
            }
        }
        while (*p && *p != '\n')
            p++;
        if (*p)
            p++;
    }
}

/* Sizes of the host files, for offsets inside and beyond them. */
static void stat_files(void)
{
    for (unsigned i = 0; i < F_COUNT; i++) {
        struct stat st;
        if (stat(files[i].path, &st) == 0)
            files[i].size = (uint64_t)st.st_size;
    }
}

/* A heap of two touched pages: the initial maps then show [heap] at start_brk
 * with the break at its end, and it has an anon_vma like every other initial
 * anonymous area. */
static void make_heap(void)
{
    uint64_t b = (uint64_t)sys6(SYS_brk, 0, 0, 0, 0, 0, 0);
    uint64_t want = page_up_sat(b) + 2 * PAGE;
    if ((uint64_t)sys6(SYS_brk, want, 0, 0, 0, 0, 0) != want)
        die("cannot grow the heap");
    *(volatile char *)(uintptr_t)b = 1;
    cur_brk = want;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        static const char usage[] = "usage: mmfuzz SEED COUNT [SCRATCH_FILE]\n";
        put(2, usage, sizeof usage - 1);
        return 2;
    }
    rng_state = parse_u64(argv[1]) * 0x2545f4914f6cdd1dULL + 1;
    uint64_t count = parse_u64(argv[2]);
    if (argc > 3)
        files[F_SCRATCH].path = argv[3];

    sys6(SYS_close_range, 3, ~0U, 0, 0, 0, 0);
    set_limits();
    stat_files();
    drop_root();
    make_heap();
    size_t before = read_maps(maps_before);
    learn_layout(maps_before);

    put(2, "PAGODA-BEGIN\n", 13);
    open_initial_files();
    for (uint64_t i = 0; i < count; i++)
        one_call();
    put(2, "PAGODA-END\n", 11);

    size_t after = read_maps(maps_after);
    put(1, maps_before, before);
    put(1, "----\n", 5);
    put(1, maps_after, after);
    check_untouched(maps_after);
    return 0;
}
