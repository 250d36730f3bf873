/*
 * kernel/files.c - descriptor tables: openat/open, close, dup, dup2, dup3 with
 * Linux's descriptor numbering (lowest free), errno precedence and close-on-exec.
 *
 * A descriptor names an open description (struct open_file) that dup()ed
 * descriptors share; the description holds the mm_file that mappings see, so a
 * mapping through a dup()ed descriptor merges with one through the original, while a
 * second openat() of the same path does not.  Files are the host's real files, opened
 * by mm_file_open (read-only on the host, whatever mode the program asked for).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hw/bug.h"
#include "kernel/internal.h"

/* x86-64 open(2) flag values used here (include/uapi/asm-generic/fcntl.h). */
#define KO_RDWR 02
#define KO_CLOEXEC 02000000
#define KO_PATH 010000000
#define K_AT_FDCWD (-100)
#define K_PATH_MAX 4096

/* A new description holding a reference on `file`; NULL on allocation failure. */
static struct open_file *open_file_create(struct mm_file *file, int flags)
{
    struct open_file *of = calloc(1, sizeof(*of));
    if (!of)
        return NULL;
    of->refcount = 1;
    of->file = file;
    of->flags = flags;
    return of;
}

/* Drop a descriptor's reference; the last one releases the file. */
static void open_file_put(struct open_file *of)
{
    PAGODA_BUG_ON(of->refcount <= 0, "open_file refcount positive while referenced");
    if (--of->refcount == 0) {
        mm_file_put(of->file);
        free(of);
    }
}

/* mm_file_open's error as a negative errno, whichever sign it was reported with. */
static long negative_errno(int err)
{
    if (err > 0)
        return -err;
    return err < 0 ? err : -EIO;
}

struct fd_table *fd_table_create(void)
{
    struct fd_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->refcount = 1;
    int err = 0;
    struct mm_file *null = mm_file_open("/dev/null", KO_RDWR, &err);
    struct open_file *of = null ? open_file_create(null, KO_RDWR) : NULL;
    if (!of) {
        if (null)
            mm_file_put(null);
        free(t);
        return NULL;
    }
    for (int fd = 0; fd < 3; fd++)
        t->fd[fd] = of;
    of->refcount = 3;
    return t;
}

void fd_table_put(struct fd_table *t)
{
    if (!t)
        return;
    PAGODA_BUG_ON(t->refcount <= 0, "fd_table refcount positive while referenced");
    if (--t->refcount > 0)
        return;
    for (int fd = 0; fd < KERNEL_NOFILE; fd++) {
        if (t->fd[fd])
            open_file_put(t->fd[fd]);
    }
    free(t);
}

/* Descriptor arguments are unsigned int in Linux's close/dup*: -1 becomes
 * 0xffffffff and is simply out of range. */
static unsigned fd_number(long fd)
{
    return (unsigned)fd;
}

struct open_file *fd_lookup(const struct fd_table *t, long fd)
{
    unsigned n = fd_number(fd);
    return n < KERNEL_NOFILE ? t->fd[n] : NULL;
}

/* The lowest free descriptor, or -EMFILE. */
static long fd_lowest_free(const struct fd_table *t)
{
    for (int fd = 0; fd < KERNEL_NOFILE; fd++) {
        if (!t->fd[fd])
            return fd;
    }
    return -EMFILE;
}

/* Put `of` (whose reference the table takes) at fd, closing what was there. */
static void fd_install(struct fd_table *t, unsigned fd, struct open_file *of, bool cloexec)
{
    struct open_file *old = t->fd[fd];
    t->fd[fd] = of;
    t->cloexec[fd] = cloexec;
    if (old)
        open_file_put(old);
}

/* The host path openat should open: absolute paths and AT_FDCWD-relative ones as
 * given (the host process's cwd is the simulated process's), others joined to the
 * directory dirfd names.  0 with *out malloc'ed, or -EBADF / -ENOTDIR / -ENOMEM. */
static long resolve_at(struct process *p, long dirfd, const char *path, char **out)
{
    if (path[0] == '/' || (int)dirfd == K_AT_FDCWD) {
        *out = strdup(path);
        return *out ? 0 : -ENOMEM;
    }
    struct open_file *dir = fd_lookup(p->files, (int)dirfd);
    if (!dir)
        return -EBADF;
    struct stat st;
    const char *dir_path = dir->file && dir->file->path ? dir->file->path : "";
    if (stat(dir_path, &st) || !S_ISDIR(st.st_mode))
        return -ENOTDIR;
    size_t n = strlen(dir_path) + 1 + strlen(path) + 1;
    *out = malloc(n);
    if (!*out)
        return -ENOMEM;
    snprintf(*out, n, "%s/%s", dir_path, path);
    return 0;
}

/* openat(2).  Checks in do_sys_openat2's order: the name (EFAULT, ENOENT for "",
 * ENAMETOOLONG), a free descriptor (EMFILE), then the lookup relative to dirfd and
 * the open itself. */
long sys_openat(struct process *p, long dirfd, const char *path, long flags, long mode)
{
    if (!path)
        return -EFAULT;
    if (!path[0])
        return -ENOENT;
    if (strlen(path) >= K_PATH_MAX)
        return -ENAMETOOLONG;
    long fd = fd_lowest_free(p->files);
    if (fd < 0)
        return fd;
    char *host_path;
    long err = resolve_at(p, dirfd, path, &host_path);
    if (err)
        return err;
    int open_err = 0;
    struct mm_file *file = mm_file_open_as(host_path, (int)flags, p->uid, p->gid, &open_err);
    free(host_path);
    if (!file)
        return negative_errno(open_err);
    struct open_file *of = open_file_create(file, (int)flags);
    if (!of) {
        mm_file_put(file);
        return -ENOMEM;
    }
    fd_install(p->files, (unsigned)fd, of, flags & KO_CLOEXEC);
    return fd;
}

/* close(2): EBADF unless open. */
long sys_close(struct process *p, long fd)
{
    struct open_file *of = fd_lookup(p->files, fd);
    if (!of)
        return -EBADF;
    unsigned n = fd_number(fd);
    p->files->fd[n] = NULL;
    p->files->cloexec[n] = false;
    open_file_put(of);
    return 0;
}

/* dup(2): the lowest free descriptor, close-on-exec cleared. */
long sys_dup(struct process *p, long fd)
{
    struct open_file *of = fd_lookup(p->files, fd);
    if (!of)
        return -EBADF;
    long newfd = fd_lowest_free(p->files);
    if (newfd < 0)
        return newfd;
    of->refcount++;
    fd_install(p->files, (unsigned)newfd, of, false);
    return newfd;
}

/* dup3(2), ksys_dup3's order: flags other than O_CLOEXEC, then equal descriptors
 * (EINVAL), newfd beyond RLIMIT_NOFILE, then oldfd not open (EBADF).  An open newfd
 * is closed silently. */
long sys_dup3(struct process *p, long oldfd, long newfd, long flags)
{
    if (flags & ~(long)KO_CLOEXEC)
        return -EINVAL;
    if (fd_number(oldfd) == fd_number(newfd))
        return -EINVAL;
    if (fd_number(newfd) >= KERNEL_NOFILE)
        return -EBADF;
    struct open_file *of = fd_lookup(p->files, oldfd);
    if (!of)
        return -EBADF;
    of->refcount++;
    fd_install(p->files, fd_number(newfd), of, flags & KO_CLOEXEC);
    return fd_number(newfd);
}

/* dup2(2): equal descriptors return newfd if it is open (EBADF otherwise); the rest
 * is dup3 without flags (close-on-exec cleared). */
long sys_dup2(struct process *p, long oldfd, long newfd)
{
    if (fd_number(oldfd) == fd_number(newfd))
        return fd_lookup(p->files, oldfd) ? (long)fd_number(newfd) : -EBADF;
    return sys_dup3(p, oldfd, newfd, 0);
}

/* ---- fork, exec, and descriptors pagoda does not model ---------------------------- */

struct fd_table *fd_table_dup(const struct fd_table *t)
{
    struct fd_table *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->refcount = 1;
    for (int fd = 0; fd < KERNEL_NOFILE; fd++) {
        c->fd[fd] = t->fd[fd];
        c->cloexec[fd] = t->cloexec[fd];
        if (c->fd[fd])
            c->fd[fd]->refcount++;
    }
    return c;
}

void fd_table_close_on_exec(struct fd_table *t)
{
    for (int fd = 0; fd < KERNEL_NOFILE; fd++) {
        if (t->fd[fd] && t->cloexec[fd]) {
            open_file_put(t->fd[fd]);
            t->fd[fd] = NULL;
            t->cloexec[fd] = false;
        }
    }
}

#define K_F_DUPFD 0
#define K_F_GETFD 1
#define K_F_SETFD 2
#define K_F_DUPFD_CLOEXEC 1030
#define K_FD_CLOEXEC 1

bool fcntl_modelled(long cmd)
{
    int c = (int)cmd;
    return c == K_F_DUPFD || c == K_F_DUPFD_CLOEXEC || c == K_F_GETFD || c == K_F_SETFD;
}

/* fcntl(2) for the commands that change the descriptor table: F_DUPFD and
 * F_DUPFD_CLOEXEC (the lowest free descriptor >= arg; EINVAL when arg is beyond
 * RLIMIT_NOFILE, EMFILE when none is free), F_GETFD/F_SETFD (close-on-exec). */
long sys_fcntl(struct process *p, long fd, long cmd, uint64_t arg)
{
    struct open_file *of = fd_lookup(p->files, fd);
    if (!of)
        return -EBADF;
    unsigned n = fd_number(fd);
    switch ((int)cmd) {
    case K_F_GETFD: return p->files->cloexec[n] ? K_FD_CLOEXEC : 0;
    case K_F_SETFD: p->files->cloexec[n] = (arg & K_FD_CLOEXEC) != 0; return 0;
    case K_F_DUPFD:
    case K_F_DUPFD_CLOEXEC: {
        if ((unsigned long)arg >= KERNEL_NOFILE)
            return -EINVAL;
        for (unsigned d = (unsigned)arg; d < KERNEL_NOFILE; d++) {
            if (!p->files->fd[d]) {
                of->refcount++;
                fd_install(p->files, d, of, (int)cmd == K_F_DUPFD_CLOEXEC);
                return d;
            }
        }
        return -EMFILE;
    }
    default: return -EINVAL;
    }
}

#define K_CLOSE_RANGE_UNSHARE 2
#define K_CLOSE_RANGE_CLOEXEC 4

/* close_range(2): close (or, with CLOSE_RANGE_CLOEXEC, mark close-on-exec) every open
 * descriptor in [first, last].  EINVAL for unknown flags or first > last. */
long sys_close_range(struct process *p, unsigned first, unsigned last, unsigned flags)
{
    if (flags & ~(unsigned)(K_CLOSE_RANGE_UNSHARE | K_CLOSE_RANGE_CLOEXEC) || first > last)
        return -EINVAL;
    for (unsigned fd = first; fd < KERNEL_NOFILE && fd <= last; fd++) {
        if (!p->files->fd[fd])
            continue;
        if (flags & K_CLOSE_RANGE_CLOEXEC)
            p->files->cloexec[fd] = true;
        else
            sys_close(p, fd);
    }
    return 0;
}

#define K_MFD_CLOEXEC 0x1U
#define K_MFD_ALLOW_SEALING 0x2U
#define K_MFD_HUGETLB 0x4U
#define K_MFD_NOEXEC_SEAL 0x8U
#define K_MFD_EXEC 0x10U
#define K_MFD_NAME_MAX 249

/* memfd_create(2): an anonymous shmem file listed as "/memfd:NAME (deleted)".  EINVAL
 * for unknown flags (the hugetlb size bits only with MFD_HUGETLB), both EXEC flags,
 * or a name longer than 249 bytes; EFAULT without a name. */
long sys_memfd_create(struct process *p, const char *name, unsigned flags, uint64_t ino)
{
    unsigned known = K_MFD_CLOEXEC | K_MFD_ALLOW_SEALING | K_MFD_HUGETLB | K_MFD_NOEXEC_SEAL | K_MFD_EXEC;
    if (flags & K_MFD_HUGETLB)
        known |= 0x3fU << 26; /* MFD_HUGE_* size bits */
    if (flags & ~known)
        return -EINVAL;
    if ((flags & K_MFD_NOEXEC_SEAL) && (flags & K_MFD_EXEC))
        return -EINVAL;
    if (!name)
        return -EFAULT;
    if (strlen(name) > K_MFD_NAME_MAX)
        return -EINVAL;
    long fd = fd_lowest_free(p->files);
    if (fd < 0)
        return fd;
    char path[K_MFD_NAME_MAX + 32];
    snprintf(path, sizeof(path), "/memfd:%s (deleted)", name);
    struct mm_file *f = mm_file_unbacked(path, 0, 1, ino);
    if (!f)
        return -ENOMEM;
    f->writable = f->is_shmem = true;
    struct open_file *of = open_file_create(f, KO_RDWR);
    if (!of) {
        mm_file_put(f);
        return -ENOMEM;
    }
    fd_install(p->files, (unsigned)fd, of, flags & K_MFD_CLOEXEC);
    return fd;
}

int fd_install_opaque(struct process *p, long fd, const char *what, bool cloexec)
{
    unsigned n = fd_number(fd);
    if (n >= KERNEL_NOFILE)
        return -EBADF;
    struct mm_file *f = mm_file_unbacked(what, 0, 0, 0);
    if (!f)
        return -ENOMEM;
    f->mmappable = false;
    struct open_file *of = open_file_create(f, KO_RDWR);
    if (!of) {
        mm_file_put(f);
        return -ENOMEM;
    }
    fd_install(p->files, n, of, cloexec);
    return 0;
}

int fd_install_path(struct process *p, long fd, const char *path)
{
    unsigned n = fd_number(fd);
    if (n >= KERNEL_NOFILE)
        return -EBADF;
    int err = 0;
    struct mm_file *f = mm_file_open_as(path, 0, p->uid, p->gid, &err);
    if (!f)
        return (int)negative_errno(err);
    struct open_file *of = open_file_create(f, 0);
    if (!of) {
        mm_file_put(f);
        return -ENOMEM;
    }
    fd_install(p->files, n, of, false);
    return 0;
}
