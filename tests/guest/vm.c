/*
 * vm.c - Sv39 and Sv48 address translation, built by the test in M-mode and
 * exercised from S and U: 4K/2M/1G leaves, load/store/fetch page faults
 * with the right mcause/mtval (and scause/stval when delegated), U pages
 * from S with and without SUM, S pages from U, S never executing U pages,
 * MXR, hardware setting of A and D, sfence.vma after a PTE change,
 * misaligned superpages, non-canonical addresses, and an Sv48-only mapping.
 *
 * Layout (Sv39): VA 0x80000000 (1G, RWX, supervisor) is the identity map of
 * the image, so S code and the trap handlers run unchanged; VA 0x180000000
 * (1G, RWX, user) aliases the same memory for U code (lower_alias_offset);
 * VA 0x00000000 (1G, R, supervisor) is another alias; the 1G slot at
 * 0x40000000 points to a level-1 table holding 4K test pages at 0x40000000+
 * and a 2M page at 0x40200000; 0xc0000000 is a misaligned 1G leaf.
 * Page tables and test pages come from the free memory after __image_end.
 */
#include "libtest.h"

#define PTE_V 0x01ul
#define PTE_R 0x02ul
#define PTE_W 0x04ul
#define PTE_X 0x08ul
#define PTE_U 0x10ul
#define PTE_G 0x20ul
#define PTE_A 0x40ul
#define PTE_D 0x80ul

#define ALIAS 0x100000000ul
#define TESTVA 0x40000000ul
#define SENTINEL 0x5e471e11ul

static PagePool pool;


static u64 *root39, *l1_test, *l0_test, *root48;
static u64 page_rw, page_ro, page_user, page_xonly, page_ad, page_other;

/* code used as a fetch target */
__asm__(".text\n.balign 4096\n.globl code_page\ncode_page:\n    li a0, 42\n    ret\n.balign 4096\n");
extern char code_page[];

/* call va() with a0 = SENTINEL; a fetch fault returns here with a0 intact */
__asm__(".text\n.globl call_va\ncall_va:\n    addi sp, sp, -16\n    sd ra, 8(sp)\n    mv t0, a0\n"
        "    li a0, " "0x5e471e11" "\n    jalr t0\n    ld ra, 8(sp)\n    addi sp, sp, 16\n    ret\n");
u64 call_va(u64 va);

static u64 load64(u64 va)
{
    u64 v = SENTINEL;
    __asm__ volatile("ld %0, 0(%1)" : "+r"(v) : "r"(va) : "memory");
    return v;
}

static u64 store64(u64 va)
{
    __asm__ volatile("sd %0, 0(%1)" :: "r"(0xabcdef0011223344ul), "r"(va) : "memory");
    return 0;
}

static u64 lw_then_sfence_remap(u64 arg)
{
    /* arg: VA of the PTE to change (identity mapped); remaps TESTVA+0x5000 */
    volatile u64 *ptep = (volatile u64 *)arg;
    u64 first = load64(TESTVA + 0x5000);
    *ptep = pte(page_other, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    __asm__ volatile("sfence.vma %0, zero" :: "r"(TESTVA + 0x5000) : "memory");
    u64 second = load64(TESTVA + 0x5000);
    return (first & 0xffff) << 16 | (second & 0xffff);
}

static void setup_tables(void)
{
    pool.next = ((u64)__image_end + 0xfff) & ~0xffful;
    root39 = (u64 *)page_pool_alloc(&pool);
    l1_test = (u64 *)page_pool_alloc(&pool);
    l0_test = (u64 *)page_pool_alloc(&pool);
    page_rw = page_pool_alloc(&pool);
    page_ro = page_pool_alloc(&pool);
    page_user = page_pool_alloc(&pool);
    page_xonly = page_pool_alloc(&pool);
    page_ad = page_pool_alloc(&pool);
    page_other = page_pool_alloc(&pool);

    root39[2] = pte(0x80000000, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
    root39[6] = pte(0x80000000, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D);
    root39[0] = pte(0x80000000, PTE_V | PTE_R | PTE_A);
    root39[1] = pte((u64)l1_test, PTE_V);
    root39[3] = pte(0x80000000 + 0x1000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D); /* misaligned 1G */
    l1_test[0] = pte((u64)l0_test, PTE_V);
    l1_test[1] = pte(0x80600000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);   /* 2M at 0x40200000 */
    l1_test[2] = pte(0x80601000, PTE_V | PTE_R | PTE_A);                   /* misaligned 2M */
    l0_test[0] = pte(page_rw, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    l0_test[1] = pte(page_ro, PTE_V | PTE_R | PTE_A);
    l0_test[2] = pte(page_user, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D);
    l0_test[3] = pte(page_xonly, PTE_V | PTE_X | PTE_A);
    l0_test[4] = pte(page_ad, PTE_V | PTE_R | PTE_W);                      /* A = D = 0 */
    l0_test[5] = pte(page_rw, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);      /* remapped later */
    l0_test[6] = pte((u64)code_page, PTE_V | PTE_R | PTE_A);               /* code, no X */
    l0_test[7] = pte((u64)code_page, PTE_V | PTE_X | PTE_A);               /* code, X */
    l0_test[8] = pte((u64)code_page, PTE_V | PTE_X | PTE_U | PTE_A);       /* user code */
    l0_test[9] = pte(page_rw, PTE_V | PTE_W | PTE_A | PTE_D);              /* W without R: reserved */
    /* l0_test[10..] invalid */

    ((volatile u64 *)page_rw)[0] = 0x1111111111111111ul;
    ((volatile u64 *)page_ro)[0] = 0x2222222222222222ul;
    ((volatile u64 *)page_user)[0] = 0x3333333333333333ul;
    ((volatile u64 *)page_xonly)[0] = 0x4444444444444444ul;
    ((volatile u64 *)page_ad)[0] = 0x5555555555555555ul;
    ((volatile u64 *)page_other)[0] = 0x6666666666666666ul;
    ((volatile u64 *)0x80600000ul)[1] = 0x7777777777777777ul;
    ((volatile u64 *)0x807ff000ul)[0] = 0x8888888888888888ul;
}

static u64 run_s(u64 (*fn)(u64), u64 arg) { return lower_call(PRV_S, (u64)fn, arg, 0); }

static char ustack[4096] __attribute__((aligned(16)));
static u64 run_u(u64 (*fn)(u64), u64 arg)
{
    return lower_call(PRV_U, (u64)fn + ALIAS, arg, (u64)ustack + sizeof ustack + ALIAS);
}

#define EXPECT_FAULT(what, expr, cause_, tval_) \
    do { \
        unsigned n0_ = m_last.count; \
        u64 r_ = (expr); \
        CHECK(what ": faulted", m_last.count - n0_, 1); \
        CHECK(what ": mcause", m_last.cause, cause_); \
        CHECK(what ": mtval", m_last.tval, tval_); \
        (void)r_; \
    } while (0)
#define EXPECT_OK(what, expr, val) \
    do { \
        unsigned n0_ = m_last.count; \
        u64 r_ = (expr); \
        CHECK(what ": no fault", m_last.count - n0_, 0); \
        CHECK(what ": value", r_, val); \
    } while (0)

static void check_sv39(void)
{
    lower_alias_offset = ALIAS;
    csr_write(satp, (8ul << 60) | ((u64)root39 >> 12));
    CHECK("satp Sv39 readback", csr_read(satp) >> 60, 8);
    __asm__ volatile("sfence.vma" ::: "memory");
    trap_records_reset();

    EXPECT_OK("S load 4K", run_s(load64, TESTVA), 0x1111111111111111ul);
    EXPECT_OK("S store 4K", run_s(store64, TESTVA + 8), 0);
    CHECK("  store reached memory", ((volatile u64 *)page_rw)[1], 0xabcdef0011223344ul);
    EXPECT_OK("S load 4K read-only", run_s(load64, TESTVA + 0x1000), 0x2222222222222222ul);
    EXPECT_FAULT("S store to read-only", run_s(store64, TESTVA + 0x1010), 15, TESTVA + 0x1010);
    EXPECT_FAULT("S load unmapped", run_s(load64, TESTVA + 0xa008), 13, TESTVA + 0xa008);
    EXPECT_FAULT("S store unmapped", run_s(store64, TESTVA + 0xa000), 15, TESTVA + 0xa000);
    EXPECT_FAULT("S load W-only PTE (reserved)", run_s(load64, TESTVA + 0x9000), 13, TESTVA + 0x9000);
    EXPECT_OK("S load 2M page", run_s(load64, TESTVA + 0x200008), 0x7777777777777777ul);
    EXPECT_OK("S load 2M page end", run_s(load64, TESTVA + 0x3ff000), 0x8888888888888888ul);
    EXPECT_FAULT("S load misaligned 2M", run_s(load64, TESTVA + 0x400000), 13, TESTVA + 0x400000);
    EXPECT_OK("S load 1G alias at 0", run_s(load64, (u64)page_ro - 0x80000000ul), 0x2222222222222222ul);
    EXPECT_FAULT("S store to read-only 1G", run_s(store64, (u64)page_rw - 0x80000000ul), 15, (u64)page_rw - 0x80000000ul);
    EXPECT_FAULT("S load misaligned 1G", run_s(load64, 0xc0000000ul), 13, 0xc0000000ul);
    EXPECT_FAULT("S load non-canonical", run_s(load64, 0x0000008000000000ul), 13, 0x0000008000000000ul);

    /* fetch */
    EXPECT_OK("S fetch from X page", run_s(call_va, TESTVA + 0x7000), 42);
    EXPECT_FAULT("S fetch from non-X page", run_s(call_va, TESTVA + 0x6000), 12, TESTVA + 0x6000);
    EXPECT_FAULT("S fetch unmapped", run_s(call_va, TESTVA + 0xb000), 12, TESTVA + 0xb000);
    EXPECT_FAULT("S fetch U page", run_s(call_va, TESTVA + 0x8000), 12, TESTVA + 0x8000);
    csr_set(mstatus, MSTATUS_SUM);
    EXPECT_FAULT("S fetch U page with SUM", run_s(call_va, TESTVA + 0x8000), 12, TESTVA + 0x8000);
    csr_clear(mstatus, MSTATUS_SUM);
    EXPECT_OK("U fetch U page", run_u(call_va, TESTVA + 0x8000), 42);
    EXPECT_FAULT("U fetch S page", run_u(call_va, TESTVA + 0x7000), 12, TESTVA + 0x7000);

    /* SUM */
    EXPECT_FAULT("S load U page, SUM=0", run_s(load64, TESTVA + 0x2000), 13, TESTVA + 0x2000);
    EXPECT_FAULT("S store U page, SUM=0", run_s(store64, TESTVA + 0x2008), 15, TESTVA + 0x2008);
    csr_set(mstatus, MSTATUS_SUM);
    EXPECT_OK("S load U page, SUM=1", run_s(load64, TESTVA + 0x2000), 0x3333333333333333ul);
    EXPECT_OK("S store U page, SUM=1", run_s(store64, TESTVA + 0x2008), 0);
    csr_clear(mstatus, MSTATUS_SUM);
    EXPECT_OK("U load U page", run_u(load64, TESTVA + 0x2000), 0x3333333333333333ul);
    EXPECT_FAULT("U load S page", run_u(load64, TESTVA), 13, TESTVA);
    EXPECT_FAULT("U store S page", run_u(store64, TESTVA), 15, TESTVA);

    /* MXR */
    EXPECT_FAULT("S load X-only, MXR=0", run_s(load64, TESTVA + 0x3000), 13, TESTVA + 0x3000);
    csr_set(mstatus, MSTATUS_MXR);
    EXPECT_OK("S load X-only, MXR=1", run_s(load64, TESTVA + 0x3000), 0x4444444444444444ul);
    EXPECT_FAULT("S store X-only, MXR=1", run_s(store64, TESTVA + 0x3000), 15, TESTVA + 0x3000);
    csr_clear(mstatus, MSTATUS_MXR);

    /* A and D set by hardware */
    CHECK("A/D clear initially", l0_test[4] & (PTE_A | PTE_D), 0);
    EXPECT_OK("S load A/D page", run_s(load64, TESTVA + 0x4000), 0x5555555555555555ul);
    CHECK("load set A", l0_test[4] & PTE_A, PTE_A);
    CHECK("load left D clear", l0_test[4] & PTE_D, 0);
    EXPECT_OK("S store A/D page", run_s(store64, TESTVA + 0x4008), 0);
    CHECK("store set D", l0_test[4] & (PTE_A | PTE_D), PTE_A | PTE_D);
    CHECK("PTE otherwise unchanged", l0_test[4] & ~(PTE_A | PTE_D), pte(page_ad, PTE_V | PTE_R | PTE_W));

    /* sfence.vma after changing a PTE */
    EXPECT_OK("sfence.vma sees the new PTE", run_s(lw_then_sfence_remap, (u64)&l0_test[5]), 0x11116666ul);

    /* page faults delegated to S */
    csr_write(stvec, (u64)s_trap_entry);
    csr_write(sscratch, (u64)__bss_end + 3 * 16384);
    csr_write(medeleg, (1ul << 13) | (1ul << 15) | (1ul << 12));
    unsigned s0 = s_last.count, m0 = m_last.count;
    run_s(load64, TESTVA + 0xc000);
    CHECK("delegated load fault: taken in S", s_last.count - s0, 1);
    CHECK("  scause", s_last.cause, 13);
    CHECK("  stval", s_last.tval, TESTVA + 0xc000);
    run_u(store64, TESTVA + 0x1000);
    CHECK("delegated store fault from U: scause", s_last.cause, 15);
    CHECK("  stval", s_last.tval, TESTVA + 0x1000);
    CHECK("  SPP = U", s_last.status >> 8 & 1, 0);
    CHECK("  M not involved", m_last.count - m0, 0);
    csr_write(medeleg, 0);

    /* MPRV: M-mode loads translated with MPP = S */
    csr_clear(mstatus, MSTATUS_MPP);
    csr_set(mstatus, (u64)PRV_S << 11 | MSTATUS_MPRV);
    u64 v = *(volatile u64 *)(TESTVA + 0x1000);
    csr_clear(mstatus, MSTATUS_MPRV);
    CHECK("MPRV load through S translation", v, 0x2222222222222222ul);
}

static void check_sv48(void)
{
    root48 = (u64 *)page_pool_alloc(&pool);
    u64 *l2 = (u64 *)page_pool_alloc(&pool);
    root48[0] = pte((u64)root39, PTE_V);     /* the Sv39 root serves as level 2 */
    root48[1] = pte((u64)l2, PTE_V);         /* VA 0x8000000000.. */
    l2[0] = pte(0x80000000, PTE_V | PTE_R | PTE_A);
    l2[1] = pte(0x80000000 + 0x200000, PTE_V | PTE_R | PTE_A); /* misaligned 1G */
    csr_write(satp, (9ul << 60) | ((u64)root48 >> 12));
    if (csr_read(satp) >> 60 != 9) {
        check_true("Sv48 supported (satp mode 9 sticks)", 0);
        csr_write(satp, 0);
        return;
    }
    __asm__ volatile("sfence.vma" ::: "memory");
    EXPECT_OK("Sv48 load via shared lower tables", run_s(load64, TESTVA), 0x1111111111111111ul);
    EXPECT_OK("Sv48 load 2M page", run_s(load64, TESTVA + 0x200008), 0x7777777777777777ul);
    EXPECT_OK("Sv48-only 1G mapping", run_s(load64, 0x8000000000ul + ((u64)page_ro - 0x80000000ul)), 0x2222222222222222ul);
    EXPECT_FAULT("Sv48 misaligned 1G", run_s(load64, 0x8040000000ul), 13, 0x8040000000ul);
    EXPECT_FAULT("Sv48 unmapped 512G slot", run_s(load64, 0x10000000000ul), 13, 0x10000000000ul);
    EXPECT_FAULT("Sv48 non-canonical", run_s(load64, 0x0000800000000000ul), 13, 0x0000800000000000ul);
    EXPECT_OK("Sv48 U fetch via alias", run_u(call_va, TESTVA + 0x8000), 42);
    csr_write(satp, 0);
    __asm__ volatile("sfence.vma" ::: "memory");
}

int main(void)
{
    test_begin("vm");
    CHECK("satp starts Bare", csr_read(satp), 0);
    setup_tables();
    check_sv39();
    check_sv48();
    CHECK("bare again", csr_read(satp), 0);
    return test_end();
}
