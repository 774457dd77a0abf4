/*
 * fuzz_blk.c - libFuzzer harness for the virtio-blk device model as a
 * hostile guest drives it.
 *
 * A virt machine with one 64 KiB virtio-blk disk (base served from a
 * constant buffer) has its queue set up once, as a driver would. Each
 * input is a list of rounds; a round is 2 KiB of bytes copied over the
 * descriptor table and the request buffers in guest RAM, then a number of
 * chains made available and QueueNotify, then virtual time passing (the
 * device completes what is due). Requests are whatever the bytes say:
 * any type, sector, lengths, flags, chains, indirect tables. Checked:
 *  - no crash, leak, or out-of-bounds access (ASan, UBSan);
 *  - the base image is never written (its buffer is read-only memory, and
 *    the host hook refuses reads past the disk);
 *  - the overlay never holds more clusters than the disk has;
 *  - the machine's saved state loads back and saves to the same bytes.
 *
 * scripts/run-fuzz-blk builds this file twice: with -fsanitize=fuzzer
 * (the harness) and with -DFUZZ_SEED_GENERATOR (writes a few well-formed
 * read, write, write-zeroes and get-id requests as seeds).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/board.h"
#include "machine/dev/virtio_blk.h"
#include "util/le.h"

#define SLOT 0x10008000ull
#define DESC 0x80100000ull /* 16 descriptors, then request buffers */
#define AVAIL 0x80101000ull
#define USED 0x80102000ull
#define QSIZE 16
#define ROUND 2048u
#define DISK (64u << 10)

#define CHECK(c)                                                                          \
    do {                                                                                  \
        if (!(c)) {                                                                       \
            fprintf(stderr, "fuzz_blk: check failed: %s (line %d)\n", #c, __LINE__);      \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

#ifndef FUZZ_SEED_GENERATOR

static uint8_t base[DISK];

static bool host_disk(void *opaque, int dev, uint64_t off, void *buf, size_t n)
{
    CHECK(dev == 0 && off <= DISK && n <= DISK - off); /* the device stays within its disk */
    memcpy(buf, base + off, n);
    return true;
}
static void host_random(void *opaque, uint8_t *buf, size_t n) { memset(buf, 0x5a, n); }

static void wr(Machine *m, uint64_t off, uint32_t v)
{
    const MmioRegion *r = machine_find_mmio(m, SLOT + off);
    CHECK(r && r->write(r->dev, SLOT + off - r->base, 4, v));
}

static uint32_t rd(Machine *m, uint64_t off)
{
    const MmioRegion *r = machine_find_mmio(m, SLOT + off);
    uint64_t v = 0;
    CHECK(r && r->read(r->dev, SLOT + off - r->base, 4, &v));
    return (uint32_t)v;
}

static Machine *make_machine(void)
{
    for (size_t i = 0; i < DISK; i++)
        base[i] = (uint8_t)(i * 31 + 3);
    MachineConfig cfg = {.ram_size = 4 << 20, .nharts = 1, .board_virt = true, .quantum = 100, .ndevices = 1};
    cfg.devices[0] = (MachineDeviceConfig){.kind = MDEV_VIRTIO_BLK, .id = "fz", .size = DISK};
    MachineHostIf host = {.random_bytes = host_random, .disk_read = host_disk};
    Machine *m = machine_new(&cfg, &host);
    CHECK(m);
    wr(m, 0x070, 3);
    wr(m, 0x014, 0);
    uint32_t feat = rd(m, 0x010);
    wr(m, 0x024, 0);
    wr(m, 0x020, feat);
    wr(m, 0x024, 1);
    wr(m, 0x020, 1); /* VERSION_1 */
    wr(m, 0x070, 0xb);
    wr(m, 0x030, 0);
    wr(m, 0x038, QSIZE);
    wr(m, 0x080, (uint32_t)DESC);
    wr(m, 0x090, (uint32_t)AVAIL);
    wr(m, 0x0a0, (uint32_t)USED);
    wr(m, 0x044, 1);
    wr(m, 0x070, 0xf);
    return m;
}

static Machine *m;
static SerWriter fresh; /* the state right after set-up */

static void run_round(const uint8_t *p, uint16_t *avail_idx)
{
    /* the first byte: how many chains to make available (0-3); the rest
     * covers the descriptor table and buffers at DESC */
    int nchains = p[0] & 3;
    CHECK(machine_phys_write(m, DESC, p + 1, ROUND - 1));
    for (int i = 0; i < nchains; i++) {
        uint8_t e[2];
        put_le16(e, (uint16_t)(p[1 + i] % QSIZE));
        CHECK(machine_phys_write(m, AVAIL + 4 + 2ull * (*avail_idx % QSIZE), e, 2));
        (*avail_idx)++;
    }
    uint8_t e[2];
    put_le16(e, *avail_idx);
    CHECK(machine_phys_write(m, AVAIL + 2, e, 2));
    wr(m, 0x050, 0);
    machine_advance_idle(m, (uint64_t)(p[4] + 1) * 20000);
    if (rd(m, 0x070) & 0x40) /* broken: the driver resets and sets up again */
        wr(m, 0x070, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!m) {
        m = make_machine();
        ser_writer_init(&fresh);
        machine_save(m, &fresh);
        CHECK(!fresh.oom);
    }
    SerReader r;
    ser_reader_init(&r, fresh.buf, fresh.len);
    CHECK(machine_load(m, &r));
    uint16_t avail_idx = 0;
    for (size_t off = 0; off + ROUND <= size && off < 8 * ROUND; off += ROUND) {
        run_round(data + off, &avail_idx);
        if (!(rd(m, 0x070) & 4))
            break; /* reset by run_round: nothing more is accepted */
    }
    VirtioDev *d = board_virtio_device(m, 0);
    CHECK(d && virtio_blk_overlay_clusters(d) <= DISK / VIRTIO_BLK_CLUSTER);
    for (size_t i = 0; i < DISK; i++)
        CHECK(base[i] == (uint8_t)(i * 31 + 3));
    /* the state saves, loads back and saves to the same bytes */
    SerWriter a, b;
    ser_writer_init(&a);
    machine_save(m, &a);
    CHECK(!a.oom);
    ser_reader_init(&r, a.buf, a.len);
    CHECK(machine_load(m, &r));
    ser_writer_init(&b);
    machine_save(m, &b);
    CHECK(a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0);
    ser_writer_free(&a);
    ser_writer_free(&b);
    return 0;
}

#else

/* One well-formed request as a round: header at DESC+0x100, data at
 * DESC+0x200, status at DESC+0x7f0; descriptors 0..2. */
static void seed(const char *dir, int k, uint32_t type, uint64_t sector, uint32_t len, bool to_guest)
{
    uint8_t r[ROUND] = {0};
    r[0] = 1;
    uint8_t *ram = r + 1; /* RAM at DESC */
    uint8_t *d = ram;
    put_le64(d, DESC + 0x100), put_le32(d + 8, 16), put_le16(d + 12, 1), put_le16(d + 14, 1);
    d += 16;
    put_le64(d, DESC + 0x200), put_le32(d + 8, len), put_le16(d + 12, 1 | (to_guest ? 2 : 0)), put_le16(d + 14, 2);
    d += 16;
    put_le64(d, DESC + 0x7f0), put_le32(d + 8, 1), put_le16(d + 12, 2);
    put_le32(ram + 0x100, type);
    put_le64(ram + 0x108, sector);
    if (type == 13) { /* write zeroes: one range */
        put_le64(ram + 0x200, sector);
        put_le32(ram + 0x208, 8);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/req-%d.bin", dir, k);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(r, 1, sizeof r, f) == sizeof r && fclose(f) == 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    seed(argv[1], 0, 0, 3, 1024, true);  /* read */
    seed(argv[1], 1, 1, 7, 1024, false); /* write */
    seed(argv[1], 2, 13, 8, 16, false);  /* write zeroes */
    seed(argv[1], 3, 8, 0, 20, true);    /* get id */
    seed(argv[1], 4, 4, 0, 0, false);    /* flush (data descriptor of length 0) */
    return 0;
}

#endif
