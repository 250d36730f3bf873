/*
 * Benchmark plumbing shared by the bench sources and `pagoda bench`.
 */
#ifndef PAGODA_BENCH_H
#define PAGODA_BENCH_H

#include <stdio.h>

struct bench_out {
    FILE *out;
    int errors;
};

/* One figure: "NAME VALUE" with VALUE in the benchmark's unit (ns unless named). */
void bench_value(struct bench_out *out, const char *name, double value);
void bench_error(struct bench_out *out, const char *name, const char *why);

/* CLOCK_MONOTONIC in nanoseconds. */
double bench_now_ns(void);

void bench_tlb_hit(struct bench_out *out);
void bench_tlb_miss(struct bench_out *out);
void bench_mmap_munmap(struct bench_out *out);
void bench_mprotect_split_merge(struct bench_out *out);
void bench_mprotect_noop_60k(struct bench_out *out);
void bench_anon_write_fault(struct bench_out *out);
void bench_anon_read_fault(struct bench_out *out);
void bench_cow_fault(struct bench_out *out);
void bench_fork_touched(struct bench_out *out);

#endif
