/*
 * libtrap.c - default M- and S-mode trap handlers for the guest tests.
 *
 * Invariants: the handlers run on their own trap stacks (libcrt.S) and never
 * trap themselves, except that reading the faulting instruction assumes it
 * lies in the image or its alias (lower_alias_offset). Exceptions are
 * recorded and skipped; fetch faults cannot be skipped, so they "return"
 * to the caller (epc = ra), which lets a test probe a bad target with a call.
 * Interrupts are recorded and their enable bit cleared so they cannot storm.
 */
#include "libtest.h"

volatile TrapRecord m_last, s_last;
int (*m_trap_hook)(TrapFrame *f, u64 cause, u64 epc, u64 tval);
int (*s_trap_hook)(TrapFrame *f, u64 cause, u64 epc, u64 tval);
u64 lower_alias_offset;

int insn_length_at(u64 pc)
{
    u32 lo = *(volatile unsigned short *)pc;
    return (lo & 3) == 3 ? 4 : 2;
}

static u64 unalias(u64 pc)
{
    if (pc < (u64)__image_start || pc >= (u64)__image_end)
        pc -= lower_alias_offset;
    return pc;
}

static int is_fetch_fault(u64 cause)
{
    return cause == 0 || cause == 1 || cause == 12;
}

void trap_records_reset(void)
{
    m_last.cause = m_last.epc = m_last.tval = m_last.status = 0;
    m_last.count = 0;
    s_last.cause = s_last.epc = s_last.tval = s_last.status = 0;
    s_last.count = 0;
}

int m_trap_handler(TrapFrame *f);
int m_trap_handler(TrapFrame *f)
{
    u64 cause = csr_read(mcause), epc = csr_read(mepc), tval = csr_read(mtval);
    if ((cause == 8 || cause == 9) && f->x[17] == LOWER_EXIT_MAGIC)
        return 1;
    if (m_trap_hook && m_trap_hook(f, cause, epc, tval))
        return 0;
    m_last.cause = cause;
    m_last.epc = epc;
    m_last.tval = tval;
    m_last.status = csr_read(mstatus);
    m_last.count++;
    if (cause & CAUSE_INTR) {
        csr_clear(mie, 1ul << (cause & 63));
    } else if (is_fetch_fault(cause)) {
        if (f->x[1] == epc) { /* returning would fault again: give up */
            tprintf("FAIL: fetch fault at the return address 0x%lx (mcause %lu)\n", epc, cause);
            exit(255);
        }
        csr_write(mepc, f->x[1]);
    }
    else
        csr_write(mepc, epc + insn_length_at(unalias(epc)));
    return 0;
}

int s_trap_handler(TrapFrame *f);
int s_trap_handler(TrapFrame *f)
{
    u64 cause = csr_read(scause), epc = csr_read(sepc), tval = csr_read(stval);
    if (cause == 8 && f->x[17] == LOWER_EXIT_MAGIC)
        return 1;
    if (s_trap_hook && s_trap_hook(f, cause, epc, tval))
        return 0;
    s_last.cause = cause;
    s_last.epc = epc;
    s_last.tval = tval;
    s_last.status = csr_read(sstatus);
    s_last.count++;
    if (cause & CAUSE_INTR) {
        csr_clear(sie, 1ul << (cause & 63));
    } else if (is_fetch_fault(cause)) {
        if (f->x[1] == epc) /* would fault again: leave through M */
            return 1;
        csr_write(sepc, f->x[1]);
    }
    else
        csr_write(sepc, epc + insn_length_at(unalias(epc)));
    return 0;
}
