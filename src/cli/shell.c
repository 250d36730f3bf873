/*
 * cli/shell.c - `pagoda shell`: the script runner at a prompt, with line editing
 * and history from libedit (link with -ledit).
 *
 * Every statement runs as soon as it is complete and its result is printed.  A line
 * that opens a heredoc ("maps = <<END", "load-maps <<END") reads further lines up to
 * the terminator first.  Statements are parsed with as many newlines in front as
 * lines came before them, so messages and divergences carry session line numbers.
 * A line that cannot be parsed or run prints its error and the session goes on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "cli/run.h"

#define SHELL_PROMPT "pagoda> "
#define SHELL_MORE "...> "
#define SHELL_MAX_HEREDOCS 4
#define SHELL_HISTORY ".pagoda_history"

/* A growable byte buffer. */
struct buf {
    char *data;
    size_t len, cap;
};

/* Append n bytes, keeping the buffer NUL-terminated; false when out of memory. */
static bool buf_append(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return false;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

/* The next input line without its newline (malloc'ed), or NULL at end of input.
 * A terminal gets libedit's prompt and editing; a pipe is read plainly. */
static char *next_line(bool tty, const char *prompt)
{
    if (tty)
        return readline(prompt);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
    return line;
}

/* Characters of a heredoc terminator word. */
static bool is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The heredoc terminators a line opens, in order: "<<WORD" outside string literals
 * and comments, at the start of a word (so that 21<<MAP_HUGE_SHIFT is a shift).
 * Pointers into `line`, lengths in len[].  Returns how many. */
static int heredoc_terminators(const char *line, const char *word[], size_t len[])
{
    int n = 0;
    for (const char *p = line; *p && n < SHELL_MAX_HEREDOCS; p++) {
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                p += p[0] == '\\' && p[1];
            if (!*p)
                break;
        } else if (*p == '#') {
            break;
        } else if (p[0] == '<' && p[1] == '<' && (p == line || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '=')) {
            const char *w = p + 2, *e = w;
            while (is_ident_char(*e))
                e++;
            if (e > w) {
                word[n] = w;
                len[n++] = (size_t)(e - w);
            }
            p = e - 1;
        }
    }
    return n;
}

/* Does the line, trailing blanks aside, equal the terminator? */
static bool is_terminator(const char *line, const char *word, size_t len)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
        n--;
    return n == len && memcmp(line, word, len) == 0;
}

/* Read the lines of every heredoc `first` opens into chunk (each with its newline);
 * *lines counts them.  False at end of input. */
static bool read_heredocs(bool tty, const char *first, struct buf *chunk, unsigned *lines)
{
    const char *word[SHELL_MAX_HEREDOCS];
    size_t len[SHELL_MAX_HEREDOCS];
    int n = heredoc_terminators(first, word, len);
    for (int i = 0; i < n; i++) {
        for (;;) {
            char *line = next_line(tty, SHELL_MORE);
            if (!line)
                return false;
            bool done = is_terminator(line, word[i], len[i]);
            bool ok = buf_append(chunk, line, strlen(line)) && buf_append(chunk, "\n", 1);
            free(line);
            (*lines)++;
            if (!ok)
                return false;
            if (done)
                break;
        }
    }
    return true;
}

/* Words the shell itself understands; true when the line was one. */
static bool shell_command(const char *line, bool *quit)
{
    while (*line == ' ' || *line == '\t')
        line++;
    if (!strcmp(line, "quit") || !strcmp(line, "exit")) {
        *quit = true;
        return true;
    }
    if (!strcmp(line, "help")) {
        puts("Statements as strace prints them (mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0))\n"
             "or pagoda's own (maps, walk ADDR, tlb, config KEY=VALUE, load-maps <<END).  Add \"= EXPECTED\"\n"
             "to check a result.  quit or Ctrl-D ends the session.");
        return true;
    }
    return false;
}

/* Run one statement's text; it is parsed after `before` newlines so that its line
 * numbers are the session's. */
static void run_chunk(struct runner *r, const struct buf *chunk, unsigned before)
{
    struct buf text = {0};
    for (unsigned i = 0; i < before; i++) {
        if (!buf_append(&text, "\n", 1))
            break;
    }
    if (text.len == before && buf_append(&text, chunk->data, chunk->len))
        runner_run_text(r, "<stdin>", text.data, text.len);
    else
        fputs("pagoda: out of memory\n", stderr);
    free(text.data);
}

/* $HOME/.pagoda_history, or NULL. */
static char *history_path(void)
{
    const char *home = getenv("HOME");
    if (!home || !*home)
        return NULL;
    size_t n = strlen(home) + sizeof(SHELL_HISTORY) + 1;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s/%s", home, SHELL_HISTORY);
    return path;
}

int cli_shell(int argc, char **argv)
{
    struct run_options opt = {.interactive = true};
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-q")) {
            opt.quiet = true;
        } else {
            fputs("usage: pagoda shell [-q]\n", stderr);
            return RUN_ERROR;
        }
    }
    struct runner *r = runner_create(&opt);
    if (!r) {
        fputs("pagoda: out of memory\n", stderr);
        return RUN_ERROR;
    }
    bool tty = isatty(STDIN_FILENO), quit = false;
    char *hist = tty ? history_path() : NULL;
    if (tty) {
        using_history();
        if (hist)
            read_history(hist);
    }
    unsigned lines = 0;
    char *line;
    while (!quit && (line = next_line(tty, SHELL_PROMPT)) != NULL) {
        if (tty && line[strspn(line, " \t")])
            add_history(line);
        unsigned before = lines++;
        struct buf chunk = {0};
        if (!shell_command(line, &quit) && buf_append(&chunk, line, strlen(line)) && buf_append(&chunk, "\n", 1)) {
            read_heredocs(tty, line, &chunk, &lines);
            run_chunk(r, &chunk, before);
        }
        free(chunk.data);
        free(line);
        fflush(stdout);
    }
    if (hist)
        write_history(hist);
    free(hist);
    if (!opt.quiet)
        runner_print_summary(r, stdout);
    int status = runner_divergences(r) ? RUN_DIVERGED : RUN_OK;
    runner_destroy(r);
    return status;
}
