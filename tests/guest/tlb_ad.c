/*
 * tlb_ad.c - the software TLB must be a pure cache of the page walk
 * (issue 8). S-mode code under Sv39 clears A (and separately D) in a leaf
 * PTE with a plain store and no sfence.vma, as Linux's
 * ptep_clear_flush_young does, then touches the page (load, store, fetch)
 * and counts how often the walk set the bit again. The privileged spec
 * allows a TLB to keep the stale entry, but rrvm's TLB must not, because
 * then the result would depend on when the TLB happened to be flushed
 * (checkpoints, snapshots): each touch must set the bit again, every time.
 * (QEMU keeps the stale entry, so this test is for rrvm only.)
 *
 * Layout: VA 0x80000000 (1G, RWX) is the identity map of the image, so the
 * page tables are written through it; VA 0x40000000 is a data page and VA
 * 0x40001000 an executable page, both 4K leaves of one level-0 table.
 */
#include "libtest.h"

#define PTE_V 0x01ul
#define PTE_R 0x02ul
#define PTE_W 0x04ul
#define PTE_X 0x08ul
#define PTE_A 0x40ul
#define PTE_D 0x80ul
#define TESTVA 0x40000000ul
#define ITERS 300

static u64 root[512] __attribute__((aligned(4096)));
static u64 l1[512] __attribute__((aligned(4096)));
static u64 l0[512] __attribute__((aligned(4096)));
static u64 data[512] __attribute__((aligned(4096)));

__asm__(".text\n.balign 4096\n.globl tlb_code_page\ntlb_code_page:\n    li a0, 42\n    ret\n.balign 4096\n");
extern char tlb_code_page[];


/* In S: clear `bit` in *ptep, then touch the page the way that sets it
 * again (kind: 0 load, 1 store, 2 fetch); count the times it was set. */
static u64 count_comebacks(volatile u64 *ptep, u64 bit, int kind)
{
    u64 n = 0, sum = 0;
    for (int i = 0; i < ITERS; i++) {
        *ptep &= ~bit;
        if (kind == 0)
            sum += *(volatile u64 *)TESTVA;
        else if (kind == 1)
            *(volatile u64 *)(TESTVA + 8) = (u64)i;
        else
            sum += ((u64(*)(void))(TESTVA + 0x1000))();
        if (*ptep & bit)
            n++;
    }
    return n + (kind != 1 && sum == 0 ? 1000000 : 0); /* loads and fetches read something */
}

static u64 s_load_a(u64 arg) { return count_comebacks((volatile u64 *)arg, PTE_A, 0); }
static u64 s_store_a(u64 arg) { return count_comebacks((volatile u64 *)arg, PTE_A, 1); }
static u64 s_store_d(u64 arg) { return count_comebacks((volatile u64 *)arg, PTE_D, 1); }
static u64 s_fetch_a(u64 arg) { return count_comebacks((volatile u64 *)(arg + 8), PTE_A, 2); }

int main(void)
{
    test_begin("tlb_ad");
    root[2] = pte(0x80000000, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
    root[1] = pte((u64)l1, PTE_V);
    l1[0] = pte((u64)l0, PTE_V);
    l0[0] = pte((u64)data, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    l0[1] = pte((u64)tlb_code_page, PTE_V | PTE_X | PTE_A);
    data[0] = 7;
    csr_write(satp, (8ul << 60) | ((u64)root >> 12));
    __asm__ volatile("sfence.vma" ::: "memory");

    u64 load_a = lower_call(PRV_S, (u64)s_load_a, (u64)&l0[0], 0);
    u64 store_a = lower_call(PRV_S, (u64)s_store_a, (u64)&l0[0], 0);
    u64 store_d = lower_call(PRV_S, (u64)s_store_d, (u64)&l0[0], 0);
    u64 fetch_a = lower_call(PRV_S, (u64)s_fetch_a, (u64)&l0[0], 0);
    csr_write(satp, 0);
    __asm__ volatile("sfence.vma" ::: "memory");

    tprintf("A set again by a load: %lu of %d\n", load_a, ITERS);
    tprintf("A set again by a store: %lu of %d\n", store_a, ITERS);
    tprintf("D set again by a store: %lu of %d\n", store_d, ITERS);
    tprintf("A set again by a fetch: %lu of %d\n", fetch_a, ITERS);
    CHECK("A set again by every load", load_a, ITERS);
    CHECK("A set again by every store", store_a, ITERS);
    CHECK("D set again by every store", store_d, ITERS);
    CHECK("A set again by every fetch", fetch_a, ITERS);
    CHECK("last store reached memory", data[1], ITERS - 1);
    CHECK("PTE flags at the end", l0[0] & 0xff, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    return test_end();
}
