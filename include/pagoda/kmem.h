/*
 * pagoda/kmem.h - the kernel half of every address space: init_mm's page table laid
 * out like Linux x86-64 with randomization off (Documentation/arch/x86/x86_64/mm.rst),
 * the direct map, vmemmap, the kernel image, kmalloc's slab caches and vmalloc.
 *
 * One kernel half per machine (struct phys), hung on its struct mm_machine, so the
 * memory manager finds it without a kernel: mm_create shares it into every new
 * address space.  A bare phys without kmem_boot has no kernel half at all.
 *
 * Sharing by reference: at boot every top-level entry of the upper half (256..511)
 * gets a table of its own, allocated once and freed only by kmem_destroy.  A process's
 * top-level table copies those 256 entries, so whatever is mapped below them later
 * (vmalloc) is seen at once by every process, with nothing to propagate.
 *
 * Addresses: kernel virtual addresses are uint64_t, as the simulated CPU sees them;
 * kmem_pa/kmem_va are __pa/__va (the direct map is plain arithmetic).
 */
#ifndef PAGODA_KMEM_H
#define PAGODA_KMEM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pgtable.h"
#include "phys.h"

/* Fixed places (same for 4- and 5-level paging). */
#define KMEM_START_KERNEL_MAP 0xffffffff80000000ULL /* __START_KERNEL_map */
#define KMEM_PHYSICAL_START 0x1000000ULL            /* CONFIG_PHYSICAL_START: 16 MiB */
#define KMEM_START_KERNEL (KMEM_START_KERNEL_MAP + KMEM_PHYSICAL_START) /* _text */
#define KMEM_VSYSCALL_ADDR 0xffffffffff600000ULL    /* VSYSCALL_ADDR */
#define KMEM_CPU_ENTRY_AREA 0xfffffe0000000000ULL   /* CPU_ENTRY_AREA_BASE */
#define KMEM_KERNEL_PGD_FIRST 256u                  /* KERNEL_PGD_BOUNDARY */
#define KMEM_STRUCT_PAGE_SIZE 64u                   /* sizeof(struct page) in Linux */

/* The small kernel image mapped at KMEM_START_KERNEL, section by section, with the
 * rights Linux gives them: text RX (ROX), rodata R+NX, data and bss RW+NX. */
#define KMEM_IMAGE_TEXT_PAGES 4
#define KMEM_IMAGE_RODATA_PAGES 2
#define KMEM_IMAGE_DATA_PAGES 1
#define KMEM_IMAGE_BSS_PAGES 1
#define KMEM_IMAGE_PAGES 8 /* one order-3 block */

/* kmalloc: the largest size served by a slab cache (KMALLOC_MAX_CACHE_SIZE, two pages)
 * and by the page allocator (KMALLOC_MAX_SIZE, a MAX_PAGE_ORDER block). */
#define KMEM_KMALLOC_MAX_CACHE_SIZE 8192ULL
#define KMEM_KMALLOC_MAX_SIZE (PAGE_SIZE << PHYS_MAX_ORDER)
#define KMEM_ZERO_SIZE_PTR 16ULL /* kmalloc(0): ZERO_SIZE_PTR */

/* Where the regions start for a paging depth (randomization off). */
struct kmem_layout {
    int levels;
    uint64_t page_offset_base; /* direct map: 0xffff888000000000 / 0xff11000000000000 */
    uint64_t vmalloc_start;    /* vmalloc_base: 0xffffc90000000000 / 0xffa0000000000000 */
    uint64_t vmalloc_end;      /* VMALLOC_END, inclusive (32 TiB / 12800 TiB area) */
    uint64_t vmemmap_base;     /* 0xffffea0000000000 / 0xffd4000000000000 */
};
void kmem_layout_of(int levels, struct kmem_layout *out);

/* Build the kernel half of machine phys for `levels` (4 or 5): init_mm's table with
 * its 256 shared top-level tables, the direct map of all RAM (1 GiB, 2 MiB, then 4 KiB
 * leaves as alignment allows; P RW A D G NX), the vmemmap of the struct page array
 * (2 MiB leaves of frames standing for it, 4 KiB for a partial tail), and the kernel
 * image.  [vsyscall] is not mapped (vsyscall=xonly, the reference machine's mode).
 * Every frame comes from the buddy allocator.  0, -EINVAL (bad levels), -EEXIST (a
 * kernel half exists), -ENOMEM (nothing kept). */
int kmem_boot(struct phys *phys, int levels);

/* Free the kernel half and everything still allocated in it (kmalloc objects, slab
 * pages, vmalloc areas, kernel page tables, image, vmemmap).  No-op without one.
 * Processes sharing it must be gone (their tables point into it). */
void kmem_destroy(struct phys *phys);

/* Is there a kernel half on phys? */
bool kmem_present(struct phys *phys);
const struct kmem_layout *kmem_layout(struct phys *phys); /* NULL without one */
/* init_mm's page table (swapper_pg_dir), NULL without one. */
struct pgtable *kmem_init_pgtable(struct phys *phys);

/* Fill the kernel half (entries 256..511) of top-level table pt with the shared
 * kernel entries: mm_create does it for every process; a second top-level table of a
 * process (KPTI's user table) can use it too.  0, -EINVAL (depth differs), -ENOENT
 * (no kernel half). */
int kmem_share_kernel_half(struct phys *phys, struct pgtable *pt);

/* After kernel PTEs were cleared (vfree), the kernel's TLB hook drops what CPUs may
 * still cache for [start, end), global entries included.  NULL: nothing cached. */
void kmem_set_tlb_flush(struct phys *phys, void (*fn)(void *ctx, uint64_t start, uint64_t end), void *ctx);

/* __pa / __va of the direct map, and the vmemmap address of a frame's struct page
 * (pfn_to_page as a kernel address). */
uint64_t kmem_va(struct phys *phys, paddr_t pa);
paddr_t kmem_pa(struct phys *phys, uint64_t va);
uint64_t kmem_page_to_vmemmap(struct phys *phys, pfn_t pfn);
/* The image's physical start (phys_base + CONFIG_PHYSICAL_START). */
paddr_t kmem_image_pa(struct phys *phys);

/* ---- kmalloc / kfree ------------------------------------------------------------ */

/* kmalloc(size): a direct-map address of a physically contiguous object, from the
 * kmalloc-8 .. kmalloc-8k slab caches (sizes 8, 16, 32, 64, 96, 128, 192, 256, 512,
 * 1k, 2k, 4k, 8k), larger sizes as a compound block straight from the buddy allocator
 * (kmalloc_large).  0 gives KMEM_ZERO_SIZE_PTR.  0 (NULL) when out of memory, over
 * KMEM_KMALLOC_MAX_SIZE, or without a kernel half. */
uint64_t kmem_kmalloc(struct phys *phys, uint64_t size);
/* kfree(addr): NULL and ZERO_SIZE_PTR are ignored.  0, or -EINVAL for an address that
 * is not a live kmalloc object (not in the direct map, not an object boundary, a
 * double free). */
int kmem_kfree(struct phys *phys, uint64_t addr);
/* The size class serving `size` (8..8192), or 0 for kmalloc_large / too big. */
uint64_t kmem_kmalloc_size_class(uint64_t size);

/* ---- vmalloc / vfree ------------------------------------------------------------ */

/* vmalloc(size): PAGE_ALIGN(size) bytes, page by page from the buddy allocator (so not
 * physically contiguous), mapped PAGE_KERNEL at the lowest free place of the vmalloc
 * area, followed by an unmapped guard page.  0 when size is 0, out of memory or
 * without a kernel half. */
uint64_t kmem_vmalloc(struct phys *phys, uint64_t size);
/* vfree(addr): addr must start a vmalloc area (0 is ignored).  0 or -EINVAL. */
int kmem_vfree(struct phys *phys, uint64_t addr);
/* vmalloc_to_page: the frame behind a vmalloc address; -EFAULT if none. */
int kmem_vmalloc_to_pfn(struct phys *phys, uint64_t addr, pfn_t *pfn);

/* ---- accounting ------------------------------------------------------------------- */

/* Numbers for /proc/meminfo (kB, as meminfo prints them). */
struct kmem_meminfo {
    uint64_t slab_kb;           /* Slab: SReclaimable + SUnreclaim */
    uint64_t sreclaimable_kb;   /* kmalloc caches are unreclaimable: 0 */
    uint64_t sunreclaim_kb;     /* slab pages and kmalloc_large blocks */
    uint64_t vmalloc_total_kb;  /* VmallocTotal: (VMALLOC_END - VMALLOC_START) / 1024 */
    uint64_t vmalloc_used_kb;   /* VmallocUsed: pages backing vmalloc areas */
    uint64_t vmalloc_chunk_kb;  /* VmallocChunk: 0 since Linux 4.0 */
    uint64_t kernel_pt_kb;      /* init_mm's page-table frames (boot and vmalloc) */
    uint64_t kernel_image_kb;   /* the image's frames */
    uint64_t vmemmap_kb;        /* frames standing for the struct page array */
};
/* All zero without a kernel half. */
void kmem_meminfo(struct phys *phys, struct kmem_meminfo *out);

/* /proc/slabinfo: the "slabinfo - version: 2.1" header, the column line, then one
 * line per kmalloc cache in the order Linux lists them (kmalloc-8k ... kmalloc-8,
 * kmalloc-192, kmalloc-96). */
void kmem_print_slabinfo(struct phys *phys, FILE *out);

/* Frames the kernel half holds right now (tables, image, vmemmap, slabs, large
 * kmallocs, vmalloc pages): kmem_destroy returns exactly these. */
uint64_t kmem_frames(struct phys *phys);

/* Leak audit: the kmalloc objects and vmalloc areas still allocated, one line each on
 * `out` (may be NULL); returns their number. */
uint64_t kmem_audit(struct phys *phys, FILE *out);

/* Every invariant of the kernel half (init_mm's table, slab counts and freelists,
 * vmalloc areas); aborts naming the broken one. */
void kmem_check(struct phys *phys);

#endif
