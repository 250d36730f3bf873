/*
 * kernel/access.c - user memory accesses through the simulated MMU.
 *
 * The process's page tables are loaded into the CPU, the CPU drops to user mode and
 * the #PF vector is pointed at the memory manager's fault handler for the access:
 * a resolved fault retries the access (as the faulting instruction is re-executed),
 * an unresolved one aborts it with the signal the process would get.
 */
#include <errno.h>

#include "hw/bug.h"
#include "kernel/internal.h"

#include <pagoda/kmem.h>

/* The access in progress, for the exception handlers. */
struct user_access {
    struct mm *mm;
    int signo, si_code;
    bool emulated; /* a call into [vsyscall] was emulated: the access is done */
};

/* emulate_vsyscall() (vsyscall=xonly): an instruction fetch in the vsyscall page.
 * At one of the three entry points (gettimeofday, time, getcpu: 0x000, 0x400, 0x800)
 * the call is emulated and returns to the caller; anywhere else it is a "misaligned
 * vsyscall": SIGSEGV with SI_KERNEL and si_addr 0.  Data reads of the page fall
 * through to the ordinary handling (no VMA: SEGV_MAPERR). */
static bool vsyscall_fetch(struct trap_frame *tf, struct user_access *ua)
{
    if (tf->vector != VEC_PF || (tf->cr2 & PAGE_MASK) != KMEM_VSYSCALL_ADDR || !(tf->error_code & PF_I))
        return false;
    uint64_t off = tf->cr2 & ~PAGE_MASK;
    if ((off & 0x3ff) == 0 && off <= 0x800) {
        ua->emulated = true;
        return true;
    }
    ua->signo = tf->signo = PGD_SIGSEGV;
    ua->si_code = tf->si_code = PGD_SI_KERNEL;
    tf->si_addr = 0;
    return true;
}

/* #PF: let the memory manager resolve it and retry (the #PF itself dropped the
 * faulting address's TLB and paging-structure-cache entries, SDM 4.10.4.1, so the
 * retry walks the new entry; entries the handler replaced elsewhere are shot down
 * through mm->tlb_flush).  #GP (a non-canonical address): SIGSEGV, SI_KERNEL,
 * si_addr 0. */
static enum exc_result user_fault(struct cpu *cpu, struct trap_frame *tf, void *ctx)
{
    struct user_access *ua = ctx;
    (void)cpu;
    if (vsyscall_fetch(tf, ua))
        return EXC_ABORT;
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
    if (ua.emulated)
        return 0;
    PAGODA_BUG_ON(rc == CPU_FAULT && !ua.signo, "an aborted access names its signal");
    *signo = ua.signo;
    *si_code = ua.si_code;
    return rc == CPU_OK ? 0 : ua.signo;
}

/* ---- the kernel half: kernel-mode accesses and its TLB hook ---------------------------- */

void kernel_flush_kernel_tlb(void *ctx, uint64_t start, uint64_t end)
{
    struct cpu *cpu = ctx;
    for (uint64_t va = start & PAGE_MASK; va < end; va += PAGE_SIZE)
        cpu_invlpg(cpu, va); /* drops global entries for the page too */
}

struct kernel_fault_ctx {
    struct mm *mm;  /* the process whose user half a kernel access may touch, or NULL */
    uint64_t task_size;
    struct kernel_oops *oops;
};

/* A fault in kernel mode.  On a user address (below TASK_SIZE) with SMAP off or
 * RFLAGS.AC set, the memory manager may resolve it, as for copy_to_user; with SMAP on
 * and AC clear, do_user_addr_fault oopses.  Any other fault on a kernel address has
 * no fixup: page_fault_oops().  #GP (non-canonical) is an oops too. */
static enum exc_result kernel_fault(struct cpu *cpu, struct trap_frame *tf, void *ctx)
{
    struct kernel_fault_ctx *kf = ctx;
    bool smap_blocks = (cpu->cr4 & CR4_SMAP) && !(cpu->rflags & RFLAGS_AC);
    if (tf->vector == VEC_PF && kf->mm && tf->cr2 < kf->task_size && !smap_blocks) {
        int signo, code;
        if (mm_handle_fault(kf->mm, tf->cr2, tf->error_code, &signo, &code) == 0) {
            cpu_invlpg(cpu, tf->cr2);
            return EXC_RETRY;
        }
    }
    kf->oops->vector = (int)tf->vector;
    kf->oops->error_code = tf->vector == VEC_PF ? tf->error_code : 0;
    kf->oops->addr = tf->vector == VEC_PF ? tf->cr2 : 0;
    tf->signo = PGD_SIGKILL; /* the task dies with the oops */
    return EXC_ABORT;
}

long kernel_kernel_access(struct kernel *k, struct process *p, uint64_t addr, uint64_t len, int kind,
                          struct kernel_oops *oops)
{
    struct cpu *cpu = &k->cpu;
    struct pgtable *init = kmem_init_pgtable(k->phys);
    struct kernel_fault_ctx kf = {p ? p->mm : NULL, p && p->mm ? p->mm->task_size : 0, oops};
    *oops = (struct kernel_oops){0};
    if (len == 0)
        return 0;
    if (!init || (p && !p->mm))
        return -ENOENT;
    exc_handler_fn old_pf = cpu->handler[VEC_PF], old_gp = cpu->handler[VEC_GP];
    void *old_pf_ctx = cpu->handler_ctx[VEC_PF], *old_gp_ctx = cpu->handler_ctx[VEC_GP];
    int old_cpl = cpu->cpl;
    cpu_set_handler(cpu, VEC_PF, kernel_fault, &kf);
    cpu_set_handler(cpu, VEC_GP, kernel_fault, &kf);
    if (p)
        kernel_load_mm(k, p->mm);
    else
        cpu_write_cr3(cpu, init->root); /* no process: init_mm, PCID 0 */
    cpu_set_cpl(cpu, 0);
    int rc = touch_pages(cpu, addr, len, access_of(kind));
    cpu_set_cpl(cpu, old_cpl);
    cpu_set_handler(cpu, VEC_PF, old_pf, old_pf_ctx);
    cpu_set_handler(cpu, VEC_GP, old_gp, old_gp_ctx);
    PAGODA_BUG_ON(rc == CPU_FAULT_LOOP, "a resolved page fault lets the retried access through");
    return rc == CPU_OK ? 0 : -EFAULT;
}
