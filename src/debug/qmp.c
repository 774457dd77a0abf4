/*
 * qmp.c - the QEMU Machine Protocol server (see qmp.h): listeners from
 * -qmp specs, connections registered in the server's event loop, a JSON
 * framer per connection, a table of commands (also what query-commands
 * lists) and server events turned into QMP events.
 *
 * Framing: a connection buffers input and scans it for the end of one JSON
 * value (brackets counted outside strings; a bare token ends at a
 * delimiter), then parses exactly that value with jansson. So a malformed
 * value costs one error and the stream resynchronises right after it, and
 * one value split over many reads or many values in one read need nothing
 * special. A value longer than QMP_MAX_MESSAGE gets one error and the rest
 * of it is discarded as it arrives (the scan goes on; the connection stays).
 *
 * Writes: blocking (hostsock_write_all) on a socket with a send timeout of
 * QMP_SEND_TIMEOUT_S; a client that does not read for that long while its
 * socket buffer is full is dropped. The evloop only watches readability, so
 * there is no output queue: a reply or event is on its way when emit()
 * returns.
 *
 * Invariants:
 *  - A connection is freed only when no call is working on it (busy == 0):
 *    a drop during a command or an event broadcast marks it dead, closes
 *    the socket, and the reaper frees it later.
 *  - Commands reach the machine only through server.h and monitor.h.
 */
#include "qmp.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "debug/monitor.h"
#include "host/hostsock.h"
#include "machine/machine.h"

#define QMP_MAX_LISTENERS 8
#define QMP_SEND_TIMEOUT_S 5
#define QMP_READ_CHUNK 4096

typedef struct QmpListener {
    int fd;
    char *unix_path; /* the socket file we created, unlinked at the end */
} QmpListener;

enum { SCAN_IDLE, SCAN_CONTAINER, SCAN_STRING, SCAN_TOKEN };

struct QmpConn {
    QmpServer *q;
    QmpConn *next;
    int fd;            /* -1: no socket (tests, fuzzing) */
    bool negotiated;   /* qmp_capabilities done: commands and events */
    bool dead;         /* dropped; freed by the reaper once not busy */
    int busy;
    /* input: in[head..in_len) not consumed yet, in[head..scan) scanned */
    uint8_t *in;
    size_t in_len, in_cap, head, scan;
    int kind;          /* SCAN_*: what the value being scanned is */
    size_t depth;      /* SCAN_CONTAINER: open brackets */
    bool in_str, esc;
    bool skipping;     /* an oversized value: its bytes are discarded */
    Strbuf out;
};

struct QmpServer {
    Server *sv;
    QmpListener l[QMP_MAX_LISTENERS];
    int nl;
    QmpConn *conns;
    bool events; /* registered with server_listen_events */
};

/* ---------------------------------------------------------------- output */

static void conn_drop(QmpConn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    if (c->fd >= 0) {
        evloop_remove(server_loop(c->q->sv), c->fd);
        close(c->fd);
        c->fd = -1;
    }
}

static void conn_flush(QmpConn *c)
{
    if (c->fd < 0 || !c->out.len)
        return;
    if (!hostsock_write_all(c->fd, c->out.buf, c->out.len))
        conn_drop(c);
    sb_clear(&c->out);
}

/* Send one message (consumes the reference to msg). */
static void emit(QmpConn *c, json_t *msg)
{
    char *text = msg ? json_dumps(msg, JSON_PRESERVE_ORDER) : NULL;
    json_decref(msg);
    if (c->dead) {
        free(text);
        return;
    }
    if (!text) {
        sb_puts(&c->out, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"out of memory\"}}\r\n");
    } else {
        sb_puts(&c->out, text);
        sb_puts(&c->out, "\r\n");
        free(text);
    }
    conn_flush(c);
}

/* Text cut by snprintf may end inside a UTF-8 sequence, which jansson
 * refuses: drop the partial character. */
static void utf8_trim(char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n + 1 < cap)
        return; /* not cut */
    while (n && (unsigned char)s[n - 1] >= 0x80)
        s[--n] = 0;
}

/* An error message; a desc that is not UTF-8 (a server's text quoting
 * bytes) has its non-ASCII bytes shown as '?'. */
static json_t *error_obj(const char *cls, const char *desc)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "class", cls, "desc", desc);
    char ascii[512];
    if (j)
        return j;
    snprintf(ascii, sizeof ascii, "%s", desc);
    for (char *p = ascii; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    return json_pack("{s:{s:s,s:s}}", "error", "class", cls, "desc", ascii);
}

/* Attach the request's id (if any) and send. */
static void emit_with_id(QmpConn *c, json_t *msg, json_t *id)
{
    if (msg && id)
        json_object_set(msg, "id", id);
    emit(c, msg);
}

static void emit_error(QmpConn *c, json_t *id, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void emit_error(QmpConn *c, json_t *id, const char *cls, const char *fmt, ...)
{
    char desc[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(desc, sizeof desc, fmt, ap);
    va_end(ap);
    utf8_trim(desc, sizeof desc);
    emit_with_id(c, error_obj(cls, desc), id);
}

static json_t *version_obj(void)
{
    int major = 0, minor = 0, micro = 0;
    sscanf(RRVM_VERSION, "%d.%d.%d", &major, &minor, &micro);
    return json_pack("{s:{s:i,s:i,s:i},s:s}", "qemu", "micro", micro, "minor", minor, "major", major,
                     "package", "rrvm " RRVM_VERSION);
}

/* ------------------------------------------------------------- commands */

typedef enum QmpType { QT_INT, QT_STR, QT_BOOL, QT_ARRAY } QmpType;

static const char *const type_names[] = { "integer", "string", "boolean", "array" };

typedef struct QmpArg {
    const char *name; /* NULL ends the list */
    QmpType type;
    bool optional;
} QmpArg;

/* What a handler produces: a return value, or an error (cls set). */
typedef struct QmpReply {
    json_t *ret;       /* NULL: {} */
    const char *cls;   /* error class; NULL: success */
    char desc[512];
    bool quit_after;   /* quit: end the session once the reply is sent */
} QmpReply;

typedef void (*QmpFn)(QmpConn *c, json_t *args, QmpReply *r);

#define QMP_MAX_ARGS 4
typedef struct QmpCommand {
    const char *name;
    QmpFn fn;
    QmpArg args[QMP_MAX_ARGS];
} QmpCommand;

static void fail(QmpReply *r, const char *cls, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(QmpReply *r, const char *cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->desc, sizeof r->desc, fmt, ap);
    va_end(ap);
    utf8_trim(r->desc, sizeof r->desc);
    r->cls = cls;
}

/* A server_* call's outcome: false means its err text is the error. */
static void server_result(QmpReply *r, bool ok, const char *err)
{
    if (!ok)
        fail(r, "GenericError", "%s", err[0] ? err : "failed");
}

/* A non-negative integer argument (the schema said integer). */
static bool get_u64(json_t *args, const char *name, uint64_t *v, QmpReply *r)
{
    json_int_t i = json_integer_value(json_object_get(args, name));
    if (i < 0) {
        fail(r, "GenericError", "Parameter '%s' expects a non-negative integer", name);
        return false;
    }
    *v = (uint64_t)i;
    return true;
}

static void cmd_qmp_capabilities(QmpConn *c, json_t *args, QmpReply *r)
{
    if (c->negotiated) {
        fail(r, "CommandNotFound", "Capabilities negotiation is already complete, command ignored");
        return;
    }
    json_t *en = json_object_get(args, "enable");
    size_t i;
    json_t *v;
    json_array_foreach(en, i, v) {
        if (!json_is_string(v)) {
            fail(r, "GenericError", "Invalid parameter type for 'enable[%zu]', expected: string", i);
            return;
        }
        fail(r, "GenericError", "Capability '%s' not available", json_string_value(v));
        return;
    }
    c->negotiated = true;
}

static void cmd_query_version(QmpConn *c, json_t *args, QmpReply *r) { r->ret = version_obj(); }

static void cmd_query_commands(QmpConn *c, json_t *args, QmpReply *r);

static void cmd_query_status(QmpConn *c, json_t *args, QmpReply *r)
{
    Server *sv = c->q->sv;
    r->ret = json_pack("{s:b,s:b,s:s}", "running", server_running(sv), "singlestep", 0,
                       "status", server_status_name(sv));
}

static void cmd_stop(QmpConn *c, json_t *args, QmpReply *r) { server_stop(c->q->sv, STOP_USER); }

static void cmd_cont(QmpConn *c, json_t *args, QmpReply *r)
{
    char err[256] = "";
    server_result(r, server_cont(c->q->sv, err, sizeof err), err);
}

static void cmd_system_reset(QmpConn *c, json_t *args, QmpReply *r)
{
    char err[256] = "";
    server_result(r, server_system_reset(c->q->sv, err, sizeof err), err);
}

static void cmd_system_powerdown(QmpConn *c, json_t *args, QmpReply *r)
{
    char err[256] = "";
    server_result(r, server_system_powerdown(c->q->sv, err, sizeof err), err);
}

static void cmd_quit(QmpConn *c, json_t *args, QmpReply *r) { r->quit_after = true; }

static void cmd_query_replay(QmpConn *c, json_t *args, QmpReply *r)
{
    Server *sv = c->q->sv;
    SessionMode mode = session_mode(server_session(sv));
    /* QEMU's ReplayMode names */
    const char *name = mode == SESSION_RECORD ? "record" : mode == SESSION_REPLAY ? "play" : "none";
    r->ret = json_pack("{s:s}", "mode", name);
    const char *path = mode != SESSION_RUN ? server_recording_path(sv) : NULL;
    if (r->ret && path)
        json_object_set_new(r->ret, "filename", json_string(path));
    if (r->ret)
        json_object_set_new(r->ret, "icount", json_integer((json_int_t)server_icount(sv)));
}

static void cmd_replay_break(QmpConn *c, json_t *args, QmpReply *r)
{
    uint64_t ic;
    char err[256] = "";
    if (get_u64(args, "icount", &ic, r))
        server_result(r, server_break_add(c->q->sv, ic, err, sizeof err), err);
}

/* Without icount: delete every break; none is fine (as QEMU's). */
static void cmd_replay_delete_break(QmpConn *c, json_t *args, QmpReply *r)
{
    uint64_t ic = 0;
    bool all = !json_object_get(args, "icount");
    char err[256] = "";
    if (all && server_breaks(c->q->sv, &ic, 0) == 0)
        return;
    if (all || get_u64(args, "icount", &ic, r))
        server_result(r, server_break_delete(c->q->sv, ic, all, err, sizeof err), err);
}

static void cmd_replay_seek(QmpConn *c, json_t *args, QmpReply *r)
{
    uint64_t ic;
    char err[256] = "";
    if (get_u64(args, "icount", &ic, r))
        server_result(r, server_seek(c->q->sv, ic, err, sizeof err), err);
}

/* A JSON string of text that may hold bytes that are not UTF-8 (memory
 * dumps): those become '?'. */
static json_t *text_string(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *t = malloc(n + 1);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++)
        t[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    j = json_stringn(t, n);
    free(t);
    return j;
}

static void cmd_human_monitor_command(QmpConn *c, json_t *args, QmpReply *r)
{
    json_t *cpu = json_object_get(args, "cpu-index");
    Machine *m = server_machine(c->q->sv);
    if (cpu && (json_integer_value(cpu) < 0 || !m || json_integer_value(cpu) >= m->nharts)) {
        fail(r, "GenericError", "CPU %lld is not present", (long long)json_integer_value(cpu));
        return;
    }
    Strbuf out;
    sb_init(&out);
    monitor_exec(c->q->sv, json_string_value(json_object_get(args, "command-line")), &out);
    r->ret = text_string(sb_str(&out), out.len);
    sb_free(&out);
}

static void cmd_query_cpus_fast(QmpConn *c, json_t *args, QmpReply *r)
{
    Machine *m = server_machine(c->q->sv);
    int n = m ? m->nharts : 0;
    r->ret = json_array();
    for (int i = 0; i < n && r->ret; i++) {
        char path[64];
        snprintf(path, sizeof path, "/machine/soc0/harts/hart[%d]", i);
        json_array_append_new(r->ret, json_pack("{s:i,s:s,s:i,s:{s:i,s:i,s:i},s:s}", "cpu-index", i,
                                                "qom-path", path, "thread-id", (int)getpid(), "props",
                                                "core-id", i, "socket-id", 0, "thread-id", 0,
                                                "target", "riscv"));
    }
}

/* input-send-event's events: QEMU's InputEvent union, checked for shape. */
static bool check_member(json_t *o, const char *path, const char *key, json_type want, const char *tname,
                         QmpReply *r)
{
    json_t *v = json_object_get(o, key);
    bool ok = v && (json_typeof(v) == want || (want == JSON_TRUE && json_is_boolean(v)));
    if (!v)
        fail(r, "GenericError", "Parameter '%s.%s' is missing", path, key);
    else if (!ok)
        fail(r, "GenericError", "Invalid parameter type for '%s.%s', expected: %s", path, key, tname);
    return ok;
}

static bool check_input_event(json_t *ev, size_t i, QmpReply *r)
{
    char path[64], dpath[80];
    snprintf(path, sizeof path, "events[%zu]", i);
    snprintf(dpath, sizeof dpath, "%s.data", path);
    if (!json_is_object(ev)) {
        fail(r, "GenericError", "Invalid parameter type for '%s', expected: object", path);
        return false;
    }
    if (!check_member(ev, path, "type", JSON_STRING, "string", r) ||
        !check_member(ev, path, "data", JSON_OBJECT, "object", r))
        return false;
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *d = json_object_get(ev, "data");
    if (!strcmp(type, "key")) {
        if (!check_member(d, dpath, "down", JSON_TRUE, "boolean", r) ||
            !check_member(d, dpath, "key", JSON_OBJECT, "object", r))
            return false;
        char kpath[96];
        snprintf(kpath, sizeof kpath, "%s.key", dpath);
        json_t *k = json_object_get(d, "key");
        if (!check_member(k, kpath, "type", JSON_STRING, "string", r))
            return false;
        const char *kt = json_string_value(json_object_get(k, "type"));
        if (!strcmp(kt, "number"))
            return check_member(k, kpath, "data", JSON_INTEGER, "integer", r);
        if (!strcmp(kt, "qcode"))
            return check_member(k, kpath, "data", JSON_STRING, "string", r);
        fail(r, "GenericError", "Parameter '%s.type' does not accept value '%s'", kpath, kt);
        return false;
    }
    if (!strcmp(type, "btn"))
        return check_member(d, dpath, "down", JSON_TRUE, "boolean", r) &&
               check_member(d, dpath, "button", JSON_STRING, "string", r);
    if (!strcmp(type, "rel") || !strcmp(type, "abs"))
        return check_member(d, dpath, "axis", JSON_STRING, "string", r) &&
               check_member(d, dpath, "value", JSON_INTEGER, "integer", r);
    fail(r, "GenericError", "Parameter '%s.type' does not accept value '%s'", path, type);
    return false;
}

static void cmd_input_send_event(QmpConn *c, json_t *args, QmpReply *r)
{
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(args, "events"), i, ev) {
        if (!check_input_event(ev, i, r))
            return;
    }
    fail(r, "GenericError", "no input device on this machine");
}

static void cmd_x_rrvm_go_live(QmpConn *c, json_t *args, QmpReply *r)
{
    char err[256] = "";
    const char *file = json_string_value(json_object_get(args, "file"));
    server_result(r, server_go_live(c->q->sv, file, err, sizeof err), err);
}

static void cmd_query_name(QmpConn *c, json_t *args, QmpReply *r) { r->ret = json_object(); }

static void cmd_query_kvm(QmpConn *c, json_t *args, QmpReply *r)
{
    r->ret = json_pack("{s:b,s:b}", "enabled", 0, "present", 0);
}

static const QmpCommand commands[] = {
    { "qmp_capabilities", cmd_qmp_capabilities, { { "enable", QT_ARRAY, true } } },
    { "query-version", cmd_query_version, { { 0 } } },
    { "query-commands", cmd_query_commands, { { 0 } } },
    { "query-status", cmd_query_status, { { 0 } } },
    { "query-name", cmd_query_name, { { 0 } } },
    { "query-kvm", cmd_query_kvm, { { 0 } } },
    { "query-cpus-fast", cmd_query_cpus_fast, { { 0 } } },
    { "stop", cmd_stop, { { 0 } } },
    { "cont", cmd_cont, { { 0 } } },
    { "system_reset", cmd_system_reset, { { 0 } } },
    { "system_powerdown", cmd_system_powerdown, { { 0 } } },
    { "quit", cmd_quit, { { 0 } } },
    { "query-replay", cmd_query_replay, { { 0 } } },
    { "replay-break", cmd_replay_break, { { "icount", QT_INT, false } } },
    { "replay-delete-break", cmd_replay_delete_break, { { "icount", QT_INT, true } } },
    { "replay-seek", cmd_replay_seek, { { "icount", QT_INT, false } } },
    { "human-monitor-command", cmd_human_monitor_command,
      { { "command-line", QT_STR, false }, { "cpu-index", QT_INT, true } } },
    { "input-send-event", cmd_input_send_event,
      { { "device", QT_STR, true }, { "head", QT_INT, true }, { "events", QT_ARRAY, false } } },
    { "x-rrvm-go-live", cmd_x_rrvm_go_live, { { "file", QT_STR, true } } },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void cmd_query_commands(QmpConn *c, json_t *args, QmpReply *r)
{
    r->ret = json_array();
    for (size_t i = 0; i < NCOMMANDS && r->ret; i++)
        json_array_append_new(r->ret, json_pack("{s:s}", "name", commands[i].name));
}

static const QmpCommand *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static bool type_ok(json_t *v, QmpType t)
{
    switch (t) {
    case QT_INT: return json_is_integer(v);
    case QT_STR: return json_is_string(v);
    case QT_BOOL: return json_is_boolean(v);
    case QT_ARRAY: return json_is_array(v);
    }
    return false;
}

/* Arguments against the command's spec, in QEMU's order: each declared
 * one (missing, wrong type), then anything undeclared. */
static bool check_args(const QmpCommand *cmd, json_t *args, QmpReply *r)
{
    size_t n = 0;
    for (const QmpArg *a = cmd->args; n < QMP_MAX_ARGS && a->name; a++, n++) {
        json_t *v = json_object_get(args, a->name);
        if (!v && !a->optional) {
            fail(r, "GenericError", "Parameter '%s' is missing", a->name);
            return false;
        }
        if (v && !type_ok(v, a->type)) {
            fail(r, "GenericError", "Invalid parameter type for '%s', expected: %s", a->name,
                 type_names[a->type]);
            return false;
        }
    }
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        size_t i = 0;
        while (i < n && strcmp(cmd->args[i].name, key))
            i++;
        if (i == n) {
            fail(r, "GenericError", "Parameter '%s' is unexpected", key);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------- dispatch */

/* The request's shape, as QEMU checks it; NULL when fine. */
static const char *check_request(json_t *req, char *buf, size_t len)
{
    const char *key;
    json_t *v;
    json_object_foreach(req, key, v) {
        if (!strcmp(key, "execute")) {
            if (!json_is_string(v))
                return "QMP input member 'execute' must be a string";
        } else if (!strcmp(key, "arguments")) {
            if (!json_is_object(v))
                return "QMP input member 'arguments' must be an object";
        } else if (strcmp(key, "id")) {
            snprintf(buf, len, "QMP input member '%s' is unexpected", key);
            return buf;
        }
    }
    if (!json_object_get(req, "execute"))
        return "QMP input lacks member 'execute'";
    return NULL;
}

/* A well-formed request for a known command, once negotiated (or the
 * negotiation itself). */
static void run_command(QmpConn *c, const QmpCommand *cmd, json_t *req, json_t *id)
{
    json_t *args = json_object_get(req, "arguments");
    json_t *empty = args ? NULL : json_object();
    QmpReply r = { 0 };
    if (check_args(cmd, args ? args : empty, &r))
        cmd->fn(c, args ? args : empty, &r);
    json_decref(empty);
    if (r.cls) {
        json_decref(r.ret);
        emit_error(c, id, r.cls, "%s", r.desc);
        return;
    }
    json_t *msg = json_object();
    if (msg)
        json_object_set_new(msg, "return", r.ret ? r.ret : json_object());
    else
        json_decref(r.ret);
    emit_with_id(c, msg, id);
    if (r.quit_after)
        server_quit(c->q->sv);
}

static void dispatch(QmpConn *c, json_t *req)
{
    json_t *id = json_object_get(req, "id");
    char buf[160];
    const char *bad = check_request(req, buf, sizeof buf);
    const char *name = bad ? NULL : json_string_value(json_object_get(req, "execute"));
    const QmpCommand *cmd = name ? find_command(name) : NULL;
    if (bad)
        emit_error(c, id, "GenericError", "%s", bad);
    else if (!c->negotiated && (!cmd || cmd->fn != cmd_qmp_capabilities))
        emit_error(c, id, "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
    else if (!cmd)
        emit_error(c, id, "CommandNotFound", "The command %s has not been found", name);
    else
        run_command(c, cmd, req, id);
}

/* One complete JSON value of the stream. */
static void handle_value(QmpConn *c, const uint8_t *p, size_t n)
{
    json_error_t jerr;
    json_t *v = json_loadb((const char *)p, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        emit_error(c, NULL, "GenericError", "JSON parse error, %s", jerr.text);
    else if (!json_is_object(v))
        emit_error(c, NULL, "GenericError", "QMP input must be a JSON object");
    else
        dispatch(c, v);
    json_decref(v);
}

/* ------------------------------------------------------------- framing */

static bool is_space(uint8_t ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

static bool is_delim(uint8_t ch) { return ch && strchr("{}[],:\"", ch) != NULL; }

static size_t scan_done(QmpConn *c, size_t end)
{
    c->kind = SCAN_IDLE;
    c->in_str = c->esc = false;
    c->scan = end;
    return end;
}

/* Scan on from c->scan; the end (exclusive) of the value that starts at
 * c->head once it is complete, else 0. */
static size_t scan_value(QmpConn *c)
{
    for (; c->scan < c->in_len; c->scan++) {
        uint8_t ch = c->in[c->scan];
        switch (c->kind) {
        case SCAN_IDLE:
            if (is_space(ch)) {
                c->head = c->scan + 1;
            } else if (ch == '{' || ch == '[') {
                c->kind = SCAN_CONTAINER;
                c->depth = 1;
            } else if (ch == '"') {
                c->kind = SCAN_STRING;
            } else if (is_delim(ch)) {
                return scan_done(c, c->scan + 1); /* a stray } ] , : */
            } else {
                c->kind = SCAN_TOKEN;
            }
            break;
        case SCAN_CONTAINER:
            if (c->in_str) {
                if (c->esc)
                    c->esc = false;
                else if (ch == '\\')
                    c->esc = true;
                else if (ch == '"')
                    c->in_str = false;
            } else if (ch == '"') {
                c->in_str = true;
            } else if (ch == '{' || ch == '[') {
                c->depth++;
            } else if ((ch == '}' || ch == ']') && --c->depth == 0) {
                return scan_done(c, c->scan + 1);
            }
            break;
        case SCAN_STRING:
            if (c->esc)
                c->esc = false;
            else if (ch == '\\')
                c->esc = true;
            else if (ch == '"')
                return scan_done(c, c->scan + 1);
            break;
        case SCAN_TOKEN:
            if (is_space(ch) || is_delim(ch))
                return scan_done(c, c->scan); /* the delimiter starts the next value */
            break;
        }
    }
    return 0;
}

static bool in_append(QmpConn *c, const uint8_t *buf, size_t n)
{
    if (c->in_len + n > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 256;
        while (cap < c->in_len + n)
            cap *= 2;
        uint8_t *p = realloc(c->in, cap);
        if (!p)
            return false;
        c->in = p;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, buf, n);
    c->in_len += n;
    return true;
}

/* Move the unconsumed bytes to the front. */
static void in_compact(QmpConn *c)
{
    memmove(c->in, c->in + c->head, c->in_len - c->head);
    c->in_len -= c->head;
    c->scan -= c->head;
    c->head = 0;
}

/* Frame and handle what one chunk (at most QMP_READ_CHUNK bytes) brings. */
static void input_chunk(QmpConn *c, const uint8_t *buf, size_t n)
{
    if (!in_append(c, buf, n)) {
        emit_error(c, NULL, "GenericError", "out of memory");
        c->head = c->scan = c->in_len = 0;
        c->kind = SCAN_IDLE;
        return;
    }
    size_t end;
    while (!c->dead && (end = scan_value(c)) != 0) {
        if (c->skipping)
            c->skipping = false; /* the end of an oversized value: already answered */
        else
            handle_value(c, c->in + c->head, end - c->head);
        c->head = end;
    }
    if (!c->skipping && c->in_len - c->head > QMP_MAX_MESSAGE) {
        emit_error(c, NULL, "GenericError", "JSON parse error, message longer than %u bytes", QMP_MAX_MESSAGE);
        c->skipping = true;
    }
    if (c->skipping)
        c->head = c->in_len; /* scanned already; only the scan state matters */
    in_compact(c);
}

/* ---------------------------------------------------------- connections */

Strbuf *qmp_conn_output(QmpConn *c) { return &c->out; }

void qmp_conn_input(QmpConn *c, const uint8_t *buf, size_t n)
{
    c->busy++;
    while (n && !c->dead) {
        size_t k = n < QMP_READ_CHUNK ? n : QMP_READ_CHUNK;
        input_chunk(c, buf, k);
        buf += k;
        n -= k;
    }
    c->busy--;
}

static void conn_free(QmpConn *c)
{
    QmpConn **pp = &c->q->conns;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    conn_drop(c);
    free(c->in);
    sb_free(&c->out);
    free(c);
}

/* Free the dropped connections nobody is working on. */
static void reap(QmpServer *q)
{
    QmpConn *c = q->conns, *next;
    for (; c; c = next) {
        next = c->next;
        if (c->dead && !c->busy)
            conn_free(c);
    }
}

static QmpConn *conn_new(QmpServer *q, int fd)
{
    QmpConn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->q = q;
    c->fd = fd;
    sb_init(&c->out);
    c->next = q->conns;
    q->conns = c;
    emit(c, json_pack("{s:{s:o,s:[]}}", "QMP", "version", version_obj(), "capabilities"));
    return c;
}

QmpConn *qmp_conn_open(QmpServer *q) { return conn_new(q, -1); }

void qmp_conn_close(QmpConn *c) { conn_free(c); }

static void on_conn_readable(void *opaque, int fd)
{
    QmpConn *c = opaque;
    QmpServer *q = c->q;
    uint8_t buf[QMP_READ_CHUNK];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0)
        conn_drop(c);
    else
        qmp_conn_input(c, buf, (size_t)n);
    reap(q);
}

/* A connected socket becomes a client (greeted), or is closed when the
 * event loop is full. */
static void add_client(QmpServer *q, int fd)
{
    struct timeval tv = { .tv_sec = QMP_SEND_TIMEOUT_S };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    QmpConn *c = conn_new(q, -1);
    if (!c || !evloop_add(server_loop(q->sv), fd, on_conn_readable, c)) {
        if (c)
            conn_free(c);
        close(fd);
        return;
    }
    c->fd = fd;
    conn_flush(c); /* the greeting */
    reap(q);
}

static void on_accept(void *opaque, int lfd)
{
    QmpServer *q = opaque;
    int fd = hostsock_accept(lfd);
    if (fd >= 0)
        add_client(q, fd);
}

/* --------------------------------------------------------------- events */

static json_t *event_obj(const char *name, json_t *data)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return json_pack("{s:s,s:o,s:{s:I,s:I}}", "event", name, "data", data ? data : json_object(), "timestamp",
                     "seconds", (json_int_t)ts.tv_sec, "microseconds", (json_int_t)(ts.tv_nsec / 1000));
}

static void broadcast(QmpServer *q, json_t *ev)
{
    for (QmpConn *c = q->conns; c && ev; c = c->next)
        if (c->negotiated && !c->dead)
            emit(c, json_incref(ev));
    json_decref(ev);
}

static json_t *icount_data(uint64_t icount) { return json_pack("{s:I}", "icount", (json_int_t)icount); }

static void on_event(void *opaque, const ServerEvent *ev)
{
    QmpServer *q = opaque;
    switch (ev->kind) {
    case SEV_STOP:
        broadcast(q, event_obj("STOP", NULL));
        if (ev->stop == STOP_REPLAY_BREAK)
            broadcast(q, event_obj("RRVM_REPLAY_BREAK", icount_data(ev->icount)));
        break;
    case SEV_RESUME:
        broadcast(q, event_obj("RESUME", NULL));
        break;
    case SEV_RESET:
        broadcast(q, event_obj("RESET", json_pack("{s:b,s:s}", "guest", ev->guest, "reason",
                                                  ev->guest ? "guest-reset" : "host-qmp-system-reset")));
        break;
    case SEV_POWERDOWN:
        broadcast(q, event_obj("POWERDOWN", NULL));
        break;
    case SEV_SHUTDOWN: {
        const char *reason = ev->reason ? ev->reason : ev->guest ? "guest-shutdown" : "host-qmp-quit";
        broadcast(q, event_obj("SHUTDOWN", json_pack("{s:b,s:s}", "guest", ev->guest, "reason", reason)));
        break;
    }
    case SEV_REPLAY_END:
        broadcast(q, event_obj("RRVM_REPLAY_END", icount_data(ev->icount)));
        break;
    case SEV_REPLAY_DIVERGED:
        broadcast(q, event_obj("RRVM_REPLAY_DIVERGED", icount_data(ev->icount)));
        break;
    }
    reap(q);
}

/* --------------------------------------------------------------- server */

QmpServer *qmp_server_new(Server *sv)
{
    QmpServer *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->sv = sv;
    if (!server_listen_events(sv, on_event, q)) {
        free(q);
        return NULL;
    }
    q->events = true;
    return q;
}

typedef struct QmpSpec {
    char addr[512]; /* unix:PATH or tcp:HOST:PORT */
    bool server, wait;
} QmpSpec;

static bool parse_spec(const char *spec, QmpSpec *s, char *err, size_t errlen)
{
    const char *comma = strchr(spec, ',');
    size_t alen = comma ? (size_t)(comma - spec) : strlen(spec);
    if (alen >= sizeof s->addr) {
        snprintf(err, errlen, "address too long");
        return false;
    }
    memcpy(s->addr, spec, alen);
    s->addr[alen] = 0;
    s->server = false;
    s->wait = true; /* QEMU's default for a server */
    while (comma) {
        const char *o = comma + 1;
        comma = strchr(o, ',');
        size_t n = comma ? (size_t)(comma - o) : strlen(o);
#define OPT(str) (n == strlen(str) && !strncmp(o, str, n))
        if (OPT("server") || OPT("server=on"))
            s->server = true;
        else if (OPT("server=off"))
            s->server = false;
        else if (OPT("wait") || OPT("wait=on"))
            s->wait = true;
        else if (OPT("nowait") || OPT("wait=off"))
            s->wait = false;
        else {
            snprintf(err, errlen, "unknown option '%.*s' (expected server=on, wait=on|off)", (int)n, o);
            return false;
        }
#undef OPT
    }
    if (!s->server) {
        snprintf(err, errlen, "rrvm only listens for QMP clients (add server=on)");
        return false;
    }
    return true;
}

/* hostsock's messages start with the address, which the caller's
 * "-qmp SPEC: " already shows. */
static void drop_prefix(char *err, const char *addr)
{
    size_t n = strlen(addr);
    if (!strncmp(err, addr, n) && err[n] == ':' && err[n + 1] == ' ')
        memmove(err, err + n + 2, strlen(err + n + 2) + 1);
}

static const HostsockRemote monitor_remote = {
    "the monitor controls the whole machine", "--allow-remote-monitor"
};

bool qmp_server_add(QmpServer *q, const char *spec, bool allow_remote, char *err, size_t errlen)
{
    QmpSpec s;
    if (!parse_spec(spec, &s, err, errlen))
        return false;
    if (q->nl == QMP_MAX_LISTENERS) {
        snprintf(err, errlen, "too many -qmp listeners (at most %d)", QMP_MAX_LISTENERS);
        return false;
    }
    int fd = hostsock_listen_for(s.addr, allow_remote, &monitor_remote, err, errlen);
    if (fd < 0) {
        drop_prefix(err, s.addr);
        return false;
    }
    if (!evloop_add(server_loop(q->sv), fd, on_accept, q)) {
        snprintf(err, errlen, "too many sockets to watch");
        close(fd);
        if (!strncmp(s.addr, "unix:", 5))
            unlink(s.addr + 5);
        return false;
    }
    QmpListener *l = &q->l[q->nl++];
    l->fd = fd;
    l->unix_path = !strncmp(s.addr, "unix:", 5) ? strdup(s.addr + 5) : NULL;
    if (s.wait) {
        fprintf(stderr, "rrvm: QMP waiting for a connection on %s\n", s.addr);
        int c = hostsock_accept(fd);
        if (c >= 0)
            add_client(q, c);
    }
    return true;
}

void qmp_server_free(QmpServer *q)
{
    if (!q)
        return;
    if (q->events)
        server_unlisten_events(q->sv, q);
    while (q->conns)
        conn_free(q->conns);
    for (int i = 0; i < q->nl; i++) {
        evloop_remove(server_loop(q->sv), q->l[i].fd);
        close(q->l[i].fd);
        if (q->l[i].unix_path)
            unlink(q->l[i].unix_path);
        free(q->l[i].unix_path);
    }
    free(q);
}
