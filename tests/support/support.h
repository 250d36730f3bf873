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

/* The kernel half's leak audit (no kmalloc object or vmalloc area left, invariants
 * hold), then its frames back as kernel_destroy gives them back, so that
 * test_leak_audit can follow while the machine lives.  No-op without a kernel half. */
void test_kernel_half_audit(struct phys *phys);

struct kernel;
struct process;

/* A machine booted with the default configuration (kernel_config_default). */
struct kernel *test_boot(void);

/* Free every process, check that every frame came back, free the machine.  NULL is
 * fine. */
void test_kernel_teardown(struct kernel *k);

/* A system call in p with six argument registers. */
long test_sys(struct kernel *k, struct process *p, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
              uint64_t a4, uint64_t a5);

#endif
