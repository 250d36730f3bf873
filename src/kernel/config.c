/*
 * kernel/config.c - the machine's settings: defaults as on the reference machine,
 * and `config KEY=VALUE` parsing with one exact error message per kind of mistake.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include <pagoda/kernel.h>

void kernel_config_default(struct kernel_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ram = PHYS_DEFAULT_RAM;
    cfg->swap = 0;
    cfg->paging_levels = 4;
    cfg->thp = 1;
    cfg->pcid = true;
    cfg->aslr = false;
    cfg->seed = 0;
    cfg->overcommit = 0;
    cfg->max_map_count = 65530;
    cfg->reclaim = 0;
    cfg->uid = (long)geteuid();
    cfg->gid = (long)getegid();
    cpu_config_default(&cfg->cpu);
    mm_config_default(&cfg->mm);
    kernel_config_sync(cfg);
}

void kernel_config_sync(struct kernel_config *cfg)
{
    cfg->cpu.paging_levels = cfg->paging_levels;
    cfg->cpu.pcid = cfg->pcid;
    cfg->mm.paging_levels = cfg->paging_levels;
    cfg->mm.overcommit = cfg->overcommit;
    cfg->mm.max_map_count = cfg->max_map_count;
    cfg->mm.swap_pages = cfg->swap >> 12;
    cfg->mm.randomize = cfg->aslr;
    cfg->mm.seed = cfg->seed;
    cfg->mm.thp_policy = cfg->thp;
}

/* ---- value parsers: each returns NULL when the value is good, else what a good
 * value looks like (the tail of the error message). ---- */

/* An unsigned number in C syntax (decimal, 0x hex), the whole text. */
static bool parse_u64(const char *text, uint64_t *out)
{
    char *end;
    if (!*text || *text == '-' || *text == '+' || *text == ' ')
        return false;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* A size: a number with an optional K, M, G or T suffix (binary units), itself
 * optionally followed by "B" or "iB": 256M, 4G, 64KiB, 1073741824. */
static bool parse_size(const char *text, uint64_t *out)
{
    char *end;
    if (!*text || *text == '-' || *text == '+' || *text == ' ')
        return false;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || end == text)
        return false;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: break;
    }
    if (shift) {
        end++;
        if (!strcmp(end, "B") || !strcmp(end, "iB"))
            end += strlen(end);
    }
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

/* One of `count` words; its index in *out. */
static bool parse_choice(const char *text, const char *const *words, int count, int *out)
{
    for (int i = 0; i < count; i++) {
        if (!strcmp(text, words[i])) {
            *out = i;
            return true;
        }
    }
    return false;
}

/* "on" or "off". */
static bool parse_on_off(const char *text, bool *out)
{
    static const char *const words[] = {"off", "on"};
    int i;
    if (!parse_choice(text, words, 2, &i))
        return false;
    *out = i == 1;
    return true;
}

/* The setters: apply a value, or return what a good one looks like. */
static const char *set_ram(struct kernel_config *cfg, const char *v)
{
    uint64_t bytes;
    if (!parse_size(v, &bytes))
        return "expected a size like 256M";
    if (bytes < PHYS_MIN_RAM || bytes > PHYS_MAX_RAM)
        return "expected a size from 4M to 1T";
    cfg->ram = bytes;
    return NULL;
}

static const char *set_swap(struct kernel_config *cfg, const char *v)
{
    if (!parse_size(v, &cfg->swap))
        return "expected a size like 1G, or 0 for none";
    return NULL;
}

static const char *set_paging(struct kernel_config *cfg, const char *v)
{
    if (strcmp(v, "4") && strcmp(v, "5"))
        return "expected 4 or 5";
    cfg->paging_levels = v[0] - '0';
    return NULL;
}

static const char *set_thp(struct kernel_config *cfg, const char *v)
{
    static const char *const words[] = {"never", "madvise", "always"};
    if (!parse_choice(v, words, 3, &cfg->thp))
        return "expected always, madvise or never";
    return NULL;
}

/* hugetlb pool sizes (vm.nr_hugepages and the 1 GiB hstate's), reserved at boot. */
static const char *set_hugepages(int *pages, const char *v)
{
    uint64_t n;
    if (!parse_u64(v, &n) || n > (1u << 30))
        return "expected a number of pages";
    *pages = (int)n;
    return NULL;
}

static const char *set_hugepages_2m(struct kernel_config *cfg, const char *v)
{
    return set_hugepages(&cfg->mm.hugetlb_pages_2m, v);
}

static const char *set_hugepages_1g(struct kernel_config *cfg, const char *v)
{
    return set_hugepages(&cfg->mm.hugetlb_pages_1g, v);
}

static const char *set_pcid(struct kernel_config *cfg, const char *v)
{
    return parse_on_off(v, &cfg->pcid) ? NULL : "expected on or off";
}

static const char *set_smep(struct kernel_config *cfg, const char *v)
{
    return parse_on_off(v, &cfg->cpu.smep) ? NULL : "expected on or off";
}

static const char *set_smap(struct kernel_config *cfg, const char *v)
{
    return parse_on_off(v, &cfg->cpu.smap) ? NULL : "expected on or off";
}

static const char *set_aslr(struct kernel_config *cfg, const char *v)
{
    return parse_on_off(v, &cfg->aslr) ? NULL : "expected on or off";
}

static const char *set_reclaim(struct kernel_config *cfg, const char *v)
{
    static const char *const words[] = {"lru2q", "clock", "fifo", "opt"};
    if (!parse_choice(v, words, 4, &cfg->reclaim))
        return "expected lru2q, clock, fifo or opt";
    return NULL;
}

static const char *set_seed(struct kernel_config *cfg, const char *v)
{
    return parse_u64(v, &cfg->seed) ? NULL : "expected a number";
}

static const char *set_overcommit(struct kernel_config *cfg, const char *v)
{
    if (strcmp(v, "0") && strcmp(v, "1") && strcmp(v, "2"))
        return "expected 0, 1 or 2";
    cfg->overcommit = v[0] - '0';
    return NULL;
}

static const char *set_id(long *id, const char *v)
{
    uint64_t n;
    if (!parse_u64(v, &n) || n > 0xfffffffeULL)
        return "expected a user or group id from 0 to 4294967294";
    *id = (long)n;
    return NULL;
}

static const char *set_uid(struct kernel_config *cfg, const char *v)
{
    return set_id(&cfg->uid, v);
}

static const char *set_gid(struct kernel_config *cfg, const char *v)
{
    return set_id(&cfg->gid, v);
}

static const char *set_max_map_count(struct kernel_config *cfg, const char *v)
{
    uint64_t n;
    if (!parse_u64(v, &n) || n > INT_MAX)
        return "expected a number from 0 to 2147483647";
    cfg->max_map_count = (int)n;
    return NULL;
}

/* "ENTRIESxWAYS" for one TLB array.  A level's 4K array cannot be removed, and the
 * number of sets (entries / ways) must be a power of two, as tlb_init requires. */
static const char *parse_tlb_value(const char *v, enum tlb_size size, struct tlb_geometry *g)
{
    if (tlb_parse_geometry(v, g))
        return "expected ENTRIESxWAYS like 64x4";
    if (g->entries == 0 && size == TLB_4K)
        return "every TLB level needs a 4K array";
    uint32_t sets = g->entries ? g->entries / g->ways : 1;
    if (sets & (sets - 1))
        return "expected ENTRIESxWAYS with a power-of-two number of sets (ENTRIES/WAYS)";
    return NULL;
}

/* tlb.LEVEL or tlb.LEVEL.SIZE: the array it names, or NULL for an unknown key.
 * *size says which page size; tlb.l2.2m may also be "shared" (one STLB array for 4K
 * and 2M, as Skylake has). */
static struct tlb_geometry *tlb_key(struct kernel_config *cfg, const char *key, enum tlb_size *size)
{
    static const char *const sizes[] = {"4k", "2m", "1g"};
    struct tlb_geometry *level;
    const char *rest;
    if (!strncmp(key, "tlb.l1d", 7))
        level = cfg->cpu.tlb.l1d, rest = key + 7;
    else if (!strncmp(key, "tlb.l1i", 7))
        level = cfg->cpu.tlb.l1i, rest = key + 7;
    else if (!strncmp(key, "tlb.l2", 6))
        level = cfg->cpu.tlb.l2, rest = key + 6;
    else
        return NULL;
    if (*rest == '\0') {
        *size = TLB_4K;
        return &level[TLB_4K];
    }
    if (*rest != '.')
        return NULL;
    for (int s = 0; s < TLB_NSIZES; s++) {
        if (!strcasecmp(rest + 1, sizes[s])) {
            *size = (enum tlb_size)s;
            return &level[s];
        }
    }
    return NULL;
}

/* Format the message into err (when given); -EINVAL. */
static int config_error(char *err, size_t errlen, const char *fmt, const char *a, const char *b, const char *c)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a, b, c);
    return -EINVAL;
}

/* The TLB keys: geometry of one array, applied only when valid. */
static int set_tlb(struct kernel_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    enum tlb_size size;
    struct tlb_geometry *target = tlb_key(cfg, key, &size), g;
    if (!target)
        return config_error(err, errlen, "unknown key '%s'", key, "", "");
    bool l2_2m = target == &cfg->cpu.tlb.l2[TLB_2M];
    if (l2_2m && !strcmp(value, "shared")) {
        cfg->cpu.tlb.l2_shared_4k_2m = true;
        *target = (struct tlb_geometry){0, 0};
        return 0;
    }
    const char *expect = parse_tlb_value(value, size, &g);
    if (expect)
        return config_error(err, errlen, "bad value '%s' for %s: %s", value, key, expect);
    *target = g;
    if (l2_2m)
        cfg->cpu.tlb.l2_shared_4k_2m = false;
    return 0;
}

struct config_key {
    const char *name;
    const char *(*set)(struct kernel_config *cfg, const char *value);
};

static const struct config_key config_keys[] = {
    {"ram", set_ram},           {"swap", set_swap},       {"paging", set_paging},
    {"thp", set_thp},           {"pcid", set_pcid},       {"aslr", set_aslr},
    {"reclaim", set_reclaim},   {"seed", set_seed},       {"overcommit", set_overcommit},
    {"max_map_count", set_max_map_count}, {"uid", set_uid}, {"gid", set_gid},
    {"hugepages", set_hugepages_2m}, {"hugepages_1g", set_hugepages_1g},
    {"smep", set_smep},         {"smap", set_smap},
};

int kernel_config_set(struct kernel_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!strncmp(key, "tlb.", 4))
        return set_tlb(cfg, key, value, err, errlen);
    for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
        if (strcmp(key, config_keys[i].name))
            continue;
        const char *expect = config_keys[i].set(cfg, value);
        if (expect)
            return config_error(err, errlen, "bad value '%s' for %s: %s", value, key, expect);
        kernel_config_sync(cfg);
        return 0;
    }
    return config_error(err, errlen, "unknown key '%s'", key, "", "");
}
