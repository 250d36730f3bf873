/*
 * cli/abi.c - x86-64 UAPI constants by name, and script values as register words.
 *
 * Values are those of Linux 6.18's include/uapi headers as x86-64 uses them
 * (asm-generic/mman-common.h, asm-generic/fcntl.h, linux/mman.h, linux/prctl.h,
 * linux/personality.h, linux/ipc.h, linux/shm.h, linux/fcntl.h).  Names are grouped
 * by prefix so a lookup scans one family.
 */
#include "cli/abi.h"

#include <stdio.h>
#include <string.h>

struct abi_const {
    const char *name;
    uint64_t value;
};

#define HUGE(log2) ((uint64_t)(log2) << 26)

static const struct abi_const prot_names[] = {
    {"PROT_NONE", 0},          {"PROT_READ", 0x1},        {"PROT_WRITE", 0x2},
    {"PROT_EXEC", 0x4},        {"PROT_SEM", 0x8},         {"PROT_GROWSDOWN", 0x01000000},
    {"PROT_GROWSUP", 0x02000000},
};

static const struct abi_const map_names[] = {
    {"MAP_FILE", 0},
    {"MAP_SHARED", 0x01},
    {"MAP_PRIVATE", 0x02},
    {"MAP_SHARED_VALIDATE", 0x03},
    {"MAP_DROPPABLE", 0x08},
    {"MAP_TYPE", 0x0f},
    {"MAP_FIXED", 0x10},
    {"MAP_ANONYMOUS", 0x20},
    {"MAP_ANON", 0x20},
    {"MAP_32BIT", 0x40},
    {"MAP_ABOVE4G", 0x80},
    {"MAP_GROWSDOWN", 0x100},
    {"MAP_DENYWRITE", 0x800},
    {"MAP_EXECUTABLE", 0x1000},
    {"MAP_LOCKED", 0x2000},
    {"MAP_NORESERVE", 0x4000},
    {"MAP_POPULATE", 0x8000},
    {"MAP_NONBLOCK", 0x10000},
    {"MAP_STACK", 0x20000},
    {"MAP_HUGETLB", 0x40000},
    {"MAP_SYNC", 0x80000},
    {"MAP_FIXED_NOREPLACE", 0x100000},
    {"MAP_UNINITIALIZED", 0x4000000},
    {"MAP_HUGE_SHIFT", 26},
    {"MAP_HUGE_MASK", 0x3f},
    {"MAP_HUGE_16KB", HUGE(14)},
    {"MAP_HUGE_64KB", HUGE(16)},
    {"MAP_HUGE_512KB", HUGE(19)},
    {"MAP_HUGE_1MB", HUGE(20)},
    {"MAP_HUGE_2MB", HUGE(21)},
    {"MAP_HUGE_8MB", HUGE(23)},
    {"MAP_HUGE_16MB", HUGE(24)},
    {"MAP_HUGE_32MB", HUGE(25)},
    {"MAP_HUGE_256MB", HUGE(28)},
    {"MAP_HUGE_512MB", HUGE(29)},
    {"MAP_HUGE_1GB", HUGE(30)},
    {"MAP_HUGE_2GB", HUGE(31)},
    {"MAP_HUGE_16GB", HUGE(34)},
};

static const struct abi_const mremap_names[] = {
    {"MREMAP_MAYMOVE", 1},
    {"MREMAP_FIXED", 2},
    {"MREMAP_DONTUNMAP", 4},
};

static const struct abi_const madv_names[] = {
    {"MADV_NORMAL", 0},          {"MADV_RANDOM", 1},           {"MADV_SEQUENTIAL", 2},
    {"MADV_WILLNEED", 3},        {"MADV_DONTNEED", 4},         {"MADV_FREE", 8},
    {"MADV_REMOVE", 9},          {"MADV_DONTFORK", 10},        {"MADV_DOFORK", 11},
    {"MADV_MERGEABLE", 12},      {"MADV_UNMERGEABLE", 13},     {"MADV_HUGEPAGE", 14},
    {"MADV_NOHUGEPAGE", 15},     {"MADV_DONTDUMP", 16},        {"MADV_DODUMP", 17},
    {"MADV_WIPEONFORK", 18},     {"MADV_KEEPONFORK", 19},      {"MADV_COLD", 20},
    {"MADV_PAGEOUT", 21},        {"MADV_POPULATE_READ", 22},   {"MADV_POPULATE_WRITE", 23},
    {"MADV_DONTNEED_LOCKED", 24}, {"MADV_COLLAPSE", 25},       {"MADV_HWPOISON", 100},
    {"MADV_SOFT_OFFLINE", 101},  {"MADV_GUARD_INSTALL", 102},  {"MADV_GUARD_REMOVE", 103},
};

static const struct abi_const mlock_names[] = {
    {"MCL_CURRENT", 1},
    {"MCL_FUTURE", 2},
    {"MCL_ONFAULT", 4},
    {"MLOCK_ONFAULT", 1},
};

static const struct abi_const ms_names[] = {
    {"MS_ASYNC", 1},
    {"MS_INVALIDATE", 2},
    {"MS_SYNC", 4},
};

/* O_LARGEFILE is 0100000 as strace prints it; the 64-bit kernel forces it anyway. */
static const struct abi_const o_names[] = {
    {"O_RDONLY", 0},           {"O_WRONLY", 01},          {"O_RDWR", 02},
    {"O_ACCMODE", 03},         {"O_CREAT", 0100},         {"O_EXCL", 0200},
    {"O_NOCTTY", 0400},        {"O_TRUNC", 01000},        {"O_APPEND", 02000},
    {"O_NONBLOCK", 04000},     {"O_NDELAY", 04000},       {"O_DSYNC", 010000},
    {"O_ASYNC", 020000},       {"O_DIRECT", 040000},      {"O_LARGEFILE", 0100000},
    {"O_DIRECTORY", 0200000},  {"O_NOFOLLOW", 0400000},   {"O_NOATIME", 01000000},
    {"O_CLOEXEC", 02000000},   {"O_SYNC", 04010000},      {"O_RSYNC", 04010000},
    {"O_FSYNC", 04010000},     {"O_PATH", 010000000},     {"O_TMPFILE", 020200000},
};

static const struct abi_const at_names[] = {
    {"AT_FDCWD", (uint64_t)-100},     {"AT_SYMLINK_NOFOLLOW", 0x100}, {"AT_EACCESS", 0x200},
    {"AT_REMOVEDIR", 0x200},          {"AT_SYMLINK_FOLLOW", 0x400},   {"AT_NO_AUTOMOUNT", 0x800},
    {"AT_EMPTY_PATH", 0x1000},        {"AT_STATX_SYNC_AS_STAT", 0},   {"AT_STATX_FORCE_SYNC", 0x2000},
    {"AT_STATX_DONT_SYNC", 0x4000},   {"AT_RECURSIVE", 0x8000},
};

static const struct abi_const pr_names[] = {
    {"PR_SET_PDEATHSIG", 1},           {"PR_GET_PDEATHSIG", 2},          {"PR_GET_DUMPABLE", 3},
    {"PR_SET_DUMPABLE", 4},            {"PR_GET_UNALIGN", 5},            {"PR_SET_UNALIGN", 6},
    {"PR_GET_KEEPCAPS", 7},            {"PR_SET_KEEPCAPS", 8},           {"PR_GET_FPEMU", 9},
    {"PR_SET_FPEMU", 10},              {"PR_GET_FPEXC", 11},             {"PR_SET_FPEXC", 12},
    {"PR_GET_TIMING", 13},             {"PR_SET_TIMING", 14},            {"PR_SET_NAME", 15},
    {"PR_GET_NAME", 16},               {"PR_GET_ENDIAN", 19},            {"PR_SET_ENDIAN", 20},
    {"PR_GET_SECCOMP", 21},            {"PR_SET_SECCOMP", 22},           {"PR_CAPBSET_READ", 23},
    {"PR_CAPBSET_DROP", 24},           {"PR_GET_TSC", 25},               {"PR_SET_TSC", 26},
    {"PR_GET_SECUREBITS", 27},         {"PR_SET_SECUREBITS", 28},        {"PR_SET_TIMERSLACK", 29},
    {"PR_GET_TIMERSLACK", 30},         {"PR_TASK_PERF_EVENTS_DISABLE", 31},
    {"PR_TASK_PERF_EVENTS_ENABLE", 32}, {"PR_MCE_KILL", 33},             {"PR_MCE_KILL_GET", 34},
    {"PR_SET_MM", 35},                 {"PR_SET_CHILD_SUBREAPER", 36},   {"PR_GET_CHILD_SUBREAPER", 37},
    {"PR_SET_NO_NEW_PRIVS", 38},       {"PR_GET_NO_NEW_PRIVS", 39},      {"PR_GET_TID_ADDRESS", 40},
    {"PR_SET_THP_DISABLE", 41},        {"PR_GET_THP_DISABLE", 42},       {"PR_MPX_ENABLE_MANAGEMENT", 43},
    {"PR_MPX_DISABLE_MANAGEMENT", 44}, {"PR_SET_FP_MODE", 45},           {"PR_GET_FP_MODE", 46},
    {"PR_CAP_AMBIENT", 47},            {"PR_SVE_SET_VL", 50},            {"PR_SVE_GET_VL", 51},
    {"PR_GET_SPECULATION_CTRL", 52},   {"PR_SET_SPECULATION_CTRL", 53},  {"PR_PAC_RESET_KEYS", 54},
    {"PR_SET_TAGGED_ADDR_CTRL", 55},   {"PR_GET_TAGGED_ADDR_CTRL", 56},  {"PR_SET_IO_FLUSHER", 57},
    {"PR_GET_IO_FLUSHER", 58},         {"PR_SET_SYSCALL_USER_DISPATCH", 59},
    {"PR_PAC_SET_ENABLED_KEYS", 60},   {"PR_PAC_GET_ENABLED_KEYS", 61},  {"PR_SCHED_CORE", 62},
    {"PR_SME_SET_VL", 63},             {"PR_SME_GET_VL", 64},            {"PR_SET_MDWE", 65},
    {"PR_GET_MDWE", 66},               {"PR_SET_MEMORY_MERGE", 67},      {"PR_GET_MEMORY_MERGE", 68},
    {"PR_RISCV_V_SET_CONTROL", 69},    {"PR_RISCV_V_GET_CONTROL", 70},   {"PR_RISCV_SET_ICACHE_FLUSH_CTX", 71},
    {"PR_PPC_GET_DEXCR", 72},          {"PR_PPC_SET_DEXCR", 73},         {"PR_GET_SHADOW_STACK_STATUS", 74},
    {"PR_SET_SHADOW_STACK_STATUS", 75}, {"PR_LOCK_SHADOW_STACK_STATUS", 76},
    {"PR_TIMER_CREATE_RESTORE_IDS", 77}, {"PR_FUTEX_HASH", 78},
    {"PR_SET_PTRACER", 0x59616d61},    {"PR_SET_VMA", 0x53564d41},       {"PR_SET_VMA_ANON_NAME", 0},
    {"PR_MDWE_REFUSE_EXEC_GAIN", 1},   {"PR_MDWE_NO_INHERIT", 2},
};

#define UNAME26 0x0020000
#define ADDR_NO_RANDOMIZE 0x0040000
#define FDPIC_FUNCPTRS 0x0080000
#define MMAP_PAGE_ZERO 0x0100000
#define ADDR_COMPAT_LAYOUT 0x0200000
#define READ_IMPLIES_EXEC 0x0400000
#define ADDR_LIMIT_32BIT 0x0800000
#define SHORT_INODE 0x1000000
#define WHOLE_SECONDS 0x2000000
#define STICKY_TIMEOUTS 0x4000000
#define ADDR_LIMIT_3GB 0x8000000

static const struct abi_const per_names[] = {
    {"PER_LINUX", 0x0000},
    {"PER_LINUX_32BIT", ADDR_LIMIT_32BIT},
    {"PER_LINUX_FDPIC", FDPIC_FUNCPTRS},
    {"PER_SVR4", 0x0001 | STICKY_TIMEOUTS | MMAP_PAGE_ZERO},
    {"PER_SVR3", 0x0002 | STICKY_TIMEOUTS | SHORT_INODE},
    {"PER_SCOSVR3", 0x0003 | STICKY_TIMEOUTS | WHOLE_SECONDS | SHORT_INODE},
    {"PER_OSR5", 0x0003 | STICKY_TIMEOUTS | WHOLE_SECONDS},
    {"PER_WYSEV386", 0x0004 | STICKY_TIMEOUTS | SHORT_INODE},
    {"PER_ISCR4", 0x0005 | STICKY_TIMEOUTS},
    {"PER_BSD", 0x0006},
    {"PER_SUNOS", 0x0006 | STICKY_TIMEOUTS},
    {"PER_XENIX", 0x0007 | STICKY_TIMEOUTS | SHORT_INODE},
    {"PER_LINUX32", 0x0008},
    {"PER_LINUX32_3GB", 0x0008 | ADDR_LIMIT_3GB},
    {"PER_IRIX32", 0x0009 | STICKY_TIMEOUTS},
    {"PER_IRIXN32", 0x000a | STICKY_TIMEOUTS},
    {"PER_IRIX64", 0x000b | STICKY_TIMEOUTS},
    {"PER_RISCOS", 0x000c},
    {"PER_SOLARIS", 0x000d | STICKY_TIMEOUTS},
    {"PER_UW7", 0x000e | STICKY_TIMEOUTS | MMAP_PAGE_ZERO},
    {"PER_OSF4", 0x000f},
    {"PER_HPUX", 0x0010},
    {"PER_MASK", 0x00ff},
};

/* Names with no common prefix: personality flags. */
static const struct abi_const misc_names[] = {
    {"UNAME26", UNAME26},
    {"ADDR_NO_RANDOMIZE", ADDR_NO_RANDOMIZE},
    {"FDPIC_FUNCPTRS", FDPIC_FUNCPTRS},
    {"MMAP_PAGE_ZERO", MMAP_PAGE_ZERO},
    {"ADDR_COMPAT_LAYOUT", ADDR_COMPAT_LAYOUT},
    {"READ_IMPLIES_EXEC", READ_IMPLIES_EXEC},
    {"ADDR_LIMIT_32BIT", ADDR_LIMIT_32BIT},
    {"SHORT_INODE", SHORT_INODE},
    {"WHOLE_SECONDS", WHOLE_SECONDS},
    {"STICKY_TIMEOUTS", STICKY_TIMEOUTS},
    {"ADDR_LIMIT_3GB", ADDR_LIMIT_3GB},
};

/* System V shared memory (shmget/shmat/shmctl). */
static const struct abi_const ipc_names[] = {
    {"IPC_PRIVATE", 0},  {"IPC_CREAT", 01000}, {"IPC_EXCL", 02000}, {"IPC_NOWAIT", 04000},
    {"IPC_RMID", 0},     {"IPC_SET", 1},       {"IPC_STAT", 2},     {"IPC_INFO", 3},
};

static const struct abi_const shm_names[] = {
    {"SHM_HUGETLB", 04000}, {"SHM_NORESERVE", 010000}, {"SHM_RDONLY", 010000}, {"SHM_RND", 020000},
    {"SHM_REMAP", 040000},  {"SHM_EXEC", 0100000},     {"SHM_LOCK", 11},       {"SHM_UNLOCK", 12},
    {"SHM_STAT", 13},       {"SHM_INFO", 14},          {"SHM_STAT_ANY", 15},
};

/* clone/clone3 flags (linux/sched.h). */
static const struct abi_const clone_names[] = {
    {"CLONE_NEWTIME", 0x80},          {"CLONE_VM", 0x100},              {"CLONE_FS", 0x200},
    {"CLONE_FILES", 0x400},           {"CLONE_SIGHAND", 0x800},         {"CLONE_PIDFD", 0x1000},
    {"CLONE_PTRACE", 0x2000},         {"CLONE_VFORK", 0x4000},          {"CLONE_PARENT", 0x8000},
    {"CLONE_THREAD", 0x10000},        {"CLONE_NEWNS", 0x20000},         {"CLONE_SYSVSEM", 0x40000},
    {"CLONE_SETTLS", 0x80000},        {"CLONE_PARENT_SETTID", 0x100000}, {"CLONE_CHILD_CLEARTID", 0x200000},
    {"CLONE_DETACHED", 0x400000},     {"CLONE_UNTRACED", 0x800000},     {"CLONE_CHILD_SETTID", 0x1000000},
    {"CLONE_NEWCGROUP", 0x2000000},   {"CLONE_NEWUTS", 0x4000000},      {"CLONE_NEWIPC", 0x8000000},
    {"CLONE_NEWUSER", 0x10000000},    {"CLONE_NEWPID", 0x20000000},     {"CLONE_NEWNET", 0x40000000},
    {"CLONE_IO", 0x80000000},         {"CLONE_CLEAR_SIGHAND", 0x100000000ULL},
    {"CLONE_INTO_CGROUP", 0x200000000ULL},
};

/* Signal numbers (x86-64), as clone's exit signal and "killed by" name them. */
static const struct abi_const sig_names[] = {
    {"SIGHUP", 1},   {"SIGINT", 2},     {"SIGQUIT", 3},  {"SIGILL", 4},    {"SIGTRAP", 5},  {"SIGABRT", 6},
    {"SIGIOT", 6},   {"SIGBUS", 7},     {"SIGFPE", 8},   {"SIGKILL", 9},   {"SIGUSR1", 10}, {"SIGSEGV", 11},
    {"SIGUSR2", 12}, {"SIGPIPE", 13},   {"SIGALRM", 14}, {"SIGTERM", 15},  {"SIGSTKFLT", 16},
    {"SIGCHLD", 17}, {"SIGCONT", 18},   {"SIGSTOP", 19}, {"SIGTSTP", 20},  {"SIGTTIN", 21}, {"SIGTTOU", 22},
    {"SIGURG", 23},  {"SIGXCPU", 24},   {"SIGXFSZ", 25}, {"SIGVTALRM", 26}, {"SIGPROF", 27},
    {"SIGWINCH", 28}, {"SIGIO", 29},    {"SIGPOLL", 29}, {"SIGPWR", 30},   {"SIGSYS", 31},  {"SIGRTMIN", 32},
};

/* wait4/waitid options. */
static const struct abi_const wait_names[] = {
    {"WNOHANG", 1},        {"WUNTRACED", 2},           {"WSTOPPED", 2},         {"WEXITED", 4},
    {"WCONTINUED", 8},     {"WNOWAIT", 0x01000000},    {"__WNOTHREAD", 0x20000000},
    {"__WALL", 0x40000000}, {"__WCLONE", 0x80000000},
};

/* fcntl commands and descriptor flags. */
static const struct abi_const fcntl_names[] = {
    {"F_DUPFD", 0},  {"F_GETFD", 1},  {"F_SETFD", 2},  {"F_GETFL", 3},  {"F_SETFL", 4},
    {"F_GETLK", 5},  {"F_SETLK", 6},  {"F_SETLKW", 7}, {"F_SETOWN", 8}, {"F_GETOWN", 9},
    {"F_SETSIG", 10}, {"F_GETSIG", 11}, {"F_DUPFD_CLOEXEC", 1030}, {"F_ADD_SEALS", 1033},
    {"F_GET_SEALS", 1034}, {"FD_CLOEXEC", 1},
};

/* memfd_create and close_range flags. */
static const struct abi_const mfd_names[] = {
    {"MFD_CLOEXEC", 1}, {"MFD_ALLOW_SEALING", 2}, {"MFD_HUGETLB", 4}, {"MFD_NOEXEC_SEAL", 8}, {"MFD_EXEC", 0x10},
};
static const struct abi_const close_range_names[] = {
    {"CLOSE_RANGE_UNSHARE", 2}, {"CLOSE_RANGE_CLOEXEC", 4},
};

struct abi_family {
    const char *prefix; /* "" matches every name */
    const struct abi_const *table;
    size_t n;
};

#define FAMILY(prefix, table) {prefix, table, sizeof(table) / sizeof(table[0])}

static const struct abi_family families[] = {
    FAMILY("PROT_", prot_names),   FAMILY("MAP_", map_names),   FAMILY("MREMAP_", mremap_names),
    FAMILY("MADV_", madv_names),   FAMILY("MCL_", mlock_names), FAMILY("MLOCK_", mlock_names),
    FAMILY("MS_", ms_names),       FAMILY("O_", o_names),       FAMILY("AT_", at_names),
    FAMILY("PR_", pr_names),       FAMILY("PER_", per_names),   FAMILY("IPC_", ipc_names),
    FAMILY("SHM_", shm_names),     FAMILY("CLONE_", clone_names), FAMILY("SIG", sig_names),
    FAMILY("W", wait_names),       FAMILY("__W", wait_names),   FAMILY("F", fcntl_names),
    FAMILY("MFD_", mfd_names),     FAMILY("CLOSE_RANGE_", close_range_names), FAMILY("", misc_names),
};

bool abi_lookup(const char *name, uint64_t *value)
{
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        const struct abi_family *fam = &families[f];
        if (strncmp(name, fam->prefix, strlen(fam->prefix)))
            continue;
        for (size_t i = 0; i < fam->n; i++) {
            if (!strcmp(name, fam->table[i].name)) {
                *value = fam->table[i].value;
                return true;
            }
        }
    }
    return false;
}

/* "unknown flag 'X'", remembering X for its column. */
static int fail_unknown(struct abi_error *err, const char *ident)
{
    snprintf(err->message, sizeof(err->message), "unknown flag '%s'", ident);
    err->ident = ident;
    return -1;
}

/* One term of a flag set: a name, a number, A<<B or A*B. */
static int term_value(const struct script_term *t, uint64_t *out, struct abi_error *err)
{
    uint64_t lhs, rhs;
    switch (t->kind) {
    case SCRIPT_TERM_IDENT:
        return abi_lookup(t->ident, out) ? 0 : fail_unknown(err, t->ident);
    case SCRIPT_TERM_NUMBER:
        *out = t->num.bits;
        return 0;
    case SCRIPT_TERM_SHIFT:
    case SCRIPT_TERM_PRODUCT:
        if (term_value(t->lhs, &lhs, err) || term_value(t->rhs, &rhs, err))
            return -1;
        if (t->kind == SCRIPT_TERM_PRODUCT)
            *out = lhs * rhs;
        else
            *out = rhs < 64 ? lhs << rhs : 0;
        return 0;
    }
    return -1;
}

/* A value that is no number (array, struct, call...). */
static int fail_not_number(const struct script_value *v, struct abi_error *err)
{
    char text[64];
    script_value_format(v, text, sizeof(text));
    snprintf(err->message, sizeof(err->message), "cannot use '%s' as a number", text);
    err->ident = NULL;
    return -1;
}

int abi_value(const struct script_value *v, uint64_t *out, struct abi_error *err)
{
    *out = 0;
    err->message[0] = '\0';
    err->ident = NULL;
    switch (v->kind) {
    case SCRIPT_V_INT:
        *out = v->num.bits;
        return 0;
    case SCRIPT_V_NULL:
        return 0;
    case SCRIPT_V_STRING:
        *out = (uint64_t)(uintptr_t)v->str.bytes;
        return 0;
    case SCRIPT_V_FD:
        *out = (uint64_t)v->fd.number;
        return 0;
    case SCRIPT_V_NAMED:
        return abi_value(v->named.value, out, err);
    case SCRIPT_V_WORD:
        return abi_lookup(v->word, out) ? 0 : fail_unknown(err, v->word);
    case SCRIPT_V_FLAGS:
        for (size_t i = 0; i < v->flags.n; i++) {
            uint64_t term;
            if (term_value(&v->flags.terms[i], &term, err))
                return -1;
            *out |= term;
        }
        return 0;
    default:
        return fail_not_number(v, err);
    }
}
