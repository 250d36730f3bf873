/*
 * Paging benchmarks for `pagoda bench`: page faults and fork over a 256 MiB region of
 * 4 KiB pages, next to the host kernel doing the same in the same run ("host_"
 * figures).
 *
 * pagoda's side runs on a booted kernel with 1 GiB of RAM and THP off; each access is
 * one kernel_user_access call from user mode through the simulated MMU (an 8-byte load
 * or store per page, as the host loop does), which faults once per page.  The host's
 * side is a real mmap with MADV_NOHUGEPAGE, so that it takes 4 KiB faults too, and is
 * measured first, before pagoda's RAM exists (a host fork would otherwise copy it).
 *
 * Each figure is the best of three rounds on a fresh region.  The first round also
 * brings pagoda's simulated RAM in from the host (first touch of a host page is a host
 * page fault); later rounds reuse the frames the buddy allocator got back, so the best
 * round is pagoda's steady state.  Every access's result and the number of faults
 * taken are checked: a failing round is reported, never timed.
 */
#include <pagoda/kernel.h> /* before <sys/wait.h>: its si_addr macro would rename a field */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

#define REGION (256ULL << 20)
#define PAGES (REGION >> 12)
#define ROUNDS 3
#define K_MADV_NOHUGEPAGE 15
#define K_SIGCHLD 17

/* ---- the host ------------------------------------------------------------------------ */

/* A fresh private anonymous region of 4 KiB pages, or NULL. */
static volatile uint8_t *host_region(void)
{
    void *p = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, REGION, MADV_NOHUGEPAGE);
    return p;
}

static void host_write_all(volatile uint8_t *p, uint8_t v)
{
    for (uint64_t off = 0; off < REGION; off += 4096)
        p[off] = v;
}

/* ns per first-touch fault: writes, or reads (the zero page). */
static double host_fault(int write)
{
    double best = 1e300;
    for (int r = 0; r < ROUNDS; r++) {
        volatile uint8_t *p = host_region();
        if (!p)
            return -1;
        unsigned sum = 0;
        double t0 = bench_now_ns();
        if (write)
            host_write_all(p, 1);
        else
            for (uint64_t off = 0; off < REGION; off += 4096)
                sum += p[off];
        double t = (bench_now_ns() - t0) / PAGES;
        best = t < best ? t : best;
        munmap((void *)p, REGION);
        if (sum)
            return -1;
    }
    return best;
}

/* ns per copy-on-write fault: the parent writes every page while a forked child,
 * blocked on a pipe, keeps sharing them. */
static double host_cow_fault(void)
{
    double best = 1e300;
    for (int r = 0; r < ROUNDS; r++) {
        volatile uint8_t *p = host_region();
        int fds[2];
        if (!p || pipe(fds))
            return -1;
        host_write_all(p, 1);
        pid_t child = fork();
        if (child == 0) {
            char c;
            _exit(read(fds[0], &c, 1) == 1 ? 0 : 1);
        }
        double t0 = bench_now_ns();
        host_write_all(p, 2);
        double t = (bench_now_ns() - t0) / PAGES;
        best = t < best ? t : best;
        (void)!write(fds[1], "x", 1);
        waitpid(child, NULL, 0);
        close(fds[0]);
        close(fds[1]);
        munmap((void *)p, REGION);
    }
    return best;
}

/* ns for one fork() of this process with the region written. */
static double host_fork(void)
{
    double best = 1e300;
    for (int r = 0; r < ROUNDS; r++) {
        volatile uint8_t *p = host_region();
        if (!p)
            return -1;
        host_write_all(p, 1);
        double t0 = bench_now_ns();
        pid_t child = fork();
        if (child == 0)
            _exit(0);
        double t = bench_now_ns() - t0;
        best = t < best ? t : best;
        waitpid(child, NULL, 0);
        munmap((void *)p, REGION);
    }
    return best;
}

/* ---- pagoda --------------------------------------------------------------------------- */

struct pg_env {
    struct kernel *k;
    struct process *p;
    uint64_t base;
};

/* A kernel with 1 GiB of RAM, THP off, and one process.  0 or -1. */
static int pg_boot(struct pg_env *e)
{
    struct kernel_config cfg;
    kernel_config_default(&cfg);
    cfg.ram = 1ULL << 30;
    cfg.thp = 0;
    if (kernel_create(&cfg, &e->k))
        return -1;
    e->p = kernel_new_process(e->k, 0);
    if (!e->p) {
        kernel_destroy(e->k);
        return -1;
    }
    return 0;
}

/* A fresh private anonymous region of 4 KiB pages in the process.  0 or -1. */
static int pg_region(struct pg_env *e)
{
    long a = mm_mmap(e->p->mm, 0, REGION, PGD_PROT_READ | PGD_PROT_WRITE, PGD_MAP_PRIVATE | PGD_MAP_ANONYMOUS,
                     NULL, 0);
    if (a < 0 || mm_madvise(e->p->mm, (uint64_t)a, REGION, K_MADV_NOHUGEPAGE))
        return -1;
    e->base = (uint64_t)a;
    return 0;
}

/* One 8-byte access to every page of the region from process p: the number of
 * accesses that failed. */
static uint64_t pg_access_all(struct pg_env *e, struct process *p, int kind, uint64_t v)
{
    uint64_t failed = 0, got = 0;
    int sig, code;
    for (uint64_t off = 0; off < REGION; off += 4096) {
        if (kind == KERNEL_ACCESS_WRITE)
            failed += kernel_user_access(e->k, p, e->base + off, 8, kind, &v, NULL, &sig, &code) != 0;
        else
            failed += kernel_user_access(e->k, p, e->base + off, 8, kind, NULL, &got, &sig, &code) != 0 || got;
    }
    return failed;
}

static uint64_t pg_faults(const struct pg_env *e)
{
    return e->k->cpu.count.faults[VEC_PF];
}

/* ns per fault of one pass over a fresh region (reads or writes); -1 on failure. */
static double pg_fault_round(struct pg_env *e, int kind)
{
    if (pg_region(e))
        return -1;
    uint64_t faults = pg_faults(e);
    double t0 = bench_now_ns();
    uint64_t failed = pg_access_all(e, e->p, kind, 1);
    double t = (bench_now_ns() - t0) / PAGES;
    if (failed || pg_faults(e) - faults != PAGES || mm_munmap(e->p->mm, e->base, REGION))
        return -1;
    return t;
}

/* A forked child of the process, or NULL. */
static struct process *pg_fork(struct pg_env *e)
{
    long pid = kernel_clone(e->k, e->p, 0, K_SIGCHLD, 0);
    return pid > 0 ? kernel_find(e->k, (int)pid) : NULL;
}

/* The child exits and is reaped. */
static void pg_end_child(struct pg_env *e, struct process *c)
{
    int status;
    kernel_exit(e->k, c, 0);
    kernel_wait4(e->k, e->p, c->pid, &status, 0);
}

/* ns per copy-on-write fault: the parent writes every page after a fork. */
static double pg_cow_round(struct pg_env *e)
{
    if (pg_region(e) || pg_access_all(e, e->p, KERNEL_ACCESS_WRITE, 1))
        return -1;
    struct process *c = pg_fork(e);
    if (!c)
        return -1;
    uint64_t faults = pg_faults(e);
    double t0 = bench_now_ns();
    uint64_t failed = pg_access_all(e, e->p, KERNEL_ACCESS_WRITE, 2);
    double t = (bench_now_ns() - t0) / PAGES;
    failed += pg_faults(e) - faults != PAGES;
    pg_end_child(e, c);
    if (failed || mm_munmap(e->p->mm, e->base, REGION))
        return -1;
    return t;
}

/* ns for one kernel_clone of the process with the region written. */
static double pg_fork_round(struct pg_env *e)
{
    if (pg_region(e) || pg_access_all(e, e->p, KERNEL_ACCESS_WRITE, 1))
        return -1;
    double t0 = bench_now_ns();
    struct process *c = pg_fork(e);
    double t = bench_now_ns() - t0;
    if (!c)
        return -1;
    pg_end_child(e, c);
    if (mm_munmap(e->p->mm, e->base, REGION))
        return -1;
    return t;
}

enum pg_bench { PG_WRITE, PG_READ, PG_COW, PG_FORK };

/* Best of the rounds of one pagoda benchmark, or -1. */
static double pg_run(enum pg_bench which)
{
    struct pg_env e;
    if (pg_boot(&e))
        return -1;
    double best = 1e300;
    for (int r = 0; r < ROUNDS && best >= 0; r++) {
        double t = which == PG_WRITE  ? pg_fault_round(&e, KERNEL_ACCESS_WRITE)
                   : which == PG_READ ? pg_fault_round(&e, KERNEL_ACCESS_READ)
                   : which == PG_COW  ? pg_cow_round(&e)
                                      : pg_fork_round(&e);
        best = t < 0 ? -1 : t < best ? t : best;
    }
    kernel_destroy(e.k);
    return best;
}

/* Report one benchmark: host first (before pagoda's RAM exists), then pagoda. */
static void report(struct bench_out *out, const char *name, double host, enum pg_bench which)
{
    double mine = pg_run(which);
    if (host < 0 || mine < 0) {
        bench_error(out, name, host < 0 ? "the host side failed" : "an access, fault count or call failed");
        return;
    }
    char host_name[64];
    snprintf(host_name, sizeof(host_name), "host_%s", name);
    bench_value(out, name, mine);
    bench_value(out, host_name, host);
}

void bench_anon_write_fault(struct bench_out *out)
{
    report(out, "anon_write_fault", host_fault(1), PG_WRITE);
}

void bench_anon_read_fault(struct bench_out *out)
{
    report(out, "anon_read_fault", host_fault(0), PG_READ);
}

void bench_cow_fault(struct bench_out *out)
{
    report(out, "cow_fault", host_cow_fault(), PG_COW);
}

void bench_fork_touched(struct bench_out *out)
{
    report(out, "fork_256MiB_touched", host_fork(), PG_FORK);
}
