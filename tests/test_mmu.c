/*
 * The MMU on hand-built page tables: translation at every level and page size, the
 * SDM's permission rules with exact error codes, reserved bits, A/D bits, TLB hits,
 * evictions, PCIDs, global pages, INVLPG/INVPCID, paging-structure caches, fault
 * delivery and the timer.  Tables are written byte by byte here, not with pgtable.c,
 * so the MMU is tested against the architecture and not against pagoda's own walker.
 */
#include "support.h"

#include <pagoda/cpu.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- hand-built tables ---------------------------------------------------------- */

struct hb {
    struct phys *phys;
    struct cpu cpu;
    int levels;
    paddr_t root;
    pfn_t tables[64];
    int ntables;
    pfn_t data[64];
    int ndata;
};

static paddr_t hb_new_table(struct hb *h)
{
    pfn_t pfn;
    assert_int_equal(phys_alloc(h->phys, 0, PHYS_ZERO, &pfn), 0);
    assert_true(h->ntables < 64);
    h->tables[h->ntables++] = pfn;
    return pfn << PAGE_SHIFT;
}

/* A data block of 2^order frames, filled with `byte`. */
static paddr_t hb_new_data(struct hb *h, unsigned order, int byte)
{
    pfn_t pfn;
    assert_int_equal(phys_alloc(h->phys, order, 0, &pfn), 0);
    memset(phys_host(h->phys, pfn << PAGE_SHIFT), byte, PAGE_SIZE << order);
    h->data[h->ndata++] = pfn | ((uint64_t)order << 56);
    return pfn << PAGE_SHIFT;
}

static pte_t *hb_entry(struct hb *h, paddr_t table, uint64_t va, int level)
{
    return (pte_t *)phys_host(h->phys, table + 8ULL * pt_index(va, level));
}

/* Map va with a leaf at `level`; upper entries get `upper` bits (P|RW|US by default
 * when 0).  Returns a pointer to the leaf entry. */
static pte_t *hb_map(struct hb *h, uint64_t va, paddr_t pa, int level, pte_t leaf, pte_t upper)
{
    paddr_t table = h->root;
    if (!upper)
        upper = PTE_P | PTE_RW | PTE_US;
    for (int l = h->levels; l > level; l--) {
        pte_t *e = hb_entry(h, table, va, l);
        if (!(*e & PTE_P))
            *e = hb_new_table(h) | upper;
        else
            *e = (*e & PTE_ADDR_MASK) | upper;
        table = *e & PTE_ADDR_MASK;
    }
    pte_t *e = hb_entry(h, table, va, level);
    *e = pa | leaf | (level > 1 ? PTE_PS : 0);
    return e;
}

/* Entry for va at `level` (table must exist). */
static pte_t *hb_at(struct hb *h, uint64_t va, int level)
{
    paddr_t table = h->root;
    for (int l = h->levels; l > level; l--)
        table = *hb_entry(h, table, va, l) & PTE_ADDR_MASK;
    return hb_entry(h, table, va, level);
}

static struct hb *hb_setup(int levels, void (*tweak)(struct cpu_config *))
{
    struct hb *h = calloc(1, sizeof(*h));
    struct cpu_config cfg;
    h->phys = test_phys(64ULL << 20, false);
    h->levels = levels;
    cpu_config_default(&cfg);
    cfg.paging_levels = levels;
    if (tweak)
        tweak(&cfg);
    assert_int_equal(cpu_init(&h->cpu, h->phys, &cfg), 0);
    h->root = hb_new_table(h);
    cpu_write_cr3(&h->cpu, h->root);
    return h;
}

static void hb_teardown(struct hb *h)
{
    for (int i = 0; i < h->ntables; i++)
        phys_free(h->phys, h->tables[i], 0);
    for (int i = 0; i < h->ndata; i++)
        phys_free(h->phys, h->data[i] & ((1ULL << 56) - 1), (unsigned)(h->data[i] >> 56));
    cpu_destroy(&h->cpu);
    test_leak_audit(h->phys);
    phys_destroy(h->phys);
    free(h);
}

static uint32_t last_ec(struct hb *h)
{
    return h->cpu.last_trap.error_code;
}

/* ---- translation at every level ------------------------------------------------ */

static void test_translate_4k_2m_1g_4level(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t d4k = hb_new_data(h, 0, 0x11), d2m = hb_new_data(h, 9, 0x22);
    hb_map(h, 0x00007f1234567000, d4k, 1, PTE_P | PTE_RW | PTE_US, 0);
    hb_map(h, 0x0000400000200000, d2m, 2, PTE_P | PTE_RW | PTE_US, 0);
    hb_map(h, 0xffff888000000000, 0x40000000, 3, PTE_P | PTE_RW, PTE_P | PTE_RW); /* 1G at pa 1G: beyond RAM */
    paddr_t pa;
    assert_int_equal(cpu_translate(&h->cpu, 0x00007f1234567abc, ACC_READ, &pa), CPU_OK);
    assert_int_equal(pa, d4k + 0xabc);
    assert_int_equal(cpu_translate(&h->cpu, 0x00004000003fffff, ACC_READ, &pa), CPU_OK);
    assert_int_equal(pa, d2m + 0x1fffff);
    assert_int_equal(cpu_translate(&h->cpu, 0xffff8880321fedcb, ACC_READ, &pa), CPU_OK);
    assert_int_equal(pa, 0x40000000 + 0x321fedcb);
    /* Outside RAM reads as all ones. */
    uint64_t v = 0;
    assert_int_equal(cpu_read(&h->cpu, 0xffff888000000000, &v, 8), CPU_OK);
    assert_int_equal(v, UINT64_MAX);
    uint8_t b;
    assert_int_equal(cpu_read(&h->cpu, 0x00007f1234567fff, &b, 1), CPU_OK);
    assert_int_equal(b, 0x11);
    hb_teardown(h);
}

static void test_translate_5level(void **state)
{
    struct hb *h = hb_setup(5, NULL);
    paddr_t d = hb_new_data(h, 0, 0x33);
    /* Above 2^47: only reachable with LA57; PML5 index 0xff, PML4 index 0x12. */
    uint64_t va = 0x00ff091234567000;
    hb_map(h, va, d, 1, PTE_P | PTE_US, 0);
    paddr_t pa;
    assert_int_equal(cpu_translate(&h->cpu, va + 8, ACC_READ, &pa), CPU_OK);
    assert_int_equal(pa, d + 8);
    assert_int_equal(h->cpu.tlb.stats.walk_refs, 5);
    /* 0x0000800000000000 is canonical with 57 bits, just unmapped: #PF, not #GP. */
    assert_int_equal(cpu_translate(&h->cpu, 0x0000800000000000, ACC_READ, &pa), CPU_FAULT);
    assert_int_equal(h->cpu.last_trap.vector, VEC_PF);
    /* Bits 63:57 must copy bit 56. */
    assert_int_equal(cpu_translate(&h->cpu, 0x0100000000000000, ACC_READ, &pa), CPU_FAULT);
    assert_int_equal(h->cpu.last_trap.vector, VEC_GP);
    hb_teardown(h);
}

static void test_noncanonical_gp(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t pa;
    assert_int_equal(cpu_translate(&h->cpu, 0x0000800000000000, ACC_READ, &pa), CPU_FAULT);
    assert_int_equal(h->cpu.last_trap.vector, VEC_GP);
    assert_int_equal(h->cpu.last_trap.error_code, 0);
    assert_int_equal(h->cpu.count.faults[VEC_GP], 1);
    assert_int_equal(h->cpu.count.faults[VEC_PF], 0);
    hb_teardown(h);
}

/* ---- the permission matrix -------------------------------------------------------- */

/*
 * The reference, written from SDM vol. 3A 4.6 and 4.7 in the order the manual states
 * it, independent of cpu.c.  Returns -1 when the access is allowed, else the #PF
 * error code.
 */
struct perm_case {
    int present, rw, us, nx; /* leaf bits; upper levels P|RW|US */
    int wp, user, smep, smap, ac, nxe;
    enum access acc;
};

static long reference_pf(const struct perm_case *c)
{
    long ec = (c->acc == ACC_WRITE ? 2 : 0) | (c->user ? 4 : 0) |
              (c->acc == ACC_EXEC && (c->nxe || c->smep) ? 16 : 0);
    if (!c->present)
        return ec;
    if (c->nx && !c->nxe)
        return ec | 1 | 8; /* bit 63 reserved without NXE */
    int user_page = c->us; /* all upper levels have US */
    int allowed;
    if (c->user) {
        if (!user_page)
            allowed = 0;
        else if (c->acc == ACC_READ)
            allowed = 1;
        else if (c->acc == ACC_WRITE)
            allowed = c->rw;
        else
            allowed = !(c->nxe && c->nx);
    } else if (c->acc == ACC_EXEC) {
        allowed = !(c->nxe && c->nx) && !(user_page && c->smep);
    } else {
        if (user_page && c->smap && !c->ac)
            allowed = 0;
        else if (c->acc == ACC_READ)
            allowed = 1;
        else
            allowed = !c->wp || c->rw;
    }
    return allowed ? -1 : (ec | 1);
}

static void test_permission_matrix(void **state)
{
    int checked = 0;
    for (int bits = 0; bits < (1 << 10); bits++) {
        struct perm_case c = {
            .present = bits & 1, .rw = bits >> 1 & 1, .us = bits >> 2 & 1, .nx = bits >> 3 & 1,
            .wp = bits >> 4 & 1, .user = bits >> 5 & 1, .smep = bits >> 6 & 1, .smap = bits >> 7 & 1,
            .ac = bits >> 8 & 1, .nxe = bits >> 9 & 1,
        };
        for (int acc = ACC_READ; acc <= ACC_EXEC; acc++) {
            c.acc = (enum access)acc;
            struct hb *h = hb_setup(4, NULL);
            paddr_t d = hb_new_data(h, 0, 0);
            pte_t leaf = (c.present ? PTE_P : 0) | (c.rw ? PTE_RW : 0) | (c.us ? PTE_US : 0) | (c.nx ? PTE_NX : 0);
            hb_map(h, 0x5000, d, 1, leaf, 0);
            cpu_write_cr0(&h->cpu, c.wp ? h->cpu.cr0 | CR0_WP : h->cpu.cr0 & ~CR0_WP);
            cpu_write_efer(&h->cpu, c.nxe ? h->cpu.efer | EFER_NXE : h->cpu.efer & ~EFER_NXE);
            uint64_t cr4 = h->cpu.cr4 & ~(CR4_SMEP | CR4_SMAP);
            assert_int_equal(cpu_write_cr4(&h->cpu, cr4 | (c.smep ? CR4_SMEP : 0) | (c.smap ? CR4_SMAP : 0)), 0);
            cpu_set_ac(&h->cpu, c.ac);
            cpu_set_cpl(&h->cpu, c.user ? 3 : 0);
            paddr_t pa = 0;
            int rc = cpu_translate(&h->cpu, 0x5123, c.acc, &pa);
            long want = reference_pf(&c);
            if (want < 0) {
                if (rc != CPU_OK)
                    fail_msg("case bits=0x%x acc=%d: expected ok, got #PF ec=0x%x", bits, acc, last_ec(h));
                assert_int_equal(pa, d + 0x123);
            } else {
                if (rc != CPU_FAULT || h->cpu.last_trap.vector != VEC_PF || last_ec(h) != (uint32_t)want)
                    fail_msg("case bits=0x%x acc=%d: expected #PF ec=0x%lx, got rc=%d ec=0x%x", bits, acc, want, rc,
                             last_ec(h));
                assert_int_equal(h->cpu.last_trap.cr2, 0x5123);
            }
            checked++;
            hb_teardown(h);
        }
    }
    assert_int_equal(checked, 3072);
}

/* Rights combine over levels: R/W or U/S clear in any upper entry restricts. */
static void test_upper_level_rights(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t d = hb_new_data(h, 0, 0);
    hb_map(h, 0x7000, d, 1, PTE_P | PTE_RW | PTE_US, PTE_P | PTE_US); /* uppers read-only */
    cpu_set_cpl(&h->cpu, 3);
    paddr_t pa;
    assert_int_equal(cpu_translate(&h->cpu, 0x7000, ACC_READ, &pa), CPU_OK);
    assert_int_equal(cpu_translate(&h->cpu, 0x7000, ACC_WRITE, &pa), CPU_FAULT);
    assert_int_equal(last_ec(h), PF_P | PF_W | PF_U);
    /* A supervisor-only PDE makes it a supervisor page. */
    *hb_at(h, 0x7000, 2) &= ~PTE_US;
    cpu_invlpg(&h->cpu, 0x7000);
    assert_int_equal(cpu_translate(&h->cpu, 0x7000, ACC_READ, &pa), CPU_FAULT);
    assert_int_equal(last_ec(h), PF_P | PF_U);
    /* NX in the PML4E forbids fetches below it. */
    *hb_at(h, 0x7000, 2) |= PTE_US;
    *hb_at(h, 0x7000, 4) |= PTE_NX;
    cpu_invlpg(&h->cpu, 0x7000);
    assert_int_equal(cpu_translate(&h->cpu, 0x7000, ACC_EXEC, &pa), CPU_FAULT);
    assert_int_equal(last_ec(h), PF_P | PF_U | PF_I);
    hb_teardown(h);
}

static void test_not_present_levels(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t d = hb_new_data(h, 0, 0);
    hb_map(h, 0x200000, d, 1, PTE_P | PTE_US, 0);
    cpu_set_cpl(&h->cpu, 3);
    paddr_t pa;
    /* Missing PTE, then missing PDE, PDPTE, PML4E: always P=0. */
    const uint64_t vas[] = {0x201000, 0x400000, 0x40000000, 0x8000000000};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(cpu_translate(&h->cpu, vas[i], ACC_WRITE, &pa), CPU_FAULT);
        assert_int_equal(last_ec(h), PF_W | PF_U);
        assert_int_equal(h->cpu.last_trap.cr2, vas[i]);
    }
    hb_teardown(h);
}

static void test_reserved_bits(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t d = hb_new_data(h, 0, 0);
    paddr_t pa;
    cpu_set_cpl(&h->cpu, 3);
    /* Bit 40 of a PTE's address, above MAXPHYADDR 39. */
    pte_t *e = hb_map(h, 0x3000, d, 1, PTE_P | PTE_US, 0);
    *e |= 1ULL << 40;
    assert_int_equal(cpu_translate(&h->cpu, 0x3000, ACC_READ, &pa), CPU_FAULT);
    assert_int_equal(last_ec(h), PF_P | PF_RSVD | PF_U);
    /* PS in a PML4E. */
    *e &= ~(1ULL << 40);
    *hb_at(h, 0x3000, 4) |= PTE_PS;
    assert_int_equal(cpu_translate(&h->cpu, 0x3000, ACC_WRITE, &pa), CPU_FAULT);
    assert_int_equal(last_ec(h), PF_P | PF_RSVD | PF_W | PF_U);
    *hb_at(h, 0x3000, 4) &= ~PTE_PS;
    assert_int_equal(cpu_translate(&h->cpu, 0x3000, ACC_READ, &pa), CPU_OK);
    /* A 2 MiB leaf with bit 13 set (between PAT at 12 and the address at 21). */
    paddr_t big = hb_new_data(h, 9, 0);
    pte_t *pde = hb_map(h, 0x40000000, big, 2, PTE_P | PTE_US, 0);
    *pde |= 1ULL << 13;
    assert_int_equal(cpu_translate(&h->cpu, 0x40000000, ACC_READ, &pa), CPU_FAULT);
    assert_int_equal(last_ec(h), PF_P | PF_RSVD | PF_U);
    *pde &= ~(1ULL << 13);
    *pde |= PTE_PATLG; /* the PAT bit is not reserved */
    assert_int_equal(cpu_translate(&h->cpu, 0x40000000, ACC_READ, &pa), CPU_OK);
    assert_int_equal(pa, big);
    /* A 1 GiB leaf with bit 29 set. */
    pte_t *pdpte = hb_map(h, 0x8000000000, 0x40000000, 3, PTE_P | PTE_US, 0);
    *pdpte |= 1ULL << 29;
    assert_int_equal(cpu_translate(&h->cpu, 0x8000000000, ACC_READ, &pa), CPU_FAULT);
    assert_int_equal(last_ec(h), PF_P | PF_RSVD | PF_U);
    hb_teardown(h);
}

/* ---- accessed and dirty -------------------------------------------------------------- */

static void test_accessed_dirty(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t d = hb_new_data(h, 0, 0);
    pte_t *leaf = hb_map(h, 0x7f0000001000, d, 1, PTE_P | PTE_RW | PTE_US, 0);
    cpu_set_cpl(&h->cpu, 3);
    uint64_t v;
    assert_int_equal(cpu_load64(&h->cpu, 0x7f0000001000, &v), CPU_OK);
    for (int l = 4; l >= 2; l--)
        assert_true(*hb_at(h, 0x7f0000001000, l) & PTE_A);
    assert_int_equal(*leaf & (PTE_A | PTE_D), PTE_A);
    /* The TLB holds a clean translation: the write walks again to set D. */
    uint64_t walks = h->cpu.tlb.stats.walks;
    assert_int_equal(cpu_store64(&h->cpu, 0x7f0000001008, 42), CPU_OK);
    assert_int_equal(*leaf & (PTE_A | PTE_D), PTE_A | PTE_D);
    assert_int_equal(h->cpu.count.dirty_walks, 1);
    assert_int_equal(h->cpu.tlb.stats.walks, walks + 1);
    /* Later writes hit the now-dirty entry. */
    assert_int_equal(cpu_store64(&h->cpu, 0x7f0000001010, 43), CPU_OK);
    assert_int_equal(h->cpu.tlb.stats.walks, walks + 1);
    assert_int_equal(h->cpu.count.dirty_walks, 1);
    uint64_t got;
    memcpy(&got, phys_host(h->phys, d + 8), 8);
    assert_int_equal(got, 42);
    /* A fault leaves A clear on the leaf. */
    pte_t *ro = hb_map(h, 0x7f0000002000, d, 1, PTE_P | PTE_US, 0);
    assert_int_equal(cpu_store64(&h->cpu, 0x7f0000002000, 1), CPU_FAULT);
    assert_int_equal(*ro & (PTE_A | PTE_D), 0);
    hb_teardown(h);
}

/* ---- TLB behaviour -------------------------------------------------------------------- */

static void test_tlb_hits_and_lru_eviction(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t d = hb_new_data(h, 0, 0);
    /* L1 DTLB 4K: 64 entries, 4 ways, 16 sets: pages 16 apart share a set. */
    uint64_t p[5];
    for (int i = 0; i < 5; i++) {
        p[i] = 0x10000000 + (uint64_t)i * 16 * PAGE_SIZE;
        hb_map(h, p[i], d, 1, PTE_P | PTE_US | PTE_A, 0);
    }
    cpu_set_cpl(&h->cpu, 3);
    const struct tlb_stats *s = &h->cpu.tlb.stats;
    uint64_t v;
    for (int i = 0; i < 4; i++)
        assert_int_equal(cpu_load64(&h->cpu, p[i], &v), CPU_OK);
    assert_int_equal(s->l1d_misses, 4);
    assert_int_equal(s->l2_misses, 4);
    assert_int_equal(s->walks, 4);
    assert_int_equal(cpu_load64(&h->cpu, p[0], &v), CPU_OK); /* p0 now most recent */
    assert_int_equal(s->l1d_hits, 1);
    assert_int_equal(cpu_load64(&h->cpu, p[4], &v), CPU_OK); /* evicts p1, the LRU */
    assert_int_equal(s->evictions, 1);
    assert_int_equal(cpu_load64(&h->cpu, p[0], &v), CPU_OK);
    assert_int_equal(s->l1d_hits, 2);
    assert_int_equal(cpu_load64(&h->cpu, p[1], &v), CPU_OK); /* L1 miss, STLB hit */
    assert_int_equal(s->l1d_misses, 6);
    assert_int_equal(s->l2_hits, 1);
    assert_int_equal(s->walks, 5);
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l1d[TLB_4K]), 4);
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l2[TLB_4K]), 5);
    hb_teardown(h);
}

/* The TLB is a cache: a changed PTE is not seen until INVLPG. */
static void test_invlpg_one_page(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t a = hb_new_data(h, 0, 0xaa), b = hb_new_data(h, 0, 0xbb);
    pte_t *e = hb_map(h, 0x1000, a, 1, PTE_P | PTE_US, 0);
    hb_map(h, 0x2000, a, 1, PTE_P | PTE_US, 0);
    cpu_set_cpl(&h->cpu, 3);
    uint8_t x;
    cpu_read(&h->cpu, 0x1000, &x, 1);
    cpu_read(&h->cpu, 0x2000, &x, 1);
    *e = b | PTE_P | PTE_US;
    cpu_read(&h->cpu, 0x1000, &x, 1);
    assert_int_equal(x, 0xaa); /* stale */
    cpu_invlpg(&h->cpu, 0x1000);
    cpu_read(&h->cpu, 0x1000, &x, 1);
    assert_int_equal(x, 0xbb);
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l1d[TLB_4K]), 2); /* 0x2000 kept */
    hb_teardown(h);
}

static void test_invlpg_huge_page(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t big = hb_new_data(h, 9, 0x5a);
    hb_map(h, 0x40000000, big, 2, PTE_P | PTE_US, 0);
    cpu_set_cpl(&h->cpu, 3);
    uint8_t x;
    cpu_read(&h->cpu, 0x40000010, &x, 1);
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l1d[TLB_2M]), 1);
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l2[TLB_4K]), 1); /* shared 4K+2M STLB */
    cpu_read(&h->cpu, 0x401ff000, &x, 1); /* same 2M page: hit */
    assert_int_equal(h->cpu.tlb.stats.walks, 1);
    cpu_invlpg(&h->cpu, 0x401ff000); /* any address inside drops the whole page */
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l1d[TLB_2M]), 0);
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l2[TLB_4K]), 0);
    hb_teardown(h);
}

/* Skylake's ITLB has no 1G array: a code fetch from a 1 GiB page is cached as a 2M
 * piece, and INVLPG anywhere in the 1 GiB page removes it. */
static void test_fractured_1g_itlb(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    hb_map(h, 0x80000000, 0x0, 3, PTE_P | PTE_US, 0); /* pa 0..1G, RAM is 64M: fine for fetch of low bytes */
    cpu_set_cpl(&h->cpu, 3);
    uint8_t x;
    assert_int_equal(cpu_access(&h->cpu, 0x80001000, &x, 1, ACC_EXEC), CPU_OK);
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l1i[TLB_2M]), 1);
    assert_int_equal(h->cpu.tlb.l1i[TLB_2M].fractured, 1);
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l2[TLB_1G]), 1);
    cpu_invlpg(&h->cpu, 0x80000000 + (700ULL << 20));
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l1i[TLB_2M]), 0);
    assert_int_equal(h->cpu.tlb.l1i[TLB_2M].fractured, 0);
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l2[TLB_1G]), 0);
    hb_teardown(h);
}

/* Two address spaces mapping the same va to different frames, under PCIDs 1 and 2. */
static void test_pcid_isolation(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t a = hb_new_data(h, 0, 0xa1), b = hb_new_data(h, 0, 0xb2);
    paddr_t root_a = h->root;
    hb_map(h, 0x1000, a, 1, PTE_P | PTE_US, 0);
    paddr_t root_b = hb_new_table(h);
    h->root = root_b;
    hb_map(h, 0x1000, b, 1, PTE_P | PTE_US, 0);
    cpu_set_cpl(&h->cpu, 3);
    uint8_t x;
    cpu_write_cr3(&h->cpu, root_a | 1);
    cpu_read(&h->cpu, 0x1000, &x, 1);
    assert_int_equal(x, 0xa1);
    cpu_write_cr3(&h->cpu, root_b | 2 | CR3_NOFLUSH);
    cpu_read(&h->cpu, 0x1000, &x, 1);
    assert_int_equal(x, 0xb2); /* PCID 1's entry is not used for PCID 2 */
    assert_int_equal(h->cpu.tlb.stats.walks, 2);
    cpu_write_cr3(&h->cpu, root_a | 1 | CR3_NOFLUSH);
    cpu_read(&h->cpu, 0x1000, &x, 1);
    assert_int_equal(x, 0xa1);
    assert_int_equal(h->cpu.tlb.stats.walks, 2); /* PCID 1's entry survived */
    /* Without no-flush, loading PCID 1 again drops its entries. */
    cpu_write_cr3(&h->cpu, root_a | 1);
    cpu_read(&h->cpu, 0x1000, &x, 1);
    assert_int_equal(h->cpu.tlb.stats.walks, 3);
    /* Without PCIDs every CR3 load flushes. */
    assert_int_equal(cpu_write_cr4(&h->cpu, h->cpu.cr4 & ~CR4_PCIDE), 0);
    cpu_write_cr3(&h->cpu, root_b);
    cpu_read(&h->cpu, 0x1000, &x, 1);
    assert_int_equal(x, 0xb2);
    cpu_write_cr3(&h->cpu, root_a);
    cpu_read(&h->cpu, 0x1000, &x, 1);
    assert_int_equal(x, 0xa1);
    assert_int_equal(h->cpu.tlb.stats.walks, 5);
    /* Setting PCIDE with a non-zero PCID field is #GP. */
    h->cpu.cr3 |= 5;
    assert_int_equal(cpu_write_cr4(&h->cpu, h->cpu.cr4 | CR4_PCIDE), -EINVAL);
    hb_teardown(h);
}

static void test_global_survives_cr3(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t k = hb_new_data(h, 0, 0x6b), u = hb_new_data(h, 0, 0x75);
    hb_map(h, 0xffffc90000000000, k, 1, PTE_P | PTE_RW | PTE_G, PTE_P | PTE_RW);
    hb_map(h, 0x1000, u, 1, PTE_P | PTE_US, 0);
    assert_int_equal(cpu_write_cr4(&h->cpu, h->cpu.cr4 & ~CR4_PCIDE), 0);
    uint8_t x;
    cpu_read(&h->cpu, 0xffffc90000000000, &x, 1);
    cpu_read(&h->cpu, 0x1000, &x, 1);
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l1d[TLB_4K]), 2);
    cpu_write_cr3(&h->cpu, h->root);
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l1d[TLB_4K]), 1);
    uint64_t walks = h->cpu.tlb.stats.walks;
    cpu_read(&h->cpu, 0xffffc90000000000, &x, 1);
    assert_int_equal(h->cpu.tlb.stats.walks, walks);
    /* A global entry also matches under another PCID. */
    assert_int_equal(cpu_write_cr4(&h->cpu, h->cpu.cr4 | CR4_PCIDE), 0);
    cpu_write_cr3(&h->cpu, h->root | 7);
    cpu_read(&h->cpu, 0xffffc90000000000, &x, 1);
    assert_int_equal(h->cpu.tlb.stats.walks, walks);
    /* Toggling CR4.PGE flushes globals too. */
    assert_int_equal(cpu_write_cr4(&h->cpu, h->cpu.cr4 & ~CR4_PGE), 0);
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l1d[TLB_4K]), 0);
    /* With PGE off, G is ignored: the entry is flushed by a CR3 load. */
    cpu_read(&h->cpu, 0xffffc90000000000, &x, 1);
    cpu_write_cr3(&h->cpu, h->root | 7);
    assert_int_equal(tlb_array_valid(&h->cpu.tlb.l1d[TLB_4K]), 0);
    hb_teardown(h);
}

static void test_invpcid_types(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t d = hb_new_data(h, 0, 0);
    hb_map(h, 0x1000, d, 1, PTE_P | PTE_US, 0);
    hb_map(h, 0x2000, d, 1, PTE_P | PTE_US, 0);
    hb_map(h, 0xffffc90000000000, d, 1, PTE_P | PTE_G, PTE_P | PTE_RW);
    const struct tlb_array *l1 = &h->cpu.tlb.l1d[TLB_4K];
    uint8_t x;
#define FILL()                                                                                                         \
    do {                                                                                                               \
        for (unsigned pc = 1; pc <= 2; pc++) {                                                                         \
            cpu_write_cr3(&h->cpu, h->root | pc | CR3_NOFLUSH);                                                        \
            cpu_read(&h->cpu, 0x1000, &x, 1);                                                                          \
            cpu_read(&h->cpu, 0x2000, &x, 1);                                                                          \
            cpu_read(&h->cpu, 0xffffc90000000000, &x, 1);                                                              \
        }                                                                                                              \
    } while (0)
    FILL();
    assert_int_equal(tlb_array_valid(l1), 5); /* 2 per PCID + 1 global */
    assert_int_equal(cpu_invpcid(&h->cpu, 0, 1, 0x1000), 0);
    assert_int_equal(tlb_array_valid(l1), 4);
    assert_int_equal(cpu_invpcid(&h->cpu, 0, 1, 0xffffc90000000000), 0); /* globals kept */
    assert_int_equal(tlb_array_valid(l1), 4);
    FILL();
    assert_int_equal(cpu_invpcid(&h->cpu, 1, 2, 0), 0);
    assert_int_equal(tlb_array_valid(l1), 3); /* PCID 1's two + global */
    FILL();
    assert_int_equal(cpu_invpcid(&h->cpu, 3, 0, 0), 0);
    assert_int_equal(tlb_array_valid(l1), 1); /* only the global */
    FILL();
    assert_int_equal(cpu_invpcid(&h->cpu, 2, 0, 0), 0);
    assert_int_equal(tlb_array_valid(l1), 0);
    assert_int_equal(cpu_invpcid(&h->cpu, 4, 0, 0), -EINVAL);
    assert_int_equal(cpu_invpcid(&h->cpu, 1, 4096, 0), -EINVAL);
#undef FILL
    hb_teardown(h);
}

/* The PDE cache: a second page under the same page table needs one entry read. */
static void test_paging_structure_caches(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t d = hb_new_data(h, 0, 0);
    hb_map(h, 0x1000, d, 1, PTE_P | PTE_US, 0);
    hb_map(h, 0x2000, d, 1, PTE_P | PTE_US, 0);
    hb_map(h, 0x201000, d, 1, PTE_P | PTE_US, 0);   /* same PD table, other PDE */
    hb_map(h, 0x40001000, d, 1, PTE_P | PTE_US, 0); /* same PDPT table, other PDPTE */
    const struct tlb_stats *s = &h->cpu.tlb.stats;
    uint8_t x;
    cpu_read(&h->cpu, 0x1000, &x, 1);
    assert_int_equal(s->walk_refs, 4);
    cpu_read(&h->cpu, 0x2000, &x, 1);
    assert_int_equal(s->walk_refs, 5);
    assert_int_equal(s->pwc_hits[2], 1);
    cpu_read(&h->cpu, 0x201000, &x, 1);
    assert_int_equal(s->walk_refs, 7); /* PDPTE cache: PDE + PTE */
    assert_int_equal(s->pwc_hits[3], 1);
    cpu_read(&h->cpu, 0x40001000, &x, 1);
    assert_int_equal(s->walk_refs, 10); /* PML4E cache: PDPTE + PDE + PTE */
    assert_int_equal(s->pwc_hits[4], 1);
    /* INVLPG drops the PCID's paging-structure-cache entries too. */
    cpu_invlpg(&h->cpu, 0x2000);
    cpu_read(&h->cpu, 0x2000, &x, 1);
    assert_int_equal(s->walk_refs, 14);
    hb_teardown(h);
}

/* ---- exceptions ------------------------------------------------------------------------ */

struct fixer {
    struct hb *h;
    paddr_t frame;
    int calls;
    uint32_t ec[4];
};

static enum exc_result fix_by_mapping(struct cpu *cpu, struct trap_frame *tf, void *ctx)
{
    struct fixer *f = ctx;
    assert_int_equal(cpu->cpl, 0); /* handlers run in supervisor mode */
    assert_int_equal(tf->cpl, 3);
    f->ec[f->calls++ & 3] = tf->error_code;
    hb_map(f->h, tf->cr2 & PAGE_MASK, f->frame, 1, PTE_P | PTE_RW | PTE_US, 0);
    return EXC_RETRY;
}

static void test_fault_handler_retry(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    struct fixer f = {.h = h, .frame = hb_new_data(h, 0, 0)};
    cpu_set_handler(&h->cpu, VEC_PF, fix_by_mapping, &f);
    cpu_set_cpl(&h->cpu, 3);
    assert_int_equal(cpu_write(&h->cpu, 0x123456, "hi", 2), CPU_OK);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.ec[0], PF_W | PF_U);
    assert_int_equal(h->cpu.cpl, 3);
    assert_memory_equal(phys_host(h->phys, f.frame + 0x456), "hi", 2);
    assert_int_equal(h->cpu.count.faults[VEC_PF], 1);
    hb_teardown(h);
}

static enum exc_result never_fixes(struct cpu *cpu, struct trap_frame *tf, void *ctx)
{
    (*(int *)ctx)++;
    return EXC_RETRY;
}

static void test_fault_loop_detected(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    int calls = 0;
    cpu_set_handler(&h->cpu, VEC_PF, never_fixes, &calls);
    uint8_t x;
    assert_int_equal(cpu_read(&h->cpu, 0x9000, &x, 1), CPU_FAULT_LOOP);
    assert_int_equal(calls, CPU_MAX_RETRIES + 1);
    hb_teardown(h);
}

/* A stale read-only TLB entry: the write faults on it (no walk), the fault drops the
 * entry, and the retry walks the upgraded PTE - Linux's "spurious fault". */
static void test_spurious_fault_after_upgrade(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t d = hb_new_data(h, 0, 0);
    pte_t *e = hb_map(h, 0x4000, d, 1, PTE_P | PTE_US, 0);
    int calls = 0;
    cpu_set_handler(&h->cpu, VEC_PF, never_fixes, &calls);
    cpu_set_cpl(&h->cpu, 3);
    uint8_t x = 7;
    assert_int_equal(cpu_read(&h->cpu, 0x4000, &x, 1), CPU_OK);
    *e |= PTE_RW; /* upgraded without a flush, as Linux does */
    assert_int_equal(cpu_write(&h->cpu, 0x4000, &x, 1), CPU_OK);
    assert_int_equal(calls, 1);
    assert_int_equal(h->cpu.last_trap.error_code, PF_P | PF_W | PF_U);
    assert_int_equal(*e & PTE_D, PTE_D);
    hb_teardown(h);
}

static void test_cross_page_access(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t d = hb_new_data(h, 0, 0);
    hb_map(h, 0x1000, d, 1, PTE_P | PTE_RW | PTE_US, 0);
    cpu_set_cpl(&h->cpu, 3);
    char buf[8] = "abcdefgh";
    assert_int_equal(cpu_write(&h->cpu, 0x1ffc, buf, 8), CPU_FAULT);
    assert_int_equal(h->cpu.last_trap.cr2, 0x2000);
    assert_memory_equal(phys_host(h->phys, d + 0xffc), "abcd", 4);
    hb_teardown(h);
}

static void test_protection_keys(void **state)
{
    struct hb *h = hb_setup(4, NULL);
    paddr_t d = hb_new_data(h, 0, 0);
    hb_map(h, 0x1000, d, 1, PTE_P | PTE_RW | PTE_US | (3ULL << PTE_PKEY_SHIFT), 0);
    assert_int_equal(cpu_write_cr4(&h->cpu, h->cpu.cr4 | CR4_PKE), 0);
    cpu_set_cpl(&h->cpu, 3);
    uint8_t x = 0;
    assert_int_equal(cpu_read(&h->cpu, 0x1000, &x, 1), CPU_OK);
    cpu_write_pkru(&h->cpu, 2u << 6); /* WD for key 3 */
    assert_int_equal(cpu_read(&h->cpu, 0x1000, &x, 1), CPU_OK);
    assert_int_equal(cpu_write(&h->cpu, 0x1000, &x, 1), CPU_FAULT);
    assert_int_equal(last_ec(h), PF_P | PF_W | PF_U | PF_PK);
    cpu_write_pkru(&h->cpu, 1u << 6); /* AD for key 3 */
    assert_int_equal(cpu_read(&h->cpu, 0x1000, &x, 1), CPU_FAULT);
    assert_int_equal(last_ec(h), PF_P | PF_U | PF_PK);
    /* Fetches ignore keys. */
    assert_int_equal(cpu_access(&h->cpu, 0x1000, &x, 1, ACC_EXEC), CPU_OK);
    hb_teardown(h);
}

static enum exc_result count_tick(struct cpu *cpu, struct trap_frame *tf, void *ctx)
{
    assert_int_equal(tf->vector, VEC_TIMER);
    (*(int *)ctx)++;
    return EXC_RETRY;
}

static void tweak_timer(struct cpu_config *cfg)
{
    cfg->timer_period = 10;
}

static void test_timer_vector(void **state)
{
    struct hb *h = hb_setup(4, tweak_timer);
    paddr_t d = hb_new_data(h, 0, 0);
    hb_map(h, 0x1000, d, 1, PTE_P | PTE_US, 0);
    int ticks = 0;
    cpu_set_handler(&h->cpu, VEC_TIMER, count_tick, &ticks);
    cpu_set_cpl(&h->cpu, 3);
    uint64_t v;
    for (int i = 0; i < 95; i++)
        assert_int_equal(cpu_load64(&h->cpu, 0x1000, &v), CPU_OK);
    assert_int_equal(ticks, 9);
    assert_int_equal(h->cpu.count.timer_ticks, 9);
    assert_int_equal(h->cpu.count.accesses, 95);
    hb_teardown(h);
}

static void test_tlb_geometry_parse(void **state)
{
    struct tlb_geometry g;
    assert_int_equal(tlb_parse_geometry("64x4", &g), 0);
    assert_int_equal(g.entries, 64);
    assert_int_equal(g.ways, 4);
    assert_int_equal(tlb_parse_geometry("8", &g), 0);
    assert_int_equal(g.ways, 8);
    assert_int_equal(tlb_parse_geometry("0", &g), 0);
    assert_int_equal(g.entries, 0);
    assert_int_equal(tlb_parse_geometry("65x4", &g), -EINVAL);
    assert_int_equal(tlb_parse_geometry("x4", &g), -EINVAL);
    assert_int_equal(tlb_parse_geometry("64x4k", &g), -EINVAL);
    /* 48 entries in 4 ways is 12 sets: not a power of two. */
    struct tlb_config cfg;
    struct tlb t;
    tlb_config_skylake(&cfg);
    cfg.l1d[TLB_4K] = (struct tlb_geometry){48, 4};
    assert_int_equal(tlb_init(&t, &cfg), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translate_4k_2m_1g_4level),
        cmocka_unit_test(test_translate_5level),
        cmocka_unit_test(test_noncanonical_gp),
        cmocka_unit_test(test_permission_matrix),
        cmocka_unit_test(test_upper_level_rights),
        cmocka_unit_test(test_not_present_levels),
        cmocka_unit_test(test_reserved_bits),
        cmocka_unit_test(test_accessed_dirty),
        cmocka_unit_test(test_tlb_hits_and_lru_eviction),
        cmocka_unit_test(test_invlpg_one_page),
        cmocka_unit_test(test_invlpg_huge_page),
        cmocka_unit_test(test_fractured_1g_itlb),
        cmocka_unit_test(test_pcid_isolation),
        cmocka_unit_test(test_global_survives_cr3),
        cmocka_unit_test(test_invpcid_types),
        cmocka_unit_test(test_paging_structure_caches),
        cmocka_unit_test(test_fault_handler_retry),
        cmocka_unit_test(test_fault_loop_detected),
        cmocka_unit_test(test_spurious_fault_after_upgrade),
        cmocka_unit_test(test_cross_page_access),
        cmocka_unit_test(test_protection_keys),
        cmocka_unit_test(test_timer_vector),
        cmocka_unit_test(test_tlb_geometry_parse),
    };
    return cmocka_run_group_tests_name("mmu", tests, NULL, NULL);
}
