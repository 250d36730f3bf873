/*
 * TLBs and paging-structure caches (see include/pagoda/tlb.h).
 */
#include <pagoda/tlb.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <pagoda/pte.h>

#include "hw/bug.h"

static const char *const size_names[TLB_NSIZES] = {"4K", "2M", "1G"};

void tlb_config_skylake(struct tlb_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->cpu_name = "Intel Skylake (Optimization Reference Manual 248966-045, table 2-15)";
    cfg->l1d[TLB_4K] = (struct tlb_geometry){64, 4};
    cfg->l1d[TLB_2M] = (struct tlb_geometry){32, 4};
    cfg->l1d[TLB_1G] = (struct tlb_geometry){4, 4};
    cfg->l1i[TLB_4K] = (struct tlb_geometry){128, 8};
    cfg->l1i[TLB_2M] = (struct tlb_geometry){8, 8};
    cfg->l1i[TLB_1G] = (struct tlb_geometry){0, 0}; /* 1G code pages fracture to 2M */
    cfg->l2[TLB_4K] = (struct tlb_geometry){1536, 12}; /* 4K and 2M share it */
    cfg->l2[TLB_2M] = (struct tlb_geometry){0, 0};
    cfg->l2[TLB_1G] = (struct tlb_geometry){16, 4};
    cfg->l2_shared_4k_2m = true;
    cfg->pwc_entries[2] = 32;
    cfg->pwc_entries[3] = 4;
    cfg->pwc_entries[4] = 2;
    cfg->pwc_entries[5] = 2;
}

int tlb_parse_geometry(const char *text, struct tlb_geometry *g)
{
    char *end;
    unsigned long entries = strtoul(text, &end, 10);
    unsigned long ways = entries;
    if (end == text)
        return -EINVAL;
    if (*end == 'x') {
        const char *w = end + 1;
        ways = strtoul(w, &end, 10);
        if (end == w)
            return -EINVAL;
    }
    if (*end != '\0' || entries > (1ul << 20) || (entries && !ways) || (entries && entries % ways))
        return -EINVAL;
    g->entries = (uint32_t)entries;
    g->ways = (uint32_t)(entries ? ways : 0);
    return 0;
}

/* Set up one array; sizes is the bit set of page sizes it holds. */
static int array_init(struct tlb_array *arr, const char *name, struct tlb_geometry g, uint8_t sizes)
{
    memset(arr, 0, sizeof(*arr));
    arr->name = name;
    if (g.entries == 0)
        return 0;
    if (g.ways == 0 || g.entries % g.ways)
        return -EINVAL;
    uint32_t nsets = g.entries / g.ways;
    if (nsets & (nsets - 1))
        return -EINVAL;
    arr->e = malloc(sizeof(*arr->e) * g.entries);
    if (!arr->e)
        return -ENOMEM;
    for (uint32_t i = 0; i < g.entries; i++)
        arr->e[i].tag = TLB_TAG_INVALID;
    arr->entries = g.entries;
    arr->ways = g.ways;
    arr->nsets = nsets;
    arr->set_mask = nsets - 1;
    arr->sizes = sizes;
    return 0;
}

static int pwc_init(struct pwc *p, uint32_t entries)
{
    memset(p, 0, sizeof(*p));
    if (!entries)
        return 0;
    p->e = malloc(sizeof(*p->e) * entries);
    p->tags = malloc(sizeof(*p->tags) * entries);
    if (!p->e || !p->tags)
        return -ENOMEM; /* tlb_destroy frees what was allocated */
    for (uint32_t i = 0; i < entries; i++)
        p->e[i].tag = p->tags[i] = TLB_TAG_INVALID;
    p->entries = entries;
    return 0;
}

/* Set entry i's tag, in the entry and in the dense copy. */
static void pwc_set_tag(struct pwc *p, uint32_t i, uint64_t tag)
{
    p->e[i].tag = p->tags[i] = tag;
}

int tlb_init(struct tlb *tlb, const struct tlb_config *cfg)
{
    static const char *const l1d_names[] = {"L1 DTLB 4K", "L1 DTLB 2M", "L1 DTLB 1G"};
    static const char *const l1i_names[] = {"L1 ITLB 4K", "L1 ITLB 2M", "L1 ITLB 1G"};
    static const char *const l2_names[] = {"STLB 4K", "STLB 2M", "STLB 1G"};
    int err = 0;

    memset(tlb, 0, sizeof(*tlb));
    tlb->cfg = *cfg;
    if (!cfg->l1d[TLB_4K].entries || !cfg->l1i[TLB_4K].entries || !cfg->l2[TLB_4K].entries)
        return -EINVAL;
    for (unsigned s = 0; s < TLB_NSIZES && !err; s++) {
        err = array_init(&tlb->l1d[s], l1d_names[s], cfg->l1d[s], (uint8_t)(1u << s));
        if (!err)
            err = array_init(&tlb->l1i[s], l1i_names[s], cfg->l1i[s], (uint8_t)(1u << s));
        if (!err && !(s == TLB_2M && cfg->l2_shared_4k_2m))
            err = array_init(&tlb->l2[s], l2_names[s], cfg->l2[s], (uint8_t)(1u << s));
    }
    if (!err && cfg->l2_shared_4k_2m) {
        tlb->l2[TLB_4K].name = "STLB 4K+2M";
        tlb->l2[TLB_4K].sizes = (1u << TLB_4K) | (1u << TLB_2M);
    }
    for (int l = PWC_MIN_LEVEL; l <= PWC_MAX_LEVEL && !err; l++)
        err = pwc_init(&tlb->pwc[l], cfg->pwc_entries[l]);
    if (err)
        tlb_destroy(tlb);
    return err;
}

void tlb_destroy(struct tlb *tlb)
{
    for (unsigned s = 0; s < TLB_NSIZES; s++) {
        free(tlb->l1d[s].e);
        free(tlb->l1i[s].e);
        free(tlb->l2[s].e);
    }
    for (int l = 0; l <= PWC_MAX_LEVEL; l++) {
        free(tlb->pwc[l].e);
        free(tlb->pwc[l].tags);
    }
    memset(tlb, 0, sizeof(*tlb));
}

/* Probe one set of `arr` for the page of `size` containing va. */
static struct tlb_entry *array_probe(struct tlb_array *arr, uint64_t va, unsigned size, unsigned pcid)
{
    if (!arr->nvalid[size])
        return NULL; /* nothing of this size cached: no way can match */
    uint64_t vpn = va >> tlb_size_shift(size);
    uint64_t mine = tlb_tag(vpn, size, pcid), global = tlb_tag(vpn, size, TLB_PCID_GLOBAL);
    struct tlb_entry *set = &arr->e[(vpn & arr->set_mask) * arr->ways];
    for (uint32_t w = 0; w < arr->ways; w++) {
        if (set[w].tag == mine || set[w].tag == global) {
            set[w].stamp = ++arr->clock;
            return &set[w];
        }
    }
    return NULL;
}

struct tlb_entry *tlb_array_lookup(struct tlb_array *arr, uint64_t va, unsigned pcid)
{
    if (!arr->entries)
        return NULL;
    for (unsigned s = 0; s < TLB_NSIZES; s++) {
        if (arr->sizes & (1u << s)) {
            struct tlb_entry *e = array_probe(arr, va, s, pcid);
            if (e)
                return e;
        }
    }
    return NULL;
}

/* Which array of a level (l1d, l1i or l2 triple) holds entries of `size`, after
 * fracturing to the largest smaller size that has an array; sets *eff_size. */
static struct tlb_array *array_for(struct tlb_array *level, unsigned size, unsigned *eff_size)
{
    *eff_size = TLB_4K;
    for (int s = (int)size; s >= 0; s--) {
        for (unsigned a = 0; a < TLB_NSIZES; a++) {
            if (level[a].entries && (level[a].sizes & (1u << s))) {
                *eff_size = (unsigned)s;
                return &level[a];
            }
        }
    }
    PAGODA_BUG_ON(true, "every TLB level has a 4K array");
    return NULL;
}

/* Lookup across the arrays of one level. */
static struct tlb_entry *level_lookup(struct tlb_array *level, uint64_t va, unsigned pcid)
{
    for (unsigned a = 0; a < TLB_NSIZES; a++) {
        struct tlb_entry *e = tlb_array_lookup(&level[a], va, pcid);
        if (e)
            return e;
    }
    return NULL;
}

/* Write a translation into `arr` as an entry of eff_size, evicting the set's LRU way. */
static struct tlb_entry *array_fill(struct tlb *tlb, struct tlb_array *arr, uint64_t va, unsigned eff_size,
                                    unsigned orig_size, uint64_t page_pa, uint8_t *host, uint32_t attrs,
                                    unsigned pcid)
{
    unsigned shift = tlb_size_shift(eff_size);
    uint64_t vpn = va >> shift;
    unsigned tagpcid = (attrs & TLB_G) ? TLB_PCID_GLOBAL : pcid;
    uint64_t tag = tlb_tag(vpn, eff_size, tagpcid);
    struct tlb_entry *set = &arr->e[(vpn & arr->set_mask) * arr->ways];
    struct tlb_entry *victim = NULL;

    for (uint32_t w = 0; w < arr->ways; w++) {
        if (set[w].tag == tag) { /* refresh in place (e.g. D now set) */
            victim = &set[w];
            break;
        }
    }
    if (!victim) {
        for (uint32_t w = 0; w < arr->ways; w++) {
            if (set[w].tag == TLB_TAG_INVALID) {
                victim = &set[w];
                break;
            }
            if (!victim || set[w].stamp < victim->stamp)
                victim = &set[w];
        }
        if (victim->tag != TLB_TAG_INVALID) {
            tlb->stats.evictions++;
            arr->nvalid[victim->size]--;
            if (victim->size != victim->orig_size)
                arr->fractured--;
        }
    } else {
        arr->nvalid[victim->size]--;
        if (victim->size != victim->orig_size)
            arr->fractured--;
    }
    arr->nvalid[eff_size]++;
    /* The cached piece of a fractured mapping starts at va's eff_size page. */
    uint64_t orig_mask = (1ULL << tlb_size_shift(orig_size)) - 1;
    uint64_t piece = (va & ~((1ULL << shift) - 1)) - (va & ~orig_mask);
    victim->tag = tag;
    victim->pa = page_pa + piece;
    victim->host = host + piece;
    victim->attrs = attrs;
    victim->size = (uint8_t)eff_size;
    victim->orig_size = (uint8_t)orig_size;
    victim->orig_base = va & ~orig_mask;
    victim->stamp = ++arr->clock;
    if (eff_size != orig_size)
        arr->fractured++;
    return victim;
}

struct tlb_entry *tlb_lookup(struct tlb *tlb, enum tlb_kind kind, uint64_t va, unsigned pcid)
{
    struct tlb_array *l1 = kind == TLB_DATA ? tlb->l1d : tlb->l1i;
    struct tlb_entry *e = level_lookup(l1, va, pcid);
    if (e) {
        if (kind == TLB_DATA)
            tlb->stats.l1d_hits++;
        else
            tlb->stats.l1i_hits++;
        return e;
    }
    if (kind == TLB_DATA)
        tlb->stats.l1d_misses++;
    else
        tlb->stats.l1i_misses++;
    struct tlb_entry *e2 = level_lookup(tlb->l2, va, pcid);
    if (!e2) {
        tlb->stats.l2_misses++;
        return NULL;
    }
    tlb->stats.l2_hits++;
    /* Fill L1 from the STLB entry: the piece of the mapping it describes. */
    unsigned eff;
    struct tlb_array *arr = array_for(l1, e2->size, &eff);
    uint64_t e2_base = va & ~((1ULL << tlb_size_shift(e2->size)) - 1);
    return array_fill(tlb, arr, va, eff, e2->orig_size, e2->pa - (e2_base - e2->orig_base),
                      e2->host - (e2_base - e2->orig_base), e2->attrs, pcid);
}

struct tlb_entry *tlb_insert(struct tlb *tlb, enum tlb_kind kind, uint64_t va, unsigned size,
                             uint64_t page_pa, uint8_t *host, uint32_t attrs, unsigned pcid)
{
    struct tlb_array *l1 = kind == TLB_DATA ? tlb->l1d : tlb->l1i;
    unsigned eff;
    struct tlb_array *arr = array_for(tlb->l2, size, &eff);
    array_fill(tlb, arr, va, eff, size, page_pa, host, attrs, pcid);
    arr = array_for(l1, size, &eff);
    return array_fill(tlb, arr, va, eff, size, page_pa, host, attrs, pcid);
}

static void entry_clear(struct tlb_array *arr, struct tlb_entry *e)
{
    arr->nvalid[e->size]--;
    if (e->size != e->orig_size)
        arr->fractured--;
    e->tag = TLB_TAG_INVALID;
}

/* The array that owns entry e, if any. */
static struct tlb_array *owner_of(struct tlb *tlb, struct tlb_entry *e)
{
    struct tlb_array *levels[3] = {tlb->l1d, tlb->l1i, tlb->l2};
    for (int l = 0; l < 3; l++)
        for (unsigned s = 0; s < TLB_NSIZES; s++) {
            struct tlb_array *a = &levels[l][s];
            if (a->entries && e >= a->e && e < a->e + a->entries)
                return a;
        }
    return NULL;
}

void tlb_entry_invalidate(struct tlb *tlb, struct tlb_entry *e)
{
    struct tlb_array *arr = owner_of(tlb, e);
    if (arr && e->tag != TLB_TAG_INVALID)
        entry_clear(arr, e);
}

/* Valid entries of arr, of every size. */
static uint32_t array_valid_entries(const struct tlb_array *arr)
{
    uint32_t n = 0;
    for (unsigned s = 0; s < TLB_NSIZES; s++)
        n += arr->nvalid[s];
    return n;
}

static unsigned entry_pcid(const struct tlb_entry *e)
{
    return (unsigned)(e->tag & 0x1fff);
}

/* Drop entries of arr matching va (any size) whose PCID matches `pcid` or that are
 * global when `globals` is set. */
static void array_invalidate_va(struct tlb_array *arr, uint64_t va, unsigned pcid, bool globals)
{
    if (!arr->entries || !array_valid_entries(arr))
        return;
    if (arr->fractured) {
        /* A fractured piece may sit in any set: compare against the whole mapping. */
        for (uint32_t i = 0; i < arr->entries; i++) {
            struct tlb_entry *e = &arr->e[i];
            if (e->tag == TLB_TAG_INVALID)
                continue;
            unsigned p = entry_pcid(e);
            if (p != pcid && !(globals && p == TLB_PCID_GLOBAL))
                continue;
            uint64_t span = 1ULL << tlb_size_shift(e->orig_size);
            if (va - e->orig_base < span)
                entry_clear(arr, e);
        }
        return;
    }
    for (unsigned s = 0; s < TLB_NSIZES; s++) {
        if (!(arr->sizes & (1u << s)) || !arr->nvalid[s])
            continue;
        uint64_t vpn = va >> tlb_size_shift(s);
        struct tlb_entry *set = &arr->e[(vpn & arr->set_mask) * arr->ways];
        for (uint32_t w = 0; w < arr->ways; w++) {
            if (set[w].tag == tlb_tag(vpn, s, pcid) || (globals && set[w].tag == tlb_tag(vpn, s, TLB_PCID_GLOBAL)))
                entry_clear(arr, &set[w]);
        }
    }
}

/* Drop whole-array entries: those of `pcid` (or every PCID when pcid < 0), and global
 * ones unless keep_global. */
static void array_flush(struct tlb_array *arr, int pcid, bool keep_global)
{
    if (!array_valid_entries(arr))
        return;
    for (uint32_t i = 0; i < arr->entries; i++) {
        struct tlb_entry *e = &arr->e[i];
        if (e->tag == TLB_TAG_INVALID)
            continue;
        unsigned p = entry_pcid(e);
        if (p == TLB_PCID_GLOBAL ? keep_global : (pcid >= 0 && p != (unsigned)pcid))
            continue;
        entry_clear(arr, e);
    }
}

static void pwc_flush(struct tlb *tlb, int pcid)
{
    for (int l = PWC_MIN_LEVEL; l <= PWC_MAX_LEVEL; l++) {
        struct pwc *p = &tlb->pwc[l];
        for (uint32_t i = 0; i < p->entries; i++)
            if (pcid < 0 || (p->tags[i] != TLB_TAG_INVALID && (p->tags[i] & 0xfff) == (unsigned)pcid))
                pwc_set_tag(p, i, TLB_TAG_INVALID);
    }
}

static uint64_t pwc_tag(int level, uint64_t va, unsigned pcid)
{
    /* Bits above the entry's span, up to bit 56, identify it. */
    return ((va & ((1ULL << 57) - 1)) >> pt_level_shift(level)) << 12 | pcid;
}

static void for_each_array(struct tlb *tlb, void (*fn)(struct tlb_array *, uint64_t, unsigned, bool), uint64_t va,
                           unsigned pcid, bool globals)
{
    for (unsigned s = 0; s < TLB_NSIZES; s++) {
        fn(&tlb->l1d[s], va, pcid, globals);
        fn(&tlb->l1i[s], va, pcid, globals);
        fn(&tlb->l2[s], va, pcid, globals);
    }
}

void tlb_invlpg(struct tlb *tlb, uint64_t va, unsigned pcid)
{
    tlb->stats.invlpg++;
    for_each_array(tlb, array_invalidate_va, va, pcid, true);
    pwc_flush(tlb, (int)pcid);
}

void tlb_fault_invalidate(struct tlb *tlb, uint64_t va, unsigned pcid)
{
    for_each_array(tlb, array_invalidate_va, va, pcid, true);
    uint64_t tag_pcid = pcid;
    for (int l = PWC_MIN_LEVEL; l <= PWC_MAX_LEVEL; l++) {
        struct pwc *p = &tlb->pwc[l];
        uint64_t tag = pwc_tag(l, va, (unsigned)tag_pcid);
        for (uint32_t i = 0; i < p->entries; i++)
            if (p->tags[i] == tag)
                pwc_set_tag(p, i, TLB_TAG_INVALID);
    }
}

void tlb_invalidate_addr_pcid(struct tlb *tlb, uint64_t va, unsigned pcid)
{
    tlb->stats.invlpg++;
    for_each_array(tlb, array_invalidate_va, va, pcid, false);
    pwc_flush(tlb, (int)pcid);
}

void tlb_flush_pcid(struct tlb *tlb, unsigned pcid, bool keep_global)
{
    tlb->stats.flushes++;
    for (unsigned s = 0; s < TLB_NSIZES; s++) {
        array_flush(&tlb->l1d[s], (int)pcid, keep_global);
        array_flush(&tlb->l1i[s], (int)pcid, keep_global);
        array_flush(&tlb->l2[s], (int)pcid, keep_global);
    }
    pwc_flush(tlb, (int)pcid);
}

void tlb_flush_all(struct tlb *tlb, bool keep_global)
{
    tlb->stats.flushes++;
    for (unsigned s = 0; s < TLB_NSIZES; s++) {
        array_flush(&tlb->l1d[s], -1, keep_global);
        array_flush(&tlb->l1i[s], -1, keep_global);
        array_flush(&tlb->l2[s], -1, keep_global);
    }
    pwc_flush(tlb, -1);
}

struct pwc_entry *pwc_lookup(struct tlb *tlb, int level, uint64_t va, unsigned pcid)
{
    struct pwc *p = &tlb->pwc[level];
    uint64_t tag = pwc_tag(level, va, pcid);
    for (uint32_t i = 0; i < p->entries; i++) {
        if (p->tags[i] == tag) {
            p->e[i].stamp = ++p->clock;
            tlb->stats.pwc_hits[level]++;
            return &p->e[i];
        }
    }
    return NULL;
}

void pwc_insert(struct tlb *tlb, int level, uint64_t va, unsigned pcid, uint64_t next_table, uint32_t attrs)
{
    struct pwc *p = &tlb->pwc[level];
    if (!p->entries)
        return;
    uint64_t tag = pwc_tag(level, va, pcid);
    uint32_t v = p->entries;
    /* The first entry with this tag or an empty one, else the least recently used. */
    for (uint32_t i = 0; i < p->entries && v == p->entries; i++)
        if (p->tags[i] == tag || p->tags[i] == TLB_TAG_INVALID)
            v = i;
    if (v == p->entries) {
        v = 0;
        for (uint32_t i = 1; i < p->entries; i++)
            if (p->e[i].stamp < p->e[v].stamp)
                v = i;
    }
    struct pwc_entry *victim = &p->e[v];
    pwc_set_tag(p, v, tag);
    victim->next_table = next_table;
    victim->attrs = attrs;
    victim->stamp = ++p->clock;
}

uint32_t tlb_array_valid(const struct tlb_array *arr)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < arr->entries; i++)
        n += arr->e[i].tag != TLB_TAG_INVALID;
    return n;
}

static void print_array(const struct tlb_array *arr, FILE *out)
{
    if (!arr->entries)
        return;
    fprintf(out, "  %-12s %5" PRIu32 " entries %3" PRIu32 "-way  valid %5" PRIu32 "\n", arr->name, arr->entries,
            arr->ways, tlb_array_valid(arr));
}

void tlb_print(const struct tlb *tlb, FILE *out)
{
    const struct tlb_stats *s = &tlb->stats;
    fprintf(out, "tlb: %s\n", tlb->cfg.cpu_name ? tlb->cfg.cpu_name : "custom");
    for (unsigned i = 0; i < TLB_NSIZES; i++)
        print_array(&tlb->l1d[i], out);
    for (unsigned i = 0; i < TLB_NSIZES; i++)
        print_array(&tlb->l1i[i], out);
    for (unsigned i = 0; i < TLB_NSIZES; i++)
        print_array(&tlb->l2[i], out);
    fprintf(out, "  l1d_hits %" PRIu64 "\n  l1d_misses %" PRIu64 "\n", s->l1d_hits, s->l1d_misses);
    fprintf(out, "  l1i_hits %" PRIu64 "\n  l1i_misses %" PRIu64 "\n", s->l1i_hits, s->l1i_misses);
    fprintf(out, "  l2_hits %" PRIu64 "\n  l2_misses %" PRIu64 "\n", s->l2_hits, s->l2_misses);
    fprintf(out, "  walks %" PRIu64 "\n  walk_refs %" PRIu64 "\n", s->walks, s->walk_refs);
    for (int l = PWC_MIN_LEVEL; l <= PWC_MAX_LEVEL; l++)
        if (tlb->pwc[l].entries)
            fprintf(out, "  pwc_%s_hits %" PRIu64 "\n", l == 2 ? "pde" : l == 3 ? "pdpte" : l == 4 ? "pml4e" : "pml5e",
                    s->pwc_hits[l]);
    fprintf(out, "  evictions %" PRIu64 "\n  flushes %" PRIu64 "\n  invlpg %" PRIu64 "\n", s->evictions, s->flushes,
            s->invlpg);
    (void)size_names;
}
