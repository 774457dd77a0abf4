/*
 * gdb_server.c - the gdb front end of the interactive server (server.c):
 * one listening socket, at most one gdb connection, the stub's protocol
 * state (gdb_stub.c), and what gdb asks for carried out on the session.
 *
 * Forward execution arms the stub's breakpoints in m->dbg whenever the
 * server runs, whoever resumed it; stepping, seeking and reverse execution
 * run with them disarmed, so a seek always reaches its target. Reverse
 * execution (replay) is built on session_seek: reverse-stepi finds, by
 * bisection over icounts, the last point before the current hart retired
 * its previous instruction; reverse-continue replays intervals backwards
 * from here, each forward with breakpoints armed, and stops at the last
 * hit of the nearest interval that has one.
 *
 * Invariants: nothing here writes guest state in replay (the stub refuses
 * writes), so a replay driven from gdb ends with the recording's digest.
 * gdb gets a stop reply only after it resumed the guest (`waiting`), once.
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
#include "debug/monitor.h"
#include "host/evloop.h"
#include "host/hostsock.h"
#include "machine/cpu/hart.h"

#define RCONT_FIRST_WINDOW 1000000ull   /* reverse-continue's first interval */
#define RCONT_MAX_WINDOW 32000000ull    /* ... and its largest */
#define RCONT_HIT_CK_GAP 2000000ull     /* checkpoint hits this far apart */

struct GdbFront {
    Server *srv;
    Session *s;         /* set by gdb_front_start */
    Machine *m;
    GdbStub g;
    bool stub_ready;
    int lfd, cfd;       /* listening socket, connection (-1: none) */
    bool waiting;       /* gdb resumed the guest and waits for a stop reply */
    bool interrupting;  /* Ctrl-C arrived: the next stop is a SIGINT */
    bool driving;       /* we step or seek ourselves: ignore server events */
    bool launch;        /* --gdb */
    pid_t gdb_pid;      /* --gdb: the gdb-multiarch we started, else 0 */
    const char *spec;   /* "unix:PATH" or "tcp:HOST:PORT" */
    const char *symbols;
    char tmpdir[32];    /* --gdb: the socket's directory, "" if none */
    char sockspec[64];
};

/* --- connection --- */

static void close_connection(GdbFront *f)
{
    evloop_remove(server_loop(f->srv), f->cfd);
    close(f->cfd);
    f->cfd = -1;
}

static void flush_out(GdbFront *f)
{
    if (f->cfd >= 0 && f->g.out_len && !hostsock_write_all(f->cfd, f->g.out, f->g.out_len))
        close_connection(f);
    gdb_stub_out_consumed(&f->g);
}

/* gdb left (hang-up or detach): its breakpoints go, the guest runs on. */
static void drop_connection(GdbFront *f)
{
    char err[256];
    close_connection(f);
    f->g.nbp = 0;
    f->g.nwatch = 0;
    f->waiting = false;
    machine_debug_disarm(&f->m->dbg);
    server_hold(f->srv, false);
    if (f->gdb_pid > 0)
        server_quit(f->srv); /* the gdb we started is gone: so is the session */
    else
        server_cont(f->srv, err, sizeof err);
}

static void do_resume(GdbFront *f);

static void on_readable(void *opaque, int fd)
{
    GdbFront *f = opaque;
    uint8_t buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
        return;
    if (n <= 0) {
        drop_connection(f);
        return;
    }
    gdb_stub_input(&f->g, buf, (size_t)n);
    flush_out(f);
    if (f->g.interrupt) {
        f->g.interrupt = false;
        if (server_running(f->srv) && f->waiting) {
            f->interrupting = true;
            server_stop(f->srv, STOP_DEBUG);
        }
    }
    if (f->cfd >= 0 && f->g.resume != GDB_RESUME_NONE)
        do_resume(f);
}

static void monitor(void *opaque, GdbStub *g, const char *cmd);

/* A fresh protocol state for each connection (ack mode, threads, no
 * breakpoints). */
static void start_stub(GdbFront *f)
{
    if (f->stub_ready)
        gdb_stub_free(&f->g);
    gdb_stub_init(&f->g, f->m, session_mode(f->s) == SESSION_REPLAY);
    f->stub_ready = true;
    f->g.monitor = monitor;
    f->g.monitor_opaque = f;
}

static void on_accept(void *opaque, int fd)
{
    GdbFront *f = opaque;
    int c = hostsock_accept(fd);
    if (c < 0)
        return;
    if (f->cfd >= 0 || !f->s) {
        close(c); /* one debugger at a time */
        return;
    }
    f->cfd = c;
    start_stub(f);
    evloop_add(server_loop(f->srv), c, on_readable, f);
    server_hold(f->srv, true);
    f->waiting = false;
    f->driving = true; /* gdb expects a stopped target when it attaches; it asks why with '?' */
    server_stop(f->srv, STOP_DEBUG);
    f->driving = false;
}

/* --- breakpoints in the machine --- */

static void arm(GdbFront *f, bool leaving_stop)
{
    MachineDebug *d = &f->m->dbg;
    d->nbp = f->g.nbp;
    memcpy(d->bp, f->g.bp, sizeof d->bp);
    d->hit_hart = -1;
    d->watch_hit = -1;
    d->nwatch = f->g.nwatch;
    memcpy(d->watch, f->g.watch, sizeof d->watch);
    if (d->nwatch) /* watched pages must leave the TLBs (a pure cache) */
        for (int i = 0; i < f->m->nharts; i++)
            mmu_tlb_flush(f->m->harts[i]);
    if (leaving_stop) {
        /* the hart that runs next does not stop again where it stands */
        d->skip_hart = f->m->cur_hart;
        d->skip_pc = f->m->harts[f->m->cur_hart]->pc;
    }
}

static void disarm(GdbFront *f) { machine_debug_disarm(&f->m->dbg); }

/* --- reporting --- */

/* The stop reason for a watchpoint hit (m->dbg.watch_hit), or "". */
static void watch_reason(GdbFront *f, char *buf, size_t len)
{
    const MachineDebug *d = &f->m->dbg;
    buf[0] = 0;
    if (d->watch_hit < 0)
        return;
    int kind = d->watch[d->watch_hit].kind;
    snprintf(buf, len, "%s:%" PRIx64 ";",
             kind == WATCH_WRITE ? "watch" : kind == WATCH_READ ? "rwatch" : "awatch", d->watch_hit_addr);
}

static void report(GdbFront *f, SessionStop st, int hart)
{
    char extra[64] = "";
    if (f->cfd < 0)
        return;
    switch (st) {
    case SESSION_STOP_EXIT:
        gdb_stub_send(&f->g, f->m->exit_code ? "W01" : "W00");
        break;
    case SESSION_STOP_ERROR:
    case SESSION_STOP_DIVERGED:
    case SESSION_STOP_INTERRUPTED:
        gdb_stub_console(&f->g, "rrvm: the session failed; see rrvm's stderr\n");
        gdb_stub_send(&f->g, "X0f");
        break;
    case SESSION_STOP_END:
        gdb_stub_stopped(&f->g, hart, "replaylog:end;");
        break;
    default:
        if (st == SESSION_STOP_BREAK)
            watch_reason(f, extra, sizeof extra);
        else if (session_mode(f->s) == SESSION_REPLAY && session_icount(f->s) == 0)
            strcpy(extra, "replaylog:begin;");
        gdb_stub_stopped(&f->g, hart, extra);
        break;
    }
    flush_out(f);
}

static void report_sigint(GdbFront *f)
{
    char buf[64];
    snprintf(buf, sizeof buf, "T02thread:%x;", f->m->cur_hart + 1);
    gdb_stub_send(&f->g, buf);
    f->g.g_hart = f->m->cur_hart;
    flush_out(f);
}

/* gdb's RISC-V port treats watchpoints as triggering before the access
 * (as debug triggers do) and steps over the instruction itself; the
 * machine stops after it. In replay, step back to before it so gdb's own
 * step lands exactly after the access (live runs cannot go back: gdb then
 * stops one instruction late). Reverse-continue needs no such step: gdb
 * steps backwards over the access itself. */
static void watch_stop_before_access(GdbFront *f)
{
    MachineDebug *d = &f->m->dbg;
    if (d->watch_hit < 0 || session_mode(f->s) != SESSION_REPLAY || session_icount(f->s) == 0)
        return;
    int w = d->watch_hit;
    uint64_t addr = d->watch_hit_addr;
    disarm(f);
    if (session_seek(f->s, session_icount(f->s) - 1) == SESSION_STOP_TARGET) {
        d->watch_hit = w;
        d->watch_hit_addr = addr;
    }
}

/* The server stopped or resumed the machine. */
static void on_event(void *opaque, const ServerEvent *ev)
{
    GdbFront *f = opaque;
    if (f->driving || f->cfd < 0)
        return;
    if (ev->kind == SEV_RESUME) {
        arm(f, true); /* gdb's breakpoints hold whoever resumed the guest */
        return;
    }
    if (ev->kind != SEV_STOP)
        return;
    bool was_waiting = f->waiting;
    f->waiting = false;
    if (!was_waiting) {
        disarm(f);
        return;
    }
    int hart = f->m->dbg.hit_hart;
    switch (ev->stop) {
    case STOP_DEBUG:
        if (hart >= 0 && !f->interrupting) {
            f->driving = true;
            watch_stop_before_access(f);
            f->driving = false;
            report(f, SESSION_STOP_BREAK, hart);
        } else {
            report_sigint(f);
        }
        break;
    case STOP_REPLAY_END:
        report(f, SESSION_STOP_END, f->m->cur_hart);
        break;
    case STOP_SHUTDOWN:
        report(f, SESSION_STOP_EXIT, f->m->cur_hart);
        break;
    case STOP_ERROR:
        report(f, SESSION_STOP_ERROR, f->m->cur_hart);
        break;
    default: /* a monitor's stop, a replay-break, a seek: as an interrupt */
        report_sigint(f);
        break;
    }
    f->interrupting = false;
    disarm(f);
}

/* --- stepping and reverse execution (the server is stopped) --- */

static SessionStop do_step(GdbFront *f, int hart)
{
    disarm(f);
    SessionTarget t = { SESSION_TO_STEP, 0, hart };
    return session_advance(f->s, &t);
}

static bool seek(GdbFront *f, uint64_t icount)
{
    disarm(f);
    return session_seek(f->s, icount) == SESSION_STOP_TARGET;
}

/* reverse-stepi on `hart`: to the last state before it retired the
 * instruction that brought it here. */
static SessionStop reverse_step(GdbFront *f, int hart)
{
    uint64_t cur = session_icount(f->s);
    if (cur == 0)
        return SESSION_STOP_TARGET;
    if (f->m->nharts == 1)
        return seek(f, cur - 1) ? SESSION_STOP_TARGET : SESSION_STOP_ERROR;
    uint64_t want = f->m->harts[hart]->instret;
    /* instret(lo) < want (or lo = 0) <= instret(hi): widen the window
     * backwards from one round-robin round (the usual distance), then bisect */
    uint64_t hi = cur, lo = cur, span = (uint64_t)f->m->nharts * f->m->cfg.quantum;
    for (;;) {
        lo = cur > span ? cur - span : 0;
        if (!seek(f, lo))
            return SESSION_STOP_ERROR;
        if (lo == 0 || f->m->harts[hart]->instret < want)
            break;
        hi = lo;
        span *= 2;
    }
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (!seek(f, mid))
            return SESSION_STOP_ERROR;
        if (f->m->harts[hart]->instret < want)
            lo = mid;
        else
            hi = mid;
    }
    return seek(f, lo) ? SESSION_STOP_TARGET : SESSION_STOP_ERROR;
}

/* Replay [start, end) with breakpoints armed; the last hit, if any. A hit
 * at least RCONT_HIT_CK_GAP after the last one kept leaves a checkpoint, so
 * the final seek to the last hit re-runs at most that much. */
static bool last_hit_in(GdbFront *f, uint64_t start, uint64_t end, uint64_t *at, int *hart, int *watch,
                        uint64_t *waddr)
{
    if (!seek(f, start))
        return false;
    bool found = false;
    uint64_t kept = start;
    arm(f, false);
    for (;;) {
        SessionTarget t = { SESSION_TO_ICOUNT, end, 0 };
        SessionStop st = session_advance(f->s, &t);
        if (st != SESSION_STOP_BREAK)
            break;
        found = true;
        *at = session_icount(f->s);
        *hart = f->m->dbg.hit_hart;
        *watch = f->m->dbg.watch_hit;
        *waddr = f->m->dbg.watch_hit_addr;
        if (*at - kept >= RCONT_HIT_CK_GAP && session_checkpoint_here(f->s))
            kept = *at;
        arm(f, true);
    }
    disarm(f);
    return found;
}

/* Scan backwards in windows (doubling up to RCONT_MAX_WINDOW) for the last
 * hit before the current position. A window starts at an in-memory
 * checkpoint when one is at most a window further back: seeking there
 * costs a restore, not a re-run, and the extra stretch is scanned once
 * instead of being re-run blind and then scanned by the next window. */
static SessionStop reverse_continue(GdbFront *f, int *hart)
{
    uint64_t end = session_icount(f->s);
    for (uint64_t w = RCONT_FIRST_WINDOW; end > 0; w = w * 2 < RCONT_MAX_WINDOW ? w * 2 : RCONT_MAX_WINDOW) {
        uint64_t start = end > w ? end - w : 0, at, waddr, ck;
        if (start > 0 && session_checkpoint_before(f->s, start, &ck) && start - ck <= w)
            start = ck;
        int watch;
        if (last_hit_in(f, start, end, &at, hart, &watch, &waddr)) {
            if (!seek(f, at))
                return SESSION_STOP_ERROR;
            /* seek disarmed: restore the hit for the stop reply */
            memcpy(f->m->dbg.watch, f->g.watch, sizeof f->m->dbg.watch);
            f->m->dbg.watch_hit = watch;
            f->m->dbg.watch_hit_addr = waddr;
            return SESSION_STOP_BREAK;
        }
        end = start;
    }
    *hart = f->m->cur_hart;
    return seek(f, 0) ? SESSION_STOP_TARGET : SESSION_STOP_ERROR;
}

/* --- monitor commands: the shared table (monitor.c) --- */

static void monitor(void *opaque, GdbStub *g, const char *cmd)
{
    GdbFront *f = opaque;
    Strbuf out;
    sb_init(&out);
    f->driving = true; /* a monitor stop or seek is not a stop reply */
    monitor_exec(f->srv, cmd, &out);
    f->driving = false;
    if (out.len && out.buf[out.len - 1] != '\n')
        sb_puts(&out, "\n");
    gdb_stub_console(g, out.oom ? "rrvm: out of memory\n" : sb_str(&out));
    sb_free(&out);
}

/* --- what gdb asked for --- */

static void resume_continue(GdbFront *f)
{
    char err[256];
    f->waiting = true;
    f->interrupting = false;
    if (server_running(f->srv)) {
        arm(f, false);
        return;
    }
    if (server_cont(f->srv, err, sizeof err))
        return; /* the stop reply comes with the server's next stop */
    f->waiting = false;
    /* cannot run: at the end of the replay, or the session is over */
    report(f, server_stop_reason(f->srv) == STOP_REPLAY_END ? SESSION_STOP_END : SESSION_STOP_EXIT,
           f->m->cur_hart);
}

static void do_resume(GdbFront *f)
{
    GdbResume r = f->g.resume;
    int hart = f->g.resume_hart;
    f->g.resume = GDB_RESUME_NONE;
    SessionStop st;
    switch (r) {
    case GDB_RESUME_KILL:
        server_quit(f->srv);
        return;
    case GDB_RESUME_DETACH:
        drop_connection(f);
        return;
    case GDB_RESUME_CONTINUE:
        resume_continue(f);
        return;
    default:
        break;
    }
    /* steps and reverse execution happen here and now, stopped */
    f->driving = true;
    server_stop(f->srv, STOP_DEBUG);
    if (r == GDB_RESUME_STEP)
        st = do_step(f, hart);
    else if (r == GDB_RESUME_RSTEP)
        st = reverse_step(f, hart);
    else if (r == GDB_RESUME_RCONTINUE)
        st = reverse_continue(f, &hart);
    else
        st = SESSION_STOP_TARGET;
    server_after_advance(f->srv, st);
    f->driving = false;
    report(f, st, hart);
}

/* --- life cycle --- */

GdbFront *gdb_front_new(Server *srv, const DebugOptions *d, SessionOptions *opts, char *err, size_t errlen)
{
    GdbFront *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->srv = srv;
    f->lfd = f->cfd = -1;
    f->launch = d->launch_gdb;
    f->symbols = d->symbols;
    f->spec = d->gdb;
    if (f->launch) {
        strcpy(f->tmpdir, "/tmp/rrvm-gdb-XXXXXX");
        if (!mkdtemp(f->tmpdir)) {
            snprintf(err, errlen, "--gdb: %s", strerror(errno));
            f->tmpdir[0] = 0;
            gdb_front_free(f);
            return NULL;
        }
        snprintf(f->sockspec, sizeof f->sockspec, "unix:%s/gdb.sock", f->tmpdir);
        f->spec = f->sockspec;
        opts->serial = "none"; /* the terminal is gdb's */
    }
    char e[512];
    f->lfd = hostsock_listen(f->spec, d->allow_remote, e, sizeof e);
    if (f->lfd < 0) {
        snprintf(err, errlen, "-gdb %s", e);
        gdb_front_free(f);
        return NULL;
    }
    evloop_add(server_loop(srv), f->lfd, on_accept, f);
    server_listen_events(srv, on_event, f);
    return f;
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

void gdb_front_start(GdbFront *f)
{
    f->s = server_session(f->srv);
    f->m = server_machine(f->srv);
    if (f->launch)
        f->gdb_pid = launch_gdb(f->spec + 5, f->symbols);
}

bool gdb_front_waits(const GdbFront *f) { return f->launch; }

void gdb_front_free(GdbFront *f)
{
    if (!f)
        return;
    server_unlisten_events(f->srv, f);
    if (f->cfd >= 0)
        close_connection(f);
    if (f->lfd >= 0) {
        evloop_remove(server_loop(f->srv), f->lfd);
        close(f->lfd);
        if (strncmp(f->spec, "unix:", 5) == 0)
            unlink(f->spec + 5);
    }
    if (f->tmpdir[0])
        rmdir(f->tmpdir);
    if (f->gdb_pid > 0)
        while (waitpid(f->gdb_pid, NULL, 0) < 0 && errno == EINTR)
            ;
    if (f->stub_ready)
        gdb_stub_free(&f->g);
    free(f);
}
