/*
 * fuzz_log.c - libFuzzer harness for the recording reader.
 *
 * Each input is a whole recording: it is opened from memory, its packed
 * images are unpacked (those up to 1 MiB), every event is read (checkpoint
 * payloads, full and digest, are also parsed and checked as replay checks
 * them), and `rrvm dump`/`rrvm info` formatting runs
 * over it. The reader must never crash, hang, leak, or read
 * out of bounds, whatever the bytes.
 *
 * scripts/run-fuzz builds this file twice:
 *  - with -fsanitize=fuzzer and -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION,
 *    which makes log.c compute but not enforce checksums so mutations reach
 *    the decoders behind them;
 *  - with -DFUZZ_SEED_GENERATOR, a plain program writing valid recordings
 *    into a seed corpus directory.
 *
 * Only the replay code is linked, not the machine: the machine
 * functions checkpoint.c refers to are given minimal definitions below
 * (checkpoint_capture/verify, which use them, are not reachable from
 * recording bytes alone).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#include <zstd.h>

#include "machine/board.h"
#include "replay/checkpoint.h"
#include "replay/log.h"

void machine_dirty_reset(Machine *m, uint8_t bits) { for (size_t i = 0; i < m->ram_size >> 12; i++) m->dirty_pages[i] &= (uint8_t)~bits; }
size_t machine_next_marked(const Machine *m, size_t from, uint8_t bits)
{
    while (from < m->ram_size >> 12 && !(m->dirty_pages[from] & bits))
        from++;
    return from;
}

void board_foreach_device_state(const Machine *m, void (*fn)(void *, const char *, const uint8_t *, size_t),
                                void *ctx)
{
}

/* rrvm info names the header's devices (board.c's table is not linked in) */
const char *board_device_name(int kind) { return kind == MDEV_VIRTIO_RNG ? "virtio-rng-device" : NULL; }
int board_device_slot(int index) { return 7 - index; }

#ifndef FUZZ_SEED_GENERATOR

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ssize_t discard_write(void *cookie, const char *buf, size_t n) { return (ssize_t)n; }

/* Structured mode (first byte STRUCTURED): the rest is a list of frames,
 * each `u8 event count, u8 first icount, u16 LE length, length bytes of
 * uncompressed events`; the harness adds a valid file header, compresses
 * and checksums, so mutations land on the event and checkpoint decoders
 * rather than on zstd's input. */
#define STRUCTURED 0xEE

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static size_t build_structured(const uint8_t *in, size_t n, uint8_t **out)
{
    static const uint8_t body[] = {
        1, 0, 0, 0, 'f',                    /* rrvm version "f" */
        0, 0x10, 0, 0, 0, 0, 0, 0,          /* ram_size 4096 */
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0,       /* nharts 1, shift 0, bare, no append */
        0, 0, 0, 0,                         /* append "" */
        0, 0, 0, 0, 0, 0, 0, 0, 0,          /* rtc base, clock */
        0, 0, 0, 0, 0, 0, 0, 0,             /* quantum */
        0, 0, 0, 0, 0, 0, 0, 0, 0,          /* checkpoint interval, strict */
        0, 0, 0, 0, 0, 0, 0, 0,             /* no images, no options */
    };
    size_t cap = 16 + sizeof body + 8 + n * 2 + 64 * (n / 4 + 1) + 1024, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        abort();
    memcpy(buf, "RRVMLOG", 8);
    put_le(buf + 8, RLOG_FORMAT_VERSION, 4);
    put_le(buf + 12, sizeof body, 4);
    memcpy(buf + 16, body, sizeof body);
    len = 16 + sizeof body;
    put_le(buf + len, XXH64(buf, len, 0), 8);
    len += 8;
    size_t pos = 0;
    uint64_t seq = 0;
    while (n - pos >= 4) {
        uint8_t count = in[pos], first = in[pos + 1];
        size_t ulen = (size_t)in[pos + 2] | (size_t)in[pos + 3] << 8;
        pos += 4;
        if (ulen > n - pos)
            ulen = n - pos;
        size_t bound = ZSTD_compressBound(ulen);
        if (cap - len < 48 + bound) {
            cap = len + 48 + bound + 1024;
            buf = realloc(buf, cap);
            if (!buf)
                abort();
        }
        uint8_t *fh = buf + len;
        size_t clen = ZSTD_compress(fh + 48, bound, in + pos, ulen, 1);
        if (ZSTD_isError(clen))
            abort();
        memcpy(fh, "RRVF", 4);
        put_le(fh + 4, clen, 4);
        put_le(fh + 8, ulen, 4);
        put_le(fh + 12, count, 4);
        put_le(fh + 16, first, 8);
        put_le(fh + 24, XXH64(fh + 48, clen, 0), 8);
        put_le(fh + 32, seq++, 8);
        put_le(fh + 40, XXH64(fh, 40, 0), 8);
        len += 48 + clen;
        pos += ulen;
    }
    *out = buf;
    return len;
}

static void read_all(const uint8_t *data, size_t size)
{
    RlogHeader h;
    char err[512];
    RlogReader *r = rlog_reader_open_mem(data, size, &h, err, sizeof err);
    if (r) {
        (void)rlog_header_get(&h, "bios.path");
        for (int i = 0; i < rlog_reader_npacked(r); i++) {
            uint8_t *img;
            size_t ilen;
            if (rlog_reader_packed(r, i)->size <= (1u << 20) &&
                rlog_reader_unpack(r, i, &img, &ilen, err, sizeof err))
                free(img);
        }
        RlogEvent ev;
        int rc;
        unsigned n = 0;
        while ((rc = rlog_next(r, &ev)) == 1) {
            char line[512];
            if (ev.kind == RLOG_CHECKPOINT) {
                const char *why;
                bool ok = checkpoint_payload_check(ev.payload, ev.len, &why);
                if (ok != checkpoint_summary(ev.payload, ev.len, line, sizeof line) || (!ok && !why))
                    abort(); /* the check and the parser must agree, with a reason */
            }
            if ((++n & 7) == 0)
                rlog_peek(r, &ev);
        }
        if (rc < 0 && !rlog_reader_error(r))
            abort(); /* an error must always come with a message */
        rlog_reader_close(r);
        rlog_header_free(&h);
    }
    /* the formatting paths, output discarded without a system call */
    static const cookie_io_functions_t discard = {.write = discard_write};
    FILE *out = fopencookie(NULL, "w", discard);
    if (out) {
        rlog_print_dump_mem(data, size, out, out);
        rlog_print_info_mem(data, size, out, out);
        fclose(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 1 && data[0] == STRUCTURED) {
        uint8_t *log;
        size_t len = build_structured(data + 1, size - 1, &log);
        read_all(log, len);
        free(log);
    } else {
        read_all(data, size);
    }
    return 0;
}

#else /* FUZZ_SEED_GENERATOR: write valid recordings as a seed corpus */

#include "machine/cpu/hart.h"
#include "util/ser.h"

static void header_for(RlogHeader *h, int variant)
{
    memset(h, 0, sizeof *h);
    snprintf(h->rrvm_version, sizeof h->rrvm_version, "seed");
    h->cfg.ram_size = 64ull << 20;
    h->cfg.nharts = 1 + variant % 4;
    h->cfg.icount_shift = variant % 4;
    h->cfg.board_virt = variant & 1;
    h->cfg.append = variant & 2 ? strdup("console=ttyS0") : NULL;
    h->cfg.quantum = 10000;
    h->checkpoint_interval = 100000;
    h->checkpoint_max_interval = variant & 2 ? 800000 : 0; /* 0: written as the interval */
    h->full_checkpoint_interval = variant & 2 ? 5000000 : 100000;
    if (variant & 1) {
        rlog_header_add_image(h, "bios", "fw_dynamic.bin", "firmware", 8);
        rlog_header_set(h, "bios.path", "fw_dynamic.bin");
    }
}

/* A small but real checkpoint payload (full, or a digest), built without
 * a machine. */
static void fake_checkpoint_kind(SerWriter *w, uint64_t icount, bool digest)
{
    Machine m;
    memset(&m, 0, sizeof m);
    uint8_t ram[2 * 4096] = {1, 2, 3};
    uint8_t dirty[2] = {1, 1};
    Hart hart;
    memset(&hart, 0, sizeof hart);
    hart.pc = 0x80000000u + icount;
    m.ram = ram;
    m.ram_size = sizeof ram;
    m.dirty_pages = dirty;
    m.harts[0] = &hart;
    m.nharts = 1;
    m.icount = icount;
    CheckpointState cs;
    if (!checkpoint_init(&cs, &m))
        exit(1);
    ram[5000] = (uint8_t)icount;
    dirty[1] = 1;
    if (digest)
        checkpoint_capture_digest(&m, &cs, w);
    else
        checkpoint_capture(&m, &cs, w);
    checkpoint_free(&cs);
}

static void fake_checkpoint(SerWriter *w, uint64_t icount) { fake_checkpoint_kind(w, icount, false); }

static void write_seed(const char *dir, int variant)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%d.rr", dir, variant);
    RlogHeader h;
    header_for(&h, variant);
    char err[512];
    RlogWriter *w = rlog_writer_open(path, &h, err, sizeof err);
    rlog_header_free(&h);
    if (!w) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    if (variant & 1) { /* packed images (the second twice: stored once) */
        static uint8_t big[3000];
        for (size_t i = 0; i < sizeof big; i++)
            big[i] = (uint8_t)(i * 7 / 13);
        rlog_writer_pack_image(w, "firmware", 8);
        rlog_writer_pack_image(w, big, sizeof big);
        rlog_writer_pack_image(w, big, sizeof big);
    }
    uint64_t icount = 0;
    uint8_t b8[8];
    for (int i = 0; i < 3 + variant * 2; i++) {
        icount += (uint64_t)(i * 977 + variant);
        switch ((i + variant) % 7) {
        case 0: rlog_write(w, icount, RLOG_UART_RX, "\0hello\n", 7); break;
        case 1: rlog_u64_encode(1767225600000000000ull + icount, b8); rlog_write(w, icount, RLOG_CLOCK_WALL, b8, 8); break;
        case 2: rlog_write(w, icount, RLOG_RANDOM, "\x01\x02\x03\x04\x05\x06\x07\x08", 8); break;
        case 3: rlog_u64_encode(1000000, b8); rlog_write(w, icount, RLOG_IDLE, b8, 8); break;
        case 4: rlog_write(w, icount, RLOG_RESET, "", 0); break;
        case 5: rlog_write(w, icount, 40 + (uint32_t)variant, "future", 6); break;
        default: {
            SerWriter sw;
            ser_writer_init(&sw);
            fake_checkpoint_kind(&sw, icount, i & 1); /* full and digest checkpoints */
            rlog_write(w, icount, RLOG_CHECKPOINT, sw.buf, sw.len);
            ser_writer_free(&sw);
        }
        }
        if (i % 3 == 2)
            rlog_flush(w);
    }
    if (variant != 5) { /* one seed ends without END, like a killed recording */
        rlog_write(w, icount, RLOG_SHUTDOWN, "\x01", 1);
        RlogEnd end = {icount, icount * 2, variant, 0x0123456789abcdefull};
        uint8_t eb[RLOG_END_PAYLOAD_LEN];
        rlog_end_encode(&end, eb);
        rlog_write(w, icount, RLOG_END, eb, sizeof eb);
    }
    if (!rlog_writer_close(w)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* A structured-mode seed (see LLVMFuzzerTestOneInput): one frame holding a
 * UART_RX, a full and a digest CHECKPOINT and an END event. */
static void write_structured_seed(const char *dir)
{
    SerWriter ev, ck;
    ser_writer_init(&ev);
    ser_writer_init(&ck);
    fake_checkpoint(&ck, 5);
    ser_put_bytes(&ev, "\x01\x00\x03\x00hi", 6); /* UART_RX port 0 "hi" */
    uint8_t hdr[8] = {RLOG_CHECKPOINT, 5};
    size_t hn = 2;
    size_t l = ck.len;
    do { /* varint payload length */
        hdr[hn++] = (uint8_t)((l & 0x7f) | (l >= 0x80 ? 0x80 : 0));
        l >>= 7;
    } while (l);
    ser_put_bytes(&ev, hdr, hn);
    ser_put_bytes(&ev, ck.buf, ck.len);
    ck.len = 0; /* then a digest checkpoint at the same icount */
    fake_checkpoint_kind(&ck, 5, true);
    uint8_t dh[3] = {RLOG_CHECKPOINT, 0, (uint8_t)ck.len};
    ser_put_bytes(&ev, dh, 3);
    ser_put_bytes(&ev, ck.buf, ck.len);
    RlogEnd end = {5, 5, 0, 1};
    uint8_t eb[RLOG_END_PAYLOAD_LEN];
    rlog_end_encode(&end, eb);
    ser_put_bytes(&ev, "\x11\x00\x1c", 3);
    ser_put_bytes(&ev, eb, sizeof eb);
    uint8_t pre[5] = {0xEE, 4, 0, (uint8_t)ev.len, (uint8_t)(ev.len >> 8)};
    char path[4096];
    snprintf(path, sizeof path, "%s/structured-0", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(pre, 1, 5, f) != 5 || fwrite(ev.buf, 1, ev.len, f) != ev.len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    ser_writer_free(&ev);
    ser_writer_free(&ck);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SEED_DIR\n", argv[0]);
        return 2;
    }
    for (int v = 0; v < 8; v++)
        write_seed(argv[1], v);
    write_structured_seed(argv[1]);
    return 0;
}

#endif
