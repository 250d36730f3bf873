/*
 * cli/errno_names.h - Linux x86-64 errno names, both ways.
 *
 * Scripts name errors as strace prints them ("-1 ENOMEM (Cannot allocate memory)");
 * the runner compares them with the simulated kernel's negative return values.
 */
#ifndef PAGODA_CLI_ERRNO_NAMES_H
#define PAGODA_CLI_ERRNO_NAMES_H

/* The canonical name of a positive errno number: "ENOMEM" for 12.  Covers 1..133
 * (41 and 58 have no name on Linux) and the kernel-internal restart codes 512..516
 * strace prints (ERESTARTSYS ...).  NULL for anything else. */
const char *errno_name(int number);

/* The number of an errno name, aliases included (EWOULDBLOCK 11, EDEADLOCK 35,
 * ENOTSUP 95).  -1 for an unknown or NULL name. */
int errno_from_name(const char *name);

#endif
