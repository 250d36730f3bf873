#include "support.h"

#include <stdio.h>

#include <pagoda/kernel.h>
#include <pagoda/kmem.h>
#include <pagoda/mm.h>

struct phys *test_phys(uint64_t bytes, bool poison)
{
    struct phys_config cfg = {.ram_bytes = bytes, .poison = poison};
    struct phys *phys = phys_create(&cfg);
    assert_non_null(phys);
    return phys;
}

void test_leak_audit(struct phys *phys)
{
    /* A booted machine's kernel half (page tables, slabs, vmalloc) is audited and
     * freed first: what is left must be every frame. */
    if (phys->owner_state && mm_machine_of(phys)->kmem)
        test_kernel_half_audit(phys);
    phys_check(phys);
    if (phys->free_frames != phys->managed_frames)
        fprintf(stderr, "leak audit: %llu of %llu frames not freed\n",
                (unsigned long long)(phys->managed_frames - phys->free_frames),
                (unsigned long long)phys->managed_frames);
    assert_int_equal(phys->free_frames, phys->managed_frames);
}

void test_kernel_half_audit(struct phys *phys)
{
    kmem_check(phys);
    assert_int_equal(kmem_audit(phys, stderr), 0);
    kmem_destroy(phys);
}

struct kernel *test_boot(void)
{
    struct kernel_config cfg;
    struct kernel *k = NULL;
    kernel_config_default(&cfg);
    assert_int_equal(kernel_create(&cfg, &k), 0);
    return k;
}

void test_kernel_teardown(struct kernel *k)
{
    if (!k)
        return;
    while (k->procs)
        kernel_reap(k, k->procs);
    test_kernel_half_audit(k->phys);
    test_leak_audit(k->phys);
    kernel_destroy(k);
}

long test_sys(struct kernel *k, struct process *p, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
              uint64_t a4, uint64_t a5)
{
    const uint64_t args[6] = {a0, a1, a2, a3, a4, a5};
    return kernel_syscall(k, p, nr, args);
}
