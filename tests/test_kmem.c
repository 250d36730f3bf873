/*
 * The kernel half: init_mm's layout shared by reference into every process, kmalloc's
 * slabs, vmalloc, user and kernel accesses to kernel addresses, the accounting and the
 * leak audit.  Every test ends with the kernel half's audit and the frame audit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"

#include <pagoda/kernel.h>
#include <pagoda/kmem.h>

#define DIRECT_4L 0xffff888000000000ULL
#define VMALLOC_4L 0xffffc90000000000ULL
#define VMEMMAP_4L 0xffffea0000000000ULL

static struct kernel *boot_with(const char *key, const char *value)
{
    struct kernel_config cfg;
    struct kernel *k = NULL;
    char err[128];
    kernel_config_default(&cfg);
    if (key)
        assert_int_equal(kernel_config_set(&cfg, key, value, err, sizeof(err)), 0);
    assert_int_equal(kernel_create(&cfg, &k), 0);
    return k;
}

/* The leaf mapping va in pt: its entry, or 0 when nothing maps it. */
static pte_t leaf_of(const struct pgtable *pt, uint64_t va)
{
    pte_t e = 0;
    int level;
    return pt_lookup(pt, va, &e, &level) ? 0 : e;
}

/* Physical address of kernel va through init_mm's table (the MMU's view), or ~0. */
static paddr_t kphys(struct phys *phys, uint64_t va)
{
    pte_t e;
    int level;
    if (pt_lookup(kmem_init_pgtable(phys), va, &e, &level))
        return ~0ULL;
    uint64_t size = pt_level_size(level);
    return pte_addr(e, level, true) + (va & (size - 1));
}

static void test_layout_4_level(void **state)
{
    (void)state;
    struct kernel *k = test_boot();
    const struct kmem_layout *l = kmem_layout(k->phys);
    assert_non_null(l);
    assert_int_equal(l->page_offset_base, DIRECT_4L);
    assert_int_equal(l->vmalloc_start, VMALLOC_4L);
    assert_int_equal(l->vmemmap_base, VMEMMAP_4L);
    struct pgtable *init = kmem_init_pgtable(k->phys);
    /* 256 MiB: 2 MiB leaves, supervisor-only, global, NX, A and D preset. */
    pte_t e;
    int level;
    assert_int_equal(pt_lookup(init, DIRECT_4L + (100ULL << 20) + 5, &e, &level), 0);
    assert_int_equal(level, PT_LEVEL_PMD);
    assert_int_equal(e & ~PTE_ADDR_MASK, PTE_P | PTE_RW | PTE_A | PTE_D | PTE_PS | PTE_G | PTE_NX);
    assert_int_equal(kphys(k->phys, DIRECT_4L + (100ULL << 20) + 5), (100ULL << 20) + 5);
    assert_int_equal(kmem_pa(k->phys, kmem_va(k->phys, 0x1234000)), 0x1234000);
    /* The last byte of RAM is mapped, the next is not. */
    assert_int_equal(kphys(k->phys, DIRECT_4L + (256ULL << 20) - 1), (256ULL << 20) - 1);
    assert_int_equal(kphys(k->phys, DIRECT_4L + (256ULL << 20)), ~0ULL);
    /* vmemmap: 64 bytes per frame, 2 MiB leaves: 65536 frames need 4 MiB. */
    assert_int_equal(kmem_page_to_vmemmap(k->phys, 65535), VMEMMAP_4L + 65535 * 64);
    assert_int_equal(pt_lookup(init, VMEMMAP_4L + 65535 * 64, &e, &level), 0);
    assert_int_equal(level, PT_LEVEL_PMD);
    assert_int_not_equal(pt_lookup(init, VMEMMAP_4L + (4ULL << 20), &e, &level), 0);
    /* The image: text ROX, rodata RO NX, data RW NX. */
    assert_int_equal(leaf_of(init, KMEM_START_KERNEL) & ~PTE_ADDR_MASK, PTE_P | PTE_A | PTE_G);
    assert_int_equal(leaf_of(init, KMEM_START_KERNEL + 4 * PAGE_SIZE) & ~PTE_ADDR_MASK,
                     PTE_P | PTE_A | PTE_G | PTE_NX);
    assert_int_equal(leaf_of(init, KMEM_START_KERNEL + 6 * PAGE_SIZE) & ~PTE_ADDR_MASK,
                     PTE_P | PTE_RW | PTE_A | PTE_D | PTE_G | PTE_NX);
    assert_int_equal(kphys(k->phys, KMEM_START_KERNEL), kmem_image_pa(k->phys));
    /* [vsyscall] is xonly: nothing mapped. */
    assert_int_equal(leaf_of(init, KMEM_VSYSCALL_ADDR), 0);
    /* Every kernel top-level entry has its table, without US. */
    for (unsigned i = 256; i < 512; i++) {
        pte_t *top = phys_host(k->phys, init->root + i * 8);
        assert_int_equal(*top & ~PTE_ADDR_MASK, PTE_P | PTE_RW | PTE_A | PTE_D);
    }
    test_kernel_teardown(k);
}

static void test_same_translation_in_every_process(void **state)
{
    (void)state;
    struct kernel *k = test_boot();
    struct process *p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = kernel_new_process(k, 0);
        assert_non_null(p[i]);
        assert_int_equal(p[i]->mm->pt.table_frames, 1); /* VmPTE: only its own root */
    }
    uint64_t v = kmem_vmalloc(k->phys, 3 * PAGE_SIZE); /* after the processes exist */
    uint64_t km = kmem_kmalloc(k->phys, 200);
    assert_int_equal(v, VMALLOC_4L);
    const uint64_t addrs[] = {DIRECT_4L, DIRECT_4L + 0x123456, km, VMEMMAP_4L + 4096, KMEM_START_KERNEL,
                              KMEM_START_KERNEL + 6 * PAGE_SIZE, v, v + 2 * PAGE_SIZE, v + 3 * PAGE_SIZE};
    struct pgtable *init = kmem_init_pgtable(k->phys);
    for (size_t a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++) {
        struct pt_trace want;
        pt_trace(init, addrs[a], &want);
        for (int i = 0; i < 3; i++) {
            struct pt_trace got;
            pt_trace(&p[i]->mm->pt, addrs[a], &got);
            assert_int_equal(got.result, want.result);
            assert_int_equal(got.nsteps, want.nsteps);
            for (int s = 1; s < got.nsteps; s++) { /* below the top level: the very same tables */
                assert_int_equal(got.step[s].table, want.step[s].table);
                assert_int_equal(got.step[s].entry, want.step[s].entry);
            }
            assert_int_equal(got.step[0].entry, want.step[0].entry);
            assert_int_not_equal(got.step[0].table, want.step[0].table); /* each its own root */
        }
    }
    /* The guard page after the vmalloc area is not mapped, in any process. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(leaf_of(&p[i]->mm->pt, v + 3 * PAGE_SIZE), 0);
    /* Kernel-mode accesses see the area from every process; a write in one is read
     * in another (same frames). */
    struct kernel_oops oops;
    for (int i = 0; i < 3; i++)
        assert_int_equal(kernel_kernel_access(k, p[i], v, 3 * PAGE_SIZE, 'w', &oops), 0);
    assert_int_equal(kernel_kernel_access(k, p[1], v + 3 * PAGE_SIZE, 1, 'r', &oops), -EFAULT);
    assert_int_equal(oops.vector, VEC_PF);
    assert_int_equal(oops.error_code, 0); /* supervisor read, not present */
    assert_int_equal(oops.addr, v + 3 * PAGE_SIZE);
    /* A fork shares it too, and a vfree is gone for all. */
    long child = kernel_clone(k, p[0], 17, 17, 0);
    assert_true(child > 0);
    assert_int_equal(leaf_of(&kernel_find(k, (int)child)->mm->pt, v), leaf_of(init, v));
    assert_int_equal(kmem_vfree(k->phys, v), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(leaf_of(&p[i]->mm->pt, v), 0);
    assert_int_equal(kernel_kernel_access(k, p[2], v, 1, 'r', &oops), -EFAULT);
    assert_int_equal(kmem_kfree(k->phys, km), 0);
    for (int i = 0; i < 3; i++)
        mm_check(p[i]->mm);
    test_kernel_teardown(k);
}

static void test_user_access_to_kernel_faults(void **state)
{
    (void)state;
    struct kernel *k = test_boot();
    struct process *p = kernel_new_process(k, 0);
    int signo, code;
    const struct {
        uint64_t addr;
        int kind;
        uint32_t ec;
    } cases[] = {
        {DIRECT_4L, 'r', PF_P | PF_U},
        {DIRECT_4L + 8, 'w', PF_P | PF_U | PF_W},
        {DIRECT_4L, 'x', PF_P | PF_U | PF_I},
        {KMEM_START_KERNEL, 'r', PF_P | PF_U},
        {VMEMMAP_4L, 'r', PF_P | PF_U},
        {KMEM_VSYSCALL_ADDR, 'r', PF_U}, /* xonly: a data read finds nothing mapped */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(kernel_user_access(k, p, cases[i].addr, 1, cases[i].kind, NULL, NULL, &signo, &code),
                         PGD_SIGSEGV);
        assert_int_equal(code, PGD_SEGV_MAPERR);
        assert_int_equal(k->cpu.last_trap.vector, VEC_PF);
        assert_int_equal(k->cpu.last_trap.error_code, cases[i].ec);
        assert_int_equal(k->cpu.last_trap.cr2, cases[i].addr);
    }
    /* A call into [vsyscall] at an entry point is emulated; elsewhere SI_KERNEL. */
    assert_int_equal(kernel_user_access(k, p, KMEM_VSYSCALL_ADDR + 0x400, 1, 'x', NULL, NULL, &signo, &code), 0);
    assert_int_equal(kernel_user_access(k, p, KMEM_VSYSCALL_ADDR + 0x100, 1, 'x', NULL, NULL, &signo, &code),
                     PGD_SIGSEGV);
    assert_int_equal(code, PGD_SI_KERNEL);
    test_kernel_teardown(k);
}

static void test_kernel_mode_protection(void **state)
{
    (void)state;
    struct kernel *k = boot_with("smap", "on");
    struct process *p = kernel_new_process(k, 0);
    struct kernel_oops oops;
    /* NX on kernel data, RX text, read-only rodata. */
    assert_int_equal(kernel_kernel_access(k, p, DIRECT_4L, 1, 'x', &oops), -EFAULT);
    assert_int_equal(oops.error_code, PF_P | PF_I);
    assert_int_equal(kernel_kernel_access(k, p, KMEM_START_KERNEL, 1, 'x', &oops), 0);
    assert_int_equal(kernel_kernel_access(k, p, KMEM_START_KERNEL, 1, 'w', &oops), -EFAULT);
    assert_int_equal(oops.error_code, PF_P | PF_W);
    assert_int_equal(kernel_kernel_access(k, p, KMEM_START_KERNEL + 4 * PAGE_SIZE, 1, 'w', &oops), -EFAULT);
    assert_int_equal(kernel_kernel_access(k, p, KMEM_START_KERNEL + 6 * PAGE_SIZE, 1, 'w', &oops), 0);
    /* SMAP: a present user page is off limits to the kernel (AC clear). */
    long a = test_sys(k, p, NR_mmap, 0, PAGE_SIZE, 3, 0x22, (uint64_t)-1, 0);
    int signo, code;
    assert_int_equal(kernel_user_access(k, p, (uint64_t)a, 1, 'w', NULL, NULL, &signo, &code), 0);
    assert_int_equal(kernel_kernel_access(k, p, (uint64_t)a, 1, 'r', &oops), -EFAULT);
    assert_int_equal(oops.error_code, PF_P);
    /* Non-canonical: #GP. */
    assert_int_equal(kernel_kernel_access(k, p, 0x0000900000000000ULL, 1, 'r', &oops), -EFAULT);
    assert_int_equal(oops.vector, VEC_GP);
    test_kernel_teardown(k);

    /* Without SMAP the kernel reaches user memory, faulting it in like copy_to_user. */
    k = test_boot();
    p = kernel_new_process(k, 0);
    a = test_sys(k, p, NR_mmap, 0, PAGE_SIZE, 3, 0x22, (uint64_t)-1, 0);
    assert_int_equal(kernel_kernel_access(k, p, (uint64_t)a, 1, 'w', &oops), 0);
    assert_int_equal(p->mm->rss[MM_ANONPAGES] >= 0, 1);
    test_kernel_teardown(k);
}

static void test_kmalloc_contiguous_vmalloc_not(void **state)
{
    (void)state;
    struct kernel *k = test_boot();
    struct phys *phys = k->phys;
    /* kmalloc: one physically contiguous range through the direct map. */
    uint64_t sizes[] = {4096, 8192, 12288, 100000};
    uint64_t objs[4];
    for (int i = 0; i < 4; i++) {
        objs[i] = kmem_kmalloc(phys, sizes[i]);
        assert_true(objs[i] >= DIRECT_4L);
        for (uint64_t off = 0; off < sizes[i]; off += PAGE_SIZE)
            assert_int_equal(kphys(phys, objs[i] + off), kmem_pa(phys, objs[i]) + off);
    }
    /* vmalloc: virtually contiguous, built page by page: freed frames come back in
     * LIFO order, so after a fragmenting pair of vfree()s the pages are not. */
    uint64_t v1 = kmem_vmalloc(phys, PAGE_SIZE), v2 = kmem_vmalloc(phys, PAGE_SIZE),
             v3 = kmem_vmalloc(phys, PAGE_SIZE);
    assert_int_equal(v2, v1 + 2 * PAGE_SIZE); /* a guard page between */
    assert_int_equal(v3, v2 + 2 * PAGE_SIZE);
    pfn_t f1, f3, a, b;
    assert_int_equal(kmem_vmalloc_to_pfn(phys, v1, &f1), 0);
    assert_int_equal(kmem_vmalloc_to_pfn(phys, v3, &f3), 0);
    assert_int_equal(kmem_vfree(phys, v1), 0);
    assert_int_equal(kmem_vfree(phys, v3), 0);
    uint64_t v = kmem_vmalloc(phys, 2 * PAGE_SIZE);
    assert_int_equal(v, v3); /* the lowest gap that fits 3 pages: v1's 2 do not */
    assert_int_equal(kmem_vmalloc_to_pfn(phys, v, &a), 0);
    assert_int_equal(kmem_vmalloc_to_pfn(phys, v + PAGE_SIZE, &b), 0);
    assert_int_equal(a, f1); /* the two freed frames, 32 frames apart */
    assert_int_equal(b, f3);
    assert_int_equal(b - a, 0x20);
    assert_int_not_equal(b, a + 1);
    assert_int_equal(kphys(phys, v + PAGE_SIZE + 5), (b << PAGE_SHIFT) + 5);
    assert_int_equal(kmem_vmalloc_to_pfn(phys, v + 2 * PAGE_SIZE, &a), -EFAULT); /* guard */
    assert_int_equal(kmem_vfree(phys, v + PAGE_SIZE), -EINVAL);
    assert_int_equal(kmem_vfree(phys, v), 0);
    assert_int_equal(kmem_vfree(phys, v2), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(kmem_kfree(phys, objs[i]), 0);
    test_kernel_teardown(k);
}

static void test_slab_reuse_and_size_classes(void **state)
{
    (void)state;
    struct kernel *k = test_boot();
    struct phys *phys = k->phys;
    assert_int_equal(kmem_kmalloc_size_class(1), 8);
    assert_int_equal(kmem_kmalloc_size_class(65), 96);
    assert_int_equal(kmem_kmalloc_size_class(129), 192);
    assert_int_equal(kmem_kmalloc_size_class(193), 256);
    assert_int_equal(kmem_kmalloc_size_class(8192), 8192);
    assert_int_equal(kmem_kmalloc_size_class(8193), 0);
    assert_int_equal(kmem_kmalloc(phys, 0), KMEM_ZERO_SIZE_PTR);
    assert_int_equal(kmem_kfree(phys, KMEM_ZERO_SIZE_PTR), 0);
    assert_int_equal(kmem_kmalloc(phys, KMEM_KMALLOC_MAX_SIZE + 1), 0);

    uint64_t a = kmem_kmalloc(phys, 64), b = kmem_kmalloc(phys, 64);
    assert_int_equal(b, a + 64);
    assert_int_equal(a & (PAGE_SIZE - 1), 0);
    assert_true(phys_page(phys, kmem_pa(phys, a) >> PAGE_SHIFT)->flags & PG_SLAB);
    assert_int_equal(kmem_kfree(phys, a), 0);
    assert_int_equal(kmem_kfree(phys, a), -EINVAL);     /* double free */
    assert_int_equal(kmem_kfree(phys, b + 8), -EINVAL); /* inside an object */
    assert_int_equal(kmem_kmalloc(phys, 50), a);        /* LIFO reuse */
    uint64_t c96 = kmem_kmalloc(phys, 65), d96 = kmem_kmalloc(phys, 96);
    assert_int_equal(d96, c96 + 96);
    struct kmem_meminfo mi;
    kmem_meminfo(phys, &mi);
    assert_int_equal(mi.sunreclaim_kb, 8); /* one kmalloc-64 and one kmalloc-96 page */
    assert_int_equal(mi.slab_kb, 8);
    assert_int_equal(mi.sreclaimable_kb, 0);
    /* 42 objects fill a kmalloc-96 slab; the 43rd opens a second one. */
    uint64_t more[41];
    for (int i = 0; i < 41; i++)
        more[i] = kmem_kmalloc(phys, 96);
    kmem_meminfo(phys, &mi);
    assert_int_equal(mi.sunreclaim_kb, 12);
    kmem_check(phys);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    kmem_print_slabinfo(phys, f);
    fclose(f);
    assert_non_null(strstr(text, "slabinfo - version: 2.1\n# name            <active_objs> <num_objs>"));
    assert_non_null(strstr(text, "\nkmalloc-96            43     84     96   42    1 : tunables    0    0    0 : "
                                 "slabdata      2      2      0\n"));
    assert_non_null(strstr(text, "\nkmalloc-64             2     64     64   64    1 :"));
    free(text);
    for (int i = 0; i < 41; i++)
        assert_int_equal(kmem_kfree(phys, more[i]), 0);
    assert_int_equal(kmem_kfree(phys, a), 0);
    assert_int_equal(kmem_kfree(phys, b), 0);
    assert_int_equal(kmem_kfree(phys, c96), 0);
    assert_int_equal(kmem_kfree(phys, d96), 0);
    kmem_meminfo(phys, &mi);
    assert_int_equal(mi.slab_kb, 0); /* empty slabs went back to the buddy allocator */
    test_kernel_teardown(k);
}

static void test_five_level_layout(void **state)
{
    (void)state;
    struct kernel *k = boot_with("paging", "5");
    const struct kmem_layout *l = kmem_layout(k->phys);
    assert_int_equal(l->levels, 5);
    assert_int_equal(l->page_offset_base, 0xff11000000000000ULL);
    assert_int_equal(l->vmalloc_start, 0xffa0000000000000ULL);
    assert_int_equal(l->vmemmap_base, 0xffd4000000000000ULL);
    struct process *p = kernel_new_process(k, 0);
    struct pt_trace tr;
    pt_trace(&p->mm->pt, 0xff11000000000000ULL + 0x5000, &tr);
    assert_int_equal(tr.result, 0);
    assert_int_equal(tr.nsteps, 4); /* PML5E, PML4E, PDPTE, PDE: a 2 MiB leaf */
    assert_int_equal(tr.step[0].index, 0x111);
    uint64_t v = kmem_vmalloc(k->phys, 100);
    assert_int_equal(v, 0xffa0000000000000ULL);
    assert_int_equal(leaf_of(&p->mm->pt, v), leaf_of(kmem_init_pgtable(k->phys), v));
    struct kernel_oops oops;
    assert_int_equal(kernel_kernel_access(k, p, v, 1, 'w', &oops), 0);
    assert_int_equal(kernel_kernel_access(k, p, KMEM_START_KERNEL, 1, 'r', &oops), 0);
    int signo, code;
    assert_int_equal(kernel_user_access(k, p, 0xff11000000000000ULL, 1, 'r', NULL, NULL, &signo, &code),
                     PGD_SIGSEGV);
    assert_int_equal(k->cpu.last_trap.error_code, PF_P | PF_U);
    struct kmem_meminfo mi;
    kmem_meminfo(k->phys, &mi);
    assert_int_equal(mi.vmalloc_total_kb, (12800ULL << 30) - 1);
    assert_int_equal(mi.vmalloc_used_kb, 4);
    assert_int_equal(kmem_vfree(k->phys, v), 0);
    test_kernel_teardown(k);
}

static void test_leak_audit_reports_and_destroy_frees(void **state)
{
    (void)state;
    struct kernel *k = test_boot();
    struct phys *phys = k->phys;
    struct process *p = kernel_new_process(k, 0);
    uint64_t used_boot = phys->managed_frames - phys->free_frames - p->mm->pt.table_frames;
    assert_int_equal(kmem_frames(phys), used_boot);
    uint64_t o = kmem_kmalloc(phys, 32), big = kmem_kmalloc(phys, 20000), v = kmem_vmalloc(phys, 5000);
    struct kmem_meminfo mi;
    kmem_meminfo(phys, &mi);
    assert_int_equal(mi.vmalloc_total_kb, 34359738367ULL);
    assert_int_equal(mi.vmalloc_used_kb, 8);
    assert_int_equal(mi.sunreclaim_kb, 4 + 32); /* a kmalloc-32 page and an order-3 block */
    assert_int_equal(kmem_frames(phys), phys->managed_frames - phys->free_frames - p->mm->pt.table_frames);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(kmem_audit(phys, f), 3);
    fclose(f);
    char want[512];
    snprintf(want, sizeof(want),
             "kmem leak: 1 object(s) of kmalloc-32 in 1 slab(s)\n"
             "kmem leak: kmalloc_large 0x%llx (order 3)\n"
             "kmem leak: vmalloc 0xffffc90000000000-0xffffc90000002000 (2 pages)\n",
             (unsigned long long)big);
    assert_string_equal(text, want);
    free(text);
    (void)o;
    (void)v;
    kernel_reap(k, p);
    kmem_check(phys);
    kmem_destroy(phys); /* what kernel_destroy does: every frame back */
    assert_false(kmem_present(phys));
    test_leak_audit(phys);
    kernel_destroy(k);
}

static void test_second_top_level_table(void **state)
{
    (void)state;
    struct kernel *k = test_boot();
    struct pgtable user_side; /* as KPTI's user-mode table would be */
    assert_int_equal(pgtable_init(&user_side, k->phys, 4), 0);
    assert_int_equal(kmem_share_kernel_half(k->phys, &user_side), 0);
    assert_int_equal(user_side.table_frames, 1);
    assert_int_equal(leaf_of(&user_side, DIRECT_4L), leaf_of(kmem_init_pgtable(k->phys), DIRECT_4L));
    pt_check(&user_side);
    pgtable_destroy(&user_side, NULL, NULL);
    struct pgtable five;
    assert_int_equal(pgtable_init(&five, k->phys, 5), 0);
    assert_int_equal(kmem_share_kernel_half(k->phys, &five), -EINVAL);
    pgtable_destroy(&five, NULL, NULL);
    test_kernel_teardown(k);
}

static void test_bare_phys_has_no_kernel_half(void **state)
{
    (void)state;
    struct phys *phys = test_phys(64ULL << 20, false);
    struct mm_config cfg;
    struct mm *mm;
    mm_config_default(&cfg);
    assert_int_equal(mm_create(phys, &cfg, &mm), 0);
    assert_false(kmem_present(phys));
    assert_int_equal(kmem_kmalloc(phys, 8), 0);
    assert_int_equal(leaf_of(&mm->pt, DIRECT_4L), 0);
    mm_destroy(mm);
    /* Booted on a bare phys: a 1 GiB-aligned machine uses 1 GiB leaves. */
    test_leak_audit(phys);
    phys_destroy(phys);
    phys = test_phys(2ULL << 30, false);
    assert_int_equal(kmem_boot(phys, 4), 0);
    assert_int_equal(kmem_boot(phys, 4), -EEXIST);
    pte_t e;
    int level;
    assert_int_equal(pt_lookup(kmem_init_pgtable(phys), DIRECT_4L + (1ULL << 30) + 7, &e, &level), 0);
    assert_int_equal(level, PT_LEVEL_PUD);
    test_kernel_half_audit(phys);
    test_leak_audit(phys);
    phys_destroy(phys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_4_level),
        cmocka_unit_test(test_same_translation_in_every_process),
        cmocka_unit_test(test_user_access_to_kernel_faults),
        cmocka_unit_test(test_kernel_mode_protection),
        cmocka_unit_test(test_kmalloc_contiguous_vmalloc_not),
        cmocka_unit_test(test_slab_reuse_and_size_classes),
        cmocka_unit_test(test_five_level_layout),
        cmocka_unit_test(test_leak_audit_reports_and_destroy_frees),
        cmocka_unit_test(test_second_top_level_table),
        cmocka_unit_test(test_bare_phys_has_no_kernel_half),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
