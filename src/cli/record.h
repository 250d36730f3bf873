/*
 * cli/record.h - `pagoda record`: run a real program under ptrace and write the log of
 * its memory-relevant system calls in pagoda's script language (strace -f syntax with
 * a PID column), so that `pagoda run LOG` can replay and verify it.
 */
#ifndef PAGODA_CLI_RECORD_H
#define PAGODA_CLI_RECORD_H

/*
 * `pagoda record [-o FILE] [--] PROGRAM ARGS...`; argv[0] is "record".
 *
 * Runs PROGRAM (searched in PATH like execvp) with address-space randomization off,
 * following every process and thread it creates, and writes the log to FILE (stdout
 * without -o).  Returns the traced program's exit status (128 + signal number when a
 * signal killed it), 127 when PROGRAM cannot be found, or 2 with a message on stderr
 * for usage errors and when tracing itself fails.
 */
int record_main(int argc, char **argv);

#endif
