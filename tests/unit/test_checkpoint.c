/*
 * test_checkpoint.c - state digests: identical machines verify, and a
 * single flipped register, CSR, RAM byte or device byte is named in the
 * divergence report; digest checkpoints detect the same flips and the next
 * full one names them; the recording side's checkpoint schedule.
 *
 * Machines are built by hand (RAM, dirty map, calloc'd harts), so the test
 * does not depend on board construction. Device state comes from a fake
 * device list hung off m->host.opaque and enumerated through the
 * CheckpointState hook. A last test runs the same checks on real machines
 * (machine_new) with their real devices.
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
#include "replay/checkpoint.h"
#include "replay/log.h"

#define TEST_RAM (64 * 1024)
#define TEST_HARTS 2

typedef struct FakeDevices {
    uint8_t uart[16];
    uint8_t clint[24];
} FakeDevices;

static void fake_devices(const Machine *m, CheckpointDeviceFn fn, void *ctx)
{
    const FakeDevices *d = m->host.opaque;
    fn(ctx, "uart", d->uart, sizeof d->uart);
    fn(ctx, "clint", d->clint, sizeof d->clint);
}

typedef struct Rig {
    Machine *m;
    FakeDevices dev;
    CheckpointState cs;
} Rig;

static Rig *rig_new(void)
{
    Rig *r = calloc(1, sizeof *r);
    Machine *m = calloc(1, sizeof *m);
    m->ram_size = TEST_RAM;
    m->cfg.ram_size = TEST_RAM;
    m->cfg.nharts = TEST_HARTS;
    m->ram = calloc(1, TEST_RAM);
    m->dirty_pages = calloc(TEST_RAM >> PAGE_SHIFT, 1);
    m->code_pages = calloc(TEST_RAM >> PAGE_SHIFT, 1);
    m->nharts = TEST_HARTS;
    for (int i = 0; i < TEST_HARTS; i++) {
        Hart *h = hart_new(m, (uint64_t)i); /* pc = RAM_BASE, M-mode, empty TLB */
        assert_non_null(h);
        m->harts[i] = h;
    }
    /* the same "boot image" on every rig */
    for (int i = 0; i < TEST_RAM; i += 7)
        m->ram[i] = (uint8_t)(i * 13);
    memset(m->dirty_pages, DIRTY_ALL, TEST_RAM >> PAGE_SHIFT); /* as the loader marks */
    m->host.opaque = &r->dev;
    r->m = m;
    memcpy(r->dev.uart, "uart-state-0123", 16);
    assert_true(checkpoint_init(&r->cs, m));
    r->cs.foreach_device = fake_devices;
    return r;
}

static void rig_free(Rig *r)
{
    checkpoint_free(&r->cs);
    for (int i = 0; i < r->m->nharts; i++)
        hart_free(r->m->harts[i]);
    free(r->m->ram);
    free(r->m->dirty_pages);
    free(r->m->code_pages);
    free(r->m);
    free(r);
}

/* The same deterministic "execution" on both sides. */
static void run_some(Rig *r, uint64_t step)
{
    Machine *m = r->m;
    m->icount += 1000;
    for (int i = 0; i < m->nharts; i++) {
        Hart *h = m->harts[i];
        h->pc += 4 * step;
        h->x[10] = step;
        h->instret += 500;
        h->f[3] = 0xffffffff3f800000ull;
    }
    size_t off = (size_t)(0x1000 * (step % 8) + 0x10);
    m->ram[off] ^= (uint8_t)step;
    m->dirty_pages[off >> PAGE_SHIFT] = DIRTY_ALL;
    r->dev.clint[0] = (uint8_t)step;
}

static bool checkpoint_pair(Rig *rec, Rig *rpl, char *report, size_t cap)
{
    SerWriter w;
    ser_writer_init(&w);
    checkpoint_capture(rec->m, &rec->cs, &w);
    assert_false(w.oom);
    bool ok = checkpoint_verify(rpl->m, &rpl->cs, w.buf, w.len, report, cap);
    ser_writer_free(&w);
    return ok;
}

static void test_equal_states_verify(void **state)
{
    Rig *a = rig_new(), *b = rig_new();
    char report[4096];
    for (uint64_t step = 1; step <= 10; step++) {
        run_some(a, step);
        run_some(b, step);
        assert_true(checkpoint_pair(a, b, report, sizeof report));
        assert_string_equal(report, "");
        /* capture clears the dirty interval */
        for (size_t i = 0; i < (TEST_RAM >> PAGE_SHIFT); i++)
            assert_int_equal(a->m->dirty_pages[i] & DIRTY_DIGEST, 0);
    }
    assert_true(checkpoint_machine_digest_iter(a->m, fake_devices) ==
                checkpoint_machine_digest_iter(b->m, fake_devices));
    rig_free(a);
    rig_free(b);
}

static void test_register_flip_is_named(void **state)
{
    Rig *a = rig_new(), *b = rig_new();
    char report[4096];
    run_some(a, 5);
    run_some(b, 5);
    b->m->harts[0]->x[10] = 6;
    assert_false(checkpoint_pair(a, b, report, sizeof report));
    assert_non_null(strstr(report, "divergence at checkpoint, icount 1000:\n"));
    assert_non_null(strstr(report, "hart 0: pc recorded 0x80000014 replayed 0x80000014\n"));
    assert_non_null(strstr(report, "hart 1: pc recorded 0x80000014 replayed 0x80000014\n"));
    assert_non_null(strstr(report, "hart 0: a0 (x10) recorded 0x5 replayed 0x6\n"));
    assert_null(strstr(report, "hart 1: a0"));
    assert_null(strstr(report, "RAM"));
    assert_null(strstr(report, "device"));

    /* a float register and the pc */
    run_some(a, 6);
    run_some(b, 6);
    b->m->harts[0]->x[10] = 6;
    b->m->harts[1]->f[10] = 1;
    b->m->harts[1]->pc += 2;
    assert_false(checkpoint_pair(a, b, report, sizeof report));
    assert_non_null(strstr(report, "hart 1: pc recorded 0x8000002c replayed 0x8000002e\n"));
    assert_non_null(strstr(report, "hart 1: fa0 (f10) recorded 0x0 replayed 0x1\n"));
    assert_null(strstr(report, "a0 (x10)"));
    assert_true(checkpoint_machine_digest_iter(a->m, fake_devices) !=
                checkpoint_machine_digest_iter(b->m, fake_devices));
    rig_free(a);
    rig_free(b);
}

static void test_csr_flip_is_named(void **state)
{
    Rig *a = rig_new(), *b = rig_new();
    char report[4096];
    run_some(a, 1);
    run_some(b, 1);
    b->m->harts[1]->mstatus |= MSTATUS_MIE;
    b->m->harts[0]->satp = 0x8000000000080001ull;
    b->m->harts[0]->pmpaddr[3] = 0x1234;
    b->m->harts[1]->wfi = true;
    b->m->harts[1]->priv = PRV_S;
    b->m->harts[1]->frm = 2;
    assert_false(checkpoint_pair(a, b, report, sizeof report));
    assert_non_null(strstr(report, "hart 1: mstatus recorded 0xa00000000 replayed 0xa00000008\n"));
    assert_non_null(strstr(report, "hart 0: satp recorded 0x0 replayed 0x8000000000080001\n"));
    assert_non_null(strstr(report, "hart 0: pmpaddr3 recorded 0x0 replayed 0x1234\n"));
    assert_non_null(strstr(report, "hart 1: wfi recorded 0x0 replayed 0x1\n"));
    assert_non_null(strstr(report, "hart 1: privilege recorded 0x3 replayed 0x1\n"));
    assert_non_null(strstr(report, "hart 1: frm recorded 0x0 replayed 0x2\n"));
    rig_free(a);
    rig_free(b);
}

static void test_ram_flip_is_located(void **state)
{
    Rig *a = rig_new(), *b = rig_new();
    char report[4096];
    run_some(a, 1);
    run_some(b, 1);
    b->m->ram[0x1234] ^= 1;
    b->m->dirty_pages[1] = DIRTY_ALL;
    b->m->ram[0x5000] ^= 1;
    b->m->ram[0x6fff] ^= 1;
    b->m->dirty_pages[5] = b->m->dirty_pages[6] = DIRTY_ALL;
    assert_false(checkpoint_pair(a, b, report, sizeof report));
    assert_non_null(strstr(report, "RAM differs: 0x80001000-0x80001fff (1 page)\n"));
    assert_non_null(strstr(report, "RAM differs: 0x80005000-0x80006fff (2 pages)\n"));
    assert_null(strstr(report, "hart 0: a0"));

    /* the difference persists at later checkpoints, and repairing it clears it */
    run_some(a, 2);
    run_some(b, 2);
    assert_false(checkpoint_pair(a, b, report, sizeof report));
    assert_non_null(strstr(report, "0x80001000-0x80001fff"));
    b->m->ram[0x1234] ^= 1;
    b->m->ram[0x5000] ^= 1;
    b->m->ram[0x6fff] ^= 1;
    b->m->dirty_pages[1] = b->m->dirty_pages[5] = b->m->dirty_pages[6] = DIRTY_ALL;
    run_some(a, 3);
    run_some(b, 3);
    assert_true(checkpoint_pair(a, b, report, sizeof report));
    rig_free(a);
    rig_free(b);
}

static void test_device_flip_is_named(void **state)
{
    Rig *a = rig_new(), *b = rig_new();
    char report[4096];
    run_some(a, 1);
    run_some(b, 1);
    b->dev.uart[3] ^= 0x80;
    assert_false(checkpoint_pair(a, b, report, sizeof report));
    assert_non_null(strstr(report, "device uart: state differs\n"));
    assert_null(strstr(report, "device clint"));
    rig_free(a);
    rig_free(b);
}

static void test_malformed_payloads(void **state)
{
    Rig *a = rig_new(), *b = rig_new();
    char report[4096];
    SerWriter w;
    ser_writer_init(&w);
    run_some(a, 1);
    checkpoint_capture(a->m, &a->cs, &w);
    char line[512];
    assert_true(checkpoint_summary(w.buf, w.len, line, sizeof line));
    assert_non_null(strstr(line, "icount=1000 pc0=0x80000004 pc1=0x80000004 pages_changed=1"));

    /* every truncation and every single-byte corruption: an answer, never a crash */
    uint8_t *copy = malloc(w.len);
    for (size_t cut = 0; cut < w.len; cut++) {
        memcpy(copy, w.buf, cut);
        Rig *c = rig_new();
        assert_false(checkpoint_verify(c->m, &c->cs, copy, cut, report, sizeof report));
        assert_true(report[0] != 0);
        assert_false(checkpoint_summary(copy, cut, line, sizeof line));
        rig_free(c);
    }
    for (size_t i = 0; i < w.len; i++) {
        memcpy(copy, w.buf, w.len);
        copy[i] ^= 0xff;
        checkpoint_summary(copy, w.len, line, sizeof line);
        checkpoint_verify(b->m, &b->cs, copy, w.len, report, sizeof report);
    }
    assert_false(checkpoint_verify(b->m, &b->cs, (const uint8_t *)"\x09", 1, report, sizeof report));
    assert_non_null(strstr(report, "recorded checkpoint payload is malformed: it has an unknown checkpoint format"));
    /* a tiny report buffer is filled, cut, and terminated */
    char tiny[16];
    b->m->harts[0]->x[1] = 99;
    assert_false(checkpoint_pair(a, b, tiny, sizeof tiny));
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    free(copy);
    ser_writer_free(&w);
    rig_free(a);
    rig_free(b);
}

static bool digest_pair(Rig *rec, Rig *rpl, char *report, size_t cap)
{
    SerWriter w;
    ser_writer_init(&w);
    checkpoint_capture_digest(rec->m, &rec->cs, &w);
    assert_false(w.oom);
    assert_int_equal(w.len, CHECKPOINT_DIGEST_LEN);
    assert_true(checkpoint_is_digest(w.buf, w.len));
    bool ok = checkpoint_verify(rpl->m, &rpl->cs, w.buf, w.len, report, cap);
    ser_writer_free(&w);
    return ok;
}

/* Digest checkpoints between full ones: equal states verify; a flipped
 * register, RAM byte or device byte fails the digest, whose report says
 * only the digest is known; the next full checkpoint names the register. */
static void test_digest_checkpoints(void **state)
{
    char report[4096];
    for (int what = 0; what < 3; what++) {
        Rig *a = rig_new(), *b = rig_new();
        for (uint64_t step = 1; step <= 6; step++) {
            run_some(a, step);
            run_some(b, step);
            bool ok = step % 3 ? digest_pair(a, b, report, sizeof report) : checkpoint_pair(a, b, report, sizeof report);
            assert_true(ok);
            assert_string_equal(report, "");
        }
        run_some(a, 7);
        run_some(b, 7);
        if (what == 0)
            b->m->harts[1]->x[11] ^= 1;
        else if (what == 1)
            b->m->ram[0x3000] ^= 1, b->m->dirty_pages[3] = DIRTY_ALL;
        else
            b->dev.clint[5] ^= 1;
        assert_false(digest_pair(a, b, report, sizeof report));
        assert_non_null(strstr(report, "divergence at checkpoint, icount 7000:\n"));
        assert_non_null(strstr(report, "state digest recorded "));
        assert_non_null(strstr(report, "which register, device or page differs is not recorded here"));
        run_some(a, 8);
        run_some(b, 8);
        assert_false(checkpoint_pair(a, b, report, sizeof report));
        const char *named[] = {"hart 1: a1 (x11) recorded 0x0 replayed 0x1\n", "RAM differs: 0x80003000-0x80003fff",
                               "device clint: state differs\n"};
        assert_non_null(strstr(report, named[what]));
        assert_null(strstr(report, "do not add up")); /* the recorded page list chain holds */
        rig_free(a);
        rig_free(b);
    }
}

/* A page changed after one full checkpoint, then changed back or changed
 * again only between digests: the next full payload still lists it, so the
 * replay's mirror of the recorded page hashes stays exact. */
static void test_full_after_digests_lists_every_changed_page(void **state)
{
    char report[4096], line[512];
    Rig *a = rig_new(), *b = rig_new();
    Rig *rigs[2] = {a, b};
    run_some(a, 1);
    run_some(b, 1);
    assert_true(checkpoint_pair(a, b, report, sizeof report));
    for (int k = 0; k < 2; k++) { /* page 5 changes, then page 6 changes and changes back */
        Machine *m = rigs[k]->m;
        m->ram[0x5000] ^= 0x11;
        m->ram[0x6000] ^= 0x22;
        m->dirty_pages[5] = m->dirty_pages[6] = DIRTY_ALL;
    }
    assert_true(digest_pair(a, b, report, sizeof report));
    for (int k = 0; k < 2; k++) {
        rigs[k]->m->ram[0x6000] ^= 0x22;
        rigs[k]->m->dirty_pages[6] = DIRTY_ALL;
    }
    assert_true(digest_pair(a, b, report, sizeof report));
    SerWriter w;
    ser_writer_init(&w);
    checkpoint_capture(a->m, &a->cs, &w);
    assert_true(checkpoint_summary(w.buf, w.len, line, sizeof line));
    assert_non_null(strstr(line, "pages_changed=2")); /* 5 and 6: every page changed since the last full one */
    assert_true(checkpoint_verify(b->m, &b->cs, w.buf, w.len, report, sizeof report));
    assert_string_equal(report, "");
    ser_writer_free(&w);
    /* and a following full payload lists nothing: the list starts over */
    ser_writer_init(&w);
    checkpoint_capture(a->m, &a->cs, &w);
    assert_true(checkpoint_summary(w.buf, w.len, line, sizeof line));
    assert_non_null(strstr(line, "pages_changed=0"));
    ser_writer_free(&w);
    rig_free(a);
    rig_free(b);
}

static void test_malformed_digest_payloads(void **state)
{
    Rig *b = rig_new();
    char report[4096], line[512];
    static const uint8_t ok[9] = {2, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_true(checkpoint_summary(ok, sizeof ok, line, sizeof line));
    assert_string_equal(line, "digest=0807060504030201");
    for (size_t len = 1; len <= 10; len++) {
        uint8_t buf[10] = {2, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        if (len == 9)
            continue;
        assert_false(checkpoint_summary(buf, len, line, sizeof line));
        assert_non_null(strstr(line, "malformed checkpoint: a digest checkpoint must hold 9 bytes"));
        assert_false(checkpoint_verify(b->m, &b->cs, buf, len, report, sizeof report));
        assert_non_null(strstr(report, "recorded checkpoint payload is malformed: a digest checkpoint must hold 9"));
    }
    rig_free(b);
}

/* Checkpoints come base after an input, then base, 2 base, 4 base ... up
 * to max apart; one is full once `full` instructions passed since the last
 * full one; with max = full = base every checkpoint is full, base apart. */
static void test_schedule(void **state)
{
    CheckpointSchedule sc;
    checkpoint_sched_start(&sc, 10, 80, 100, 1000);
    static const uint64_t due[] = {1010, 1020, 1040, 1080, 1160, 1240};
    static const bool full[] = {false, false, false, false, true, false};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(sc.next_due, due[i]);
        assert_int_equal(checkpoint_sched_take(&sc, due[i]), full[i]);
    }
    assert_int_equal(sc.next_due, 1320);
    checkpoint_sched_input(&sc, 1250); /* an input: a checkpoint within base */
    assert_int_equal(sc.next_due, 1260);
    assert_true(checkpoint_sched_take(&sc, 1260)); /* 1160 + 100 */
    assert_int_equal(sc.next_due, 1270);
    assert_false(checkpoint_sched_take(&sc, 1275)); /* late (a slice ended after it) */
    assert_int_equal(sc.next_due, 1295);
    checkpoint_sched_input(&sc, 1290); /* already due sooner: unchanged */
    assert_int_equal(sc.next_due, 1295);

    checkpoint_sched_start(&sc, 7, 7, 7, 0);
    for (uint64_t ic = 7; ic < 100; ic += 7) {
        assert_int_equal(sc.next_due, ic);
        assert_true(checkpoint_sched_take(&sc, ic));
        checkpoint_sched_input(&sc, ic + 3);
    }
}

static uint64_t host_wallclock(void *opaque) { return 1767225600000000000ull; }
static void host_random(void *opaque, uint8_t *buf, size_t n) { memset(buf, 0x5a, n); }
static void host_console(void *opaque, const uint8_t *buf, size_t n) {}

static bool real_pair(Machine *a, CheckpointState *ca, Machine *b, CheckpointState *cb, char *report, size_t cap)
{
    SerWriter w;
    ser_writer_init(&w);
    checkpoint_capture(a, ca, &w);
    bool ok = checkpoint_verify(b, cb, w.buf, w.len, report, cap);
    ser_writer_free(&w);
    return ok;
}

static void test_real_machines(void **state)
{
    MachineConfig cfg = {.ram_size = 1 << 20, .nharts = 2, .icount_shift = 2};
    MachineHostIf host = {NULL, host_wallclock, host_random, host_console};
    Machine *a = machine_new(&cfg, &host), *b = machine_new(&cfg, &host);
    assert_non_null(a);
    assert_non_null(b);
    CheckpointState ca, cb;
    assert_true(checkpoint_init(&ca, a));
    assert_true(checkpoint_init(&cb, b));
    char report[4096];
    assert_true(machine_phys_write(a, RAM_BASE + 0x2000, "abc", 3));
    assert_true(machine_phys_write(b, RAM_BASE + 0x2000, "abc", 3));
    assert_true(real_pair(a, &ca, b, &cb, report, sizeof report));
    assert_true(checkpoint_machine_digest(a) == checkpoint_machine_digest(b));

    /* RAM written through the machine's own helper is tracked */
    assert_true(machine_phys_write(b, RAM_BASE + 0x3001, "x", 1));
    assert_false(real_pair(a, &ca, b, &cb, report, sizeof report));
    assert_non_null(strstr(report, "RAM differs: 0x80003000-0x80003fff (1 page)\n"));
    assert_true(checkpoint_machine_digest(a) != checkpoint_machine_digest(b));
    assert_true(machine_phys_write(b, RAM_BASE + 0x3001, "", 1));
    /* a page written back to zero digests as one never written: contents only */
    assert_true(checkpoint_machine_digest(a) == checkpoint_machine_digest(b));

    /* a device register written through MMIO */
    const MmioRegion *uart = NULL;
    for (int i = 0; i < b->nmmio; i++)
        if (b->mmio[i].name && strstr(b->mmio[i].name, "uart"))
            uart = &b->mmio[i];
    assert_non_null(uart);
    assert_true(uart->write(uart->dev, 3, 1, 0x1b)); /* LCR */
    assert_false(real_pair(a, &ca, b, &cb, report, sizeof report));
    assert_non_null(strstr(report, "device uart: state differs\n"));
    assert_null(strstr(report, "RAM differs"));

    checkpoint_free(&ca);
    checkpoint_free(&cb);
    machine_free(a);
    machine_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_states_verify),
        cmocka_unit_test(test_register_flip_is_named),
        cmocka_unit_test(test_csr_flip_is_named),
        cmocka_unit_test(test_ram_flip_is_located),
        cmocka_unit_test(test_device_flip_is_named),
        cmocka_unit_test(test_malformed_payloads),
        cmocka_unit_test(test_real_machines),
        cmocka_unit_test(test_digest_checkpoints),
        cmocka_unit_test(test_full_after_digests_lists_every_changed_page),
        cmocka_unit_test(test_malformed_digest_payloads),
        cmocka_unit_test(test_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
