/*
 * tests/test_script.c - the script parser (src/cli/script.c): real strace lines,
 * pagoda statements, heredocs, joining split calls, error messages, committed real
 * logs (tests/data/NAME.strace), allocation failure and a deterministic fuzz run.
 *
 * The parser lives in src/cli, which the build links only into the pagoda binary,
 * so the test compiles those sources in directly, under private names so that it
 * also links when a build adds the src/cli objects to tests.  No frames are
 * involved, so there is no physical-memory leak audit; ASan builds check the heap.
 */
#define script_parse test_copy_script_parse
#define script_join_resumed test_copy_script_join_resumed
#define script_free test_copy_script_free
#define script_count test_copy_script_count
#define script_stmt_at test_copy_script_stmt_at
#define script_filename test_copy_script_filename
#define script_op_name test_copy_script_op_name
#define script_value_format test_copy_script_value_format
#define script_bytes_equal test_copy_script_bytes_equal
#define script_value_ident test_copy_script_value_ident
#define errno_name test_copy_errno_name
#define errno_from_name test_copy_errno_from_name

#include "cli/errno_names.c"
#include "cli/script.c"
#include "cli/script_value.c"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* ---------------------------------------------------------------- helpers ---- */

static struct script *parse_ok(const char *text)
{
    struct script *s = NULL;
    char err[256];
    int rc = script_parse("t.pgd", text, strlen(text), &s, err, sizeof err);
    if (rc != 0)
        fail_msg("parse of <%s> failed: %s", text, err);
    assert_non_null(s);
    return s;
}

static struct script *parse_joined(const char *text)
{
    struct script *s = parse_ok(text);
    char err[256];
    if (script_join_resumed(s, err, sizeof err) != 0)
        fail_msg("join failed: %s", err);
    return s;
}

static void expect_parse_error(const char *text, const char *message)
{
    struct script *s = (struct script *)1;
    char err[256];
    assert_int_equal(script_parse("t.pgd", text, strlen(text), &s, err, sizeof err), -1);
    assert_null(s);
    assert_string_equal(err, message);
}

static void expect_join_error(const char *text, const char *message)
{
    struct script *s = parse_ok(text);
    char err[256];
    assert_int_equal(script_join_resumed(s, err, sizeof err), -1);
    assert_string_equal(err, message);
    script_free(s);
}

static const struct script_stmt *only(const struct script *s)
{
    assert_int_equal(script_count(s), 1);
    return script_stmt_at(s, 0);
}

static void assert_format(const struct script_value *v, const char *expected)
{
    char buf[1024];
    script_value_format(v, buf, sizeof buf);
    assert_string_equal(buf, expected);
}

/* Bounded appending for describe(). */
struct text {
    char *buf;
    size_t cap, len;
};

__attribute__((format(printf, 2, 3))) static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n < t->cap - t->len ? (size_t)n : t->cap - t->len - 1;
}

static void add_value(struct text *t, const struct script_value *v)
{
    char buf[2048];
    script_value_format(v, buf, sizeof buf);
    add(t, "%s", buf);
}

static const char *const stmt_kind_names[] = {
    "SYSCALL", "PAGODA", "EXITED", "KILLED", "SIGNAL", "SUPERSEDED", "SKIP", "UNFINISHED", "RESUMED",
};
static const char *const result_kind_names[] = {"NONE", "VALUE", "ERROR", "UNKNOWN", "BLOCK"};

static void describe_result(struct text *t, const struct script_result *r)
{
    if (r->kind == SCRIPT_RESULT_NONE)
        return;
    add(t, " = %s", result_kind_names[r->kind]);
    if (r->value) {
        add(t, " ");
        add_value(t, r->value);
    }
    if (r->errno_name)
        add(t, " %s", r->errno_name);
    if (r->errno_text)
        add(t, " (%s)", r->errno_text);
    if (r->extra)
        add(t, " extra=(%s)", r->extra);
    if (r->time)
        add(t, " <%s>", r->time);
}

/* One line summing up every field of a statement, for exact comparisons. */
static void describe(const struct script_stmt *st, char *buf, size_t len)
{
    struct text t = {buf, len, 0};
    buf[0] = '\0';
    add(&t, "%s pid=%d", stmt_kind_names[st->kind], st->pid);
    if (st->timestamp)
        add(&t, " ts=%s", st->timestamp);
    if (st->name) {
        add(&t, " %s(", st->name);
        for (size_t i = 0; i < st->nargs; i++) {
            add(&t, i ? ", " : "");
            if (st->args[i])
                add_value(&t, st->args[i]);
            else
                add(&t, "-");
        }
        add(&t, ")");
    }
    describe_result(&t, &st->result);
    if (st->partial)
        add(&t, " partial=[%s]", st->partial);
    if (st->interrupted)
        add(&t, " interrupted");
    if (st->kind == SCRIPT_EXITED)
        add(&t, " status=%d", st->exit_status);
    if (st->core_dumped)
        add(&t, " core");
    if (st->kind == SCRIPT_SUPERSEDED)
        add(&t, " exec_pid=%d", st->exec_pid);
    if (st->text)
        add(&t, " text=[%s]", st->text);
}

static void assert_describes(const struct script_stmt *st, const char *expected)
{
    char buf[4096];
    describe(st, buf, sizeof buf);
    assert_string_equal(buf, expected);
}

/* ------------------------------------------------------- real strace lines ---- */

struct line_case {
    const char *line;
    const char *expected; /* describe() of the one statement it yields */
};

/* Lines from `strace -f` of dynamically linked programs (ls, a threaded program, a
 * memory-exercising program) with -t/-tt/-ttt/-r/-T/-x/-y/-yy/-i/-n variants, then
 * a few more system calls' forms. */
static const struct line_case real_lines[] = {
    {"3760  execve(\"/usr/bin/sh\", [\"sh\", \"-c\", \"ls >/dev/null\"], 0x7ffe9bd63eb8 /* 37 vars */) = 0",
     "SYSCALL pid=3760 execve(\"/usr/bin/sh\", [\"sh\", \"-c\", \"ls >/dev/null\"], 0x7ffe9bd63eb8 /* 37 vars */) = VALUE 0"},
    {"3760  brk(NULL)                         = 0x55ce19a1f000",
     "SYSCALL pid=3760 brk(NULL) = VALUE 0x55ce19a1f000"},
    {"3760  mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7fe09b0a1000",
     "SYSCALL pid=3760 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = VALUE 0x7fe09b0a1000"},
    {"3760  access(\"/etc/ld.so.preload\", R_OK) = -1 ENOENT (No such file or directory)",
     "SYSCALL pid=3760 access(\"/etc/ld.so.preload\", R_OK) = ERROR -1 ENOENT (No such file or directory)"},
    {"3760  openat(AT_FDCWD, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = 3",
     "SYSCALL pid=3760 openat(AT_FDCWD, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = VALUE 3"},
    {"3760  newfstatat(3, \"\", {st_mode=S_IFREG|0644, st_size=41495, ...}, AT_EMPTY_PATH) = 0",
     "SYSCALL pid=3760 newfstatat(3, \"\", {st_mode=S_IFREG|0644, st_size=41495, ...}, AT_EMPTY_PATH) = VALUE 0"},
    {"3760  read(3, \"\\177ELF\\2\\1\\1\\3\\0\\0\\0\\0\\0\\0\\0\\0\\3\\0>\\0\\1\\0\\0\\0\\20t\\2\\0\\0\\0\\0\\0\"..., 832) = 832",
     "SYSCALL pid=3760 read(3, \"\\177ELF\\2\\1\\1\\3\\0\\0\\0\\0\\0\\0\\0\\0\\3\\0>\\0\\1\\0\\0\\0\\20t\\2\\0\\0\\0\\0\\0\"..., 832) = VALUE 832"},
    {"3760  mmap(0x7fe09aeda000, 1400832, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x26000) = 0x7fe09aeda000",
     "SYSCALL pid=3760 mmap(0x7fe09aeda000, 1400832, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x26000) = VALUE 0x7fe09aeda000"},
    {"3760  arch_prctl(ARCH_SET_FS, 0x7fe09aeb1740) = 0",
     "SYSCALL pid=3760 arch_prctl(ARCH_SET_FS, 0x7fe09aeb1740) = VALUE 0"},
    {"3760  set_tid_address(0x7fe09aeb1a10)   = 3760",
     "SYSCALL pid=3760 set_tid_address(0x7fe09aeb1a10) = VALUE 3760"},
    {"3760  mprotect(0x7fe09b083000, 16384, PROT_READ) = 0",
     "SYSCALL pid=3760 mprotect(0x7fe09b083000, 16384, PROT_READ) = VALUE 0"},
    {"3760  prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0",
     "SYSCALL pid=3760 prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = VALUE 0"},
    {"3760  rt_sigaction(SIGCHLD, {sa_handler=0x55cdedf51dc0, sa_mask=~[RTMIN RT_1], sa_flags=SA_RESTORER, sa_restorer=0x7fe09aef0050}, NULL, 8) = 0",
     "SYSCALL pid=3760 rt_sigaction(SIGCHLD, {sa_handler=0x55cdedf51dc0, sa_mask=~[RTMIN RT_1], sa_flags=SA_RESTORER, sa_restorer=0x7fe09aef0050}, NULL, 8) = VALUE 0"},
    {"3760  rt_sigaction(SIGINT, NULL, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0",
     "SYSCALL pid=3760 rt_sigaction(SIGINT, NULL, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = VALUE 0"},
    {"3760  getrandom(\"\\x7f\\x4f\\xfb\\x3d\\x21\\xe7\\x10\\x8e\", 8, GRND_NONBLOCK) = 8",
     "SYSCALL pid=3760 getrandom(\"\\177O\\373=!\\347\\20\\216\", 8, GRND_NONBLOCK) = VALUE 8"},
    {"3760  openat(AT_FDCWD, \"/dev/null\", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3",
     "SYSCALL pid=3760 openat(AT_FDCWD, \"/dev/null\", O_WRONLY|O_CREAT|O_TRUNC, 0666) = VALUE 3"},
    {"3760  vfork( <unfinished ...>",
     "UNFINISHED pid=3760 vfork() partial=[ ]"},
    {"3761  rt_sigprocmask(SIG_SETMASK, [], ~[KILL STOP RTMIN RT_1], 8) = 0",
     "SYSCALL pid=3761 rt_sigprocmask(SIG_SETMASK, [], ~[KILL STOP RTMIN RT_1], 8) = VALUE 0"},
    {"3760  <... vfork resumed>)              = 3761",
     "RESUMED pid=3760 vfork() = VALUE 3761 partial=[]"},
    {"3760  rt_sigprocmask(SIG_SETMASK, [],  <unfinished ...>",
     "UNFINISHED pid=3760 rt_sigprocmask(SIG_SETMASK, []) partial=[SIG_SETMASK, [],  ]"},
    {"3761  <... access resumed>)             = -1 ENOENT (No such file or directory)",
     "RESUMED pid=3761 access() = ERROR -1 ENOENT (No such file or directory) partial=[]"},
    {"3760  <... rt_sigprocmask resumed>~[KILL STOP RTMIN RT_1], 8) = 0",
     "RESUMED pid=3760 rt_sigprocmask(~[KILL STOP RTMIN RT_1], 8) = VALUE 0 partial=[~[KILL STOP RTMIN RT_1], 8]"},
    {"3761  exit_group(0)                     = ?",
     "SYSCALL pid=3761 exit_group(0) = UNKNOWN"},
    {"3761  +++ exited with 0 +++",
     "EXITED pid=3761 status=0"},
    {"3760  <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 3761",
     "RESUMED pid=3760 wait4([{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = VALUE 3761 partial=[[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL]"},
    {"3760  --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=3761, si_uid=0, si_status=0, si_utime=0, si_stime=0} ---",
     "SIGNAL pid=3760 SIGCHLD({si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=3761, si_uid=0, si_status=0, si_utime=0, si_stime=0})"},
    {"3760  rt_sigreturn({mask=[]})           = 3761",
     "SYSCALL pid=3760 rt_sigreturn({mask=[]}) = VALUE 3761"},
    {"3760  wait4(-1, 0x7ffef989a4bc, WNOHANG, NULL) = -1 ECHILD (No child processes)",
     "SYSCALL pid=3760 wait4(-1, 0x7ffef989a4bc, WNOHANG, NULL) = ERROR -1 ECHILD (No child processes)"},
    {"3972  12:26:28.245512 openat(AT_FDCWD</tmp/script>, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache> <0.000017>",
     "SYSCALL pid=3972 ts=12:26:28.245512 openat(AT_FDCWD</tmp/script>, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = VALUE 3</etc/ld.so.cache> <0.000017>"},
    {"3972  12:26:28.246071 mmap(NULL, 1974096, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3</usr/lib/x86_64-linux-gnu/libc.so.6>, 0) = 0x7f77d56e7000 <0.000015>",
     "SYSCALL pid=3972 ts=12:26:28.246071 mmap(NULL, 1974096, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3</usr/lib/x86_64-linux-gnu/libc.so.6>, 0) = VALUE 0x7f77d56e7000 <0.000015>"},
    {"3972  12:26:28.247186 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7f77d56e3990, parent_tid=0x7f77d56e3990, exit_signal=0, stack=0x7f77d4ee3000, stack_size=0x7fff80, tls=0x7f77d56e36c0} <unfinished ...>",
     "UNFINISHED pid=3972 ts=12:26:28.247186 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7f77d56e3990, parent_tid=0x7f77d56e3990, exit_signal=0, stack=0x7f77d4ee3000, stack_size=0x7fff80, tls=0x7f77d56e36c0}) partial=[{flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7f77d56e3990, parent_tid=0x7f77d56e3990, exit_signal=0, stack=0x7f77d4ee3000, stack_size=0x7fff80, tls=0x7f77d56e36c0} ]"},
    {"3972  12:26:28.247357 <... clone3 resumed> => {parent_tid=[3973]}, 88) = 3973 <0.000157>",
     "RESUMED pid=3972 ts=12:26:28.247357 clone3(=> {parent_tid=[3973]}, 88) = VALUE 3973 <0.000157> partial=[ => {parent_tid=[3973]}, 88]"},
    {"11997 12:37:35.613449 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7fcbdc782990, parent_tid=0x7fcbdc782990, exit_signal=0, stack=0x7fcbdbf82000, stack_size=0x7fff80, tls=0x7fcbdc7826c0} => {parent_tid=[11998]}, 88) = 11998 <0.000149>",
     "SYSCALL pid=11997 ts=12:37:35.613449 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7fcbdc782990, parent_tid=0x7fcbdc782990, exit_signal=0, stack=0x7fcbdbf82000, stack_size=0x7fff80, tls=0x7fcbdc7826c0} => {parent_tid=[11998]}, 88) = VALUE 11998 <0.000149>"},
    {"3972  12:26:28.250725 --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---",
     "SIGNAL pid=3972 ts=12:26:28.250725 SIGSEGV({si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10})"},
    {"3972  12:26:28.251159 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f77d56e4a10) = 3976 <0.000220>",
     "SYSCALL pid=3972 ts=12:26:28.251159 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f77d56e4a10) = VALUE 3976 <0.000220>"},
    {"3976  12:26:28.261849 <... pause resumed>) = ?",
     "RESUMED pid=3976 ts=12:26:28.261849 pause() = UNKNOWN partial=[]"},
    {"3976  12:26:28.262214 +++ killed by SIGKILL +++",
     "KILLED pid=3976 ts=12:26:28.262214 SIGKILL()"},
    {"3977  12:26:28.264612 +++ killed by SIGABRT (core dumped) +++",
     "KILLED pid=3977 ts=12:26:28.264612 SIGABRT() core"},
    {"3972  12:26:28.264686 pipe2([3<pipe:[7865]>, 4<pipe:[7865]>], 0) = 0 <0.000020>",
     "SYSCALL pid=3972 ts=12:26:28.264686 pipe2([3<pipe:[7865]>, 4<pipe:[7865]>], 0) = VALUE 0 <0.000020>"},
    {"3972  12:26:28.264775 write(4<pipe:[7865]>, \"a\\0b\\\"\\\\\\177\\n\\0\", 8) = 8 <0.000010>",
     "SYSCALL pid=3972 ts=12:26:28.264775 write(4<pipe:[7865]>, \"a\\0b\\\"\\\\\\177\\n\\0\", 8) = VALUE 8 <0.000010>"},
    {"3972  12:26:28.250645 rt_sigaction(SIGSEGV, {sa_handler=0x55e327a48259, sa_mask=[SEGV], sa_flags=SA_RESTORER|SA_RESTART, sa_restorer=0x7f77d5723050}, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0 <0.000009>",
     "SYSCALL pid=3972 ts=12:26:28.250645 rt_sigaction(SIGSEGV, {sa_handler=0x55e327a48259, sa_mask=[SEGV], sa_flags=SA_RESTORER|SA_RESTART, sa_restorer=0x7f77d5723050}, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = VALUE 0 <0.000009>"},
    {"4013  1795263991.983826 newfstatat(0</dev/null<char 1:3>>, \"\", {st_dev=makedev(0, 0x6), st_ino=3, st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), st_atime=1795257455 /* 2026-11-21T10:37:35.526104938+0000 */, st_atime_nsec=526104938}, AT_EMPTY_PATH) = 0",
     "SYSCALL pid=4013 ts=1795263991.983826 newfstatat(0</dev/null<char 1:3>>, \"\", {st_dev=makedev(0, 0x6), st_ino=3, st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), st_atime=1795257455 /* 2026-11-21T10:37:35.526104938+0000 */, st_atime_nsec=526104938}, AT_EMPTY_PATH) = VALUE 0"},
    {"4013  1795263991.983029 connect(3<TCP:[127.0.0.1:41234->127.0.0.1:1]>, {sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = -1 ECONNREFUSED (Connection refused)",
     "SYSCALL pid=4013 ts=1795263991.983029 connect(3<TCP:[127.0.0.1:41234->127.0.0.1:1]>, {sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = ERROR -1 ECONNREFUSED (Connection refused)"},
    {"4013  1795263991.984194 openat(AT_FDCWD</tmp/script>, \"/tmp/script/a b\\tc>\", O_RDWR|O_CREAT, 0600) = 4</tmp/script/a b\\tc\\76>",
     "SYSCALL pid=4013 ts=1795263991.984194 openat(AT_FDCWD</tmp/script>, \"/tmp/script/a b\\tc>\", O_RDWR|O_CREAT, 0600) = VALUE 4</tmp/script/a b\\tc>>"},
    {"4013  1795263991.997342 +++ superseded by execve in pid 4014 +++",
     "SUPERSEDED pid=4013 ts=1795263991.997342 exec_pid=4014"},
    {"[pid  4076] 12:26:37 rt_sigprocmask(SIG_SETMASK, [],  <unfinished ...>",
     "UNFINISHED pid=4076 ts=12:26:37 rt_sigprocmask(SIG_SETMASK, []) partial=[SIG_SETMASK, [],  ]"},
    {"10267 12:35:52.836528 mmap(NULL, 2097152, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|21<<MAP_HUGE_SHIFT, -1, 0) = -1 ENOMEM (Cannot allocate memory) <0.000064>",
     "SYSCALL pid=10267 ts=12:35:52.836528 mmap(NULL, 2097152, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|21<<MAP_HUGE_SHIFT, -1, 0) = ERROR -1 ENOMEM (Cannot allocate memory) <0.000064>"},
    {"10267 12:35:52.838851 getsockname(3, {sa_family=AF_UNIX}, [110 => 2]) = 0 <0.000038>",
     "SYSCALL pid=10267 ts=12:35:52.838851 getsockname(3, {sa_family=AF_UNIX}, [110 => 2]) = VALUE 0 <0.000038>"},
    {"10267 12:35:52.838957 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR) <0.000043>",
     "SYSCALL pid=10267 ts=12:35:52.838957 fcntl(3, F_GETFL) = VALUE 0x2 extra=(flags O_RDWR) <0.000043>"},
    {"10267 12:35:52.839412 sched_getaffinity(0, 128, [0 1]) = 32 <0.000036>",
     "SYSCALL pid=10267 ts=12:35:52.839412 sched_getaffinity(0, 128, [0 1]) = VALUE 32 <0.000036>"},
    {"10268 12:35:52.890286 <... clock_nanosleep resumed>NULL) = ? ERESTART_RESTARTBLOCK (Interrupted by signal) <0.050281>",
     "RESUMED pid=10268 ts=12:35:52.890286 clock_nanosleep(NULL) = ERROR ERESTART_RESTARTBLOCK (Interrupted by signal) <0.050281> partial=[NULL]"},
    {"10268 12:35:52.890437 --- stopped by SIGSTOP ---",
     "SKIP pid=10268 ts=12:35:52.890437 text=[--- stopped by SIGSTOP ---]"},
    {"10267 12:35:52.890479 restart_syscall(<... resuming interrupted clock_nanosleep ...>) = 0 <0.020093>",
     "SYSCALL pid=10267 ts=12:35:52.890479 restart_syscall(<... resuming interrupted clock_nanosleep ...>) = VALUE 0 <0.020093>"},
    {"10267 12:35:52.836433 personality(0xffffffff) = 0 (PER_LINUX) <0.000039>",
     "SYSCALL pid=10267 ts=12:35:52.836433 personality(0xffffffff) = VALUE 0 extra=(PER_LINUX) <0.000039>"},
    {"strace: Process 1234 attached",
     "SKIP pid=-1 text=[strace: Process 1234 attached]"},
    {"10519      0.000355 [  12] [00007f9c2fc43c47] brk(NULL) = 0x55b2a3de4000",
     "SYSCALL pid=10519 ts=0.000355 brk(NULL) = VALUE 0x55b2a3de4000"},
    {"10520      0.000108 [ 231] [????????????????] +++ exited with 0 +++",
     "EXITED pid=10520 ts=0.000108 status=0"},
    {"4242 <... read resumed> <unfinished ...>) = ?",
     "RESUMED pid=4242 read() = UNKNOWN partial=[] interrupted"},
    {"10267 12:35:52.837648 mincore(0x7fef6b600000, 16384, [1, 1, 1, 1]) = 0 <0.000042>",
     "SYSCALL pid=10267 ts=12:35:52.837648 mincore(0x7fef6b600000, 16384, [1, 1, 1, 1]) = VALUE 0 <0.000042>"},
    {"10267 12:35:52.839520 uname({sysname=\"Linux\", nodename=\"vm\", ...}) = 0 <0.000042>",
     "SYSCALL pid=10267 ts=12:35:52.839520 uname({sysname=\"Linux\", nodename=\"vm\", ...}) = VALUE 0 <0.000042>"},
    {"5184  futex(0x7f1c, FUTEX_WAKE_OP_PRIVATE, 1, 1, 0x7f18, FUTEX_OP_SET<<28|0<<12|FUTEX_OP_CMP_GT<<24|0x1) = 1",
     "SYSCALL pid=5184 futex(0x7f1c, FUTEX_WAKE_OP_PRIVATE, 1, 1, 0x7f18, FUTEX_OP_SET<<28|0<<12|FUTEX_OP_CMP_GT<<24|0x1) = VALUE 1"},
    {"10267 12:35:52.839292 poll([{fd=3, events=POLLIN}], 1, 0) = 1 ([{fd=3, revents=POLLIN}]) <0.000042>",
     "SYSCALL pid=10267 ts=12:35:52.839292 poll([{fd=3, events=POLLIN}], 1, 0) = VALUE 1 extra=([{fd=3, revents=POLLIN}]) <0.000042>"},
    {"1700000000.123456 exit_group(0) = ? <0.000010>",
     "SYSCALL pid=-1 ts=1700000000.123456 exit_group(0) = UNKNOWN <0.000010>"},
    /* forms of other system calls as strace 6 prints them */
    {"connect(3, {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::1\", &sin6_addr), sin6_scope_id=0}, 28) = 0",
     "SYSCALL pid=-1 connect(3, {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::1\", &sin6_addr), sin6_scope_id=0}, 28) = VALUE 0"},
    {"wait4(-1, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}], 0, NULL) = 5",
     "SYSCALL pid=-1 wait4(-1, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}], 0, NULL) = VALUE 5"},
    {"ioctl(1, TCGETS, {c_iflag=ICRNL|IXON, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|OPOST|ONLCR, c_cc[VMIN]=1, ...}) = 0",
     "SYSCALL pid=-1 ioctl(1, TCGETS, {c_iflag=ICRNL|IXON, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|OPOST|ONLCR, c_cc[VMIN]=1, ...}) = VALUE 0"},
    {"memfd_create(\"x\", MFD_CLOEXEC) = 3</memfd:x (deleted)>",
     "SYSCALL pid=-1 memfd_create(\"x\", MFD_CLOEXEC) = VALUE 3</memfd:x (deleted)>"},
    {"recvmsg(3, {msg_name=0x7ffc, msg_namelen=128 => 16, msg_iov=[{iov_base=\"\\x14\", iov_len=4096}], msg_iovlen=1, msg_flags=MSG_TRUNC}, 0) = 20",
     "SYSCALL pid=-1 recvmsg(3, {msg_name=0x7ffc, msg_namelen=128 => 16, msg_iov=[{iov_base=\"\\24\", iov_len=4096}], msg_iovlen=1, msg_flags=MSG_TRUNC}, 0) = VALUE 20"},
    {"getrlimit(RLIMIT_NOFILE, {rlim_cur=1024, rlim_max=4*1024}) = 0",
     "SYSCALL pid=-1 getrlimit(RLIMIT_NOFILE, {rlim_cur=1024, rlim_max=4*1024}) = VALUE 0"},
};

static void test_real_strace_lines(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof real_lines / sizeof real_lines[0]; i++) {
        struct script *s = parse_ok(real_lines[i].line);
        assert_describes(only(s), real_lines[i].expected);
        script_free(s);
    }
}

/* The statement's place in its line: after the pid and timestamp. */
static void test_line_and_column(void **state)
{
    (void)state;
    struct script *s = parse_ok("\n# comment\n  \n3972  12:26:28.245512 brk(NULL) = 0x1\n"
                                "[pid  4076] mmap() = 0\nbrk(NULL)\n");
    assert_int_equal(script_count(s), 3);
    const struct script_stmt *a = script_stmt_at(s, 0), *b = script_stmt_at(s, 1);
    const struct script_stmt *c = script_stmt_at(s, 2);
    assert_int_equal(a->line, 4);
    assert_int_equal(a->column, 23);
    assert_int_equal(a->end_line, 4);
    assert_int_equal(a->result.column, 35);
    assert_int_equal(b->line, 5);
    assert_int_equal(b->column, 13);
    assert_int_equal(b->pid, 4076);
    assert_int_equal(c->line, 6);
    assert_int_equal(c->column, 1);
    assert_int_equal(c->pid, -1);
    assert_null(c->timestamp);
    assert_int_equal(c->result.kind, SCRIPT_RESULT_NONE);
    assert_null(script_stmt_at(s, 3));
    assert_string_equal(script_filename(s), "t.pgd");
    script_free(s);
}

static void test_flag_sets_and_shifts(void **state)
{
    (void)state;
    struct script *s = parse_ok("mmap(NULL, 2097152, PROT_READ|PROT_WRITE, "
                                "MAP_PRIVATE|MAP_ANONYMOUS|0x40000|21<<MAP_HUGE_SHIFT, -1, 0)\n");
    const struct script_stmt *st = only(s);
    assert_int_equal(st->kind, SCRIPT_SYSCALL);
    assert_string_equal(st->name, "mmap");
    assert_int_equal(st->nargs, 6);
    assert_int_equal(st->args[0]->kind, SCRIPT_V_NULL);
    assert_int_equal(st->args[1]->kind, SCRIPT_V_INT);
    assert_int_equal(st->args[1]->num.bits, 2097152);
    const struct script_value *prot = st->args[2], *flags = st->args[3];
    assert_int_equal(prot->kind, SCRIPT_V_FLAGS);
    assert_int_equal(prot->flags.n, 2);
    assert_string_equal(prot->flags.terms[0].ident, "PROT_READ");
    assert_string_equal(prot->flags.terms[1].ident, "PROT_WRITE");
    assert_int_equal(flags->flags.n, 4);
    assert_int_equal(flags->flags.terms[2].kind, SCRIPT_TERM_NUMBER);
    assert_int_equal(flags->flags.terms[2].num.bits, 0x40000);
    const struct script_term *shift = &flags->flags.terms[3];
    assert_int_equal(shift->kind, SCRIPT_TERM_SHIFT);
    assert_int_equal(shift->lhs->kind, SCRIPT_TERM_NUMBER);
    assert_int_equal(shift->lhs->num.bits, 21);
    assert_int_equal(shift->rhs->kind, SCRIPT_TERM_IDENT);
    assert_string_equal(shift->rhs->ident, "MAP_HUGE_SHIFT");
    assert_int_equal(st->args[4]->kind, SCRIPT_V_INT);
    assert_true(st->args[4]->num.negative);
    assert_int_equal((int64_t)st->args[4]->num.bits, -1);
    assert_null(script_value_ident(prot));
    script_free(s);

    s = parse_ok("prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY})");
    const struct script_value *lim = only(s)->args[3];
    assert_int_equal(lim->kind, SCRIPT_V_STRUCT);
    assert_int_equal(lim->fields.n, 2);
    assert_string_equal(lim->fields.fields[0].key, "rlim_cur");
    const struct script_value *cur = lim->fields.fields[0].value;
    assert_int_equal(cur->kind, SCRIPT_V_FLAGS);
    assert_int_equal(cur->flags.terms[0].kind, SCRIPT_TERM_PRODUCT);
    assert_int_equal(cur->flags.terms[0].lhs->num.bits, 8192);
    assert_int_equal(cur->flags.terms[0].rhs->num.bits, 1024);
    assert_string_equal(script_value_ident(lim->fields.fields[1].value), "RLIM64_INFINITY");
    assert_string_equal(script_value_ident(only(s)->args[1]), "RLIMIT_STACK");
    script_free(s);
}

static void test_numbers(void **state)
{
    (void)state;
    struct script *s = parse_ok("f(0, 42, -1, 0x7f1234560000, 0644, 000, 2M, 4K, 1G, 0xffffffffffffffff, "
                                "18446744073709551615, -9223372036854775808)");
    const struct script_stmt *st = only(s);
    assert_int_equal(st->nargs, 12);
    static const uint64_t bits[] = {0, 42, UINT64_MAX, 0x7f1234560000, 0644, 0, 2u << 20, 4096,
                                    1u << 30, UINT64_MAX, UINT64_MAX, UINT64_C(1) << 63};
    static const uint8_t bases[] = {10, 10, 10, 16, 8, 8, 10, 10, 10, 16, 10, 10};
    for (size_t i = 0; i < 12; i++) {
        assert_int_equal(st->args[i]->kind, SCRIPT_V_INT);
        assert_int_equal(st->args[i]->num.bits, bits[i]);
        assert_int_equal(st->args[i]->num.base, bases[i]);
    }
    assert_int_equal(st->args[6]->num.suffix, 'M');
    assert_true(st->args[11]->num.negative);
    assert_format(st->args[4], "0644");
    assert_format(st->args[6], "2M");
    assert_format(st->args[11], "-9223372036854775808");
    script_free(s);
    expect_parse_error("f(18446744073709551616)", "t.pgd:1:3: number out of range");
    expect_parse_error("f(-9223372036854775809)", "t.pgd:1:3: number out of range");
    expect_parse_error("f(0x10000000000000000)", "t.pgd:1:3: number out of range");
    expect_parse_error("f(16777216T)", "t.pgd:1:3: number out of range");
    expect_parse_error("f(0644 0x)", "t.pgd:1:8: expected ')' after arguments");
}

static void test_strings(void **state)
{
    (void)state;
    struct script *s = parse_ok("write(1, \"a\\0b\\\"\\\\\\177\\n\\x41\\101\\t\\r\\v\\f\", 13) = 13\n"
                                "read(3, \"\\177ELF\"..., 832) = 832\n"
                                "connect(3, {sa_family=AF_UNIX, sun_path=@\"/tmp/.X11\"}, 12) = 0\n");
    const struct script_value *w = script_stmt_at(s, 0)->args[1];
    assert_int_equal(w->kind, SCRIPT_V_STRING);
    assert_int_equal(w->str.len, 13);
    assert_memory_equal(w->str.bytes, "a\0b\"\\\177\nAA\t\r\v\f", 13);
    assert_false(w->str.truncated);
    assert_true(script_bytes_equal(w, "a\0b\"\\\177\nAA\t\r\v\f", 13));
    assert_false(script_bytes_equal(w, "a\0b\"\\\177\nAA\t\r\v", 12));
    assert_format(w, "\"a\\0b\\\"\\\\\\177\\nAA\\t\\r\\v\\f\"");
    const struct script_value *r = script_stmt_at(s, 1)->args[1];
    assert_true(r->str.truncated);
    assert_int_equal(r->str.len, 4);
    assert_true(script_bytes_equal(r, "\177ELF\2\1\1", 7)); /* a truncated literal is a prefix */
    assert_false(script_bytes_equal(r, "\177EL", 3));
    assert_false(script_bytes_equal(script_stmt_at(s, 1)->args[0], "3", 1));
    const struct script_value *sun = script_stmt_at(s, 2)->args[1]->fields.fields[1].value;
    assert_true(sun->str.abstract);
    assert_format(sun, "@\"/tmp/.X11\"");
    script_free(s);

    /* "\x41" and "A" are the same bytes */
    s = parse_ok("read 0x1000 2 = \"\\x41\\x42\"\nread 0x1000 2 = \"AB\"\n");
    const struct script_value *x = script_stmt_at(s, 0)->result.value;
    const struct script_value *plain = script_stmt_at(s, 1)->result.value;
    assert_true(script_bytes_equal(x, plain->str.bytes, plain->str.len));
    assert_true(script_bytes_equal(x, "AB", 2));
    script_free(s);
}

static void test_fd_decorations(void **state)
{
    (void)state;
    struct script *s = parse_ok(
        "mmap(NULL, 1974096, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3</usr/lib/libc.so.6>, 0) = 0x7f00\n"
        "pipe2([3<pipe:[1234]>, 4<pipe:[1234]>], 0) = 0\n"
        "openat(AT_FDCWD</tmp>, \"x\", O_RDONLY) = 5</tmp/a b\\tc\\76>\n"
        "fstat(0</dev/null<char 1:3>>, 0x7ffc) = 0\n"
        "read(7<TCP:[127.0.0.1:22->127.0.0.1:5678]>, \"\", 1) = 0\n"
        "close(9</tmp/odd[name>) = 0\n");
    const struct script_value *fd = script_stmt_at(s, 0)->args[4];
    assert_int_equal(fd->kind, SCRIPT_V_FD);
    assert_int_equal(fd->fd.number, 3);
    assert_null(fd->fd.name);
    assert_string_equal(fd->fd.path, "/usr/lib/libc.so.6");
    const struct script_value *pipes = script_stmt_at(s, 1)->args[0];
    assert_int_equal(pipes->kind, SCRIPT_V_ARRAY);
    assert_int_equal(pipes->array.n, 2);
    assert_int_equal(pipes->array.items[1]->fd.number, 4);
    assert_string_equal(pipes->array.items[1]->fd.path, "pipe:[1234]");
    const struct script_stmt *open = script_stmt_at(s, 2);
    assert_int_equal(open->args[0]->fd.number, -100);
    assert_string_equal(open->args[0]->fd.name, "AT_FDCWD");
    assert_string_equal(open->args[0]->fd.path, "/tmp");
    assert_int_equal(open->result.value->kind, SCRIPT_V_FD);
    assert_int_equal(open->result.value->fd.number, 5);
    assert_string_equal(open->result.value->fd.path, "/tmp/a b\tc>");
    assert_string_equal(script_stmt_at(s, 3)->args[0]->fd.path, "/dev/null<char 1:3>");
    assert_string_equal(script_stmt_at(s, 4)->args[0]->fd.path, "TCP:[127.0.0.1:22->127.0.0.1:5678]");
    assert_string_equal(script_stmt_at(s, 5)->args[0]->fd.path, "/tmp/odd[name");
    assert_format(fd, "3</usr/lib/libc.so.6>");
    script_free(s);
}

static void test_sigsets(void **state)
{
    (void)state;
    struct script *s = parse_ok("rt_sigprocmask(SIG_SETMASK, ~[RTMIN RT_1], [CHLD], 8) = 0\n"
                                "rt_sigprocmask(SIG_BLOCK, ~[], [], 8) = 0\n"
                                "sched_getaffinity(0, 128, [0 1 2 3]) = 8\n"
                                "getgroups(1, [0]) = 1\n");
    const struct script_stmt *a = script_stmt_at(s, 0);
    assert_int_equal(a->args[1]->kind, SCRIPT_V_SIGSET);
    assert_true(a->args[1]->sigset.negated);
    assert_int_equal(a->args[1]->sigset.n, 2);
    assert_string_equal(a->args[1]->sigset.names[0], "RTMIN");
    assert_string_equal(a->args[1]->sigset.names[1], "RT_1");
    assert_int_equal(a->args[2]->kind, SCRIPT_V_SIGSET);
    assert_false(a->args[2]->sigset.negated);
    assert_int_equal(a->args[2]->sigset.n, 1);
    assert_string_equal(a->args[2]->sigset.names[0], "CHLD");
    const struct script_stmt *b = script_stmt_at(s, 1);
    assert_int_equal(b->args[1]->kind, SCRIPT_V_SIGSET);
    assert_int_equal(b->args[1]->sigset.n, 0);
    assert_int_equal(b->args[2]->kind, SCRIPT_V_ARRAY); /* [] is an empty array */
    assert_int_equal(b->args[2]->array.n, 0);
    const struct script_value *cpus = script_stmt_at(s, 2)->args[2];
    assert_int_equal(cpus->kind, SCRIPT_V_SIGSET);
    assert_int_equal(cpus->sigset.n, 4);
    assert_string_equal(cpus->sigset.names[3], "3");
    const struct script_value *groups = script_stmt_at(s, 3)->args[1];
    assert_int_equal(groups->kind, SCRIPT_V_ARRAY);
    assert_int_equal(groups->array.items[0]->num.bits, 0);
    assert_format(a->args[1], "~[RTMIN RT_1]");
    script_free(s);
}

static void test_clone_named_args_and_clone3_out(void **state)
{
    (void)state;
    struct script *s = parse_ok(
        "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, "
        "child_tidptr=0x7f77d56e4a10) = 3976\n"
        "clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0, stack=0x7f00, stack_size=0x7fff80} "
        "=> {parent_tid=[3974]}, 88) = 3974\n"
        "getsockname(3, {sa_family=AF_UNIX}, [110 => 2]) = 0\n");
    const struct script_stmt *c = script_stmt_at(s, 0);
    assert_int_equal(c->nargs, 3);
    assert_int_equal(c->args[0]->kind, SCRIPT_V_NAMED);
    assert_string_equal(c->args[0]->named.key, "child_stack");
    assert_int_equal(c->args[0]->named.value->kind, SCRIPT_V_NULL);
    assert_string_equal(c->args[1]->named.key, "flags");
    assert_int_equal(c->args[1]->named.value->flags.n, 3);
    assert_string_equal(c->args[2]->named.key, "child_tidptr");
    assert_int_equal(c->args[2]->named.value->num.bits, 0x7f77d56e4a10);
    assert_int_equal(c->result.value->num.bits, 3976);
    const struct script_value *out = script_stmt_at(s, 1)->args[0];
    assert_int_equal(out->kind, SCRIPT_V_OUT);
    assert_int_equal(out->out.in->kind, SCRIPT_V_STRUCT);
    assert_int_equal(out->out.in->fields.n, 4);
    assert_string_equal(out->out.in->fields.fields[3].key, "stack_size");
    assert_int_equal(out->out.out->kind, SCRIPT_V_STRUCT);
    const struct script_value *tid = out->out.out->fields.fields[0].value;
    assert_int_equal(tid->kind, SCRIPT_V_ARRAY);
    assert_int_equal(tid->array.items[0]->num.bits, 3974);
    assert_int_equal(script_stmt_at(s, 1)->args[1]->num.bits, 88);
    const struct script_value *len = script_stmt_at(s, 2)->args[2]->array.items[0];
    assert_int_equal(len->kind, SCRIPT_V_OUT);
    assert_int_equal(len->out.in->num.bits, 110);
    assert_int_equal(len->out.out->num.bits, 2);
    script_free(s);
}

static void test_wait_status_calls_and_comments(void **state)
{
    (void)state;
    struct script *s = parse_ok(
        "wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 3761\n"
        "execve(\"/bin/ls\", [\"ls\"], 0x7ffe9bd63eb8 /* 37 vars */) = 0\n"
        "newfstatat(1, \"\", {st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}, AT_EMPTY_PATH) = 0\n"
        "restart_syscall(<... resuming interrupted read ...>) = 0\n");
    const struct script_value *status = script_stmt_at(s, 0)->args[1]->array.items[0];
    assert_int_equal(status->kind, SCRIPT_V_STRUCT);
    assert_int_equal(status->fields.n, 1);
    assert_null(status->fields.fields[0].key);
    const struct script_value *and = status->fields.fields[0].value;
    assert_int_equal(and->kind, SCRIPT_V_EXPR);
    assert_string_equal(and->expr.op, "&&");
    assert_int_equal(and->expr.lhs->kind, SCRIPT_V_CALL);
    assert_string_equal(and->expr.lhs->call.name, "WIFEXITED");
    assert_string_equal(script_value_ident(and->expr.lhs->call.args[0]), "s");
    assert_int_equal(and->expr.rhs->kind, SCRIPT_V_EXPR);
    assert_string_equal(and->expr.rhs->expr.op, "==");
    assert_string_equal(and->expr.rhs->expr.lhs->call.name, "WEXITSTATUS");
    assert_int_equal(and->expr.rhs->expr.rhs->num.bits, 0);
    const struct script_value *envp = script_stmt_at(s, 1)->args[2];
    assert_int_equal(envp->kind, SCRIPT_V_INT);
    assert_string_equal(envp->comment, "37 vars");
    const struct script_value *st = script_stmt_at(s, 2)->args[2];
    assert_int_equal(st->fields.n, 3);
    assert_int_equal(st->fields.fields[1].value->kind, SCRIPT_V_CALL);
    assert_int_equal(st->fields.fields[1].value->call.n, 2);
    assert_int_equal(st->fields.fields[2].value->kind, SCRIPT_V_ELLIPSIS);
    assert_null(st->fields.fields[2].key);
    assert_int_equal(script_stmt_at(s, 3)->nargs, 1);
    const struct script_value *marker = script_stmt_at(s, 3)->args[0];
    assert_int_equal(marker->kind, SCRIPT_V_MARKER);
    assert_string_equal(marker->word, "... resuming interrupted read ...");
    script_free(s);
}

static void test_results(void **state)
{
    (void)state;
    struct script *s = parse_ok("brk(NULL) = 0x7f1234560000\n"
                                "mmap(NULL, 1) = -1 ENOMEM (Cannot allocate memory)\n"
                                "exit_group(0) = ?\n"
                                "openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY) = 3</etc/passwd>\n"
                                "getpid() = 1234 <0.000123>\n"
                                "fcntl(3, F_GETFL) = 0x8002 (flags O_RDWR|O_LARGEFILE)\n"
                                "rt_sigsuspend([], 8) = ? ERESTARTNOHAND (To be restarted if no handler)\n"
                                "access(\"x\", F_OK) = -1 ENOENT (No such file or directory) <0.000010>\n"
                                "touch 0x1000 = SIGSEGV(SEGV_MAPERR)\n"
                                "touch 0x1000 = SIGBUS\n"
                                "touch 0x1000 = ok # fine\n"
                                "kmalloc 64 = 0xffff888000001000\n");
    const struct script_result *r = &script_stmt_at(s, 0)->result;
    assert_int_equal(r->kind, SCRIPT_RESULT_VALUE);
    assert_int_equal(r->value->num.bits, 0x7f1234560000);
    r = &script_stmt_at(s, 1)->result;
    assert_int_equal(r->kind, SCRIPT_RESULT_ERROR);
    assert_int_equal((int64_t)r->value->num.bits, -1);
    assert_string_equal(r->errno_name, "ENOMEM");
    assert_string_equal(r->errno_text, "Cannot allocate memory");
    assert_int_equal(errno_from_name(r->errno_name), 12);
    r = &script_stmt_at(s, 2)->result;
    assert_int_equal(r->kind, SCRIPT_RESULT_UNKNOWN);
    assert_null(r->value);
    r = &script_stmt_at(s, 3)->result;
    assert_int_equal(r->value->kind, SCRIPT_V_FD);
    assert_string_equal(r->value->fd.path, "/etc/passwd");
    r = &script_stmt_at(s, 4)->result;
    assert_int_equal(r->value->num.bits, 1234);
    assert_string_equal(r->time, "0.000123");
    r = &script_stmt_at(s, 5)->result;
    assert_int_equal(r->kind, SCRIPT_RESULT_VALUE);
    assert_string_equal(r->extra, "flags O_RDWR|O_LARGEFILE");
    r = &script_stmt_at(s, 6)->result;
    assert_int_equal(r->kind, SCRIPT_RESULT_ERROR);
    assert_null(r->value);
    assert_string_equal(r->errno_name, "ERESTARTNOHAND");
    assert_int_equal(errno_from_name(r->errno_name), 514);
    r = &script_stmt_at(s, 7)->result;
    assert_string_equal(r->errno_name, "ENOENT");
    assert_string_equal(r->time, "0.000010");
    r = &script_stmt_at(s, 8)->result;
    assert_int_equal(r->value->kind, SCRIPT_V_CALL);
    assert_string_equal(r->value->call.name, "SIGSEGV");
    assert_string_equal(script_value_ident(r->value->call.args[0]), "SEGV_MAPERR");
    assert_string_equal(script_value_ident(script_stmt_at(s, 9)->result.value), "SIGBUS");
    assert_string_equal(script_value_ident(script_stmt_at(s, 10)->result.value), "ok");
    assert_int_equal(script_stmt_at(s, 11)->result.value->num.bits, 0xffff888000001000);
    script_free(s);
}

static void test_strace_decorations(void **state)
{
    (void)state;
    struct script *s = parse_ok("3761  +++ exited with 255 +++\n"
                                "[pid 9] +++ killed by SIGSEGV (core dumped) +++\n"
                                "+++ killed by SIGKILL +++\n"
                                "4013 +++ superseded by execve in pid 4014 +++\n"
                                "3972 --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---\n"
                                "3972 --- SIGSEGV (Segmentation fault) @ 0 (0) ---\n"
                                "strace: Process 1234 attached\n"
                                "[ Process PID=1234 runs in 32 bit mode. ]\n"
                                " > /usr/lib/libc.so.6(__mmap+0x2a) [0x11b9ea]\n");
    assert_int_equal(script_count(s), 9);
    assert_int_equal(script_stmt_at(s, 0)->kind, SCRIPT_EXITED);
    assert_int_equal(script_stmt_at(s, 0)->exit_status, 255);
    assert_int_equal(script_stmt_at(s, 1)->kind, SCRIPT_KILLED);
    assert_string_equal(script_stmt_at(s, 1)->name, "SIGSEGV");
    assert_true(script_stmt_at(s, 1)->core_dumped);
    assert_int_equal(script_stmt_at(s, 1)->pid, 9);
    assert_false(script_stmt_at(s, 2)->core_dumped);
    assert_int_equal(script_stmt_at(s, 2)->pid, -1);
    assert_int_equal(script_stmt_at(s, 3)->kind, SCRIPT_SUPERSEDED);
    assert_int_equal(script_stmt_at(s, 3)->exec_pid, 4014);
    const struct script_stmt *sig = script_stmt_at(s, 4);
    assert_int_equal(sig->kind, SCRIPT_SIGNAL);
    assert_string_equal(sig->name, "SIGSEGV");
    assert_int_equal(sig->nargs, 1);
    assert_string_equal(sig->args[0]->fields.fields[1].key, "si_code");
    assert_string_equal(script_value_ident(sig->args[0]->fields.fields[1].value), "SEGV_MAPERR");
    assert_int_equal(sig->args[0]->fields.fields[2].value->num.bits, 0x10);
    assert_int_equal(script_stmt_at(s, 5)->kind, SCRIPT_SKIP);
    assert_string_equal(script_stmt_at(s, 5)->text, "--- SIGSEGV (Segmentation fault) @ 0 (0) ---");
    assert_int_equal(script_stmt_at(s, 6)->kind, SCRIPT_SKIP);
    assert_int_equal(script_stmt_at(s, 7)->kind, SCRIPT_SKIP);
    assert_int_equal(script_stmt_at(s, 8)->kind, SCRIPT_SKIP);
    script_free(s);
}

static void test_unfinished_and_resumed_halves(void **state)
{
    (void)state;
    struct script *s = parse_ok("3760  rt_sigprocmask(SIG_SETMASK, [],  <unfinished ...>\n"
                                "3760  <... rt_sigprocmask resumed>~[KILL STOP RTMIN RT_1], 8) = 0\n"
                                "3972  <... clone3 resumed> => {parent_tid=[3973]}, 88) = 3973\n"
                                "4242 <... read resumed> <unfinished ...>) = ?\n"
                                "11 read(0,  <detached ...>\n");
    const struct script_stmt *u = script_stmt_at(s, 0), *r = script_stmt_at(s, 1);
    assert_int_equal(u->kind, SCRIPT_UNFINISHED);
    assert_string_equal(u->name, "rt_sigprocmask");
    assert_int_equal(u->nargs, 2);
    assert_string_equal(u->partial, "SIG_SETMASK, [],  ");
    assert_int_equal(u->partial_column, 22);
    assert_int_equal(r->kind, SCRIPT_RESUMED);
    assert_string_equal(r->partial, "~[KILL STOP RTMIN RT_1], 8");
    assert_int_equal(r->partial_column, 35);
    assert_int_equal(r->nargs, 2);
    const struct script_stmt *c = script_stmt_at(s, 2);
    assert_int_equal(c->args[0]->kind, SCRIPT_V_OUT);
    assert_null(c->args[0]->out.in);
    assert_format(c->args[0], "=> {parent_tid=[3973]}");
    assert_true(script_stmt_at(s, 3)->interrupted);
    assert_int_equal(script_stmt_at(s, 3)->partial_len, 0);
    assert_int_equal(script_stmt_at(s, 4)->kind, SCRIPT_UNFINISHED);
    script_free(s);
}

static void assert_sequence(const struct script *s, const char *const *expected, size_t n)
{
    char buf[4096];
    for (size_t i = 0; i < n && i < script_count(s); i++) {
        describe(script_stmt_at(s, i), buf, sizeof buf);
        if (strcmp(buf, expected[i]) != 0)
            fail_msg("statement %zu:\n got      %s\n expected %s", i, buf, expected[i]);
    }
    assert_int_equal(script_count(s), n);
}

/* Calls complete where they resumed; vfork keeps its start so that the child's
 * lines follow it; a call cut short by exit_group keeps "?". */
static void test_join_two_pids(void **state)
{
    (void)state;
    struct script *s = parse_joined(
        "100 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0 <unfinished ...>\n"
        "101 munmap(0x7f0000001000, 4096) = 0\n"
        "100 <... mmap resumed>) = 0x7f0000001000\n"
        "100 vfork( <unfinished ...>\n"
        "102 execve(\"/bin/true\", [\"true\"], 0x7ffc /* 0 vars */ <unfinished ...>\n"
        "100 <... vfork resumed>) = 102\n"
        "100 wait4(102,  <unfinished ...>\n"
        "102 <... execve resumed>) = 0\n"
        "102 exit_group(0) = ?\n"
        "102 +++ exited with 0 +++\n"
        "100 <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 102\n"
        "101 read(3,  <unfinished ...>\n"
        "100 exit_group(0) = ?\n"
        "101 <... read resumed> <unfinished ...>) = ?\n"
        "101 +++ exited with 0 +++\n"
        "100 +++ exited with 0 +++\n");
    static const char *const expected[] = {
        "SYSCALL pid=101 munmap(0x7f0000001000, 4096) = VALUE 0",
        "SYSCALL pid=100 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = VALUE 0x7f0000001000",
        "SYSCALL pid=100 vfork() = VALUE 102",
        "SYSCALL pid=102 execve(\"/bin/true\", [\"true\"], 0x7ffc /* 0 vars */) = VALUE 0",
        "SYSCALL pid=102 exit_group(0) = UNKNOWN",
        "EXITED pid=102 status=0",
        "SYSCALL pid=100 wait4(102, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = VALUE 102",
        "SYSCALL pid=100 exit_group(0) = UNKNOWN",
        "SYSCALL pid=101 read(3) = UNKNOWN interrupted",
        "EXITED pid=101 status=0",
        "EXITED pid=100 status=0",
    };
    assert_sequence(s, expected, sizeof expected / sizeof expected[0]);
    const struct script_stmt *mmap = script_stmt_at(s, 1);
    assert_true(mmap->joined);
    assert_int_equal(mmap->line, 1);
    assert_int_equal(mmap->column, 5);
    assert_int_equal(mmap->end_line, 3);
    assert_null(mmap->partial);
    assert_int_equal(script_stmt_at(s, 2)->line, 4);
    assert_int_equal(script_stmt_at(s, 6)->args[1]->kind, SCRIPT_V_ARRAY);
    assert_false(script_stmt_at(s, 0)->joined);
    script_free(s);
}

/* clone3's "=>" split; a call that never resumes; a thread's execve completing
 * under the leader's pid after "superseded"; a process killed inside a call. */
static void test_join_clone3_superseded_and_killed(void **state)
{
    (void)state;
    struct script *s = parse_joined(
        "200 clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0, stack=0x7f00, stack_size=0x8000} <unfinished ...>\n"
        "201 rseq(0x7f10, 0x20, 0, 0x53053053 <unfinished ...>\n"
        "200 <... clone3 resumed> => {parent_tid=[201]}, 88) = 201\n"
        "201 <... rseq resumed>) = 0\n"
        "200 futex(0x7f20, FUTEX_WAIT, 201, NULL <unfinished ...>\n"
        "201 execve(\"/bin/true\", [\"true\"], 0x7ffc /* 0 vars */ <unfinished ...>\n"
        "200 +++ superseded by execve in pid 201 +++\n"
        "200 <... execve resumed>) = 0\n"
        "200 nanosleep({tv_sec=1, tv_nsec=0},  <unfinished ...>\n"
        "200 +++ killed by SIGKILL +++\n");
    static const char *const expected[] = {
        ("SYSCALL pid=200 clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0, stack=0x7f00, "
         "stack_size=0x8000} => {parent_tid=[201]}, 88) = VALUE 201"),
        "SYSCALL pid=201 rseq(0x7f10, 0x20, 0, 0x53053053) = VALUE 0",
        "SYSCALL pid=200 futex(0x7f20, FUTEX_WAIT, 201, NULL) = UNKNOWN interrupted",
        "SUPERSEDED pid=200 exec_pid=201",
        "SYSCALL pid=200 execve(\"/bin/true\", [\"true\"], 0x7ffc /* 0 vars */) = VALUE 0",
        "SYSCALL pid=200 nanosleep({tv_sec=1, tv_nsec=0}) = UNKNOWN interrupted",
        "KILLED pid=200 SIGKILL()",
    };
    assert_sequence(s, expected, sizeof expected / sizeof expected[0]);
    const struct script_value *pair = script_stmt_at(s, 0)->args[0];
    assert_int_equal(pair->kind, SCRIPT_V_OUT);
    assert_int_equal(pair->out.in->fields.n, 4);
    assert_int_equal(script_stmt_at(s, 4)->line, 6);
    assert_int_equal(script_stmt_at(s, 4)->end_line, 8);
    script_free(s);
}

/* strace leaves the pid out while it traces one process (stderr output). */
static void test_join_without_pid_prefix(void **state)
{
    (void)state;
    struct script *s = parse_joined(
        "12:36:03 clock_nanosleep(CLOCK_REALTIME, 0, {tv_sec=0, tv_nsec=10000000},  <unfinished ...>\n"
        "[pid 301] 12:36:03 pause( <unfinished ...>\n"
        "[pid 300] 12:36:03 <... clock_nanosleep resumed>NULL) = 0\n"
        "[pid 300] 12:36:03 wait4(301,  <unfinished ...>\n"
        "[pid 301] 12:36:03 +++ killed by SIGKILL +++\n"
        "12:36:03 <... wait4 resumed>NULL, 0, NULL) = 301\n"
        "12:36:03 <... mmap resumed>) = 0x7f00\n");
    static const char *const expected[] = {
        "SYSCALL pid=301 ts=12:36:03 pause() = UNKNOWN interrupted",
        ("SYSCALL pid=300 ts=12:36:03 clock_nanosleep(CLOCK_REALTIME, 0, {tv_sec=0, tv_nsec=10000000}, "
         "NULL) = VALUE 0"),
        "KILLED pid=301 ts=12:36:03 SIGKILL()",
        "SYSCALL pid=300 ts=12:36:03 wait4(301, NULL, 0, NULL) = VALUE 301",
        "RESUMED pid=-1 ts=12:36:03 mmap() = VALUE 0x7f00 partial=[]",
    };
    assert_sequence(s, expected, sizeof expected / sizeof expected[0]);
    script_free(s);
}

static void test_join_errors(void **state)
{
    (void)state;
    expect_join_error("100 mmap(NULL <unfinished ...>\n100 <... brk resumed>) = 0\n",
                      "t.pgd:2:5: '<... brk resumed>' does not match the unfinished 'mmap' call of line 1");
    /* each half parses, the two together do not: the column is in the resumed line */
    expect_join_error("100 foo(1, 2 <unfinished ...>\n100 <... foo resumed> 3) = 0\n",
                      "t.pgd:2:23: expected ')' after arguments");
    expect_join_error("100 foo(\"a\" <unfinished ...>\n100 <... foo resumed>\"b\") = 0\n",
                      "t.pgd:2:22: expected ')' after arguments");
    /* a failed join leaves the script as it was */
    struct script *s = parse_ok("1 foo(1 <unfinished ...>\n1 <... bar resumed>) = 0\n");
    char err[256];
    assert_int_equal(script_join_resumed(s, err, sizeof err), -1);
    assert_int_equal(script_count(s), 2);
    assert_int_equal(script_stmt_at(s, 0)->kind, SCRIPT_UNFINISHED);
    script_free(s);
    assert_int_equal(script_join_resumed(NULL, err, sizeof err), -1);
}

/* ------------------------------------------------------- pagoda statements ---- */

static void assert_int_arg(const struct script_stmt *st, size_t i, uint64_t expected)
{
    assert_true(i < st->nargs);
    assert_non_null(st->args[i]);
    assert_int_equal(st->args[i]->kind, SCRIPT_V_INT);
    assert_int_equal(st->args[i]->num.bits, expected);
}

static void assert_word_arg(const struct script_stmt *st, size_t i, const char *expected)
{
    assert_true(i < st->nargs);
    assert_non_null(st->args[i]);
    assert_int_equal(st->args[i]->kind, SCRIPT_V_WORD);
    assert_string_equal(st->args[i]->word, expected);
}

static const struct script_stmt *pagoda(const struct script *s, size_t i, enum script_op op,
                                        size_t nargs)
{
    const struct script_stmt *st = script_stmt_at(s, i);
    assert_non_null(st);
    assert_int_equal(st->kind, SCRIPT_PAGODA);
    assert_int_equal(st->op, op);
    assert_string_equal(st->name, script_op_name(op));
    assert_int_equal(st->nargs, nargs);
    return st;
}

static void test_touch_write_read_fill(void **state)
{
    (void)state;
    struct script *s = parse_ok("touch 0x1000\n"
                                "touch 0x1000 2M w = SIGSEGV(SEGV_ACCERR)\n"
                                "touch 4096 x\n"
                                "1234 write 0x7f0000 \"A\\x42\\0C\" = ok\n"
                                "read 0x7f0000 4 = \"AB\\0C\"\n"
                                "fill 0x1000 4K 0xff = ok\n");
    const struct script_stmt *st = pagoda(s, 0, SCRIPT_OP_TOUCH, 3);
    assert_int_arg(st, 0, 0x1000);
    assert_null(st->args[1]);
    assert_null(st->args[2]);
    assert_int_equal(st->result.kind, SCRIPT_RESULT_NONE);
    st = pagoda(s, 1, SCRIPT_OP_TOUCH, 3);
    assert_int_arg(st, 1, 2u << 20);
    assert_word_arg(st, 2, "w");
    assert_string_equal(st->result.value->call.name, "SIGSEGV");
    st = pagoda(s, 2, SCRIPT_OP_TOUCH, 3);
    assert_int_arg(st, 0, 4096);
    assert_null(st->args[1]);
    assert_word_arg(st, 2, "x");
    st = pagoda(s, 3, SCRIPT_OP_WRITE, 2);
    assert_int_equal(st->pid, 1234);
    assert_int_equal(st->column, 6);
    assert_true(script_bytes_equal(st->args[1], "AB\0C", 4));
    st = pagoda(s, 4, SCRIPT_OP_READ, 2);
    assert_int_arg(st, 1, 4);
    assert_true(script_bytes_equal(st->result.value, "AB\0C", 4));
    st = pagoda(s, 5, SCRIPT_OP_FILL, 3);
    assert_int_arg(st, 1, 4096);
    assert_int_arg(st, 2, 0xff);
    script_free(s);
}

static void test_inspection_statements(void **state)
{
    (void)state;
    struct script *s = parse_ok("maps\nmaps ~stack\nsmaps\nsmaps 0x7fff0000\npagemap 0x1000\n"
                                "pagemap 0x1000 16\nwalk 0x7fff0000\ntlb\nstatus\nvmstat\nmeminfo\n");
    assert_null(pagoda(s, 0, SCRIPT_OP_MAPS, 1)->args[0]);
    assert_word_arg(pagoda(s, 1, SCRIPT_OP_MAPS, 1), 0, "~stack");
    assert_null(pagoda(s, 2, SCRIPT_OP_SMAPS, 1)->args[0]);
    assert_int_arg(pagoda(s, 3, SCRIPT_OP_SMAPS, 1), 0, 0x7fff0000);
    assert_null(pagoda(s, 4, SCRIPT_OP_PAGEMAP, 2)->args[1]);
    assert_int_arg(pagoda(s, 5, SCRIPT_OP_PAGEMAP, 2), 1, 16);
    assert_int_arg(pagoda(s, 6, SCRIPT_OP_WALK, 1), 0, 0x7fff0000);
    pagoda(s, 7, SCRIPT_OP_TLB, 0);
    pagoda(s, 8, SCRIPT_OP_STATUS, 0);
    pagoda(s, 9, SCRIPT_OP_VMSTAT, 0);
    pagoda(s, 10, SCRIPT_OP_MEMINFO, 0);
    script_free(s);
}

static void test_kernel_and_machine_statements(void **state)
{
    (void)state;
    struct script *s = parse_ok("kmalloc 64 = 0xffff888000001000\n"
                                "kfree 0xffff888000001000 = ok\n"
                                "vmalloc 1M\n"
                                "vfree 0xffffc90000000000\n"
                                "ktouch 0xffff888000001000 8 w = SIGSEGV(SEGV_MAPERR)\n"
                                "ktouch 0xffff888000001000 r\n"
                                "switch 1234 = ok\n"
                                "config ram=256M paging=5 thp=always tlb.l1d=64x4 seed=0x2a = ok\n");
    assert_int_arg(pagoda(s, 0, SCRIPT_OP_KMALLOC, 1), 0, 64);
    assert_int_arg(pagoda(s, 1, SCRIPT_OP_KFREE, 1), 0, 0xffff888000001000);
    assert_int_arg(pagoda(s, 2, SCRIPT_OP_VMALLOC, 1), 0, 1u << 20);
    assert_int_arg(pagoda(s, 3, SCRIPT_OP_VFREE, 1), 0, 0xffffc90000000000);
    const struct script_stmt *st = pagoda(s, 4, SCRIPT_OP_KTOUCH, 3);
    assert_int_arg(st, 1, 8);
    assert_word_arg(st, 2, "w");
    st = pagoda(s, 5, SCRIPT_OP_KTOUCH, 3);
    assert_null(st->args[1]);
    assert_word_arg(st, 2, "r");
    assert_int_arg(pagoda(s, 6, SCRIPT_OP_SWITCH, 1), 0, 1234);
    st = pagoda(s, 7, SCRIPT_OP_CONFIG, 5);
    static const char *const keys[] = {"ram", "paging", "thp", "tlb.l1d", "seed"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(st->args[i]->kind, SCRIPT_V_NAMED);
        assert_string_equal(st->args[i]->named.key, keys[i]);
    }
    assert_int_equal(st->args[0]->named.value->num.bits, 256u << 20);
    assert_int_equal(st->args[1]->named.value->num.bits, 5);
    assert_string_equal(st->args[2]->named.value->word, "always");
    assert_string_equal(st->args[3]->named.value->word, "64x4");
    assert_int_equal(st->args[4]->named.value->num.bits, 42);
    assert_string_equal(script_value_ident(st->result.value), "ok");
    script_free(s);
    assert_string_equal(script_op_name(SCRIPT_OP_LOAD_MAPS), "load-maps");
    assert_string_equal(script_op_name(SCRIPT_OP_NONE), "");
}

static void test_heredocs(void **state)
{
    (void)state;
    struct script *s = parse_ok(
        "1234 maps ~stack = <<END\r\n"
        "555555554000-555555556000 r--p 00000000 fe:00 247134    /usr/bin/cat  \r\n"
        "\r\n"
        "# not a comment \"x\n"
        "END\r\n"
        "load-maps <<MAPS = <<OUT\n"
        "00400000-00401000 r-xp 00000000 00:00 0 /bin/x\n"
        "MAPS\n"
        "OUT\n"
        "smaps 0x1000 = <<EOT\n"
        "EOT\n"
        "brk(NULL) = 0x1\n");
    assert_int_equal(script_count(s), 4);
    const struct script_stmt *m = pagoda(s, 0, SCRIPT_OP_MAPS, 1);
    assert_int_equal(m->result.kind, SCRIPT_RESULT_BLOCK);
    const struct script_value *b = m->result.value;
    assert_int_equal(b->kind, SCRIPT_V_BLOCK);
    assert_string_equal(b->block.terminator, "END");
    assert_int_equal(b->block.n, 3);
    assert_string_equal(b->block.lines[0],
                        "555555554000-555555556000 r--p 00000000 fe:00 247134    /usr/bin/cat  ");
    assert_string_equal(b->block.lines[1], "");
    assert_string_equal(b->block.lines[2], "# not a comment \"x");
    assert_int_equal(m->line, 1);
    assert_int_equal(m->end_line, 5);
    const struct script_stmt *l = pagoda(s, 1, SCRIPT_OP_LOAD_MAPS, 1);
    assert_int_equal(l->args[0]->kind, SCRIPT_V_BLOCK);
    assert_int_equal(l->args[0]->block.n, 1);
    assert_string_equal(l->args[0]->block.lines[0], "00400000-00401000 r-xp 00000000 00:00 0 /bin/x");
    assert_int_equal(l->result.value->block.n, 0);
    assert_int_equal(l->end_line, 9);
    assert_int_equal(pagoda(s, 2, SCRIPT_OP_SMAPS, 1)->result.value->block.n, 0);
    assert_int_equal(script_stmt_at(s, 3)->line, 12);
    script_free(s);
}

/* ------------------------------------------------------------------ errors ---- */

struct error_case {
    const char *text;
    const char *message;
};

static const struct error_case error_cases[] = {
    {"mmap(NULL, \"abc, 3) = 0", "t.pgd:1:12: unterminated string literal"},
    {"mmap(NULL, 4096 x) = 0", "t.pgd:1:17: expected ')' after arguments"},
    {"mmap(NULL, 4096", "t.pgd:1:16: expected ')' after arguments"},
    {"brk(NULL) = 0\nfrob 12", "t.pgd:2:1: unknown statement 'frob'"},
    {"mmap (NULL)", "t.pgd:1:1: unknown statement 'mmap' (a system call needs '(' right after its name)"},
    {"maps = <<END\nline\n", "t.pgd:1:8: heredoc 'END' never closed (opened here)"},
    {"\n\n  1 smaps = <<EOT\nEOT \n", "t.pgd:3:13: heredoc 'EOT' never closed (opened here)"},
    {"touch 0x1000 99999999999999999999", "t.pgd:1:14: number out of range"},
    {"touch", "t.pgd:1:6: missing ADDR for 'touch'"},
    {"touch 0x10 q", "t.pgd:1:12: unexpected argument 'q' for 'touch'"},
    {"touch 0x10 1 w 5", "t.pgd:1:16: unexpected argument '5' for 'touch'"},
    {"fill 0x10 1 256", "t.pgd:1:13: number out of range"},
    {"fill 0x10 1", "t.pgd:1:12: missing BYTE for 'fill'"},
    {"switch 3000000000", "t.pgd:1:8: number out of range"},
    {"read -1 4", "t.pgd:1:6: number out of range"},
    {"write 0x10 \"abc\"...", "t.pgd:1:17: unexpected text after argument"},
    {"write 0x10 abc", "t.pgd:1:12: expected \"bytes\" for 'write', got 'abc'"},
    {"maps!", "t.pgd:1:5: unexpected character after 'maps'"},
    {"tlb 5", "t.pgd:1:5: unexpected argument '5' for 'tlb'"},
    {"load-maps 5", "t.pgd:1:11: expected <<END for 'load-maps', got '5'"},
    {"load-maps <<", "t.pgd:1:13: expected a terminator word after '<<'"},
    {"config", "t.pgd:1:7: expected KEY=VALUE for 'config'"},
    {"config ram", "t.pgd:1:11: expected '=' after config key 'ram'"},
    {"config ram=", "t.pgd:1:12: expected a value after 'ram='"},
    {"config ram=99999999999999999999999", "t.pgd:1:12: number out of range"},
    {"1234 12:34 mmap()", "t.pgd:1:11: malformed timestamp"},
    {"1234 5678 mmap()", "t.pgd:1:6: malformed timestamp"},
    {"[pid 12 mmap()", "t.pgd:1:9: expected ']' after pid"},
    {"[pid 99999999999] mmap()", "t.pgd:1:6: number out of range"},
    {"1234", "t.pgd:1:5: expected a statement"},
    {"1234 )", "t.pgd:1:6: expected a statement"},
    {"+++ exited with x +++", "t.pgd:1:17: expected an exit status"},
    {"+++ exited with 0", "t.pgd:1:18: expected '+++' at end of line"},
    {"+++ something", "t.pgd:1:14: expected '+++' at end of line"},
    {"--- stopped", "t.pgd:1:12: expected '---' at end of line"},
    {"--- SIGSEGV {si_signo=SIGSEGV ---", "t.pgd:1:31: expected '}' after struct fields"},
    {"open(\"a\\q\")", "t.pgd:1:8: invalid escape sequence '\\q'"},
    {"open(\"a\\x\")", "t.pgd:1:8: invalid escape sequence '\\x'"},
    {"open(\"\\777\")", "t.pgd:1:7: octal escape out of range"},
    {"open(0x)", "t.pgd:1:8: expected a number"},
    {"open(08)", "t.pgd:1:7: invalid digit in octal number"},
    {"open(12ab)", "t.pgd:1:8: invalid character in number"},
    {"open(1</a)", "t.pgd:1:7: expected '>' to end the fd path"},
    {"open(/* x)", "t.pgd:1:6: unterminated comment"},
    {"open([1, 2)", "t.pgd:1:11: expected ']' after array elements"},
    {"open({a=1)", "t.pgd:1:10: expected '}' after struct fields"},
    {"open(1, )", "t.pgd:1:9: expected a value"},
    {"open(~[A ,B])", "t.pgd:1:10: expected ']' after signal set"},
    {"open(<... x)", "t.pgd:1:6: expected '>' to end '<...'"},
    {"open(a|\"s\")", "t.pgd:1:8: expected an identifier or number"},
    {"open(1<<\"x\")", "t.pgd:1:9: expected an identifier or number"},
    {"mmap() = ", "t.pgd:1:10: expected a result after '='"},
    {"mmap() = 0 (abc", "t.pgd:1:12: unterminated '(' in result"},
    {"mmap() = 0 junk", "t.pgd:1:12: unexpected text after the result"},
    {"mmap() = 0 <0.1", "t.pgd:1:12: expected '>' after the -T time"},
    {"mmap() junk", "t.pgd:1:8: expected '=' or end of line after ')'"},
    {"mmap(NULL, <unfinished ...> x", "t.pgd:1:29: unexpected text after '<unfinished ...>'"},
    {"<... mmap resumed) = 0", "t.pgd:1:11: expected 'resumed>'"},
    {"<... 5", "t.pgd:1:6: expected a system call name after '<...'"},
    {"touch 0x1 = <<END junk\nEND", "t.pgd:1:19: unexpected text after the result"},
    {"load-maps <<A <<B <<C", "t.pgd:1:15: unexpected argument '<<B' for 'load-maps'"},
};

static void test_error_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++)
        expect_parse_error(error_cases[i].text, error_cases[i].message);
}

static void test_nesting_limit(void **state)
{
    (void)state;
    char deep[512], ok[512];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "f(");
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    expect_parse_error(deep, "t.pgd:1:67: nesting too deep");
    /* 63 levels inside the call's own parentheses are fine */
    n = (size_t)snprintf(ok, sizeof ok, "f(");
    for (int i = 0; i < 63; i++)
        ok[n++] = '[';
    ok[n++] = '1';
    for (int i = 0; i < 63; i++)
        ok[n++] = ']';
    ok[n++] = ')';
    ok[n] = '\0';
    script_free(parse_ok(ok));
    char chain[1024];
    n = (size_t)snprintf(chain, sizeof chain, "f(");
    for (int i = 0; i < 70; i++)
        n += (size_t)snprintf(chain + n, sizeof chain - n, "a && ");
    snprintf(chain + n, sizeof chain - n, "a)");
    expect_parse_error(chain, "t.pgd:1:325: nesting too deep");
}

static void test_error_buffer_handling(void **state)
{
    (void)state;
    struct script *s = NULL;
    char small[12];
    assert_int_equal(script_parse("file.pgd", "frob", 4, &s, small, sizeof small), -1);
    assert_string_equal(small, "file.pgd:1:");
    assert_int_equal(script_parse("file.pgd", "frob", 4, &s, NULL, 0), -1);
    assert_int_equal(script_parse(NULL, "frob", 4, &s, small, sizeof small), -1);
    assert_string_equal(small, "<script>:1:");
    assert_int_equal(script_parse("f", NULL, 3, &s, small, sizeof small), -1);
    assert_int_equal(script_parse("f", "x", 1, NULL, small, sizeof small), -1);
    assert_int_equal(script_parse("f", NULL, 0, &s, small, sizeof small), 0);
    assert_int_equal(script_count(s), 0);
    script_free(s);
    script_free(NULL);
    /* text that is not NUL-terminated and holds NUL bytes */
    char raw[] = {'b', 'r', 'k', '(', ')', ' ', '=', ' ', '0', '\n', 'x', '(', '\0', ')'};
    char err[128];
    assert_int_equal(script_parse("f", raw, sizeof raw, &s, err, sizeof err), -1);
    assert_string_equal(err, "f:2:3: expected a value");
    assert_int_equal(script_parse("f", raw, 9, &s, err, sizeof err), 0);
    assert_int_equal(script_count(s), 1);
    script_free(s);
}

/* ------------------------------------------------------------- formatting ---- */

static void test_format_values(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "f(NULL, -1, 0x7f00, 0644, 2M, \"a\\tb\\0001\\33x\"..., [1, 2, ...], {a=1, b=[]}, c=~[RTMIN RT_1], "
        "3</lib/x.so>, AT_FDCWD</tmp>, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], {x=1} => {y=[2]}, "
        "[8 => 4], A|B|1<<C|2*3, 0x7ffe /* 37 vars */, <... resuming interrupted read ...>, [0 1])",
    };
    struct script *s = parse_ok(lines[0]);
    const struct script_stmt *st = only(s);
    char buf[2048];
    struct text t = {buf, sizeof buf, 0};
    for (size_t i = 0; i < st->nargs; i++) {
        add(&t, i ? ", " : "");
        add_value(&t, st->args[i]);
    }
    assert_string_equal(buf,
                        "NULL, -1, 0x7f00, 0644, 2M, \"a\\tb\\0001\\33x\"..., [1, 2, ...], {a=1, b=[]}, "
                        "c=~[RTMIN RT_1], 3</lib/x.so>, AT_FDCWD</tmp>, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], "
                        "{x=1} => {y=[2]}, [8 => 4], A|B|1<<C|2*3, 0x7ffe /* 37 vars */, "
                        "<... resuming interrupted read ...>, [0 1]");
    /* snprintf-like truncation */
    char tiny[6];
    assert_int_equal(script_value_format(st->args[1], tiny, sizeof tiny), 2);
    assert_string_equal(tiny, "-1");
    assert_int_equal(script_value_format(st->args[7], tiny, sizeof tiny), 11);
    assert_string_equal(tiny, "{a=1,");
    assert_int_equal(script_value_format(st->args[7], NULL, 0), 11);
    assert_int_equal(script_value_format(NULL, tiny, sizeof tiny), 1);
    assert_string_equal(tiny, "?");
    script_free(s);
    s = parse_ok("config thp=never\nmaps = <<END\nEND\n");
    assert_format(script_stmt_at(s, 0)->args[0], "thp=never");
    assert_format(script_stmt_at(s, 1)->result.value, "<<END");
    script_free(s);
}

/* ---------------------------------------------------------------- errnos ---- */

static void test_errno_names(void **state)
{
    (void)state;
#define X(e) {e, #e}
    static const struct {
        int number;
        const char *name;
    } all[] = {
        X(EPERM), X(ENOENT), X(ESRCH), X(EINTR), X(EIO), X(ENXIO), X(E2BIG), X(ENOEXEC), X(EBADF),
        X(ECHILD), X(EAGAIN), X(ENOMEM), X(EACCES), X(EFAULT), X(ENOTBLK), X(EBUSY), X(EEXIST),
        X(EXDEV), X(ENODEV), X(ENOTDIR), X(EISDIR), X(EINVAL), X(ENFILE), X(EMFILE), X(ENOTTY),
        X(ETXTBSY), X(EFBIG), X(ENOSPC), X(ESPIPE), X(EROFS), X(EMLINK), X(EPIPE), X(EDOM),
        X(ERANGE), X(EDEADLK), X(ENAMETOOLONG), X(ENOLCK), X(ENOSYS), X(ENOTEMPTY), X(ELOOP),
        X(ENOMSG), X(EIDRM), X(ECHRNG), X(EL2NSYNC), X(EL3HLT), X(EL3RST), X(ELNRNG), X(EUNATCH),
        X(ENOCSI), X(EL2HLT), X(EBADE), X(EBADR), X(EXFULL), X(ENOANO), X(EBADRQC), X(EBADSLT),
        X(EBFONT), X(ENOSTR), X(ENODATA), X(ETIME), X(ENOSR), X(ENONET), X(ENOPKG), X(EREMOTE),
        X(ENOLINK), X(EADV), X(ESRMNT), X(ECOMM), X(EPROTO), X(EMULTIHOP), X(EDOTDOT), X(EBADMSG),
        X(EOVERFLOW), X(ENOTUNIQ), X(EBADFD), X(EREMCHG), X(ELIBACC), X(ELIBBAD), X(ELIBSCN),
        X(ELIBMAX), X(ELIBEXEC), X(EILSEQ), X(ERESTART), X(ESTRPIPE), X(EUSERS), X(ENOTSOCK),
        X(EDESTADDRREQ), X(EMSGSIZE), X(EPROTOTYPE), X(ENOPROTOOPT), X(EPROTONOSUPPORT),
        X(ESOCKTNOSUPPORT), X(EOPNOTSUPP), X(EPFNOSUPPORT), X(EAFNOSUPPORT), X(EADDRINUSE),
        X(EADDRNOTAVAIL), X(ENETDOWN), X(ENETUNREACH), X(ENETRESET), X(ECONNABORTED),
        X(ECONNRESET), X(ENOBUFS), X(EISCONN), X(ENOTCONN), X(ESHUTDOWN), X(ETOOMANYREFS),
        X(ETIMEDOUT), X(ECONNREFUSED), X(EHOSTDOWN), X(EHOSTUNREACH), X(EALREADY), X(EINPROGRESS),
        X(ESTALE), X(EUCLEAN), X(ENOTNAM), X(ENAVAIL), X(EISNAM), X(EREMOTEIO), X(EDQUOT),
        X(ENOMEDIUM), X(EMEDIUMTYPE), X(ECANCELED), X(ENOKEY), X(EKEYEXPIRED), X(EKEYREVOKED),
        X(EKEYREJECTED), X(EOWNERDEAD), X(ENOTRECOVERABLE), X(ERFKILL), X(EHWPOISON),
    };
#undef X
    assert_int_equal(sizeof all / sizeof all[0], 131);
    int named = 0;
    for (int n = 1; n <= 133; n++)
        named += errno_name(n) != NULL;
    assert_int_equal(named, 131); /* every number but 41 and 58 */
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        assert_int_equal(errno_from_name(all[i].name), all[i].number);
        assert_string_equal(errno_name(all[i].number), all[i].name);
    }
    assert_int_equal(ENOMEM, 12);
    assert_string_equal(errno_name(12), "ENOMEM");
    assert_int_equal(errno_from_name("EWOULDBLOCK"), 11);
    assert_string_equal(errno_name(11), "EAGAIN");
    assert_int_equal(errno_from_name("EDEADLOCK"), 35);
    assert_int_equal(errno_from_name("ENOTSUP"), 95);
    assert_int_equal(errno_from_name("ERESTARTSYS"), 512);
    assert_string_equal(errno_name(516), "ERESTART_RESTARTBLOCK");
    assert_null(errno_name(0));
    assert_null(errno_name(41));
    assert_null(errno_name(58));
    assert_null(errno_name(134));
    assert_null(errno_name(-12));
    assert_int_equal(errno_from_name("EFROB"), -1);
    assert_int_equal(errno_from_name(NULL), -1);
}

/* ------------------------------------------------------------- real logs ---- */

static char *read_data_file(const char *name, size_t *len)
{
    char path[512];
    const char *here = __FILE__, *slash = strrchr(here, '/');
    FILE *f = NULL;
    snprintf(path, sizeof path, "tests/data/%s", name);
    f = fopen(path, "rb");
    if (!f && slash) {
        snprintf(path, sizeof path, "%.*s/data/%s", (int)(slash - here), here, name);
        f = fopen(path, "rb");
    }
    if (!f)
        fail_msg("cannot open tests/data/%s", name);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(size > 0);
    char *buf = malloc((size_t)size); /* exact size: no terminator to lean on */
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static size_t count_nonblank_lines(const char *text, size_t len)
{
    size_t n = 0;
    bool blank = true;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            n += !blank;
            blank = true;
        } else if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r') {
            blank = false;
        }
    }
    return n + !blank;
}

/* Every line of committed `strace -f` logs parses, each into one statement, and
 * every split call finds its other half. */
static void test_real_logs(void **state)
{
    (void)state;
    static const char *const logs[] = {
        "ls.strace", "threads-tt-T-yy.strace", "memory-tt-T.strace",
        "exec-thread-ttt-y.strace", "stderr-pid-t-T-x.strace", "relative-r-i-n.strace",
    };
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        size_t len;
        char *text = read_data_file(logs[i], &len);
        struct script *s = NULL;
        char err[256];
        if (script_parse(logs[i], text, len, &s, err, sizeof err) != 0)
            fail_msg("%s", err);
        assert_int_equal(script_count(s), count_nonblank_lines(text, len));
        size_t split = 0, syscalls = 0;
        for (size_t k = 0; k < script_count(s); k++)
            split += script_stmt_at(s, k)->kind == SCRIPT_UNFINISHED;
        assert_true(script_join_resumed(s, err, sizeof err) == 0);
        for (size_t k = 0; k < script_count(s); k++) {
            const struct script_stmt *st = script_stmt_at(s, k);
            assert_int_not_equal(st->kind, SCRIPT_UNFINISHED);
            assert_int_not_equal(st->kind, SCRIPT_RESUMED);
            assert_int_not_equal(st->kind, SCRIPT_PAGODA);
            syscalls += st->kind == SCRIPT_SYSCALL && st->joined;
        }
        assert_int_equal(syscalls, split);
        assert_true(split > 0);
        script_free(s);
        free(text);
    }
}

/* ------------------------------------------------------ allocation failure ---- */

static void test_out_of_memory(void **state)
{
    (void)state;
    const char *text = "1 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0 <unfinished ...>\n"
                       "2 clone3({flags=CLONE_VM} => {parent_tid=[3]}, 88) = 3\n"
                       "1 <... mmap resumed>) = 0x7f00\n"
                       "maps = <<END\na\nb\nEND\nconfig ram=1G thp=never\n";
    char err[256];
    size_t failures = 0;
    for (size_t k = 1;; k++) {
        struct script *s = NULL;
        arena_fail_countdown = k;
        int rc = script_parse("t.pgd", text, strlen(text), &s, err, sizeof err);
        arena_fail_countdown = 0;
        if (rc == 0) {
            script_free(s);
            break;
        }
        assert_null(s);
        assert_non_null(strstr(err, "out of memory"));
        failures++;
    }
    assert_true(failures > 10);
    for (size_t k = 1;; k++) {
        struct script *s = parse_ok(text);
        arena_fail_countdown = k;
        int rc = script_join_resumed(s, err, sizeof err);
        arena_fail_countdown = 0;
        if (rc == 0) {
            assert_int_equal(script_stmt_at(s, 1)->kind, SCRIPT_SYSCALL);
            assert_true(script_stmt_at(s, 1)->joined);
            script_free(s);
            break;
        }
        assert_non_null(strstr(err, "out of memory"));
        assert_int_equal(script_stmt_at(s, 0)->kind, SCRIPT_UNFINISHED); /* left as it was */
        script_free(s);
    }
}

/* -------------------------------------------------------------------- fuzz ---- */

static uint64_t fuzz_state = 0x9e3779b97f4a7c15u;

static uint64_t fuzz_next(void)
{
    fuzz_state ^= fuzz_state << 13;
    fuzz_state ^= fuzz_state >> 7;
    fuzz_state ^= fuzz_state << 17;
    return fuzz_state;
}

static size_t fuzz_below(size_t n)
{
    return n ? (size_t)(fuzz_next() % n) : 0;
}

/* One random edit of buf[0..*len) (capacity cap). */
static void mutate(char *buf, size_t *len, size_t cap)
{
    static const char interesting[] = "()[]{}<>=|,\"\\ .-~0x9aZE/*#?!&@\n\r\t";
    size_t at = fuzz_below(*len + 1);
    char c = fuzz_below(4) ? interesting[fuzz_below(sizeof interesting - 1)] : (char)fuzz_below(256);
    switch (fuzz_below(5)) {
    case 0: /* replace */
        if (at < *len)
            buf[at] = c;
        break;
    case 1: /* insert */
        if (*len < cap) {
            memmove(buf + at + 1, buf + at, *len - at);
            buf[at] = c;
            (*len)++;
        }
        break;
    case 2: { /* delete a run */
        size_t n = fuzz_below(8) + 1;
        if (at + n > *len)
            n = *len - at;
        memmove(buf + at, buf + at + n, *len - at - n);
        *len -= n;
        break;
    }
    case 3: { /* duplicate a run */
        size_t from = fuzz_below(*len + 1), n = fuzz_below(16);
        if (from + n > *len)
            n = *len - from;
        if (*len + n <= cap) {
            memmove(buf + at + n, buf + at, *len - at);
            memmove(buf + at, buf + (from < at ? from : from + n), n);
            *len += n;
        }
        break;
    }
    default: /* truncate */
        *len = at;
        break;
    }
}

/* The error is "fuzz.pgd:LINE:COLUMN: message" with LINE and COLUMN inside the text. */
static void check_error_position(const char *err, const char *text, size_t len)
{
    unsigned line, column;
    int used = 0;
    if (sscanf(err, "fuzz.pgd:%u:%u: %n", &line, &column, &used) != 2 || used == 0 || !err[used])
        fail_msg("malformed error '%s'", err);
    size_t start = 0, current = 1;
    while (current < line && start < len) {
        const char *nl = memchr(text + start, '\n', len - start);
        if (!nl)
            fail_msg("error '%s' names a line past the end", err);
        start = (size_t)(nl - text) + 1;
        current++;
    }
    assert_int_equal(current, line);
    const char *nl = start < len ? memchr(text + start, '\n', len - start) : NULL;
    size_t line_len = (nl ? (size_t)(nl - text) : len) - start;
    assert_true(column >= 1 && column <= line_len + 1);
}

static void fuzz_one(const char *seed, size_t seed_len)
{
    enum { CAP = 1024 };
    char work[CAP];
    size_t len = seed_len < CAP ? seed_len : CAP;
    memcpy(work, seed, len);
    for (size_t m = fuzz_below(4) + 1; m > 0; m--)
        mutate(work, &len, CAP);
    char *text = malloc(len ? len : 1); /* exact size, so ASan sees any overread */
    assert_non_null(text);
    memcpy(text, work, len);
    struct script *s = NULL;
    char err[256];
    if (script_parse("fuzz.pgd", text, len, &s, err, sizeof err) == 0) {
        assert_non_null(s);
        if (script_join_resumed(s, err, sizeof err) != 0)
            check_error_position(err, text, len);
        for (size_t i = 0; i < script_count(s); i++) {
            const struct script_stmt *st = script_stmt_at(s, i);
            char out[48];
            for (size_t a = 0; a < st->nargs; a++)
                script_value_format(st->args[a], out, sizeof out);
            script_value_format(st->result.value, out, sizeof out);
        }
        script_free(s);
    } else {
        assert_null(s);
        check_error_position(err, text, len);
    }
    free(text);
}

/* Thousands of random mutations of valid lines: always a result or a positioned
 * error, never a crash or an out-of-bounds read (run it under ASan). */
static void test_fuzz_mutations(void **state)
{
    (void)state;
    static const char *const extra_seeds[] = {
        "maps ~stack = <<END\n5555-6666 r--p 00000000 fe:00 1 /bin/cat\nEND\n",
        "load-maps <<END\n00400000-00401000 r-xp 00000000 00:00 0\nEND\n",
        "touch 0x1000 2M w = SIGSEGV(SEGV_MAPERR)\nwrite 0x10 \"A\\x42\\0\" = ok\nfill 0x1 4K 255\n",
        "config ram=256M thp=always tlb.l2=1536x12\nswitch 12 = ok\nktouch 0xffff8880 8 r = SIGBUS\n",
        "100 vfork( <unfinished ...>\n101 exit_group(0) = ?\n100 <... vfork resumed>) = 101\n",
        "1 foo(1, <unfinished ...>\n2 +++ superseded by execve in pid 1 +++\n2 <... foo resumed>2) = 0\n",
    };
    size_t nreal = sizeof real_lines / sizeof real_lines[0];
    size_t nextra = sizeof extra_seeds / sizeof extra_seeds[0];
    for (int i = 0; i < 40000; i++) {
        size_t pick = fuzz_below(nreal + nextra);
        const char *seed = pick < nreal ? real_lines[pick].line : extra_seeds[pick - nreal];
        fuzz_one(seed, strlen(seed));
    }
}


/* strace's comment on unknown bits inside a flag set. */
static void test_comment_inside_flag_set(void **state)
{
    const char *text = "mmap(0x7ffff7bf3000, 8192, PROT_READ|PROT_EXEC, 0xf /* MAP_??? */|MAP_FIXED, -1, 0) = -1 EBADF (Bad file descriptor)\n";
    struct script *s = NULL;
    char err[256] = "";
    assert_int_equal(script_parse("t", text, strlen(text), &s, err, sizeof(err)), 0);
    const struct script_stmt *st = script_stmt_at(s, 0);
    char buf[128];
    script_value_format(st->args[3], buf, sizeof(buf));
    assert_string_equal(buf, "0xf|MAP_FIXED");
    script_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comment_inside_flag_set),
        cmocka_unit_test(test_real_strace_lines),
        cmocka_unit_test(test_line_and_column),
        cmocka_unit_test(test_flag_sets_and_shifts),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_fd_decorations),
        cmocka_unit_test(test_sigsets),
        cmocka_unit_test(test_clone_named_args_and_clone3_out),
        cmocka_unit_test(test_wait_status_calls_and_comments),
        cmocka_unit_test(test_results),
        cmocka_unit_test(test_strace_decorations),
        cmocka_unit_test(test_unfinished_and_resumed_halves),
        cmocka_unit_test(test_join_two_pids),
        cmocka_unit_test(test_join_clone3_superseded_and_killed),
        cmocka_unit_test(test_join_without_pid_prefix),
        cmocka_unit_test(test_join_errors),
        cmocka_unit_test(test_touch_write_read_fill),
        cmocka_unit_test(test_inspection_statements),
        cmocka_unit_test(test_kernel_and_machine_statements),
        cmocka_unit_test(test_heredocs),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_error_buffer_handling),
        cmocka_unit_test(test_format_values),
        cmocka_unit_test(test_errno_names),
        cmocka_unit_test(test_real_logs),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_fuzz_mutations),
    };
    return cmocka_run_group_tests_name("script", tests, NULL, NULL);
}
