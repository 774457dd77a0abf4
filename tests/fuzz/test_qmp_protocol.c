/*
 * test_qmp_protocol.c - QMP protocol tests (src/debug/qmp.c) against the
 * fake server (qmp_fake_server.c), without sockets: the greeting, QEMU's
 * negotiation errors, id echo, framing (values split over reads, several
 * in one read, malformed, oversized), argument checks, commands and events.
 *
 * Lives beside the fuzzer because it links the fake server, which must
 * never meet the real src/debug/server.c in the unit tests' link. Built and
 * run by scripts/run-qmp-protocol-test (make unit-test).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "debug/qmp.h"
#include "qmp_fake_server.h"

typedef struct T {
    QmpServer *q;
    QmpConn *c;
} T;

/* Every message sent so far, as a JSON array; the output is emptied. */
static json_t *take(QmpConn *c)
{
    Strbuf *out = qmp_conn_output(c);
    json_t *all = json_array();
    const char *p = sb_str(out);
    while (*p) {
        const char *nl = strstr(p, "\r\n");
        assert_non_null(nl);
        json_error_t e;
        json_t *m = json_loadb(p, (size_t)(nl - p), 0, &e);
        assert_non_null(m);
        json_array_append_new(all, m);
        p = nl + 2;
    }
    sb_clear(out);
    return all;
}

static void send_text(QmpConn *c, const char *s) { qmp_conn_input(c, (const uint8_t *)s, strlen(s)); }

/* Send one request; its only reply (events are dropped). */
static json_t *ask(QmpConn *c, const char *req)
{
    send_text(c, req);
    json_t *all = take(c), *reply = NULL, *m;
    size_t i;
    json_array_foreach(all, i, m) {
        if (!json_object_get(m, "event")) {
            assert_null(reply);
            reply = json_incref(m);
        }
    }
    json_decref(all);
    assert_non_null(reply);
    return reply;
}

static void assert_error(json_t *r, const char *cls, const char *desc)
{
    json_t *e = json_object_get(r, "error");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "class")), cls);
    if (desc)
        assert_string_equal(json_string_value(json_object_get(e, "desc")), desc);
    json_decref(r);
}

static void assert_ok(json_t *r)
{
    assert_non_null(json_object_get(r, "return"));
    json_decref(r);
}

static int setup_mode(void **state, SessionMode mode)
{
    static T t;
    t.q = qmp_server_new(qmp_fake_reset(mode, 2));
    assert_non_null(t.q);
    t.c = qmp_conn_open(t.q);
    *state = &t;
    return 0;
}

static int setup_replay(void **state) { return setup_mode(state, SESSION_REPLAY); }
static int setup_record(void **state) { return setup_mode(state, SESSION_RECORD); }

static int teardown(void **state)
{
    T *t = *state;
    qmp_server_free(t->q);
    return 0;
}

static void negotiate(T *t)
{
    json_decref(take(t->c)); /* the greeting */
    assert_ok(ask(t->c, "{\"execute\": \"qmp_capabilities\"}"));
}

static void test_greeting(void **state)
{
    T *t = *state;
    char *s = strdup(sb_str(qmp_conn_output(t->c)));
    assert_string_equal(s, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 0}, "
                           "\"package\": \"rrvm 0.2.0\"}, \"capabilities\": []}}\r\n");
    free(s);
}

static void test_negotiation(void **state)
{
    T *t = *state;
    json_decref(take(t->c));
    assert_error(ask(t->c, "{\"execute\": \"query-status\"}"), "CommandNotFound",
                 "Expecting capabilities negotiation with 'qmp_capabilities'");
    assert_error(ask(t->c, "{\"execute\": \"no-such\"}"), "CommandNotFound",
                 "Expecting capabilities negotiation with 'qmp_capabilities'");
    assert_error(ask(t->c, "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}}"),
                 "GenericError", "Capability 'oob' not available");
    assert_ok(ask(t->c, "{\"execute\": \"qmp_capabilities\"}"));
    assert_error(ask(t->c, "{\"execute\": \"qmp_capabilities\"}"), "CommandNotFound",
                 "Capabilities negotiation is already complete, command ignored");
    assert_ok(ask(t->c, "{\"execute\": \"query-status\"}"));
}

static void test_id_echo(void **state)
{
    T *t = *state;
    negotiate(t);
    json_t *r = ask(t->c, "{\"execute\": \"query-name\", \"id\": {\"a\": [1, \"x\"]}}");
    json_t *want = json_pack("{s:[i,s]}", "a", 1, "x");
    assert_true(json_equal(json_object_get(r, "id"), want));
    json_decref(want);
    json_decref(r);
    /* a long name cut inside a UTF-8 character still makes a valid error */
    char req[2048] = "{\"execute\": \"";
    for (int i = 0; i < 300; i++)
        strcat(req, "\xc3\xa9");
    strcat(req, "\"}");
    r = ask(t->c, req);
    assert_error(r, "CommandNotFound", NULL);
    r = ask(t->c, "{\"execute\": \"nope\", \"id\": 7}");
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
    assert_error(r, "CommandNotFound", "The command nope has not been found");
}

static void test_malformed_then_good(void **state)
{
    T *t = *state;
    negotiate(t);
    send_text(t->c, "{\"execute\": bad}\n{\"execute\": \"query-name\", \"id\": 2}\n");
    json_t *all = take(t->c);
    assert_int_equal(json_array_size(all), 2);
    json_t *e = json_object_get(json_array_get(all, 0), "error");
    assert_string_equal(json_string_value(json_object_get(e, "class")), "GenericError");
    assert_memory_equal(json_string_value(json_object_get(e, "desc")), "JSON parse error, ", 18);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(all, 1), "id")), 2);
    json_decref(all);
    assert_error(ask(t->c, "[1, 2]"), "GenericError", "QMP input must be a JSON object");
    assert_error(ask(t->c, "}"), "GenericError", NULL);
    assert_error(ask(t->c, "{}"), "GenericError", "QMP input lacks member 'execute'");
    assert_error(ask(t->c, "{\"execute\": 1}"), "GenericError", "QMP input member 'execute' must be a string");
    assert_error(ask(t->c, "{\"execute\": \"stop\", \"arguments\": 1}"), "GenericError",
                 "QMP input member 'arguments' must be an object");
    assert_error(ask(t->c, "{\"execute\": \"stop\", \"foo\": 1}"), "GenericError",
                 "QMP input member 'foo' is unexpected");
    assert_ok(ask(t->c, "{\"execute\": \"query-status\"}"));
}

static void test_oversized(void **state)
{
    T *t = *state;
    negotiate(t);
    size_t n = QMP_MAX_MESSAGE + 1000;
    char *big = malloc(n + 64);
    strcpy(big, "{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"");
    size_t len = strlen(big);
    memset(big + len, 'a', n - len);
    strcpy(big + n, "\"}}\n");
    /* in pieces: one error when the cap is passed, nothing for the rest */
    for (size_t off = 0; off < n + 4; off += 100000) {
        size_t k = n + 4 - off < 100000 ? n + 4 - off : 100000;
        qmp_conn_input(t->c, (const uint8_t *)big + off, k);
    }
    free(big);
    json_t *all = take(t->c);
    assert_int_equal(json_array_size(all), 1);
    assert_error(json_incref(json_array_get(all, 0)), "GenericError", NULL);
    json_decref(all);
    assert_ok(ask(t->c, "{\"execute\": \"query-status\"}"));
}

static void test_args(void **state)
{
    T *t = *state;
    negotiate(t);
    assert_error(ask(t->c, "{\"execute\": \"replay-break\", \"arguments\": {\"icount\": \"x\"}}"), "GenericError",
                 "Invalid parameter type for 'icount', expected: integer");
    assert_error(ask(t->c, "{\"execute\": \"replay-break\"}"), "GenericError", "Parameter 'icount' is missing");
    assert_error(ask(t->c, "{\"execute\": \"replay-break\", \"arguments\": {\"icount\": 5, \"x\": 1}}"),
                 "GenericError", "Parameter 'x' is unexpected");
    assert_error(ask(t->c, "{\"execute\": \"replay-break\", \"arguments\": {\"icount\": -5}}"), "GenericError",
                 NULL);
    assert_error(ask(t->c, "{\"execute\": \"stop\", \"arguments\": {\"x\": 1}}"), "GenericError",
                 "Parameter 'x' is unexpected");
    assert_error(ask(t->c, "{\"execute\": \"input-send-event\", \"arguments\": {\"events\": [{\"type\": \"key\", "
                           "\"data\": {\"down\": 1, \"key\": {\"type\": \"qcode\", \"data\": \"a\"}}}]}}"),
                 "GenericError", "Invalid parameter type for 'events[0].data.down', expected: boolean");
    assert_error(ask(t->c, "{\"execute\": \"input-send-event\", \"arguments\": {\"events\": [{\"type\": \"key\", "
                           "\"data\": {\"down\": true, \"key\": {\"type\": \"qcode\", \"data\": \"a\"}}}]}}"),
                 "GenericError", "no input device on this machine");
}

static void test_two_in_one_read_and_split(void **state)
{
    T *t = *state;
    negotiate(t);
    send_text(t->c, "{\"execute\": \"query-name\", \"id\": 1}{\"execute\": \"query-kvm\", \"id\": 2}");
    json_t *all = take(t->c);
    assert_int_equal(json_array_size(all), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(all, 1), "id")), 2);
    assert_false(json_is_true(json_object_get(json_object_get(json_array_get(all, 1), "return"), "present")));
    json_decref(all);
    const char *req = "  {\"execute\": \"query-version\", \"id\": \"a\\\"}\"}\n";
    size_t n = strlen(req);
    for (size_t i = 0; i + 2 < n; i++) { /* all but the closing brace and newline */
        qmp_conn_input(t->c, (const uint8_t *)req + i, 1);
        json_t *none = take(t->c);
        assert_int_equal(json_array_size(none), 0);
        json_decref(none);
    }
    json_t *r = ask(t->c, req + n - 2);
    assert_string_equal(json_string_value(json_object_get(r, "id")), "a\"}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "return"), "package")), "rrvm 0.2.0");
    json_decref(r);
}

/* Collect the names of the events in a message array. */
static void event_names(json_t *all, char *buf, size_t len)
{
    size_t i;
    json_t *m;
    buf[0] = 0;
    json_array_foreach(all, i, m) {
        const char *e = json_string_value(json_object_get(m, "event"));
        if (e)
            snprintf(buf + strlen(buf), len - strlen(buf), "%s ", e);
    }
}

static void test_replay_session(void **state)
{
    T *t = *state;
    QmpConn *other = qmp_conn_open(t->q); /* never negotiates: no events */
    negotiate(t);
    json_t *r = ask(t->c, "{\"execute\": \"query-status\"}");
    assert_false(json_is_true(json_object_get(json_object_get(r, "return"), "running")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "return"), "status")), "paused");
    json_decref(r);
    assert_ok(ask(t->c, "{\"execute\": \"replay-break\", \"arguments\": {\"icount\": 1000}}"));
    assert_ok(ask(t->c, "{\"execute\": \"replay-break\", \"arguments\": {\"icount\": 2000}}"));
    send_text(t->c, "{\"execute\": \"cont\"}");
    qmp_fake_run(5000);
    char names[256];
    json_t *all = take(t->c);
    event_names(all, names, sizeof names);
    assert_string_equal(names, "RESUME STOP RRVM_REPLAY_BREAK ");
    json_decref(all);
    r = ask(t->c, "{\"execute\": \"query-replay\"}");
    json_t *ret = json_object_get(r, "return");
    assert_string_equal(json_string_value(json_object_get(ret, "mode")), "play");
    assert_string_equal(json_string_value(json_object_get(ret, "filename")), "fake.rr");
    assert_int_equal(json_integer_value(json_object_get(ret, "icount")), 1000);
    json_decref(r);
    r = ask(t->c, "{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info registers\"}}");
    assert_non_null(strstr(json_string_value(json_object_get(r, "return")), "pc"));
    json_decref(r);
    r = ask(t->c, "{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"x\"}}");
    assert_non_null(strstr(json_string_value(json_object_get(r, "return")), "??"));
    json_decref(r);
    assert_error(ask(t->c, "{\"execute\": \"system_reset\"}"), "GenericError", "a replay cannot change the guest");
    assert_ok(ask(t->c, "{\"execute\": \"replay-delete-break\"}"));
    send_text(t->c, "{\"execute\": \"cont\"}");
    qmp_fake_run(UINT64_MAX);
    all = take(t->c);
    event_names(all, names, sizeof names);
    assert_string_equal(names, "RESUME STOP RRVM_REPLAY_END ");
    json_decref(all);
    r = ask(t->c, "{\"execute\": \"query-cpus-fast\"}");
    assert_int_equal(json_array_size(json_object_get(r, "return")), 2);
    json_decref(r);
    send_text(t->c, "{\"execute\": \"quit\", \"id\": 9}");
    all = take(t->c);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(all, 0), "id")), 9);
    json_decref(all);
    assert_true(qmp_fake_quit_requested());
    all = take(other);
    assert_int_equal(json_array_size(all), 1); /* the greeting only */
    json_decref(all);
}

static void test_record_events(void **state)
{
    T *t = *state;
    negotiate(t);
    QmpConn *second = qmp_conn_open(t->q);
    json_decref(take(second));
    assert_ok(ask(second, "{\"execute\": \"qmp_capabilities\"}"));
    assert_ok(ask(t->c, "{\"execute\": \"system_reset\"}")); /* ask() drops the event */
    json_t *all = take(second);
    json_t *ev = json_array_get(all, 0);
    assert_string_equal(json_string_value(json_object_get(ev, "event")), "RESET");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "data"), "reason")),
                        "host-qmp-system-reset");
    assert_non_null(json_object_get(json_object_get(ev, "timestamp"), "microseconds"));
    json_decref(all);
    json_t *r = ask(t->c, "{\"execute\": \"query-replay\"}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "return"), "mode")), "record");
    json_decref(r);
    assert_error(ask(t->c, "{\"execute\": \"replay-seek\", \"arguments\": {\"icount\": 1}}"), "GenericError",
                 "not a replay");
    qmp_conn_close(second);
}

static void test_query_commands_lists_table(void **state)
{
    T *t = *state;
    negotiate(t);
    json_t *r = ask(t->c, "{\"execute\": \"query-commands\"}");
    json_t *list = json_object_get(r, "return"), *m;
    size_t i, found = 0;
    json_array_foreach(list, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        char req[128];
        snprintf(req, sizeof req, "{\"execute\": \"%s\", \"arguments\": {\"zz\": 0}}", name);
        json_t *e = ask(t->c, req); /* every listed command exists: only the argument is wrong */
        assert_string_equal(json_string_value(json_object_get(json_object_get(e, "error"), "class")),
                            "GenericError");
        json_decref(e);
        found += !strcmp(name, "replay-seek") + !strcmp(name, "human-monitor-command");
    }
    assert_int_equal(found, 2);
    json_decref(r);
}

/* --- over real sockets: specs, listeners, accept, hang-ups --- */

static int connect_unix(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Read one CRLF-terminated message (the loop dispatching meanwhile). */
static json_t *read_msg(Evloop *l, int fd)
{
    char buf[4096];
    size_t n = 0;
    while (n < 2 || buf[n - 2] != '\r' || buf[n - 1] != '\n') {
        evloop_run_once(l, 0);
        ssize_t k = recv(fd, buf + n, 1, MSG_DONTWAIT);
        if (k == 1)
            n++;
        else
            usleep(1000);
        assert_true(n < sizeof buf);
    }
    json_error_t e;
    json_t *m = json_loadb(buf, n, 0, &e);
    assert_non_null(m);
    return m;
}

static void test_sockets(void **state)
{
    char dir[] = "/tmp/qmp-test-XXXXXX", path[64], spec[128], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/q.sock", dir);
    Server *sv = qmp_fake_reset(SESSION_RECORD, 1);
    Evloop *l = server_loop(sv);
    QmpServer *q = qmp_server_new(sv);
    assert_false(qmp_server_add(q, "tcp:0.0.0.0:0,server=on,wait=off", false, err, sizeof err));
    assert_non_null(strstr(err, "--allow-remote-monitor"));
    assert_false(qmp_server_add(q, "unix:/x,wait=off", false, err, sizeof err));
    assert_false(qmp_server_add(q, "unix:/x,server,bogus", false, err, sizeof err));
    assert_true(qmp_server_add(q, "tcp:127.0.0.1:0,server,nowait", false, err, sizeof err));
    snprintf(spec, sizeof spec, "unix:%s,server=on,wait=off", path);
    assert_true(qmp_server_add(q, spec, false, err, sizeof err));
    int a = connect_unix(path), b = connect_unix(path);
    json_t *g = read_msg(l, a);
    assert_non_null(json_object_get(g, "QMP"));
    json_decref(g);
    json_decref(read_msg(l, b));
    const char *neg = "{\"execute\": \"qmp_capabilities\"}";
    assert_int_equal(write(a, neg, strlen(neg)), strlen(neg));
    json_decref(read_msg(l, a));
    assert_int_equal(write(b, neg, strlen(neg)), strlen(neg));
    json_decref(read_msg(l, b));
    close(b); /* a hang-up drops that client only */
    for (int i = 0; i < 5; i++)
        evloop_run_once(l, 10);
    const char *reset = "{\"execute\": \"system_reset\"}";
    assert_int_equal(write(a, reset, strlen(reset)), strlen(reset));
    json_t *m1 = read_msg(l, a), *m2 = read_msg(l, a); /* the event and the return, in either order */
    json_t *ev = json_object_get(m1, "event") ? m1 : m2, *r = ev == m1 ? m2 : m1;
    assert_string_equal(json_string_value(json_object_get(ev, "event")), "RESET");
    assert_non_null(json_object_get(r, "return"));
    json_decref(m1);
    json_decref(m2);
    close(a);
    evloop_run_once(l, 10);
    qmp_server_free(q);
    assert_int_equal(access(path, F_OK), -1); /* the socket file is gone */
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_greeting, setup_replay, teardown),
        cmocka_unit_test_setup_teardown(test_negotiation, setup_replay, teardown),
        cmocka_unit_test_setup_teardown(test_id_echo, setup_replay, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_then_good, setup_replay, teardown),
        cmocka_unit_test_setup_teardown(test_oversized, setup_replay, teardown),
        cmocka_unit_test_setup_teardown(test_args, setup_replay, teardown),
        cmocka_unit_test_setup_teardown(test_two_in_one_read_and_split, setup_replay, teardown),
        cmocka_unit_test_setup_teardown(test_replay_session, setup_replay, teardown),
        cmocka_unit_test_setup_teardown(test_record_events, setup_record, teardown),
        cmocka_unit_test_setup_teardown(test_query_commands_lists_table, setup_replay, teardown),
        cmocka_unit_test(test_sockets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
