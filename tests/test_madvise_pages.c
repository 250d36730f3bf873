/*
 * tests/test_madvise_pages.c - the page-level effects of the memory calls
 * (src/mm/populate.c, src/mm/reclaim.c, src/mm/madvise.c) against what a Linux 6.18
 * host does: MAP_POPULATE / MAP_LOCKED / mlock / mlockall populating, the
 * MADV_POPULATE_* errno rules, DONTNEED, FREE and the lazyfree batch, COLD, PAGEOUT
 * without swap, REMOVE punching holes across processes, WILLNEED and mincore.
 *
 * Every access goes from user mode through the simulated MMU; frame counts are exact
 * (page tables are built by a first touch in the same 2 MiB region, so later deltas
 * count data frames only), and each test ends with the leak audit.
 */
#include "support/support.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagoda/kernel.h>

#include "mm/fault.h"

#define PG 0x1000ULL
#define BASE 0x10000000ULL /* 2 MiB aligned */
#define A(page) (BASE + (uint64_t)(page) * PG)
#define RO PGD_PROT_READ
#define RW (PGD_PROT_READ | PGD_PROT_WRITE)
#define PRIV_ANON (PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS | PGD_MAP_FIXED)
#define SHARED_ANON (PGD_MAP_SHARED | PGD_MAP_ANONYMOUS | PGD_MAP_FIXED)
#define PRIV_FILE (PGD_MAP_PRIVATE | PGD_MAP_FIXED)
#define SHARED_FILE (PGD_MAP_SHARED | PGD_MAP_FIXED)
#define POPULATE PGD_MAP_POPULATE
#define SIGCHLD_NR 17

enum {
    MADV_WILLNEED = 3,
    MADV_DONTNEED = 4,
    MADV_FREE = 8,
    MADV_REMOVE = 9,
    MADV_COLD = 20,
    MADV_PAGEOUT = 21,
    MADV_POPULATE_READ = 22,
    MADV_POPULATE_WRITE = 23,
    MADV_DONTNEED_LOCKED = 24,
    MADV_GUARD_INSTALL = 102,
};

/* ---- the machine ------------------------------------------------------------------- */

static struct kernel *boot(void)
{
    struct kernel_config cfg;
    kernel_config_default(&cfg);
    cfg.ram = 64ULL << 20;
    struct kernel *k = NULL;
    assert_int_equal(kernel_create(&cfg, &k), 0);
    assert_int_equal(mm_zero_page_reserve(k->phys), 0);
    return k;
}

static struct process *spawn(struct kernel *k)
{
    struct process *p = kernel_new_process(k, 0);
    assert_non_null(p);
    return p;
}

static void shutdown_audit(struct kernel *k)
{
    while (k->procs)
        kernel_reap(k, k->procs);
    mm_fault_release_phys(k->phys);
    test_leak_audit(k->phys);
    kernel_destroy(k);
}

static struct process *fork_of(struct kernel *k, struct process *p)
{
    long pid = kernel_clone(k, p, 0, SIGCHLD_NR, 0);
    assert_true(pid > 0);
    return kernel_find(k, (int)pid);
}

static void map_at(struct process *p, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags,
                   struct mm_file *f, uint64_t pgoff)
{
    assert_int_equal(mm_mmap(p->mm, addr, len, prot, flags, f, pgoff), (long)addr);
}

/* ---- accesses ------------------------------------------------------------------------ */

static long rd(struct kernel *k, struct process *p, uint64_t addr, void *buf, uint64_t len)
{
    int sig, code;
    return kernel_user_access(k, p, addr, len, KERNEL_ACCESS_READ, NULL, buf, &sig, &code);
}

static long wr(struct kernel *k, struct process *p, uint64_t addr, const char *s)
{
    int sig, code;
    return kernel_user_access(k, p, addr, strlen(s), KERNEL_ACCESS_WRITE, s, NULL, &sig, &code);
}

/* The byte at addr, read from user mode. */
static char byte_at(struct kernel *k, struct process *p, uint64_t addr)
{
    char c = 0x55;
    assert_int_equal(rd(k, p, addr, &c, 1), 0);
    return c;
}

/* Fill pages [first, first+n) with one letter each ('a' + page). */
static void write_pages(struct kernel *k, struct process *p, unsigned first, unsigned n)
{
    for (unsigned i = first; i < first + n; i++) {
        char s[2] = {(char)('a' + i % 26), 0};
        assert_int_equal(wr(k, p, A(i), s), 0);
    }
}

/* ---- page tables and frames ---------------------------------------------------------- */

static pte_t pte_of(struct process *p, uint64_t va)
{
    pte_t e = 0;
    int level;
    return pt_lookup(&p->mm->pt, va, &e, &level) == 0 ? e : 0;
}

static struct page *page_of(struct kernel *k, struct process *p, uint64_t va)
{
    return phys_page(k->phys, (pte_of(p, va) & PTE_ADDR_MASK) >> PAGE_SHIFT);
}

/* Pages of [first, first+n) with a present PTE. */
static unsigned present(struct process *p, unsigned first, unsigned n)
{
    unsigned c = 0;
    for (unsigned i = first; i < first + n; i++)
        c += (pte_of(p, A(i)) & PTE_P) != 0;
    return c;
}

/* Resident pages of [first, first+n) as mincore reports them. */
static unsigned resident(struct process *p, unsigned first, unsigned n)
{
    unsigned char vec[256];
    assert_true(n <= sizeof(vec));
    assert_int_equal(mm_mincore(p->mm, A(first), n * PG, vec), 0);
    unsigned c = 0;
    for (unsigned i = 0; i < n; i++)
        c += vec[i] & 1;
    return c;
}

static uint64_t event(struct kernel *k, enum vm_event e)
{
    return mm_machine_of(k->phys)->events[e];
}

/* Touch page `page` so that the page tables of its 2 MiB region exist. */
static void build_tables(struct kernel *k, struct process *p, unsigned page)
{
    map_at(p, A(page), PG, RW, PRIV_ANON, NULL, 0);
    assert_int_equal(wr(k, p, A(page), "t"), 0);
}

/* A host file of `pages` pages, page i filled with 'a' + i. */
static struct mm_file *host_file(uint64_t pages, char *path)
{
    strcpy(path, "/tmp/pagoda-madv-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char page[PG];
    for (uint64_t i = 0; i < pages; i++) {
        memset(page, 'a' + (int)(i % 26), sizeof(page));
        assert_int_equal(write(fd, page, PG), (ssize_t)PG);
    }
    close(fd);
    int err = 0;
    struct mm_file *f = mm_file_open(path, O_RDWR, &err);
    assert_non_null(f);
    return f;
}

static void drop_file(struct mm_file *f, const char *path)
{
    mm_file_put(f);
    unlink(path);
}

/* ---- populating ------------------------------------------------------------------------ */

/* MAP_POPULATE write-faults private writable anonymous memory (one zeroed frame per
 * page), read-faults a read-only one (the zero page everywhere, no frame, no
 * anon_vma) and leaves PROT_NONE alone. */
static void test_map_populate_anon(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    build_tables(k, p, 100);
    uint64_t free0 = k->phys->free_frames;
    map_at(p, A(0), 8 * PG, RW, PRIV_ANON | POPULATE, NULL, 0);
    assert_int_equal(free0 - k->phys->free_frames, 8);
    assert_int_equal(present(p, 0, 8), 8);
    assert_true(pte_of(p, A(7)) & PTE_RW);
    assert_true(pte_of(p, A(7)) & PTE_D);
    assert_non_null(mm_vma_lookup(p->mm, A(0))->anon_vma);

    free0 = k->phys->free_frames;
    map_at(p, A(10), 8 * PG, RO, PRIV_ANON | POPULATE, NULL, 0);
    assert_int_equal(free0 - k->phys->free_frames, 0);
    assert_int_equal(present(p, 10, 8), 8);
    assert_true(page_of(k, p, A(17))->flags & PG_ZERO);
    assert_null(mm_vma_lookup(p->mm, A(10))->anon_vma);
    assert_int_equal(resident(p, 10, 8), 8); /* the zero page counts, as on the host */

    map_at(p, A(20), 2 * PG, 0, PRIV_ANON | POPULATE, NULL, 0);
    assert_int_equal(present(p, 20, 2), 0);
    /* MAP_NONBLOCK turns MAP_POPULATE off. */
    map_at(p, A(30), 2 * PG, RW, PRIV_ANON | POPULATE | PGD_MAP_NONBLOCK, NULL, 0);
    assert_int_equal(present(p, 30, 2), 0);
    shutdown_audit(k);
}

/* Files: a read-only private map is read-faulted (16-page fault-around: four faults
 * map 64 pages on the host), a writable private one gets anonymous copies, a shared
 * writable one is only read-faulted (nothing dirtied); a page past EOF stops the
 * population of that VMA silently. */
static void test_map_populate_file(void **state)
{
    (void)state;
    char path[64];
    struct kernel *k = boot();
    struct process *p = spawn(k);
    struct mm_file *f = host_file(64, path);
    map_at(p, A(0), 64 * PG, RO, PRIV_FILE | POPULATE, f, 0);
    assert_int_equal(present(p, 0, 64), 64);
    assert_int_equal(byte_at(k, p, A(63)), 'a' + 63 % 26);
    assert_false(page_of(k, p, A(5))->flags & PG_ANON);

    map_at(p, A(100), 4 * PG, RW, PRIV_FILE | POPULATE, f, 8);
    assert_int_equal(present(p, 100, 4), 4);
    assert_true(page_of(k, p, A(100))->flags & PG_ANON);
    assert_int_equal(byte_at(k, p, A(103)), 'a' + 11);

    map_at(p, A(200), 4 * PG, RW, SHARED_FILE | POPULATE, f, 16);
    assert_int_equal(present(p, 200, 4), 4);
    assert_int_equal(pte_of(p, A(200)) & (PTE_RW | PTE_D), 0); /* write-notify, clean */
    assert_false(page_of(k, p, A(200))->flags & PG_DIRTY);

    /* 4 pages mapped from page 62 of a 64-page file: two exist, the rest SIGBUS. */
    map_at(p, A(300), 4 * PG, RW, PRIV_FILE | POPULATE, f, 62);
    assert_int_equal(present(p, 300, 4), 2);
    assert_non_null(mm_vma_lookup(p->mm, A(300))->anon_vma);
    drop_file(f, path);
    shutdown_audit(k);
}

/* mlock populates (and answers a fault it cannot resolve with ENOMEM, keeping the
 * pages before it); MLOCK_ONFAULT does not; MAP_LOCKED and mlockall(MCL_CURRENT)
 * do; brk under MCL_FUTURE does. */
static void test_mlock_populates(void **state)
{
    (void)state;
    char path[64];
    struct kernel *k = boot();
    struct process *p = spawn(k);
    build_tables(k, p, 100);
    map_at(p, A(0), 4 * PG, RW, PRIV_ANON, NULL, 0);
    uint64_t free0 = k->phys->free_frames;
    assert_int_equal(mm_mlock(p->mm, A(0), 2 * PG, 0), 0);
    assert_int_equal(free0 - k->phys->free_frames, 2);
    assert_int_equal(present(p, 0, 4), 2);
    assert_int_equal(mm_mlock(p->mm, A(2), 2 * PG, PGD_MLOCK_ONFAULT), 0);
    assert_int_equal(present(p, 0, 4), 2);

    map_at(p, A(10), 3 * PG, RW, PRIV_ANON | PGD_MAP_LOCKED, NULL, 0);
    assert_int_equal(present(p, 10, 3), 3);
    map_at(p, A(20), PG, 0, PRIV_ANON, NULL, 0);
    assert_int_equal(mm_mlock(p->mm, A(20), PG, 0), -ENOMEM); /* PROT_NONE: EFAULT inside */

    struct mm_file *f = host_file(2, path);
    map_at(p, A(30), 4 * PG, RO, PRIV_FILE, f, 0);
    assert_int_equal(mm_mlock(p->mm, A(30), 4 * PG, 0), -ENOMEM); /* SIGBUS at page 2 */
    assert_int_equal(present(p, 30, 4), 2);

    map_at(p, A(40), 2 * PG, RW, PRIV_ANON, NULL, 0);
    assert_int_equal(mm_mlockall(p->mm, PGD_MCL_CURRENT | PGD_MCL_FUTURE), 0);
    assert_int_equal(present(p, 40, 2), 2);
    assert_int_equal(present(p, 0, 4), 4);
    map_at(p, A(50), 2 * PG, RW, PRIV_ANON, NULL, 0); /* MCL_FUTURE: locked, so populated */
    assert_int_equal(present(p, 50, 2), 2);
    assert_int_equal(mm_munlockall(p->mm), 0);
    drop_file(f, path);
    shutdown_audit(k);
}

/* MADV_POPULATE_(READ|WRITE): the errno rules measured on the host - ENOMEM for a
 * hole (the pages before it populated), EINVAL for PROT_NONE or a write to a
 * read-only area, EFAULT for a page past EOF (those before it populated) or a guard. */
static void test_madvise_populate_errors(void **state)
{
    (void)state;
    char path[64];
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, A(0), 3 * PG, RW, PRIV_ANON, NULL, 0);
    assert_int_equal(mm_munmap(p->mm, A(1), PG), 0);
    assert_int_equal(mm_madvise(p->mm, A(0), 3 * PG, MADV_POPULATE_READ), -ENOMEM);
    assert_int_equal(present(p, 0, 1), 1);
    assert_true(page_of(k, p, A(0))->flags & PG_ZERO);

    map_at(p, A(10), PG, 0, PRIV_ANON, NULL, 0);
    assert_int_equal(mm_madvise(p->mm, A(10), PG, MADV_POPULATE_READ), -EINVAL);
    map_at(p, A(11), PG, RO, PRIV_ANON, NULL, 0);
    assert_int_equal(mm_madvise(p->mm, A(11), PG, MADV_POPULATE_WRITE), -EINVAL);
    assert_int_equal(mm_madvise(p->mm, A(11), PG, MADV_POPULATE_READ), 0);

    struct mm_file *f = host_file(64, path);
    map_at(p, A(20), 8 * PG, RO, PRIV_FILE, f, 60);
    assert_int_equal(mm_madvise(p->mm, A(20), 8 * PG, MADV_POPULATE_READ), -EFAULT);
    assert_int_equal(present(p, 20, 8), 4);

    /* A write populate of a read-populated page breaks COW: a frame for the zero page. */
    map_at(p, A(30), 2 * PG, RW, PRIV_ANON, NULL, 0);
    assert_int_equal(mm_madvise(p->mm, A(30), 2 * PG, MADV_POPULATE_READ), 0);
    assert_true(page_of(k, p, A(30))->flags & PG_ZERO);
    assert_int_equal(mm_madvise(p->mm, A(30), 2 * PG, MADV_POPULATE_WRITE), 0);
    assert_true(page_of(k, p, A(30))->flags & PG_ANON);
    assert_int_equal(mm_madvise(p->mm, A(31), PG, MADV_GUARD_INSTALL), 0);
    assert_int_equal(mm_madvise(p->mm, A(30), 2 * PG, MADV_POPULATE_WRITE), -EFAULT);
    drop_file(f, path);
    shutdown_audit(k);
}

/* ---- discarding ------------------------------------------------------------------------ */

/* MADV_DONTNEED: anonymous pages go (frames freed, zeros on the next touch), a private
 * file page reverts to the file, a shared one keeps the cached data. */
static void test_dontneed(void **state)
{
    (void)state;
    char path[64];
    struct kernel *k = boot();
    struct process *p = spawn(k);
    build_tables(k, p, 100);
    map_at(p, A(0), 4 * PG, RW, PRIV_ANON, NULL, 0);
    write_pages(k, p, 0, 4);
    uint64_t free0 = k->phys->free_frames;
    assert_int_equal(mm_madvise(p->mm, A(0), 3 * PG, MADV_DONTNEED), 0);
    assert_int_equal(k->phys->free_frames - free0, 3);
    assert_int_equal(byte_at(k, p, A(0)), 0);
    assert_int_equal(byte_at(k, p, A(3)), 'd');

    struct mm_file *f = host_file(4, path);
    map_at(p, A(10), 2 * PG, RW, PRIV_FILE, f, 0);
    assert_int_equal(wr(k, p, A(10), "Z"), 0);
    assert_int_equal(mm_madvise(p->mm, A(10), 2 * PG, MADV_DONTNEED), 0);
    assert_int_equal(byte_at(k, p, A(10)), 'a');
    map_at(p, A(20), 2 * PG, RW, SHARED_FILE, f, 2);
    assert_int_equal(wr(k, p, A(20), "S"), 0);
    assert_int_equal(mm_madvise(p->mm, A(20), 2 * PG, MADV_DONTNEED), 0);
    assert_int_equal(present(p, 20, 2), 0);
    assert_int_equal(byte_at(k, p, A(20)), 'S');

    /* Locked: DONTNEED refuses, DONTNEED_LOCKED zaps. */
    assert_int_equal(mm_mlock(p->mm, A(0), 4 * PG, 0), 0);
    assert_int_equal(mm_madvise(p->mm, A(0), PG, MADV_DONTNEED), -EINVAL);
    assert_int_equal(mm_madvise(p->mm, A(0), PG, MADV_DONTNEED_LOCKED), 0);
    assert_int_equal(present(p, 0, 1), 0);
    drop_file(f, path);
    shutdown_audit(k);
}

/* MADV_FREE: the PTE loses A and D, the page goes into the lru_lazyfree batch (31
 * pages: the host counts pglazyfree +31 at once for 40 pages, the other 9 at the next
 * drain); a write re-dirties a page, PAGEOUT then frees the clean lazyfree pages
 * (pglazyfreed) and keeps the written one, swap-backed again. */
static void test_free_lazyfree(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    build_tables(k, p, 100);
    map_at(p, A(0), 40 * PG, RW, PRIV_ANON, NULL, 0);
    write_pages(k, p, 0, 40);
    uint64_t lazy0 = event(k, VM_PGLAZYFREE), freed0 = event(k, VM_PGLAZYFREED);
    assert_int_equal(mm_madvise(p->mm, A(0), 40 * PG, MADV_FREE), 0);
    assert_int_equal(event(k, VM_PGLAZYFREE) - lazy0, 31);
    assert_int_equal(pte_of(p, A(5)) & (PTE_A | PTE_D), 0);
    assert_int_equal(page_of(k, p, A(5))->flags & PG_SWAPBACKED, 0);
    assert_true(page_of(k, p, A(39))->flags & PG_SWAPBACKED); /* still queued */
    assert_int_equal(page_of(k, p, A(39))->refcount, 2);
    assert_int_equal(mm_madvise(p->mm, A(0), PG, MADV_FREE), 0); /* drains first */
    assert_int_equal(event(k, VM_PGLAZYFREE) - lazy0, 40);
    assert_int_equal(page_of(k, p, A(39))->refcount, 1);

    /* The page stays (no memory pressure) and keeps its data; a write re-dirties it. */
    assert_int_equal(byte_at(k, p, A(7)), 'h');
    assert_int_equal(wr(k, p, A(7), "W"), 0);
    assert_true(pte_of(p, A(7)) & PTE_D);

    uint64_t free0 = k->phys->free_frames;
    assert_int_equal(mm_madvise(p->mm, A(0), 40 * PG, MADV_PAGEOUT), 0);
    assert_int_equal(event(k, VM_PGLAZYFREED) - freed0, 39);
    assert_int_equal(k->phys->free_frames - free0, 39);
    assert_int_equal(present(p, 0, 40), 1);
    assert_true(page_of(k, p, A(7))->flags & PG_SWAPBACKED);
    assert_int_equal(byte_at(k, p, A(7)), 'W');
    assert_int_equal(byte_at(k, p, A(8)), 0); /* freed: zero-filled on the next touch */

    /* The zero page is never made lazyfree; FREE is for anonymous memory only. */
    map_at(p, A(50), PG, RW, PRIV_ANON, NULL, 0);
    assert_int_equal(byte_at(k, p, A(50)), 0);
    assert_int_equal(mm_madvise(p->mm, A(50), PG, MADV_FREE), 0);
    assert_int_equal(present(p, 50, 1), 1);
    map_at(p, A(51), PG, RW, SHARED_ANON, NULL, 0);
    assert_int_equal(mm_madvise(p->mm, A(51), PG, MADV_FREE), -EINVAL);

    /* Queued pages zapped by DONTNEED are held by the batch until it drains. */
    map_at(p, A(60), 10 * PG, RW, PRIV_ANON, NULL, 0);
    write_pages(k, p, 60, 10);
    lazy0 = event(k, VM_PGLAZYFREE);
    free0 = k->phys->free_frames;
    assert_int_equal(mm_madvise(p->mm, A(60), 10 * PG, MADV_FREE), 0);
    assert_int_equal(mm_madvise(p->mm, A(60), 10 * PG, MADV_DONTNEED), 0);
    assert_int_equal(k->phys->free_frames - free0, 0);
    assert_int_equal(event(k, VM_PGLAZYFREE) - lazy0, 0);
    assert_int_equal(mm_madvise(p->mm, A(60), PG, MADV_COLD), 0);
    assert_int_equal(event(k, VM_PGLAZYFREE) - lazy0, 10);
    assert_int_equal(k->phys->free_frames - free0, 10);
    shutdown_audit(k);
}

/* MADV_COLD makes the pages old (A clear) and unreferenced; a page mapped twice is
 * left alone. */
static void test_cold(void **state)
{
    (void)state;
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, A(0), 4 * PG, RW, PRIV_ANON, NULL, 0);
    write_pages(k, p, 0, 4);
    page_of(k, p, A(1))->flags |= PG_REFERENCED | PG_ACTIVE;
    struct process *c = fork_of(k, p);
    (void)c;
    assert_int_equal(wr(k, p, A(2), "x"), 0); /* COW: page 2 is this process's own now */
    assert_int_equal(mm_madvise(p->mm, A(0), 4 * PG, MADV_COLD), 0);
    assert_true(pte_of(p, A(1)) & PTE_A); /* shared with the child: untouched */
    assert_int_equal(pte_of(p, A(2)) & PTE_A, 0);
    assert_int_equal(page_of(k, p, A(2))->flags & (PG_REFERENCED | PG_ACTIVE), 0);
    assert_int_equal(present(p, 0, 4), 4);
    shutdown_audit(k);
}

/* MADV_PAGEOUT without swap: anonymous pages stay (activated); clean file pages
 * mapped only here leave the mapping and the page cache; a dirty shared file page is
 * unmapped but stays cached with its data; shmem alike (clean dropped, dirty kept). */
static void test_pageout(void **state)
{
    (void)state;
    char path[64];
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, A(0), 2 * PG, RW, PRIV_ANON, NULL, 0);
    write_pages(k, p, 0, 2);
    assert_int_equal(mm_madvise(p->mm, A(0), 2 * PG, MADV_PAGEOUT), 0);
    assert_int_equal(present(p, 0, 2), 2);
    assert_true(page_of(k, p, A(0))->flags & PG_ACTIVE);

    struct mm_file *f = host_file(32, path);
    map_at(p, A(100), 16 * PG, RO, PRIV_FILE, f, 0);
    map_at(p, A(200), 2 * PG, RO, PRIV_FILE, f, 0); /* pages 0-1 mapped twice */
    assert_int_equal(byte_at(k, p, A(100)), 'a');
    assert_int_equal(byte_at(k, p, A(200)), 'a');
    assert_int_equal(present(p, 100, 16), 16); /* fault-around */
    uint64_t free0 = k->phys->free_frames;
    assert_int_equal(mm_madvise(p->mm, A(100), 16 * PG, MADV_PAGEOUT), 0);
    assert_int_equal(present(p, 100, 16), 2);
    assert_int_equal(resident(p, 100, 16), 2);
    assert_int_equal(k->phys->free_frames - free0, 14);
    pfn_t pfn;
    assert_false(pagecache_lookup(f, k->phys, 5, &pfn));
    assert_int_equal(byte_at(k, p, A(105)), 'f'); /* read from the file again */

    map_at(p, A(300), 4 * PG, RW, SHARED_FILE, f, 20);
    assert_int_equal(wr(k, p, A(300), "Q"), 0);
    assert_int_equal(byte_at(k, p, A(301)), 'a' + 21);
    assert_int_equal(mm_madvise(p->mm, A(300), 4 * PG, MADV_PAGEOUT), 0);
    assert_int_equal(present(p, 300, 4), 0);
    assert_int_equal(resident(p, 300, 4), 1); /* the dirty page */
    assert_int_equal(byte_at(k, p, A(300)), 'Q');

    map_at(p, A(400), 2 * PG, RW, SHARED_ANON, NULL, 0);
    assert_int_equal(wr(k, p, A(400), "s"), 0);
    assert_int_equal(byte_at(k, p, A(401)), 0);
    assert_int_equal(mm_madvise(p->mm, A(400), 2 * PG, MADV_PAGEOUT), 0);
    assert_int_equal(present(p, 400, 2), 0);
    assert_int_equal(resident(p, 400, 2), 1);
    assert_int_equal(byte_at(k, p, A(400)), 's');
    drop_file(f, path);
    shutdown_audit(k);
}

/* MADV_REMOVE punches a hole: the pages leave every process's mappings and the page
 * cache (frames freed) and read back as zeros; a private copy (COW) stays. */
static void test_remove(void **state)
{
    (void)state;
    char path[64];
    struct kernel *k = boot();
    struct process *p = spawn(k);
    map_at(p, A(0), 4 * PG, RW, SHARED_ANON, NULL, 0);
    write_pages(k, p, 0, 4);
    struct process *c = fork_of(k, p);
    assert_int_equal(byte_at(k, c, A(1)), 'b');
    assert_int_equal(byte_at(k, c, A(2)), 'c');
    uint64_t free0 = k->phys->free_frames;
    assert_int_equal(mm_madvise(p->mm, A(1), 2 * PG, MADV_REMOVE), 0);
    assert_int_equal(k->phys->free_frames - free0, 2);
    assert_int_equal(pte_of(c, A(1)), 0);
    assert_int_equal(pte_of(c, A(2)), 0);
    assert_int_equal(resident(c, 0, 4), 2);
    assert_int_equal(byte_at(k, c, A(1)), 0);
    assert_int_equal(byte_at(k, p, A(2)), 0);
    assert_int_equal(byte_at(k, p, A(3)), 'd');

    /* A host file: the private copy stays, the hole reads as zeros even though the
     * host file still holds the bytes. */
    struct mm_file *f = host_file(4, path);
    map_at(p, A(10), 4 * PG, RW, SHARED_FILE, f, 0);
    map_at(p, A(20), 4 * PG, RW, PRIV_FILE, f, 0);
    assert_int_equal(wr(k, p, A(20), "P"), 0);
    assert_int_equal(byte_at(k, p, A(21)), 'b');
    assert_int_equal(mm_madvise(p->mm, A(10), 2 * PG, MADV_REMOVE), 0);
    assert_int_equal(byte_at(k, p, A(20)), 'P');
    assert_int_equal(pte_of(p, A(21)), 0);
    assert_int_equal(byte_at(k, p, A(21)), 0);
    assert_int_equal(byte_at(k, p, A(10)), 0);
    assert_int_equal(byte_at(k, p, A(12)), 'c');
    drop_file(f, path);
    shutdown_audit(k);
}

/* ---- read-ahead and residency ------------------------------------------------------------ */

/* MADV_WILLNEED reads a file's pages into the page cache without mapping them (up to
 * EOF); mincore reports cached file pages even where nothing is mapped, anonymous
 * memory by its PTEs only, and a guard marker not at all. */
static void test_willneed_and_mincore(void **state)
{
    (void)state;
    char path[64];
    struct kernel *k = boot();
    struct process *p = spawn(k);
    struct mm_file *f = host_file(20, path);
    map_at(p, A(0), 32 * PG, RO, SHARED_FILE, f, 0);
    assert_int_equal(resident(p, 0, 32), 0);
    uint64_t free0 = k->phys->free_frames;
    assert_int_equal(mm_madvise(p->mm, A(4), 28 * PG, MADV_WILLNEED), 0);
    assert_int_equal(free0 - k->phys->free_frames, 16); /* pages 4..19: EOF at 20 */
    assert_int_equal(present(p, 0, 32), 0);
    assert_int_equal(resident(p, 0, 32), 16);

    map_at(p, A(100), 4 * PG, RW, PRIV_ANON, NULL, 0);
    assert_int_equal(mm_madvise(p->mm, A(100), 4 * PG, MADV_WILLNEED), 0);
    assert_int_equal(resident(p, 100, 4), 0);
    assert_int_equal(byte_at(k, p, A(100)), 0);
    assert_int_equal(wr(k, p, A(101), "x"), 0);
    assert_int_equal(mm_madvise(p->mm, A(103), PG, MADV_GUARD_INSTALL), 0);
    unsigned char vec[4];
    assert_int_equal(mm_mincore(p->mm, A(100), 4 * PG, vec), 0);
    assert_memory_equal(vec, "\1\1\0\0", 4);

    /* A private file mapping: cached but unmapped pages count too. */
    map_at(p, A(200), 8 * PG, RO, PRIV_FILE, f, 0);
    assert_int_equal(resident(p, 200, 8), 4); /* pages 4..7 of the file */
    drop_file(f, path);
    shutdown_audit(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_populate_anon),
        cmocka_unit_test(test_map_populate_file),
        cmocka_unit_test(test_mlock_populates),
        cmocka_unit_test(test_madvise_populate_errors),
        cmocka_unit_test(test_dontneed),
        cmocka_unit_test(test_free_lazyfree),
        cmocka_unit_test(test_cold),
        cmocka_unit_test(test_pageout),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_willneed_and_mincore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
