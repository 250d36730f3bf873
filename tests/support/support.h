/*
 * Shared test support: every test runs on a fresh machine and ends with a leak
 * audit (free frames == managed frames) and the allocator's invariant check.
 */
#ifndef PAGODA_TEST_SUPPORT_H
#define PAGODA_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pagoda/phys.h>

/* A machine's RAM of `bytes` (0 = default) for a test; NULL-checked. */
struct phys *test_phys(uint64_t bytes, bool poison);

/* Leak audit: every frame is back on the free lists and the allocator is sound. */
void test_leak_audit(struct phys *phys);

#endif
