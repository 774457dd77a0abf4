/*
 * fuzz_qmp.c - libFuzzer harness for the QMP server's framing, parsing and
 * command dispatch (src/debug/qmp.c) against a fake server
 * (qmp_fake_server.c): arbitrary bytes from a "client", split as socket
 * reads would split them, with the machine "running" between reads so
 * events interleave with replies; a second connection gets every few
 * chunks too.
 *
 * Input: byte 0 chooses the mode (bit 0: replay, else record), the first
 * chunk size (bits 4..7), whether the second client negotiates (bit 1) and
 * whether it gets some of the chunks (bit 3 clear) or none.
 *
 * Checks: no crash, leak or undefined behaviour; every line sent is one
 * JSON object that is a greeting, a return, an error or an event with a
 * timestamp; the fake server's invariants hold; and when everything goes
 * to one client and is a plain sequence of JSON objects (as jansson reads
 * it on its own), that client gets exactly one reply per object.
 */
#include <assert.h>
#include <jansson.h>
#include <string.h>

#include "debug/qmp.h"
#include "qmp_fake_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The number of JSON objects the bytes hold when they are nothing but
 * objects and whitespace; -1 otherwise. */
static long count_objects(const uint8_t *p, size_t n)
{
    long count = 0;
    size_t pos = 0;
    for (;;) {
        while (pos < n && strchr(" \t\r\n", p[pos]) && p[pos])
            pos++;
        if (pos == n)
            return count;
        if (p[pos] != '{')
            return -1;
        json_error_t e;
        json_t *v = json_loadb((const char *)p + pos, n - pos, JSON_DISABLE_EOF_CHECK, &e);
        if (!v)
            return -1;
        json_decref(v);
        pos += (size_t)e.position;
        count++;
    }
}

/* Check the messages sent; returns how many were replies. */
static long check_output(Strbuf *out)
{
    long replies = 0;
    const char *p = sb_str(out);
    while (*p) {
        const char *nl = strstr(p, "\r\n");
        assert(nl);
        json_error_t e;
        json_t *m = json_loadb(p, (size_t)(nl - p), 0, &e);
        assert(m && json_is_object(m));
        int kinds = !!json_object_get(m, "QMP") + !!json_object_get(m, "return") + !!json_object_get(m, "error") +
                    !!json_object_get(m, "event");
        assert(kinds == 1);
        if (json_object_get(m, "event"))
            assert(json_is_object(json_object_get(m, "timestamp")));
        if (json_object_get(m, "error")) {
            json_t *err = json_object_get(m, "error");
            assert(json_is_string(json_object_get(err, "class")) && json_is_string(json_object_get(err, "desc")));
        }
        replies += json_object_get(m, "return") || json_object_get(m, "error");
        json_decref(m);
        p = nl + 2;
    }
    sb_clear(out);
    return replies;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    Server *sv = qmp_fake_reset(mode & 1 ? SESSION_REPLAY : SESSION_RECORD, 1 + (mode >> 2 & 3));
    QmpServer *q = qmp_server_new(sv);
    assert(q);
    QmpConn *a = qmp_conn_open(q), *b = qmp_conn_open(q);
    assert(a && b);
    if (mode & 2) {
        static const char neg[] = "{\"execute\": \"qmp_capabilities\"}";
        qmp_conn_input(b, (const uint8_t *)neg, sizeof neg - 1);
    }
    bool only_a = mode & 8;
    long expect = only_a ? count_objects(data + 1, size - 1) : -1, replies = 0;
    size_t pos = 1, chunk = 1 + (mode >> 4), round = 0;
    while (pos < size) {
        size_t n = size - pos < chunk ? size - pos : chunk;
        qmp_conn_input(round % 4 == 3 && !only_a ? b : a, data + pos, n);
        pos += n;
        chunk = chunk * 3 + 1;
        round++;
        qmp_fake_run(100000);
        replies += check_output(qmp_conn_output(a));
        check_output(qmp_conn_output(b));
        assert(qmp_fake_check());
    }
    if (expect >= 0)
        assert(replies == expect);
    qmp_conn_close(a);
    qmp_server_free(q); /* closes b */
    return 0;
}
