/*
 * pagoda/pgtable.h - page tables in simulated frames, and the one walker that serves
 * map, unmap, protect, copy, lookup, trace and dump for every page size.
 *
 * This is the machine-dependent half of the pmap split: the memory manager above asks
 * for "map this frame here with these bits" and never computes a table index itself.
 * Nothing here touches struct page of leaf frames (reference and map counts are the
 * memory manager's); table frames are PG_PGTABLE with ->private counting their
 * non-zero entries, which the walker keeps exact.
 *
 * Ranges are [start, end) of canonical virtual addresses; end == 0 means "to the top
 * of the 64-bit space" (used for the kernel half).  Lengths and addresses given to
 * pt_map/pt_unmap/pt_protect/pt_copy must be multiples of 4 KiB.
 */
#ifndef PAGODA_PGTABLE_H
#define PAGODA_PGTABLE_H

#include <stdint.h>
#include <stdio.h>

#include "phys.h"
#include "pte.h"

struct pgtable {
    struct phys *phys;
    paddr_t root;          /* physical address of the top-level table */
    int levels;            /* 4 (48-bit) or 5 (57-bit, LA57) */
    uint64_t table_frames; /* table frames owned, root included (VmPTE / 4 KiB) */
    /* Top-level entries from this index on point to tables another page table owns
     * (the kernel half every process shares): they are not in table_frames, pt_check
     * does not descend into them, pgtable_destroy only clears them, and walks that
     * would allocate, split or free tables there are a bug.  0: none shared. */
    unsigned shared_top_first;
    /* Bits of the table entries this page table installs; 0 means P|RW|US (the
     * kernel's own tables use P|RW|A|D, Linux's _KERNPG_TABLE). */
    pte_t table_bits;
};

/* Allocate an empty top-level table.  0, -EINVAL (levels not 4 or 5) or -ENOMEM. */
int pgtable_init(struct pgtable *pt, struct phys *phys, int levels);

/* Callback for a leaf entry: `va` is the address the entry maps (aligned to the
 * entry's size), `level` its level.  The callback may rewrite *entry (zero included).
 * Return 0 to continue or a negative errno to stop the walk with that value. */
typedef int (*pt_leaf_fn)(void *arg, uint64_t va, int level, pte_t *entry);

/* pgtable_destroy_range: free every table frame below the top level whose span lies
 * in [start,end), calling `release` (may be NULL) for each non-zero leaf first, and
 * clear the top-level entries for the range.  Top-level entries outside the range are
 * left alone (kernel tables shared by every process).
 * pgtable_destroy: the same over the whole space, then frees the root. */
void pgtable_destroy(struct pgtable *pt, pt_leaf_fn release, void *arg);

/* Copy src's top-level entries [first, 512) into dst, which then shares (never owns)
 * the tables they point to: see shared_top_first.  Entries dst already shares are
 * refreshed.  Both tables must be on the same machine with the same depth. */
void pgtable_share_top(struct pgtable *dst, const struct pgtable *src, unsigned first);

/* Give every empty top-level entry from `first` on a table of its own (the kernel
 * half's tables, allocated once at boot so that sharing the top-level entries shares
 * every later change below them).  0, -EINVAL, or -ENOMEM (tables made stay). */
int pgtable_populate_top(struct pgtable *pt, unsigned first);
void pgtable_destroy_range(struct pgtable *pt, uint64_t start, uint64_t end, pt_leaf_fn release, void *arg);

/* ---- The walker ------------------------------------------------------------- */

struct pt_walk_ops {
    /* Each leaf entry overlapping the range: non-zero leaves always; zero entries at
     * leaf_level too when PT_WALK_ALLOC is set.  May be NULL. */
    pt_leaf_fn leaf;
    /* Each run of zero entries, without PT_WALK_ALLOC: [va, end) at `level`.  May be NULL. */
    int (*hole)(void *arg, uint64_t va, uint64_t end, int level);
};

enum {
    PT_WALK_ALLOC = 1u << 0,      /* allocate missing tables down to leaf_level */
    PT_WALK_SPLIT = 1u << 1,      /* demote huge leaves above leaf_level that the range
                                     covers only partially */
    PT_WALK_FREE_EMPTY = 1u << 2, /* afterwards free tables (never the root) whose whole
                                     span lies in the range and that have no entries */
};

/*
 * Walk [start, end) descending to `leaf_level` (1..3).  A non-zero leaf above
 * leaf_level is passed to ->leaf as it is (its level says its size) unless
 * PT_WALK_SPLIT applies.  Returns 0, the first non-zero callback value, or -ENOMEM.
 */
int pt_walk_range(struct pgtable *pt, uint64_t start, uint64_t end, int leaf_level, unsigned flags,
                  const struct pt_walk_ops *ops, void *arg);

/* ---- Operations built on the walker ----------------------------------------- */

/* Map [va, va+len) to [pa, pa+len) with leaves of `level` (1: 4K, 2: 2M, 3: 1G),
 * entry bits `flags` (PTE_P etc.; PTE_PS is added for huge leaves; the PAT bit must
 * be given with pte_pat_bit(level)).  Intermediate entries get P|RW|US (permissions
 * are decided at the leaf, as Linux does).  -EINVAL if va/pa/len are not aligned to
 * the page size or len is 0; -EEXIST if any target entry is non-zero or a huge leaf is
 * in the way (nothing changed); -ENOMEM if a table cannot be allocated (nothing changed). */
int pt_map(struct pgtable *pt, uint64_t va, paddr_t pa, uint64_t len, int level, pte_t flags);

/* Clear every non-zero leaf in [va, va+len), demoting huge leaves the range cuts,
 * calling `release` (may be NULL) with the old value first, then free tables left
 * empty.  Returns 0 or -ENOMEM (a needed split failed; leaves before it are cleared). */
int pt_unmap(struct pgtable *pt, uint64_t va, uint64_t len, pt_leaf_fn release, void *arg);

/* For each present leaf in range: entry = (entry & ~clear) | set, demoting huge
 * leaves the range cuts.  Entries with P clear are also rewritten when
 * `clear` or `set` contains PTE_P (PROT_NONE transitions).  0 or -ENOMEM. */
int pt_protect(struct pgtable *pt, uint64_t va, uint64_t len, pte_t set, pte_t clear);

/* Copy every non-zero leaf of src in range into dst (same sizes), allocating dst
 * tables.  For each, `xform(arg, va, level, &src_entry)` returns the value to store in
 * dst and may rewrite the source entry (COW write-protection); NULL copies as is.
 * -EEXIST if a dst entry is already non-zero; -ENOMEM. */
int pt_copy(struct pgtable *dst, struct pgtable *src, uint64_t va, uint64_t len,
            pte_t (*xform)(void *arg, uint64_t va, int level, pte_t *src_entry), void *arg);

/* Demote the huge leaf at `level` (2 or 3) containing va into a table of 512 leaves
 * one level down, same bits (PS/PAT moved as the level requires).  0, -EINVAL (no
 * huge leaf there), -ENOMEM. */
int pt_split(struct pgtable *pt, uint64_t va, int level);

/* Software lookup with no side effects: the non-zero leaf mapping va.  Returns 0 with
 * *entry and *level set, or -ENOENT (stores the level where the walk stopped). */
int pt_lookup(const struct pgtable *pt, uint64_t va, pte_t *entry, int *level);

/* Pointer to the entry for va at `level`, or NULL if a table on the way is missing or
 * a huge leaf sits above `level`. */
pte_t *pt_entry_ptr(const struct pgtable *pt, uint64_t va, int level);

/* Every step of the walk for va, top level first. */
struct pt_trace_step {
    int level;
    unsigned index;
    paddr_t table; /* physical address of the table read */
    pte_t entry;
};
struct pt_trace {
    int nsteps;
    struct pt_trace_step step[5];
    int result; /* 0: leaf found (last step), -ENOENT: stopped at a zero/non-present entry */
};
void pt_trace(const struct pgtable *pt, uint64_t va, struct pt_trace *tr);

/* Print the trace: one line per level, then the result (see docs/hw.md for format). */
void pt_trace_print(const struct pgtable *pt, uint64_t va, FILE *out);

/* Decoded flag names of an entry, e.g. "P RW US A D NX", into buf; returns buf. */
char *pte_flags_str(pte_t e, int level, char *buf, size_t size);

/* One line per run of leaves in [start,end) with equal bits and contiguous addresses. */
void pt_dump(const struct pgtable *pt, uint64_t start, uint64_t end, FILE *out);

/* Invariants: every table frame is PG_PGTABLE, counted in table_frames, reachable once;
 * ->private equals its non-zero entries; no reserved bit set; addresses within RAM.
 * Aborts with a message naming the broken invariant. */
void pt_check(const struct pgtable *pt);

#endif
