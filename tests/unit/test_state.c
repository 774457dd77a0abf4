/*
 * test_state.c - whole-machine state: a guest reset in place, saving only
 * what the guest touched, and all-or-nothing loading.
 *
 *  - machine_reset + board_load keeps the Machine pointer and yields exactly
 *    the state (machine_save bytes, digest) of a fresh machine booted at the
 *    same icount; two reset runs stay identical afterwards.
 *  - machine_save of a big, barely touched machine is small, and a page
 *    written back to zero is left out.
 *  - machine_load of truncations (every length in the core state and around
 *    every RAM page record boundary, every 61st inside page data) and of
 *    many random bit flips of a
 *    running 2-hart machine's blob either fails with the target's
 *    machine_save output unchanged, or succeeds; never crashes (run under
 *    ASan too).
 *
 * The guest is a raw image booted with -bios none on the virt board: it
 * stores an incrementing counter one page (+8 bytes) apart, forever, so
 * RAM written grows with the instructions run.
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
#include "machine/dev/uart16550.h"
#include "replay/checkpoint.h"

/* auipc t0,0x10; li t2,4104; li t1,1; loop: sd t1,0(t0); addi t1,t1,1;
 * add t0,t0,t2; j loop */
static const uint8_t PROG[] = {
    0x97, 0x02, 0x01, 0x00, 0x85, 0x63, 0xa1, 0x23, 0x05, 0x43,
    0x23, 0xb0, 0x62, 0x00, 0x05, 0x03, 0x9e, 0x92, 0xe5, 0xbf,
};

static uint64_t host_wallclock(void *opaque) { return 1767225600000000000ull; }
static void host_random(void *opaque, uint8_t *buf, size_t n) { memset(buf, 0x5a, n); }
static void host_console(void *opaque, const uint8_t *buf, size_t n) {}

static Machine *boot(uint64_t ram, uint64_t icount)
{
    MachineConfig cfg = {.ram_size = ram, .nharts = 2, .icount_shift = 1, .board_virt = true,
                         .quantum = 7};
    MachineHostIf host = {NULL, host_wallclock, host_random, host_console};
    Machine *m = machine_new(&cfg, &host);
    assert_non_null(m);
    m->icount = icount;
    BootImages img = {.kernel = {PROG, sizeof PROG}};
    char err[256];
    assert_true(board_load(m, &img, err, sizeof err));
    return m;
}

static void save(const Machine *m, SerWriter *w)
{
    ser_writer_init(w);
    machine_save(m, w);
    assert_false(w->oom);
}

static void assert_same_state(const Machine *a, const Machine *b)
{
    SerWriter wa, wb;
    save(a, &wa);
    save(b, &wb);
    assert_int_equal(wa.len, wb.len);
    assert_true(memcmp(wa.buf, wb.buf, wa.len) == 0);
    ser_writer_free(&wa);
    ser_writer_free(&wb);
    assert_true(checkpoint_machine_digest(a) == checkpoint_machine_digest(b));
}

static void reboot(Machine *m)
{
    BootImages img = {.kernel = {PROG, sizeof PROG}};
    char err[256];
    machine_reset(m);
    assert_true(board_load(m, &img, err, sizeof err));
}

static void test_reset_in_place_equals_fresh_boot(void **state)
{
    Machine *a = boot(16 << 20, 0), *c = boot(16 << 20, 0);
    assert_int_equal(machine_run(a, 3001), MSTOP_LIMIT);
    assert_int_equal(machine_run(c, 3001), MSTOP_LIMIT);
    uart16550_receive(a->uart, 'x'); /* device state that a reset must clear */
    uart16550_receive(c->uart, 'x');
    a->harts[1]->mscratch = 42;
    c->harts[1]->mscratch = 42;
    Machine *before = a;
    reboot(a);
    reboot(c);
    assert_ptr_equal(a, before);
    assert_int_equal(a->icount, 3001);

    /* the state a fresh machine booted at this icount has */
    Machine *fresh = boot(16 << 20, 3001);
    fresh->idle_ns = a->idle_ns;
    assert_same_state(a, fresh);
    /* and it runs the same afterwards: two reset runs, one fresh run */
    assert_int_equal(machine_run(a, 5000), MSTOP_LIMIT);
    assert_int_equal(machine_run(c, 5000), MSTOP_LIMIT);
    assert_int_equal(machine_run(fresh, 5000), MSTOP_LIMIT);
    assert_same_state(a, c);
    assert_same_state(a, fresh);
    machine_free(a);
    machine_free(c);
    machine_free(fresh);
}

static void test_save_follows_touched_pages(void **state)
{
    Machine *m = boot(1ull << 30, 0);
    assert_int_equal(machine_run(m, 41), MSTOP_LIMIT); /* 10 pages written */
    SerWriter w;
    save(m, &w);
    /* core + image page + dtb/info pages + 10 counter pages, not 1 GiB */
    assert_true(w.len < 64 * 1024);
    size_t len_before = w.len;
    ser_writer_free(&w);
    /* a page written back to zero is left out again */
    uint64_t zero = 0;
    assert_true(machine_phys_write(m, RAM_BASE + 0x10000, &zero, 8));
    save(m, &w);
    assert_int_equal(w.len, len_before - 8 - PAGE_SIZE);

    /* loading it into another machine reproduces the state exactly */
    Machine *t = boot(1ull << 30, 77);
    assert_int_equal(machine_run(t, 300), MSTOP_LIMIT);
    SerReader r;
    ser_reader_init(&r, w.buf, w.len);
    assert_true(machine_load(t, &r));
    assert_same_state(m, t);
    ser_writer_free(&w);
    machine_free(m);
    machine_free(t);
}

/* Load `len` bytes of `blob` into t: either it fails and t's state is
 * `before` byte for byte, or it succeeds (t is then put back). */
static bool try_load(Machine *t, const uint8_t *blob, size_t len, const SerWriter *before)
{
    SerReader r;
    ser_reader_init(&r, blob, len);
    bool ok = machine_load(t, &r);
    if (!ok)
        assert_non_null(r.err);
    SerWriter after;
    save(t, &after);
    if (!ok) {
        assert_int_equal(after.len, before->len);
        assert_true(memcmp(after.buf, before->buf, before->len) == 0);
    } else {
        ser_reader_init(&r, before->buf, before->len);
        assert_true(machine_load(t, &r));
    }
    ser_writer_free(&after);
    return ok;
}

static void test_load_is_all_or_nothing(void **state)
{
    Machine *src = boot(4 << 20, 0);
    assert_int_equal(machine_run(src, 23), MSTOP_LIMIT); /* a few pages, both harts mid-turn */
    uart16550_receive(src->uart, 'q');
    SerWriter blob;
    save(src, &blob);

    Machine *t = boot(4 << 20, 5);
    assert_int_equal(machine_run(t, 1001), MSTOP_LIMIT); /* other pages written */
    SerWriter before;
    save(t, &before);

    /* every cut in the core state and around each RAM page record's
     * boundaries; inside page data (one length check covers it) every 61st */
    SerWriter core;
    ser_writer_init(&core);
    machine_save_core(src, &core);
    size_t core_len = core.len + 8, rec = 8 + PAGE_SIZE;
    ser_writer_free(&core);
    for (size_t cut = 0; cut < blob.len; cut++) {
        size_t in_rec = cut < core_len ? 0 : (cut - core_len) % rec;
        if (cut < core_len || in_rec < 24 || in_rec > rec - 8 || cut % 61 == 0)
            assert_false(try_load(t, blob.buf, cut, &before));
    }
    /* trailing bytes are ignored by design (the caller frames the blob) but
     * the whole blob loads */
    assert_true(try_load(t, blob.buf, blob.len, &before));

    uint8_t *copy = malloc(blob.len);
    assert_non_null(copy);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int failed = 0;
    for (int i = 0; i < 2000; i++) {
        memcpy(copy, blob.buf, blob.len);
        int nflips = 1 + i % 3;
        for (int k = 0; k < nflips; k++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            /* half the flips land in the core state before RAM */
            size_t span = (i & 1) ? blob.len : (blob.len < 4096 ? blob.len : 4096);
            size_t at = (size_t)(seed >> 8) % span;
            copy[at] ^= (uint8_t)(1u << (seed & 7));
        }
        failed += !try_load(t, copy, blob.len, &before);
    }
    assert_true(failed > 100); /* the flips did reach the checks */
    free(copy);

    /* the loaded state equals the source */
    SerReader r;
    ser_reader_init(&r, blob.buf, blob.len);
    assert_true(machine_load(t, &r));
    assert_same_state(src, t);
    ser_writer_free(&blob);
    ser_writer_free(&before);
    machine_free(src);
    machine_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_in_place_equals_fresh_boot),
        cmocka_unit_test(test_save_follows_touched_pages),
        cmocka_unit_test(test_load_is_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
