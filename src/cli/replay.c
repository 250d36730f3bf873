/*
 * cli/replay.c - process calls and skipped descriptors of a replayed log
 * (cli/replay.h).
 *
 * strace prints clone's arguments by name (child_stack=..., flags=...) and clone3's
 * as a struct; execve's argv as an array of strings (elided with "..." past -s or
 * strace's array limit) and its environment as "/ * N vars * /" unless -v printed it
 * whole.  The argument and string bytes matter: they size the initial stack, so they
 * are passed on exactly when the log shows them all, and as counts otherwise.
 */
#include "cli/replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/abi.h"

#define CSIGNAL 0xffULL
#define CLONE_VM 0x100ULL
#define CLONE_VFORK 0x4000ULL
#define SIGCHLD 17

bool replay_is_process_call(long nr)
{
    switch (nr) {
    case NR_fork: case NR_vfork: case NR_clone: case NR_clone3: case NR_execve: case NR_execveat: case NR_wait4:
        return true;
    default:
        return false;
    }
}

/* "msg" into err; returns -1. */
static int call_error(char *err, size_t errlen, const char *msg, const char *detail)
{
    snprintf(err, errlen, "%s%s", msg, detail ? detail : "");
    return -1;
}

/* The register value of v; false when it has none (an unknown name, a struct). */
static bool value_word(const struct script_value *v, uint64_t *out)
{
    struct abi_error e;
    return v && abi_value(v, out, &e) == 0;
}

/* clone's argument `key=...`, or NULL. */
static const struct script_value *named_arg(const struct script_stmt *st, const char *key)
{
    for (size_t i = 0; i < st->nargs; i++) {
        const struct script_value *v = st->args[i];
        if (v && v->kind == SCRIPT_V_NAMED && !strcmp(v->named.key, key))
            return v->named.value;
    }
    return NULL;
}

/* A struct's field `key`, or NULL. */
static const struct script_value *struct_field(const struct script_value *s, const char *key)
{
    if (s && s->kind == SCRIPT_V_OUT)
        s = s->out.in;
    if (!s || s->kind != SCRIPT_V_STRUCT)
        return NULL;
    for (size_t i = 0; i < s->fields.n; i++) {
        if (s->fields.fields[i].key && !strcmp(s->fields.fields[i].key, key))
            return s->fields.fields[i].value;
    }
    return NULL;
}

/* The pid a process-creating call returned in the log, 0 if it shows none. */
static int logged_child_pid(const struct script_stmt *st)
{
    uint64_t v;
    if (st->result.kind != SCRIPT_RESULT_VALUE || !value_word(st->result.value, &v))
        return 0;
    return (int64_t)v > 0 && v < (1U << 30) ? (int)v : 0;
}

/* clone(child_stack=..., flags=FLAGS|SIGNAL, ...): flags by name, else the first
 * argument as the raw system call has it. */
static int replay_clone(struct kernel *k, struct process *p, const struct script_stmt *st, long *ret, char *err,
                        size_t errlen)
{
    const struct script_value *f = named_arg(st, "flags");
    if (!f && st->nargs && st->args[0] && st->args[0]->kind != SCRIPT_V_NAMED)
        f = st->args[0];
    uint64_t flags;
    if (!value_word(f, &flags))
        return call_error(err, errlen, "clone: no flags= argument the runner can read", NULL);
    *ret = kernel_clone(k, p, flags & ~CSIGNAL, (int)(flags & CSIGNAL), logged_child_pid(st));
    return 0;
}

/* clone3({flags=..., exit_signal=..., ...}, SIZE). */
static int replay_clone3(struct kernel *k, struct process *p, const struct script_stmt *st, long *ret, char *err,
                         size_t errlen)
{
    const struct script_value *args = st->nargs ? st->args[0] : NULL;
    uint64_t flags = 0, sig = 0, size = 0;
    const struct script_value *f = struct_field(args, "flags"), *s = struct_field(args, "exit_signal");
    if ((f && !value_word(f, &flags)) || (s && !value_word(s, &sig)))
        return call_error(err, errlen, "clone3: flags or exit_signal the runner cannot read", NULL);
    if (st->nargs > 1 && value_word(st->args[1], &size) && size < 64) {
        *ret = -22; /* EINVAL: smaller than CLONE_ARGS_SIZE_VER0 */
        return 0;
    }
    if ((flags & CSIGNAL) || sig > CSIGNAL) {
        *ret = -22;
        return 0;
    }
    *ret = kernel_clone(k, p, flags, (int)sig, logged_child_pid(st));
    return 0;
}

/* The strings of an argv/envp array.  *exact is cleared when the log elides some. */
struct string_list {
    const char **v; /* NULL-terminated, pointing into the script */
    int n;
    uint64_t bytes;
};

/* Read array value v (or a pointer with a "N vars" comment) into list. */
static int read_strings(const struct script_value *v, struct string_list *list, bool *exact)
{
    memset(list, 0, sizeof(*list));
    if (!v || v->kind == SCRIPT_V_NULL)
        return 0;
    if (v->kind != SCRIPT_V_ARRAY) {
        /* 0x7ffd... followed by a "23 vars" comment */
        *exact = false;
        int n = 0;
        if (v->comment && sscanf(v->comment, "%d var", &n) == 1 && n >= 0)
            list->n = n;
        return 0;
    }
    list->v = calloc(v->array.n + 1, sizeof(*list->v));
    if (!list->v)
        return -1;
    int stored = 0;
    for (size_t i = 0; i < v->array.n; i++) {
        const struct script_value *item = v->array.items[i];
        if (item->kind == SCRIPT_V_STRING && !item->str.truncated) {
            list->v[stored++] = item->str.bytes;
            list->bytes += item->str.len + 1;
        } else {
            *exact = false; /* "..." elided elements or a truncated string */
            if (item->kind == SCRIPT_V_STRING)
                list->v[stored++] = item->str.bytes;
        }
    }
    list->n = stored;
    if (v->comment) { /* strace: [...] followed by a "N more" count is not printed; keep n */
        int more = 0;
        if (sscanf(v->comment, "%d more", &more) == 1 && more > 0)
            list->n += more;
    }
    return 0;
}

/* execve(PATH, ARGV, ENVP) or execveat(DIRFD, PATH, ARGV, ENVP, FLAGS). */
static int replay_execve(struct kernel *k, struct process *p, const struct script_stmt *st, long nr, long *ret,
                         char *err, size_t errlen)
{
    size_t base = nr == NR_execveat ? 1 : 0;
    if (st->nargs < base + 3)
        return call_error(err, errlen, st->name, ": expected a path, argv and envp");
    const struct script_value *path = st->args[base];
    if (path->kind != SCRIPT_V_STRING || path->str.truncated)
        return call_error(err, errlen, st->name, ": the path must be a whole string");
    if (nr == NR_execveat) {
        uint64_t dirfd, flags = 0;
        if (!value_word(st->args[0], &dirfd) || (st->nargs > 4 && !value_word(st->args[4], &flags)))
            return call_error(err, errlen, "execveat: unreadable dirfd or flags", NULL);
        if (path->str.bytes[0] != '/' && (int)dirfd != -100)
            return call_error(err, errlen, "execveat: only absolute paths or AT_FDCWD are replayed", NULL);
    }
    bool exact = true;
    struct string_list argv, envp;
    if (read_strings(st->args[base + 1], &argv, &exact) || read_strings(st->args[base + 2], &envp, &exact)) {
        free(argv.v);
        return call_error(err, errlen, "out of memory", NULL);
    }
    uint64_t bytes = exact ? argv.bytes + envp.bytes : 0;
    /* pagoda record's comment gives the total: "23 vars; argv and envp strings: N bytes" */
    const struct script_value *ev = st->args[base + 2];
    const char *total = ev->comment ? strstr(ev->comment, "strings: ") : NULL;
    unsigned long long logged;
    if (total && sscanf(total, "strings: %llu bytes", &logged) == 1)
        bytes = logged;
    *ret = kernel_execve(k, p, path->str.bytes, exact ? argv.v : NULL, argv.n, envp.n, bytes);
    free(argv.v);
    free(envp.v);
    return 0;
}

/* wait4(PID, STATUS, OPTIONS, RUSAGE): the status is the kernel's to report. */
static int replay_wait4(struct kernel *k, struct process *p, const struct script_stmt *st, long *ret, char *err,
                        size_t errlen)
{
    uint64_t pid, options = 0;
    if (!st->nargs || !value_word(st->args[0], &pid) || (st->nargs > 2 && !value_word(st->args[2], &options)))
        return call_error(err, errlen, "wait4: unreadable pid or options", NULL);
    int status = 0;
    *ret = kernel_wait4(k, p, (int)pid, &status, (int)options);
    return 0;
}

int replay_process_call(struct kernel *k, struct process *p, const struct script_stmt *st, long nr, long *ret,
                        char *err, size_t errlen)
{
    switch (nr) {
    case NR_fork: *ret = kernel_clone(k, p, 0, SIGCHLD, logged_child_pid(st)); return 0;
    case NR_vfork: *ret = kernel_clone(k, p, CLONE_VM | CLONE_VFORK, SIGCHLD, logged_child_pid(st)); return 0;
    case NR_clone: return replay_clone(k, p, st, ret, err, errlen);
    case NR_clone3: return replay_clone3(k, p, st, ret, err, errlen);
    case NR_execve:
    case NR_execveat: return replay_execve(k, p, st, nr, ret, err, errlen);
    case NR_wait4: return replay_wait4(k, p, st, ret, err, errlen);
    default: return call_error(err, errlen, st->name, " is not a process call");
    }
}

/* ---- descriptors of skipped calls ------------------------------------------------ */

/* Calls that return one new descriptor. */
static const char *const fd_returning[] = {
    "socket", "eventfd", "eventfd2", "epoll_create", "epoll_create1", "timerfd_create", "signalfd",
    "signalfd4", "inotify_init", "inotify_init1", "fanotify_init", "userfaultfd", "perf_event_open",
    "pidfd_open", "pidfd_getfd", "accept", "accept4", "io_uring_setup", "open_tree", "fsopen", "fsmount",
    "fspick", "open_by_handle_at", "openat2", "creat", "memfd_secret", "landlock_create_ruleset",
};

/* Does any flag of v (or of a struct's fields) end in CLOEXEC? */
static bool has_cloexec(const struct script_value *v)
{
    if (!v)
        return false;
    if (v->kind == SCRIPT_V_FLAGS) {
        for (size_t i = 0; i < v->flags.n; i++) {
            const char *id = v->flags.terms[i].kind == SCRIPT_TERM_IDENT ? v->flags.terms[i].ident : NULL;
            if (id && strlen(id) >= 7 && !strcmp(id + strlen(id) - 7, "CLOEXEC"))
                return true;
        }
    }
    if (v->kind == SCRIPT_V_STRUCT) {
        for (size_t i = 0; i < v->fields.n; i++)
            if (has_cloexec(v->fields.fields[i].value))
                return true;
    }
    return false;
}

/* Any argument with a CLOEXEC flag. */
static bool call_cloexec(const struct script_stmt *st)
{
    for (size_t i = 0; i < st->nargs; i++)
        if (has_cloexec(st->args[i]))
            return true;
    return false;
}

/* pipe, pipe2 and socketpair return their pair in an array argument. */
static bool returns_pair(const char *name)
{
    return !strcmp(name, "pipe") || !strcmp(name, "pipe2") || !strcmp(name, "socketpair");
}

/* Does the call return one new descriptor? */
static bool returns_descriptor(const char *name)
{
    for (size_t i = 0; i < sizeof(fd_returning) / sizeof(fd_returning[0]); i++)
        if (!strcmp(name, fd_returning[i]))
            return true;
    return false;
}

bool replay_creates_descriptors(const struct script_stmt *st)
{
    uint64_t r;
    if (st->kind != SCRIPT_SYSCALL || st->result.kind != SCRIPT_RESULT_VALUE ||
        !value_word(st->result.value, &r) || (int64_t)r < 0)
        return false;
    return returns_pair(st->name) || returns_descriptor(st->name);
}

void replay_skipped_descriptors(struct process *p, const struct script_stmt *st)
{
    if (!p || !replay_creates_descriptors(st))
        return;
    uint64_t r;
    value_word(st->result.value, &r);
    bool cloexec = call_cloexec(st);
    if (returns_pair(st->name)) {
        const struct script_value *a = st->nargs ? st->args[st->nargs == 4 ? 3 : 0] : NULL;
        for (size_t i = 0; a && a->kind == SCRIPT_V_ARRAY && i < a->array.n; i++) {
            uint64_t fd;
            if (value_word(a->array.items[i], &fd))
                kernel_install_fd(p, (long)fd, st->name, cloexec);
        }
        return;
    }
    kernel_install_fd(p, (long)r, st->name, cloexec);
}
