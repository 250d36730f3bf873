/*
 * cli/script.h - parser for the pagoda script language (docs/script-parser.md).
 *
 * A script is what `strace -f` prints plus pagoda's own statements.  The parser only
 * builds a faithful tree of what each line says; running it is the runner's job.
 * Everything a parse produces lives in the struct script's arena and is released by
 * script_free().  Pointers into it stay valid until then.
 */
#ifndef PAGODA_CLI_SCRIPT_H
#define PAGODA_CLI_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- values ---- */

enum script_value_kind {
    SCRIPT_V_INT,      /* 12, -1, 0x7f00, 0644, 2M */
    SCRIPT_V_STRING,   /* "bytes" (decoded; may hold NUL), "abc"... when truncated */
    SCRIPT_V_FLAGS,    /* an identifier or a flag set: terms joined by '|' */
    SCRIPT_V_NULL,     /* NULL */
    SCRIPT_V_ARRAY,    /* [a, b, ...] */
    SCRIPT_V_STRUCT,   /* {key=value, ...}; a field's key is NULL when positional */
    SCRIPT_V_NAMED,    /* key=value as an argument or array element (clone's flags=) */
    SCRIPT_V_FD,       /* 3</usr/lib/libc.so.6>, AT_FDCWD</tmp> (-y/-yy) */
    SCRIPT_V_SIGSET,   /* [CHLD], ~[RTMIN RT_1], also CPU sets [0 1 2 3] */
    SCRIPT_V_OUT,      /* in => out (clone3 structs, [128 => 16]) */
    SCRIPT_V_CALL,     /* makedev(0x1, 0x3), WIFEXITED(s), SIGSEGV(SEGV_MAPERR) */
    SCRIPT_V_EXPR,     /* lhs OP rhs for OP in && || == != */
    SCRIPT_V_ELLIPSIS, /* "..." standing for elided elements */
    SCRIPT_V_WORD,     /* pagoda keyword (r, w, x, ~stack) or non-numeric config value */
    SCRIPT_V_MARKER,   /* <... resuming interrupted read ...>: text between < and > */
    SCRIPT_V_BLOCK,    /* a heredoc: lines up to the terminator */
};

/* A number as written.  `bits` holds the value in two's complement, so a written
 * "-1" has bits 0xffff...ff and negative set; (int64_t)bits is the signed value. */
struct script_number {
    uint64_t bits;
    bool negative; /* written with a leading '-' */
    uint8_t base;  /* 8, 10 or 16: how it was written, for formatting */
    char suffix;   /* 'K', 'M', 'G', 'T' or 0: bits already include the scale */
};

enum script_term_kind {
    SCRIPT_TERM_IDENT,   /* PROT_READ */
    SCRIPT_TERM_NUMBER,  /* 0x40000 */
    SCRIPT_TERM_SHIFT,   /* 22<<MAP_HUGE_SHIFT: lhs << rhs */
    SCRIPT_TERM_PRODUCT, /* 8192*1024: lhs * rhs */
};

/* One term of a flag set.  SHIFT and PRODUCT have IDENT or NUMBER operands. */
struct script_term {
    enum script_term_kind kind;
    const char *ident;          /* IDENT */
    struct script_number num;   /* NUMBER */
    const struct script_term *lhs, *rhs; /* SHIFT, PRODUCT */
};

struct script_value;

/* One entry of a struct: key NULL for positional entries ({WIFEXITED(s) && ...}). */
struct script_field {
    const char *key;
    struct script_value *value;
};

struct script_value {
    enum script_value_kind kind;
    const char *comment; /* text of a following comment, trimmed, or NULL */
    union {
        struct script_number num; /* INT */
        struct {
            const char *bytes; /* NUL-terminated for convenience; len is authoritative */
            size_t len;
            bool truncated; /* followed by "..." */
            bool abstract;  /* written @"..." (abstract socket names) */
        } str;
        struct {
            const struct script_term *terms;
            size_t n;
        } flags; /* FLAGS */
        struct {
            struct script_value **items;
            size_t n;
        } array; /* ARRAY */
        struct {
            const struct script_field *fields;
            size_t n;
        } fields; /* STRUCT */
        struct {
            const char *key;
            struct script_value *value;
        } named; /* NAMED */
        struct {
            int64_t number;   /* the descriptor; -100 for AT_FDCWD, 0 other names */
            const char *name; /* symbolic descriptor (AT_FDCWD) or NULL */
            const char *path; /* decoded text between the angle brackets */
            size_t path_len;
        } fd; /* FD */
        struct {
            bool negated; /* ~[...] */
            const char *const *names;
            size_t n;
        } sigset; /* SIGSET */
        struct {
            struct script_value *in;  /* NULL when a resumed line starts with "=>" */
            struct script_value *out;
        } out; /* OUT */
        struct {
            const char *name;
            struct script_value **args;
            size_t n;
        } call; /* CALL */
        struct {
            const char *op; /* "&&", "||", "==", "!=" */
            struct script_value *lhs, *rhs;
        } expr; /* EXPR */
        const char *word; /* WORD, MARKER */
        struct {
            const char *const *lines; /* without the newline, trailing '\r' removed */
            size_t n;
            const char *terminator;   /* the word after "<<" */
        } block; /* BLOCK */
    };
};

/* ------------------------------------------------------------ statements ---- */

enum script_stmt_kind {
    SCRIPT_SYSCALL,    /* NAME(args) [= result] */
    SCRIPT_PAGODA,     /* a pagoda statement; ->op says which */
    SCRIPT_EXITED,     /* +++ exited with N +++ */
    SCRIPT_KILLED,     /* +++ killed by SIGNAME [(core dumped)] +++ */
    SCRIPT_SIGNAL,     /* --- SIGNAME {siginfo} --- */
    SCRIPT_SUPERSEDED, /* +++ superseded by execve in pid N +++ */
    SCRIPT_SKIP,       /* strace's own messages: "strace: Process N attached", ... */
    SCRIPT_UNFINISHED, /* NAME(args <unfinished ...> */
    SCRIPT_RESUMED,    /* <... NAME resumed>args) = result */
};

/* Pagoda statements, one per row of the statement table in script.c. */
enum script_op {
    SCRIPT_OP_NONE = 0, /* not a pagoda statement */
    SCRIPT_OP_TOUCH,
    SCRIPT_OP_WRITE,
    SCRIPT_OP_READ,
    SCRIPT_OP_FILL,
    SCRIPT_OP_MAPS,
    SCRIPT_OP_SMAPS,
    SCRIPT_OP_PAGEMAP,
    SCRIPT_OP_WALK,
    SCRIPT_OP_TLB,
    SCRIPT_OP_STATUS,
    SCRIPT_OP_VMSTAT,
    SCRIPT_OP_MEMINFO,
    SCRIPT_OP_KMALLOC,
    SCRIPT_OP_KFREE,
    SCRIPT_OP_VMALLOC,
    SCRIPT_OP_VFREE,
    SCRIPT_OP_KTOUCH,
    SCRIPT_OP_SWITCH,
    SCRIPT_OP_CONFIG,
    SCRIPT_OP_LOAD_MAPS,
    SCRIPT_OP_SLABINFO,
};

enum script_result_kind {
    SCRIPT_RESULT_NONE,    /* no "= ..." */
    SCRIPT_RESULT_VALUE,   /* = 0x7f00, = 3</etc/passwd>, = ok, = "AB", = SIGBUS ... */
    SCRIPT_RESULT_ERROR,   /* = -1 ENOMEM (text); value NULL for "= ? ERESTARTSYS (...)" */
    SCRIPT_RESULT_UNKNOWN, /* = ? */
    SCRIPT_RESULT_BLOCK,   /* = <<END ... END; value is the SCRIPT_V_BLOCK */
};

struct script_result {
    enum script_result_kind kind;
    struct script_value *value;
    const char *errno_name; /* ERROR: "ENOMEM" */
    const char *errno_text; /* ERROR: "Cannot allocate memory" or NULL */
    const char *extra;      /* VALUE: trailing "(...)" text without parens, e.g. "Timeout" */
    const char *time;       /* -T: text between < and >, e.g. "0.000123", or NULL */
    uint32_t column;        /* column of the first character after '=' */
};

struct script_stmt {
    enum script_stmt_kind kind;
    enum script_op op;         /* SCRIPT_PAGODA: which statement; else SCRIPT_OP_NONE */
    int32_t pid;               /* the line's pid prefix, -1 without one */
    const char *timestamp;     /* -t/-tt/-ttt/-r text, or NULL */
    const char *name;          /* syscall/statement name; signal of SIGNAL and KILLED */
    struct script_value **args; /* syscall arguments; pagoda: one slot per table
                                   argument, NULL where an optional one was omitted;
                                   config: its KEY=VALUE pairs as NAMED; SIGNAL: the
                                   siginfo struct, if printed */
    size_t nargs;
    struct script_result result;
    int exit_status;           /* EXITED */
    bool core_dumped;          /* KILLED */
    int32_t exec_pid;          /* SUPERSEDED: thread whose execve took over this pid */
    const char *text;          /* SKIP: the line from the statement's start */
    const char *partial;       /* UNFINISHED/RESUMED: raw argument text of this half */
    size_t partial_len;
    uint32_t partial_column;
    bool interrupted;          /* "<... X resumed> <unfinished ...>)" or a joined call
                                  that never returned (result is "?") */
    bool joined;               /* made by script_join_resumed from two lines */
    uint32_t line, column;     /* 1-based start of the statement proper */
    uint32_t end_line;         /* last line it spans (heredoc end, resumed line) */
};

struct script;

/* Parse `len` bytes of `text` (need not be NUL-terminated; may contain NUL bytes).
 * Returns 0 and *out, or -1 with "FILE:LINE:COLUMN: message" in errbuf (truncated
 * to errlen) and *out NULL.  Lines keep their file order; strace's split calls stay
 * split (see script_join_resumed). */
int script_parse(const char *filename, const char *text, size_t len, struct script **out,
                 char *errbuf, size_t errlen);

/* Join every "<unfinished ...>" line with its "<... NAME resumed>" line of the same
 * pid into one SCRIPT_SYSCALL (joined = true; line, column and timestamp of the
 * unfinished half; end_line and result of the resumed half).  The joined call takes
 * the resumed line's place in the order - the call's effect happened by then, and
 * other processes' calls completed before that line completed before it - except
 * clone, clone3, fork and vfork, which take the unfinished line's place because the
 * child's own lines may appear before the parent's resumed line.  An unfinished call
 * that never resumes (its process died, or the log ends) becomes a call with result
 * "?" and interrupted = true; a resumed line with no unfinished half stays
 * SCRIPT_RESUMED.  "+++ superseded by execve in pid T +++" hands T's unfinished
 * execve to the superseded pid, as strace does.  strace drops the pid prefix while it
 * traces a single process, so when no pending call has the exact pid, a half without
 * pid matches the only pending call of the same name (and a joined call keeps the
 * pid that is known).  On failure the statements are left as they were.  Returns 0,
 * or -1 with errbuf as for script_parse (the halves do not form a call, or a resumed
 * name differs from its pid's unfinished call). */
int script_join_resumed(struct script *s, char *errbuf, size_t errlen);

/* Release a script and everything it owns; NULL is fine. */
void script_free(struct script *s);

size_t script_count(const struct script *s);
const struct script_stmt *script_stmt_at(const struct script *s, size_t index);
const char *script_filename(const struct script *s);

/* ------------------------------------------------------------- helpers ---- */

/* The statement name of a pagoda op ("load-maps"), "" for SCRIPT_OP_NONE. */
const char *script_op_name(enum script_op op);

/* Format v as strace prints it (strings escaped like strace, numbers in the base
 * they were written in) into buf like snprintf: always NUL-terminated when
 * len > 0; returns the length the whole text needs. */
size_t script_value_format(const struct script_value *v, char *buf, size_t len);

/* Byte comparison of a string literal with bytes: "\x41" equals "A".  A truncated
 * literal ("abc"...) matches any bytes that start with it.  False for non-strings. */
bool script_bytes_equal(const struct script_value *v, const void *bytes, size_t len);

/* The identifier if v is a flag set of exactly one identifier (AT_FDCWD, ok, SIGBUS),
 * else NULL. */
const char *script_value_ident(const struct script_value *v);

#endif
