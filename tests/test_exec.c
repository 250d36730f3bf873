/*
 * The program loader (src/kernel/exec.c, src/mm/exec.c) against Linux 6.18.
 *
 * Part 1 runs pagoda alone: programs compiled here at test time (static, static-pie,
 * PIE, non-PIE) and ELF files written byte by byte (tests/elf/elfgen.h) with odd
 * layouts, #! scripts and every execve error; it asserts the exact maps text and the
 * exact errno.  Expected layouts were measured on the reference machine (setarch -R,
 * the program stopped right after execve); file lines take the device and inode of the
 * file on this machine.
 *
 * Part 2 is live: each program is started on the host under ptrace, stopped at the
 * exec trap with ADDR_NO_RANDOMIZE and a known environment, and its /proc/PID/maps is
 * compared byte for byte with what pagoda prints for the same argv and envp bytes
 * ([stack] included).  Failures compare too: execve's errno, or the SIGSEGV of a
 * failure after the point of no return.
 */
#include "support.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pagoda/mm.h>

#include "elf/elfgen.h"
#include "kernel/exec.h"

#define R EG_PF_R
#define W EG_PF_W
#define X EG_PF_X
#define STACK_END 0x7ffffffff000ULL
#define MMAP_BASE 0x7ffff7fff000ULL /* ASLR off, 8 MiB stack limit */
#define MAPS_MAX (1 << 16)
#define NOBODY 65534

static const char *const test_env[] = {"HOME=/", "A=1", NULL};

/* ---- the scratch directory and the files in it ---------------------------------------- */

static char g_dir[64];

/* A directory for this run's files, world-searchable so that uid 65534 can reach
 * them on the host; removed by main(). */
static const char *test_dir(void)
{
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof(g_dir), "/tmp/pagoda-exec-XXXXXX");
        assert_non_null(mkdtemp(g_dir));
        chmod(g_dir, 0755);
    }
    return g_dir;
}

/* dir/name, kept for the whole run (one copy per name). */
static const char *in_dir(const char *name)
{
    static struct {
        char name[32];
        char path[96];
    } paths[64];
    static int used;
    for (int i = 0; i < used; i++)
        if (!strcmp(paths[i].name, name))
            return paths[i].path;
    assert_true(used < 64 && strlen(name) < sizeof(paths[0].name));
    snprintf(paths[used].name, sizeof(paths[used].name), "%s", name);
    snprintf(paths[used].path, sizeof(paths[used].path), "%s/%s", test_dir(), name);
    return paths[used++].path;
}

/* A text file with this mode. */
static void write_text(const char *path, const char *text, unsigned mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

/* A program compiled with cc and these flags (once per run); NULL without a compiler. */
static const char *compiled(const char *name, const char *flags)
{
    const char *out = in_dir(name);
    if (access(out, X_OK) == 0)
        return out;
    const char *src = in_dir("prog.c");
    write_text(src, "int big[100000];\nint main(void) { return big[0]; }\n", 0644);
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof(cmd), "cc %s -o %s %s >/dev/null 2>&1", flags, out, src);
    return system(cmd) == 0 ? out : NULL;
}

/* A hand-made ELF file written to dir/name. */
static const char *handmade(const char *name, const struct eg_image *img, unsigned mode)
{
    const char *path = in_dir(name);
    assert_int_equal(eg_write(path, img, mode), 0);
    return path;
}

/* An empty ET_EXEC image description. */
static struct eg_image exec_image(uint64_t entry)
{
    struct eg_image img;
    memset(&img, 0, sizeof(img));
    img.type = EG_ET_EXEC;
    img.entry = entry;
    return img;
}

/* ---- running pagoda ------------------------------------------------------------------- */

struct outcome {
    int err;          /* 0, or -errno */
    int fatal_signal; /* set with err after the point of no return */
    char maps[MAPS_MAX];
    struct exec_info info;
};

struct exec_opts {
    unsigned long personality; /* beyond ADDR_NO_RANDOMIZE */
    long uid;
    bool aslr;                 /* randomize (personality then lacks ADDR_NO_RANDOMIZE) */
    uint64_t seed;
    int overcommit;
};

/* Bytes of the argv and envp strings, NULs included. */
static uint64_t strings_bytes(const char *const *argv, const char *const *envp)
{
    uint64_t n = 0;
    for (int i = 0; argv && argv[i]; i++)
        n += strlen(argv[i]) + 1;
    for (int i = 0; envp && envp[i]; i++)
        n += strlen(envp[i]) + 1;
    return n;
}

/* Entries of a NULL-terminated vector. */
static int count(const char *const *v)
{
    int n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* exec_load() of path with argv and test_env, the maps it leaves printed into o,
 * and the mm checked and destroyed. */
static void pagoda_exec(struct phys *phys, struct outcome *o, const char *path, const char *const *argv,
                        const struct exec_opts *opt)
{
    struct exec_opts none = {0};
    if (!opt)
        opt = &none;
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.overcommit = opt->overcommit;
    struct exec_args a = {.filename = path, .argv = argv, .envc = count(test_env),
                          .strings_bytes = strings_bytes(argv, test_env),
                          .personality = opt->personality | (opt->aslr ? 0 : EXEC_ADDR_NO_RANDOMIZE),
                          .uid = opt->uid, .gid = opt->uid, .aslr = true, .seed = opt->seed};
    struct mm *mm = NULL;
    memset(o, 0, sizeof(*o));
    o->err = exec_load(phys, &cfg, &a, &mm, &o->info);
    o->fatal_signal = o->info.fatal_signal;
    if (o->err) {
        assert_null(mm);
        return;
    }
    FILE *f = fmemopen(o->maps, sizeof(o->maps) - 1, "w");
    assert_non_null(f);
    mm_print_maps(mm, f);
    fclose(f);
    mm_check(mm);
    mm_destroy(mm);
}

/* ---- expected maps text ------------------------------------------------------------- */

struct vline {
    uint64_t start, end, off, ino;
    unsigned maj, min;
    char perms[5];
    char name[PATH_MAX];
};

struct layout {
    struct vline v[64];
    int n;
};

/* A new line [start, end) with perms; the caller fills the rest. */
static void add_line(struct layout *L, uint64_t start, uint64_t end, const char *perms)
{
    assert_true(L->n < 64);
    struct vline *v = &L->v[L->n++];
    memset(v, 0, sizeof(*v));
    v->start = start;
    v->end = end;
    snprintf(v->perms, sizeof(v->perms), "%s", perms);
}

/* A line of file `path` (its device, inode and resolved name on this machine). */
static void add_file(struct layout *L, uint64_t start, uint64_t end, const char *perms, uint64_t off,
                     const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    add_line(L, start, end, perms);
    struct vline *v = &L->v[L->n - 1];
    v->off = off;
    v->maj = major(st.st_dev);
    v->min = minor(st.st_dev);
    v->ino = st.st_ino;
    assert_non_null(realpath(path, v->name));
}

/* An anonymous line, named ([stack], [vdso] ...) or not. */
static void add_anon(struct layout *L, uint64_t start, uint64_t end, const char *perms, const char *name)
{
    add_line(L, start, end, perms);
    snprintf(L->v[L->n - 1].name, PATH_MAX, "%s", name ? name : "");
}

/* [vvar] (4 pages), [vvar_vclock] (2) and [vdso] (2) ending at top. */
static void add_vdso(struct layout *L, uint64_t top)
{
    add_anon(L, top - 0x8000, top - 0x4000, "r--p", "[vvar]");
    add_anon(L, top - 0x4000, top - 0x2000, "r--p", "[vvar_vclock]");
    add_anon(L, top - 0x2000, top, "r-xp", "[vdso]");
}

/* The initial stack for `bytes` of strings (filename, argv, envp): the argument
 * pages plus 128 KiB, below STACK_TOP. */
static void add_stack(struct layout *L, uint64_t bytes, const char *perms)
{
    uint64_t args = (8 + bytes + 4095) & ~4095ULL;
    add_anon(L, STACK_END - args - 0x20000, STACK_END, perms, "[stack]");
}

/* qsort() order: by start address. */
static int by_start(const void *a, const void *b)
{
    const struct vline *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The layout as /proc/PID/maps prints it, [vsyscall] last. */
static void render(struct layout *L, char *out, size_t size)
{
    qsort(L->v, (size_t)L->n, sizeof(L->v[0]), by_start);
    size_t len = 0;
    for (int i = 0; i < L->n; i++) {
        const struct vline *v = &L->v[i];
        char line[PATH_MAX + 128];
        int n = snprintf(line, sizeof(line), "%08" PRIx64 "-%08" PRIx64 " %s %08" PRIx64 " %02x:%02x %" PRIu64 " ",
                         v->start, v->end, v->perms, v->off, v->maj, v->min, v->ino);
        if (v->name[0])
            n += snprintf(line + n, sizeof(line) - (size_t)n, "%*s%s", n < 73 ? 73 - n : 0, "", v->name);
        len += (size_t)snprintf(out + len, size - len, "%s\n", line);
    }
    snprintf(out + len, size - len, "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n");
}

/* The program headers of an ELF file on this machine. */
static int read_phdrs(const char *path, Elf64_Ehdr *eh, Elf64_Phdr *ph, int max)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, eh, sizeof(*eh), 0), (ssize_t)sizeof(*eh));
    assert_true(eh->e_phnum <= max);
    ssize_t want = (ssize_t)(eh->e_phnum * sizeof(*ph));
    assert_int_equal(pread(fd, ph, (size_t)want, (off_t)eh->e_phoff), want);
    close(fd);
    return eh->e_phnum;
}

/* An ordinary image (ascending, non-overlapping PT_LOADs) of path at bias: a file line
 * per segment and an anonymous line for bss beyond the file's last page. */
static void add_image(struct layout *L, const char *path, uint64_t bias)
{
    Elf64_Ehdr eh;
    Elf64_Phdr ph[64];
    int n = read_phdrs(path, &eh, ph, 64);
    for (int i = 0; i < n; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        char perms[5] = {ph[i].p_flags & PF_R ? 'r' : '-', ph[i].p_flags & PF_W ? 'w' : '-',
                         ph[i].p_flags & PF_X ? 'x' : '-', 'p', 0};
        uint64_t start = (bias + ph[i].p_vaddr) & ~4095ULL;
        uint64_t fend = (bias + ph[i].p_vaddr + ph[i].p_filesz + 4095) & ~4095ULL;
        uint64_t mend = (bias + ph[i].p_vaddr + ph[i].p_memsz + 4095) & ~4095ULL;
        if (ph[i].p_filesz)
            add_file(L, start, fend, perms, ph[i].p_offset & ~4095ULL, path);
        if (mend > fend)
            add_anon(L, ph[i].p_filesz ? fend : start, mend, ph[i].p_flags & PF_X ? "rwxp" : "rw-p", NULL);
    }
}

/* Bytes from an image's first PT_LOAD page to its furthest p_memsz end. */
static uint64_t image_span(const char *path)
{
    Elf64_Ehdr eh;
    Elf64_Phdr ph[64];
    int n = read_phdrs(path, &eh, ph, 64);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < n; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        lo = (ph[i].p_vaddr & ~4095ULL) < lo ? ph[i].p_vaddr & ~4095ULL : lo;
        hi = ph[i].p_vaddr + ph[i].p_memsz > hi ? ph[i].p_vaddr + ph[i].p_memsz : hi;
    }
    return hi - lo;
}

/* The interpreter an image asks for, or "" when static. */
static void image_interp(const char *path, char *out, size_t size)
{
    Elf64_Ehdr eh;
    Elf64_Phdr ph[64];
    int n = read_phdrs(path, &eh, ph, 64);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (ph[i].p_type != PT_INTERP)
            continue;
        int fd = open(path, O_RDONLY);
        assert_true(fd >= 0 && ph[i].p_filesz < size);
        assert_int_equal(pread(fd, out, ph[i].p_filesz, (off_t)ph[i].p_offset), (ssize_t)ph[i].p_filesz);
        close(fd);
    }
}

/* Maps of an ordinary program without randomization: the image at 0x555555554000
 * (PIE) or its own addresses, a static PIE or the interpreter packed below mmap_base,
 * the vDSO below them, the stack for `bytes` of strings. */
static void expect_program(char *out, size_t size, const char *path, uint64_t bytes)
{
    static struct layout L;
    Elf64_Ehdr eh;
    Elf64_Phdr ph[64];
    read_phdrs(path, &eh, ph, 64);
    char interp[PATH_MAX];
    image_interp(path, interp, sizeof(interp));
    L.n = 0;
    uint64_t low = MMAP_BASE;
    if (eh.e_type == ET_DYN && !interp[0]) {
        low = (MMAP_BASE - image_span(path)) & ~4095ULL;
        add_image(&L, path, low);
    } else {
        add_image(&L, path, eh.e_type == ET_DYN ? 0x555555554000ULL : 0);
    }
    if (interp[0]) {
        low = (MMAP_BASE - ((image_span(interp) + 4095) & ~4095ULL));
        add_image(&L, interp, low);
    }
    add_vdso(&L, low);
    add_stack(&L, bytes, "rw-p");
    render(&L, out, size);
}

/* ---- part 1: compiled programs -------------------------------------------------------- */

/* One compiled program: pagoda's maps equal the expected layout, and the loader
 * reports the interpreter and the stack it used. */
static void check_compiled(const char *name, const char *flags, bool dynamic)
{
    if (system("cc --version >/dev/null 2>&1") != 0)
        skip();
    const char *path = compiled(name, flags);
    assert_non_null(path);
    struct phys *phys = test_phys(0, false);
    static struct outcome o;
    const char *argv[] = {path, NULL};
    pagoda_exec(phys, &o, path, argv, NULL);
    assert_int_equal(o.err, 0);
    static char want[MAPS_MAX];
    expect_program(want, sizeof(want), path, strlen(path) + 1 + strings_bytes(argv, test_env));
    assert_string_equal(o.maps, want);
    assert_int_equal(o.info.stack_top, STACK_END);
    assert_string_equal(o.info.interp, dynamic ? "/lib64/ld-linux-x86-64.so.2" : "");
    assert_int_equal(o.info.interp_base != 0, dynamic);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* The four ways cc links a program, each as check_compiled() describes. */
static void test_compiled_static(void **state)
{
    (void)state;
    check_compiled("static", "-static -no-pie", false);
}

static void test_compiled_static_pie(void **state)
{
    (void)state;
    check_compiled("static-pie", "-static-pie", false);
}

static void test_compiled_pie(void **state)
{
    (void)state;
    check_compiled("pie", "-fPIE -pie", true);
}

static void test_compiled_non_pie(void **state)
{
    (void)state;
    check_compiled("non-pie", "-no-pie", true);
}

/* /usr/bin/true as the reference machine showed it, and its initial stack pointer
 * (0x7fffffffee20 there for argv {"/usr/bin/true"} and envp {"A=1"}). */
static void test_real_program_true(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    static struct outcome o;
    struct mm_config cfg;
    mm_config_default(&cfg);
    const char *argv[] = {"/usr/bin/true", NULL};
    struct exec_args a = {.filename = "/usr/bin/true", .argv = argv, .envc = 1, .strings_bytes = 14 + 4,
                          .personality = EXEC_ADDR_NO_RANDOMIZE, .aslr = true};
    struct mm *mm;
    assert_int_equal(exec_load(phys, &cfg, &a, &mm, &o.info), 0);
    assert_int_equal(o.info.start_stack, 0x7fffffffee20ULL);
    assert_int_equal(mm->start_stack, 0x7fffffffee20ULL);
    assert_int_equal(o.info.load_bias, 0x555555554000ULL);
    assert_int_equal(o.info.phdr, 0x555555554040ULL);
    assert_int_equal(o.info.interp_base, 0x7ffff7fca000ULL);
    assert_int_equal(mm->start_brk, mm->brk);
    assert_int_equal(o.info.brk, mm->brk);
    mm_check(mm);
    mm_destroy(mm);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* ---- part 1: hand-made images -------------------------------------------------------- */

/* pagoda's maps of a hand-made image equal the layout L (vDSO and stack added). */
static void check_handmade(struct phys *phys, const char *path, struct layout *L, uint64_t vdso_top,
                           const char *stack_perms, const struct exec_opts *opt)
{
    static struct outcome o;
    static char want[MAPS_MAX];
    const char *argv[] = {path, NULL};
    pagoda_exec(phys, &o, path, argv, opt);
    assert_int_equal(o.err, 0);
    add_vdso(L, vdso_top);
    add_stack(L, strlen(path) + 1 + strings_bytes(argv, test_env), stack_perms);
    render(L, want, sizeof(want));
    assert_string_equal(o.maps, want);
}

/* exec_load() of path fails with err (and the SIGSEGV of a late failure if fatal). */
static void check_error(struct phys *phys, const char *path, int err, bool fatal, const struct exec_opts *opt)
{
    static struct outcome o;
    const char *argv[] = {path ? path : "x", NULL};
    pagoda_exec(phys, &o, path, argv, opt);
    assert_int_equal(o.err, err);
    assert_int_equal(o.fatal_signal, fatal ? SIGSEGV : 0);
}

/* An image of several PT_LOADs with gaps between them. */
static const char *make_gaps(void)
{
    struct eg_image img = exec_image(0x401000);
    eg_add(&img, EG_PT_LOAD, R, 0, 0x400000, 0x200, 0x200, 0x1000);
    eg_add(&img, EG_PT_LOAD, R | X, 0x1000, 0x401000, 0x1000, 0x1000, 0x1000);
    eg_add(&img, EG_PT_LOAD, R | W, 0x2100, 0x600100, 0x800, 0x3000, 0x1000);
    eg_add(&img, EG_PT_LOAD, R, 0x3000, 0x800000, 0x10, 0x10, 0x1000);
    eg_add(&img, EG_PT_GNU_STACK, R | W, 0, 0, 0, 0, 16);
    return handmade("gaps", &img, 0755);
}

/* Each PT_LOAD its own VMA, the RW one's bss right after it. */
static void test_segments_with_gaps(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    const char *path = make_gaps();
    static struct layout L;
    L.n = 0;
    add_file(&L, 0x400000, 0x401000, "r--p", 0, path);
    add_file(&L, 0x401000, 0x402000, "r-xp", 0x1000, path);
    add_file(&L, 0x600000, 0x601000, "rw-p", 0x2000, path);
    add_anon(&L, 0x601000, 0x604000, "rw-p", NULL);
    add_file(&L, 0x800000, 0x801000, "r--p", 0x3000, path);
    check_handmade(phys, path, &L, MMAP_BASE, "rw-p", NULL);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* An image of one RWX segment with bss and no PT_GNU_STACK. */
static const char *make_rwx(void)
{
    struct eg_image img = exec_image(0x401000);
    eg_add(&img, EG_PT_LOAD, R | W | X, 0, 0x400000, 0x1800, 0x5000, 0x1000);
    return handmade("rwx", &img, 0755);
}

/* Both parts of the RWX segment are rwx; without PT_GNU_STACK the stack stays rw. */
static void test_rwx_segment(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    const char *path = make_rwx();
    static struct layout L;
    L.n = 0;
    add_file(&L, 0x400000, 0x402000, "rwxp", 0, path);
    add_anon(&L, 0x402000, 0x405000, "rwxp", NULL);
    check_handmade(phys, path, &L, MMAP_BASE, "rw-p", NULL);
    /* READ_IMPLIES_EXEC changes nothing for a 64-bit image: exec clears it. */
    L.n = 0;
    add_file(&L, 0x400000, 0x402000, "rwxp", 0, path);
    add_anon(&L, 0x402000, 0x405000, "rwxp", NULL);
    struct exec_opts rie = {.personality = EXEC_READ_IMPLIES_EXEC};
    check_handmade(phys, path, &L, MMAP_BASE, "rw-p", &rie);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* PT_GNU_STACK with PF_X makes the stack executable; the last PT_GNU_STACK counts. */
static void test_executable_stack(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    struct eg_image img = exec_image(0x401000);
    eg_add(&img, EG_PT_LOAD, R | X, 0, 0x400000, 0x1800, 0x1800, 0x1000);
    eg_add(&img, EG_PT_GNU_STACK, R | W | X, 0, 0, 0, 0, 16);
    const char *path = handmade("xstack", &img, 0755);
    static struct layout L;
    L.n = 0;
    add_file(&L, 0x400000, 0x402000, "r-xp", 0, path);
    check_handmade(phys, path, &L, MMAP_BASE, "rwxp", NULL);
    eg_add(&img, EG_PT_GNU_STACK, R | W, 0, 0, 0, 0, 16);
    path = handmade("twostack", &img, 0755);
    L.n = 0;
    add_file(&L, 0x400000, 0x402000, "r-xp", 0, path);
    check_handmade(phys, path, &L, MMAP_BASE, "rw-p", NULL);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* 1 GiB of bss: one anonymous VMA after the file page.  With 256 MiB of RAM and
 * heuristic overcommit vm_brk_flags refuses the charge: ENOMEM, after the point of no
 * return, so the process dies. */
static void test_huge_bss(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    struct eg_image img = exec_image(0x401000);
    eg_add(&img, EG_PT_LOAD, R | X, 0, 0x400000, 0x1000, 0x1000, 0x1000);
    eg_add(&img, EG_PT_LOAD, R | W, 0x1000, 0x601000, 0x100, 0x40000000, 0x1000);
    eg_add(&img, EG_PT_GNU_STACK, R | W, 0, 0, 0, 0, 16);
    const char *path = handmade("hugebss", &img, 0755);
    static struct layout L;
    L.n = 0;
    add_file(&L, 0x400000, 0x401000, "r-xp", 0, path);
    add_file(&L, 0x601000, 0x602000, "rw-p", 0x1000, path);
    add_anon(&L, 0x602000, 0x40601000, "rw-p", NULL);
    struct exec_opts always = {.overcommit = 1};
    check_handmade(phys, path, &L, MMAP_BASE, "rw-p", &always);
    check_error(phys, path, -ENOMEM, true, NULL);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Segments without file bytes become anonymous (rwx when PF_X); a bss-only segment
 * right after another's bss joins it (vm_brk_flags merges). */
static void test_bss_only_segments(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    struct eg_image img = exec_image(0x401000);
    eg_add(&img, EG_PT_LOAD, R | X, 0, 0x400000, 0x1000, 0x1000, 0x1000);
    eg_add(&img, EG_PT_LOAD, R | W, 0x1000, 0x601000, 0, 0x2800, 0x1000);
    eg_add(&img, EG_PT_LOAD, R | W, 0x1000, 0x603800, 0, 0x800, 0x1000);
    eg_add(&img, EG_PT_LOAD, R | X, 0x1000, 0x605000, 0, 0x1000, 0x1000);
    const char *path = handmade("zerofile", &img, 0755);
    static struct layout L;
    L.n = 0;
    add_file(&L, 0x400000, 0x401000, "r-xp", 0, path);
    add_anon(&L, 0x601000, 0x604000, "rw-p", NULL);
    add_anon(&L, 0x605000, 0x606000, "rwxp", NULL);
    check_handmade(phys, path, &L, MMAP_BASE, "rw-p", NULL);
    /* A later segment maps over an earlier one's bss (MAP_FIXED). */
    img = exec_image(0x401000);
    eg_add(&img, EG_PT_LOAD, R | W, 0, 0x400000, 0x1000, 0x5000, 0x1000);
    eg_add(&img, EG_PT_LOAD, R | X, 0x1000, 0x402000, 0x1000, 0x1000, 0x1000);
    path = handmade("overlap", &img, 0755);
    L.n = 0;
    add_file(&L, 0x400000, 0x401000, "rw-p", 0, path);
    add_anon(&L, 0x401000, 0x402000, "rw-p", NULL);
    add_file(&L, 0x402000, 0x403000, "r-xp", 0x1000, path);
    add_anon(&L, 0x403000, 0x405000, "rw-p", NULL);
    check_handmade(phys, path, &L, MMAP_BASE, "rw-p", NULL);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* p_align: a PIE's ELF_ET_DYN_BASE rounded down to 2 MiB, a static PIE placed by a
 * probe mapping in the mmap area and aligned there. */
static void test_load_alignment(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    struct eg_image img;
    memset(&img, 0, sizeof(img));
    img.type = EG_ET_DYN;
    img.entry = 0x1000;
    img.interp = "/lib64/ld-linux-x86-64.so.2";
    eg_add(&img, EG_PT_INTERP, R, 0x200, 0x200, 28, 28, 1);
    eg_add(&img, EG_PT_LOAD, R, 0, 0, 0x300, 0x300, 0x200000);
    eg_add(&img, EG_PT_LOAD, R | X, 0x1000, 0x201000, 0x1000, 0x1000, 0x200000);
    eg_add(&img, EG_PT_LOAD, R | W, 0x2000, 0x402000, 0x100, 0x2000, 0x200000);
    const char *path = handmade("pie2m", &img, 0755);
    static struct layout L;
    L.n = 0;
    add_file(&L, 0x555555400000, 0x555555401000, "r--p", 0, path);
    add_file(&L, 0x555555601000, 0x555555602000, "r-xp", 0x1000, path);
    add_file(&L, 0x555555802000, 0x555555803000, "rw-p", 0x2000, path);
    add_anon(&L, 0x555555803000, 0x555555804000, "rw-p", NULL);
    uint64_t ld = MMAP_BASE - ((image_span(img.interp) + 4095) & ~4095ULL);
    add_image(&L, img.interp, ld);
    check_handmade(phys, path, &L, ld, "rw-p", NULL);
    img.seg[0].type = 0; /* no PT_INTERP: a static PIE */
    path = handmade("spie2m", &img, 0755);
    L.n = 0;
    add_file(&L, 0x7ffff7a00000, 0x7ffff7a01000, "r--p", 0, path);
    add_file(&L, 0x7ffff7c01000, 0x7ffff7c02000, "r-xp", 0x1000, path);
    add_file(&L, 0x7ffff7e02000, 0x7ffff7e03000, "rw-p", 0x2000, path);
    add_anon(&L, 0x7ffff7e03000, 0x7ffff7e04000, "rw-p", NULL);
    check_handmade(phys, path, &L, MMAP_BASE, "rw-p", NULL);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* A file cut short: program headers past the end or a cut ELF header are ENOEXEC;
 * segments past the end still map (pages beyond EOF are only a fault's business),
 * but clearing a writable bss page that lies beyond EOF faults: EFAULT, fatal. */
static void test_truncated_files(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    struct eg_image img = exec_image(0x401000);
    eg_add(&img, EG_PT_LOAD, R | X, 0, 0x400000, 0x1000, 0x1000, 0x1000);
    eg_add(&img, EG_PT_LOAD, R | W, 0, 0x600000, 0x1000, 0x1000, 0x1000);
    img.truncate_at = 100;
    check_error(phys, handmade("trunc_ph", &img, 0755), -ENOEXEC, false, NULL);
    img.truncate_at = 40;
    check_error(phys, handmade("trunc_hdr", &img, 0755), -ENOEXEC, false, NULL);
    img.truncate_at = 0x800;
    const char *path = handmade("trunc_seg", &img, 0755);
    static struct layout L;
    L.n = 0;
    add_file(&L, 0x400000, 0x401000, "r-xp", 0, path);
    add_file(&L, 0x600000, 0x601000, "rw-p", 0, path);
    check_handmade(phys, path, &L, MMAP_BASE, "rw-p", NULL);
    img = exec_image(0x401000);
    eg_add(&img, EG_PT_LOAD, R | X, 0, 0x400000, 0x1000, 0x1000, 0x1000);
    eg_add(&img, EG_PT_LOAD, R | W, 0x3000, 0x603000, 0x800, 0x3000, 0x1000);
    img.file_size = 0x2000;
    check_error(phys, handmade("bsseof", &img, 0755), -EFAULT, true, NULL);
    img.seg[1].flags = R; /* not writable: the failed clear is ignored */
    path = handmade("robss", &img, 0755);
    L.n = 0;
    add_file(&L, 0x400000, 0x401000, "r-xp", 0, path);
    add_file(&L, 0x603000, 0x604000, "r--p", 0x3000, path);
    add_anon(&L, 0x604000, 0x606000, "rw-p", NULL);
    check_handmade(phys, path, &L, MMAP_BASE, "rw-p", NULL);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Headers Linux refuses before the point of no return, and those it only finds out
 * after it (the process is then killed with SIGSEGV). */
static void test_bad_headers(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    struct eg_image img = exec_image(0x401000);
    eg_add(&img, EG_PT_LOAD, R | X, 0, 0x400000, 0x1000, 0x1000, 0x1000);
    img.machine = EG_EM_386;
    check_error(phys, handmade("em386", &img, 0755), -ENOEXEC, false, NULL);
    img.machine = 0;
    img.type = EG_ET_REL;
    check_error(phys, handmade("etrel", &img, 0755), -ENOEXEC, false, NULL);
    img.type = EG_ET_EXEC;
    img.nseg = 0;
    check_error(phys, handmade("nophdr", &img, 0755), -ENOEXEC, false, NULL);
    /* p_offset and p_vaddr disagree modulo the page: mmap's EINVAL, fatal. */
    img = exec_image(0x401000);
    eg_add(&img, EG_PT_LOAD, R | X, 0x100, 0x400000, 0x1000, 0x1000, 0x1000);
    check_error(phys, handmade("incongruent", &img, 0755), -EINVAL, true, NULL);
    img.seg[0] = (struct eg_seg){EG_PT_LOAD, R | X, 0, 0x400000, 0x2000, 0x1000, 0x1000};
    check_error(phys, handmade("fileszbig", &img, 0755), -EINVAL, true, NULL);
    img.seg[0] = (struct eg_seg){EG_PT_LOAD, R | X, 0, 0x7ffffffde000, 0x1000, 0x1000, 0x1000};
    check_error(phys, handmade("atstack", &img, 0755), -EEXIST, true, NULL);
    img = exec_image(0xffff800000000000ULL);
    eg_add(&img, EG_PT_LOAD, R | X, 0, 0x400000, 0x1000, 0x1000, 0x1000);
    check_error(phys, handmade("badentry", &img, 0755), -EINVAL, true, NULL);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* PT_INTERP problems: missing (ENOENT), not executable (EACCES), not x86-64
 * (ELIBBAD), no NUL at its end (ENOEXEC). */
static void test_interpreter_errors(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    struct eg_image bad = exec_image(0x401000);
    eg_add(&bad, EG_PT_LOAD, R | X, 0, 0x400000, 0x1000, 0x1000, 0x1000);
    bad.machine = EG_EM_386;
    const char *i386 = handmade("i386", &bad, 0755);
    struct eg_image img;
    memset(&img, 0, sizeof(img));
    img.type = EG_ET_DYN;
    img.entry = 0x1000;
    eg_add(&img, EG_PT_INTERP, R, 0x200, 0x200, 19, 19, 1);
    eg_add(&img, EG_PT_LOAD, R | X, 0, 0, 0x1000, 0x1000, 0x1000);
    img.interp = "/nonexistent/ld.so";
    check_error(phys, handmade("badinterp", &img, 0755), -ENOENT, false, NULL);
    img.interp = "/etc/passwd";
    img.seg[0].filesz = 12;
    check_error(phys, handmade("textinterp", &img, 0755), -EACCES, false, NULL);
    img.interp = i386;
    img.seg[0].filesz = strlen(i386) + 1;
    check_error(phys, handmade("386interp", &img, 0755), -ELIBBAD, false, NULL);
    img.interp = "/lib64/ld-linux-x86-64.so.2";
    img.seg[0].filesz = 5;
    check_error(phys, handmade("unterminated", &img, 0755), -ENOEXEC, false, NULL);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Files that are not programs, and paths that lead nowhere. */
static void test_not_executable(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    write_text(in_dir("text"), "hello\n", 0755);
    check_error(phys, in_dir("text"), -ENOEXEC, false, NULL);
    write_text(in_dir("empty"), "", 0755);
    check_error(phys, in_dir("empty"), -ENOEXEC, false, NULL);
    check_error(phys, test_dir(), -EACCES, false, NULL);
    check_error(phys, in_dir("missing"), -ENOENT, false, NULL);
    check_error(phys, in_dir("text/x"), -ENOTDIR, false, NULL);
    check_error(phys, "", -ENOENT, false, NULL);
    check_error(phys, NULL, -EFAULT, false, NULL);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Execute permission as root and as nobody: root needs one x bit; nobody needs the
 * "other" x bit, and not read permission (an execute-only program loads). */
static void test_permissions(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    if (!compiled("non-pie", "-no-pie"))
        skip();
    struct exec_opts nobody = {.uid = NOBODY};
    const char *names[] = {"mode644", "mode700", "mode711"};
    const unsigned modes[] = {0644, 0700, 0711};
    const int root_err[] = {-EACCES, 0, 0}, nobody_err[] = {-EACCES, -EACCES, 0};
    for (int i = 0; i < 3; i++) {
        char cmd[3 * PATH_MAX];
        snprintf(cmd, sizeof(cmd), "cp %s %s && chmod %o %s", compiled("non-pie", "-no-pie"), in_dir(names[i]),
                 modes[i], in_dir(names[i]));
        assert_int_equal(system(cmd), 0);
        static struct outcome o;
        const char *argv[] = {in_dir(names[i]), NULL};
        pagoda_exec(phys, &o, in_dir(names[i]), argv, NULL);
        assert_int_equal(o.err, root_err[i]);
        pagoda_exec(phys, &o, in_dir(names[i]), argv, &nobody);
        assert_int_equal(o.err, nobody_err[i]);
    }
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Stack bytes of a #! script run: the strings before and after binfmt_script rewrote
 * argv (argv[0] out; script path, optional argument and interpreter in). */
static uint64_t script_bytes(const char *path, const char *const *argv, const char *arg, const char *interp)
{
    uint64_t before = strlen(path) + 1 + strings_bytes(argv, test_env);
    uint64_t after = before - (strlen(argv[0]) + 1) + strlen(path) + 1 + (arg ? strlen(arg) + 1 : 0) +
                     strlen(interp) + 1;
    return before > after ? before : after;
}

/* #! with an argument: the interpreter (dash) is what gets loaded; argv grows. */
static void test_script(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    const char *path = in_dir("script");
    write_text(path, "#!/bin/sh -e  x \necho hi\n", 0755);
    static struct outcome o;
    static char want[MAPS_MAX];
    const char *argv[] = {"script", "a", NULL};
    pagoda_exec(phys, &o, path, argv, NULL);
    assert_int_equal(o.err, 0);
    expect_program(want, sizeof(want), "/bin/sh", script_bytes(path, argv, "-e  x", "/bin/sh"));
    assert_string_equal(o.maps, want);
    assert_int_equal(o.info.script_depth, 1);
    assert_string_equal(o.info.interp, "/lib64/ld-linux-x86-64.so.2");
    write_text(in_dir("blank"), "#!   \n", 0755);
    check_error(phys, in_dir("blank"), -ENOEXEC, false, NULL);
    write_text(in_dir("noent"), "#!/nonexistent\n", 0755);
    check_error(phys, in_dir("noent"), -ENOENT, false, NULL);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Scripts interpreted by scripts: five levels load, a sixth is ELOOP. */
static void test_script_nesting(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    char name[16], text[PATH_MAX];
    for (int i = 1; i <= 6; i++) {
        snprintf(name, sizeof(name), "nest%d", i - 1);
        snprintf(text, sizeof(text), "#!%s\n", i == 1 ? "/bin/sh" : in_dir(name));
        snprintf(name, sizeof(name), "nest%d", i);
        write_text(in_dir(name), text, 0755);
    }
    static struct outcome o;
    const char *argv[] = {"nest", NULL};
    pagoda_exec(phys, &o, in_dir("nest5"), argv, NULL);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.info.script_depth, 5);
    pagoda_exec(phys, &o, in_dir("nest6"), argv, NULL);
    assert_int_equal(o.err, -ELOOP);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* The [stack] line of a maps text ("" if none). */
static void stack_line(const char *maps, char *out, size_t size)
{
    const char *s = strstr(maps, "[stack]");
    out[0] = '\0';
    if (!s)
        return;
    const char *b = s;
    while (b > maps && b[-1] != '\n')
        b--;
    snprintf(out, size, "%.*s", (int)(s + 7 - b), b);
}

/* argv of /usr/bin/true and n copies of a len-byte string (allocated). */
static const char **many_args(long n, size_t len)
{
    const char **v = calloc((size_t)n + 2, sizeof(char *));
    char *s = malloc(len + 1);
    assert_true(v && s);
    memset(s, 'y', len);
    s[len] = '\0';
    v[0] = "/usr/bin/true";
    for (long i = 1; i <= n; i++)
        v[i] = s;
    return v;
}

/* Free what many_args() made. */
static void free_args(const char **v)
{
    if (v[1])
        free((void *)v[1]);
    free(v);
}

/* Argument sizes as the reference machine took them: the [stack] start follows the
 * strings, the pointers may extend it further, and E2BIG falls where Linux puts it. */
static void test_argument_limits(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    static struct outcome o;
    char line[256];
    const struct {
        long n;
        size_t len;
        int err;
        const char *stack;
    } cases[] = {
        {1, 5000, 0, "7ffffffdd000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]"},
        {1, 131071, 0, "7ffffffbe000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]"},
        {1, 131072, -E2BIG, ""},
        {19239, 100, 0, "7fffffdfe000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]"},
        {19240, 100, -E2BIG, ""},
        {200000, 0, 0, "7fffffe47000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]"},
        {240000, 0, -E2BIG, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char **argv = many_args(cases[i].n, cases[i].len);
        pagoda_exec(phys, &o, "/usr/bin/true", argv, NULL);
        free_args(argv);
        assert_int_equal(o.err, cases[i].err);
        stack_line(o.maps, line, sizeof(line));
        assert_string_equal(line, cases[i].stack);
    }
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* Personalities: ADDR_COMPAT_LAYOUT loads bottom-up from TASK_SIZE/3; MMAP_PAGE_ZERO
 * maps page 0 for root only (others may not map below dac_mmap_min_addr). */
static void test_personality(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    static struct outcome o;
    const char *argv[] = {"/usr/bin/true", NULL};
    struct exec_opts compat = {.personality = EXEC_ADDR_COMPAT_LAYOUT};
    pagoda_exec(phys, &o, "/usr/bin/true", argv, &compat);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.info.interp_base, 0x2aaaaaaab000ULL);
    assert_non_null(strstr(o.maps, "2aaaaaae0000-2aaaaaae4000 r--p 00000000 00:00 0                          [vvar]\n"
                                   "2aaaaaae4000-2aaaaaae6000 r--p 00000000 00:00 0                          "
                                   "[vvar_vclock]\n2aaaaaae6000-2aaaaaae8000 r-xp 00000000 00:00 0                "
                                   "          [vdso]\n555555554000-555555556000 r--p"));
    struct exec_opts zero = {.personality = EXEC_MMAP_PAGE_ZERO};
    pagoda_exec(phys, &o, "/usr/bin/true", argv, &zero);
    const char *page0 = "00000000-00001000 r-xp 00000000 00:00 0 \n555555554000-";
    assert_int_equal(strncmp(o.maps, page0, strlen(page0)), 0);
    zero.uid = NOBODY;
    pagoda_exec(phys, &o, "/usr/bin/true", argv, &zero);
    assert_int_equal(strncmp(o.maps, "555555554000-", 13), 0);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* The first address of the line naming `name` in a maps text. */
static uint64_t line_start(const char *maps, const char *name)
{
    const char *s = strstr(maps, name);
    assert_non_null(s);
    while (s > maps && s[-1] != '\n')
        s--;
    return strtoull(s, NULL, 16);
}

/* Randomization: a seed fixes the layout; the places move within Linux's ranges
 * (PIE base 28 bits of pages above ELF_ET_DYN_BASE, stack top 22 bits of pages
 * below STACK_TOP, the vDSO and interpreter packed under mmap_base, brk within 1 GiB
 * after the bss and a page). */
static void test_randomization(void **state)
{
    (void)state;
    struct phys *phys = test_phys(0, false);
    static struct outcome a, b;
    const char *argv[] = {"/usr/bin/true", NULL};
    struct exec_opts rnd = {.aslr = true, .seed = 42};
    pagoda_exec(phys, &a, "/usr/bin/true", argv, &rnd);
    pagoda_exec(phys, &b, "/usr/bin/true", argv, &rnd);
    assert_int_equal(a.err, 0);
    assert_string_equal(a.maps, b.maps);
    assert_int_equal(a.info.brk, b.info.brk);
    for (uint64_t seed = 1; seed < 40; seed++) {
        rnd.seed = seed;
        pagoda_exec(phys, &b, "/usr/bin/true", argv, &rnd);
        assert_int_equal(b.err, 0);
        assert_string_not_equal(a.maps, b.maps);
        uint64_t bias = b.info.load_bias;
        assert_true(bias >= 0x555555554000ULL && bias < 0x555555554000ULL + (1ULL << 40) && !(bias & 4095));
        uint64_t top = b.info.stack_top;
        assert_true(top <= STACK_END && top > STACK_END - (1ULL << 34) - 8192);
        uint64_t vdso = line_start(b.maps, "[vvar]");
        assert_int_equal(vdso + 0x8000, b.info.interp_base);
        assert_true(b.info.interp_base < STACK_END - (1ULL << 34) - (9ULL << 20) &&
                    b.info.interp_base > STACK_END - (1ULL << 41));
        uint64_t bss_end = bias + ((image_span("/usr/bin/true") + 4095) & ~4095ULL);
        assert_true(b.info.brk >= bss_end + 4096 && b.info.brk < bss_end + 4096 + (1ULL << 30));
    }
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* ---- part 2: live comparison with the host ------------------------------------------ */

/* What the host did with one execve. */
struct host_result {
    int err;         /* execve's errno as -errno */
    int signal;      /* the signal that stopped or killed it before the exec trap */
    bool no_ptrace;  /* PTRACE_TRACEME was refused */
    char maps[MAPS_MAX];
};

/* The child: personality, credentials, ptrace, execve; reports failures through fd. */
static void host_child(int fd, const char *path, const char *const *argv, unsigned long pers, long uid)
{
    int tag[2] = {0, 0};
    if (uid >= 0 && (setgid((gid_t)uid) || setuid((uid_t)uid)))
        _exit(126);
    personality(pers);
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) {
        tag[0] = 'P';
        tag[1] = errno;
        if (write(fd, tag, sizeof(tag)) < 0)
            _exit(125);
        _exit(127);
    }
    execve(path, (char *const *)argv, (char *const *)test_env);
    tag[0] = 'E';
    tag[1] = errno;
    if (write(fd, tag, sizeof(tag)) < 0)
        _exit(125);
    _exit(127);
}

/* Read /proc/pid/maps whole. */
static void read_maps(pid_t pid, char *out, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    fclose(f);
}

/* Run path on the host up to its exec trap (ADDR_NO_RANDOMIZE | pers, as uid when
 * uid >= 0) and take its maps; or the errno or signal that ended it. */
static void host_exec(struct host_result *h, const char *path, const char *const *argv, unsigned long pers, long uid)
{
    memset(h, 0, sizeof(*h));
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        host_child(fds[1], path, argv, ADDR_NO_RANDOMIZE | pers, uid);
    close(fds[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    int tag[2];
    if (WIFSTOPPED(status)) {
        read_maps(pid, h->maps, sizeof(h->maps));
        if (WSTOPSIG(status) != SIGTRAP)
            h->signal = WSTOPSIG(status);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    } else if (read(fds[0], tag, sizeof(tag)) == (ssize_t)sizeof(tag)) {
        h->no_ptrace = tag[0] == 'P';
        h->err = -tag[1];
    } else if (WIFSIGNALED(status)) {
        h->signal = WTERMSIG(status);
    }
    close(fds[0]);
}

struct live_case {
    const char *path;
    const char *const *argv; /* NULL: {path} */
    unsigned long pers;
    long uid;                /* -1: as we are */
};

/* One live case: the host's and pagoda's results agree exactly.  False when the host
 * cannot be traced. */
static bool compare_live(struct phys *phys, const struct live_case *c)
{
    static struct host_result h;
    static struct outcome o;
    const char *own_argv[] = {c->path, NULL};
    const char *const *argv = c->argv ? c->argv : own_argv;
    host_exec(&h, c->path, argv, c->pers, c->uid);
    if (h.no_ptrace)
        return false;
    struct exec_opts opt = {.personality = c->pers, .uid = c->uid < 0 ? (long)geteuid() : c->uid};
    pagoda_exec(phys, &o, c->path, argv, &opt);
    if (h.signal || o.fatal_signal) {
        /* Killed after the point of no return: same signal, whatever was mapped. */
        assert_int_equal(o.fatal_signal, h.signal);
        return true;
    }
    if (o.err != h.err)
        fprintf(stderr, "%s: host %d pagoda %d\n", c->path, h.err, o.err);
    assert_int_equal(o.err, h.err);
    if (strcmp(o.maps, h.maps))
        fprintf(stderr, "%s differs:\n--- host\n%s--- pagoda\n%s", c->path, h.maps, o.maps);
    assert_string_equal(o.maps, h.maps);
    return true;
}

/* The hand-made images of part 1 and a few more, written again for the live run. */
static void make_live_images(void)
{
    make_gaps();
    make_rwx();
    struct eg_image img = exec_image(0x401000);
    eg_add(&img, EG_PT_LOAD, R | X, 0x100, 0x400000, 0x1000, 0x1000, 0x1000);
    handmade("live_incongruent", &img, 0755);
    img.seg[0].offset = 0;
    img.truncate_at = 100;
    eg_add(&img, EG_PT_LOAD, R | W, 0x1000, 0x601000, 0x100, 0x40000000, 0x1000);
    handmade("live_trunc", &img, 0755);
    img.truncate_at = 0;
    handmade("live_hugebss", &img, 0755);
    img.machine = EG_EM_386;
    handmade("live_em386", &img, 0755);
    img.machine = 0;
    img.type = EG_ET_REL;
    handmade("live_etrel", &img, 0755);
    write_text(in_dir("live_text"), "just text\n", 0755);
    write_text(in_dir("live_script"), "#!/bin/sh -x\nexit 0\n", 0755);
    write_text(in_dir("live_script2"), "#! /usr/bin/env  bash -c\n", 0755);
}

/* Real programs, compiled ones, hand-made images, scripts, argument sizes,
 * personalities and another user: host and pagoda agree on every one. */
static void test_live_against_host(void **state)
{
    (void)state;
    struct phys *phys = test_phys(4ULL << 30, false); /* the hugebss image needs its 1 GiB charged */
    bool have_cc = system("cc --version >/dev/null 2>&1") == 0;
    make_live_images();
    const char *script_argv[] = {"live_script", "arg one", NULL};
    const char *long_argv[] = {"/usr/bin/ls", "-l", "--color=never", "/tmp", "/usr/share/doc/some-long-name", NULL};
    struct live_case cases[64];
    int n = 0;
    const char *reals[] = {"/usr/bin/true", "/usr/bin/ls", "/usr/bin/bash", "/usr/bin/python3", "/usr/bin/perl",
                           "/usr/bin/cat", "/bin/sh", "/usr/bin/dash", "/usr/bin/gdb", "/usr/bin/env",
                           "/usr/bin/git", "/lib64/ld-linux-x86-64.so.2"};
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++)
        if (access(reals[i], X_OK) == 0)
            cases[n++] = (struct live_case){reals[i], NULL, 0, -1};
    if (have_cc) {
        cases[n++] = (struct live_case){compiled("static", "-static -no-pie"), NULL, 0, -1};
        cases[n++] = (struct live_case){compiled("static-pie", "-static-pie"), NULL, 0, -1};
        cases[n++] = (struct live_case){compiled("pie", "-fPIE -pie"), NULL, 0, -1};
        cases[n++] = (struct live_case){compiled("non-pie", "-no-pie"), NULL, 0, -1};
        cases[n++] = (struct live_case){compiled("non-pie", "-no-pie"), NULL, PER_LINUX | ADDR_COMPAT_LAYOUT, -1};
        cases[n++] = (struct live_case){compiled("static", "-static -no-pie"), NULL, MMAP_PAGE_ZERO, -1};
    }
    const char *names[] = {"gaps", "rwx", "live_incongruent", "live_trunc", "live_hugebss", "live_em386",
                           "live_etrel", "live_text", "live_script2"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        cases[n++] = (struct live_case){in_dir(names[i]), NULL, 0, -1};
    cases[n++] = (struct live_case){in_dir("live_script"), script_argv, 0, -1};
    cases[n++] = (struct live_case){"/usr/bin/ls", long_argv, 0, -1};
    cases[n++] = (struct live_case){"/usr/bin/true", NULL, READ_IMPLIES_EXEC, -1};
    cases[n++] = (struct live_case){in_dir("rwx"), NULL, ADDR_COMPAT_LAYOUT, -1};
    cases[n++] = (struct live_case){test_dir(), NULL, 0, -1};
    cases[n++] = (struct live_case){in_dir("missing"), NULL, 0, -1};
    if (geteuid() == 0) {
        chmod(in_dir("rwx"), 0711);
        cases[n++] = (struct live_case){in_dir("rwx"), NULL, 0, NOBODY};
        cases[n++] = (struct live_case){"/etc/passwd", NULL, 0, NOBODY};
        cases[n++] = (struct live_case){in_dir("live_script"), script_argv, 0, NOBODY};
    }
    const long sizes[][2] = {{1, 5000}, {1, 131072}, {19239, 100}, {19240, 100}, {200000, 0}};
    const char **big[5];
    for (int i = 0; i < 5; i++) {
        big[i] = many_args(sizes[i][0], (size_t)sizes[i][1]);
        cases[n++] = (struct live_case){"/usr/bin/true", big[i], 0, -1};
    }
    int compared = 0;
    for (int i = 0; i < n; i++) {
        if (!cases[i].path)
            continue;
        if (!compare_live(phys, &cases[i])) {
            fprintf(stderr, "live comparison skipped: ptrace is not permitted here\n");
            for (int j = 0; j < 5; j++)
                free_args(big[j]);
            phys_destroy(phys);
            skip();
        }
        compared++;
    }
    for (int i = 0; i < 5; i++)
        free_args(big[i]);
    fprintf(stderr, "live: %d executions compared with the host\n", compared);
    assert_true(compared >= 8);
    test_leak_audit(phys);
    phys_destroy(phys);
}

/* ---- main ------------------------------------------------------------------------------ */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compiled_static),
        cmocka_unit_test(test_compiled_static_pie),
        cmocka_unit_test(test_compiled_pie),
        cmocka_unit_test(test_compiled_non_pie),
        cmocka_unit_test(test_real_program_true),
        cmocka_unit_test(test_segments_with_gaps),
        cmocka_unit_test(test_rwx_segment),
        cmocka_unit_test(test_executable_stack),
        cmocka_unit_test(test_huge_bss),
        cmocka_unit_test(test_bss_only_segments),
        cmocka_unit_test(test_load_alignment),
        cmocka_unit_test(test_truncated_files),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_interpreter_errors),
        cmocka_unit_test(test_not_executable),
        cmocka_unit_test(test_permissions),
        cmocka_unit_test(test_script),
        cmocka_unit_test(test_script_nesting),
        cmocka_unit_test(test_argument_limits),
        cmocka_unit_test(test_personality),
        cmocka_unit_test(test_randomization),
        cmocka_unit_test(test_live_against_host),
    };
    int rc = cmocka_run_group_tests_name("exec", tests, NULL, NULL);
    if (g_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g_dir);
    }
    return rc;
}
