/*
 * cli/run.c - the script runner.
 *
 * Each statement of a parsed script runs in the process its pid prefix names
 * (created on first use; the first process is pid 1 when the script names none).
 * System calls go to kernel_syscall with their arguments converted by abi_value;
 * pagoda statements print /proc-style blocks or change the machine.  A result is
 * compared with the statement's "= EXPECTED" and a difference is reported as
 *     divergence at line N: expected X, got Y
 * with values written as strace writes them.  System calls the kernel does not
 * simulate are skipped and counted by name.
 */
#include "cli/run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>
#include <pagoda/kmem.h>
#include <pagoda/pgtable.h>

#include "cli/abi.h"
#include "cli/errno_names.h"
#include "cli/replay.h"

struct skip_count {
    char *name;
    unsigned long count;
};

/* What happened in one process image: a pid between two execs.  A log names each. */
struct proc_stats {
    int pid;
    char *image;      /* the executed path, NULL before the first execve */
    bool randomized;  /* loaded without ADDR_NO_RANDOMIZE: best effort, apart */
    unsigned long verified, skipped, divergences, differences;
    struct skip_count *skips;
    size_t nskips;
};

struct runner {
    struct run_options opt;
    struct kernel_config cfg;
    struct kernel *k;
    /* The script being run, for messages. */
    const char *filename;
    const char *text;
    size_t len;
    /* Totals over every script run. */
    unsigned long statements, verified, skipped, divergences, errors;
    struct skip_count *skips;
    size_t nskips;
    /* Per process image, in order of appearance; `cur` is the running statement's
     * (-1 for none), `lenient` when that image's layout was randomized. */
    struct proc_stats *procs;
    size_t nprocs;
    long cur;
    bool lenient;
    bool many; /* more than one image: the summary lists them */
    unsigned long adopted; /* descriptors made by calls the log does not show */
    unsigned long differences;
};

/* A block result: text owned by the caller, compared or printed by finish_block. */
struct block {
    char *text;
    size_t len;
    bool maps_stack_exempt; /* `maps ~stack` */
};

#define MSG_MAX 512

/* ------------------------------------------------------------ lifecycle ---- */

struct runner *runner_create(const struct run_options *opt)
{
    struct runner *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->opt = *opt;
    if (!r->opt.out)
        r->opt.out = stdout;
    if (!r->opt.err)
        r->opt.err = stderr;
    kernel_config_default(&r->cfg);
    r->cur = -1;
    return r;
}

/* Free a skip list. */
static void free_skips(struct skip_count *skips, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(skips[i].name);
    free(skips);
}

void runner_destroy(struct runner *r)
{
    if (!r)
        return;
    kernel_destroy(r->k);
    free_skips(r->skips, r->nskips);
    for (size_t i = 0; i < r->nprocs; i++) {
        free(r->procs[i].image);
        free_skips(r->procs[i].skips, r->procs[i].nskips);
    }
    free(r->procs);
    free(r);
}

unsigned long runner_divergences(const struct runner *r)
{
    return r->divergences;
}

unsigned long runner_errors(const struct runner *r)
{
    return r->errors;
}

struct kernel *runner_kernel(struct runner *r)
{
    return r->k;
}

/* ------------------------------------------------------------- messages ---- */

/* "FILE:LINE:COL: message" on the error stream; counts the error.  Returns -1 so
 * that callers can `return stmt_error(...)`. */
static int stmt_error(struct runner *r, uint32_t line, uint32_t column, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(r->opt.err, "%s:%u:%u: %s\n", r->filename ? r->filename : "<script>", line, column, msg);
    r->errors++;
    return -1;
}

/* The statistics of the running statement's process image, or NULL. */
static struct proc_stats *cur_stats(struct runner *r)
{
    return r->cur >= 0 ? &r->procs[r->cur] : NULL;
}

/* "divergence at line N: expected X, got Y" on the output stream; counts it.  In a
 * process whose layout the recording host randomized it is a difference, counted
 * apart and shown only with -v. */
static void divergence(struct runner *r, uint32_t line, const char *expected, const char *got)
{
    struct proc_stats *ps = cur_stats(r);
    if (r->lenient) {
        if (r->opt.verbose)
            fprintf(r->opt.out, "difference (randomized layout) at line %u: expected %s, got %s\n", line, expected,
                    got);
        r->differences++;
        if (ps)
            ps->differences++;
        return;
    }
    fprintf(r->opt.out, "divergence at line %u: expected %s, got %s\n", line, expected, got);
    r->divergences++;
    if (ps)
        ps->divergences++;
}

/* A call whose result was checked. */
static void count_verified(struct runner *r)
{
    r->verified++;
    if (cur_stats(r))
        cur_stats(r)->verified++;
}

/* The bounds of 1-based line `line` of the source, false if there is none. */
static bool source_line(const struct runner *r, uint32_t line, const char **start, const char **end)
{
    if (!r->text || line == 0)
        return false;
    const char *p = r->text, *limit = r->text + r->len;
    for (uint32_t n = 1; n < line; n++) {
        p = memchr(p, '\n', (size_t)(limit - p));
        if (!p)
            return false;
        p++;
    }
    const char *nl = memchr(p, '\n', (size_t)(limit - p));
    *start = p;
    *end = nl ? nl : limit;
    return true;
}

/* Characters of identifiers and config keys (tlb.l1d). */
static bool is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

/* The column where `word` stands as a whole word in the statement's lines (from its
 * start), for messages about one argument; the statement's column if not found. */
static uint32_t word_column(const struct runner *r, const struct script_stmt *st, const char *word)
{
    size_t n = strlen(word);
    uint32_t last = st->end_line > st->line ? st->end_line : st->line;
    for (uint32_t line = st->line; n && line <= last; line++) {
        const char *s, *e;
        if (!source_line(r, line, &s, &e))
            break;
        const char *from = s + (line == st->line && st->column ? st->column - 1 : 0);
        for (const char *q = from; q + n <= e; q++) {
            if (memcmp(q, word, n) == 0 && (q == s || !is_word_char(q[-1])) && (q + n == e || !is_word_char(q[n])))
                return (uint32_t)(q - s) + 1;
        }
    }
    return st->column;
}

/* ------------------------------------------------------------- formatting ---- */

/* Calls whose result strace prints in hex: they return addresses (or flags). */
static bool result_in_hex(const char *name)
{
    static const char *const hex[] = {"mmap", "mremap", "brk", "shmat", "personality"};
    for (size_t i = 0; i < sizeof(hex) / sizeof(hex[0]); i++) {
        if (!strcmp(name, hex[i]))
            return true;
    }
    return false;
}

/* A successful result or an expected number, in strace's base for this call. */
static void format_number(const char *name, uint64_t v, char *buf, size_t n)
{
    if (result_in_hex(name))
        snprintf(buf, n, "%#llx", (unsigned long long)v);
    else
        snprintf(buf, n, "%lld", (long long)v);
}

/* "-1 ENOMEM (Cannot allocate memory)" */
static void format_errno(int e, const char *name, char *buf, size_t n)
{
    const char *en = name ? name : errno_name(e);
    snprintf(buf, n, "-1 %s (%s)", en ? en : "E?", strerror(e));
}

/* A system call's return as strace prints it. */
static void format_return(const char *name, long ret, char *buf, size_t n)
{
    if (ret < 0 && ret >= -4095)
        format_errno((int)-ret, NULL, buf, n);
    else
        format_number(name, (uint64_t)ret, buf, n);
}

/* A small growable text buffer on open_memstream. */
struct text {
    FILE *f;
    char *buf;
    size_t len;
};

/* Start an empty text; false when out of memory. */
static bool text_open(struct text *t)
{
    t->buf = NULL;
    t->len = 0;
    t->f = open_memstream(&t->buf, &t->len);
    return t->f != NULL;
}

/* Finish writing; the text stays in t->buf (free it). */
static void text_close(struct text *t)
{
    if (t->f)
        fclose(t->f);
    t->f = NULL;
}

/* A value as the script would write it (script_value_format), any length. */
static void echo_value(FILE *f, const struct script_value *v)
{
    char small[256];
    size_t need = script_value_format(v, small, sizeof(small));
    if (need < sizeof(small)) {
        fputs(small, f);
        return;
    }
    char *big = malloc(need + 1);
    if (big) {
        script_value_format(v, big, need + 1);
        fputs(big, f);
        free(big);
    }
}

/* The statement as strace (or pagoda) would write it, without its expectation:
 * "1234 mmap(NULL, 4096, ...)" or "maps ~stack". */
static void echo_statement(FILE *f, const struct script_stmt *st)
{
    if (st->pid >= 0)
        fprintf(f, "%d ", st->pid);
    fputs(st->name ? st->name : "", f);
    bool call = st->kind == SCRIPT_SYSCALL;
    if (call)
        fputc('(', f);
    for (size_t i = 0, shown = 0; i < st->nargs; i++) {
        if (!st->args[i])
            continue;
        fputs(call ? (shown ? ", " : "") : " ", f);
        echo_value(f, st->args[i]);
        shown++;
    }
    if (call)
        fputc(')', f);
}

/* The heredoc lines of a block argument (load-maps input), for the echo. */
static void echo_heredoc_args(FILE *f, const struct script_stmt *st)
{
    for (size_t i = 0; i < st->nargs; i++) {
        const struct script_value *v = st->args[i];
        if (!v || v->kind != SCRIPT_V_BLOCK)
            continue;
        for (size_t l = 0; l < v->block.n; l++)
            fprintf(f, "%s\n", v->block.lines[l]);
        fprintf(f, "%s\n", v->block.terminator);
    }
}

/* -v: "STATEMENT = RESULT" (a script line that would verify this result). */
static void echo_result(struct runner *r, const struct script_stmt *st, const char *result)
{
    if (r->opt.interactive) {
        fprintf(r->opt.out, "= %s\n", result);
        return;
    }
    if (!r->opt.verbose)
        return;
    echo_statement(r->opt.out, st);
    fprintf(r->opt.out, " = %s\n", result);
    echo_heredoc_args(r->opt.out, st);
}

/* -v: "STATEMENT = <<END", the block, "END". */
static void echo_block(struct runner *r, const struct script_stmt *st, const struct block *b)
{
    const char *term = "END";
    if (st->result.kind == SCRIPT_RESULT_BLOCK && st->result.value->block.terminator)
        term = st->result.value->block.terminator;
    echo_statement(r->opt.out, st);
    fprintf(r->opt.out, " = <<%s\n", term);
    echo_heredoc_args(r->opt.out, st);
    fwrite(b->text, 1, b->len, r->opt.out);
    if (b->len && b->text[b->len - 1] != '\n')
        fputc('\n', r->opt.out);
    fprintf(r->opt.out, "%s\n", term);
}

/* ----------------------------------------------------------- processes ---- */

/* Boot the machine with the configuration so far, if not yet done. */
static int ensure_kernel(struct runner *r, const struct script_stmt *st)
{
    if (r->k)
        return 0;
    int err = kernel_create(&r->cfg, &r->k);
    if (err)
        return stmt_error(r, st->line, st->column, "cannot boot the machine: %s", strerror(-err));
    return 0;
}

/* Start a new statistics entry for p's current image; false without memory. */
static bool new_stats(struct runner *r, const struct process *p)
{
    struct proc_stats *last = cur_stats(r);
    if (last && last->pid == p->pid && !last->verified && !last->skipped && !last->divergences &&
        !last->differences) { /* nothing happened in the image before: reuse its entry */
        free(last->image);
        last->image = p->exe ? strdup(p->exe) : NULL;
        last->randomized = p->exe && p->aslr_image;
        return true;
    }
    struct proc_stats *grown = realloc(r->procs, (r->nprocs + 1) * sizeof(*grown));
    if (!grown)
        return false;
    r->procs = grown;
    struct proc_stats *ps = &r->procs[r->nprocs];
    memset(ps, 0, sizeof(*ps));
    ps->pid = p->pid;
    ps->randomized = p->exe && p->aslr_image;
    ps->image = p->exe ? strdup(p->exe) : NULL;
    r->cur = (long)r->nprocs++;
    r->many = r->nprocs > 1;
    return true;
}

/* Make p's image the one statements are counted for (a new entry on first sight). */
static void select_stats(struct runner *r, const struct process *p)
{
    r->lenient = p->exe && p->aslr_image;
    for (size_t i = r->nprocs; i-- > 0;) {
        if (r->procs[i].pid == p->pid) {
            r->cur = (long)i;
            return;
        }
    }
    if (!new_stats(r, p))
        r->cur = -1;
}

/* The process a statement runs in: its pid prefix's (created on first use, or
 * afresh when that pid has exited), else the current one, else a new pid 1. */
static struct process *statement_process(struct runner *r, const struct script_stmt *st)
{
    if (ensure_kernel(r, st))
        return NULL;
    struct kernel *k = r->k;
    struct process *p = st->pid >= 0 ? kernel_find(k, st->pid) : k->current;
    int pid = st->pid >= 0 ? st->pid : (p ? p->pid : 1);
    if (!p)
        p = kernel_find(k, pid);
    if (p && p->exited) {
        kernel_reap(k, p);
        p = NULL;
    }
    if (!p)
        p = kernel_new_process(k, pid);
    if (!p) {
        stmt_error(r, st->line, st->column, "cannot create process %d: out of memory", pid);
        return NULL;
    }
    k->current = p;
    select_stats(r, p);
    return p;
}

/* ------------------------------------------------------------- syscalls ---- */

/* Count name once more in a skip list (dropped when out of memory: totals are kept
 * by the callers). */
static void add_skip(struct skip_count **skips, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++) {
        if (!strcmp((*skips)[i].name, name)) {
            (*skips)[i].count++;
            return;
        }
    }
    struct skip_count *grown = realloc(*skips, (*n + 1) * sizeof(*grown));
    char *copy = strdup(name);
    if (!grown || !copy) {
        free(copy);
        if (grown)
            *skips = grown;
        return;
    }
    *skips = grown;
    (*skips)[(*n)++] = (struct skip_count){copy, 1};
}

/* Count a skipped call under its name, in all and in its process. */
static void count_skip(struct runner *r, const char *name)
{
    r->skipped++;
    add_skip(&r->skips, &r->nskips, name);
    struct proc_stats *ps = cur_stats(r);
    if (ps) {
        ps->skipped++;
        add_skip(&ps->skips, &ps->nskips, name);
    }
}

/* A call pagoda does not simulate: counted, and shown with -v or in the shell. */
static void skip_call(struct runner *r, const struct script_stmt *st, const char *name)
{
    count_skip(r, name);
    if (r->opt.interactive)
        fprintf(r->opt.out, "(skipped: %s is not simulated)\n", name);
    else if (r->opt.verbose) {
        fputs("# skipped: ", r->opt.out);
        echo_statement(r->opt.out, st);
        fputc('\n', r->opt.out);
    }
}

/* Pages covered by len bytes, for mincore's vector. */
static uint64_t pages_of(uint64_t len)
{
    return (len >> PAGE_SHIFT) + ((len & (PAGE_SIZE - 1)) != 0);
}

#define MINCORE_VEC_MAX (1ULL << 24)

/* Is argument i of call nr a string the kernel reads from (host) memory?  The log may
 * show an address instead (strace prints one it could not read): that must never be
 * dereferenced. */
static bool host_string_arg(long nr, size_t i)
{
    return (nr == NR_open && i == 0) || (nr == NR_openat && i == 1) || (nr == NR_memfd_create && i == 0) ||
           (nr == NR_prctl && i == 4);
}

/* The argument registers of a call.  mincore's vector (an array or address in the
 * log) becomes a host buffer of the right size, *scratch, which the caller frees. */
static int convert_args(struct runner *r, const struct script_stmt *st, long nr, uint64_t a[6],
                        unsigned char **scratch)
{
    *scratch = NULL;
    for (size_t i = 0; i < st->nargs && i < 6; i++) {
        const struct script_value *v = st->args[i];
        if (nr == NR_mincore && i == 2) {
            uint64_t pages = pages_of(a[1]);
            if (v->kind != SCRIPT_V_NULL && pages <= MINCORE_VEC_MAX)
                *scratch = calloc(pages ? pages : 1, 1);
            a[i] = (uint64_t)(uintptr_t)*scratch;
            continue;
        }
        if (host_string_arg(nr, i) && v->kind != SCRIPT_V_STRING) {
            a[i] = 0; /* an address in the log: no user memory behind it, read as NULL */
            continue;
        }
        struct abi_error err;
        if (abi_value(v, &a[i], &err)) {
            uint32_t col = err.ident ? word_column(r, st, err.ident) : st->column;
            return stmt_error(r, st->line, col, "%s", err.message);
        }
    }
    return 0;
}

/* Compare a call's return with its expectation; prints the divergence. */
static int check_return(struct runner *r, const struct script_stmt *st, long ret)
{
    const struct script_result *res = &st->result;
    char expected[MSG_MAX], got[MSG_MAX];
    format_return(st->name, ret, got, sizeof(got));
    if (res->kind == SCRIPT_RESULT_ERROR) {
        if (!res->value) /* "= ? ERESTARTSYS": interrupted, anything goes */
            return 0;
        int e = errno_from_name(res->errno_name);
        if (e < 0)
            return stmt_error(r, st->line, res->column, "unknown errno '%s'", res->errno_name);
        count_verified(r);
        format_errno(e, res->errno_name, expected, sizeof(expected));
        if (ret != -e)
            divergence(r, st->line, expected, got);
        return 0;
    }
    if (res->kind != SCRIPT_RESULT_VALUE)
        return 0;
    uint64_t want;
    struct abi_error err;
    if (res->value->kind == SCRIPT_V_BLOCK || abi_value(res->value, &want, &err)) {
        if (res->value->kind == SCRIPT_V_BLOCK)
            snprintf(err.message, sizeof(err.message), "a system call's result is not a block");
        return stmt_error(r, st->line, res->column, "%s", err.message);
    }
    count_verified(r);
    format_number(st->name, want, expected, sizeof(expected));
    if ((uint64_t)ret != want)
        divergence(r, st->line, expected, got);
    return 0;
}

/* A call pagoda does not simulate: counted; the descriptors it returned (a pipe's, a
 * socket's) are given to the process so that later calls on them behave. */
static int skip_unsimulated(struct runner *r, const struct script_stmt *st)
{
    if (replay_creates_descriptors(st)) {
        struct process *p = statement_process(r, st);
        if (!p)
            return -1;
        replay_skipped_descriptors(p, st);
    } else if (st->pid >= 0 && r->k) {
        struct process *p = kernel_find(r->k, st->pid);
        if (p)
            select_stats(r, p);
    }
    skip_call(r, st, st->name);
    return 0;
}

/* The descriptor argument of calls that use one, or -1. */
static int fd_arg_index(long nr, const uint64_t a[6])
{
    switch (nr) {
    case NR_close: case NR_dup: case NR_dup2: case NR_dup3: case NR_fcntl: return 0;
    case NR_mmap: return (a[3] & PGD_MAP_ANONYMOUS) ? -1 : 4;
    default: return -1;
    }
}

/* A log traced with a filter (strace -e trace=...) does not show every call that made
 * a descriptor: a pipe's, a socket's, a dup's.  When the log says a call on descriptor
 * N succeeded and the process has no N, N came from outside the log: adopt it - the
 * file strace -y named, else an opaque description - and count it. */
static void adopt_unknown_fd(struct runner *r, const struct script_stmt *st, struct process *p, long nr,
                             const uint64_t a[6])
{
    int at = fd_arg_index(nr, a);
    if (at < 0 || (size_t)at >= st->nargs || st->result.kind != SCRIPT_RESULT_VALUE || !p->files)
        return;
    long fd = (long)(int)a[at];
    if (fd < 0 || fd >= KERNEL_MAX_FDS || p->files->fd[fd])
        return;
    const struct script_value *v = st->args[at];
    const char *path = v->kind == SCRIPT_V_FD && v->fd.path && v->fd.path[0] == '/' ? v->fd.path : NULL;
    if (kernel_adopt_fd(p, fd, path) == 0)
        r->adopted++;
}

/* Linux hands out the lowest free descriptor (>= fcntl's minimum).  When the log says
 * such a call returned N, every descriptor below N from that minimum was taken: those
 * pagoda does not know came from calls outside the log (or were inherited), and are
 * adopted as opaque descriptions. */
static void adopt_below_result(struct runner *r, const struct script_stmt *st, struct process *p, long nr,
                               const uint64_t a[6])
{
    uint64_t want, min = 0;
    struct abi_error err;
    if (nr == NR_fcntl && ((int)a[1] == 0 || (int)a[1] == 1030))
        min = a[2];
    else if (nr != NR_open && nr != NR_openat && nr != NR_dup && nr != NR_memfd_create)
        return;
    if (st->result.kind != SCRIPT_RESULT_VALUE || abi_value(st->result.value, &want, &err) || !p->files ||
        want >= KERNEL_MAX_FDS)
        return;
    for (uint64_t fd = min; fd < want; fd++) {
        if (!p->files->fd[fd] && kernel_adopt_fd(p, (long)fd, NULL) == 0)
            r->adopted++;
    }
}

/* Best effort for an image whose layout the recording host randomized: a mapping
 * placed by the kernel (no MAP_FIXED) goes where the log says it went, if that is free,
 * so that the calls that use its address still mean something. */
static bool place_as_logged(struct runner *r, const struct script_stmt *st, struct process *p, long nr,
                            const uint64_t a[6], long *ret)
{
    uint64_t want;
    struct abi_error err;
    if (!r->lenient || nr != NR_mmap || st->result.kind != SCRIPT_RESULT_VALUE ||
        abi_value(st->result.value, &want, &err) || (a[3] & (PGD_MAP_FIXED | PGD_MAP_FIXED_NOREPLACE)))
        return false;
    uint64_t b[6] = {want, a[1], a[2], a[3] | PGD_MAP_FIXED_NOREPLACE, a[4], a[5]};
    long got = kernel_syscall(r->k, p, nr, b);
    if (got != (long)want) /* EEXIST: nothing was mapped; place it the normal way */
        return false;
    *ret = got;
    return true;
}

/* A system call: skipped when not simulated, else run in its process, echoed (-v)
 * and checked against its expectation. */
static int run_syscall(struct runner *r, const struct script_stmt *st)
{
    long nr = syscall_number(st->name);
    r->statements++;
    if (nr < 0 || !kernel_implements(nr))
        return skip_unsimulated(r, st);
    if (st->result.kind == SCRIPT_RESULT_ERROR && st->result.errno_name &&
        !strncmp(st->result.errno_name, "ERESTART", 8)) {
        /* "= ? ERESTARTNOINTR": a signal interrupted the call before it took effect and
         * the kernel restarts it - the restarted call is the next line for this pid. */
        skip_call(r, st, st->name);
        return 0;
    }
    struct process *p = statement_process(r, st);
    if (!p)
        return -1;
    long ret;
    if (replay_is_process_call(nr)) {
        char msg[MSG_MAX];
        if (replay_process_call(r->k, p, st, nr, &ret, msg, sizeof(msg)))
            return stmt_error(r, st->line, st->column, "%s", msg);
        if ((nr == NR_execve || nr == NR_execveat) && ret == 0) {
            p = kernel_find(r->k, p->tgid); /* a thread's exec took over the leader's pid */
            if (p && !new_stats(r, p))
                return stmt_error(r, st->line, st->column, "out of memory");
            r->lenient = false; /* whether the exec itself succeeded is known either way */
        }
    } else {
        uint64_t a[6] = {0};
        unsigned char *scratch;
        if (convert_args(r, st, nr, a, &scratch)) {
            free(scratch);
            return -1;
        }
        if (!kernel_models(nr, a)) {
            free(scratch);
            skip_call(r, st, st->name);
            return 0;
        }
        if (p->exe) { /* a real program's log: its trace filter may hide descriptor calls */
            adopt_unknown_fd(r, st, p, nr, a);
            adopt_below_result(r, st, p, nr, a);
        }
        if (!place_as_logged(r, st, p, nr, a, &ret))
            ret = kernel_syscall(r->k, p, nr, a);
        free(scratch);
    }
    char got[MSG_MAX];
    format_return(st->name, ret, got, sizeof(got));
    echo_result(r, st, nr == NR_exit_group || nr == NR_exit ? "?" : got);
    if (nr == NR_exit_group || nr == NR_exit)
        return 0; /* never returns: strace prints "= ?" */
    return check_return(r, st, ret);
}

/* ------------------------------------------------------------- blocks ---- */

/* Move *end back over blanks and carriage returns, not before start. */
static void trim_trailing_spaces(const char **end, const char *start)
{
    while (*end > start && ((*end)[-1] == ' ' || (*end)[-1] == '\t' || (*end)[-1] == '\r'))
        (*end)--;
}

/* The fields of a maps line: range start/end, the middle (perms offset dev), inode
 * and name, as [start,end) pointers.  False when the line is not in maps format. */
struct maps_fields {
    const char *range_end, *middle, *middle_end, *inode, *inode_end, *name;
};

/* The first space at or after p (or end). */
static const char *skip_to_space(const char *p, const char *end)
{
    while (p < end && *p != ' ')
        p++;
    return p;
}

/* The first non-space at or after p (or end). */
static const char *skip_spaces(const char *p, const char *end)
{
    while (p < end && *p == ' ')
        p++;
    return p;
}

/* Split "START-END PERMS OFFSET DEV INODE [NAME]" into fields; false if it is not
 * such a line. */
static bool split_maps_line(const char *s, const char *e, struct maps_fields *f)
{
    const char *range = skip_to_space(s, e);
    const char *dash = memchr(s, '-', (size_t)(range - s));
    if (!dash || range >= e)
        return false;
    f->range_end = dash + 1;
    f->middle = range;
    const char *p = skip_spaces(range, e);
    for (int field = 0; field < 3; field++) { /* perms offset dev */
        p = skip_to_space(p, e);
        p = skip_spaces(p, e);
    }
    f->middle_end = p;
    f->inode = p;
    f->inode_end = skip_to_space(p, e);
    f->name = skip_spaces(f->inode_end, e);
    return f->inode_end > f->inode;
}

/* Byte-equal [a, ae) and [b, be). */
static bool span_equal(const char *a, const char *ae, const char *b, const char *be)
{
    return ae - a == be - b && memcmp(a, b, (size_t)(ae - a)) == 0;
}

/* [a, ae) is exactly the NUL-terminated word. */
static bool span_is(const char *a, const char *ae, const char *word)
{
    return span_equal(a, ae, word, word + strlen(word));
}

/* [name, end) starts with prefix. */
static bool name_starts(const char *name, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(end - name) >= n && memcmp(name, prefix, n) == 0;
}

/* `maps ~stack` comparison of one line: the [stack] line's start address and the
 * inode of shared anonymous memory are not compared. */
static bool maps_line_equal_exempt(const char *a, const char *ae, const char *b, const char *be)
{
    struct maps_fields fa, fb;
    if (!split_maps_line(a, ae, &fa) || !split_maps_line(b, be, &fb))
        return span_equal(a, ae, b, be);
    if (!span_equal(fa.name, ae, fb.name, be))
        return false;
    bool stack = span_is(fa.name, ae, "[stack]");
    bool shmem = span_is(fa.name, ae, "/dev/zero (deleted)") || span_is(fa.name, ae, "/anon_hugepage (deleted)") ||
                 name_starts(fa.name, ae, "[anon_shmem:") || name_starts(fa.name, ae, "SYSV") ||
                 name_starts(fa.name, ae, "/memfd:");
    bool start_ok = stack || span_equal(a, fa.range_end, b, fb.range_end);
    bool inode_ok = shmem || span_equal(fa.inode, fa.inode_end, fb.inode, fb.inode_end);
    /* The padding before the name follows the inode's width, so it is exempt with it. */
    bool pad_ok = shmem || span_equal(fa.inode_end, fa.name, fb.inode_end, fb.name);
    return start_ok && inode_ok && pad_ok && span_equal(fa.range_end, fa.middle_end, fb.range_end, fb.middle_end);
}

bool run_maps_line_equal(const char *expected, const char *got, bool stack_exempt)
{
    const char *ee = expected + strlen(expected), *ge = got + strlen(got);
    trim_trailing_spaces(&ee, expected);
    trim_trailing_spaces(&ge, got);
    return stack_exempt ? maps_line_equal_exempt(expected, ee, got, ge) : span_equal(expected, ee, got, ge);
}

/* Compare a block with its heredoc expectation line by line, trailing spaces
 * trimmed; the first difference is a divergence at the expected line's number. */
static void compare_block(struct runner *r, const struct script_stmt *st, const struct block *b)
{
    const struct script_value *want = st->result.value;
    uint32_t first_line = st->end_line - (uint32_t)want->block.n; /* line after "<<END" */
    const char *p = b->text, *limit = b->text + b->len;
    for (size_t i = 0;; i++) {
        bool have_got = p < limit;
        const char *ge = have_got ? memchr(p, '\n', (size_t)(limit - p)) : NULL;
        if (have_got && !ge)
            ge = limit;
        if (i == want->block.n && !have_got)
            return;
        char expected[MSG_MAX], got[MSG_MAX];
        const char *ws = i < want->block.n ? want->block.lines[i] : NULL;
        const char *we = ws ? ws + strlen(ws) : NULL;
        const char *gs = p, *gte = ge;
        if (ws)
            trim_trailing_spaces(&we, ws);
        if (have_got)
            trim_trailing_spaces(&gte, gs);
        bool same = ws && have_got &&
                    (b->maps_stack_exempt ? maps_line_equal_exempt(ws, we, gs, gte) : span_equal(ws, we, gs, gte));
        if (!same) {
            snprintf(expected, sizeof(expected), ws ? "\"%.*s\"" : "end of block", ws ? (int)(we - ws) : 0, ws);
            snprintf(got, sizeof(got), have_got ? "\"%.*s\"" : "end of block", have_got ? (int)(gte - gs) : 0,
                     gs);
            divergence(r, first_line + (uint32_t)(i < want->block.n ? i : want->block.n), expected, got);
            return;
        }
        p = ge + 1;
    }
}

/* A statement that produced a block: compare it, or print it when the script does
 * not say what to expect. */
static int finish_block(struct runner *r, const struct script_stmt *st, const struct block *b)
{
    const struct script_result *res = &st->result;
    if (r->opt.verbose && !r->opt.interactive)
        echo_block(r, st, b);
    else if (!r->opt.quiet && (res->kind != SCRIPT_RESULT_BLOCK || r->opt.interactive))
        fwrite(b->text, 1, b->len, r->opt.out);
    if (res->kind == SCRIPT_RESULT_BLOCK) {
        compare_block(r, st, b);
    } else if (res->kind == SCRIPT_RESULT_VALUE || res->kind == SCRIPT_RESULT_ERROR) {
        char expected[MSG_MAX];
        script_value_format(res->value, expected, sizeof(expected));
        divergence(r, st->line, expected, "a block");
    }
    return 0;
}

/* A statement whose result is "ok": check an expectation of "= ok". */
static int finish_ok(struct runner *r, const struct script_stmt *st)
{
    const struct script_result *res = &st->result;
    echo_result(r, st, "ok");
    if (res->kind == SCRIPT_RESULT_VALUE || res->kind == SCRIPT_RESULT_ERROR) {
        const char *ident = script_value_ident(res->value);
        if (res->kind == SCRIPT_RESULT_ERROR || !ident || strcmp(ident, "ok")) {
            char expected[MSG_MAX];
            script_value_format(res->value, expected, sizeof(expected));
            divergence(r, st->line, expected, "ok");
        }
    } else if (res->kind == SCRIPT_RESULT_BLOCK) {
        divergence(r, st->line, "a block", "ok");
    }
    return 0;
}

/* ---------------------------------------------------- pagoda statements ---- */

/* Run `print(ctx, f)` into a block and finish it. */
static int block_statement(struct runner *r, const struct script_stmt *st, void (*print)(void *ctx, FILE *f),
                           void *ctx, bool stack_exempt)
{
    struct text t;
    if (!text_open(&t))
        return stmt_error(r, st->line, st->column, "out of memory");
    print(ctx, t.f);
    text_close(&t);
    struct block b = {.text = t.buf, .len = t.len, .maps_stack_exempt = stack_exempt};
    int rc = finish_block(r, st, &b);
    free(t.buf);
    return rc;
}

/* Block printers for block_statement. */
static void print_maps(void *ctx, FILE *f)
{
    mm_print_maps(((struct process *)ctx)->mm, f);
}

static void print_tlb(void *ctx, FILE *f)
{
    cpu_print_tlb(&((struct kernel *)ctx)->cpu, f);
}

struct walk_ctx {
    struct process *p;
    uint64_t addr;
};

static void print_walk(void *ctx, FILE *f)
{
    struct walk_ctx *w = ctx;
    pt_trace_print(&w->p->mm->pt, w->addr, f);
}

/* `maps [~stack]`: the process's /proc/PID/maps. */
static int run_maps(struct runner *r, const struct script_stmt *st)
{
    struct process *p = statement_process(r, st);
    if (!p)
        return -1;
    bool exempt = st->nargs > 0 && st->args[0] && st->args[0]->kind == SCRIPT_V_WORD &&
                  !strcmp(st->args[0]->word, "~stack");
    return block_statement(r, st, print_maps, p, exempt);
}

/* `walk ADDR`: the page walk in the process's page tables. */
static int run_walk(struct runner *r, const struct script_stmt *st)
{
    struct process *p = statement_process(r, st);
    if (!p)
        return -1;
    struct walk_ctx w = {p, st->args[0]->num.bits};
    return block_statement(r, st, print_walk, &w, false);
}

/* ---- touch / read / write / fill: user accesses through the MMU ---- */

/* A failed access's signal as scripts write it. */
static const char *signal_text(int signo, int code)
{
    if (signo == PGD_SIGBUS)
        return "SIGBUS";
    if (signo != PGD_SIGSEGV)
        return "SIGKILL";
    return code == PGD_SEGV_MAPERR   ? "SIGSEGV(SEGV_MAPERR)"
           : code == PGD_SEGV_ACCERR ? "SIGSEGV(SEGV_ACCERR)"
           : code == PGD_SEGV_PKUERR ? "SIGSEGV(SEGV_PKUERR)"
                                     : "SIGSEGV(SI_KERNEL)";
}

/* Check an access's outcome `got` against "= EXPECTED": a byte string compares with
 * the bytes read (when bytes is given), anything else as written. */
static int finish_access(struct runner *r, const struct script_stmt *st, const char *got, const void *bytes,
                         size_t len)
{
    const struct script_result *res = &st->result;
    echo_result(r, st, got);
    if (res->kind == SCRIPT_RESULT_BLOCK) {
        divergence(r, st->line, "a block", got);
    } else if ((res->kind == SCRIPT_RESULT_VALUE || res->kind == SCRIPT_RESULT_ERROR) && res->value) {
        char expected[MSG_MAX];
        script_value_format(res->value, expected, sizeof(expected));
        bool same = res->kind == SCRIPT_RESULT_VALUE &&
                    (bytes && res->value->kind == SCRIPT_V_STRING ? script_bytes_equal(res->value, bytes, len)
                                                                  : !strcmp(expected, got));
        if (!same)
            divergence(r, st->line, expected, got);
    }
    return 0;
}

/* One access of the statement's process; *signo set.  true when it went through. */
static bool access_ok(struct runner *r, struct process *p, uint64_t addr, uint64_t len, int kind, const void *wbuf,
                      void *rbuf, int *signo, int *code)
{
    return kernel_user_access(r->k, p, addr, len, kind, wbuf, rbuf, signo, code) == 0;
}

/* `touch ADDR [LEN] [r|w|x]`: every page of the range, default one byte read. */
static int run_touch(struct runner *r, const struct script_stmt *st)
{
    struct process *p = statement_process(r, st);
    if (!p)
        return -1;
    uint64_t len = st->args[1] ? st->args[1]->num.bits : 1;
    int kind = st->args[2] ? st->args[2]->word[0] : KERNEL_ACCESS_READ, signo, code;
    bool ok = access_ok(r, p, st->args[0]->num.bits, len, kind, NULL, NULL, &signo, &code);
    return finish_access(r, st, ok ? "ok" : signal_text(signo, code), NULL, 0);
}

/* `write ADDR "bytes"`. */
static int run_write(struct runner *r, const struct script_stmt *st)
{
    struct process *p = statement_process(r, st);
    if (!p)
        return -1;
    const struct script_value *v = st->args[1];
    int signo, code;
    bool ok = access_ok(r, p, st->args[0]->num.bits, v->str.len, KERNEL_ACCESS_WRITE, v->str.bytes, NULL, &signo,
                        &code);
    return finish_access(r, st, ok ? "ok" : signal_text(signo, code), NULL, 0);
}

/* `fill ADDR LEN BYTE`, stored 64 KiB at a time. */
static int run_fill(struct runner *r, const struct script_stmt *st)
{
    struct process *p = statement_process(r, st);
    if (!p)
        return -1;
    static uint8_t chunk[64 << 10];
    uint64_t addr = st->args[0]->num.bits, len = st->args[1]->num.bits;
    memset(chunk, (int)st->args[2]->num.bits, sizeof(chunk));
    int signo = 0, code = 0;
    bool ok = true;
    for (uint64_t done = 0; ok && done < len; done += sizeof(chunk)) {
        uint64_t n = len - done < sizeof(chunk) ? len - done : sizeof(chunk);
        ok = access_ok(r, p, addr + done, n, KERNEL_ACCESS_WRITE, chunk, NULL, &signo, &code);
    }
    return finish_access(r, st, ok ? "ok" : signal_text(signo, code), NULL, 0);
}

/* `read ADDR LEN`: the bytes as a C string literal. */
static int run_read(struct runner *r, const struct script_stmt *st)
{
    struct process *p = statement_process(r, st);
    if (!p)
        return -1;
    uint64_t len = st->args[1]->num.bits;
    if (len > (64ULL << 20))
        return stmt_error(r, st->line, st->column, "read: at most 64M at a time");
    char *buf = malloc(len ? len : 1), *text = NULL;
    int signo, code, rc;
    if (!buf)
        return stmt_error(r, st->line, st->column, "out of memory");
    if (!access_ok(r, p, st->args[0]->num.bits, len, KERNEL_ACCESS_READ, NULL, buf, &signo, &code)) {
        rc = finish_access(r, st, signal_text(signo, code), NULL, 0);
    } else {
        struct script_value v = {.kind = SCRIPT_V_STRING};
        v.str.bytes = buf;
        v.str.len = len;
        size_t need = script_value_format(&v, NULL, 0) + 1;
        text = malloc(need);
        if (text)
            script_value_format(&v, text, need);
        rc = text ? finish_access(r, st, text, buf, len) : stmt_error(r, st->line, st->column, "out of memory");
    }
    free(text);
    free(buf);
    return rc;
}

/* ---- the kernel half: kmalloc / kfree / vmalloc / vfree / ktouch / slabinfo ---- */

/* A kernel address as scripts write it, or NULL for an allocation that failed. */
static void format_kaddr(uint64_t addr, char *buf, size_t n)
{
    if (addr)
        snprintf(buf, n, "0x%" PRIx64, addr);
    else
        snprintf(buf, n, "NULL");
}

/* `kmalloc SIZE` / `vmalloc SIZE`: the kernel virtual address (NULL on failure). */
static int run_kalloc(struct runner *r, const struct script_stmt *st)
{
    if (ensure_kernel(r, st))
        return -1;
    uint64_t size = st->args[0]->num.bits;
    uint64_t addr = st->op == SCRIPT_OP_KMALLOC ? kmem_kmalloc(r->k->phys, size) : kmem_vmalloc(r->k->phys, size);
    char got[64];
    format_kaddr(addr, got, sizeof(got));
    return finish_access(r, st, got, NULL, 0);
}

/* `kfree ADDR` / `vfree ADDR`: ok, or EINVAL for an address that is no allocation
 * (Linux would warn or BUG: "Trying to vfree() nonexistent vm area"). */
static int run_kfree(struct runner *r, const struct script_stmt *st)
{
    if (ensure_kernel(r, st))
        return -1;
    uint64_t addr = st->args[0]->num.bits;
    int err = st->op == SCRIPT_OP_KFREE ? kmem_kfree(r->k->phys, addr) : kmem_vfree(r->k->phys, addr);
    return finish_access(r, st, err ? "EINVAL" : "ok", NULL, 0);
}

/* `ktouch ADDR [LEN] [r|w]`: kernel-mode accesses in the statement's process (init_mm
 * when no process exists yet): ok, or oops(ERROR_CODE) for a #PF the kernel cannot
 * survive, oops(GP) for a non-canonical address. */
static int run_ktouch(struct runner *r, const struct script_stmt *st)
{
    if (ensure_kernel(r, st))
        return -1;
    struct process *p = NULL;
    if (st->pid >= 0 || r->k->current) {
        p = statement_process(r, st);
        if (!p)
            return -1;
    }
    uint64_t len = st->args[1] ? st->args[1]->num.bits : 1;
    int kind = st->args[2] ? st->args[2]->word[0] : KERNEL_ACCESS_READ;
    struct kernel_oops oops;
    char got[64] = "ok";
    if (kernel_kernel_access(r->k, p, st->args[0]->num.bits, len, kind, &oops)) {
        if (oops.vector == VEC_PF)
            snprintf(got, sizeof(got), "oops(%#x)", oops.error_code);
        else
            snprintf(got, sizeof(got), "oops(GP)");
    }
    return finish_access(r, st, got, NULL, 0);
}

static void print_slabinfo(void *ctx, FILE *f)
{
    kmem_print_slabinfo(((struct kernel *)ctx)->phys, f);
}

/* `slabinfo`: /proc/slabinfo of the kmalloc caches. */
static int run_slabinfo(struct runner *r, const struct script_stmt *st)
{
    if (ensure_kernel(r, st))
        return -1;
    return block_statement(r, st, print_slabinfo, r->k, false);
}

/* `tlb`: the CPU's TLB contents and counters (needs no process). */
static int run_tlb(struct runner *r, const struct script_stmt *st)
{
    if (ensure_kernel(r, st))
        return -1;
    return block_statement(r, st, print_tlb, r->k, false);
}

/* `config KEY=VALUE ...`: only while no process has run; the machine is rebooted
 * with the new settings when it is next needed. */
static int run_config(struct runner *r, const struct script_stmt *st)
{
    if (r->k && r->k->booted)
        return stmt_error(r, st->line, st->column, "config must come before the first process runs");
    struct kernel_config cfg = r->cfg;
    for (size_t i = 0; i < st->nargs; i++) {
        const struct script_value *pair = st->args[i];
        char value[256], err[MSG_MAX];
        script_value_format(pair->named.value, value, sizeof(value));
        if (kernel_config_set(&cfg, pair->named.key, value, err, sizeof(err)))
            return stmt_error(r, st->line, word_column(r, st, pair->named.key), "%s", err);
    }
    r->cfg = cfg;
    kernel_destroy(r->k);
    r->k = NULL;
    return finish_ok(r, st);
}

/* The lines of a heredoc joined with newlines; NULL when out of memory. */
static char *block_text(const struct script_value *block)
{
    size_t n = 1;
    for (size_t i = 0; i < block->block.n; i++)
        n += strlen(block->block.lines[i]) + 1;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < block->block.n; i++) {
        size_t l = strlen(block->block.lines[i]);
        memcpy(p, block->block.lines[i], l);
        p[l] = '\n';
        p += l + 1;
    }
    *p = '\0';
    return s;
}

/* `load-maps <<END`: an error "line N: ..." from mm_load_maps names a line of the
 * block, reported at its line in the script. */
static int run_load_maps(struct runner *r, const struct script_stmt *st)
{
    struct process *p = statement_process(r, st);
    if (!p)
        return -1;
    const struct script_value *block = st->args[0];
    char *text = block_text(block), err[MSG_MAX] = "";
    if (!text)
        return stmt_error(r, st->line, st->column, "out of memory");
    int rc = mm_load_maps(p->mm, text, err, sizeof(err));
    free(text);
    if (rc) {
        unsigned n;
        int used = 0;
        uint32_t first = st->end_line - (uint32_t)block->block.n;
        if (sscanf(err, "line %u: %n", &n, &used) == 1 && used > 0 && n >= 1)
            return stmt_error(r, first + n - 1, 1, "load-maps: %s", err + used);
        return stmt_error(r, st->line, st->column, "load-maps: %s", err[0] ? err : strerror(-rc));
    }
    return finish_ok(r, st);
}

/* A pagoda statement; those not implemented yet stop the run with an error. */
static int run_pagoda(struct runner *r, const struct script_stmt *st)
{
    r->statements++;
    switch (st->op) {
    case SCRIPT_OP_MAPS: return run_maps(r, st);
    case SCRIPT_OP_WALK: return run_walk(r, st);
    case SCRIPT_OP_TOUCH: return run_touch(r, st);
    case SCRIPT_OP_READ: return run_read(r, st);
    case SCRIPT_OP_WRITE: return run_write(r, st);
    case SCRIPT_OP_FILL: return run_fill(r, st);
    case SCRIPT_OP_TLB: return run_tlb(r, st);
    case SCRIPT_OP_KMALLOC:
    case SCRIPT_OP_VMALLOC: return run_kalloc(r, st);
    case SCRIPT_OP_KFREE:
    case SCRIPT_OP_VFREE: return run_kfree(r, st);
    case SCRIPT_OP_KTOUCH: return run_ktouch(r, st);
    case SCRIPT_OP_SLABINFO: return run_slabinfo(r, st);
    case SCRIPT_OP_CONFIG: return run_config(r, st);
    case SCRIPT_OP_LOAD_MAPS: return run_load_maps(r, st);
    default: return stmt_error(r, st->line, st->column, "'%s' is not supported yet", script_op_name(st->op));
    }
}

/* ------------------------------------------------------ strace decorations ---- */

/* "+++ exited with N +++" / "+++ killed by SIG +++": the process has ended. */
static int run_exit_line(struct runner *r, const struct script_stmt *st)
{
    if (!r->k)
        return 0;
    struct process *p = st->pid >= 0 ? kernel_find(r->k, st->pid) : r->k->current;
    uint64_t sig = 0;
    if (p && !p->exited && st->kind == SCRIPT_EXITED)
        kernel_exit(r->k, p, KERNEL_WSTATUS_EXITED(st->exit_status));
    else if (p && !p->exited) /* a fatal signal ends the whole thread group */
        kernel_exit_group(r->k, p, KERNEL_WSTATUS_KILLED(abi_lookup(st->name, &sig) ? (int)sig : 9));
    if (r->opt.verbose && !r->opt.interactive) {
        if (st->pid >= 0)
            fprintf(r->opt.out, "%d ", st->pid);
        if (st->kind == SCRIPT_EXITED)
            fprintf(r->opt.out, "+++ exited with %d +++\n", st->exit_status);
        else
            fprintf(r->opt.out, "+++ killed by %s%s +++\n", st->name, st->core_dumped ? " (core dumped)" : "");
    }
    return 0;
}

/* One statement of any kind: 0, or -1 when it could not run (error printed). */
static int run_statement(struct runner *r, const struct script_stmt *st)
{
    switch (st->kind) {
    case SCRIPT_SYSCALL: return run_syscall(r, st);
    case SCRIPT_PAGODA: return run_pagoda(r, st);
    case SCRIPT_EXITED:
    case SCRIPT_KILLED: return run_exit_line(r, st);
    case SCRIPT_RESUMED: /* the call's start is not in the log: it cannot be run */
    case SCRIPT_UNFINISHED:
        r->statements++;
        skip_call(r, st, st->name);
        return 0;
    case SCRIPT_SIGNAL:
    case SCRIPT_SUPERSEDED:
    case SCRIPT_SKIP: return 0;
    }
    return 0;
}

int runner_run(struct runner *r, const struct script *s, const char *text, size_t len)
{
    unsigned long divergences = r->divergences;
    r->filename = script_filename(s);
    r->text = text;
    r->len = len;
    int status = RUN_OK;
    for (size_t i = 0; i < script_count(s); i++) {
        if (run_statement(r, script_stmt_at(s, i)) == 0)
            continue;
        status = RUN_ERROR;
        if (!r->opt.interactive)
            break;
    }
    r->text = NULL;
    r->len = 0;
    if (status == RUN_OK && r->divergences > divergences)
        status = RUN_DIVERGED;
    return status;
}

int runner_run_text(struct runner *r, const char *filename, const char *text, size_t len)
{
    char err[MSG_MAX];
    struct script *s = NULL;
    if (script_parse(filename, text, len, &s, err, sizeof(err)) || script_join_resumed(s, err, sizeof(err))) {
        fprintf(r->opt.err, "%s\n", err);
        r->errors++;
        script_free(s);
        return RUN_ERROR;
    }
    int status = runner_run(r, s, text, len);
    script_free(s);
    return status;
}

/* ------------------------------------------------------------- summary ---- */

/* "1 divergence", "2 divergences". */
static const char *plural(unsigned long n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* " (write 2, read 1)": a skip list by count, most frequent first; ties in order of
 * first appearance. */
static void print_skips(FILE *out, const struct skip_count *skips, size_t n)
{
    bool *shown = n ? calloc(n, sizeof(*shown)) : NULL;
    for (size_t k = 0; k < n && shown; k++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            if (!shown[i] && (best == n || skips[i].count > skips[best].count))
                best = i;
        }
        shown[best] = true;
        fprintf(out, "%s%s %lu", k ? ", " : " (", skips[best].name, skips[best].count);
    }
    if (shown)
        fputc(')', out);
    free(shown);
}

void runner_print_summary(const struct runner *r, FILE *out)
{
    fprintf(out, "summary: %lu %s, %lu %s verified, %lu skipped", r->statements,
            plural(r->statements, "statement", "statements"), r->verified,
            plural(r->verified, "system call", "system calls"), r->skipped);
    print_skips(out, r->skips, r->nskips);
    fprintf(out, ", %lu %s", r->divergences, plural(r->divergences, "divergence", "divergences"));
    if (r->differences)
        fprintf(out, ", %lu %s in randomized layouts (not failures)", r->differences,
                plural(r->differences, "difference", "differences"));
    if (r->adopted)
        fprintf(out, ", %lu %s from calls outside the log", r->adopted,
                plural(r->adopted, "descriptor", "descriptors"));
    fputc('\n', out);
    for (size_t i = 0; r->many && i < r->nprocs; i++) {
        const struct proc_stats *ps = &r->procs[i];
        fprintf(out, "  process %d %s%s: %lu verified, %lu skipped", ps->pid, ps->image ? ps->image : "(no image)",
                ps->randomized ? " (randomized layout: best effort)" : "", ps->verified, ps->skipped);
        print_skips(out, ps->skips, ps->nskips);
        if (ps->randomized)
            fprintf(out, ", %lu %s\n", ps->differences, plural(ps->differences, "difference", "differences"));
        else
            fprintf(out, ", %lu %s\n", ps->divergences, plural(ps->divergences, "divergence", "divergences"));
    }
}

/* ------------------------------------------------------------ whole runs ---- */

int run_text(const char *filename, const char *text, size_t len, const struct run_options *opt)
{
    struct runner *r = runner_create(opt);
    if (!r) {
        fprintf(opt->err ? opt->err : stderr, "pagoda: out of memory\n");
        return RUN_ERROR;
    }
    int status = runner_run_text(r, filename, text, len);
    if (status != RUN_ERROR && !opt->quiet)
        runner_print_summary(r, opt->out ? opt->out : stdout);
    runner_destroy(r);
    return status;
}

/* The whole of a stream into a malloc'ed buffer; NULL with errno set. */
static char *read_stream(FILE *f, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *grown = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (!grown) {
            free(buf);
            errno = ENOMEM;
            return NULL;
        }
        buf = grown;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    *len = n;
    return buf;
}

int run_file(const char *path, const struct run_options *opt)
{
    bool use_stdin = !strcmp(path, "-");
    FILE *f = use_stdin ? stdin : fopen(path, "r");
    char *text = NULL;
    size_t len = 0;
    if (f)
        text = read_stream(f, &len);
    int saved = errno;
    if (f && !use_stdin)
        fclose(f);
    if (!text) {
        fprintf(opt->err ? opt->err : stderr, "pagoda: cannot read %s: %s\n", path, strerror(saved));
        return RUN_ERROR;
    }
    int status = run_text(use_stdin ? "<stdin>" : path, text, len, opt);
    free(text);
    return status;
}

int cli_run(int argc, char **argv)
{
    struct run_options opt = {0};
    const char *path = NULL;
    bool bad = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-v"))
            opt.verbose = true;
        else if (!strcmp(argv[i], "-q"))
            opt.quiet = true;
        else if ((argv[i][0] == '-' && argv[i][1] != '\0') || path)
            bad = true;
        else
            path = argv[i];
    }
    if (!path || bad) {
        fputs("usage: pagoda run [-v] [-q] FILE|-\n", stderr);
        return RUN_ERROR;
    }
    return run_file(path, &opt);
}
