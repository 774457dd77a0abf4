/*
 * fuzz_sesspos.c - libFuzzer harness for the replay position saved in
 * in-memory checkpoints and snapshot files (sesspos.c), which a snapshot
 * file makes untrusted input, and for what the session does with it: seek
 * a recording's reader to the decoded log position and read on.
 *
 * Checks: decoding never reads out of bounds; a decoded position encodes
 * back to exactly the input bytes (nothing is silently normalised); seeking
 * a real recording to any decoded position and reading to the end neither
 * crashes nor loops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/session_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *rec;
static size_t rec_len;

/* A small valid recording held in memory: a few frames of events. */
static void make_recording(void)
{
    char path[] = "/tmp/rrvm-fuzz-sesspos-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    close(fd);
    RlogHeader h;
    memset(&h, 0, sizeof h);
    h.format_version = RLOG_FORMAT_VERSION;
    snprintf(h.rrvm_version, sizeof h.rrvm_version, "fuzz");
    h.cfg.ram_size = 1 << 20;
    h.cfg.nharts = 1;
    h.cfg.quantum = 1000;
    char err[256];
    RlogWriter *w = rlog_writer_open(path, &h, err, sizeof err);
    if (!w)
        abort();
    uint8_t payload[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    for (uint64_t i = 0; i < 64; i++) {
        rlog_write(w, i * 100, i % 3 ? RLOG_RANDOM : RLOG_IDLE, payload, 8);
        if (i % 16 == 15)
            rlog_flush(w);
    }
    RlogEnd end = { 6400, 6400, 0, 0 };
    uint8_t p[RLOG_END_PAYLOAD_LEN];
    rlog_end_encode(&end, p);
    rlog_write(w, 6400, RLOG_END, p, sizeof p);
    if (!rlog_writer_close(w))
        abort();
    FILE *f = fopen(path, "rb");
    if (!f)
        abort();
    fseek(f, 0, SEEK_END);
    rec_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    rec = malloc(rec_len);
    if (!rec || fread(rec, 1, rec_len, f) != rec_len)
        abort();
    fclose(f);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!rec)
        make_recording();
    SessPos p;
    if (!sesspos_decode(data, size, &p))
        return 0;
    SerWriter w;
    ser_writer_init(&w);
    sesspos_encode(&p, &w);
    if (w.len != size || memcmp(w.buf, data, size) != 0)
        abort(); /* decode accepted bytes that do not round-trip */
    ser_writer_free(&w);
    RlogHeader h;
    char err[256];
    RlogReader *r = rlog_reader_open_mem(rec, rec_len, &h, err, sizeof err);
    if (!r)
        abort();
    if (rlog_reader_seek(r, &p.log)) {
        RlogEvent ev;
        for (int i = 0; i < 1000 && rlog_next(r, &ev) == 1; i++)
            ;
    }
    rlog_reader_close(r);
    rlog_header_free(&h);
    return 0;
}
