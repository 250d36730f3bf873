/*
 * pagoda/cpu.h - one simulated x86-64 CPU: control registers, the MMU, the TLBs, the
 * exception vectors and a timer.
 *
 * Every load, store and instruction fetch goes through cpu_access() (or the inline
 * fast paths below): a TLB lookup, on a miss a hardware page walk that checks the
 * entries exactly as the Intel SDM vol. 3A ch. 4.6 says and sets A/D bits, and on a
 * failure a #PF (vector 14) with the architectural error code and CR2.  The handler
 * the kernel registered runs; when it returns EXC_RETRY the access is tried again, as
 * the instruction would be re-executed.
 */
#ifndef PAGODA_CPU_H
#define PAGODA_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "phys.h"
#include "pte.h"
#include "tlb.h"

/* Control-register bits the MMU honours. */
#define CR0_WP (1ULL << 16)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define CR4_PGE (1ULL << 7)
#define CR4_LA57 (1ULL << 12)
#define CR4_PCIDE (1ULL << 17)
#define CR4_SMEP (1ULL << 20)
#define CR4_SMAP (1ULL << 21)
#define CR4_PKE (1ULL << 22)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)
#define RFLAGS_AC (1ULL << 18)
#define CR3_NOFLUSH (1ULL << 63)
#define CR3_PCID_MASK 0xfffULL

/* #PF error code bits (SDM vol. 3A, 4.7). */
#define PF_P (1u << 0)
#define PF_W (1u << 1)
#define PF_U (1u << 2)
#define PF_RSVD (1u << 3)
#define PF_I (1u << 4)
#define PF_PK (1u << 5)

#define VEC_GP 13
#define VEC_PF 14
#define VEC_TIMER 32
#define CPU_NR_VECTORS 256

enum access { ACC_READ, ACC_WRITE, ACC_EXEC };

/* What an exception handler saw; handlers may fill signo/si_code for their callers. */
struct trap_frame {
    unsigned vector;
    uint32_t error_code;
    uint64_t cr2;         /* faulting linear address (#PF only) */
    int cpl;              /* privilege level the access was made at (0 or 3) */
    enum access access;
    int signo, si_code;   /* set by a handler that gives up (e.g. SIGSEGV, SEGV_MAPERR) */
    uint64_t si_addr;
};

enum exc_result { EXC_RETRY, EXC_ABORT };
struct cpu;
typedef enum exc_result (*exc_handler_fn)(struct cpu *cpu, struct trap_frame *tf, void *ctx);

/* Results of an access. */
enum {
    CPU_OK = 0,
    CPU_FAULT = 1,      /* an exception was not resolved: see cpu->last_trap */
    CPU_FAULT_LOOP = 2, /* the handler kept returning EXC_RETRY without fixing the fault */
};
#define CPU_MAX_RETRIES 16

struct cpu_config {
    int paging_levels;         /* 4 or 5 (LA57) */
    unsigned maxphyaddr;       /* physical-address width; default 39 (Skylake client) */
    bool pcid;                 /* CR4.PCIDE */
    bool smep, smap, pke, nxe; /* CR4.SMEP/SMAP/PKE, EFER.NXE */
    bool pge;                  /* CR4.PGE (global pages) */
    uint64_t timer_period;     /* raise vector 32 every N accesses; 0 = off */
    struct tlb_config tlb;
};

struct cpu_counters {
    uint64_t accesses;     /* loads, stores and fetches started */
    uint64_t faults[CPU_NR_VECTORS]; /* exceptions raised, per vector */
    uint64_t timer_ticks;
    uint64_t dirty_walks;  /* walks made only to set a leaf's D bit */
};

struct cpu {
    struct phys *phys;
    uint64_t cr0, cr3, cr4, efer, rflags;
    uint32_t pkru;
    int cpl;                 /* 0 supervisor, 3 user */
    unsigned maxphyaddr;
    unsigned pcid;           /* current PCID (CR3[11:0] with PCIDE, else 0) */
    struct tlb tlb;
    /* Permission masks recomputed when CR0/CR4/EFER/RFLAGS/CPL change: an access is
     * fine by the TLB entry when (attrs & need) == need and !(attrs & deny). */
    uint32_t need[2][3], deny[2][3]; /* [cpl==3][access] */
    bool pk_active;          /* CR4.PKE: user data accesses also consult PKRU */
    uint64_t timer_period, timer_left;
    exc_handler_fn handler[CPU_NR_VECTORS];
    void *handler_ctx[CPU_NR_VECTORS];
    struct trap_frame last_trap;
    struct cpu_counters count;
};

/* The default configuration: 4-level paging, Skylake TLBs, NXE, PGE and PCID on,
 * SMEP/SMAP/PKE off, no timer. */
void cpu_config_default(struct cpu_config *cfg);

/* 0, -EINVAL (bad levels, maxphyaddr outside 36..52, bad TLB geometry), -ENOMEM. */
int cpu_init(struct cpu *cpu, struct phys *phys, const struct cpu_config *cfg);
void cpu_destroy(struct cpu *cpu);

void cpu_set_handler(struct cpu *cpu, unsigned vector, exc_handler_fn fn, void *ctx);

/* MOV to CR3, with its architectural TLB effects: without PCIDE every non-global
 * entry is flushed; with PCIDE the new PCID's non-global entries are flushed unless
 * bit 63 (no-flush) is set.  Bit 63 is not stored. */
void cpu_write_cr3(struct cpu *cpu, uint64_t value);
/* MOV to CR4: toggling PGE or clearing PCIDE flushes everything, globals included.
 * -EINVAL (#GP) when setting PCIDE while CR3[11:0] != 0, or changing LA57. */
int cpu_write_cr4(struct cpu *cpu, uint64_t value);
/* MOV to CR0 (WP, PG): changing PG flushes everything. */
void cpu_write_cr0(struct cpu *cpu, uint64_t value);
void cpu_write_efer(struct cpu *cpu, uint64_t value);
void cpu_set_ac(struct cpu *cpu, bool ac); /* STAC / CLAC */
void cpu_set_cpl(struct cpu *cpu, int cpl);
void cpu_write_pkru(struct cpu *cpu, uint32_t pkru);

/* INVLPG va. */
void cpu_invlpg(struct cpu *cpu, uint64_t va);
/* INVPCID: type 0 individual address, 1 single context, 2 all contexts with globals,
 * 3 all contexts except globals.  -EINVAL (#GP) for another type or pcid > 4095. */
int cpu_invpcid(struct cpu *cpu, unsigned type, unsigned pcid, uint64_t va);

/* Translate va for an access at the current CPL without touching memory: TLB, walk,
 * A/D bits, faults and handlers, exactly as a real access.  CPU_OK with *pa set. */
int cpu_translate(struct cpu *cpu, uint64_t va, enum access acc, paddr_t *pa);

/* Loads, stores and fetches of any length, crossing pages as needed.  Bytes before a
 * faulting page are transferred (as a string instruction would).  CPU_OK, CPU_FAULT
 * or CPU_FAULT_LOOP. */
int cpu_access(struct cpu *cpu, uint64_t va, void *buf, size_t len, enum access acc);
static inline int cpu_read(struct cpu *cpu, uint64_t va, void *buf, size_t len)
{
    return cpu_access(cpu, va, buf, len, ACC_READ);
}
static inline int cpu_write(struct cpu *cpu, uint64_t va, const void *buf, size_t len)
{
    return cpu_access(cpu, va, (void *)buf, len, ACC_WRITE);
}

/* The walk a miss would make, with no side effects: for `walk` and tests. */
struct mmu_walk_result {
    int fault;           /* 0: translated; else the #PF error code would be raised */
    uint32_t error_code;
    paddr_t pa;
    int level;           /* leaf level, or level where the walk stopped */
    uint32_t attrs;      /* TLB_* rights combined */
};
void cpu_walk_probe(struct cpu *cpu, uint64_t va, enum access acc, struct mmu_walk_result *r);

/* The `tlb` view. */
void cpu_print_tlb(const struct cpu *cpu, FILE *out);

/* ---- fast paths -------------------------------------------------------------- */

/* L1 DTLB 4K probe for an aligned access inside one page: the host pointer, or NULL
 * when anything needs the full path (miss, permission, D bit, timer, PK). */
static inline void *cpu_fast_data(struct cpu *cpu, uint64_t va, enum access acc)
{
    struct tlb_array *arr = &cpu->tlb.l1d[TLB_4K];
    uint64_t vpn = va >> 12;
    struct tlb_entry *set = &arr->e[(vpn & arr->set_mask) * arr->ways];
    uint64_t mine = tlb_tag(vpn, TLB_4K, cpu->pcid), global = tlb_tag(vpn, TLB_4K, TLB_PCID_GLOBAL);
    int user = cpu->cpl == 3;
    if (cpu->timer_left <= 1 || cpu->pk_active)
        return NULL;
    for (uint32_t w = 0; w < arr->ways; w++) {
        struct tlb_entry *e = &set[w];
        if (e->tag == mine || e->tag == global) {
            uint32_t need = cpu->need[user][acc];
            if ((e->attrs & need) != need || (e->attrs & cpu->deny[user][acc]))
                return NULL;
            e->stamp = ++arr->clock;
            cpu->tlb.stats.l1d_hits++;
            cpu->count.accesses++;
            cpu->timer_left--;
            return e->host + (va & 0xfff);
        }
    }
    return NULL;
}

/* Load 8 bytes.  CPU_OK with *val set, or a fault code. */
static inline int cpu_load64(struct cpu *cpu, uint64_t va, uint64_t *val)
{
    if ((va & 0xfff) <= 0xff8) {
        void *p = cpu_fast_data(cpu, va, ACC_READ);
        if (p) {
            memcpy(val, p, 8);
            return CPU_OK;
        }
    }
    return cpu_access(cpu, va, val, 8, ACC_READ);
}

static inline int cpu_store64(struct cpu *cpu, uint64_t va, uint64_t val)
{
    if ((va & 0xfff) <= 0xff8) {
        void *p = cpu_fast_data(cpu, va, ACC_WRITE);
        if (p) {
            memcpy(p, &val, 8);
            return CPU_OK;
        }
    }
    return cpu_access(cpu, va, &val, 8, ACC_WRITE);
}

#endif
