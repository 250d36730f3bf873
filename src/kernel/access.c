/*
 * kernel/access.c - user memory accesses through the simulated MMU.
 *
 * The process's page tables are loaded into the CPU, the CPU drops to user mode and
 * the #PF vector is pointed at the memory manager's fault handler for the access:
 * a resolved fault retries the access (as the faulting instruction is re-executed),
 * an unresolved one aborts it with the signal the process would get.
 */
#include "hw/bug.h"
#include "kernel/internal.h"

/* The access in progress, for the exception handlers. */
struct user_access {
    struct mm *mm;
    int signo, si_code;
};

/* #PF: let the memory manager resolve it and retry (the #PF itself dropped the
 * faulting address's TLB and paging-structure-cache entries, SDM 4.10.4.1, so the
 * retry walks the new entry; entries the handler replaced elsewhere are shot down
 * through mm->tlb_flush).  #GP (a non-canonical address): SIGSEGV, SI_KERNEL,
 * si_addr 0. */
static enum exc_result user_fault(struct cpu *cpu, struct trap_frame *tf, void *ctx)
{
    struct user_access *ua = ctx;
    (void)cpu;
    if (tf->vector == VEC_GP) {
        ua->signo = PGD_SIGSEGV;
        ua->si_code = PGD_SI_KERNEL;
        tf->si_addr = 0;
    } else if (mm_handle_fault(ua->mm, tf->cr2, tf->error_code, &ua->signo, &ua->si_code) == 0) {
        return EXC_RETRY;
    } else {
        tf->si_addr = tf->cr2;
    }
    tf->signo = ua->signo;
    tf->si_code = ua->si_code;
    return EXC_ABORT;
}

static enum access access_of(int kind)
{
    return kind == KERNEL_ACCESS_WRITE ? ACC_WRITE : kind == KERNEL_ACCESS_EXEC ? ACC_EXEC : ACC_READ;
}

/* Translate each page of [addr, addr+len) for the access (touch).  CPU_OK or a fault. */
static int touch_pages(struct cpu *cpu, uint64_t addr, uint64_t len, enum access acc)
{
    uint64_t last = addr + len - 1;
    for (uint64_t va = addr;; va = (va & PAGE_MASK) + PAGE_SIZE) {
        paddr_t pa;
        int rc = cpu_translate(cpu, va, acc, &pa);
        if (rc != CPU_OK || (va & PAGE_MASK) == (last & PAGE_MASK))
            return rc;
    }
}

long kernel_user_access(struct kernel *k, struct process *p, uint64_t addr, uint64_t len, int kind,
                        const void *wbuf, void *rbuf, int *signo, int *si_code)
{
    struct cpu *cpu = &k->cpu;
    struct user_access ua = {.mm = p->mm};
    *signo = *si_code = 0;
    if (len == 0)
        return 0;
    exc_handler_fn old_pf = cpu->handler[VEC_PF], old_gp = cpu->handler[VEC_GP];
    void *old_pf_ctx = cpu->handler_ctx[VEC_PF], *old_gp_ctx = cpu->handler_ctx[VEC_GP];
    int old_cpl = cpu->cpl;
    cpu_set_handler(cpu, VEC_PF, user_fault, &ua);
    cpu_set_handler(cpu, VEC_GP, user_fault, &ua);
    kernel_load_mm(k, p->mm);
    cpu_set_cpl(cpu, 3);

    enum access acc = access_of(kind);
    const void *buf = acc == ACC_WRITE ? wbuf : rbuf;
    int rc = buf ? cpu_access(cpu, addr, (void *)buf, len, acc) : touch_pages(cpu, addr, len, acc);

    cpu_set_cpl(cpu, old_cpl);
    cpu_set_handler(cpu, VEC_PF, old_pf, old_pf_ctx);
    cpu_set_handler(cpu, VEC_GP, old_gp, old_gp_ctx);
    PAGODA_BUG_ON(rc == CPU_FAULT_LOOP, "a resolved page fault lets the retried access through");
    PAGODA_BUG_ON(rc == CPU_FAULT && !ua.signo, "an aborted access names its signal");
    *signo = ua.signo;
    *si_code = ua.si_code;
    return rc == CPU_OK ? 0 : ua.signo;
}
