/*
 * test_devices.c - unit tests for the board devices: UART registers and
 * interrupts, PLIC claim/complete/priority/threshold, CLINT mtimecmp/MTIP
 * and msip, SiFive test exit codes, goldfish RTC time and alarm, empty
 * virtio-mmio slots, HTIF, and device state save/load.
 *
 * Each test builds a virt machine with machine_new() and drives devices
 * through their MMIO regions, as a hart would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "machine/board.h"
#include "machine/dev/clint.h"
#include "machine/dev/goldfish_rtc.h"
#include "machine/cpu/hart.h"
#include "machine/dev/htif.h"
#include "machine/machine.h"
#include "machine/dev/plic.h"
#include "machine/dev/uart16550.h"

#define RAM_SIZE (16ull << 20)
#define UART 0x10000000ull
#define PLIC 0xc000000ull
#define CLINT 0x2000000ull
#define RTC 0x101000ull
#define TEST 0x100000ull

typedef struct Fix {
    Machine *m;
    char out[4096];
    size_t out_len;
} Fix;

static void console_write(void *opaque, const uint8_t *buf, size_t n)
{
    Fix *f = opaque;
    for (size_t i = 0; i < n && f->out_len + 1 < sizeof f->out; i++)
        f->out[f->out_len++] = (char)buf[i];
}

static uint64_t wallclock(void *opaque) { return 1700000000ull * 1000000000ull; }

static void random_bytes(void *opaque, uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(i * 7 + 1);
}

static Fix *make_fix(bool virt, int nharts)
{
    Fix *f = calloc(1, sizeof *f);
    MachineConfig cfg = {.ram_size = RAM_SIZE, .nharts = nharts, .icount_shift = 0,
                         .board_virt = virt, .rtc_base_ns = 1000000000000000000ull, .quantum = 1000};
    MachineHostIf host = {.opaque = f, .wallclock_ns = wallclock, .random_bytes = random_bytes,
                          .console_write = console_write};
    f->m = machine_new(&cfg, &host);
    assert_non_null(f->m);
    return f;
}

static int setup_virt(void **state)
{
    *state = make_fix(true, 2);
    return 0;
}

static int teardown(void **state)
{
    Fix *f = *state;
    machine_free(f->m);
    free(f);
    return 0;
}

/* MMIO access as a hart would make it. */
static uint64_t rd(Machine *m, uint64_t addr, int size)
{
    const MmioRegion *r = machine_find_mmio(m, addr);
    assert_non_null(r);
    uint64_t v = 0xdeadbeef;
    assert_true(r->read(r->dev, addr - r->base, size, &v));
    return v;
}

static void wr(Machine *m, uint64_t addr, int size, uint64_t val)
{
    const MmioRegion *r = machine_find_mmio(m, addr);
    assert_non_null(r);
    assert_true(r->write(r->dev, addr - r->base, size, val));
}

static bool rd_ok(Machine *m, uint64_t addr, int size)
{
    const MmioRegion *r = machine_find_mmio(m, addr);
    uint64_t v;
    return r->read(r->dev, addr - r->base, size, &v);
}

static bool mip(Machine *m, int hart, uint64_t bit) { return (m->harts[hart]->mip & bit) != 0; }

/* Route UART (10) and RTC (11) to hart 0's S-mode context. */
static void plic_route_s0(Machine *m, int irq)
{
    wr(m, PLIC + 4 * (uint64_t)irq, 4, 1);
    uint64_t en = PLIC + 0x2000 + 0x80 * 1;
    wr(m, en, 4, rd(m, en, 4) | (1u << irq));
}

/* --- UART --- */

static void test_uart_reset_and_tx(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    assert_int_equal(rd(m, UART + 5, 1), 0x60); /* THRE | TEMT */
    assert_int_equal(rd(m, UART + 2, 1), 0x01); /* no interrupt, FIFOs off */
    assert_int_equal(rd(m, UART + 3, 1), 0x03);
    wr(m, UART, 1, 'h');
    wr(m, UART, 1, 'i');
    assert_int_equal(f->out_len, 2);
    assert_memory_equal(f->out, "hi", 2);
    /* divisor latch */
    wr(m, UART + 3, 1, 0x83);
    wr(m, UART + 0, 1, 0x01);
    wr(m, UART + 1, 1, 0x02);
    assert_int_equal(rd(m, UART + 0, 1), 0x01);
    assert_int_equal(rd(m, UART + 1, 1), 0x02);
    wr(m, UART + 3, 1, 0x03);
    assert_int_equal(rd(m, UART + 1, 1), 0x00); /* IER again */
    assert_int_equal(f->out_len, 2);           /* DLL write sent nothing */
    wr(m, UART + 7, 1, 0x5a);
    assert_int_equal(rd(m, UART + 7, 1), 0x5a);
}

static void test_uart_rx_interrupt(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    Uart16550 *u = m->uart;
    plic_route_s0(m, 10);
    wr(m, UART + 1, 1, 0x01); /* IER.RDI */
    assert_false(mip(m, 0, MIP_SEIP));
    assert_true(uart16550_can_receive(u));
    uart16550_receive(u, 'x');
    assert_false(uart16550_can_receive(u)); /* FIFOs off: one byte deep */
    assert_int_equal(rd(m, UART + 2, 1), 0x04);
    assert_int_equal(rd(m, UART + 5, 1) & 0x01, 0x01);
    assert_true(mip(m, 0, MIP_SEIP));
    assert_false(mip(m, 0, MIP_MEIP));
    /* the PLIC has the UART pending */
    assert_int_equal(rd(m, PLIC + 0x1000, 4) & (1u << 10), 1u << 10);
    assert_int_equal(rd(m, UART, 1), 'x');
    assert_int_equal(rd(m, UART + 2, 1), 0x01);
    assert_int_equal(rd(m, UART + 5, 1) & 0x01, 0);
    assert_false(mip(m, 0, MIP_SEIP));
    /* overrun */
    uart16550_receive(u, 'a');
    uart16550_receive(u, 'b');
    assert_int_equal(rd(m, UART + 5, 1) & 0x03, 0x03); /* DR | OE */
    assert_int_equal(rd(m, UART + 5, 1) & 0x02, 0);    /* OE cleared by read */
    assert_int_equal(rd(m, UART, 1), 'a');
}

static void test_uart_fifo_trigger(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    Uart16550 *u = m->uart;
    wr(m, UART + 2, 1, 0x81); /* FIFO on, trigger 8 (Linux's 16550A setting) */
    wr(m, UART + 1, 1, 0x01);
    assert_int_equal(rd(m, UART + 2, 1), 0xc1);
    for (int i = 0; i < 3; i++)
        uart16550_receive(u, (uint8_t)('0' + i));
    assert_int_equal(rd(m, UART + 2, 1), 0xcc); /* below trigger: timeout */
    for (int i = 3; i < 8; i++)
        uart16550_receive(u, (uint8_t)('0' + i));
    assert_int_equal(rd(m, UART + 2, 1), 0xc4); /* at trigger: data available */
    for (int i = 8; i < 16; i++)
        uart16550_receive(u, (uint8_t)('0' + i));
    assert_false(uart16550_can_receive(u));
    for (int i = 0; i < 16; i++)
        assert_int_equal(rd(m, UART, 1), '0' + i);
    assert_int_equal(rd(m, UART + 2, 1), 0xc1);
    /* FCR clear RX */
    uart16550_receive(u, 'z');
    wr(m, UART + 2, 1, 0x83);
    assert_int_equal(rd(m, UART + 5, 1) & 1, 0);
}

static void test_uart_thr_interrupt(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    plic_route_s0(m, 10);
    wr(m, UART + 1, 1, 0x02); /* IER.THRI with THR empty: interrupt at once */
    assert_true(mip(m, 0, MIP_SEIP));
    assert_int_equal(rd(m, UART + 2, 1), 0x02);
    assert_int_equal(rd(m, UART + 2, 1), 0x01); /* the IIR read acknowledged it */
    assert_false(mip(m, 0, MIP_SEIP));
    wr(m, UART, 1, 'q');
    assert_int_equal(rd(m, UART + 2, 1), 0x02);
    /* RX data outranks THRE */
    wr(m, UART + 1, 1, 0x03);
    uart16550_receive(m->uart, 'r');
    assert_int_equal(rd(m, UART + 2, 1), 0x04);
    wr(m, UART + 1, 1, 0x00);
    assert_int_equal(rd(m, UART + 2, 1), 0x01);
}

static void test_uart_loopback(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    wr(m, UART + 4, 1, 0x1a); /* LOOP | OUT2 | RTS: Linux's probe */
    assert_int_equal(rd(m, UART + 6, 1) & 0xf0, 0x90);
    assert_false(uart16550_can_receive(m->uart));
    wr(m, UART, 1, 'L');
    assert_int_equal(f->out_len, 0);
    assert_int_equal(rd(m, UART, 1), 'L');
    wr(m, UART + 4, 1, 0x00);
    assert_int_equal(rd(m, UART + 6, 1) & 0xf0, 0xb0);
}

/* Ctrl-A b: a break puts a zero byte in the FIFO flagged BI, raises the
 * receiver-line-status interrupt, and LSR reports BI once, with the byte
 * still there to read (what Linux's 8250 driver expects for SysRq). */
static void test_uart_break(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    Uart16550 *u = m->uart;
    plic_route_s0(m, 10);
    wr(m, UART + 2, 1, 0x01); /* FIFOs on, trigger 1 */
    wr(m, UART + 1, 1, 0x05); /* IER.RLSI | IER.RDI */
    uart16550_receive(u, 'a');
    uart16550_break(u);
    assert_true(mip(m, 0, MIP_SEIP));
    assert_int_equal(rd(m, UART + 2, 1) & 0x0f, 0x04); /* 'a' on top: data, no BI yet */
    assert_int_equal(rd(m, UART + 5, 1) & 0x91, 0x81);  /* DR, FIFO error, no BI */
    assert_int_equal(rd(m, UART, 1), 'a');
    assert_int_equal(rd(m, UART + 2, 1) & 0x0f, 0x06); /* the break on top: RLSI */
    assert_int_equal(rd(m, UART + 5, 1) & 0x91, 0x91);  /* DR | BI | FIFO error */
    assert_int_equal(rd(m, UART + 5, 1) & 0x91, 0x01);  /* BI reported once */
    assert_int_equal(rd(m, UART + 2, 1) & 0x0f, 0x04);
    assert_int_equal(rd(m, UART, 1), 0);                /* the break's zero byte */
    assert_int_equal(rd(m, UART + 2, 1), 0xc1);
    assert_false(mip(m, 0, MIP_SEIP));

    /* a pending break survives save/load; none pending saves as before */
    SerWriter w0, w1;
    ser_writer_init(&w0);
    uart16550_save(u, &w0);
    uart16550_break(u);
    ser_writer_init(&w1);
    uart16550_save(u, &w1);
    assert_int_equal(w1.len, w0.len + 4);
    Fix *g = make_fix(true, 1);
    SerReader r;
    ser_reader_init(&r, w1.buf, w1.len);
    assert_true(uart16550_load(g->m->uart, &r));
    assert_int_equal(rd(g->m, UART + 5, 1) & 0x10, 0x10);
    ser_reader_init(&r, w0.buf, w0.len);
    assert_true(uart16550_load(g->m->uart, &r));
    assert_int_equal(rd(g->m, UART + 5, 1) & 0x11, 0);
    ser_writer_free(&w0);
    ser_writer_free(&w1);
    machine_free(g->m);
    free(g);
}

/* --- PLIC --- */

static void test_plic_priority_claim_complete(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    uint64_t en0 = PLIC + 0x2000, claim0 = PLIC + 0x200004, thr0 = PLIC + 0x200000;
    wr(m, PLIC + 4 * 3, 4, 2);
    wr(m, PLIC + 4 * 5, 4, 5);
    wr(m, PLIC + 4 * 7, 4, 5);
    wr(m, PLIC + 4 * 40, 4, 0xff); /* masked to 7 */
    assert_int_equal(rd(m, PLIC + 4 * 40, 4), 7);
    wr(m, en0, 4, 0xffffffff);
    assert_int_equal(rd(m, en0, 4), 0xfffffffe); /* source 0 cannot be enabled */
    machine_set_irq(m, 3, true);
    machine_set_irq(m, 5, true);
    machine_set_irq(m, 7, true);
    assert_true(mip(m, 0, MIP_MEIP));
    assert_false(mip(m, 0, MIP_SEIP));
    assert_false(mip(m, 1, MIP_MEIP));
    assert_int_equal(rd(m, claim0, 4), 5); /* highest priority, lowest id */
    assert_int_equal(rd(m, claim0, 4), 7);
    assert_int_equal(rd(m, claim0, 4), 3);
    assert_false(mip(m, 0, MIP_MEIP));
    assert_int_equal(rd(m, claim0, 4), 0);
    assert_int_equal(rd(m, PLIC + 0x1000, 4), 0); /* nothing pending while claimed */
    /* completing with the line still high re-raises (level triggered) */
    wr(m, claim0, 4, 5);
    assert_true(mip(m, 0, MIP_MEIP));
    assert_int_equal(rd(m, PLIC + 0x1000, 4), 1u << 5);
    assert_int_equal(rd(m, claim0, 4), 5);
    machine_set_irq(m, 5, false);
    wr(m, claim0, 4, 5);
    wr(m, claim0, 4, 7);
    machine_set_irq(m, 7, false);
    assert_false(mip(m, 0, MIP_MEIP));
    /* threshold: only priorities above it interrupt */
    wr(m, claim0, 4, 3); /* irq 3 (prio 2) still high: pending again */
    assert_true(mip(m, 0, MIP_MEIP));
    wr(m, thr0, 4, 2);
    assert_int_equal(rd(m, thr0, 4), 2);
    assert_false(mip(m, 0, MIP_MEIP));
    assert_int_equal(rd(m, claim0, 4), 0);
    wr(m, thr0, 4, 1);
    assert_true(mip(m, 0, MIP_MEIP));
    /* lowering the line withdraws the request */
    machine_set_irq(m, 3, false);
    assert_false(mip(m, 0, MIP_MEIP));
}

static void test_plic_contexts(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    /* context 3 = hart 1, S-mode */
    wr(m, PLIC + 4 * 9, 4, 1);
    wr(m, PLIC + 0x2000 + 0x80 * 3, 4, 1u << 9);
    machine_set_irq(m, 9, true);
    assert_true(mip(m, 1, MIP_SEIP));
    assert_false(mip(m, 1, MIP_MEIP));
    assert_false(mip(m, 0, MIP_SEIP));
    assert_int_equal(rd(m, PLIC + 0x200000 + 0x1000 * 3 + 4, 4), 9);
    assert_false(mip(m, 1, MIP_SEIP));
    /* completion for a source not enabled in that context is ignored */
    wr(m, PLIC + 0x200000 + 0x1000 * 2 + 4, 4, 9);
    assert_false(mip(m, 1, MIP_SEIP));
    wr(m, PLIC + 0x200000 + 0x1000 * 3 + 4, 4, 9);
    assert_true(mip(m, 1, MIP_SEIP));
    /* only aligned 32-bit accesses */
    assert_false(rd_ok(m, PLIC + 4, 1));
    assert_false(rd_ok(m, PLIC + 4, 8));
}

/* --- CLINT --- */

static void test_clint_timer(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    Clint *c = m->clint;
    assert_int_equal(rd(m, CLINT + 0x4000, 8), UINT64_MAX);
    clint_update_mtip(c);
    assert_false(mip(m, 0, MIP_MTIP));
    assert_int_equal(clint_next_deadline(c), UINT64_MAX);
    wr(m, CLINT + 0x4000, 8, 100);
    assert_false(mip(m, 0, MIP_MTIP));
    assert_int_equal(clint_next_deadline(c), 100);
    /* icount_shift 0: 1 insn = 1 ns; mtime ticks every 100 ns */
    m->icount = 9999;
    assert_int_equal(rd(m, CLINT + 0xbff8, 8), 99);
    clint_update_mtip(c);
    assert_false(mip(m, 0, MIP_MTIP));
    m->icount = 10000;
    assert_int_equal(rd(m, CLINT + 0xbff8, 4), 100);
    assert_int_equal(rd(m, CLINT + 0xbffc, 4), 0);
    clint_update_mtip(c);
    assert_true(mip(m, 0, MIP_MTIP));
    assert_false(mip(m, 1, MIP_MTIP));
    assert_int_equal(clint_next_deadline(c), UINT64_MAX);
    /* writing mtimecmp re-evaluates MTIP at once (32-bit halves) */
    wr(m, CLINT + 0x4004, 4, 1);
    assert_false(mip(m, 0, MIP_MTIP));
    assert_int_equal(rd(m, CLINT + 0x4000, 8), (1ull << 32) | 100);
    wr(m, CLINT + 0x4000 + 8, 4, 50); /* hart 1: low half 50, high half still ~0 */
    assert_false(mip(m, 1, MIP_MTIP));
    wr(m, CLINT + 0x4000 + 12, 4, 0);
    assert_true(mip(m, 1, MIP_MTIP));
    /* mtime is read-only */
    wr(m, CLINT + 0xbff8, 8, 0);
    assert_int_equal(rd(m, CLINT + 0xbff8, 8), 100);
    assert_false(rd_ok(m, CLINT + 0xbff8, 2));
}

static void test_clint_msip(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    wr(m, CLINT + 4, 4, 0xffffffff);
    assert_int_equal(rd(m, CLINT + 4, 4), 1);
    assert_true(mip(m, 1, MIP_MSIP));
    assert_false(mip(m, 0, MIP_MSIP));
    wr(m, CLINT + 4, 4, 0);
    assert_false(mip(m, 1, MIP_MSIP));
}

/* --- SiFive test --- */

static void test_sifive_test(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    wr(m, TEST, 4, 0x1234);
    assert_false(m->exit_requested);
    assert_false(m->reset_requested);
    wr(m, TEST, 4, (42u << 16) | 0x3333);
    assert_true(m->exit_requested);
    assert_int_equal(m->exit_code, 42);
    wr(m, TEST, 2, 0x5555); /* OpenSBI writes 16 bits */
    assert_int_equal(m->exit_code, 0);
    m->exit_requested = false;
    wr(m, TEST, 1, 0x55);
    assert_false(m->exit_requested);
    wr(m, TEST, 4, 0x7777);
    assert_true(m->reset_requested);
    assert_int_equal(rd(m, TEST, 4), 0);
}

/* --- goldfish RTC --- */

static void test_rtc_time_and_alarm(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    plic_route_s0(m, 11);
    m->icount = 12345;
    uint64_t now = m->cfg.rtc_base_ns + 12345;
    assert_int_equal(rd(m, RTC + 0x00, 4), (uint32_t)now);
    m->icount = 99999999; /* TIME_HIGH is the value latched by TIME_LOW */
    assert_int_equal(rd(m, RTC + 0x04, 4), now >> 32);
    m->icount = 1000;
    now = m->cfg.rtc_base_ns + 1000;
    uint64_t alarm = now + 5000;
    wr(m, RTC + 0x10, 4, 1);
    wr(m, RTC + 0x0c, 4, alarm >> 32);
    wr(m, RTC + 0x08, 4, (uint32_t)alarm);
    assert_int_equal(rd(m, RTC + 0x18, 4), 1);
    assert_int_equal(goldfish_rtc_next_deadline_ns(m->rtc), 6000);
    m->icount = 5999;
    machine_update_timers(m);
    assert_false(mip(m, 0, MIP_SEIP));
    m->icount = 6000;
    machine_update_timers(m);
    assert_true(mip(m, 0, MIP_SEIP));
    assert_int_equal(rd(m, RTC + 0x18, 4), 0);
    wr(m, RTC + 0x1c, 4, 1);
    assert_false(mip(m, 0, MIP_SEIP));
    /* an alarm in the past fires immediately */
    wr(m, RTC + 0x08, 4, 0);
    assert_true(mip(m, 0, MIP_SEIP));
    wr(m, RTC + 0x1c, 4, 1);
    /* setting the time: high then low */
    wr(m, RTC + 0x04, 4, 0x1);
    wr(m, RTC + 0x00, 4, 0x2);
    assert_int_equal(rd(m, RTC + 0x00, 4), 2);
    assert_int_equal(rd(m, RTC + 0x04, 4), 1);
    m->icount += 10;
    assert_int_equal(rd(m, RTC + 0x00, 4), 12);
}

static void test_rtc_host_clock(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    m->cfg.rtc_clock_host = true;
    uint64_t t = wallclock(NULL);
    assert_int_equal(rd(m, RTC + 0x00, 4), (uint32_t)t);
    assert_int_equal(rd(m, RTC + 0x04, 4), t >> 32);
}

/* --- virtio-mmio and HTIF --- */

static void test_virtio_empty_slots(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    for (int i = 0; i < 8; i++) {
        uint64_t base = 0x10001000ull + 0x1000ull * (uint64_t)i;
        assert_int_equal(rd(m, base + 0x000, 4), 0x74726976);
        assert_int_equal(rd(m, base + 0x004, 4), 2);
        assert_int_equal(rd(m, base + 0x008, 4), 0);
        assert_int_equal(rd(m, base + 0x00c, 4), 0x554d4551);
        assert_int_equal(rd(m, base + 0x070, 4), 0);
        wr(m, base + 0x070, 4, 0xff);
    }
}

static void test_htif(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    char err[256];
    uint64_t to = RAM_BASE + 0x1000, from = RAM_BASE + 0x1040;
    assert_null(htif_new(m, RAM_BASE + 0x1004, from, err, sizeof err));
    assert_null(htif_new(m, 0x1000, from, err, sizeof err));
    m->htif = htif_new(m, to, from, err, sizeof err);
    assert_non_null(m->htif);
    /* putchar: device 1, command 1 */
    wr(m, to, 8, (1ull << 56) | (1ull << 48) | 'Z');
    assert_int_equal(f->out_len, 1);
    assert_int_equal(f->out[0], 'Z');
    assert_int_equal(rd(m, to, 8), 0);
    assert_int_not_equal(rd(m, from, 8), 0);
    wr(m, from, 8, 0);
    /* syscall proxy: write(1, buf, 5) */
    uint64_t magic = RAM_BASE + 0x2000, buf = RAM_BASE + 0x3000;
    uint64_t args[8] = {64, 1, buf, 5};
    assert_true(machine_phys_write(m, magic, args, sizeof args)); /* little-endian host */
    assert_true(machine_phys_write(m, buf, "hello", 5));
    wr(m, to, 4, (uint32_t)magic); /* low word alone does nothing yet */
    assert_int_equal(f->out_len, 1);
    wr(m, to + 4, 4, magic >> 32);
    assert_int_equal(f->out_len, 6);
    assert_memory_equal(f->out + 1, "hello", 5);
    assert_int_equal(rd(m, from, 8), 1);
    uint64_t ret;
    assert_true(machine_phys_read(m, magic, &ret, 8));
    assert_int_equal(ret, 5);
    /* a buffer outside RAM gets -EFAULT, not a crash */
    args[2] = 0x1000;
    args[3] = UINT64_MAX;
    assert_true(machine_phys_write(m, magic, args, sizeof args));
    wr(m, to, 8, magic);
    assert_true(machine_phys_read(m, magic, &ret, 8));
    assert_int_equal((int64_t)ret, -14);
    /* exit: riscv-tests write (TESTNUM << 1) | 1 as two words */
    assert_false(m->exit_requested);
    wr(m, to, 4, (3 << 1) | 1);
    wr(m, to + 4, 4, 0);
    assert_true(m->exit_requested);
    assert_int_equal(m->exit_code, 3);
}

/* --- state --- */

typedef struct Digest {
    char names[16][16];
    uint8_t *blobs[16];
    size_t lens[16];
    int n;
} Digest;

static void collect(void *ctx, const char *name, const uint8_t *p, size_t n)
{
    Digest *d = ctx;
    assert_true(d->n < 16);
    strncpy(d->names[d->n], name, 15);
    d->blobs[d->n] = malloc(n);
    memcpy(d->blobs[d->n], p, n);
    d->lens[d->n++] = n;
}

static void digest_free(Digest *d)
{
    for (int i = 0; i < d->n; i++)
        free(d->blobs[i]);
}

static void test_device_state_roundtrip(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    plic_route_s0(m, 10);
    wr(m, UART + 2, 1, 0x41);
    wr(m, UART + 1, 1, 0x05);
    uart16550_receive(m->uart, 'k');
    wr(m, CLINT + 0x4008, 8, 777);
    wr(m, RTC + 0x10, 4, 1);
    wr(m, PLIC + 0x200000 + 0x1000 * 2, 4, 3);

    SerWriter w;
    ser_writer_init(&w);
    board_save_devices(m, &w);
    Fix *g = make_fix(true, 2);
    SerReader r;
    ser_reader_init(&r, w.buf, w.len);
    assert_true(board_load_devices(g->m, &r));
    assert_int_equal(r.pos, r.len);

    Digest a = {0}, b = {0};
    board_foreach_device_state(m, collect, &a);
    board_foreach_device_state(g->m, collect, &b);
    assert_int_equal(a.n, 6); /* uart clint plic rtc test virtio */
    assert_int_equal(a.n, b.n);
    for (int i = 0; i < a.n; i++) {
        assert_string_equal(a.names[i], b.names[i]);
        assert_int_equal(a.lens[i], b.lens[i]);
        assert_memory_equal(a.blobs[i], b.blobs[i], a.lens[i]);
    }
    assert_int_equal(rd(g->m, UART, 1), 'k');
    digest_free(&a);
    digest_free(&b);

    /* truncated state and a different board are refused */
    for (size_t cut = 0; cut < w.len; cut += 7) {
        ser_reader_init(&r, w.buf, cut);
        assert_false(board_load_devices(g->m, &r));
    }
    Fix *bare = make_fix(false, 2);
    ser_reader_init(&r, w.buf, w.len);
    assert_false(board_load_devices(bare->m, &r));
    machine_free(bare->m);
    free(bare);
    machine_free(g->m);
    free(g);
    ser_writer_free(&w);
}

static void test_bare_board_devices(void **state)
{
    Fix *f = make_fix(false, 1);
    Machine *m = f->m;
    assert_non_null(m->uart);
    assert_non_null(m->clint);
    assert_non_null(m->test);
    assert_null(m->plic);
    assert_null(m->rtc);
    assert_null(machine_find_mmio(m, PLIC));
    assert_null(machine_find_mmio(m, 0x10001000));
    /* UART interrupts go nowhere without a PLIC, and must not crash */
    wr(m, UART + 1, 1, 0x02);
    machine_set_irq(m, 10, true);
    machine_free(f->m);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_uart_reset_and_tx, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_uart_rx_interrupt, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_uart_fifo_trigger, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_uart_thr_interrupt, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_uart_loopback, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_uart_break, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_plic_priority_claim_complete, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_plic_contexts, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_clint_timer, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_clint_msip, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_sifive_test, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_rtc_time_and_alarm, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_rtc_host_clock, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_virtio_empty_slots, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_htif, setup_virt, teardown),
        cmocka_unit_test_setup_teardown(test_device_state_roundtrip, setup_virt, teardown),
        cmocka_unit_test(test_bare_board_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
