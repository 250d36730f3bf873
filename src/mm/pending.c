/*
 * System calls whose implementation is in progress: they answer -ENOSYS so that the
 * rest links.  Each moves to its own file when implemented.
 */
#include "mm/internal.h"

long mm_mremap(struct mm *mm, uint64_t addr, uint64_t old_len, uint64_t new_len, uint64_t flags, uint64_t new_addr)
{
    return -ENOSYS;
}

long mm_madvise(struct mm *mm, uint64_t start, uint64_t len, int advice)
{
    return -ENOSYS;
}

long mm_mlock(struct mm *mm, uint64_t start, uint64_t len, unsigned flags)
{
    return -ENOSYS;
}

long mm_munlock(struct mm *mm, uint64_t start, uint64_t len)
{
    return -ENOSYS;
}

long mm_mlockall(struct mm *mm, unsigned flags)
{
    return -ENOSYS;
}

long mm_munlockall(struct mm *mm)
{
    return -ENOSYS;
}

long mm_msync(struct mm *mm, uint64_t start, uint64_t len, int flags)
{
    return -ENOSYS;
}

long mm_mincore(struct mm *mm, uint64_t start, uint64_t len, unsigned char *vec)
{
    return -ENOSYS;
}

long mm_set_anon_name(struct mm *mm, uint64_t start, uint64_t len, const char *name)
{
    return -ENOSYS;
}
