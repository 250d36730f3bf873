/*
 * The CPU and its MMU (see include/pagoda/cpu.h).
 *
 * The walk below is the hardware's: rooted at CR3, helped by the paging-structure
 * caches, checking each entry as SDM vol. 3A 4.5-4.6 says.  Software that edits page
 * tables uses the walker in pgtable.c; this one only reads them and sets A/D.
 */
#include <pagoda/cpu.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

void cpu_config_default(struct cpu_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->paging_levels = 4;
    cfg->maxphyaddr = 39;
    cfg->pcid = true;
    cfg->nxe = true;
    cfg->pge = true;
    tlb_config_skylake(&cfg->tlb);
}

/* Recompute the per-(mode, access) rights masks after a control-state change.
 * The rules are SDM 4.6.1: user accesses need U at every level, writes need R/W
 * (supervisor writes only with CR0.WP), fetches need NX clear; SMAP denies supervisor
 * data accesses to user addresses unless RFLAGS.AC, SMEP denies supervisor fetches
 * from them.  D is "needed" only so that a write through a clean entry takes the slow
 * path, which walks again to set the dirty bit. */
static void recompute_masks(struct cpu *cpu)
{
    bool wp = cpu->cr0 & CR0_WP, smap = cpu->cr4 & CR4_SMAP, smep = cpu->cr4 & CR4_SMEP;
    bool ac = cpu->rflags & RFLAGS_AC;
    uint32_t smap_deny = (smap && !ac) ? TLB_U : 0;

    cpu->need[1][ACC_READ] = TLB_U;
    cpu->need[1][ACC_WRITE] = TLB_U | TLB_W | TLB_D;
    cpu->need[1][ACC_EXEC] = TLB_U | TLB_X;
    cpu->deny[1][ACC_READ] = cpu->deny[1][ACC_WRITE] = cpu->deny[1][ACC_EXEC] = 0;

    cpu->need[0][ACC_READ] = 0;
    cpu->need[0][ACC_WRITE] = TLB_D | (wp ? TLB_W : 0);
    cpu->need[0][ACC_EXEC] = TLB_X;
    cpu->deny[0][ACC_READ] = smap_deny;
    cpu->deny[0][ACC_WRITE] = smap_deny;
    cpu->deny[0][ACC_EXEC] = smep ? TLB_U : 0;
    cpu->pk_active = cpu->cr4 & CR4_PKE;
}

int cpu_init(struct cpu *cpu, struct phys *phys, const struct cpu_config *cfg)
{
    memset(cpu, 0, sizeof(*cpu));
    if ((cfg->paging_levels != 4 && cfg->paging_levels != 5) || cfg->maxphyaddr < 36 || cfg->maxphyaddr > 52)
        return -EINVAL;
    int err = tlb_init(&cpu->tlb, &cfg->tlb);
    if (err)
        return err;
    cpu->phys = phys;
    cpu->maxphyaddr = cfg->maxphyaddr;
    cpu->cr0 = CR0_PG | CR0_WP | 1 /* PE */;
    cpu->cr4 = CR4_PAE | (cfg->pge ? CR4_PGE : 0) | (cfg->paging_levels == 5 ? CR4_LA57 : 0) |
               (cfg->pcid ? CR4_PCIDE : 0) | (cfg->smep ? CR4_SMEP : 0) | (cfg->smap ? CR4_SMAP : 0) |
               (cfg->pke ? CR4_PKE : 0);
    cpu->efer = EFER_LME | EFER_LMA | (cfg->nxe ? EFER_NXE : 0);
    cpu->cpl = 0;
    cpu->timer_period = cfg->timer_period;
    cpu->timer_left = cfg->timer_period ? cfg->timer_period : UINT64_MAX;
    recompute_masks(cpu);
    return 0;
}

void cpu_destroy(struct cpu *cpu)
{
    tlb_destroy(&cpu->tlb);
}

void cpu_set_handler(struct cpu *cpu, unsigned vector, exc_handler_fn fn, void *ctx)
{
    if (vector < CPU_NR_VECTORS) {
        cpu->handler[vector] = fn;
        cpu->handler_ctx[vector] = ctx;
    }
}

static bool pcid_enabled(const struct cpu *cpu)
{
    return cpu->cr4 & CR4_PCIDE;
}

void cpu_write_cr3(struct cpu *cpu, uint64_t value)
{
    bool noflush = value & CR3_NOFLUSH;
    cpu->cr3 = value & ~CR3_NOFLUSH;
    if (!pcid_enabled(cpu)) {
        cpu->pcid = 0;
        tlb_flush_pcid(&cpu->tlb, 0, true);
        return;
    }
    cpu->pcid = (unsigned)(value & CR3_PCID_MASK);
    if (!noflush)
        tlb_flush_pcid(&cpu->tlb, cpu->pcid, true);
}

int cpu_write_cr4(struct cpu *cpu, uint64_t value)
{
    uint64_t old = cpu->cr4;
    if ((value ^ old) & CR4_LA57)
        return -EINVAL; /* only outside IA-32e mode */
    if ((value & CR4_PCIDE) && !(old & CR4_PCIDE) && (cpu->cr3 & CR3_PCID_MASK))
        return -EINVAL;
    cpu->cr4 = value;
    if (((value ^ old) & CR4_PGE) || ((old & CR4_PCIDE) && !(value & CR4_PCIDE)) || ((value ^ old) & CR4_SMEP))
        tlb_flush_all(&cpu->tlb, false);
    cpu->pcid = pcid_enabled(cpu) ? (unsigned)(cpu->cr3 & CR3_PCID_MASK) : 0;
    recompute_masks(cpu);
    return 0;
}

void cpu_write_cr0(struct cpu *cpu, uint64_t value)
{
    uint64_t old = cpu->cr0;
    cpu->cr0 = value;
    if ((value ^ old) & CR0_PG)
        tlb_flush_all(&cpu->tlb, false);
    recompute_masks(cpu);
}

void cpu_write_efer(struct cpu *cpu, uint64_t value)
{
    cpu->efer = value;
    recompute_masks(cpu);
}

void cpu_set_ac(struct cpu *cpu, bool ac)
{
    cpu->rflags = ac ? cpu->rflags | RFLAGS_AC : cpu->rflags & ~RFLAGS_AC;
    recompute_masks(cpu);
}

void cpu_set_cpl(struct cpu *cpu, int cpl)
{
    cpu->cpl = cpl == 3 ? 3 : 0;
}

void cpu_write_pkru(struct cpu *cpu, uint32_t pkru)
{
    cpu->pkru = pkru;
}

void cpu_invlpg(struct cpu *cpu, uint64_t va)
{
    tlb_invlpg(&cpu->tlb, va, cpu->pcid);
}

int cpu_invpcid(struct cpu *cpu, unsigned type, unsigned pcid, uint64_t va)
{
    if (pcid > CR3_PCID_MASK)
        return -EINVAL;
    switch (type) {
    case 0:
        tlb_invalidate_addr_pcid(&cpu->tlb, va, pcid);
        return 0;
    case 1:
        tlb_flush_pcid(&cpu->tlb, pcid, true);
        return 0;
    case 2:
        tlb_flush_all(&cpu->tlb, false);
        return 0;
    case 3:
        tlb_flush_all(&cpu->tlb, true);
        return 0;
    default:
        return -EINVAL;
    }
}

/* ---- the hardware walk ------------------------------------------------------- */

static unsigned va_bits(const struct cpu *cpu)
{
    return (cpu->cr4 & CR4_LA57) ? 57 : 48;
}

static int paging_levels(const struct cpu *cpu)
{
    return (cpu->cr4 & CR4_LA57) ? 5 : 4;
}

/* Read a paging-structure entry.  Addresses beyond RAM read as all ones, as an
 * unbacked bus does, which the reserved-bit check then catches. */
static pte_t read_entry(const struct cpu *cpu, paddr_t pa)
{
    if (pa + 8 > cpu->phys->ram_bytes)
        return ~0ULL;
    pte_t e;
    memcpy(&e, phys_host(cpu->phys, pa), 8);
    return e;
}

static void set_entry_bits(const struct cpu *cpu, paddr_t pa, pte_t bits)
{
    if (pa + 8 > cpu->phys->ram_bytes)
        return;
    pte_t *p = phys_host(cpu->phys, pa);
    if ((*p & bits) != bits)
        *p |= bits;
}

/* Reserved bits set in a present entry at `level` (SDM tables 4-15..4-20). */
static pte_t reserved_bits(const struct cpu *cpu, pte_t e, int level)
{
    pte_t r = e & (PTE_ADDR_MASK & ~((1ULL << cpu->maxphyaddr) - 1));
    if (!(cpu->efer & EFER_NXE))
        r |= e & PTE_NX;
    if (level >= PT_LEVEL_P4D)
        r |= e & PTE_PS;
    else if (level == PT_LEVEL_PUD && (e & PTE_PS))
        r |= e & 0x3fffe000ULL; /* bits 29:13 */
    else if (level == PT_LEVEL_PMD && (e & PTE_PS))
        r |= e & 0x1fe000ULL; /* bits 20:13 */
    return r;
}

/* Rights one entry grants, as TLB_* bits. */
static uint32_t entry_rights(const struct cpu *cpu, pte_t e)
{
    uint32_t r = 0;
    if (e & PTE_RW)
        r |= TLB_W;
    if (e & PTE_US)
        r |= TLB_U;
    if (!(e & PTE_NX) || !(cpu->efer & EFER_NXE))
        r |= TLB_X;
    return r;
}

/* Error-code bits every #PF of this access carries. */
static uint32_t access_error_bits(const struct cpu *cpu, enum access acc)
{
    uint32_t ec = 0;
    if (acc == ACC_WRITE)
        ec |= PF_W;
    if (cpu->cpl == 3)
        ec |= PF_U;
    if (acc == ACC_EXEC && ((cpu->efer & EFER_NXE) || (cpu->cr4 & CR4_SMEP)))
        ec |= PF_I;
    return ec;
}

/* 0 when attrs allow the access (D aside), else PF_P plus PF_PK for a key denial. */
static uint32_t rights_violation(const struct cpu *cpu, uint32_t attrs, enum access acc)
{
    int user = cpu->cpl == 3;
    uint32_t need = cpu->need[user][acc] & ~TLB_D;
    uint32_t v = ((attrs & need) != need || (attrs & cpu->deny[user][acc])) ? PF_P : 0;
    if (cpu->pk_active && acc != ACC_EXEC && (attrs & TLB_U)) {
        unsigned key = (attrs >> TLB_PKEY_SHIFT) & 0xf;
        bool ad = (cpu->pkru >> (2 * key)) & 1, wd = (cpu->pkru >> (2 * key + 1)) & 1;
        if (ad || (wd && acc == ACC_WRITE && (user || (cpu->cr0 & CR0_WP))))
            v |= PF_P | PF_PK;
    }
    return v;
}

/*
 * Walk the tables for va.  With `commit`, this is the real thing: paging-structure
 * caches consulted and filled, counters kept, A set on every entry used and D on the
 * leaf for a write, the TLB filled on success.  Without, nothing is changed.
 */
static void hw_walk(struct cpu *cpu, uint64_t va, enum access acc, bool commit, struct mmu_walk_result *r)
{
    struct tlb *tlb = &cpu->tlb;
    int levels = paging_levels(cpu);
    paddr_t table = cpu->cr3 & PTE_ADDR_MASK & ((1ULL << cpu->maxphyaddr) - 1);
    uint32_t attrs = TLB_W | TLB_U | TLB_X;
    int level = levels;
    paddr_t leaf_at = 0;
    pte_t e = 0;

    memset(r, 0, sizeof(*r));
    if (commit) {
        tlb->stats.walks++;
        for (int l = PWC_MIN_LEVEL; l <= levels; l++) {
            struct pwc_entry *pw = tlb->pwc[l].entries ? pwc_lookup(tlb, l, va, cpu->pcid) : NULL;
            if (pw) {
                table = pw->next_table;
                attrs = pw->attrs;
                level = l - 1;
                break;
            }
        }
        if (level == levels)
            tlb->stats.pwc_misses++;
    }
    for (;; level--) {
        paddr_t at = table + 8ULL * pt_index(va, level);
        e = read_entry(cpu, at);
        if (commit)
            tlb->stats.walk_refs++;
        r->level = level;
        if (!(e & PTE_P)) {
            r->fault = 1;
            r->error_code = access_error_bits(cpu, acc);
            return;
        }
        if (reserved_bits(cpu, e, level)) {
            r->fault = 1;
            r->error_code = access_error_bits(cpu, acc) | PF_P | PF_RSVD;
            return;
        }
        attrs &= entry_rights(cpu, e);
        if (pte_is_leaf(e, level)) {
            leaf_at = at;
            break;
        }
        table = e & PTE_ADDR_MASK;
        if (commit) {
            set_entry_bits(cpu, at, PTE_A);
            pwc_insert(tlb, level, va, cpu->pcid, table, attrs);
        }
    }
    attrs |= (uint32_t)pte_pkey(e) << TLB_PKEY_SHIFT;
    uint32_t v = rights_violation(cpu, attrs, acc);
    if (v) {
        r->fault = 1;
        r->error_code = access_error_bits(cpu, acc) | v;
        r->attrs = attrs;
        return;
    }
    pte_t set = PTE_A | (acc == ACC_WRITE ? PTE_D : 0);
    if (commit)
        set_entry_bits(cpu, leaf_at, set);
    if ((e | (commit ? set : 0)) & PTE_D)
        attrs |= TLB_D;
    if ((e & PTE_G) && (cpu->cr4 & CR4_PGE))
        attrs |= TLB_G;
    r->attrs = attrs;
    r->pa = pte_addr(e, level, true) | (va & (pt_level_size(level) - 1));
}

void cpu_walk_probe(struct cpu *cpu, uint64_t va, enum access acc, struct mmu_walk_result *r)
{
    hw_walk(cpu, va, acc, false, r);
}

/* One translation attempt.  Returns 0 with *pa and *host (NULL beyond RAM), or fills
 * *tf with the exception to raise. */
static int translate_once(struct cpu *cpu, uint64_t va, enum access acc, paddr_t *pa, uint8_t **host,
                          struct trap_frame *tf)
{
    struct tlb *tlb = &cpu->tlb;
    enum tlb_kind kind = acc == ACC_EXEC ? TLB_INSTR : TLB_DATA;

    if (!va_canonical(va, va_bits(cpu))) {
        *tf = (struct trap_frame){.vector = VEC_GP, .error_code = 0, .cpl = cpu->cpl, .access = acc};
        return -1;
    }
    struct tlb_entry *te = tlb_lookup(tlb, kind, va, cpu->pcid);
    if (te) {
        uint32_t v = rights_violation(cpu, te->attrs, acc);
        uint64_t off = va & ((1ULL << tlb_size_shift(te->size)) - 1);
        if (!v && (acc != ACC_WRITE || (te->attrs & TLB_D))) {
            *pa = te->pa + off;
            *host = te->host + off;
            return 0;
        }
        if (v) {
            /* Rights come from the cached entry, as on hardware: no walk. */
            *tf = (struct trap_frame){.vector = VEC_PF, .cpl = cpu->cpl, .access = acc, .cr2 = va,
                                      .error_code = access_error_bits(cpu, acc) | v};
            tlb_fault_invalidate(tlb, va, cpu->pcid);
            return -1;
        }
        /* A write through a clean entry: walk again so the leaf's D bit gets set. */
        cpu->count.dirty_walks++;
    }
    struct mmu_walk_result r;
    hw_walk(cpu, va, acc, true, &r);
    if (r.fault) {
        *tf = (struct trap_frame){.vector = VEC_PF, .cpl = cpu->cpl, .access = acc, .cr2 = va,
                                  .error_code = r.error_code};
        tlb_fault_invalidate(tlb, va, cpu->pcid);
        return -1;
    }
    *pa = r.pa;
    if (!phys_pa_valid(cpu->phys, r.pa)) {
        *host = NULL; /* not RAM: never cached, reads see all ones */
        return 0;
    }
    *host = phys_host(cpu->phys, r.pa);
    uint64_t page_mask = pt_level_size(r.level) - 1;
    tlb_insert(tlb, kind, va, (unsigned)(r.level - 1), r.pa & ~page_mask, *host - (r.pa & page_mask), r.attrs,
               cpu->pcid);
    return 0;
}

/* Raise tf: run the vector's handler in supervisor mode.  EXC_RETRY or EXC_ABORT. */
static enum exc_result raise_exception(struct cpu *cpu, struct trap_frame *tf)
{
    cpu->count.faults[tf->vector]++;
    cpu->last_trap = *tf;
    exc_handler_fn fn = cpu->handler[tf->vector];
    if (!fn)
        return EXC_ABORT;
    int cpl = cpu->cpl;
    cpu->cpl = 0;
    enum exc_result res = fn(cpu, tf, cpu->handler_ctx[tf->vector]);
    cpu->cpl = cpl;
    cpu->last_trap = *tf;
    return res;
}

/* Translate with exception delivery and retries. */
static int translate(struct cpu *cpu, uint64_t va, enum access acc, paddr_t *pa, uint8_t **host)
{
    for (int tries = 0;; tries++) {
        struct trap_frame tf;
        if (translate_once(cpu, va, acc, pa, host, &tf) == 0)
            return CPU_OK;
        if (raise_exception(cpu, &tf) != EXC_RETRY)
            return CPU_FAULT;
        if (tries == CPU_MAX_RETRIES)
            return CPU_FAULT_LOOP;
    }
}

/* Count an access and fire the timer when its period has elapsed. */
static void tick(struct cpu *cpu)
{
    cpu->count.accesses++;
    if (--cpu->timer_left == 0) {
        cpu->timer_left = cpu->timer_period ? cpu->timer_period : UINT64_MAX;
        cpu->count.timer_ticks++;
        struct trap_frame tf = {.vector = VEC_TIMER, .cpl = cpu->cpl};
        raise_exception(cpu, &tf);
    }
}

int cpu_translate(struct cpu *cpu, uint64_t va, enum access acc, paddr_t *pa)
{
    uint8_t *host;
    return translate(cpu, va, acc, pa, &host);
}

int cpu_access(struct cpu *cpu, uint64_t va, void *buf, size_t len, enum access acc)
{
    uint8_t *p = buf;
    tick(cpu);
    while (len) {
        size_t chunk = PAGE_SIZE - (va & (PAGE_SIZE - 1));
        if (chunk > len)
            chunk = len;
        paddr_t pa;
        uint8_t *host;
        int rc = translate(cpu, va, acc, &pa, &host);
        if (rc)
            return rc;
        if (acc == ACC_WRITE) {
            if (host)
                memcpy(host, p, chunk);
        } else if (host) {
            memcpy(p, host, chunk);
        } else {
            memset(p, 0xff, chunk);
        }
        p += chunk;
        va += chunk;
        len -= chunk;
    }
    return CPU_OK;
}

void cpu_print_tlb(const struct cpu *cpu, FILE *out)
{
    tlb_print(&cpu->tlb, out);
    fprintf(out, "  pcid %u%s\n", cpu->pcid, pcid_enabled(cpu) ? "" : " (PCIDE off)");
}
