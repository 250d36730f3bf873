/*
 * hw/bug.h - internal invariant assertions.
 *
 * PAGODA_BUG_ON(cond, msg): when cond holds, an invariant of pagoda itself is broken
 * (never a user error, never an allocation failure): print
 *     pagoda: invariant broken: <msg> (<file>:<line>)
 * to stderr and abort().  Always on, in every build.
 *
 * PAGODA_CHECKING: 1 when the build defines PAGODA_CHECKS non-zero (the check and
 * sanitize variants), else 0.  Heavy invariant checkers run only then:
 *     if (PAGODA_CHECKING) phys_check(phys);
 * It is a constant expression, so release builds drop the call entirely.
 */
#ifndef PAGODA_HW_BUG_H
#define PAGODA_HW_BUG_H

#include <stdio.h>
#include <stdlib.h>

#define PAGODA_BUG_ON(cond, msg)                                                          \
    do {                                                                                  \
        if (__builtin_expect(!!(cond), 0)) {                                              \
            fprintf(stderr, "pagoda: invariant broken: %s (%s:%d)\n", (msg), __FILE__,    \
                    __LINE__);                                                            \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

#if defined(PAGODA_CHECKS) && (PAGODA_CHECKS + 0)
#define PAGODA_CHECKING 1
#else
#define PAGODA_CHECKING 0
#endif

#endif
