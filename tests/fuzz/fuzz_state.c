/*
 * fuzz_state.c - libFuzzer harness for machine_load, the parser of saved
 * machine state (snapshot files, in-memory checkpoints).
 *
 * One machine (virt board, 2 harts, 4 MiB of RAM, a virtio-blk disk) is booted once with a
 * small guest that writes a page every few instructions, run a little, and
 * saved: that blob is the reference state. Each input is a whole blob that
 * machine_load is asked to load into the machine. It must either
 *   - fail, with a reason, leaving the machine exactly as it was (its
 *     machine_save output byte-identical to the reference), or
 *   - succeed, after which the machine saves and re-loads its own state
 *     (round trip) and is put back with the reference blob;
 * and never crash, leak or read out of bounds.
 *
 * scripts/run-fuzz-state builds this file twice: with -fsanitize=fuzzer
 * (the harness) and with -DFUZZ_SEED_GENERATOR (writes the reference blob
 * and blobs of the same machine at other points into a seed directory).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/board.h"
#include "machine/cpu/hart.h"
#include "machine/dev/uart16550.h"

/* auipc t0,0x10; li t2,4104; li t1,1; loop: sd t1,0(t0); addi t1,t1,1;
 * add t0,t0,t2; j loop */
static const uint8_t PROG[] = {
    0x97, 0x02, 0x01, 0x00, 0x85, 0x63, 0xa1, 0x23, 0x05, 0x43,
    0x23, 0xb0, 0x62, 0x00, 0x05, 0x03, 0x9e, 0x92, 0xe5, 0xbf,
};

static uint64_t host_wallclock(void *opaque) { return 1767225600000000000ull; }
static void host_random(void *opaque, uint8_t *buf, size_t n) { memset(buf, 0x5a, n); }
static void host_console(void *opaque, const uint8_t *buf, size_t n) {}
static bool host_disk(void *opaque, int dev, uint64_t off, void *buf, size_t n)
{
    memset(buf, 0x33, n);
    return true;
}

#define CHECK(c)                                                            \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "fuzz_state: check failed: %s (line %d)\n", #c, __LINE__); \
            abort();                                                        \
        }                                                                   \
    } while (0)

static Machine *boot(uint64_t icount)
{
    MachineConfig cfg = {.ram_size = 4 << 20, .nharts = 2, .icount_shift = 1, .board_virt = true, .quantum = 7,
                         .ndevices = 1};
    /* a virtio-blk disk: its state (overlay, requests in flight) is parsed too */
    cfg.devices[0] = (MachineDeviceConfig){.kind = MDEV_VIRTIO_BLK, .id = "d0", .size = 64 << 10};
    MachineHostIf host = {.wallclock_ns = host_wallclock, .random_bytes = host_random,
                          .console_write = host_console, .disk_read = host_disk};
    Machine *m = machine_new(&cfg, &host);
    CHECK(m);
    BootImages img = {.kernel = {PROG, sizeof PROG}};
    char err[256];
    CHECK(board_load(m, &img, err, sizeof err));
    CHECK(machine_run(m, icount) == MSTOP_LIMIT);
    uart16550_receive(m->uart, 'q');
    return m;
}

#ifndef FUZZ_SEED_GENERATOR

static bool load(Machine *m, const uint8_t *p, size_t n)
{
    SerReader r;
    ser_reader_init(&r, p, n);
    bool ok = machine_load(m, &r);
    CHECK(ok || r.err);
    return ok;
}

static Machine *m;
static SerWriter ref;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!m) {
        m = boot(23);
        ser_writer_init(&ref);
        machine_save(m, &ref);
        CHECK(!ref.oom);
    }
    bool ok = load(m, data, size);
    SerWriter now;
    ser_writer_init(&now);
    machine_save(m, &now);
    CHECK(!now.oom);
    if (!ok) {
        CHECK(now.len == ref.len && memcmp(now.buf, ref.buf, ref.len) == 0);
    } else {
        /* what loaded saves and loads again, then the reference comes back */
        CHECK(load(m, now.buf, now.len));
        CHECK(load(m, ref.buf, ref.len));
    }
    ser_writer_free(&now);
    return 0;
}

#else

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    const uint64_t at[] = {23, 5, 101, 400};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        Machine *mm = boot(at[i]);
        SerWriter w;
        ser_writer_init(&w);
        machine_save(mm, &w);
        char path[4096];
        snprintf(path, sizeof path, "%s/state-%zu.bin", argv[1], i);
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(w.buf, 1, w.len, f) == w.len && fclose(f) == 0);
        ser_writer_free(&w);
        machine_free(mm);
    }
    return 0;
}

#endif
