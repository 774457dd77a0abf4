/*
 * uart16550.h - NS16550A UART (the console of both boards).
 *
 * Transmission is instantaneous: a THR write hands the byte to
 * m->host.console_write() and the transmitter is empty again at once.
 * Received bytes are pushed in by the replay layer at an exact icount with
 * uart16550_receive(), which it may only call while uart16550_can_receive().
 */
#ifndef RRVM_UART16550_H
#define RRVM_UART16550_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/machine.h"

#define UART16550_FIFO_SIZE 16
#define UART16550_BASE 0x10000000ull
#define UART16550_MMIO_SIZE 0x100
#define UART16550_IRQ 10

typedef struct Uart16550 {
    Machine *m;
    int irq;
    /* registers (IIR and LSR are computed from the rest) */
    uint8_t ier, lcr, mcr, msr, scr, dll, dlm;
    uint8_t fcr;        /* FIFO enable, DMA mode and RX trigger bits only */
    uint8_t lsr_errors; /* sticky LSR error bits (OE), cleared by LSR read */
    /* RX FIFO: a ring of rx_count bytes starting at rx_head */
    uint8_t rx_fifo[UART16550_FIFO_SIZE];
    uint8_t rx_head, rx_count;
    /* bit i: the byte in FIFO slot i arrived with a break condition (the
     * zero byte a break puts in the FIFO); LSR.BI reports it at the top */
    uint16_t rx_break;
    /* THR-empty interrupt pending: set when THR empties or ETBEI is
     * enabled, cleared by a THR write or an IIR read reporting it */
    bool thr_ipending;
} Uart16550;

Uart16550 *uart16550_new(Machine *m, int irq);
void uart16550_free(Uart16550 *u);
void uart16550_reset(Uart16550 *u);
bool uart16550_read(void *dev, uint64_t off, int size, uint64_t *val);
bool uart16550_write(void *dev, uint64_t off, int size, uint64_t val);
/* True while the RX FIFO (1 byte deep with FIFOs disabled) has room and
 * the UART is not in loopback. */
bool uart16550_can_receive(const Uart16550 *u);
/* A byte arrives on the serial line; sets overrun and drops it if full. */
void uart16550_receive(Uart16550 *u, uint8_t byte);
/* A break condition on the line (Ctrl-A b, a SysRq for Linux): a zero byte
 * enters the FIFO flagged BI, with a receiver-line-status interrupt, as on
 * a real 16550. Same precondition as uart16550_receive(). */
void uart16550_break(Uart16550 *u);
void uart16550_save(const Uart16550 *u, SerWriter *w);
bool uart16550_load(Uart16550 *u, SerReader *r);

#endif
