/*
 * hw/pte.c - out-of-line helpers for x86-64 paging-structure entries.
 */
#include <pagoda/pte.h>

/* The SDM's name for an entry at `level` (1 = PTE .. 5 = PML5E), "?" for any other. */
const char *pt_level_name(int level)
{
    static const char *const names[] = {"PTE", "PDE", "PDPTE", "PML4E", "PML5E"};

    if (level < PT_LEVEL_PTE || level > PT_LEVEL_PML5)
        return "?";
    return names[level - PT_LEVEL_PTE];
}
