/*
 * mm/machine.c - the memory manager's machine-wide state: one struct mm_machine per
 * struct phys, hung on the machine's owner word so that every mm on the machine (and
 * every test that builds a bare phys) finds the same counters without a registry.
 */
#include "mm/internal.h"

static void mm_machine_release(void *state)
{
    struct mm_machine *m = state;
    kmem_release_host(m->kmem);
    free(state);
}

struct mm_machine *mm_machine_of(struct phys *phys)
{
    if (!phys->owner_state) {
        struct mm_machine *m = calloc(1, sizeof(*m));
        PAGODA_BUG_ON(!m, "mm_machine: host memory for the machine-wide counters");
        phys->owner_state = m;
        phys->owner_release = mm_machine_release;
    }
    return phys->owner_state;
}

#define MM_VM_EVENT_NAME(id, name) name,
static const char *const vm_event_names[VM_NR_EVENTS] = {MM_VM_EVENTS(MM_VM_EVENT_NAME)};
#undef MM_VM_EVENT_NAME

const char *vm_event_name(enum vm_event e)
{
    return (unsigned)e < VM_NR_EVENTS ? vm_event_names[e] : "?";
}
