/*
 * cli/script.c - parser of the pagoda script language (docs/script-parser.md).
 *
 * The text is read line by line.  Each line yields at most one statement: a system
 * call in strace's syntax, a pagoda statement from the table below, or one of
 * strace's decorations.  Values are parsed by a small recursive-descent parser over
 * the bytes of one line (or of two joined halves, see script_join_resumed).
 *
 * Every allocation comes from the script's arena, so an error anywhere can simply
 * longjmp() out of the parse: nothing but the arena holds memory, and script_free()
 * releases the arena.  The parser never reads outside [cur, end) of its buffer.
 */
#include "cli/script.h"

#include "hw/bug.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRIPT_MAX_DEPTH 64     /* nesting of [ { ( and chained && || operators */
#define SCRIPT_MAX_HEREDOCS 4   /* "<<WORD" markers on one line */
#define ARENA_CHUNK_SIZE (64u * 1024u)
#define ARENA_ALIGN 16u
#define TOKEN_SHOWN 32          /* bytes of an offending token quoted in a message */

/* ------------------------------------------------------------------ arena ---- */

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
};

#define CHUNK_HEADER (((sizeof(struct arena_chunk)) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

struct script {
    struct arena_chunk *chunks;
    const char *filename;
    struct script_stmt **stmts;
    size_t n, cap;
};

/* Test hook: when non-zero, the arena fails its Nth allocation from now. */
static size_t arena_fail_countdown;

/* Zeroed, aligned memory owned by s; NULL when the host is out of memory.  Large
 * requests get a chunk of their own behind the current one, so the current chunk's
 * free space is not thrown away. */
static void *arena_alloc(struct script *s, size_t size)
{
    if (arena_fail_countdown && --arena_fail_countdown == 0)
        return NULL;
    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    struct arena_chunk *c = s->chunks;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > ARENA_CHUNK_SIZE / 4 ? size : ARENA_CHUNK_SIZE;
        struct arena_chunk *fresh = malloc(CHUNK_HEADER + cap);
        if (!fresh)
            return NULL;
        fresh->used = 0;
        fresh->cap = cap;
        if (c && cap == size) { /* dedicated chunk: keep allocating from c */
            fresh->next = c->next;
            c->next = fresh;
        } else {
            fresh->next = c;
            s->chunks = fresh;
        }
        c = fresh;
    }
    void *mem = (char *)c + CHUNK_HEADER + c->used;
    c->used += size;
    memset(mem, 0, size);
    return mem;
}

void script_free(struct script *s)
{
    if (!s)
        return;
    struct arena_chunk *c = s->chunks;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(s);
}

size_t script_count(const struct script *s)
{
    return s ? s->n : 0;
}

const struct script_stmt *script_stmt_at(const struct script *s, size_t index)
{
    return s && index < s->n ? s->stmts[index] : NULL;
}

const char *script_filename(const struct script *s)
{
    return s ? s->filename : NULL;
}

/* ----------------------------------------------------------------- parser ---- */

/* A stretch of the buffer being parsed and where it sits in the file: one for a
 * line, two for the joined halves of an unfinished/resumed call. */
struct segment {
    const char *start, *end;
    uint32_t line, column;
};

struct heredoc_request {
    struct script_value *block;
    uint32_t line, column; /* of the "<<" that opened it */
};

struct parser {
    struct script *s;
    jmp_buf *on_error;
    char *errbuf;
    size_t errlen;
    const char *cur, *end; /* the unread part of the current buffer */
    struct segment seg[2];
    unsigned nseg;
    unsigned depth;
    const char *comment; /* comments met since the current item began */
    struct heredoc_request heredoc[SCRIPT_MAX_HEREDOCS];
    unsigned nheredoc;
    struct script_stmt *last; /* statement of the current line, for heredoc ends */
};

/* Growable array in the arena; outgrown storage is simply left behind. */
struct vec {
    void *data;
    size_t n, cap;
};

/* A parser writing into s, reporting errors through on_error and errbuf. */
static void init_parser(struct parser *p, struct script *s, jmp_buf *on_error, char *errbuf,
                        size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->s = s;
    p->on_error = on_error;
    p->errbuf = errbuf;
    p->errlen = errlen;
}

/* Line and column of a position in the current buffer. */
static void locate(const struct parser *p, const char *at, uint32_t *line, uint32_t *column)
{
    for (unsigned i = p->nseg; i-- > 0;) {
        const struct segment *g = &p->seg[i];
        if (at && at >= g->start && at <= g->end) {
            *line = g->line;
            *column = g->column + (uint32_t)(at - g->start);
            return;
        }
    }
    *line = p->nseg ? p->seg[0].line : 0;
    *column = p->nseg ? p->seg[0].column : 0;
}

/* Write "FILE:LINE:COLUMN: message" into the caller's error buffer. */
static void write_message(const struct parser *p, uint32_t line, uint32_t column, const char *fmt,
                          va_list ap)
{
    if (!p->errbuf || !p->errlen)
        return;
    int n = snprintf(p->errbuf, p->errlen, "%s:%u:%u: ", p->s->filename, (unsigned)line,
                     (unsigned)column);
    if (n >= 0 && (size_t)n < p->errlen)
        vsnprintf(p->errbuf + n, p->errlen - (size_t)n, fmt, ap);
}

/* Report an error at a line and column and abandon the parse. */
__attribute__((format(printf, 4, 5))) static _Noreturn void
fail_line_col(struct parser *p, uint32_t line, uint32_t column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    write_message(p, line, column, fmt, ap);
    va_end(ap);
    longjmp(*p->on_error, 1);
}

/* Report an error at a position of the current buffer and abandon the parse. */
__attribute__((format(printf, 3, 4))) static _Noreturn void fail_at(struct parser *p, const char *at,
                                                                     const char *fmt, ...)
{
    uint32_t line, column;
    locate(p, at, &line, &column);
    va_list ap;
    va_start(ap, fmt);
    write_message(p, line, column, fmt, ap);
    va_end(ap);
    longjmp(*p->on_error, 1);
}

/* Zeroed arena memory; running out of memory ends the parse with an error. */
static void *p_alloc(struct parser *p, size_t size)
{
    void *mem = arena_alloc(p->s, size);
    if (!mem)
        fail_at(p, p->cur, "out of memory");
    return mem;
}

/* A NUL-terminated arena copy of n bytes. */
static char *p_strndup(struct parser *p, const char *s, size_t n)
{
    char *copy = p_alloc(p, n + 1);
    if (n)
        memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

/* Append one element of `size` bytes to v and return it (zeroed). */
static void *vec_push(struct parser *p, struct vec *v, size_t size)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        void *data = p_alloc(p, cap * size);
        if (v->n)
            memcpy(data, v->data, v->n * size);
        v->data = data;
        v->cap = cap;
    }
    return (char *)v->data + v->n++ * size;
}

static void vec_push_ptr(struct parser *p, struct vec *v, void *ptr)
{
    *(void **)vec_push(p, v, sizeof(void *)) = ptr;
}

/* ------------------------------------------------------- character level ---- */

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ident_start(int c)
{
    return is_alpha(c) || c == '_';
}

static bool is_ident_char(int c)
{
    return is_ident_start(c) || is_digit(c);
}

static bool is_blank(int c)
{
    return c == ' ' || c == '\t';
}

static int hex_value(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The byte k positions ahead, or -1 past the end of the buffer. */
static int peek(const struct parser *p, size_t k)
{
    return (size_t)(p->end - p->cur) > k ? (unsigned char)p->cur[k] : -1;
}

static bool looking_at(const struct parser *p, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(p->end - p->cur) >= n && memcmp(p->cur, lit, n) == 0;
}

static void skip_blanks(struct parser *p)
{
    while (is_blank(peek(p, 0)))
        p->cur++;
}

static const char *skip_ident(const char *q, const char *end)
{
    while (q < end && is_ident_char((unsigned char)*q))
        q++;
    return q;
}

/* End of the line for a statement: nothing left, or a '#' comment. */
static bool at_line_end(const struct parser *p)
{
    return p->cur == p->end || peek(p, 0) == '#';
}

/* Only blanks or a comment may be left on the line; else `message`. */
static void expect_line_end(struct parser *p, const char *message)
{
    skip_blanks(p);
    if (!at_line_end(p))
        fail_at(p, p->cur, "%s", message);
}

/* A printable copy of the non-blank token at q, for messages. */
static void token_text(const char *q, const char *end, char *out, size_t outlen)
{
    size_t n = 0;
    while (q < end && !is_blank((unsigned char)*q) && n + 1 < outlen && n < TOKEN_SHOWN) {
        unsigned char c = (unsigned char)*q++;
        out[n++] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
    }
    out[n] = '\0';
}

/* ---------------------------------------------------------------- numbers ---- */

enum number_status {
    NUM_OK,
    NUM_NO_DIGITS,
    NUM_BAD_CHAR,
    NUM_BAD_OCTAL,
    NUM_RANGE,
};

/* Add digit d in base b to *v; false on overflow. */
static bool accumulate(uint64_t *v, unsigned b, unsigned d)
{
    if (*v > (UINT64_MAX - d) / b)
        return false;
    *v = *v * b + d;
    return true;
}

/* Scale by a size suffix K/M/G/T if one is at *q; false on overflow. */
static bool apply_suffix(uint64_t *v, const char **q, const char *end, char *suffix)
{
    static const char letters[] = "KMGT";
    if (*q >= end)
        return true;
    const char *hit = memchr(letters, **q, 4);
    if (!hit)
        return true;
    unsigned shift = 10u * (unsigned)(hit - letters + 1);
    if (*v > (UINT64_MAX >> shift))
        return false;
    *v <<= shift;
    *suffix = **q;
    (*q)++;
    return true;
}

/* Scan a number at s: [-] (0x hex | 0 octal | decimal [K|M|G|T]).  On NUM_OK *stop is
 * just past it; otherwise *stop is where the problem is (the start for NUM_RANGE). */
static enum number_status scan_number(const char *s, const char *end, struct script_number *out,
                                      const char **stop)
{
    const char *q = s;
    struct script_number num = {.base = 10};
    uint64_t v = 0;
    if (q < end && *q == '-') {
        num.negative = true;
        q++;
    }
    *stop = q;
    if (q >= end || !is_digit((unsigned char)*q))
        return NUM_NO_DIGITS;
    if (*q == '0' && q + 1 < end && (q[1] == 'x' || q[1] == 'X')) {
        num.base = 16;
        q += 2;
        *stop = q;
        if (q >= end || hex_value((unsigned char)*q) < 0)
            return NUM_NO_DIGITS;
        for (; q < end && hex_value((unsigned char)*q) >= 0; q++)
            if (!accumulate(&v, 16, (unsigned)hex_value((unsigned char)*q)))
                return *stop = s, NUM_RANGE;
    } else if (*q == '0' && q + 1 < end && is_digit((unsigned char)q[1])) {
        num.base = 8;
        for (q++; q < end && is_digit((unsigned char)*q); q++) {
            if (*q > '7')
                return *stop = q, NUM_BAD_OCTAL;
            if (!accumulate(&v, 8, (unsigned)(*q - '0')))
                return *stop = s, NUM_RANGE;
        }
    } else {
        for (; q < end && is_digit((unsigned char)*q); q++)
            if (!accumulate(&v, 10, (unsigned)(*q - '0')))
                return *stop = s, NUM_RANGE;
        if (!apply_suffix(&v, &q, end, &num.suffix))
            return *stop = s, NUM_RANGE;
    }
    if (q < end && is_ident_char((unsigned char)*q))
        return *stop = q, NUM_BAD_CHAR;
    if (num.negative && v > (UINT64_C(1) << 63))
        return *stop = s, NUM_RANGE;
    num.bits = num.negative ? 0 - v : v;
    *out = num;
    *stop = q;
    return NUM_OK;
}

/* The error for a failed scan_number() at `where`. */
static _Noreturn void fail_number(struct parser *p, enum number_status st, const char *where)
{
    switch (st) {
    case NUM_RANGE:
        fail_at(p, where, "number out of range");
    case NUM_BAD_OCTAL:
        fail_at(p, where, "invalid digit in octal number");
    case NUM_BAD_CHAR:
        fail_at(p, where, "invalid character in number");
    default:
        fail_at(p, where, "expected a number");
    }
}

/* A number at the cursor, or a parse error. */
static struct script_number read_number(struct parser *p)
{
    struct script_number num;
    const char *stop;
    enum number_status st = scan_number(p->cur, p->end, &num, &stop);
    if (st != NUM_OK)
        fail_number(p, st, stop);
    p->cur = stop;
    return num;
}

/* A plain decimal in 0..INT32_MAX (pids, exit statuses). */
static int32_t read_small_int(struct parser *p, const char *what)
{
    const char *start = p->cur;
    if (!is_digit(peek(p, 0)))
        fail_at(p, start, "expected %s", what);
    uint64_t v = 0;
    while (is_digit(peek(p, 0))) {
        v = v * 10 + (uint64_t)(*p->cur++ - '0');
        if (v > INT32_MAX)
            fail_at(p, start, "number out of range");
    }
    if (is_ident_char(peek(p, 0)))
        fail_at(p, p->cur, "invalid character in number");
    return (int32_t)v;
}

/* ---------------------------------------------------------------- strings ---- */

/* One escape sequence at *s (just past the backslash at bs) into *o. */
static void decode_escape(struct parser *p, const char *bs, const char **s, const char *e, char **o)
{
    static const char simple_in[] = "ntrvfabe\\\"'?";
    static const char simple_out[] = "\n\t\r\v\f\a\b\033\\\"'?";
    if (*s >= e)
        fail_at(p, bs, "invalid escape sequence");
    unsigned char c = (unsigned char)**s;
    const char *hit = c ? strchr(simple_in, c) : NULL;
    if (hit) {
        *(*o)++ = simple_out[hit - simple_in];
        (*s)++;
        return;
    }
    unsigned v = 0, n = 0;
    if (c == 'x') {
        for ((*s)++; n < 2 && *s < e && hex_value((unsigned char)**s) >= 0; n++, (*s)++)
            v = v * 16 + (unsigned)hex_value((unsigned char)**s);
        if (!n)
            fail_at(p, bs, "invalid escape sequence '\\x'");
    } else if (c >= '0' && c <= '7') {
        for (; n < 3 && *s < e && **s >= '0' && **s <= '7'; n++, (*s)++)
            v = v * 8 + (unsigned)(**s - '0');
        if (v > 255)
            fail_at(p, bs, "octal escape out of range");
    } else {
        fail_at(p, bs, "invalid escape sequence '\\%c'", (c >= 0x20 && c < 0x7f) ? c : '?');
    }
    *(*o)++ = (char)v;
}

/* Decode C escapes of [s, e) into a NUL-terminated arena copy; *len is its length. */
static char *decode_escapes(struct parser *p, const char *s, const char *e, size_t *len)
{
    char *out = p_alloc(p, (size_t)(e - s) + 1);
    char *o = out;
    while (s < e) {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        const char *bs = s++;
        decode_escape(p, bs, &s, e, &o);
    }
    *o = '\0';
    *len = (size_t)(o - out);
    return out;
}

/* A zeroed value of the given kind. */
static struct script_value *new_value(struct parser *p, enum script_value_kind kind)
{
    struct script_value *v = p_alloc(p, sizeof *v);
    v->kind = kind;
    return v;
}

/* "..." at the cursor (no trailing "..." handling); the cursor ends past the quote. */
static struct script_value *parse_string_literal(struct parser *p)
{
    const char *open = p->cur;
    const char *q = open + 1;
    while (q < p->end && *q != '"')
        q = (*q == '\\' && q + 1 < p->end) ? q + 2 : q + 1;
    if (q >= p->end)
        fail_at(p, open, "unterminated string literal");
    struct script_value *v = new_value(p, SCRIPT_V_STRING);
    v->str.bytes = decode_escapes(p, open + 1, q, &v->str.len);
    p->cur = q + 1;
    return v;
}

/* A string value: "..." [...] (truncated), @"..." when abstract. */
static struct script_value *parse_string_value(struct parser *p, bool abstract)
{
    struct script_value *v = parse_string_literal(p);
    v->str.abstract = abstract;
    if (looking_at(p, "...")) {
        v->str.truncated = true;
        p->cur += 3;
    }
    return v;
}

/* ---------------------------------------------------------------- values ---- */

static struct script_value *parse_item(struct parser *p, bool allow_key);
static struct script_value *parse_primary(struct parser *p);

enum list_end { LIST_CLOSED, LIST_UNFINISHED };
#define LIST_KEYS 1u     /* entries may be key=value */
#define LIST_MAY_STOP 2u /* "<unfinished ...>" may end the list (a syscall line) */
#define LIST_RESUMED 4u  /* second half of a split call: may start with "=>" */

static enum list_end parse_list(struct parser *p, int closer, unsigned flags, struct vec *items,
                                const char **stop);

/* Entering a nested value; bounded so hostile input cannot exhaust the stack. */
static void enter(struct parser *p)
{
    if (++p->depth > SCRIPT_MAX_DEPTH)
        fail_at(p, p->cur, "nesting too deep");
}

static void leave(struct parser *p)
{
    PAGODA_BUG_ON(p->depth == 0, "value nesting depth underflow");
    p->depth--;
}

/* a and b joined by a space (either may be NULL). */
static const char *concat_comment(struct parser *p, const char *a, const char *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    size_t la = strlen(a), lb = strlen(b);
    char *both = p_alloc(p, la + lb + 2);
    memcpy(both, a, la);
    both[la] = ' ';
    memcpy(both + la + 1, b, lb + 1);
    return both;
}

/* Skip blanks and comments; comment texts collect in p->comment. */
static void skip_space(struct parser *p)
{
    for (;;) {
        skip_blanks(p);
        if (!looking_at(p, "/*"))
            return;
        const char *open = p->cur, *q = open + 2;
        while (q + 1 < p->end && !(q[0] == '*' && q[1] == '/'))
            q++;
        if (q + 1 >= p->end)
            fail_at(p, open, "unterminated comment");
        const char *a = open + 2, *b = q;
        while (a < b && is_blank((unsigned char)*a))
            a++;
        while (b > a && is_blank((unsigned char)b[-1]))
            b--;
        p->comment = concat_comment(p, p->comment, p_strndup(p, a, (size_t)(b - a)));
        p->cur = q + 2;
    }
}

/* The comments collected so far, leaving none. */
static const char *take_comment(struct parser *p)
{
    const char *c = p->comment;
    p->comment = NULL;
    return c;
}

/* A flag set of the single term t. */
static struct script_value *flags_of_term(struct parser *p, const struct script_term *t)
{
    struct script_value *v = new_value(p, SCRIPT_V_FLAGS);
    struct script_term *copy = p_alloc(p, sizeof *copy);
    *copy = *t;
    v->flags.terms = copy;
    v->flags.n = 1;
    return v;
}

/* "<...>" after a descriptor: find the '>' that closes the '<' at open.  Nested <..>
 * (-yy device suffixes) count; a '>' inside [...] ("TCP:[1.2.3.4:5->6.7.8.9:10]")
 * does not, unless the brackets never balance (a path with a lone '['). */
static const char *find_fd_close(const char *open, const char *end, bool brackets)
{
    int angle = 1, square = 0;
    for (const char *q = open + 1; q < end; q++) {
        if (*q == '\\') {
            q += q + 1 < end; /* the escaped byte never closes anything */
            continue;
        }
        if (brackets && *q == '[')
            square++;
        else if (brackets && *q == ']' && square > 0)
            square--;
        else if (*q == '<')
            angle++;
        else if (*q == '>' && !(square > 0) && --angle == 0)
            return q;
    }
    return NULL;
}

/* The "<path>" decoration at the cursor on descriptor number/name. */
static struct script_value *parse_fd(struct parser *p, int64_t number, const char *name)
{
    const char *open = p->cur;
    const char *close = find_fd_close(open, p->end, true);
    if (!close)
        close = find_fd_close(open, p->end, false);
    if (!close)
        fail_at(p, open, "expected '>' to end the fd path");
    struct script_value *v = new_value(p, SCRIPT_V_FD);
    v->fd.number = number;
    v->fd.name = name;
    v->fd.path = decode_escapes(p, open + 1, close, &v->fd.path_len);
    p->cur = close + 1;
    return v;
}

/* A number, or an fd when "<path>" follows it directly. */
static struct script_value *parse_number_value(struct parser *p)
{
    struct script_number num = read_number(p);
    if (peek(p, 0) == '<' && peek(p, 1) != '<')
        return parse_fd(p, (int64_t)num.bits, NULL);
    struct script_value *v = new_value(p, SCRIPT_V_INT);
    v->num = num;
    return v;
}

/* NAME(args) with the cursor on "(": makedev(0x1, 0x3), WIFEXITED(s). */
static struct script_value *parse_call(struct parser *p, const char *name)
{
    enter(p);
    p->cur++; /* '(' */
    struct vec args = {0};
    parse_list(p, ')', LIST_KEYS, &args, NULL);
    struct script_value *v = new_value(p, SCRIPT_V_CALL);
    v->call.name = name;
    v->call.args = args.data;
    v->call.n = args.n;
    leave(p);
    return v;
}

/* An identifier (optionally &-prefixed, as in &sin6_addr), a call, an fd
 * decoration on a symbolic descriptor (AT_FDCWD</tmp>), or NULL. */
static struct script_value *parse_ident_value(struct parser *p)
{
    const char *start = p->cur;
    const char *q = skip_ident(start + (*start == '&'), p->end);
    const char *name = p_strndup(p, start, (size_t)(q - start));
    p->cur = q;
    if (peek(p, 0) == '(' && *start != '&')
        return parse_call(p, name);
    if (peek(p, 0) == '<' && peek(p, 1) != '<')
        return parse_fd(p, strcmp(name, "AT_FDCWD") == 0 ? -100 : 0, name);
    if (strcmp(name, "NULL") == 0)
        return new_value(p, SCRIPT_V_NULL);
    struct script_term t = {.kind = SCRIPT_TERM_IDENT, .ident = name};
    return flags_of_term(p, &t);
}

/* Signal names as strace prints them inside sets (without "SIG"). */
static bool is_sigset_name(const char *s, size_t n)
{
    static const char *const names[] = {
        "HUP",  "INT",  "QUIT", "ILL",    "TRAP", "ABRT",  "IOT",   "BUS",  "FPE",
        "KILL", "USR1", "SEGV", "USR2",   "PIPE", "ALRM",  "TERM",  "STKFLT", "CHLD",
        "CONT", "STOP", "TSTP", "TTIN",   "TTOU", "URG",   "XCPU",  "XFSZ", "VTALRM",
        "PROF", "WINCH", "IO",  "POLL",   "PWR",  "SYS",   "RTMIN", "RTMAX",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
            return true;
    return n > 3 && memcmp(s, "RT_", 3) == 0;
}

/* After '[': is this a space-separated set ([RTMIN RT_1], [0 1 2 3], [CHLD]) rather
 * than a comma-separated array? */
static bool looks_like_sigset(const struct parser *p)
{
    const char *q = skip_ident(p->cur, p->end);
    if (q == p->cur || q >= p->end)
        return false;
    if (*q == ' ' && q + 1 < p->end && is_ident_char((unsigned char)q[1]))
        return true;
    return *q == ']' && is_sigset_name(p->cur, (size_t)(q - p->cur));
}

/* Space-separated names up to "]" (the cursor is past "["). */
static struct script_value *parse_sigset_body(struct parser *p, bool negated)
{
    struct vec names = {0};
    skip_blanks(p);
    while (peek(p, 0) != ']') {
        if (!is_ident_char(peek(p, 0)))
            fail_at(p, p->cur, "expected ']' after signal set");
        const char *q = skip_ident(p->cur, p->end);
        vec_push_ptr(p, &names, p_strndup(p, p->cur, (size_t)(q - p->cur)));
        p->cur = q;
        skip_blanks(p);
    }
    p->cur++;
    struct script_value *v = new_value(p, SCRIPT_V_SIGSET);
    v->sigset.negated = negated;
    v->sigset.names = names.data;
    v->sigset.n = names.n;
    return v;
}

/* "[" ... "]": a set (~[...] always) or an array. */
static struct script_value *parse_bracket(struct parser *p, bool negated)
{
    enter(p);
    p->cur++; /* '[' */
    struct script_value *v;
    if (negated || looks_like_sigset(p)) {
        v = parse_sigset_body(p, negated);
    } else {
        struct vec items = {0};
        parse_list(p, ']', LIST_KEYS, &items, NULL);
        v = new_value(p, SCRIPT_V_ARRAY);
        v->array.items = items.data;
        v->array.n = items.n;
    }
    leave(p);
    return v;
}

/* "{" fields "}"; key=value entries become keyed fields, others positional. */
static struct script_value *parse_struct(struct parser *p)
{
    enter(p);
    p->cur++; /* '{' */
    struct vec items = {0};
    parse_list(p, '}', LIST_KEYS, &items, NULL);
    struct script_field *fields = items.n ? p_alloc(p, items.n * sizeof *fields) : NULL;
    struct script_value **item = items.data;
    for (size_t i = 0; i < items.n; i++) {
        bool keyed = item[i]->kind == SCRIPT_V_NAMED;
        fields[i].key = keyed ? item[i]->named.key : NULL;
        fields[i].value = keyed ? item[i]->named.value : item[i];
    }
    struct script_value *v = new_value(p, SCRIPT_V_STRUCT);
    v->fields.fields = fields;
    v->fields.n = items.n;
    leave(p);
    return v;
}

/* <... resuming interrupted read ...> */
static struct script_value *parse_marker(struct parser *p)
{
    const char *open = p->cur;
    const char *close = memchr(open, '>', (size_t)(p->end - open));
    if (!close)
        fail_at(p, open, "expected '>' to end '<...'");
    struct script_value *v = new_value(p, SCRIPT_V_MARKER);
    v->word = p_strndup(p, open + 1, (size_t)(close - open - 1));
    p->cur = close + 1;
    return v;
}

/* One operand: string, array, set, struct, marker, "...", number, identifier. */
static struct script_value *parse_primary(struct parser *p)
{
    int c = peek(p, 0), c1 = peek(p, 1);
    if (c == '"')
        return parse_string_value(p, false);
    if (c == '@' && c1 == '"') {
        p->cur++;
        return parse_string_value(p, true);
    }
    if (c == '[')
        return parse_bracket(p, false);
    if (c == '~' && c1 == '[') {
        p->cur++;
        return parse_bracket(p, true);
    }
    if (c == '{')
        return parse_struct(p);
    if (looking_at(p, "<..."))
        return parse_marker(p);
    if (looking_at(p, "...")) {
        p->cur += 3;
        return new_value(p, SCRIPT_V_ELLIPSIS);
    }
    if (is_digit(c) || (c == '-' && is_digit(c1)))
        return parse_number_value(p);
    if (is_ident_start(c) || (c == '&' && is_ident_start(c1)))
        return parse_ident_value(p);
    fail_at(p, p->cur, "expected a value");
}

/* The term a flag-set operand stands for: a number or an identifier (or, for a
 * whole '|' operand, a shift/product term). */
static struct script_term term_of(struct parser *p, const struct script_value *v, const char *at,
                                  bool compound_ok)
{
    struct script_term t = {.kind = SCRIPT_TERM_NUMBER};
    if (v->kind == SCRIPT_V_INT && !v->comment) {
        t.num = v->num;
        return t;
    }
    if (v->kind == SCRIPT_V_FLAGS && v->flags.n == 1 && !v->comment &&
        (compound_ok || v->flags.terms[0].kind == SCRIPT_TERM_IDENT))
        return v->flags.terms[0];
    fail_at(p, at, "expected an identifier or number");
}

/* primary [ "<<" primary | "*" primary ], the operands being atoms. */
static struct script_value *parse_term_value(struct parser *p)
{
    const char *start = p->cur;
    struct script_value *lhs = parse_primary(p);
    bool shift = looking_at(p, "<<");
    if (!shift && peek(p, 0) != '*')
        return lhs;
    p->cur += shift ? 2 : 1;
    const char *rhs_at = p->cur;
    struct script_value *rhs = parse_primary(p);
    struct script_term *l = p_alloc(p, sizeof *l), *r = p_alloc(p, sizeof *r);
    *l = term_of(p, lhs, start, false);
    *r = term_of(p, rhs, rhs_at, false);
    struct script_term t = {.kind = shift ? SCRIPT_TERM_SHIFT : SCRIPT_TERM_PRODUCT, .lhs = l, .rhs = r};
    return flags_of_term(p, &t);
}

/* A single '|' (not "||") after optional blanks and comments; the cursor moves past
 * it if so.  strace annotates unknown bits inside a flag set with a comment (an
 * unknown mapping type prints as 0xf, then a comment saying MAP_ and three question
 * marks, then |MAP_FIXED): such comments carry nothing and are dropped. */
static bool take_bar(struct parser *p)
{
    const char *q = p->cur;
    for (;;) {
        while (q < p->end && is_blank((unsigned char)*q))
            q++;
        if (q + 1 < p->end && q[0] == '/' && q[1] == '*') {
            const char *close = q + 2;
            while (close + 1 < p->end && !(close[0] == '*' && close[1] == '/'))
                close++;
            if (close + 1 >= p->end)
                return false;
            q = close + 2;
            continue;
        }
        break;
    }
    if (q >= p->end || *q != '|' || (q + 1 < p->end && q[1] == '|'))
        return false;
    p->cur = q + 1;
    skip_blanks(p);
    return true;
}

/* term { '|' term }: several terms make a flag set. */
static struct script_value *parse_chain(struct parser *p)
{
    const char *start = p->cur;
    struct script_value *first = parse_term_value(p);
    if (!take_bar(p))
        return first;
    struct vec terms = {0};
    *(struct script_term *)vec_push(p, &terms, sizeof(struct script_term)) =
        term_of(p, first, start, true);
    do {
        const char *at = p->cur;
        struct script_value *next = parse_term_value(p);
        *(struct script_term *)vec_push(p, &terms, sizeof(struct script_term)) =
            term_of(p, next, at, true);
    } while (take_bar(p));
    struct script_value *v = new_value(p, SCRIPT_V_FLAGS);
    v->flags.terms = terms.data;
    v->flags.n = terms.n;
    return v;
}

/* lhs OP rhs. */
static struct script_value *make_expr(struct parser *p, const char *op, struct script_value *lhs,
                                      struct script_value *rhs)
{
    struct script_value *v = new_value(p, SCRIPT_V_EXPR);
    v->expr.op = op;
    v->expr.lhs = lhs;
    v->expr.rhs = rhs;
    return v;
}

/* chain [ ("==" | "!=") chain ] */
static struct script_value *parse_cmp(struct parser *p)
{
    struct script_value *lhs = parse_chain(p);
    skip_space(p);
    const char *op = looking_at(p, "==") ? "==" : looking_at(p, "!=") ? "!=" : NULL;
    if (!op)
        return lhs;
    p->cur += 2;
    skip_space(p);
    return make_expr(p, op, lhs, parse_chain(p));
}

/* cmp { ("&&" | "||") cmp }, left-associative */
static struct script_value *parse_expr(struct parser *p)
{
    struct script_value *lhs = parse_cmp(p);
    unsigned chained = 0;
    for (;;) {
        skip_space(p);
        const char *op = looking_at(p, "&&") ? "&&" : looking_at(p, "||") ? "||" : NULL;
        if (!op)
            return lhs;
        if (++chained > SCRIPT_MAX_DEPTH)
            fail_at(p, p->cur, "nesting too deep");
        p->cur += 2;
        skip_space(p);
        lhs = make_expr(p, op, lhs, parse_cmp(p));
    }
}

/* in => out (in NULL when a resumed half starts with "=>"). */
static struct script_value *make_out(struct parser *p, struct script_value *in,
                                     struct script_value *out)
{
    struct script_value *v = new_value(p, SCRIPT_V_OUT);
    v->out.in = in;
    v->out.out = out;
    return v;
}

/* expr [ "=>" expr ] */
static struct script_value *parse_out(struct parser *p)
{
    struct script_value *in = parse_expr(p);
    skip_space(p);
    if (!looking_at(p, "=>"))
        return in;
    p->cur += 2;
    skip_space(p);
    return make_out(p, in, parse_expr(p));
}

/* "key=" at the cursor (key: identifier characters, '.', and [..] subscripts), not
 * followed by another '=' or '>'; consumed and returned, else NULL. */
static const char *try_key(struct parser *p)
{
    if (!is_ident_start(peek(p, 0)))
        return NULL;
    const char *q = p->cur;
    while (q < p->end && (is_ident_char((unsigned char)*q) || *q == '.'))
        q++;
    while (q < p->end && *q == '[') {
        const char *r = skip_ident(q + 1, p->end);
        if (r >= p->end || *r != ']')
            return NULL;
        q = r + 1;
    }
    if (q >= p->end || *q != '=' || (q + 1 < p->end && (q[1] == '=' || q[1] == '>')))
        return NULL;
    const char *key = p_strndup(p, p->cur, (size_t)(q - p->cur));
    p->cur = q + 1;
    return key;
}

/* Add comment (if any) to what v already carries. */
static void attach_comment(struct parser *p, struct script_value *v, const char *comment)
{
    if (comment)
        v->comment = concat_comment(p, v->comment, comment);
}

/* [key=] value [=> value], with the comments before and after it attached. */
static struct script_value *parse_item(struct parser *p, bool allow_key)
{
    const char *leading = take_comment(p);
    const char *key = allow_key ? try_key(p) : NULL;
    struct script_value *v = parse_out(p);
    skip_space(p);
    attach_comment(p, v, leading);
    attach_comment(p, v, take_comment(p));
    if (!key)
        return v;
    struct script_value *named = new_value(p, SCRIPT_V_NAMED);
    named->named.key = key;
    named->named.value = v;
    return named;
}

/* Length of an "<unfinished ...>" / "<detached ...>" marker at the cursor, or 0. */
static size_t unfinished_marker(const struct parser *p)
{
    if (looking_at(p, "<unfinished ...>"))
        return strlen("<unfinished ...>");
    if (looking_at(p, "<detached ...>"))
        return strlen("<detached ...>");
    return 0;
}

/* The error for a list that neither continues nor ends with `closer`. */
static _Noreturn void fail_list_end(struct parser *p, int closer)
{
    if (closer == ']')
        fail_at(p, p->cur, "expected ']' after array elements");
    if (closer == '}')
        fail_at(p, p->cur, "expected '}' after struct fields");
    fail_at(p, p->cur, "expected ')' after arguments");
}

/* The start of a resumed half: an optional ',' and an optional "=> value" that
 * completes the unfinished half's last value. */
static bool parse_resumed_start(struct parser *p, struct vec *items)
{
    if (peek(p, 0) == ',') {
        p->cur++;
        skip_space(p);
    }
    if (!looking_at(p, "=>"))
        return false;
    p->cur += 2;
    skip_space(p);
    vec_push_ptr(p, items, make_out(p, NULL, parse_item(p, false)));
    return true;
}

/* Comma-separated items up to `closer` (consumed).  With LIST_MAY_STOP an
 * unfinished marker ends the list instead: *stop is set to it, the cursor stays. */
static enum list_end parse_list(struct parser *p, int closer, unsigned flags, struct vec *items,
                                const char **stop)
{
    skip_space(p);
    bool have_item = (flags & LIST_RESUMED) && parse_resumed_start(p, items);
    bool first = !have_item;
    for (;;) {
        if (have_item) {
            skip_space(p);
            if (peek(p, 0) == ',') {
                p->cur++;
                skip_space(p);
            } else if (peek(p, 0) == closer) {
                p->cur++;
                return LIST_CLOSED;
            } else if (!(flags & LIST_MAY_STOP) || !unfinished_marker(p)) {
                fail_list_end(p, closer);
            }
        }
        if ((flags & LIST_MAY_STOP) && unfinished_marker(p)) {
            *stop = p->cur;
            return LIST_UNFINISHED;
        }
        if (first && peek(p, 0) == closer) {
            p->cur++;
            return LIST_CLOSED;
        }
        if (p->cur == p->end)
            fail_list_end(p, closer);
        vec_push_ptr(p, items, parse_item(p, flags & LIST_KEYS));
        have_item = true;
        first = false;
    }
}

/* ----------------------------------------------------------- statements ---- */

enum arg_shape {
    SHAPE_NUMBER,  /* address, length, size */
    SHAPE_BYTE,    /* 0..255 */
    SHAPE_PID,     /* 0..INT32_MAX */
    SHAPE_STRING,  /* "bytes" */
    SHAPE_WORD,    /* one of the words of `words`, separated by '|' */
    SHAPE_HEREDOC, /* <<WORD, the block following the line */
    SHAPE_CONFIG,  /* KEY=VALUE ..., at least one */
};

struct arg_spec {
    const char *name; /* as the spec writes it, for messages; NULL ends the list */
    enum arg_shape shape;
    bool optional;
    const char *words;
};

struct command {
    const char *name;
    enum script_op op;
    struct arg_spec args[3];
};

#define REQ(n, s) {n, s, false, NULL}
#define OPT(n, s) {n, s, true, NULL}
#define WORDS(w) {w, SHAPE_WORD, true, w}

/* The pagoda statements: a new statement is one row here (and one enum value). */
static const struct command commands[] = {
    {"touch", SCRIPT_OP_TOUCH, {REQ("ADDR", SHAPE_NUMBER), OPT("LEN", SHAPE_NUMBER), WORDS("r|w|x")}},
    {"write", SCRIPT_OP_WRITE, {REQ("ADDR", SHAPE_NUMBER), REQ("\"bytes\"", SHAPE_STRING)}},
    {"read", SCRIPT_OP_READ, {REQ("ADDR", SHAPE_NUMBER), REQ("LEN", SHAPE_NUMBER)}},
    {"fill", SCRIPT_OP_FILL,
     {REQ("ADDR", SHAPE_NUMBER), REQ("LEN", SHAPE_NUMBER), REQ("BYTE", SHAPE_BYTE)}},
    {"maps", SCRIPT_OP_MAPS, {WORDS("~stack")}},
    {"smaps", SCRIPT_OP_SMAPS, {OPT("ADDR", SHAPE_NUMBER)}},
    {"pagemap", SCRIPT_OP_PAGEMAP, {REQ("ADDR", SHAPE_NUMBER), OPT("N", SHAPE_NUMBER)}},
    {"walk", SCRIPT_OP_WALK, {REQ("ADDR", SHAPE_NUMBER)}},
    {"tlb", SCRIPT_OP_TLB, {{0}}},
    {"status", SCRIPT_OP_STATUS, {{0}}},
    {"vmstat", SCRIPT_OP_VMSTAT, {{0}}},
    {"meminfo", SCRIPT_OP_MEMINFO, {{0}}},
    {"kmalloc", SCRIPT_OP_KMALLOC, {REQ("SIZE", SHAPE_NUMBER)}},
    {"kfree", SCRIPT_OP_KFREE, {REQ("ADDR", SHAPE_NUMBER)}},
    {"vmalloc", SCRIPT_OP_VMALLOC, {REQ("SIZE", SHAPE_NUMBER)}},
    {"vfree", SCRIPT_OP_VFREE, {REQ("ADDR", SHAPE_NUMBER)}},
    {"ktouch", SCRIPT_OP_KTOUCH, {REQ("ADDR", SHAPE_NUMBER), OPT("LEN", SHAPE_NUMBER), WORDS("r|w")}},
    {"switch", SCRIPT_OP_SWITCH, {REQ("PID", SHAPE_PID)}},
    {"config", SCRIPT_OP_CONFIG, {REQ("KEY=VALUE", SHAPE_CONFIG)}},
    {"load-maps", SCRIPT_OP_LOAD_MAPS, {REQ("<<END", SHAPE_HEREDOC)}},
    {"slabinfo", SCRIPT_OP_SLABINFO, {{0}}},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

const char *script_op_name(enum script_op op)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].op == op)
            return commands[i].name;
    return "";
}

/* The table row named by the n bytes at name, or NULL. */
static const struct command *find_command(const char *name, size_t n)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strlen(commands[i].name) == n && memcmp(commands[i].name, name, n) == 0)
            return &commands[i];
    return NULL;
}

/* How many argument slots a statement has. */
static size_t command_slots(const struct command *cmd)
{
    size_t n = 0;
    while (n < sizeof cmd->args / sizeof cmd->args[0] && cmd->args[n].name)
        n++;
    return n;
}

static uint32_t column_of(const struct parser *p, const char *at)
{
    uint32_t line, column;
    locate(p, at, &line, &column);
    return column;
}

/* "<<WORD": a block value whose lines the main loop reads after this line. */
static struct script_value *parse_heredoc_marker(struct parser *p)
{
    const char *at = p->cur;
    p->cur += 2;
    if (!is_ident_start(peek(p, 0)))
        fail_at(p, p->cur, "expected a terminator word after '<<'");
    const char *q = skip_ident(p->cur, p->end);
    if (p->nheredoc == SCRIPT_MAX_HEREDOCS)
        fail_at(p, at, "too many heredocs on one line");
    struct script_value *v = new_value(p, SCRIPT_V_BLOCK);
    v->block.terminator = p_strndup(p, p->cur, (size_t)(q - p->cur));
    p->cur = q;
    struct heredoc_request *r = &p->heredoc[p->nheredoc++];
    r->block = v;
    locate(p, at, &r->line, &r->column);
    return v;
}

/* End of a pagoda argument list: end of line, a comment, or the '=' of a result. */
static bool at_args_end(const struct parser *p)
{
    return at_line_end(p) || peek(p, 0) == '=';
}

/* Length of the bare word at the cursor (up to a blank, '#' or '='). */
static size_t word_length(const struct parser *p)
{
    const char *q = p->cur;
    while (q < p->end && !is_blank((unsigned char)*q) && *q != '#' && *q != '=')
        q++;
    return (size_t)(q - p->cur);
}

/* Is the n-byte word w one of the '|'-separated `words`? */
static bool word_in(const char *words, const char *w, size_t n)
{
    for (const char *s = words; *s;) {
        const char *bar = strchr(s, '|');
        size_t len = bar ? (size_t)(bar - s) : strlen(s);
        if (len == n && memcmp(s, w, n) == 0)
            return true;
        s += len + (bar != NULL);
    }
    return false;
}

/* Could the token at the cursor fill slot a? (Decides optional slots.) */
static bool slot_accepts(const struct parser *p, const struct arg_spec *a)
{
    int c = peek(p, 0);
    switch (a->shape) {
    case SHAPE_NUMBER:
    case SHAPE_BYTE:
    case SHAPE_PID:
        return is_digit(c) || (c == '-' && is_digit(peek(p, 1)));
    case SHAPE_STRING:
        return c == '"';
    case SHAPE_WORD:
        return word_in(a->words, p->cur, word_length(p));
    case SHAPE_HEREDOC:
        return looking_at(p, "<<");
    case SHAPE_CONFIG:
        break;
    }
    return false;
}

/* The token at the cursor as slot a's shape requires, range-checked. */
static struct script_value *parse_slot(struct parser *p, const struct arg_spec *a)
{
    const char *at = p->cur;
    if (a->shape == SHAPE_STRING)
        return parse_string_literal(p);
    if (a->shape == SHAPE_HEREDOC)
        return parse_heredoc_marker(p);
    if (a->shape == SHAPE_WORD) {
        struct script_value *w = new_value(p, SCRIPT_V_WORD);
        size_t n = word_length(p);
        w->word = p_strndup(p, at, n);
        p->cur += n;
        return w;
    }
    struct script_value *v = new_value(p, SCRIPT_V_INT);
    v->num = read_number(p);
    uint64_t limit = a->shape == SHAPE_BYTE ? 255 : a->shape == SHAPE_PID ? INT32_MAX : UINT64_MAX;
    if (v->num.negative || v->num.bits > limit)
        fail_at(p, at, "number out of range");
    return v;
}

/* Arguments of a table statement: each token fills the next slot that accepts it,
 * skipping optional slots that do not. */
static void parse_shaped_args(struct parser *p, struct script_stmt *st, const struct command *cmd)
{
    size_t nslots = command_slots(cmd), next = 0;
    struct script_value **args = nslots ? p_alloc(p, nslots * sizeof *args) : NULL;
    char tok[TOKEN_SHOWN + 1];
    for (;;) {
        skip_blanks(p);
        if (at_args_end(p))
            break;
        size_t slot = next;
        token_text(p->cur, p->end, tok, sizeof tok);
        while (slot < nslots && !slot_accepts(p, &cmd->args[slot])) {
            if (!cmd->args[slot].optional)
                fail_at(p, p->cur, "expected %s for '%s', got '%s'", cmd->args[slot].name,
                        cmd->name, tok);
            slot++;
        }
        if (slot == nslots)
            fail_at(p, p->cur, "unexpected argument '%s' for '%s'", tok, cmd->name);
        args[slot] = parse_slot(p, &cmd->args[slot]);
        next = slot + 1;
        if (!at_args_end(p) && !is_blank(peek(p, 0)))
            fail_at(p, p->cur, "unexpected text after argument");
    }
    for (size_t i = next; i < nslots; i++)
        if (!cmd->args[i].optional)
            fail_at(p, p->cur, "missing %s for '%s'", cmd->args[i].name, cmd->name);
    st->args = args;
    st->nargs = nslots;
}

/* A config value: a number when the whole word is one, else the word. */
static struct script_value *config_value(struct parser *p, const char *at, const char *end)
{
    struct script_number num;
    const char *stop;
    enum number_status rc = scan_number(at, end, &num, &stop);
    if (rc == NUM_RANGE)
        fail_at(p, at, "number out of range");
    struct script_value *v;
    if (rc == NUM_OK && stop == end) {
        v = new_value(p, SCRIPT_V_INT);
        v->num = num;
    } else {
        v = new_value(p, SCRIPT_V_WORD);
        v->word = p_strndup(p, at, (size_t)(end - at));
    }
    return v;
}

/* config KEY=VALUE ...: at least one pair, as NAMED values. */
static void parse_config_args(struct parser *p, struct script_stmt *st)
{
    struct vec pairs = {0};
    for (;;) {
        skip_blanks(p);
        if (at_args_end(p))
            break;
        const char *key_at = p->cur, *q = p->cur;
        if (!is_ident_start(peek(p, 0)))
            fail_at(p, key_at, "expected KEY=VALUE for 'config'");
        while (q < p->end && (is_ident_char((unsigned char)*q) || *q == '.' || *q == '-'))
            q++;
        if (q >= p->end || *q != '=')
            fail_at(p, q, "expected '=' after config key '%.*s'", (int)(q - key_at), key_at);
        const char *val = q + 1, *val_end = val;
        while (val_end < p->end && !is_blank((unsigned char)*val_end) && *val_end != '#')
            val_end++;
        if (val_end == val)
            fail_at(p, val, "expected a value after '%.*s='", (int)(q - key_at), key_at);
        struct script_value *named = new_value(p, SCRIPT_V_NAMED);
        named->named.key = p_strndup(p, key_at, (size_t)(q - key_at));
        named->named.value = config_value(p, val, val_end);
        vec_push_ptr(p, &pairs, named);
        p->cur = val_end;
    }
    if (!pairs.n)
        fail_at(p, p->cur, "expected KEY=VALUE for 'config'");
    st->args = pairs.data;
    st->nargs = pairs.n;
}

/* "(text)" after a result, parentheses balanced and strings skipped; the text. */
static const char *parse_paren_text(struct parser *p)
{
    const char *open = p->cur;
    int depth = 0;
    for (const char *q = open; q < p->end; q++) {
        if (*q == '"') {
            for (q++; q < p->end && *q != '"'; q++)
                q += (*q == '\\' && q + 1 < p->end);
            if (q >= p->end)
                break;
        } else if (*q == '(') {
            depth++;
        } else if (*q == ')' && --depth == 0) {
            p->cur = q + 1;
            return p_strndup(p, open + 1, (size_t)(q - open - 1));
        }
    }
    fail_at(p, open, "unterminated '(' in result");
}

/* An errno name (E followed by capitals, digits, '_') at the cursor: its length. */
static size_t errno_name_length(const struct parser *p)
{
    if (peek(p, 0) != 'E')
        return 0;
    size_t n = 1;
    for (int c; (c = peek(p, n)) >= 0 && ((c >= 'A' && c <= 'Z') || is_digit(c) || c == '_');)
        n++;
    int after = peek(p, n);
    return (after < 0 || is_blank(after) || after == '(' || after == '#') ? n : 0;
}

/* After the value: [ERRNO] [(text)] [<time>]. */
static void parse_result_tail(struct parser *p, struct script_result *r)
{
    skip_blanks(p);
    size_t n = errno_name_length(p);
    if (n) {
        r->errno_name = p_strndup(p, p->cur, n);
        r->kind = SCRIPT_RESULT_ERROR;
        p->cur += n;
        skip_blanks(p);
    }
    if (peek(p, 0) == '(') {
        const char *text = parse_paren_text(p);
        if (r->kind == SCRIPT_RESULT_ERROR)
            r->errno_text = text;
        else
            r->extra = text;
        skip_blanks(p);
    }
    if (peek(p, 0) == '<') {
        const char *close = memchr(p->cur, '>', (size_t)(p->end - p->cur));
        if (!close)
            fail_at(p, p->cur, "expected '>' after the -T time");
        r->time = p_strndup(p, p->cur + 1, (size_t)(close - p->cur - 1));
        p->cur = close + 1;
    }
}

/* [= result]; `message` is the error for text that is neither '=' nor the end. */
static void parse_result(struct parser *p, struct script_stmt *st, const char *message)
{
    struct script_result *r = &st->result;
    skip_blanks(p);
    if (at_line_end(p))
        return;
    if (peek(p, 0) != '=')
        fail_at(p, p->cur, "%s", message);
    p->cur++;
    skip_blanks(p);
    r->column = column_of(p, p->cur);
    if (at_line_end(p))
        fail_at(p, p->cur, "expected a result after '='");
    if (looking_at(p, "<<")) {
        r->kind = SCRIPT_RESULT_BLOCK;
        r->value = parse_heredoc_marker(p);
        return;
    }
    if (peek(p, 0) == '?') {
        p->cur++;
        r->kind = SCRIPT_RESULT_UNKNOWN;
    } else {
        r->kind = SCRIPT_RESULT_VALUE;
        r->value = parse_item(p, false);
    }
    parse_result_tail(p, r);
}

/* Record [from, to) as the raw argument text of a split call's half. */
static void set_partial(struct parser *p, struct script_stmt *st, const char *from, const char *to)
{
    st->partial = p_strndup(p, from, (size_t)(to - from));
    st->partial_len = (size_t)(to - from);
    st->partial_column = column_of(p, from);
}

/* Make the items of v the statement's arguments. */
static void args_vec_set(struct script_stmt *st, const struct vec *v)
{
    st->args = v->data;
    st->nargs = v->n;
}

/* NAME(args) [= result]  or  NAME(args <unfinished ...> */
static void parse_syscall_line(struct parser *p, struct script_stmt *st, const char *name)
{
    st->kind = SCRIPT_SYSCALL;
    st->name = name;
    p->cur++; /* '(' */
    const char *args_start = p->cur, *stop = NULL;
    struct vec items = {0};
    enum list_end how = parse_list(p, ')', LIST_KEYS | LIST_MAY_STOP, &items, &stop);
    args_vec_set(st, &items);
    if (how == LIST_UNFINISHED) {
        st->kind = SCRIPT_UNFINISHED;
        set_partial(p, st, args_start, stop);
        p->cur = stop + unfinished_marker(p);
        expect_line_end(p, "unexpected text after '<unfinished ...>'");
        return;
    }
    parse_result(p, st, "expected '=' or end of line after ')'");
    expect_line_end(p, "unexpected text after the result");
}

/* <... NAME resumed>args) = result */
static void parse_resumed_line(struct parser *p, struct script_stmt *st)
{
    p->cur += 4;
    skip_blanks(p);
    if (!is_ident_start(peek(p, 0)))
        fail_at(p, p->cur, "expected a system call name after '<...'");
    const char *q = skip_ident(p->cur, p->end);
    st->kind = SCRIPT_RESUMED;
    st->name = p_strndup(p, p->cur, (size_t)(q - p->cur));
    p->cur = q;
    skip_blanks(p);
    if (!looking_at(p, "resumed>"))
        fail_at(p, p->cur, "expected 'resumed>'");
    p->cur += strlen("resumed>");
    const char *from = p->cur;
    skip_blanks(p);
    size_t marker = unfinished_marker(p);
    if (marker) {
        st->interrupted = true;
        p->cur += marker;
        from = p->cur;
    } else {
        p->cur = from;
    }
    struct vec items = {0};
    parse_list(p, ')', LIST_KEYS | LIST_RESUMED, &items, NULL);
    args_vec_set(st, &items);
    set_partial(p, st, from, p->cur - 1);
    parse_result(p, st, "expected '=' or end of line after ')'");
    expect_line_end(p, "unexpected text after the result");
}

/* Text of the statement from its start to the end of the line, which must end with
 * `closing` ("+++" or "---"). */
static void make_skip(struct parser *p, struct script_stmt *st, const char *start,
                      const char *closing)
{
    const char *e = p->end;
    while (e > start && is_blank((unsigned char)e[-1]))
        e--;
    size_t n = closing ? strlen(closing) : 0;
    if (closing && ((size_t)(e - start) < 2 * n || memcmp(e - n, closing, n) != 0))
        fail_at(p, e, "expected '%s' at end of line", closing);
    st->kind = SCRIPT_SKIP;
    st->text = p_strndup(p, start, (size_t)(e - start));
    p->cur = p->end;
}

/* An identifier at the cursor, or the error "expected <what>". */
static const char *read_ident(struct parser *p, const char *what)
{
    if (!is_ident_start(peek(p, 0)))
        fail_at(p, p->cur, "expected %s", what);
    const char *q = skip_ident(p->cur, p->end);
    const char *s = p_strndup(p, p->cur, (size_t)(q - p->cur));
    p->cur = q;
    return s;
}

/* +++ exited with N +++ / +++ killed by SIG [(core dumped)] +++ /
 * +++ superseded by execve in pid N +++ / other "+++ ... +++" text (skipped). */
static void parse_exit_line(struct parser *p, struct script_stmt *st)
{
    const char *start = p->cur;
    p->cur += 3;
    skip_blanks(p);
    if (looking_at(p, "exited with ")) {
        p->cur += strlen("exited with ");
        st->kind = SCRIPT_EXITED;
        st->exit_status = read_small_int(p, "an exit status");
    } else if (looking_at(p, "killed by ")) {
        p->cur += strlen("killed by ");
        st->kind = SCRIPT_KILLED;
        st->name = read_ident(p, "a signal name");
        skip_blanks(p);
        if (looking_at(p, "(core dumped)")) {
            st->core_dumped = true;
            p->cur += strlen("(core dumped)");
        }
    } else if (looking_at(p, "superseded by execve in pid ")) {
        p->cur += strlen("superseded by execve in pid ");
        st->kind = SCRIPT_SUPERSEDED;
        st->exec_pid = read_small_int(p, "a pid");
    } else {
        make_skip(p, st, start, "+++");
        return;
    }
    skip_blanks(p);
    if (!looking_at(p, "+++"))
        fail_at(p, p->cur, "expected '+++' at end of line");
    p->cur += 3;
    expect_line_end(p, "unexpected text after '+++'");
}

/* --- SIGNAME {siginfo} --- ; other "--- ... ---" lines (stopped by ...) are skipped. */
static void parse_signal_line(struct parser *p, struct script_stmt *st)
{
    const char *start = p->cur;
    p->cur += 3;
    skip_blanks(p);
    if (!looking_at(p, "SIG") || !is_ident_start(peek(p, 3))) {
        make_skip(p, st, start, "---");
        return;
    }
    const char *name = read_ident(p, "a signal name");
    skip_blanks(p);
    struct script_value *info = NULL;
    if (peek(p, 0) == '{') {
        info = parse_struct(p);
        skip_blanks(p);
    }
    if (!looking_at(p, "---")) {
        p->cur = start;
        make_skip(p, st, start, "---");
        return;
    }
    p->cur += 3;
    st->kind = SCRIPT_SIGNAL;
    st->name = name;
    if (info) {
        st->args = p_alloc(p, sizeof *st->args);
        st->args[0] = info;
        st->nargs = 1;
    }
    expect_line_end(p, "unexpected text after '---'");
}

/* A pagoda statement: its table row, arguments and expected result. */
static void parse_pagoda_line(struct parser *p, struct script_stmt *st)
{
    const char *name_at = p->cur, *q = p->cur;
    while (q < p->end && (is_ident_char((unsigned char)*q) || *q == '-'))
        q++;
    int n = (int)((q - name_at) > TOKEN_SHOWN ? TOKEN_SHOWN : (q - name_at));
    const struct command *cmd = find_command(name_at, (size_t)(q - name_at));
    if (!cmd) {
        const char *r = q;
        while (r < p->end && is_blank((unsigned char)*r))
            r++;
        if (r < p->end && *r == '(')
            fail_at(p, name_at, "unknown statement '%.*s' (a system call needs '(' right after its name)",
                    n, name_at);
        fail_at(p, name_at, "unknown statement '%.*s'", n, name_at);
    }
    st->kind = SCRIPT_PAGODA;
    st->op = cmd->op;
    st->name = cmd->name;
    p->cur = q;
    if (!at_args_end(p) && !is_blank(peek(p, 0)))
        fail_at(p, p->cur, "unexpected character after '%s'", cmd->name);
    if (cmd->args[0].name && cmd->args[0].shape == SHAPE_CONFIG)
        parse_config_args(p, st);
    else
        parse_shaped_args(p, st, cmd);
    parse_result(p, st, "unexpected argument");
    expect_line_end(p, "unexpected text after the result");
}

/* NAME( is a system call; anything else must be a pagoda statement. */
static void parse_named_statement(struct parser *p, struct script_stmt *st)
{
    const char *q = skip_ident(p->cur, p->end);
    if (q < p->end && *q == '(') {
        const char *name = p_strndup(p, p->cur, (size_t)(q - p->cur));
        p->cur = q;
        parse_syscall_line(p, st, name);
        return;
    }
    parse_pagoda_line(p, st);
}

/* The statement proper, after pid, timestamp and -i/-n prefixes. */
static void parse_statement(struct parser *p, struct script_stmt *st)
{
    if (looking_at(p, "+++"))
        parse_exit_line(p, st);
    else if (looking_at(p, "---"))
        parse_signal_line(p, st);
    else if (looking_at(p, "<..."))
        parse_resumed_line(p, st);
    else if (looking_at(p, "strace: ") || looking_at(p, "[ Process ") || looking_at(p, "> "))
        make_skip(p, st, p->cur, NULL);
    else if (is_ident_start(peek(p, 0)))
        parse_named_statement(p, st);
    else
        fail_at(p, p->cur, "expected a statement");
}

/* "1234 " or "[pid 1234]" */
static void parse_pid(struct parser *p, struct script_stmt *st)
{
    if (looking_at(p, "[pid")) {
        p->cur += 4;
        skip_blanks(p);
        st->pid = read_small_int(p, "a pid");
        skip_blanks(p);
        if (peek(p, 0) != ']')
            fail_at(p, p->cur, "expected ']' after pid");
        p->cur++;
        return;
    }
    const char *q = p->cur;
    while (q < p->end && is_digit((unsigned char)*q))
        q++;
    if (q == p->cur || (q < p->end && !is_blank((unsigned char)*q)))
        return; /* not digits, or a timestamp such as 12:34:56 */
    st->pid = read_small_int(p, "a pid");
}

/* Past one or more digits at q, or a malformed-timestamp error. */
static const char *need_digits(struct parser *p, const char *q)
{
    if (q >= p->end || !is_digit((unsigned char)*q))
        fail_at(p, q, "malformed timestamp");
    while (q < p->end && is_digit((unsigned char)*q))
        q++;
    return q;
}

/* 12:34:56[.123456] (-t, -tt) or 1700000000.123456 (-ttt, -r) */
static void parse_timestamp(struct parser *p, struct script_stmt *st)
{
    skip_blanks(p);
    if (!is_digit(peek(p, 0)))
        return;
    const char *start = p->cur, *q = need_digits(p, start);
    if (q < p->end && *q == ':') {
        q = need_digits(p, q + 1);
        if (q >= p->end || *q != ':')
            fail_at(p, q, "malformed timestamp");
        q = need_digits(p, q + 1);
        if (q < p->end && *q == '.')
            q = need_digits(p, q + 1);
    } else if (q < p->end && *q == '.') {
        q = need_digits(p, q + 1);
    } else {
        fail_at(p, start, "malformed timestamp");
    }
    if (q < p->end && !is_blank((unsigned char)*q))
        fail_at(p, q, "malformed timestamp");
    st->timestamp = p_strndup(p, start, (size_t)(q - start));
    p->cur = q;
}

/* strace -i / -n prefixes: "[00007f1234567890]", "[????????????????]", "[  9]". */
static void skip_bracket_prefixes(struct parser *p)
{
    for (;;) {
        skip_blanks(p);
        if (peek(p, 0) != '[')
            return;
        const char *q = p->cur + 1;
        while (q < p->end && is_blank((unsigned char)*q))
            q++;
        const char *digits = q;
        while (q < p->end && (hex_value((unsigned char)*q) >= 0 || *q == '?'))
            q++;
        if (q == digits)
            return;
        while (q < p->end && is_blank((unsigned char)*q))
            q++;
        if (q >= p->end || *q != ']')
            return;
        p->cur = q + 1;
    }
}

/* Add st to the script, in file order. */
static void append_stmt(struct parser *p, struct script_stmt *st)
{
    struct script *s = p->s;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct script_stmt **stmts = p_alloc(p, cap * sizeof *stmts);
        if (s->n)
            memcpy(stmts, s->stmts, s->n * sizeof *stmts);
        s->stmts = stmts;
        s->cap = cap;
    }
    s->stmts[s->n++] = st;
}

/* One line [start, end) (without its newline). */
static void parse_line(struct parser *p, const char *start, const char *end, uint32_t line_no)
{
    p->cur = start;
    p->end = end;
    p->nseg = 1;
    p->seg[0] = (struct segment){start, end, line_no, 1};
    p->depth = 0;
    p->comment = NULL;
    p->last = NULL;
    skip_blanks(p);
    if (at_line_end(p))
        return;
    struct script_stmt *st = p_alloc(p, sizeof *st);
    st->pid = -1;
    st->line = st->end_line = line_no;
    parse_pid(p, st);
    parse_timestamp(p, st);
    skip_bracket_prefixes(p);
    skip_blanks(p);
    if (at_line_end(p))
        fail_at(p, p->cur, "expected a statement");
    st->column = column_of(p, p->cur);
    parse_statement(p, st);
    append_stmt(p, st);
    p->last = st;
}

/* End of the line at pos without "\r\n"; *next is the start of the next one. */
static const char *line_end_of(const char *pos, const char *end, const char **next)
{
    const char *nl = memchr(pos, '\n', (size_t)(end - pos));
    const char *e = nl ? nl : end;
    *next = nl ? nl + 1 : end;
    if (e > pos && e[-1] == '\r')
        e--;
    return e;
}

/* The bodies of the heredocs the last line opened, in order. */
static void read_heredocs(struct parser *p, const char **pos, const char *end, uint32_t *line_no)
{
    for (unsigned i = 0; i < p->nheredoc; i++) {
        struct heredoc_request *r = &p->heredoc[i];
        const char *term = r->block->block.terminator;
        size_t tlen = strlen(term);
        struct vec lines = {0};
        for (;;) {
            if (*pos >= end)
                fail_line_col(p, r->line, r->column, "heredoc '%s' never closed (opened here)", term);
            const char *next, *e = line_end_of(*pos, end, &next);
            (*line_no)++;
            bool done = (size_t)(e - *pos) == tlen && memcmp(*pos, term, tlen) == 0;
            if (!done)
                vec_push_ptr(p, &lines, p_strndup(p, *pos, (size_t)(e - *pos)));
            *pos = next;
            if (done)
                break;
        }
        r->block->block.lines = lines.data;
        r->block->block.n = lines.n;
    }
    if (p->last)
        p->last->end_line = *line_no;
    p->nheredoc = 0;
}

/* All lines of the text, with the heredoc bodies they open. */
static void parse_text(struct parser *p, const char *text, size_t len)
{
    if (!len)
        return;
    const char *pos = text, *end = text + len;
    uint32_t line_no = 0;
    while (pos < end) {
        const char *next, *e = line_end_of(pos, end, &next);
        line_no++;
        parse_line(p, pos, e, line_no);
        pos = next;
        if (p->nheredoc)
            read_heredocs(p, &pos, end, &line_no);
    }
}

/* An error that has no position (bad arguments, no memory for the script). */
static void write_error(char *errbuf, size_t errlen, const char *filename, const char *message)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s: %s", filename, message);
}

int script_parse(const char *filename, const char *text, size_t len, struct script **out,
                 char *errbuf, size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!filename)
        filename = "<script>";
    if (!out || (!text && len)) {
        write_error(errbuf, errlen, filename, "no text or no result pointer");
        return -1;
    }
    *out = NULL;
    struct script *s = calloc(1, sizeof *s);
    char *name = s ? arena_alloc(s, strlen(filename) + 1) : NULL;
    if (!name) {
        script_free(s);
        write_error(errbuf, errlen, filename, "out of memory");
        return -1;
    }
    memcpy(name, filename, strlen(filename) + 1);
    s->filename = name;
    jmp_buf on_error;
    struct parser p;
    init_parser(&p, s, &on_error, errbuf, errlen);
    if (setjmp(on_error)) {
        script_free(s);
        return -1;
    }
    parse_text(&p, text, len);
    *out = s;
    return 0;
}

/* ----------------------------------------------------------------- joining ---- */

struct pending_call {
    int32_t pid;
    const struct script_stmt *call; /* the UNFINISHED half */
    size_t slot;                    /* its reserved place in the output */
};

struct joiner {
    struct vec out;     /* struct script_stmt *, NULL where a slot went unused */
    struct vec pending; /* struct pending_call */
};

/* Calls whose children can print before the parent's resumed line. */
static bool creates_process(const char *name)
{
    return strcmp(name, "clone") == 0 || strcmp(name, "clone3") == 0 || strcmp(name, "fork") == 0 ||
           strcmp(name, "vfork") == 0;
}

/* Length of text without trailing blanks and one trailing ',' (a call cut short). */
static size_t trim_separator(const char *text, size_t n)
{
    while (n && is_blank((unsigned char)text[n - 1]))
        n--;
    if (n && text[n - 1] == ',')
        n--;
    while (n && is_blank((unsigned char)text[n - 1]))
        n--;
    return n;
}

/* Parse the arguments of u's half joined with r's half (r NULL: u never resumed). */
static void parse_joined_args(struct parser *p, struct script_stmt *j, const struct script_stmt *u,
                              const struct script_stmt *r)
{
    size_t lu = u->partial_len, lr = r ? r->partial_len : 0;
    if (!r || r->interrupted)
        lu = trim_separator(u->partial, lu);
    char *buf = p_alloc(p, lu + lr + 1);
    if (lu)
        memcpy(buf, u->partial, lu);
    if (lr)
        memcpy(buf + lu, r->partial, lr);
    buf[lu + lr] = ')';
    p->cur = buf;
    p->end = buf + lu + lr + 1;
    p->nseg = 2;
    p->seg[0] = (struct segment){buf, buf + lu, u->line, u->partial_column};
    p->seg[1] = r ? (struct segment){buf + lu, p->end, r->line, r->partial_column}
                  : (struct segment){buf + lu, p->end, u->line, u->partial_column + (uint32_t)lu};
    p->depth = 0;
    p->comment = NULL;
    struct vec items = {0};
    parse_list(p, ')', LIST_KEYS, &items, NULL);
    if (p->cur != p->end)
        fail_at(p, p->cur, "unexpected text after ')'");
    args_vec_set(j, &items);
}

/* The complete call of an unfinished half u and its resumed half r (or NULL). */
static struct script_stmt *joined_call(struct parser *p, const struct script_stmt *u,
                                       const struct script_stmt *r)
{
    struct script_stmt *j = p_alloc(p, sizeof *j);
    *j = r ? *r : *u;
    j->kind = SCRIPT_SYSCALL;
    j->name = u->name;
    j->timestamp = u->timestamp;
    j->line = u->line;
    j->column = u->column;
    j->end_line = r ? r->end_line : u->end_line;
    j->joined = true;
    j->interrupted = !r || r->interrupted;
    j->partial = NULL;
    j->partial_len = 0;
    j->partial_column = 0;
    if (!r)
        j->result = (struct script_result){.kind = SCRIPT_RESULT_UNKNOWN};
    parse_joined_args(p, j, u, r);
    return j;
}

/* The pending unfinished call of pid, or NULL. */
static struct pending_call *find_pending(struct joiner *jn, int32_t pid)
{
    struct pending_call *pc = jn->pending.data;
    for (size_t i = 0; i < jn->pending.n; i++)
        if (pc[i].pid == pid)
            return &pc[i];
    return NULL;
}

/* strace leaves the pid prefix out while it traces a single process, so a log can
 * start a call without a pid and resume it with one, or the other way round.  The
 * pending call such a resumed half belongs to: the only one of that name whose pid
 * is unknown (or, for a resumed half without pid, the only one of that name). */
static struct pending_call *find_pending_unnamed(struct joiner *jn, const struct script_stmt *r)
{
    struct pending_call *pc = jn->pending.data, *match = NULL;
    for (size_t i = 0; i < jn->pending.n; i++) {
        if ((r->pid != -1 && pc[i].pid != -1) || strcmp(pc[i].call->name, r->name) != 0)
            continue;
        if (match)
            return NULL; /* ambiguous */
        match = &pc[i];
    }
    return match;
}

/* Forget pc (order of the pending list does not matter). */
static void drop_pending(struct joiner *jn, struct pending_call *pc)
{
    struct pending_call *all = jn->pending.data;
    *pc = all[--jn->pending.n];
}

/* Fill the output place reserved by an unfinished line. */
static void set_slot(struct joiner *jn, size_t slot, struct script_stmt *st)
{
    PAGODA_BUG_ON(slot >= jn->out.n, "join slot outside the output");
    ((struct script_stmt **)jn->out.data)[slot] = st;
}

/* A pending call whose process went away: it stays where it started, result "?". */
static void finish_never(struct parser *p, struct joiner *jn, int32_t pid)
{
    struct pending_call *pc = find_pending(jn, pid);
    if (!pc)
        return;
    set_slot(jn, pc->slot, joined_call(p, pc->call, NULL));
    drop_pending(jn, pc);
}

/* A resumed half: join it with its unfinished half and place the call. */
static void join_resumed(struct parser *p, struct joiner *jn, struct script_stmt *r)
{
    struct pending_call *pc = find_pending(jn, r->pid);
    if (!pc || strcmp(pc->call->name, r->name) != 0) {
        struct pending_call *alt = find_pending_unnamed(jn, r);
        pc = alt ? alt : pc;
    }
    if (!pc) {
        vec_push_ptr(p, &jn->out, r); /* its first half is not in the log */
        return;
    }
    const struct script_stmt *u = pc->call;
    if (strcmp(u->name, r->name) != 0)
        fail_line_col(p, r->line, r->column,
                      "'<... %s resumed>' does not match the unfinished '%s' call of line %u",
                      r->name, u->name, (unsigned)u->line);
    struct script_stmt *j = joined_call(p, u, r);
    if (j->pid == -1)
        j->pid = u->pid;
    if (creates_process(u->name))
        set_slot(jn, pc->slot, j);
    else
        vec_push_ptr(p, &jn->out, j);
    drop_pending(jn, pc);
}

/* Feed one statement, in file order, to the joiner. */
static void join_one(struct parser *p, struct joiner *jn, struct script_stmt *st)
{
    switch (st->kind) {
    case SCRIPT_UNFINISHED: {
        finish_never(p, jn, st->pid);
        struct pending_call *pc = vec_push(p, &jn->pending, sizeof *pc);
        pc->pid = st->pid;
        pc->call = st;
        pc->slot = jn->out.n;
        vec_push_ptr(p, &jn->out, NULL);
        return;
    }
    case SCRIPT_RESUMED:
        join_resumed(p, jn, st);
        return;
    case SCRIPT_EXITED:
    case SCRIPT_KILLED:
        finish_never(p, jn, st->pid);
        break;
    case SCRIPT_SUPERSEDED: {
        finish_never(p, jn, st->pid);
        struct pending_call *pc = find_pending(jn, st->exec_pid);
        if (pc)
            pc->pid = st->pid; /* the execve now completes under the leader's pid */
        break;
    }
    default:
        break;
    }
    vec_push_ptr(p, &jn->out, st);
}

int script_join_resumed(struct script *s, char *errbuf, size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!s)
        return -1;
    jmp_buf on_error;
    struct parser p;
    init_parser(&p, s, &on_error, errbuf, errlen);
    struct joiner jn = {{0}, {0}};
    if (setjmp(on_error))
        return -1;
    for (size_t i = 0; i < s->n; i++)
        join_one(&p, &jn, s->stmts[i]);
    while (jn.pending.n)
        finish_never(&p, &jn, ((struct pending_call *)jn.pending.data)[0].pid);
    struct script_stmt **out = jn.out.data;
    size_t n = 0;
    for (size_t i = 0; i < jn.out.n; i++)
        if (out[i])
            out[n++] = out[i];
    s->stmts = out;
    s->n = n;
    s->cap = jn.out.cap;
    return 0;
}
