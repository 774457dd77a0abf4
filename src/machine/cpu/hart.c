/*
 * hart.c - hart lifecycle (create, reset, free) and state save/load.
 *
 * Invariants kept:
 *  - After hart_reset() and hart_load() the software TLB is empty (one
 *    address space, keyed by satp) and the TLB context selector matches
 *    priv/mstatus. TLB contents are never saved.
 *  - hart_load() either loads a complete, WARL-legal architectural state or
 *    leaves the hart unchanged and reports why through the SerReader.
 *  - The exec engine's private fields are never touched here.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "machine/cpu/hart.h"

#define HART_STATE_VERSION 1

Hart *hart_new(Machine *m, uint64_t hartid)
{
    Hart *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->tlb_space = calloc(TLB_NSPACES, sizeof *h->tlb_space);
    if (!h->tlb_space) {
        free(h);
        return NULL;
    }
    h->m = m;
    h->mhartid = hartid;
    hart_reset(h, RAM_BASE);
    return h;
}

void hart_free(Hart *h)
{
    if (h)
        free(h->tlb_space);
    free(h);
}

void hart_reset(Hart *h, uint64_t pc)
{
    memset(h->x, 0, sizeof h->x);
    memset(h->f, 0, sizeof h->f);
    h->pc = pc;
    h->priv = PRV_M;
    h->fflags = 0;
    h->frm = 0;

    h->mstatus = MSTATUS_XLEN64; /* FS = Off: firmware enables the FPU */
    h->misa = HART_MISA;
    h->medeleg = h->mideleg = 0;
    h->mie = h->mip = 0;
    h->mtvec = h->mscratch = h->mepc = h->mcause = h->mtval = 0;
    h->mcounteren = h->mcountinhibit = h->menvcfg = 0;
    memset(h->pmpcfg, 0, sizeof h->pmpcfg);
    memset(h->pmpaddr, 0, sizeof h->pmpaddr);
    h->stvec = h->sscratch = h->sepc = h->scause = h->stval = 0;
    h->satp = h->scounteren = h->senvcfg = 0;

    h->instret = 0;
    h->mcycle_offset = 0;
    h->resv_addr = 0;
    h->resv_valid = false;
    h->wfi = false;
    h->suppress_instret = false;
    h->exc_cause = UINT64_MAX;
    h->exc_tval = 0;

    mmu_tlb_flush(h);
    mmu_update_ctx(h);
}

/* The field list shared by save and load, in stream order. */
#define HART_U64_FIELDS(X)                                                                     \
    X(pc) X(mstatus) X(misa) X(medeleg) X(mideleg) X(mie) X(mip) X(mtvec) X(mscratch) X(mepc) \
    X(mcause) X(mtval) X(mcounteren) X(mcountinhibit) X(menvcfg) X(stvec) X(sscratch) X(sepc)  \
    X(scause) X(stval) X(satp) X(scounteren) X(senvcfg) X(instret) X(mcycle_offset)          \
    X(mhartid) X(resv_addr)

void hart_save(const Hart *h, SerWriter *w)
{
    ser_put_tag(w, "HART", HART_STATE_VERSION);
    for (int i = 0; i < 32; i++)
        ser_put_u64(w, h->x[i]);
    for (int i = 0; i < 32; i++)
        ser_put_u64(w, h->f[i]);
    ser_put_u8(w, (uint8_t)h->priv);
    ser_put_u8(w, (uint8_t)h->fflags);
    ser_put_u8(w, (uint8_t)h->frm);
#define PUT(f) ser_put_u64(w, h->f);
    HART_U64_FIELDS(PUT)
#undef PUT
    for (int i = 0; i < NUM_PMP / 8; i++)
        ser_put_u64(w, h->pmpcfg[i]);
    for (int i = 0; i < NUM_PMP; i++)
        ser_put_u64(w, h->pmpaddr[i]);
    ser_put_u8(w, h->resv_valid);
    ser_put_u8(w, h->wfi);
}

bool hart_load(Hart *h, SerReader *r)
{
    if (ser_get_tag(r, "HART") != HART_STATE_VERSION) {
        ser_fail(r, "hart: unsupported state version");
        return false;
    }
    /* Load into a scratch copy so a bad stream leaves the hart unchanged. */
    Hart *t = malloc(sizeof *t);
    if (!t) {
        ser_fail(r, "hart: out of memory");
        return false;
    }
    memcpy(t, h, sizeof *t);
    for (int i = 0; i < 32; i++)
        t->x[i] = ser_get_u64(r);
    for (int i = 0; i < 32; i++)
        t->f[i] = ser_get_u64(r);
    t->priv = ser_get_u8(r);
    t->fflags = ser_get_u8(r);
    t->frm = ser_get_u8(r);
#define GET(f) t->f = ser_get_u64(r);
    HART_U64_FIELDS(GET)
#undef GET
    for (int i = 0; i < NUM_PMP / 8; i++)
        t->pmpcfg[i] = ser_get_u64(r);
    for (int i = 0; i < NUM_PMP; i++)
        t->pmpaddr[i] = ser_get_u64(r);
    uint8_t resv_valid = ser_get_u8(r);
    uint8_t wfi = ser_get_u8(r);

    const char *why = NULL;
    if (!ser_ok(r))
        why = r->err;
    else if (t->x[0] != 0)
        why = "hart: x0 is not zero";
    else if (t->mhartid != h->mhartid)
        why = "hart: hart id does not match this hart";
    else if (resv_valid > 1 || wfi > 1)
        why = "hart: bad boolean";
    else
        hart_csr_state_valid(t, &why);
    if (why) {
        free(t);
        ser_fail(r, why);
        return false;
    }
    t->resv_valid = resv_valid;
    t->wfi = wfi;
    t->suppress_instret = false;
    t->exc_cause = UINT64_MAX;
    t->exc_tval = 0;
    memcpy(h, t, sizeof *h);
    free(t);
    mmu_tlb_flush(h);
    mmu_update_ctx(h);
    return true;
}
