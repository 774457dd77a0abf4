/*
 * test_virtio_blk.c - the virtio-blk device model driven through its MMIO
 * registers and a split queue in guest RAM, as a driver would: reads from
 * the base, writes into the overlay (base untouched), explicit zero
 * clusters, request validation (S_IOERR / S_UNSUPP), read-only disks,
 * GET_ID, completion at the modelled virtual time, and a save taken with a
 * request in flight that resumes identically (load all or nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "machine/board.h"
#include "machine/dev/virtio_blk.h"
#include "machine/machine.h"
#include "util/le.h"

#define RAM_SIZE (16ull << 20)
#define SLOT 0x10008000ull /* the first device's slot */
#define DESC 0x80100000ull
#define AVAIL 0x80101000ull
#define USED 0x80102000ull
#define HDR 0x80103000ull
#define STATUS 0x80103100ull
#define DATA 0x80200000ull
#define QSIZE 8
#define DISK_SIZE (64u * 1024u)

enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13 };
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2 };

typedef struct Fix {
    Machine *m;
    uint8_t base[DISK_SIZE];
    uint8_t base_copy[DISK_SIZE];
    uint16_t avail_idx;
} Fix;

static bool disk_read(void *opaque, int dev, uint64_t off, void *buf, size_t n)
{
    Fix *f = opaque;
    if (dev != 0 || off > DISK_SIZE || n > DISK_SIZE - off)
        return false;
    memcpy(buf, f->base + off, n);
    return true;
}

static void random_bytes(void *opaque, uint8_t *buf, size_t n) { memset(buf, 1, n); }

static void wr(Machine *m, uint64_t off, uint32_t v)
{
    const MmioRegion *r = machine_find_mmio(m, SLOT + off);
    assert_non_null(r);
    assert_true(r->write(r->dev, SLOT + off - r->base, 4, v));
}

static uint32_t rd(Machine *m, uint64_t off)
{
    const MmioRegion *r = machine_find_mmio(m, SLOT + off);
    uint64_t v = 0;
    assert_true(r->read(r->dev, SLOT + off - r->base, 4, &v));
    return (uint32_t)v;
}

/* A driver's set-up: every offered feature, one queue of QSIZE. */
static Fix *make_fix(bool readonly)
{
    Fix *f = calloc(1, sizeof *f);
    for (size_t i = 0; i < DISK_SIZE; i++)
        f->base[i] = (uint8_t)(i * 13 + 7);
    memcpy(f->base_copy, f->base, DISK_SIZE);
    MachineConfig cfg = {.ram_size = RAM_SIZE, .nharts = 1, .board_virt = true, .quantum = 1000, .ndevices = 1};
    cfg.devices[0] = (MachineDeviceConfig){.kind = MDEV_VIRTIO_BLK, .id = "d0", .size = DISK_SIZE,
                                           .readonly = readonly};
    MachineHostIf host = {.opaque = f, .random_bytes = random_bytes, .disk_read = disk_read};
    char err[256];
    f->m = machine_create(&cfg, &host, err, sizeof err);
    assert_non_null(f->m);
    Machine *m = f->m;
    assert_int_equal(rd(m, 0x008), 2);
    wr(m, 0x070, 1);
    wr(m, 0x070, 3);
    wr(m, 0x014, 0);
    uint32_t feat = rd(m, 0x010);
    assert_int_equal((feat >> 5) & 1, readonly);
    wr(m, 0x024, 0);
    wr(m, 0x020, feat);
    wr(m, 0x024, 1);
    wr(m, 0x020, 1); /* VERSION_1 */
    wr(m, 0x070, 0xb);
    wr(m, 0x030, 0);
    wr(m, 0x038, QSIZE);
    wr(m, 0x080, (uint32_t)DESC);
    wr(m, 0x084, 0);
    wr(m, 0x090, (uint32_t)AVAIL);
    wr(m, 0x094, 0);
    wr(m, 0x0a0, (uint32_t)USED);
    wr(m, 0x0a4, 0);
    wr(m, 0x044, 1);
    wr(m, 0x070, 0xf);
    assert_int_equal(rd(m, 0x070) & 0x40, 0);
    /* config: capacity in sectors, blk_size 512 */
    assert_int_equal(rd(m, 0x100), DISK_SIZE / 512);
    assert_int_equal(rd(m, 0x100 + 20), 512);
    return f;
}

static int setup_rw(void **state)
{
    *state = make_fix(false);
    return 0;
}

static int setup_ro(void **state)
{
    *state = make_fix(true);
    return 0;
}

static int teardown(void **state)
{
    Fix *f = *state;
    machine_free(f->m);
    free(f);
    return 0;
}

static void put_desc(Machine *m, int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t d[16];
    put_le64(d, addr);
    put_le32(d + 8, len);
    put_le16(d + 12, flags);
    put_le16(d + 14, next);
    assert_true(machine_phys_write(m, DESC + 16ull * i, d, 16));
}

/* Post one request (header, optional data, status) and kick the queue. */
static void submit(Fix *f, uint32_t type, uint64_t sector, uint32_t data_len, bool data_writable)
{
    Machine *m = f->m;
    uint8_t h[16] = {0};
    put_le32(h, type);
    put_le64(h + 8, sector);
    assert_true(machine_phys_write(m, HDR, h, 16));
    uint8_t st = 0xff;
    assert_true(machine_phys_write(m, STATUS, &st, 1));
    if (data_len) {
        put_desc(m, 0, HDR, 16, 1, 1);
        put_desc(m, 1, DATA, data_len, 1 | (data_writable ? 2 : 0), 2);
        put_desc(m, 2, STATUS, 1, 2, 0);
    } else {
        put_desc(m, 0, HDR, 16, 1, 2);
        put_desc(m, 2, STATUS, 1, 2, 0);
    }
    uint8_t e[2];
    put_le16(e, 0);
    assert_true(machine_phys_write(m, AVAIL + 4 + 2ull * (f->avail_idx % QSIZE), e, 2));
    f->avail_idx++;
    put_le16(e, f->avail_idx);
    assert_true(machine_phys_write(m, AVAIL + 2, e, 2));
    wr(m, 0x050, 0);
}

static uint16_t used_idx(Machine *m)
{
    uint8_t b[2];
    assert_true(machine_phys_read(m, USED + 2, b, 2));
    return get_le16(b);
}

static uint8_t status_byte(Machine *m)
{
    uint8_t st;
    assert_true(machine_phys_read(m, STATUS, &st, 1));
    return st;
}

/* Let virtual time pass until the request completes; its status. */
static uint8_t finish(Fix *f)
{
    uint16_t before = used_idx(f->m);
    machine_advance_idle(f->m, 10000000);
    assert_int_equal(used_idx(f->m), (uint16_t)(before + 1));
    return status_byte(f->m);
}

static uint8_t do_req(Fix *f, uint32_t type, uint64_t sector, uint32_t len, bool writable)
{
    submit(f, type, sector, len, writable);
    return finish(f);
}

static void test_read_from_base(void **state)
{
    Fix *f = *state;
    assert_int_equal(do_req(f, T_IN, 3, 1024, true), S_OK);
    uint8_t buf[1024];
    assert_true(machine_phys_read(f->m, DATA, buf, sizeof buf));
    assert_memory_equal(buf, f->base + 3 * 512, sizeof buf);
    uint8_t u[8];
    assert_true(machine_phys_read(f->m, USED + 4, u, 8));
    assert_int_equal(get_le32(u + 4), 1025); /* data + status */
}

static void test_write_lands_in_overlay(void **state)
{
    Fix *f = *state;
    uint8_t pat[1536];
    memset(pat, 0xa5, sizeof pat);
    assert_true(machine_phys_write(f->m, DATA, pat, sizeof pat));
    /* sectors 7..9 straddle the first cluster boundary (sector 8) */
    assert_int_equal(do_req(f, T_OUT, 7, sizeof pat, false), S_OK);
    assert_memory_equal(f->base, f->base_copy, DISK_SIZE);
    assert_int_equal(virtio_blk_overlay_clusters(board_virtio_device(f->m, 0)), 2);
    uint8_t zero[4096] = {0};
    assert_true(machine_phys_write(f->m, DATA, zero, sizeof zero));
    assert_int_equal(do_req(f, T_IN, 6, 4096, true), S_OK);
    uint8_t buf[4096];
    assert_true(machine_phys_read(f->m, DATA, buf, sizeof buf));
    assert_memory_equal(buf, f->base + 6 * 512, 512);          /* base around the write */
    assert_memory_equal(buf + 512, pat, sizeof pat);
    assert_memory_equal(buf + 2048, f->base + 10 * 512, 2048);
}

static void put_range(Machine *m, uint64_t sector, uint32_t n, uint32_t flags)
{
    uint8_t r[16];
    put_le64(r, sector);
    put_le32(r + 8, n);
    put_le32(r + 12, flags);
    assert_true(machine_phys_write(m, DATA, r, 16));
}

static void test_zero_clusters_shadow_the_base(void **state)
{
    Fix *f = *state;
    put_range(f->m, 8, 8, 0); /* cluster 1, whole */
    assert_int_equal(do_req(f, T_WRITE_ZEROES, 0, 16, false), S_OK);
    put_range(f->m, 17, 2, 0); /* part of cluster 2 */
    assert_int_equal(do_req(f, T_DISCARD, 0, 16, false), S_OK);
    assert_int_equal(do_req(f, T_IN, 8, 8192, true), S_OK);
    uint8_t buf[8192], zero[4096] = {0};
    assert_true(machine_phys_read(f->m, DATA, buf, sizeof buf));
    assert_memory_equal(buf, zero, 4096);
    assert_memory_equal(buf + 4096, f->base + 16 * 512, 512);
    assert_memory_equal(buf + 4096 + 512, zero, 1024);
    assert_memory_equal(buf + 4096 + 1536, f->base + 19 * 512, 4096 - 1536);
    /* discard's unmap flag is for write-zeroes only; unknown flags: UNSUPP */
    put_range(f->m, 0, 1, 1);
    assert_int_equal(do_req(f, T_DISCARD, 0, 16, false), S_UNSUPP);
    put_range(f->m, 0, 1, 4);
    assert_int_equal(do_req(f, T_WRITE_ZEROES, 0, 16, false), S_UNSUPP);
    put_range(f->m, DISK_SIZE / 512 - 1, 2, 0);
    assert_int_equal(do_req(f, T_WRITE_ZEROES, 0, 16, false), S_IOERR);
}

static void test_bad_requests(void **state)
{
    Fix *f = *state;
    assert_int_equal(do_req(f, T_IN, DISK_SIZE / 512 - 1, 1024, true), S_IOERR); /* past the end */
    assert_int_equal(do_req(f, T_IN, UINT64_MAX / 2, 512, true), S_IOERR);
    assert_int_equal(do_req(f, T_IN, 0, 100, true), S_IOERR);      /* not a multiple of 512 */
    assert_int_equal(do_req(f, T_OUT, 0, 512, true), S_IOERR);     /* write from a writable buffer */
    assert_int_equal(do_req(f, T_IN, 0, 512, false), S_IOERR);     /* read into a readable buffer */
    assert_int_equal(do_req(f, 99, 0, 0, false), S_UNSUPP);
    assert_int_equal(do_req(f, T_FLUSH, 0, 0, false), S_OK);
    assert_int_equal(virtio_blk_overlay_clusters(board_virtio_device(f->m, 0)), 0);
    /* a chain without a status byte breaks the device (NEEDS_RESET) */
    put_desc(f->m, 0, HDR, 16, 0, 0);
    uint8_t e[2];
    put_le16(e, 0);
    assert_true(machine_phys_write(f->m, AVAIL + 4 + 2ull * (f->avail_idx % QSIZE), e, 2));
    put_le16(e, ++f->avail_idx);
    assert_true(machine_phys_write(f->m, AVAIL + 2, e, 2));
    wr(f->m, 0x050, 0);
    assert_int_equal(rd(f->m, 0x070) & 0x40, 0x40);
}

static void test_get_id(void **state)
{
    Fix *f = *state;
    uint8_t junk[20];
    memset(junk, 'x', sizeof junk);
    assert_true(machine_phys_write(f->m, DATA, junk, sizeof junk));
    assert_int_equal(do_req(f, T_GET_ID, 0, 20, true), S_OK);
    uint8_t id[20], want[20] = "d0";
    assert_true(machine_phys_read(f->m, DATA, id, sizeof id));
    assert_memory_equal(id, want, 20);
}

static void test_readonly(void **state)
{
    Fix *f = *state;
    assert_int_equal(do_req(f, T_OUT, 0, 512, false), S_IOERR);
    put_range(f->m, 0, 8, 0);
    assert_int_equal(do_req(f, T_WRITE_ZEROES, 0, 16, false), S_IOERR);
    assert_int_equal(do_req(f, T_IN, 0, 512, true), S_OK);
    assert_int_equal(do_req(f, T_FLUSH, 0, 0, false), S_OK);
    assert_int_equal(virtio_blk_overlay_clusters(board_virtio_device(f->m, 0)), 0);
}

static void test_completion_time(void **state)
{
    Fix *f = *state;
    submit(f, T_IN, 0, 4096, true);
    /* 20 us + 4096 data bytes at 1 byte/ns */
    machine_advance_idle(f->m, 20000 + 4096 - 1);
    assert_int_equal(used_idx(f->m), 0);
    assert_int_equal(status_byte(f->m), 0xff);
    machine_advance_idle(f->m, 1);
    assert_int_equal(used_idx(f->m), 1);
    assert_int_equal(status_byte(f->m), S_OK);
}

static void overlay_bytes(Machine *m, SerWriter *w)
{
    ser_writer_init(w);
    virtio_blk_overlay_save(board_virtio_device(m, 0), w);
}

static void test_save_with_request_in_flight(void **state)
{
    Fix *f = *state;
    uint8_t pat[4096];
    for (size_t i = 0; i < sizeof pat; i++)
        pat[i] = (uint8_t)(i ^ 0x5a);
    assert_true(machine_phys_write(f->m, DATA, pat, sizeof pat));
    submit(f, T_OUT, 16, sizeof pat, false);
    SerWriter saved;
    ser_writer_init(&saved);
    machine_save(f->m, &saved);
    assert_false(saved.oom);
    assert_int_equal(finish(f), S_OK);
    SerWriter a, b;
    overlay_bytes(f->m, &a);
    /* back to the request in flight: it completes the same way */
    SerReader r;
    ser_reader_init(&r, saved.buf, saved.len);
    assert_true(machine_load(f->m, &r));
    assert_int_equal(virtio_blk_overlay_clusters(board_virtio_device(f->m, 0)), 0);
    assert_int_equal(used_idx(f->m), 0);
    assert_int_equal(finish(f), S_OK);
    overlay_bytes(f->m, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.buf, b.buf, a.len);
    /* a cut blob is refused and changes nothing */
    ser_reader_init(&r, saved.buf, saved.len - 9);
    assert_false(machine_load(f->m, &r));
    SerWriter c;
    overlay_bytes(f->m, &c);
    assert_int_equal(c.len, b.len);
    assert_memory_equal(c.buf, b.buf, c.len);
    ser_writer_free(&a);
    ser_writer_free(&b);
    ser_writer_free(&c);
    ser_writer_free(&saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_from_base, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(test_write_lands_in_overlay, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(test_zero_clusters_shadow_the_base, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(test_get_id, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(test_readonly, setup_ro, teardown),
        cmocka_unit_test_setup_teardown(test_completion_time, setup_rw, teardown),
        cmocka_unit_test_setup_teardown(test_save_with_request_in_flight, setup_rw, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
