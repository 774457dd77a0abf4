/*
 * clint.h - SiFive CLINT / ACLINT (MSWI + MTIMER) at 0x2000000.
 *
 * Layout: msip[h] at +4*h (32-bit), mtimecmp[h] at +0x4000+8*h, mtime at
 * +0xbff8 (64-bit registers also accessible as two 32-bit halves).
 * mtime is machine_mtime(m), derived from virtual time, and is read-only
 * here: writes to it are ignored (the guest cannot move virtual time).
 */
#ifndef RRVM_CLINT_H
#define RRVM_CLINT_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/machine.h"

#define CLINT_BASE 0x2000000ull
#define CLINT_SIZE 0x10000ull

typedef struct Clint {
    Machine *m;
    int nharts;
    uint32_t msip[MACHINE_MAX_HARTS];     /* bit 0 only */
    uint64_t mtimecmp[MACHINE_MAX_HARTS]; /* reset: UINT64_MAX (never) */
} Clint;

Clint *clint_new(Machine *m, int nharts);
void clint_free(Clint *c);
void clint_reset(Clint *c);
bool clint_read(void *dev, uint64_t off, int size, uint64_t *val);
bool clint_write(void *dev, uint64_t off, int size, uint64_t val);
/* min mtimecmp over harts whose MTIP is not yet set; UINT64_MAX if none. */
uint64_t clint_next_deadline(const Clint *c);
/* Drive every hart's MTIP from machine_mtime(m) >= mtimecmp. */
void clint_update_mtip(Clint *c);
void clint_save(const Clint *c, SerWriter *w);
bool clint_load(Clint *c, SerReader *r);

#endif
