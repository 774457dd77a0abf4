/*
 * sfence.c - Sv39 with several address spaces (ASIDs), end to end: S-mode
 * code switches satp between spaces without fences (each switch must see
 * that space's mappings, data and code alike), remaps 4K pages, a 2M
 * superpage and a global page with plain stores followed by the
 * sfence.vma the spec asks for (by address, by ASID, by address in another
 * ASID than the active one, by address for all ASIDs), and checks that
 * the new mapping is used right after, for loads and for instruction
 * fetch. Then it cycles through more address spaces than rrvm's TLB keeps
 * (TLB_NSPACES) and checks every switch. Valid on any implementation
 * (QEMU too): it relies only on what the privileged spec guarantees.
 *
 * Layout of every space: VA 0x80000000 (1G, RWX, global) is the identity
 * map of the image, so S code runs unchanged and writes the page tables;
 * the 1G slot at 0x40000000 points to a level-1 table whose entry 0 is a
 * level-0 table (TESTVA: a data page, +0x1000 a code page, +0x2000 a
 * global data page) and entry 1 a 2M page at SUPERVA. Page tables, test
 * pages and the two 2M regions come from the memory after __image_end.
 */
#include "libtest.h"

#define PTE_V 0x01ul
#define PTE_R 0x02ul
#define PTE_W 0x04ul
#define PTE_X 0x08ul
#define PTE_G 0x20ul
#define PTE_A 0x40ul
#define PTE_D 0x80ul
#define RWAD (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define XA (PTE_V | PTE_X | PTE_A)

#define TESTVA 0x40000000ul
#define CODEVA (TESTVA + 0x1000)
#define GLOBVA (TESTVA + 0x2000)
#define SUPERVA 0x40200000ul
#define SUPER_CODE_OFF 0x3000ul
#define SUPER_DATA_OFF 0x5000ul
#define NSPACES 6 /* more than rrvm keeps */
#define ROUNDS 40

typedef struct Space {
    u64 *root, *l1, *l0;
    u64 satp;
} Space;

static PagePool pool;
static Space sp[NSPACES];
static u64 data_page[NSPACES], code_page[NSPACES];
static u64 glob_page[2], remap_data, remap_code, super_region[2];



/* "li a0, value; ret" at pa (value < 2048) */
static void write_code(u64 pa, u64 value)
{
    ((volatile u32 *)pa)[0] = (u32)(value << 20 | 10 << 7 | 0x13);
    ((volatile u32 *)pa)[1] = 0x00008067;
}

static u64 data_page_with(u64 value)
{
    u64 p = page_pool_alloc(&pool);
    *(volatile u64 *)p = value;
    return p;
}

static u64 code_page_with(u64 value)
{
    u64 p = page_pool_alloc(&pool);
    write_code(p, value);
    return p;
}

static void build_space(int k)
{
    Space *s = &sp[k];
    s->root = (u64 *)page_pool_alloc(&pool);
    s->l1 = (u64 *)page_pool_alloc(&pool);
    s->l0 = (u64 *)page_pool_alloc(&pool);
    s->root[2] = pte(0x80000000, RWAD | PTE_X | PTE_G);
    s->root[1] = pte((u64)s->l1, PTE_V);
    s->l1[0] = pte((u64)s->l0, PTE_V);
    s->l1[1] = pte(super_region[0], RWAD | PTE_X);
    s->l0[0] = pte(data_page[k], RWAD);
    s->l0[1] = pte(code_page[k], XA);
    s->l0[2] = pte(glob_page[0], RWAD | PTE_G);
    s->satp = (8ul << 60) | ((u64)(k + 1) << 44) | ((u64)s->root >> 12);
}

static u64 load(u64 va) { return *(volatile u64 *)va; }
static u64 call(u64 va) { return ((u64(*)(void))va)(); }

static void fence_page(u64 va, u64 asid) { __asm__ volatile("sfence.vma %0, %1" :: "r"(va), "r"(asid) : "memory"); }
static void fence_page_all(u64 va) { __asm__ volatile("sfence.vma %0, zero" :: "r"(va) : "memory"); }

/* Checks are collected as bits of the result: bit i set = check i failed. */
static u64 failed;
static void expect(int i, u64 got, u64 exp)
{
    if (got != exp)
        failed |= 1ul << i;
}

static u64 s_spaces(u64 arg)
{
    (void)arg;
    failed = 0;
    /* switching without fences: each space's own data and code */
    for (int r = 0; r < 3; r++) {
        csr_write(satp, sp[r & 1].satp);
        expect(0, load(TESTVA), 0xd0 + (r & 1));
        expect(1, call(CODEVA), 0x100 + (r & 1));
    }
    /* remap in the active space (A), fence by address and ASID */
    sp[0].l0[0] = pte(remap_data, RWAD);
    fence_page(TESTVA, 1);
    expect(2, load(TESTVA), 0xdc);
    sp[0].l0[1] = pte(remap_code, XA);
    fence_page(CODEVA, 1);
    expect(3, call(CODEVA), 0x1cc);
    /* remap in B while A is active, fence B's ASID by address */
    sp[1].l0[0] = pte(remap_data, RWAD);
    fence_page(TESTVA, 2);
    csr_write(satp, sp[1].satp);
    expect(4, load(TESTVA), 0xdc);
    /* a 2M page remapped, fenced by an address in another 4K page of it */
    expect(5, load(SUPERVA + SUPER_DATA_OFF), 0x5a0);
    expect(6, call(SUPERVA + SUPER_CODE_OFF), 0x3a0);
    sp[1].l1[1] = pte(super_region[1], RWAD | PTE_X);
    fence_page(SUPERVA, 2);
    expect(7, load(SUPERVA + SUPER_DATA_OFF), 0x5a1);
    expect(8, call(SUPERVA + SUPER_CODE_OFF), 0x3a1);
    /* a global page, cached in two spaces, remapped in both tables and
     * fenced by address for every ASID */
    expect(9, load(GLOBVA), 0x610);
    csr_write(satp, sp[0].satp);
    expect(10, load(GLOBVA), 0x610);
    sp[0].l0[2] = pte(glob_page[1], RWAD | PTE_G);
    sp[1].l0[2] = pte(glob_page[1], RWAD | PTE_G);
    fence_page_all(GLOBVA);
    expect(11, load(GLOBVA), 0x611);
    csr_write(satp, sp[1].satp);
    expect(12, load(GLOBVA), 0x611);
    /* a whole ASID fenced (sfence.vma x0, asid) after remapping it */
    sp[0].l0[0] = pte(data_page[0], RWAD);
    sp[0].l0[1] = pte(code_page[0], XA);
    __asm__ volatile("sfence.vma zero, %0" :: "r"(1ul) : "memory");
    csr_write(satp, sp[0].satp);
    expect(13, load(TESTVA), 0xd0);
    expect(14, call(CODEVA), 0x100);
    sp[1].l0[0] = pte(data_page[1], RWAD);
    __asm__ volatile("sfence.vma" ::: "memory");
    /* round robin over more spaces than the TLB keeps */
    for (int r = 0; r < ROUNDS; r++)
        for (int k = 0; k < NSPACES; k++) {
            csr_write(satp, sp[k].satp);
            expect(15, load(TESTVA), 0xd0 + (u64)k);
            expect(16, call(CODEVA), 0x100 + (u64)k);
            expect(17, load(GLOBVA), k < 2 ? 0x611 : 0x610); /* only A and B were remapped */
        }
    csr_write(satp, 0);
    __asm__ volatile("sfence.vma" ::: "memory");
    return failed;
}

int main(void)
{
    test_begin("sfence");
    u64 big = ((u64)__image_end + 0x1ffffful) & ~0x1ffffful;
    super_region[0] = big;
    super_region[1] = big + 0x200000;
    pool.next = big + 0x400000;
    for (int i = 0; i < 2; i++) {
        *(volatile u64 *)(super_region[i] + SUPER_DATA_OFF) = 0x5a0 + (u64)i;
        write_code(super_region[i] + SUPER_CODE_OFF, 0x3a0 + (u64)i);
        glob_page[i] = data_page_with(0x610 + (u64)i);
    }
    for (int k = 0; k < NSPACES; k++) {
        data_page[k] = data_page_with(0xd0 + (u64)k);
        code_page[k] = code_page_with(0x100 + (u64)k);
    }
    remap_data = data_page_with(0xdc);
    remap_code = code_page_with(0x1cc);
    for (int k = 0; k < NSPACES; k++)
        build_space(k);
    __asm__ volatile("fence.i" ::: "memory");

    u64 f = lower_call(PRV_S, (u64)s_spaces, 0, 0);
    static const char *const what[] = {
        "switch: data", "switch: code", "remap+fence page/asid: data", "remap+fence page/asid: code",
        "fence page in inactive asid", "2M page: data", "2M page: code", "2M remap fenced by another page: data",
        "2M remap fenced by another page: code", "global page in B", "global page in A",
        "global remap fenced for all asids (A)", "global remap fenced for all asids (B)",
        "fence whole asid: data", "fence whole asid: code", "round robin: data", "round robin: code",
        "round robin: global",
    };
    for (int i = 0; i < (int)(sizeof what / sizeof what[0]); i++)
        CHECK(what[i], (f >> i) & 1, 0);
    CHECK("no other failure bits", f >> (sizeof what / sizeof what[0]), 0);
    CHECK("satp back to Bare", csr_read(satp), 0);
    return test_end();
}
