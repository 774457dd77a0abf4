/*
 * trap.c - exception and interrupt entry, xRET, and device-driven mip bits.
 *
 * Invariants kept:
 *  - A trap taken from M-mode always goes to M; from S or U it goes to S
 *    when the cause is delegated (medeleg/mideleg).
 *  - After every privilege change the TLB context selector is refreshed
 *    (mmu_update_ctx), so fast-path lookups always use the set that matches
 *    the new effective privilege.
 *  - hart_trap leaves no exception pending (h->exc_cause = none) and never
 *    touches the LR/SC reservation.
 */
#include <assert.h>

#include "machine/cpu/hart.h"

#define CAUSE_INTERRUPT (1ull << 63)

void hart_trap(Hart *h, uint64_t cause, uint64_t tval)
{
    bool is_irq = (cause & CAUSE_INTERRUPT) != 0;
    uint64_t code = cause & ~CAUSE_INTERRUPT;
    assert(code < 64);
    uint64_t deleg = is_irq ? h->mideleg : h->medeleg;
    int from = h->priv;

    if (from <= PRV_S && ((deleg >> code) & 1)) {
        h->sepc = h->pc;
        h->scause = cause;
        h->stval = tval;
        uint64_t s = h->mstatus & ~(MSTATUS_SPIE | MSTATUS_SIE | MSTATUS_SPP);
        if (h->mstatus & MSTATUS_SIE)
            s |= MSTATUS_SPIE;
        if (from == PRV_S)
            s |= MSTATUS_SPP;
        h->mstatus = s;
        h->priv = PRV_S;
        uint64_t base = h->stvec & ~3ull;
        h->pc = (is_irq && (h->stvec & 3) == 1) ? base + 4 * code : base;
    } else {
        h->mepc = h->pc;
        h->mcause = cause;
        h->mtval = tval;
        uint64_t s = h->mstatus & ~(MSTATUS_MPIE | MSTATUS_MIE | MSTATUS_MPP);
        if (h->mstatus & MSTATUS_MIE)
            s |= MSTATUS_MPIE;
        s |= (uint64_t)from << MSTATUS_MPP_SHIFT;
        h->mstatus = s;
        h->priv = PRV_M;
        uint64_t base = h->mtvec & ~3ull;
        h->pc = (is_irq && (h->mtvec & 3) == 1) ? base + 4 * code : base;
    }
    h->wfi = false;
    h->exc_cause = UINT64_MAX;
    mmu_update_ctx(h);
}

/* Highest-priority interrupt in `bits` (MEI, MSI, MTI, SEI, SSI, STI), or -1. */
static int highest_irq(uint64_t bits)
{
    static const int order[] = {IRQ_MEI, IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI};
    for (unsigned i = 0; i < sizeof order / sizeof order[0]; i++)
        if (bits & (1ull << order[i]))
            return order[i];
    return -1;
}

bool hart_check_interrupts(Hart *h)
{
    uint64_t pending = h->mip & h->mie;
    if (!pending)
        return false;
    h->wfi = false; /* WFI resumes on any locally enabled pending interrupt */

    uint64_t to_m = pending & ~h->mideleg;
    uint64_t to_s = pending & h->mideleg;
    bool m_enabled = h->priv < PRV_M || (h->mstatus & MSTATUS_MIE);
    bool s_enabled = h->priv < PRV_S || (h->priv == PRV_S && (h->mstatus & MSTATUS_SIE));

    /* interrupts for a more privileged mode are taken first */
    int irq = -1;
    if (m_enabled)
        irq = highest_irq(to_m);
    if (irq < 0 && s_enabled)
        irq = highest_irq(to_s);
    if (irq < 0)
        return false;
    hart_trap(h, CAUSE_INTERRUPT | (uint64_t)irq, 0);
    return true;
}

void hart_mret(Hart *h)
{
    uint64_t s = h->mstatus;
    int new_priv = (int)((s & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
    assert(new_priv != 2);
    s &= ~(MSTATUS_MIE | MSTATUS_MPP);
    if (s & MSTATUS_MPIE)
        s |= MSTATUS_MIE;
    s |= MSTATUS_MPIE; /* MPP = U (0) */
    if (new_priv != PRV_M)
        s &= ~MSTATUS_MPRV;
    h->mstatus = s;
    h->priv = new_priv;
    h->pc = h->mepc & ~1ull;
    mmu_update_ctx(h);
}

void hart_sret(Hart *h)
{
    uint64_t s = h->mstatus;
    int new_priv = (s & MSTATUS_SPP) ? PRV_S : PRV_U;
    s &= ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV);
    if (s & MSTATUS_SPIE)
        s |= MSTATUS_SIE;
    s |= MSTATUS_SPIE;
    h->mstatus = s;
    h->priv = new_priv;
    h->pc = h->sepc & ~1ull;
    mmu_update_ctx(h);
}

void hart_set_mip(Hart *h, uint64_t mask, bool level)
{
    assert((mask & ~(MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP)) == 0);
    if (level)
        h->mip |= mask;
    else
        h->mip &= ~mask;
}
