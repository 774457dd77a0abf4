/*
 * test_requests.c - the session API for an interactive driver (session.h):
 * host requests (reset, powerdown, quit) recorded and replayed to the same
 * machine, notices at the same icounts in record and replay and never
 * twice across seeks, requests refused in replay, quit ending a replay,
 * and the host-wait hook yielding from an idle guest without losing time.
 *
 * Needs build/guest-tests/vm.elf and idle.elf (make guest-tests) and, for
 * guest resets, riscv64-unknown-elf-gcc (else that test is skipped); run
 * from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "replay/checkpoint.h"
#include "replay/session.h"
#include "session_opts.h"

static void temp_rr(char *path)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
}

static uint64_t digest(Session *s) { return checkpoint_machine_digest(session_machine(s)); }

/* --- an observer that keeps what it was told --- */

typedef struct Seen {
    SessionNotice n[64];
    char reason[64][32];
    int count;
} Seen;

static void observe(void *opaque, const SessionNotice *n)
{
    Seen *seen = opaque;
    assert_true(seen->count < 64);
    seen->n[seen->count] = *n;
    snprintf(seen->reason[seen->count], sizeof seen->reason[0], "%s", n->reason ? n->reason : "");
    seen->count++;
}

static void assert_same_notices(const Seen *a, const Seen *b)
{
    assert_int_equal(a->count, b->count);
    for (int i = 0; i < a->count; i++) {
        assert_int_equal(a->n[i].kind, b->n[i].kind);
        assert_int_equal(a->n[i].guest, b->n[i].guest);
        assert_int_equal(a->n[i].icount, b->n[i].icount);
        assert_string_equal(a->reason[i], b->reason[i]);
    }
}

static SessionStop advance_to(Session *s, uint64_t icount)
{
    SessionTarget t = { SESSION_TO_ICOUNT, icount, 0 };
    return session_advance(s, &t);
}

static SessionStop advance_to_end(Session *s)
{
    SessionTarget t = { SESSION_TO_END, 0, 0 };
    return session_advance(s, &t);
}

static void request_ok(Session *s, SessionRequest r)
{
    char err[256] = "";
    bool ok = session_request(s, r, err, sizeof err);
    if (!ok)
        fail_msg("request %d refused: %s", (int)r, err);
}

enum { B = 8000, C = 12000 };

/* Record vm.elf with RESET at A, POWERDOWN at B, QUIT at C; replay it with
 * an observer: the same notices at the same icounts, the same machine
 * before and after the reset, the same end; seeks tell nothing again. */
static void check_requests_replay(bool strict, uint64_t A)
{
    char rr[] = "/tmp/rrvm-test-requests-XXXXXX";
    temp_rr(rr);
    SessionOptions o;
    base_options(&o, SESSION_RECORD, rr, "build/guest-tests/vm.elf", 1);
    o.verify_strict = strict; /* a checkpoint after every event, RESET too */
    int status = -1;
    Session *s = session_open(&o, &status);
    assert_non_null(s);
    Seen rec = { .count = 0 };
    session_set_observer(s, observe, &rec);
    assert_int_equal(advance_to(s, A), SESSION_STOP_TARGET);
    uint64_t before_reset = digest(s);
    request_ok(s, SESSION_REQ_RESET);
    assert_int_equal(session_icount(s), A);
    uint64_t after_reset = digest(s);
    assert_true(before_reset != after_reset);
    assert_int_equal(advance_to(s, B), SESSION_STOP_TARGET);
    request_ok(s, SESSION_REQ_POWERDOWN);
    assert_int_equal(advance_to(s, C), SESSION_STOP_TARGET);
    request_ok(s, SESSION_REQ_QUIT);
    assert_int_equal(advance_to_end(s), SESSION_STOP_EXIT);
    assert_int_equal(session_icount(s), C);
    uint64_t end = digest(s);
    char err[256];
    assert_false(session_request(s, SESSION_REQ_RESET, err, sizeof err)); /* it is over */
    assert_int_equal(session_close(s), 0);

    assert_int_equal(rec.count, 3);
    assert_int_equal(rec.n[0].kind, SESSION_NOTICE_RESET);
    assert_false(rec.n[0].guest);
    assert_string_equal(rec.reason[0], "host-qmp-system-reset");
    assert_int_equal(rec.n[0].icount, A);
    assert_int_equal(rec.n[1].kind, SESSION_NOTICE_POWERDOWN);
    assert_int_equal(rec.n[1].icount, B);
    assert_int_equal(rec.n[2].kind, SESSION_NOTICE_SHUTDOWN);
    assert_false(rec.n[2].guest);
    assert_string_equal(rec.reason[2], "host-qmp-quit");
    assert_int_equal(rec.n[2].icount, C);

    base_options(&o, SESSION_REPLAY, rr, NULL, 1);
    o.time_travel = true;
    o.checkpoint_memory = 256ull << 20;
    s = session_open(&o, &status);
    assert_non_null(s);
    Seen rep = { .count = 0 };
    session_set_observer(s, observe, &rep);
    assert_int_equal(advance_to(s, A), SESSION_STOP_TARGET);
    assert_int_equal(digest(s), before_reset); /* the state at A: before its events */
    assert_int_equal(rep.count, 0);
    SessionTarget ev = { SESSION_TO_EVENT, 0, 0 };
    assert_int_equal(session_advance(s, &ev), SESSION_STOP_TARGET);
    assert_int_equal(session_icount(s), A);
    assert_int_equal(digest(s), after_reset); /* replay_reset gives record's machine */
    assert_int_equal(rep.count, 1);
    assert_int_equal(advance_to_end(s), SESSION_STOP_END);
    assert_int_equal(digest(s), end);
    assert_same_notices(&rec, &rep);

    /* seeks re-execute the history: nothing is told twice */
    assert_int_equal(session_seek(s, 1000), SESSION_STOP_TARGET);
    assert_int_equal(session_seek(s, A), SESSION_STOP_TARGET);
    assert_int_equal(digest(s), before_reset);
    assert_int_equal(advance_to_end(s), SESSION_STOP_END);
    assert_int_equal(digest(s), end);
    assert_same_notices(&rec, &rep);
    assert_int_equal(session_close(s), 0);
    unlink(rr);
}

static void test_requests_replay_identically(void **state)
{
    (void)state;
    check_requests_replay(false, 5000);
}

static void test_requests_replay_identically_strict(void **state)
{
    (void)state;
    check_requests_replay(true, 6000); /* a periodic checkpoint is due at 6000 too */
}

/* A reset before the first instruction: its events share icount 0 with
 * the boot's own random bytes, and replay still takes them in order. */
static void test_reset_at_icount_zero(void **state)
{
    (void)state;
    char rr[] = "/tmp/rrvm-test-requests-zero-XXXXXX";
    temp_rr(rr);
    SessionOptions o;
    base_options(&o, SESSION_RECORD, rr, "build/guest-tests/vm.elf", 1);
    o.verify_strict = true;
    int status = -1;
    Session *s = session_open(&o, &status);
    assert_non_null(s);
    request_ok(s, SESSION_REQ_RESET);
    request_ok(s, SESSION_REQ_POWERDOWN);
    assert_int_equal(advance_to(s, 3000), SESSION_STOP_TARGET);
    request_ok(s, SESSION_REQ_QUIT);
    uint64_t end = digest(s);
    assert_int_equal(session_close(s), 0);
    base_options(&o, SESSION_REPLAY, rr, NULL, 1);
    s = session_open(&o, &status);
    assert_non_null(s);
    Seen seen = { .count = 0 };
    session_set_observer(s, observe, &seen);
    assert_int_equal(advance_to_end(s), SESSION_STOP_END);
    assert_int_equal(digest(s), end);
    assert_int_equal(seen.count, 3);
    assert_int_equal(seen.n[0].icount, 0);
    assert_int_equal(seen.n[1].kind, SESSION_NOTICE_POWERDOWN);
    assert_int_equal(seen.n[2].icount, 3000);
    assert_int_equal(session_close(s), 0);
    unlink(rr);
}

/* A plain recording of vm.elf, for the replay-side tests. */
static void record_plain(char *rr)
{
    temp_rr(rr);
    SessionOptions o;
    base_options(&o, SESSION_RECORD, rr, "build/guest-tests/vm.elf", 1);
    int status = -1;
    Session *s = session_open(&o, &status);
    assert_non_null(s);
    assert_int_equal(advance_to_end(s), SESSION_STOP_EXIT);
    assert_int_equal(session_close(s), 0);
}

static void test_requests_refused_in_replay_quit_ends_it(void **state)
{
    (void)state;
    char rr[] = "/tmp/rrvm-test-requests-rp-XXXXXX";
    record_plain(rr);
    SessionOptions o;
    base_options(&o, SESSION_REPLAY, rr, NULL, 1);
    int status = -1;
    Session *s = session_open(&o, &status);
    assert_non_null(s);
    Seen seen = { .count = 0 };
    session_set_observer(s, observe, &seen);
    assert_int_equal(advance_to(s, 3000), SESSION_STOP_TARGET);
    uint64_t d = digest(s);
    char err[256] = "";
    assert_false(session_request(s, SESSION_REQ_RESET, err, sizeof err));
    assert_non_null(strstr(err, "system_reset: not while replaying"));
    assert_false(session_request(s, SESSION_REQ_POWERDOWN, err, sizeof err));
    assert_non_null(strstr(err, "system_powerdown: not while replaying"));
    assert_int_equal(digest(s), d); /* refused: the machine is untouched */
    assert_int_equal(seen.count, 0);
    /* quit: the replay ends here, status 0, the recording's end unchecked */
    assert_true(session_request(s, SESSION_REQ_QUIT, err, sizeof err));
    assert_int_equal(seen.count, 1);
    assert_int_equal(seen.n[0].kind, SESSION_NOTICE_SHUTDOWN);
    assert_string_equal(seen.reason[0], "host-qmp-quit");
    assert_int_equal(seen.n[0].icount, 3000);
    assert_int_equal(advance_to_end(s), SESSION_STOP_EXIT);
    assert_int_equal(session_icount(s), 3000);
    assert_int_equal(session_close(s), 0);

    /* the guest's own exit is noticed in record and replay alike */
    s = session_open(&o, &status);
    assert_non_null(s);
    seen.count = 0;
    session_set_observer(s, observe, &seen);
    assert_int_equal(advance_to_end(s), SESSION_STOP_END);
    assert_int_equal(seen.count, 1);
    assert_int_equal(seen.n[0].kind, SESSION_NOTICE_SHUTDOWN);
    assert_true(seen.n[0].guest);
    assert_string_equal(seen.reason[0], "guest-shutdown");
    assert_int_equal(seen.n[0].icount, session_icount(s));
    assert_int_equal(session_close(s), 0);
    unlink(rr);
}

/* --- guest resets (tests/system/data/reboot_loop.S: 7 instructions a boot) --- */

static bool build_reboot_loop(char *elf)
{
    int fd = mkstemp(elf);
    assert_true(fd >= 0);
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "riscv64-unknown-elf-gcc -nostdlib -T tests/guest/link.ld -o %s "
             "tests/system/data/reboot_loop.S", elf);
    return system(cmd) == 0;
}

static void test_guest_reset_notices(void **state)
{
    (void)state;
    char elf[] = "/tmp/rrvm-test-requests-reboot-XXXXXX";
    if (!build_reboot_loop(elf)) {
        unlink(elf);
        skip();
    }
    char rr[] = "/tmp/rrvm-test-requests-rb-XXXXXX";
    temp_rr(rr);
    SessionOptions o;
    base_options(&o, SESSION_RECORD, rr, elf, 1);
    o.checkpoint_interval = 7; /* a checkpoint due at every reset's icount */
    int status = -1;
    Session *s = session_open(&o, &status);
    assert_non_null(s);
    Seen rec = { .count = 0 };
    session_set_observer(s, observe, &rec);
    assert_int_equal(advance_to(s, 38), SESSION_STOP_TARGET);
    request_ok(s, SESSION_REQ_QUIT);
    assert_int_equal(advance_to_end(s), SESSION_STOP_EXIT);
    assert_int_equal(session_close(s), 0);
    assert_int_equal(rec.count, 6);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rec.n[i].kind, SESSION_NOTICE_RESET);
        assert_true(rec.n[i].guest);
        assert_string_equal(rec.reason[i], "guest-reset");
        assert_int_equal(rec.n[i].icount, 7 * (i + 1));
    }
    assert_string_equal(rec.reason[5], "host-qmp-quit");

    base_options(&o, SESSION_REPLAY, rr, NULL, 1);
    o.time_travel = true;
    o.checkpoint_memory = 64ull << 20;
    s = session_open(&o, &status);
    assert_non_null(s);
    Seen rep = { .count = 0 };
    session_set_observer(s, observe, &rep);
    assert_int_equal(advance_to(s, 14), SESSION_STOP_TARGET); /* before the reset at 14 */
    assert_int_equal(rep.count, 1);
    assert_int_equal(session_seek(s, 3), SESSION_STOP_TARGET);
    assert_int_equal(advance_to_end(s), SESSION_STOP_END);
    assert_same_notices(&rec, &rep);
    assert_int_equal(session_seek(s, 10), SESSION_STOP_TARGET);
    assert_int_equal(advance_to_end(s), SESSION_STOP_END);
    assert_same_notices(&rec, &rep);
    assert_int_equal(session_close(s), 0);

    /* -no-reboot: the first reset ends the run, told as a guest-reset shutdown */
    base_options(&o, SESSION_RECORD, rr, elf, 1);
    o.no_reboot = true;
    s = session_open(&o, &status);
    assert_non_null(s);
    rec.count = 0;
    session_set_observer(s, observe, &rec);
    assert_int_equal(advance_to_end(s), SESSION_STOP_EXIT);
    assert_int_equal(session_close(s), 0);
    assert_int_equal(rec.count, 1);
    assert_int_equal(rec.n[0].kind, SESSION_NOTICE_SHUTDOWN);
    assert_true(rec.n[0].guest);
    assert_string_equal(rec.reason[0], "guest-reset");
    assert_int_equal(rec.n[0].icount, 7);
    base_options(&o, SESSION_REPLAY, rr, NULL, 1);
    s = session_open(&o, &status);
    assert_non_null(s);
    rep.count = 0;
    session_set_observer(s, observe, &rep);
    assert_int_equal(advance_to_end(s), SESSION_STOP_END);
    assert_same_notices(&rec, &rep);
    assert_int_equal(session_close(s), 0);
    unlink(rr);
    unlink(elf);
}

/* --- the host-wait hook --- */

typedef struct Waiter {
    int calls;
    int yields;
} Waiter;

/* Every other call the driver "has work" at once; otherwise it sleeps the
 * whole timeout, as a poll with nothing to read would. */
static int host_wait(void *opaque, const int *fds, int nfds, uint64_t timeout_ns)
{
    Waiter *w = opaque;
    (void)fds, (void)nfds;
    if (w->calls++ % 2 == 0) {
        w->yields++;
        return 2;
    }
    struct timespec ts = { (time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull) };
    nanosleep(&ts, NULL);
    return 0;
}

static void test_host_wait_yields_and_replays(void **state)
{
    (void)state;
    char rr[] = "/tmp/rrvm-test-requests-idle-XXXXXX";
    temp_rr(rr);
    SessionOptions o;
    base_options(&o, SESSION_RECORD, rr, "build/guest-tests/idle.elf", 1);
    int status = -1;
    Session *s = session_open(&o, &status);
    assert_non_null(s);
    Waiter w = { 0, 0 };
    session_set_host_wait(s, host_wait, &w);
    SessionStop st;
    int yields = 0;
    while ((st = advance_to_end(s)) == SESSION_STOP_YIELD)
        yields++;
    assert_int_equal(st, SESSION_STOP_EXIT);
    assert_true(yields >= 5); /* the first wait of each of the 5 timers yields */
    assert_int_equal(yields, w.yields);
    uint64_t end = digest(s), icount = session_icount(s);
    assert_int_equal(session_machine(s)->exit_code, 0); /* every wait ended at its deadline or later */
    assert_int_equal(session_close(s), 0);

    base_options(&o, SESSION_REPLAY, rr, NULL, 1);
    s = session_open(&o, &status);
    assert_non_null(s);
    assert_int_equal(advance_to_end(s), SESSION_STOP_END);
    assert_int_equal(session_icount(s), icount);
    assert_int_equal(digest(s), end);
    assert_int_equal(session_close(s), 0);
    unlink(rr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_replay_identically),
        cmocka_unit_test(test_requests_replay_identically_strict),
        cmocka_unit_test(test_reset_at_icount_zero),
        cmocka_unit_test(test_requests_refused_in_replay_quit_ends_it),
        cmocka_unit_test(test_guest_reset_notices),
        cmocka_unit_test(test_host_wait_yields_and_replays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
