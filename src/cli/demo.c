/*
 * `pagoda demo`: the machine layer, told as a story.  Build page tables by hand with
 * 4 KiB, 2 MiB and 1 GiB leaves, walk them, watch the TLB fill, take a page fault that
 * a tiny handler resolves, and end with every frame back on the free lists.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <pagoda/cpu.h>
#include <pagoda/pgtable.h>
#include <pagoda/phys.h>

#include "cli/cli.h"

struct demo {
    struct phys *phys;
    struct pgtable pt;
    struct cpu cpu;
    FILE *out;
    pfn_t demand_frame; /* frame the fault handler maps */
    bool have_demand_frame;
};

/* The demo's #PF handler: map a fresh zeroed frame for a not-present user fault in
 * the "heap" window, refuse everything else as Linux would refuse it with SIGSEGV. */
static enum exc_result demo_pf(struct cpu *cpu, struct trap_frame *tf, void *ctx)
{
    struct demo *d = ctx;
    fprintf(d->out, "  #PF  cr2=0x%" PRIx64 " error=0x%" PRIx32 " (%s, %s, %s%s%s)\n", tf->cr2, tf->error_code,
            tf->error_code & PF_P ? "protection" : "not present", tf->error_code & PF_W ? "write" : "read",
            tf->error_code & PF_U ? "user" : "supervisor", tf->error_code & PF_I ? ", fetch" : "",
            tf->error_code & PF_RSVD ? ", reserved bit" : "");
    uint64_t page = tf->cr2 & PAGE_MASK;
    if (!(tf->error_code & PF_P) && page >= 0x10000000 && page < 0x10100000) {
        if (phys_alloc(d->phys, 0, PHYS_ZERO, &d->demand_frame) != 0) {
            tf->signo = 7; /* SIGBUS: out of memory in this toy handler */
            return EXC_ABORT;
        }
        d->have_demand_frame = true;
        pt_map(&d->pt, page, d->demand_frame << PAGE_SHIFT, PAGE_SIZE, PT_LEVEL_PTE, PTE_P | PTE_RW | PTE_US | PTE_NX);
        fprintf(d->out, "       handler: mapped frame %" PRIu64 " at 0x%" PRIx64 ", retry\n", d->demand_frame, page);
        return EXC_RETRY;
    }
    tf->signo = 11;
    fprintf(d->out, "       handler: no mapping allows this: SIGSEGV\n");
    return EXC_ABORT;
}

static void show_counters(struct demo *d, const char *when)
{
    const struct tlb_stats *s = &d->cpu.tlb.stats;
    fprintf(d->out, "  [%s] L1D hits %" PRIu64 " misses %" PRIu64 ", STLB hits %" PRIu64 " misses %" PRIu64
                    ", walks %" PRIu64 " (%" PRIu64 " entry reads)\n",
            when, s->l1d_hits, s->l1d_misses, s->l2_hits, s->l2_misses, s->walks, s->walk_refs);
}

/* Frames the demo mapped are freed as their leaves go (a leaf of level L maps a
 * block of order 9*(L-1)). */
static int release_cb(void *arg, uint64_t va, int level, pte_t *entry)
{
    struct demo *d = arg;
    if (*entry & PTE_P)
        phys_free(d->phys, pte_addr(*entry, level, true) >> PAGE_SHIFT, (unsigned)(9 * (level - 1)));
    return 0;
}

int cli_demo(FILE *out)
{
    struct demo d = {.out = out};
    struct phys_config pc = {.ram_bytes = 2ULL << 30};
    struct cpu_config cc;
    pfn_t code, data, huge2m, huge1g;

    d.phys = phys_create(&pc);
    if (!d.phys) {
        perror("pagoda demo: RAM");
        return 1;
    }
    cpu_config_default(&cc);
    if (cpu_init(&d.cpu, d.phys, &cc) || pgtable_init(&d.pt, d.phys, 4)) {
        fprintf(stderr, "pagoda demo: cannot set up the CPU\n");
        return 1;
    }
    cpu_set_handler(&d.cpu, VEC_PF, demo_pf, &d);

    fprintf(out, "== pagoda: the machine layer ==\n\n");
    fprintf(out, "A machine with %" PRIu64 " MiB of RAM (%" PRIu64 " frames of 4 KiB), host memory committed only\n"
                 "when touched. TLBs: %s.\n\n",
            d.phys->ram_bytes >> 20, d.phys->nframes, cc.tlb.cpu_name);

    /* Frames for the pages: order 0 for 4 KiB, 9 for 2 MiB, and a 1 GiB page made of
     * frames we own by building it from the top of RAM (order 10 is the buddy limit,
     * so the 1 GiB page maps RAM the demo reserves by hand). */
    phys_alloc(d.phys, 0, PHYS_ZERO, &code);
    phys_alloc(d.phys, 0, PHYS_ZERO, &data);
    phys_alloc(d.phys, 9, PHYS_ZERO, &huge2m);
    huge1g = 1ULL << 18; /* pa 1 GiB: a 1 GiB-aligned physical page */
    memcpy(phys_host(d.phys, code << PAGE_SHIFT), "\x0f\x05", 2); /* syscall */
    strcpy(phys_host(d.phys, (data << PAGE_SHIFT) + 0x10), "hello from frame data");

    fprintf(out, "1. Build page tables (4-level) with one leaf of each size:\n");
    pt_map(&d.pt, 0x400000, code << PAGE_SHIFT, PAGE_SIZE, PT_LEVEL_PTE, PTE_P | PTE_US);
    pt_map(&d.pt, 0x601000, data << PAGE_SHIFT, PAGE_SIZE, PT_LEVEL_PTE, PTE_P | PTE_RW | PTE_US | PTE_NX);
    pt_map(&d.pt, 0x7f0000000000, huge2m << PAGE_SHIFT, 2ULL << 20, PT_LEVEL_PMD, PTE_P | PTE_RW | PTE_US | PTE_NX);
    pt_map(&d.pt, 0xffff888040000000, huge1g << PAGE_SHIFT, 1ULL << 30, PT_LEVEL_PUD, PTE_P | PTE_RW | PTE_G | PTE_NX);
    fprintf(out, "   user code 4K at 0x400000, user data 4K at 0x601000, user 2M at 0x7f0000000000,\n"
                 "   kernel 1G (global, supervisor) at 0xffff888040000000. %" PRIu64 " table frames.\n\n",
            d.pt.table_frames);
    pt_dump(&d.pt, 0, 0, out);

    fprintf(out, "\n2. Walk each one:\n");
    pt_trace_print(&d.pt, 0x601010, out);
    pt_trace_print(&d.pt, 0x7f0000012345, out);
    pt_trace_print(&d.pt, 0xffff888040abc000, out);
    pt_trace_print(&d.pt, 0x602000, out);

    fprintf(out, "\n3. Load CR3 (PCID 1), drop to user mode and read:\n");
    cpu_write_cr3(&d.cpu, d.pt.root | 1);
    cpu_set_cpl(&d.cpu, 3);
    char buf[32] = {0};
    cpu_read(&d.cpu, 0x601010, buf, 21);
    fprintf(out, "   read 0x601010 -> \"%s\"\n", buf);
    show_counters(&d, "first touch");
    cpu_read(&d.cpu, 0x601010, buf, 21);
    show_counters(&d, "same page  ");
    for (int i = 0; i < 512; i += 64) {
        uint64_t v;
        cpu_load64(&d.cpu, 0x7f0000000000 + (uint64_t)i * PAGE_SIZE, &v);
    }
    show_counters(&d, "8 reads in the 2M page");
    pte_t leaf;
    int level;
    pt_lookup(&d.pt, 0x601000, &leaf, &level);
    fprintf(out, "   the data PTE now has A set by the MMU: 0x%016" PRIx64 "\n", leaf);
    cpu_write(&d.cpu, 0x601000, "!", 1);
    pt_lookup(&d.pt, 0x601000, &leaf, &level);
    fprintf(out, "   after a write, D too:                   0x%016" PRIx64 " (%" PRIu64 " walk to set D)\n\n", leaf,
            d.cpu.count.dirty_walks);

    fprintf(out, "4. Touch an unmapped heap page: the fault handler maps it and the access is retried:\n");
    int rc = cpu_write(&d.cpu, 0x10000008, "x", 1);
    fprintf(out, "   write 0x10000008 -> %s\n", rc == CPU_OK ? "ok" : "fault");

    fprintf(out, "\n5. Write to the read-only code page:\n");
    rc = cpu_write(&d.cpu, 0x400000, "x", 1);
    fprintf(out, "   -> %s\n", rc == CPU_OK ? "ok" : "SIGSEGV(SEGV_ACCERR)");

    fprintf(out, "\n6. User-mode read of the kernel's 1G page:\n");
    rc = cpu_read(&d.cpu, 0xffff888040abc000, buf, 8);
    fprintf(out, "   -> %s\n", rc == CPU_OK ? "ok" : "SIGSEGV");

    fprintf(out, "\n7. A new CR3 load with PCID 2 keeps PCID 1's entries and the global ones:\n");
    cpu_set_cpl(&d.cpu, 0);
    cpu_read(&d.cpu, 0xffff888040abc000, buf, 8);
    uint32_t before = tlb_array_valid(&d.cpu.tlb.l1d[TLB_4K]) + tlb_array_valid(&d.cpu.tlb.l1d[TLB_2M]) +
                      tlb_array_valid(&d.cpu.tlb.l1d[TLB_1G]);
    cpu_write_cr3(&d.cpu, d.pt.root | 2);
    uint32_t after = tlb_array_valid(&d.cpu.tlb.l1d[TLB_4K]) + tlb_array_valid(&d.cpu.tlb.l1d[TLB_2M]) +
                     tlb_array_valid(&d.cpu.tlb.l1d[TLB_1G]);
    fprintf(out, "   L1 DTLB entries before %" PRIu32 ", after %" PRIu32 "\n", before, after);
    cpu_write_cr3(&d.cpu, d.pt.root | 2 | CR3_NOFLUSH);
    cpu_write_cr4(&d.cpu, d.cpu.cr4 & ~CR4_PCIDE);
    after = tlb_array_valid(&d.cpu.tlb.l1d[TLB_4K]) + tlb_array_valid(&d.cpu.tlb.l1d[TLB_2M]) +
            tlb_array_valid(&d.cpu.tlb.l1d[TLB_1G]);
    fprintf(out, "   with PCIDs turned off (CR4.PCIDE=0) everything is flushed: %" PRIu32 "\n\n", after);

    fprintf(out, "8. The TLB now:\n");
    cpu_print_tlb(&d.cpu, out);

    /* Tear down: the 1 GiB page maps RAM the demo never allocated, so clear it first. */
    pt_unmap(&d.pt, 0xffff888040000000, 1ULL << 30, NULL, NULL);
    pgtable_destroy(&d.pt, release_cb, &d);
    cpu_destroy(&d.cpu);
    fprintf(out, "\n9. Everything unmapped and freed: %" PRIu64 " of %" PRIu64 " frames free%s.\n", d.phys->free_frames,
            d.phys->managed_frames, d.phys->free_frames == d.phys->managed_frames ? " (no leak)" : " - LEAK");
    int leak = d.phys->free_frames != d.phys->managed_frames;
    phys_destroy(d.phys);
    return leak;
}
