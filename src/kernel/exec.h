/*
 * kernel/exec.h - the program loader: execve's construction of a new address space,
 * as Linux 6.18 does it in fs/exec.c (argument pages, setup_arg_pages),
 * fs/binfmt_script.c (#! interpreters), fs/binfmt_elf.c (ELF images and their
 * PT_INTERP loader) and arch/x86 (mmap layout, vDSO, randomization).
 *
 * The result is measured at the level of VMAs: after exec_load(), mm_print_maps() of
 * the new mm prints what /proc/PID/maps shows for the same program stopped right after
 * execve, byte for byte.  The [stack] start depends on the bytes of argv and envp; it
 * is exact when the caller gives them (strings_bytes), estimated otherwise.
 *
 * Only x86-64 ELF images are loaded (e_machine EM_X86_64, as binfmt_elf on x86-64);
 * 32-bit images, which the host would hand to compat_binfmt_elf, give ENOEXEC.
 * Nothing is read into guest memory: the image is a set of VMAs over host files.
 */
#ifndef PAGODA_KERNEL_EXEC_H
#define PAGODA_KERNEL_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include <pagoda/mm.h>
#include <pagoda/phys.h>

/* personality(2) bits the loader reads (include/uapi/linux/personality.h). */
#define EXEC_ADDR_NO_RANDOMIZE 0x0040000UL
#define EXEC_MMAP_PAGE_ZERO 0x0100000UL
#define EXEC_ADDR_COMPAT_LAYOUT 0x0200000UL
#define EXEC_READ_IMPLIES_EXEC 0x0400000UL

struct exec_args {
    const char *filename;      /* host path as given to execve (relative = host cwd) */
    const char *const *argv;   /* may be NULL (a replayed log may not show them) */
    int argc, envc;            /* counts (used when argv is NULL) */
    uint64_t strings_bytes;    /* bytes of argv+envp strings incl. NULs, 0 = estimate */
    unsigned long personality; /* ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, ADDR_COMPAT_LAYOUT ... */
    long uid, gid;             /* permission checks as this user */
    bool aslr;                 /* machine setting: randomize unless ADDR_NO_RANDOMIZE */
    uint64_t seed;             /* random source when randomizing */
};

struct exec_info {
    uint64_t entry;       /* where the program starts: the interpreter's entry if any */
    uint64_t interp_base; /* AT_BASE: the interpreter's load address, 0 without one */
    uint64_t load_bias;   /* added to the main image's p_vaddr (0 for ET_EXEC) */
    uint64_t stack_top;   /* end of the [stack] VMA (randomized stack top) */
    uint64_t phdr;        /* AT_PHDR: the program headers in memory, 0 if not loaded */
    uint64_t brk;         /* mm->start_brk == mm->brk */
    char interp[256];     /* PT_INTERP path, "" for a static image */
    int script_depth;     /* #! levels crossed before the ELF image */
    /* Additions beyond the original brief: */
    uint64_t start_stack; /* the initial stack pointer (mm->start_stack), below auxv */
    int fatal_signal;     /* on failure: 0 = execve returned the error (the old image
                             continues); SIGSEGV (11) = the failure came after the
                             point of no return, so Linux kills the process instead */
};

/*
 * Build a NEW mm holding the image, as the kernel does for execve.  0 with *out set,
 * or -errno exactly as Linux's execve returns it for failures before the point of no
 * return: EFAULT (no filename), ENOENT, ENOTDIR, ELOOP (#! nested more than 5 deep, or a
 * symlink loop), ENAMETOOLONG, EACCES (not executable for uid/gid, a directory, not a
 * regular file, a noexec mount), ENOEXEC (not ELF or #!, wrong machine or type, bad or
 * truncated program headers, bad PT_INTERP), EIO (PT_INTERP or the interpreter's header
 * cut short), ELIBBAD (the interpreter is not an x86-64 ELF), E2BIG (arguments beyond
 * the stack limit), ENOMEM.  Failures after the point of no return (a segment that
 * cannot be mapped, p_offset and p_vaddr not congruent, the stack not growable) return
 * -errno with info->fatal_signal = SIGSEGV: the caller must kill the process, as Linux
 * does.  The caller swaps the mm into the process on success.  info may be NULL.
 */
int exec_load(struct phys *phys, const struct mm_config *cfg, const struct exec_args *a, struct mm **out,
              struct exec_info *info);

#endif
