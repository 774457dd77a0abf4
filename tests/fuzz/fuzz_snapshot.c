/*
 * fuzz_snapshot.c - libFuzzer harness for the snapshot reader
 * (src/replay/snapshot.c): every byte of a snapshot file is hostile.
 *
 * Each input is handed to snapshot_read_mem(). When it is accepted, the
 * machine state it returns is loaded with machine_load() into a small
 * machine built from the snapshot's own configuration (at most 1 MiB of
 * RAM and 2 harts, else a fixed 64 KiB bare machine, which then refuses
 * the state), and a loaded machine is saved again. Neither step may
 * crash, leak, read out of bounds or hang, and an accepted snapshot must
 * come with a consistent description (a state, a header that would be
 * written again).
 *
 * Built with -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION: checksums are
 * computed but not enforced (mutations reach the decoders behind them)
 * and the state cap is lowered so forged lengths cannot exhaust memory.
 *
 * With -DFUZZ_SEED_GENERATOR it is a plain program that writes valid
 * snapshots of small real machines into a seed corpus directory.
 *
 * Built and run by scripts/run-fuzz-snapshot (see tests/fuzz/README.md).
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/machine.h"
#include "replay/snapshot.h"

static uint64_t host_wallclock(void *opaque) { return 1767225600000000000ull; }
static void host_random(void *opaque, uint8_t *buf, size_t n) { memset(buf, 0x5a, n); }
static void host_console(void *opaque, const uint8_t *buf, size_t n) {}
static const MachineHostIf HOST = {NULL, host_wallclock, host_random, host_console};

#ifndef FUZZ_SEED_GENERATOR

static Machine *small_machine(const MachineConfig *want)
{
    MachineConfig cfg = *want;
    if (cfg.ram_size > (1u << 20) || cfg.nharts > 2 || cfg.icount_shift > 10)
        cfg = (MachineConfig){.ram_size = 64u << 10, .nharts = 1};
    cfg.append = NULL;
    Machine *m = machine_new(&cfg, &HOST);
    if (!m) {
        cfg = (MachineConfig){.ram_size = 64u << 10, .nharts = 1};
        m = machine_new(&cfg, &HOST);
    }
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    SnapshotInfo info;
    uint8_t *state;
    size_t state_len;
    char err[512];
    if (!snapshot_read_mem(data, size, "fuzz.snap", &info, &state, &state_len, err, sizeof err)) {
        assert(!state && !info.session && err[0]);
        return 0;
    }
    assert(state && info.format_version == SNAPSHOT_FORMAT_VERSION);
    SerWriter hw;
    ser_writer_init(&hw);
    assert(rlog_header_encode(&info.header, &hw, err, sizeof err)); /* reads back, writes again */
    ser_writer_free(&hw);
    Machine *m = small_machine(&info.header.cfg);
    if (m) {
        SerReader r;
        ser_reader_init(&r, state, state_len);
        if (machine_load(m, &r)) {
            SerWriter w;
            ser_writer_init(&w);
            machine_save(m, &w);
            ser_writer_free(&w);
        }
        machine_free(m);
    }
    snapshot_info_free(&info);
    free(state);
    return 0;
}

#else

/* Write a snapshot of a small machine with some state into dir. */
static int write_seed(const char *dir, int n, uint64_t ram, int nharts, bool session)
{
    MachineConfig cfg = {.ram_size = ram, .nharts = nharts, .quantum = 100};
    Machine *m = machine_new(&cfg, &HOST);
    if (!m)
        return 1;
    for (uint64_t off = 0; off < ram; off += 1531) {
        uint8_t v = (uint8_t)(off >> 3);
        machine_phys_write(m, RAM_BASE + off, &v, 1);
    }
    m->icount = 1000u * (unsigned)n;
    SerWriter w;
    ser_writer_init(&w);
    machine_save(m, &w);
    SnapshotInfo info = {0};
    strcpy(info.header.rrvm_version, "seed");
    info.header.cfg = cfg;
    static const uint8_t img[] = "image";
    rlog_header_add_image(&info.header, "kernel", "k.elf", img, sizeof img);
    rlog_header_set(&info.header, "serial", "none");
    info.icount = m->icount;
    info.from_replay = session;
    uint8_t blob[24] = {1, 2, 3, 4, 5};
    if (session) {
        info.session = blob;
        info.session_len = sizeof blob;
        info.log_pos = (RlogPos){4096, 3, m->icount - 5};
    }
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/seed-%d.snap", dir, n);
    bool ok = snapshot_write(path, &info, w.buf, w.len, err, sizeof err);
    if (!ok)
        fprintf(stderr, "%s\n", err);
    info.session = NULL;
    snapshot_info_free(&info);
    ser_writer_free(&w);
    machine_free(m);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    int bad = 0;
    bad |= write_seed(argv[1], 1, 4096, 1, false);
    bad |= write_seed(argv[1], 2, 4096, 2, true);
    bad |= write_seed(argv[1], 3, 64u << 10, 1, true);
    return bad;
}

#endif
