/*
 * smp.c - four harts sharing memory: atomics, LR/SC, a ticket lock, IPIs
 * and WFI wake-up.
 *
 * rrvm-args: -smp 4
 *
 * Hart 0 leads: it checks its a0 at entry (boot_a0) against mhartid, releases the parked harts
 * (libcrt.S: secondary_entry and an IPI each) and meets them at a barrier.
 * Then every hart, at the same time:
 *  - adds 1 to a shared counter N times with amoadd.d;
 *  - adds 1 to another N times with an lr.d/sc.d loop (a few instructions
 *    between lr and sc widen the window in which another hart's store or a
 *    change of turn breaks the reservation; failed sc's are retried and
 *    counted, the total must be exact whatever happened);
 *  - adds 1 to a third counter N_LOCK times with a plain load and store,
 *    inside a ticket lock built from amoadd.d.
 * Hart 0 checks the three totals exactly. Then for each other hart it sends
 * IPIs (CLINT msip) until that hart acknowledges in memory: the hart waits
 * with interrupts enabled, takes the machine software interrupt in its trap
 * handler (m_trap_hook: clear msip, count it) and acknowledges.
 * Finally each hart records that it is done and sends an IPI to hart 0,
 * which waits in WFI with mstatus.MIE clear (a pending, enabled-in-mie
 * interrupt must still end WFI) under a watchdog timer.
 *
 * Every wait is bounded by mtime, so a missing hart (run with fewer than
 * NHARTS) or a lost wake-up gives a FAIL line instead of a hang.
 */
#include "libtest.h"

#define NHARTS 4
#define N 2000
#define N_LOCK 200
/* every wait gives up after this long (mtime runs at 10 MHz) */
#define TIMEOUT_TICKS 10000000ul

#define MIE_MSIE (1ul << 3)
#define MIE_MTIE (1ul << 7)
#define CAUSE_MSI (CAUSE_INTR | 3)

static volatile u64 amo_counter, lrsc_counter, plain_counter;
static volatile u64 ticket_next, ticket_serving;
static volatile u64 arrived, finished_work;
static volatile u64 entry_a0[NHARTS], entry_hartid[NHARTS];
static volatile u64 sc_failures[NHARTS];
static volatile u64 ipi_seen[NHARTS], ipi_ack[NHARTS], done[NHARTS];

static u64 hartid(void) { return csr_read(mhartid); }
static u64 mtime(void) { return mmio_read64(CLINT_MTIME); }
static void send_ipi(u64 hart) { mmio_write32(CLINT_MSIP + 4 * hart, 1); }
static void clear_ipi(u64 hart) { mmio_write32(CLINT_MSIP + 4 * hart, 0); }
static void wfi(void) { __asm__ volatile("wfi" ::: "memory"); }

static int smp_trap_hook(TrapFrame *f, u64 cause, u64 epc, u64 tval)
{
    if (cause != CAUSE_MSI)
        return 0;
    u64 id = hartid();
    clear_ipi(id);
    ipi_seen[id]++;
    return 1;
}

/* Spin until *p >= want or the timeout; returns whether it got there. */
static int wait_at_least(volatile u64 *p, u64 want)
{
    u64 start = mtime();
    while (*p < want)
        if (mtime() - start > TIMEOUT_TICKS)
            return 0;
    return 1;
}

static void add_amo(void)
{
    for (int i = 0; i < N; i++)
        __atomic_fetch_add(&amo_counter, 1, __ATOMIC_RELAXED);
}

static void add_lrsc(u64 id)
{
    u64 fails = 0;
    for (int i = 0; i < N; i++) {
        for (;;) {
            u64 v, busy;
            __asm__ volatile("lr.d %0, (%2)\n\t"
                             "addi %0, %0, 1\n\t"
                             "addi zero, zero, 0\n\t"
                             "addi zero, zero, 0\n\t"
                             "addi zero, zero, 0\n\t"
                             "sc.d %1, %0, (%2)"
                             : "=&r"(v), "=&r"(busy)
                             : "r"(&lrsc_counter)
                             : "memory");
            if (busy == 0)
                break;
            fails++;
        }
    }
    sc_failures[id] = fails;
}

static void add_locked(void)
{
    for (int i = 0; i < N_LOCK; i++) {
        u64 mine = __atomic_fetch_add(&ticket_next, 1, __ATOMIC_ACQUIRE);
        while (__atomic_load_n(&ticket_serving, __ATOMIC_ACQUIRE) != mine)
            ;
        plain_counter = plain_counter + 1;
        __atomic_store_n(&ticket_serving, mine + 1, __ATOMIC_RELEASE);
    }
}

static void work(u64 id)
{
    add_amo();
    add_lrsc(id);
    add_locked();
    __atomic_fetch_add(&finished_work, 1, __ATOMIC_RELEASE);
}

static void secondary(u64 a0)
{
    u64 id = hartid();
    entry_a0[id] = a0;
    entry_hartid[id] = id;
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    /* the barrier: hart 0 arrives last, after releasing everyone */
    while (__atomic_load_n(&arrived, __ATOMIC_ACQUIRE) < NHARTS)
        ;
    work(id);

    /* take hart 0's IPI in the trap handler. This waits spinning, not in
     * WFI: QEMU 7.2 with -icount (run-guest-tests --qemu) sometimes never
     * wakes a hart from WFI with mstatus.MIE set. WFI wake-up by IPI is
     * covered by the start from park and by hart 0's final wait. */
    csr_write(mie, MIE_MSIE);
    csr_set(mstatus, MSTATUS_MIE);
    while (ipi_seen[id] == 0)
        ;
    csr_clear(mstatus, MSTATUS_MIE);
    ipi_ack[id] = 1;

    __atomic_store_n(&done[id], 1, __ATOMIC_RELEASE);
    send_ipi(0);
    csr_write(mie, 0);
    for (;;)
        wfi();
}

/* Hart 0 sleeps until every other hart is done: WFI with mstatus.MIE clear,
 * woken by their IPIs (or by the watchdog timer). */
static int wait_all_done(void)
{
    u64 deadline = mtime() + TIMEOUT_TICKS;
    mmio_write64(CLINT_MTIMECMP, deadline);
    csr_clear(mstatus, MSTATUS_MIE);
    csr_write(mie, MIE_MSIE | MIE_MTIE);
    int ok = 0;
    for (;;) {
        int all = 1;
        for (u64 k = 1; k < NHARTS; k++)
            all &= __atomic_load_n(&done[k], __ATOMIC_ACQUIRE) != 0;
        if (all) {
            ok = 1;
            break;
        }
        if (mtime() >= deadline)
            break;
        wfi();
        clear_ipi(0);
    }
    csr_write(mie, 0);
    mmio_write64(CLINT_MTIMECMP, ~0ul);
    clear_ipi(0);
    return ok;
}

int main(void)
{
    test_begin("smp");
    CHECK("hart 0: a0 at entry == mhartid", boot_a0, hartid());
    m_trap_hook = smp_trap_hook;

    secondary_entry = secondary;
    __asm__ volatile("fence rw, rw" ::: "memory");
    for (u64 k = 1; k < NHARTS; k++)
        send_ipi(k);
    if (!check_true("the other harts start", wait_at_least(&arrived, NHARTS - 1))) {
        tprintf("  %lu of %d harts arrived (run with -smp %d)\n", arrived + 1, NHARTS, NHARTS);
        return test_end();
    }
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    work(0);
    check_true("every hart finished its work", wait_at_least(&finished_work, NHARTS));
    CHECK("amoadd counter", amo_counter, (u64)NHARTS * N);
    CHECK("lr/sc counter", lrsc_counter, (u64)NHARTS * N);
    CHECK("ticket-locked counter", plain_counter, (u64)NHARTS * N_LOCK);
    CHECK("tickets taken", ticket_next, (u64)NHARTS * N_LOCK);
    for (u64 k = 1; k < NHARTS; k++) {
        check_eq_idx("a0 at entry == mhartid, hart", (int)k, entry_a0[k], k);
        check_eq_idx("mhartid, hart", (int)k, entry_hartid[k], k);
    }

    for (u64 k = 1; k < NHARTS; k++) {
        u64 start = mtime();
        while (!ipi_ack[k] && mtime() - start < TIMEOUT_TICKS) {
            send_ipi(k);
            for (int spin = 0; spin < 1000 && !ipi_ack[k]; spin++)
                ;
        }
        check_eq_idx("IPI acknowledged by hart", (int)k, ipi_ack[k], 1);
        check_true("  it was taken in the trap handler", ipi_seen[k] >= 1);
    }
    check_true("every hart woke hart 0 from WFI when done", wait_all_done());

    u64 fails = 0;
    for (int k = 0; k < NHARTS; k++)
        fails += sc_failures[k];
    tprintf("smp: %d harts, %lu sc.d retries\n", NHARTS, fails);
    return test_end();
}
