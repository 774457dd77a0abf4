/*
 * uart16550.c - NS16550A UART as Linux's 8250 driver (and OpenSBI) use it.
 *
 * Invariants:
 *  - rx_count <= rx_capacity(u) <= UART16550_FIFO_SIZE; bytes leave the
 *    FIFO in arrival order, only through RBR reads (or FIFO resets).
 *  - The transmitter is always empty (LSR.THRE and LSR.TEMT read 1): a THR
 *    write is sent to the host console before the write returns.
 *  - The interrupt line equals "IIR reports an interrupt"; it is driven
 *    after every state change, so the PLIC never sees a stale level.
 *  - rx_break has bits only for occupied FIFO slots. LSR.BI is "the byte at
 *    the top of the FIFO came with a break"; reading LSR reports it once.
 *  - Saved state without a break pending is byte-identical to the format
 *    before breaks existed (version 1), so older checkpoints still match.
 *
 * Deterministic simplification: a real 16550 raises the character-timeout
 * interrupt (IIR 0x0c) when bytes below the FIFO trigger level have waited
 * four character times. Here that timeout is taken to elapse immediately,
 * so the guest sees the timeout indication as soon as data sits below the
 * trigger level (and "RX data available" at or above it). No host or
 * virtual-time timer is involved, and the driver reads everything in LSR.DR
 * order either way.
 */
#include "machine/dev/uart16550.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

enum {
    REG_RBR_THR_DLL = 0, REG_IER_DLM = 1, REG_IIR_FCR = 2, REG_LCR = 3,
    REG_MCR = 4, REG_LSR = 5, REG_MSR = 6, REG_SCR = 7,
};

#define IER_RDI 0x01  /* received data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI 0x08  /* modem status */

#define IIR_NO_INT 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO_BITS 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_KEPT_BITS 0xc9 /* enable, DMA mode, trigger level */

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_FIFO_ERROR 0x80 /* some byte in the FIFO has an error (BI) */

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
/* Outside loopback the modem lines say "carrier, data set ready, clear to
 * send", as QEMU reports them. */
#define MSR_IDLE_LINES (MSR_DCD | MSR_DSR | MSR_CTS)

static bool fifo_enabled(const Uart16550 *u) { return u->fcr & FCR_ENABLE; }

static int rx_capacity(const Uart16550 *u)
{
    return fifo_enabled(u) ? UART16550_FIFO_SIZE : 1;
}

static int rx_trigger_level(const Uart16550 *u)
{
    static const int levels[4] = {1, 4, 8, 14};
    return fifo_enabled(u) ? levels[u->fcr >> 6] : 1;
}

static bool top_is_break(const Uart16550 *u)
{
    return u->rx_count > 0 && (u->rx_break >> u->rx_head & 1);
}

/* The interrupt identification, highest priority first. */
static uint8_t iir_id(const Uart16550 *u)
{
    if ((u->ier & IER_RLSI) && ((u->lsr_errors & LSR_OE) || top_is_break(u)))
        return IIR_RLSI;
    if ((u->ier & IER_RDI) && u->rx_count > 0)
        return u->rx_count >= rx_trigger_level(u) ? IIR_RDI : IIR_TIMEOUT;
    if ((u->ier & IER_THRI) && u->thr_ipending)
        return IIR_THRI;
    if ((u->ier & IER_MSI) && (u->msr & MSR_DELTAS))
        return IIR_MSI;
    return IIR_NO_INT;
}

static void update_irq(Uart16550 *u)
{
    machine_set_irq(u->m, u->irq, iir_id(u) != IIR_NO_INT);
}

static void rx_clear(Uart16550 *u)
{
    u->rx_head = 0;
    u->rx_count = 0;
    u->rx_break = 0;
    memset(u->rx_fifo, 0, sizeof u->rx_fifo);
}

static void rx_push(Uart16550 *u, uint8_t byte, bool brk)
{
    if (u->rx_count >= rx_capacity(u)) {
        u->lsr_errors |= LSR_OE;
        return;
    }
    int slot = (u->rx_head + u->rx_count) % UART16550_FIFO_SIZE;
    u->rx_fifo[slot] = byte;
    u->rx_break = (uint16_t)((u->rx_break & ~(1u << slot)) | (unsigned)brk << slot);
    u->rx_count++;
}

static uint8_t rx_pop(Uart16550 *u)
{
    if (u->rx_count == 0)
        return 0;
    uint8_t byte = u->rx_fifo[u->rx_head];
    u->rx_break &= (uint16_t)~(1u << u->rx_head);
    u->rx_head = (u->rx_head + 1) % UART16550_FIFO_SIZE;
    u->rx_count--;
    return byte;
}

/* In loopback the modem inputs are wired to the modem outputs. */
static uint8_t modem_lines(const Uart16550 *u)
{
    if (!(u->mcr & MCR_LOOP))
        return MSR_IDLE_LINES;
    uint8_t lines = 0;
    if (u->mcr & MCR_RTS)
        lines |= MSR_CTS;
    if (u->mcr & MCR_DTR)
        lines |= MSR_DSR;
    if (u->mcr & MCR_OUT1)
        lines |= MSR_RI;
    if (u->mcr & MCR_OUT2)
        lines |= MSR_DCD;
    return lines;
}

/* Latch new modem line levels and the delta bits their changes set. */
static void update_msr(Uart16550 *u)
{
    uint8_t old = u->msr & ~MSR_DELTAS, now = modem_lines(u);
    uint8_t deltas = u->msr & MSR_DELTAS;
    if ((old ^ now) & MSR_CTS)
        deltas |= MSR_DCTS;
    if ((old ^ now) & MSR_DSR)
        deltas |= MSR_DDSR;
    if ((old & MSR_RI) && !(now & MSR_RI))
        deltas |= MSR_TERI;
    if ((old ^ now) & MSR_DCD)
        deltas |= MSR_DDCD;
    u->msr = now | deltas;
}

void uart16550_reset(Uart16550 *u)
{
    Machine *m = u->m;
    int irq = u->irq;
    memset(u, 0, sizeof *u);
    u->m = m;
    u->irq = irq;
    u->lcr = 0x03; /* 8N1 */
    u->msr = MSR_IDLE_LINES;
    u->dll = 0x0c; /* 9600 baud at 1.8432 MHz, a conventional reset value */
}

Uart16550 *uart16550_new(Machine *m, int irq)
{
    Uart16550 *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->m = m;
    u->irq = irq;
    uart16550_reset(u);
    return u;
}

void uart16550_free(Uart16550 *u) { free(u); }

bool uart16550_can_receive(const Uart16550 *u)
{
    /* In loopback the line is disconnected: the host keeps its bytes until
     * the driver's probe is over instead of seeing them dropped. */
    return !(u->mcr & MCR_LOOP) && u->rx_count < rx_capacity(u);
}

void uart16550_receive(Uart16550 *u, uint8_t byte)
{
    /* In loopback the serial input is disconnected from the line. */
    if (u->mcr & MCR_LOOP)
        return;
    rx_push(u, byte, false);
    update_irq(u);
}

void uart16550_break(Uart16550 *u)
{
    if (u->mcr & MCR_LOOP)
        return;
    rx_push(u, 0, true);
    update_irq(u);
}

bool uart16550_read(void *dev, uint64_t off, int size, uint64_t *val)
{
    Uart16550 *u = dev;
    uint8_t v = 0;
    switch (off) {
    case REG_RBR_THR_DLL:
        v = (u->lcr & LCR_DLAB) ? u->dll : rx_pop(u);
        break;
    case REG_IER_DLM:
        v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
        break;
    case REG_IIR_FCR: {
        uint8_t id = iir_id(u);
        /* Reading IIR acknowledges a THR-empty interrupt it reports. */
        if (id == IIR_THRI)
            u->thr_ipending = false;
        v = id | (fifo_enabled(u) ? IIR_FIFO_BITS : 0);
        break;
    }
    case REG_LCR:
        v = u->lcr;
        break;
    case REG_MCR:
        v = u->mcr;
        break;
    case REG_LSR:
        v = LSR_THRE | LSR_TEMT | u->lsr_errors | (u->rx_count ? LSR_DR : 0);
        if (u->rx_break && fifo_enabled(u))
            v |= LSR_FIFO_ERROR;
        if (top_is_break(u)) {
            v |= LSR_BI;
            u->rx_break &= (uint16_t)~(1u << u->rx_head); /* reported once; the zero byte stays */
        }
        u->lsr_errors = 0;
        break;
    case REG_MSR:
        v = u->msr;
        u->msr &= ~MSR_DELTAS;
        break;
    case REG_SCR:
        v = u->scr;
        break;
    default:
        break; /* the rest of the 256-byte window reads as zero */
    }
    *val = v;
    update_irq(u);
    return true;
}

static void transmit(Uart16550 *u, uint8_t byte)
{
    if (u->mcr & MCR_LOOP)
        rx_push(u, byte, false);
    else if (u->m->host.console_write)
        u->m->host.console_write(u->m->host.opaque, &byte, 1);
    /* The shift register drains at once: THR is empty again. */
    u->thr_ipending = true;
}

bool uart16550_write(void *dev, uint64_t off, int size, uint64_t val)
{
    Uart16550 *u = dev;
    uint8_t v = (uint8_t)val;
    switch (off) {
    case REG_RBR_THR_DLL:
        if (u->lcr & LCR_DLAB)
            u->dll = v;
        else
            transmit(u, v);
        break;
    case REG_IER_DLM:
        if (u->lcr & LCR_DLAB) {
            u->dlm = v;
        } else {
            uint8_t changed = (u->ier ^ v) & 0x0f;
            u->ier = v & 0x0f;
            /* Enabling ETBEI with THR empty raises THRI at once; Linux
             * probes for exactly this (UART_BUG_THRE test). */
            if (changed)
                u->thr_ipending = (u->ier & IER_THRI) != 0;
        }
        break;
    case REG_IIR_FCR:
        if ((v ^ u->fcr) & FCR_ENABLE) {
            rx_clear(u); /* toggling FIFO mode empties both FIFOs */
            u->thr_ipending = true;
        }
        if (v & FCR_CLEAR_RX)
            rx_clear(u);
        if (v & FCR_CLEAR_TX)
            u->thr_ipending = true;
        u->fcr = v & FCR_KEPT_BITS;
        break;
    case REG_LCR:
        u->lcr = v;
        break;
    case REG_MCR:
        u->mcr = v & 0x1f;
        update_msr(u);
        break;
    case REG_SCR:
        u->scr = v;
        break;
    default:
        break; /* LSR and MSR are read-only; the rest of the window ignores writes */
    }
    update_irq(u);
    return true;
}

void uart16550_save(const Uart16550 *u, SerWriter *w)
{
    ser_put_tag(w, "UART", u->rx_break ? 2 : 1);
    ser_put_u8(w, u->ier);
    ser_put_u8(w, u->lcr);
    ser_put_u8(w, u->mcr);
    ser_put_u8(w, u->msr);
    ser_put_u8(w, u->scr);
    ser_put_u8(w, u->dll);
    ser_put_u8(w, u->dlm);
    ser_put_u8(w, u->fcr);
    ser_put_u8(w, u->lsr_errors);
    ser_put_u8(w, u->rx_head);
    ser_put_u8(w, u->rx_count);
    ser_put_bytes(w, u->rx_fifo, sizeof u->rx_fifo);
    ser_put_u8(w, u->thr_ipending);
    if (u->rx_break)
        ser_put_u32(w, u->rx_break);
}

bool uart16550_load(Uart16550 *u, SerReader *r)
{
    uint32_t version = ser_get_tag(r, "UART");
    if (version != 1 && version != 2)
        ser_fail(r, "UART state has an unknown version");
    u->ier = ser_get_u8(r) & 0x0f;
    u->lcr = ser_get_u8(r);
    u->mcr = ser_get_u8(r) & 0x1f;
    u->msr = ser_get_u8(r);
    u->scr = ser_get_u8(r);
    u->dll = ser_get_u8(r);
    u->dlm = ser_get_u8(r);
    u->fcr = ser_get_u8(r) & FCR_KEPT_BITS;
    u->lsr_errors = ser_get_u8(r) & LSR_OE;
    u->rx_head = ser_get_u8(r);
    u->rx_count = ser_get_u8(r);
    ser_get_bytes(r, u->rx_fifo, sizeof u->rx_fifo);
    u->thr_ipending = ser_get_u8(r) != 0;
    u->rx_break = version == 2 ? (uint16_t)ser_get_u32(r) : 0;
    for (int i = 0; i < UART16550_FIFO_SIZE; i++) /* only occupied slots carry a break */
        if ((i - u->rx_head + UART16550_FIFO_SIZE) % UART16550_FIFO_SIZE >= u->rx_count)
            u->rx_break &= (uint16_t)~(1u << i);
    if (u->rx_head >= UART16550_FIFO_SIZE || u->rx_count > rx_capacity(u))
        ser_fail(r, "UART state has an invalid FIFO position");
    if (!ser_ok(r)) {
        uart16550_reset(u);
        return false;
    }
    return true;
}
