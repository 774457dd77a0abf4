/*
 * htif.h - Berkeley HTIF (Spike / riscv-tests host interface) over the
 * ELF's `tohost` and `fromhost` symbols.
 *
 * Each symbol becomes an 8-byte MMIO region inside RAM (the memory system
 * must look device regions up before RAM for these addresses). tohost is
 * acted on when its high word is written (or with one 64-bit write), as
 * riscv-tests write it as two 32-bit halves:
 *   dev 0 cmd 0, payload odd:  exit with code payload >> 1
 *   dev 0 cmd 0, payload even: syscall proxy, payload = address of
 *                              magic_mem[8]; only SYS_write (64) to fd 1/2
 *                              is served (others return -ENOSYS);
 *                              magic_mem[0] = result, fromhost = 1
 *   dev 1 cmd 1:               putchar(payload & 0xff), fromhost acks
 * and tohost then reads 0 again. Console input (dev 1 cmd 0) is not
 * provided: the request is consumed and never answered.
 */
#ifndef RRVM_HTIF_H
#define RRVM_HTIF_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/machine.h"

typedef struct Htif {
    Machine *m;
    uint64_t tohost_addr;
    uint64_t fromhost_addr; /* 0 when the ELF has no `fromhost` */
    uint64_t tohost, fromhost;
} Htif;

/* Create the device and register its region(s) with the machine. Returns
 * NULL with err set when the addresses are unusable (outside RAM,
 * misaligned, overlapping) or the MMIO table is full. */
Htif *htif_new(Machine *m, uint64_t tohost_addr, uint64_t fromhost_addr, char *err, size_t errlen);
void htif_free(Htif *h);
bool htif_tohost_read(void *dev, uint64_t off, int size, uint64_t *val);
bool htif_tohost_write(void *dev, uint64_t off, int size, uint64_t val);
bool htif_fromhost_read(void *dev, uint64_t off, int size, uint64_t *val);
bool htif_fromhost_write(void *dev, uint64_t off, int size, uint64_t val);
void htif_save(const Htif *h, SerWriter *w);
bool htif_load(Htif *h, SerReader *r);

#endif
