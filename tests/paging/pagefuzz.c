/*
 * tests/paging/pagefuzz.c - random memory accesses, forks and madvise calls for
 * pagoda's live differential test of paging (tests/paging/run-paging).
 *
 *   pagefuzz SEED COUNT FILE
 *
 * Run under `strace -f ... setarch -R pagefuzz ...`.  The program sets itself up
 * (limits, privileges, descriptors), reads /proc/self/maps, writes
 * "PAGODA-BEGIN\n" to fd 2, opens FILE read-write (a file the harness made and
 * synced, FILE_PAGES pages long) and performs COUNT random steps in an arena of
 * fixed slots: mmap (private/shared anonymous, private/shared file, some 2 MiB
 * aligned with MADV_HUGEPAGE), munmap of parts, mprotect, touches, writes,
 * fills and reads, madvise, fork (the child takes turns with the parent) and
 * reports of its own /proc/self/smaps entries and /proc/self/pagemap words.
 * Then it writes "PAGODA-END\n" to fd 2 and prints the maps before and after
 * (separated by "----") on stdout.
 *
 * The announcement protocol: every access and every report is announced by a
 * failing write(-1, "PAGODA <statement>", N) (EBADF), which strace prints
 * verbatim; the harness turns it into the pagoda statement:
 *     PAGODA touch 0xADDR LEN r|w         -> touch 0xADDR LEN r|w = ok
 *     PAGODA write 0xADDR TEXT            -> write 0xADDR "TEXT" = ok
 *     PAGODA fill 0xADDR LEN 0xBB         -> fill 0xADDR LEN 0xBB = ok
 *     PAGODA read 0xADDR LEN HEXBYTES     -> read 0xADDR LEN = "\xHH..."
 *     PAGODA smaps 0xADDR\nLINES          -> smaps 0xADDR = <<END LINES END
 *     PAGODA pagemap 0xADDR N\nLINES      -> pagemap 0xADDR N = <<END LINES END
 * An access is announced just before it is made; a report right after the
 * kernel produced it.  Announcements contain only printable ASCII without '"'
 * and '\\' (newlines separate the lines of a block), so strace's quoting is
 * only "\n".
 *
 * What keeps the host run deterministic and replayable:
 *  - no malloc/stdio after setup (they would call brk/mmap): static buffers
 *    and raw syscall(2) only;
 *  - /proc files are opened with open(2) and read with pread(2), which the
 *    trace does not show; they get descriptors above every traced one and are
 *    closed with close_range(2) (also not traced) before the end marker;
 *  - the parent and its child never run at the same time: they hand the turn
 *    over through pipes (read/writev, not traced), so the log order is the
 *    order of events;
 *  - accesses go only where the shadow says they succeed (no signal), file
 *    mappings stay inside the file, stores are the first access of a page
 *    (a `touch w` is a locked OR of 0: one write access that keeps the data);
 *  - no call evicts the file's page cache (no PAGEOUT/REMOVE on file
 *    mappings), whose pages all stay cached and clean from the harness's sync.
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
#include <sys/uio.h>
#include <unistd.h>

/* ------------------------------------------------------------ constants ---- */

#define PAGE 4096ULL
#define MIB (1ULL << 20)
#define ARENA 0x200000000000ULL /* far from the image, libraries and stack */
#define SLOT (8 * MIB)          /* one mapping per slot, 2 MiB aligned */
#define NSLOTS 10
#define SLOT_PAGES (SLOT / PAGE)
#define FILE_PAGES 96 /* the harness makes FILE exactly this long */
#define PM_PFN_MASK ((1ULL << 55) - 1)

/* x86-64 UAPI values, spelled out so that no libc header decides which exist. */
enum { P_NONE = 0, P_READ = 1, P_WRITE = 2 };
enum {
    M_SHARED = 0x1, M_PRIVATE = 0x2, M_ANONYMOUS = 0x20, M_POPULATE = 0x8000,
    M_FIXED_NOREPLACE = 0x100000,
};
enum {
    A_WILLNEED = 3, A_DONTNEED = 4, A_FREE = 8, A_REMOVE = 9, A_DONTFORK = 10,
    A_DOFORK = 11, A_HUGEPAGE = 14, A_NOHUGEPAGE = 15, A_WIPEONFORK = 18,
    A_KEEPONFORK = 19, A_COLD = 20, A_PAGEOUT = 21, A_POPULATE_READ = 22,
    A_POPULATE_WRITE = 23,
};

/* ------------------------------------------------------------- utilities ---- */

/* A system call through syscall(2); returns the result or -errno. */
static long sys6(long nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f)
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
    put(2, "pagefuzz: ", 10);
    put(2, why, str_len(why));
    put(2, "\n", 1);
    sys6(SYS_exit_group, 3, 0, 0, 0, 0, 0);
    for (;;)
        ;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

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

/* Uniform in [lo, hi]. */
static uint64_t between(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }

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

/* ------------------------------------------------------- text building ---- */

/* Announcements and reports are built in one static buffer. */
#define TEXT_MAX (256 * 1024)
static char text[TEXT_MAX];
static size_t text_len;

static void t_reset(void) { text_len = 0; }

static void t_str(const char *s)
{
    while (*s) {
        if (text_len >= TEXT_MAX - 1)
            die("announcement too long");
        text[text_len++] = *s++;
    }
}

static void t_mem(const char *s, size_t n)
{
    if (text_len + n >= TEXT_MAX - 1)
        die("announcement too long");
    for (size_t i = 0; i < n; i++)
        text[text_len++] = s[i];
}

static void t_dec(uint64_t v)
{
    char buf[24];
    size_t n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        t_mem(&buf[--n], 1);
}

/* v in hex, at least `digits` digits, with a 0x prefix. */
static void t_hex(uint64_t v, unsigned digits)
{
    char buf[20];
    unsigned n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (n < digits)
        buf[n++] = '0';
    t_str("0x");
    while (n)
        t_mem(&buf[--n], 1);
}

/* Announce the text: write(-1, "PAGODA ...", N) fails with EBADF and shows in
 * the strace log verbatim. */
static void announce(void)
{
    static char msg[TEXT_MAX + 8];
    size_t n = 0;
    for (const char *p = "PAGODA "; *p; p++)
        msg[n++] = *p;
    for (size_t i = 0; i < text_len; i++)
        msg[n++] = text[i];
    long r = sys6(SYS_write, (uint64_t)-1, (uint64_t)(uintptr_t)msg, n, 0, 0, 0);
    if (r != -EBADF)
        die("the announcement write did not fail with EBADF");
}

/* ------------------------------------------------------------ LRU batches ---- */

/* Linux queues LRU changes (new pages joining the LRU, MADV_FREE's lazy-free
 * marking, deactivation, activation) in per-CPU batches that are applied when a
 * batch fills or the CPU drains it, which other processes' work on the CPU also
 * causes.  smaps shows their effects (LazyFree, Referenced) and MADV_FREE skips a
 * page still waiting to join the LRU, so the program runs on one CPU and drains
 * its batches before each report and each MADV_FREE: MADV_COLD on a page that
 * was never touched (a no-op apart from the drain) - visible in the log as
 * madvise(DRAIN_PAGE, 4096, MADV_COLD) = 0. */
#define DRAIN_PAGE (ARENA - 2 * PAGE)

static void drain_lru(void)
{
    if (sys6(SYS_madvise, DRAIN_PAGE, PAGE, 20 /* MADV_COLD */, 0, 0, 0) != 0)
        die("the draining MADV_COLD failed");
}

/* Map the drain page (before the first marker) and pin the program to the last
 * CPU it may run on. */
static void setup_drain(void)
{
    if (sys6(SYS_mmap, DRAIN_PAGE, PAGE, 1 /* PROT_READ */, 0x2 | 0x20 | 0x100000 /* PRIVATE|ANONYMOUS|FIXED_NOREPLACE */,
             (uint64_t)-1, 0) != (long)DRAIN_PAGE)
        die("cannot map the drain page");
    static uint64_t mask[16];
    if (sys6(SYS_sched_getaffinity, 0, sizeof mask, (uint64_t)(uintptr_t)mask, 0, 0, 0) <= 0)
        die("sched_getaffinity failed");
    int last = -1;
    for (int cpu = 0; cpu < 16 * 64; cpu++)
        if (mask[cpu / 64] >> (cpu % 64) & 1)
            last = cpu;
    for (unsigned i = 0; i < 16; i++)
        mask[i] = 0;
    mask[last / 64] = 1ULL << (last % 64);
    if (sys6(SYS_sched_setaffinity, 0, sizeof mask, (uint64_t)(uintptr_t)mask, 0, 0, 0) != 0)
        die("sched_setaffinity failed");
}

/* ----------------------------------------------------------------- shadow ---- */

/* The arena: NSLOTS slots of SLOT bytes; each holds at most one mapping (and
 * the pieces munmap leaves of it).  Per page: mapped, readable, writable,
 * MADV_DONTFORK. */
enum { PG_MAPPED = 1, PG_R = 2, PG_W = 4, PG_DONTFORK = 8 };
enum kind { K_ANON, K_SHANON, K_FILE_PRIV, K_FILE_SHARED };

struct slot {
    enum kind kind;
    uint8_t pg[SLOT_PAGES];
};

static struct slot slots[NSLOTS];
static int file_fd = -1;
static bool in_child;

static uint64_t slot_base(unsigned s) { return ARENA + (uint64_t)s * SLOT; }

static bool slot_used(unsigned s)
{
    for (uint64_t i = 0; i < SLOT_PAGES; i++)
        if (slots[s].pg[i] & PG_MAPPED)
            return true;
    return false;
}

/* A random slot that holds mapped pages, or -1. */
static int used_slot(void)
{
    unsigned cand[NSLOTS], n = 0;
    for (unsigned s = 0; s < NSLOTS; s++)
        if (slot_used(s))
            cand[n++] = s;
    return n ? (int)cand[below(n)] : -1;
}

/* A random mapped page of slot s (it has one). */
static uint64_t mapped_page(unsigned s)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < SLOT_PAGES; i++)
        n += (slots[s].pg[i] & PG_MAPPED) != 0;
    uint64_t k = below(n);
    for (uint64_t i = 0; i < SLOT_PAGES; i++)
        if ((slots[s].pg[i] & PG_MAPPED) && k-- == 0)
            return i;
    die("shadow: no mapped page");
}

/* The run of pages from page `first` on (at most max) that all have the bits. */
static uint64_t run_with(unsigned s, uint64_t first, uint64_t max, uint8_t bits)
{
    uint64_t n = 0;
    while (first + n < SLOT_PAGES && n < max && (slots[s].pg[first + n] & bits) == bits)
        n++;
    return n;
}

/* A length in pages: mostly small, sometimes up to a few MiB. */
static uint64_t some_pages(void)
{
    switch (below(4)) {
    case 0: return 1;
    case 1: return between(2, 16);
    case 2: return between(1, 64);
    default: return between(1, 1024);
    }
}

/* Prot bits as shadow bits. */
static uint8_t prot_bits(unsigned prot)
{
    return (uint8_t)(((prot & P_READ) || (prot & P_WRITE) ? PG_R : 0) | (prot & P_WRITE ? PG_W : 0));
}

/* ---------------------------------------------------------------- accesses ---- */

/* touch: one access per page from page `first` of slot s, n pages. */
static void do_touch(unsigned s, uint64_t first, uint64_t n, bool write)
{
    uint64_t addr = slot_base(s) + first * PAGE;
    t_reset();
    t_str("touch ");
    t_hex(addr, 0);
    t_str(" ");
    t_dec(n * PAGE);
    t_str(write ? " w" : " r");
    announce();
    for (uint64_t i = 0; i < n; i++) {
        volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)(addr + i * PAGE);
        if (write)
            __atomic_fetch_or(p, (uint8_t)0, __ATOMIC_RELAXED); /* one write access, data kept */
        else
            (void)*p;
    }
}

static void op_touch(void)
{
    int s = used_slot();
    if (s < 0)
        return;
    bool write = chance(50);
    uint64_t first = mapped_page((unsigned)s);
    uint64_t n = run_with((unsigned)s, first, some_pages(), write ? PG_W : PG_R);
    if (n)
        do_touch((unsigned)s, first, n, write);
}

/* write: a short string at a random offset inside writable pages. */
static void op_write(void)
{
    int s = used_slot();
    if (s < 0)
        return;
    uint64_t page = mapped_page((unsigned)s);
    uint64_t len = between(1, 24), off = below(PAGE);
    uint64_t addr = slot_base((unsigned)s) + page * PAGE + off;
    uint64_t pages = (off + len + PAGE - 1) / PAGE;
    if (run_with((unsigned)s, page, pages, PG_W) != pages)
        return;
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.:";
    char buf[32] = {0};
    for (uint64_t i = 0; i < len; i++)
        buf[i] = letters[below(sizeof letters - 1)];
    t_reset();
    t_str("write ");
    t_hex(addr, 0);
    t_str(" ");
    t_mem(buf, len); /* no quotes: strace would escape them; the harness adds them */
    announce();
    volatile char *p = (volatile char *)(uintptr_t)addr;
    for (uint64_t i = 0; i < len; i++)
        p[i] = buf[i];
}

/* fill: LEN copies of a byte, stored in ascending order. */
static void op_fill(void)
{
    int s = used_slot();
    if (s < 0)
        return;
    uint64_t page = mapped_page((unsigned)s);
    uint64_t pages = run_with((unsigned)s, page, some_pages(), PG_W);
    if (!pages)
        return;
    uint64_t off = chance(50) ? 0 : below(PAGE);
    uint64_t len = chance(50) ? pages * PAGE - off : between(1, pages * PAGE - off);
    uint64_t addr = slot_base((unsigned)s) + page * PAGE + off;
    uint8_t byte = (uint8_t)between(1, 255);
    t_reset();
    t_str("fill ");
    t_hex(addr, 0);
    t_str(" ");
    t_dec(len);
    t_str(" ");
    t_hex(byte, 2);
    announce();
    volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)addr;
    for (uint64_t i = 0; i < len; i++)
        p[i] = byte;
}

/* read: a few bytes inside one readable page, announced with what they were. */
static void op_read(void)
{
    int s = used_slot();
    if (s < 0)
        return;
    uint64_t page = mapped_page((unsigned)s);
    if (!(slots[s].pg[page] & PG_R))
        return;
    uint64_t len = between(1, 16), off = below(PAGE - len + 1);
    uint64_t addr = slot_base((unsigned)s) + page * PAGE + off;
    uint8_t got[16];
    volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)addr;
    for (uint64_t i = 0; i < len; i++)
        got[i] = p[i];
    t_reset();
    t_str("read ");
    t_hex(addr, 0);
    t_str(" ");
    t_dec(len);
    t_str(" ");
    for (uint64_t i = 0; i < len; i++) {
        t_mem(&"0123456789abcdef"[got[i] >> 4], 1);
        t_mem(&"0123456789abcdef"[got[i] & 15], 1);
    }
    announce();
}

/* ----------------------------------------------------------------- reports ---- */

#define PROC_MAX (1024 * 1024)
static char proc_buf[PROC_MAX];
static int smaps_fd = -1, pagemap_fd = -1;

/* Open this process's /proc files with open(2), which the trace does not show. */
static void open_proc_files(void)
{
    smaps_fd = (int)sys6(SYS_open, (uint64_t)(uintptr_t)"/proc/self/smaps", O_RDONLY, 0, 0, 0, 0);
    pagemap_fd = (int)sys6(SYS_open, (uint64_t)(uintptr_t)"/proc/self/pagemap", O_RDONLY, 0, 0, 0, 0);
    if (smaps_fd < 0 || pagemap_fd < 0)
        die("cannot open /proc/self/smaps or pagemap");
}

static void close_fd_untraced(int fd)
{
    if (fd >= 0)
        sys6(SYS_close_range, (uint64_t)fd, (uint64_t)fd, 0, 0, 0, 0);
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

static bool is_header(const char *p) { return (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); }

/* Announce the /proc/self/smaps entry of the VMA holding addr. */
static void report_smaps(uint64_t addr)
{
    size_t n = 0;
    long r;
    while ((r = sys6(SYS_pread64, (uint64_t)smaps_fd, (uint64_t)(uintptr_t)(proc_buf + n), PROC_MAX - 1 - n, n, 0,
                     0)) > 0) {
        n += (size_t)r;
        if (n >= PROC_MAX - 1)
            die("/proc/self/smaps too long");
    }
    proc_buf[n] = 0;
    for (const char *p = proc_buf; *p;) {
        const char *q = p;
        uint64_t start = parse_hex(&q);
        q++;
        uint64_t end = parse_hex(&q);
        const char *e = p; /* the entry ends at the next header */
        do {
            while (*e && *e != '\n')
                e++;
            if (*e)
                e++;
        } while (*e && !is_header(e));
        if (start <= addr && addr < end) {
            t_reset();
            t_str("smaps ");
            t_hex(addr, 0);
            t_str("\n");
            t_mem(p, (size_t)(e - p) - (e[-1] == '\n'));
            announce();
            return;
        }
        p = e;
    }
    die("no smaps entry holds the address");
}

/* Announce n /proc/self/pagemap entries from addr, the PFN bits cleared (an
 * unprivileged reader sees 0 there, and so does pagoda). */
static void report_pagemap(uint64_t addr, uint64_t n)
{
    uint64_t words[64];
    if (n > 64)
        n = 64;
    long r = sys6(SYS_pread64, (uint64_t)pagemap_fd, (uint64_t)(uintptr_t)words, n * 8, addr / PAGE * 8, 0, 0);
    if (r != (long)(n * 8))
        die("short /proc/self/pagemap read");
    t_reset();
    t_str("pagemap ");
    t_hex(addr, 0);
    t_str(" ");
    t_dec(n);
    for (uint64_t i = 0; i < n; i++) {
        t_str("\n");
        t_hex(words[i] & ~PM_PFN_MASK, 16);
    }
    announce();
}

static void op_report(void)
{
    int s = used_slot();
    if (s < 0)
        return;
    drain_lru();
    uint64_t page = mapped_page((unsigned)s);
    if (chance(60))
        report_smaps(slot_base((unsigned)s) + page * PAGE);
    if (chance(60)) { /* mostly mapped pages, sometimes a few before or after */
        uint64_t first = page >= 4 && chance(20) ? page - between(1, 4) : page;
        uint64_t n = run_with((unsigned)s, page, 64, PG_MAPPED) + (page - first) + (chance(20) ? between(1, 4) : 0);
        report_pagemap(slot_base((unsigned)s) + first * PAGE, n < 1 ? 1 : n);
    }
}

/* Every used slot: the smaps entry and the first pagemap words of its first
 * mapped page. */
static void report_all(void)
{
    drain_lru();
    for (unsigned s = 0; s < NSLOTS; s++)
        for (uint64_t i = 0; i < SLOT_PAGES; i++)
            if (slots[s].pg[i] & PG_MAPPED) {
                report_smaps(slot_base(s) + i * PAGE);
                report_pagemap(slot_base(s) + i * PAGE, 16);
                break;
            }
}

/* ------------------------------------------------------- address space ---- */

static void op_map(void)
{
    unsigned free_slots[NSLOTS], nfree = 0;
    for (unsigned s = 0; s < NSLOTS; s++)
        if (!slot_used(s))
            free_slots[nfree++] = s;
    if (!nfree)
        return;
    unsigned s = free_slots[below(nfree)];
    static const unsigned kind_weights[] = {45, 15, 20, 20};
    enum kind kind = (enum kind)pick_weighted(kind_weights, 4);
    uint64_t first = 0, pages, file_page = 0;
    bool huge = false;
    if (kind == K_FILE_PRIV || kind == K_FILE_SHARED) {
        file_page = below(FILE_PAGES);
        pages = between(1, FILE_PAGES - file_page);
        first = below(16);
    } else if (chance(40)) { /* 2 MiB aligned, a THP candidate */
        first = chance(70) ? 0 : between(1, 2) * (2 * MIB / PAGE) - (chance(30) ? 256 : 0);
        pages = between(1, 2) * (2 * MIB / PAGE) + (chance(30) ? between(1, 300) : 0);
        huge = kind == K_ANON && chance(75);
    } else {
        first = below(64);
        pages = between(1, 64);
    }
    /* A gap of at least one page before the next slot: slots never merge. */
    pages = min_u64(pages, SLOT_PAGES - 1 - first);
    static const unsigned prot_weights[] = {10, 15, 75};
    static const unsigned prots[] = {P_NONE, P_READ, P_READ | P_WRITE};
    unsigned prot = prots[pick_weighted(prot_weights, 3)];
    uint64_t flags = M_FIXED_NOREPLACE | (kind == K_ANON || kind == K_FILE_PRIV ? M_PRIVATE : M_SHARED);
    if (kind == K_ANON || kind == K_SHANON)
        flags |= M_ANONYMOUS;
    if (chance(8))
        flags |= M_POPULATE;
    uint64_t addr = slot_base(s) + first * PAGE, len = pages * PAGE;
    bool file = kind == K_FILE_PRIV || kind == K_FILE_SHARED;
    long r = sys6(SYS_mmap, addr, len, prot, flags, file ? (uint64_t)file_fd : (uint64_t)-1,
                  file ? file_page * PAGE : 0);
    if (r != (long)addr)
        die("mmap in a free slot failed");
    slots[s].kind = kind;
    for (uint64_t i = 0; i < pages; i++)
        slots[s].pg[first + i] = (uint8_t)(PG_MAPPED | prot_bits(prot));
    if (huge)
        sys6(SYS_madvise, addr, len, A_HUGEPAGE, 0, 0, 0);
}

/* munmap a random part of a slot (holes and all), or all of it. */
static void op_unmap(void)
{
    int s = used_slot();
    if (s < 0)
        return;
    uint64_t first = chance(25) ? 0 : mapped_page((unsigned)s);
    uint64_t n = chance(25) ? SLOT_PAGES - first : min_u64(some_pages(), SLOT_PAGES - first);
    long r = sys6(SYS_munmap, slot_base((unsigned)s) + first * PAGE, n * PAGE, 0, 0, 0, 0);
    if (r != 0)
        die("munmap failed");
    for (uint64_t i = 0; i < n; i++)
        slots[s].pg[first + i] = 0;
}

/* mprotect a fully mapped range (a hole would make a partial change). */
static void op_mprotect(void)
{
    int s = used_slot();
    if (s < 0)
        return;
    uint64_t first = mapped_page((unsigned)s);
    uint64_t n = run_with((unsigned)s, first, some_pages(), PG_MAPPED);
    static const unsigned prots[] = {P_NONE, P_READ, P_READ | P_WRITE, P_READ | P_WRITE};
    unsigned prot = prots[below(4)];
    long r = sys6(SYS_mprotect, slot_base((unsigned)s) + first * PAGE, n * PAGE, prot, 0, 0, 0);
    if (r != 0)
        die("mprotect failed");
    for (uint64_t i = 0; i < n; i++)
        slots[s].pg[first + i] = (uint8_t)((slots[s].pg[first + i] & PG_DONTFORK) | PG_MAPPED | prot_bits(prot));
}

/* madvise on a random range of a slot; the advice fits the kind of mapping
 * where it could change the host's page cache (never PAGEOUT or REMOVE on a
 * file, which would evict or punch the harness's file). */
static void op_madvise(void)
{
    int s = used_slot();
    if (s < 0)
        return;
    static const unsigned advice[] = {
        A_DONTNEED, A_DONTNEED, A_FREE, A_FREE, A_WILLNEED, A_COLD, A_PAGEOUT, A_POPULATE_READ,
        A_POPULATE_WRITE, A_REMOVE, A_HUGEPAGE, A_NOHUGEPAGE, A_DONTFORK, A_DOFORK, A_WIPEONFORK,
        A_KEEPONFORK,
    };
    unsigned adv = advice[below(sizeof advice / sizeof advice[0])];
    bool file = slots[s].kind == K_FILE_PRIV || slots[s].kind == K_FILE_SHARED;
    if (file && (adv == A_PAGEOUT || adv == A_REMOVE))
        adv = A_COLD;
    if (slots[s].kind != K_ANON && adv == A_FREE && chance(70)) /* mostly where it works */
        adv = A_DONTNEED;
    uint64_t first = chance(15) ? 0 : mapped_page((unsigned)s);
    uint64_t n;
    if (chance(70))
        n = run_with((unsigned)s, first, some_pages(), PG_MAPPED);
    else
        n = min_u64(some_pages(), SLOT_PAGES - first);
    if (!n)
        n = 1;
    if (adv == A_FREE)
        drain_lru();
    sys6(SYS_madvise, slot_base((unsigned)s) + first * PAGE, n * PAGE, adv, 0, 0, 0);
    if (adv == A_DONTFORK || adv == A_DOFORK)
        for (uint64_t i = first; i < first + n; i++)
            if (slots[s].pg[i] & PG_MAPPED)
                slots[s].pg[i] = (uint8_t)(adv == A_DONTFORK ? slots[s].pg[i] | PG_DONTFORK
                                                             : slots[s].pg[i] & ~PG_DONTFORK);
}

/* ------------------------------------------------------------------- fork ---- */

/* The parent and its child take turns: a command byte down one pipe, an
 * acknowledgement up the other (read and writev are not traced). */
static int cmd_pipe[2] = {-1, -1}, ack_pipe[2] = {-1, -1};
static long child_pid;

static void send_byte(int fd, char c)
{
    struct iovec iov = {&c, 1};
    if (sys6(SYS_writev, (uint64_t)fd, (uint64_t)(uintptr_t)&iov, 1, 0, 0, 0) != 1)
        die("cannot write a pipe");
}

static char recv_byte(int fd)
{
    char c = 0;
    if (sys6(SYS_read, (uint64_t)fd, (uint64_t)(uintptr_t)&c, 1, 0, 0, 0) != 1)
        die("cannot read a pipe");
    return c;
}

static void one_step(void);

/* The child: its own /proc files, then turns of a few steps until told to exit. */
static _Noreturn void child_main(void)
{
    in_child = true;
    rng_state ^= 0x5bd1e995ULL; /* its own sequence */
    for (unsigned s = 0; s < NSLOTS; s++)
        for (uint64_t i = 0; i < SLOT_PAGES; i++)
            if (slots[s].pg[i] & PG_DONTFORK)
                slots[s].pg[i] = 0;
    open_proc_files();
    for (;;) {
        char c = recv_byte(cmd_pipe[0]);
        if (c == 'X')
            sys6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
        uint64_t steps = between(1, 6);
        for (uint64_t i = 0; i < steps; i++)
            one_step();
        if (chance(70))
            op_report();
        send_byte(ack_pipe[1], 'A');
    }
}

static void op_fork(void)
{
    if (child_pid)
        return;
    if (sys6(SYS_pipe2, (uint64_t)(uintptr_t)cmd_pipe, O_CLOEXEC, 0, 0, 0, 0) != 0 ||
        sys6(SYS_pipe2, (uint64_t)(uintptr_t)ack_pipe, O_CLOEXEC, 0, 0, 0, 0) != 0)
        die("cannot make pipes");
    long pid = sys6(SYS_fork, 0, 0, 0, 0, 0, 0);
    if (pid < 0)
        die("fork failed");
    if (pid == 0)
        child_main();
    child_pid = pid;
}

/* Give the child a turn and wait until it is over. */
static void op_child_turn(void)
{
    if (!child_pid)
        return;
    send_byte(cmd_pipe[1], 'S');
    if (recv_byte(ack_pipe[0]) != 'A')
        die("the child did not finish its turn");
}

static void end_child(void)
{
    if (!child_pid)
        return;
    send_byte(cmd_pipe[1], 'X');
    int status = 0;
    if (sys6(SYS_wait4, (uint64_t)child_pid, (uint64_t)(uintptr_t)&status, 0, 0, 0, 0) != child_pid ||
        status != 0)
        die("the child did not exit cleanly");
    child_pid = 0;
    for (unsigned i = 0; i < 2; i++) {
        close_fd_untraced(cmd_pipe[i]);
        close_fd_untraced(ack_pipe[i]);
    }
}

/* ------------------------------------------------------------ the run ---- */

enum {
    OP_MAP, OP_UNMAP, OP_MPROTECT, OP_TOUCH, OP_WRITE, OP_FILL, OP_READ, OP_MADVISE,
    OP_REPORT, OP_FORK, OP_CHILD_TURN, OP_END_CHILD, OP_COUNT
};

static void one_step(void)
{
    static const unsigned weights[OP_COUNT] = {
        [OP_MAP] = 10, [OP_UNMAP] = 4, [OP_MPROTECT] = 5, [OP_TOUCH] = 20, [OP_WRITE] = 6,
        [OP_FILL] = 5, [OP_READ] = 6, [OP_MADVISE] = 16, [OP_REPORT] = 12, [OP_FORK] = 2,
        [OP_CHILD_TURN] = 6, [OP_END_CHILD] = 2,
    };
    switch (pick_weighted(weights, OP_COUNT)) {
    case OP_MAP: op_map(); break;
    case OP_UNMAP: op_unmap(); break;
    case OP_MPROTECT: op_mprotect(); break;
    case OP_TOUCH: op_touch(); break;
    case OP_WRITE: op_write(); break;
    case OP_FILL: op_fill(); break;
    case OP_READ: op_read(); break;
    case OP_MADVISE: op_madvise(); break;
    case OP_REPORT: op_report(); break;
    case OP_FORK:
        if (!in_child)
            op_fork();
        break;
    case OP_CHILD_TURN:
        if (!in_child)
            op_child_turn();
        break;
    case OP_END_CHILD:
        if (!in_child)
            end_child();
        break;
    }
}

/* ---------------------------------------------------------------- setup ---- */

#define MAPS_MAX (1024 * 1024)
static char maps_before[MAPS_MAX], maps_after[MAPS_MAX];

/* Read /proc/self/maps into buf (openat/close show in the log, as in
 * tests/diff/mmfuzz.c); returns its length. */
static size_t read_maps(char *buf)
{
    long fd = sys6(SYS_openat, (uint64_t)(int64_t)AT_FDCWD, (uint64_t)(uintptr_t)"/proc/self/maps", O_RDONLY, 0,
                   0, 0);
    if (fd < 0)
        die("cannot open /proc/self/maps");
    size_t n = 0;
    for (;;) {
        long r = sys6(SYS_read, (uint64_t)fd, (uint64_t)(uintptr_t)(buf + n), MAPS_MAX - 1 - n, 0, 0, 0);
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

/* Root becomes nobody: a normal user's rules, and pagemap hides the PFNs. */
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

int main(int argc, char **argv)
{
    if (argc < 4) {
        static const char usage[] = "usage: pagefuzz SEED COUNT FILE\n";
        put(2, usage, sizeof usage - 1);
        return 2;
    }
    rng_state = parse_u64(argv[1]) * 0x2545f4914f6cdd1dULL + 7;
    uint64_t count = parse_u64(argv[2]);

    sys6(SYS_close_range, 3, ~0U, 0, 0, 0, 0);
    set_limits();
    drop_root();
    struct stat st;
    if (stat(argv[3], &st) != 0 || st.st_size != (off_t)(FILE_PAGES * PAGE))
        die("FILE must exist and be FILE_PAGES pages long");
    setup_drain();
    size_t before = read_maps(maps_before);

    put(2, "PAGODA-BEGIN\n", 13);
    file_fd = (int)sys6(SYS_openat, (uint64_t)(int64_t)AT_FDCWD, (uint64_t)(uintptr_t)argv[3], O_RDWR, 0, 0, 0);
    if (file_fd < 0)
        die("cannot open FILE read-write");
    open_proc_files();
    for (uint64_t i = 0; i < count; i++)
        one_step();
    if (child_pid) {
        op_child_turn();
        end_child();
    }
    report_all();
    close_fd_untraced(smaps_fd);
    close_fd_untraced(pagemap_fd);
    put(2, "PAGODA-END\n", 11);

    size_t after = read_maps(maps_after);
    put(1, maps_before, before);
    put(1, "----\n", 5);
    put(1, maps_after, after);
    return 0;
}
