/*
 * server.c - the interactive session (see server.h): owns the Session and
 * the host event loop, runs the machine in slices and polls the front ends
 * (gdb_server.c, qmp.c, hmp.c) between slices; while stopped it sleeps in
 * poll.
 *
 * Invariants:
 *  - Front-end callbacks run only from evloop_run_once here, never inside
 *    session_advance (the host-wait hook polls without dispatching), so a
 *    callback may seek, step or reset the session.
 *  - A replay-break is one-shot, as QEMU's: reaching it stops the machine
 *    and deletes it. Breaks are kept sorted ascending.
 *  - savevm in a replay stores a position, in run/record a copy of the
 *    machine (machine_save); loadvm while recording is refused: the log
 *    could not reproduce the jump.
 */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug/gdb_server.h"
#include "debug/hmp.h"
#include "debug/qmp.h"
#include "machine/cpu/hart.h"
#include "util/ser.h"

#define RUN_SLICE 1000000ull /* instructions between polls of the front ends */

typedef struct SavedVm {
    ServerSavedVm pub;
    uint8_t *state; /* run/record: machine_save; replay: NULL */
    size_t len;
} SavedVm;

struct Server {
    Session *s;
    Machine *m;
    Evloop loop;
    const DebugOptions *d;
    const char *rr_path;   /* the recording written or replayed, NULL: none */
    bool running;
    bool prelaunch;        /* -S: never ran yet */
    bool over;             /* the session cannot run any more */
    bool quit;             /* end the session (quit, kill) */
    ServerStopReason why;
    int holders;           /* front ends that keep a finished replay open */
    uint64_t brk[SERVER_MAX_BREAKS];
    size_t nbrk;
    SavedVm vm[SERVER_MAX_SAVEVM];
    size_t nvm;
    struct {
        ServerEventFn fn;
        void *opaque;
    } lis[SERVER_MAX_FRONTENDS];
    int console_fd;        /* watched in the loop, -1 if none */
    GdbFront *gdb;
    QmpServer *qmp;
    Hmp *hmp;
};

/* --- events --- */

static void emit(Server *sv, const ServerEvent *ev)
{
    for (int i = 0; i < SERVER_MAX_FRONTENDS; i++)
        if (sv->lis[i].fn)
            sv->lis[i].fn(sv->lis[i].opaque, ev);
}

static void emit_simple(Server *sv, ServerEventKind k)
{
    ServerEvent ev = { .kind = k, .icount = session_icount(sv->s) };
    emit(sv, &ev);
}

bool server_listen_events(Server *sv, ServerEventFn fn, void *opaque)
{
    for (int i = 0; i < SERVER_MAX_FRONTENDS; i++)
        if (!sv->lis[i].fn) {
            sv->lis[i].fn = fn;
            sv->lis[i].opaque = opaque;
            return true;
        }
    return false;
}

void server_unlisten_events(Server *sv, void *opaque)
{
    for (int i = 0; i < SERVER_MAX_FRONTENDS; i++)
        if (sv->lis[i].opaque == opaque)
            sv->lis[i].fn = NULL;
}

/* Session notices (resets, powerdown, shutdown) become server events. */
static void on_notice(void *opaque, const SessionNotice *n)
{
    Server *sv = opaque;
    static const ServerEventKind kind[] = {
        [SESSION_NOTICE_RESET] = SEV_RESET,
        [SESSION_NOTICE_POWERDOWN] = SEV_POWERDOWN,
        [SESSION_NOTICE_SHUTDOWN] = SEV_SHUTDOWN,
    };
    ServerEvent ev = { .kind = kind[n->kind], .guest = n->guest, .reason = n->reason, .icount = n->icount };
    emit(sv, &ev);
}

/* --- accessors --- */

Evloop *server_loop(Server *sv) { return &sv->loop; }
Session *server_session(Server *sv) { return sv->s; }
Machine *server_machine(Server *sv) { return sv->m; }
bool server_running(const Server *sv) { return sv->running; }
ServerStopReason server_stop_reason(const Server *sv) { return sv->why; }
uint64_t server_icount(const Server *sv) { return session_icount(sv->s); }
void server_hold(Server *sv, bool on) { sv->holders += on ? 1 : -1; }

const char *server_recording_path(const Server *sv)
{
    return session_mode(sv->s) == SESSION_RUN ? NULL : sv->rr_path;
}

const char *server_status_name(const Server *sv)
{
    if (sv->running)
        return "running";
    if (sv->prelaunch)
        return "prelaunch";
    switch (sv->why) {
    case STOP_DEBUG: return "debug";
    case STOP_SHUTDOWN: return "shutdown";
    case STOP_ERROR: return "internal-error";
    default: return "paused";
    }
}

/* --- run state --- */

void server_stop(Server *sv, ServerStopReason why)
{
    if (!sv->running)
        return;
    sv->running = false;
    sv->why = why;
    ServerEvent ev = { .kind = SEV_STOP, .stop = why, .icount = session_icount(sv->s) };
    emit(sv, &ev);
}

bool server_cont(Server *sv, char *err, size_t errlen)
{
    if (sv->over) {
        snprintf(err, errlen, "the session has ended (%s)", server_status_name(sv));
        return false;
    }
    if (sv->why == STOP_REPLAY_END && !sv->running &&
        session_icount(sv->s) >= session_recording_total(sv->s)) {
        snprintf(err, errlen, "the replay is at its end (icount %" PRIu64 "); use replay_seek or go_live",
                 session_icount(sv->s));
        return false;
    }
    if (sv->running)
        return true;
    sv->running = true;
    sv->prelaunch = false;
    sv->why = STOP_NONE;
    emit_simple(sv, SEV_RESUME);
    return true;
}

void server_quit(Server *sv)
{
    char err[256];
    if (!sv->over && session_mode(sv->s) != SESSION_RUN)
        session_request(sv->s, SESSION_REQ_QUIT, err, sizeof err); /* logged while recording */
    sv->quit = true;
}

static bool request(Server *sv, SessionRequest r, const char *what, char *err, size_t errlen)
{
    if (sv->over) {
        snprintf(err, errlen, "%s: the session has ended", what);
        return false;
    }
    return session_request(sv->s, r, err, errlen);
}

bool server_system_reset(Server *sv, char *err, size_t errlen)
{
    return request(sv, SESSION_REQ_RESET, "system_reset", err, errlen);
}

bool server_system_powerdown(Server *sv, char *err, size_t errlen)
{
    return request(sv, SESSION_REQ_POWERDOWN, "system_powerdown", err, errlen);
}

/* --- replay-break --- */

bool server_break_add(Server *sv, uint64_t icount, char *err, size_t errlen)
{
    if (icount <= session_icount(sv->s)) {
        snprintf(err, errlen, "replay_break: icount %" PRIu64 " is not ahead of the current icount %" PRIu64
                 " (seek back first)", icount, session_icount(sv->s));
        return false;
    }
    size_t i = 0;
    while (i < sv->nbrk && sv->brk[i] < icount)
        i++;
    if (i < sv->nbrk && sv->brk[i] == icount)
        return true;
    if (sv->nbrk == SERVER_MAX_BREAKS) {
        snprintf(err, errlen, "replay_break: at most %d breaks", SERVER_MAX_BREAKS);
        return false;
    }
    memmove(sv->brk + i + 1, sv->brk + i, (sv->nbrk - i) * sizeof sv->brk[0]);
    sv->brk[i] = icount;
    sv->nbrk++;
    return true;
}

bool server_break_delete(Server *sv, uint64_t icount, bool all_breaks, char *err, size_t errlen)
{
    if (all_breaks) {
        sv->nbrk = 0;
        return true;
    }
    for (size_t i = 0; i < sv->nbrk; i++)
        if (sv->brk[i] == icount) {
            memmove(sv->brk + i, sv->brk + i + 1, (sv->nbrk - i - 1) * sizeof sv->brk[0]);
            sv->nbrk--;
            return true;
        }
    snprintf(err, errlen, "replay_delete_break: no break at icount %" PRIu64, icount);
    return false;
}

size_t server_breaks(const Server *sv, uint64_t *out, size_t max)
{
    for (size_t i = 0; i < sv->nbrk && i < max; i++)
        out[i] = sv->brk[i];
    return sv->nbrk;
}

/* A break reached by running is one-shot: delete it. Breaks behind the
 * current icount stay (a seek back makes them reachable again). */
static bool take_break_here(Server *sv)
{
    uint64_t now = session_icount(sv->s);
    for (size_t i = 0; i < sv->nbrk; i++)
        if (sv->brk[i] == now) {
            memmove(sv->brk + i, sv->brk + i + 1, (sv->nbrk - i - 1) * sizeof sv->brk[0]);
            sv->nbrk--;
            return true;
        }
    return false;
}

/* --- seeking and saved states --- */

static bool is_replay(const Server *sv) { return session_mode(sv->s) == SESSION_REPLAY; }

/* After a stop the server did not cause itself, make its state right. */
void server_after_advance(Server *sv, SessionStop st)
{
    switch (st) {
    case SESSION_STOP_END:
        sv->why = STOP_REPLAY_END;
        emit_simple(sv, SEV_REPLAY_END);
        break;
    case SESSION_STOP_EXIT:
        sv->over = true;
        sv->quit = true; /* as QEMU: a shutdown ends the process */
        sv->why = STOP_SHUTDOWN;
        break;
    case SESSION_STOP_DIVERGED:
        sv->over = true;
        sv->quit = true;
        sv->why = STOP_ERROR;
        emit_simple(sv, SEV_REPLAY_DIVERGED);
        break;
    case SESSION_STOP_ERROR:
    case SESSION_STOP_INTERRUPTED:
        sv->over = true;
        sv->quit = true;
        sv->why = STOP_ERROR;
        break;
    default:
        break;
    }
}

bool server_seek(Server *sv, uint64_t icount, char *err, size_t errlen)
{
    if (!is_replay(sv)) {
        snprintf(err, errlen, "replay_seek: only in a replay");
        return false;
    }
    if (sv->over) {
        snprintf(err, errlen, "replay_seek: the session has ended");
        return false;
    }
    server_stop(sv, STOP_SEEK);
    sv->prelaunch = false;
    machine_debug_disarm(&sv->m->dbg);
    SessionStop st = session_seek(sv->s, icount);
    if (st == SESSION_STOP_TARGET) {
        sv->why = STOP_SEEK;
        return true;
    }
    server_after_advance(sv, st);
    if (st == SESSION_STOP_END)
        snprintf(err, errlen, "replay_seek: the recording ends at icount %" PRIu64 ", before %" PRIu64,
                 session_icount(sv->s), icount);
    else
        snprintf(err, errlen, "replay_seek: the replay failed on the way (see rrvm's stderr)");
    return false;
}

static SavedVm *find_vm(Server *sv, const char *name)
{
    for (size_t i = 0; i < sv->nvm; i++)
        if (strcmp(sv->vm[i].pub.name, name) == 0)
            return &sv->vm[i];
    return NULL;
}

static bool valid_vm_name(const char *name, const char *what, char *err, size_t errlen)
{
    if (!name || !name[0] || strlen(name) >= sizeof ((ServerSavedVm *)0)->name) {
        snprintf(err, errlen, "%s: give a name of 1 to %zu characters", what,
                 sizeof ((ServerSavedVm *)0)->name - 1);
        return false;
    }
    return true;
}

bool server_savevm(Server *sv, const char *name, char *err, size_t errlen)
{
    if (!valid_vm_name(name, "savevm", err, errlen))
        return false;
    SavedVm *v = find_vm(sv, name);
    if (!v) {
        if (sv->nvm == SERVER_MAX_SAVEVM) {
            snprintf(err, errlen, "savevm: at most %d saved states (delvm one)", SERVER_MAX_SAVEVM);
            return false;
        }
        v = &sv->vm[sv->nvm++];
        memset(v, 0, sizeof *v);
        snprintf(v->pub.name, sizeof v->pub.name, "%s", name);
    }
    free(v->state);
    v->state = NULL;
    v->len = 0;
    v->pub.icount = session_icount(sv->s);
    if (is_replay(sv))
        return true; /* the state at an icount is a function of the recording */
    SerWriter w;
    ser_writer_init(&w);
    machine_save(sv->m, &w);
    if (w.oom) {
        ser_writer_free(&w);
        sv->nvm--;
        snprintf(err, errlen, "savevm: out of memory");
        return false;
    }
    v->state = w.buf; /* ownership moves to the saved state */
    v->len = w.len;
    return true;
}

bool server_loadvm(Server *sv, const char *name, char *err, size_t errlen)
{
    SavedVm *v = valid_vm_name(name, "loadvm", err, errlen) ? find_vm(sv, name) : NULL;
    if (!v) {
        if (name && name[0])
            snprintf(err, errlen, "loadvm: no saved state named '%s' (info snapshots lists them)", name);
        return false;
    }
    if (is_replay(sv))
        return server_seek(sv, v->pub.icount, err, errlen);
    if (session_mode(sv->s) == SESSION_RECORD) {
        snprintf(err, errlen, "loadvm: not while recording (the recording could not reproduce the jump); "
                 "replay the recording and loadvm there, or record --from a snapshot");
        return false;
    }
    if (sv->over) {
        snprintf(err, errlen, "loadvm: the session has ended");
        return false;
    }
    SerReader r;
    ser_reader_init(&r, v->state, v->len);
    if (!machine_load(sv->m, &r)) { /* all or nothing: the machine is unchanged */
        snprintf(err, errlen, "loadvm: the saved state '%s' does not load", name);
        return false;
    }
    server_stop(sv, STOP_SEEK);
    return true;
}

bool server_delvm(Server *sv, const char *name, char *err, size_t errlen)
{
    SavedVm *v = valid_vm_name(name, "delvm", err, errlen) ? find_vm(sv, name) : NULL;
    if (!v) {
        if (name && name[0])
            snprintf(err, errlen, "delvm: no saved state named '%s'", name);
        return false;
    }
    free(v->state);
    *v = sv->vm[--sv->nvm];
    return true;
}

size_t server_savedvms(const Server *sv, ServerSavedVm *out, size_t max)
{
    for (size_t i = 0; i < sv->nvm && i < max; i++)
        out[i] = sv->vm[i].pub;
    return sv->nvm;
}

bool server_go_live(Server *sv, const char *rr_out, char *err, size_t errlen)
{
    if (!is_replay(sv)) {
        snprintf(err, errlen, "go_live: only in a replay");
        return false;
    }
    if (sv->over) {
        snprintf(err, errlen, "go_live: the session has ended");
        return false;
    }
    server_stop(sv, STOP_USER);
    machine_debug_disarm(&sv->m->dbg);
    if (!session_go_live(sv->s, rr_out)) {
        snprintf(err, errlen, "go_live: failed (see rrvm's stderr)");
        return false;
    }
    sv->nbrk = 0; /* icounts of the recording mean nothing live */
    sv->rr_path = rr_out;
    sv->why = STOP_USER;
    return true;
}

/* --- the loop --- */

/* The session's wait while the guest idles (run/record): wake for host
 * input to the guest - console, chardevs: fds - (1) or for a front end's
 * socket (2), dispatching nothing. */
static int host_wait(void *opaque, const int *fds, int nfds, uint64_t timeout_ns)
{
    Server *sv = opaque;
    struct pollfd p[EVLOOP_MAX_FDS + SESSION_WAIT_MAX_FDS];
    int n = 0;
    for (int i = 0; i < EVLOOP_MAX_FDS; i++)
        if (sv->loop.w[i].fd >= 0 && sv->loop.w[i].fd != sv->console_fd)
            p[n++] = (struct pollfd){ .fd = sv->loop.w[i].fd, .events = POLLIN };
    int front = n;
    for (int i = 0; i < nfds && i < SESSION_WAIT_MAX_FDS; i++)
        p[n++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
    int ms = timeout_ns == UINT64_MAX ? -1 : (int)((timeout_ns + 999999) / 1000000);
    if (timeout_ns != UINT64_MAX && timeout_ns > 3600000000000ull)
        ms = 3600000;
    int r = poll(p, (nfds_t)n, ms);
    if (r <= 0)
        return 0;
    for (int i = 0; i < front; i++)
        if (p[i].revents)
            return 2;
    return 1;
}

static void on_console(void *opaque, int fd)
{
    Server *sv = opaque;
    (void)fd;
    session_console_poll(sv->s);
    if (sv->hmp)
        hmp_run_pending(sv->hmp);
}

/* The slice's end: the next break, or RUN_SLICE ahead. */
static SessionStop run_slice(Server *sv)
{
    uint64_t now = session_icount(sv->s), target = now + RUN_SLICE;
    for (size_t i = 0; i < sv->nbrk; i++)
        if (sv->brk[i] > now) {
            if (sv->brk[i] < target)
                target = sv->brk[i];
            break;
        }
    SessionTarget t = { SESSION_TO_ICOUNT, target, 0 };
    return session_advance(sv->s, &t);
}

static void after_slice(Server *sv, SessionStop st)
{
    switch (st) {
    case SESSION_STOP_TARGET:
        if (take_break_here(sv)) {
            server_stop(sv, STOP_REPLAY_BREAK);
        }
        break;
    case SESSION_STOP_BREAK:
        server_stop(sv, STOP_DEBUG); /* the gdb front end reports it */
        break;
    case SESSION_STOP_END:
        server_stop(sv, STOP_REPLAY_END);
        server_after_advance(sv, st);
        if (!sv->holders)
            sv->quit = true; /* nobody to look at it: end as a plain replay */
        break;
    case SESSION_STOP_YIELD:
        break;
    default:
        server_after_advance(sv, st);
        server_stop(sv, sv->why);
        sv->running = false;
        sv->quit = true; /* shut down, failed or interrupted */
        break;
    }
}

static void serve(Server *sv)
{
    while (!sv->quit) {
        if (!sv->running && sv->why == STOP_REPLAY_END && !sv->holders)
            break; /* the last client left a finished replay: end as a plain one */
        if (!sv->running) {
            if (evloop_run_once(&sv->loop, -1) < 0)
                break;
            SessionStop st = session_poll_host(sv->s); /* a signal, Ctrl-A x */
            if (st != SESSION_STOP_TARGET) {
                server_after_advance(sv, st);
                sv->quit = true;
            }
        } else {
            SessionStop st = run_slice(sv);
            after_slice(sv, st);
            evloop_run_once(&sv->loop, 0);
        }
        if (sv->hmp)
            hmp_run_pending(sv->hmp);
    }
}

bool server_wanted(const DebugOptions *d)
{
    return d->gdb || d->launch_gdb || d->nqmp || d->monitor_stdio || d->monitor_mux;
}

static void close_front_ends(Server *sv)
{
    if (sv->hmp)
        hmp_free(sv->hmp);
    if (sv->qmp)
        qmp_server_free(sv->qmp);
    if (sv->gdb)
        gdb_front_free(sv->gdb);
    for (size_t i = 0; i < sv->nvm; i++)
        free(sv->vm[i].state);
}

static bool open_front_ends(Server *sv, SessionOptions *opts)
{
    char err[600];
    const DebugOptions *d = sv->d;
    (void)opts;
    if (d->nqmp) {
        sv->qmp = qmp_server_new(sv);
        for (int i = 0; i < d->nqmp; i++)
            if (!sv->qmp || !qmp_server_add(sv->qmp, d->qmp[i], d->allow_remote_monitor, err, sizeof err)) {
                fprintf(stderr, "rrvm: -qmp %s: %s\n", d->qmp[i], sv->qmp ? err : "out of memory");
                return false;
            }
        server_hold(sv, true); /* clients may come and go: stay at a replay's end */
    }
    if (d->monitor_stdio || d->monitor_mux) {
        sv->hmp = hmp_new(sv, d->monitor_mux, err, sizeof err);
        if (!sv->hmp) {
            fprintf(stderr, "rrvm: %s\n", err);
            return false;
        }
        server_hold(sv, true);
    }
    return true;
}

int server_main(const SessionOptions *o, const DebugOptions *d)
{
    SessionOptions opts = *o;
    if (opts.mode == SESSION_REPLAY)
        opts.time_travel = true; /* seeking, reverse execution, loadvm */
    opts.stdin_taken = d->monitor_stdio || d->launch_gdb; /* the terminal is the prompt's or gdb's */
    Server *sv = calloc(1, sizeof *sv);
    if (!sv) {
        fprintf(stderr, "rrvm: out of memory\n");
        return 1;
    }
    sv->d = d;
    sv->console_fd = -1;
    evloop_init(&sv->loop);
    /* gdb's socket comes first: --gdb takes the terminal from the console */
    char err[600];
    if ((d->gdb || d->launch_gdb) && !(sv->gdb = gdb_front_new(sv, d, &opts, err, sizeof err))) {
        fprintf(stderr, "rrvm: %s\n", err);
        free(sv);
        return 2;
    }
    sv->rr_path = opts.rr_path;
    int status;
    sv->s = session_open(&opts, &status);
    if (!sv->s) {
        if (sv->gdb)
            gdb_front_free(sv->gdb);
        free(sv);
        return status;
    }
    sv->m = session_machine(sv->s);
    if (sv->gdb)
        gdb_front_start(sv->gdb);
    session_set_observer(sv->s, on_notice, sv);
    session_set_host_wait(sv->s, host_wait, sv);
    if (!open_front_ends(sv, &opts)) {
        close_front_ends(sv);
        session_close(sv->s);
        free(sv);
        return 2;
    }
    if (d->gdb && d->wait && !d->launch_gdb)
        fprintf(stderr, "rrvm: waiting for gdb on %s\n", d->gdb);
    sv->console_fd = session_console_fd(sv->s);
    if (sv->console_fd >= 0 && !d->monitor_stdio)
        evloop_add(&sv->loop, sv->console_fd, on_console, sv);
    sv->running = !d->wait && !(sv->gdb && gdb_front_waits(sv->gdb));
    sv->prelaunch = !sv->running;
    sv->why = sv->running ? STOP_NONE : STOP_USER;
    serve(sv);
    machine_debug_disarm(&sv->m->dbg);
    close_front_ends(sv);
    status = session_close(sv->s);
    free(sv);
    return status;
}
