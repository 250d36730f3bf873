/*
 * pagoda - the command.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/record.h"
#include "cli/run.h"

#define PAGODA_VERSION "0.1.0"

static void usage(FILE *out)
{
    fputs("usage: pagoda COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  demo            walk through the simulated machine: page tables, TLB, a fault\n"
          "  bench [NAME..]  run benchmarks; prints one 'NAME VALUE' line per figure\n"
          "  run [-v] [-q] FILE|-\n"
          "                  run a script (strace log or pagoda statements); exit 0 when every\n"
          "                  expectation held, 1 on divergences, 2 when it cannot be read or run\n"
          "  shell [-q]      the script runner at a prompt, with line editing and history\n"
          "  record [-o FILE] [--] PROGRAM ARGS..\n"
          "                  run a real program under ptrace with randomization off and write\n"
          "                  its memory system calls and final maps as a script to replay\n"
          "  help            this text\n"
          "  version         the version\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "demo")) {
        int rc = cli_demo(stdout);
        int rc2 = cli_demo_address_space(stdout);
        return rc ? rc : rc2;
    }
    if (!strcmp(cmd, "bench"))
        return cli_bench(argc - 2, argv + 2, stdout);
    if (!strcmp(cmd, "run"))
        return cli_run(argc - 2, argv + 2);
    if (!strcmp(cmd, "shell"))
        return cli_shell(argc - 2, argv + 2);
    if (!strcmp(cmd, "record"))
        return record_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("pagoda %s\n", PAGODA_VERSION);
        return 0;
    }
    fprintf(stderr, "pagoda: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
