/*
 * test_snapshot.c - snapshot files (src/replay/snapshot.c): a real
 * machine's state goes round the file byte for byte, and anything but an
 * intact snapshot is refused with the right class of message, never a
 * crash.
 *
 * What is checked:
 *  - write then read gives back the header (config, images, options), the
 *    position, the session blob and the machine_save blob; loading it into
 *    a fresh machine gives the same machine_save output; an existing file
 *    is replaced and no temporary file is left behind;
 *  - every truncation length is refused as "truncated at byte N" (N the
 *    length); every single bit flip is refused: in the magic as "not an
 *    rrvm snapshot", in the version as "format version", anywhere else as
 *    "damaged";
 *  - trailing data, newer and older versions (both numbers named), foreign
 *    files, directories, missing files; an unrepresentable header is
 *    refused at writing and creates no file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/cpu/hart.h"
#include "replay/snapshot.h"

static uint64_t host_wallclock(void *opaque) { return 1767225600000000000ull; }
static void host_random(void *opaque, uint8_t *buf, size_t n) { memset(buf, 0x5a, n); }
static void host_console(void *opaque, const uint8_t *buf, size_t n) {}

static Machine *new_machine(uint64_t ram)
{
    MachineConfig cfg = {.ram_size = ram, .nharts = 2, .board_virt = false, .quantum = 50};
    MachineHostIf host = {NULL, host_wallclock, host_random, host_console};
    Machine *m = machine_new(&cfg, &host);
    assert_non_null(m);
    return m;
}

static uint8_t *save_blob(const Machine *m, size_t *len)
{
    SerWriter w;
    ser_writer_init(&w);
    machine_save(m, &w);
    assert_false(w.oom);
    *len = w.len;
    return w.buf;
}

/* A machine with some nonzero state and a description of it. */
static Machine *sample(uint64_t ram, SnapshotInfo *info, uint8_t **state, size_t *state_len)
{
    Machine *m = new_machine(ram);
    for (uint64_t off = 0; off < ram; off += 997) {
        uint8_t v = (uint8_t)(off * 31 + 7);
        assert_true(machine_phys_write(m, RAM_BASE + off, &v, 1));
    }
    m->harts[1]->x[5] = 0x1234567890abcdefull;
    m->harts[0]->pc = RAM_BASE + 0x40;
    m->icount = 123456789;
    *state = save_blob(m, state_len);

    memset(info, 0, sizeof *info);
    RlogHeader *h = &info->header;
    h->format_version = RLOG_FORMAT_VERSION;
    strcpy(h->rrvm_version, "test");
    h->cfg = m->cfg;
    h->cfg.append = strdup("console=ttyS0");
    h->checkpoint_interval = 1000;
    static const uint8_t kernel[] = "not really a kernel";
    assert_true(rlog_header_add_image(h, "kernel", "prog.elf", kernel, sizeof kernel));
    assert_true(rlog_header_set(h, "serial", "stdio"));
    info->icount = m->icount;
    info->from_replay = true;
    for (int i = 0; i < 16; i++)
        info->recording_id[i] = (uint8_t)(0xa0 + i);
    info->log_pos = (RlogPos){.frame_offset = 4096, .event_index = 17, .last_icount = 123456000};
    info->session_len = 40;
    info->session = malloc(info->session_len);
    for (size_t i = 0; i < info->session_len; i++)
        info->session[i] = (uint8_t)(i * 3);
    return m;
}

static char *temp_dir(void)
{
    char tmpl[] = "/tmp/rrvm-test-snapshot-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static char *path_in(const char *dir, const char *name)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

static unsigned count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    unsigned n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void remove_dir(char *dir)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = path_in(dir, e->d_name);
        unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
    free(dir);
}

/* A snapshot file's bytes, made through snapshot_write. */
static uint8_t *small_snapshot(size_t *len)
{
    SnapshotInfo info;
    uint8_t *state;
    size_t state_len;
    Machine *m = sample(PAGE_SIZE, &info, &state, &state_len);
    char *dir = temp_dir(), *p = path_in(dir, "s.snap");
    char err[512];
    assert_true(snapshot_write(p, &info, state, state_len, err, sizeof err));
    uint8_t *b = slurp(p, len);
    free(p);
    remove_dir(dir);
    snapshot_info_free(&info);
    free(state);
    machine_free(m);
    return b;
}

static void expect_refusal(const uint8_t *b, size_t len, const char *needle, const char *what)
{
    SnapshotInfo info;
    uint8_t *state = (uint8_t *)1;
    size_t state_len = 1;
    char err[512] = "";
    if (snapshot_read_mem(b, len, "x.snap", &info, &state, &state_len, err, sizeof err))
        fail_msg("%s: accepted", what);
    assert_null(state);
    assert_int_equal(state_len, 0);
    assert_null(info.session);
    if (!strstr(err, needle) || strncmp(err, "x.snap: ", 8) != 0 || strchr(err, '\n'))
        fail_msg("%s: message \"%s\" lacks \"%s\"", what, err, needle);
}

static void test_round_trip(void **state_)
{
    SnapshotInfo info;
    uint8_t *state;
    size_t state_len;
    Machine *m = sample(64u << 10, &info, &state, &state_len);
    char *dir = temp_dir(), *p = path_in(dir, "run.snap");
    char err[512];
    spit(p, (const uint8_t *)"old", 3); /* replaced atomically */
    assert_true(snapshot_write(p, &info, state, state_len, err, sizeof err));
    assert_int_equal(count_entries(dir), 1);

    SnapshotInfo got;
    uint8_t *st2;
    size_t st2_len;
    if (!snapshot_read(p, &got, &st2, &st2_len, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(got.format_version, SNAPSHOT_FORMAT_VERSION);
    assert_int_equal(got.icount, 123456789);
    assert_true(got.from_replay);
    assert_memory_equal(got.recording_id, info.recording_id, 16);
    assert_int_equal(got.log_pos.frame_offset, 4096);
    assert_int_equal(got.log_pos.event_index, 17);
    assert_int_equal(got.log_pos.last_icount, 123456000);
    assert_int_equal(got.session_len, info.session_len);
    assert_memory_equal(got.session, info.session, info.session_len);
    assert_string_equal(got.header.rrvm_version, "test");
    assert_int_equal(got.header.cfg.ram_size, m->cfg.ram_size);
    assert_int_equal(got.header.cfg.nharts, 2);
    assert_string_equal(got.header.cfg.append, "console=ttyS0");
    assert_int_equal(got.header.nimages, 1);
    assert_memory_equal(got.header.images[0].hash, info.header.images[0].hash, 16);
    assert_string_equal(rlog_header_get(&got.header, "serial"), "stdio");
    assert_int_equal(st2_len, state_len);
    assert_memory_equal(st2, state, state_len);

    /* into a fresh machine: the same state */
    Machine *m2 = new_machine(64u << 10);
    SerReader r;
    ser_reader_init(&r, st2, st2_len);
    assert_true(machine_load(m2, &r));
    size_t l3;
    uint8_t *b3 = save_blob(m2, &l3);
    assert_int_equal(l3, state_len);
    assert_memory_equal(b3, state, state_len);

    /* no session, not from a replay */
    free(info.session);
    info.session = NULL;
    info.session_len = 0;
    info.from_replay = false;
    assert_true(snapshot_write(p, &info, state, state_len, err, sizeof err));
    snapshot_info_free(&got);
    free(st2);
    assert_true(snapshot_read(p, &got, &st2, &st2_len, err, sizeof err));
    assert_null(got.session);
    assert_false(got.from_replay);
    assert_int_equal(count_entries(dir), 1);

    free(b3);
    machine_free(m2);
    snapshot_info_free(&got);
    free(st2);
    snapshot_info_free(&info);
    free(state);
    machine_free(m);
    free(p);
    remove_dir(dir);
}

static void test_every_truncation(void **state_)
{
    size_t len;
    uint8_t *b = small_snapshot(&len);
    char needle[64], what[64];
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1); /* exact size: ASan sees over-reads */
        memcpy(cut, b, n);
        snprintf(needle, sizeof needle, "truncated at byte %zu", n);
        snprintf(what, sizeof what, "cut at %zu of %zu", n, len);
        expect_refusal(n ? cut : NULL, n, needle, what);
        free(cut);
    }
    free(b);
}

static void test_every_bit_flip(void **state_)
{
    size_t len;
    uint8_t *b = small_snapshot(&len);
    uint8_t *c = malloc(len);
    char what[64];
    for (size_t i = 0; i < len; i++) {
        const char *needle = i < 8 ? "not an rrvm snapshot" : i < 12 ? "format version" : "damaged";
        for (int bit = 0; bit < 8; bit++) {
            memcpy(c, b, len);
            c[i] ^= (uint8_t)(1u << bit);
            snprintf(what, sizeof what, "bit %d of byte %zu", bit, i);
            expect_refusal(c, len, needle, what);
        }
    }
    free(c);
    free(b);
}

static void test_refusals(void **state_)
{
    size_t len;
    uint8_t *b = small_snapshot(&len);
    uint8_t *c = malloc(len + 1);

    memcpy(c, b, len);
    c[len] = 0;
    expect_refusal(c, len + 1, "trailing data after byte", "trailing byte");

    memcpy(c, b, len);
    c[8] = 2;
    expect_refusal(c, len, "snapshot format version 2, this rrvm reads version 1", "newer");
    expect_refusal(c, len, "newer", "newer");
    c[8] = 0;
    expect_refusal(c, len, "snapshot format version 0, this rrvm reads version 1", "older");
    expect_refusal(c, len, "older", "older");

    static const uint8_t log_magic[] = "RRVMLOG\0 a recording, not a snapshot";
    expect_refusal(log_magic, sizeof log_magic, "not an rrvm snapshot", "recording");

    /* files */
    char *dir = temp_dir(), *p = path_in(dir, "s.snap");
    SnapshotInfo info;
    uint8_t *state;
    size_t state_len;
    char err[512];
    assert_false(snapshot_read(dir, &info, &state, &state_len, err, sizeof err));
    assert_non_null(strstr(err, "not a regular file"));
    assert_false(snapshot_read(p, &info, &state, &state_len, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
    spit(p, b, len / 2);
    assert_false(snapshot_read(p, &info, &state, &state_len, err, sizeof err));
    assert_non_null(strstr(err, "truncated at byte"));
    spit(p, b, len);
    assert_true(snapshot_read(p, &info, &state, &state_len, err, sizeof err));
    snapshot_info_free(&info);
    free(state);
    unlink(p);

    /* an unrepresentable header: refused, nothing written */
    Machine *m = sample(PAGE_SIZE, &info, &state, &state_len);
    info.header.cfg.nharts = 0;
    assert_false(snapshot_write(p, &info, state, state_len, err, sizeof err));
    assert_non_null(strstr(err, "invalid machine configuration"));
    assert_int_equal(count_entries(dir), 0);
    snapshot_info_free(&info);
    free(state);
    machine_free(m);

    free(p);
    remove_dir(dir);
    free(c);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_every_bit_flip),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
