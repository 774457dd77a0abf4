/*
 * test_virtio_console.c - the virtio console's control protocol, driven
 * through its MMIO registers and rings by a minimal driver written here
 * (as Linux's virtio_console drives it): DEVICE_READY -> PORT_ADD per
 * port, PORT_READY -> CONSOLE_PORT + PORT_NAME + PORT_OPEN, the guest's PORT_OPEN
 * gating input, output through port_write, control messages that wait
 * for buffers, and save/load of that state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "machine/board.h"
#include "machine/dev/virtio_console.h"
#include "machine/machine.h"
#include "util/le.h"

#define RAM_SIZE (16ull << 20)
#define QSIZE 8
#define RING_BASE (RAM_BASE + 0x100000) /* rings of queue q at RING_BASE + q * 0x1000 */
#define BUF_BASE (RAM_BASE + 0x200000)  /* buffers, 256 bytes each */

enum { CTRL_RX = 2, CTRL_TX = 3, PORT1_RX = 4, PORT1_TX = 5 };
enum { DEVICE_READY = 0, PORT_ADD = 1, PORT_READY = 3, CONSOLE_PORT = 4, PORT_OPEN = 6, PORT_NAME = 7 };

typedef struct Fix {
    Machine *m;
    uint64_t base;
    uint16_t avail_idx[16], used_seen[16], next_desc[16];
    int nbuf;
    char out[256];
    size_t out_len;
    int out_dev, out_port;
} Fix;

static void port_write(void *opaque, int dev, int port, const uint8_t *buf, size_t n)
{
    Fix *f = opaque;
    f->out_dev = dev;
    f->out_port = port;
    memcpy(f->out + f->out_len, buf, n);
    f->out_len += n;
}

static void rnd(void *opaque, uint8_t *buf, size_t n) { memset(buf, 1, n); }

static void wr(Fix *f, uint64_t off, uint32_t v)
{
    const MmioRegion *r = machine_find_mmio(f->m, f->base + off);
    assert_non_null(r);
    assert_true(r->write(r->dev, f->base + off - r->base, 4, v));
}

static uint32_t rd(Fix *f, uint64_t off)
{
    const MmioRegion *r = machine_find_mmio(f->m, f->base + off);
    uint64_t v = 0;
    assert_true(r->read(r->dev, f->base + off - r->base, 4, &v));
    return (uint32_t)v;
}

static uint64_t ring(int q) { return RING_BASE + 0x1000ull * (uint64_t)q; }

/* Features (multiport + version 1), every queue QSIZE deep, DRIVER_OK. */
static int setup(void **state)
{
    Fix *f = calloc(1, sizeof *f);
    MachineConfig cfg = {.ram_size = RAM_SIZE, .nharts = 1, .board_virt = true, .quantum = 1000, .ndevices = 1};
    cfg.devices[0] = (MachineDeviceConfig){.kind = MDEV_VIRTIO_CONSOLE, .nports = 2};
    snprintf(cfg.devices[0].port_name[1], MACHINE_PORT_NAME_MAX, "org.rrvm.1");
    MachineHostIf host = {.opaque = f, .random_bytes = rnd, .port_write = port_write};
    f->m = machine_new(&cfg, &host);
    assert_non_null(f->m);
    f->base = 0x10001000ull + 0x1000ull * (uint64_t)board_device_slot(0);
    assert_int_equal(rd(f, 0x008), 3);       /* DeviceID: console */
    assert_int_equal(rd(f, 0x100 + 4), 2);   /* max_nr_ports */
    wr(f, 0x070, 1 | 2);
    wr(f, 0x024, 0);
    wr(f, 0x020, 1u << 1); /* MULTIPORT */
    wr(f, 0x024, 1);
    wr(f, 0x020, 1);       /* VERSION_1 */
    wr(f, 0x070, 1 | 2 | 8);
    assert_int_equal(rd(f, 0x070) & 8, 8);
    for (int q = 0; q < 6; q++) {
        wr(f, 0x030, (uint32_t)q);
        wr(f, 0x038, QSIZE);
        wr(f, 0x080, (uint32_t)ring(q));
        wr(f, 0x090, (uint32_t)(ring(q) + 0x400));
        wr(f, 0x0a0, (uint32_t)(ring(q) + 0x800));
        wr(f, 0x044, 1);
    }
    wr(f, 0x070, 1 | 2 | 4 | 8);
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

/* Post one buffer (device-writable or not) on queue q, without a kick. */
static uint64_t post(Fix *f, int q, const void *data, uint32_t len, bool writable)
{
    uint64_t addr = BUF_BASE + 256ull * (uint64_t)f->nbuf++;
    uint8_t d[16];
    uint16_t i = (uint16_t)(f->next_desc[q]++ % QSIZE);
    if (data)
        machine_phys_write(f->m, addr, data, len);
    put_le64(d, addr);
    put_le32(d + 8, len);
    put_le16(d + 12, writable ? 2 : 0);
    put_le16(d + 14, 0);
    machine_phys_write(f->m, ring(q) + 16ull * i, d, 16);
    uint8_t b[2];
    put_le16(b, i);
    machine_phys_write(f->m, ring(q) + 0x400 + 4 + 2ull * (f->avail_idx[q] % QSIZE), b, 2);
    f->avail_idx[q]++;
    put_le16(b, f->avail_idx[q]);
    machine_phys_write(f->m, ring(q) + 0x400 + 2, b, 2);
    return addr;
}

static void send_ctrl(Fix *f, uint32_t id, uint16_t event, uint16_t value)
{
    uint8_t m[8];
    put_le32(m, id);
    put_le16(m + 4, event);
    put_le16(m + 6, value);
    post(f, CTRL_TX, m, 8, false);
    wr(f, 0x050, CTRL_TX);
}

/* The next used element of queue q: its buffer's bytes, or false. */
static bool next_used(Fix *f, int q, uint8_t *buf, uint32_t *len)
{
    uint8_t b[8];
    machine_phys_read(f->m, ring(q) + 0x800 + 2, b, 2);
    if (get_le16(b) == f->used_seen[q])
        return false;
    machine_phys_read(f->m, ring(q) + 0x800 + 4 + 8ull * (f->used_seen[q] % QSIZE), b, 8);
    f->used_seen[q]++;
    uint32_t head = get_le32(b);
    *len = get_le32(b + 4);
    uint8_t d[16];
    machine_phys_read(f->m, ring(q) + 16ull * head, d, 16);
    machine_phys_read(f->m, get_le64(d), buf, *len);
    return true;
}

static void expect_ctrl(Fix *f, uint32_t id, uint16_t event, uint16_t value)
{
    uint8_t m[256];
    uint32_t len;
    assert_true(next_used(f, CTRL_RX, m, &len));
    assert_int_equal(len, 8);
    assert_int_equal(get_le32(m), id);
    assert_int_equal(get_le16(m + 4), event);
    assert_int_equal(get_le16(m + 6), value);
}

static void handshake_port1(Fix *f)
{
    for (int i = 0; i < 5; i++)
        post(f, CTRL_RX, NULL, 64, true);
    send_ctrl(f, 0xffffffffu, DEVICE_READY, 1);
    expect_ctrl(f, 0, PORT_ADD, 1);
    expect_ctrl(f, 1, PORT_ADD, 1);
    send_ctrl(f, 1, PORT_READY, 1);
    expect_ctrl(f, 1, CONSOLE_PORT, 1);
    uint8_t m[256];
    uint32_t len;
    assert_true(next_used(f, CTRL_RX, m, &len)); /* the name follows the header, no NUL */
    assert_int_equal(len, 8 + strlen("org.rrvm.1"));
    assert_int_equal(get_le32(m), 1);
    assert_int_equal(get_le16(m + 4), PORT_NAME);
    assert_memory_equal(m + 8, "org.rrvm.1", strlen("org.rrvm.1"));
    expect_ctrl(f, 1, PORT_OPEN, 1);
}

static void test_handshake_then_input_and_output(void **state)
{
    Fix *f = *state;
    VirtioDev *d = board_virtio_device(f->m, 0);
    assert_true(virtio_console_is(d));
    handshake_port1(f);
    post(f, PORT1_RX, NULL, 4, true);
    assert_false(virtio_console_can_receive(d, 1)); /* the guest has not opened it */
    assert_int_equal(virtio_console_receive(d, 1, (const uint8_t *)"x", 1), 0);
    send_ctrl(f, 1, PORT_OPEN, 1);
    assert_true(virtio_console_can_receive(d, 1));
    assert_false(virtio_console_can_receive(d, 0)); /* port 0: never made ready */
    /* a 4-byte buffer takes 4 of 5 bytes; the caller keeps the rest */
    assert_int_equal(virtio_console_receive(d, 1, (const uint8_t *)"hello", 5), 4);
    uint8_t buf[256];
    uint32_t len;
    assert_true(next_used(f, PORT1_RX, buf, &len));
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "hell", 4);
    assert_false(virtio_console_can_receive(d, 1)); /* no buffer left */
    post(f, PORT1_TX, "abc", 3, false);
    wr(f, 0x050, PORT1_TX);
    assert_int_equal(f->out_len, 3);
    assert_memory_equal(f->out, "abc", 3);
    assert_int_equal(f->out_dev, 0);
    assert_int_equal(f->out_port, 1);
    /* config space is the device's: a guest write does not stick */
    const MmioRegion *r = machine_find_mmio(f->m, f->base + 0x104);
    assert_true(r->write(r->dev, 0x104, 4, 99));
    assert_int_equal(rd(f, 0x104), 2);
}

static void save(Machine *m, SerWriter *w)
{
    ser_writer_init(w);
    machine_save_core(m, w);
    assert_false(w->oom);
}

static void test_waiting_control_messages_survive_save_load(void **state)
{
    Fix *f = *state;
    post(f, CTRL_RX, NULL, 64, true);
    send_ctrl(f, 0xffffffffu, DEVICE_READY, 1);
    expect_ctrl(f, 0, PORT_ADD, 1); /* PORT_ADD for port 1 waits: no buffer */
    SerWriter a, b;
    save(f->m, &a);
    SerReader r;
    ser_reader_init(&r, a.buf, a.len);
    assert_true(machine_load_core(f->m, &r));
    save(f->m, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.buf, b.buf, a.len);
    post(f, CTRL_RX, NULL, 64, true);
    wr(f, 0x050, CTRL_RX); /* buffers arrived: the waiting message goes */
    expect_ctrl(f, 1, PORT_ADD, 1);
    ser_writer_free(&b);
    ser_writer_free(&a);
}

static void test_reset_forgets_ports(void **state)
{
    Fix *f = *state;
    VirtioDev *d = board_virtio_device(f->m, 0);
    handshake_port1(f);
    send_ctrl(f, 1, PORT_OPEN, 1);
    post(f, PORT1_RX, NULL, 16, true);
    assert_true(virtio_console_can_receive(d, 1));
    wr(f, 0x070, 0); /* device reset */
    assert_false(virtio_console_can_receive(d, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_then_input_and_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiting_control_messages_survive_save_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_forgets_ports, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
