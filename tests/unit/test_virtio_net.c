/*
 * test_virtio_net.c - the virtio network card as Linux's driver uses it:
 * MAC and link status in config space, a frame sent through the transmit
 * queue (header stripped, counted, digested, handed to the host), frames
 * received into mergeable buffers (one frame over several, num_buffers in
 * the header), a frame that does not fit yet waiting with nothing consumed,
 * malformed frames dropped, and the counters across save/load and reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "machine/board.h"
#include "machine/dev/virtio_mmio.h"
#include "machine/dev/virtio_net.h"
#include "machine/machine.h"

#define RAM_SIZE (1ull << 20)
#define DEV_BASE 0x10008000ull /* cfg.devices[0]: the highest slot */
#define R_DRV_FEATURES 0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_STATUS 0x070
#define R_DESC_LO 0x080
#define R_AVAIL_LO 0x090
#define R_USED_LO 0x0a0
#define R_CONFIG 0x100
#define F_NEXT 1
#define F_WRITE 2
#define FEATURES ((1ull << VIRTIO_F_VERSION_1) | (1ull << 5) | (1ull << 15) | (1ull << 16))
#define QNUM 16
#define RXQ 0
#define TXQ 1
/* rings of queue q at RING(q); buffers above */
#define RING(q) (RAM_BASE + 0x10000 + 0x4000ull * (q))
#define DESC(q) RING(q)
#define AVAIL(q) (RING(q) + 0x1000)
#define USED(q) (RING(q) + 0x2000)
#define BUF (RAM_BASE + 0x40000)

typedef struct Fix {
    Machine *m;
    uint16_t avail[2];
    uint8_t sent[2048];
    size_t sent_len;
    int sent_dev, nsent;
} Fix;

static void net_send(void *opaque, int dev, const uint8_t *frame, size_t n)
{
    Fix *f = opaque;
    assert_true(n <= sizeof f->sent);
    memcpy(f->sent, frame, n);
    f->sent_len = n;
    f->sent_dev = dev;
    f->nsent++;
}

static uint64_t rd(Machine *m, uint64_t addr, int size)
{
    const MmioRegion *r = machine_find_mmio(m, addr);
    uint64_t v = 0;
    assert_non_null(r);
    assert_true(r->read(r->dev, addr - r->base, size, &v));
    return v;
}

static void set_reg(Fix *f, uint64_t off, uint32_t v)
{
    const MmioRegion *r = machine_find_mmio(f->m, DEV_BASE + off);
    assert_true(r->write(r->dev, DEV_BASE + off - r->base, 4, v));
}

static void put16(Fix *f, uint64_t a, uint16_t v) { assert_true(machine_phys_write(f->m, a, &v, 2)); }
static uint16_t get16(Fix *f, uint64_t a)
{
    uint16_t v;
    assert_true(machine_phys_read(f->m, a, &v, 2));
    return v;
}
static uint32_t get32(Fix *f, uint64_t a)
{
    uint32_t v;
    assert_true(machine_phys_read(f->m, a, &v, 4));
    return v;
}

static void put_desc(Fix *f, int q, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t d[16];
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
    assert_true(machine_phys_write(f->m, DESC(q) + 16ull * i, d, 16));
}

static void offer(Fix *f, int q, uint16_t head)
{
    put16(f, AVAIL(q) + 4 + 2ull * (f->avail[q] % QNUM), head);
    f->avail[q]++;
    put16(f, AVAIL(q) + 2, f->avail[q]);
}

static VirtioDev *dev(Fix *f) { return board_virtio_device(f->m, 0); }

static int setup(void **state)
{
    Fix *f = calloc(1, sizeof *f);
    MachineConfig cfg = {.ram_size = RAM_SIZE, .nharts = 1, .board_virt = true, .quantum = 1000};
    cfg.devices[0].kind = MDEV_VIRTIO_NET;
    memcpy(cfg.devices[0].mac, "\x52\x54\x00\x12\x34\x56", 6);
    cfg.ndevices = 1;
    MachineHostIf host = {.opaque = f, .net_send = net_send};
    f->m = machine_new(&cfg, &host);
    assert_non_null(f->m);
    static const uint8_t zero[0x8000];
    assert_true(machine_phys_write(f->m, RING(0), zero, sizeof zero));
    set_reg(f, R_STATUS, 0);
    set_reg(f, R_STATUS, 3);
    set_reg(f, R_DRV_FEATURES_SEL, 0);
    set_reg(f, R_DRV_FEATURES, (uint32_t)FEATURES);
    set_reg(f, R_DRV_FEATURES_SEL, 1);
    set_reg(f, R_DRV_FEATURES, (uint32_t)(FEATURES >> 32));
    set_reg(f, R_STATUS, 3 | VIRTIO_STATUS_FEATURES_OK);
    for (int q = 0; q < 2; q++) {
        set_reg(f, R_QUEUE_SEL, (uint32_t)q);
        set_reg(f, R_QUEUE_NUM, QNUM);
        set_reg(f, R_DESC_LO, (uint32_t)DESC(q));
        set_reg(f, R_AVAIL_LO, (uint32_t)AVAIL(q));
        set_reg(f, R_USED_LO, (uint32_t)USED(q));
        set_reg(f, R_QUEUE_READY, 1);
    }
    set_reg(f, R_STATUS, 3 | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    assert_true(virtio_dev_running(dev(f)));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fix *f = *state;
    machine_free(f->m);
    free(f);
    return 0;
}

static void test_config(void **state)
{
    Fix *f = *state;
    uint8_t mac[6];
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)rd(f->m, DEV_BASE + R_CONFIG + (uint64_t)i, 1);
    assert_memory_equal(mac, "\x52\x54\x00\x12\x34\x56", 6);
    assert_int_equal(rd(f->m, DEV_BASE + R_CONFIG + 6, 2), 1); /* LINK_UP */
}

/* config bytes the driver wrote do not outlive a reset (found by
 * fuzz_virtio: a machine reset must give a fresh machine's devices) */
static void test_reset_restores_config(void **state)
{
    Fix *f = *state;
    const MmioRegion *r = machine_find_mmio(f->m, DEV_BASE);
    assert_true(r->write(r->dev, R_CONFIG, 1, 0xee));
    assert_int_equal(rd(f->m, DEV_BASE + R_CONFIG, 1), 0xee);
    set_reg(f, R_STATUS, 0);
    assert_int_equal(rd(f->m, DEV_BASE + R_CONFIG, 1), 0x52);
}

/* header in one descriptor, the frame in another, as Linux may send */
static void test_transmit(void **state)
{
    Fix *f = *state;
    uint8_t hdr[12] = {0}, frame[60];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (uint8_t)(i * 3);
    assert_true(machine_phys_write(f->m, BUF, hdr, sizeof hdr));
    assert_true(machine_phys_write(f->m, BUF + 0x100, frame, sizeof frame));
    put_desc(f, TXQ, 0, BUF, 12, F_NEXT, 1);
    put_desc(f, TXQ, 1, BUF + 0x100, sizeof frame, 0, 0);
    offer(f, TXQ, 0);
    set_reg(f, R_QUEUE_NOTIFY, TXQ);
    assert_int_equal(f->nsent, 1);
    assert_int_equal(f->sent_dev, 0);
    assert_int_equal(f->sent_len, sizeof frame);
    assert_memory_equal(f->sent, frame, sizeof frame);
    assert_int_equal(get16(f, USED(TXQ) + 2), 1);
    VirtioNetStats st;
    virtio_net_stats(dev(f), &st);
    assert_int_equal(st.tx_frames, 1);
    assert_int_equal(st.tx_bytes, sizeof frame);
    assert_int_not_equal(st.tx_digest, 0);
    /* shorter than a header plus an Ethernet header: returned, not sent */
    put_desc(f, TXQ, 2, BUF, 20, 0, 0);
    offer(f, TXQ, 2);
    set_reg(f, R_QUEUE_NOTIFY, TXQ);
    assert_int_equal(f->nsent, 1);
    assert_int_equal(get16(f, USED(TXQ) + 2), 2);
    virtio_net_stats(dev(f), &st);
    assert_int_equal(st.tx_dropped, 1);
}

static void post_rx(Fix *f, uint16_t i, uint32_t len)
{
    put_desc(f, RXQ, i, BUF + 0x1000ull * i, len, F_WRITE, 0);
    offer(f, RXQ, i);
}

static void test_receive_mergeable(void **state)
{
    Fix *f = *state;
    uint8_t frame[2500];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (uint8_t)(i ^ (i >> 8));
    assert_false(virtio_net_can_receive(dev(f)));
    post_rx(f, 0, 1024);
    post_rx(f, 1, 1024);
    assert_true(virtio_net_can_receive(dev(f)));
    /* 12 + 2500 bytes need three buffers: nothing is taken yet */
    assert_false(virtio_net_receive(dev(f), frame, sizeof frame));
    assert_int_equal(get16(f, USED(RXQ) + 2), 0);
    assert_true(virtio_net_can_receive(dev(f)));
    post_rx(f, 2, 1024);
    assert_true(virtio_net_receive(dev(f), frame, sizeof frame));
    assert_int_equal(get16(f, USED(RXQ) + 2), 3);
    uint32_t lens[3] = {get32(f, USED(RXQ) + 8), get32(f, USED(RXQ) + 16), get32(f, USED(RXQ) + 24)};
    assert_int_equal(lens[0], 1024);
    assert_int_equal(lens[1], 1024);
    assert_int_equal(lens[2], 12 + sizeof frame - 2048);
    assert_int_equal(get16(f, BUF + 10), 3); /* num_buffers */
    uint8_t got[sizeof frame];
    assert_true(machine_phys_read(f->m, BUF + 12, got, 1012));
    assert_true(machine_phys_read(f->m, BUF + 0x1000, got + 1012, 1024));
    assert_true(machine_phys_read(f->m, BUF + 0x2000, got + 2036, sizeof frame - 2036));
    assert_memory_equal(got, frame, sizeof frame);
    VirtioNetStats st;
    virtio_net_stats(dev(f), &st);
    assert_int_equal(st.rx_frames, 1);
    assert_int_equal(st.rx_bytes, sizeof frame);
}

static void test_malformed_frames_dropped(void **state)
{
    Fix *f = *state;
    static uint8_t big[VIRTIO_NET_MAX_FRAME + 1];
    post_rx(f, 0, 2048);
    assert_true(virtio_net_receive(dev(f), big, 10));          /* shorter than an Ethernet header */
    assert_true(virtio_net_receive(dev(f), big, sizeof big));  /* longer than any frame */
    assert_int_equal(get16(f, USED(RXQ) + 2), 0);              /* no buffer used */
    VirtioNetStats st;
    virtio_net_stats(dev(f), &st);
    assert_int_equal(st.rx_dropped, 2);
    assert_int_equal(st.rx_frames, 0);
}

static void test_stats_survive_save_load(void **state)
{
    Fix *f = *state;
    uint8_t frame[64] = {1, 2, 3};
    post_rx(f, 0, 2048);
    assert_true(virtio_net_receive(dev(f), frame, sizeof frame));
    SerWriter w;
    ser_writer_init(&w);
    machine_save(f->m, &w);
    VirtioNetStats before;
    virtio_net_stats(dev(f), &before);
    set_reg(f, R_STATUS, 0); /* a driver's reset keeps them */
    VirtioNetStats kept;
    virtio_net_stats(dev(f), &kept);
    assert_memory_equal(&kept, &before, sizeof kept);
    machine_reset(f->m); /* as a fresh machine: counters start afresh */
    VirtioNetStats reset;
    virtio_net_stats(dev(f), &reset);
    assert_int_equal(reset.rx_frames, 0);
    SerReader r;
    ser_reader_init(&r, w.buf, w.len);
    assert_true(machine_load(f->m, &r));
    VirtioNetStats after;
    virtio_net_stats(dev(f), &after);
    assert_memory_equal(&before, &after, sizeof before);
    ser_writer_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_restores_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transmit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_mergeable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_frames_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_survive_save_load, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
