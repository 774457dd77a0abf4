/*
 * test_session.c - the resumable session API (session.h) driven in
 * process, as the debug layer will: record a bare-metal guest, then replay
 * it by events, single steps on one hart, icount targets and seeks in both
 * directions. Digests at an icount must not depend on how it was reached.
 * A malformed checkpoint in a rewritten recording is a bad recording.
 *
 * Needs build/guest-tests/vm.elf and smp.elf (make guest-tests); run from
 * the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/cpu/hart.h"
#include "replay/checkpoint.h"
#include "replay/log.h"
#include "replay/session.h"
#include "session_opts.h"

/* Record elf into rr; returns the final icount. */
static uint64_t record(const char *rr, const char *elf, int nharts)
{
    SessionOptions o;
    base_options(&o, SESSION_RECORD, rr, elf, nharts);
    int status = -1;
    Session *s = session_open(&o, &status);
    assert_non_null(s);
    SessionTarget end = { SESSION_TO_END, 0, 0 };
    assert_int_equal(session_advance(s, &end), SESSION_STOP_EXIT);
    uint64_t total = session_icount(s);
    assert_int_equal(session_close(s), 0);
    return total;
}

static Session *open_replay(SessionOptions *o, const char *rr)
{
    base_options(o, SESSION_REPLAY, rr, NULL, 1);
    o->time_travel = true;
    o->checkpoint_memory = 256ull << 20;
    int status = -1;
    Session *s = session_open(o, &status);
    assert_non_null(s);
    return s;
}

static uint64_t digest(Session *s) { return checkpoint_machine_digest(session_machine(s)); }

static void test_events_steps_and_seeks(void **state)
{
    (void)state;
    char rr[] = "/tmp/rrvm-test-session-XXXXXX";
    int fd = mkstemp(rr);
    assert_true(fd >= 0);
    close(fd);
    uint64_t total = record(rr, "build/guest-tests/vm.elf", 1);
    assert_true(total > 20000);

    SessionOptions o;
    Session *s = open_replay(&o, rr);
    assert_int_equal(session_mode(s), SESSION_REPLAY);
    assert_int_equal(session_recording_total(s), total);
    /* by input events: vm.elf takes no input (its recording holds only
     * checkpoints, which are not input events), so the end comes first */
    SessionTarget ev = { SESSION_TO_EVENT, 0, 0 };
    uint64_t last = 0;
    int n = 0;
    SessionStop st;
    while ((st = session_advance(s, &ev)) == SESSION_STOP_TARGET) {
        assert_true(session_icount(s) >= last);
        last = session_icount(s);
        n++;
    }
    assert_int_equal(st, SESSION_STOP_END);
    assert_int_equal(session_icount(s), total);
    assert_int_equal(n, 0);

    /* seek back, single steps equal icount targets */
    assert_int_equal(session_seek(s, 10000), SESSION_STOP_TARGET);
    assert_int_equal(session_icount(s), 10000);
    SessionTarget step = { SESSION_TO_STEP, 0, 0 };
    for (int i = 0; i < 5; i++)
        assert_int_equal(session_advance(s, &step), SESSION_STOP_TARGET);
    assert_int_equal(session_icount(s), 10005);
    uint64_t d10005 = digest(s);
    assert_int_equal(session_seek(s, 10004), SESSION_STOP_TARGET);
    uint64_t d10004 = digest(s);
    assert_int_equal(session_advance(s, &step), SESSION_STOP_TARGET);
    assert_int_equal(session_icount(s), 10005);
    assert_int_equal(digest(s), d10005);
    SessionTarget to = { SESSION_TO_ICOUNT, 15000, 0 };
    assert_int_equal(session_advance(s, &to), SESSION_STOP_TARGET);
    uint64_t d15000 = digest(s);
    assert_int_equal(session_seek(s, 10004), SESSION_STOP_TARGET);
    assert_int_equal(digest(s), d10004);
    assert_int_equal(session_seek(s, 15000), SESSION_STOP_TARGET);
    assert_int_equal(digest(s), d15000);
    /* past the end: stops at the end, verified */
    assert_int_equal(session_seek(s, total + 10), SESSION_STOP_END);
    assert_int_equal(session_close(s), 0);

    /* a fresh replay straight to 10004 agrees with the seeks */
    s = open_replay(&o, rr);
    SessionTarget straight = { SESSION_TO_ICOUNT, 10004, 0 };
    assert_int_equal(session_advance(s, &straight), SESSION_STOP_TARGET);
    assert_int_equal(digest(s), d10004);
    session_close(s);
    unlink(rr);
}

static void test_step_one_hart_of_four(void **state)
{
    (void)state;
    char rr[] = "/tmp/rrvm-test-session-smp-XXXXXX";
    int fd = mkstemp(rr);
    assert_true(fd >= 0);
    close(fd);
    record(rr, "build/guest-tests/smp.elf", 4);
    SessionOptions o;
    Session *s = open_replay(&o, rr);
    SessionTarget to = { SESSION_TO_ICOUNT, 50000, 0 };
    assert_int_equal(session_advance(s, &to), SESSION_STOP_TARGET);
    for (int h = 0; h < 4; h++) {
        uint64_t before = session_machine(s)->harts[h]->instret;
        SessionTarget step = { SESSION_TO_STEP, 0, h };
        assert_int_equal(session_advance(s, &step), SESSION_STOP_TARGET);
        const Hart *hart = session_machine(s)->harts[h];
        assert_true(hart->instret == before + 1 || hart->wfi);
    }
    SessionTarget bad = { SESSION_TO_STEP, 0, 7 };
    assert_int_equal(session_advance(s, &bad), SESSION_STOP_ERROR);
    assert_int_equal(session_close(s), 2);
    unlink(rr);
}

/* Copy recording `from` to `to`, replacing the payload of its `nth`
 * checkpoint (counting from 0) by (p, n). */
static void rewrite_checkpoint(const char *from, const char *to, int nth, const uint8_t *p, size_t n)
{
    RlogHeader h;
    char err[512];
    RlogReader *r = rlog_reader_open(from, &h, err, sizeof err);
    assert_non_null(r);
    RlogWriter *w = rlog_writer_open(to, &h, err, sizeof err);
    assert_non_null(w);
    RlogEvent ev;
    int k = 0, got;
    while ((got = rlog_next(r, &ev)) == 1) {
        bool swap = ev.kind == RLOG_CHECKPOINT && k++ == nth;
        assert_true(rlog_write(w, ev.icount, ev.kind, swap ? p : ev.payload, swap ? n : ev.len));
    }
    assert_int_equal(got, 0);
    assert_true(k > nth);
    assert_true(rlog_writer_close(w));
    rlog_reader_close(r);
    rlog_header_free(&h);
}

/* A malformed checkpoint payload (the frame's checksum holds) is a bad
 * recording (status 2), not a divergence, for a digest checkpoint (no
 * replaying on to the next full one) and for a full one alike. */
static void test_malformed_checkpoints_are_bad_recordings(void **state)
{
    (void)state;
    char rr[] = "/tmp/rrvm-test-session-ck-XXXXXX", bad[] = "/tmp/rrvm-test-session-bad-XXXXXX";
    int fd = mkstemp(rr), fd2 = mkstemp(bad);
    assert_true(fd >= 0 && fd2 >= 0);
    close(fd);
    close(fd2);
    SessionOptions o;
    base_options(&o, SESSION_RECORD, rr, "build/guest-tests/vm.elf", 1);
    o.full_checkpoint_interval = 6000; /* full ones 6000 apart, 2000-apart digests between */
    int status = -1;
    Session *s = session_open(&o, &status);
    assert_non_null(s);
    SessionTarget end = { SESSION_TO_END, 0, 0 };
    assert_int_equal(session_advance(s, &end), SESSION_STOP_EXIT);
    assert_int_equal(session_close(s), 0);

    static const uint8_t short_digest[5] = {CHECKPOINT_FORMAT_DIGEST, 1, 2, 3, 4};
    static const uint8_t unknown[3] = {9, 0, 0};
    struct { int nth; const uint8_t *p; size_t n; } cases[] = {
        {0, short_digest, sizeof short_digest}, /* 2000: a digest */
        {2, unknown, sizeof unknown},           /* 6000: a full one */
    };
    for (int i = 0; i < 2; i++) {
        rewrite_checkpoint(rr, bad, cases[i].nth, cases[i].p, cases[i].n);
        SessionOptions ro;
        base_options(&ro, SESSION_REPLAY, bad, NULL, 1);
        s = session_open(&ro, &status);
        assert_non_null(s);
        assert_int_equal(session_advance(s, &end), SESSION_STOP_ERROR);
        assert_true(session_icount(s) == 2000ull * (uint64_t)(cases[i].nth + 1));
        assert_int_equal(session_close(s), 2);
    }
    unlink(rr);
    unlink(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_steps_and_seeks),
        cmocka_unit_test(test_step_one_hart_of_four),
        cmocka_unit_test(test_malformed_checkpoints_are_bad_recordings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
