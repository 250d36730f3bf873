/*
 * cli/script_value.c - what the runner does with parsed values: format them back as
 * strace prints them (for messages) and compare byte strings.
 */
#include "cli/script.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* snprintf-like output: writes what fits, counts everything. */
struct sink {
    char *buf;
    size_t cap, len;
};

/* Append n bytes, keeping what fits. */
static void put_bytes(struct sink *k, const char *s, size_t n)
{
    if (k->len < k->cap) {
        size_t room = k->cap - k->len;
        memcpy(k->buf + k->len, s, n < room ? n : room);
    }
    k->len += n;
}

static void put(struct sink *k, const char *s)
{
    put_bytes(k, s, strlen(s));
}

static void put_char(struct sink *k, char c)
{
    put_bytes(k, &c, 1);
}

/* log2 of a size suffix's scale. */
static unsigned suffix_shift(char suffix)
{
    switch (suffix) {
    case 'K':
        return 10;
    case 'M':
        return 20;
    case 'G':
        return 30;
    case 'T':
        return 40;
    default:
        return 0;
    }
}

/* A number in the base (and with the suffix) it was written in. */
static void put_number(struct sink *k, const struct script_number *n)
{
    uint64_t mag = n->negative ? 0 - n->bits : n->bits;
    char tmp[48];
    const char *sign = n->negative ? "-" : "";
    if (n->base == 16)
        snprintf(tmp, sizeof tmp, "%s0x%" PRIx64, sign, mag);
    else if (n->base == 8)
        snprintf(tmp, sizeof tmp, "%s0%" PRIo64, sign, mag);
    else
        snprintf(tmp, sizeof tmp, "%s%" PRIu64 "%.1s", sign, mag >> suffix_shift(n->suffix),
                 n->suffix ? &n->suffix : "");
    put(k, tmp);
}

/* Bytes as strace quotes them: \t \n \v \f \r \" \\ by name, other non-printable
 * bytes in octal (three digits when an octal digit follows). */
static void put_escaped(struct sink *k, const char *s, size_t n)
{
    static const char named_in[] = "\t\n\v\f\r\"\\";
    static const char named_out[] = "tnvfr\"\\";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *hit = c ? memchr(named_in, c, sizeof named_in - 1) : NULL;
        if (hit) {
            put_char(k, '\\');
            put_char(k, named_out[hit - named_in]);
        } else if (c >= 0x20 && c < 0x7f) {
            put_char(k, (char)c);
        } else {
            bool digit_follows = i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7';
            char tmp[8];
            snprintf(tmp, sizeof tmp, digit_follows ? "\\%03o" : "\\%o", c);
            put(k, tmp);
        }
    }
}

/* One term of a flag set. */
static void put_term(struct sink *k, const struct script_term *t)
{
    switch (t->kind) {
    case SCRIPT_TERM_IDENT:
        put(k, t->ident);
        break;
    case SCRIPT_TERM_NUMBER:
        put_number(k, &t->num);
        break;
    case SCRIPT_TERM_SHIFT:
    case SCRIPT_TERM_PRODUCT:
        put_term(k, t->lhs);
        put(k, t->kind == SCRIPT_TERM_SHIFT ? "<<" : "*");
        put_term(k, t->rhs);
        break;
    }
}

static void put_value(struct sink *k, const struct script_value *v);

/* Values separated by ", ". */
static void put_list(struct sink *k, struct script_value *const *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(k, ", ");
        put_value(k, items[i]);
    }
}

/* {key=value, positional, ...} */
static void put_fields(struct sink *k, const struct script_field *f, size_t n)
{
    put_char(k, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(k, ", ");
        if (f[i].key) {
            put(k, f[i].key);
            put_char(k, '=');
        }
        put_value(k, f[i].value);
    }
    put_char(k, '}');
}

/* [A B] or ~[A B]. */
static void put_sigset(struct sink *k, const struct script_value *v)
{
    put(k, v->sigset.negated ? "~[" : "[");
    for (size_t i = 0; i < v->sigset.n; i++) {
        if (i)
            put_char(k, ' ');
        put(k, v->sigset.names[i]);
    }
    put_char(k, ']');
}

/* A heredoc shows as its marker. */
static void put_block(struct sink *k, const struct script_value *v)
{
    put(k, "<<");
    put(k, v->block.terminator ? v->block.terminator : "");
}

/* Everything but the trailing comment. */
static void put_bare(struct sink *k, const struct script_value *v)
{
    switch (v->kind) {
    case SCRIPT_V_INT:
        put_number(k, &v->num);
        break;
    case SCRIPT_V_STRING:
        put(k, v->str.abstract ? "@\"" : "\"");
        put_escaped(k, v->str.bytes, v->str.len);
        put(k, v->str.truncated ? "\"..." : "\"");
        break;
    case SCRIPT_V_FLAGS:
        for (size_t i = 0; i < v->flags.n; i++) {
            if (i)
                put_char(k, '|');
            put_term(k, &v->flags.terms[i]);
        }
        break;
    case SCRIPT_V_NULL:
        put(k, "NULL");
        break;
    case SCRIPT_V_ARRAY:
        put_char(k, '[');
        put_list(k, v->array.items, v->array.n);
        put_char(k, ']');
        break;
    case SCRIPT_V_STRUCT:
        put_fields(k, v->fields.fields, v->fields.n);
        break;
    case SCRIPT_V_NAMED:
        put(k, v->named.key);
        put_char(k, '=');
        put_value(k, v->named.value);
        break;
    case SCRIPT_V_FD: {
        struct script_number n = {.bits = (uint64_t)v->fd.number, .negative = v->fd.number < 0,
                                  .base = 10};
        if (v->fd.name)
            put(k, v->fd.name);
        else
            put_number(k, &n);
        put_char(k, '<');
        put_escaped(k, v->fd.path, v->fd.path_len);
        put_char(k, '>');
        break;
    }
    case SCRIPT_V_SIGSET:
        put_sigset(k, v);
        break;
    case SCRIPT_V_OUT:
        if (v->out.in) {
            put_value(k, v->out.in);
            put_char(k, ' ');
        }
        put(k, "=> ");
        put_value(k, v->out.out);
        break;
    case SCRIPT_V_CALL:
        put(k, v->call.name);
        put_char(k, '(');
        put_list(k, v->call.args, v->call.n);
        put_char(k, ')');
        break;
    case SCRIPT_V_EXPR:
        put_value(k, v->expr.lhs);
        put_char(k, ' ');
        put(k, v->expr.op);
        put_char(k, ' ');
        put_value(k, v->expr.rhs);
        break;
    case SCRIPT_V_ELLIPSIS:
        put(k, "...");
        break;
    case SCRIPT_V_WORD:
        put(k, v->word);
        break;
    case SCRIPT_V_MARKER:
        put_char(k, '<');
        put(k, v->word);
        put_char(k, '>');
        break;
    case SCRIPT_V_BLOCK:
        put_block(k, v);
        break;
    }
}

/* The value and its comment; "?" for NULL (an unknown result). */
static void put_value(struct sink *k, const struct script_value *v)
{
    if (!v) {
        put(k, "?");
        return;
    }
    put_bare(k, v);
    if (v->comment) {
        put(k, " /* ");
        put(k, v->comment);
        put(k, " */");
    }
}

size_t script_value_format(const struct script_value *v, char *buf, size_t len)
{
    struct sink k = {.buf = buf, .cap = len, .len = 0};
    put_value(&k, v);
    if (len)
        buf[k.len < len ? k.len : len - 1] = '\0';
    return k.len;
}

bool script_bytes_equal(const struct script_value *v, const void *bytes, size_t len)
{
    if (!v || v->kind != SCRIPT_V_STRING || (len && !bytes))
        return false;
    if (v->str.truncated ? len < v->str.len : len != v->str.len)
        return false;
    return v->str.len == 0 || memcmp(v->str.bytes, bytes, v->str.len) == 0;
}

const char *script_value_ident(const struct script_value *v)
{
    if (!v || v->kind != SCRIPT_V_FLAGS || v->flags.n != 1 ||
        v->flags.terms[0].kind != SCRIPT_TERM_IDENT)
        return NULL;
    return v->flags.terms[0].ident;
}
