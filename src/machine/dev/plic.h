/*
 * plic.h - SiFive PLIC at 0xc000000, laid out as on QEMU's virt board.
 *
 * Sources 1..95 (0 means "none"), 3-bit priorities, two contexts per hart:
 * context 2*h interrupts hart h in M-mode (MEIP), 2*h+1 in S-mode (SEIP).
 *   +0x000000 + 4*irq          priority
 *   +0x001000                  pending bits (read-only)
 *   +0x002000 + 0x80*ctx       enable bits
 *   +0x200000 + 0x1000*ctx     threshold (+0), claim/complete (+4)
 */
#ifndef RRVM_PLIC_H
#define RRVM_PLIC_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/machine.h"

#define PLIC_BASE 0xc000000ull
#define PLIC_SIZE 0x600000ull
#define PLIC_NUM_SOURCES 96 /* including the reserved source 0 */
#define PLIC_NDEV (PLIC_NUM_SOURCES - 1)
#define PLIC_WORDS ((PLIC_NUM_SOURCES + 31) / 32)
#define PLIC_MAX_CONTEXTS (2 * MACHINE_MAX_HARTS)

typedef struct Plic {
    Machine *m;
    int nharts;
    uint32_t priority[PLIC_NUM_SOURCES];
    uint32_t level[PLIC_WORDS];   /* input line levels */
    uint32_t claimed[PLIC_WORDS]; /* claimed, awaiting completion */
    uint32_t enable[PLIC_MAX_CONTEXTS][PLIC_WORDS];
    uint32_t threshold[PLIC_MAX_CONTEXTS];
} Plic;

Plic *plic_new(Machine *m, int nharts);
void plic_free(Plic *p);
void plic_reset(Plic *p);
bool plic_read(void *dev, uint64_t off, int size, uint64_t *val);
bool plic_write(void *dev, uint64_t off, int size, uint64_t val);
/* Level-triggered input; irq outside 1..95 is ignored (asserts in debug). */
void plic_set_irq(Plic *p, int irq, bool level);
/* Bit i of pending word w (the value the pending registers read). */
uint32_t plic_pending_word(const Plic *p, int w);
void plic_save(const Plic *p, SerWriter *w);
bool plic_load(Plic *p, SerReader *r);

#endif
