/*
 * The pagoda command's subcommands.
 */
#ifndef PAGODA_CLI_H
#define PAGODA_CLI_H

#include <stdio.h>

/* `pagoda demo`: the built-in demonstration, written to out.  Returns an exit status. */
int cli_demo(FILE *out);

/* `pagoda bench [NAME...]`: benchmarks, one "NAME VALUE" line each. */
int cli_bench(int argc, char **argv, FILE *out);

#endif
