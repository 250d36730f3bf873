/*
 * Address-space benchmarks for `pagoda bench`, each next to the host kernel doing
 * the same in the same run ("host_" figures), in ns per operation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include <pagoda/mm.h>

#include "bench/bench.h"

struct mm_env {
    struct phys *phys;
    struct mm *mm;
};

/* A fresh address space on a machine with ram_bytes of RAM: 0, or non-zero. */
static int env_setup_ram(struct mm_env *e, uint64_t ram_bytes)
{
    struct mm_config cfg;
    e->phys = phys_create(&(struct phys_config){.ram_bytes = ram_bytes});
    if (!e->phys)
        return -1;
    mm_config_default(&cfg);
    if (mm_create(e->phys, &cfg, &e->mm)) {
        phys_destroy(e->phys);
        return -1;
    }
    return 0;
}

/* The same with 64 MiB of RAM. */
static int env_setup(struct mm_env *e)
{
    return env_setup_ram(e, 64ULL << 20);
}

static void env_teardown(struct mm_env *e)
{
    mm_destroy(e->mm);
    phys_destroy(e->phys);
}

#define ANON (PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS)
#define RW (PGD_PROT_READ | PGD_PROT_WRITE)

void bench_mmap_munmap(struct bench_out *out)
{
    struct mm_env e;
    const int n = 200000;
    if (env_setup(&e)) {
        bench_error(out, "mmap_munmap_pair", "setup failed");
        return;
    }
    double best = 1e300, host = 1e300;
    for (int r = 0; r < 3; r++) {
        double t0 = bench_now_ns();
        for (int i = 0; i < n; i++) {
            long a = mm_mmap(e.mm, 0, 16384, RW, ANON, NULL, 0);
            mm_munmap(e.mm, (uint64_t)a, 16384);
        }
        double t = (bench_now_ns() - t0) / n;
        best = t < best ? t : best;
        t0 = bench_now_ns();
        for (int i = 0; i < n / 4; i++) {
            void *p = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            munmap(p, 16384);
        }
        t = (bench_now_ns() - t0) / (n / 4);
        host = t < host ? t : host;
    }
    bench_value(out, "mmap_munmap_pair", best);
    bench_value(out, "host_mmap_munmap_pair", host);
    env_teardown(&e);
}

void bench_mprotect_split_merge(struct bench_out *out)
{
    struct mm_env e;
    const int n = 200000;
    if (env_setup(&e)) {
        bench_error(out, "mprotect_split_merge", "setup failed");
        return;
    }
    long a = mm_mmap(e.mm, 0, 1 << 20, RW, ANON, NULL, 0);
    uint64_t mid = (uint64_t)a + (512 << 10);
    double best = 1e300, host = 1e300;
    uint8_t *h = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int r = 0; r < 3; r++) {
        double t0 = bench_now_ns();
        for (int i = 0; i < n; i++)
            mm_mprotect(e.mm, mid, 4096, i & 1 ? RW : PGD_PROT_READ);
        double t = (bench_now_ns() - t0) / n;
        best = t < best ? t : best;
        t0 = bench_now_ns();
        for (int i = 0; i < n / 4; i++)
            mprotect(h + (512 << 10), 4096, i & 1 ? PROT_READ | PROT_WRITE : PROT_READ);
        t = (bench_now_ns() - t0) / (n / 4);
        host = t < host ? t : host;
    }
    munmap(h, 1 << 20);
    bench_value(out, "mprotect_split_merge", best);
    bench_value(out, "host_mprotect_split_merge", host);
    env_teardown(&e);
}

/*
 * 60,000 one-page areas alternating RW and R (one 234 MiB mapping split into 60,000
 * VMAs), then mprotect() of a random page to the protection it already has: the cost
 * of finding the VMA among many.  The simulated machine gets 1 GiB of RAM so that
 * the overcommit heuristic admits the 234 MiB mapping as the host's does (with 64 MiB
 * the mmap fails and every call would return -ENOMEM).  Every call's result is
 * checked: a failing setup or call is reported, never timed.
 */
void bench_mprotect_noop_60k(struct bench_out *out)
{
    struct mm_env e;
    const int areas = 60000, n = 200000;
    if (env_setup_ram(&e, 1ULL << 30)) {
        bench_error(out, "mprotect_noop_60kvmas", "setup failed");
        return;
    }
    long a = mm_mmap(e.mm, 0, (uint64_t)areas * 4096, RW, ANON, NULL, 0);
    uint8_t *h = mmap(NULL, (size_t)areas * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long failed = a < 0 || h == MAP_FAILED;
    for (int i = 1; i < areas && !failed; i += 2) {
        failed |= mm_mprotect(e.mm, (uint64_t)a + (uint64_t)i * 4096, 4096, PGD_PROT_READ);
        failed |= mprotect(h + (size_t)i * 4096, 4096, PROT_READ);
    }
    if (failed || e.mm->map_count != areas) {
        bench_error(out, "mprotect_noop_60kvmas", "could not build the 60,000 areas");
        if (h != MAP_FAILED)
            munmap(h, (size_t)areas * 4096);
        env_teardown(&e);
        return;
    }
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    double best = 1e300, host = 1e300;
    for (int r = 0; r < 3; r++) {
        double t0 = bench_now_ns();
        for (int i = 0; i < n; i++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            uint64_t k = seed % areas;
            failed |= mm_mprotect(e.mm, (uint64_t)a + k * 4096, 4096, k & 1 ? PGD_PROT_READ : RW);
        }
        double t = (bench_now_ns() - t0) / n;
        best = t < best ? t : best;
        t0 = bench_now_ns();
        for (int i = 0; i < n / 4; i++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            uint64_t k = seed % areas;
            failed |= mprotect(h + k * 4096, 4096, k & 1 ? PROT_READ : PROT_READ | PROT_WRITE);
        }
        t = (bench_now_ns() - t0) / (n / 4);
        host = t < host ? t : host;
    }
    munmap(h, (size_t)areas * 4096);
    if (failed || e.mm->map_count != areas)
        bench_error(out, "mprotect_noop_60kvmas", "a no-op mprotect failed or changed the areas");
    bench_value(out, "mprotect_noop_60kvmas", best);
    bench_value(out, "host_mprotect_noop_60kvmas", host);
    env_teardown(&e);
}
