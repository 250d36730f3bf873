/*
 * The second chapter of `pagoda demo`: the story of an address space, told by a
 * script embedded in the binary and run by the script runner, with the maps after each
 * step.  Every step carries its expectations, so the demo also checks itself.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run.h"

struct step {
    const char *title;
    const char *script;
};

static const struct step steps[] = {
    {"A process as the kernel left it after exec (a listing from a real `cat`, loaded with load-maps):",
     "load-maps <<END\n"
     "555555554000-555555556000 r--p 00000000 fe:00 5123                       /usr/bin/cat\n"
     "555555556000-55555555b000 r-xp 00002000 fe:00 5123                       /usr/bin/cat\n"
     "55555555b000-55555555d000 r--p 00007000 fe:00 5123                       /usr/bin/cat\n"
     "55555555d000-55555555e000 rw-p 00009000 fe:00 5123                       /usr/bin/cat\n"
     "7ffff7fc5000-7ffff7fc9000 r--p 00000000 00:00 0                          [vvar]\n"
     "7ffff7fc9000-7ffff7fcb000 r--p 00000000 00:00 0                          [vvar_vclock]\n"
     "7ffff7fcb000-7ffff7fcd000 r-xp 00000000 00:00 0                          [vdso]\n"
     "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n"
     "END\n"
     "maps\n"},
    {"mmap 16 KiB anonymous: the top-down allocator takes the highest free gap below\n"
     "mmap_base (0x7ffff7fff000):",
     "mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7ffb000\n"},
    {"mmap 8 KiB more: it lands just below and, with the same flags and contiguous\n"
     "page offsets, merges into one VMA:",
     "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7ff9000\n"
     "maps\n"},
    {"mprotect one page in the middle read-only: the VMA splits in three:",
     "mprotect(0x7ffff7ffb000, 4096, PROT_READ) = 0\n"
     "maps\n"},
    {"Make it writable again: the three pieces merge back into one:",
     "mprotect(0x7ffff7ffb000, 4096, PROT_READ|PROT_WRITE) = 0\n"
     "maps\n"},
    {"munmap a page in the middle: two VMAs with a hole between them:",
     "munmap(0x7ffff7ffc000, 4096) = 0\n"
     "maps\n"},
    {"brk: the break starts right after the program's data; growing it creates [heap]:",
     "brk(NULL) = 0x55555555e000\n"
     "brk(0x55555557f000) = 0x55555557f000\n"
     "maps\n"},
    {"Errors are Linux's, with its precedence: an unaligned MAP_FIXED, a zero length, a\n"
     "taken MAP_FIXED_NOREPLACE range, an unknown mapping type:",
     "mmap(0x10000001, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = -1 EINVAL (Invalid argument)\n"
     "mmap(NULL, 0, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = -1 EINVAL (Invalid argument)\n"
     "mmap(0x7ffff7ff9000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE, -1, 0) = -1 EEXIST (File exists)\n"
     "mmap(NULL, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0) = -1 EINVAL (Invalid argument)\n"},
};

int cli_demo_address_space(FILE *out)
{
    struct run_options opt = {.verbose = true, .out = out};
    struct runner *r = runner_create(&opt);
    if (!r)
        return 1;
    fprintf(out, "\n== pagoda: an address space ==\n");
    int status = RUN_OK;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && status != RUN_ERROR; i++) {
        fprintf(out, "\n%s\n", steps[i].title);
        int rc = runner_run_text(r, "demo", steps[i].script, strlen(steps[i].script));
        if (rc > status)
            status = rc;
    }
    fputc('\n', out);
    runner_print_summary(r, out);
    runner_destroy(r);
    return status;
}
