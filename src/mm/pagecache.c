/*
 * mm/pagecache.c - the page cache behind file and shmem mappings.
 *
 * Pages are read from the host file on first use and never written back: shared
 * writes dirty the cached frame, which every mapper and every later fault sees, as
 * long as the cache lives.  A cache is found through a small registry (struct mm_file
 * has no field for it): host files by (device, inode), so that separate opens share
 * pages as Linux's per-inode cache does; files without a host descriptor by object.
 * The files attached to a cache are remembered, and the cache goes with the last one
 * (pagecache_release, called when a file's last reference drops).
 *
 * Each cache holds an open-addressed hash of page offset -> pfn (linear probing;
 * removal shifts the probe chain back, so there are no tombstones).  Pages leave one
 * by one when a hole is punched (MADV_REMOVE) or reclaim drops a clean page
 * (MADV_PAGEOUT).  A host file's punched ranges are remembered: pagoda never writes
 * the host file, so a page of a hole reads as zeros instead of from the file while
 * the cache lives.
 */
#include "mm/fault.h"

#include <unistd.h>

#define NO_PGOFF UINT64_MAX /* an empty hash slot */

struct pagecache {
    struct pagecache *next; /* registry list */
    struct phys *phys;
    /* identity: host files by device and inode, others by object */
    bool host;
    uint32_t dev_major, dev_minor;
    uint64_t ino;
    const struct mm_file *object;
    /* attached files */
    struct mm_file **files;
    size_t nfiles, files_cap;
    /* punched ranges of a host file, [first, last) page offsets */
    uint64_t (*holes)[2];
    size_t nholes;
    /* pgoff -> pfn */
    uint64_t *keys;
    pfn_t *pfns;
    size_t cap, count; /* cap is a power of two */
};

static struct pagecache *registry;

/* ---- identity -------------------------------------------------------------------- */

static bool cache_is_of(const struct pagecache *c, const struct mm_file *f, const struct phys *phys)
{
    if (c->phys != phys)
        return false;
    if (f->host_fd >= 0)
        return c->host && c->dev_major == f->dev_major && c->dev_minor == f->dev_minor && c->ino == f->ino;
    return !c->host && c->object == f && c->ino == f->ino;
}

static bool cache_has_file(const struct pagecache *c, const struct mm_file *f)
{
    for (size_t i = 0; i < c->nfiles; i++)
        if (c->files[i] == f)
            return true;
    return false;
}

/* Remember f as a user of c.  0 or -ENOMEM. */
static int cache_add_file(struct pagecache *c, struct mm_file *f)
{
    if (cache_has_file(c, f))
        return 0;
    if (c->nfiles == c->files_cap) {
        size_t cap = c->files_cap ? 2 * c->files_cap : 4;
        struct mm_file **grown = realloc(c->files, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        c->files = grown;
        c->files_cap = cap;
    }
    c->files[c->nfiles++] = f;
    return 0;
}

/* ---- the hash ---------------------------------------------------------------------- */

static size_t slot_of(uint64_t pgoff, size_t cap)
{
    return (size_t)((pgoff * 0x9e3779b97f4a7c15ULL) >> 20) & (cap - 1);
}

/* The slot holding pgoff, or the empty slot where it would go. */
static size_t find_slot(const struct pagecache *c, uint64_t pgoff)
{
    size_t i = slot_of(pgoff, c->cap);
    while (c->keys[i] != NO_PGOFF && c->keys[i] != pgoff)
        i = (i + 1) & (c->cap - 1);
    return i;
}

/* Double the table (or make the first one).  0 or -ENOMEM. */
static int grow_hash(struct pagecache *c)
{
    size_t cap = c->cap ? 2 * c->cap : 64;
    uint64_t *keys = malloc(cap * sizeof(*keys));
    pfn_t *pfns = malloc(cap * sizeof(*pfns));
    if (!keys || !pfns) {
        free(keys);
        free(pfns);
        return -ENOMEM;
    }
    for (size_t i = 0; i < cap; i++)
        keys[i] = NO_PGOFF;
    struct pagecache old = *c;
    c->keys = keys;
    c->pfns = pfns;
    c->cap = cap;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.keys[i] == NO_PGOFF)
            continue;
        size_t s = find_slot(c, old.keys[i]);
        c->keys[s] = old.keys[i];
        c->pfns[s] = old.pfns[i];
    }
    free(old.keys);
    free(old.pfns);
    return 0;
}

bool pagecache_peek(const struct pagecache *c, uint64_t pgoff, pfn_t *pfn)
{
    if (!c->cap)
        return false;
    size_t s = find_slot(c, pgoff);
    if (c->keys[s] == NO_PGOFF)
        return false;
    *pfn = c->pfns[s];
    return true;
}

/* ---- lifetime ---------------------------------------------------------------------- */

/* Is the cache still backed by live frames of its phys?  A machine destroyed without
 * mm_fault_release_phys leaves a cache whose frames are no longer its own. */
static bool cache_valid(const struct pagecache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        if (c->keys[i] == NO_PGOFF)
            continue;
        const struct page *pg = phys_page(c->phys, c->pfns[i]);
        return pg->mapping == c && pg->refcount > 0;
    }
    return true;
}

static void unlink_cache(struct pagecache *c)
{
    for (struct pagecache **pp = &registry; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            return;
        }
    }
}

static void free_cache_struct(struct pagecache *c)
{
    free(c->holes);
    free(c->files);
    free(c->keys);
    free(c->pfns);
    free(c);
}

/* Drop the cache's reference on every frame and free the cache.  Every PTE mapping a
 * cached page belongs to a VMA holding one of the cache's files, so none is left. */
static void destroy_cache(struct pagecache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        if (c->keys[i] == NO_PGOFF)
            continue;
        struct page *pg = phys_page(c->phys, c->pfns[i]);
        PAGODA_BUG_ON(pg->refcount != 1 || pg->mapcount != 0,
                      "a page-cache page is unmapped when its last file goes");
        pg->refcount = 0;
        phys_free(c->phys, c->pfns[i], 0);
    }
    unlink_cache(c);
    free_cache_struct(c);
}

struct pagecache *pagecache_attach(struct mm_file *f, struct phys *phys)
{
    for (struct pagecache *c = registry, *next; c; c = next) {
        next = c->next;
        if (!cache_is_of(c, f, phys))
            continue;
        if (!cache_valid(c)) { /* left behind by a destroyed machine */
            unlink_cache(c);
            free_cache_struct(c);
            continue;
        }
        return cache_add_file(c, f) ? NULL : c;
    }
    struct pagecache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    *c = (struct pagecache){.phys = phys, .host = f->host_fd >= 0, .dev_major = f->dev_major,
                            .dev_minor = f->dev_minor, .ino = f->ino, .object = f};
    if (cache_add_file(c, f) || grow_hash(c)) {
        free_cache_struct(c);
        return NULL;
    }
    c->next = registry;
    registry = c;
    return c;
}

void pagecache_release(struct mm_file *f)
{
    for (struct pagecache *c = registry, *next; c; c = next) {
        next = c->next;
        for (size_t i = 0; i < c->nfiles; i++) {
            if (c->files[i] != f)
                continue;
            c->files[i] = c->files[--c->nfiles];
            break;
        }
        if (c->nfiles == 0)
            destroy_cache(c);
    }
}

void pagecache_release_phys(struct phys *phys)
{
    for (struct pagecache *c = registry, *next; c; c = next) {
        next = c->next;
        if (c->phys == phys)
            destroy_cache(c);
    }
}

/* ---- pages --------------------------------------------------------------------------- */

uint64_t pagecache_file_pages(const struct mm_file *f)
{
    return (f->size + PAGE_SIZE - 1) >> PAGE_SHIFT;
}

bool pagecache_reads_host(const struct pagecache *c)
{
    return c->host;
}

/* Fill the frame at host pointer dst with page pgoff of the host file: what pread
 * gives, zeros after it.  0 or -EIO. */
static int read_host_page(int fd, uint64_t pgoff, uint8_t *dst)
{
    size_t done = 0;
    while (done < PAGE_SIZE) {
        ssize_t n = pread(fd, dst + done, PAGE_SIZE - done, (off_t)(pgoff * PAGE_SIZE + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -EIO;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    memset(dst + done, 0, PAGE_SIZE - done);
    return 0;
}

/* Was pgoff punched out of the host file? */
static bool in_hole(const struct pagecache *c, uint64_t pgoff)
{
    for (size_t i = 0; i < c->nholes; i++)
        if (pgoff >= c->holes[i][0] && pgoff < c->holes[i][1])
            return true;
    return false;
}

int pagecache_get(struct pagecache *c, const struct mm_file *f, uint64_t pgoff, pfn_t *pfn)
{
    if (pagecache_peek(c, pgoff, pfn))
        return 0;
    if (2 * (c->count + 1) > c->cap && grow_hash(c))
        return -ENOMEM;
    pfn_t new;
    if (phys_alloc(c->phys, 0, PHYS_ZERO, &new))
        return -ENOMEM;
    if (c->host && !in_hole(c, pgoff) && read_host_page(f->host_fd, pgoff, phys_host(c->phys, new << PAGE_SHIFT))) {
        phys_page(c->phys, new)->refcount = 0;
        phys_free(c->phys, new, 0);
        return -EIO;
    }
    struct page *pg = phys_page(c->phys, new);
    pg->flags |= PG_UPTODATE | (c->host ? 0 : PG_SWAPBACKED);
    pg->mapping = c;
    pg->index = pgoff;
    size_t s = find_slot(c, pgoff);
    c->keys[s] = pgoff;
    c->pfns[s] = new;
    c->count++;
    *pfn = new;
    return 0;
}

bool pagecache_lookup(struct mm_file *f, struct phys *phys, uint64_t pgoff, pfn_t *pfn)
{
    for (struct pagecache *c = registry; c; c = c->next)
        if (cache_is_of(c, f, phys) && cache_has_file(c, f))
            return pagecache_peek(c, pgoff, pfn);
    return false;
}

struct pagecache *pagecache_find(const struct mm_file *f, const struct phys *phys)
{
    for (struct pagecache *c = registry; c; c = c->next)
        if (cache_is_of(c, f, phys) && cache_valid(c))
            return c;
    return NULL;
}

/* Take the entry of slot s out of the hash, moving later members of its probe chain
 * back so that every key stays reachable from its home slot. */
static void remove_slot(struct pagecache *c, size_t s)
{
    size_t hole = s, mask = c->cap - 1;
    c->keys[hole] = NO_PGOFF;
    for (size_t i = (hole + 1) & mask; c->keys[i] != NO_PGOFF; i = (i + 1) & mask) {
        size_t home = slot_of(c->keys[i], c->cap);
        /* may the entry at i move to hole?  Only if its home is not in (hole, i]. */
        bool stays = hole < i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (stays)
            continue;
        c->keys[hole] = c->keys[i];
        c->pfns[hole] = c->pfns[i];
        c->keys[i] = NO_PGOFF;
        hole = i;
    }
    c->count--;
}

bool pagecache_drop(struct pagecache *c, uint64_t pgoff)
{
    if (!c->cap)
        return false;
    size_t s = find_slot(c, pgoff);
    if (c->keys[s] == NO_PGOFF)
        return false;
    struct page *pg = phys_page(c->phys, c->pfns[s]);
    if (pg->refcount != 1 || pg->mapcount != 0)
        return false; /* mapped, or referenced by someone else: __remove_mapping fails */
    pfn_t pfn = c->pfns[s];
    remove_slot(c, s);
    pg->refcount = 0;
    phys_free(c->phys, pfn, 0);
    return true;
}

/* Remember [first, last) as punched (host files only).  0 or -ENOMEM. */
static int add_hole(struct pagecache *c, uint64_t first, uint64_t last)
{
    uint64_t (*grown)[2] = realloc(c->holes, (c->nholes + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    c->holes = grown;
    c->holes[c->nholes][0] = first;
    c->holes[c->nholes][1] = last;
    c->nholes++;
    return 0;
}

int pagecache_punch(struct pagecache *c, uint64_t first, uint64_t last)
{
    size_t n = 0;
    uint64_t *doomed = malloc((c->count ? c->count : 1) * sizeof(*doomed));
    if (!doomed)
        return -ENOMEM;
    for (size_t i = 0; i < c->cap; i++)
        if (c->keys[i] != NO_PGOFF && c->keys[i] >= first && c->keys[i] < last)
            doomed[n++] = c->keys[i];
    for (size_t i = 0; i < n; i++) {
        bool dropped = pagecache_drop(c, doomed[i]);
        PAGODA_BUG_ON(!dropped, "a punched page is unmapped everywhere before it leaves the cache");
    }
    free(doomed);
    return c->host ? add_hole(c, first, last) : 0;
}

uint64_t pagecache_readahead(struct pagecache *c, const struct mm_file *f, uint64_t first, uint64_t n)
{
    uint64_t last = mm_min(first + n, pagecache_file_pages(f)), read = 0;
    for (uint64_t pgoff = first; pgoff < last; pgoff++) {
        pfn_t pfn;
        if (pagecache_peek(c, pgoff, &pfn))
            continue;
        if (pagecache_get(c, f, pgoff, &pfn))
            break;
        read++;
    }
    return read;
}
