/*
 * pagoda/pte.h - x86-64 paging-structure entries, exactly as the Intel SDM (vol. 3A,
 * ch. 4.5, tables 4-15..4-20) lays them out, plus the software bits Linux uses.
 *
 * Levels are numbered as the SDM's tables are nested: 1 = PT (PTE), 2 = PD (PDE),
 * 3 = PDPT (PDPTE), 4 = PML4 (PML4E), 5 = PML5 (PML5E, only with LA57).
 */
#ifndef PAGODA_PTE_H
#define PAGODA_PTE_H

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t pte_t;

#define PTE_P (1ULL << 0)    /* present */
#define PTE_RW (1ULL << 1)   /* writable */
#define PTE_US (1ULL << 2)   /* user accessible */
#define PTE_PWT (1ULL << 3)  /* page write-through */
#define PTE_PCD (1ULL << 4)  /* page cache disable */
#define PTE_A (1ULL << 5)    /* accessed (set by the MMU) */
#define PTE_D (1ULL << 6)    /* dirty (set by the MMU on writes; leaves only) */
#define PTE_PS (1ULL << 7)   /* page size: leaf in a PDE or PDPTE */
#define PTE_PAT4K (1ULL << 7)/* in a 4 KiB PTE bit 7 is the PAT bit */
#define PTE_G (1ULL << 8)    /* global (leaves only, with CR4.PGE) */
#define PTE_SW1 (1ULL << 9)  /* ignored by hardware */
#define PTE_SW2 (1ULL << 10)
#define PTE_SW3 (1ULL << 11)
#define PTE_PATLG (1ULL << 12) /* PAT bit of 2 MiB / 1 GiB leaves */
#define PTE_NX (1ULL << 63)  /* execute disable (reserved unless EFER.NXE) */
#define PTE_PKEY_SHIFT 59
#define PTE_PKEY_MASK (0xfULL << PTE_PKEY_SHIFT)

/* Linux's names for the software bits (arch/x86/include/asm/pgtable_types.h). */
#define PTE_SPECIAL PTE_SW1     /* no struct page reference (zero page, pfnmap) */
#define PTE_UFFD_WP PTE_SW2
#define PTE_SOFT_DIRTY PTE_SW3
#define PTE_PROTNONE PTE_G      /* with P clear: PROT_NONE, still "present" to Linux */

/* Physical address bits 12..51 of any entry. */
#define PTE_ADDR_MASK 0x000ffffffffff000ULL

#define PT_ENTRIES 512
#define PT_LEVEL_PTE 1
#define PT_LEVEL_PMD 2
#define PT_LEVEL_PUD 3
#define PT_LEVEL_P4D 4 /* the PML4 */
#define PT_LEVEL_PML5 5

/* log2 of the bytes one entry at `level` maps: 12, 21, 30, 39, 48. */
static inline unsigned pt_level_shift(int level)
{
    return 12u + 9u * (unsigned)(level - 1);
}

static inline uint64_t pt_level_size(int level)
{
    return 1ULL << pt_level_shift(level);
}

/* Index of va's entry in the table at `level`. */
static inline unsigned pt_index(uint64_t va, int level)
{
    return (unsigned)(va >> pt_level_shift(level)) & (PT_ENTRIES - 1);
}

/* Is this entry a leaf at `level` (PTE, or PDE/PDPTE with PS)? Present entries only. */
static inline bool pte_is_leaf(pte_t e, int level)
{
    return level == PT_LEVEL_PTE || ((level == PT_LEVEL_PMD || level == PT_LEVEL_PUD) && (e & PTE_PS));
}

/* Physical address a leaf at `level` maps (page base), or a table entry points to. */
static inline uint64_t pte_addr(pte_t e, int level, bool leaf)
{
    if (!leaf || level == PT_LEVEL_PTE)
        return e & PTE_ADDR_MASK;
    return e & PTE_ADDR_MASK & ~(pt_level_size(level) - 1);
}

/* PAT bit position in a leaf at `level`. */
static inline pte_t pte_pat_bit(int level)
{
    return level == PT_LEVEL_PTE ? PTE_PAT4K : PTE_PATLG;
}

static inline unsigned pte_pkey(pte_t e)
{
    return (unsigned)((e & PTE_PKEY_MASK) >> PTE_PKEY_SHIFT);
}

/* Canonical: bits 63..(va_bits-1) all equal. */
static inline bool va_canonical(uint64_t va, unsigned va_bits)
{
    int64_t s = (int64_t)(va << (64 - va_bits)) >> (64 - va_bits);
    return (uint64_t)s == va;
}

/* Level names as the SDM gives them, for dumps: "PTE", "PDE", "PDPTE", "PML4E", "PML5E". */
const char *pt_level_name(int level);

#endif
