/*
 * test_session.c - the resumable session API (session.h) driven in
 * process, as the debug layer will: record a bare-metal guest, then replay
 * it by events, single steps on one hart, icount targets and seeks in both
 * directions. Digests at an icount must not depend on how it was reached.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_steps_and_seeks),
        cmocka_unit_test(test_step_one_hart_of_four),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
