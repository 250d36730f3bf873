/*
 * The address-space core against Linux's rules: merges and splits drawn as ASCII
 * layouts (one character per page, a new letter at every VMA boundary, '.' for
 * unmapped), placement, errno precedence of mmap/munmap/mprotect/brk, the map-count
 * limit, /proc/PID/maps text and load-maps.  Expected values come from
 * shared/spec/linux-mm-semantics.md (measured on Linux 6.18).
 */
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pagoda/mm.h>

#define BASE 0x10000000ULL
#define P(n) ((uint64_t)(n) * 4096)
#define RW (PGD_PROT_READ | PGD_PROT_WRITE)
#define RO PGD_PROT_READ
#define ANON (PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS)
#define FIXED (ANON | PGD_MAP_FIXED)

struct env {
    struct phys *phys;
    struct mm *mm;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    struct mm_config cfg;
    e->phys = test_phys(0, false);
    mm_config_default(&cfg);
    assert_int_equal(mm_create(e->phys, &cfg, &e->mm), 0);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    if (e->mm) {
        mm_check(e->mm);
        mm_destroy(e->mm);
    }
    test_leak_audit(e->phys);
    phys_destroy(e->phys);
    free(e);
    return 0;
}

/* Map pages [first, first+n) of the test window. */
static long map_at(struct mm *mm, int first, int n, int prot, int extra)
{
    return mm_mmap(mm, BASE + P(first), P(n), (uint64_t)prot, (uint64_t)(FIXED | extra), NULL, 0);
}

/* Shared anonymous pages [first, first+n). */
static long map_shared_at(struct mm *mm, int first, int n)
{
    return mm_mmap(mm, BASE + P(first), P(n), RW, PGD_MAP_SHARED | PGD_MAP_ANONYMOUS | PGD_MAP_FIXED, NULL, 0);
}

/* The window [BASE, BASE + npages) as a string: '.' unmapped, letters per VMA. */
static const char *layout(struct mm *mm, int npages)
{
    static char buf[256];
    char letter = 'a' - 1;
    uint64_t last_start = UINT64_MAX;
    for (int i = 0; i < npages; i++) {
        struct vm_area *v = mm_vma_lookup(mm, BASE + P(i));
        if (!v) {
            buf[i] = '.';
            continue;
        }
        if (vma_start(v) != last_start) {
            letter = letter == 'z' ? 'a' : (char)(letter + 1);
            last_start = vma_start(v);
        }
        buf[i] = letter;
    }
    buf[npages] = '\0';
    return buf;
}

static char *maps_text(struct mm *mm)
{
    static char buf[16384];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    mm_print_maps(mm, f);
    fclose(f);
    return buf;
}

/* ---- merges of a new range ---------------------------------------------------------- */

static void test_merge_new_touching_prev(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    /*  aaa...  then map 3..6:  aaaaaa  */
    map_at(mm, 0, 3, RW, 0);
    map_at(mm, 3, 3, RW, 0);
    assert_string_equal(layout(mm, 8), "aaaaaa..");
    assert_int_equal(mm->map_count, 1);
}

static void test_merge_new_touching_next(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    map_at(mm, 3, 3, RW, 0);
    map_at(mm, 0, 3, RW, 0);
    assert_string_equal(layout(mm, 8), "aaaaaa..");
    /* The merged VMA's pgoff is its new start's page number (anonymous). */
    assert_int_equal(mm_find_vma(mm, BASE)->pgoff, BASE >> 12);
}

static void test_merge_new_touching_both(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    /*  aaa...bbb  then map 3..6:  aaaaaaaaa  */
    map_at(mm, 0, 3, RW, 0);
    map_at(mm, 6, 3, RW, 0);
    assert_string_equal(layout(mm, 10), "aaa...bbb.");
    map_at(mm, 3, 3, RW, 0);
    assert_string_equal(layout(mm, 10), "aaaaaaaaa.");
    assert_int_equal(mm->map_count, 1);
}

static void test_no_merge_incompatible_flags(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    map_at(mm, 0, 3, RW, 0);
    map_at(mm, 3, 3, RO, 0);
    map_at(mm, 6, 2, RW, PGD_MAP_NORESERVE); /* differs by VM_NORESERVE */
    assert_string_equal(layout(mm, 9), "aaabbbcc.");
    /* Shared anonymous maps are distinct shmem files: never merge. */
    map_shared_at(mm, 10, 1);
    map_shared_at(mm, 11, 1);
    assert_string_equal(layout(mm, 13), "aaabbbcc..de.");
}

/* Two areas faulted separately (each its own anon_vma), then the hole between them
 * mapped: it joins the lower one only (spec 7, rule 6). */
static void test_merge_both_incompatible_anon_vmas(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    map_at(mm, 0, 3, RW, PGD_MAP_POPULATE);
    map_at(mm, 4, 3, RW, PGD_MAP_POPULATE);
    assert_non_null(mm_find_vma(mm, BASE)->anon_vma);
    assert_ptr_not_equal(mm_find_vma(mm, BASE)->anon_vma, mm_find_vma(mm, BASE + P(4))->anon_vma);
    map_at(mm, 3, 1, RW, 0);
    assert_string_equal(layout(mm, 8), "aaaabbb.");
    /* The same with nothing written merges into one. */
    map_at(mm, 10, 3, RW, 0);
    map_at(mm, 14, 3, RW, 0);
    map_at(mm, 13, 1, RW, 0);
    assert_string_equal(layout(mm, 18), "aaaabbb...ccccccc.");
}

/* A written, then B mapped adjacent (no anon_vma): one VMA. */
static void test_merge_faulted_with_untouched(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    map_at(mm, 0, 2, RW, PGD_MAP_POPULATE);
    map_at(mm, 2, 2, RW, 0);
    assert_string_equal(layout(mm, 5), "aaaa.");
}

/* ---- splits --------------------------------------------------------------------------- */

static void test_mprotect_split_and_remerge(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    map_at(mm, 0, 9, RW, 0);
    /*  aaaaaaaaa  ->  aaabbbccc  ->  aaaaaaaaa  */
    assert_int_equal(mm_mprotect(mm, BASE + P(3), P(3), RO), 0);
    assert_string_equal(layout(mm, 9), "aaabbbccc");
    assert_int_equal(mm->map_count, 3);
    /* The read-only middle of an unfaulted anonymous VMA drops VM_ACCOUNT. */
    assert_int_equal(mm_find_vma(mm, BASE + P(3))->flags & VM_ACCOUNT, 0);
    assert_int_equal(mm_mprotect(mm, BASE + P(3), P(3), RW), 0);
    assert_string_equal(layout(mm, 9), "aaaaaaaaa");
    /* Head and tail splits merge back too. */
    assert_int_equal(mm_mprotect(mm, BASE, P(2), RO), 0);
    assert_string_equal(layout(mm, 9), "aabbbbbbb");
    assert_int_equal(mm_mprotect(mm, BASE + P(7), P(2), RO), 0);
    assert_string_equal(layout(mm, 9), "aabbbbbcc");
    /* Extending a changed piece over its neighbour moves the boundary. */
    assert_int_equal(mm_mprotect(mm, BASE + P(2), P(1), RO), 0);
    assert_string_equal(layout(mm, 9), "aaabbbbcc");
    assert_int_equal(mm->map_count, 3);
}

static void test_mprotect_across_vmas_and_holes(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    map_at(mm, 0, 2, RW, 0);
    map_at(mm, 2, 2, RO, 0);
    map_at(mm, 5, 2, RW, 0);
    /*  aabb.cc  mprotect 0..7 RO: the part before the hole changes, then ENOMEM  */
    assert_int_equal(mm_mprotect(mm, BASE, P(7), RO), -ENOMEM);
    assert_string_equal(layout(mm, 8), "aaaa.bb.");
    assert_int_equal(mm_find_vma(mm, BASE + P(5))->flags & VM_WRITE, VM_WRITE);
    /* No VMA at start: ENOMEM, nothing changed. */
    assert_int_equal(mm_mprotect(mm, BASE + P(4), P(2), RW), -ENOMEM);
    assert_int_equal(mm_find_vma(mm, BASE + P(5))->flags & VM_WRITE, VM_WRITE);
}

static void test_munmap_splits(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    map_at(mm, 0, 10, RW, 0);
    assert_int_equal(mm_munmap(mm, BASE + P(4), P(2)), 0);
    assert_string_equal(layout(mm, 10), "aaaa..bbbb");
    assert_int_equal(mm_munmap(mm, BASE, P(1)), 0);
    assert_string_equal(layout(mm, 10), ".aaa..bbbb");
    assert_int_equal(mm_munmap(mm, BASE + P(9), 1), 0); /* length rounded up */
    assert_string_equal(layout(mm, 10), ".aaa..bbb.");
    /* Spanning both VMAs and the hole between them. */
    assert_int_equal(mm_munmap(mm, BASE + P(2), P(5)), 0);
    assert_string_equal(layout(mm, 10), ".a.....bb.");
    /* Nothing mapped there: still success. */
    assert_int_equal(mm_munmap(mm, BASE + P(20), P(3)), 0);
    assert_int_equal(mm->total_vm, 3);
}

static void test_munmap_errors(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    assert_int_equal(mm_munmap(mm, BASE + 1, P(1)), -EINVAL);
    assert_int_equal(mm_munmap(mm, BASE, 0), -EINVAL);
    assert_int_equal(mm_munmap(mm, 0x800000000000ULL, P(1)), -EINVAL);
    assert_int_equal(mm_munmap(mm, 0x7ffffffff000ULL - P(1), P(3)), -EINVAL);
    assert_int_equal(mm_munmap(mm, 0x7ffffffff000ULL - P(1), P(1)), 0);
}

/* vm.max_map_count: new mmaps are refused only when map_count > max (so max+1 VMAs
 * are reachable), splits when map_count >= max. */
static void test_max_map_count_boundary(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    mm->cfg.max_map_count = 4;
    for (int i = 0; i < 5; i++)
        assert_int_equal(map_at(mm, 2 * i, 1, i % 2 ? RO : RW, 0), (long)(BASE + P(2 * i)));
    assert_int_equal(mm->map_count, 5);
    assert_int_equal(map_at(mm, 12, 1, RW, 0), -ENOMEM);
    assert_int_equal(mm_munmap(mm, BASE + P(8), P(1)), 0);
    map_at(mm, 8, 3, RW, 0);
    assert_string_equal(layout(mm, 12), "a.b.c.d.eee.");
    /* A three-way split at the limit is refused; cutting a head or tail is not. */
    assert_int_equal(mm_munmap(mm, BASE + P(9), P(1)), -ENOMEM);
    assert_int_equal(mm_mprotect(mm, BASE + P(9), P(1), RO), -ENOMEM);
    assert_string_equal(layout(mm, 12), "a.b.c.d.eee.");
    assert_int_equal(mm_munmap(mm, BASE + P(10), P(1)), 0);
    assert_string_equal(layout(mm, 12), "a.b.c.d.ee..");
}

/* ---- placement -------------------------------------------------------------------------- */

static void test_topdown_placement(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    assert_int_equal(mm->mmap_base, 0x7ffff7fff000ULL);
    long a = mm_mmap(mm, 0, P(1), RW, ANON, NULL, 0);
    assert_int_equal(a, 0x7ffff7ffe000L);
    long b = mm_mmap(mm, 0, P(2), RO, ANON, NULL, 0);
    assert_int_equal(b, 0x7ffff7ffc000L);
    /* Hole-filling: unmap a, the next one-page map goes back there. */
    assert_int_equal(mm_munmap(mm, (uint64_t)a, P(1)), 0);
    assert_int_equal(mm_mmap(mm, 0, P(1), RW, ANON, NULL, 0), a);
    /* 2 MiB multiples are 2 MiB aligned; 3 MiB and 2 MiB + 4 KiB are not. */
    long c = mm_mmap(mm, 0, 2 << 20, RW, ANON, NULL, 0);
    assert_int_equal(c, 0x7ffff7c00000L);
    long d = mm_mmap(mm, 0, 3 << 20, RW, ANON, NULL, 0);
    assert_int_equal(d, 0x7ffff7c00000L - (3L << 20));
    long e = mm_mmap(mm, 0, (2 << 20) + 4096, RW, ANON, NULL, 0);
    assert_int_equal(e, d - (2L << 20) - 4096);
}

static void test_hints(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    /* A free hint is used as given (rounded down to a page). */
    assert_int_equal(mm_mmap(mm, 0x200000123ULL, P(1), RW, ANON, NULL, 0), 0x200000000L);
    /* A taken hint falls back to the top-down search. */
    assert_int_equal(mm_mmap(mm, 0x200000000ULL, P(1), RO, ANON, NULL, 0), 0x7ffff7ffe000L);
    /* Below mmap_min_addr: raised to 0x10000. */
    assert_int_equal(mm_mmap(mm, 0x5000, P(1), RW, ANON, NULL, 0), 0x10000L);
    /* Above 47 bits on 4-level paging: ignored. */
    assert_int_equal(mm_mmap(mm, 0x800000000000ULL, P(1), RW, ANON, NULL, 0), 0x7ffff7ffd000L);
    /* A hint ending inside a growsdown VMA's guard gap is not honoured ... */
    long stack = mm_mmap(mm, 0x300000000ULL, P(4), RW, ANON | PGD_MAP_GROWSDOWN, NULL, 0);
    assert_int_equal(stack, 0x300000000L);
    assert_int_equal(mm_mmap(mm, 0x300000000ULL - P(10), P(1), RW, ANON, NULL, 0), 0x7ffff7ffc000L);
    /* ... but MAP_FIXED_NOREPLACE may map there. */
    assert_int_equal(mm_mmap(mm, 0x300000000ULL - P(10), P(1), RW, ANON | PGD_MAP_FIXED_NOREPLACE, NULL, 0),
                     0x300000000L - (long)P(10));
    /* Exactly 256 pages below is outside the gap. */
    assert_int_equal(mm_mmap(mm, 0x300000000ULL - P(257), P(1), RO, ANON, NULL, 0), 0x300000000L - (long)P(257));
}

/* ---- mmap errno precedence (spec 1.2) -------------------------------------------------------- */

static void test_mmap_errors(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    assert_int_equal(mm_mmap(mm, 0, 0, RW, ANON, NULL, 0), -EINVAL);
    assert_int_equal(mm_mmap(mm, 0, UINT64_MAX - 100, RW, ANON, NULL, 0), -ENOMEM);
    assert_int_equal(mm_mmap(mm, 0, 1ULL << 48, RW, ANON, NULL, 0), -ENOMEM);
    assert_int_equal(mm_mmap(mm, BASE + 1, P(1), RW, FIXED, NULL, 0), -EINVAL);
    assert_int_equal(mm_mmap(mm, 0x7ffffffff000ULL, P(1), RW, FIXED, NULL, 0), -ENOMEM);
    assert_int_equal(mm_mmap(mm, 0, P(1), RW, PGD_MAP_ANONYMOUS, NULL, 0), -EINVAL); /* no type */
    assert_int_equal(mm_mmap(mm, 0, P(1), RW, PGD_MAP_SHARED_VALIDATE | PGD_MAP_ANONYMOUS, NULL, 0), -EINVAL);
    assert_int_equal(mm_mmap(mm, 0, P(1), RW, PGD_MAP_SHARED | PGD_MAP_ANONYMOUS | PGD_MAP_GROWSDOWN, NULL, 0),
                     -EINVAL);
    assert_int_equal(mm_mmap(mm, 0, P(1), RW, FIXED, NULL, 0), -EPERM); /* address 0, unprivileged */
    assert_int_equal(map_at(mm, 0, 2, RW, 0), (long)BASE);
    assert_int_equal(mm_mmap(mm, BASE + P(1), P(4), RW, ANON | PGD_MAP_FIXED_NOREPLACE, NULL, 0), -EEXIST);
    assert_int_equal(mm_mmap(mm, 0, P(1), RW, ANON | PGD_MAP_HUGETLB, NULL, 0), -ENOMEM); /* empty pool */
    assert_int_equal(mm_mmap(mm, 0, P(1), RW, ANON | PGD_MAP_HUGETLB | (25u << PGD_MAP_HUGE_SHIFT), NULL, 0),
                     -EINVAL);
    /* Unknown prot and flag bits are ignored. */
    assert_int_equal(mm_mmap(mm, 0, P(1), RW | 0x100, ANON | 0x400000, NULL, 0), 0x7ffff7ffe000L);
    /* MAP_LOCKED: no limit at all is EPERM; over the limit EAGAIN. */
    mm->cfg.rlimit_memlock = 0;
    assert_int_equal(mm_mmap(mm, 0, P(1), RW, ANON | PGD_MAP_LOCKED, NULL, 0), -EPERM);
    mm->cfg.rlimit_memlock = P(2);
    assert_int_equal(mm_mmap(mm, 0, P(3), RW, ANON | PGD_MAP_LOCKED, NULL, 0), -EAGAIN);
    assert_int_equal(mm_mmap(mm, 0, P(2), RW, ANON | PGD_MAP_LOCKED, NULL, 0), 0x7ffff7ffc000L);
    assert_int_equal(mm->locked_vm, 2);
}

static void test_mmap_flags_to_vm_flags(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    map_at(mm, 0, 1, RW, 0);
    map_at(mm, 2, 1, RO, 0);
    map_at(mm, 4, 1, RW, PGD_MAP_NORESERVE);
    map_at(mm, 6, 1, RW, PGD_MAP_STACK);
    map_at(mm, 8, 1, RW, PGD_MAP_GROWSDOWN);
    map_shared_at(mm, 10, 1);
    const uint64_t may = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
    assert_int_equal(mm_find_vma(mm, BASE)->flags, VM_READ | VM_WRITE | may | VM_ACCOUNT);
    assert_int_equal(mm_find_vma(mm, BASE + P(2))->flags, VM_READ | may);
    assert_int_equal(mm_find_vma(mm, BASE + P(4))->flags, VM_READ | VM_WRITE | may | VM_NORESERVE);
    assert_int_equal(mm_find_vma(mm, BASE + P(6))->flags, VM_READ | VM_WRITE | may | VM_ACCOUNT | VM_NOHUGEPAGE);
    assert_int_equal(mm_find_vma(mm, BASE + P(8))->flags, VM_READ | VM_WRITE | may | VM_ACCOUNT | VM_GROWSDOWN);
    assert_int_equal(mm_find_vma(mm, BASE + P(10))->flags, VM_READ | VM_WRITE | may | VM_SHARED | VM_MAYSHARE);
    assert_int_equal(mm->total_vm, 6);
    assert_int_equal(mm->data_vm, 3);
    assert_int_equal(mm->stack_vm, 1);
}

/* ---- file mappings ------------------------------------------------------------------------------ */

static void test_file_mapping_rules(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    int err = 0;
    struct mm_file *ro = mm_file_open("/etc/passwd", O_RDONLY, &err);
    assert_non_null(ro);
    /* Shared writable map of a read-only descriptor: EACCES; read-only shared: 's'
     * without VM_SHARED and VM_MAYWRITE. */
    assert_int_equal(mm_mmap(mm, 0, P(1), RW, PGD_MAP_SHARED, ro, 0), -EACCES);
    long a = mm_mmap(mm, 0, P(1), RO, PGD_MAP_SHARED, ro, 0);
    assert_true(a > 0);
    struct vm_area *v = mm_find_vma(mm, (uint64_t)a);
    assert_int_equal(v->flags, VM_READ | VM_MAYREAD | VM_MAYEXEC | VM_MAYSHARE);
    /* mprotect to writable is then EACCES. */
    assert_int_equal(mm_mprotect(mm, (uint64_t)a, P(1), RW), -EACCES);
    /* Unknown flags with MAP_SHARED_VALIDATE: EOPNOTSUPP; with MAP_SHARED ignored. */
    assert_int_equal(mm_mmap(mm, 0, P(1), RO, PGD_MAP_SHARED_VALIDATE | 0x400000, ro, 0), -EOPNOTSUPP);
    assert_true(mm_mmap(mm, 0, P(1), RO, PGD_MAP_SHARED | 0x400000, ro, 0) > 0);
    /* GROWSDOWN with a file: EINVAL. */
    assert_int_equal(mm_mmap(mm, 0, P(1), RO, PGD_MAP_PRIVATE | PGD_MAP_GROWSDOWN, ro, 0), -EINVAL);
    /* The same file at consecutive offsets merges; an offset jump does not. */
    assert_int_equal(mm_mmap(mm, BASE, P(1), RO, PGD_MAP_PRIVATE | PGD_MAP_FIXED, ro, 0), (long)BASE);
    assert_int_equal(mm_mmap(mm, BASE + P(1), P(1), RO, PGD_MAP_PRIVATE | PGD_MAP_FIXED, ro, 1), (long)(BASE + P(1)));
    assert_int_equal(mm_mmap(mm, BASE + P(2), P(1), RO, PGD_MAP_PRIVATE | PGD_MAP_FIXED, ro, 5), (long)(BASE + P(2)));
    assert_string_equal(layout(mm, 4), "aab.");
    /* The same inode opened twice is another file: no merge. */
    struct mm_file *again = mm_file_open("/etc/passwd", O_RDONLY, &err);
    assert_int_equal(mm_mmap(mm, BASE + P(3), P(1), RO, PGD_MAP_PRIVATE | PGD_MAP_FIXED, again, 6), (long)(BASE + P(3)));
    assert_string_equal(layout(mm, 5), "aabc.");
    /* A write-only descriptor cannot be mapped at all. */
    struct mm_file *wo = mm_file_open("/tmp", O_RDONLY | O_DIRECTORY, &err);
    assert_non_null(wo);
    assert_int_equal(mm_mmap(mm, 0, P(1), RO, PGD_MAP_PRIVATE, wo, 0), -ENODEV);
    mm_file_put(wo);
    mm_file_put(again);
    mm_file_put(ro);
}

/* ---- brk ------------------------------------------------------------------------------------------ */

static void test_brk(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    mm->start_brk = mm->brk = 0x555555559000ULL;
    assert_int_equal(mm_brk(mm, 0), 0x555555559000L); /* query: current break */
    assert_int_equal(mm_brk(mm, 0x555555558000ULL), 0x555555559000L);
    assert_int_equal(mm_brk(mm, 0x55555557a123ULL), 0x55555557a123L); /* exact value kept */
    assert_string_equal(maps_text(mm), "555555559000-55555557b000 rw-p 00000000 00:00 0                          [heap]\n"
                                       "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n");
    /* Growing must leave a free page below the next mapping. */
    assert_int_equal(mm_mmap(mm, 0x55555557d000ULL, P(1), RO, FIXED, NULL, 0), 0x55555557d000L);
    assert_int_equal(mm_brk(mm, 0x55555557c001ULL), 0x55555557a123L);
    assert_int_equal(mm_brk(mm, 0x55555557c000ULL), 0x55555557c000L);
    /* Shrinking always works; back to start_brk leaves no heap VMA. */
    assert_int_equal(mm_brk(mm, 0x555555559000ULL), 0x555555559000L);
    assert_null(mm_vma_lookup(mm, 0x555555559000ULL));
    /* An adjacent anonymous mmap merges into the heap, still named [heap]. */
    assert_int_equal(mm_brk(mm, 0x55555555a000ULL), 0x55555555a000L);
    assert_int_equal(mm_mmap(mm, 0x55555555a000ULL, P(1), RW, FIXED, NULL, 0), 0x55555555a000L);
    assert_int_equal(mm_find_vma(mm, 0x555555559000ULL)->node.end, 0x55555555b000ULL);
    assert_non_null(strstr(maps_text(mm), "555555559000-55555555b000 rw-p 00000000 00:00 0                          [heap]"));
}

/* ---- maps text ------------------------------------------------------------------------------------- */

static void test_maps_format(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    int err;
    struct mm_file *f = mm_file_open("/etc/passwd", O_RDONLY, &err);
    assert_int_equal(mm_mmap(mm, BASE, P(1), RO, PGD_MAP_PRIVATE | PGD_MAP_FIXED, f, 0), (long)BASE);
    map_at(mm, 1, 1, RW, 0);
    map_shared_at(mm, 2, 1);
    map_shared_at(mm, 3, 1);
    char first[128], expect[2048];
    /* The name starts at column 73: the prefix is padded to 72 characters, then one space. */
    int n = snprintf(first, sizeof(first), "10000000-10001000 r--p 00000000 %02x:%02x %llu ", f->dev_major, f->dev_minor,
                     (unsigned long long)f->ino);
    snprintf(expect, sizeof(expect),
             "%s%*s/etc/passwd\n"
             "10001000-10002000 rw-p 00000000 00:00 0 \n"
             "10002000-10003000 rw-s 00000000 00:01 1                                  /dev/zero (deleted)\n"
             "10003000-10004000 rw-s 00000000 00:01 2                                  /dev/zero (deleted)\n"
             "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n",
             first, 73 - n, "");
    assert_string_equal(maps_text(mm), expect);
    mm_file_put(f);
}

static void test_load_maps_round_trip(void **state)
{
    struct mm *mm = ((struct env *)*state)->mm;
    const char *listing =
        "555555554000-555555556000 r--p 00000000 fe:01 1234                       /usr/bin/nonexistent-pagoda\n"
        "555555556000-55555555a000 r-xp 00002000 fe:01 1234                       /usr/bin/nonexistent-pagoda\n"
        "55555555b000-55555555c000 rw-p 00006000 fe:01 1234                       /usr/bin/nonexistent-pagoda\n"
        "55555555c000-55555557d000 rw-p 00000000 00:00 0                          [heap]\n"
        "7ffff7fbd000-7ffff7fc1000 r--p 00000000 00:00 0                          [vvar]\n"
        "7ffff7fc1000-7ffff7fc3000 r--p 00000000 00:00 0                          [vvar_vclock]\n"
        "7ffff7fc3000-7ffff7fc5000 r-xp 00000000 00:00 0                          [vdso]\n"
        "7ffff7fc5000-7ffff7fc6000 rw-p 00000000 00:00 0 \n"
        "7ffff7fc6000-7ffff7fc7000 rw-p 00000000 00:00 0 \n"
        "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n"
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";
    char err[128] = "";
    assert_int_equal(mm_load_maps(mm, listing, err, sizeof(err)), 0);
    assert_string_equal(maps_text(mm), listing);
    assert_int_equal(mm->start_brk, 0x55555555c000ULL);
    /* The two touched anonymous areas keep apart; a new map next to the stack is placed below mmap_base. */
    assert_int_equal(mm->map_count, 10);
    assert_int_equal(mm_brk(mm, 0), 0x55555557d000L);
    assert_int_equal(mm_mmap(mm, 0, P(1), RW, ANON, NULL, 0), 0x7ffff7ffe000L);
    /* Errors name the line. */
    assert_int_equal(mm_load_maps(mm, "00400000-00401000 r--p\n", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "line 1: expected 'START-END PERMS OFFSET MAJ:MIN INODE [NAME]'");
}


/* With randomization on, mmap_base moves down by the 16 GiB stack pad plus up to 2^28
 * random pages; the same seed gives the same layout, another seed another. */
static void test_randomized_mmap_base(void **state)
{
    struct env *e = *state;
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.randomize = true;
    uint64_t bases[3];
    const uint64_t seeds[3] = {1, 1, 2};
    for (int i = 0; i < 3; i++) {
        struct mm *mm;
        cfg.seed = seeds[i];
        assert_int_equal(mm_create(e->phys, &cfg, &mm), 0);
        bases[i] = mm->mmap_base;
        uint64_t top = 0x7ffffffff000ULL - (8ULL << 20) - (256ULL << 12) - (0x3fffffULL << 12);
        assert_true(bases[i] <= top && bases[i] > top - (1ULL << 40));
        assert_int_equal(bases[i] & 0xfff, 0);
        assert_int_equal(mm_mmap(mm, 0, P(1), RW, ANON, NULL, 0), (long)(bases[i] - P(1)));
        mm_destroy(mm);
    }
    assert_int_equal(bases[0], bases[1]);
    assert_int_not_equal(bases[0], bases[2]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_merge_new_touching_prev, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_new_touching_next, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_new_touching_both, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_merge_incompatible_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_both_incompatible_anon_vmas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_faulted_with_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mprotect_split_and_remerge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mprotect_across_vmas_and_holes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_munmap_splits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_munmap_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_map_count_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topdown_placement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmap_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmap_flags_to_vm_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_mapping_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_brk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maps_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_maps_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_randomized_mmap_base, setup, teardown),
    };
    return cmocka_run_group_tests_name("mm", tests, NULL, NULL);
}
