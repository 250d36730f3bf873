/*
 * tests/test_mm_calls.c - mremap, madvise, mlock family, msync, mincore and anonymous
 * VMA names (src/mm/mremap.c, src/mm/madvise.c) against Linux 6.18's rules.
 *
 * Layouts are built with MAP_FIXED in a window at BASE and rendered one character
 * per page, as Linux's tools/testing/vma does: '.' is unmapped and the letter
 * changes at every VMA boundary ("aa..bbc" is three VMAs).  Faulted pages are
 * simulated by mapping a frame by hand and giving the VMA an anon_vma, as a write
 * fault would.  Every test checks exact errno and layout, then destroys its mm and
 * ends with a leak audit; mm_check() runs after every call (PAGODA_CHECKS).
 */
#include "support/support.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagoda/mm.h>

#include "mm/internal.h"

#define PG 0x1000ULL
#define BASE 0x10000000ULL
#define A(page) (BASE + (uint64_t)(page) * PG)
#define TASK_SIZE PGD_TASK_SIZE_4L

#define RW (PGD_PROT_READ | PGD_PROT_WRITE)
#define RO PGD_PROT_READ
#define PRIV_ANON (PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS)
#define SHARED_ANON (PGD_MAP_SHARED | PGD_MAP_ANONYMOUS)

#define MAYMOVE PGD_MREMAP_MAYMOVE
#define FIXED PGD_MREMAP_FIXED
#define DONTUNMAP PGD_MREMAP_DONTUNMAP

/* madvise advice values (x86-64 UAPI). */
enum {
    MADV_NORMAL = 0, MADV_RANDOM = 1, MADV_SEQUENTIAL = 2, MADV_WILLNEED = 3, MADV_DONTNEED = 4,
    MADV_FREE = 8, MADV_REMOVE = 9, MADV_DONTFORK = 10, MADV_DOFORK = 11, MADV_MERGEABLE = 12,
    MADV_UNMERGEABLE = 13, MADV_HUGEPAGE = 14, MADV_NOHUGEPAGE = 15, MADV_DONTDUMP = 16, MADV_DODUMP = 17,
    MADV_WIPEONFORK = 18, MADV_KEEPONFORK = 19, MADV_COLD = 20, MADV_PAGEOUT = 21, MADV_POPULATE_READ = 22,
    MADV_POPULATE_WRITE = 23, MADV_DONTNEED_LOCKED = 24, MADV_COLLAPSE = 25, MADV_HWPOISON = 100,
    MADV_GUARD_INSTALL = 102, MADV_GUARD_REMOVE = 103,
};

/* ---- helpers ------------------------------------------------------------------------- */

static struct phys *g_phys;

/* A fresh machine and address space; `cfg` may be NULL for the defaults. */
static struct mm *mm_new_cfg(const struct mm_config *cfg)
{
    struct mm_config def;
    mm_config_default(&def);
    g_phys = test_phys(0, false);
    struct mm *mm = NULL;
    assert_int_equal(mm_create(g_phys, cfg ? cfg : &def, &mm), 0);
    return mm;
}

static struct mm *mm_new(void)
{
    return mm_new_cfg(NULL);
}

/* Tear down and audit: every frame, page tables included, is free again. */
static void mm_done(struct mm *mm)
{
    mm_check(mm);
    mm_destroy(mm);
    mm_fault_release_phys(g_phys); /* the zero page and page caches populating made */
    test_leak_audit(g_phys);
    phys_destroy(g_phys);
    g_phys = NULL;
}

/* mmap at page `page` of the window, exactly there. */
static void map_at(struct mm *mm, unsigned page, unsigned npages, uint64_t prot, uint64_t flags)
{
    long r = mm_mmap(mm, A(page), npages * PG, prot, flags | PGD_MAP_FIXED, NULL, 0);
    assert_int_equal(r, (long)A(page));
}

static void map_file_at(struct mm *mm, unsigned page, unsigned npages, uint64_t prot, uint64_t flags,
                        struct mm_file *f, uint64_t pgoff)
{
    long r = mm_mmap(mm, A(page), npages * PG, prot, flags | PGD_MAP_FIXED, f, pgoff);
    assert_int_equal(r, (long)A(page));
}

/* The window [BASE, BASE + npages pages) one character per page. */
static const char *layout(const struct mm *mm, unsigned npages)
{
    static char buf[256];
    const struct vm_area *last = NULL;
    char letter = 'a' - 1;
    assert_true(npages < sizeof(buf));
    for (unsigned i = 0; i < npages; i++) {
        const struct vm_area *v = mm_vma_lookup(mm, A(i));
        if (v && v != last)
            letter++;
        last = v ? v : last;
        buf[i] = v ? letter : '.';
    }
    buf[npages] = '\0';
    return buf;
}

/* Map a zeroed frame at va as a write fault would: the VMA gets an anon_vma. */
static pfn_t fake_fault(struct mm *mm, uint64_t va)
{
    pfn_t pfn;
    assert_int_equal(phys_alloc(mm->phys, 0, PHYS_ZERO, &pfn), 0);
    struct page *pg = phys_page(mm->phys, pfn);
    pg->mapcount = 1;
    pg->flags |= PG_ANON | PG_SWAPBACKED | PG_DIRTY;
    assert_int_equal(pt_map(&mm->pt, va, pfn << PAGE_SHIFT, PG, PT_LEVEL_PTE, PTE_P | PTE_US | PTE_A | PTE_D | PTE_NX),
                     0);
    vma_anon_prepare(mm, mm_vma_lookup(mm, va));
    return pfn;
}

/* The frame mapped at va, or (pfn_t)-1. */
static pfn_t pfn_at(const struct mm *mm, uint64_t va)
{
    pte_t e;
    int level;
    if (pt_lookup(&mm->pt, va, &e, &level) || !(e & PTE_P))
        return (pfn_t)-1;
    return pte_addr(e, level, true) >> PAGE_SHIFT;
}

static pte_t entry_at(const struct mm *mm, uint64_t va)
{
    pte_t e = 0;
    int level;
    if (pt_lookup(&mm->pt, va, &e, &level))
        return 0;
    return e;
}

static struct vm_area *vma_at(const struct mm *mm, unsigned page)
{
    struct vm_area *v = mm_vma_lookup(mm, A(page));
    assert_non_null(v);
    return v;
}

/* Give every VMA a different protection so that none merges: n one-page VMAs
 * starting at page `from`, one page apart. */
static void map_unmergeable(struct mm *mm, unsigned from, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        map_at(mm, from + 2 * i, 1, RO, PRIV_ANON);
}

/* A host file of `pages` pages in $TMPDIR (or /tmp), opened with open_flags; the
 * caller unlinks `path`. */
static struct mm_file *temp_file(unsigned pages, int open_flags, char *path, size_t size)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, size, "%s/pagoda-mm-calls-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)(pages * PG)), 0);
    close(fd);
    int err = 0;
    struct mm_file *f = mm_file_open(path, open_flags, &err);
    assert_non_null(f);
    return f;
}

/* The maps text into buf. */
static const char *maps_text(const struct mm *mm)
{
    static char buf[8192];
    FILE *out = fmemopen(buf, sizeof(buf), "w");
    assert_non_null(out);
    mm_print_maps(mm, out);
    fclose(out);
    return buf;
}

/* ---- mremap: argument checks ---------------------------------------------------------- */

/* mprotect's no-op fast path (a range inside one VMA that already has the rights,
 * decided from the lookup index's copy of the flags) answers as the full path does. */
static void test_mprotect_noop_fast_path(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    for (unsigned i = 0; i < 200; i++) /* alternating rights: 200 VMAs, an index */
        map_at(mm, 2 * i, 1, i & 1 ? RO : RW, PRIV_ANON);
    assert_non_null(mm->vmas.index);
    assert_int_equal(mm_mprotect(mm, A(20), PG, RW), 0);
    assert_int_equal(mm_mprotect(mm, A(21), PG, RO), -ENOMEM); /* a hole */
    assert_int_equal(mm->map_count, 200);
    assert_int_equal(mm_install_special(mm, A(1000), 2 * PG, VM_READ | VM_MAYREAD, NULL), 0);
    assert_int_equal(mm_mprotect(mm, A(1000), PG, RO), 0);
    assert_int_equal(mm_mprotect(mm, A(1001), PG, RW), -EACCES); /* no VM_MAYWRITE */
    /* A real change after a no-op: the index's copy follows it. */
    assert_int_equal(mm_mprotect(mm, A(22), PG, RO), 0);
    assert_int_equal(vma_at(mm, 22)->flags & VM_ACCESS_FLAGS, VM_READ);
    assert_int_equal(mm_mprotect(mm, A(22), PG, RO), 0);
    assert_int_equal(mm_mprotect(mm, A(22), PG, RW), 0);
    assert_int_equal(vma_at(mm, 22)->flags & VM_ACCESS_FLAGS, VM_READ | VM_WRITE);
    mm_done(mm);
}

static void test_mremap_argument_errors(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 4, RW, PRIV_ANON);
    map_at(mm, 10, 2, RW, PRIV_ANON);

    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 4 * PG, 8, 0), -EINVAL);                 /* unknown flag */
    assert_int_equal(mm_mremap(mm, A(0) + 1, 4 * PG, 4 * PG, 0, 0), -EINVAL);             /* unaligned */
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 0, MAYMOVE, 0), -EINVAL);                /* new_len 0 */
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, ~0ULL, MAYMOVE, 0), -EINVAL);            /* rounds to 0 */
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, TASK_SIZE + PG, MAYMOVE, 0), -EINVAL);   /* > TASK_SIZE */
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 4 * PG, MAYMOVE | FIXED, TASK_SIZE - PG), -EINVAL);
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 4 * PG, FIXED, A(20)), -EINVAL);         /* no MAYMOVE */
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 4 * PG, DONTUNMAP, A(20)), -EINVAL);
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 4 * PG, MAYMOVE | FIXED, A(20) + 8), -EINVAL);
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 2 * PG, MAYMOVE | DONTUNMAP, A(20)), -EINVAL);
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 4 * PG, MAYMOVE | FIXED, A(2)), -EINVAL); /* overlap */
    assert_int_equal(mm_mremap(mm, A(2), 2 * PG, 4 * PG, MAYMOVE | FIXED, A(0)), -EINVAL);
    /* Without FIXED/DONTUNMAP new_addr is not looked at, however wild. */
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 4 * PG, 0, ~0ULL), (long)A(0));
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 4 * PG, MAYMOVE, 5), (long)A(0));
    assert_string_equal(layout(mm, 12), "aaaa......bb");
    mm_done(mm);
}

static void test_mremap_no_vma_is_efault(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    map_at(mm, 4, 2, RW, PRIV_ANON);
    assert_int_equal(mm_mremap(mm, A(2), PG, PG, 0, 0), -EFAULT);
    assert_int_equal(mm_mremap(mm, A(2), PG, 2 * PG, MAYMOVE, 0), -EFAULT);
    assert_int_equal(mm_mremap(mm, A(2), PG, PG, MAYMOVE | DONTUNMAP, A(20)), -EFAULT);
    assert_int_equal(mm_mremap(mm, A(9), PG, PG, MAYMOVE | FIXED, A(20)), -EFAULT);
    /* Old range past the VMA end: EFAULT when growing or moving... */
    assert_int_equal(mm_mremap(mm, A(0), 3 * PG, 4 * PG, MAYMOVE, 0), -EFAULT);
    assert_int_equal(mm_mremap(mm, A(1), 2 * PG, 2 * PG, MAYMOVE | DONTUNMAP, A(20)), -EFAULT);
    /* ...when shrinking with FIXED, [addr, addr+new_len) must fit, and the
     * destination is left alone. */
    map_at(mm, 20, 3, RO, PRIV_ANON);
    assert_int_equal(mm_mremap(mm, A(0), 6 * PG, 3 * PG, MAYMOVE | FIXED, A(20)), -EFAULT);
    assert_string_equal(layout(mm, 24), "aa..bb..............ccc.");
    /* ...but the same size without a new address only needs a VMA at addr. */
    assert_int_equal(mm_mremap(mm, A(1), 40 * PG, 40 * PG, 0, 0), (long)A(1));
    assert_string_equal(layout(mm, 24), "aa..bb..............ccc.");
    mm_done(mm);
}

static void test_mremap_map_count_limits(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    mm->cfg.max_map_count = 10;
    map_unmergeable(mm, 0, 5); /* map_count 5: 5 + 2 >= 10 - 3 */
    assert_int_equal(mm->map_count, 5);
    /* The early check precedes the VMA lookup (EFAULT) but follows argument EINVALs. */
    assert_int_equal(mm_mremap(mm, A(1), PG, PG, MAYMOVE | FIXED, A(40)), -ENOMEM);
    assert_int_equal(mm_mremap(mm, A(0), PG, PG, MAYMOVE | FIXED, A(40)), -ENOMEM);
    assert_int_equal(mm_mremap(mm, A(0), PG, PG, MAYMOVE | DONTUNMAP, 0), -ENOMEM);
    assert_int_equal(mm_mremap(mm, A(0), PG, PG, MAYMOVE | FIXED, A(0)), -EINVAL);
    /* A move without a new address is refused only at map_count >= max - 3. */
    assert_int_equal(mm_mremap(mm, A(0), PG, 3 * PG, MAYMOVE, 0), (long)(mm->mmap_base - 3 * PG));
    map_unmergeable(mm, 20, 2); /* 7 VMAs */
    assert_int_equal(mm->map_count, 7);
    assert_int_equal(mm_mremap(mm, A(2), PG, 3 * PG, MAYMOVE, 0), -ENOMEM);
    /* Growing in place and shrinking need no headroom. */
    assert_int_equal(mm_mremap(mm, A(22), PG, 2 * PG, 0, 0), (long)A(22));
    assert_int_equal(mm_mremap(mm, A(22), 2 * PG, PG, 0, 0), (long)A(22));
    /* With one map less the FIXED move goes through. */
    assert_int_equal(mm_munmap(mm, A(20), PG), 0);
    assert_int_equal(mm_munmap(mm, A(22), PG), 0);
    assert_int_equal(mm->map_count, 5);
    assert_int_equal(mm_munmap(mm, A(8), PG), 0);
    assert_int_equal(mm_mremap(mm, A(2), PG, PG, MAYMOVE | FIXED, A(40)), (long)A(40));
    mm_done(mm);
}

/* ---- mremap: old_len 0, same size, shrink ----------------------------------------------- */

static void test_mremap_old_len_zero(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    assert_int_equal(mm_mremap(mm, A(0), 0, PG, MAYMOVE, 0), -EINVAL);
    map_at(mm, 4, 2, RW, SHARED_ANON);
    long r = mm_mremap(mm, A(4), 0, 2 * PG, MAYMOVE, 0);
    assert_int_equal(r, (long)(mm->mmap_base - 2 * PG));
    struct vm_area *orig = vma_at(mm, 4), *dup = mm_vma_lookup(mm, (uint64_t)r);
    assert_non_null(dup);
    assert_ptr_equal(dup->file, orig->file); /* the same pages */
    assert_int_equal(dup->pgoff, 0);
    assert_int_equal(dup->flags, orig->flags);
    assert_string_equal(layout(mm, 6), "aa..bb");
    assert_int_equal(mm->total_vm, 6);
    /* Without MAYMOVE there is no room to "grow" from nothing in place. */
    assert_int_equal(mm_mremap(mm, A(4), 0, PG, 0, 0), -ENOMEM);
    assert_int_equal(mm_mremap(mm, A(4), 0, PG, MAYMOVE | FIXED, A(10)), (long)A(10));
    assert_string_equal(layout(mm, 12), "aa..bb....c.");
    mm_done(mm);
}

static void test_mremap_shrink(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 4, RW, PRIV_ANON);
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 4 * PG, 0, 0), (long)A(0));
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 2 * PG + 1, 0, 0), (long)A(0)); /* 3 pages */
    assert_string_equal(layout(mm, 6), "aaa...");
    assert_int_equal(mm->total_vm, 3);
    assert_int_equal(mm->data_vm, 3);
    /* The unmapped part may cross VMAs and holes, like munmap. */
    map_at(mm, 3, 1, RO, PRIV_ANON);
    map_at(mm, 5, 2, RW, PRIV_ANON | PGD_MAP_NORESERVE);
    assert_string_equal(layout(mm, 8), "aaab.cc.");
    assert_int_equal(mm_mremap(mm, A(0), 6 * PG, PG, 0, 0), (long)A(0));
    assert_string_equal(layout(mm, 8), "a.....b.");
    /* Shrinking to the middle of a VMA splits it, refused at the limit. */
    map_at(mm, 10, 6, RW, PRIV_ANON);
    mm->cfg.max_map_count = mm->map_count;
    assert_int_equal(mm_mremap(mm, A(11), 2 * PG, PG, 0, 0), -ENOMEM);
    mm->cfg.max_map_count = 65530;
    assert_int_equal(mm_mremap(mm, A(11), 2 * PG, PG, 0, 0), (long)A(11));
    assert_string_equal(layout(mm, 17), "a.....b...cc.ddd.");
    /* A FIXED shrink moves what is left. */
    assert_int_equal(mm_mremap(mm, A(13), 3 * PG, 2 * PG, MAYMOVE | FIXED, A(20)), (long)A(20));
    assert_string_equal(layout(mm, 23), "a.....b...cc........dd.");
    mm_done(mm);
}

/* ---- mremap: growth ----------------------------------------------------------------------- */

static void test_mremap_grow_in_place(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    assert_int_equal(mm_mremap(mm, A(0), 2 * PG, 3 * PG, 0, 0), (long)A(0));
    assert_string_equal(layout(mm, 6), "aaa...");
    assert_int_equal(mm->total_vm, 3);
    /* Growth that ends exactly at a compatible next VMA merges with it. */
    map_at(mm, 5, 2, RW, PRIV_ANON);
    assert_string_equal(layout(mm, 8), "aaa..bb.");
    assert_int_equal(mm_mremap(mm, A(0), 3 * PG, 5 * PG, 0, 0), (long)A(0));
    assert_string_equal(layout(mm, 8), "aaaaaaa.");
    assert_int_equal(vma_at(mm, 0)->pgoff, A(0) >> PAGE_SHIFT);
    assert_int_equal(mm->map_count, 1);
    /* An incompatible next VMA stays separate. */
    map_at(mm, 10, 1, RW, PRIV_ANON);
    map_at(mm, 12, 1, RO, PRIV_ANON);
    assert_int_equal(mm_mremap(mm, A(10), PG, 2 * PG, 0, 0), (long)A(10));
    assert_string_equal(layout(mm, 14), "aaaaaaa...bbc.");
    /* No room, no MAYMOVE: ENOMEM; a range not ending the VMA cannot grow in place. */
    assert_int_equal(mm_mremap(mm, A(10), 2 * PG, 3 * PG, 0, 0), -ENOMEM);
    assert_int_equal(mm_mremap(mm, A(0), 2 * PG, 3 * PG, 0, 0), -ENOMEM);
    assert_string_equal(layout(mm, 14), "aaaaaaa...bbc.");
    mm_done(mm);
}

static void test_mremap_grow_by_moving(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    map_at(mm, 2, 1, RO, PRIV_ANON);
    uint64_t dest = mm->mmap_base - 3 * PG;
    assert_int_equal(mm_mremap(mm, A(0), 2 * PG, 3 * PG, MAYMOVE, 0), (long)dest);
    assert_string_equal(layout(mm, 3), "..a");
    struct vm_area *v = mm_vma_lookup(mm, dest);
    assert_non_null(v);
    assert_int_equal(vma_start(v), dest);
    assert_int_equal(vma_end(v), dest + 3 * PG);
    assert_int_equal(v->pgoff, dest >> PAGE_SHIFT); /* never faulted: pgoff follows */
    assert_int_equal(v->flags, VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT);
    assert_int_equal(mm->total_vm, 4);
    assert_int_equal(mm->data_vm, 3);

    /* A faulted VMA keeps its pgoff and anon_vma, and its pages move. */
    map_at(mm, 10, 2, RW, PRIV_ANON);
    map_at(mm, 12, 1, RO, PRIV_ANON);
    pfn_t p0 = fake_fault(mm, A(10)), p1 = fake_fault(mm, A(11));
    struct anon_vma *av = vma_at(mm, 10)->anon_vma;
    uint64_t dest2 = dest - 4 * PG;
    assert_int_equal(mm_mremap(mm, A(10), 2 * PG, 4 * PG, MAYMOVE, 0), (long)dest2);
    v = mm_vma_lookup(mm, dest2);
    assert_int_equal(v->pgoff, A(10) >> PAGE_SHIFT);
    assert_ptr_equal(v->anon_vma, av);
    assert_int_equal(pfn_at(mm, dest2), p0);
    assert_int_equal(pfn_at(mm, dest2 + PG), p1);
    assert_int_equal(entry_at(mm, A(10)), 0);
    assert_int_equal(entry_at(mm, A(11)), 0);
    assert_int_equal(phys_page(mm->phys, p0)->mapcount, 1);
    mm_done(mm);
}

/* A 2 MiB multiple of private anonymous memory is placed 2 MiB aligned. */
static void test_mremap_move_thp_aligned(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 1, RW, PRIV_ANON);
    map_at(mm, 1, 1, RO, PRIV_ANON);
    long r = mm_mremap(mm, A(0), PG, PMD_SIZE, MAYMOVE, 0);
    assert_true(r > 0);
    assert_int_equal((uint64_t)r & (PMD_SIZE - 1), 0);
    assert_int_equal((uint64_t)r, (mm->mmap_base - PMD_SIZE) & ~(PMD_SIZE - 1));
    mm_done(mm);
}

static void test_mremap_growth_limits(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    mm->cfg.rlimit_as = 4 * PG;
    map_at(mm, 0, 2, RW, PRIV_ANON);
    assert_int_equal(mm_mremap(mm, A(0), 2 * PG, 5 * PG, MAYMOVE, 0), -ENOMEM);
    assert_int_equal(mm_mremap(mm, A(0), 2 * PG, 4 * PG, MAYMOVE, 0), (long)A(0));
    mm->cfg.rlimit_as = UINT64_MAX;
    mm->cfg.rlimit_data = 5 * PG;
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 6 * PG, 0, 0), -ENOMEM);
    /* RLIMIT_DATA only counts private writable memory. */
    map_at(mm, 10, 1, RO, PRIV_ANON);
    assert_int_equal(mm_mremap(mm, A(10), PG, 8 * PG, 0, 0), (long)A(10));
    mm->cfg.rlimit_data = UINT64_MAX;
    /* A locked VMA may grow only within RLIMIT_MEMLOCK: EAGAIN. */
    mm->cfg.rlimit_memlock = 6 * PG;
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 4 * PG, 0, 0), (long)A(0));
    assert_int_equal(mm_mlock(mm, A(0), 4 * PG, 0), 0);
    assert_int_equal(mm->locked_vm, 4);
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 7 * PG, 0, 0), -EAGAIN);
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 6 * PG, 0, 0), (long)A(0));
    assert_int_equal(mm->locked_vm, 6);
    assert_true(vma_at(mm, 5)->flags & VM_LOCKED);
    /* With CAP_IPC_LOCK the limit does not apply. */
    mm->cfg.cap_ipc_lock = true;
    assert_int_equal(mm_mremap(mm, A(0), 6 * PG, 8 * PG, 0, 0), (long)A(0));
    assert_int_equal(mm->locked_vm, 8);
    mm_done(mm);
    /* The commit charge of accounted growth comes last: a FIXED target is already
     * unmapped when it fails (a 6.18 host shows the same). */
    mm = mm_new();
    map_at(mm, 0, 1, RW, PRIV_ANON);
    map_at(mm, 10, 2, RO, PRIV_ANON);
    assert_int_equal(mm_mremap(mm, A(0), PG, 1ULL << 44, 0, 0), -ENOMEM);
    assert_int_equal(mm_mremap(mm, A(0), PG, 1ULL << 44, MAYMOVE | FIXED, A(10)), -ENOMEM);
    assert_string_equal(layout(mm, 12), "a...........");
    assert_int_equal(mm->total_vm, 1);
    mm_done(mm);
}

static void test_mremap_special_vmas(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    assert_int_equal(mm_install_special(mm, A(0), 2 * PG, VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYEXEC, NULL), 0);
    assert_int_equal(mm_mremap(mm, A(0), 2 * PG, 3 * PG, MAYMOVE, 0), -EFAULT);      /* VM_DONTEXPAND */
    assert_int_equal(mm_mremap(mm, A(0), 2 * PG, 2 * PG, MAYMOVE | DONTUNMAP, 0), -EINVAL);
    assert_int_equal(mm_mremap(mm, A(0), 2 * PG, 2 * PG, MAYMOVE | FIXED, A(10)), (long)A(10));
    assert_string_equal(layout(mm, 12), "..........aa");
    assert_true(vma_at(mm, 10)->flags & VM_DONTEXPAND);
    mm_done(mm);
}

/* ---- mremap: moves, merges, FIXED, DONTUNMAP ------------------------------------------------ */

static void test_mremap_merge_after_move(void **state)
{
    (void)state;
    /* Faulted B moved next to untouched A: 2 VMAs (pgoff mismatch). */
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    map_at(mm, 10, 2, RW, PRIV_ANON);
    fake_fault(mm, A(10));
    assert_int_equal(mm_mremap(mm, A(10), 2 * PG, 2 * PG, MAYMOVE | FIXED, A(2)), (long)A(2));
    assert_string_equal(layout(mm, 12), "aabb........");
    mm_done(mm);

    /* Faulted B next to faulted A: 2 VMAs. */
    mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    map_at(mm, 10, 2, RW, PRIV_ANON);
    fake_fault(mm, A(0));
    fake_fault(mm, A(10));
    assert_int_equal(mm_mremap(mm, A(10), 2 * PG, 2 * PG, MAYMOVE | FIXED, A(2)), (long)A(2));
    assert_string_equal(layout(mm, 12), "aabb........");
    mm_done(mm);

    /* Untouched B next to faulted A: its pgoff follows, so they merge. */
    mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    map_at(mm, 10, 2, RW, PRIV_ANON);
    fake_fault(mm, A(0));
    assert_int_equal(mm_mremap(mm, A(10), 2 * PG, 2 * PG, MAYMOVE | FIXED, A(2)), (long)A(2));
    assert_string_equal(layout(mm, 12), "aaaa........");
    assert_int_equal(mm->map_count, 1);
    mm_done(mm);

    /* Faulted B moved away and back, then an untouched mapping above it: 1 VMA. */
    mm = mm_new();
    map_at(mm, 10, 2, RW, PRIV_ANON);
    pfn_t p = fake_fault(mm, A(10));
    assert_int_equal(mm_mremap(mm, A(10), 2 * PG, 2 * PG, MAYMOVE | FIXED, A(20)), (long)A(20));
    assert_int_equal(mm_mremap(mm, A(20), 2 * PG, 2 * PG, MAYMOVE | FIXED, A(10)), (long)A(10));
    map_at(mm, 12, 1, RW, PRIV_ANON);
    assert_string_equal(layout(mm, 22), "..........aaa.........");
    assert_int_equal(pfn_at(mm, A(10)), p);
    mm_done(mm);
}

/* Moving part of an untouched VMA right after itself merges into the VMA itself. */
static void test_mremap_move_next_to_itself(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 4, RW, PRIV_ANON);
    assert_int_equal(mm_mremap(mm, A(2), 2 * PG, 2 * PG, MAYMOVE | FIXED, A(4)), (long)A(4));
    assert_string_equal(layout(mm, 7), "aa..bb.");
    assert_int_equal(vma_at(mm, 4)->pgoff, A(4) >> PAGE_SHIFT);
    assert_int_equal(mm->total_vm, 4);
    mm_done(mm);
}

static void test_mremap_fixed_unmaps_destination(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    map_at(mm, 4, 4, RO, PRIV_ANON);
    pfn_t p = fake_fault(mm, A(0));
    assert_int_equal(mm_mremap(mm, A(0), 2 * PG, 2 * PG, MAYMOVE | FIXED, A(5)), (long)A(5));
    assert_string_equal(layout(mm, 9), "....abbc.");
    assert_int_equal(pfn_at(mm, A(5)), p);
    assert_int_equal(mm->total_vm, 4);
    /* FIXED with growth: the destination is new_len long. */
    assert_int_equal(mm_mremap(mm, A(5), 2 * PG, 3 * PG, MAYMOVE | FIXED, A(20)), (long)A(20));
    assert_string_equal(layout(mm, 24), "....a..b............ccc.");
    assert_int_equal(pfn_at(mm, A(20)), p);
    assert_int_equal(mm->total_vm, 5);
    mm_done(mm);
}

static void test_mremap_dontunmap(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    long r = mm_mmap(mm, A(0), 2 * PG, RW, PRIV_ANON | PGD_MAP_FIXED | PGD_MAP_LOCKED, NULL, 0);
    assert_int_equal(r, (long)A(0));
    pfn_t p = pfn_at(mm, A(1)); /* MAP_LOCKED populated both pages */
    assert_int_equal(mm->locked_vm, 2);
    uint64_t dest = mm->mmap_base - 2 * PG;
    assert_int_equal(mm_mremap(mm, A(0), 2 * PG, 2 * PG, MAYMOVE | DONTUNMAP, 0), (long)dest);
    struct vm_area *old = vma_at(mm, 0), *nv = mm_vma_lookup(mm, dest);
    /* The old VMA loses its mlock flags but stays accounted (6.18, as the host shows). */
    assert_int_equal(old->flags & (VM_LOCKED | VM_ACCOUNT), VM_ACCOUNT);
    assert_null(old->anon_vma); /* the whole VMA moved: its anon_vma is unlinked */
    assert_int_equal(nv->flags & (VM_LOCKED | VM_ACCOUNT), VM_LOCKED | VM_ACCOUNT);
    assert_non_null(nv->anon_vma);
    assert_int_equal(nv->pgoff, A(0) >> PAGE_SHIFT);
    assert_int_equal(pfn_at(mm, dest + PG), p);
    assert_int_equal(entry_at(mm, A(1)), 0); /* reads back zeros */
    assert_int_equal(mm->total_vm, 4);
    /* Like Linux, the move charges the new range and the unlocked old VMA stays
     * counted: VmLck over-counts (8 kB locked, 16 kB shown on a 6.18 host). */
    assert_int_equal(mm->locked_vm, 4);
    /* new_addr is a hint; with FIXED it is exact.  A partial move keeps the old
     * VMA whole (and its anon_vma) but clears the lock of all of it, so a later
     * copy of it is not locked. */
    map_at(mm, 10, 4, RW, PRIV_ANON);
    fake_fault(mm, A(10));
    assert_int_equal(mm_mlock(mm, A(10), 4 * PG, 0), 0);
    assert_int_equal(mm_mremap(mm, A(12), 2 * PG, 2 * PG, MAYMOVE | DONTUNMAP, A(30)), (long)A(30));
    assert_int_equal(mm_mremap(mm, A(10), PG, PG, MAYMOVE | DONTUNMAP | FIXED, A(40)), (long)A(40));
    assert_string_equal(layout(mm, 42), "aa........bbbb................cc........d.");
    assert_int_equal(vma_at(mm, 10)->flags & VM_LOCKED, 0);
    assert_non_null(vma_at(mm, 10)->anon_vma);
    assert_true(vma_at(mm, 30)->flags & VM_LOCKED);
    assert_int_equal(vma_at(mm, 40)->flags & VM_LOCKED, 0);
    /* 4, + 4 for the mlock, + 2 for the locked copy at 30; the copy at 40 came from a
     * VMA no longer locked. */
    assert_int_equal(mm->locked_vm, 10);
    assert_int_equal(mm->total_vm, 4 + 4 + 2 + 1);
    mm_done(mm);
}

static void test_mremap_multi_vma_move(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    map_at(mm, 3, 2, RO, PRIV_ANON);
    map_at(mm, 6, 1, RW, PRIV_ANON);
    pfn_t p = fake_fault(mm, A(3));
    assert_int_equal(mm_mremap(mm, A(0), 7 * PG, 7 * PG, MAYMOVE | FIXED, A(10)), (long)A(10));
    assert_string_equal(layout(mm, 18), "..........aa.bb.c.");
    assert_int_equal(pfn_at(mm, A(13)), p);
    assert_int_equal(mm->total_vm, 5);
    /* A gap at the start is EFAULT; one at the end is not. */
    assert_int_equal(mm_mremap(mm, A(12), 4 * PG, 4 * PG, MAYMOVE | FIXED, A(30)), -EFAULT);
    assert_int_equal(mm_mremap(mm, A(16), 2 * PG, 2 * PG, MAYMOVE | FIXED, A(30)), (long)A(30));
    /* Partial first and last VMAs are split off. */
    assert_int_equal(mm_mremap(mm, A(11), 3 * PG, 3 * PG, MAYMOVE | FIXED, A(20)), (long)A(20));
    assert_string_equal(layout(mm, 31), "..........a...b.....c.d.......e");
    /* DONTUNMAP without FIXED stays within one VMA. */
    map_at(mm, 40, 1, RW, PRIV_ANON);
    map_at(mm, 41, 1, RO, PRIV_ANON);
    assert_int_equal(mm_mremap(mm, A(40), 2 * PG, 2 * PG, MAYMOVE | DONTUNMAP, A(50)), -EFAULT);
    /* ...but with FIXED it moves both and leaves both in place. */
    assert_int_equal(mm_mremap(mm, A(40), 2 * PG, 2 * PG, MAYMOVE | DONTUNMAP | FIXED, A(50)), (long)A(50));
    assert_string_equal(layout(mm, 53), "..........a...b.....c.d.......e.........fg........hi.");
    assert_true(vma_at(mm, 40)->flags & VM_ACCOUNT);
    assert_true(vma_at(mm, 50)->flags & VM_ACCOUNT);
    mm_done(mm);
}

/* Entries in a range that crosses a 2 MiB boundary (two page tables) all move. */
static void test_mremap_moves_page_tables(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    uint64_t at = 0x20000000ULL - 3 * PG; /* 3 pages below a 2 MiB boundary */
    assert_int_equal(mm_mmap(mm, at, 6 * PG, RW, PRIV_ANON | PGD_MAP_FIXED, NULL, 0), (long)at);
    pfn_t p[6];
    for (int i = 0; i < 6; i++)
        p[i] = i == 2 ? (pfn_t)-1 : fake_fault(mm, at + (uint64_t)i * PG);
    uint64_t tables = mm->pt.table_frames;
    uint64_t to = 0x30000000ULL + 5 * PG;
    assert_int_equal(mm_mremap(mm, at, 6 * PG, 6 * PG, MAYMOVE | FIXED, to), (long)to);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pfn_at(mm, to + (uint64_t)i * PG), p[i]);
        assert_int_equal(entry_at(mm, at + (uint64_t)i * PG), 0);
    }
    assert_int_equal(mm->pt.table_frames, tables - 2 + 1); /* old PTs freed, one new PT */
    /* Shrinking the moved VMA releases its frames. */
    uint64_t before = mm->phys->free_frames;
    assert_int_equal(mm_mremap(mm, to, 6 * PG, 2 * PG, 0, 0), (long)to);
    assert_int_equal(mm->phys->free_frames, before + 3);
    mm_done(mm);
}

/* ---- madvise ------------------------------------------------------------------------------ */

static void test_madvise_common_rules(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    map_at(mm, 4, 2, RW, PRIV_ANON);
    assert_int_equal(mm_madvise(mm, A(0) + 1, PG, MADV_NORMAL), -EINVAL);
    assert_int_equal(mm_madvise(mm, A(0), PG, 5), -EINVAL);
    assert_int_equal(mm_madvise(mm, A(0), PG, 26), -EINVAL);
    assert_int_equal(mm_madvise(mm, A(0), PG, -1), -EINVAL);
    assert_int_equal(mm_madvise(mm, A(0), 0, MADV_DONTNEED), 0);
    assert_int_equal(mm_madvise(mm, A(100), 0, MADV_DONTNEED), 0);
    assert_int_equal(mm_madvise(mm, A(0), ~0ULL, MADV_NORMAL), -EINVAL);       /* rounds to 0 */
    assert_int_equal(mm_madvise(mm, A(0), 0ULL - A(0), MADV_NORMAL), -EINVAL); /* wraps */
    assert_int_equal(mm_madvise(mm, A(0), PG, MADV_HWPOISON), -EPERM);
    /* Holes: ENOMEM, but the mapped parts are advised. */
    assert_int_equal(mm_madvise(mm, A(0), 7 * PG, MADV_DONTFORK), -ENOMEM);
    assert_true(vma_at(mm, 1)->flags & VM_DONTCOPY);
    assert_true(vma_at(mm, 4)->flags & VM_DONTCOPY);
    assert_int_equal(mm_madvise(mm, A(2), PG, MADV_DOFORK), -ENOMEM);
    assert_int_equal(mm_madvise(mm, A(10), PG, MADV_DOFORK), -ENOMEM);
    assert_int_equal(mm_madvise(mm, A(1), PG + 1, MADV_DOFORK), -ENOMEM); /* 2 pages, 1 mapped */
    assert_string_equal(layout(mm, 6), "ab..cc");
    assert_int_equal(mm_madvise(mm, A(0), 6 * PG, MADV_WILLNEED), -ENOMEM);
    assert_int_equal(mm_madvise(mm, A(4), 2 * PG, MADV_WILLNEED), 0);
    /* Without THP compiled in, the huge-page advices do not exist. */
    mm->cfg.thp_enabled = false;
    assert_int_equal(mm_madvise(mm, A(0), PG, MADV_HUGEPAGE), -EINVAL);
    assert_int_equal(mm_madvise(mm, A(0), PG, MADV_COLLAPSE), -EINVAL);
    mm_done(mm);
}

static void test_madvise_flags_split_and_merge(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 6, RW, PRIV_ANON);
    assert_int_equal(mm_madvise(mm, A(2), 2 * PG, MADV_HUGEPAGE), 0);
    assert_string_equal(layout(mm, 6), "aabbcc");
    assert_true(vma_at(mm, 2)->flags & VM_HUGEPAGE);
    assert_int_equal(vma_at(mm, 2)->pgoff, A(2) >> PAGE_SHIFT);
    assert_int_equal(mm_madvise(mm, A(2), 2 * PG, MADV_NOHUGEPAGE), 0);
    assert_int_equal(vma_at(mm, 2)->flags & (VM_HUGEPAGE | VM_NOHUGEPAGE), VM_NOHUGEPAGE);
    assert_int_equal(mm_madvise(mm, A(0), 6 * PG, MADV_NOHUGEPAGE), 0);
    assert_string_equal(layout(mm, 6), "aaaaaa");
    /* Read-ahead hints, fork and dump flags: split, then merge back when they match. */
    static const int pairs[][2] = {{MADV_SEQUENTIAL, MADV_NORMAL}, {MADV_RANDOM, MADV_NORMAL},
                                   {MADV_DONTFORK, MADV_DOFORK},   {MADV_DONTDUMP, MADV_DODUMP},
                                   {MADV_WIPEONFORK, MADV_KEEPONFORK}, {MADV_MERGEABLE, MADV_UNMERGEABLE}};
    static const uint64_t flag[] = {VM_SEQ_READ, VM_RAND_READ, VM_DONTCOPY, VM_DONTDUMP, VM_WIPEONFORK, VM_MERGEABLE};
    for (unsigned i = 0; i < sizeof(flag) / sizeof(flag[0]); i++) {
        assert_int_equal(mm_madvise(mm, A(1), 3 * PG, pairs[i][0]), 0);
        assert_string_equal(layout(mm, 6), "abbbcc");
        assert_true(vma_at(mm, 1)->flags & flag[i]);
        assert_int_equal(mm_madvise(mm, A(1), 3 * PG, pairs[i][1]), 0);
        assert_string_equal(layout(mm, 6), "aaaaaa");
        assert_int_equal(vma_at(mm, 0)->flags & flag[i], 0);
    }
    /* SEQUENTIAL and RANDOM replace each other. */
    assert_int_equal(mm_madvise(mm, A(0), 6 * PG, MADV_SEQUENTIAL), 0);
    assert_int_equal(mm_madvise(mm, A(0), 6 * PG, MADV_RANDOM), 0);
    assert_int_equal(vma_at(mm, 0)->flags & (VM_SEQ_READ | VM_RAND_READ), VM_RAND_READ);
    assert_int_equal(mm->map_count, 1);
    mm_done(mm);
}

static void test_madvise_eagain_at_map_limit(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 6, RW, PRIV_ANON);
    map_at(mm, 8, 2, RW, PRIV_ANON);
    mm->cfg.max_map_count = 2;
    assert_int_equal(mm_madvise(mm, A(2), 2 * PG, MADV_DONTFORK), -EAGAIN);
    assert_int_equal(mm_madvise(mm, A(0), 2 * PG, MADV_DONTFORK), -EAGAIN); /* even a 2-way split */
    assert_string_equal(layout(mm, 10), "aaaaaa..bb");
    assert_int_equal(mm_madvise(mm, A(8), 2 * PG, MADV_DONTFORK), 0); /* whole VMA: no split */
    assert_int_equal(mm_madvise(mm, A(0), 6 * PG, MADV_DONTFORK), 0);
    assert_int_equal(mm_madvise(mm, A(0), 6 * PG, MADV_DONTFORK), 0); /* nothing to change */
    /* The limit also refuses mlock's split, with ENOMEM. */
    assert_int_equal(mm_mlock(mm, A(1), PG, 0), -ENOMEM);
    mm->cfg.max_map_count = 3;
    assert_int_equal(mm_madvise(mm, A(0), 2 * PG, MADV_DOFORK), 0);
    assert_string_equal(layout(mm, 10), "aabbbb..cc");
    mm_done(mm);
}

static void test_madvise_flag_advice_errors(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, SHARED_ANON);
    map_at(mm, 2, 2, RW, PGD_MAP_DROPPABLE | PGD_MAP_ANONYMOUS);
    assert_int_equal(mm_install_special(mm, A(4), PG, VM_READ | VM_MAYREAD, NULL), 0);
    assert_int_equal(mm_install_special(mm, A(5), PG, VM_READ | VM_MAYREAD | VM_IO, NULL), 0);
    assert_int_equal(mm_madvise(mm, A(0), PG, MADV_WIPEONFORK), -EINVAL);  /* shared */
    assert_int_equal(mm_madvise(mm, A(2), PG, MADV_KEEPONFORK), -EINVAL);  /* droppable */
    assert_int_equal(mm_madvise(mm, A(2), PG, MADV_DODUMP), -EINVAL);      /* droppable */
    assert_int_equal(mm_madvise(mm, A(4), PG, MADV_DODUMP), -EINVAL);      /* VM_SPECIAL */
    assert_int_equal(mm_madvise(mm, A(5), PG, MADV_DOFORK), -EINVAL);      /* VM_IO */
    assert_int_equal(mm_madvise(mm, A(4), PG, MADV_DOFORK), 0);
    assert_int_equal(mm_madvise(mm, A(4), PG, MADV_DONTDUMP), 0);
    /* KSM ignores what it cannot merge. */
    assert_int_equal(mm_madvise(mm, A(0), 2 * PG, MADV_MERGEABLE), 0);
    assert_int_equal(vma_at(mm, 0)->flags & VM_MERGEABLE, 0);
    /* Errors stop the walk: the VMAs before keep the change. */
    map_at(mm, 10, 1, RW, PRIV_ANON);
    map_at(mm, 11, 1, RW, SHARED_ANON);
    map_at(mm, 12, 1, RW, PRIV_ANON);
    assert_int_equal(mm_madvise(mm, A(10), 3 * PG, MADV_WIPEONFORK), -EINVAL);
    assert_true(vma_at(mm, 10)->flags & VM_WIPEONFORK);
    assert_int_equal(vma_at(mm, 12)->flags & VM_WIPEONFORK, 0);
    /* A sealed read-only anonymous VMA refuses discards only. */
    map_at(mm, 20, 1, RO, PRIV_ANON);
    vma_at(mm, 20)->flags |= VM_SEALED; /* as mseal() would: the tree's copy too */
    vma_tree_set_tag(&mm->vmas, &vma_at(mm, 20)->node, vma_at(mm, 20)->flags);
    assert_int_equal(mm_madvise(mm, A(20), PG, MADV_DONTNEED), -EPERM);
    assert_int_equal(mm_madvise(mm, A(20), PG, MADV_DONTFORK), -EPERM);
    assert_int_equal(mm_madvise(mm, A(20), PG, MADV_WILLNEED), 0);
    assert_int_equal(mm_mremap(mm, A(20), PG, PG, MAYMOVE | FIXED, A(30)), -EPERM);
    vma_at(mm, 20)->flags &= ~VM_SEALED;
    vma_tree_set_tag(&mm->vmas, &vma_at(mm, 20)->node, vma_at(mm, 20)->flags);
    mm_done(mm);
}

static void test_madvise_dontneed_and_free(void **state)
{
    (void)state;
    char path[4096];
    struct mm *mm = mm_new();
    map_at(mm, 0, 4, RW, PRIV_ANON);
    fake_fault(mm, A(1));
    fake_fault(mm, A(2));
    uint64_t free_before = mm->phys->free_frames;
    assert_int_equal(mm_madvise(mm, A(1), PG, MADV_DONTNEED), 0);
    assert_int_equal(entry_at(mm, A(1)), 0);
    assert_int_equal(mm->phys->free_frames, free_before + 1);
    assert_string_equal(layout(mm, 4), "aaaa"); /* never split */
    /* MADV_FREE keeps the page mapped, clean and old, no longer swap-backed. */
    pfn_t q = pfn_at(mm, A(2));
    assert_int_equal(mm_madvise(mm, A(0), 4 * PG, MADV_FREE), 0);
    assert_int_equal(pfn_at(mm, A(2)), q);
    assert_int_equal(entry_at(mm, A(2)) & (PTE_A | PTE_D), 0);
    /* It waits in the lru_lazyfree batch (holding a reference) until a drain. */
    assert_int_equal(phys_page(mm->phys, q)->flags & (PG_SWAPBACKED | PG_DIRTY), PG_SWAPBACKED);
    assert_int_equal(phys_page(mm->phys, q)->refcount, 2);
    mm_lru_add_drain(mm->phys);
    assert_int_equal(phys_page(mm->phys, q)->flags & (PG_SWAPBACKED | PG_DIRTY), 0);
    assert_int_equal(phys_page(mm->phys, q)->flags & PG_ANON, PG_ANON);
    assert_int_equal(phys_page(mm->phys, q)->refcount, 1);
    /* Locked VMAs refuse DONTNEED and FREE, but not DONTNEED_LOCKED. */
    assert_int_equal(mm_mlock(mm, A(0), 4 * PG, 0), 0);
    assert_int_equal(mm_madvise(mm, A(0), 4 * PG, MADV_DONTNEED), -EINVAL);
    assert_int_equal(mm_madvise(mm, A(0), 4 * PG, MADV_FREE), -EINVAL);
    assert_int_equal(mm_madvise(mm, A(0), 4 * PG, MADV_DONTNEED_LOCKED), 0);
    assert_int_equal(entry_at(mm, A(2)), 0);
    /* FREE is for private anonymous memory only. */
    map_at(mm, 10, 1, RW, SHARED_ANON);
    assert_int_equal(mm_madvise(mm, A(10), PG, MADV_FREE), -EINVAL);
    assert_int_equal(mm_madvise(mm, A(10), PG, MADV_DONTNEED), 0);
    struct mm_file *f = temp_file(2, O_RDWR, path, sizeof(path));
    map_file_at(mm, 12, 2, RW, PGD_MAP_PRIVATE, f, 0);
    assert_int_equal(mm_madvise(mm, A(12), PG, MADV_FREE), -EINVAL);
    assert_int_equal(mm_madvise(mm, A(12), PG, MADV_DONTNEED), 0);
    mm_file_put(f);
    unlink(path);
    mm_done(mm);
}

static void test_madvise_remove_cold_pageout(void **state)
{
    (void)state;
    char path[4096];
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    map_at(mm, 2, 2, RW, SHARED_ANON);
    assert_int_equal(mm_madvise(mm, A(0), PG, MADV_REMOVE), -EINVAL); /* private anonymous */
    assert_int_equal(mm_madvise(mm, A(2), 2 * PG, MADV_REMOVE), 0);
    struct mm_file *rw = temp_file(4, O_RDWR, path, sizeof(path));
    struct mm_file *ro = mm_file_open(path, O_RDONLY, &(int){0});
    assert_non_null(ro);
    map_file_at(mm, 10, 1, RW, PGD_MAP_SHARED, rw, 0);
    map_file_at(mm, 11, 1, RO, PGD_MAP_SHARED, ro, 1);
    map_file_at(mm, 12, 1, RW, PGD_MAP_PRIVATE, rw, 2);
    assert_int_equal(mm_madvise(mm, A(10), PG, MADV_REMOVE), 0);
    assert_int_equal(mm_madvise(mm, A(11), PG, MADV_REMOVE), -EACCES);  /* O_RDONLY */
    assert_int_equal(mm_madvise(mm, A(12), PG, MADV_REMOVE), -EACCES);  /* private file */
    assert_int_equal(mm_madvise(mm, A(10), 3 * PG, MADV_COLD), 0);
    assert_int_equal(mm_madvise(mm, A(10), 3 * PG, MADV_PAGEOUT), 0);
    assert_int_equal(mm_mlock(mm, A(10), PG, 0), 0);
    assert_int_equal(mm_madvise(mm, A(10), PG, MADV_REMOVE), -EINVAL);  /* locked */
    assert_int_equal(mm_madvise(mm, A(10), PG, MADV_COLD), -EINVAL);
    assert_int_equal(mm_madvise(mm, A(10), PG, MADV_PAGEOUT), -EINVAL);
    mm_file_put(rw);
    mm_file_put(ro);
    unlink(path);
    mm_done(mm);
}

static void test_madvise_populate(void **state)
{
    (void)state;
    char path[4096];
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    map_at(mm, 2, 1, PGD_PROT_READ, PRIV_ANON);
    map_at(mm, 3, 1, 0, PRIV_ANON);
    assert_int_equal(mm_madvise(mm, A(0), 2 * PG, MADV_POPULATE_READ), 0);
    assert_null(vma_at(mm, 0)->anon_vma); /* read faults map the zero page */
    assert_int_equal(mm_madvise(mm, A(0), 3 * PG, MADV_POPULATE_WRITE), -EINVAL); /* read-only part */
    assert_non_null(vma_at(mm, 0)->anon_vma);                                      /* first part done */
    assert_int_equal(mm_madvise(mm, A(3), PG, MADV_POPULATE_READ), -EINVAL);      /* PROT_NONE */
    assert_int_equal(mm_madvise(mm, A(2), 3 * PG, MADV_POPULATE_READ), -EINVAL);
    assert_int_equal(mm_madvise(mm, A(0), 3 * PG, MADV_POPULATE_READ), 0);
    map_at(mm, 6, 1, RW, PRIV_ANON);
    assert_int_equal(mm_madvise(mm, A(0), 7 * PG, MADV_POPULATE_READ), -EINVAL); /* PROT_NONE first */
    assert_int_equal(mm_madvise(mm, A(6), 2 * PG, MADV_POPULATE_READ), -ENOMEM); /* hole after */
    assert_int_equal(mm_madvise(mm, A(5), 2 * PG, MADV_POPULATE_READ), -ENOMEM); /* hole first */
    /* Pages wholly beyond the end of a file raise SIGBUS: EFAULT. */
    struct mm_file *f = temp_file(1, O_RDWR, path, sizeof(path));
    map_file_at(mm, 10, 3, RW, PGD_MAP_PRIVATE, f, 0);
    assert_int_equal(mm_madvise(mm, A(10), PG, MADV_POPULATE_WRITE), 0);
    assert_non_null(vma_at(mm, 10)->anon_vma);
    assert_int_equal(mm_madvise(mm, A(10), 3 * PG, MADV_POPULATE_READ), -EFAULT);
    mm_file_put(f);
    unlink(path);
    mm_done(mm);
}

static void test_madvise_guard_regions(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 4, RW, PRIV_ANON);
    fake_fault(mm, A(1));
    uint64_t free_before = mm->phys->free_frames;
    assert_int_equal(mm_madvise(mm, A(1), 2 * PG, MADV_GUARD_INSTALL), 0);
    assert_int_equal(mm->phys->free_frames, free_before + 1); /* the page was zapped */
    pte_t g = entry_at(mm, A(1));
    assert_int_equal(g, 0xfffffffffffff600ULL);
    assert_int_equal(entry_at(mm, A(2)), g);
    assert_int_equal(entry_at(mm, A(0)), 0);
    assert_string_equal(layout(mm, 4), "aaaa");
    /* Installing again is harmless; DONTNEED keeps guards; populate hits them. */
    assert_int_equal(mm_madvise(mm, A(0), 4 * PG, MADV_GUARD_INSTALL), 0);
    assert_int_equal(mm_madvise(mm, A(0), 4 * PG, MADV_GUARD_REMOVE), 0);
    assert_int_equal(mm_madvise(mm, A(1), 2 * PG, MADV_GUARD_INSTALL), 0);
    assert_int_equal(mm_madvise(mm, A(0), 4 * PG, MADV_DONTNEED), 0);
    assert_int_equal(entry_at(mm, A(1)), g);
    assert_int_equal(mm_madvise(mm, A(0), 4 * PG, MADV_POPULATE_WRITE), -EFAULT);
    unsigned char vec[4]; /* the page before the guard was populated, markers are not resident */
    assert_int_equal(mm_mincore(mm, A(0), 4 * PG, vec), 0);
    assert_memory_equal(vec, "\1\0\0\0", 4);
    /* Locking populates, which faults on the guards: ENOMEM, as a 6.18 host answers,
     * with the VMA locked all the same.  Locked VMAs refuse installing, not removing. */
    assert_int_equal(mm_mlock(mm, A(0), 4 * PG, 0), -ENOMEM);
    assert_true(vma_at(mm, 0)->flags & VM_LOCKED);
    assert_int_equal(mm_madvise(mm, A(0), PG, MADV_GUARD_INSTALL), -EINVAL);
    assert_int_equal(mm_madvise(mm, A(0), 4 * PG, MADV_GUARD_REMOVE), 0);
    assert_int_equal(entry_at(mm, A(1)), 0);
    assert_int_equal(entry_at(mm, A(2)), 0);
    /* Guards move with mremap like any entry. */
    assert_int_equal(mm_munlock(mm, A(0), 4 * PG), 0);
    assert_int_equal(mm_madvise(mm, A(3), PG, MADV_GUARD_INSTALL), 0);
    assert_int_equal(mm_mremap(mm, A(0), 4 * PG, 4 * PG, MAYMOVE | FIXED, A(10)), (long)A(10));
    assert_int_equal(entry_at(mm, A(13)), g);
    mm_done(mm);
}

static void test_madvise_collapse(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 4, RW, PRIV_ANON);
    assert_int_equal(mm_madvise(mm, A(0), 4 * PG, MADV_COLLAPSE), -EINVAL); /* no aligned 2 MiB */
    uint64_t big = 0x40000000ULL;
    assert_int_equal(mm_mmap(mm, big, 2 * PMD_SIZE, RW, PRIV_ANON | PGD_MAP_FIXED, NULL, 0), (long)big);
    assert_int_equal(mm_madvise(mm, big, PG, MADV_COLLAPSE), 0);             /* no aligned 2 MiB in range */
    assert_int_equal(mm_madvise(mm, big, PMD_SIZE, MADV_COLLAPSE), -EINVAL); /* nothing to collapse */
    assert_int_equal(mm_madvise(mm, big, 2 * PMD_SIZE, MADV_NOHUGEPAGE), 0);
    assert_int_equal(mm_madvise(mm, big, PG, MADV_COLLAPSE), -EINVAL);
    mm_done(mm);
}

/* ---- mlock family ------------------------------------------------------------------------- */

static void test_mlock_split_merge_accounting(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 6, RW, PRIV_ANON);
    assert_int_equal(mm_mlock(mm, A(2) + 100, PG, 0), 0); /* start rounded down, len up: 2 pages */
    assert_string_equal(layout(mm, 6), "aabbcc");
    assert_int_equal(vma_at(mm, 2)->flags & VM_LOCKED_MASK, VM_LOCKED);
    assert_int_equal(mm->locked_vm, 2);
    assert_int_equal(mm_mlock(mm, A(2), 3 * PG, 0), 0); /* overlapping: counted once */
    assert_string_equal(layout(mm, 6), "aabbbc");
    assert_int_equal(mm->locked_vm, 3);
    assert_int_equal(mm_mlock(mm, A(2), 3 * PG, PGD_MLOCK_ONFAULT), 0);
    assert_int_equal(vma_at(mm, 2)->flags & VM_LOCKED_MASK, VM_LOCKED | VM_LOCKONFAULT);
    assert_int_equal(mm->locked_vm, 3);
    assert_int_equal(mm_mlock(mm, A(0), PG, 2), -EINVAL);
    assert_int_equal(mm_munlock(mm, A(0), 6 * PG), 0);
    assert_string_equal(layout(mm, 6), "aaaaaa");
    assert_int_equal(mm->locked_vm, 0);
    /* A hole: the part before it is locked, then ENOMEM; a hole at the start
     * changes nothing. */
    map_at(mm, 7, 1, RW, PRIV_ANON);
    assert_int_equal(mm_mlock(mm, A(4), 4 * PG, 0), -ENOMEM);
    assert_string_equal(layout(mm, 8), "aaaabb.c");
    assert_int_equal(mm->locked_vm, 2);
    assert_int_equal(vma_at(mm, 7)->flags & VM_LOCKED, 0);
    assert_int_equal(mm_mlock(mm, A(6), 2 * PG, 0), -ENOMEM);
    assert_int_equal(vma_at(mm, 7)->flags & VM_LOCKED, 0);
    assert_int_equal(mm_munlock(mm, A(6), PG), -ENOMEM);
    assert_int_equal(mm_munlock(mm, A(0), 0), 0);
    /* Special mappings are silently not locked. */
    assert_int_equal(mm_install_special(mm, A(10), PG, VM_READ | VM_MAYREAD, NULL), 0);
    assert_int_equal(mm_mlock(mm, A(10), PG, 0), 0);
    assert_int_equal(vma_at(mm, 10)->flags & VM_LOCKED, 0);
    assert_int_equal(mm->locked_vm, 2);
    mm_done(mm);
}

static void test_mlock_limits(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 4, RW, PRIV_ANON);
    mm->cfg.rlimit_memlock = 2 * PG;
    assert_int_equal(mm_mlock(mm, A(0), 3 * PG, 0), -ENOMEM);
    assert_int_equal(mm->locked_vm, 0);
    assert_int_equal(mm_mlock(mm, A(0), 2 * PG, 0), 0);
    assert_int_equal(mm_mlock(mm, A(0), 2 * PG, 0), 0);        /* already locked: fits */
    assert_int_equal(mm_mlock(mm, A(1), 2 * PG, 0), -ENOMEM);  /* 2 + 2 - 1 > 2 */
    mm->cfg.rlimit_memlock = 0;
    assert_int_equal(mm_mlock(mm, A(0), PG, 0), -EPERM);
    assert_int_equal(mm_mlockall(mm, PGD_MCL_CURRENT), -EPERM);
    assert_int_equal(mm_munlock(mm, A(0), 4 * PG), 0); /* munlock needs no permission */
    mm->cfg.cap_ipc_lock = true;
    assert_int_equal(mm_mlock(mm, A(0), 4 * PG, 0), 0);
    assert_int_equal(mm->locked_vm, 4);
    mm_done(mm);
}

static void test_mlockall(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    map_at(mm, 2, 2, RO, PRIV_ANON);
    assert_int_equal(mm_mlockall(mm, 0), -EINVAL);
    assert_int_equal(mm_mlockall(mm, 8), -EINVAL);
    assert_int_equal(mm_mlockall(mm, PGD_MCL_ONFAULT), -EINVAL);
    mm->cfg.rlimit_memlock = 3 * PG;
    assert_int_equal(mm_mlockall(mm, PGD_MCL_CURRENT), -ENOMEM); /* total_vm 4 > 3 */
    assert_int_equal(mm_mlockall(mm, PGD_MCL_FUTURE), 0);        /* no check without CURRENT */
    assert_int_equal(mm->def_flags, VM_LOCKED);
    assert_int_equal(mm->locked_vm, 0);
    map_at(mm, 4, 1, RW, PRIV_ANON);
    assert_true(vma_at(mm, 4)->flags & VM_LOCKED);
    assert_int_equal(mm->locked_vm, 1);
    mm->cfg.rlimit_memlock = 8ULL << 20;
    assert_int_equal(mm_mlockall(mm, PGD_MCL_CURRENT | PGD_MCL_ONFAULT), 0);
    assert_int_equal(mm->def_flags, 0); /* FUTURE not asked again: cleared */
    for (unsigned p = 0; p < 5; p++)
        assert_int_equal(vma_at(mm, p)->flags & VM_LOCKED_MASK, VM_LOCKED | VM_LOCKONFAULT);
    assert_int_equal(mm->locked_vm, 5);
    assert_int_equal(mm_mlockall(mm, PGD_MCL_CURRENT | PGD_MCL_FUTURE | PGD_MCL_ONFAULT), 0);
    assert_int_equal(mm->def_flags, VM_LOCKED | VM_LOCKONFAULT);
    assert_int_equal(mm_munlockall(mm), 0);
    assert_int_equal(mm->def_flags, 0);
    assert_int_equal(mm->locked_vm, 0);
    assert_string_equal(layout(mm, 5), "aabbc");
    assert_int_equal(mm->map_count, 3);
    mm_done(mm);
}

/* ---- msync, mincore ------------------------------------------------------------------------- */

static void test_msync(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    map_at(mm, 4, 2, RW, PRIV_ANON);
    assert_int_equal(mm_msync(mm, A(0), PG, 8), -EINVAL);
    assert_int_equal(mm_msync(mm, A(0), PG, PGD_MS_ASYNC | PGD_MS_SYNC), -EINVAL);
    assert_int_equal(mm_msync(mm, A(0) + 1, PG, PGD_MS_SYNC), -EINVAL);
    assert_int_equal(mm_msync(mm, A(0), 0ULL - A(0), PGD_MS_SYNC), -ENOMEM); /* wraps */
    assert_int_equal(mm_msync(mm, A(9), 0, PGD_MS_SYNC), 0);
    assert_int_equal(mm_msync(mm, A(0), 2 * PG - 5, PGD_MS_SYNC), 0);
    assert_int_equal(mm_msync(mm, A(0), 6 * PG, PGD_MS_SYNC), -ENOMEM);
    assert_int_equal(mm_msync(mm, A(0), 6 * PG, PGD_MS_ASYNC), -ENOMEM);
    assert_int_equal(mm_msync(mm, A(0), 6 * PG, 0), -ENOMEM);
    assert_int_equal(mm_msync(mm, A(2), PG, PGD_MS_SYNC), -ENOMEM);
    assert_int_equal(mm_msync(mm, A(6), PG, PGD_MS_ASYNC), -ENOMEM);
    assert_int_equal(mm_msync(mm, A(1), 5 * PG, PGD_MS_INVALIDATE), -ENOMEM);
    assert_int_equal(mm_mlock(mm, A(4), PG, 0), 0);
    assert_int_equal(mm_msync(mm, A(4), 2 * PG, PGD_MS_INVALIDATE), -EBUSY);
    assert_int_equal(mm_msync(mm, A(0), 6 * PG, PGD_MS_INVALIDATE | PGD_MS_SYNC), -EBUSY);
    assert_int_equal(mm_msync(mm, A(4), 2 * PG, PGD_MS_SYNC), 0);
    mm_done(mm);
}

static void test_mincore(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 4, RW, PRIV_ANON);
    map_at(mm, 6, 1, RW, PRIV_ANON);
    fake_fault(mm, A(1));
    fake_fault(mm, A(3));
    unsigned char vec[8];
    memset(vec, 7, sizeof(vec));
    assert_int_equal(mm_mincore(mm, A(0) + 1, PG, vec), -EINVAL);
    assert_int_equal(mm_mincore(mm, TASK_SIZE - PG, 2 * PG, vec), -ENOMEM);
    assert_int_equal(mm_mincore(mm, A(0), ~0ULL - A(0), vec), -ENOMEM);
    assert_int_equal(mm_mincore(mm, A(0), 0, vec), 0);
    assert_int_equal(mm_mincore(mm, A(0), 3 * PG + 1, vec), 0);
    assert_memory_equal(vec, "\0\1\0\1\7", 5);
    /* A hole: the vector is filled up to it, then ENOMEM. */
    memset(vec, 7, sizeof(vec));
    assert_int_equal(mm_mincore(mm, A(2), 5 * PG, vec), -ENOMEM);
    assert_memory_equal(vec, "\0\1\7", 3);
    assert_int_equal(mm_mincore(mm, A(5), PG, vec), -ENOMEM);
    assert_int_equal(mm_mincore(mm, A(0), PG, NULL), -EFAULT);
    /* PROT_NONE pages are still resident. */
    assert_int_equal(mm_mprotect(mm, A(3), PG, 0), 0);
    assert_int_equal(mm_mincore(mm, A(3), PG, vec), 0);
    assert_int_equal(vec[0], 1);
    mm_done(mm);
}

/* ---- anonymous VMA names ------------------------------------------------------------------- */

static void test_anon_name_compiled_out(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    assert_int_equal(mm_set_anon_name(mm, A(0), PG, "x"), -EINVAL);
    assert_int_equal(mm_set_anon_name(mm, A(0), PG, NULL), -EINVAL);
    assert_int_equal(mm_set_anon_name(mm, A(0) + 1, PG, "x"), -EINVAL);
    assert_string_equal(layout(mm, 2), "aa");
    mm_done(mm);
}

static void test_anon_name(void **state)
{
    (void)state;
    char path[4096];
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.anon_vma_names = true;
    struct mm *mm = mm_new_cfg(&cfg);
    map_at(mm, 0, 6, RW, PRIV_ANON);
    assert_int_equal(mm_set_anon_name(mm, A(2), 2 * PG, "heap one"), 0);
    assert_string_equal(layout(mm, 6), "aabbcc");
    assert_string_equal(vma_at(mm, 2)->anon_name->name, "heap one");
    assert_non_null(strstr(maps_text(mm), "[anon:heap one]\n"));
    /* An equal name (another copy) merges. */
    assert_int_equal(mm_set_anon_name(mm, A(4), PG, "heap one"), 0);
    assert_string_equal(layout(mm, 6), "aabbbc");
    /* NULL clears, merging back. */
    assert_int_equal(mm_set_anon_name(mm, A(0), 6 * PG, NULL), 0);
    assert_string_equal(layout(mm, 6), "aaaaaa");
    assert_null(vma_at(mm, 0)->anon_name);
    /* Names: at most 79 characters, printable, none of \ ` $ [ ]. */
    char name[81];
    memset(name, 'n', 80);
    name[80] = '\0';
    assert_int_equal(mm_set_anon_name(mm, A(0), PG, name), -EINVAL);
    name[79] = '\0';
    assert_int_equal(mm_set_anon_name(mm, A(0), PG, name), 0);
    static const char *const bad[] = {"a$b", "[x", "x]", "a\\b", "`", "tab\there", "\x7f"};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mm_set_anon_name(mm, A(100) + 1, PG, bad[i]), -EINVAL); /* before the range */
    assert_int_equal(mm_set_anon_name(mm, A(0) + 1, PG, "ok"), -EINVAL);
    assert_int_equal(mm_set_anon_name(mm, A(0), 0, "ok"), 0);
    assert_int_equal(mm_set_anon_name(mm, A(0), ~0ULL, "ok"), -EINVAL);
    assert_int_equal(mm_set_anon_name(mm, A(0), PG, ""), 0);
    assert_non_null(strstr(maps_text(mm), "[anon:]\n"));
    /* Holes: ENOMEM after naming what is mapped. */
    assert_int_equal(mm_set_anon_name(mm, A(4), 4 * PG, "tail"), -ENOMEM);
    assert_string_equal(vma_at(mm, 5)->anon_name->name, "tail");
    /* Shared anonymous memory can be named, file mappings cannot. */
    map_at(mm, 10, 1, RW, SHARED_ANON);
    assert_int_equal(mm_set_anon_name(mm, A(10), PG, "shm"), 0);
    assert_non_null(strstr(maps_text(mm), "[anon_shmem:shm]\n"));
    struct mm_file *f = temp_file(1, O_RDWR, path, sizeof(path));
    map_file_at(mm, 12, 1, RW, PGD_MAP_PRIVATE, f, 0);
    assert_int_equal(mm_set_anon_name(mm, A(12), PG, "file"), -EBADF);
    /* At the map-count limit a split is EAGAIN. */
    mm->cfg.max_map_count = mm->map_count;
    assert_int_equal(mm_set_anon_name(mm, A(1), PG, "split"), -EAGAIN);
    /* A moved VMA keeps its name. */
    mm->cfg.max_map_count = 65530;
    assert_int_equal(mm_mremap(mm, A(4), PG, PG, MAYMOVE | FIXED, A(30)), (long)A(30));
    assert_string_equal(vma_at(mm, 30)->anon_name->name, "tail");
    mm_file_put(f);
    unlink(path);
    mm_done(mm);
}

/* ---- hugetlb: anonymous MAP_HUGETLB (6.18 host results, empty pool) ------------------------- */

#define H2M (2ULL << 20)
#define H1G (1ULL << 30)
#define H(n) (BASE + (uint64_t)(n) * H2M) /* the window in 2 MiB steps (BASE is aligned) */
#define HUGE_1GB (30ULL << PGD_MAP_HUGE_SHIFT)
#define HUGETLB_NR (PGD_MAP_HUGETLB | PGD_MAP_NORESERVE)

/* The maps line of the VMA starting at start (without its newline), or "" if none. */
static const char *maps_line(const struct mm *mm, uint64_t start)
{
    static char line[512];
    char key[32];
    snprintf(key, sizeof(key), "%08llx-", (unsigned long long)start);
    const char *text = maps_text(mm), *at = strstr(text, key);
    line[0] = '\0';
    while (at && at != text && at[-1] != '\n')
        at = strstr(at + 1, key);
    if (at)
        snprintf(line, sizeof(line), "%.*s", (int)strcspn(at, "\n"), at);
    return line;
}

/* A maps line as Linux pads it: the fields, a space, the name at column 73. */
static const char *named_line(const char *fields, const char *name)
{
    static char line[512];
    char head[128];
    snprintf(head, sizeof(head), "%s ", fields);
    snprintf(line, sizeof(line), "%-73s%s", head, name);
    return line;
}

static void test_hugetlb_anon_mmap(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    /* Without MAP_NORESERVE the empty pool cannot reserve: ENOMEM (inode 1 is used). */
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PRIV_ANON | PGD_MAP_HUGETLB, NULL, 0), -ENOMEM);
    /* With it: one huge page, placed 2 MiB aligned below mmap_base. */
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PRIV_ANON | HUGETLB_NR, NULL, 0), 0x7ffff7c00000L);
    assert_string_equal(maps_line(mm, 0x7ffff7c00000ULL),
                        named_line("7ffff7c00000-7ffff7e00000 rw-p 00000000 00:11 2", "/anon_hugepage (deleted)"));
    struct vm_area *v = mm_vma_lookup(mm, 0x7ffff7c00000ULL);
    assert_int_equal(v->flags, VM_READ | VM_WRITE | VM_MAY_FLAGS | VM_NORESERVE | VM_HUGETLB | VM_DONTEXPAND);
    assert_ptr_equal(v->ops, &hugetlb_vm_ops);
    assert_int_equal(mm->total_vm, 512);
    assert_int_equal(mm->data_vm, 512);
    /* 3 MiB is two huge pages; 1 GiB pages live on the other mount, 1 GiB aligned. */
    assert_int_equal(mm_mmap(mm, 0, 3 << 20, RW, PRIV_ANON | HUGETLB_NR | (21ULL << PGD_MAP_HUGE_SHIFT), NULL, 0),
                     0x7ffff7800000L);
    assert_int_equal(vma_end(mm_vma_lookup(mm, 0x7ffff7800000ULL)), 0x7ffff7c00000ULL);
    assert_int_equal(mm_mmap(mm, 0, PG, RO, PRIV_ANON | HUGETLB_NR | HUGE_1GB, NULL, 0), 0x7fff80000000L);
    assert_string_equal(maps_line(mm, 0x7fff80000000ULL),
                        named_line("7fff80000000-7fffc0000000 r--p 00000000 00:12 4", "/anon_hugepage (deleted)"));
    /* Shared, executable, MAP_SYNC with plain MAP_PRIVATE: all fine, in the gap
     * above the 1 GiB page. */
    assert_int_equal(mm_mmap(mm, 0, PG, RW, SHARED_ANON | HUGETLB_NR, NULL, 0), 0x7ffff7600000L);
    assert_string_equal(maps_line(mm, 0x7ffff7600000ULL),
                        named_line("7ffff7600000-7ffff7800000 rw-s 00000000 00:11 5", "/anon_hugepage (deleted)"));
    assert_int_equal(mm_mmap(mm, 0, PG, RW | PGD_PROT_EXEC, PRIV_ANON | HUGETLB_NR | PGD_MAP_SYNC, NULL, 0),
                     0x7ffff7400000L);
    /* The file offset must be whole huge pages; it shows in maps. */
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PRIV_ANON | HUGETLB_NR, NULL, 1), -EINVAL);
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PRIV_ANON | HUGETLB_NR, NULL, 512), 0x7ffff7200000L);
    assert_string_equal(maps_line(mm, 0x7ffff7200000ULL),
                        named_line("7ffff7200000-7ffff7400000 rw-p 00200000 00:11 8", "/anon_hugepage (deleted)"));
    /* A lock does not stick to hugetlb and is not counted. */
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PRIV_ANON | HUGETLB_NR | PGD_MAP_LOCKED, NULL, 0), 0x7ffff7000000L);
    assert_int_equal(mm_vma_lookup(mm, 0x7ffff7000000ULL)->flags & VM_LOCKED_MASK, 0);
    assert_int_equal(mm->locked_vm, 0);
    mm_done(mm);
}

static void test_hugetlb_mmap_errors(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PRIV_ANON | HUGETLB_NR | (25ULL << PGD_MAP_HUGE_SHIFT), NULL, 0),
                     -EINVAL); /* no 32 MiB hstate */
    assert_int_equal(mm_mmap(mm, 0, 0, RW, PRIV_ANON | HUGETLB_NR | (22ULL << PGD_MAP_HUGE_SHIFT), NULL, 0),
                     -EINVAL);
    assert_int_equal(mm_mmap(mm, 0, 0, RW, PRIV_ANON | HUGETLB_NR, NULL, 0), -EINVAL);
    assert_int_equal(mm_mmap(mm, 0, 0ULL - PG, RW, PRIV_ANON | HUGETLB_NR, NULL, 0), -EINVAL);    /* wraps to 0 */
    assert_int_equal(mm_mmap(mm, 0, 0ULL - H2M - 1, RW, PRIV_ANON | HUGETLB_NR, NULL, 0), -ENOMEM);
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PRIV_ANON | HUGETLB_NR | PGD_MAP_GROWSDOWN, NULL, 0), -EINVAL);
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PGD_MAP_DROPPABLE | PGD_MAP_ANONYMOUS | HUGETLB_NR, NULL, 0), -EINVAL);
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PGD_MAP_ANONYMOUS | HUGETLB_NR, NULL, 0), -EINVAL);
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PGD_MAP_SHARED_VALIDATE | PGD_MAP_ANONYMOUS | HUGETLB_NR | PGD_MAP_SYNC,
                             NULL, 0),
                     -EOPNOTSUPP);
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PGD_MAP_SHARED_VALIDATE | PGD_MAP_ANONYMOUS | HUGETLB_NR | 0x400, NULL, 0),
                     -EOPNOTSUPP);
    /* Addresses: a hint is rounded up to a huge page, a fixed one must be aligned. */
    assert_int_equal(mm_mmap(mm, H(0) + PG, PG, RW, PRIV_ANON | HUGETLB_NR, NULL, 0), (long)H(1));
    assert_int_equal(mm_mmap(mm, H(4) + PG, PG, RW, PRIV_ANON | HUGETLB_NR | PGD_MAP_FIXED, NULL, 0), -EINVAL);
    assert_int_equal(mm_mmap(mm, H(4) + PG, PG, RW, PRIV_ANON | HUGETLB_NR | PGD_MAP_FIXED_NOREPLACE, NULL, 0),
                     -EINVAL);
    assert_int_equal(mm_mmap(mm, H(1), PG, RW, PRIV_ANON | HUGETLB_NR | PGD_MAP_FIXED_NOREPLACE, NULL, 0), -EEXIST);
    assert_int_equal(mm_mmap(mm, H(1), PG, RW, PRIV_ANON | HUGETLB_NR | HUGE_1GB, NULL, 0), 0x40000000L);
    /* MAP_HUGETLB with a file that is not hugetlbfs. */
    char path[4096];
    struct mm_file *f = temp_file(1, O_RDWR, path, sizeof(path));
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PGD_MAP_PRIVATE | PGD_MAP_HUGETLB, f, 0), -EINVAL);
    mm_file_put(f);
    unlink(path);
    mm_done(mm);
}

/* A fixed MAP_HUGETLB whose reservation (or offset) fails has already cleared its
 * 2 MiB-rounded target; one that would split a hugetlb VMA off its boundary fails
 * first, changing nothing. */
static void test_hugetlb_fixed_failures(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    assert_int_equal(mm_mmap(mm, H(0), 2 * H2M, RW, PRIV_ANON | PGD_MAP_FIXED, NULL, 0), (long)H(0));
    assert_int_equal(mm_mmap(mm, H(1), PG, RW, PRIV_ANON | PGD_MAP_HUGETLB | PGD_MAP_FIXED, NULL, 0), -ENOMEM);
    assert_int_equal(vma_end(mm_vma_lookup(mm, H(0))), H(1));
    assert_null(mm_vma_lookup(mm, H(1)));
    assert_int_equal(mm_mmap(mm, H(0), PG, RW, PRIV_ANON | HUGETLB_NR | PGD_MAP_FIXED, NULL, 1), -EINVAL);
    assert_null(mm_find_vma(mm, 0));
    assert_int_equal(mm->total_vm, 0);
    assert_int_equal(mm_mmap(mm, H(4), PG, RW, PRIV_ANON | HUGETLB_NR | PGD_MAP_FIXED, NULL, 0), (long)H(4));
    assert_int_equal(mm_mmap(mm, H(4) + PG, PG, RW, PRIV_ANON | PGD_MAP_FIXED, NULL, 0), -EINVAL);
    assert_int_equal(mm_mmap(mm, H(4) + PG, 1ULL << 44, RW, PRIV_ANON | PGD_MAP_FIXED, NULL, 0), -EINVAL);
    assert_int_equal(vma_start(mm_vma_lookup(mm, H(4) + PG)), H(4));
    assert_int_equal(vma_end(mm_vma_lookup(mm, H(4))), H(5));
    mm_done(mm);
    /* With a pool of two huge pages, a reservation of two succeeds, of three not. */
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.hugetlb_pages_2m = 2;
    mm = mm_new_cfg(&cfg);
    assert_int_equal(mm_mmap(mm, 0, 2 * H2M, RW, PRIV_ANON | PGD_MAP_HUGETLB, NULL, 0), 0x7ffff7a00000L);
    assert_int_equal(mm_vma_lookup(mm, 0x7ffff7a00000ULL)->flags & VM_NORESERVE, 0);
    assert_int_equal(mm_mmap(mm, 0, 3 * H2M, RW, PRIV_ANON | PGD_MAP_HUGETLB, NULL, 0), -ENOMEM);
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PRIV_ANON | PGD_MAP_HUGETLB | HUGE_1GB, NULL, 0), -ENOMEM);
    mm_done(mm);
    /* Strict overcommit ignores MAP_NORESERVE, except for hugetlb. */
    mm_config_default(&cfg);
    cfg.overcommit = 2;
    mm = mm_new_cfg(&cfg);
    assert_int_equal(mm_mmap(mm, 0, PG, RW, PRIV_ANON | HUGETLB_NR, NULL, 0), 0x7ffff7c00000L);
    assert_true(mm_vma_lookup(mm, 0x7ffff7c00000ULL)->flags & VM_NORESERVE);
    mm_done(mm);
}

/* munmap and mprotect split a hugetlb VMA only at huge page boundaries (EINVAL), a
 * split made before the refused one staying; no length is rounded. */
static void test_hugetlb_munmap_mprotect(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    assert_int_equal(mm_mmap(mm, H(0), 3 * H2M, RW, PRIV_ANON | HUGETLB_NR | PGD_MAP_FIXED, NULL, 0), (long)H(0));
    assert_int_equal(mm_munmap(mm, H(0), PG), -EINVAL);
    assert_int_equal(mm_munmap(mm, H(0) + PG, PG), -EINVAL);
    assert_int_equal(mm_munmap(mm, H(1), 1), -EINVAL);
    assert_int_equal(vma_end(mm_vma_lookup(mm, H(0))), H(1)); /* the split at H(1) stayed */
    assert_int_equal(vma_end(mm_vma_lookup(mm, H(1))), H(3));
    assert_int_equal(mm_vma_lookup(mm, H(1))->pgoff, 512);
    assert_ptr_equal(mm_vma_lookup(mm, H(1))->ops, &hugetlb_vm_ops);
    assert_int_equal(mm_munmap(mm, H(1) - PG, 2 * PG), -EINVAL);
    assert_int_equal(mm_munmap(mm, H(2), H2M + PG), 0);
    assert_int_equal(vma_end(mm_vma_lookup(mm, H(1))), H(2));
    assert_int_equal(mm->total_vm, 1024);

    assert_int_equal(mm_mprotect(mm, H(0), PG, RO), -EINVAL);
    assert_int_equal(mm_mprotect(mm, H(0), PG, RW), 0); /* nothing to change, nothing split */
    assert_int_equal(mm_mprotect(mm, H(1), H2M - PG, RO), -EINVAL);
    assert_int_equal(mm_mprotect(mm, H(1), H2M, RO), 0);
    assert_int_equal(mm_mprotect(mm, H(1), H2M - PG, RO), 0); /* now no change */
    assert_int_equal(mm_mprotect(mm, H(0), 2 * H2M, 0), 0);
    assert_string_equal(maps_line(mm, H(1)),
                        named_line("10200000-10400000 ---p 00200000 00:11 1", "/anon_hugepage (deleted)"));
    assert_int_equal(vma_end(mm_vma_lookup(mm, H(0))), H(1)); /* VM_DONTEXPAND: never merged back */
    /* Applied up to the VMA whose split fails. */
    assert_int_equal(mm_mprotect(mm, H(0), H2M + PG, RO), -EINVAL);
    assert_int_equal(mm_vma_lookup(mm, H(0))->flags & VM_ACCESS_FLAGS, VM_READ);
    assert_int_equal(mm_vma_lookup(mm, H(1))->flags & VM_ACCESS_FLAGS, 0);
    assert_int_equal(mm->data_vm, 0);
    mm_done(mm);
}

static void test_hugetlb_mremap(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    assert_int_equal(mm_mmap(mm, H(0), 3 * H2M, RW, PRIV_ANON | HUGETLB_NR | PGD_MAP_FIXED, NULL, 0), (long)H(0));
    /* Lengths are whole huge pages: 6 MiB - 4 KiB is no change, 4 MiB a shrink. */
    assert_int_equal(mm_mremap(mm, H(0), 3 * H2M, 3 * H2M - PG, 0, 0), (long)H(0));
    assert_int_equal(vma_end(mm_vma_lookup(mm, H(0))), H(3));
    assert_int_equal(mm_mremap(mm, H(0), 3 * H2M, 2 * H2M, 0, 0), (long)H(0));
    assert_int_equal(vma_end(mm_vma_lookup(mm, H(0))), H(2));
    /* No growth, aligned addresses only (new_addr too, even when unused). */
    assert_int_equal(mm_mremap(mm, H(0), 2 * H2M, 2 * H2M + PG, 0, 0), -EINVAL);
    assert_int_equal(mm_mremap(mm, H(0), 2 * H2M, 3 * H2M, MAYMOVE, 0), -EINVAL);
    assert_int_equal(mm_mremap(mm, H(0) + PG, PG, PG, 0, 0), -EINVAL);
    assert_int_equal(mm_mremap(mm, H(0), H2M, H2M, 0, H(0) + PG), -EINVAL);
    assert_int_equal(mm_mremap(mm, H(0), PG, PG, MAYMOVE | FIXED, H(10) + PG), -EINVAL);
    assert_int_equal(mm_mremap(mm, H(0), H2M, H2M, MAYMOVE | DONTUNMAP, 0), -EINVAL); /* VM_DONTEXPAND */
    assert_int_equal(mm_mremap(mm, H(0), 0, H2M, MAYMOVE, 0), -EINVAL);
    /* A one-page move moves the whole huge page; the rest of the VMA stays. */
    assert_int_equal(mm_mremap(mm, H(0), PG, PG, MAYMOVE | FIXED, H(10)), (long)H(10));
    assert_null(mm_vma_lookup(mm, H(0)));
    assert_int_equal(vma_end(mm_vma_lookup(mm, H(1))), H(2));
    assert_string_equal(maps_line(mm, H(10)),
                        named_line("11400000-11600000 rw-p 00000000 00:11 1", "/anon_hugepage (deleted)"));
    assert_ptr_equal(mm_vma_lookup(mm, H(10))->ops, &hugetlb_vm_ops);
    assert_int_equal(mm->total_vm, 1024);
    /* Shared: still no "duplicating" growth from old_len 0. */
    assert_int_equal(mm_mmap(mm, H(20), H2M, RW, SHARED_ANON | HUGETLB_NR | PGD_MAP_FIXED, NULL, 0), (long)H(20));
    assert_int_equal(mm_mremap(mm, H(20), 0, H2M, MAYMOVE, 0), -EINVAL);
    mm_done(mm);
}

static void test_hugetlb_madvise_mlock_msync(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    assert_int_equal(mm_mmap(mm, H(0), 3 * H2M, RW, PRIV_ANON | HUGETLB_NR | PGD_MAP_FIXED, NULL, 0), (long)H(0));
    /* Flag advice that changes nothing splits nothing; a change needs aligned splits. */
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_NORMAL), 0);
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_DOFORK), 0);
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_MERGEABLE), 0);
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_RANDOM), -EINVAL);
    assert_int_equal(vma_end(mm_vma_lookup(mm, H(0))), H(1)); /* the split at the start stayed */
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_HUGEPAGE), -EINVAL);
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_DONTDUMP), -EINVAL);
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_WIPEONFORK), -EINVAL); /* a file mapping */
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_REMOVE), -EACCES);     /* private */
    /* DONTNEED: from a huge page boundary, the end rounded down to one. */
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_DONTNEED), 0);
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_DONTNEED_LOCKED), 0);
    assert_int_equal(mm_madvise(mm, H(1) + PG, PG, MADV_DONTNEED), -EINVAL);
    assert_int_equal(mm_madvise(mm, H(1), H2M, MADV_FREE), -EINVAL);
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_COLD), -EINVAL);
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_POPULATE_READ), -EFAULT); /* no page in the pool */
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_POPULATE_WRITE), -EFAULT);
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_GUARD_INSTALL), -EINVAL);
    assert_int_equal(mm_madvise(mm, H(1), PG, MADV_COLLAPSE), -EINVAL);
    /* Whole VMAs change. */
    assert_int_equal(mm_madvise(mm, H(0), 3 * H2M, MADV_HUGEPAGE), 0);
    assert_true(mm_vma_lookup(mm, H(2))->flags & VM_HUGEPAGE);
    assert_int_equal(vma_end(mm_vma_lookup(mm, H(1))), H(3));
    /* mlock leaves hugetlb unlocked, and populating it fails: ENOMEM, even on fault. */
    assert_int_equal(mm_mlock(mm, H(0) + PG, PG, 0), -ENOMEM);
    assert_int_equal(mm_mlock(mm, H(0) + PG, PG, PGD_MLOCK_ONFAULT), -ENOMEM);
    assert_int_equal(mm_vma_lookup(mm, H(0))->flags & VM_LOCKED_MASK, 0);
    assert_int_equal(mm->locked_vm, 0);
    assert_int_equal(mm_munlock(mm, H(0) + PG, PG), 0);
    assert_int_equal(mm_msync(mm, H(0) + PG, PG, PGD_MS_SYNC), 0);
    assert_int_equal(mm_msync(mm, H(0) + PG, PG, PGD_MS_INVALIDATE), 0);
    assert_int_equal(vma_end(mm_vma_lookup(mm, H(0))), H(1));
    mm_done(mm);
}

/* ---- mmap: what a failing MAP_FIXED leaves (6.18 host results) ------------------------------ */

static void test_mmap_fixed_failure_leftovers(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    /* The splits of the target come first and stay when the commit charge fails. */
    map_at(mm, 0, 3, RW, PRIV_ANON);
    assert_int_equal(mm_mmap(mm, A(1), 1ULL << 44, RW, PRIV_ANON | PGD_MAP_FIXED, NULL, 0), -ENOMEM);
    assert_string_equal(layout(mm, 4), "abb.");
    assert_int_equal(mm->total_vm, 3);
    /* Shared anonymous memory is charged by shmem_zero_setup(), after the target was
     * cleared: a hole is left. */
    map_at(mm, 10, 2, RW, PRIV_ANON);
    assert_int_equal(mm_mmap(mm, A(0), 1ULL << 44, RW, SHARED_ANON | PGD_MAP_FIXED, NULL, 0), -ENOMEM);
    assert_string_equal(layout(mm, 12), "............");
    assert_int_equal(mm->total_vm, 0);
    /* MAP_NORESERVE makes no charge. */
    assert_int_equal(mm_mmap(mm, A(0), 1ULL << 44, RW, SHARED_ANON | PGD_MAP_NORESERVE | PGD_MAP_FIXED, NULL, 0),
                     (long)A(0));
    mm_done(mm);
}

/* mlock populates after locking: a file page past the end of the file (also of a
 * grown shared anonymous mapping) cannot be faulted in, and mlock says ENOMEM. */
static void test_mlock_past_end_of_file(void **state)
{
    (void)state;
    char path[4096];
    struct mm *mm = mm_new();
    struct mm_file *f = temp_file(1, O_RDONLY, path, sizeof(path));
    map_file_at(mm, 0, 3, RO, PGD_MAP_PRIVATE, f, 0);
    assert_int_equal(mm_mlock(mm, A(0), PG, 0), 0);
    assert_int_equal(mm_mlock(mm, A(0), 3 * PG, 0), -ENOMEM);
    assert_true(vma_at(mm, 2)->flags & VM_LOCKED);
    assert_int_equal(mm->locked_vm, 3);
    assert_int_equal(mm_mlock(mm, A(0), 3 * PG, PGD_MLOCK_ONFAULT), 0); /* nothing to fault in */
    map_at(mm, 10, 2, RW, SHARED_ANON);
    assert_int_equal(mm_mremap(mm, A(10), 2 * PG, 4 * PG, 0, 0), (long)A(10));
    assert_int_equal(mm_mlock(mm, A(10), 2 * PG, 0), 0);
    assert_int_equal(mm_mlock(mm, A(10), 4 * PG, 0), -ENOMEM);
    assert_int_equal(mm_mlock(mm, A(0), 0, 0), 0);
    mm_file_put(f);
    unlink(path);
    mm_done(mm);
}

/* A multi-VMA FIXED move unmaps only what each moved piece covers: whatever was
 * mapped in the target where the source has gaps stays (a 6.18 host shows the same). */
static void test_mremap_multi_vma_move_keeps_target_gaps(void **state)
{
    (void)state;
    struct mm *mm = mm_new();
    map_at(mm, 0, 2, RW, PRIV_ANON);
    map_at(mm, 3, 2, RO, PRIV_ANON);
    map_at(mm, 6, 2, RW, PRIV_ANON);
    map_at(mm, 20, 10, RO | PGD_PROT_EXEC, PRIV_ANON);
    assert_int_equal(mm_mremap(mm, A(0), 8 * PG, 8 * PG, MAYMOVE | FIXED, A(20)), (long)A(20));
    assert_string_equal(layout(mm, 30), "....................aabccdeeff");
    assert_int_equal(vma_at(mm, 22)->flags & VM_ACCESS_FLAGS, VM_READ | VM_EXEC);
    assert_int_equal(vma_at(mm, 25)->flags & VM_ACCESS_FLAGS, VM_READ | VM_EXEC);
    assert_int_equal(mm->total_vm, 10);
    mm_done(mm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mremap_argument_errors),
        cmocka_unit_test(test_mremap_no_vma_is_efault),
        cmocka_unit_test(test_mremap_map_count_limits),
        cmocka_unit_test(test_mremap_old_len_zero),
        cmocka_unit_test(test_mremap_shrink),
        cmocka_unit_test(test_mremap_grow_in_place),
        cmocka_unit_test(test_mremap_grow_by_moving),
        cmocka_unit_test(test_mremap_move_thp_aligned),
        cmocka_unit_test(test_mremap_growth_limits),
        cmocka_unit_test(test_mremap_special_vmas),
        cmocka_unit_test(test_mremap_merge_after_move),
        cmocka_unit_test(test_mremap_move_next_to_itself),
        cmocka_unit_test(test_mremap_fixed_unmaps_destination),
        cmocka_unit_test(test_mremap_dontunmap),
        cmocka_unit_test(test_mremap_multi_vma_move),
        cmocka_unit_test(test_mremap_moves_page_tables),
        cmocka_unit_test(test_madvise_common_rules),
        cmocka_unit_test(test_madvise_flags_split_and_merge),
        cmocka_unit_test(test_madvise_eagain_at_map_limit),
        cmocka_unit_test(test_mprotect_noop_fast_path),
        cmocka_unit_test(test_madvise_flag_advice_errors),
        cmocka_unit_test(test_madvise_dontneed_and_free),
        cmocka_unit_test(test_madvise_remove_cold_pageout),
        cmocka_unit_test(test_madvise_populate),
        cmocka_unit_test(test_madvise_guard_regions),
        cmocka_unit_test(test_madvise_collapse),
        cmocka_unit_test(test_mlock_split_merge_accounting),
        cmocka_unit_test(test_mlock_limits),
        cmocka_unit_test(test_mlockall),
        cmocka_unit_test(test_msync),
        cmocka_unit_test(test_mincore),
        cmocka_unit_test(test_anon_name_compiled_out),
        cmocka_unit_test(test_anon_name),
        cmocka_unit_test(test_hugetlb_anon_mmap),
        cmocka_unit_test(test_hugetlb_mmap_errors),
        cmocka_unit_test(test_hugetlb_fixed_failures),
        cmocka_unit_test(test_hugetlb_munmap_mprotect),
        cmocka_unit_test(test_hugetlb_mremap),
        cmocka_unit_test(test_hugetlb_madvise_mlock_msync),
        cmocka_unit_test(test_mmap_fixed_failure_leftovers),
        cmocka_unit_test(test_mlock_past_end_of_file),
        cmocka_unit_test(test_mremap_multi_vma_move_keeps_target_gaps),
    };
    return cmocka_run_group_tests_name("mm calls", tests, NULL, NULL);
}
