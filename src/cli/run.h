/*
 * cli/run.h - the script runner: executes a parsed pagoda script (docs/script-runner.md)
 * on a simulated machine, compares every result with the script's expectation and
 * reports divergences.
 *
 * Exit statuses: RUN_OK when every expectation held, RUN_DIVERGED when some did not,
 * RUN_ERROR when the script could not be read or a statement could not run.
 */
#ifndef PAGODA_CLI_RUN_H
#define PAGODA_CLI_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <pagoda/kernel.h>

#include "cli/script.h"

enum { RUN_OK = 0, RUN_DIVERGED = 1, RUN_ERROR = 2 };

struct run_options {
    bool verbose;     /* -v: echo every statement with its result, strace style */
    bool quiet;       /* -q: only divergences and errors (no blocks, no summary) */
    bool interactive; /* shell: print each result as it comes; errors do not stop */
    FILE *out;        /* results, divergences, summary (stdout when NULL) */
    FILE *err;        /* errors (stderr when NULL) */
};

struct runner;

/* A runner with the default machine configuration; NULL when out of memory.  The
 * machine boots when the first statement needs it. */
struct runner *runner_create(const struct run_options *opt);
void runner_destroy(struct runner *r);

/*
 * Run the statements of a parsed script in order.  `text`/`len` is the script's
 * source (for the columns of error messages; NULL is fine).  Stops at the first
 * statement that cannot run unless interactive.  Returns RUN_OK, RUN_DIVERGED if a
 * divergence happened in this script, RUN_ERROR if a statement could not run.
 */
int runner_run(struct runner *r, const struct script *s, const char *text, size_t len);

/* Parse text (joining strace's unfinished/resumed halves) and run it.  A parse
 * error is printed as "FILE:LINE:COLUMN: message" and gives RUN_ERROR. */
int runner_run_text(struct runner *r, const char *filename, const char *text, size_t len);

/* "summary: N statements, N system calls verified, N skipped (write 2, read 1),
 * N divergences" */
void runner_print_summary(const struct runner *r, FILE *out);

/* One line of a maps block as the runner compares it: trailing spaces ignored; with
 * stack_exempt (`maps ~stack`) the [stack] line's start address and the inode of
 * shared anonymous memory (/dev/zero (deleted), [anon_shmem:...], SYSV...) too. */
bool run_maps_line_equal(const char *expected, const char *got, bool stack_exempt);

/* Totals so far. */
unsigned long runner_divergences(const struct runner *r);
unsigned long runner_errors(const struct runner *r);
/* The machine, once booted (NULL before). */
struct kernel *runner_kernel(struct runner *r);

/* A whole run: parse, run, print the summary (unless quiet).  The exit status. */
int run_text(const char *filename, const char *text, size_t len, const struct run_options *opt);
/* run_text on a file's contents; "-" reads standard input. */
int run_file(const char *path, const struct run_options *opt);

/* `pagoda run [-v] [-q] FILE|-` and `pagoda shell [-v]`: exit statuses. */
int cli_run(int argc, char **argv);
int cli_shell(int argc, char **argv);

#endif
