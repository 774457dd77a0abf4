/*
 * idle.c - the only hart waits in WFI for a timer, five times: the whole
 * machine is idle, so the session's idle gate runs (a real-time wait in run
 * and record, logged as IDLE; skipped at once in replay). test_requests
 * uses it for the host-wait hook. Each wait ends exactly at its deadline
 * when nothing else wakes the host, so two runs give the same digest.
 */
#include "libtest.h"

#define MIP_MTIP (1ul << 7)

int main(void)
{
    test_begin("idle");
    /* mie.MTIE with mstatus.MIE clear: a pending timer ends WFI, no trap */
    csr_write(mie, MIP_MTIP);
    for (int i = 0; i < 5; i++) {
        u64 deadline = mmio_read64(CLINT_MTIME) + 20000; /* 2 ms at 10 MHz */
        mmio_write64(CLINT_MTIMECMP, deadline);
        while (!(csr_read(mip) & MIP_MTIP))
            __asm__ volatile("wfi");
        check_true("woke at the deadline, not before", mmio_read64(CLINT_MTIME) >= deadline);
    }
    mmio_write64(CLINT_MTIMECMP, ~0ul);
    csr_write(mie, 0);
    return test_end();
}
