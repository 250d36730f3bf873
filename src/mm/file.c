/*
 * Host files behind mappings.  pagoda opens every host file read-only and never
 * writes one; the access mode the program asked for is remembered so that Linux's
 * permission rules still apply (EACCES for a shared writable map of an O_RDONLY fd).
 */
#include "mm/huge.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Filesystems whose get_unmapped_area is thp_get_unmapped_area. */
static bool fs_aligns_thp(long type)
{
    return type == 0xEF53 /* ext2/3/4 */ || type == 0x58465342 /* xfs */ || type == (long)0x9123683E /* btrfs */;
}

/* May uid/gid have `want` (R_OK/W_OK bits) on a file with this stat?  Linux's
 * generic_permission() without ACLs or capabilities beyond root's. */
static bool may_access(const struct stat *st, long uid, long gid, int want)
{
    if (uid == 0)
        return true;
    mode_t bits = (uid == (long)st->st_uid) ? (st->st_mode >> 6) : (gid == (long)st->st_gid) ? (st->st_mode >> 3)
                                                                                              : st->st_mode;
    if ((want & R_OK) && !(bits & 4))
        return false;
    if ((want & W_OK) && !(bits & 2))
        return false;
    return true;
}

struct mm_file *mm_file_open(const char *path, int open_flags, int *err)
{
    return mm_file_open_as(path, open_flags, (long)geteuid(), (long)getegid(), err);
}

struct mm_file *mm_file_open_as(const char *path, int open_flags, long uid, long gid, int *err)
{
    int acc = open_flags & O_ACCMODE;
    int fd = open(path, O_RDONLY | O_CLOEXEC | (open_flags & (O_DIRECTORY | O_NOFOLLOW)));
    if (fd < 0 && (errno == EACCES || errno == EISDIR) && acc == O_WRONLY)
        fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        *err = -errno;
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        *err = -errno;
        close(fd);
        return NULL;
    }
    if (S_ISDIR(st.st_mode) && acc != O_RDONLY) {
        close(fd);
        *err = -EISDIR;
        return NULL;
    }
    int want = (acc == O_RDONLY || acc == O_RDWR ? R_OK : 0) | (acc == O_WRONLY || acc == O_RDWR ? W_OK : 0);
    if (!(open_flags & O_PATH) && !may_access(&st, uid, gid, want)) {
        *err = -EACCES;
        close(fd);
        return NULL;
    }
    struct statvfs ro;
    if ((want & W_OK) && fstatvfs(fd, &ro) == 0 && (ro.f_flag & ST_RDONLY)) {
        *err = -EROFS;
        close(fd);
        return NULL;
    }
    /* maps shows d_path(): absolute, with symlinks resolved (/lib -> /usr/lib). */
    char *p = realpath(path, NULL);
    if (!p)
        p = strdup(path);
    struct mm_file *f = calloc(1, sizeof(*f));
    if (!f || !p) {
        free(f);
        free(p);
        close(fd);
        *err = -ENOMEM;
        return NULL;
    }
    f->refcount = 1;
    f->host_fd = fd;
    f->dev_major = major(st.st_dev);
    f->dev_minor = minor(st.st_dev);
    f->ino = (uint64_t)st.st_ino;
    f->size = (uint64_t)st.st_size;
    f->path = p;
    f->readable = acc == O_RDONLY || acc == O_RDWR;
    f->writable = acc == O_WRONLY || acc == O_RDWR;
    f->mmappable = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
    if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 5) {
        f->is_dev_zero = true;
        f->mmappable = true;
    }
    struct statvfs vfs;
    if (fstatvfs(fd, &vfs) == 0)
        f->noexec = vfs.f_flag & ST_NOEXEC;
    struct statfs fs;
    if (S_ISREG(st.st_mode) && fstatfs(fd, &fs) == 0) {
        f->thp_aligned = fs_aligns_thp((long)fs.f_type);
        f->sync_capable = fs.f_type == 0xEF53 || fs.f_type == 0x58465342; /* ext4, xfs */
    }
    f->regular = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
    return f;
}

struct mm_file *mm_file_unbacked(const char *path, unsigned maj, unsigned min, uint64_t ino)
{
    struct mm_file *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->path = strdup(path);
    if (!f->path) {
        free(f);
        return NULL;
    }
    f->refcount = 1;
    f->host_fd = -1;
    f->dev_major = maj;
    f->dev_minor = min;
    f->ino = ino;
    f->readable = f->mmappable = true;
    return f;
}

struct mm_file *mm_file_get(struct mm_file *f)
{
    f->refcount++;
    return f;
}

void mm_file_put(struct mm_file *f)
{
    PAGODA_BUG_ON(f->refcount <= 0, "a file's reference count stays positive while referenced");
    if (--f->refcount)
        return;
    pagecache_release(f); /* its cached pages go with the last reference */
    hugetlb_file_release(f); /* and its huge pages and reservations */
    if (f->host_fd >= 0)
        close(f->host_fd);
    free(f->path);
    free(f);
}

/* ---- hugetlbfs ------------------------------------------------------------------------- */

uint64_t hugetlbfs_page_size(const struct mm_file *f)
{
    if (!f || f->host_fd >= 0 || f->is_shmem || f->dev_major != 0)
        return 0;
    if (f->dev_minor == HUGETLBFS_DEV_MINOR_2M)
        return HPAGE_SIZE_2M;
    if (f->dev_minor == HUGETLBFS_DEV_MINOR_1G)
        return HPAGE_SIZE_1G;
    return 0;
}

struct mm_file *hugetlbfs_anon_file(struct mm *mm, uint64_t hsize, uint64_t size)
{
    PAGODA_BUG_ON(hsize != HPAGE_SIZE_2M && hsize != HPAGE_SIZE_1G, "a hugetlbfs mount exists per hstate only");
    unsigned minor = hsize == HPAGE_SIZE_1G ? HUGETLBFS_DEV_MINOR_1G : HUGETLBFS_DEV_MINOR_2M;
    struct mm_file *f = mm_file_unbacked("/anon_hugepage (deleted)", 0, minor, mm->shmem_inodes + 1);
    if (!f)
        return NULL;
    mm->shmem_inodes++;
    f->size = size;
    f->writable = true; /* alloc_file_pseudo(..., O_RDWR, ...) */
    f->regular = true;  /* S_IFREG: offsets up to MAX_LFS_FILESIZE */
    return f;
}
