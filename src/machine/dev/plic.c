/*
 * plic.c - platform-level interrupt controller with level-triggered
 * gateways.
 *
 * Invariants:
 *  - A source is pending exactly when its line is high and it is not
 *    claimed (pending = level & ~claimed); source 0 is never pending, has
 *    priority 0 and cannot be enabled. So a line still high when its claim
 *    is completed becomes pending again, as a level-triggered gateway
 *    forwards a new request.
 *  - After every change (line, priority, enable, threshold, claim,
 *    complete) each context's output is re-evaluated and driven onto its
 *    hart's MEIP/SEIP, so MIP never lags the PLIC.
 *  - Accesses must be 32-bit and aligned (as QEMU), else access fault.
 */
#include "machine/dev/plic.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "machine/cpu/hart.h"

#define PRIORITY_MASK 7u /* 7 priority levels, like QEMU virt */
#define PENDING_BASE 0x1000
#define ENABLE_BASE 0x2000
#define ENABLE_STRIDE 0x80
#define CONTEXT_BASE 0x200000
#define CONTEXT_STRIDE 0x1000

static bool bit_get(const uint32_t *words, int i) { return (words[i / 32] >> (i % 32)) & 1; }

static void bit_set(uint32_t *words, int i, bool v)
{
    if (v)
        words[i / 32] |= 1u << (i % 32);
    else
        words[i / 32] &= ~(1u << (i % 32));
}

static int ncontexts(const Plic *p) { return 2 * p->nharts; }

uint32_t plic_pending_word(const Plic *p, int w)
{
    assert(w >= 0 && w < PLIC_WORDS);
    return p->level[w] & ~p->claimed[w] & (w == 0 ? ~1u : ~0u);
}

/* The best pending, enabled source above the threshold for `ctx`, or 0.
 * Highest priority wins; among equals the lowest id. */
static int best_irq(const Plic *p, int ctx)
{
    int best = 0;
    uint32_t best_prio = p->threshold[ctx];
    for (int w = 0; w < PLIC_WORDS; w++) {
        uint32_t cand = plic_pending_word(p, w) & p->enable[ctx][w];
        while (cand) {
            int irq = w * 32 + __builtin_ctz(cand);
            cand &= cand - 1;
            if (p->priority[irq] > best_prio) {
                best_prio = p->priority[irq];
                best = irq;
            }
        }
    }
    return best;
}

static void update_outputs(Plic *p)
{
    for (int ctx = 0; ctx < ncontexts(p); ctx++) {
        Hart *h = p->m->harts[ctx / 2];
        assert(h);
        hart_set_mip(h, (ctx & 1) ? MIP_SEIP : MIP_MEIP, best_irq(p, ctx) != 0);
    }
}

void plic_reset(Plic *p)
{
    memset(p->priority, 0, sizeof p->priority);
    memset(p->level, 0, sizeof p->level);
    memset(p->claimed, 0, sizeof p->claimed);
    memset(p->enable, 0, sizeof p->enable);
    memset(p->threshold, 0, sizeof p->threshold);
}

Plic *plic_new(Machine *m, int nharts)
{
    assert(nharts >= 1 && nharts <= MACHINE_MAX_HARTS);
    Plic *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->m = m;
    p->nharts = nharts;
    plic_reset(p);
    return p;
}

void plic_free(Plic *p) { free(p); }

void plic_set_irq(Plic *p, int irq, bool level)
{
    assert(irq > 0 && irq < PLIC_NUM_SOURCES);
    if (irq <= 0 || irq >= PLIC_NUM_SOURCES)
        return;
    bit_set(p->level, irq, level);
    update_outputs(p);
}

static uint32_t claim(Plic *p, int ctx)
{
    int irq = best_irq(p, ctx);
    if (irq) {
        bit_set(p->claimed, irq, true);
        update_outputs(p);
    }
    return (uint32_t)irq;
}

static void complete(Plic *p, int ctx, uint32_t irq)
{
    /* The spec ignores completions for sources not enabled for the context
     * (Linux enables a masked source around its completion for this). */
    if (irq == 0 || irq >= PLIC_NUM_SOURCES || !bit_get(p->enable[ctx], (int)irq))
        return;
    bit_set(p->claimed, (int)irq, false);
    update_outputs(p);
}

bool plic_read(void *dev, uint64_t off, int size, uint64_t *val)
{
    Plic *p = dev;
    if (size != 4 || (off & 3))
        return false;
    *val = 0;
    if (off < 4 * PLIC_NUM_SOURCES) {
        *val = p->priority[off / 4];
    } else if (off >= PENDING_BASE && off < PENDING_BASE + 4 * PLIC_WORDS) {
        *val = plic_pending_word(p, (int)(off - PENDING_BASE) / 4);
    } else if (off >= ENABLE_BASE && off < ENABLE_BASE + ENABLE_STRIDE * (uint64_t)ncontexts(p)) {
        uint64_t ctx = (off - ENABLE_BASE) / ENABLE_STRIDE, w = (off - ENABLE_BASE) % ENABLE_STRIDE / 4;
        if (w < PLIC_WORDS)
            *val = p->enable[ctx][w];
    } else if (off >= CONTEXT_BASE && off < CONTEXT_BASE + CONTEXT_STRIDE * (uint64_t)ncontexts(p)) {
        int ctx = (int)((off - CONTEXT_BASE) / CONTEXT_STRIDE);
        uint64_t reg = (off - CONTEXT_BASE) % CONTEXT_STRIDE;
        if (reg == 0)
            *val = p->threshold[ctx];
        else if (reg == 4)
            *val = claim(p, ctx);
    }
    return true;
}

bool plic_write(void *dev, uint64_t off, int size, uint64_t val)
{
    Plic *p = dev;
    if (size != 4 || (off & 3))
        return false;
    uint32_t v = (uint32_t)val;
    if (off < 4 * PLIC_NUM_SOURCES) {
        if (off != 0)
            p->priority[off / 4] = v & PRIORITY_MASK;
    } else if (off >= ENABLE_BASE && off < ENABLE_BASE + ENABLE_STRIDE * (uint64_t)ncontexts(p)) {
        uint64_t ctx = (off - ENABLE_BASE) / ENABLE_STRIDE, w = (off - ENABLE_BASE) % ENABLE_STRIDE / 4;
        if (w < PLIC_WORDS)
            p->enable[ctx][w] = v & (w == 0 ? ~1u : ~0u);
    } else if (off >= CONTEXT_BASE && off < CONTEXT_BASE + CONTEXT_STRIDE * (uint64_t)ncontexts(p)) {
        int ctx = (int)((off - CONTEXT_BASE) / CONTEXT_STRIDE);
        uint64_t reg = (off - CONTEXT_BASE) % CONTEXT_STRIDE;
        if (reg == 0)
            p->threshold[ctx] = v & PRIORITY_MASK;
        else if (reg == 4)
            complete(p, ctx, v);
    }
    /* pending bits are read-only; other offsets ignore writes */
    update_outputs(p);
    return true;
}

void plic_save(const Plic *p, SerWriter *w)
{
    ser_put_tag(w, "PLIC", 1);
    ser_put_u32(w, (uint32_t)p->nharts);
    for (int i = 0; i < PLIC_NUM_SOURCES; i++)
        ser_put_u32(w, p->priority[i]);
    for (int i = 0; i < PLIC_WORDS; i++) {
        ser_put_u32(w, p->level[i]);
        ser_put_u32(w, p->claimed[i]);
    }
    for (int ctx = 0; ctx < ncontexts(p); ctx++) {
        for (int i = 0; i < PLIC_WORDS; i++)
            ser_put_u32(w, p->enable[ctx][i]);
        ser_put_u32(w, p->threshold[ctx]);
    }
}

bool plic_load(Plic *p, SerReader *r)
{
    if (ser_get_tag(r, "PLIC") != 1)
        ser_fail(r, "PLIC state has an unknown version");
    if (ser_get_u32(r) != (uint32_t)p->nharts)
        ser_fail(r, "PLIC state is for a different number of harts");
    for (int i = 0; i < PLIC_NUM_SOURCES; i++)
        p->priority[i] = ser_get_u32(r) & PRIORITY_MASK;
    p->priority[0] = 0;
    for (int i = 0; i < PLIC_WORDS; i++) {
        p->level[i] = ser_get_u32(r);
        p->claimed[i] = ser_get_u32(r);
    }
    for (int ctx = 0; ctx < ncontexts(p); ctx++) {
        for (int i = 0; i < PLIC_WORDS; i++)
            p->enable[ctx][i] = ser_get_u32(r) & (i == 0 ? ~1u : ~0u);
        p->threshold[ctx] = ser_get_u32(r) & PRIORITY_MASK;
    }
    if (!ser_ok(r)) {
        plic_reset(p);
        return false;
    }
    return true;
}
