/*
 * `pagoda bench [NAME...]`: run all benchmarks, or those whose group name is given.
 */
#include "bench/bench.h"

#include <string.h>
#include <time.h>

#include "cli/cli.h"

void bench_value(struct bench_out *out, const char *name, double value)
{
    fprintf(out->out, "%s %.2f\n", name, value);
    fflush(out->out);
}

double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void bench_error(struct bench_out *out, const char *name, const char *why)
{
    fprintf(stderr, "pagoda bench: %s: %s\n", name, why);
    out->errors++;
}

static const struct {
    const char *name;
    void (*run)(struct bench_out *);
} benches[] = {
    {"tlb_hit_access", bench_tlb_hit},
    {"tlb_miss_access", bench_tlb_miss},
    {"mmap_munmap_pair", bench_mmap_munmap},
    {"mprotect_split_merge", bench_mprotect_split_merge},
    {"mprotect_noop_60kvmas", bench_mprotect_noop_60k},
    {"anon_write_fault", bench_anon_write_fault},
    {"anon_read_fault", bench_anon_read_fault},
    {"cow_fault", bench_cow_fault},
    {"fork_256MiB_touched", bench_fork_touched},
};

int cli_bench(int argc, char **argv, FILE *out)
{
    struct bench_out bo = {.out = out};
    size_t n = sizeof(benches) / sizeof(benches[0]);
    for (int a = 0; a < argc; a++) {
        size_t i;
        for (i = 0; i < n && strcmp(argv[a], benches[i].name); i++)
            ;
        if (i == n) {
            fprintf(stderr, "pagoda bench: unknown benchmark '%s'; known:", argv[a]);
            for (i = 0; i < n; i++)
                fprintf(stderr, " %s", benches[i].name);
            fputc('\n', stderr);
            return 2;
        }
    }
    for (size_t i = 0; i < n; i++) {
        int selected = argc == 0;
        for (int a = 0; a < argc; a++)
            selected |= !strcmp(argv[a], benches[i].name);
        if (selected)
            benches[i].run(&bo);
    }
    return bo.errors ? 1 : 0;
}
