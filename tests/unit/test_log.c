/*
 * test_log.c - the recording format: round trips, and a reader that stays
 * correct on cut, bit-flipped and hostile files.
 *
 * The cut and bit-flip tests run over every byte (every bit) of a small
 * multi-frame recording and check the reader's contract: events it returns
 * are always a prefix of what was written, a cut is reported as a cut, and
 * damage as damage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "replay/log.h"
#include "replay/varint.h"

/* ------------------------------------------------------------------ */
/* helpers */

typedef struct TestEvent {
    uint64_t icount;
    uint32_t kind;
    uint8_t *payload;
    size_t len;
} TestEvent;

static void make_header(RlogHeader *h)
{
    memset(h, 0, sizeof *h);
    snprintf(h->rrvm_version, sizeof h->rrvm_version, "0.1-test");
    h->cfg.ram_size = 128ull << 20;
    h->cfg.nharts = 2;
    h->cfg.icount_shift = 3;
    h->cfg.board_virt = true;
    h->cfg.append = strdup("console=ttyS0 earlycon");
    h->cfg.rtc_base_ns = 1767225600000000000ull;
    h->cfg.rtc_clock_host = true;
    h->cfg.quantum = 10000;
    h->checkpoint_interval = 1000000;
    h->verify_strict = true;
    static const uint8_t bios[] = "pretend firmware";
    assert_true(rlog_header_add_image(h, "bios", "/usr/lib/fw_dynamic.bin", bios, sizeof bios));
    assert_true(rlog_header_add_image(h, "kernel", "build/guest/Image", "K", 1));
    assert_true(rlog_header_set(h, "bios.path", "/usr/lib/fw_dynamic.bin"));
    assert_true(rlog_header_set(h, "console", "stdio"));
}

static char *temp_path(void)
{
    const char *dir = getenv("TMPDIR");
    char *path;
    assert_true(asprintf(&path, "%s/rrvm-test-log-XXXXXX", dir ? dir : "/tmp") > 0);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    return path;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Deterministic pseudo-random bytes (xorshift), so payloads do not compress
 * to nothing and large ones really span frames. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

static void add_event(TestEvent *evs, int *n, uint64_t icount, uint32_t kind, const void *p, size_t len)
{
    evs[*n].icount = icount;
    evs[*n].kind = kind;
    evs[*n].payload = malloc(len ? len : 1);
    assert_non_null(evs[*n].payload);
    if (len)
        memcpy(evs[*n].payload, p, len);
    evs[*n].len = len;
    (*n)++;
}

static void free_events(TestEvent *evs, int n)
{
    for (int i = 0; i < n; i++)
        free(evs[i].payload);
}

/* Write evs to path; flush after the events listed in flush_after (-1 ends);
 * frame_end[] receives the file size after each flush. */
static void write_log(const char *path, const TestEvent *evs, int n, const int *flush_after, uint64_t *frame_end,
                      int *nframes)
{
    RlogHeader h;
    make_header(&h);
    char err[256];
    RlogWriter *w = rlog_writer_open(path, &h, err, sizeof err);
    assert_non_null(w);
    rlog_header_free(&h);
    int nf = 0, fi = 0;
    for (int i = 0; i < n; i++) {
        assert_true(rlog_write(w, evs[i].icount, evs[i].kind, evs[i].payload, evs[i].len));
        if (flush_after && flush_after[fi] == i) {
            assert_true(rlog_flush(w));
            if (frame_end)
                frame_end[nf] = rlog_writer_bytes(w);
            nf++;
            fi++;
        }
    }
    assert_true(rlog_writer_close(w));
    if (nframes)
        *nframes = nf;
}

static bool event_equal(const RlogEvent *ev, const TestEvent *te)
{
    return ev->icount == te->icount && ev->kind == te->kind && ev->len == te->len &&
           (te->len == 0 || memcmp(ev->payload, te->payload, te->len) == 0);
}

/* A small log in four frames: used by the cut and bit-flip tests. */
static uint8_t *small_log(TestEvent *evs, int *n, uint64_t *frame_end, int *nframes, size_t *len)
{
    *n = 0;
    uint8_t b8[8];
    add_event(evs, n, 100, RLOG_UART_RX, "\0ls\n", 4);
    rlog_u64_encode(1767225600123456789ull, b8);
    add_event(evs, n, 150, RLOG_CLOCK_WALL, b8, 8);
    add_event(evs, n, 150, RLOG_RANDOM, "\x0a\x1b\x2c\x3d", 4);
    rlog_u64_encode(5000000, b8);
    add_event(evs, n, 9000, RLOG_IDLE, b8, 8);
    add_event(evs, n, 12000, RLOG_RESET, "", 0);
    add_event(evs, n, 20000, RLOG_SHUTDOWN, "\x02", 1);
    RlogEnd end = {20000, 20000 * 8 + 5000000, 0, 0x1234567890abcdefull};
    uint8_t eb[RLOG_END_PAYLOAD_LEN];
    rlog_end_encode(&end, eb);
    add_event(evs, n, 20000, RLOG_END, eb, sizeof eb);
    static const int flush_after[] = {1, 3, 5, 6, -1};
    char *path = temp_path();
    write_log(path, evs, *n, flush_after, frame_end, nframes);
    uint8_t *buf = read_file(path, len);
    unlink(path);
    free(path);
    return buf;
}

/* ------------------------------------------------------------------ */
/* tests */

static void test_kind_numbers_are_fixed(void **state)
{
    assert_int_equal(RLOG_UART_RX, 1);
    assert_int_equal(RLOG_CLOCK_WALL, 2);
    assert_int_equal(RLOG_RANDOM, 3);
    assert_int_equal(RLOG_IDLE, 4);
    assert_int_equal(RLOG_SHUTDOWN, 5);
    assert_int_equal(RLOG_RESET, 6);
    assert_int_equal(RLOG_UART_BREAK, 7);
    assert_int_equal(RLOG_CHECKPOINT, 16);
    assert_int_equal(RLOG_END, 17);
    assert_int_equal(RLOG_NET_RX, 32);
    assert_int_equal(RLOG_AUDIO_IN, 35);
    assert_string_equal(rlog_kind_name(1), "UART_RX");
    assert_string_equal(rlog_kind_name(16), "CHECKPOINT");
    assert_string_equal(rlog_kind_name(17), "END");
    assert_string_equal(rlog_kind_name(33), "BLOCK_COMPLETE");
    assert_string_equal(rlog_kind_name(7), "UART_BREAK");
    assert_string_equal(rlog_kind_name(8), "POWERDOWN");
    assert_string_equal(rlog_kind_name(9), "UNKNOWN");
    assert_false(rlog_kind_known(99));
    assert_true(rlog_kind_known(4));
}

static void test_varint(void **state)
{
    static const uint64_t vals[] = {0, 1, 127, 128, 300, 1ull << 32, 1ull << 63, UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint8_t b[VARINT_MAX_BYTES];
        size_t n = varint_encode(vals[i], b);
        assert_int_equal(n, varint_size(vals[i]));
        const uint8_t *p = b;
        uint64_t v;
        assert_true(varint_get(&p, b + n, &v));
        assert_true(v == vals[i]);
        assert_ptr_equal(p, b + n);
        p = b;
        assert_false(varint_get(&p, b + n - 1, &v)); /* cut */
    }
    /* 11 bytes, or a 10th byte carrying more than one bit */
    const uint8_t overlong[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t *p = overlong;
    uint64_t v;
    assert_false(varint_get(&p, overlong + 11, &v));
    const uint8_t big[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    p = big;
    assert_false(varint_get(&p, big + 10, &v));
}

static void test_round_trip(void **state)
{
    enum { MAXEV = 64 };
    TestEvent evs[MAXEV];
    int n = 0;
    uint8_t b8[8];
    add_event(evs, &n, 0, RLOG_UART_RX, "\0ls\n", 4);
    rlog_u64_encode(1767225600000000000ull, b8);
    add_event(evs, &n, 5, RLOG_CLOCK_WALL, b8, 8);
    add_event(evs, &n, 5, RLOG_RANDOM, "0123456789abcdef", 16);
    rlog_u64_encode(123456789, b8);
    add_event(evs, &n, 77, RLOG_IDLE, b8, 8);
    /* large payloads: each spans more than a frame's target size */
    size_t big = 700 * 1024;
    uint8_t *p = malloc(big);
    for (int i = 0; i < 5; i++) {
        fill(p, big, (uint64_t)i);
        add_event(evs, &n, 1000 + (uint64_t)i, RLOG_RANDOM, p, big - (size_t)i);
    }
    free(p);
    /* many small events so several frames are cut by size alone */
    for (int i = 0; i < 20; i++) {
        uint8_t small[4000];
        fill(small, sizeof small, 100 + (uint64_t)i);
        small[0] = 0;
        add_event(evs, &n, 2000 + (uint64_t)i * 3, RLOG_UART_RX, small, sizeof small);
    }
    add_event(evs, &n, 1ull << 62, RLOG_CHECKPOINT, "\x01", 1);
    add_event(evs, &n, (1ull << 62) + (1ull << 63), 99, "future kind", 11); /* unknown: kept intact */
    add_event(evs, &n, UINT64_MAX - 1, RLOG_RESET, "", 0);
    add_event(evs, &n, UINT64_MAX - 1, RLOG_SHUTDOWN, "\x01", 1);
    RlogEnd end = {UINT64_MAX, 42, -3, 0xfeedfacecafebeefull}, end2;
    uint8_t eb[RLOG_END_PAYLOAD_LEN];
    rlog_end_encode(&end, eb);
    add_event(evs, &n, UINT64_MAX, RLOG_END, eb, sizeof eb);
    assert_true(n <= MAXEV);

    char *path = temp_path();
    static const int flush_after[] = {2, -1};
    write_log(path, evs, n, flush_after, NULL, NULL);

    RlogHeader h, h2_unused;
    char err[512];
    RlogReader *r = rlog_reader_open(path, &h, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(h.format_version, RLOG_FORMAT_VERSION);
    assert_string_equal(h.rrvm_version, "0.1-test");
    assert_true(h.cfg.ram_size == 128ull << 20);
    assert_int_equal(h.cfg.nharts, 2);
    assert_int_equal(h.cfg.icount_shift, 3);
    assert_true(h.cfg.board_virt);
    assert_string_equal(h.cfg.append, "console=ttyS0 earlycon");
    assert_true(h.cfg.rtc_base_ns == 1767225600000000000ull);
    assert_true(h.cfg.rtc_clock_host);
    assert_true(h.cfg.quantum == 10000);
    assert_true(h.checkpoint_interval == 1000000);
    assert_true(h.verify_strict);
    assert_int_equal(h.nimages, 2);
    assert_string_equal(h.images[0].role, "bios");
    assert_string_equal(h.images[0].path, "/usr/lib/fw_dynamic.bin");
    assert_int_equal(h.images[0].size, 17);
    uint8_t hash[16];
    rlog_hash128("pretend firmware", 17, hash);
    assert_memory_equal(h.images[0].hash, hash, 16);
    assert_string_equal(h.images[1].role, "kernel");
    assert_string_equal(rlog_header_get(&h, "bios.path"), "/usr/lib/fw_dynamic.bin");
    assert_string_equal(rlog_header_get(&h, "console"), "stdio");
    assert_null(rlog_header_get(&h, "nope"));

    uint64_t frames_seen = 0, last_off = 0;
    for (int i = 0; i < n; i++) {
        RlogEvent ev, pk;
        assert_int_equal(rlog_peek(r, &pk), 1);
        assert_int_equal(rlog_peek(r, &pk), 1);
        assert_int_equal(rlog_next(r, &ev), 1);
        assert_true(event_equal(&pk, &evs[i]));
        assert_true(event_equal(&ev, &evs[i]));
        if (ev.file_offset != last_off)
            frames_seen++;
        last_off = ev.file_offset;
        assert_true(rlog_reader_last_icount(r) == evs[i].icount);
        if (ev.kind == RLOG_END) {
            assert_true(rlog_end_decode(ev.payload, ev.len, &end2));
            assert_true(end2.icount == end.icount && end2.vtime_ns == 42 && end2.exit_code == -3 &&
                        end2.digest == end.digest);
        }
    }
    assert_true(frames_seen >= 5);
    RlogEvent ev;
    assert_int_equal(rlog_next(r, &ev), 0);
    assert_int_equal(rlog_next(r, &ev), 0);
    assert_null(rlog_reader_error(r));

    /* tell/seek: positions taken on a first pass (before and after a peek)
     * lead back to the same event, in any order, also after the end */
    RlogPos pos[MAXEV];
    RlogReader *r2 = rlog_reader_open(path, &h2_unused, err, sizeof err);
    assert_non_null(r2);
    rlog_header_free(&h2_unused);
    for (int i = 0; i < n; i++) {
        if (i % 2)
            assert_int_equal(rlog_peek(r2, &ev), 1);
        pos[i] = rlog_reader_tell(r2);
        assert_int_equal(rlog_next(r2, &ev), 1);
    }
    assert_int_equal(rlog_next(r2, &ev), 0);
    for (int k = 0; k < 3 * n; k++) {
        int i = (k * 7 + 3) % n;
        assert_true(rlog_reader_seek(r2, &pos[i]));
        if (i > 0)
            assert_true(rlog_reader_last_icount(r2) == evs[i - 1].icount);
        for (int j = i; j < n && j < i + 3; j++) {
            assert_int_equal(rlog_next(r2, &ev), 1);
            assert_true(event_equal(&ev, &evs[j]));
        }
    }
    RlogPos bad = pos[0];
    bad.frame_offset = 3;
    assert_false(rlog_reader_seek(r2, &bad));
    rlog_reader_close(r2);
    rlog_reader_close(r);
    rlog_header_free(&h);
    unlink(path);
    free(path);
    free_events(evs, n);
}

/* The device list and the console ports' names (format 4) survive the
 * header body's encoding; a cut names section is refused. */
static void test_header_devices_and_port_names(void **state)
{
    (void)state;
    RlogHeader h, back;
    make_header(&h);
    h.cfg.ndevices = 2;
    h.cfg.devices[0] = (MachineDeviceConfig){.kind = MDEV_VIRTIO_RNG};
    h.cfg.devices[1] = (MachineDeviceConfig){.kind = MDEV_VIRTIO_CONSOLE, .nports = 3};
    snprintf(h.cfg.devices[1].port_name[0], MACHINE_PORT_NAME_MAX, "org.rrvm.0");
    snprintf(h.cfg.devices[1].port_name[2], MACHINE_PORT_NAME_MAX, "third");
    SerWriter w;
    ser_writer_init(&w);
    char err[256];
    const char *why = NULL;
    assert_true(rlog_header_encode(&h, &w, err, sizeof err));
    assert_true(rlog_header_decode(w.buf, w.len, &back, &why));
    assert_int_equal(back.cfg.ndevices, 2);
    assert_int_equal(back.cfg.devices[1].nports, 3);
    assert_string_equal(back.cfg.devices[1].port_name[0], "org.rrvm.0");
    assert_string_equal(back.cfg.devices[1].port_name[1], "");
    assert_string_equal(back.cfg.devices[1].port_name[2], "third");
    rlog_header_free(&back);
    assert_false(rlog_header_decode(w.buf, w.len - 1, &back, &why)); /* the last name cut */
    ser_writer_free(&w);
    rlog_header_free(&h);
}

/* Format 5 adds the checkpoint schedule at the end of the header; a
 * version 4 file (no schedule) reads as every checkpoint full, at a fixed
 * interval, as it was written. */
static void test_header_checkpoint_schedule(void **state)
{
    RlogHeader h, back;
    make_header(&h);
    h.checkpoint_max_interval = 8000000;
    h.full_checkpoint_interval = 50000000;
    SerWriter w;
    ser_writer_init(&w);
    char err[256];
    const char *why = NULL;
    assert_true(rlog_header_encode(&h, &w, err, sizeof err));
    assert_true(rlog_header_decode(w.buf, w.len, &back, &why));
    assert_true(back.checkpoint_interval == 1000000 && back.checkpoint_max_interval == 8000000 &&
                back.full_checkpoint_interval == 50000000);
    rlog_header_free(&back);

    /* as rrvm 0.2 (format 4) wrote it: the body ends before the schedule */
    size_t v4len = w.len - 16;
    uint8_t *file = malloc(16 + v4len + 8);
    memcpy(file, "RRVMLOG\0", 8);
    uint32_t version = 4, blen = (uint32_t)v4len;
    memcpy(file + 8, &version, 4);
    memcpy(file + 12, &blen, 4);
    memcpy(file + 16, w.buf, v4len);
    uint64_t sum = XXH64(file, 16 + v4len, 0);
    memcpy(file + 16 + v4len, &sum, 8);
    RlogReader *r = rlog_reader_open_mem(file, 16 + v4len + 8, &back, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(back.format_version, 4);
    assert_true(back.checkpoint_max_interval == 1000000 && back.full_checkpoint_interval == 1000000);
    rlog_reader_close(r);
    rlog_header_free(&back);
    free(file);

    /* a maximum spacing below the spacing is refused */
    uint64_t one = 1;
    memcpy(w.buf + w.len - 16, &one, 8);
    assert_false(rlog_header_decode(w.buf, w.len, &back, &why));
    assert_string_equal(why, "the checkpoint spacing exceeds its maximum");
    /* the writer never writes one: it raises the maximum to the spacing */
    h.checkpoint_max_interval = 5;
    w.len = 0;
    assert_true(rlog_header_encode(&h, &w, err, sizeof err));
    assert_true(rlog_header_decode(w.buf, w.len, &back, &why));
    assert_true(back.checkpoint_max_interval == 1000000);
    rlog_header_free(&back);
    ser_writer_free(&w);
    rlog_header_free(&h);
}

static void test_cut_at_every_byte(void **state)
{
    TestEvent evs[16];
    int n, nframes;
    uint64_t frame_end[8];
    size_t len;
    uint8_t *buf = small_log(evs, &n, frame_end, &nframes, &len);
    assert_int_equal(nframes, 4);
    assert_true(frame_end[3] == len);
    /* events per frame: flushed after events 1, 3, 5, 6 */
    static const int events_before_frame_end[] = {2, 4, 6, 7};
    size_t header_end;
    /* the first frame starts at the end of the file header */
    {
        RlogHeader h;
        char err[256];
        RlogReader *r = rlog_reader_open_mem(buf, len, &h, err, sizeof err);
        assert_non_null(r);
        RlogEvent ev;
        assert_int_equal(rlog_next(r, &ev), 1);
        header_end = ev.file_offset;
        rlog_reader_close(r);
        rlog_header_free(&h);
    }
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan catches overreads */
        memcpy(copy, buf, cut);
        RlogHeader h;
        char err[512];
        RlogReader *r = rlog_reader_open_mem(copy, cut, &h, err, sizeof err);
        if (cut < header_end) {
            assert_null(r);
            assert_non_null(strstr(err, "cut"));
            free(copy);
            continue;
        }
        assert_non_null(r);
        int complete = 0;
        for (int f = 0; f < nframes; f++)
            if (frame_end[f] <= cut)
                complete = events_before_frame_end[f];
        RlogEvent ev;
        int got = 0, rc;
        while ((rc = rlog_next(r, &ev)) == 1) {
            assert_true(got < n);
            assert_true(event_equal(&ev, &evs[got]));
            got++;
        }
        assert_int_equal(rc, -1);
        assert_int_equal(got, complete);
        assert_true(rlog_reader_truncated(r));
        assert_non_null(strstr(rlog_reader_error(r), "the recording was cut"));
        if (got == 0 && cut > header_end) {
            /* cut inside the first frame: the recording ends where it starts */
            char want[64];
            snprintf(want, sizeof want, "recording ends at byte %zu (incomplete frame", header_end);
            assert_non_null(strstr(rlog_reader_error(r), want));
        }
        rlog_reader_close(r);
        rlog_header_free(&h);
        free(copy);
    }
    free(buf);
    free_events(evs, n);
}

static void test_cut_message(void **state)
{
    TestEvent evs[16];
    int n, nframes;
    uint64_t frame_end[8];
    size_t len;
    uint8_t *buf = small_log(evs, &n, frame_end, &nframes, &len);
    /* cut in the middle of the third frame: two frames (4 events) survive */
    size_t cut = (size_t)frame_end[1] + 10;
    RlogHeader h;
    char err[256];
    RlogReader *r = rlog_reader_open_mem(buf, cut, &h, err, sizeof err);
    assert_non_null(r);
    RlogEvent ev;
    for (int i = 0; i < 4; i++)
        assert_int_equal(rlog_next(r, &ev), 1);
    assert_int_equal(rlog_next(r, &ev), -1);
    char want[200];
    snprintf(want, sizeof want,
             "(recording in memory): recording ends at byte %llu (incomplete frame after icount 9000): "
             "the recording was cut (killed while recording?)",
             (unsigned long long)frame_end[1]);
    assert_string_equal(rlog_reader_error(r), want);
    assert_true(rlog_reader_truncated(r));
    assert_int_equal(rlog_next(r, &ev), -1); /* sticky */
    rlog_reader_close(r);
    rlog_header_free(&h);

    /* cut exactly at a frame boundary: no END event */
    r = rlog_reader_open_mem(buf, (size_t)frame_end[2], &h, err, sizeof err);
    assert_non_null(r);
    for (int i = 0; i < 6; i++)
        assert_int_equal(rlog_next(r, &ev), 1);
    assert_int_equal(rlog_next(r, &ev), -1);
    assert_true(rlog_reader_truncated(r));
    assert_non_null(strstr(rlog_reader_error(r), "after icount 20000 without an END event"));
    rlog_reader_close(r);
    rlog_header_free(&h);
    free(buf);
    free_events(evs, n);
}

static void test_bit_flips(void **state)
{
    TestEvent evs[16];
    int n, nframes;
    uint64_t frame_end[8];
    size_t len;
    uint8_t *buf = small_log(evs, &n, frame_end, &nframes, &len);
    uint8_t *copy = malloc(len);
    size_t header_end = 0;
    {
        RlogHeader h;
        char err[256];
        RlogReader *r = rlog_reader_open_mem(buf, len, &h, err, sizeof err);
        RlogEvent ev;
        assert_int_equal(rlog_next(r, &ev), 1);
        header_end = ev.file_offset;
        rlog_reader_close(r);
        rlog_header_free(&h);
    }
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(copy, buf, len);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        RlogHeader h;
        char err[512];
        RlogReader *r = rlog_reader_open_mem(copy, len, &h, err, sizeof err);
        if (!r) {
            /* only the file header can make open fail */
            assert_true(bit / 8 < header_end);
            continue;
        }
        assert_true(bit / 8 >= header_end); /* every header byte is checked */
        RlogEvent ev;
        int got = 0, rc;
        while ((rc = rlog_next(r, &ev)) == 1) {
            assert_true(got < n);
            assert_true(event_equal(&ev, &evs[got]));
            got++;
        }
        /* every byte after the header is covered by a checksum */
        assert_int_equal(rc, -1);
        assert_false(rlog_reader_truncated(r));
        assert_non_null(strstr(rlog_reader_error(r), "frame at byte"));
        rlog_reader_close(r);
        rlog_header_free(&h);
    }
    free(copy);
    free(buf);
    free_events(evs, n);
}

static void test_wrong_magic_and_version(void **state)
{
    TestEvent evs[16];
    int n, nframes;
    uint64_t frame_end[8];
    size_t len;
    uint8_t *buf = small_log(evs, &n, frame_end, &nframes, &len);
    RlogHeader h;
    char err[512];

    uint8_t *copy = malloc(len);
    memcpy(copy, buf, len);
    memcpy(copy, "\x7f" "ELF", 4);
    assert_null(rlog_reader_open_mem(copy, len, &h, err, sizeof err));
    assert_string_equal(err, "(recording in memory): not an rrvm recording (bad magic)");

    memcpy(copy, buf, len);
    copy[8] = 7;
    assert_null(rlog_reader_open_mem(copy, len, &h, err, sizeof err));
    assert_string_equal(err, "(recording in memory): recording format version 7 is not supported by this rrvm "
                             "(supports 1 to 5)");

    /* the same through a file, where the message names the path */
    char *path = temp_path();
    FILE *f = fopen(path, "wb");
    fwrite(copy, 1, len, f);
    fclose(f);
    assert_null(rlog_reader_open(path, &h, err, sizeof err));
    char want[300];
    snprintf(want, sizeof want, "%s: recording format version 7 is not supported by this rrvm (supports 1 to 5)", path);
    assert_string_equal(err, want);

    /* empty file and missing file */
    f = fopen(path, "wb");
    fclose(f);
    assert_null(rlog_reader_open(path, &h, err, sizeof err));
    assert_non_null(strstr(err, "cut inside its header (0 bytes)"));
    unlink(path);
    assert_null(rlog_reader_open(path, &h, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
    free(path);

    /* absurd header length */
    memcpy(copy, buf, len);
    copy[12] = 0xf0, copy[13] = 0xff, copy[14] = 0xff, copy[15] = 0xff;
    assert_null(rlog_reader_open_mem(copy, len, &h, err, sizeof err));
    assert_non_null(strstr(err, "is absurd"));

    /* header checksum */
    memcpy(copy, buf, len);
    copy[20] ^= 0x40;
    assert_null(rlog_reader_open_mem(copy, len, &h, err, sizeof err));
    assert_non_null(strstr(err, "header fails its checksum"));

    free(copy);
    free(buf);
    free_events(evs, n);
}

/* --- hand-built frames with valid checksums, to reach the checks behind them */

typedef struct Blob {
    uint8_t *p;
    size_t len;
} Blob;

static void blob_add(Blob *b, const void *p, size_t n)
{
    b->p = realloc(b->p, b->len + n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A valid file header (from a real writer) followed by one frame whose
 * decompressed contents are `events` and whose header fields are given. */
static Blob crafted(const uint8_t *events, size_t elen, uint32_t count, uint64_t first, int64_t clen_override)
{
    TestEvent evs[16];
    int n, nframes;
    uint64_t frame_end[8];
    size_t len;
    uint8_t *buf = small_log(evs, &n, frame_end, &nframes, &len);
    free_events(evs, n);
    /* the header ends where the first frame starts */
    RlogHeader h;
    char err[256];
    RlogReader *r = rlog_reader_open_mem(buf, len, &h, err, sizeof err);
    RlogEvent ev;
    assert_int_equal(rlog_next(r, &ev), 1);
    size_t hdr_len = (size_t)ev.file_offset;
    rlog_reader_close(r);
    rlog_header_free(&h);

    Blob b = {0};
    blob_add(&b, buf, hdr_len);
    free(buf);
    size_t bound = ZSTD_compressBound(elen);
    uint8_t *c = malloc(bound);
    size_t clen = ZSTD_compress(c, bound, events, elen, 1);
    assert_false(ZSTD_isError(clen));
    uint8_t fh[48];
    memcpy(fh, "RRVF", 4);
    put32(fh + 4, clen_override >= 0 ? (uint32_t)clen_override : (uint32_t)clen);
    put32(fh + 8, (uint32_t)elen);
    put32(fh + 12, count);
    put64(fh + 16, first);
    put64(fh + 24, XXH64(c, clen, 0));
    put64(fh + 32, 0); /* the first frame */
    put64(fh + 40, XXH64(fh, 40, 0));
    blob_add(&b, fh, 48);
    blob_add(&b, c, clen);
    free(c);
    return b;
}

typedef struct Msg {
    char text[512];
} Msg;

/* Read a crafted recording to its end; the reader's error (or "(clean)"). */
static Msg read_crafted_error(Blob b, int *events_read)
{
    Msg msg;
    RlogHeader h;
    char err[256];
    RlogReader *r = rlog_reader_open_mem(b.p, b.len, &h, err, sizeof err);
    assert_non_null(r);
    RlogEvent ev;
    int rc, got = 0;
    while ((rc = rlog_next(r, &ev)) == 1)
        got++;
    snprintf(msg.text, sizeof msg.text, "%s", rc < 0 ? rlog_reader_error(r) : "(clean)");
    if (events_read)
        *events_read = got;
    rlog_reader_close(r);
    rlog_header_free(&h);
    free(b.p);
    return msg;
}

static void test_absurd_lengths(void **state)
{
    int got;
    /* payload length far past the frame */
    static const uint8_t huge_len[] = {RLOG_RANDOM, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x'};
    Msg m = read_crafted_error(crafted(huge_len, sizeof huge_len, 1, 0, -1), &got);
    assert_int_equal(got, 0);
    assert_non_null(strstr(m.text, "payload runs past the end of its frame"));

    /* overlong varint */
    static const uint8_t overlong[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0};
    m = read_crafted_error(crafted(overlong, sizeof overlong, 1, 0, -1), NULL);
    assert_non_null(strstr(m.text, "cut or overlong"));

    /* icount overflow: first icount near the top plus a large delta */
    static const uint8_t ovf[] = {RLOG_RESET, 0, 0, RLOG_RESET, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0};
    m = read_crafted_error(crafted(ovf, sizeof ovf, 2, UINT64_MAX - 5, -1), NULL);
    assert_non_null(strstr(m.text, "overflows"));

    /* event count larger than the events present, and smaller */
    static const uint8_t two[] = {RLOG_RESET, 0, 0, RLOG_RESET, 1, 0};
    m = read_crafted_error(crafted(two, sizeof two, 2, 0, -1), &got);
    assert_non_null(strstr(m.text, "without an END event")); /* valid frame, then the file ends */
    assert_int_equal(got, 2);
    m = read_crafted_error(crafted(two, sizeof two, 1, 0, -1), &got);
    assert_non_null(strstr(m.text, "bytes follow its last event"));
    assert_int_equal(got, 0);
    m = read_crafted_error(crafted(two, sizeof two, 1000, 0, -1), NULL);
    assert_non_null(strstr(m.text, "event count"));

    /* events after END */
    static const uint8_t after_end[] = {RLOG_END, 0, 0, RLOG_RESET, 0, 0};
    m = read_crafted_error(crafted(after_end, sizeof after_end, 2, 0, -1), NULL);
    assert_non_null(strstr(m.text, "events follow the END event"));

    /* a frame header claiming 4 GiB, with a valid header checksum */
    m = read_crafted_error(crafted(two, sizeof two, 2, 0, 0xfffffff0), NULL);
    assert_non_null(strstr(m.text, "sizes are out of range"));
    /* claiming 60 MiB the file does not hold: the file was cut */
    m = read_crafted_error(crafted(two, sizeof two, 2, 0, 60 << 20), NULL);
    assert_non_null(strstr(m.text, "incomplete frame"));

    /* unknown kinds are returned intact */
    static const uint8_t unknown[] = {0xe7, 0x07, 0, 3, 'a', 'b', 'c', RLOG_END, 0, 0};
    Blob b = crafted(unknown, sizeof unknown, 2, 77, -1);
    RlogHeader h;
    char err[256];
    RlogReader *r = rlog_reader_open_mem(b.p, b.len, &h, err, sizeof err);
    RlogEvent ev;
    assert_int_equal(rlog_next(r, &ev), 1);
    assert_int_equal(ev.kind, 999);
    assert_true(ev.icount == 77);
    assert_int_equal(ev.len, 3);
    assert_memory_equal(ev.payload, "abc", 3);
    assert_int_equal(rlog_next(r, &ev), 1);
    assert_int_equal(ev.kind, RLOG_END);
    assert_int_equal(rlog_next(r, &ev), 0);
    rlog_reader_close(r);
    rlog_header_free(&h);
    free(b.p);
}

static void test_writer_limits(void **state)
{
    char *path = temp_path();
    RlogHeader h;
    make_header(&h);
    char err[256];
    RlogWriter *w = rlog_writer_open(path, &h, err, sizeof err);
    assert_non_null(w);
    uint8_t *big = calloc(1, RLOG_MAX_PAYLOAD + 1);
    assert_false(rlog_write(w, 0, RLOG_RANDOM, big, RLOG_MAX_PAYLOAD + 1));
    assert_non_null(strstr(rlog_writer_error(w), "exceeds"));
    assert_false(rlog_write(w, 1, RLOG_RESET, NULL, 0)); /* refuses after a failure */
    assert_false(rlog_writer_close(w));
    free(big);

    /* a header the reader would refuse is refused when writing */
    h.cfg.nharts = 0;
    assert_null(rlog_writer_open(path, &h, err, sizeof err));
    assert_non_null(strstr(err, "invalid machine configuration"));
    h.cfg.nharts = 1;
    /* unwritable path */
    assert_null(rlog_writer_open("/nonexistent-dir/x.rr", &h, err, sizeof err));
    assert_non_null(strstr(err, "cannot create"));
    rlog_header_free(&h);
    unlink(path);
    free(path);
}

/* A writer killed with SIGKILL mid-stream leaves a readable prefix. */
static void test_kill9_keeps_complete_frames(void **state)
{
    char *path = temp_path();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        RlogHeader h;
        make_header(&h);
        char err[256];
        RlogWriter *w = rlog_writer_open(path, &h, err, sizeof err);
        if (!w)
            _exit(1);
        for (uint64_t i = 0;; i++) {
            uint8_t p[300];
            fill(p, sizeof p, i);
            if (!rlog_write(w, i * 10, RLOG_RANDOM, p, (size_t)(i % 300)))
                _exit(1);
            if (i % 50 == 49 && !rlog_flush(w))
                _exit(1);
        }
    }
    /* let it write a few hundred KiB, then kill it wherever it is */
    for (int tries = 0; tries < 2000; tries++) {
        FILE *f = fopen(path, "rb");
        long size = 0;
        if (f) {
            fseek(f, 0, SEEK_END);
            size = ftell(f);
            fclose(f);
        }
        if (size > 300 * 1024)
            break;
        usleep(1000);
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));

    RlogHeader h;
    char err[512];
    RlogReader *r = rlog_reader_open(path, &h, err, sizeof err);
    assert_non_null(r);
    RlogEvent ev;
    uint64_t i = 0;
    int rc;
    while ((rc = rlog_next(r, &ev)) == 1) {
        uint8_t p[300];
        fill(p, sizeof p, i);
        assert_true(ev.icount == i * 10 && ev.kind == RLOG_RANDOM && ev.len == i % 300);
        assert_memory_equal(ev.payload, p, ev.len);
        i++;
    }
    assert_int_equal(rc, -1);
    assert_true(rlog_reader_truncated(r));
    assert_true(i > 100);
    rlog_reader_close(r);
    rlog_header_free(&h);
    unlink(path);
    free(path);
}

static void test_long_path_message(void **state)
{
    char path[3000];
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = 0;
    RlogHeader h;
    char err[256];
    assert_null(rlog_reader_open(path, &h, err, sizeof err));
    assert_int_equal(strlen(err), sizeof err - 1);
    /* the same path inside reader and writer error buffers */
    make_header(&h);
    assert_null(rlog_writer_open(path, &h, err, sizeof err));
    rlog_header_free(&h);
}

static char *capture(int (*fn)(const uint8_t *, size_t, FILE *, FILE *), const uint8_t *buf, size_t len,
                     int *status, char **errtext)
{
    char *out_text = NULL, *err_text = NULL;
    size_t out_len = 0, err_len = 0;
    FILE *out = open_memstream(&out_text, &out_len);
    FILE *err = open_memstream(&err_text, &err_len);
    *status = fn(buf, len, out, err);
    fclose(out);
    fclose(err);
    *errtext = err_text;
    return out_text;
}

/* Host-requested events (a monitor's system_reset, system_powerdown,
 * quit) are named by dump, with no payload. */
static void test_dump_names_host_requests(void **state)
{
    (void)state;
    TestEvent evs[8];
    int n = 0;
    add_event(evs, &n, 500, RLOG_RESET, "", 0);
    add_event(evs, &n, 700, RLOG_POWERDOWN, "", 0);
    add_event(evs, &n, 900, RLOG_SHUTDOWN, "\x04", 1);
    RlogEnd end = {900, 900 * 8, 0, 0x42};
    uint8_t eb[RLOG_END_PAYLOAD_LEN];
    rlog_end_encode(&end, eb);
    add_event(evs, &n, 900, RLOG_END, eb, sizeof eb);
    char *path = temp_path();
    write_log(path, evs, n, NULL, NULL, NULL);
    size_t len;
    uint8_t *buf = read_file(path, &len);
    unlink(path);
    free(path);
    int status;
    char *err;
    char *out = capture(rlog_print_dump_mem, buf, len, &status, &err);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, " RESET\n"));
    assert_non_null(strstr(out, " POWERDOWN\n"));
    assert_non_null(strstr(out, "SHUTDOWN   cause 4 (monitor quit)"));
    assert_null(strstr(out, "UNKNOWN"));
    uint32_t kind;
    assert_true(rlog_kind_from_name("powerdown", &kind));
    assert_int_equal(kind, RLOG_POWERDOWN);
    free(out);
    free(err);
    free(buf);
    free_events(evs, n);
}

static void test_info_and_dump(void **state)
{
    TestEvent evs[16];
    int n, nframes;
    uint64_t frame_end[8];
    size_t len;
    uint8_t *buf = small_log(evs, &n, frame_end, &nframes, &len);
    int status;
    char *err;
    char *out = capture(rlog_print_dump_mem, buf, len, &status, &err);
    assert_int_equal(status, 0);
    assert_string_equal(err, "");
    assert_non_null(strstr(out, "UART_RX    port 0 \"ls\\n\""));
    assert_non_null(strstr(out, "CLOCK_WALL 2026-01-01T00:00:00.123456789Z"));
    assert_non_null(strstr(out, "RANDOM     4 bytes 0a1b2c3d"));
    assert_non_null(strstr(out, "SHUTDOWN   cause 2 (SIGINT)"));
    assert_non_null(strstr(out, "exit_code=0 digest=1234567890abcdef"));
    int lines = 0;
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, n);
    free(out);
    free(err);

    out = capture(rlog_print_info_mem, buf, len, &status, &err);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, "harts:               2"));
    assert_non_null(strstr(out, "bios     /usr/lib/fw_dynamic.bin, 17 bytes, xxh3-128 "));
    assert_non_null(strstr(out, "option:              bios.path = /usr/lib/fw_dynamic.bin"));
    assert_non_null(strstr(out, "instructions:        20000"));
    assert_non_null(strstr(out, "UART_RX"));
    assert_non_null(strstr(out, "status:              complete"));
    free(out);
    free(err);

    /* a cut recording: still described, with a warning, status 0 */
    out = capture(rlog_print_info_mem, buf, (size_t)frame_end[1] + 3, &status, &err);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, "at least 9000"));
    assert_non_null(strstr(err, "warning: "));
    assert_non_null(strstr(err, "the recording was cut"));
    free(out);
    free(err);

    /* a corrupt one: status 2, as replay's */
    buf[len - 3] ^= 1;
    out = capture(rlog_print_dump_mem, buf, len, &status, &err);
    assert_int_equal(status, 2);
    assert_non_null(strstr(err, "rrvm: "));
    assert_non_null(strstr(err, "fails its checksum"));
    free(out);
    free(err);
    free(buf);
    free_events(evs, n);
}


/* ------------------------------------------------------------------ */
/* frame numbers (format 2), format 1, files that are not recordings,
 * the writer's lock and its incomplete file */

/* Read a buffer to its end: events read, and the error (or "(clean)"). */
static Msg read_buf_error(const uint8_t *buf, size_t len, int *events_read, bool *truncated)
{
    Msg msg;
    RlogHeader h;
    char err[256];
    RlogReader *r = rlog_reader_open_mem(buf, len, &h, err, sizeof err);
    assert_non_null(r);
    RlogEvent ev;
    int rc, got = 0;
    while ((rc = rlog_next(r, &ev)) == 1)
        got++;
    snprintf(msg.text, sizeof msg.text, "%s", rc < 0 ? rlog_reader_error(r) : "(clean)");
    *events_read = got;
    *truncated = rlog_reader_truncated(r);
    rlog_reader_close(r);
    rlog_header_free(&h);
    return msg;
}

static void test_missing_or_swapped_frames_are_damage(void **state)
{
    TestEvent evs[16];
    int n, nframes;
    uint64_t frame_end[8];
    size_t len;
    uint8_t *buf = small_log(evs, &n, frame_end, &nframes, &len);
    assert_int_equal(nframes, 4);
    /* frames: [start, frame_end[0]) [.., frame_end[1]) [.., frame_end[2]) [.., len) */
    RlogHeader h;
    char err[256];
    RlogReader *r = rlog_reader_open_mem(buf, len, &h, err, sizeof err);
    RlogEvent ev;
    assert_int_equal(rlog_next(r, &ev), 1);
    size_t start = (size_t)ev.file_offset;
    rlog_reader_close(r);
    rlog_header_free(&h);
    size_t f1 = (size_t)frame_end[0], f2 = (size_t)frame_end[1], f3 = (size_t)frame_end[2];

    /* frame 1 deleted: its events never appear, and it is damage, not a cut */
    Blob b = {0};
    blob_add(&b, buf, f1);
    blob_add(&b, buf + f2, len - f2);
    int got;
    bool cut;
    Msg m = read_buf_error(b.p, b.len, &got, &cut);
    assert_false(cut);
    assert_int_equal(got, 2);
    assert_non_null(strstr(m.text, "is frame number 2 where frame number 1 should be"));
    assert_non_null(strstr(m.text, "missing or out of order"));
    free(b.p);

    /* frames 1 and 2 swapped */
    b = (Blob){0};
    blob_add(&b, buf, f1);
    blob_add(&b, buf + f2, f3 - f2);
    blob_add(&b, buf + f1, f2 - f1);
    blob_add(&b, buf + f3, len - f3);
    m = read_buf_error(b.p, b.len, &got, &cut);
    assert_false(cut);
    assert_int_equal(got, 2);
    assert_non_null(strstr(m.text, "out of order"));
    free(b.p);

    /* frame 0 deleted */
    b = (Blob){0};
    blob_add(&b, buf, start);
    blob_add(&b, buf + f1, len - f1);
    m = read_buf_error(b.p, b.len, &got, &cut);
    assert_false(cut);
    assert_int_equal(got, 0);
    assert_non_null(strstr(m.text, "where frame number 0 should be"));
    free(b.p);

    /* a frame repeated */
    b = (Blob){0};
    blob_add(&b, buf, f2);
    blob_add(&b, buf + f1, len - f1);
    m = read_buf_error(b.p, b.len, &got, &cut);
    assert_false(cut);
    assert_non_null(strstr(m.text, "out of order"));
    free(b.p);

    /* data after the END frame */
    b = (Blob){0};
    blob_add(&b, buf, len);
    blob_add(&b, buf + f1, f2 - f1);
    m = read_buf_error(b.p, b.len, &got, &cut);
    assert_false(cut);
    assert_int_equal(got, n);
    assert_non_null(strstr(m.text, "follow the END event"));
    free(b.p);
    free(buf);
    free_events(evs, n);
}

/* Rewrite a format-2 recording as format 1 (40-byte frame headers
 * without a sequence number), as rrvm 0.1 wrote it. */
static Blob as_format1(const uint8_t *buf, size_t len, size_t start)
{
    Blob b = {0};
    blob_add(&b, buf, start);
    put32(b.p + 8, 1);
    put64(b.p + start - 8, XXH64(b.p, start - 8, 0));
    for (size_t off = start; off < len;) {
        uint32_t clen = (uint32_t)buf[off + 4] | (uint32_t)buf[off + 5] << 8 | (uint32_t)buf[off + 6] << 16 |
                        (uint32_t)buf[off + 7] << 24;
        uint8_t fh[40];
        memcpy(fh, buf + off, 32);
        put64(fh + 32, XXH64(fh, 32, 0));
        blob_add(&b, fh, 40);
        blob_add(&b, buf + off + 48, clen);
        off += 48 + clen;
    }
    return b;
}

static void test_format1_is_still_read(void **state)
{
    TestEvent evs[16];
    int n, nframes;
    uint64_t frame_end[8];
    size_t len;
    uint8_t *buf = small_log(evs, &n, frame_end, &nframes, &len);
    RlogHeader h;
    char err[256];
    RlogReader *r = rlog_reader_open_mem(buf, len, &h, err, sizeof err);
    RlogEvent ev;
    assert_int_equal(rlog_next(r, &ev), 1);
    size_t start = (size_t)ev.file_offset;
    rlog_reader_close(r);
    rlog_header_free(&h);

    Blob b = as_format1(buf, len, start);
    assert_int_equal(b.len, len - 8 * (size_t)nframes);
    r = rlog_reader_open_mem(b.p, b.len, &h, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(h.format_version, 1);
    for (int i = 0; i < n; i++) {
        assert_int_equal(rlog_next(r, &ev), 1);
        assert_true(event_equal(&ev, &evs[i]));
    }
    assert_int_equal(rlog_next(r, &ev), 0);
    rlog_reader_close(r);
    rlog_header_free(&h);
    /* cut inside a format-1 frame: still a cut */
    int got;
    bool cut;
    Msg m = read_buf_error(b.p, b.len - 5, &got, &cut);
    assert_true(cut);
    assert_non_null(strstr(m.text, "incomplete frame"));
    free(b.p);
    free(buf);
    free_events(evs, n);
}

static void test_not_a_regular_file(void **state)
{
    RlogHeader h;
    char err[512];
    /* /dev/zero would be read forever; a FIFO would block forever */
    assert_null(rlog_reader_open("/dev/zero", &h, err, sizeof err));
    assert_string_equal(err, "/dev/zero: not a regular file (a recording is a file)");
    char *path = temp_path();
    unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_null(rlog_reader_open(path, &h, err, sizeof err));
    assert_non_null(strstr(err, "not a regular file"));
    unlink(path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_null(rlog_reader_open(path, &h, err, sizeof err));
    assert_non_null(strstr(err, "not a regular file"));
    rmdir(path);
    /* a sparse file larger than any recording is refused before reading */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (off_t)RLOG_MAX_FILE + 1), 0);
    fclose(f);
    assert_null(rlog_reader_open(path, &h, err, sizeof err));
    assert_non_null(strstr(err, "is more than a recording may have (16 GiB)"));
    unlink(path);
    free(path);
}

/* In a child process (fcntl locks are per process): what a second writer
 * and a reader see of a file the parent is writing. */
static void check_from_child(const char *path, pid_t writer)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        RlogHeader h;
        make_header(&h);
        char err[512], want[512];
        int bad = 0;
        snprintf(want, sizeof want, "%s is being written by process %d (another rrvm record)", path, (int)writer);
        if (rlog_writer_open(path, &h, err, sizeof err) || strcmp(err, want) != 0)
            bad |= 1;
        rlog_header_free(&h);
        RlogReader *r = rlog_reader_open(path, &h, err, sizeof err);
        if (!r || rlog_reader_writer_pid(r) != (int)writer)
            bad |= 2;
        RlogEvent ev;
        while (r && rlog_next(r, &ev) == 1)
            ;
        snprintf(want, sizeof want, "the recording is still being written by process %d", (int)writer);
        if (!r || !rlog_reader_truncated(r) || !strstr(rlog_reader_error(r), want))
            bad |= 4;
        if (r) {
            rlog_reader_close(r);
            rlog_header_free(&h);
        }
        _exit(bad);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_writer_lock(void **state)
{
    char *path = temp_path();
    RlogHeader h;
    make_header(&h);
    char err[512];
    RlogWriter *w = rlog_writer_open(path, &h, err, sizeof err);
    assert_non_null(w);
    rlog_header_free(&h);
    assert_true(rlog_write(w, 5, RLOG_IDLE, "\1\0\0\0\0\0\0\0", 8));
    assert_true(rlog_flush(w));
    check_from_child(path, getpid());
    assert_true(rlog_writer_close(w));
    /* closed: a reader sees a cut recording, not one in progress */
    RlogReader *r = rlog_reader_open(path, &h, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(rlog_reader_writer_pid(r), 0);
    rlog_reader_close(r);
    rlog_header_free(&h);
    unlink(path);
    free(path);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void test_writer_create_and_commit(void **state)
{
    char *path = temp_path(), tmp[4200];
    unlink(path);
    rlog_incomplete_path(path, tmp, sizeof tmp);
    RlogHeader h;
    make_header(&h);
    char err[512], want[4400];

    /* the recording exists only as the incomplete file until committed */
    RlogWriter *w = rlog_writer_create(path, &h, false, err, sizeof err);
    assert_non_null(w);
    assert_string_equal(rlog_writer_path(w), tmp);
    assert_true(rlog_write(w, 7, RLOG_END, "0123456789012345678901234567", RLOG_END_PAYLOAD_LEN));
    assert_true(exists(tmp) && !exists(path));
    assert_true(rlog_writer_commit(w, err, sizeof err));
    assert_true(exists(path) && !exists(tmp));
    RlogHeader h2;
    RlogReader *r = rlog_reader_open(path, &h2, err, sizeof err);
    RlogEvent ev;
    assert_int_equal(rlog_next(r, &ev), 1);
    assert_int_equal(rlog_next(r, &ev), 0);
    rlog_reader_close(r);
    rlog_header_free(&h2);

    /* an existing recording is never replaced without force */
    assert_null(rlog_writer_create(path, &h, false, err, sizeof err));
    snprintf(want, sizeof want, "%s already exists (use --force to replace it)", path);
    assert_string_equal(err, want);
    assert_false(exists(tmp));

    /* with force it is, once the new one is complete */
    w = rlog_writer_create(path, &h, true, err, sizeof err);
    assert_non_null(w);
    /* closed without a commit (a recorder that failed): the incomplete
     * file stays, and the old recording is untouched */
    assert_true(rlog_writer_close(w));
    assert_true(exists(tmp) && exists(path));
    unlink(path);
    /* and a later recorder does not overwrite the incomplete one */
    assert_null(rlog_writer_create(path, &h, false, err, sizeof err));
    assert_non_null(strstr(err, "exists (a recording that was cut short"));
    w = rlog_writer_create(path, &h, true, err, sizeof err);
    assert_non_null(w);
    assert_true(rlog_writer_commit(w, err, sizeof err));
    assert_true(exists(path) && !exists(tmp));
    unlink(path);
    rlog_header_free(&h);
    free(path);
}

static void test_packed_images(void **state)
{
    char *path = temp_path();
    RlogHeader h;
    make_header(&h);
    char err[512];
    static uint8_t img[100000];
    for (size_t i = 0; i < sizeof img; i++)
        img[i] = (uint8_t)(i % 251 ^ i / 1000);
    RlogWriter *w = rlog_writer_open(path, &h, err, sizeof err);
    assert_non_null(w);
    assert_true(rlog_writer_pack_image(w, img, sizeof img));
    assert_true(rlog_writer_pack_image(w, "K", 1));
    assert_true(rlog_writer_pack_image(w, img, sizeof img)); /* the same contents: stored once */
    assert_true(rlog_write(w, 3, RLOG_RANDOM, "abcd", 4));
    assert_true(rlog_writer_close(w));
    rlog_header_free(&h);
    size_t len;
    uint8_t *buf = read_file(path, &len);
    assert_true(len < sizeof img / 2); /* compressed */

    RlogReader *r = rlog_reader_open_mem(buf, len, &h, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(rlog_reader_npacked(r), 2);
    uint8_t hash[16];
    rlog_hash128(img, sizeof img, hash);
    assert_int_equal(rlog_reader_find_packed(r, hash), 0);
    assert_int_equal(rlog_reader_packed(r, 0)->size, sizeof img);
    assert_int_equal(rlog_reader_find_packed(r, h.images[1].hash), 1); /* the "kernel", "K" */
    uint8_t *data;
    size_t dlen;
    assert_true(rlog_reader_unpack(r, 0, &data, &dlen, err, sizeof err));
    assert_int_equal(dlen, sizeof img);
    assert_memory_equal(data, img, sizeof img);
    free(data);
    RlogEvent ev;
    assert_int_equal(rlog_next(r, &ev), 1);
    assert_int_equal(ev.icount, 3);
    rlog_reader_close(r);
    rlog_header_free(&h);

    /* damage inside the first image: events still read, the image is refused */
    uint8_t *im = memmem(buf, len, "RRVI", 4);
    assert_non_null(im);
    size_t at = (size_t)(im - buf);
    im[56 + 10] ^= 0x10;
    r = rlog_reader_open_mem(buf, len, &h, err, sizeof err);
    assert_non_null(r);
    assert_false(rlog_reader_unpack(r, 0, &data, &dlen, err, sizeof err));
    assert_null(data);
    assert_non_null(strstr(err, "packed image at byte"));
    assert_non_null(strstr(err, "fails its checksum"));
    assert_int_equal(rlog_next(r, &ev), 1);
    rlog_reader_close(r);
    rlog_header_free(&h);
    im[56 + 10] ^= 0x10;

    /* a file cut inside its images: a cut header */
    assert_null(rlog_reader_open_mem(buf, at + 60, &h, err, sizeof err));
    assert_non_null(strstr(err, "cut inside its packed images"));
    /* an image header that fails its checksum */
    im[20] ^= 1;
    assert_null(rlog_reader_open_mem(buf, len, &h, err, sizeof err));
    assert_non_null(strstr(err, "fails its checksum (image header)"));
    free(buf);
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_numbers_are_fixed),
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_header_devices_and_port_names),
        cmocka_unit_test(test_header_checkpoint_schedule),
        cmocka_unit_test(test_cut_at_every_byte),
        cmocka_unit_test(test_cut_message),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_wrong_magic_and_version),
        cmocka_unit_test(test_absurd_lengths),
        cmocka_unit_test(test_writer_limits),
        cmocka_unit_test(test_info_and_dump),
        cmocka_unit_test(test_dump_names_host_requests),
        cmocka_unit_test(test_kill9_keeps_complete_frames),
        cmocka_unit_test(test_long_path_message),
        cmocka_unit_test(test_missing_or_swapped_frames_are_damage),
        cmocka_unit_test(test_format1_is_still_read),
        cmocka_unit_test(test_not_a_regular_file),
        cmocka_unit_test(test_writer_lock),
        cmocka_unit_test(test_writer_create_and_commit),
        cmocka_unit_test(test_packed_images),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
