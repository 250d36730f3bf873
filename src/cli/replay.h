/*
 * cli/replay.h - the system calls of a log that need more than their argument
 * registers: process creation (the child's pid comes from the log), execve (path,
 * argv and environment are in the log, not in user memory), wait4, and the calls
 * pagoda skips but whose descriptors later calls use (pipe, socket, eventfd ...).
 */
#ifndef PAGODA_CLI_REPLAY_H
#define PAGODA_CLI_REPLAY_H

#include <stdbool.h>
#include <stddef.h>

#include <pagoda/kernel.h>

#include "cli/script.h"

/* Is nr one of the calls replay_process_call runs? */
bool replay_is_process_call(long nr);

/* Run fork/vfork/clone/clone3/execve/execveat/wait4 of statement st in p.  A process
 * is created with the pid the log's result names.  0 with *ret set to what the kernel
 * returned, or -1 with a message in err (an argument the log does not give). */
int replay_process_call(struct kernel *k, struct process *p, const struct script_stmt *st, long nr, long *ret,
                        char *err, size_t errlen);

/* Did this call (one pagoda skips) return descriptors: a successful pipe, pipe2,
 * socketpair, socket, eventfd, epoll_create ...? */
bool replay_creates_descriptors(const struct script_stmt *st);

/* A call pagoda skips that returned descriptors (pipe2's pair, socket's fd ...): give
 * p opaque descriptors at those numbers so that later close/dup/mmap of them behave as
 * they did.  Does nothing for other calls or failed ones. */
void replay_skipped_descriptors(struct process *p, const struct script_stmt *st);

#endif
