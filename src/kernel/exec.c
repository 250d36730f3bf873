/*
 * execve's program loader, after Linux 6.18: fs/exec.c (opening the file, the
 * argument strings and their limits, the binfmt search with its nesting limit),
 * fs/binfmt_script.c (#!) and fs/binfmt_elf.c (ELF images and their PT_INTERP).
 *
 * The work splits at Linux's point of no return (begin_new_exec).  Everything before
 * it only reads files and checks; its failures are execve's return value.  After it a
 * new mm is built: layout, stack, segments, bss, interpreter, vDSO, brk; a failure
 * there kills the process in Linux, so it is reported with fatal_signal = SIGSEGV.
 */
#include "kernel/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hw/bug.h"

/* ---- constants (include/uapi/linux/elf.h, binfmts.h, x86 asm/elf.h) ----------------- */

#define EPT_LOAD 1
#define EPT_INTERP 3
#define EPT_GNU_STACK 0x6474e551U
#define EPF_X 1U
#define EPF_W 2U
#define EPF_R 4U
#define EET_EXEC 2
#define EET_DYN 3
#define EEM_X86_64 62
#define EHDR_SIZE 64
#define PHDR_SIZE 56
#define ELF_MIN_ALIGN PAGE_SIZE

#define BINPRM_BUF_SIZE 256
#define MAX_ARG_STRLEN (32 * PAGE_SIZE)
#define MAX_ARG_STRINGS 0x7fffffffLL
#define ARG_MAX_BYTES (32 * PAGE_SIZE) /* ARG_MAX: the floor of the strings limit */
#define STK_LIM (8ULL << 20)           /* _STK_LIM */
#define BINFMT_MAX_DEPTH 5             /* exec_binprm(): "depth > 5" is ELOOP */
#define EXEC_PATH_MAX 4096
#define ELF_PLATFORM_LEN 7             /* "x86_64" and its NUL */
#define AT_RANDOM_LEN 16
#define AUXV_PAIRS 23 /* 22 entries on 6.18 x86-64 (LD_SHOW_AUXV) and AT_NULL */

#define EXEC_PROT_READ 1
#define EXEC_PROT_WRITE 2
#define EXEC_PROT_EXEC 4

#define PAGE_ALIGN(x) (((x) + PAGE_SIZE - 1) & PAGE_MASK)
#define ELF_PAGESTART(v) ((v) & ~(uint64_t)(ELF_MIN_ALIGN - 1))
#define ELF_PAGEOFFSET(v) ((v) & (ELF_MIN_ALIGN - 1))
#define ELF_PAGEALIGN(v) (((v) + ELF_MIN_ALIGN - 1) & ~(uint64_t)(ELF_MIN_ALIGN - 1))

/* IS_ERR_VALUE(): the top 4095 values carry -errno. */
static bool is_err_value(uint64_t x)
{
    return x >= (uint64_t)-4095;
}

/* A C string into dst, cut to fit. */
static void copy_truncated(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- ELF headers ------------------------------------------------------------------------ */

struct elf_hdr {
    unsigned char ident[16];
    uint16_t type, machine, phentsize, phnum;
    uint64_t entry, phoff;
};

struct elf_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz, align;
};

/* One ELF file's headers: what load_elf_binary keeps of the program or interpreter. */
struct elf_file {
    struct mm_file *file;
    struct elf_hdr eh;
    struct elf_phdr *ph;
    int phnum;
};

/* Little-endian loads. */
static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const unsigned char *p) { return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

/* The ELF header fields the loader reads, from its 64 bytes. */
static void decode_ehdr(const unsigned char *b, struct elf_hdr *eh)
{
    memcpy(eh->ident, b, 16);
    eh->type = get16(b + 16);
    eh->machine = get16(b + 18);
    eh->entry = get64(b + 24);
    eh->phoff = get64(b + 32);
    eh->phentsize = get16(b + 54);
    eh->phnum = get16(b + 56);
}

/* One 56-byte program header. */
static void decode_phdr(const unsigned char *b, struct elf_phdr *ph)
{
    ph->type = get32(b);
    ph->flags = get32(b + 4);
    ph->offset = get64(b + 8);
    ph->vaddr = get64(b + 16);
    ph->filesz = get64(b + 32);
    ph->memsz = get64(b + 40);
    ph->align = get64(b + 48);
}

/* elf_read(): exactly len bytes at pos, else -EIO (a short read) or the read's error. */
static int elf_read(const struct mm_file *f, void *buf, size_t len, uint64_t pos)
{
    if (f->host_fd < 0)
        return -EIO;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(f->host_fd, (char *)buf + done, len - done, (off_t)(pos + done));
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        done += (size_t)n;
    }
    return 0;
}

/* The checks load_elf_binary and load_elf_interp share: ELF magic, x86-64.  */
static bool elf_is_x86_64(const struct elf_hdr *eh)
{
    return !memcmp(eh->ident, "\177ELF", 4) && eh->machine == EEM_X86_64;
}

/* load_elf_phdrs(): the program header table, 1..4096 bytes of 56-byte entries read
 * whole.  0, or -1 when any of that fails (callers pick ENOEXEC or ELIBBAD). */
static int load_elf_phdrs(struct elf_file *ef)
{
    uint64_t size = (uint64_t)PHDR_SIZE * ef->eh.phnum;
    if (ef->eh.phentsize != PHDR_SIZE || size == 0 || size > 65536 || size > ELF_MIN_ALIGN)
        return -1;
    unsigned char raw[ELF_MIN_ALIGN];
    if (elf_read(ef->file, raw, (size_t)size, ef->eh.phoff))
        return -1;
    ef->ph = calloc(ef->eh.phnum, sizeof(*ef->ph));
    if (!ef->ph)
        return -1;
    ef->phnum = ef->eh.phnum;
    for (int i = 0; i < ef->phnum; i++)
        decode_phdr(raw + PHDR_SIZE * i, &ef->ph[i]);
    return 0;
}

/* Drop an elf_file's headers and file reference. */
static void elf_file_release(struct elf_file *ef)
{
    free(ef->ph);
    if (ef->file)
        mm_file_put(ef->file);
    memset(ef, 0, sizeof(*ef));
}

/* ---- opening an executable ------------------------------------------------------------- */

/* generic_permission(MAY_EXEC) without ACLs: root needs one x bit, others the bit of
 * their class (owner, group, other). */
static bool may_exec(const struct stat *st, long uid, long gid)
{
    if (uid == 0)
        return (st->st_mode & 0111) != 0;
    mode_t bits = uid == (long)st->st_uid ? st->st_mode >> 6 : gid == (long)st->st_gid ? st->st_mode >> 3 : st->st_mode;
    return bits & 1;
}

/* do_open_execat(): the path resolved (ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG), a
 * regular file (a directory or device is EACCES), executable by uid/gid and not on a
 * noexec mount (EACCES).  Read access is not needed.  NULL with *err on failure. */
static struct mm_file *open_exec(const char *path, long uid, long gid, int *err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        *err = -errno;
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || !may_exec(&st, uid, gid)) {
        *err = -EACCES;
        return NULL;
    }
    struct mm_file *f = mm_file_open_as(path, O_RDONLY, 0, 0, err);
    if (f && f->noexec) {
        mm_file_put(f);
        *err = -EACCES;
        return NULL;
    }
    return f;
}

/* ---- the argument strings (struct linux_binprm) ---------------------------------------- */

struct binprm {
    const struct exec_args *a;
    struct mm_file *file;                /* the file the next handler reads */
    unsigned char buf[BINPRM_BUF_SIZE + 1];
    char interp[EXEC_PATH_MAX];          /* bprm->interp: argv[0] for a #! level */
    uint64_t used;                       /* string bytes below the top pointer slot */
    uint64_t used_max;                   /* the most ever used: the argument pages */
    uint64_t limit;                      /* how far bprm->p may go down (argmin) */
    uint64_t stack_rlimit;
    uint64_t argv0_len;                  /* bytes of the current argv[0] with its NUL */
    long argc, envc;
    int script_depth;
};

/* bprm->p moves len bytes down: E2BIG past the strings limit (argmin), or when the
 * argument pages would outgrow RLIMIT_STACK (get_arg_page cannot expand the stack). */
static int take_bytes(struct binprm *b, uint64_t len)
{
    b->used += len;
    if (b->used > b->limit)
        return -E2BIG;
    if (b->used > b->used_max)
        b->used_max = b->used;
    if (PAGE_ALIGN(sizeof(uint64_t) + b->used_max) > b->stack_rlimit)
        return -E2BIG;
    return 0;
}

/* copy_string_kernel(): one string of len bytes (NUL included), at most
 * MAX_ARG_STRLEN.  0 or -E2BIG. */
static int push_string(struct binprm *b, uint64_t len)
{
    return len > MAX_ARG_STRLEN ? -E2BIG : take_bytes(b, len);
}

/* bprm_stack_limits(): the strings may take a quarter of the stack limit, at most 3/4
 * of _STK_LIM and at least ARG_MAX, less the argv/envp pointers.  0 or -E2BIG. */
static int stack_limits(struct binprm *b)
{
    if (b->argc > MAX_ARG_STRINGS || b->envc > MAX_ARG_STRINGS)
        return -E2BIG;
    uint64_t limit = STK_LIM / 4 * 3;
    if (limit > b->stack_rlimit / 4)
        limit = b->stack_rlimit / 4;
    if (limit < ARG_MAX_BYTES)
        limit = ARG_MAX_BYTES;
    uint64_t ptr_size = ((uint64_t)(b->argc > 1 ? b->argc : 1) + (uint64_t)b->envc) * sizeof(uint64_t);
    if (limit <= ptr_size)
        return -E2BIG;
    b->limit = limit - ptr_size;
    return 0;
}

/* Bytes of argv's and envp's strings: the caller's count when given, else argv's own
 * strings (when known) and a typical 32 bytes per environment string. */
static uint64_t strings_estimate(const struct binprm *b)
{
    const struct exec_args *a = b->a;
    if (a->strings_bytes)
        return a->strings_bytes;
    uint64_t n = 0;
    for (long i = 0; i < b->argc; i++)
        n += a->argv ? strlen(a->argv[i]) + 1 : 16;
    return n + 32 * (uint64_t)b->envc;
}

/* do_execveat_common() from counting to copying: the filename (AT_EXECFN), the
 * environment and arguments (one block of strings_bytes), and "" when argv is empty.
 * 0 or -E2BIG. */
static int copy_arguments(struct binprm *b)
{
    const struct exec_args *a = b->a;
    b->argc = a->argc;
    if (a->argv)
        for (b->argc = 0; a->argv[b->argc]; b->argc++)
            if (b->argc == MAX_ARG_STRINGS)
                return -E2BIG;
    b->envc = a->envc;
    if (b->argc < 0 || b->envc < 0)
        return -EFAULT;
    int err = stack_limits(b);
    if (!err)
        err = push_string(b, strlen(a->filename) + 1);
    for (long i = 0; !err && a->argv && i < b->argc; i++)
        if (strlen(a->argv[i]) + 1 > MAX_ARG_STRLEN)
            err = -E2BIG;
    if (!err)
        err = take_bytes(b, strings_estimate(b));
    if (err)
        return err;
    if (b->argc == 0) {
        b->argc = 1;
        b->argv0_len = 1;
        return push_string(b, 1);
    }
    b->argv0_len = a->argv ? strlen(a->argv[0]) + 1 : strlen(a->filename) + 1;
    return 0;
}

/* prepare_binprm(): the first 256 bytes of the file, zero-padded. */
static int read_head(struct binprm *b)
{
    memset(b->buf, 0, sizeof(b->buf));
    if (b->file->host_fd < 0)
        return -EIO;
    ssize_t n = pread(b->file->host_fd, b->buf, BINPRM_BUF_SIZE, 0);
    return n < 0 ? -errno : 0;
}

/* ---- #! (fs/binfmt_script.c) ---------------------------------------------------------- */

/* binfmt_script's blanks: space and tab only. */
static bool spacetab(char c)
{
    return c == ' ' || c == '\t';
}

/* The first non-blank in [first, last], or NULL. */
static char *next_non_spacetab(char *first, const char *last)
{
    for (; first <= last; first++)
        if (!spacetab(*first))
            return first;
    return NULL;
}

/* The first blank or NUL in [first, last], or NULL. */
static char *next_terminator(char *first, const char *last)
{
    for (; first <= last; first++)
        if (spacetab(*first) || !*first)
            return first;
    return NULL;
}

/* Parse "#!name [arg]" in buf (NUL-terminated in place): *name and *arg (NULL when
 * none).  The interpreter path may not be cut by the 256-byte buffer; the argument is
 * everything after it, trimmed, as one string.  0 or -ENOEXEC. */
static int parse_shebang(char *buf, char **name, char **arg)
{
    if (buf[0] != '#' || buf[1] != '!')
        return -ENOEXEC;
    char *buf_end = buf + BINPRM_BUF_SIZE - 1;
    char *i_end = memchr(buf, '\n', BINPRM_BUF_SIZE);
    if (!i_end) {
        i_end = next_non_spacetab(buf + 2, buf_end);
        if (!i_end || !next_terminator(i_end, buf_end))
            return -ENOEXEC; /* all blanks, or a path the buffer cuts */
        i_end = buf_end;
    }
    while (spacetab(i_end[-1]))
        i_end--;
    char *i_name = next_non_spacetab(buf + 2, i_end);
    if (!i_name || i_name == i_end)
        return -ENOEXEC;
    char *i_arg = NULL, *i_sep = next_terminator(i_name, i_end);
    if (i_sep && *i_sep)
        i_arg = next_non_spacetab(i_sep, i_end);
    *i_end = '\0';
    if (i_arg)
        *i_sep = '\0';
    *name = i_name;
    *arg = i_arg;
    return 0;
}

/* load_script(): argv[0] replaced by the script's path, preceded by the interpreter
 * and its optional argument; then the interpreter is opened for the next round.
 * 0 with *next, or -errno. */
static int load_script(struct binprm *b, struct mm_file **next)
{
    char *name, *arg;
    int err = parse_shebang((char *)b->buf, &name, &arg);
    if (err)
        return err;
    if (b->argc) { /* remove_arg_zero(): bprm->p moves up, the pages stay */
        b->used -= b->argv0_len < b->used ? b->argv0_len : b->used;
        b->argc--;
    }
    err = push_string(b, strlen(b->interp) + 1);
    b->argc++;
    if (!err && arg) {
        err = push_string(b, strlen(arg) + 1);
        b->argc++;
    }
    if (!err) {
        err = push_string(b, strlen(name) + 1);
        b->argc++;
    }
    if (err)
        return err;
    b->argv0_len = strlen(name) + 1;
    copy_truncated(b->interp, sizeof(b->interp), name); /* bprm_change_interp() */
    *next = open_exec(name, b->a->uid, b->a->gid, &err);
    return *next ? 0 : err;
}

/* ---- ELF before the point of no return ------------------------------------------------- */

/* What load_elf_binary learned before begin_new_exec(). */
struct elf_plan {
    struct elf_file main, interp;
    char interp_path[EXEC_PATH_MAX];
    enum mm_exec_stack exstack;
};

/* Drop what elf_prepare() gathered (the program's file belongs to the binprm). */
static void elf_plan_release(struct elf_plan *pl)
{
    pl->main.file = NULL; /* borrowed from the binprm */
    elf_file_release(&pl->main);
    elf_file_release(&pl->interp);
}

/* The PT_INTERP segment: its path read (EIO if cut, ENOEXEC if not NUL-terminated or
 * of a bad size), the interpreter opened (open_exec's errors) and its ELF header read
 * (EIO if short). */
static int elf_open_interp(struct elf_plan *pl, const struct elf_phdr *ph, const struct exec_args *a)
{
    if (ph->filesz > EXEC_PATH_MAX || ph->filesz < 2)
        return -ENOEXEC;
    char path[EXEC_PATH_MAX];
    int err = elf_read(pl->main.file, path, ph->filesz, ph->offset);
    if (err)
        return err;
    if (path[ph->filesz - 1] != '\0')
        return -ENOEXEC;
    copy_truncated(pl->interp_path, sizeof(pl->interp_path), path);
    pl->interp.file = open_exec(path, a->uid, a->gid, &err);
    if (!pl->interp.file)
        return err;
    unsigned char raw[EHDR_SIZE];
    err = elf_read(pl->interp.file, raw, sizeof(raw), 0);
    if (!err)
        decode_ehdr(raw, &pl->interp.eh);
    return err;
}

/* load_elf_binary() up to begin_new_exec(): the header (ENOEXEC unless an x86-64
 * ET_EXEC/ET_DYN), the program headers, PT_INTERP and its interpreter (ELIBBAD unless
 * an x86-64 ELF with readable program headers), PT_GNU_STACK. */
static int elf_prepare(struct binprm *b, struct elf_plan *pl)
{
    struct elf_file *m = &pl->main;
    m->file = b->file;
    decode_ehdr(b->buf, &m->eh);
    if (memcmp(m->eh.ident, "\177ELF", 4) || (m->eh.type != EET_EXEC && m->eh.type != EET_DYN) ||
        !elf_is_x86_64(&m->eh) || !m->file->mmappable || load_elf_phdrs(m))
        return -ENOEXEC;
    for (int i = 0; i < m->phnum; i++) {
        if (m->ph[i].type != EPT_INTERP)
            continue;
        int err = elf_open_interp(pl, &m->ph[i], b->a);
        if (err)
            return err;
        break;
    }
    pl->exstack = MM_EXSTACK_DEFAULT;
    for (int i = 0; i < m->phnum; i++)
        if (m->ph[i].type == EPT_GNU_STACK)
            pl->exstack = (m->ph[i].flags & EPF_X) ? MM_EXSTACK_ENABLE_X : MM_EXSTACK_DISABLE_X;
    if (pl->interp.file && (!elf_is_x86_64(&pl->interp.eh) || load_elf_phdrs(&pl->interp)))
        return -ELIBBAD;
    return 0;
}

/* ---- ELF after the point of no return ------------------------------------------------- */

/* The state of one image being built. */
struct elf_build {
    struct mm *mm;
    struct mm_exec_rng rng;
    bool randomize;
};

/* BAD_ADDR(): not a user address - also every -errno carried as a value. */
static bool bad_addr(const struct mm *mm, uint64_t x)
{
    return x >= mm->task_size;
}

/* make_prot(): PF_R/W/X to PROT_READ/WRITE/EXEC (x86 adds nothing). */
static int make_prot(uint32_t p_flags)
{
    return (p_flags & EPF_R ? EXEC_PROT_READ : 0) | (p_flags & EPF_W ? EXEC_PROT_WRITE : 0) |
           (p_flags & EPF_X ? EXEC_PROT_EXEC : 0);
}

/* vm_mmap(): a file mapping at an offset that must be page aligned. */
static uint64_t vm_mmap(struct mm *mm, struct mm_file *f, uint64_t addr, uint64_t len, int prot, int flags,
                        uint64_t off)
{
    if (off + PAGE_ALIGN(len) < off || (off & ~PAGE_MASK))
        return (uint64_t)-EINVAL;
    return (uint64_t)mm_mmap(mm, addr, len, (uint64_t)prot, (uint64_t)flags, f, off >> PAGE_SHIFT);
}

/* elf_map(): the file part of a segment.  With total_size (the first segment of an
 * ET_DYN image) the whole image's extent is reserved by this mapping and the part
 * beyond the segment given back, so the later segments land inside. */
static uint64_t elf_map(struct mm *mm, struct mm_file *f, uint64_t addr, const struct elf_phdr *ph, int prot,
                        int type, uint64_t total_size)
{
    uint64_t size = ELF_PAGEALIGN(ph->filesz + ELF_PAGEOFFSET(ph->vaddr));
    uint64_t off = ph->offset - ELF_PAGEOFFSET(ph->vaddr);
    addr = ELF_PAGESTART(addr);
    if (!size)
        return addr;
    if (!total_size)
        return vm_mmap(mm, f, addr, size, prot, type, off);
    total_size = ELF_PAGEALIGN(total_size);
    uint64_t map_addr = vm_mmap(mm, f, addr, total_size, prot, type, off);
    if (!bad_addr(mm, map_addr) && total_size > size)
        mm_munmap(mm, map_addr + size, total_size - size);
    return map_addr;
}

/* padzero(): clear the rest of the page after the file bytes.  The write faults
 * (-EFAULT) when the page is not writable or lies wholly beyond the end of the file
 * (SIGBUS from the page cache); it COWs the page otherwise. */
static int padzero(struct mm *mm, uint64_t zero_start)
{
    if (!ELF_PAGEOFFSET(zero_start))
        return 0;
    struct vm_area *v = mm_vma_lookup(mm, zero_start);
    if (!v || !(v->flags & VM_WRITE))
        return -EFAULT;
    if (v->file) {
        uint64_t page = v->pgoff + ((ELF_PAGESTART(zero_start) - vma_start(v)) >> PAGE_SHIFT);
        if (page >= (v->file->size + PAGE_SIZE - 1) >> PAGE_SHIFT)
            return -EFAULT;
    }
    mm_exec_kernel_write(mm, zero_start);
    return 0;
}

/* elf_load(): a segment's file part, then its memory beyond the file as anonymous
 * zero pages (vm_brk_flags, executable if the segment is).  The segment's mapped
 * address, or -errno as a value bad_addr() refuses. */
static uint64_t elf_load(struct mm *mm, struct mm_file *f, uint64_t addr, const struct elf_phdr *ph, int prot,
                         int type, uint64_t total_size)
{
    uint64_t map_addr, zero_start = 0, zero_end = 0;
    if (ph->filesz) {
        map_addr = elf_map(mm, f, addr, ph, prot, type, total_size);
        if (bad_addr(mm, map_addr))
            return map_addr;
        if (ph->memsz > ph->filesz) {
            zero_start = map_addr + ELF_PAGEOFFSET(ph->vaddr) + ph->filesz;
            zero_end = map_addr + ELF_PAGEOFFSET(ph->vaddr) + ph->memsz;
            if (padzero(mm, zero_start) && (prot & EXEC_PROT_WRITE))
                return (uint64_t)-EFAULT;
        }
    } else {
        map_addr = zero_start = ELF_PAGESTART(addr);
        zero_end = zero_start + ELF_PAGEOFFSET(ph->vaddr) + ph->memsz;
    }
    if (ph->memsz > ph->filesz) {
        zero_start = ELF_PAGEALIGN(zero_start);
        zero_end = ELF_PAGEALIGN(zero_end);
        int err = mm_exec_brk_flags(mm, zero_start, zero_end - zero_start,
                                    (prot & EXEC_PROT_EXEC) ? VM_EXEC : 0);
        if (err)
            map_addr = (uint64_t)(int64_t)err;
    }
    return map_addr;
}

/* total_mapping_size(): from the first PT_LOAD's page to the furthest p_memsz end. */
static uint64_t total_mapping_size(const struct elf_file *ef)
{
    uint64_t min_addr = UINT64_MAX, max_addr = 0;
    bool pt_load = false;
    for (int i = 0; i < ef->phnum; i++) {
        const struct elf_phdr *ph = &ef->ph[i];
        if (ph->type != EPT_LOAD)
            continue;
        min_addr = ELF_PAGESTART(ph->vaddr) < min_addr ? ELF_PAGESTART(ph->vaddr) : min_addr;
        max_addr = ph->vaddr + ph->memsz > max_addr ? ph->vaddr + ph->memsz : max_addr;
        pt_load = true;
    }
    return pt_load ? max_addr - min_addr : 0;
}

/* maximum_alignment(): the largest power-of-two p_align of PT_LOADs, page aligned. */
static uint64_t maximum_alignment(const struct elf_file *ef)
{
    uint64_t alignment = 0;
    for (int i = 0; i < ef->phnum; i++) {
        uint64_t a = ef->ph[i].align;
        if (ef->ph[i].type == EPT_LOAD && a && !(a & (a - 1)) && a > alignment)
            alignment = a;
    }
    return ELF_PAGEALIGN(alignment);
}

/* Where the program's segments went (load_elf_binary's locals). */
struct elf_layout {
    uint64_t load_bias, phdr_addr, elf_brk, start_code, end_code, start_data, end_data;
};

/* The first PT_LOAD of an ET_DYN program: pick load_bias.  With an interpreter, near
 * ELF_ET_DYN_BASE (+ mmap randomness); without one (a static PIE or a loader run
 * directly), in the mmap area - found by a probe mapping when p_align asks for more
 * than a page.  Returns the MAP_FIXED_NOREPLACE flag to add, or -errno. */
static int64_t dyn_load_bias(struct elf_build *eb, const struct elf_file *m, const struct elf_phdr *ph,
                             bool has_interp, uint64_t total_size, struct elf_layout *lay)
{
    uint64_t alignment = maximum_alignment(m);
    int64_t extra = 0;
    if (has_interp) {
        lay->load_bias = MM_EXEC_ELF_ET_DYN_BASE + mm_exec_mmap_rnd(&eb->rng);
        if (alignment)
            lay->load_bias &= ~(alignment - 1);
        extra = PGD_MAP_FIXED_NOREPLACE;
    } else if (alignment > ELF_MIN_ALIGN) {
        uint64_t probe = elf_load(eb->mm, m->file, 0, ph, make_prot(ph->flags), PGD_MAP_PRIVATE, total_size);
        if (bad_addr(eb->mm, probe))
            return is_err_value(probe) ? (int64_t)probe : -EINVAL;
        mm_munmap(eb->mm, probe, total_size);
        lay->load_bias = probe & ~(alignment - 1);
        extra = PGD_MAP_FIXED_NOREPLACE;
    } else {
        lay->load_bias = 0;
    }
    lay->load_bias = ELF_PAGESTART(lay->load_bias - ph->vaddr);
    return extra;
}

/* The bookkeeping after each of the program's PT_LOADs: AT_PHDR, code/data extents,
 * brk, and the size check (EINVAL) load_elf_binary makes. */
static int account_segment(const struct mm *mm, const struct elf_file *m, const struct elf_phdr *ph,
                           struct elf_layout *lay)
{
    if (ph->offset <= m->eh.phoff && m->eh.phoff < ph->offset + ph->filesz)
        lay->phdr_addr = m->eh.phoff - ph->offset + ph->vaddr;
    uint64_t k = ph->vaddr;
    if ((ph->flags & EPF_X) && k < lay->start_code)
        lay->start_code = k;
    if (lay->start_data < k)
        lay->start_data = k;
    if (bad_addr(mm, k) || ph->filesz > ph->memsz || ph->memsz > mm->task_size || mm->task_size - ph->memsz < k)
        return -EINVAL;
    k = ph->vaddr + ph->filesz;
    if ((ph->flags & EPF_X) && lay->end_code < k)
        lay->end_code = k;
    if (lay->end_data < k)
        lay->end_data = k;
    k = ph->vaddr + ph->memsz;
    if (k > lay->elf_brk)
        lay->elf_brk = k;
    return 0;
}

/* The program's PT_LOADs, as load_elf_binary maps them.  0 or -errno. */
static int map_program(struct elf_build *eb, const struct elf_file *m, bool has_interp, struct elf_layout *lay)
{
    bool first = true;
    lay->start_code = UINT64_MAX;
    for (int i = 0; i < m->phnum; i++) {
        const struct elf_phdr *ph = &m->ph[i];
        if (ph->type != EPT_LOAD)
            continue;
        int prot = make_prot(ph->flags), flags = PGD_MAP_PRIVATE;
        uint64_t total_size = 0;
        if (!first) {
            flags |= PGD_MAP_FIXED;
        } else if (m->eh.type == EET_EXEC) {
            flags |= PGD_MAP_FIXED_NOREPLACE;
        } else {
            total_size = total_mapping_size(m);
            if (!total_size)
                return -EINVAL;
            int64_t extra = dyn_load_bias(eb, m, ph, has_interp, total_size, lay);
            if (extra < 0)
                return (int)extra;
            flags |= (int)extra;
        }
        uint64_t r = elf_load(eb->mm, m->file, lay->load_bias + ph->vaddr, ph, prot, flags, total_size);
        if (bad_addr(eb->mm, r))
            return is_err_value(r) ? (int)(int64_t)r : -EINVAL;
        if (first && m->eh.type == EET_DYN)
            lay->load_bias += r - ELF_PAGESTART(lay->load_bias + ph->vaddr);
        first = false;
        int err = account_segment(eb->mm, m, ph, lay);
        if (err)
            return err;
    }
    lay->phdr_addr += lay->load_bias;
    lay->elf_brk += lay->load_bias;
    lay->start_code += lay->load_bias;
    lay->end_code += lay->load_bias;
    lay->start_data += lay->load_bias;
    lay->end_data += lay->load_bias;
    return 0;
}

/* load_elf_interp(): the interpreter's PT_LOADs, the first placed by the allocator
 * (hint: its p_vaddr, or 0 beside a PIE program) with the whole extent reserved.  Its
 * load address, or an error value (IS_ERR_VALUE; ~0 for a wrong type). */
static uint64_t load_interp(struct elf_build *eb, const struct elf_file *in, uint64_t no_base)
{
    if ((in->eh.type != EET_EXEC && in->eh.type != EET_DYN) || !in->file->mmappable)
        return UINT64_MAX;
    uint64_t total_size = total_mapping_size(in), load_addr = 0;
    bool load_addr_set = false;
    if (!total_size)
        return (uint64_t)-EINVAL;
    for (int i = 0; i < in->phnum; i++) {
        const struct elf_phdr *ph = &in->ph[i];
        if (ph->type != EPT_LOAD)
            continue;
        int type = PGD_MAP_PRIVATE;
        if (in->eh.type == EET_EXEC || load_addr_set)
            type |= PGD_MAP_FIXED;
        else if (no_base && in->eh.type == EET_DYN)
            load_addr = -ph->vaddr;
        uint64_t map_addr = elf_load(eb->mm, in->file, load_addr + ph->vaddr, ph, make_prot(ph->flags), type,
                                     total_size);
        total_size = 0;
        if (bad_addr(eb->mm, map_addr))
            return map_addr;
        if (!load_addr_set && in->eh.type == EET_DYN) {
            load_addr = map_addr - ELF_PAGESTART(ph->vaddr);
            load_addr_set = true;
        }
        uint64_t k = load_addr + ph->vaddr;
        if (bad_addr(eb->mm, k) || ph->filesz > ph->memsz || ph->memsz > eb->mm->task_size ||
            eb->mm->task_size - ph->memsz < k)
            return (uint64_t)-ENOMEM;
    }
    return load_addr;
}

/* create_elf_tables()'s stack pointer: below the strings, the platform string
 * "x86_64", 16 random bytes, the auxiliary vector and the argv/envp pointers,
 * 16-byte aligned; the stack VMA is extended to reach it.  0 or -EFAULT. */
static int place_stack_pointer(struct elf_build *eb, const struct binprm *b, uint64_t stack_top, uint64_t *sp)
{
    uint64_t p = stack_top - sizeof(uint64_t) - b->used;
    p = mm_exec_align_stack(&eb->rng, p);
    p -= ELF_PLATFORM_LEN + AT_RANDOM_LEN;
    p -= 2 * AUXV_PAIRS * sizeof(uint64_t);
    uint64_t items = (uint64_t)(b->argc + 1) + (uint64_t)(b->envc + 1) + 1;
    *sp = (p - items * sizeof(uint64_t)) & ~0xfULL;
    return mm_exec_extend_stack(eb->mm, *sp);
}

/* mm->start_brk == mm->brk: after the bss; when randomizing, a page later (or at
 * ELF_ET_DYN_BASE for a loader run directly) and then up to 1 GiB further. */
static uint64_t place_brk(struct elf_build *eb, const struct elf_plan *pl, uint64_t elf_brk)
{
    uint64_t brk = ELF_PAGEALIGN(elf_brk);
    if (!eb->randomize)
        return brk;
    if (pl->main.eh.type == EET_DYN && !pl->interp.file)
        brk = MM_EXEC_ELF_ET_DYN_BASE;
    else
        brk += PAGE_SIZE;
    return mm_exec_randomize_brk(&eb->rng, brk);
}

/* The interpreter, then the entry point and its check.  0 or -errno. */
static int load_entry(struct elf_build *eb, const struct elf_plan *pl, const struct elf_layout *lay,
                      struct exec_info *info)
{
    uint64_t entry = pl->main.eh.entry + lay->load_bias;
    if (pl->interp.file) {
        uint64_t base = load_interp(eb, &pl->interp, lay->load_bias);
        entry = base;
        if (!is_err_value(base)) {
            info->interp_base = base;
            entry = base + pl->interp.eh.entry;
        }
        if (bad_addr(eb->mm, entry))
            return is_err_value(entry) ? (int)(int64_t)entry : -EINVAL;
    } else if (bad_addr(eb->mm, entry)) {
        return -EINVAL;
    }
    info->entry = entry;
    return 0;
}

/* load_elf_binary() from begin_new_exec() on, into a new mm.  0 or -errno. */
static int elf_build_image(struct elf_build *eb, const struct binprm *b, const struct elf_plan *pl,
                           struct exec_info *info)
{
    struct mm *mm = eb->mm;
    uint64_t stack_top = mm_exec_stack_top(&eb->rng);
    int err = mm_exec_setup_stack(mm, stack_top, PAGE_ALIGN(sizeof(uint64_t) + b->used_max), pl->exstack);
    struct elf_layout lay = {0};
    if (!err)
        err = map_program(eb, &pl->main, pl->interp.file != NULL, &lay);
    if (!err)
        err = load_entry(eb, pl, &lay, info);
    if (!err) {
        long vdso = mm_exec_install_vdso(mm);
        err = vdso < 0 ? (int)vdso : 0;
    }
    uint64_t sp = 0;
    if (!err)
        err = place_stack_pointer(eb, b, stack_top, &sp);
    if (err)
        return err;
    struct mm_exec_image img = {.start_code = lay.start_code, .end_code = lay.end_code,
                                .start_data = lay.start_data, .end_data = lay.end_data,
                                .brk = place_brk(eb, pl, lay.elf_brk), .start_stack = sp};
    mm_exec_set_image(mm, &img);
    if ((b->a->personality & EXEC_MMAP_PAGE_ZERO) && mm->cfg.dac_mmap_min_addr == 0)
        mm_exec_map_page_zero(mm); /* its failure is ignored, as Linux ignores it */
    info->load_bias = lay.load_bias;
    info->phdr = lay.phdr_addr;
    info->stack_top = stack_top;
    info->start_stack = sp;
    info->brk = img.brk;
    copy_truncated(info->interp, sizeof(info->interp), pl->interp_path);
    return 0;
}

/* The point of no return: the personality a 64-bit image runs with, the layout it
 * gets, then the image.  0 with *out, or -errno with info->fatal_signal set when the
 * process could not survive it. */
static int elf_exec(struct phys *phys, const struct mm_config *cfg, const struct binprm *b,
                    const struct elf_plan *pl, struct mm **out, struct exec_info *info)
{
    const struct exec_args *a = b->a;
    unsigned long personality = a->personality & ~EXEC_READ_IMPLIES_EXEC; /* set_personality_64bit() */
    struct elf_build eb = {.randomize = a->aslr && !(personality & EXEC_ADDR_NO_RANDOMIZE)};
    mm_exec_rng_init(&eb.rng, a->seed, eb.randomize);
    struct mm_config mc = *cfg;
    mc.randomize = eb.randomize;
    mc.seed = a->seed;
    mc.legacy_layout = cfg->legacy_layout || (personality & EXEC_ADDR_COMPAT_LAYOUT);
    int err = mm_create(phys, &mc, &eb.mm);
    if (err)
        return err;
    mm_exec_pick_mmap_layout(eb.mm, mc.legacy_layout, eb.randomize, mm_exec_mmap_rnd(&eb.rng));
    /* Root's CAP_SYS_RAWIO lets the image load below dac_mmap_min_addr. */
    if (a->uid == 0)
        eb.mm->cfg.dac_mmap_min_addr = 0;
    err = elf_build_image(&eb, b, pl, info);
    eb.mm->cfg.dac_mmap_min_addr = cfg->dac_mmap_min_addr;
    if (err) {
        mm_destroy(eb.mm);
        info->fatal_signal = SIGSEGV;
        return err;
    }
    info->script_depth = b->script_depth;
    *out = eb.mm;
    return 0;
}

/* ---- execve ----------------------------------------------------------------------------- */

/* exec_binprm(): the handlers, ELF then #!, over up to BINFMT_MAX_DEPTH interpreter
 * rewrites.  0 with *out, or -errno. */
static int exec_binprm(struct phys *phys, const struct mm_config *cfg, struct binprm *b, struct mm **out,
                       struct exec_info *info)
{
    for (int depth = 0;; depth++) {
        if (depth > BINFMT_MAX_DEPTH)
            return -ELOOP;
        int err = read_head(b);
        if (err)
            return err;
        struct elf_plan pl = {0};
        err = elf_prepare(b, &pl);
        if (!err)
            err = elf_exec(phys, cfg, b, &pl, out, info);
        elf_plan_release(&pl);
        if (err != -ENOEXEC || info->fatal_signal)
            return err;
        struct mm_file *next = NULL;
        err = load_script(b, &next);
        if (err)
            return err;
        mm_file_put(b->file);
        b->file = next;
        b->script_depth++;
    }
}

int exec_load(struct phys *phys, const struct mm_config *cfg, const struct exec_args *a, struct mm **out,
              struct exec_info *info)
{
    struct exec_info scratch;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof(*info));
    *out = NULL;
    if (!a || !a->filename)
        return -EFAULT;
    if (!a->filename[0])
        return -ENOENT;
    if (strlen(a->filename) >= EXEC_PATH_MAX)
        return -ENAMETOOLONG;
    struct binprm *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->a = a;
    b->stack_rlimit = cfg->stack_rlimit;
    copy_truncated(b->interp, sizeof(b->interp), a->filename);
    int err = 0;
    b->file = open_exec(a->filename, a->uid, a->gid, &err);
    if (b->file)
        err = copy_arguments(b);
    if (!err)
        err = exec_binprm(phys, cfg, b, out, info);
    if (b->file)
        mm_file_put(b->file);
    free(b);
    return err;
}
