#include "support.h"

#include <stdio.h>

struct phys *test_phys(uint64_t bytes, bool poison)
{
    struct phys_config cfg = {.ram_bytes = bytes, .poison = poison};
    struct phys *phys = phys_create(&cfg);
    assert_non_null(phys);
    return phys;
}

void test_leak_audit(struct phys *phys)
{
    phys_check(phys);
    if (phys->free_frames != phys->managed_frames)
        fprintf(stderr, "leak audit: %llu of %llu frames not freed\n",
                (unsigned long long)(phys->managed_frames - phys->free_frames),
                (unsigned long long)phys->managed_frames);
    assert_int_equal(phys->free_frames, phys->managed_frames);
}
