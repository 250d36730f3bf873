/*
 * kernel/tlbflush.c - the kernel's half of TLB shootdown (arch/x86/mm/tlb.c), for
 * the machine's one CPU.
 *
 * Every process mm gets a PCID and the hook mm->tlb_flush, which the memory manager
 * calls after it clears, moves or write-protects PTEs.  The hook invalidates the range
 * in that PCID as flush_tlb_mm_range() does: up to tlb_single_page_flush_ceiling (33)
 * pages one by one (INVLPG when the mm is the one loaded, INVPCID type 0 otherwise),
 * a larger range by flushing the whole PCID.
 *
 * The TLB is trusted only for the mm last loaded under a hardware PCID
 * (k->pcid_loaded): loading CR3 keeps the PCID's entries (the no-flush bit) when they
 * are that mm's, and flushes them when another mm used the PCID since (two mms share
 * a PCID only past 4095 of them, or always without PCIDE).  An mm that is not the
 * PCID's owner has nothing cached, so its flushes are skipped.  When an mm goes
 * (exit, exec) its PCID is flushed and released.
 */
#include "hw/bug.h"
#include "kernel/internal.h"

/* Linux's tlb_single_page_flush_ceiling: above this many pages a range flush
 * becomes a flush of the whole PCID. */
#define TLB_SINGLE_PAGE_FLUSH_CEILING 33

#define NR_PCIDS 4096

/* The PCID slot for a new mm: the next unused one of 1..4095, round robin (0 stays
 * the kernel's); when all are taken, the next one is shared.  This is the one place
 * that decides PCIDs. */
static unsigned pcid_assign(struct kernel *k)
{
    for (unsigned n = 0; n < NR_PCIDS - 1; n++) {
        unsigned pcid = k->next_pcid % (NR_PCIDS - 1) + 1;
        k->next_pcid = pcid;
        if (!k->pcid[pcid].users)
            return pcid;
    }
    return k->next_pcid % (NR_PCIDS - 1) + 1;
}

/* The hardware PCID an mm's slot runs under: the slot itself with CR4.PCIDE, else 0. */
static unsigned hw_pcid(const struct kernel *k, const struct kernel_pcid *slot)
{
    return (k->cpu.cr4 & CR4_PCIDE) ? (unsigned)(slot - k->pcid) : 0;
}

/* flush_tlb_mm_range() on this CPU: drop every translation of [start, end) mm may
 * have cached.  The memory manager calls it through mm->tlb_flush. */
static void kernel_tlb_flush(struct mm *mm, uint64_t start, uint64_t end, void *ctx)
{
    struct kernel_pcid *slot = ctx;
    struct kernel *k = slot->k;
    unsigned pcid = hw_pcid(k, slot);
    if (k->pcid_loaded[pcid] != mm) {
        k->tlb_flushes.flush_skipped++;
        return;
    }
    uint64_t first = start & PAGE_MASK, pages = (end - first + PAGE_SIZE - 1) >> PAGE_SHIFT;
    if (pages > TLB_SINGLE_PAGE_FLUSH_CEILING) {
        cpu_invpcid(&k->cpu, 1, pcid, 0);
        k->tlb_flushes.flush_full++;
        return;
    }
    bool current = k->cpu.pcid == pcid && (k->cpu.cr3 & PTE_ADDR_MASK) == mm->pt.root;
    for (uint64_t i = 0; i < pages; i++) {
        uint64_t va = first + (i << PAGE_SHIFT);
        if (current)
            cpu_invlpg(&k->cpu, va);
        else
            cpu_invpcid(&k->cpu, 0, pcid, va);
    }
    k->tlb_flushes.flush_pages += pages;
}

void kernel_mm_attach(struct kernel *k, struct mm *mm)
{
    PAGODA_BUG_ON(mm->tlb_flush, "an mm is attached to one kernel once");
    struct kernel_pcid *slot = &k->pcid[pcid_assign(k)];
    slot->k = k;
    slot->users++;
    mm->tlb_flush = kernel_tlb_flush;
    mm->tlb_flush_ctx = slot;
}

void kernel_mm_detach(struct kernel *k, struct mm *mm)
{
    if (mm->tlb_flush != kernel_tlb_flush)
        return;
    struct kernel_pcid *slot = mm->tlb_flush_ctx;
    unsigned pcid = hw_pcid(k, slot);
    if (k->pcid_loaded[pcid] == mm) { /* exit_mmap's full flush: nothing of it stays */
        cpu_invpcid(&k->cpu, 1, pcid, 0);
        k->tlb_flushes.flush_full++;
        k->pcid_loaded[pcid] = NULL;
    }
    slot->users--;
    mm->tlb_flush = NULL;
    mm->tlb_flush_ctx = NULL;
}

void kernel_load_mm(struct kernel *k, struct mm *mm)
{
    PAGODA_BUG_ON(mm->tlb_flush != kernel_tlb_flush, "a process's mm carries the kernel's TLB hook");
    struct cpu *cpu = &k->cpu;
    struct kernel_pcid *slot = mm->tlb_flush_ctx;
    unsigned pcid = hw_pcid(k, slot);
    uint64_t cr3 = mm->pt.root | pcid;
    bool valid = k->pcid_loaded[pcid] == mm;
    if (valid && cpu->cr3 == cr3)
        return; /* already loaded: switch_mm() to the same mm does nothing */
    k->pcid_loaded[pcid] = mm;
    cpu_write_cr3(cpu, cr3 | (valid && pcid ? CR3_NOFLUSH : 0));
}
