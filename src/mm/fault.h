/*
 * mm/fault.h - what the fault handler (fault.c) and the page cache (pagecache.c)
 * share, and what tests look at.  The public entry points are in pagoda/mm.h
 * (section "demand paging").
 */
#ifndef PAGODA_MM_FAULT_H
#define PAGODA_MM_FAULT_H

#include "mm/internal.h"

/* Linux's fault_around_bytes (65536): pages a read fault of a file maps at once. */
#define FAULT_AROUND_PAGES 16

/* ---- the page cache (pagecache.c) ------------------------------------------------ */

/*
 * One cache per file: per inode (device and inode number) for host files, so that two
 * opens of a file see each other's shared writes as Linux's page cache makes them;
 * per object for files without a host descriptor (shmem, memfd, /dev/zero shared).
 * Each cached frame holds one reference for the cache and one per PTE mapping it
 * (mapcount counts the PTEs).  Frames are freed when the last file attached to the
 * cache is released (pagecache_release) or the machine goes (mm_fault_release_phys).
 */
struct pagecache;

/* The cache of f on phys, created and f attached on first use; NULL without memory. */
struct pagecache *pagecache_attach(struct mm_file *f, struct phys *phys);

/* Pages of f that exist: DIV_ROUND_UP(size, PAGE_SIZE).  A fault at or beyond this
 * page offset is SIGBUS (BUS_ADRERR), for shared and private maps alike. */
uint64_t pagecache_file_pages(const struct mm_file *f);

/* The frame caching page pgoff of f, read on first use: host files by pread (bytes
 * past EOF in the last page read as 0), others zero-filled.  0 with *pfn (the cache's
 * reference only: a mapper takes its own), -ENOMEM, or -EIO (the host read failed). */
int pagecache_get(struct pagecache *c, const struct mm_file *f, uint64_t pgoff, pfn_t *pfn);

/* The frame of pgoff if it is cached already, without reading. */
bool pagecache_peek(const struct pagecache *c, uint64_t pgoff, pfn_t *pfn);

/* Does this cache read missing pages from a host file (fault-around may read ahead)? */
bool pagecache_reads_host(const struct pagecache *c);

/* For tests: the frame caching page pgoff of f on phys, if any. */
bool pagecache_lookup(struct mm_file *f, struct phys *phys, uint64_t pgoff, pfn_t *pfn);

/* The cache holding f's pages on phys (by inode for host files), without attaching
 * f; NULL if there is none. */
struct pagecache *pagecache_find(const struct mm_file *f, const struct phys *phys);

/* Drop page pgoff from the cache and free its frame, if it is cached and nobody but
 * the cache holds it (no PTE, no other reference).  Whether it was dropped. */
bool pagecache_drop(struct pagecache *c, uint64_t pgoff);

/* truncate_inode_pages_range() for a punched hole [first, last): every cached page
 * there leaves the cache (each must be unmapped already); a host file remembers the
 * hole, whose pages then read as zeros.  0 or -ENOMEM. */
int pagecache_punch(struct pagecache *c, uint64_t first, uint64_t last);

/* force_page_cache_readahead(): read pages [first, first + n) of f into the cache,
 * stopping at the end of the file (or when memory runs out); pages read. */
uint64_t pagecache_readahead(struct pagecache *c, const struct mm_file *f, uint64_t first, uint64_t n);

/* Free every cache of phys (mm_fault_release_phys). */
void pagecache_release_phys(struct phys *phys);

/* ---- the zero page (fault.c) ------------------------------------------------------- */

/* The shared zero page of phys, allocated on first use: 0 with *pfn, or -ENOMEM. */
int mm_zero_page(struct phys *phys, pfn_t *pfn);

#endif
