/*
 * The pagoda command's subcommands.
 */
#ifndef PAGODA_CLI_H
#define PAGODA_CLI_H

#include <stdio.h>

/* `pagoda demo`: the built-in demonstration, written to out.  Returns an exit status. */
int cli_demo(FILE *out);

/* The demo's address-space chapter: a script embedded in the binary, run with its
 * expectations checked.  Returns the runner's exit status. */
int cli_demo_address_space(FILE *out);

/* `pagoda bench [NAME...]`: benchmarks, one "NAME VALUE" line each. */
int cli_bench(int argc, char **argv, FILE *out);

#endif
