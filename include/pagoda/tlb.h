/*
 * pagoda/tlb.h - translation lookaside buffers and paging-structure caches.
 *
 * A hierarchy like Intel's: L1 data and L1 instruction TLBs, each split by page size,
 * and a unified second-level TLB (the STLB) that serves both.  Every array is
 * set-associative with true LRU replacement inside a set.  Entries are tagged with a
 * 12-bit PCID; global entries (G in the leaf, CR4.PGE on) match every PCID.  Where a
 * level has no array for a page size, the translation is "fractured": cached as the
 * largest smaller size the level has (as Skylake's ITLB does with 1 GiB pages).
 *
 * The default geometry is Intel Skylake's (client and server alike), from the Intel 64
 * and IA-32 Architectures Optimization Reference Manual, document 248966-045, table
 * 2-15.  The paging-structure caches' sizes are not published by Intel; pagoda's
 * defaults are a modelling choice (see docs/hw.md).
 *
 * The TLB is a cache only: the MMU (cpu.h) decides what goes in and what a hit means.
 */
#ifndef PAGODA_TLB_H
#define PAGODA_TLB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum tlb_size { TLB_4K, TLB_2M, TLB_1G, TLB_NSIZES };
enum tlb_kind { TLB_DATA, TLB_INSTR };

/* Attribute bits of a cached translation: the rights combined over every level. */
enum {
    TLB_W = 1u << 0,  /* R/W set at every level */
    TLB_U = 1u << 1,  /* U/S set at every level: a user-mode address */
    TLB_X = 1u << 2,  /* executable: NX clear at every level (or EFER.NXE off) */
    TLB_D = 1u << 3,  /* the leaf's dirty bit was set when cached */
    TLB_G = 1u << 4,  /* global */
    TLB_PKEY_SHIFT = 8, /* protection key of the leaf, bits 8..11 */
};

#define TLB_PCID_GLOBAL 0x1000u /* tag value that stands for "any PCID" */
#define TLB_TAG_INVALID UINT64_MAX

struct tlb_entry {
    uint64_t tag;    /* tlb_tag(): page number, size, PCID (or TLB_PCID_GLOBAL) */
    uint8_t *host;   /* host address of the cached page's first byte */
    uint64_t pa;     /* physical address of the cached page */
    uint64_t stamp;  /* LRU: larger is more recent */
    uint64_t orig_base; /* the page as mapped (differs when fractured) */
    uint32_t attrs;
    uint8_t size;      /* enum tlb_size of this entry */
    uint8_t orig_size; /* enum tlb_size of the mapping it came from */
};

/* One set-associative array.  entries == ways: fully associative. */
struct tlb_array {
    const char *name;
    uint32_t entries, ways, nsets, set_mask;
    uint8_t sizes; /* bit per enum tlb_size held here */
    struct tlb_entry *e; /* nsets * ways, set-major */
    uint64_t clock;
    uint64_t fractured; /* valid entries smaller than their mapping */
    uint32_t nvalid[TLB_NSIZES]; /* valid entries of each size: probes skip empty sizes */
};

struct tlb_geometry {
    uint32_t entries, ways; /* entries 0: no array for this size */
};

/* Paging-structure caches: level 2 caches PDEs, 3 PDPTEs, 4 PML4Es, 5 PML5Es. */
#define PWC_MIN_LEVEL 2
#define PWC_MAX_LEVEL 5

struct pwc_entry {
    uint64_t tag; /* va >> pt_level_shift(level) << 12 | pcid; TLB_TAG_INVALID when empty */
    uint64_t next_table; /* physical address of the table the entry points to */
    uint32_t attrs;      /* TLB_W/U/X combined down to and including this level */
    uint64_t stamp;
};

struct pwc {
    uint32_t entries;
    struct pwc_entry *e;
    uint64_t *tags; /* tags[i] == e[i].tag: searches scan this dense copy */
    uint64_t clock;
};

struct tlb_config {
    const char *cpu_name;
    struct tlb_geometry l1d[TLB_NSIZES];
    struct tlb_geometry l1i[TLB_NSIZES];
    struct tlb_geometry l2[TLB_NSIZES];
    bool l2_shared_4k_2m; /* one STLB array holds 4K and 2M entries (l2[TLB_4K] geometry) */
    uint32_t pwc_entries[PWC_MAX_LEVEL + 1]; /* indexes 2..5 used; 0 disables */
};

struct tlb_stats {
    uint64_t l1d_hits, l1d_misses, l1i_hits, l1i_misses;
    uint64_t l2_hits, l2_misses;
    uint64_t walks;       /* page walks started */
    uint64_t walk_refs;   /* paging-structure entries read from memory by walks */
    uint64_t pwc_hits[PWC_MAX_LEVEL + 1];
    uint64_t pwc_misses;
    uint64_t evictions;   /* valid entries replaced */
    uint64_t flushes;     /* whole-TLB or whole-PCID flushes (CR3 loads, INVPCID 1-3) */
    uint64_t invlpg;      /* single-address invalidations */
};

struct tlb {
    struct tlb_config cfg;
    struct tlb_array l1d[TLB_NSIZES];
    struct tlb_array l1i[TLB_NSIZES];
    struct tlb_array l2[TLB_NSIZES]; /* l2[TLB_2M] unused when shared */
    struct pwc pwc[PWC_MAX_LEVEL + 1];
    struct tlb_stats stats;
};

/* Skylake's geometry (the default). */
void tlb_config_skylake(struct tlb_config *cfg);

/* Parse "ENTRIESxWAYS" (e.g. "64x4", "8x8"; "0" for none) into g.  0 or -EINVAL. */
int tlb_parse_geometry(const char *text, struct tlb_geometry *g);

/* Build the arrays.  0, -EINVAL (entries not a multiple of ways, sets not a power of
 * two, no 4K array in a level) or -ENOMEM. */
int tlb_init(struct tlb *tlb, const struct tlb_config *cfg);
void tlb_destroy(struct tlb *tlb);

static inline uint64_t tlb_tag(uint64_t vpn, unsigned size, unsigned pcid_or_global)
{
    return (vpn << 15) | ((uint64_t)size << 13) | pcid_or_global;
}

static inline unsigned tlb_size_shift(unsigned size)
{
    return 12u + 9u * size;
}

/* Look a translation up in one level's arrays for every size it holds, refreshing LRU
 * on a hit.  Returns the entry or NULL.  No counters are touched. */
struct tlb_entry *tlb_array_lookup(struct tlb_array *arr, uint64_t va, unsigned pcid);

/* Find in L1 (of `kind`) then L2, counting hits and misses, filling L1 from L2 on an
 * L2 hit.  NULL on a miss in both. */
struct tlb_entry *tlb_lookup(struct tlb *tlb, enum tlb_kind kind, uint64_t va, unsigned pcid);

/* Insert a translation found by a walk into L1 of `kind` and into L2.  `size` is the
 * page size of the mapping, `page_pa` its physical base, `host` the host pointer of
 * page_pa.  Returns the L1 entry. */
struct tlb_entry *tlb_insert(struct tlb *tlb, enum tlb_kind kind, uint64_t va, unsigned size,
                             uint64_t page_pa, uint8_t *host, uint32_t attrs, unsigned pcid);

/* What a #PF does to the caches (SDM 4.10.4.1): drop the TLB entries of `pcid` and
 * the global ones that map va, and the paging-structure-cache entries for va. */
void tlb_fault_invalidate(struct tlb *tlb, uint64_t va, unsigned pcid);

/* Drop one entry. */
void tlb_entry_invalidate(struct tlb *tlb, struct tlb_entry *e);

/* INVLPG: every entry of `pcid` or global that maps va (any size, fractured or not),
 * and every paging-structure-cache entry of `pcid`. */
void tlb_invlpg(struct tlb *tlb, uint64_t va, unsigned pcid);

/* INVPCID type 0: va in `pcid`, globals kept; paging-structure caches of pcid. */
void tlb_invalidate_addr_pcid(struct tlb *tlb, uint64_t va, unsigned pcid);
/* Every entry of `pcid` (globals kept when keep_global), PWC entries of pcid. */
void tlb_flush_pcid(struct tlb *tlb, unsigned pcid, bool keep_global);
/* Every entry of every PCID (globals kept when keep_global), all PWC entries. */
void tlb_flush_all(struct tlb *tlb, bool keep_global);

/* Paging-structure caches. */
struct pwc_entry *pwc_lookup(struct tlb *tlb, int level, uint64_t va, unsigned pcid);
void pwc_insert(struct tlb *tlb, int level, uint64_t va, unsigned pcid, uint64_t next_table, uint32_t attrs);

/* Count valid entries of an array (for tests and the `tlb` view). */
uint32_t tlb_array_valid(const struct tlb_array *arr);

/* The `tlb` view: geometry, occupancy and counters. */
void tlb_print(const struct tlb *tlb, FILE *out);

#endif
