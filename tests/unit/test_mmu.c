/*
 * test_mmu.c - unit tests for mmu.c: Sv39/Sv48 walks, permission rules,
 * A/D updates, PMP, the software TLB (context sets, address spaces,
 * sfence.vma) and the load/store/fetch slow paths.
 *
 * The machine is assembled by hand (RAM, page bitmaps, one hart) so the
 * tests depend only on the hart code. Functions other modules provide are
 * given weak stand-ins here; when the real ones are linked they win.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "machine/cpu/hart.h"

/* --- weak stand-ins for machine.c / exec.c --- */

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
    if (!machine_is_ram(m, paddr, n) || n == 0)
        return;
    for (uint64_t p = (paddr - RAM_BASE) >> PAGE_SHIFT; p <= (paddr + n - 1 - RAM_BASE) >> PAGE_SHIFT; p++) {
        m->dirty_pages[p] = 1;
        if (m->code_pages[p])
            bcache_invalidate_page(m, RAM_BASE + (p << PAGE_SHIFT));
    }
}

__attribute__((weak)) struct BlockCache *bcache_new(void) { return NULL; }
__attribute__((weak)) void bcache_free(struct BlockCache *bc) { (void)bc; }

/* --- fixture --- */

#define RAM_SIZE (4ull << 20)
#define PT_BASE (RAM_BASE + 0x100000) /* page tables are bump-allocated here */

#define PTE_V 0x01ull
#define PTE_R 0x02ull
#define PTE_W 0x04ull
#define PTE_X 0x08ull
#define PTE_U 0x10ull
#define PTE_A 0x40ull
#define PTE_D 0x80ull

typedef struct Fix {
    Machine *m;
    Hart *h;
    uint64_t next_table; /* physical address of the next free page-table page */
    uint64_t root;
    int levels;
    /* test MMIO device: an 8-byte register file */
    uint64_t dev_regs[2];
    int dev_reads, dev_writes;
} Fix;

static uint64_t rd64(Fix *f, uint64_t pa)
{
    uint64_t v;
    memcpy(&v, f->m->ram + (pa - RAM_BASE), 8);
    return v;
}

static void wr64(Fix *f, uint64_t pa, uint64_t v) { memcpy(f->m->ram + (pa - RAM_BASE), &v, 8); }

static uint64_t alloc_table(Fix *f)
{
    uint64_t t = f->next_table;
    f->next_table += PAGE_SIZE;
    assert_true(f->next_table <= RAM_BASE + RAM_SIZE);
    memset(f->m->ram + (t - RAM_BASE), 0, PAGE_SIZE);
    return t;
}

static void set_satp(Fix *f, int levels)
{
    f->levels = levels;
    f->root = alloc_table(f);
    uint64_t mode = levels == 3 ? 8 : 9;
    f->h->priv = PRV_M;
    assert_true(hart_csr_write(f->h, 0x180, (mode << 60) | (f->root >> 12)));
}

/* Map va -> pa with a leaf at `leaf_level` (0 = 4K, 1 = 2M, 2 = 1G). */
static uint64_t map(Fix *f, uint64_t va, uint64_t pa, int leaf_level, uint64_t flags)
{
    uint64_t table = f->root;
    for (int level = f->levels - 1; level > leaf_level; level--) {
        uint64_t pte_addr = table + ((va >> (12 + 9 * level)) & 511) * 8;
        uint64_t pte = rd64(f, pte_addr);
        if (!(pte & PTE_V)) {
            uint64_t t = alloc_table(f);
            pte = ((t >> 12) << 10) | PTE_V;
            wr64(f, pte_addr, pte);
        }
        table = ((pte >> 10) & ((1ull << 44) - 1)) << 12;
    }
    uint64_t pte_addr = table + ((va >> (12 + 9 * leaf_level)) & 511) * 8;
    wr64(f, pte_addr, ((pa >> 12) << 10) | flags | PTE_V);
    return pte_addr;
}

static bool dev_read(void *dev, uint64_t off, int size, uint64_t *val)
{
    Fix *f = dev;
    if (off + size > 16)
        return false;
    f->dev_reads++;
    uint64_t v = 0;
    memcpy(&v, (uint8_t *)f->dev_regs + off, size);
    *val = v;
    return true;
}

static bool dev_write(void *dev, uint64_t off, int size, uint64_t val)
{
    Fix *f = dev;
    if (off >= 8)
        return false; /* second register is read-only: the device refuses */
    f->dev_writes++;
    memcpy((uint8_t *)f->dev_regs + off, &val, size);
    return true;
}

#define DEV_IN_RAM (RAM_BASE + 0x3000) /* like HTIF: a device inside RAM */
#define DEV_OUTSIDE 0x10000000ull

static int setup(void **state)
{
    Fix *f = calloc(1, sizeof *f);
    Machine *m = calloc(1, sizeof *m);
    m->ram_size = m->cfg.ram_size = RAM_SIZE;
    m->ram = calloc(RAM_SIZE, 1);
    m->code_pages = calloc(RAM_SIZE >> PAGE_SHIFT, 1);
    m->dirty_pages = calloc(RAM_SIZE >> PAGE_SHIFT, 1);
    m->pt_pages = calloc(RAM_SIZE >> PAGE_SHIFT, 1);
    m->bcache = bcache_new();
    m->nharts = m->cfg.nharts = 1;
    m->harts[0] = hart_new(m, 0);
    m->mmio[0] = (MmioRegion){DEV_IN_RAM, 16, f, dev_read, dev_write, "in-ram"};
    m->mmio[1] = (MmioRegion){DEV_OUTSIDE, 16, f, dev_read, dev_write, "outside"};
    m->nmmio = 2;
    f->m = m;
    f->h = m->harts[0];
    f->next_table = PT_BASE;
    /* PMP: allow S/U everything (entry 0 NAPOT over the whole space) */
    assert_true(hart_csr_write(f->h, 0x3b0, ~0ull));
    assert_true(hart_csr_write(f->h, 0x3a0, 0x1f));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    hart_free(m->harts[0]);
    if (m->bcache)
        bcache_free(m->bcache);
    free(m->ram);
    free(m->code_pages);
    free(m->dirty_pages);
    free(m->pt_pages);
    free(m);
    free(f);
    return 0;
}

static void enter(Fix *f, int priv, uint64_t mstatus_set)
{
    Hart *h = f->h;
    h->priv = PRV_M;
    uint64_t ms;
    assert_true(hart_csr_read(h, 0x300, &ms));
    ms &= ~(MSTATUS_MPP | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR);
    assert_true(hart_csr_write(h, 0x300, ms | mstatus_set));
    h->priv = priv;
    mmu_update_ctx(h);
}

static void expect_fault(Hart *h, bool ok, uint64_t cause, uint64_t tval)
{
    assert_false(ok);
    assert_int_equal(h->exc_cause, cause);
    assert_int_equal(h->exc_tval, tval);
    h->exc_cause = UINT64_MAX;
}

/* --- walks --- */

static void check_walk(Fix *f, int levels, int leaf_level, uint64_t va)
{
    set_satp(f, levels);
    uint64_t size = 1ull << (12 + 9 * leaf_level);
    uint64_t pa_base = leaf_level == 0 ? RAM_BASE + 0x5000 : RAM_BASE & ~(size - 1);
    map(f, va, pa_base, leaf_level, PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
    enter(f, PRV_S, 0);
    uint64_t off = leaf_level == 0 ? 0x123 : 0x1234 + (size >> 2) * 3; /* clear of PT_BASE */
    if (leaf_level == 2)
        off = RAM_BASE - pa_base + 0x2468; /* land inside RAM in the 1G page */
    uint64_t pa = 0;
    assert_true(mmu_translate(f->h, va + off, ACC_READ, &pa));
    assert_int_equal(pa, pa_base + off);
    assert_true(mmu_translate(f->h, va + off, ACC_EXEC, &pa));
    assert_true(mmu_translate(f->h, va + off, ACC_WRITE, &pa));
    /* a load through the slow path sees RAM contents */
    wr64(f, pa_base + (off & ~7ull), 0x1122334455667788ull);
    uint64_t v;
    bool mmio;
    assert_true(mmu_load_slow(f->h, va + (off & ~7ull), 8, &v, &mmio));
    assert_false(mmio);
    assert_int_equal(v, 0x1122334455667788ull);
}

static void test_sv39_4k(void **state) { check_walk(*state, 3, 0, 0x40201000ull); }
static void test_sv39_2m(void **state) { check_walk(*state, 3, 1, 0x40200000ull); }
static void test_sv39_1g(void **state) { check_walk(*state, 3, 2, 0xffffffffc0000000ull); }
static void test_sv48_4k(void **state) { check_walk(*state, 4, 0, 0x7f0000401000ull); }
static void test_sv48_2m(void **state) { check_walk(*state, 4, 1, 0xffff800000200000ull); }
static void test_sv48_1g(void **state) { check_walk(*state, 4, 2, 0x0000008040000000ull); }

static void test_bare_and_m_mode_identity(void **state)
{
    Fix *f = *state;
    uint64_t pa;
    enter(f, PRV_S, 0);
    assert_true(mmu_translate(f->h, 0x80001234, ACC_READ, &pa));
    assert_int_equal(pa, 0x80001234);
    set_satp(f, 3);
    enter(f, PRV_M, 0);
    assert_true(mmu_translate(f->h, 0x80001234, ACC_EXEC, &pa));
    assert_int_equal(pa, 0x80001234);
}

static void test_noncanonical(void **state)
{
    Fix *f = *state;
    uint64_t pa;
    set_satp(f, 3);
    enter(f, PRV_S, 0);
    expect_fault(f->h, mmu_translate(f->h, 0x0000004000000000ull, ACC_READ, &pa),
                 EXC_LOAD_PAGE_FAULT, 0x0000004000000000ull);
    expect_fault(f->h, mmu_translate(f->h, 0xff00000000000000ull, ACC_EXEC, &pa),
                 EXC_INSN_PAGE_FAULT, 0xff00000000000000ull);
    /* canonical for Sv48 but not Sv39 */
    set_satp(f, 4);
    enter(f, PRV_S, 0);
    expect_fault(f->h, mmu_translate(f->h, 0x0000004000000000ull, ACC_WRITE, &pa),
                 EXC_STORE_PAGE_FAULT, 0x0000004000000000ull); /* canonical, unmapped */
    expect_fault(f->h, mmu_translate(f->h, 0x0001000000000000ull, ACC_WRITE, &pa),
                 EXC_STORE_PAGE_FAULT, 0x0001000000000000ull);
}

static void test_invalid_ptes(void **state)
{
    Fix *f = *state;
    uint64_t pa;
    set_satp(f, 3);
    uint64_t va = 0x10000000;
    uint64_t pte_addr = map(f, va, RAM_BASE + 0x6000, 0, PTE_R | PTE_W | PTE_A | PTE_D);
    enter(f, PRV_S, 0);
    assert_true(mmu_translate(f->h, va, ACC_READ, &pa));
    wr64(f, pte_addr, rd64(f, pte_addr) & ~PTE_V);
    expect_fault(f->h, mmu_translate(f->h, va, ACC_READ, &pa), EXC_LOAD_PAGE_FAULT, va);
    wr64(f, pte_addr, (rd64(f, pte_addr) | PTE_V) & ~PTE_R); /* W without R */
    expect_fault(f->h, mmu_translate(f->h, va, ACC_READ, &pa), EXC_LOAD_PAGE_FAULT, va);
    wr64(f, pte_addr, rd64(f, pte_addr) | PTE_R | (1ull << 61)); /* PBMT not supported */
    expect_fault(f->h, mmu_translate(f->h, va, ACC_READ, &pa), EXC_LOAD_PAGE_FAULT, va);
    wr64(f, pte_addr, (rd64(f, pte_addr) & ~(1ull << 61)) | (1ull << 63)); /* N not supported */
    expect_fault(f->h, mmu_translate(f->h, va, ACC_READ, &pa), EXC_LOAD_PAGE_FAULT, va);
    /* a non-leaf pointer at level 0 */
    wr64(f, pte_addr, ((RAM_BASE + 0x6000) >> 12) << 10 | PTE_V);
    expect_fault(f->h, mmu_translate(f->h, va, ACC_EXEC, &pa), EXC_INSN_PAGE_FAULT, va);
}

static void test_misaligned_superpage(void **state)
{
    Fix *f = *state;
    uint64_t pa;
    set_satp(f, 3);
    map(f, 0x40000000, RAM_BASE + 0x1000, 1, PTE_R | PTE_A); /* 2M leaf, ppn not 2M-aligned */
    map(f, 0x80000000, RAM_BASE + 0x200000, 2, PTE_R | PTE_A); /* 1G leaf, ppn not 1G-aligned */
    enter(f, PRV_S, 0);
    expect_fault(f->h, mmu_translate(f->h, 0x40000010, ACC_READ, &pa), EXC_LOAD_PAGE_FAULT, 0x40000010);
    expect_fault(f->h, mmu_translate(f->h, 0x80000010, ACC_READ, &pa), EXC_LOAD_PAGE_FAULT, 0x80000010);
}

static void test_pte_outside_ram(void **state)
{
    Fix *f = *state;
    uint64_t pa;
    enter(f, PRV_M, 0);
    assert_true(hart_csr_write(f->h, 0x180, (8ull << 60) | (0x1000000ull >> 12))); /* root below RAM */
    enter(f, PRV_S, 0);
    expect_fault(f->h, mmu_translate(f->h, 0x1000, ACC_READ, &pa), EXC_LOAD_ACCESS, 0x1000);
    expect_fault(f->h, mmu_translate(f->h, 0x1000, ACC_WRITE, &pa), EXC_STORE_ACCESS, 0x1000);
    expect_fault(f->h, mmu_translate(f->h, 0x1000, ACC_EXEC, &pa), EXC_INSN_ACCESS, 0x1000);
}

/* --- permissions --- */

static void test_user_supervisor_sum(void **state)
{
    Fix *f = *state;
    uint64_t pa;
    set_satp(f, 3);
    uint64_t upage = 0x10000, spage = 0x20000;
    map(f, upage, RAM_BASE + 0x6000, 0, PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D);
    map(f, spage, RAM_BASE + 0x7000, 0, PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);

    enter(f, PRV_U, 0);
    assert_true(mmu_translate(f->h, upage, ACC_READ, &pa));
    assert_true(mmu_translate(f->h, upage, ACC_EXEC, &pa));
    expect_fault(f->h, mmu_translate(f->h, spage, ACC_READ, &pa), EXC_LOAD_PAGE_FAULT, spage);
    expect_fault(f->h, mmu_translate(f->h, spage, ACC_EXEC, &pa), EXC_INSN_PAGE_FAULT, spage);

    enter(f, PRV_S, 0);
    expect_fault(f->h, mmu_translate(f->h, upage, ACC_READ, &pa), EXC_LOAD_PAGE_FAULT, upage);
    expect_fault(f->h, mmu_translate(f->h, upage + 8, ACC_WRITE, &pa), EXC_STORE_PAGE_FAULT, upage + 8);
    assert_true(mmu_translate(f->h, spage, ACC_READ, &pa));

    enter(f, PRV_S, MSTATUS_SUM);
    assert_true(mmu_translate(f->h, upage, ACC_READ, &pa));
    assert_true(mmu_translate(f->h, upage, ACC_WRITE, &pa));
    expect_fault(f->h, mmu_translate(f->h, upage, ACC_EXEC, &pa), EXC_INSN_PAGE_FAULT, upage);
}

static void test_rwx_and_mxr(void **state)
{
    Fix *f = *state;
    uint64_t pa;
    set_satp(f, 3);
    uint64_t xonly = 0x10000, ronly = 0x11000;
    map(f, xonly, RAM_BASE + 0x6000, 0, PTE_X | PTE_A);
    map(f, ronly, RAM_BASE + 0x7000, 0, PTE_R | PTE_A);
    enter(f, PRV_S, 0);
    expect_fault(f->h, mmu_translate(f->h, xonly, ACC_READ, &pa), EXC_LOAD_PAGE_FAULT, xonly);
    assert_true(mmu_translate(f->h, xonly, ACC_EXEC, &pa));
    expect_fault(f->h, mmu_translate(f->h, ronly, ACC_WRITE, &pa), EXC_STORE_PAGE_FAULT, ronly);
    expect_fault(f->h, mmu_translate(f->h, ronly, ACC_EXEC, &pa), EXC_INSN_PAGE_FAULT, ronly);
    enter(f, PRV_S, MSTATUS_MXR);
    assert_true(mmu_translate(f->h, xonly, ACC_READ, &pa));
    assert_int_equal(pa, RAM_BASE + 0x6000);
}

static void test_mprv(void **state)
{
    Fix *f = *state;
    uint64_t pa;
    set_satp(f, 3);
    map(f, 0x10000, RAM_BASE + 0x6000, 0, PTE_R | PTE_W | PTE_A | PTE_D);
    /* M with MPRV and MPP=S: loads/stores translate, fetches do not */
    enter(f, PRV_M, MSTATUS_MPRV | (1ull << MSTATUS_MPP_SHIFT));
    assert_true(mmu_translate(f->h, 0x10000, ACC_READ, &pa));
    assert_int_equal(pa, RAM_BASE + 0x6000);
    assert_true(mmu_translate(f->h, 0x10000, ACC_EXEC, &pa));
    assert_int_equal(pa, 0x10000);
    /* MPP=U: the S page is not accessible */
    enter(f, PRV_M, MSTATUS_MPRV);
    expect_fault(f->h, mmu_translate(f->h, 0x10000, ACC_READ, &pa), EXC_LOAD_PAGE_FAULT, 0x10000);
}

/* --- A/D --- */

static void test_accessed_dirty_update(void **state)
{
    Fix *f = *state;
    uint64_t pa;
    set_satp(f, 3);
    uint64_t pte_addr = map(f, 0x10000, RAM_BASE + 0x6000, 0, PTE_R | PTE_W);
    memset(f->m->dirty_pages, 0, RAM_SIZE >> PAGE_SHIFT);
    enter(f, PRV_S, 0);
    assert_true(mmu_translate(f->h, 0x10000, ACC_READ, &pa));
    assert_int_equal(rd64(f, pte_addr) & (PTE_A | PTE_D), PTE_A);
    assert_int_equal(f->m->dirty_pages[(pte_addr - RAM_BASE) >> PAGE_SHIFT], DIRTY_ALL);
    assert_true(mmu_translate(f->h, 0x10000, ACC_WRITE, &pa));
    assert_int_equal(rd64(f, pte_addr) & (PTE_A | PTE_D), PTE_A | PTE_D);
    /* a faulting access sets nothing */
    uint64_t pte2 = map(f, 0x20000, RAM_BASE + 0x7000, 0, PTE_R);
    assert_false(mmu_translate(f->h, 0x20000, ACC_WRITE, &pa));
    assert_int_equal(rd64(f, pte2) & (PTE_A | PTE_D), 0);
    /* superpage leaf gets A/D too */
    uint64_t pte3 = map(f, 0x40000000, RAM_BASE, 1, PTE_R | PTE_W);
    assert_true(mmu_translate(f->h, 0x40000008, ACC_WRITE, &pa));
    assert_int_equal(rd64(f, pte3) & (PTE_A | PTE_D), PTE_A | PTE_D);
}

/* --- TLB --- */

static void test_tlb_fill_and_contexts(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    Machine *m = f->m;
    uint64_t v;
    bool mmio;
    set_satp(f, 3);
    map(f, 0x10000, RAM_BASE + 0x6000, 0, PTE_R | PTE_W | PTE_A); /* D clear */
    enter(f, PRV_S, 0);
    assert_null(hart_tlb_lookup(h, ACC_READ, 0x10008));
    assert_true(mmu_load_slow(h, 0x10008, 8, &v, &mmio));
    assert_ptr_equal(hart_tlb_lookup(h, ACC_READ, 0x10008), m->ram + 0x6008);
    assert_null(hart_tlb_lookup(h, ACC_WRITE, 0x10008));
    /* the store sets D, then the write entry may be filled; the page is dirty */
    memset(m->dirty_pages, 0, RAM_SIZE >> PAGE_SHIFT);
    assert_true(mmu_store_slow(h, 0x10010, 4, 0xdeadbeef, &mmio));
    assert_ptr_equal(hart_tlb_lookup(h, ACC_WRITE, 0x10010), m->ram + 0x6010);
    assert_int_equal(m->dirty_pages[6], DIRTY_ALL);
    uint32_t w;
    memcpy(&w, m->ram + 0x6010, 4);
    assert_int_equal(w, 0xdeadbeef);

    /* another privilege uses another set: U sees nothing cached */
    enter(f, PRV_U, 0);
    assert_null(hart_tlb_lookup(h, ACC_READ, 0x10008));
    enter(f, PRV_S, MSTATUS_SUM);
    assert_null(hart_tlb_lookup(h, ACC_READ, 0x10008));
    enter(f, PRV_S, 0);
    assert_non_null(hart_tlb_lookup(h, ACC_READ, 0x10008));

    /* dropping write entries for the page (code was found there) */
    mmu_tlb_drop_write_page(m, RAM_BASE + 0x6000);
    assert_null(hart_tlb_lookup(h, ACC_WRITE, 0x10010));
    assert_non_null(hart_tlb_lookup(h, ACC_READ, 0x10008));

    /* rewriting satp with its value keeps the entries; another value
     * switches to another (empty) address space, and back */
    uint64_t satp = h->satp;
    assert_true(hart_csr_write(h, 0x180, satp));
    assert_non_null(hart_tlb_lookup(h, ACC_READ, 0x10008));
    assert_true(hart_csr_write(h, 0x180, satp | (5ull << 44)));
    assert_null(hart_tlb_lookup(h, ACC_READ, 0x10008));
    assert_true(hart_csr_write(h, 0x180, satp));
    assert_ptr_equal(hart_tlb_lookup(h, ACC_READ, 0x10008), m->ram + 0x6008);
    /* a full flush empties every space */
    mmu_tlb_flush(h);
    assert_null(hart_tlb_lookup(h, ACC_READ, 0x10008));
}

static void test_tlb_code_page_not_writable(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    Machine *m = f->m;
    bool mmio;
    enter(f, PRV_M, 0);
    m->code_pages[8] = 1;
    assert_true(mmu_store_slow(h, RAM_BASE + 0x8000, 8, 42, &mmio));
    /* the store invalidated the decoded code, so the page is plain data now */
    assert_int_equal(m->code_pages[8], 0);
    assert_int_equal(m->dirty_pages[8], DIRTY_ALL);
    /* reads of a code page are cached, writes never are */
    m->code_pages[9] = 1;
    uint64_t v;
    assert_true(mmu_load_slow(h, RAM_BASE + 0x9000, 8, &v, &mmio));
    assert_non_null(hart_tlb_lookup(h, ACC_READ, RAM_BASE + 0x9000));
    assert_null(hart_tlb_lookup(h, ACC_WRITE, RAM_BASE + 0x9000));
    /* a page that becomes code loses its write entry */
    assert_true(mmu_store_slow(h, RAM_BASE + 0xa000, 8, 1, &mmio));
    assert_non_null(hart_tlb_lookup(h, ACC_WRITE, RAM_BASE + 0xa000));
    m->code_pages[10] = 1;
    mmu_tlb_drop_write_page(m, RAM_BASE + 0xa000);
    assert_null(hart_tlb_lookup(h, ACC_WRITE, RAM_BASE + 0xa000));
}

static bool no_pt_marks(const Machine *m)
{
    for (uint64_t i = 0; i < RAM_SIZE >> PAGE_SHIFT; i++)
        if (m->pt_pages[i] & PT_WALKED)
            return false;
    return true;
}

/* The TLB is a pure cache of the walk: the pages its entries were walked
 * from are tracked, and a write to one empties every TLB, so clearing A or
 * D without sfence.vma is seen by the next access. */
static void test_tlb_page_tables_tracked(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    Machine *m = f->m;
    uint64_t v;
    bool mmio;
    set_satp(f, 3);
    uint64_t pte_addr = map(f, 0x10000, RAM_BASE + 0x6000, 0, PTE_R | PTE_W | PTE_A | PTE_D);
    uint64_t l0_page = pte_addr & ~(PAGE_SIZE - 1);
    enter(f, PRV_S, 0);
    assert_true(mmu_load_slow(h, 0x10008, 8, &v, &mmio));
    assert_true(mmu_store_slow(h, 0x10010, 8, 5, &mmio));
    assert_non_null(hart_tlb_lookup(h, ACC_WRITE, 0x10010));
    /* every level's table page is marked, the data page is not */
    assert_true(m->pt_pages[(f->root - RAM_BASE) >> PAGE_SHIFT] & PT_WALKED);
    assert_true(m->pt_pages[(l0_page - RAM_BASE) >> PAGE_SHIFT] & PT_WALKED);
    assert_false(m->pt_pages[6] & PT_WALKED);

    /* M clears A and D with a plain store, no sfence.vma */
    enter(f, PRV_M, 0);
    assert_true(mmu_store_slow(h, pte_addr, 8, rd64(f, pte_addr) & ~(PTE_A | PTE_D), &mmio));
    assert_true(no_pt_marks(m));
    enter(f, PRV_S, 0);
    assert_null(hart_tlb_lookup(h, ACC_READ, 0x10008));
    assert_null(hart_tlb_lookup(h, ACC_WRITE, 0x10010));
    assert_true(mmu_load_slow(h, 0x10008, 8, &v, &mmio));
    assert_int_equal(rd64(f, pte_addr) & (PTE_A | PTE_D), PTE_A);
    assert_true(mmu_store_slow(h, 0x10010, 8, 6, &mmio));
    assert_int_equal(rd64(f, pte_addr) & (PTE_A | PTE_D), PTE_A | PTE_D);

    /* a device (DMA) or loader write to a table page does the same */
    wr64(f, pte_addr, rd64(f, pte_addr) & ~PTE_A);
    uint64_t pte = rd64(f, pte_addr);
    assert_true(machine_phys_write(m, pte_addr, &pte, 8));
    assert_null(hart_tlb_lookup(h, ACC_READ, 0x10008));
    assert_true(mmu_load_slow(h, 0x10008, 8, &v, &mmio));
    assert_int_equal(rd64(f, pte_addr) & PTE_A, PTE_A);

    /* the walker's own A/D update empties nothing */
    map(f, 0x11000, RAM_BASE + 0x7000, 0, PTE_R | PTE_W);
    assert_true(mmu_load_slow(h, 0x11000, 8, &v, &mmio));
    assert_non_null(hart_tlb_lookup(h, ACC_READ, 0x10008));

    /* a table page never has a write entry: M's entry for the page is
     * dropped when a walk starts depending on it */
    enter(f, PRV_M, 0);
    assert_true(mmu_store_slow(h, pte_addr, 8, rd64(f, pte_addr), &mmio));
    assert_non_null(hart_tlb_lookup(h, ACC_WRITE, pte_addr));
    enter(f, PRV_S, 0);
    assert_true(mmu_load_slow(h, 0x10008, 8, &v, &mmio));
    enter(f, PRV_M, 0);
    assert_null(hart_tlb_lookup(h, ACC_WRITE, pte_addr));

    /* a page mapping its own table: the store changes the walk it came
     * from, so it gets no write entry */
    uint64_t self = map(f, 0x12000, l0_page, 0, PTE_R | PTE_W | PTE_A | PTE_D);
    enter(f, PRV_S, 0);
    assert_true(mmu_store_slow(h, 0x12000 + (self & (PAGE_SIZE - 1)), 8, rd64(f, self), &mmio));
    assert_null(hart_tlb_lookup(h, ACC_WRITE, 0x12000));
    assert_true(m->pt_pages[(l0_page - RAM_BASE) >> PAGE_SHIFT] & PT_WALKED);
}

static void test_tlb_not_filled_for_mmio_page(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    uint64_t v;
    bool mmio;
    enter(f, PRV_M, 0);
    /* RAM bytes in the page holding the in-RAM device still work, slowly */
    assert_true(mmu_load_slow(h, DEV_IN_RAM + 0x100, 8, &v, &mmio));
    assert_false(mmio);
    assert_null(hart_tlb_lookup(h, ACC_READ, DEV_IN_RAM + 0x100));
    f->dev_regs[0] = 0x55;
    assert_true(mmu_load_slow(h, DEV_IN_RAM, 4, &v, &mmio));
    assert_true(mmio);
    assert_int_equal(v, 0x55);
    assert_true(mmu_store_slow(h, DEV_OUTSIDE + 4, 4, 0x77, &mmio));
    assert_true(mmio);
    assert_int_equal(f->dev_regs[0] >> 32, 0x77);
    /* device refusal -> access fault */
    expect_fault(h, mmu_store_slow(h, DEV_OUTSIDE + 8, 8, 1, &mmio), EXC_STORE_ACCESS, DEV_OUTSIDE + 8);
    /* misaligned MMIO -> misaligned exception */
    expect_fault(h, mmu_load_slow(h, DEV_OUTSIDE + 2, 4, &v, &mmio), EXC_LOAD_MISALIGNED, DEV_OUTSIDE + 2);
    /* nothing there */
    expect_fault(h, mmu_load_slow(h, 0x20000000, 4, &v, &mmio), EXC_LOAD_ACCESS, 0x20000000);
    expect_fault(h, mmu_store_slow(h, RAM_BASE + RAM_SIZE, 1, 0, &mmio), EXC_STORE_ACCESS,
                 RAM_BASE + RAM_SIZE);
}

/* --- misaligned emulation --- */

static void test_misaligned_emulation(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    Machine *m = f->m;
    uint64_t v;
    bool mmio;
    set_satp(f, 3);
    /* two virtually adjacent pages on non-adjacent physical pages */
    map(f, 0x10000, RAM_BASE + 0x7000, 0, PTE_R | PTE_W | PTE_A | PTE_D);
    map(f, 0x11000, RAM_BASE + 0x5000, 0, PTE_R | PTE_W | PTE_A | PTE_D);
    map(f, 0x12000, RAM_BASE + 0x6000, 0, PTE_R | PTE_A); /* read-only */
    enter(f, PRV_S, 0);
    assert_true(mmu_store_slow(h, 0x10ffd, 8, 0x0807060504030201ull, &mmio));
    assert_int_equal(m->ram[0x7ffd], 1);
    assert_int_equal(m->ram[0x7fff], 3);
    assert_int_equal(m->ram[0x5000], 4);
    assert_int_equal(m->ram[0x5004], 8);
    assert_true(mmu_load_slow(h, 0x10ffd, 8, &v, &mmio));
    assert_int_equal(v, 0x0807060504030201ull);
    assert_true(mmu_load_slow(h, 0x10fff, 2, &v, &mmio));
    assert_int_equal(v, 0x0403);
    /* store crossing into a read-only page faults with the original address
     * and writes nothing */
    m->ram[0x5ffe] = 0xaa;
    expect_fault(h, mmu_store_slow(h, 0x11ffe, 4, 0x11223344, &mmio), EXC_STORE_PAGE_FAULT, 0x11ffe);
    assert_int_equal(m->ram[0x5ffe], 0xaa);
    /* load crossing into an unmapped page */
    expect_fault(h, mmu_load_slow(h, 0x12ffc, 8, &v, &mmio), EXC_LOAD_PAGE_FAULT, 0x12ffc);
    /* misaligned RAM access in M-mode across physical pages */
    enter(f, PRV_M, 0);
    assert_true(mmu_load_slow(h, RAM_BASE + 0x4fff, 2, &v, &mmio));
    assert_int_equal(v, 0x0400 | m->ram[0x4fff]);
}

/* --- TLB address spaces and sfence.vma --- */

#define PTE_G 0x20ull
#define RWXAD (PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
#define SFENCE_RS 10 /* any register but x0: "this address / ASID" */

/* A new Sv39 address space (root table) with this ASID, made current (in
 * M-mode, like set_satp); returns the satp value. map() fills it until the
 * next new_space/use_space. */
static uint64_t new_space(Fix *f, uint64_t asid)
{
    f->levels = 3;
    f->root = alloc_table(f);
    uint64_t satp = (8ull << 60) | (asid << 44) | (f->root >> 12);
    f->h->priv = PRV_M;
    assert_true(hart_csr_write(f->h, 0x180, satp));
    return satp;
}

/* Switch satp (from M, as Linux's switch_mm does from S) and go to S. */
static void use_space(Fix *f, uint64_t satp)
{
    f->h->priv = PRV_M;
    assert_true(hart_csr_write(f->h, 0x180, satp));
    f->root = (satp & ((1ull << 44) - 1)) << 12;
    enter(f, PRV_S, 0);
}

static uint64_t load(Fix *f, uint64_t va)
{
    uint64_t v;
    bool mmio;
    assert_true(mmu_load_slow(f->h, va, 8, &v, &mmio));
    return v;
}

/* Fill read, write and exec entries for va's page. */
static void touch(Fix *f, uint64_t va)
{
    bool mmio;
    uint64_t pa;
    load(f, va);
    assert_true(mmu_store_slow(f->h, va + 8, 8, 0, &mmio));
    assert_non_null(mmu_fetch_page(f->h, va, &pa));
}

static uint8_t *ram_at(Fix *f, uint64_t pa) { return f->m->ram + (pa - RAM_BASE); }

/* Cached in all three kinds, to physical pa, or in none. */
static void expect_cached(Fix *f, uint64_t va, uint64_t pa)
{
    for (int acc = 0; acc < 3; acc++)
        assert_ptr_equal(hart_tlb_lookup(f->h, acc, va), ram_at(f, pa));
}

static void expect_uncached(Fix *f, uint64_t va)
{
    for (int acc = 0; acc < 3; acc++)
        assert_null(hart_tlb_lookup(f->h, acc, va));
}

/* A fresh access to va uses physical page pa (data and fetch alike). */
static void expect_maps_to(Fix *f, uint64_t va, uint64_t pa)
{
    uint64_t got;
    wr64(f, pa, 0x5eed0000ull | (pa >> 12));
    assert_int_equal(load(f, va), 0x5eed0000ull | (pa >> 12));
    assert_ptr_equal(mmu_fetch_page(f->h, va, &got), ram_at(f, pa));
    assert_int_equal(got, pa);
    touch(f, va);
    expect_cached(f, va, pa);
}

/* sfence.vma with an address drops that page in every set and kind and
 * nothing else. The PTEs are changed behind the TLB's back (a host write,
 * not seen by the page-table tracking), so only the fence can make the new
 * mapping visible: this checks the fence itself. */
static void test_sfence_vma_page(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    set_satp(f, 3);
    uint64_t pte_a = map(f, 0x10000, RAM_BASE + 0x6000, 0, RWXAD);
    uint64_t pte_b = map(f, 0x11000, RAM_BASE + 0x7000, 0, RWXAD);
    map(f, 0x10000 + TLB_SIZE * PAGE_SIZE, RAM_BASE + 0xa000, 0, RWXAD); /* same index as A */
    enter(f, PRV_S, 0);
    touch(f, 0x10000);
    touch(f, 0x11000);
    enter(f, PRV_S, MSTATUS_SUM); /* another context set */
    touch(f, 0x10000);
    enter(f, PRV_S, 0);
    wr64(f, pte_a, ((RAM_BASE + 0x8000) >> 12) << 10 | RWXAD | PTE_V);
    wr64(f, pte_b, ((RAM_BASE + 0x9000) >> 12) << 10 | RWXAD | PTE_V);

    /* an address in another page with the same set index: nothing happens */
    mmu_sfence_vma(h, SFENCE_RS, 0x10000 + TLB_SIZE * PAGE_SIZE, 0, 0);
    expect_cached(f, 0x10000, RAM_BASE + 0x6000);
    mmu_sfence_vma(h, SFENCE_RS, 0x10ff8, 0, 0);
    expect_uncached(f, 0x10000);
    enter(f, PRV_S, MSTATUS_SUM);
    expect_uncached(f, 0x10000);
    enter(f, PRV_S, 0);
    expect_cached(f, 0x11000, RAM_BASE + 0x7000); /* still hits (stale on purpose) */
    expect_maps_to(f, 0x10000, RAM_BASE + 0x8000);
    /* rs1 = x0 with any value means every address */
    mmu_sfence_vma(h, 0, 0x10000, 0, 0);
    expect_uncached(f, 0x10000);
    expect_uncached(f, 0x11000);
    expect_maps_to(f, 0x11000, RAM_BASE + 0x9000);
}

/* An address anywhere in a superpage drops the entries of all its 4 KiB
 * pages (the spec flushes the leaf, which maps them all), not others. */
static void test_sfence_vma_superpage(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    set_satp(f, 3);
    uint64_t pte_2m = map(f, 0x200000, RAM_BASE, 1, RWXAD);
    map(f, 0x10000, RAM_BASE + 0x6000, 0, RWXAD);
    map(f, 0x600000, RAM_BASE + 0x7000, 0, RWXAD); /* 4K page in another 2M region */
    enter(f, PRV_S, 0);
    touch(f, 0x201000);
    touch(f, 0x3ff000);
    touch(f, 0x10000);
    touch(f, 0x600000);
    wr64(f, pte_2m, ((RAM_BASE + 0x200000) >> 12) << 10 | RWXAD | PTE_V);
    /* an address outside the superpage leaves it alone */
    mmu_sfence_vma(h, SFENCE_RS, 0x600000, 0, 0);
    expect_uncached(f, 0x600000);
    expect_cached(f, 0x3ff000, RAM_BASE + 0x1ff000);
    mmu_sfence_vma(h, SFENCE_RS, 0x201234, 0, 0);
    expect_uncached(f, 0x201000);
    expect_uncached(f, 0x3ff000);
    expect_cached(f, 0x10000, RAM_BASE + 0x6000);
    expect_maps_to(f, 0x3ff000, RAM_BASE + 0x3ff000);
    expect_maps_to(f, 0x201000, RAM_BASE + 0x201000);
}

/* satp writes switch address spaces: each keeps its entries, up to
 * TLB_NSPACES of them; one more replaces the least recently used. */
static void test_satp_switch_keeps_spaces(void **state)
{
    Fix *f = *state;
    uint64_t satp[TLB_NSPACES + 1];
    for (int k = 0; k < TLB_NSPACES; k++) {
        satp[k] = new_space(f, (uint64_t)k + 1);
        map(f, 0x10000, RAM_BASE + 0x6000 + (uint64_t)k * PAGE_SIZE, 0, RWXAD);
        enter(f, PRV_S, 0);
        touch(f, 0x10000);
    }
    for (int k = 0; k < TLB_NSPACES; k++) {
        use_space(f, satp[k]);
        expect_cached(f, 0x10000, RAM_BASE + 0x6000 + (uint64_t)k * PAGE_SIZE);
    }
    /* same ASID, another root: another space */
    satp[TLB_NSPACES] = new_space(f, 2);
    map(f, 0x10000, RAM_BASE + 0x9000, 0, RWXAD);
    enter(f, PRV_S, 0);
    expect_uncached(f, 0x10000);
    touch(f, 0x10000);
    use_space(f, satp[0]); /* the least recently used went */
    expect_uncached(f, 0x10000);
    expect_maps_to(f, 0x10000, RAM_BASE + 0x6000);
    use_space(f, satp[TLB_NSPACES]);
    expect_cached(f, 0x10000, RAM_BASE + 0x9000);
    for (int k = 2; k < TLB_NSPACES; k++) { /* space 1 made room for space 0 */
        use_space(f, satp[k]);
        expect_cached(f, 0x10000, RAM_BASE + 0x6000 + (uint64_t)k * PAGE_SIZE);
    }
}

/* sfence.vma with an ASID touches only the spaces with that ASID. */
static void test_sfence_vma_asid(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    uint64_t a = new_space(f, 1);
    map(f, 0x10000, RAM_BASE + 0x6000, 0, RWXAD);
    map(f, 0x11000, RAM_BASE + 0x7000, 0, RWXAD);
    uint64_t b = new_space(f, 0x8002);
    map(f, 0x10000, RAM_BASE + 0x8000, 0, RWXAD);
    map(f, 0x11000, RAM_BASE + 0x9000, 0, RWXAD);
    for (int round = 0; round < 2; round++) {
        use_space(f, b);
        touch(f, 0x10000);
        touch(f, 0x11000);
        use_space(f, a);
        touch(f, 0x10000);
        touch(f, 0x11000);
        /* round 0 fences B's whole ASID, round 1 one page of it (bits
         * above the 16-bit ASID are ignored) */
        if (round == 0)
            mmu_sfence_vma(h, 0, 0, SFENCE_RS, 0x8002);
        else
            mmu_sfence_vma(h, SFENCE_RS, 0x10000, SFENCE_RS, (1ull << 20) | 0x8002);
        expect_cached(f, 0x10000, RAM_BASE + 0x6000);
        expect_cached(f, 0x11000, RAM_BASE + 0x7000);
        use_space(f, b);
        expect_uncached(f, 0x10000);
        if (round == 0)
            expect_uncached(f, 0x11000);
        else
            expect_cached(f, 0x11000, RAM_BASE + 0x9000);
    }
    /* the active space's ASID: emptied in place, the other one kept */
    mmu_sfence_vma(h, 0, 0, SFENCE_RS, 0x8002);
    expect_uncached(f, 0x11000);
    use_space(f, a);
    expect_cached(f, 0x11000, RAM_BASE + 0x7000);
    /* an address with rs2 = x0: that page in every space */
    mmu_sfence_vma(h, SFENCE_RS, 0x11000, 0, 0);
    expect_uncached(f, 0x11000);
    expect_cached(f, 0x10000, RAM_BASE + 0x6000);
}

/* Global mappings are cached per space like the others; a fence that
 * names no ASID reaches them in every space, inactive ones included. */
static void test_sfence_vma_global(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    uint64_t a = new_space(f, 1);
    uint64_t pte_a = map(f, 0x40000, RAM_BASE + 0x6000, 0, RWXAD | PTE_G);
    map(f, 0x50000, RAM_BASE + 0x6000, 0, RWXAD | PTE_G);
    uint64_t b = new_space(f, 2);
    uint64_t pte_b = map(f, 0x40000, RAM_BASE + 0x6000, 0, RWXAD | PTE_G);
    map(f, 0x50000, RAM_BASE + 0x6000, 0, RWXAD | PTE_G);
    use_space(f, a);
    touch(f, 0x40000);
    touch(f, 0x50000);
    use_space(f, b);
    touch(f, 0x40000);
    touch(f, 0x50000);
    /* the kernel changes a global mapping in every table, then fences it
     * for all address spaces */
    uint64_t new_pte = ((RAM_BASE + 0x7000) >> 12) << 10 | RWXAD | PTE_G | PTE_V;
    wr64(f, pte_a, new_pte);
    wr64(f, pte_b, new_pte);
    mmu_sfence_vma(h, SFENCE_RS, 0x40000, 0, 0);
    expect_maps_to(f, 0x40000, RAM_BASE + 0x7000);
    use_space(f, a);
    expect_uncached(f, 0x40000);
    expect_maps_to(f, 0x40000, RAM_BASE + 0x7000);
    /* a fence for ASID 1 drops its space's global entries too (allowed),
     * and leaves ASID 2's alone (global mappings are not ordered by it) */
    mmu_sfence_vma(h, 0, 0, SFENCE_RS, 1);
    expect_uncached(f, 0x50000);
    use_space(f, b);
    expect_cached(f, 0x50000, RAM_BASE + 0x6000);
    /* sfence.vma x0, x0: everything, everywhere */
    mmu_sfence_vma(h, 0, 0, 0, 0);
    expect_uncached(f, 0x50000);
    use_space(f, a);
    expect_uncached(f, 0x40000);
}

/* What must reach every space does: MXR, PMP, writes to walked page
 * tables (so switching back without a fence never uses a stale entry),
 * and dropping write entries for a page that became code. */
static void test_flushes_reach_inactive_spaces(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    Machine *m = f->m;
    bool mmio;
    uint64_t a = new_space(f, 1);
    uint64_t pte_a = map(f, 0x10000, RAM_BASE + 0x6000, 0, RWXAD);
    uint64_t b = new_space(f, 2);
    map(f, 0x10000, RAM_BASE + 0x8000, 0, RWXAD);

    /* a guest store to A's PTE while B is active: back in A, no fence
     * needed, the new mapping is used for data and fetch */
    use_space(f, a);
    touch(f, 0x10000);
    use_space(f, b);
    touch(f, 0x10000);
    enter(f, PRV_M, 0);
    assert_true(mmu_store_slow(h, pte_a, 8, ((RAM_BASE + 0x7000) >> 12) << 10 | RWXAD | PTE_V, &mmio));
    use_space(f, a);
    expect_uncached(f, 0x10000);
    expect_maps_to(f, 0x10000, RAM_BASE + 0x7000);

    /* the write entry of an inactive space goes when its page becomes code
     * (the PTE store above emptied B too: fill it again) */
    use_space(f, b);
    touch(f, 0x10000);
    use_space(f, a);
    use_space(f, b);
    assert_non_null(hart_tlb_lookup(h, ACC_WRITE, 0x10000));
    use_space(f, a);
    m->code_pages[7] = 1;
    mmu_tlb_drop_write_page(m, RAM_BASE + 0x7000);
    assert_null(hart_tlb_lookup(h, ACC_WRITE, 0x10000));
    assert_false(m->pt_pages[7] & PT_WRITE_MAPPED);
    assert_non_null(hart_tlb_lookup(h, ACC_READ, 0x10000));
    use_space(f, b);
    assert_non_null(hart_tlb_lookup(h, ACC_WRITE, 0x10000)); /* other page: kept */
    m->code_pages[8] = 1;
    mmu_tlb_drop_write_page(m, RAM_BASE + 0x8000);
    use_space(f, a);
    use_space(f, b);
    assert_null(hart_tlb_lookup(h, ACC_WRITE, 0x10000));
    assert_non_null(hart_tlb_lookup(h, ACC_READ, 0x10000));

    /* MXR and PMP changes flush every space */
    for (int what = 0; what < 2; what++) {
        use_space(f, a);
        touch(f, 0x10000);
        use_space(f, b);
        touch(f, 0x10000);
        h->priv = PRV_M;
        if (what == 0) {
            assert_true(hart_csr_write(h, 0x300, h->mstatus | MSTATUS_MXR));
            assert_true(hart_csr_write(h, 0x300, h->mstatus & ~MSTATUS_MXR));
        } else {
            assert_true(hart_csr_write(h, 0x3b1, 0x1234));
        }
        use_space(f, a);
        expect_uncached(f, 0x10000);
        use_space(f, b);
        expect_uncached(f, 0x10000);
    }
}

/* The TLB is not part of the saved state, and a load empties it. */
static void test_load_empties_every_space(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    uint64_t a = new_space(f, 1);
    map(f, 0x10000, RAM_BASE + 0x6000, 0, RWXAD);
    uint64_t b = new_space(f, 2);
    map(f, 0x10000, RAM_BASE + 0x7000, 0, RWXAD);
    use_space(f, a);
    touch(f, 0x10000);
    use_space(f, b);
    touch(f, 0x10000);
    SerWriter w;
    ser_writer_init(&w);
    hart_save(h, &w);
    size_t with_entries = w.len;
    SerReader r;
    ser_reader_init(&r, w.buf, w.len);
    assert_true(hart_load(h, &r));
    assert_int_equal(h->satp, b);
    /* the same bytes with an empty TLB */
    SerWriter w2;
    ser_writer_init(&w2);
    hart_save(h, &w2);
    assert_int_equal(w2.len, with_entries);
    assert_memory_equal(w2.buf, w.buf, w.len);
    ser_writer_free(&w);
    ser_writer_free(&w2);
    expect_uncached(f, 0x10000);
    use_space(f, a);
    expect_uncached(f, 0x10000);
}

/* --- fetch --- */

static void test_fetch_page(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    uint64_t pa;
    set_satp(f, 3);
    map(f, 0x10000, RAM_BASE + 0x6000, 0, PTE_R | PTE_X | PTE_A);
    map(f, 0x11000, DEV_OUTSIDE & ~0xfffull, 0, PTE_R | PTE_X | PTE_A);
    enter(f, PRV_S, 0);
    const uint8_t *p = mmu_fetch_page(h, 0x10010, &pa);
    assert_ptr_equal(p, f->m->ram + 0x6000);
    assert_int_equal(pa, RAM_BASE + 0x6010);
    assert_ptr_equal(hart_tlb_lookup(h, ACC_EXEC, 0x10010), f->m->ram + 0x6010);
    assert_null(mmu_fetch_page(h, 0x11000, &pa));
    assert_int_equal(h->exc_cause, EXC_INSN_ACCESS);
    h->exc_cause = UINT64_MAX;
    assert_null(mmu_fetch_page(h, 0x13000, &pa));
    assert_int_equal(h->exc_cause, EXC_INSN_PAGE_FAULT);
    assert_int_equal(h->exc_tval, 0x13000);
}

static void test_ram_ptr_for_amo(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    uint64_t pa;
    set_satp(f, 3);
    map(f, 0x10000, RAM_BASE + 0x6000, 0, PTE_R | PTE_A);
    map(f, 0x11000, DEV_IN_RAM, 0, PTE_R | PTE_W | PTE_A | PTE_D);
    enter(f, PRV_S, 0);
    assert_ptr_equal(mmu_ram_ptr(h, 0x10008, 8, ACC_READ, &pa), f->m->ram + 0x6008);
    assert_int_equal(pa, RAM_BASE + 0x6008);
    assert_null(mmu_ram_ptr(h, 0x10008, 8, ACC_WRITE, &pa));
    expect_fault(h, false, EXC_STORE_PAGE_FAULT, 0x10008);
    assert_null(mmu_ram_ptr(h, 0x11000, 4, ACC_WRITE, &pa)); /* device page */
    expect_fault(h, false, EXC_STORE_ACCESS, 0x11000);
}

/* --- PMP enforcement --- */

static void test_pmp(void **state)
{
    Fix *f = *state;
    Hart *h = f->h;
    uint64_t v;
    bool mmio;
    /* no active entry: S/U denied, M allowed */
    enter(f, PRV_M, 0);
    assert_true(hart_csr_write(h, 0x3a0, 0));
    enter(f, PRV_S, 0);
    expect_fault(h, mmu_load_slow(h, RAM_BASE, 8, &v, &mmio), EXC_LOAD_ACCESS, RAM_BASE);
    enter(f, PRV_M, 0);
    assert_true(mmu_load_slow(h, RAM_BASE, 8, &v, &mmio));

    /* entry 0: TOR [0, RAM_BASE+0x10004) read-only; entry 1: NAPOT all, RWX */
    assert_true(hart_csr_write(h, 0x3b0, (RAM_BASE + 0x10004) >> 2));
    assert_true(hart_csr_write(h, 0x3b1, ~0ull));
    assert_true(hart_csr_write(h, 0x3a0, (0x1full << 8) | 0x09));
    enter(f, PRV_S, 0);
    assert_true(mmu_load_slow(h, RAM_BASE + 0x8000, 8, &v, &mmio));
    expect_fault(h, mmu_store_slow(h, RAM_BASE + 0x8000, 8, 0, &mmio), EXC_STORE_ACCESS, RAM_BASE + 0x8000);
    assert_true(mmu_store_slow(h, RAM_BASE + 0x10008, 8, 0, &mmio));
    /* an access straddling the end of entry 0 fails (partial match) */
    expect_fault(h, mmu_load_slow(h, RAM_BASE + 0x10000, 8, &v, &mmio), EXC_LOAD_ACCESS, RAM_BASE + 0x10000);
    /* and no TLB entry is made for a page PMP splits */
    assert_true(mmu_load_slow(h, RAM_BASE + 0x10008, 8, &v, &mmio));
    assert_null(hart_tlb_lookup(h, ACC_READ, RAM_BASE + 0x10008));
    /* M ignores unlocked entries */
    enter(f, PRV_M, 0);
    assert_true(mmu_store_slow(h, RAM_BASE + 0x8000, 8, 0, &mmio));
    /* once locked, entry 0 binds M too, and the TOR top address is frozen */
    assert_true(hart_csr_write(h, 0x3a0, (0x1full << 8) | 0x89));
    expect_fault(h, mmu_store_slow(h, RAM_BASE + 0x8000, 8, 0, &mmio), EXC_STORE_ACCESS, RAM_BASE + 0x8000);
    assert_null(hart_tlb_lookup(h, ACC_WRITE, RAM_BASE + 0x8000));
    assert_true(hart_csr_write(h, 0x3b0, 0));
    assert_int_equal(h->pmpaddr[0], (RAM_BASE + 0x10004) >> 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sv39_4k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sv39_2m, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sv39_1g, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sv48_4k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sv48_2m, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sv48_1g, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bare_and_m_mode_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_noncanonical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_ptes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misaligned_superpage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pte_outside_ram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_supervisor_sum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rwx_and_mxr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mprv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accessed_dirty_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlb_fill_and_contexts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlb_code_page_not_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlb_page_tables_tracked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlb_not_filled_for_mmio_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sfence_vma_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sfence_vma_superpage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_satp_switch_keeps_spaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sfence_vma_asid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sfence_vma_global, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flushes_reach_inactive_spaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_empties_every_space, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misaligned_emulation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ram_ptr_for_amo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pmp, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
