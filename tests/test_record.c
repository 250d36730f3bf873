/*
 * tests/test_record.c - `pagoda record` (src/cli/record.c): real programs traced on
 * the host, their logs checked line by line, parsed with pagoda's own parser, and
 * compared with what strace records for the same programs.
 *
 * The recorder and the parser live in src/cli, which the build links only into the
 * pagoda binary, so the test compiles those sources in directly under private names
 * (as tests/test_script.c does).  The helper programs in tests/record/ are compiled
 * with the host's cc when a test first needs them.  No frames are involved, so there
 * is no physical-memory leak audit; ASan builds check the heap.
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
#define record_main test_copy_record_main

#include "cli/errno_names.c"
#include "cli/record.c"
#include "cli/script.c"
#include "cli/script_value.c"

#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

extern char **environ;

#define MAX_PROCS 32

/* ---------------------------------------------------------------- helpers ---- */

static char tmp_dir[] = "/tmp/pagoda-test-record-XXXXXX";
static bool tmp_made;

static void remove_tmp_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp_dir);
}

/* A path in this run's private directory (created on first use, removed at exit). */
static const char *tmp_path(const char *name)
{
    static char paths[16][256];
    static unsigned next;
    if (!tmp_made) {
        assert_non_null(mkdtemp(tmp_dir));
        tmp_made = true;
        atexit(remove_tmp_dir);
    }
    char *p = paths[next++ % 16];
    snprintf(p, sizeof paths[0], "%s/%s", tmp_dir, name);
    return p;
}

/* tests/record/NAME.c, found next to this file. */
static void source_path(char *out, size_t len, const char *name)
{
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__) : 1;
    snprintf(out, len, "%.*s/record/%s.c", dir, slash ? __FILE__ : ".", name);
}

/* The helper program NAME, compiled with the host's cc on first use. */
static const char *helper(const char *name)
{
    const char *bin = tmp_path(name);
    if (access(bin, X_OK) == 0)
        return bin;
    char src[512], cmd[1200];
    source_path(src, sizeof src, name);
    if (access(src, R_OK) != 0)
        fail_msg("%s not found: run the tests from the source tree's root", src);
    snprintf(cmd, sizeof cmd, "cc -O1 -pthread -o '%s' '%s'", bin, src);
    if (system(cmd) != 0)
        fail_msg("could not compile %s", src);
    return bin;
}

/* The whole file as a NUL-terminated heap string. */
static char *slurp(const char *path)
{
    struct strbuf sb = {0};
    if (!read_file(path, &sb))
        fail_msg("cannot read %s", path);
    return sb.data;
}

/* Run `record -o LOG -- PROGRAM...` in this process with the program's stdout
 * thrown away; returns record_main's status. */
static int record_to(const char *log, const char *const *program)
{
    const char *argv[32] = {"record", "-o", log, "--"};
    int argc = 4;
    for (size_t i = 0; program[i]; i++)
        argv[argc++] = program[i];
    argv[argc] = NULL;
    fflush(stdout);
    int saved = fcntl(1, F_DUPFD_CLOEXEC, 3), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    dup2(devnull, 1);
    close(devnull);
    int rc = record_main(argc, (char **)argv);
    dup2(saved, 1);
    close(saved);
    return rc;
}

/* Is `line` one of the lines of text? */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

/* Lines of text starting with `prefix`. */
static int count_prefix(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, prefix, len))
            n++;
    return n;
}

/* Lines of text that contain `needle`. */
static int count_containing(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p = strchr(p, '\n'))
        n++;
    return n;
}

static const char *line_at(const char *p);
static const char *next_line(const char *p);

/* Lines of text matching the extended regular expression `pattern`. */
static int count_matching(const char *text, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int n = 0;
    for (const char *p = text; *p; p = next_line(p))
        n += regexec(&re, line_at(p), 0, NULL, 0) == 0;
    regfree(&re);
    return n;
}

/* The first line (without newline) at or after p; static storage. */
static const char *line_at(const char *p)
{
    static char line[4096];
    size_t n = strcspn(p, "\n");
    if (n >= sizeof line)
        n = sizeof line - 1;
    memcpy(line, p, n);
    line[n] = '\0';
    return line;
}

/* The line after the one p points into. */
static const char *next_line(const char *p)
{
    const char *nl = strchr(p, '\n');
    return nl ? nl + 1 : p + strlen(p);
}

/* Every "PID maps ~stack = <<END" block: its lines have /proc/PID/maps's format and
 * it is followed by END.  Returns the number of blocks. */
static int check_maps_blocks(const char *log)
{
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^[0-9a-f]{8,16}-[0-9a-f]{8,16} [r-][w-][x-][ps] [0-9a-f]{8} "
                             "[0-9a-f]{2,3}:[0-9a-f]{2,3} [0-9]+ *( [^ ].*)?$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    int blocks = 0;
    for (const char *p = strstr(log, " maps ~stack = <<END\n"); p;
         p = strstr(p, " maps ~stack = <<END\n")) {
        blocks++;
        int lines = 0;
        for (p = next_line(p); strncmp(p, "END\n", 4) != 0; p = next_line(p)) {
            assert_true(*p != '\0');
            if (regexec(&re, line_at(p), 0, NULL, 0) != 0)
                fail_msg("not a maps line: '%s'", line_at(p));
            lines++;
        }
        assert_true(lines > 0);
    }
    regfree(&re);
    return blocks;
}

/* The log parses with pagoda's parser, split calls join, and nothing is left that
 * the runner would not read.  Returns the parsed script. */
static struct script *parse_log(const char *log)
{
    struct script *s = NULL;
    char err[512];
    if (script_parse("record.log", log, strlen(log), &s, err, sizeof err) != 0)
        fail_msg("the log does not parse: %s", err);
    if (script_join_resumed(s, err, sizeof err) != 0)
        fail_msg("the log does not join: %s", err);
    for (size_t i = 0; i < script_count(s); i++) {
        const struct script_stmt *st = script_stmt_at(s, i);
        assert_true(st->pid > 0);
        assert_true(st->kind != SCRIPT_UNFINISHED && st->kind != SCRIPT_RESUMED);
    }
    return s;
}

/* Parse, and check the block of every maps statement against the log's format. */
static void parse_and_check(const char *log, int expected_maps_blocks)
{
    struct script *s = parse_log(log);
    int maps = 0;
    for (size_t i = 0; i < script_count(s); i++) {
        const struct script_stmt *st = script_stmt_at(s, i);
        if (st->kind != SCRIPT_PAGODA)
            continue;
        assert_int_equal(st->op, SCRIPT_OP_MAPS);
        assert_non_null(st->args[0]);
        assert_string_equal(st->args[0]->word, "~stack");
        assert_int_equal(st->result.kind, SCRIPT_RESULT_BLOCK);
        assert_true(st->result.value->block.n > 0);
        maps++;
    }
    assert_int_equal(maps, expected_maps_blocks);
    assert_int_equal(check_maps_blocks(log), expected_maps_blocks);
    script_free(s);
}

/* Bytes of the environment strings with their NULs. */
static unsigned long environ_bytes(int *count)
{
    unsigned long bytes = 0;
    *count = 0;
    for (char **e = environ; *e; e++, (*count)++)
        bytes += strlen(*e) + 1;
    return bytes;
}

/* The pid of the first line (the traced program's). */
static int first_pid(const char *log)
{
    const char *p = log;
    while (*p == '#')
        p = next_line(p);
    return atoi(p);
}

/* ------------------------------------------------------------ formatting ---- */

static const char *format_with(void (*printer)(struct strbuf *, uint64_t), uint64_t v)
{
    static struct strbuf sb;
    sb_clear(&sb);
    printer(&sb, v);
    return sb.data;
}

static void test_formats_like_strace(void **state)
{
    (void)state;
    assert_string_equal(format_with(put_prot, 0), "PROT_NONE");
    assert_string_equal(format_with(put_prot, 0x10000003), "PROT_READ|PROT_WRITE|0x10000000");
    assert_string_equal(format_with(put_map_flags, 0x22), "MAP_PRIVATE|MAP_ANONYMOUS");
    assert_string_equal(format_with(put_map_flags, 0x20), "MAP_FILE|MAP_ANONYMOUS");
    assert_string_equal(format_with(put_map_flags, 0x2f), "0xf /* MAP_??? */|MAP_ANONYMOUS");
    assert_string_equal(format_with(put_map_flags, 0x22 | 0x40000 | (21u << 26)),
                        "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|21<<MAP_HUGE_SHIFT");
    assert_string_equal(format_with(put_map_flags, 0x22 | 0x200000 | (1u << 26)),
                        "MAP_PRIVATE|MAP_ANONYMOUS|0x200000|1<<MAP_HUGE_SHIFT");
    assert_string_equal(format_with(put_open_flags, 02000000), "O_RDONLY|O_CLOEXEC");
    assert_string_equal(format_with(put_open_flags, 04010002 | 010000000), "O_RDWR|O_SYNC|O_PATH");
    assert_string_equal(format_with(put_open_flags, 020200001), "O_WRONLY|O_TMPFILE");
    assert_string_equal(format_with(put_open_flags, 0x40000000), "O_RDONLY|0x40000000");
    assert_string_equal(format_with(put_persona, 0x40000), "PER_LINUX|ADDR_NO_RANDOMIZE");
    assert_string_equal(format_with(put_persona, 0xffffffff), "0xffffffff");
    assert_string_equal(format_with(put_persona, 0x400001), "0x1 /* PER_??? */|READ_IMPLIES_EXEC");
    assert_string_equal(format_with(put_signal, 11), "SIGSEGV");
    assert_string_equal(format_with(put_signal, 33), "SIGRT_1");
    assert_string_equal(format_with(put_clone_flags, 0x1200011),
                        "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD");

    struct strbuf sb = {0};
    put_string(&sb, "a\tb\"\\\001\0012\377\n", 10);
    assert_string_equal(sb.data, "\"a\\tb\\\"\\\\\\1\\0012\\377\\n\"");
    sb_clear(&sb);
    put_flags(&sb, 6, mlock2_flags, COUNT(mlock2_flags), "MLOCK_");
    assert_string_equal(sb.data, "0x6 /* MLOCK_??? */");
    sb_clear(&sb);
    put_error(&sb, 12);
    assert_string_equal(sb.data, "-1 ENOMEM (Cannot allocate memory)");
    sb_clear(&sb);
    put_error(&sb, 512);
    assert_string_equal(sb.data, "? ERESTARTSYS (To be restarted if SA_RESTART is set)");
    sb_clear(&sb);
    put_wait_status(&sb, 3 << 8);
    assert_string_equal(sb.data, "{WIFEXITED(s) && WEXITSTATUS(s) == 3}");
    sb_clear(&sb);
    put_wait_status(&sb, SIGSEGV | 0x80);
    assert_string_equal(sb.data, "{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}");
    sb_free(&sb);
}

/* ------------------------------------------------------------------ usage ---- */

static void test_usage_errors(void **state)
{
    (void)state;
    char *none[] = {"record", NULL};
    char *no_file[] = {"record", "-o", NULL};
    char *bad_option[] = {"record", "-x", "true", NULL};
    char *no_program[] = {"record", "-o", "/dev/null", "--", NULL};
    char *missing[] = {"record", "-o", "/dev/null", "/nonexistent/program", NULL};
    char *not_in_path[] = {"record", "-o", "/dev/null", "no-such-program-pagoda", NULL};
    assert_int_equal(record_main(1, none), 2);
    assert_int_equal(record_main(2, no_file), 2);
    assert_int_equal(record_main(3, bad_option), 2);
    assert_int_equal(record_main(4, no_program), 2);
    assert_int_equal(record_main(4, missing), 127);
    assert_int_equal(record_main(4, not_in_path), 127);
}

/* ------------------------------------------------------------- programs ---- */

static void test_true(void **state)
{
    (void)state;
    const char *log_path = tmp_path("true.log");
    assert_int_equal(record_to(log_path, (const char *[]){"/bin/true", NULL}), 0);
    char *log = slurp(log_path);
    int pid = first_pid(log);
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    char expect[1024];
    const char *p = log;
    assert_string_equal(line_at(p), "# pagoda record: /bin/true");
    snprintf(expect, sizeof expect, "# host kernel: %s", u.release);
    assert_string_equal(line_at(p = next_line(p)), expect);
    snprintf(expect, sizeof expect, "%d personality(PER_LINUX|ADDR_NO_RANDOMIZE) = ", pid);
    assert_memory_equal(line_at(p = next_line(p)), expect, strlen(expect));

    int vars;
    unsigned long bytes = environ_bytes(&vars) + sizeof "/bin/true";
    snprintf(expect, sizeof expect, "%d execve(\"/bin/true\", [\"/bin/true\"], 0x", pid);
    const char *exec_line = line_at(p = next_line(p));
    assert_memory_equal(exec_line, expect, strlen(expect));
    snprintf(expect, sizeof expect, " /* %d var%s; argv and envp strings: %lu bytes */) = 0", vars,
             vars == 1 ? "" : "s", bytes);
    assert_string_equal(exec_line + strlen(exec_line) - strlen(expect), expect);
    snprintf(expect, sizeof expect, "%d brk(NULL) = 0x", pid);
    assert_memory_equal(line_at(p = next_line(p)), expect, strlen(expect));

    snprintf(expect, sizeof expect, "END\n%d exit_group(0) = ?\n%d +++ exited with 0 +++\n", pid, pid);
    assert_string_equal(log + strlen(log) - strlen(expect), expect);
    snprintf(expect, sizeof expect, "%d maps ~stack = <<END", pid);
    assert_true(has_line(log, expect));
    snprintf(expect, sizeof expect, "%d munmap(0x7ffff7fb5000, 41495) = 0", pid);
    assert_true(has_line(log, expect)); /* ld.so.cache goes where randomization is off */
    parse_and_check(log, 1);
    free(log);
}

/* Without a '/', PROGRAM is found in PATH and execve shows the full path. */
static void test_path_search(void **state)
{
    (void)state;
    const char *log_path = tmp_path("path.log");
    assert_int_equal(record_to(log_path, (const char *[]){"true", NULL}), 0);
    char *log = slurp(log_path);
    char expect[128];
    snprintf(expect, sizeof expect, "%d execve(\"/", first_pid(log));
    const char *exec = strstr(log, expect);
    assert_non_null(exec);
    assert_non_null(strstr(line_at(exec), "/true\", [\"true\"], 0x"));
    parse_and_check(log, 1);
    free(log);
}

static void test_exit_status_propagates(void **state)
{
    (void)state;
    const char *log_path = tmp_path("exit7.log");
    assert_int_equal(record_to(log_path, (const char *[]){"/bin/sh", "-c", "exit 7", NULL}), 7);
    char *log = slurp(log_path);
    assert_string_equal(line_at(log), "# pagoda record: /bin/sh -c \"exit 7\"");
    char expect[64];
    snprintf(expect, sizeof expect, "%d +++ exited with 7 +++", first_pid(log));
    assert_true(has_line(log, expect));
    parse_and_check(log, 1);
    free(log);

    log_path = tmp_path("kill.log");
    assert_int_equal(record_to(log_path, (const char *[]){"/bin/sh", "-c", "kill -SEGV $$", NULL}),
                     128 + SIGSEGV);
    log = slurp(log_path);
    int pid = first_pid(log);
    snprintf(expect, sizeof expect, "%d --- SIGSEGV {si_signo=SIGSEGV, si_code=SI_USER, si_pid=%d,",
             pid, pid);
    assert_int_equal(count_prefix(log, expect), 1);
    snprintf(expect, sizeof expect, "END\n%d +++ killed by SIGSEGV", pid);
    assert_non_null(strstr(log, expect)); /* the maps come right before the end */
    parse_and_check(log, 1);
    free(log);
}

/* Known calls, one failing, each logged exactly as the helper expects; its final
 * maps equal the logged block byte for byte. */
static void test_mm_calls_exact(void **state)
{
    (void)state;
    const char *bin = helper("mm_calls");
    const char *log_path = tmp_path("mm.log"), *out_path = tmp_path("mm.out");
    assert_int_equal(record_to(log_path, (const char *[]){bin, out_path, NULL}), 3);
    char *log = slurp(log_path), *out = slurp(out_path);
    int pid = first_pid(log);
    char line[1024];
    char *maps = strstr(out, "MAPS\n");
    assert_non_null(maps);
    *maps = '\0';
    int checked = 0;
    for (const char *p = out; *p; p = next_line(p), checked++) {
        snprintf(line, sizeof line, "%d %s", pid, line_at(p));
        if (!has_line(log, line))
            fail_msg("missing from the log: '%s'", line);
    }
    assert_int_equal(checked, 16);
    snprintf(line, sizeof line, "%d munmap(0x1001, 4096) = -1 EINVAL (Invalid argument)", pid);
    assert_true(has_line(log, line));

    snprintf(line, sizeof line, "%d maps ~stack = <<END\n", pid);
    const char *block = strstr(log, line);
    assert_non_null(block);
    block += strlen(line);
    const char *proc_maps = maps + strlen("MAPS\n");
    assert_memory_equal(block, proc_maps, strlen(proc_maps));
    snprintf(line, sizeof line, "END\n%d exit_group(3) = ?\n%d +++ exited with 3 +++\n", pid, pid);
    assert_string_equal(block + strlen(proc_maps), line);
    parse_and_check(log, 1);
    free(log);
    free(out);
}

/* The tids the log's clone3 calls created. */
static int clone3_children(const char *log, int *tids, int max)
{
    int n = 0;
    for (const char *p = strstr(log, " clone3({"); p && n < max; p = strstr(p + 1, " clone3({")) {
        const char *line = line_at(p);
        const char *eq = strrchr(line, '=');
        assert_non_null(strstr(line, "CLONE_THREAD"));
        tids[n++] = atoi(eq + 1);
    }
    return n;
}

/* Every line the helper wrote to out is in the log as is. */
static void assert_lines_in_log(const char *out, const char *log, int expected)
{
    int n = 0;
    for (const char *p = out; *p; p = next_line(p), n++)
        if (!has_line(log, line_at(p)))
            fail_msg("missing from the log: '%s'", line_at(p));
    assert_int_equal(n, expected);
}

static void test_threads(void **state)
{
    (void)state;
    const char *bin = helper("threads");
    const char *log_path = tmp_path("threads.log"), *out_path = tmp_path("threads.out");
    assert_int_equal(record_to(log_path, (const char *[]){bin, "mm", out_path, NULL}), 0);
    char *log = slurp(log_path), *out = slurp(out_path);
    int pid = first_pid(log), tids[8];
    assert_int_equal(clone3_children(log, tids, 8), 4);
    assert_lines_in_log(out, log, 8);
    char line[128];
    for (int i = 0; i < 4; i++) {
        snprintf(line, sizeof line, "%d exit(0) = ?", tids[i]);
        assert_true(has_line(log, line));
        snprintf(line, sizeof line, "%d +++ exited with 0 +++", tids[i]);
        assert_true(has_line(log, line));
        snprintf(line, sizeof line, "%d mmap(NULL, %d, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS",
                 tids[i], 65536 * (i + 1));
        assert_non_null(strstr(out, line)); /* thread i made region i */
    }
    snprintf(line, sizeof line, "END\n%d exit_group(0) = ?\n", pid);
    assert_non_null(strstr(log, line));
    snprintf(line, sizeof line, "%d +++ exited with 0 +++\n", pid); /* the leader is reaped last */
    assert_string_equal(log + strlen(log) - strlen(line), line);
    parse_and_check(log, 1);
    free(log);
    free(out);
}

/* A thread that is not the leader executes a program: the leader is superseded and
 * the exec completes under the leader's id. */
static void test_exec_from_thread(void **state)
{
    (void)state;
    const char *bin = helper("threads");
    const char *log_path = tmp_path("exec.log");
    assert_int_equal(record_to(log_path, (const char *[]){bin, "exec", tmp_path("exec.out"), NULL}), 0);
    char *log = slurp(log_path);
    int pid = first_pid(log), tid;
    assert_int_equal(clone3_children(log, &tid, 1), 1);
    char line[256];
    snprintf(line, sizeof line,
             "%d +++ superseded by execve in pid %d +++\n%d execve(\"/bin/true\", [\"true\"], 0x", pid,
             tid, pid);
    assert_non_null(strstr(log, line));
    assert_int_equal(count_containing(log, "execve("), 2);
    assert_int_equal(count_containing(log, "argv and envp strings: "), 2);
    snprintf(line, sizeof line, "%d ", tid);
    assert_int_equal(count_prefix(log, line), 0); /* the thread itself logged nothing */
    parse_and_check(log, 1);
    free(log);
}

/* The leader leaves first with exit(0); the process ends with its last thread's
 * exit, and only there do its maps appear. */
static void test_last_thread_exit(void **state)
{
    (void)state;
    const char *bin = helper("threads");
    const char *log_path = tmp_path("last.log"), *out_path = tmp_path("last.out");
    assert_int_equal(record_to(log_path, (const char *[]){bin, "lastexit", out_path, NULL}), 0);
    char *log = slurp(log_path), *out = slurp(out_path);
    int pid = first_pid(log), tid;
    assert_int_equal(clone3_children(log, &tid, 1), 1);
    assert_lines_in_log(out, log, 1);
    char line[128];
    snprintf(line, sizeof line, "%d exit(0) = ?", pid);
    assert_true(has_line(log, line));
    snprintf(line, sizeof line, "END\n%d exit(0) = ?\n%d +++ exited with 0 +++\n", tid, tid);
    assert_non_null(strstr(log, line));
    snprintf(line, sizeof line, "%d +++ exited with 0 +++\n", pid);
    assert_string_equal(log + strlen(log) - strlen(line), line);
    parse_and_check(log, 1);
    free(log);
    free(out);
}

/* A thread's fault kills the process: the signal, the maps, then every thread's end. */
static void test_killed_by_fault(void **state)
{
    (void)state;
    const char *bin = helper("threads");
    const char *log_path = tmp_path("segv.log");
    assert_int_equal(record_to(log_path, (const char *[]){bin, "segv", tmp_path("segv.out"), NULL}),
                     128 + SIGSEGV);
    char *log = slurp(log_path);
    int pid = first_pid(log), tid;
    assert_int_equal(clone3_children(log, &tid, 1), 1);
    char line[128];
    snprintf(line, sizeof line, "%d --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x8} ---",
             tid);
    assert_true(has_line(log, line));
    const char *end = strstr(log, "\nEND\n");
    assert_non_null(end);
    assert_true(end > strstr(log, line));
    assert_int_equal(count_containing(end, "+++ killed by SIGSEGV"), 2);
    snprintf(line, sizeof line, "%d +++ killed by SIGSEGV", pid);
    assert_int_equal(count_prefix(end + 1, line), 1);
    parse_and_check(log, 1);
    free(log);
}

/* fork + exec + pipe: three processes, each with its maps, its end and its waits. */
static void test_shell_pipeline(void **state)
{
    (void)state;
    const char *log_path = tmp_path("pipe.log");
    assert_int_equal(record_to(log_path, (const char *[]){"/bin/sh", "-c", "echo hi | cat\n", NULL}), 0);
    char *log = slurp(log_path);
    assert_string_equal(line_at(log), "# pagoda record: /bin/sh -c \"echo hi | cat\\n\"");
    assert_int_equal(count_containing(log, " clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|"
                                           "CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x"),
                     2);
    assert_int_equal(count_containing(log, " +++ exited with 0 +++"), 3);
    assert_int_equal(count_containing(log, " exit_group(0) = ?"), 3);
    assert_int_equal(count_containing(log, " wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = "), 2);
    assert_int_equal(count_matching(log, "^[0-9]+ execve\\(\"/[^\"]*/cat\", \\[\"cat\"\\], "
                                         "0x[0-9a-f]+ /\\* [0-9]+ vars; argv and envp strings: [0-9]+ bytes \\*/\\) = 0$"),
                     1);
    parse_and_check(log, 3);
    free(log);
}

static void test_ls(void **state)
{
    (void)state;
    const char *log_path = tmp_path("ls.log");
    assert_int_equal(record_to(log_path, (const char *[]){"/bin/ls", "/", NULL}), 0);
    char *log = slurp(log_path);
    assert_true(count_containing(log, " mmap(") > 10);
    parse_and_check(log, 1);
    free(log);
}

/* ------------------------------------------------------- versus strace ---- */

static const char *const memory_calls[] = {
    "mmap", "munmap", "mprotect", "mremap", "brk", "madvise", "mlock", "mlock2", "munlock",
    "mlockall", "munlockall", "msync", "mincore", "pkey_mprotect", "remap_file_pages", "shmat",
    "shmdt",
};

/* The memory system calls of a log, one text per process (joined strace halves,
 * column padding removed). */
struct call_sets {
    int pid[MAX_PROCS];
    struct strbuf calls[MAX_PROCS], pending[MAX_PROCS];
    size_t n;
};

static size_t proc_index(struct call_sets *s, int pid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->pid[i] == pid)
            return i;
    assert_true(s->n < MAX_PROCS);
    s->pid[s->n] = pid;
    return s->n++;
}

static bool is_memory_call(const char *body)
{
    size_t n = strcspn(body, "(");
    for (size_t i = 0; i < COUNT(memory_calls); i++)
        if (strlen(memory_calls[i]) == n && !strncmp(body, memory_calls[i], n) && body[n] == '(')
            return true;
    return false;
}

/* body with strace's padding between ")" and "=" squeezed to one space. */
static void append_squeezed(struct strbuf *sb, const char *body)
{
    const char *pad = strstr(body, ")  ");
    while (pad && pad[strspn(pad + 1, " ") + 1] != '=')
        pad = strstr(pad + 1, ")  ");
    if (!pad) {
        sb_puts(sb, body);
    } else {
        sb_add(sb, body, (size_t)(pad - body) + 1);
        sb_puts(sb, " ");
        sb_puts(sb, pad + 1 + strspn(pad + 1, " "));
    }
    sb_putc(sb, '\n');
}

/* Collect the calls of a log after its `skip_execs`-th successful execve. */
static void collect_calls(const char *text, int skip_execs, struct call_sets *s)
{
    for (const char *p = text; *p; p = next_line(p)) {
        char line[4096];
        snprintf(line, sizeof line, "%s", line_at(p));
        char *body = line;
        int pid = (int)strtol(line, &body, 10);
        body += strspn(body, " ");
        if (skip_execs > 0) {
            size_t len = strlen(body);
            if (!strncmp(body, "execve(", 7) && len > 4 && !strcmp(body + len - 4, " = 0"))
                skip_execs--;
            continue;
        }
        size_t i = proc_index(s, pid);
        char *unfinished = strstr(body, " <unfinished ...>");
        if (unfinished) {
            sb_clear(&s->pending[i]);
            sb_add(&s->pending[i], body, (size_t)(unfinished - body));
            continue;
        }
        struct strbuf joined = {0};
        if (!strncmp(body, "<... ", 5)) {
            char *rest = strstr(body, "resumed>");
            assert_non_null(rest);
            sb_puts(&joined, s->pending[i].data ? s->pending[i].data : "");
            sb_puts(&joined, rest + strlen("resumed>"));
            body = joined.data;
        }
        if (body && is_memory_call(body))
            append_squeezed(&s->calls[i], body);
        sb_free(&joined);
    }
}

static int compare_texts(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return strcmp(x ? x : "", y ? y : "");
}

/* The per-process call texts, sorted (process ids differ between runs). */
static size_t sorted_sets(struct call_sets *s, const char **out)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->calls[i].len)
            out[n++] = s->calls[i].data;
    qsort(out, n, sizeof *out, compare_texts);
    return n;
}

static void free_sets(struct call_sets *s)
{
    for (size_t i = 0; i < s->n; i++) {
        sb_free(&s->calls[i]);
        sb_free(&s->pending[i]);
    }
}

/* Record argv with pagoda and with `strace -f -e trace=%memory setarch -R`: each
 * process makes the same memory calls with the same results. */
static void compare_with_strace(const char *name, const char *const *argv)
{
    const char *ours = tmp_path("ours.log"), *theirs = tmp_path("strace.log");
    int rc = record_to(ours, argv);
    char cmd[2048];
    int n = snprintf(cmd, sizeof cmd, "strace -f -qq -o '%s' -e trace=%%memory,execve setarch -R", theirs);
    for (size_t i = 0; argv[i]; i++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " '%s'", argv[i]);
    snprintf(cmd + n, sizeof cmd - (size_t)n, " >/dev/null 2>&1");
    int status = system(cmd);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), rc);

    char *a = slurp(ours), *b = slurp(theirs);
    struct call_sets sa, sb;
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    collect_calls(a, 1, &sa);
    collect_calls(b, 2, &sb); /* setarch's own exec first */
    const char *ta[MAX_PROCS], *tb[MAX_PROCS];
    size_t na = sorted_sets(&sa, ta), nb = sorted_sets(&sb, tb);
    assert_true(na > 0);
    if (na != nb)
        fail_msg("%s: %zu processes with memory calls, strace saw %zu", name, na, nb);
    for (size_t i = 0; i < na; i++)
        if (strcmp(ta[i], tb[i]) != 0)
            fail_msg("%s: calls differ from strace's:\n--- pagoda record\n%s--- strace\n%s", name,
                     ta[i], tb[i]);
    free_sets(&sa);
    free_sets(&sb);
    free(a);
    free(b);
}

static void test_same_calls_as_strace(void **state)
{
    (void)state;
    if (system("strace -V >/dev/null 2>&1") != 0 || system("setarch -R true 2>/dev/null") != 0) {
        print_message("strace or setarch -R unavailable: skipped\n");
        skip();
    }
    compare_with_strace("true", (const char *[]){"/bin/true", NULL});
    compare_with_strace("ls", (const char *[]){"/bin/ls", "/", NULL});
    compare_with_strace("mm_calls", (const char *[]){helper("mm_calls"), tmp_path("cmp.out"), NULL});
    compare_with_strace("pipe", (const char *[]){"/bin/sh", "-c", "echo hi | cat", NULL});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats_like_strace),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_true),
        cmocka_unit_test(test_path_search),
        cmocka_unit_test(test_exit_status_propagates),
        cmocka_unit_test(test_mm_calls_exact),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_exec_from_thread),
        cmocka_unit_test(test_last_thread_exit),
        cmocka_unit_test(test_killed_by_fault),
        cmocka_unit_test(test_shell_pipeline),
        cmocka_unit_test(test_ls),
        cmocka_unit_test(test_same_calls_as_strace),
    };
    return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
