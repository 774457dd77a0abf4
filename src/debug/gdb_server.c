/*
 * gdb_server.c - runs a session under the gdb stub: one listening socket,
 * at most one gdb connection, and the machine advanced in slices with the
 * connection polled between them (so Ctrl-C stops a running guest within
 * a slice); while the guest is stopped the server sleeps in poll.
 *
 * Forward execution arms the stub's breakpoints in m->dbg; stepping,
 * seeking and reverse execution run with them disarmed, so a seek always
 * reaches its target. Reverse execution (replay) is built on session_seek:
 * reverse-stepi finds, by bisection over icounts, the last point before
 * the current hart retired its previous instruction; reverse-continue
 * replays intervals backwards from here, each forward with breakpoints
 * armed, and stops at the last hit of the nearest interval that has one.
 *
 * Invariant: nothing here writes guest state in replay (the stub refuses
 * writes), so a replay driven from gdb ends with the recording's digest.
 */
#include "gdb_server.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "debug/gdb_stub.h"
#include "host/evloop.h"
#include "host/hostsock.h"
#include "machine/hart.h"

#define RUN_SLICE 1000000ull            /* instructions between polls */
#define RCONT_FIRST_WINDOW 1000000ull   /* reverse-continue's first interval */

typedef struct Server {
    Session *s;
    Machine *m;
    GdbStub g;
    Evloop loop;
    int lfd, cfd;       /* listening socket, connection (-1: none) */
    bool stopped;       /* the guest waits for gdb */
    bool quit;          /* kill, or our own gdb left: end the session */
    pid_t gdb_pid;      /* --gdb: the gdb-multiarch we started, else 0 */
} Server;

/* --- connection --- */

static void flush_out(Server *sv)
{
    if (sv->cfd >= 0 && sv->g.out_len && !hostsock_write_all(sv->cfd, sv->g.out, sv->g.out_len)) {
        evloop_remove(&sv->loop, sv->cfd);
        close(sv->cfd);
        sv->cfd = -1;
    }
    gdb_stub_out_consumed(&sv->g);
}

static void drop_connection(Server *sv)
{
    if (sv->gdb_pid > 0)
        sv->quit = true; /* the gdb we started is gone: so is the session */
    evloop_remove(&sv->loop, sv->cfd);
    close(sv->cfd);
    sv->cfd = -1;
    sv->g.nbp = 0;
    sv->stopped = false; /* as after a detach: the guest runs on */
}

static void on_readable(void *opaque, int fd)
{
    Server *sv = opaque;
    uint8_t buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
        return;
    if (n <= 0) {
        drop_connection(sv);
        return;
    }
    gdb_stub_input(&sv->g, buf, (size_t)n);
    flush_out(sv);
}

static void monitor(void *opaque, GdbStub *g, const char *cmd);

/* A fresh protocol state for each connection (ack mode, threads, no
 * breakpoints). */
static void start_stub(Server *sv)
{
    gdb_stub_free(&sv->g);
    gdb_stub_init(&sv->g, sv->m, session_mode(sv->s) == SESSION_REPLAY);
    sv->g.monitor = monitor;
    sv->g.monitor_opaque = sv;
}

static void on_accept(void *opaque, int fd)
{
    Server *sv = opaque;
    int c = hostsock_accept(fd);
    if (c < 0)
        return;
    if (sv->cfd >= 0) {
        close(c); /* one debugger at a time */
        return;
    }
    sv->cfd = c;
    start_stub(sv);
    evloop_add(&sv->loop, c, on_readable, sv);
    sv->stopped = true; /* gdb expects a stopped target when it attaches */
}

/* --- breakpoints in the machine --- */

static void arm(Server *sv, bool leaving_stop)
{
    MachineDebug *d = &sv->m->dbg;
    d->nbp = sv->g.nbp;
    memcpy(d->bp, sv->g.bp, sizeof d->bp);
    d->hit_hart = -1;
    d->watch_hit = -1;
    d->nwatch = sv->g.nwatch;
    memcpy(d->watch, sv->g.watch, sizeof d->watch);
    if (d->nwatch) /* watched pages must leave the TLBs (a pure cache) */
        for (int i = 0; i < sv->m->nharts; i++)
            mmu_tlb_flush(sv->m->harts[i]);
    if (leaving_stop) {
        /* the hart that runs next does not stop again where it stands */
        d->skip_hart = sv->m->cur_hart;
        d->skip_pc = sv->m->harts[sv->m->cur_hart]->pc;
    }
}

static void disarm(Server *sv)
{
    sv->m->dbg.nbp = 0;
    sv->m->dbg.nwatch = 0;
    sv->m->dbg.skip_hart = -1;
    sv->m->dbg.hit_hart = -1;
}

/* --- reporting --- */

/* The stop reason for a watchpoint hit (m->dbg.watch_hit), or "". */
static void watch_reason(Server *sv, char *buf, size_t len)
{
    const MachineDebug *d = &sv->m->dbg;
    buf[0] = 0;
    if (d->watch_hit < 0)
        return;
    int kind = d->watch[d->watch_hit].kind;
    snprintf(buf, len, "%s:%" PRIx64 ";",
             kind == WATCH_WRITE ? "watch" : kind == WATCH_READ ? "rwatch" : "awatch", d->watch_hit_addr);
}

static void report(Server *sv, SessionStop st, int hart)
{
    char extra[64] = "";
    if (sv->cfd < 0)
        return;
    switch (st) {
    case SESSION_STOP_EXIT:
        gdb_stub_send(&sv->g, sv->m->exit_code ? "W01" : "W00");
        break;
    case SESSION_STOP_ERROR:
    case SESSION_STOP_DIVERGED:
    case SESSION_STOP_INTERRUPTED:
        gdb_stub_console(&sv->g, "rrvm: the session failed; see rrvm's stderr\n");
        gdb_stub_send(&sv->g, "X0f");
        break;
    case SESSION_STOP_END:
        gdb_stub_stopped(&sv->g, hart, "replaylog:end;");
        break;
    default:
        if (st == SESSION_STOP_BREAK)
            watch_reason(sv, extra, sizeof extra);
        else if (session_mode(sv->s) == SESSION_REPLAY && session_icount(sv->s) == 0)
            strcpy(extra, "replaylog:begin;");
        gdb_stub_stopped(&sv->g, hart, extra);
        break;
    }
    flush_out(sv);
}

static bool session_over(SessionStop st)
{
    return st == SESSION_STOP_EXIT || st == SESSION_STOP_ERROR || st == SESSION_STOP_DIVERGED ||
           st == SESSION_STOP_INTERRUPTED;
}

/* --- forward --- */

/* gdb's RISC-V port treats watchpoints as triggering before the access
 * (as debug triggers do) and steps over the instruction itself; the
 * machine stops after it. In replay, step back to before it so gdb's own
 * step lands exactly after the access (live runs cannot go back: gdb then
 * stops one instruction late). Reverse-continue needs no such step: gdb
 * steps backwards over the access itself. */
static void watch_stop_before_access(Server *sv)
{
    MachineDebug *d = &sv->m->dbg;
    if (d->watch_hit < 0 || session_mode(sv->s) != SESSION_REPLAY || session_icount(sv->s) == 0)
        return;
    int w = d->watch_hit;
    uint64_t addr = d->watch_hit_addr;
    d->nbp = d->nwatch = 0;
    d->skip_hart = -1;
    d->hit_hart = -1;
    if (session_seek(sv->s, session_icount(sv->s) - 1) == SESSION_STOP_TARGET) {
        d->watch_hit = w;
        d->watch_hit_addr = addr;
    }
}

static SessionStop do_step(Server *sv, int hart)
{
    disarm(sv);
    SessionTarget t = { SESSION_TO_STEP, 0, hart };
    return session_advance(sv->s, &t);
}

/* One slice of free running; BREAK stops with m->dbg.hit_hart. */
static SessionStop run_slice(Server *sv)
{
    SessionTarget t = { SESSION_TO_ICOUNT, session_icount(sv->s) + RUN_SLICE, 0 };
    return session_advance(sv->s, &t);
}

/* --- reverse (replay) --- */

static bool seek(Server *sv, uint64_t icount)
{
    disarm(sv);
    return session_seek(sv->s, icount) == SESSION_STOP_TARGET;
}

/* reverse-stepi on `hart`: to the last state before it retired the
 * instruction that brought it here. */
static SessionStop reverse_step(Server *sv, int hart)
{
    uint64_t cur = session_icount(sv->s);
    if (cur == 0)
        return SESSION_STOP_TARGET;
    if (sv->m->nharts == 1)
        return seek(sv, cur - 1) ? SESSION_STOP_TARGET : SESSION_STOP_ERROR;
    uint64_t want = sv->m->harts[hart]->instret;
    /* instret(lo) < want (or lo = 0) <= instret(hi): widen the window
     * backwards from one round-robin round (the usual distance), then bisect */
    uint64_t hi = cur, lo = cur, span = (uint64_t)sv->m->nharts * sv->m->cfg.quantum;
    for (;;) {
        lo = cur > span ? cur - span : 0;
        if (!seek(sv, lo))
            return SESSION_STOP_ERROR;
        if (lo == 0 || sv->m->harts[hart]->instret < want)
            break;
        hi = lo;
        span *= 2;
    }
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (!seek(sv, mid))
            return SESSION_STOP_ERROR;
        if (sv->m->harts[hart]->instret < want)
            lo = mid;
        else
            hi = mid;
    }
    return seek(sv, lo) ? SESSION_STOP_TARGET : SESSION_STOP_ERROR;
}

/* Replay [start, end) with breakpoints armed; the last hit, if any. */
static bool last_hit_in(Server *sv, uint64_t start, uint64_t end, uint64_t *at, int *hart, int *watch,
                        uint64_t *waddr)
{
    if (!seek(sv, start))
        return false;
    bool found = false;
    arm(sv, false);
    for (;;) {
        SessionTarget t = { SESSION_TO_ICOUNT, end, 0 };
        SessionStop st = session_advance(sv->s, &t);
        if (st != SESSION_STOP_BREAK)
            break;
        found = true;
        *at = session_icount(sv->s);
        *hart = sv->m->dbg.hit_hart;
        *watch = sv->m->dbg.watch_hit;
        *waddr = sv->m->dbg.watch_hit_addr;
        arm(sv, true);
    }
    disarm(sv);
    return found;
}

static SessionStop reverse_continue(Server *sv, int *hart)
{
    uint64_t end = session_icount(sv->s);
    for (uint64_t w = RCONT_FIRST_WINDOW; end > 0; w *= 2) {
        uint64_t start = end > w ? end - w : 0, at, waddr;
        int watch;
        if (last_hit_in(sv, start, end, &at, hart, &watch, &waddr)) {
            if (!seek(sv, at))
                return SESSION_STOP_ERROR;
            /* seek disarmed: restore the hit for the stop reply */
            memcpy(sv->m->dbg.watch, sv->g.watch, sizeof sv->m->dbg.watch);
            sv->m->dbg.watch_hit = watch;
            sv->m->dbg.watch_hit_addr = waddr;
            return SESSION_STOP_BREAK;
        }
        end = start;
    }
    *hart = sv->m->cur_hart;
    return seek(sv, 0) ? SESSION_STOP_TARGET : SESSION_STOP_ERROR;
}

/* --- monitor commands --- */

static void monitor(void *opaque, GdbStub *g, const char *cmd)
{
    Server *sv = opaque;
    char buf[256];
    if (strcmp(cmd, "when") == 0) {
        snprintf(buf, sizeof buf, "icount %" PRIu64 "\n", session_icount(sv->s));
    } else if (strcmp(cmd, "info replay") == 0) {
        if (session_mode(sv->s) == SESSION_REPLAY)
            snprintf(buf, sizeof buf, "replay at icount %" PRIu64 " of %" PRIu64 "\n", session_icount(sv->s),
                     session_recording_total(sv->s));
        else
            snprintf(buf, sizeof buf, "not a replay (icount %" PRIu64 ")\n", session_icount(sv->s));
    } else if (strcmp(cmd, "help") == 0) {
        snprintf(buf, sizeof buf, "monitor commands: when, info replay, help\n");
    } else {
        snprintf(buf, sizeof buf, "unknown monitor command '%.100s' (try: monitor help)\n", cmd);
    }
    gdb_stub_console(g, buf);
}

/* --- the loop --- */

/* Carry out what gdb asked for; returns false when the session is over. */
static bool do_resume(Server *sv)
{
    GdbResume r = sv->g.resume;
    int hart = sv->g.resume_hart;
    sv->g.resume = GDB_RESUME_NONE;
    SessionStop st;
    switch (r) {
    case GDB_RESUME_NONE:
        return true;
    case GDB_RESUME_KILL:
        sv->quit = true;
        return false;
    case GDB_RESUME_DETACH:
        drop_connection(sv);
        return true;
    case GDB_RESUME_CONTINUE:
        arm(sv, true);
        sv->g.interrupt = false;
        sv->stopped = false;
        return true;
    case GDB_RESUME_STEP:
        st = do_step(sv, hart);
        break;
    case GDB_RESUME_RSTEP:
        st = reverse_step(sv, hart);
        break;
    case GDB_RESUME_RCONTINUE:
        st = reverse_continue(sv, &hart);
        break;
    default:
        return true;
    }
    report(sv, st, hart);
    return !session_over(st);
}

static int serve(Server *sv)
{
    for (;;) {
        if (sv->quit)
            return 0;
        if (sv->stopped) {
            if (evloop_run_once(&sv->loop, -1) < 0 || !do_resume(sv))
                return 0;
            continue;
        }
        SessionStop st = run_slice(sv);
        evloop_run_once(&sv->loop, 0);
        if (sv->g.resume != GDB_RESUME_NONE && !do_resume(sv))
            return 0;
        if (st == SESSION_STOP_BREAK) {
            int hart = sv->m->dbg.hit_hart;
            if (sv->cfd < 0) {
                arm(sv, true); /* gdb left: nobody to stop for */
                continue;
            }
            sv->stopped = true;
            watch_stop_before_access(sv);
            report(sv, st, hart);
            disarm(sv);
        } else if (st == SESSION_STOP_END) {
            if (sv->cfd < 0)
                return 0;
            sv->stopped = true;
            report(sv, st, sv->m->cur_hart);
        } else if (session_over(st)) {
            report(sv, st, sv->m->cur_hart);
            return 0;
        } else if (sv->g.interrupt && sv->cfd >= 0) {
            sv->g.interrupt = false;
            disarm(sv);
            sv->stopped = true;
            char buf[64];
            snprintf(buf, sizeof buf, "T02thread:%x;", sv->m->cur_hart + 1); /* SIGINT */
            gdb_stub_send(&sv->g, buf);
            sv->g.g_hart = sv->m->cur_hart;
            flush_out(sv);
        }
    }
}

/* --gdb: gdb-multiarch on our terminal, connected to the socket. */
static pid_t launch_gdb(const char *sock, const char *symbols)
{
    char target[4200];
    snprintf(target, sizeof target, "target remote %s", sock);
    pid_t pid = fork();
    if (pid == 0) {
        const char *argv[] = { "gdb-multiarch", "-q", "-nx", "-ex", "set architecture riscv:rv64",
                               "-ex", target, symbols, NULL };
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "rrvm: --gdb: cannot run gdb-multiarch: %s\n", strerror(errno));
        _exit(127);
    }
    return pid;
}

int gdb_server_main(const SessionOptions *o, const DebugOptions *d)
{
    SessionOptions opts = *o;
    DebugOptions dd = *d;
    char tmpdir[] = "/tmp/rrvm-gdb-XXXXXX", sockspec[64];
    if (dd.launch_gdb) {
        if (!mkdtemp(tmpdir)) {
            fprintf(stderr, "rrvm: --gdb: %s\n", strerror(errno));
            return 2;
        }
        snprintf(sockspec, sizeof sockspec, "unix:%s/gdb.sock", tmpdir);
        dd.gdb = sockspec;
        dd.wait = true;
        opts.serial = "none"; /* the terminal is gdb's */
    }
    d = &dd;
    if (opts.mode == SESSION_REPLAY)
        opts.time_travel = true; /* reverse execution seeks */
    char err[512];
    Server sv = { .lfd = -1, .cfd = -1 };
    sv.lfd = hostsock_listen(d->gdb, d->allow_remote, err, sizeof err);
    if (sv.lfd < 0) {
        fprintf(stderr, "rrvm: -gdb %s\n", err);
        return 2;
    }
    int status;
    sv.s = session_open(&opts, &status);
    if (!sv.s) {
        close(sv.lfd);
        return status;
    }
    sv.m = session_machine(sv.s);
    start_stub(&sv);
    evloop_init(&sv.loop);
    evloop_add(&sv.loop, sv.lfd, on_accept, &sv);
    sv.stopped = d->wait;
    if (d->launch_gdb)
        sv.gdb_pid = launch_gdb(d->gdb + 5, d->symbols);
    else if (d->wait)
        fprintf(stderr, "rrvm: waiting for gdb on %s\n", d->gdb);
    serve(&sv);
    disarm(&sv);
    if (sv.cfd >= 0)
        close(sv.cfd);
    close(sv.lfd);
    if (strncmp(d->gdb, "unix:", 5) == 0)
        unlink(d->gdb + 5);
    if (d->launch_gdb)
        rmdir(tmpdir);
    if (sv.gdb_pid > 0)
        while (waitpid(sv.gdb_pid, NULL, 0) < 0 && errno == EINTR)
            ;
    gdb_stub_free(&sv.g);
    return session_close(sv.s);
}
