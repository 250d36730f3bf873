/*
 * cli/abi.h - the x86-64 user-space ABI by name: the flag and constant names strace
 * prints (PROT_READ, MAP_PRIVATE, MADV_DONTNEED, O_CLOEXEC, AT_FDCWD, PR_SET_VMA,
 * ADDR_NO_RANDOMIZE ...) and the conversion of a parsed script value into the 64-bit
 * word a system-call register would hold.
 */
#ifndef PAGODA_CLI_ABI_H
#define PAGODA_CLI_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/script.h"

/* The value of a constant's name, as the kernel's UAPI headers define it for x86-64.
 * False for a name pagoda does not know. */
bool abi_lookup(const char *name, uint64_t *value);

/* Why a value could not be converted. */
struct abi_error {
    char message[160];  /* "unknown flag 'MAP_FOO'" */
    const char *ident;  /* the unknown identifier (for its column), or NULL */
};

/*
 * The register value a script value stands for: a number is itself (negative
 * numbers in two's complement); an identifier is looked up; a flag set is the OR of
 * its terms, A<<B a shift and A*B a product; NULL is 0; a string is the host address
 * of its bytes (NUL-terminated: paths and names); an fd decoration "3</path>" is the
 * descriptor; key=value is the value.  Returns 0, or -1 with *err filled.
 */
int abi_value(const struct script_value *v, uint64_t *out, struct abi_error *err);

#endif
