/*
 * test_ckstore.c - in-memory checkpoints (src/replay/ckstore.c) restore the
 * machine exactly, within their memory budget.
 *
 * What is checked:
 *  - random sequences of (advance, take, restore to a random target,
 *    truncate) over a synthetic timeline: after every restore and after
 *    every step forward, machine_save() output is byte-identical to the
 *    reference blob saved the first time that icount was reached, and the
 *    caller's extra blob comes back; stats.bytes <= budget after each take;
 *    the checkpoints held are a subset of those taken that keeps the oldest
 *    and the newest; thinning happens and restores after it stay exact;
 *  - the same with a real guest run by machine_run() (stores through the
 *    write TLB, so DIRTY_TIMETRAVEL marking after restores is exercised),
 *    with checkpoints inserted between existing ones after going back;
 *  - the first checkpoint holds only nonzero pages; a second take at the
 *    same icount adds nothing; a restore before the oldest fails and leaves
 *    the machine alone; after a restore no page is dirty for the store and
 *    rewritten pages are dirty for digests; truncation (also of the current
 *    base) and ckstore_clear; spacing is denser near the current icount;
 *  - ckstore_forget_ram (a guest reset rebuilt the Machine) makes takes and
 *    restores on the new machine exact again.
 *
 * The synthetic timeline: the state at icount T is a pure function of T
 * (each step of STEP instructions applies mutations seeded by its icount:
 * random page fills, small writes, zeroed pages, pages rewritten with
 * their own content, register and pc changes), so any path to T must give
 * the same bytes.
 *
 * The guest (raw image at 0x80000000 on the bare board) was built from
 *   _start: li s0, 0x80010000; li s2, 0x3fff8; li s1, 0x2545f4914f6cdd1d; li s3, 0
 *   loop:   (xorshift64 s1: <<13 >>7 <<17)
 *           and t1, s1, s2; add t1, t1, s0; sd s1, 0(t1)       (a random dword of 64 pages)
 *           addi s3, s3, 1; andi t2, s3, 255; bnez t2, loop
 *           srli t1, s1, 40; and t1, t1, s2; add t1, t1, s0; sd zero, 0(t1); j loop
 * with riscv64-unknown-elf-gcc -march=rv64gc -nostdlib -Wl,-Ttext=0x80000000
 * and objcopy -O binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "machine/board.h"
#include "machine/cpu/hart.h"
#include "replay/ckstore.h"

static const uint32_t prog_words[] = {
    0x24056421, 0x09370442, 0x39610004, 0x002544b7, 0x5f54849b, 0x849304b2, 0x04be9154, 0xb6748493,
    0x849304b6, 0x4981d1d4, 0x00d49293, 0x0054c4b3, 0x0074d293, 0x0054c4b3, 0x01149293, 0x0054c4b3,
    0x0124f333, 0x30239322, 0x09850093, 0x0ff9f393, 0xfc039ce3, 0x0284d313, 0x01237333, 0x30239322,
    0xb7d90003,
};

#define SYN_RAM (256u << 10) /* 64 pages */
#define SYN_PAGES (SYN_RAM / PAGE_SIZE)
#define STEP 1000u
#define MAX_STEPS 200u
#define GUEST_RAM (512u << 10)
#define GRID 700u            /* guest: references at multiples of GRID */
#define GUEST_MAX_GRID 120u

/* --- rig --- */

static uint64_t host_wallclock(void *opaque) { return 1767225600000000000ull; }
static void host_random(void *opaque, uint8_t *buf, size_t n) { memset(buf, 0x5a, n); }
static void host_console(void *opaque, const uint8_t *buf, size_t n) {}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static Machine *new_bare(uint64_t ram, int nharts)
{
    MachineConfig cfg = {.ram_size = ram, .nharts = nharts, .board_virt = false, .quantum = 97};
    MachineHostIf host = {NULL, host_wallclock, host_random, host_console};
    Machine *m = machine_new(&cfg, &host);
    assert_non_null(m);
    return m;
}

static uint8_t *save_blob(const Machine *m, size_t *len)
{
    SerWriter w;
    ser_writer_init(&w);
    machine_save(m, &w);
    assert_false(w.oom);
    *len = w.len;
    return w.buf;
}

/* References: the machine_save blob at each icount, by slot. */
typedef struct Refs {
    uint8_t *blob[GUEST_MAX_GRID > MAX_STEPS ? GUEST_MAX_GRID + 1 : MAX_STEPS + 1];
    size_t len[GUEST_MAX_GRID > MAX_STEPS ? GUEST_MAX_GRID + 1 : MAX_STEPS + 1];
    unsigned compared;
} Refs;

/* Record the state as slot's reference, or check it against it. */
static void ref_check(Refs *refs, unsigned slot, const Machine *m)
{
    size_t len;
    uint8_t *b = save_blob(m, &len);
    if (!refs->blob[slot]) {
        refs->blob[slot] = b;
        refs->len[slot] = len;
        return;
    }
    assert_int_equal(len, refs->len[slot]);
    if (memcmp(b, refs->blob[slot], len) != 0)
        fail_msg("state at slot %u (icount %llu) differs from its reference", slot,
                 (unsigned long long)m->icount);
    refs->compared++;
    free(b);
}

static void refs_free(Refs *refs)
{
    for (size_t i = 0; i < sizeof refs->blob / sizeof refs->blob[0]; i++)
        free(refs->blob[i]);
}

static void check_budget(const CkStore *cs)
{
    CkStoreStats st;
    ckstore_stats(cs, &st);
    if (st.bytes > st.budget)
        fail_msg("store holds %llu bytes, budget %llu", (unsigned long long)st.bytes,
                 (unsigned long long)st.budget);
}

/* The icounts the store holds, found by probing every candidate. */
static void check_held(const CkStore *cs, const bool *taken, unsigned nslots, uint64_t unit)
{
    CkStoreStats st;
    ckstore_stats(cs, &st);
    uint64_t lo = UINT64_MAX, hi = 0, held = 0, prev = UINT64_MAX;
    for (unsigned s = 0; s <= nslots; s++)
        if (taken[s]) {
            lo = lo < s * unit ? lo : s * unit;
            hi = s * unit;
        }
    for (unsigned s = 0; s <= nslots; s++) {
        uint64_t ic;
        if (!ckstore_find(cs, s * unit, &ic))
            continue;
        assert_true(ic <= s * unit && ic % unit == 0 && taken[ic / unit]);
        if (ic != prev)
            held++;
        prev = ic;
    }
    assert_int_equal(held, st.count);
    if (st.count) {
        assert_int_equal(st.oldest, lo); /* never dropped */
        assert_int_equal(st.newest, hi);
    } else {
        assert_int_equal(lo, UINT64_MAX);
    }
}

/* --- synthetic timeline --- */

static void syn_step(Machine *m)
{
    m->icount += STEP;
    uint64_t s = m->icount * 0x5851f42d4c957f2dull;
    uint64_t nmut = splitmix(&s) % 5;
    uint8_t buf[PAGE_SIZE];
    for (uint64_t i = 0; i < nmut; i++) {
        uint64_t page = splitmix(&s) % SYN_PAGES, pa = RAM_BASE + page * PAGE_SIZE;
        switch (splitmix(&s) % 4) {
        case 0:
            for (size_t j = 0; j < PAGE_SIZE; j += 8) {
                uint64_t v = splitmix(&s);
                memcpy(buf + j, &v, 8);
            }
            assert_true(machine_phys_write(m, pa, buf, PAGE_SIZE));
            break;
        case 1: {
            uint64_t v = splitmix(&s);
            assert_true(machine_phys_write(m, pa + (splitmix(&s) % (PAGE_SIZE - 8)), &v, 8));
            break;
        }
        case 2:
            memset(buf, 0, PAGE_SIZE);
            assert_true(machine_phys_write(m, pa, buf, PAGE_SIZE));
            break;
        default: /* written, unchanged */
            assert_true(machine_phys_read(m, pa, buf, PAGE_SIZE));
            assert_true(machine_phys_write(m, pa, buf, PAGE_SIZE));
            break;
        }
    }
    Hart *h = m->harts[splitmix(&s) % (uint64_t)m->nharts];
    h->x[1 + splitmix(&s) % 31] = splitmix(&s);
    h->pc = RAM_BASE + 4 * (splitmix(&s) % 1024);
    m->idle_ns += splitmix(&s) % 3;
}

static void take(CkStore *cs, Machine *m)
{
    uint64_t ic = m->icount;
    assert_true(ckstore_take(cs, m, &ic, sizeof ic));
    check_budget(cs);
}

/* Restore the latest checkpoint at or before target; check it against the
 * references and return whether there was one. */
static bool restore_check(CkStore *cs, Machine *m, uint64_t target, Refs *refs, uint64_t unit)
{
    uint64_t expect;
    bool has = ckstore_find(cs, target, &expect);
    uint64_t before = m->icount;
    const void *extra = NULL;
    size_t extra_len = 0;
    bool ok = ckstore_restore(cs, m, target, &extra, &extra_len);
    assert_int_equal(ok, has);
    if (!ok) {
        assert_int_equal(m->icount, before);
        return false;
    }
    assert_int_equal(m->icount, expect);
    assert_int_equal(extra_len, sizeof(uint64_t));
    uint64_t got;
    memcpy(&got, extra, sizeof got);
    assert_int_equal(got, expect);
    assert_true(expect % unit == 0);
    ref_check(refs, (unsigned)(expect / unit), m);
    return true;
}

static void synthetic_random(uint64_t seed, uint64_t budget, unsigned iters)
{
    Machine *m = new_bare(SYN_RAM, 2);
    CkStore *cs = ckstore_new(m, budget);
    assert_non_null(cs);
    Refs *refs = calloc(1, sizeof *refs);
    bool taken[MAX_STEPS + 1] = {0};
    unsigned thinned = 0, restores = 0;
    ref_check(refs, 0, m);
    for (unsigned it = 0; it < iters; it++) {
        unsigned op = (unsigned)(splitmix(&seed) % 20);
        if (op < 8) {
            unsigned k = 1 + (unsigned)(splitmix(&seed) % 4);
            for (unsigned j = 0; j < k && m->icount / STEP < MAX_STEPS; j++) {
                syn_step(m);
                ref_check(refs, (unsigned)(m->icount / STEP), m);
            }
        } else if (op < 13) {
            take(cs, m);
            taken[m->icount / STEP] = true;
        } else if (op < 19) {
            uint64_t target = splitmix(&seed) % ((MAX_STEPS + 1) * STEP);
            restores += restore_check(cs, m, target, refs, STEP);
        } else if (splitmix(&seed) % 4 == 0) {
            uint64_t after = splitmix(&seed) % ((MAX_STEPS + 1) * STEP);
            ckstore_truncate_after(cs, after);
            /* what thinning dropped is gone: the newest is now whatever
             * survived at or before `after` */
            for (unsigned s = 0; s <= MAX_STEPS; s++) {
                uint64_t ic;
                taken[s] = s * (uint64_t)STEP <= after && ckstore_find(cs, s * (uint64_t)STEP, &ic) &&
                           ic == s * (uint64_t)STEP;
            }
        }
        check_held(cs, taken, MAX_STEPS, STEP);
        CkStoreStats st;
        ckstore_stats(cs, &st);
        unsigned ntaken = 0;
        for (unsigned s = 0; s <= MAX_STEPS; s++)
            ntaken += taken[s];
        thinned += st.count < ntaken;
    }
    assert_true(restores > iters / 8);
    assert_true(refs->compared > iters / 5);
    if (budget < 4u << 20)
        assert_true(thinned > 0);
    ckstore_free(cs);
    refs_free(refs);
    free(refs);
    machine_free(m);
}

static void test_synthetic_random_tight(void **state)
{
    /* two full copies of RAM and a little more: constant thinning */
    for (uint64_t seed = 1; seed <= 4; seed++)
        synthetic_random(seed, 600u << 10, 1500);
}

static void test_synthetic_random_roomy(void **state)
{
    synthetic_random(77, 64u << 20, 1500);
}

/* --- guest timeline --- */

static Machine *new_guest(void)
{
    Machine *m = new_bare(GUEST_RAM, 1);
    uint8_t image[sizeof prog_words];
    for (size_t i = 0; i < sizeof prog_words / 4; i++)
        for (int b = 0; b < 4; b++)
            image[4 * i + (size_t)b] = (uint8_t)(prog_words[i] >> (8 * b));
    BootImages img = {.kernel = {image, sizeof image}};
    char err[256];
    if (!board_load(m, &img, err, sizeof err))
        fail_msg("board_load: %s", err);
    assert_int_equal(m->harts[0]->pc, RAM_BASE);
    return m;
}

static void run_to(Machine *m, uint64_t target)
{
    while (m->icount < target)
        assert_int_equal(machine_run(m, target), MSTOP_LIMIT);
}

static void test_guest_random(void **state)
{
    uint64_t seed = 4242;
    Machine *m = new_guest();
    CkStore *cs = ckstore_new(m, 1u << 20); /* ~3 copies of the 64 pages written */
    Refs *refs = calloc(1, sizeof *refs);
    bool taken[GUEST_MAX_GRID + 1] = {0};
    unsigned restores = 0;
    ref_check(refs, 0, m);
    for (unsigned it = 0; it < 600; it++) {
        unsigned op = (unsigned)(splitmix(&seed) % 10);
        uint64_t slot = m->icount / GRID;
        if (op < 4) {
            uint64_t to = slot + 1 + splitmix(&seed) % 3;
            if (to > GUEST_MAX_GRID)
                continue;
            run_to(m, to * GRID);
            ref_check(refs, (unsigned)to, m);
        } else if (op < 6) {
            take(cs, m);
            taken[slot] = true;
        } else {
            uint64_t target = splitmix(&seed) % ((GUEST_MAX_GRID + 1) * GRID);
            restores += restore_check(cs, m, target, refs, GRID);
        }
        check_held(cs, taken, GUEST_MAX_GRID, GRID);
    }
    assert_true(restores > 100);
    assert_true(refs->compared > 200);
    ckstore_free(cs);
    refs_free(refs);
    free(refs);
    machine_free(m);
}

/* --- single behaviours --- */

static void test_first_take_skips_zero_pages(void **state)
{
    Machine *m = new_bare(SYN_RAM, 1);
    CkStore *cs = ckstore_new(m, 64u << 20);
    uint8_t one = 1;
    assert_true(machine_phys_write(m, RAM_BASE + 5 * PAGE_SIZE + 7, &one, 1));
    assert_true(machine_phys_write(m, RAM_BASE + 9 * PAGE_SIZE, &one, 1));
    take(cs, m);
    CkStoreStats st;
    ckstore_stats(cs, &st);
    assert_int_equal(st.count, 1);
    assert_int_equal(st.pages, 2);
    /* same icount again: not taken twice */
    take(cs, m);
    ckstore_stats(cs, &st);
    assert_int_equal(st.count, 1);
    ckstore_free(cs);
    machine_free(m);
}

static void test_restore_before_oldest_fails(void **state)
{
    Machine *m = new_bare(SYN_RAM, 1);
    CkStore *cs = ckstore_new(m, 64u << 20);
    syn_step(m);
    take(cs, m);
    syn_step(m);
    size_t l1, l2;
    uint8_t *b1 = save_blob(m, &l1);
    assert_false(ckstore_restore(cs, m, STEP - 1, NULL, NULL));
    uint8_t *b2 = save_blob(m, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    free(b1);
    free(b2);
    ckstore_free(cs);
    machine_free(m);
}

static void test_dirty_bits_after_restore(void **state)
{
    Machine *m = new_bare(SYN_RAM, 1);
    CkStore *cs = ckstore_new(m, 64u << 20);
    take(cs, m);
    machine_dirty_reset(m, DIRTY_DIGEST);
    uint8_t v = 0xab;
    m->icount += 10;
    assert_true(machine_phys_write(m, RAM_BASE + 3 * PAGE_SIZE, &v, 1));
    machine_dirty_reset(m, DIRTY_DIGEST);
    assert_true(ckstore_restore(cs, m, 10, NULL, NULL));
    assert_int_equal(m->icount, 0);
    assert_int_equal(m->ram[3 * PAGE_SIZE], 0);
    for (size_t p = 0; p < SYN_PAGES; p++) {
        assert_false(m->dirty_pages[p] & DIRTY_TIMETRAVEL);
        assert_int_equal(!!(m->dirty_pages[p] & DIRTY_DIGEST), p == 3);
    }
    ckstore_free(cs);
    machine_free(m);
}

/* Truncating the base: the store remembers which pages may differ. */
static void test_truncate(void **state)
{
    Machine *m = new_bare(SYN_RAM, 2);
    CkStore *cs = ckstore_new(m, 64u << 20);
    Refs *refs = calloc(1, sizeof *refs);
    bool taken[MAX_STEPS + 1] = {0};
    ref_check(refs, 0, m);
    for (unsigned s = 1; s <= 6; s++) {
        syn_step(m);
        ref_check(refs, s, m);
        take(cs, m);
        taken[s] = true;
    }
    syn_step(m); /* icount 7 steps, base at 6 steps */
    ref_check(refs, 7, m);
    ckstore_truncate_after(cs, 3 * STEP + 5);
    taken[4] = taken[5] = taken[6] = false;
    check_held(cs, taken, MAX_STEPS, STEP);
    /* the store must notice pages of 4..6 and of 7 when taking at 7 */
    take(cs, m);
    taken[7] = true;
    check_held(cs, taken, MAX_STEPS, STEP);
    for (unsigned s = 1; s <= 7; s++) {
        assert_true(restore_check(cs, m, s * STEP, refs, STEP));
        assert_int_equal(m->icount, (s <= 3 ? s : s < 7 ? 3 : 7) * STEP);
    }
    /* truncate the base again, then restore without taking */
    ckstore_truncate_after(cs, 2 * STEP);
    taken[3] = taken[7] = false;
    check_held(cs, taken, MAX_STEPS, STEP);
    assert_true(restore_check(cs, m, 10 * STEP, refs, STEP));
    assert_int_equal(m->icount, 2 * STEP);
    /* everything: the next take starts again from a full copy */
    ckstore_truncate_after(cs, 0);
    taken[1] = taken[2] = false;
    check_held(cs, taken, MAX_STEPS, STEP);
    syn_step(m);
    take(cs, m);
    syn_step(m);
    syn_step(m);
    assert_true(restore_check(cs, m, 100 * STEP, refs, STEP));
    assert_int_equal(m->icount, 3 * STEP);
    ckstore_clear(cs);
    CkStoreStats st;
    ckstore_stats(cs, &st);
    assert_int_equal(st.count, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(st.pages, 0);
    assert_false(ckstore_restore(cs, m, 100 * STEP, NULL, NULL));
    ckstore_free(cs);
    refs_free(refs);
    free(refs);
    machine_free(m);
}

/* Thinning keeps checkpoints dense near the current icount. */
static void test_spacing(void **state)
{
    Machine *m = new_bare(SYN_RAM, 1);
    CkStore *cs = ckstore_new(m, 600u << 10); /* > 2 copies of RAM: oldest + newest */
    for (unsigned s = 0; s < MAX_STEPS; s++) {
        syn_step(m);
        take(cs, m);
    }
    CkStoreStats st;
    ckstore_stats(cs, &st);
    assert_true(st.count >= 3 && st.count < MAX_STEPS / 2);
    assert_int_equal(st.oldest, STEP);
    assert_int_equal(st.newest, MAX_STEPS * STEP);
    /* gaps from the newest backwards grow (not strictly, on average) */
    uint64_t ics[MAX_STEPS];
    unsigned n = 0;
    uint64_t at = st.newest;
    for (;;) {
        uint64_t ic;
        if (!ckstore_find(cs, at, &ic))
            break;
        ics[n++] = ic;
        if (ic == 0)
            break;
        at = ic - 1;
    }
    assert_int_equal(n, st.count);
    assert_true(n >= 4);
    uint64_t near_gap = ics[0] - ics[1], far_gap = ics[n - 2] - ics[n - 1];
    if (near_gap >= far_gap)
        fail_msg("gap near the current icount %llu, far %llu", (unsigned long long)near_gap,
                 (unsigned long long)far_gap);
    ckstore_free(cs);
    machine_free(m);
}

/* A guest reset rebuilds the Machine: a fresh object, fresh RAM. */
static void test_machine_replaced(void **state)
{
    Machine *m = new_bare(SYN_RAM, 2);
    CkStore *cs = ckstore_new(m, 64u << 20);
    Refs *refs = calloc(1, sizeof *refs);
    for (unsigned s = 1; s <= 3; s++) {
        syn_step(m);
        ref_check(refs, s, m);
        take(cs, m);
    }
    syn_step(m);
    ref_check(refs, 4, m);
    /* the new machine carries on from step 4 with a clean dirty map and
     * different RAM than the store believes */
    Machine *m2 = new_bare(SYN_RAM, 2);
    size_t len;
    uint8_t *b = save_blob(m, &len);
    SerReader r;
    ser_reader_init(&r, b, len);
    assert_true(machine_load(m2, &r));
    free(b);
    machine_free(m);
    m = m2;
    machine_dirty_reset(m, DIRTY_ALL);
    ckstore_forget_ram(cs);
    take(cs, m);
    syn_step(m);
    ref_check(refs, 5, m);
    for (unsigned s = 1; s <= 5; s++) {
        assert_true(restore_check(cs, m, s * STEP, refs, STEP));
        assert_int_equal(m->icount, (s < 5 ? s : 4) * STEP);
    }
    /* and straight after being replaced, a restore rewrites everything */
    ckstore_forget_ram(cs);
    memset(m->ram, 0x77, SYN_RAM);
    assert_true(restore_check(cs, m, 2 * STEP, refs, STEP));
    ckstore_free(cs);
    refs_free(refs);
    free(refs);
    machine_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_take_skips_zero_pages),
        cmocka_unit_test(test_restore_before_oldest_fails),
        cmocka_unit_test(test_dirty_bits_after_restore),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_spacing),
        cmocka_unit_test(test_machine_replaced),
        cmocka_unit_test(test_synthetic_random_tight),
        cmocka_unit_test(test_synthetic_random_roomy),
        cmocka_unit_test(test_guest_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
