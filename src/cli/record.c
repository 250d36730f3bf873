/*
 * cli/record.c - `pagoda record`: run a real program under ptrace and log its
 * memory-relevant system calls in pagoda's script language.
 *
 * The recorder forks; the child asks to be traced (PTRACE_TRACEME), stops itself,
 * turns address-space randomization off with personality() and executes the
 * program, so the log starts with the traced personality() and execve() lines just
 * as `strace -f setarch -R PROGRAM` shows them.  Every process and thread the
 * program creates is traced too (PTRACE_O_TRACEFORK/VFORK/CLONE).  System calls are
 * read with PTRACE_GET_SYSCALL_INFO at their entry and exit stops.
 *
 * Line discipline: each call is written as ONE complete line when it returns, in the
 * order the calls return; there are no "<unfinished ...>" halves.  Two exceptions
 * keep the log causal: clone, clone3, fork and vfork are written at their ptrace
 * creation event (before the new task runs at all, because new tasks are held
 * stopped until their creator's line is out), and exit/exit_group at their entry,
 * since they never return.
 *
 * Where a process ends (exit_group, the exit of its last thread, or death by a
 * signal seen at PTRACE_EVENT_EXIT), its real /proc maps are written first, while
 * its memory still exists:  "PID maps ~stack = <<END" ... "END".
 */
#include "cli/record.h"

#include "cli/errno_names.h"
#include "hw/bug.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ constants ---- */

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_mseal
#define SYS_mseal 462
#endif

#define AUDIT_ARCH_X86_64_VALUE 0xc000003eu
#define PR_SET_VMA_VALUE 0x53564d41u
#define F_DUPFD_VALUE 0
#define F_DUPFD_CLOEXEC_VALUE 1030
#define PAGE_BYTES 4096u
#define MINCORE_SHOWN 32            /* strace shows at most this many mincore entries */
#define STRING_LIMIT (1u << 20)     /* longest string read from a tracee */
#define CLONE_ARGS_SIZE_VER0 64     /* smallest struct clone_args the kernel accepts */

#define CL_PIDFD 0x1000u
#define CL_THREAD 0x10000u
#define CL_SETTLS 0x80000u
#define CL_PARENT_SETTID 0x100000u
#define CL_CHILD_CLEARTID 0x200000u
#define CL_CHILD_SETTID 0x1000000u
#define CL_INTO_CGROUP 0x200000000ull

#define TRACE_OPTIONS                                                                    \
    (PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |                  \
     PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* struct clone_args of <linux/sched.h>, version 2 (88 bytes). */
struct clone3_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    uint64_t set_tid, set_tid_size, cgroup;
};

/* ------------------------------------------------------------- strbuf ---- */

/* A growable text; `failed` records an allocation failure (the text is then cut). */
struct strbuf {
    char *data;
    size_t len, cap;
    bool failed;
};

/* Room for `extra` more bytes plus a NUL; false (and failed set) when out of memory. */
static bool sb_reserve(struct strbuf *sb, size_t extra)
{
    if (sb->failed)
        return false;
    if (sb->cap - sb->len > extra)
        return true;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap - sb->len <= extra) {
        if (cap > SIZE_MAX / 2)
            return sb->failed = true, false;
        cap *= 2;
    }
    char *data = realloc(sb->data, cap);
    if (!data)
        return sb->failed = true, false;
    sb->data = data;
    sb->cap = cap;
    return true;
}

static void sb_add(struct strbuf *sb, const char *s, size_t n)
{
    if (!sb_reserve(sb, n))
        return;
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

static void sb_puts(struct strbuf *sb, const char *s)
{
    sb_add(sb, s, strlen(s));
}

static void sb_putc(struct strbuf *sb, char c)
{
    sb_add(sb, &c, 1);
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        sb_add(sb, small, (size_t)n);
        return;
    }
    if (!sb_reserve(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

static void sb_clear(struct strbuf *sb)
{
    sb->len = 0;
    sb->failed = false;
    if (sb->data)
        sb->data[0] = '\0';
}

static void sb_free(struct strbuf *sb)
{
    free(sb->data);
    *sb = (struct strbuf){0};
}

/* ----------------------------------------------------- tracee memory ---- */

/* Copy len bytes at addr of tid's memory; false unless all of them could be read. */
static bool read_mem(pid_t tid, uint64_t addr, void *buf, size_t len)
{
    struct iovec local = {buf, len};
    struct iovec remote = {(void *)(uintptr_t)addr, len};
    return process_vm_readv(tid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

/* The NUL-terminated string at addr in tid's memory (heap, caller frees), its length
 * without the NUL in *len; NULL when not even its first byte is readable.  It is read
 * up to each page end in turn, so a string ending just before an unmapped page reads
 * fine.  A string with no NUL within STRING_LIMIT bytes is cut there. */
static char *read_string(pid_t tid, uint64_t addr, size_t *len)
{
    struct strbuf sb = {0};
    for (;;) {
        size_t chunk = PAGE_BYTES - (size_t)(addr % PAGE_BYTES);
        if (!sb_reserve(&sb, chunk))
            break;
        if (!read_mem(tid, addr, sb.data + sb.len, chunk))
            break;
        char *nul = memchr(sb.data + sb.len, '\0', chunk);
        if (nul) {
            sb.len = (size_t)(nul - sb.data);
            *len = sb.len;
            return sb.data;
        }
        sb.len += chunk;
        addr += chunk;
        if (sb.len >= STRING_LIMIT) {
            sb.data[sb.len] = '\0';
            *len = sb.len;
            return sb.data;
        }
    }
    sb_free(&sb);
    return NULL;
}

/* ------------------------------------------------------------- names ---- */

struct flag_name {
    uint64_t value;
    const char *name;
};

static const struct flag_name prot_flags[] = {
    {0x1, "PROT_READ"},  {0x2, "PROT_WRITE"},           {0x4, "PROT_EXEC"},
    {0x8, "PROT_SEM"},   {0x01000000, "PROT_GROWSDOWN"}, {0x02000000, "PROT_GROWSUP"},
};

static const struct flag_name map_types[] = {
    {0x0, "MAP_FILE"},
    {0x1, "MAP_SHARED"},
    {0x2, "MAP_PRIVATE"},
    {0x3, "MAP_SHARED_VALIDATE"},
    {0x8, "MAP_DROPPABLE"},
};

/* In the order strace prints them. */
static const struct flag_name map_flags[] = {
    {0x10, "MAP_FIXED"},        {0x20, "MAP_ANONYMOUS"},     {0x40, "MAP_32BIT"},
    {0x4000, "MAP_NORESERVE"},  {0x8000, "MAP_POPULATE"},    {0x10000, "MAP_NONBLOCK"},
    {0x100, "MAP_GROWSDOWN"},   {0x800, "MAP_DENYWRITE"},    {0x1000, "MAP_EXECUTABLE"},
    {0x2000, "MAP_LOCKED"},     {0x20000, "MAP_STACK"},      {0x40000, "MAP_HUGETLB"},
    {0x80000, "MAP_SYNC"},      {0x100000, "MAP_FIXED_NOREPLACE"}, {0x80, "MAP_ABOVE4G"},
};

static const struct flag_name mremap_flags[] = {
    {1, "MREMAP_MAYMOVE"},
    {2, "MREMAP_FIXED"},
    {4, "MREMAP_DONTUNMAP"},
};

static const struct flag_name madv_names[] = {
    {0, "MADV_NORMAL"},          {1, "MADV_RANDOM"},          {2, "MADV_SEQUENTIAL"},
    {3, "MADV_WILLNEED"},        {4, "MADV_DONTNEED"},        {8, "MADV_FREE"},
    {9, "MADV_REMOVE"},          {10, "MADV_DONTFORK"},       {11, "MADV_DOFORK"},
    {12, "MADV_MERGEABLE"},      {13, "MADV_UNMERGEABLE"},    {14, "MADV_HUGEPAGE"},
    {15, "MADV_NOHUGEPAGE"},     {16, "MADV_DONTDUMP"},       {17, "MADV_DODUMP"},
    {18, "MADV_WIPEONFORK"},     {19, "MADV_KEEPONFORK"},     {20, "MADV_COLD"},
    {21, "MADV_PAGEOUT"},        {22, "MADV_POPULATE_READ"},  {23, "MADV_POPULATE_WRITE"},
    {24, "MADV_DONTNEED_LOCKED"}, {25, "MADV_COLLAPSE"},      {100, "MADV_HWPOISON"},
    {101, "MADV_SOFT_OFFLINE"},  {102, "MADV_GUARD_INSTALL"}, {103, "MADV_GUARD_REMOVE"},
};

static const struct flag_name mlock2_flags[] = {{1, "MLOCK_ONFAULT"}};

static const struct flag_name mlockall_flags[] = {
    {1, "MCL_CURRENT"},
    {2, "MCL_FUTURE"},
    {4, "MCL_ONFAULT"},
};

static const struct flag_name msync_flags[] = {
    {1, "MS_ASYNC"},
    {2, "MS_INVALIDATE"},
    {4, "MS_SYNC"},
};

static const struct flag_name shmget_flags[] = {
    {01000, "IPC_CREAT"},
    {02000, "IPC_EXCL"},
    {04000, "SHM_HUGETLB"},
    {010000, "SHM_NORESERVE"},
};

static const struct flag_name shmat_flags[] = {
    {010000, "SHM_RDONLY"},
    {020000, "SHM_RND"},
    {040000, "SHM_REMAP"},
    {0100000, "SHM_EXEC"},
};

static const struct flag_name open_access[] = {
    {0, "O_RDONLY"},
    {1, "O_WRONLY"},
    {2, "O_RDWR"},
    {3, "O_ACCMODE"},
};

/* strace's order; multi-bit names (O_SYNC, O_TMPFILE) come before their parts.
 * FASYNC is written O_ASYNC, the name pagoda's ABI table knows. */
static const struct flag_name open_flags[] = {
    {0100, "O_CREAT"},        {0200, "O_EXCL"},          {0400, "O_NOCTTY"},
    {01000, "O_TRUNC"},       {02000, "O_APPEND"},       {04000, "O_NONBLOCK"},
    {04010000, "O_SYNC"},     {010000, "O_DSYNC"},       {040000, "O_DIRECT"},
    {0100000, "O_LARGEFILE"}, {0400000, "O_NOFOLLOW"},   {01000000, "O_NOATIME"},
    {02000000, "O_CLOEXEC"},  {010000000, "O_PATH"},     {020200000, "O_TMPFILE"},
    {0200000, "O_DIRECTORY"}, {020000, "O_ASYNC"},
};

static const struct flag_name cloexec_flag[] = {{02000000, "O_CLOEXEC"}};

static const struct flag_name close_range_flags[] = {
    {2, "CLOSE_RANGE_UNSHARE"},
    {4, "CLOSE_RANGE_CLOEXEC"},
};

static const struct flag_name at_flags[] = {
    {0x100, "AT_SYMLINK_NOFOLLOW"}, {0x400, "AT_SYMLINK_FOLLOW"}, {0x800, "AT_NO_AUTOMOUNT"},
    {0x1000, "AT_EMPTY_PATH"},      {0x8000, "AT_RECURSIVE"},
};

static const struct flag_name clone_flags[] = {
    {0x80, "CLONE_NEWTIME"},           {0x100, "CLONE_VM"},
    {0x200, "CLONE_FS"},               {0x400, "CLONE_FILES"},
    {0x800, "CLONE_SIGHAND"},          {0x1000, "CLONE_PIDFD"},
    {0x2000, "CLONE_PTRACE"},          {0x4000, "CLONE_VFORK"},
    {0x8000, "CLONE_PARENT"},          {0x10000, "CLONE_THREAD"},
    {0x20000, "CLONE_NEWNS"},          {0x40000, "CLONE_SYSVSEM"},
    {0x80000, "CLONE_SETTLS"},         {0x100000, "CLONE_PARENT_SETTID"},
    {0x200000, "CLONE_CHILD_CLEARTID"}, {0x400000, "CLONE_DETACHED"},
    {0x800000, "CLONE_UNTRACED"},      {0x1000000, "CLONE_CHILD_SETTID"},
    {0x2000000, "CLONE_NEWCGROUP"},    {0x4000000, "CLONE_NEWUTS"},
    {0x8000000, "CLONE_NEWIPC"},       {0x10000000, "CLONE_NEWUSER"},
    {0x20000000, "CLONE_NEWPID"},      {0x40000000, "CLONE_NEWNET"},
    {0x80000000, "CLONE_IO"},          {0x100000000, "CLONE_CLEAR_SIGHAND"},
    {0x200000000, "CLONE_INTO_CGROUP"},
};

static const struct flag_name wait_flags[] = {
    {1, "WNOHANG"},          {4, "WEXITED"},           {2, "WSTOPPED"},
    {8, "WCONTINUED"},       {0x1000000, "WNOWAIT"},   {0x80000000, "__WCLONE"},
    {0x40000000, "__WALL"},  {0x20000000, "__WNOTHREAD"},
};

static const struct flag_name waitid_types[] = {
    {0, "P_ALL"},
    {1, "P_PID"},
    {2, "P_PGID"},
    {3, "P_PIDFD"},
};

/* Personality types whose whole value is the low byte (strace names no others). */
static const struct flag_name persona_types[] = {
    {0x00, "PER_LINUX"}, {0x06, "PER_BSD"},  {0x08, "PER_LINUX32"},
    {0x0c, "PER_RISCOS"}, {0x0f, "PER_OSF4"}, {0x10, "PER_HPUX"},
};

static const struct flag_name persona_flags[] = {
    {0x0020000, "UNAME26"},           {0x0040000, "ADDR_NO_RANDOMIZE"},
    {0x0080000, "FDPIC_FUNCPTRS"},    {0x0100000, "MMAP_PAGE_ZERO"},
    {0x0200000, "ADDR_COMPAT_LAYOUT"}, {0x0400000, "READ_IMPLIES_EXEC"},
    {0x0800000, "ADDR_LIMIT_32BIT"},  {0x1000000, "SHORT_INODE"},
    {0x2000000, "WHOLE_SECONDS"},     {0x4000000, "STICKY_TIMEOUTS"},
    {0x8000000, "ADDR_LIMIT_3GB"},
};

static const struct flag_name cld_codes[] = {
    {1, "CLD_EXITED"},  {2, "CLD_KILLED"},  {3, "CLD_DUMPED"},
    {4, "CLD_TRAPPED"}, {5, "CLD_STOPPED"}, {6, "CLD_CONTINUED"},
};

static const struct flag_name segv_codes[] = {
    {1, "SEGV_MAPERR"}, {2, "SEGV_ACCERR"}, {3, "SEGV_BNDERR"},
    {4, "SEGV_PKUERR"}, {10, "SEGV_CPERR"},
};

static const struct flag_name bus_codes[] = {
    {1, "BUS_ADRALN"}, {2, "BUS_ADRERR"}, {3, "BUS_OBJERR"},
    {4, "BUS_MCEERR_AR"}, {5, "BUS_MCEERR_AO"},
};

static const struct flag_name si_codes[] = {
    {0, "SI_USER"},              {0x80, "SI_KERNEL"},        {(uint64_t)-1, "SI_QUEUE"},
    {(uint64_t)-2, "SI_TIMER"},  {(uint64_t)-3, "SI_MESGQ"}, {(uint64_t)-4, "SI_ASYNCIO"},
    {(uint64_t)-5, "SI_SIGIO"},  {(uint64_t)-6, "SI_TKILL"},
};

static const char *const signal_names[32] = {
    NULL,        "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",    "SIGTRAP", "SIGABRT",
    "SIGBUS",    "SIGFPE",  "SIGKILL",   "SIGUSR1", "SIGSEGV",   "SIGUSR2", "SIGPIPE",
    "SIGALRM",   "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",   "SIGSTOP", "SIGTSTP",
    "SIGTTIN",   "SIGTTOU", "SIGURG",    "SIGXCPU", "SIGXFSZ",   "SIGVTALRM", "SIGPROF",
    "SIGWINCH",  "SIGIO",   "SIGPWR",    "SIGSYS",
};

/* The name of v in table (whole-value match), or NULL. */
static const char *name_of(uint64_t v, const struct flag_name *table, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].value == v)
            return table[i].name;
    return NULL;
}

/* A signal as strace names it: SIGSEGV, SIGRTMIN, SIGRT_3; a number otherwise. */
static void put_signal(struct strbuf *sb, uint64_t sig)
{
    if (sig > 0 && sig < 32)
        sb_puts(sb, signal_names[sig]);
    else if (sig == 32)
        sb_puts(sb, "SIGRTMIN");
    else if (sig > 32 && sig <= 64)
        sb_printf(sb, "SIGRT_%u", (unsigned)(sig - 32));
    else
        sb_printf(sb, "%llu", (unsigned long long)sig);
}

/* ------------------------------------------------------------ values ---- */

/* A pointer as strace prints it: NULL or 0x... */
static void put_addr(struct strbuf *sb, uint64_t a)
{
    if (a)
        sb_printf(sb, "0x%llx", (unsigned long long)a);
    else
        sb_puts(sb, "NULL");
}

/* A number in hex, 0 as "0" (offsets, sizes strace prints in hex). */
static void put_hex(struct strbuf *sb, uint64_t v)
{
    if (v)
        sb_printf(sb, "0x%llx", (unsigned long long)v);
    else
        sb_puts(sb, "0");
}

static void put_udec(struct strbuf *sb, uint64_t v)
{
    sb_printf(sb, "%llu", (unsigned long long)v);
}

static void put_int(struct strbuf *sb, uint64_t v)
{
    sb_printf(sb, "%d", (int)(int32_t)(uint32_t)v);
}

/* Flag names joined by '|'. */
struct flag_joiner {
    struct strbuf *sb;
    bool any;
};

static void join_name(struct flag_joiner *j, const char *name)
{
    if (j->any)
        sb_putc(j->sb, '|');
    sb_puts(j->sb, name);
    j->any = true;
}

static void join_hex(struct flag_joiner *j, uint64_t v)
{
    if (j->any)
        sb_putc(j->sb, '|');
    sb_printf(j->sb, "0x%llx", (unsigned long long)v);
    j->any = true;
}

/* Join the names of table's non-zero entries whose bits are all in v, in table
 * order; returns the bits no name took. */
static uint64_t join_table(struct flag_joiner *j, uint64_t v, const struct flag_name *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t f = table[i].value;
        if (f && (v & f) == f) {
            join_name(j, table[i].name);
            v &= ~f;
        }
    }
    return v;
}

/* A flag set like strace: names, then the leftover bits in hex ("|0x8"); a value no
 * name covers at all is the hex number followed by a PREFIX??? comment; zero is "0". */
static void put_flags(struct strbuf *sb, uint64_t v, const struct flag_name *table, size_t n,
                      const char *prefix)
{
    if (!v) {
        sb_putc(sb, '0');
        return;
    }
    struct flag_joiner j = {sb, false};
    uint64_t left = join_table(&j, v, table, n);
    if (!left)
        return;
    if (j.any)
        join_hex(&j, left);
    else
        sb_printf(sb, "0x%llx /* %s??? */", (unsigned long long)left, prefix);
}

/* One value from a table of exact values (madvise advice, waitid type). */
static void put_enum(struct strbuf *sb, uint64_t v, const struct flag_name *table, size_t n,
                     const char *prefix)
{
    const char *name = name_of(v, table, n);
    if (name)
        sb_puts(sb, name);
    else
        sb_printf(sb, "0x%llx /* %s??? */", (unsigned long long)v, prefix);
}

static void put_prot(struct strbuf *sb, uint64_t prot)
{
    prot = (uint32_t)prot;
    if (!prot)
        sb_puts(sb, "PROT_NONE");
    else
        put_flags(sb, prot, prot_flags, COUNT(prot_flags), "PROT_");
}

/* mmap flags: the mapping type, the other flags, unknown bits in hex, then the huge
 * page size as "N<<MAP_HUGE_SHIFT" (strace's order). */
static void put_map_flags(struct strbuf *sb, uint64_t flags)
{
    flags = (uint32_t)flags;
    struct flag_joiner j = {sb, true};
    const char *type = name_of(flags & 0xf, map_types, COUNT(map_types));
    if (type)
        sb_puts(sb, type);
    else
        sb_printf(sb, "0x%llx /* MAP_??? */", (unsigned long long)(flags & 0xf));
    uint64_t huge = (flags >> 26) & 0x3f;
    uint64_t left = join_table(&j, flags & ~(uint64_t)0xf & ~((uint64_t)0x3f << 26), map_flags,
                               COUNT(map_flags));
    if (left)
        join_hex(&j, left);
    if (huge)
        sb_printf(sb, "|%llu<<MAP_HUGE_SHIFT", (unsigned long long)huge);
}

/* open flags: the access mode, then the other flags. */
static void put_open_flags(struct strbuf *sb, uint64_t flags)
{
    flags = (uint32_t)flags;
    sb_puts(sb, name_of(flags & 3, open_access, COUNT(open_access)));
    struct flag_joiner j = {sb, true};
    uint64_t left = join_table(&j, flags & ~(uint64_t)3, open_flags, COUNT(open_flags));
    if (left)
        join_hex(&j, left);
}

/* Does an open with these flags take a mode argument (O_CREAT or O_TMPFILE)? */
static bool open_has_mode(uint64_t flags)
{
    return (flags & 0100) || (flags & 020200000) == 020200000;
}

static void put_mode(struct strbuf *sb, uint64_t mode)
{
    sb_printf(sb, "%#03llo", (unsigned long long)(mode & 07777));
}

/* A personality value: the type, then the flags (strace's decoding). */
static void put_persona(struct strbuf *sb, uint64_t v)
{
    v = (uint32_t)v;
    if (v == 0xffffffff) {
        sb_puts(sb, "0xffffffff");
        return;
    }
    const char *type = name_of(v & 0xff, persona_types, COUNT(persona_types));
    if (type)
        sb_puts(sb, type);
    else
        sb_printf(sb, "0x%llx /* PER_??? */", (unsigned long long)(v & 0xff));
    struct flag_joiner j = {sb, true};
    uint64_t left = join_table(&j, v & ~(uint64_t)0xff, persona_flags, COUNT(persona_flags));
    if (left)
        join_hex(&j, left);
}

/* Bytes as a C string literal, escaped the way strace escapes them. */
static void put_string(struct strbuf *sb, const char *s, size_t n)
{
    sb_putc(sb, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\v': esc = "\\v"; break;
        default: break;
        }
        if (esc) {
            sb_puts(sb, esc);
        } else if (c >= 0x20 && c < 0x7f) {
            sb_putc(sb, (char)c);
        } else {
            bool digit_next = i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7';
            sb_printf(sb, digit_next ? "\\%03o" : "\\%o", c);
        }
    }
    sb_putc(sb, '"');
}

/* The C-level wait status strace prints inside [...]. */
static void put_wait_status(struct strbuf *sb, int s)
{
    if (WIFEXITED(s)) {
        sb_printf(sb, "{WIFEXITED(s) && WEXITSTATUS(s) == %d}", WEXITSTATUS(s));
    } else if (WIFSIGNALED(s)) {
        sb_puts(sb, "{WIFSIGNALED(s) && WTERMSIG(s) == ");
        put_signal(sb, (uint64_t)WTERMSIG(s));
        sb_puts(sb, WCOREDUMP(s) ? " && WCOREDUMP(s)}" : "}");
    } else if (WIFSTOPPED(s)) {
        sb_puts(sb, "{WIFSTOPPED(s) && WSTOPSIG(s) == ");
        put_signal(sb, (uint64_t)WSTOPSIG(s));
        sb_putc(sb, '}');
    } else if (WIFCONTINUED(s)) {
        sb_puts(sb, "{WIFCONTINUED(s)}");
    } else {
        sb_printf(sb, "%#x", (unsigned)s);
    }
}

static void put_rusage(struct strbuf *sb, const struct rusage *ru)
{
    sb_printf(sb,
              "{ru_utime={tv_sec=%lld, tv_usec=%lld}, ru_stime={tv_sec=%lld, tv_usec=%lld}, ...}",
              (long long)ru->ru_utime.tv_sec, (long long)ru->ru_utime.tv_usec,
              (long long)ru->ru_stime.tv_sec, (long long)ru->ru_stime.tv_usec);
}

/* -1 ENOMEM (Cannot allocate memory); the restart codes as "? ERESTARTSYS (...)". */
static void put_error(struct strbuf *sb, int err)
{
    static const char *const restart_text[] = {
        "To be restarted if SA_RESTART is set", "To be restarted",
        "To be restarted if no handler", "No ioctl command", "Interrupted by signal",
    };
    const char *name = errno_name(err);
    bool restart = err >= 512 && err <= 516;
    if (!name) {
        sb_printf(sb, "-1 (errno %d)", err);
        return;
    }
    sb_printf(sb, "%s %s (%s)", restart ? "?" : "-1", name,
              restart ? restart_text[err - 512] : strerror(err));
}

/* ----------------------------------------------------------- tracees ---- */

/* A system call between its entry and exit stops, with what was read at entry. */
struct pending {
    bool active;     /* entry seen, exit not yet */
    bool recorded;   /* a call the log shows */
    bool printed;    /* its line is out already (clone family, exit, exit_group) */
    int nr;
    uint64_t args[6];
    char *path;      /* the path (or prctl name) argument, read at entry; NULL if unread */
    size_t path_len;
    char *argv_text; /* execve/execveat: argv as printed, or NULL */
    long envc;       /* execve/execveat: envp entries, -1 when unreadable */
    uint64_t exec_bytes; /* execve/execveat: bytes of argv and envp strings with NULs */
    bool have_clone3;
    struct clone3_args clone3;
};

struct tracee {
    pid_t tid;
    pid_t tgid;           /* 0 until known */
    bool announced;       /* its creator's line is written: it may run */
    bool first_stop_due;  /* the SIGSTOP every new tracee starts with is still to come */
    bool held;            /* stopped at that SIGSTOP, waiting to be announced */
    bool exiting;         /* past exit/exit_group entry or PTRACE_EVENT_EXIT */
    struct pending call;
};

struct process {
    pid_t tgid;
    bool ended; /* its maps and ending line are written */
};

struct recorder {
    FILE *out;
    struct tracee **tracees;
    size_t ntracees, tracee_cap;
    struct process *procs;
    size_t nprocs, proc_cap;
    pid_t first;          /* the traced program */
    int first_status;     /* its wait status once reaped */
    bool first_reaped;
    bool failed;          /* out of memory or an output error: the log is incomplete */
    struct strbuf line;
};

static void pending_clear(struct pending *p)
{
    free(p->path);
    free(p->argv_text);
    *p = (struct pending){.envc = -1};
}

static struct tracee *find_tracee(const struct recorder *rec, pid_t tid)
{
    for (size_t i = 0; i < rec->ntracees; i++)
        if (rec->tracees[i]->tid == tid)
            return rec->tracees[i];
    return NULL;
}

/* A new tracee record; NULL (and rec->failed) when out of memory. */
static struct tracee *add_tracee(struct recorder *rec, pid_t tid, pid_t tgid)
{
    if (rec->ntracees == rec->tracee_cap) {
        size_t cap = rec->tracee_cap ? rec->tracee_cap * 2 : 16;
        struct tracee **grown = realloc(rec->tracees, cap * sizeof *grown);
        if (!grown)
            return rec->failed = true, NULL;
        rec->tracees = grown;
        rec->tracee_cap = cap;
    }
    struct tracee *t = calloc(1, sizeof *t);
    if (!t)
        return rec->failed = true, NULL;
    t->tid = tid;
    t->tgid = tgid;
    t->call.envc = -1;
    rec->tracees[rec->ntracees++] = t;
    return t;
}

static void remove_tracee(struct recorder *rec, struct tracee *t)
{
    for (size_t i = 0; i < rec->ntracees; i++) {
        if (rec->tracees[i] != t)
            continue;
        rec->tracees[i] = rec->tracees[--rec->ntracees];
        pending_clear(&t->call);
        free(t);
        return;
    }
    PAGODA_BUG_ON(true, "removed tracee is not in the tracee table");
}

static struct process *find_process(const struct recorder *rec, pid_t tgid)
{
    for (size_t i = 0; i < rec->nprocs; i++)
        if (rec->procs[i].tgid == tgid)
            return &rec->procs[i];
    return NULL;
}

/* The record of a process that starts now (a reused pid starts afresh). */
static void process_begin(struct recorder *rec, pid_t tgid)
{
    struct process *p = find_process(rec, tgid);
    if (!p) {
        if (rec->nprocs == rec->proc_cap) {
            size_t cap = rec->proc_cap ? rec->proc_cap * 2 : 16;
            struct process *grown = realloc(rec->procs, cap * sizeof *grown);
            if (!grown) {
                rec->failed = true;
                return;
            }
            rec->procs = grown;
            rec->proc_cap = cap;
        }
        p = &rec->procs[rec->nprocs++];
    }
    *p = (struct process){.tgid = tgid};
}

/* Is any other thread of t's process still running (not exiting)? */
static bool others_alive(const struct recorder *rec, const struct tracee *t)
{
    for (size_t i = 0; i < rec->ntracees; i++) {
        const struct tracee *u = rec->tracees[i];
        if (u != t && u->tgid == t->tgid && !u->exiting)
            return true;
    }
    return false;
}

/* Does any other tracee of t's process still exist? */
static bool others_exist(const struct recorder *rec, const struct tracee *t)
{
    for (size_t i = 0; i < rec->ntracees; i++)
        if (rec->tracees[i] != t && rec->tracees[i]->tgid == t->tgid)
            return true;
    return false;
}

/* Restart a stopped tracee up to its next system-call stop, delivering sig. */
static void resume(pid_t tid, int sig)
{
    ptrace(PTRACE_SYSCALL, tid, NULL, (void *)(intptr_t)sig); /* ESRCH: it died meanwhile */
}

/* ------------------------------------------------------- call formats ---- */

enum outcome { OUT_UNKNOWN, OUT_OK, OUT_ERROR };

/* What a formatter sees: the call, how it ended, and whose memory holds its outputs. */
struct fmt_ctx {
    struct strbuf *sb;
    pid_t tid;
    const struct pending *p;
    enum outcome outcome;
    int64_t ret;
};

static uint64_t arg(const struct fmt_ctx *c, int i)
{
    return c->p->args[i];
}

static void comma(const struct fmt_ctx *c)
{
    sb_puts(c->sb, ", ");
}

/* The string argument read at entry, or its address when it could not be read. */
static void put_path(const struct fmt_ctx *c, uint64_t addr)
{
    if (c->p->path)
        put_string(c->sb, c->p->path, c->p->path_len);
    else
        put_addr(c->sb, addr);
}

static void put_dirfd(const struct fmt_ctx *c, uint64_t fd)
{
    if ((int)fd == -100)
        sb_puts(c->sb, "AT_FDCWD");
    else
        put_int(c->sb, fd);
}

/* An int the call stored at addr, as "[N]"; the address when it cannot be read. */
static void put_int_out(const struct fmt_ctx *c, uint64_t addr)
{
    int32_t v;
    if (c->outcome == OUT_OK && addr && read_mem(c->tid, addr, &v, sizeof v))
        sb_printf(c->sb, "[%d]", v);
    else
        put_addr(c->sb, addr);
}

static void fmt_none(struct fmt_ctx *c)
{
    (void)c;
}

static void fmt_mmap(struct fmt_ctx *c)
{
    put_addr(c->sb, arg(c, 0));
    comma(c);
    put_udec(c->sb, arg(c, 1));
    comma(c);
    put_prot(c->sb, arg(c, 2));
    comma(c);
    put_map_flags(c->sb, arg(c, 3));
    comma(c);
    put_int(c->sb, arg(c, 4));
    comma(c);
    put_hex(c->sb, arg(c, 5));
}

/* munmap, mlock, munlock: (addr, len). */
static void fmt_addr_len(struct fmt_ctx *c)
{
    put_addr(c->sb, arg(c, 0));
    comma(c);
    put_udec(c->sb, arg(c, 1));
}

static void fmt_mprotect(struct fmt_ctx *c)
{
    fmt_addr_len(c);
    comma(c);
    put_prot(c->sb, arg(c, 2));
}

static void fmt_pkey_mprotect(struct fmt_ctx *c)
{
    fmt_mprotect(c);
    comma(c);
    put_int(c->sb, arg(c, 3));
}

/* The new address is shown only with MREMAP_FIXED, which is when it is used. */
static void fmt_mremap(struct fmt_ctx *c)
{
    fmt_addr_len(c);
    comma(c);
    put_udec(c->sb, arg(c, 2));
    comma(c);
    put_flags(c->sb, arg(c, 3), mremap_flags, COUNT(mremap_flags), "MREMAP_");
    if (arg(c, 3) & 2) {
        comma(c);
        put_addr(c->sb, arg(c, 4));
    }
}

static void fmt_brk(struct fmt_ctx *c)
{
    put_addr(c->sb, arg(c, 0));
}

static void fmt_madvise(struct fmt_ctx *c)
{
    fmt_addr_len(c);
    comma(c);
    put_enum(c->sb, (uint32_t)arg(c, 2), madv_names, COUNT(madv_names), "MADV_");
}

static void fmt_mlock2(struct fmt_ctx *c)
{
    fmt_addr_len(c);
    comma(c);
    put_flags(c->sb, (uint32_t)arg(c, 2), mlock2_flags, COUNT(mlock2_flags), "MLOCK_");
}

static void fmt_mlockall(struct fmt_ctx *c)
{
    put_flags(c->sb, (uint32_t)arg(c, 0), mlockall_flags, COUNT(mlockall_flags), "MCL_");
}

static void fmt_msync(struct fmt_ctx *c)
{
    fmt_addr_len(c);
    comma(c);
    put_flags(c->sb, (uint32_t)arg(c, 2), msync_flags, COUNT(msync_flags), "MS_");
}

/* The residency vector after success (at most MINCORE_SHOWN entries, then ...). */
static void fmt_mincore(struct fmt_ctx *c)
{
    fmt_addr_len(c);
    comma(c);
    uint64_t pages = arg(c, 1) / PAGE_BYTES + (arg(c, 1) % PAGE_BYTES != 0);
    size_t shown = pages > MINCORE_SHOWN ? MINCORE_SHOWN : (size_t)pages;
    unsigned char vec[MINCORE_SHOWN];
    if (c->outcome != OUT_OK || !read_mem(c->tid, arg(c, 2), vec, shown)) {
        put_addr(c->sb, arg(c, 2));
        return;
    }
    sb_putc(c->sb, '[');
    for (size_t i = 0; i < shown; i++)
        sb_printf(c->sb, "%s%u", i ? ", " : "", vec[i] & 1u);
    if (pages > shown)
        sb_puts(c->sb, ", ...");
    sb_putc(c->sb, ']');
}

static void fmt_mseal(struct fmt_ctx *c)
{
    fmt_addr_len(c);
    comma(c);
    put_hex(c->sb, arg(c, 2));
}

static void fmt_remap_file_pages(struct fmt_ctx *c)
{
    fmt_addr_len(c);
    comma(c);
    put_prot(c->sb, arg(c, 2));
    comma(c);
    put_udec(c->sb, arg(c, 3));
    comma(c);
    put_map_flags(c->sb, arg(c, 4));
}

/* shmget(key, size, flags|mode): the mode always follows the flags in octal. */
static void fmt_shmget(struct fmt_ctx *c)
{
    uint32_t key = (uint32_t)arg(c, 0), flags = (uint32_t)arg(c, 2);
    if (key)
        sb_printf(c->sb, "%#x", key);
    else
        sb_puts(c->sb, "IPC_PRIVATE");
    comma(c);
    put_udec(c->sb, arg(c, 1));
    comma(c);
    struct flag_joiner j = {c->sb, false};
    uint64_t left = join_table(&j, flags & ~0777u, shmget_flags, COUNT(shmget_flags));
    if (left)
        join_hex(&j, left);
    if (j.any)
        sb_putc(c->sb, '|');
    sb_printf(c->sb, "%#03o", flags & 0777u);
}

static void fmt_shmat(struct fmt_ctx *c)
{
    put_int(c->sb, arg(c, 0));
    comma(c);
    put_addr(c->sb, arg(c, 1));
    comma(c);
    put_flags(c->sb, (uint32_t)arg(c, 2), shmat_flags, COUNT(shmat_flags), "SHM_");
}

static void fmt_shmdt(struct fmt_ctx *c)
{
    put_addr(c->sb, arg(c, 0));
}

static void fmt_openat(struct fmt_ctx *c)
{
    put_dirfd(c, arg(c, 0));
    comma(c);
    put_path(c, arg(c, 1));
    comma(c);
    put_open_flags(c->sb, arg(c, 2));
    if (open_has_mode(arg(c, 2))) {
        comma(c);
        put_mode(c->sb, arg(c, 3));
    }
}

static void fmt_open(struct fmt_ctx *c)
{
    put_path(c, arg(c, 0));
    comma(c);
    put_open_flags(c->sb, arg(c, 1));
    if (open_has_mode(arg(c, 1))) {
        comma(c);
        put_mode(c->sb, arg(c, 2));
    }
}

static void fmt_creat(struct fmt_ctx *c)
{
    put_path(c, arg(c, 0));
    comma(c);
    put_mode(c->sb, arg(c, 1));
}

/* close, dup: (fd). */
static void fmt_fd(struct fmt_ctx *c)
{
    put_int(c->sb, arg(c, 0));
}

static void fmt_close_range(struct fmt_ctx *c)
{
    put_udec(c->sb, (uint32_t)arg(c, 0));
    comma(c);
    put_udec(c->sb, (uint32_t)arg(c, 1));
    comma(c);
    put_flags(c->sb, (uint32_t)arg(c, 2), close_range_flags, COUNT(close_range_flags),
              "CLOSE_RANGE_");
}

static void fmt_dup2(struct fmt_ctx *c)
{
    put_int(c->sb, arg(c, 0));
    comma(c);
    put_int(c->sb, arg(c, 1));
}

static void fmt_dup3(struct fmt_ctx *c)
{
    fmt_dup2(c);
    comma(c);
    put_flags(c->sb, (uint32_t)arg(c, 2), cloexec_flag, COUNT(cloexec_flag), "O_");
}

/* Only F_DUPFD and F_DUPFD_CLOEXEC are recorded. */
static void fmt_fcntl(struct fmt_ctx *c)
{
    put_int(c->sb, arg(c, 0));
    comma(c);
    sb_puts(c->sb, arg(c, 1) == F_DUPFD_VALUE ? "F_DUPFD" : "F_DUPFD_CLOEXEC");
    comma(c);
    put_udec(c->sb, (uint32_t)arg(c, 2));
}

/* argv as read at entry, envp as its address and entry count. */
static void put_exec_vectors(const struct fmt_ctx *c, uint64_t argv, uint64_t envp)
{
    if (c->p->argv_text)
        sb_puts(c->sb, c->p->argv_text);
    else
        put_addr(c->sb, argv);
    comma(c);
    put_addr(c->sb, envp);
    /* strace's comment, plus the bytes of all argument and environment strings with
     * their NULs: the replay needs them to place the initial stack exactly. */
    if (envp && c->p->envc >= 0)
        sb_printf(c->sb, " /* %ld var%s; argv and envp strings: %llu bytes */", c->p->envc,
                  c->p->envc == 1 ? "" : "s", (unsigned long long)c->p->exec_bytes);
}

static void fmt_execve(struct fmt_ctx *c)
{
    put_path(c, arg(c, 0));
    comma(c);
    put_exec_vectors(c, arg(c, 1), arg(c, 2));
}

static void fmt_execveat(struct fmt_ctx *c)
{
    put_dirfd(c, arg(c, 0));
    comma(c);
    put_path(c, arg(c, 1));
    comma(c);
    put_exec_vectors(c, arg(c, 2), arg(c, 3));
    comma(c);
    put_flags(c->sb, (uint32_t)arg(c, 4), at_flags, COUNT(at_flags), "AT_");
}

/* clone's flags word: CLONE_ names, then the exit signal. */
static void put_clone_flags(struct strbuf *sb, uint64_t flags)
{
    uint64_t sig = flags & 0xff;
    struct flag_joiner j = {sb, false};
    uint64_t left = join_table(&j, flags & ~(uint64_t)0xff & 0xffffffffu, clone_flags,
                               COUNT(clone_flags));
    if (left)
        join_hex(&j, left);
    if (sig) {
        if (j.any)
            sb_putc(sb, '|');
        put_signal(sb, sig);
        j.any = true;
    }
    if (!j.any)
        sb_putc(sb, '0');
}

/* x86-64 clone(flags, stack, parent_tid, child_tid, tls), fields shown as strace does. */
static void fmt_clone(struct fmt_ctx *c)
{
    uint64_t flags = arg(c, 0);
    sb_puts(c->sb, "child_stack=");
    put_addr(c->sb, arg(c, 1));
    sb_puts(c->sb, ", flags=");
    put_clone_flags(c->sb, flags);
    if (flags & (CL_PARENT_SETTID | CL_PIDFD)) {
        sb_puts(c->sb, ", parent_tid=");
        put_int_out(c, arg(c, 2));
    }
    if (flags & CL_SETTLS) {
        sb_puts(c->sb, ", tls=");
        put_addr(c->sb, arg(c, 4));
    }
    if (flags & (CL_CHILD_SETTID | CL_CHILD_CLEARTID)) {
        sb_puts(c->sb, ", child_tidptr=");
        put_addr(c->sb, arg(c, 3));
    }
}

/* The " => {pidfd=[N], parent_tid=[N]}" part clone3 writes back. */
static void put_clone3_outputs(const struct fmt_ctx *c, const struct clone3_args *a)
{
    if (c->outcome != OUT_OK || !(a->flags & (CL_PIDFD | CL_PARENT_SETTID)))
        return;
    sb_puts(c->sb, " => {");
    if (a->flags & CL_PIDFD) {
        sb_puts(c->sb, "pidfd=");
        put_int_out(c, a->pidfd);
    }
    if (a->flags & CL_PARENT_SETTID) {
        sb_puts(c->sb, a->flags & CL_PIDFD ? ", parent_tid=" : "parent_tid=");
        put_int_out(c, a->parent_tid);
    }
    sb_putc(c->sb, '}');
}

static void fmt_clone3(struct fmt_ctx *c)
{
    const struct clone3_args *a = &c->p->clone3;
    if (!c->p->have_clone3) {
        put_addr(c->sb, arg(c, 0));
        comma(c);
        put_udec(c->sb, arg(c, 1));
        return;
    }
    sb_puts(c->sb, "{flags=");
    put_flags(c->sb, a->flags, clone_flags, COUNT(clone_flags), "CLONE_");
    if (a->flags & CL_PIDFD) {
        sb_puts(c->sb, ", pidfd=");
        put_addr(c->sb, a->pidfd);
    }
    if (a->flags & (CL_CHILD_SETTID | CL_CHILD_CLEARTID)) {
        sb_puts(c->sb, ", child_tid=");
        put_addr(c->sb, a->child_tid);
    }
    if (a->flags & CL_PARENT_SETTID) {
        sb_puts(c->sb, ", parent_tid=");
        put_addr(c->sb, a->parent_tid);
    }
    sb_puts(c->sb, ", exit_signal=");
    if (a->exit_signal && a->exit_signal < 32)
        put_signal(c->sb, a->exit_signal);
    else
        put_udec(c->sb, a->exit_signal);
    sb_puts(c->sb, ", stack=");
    put_addr(c->sb, a->stack);
    sb_puts(c->sb, ", stack_size=");
    put_hex(c->sb, a->stack_size);
    if (a->flags & CL_SETTLS) {
        sb_puts(c->sb, ", tls=");
        put_addr(c->sb, a->tls);
    }
    if (a->set_tid_size) {
        sb_puts(c->sb, ", set_tid=");
        put_addr(c->sb, a->set_tid);
        sb_printf(c->sb, ", set_tid_size=%llu", (unsigned long long)a->set_tid_size);
    }
    if (a->flags & CL_INTO_CGROUP)
        sb_printf(c->sb, ", cgroup=%llu", (unsigned long long)a->cgroup);
    sb_putc(c->sb, '}');
    put_clone3_outputs(c, a);
    comma(c);
    put_udec(c->sb, arg(c, 1));
}

static void fmt_exit(struct fmt_ctx *c)
{
    put_int(c->sb, arg(c, 0));
}

/* wait4(pid, status, options, rusage): outputs decoded only when a child was reaped. */
static void fmt_wait4(struct fmt_ctx *c)
{
    bool reaped = c->outcome == OUT_OK && c->ret > 0;
    int status;
    struct rusage ru;
    put_int(c->sb, arg(c, 0));
    comma(c);
    if (reaped && arg(c, 1) && read_mem(c->tid, arg(c, 1), &status, sizeof status)) {
        sb_putc(c->sb, '[');
        put_wait_status(c->sb, status);
        sb_putc(c->sb, ']');
    } else {
        put_addr(c->sb, arg(c, 1));
    }
    comma(c);
    put_flags(c->sb, (uint32_t)arg(c, 2), wait_flags, COUNT(wait_flags), "W");
    comma(c);
    if (reaped && arg(c, 3) && read_mem(c->tid, arg(c, 3), &ru, sizeof ru))
        put_rusage(c->sb, &ru);
    else
        put_addr(c->sb, arg(c, 3));
}

/* The siginfo waitid fills in: "{}" when no child was waiting (WNOHANG). */
static void put_child_siginfo(struct strbuf *sb, const siginfo_t *si)
{
    if (!si->si_pid) {
        sb_puts(sb, "{}");
        return;
    }
    sb_puts(sb, "{si_signo=");
    put_signal(sb, (uint64_t)si->si_signo);
    sb_puts(sb, ", si_code=");
    put_enum(sb, (uint64_t)(int64_t)si->si_code, cld_codes, COUNT(cld_codes), "CLD_");
    sb_printf(sb, ", si_pid=%d, si_uid=%u, si_status=", (int)si->si_pid, (unsigned)si->si_uid);
    if (si->si_code == CLD_EXITED)
        sb_printf(sb, "%d", si->si_status);
    else
        put_signal(sb, (uint64_t)si->si_status);
    sb_printf(sb, ", si_utime=%lld, si_stime=%lld}", (long long)si->si_utime,
              (long long)si->si_stime);
}

static void fmt_waitid(struct fmt_ctx *c)
{
    bool ok = c->outcome == OUT_OK;
    siginfo_t si;
    struct rusage ru;
    uint64_t type = (uint32_t)arg(c, 0);
    const char *type_name = name_of(type, waitid_types, COUNT(waitid_types));
    if (type_name)
        sb_puts(c->sb, type_name);
    else
        put_udec(c->sb, type);
    comma(c);
    put_int(c->sb, arg(c, 1));
    comma(c);
    if (ok && arg(c, 2) && read_mem(c->tid, arg(c, 2), &si, sizeof si))
        put_child_siginfo(c->sb, &si);
    else
        put_addr(c->sb, arg(c, 2));
    comma(c);
    put_flags(c->sb, (uint32_t)arg(c, 3), wait_flags, COUNT(wait_flags), "W");
    comma(c);
    if (ok && arg(c, 4) && read_mem(c->tid, arg(c, 4), &ru, sizeof ru))
        put_rusage(c->sb, &ru);
    else
        put_addr(c->sb, arg(c, 4));
}

static void fmt_personality(struct fmt_ctx *c)
{
    put_persona(c->sb, arg(c, 0));
}

/* prctl(PR_SET_VMA, attr, addr, len, name): only PR_SET_VMA is recorded. */
static void fmt_prctl(struct fmt_ctx *c)
{
    sb_puts(c->sb, "PR_SET_VMA, ");
    if (arg(c, 1) != 0) {
        sb_printf(c->sb, "0x%llx /* PR_SET_VMA_??? */", (unsigned long long)arg(c, 1));
        for (int i = 2; i < 5; i++) {
            comma(c);
            put_hex(c->sb, arg(c, i));
        }
        return;
    }
    sb_puts(c->sb, "PR_SET_VMA_ANON_NAME, ");
    put_addr(c->sb, arg(c, 2));
    comma(c);
    put_udec(c->sb, arg(c, 3));
    comma(c);
    put_path(c, arg(c, 4));
}

/* ---- calls that only make descriptors --------------------------------------------
 * pagoda does not simulate pipes or sockets, but a replay must know which descriptor
 * numbers they took, or a later close/dup of them would differ.  Arguments are written
 * as numbers, with a close-on-exec bit (O_CLOEXEC, SOCK_CLOEXEC, EFD_CLOEXEC ... all
 * 02000000 on x86-64) spelled out by name so that the replay sees it. */

#define ANY_CLOEXEC 02000000ULL

/* A flags word: the number without the close-on-exec bit, then "|NAME_CLOEXEC". */
static void put_fd_flags(struct strbuf *sb, uint64_t v, const char *cloexec_name)
{
    if (v & ANY_CLOEXEC) {
        put_hex(sb, v & ~ANY_CLOEXEC);
        sb_printf(sb, "|%s", cloexec_name);
    } else {
        put_hex(sb, v);
    }
}

/* pipe([R, W]) / pipe2([R, W], FLAGS): the pair is read back at exit. */
static void put_fd_pair(const struct fmt_ctx *c, uint64_t addr)
{
    int fds[2];
    if (c->outcome == OUT_OK && addr && read_mem(c->tid, addr, fds, sizeof fds))
        sb_printf(c->sb, "[%d, %d]", fds[0], fds[1]);
    else
        put_addr(c->sb, addr);
}

static void fmt_pipe(struct fmt_ctx *c)
{
    put_fd_pair(c, arg(c, 0));
}

static void fmt_pipe2(struct fmt_ctx *c)
{
    put_fd_pair(c, arg(c, 0));
    comma(c);
    put_fd_flags(c->sb, (uint32_t)arg(c, 1), "O_CLOEXEC");
}

static void fmt_socket(struct fmt_ctx *c)
{
    put_int(c->sb, arg(c, 0));
    comma(c);
    put_fd_flags(c->sb, (uint32_t)arg(c, 1), "SOCK_CLOEXEC");
    comma(c);
    put_int(c->sb, arg(c, 2));
}

static void fmt_socketpair(struct fmt_ctx *c)
{
    fmt_socket(c);
    comma(c);
    put_fd_pair(c, arg(c, 3));
}

/* One flags argument at index i, the others as numbers (eventfd2, epoll_create1,
 * timerfd_create, inotify_init1, pidfd_open, signalfd4, accept4). */
static void put_args_with_flags(struct fmt_ctx *c, int nargs, int flags_at, const char *cloexec_name)
{
    for (int i = 0; i < nargs; i++) {
        if (i)
            comma(c);
        if (i == flags_at)
            put_fd_flags(c->sb, (uint32_t)arg(c, i), cloexec_name);
        else
            put_hex(c->sb, arg(c, i));
    }
}

static void fmt_eventfd2(struct fmt_ctx *c) { put_args_with_flags(c, 2, 1, "EFD_CLOEXEC"); }
static void fmt_epoll_create1(struct fmt_ctx *c) { put_args_with_flags(c, 1, 0, "EPOLL_CLOEXEC"); }
static void fmt_timerfd_create(struct fmt_ctx *c) { put_args_with_flags(c, 2, 1, "TFD_CLOEXEC"); }
static void fmt_inotify_init1(struct fmt_ctx *c) { put_args_with_flags(c, 1, 0, "IN_CLOEXEC"); }
static void fmt_signalfd4(struct fmt_ctx *c) { put_args_with_flags(c, 4, 3, "SFD_CLOEXEC"); }
static void fmt_accept4(struct fmt_ctx *c) { put_args_with_flags(c, 4, 3, "SOCK_CLOEXEC"); }
static void fmt_pidfd_open(struct fmt_ctx *c) { put_args_with_flags(c, 2, -1, NULL); }
static void fmt_accept(struct fmt_ctx *c) { put_args_with_flags(c, 3, -1, NULL); }
static void fmt_one_number(struct fmt_ctx *c) { put_args_with_flags(c, 1, -1, NULL); }

static void fmt_memfd_create(struct fmt_ctx *c)
{
    put_path(c, arg(c, 0));
    comma(c);
    uint32_t flags = (uint32_t)arg(c, 1);
    if (flags & 1U) /* MFD_CLOEXEC */
        sb_puts(c->sb, flags == 1U ? "MFD_CLOEXEC" : "MFD_CLOEXEC|");
    if (flags != 1U)
        put_hex(c->sb, flags & ~1U);
}

/* ------------------------------------------------------------ the calls ---- */

enum ret_style { RET_DEC, RET_HEX, RET_PERSONA };

struct call_desc {
    int nr;
    const char *name;
    void (*format)(struct fmt_ctx *c);
    enum ret_style ret;
};

/* The system calls the log shows (x86-64 numbers). */
static const struct call_desc calls[] = {
    {SYS_mmap, "mmap", fmt_mmap, RET_HEX},
    {SYS_munmap, "munmap", fmt_addr_len, RET_DEC},
    {SYS_mprotect, "mprotect", fmt_mprotect, RET_DEC},
    {SYS_pkey_mprotect, "pkey_mprotect", fmt_pkey_mprotect, RET_DEC},
    {SYS_mremap, "mremap", fmt_mremap, RET_HEX},
    {SYS_brk, "brk", fmt_brk, RET_HEX},
    {SYS_madvise, "madvise", fmt_madvise, RET_DEC},
    {SYS_mlock, "mlock", fmt_addr_len, RET_DEC},
    {SYS_mlock2, "mlock2", fmt_mlock2, RET_DEC},
    {SYS_munlock, "munlock", fmt_addr_len, RET_DEC},
    {SYS_mlockall, "mlockall", fmt_mlockall, RET_DEC},
    {SYS_munlockall, "munlockall", fmt_none, RET_DEC},
    {SYS_msync, "msync", fmt_msync, RET_DEC},
    {SYS_mincore, "mincore", fmt_mincore, RET_DEC},
    {SYS_mseal, "mseal", fmt_mseal, RET_DEC},
    {SYS_remap_file_pages, "remap_file_pages", fmt_remap_file_pages, RET_DEC},
    {SYS_shmget, "shmget", fmt_shmget, RET_DEC},
    {SYS_shmat, "shmat", fmt_shmat, RET_HEX},
    {SYS_shmdt, "shmdt", fmt_shmdt, RET_DEC},
    {SYS_openat, "openat", fmt_openat, RET_DEC},
    {SYS_open, "open", fmt_open, RET_DEC},
    {SYS_creat, "creat", fmt_creat, RET_DEC},
    {SYS_close, "close", fmt_fd, RET_DEC},
    {SYS_close_range, "close_range", fmt_close_range, RET_DEC},
    {SYS_dup, "dup", fmt_fd, RET_DEC},
    {SYS_dup2, "dup2", fmt_dup2, RET_DEC},
    {SYS_dup3, "dup3", fmt_dup3, RET_DEC},
    {SYS_fcntl, "fcntl", fmt_fcntl, RET_DEC},
    {SYS_execve, "execve", fmt_execve, RET_DEC},
    {SYS_execveat, "execveat", fmt_execveat, RET_DEC},
    {SYS_clone, "clone", fmt_clone, RET_DEC},
    {SYS_clone3, "clone3", fmt_clone3, RET_DEC},
    {SYS_fork, "fork", fmt_none, RET_DEC},
    {SYS_vfork, "vfork", fmt_none, RET_DEC},
    {SYS_exit, "exit", fmt_exit, RET_DEC},
    {SYS_exit_group, "exit_group", fmt_exit, RET_DEC},
    {SYS_wait4, "wait4", fmt_wait4, RET_DEC},
    {SYS_waitid, "waitid", fmt_waitid, RET_DEC},
    {SYS_personality, "personality", fmt_personality, RET_PERSONA},
    {SYS_pipe, "pipe", fmt_pipe, RET_DEC},
    {SYS_pipe2, "pipe2", fmt_pipe2, RET_DEC},
    {SYS_socket, "socket", fmt_socket, RET_DEC},
    {SYS_socketpair, "socketpair", fmt_socketpair, RET_DEC},
    {SYS_accept, "accept", fmt_accept, RET_DEC},
    {SYS_accept4, "accept4", fmt_accept4, RET_DEC},
    {SYS_eventfd, "eventfd", fmt_one_number, RET_DEC},
    {SYS_eventfd2, "eventfd2", fmt_eventfd2, RET_DEC},
    {SYS_epoll_create, "epoll_create", fmt_one_number, RET_DEC},
    {SYS_epoll_create1, "epoll_create1", fmt_epoll_create1, RET_DEC},
    {SYS_timerfd_create, "timerfd_create", fmt_timerfd_create, RET_DEC},
    {SYS_inotify_init1, "inotify_init1", fmt_inotify_init1, RET_DEC},
    {SYS_signalfd4, "signalfd4", fmt_signalfd4, RET_DEC},
    {SYS_pidfd_open, "pidfd_open", fmt_pidfd_open, RET_DEC},
    {SYS_memfd_create, "memfd_create", fmt_memfd_create, RET_DEC},
    {SYS_prctl, "prctl", fmt_prctl, RET_DEC},
};

/* The description of a call the log shows, or NULL: prctl counts only for
 * PR_SET_VMA and fcntl only for F_DUPFD/F_DUPFD_CLOEXEC. */
static const struct call_desc *recorded_call(int nr, const uint64_t *args)
{
    if (nr == SYS_prctl && (uint32_t)args[0] != PR_SET_VMA_VALUE)
        return NULL;
    if (nr == SYS_fcntl && (uint32_t)args[1] != F_DUPFD_VALUE &&
        (uint32_t)args[1] != F_DUPFD_CLOEXEC_VALUE)
        return NULL;
    for (size_t i = 0; i < COUNT(calls); i++)
        if (calls[i].nr == nr)
            return &calls[i];
    return NULL;
}

static bool creates_task(int nr)
{
    return nr == SYS_clone || nr == SYS_clone3 || nr == SYS_fork || nr == SYS_vfork;
}

/* The call's result as strace writes it after " = ". */
static void put_result(struct fmt_ctx *c, enum ret_style style)
{
    if (c->outcome == OUT_UNKNOWN) {
        sb_putc(c->sb, '?');
    } else if (c->outcome == OUT_ERROR) {
        put_error(c->sb, (int)-c->ret);
    } else if (style == RET_HEX) {
        put_hex(c->sb, (uint64_t)c->ret);
    } else if (style == RET_PERSONA) {
        put_hex(c->sb, (uint64_t)c->ret);
        sb_puts(c->sb, " (");
        put_persona(c->sb, (uint64_t)c->ret);
        sb_putc(c->sb, ')');
    } else {
        sb_printf(c->sb, "%lld", (long long)c->ret);
    }
}

/* ------------------------------------------------------------- output ---- */

/* Write the finished line in rec->line; a line cut by an allocation failure is
 * dropped and the log marked incomplete. */
static void flush_line(struct recorder *rec)
{
    if (rec->line.failed) {
        rec->failed = true;
        sb_clear(&rec->line);
        return;
    }
    sb_putc(&rec->line, '\n');
    if (!rec->line.failed && fwrite(rec->line.data, 1, rec->line.len, rec->out) != rec->line.len)
        rec->failed = true;
    sb_clear(&rec->line);
}

__attribute__((format(printf, 2, 3))) static void emit(struct recorder *rec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(rec->out, fmt, ap) < 0)
        rec->failed = true;
    va_end(ap);
}

/* "TID name(args) = result" for t's pending call. */
static void print_call(struct recorder *rec, struct tracee *t, enum outcome outcome, int64_t ret)
{
    const struct call_desc *d = recorded_call(t->call.nr, t->call.args);
    PAGODA_BUG_ON(!d, "printing a call the log does not record");
    struct fmt_ctx c = {&rec->line, t->tid, &t->call, outcome, ret};
    sb_printf(c.sb, "%d %s(", (int)t->tid, d->name);
    d->format(&c);
    sb_puts(c.sb, ") = ");
    put_result(&c, d->ret);
    flush_line(rec);
    t->call.printed = true;
}

/* A call that never returned (its thread died inside it): its line with "= ?". */
static void print_unfinished(struct recorder *rec, struct tracee *t)
{
    if (t->call.active && t->call.recorded && !t->call.printed)
        print_call(rec, t, OUT_UNKNOWN, 0);
}

/* The whole file at path into sb; false on a read error. */
static bool read_file(const char *path, struct strbuf *sb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    for (;;) {
        if (!sb_reserve(sb, 4096))
            break;
        ssize_t n = read(fd, sb->data + sb->len, 4096);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            sb->data[sb->len] = '\0';
            return n == 0;
        }
        sb->len += (size_t)n;
    }
    close(fd);
    return false;
}

/* t's process ends: its real /proc maps, read now while its memory still exists. */
static void dump_maps(struct recorder *rec, const struct tracee *t)
{
    char path[64];
    if (t->tgid > 0)
        snprintf(path, sizeof path, "/proc/%d/task/%d/maps", (int)t->tgid, (int)t->tid);
    else
        snprintf(path, sizeof path, "/proc/%d/maps", (int)t->tid);
    struct strbuf maps = {0};
    if (!read_file(path, &maps)) {
        emit(rec, "# %d: maps not available (%s)\n", (int)t->tid,
             maps.failed ? "out of memory" : strerror(errno));
        sb_free(&maps);
        return;
    }
    emit(rec, "%d maps ~stack = <<END\n", (int)t->tid);
    if (maps.len && fwrite(maps.data, 1, maps.len, rec->out) != maps.len)
        rec->failed = true;
    if (maps.len && maps.data[maps.len - 1] != '\n')
        emit(rec, "\n");
    emit(rec, "END\n");
    sb_free(&maps);
}

/* Write t's process's maps unless that was done; mark it ended. */
static void end_process(struct recorder *rec, const struct tracee *t)
{
    struct process *p = find_process(rec, t->tgid);
    if (p && p->ended)
        return;
    dump_maps(rec, t);
    if (p)
        p->ended = true;
}

/* ------------------------------------------------------- entry capture ---- */

/* The string at addr into p->path (left NULL when unreadable or addr is NULL). */
static void capture_path(struct pending *p, pid_t tid, uint64_t addr)
{
    if (addr)
        p->path = read_string(tid, addr, &p->path_len);
}

/* argv as strace prints it (["a", "b"]) with its string bytes added to *bytes;
 * false when some pointer or string cannot be read. */
static bool format_argv(struct strbuf *sb, pid_t tid, uint64_t argv, uint64_t *bytes)
{
    sb_putc(sb, '[');
    for (uint64_t i = 0;; i++) {
        uint64_t ptr;
        if (!read_mem(tid, argv + i * sizeof ptr, &ptr, sizeof ptr))
            return false;
        if (!ptr)
            break;
        size_t len;
        char *s = read_string(tid, ptr, &len);
        if (!s)
            return false;
        if (i)
            sb_puts(sb, ", ");
        put_string(sb, s, len);
        *bytes += len + 1;
        free(s);
    }
    sb_putc(sb, ']');
    return !sb->failed;
}

/* The number of envp entries (-1 when unreadable), their string bytes added to *bytes. */
static long count_env(pid_t tid, uint64_t envp, uint64_t *bytes)
{
    uint64_t sum = 0;
    for (long i = 0;; i++) {
        uint64_t ptr;
        if (!read_mem(tid, envp + (uint64_t)i * sizeof ptr, &ptr, sizeof ptr))
            return -1;
        if (!ptr) {
            *bytes += sum;
            return i;
        }
        size_t len;
        char *s = read_string(tid, ptr, &len);
        if (!s)
            return -1;
        sum += len + 1;
        free(s);
    }
}

/* execve's path, argv and envp, read now: a successful exec replaces the memory. */
static void capture_exec(struct pending *p, pid_t tid, uint64_t path, uint64_t argv, uint64_t envp)
{
    capture_path(p, tid, path);
    if (argv) {
        struct strbuf sb = {0};
        if (format_argv(&sb, tid, argv, &p->exec_bytes))
            p->argv_text = sb.data;
        else
            sb_free(&sb);
    } else {
        p->argv_text = strdup("NULL");
    }
    p->envc = envp ? count_env(tid, envp, &p->exec_bytes) : -1;
}

static void capture_clone3(struct pending *p, pid_t tid)
{
    uint64_t size = p->args[1];
    if (size < CLONE_ARGS_SIZE_VER0)
        return;
    size_t n = size < sizeof p->clone3 ? (size_t)size : sizeof p->clone3;
    memset(&p->clone3, 0, sizeof p->clone3);
    p->have_clone3 = read_mem(tid, p->args[0], &p->clone3, n);
}

/* Read at entry what the exit cannot show any more (strings, clone3's struct). */
static void capture_entry(struct pending *p, pid_t tid)
{
    const uint64_t *a = p->args;
    switch (p->nr) {
    case SYS_open:
    case SYS_creat:
        capture_path(p, tid, a[0]);
        break;
    case SYS_openat:
        capture_path(p, tid, a[1]);
        break;
    case SYS_execve:
        capture_exec(p, tid, a[0], a[1], a[2]);
        break;
    case SYS_execveat:
        capture_exec(p, tid, a[1], a[2], a[3]);
        break;
    case SYS_prctl:
        if (a[1] == 0)
            capture_path(p, tid, a[4]);
        break;
    case SYS_clone3:
        capture_clone3(p, tid);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------ tracing ---- */

/* exit_group: the process's maps, then its line (it never returns). */
static void on_exit_group_entry(struct recorder *rec, struct tracee *t)
{
    end_process(rec, t);
    print_call(rec, t, OUT_UNKNOWN, 0);
    for (size_t i = 0; i < rec->ntracees; i++)
        if (rec->tracees[i]->tgid == t->tgid)
            rec->tracees[i]->exiting = true;
}

/* exit: the process ends with it when no other thread still runs. */
static void on_exit_entry(struct recorder *rec, struct tracee *t)
{
    if (!others_alive(rec, t))
        end_process(rec, t);
    print_call(rec, t, OUT_UNKNOWN, 0);
    t->exiting = true;
}

static void on_syscall_entry(struct recorder *rec, struct tracee *t, int nr, const uint64_t *args)
{
    struct pending *p = &t->call;
    pending_clear(p);
    p->active = true;
    p->nr = nr;
    memcpy(p->args, args, sizeof p->args);
    p->recorded = recorded_call(nr, args) != NULL;
    if (!p->recorded)
        return;
    capture_entry(p, t->tid);
    if (nr == SYS_exit_group)
        on_exit_group_entry(rec, t);
    else if (nr == SYS_exit)
        on_exit_entry(rec, t);
}

static void on_syscall_exit(struct recorder *rec, struct tracee *t, int64_t rval, bool is_error)
{
    struct pending *p = &t->call;
    if (!p->active)
        return; /* a new task's first stop, or an exit whose entry preceded tracing */
    if (p->recorded && !p->printed)
        print_call(rec, t, is_error ? OUT_ERROR : OUT_OK, rval);
    pending_clear(p);
}

static void on_syscall_stop(struct recorder *rec, struct tracee *t)
{
    struct __ptrace_syscall_info info;
    memset(&info, 0, sizeof info);
    if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, (void *)sizeof info, &info) <= 0)
        return;
    if (info.arch != AUDIT_ARCH_X86_64_VALUE)
        return; /* 32-bit system calls have other numbers; none is recorded */
    if (info.op == PTRACE_SYSCALL_INFO_ENTRY)
        on_syscall_entry(rec, t, (int)info.entry.nr, info.entry.args);
    else if (info.op == PTRACE_SYSCALL_INFO_EXIT)
        on_syscall_exit(rec, t, info.exit.rval, info.exit.is_error != 0);
}

/* The thread group of tid from /proc (0 when it cannot be read). */
static pid_t tgid_from_proc(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
    struct strbuf sb = {0};
    pid_t tgid = 0;
    if (read_file(path, &sb)) {
        const char *line = strstr(sb.data, "\nTgid:");
        if (line)
            tgid = (pid_t)strtol(line + 6, NULL, 10);
    }
    sb_free(&sb);
    return tgid;
}

/* The thread group a task made by parent's pending call belongs to. */
static pid_t new_task_tgid(const struct tracee *parent, pid_t child)
{
    const struct pending *p = &parent->call;
    if (p->active && p->nr == SYS_clone)
        return (p->args[0] & CL_THREAD) ? parent->tgid : child;
    if (p->active && p->nr == SYS_clone3 && p->have_clone3)
        return (p->clone3.flags & CL_THREAD) ? parent->tgid : child;
    if (p->active && (p->nr == SYS_fork || p->nr == SYS_vfork))
        return child;
    pid_t tgid = tgid_from_proc(child);
    return tgid ? tgid : child;
}

/* PTRACE_EVENT_FORK/VFORK/CLONE: write the creating call, then let the child run. */
static void on_new_task(struct recorder *rec, struct tracee *parent, pid_t child)
{
    pid_t tgid = new_task_tgid(parent, child);
    if (tgid == child)
        process_begin(rec, child);
    if (parent->call.active && parent->call.recorded && !parent->call.printed &&
        creates_task(parent->call.nr))
        print_call(rec, parent, OUT_OK, child);
    struct tracee *c = find_tracee(rec, child);
    if (!c) {
        c = add_tracee(rec, child, tgid);
        if (c) {
            c->first_stop_due = true;
            c->announced = true;
        }
        return;
    }
    c->tgid = tgid;
    c->announced = true;
    if (c->held) {
        c->held = false;
        resume(c->tid, 0);
    }
}

/* PTRACE_EVENT_EXEC.  When a thread other than the leader executed the program, it
 * now has the leader's id: the leader is superseded, and the exec's pending call
 * moves to the leader's record. */
static void on_exec_event(struct recorder *rec, struct tracee *t, pid_t former)
{
    for (size_t i = 0; i < rec->ntracees; i++)
        if (rec->tracees[i] != t && rec->tracees[i]->tgid == t->tgid)
            rec->tracees[i]->exiting = true; /* the exec killed them */
    t->exiting = false;
    if (former == t->tid)
        return;
    print_unfinished(rec, t);
    emit(rec, "%d +++ superseded by execve in pid %d +++\n", (int)t->tid, (int)former);
    struct tracee *e = find_tracee(rec, former);
    pending_clear(&t->call);
    if (e) {
        t->call = e->call;
        e->call = (struct pending){.envc = -1};
        remove_tracee(rec, e);
    }
}

/* PTRACE_EVENT_EXIT: a thread is leaving with its memory still there.  Its process
 * ends here when a signal kills it or when no other thread still runs. */
static void on_exit_event(struct recorder *rec, struct tracee *t, int code)
{
    if (WIFSIGNALED(code) || !others_alive(rec, t))
        end_process(rec, t);
    t->exiting = true;
}

static void on_event(struct recorder *rec, struct tracee *t, int event)
{
    unsigned long msg = 0;
    ptrace(PTRACE_GETEVENTMSG, t->tid, NULL, &msg);
    switch (event) {
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE:
        on_new_task(rec, t, (pid_t)msg);
        break;
    case PTRACE_EVENT_EXEC:
        on_exec_event(rec, t, (pid_t)msg);
        break;
    case PTRACE_EVENT_EXIT:
        on_exit_event(rec, t, (int)msg);
        break;
    default:
        break;
    }
}

/* "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---" */
static void print_fault_signal(struct recorder *rec, const struct tracee *t, const siginfo_t *si)
{
    struct strbuf *sb = &rec->line;
    sb_printf(sb, "%d --- ", (int)t->tid);
    put_signal(sb, (uint64_t)si->si_signo);
    sb_puts(sb, " {si_signo=");
    put_signal(sb, (uint64_t)si->si_signo);
    sb_puts(sb, ", si_code=");
    const char *code = si->si_code > 0 && si->si_code != 0x80
                           ? (si->si_signo == SIGSEGV ? name_of((uint64_t)si->si_code, segv_codes,
                                                                COUNT(segv_codes))
                                                      : name_of((uint64_t)si->si_code, bus_codes,
                                                                COUNT(bus_codes)))
                           : name_of((uint64_t)(int64_t)si->si_code, si_codes, COUNT(si_codes));
    if (code)
        sb_puts(sb, code);
    else
        sb_printf(sb, "%d", si->si_code);
    if (si->si_code > 0) {
        sb_puts(sb, ", si_addr=");
        put_addr(sb, (uint64_t)(uintptr_t)si->si_addr);
    } else {
        sb_printf(sb, ", si_pid=%d, si_uid=%u", (int)si->si_pid, (unsigned)si->si_uid);
    }
    sb_puts(sb, "} ---");
    flush_line(rec);
}

/* A stop that is no system call and no ptrace event: a new task's first SIGSTOP, a
 * group-stop, or a signal about to be delivered (which goes on to the tracee). */
static void on_signal_stop(struct recorder *rec, struct tracee *t, int sig)
{
    if (t->first_stop_due && sig == SIGSTOP) {
        t->first_stop_due = false;
        if (t->announced)
            resume(t->tid, 0);
        else
            t->held = true;
        return;
    }
    siginfo_t si;
    if (ptrace(PTRACE_GETSIGINFO, t->tid, NULL, &si) < 0) {
        /* group-stop: without PTRACE_SEIZE the tracee can only be restarted */
        struct strbuf *sb = &rec->line;
        sb_printf(sb, "%d --- stopped by ", (int)t->tid);
        put_signal(sb, (uint64_t)sig);
        sb_puts(sb, " ---");
        flush_line(rec);
        resume(t->tid, 0);
        return;
    }
    if (sig == SIGSEGV || sig == SIGBUS)
        print_fault_signal(rec, t, &si);
    resume(t->tid, sig);
}

/* Tasks held for an announcement that cannot come any more (their creator died
 * inside clone) are let go. */
static void release_orphans(struct recorder *rec, const struct tracee *dead)
{
    if (!dead->call.active || !creates_task(dead->call.nr))
        return;
    for (size_t i = 0; i < rec->ntracees; i++) {
        struct tracee *u = rec->tracees[i];
        if (!u->announced) {
            u->announced = true;
            if (u->tgid == 0)
                u->tgid = u->tid;
            if (u->held) {
                u->held = false;
                resume(u->tid, 0);
            }
        }
    }
}

/* A tracee is gone: "+++ exited with N +++" or "+++ killed by SIG +++". */
static void on_death(struct recorder *rec, pid_t tid, int status)
{
    if (tid == rec->first) {
        rec->first_status = status;
        rec->first_reaped = true;
    }
    struct tracee *t = find_tracee(rec, tid);
    if (!t)
        return; /* a thread id an exec took over */
    struct process *p = find_process(rec, t->tgid);
    if (!p || !p->ended)
        print_unfinished(rec, t); /* a call its own process's end cut off is left out */
    if (p && !p->ended && !others_exist(rec, t)) {
        emit(rec, "# %d: maps not available (the process died without a last stop)\n", (int)tid);
        p->ended = true;
    }
    if (WIFEXITED(status)) {
        emit(rec, "%d +++ exited with %d +++\n", (int)tid, WEXITSTATUS(status));
    } else {
        struct strbuf *sb = &rec->line;
        sb_printf(sb, "%d +++ killed by ", (int)tid);
        put_signal(sb, (uint64_t)WTERMSIG(status));
        sb_puts(sb, WCOREDUMP(status) ? " (core dumped) +++" : " +++");
        flush_line(rec);
    }
    release_orphans(rec, t);
    remove_tracee(rec, t);
}

/* One waitpid report. */
static void on_wait(struct recorder *rec, pid_t tid, int status)
{
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        on_death(rec, tid, status);
        return;
    }
    if (!WIFSTOPPED(status))
        return;
    struct tracee *t = find_tracee(rec, tid);
    if (!t) {
        /* a new task reporting before its creator's event: hold it until then */
        t = add_tracee(rec, tid, 0);
        if (!t) {
            resume(tid, 0);
            return;
        }
        t->first_stop_due = true;
    }
    int sig = WSTOPSIG(status), event = (int)((unsigned)status >> 16);
    if (sig == (SIGTRAP | 0x80)) {
        on_syscall_stop(rec, t);
        resume(tid, 0);
    } else if (event) {
        on_event(rec, t, event);
        resume(tid, 0);
    } else {
        on_signal_stop(rec, t, sig);
    }
}

static void trace_all(struct recorder *rec)
{
    for (;;) {
        int status;
        pid_t tid = waitpid(-1, &status, __WALL);
        if (tid < 0) {
            if (errno == EINTR)
                continue;
            return; /* ECHILD: every tracee is gone */
        }
        on_wait(rec, tid, status);
    }
}

/* -------------------------------------------------------------- setup ---- */

/* The traced child: become a tracee, stop until the recorder is ready, turn address
 * randomization off, and become the program. */
static _Noreturn void child_exec(const char *path, char **argv)
{
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) {
        fprintf(stderr, "pagoda record: ptrace: %s\n", strerror(errno));
        _exit(126);
    }
    raise(SIGSTOP);
    personality(PER_LINUX | ADDR_NO_RANDOMIZE);
    execv(path, argv);
    _exit(127);
}

/* Is path an executable regular file?  errno says why not. */
static bool is_executable(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    if (!S_ISREG(st.st_mode)) {
        errno = EACCES;
        return false;
    }
    return access(path, X_OK) == 0;
}

/* PROGRAM as execvp finds it: as given when it has a '/', else the first executable
 * PATH entry.  Heap string, or NULL when there is none (errno set). */
static char *find_program(const char *name)
{
    if (strchr(name, '/')) {
        if (!is_executable(name))
            return NULL;
        return strdup(name);
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/bin:/usr/bin";
    for (const char *dir = path;;) {
        const char *end = strchr(dir, ':');
        size_t dlen = end ? (size_t)(end - dir) : strlen(dir);
        size_t need = dlen + strlen(name) + 3;
        char *full = malloc(need);
        if (!full)
            return NULL;
        snprintf(full, need, "%.*s%s%s", (int)dlen, dlen ? dir : ".", dlen ? "/" : "/", name);
        if (is_executable(full))
            return full;
        free(full);
        if (!end)
            break;
        dir = end + 1;
    }
    errno = ENOENT;
    return NULL;
}

/* Can s be shown in the header as is (no blank, quote, control or non-ASCII byte)? */
static bool is_plain_word(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || *s == '"' || *s == '\\')
            return false;
    return true;
}

/* "# pagoda record: PROGRAM ARGS" (other words as C string literals, so the comment
 * stays one line) and "# host kernel: RELEASE". */
static void write_header(struct recorder *rec, char **argv)
{
    struct strbuf *sb = &rec->line;
    sb_puts(sb, "# pagoda record:");
    for (size_t i = 0; argv[i]; i++) {
        sb_putc(sb, ' ');
        if (is_plain_word(argv[i]))
            sb_puts(sb, argv[i]);
        else
            put_string(sb, argv[i], strlen(argv[i]));
    }
    flush_line(rec);
    struct utsname u;
    emit(rec, "# host kernel: %s\n", uname(&u) == 0 ? u.release : "unknown");
}

static void usage(void)
{
    fputs("usage: pagoda record [-o FILE] [--] PROGRAM [ARGS...]\n", stderr);
}

struct record_args {
    const char *out_path; /* NULL: stdout */
    char **program;       /* PROGRAM ARGS..., NULL-terminated */
};

/* Parse "[-o FILE] [--] PROGRAM ARGS..."; false after a usage message. */
static bool parse_args(int argc, char **argv, struct record_args *ra)
{
    int i = 1;
    ra->out_path = NULL;
    while (i < argc && argv[i][0] == '-') {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            ra->out_path = argv[i + 1];
            i += 2;
        } else if (!strncmp(argv[i], "-o", 2) && argv[i][2]) {
            ra->out_path = argv[i] + 2;
            i++;
        } else {
            fprintf(stderr, "pagoda record: %s '%s'\n",
                    strcmp(argv[i], "-o") ? "unknown option" : "missing FILE after", argv[i]);
            usage();
            return false;
        }
    }
    if (i >= argc) {
        fputs("pagoda record: no PROGRAM given\n", stderr);
        usage();
        return false;
    }
    ra->program = argv + i;
    return true;
}

/* Start the child and wait for its first stop; its pid, or -1 after a message. */
static pid_t start_child(const char *path, char **argv)
{
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "pagoda record: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0)
        child_exec(path, argv);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP) {
        fputs("pagoda record: the child could not be traced\n", stderr);
        return -1;
    }
    if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(intptr_t)TRACE_OPTIONS) < 0) {
        fprintf(stderr, "pagoda record: ptrace(PTRACE_SETOPTIONS): %s\n", strerror(errno));
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
    }
    return pid;
}

static void free_recorder(struct recorder *rec)
{
    while (rec->ntracees)
        remove_tracee(rec, rec->tracees[0]);
    free(rec->tracees);
    free(rec->procs);
    sb_free(&rec->line);
}

/* Trace the program to its end; its exit status, or 2 when tracing failed. */
static int record_program(struct recorder *rec, const char *path, char **argv)
{
    write_header(rec, argv);
    fflush(rec->out);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = start_child(path, argv);
    if (pid < 0)
        return 2;
    rec->first = pid;
    process_begin(rec, pid);
    struct tracee *t = add_tracee(rec, pid, pid);
    if (t)
        t->announced = true;
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old_int, old_quit;
    sigaction(SIGINT, &ignore, &old_int);
    sigaction(SIGQUIT, &ignore, &old_quit);
    resume(pid, 0);
    trace_all(rec);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    if (!rec->first_reaped)
        return 2;
    if (WIFEXITED(rec->first_status))
        return WEXITSTATUS(rec->first_status);
    return 128 + WTERMSIG(rec->first_status);
}

int record_main(int argc, char **argv)
{
    struct record_args ra;
    if (!parse_args(argc, argv, &ra))
        return 2;
    char *path = find_program(ra.program[0]);
    if (!path) {
        fprintf(stderr, "pagoda record: %s: %s\n", ra.program[0], strerror(errno));
        return 127;
    }
    struct recorder rec = {.out = stdout};
    if (ra.out_path) {
        rec.out = fopen(ra.out_path, "we");
        if (!rec.out) {
            fprintf(stderr, "pagoda record: %s: %s\n", ra.out_path, strerror(errno));
            free(path);
            return 2;
        }
    } else {
        setvbuf(stdout, NULL, _IOLBF, 0);
    }
    int rc = record_program(&rec, path, ra.program);
    if (fflush(rec.out) != 0)
        rec.failed = true;
    if (ra.out_path && fclose(rec.out) != 0)
        rec.failed = true;
    if (rec.failed)
        fputs("pagoda record: the log is incomplete (out of memory or write error)\n", stderr);
    free_recorder(&rec);
    free(path);
    return rc;
}
