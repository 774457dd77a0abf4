/*
 * test_virtio.c - unit tests for the virtio-mmio transport and its split
 * virtqueues (src/machine/dev/virtio_mmio.c), driven through virtio-rng.
 *
 * Each test builds a virt machine with one virtio-rng device (slot 7,
 * 0x10008000, irq 8) and acts as a driver would: registers through the
 * MMIO region, rings and buffers written into guest RAM. The hostile half
 * hands the device broken rings and chains and checks that each one ends
 * in DEVICE_NEEDS_RESET with a config interrupt, that nothing was written
 * to the used ring, and that a reset brings the device back; a small test
 * model whose answers the guest can predict (a serial number) checks that
 * no device can feed its own avail ring. Saved states that no device can
 * reach must be refused by load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "machine/board.h"
#include "machine/dev/plic.h"
#include "machine/dev/virtio_mmio.h"
#include "machine/machine.h"
#include "util/le.h"

#define RAM_SIZE (1ull << 20)
#define RAM_END (RAM_BASE + RAM_SIZE)
#define DEV_BASE 0x10008000ull /* the first device takes the highest slot */
#define DEV_IRQ 8

/* transport registers */
#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_VENDOR 0x00c
#define R_DEV_FEATURES 0x010
#define R_DEV_FEATURES_SEL 0x014
#define R_DRV_FEATURES 0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_INT_STATUS 0x060
#define R_INT_ACK 0x064
#define R_STATUS 0x070
#define R_DESC_LO 0x080
#define R_DESC_HI 0x084
#define R_AVAIL_LO 0x090
#define R_AVAIL_HI 0x094
#define R_USED_LO 0x0a0
#define R_USED_HI 0x0a4
#define R_CONFIG_GEN 0x0fc
#define R_CONFIG 0x100

#define F_NEXT 1
#define F_WRITE 2
#define F_INDIRECT 4

#define FEAT_INDIRECT (1ull << VIRTIO_F_RING_INDIRECT_DESC)
#define FEAT_EVENT_IDX (1ull << VIRTIO_F_RING_EVENT_IDX)
#define FEAT_V1 (1ull << VIRTIO_F_VERSION_1)
#define FEAT_ALL (FEAT_INDIRECT | FEAT_EVENT_IDX | FEAT_V1)

/* guest memory layout of the driver */
#define DESC (RAM_BASE + 0x10000)
#define AVAIL (RAM_BASE + 0x11000)
#define USED (RAM_BASE + 0x12000)
#define TABLE (RAM_BASE + 0x14000) /* indirect tables */
#define BUF (RAM_BASE + 0x20000)

typedef struct Fix {
    Machine *m;
    uint32_t rng_calls; /* the stub's position: random bytes depend on it */
    uint32_t qnum;      /* the driver's queue size */
    uint16_t avail_idx; /* the driver's copy of avail->idx */
} Fix;

static uint64_t wallclock(void *opaque) { return 1700000000ull * 1000000000ull; }

/* Deterministic "random" bytes that differ from call to call, so a
 * request served twice from the same state gives the same bytes. */
static void random_bytes(void *opaque, uint8_t *buf, size_t n)
{
    Fix *f = opaque;
    f->rng_calls++;
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(f->rng_calls * 31 + i * 7 + 1);
}

static void console_write(void *opaque, const uint8_t *buf, size_t n) {}

static Fix *make_fix(void)
{
    Fix *f = calloc(1, sizeof *f);
    MachineConfig cfg = {.ram_size = RAM_SIZE, .nharts = 1, .board_virt = true, .quantum = 1000};
    cfg.devices[0].kind = MDEV_VIRTIO_RNG;
    cfg.ndevices = 1;
    MachineHostIf host = {.opaque = f, .wallclock_ns = wallclock, .random_bytes = random_bytes,
                          .console_write = console_write};
    f->m = machine_new(&cfg, &host);
    assert_non_null(f->m);
    return f;
}

static void free_fix(Fix *f)
{
    machine_free(f->m);
    free(f);
}

static int setup(void **state)
{
    *state = make_fix();
    return 0;
}

static int teardown(void **state)
{
    free_fix(*state);
    return 0;
}

/* --- MMIO and guest memory, as a hart would touch them --- */

static uint64_t rd(Machine *m, uint64_t addr, int size)
{
    const MmioRegion *r = machine_find_mmio(m, addr);
    assert_non_null(r);
    uint64_t v = 0xdeadbeef;
    assert_true(r->read(r->dev, addr - r->base, size, &v));
    return v;
}

static void wr(Machine *m, uint64_t addr, int size, uint64_t val)
{
    const MmioRegion *r = machine_find_mmio(m, addr);
    assert_non_null(r);
    assert_true(r->write(r->dev, addr - r->base, size, val));
}

static uint32_t reg(Fix *f, uint64_t off) { return (uint32_t)rd(f->m, DEV_BASE + off, 4); }
static void set_reg(Fix *f, uint64_t off, uint32_t v) { wr(f->m, DEV_BASE + off, 4, v); }

/* The device model behind the slot, for what a driver cannot reach. */
static VirtioDev *dev_of(Fix *f)
{
    const MmioRegion *r = machine_find_mmio(f->m, DEV_BASE);
    const VirtioMmioSlot *s = r->dev;
    return s->v->dev[s->index];
}

static void put16(Fix *f, uint64_t addr, uint16_t v)
{
    uint8_t b[2];
    put_le16(b, v);
    assert_true(machine_phys_write(f->m, addr, b, 2));
}

static uint16_t get16(Fix *f, uint64_t addr)
{
    uint8_t b[2];
    assert_true(machine_phys_read(f->m, addr, b, 2));
    return get_le16(b);
}

static uint32_t get32(Fix *f, uint64_t addr)
{
    uint8_t b[4];
    assert_true(machine_phys_read(f->m, addr, b, 4));
    return get_le32(b);
}

static void put_desc_at(Fix *f, uint64_t table, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags,
                        uint16_t next)
{
    uint8_t b[16];
    put_le64(b, addr);
    put_le32(b + 8, len);
    put_le16(b + 12, flags);
    put_le16(b + 14, next);
    assert_true(machine_phys_write(f->m, table + 16ull * i, b, 16));
}

static void put_desc(Fix *f, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    put_desc_at(f, DESC, i, addr, len, flags, next);
}

/* Offer chain `head` in the avail ring (without notifying). */
static void offer(Fix *f, uint16_t head)
{
    put16(f, AVAIL + 4 + 2ull * (f->avail_idx % f->qnum), head);
    f->avail_idx++;
    put16(f, AVAIL + 2, f->avail_idx);
}

static void notify(Fix *f) { set_reg(f, R_QUEUE_NOTIFY, 0); }
static uint16_t used_idx(Fix *f) { return get16(f, USED + 2); }
static uint32_t used_id(Fix *f, uint16_t k) { return get32(f, USED + 4 + 8ull * (k % f->qnum)); }
static uint32_t used_len(Fix *f, uint16_t k) { return get32(f, USED + 8 + 8ull * (k % f->qnum)); }
static bool irq_line(Fix *f) { return (f->m->plic->level[DEV_IRQ / 32] >> (DEV_IRQ % 32)) & 1; }

static void write_features(Fix *f, uint64_t features)
{
    set_reg(f, R_DRV_FEATURES_SEL, 0);
    set_reg(f, R_DRV_FEATURES, (uint32_t)features);
    set_reg(f, R_DRV_FEATURES_SEL, 1);
    set_reg(f, R_DRV_FEATURES, (uint32_t)(features >> 32));
}

static void setup_queue(Fix *f, uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
    set_reg(f, R_QUEUE_SEL, 0);
    set_reg(f, R_QUEUE_NUM, num);
    set_reg(f, R_DESC_LO, (uint32_t)desc);
    set_reg(f, R_DESC_HI, (uint32_t)(desc >> 32));
    set_reg(f, R_AVAIL_LO, (uint32_t)avail);
    set_reg(f, R_AVAIL_HI, (uint32_t)(avail >> 32));
    set_reg(f, R_USED_LO, (uint32_t)used);
    set_reg(f, R_USED_HI, (uint32_t)(used >> 32));
    set_reg(f, R_QUEUE_READY, 1);
}

/* The Linux driver's sequence: reset, ACK, DRIVER, features, FEATURES_OK,
 * queue 0 with `num` entries over zeroed rings, DRIVER_OK. */
static void driver_init(Fix *f, uint64_t features, uint32_t num)
{
    set_reg(f, R_STATUS, 0);
    static const uint8_t zero[0x4000];
    assert_true(machine_phys_write(f->m, DESC, zero, sizeof zero));
    f->qnum = num;
    f->avail_idx = 0;
    set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    write_features(f, features);
    uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
    set_reg(f, R_STATUS, st);
    assert_int_equal(reg(f, R_STATUS), st);
    setup_queue(f, num, DESC, AVAIL, USED);
    assert_int_equal(reg(f, R_QUEUE_READY), 1);
    set_reg(f, R_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(reg(f, R_STATUS), st | VIRTIO_STATUS_DRIVER_OK);
}

static void ack_all(Fix *f)
{
    set_reg(f, R_INT_ACK, reg(f, R_INT_STATUS));
    assert_int_equal(reg(f, R_INT_STATUS), 0);
    assert_false(irq_line(f));
}

/* One request of `len` writable bytes through descriptor `head`; checks
 * the used element and that the buffer was filled. */
static void request_ok(Fix *f, uint16_t head, uint32_t len)
{
    uint16_t before = used_idx(f);
    uint8_t junk[64];
    memset(junk, 0xee, sizeof junk);
    assert_true(len <= sizeof junk);
    assert_true(machine_phys_write(f->m, BUF, junk, len));
    put_desc(f, head, BUF, len, F_WRITE, 0);
    offer(f, head);
    notify(f);
    assert_int_equal(used_idx(f), (uint16_t)(before + 1));
    assert_int_equal(used_id(f, before), head);
    assert_int_equal(used_len(f, before), len);
    uint8_t got[64];
    assert_true(machine_phys_read(f->m, BUF, got, len));
    for (uint32_t i = 0; i < len; i++)
        assert_int_equal(got[i], (uint8_t)(f->rng_calls * 31 + i * 7 + 1));
    assert_int_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

/* --- identity and negotiation --- */

static void test_identity(void **state)
{
    Fix *f = *state;
    assert_int_equal(reg(f, R_MAGIC), VIRTIO_MMIO_MAGIC);
    assert_int_equal(reg(f, R_VERSION), 2);
    assert_int_equal(reg(f, R_DEVICE_ID), 4);
    assert_int_equal(reg(f, R_VENDOR), VIRTIO_MMIO_VENDOR);
    assert_int_equal(reg(f, R_STATUS), 0);
    assert_int_equal(reg(f, R_INT_STATUS), 0);
    set_reg(f, R_DEV_FEATURES_SEL, 0);
    assert_int_equal(reg(f, R_DEV_FEATURES), (uint32_t)(FEAT_INDIRECT | FEAT_EVENT_IDX));
    set_reg(f, R_DEV_FEATURES_SEL, 1);
    assert_int_equal(reg(f, R_DEV_FEATURES), 1); /* VERSION_1 */
    set_reg(f, R_DEV_FEATURES_SEL, 2);
    assert_int_equal(reg(f, R_DEV_FEATURES), 0);
    set_reg(f, R_QUEUE_SEL, 0);
    assert_int_equal(reg(f, R_QUEUE_NUM_MAX), VIRTIO_QUEUE_MAX_SIZE);
    set_reg(f, R_QUEUE_SEL, 1); /* rng has one queue */
    assert_int_equal(reg(f, R_QUEUE_NUM_MAX), 0);
    assert_int_equal(reg(f, R_QUEUE_READY), 0);
    set_reg(f, R_QUEUE_READY, 1); /* a missing queue cannot become ready */
    assert_int_equal(reg(f, R_QUEUE_READY), 0);
    assert_int_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
    /* registers are 32-bit: narrower reads give 0 */
    assert_int_equal(rd(f->m, DEV_BASE + R_MAGIC, 2), 0);
    /* rng has no config space */
    assert_int_equal(rd(f->m, DEV_BASE + R_CONFIG, 4), 0);
    assert_int_equal(reg(f, R_CONFIG_GEN), 0);
}

static void test_empty_slots(void **state)
{
    Fix *f = *state;
    for (int i = 0; i < 7; i++) { /* slot 7 holds the rng */
        uint64_t base = VIRTIO_MMIO_BASE + VIRTIO_MMIO_STRIDE * (uint64_t)i;
        assert_int_equal(rd(f->m, base + R_MAGIC, 4), VIRTIO_MMIO_MAGIC);
        assert_int_equal(rd(f->m, base + R_VERSION, 4), 2);
        assert_int_equal(rd(f->m, base + R_DEVICE_ID, 4), 0);
        assert_int_equal(rd(f->m, base + R_VENDOR, 4), VIRTIO_MMIO_VENDOR);
        wr(f->m, base + R_STATUS, 4, 0xf);
        wr(f->m, base + R_QUEUE_NOTIFY, 4, 0);
        wr(f->m, base + R_CONFIG, 4, 0x12345678);
        assert_int_equal(rd(f->m, base + R_STATUS, 4), 0);
        assert_int_equal(rd(f->m, base + R_QUEUE_NUM_MAX, 4), 0);
        assert_int_equal(rd(f->m, base + R_INT_STATUS, 4), 0);
        assert_int_equal(rd(f->m, base + R_CONFIG, 4), 0);
        assert_int_equal(rd(f->m, base + 0xffc, 4), 0);
    }
}

static void test_feature_negotiation(void **state)
{
    Fix *f = *state;
    uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
    struct {
        uint64_t features;
        bool accepted;
    } cases[] = {
        {0, false},                           /* legacy: no VERSION_1 */
        {FEAT_INDIRECT | FEAT_EVENT_IDX, false},
        {FEAT_V1 | 1, false},                 /* an rng feature never offered */
        {FEAT_V1 | (1ull << 33), false},      /* an unoffered transport bit */
        {FEAT_V1 | (1ull << 63), false},
        {FEAT_V1, true},
        {FEAT_ALL, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set_reg(f, R_STATUS, 0);
        set_reg(f, R_STATUS, st);
        write_features(f, cases[i].features);
        set_reg(f, R_STATUS, st | VIRTIO_STATUS_FEATURES_OK);
        uint32_t want = st | (cases[i].accepted ? VIRTIO_STATUS_FEATURES_OK : 0);
        assert_int_equal(reg(f, R_STATUS), want);
        assert_int_equal(dev_of(f)->driver_features, cases[i].features);
    }
    /* once FEATURES_OK is accepted, the features are fixed */
    write_features(f, FEAT_V1);
    assert_int_equal(dev_of(f)->driver_features, FEAT_ALL);
    /* reset forgets them */
    set_reg(f, R_STATUS, 0);
    assert_int_equal(dev_of(f)->driver_features, 0);
}

/* A device runs only on features it accepted: a driver that skips
 * FEATURES_OK (or clears it later to rewrite them) gets no service, so a
 * device model never acts on a feature it did not offer. */
static void test_driver_ok_needs_features_ok(void **state)
{
    Fix *f = *state;
    uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
    set_reg(f, R_STATUS, st);
    write_features(f, FEAT_ALL | 1); /* bit 0: never offered by rng */
    f->qnum = 8;
    f->avail_idx = 0;
    setup_queue(f, 8, DESC, AVAIL, USED);
    set_reg(f, R_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
    put_desc(f, 0, BUF, 8, F_WRITE, 0);
    offer(f, 0);
    notify(f);
    assert_int_equal(used_idx(f), 0);
    assert_int_equal(f->rng_calls, 0);
    assert_false(virtio_dev_running(dev_of(f)));
    /* a proper negotiation then serves it */
    driver_init(f, FEAT_ALL, 8);
    request_ok(f, 1, 8);
    /* clearing FEATURES_OK to rewrite the features stops the device */
    set_reg(f, R_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
    write_features(f, FEAT_ALL | 1);
    put_desc(f, 2, BUF, 8, F_WRITE, 0);
    offer(f, 2);
    notify(f);
    assert_int_equal(used_idx(f), 1);
    assert_int_equal(f->rng_calls, 1);
    /* FEATURES_OK again is refused for the unoffered bit: still stopped */
    set_reg(f, R_STATUS, st | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(reg(f, R_STATUS) & VIRTIO_STATUS_FEATURES_OK, 0);
    notify(f);
    assert_int_equal(used_idx(f), 1);
}

static void test_queue_setup(void **state)
{
    Fix *f = *state;
    set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    write_features(f, FEAT_V1);
    set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    set_reg(f, R_QUEUE_SEL, 0);
    /* more than QueueNumMax reads back as 0 */
    set_reg(f, R_QUEUE_NUM, VIRTIO_QUEUE_MAX_SIZE * 2);
    assert_int_equal(reg(f, R_QUEUE_NUM), 0);
    set_reg(f, R_QUEUE_NUM, 16);
    assert_int_equal(reg(f, R_QUEUE_NUM), 16);
    set_reg(f, R_DESC_LO, (uint32_t)DESC);
    set_reg(f, R_DESC_HI, 0);
    set_reg(f, R_AVAIL_LO, (uint32_t)AVAIL);
    set_reg(f, R_USED_LO, (uint32_t)USED);
    assert_int_equal(reg(f, R_DESC_LO), (uint32_t)DESC);
    assert_int_equal(reg(f, R_AVAIL_LO), (uint32_t)AVAIL);
    assert_int_equal(reg(f, R_USED_LO), (uint32_t)USED);
    set_reg(f, R_QUEUE_READY, 1);
    assert_int_equal(reg(f, R_QUEUE_READY), 1);
    /* the layout is fixed while the queue is ready */
    set_reg(f, R_QUEUE_NUM, 8);
    set_reg(f, R_DESC_LO, 0);
    set_reg(f, R_USED_HI, 1);
    assert_int_equal(reg(f, R_QUEUE_NUM), 16);
    assert_int_equal(reg(f, R_DESC_LO), (uint32_t)DESC);
    assert_int_equal(reg(f, R_USED_HI), 0);
    /* ... and can change once it is not */
    set_reg(f, R_QUEUE_READY, 0);
    assert_int_equal(reg(f, R_QUEUE_READY), 0);
    set_reg(f, R_QUEUE_NUM, 8);
    assert_int_equal(reg(f, R_QUEUE_NUM), 8);
    assert_int_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

/* QueueReady with a bad size or bad addresses breaks the device. */
static void test_queue_ready_checks(void **state)
{
    Fix *f = *state;
    struct {
        uint32_t num;
        uint64_t desc, avail, used;
    } bad[] = {
        {0, DESC, AVAIL, USED},                    /* no size */
        {6, DESC, AVAIL, USED},                    /* not a power of two */
        {8, DESC + 8, AVAIL, USED},                /* desc not 16-aligned */
        {8, DESC, AVAIL + 1, USED},                /* avail not 2-aligned */
        {8, DESC, AVAIL, USED + 2},                /* used not 4-aligned */
        {8, 0x1000, AVAIL, USED},                  /* below RAM */
        {8, DESC, 0x10008000, USED},               /* on the device itself */
        {8, DESC, AVAIL, RAM_END},                 /* just past RAM */
        {8, RAM_END - 64, AVAIL, USED},            /* desc table across the end */
        {8, DESC, RAM_END - 16, USED},             /* avail: 6 + 2*8 bytes */
        {8, DESC, AVAIL, RAM_END - 64},            /* used: 6 + 8*8 bytes */
        {8, DESC, AVAIL, 0xfffffffffffffff0ull},   /* wraps around */
        {256, RAM_END - 0x1000 + 16, AVAIL, USED}, /* 4 KiB table 16 bytes short */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        set_reg(f, R_STATUS, 0);
        set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        write_features(f, FEAT_V1);
        set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
        setup_queue(f, bad[i].num, bad[i].desc, bad[i].avail, bad[i].used);
        assert_int_equal(reg(f, R_QUEUE_READY), 0);
        assert_int_not_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
        /* before DRIVER_OK there is no config interrupt (spec 2.1.2) */
        assert_int_equal(reg(f, R_INT_STATUS), 0);
        /* the device stays broken whatever the driver writes to status */
        set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                                 VIRTIO_STATUS_DRIVER_OK);
        assert_int_not_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
    }
    /* a queue set up after DRIVER_OK (a hostile order): the interrupt too */
    set_reg(f, R_STATUS, 0);
    set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    write_features(f, FEAT_V1);
    set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                             VIRTIO_STATUS_DRIVER_OK);
    setup_queue(f, 8, DESC, AVAIL, RAM_END - 8);
    assert_int_not_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
    assert_int_equal(reg(f, R_INT_STATUS), VIRTIO_INT_CONFIG);
    assert_true(irq_line(f));
    /* a reset brings it back */
    driver_init(f, FEAT_V1, 8);
    assert_false(irq_line(f));
    request_ok(f, 0, 16);
    /* the largest queue fits exactly at the end of RAM */
    set_reg(f, R_STATUS, 0);
    set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    write_features(f, FEAT_V1);
    set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    setup_queue(f, 256, RAM_END - 0x1000, RAM_END - 0x2000, RAM_END - 0x3000);
    assert_int_equal(reg(f, R_QUEUE_READY), 1);
    assert_int_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

/* --- requests --- */

static void test_direct_request(void **state)
{
    Fix *f = *state;
    driver_init(f, FEAT_V1, 8);
    assert_false(irq_line(f));
    /* a chain of a readable header (rng ignores it) and two writable parts */
    uint8_t junk[32];
    memset(junk, 0xee, sizeof junk);
    assert_true(machine_phys_write(f->m, BUF, junk, sizeof junk));
    put_desc(f, 3, BUF + 0x100, 4, F_NEXT, 5);
    put_desc(f, 5, BUF, 10, F_WRITE | F_NEXT, 1);
    put_desc(f, 1, BUF + 16, 6, F_WRITE, 0);
    offer(f, 3);
    assert_int_equal(used_idx(f), 0);
    notify(f);
    assert_int_equal(used_idx(f), 1);
    assert_int_equal(used_id(f, 0), 3);
    assert_int_equal(used_len(f, 0), 16);
    uint8_t got[32];
    assert_true(machine_phys_read(f->m, BUF, got, sizeof got));
    for (int i = 0; i < 10; i++)
        assert_int_equal(got[i], (uint8_t)(31 + i * 7 + 1));
    for (int i = 10; i < 16; i++)
        assert_int_equal(got[i], 0xee);
    for (int i = 0; i < 6; i++)
        assert_int_equal(got[16 + i], (uint8_t)(31 + (10 + i) * 7 + 1));
    assert_int_equal(got[22], 0xee);
    /* used-buffer interrupt, level on the PLIC line until acknowledged */
    assert_int_equal(reg(f, R_INT_STATUS), VIRTIO_INT_USED);
    assert_true(irq_line(f));
    set_reg(f, R_INT_ACK, VIRTIO_INT_CONFIG); /* acking another bit changes nothing */
    assert_true(irq_line(f));
    set_reg(f, R_INT_ACK, VIRTIO_INT_USED);
    assert_int_equal(reg(f, R_INT_STATUS), 0);
    assert_false(irq_line(f));
    /* a notification with nothing new does nothing */
    notify(f);
    assert_int_equal(used_idx(f), 1);
    assert_int_equal(reg(f, R_INT_STATUS), 0);
    /* notifying a queue that does not exist does nothing */
    offer(f, 0);
    put_desc(f, 0, BUF, 8, F_WRITE, 0);
    set_reg(f, R_QUEUE_NOTIFY, 1);
    set_reg(f, R_QUEUE_NOTIFY, 0xffffffff);
    assert_int_equal(used_idx(f), 1);
    /* two chains at once, the ring wrapping past its size */
    notify(f);
    assert_int_equal(used_idx(f), 2);
    for (int i = 0; i < 20; i++)
        request_ok(f, (uint16_t)(i % 8), 1 + (uint32_t)i);
    assert_int_equal(used_idx(f), 22);
    /* a zero-length writable buffer anywhere is a valid, empty request */
    put_desc(f, 2, 0, 0, F_WRITE, 0);
    offer(f, 2);
    notify(f);
    assert_int_equal(used_idx(f), 23);
    assert_int_equal(used_len(f, 22), 0);
    assert_int_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

static void test_indirect_request(void **state)
{
    Fix *f = *state;
    driver_init(f, FEAT_ALL, 8);
    uint8_t junk[64];
    memset(junk, 0xee, sizeof junk);
    assert_true(machine_phys_write(f->m, BUF, junk, sizeof junk));
    /* table: [0] readable -> [2] writable 8 -> [1] writable 4 */
    put_desc_at(f, TABLE, 0, BUF + 0x200, 3, F_NEXT, 2);
    put_desc_at(f, TABLE, 2, BUF, 8, F_WRITE | F_NEXT, 1);
    put_desc_at(f, TABLE, 1, BUF + 32, 4, F_WRITE, 0);
    put_desc(f, 6, TABLE, 3 * 16, F_INDIRECT, 0);
    offer(f, 6);
    notify(f);
    assert_int_equal(used_idx(f), 1);
    assert_int_equal(used_id(f, 0), 6);
    assert_int_equal(used_len(f, 0), 12);
    uint8_t got[64];
    assert_true(machine_phys_read(f->m, BUF, got, sizeof got));
    for (int i = 0; i < 8; i++)
        assert_int_equal(got[i], (uint8_t)(31 + i * 7 + 1));
    assert_int_equal(got[8], 0xee);
    for (int i = 0; i < 4; i++)
        assert_int_equal(got[32 + i], (uint8_t)(31 + (8 + i) * 7 + 1));
    assert_int_equal(got[36], 0xee);
    /* a table of VIRTQ_MAX_SEGS one-byte buffers is the longest allowed */
    for (uint32_t i = 0; i < VIRTQ_MAX_SEGS; i++)
        put_desc_at(f, TABLE, i, BUF + 0x400 + i, 1, F_WRITE | (i + 1 < VIRTQ_MAX_SEGS ? F_NEXT : 0),
                    (uint16_t)(i + 1));
    put_desc(f, 0, TABLE, 16 * VIRTQ_MAX_SEGS, F_INDIRECT, 0);
    offer(f, 0);
    notify(f);
    assert_int_equal(used_idx(f), 2);
    assert_int_equal(used_len(f, 1), VIRTQ_MAX_SEGS);
    assert_int_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

static void test_event_idx(void **state)
{
    Fix *f = *state;
    driver_init(f, FEAT_ALL, 8);
    uint64_t used_event = AVAIL + 4 + 2ull * 8, avail_event = USED + 4 + 8ull * 8;
    /* the first completion always interrupts */
    put16(f, used_event, 100);
    request_ok(f, 0, 4);
    assert_int_equal(reg(f, R_INT_STATUS), VIRTIO_INT_USED);
    assert_int_equal(get16(f, avail_event), 1); /* kick me at the next one */
    ack_all(f);
    /* used_event = 2: used idx going 1 -> 2 does not cross it */
    put16(f, used_event, 2);
    request_ok(f, 1, 4);
    assert_int_equal(reg(f, R_INT_STATUS), 0);
    assert_false(irq_line(f));
    assert_int_equal(get16(f, avail_event), 2);
    /* 2 -> 3 crosses it */
    request_ok(f, 2, 4);
    assert_int_equal(reg(f, R_INT_STATUS), VIRTIO_INT_USED);
    assert_true(irq_line(f));
    ack_all(f);
    /* several completions in one notification: one interrupt if the batch
     * crosses used_event */
    put16(f, used_event, 4);
    for (uint16_t h = 0; h < 3; h++) {
        put_desc(f, h, BUF + 64 * h, 8, F_WRITE, 0);
        offer(f, h);
    }
    notify(f);
    assert_int_equal(used_idx(f), 6);
    assert_int_equal(get16(f, avail_event), 6);
    assert_int_equal(reg(f, R_INT_STATUS), VIRTIO_INT_USED);
    ack_all(f);
    /* used_event behind: no interrupt until the index wraps to it */
    put16(f, used_event, 5);
    request_ok(f, 3, 4);
    assert_int_equal(reg(f, R_INT_STATUS), 0);
    /* with EVENT_IDX the NO_INTERRUPT flag is not used: used_event rules */
    put16(f, AVAIL, 1);
    put16(f, used_event, 7);
    request_ok(f, 4, 4);
    assert_int_equal(reg(f, R_INT_STATUS), VIRTIO_INT_USED);
}

static void test_no_interrupt_flag(void **state)
{
    Fix *f = *state;
    driver_init(f, FEAT_V1 | FEAT_INDIRECT, 8);
    put16(f, AVAIL, 1); /* VIRTQ_AVAIL_F_NO_INTERRUPT */
    request_ok(f, 0, 8);
    request_ok(f, 1, 8);
    assert_int_equal(reg(f, R_INT_STATUS), 0);
    assert_false(irq_line(f));
    /* without EVENT_IDX the device never writes avail_event */
    assert_int_equal(get16(f, USED + 4 + 8ull * 8), 0);
    put16(f, AVAIL, 0);
    request_ok(f, 2, 8);
    assert_int_equal(reg(f, R_INT_STATUS), VIRTIO_INT_USED);
    assert_true(irq_line(f));
}

static void test_config_generation(void **state)
{
    Fix *f = *state;
    VirtioDev *d = dev_of(f);
    assert_int_equal(reg(f, R_CONFIG_GEN), 0);
    /* before DRIVER_OK a change bumps the generation, without interrupt */
    virtio_config_changed(d);
    assert_int_equal(reg(f, R_CONFIG_GEN), 1);
    assert_int_equal(reg(f, R_INT_STATUS), 0);
    driver_init(f, FEAT_V1, 8);
    virtio_config_changed(d);
    assert_int_equal(reg(f, R_CONFIG_GEN), 2);
    assert_int_equal(reg(f, R_INT_STATUS), VIRTIO_INT_CONFIG);
    assert_true(irq_line(f));
    set_reg(f, R_INT_ACK, VIRTIO_INT_CONFIG);
    assert_false(irq_line(f));
    /* config writes beyond the (empty) config space are ignored */
    wr(f->m, DEV_BASE + R_CONFIG, 4, 0xffffffff);
    assert_int_equal(rd(f->m, DEV_BASE + R_CONFIG, 4), 0);
    assert_int_equal(reg(f, R_CONFIG_GEN), 2);
}

static void test_device_reset(void **state)
{
    Fix *f = *state;
    driver_init(f, FEAT_ALL, 8);
    request_ok(f, 0, 8);
    virtio_config_changed(dev_of(f));
    assert_int_equal(reg(f, R_INT_STATUS), VIRTIO_INT_USED | VIRTIO_INT_CONFIG);
    assert_true(irq_line(f));
    set_reg(f, R_STATUS, 0);
    assert_int_equal(reg(f, R_STATUS), 0);
    assert_int_equal(reg(f, R_INT_STATUS), 0);
    assert_false(irq_line(f));
    set_reg(f, R_QUEUE_SEL, 0);
    assert_int_equal(reg(f, R_QUEUE_READY), 0);
    assert_int_equal(reg(f, R_QUEUE_NUM), 0);
    assert_int_equal(reg(f, R_DESC_LO), 0);
    assert_int_equal(reg(f, R_AVAIL_LO), 0);
    assert_int_equal(reg(f, R_USED_LO), 0);
    assert_int_equal(dev_of(f)->driver_features, 0);
    /* a notification after reset touches nothing */
    offer(f, 0);
    notify(f);
    assert_int_equal(used_idx(f), 1);
    /* the device starts again from index 0 */
    driver_init(f, FEAT_ALL, 8);
    request_ok(f, 0, 8);
    assert_int_equal(used_idx(f), 1);
}

/* A guest reset (machine_reset) puts the transport back to the state of
 * a fresh machine, ConfigGeneration included. */
static void test_machine_reset_is_fresh(void **state)
{
    Fix *f = *state;
    driver_init(f, FEAT_ALL, 8);
    request_ok(f, 0, 8);
    virtio_config_changed(dev_of(f));
    machine_reset(f->m);
    Fix *g = make_fix();
    SerWriter a, b;
    ser_writer_init(&a);
    ser_writer_init(&b);
    board_save_devices(f->m, &a);
    board_save_devices(g->m, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.buf, b.buf, a.len);
    assert_int_equal(reg(f, R_CONFIG_GEN), 0);
    ser_writer_free(&a);
    ser_writer_free(&b);
    free_fix(g);
}

/* Save mid-use, load into a second machine, and drive both alike: every
 * answer and every byte of the rings must match. */
static void copy_ram(Fix *from, Fix *to)
{
    static uint8_t buf[RAM_SIZE];
    assert_true(machine_phys_read(from->m, RAM_BASE, buf, sizeof buf));
    assert_true(machine_phys_write(to->m, RAM_BASE, buf, sizeof buf));
    to->rng_calls = from->rng_calls;
    to->qnum = from->qnum;
    to->avail_idx = from->avail_idx;
}

static void drive_more(Fix *f)
{
    /* one offered but not yet notified chain is pending from before */
    notify(f);
    ack_all(f);
    put16(f, AVAIL + 4 + 2ull * 8, (uint16_t)(used_idx(f) + 2)); /* used_event */
    for (int i = 0; i < 5; i++)
        request_ok(f, (uint16_t)i, 8 + (uint32_t)i);
    virtio_config_changed(dev_of(f));
}

static void test_save_load_mid_use(void **state)
{
    Fix *f = *state;
    driver_init(f, FEAT_ALL, 8);
    request_ok(f, 0, 8);
    request_ok(f, 1, 8);
    put_desc(f, 2, BUF + 0x100, 16, F_WRITE, 0);
    offer(f, 2);
    put16(f, AVAIL + 4 + 2ull * 8, 1); /* used_event */
    set_reg(f, R_QUEUE_SEL, 3);        /* odd register values survive too */
    set_reg(f, R_DEV_FEATURES_SEL, 1);
    assert_true(irq_line(f));

    SerWriter w;
    ser_writer_init(&w);
    board_save_devices(f->m, &w);
    Fix *g = make_fix();
    copy_ram(f, g);
    SerReader r;
    ser_reader_init(&r, w.buf, w.len);
    assert_true(board_load_devices(g->m, &r));
    assert_int_equal(r.pos, r.len);
    assert_true(irq_line(g)); /* the line level is restored with the state */
    assert_int_equal(reg(g, R_STATUS), reg(f, R_STATUS));
    assert_int_equal(dev_of(g)->queue_sel, 3); /* QueueSel is write-only */
    assert_int_equal(reg(g, R_QUEUE_NUM_MAX), 0);
    assert_int_equal(reg(g, R_DEV_FEATURES), reg(f, R_DEV_FEATURES));
    set_reg(f, R_QUEUE_SEL, 0);
    set_reg(g, R_QUEUE_SEL, 0);

    drive_more(f);
    drive_more(g);
    static uint8_t ra[RAM_SIZE], rb[RAM_SIZE];
    assert_true(machine_phys_read(f->m, RAM_BASE, ra, sizeof ra));
    assert_true(machine_phys_read(g->m, RAM_BASE, rb, sizeof rb));
    assert_memory_equal(ra, rb, sizeof ra);
    assert_int_equal(reg(f, R_INT_STATUS), reg(g, R_INT_STATUS));
    assert_int_equal(f->rng_calls, g->rng_calls);
    SerWriter a, b;
    ser_writer_init(&a);
    ser_writer_init(&b);
    board_save_devices(f->m, &a);
    board_save_devices(g->m, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.buf, b.buf, a.len);

    /* a broken device's state round-trips too, reason included */
    put_desc(f, 0, BUF, 8, F_WRITE | F_NEXT, 0);
    offer(f, 0);
    notify(f);
    assert_true(dev_of(f)->broken[0]);
    ser_writer_free(&w);
    ser_writer_init(&w);
    board_save_devices(f->m, &w);
    ser_reader_init(&r, w.buf, w.len);
    assert_true(board_load_devices(g->m, &r));
    assert_string_equal(dev_of(g)->broken, dev_of(f)->broken);
    assert_int_not_equal(reg(g, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);

    /* a cut state is refused */
    for (size_t cut = 0; cut < w.len; cut += 5) {
        ser_reader_init(&r, w.buf, cut);
        assert_false(board_load_devices(g->m, &r));
    }
    ser_writer_free(&w);
    ser_writer_free(&a);
    ser_writer_free(&b);
    free_fix(g);
}

/* A saved state whose error reason and NEEDS_RESET bit disagree is one no
 * device can reach (virtio_dev_fail sets both, reset clears both): load
 * must refuse it rather than run a device that shows NEEDS_RESET, or keep
 * a reason that does not save back to the same bytes. */
static void test_load_refuses_inconsistent_error(void **state)
{
    Fix *f = *state;
    driver_init(f, FEAT_ALL, 8);
    put_desc(f, 0, BUF, 8, F_WRITE | F_NEXT, 0);
    offer(f, 0);
    notify(f);
    const char *why = dev_of(f)->broken;
    size_t wlen = strlen(why);
    assert_true(wlen > 4);
    SerWriter w;
    ser_writer_init(&w);
    board_save_devices(f->m, &w);
    uint8_t *at = memmem(w.buf, w.len, why, wlen);
    assert_non_null(at);
    assert_int_equal(get_le32(at - 4), wlen);
    Fix *g = make_fix();
    SerReader r;
    ser_reader_init(&r, w.buf, w.len);
    assert_true(board_load_devices(g->m, &r)); /* the real one loads */

    /* a NUL inside the reason */
    uint8_t *bad = malloc(w.len);
    memcpy(bad, w.buf, w.len);
    bad[at - w.buf + 2] = 0;
    ser_reader_init(&r, bad, w.len);
    assert_false(board_load_devices(g->m, &r));
    /* NEEDS_RESET without a reason: cut the text out, length 0 */
    size_t pos = (size_t)(at - w.buf);
    memcpy(bad, w.buf, pos - 4);
    put_le32(bad + pos - 4, 0);
    memcpy(bad + pos, w.buf + pos + wlen, w.len - pos - wlen);
    ser_reader_init(&r, bad, w.len - wlen);
    assert_false(board_load_devices(g->m, &r));
    free(bad);
    ser_writer_free(&w);
    free_fix(g);
}

/* Other states no device reaches: interrupt bits beyond USED|CONFIG (the
 * line would stay high with nothing a driver can ack), or FEATURES_OK
 * with features never offered (the device would run on them). */
static void test_load_refuses_unreachable_registers(void **state)
{
    Fix *f = *state;
    driver_init(f, FEAT_ALL, 8);
    request_ok(f, 0, 8);
    SerWriter w;
    ser_writer_init(&w);
    board_save_devices(f->m, &w);
    const char *name = "virtio-rng-device";
    uint8_t *at = memmem(w.buf, w.len, name, strlen(name));
    assert_non_null(at);
    size_t regs = (size_t)(at - w.buf) + strlen(name);
    /* status, 3 selectors, driver features (u64), interrupt status */
    assert_int_equal(get_le32(w.buf + regs), reg(f, R_STATUS));
    assert_int_equal(get_le64(w.buf + regs + 16), FEAT_ALL);
    assert_int_equal(get_le32(w.buf + regs + 24), VIRTIO_INT_USED);
    Fix *g = make_fix();
    SerReader r;
    ser_reader_init(&r, w.buf, w.len);
    assert_true(board_load_devices(g->m, &r));

    uint8_t *bad = malloc(w.len);
    memcpy(bad, w.buf, w.len);
    put_le32(bad + regs + 24, VIRTIO_INT_USED | 4);
    ser_reader_init(&r, bad, w.len);
    assert_false(board_load_devices(g->m, &r));
    memcpy(bad, w.buf, w.len);
    put_le64(bad + regs + 16, FEAT_ALL | 1);
    ser_reader_init(&r, bad, w.len);
    assert_false(board_load_devices(g->m, &r));
    memcpy(bad, w.buf, w.len);
    put_le64(bad + regs + 16, FEAT_INDIRECT); /* no VERSION_1 */
    ser_reader_init(&r, bad, w.len);
    assert_false(board_load_devices(g->m, &r));
    /* without FEATURES_OK any features are a driver's unchecked writes */
    memcpy(bad, w.buf, w.len);
    put_le32(bad + regs, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    put_le64(bad + regs + 16, FEAT_ALL | 1);
    ser_reader_init(&r, bad, w.len);
    assert_true(board_load_devices(g->m, &r));
    free(bad);
    ser_writer_free(&w);
    free_fix(g);
}

/* --- hostile drivers --- */

/* Each case builds a broken request on a ready queue (features and queue
 * size given); notifying must break the device. */
typedef struct Hostile {
    const char *name;
    uint64_t features;
    uint32_t qnum;
    void (*build)(Fix *f);
} Hostile;

static void h_loop(Fix *f)
{
    put_desc(f, 0, BUF, 8, F_WRITE | F_NEXT, 1);
    put_desc(f, 1, BUF, 8, F_WRITE | F_NEXT, 0);
    offer(f, 0);
}

static void h_self_loop(Fix *f)
{
    put_desc(f, 3, BUF, 8, F_WRITE | F_NEXT, 3);
    offer(f, 3);
}

static void h_next_out_of_range(Fix *f)
{
    put_desc(f, 0, BUF, 8, F_WRITE | F_NEXT, 8);
    offer(f, 0);
}

static void h_next_far_out_of_range(Fix *f)
{
    put_desc(f, 0, BUF, 8, F_WRITE | F_NEXT, 0xffff);
    offer(f, 0);
}

static void h_buffer_below_ram(Fix *f)
{
    put_desc(f, 0, 0x1000, 8, F_WRITE, 0);
    offer(f, 0);
}

static void h_buffer_on_device(Fix *f)
{
    put_desc(f, 0, DEV_BASE, 0x100, F_WRITE, 0);
    offer(f, 0);
}

static void h_buffer_spans_ram_end(Fix *f)
{
    put_desc(f, 0, RAM_END - 4, 8, F_WRITE, 0);
    offer(f, 0);
}

static void h_buffer_wraps(Fix *f)
{
    put_desc(f, 0, 0xfffffffffffffff8ull, 16, F_WRITE, 0);
    offer(f, 0);
}

static void h_buffer_huge(Fix *f)
{
    put_desc(f, 0, RAM_BASE, 0xffffffff, F_WRITE, 0);
    offer(f, 0);
}

static void h_second_buffer_outside(Fix *f)
{
    put_desc(f, 0, BUF, 8, F_WRITE | F_NEXT, 1);
    put_desc(f, 1, RAM_END, 8, F_WRITE, 0);
    offer(f, 0);
}

static void h_readable_after_writable(Fix *f)
{
    put_desc(f, 0, BUF, 8, F_WRITE | F_NEXT, 1);
    put_desc(f, 1, BUF + 8, 8, 0, 0);
    offer(f, 0);
}

static void h_avail_jump(Fix *f)
{
    put_desc(f, 0, BUF, 8, F_WRITE, 0);
    put16(f, AVAIL + 4, 0);
    put16(f, AVAIL + 2, (uint16_t)(f->avail_idx + f->qnum + 1)); /* 9 new chains in a queue of 8 */
}

static void h_avail_backwards(Fix *f)
{
    put_desc(f, 0, BUF, 8, F_WRITE, 0);
    put16(f, AVAIL + 2, 0xffff); /* 65535 new chains */
}

static void h_head_out_of_range(Fix *f)
{
    put_desc(f, 0, BUF, 8, F_WRITE, 0);
    offer(f, 8);
}

static void h_head_far_out_of_range(Fix *f)
{
    offer(f, 0xffff);
}

static void h_indirect_misaligned(Fix *f)
{
    put_desc_at(f, TABLE, 0, BUF, 8, F_WRITE, 0);
    put_desc(f, 0, TABLE, 24, F_INDIRECT, 0); /* 1.5 descriptors */
    offer(f, 0);
}

static void h_indirect_empty(Fix *f)
{
    put_desc(f, 0, TABLE, 0, F_INDIRECT, 0);
    offer(f, 0);
}

static void h_indirect_outside_ram(Fix *f)
{
    put_desc(f, 0, 0x80000000ull - 0x1000, 32, F_INDIRECT, 0);
    offer(f, 0);
}

static void h_indirect_spans_ram_end(Fix *f)
{
    put_desc(f, 0, RAM_END - 16, 32, F_INDIRECT, 0);
    offer(f, 0);
}

static void h_indirect_wraps(Fix *f)
{
    put_desc(f, 0, 0xfffffffffffffff0ull, 0x20, F_INDIRECT, 0);
    offer(f, 0);
}

static void h_indirect_nested(Fix *f)
{
    put_desc_at(f, TABLE, 0, TABLE + 0x100, 16, F_INDIRECT, 0);
    put_desc_at(f, TABLE + 0x100, 0, BUF, 8, F_WRITE, 0);
    put_desc(f, 0, TABLE, 16, F_INDIRECT, 0);
    offer(f, 0);
}

static void h_indirect_with_next(Fix *f)
{
    put_desc_at(f, TABLE, 0, BUF, 8, F_WRITE, 0);
    put_desc(f, 0, TABLE, 16, F_INDIRECT | F_NEXT, 1);
    put_desc(f, 1, BUF + 16, 8, F_WRITE, 0);
    offer(f, 0);
}

static void h_indirect_after_direct(Fix *f)
{
    put_desc_at(f, TABLE, 0, BUF, 8, F_WRITE, 0);
    put_desc(f, 0, BUF + 16, 8, F_NEXT, 1);
    put_desc(f, 1, TABLE, 16, F_INDIRECT, 0);
    offer(f, 0);
}

static void h_indirect_not_negotiated(Fix *f)
{
    put_desc_at(f, TABLE, 0, BUF, 8, F_WRITE, 0);
    put_desc(f, 0, TABLE, 16, F_INDIRECT, 0);
    offer(f, 0);
}

static void h_indirect_loop(Fix *f)
{
    put_desc_at(f, TABLE, 0, BUF, 8, F_WRITE | F_NEXT, 1);
    put_desc_at(f, TABLE, 1, BUF, 8, F_WRITE | F_NEXT, 0);
    put_desc(f, 0, TABLE, 32, F_INDIRECT, 0);
    offer(f, 0);
}

static void h_indirect_next_out_of_table(Fix *f)
{
    put_desc_at(f, TABLE, 0, BUF, 8, F_WRITE | F_NEXT, 2); /* table of 2 */
    put_desc_at(f, TABLE, 2, BUF, 8, F_WRITE, 0);
    put_desc(f, 0, TABLE, 32, F_INDIRECT, 0);
    offer(f, 0);
}

static void h_indirect_buffer_outside(Fix *f)
{
    put_desc_at(f, TABLE, 0, RAM_END - 8, 9, F_WRITE, 0);
    put_desc(f, 0, TABLE, 16, F_INDIRECT, 0);
    offer(f, 0);
}

static void h_indirect_readable_after_writable(Fix *f)
{
    put_desc_at(f, TABLE, 0, BUF, 8, F_WRITE | F_NEXT, 1);
    put_desc_at(f, TABLE, 1, BUF + 8, 8, 0, 0);
    put_desc(f, 0, TABLE, 32, F_INDIRECT, 0);
    offer(f, 0);
}

static void h_indirect_too_long(Fix *f)
{
    for (uint32_t i = 0; i <= VIRTQ_MAX_SEGS; i++)
        put_desc_at(f, TABLE, i, BUF + i, 1, F_WRITE | F_NEXT, (uint16_t)(i + 1));
    put_desc_at(f, TABLE, VIRTQ_MAX_SEGS, BUF, 1, F_WRITE, 0);
    put_desc(f, 0, TABLE, 16 * (VIRTQ_MAX_SEGS + 1), F_INDIRECT, 0);
    offer(f, 0);
}

static void h_chain_too_long(Fix *f) /* queue of 128: no loop, just long */
{
    for (uint32_t i = 0; i <= VIRTQ_MAX_SEGS; i++)
        put_desc(f, i, BUF + i, 1, F_WRITE | (i < VIRTQ_MAX_SEGS ? F_NEXT : 0), (uint16_t)(i + 1));
    offer(f, 0);
}

static void h_bad_chain_after_good(Fix *f) /* the first chain is served */
{
    put_desc(f, 0, BUF, 8, F_WRITE, 0);
    put_desc(f, 1, BUF, 8, F_WRITE | F_NEXT, 1);
    offer(f, 0);
    offer(f, 1);
}

static const Hostile hostile[] = {
    {"descriptor loop", FEAT_ALL, 8, h_loop},
    {"descriptor pointing at itself", FEAT_ALL, 8, h_self_loop},
    {"next out of range", FEAT_ALL, 8, h_next_out_of_range},
    {"next far out of range", FEAT_ALL, 8, h_next_far_out_of_range},
    {"buffer below RAM", FEAT_ALL, 8, h_buffer_below_ram},
    {"buffer on a device", FEAT_ALL, 8, h_buffer_on_device},
    {"buffer spanning the RAM end", FEAT_ALL, 8, h_buffer_spans_ram_end},
    {"buffer wrapping the address space", FEAT_ALL, 8, h_buffer_wraps},
    {"buffer larger than RAM", FEAT_ALL, 8, h_buffer_huge},
    {"second buffer outside RAM", FEAT_ALL, 8, h_second_buffer_outside},
    {"readable after writable", FEAT_ALL, 8, h_readable_after_writable},
    {"avail idx jumps past the queue size", FEAT_ALL, 8, h_avail_jump},
    {"avail idx moves backwards", FEAT_ALL, 8, h_avail_backwards},
    {"head out of range", FEAT_ALL, 8, h_head_out_of_range},
    {"head far out of range", FEAT_ALL, 8, h_head_far_out_of_range},
    {"indirect table misaligned", FEAT_ALL, 8, h_indirect_misaligned},
    {"indirect table empty", FEAT_ALL, 8, h_indirect_empty},
    {"indirect table outside RAM", FEAT_ALL, 8, h_indirect_outside_ram},
    {"indirect table spanning the RAM end", FEAT_ALL, 8, h_indirect_spans_ram_end},
    {"indirect table wrapping the address space", FEAT_ALL, 8, h_indirect_wraps},
    {"nested indirect", FEAT_ALL, 8, h_indirect_nested},
    {"indirect with NEXT", FEAT_ALL, 8, h_indirect_with_next},
    {"indirect after a direct descriptor", FEAT_ALL, 8, h_indirect_after_direct},
    {"indirect not negotiated", FEAT_V1 | FEAT_EVENT_IDX, 8, h_indirect_not_negotiated},
    {"indirect loop", FEAT_ALL, 8, h_indirect_loop},
    {"indirect next out of the table", FEAT_ALL, 8, h_indirect_next_out_of_table},
    {"indirect buffer outside RAM", FEAT_ALL, 8, h_indirect_buffer_outside},
    {"indirect readable after writable", FEAT_ALL, 8, h_indirect_readable_after_writable},
    {"indirect chain longer than VIRTQ_MAX_SEGS", FEAT_ALL, 8, h_indirect_too_long},
    {"chain longer than VIRTQ_MAX_SEGS", FEAT_ALL, 128, h_chain_too_long},
    {"bad chain after a good one", FEAT_V1, 8, h_bad_chain_after_good},
};

static void check_hostile(Fix *f, const Hostile *h)
{
    print_message("hostile: %s\n", h->name);
    driver_init(f, h->features, h->qnum);
    request_ok(f, 7, 4); /* the queue works before */
    ack_all(f);
    uint8_t before[6 + 8 * 128];
    size_t used_bytes = 6 + 8 * (size_t)h->qnum;
    assert_true(machine_phys_read(f->m, USED, before, used_bytes));
    uint32_t calls = f->rng_calls;
    h->build(f);
    bool served_first = h->build == h_bad_chain_after_good;
    notify(f);
    assert_int_not_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
    assert_true(reg(f, R_INT_STATUS) & VIRTIO_INT_CONFIG);
    assert_true(irq_line(f));
    assert_true(dev_of(f)->broken[0]);
    if (served_first) {
        assert_int_equal(used_idx(f), 2);
    } else {
        /* nothing was taken: no random bytes, no used element */
        uint8_t after[sizeof before];
        assert_true(machine_phys_read(f->m, USED, after, used_bytes));
        assert_memory_equal(before, after, used_bytes);
        assert_int_equal(f->rng_calls, calls);
    }
    /* a broken device ignores notifications, and the driver cannot clear
     * NEEDS_RESET but by a reset */
    uint16_t used = used_idx(f);
    put_desc(f, 5, BUF, 8, F_WRITE, 0);
    put16(f, AVAIL + 2, f->avail_idx); /* repair the ring */
    notify(f);
    assert_int_equal(used_idx(f), used);
    set_reg(f, R_STATUS, reg(f, R_STATUS) & ~(uint32_t)VIRTIO_STATUS_NEEDS_RESET);
    assert_int_not_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
    set_reg(f, R_INT_ACK, VIRTIO_INT_CONFIG | VIRTIO_INT_USED);
    assert_false(irq_line(f));
    /* reset: the device works again */
    set_reg(f, R_STATUS, 0);
    assert_int_equal(reg(f, R_STATUS), 0);
    assert_false(dev_of(f)->broken[0]);
    driver_init(f, h->features, h->qnum);
    request_ok(f, 2, 8);
    assert_int_equal(reg(f, R_INT_STATUS), VIRTIO_INT_USED);
}

static void test_hostile_chains(void **state)
{
    Fix *f = *state;
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
        check_hostile(f, &hostile[i]);
}

/* Writable buffers over the descriptor table or the used ring are only
 * the driver's loss: the device serves them, stays sane and returns. */
static void test_hostile_ring_overlap(void **state)
{
    Fix *f = *state;
    driver_init(f, FEAT_ALL, 8);
    put_desc(f, 0, DESC, 16 * 8, F_WRITE, 0); /* the whole table, itself included */
    offer(f, 0);
    notify(f);
    assert_int_equal(used_idx(f), 1);
    assert_int_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
    /* the next chain reads a descriptor of random bytes: broken or served */
    offer(f, 1);
    notify(f);
    assert_true(used_idx(f) == 2 || (reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET));

    driver_init(f, FEAT_ALL, 8);
    put_desc(f, 0, USED, 6 + 8 * 8, F_WRITE, 0); /* the whole used ring */
    offer(f, 0);
    notify(f);
    assert_int_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
    assert_int_equal(used_idx(f), 1); /* the device's own write comes last */
    assert_int_equal(used_id(f, 0), 0);
    driver_init(f, FEAT_ALL, 8);
    request_ok(f, 0, 8);
}

/* A device whose output the guest can predict (here a serial number;
 * virtio-blk returning sectors the guest wrote is the real case) must not
 * be able to feed its own queue: a writable buffer over the avail index
 * would let each answer announce one more chain, and the device would pop
 * forever inside one QueueNotify. The model stops itself at POP_CAP. */
#define POP_CAP 100000
typedef struct Serial {
    VirtioDev d; /* first member, as every model */
    uint32_t served, pops;
} Serial;

static void serial_notify(VirtioDev *d, int q)
{
    Serial *s = (Serial *)d;
    VirtqElem e;
    s->pops = 0;
    while (s->pops < POP_CAP && virtq_pop(d, q, &e) == 1) {
        s->pops++;
        s->served++;
        uint8_t b[2];
        put_le16(b, (uint16_t)(s->served + 1));
        virtq_push(d, q, &e, (uint32_t)virtq_copy_to(d, &e, 0, b, sizeof b));
    }
    virtq_notify(d, q);
}

static void serial_free(VirtioDev *d) { free(d); }

static const VirtioDevClass serial_class = {
    .name = "test-serial", .device_id = 0x7e57, .queue_notify = serial_notify, .free = serial_free};

static void test_device_cannot_feed_its_avail_ring(void **state)
{
    Fix *f = *state;
    const VirtioMmioSlot *slot = machine_find_mmio(f->m, DEV_BASE)->dev;
    Serial *s = calloc(1, sizeof *s);
    virtio_dev_init(&s->d, &serial_class, 1, 0);
    assert_true(virtio_mmio_plug(slot->v, f->m, 0, &s->d)); /* slot 0, 0x10001000 */
    uint64_t base = VIRTIO_MMIO_BASE;
    assert_int_equal(rd(f->m, base + R_DEVICE_ID, 4), 0x7e57);
    wr(f->m, base + R_STATUS, 4, 3);
    wr(f->m, base + R_DRV_FEATURES_SEL, 4, 1);
    wr(f->m, base + R_DRV_FEATURES, 4, 1);
    wr(f->m, base + R_STATUS, 4, 0xb);
    wr(f->m, base + R_QUEUE_SEL, 4, 0);
    wr(f->m, base + R_QUEUE_NUM, 4, 8);
    wr(f->m, base + R_DESC_LO, 4, (uint32_t)DESC);
    wr(f->m, base + R_AVAIL_LO, 4, (uint32_t)AVAIL);
    wr(f->m, base + R_USED_LO, 4, (uint32_t)USED);
    wr(f->m, base + R_QUEUE_READY, 4, 1);
    wr(f->m, base + R_STATUS, 4, 0xf);
    assert_int_equal(rd(f->m, base + R_STATUS, 4), 0xf);
    f->qnum = 8;
    /* every ring entry names chain 0, whose buffer is avail->idx */
    put_desc(f, 0, AVAIL + 2, 2, F_WRITE, 0);
    offer(f, 0);
    wr(f->m, base + R_QUEUE_NOTIFY, 4, 0);
    assert_true(s->pops <= 8);
    assert_int_not_equal(rd(f->m, base + R_STATUS, 4) & VIRTIO_STATUS_NEEDS_RESET, 0);
    /* a buffer over another part of the rings is only the driver's loss */
    wr(f->m, base + R_STATUS, 4, 0);
    wr(f->m, base + R_STATUS, 4, 3);
    wr(f->m, base + R_DRV_FEATURES_SEL, 4, 1);
    wr(f->m, base + R_DRV_FEATURES, 4, 1);
    wr(f->m, base + R_STATUS, 4, 0xb);
    wr(f->m, base + R_QUEUE_NUM, 4, 8);
    wr(f->m, base + R_DESC_LO, 4, (uint32_t)DESC);
    wr(f->m, base + R_AVAIL_LO, 4, (uint32_t)AVAIL);
    wr(f->m, base + R_USED_LO, 4, (uint32_t)USED);
    wr(f->m, base + R_QUEUE_READY, 4, 1);
    wr(f->m, base + R_STATUS, 4, 0xf);
    f->avail_idx = 0;
    put16(f, AVAIL + 2, 0);
    put_desc(f, 1, USED + 0x100, 2, F_WRITE, 0);
    offer(f, 1);
    wr(f->m, base + R_QUEUE_NOTIFY, 4, 0);
    assert_int_equal(s->pops, 1);
    assert_int_equal(rd(f->m, base + R_STATUS, 4), 0xf);
}

/* The used ring (device-written) must not overlap an avail ring either:
 * the used elements' lengths would become avail indices. */
static void test_used_ring_over_avail_ring(void **state)
{
    Fix *f = *state;
    struct {
        uint64_t avail, used;
    } bad[] = {
        {AVAIL, AVAIL},
        {AVAIL + 6, AVAIL},       /* used elem 0's len lands on avail idx */
        {AVAIL, AVAIL - 0x40},    /* used ring ends inside the avail ring */
        {AVAIL, AVAIL + 0x10},    /* used ring starts inside it */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        set_reg(f, R_STATUS, 0);
        set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        write_features(f, FEAT_ALL);
        set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
        setup_queue(f, 8, DESC, bad[i].avail, bad[i].used);
        assert_int_equal(reg(f, R_QUEUE_READY), 0);
        assert_int_not_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
    }
    /* adjacent is fine: avail ring of 8 is 22 bytes */
    set_reg(f, R_STATUS, 0);
    set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    write_features(f, FEAT_ALL);
    set_reg(f, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    setup_queue(f, 8, DESC, AVAIL, AVAIL + 24);
    assert_int_equal(reg(f, R_QUEUE_READY), 1);
    assert_int_equal(reg(f, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feature_negotiation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_driver_ok_needs_features_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_setup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_ready_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_direct_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_machine_reset_is_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load_mid_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_refuses_inconsistent_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_refuses_unreachable_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_chains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_ring_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_cannot_feed_its_avail_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_used_ring_over_avail_ring, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
