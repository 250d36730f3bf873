/*
 * Machine-layer benchmarks for `pagoda bench`: the cost of a load through the MMU
 * when the TLB hits and when it misses, next to the same loop on the host's own
 * memory.  Each figure is the best of several runs, in nanoseconds per access.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <pagoda/cpu.h>
#include <pagoda/pgtable.h>
#include <pagoda/phys.h>

#include "bench/bench.h"

static inline uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Random aligned 8-byte loads over [base, base+span) through the simulated MMU. */
static double sim_loads(struct cpu *cpu, uint64_t base, uint64_t span, uint64_t n, uint64_t *sink)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL, sum = 0, mask = span - 1;
    double t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = 0;
        if (cpu_load64(cpu, base + (xorshift(&seed) & mask & ~7ULL), &v) != CPU_OK)
            abort();
        sum += v;
    }
    double t = bench_now_ns() - t0;
    *sink += sum;
    return t / (double)n;
}

/* The same loop on host memory. */
static double native_loads(const uint8_t *mem, uint64_t span, uint64_t n, uint64_t *sink)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL, sum = 0, mask = span - 1;
    double t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, mem + (xorshift(&seed) & mask & ~7ULL), 8);
        sum += v;
    }
    double t = bench_now_ns() - t0;
    *sink += sum;
    return t / (double)n;
}

struct machine {
    struct phys *phys;
    struct cpu cpu;
    struct pgtable pt;
};

static int frees_leaf(void *arg, uint64_t va, int level, pte_t *e)
{
    phys_free(arg, pte_addr(*e, level, true) >> PAGE_SHIFT, 0);
    return 0;
}

/* A user address space with `span` bytes of 4 KiB pages at `base`, each its own frame. */
static int machine_setup(struct machine *m, uint64_t ram, uint64_t base, uint64_t span)
{
    struct phys_config pc = {.ram_bytes = ram};
    struct cpu_config cc;
    m->phys = phys_create(&pc);
    if (!m->phys)
        return -ENOMEM;
    cpu_config_default(&cc);
    if (cpu_init(&m->cpu, m->phys, &cc) || pgtable_init(&m->pt, m->phys, 4))
        return -ENOMEM;
    for (uint64_t off = 0; off < span; off += PAGE_SIZE) {
        pfn_t pfn;
        if (phys_alloc(m->phys, 0, 0, &pfn) || pt_map(&m->pt, base + off, pfn << PAGE_SHIFT, PAGE_SIZE, PT_LEVEL_PTE,
                                                      PTE_P | PTE_RW | PTE_US | PTE_NX | PTE_A | PTE_D))
            return -ENOMEM;
        memset(phys_host(m->phys, pfn << PAGE_SHIFT), (int)(off >> 12), PAGE_SIZE);
    }
    cpu_write_cr3(&m->cpu, m->pt.root | 1);
    cpu_set_cpl(&m->cpu, 3);
    return 0;
}

static void machine_teardown(struct machine *m)
{
    pgtable_destroy(&m->pt, frees_leaf, m->phys);
    cpu_destroy(&m->cpu);
    phys_destroy(m->phys);
}

static double best_of(int runs, double (*fn)(void *), void *arg)
{
    double best = 1e300;
    for (int i = 0; i < runs; i++) {
        double v = fn(arg);
        if (v < best)
            best = v;
    }
    return best;
}

struct load_job {
    struct machine *m;
    const uint8_t *mem;
    uint64_t base, span, n, sink;
};

static double run_sim(void *arg)
{
    struct load_job *j = arg;
    return sim_loads(&j->m->cpu, j->base, j->span, j->n, &j->sink);
}

static double run_native(void *arg)
{
    struct load_job *j = arg;
    return native_loads(j->mem, j->span, j->n, &j->sink);
}

/* TLB hits: 4 mapped pages, random loads among them. */
void bench_tlb_hit(struct bench_out *out)
{
    struct machine m;
    const uint64_t base = 0x7f0000000000, span = 4 * PAGE_SIZE;
    if (machine_setup(&m, 64ULL << 20, base, span)) {
        bench_error(out, "tlb_hit_access", "setup failed");
        return;
    }
    struct load_job j = {.m = &m, .base = base, .span = span, .n = 20000000};
    run_sim(&j); /* warm the TLB */
    double sim = best_of(5, run_sim, &j);
    uint8_t *mem = aligned_alloc(4096, span);
    memset(mem, 1, span);
    j.mem = mem;
    double native = best_of(5, run_native, &j);
    free(mem);
    bench_value(out, "tlb_hit_access", sim);
    bench_value(out, "native_hit_access", native);
    machine_teardown(&m);
}

/* TLB misses: a populated 1 GiB mapping of 4 KiB pages, random loads over it. */
void bench_tlb_miss(struct bench_out *out)
{
    struct machine m;
    const uint64_t base = 0x7f0000000000, span = 1ULL << 30;
    if (machine_setup(&m, span + (256ULL << 20), base, span)) {
        bench_error(out, "tlb_miss_access", "setup failed");
        return;
    }
    struct load_job j = {.m = &m, .base = base, .span = span, .n = 4000000};
    double sim = best_of(3, run_sim, &j);
    uint64_t walks = m.cpu.tlb.stats.walks;
    uint8_t *mem = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        bench_error(out, "native_miss_access", "mmap failed");
    } else {
        memset(mem, 1, span);
        j.mem = mem;
        double native = best_of(3, run_native, &j);
        munmap(mem, span);
        bench_value(out, "tlb_miss_access", sim);
        bench_value(out, "native_miss_access", native);
        bench_value(out, "tlb_miss_walk_fraction", (double)walks / (3.0 * (double)j.n));
    }
    machine_teardown(&m);
}
