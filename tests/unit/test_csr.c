/*
 * test_csr.c - unit tests for csr.c, trap.c and hart.c: CSR privilege and
 * read-only rules, WARL masks, counters, trap delegation, interrupt priority
 * and enable rules, mret/sret, and state save/load.
 *
 * Builds a hand-made one-hart machine; functions of other modules get weak
 * stand-ins that lose to the real ones when those are linked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "machine/cpu/hart.h"

__attribute__((weak)) const MmioRegion *machine_find_mmio(const Machine *m, uint64_t paddr)
{
    for (int i = 0; i < m->nmmio; i++)
        if (paddr - m->mmio[i].base < m->mmio[i].size)
            return &m->mmio[i];
    return NULL;
}
__attribute__((weak)) void bcache_invalidate_page(Machine *m, uint64_t ppage)
{
    m->code_pages[(ppage - RAM_BASE) >> PAGE_SHIFT] = 0;
}
__attribute__((weak)) void machine_mark_dirty(Machine *m, uint64_t paddr, uint64_t n)
{
    (void)m, (void)paddr, (void)n;
}
__attribute__((weak)) struct BlockCache *bcache_new(void) { return NULL; }
__attribute__((weak)) void bcache_free(struct BlockCache *bc) { (void)bc; }

enum {
    FFLAGS = 0x001, FRM = 0x002, FCSR = 0x003, CYCLE = 0xc00, TIME = 0xc01, INSTRET = 0xc02,
    HPMCOUNTER3 = 0xc03, SSTATUS = 0x100, SIE = 0x104, STVEC = 0x105, SCOUNTEREN = 0x106,
    SEPC = 0x141, SIP = 0x144, SATP = 0x180, MHARTID = 0xf14, MSTATUS = 0x300, MISA = 0x301,
    MEDELEG = 0x302, MIDELEG = 0x303, MIE = 0x304, MTVEC = 0x305, MCOUNTEREN = 0x306,
    MEPC = 0x341, MIP = 0x344, PMPCFG0 = 0x3a0, PMPCFG1 = 0x3a1, PMPCFG2 = 0x3a2,
    PMPADDR0 = 0x3b0, MCYCLE = 0xb00, MINSTRET = 0xb02, MHPMCOUNTER3 = 0xb03, TSELECT = 0x7a0,
};

#define RAM_SIZE (1ull << 20)
#define IRQ_BIT (1ull << 63)

static int setup(void **state)
{
    Machine *m = calloc(1, sizeof *m);
    m->ram_size = m->cfg.ram_size = RAM_SIZE;
    m->ram = calloc(RAM_SIZE, 1);
    m->code_pages = calloc(RAM_SIZE >> PAGE_SHIFT, 1);
    m->dirty_pages = calloc(RAM_SIZE >> PAGE_SHIFT, 1);
    m->bcache = bcache_new();
    m->nharts = m->cfg.nharts = 1;
    m->harts[0] = hart_new(m, 3);
    *state = m->harts[0];
    return 0;
}

static int teardown(void **state)
{
    Hart *h = *state;
    Machine *m = h->m;
    hart_free(h);
    if (m->bcache)
        bcache_free(m->bcache);
    free(m->ram);
    free(m->code_pages);
    free(m->dirty_pages);
    free(m);
    return 0;
}

static uint64_t rd(Hart *h, int csr)
{
    uint64_t v = 0xbad;
    assert_true(hart_csr_read(h, csr, &v));
    return v;
}

static void wr(Hart *h, int csr, uint64_t v) { assert_true(hart_csr_write(h, csr, v)); }

/* --- CSR access rules --- */

static void test_reset_state(void **state)
{
    Hart *h = *state;
    assert_int_equal(h->priv, PRV_M);
    assert_int_equal(h->pc, RAM_BASE);
    assert_int_equal(rd(h, MHARTID), 3);
    assert_int_equal(rd(h, MISA), 0x800000000014112dull);
    assert_int_equal(rd(h, MSTATUS), (2ull << 32) | (2ull << 34));
    assert_false(hart_exc_pending(h));
    hart_reset(h, 0x1000);
    assert_int_equal(h->pc, 0x1000);
}

static void test_privilege_and_readonly(void **state)
{
    Hart *h = *state;
    uint64_t v;
    assert_false(hart_csr_write(h, MHARTID, 1)); /* read-only even in M */
    assert_false(hart_csr_write(h, CYCLE, 1));
    assert_false(hart_csr_read(h, 0x7b0, &v)); /* dcsr: debug mode only */
    assert_false(hart_csr_read(h, 0x5c0, &v)); /* unknown */
    h->priv = PRV_S;
    assert_false(hart_csr_read(h, MSTATUS, &v));
    assert_false(hart_csr_write(h, 0x340, 0)); /* mscratch */
    assert_true(hart_csr_read(h, SSTATUS, &v));
    h->priv = PRV_U;
    assert_false(hart_csr_read(h, SSTATUS, &v));
    assert_false(hart_csr_read(h, MSTATUS, &v));
    h->priv = PRV_M;
    assert_true(hart_csr_read(h, TSELECT, &v));
    assert_int_equal(v, 0);
}

static void test_mstatus_warl(void **state)
{
    Hart *h = *state;
    wr(h, MSTATUS, ~0ull);
    uint64_t v = rd(h, MSTATUS);
    /* UXL/SXL fixed at 2; no UBE/SBE/MBE, XS=0; SD because FS=3 */
    assert_int_equal((v >> 32) & 0xf, 0xa);
    assert_int_equal(v & MSTATUS_UBE, 0);
    assert_int_equal(v & (0x3full << 36), 0);
    assert_int_equal(v & MSTATUS_XS, 0);
    assert_true(v & MSTATUS_SD);
    assert_int_equal((v & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, 3);
    /* MPP = 2 is reserved: the old value stays */
    wr(h, MSTATUS, (v & ~MSTATUS_MPP) | (2ull << MSTATUS_MPP_SHIFT));
    assert_int_equal((rd(h, MSTATUS) & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, 3);
    wr(h, MSTATUS, v & ~(MSTATUS_MPP | MSTATUS_FS));
    v = rd(h, MSTATUS);
    assert_int_equal(v & (MSTATUS_MPP | MSTATUS_SD), 0);

    /* sstatus is a restricted view */
    wr(h, MSTATUS, MSTATUS_MIE | MSTATUS_SIE | MSTATUS_TVM | MSTATUS_FS);
    uint64_t s = rd(h, SSTATUS);
    assert_int_equal(s, MSTATUS_SIE | MSTATUS_FS | MSTATUS_SD | (2ull << 32));
    wr(h, SSTATUS, MSTATUS_SUM | MSTATUS_MIE | MSTATUS_MPRV);
    v = rd(h, MSTATUS);
    assert_true(v & MSTATUS_SUM);
    assert_true(v & MSTATUS_MIE);   /* untouched by sstatus writes */
    assert_true(v & MSTATUS_TVM);
    assert_false(v & MSTATUS_MPRV);
    assert_false(v & MSTATUS_SIE);
}

static void test_misa_deleg_masks(void **state)
{
    Hart *h = *state;
    wr(h, MISA, 0);
    assert_int_equal(rd(h, MISA), 0x800000000014112dull);
    wr(h, MEDELEG, ~0ull);
    assert_int_equal(rd(h, MEDELEG), 0xb3ff);
    wr(h, MIDELEG, ~0ull);
    assert_int_equal(rd(h, MIDELEG), MIP_SSIP | MIP_STIP | MIP_SEIP);
    wr(h, MIE, ~0ull);
    assert_int_equal(rd(h, MIE), 0xaaa);
    /* only the S bits of mip are software-writable */
    wr(h, MIP, ~0ull);
    assert_int_equal(rd(h, MIP), MIP_SSIP | MIP_STIP | MIP_SEIP);
    hart_set_mip(h, MIP_MTIP | MIP_MEIP, true);
    wr(h, MIP, 0);
    assert_int_equal(rd(h, MIP), MIP_MTIP | MIP_MEIP);
    hart_set_mip(h, MIP_MEIP, false);
    assert_int_equal(rd(h, MIP), MIP_MTIP);
}

static void test_sie_sip_views(void **state)
{
    Hart *h = *state;
    wr(h, MIE, MIP_MTIP | MIP_STIP);
    hart_set_mip(h, MIP_MTIP, true);
    wr(h, MIP, MIP_STIP | MIP_SSIP);
    /* nothing delegated: the S views are empty */
    assert_int_equal(rd(h, SIE), 0);
    assert_int_equal(rd(h, SIP), 0);
    wr(h, MIDELEG, MIP_STIP | MIP_SSIP);
    assert_int_equal(rd(h, SIE), MIP_STIP);
    assert_int_equal(rd(h, SIP), MIP_STIP | MIP_SSIP);
    h->priv = PRV_S;
    wr(h, SIP, 0); /* only SSIP writable through sip */
    wr(h, SIE, MIP_SSIP | MIP_MTIP | MIP_SEIP);
    h->priv = PRV_M;
    assert_int_equal(rd(h, MIP), MIP_MTIP | MIP_STIP);
    assert_int_equal(rd(h, MIE), MIP_MTIP | MIP_SSIP);
}

static void test_tvec_epc_satp(void **state)
{
    Hart *h = *state;
    wr(h, MTVEC, 0x80001001);
    assert_int_equal(rd(h, MTVEC), 0x80001001);
    wr(h, MTVEC, 0x80001002);
    assert_int_equal(rd(h, MTVEC), 0x80001000);
    wr(h, STVEC, 0x80002003);
    assert_int_equal(rd(h, STVEC), 0x80002000);
    wr(h, MEPC, 0x80000003);
    assert_int_equal(rd(h, MEPC), 0x80000002);
    wr(h, SEPC, 0x11);
    assert_int_equal(rd(h, SEPC), 0x10);

    wr(h, SATP, (8ull << 60) | (0xabcdull << 44) | 0x80123);
    assert_int_equal(rd(h, SATP), (8ull << 60) | (0xabcdull << 44) | 0x80123);
    wr(h, SATP, (10ull << 60) | 0x1); /* Sv57 unsupported: no change */
    assert_int_equal(rd(h, SATP) >> 60, 8);
    wr(h, SATP, (9ull << 60) | 0x5);
    assert_int_equal(rd(h, SATP), (9ull << 60) | 0x5);
    /* TVM traps satp in S but not in M */
    wr(h, MSTATUS, MSTATUS_TVM);
    uint64_t v;
    h->priv = PRV_S;
    assert_false(hart_csr_read(h, SATP, &v));
    assert_false(hart_csr_write(h, SATP, 0));
    h->priv = PRV_M;
    wr(h, SATP, 0);
    wr(h, MSTATUS, 0);
    h->priv = PRV_S;
    wr(h, SATP, 0);
}

static void test_fp_csrs(void **state)
{
    Hart *h = *state;
    uint64_t v;
    assert_false(hart_csr_read(h, FFLAGS, &v)); /* FS = Off after reset */
    assert_false(hart_csr_write(h, FCSR, 0));
    wr(h, MSTATUS, 1ull << MSTATUS_FS_SHIFT); /* Initial */
    wr(h, FCSR, 0xff);
    assert_int_equal(rd(h, FFLAGS), 0x1f);
    assert_int_equal(rd(h, FRM), 7);
    assert_int_equal(rd(h, FCSR), 0xff);
    assert_int_equal(h->mstatus & MSTATUS_FS, MSTATUS_FS_DIRTY);
    assert_true(rd(h, MSTATUS) & MSTATUS_SD);
    wr(h, FRM, 0x2a);
    assert_int_equal(rd(h, FCSR), (2 << 5) | 0x1f);
}

static void test_counters(void **state)
{
    Hart *h = *state;
    uint64_t v;
    h->instret = 100;
    assert_int_equal(rd(h, MCYCLE), 100);
    assert_int_equal(rd(h, INSTRET), 100);
    wr(h, MCYCLE, 1000);
    h->instret += 5;
    assert_int_equal(rd(h, MCYCLE), 1005);
    h->suppress_instret = false;
    wr(h, MINSTRET, 7);
    assert_true(h->suppress_instret);
    assert_int_equal(rd(h, MINSTRET), 7);
    assert_int_equal(rd(h, MCYCLE), 1005); /* mcycle unaffected */
    assert_int_equal(rd(h, MHPMCOUNTER3), 0);
    wr(h, MHPMCOUNTER3, 5);
    assert_int_equal(rd(h, MHPMCOUNTER3), 0);

    /* S needs mcounteren; U needs mcounteren and scounteren */
    h->m->icount = 1000; /* time = 1000 << 0 ns / 100 */
    h->priv = PRV_S;
    assert_false(hart_csr_read(h, CYCLE, &v));
    assert_false(hart_csr_read(h, TIME, &v));
    h->priv = PRV_M;
    wr(h, MCOUNTEREN, 0x7 | (1u << 3));
    h->priv = PRV_S;
    assert_true(hart_csr_read(h, TIME, &v));
    assert_int_equal(v, 10);
    assert_true(hart_csr_read(h, HPMCOUNTER3, &v));
    h->priv = PRV_U;
    assert_false(hart_csr_read(h, INSTRET, &v));
    h->priv = PRV_S;
    wr(h, SCOUNTEREN, 0x4);
    h->priv = PRV_U;
    assert_true(hart_csr_read(h, INSTRET, &v));
    assert_false(hart_csr_read(h, CYCLE, &v));
}

static void test_pmp_csrs(void **state)
{
    Hart *h = *state;
    uint64_t v;
    assert_false(hart_csr_read(h, PMPCFG1, &v));
    assert_false(hart_csr_write(h, PMPCFG1, 0));
    assert_true(hart_csr_read(h, 0x3a4, &v)); /* entries 16.. exist, zero */
    assert_int_equal(v, 0);
    wr(h, 0x3c0, 5);
    assert_int_equal(rd(h, 0x3c0), 0);
    /* reserved bits and R=0/W=1 are cleared */
    wr(h, PMPCFG0, 0x62 | (0x1full << 8));
    assert_int_equal(rd(h, PMPCFG0), 0x1full << 8);
    wr(h, PMPADDR0, ~0ull);
    assert_int_equal(rd(h, PMPADDR0), (1ull << 54) - 1);
    /* lock entry 9 as TOR: pmpcfg2 byte 1; pmpaddr8 and pmpaddr9 freeze */
    wr(h, PMPADDR0 + 8, 0x100);
    wr(h, PMPADDR0 + 9, 0x200);
    wr(h, PMPCFG2, 0x89ull << 8);
    wr(h, PMPADDR0 + 8, 0x300);
    wr(h, PMPADDR0 + 9, 0x300);
    assert_int_equal(rd(h, PMPADDR0 + 8), 0x100);
    assert_int_equal(rd(h, PMPADDR0 + 9), 0x200);
    wr(h, PMPCFG2, 0);
    assert_int_equal(rd(h, PMPCFG2), 0x89ull << 8); /* locked byte stays */
    wr(h, PMPADDR0 + 7, 0x55);                       /* not locked */
    assert_int_equal(rd(h, PMPADDR0 + 7), 0x55);
}

/* --- traps --- */

static void test_trap_to_m_and_mret(void **state)
{
    Hart *h = *state;
    wr(h, MTVEC, 0x80000100);
    wr(h, MSTATUS, MSTATUS_MIE);
    h->priv = PRV_S;
    h->pc = 0x80004000;
    hart_trap(h, EXC_ILLEGAL_INSN, 0x1234);
    assert_int_equal(h->priv, PRV_M);
    assert_int_equal(h->pc, 0x80000100);
    assert_int_equal(rd(h, MEPC), 0x80004000);
    assert_int_equal(rd(h, 0x342), EXC_ILLEGAL_INSN);
    assert_int_equal(rd(h, 0x343), 0x1234);
    uint64_t ms = rd(h, MSTATUS);
    assert_false(ms & MSTATUS_MIE);
    assert_true(ms & MSTATUS_MPIE);
    assert_int_equal((ms & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, PRV_S);

    wr(h, MSTATUS, ms | MSTATUS_MPRV);
    wr(h, MEPC, 0x80004004);
    hart_mret(h);
    assert_int_equal(h->priv, PRV_S);
    assert_int_equal(h->pc, 0x80004004);
    ms = h->mstatus;
    assert_true(ms & MSTATUS_MIE);
    assert_true(ms & MSTATUS_MPIE);
    assert_int_equal(ms & MSTATUS_MPP, 0);
    assert_false(ms & MSTATUS_MPRV);
    /* mret to M keeps MPRV */
    h->priv = PRV_M;
    wr(h, MSTATUS, MSTATUS_MPRV | (3ull << MSTATUS_MPP_SHIFT));
    hart_mret(h);
    assert_int_equal(h->priv, PRV_M);
    assert_true(h->mstatus & MSTATUS_MPRV);
}

static void test_delegation_and_sret(void **state)
{
    Hart *h = *state;
    wr(h, MTVEC, 0x80000100);
    wr(h, STVEC, 0x80000200);
    wr(h, MEDELEG, (1ull << EXC_ECALL_U) | (1ull << EXC_LOAD_PAGE_FAULT));
    wr(h, MSTATUS, MSTATUS_SIE);
    h->priv = PRV_U;
    h->pc = 0x1000;
    hart_trap(h, EXC_ECALL_U, 0);
    assert_int_equal(h->priv, PRV_S);
    assert_int_equal(h->pc, 0x80000200);
    assert_int_equal(h->sepc, 0x1000);
    assert_int_equal(h->scause, EXC_ECALL_U);
    assert_false(h->mstatus & MSTATUS_SIE);
    assert_true(h->mstatus & MSTATUS_SPIE);
    assert_false(h->mstatus & MSTATUS_SPP);
    /* a delegated fault in S stays in S, SPP = S */
    h->pc = 0x80001000;
    hart_trap(h, EXC_LOAD_PAGE_FAULT, 0xdead);
    assert_int_equal(h->priv, PRV_S);
    assert_int_equal(h->stval, 0xdead);
    assert_true(h->mstatus & MSTATUS_SPP);
    assert_false(h->mstatus & MSTATUS_SPIE); /* SIE was 0 */
    /* not delegated: to M */
    hart_trap(h, EXC_ILLEGAL_INSN, 0);
    assert_int_equal(h->priv, PRV_M);
    assert_int_equal(h->pc, 0x80000100);
    /* from M, a delegated cause still goes to M */
    hart_trap(h, EXC_LOAD_PAGE_FAULT, 0);
    assert_int_equal(h->priv, PRV_M);
    assert_int_equal(rd(h, 0x342), EXC_LOAD_PAGE_FAULT);

    /* sret: back to SPP with SIE = SPIE */
    h->priv = PRV_S;
    h->sepc = 0x2000;
    h->mstatus = (h->mstatus & ~(MSTATUS_SPP | MSTATUS_SIE)) | MSTATUS_SPIE | MSTATUS_MPRV;
    hart_sret(h);
    assert_int_equal(h->priv, PRV_U);
    assert_int_equal(h->pc, 0x2000);
    assert_true(h->mstatus & MSTATUS_SIE);
    assert_true(h->mstatus & MSTATUS_SPIE);
    assert_false(h->mstatus & MSTATUS_MPRV);
}

static void test_interrupt_priority_and_enable(void **state)
{
    Hart *h = *state;
    wr(h, MTVEC, 0x80000101); /* vectored */
    wr(h, STVEC, 0x80000200); /* direct */
    wr(h, MIE, 0xaaa);
    /* M-mode with MIE=0: nothing taken, but WFI is woken */
    hart_set_mip(h, MIP_MTIP | MIP_MSIP, true);
    h->wfi = true;
    assert_false(hart_check_interrupts(h));
    assert_false(h->wfi);
    /* enabled: MSI beats MTI; vectored entry */
    wr(h, MSTATUS, MSTATUS_MIE);
    h->pc = 0x80003000;
    assert_true(hart_check_interrupts(h));
    assert_int_equal(rd(h, 0x342), IRQ_BIT | IRQ_MSI);
    assert_int_equal(h->pc, 0x80000101 - 1 + 4 * IRQ_MSI);
    assert_int_equal(rd(h, MEPC), 0x80003000);
    /* now MIE is 0 in M: no nesting */
    assert_false(hart_check_interrupts(h));
    hart_set_mip(h, MIP_MSIP | MIP_MTIP, false);

    /* delegated STI: not taken in M even with MIE */
    wr(h, MIDELEG, MIP_STIP | MIP_SEIP);
    wr(h, MSTATUS, MSTATUS_MIE | MSTATUS_SIE);
    wr(h, MIP, MIP_STIP);
    assert_false(hart_check_interrupts(h));
    /* in S with SIE=0: not taken; in U: taken regardless of SIE */
    h->priv = PRV_S;
    h->mstatus &= ~MSTATUS_SIE;
    assert_false(hart_check_interrupts(h));
    h->priv = PRV_U;
    assert_true(hart_check_interrupts(h));
    assert_int_equal(h->priv, PRV_S);
    assert_int_equal(h->scause, IRQ_BIT | IRQ_STI);
    assert_int_equal(h->pc, 0x80000200);

    /* SEI beats STI; an M interrupt beats both even if lower in the list */
    h->priv = PRV_U;
    hart_set_mip(h, MIP_SEIP, true);
    assert_true(hart_check_interrupts(h));
    assert_int_equal(h->scause, IRQ_BIT | IRQ_SEI);
    h->priv = PRV_S;
    h->mstatus &= ~MSTATUS_MIE; /* M interrupts are enabled below M anyway */
    hart_set_mip(h, MIP_MTIP, true);
    assert_true(hart_check_interrupts(h));
    assert_int_equal(h->priv, PRV_M);
    assert_int_equal(rd(h, 0x342), IRQ_BIT | IRQ_MTI);

    /* full priority order among M interrupts: MEI > MSI > MTI > SEI > SSI > STI */
    wr(h, MIDELEG, 0);
    wr(h, MIP, MIP_SSIP | MIP_STIP | MIP_SEIP);
    hart_set_mip(h, MIP_MTIP | MIP_MSIP | MIP_MEIP, true);
    static const int order[] = {IRQ_MEI, IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI};
    for (int i = 0; i < 6; i++) {
        h->priv = PRV_U;
        assert_true(hart_check_interrupts(h));
        assert_int_equal(rd(h, 0x342), IRQ_BIT | order[i]);
        uint64_t bit = 1ull << order[i];
        if (bit & (MIP_MTIP | MIP_MSIP | MIP_MEIP))
            hart_set_mip(h, bit, false);
        else
            wr(h, MIP, rd(h, MIP) & ~bit);
    }
    h->priv = PRV_U;
    assert_false(hart_check_interrupts(h));
}

/* --- save/load --- */

static void test_save_load(void **state)
{
    Hart *h = *state;
    wr(h, MSTATUS, MSTATUS_FS | MSTATUS_SUM | (1ull << MSTATUS_MPP_SHIFT));
    wr(h, SATP, (8ull << 60) | 0x80100);
    wr(h, PMPCFG0, 0x1f);
    wr(h, MCYCLE, 77);
    h->x[5] = 55;
    h->f[3] = 0xffffffff3f800000ull;
    h->priv = PRV_S;
    h->resv_valid = true;
    h->resv_addr = 0x80000040;
    h->wfi = true;
    h->instret = 9;

    SerWriter w;
    ser_writer_init(&w);
    hart_save(h, &w);
    assert_false(w.oom);

    Hart *h2 = hart_new(h->m, 3);
    SerReader r;
    ser_reader_init(&r, w.buf, w.len);
    assert_true(hart_load(h2, &r));
    assert_true(ser_ok(&r));
    assert_int_equal(r.pos, w.len);
    assert_int_equal(h2->x[5], 55);
    assert_int_equal(h2->f[3], 0xffffffff3f800000ull);
    assert_int_equal(h2->priv, PRV_S);
    assert_int_equal(h2->satp, h->satp);
    assert_int_equal(h2->pmpcfg[0], 0x1f);
    assert_true(h2->resv_valid && h2->wfi);
    assert_int_equal(h2->tlb_ctx[ACC_READ], TLB_CTX_S_SUM);
    h2->priv = PRV_M;
    assert_int_equal(rd(h2, MCYCLE), 86); /* written 77 at instret 0, now 9 */

    SerWriter w2;
    ser_writer_init(&w2);
    h2->priv = PRV_S;
    hart_save(h2, &w2);
    assert_int_equal(w2.len, w.len);
    assert_memory_equal(w2.buf, w.buf, w.len);
    ser_writer_free(&w2);

    /* corrupt: priv = 2 (offset: tag 8 + 64 regs * 8) */
    uint8_t *bad = malloc(w.len);
    memcpy(bad, w.buf, w.len);
    bad[8 + 64 * 8] = 2;
    Hart *h3 = hart_new(h->m, 3);
    uint64_t pc_before = h3->pc;
    ser_reader_init(&r, bad, w.len);
    assert_false(hart_load(h3, &r));
    assert_non_null(r.err);
    assert_int_equal(h3->pc, pc_before); /* unchanged */
    /* truncated */
    ser_reader_init(&r, w.buf, w.len - 1);
    assert_false(hart_load(h3, &r));
    /* wrong hart id */
    Hart *h4 = hart_new(h->m, 4);
    ser_reader_init(&r, w.buf, w.len);
    assert_false(hart_load(h4, &r));
    /* an mstatus with MPP = 2 (pc is at 8 + 64*8 + 3, mstatus next) */
    memcpy(bad, w.buf, w.len);
    size_t ms_off = 8 + 64 * 8 + 3 + 8;
    bad[ms_off + 1] |= 0x18; /* MPP bits 12:11 = 3 -> set */
    bad[ms_off + 1] &= (uint8_t)~0x08; /* MPP = 2 */
    ser_reader_init(&r, bad, w.len);
    assert_false(hart_load(h3, &r));

    free(bad);
    hart_free(h2);
    hart_free(h3);
    hart_free(h4);
    ser_writer_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_privilege_and_readonly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mstatus_warl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misa_deleg_masks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sie_sip_views, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tvec_epc_satp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fp_csrs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pmp_csrs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trap_to_m_and_mret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delegation_and_sret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_priority_and_enable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
