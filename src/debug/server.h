/*
 * server.h - an interactive session: the machine driven from debugger and
 * monitor front ends (gdb stub, QMP, HMP) on one host event loop (evloop.h).
 *
 * The server owns the Session, the event loop and the run state (running
 * or stopped, and why). It runs the machine in slices between polls; while
 * the machine is stopped it sleeps in poll (no busy waiting). Front ends
 * register their sockets with server_loop() and act through the functions
 * below; they learn what happened through ServerEvent callbacks (QMP turns
 * them into events, gdb into stop replies).
 *
 * Invariants:
 *  - Stopping, continuing, breakpoints and seeking never change what the
 *    guest sees; virtual time does not advance while stopped.
 *  - Anything that does change the guest (reset, powerdown, quit) goes
 *    through session_request(), which logs it while recording; in a replay
 *    it is refused (the replay must stay the recording's).
 *  - Every front-end call returns; errors come back as one line of text.
 */
#ifndef RRVM_SERVER_H
#define RRVM_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/evloop.h"
#include "replay/session.h"

typedef struct Server Server;

/* The command line's debugger and monitor options. */
#define SERVER_MAX_QMP 8
typedef struct DebugOptions {
    const char *gdb;    /* "tcp:HOST:PORT" or "unix:PATH"; NULL: no stub */
    bool wait;          /* -S: do not start the guest before gdb or a monitor says so */
    bool allow_remote;  /* --allow-remote-debug: a non-loopback TCP address */
    bool launch_gdb;    /* replay --gdb: start gdb-multiarch attached (as rr replay) */
    const char *symbols; /* --symbols FILE: the ELF gdb loads symbols from */
    const char *qmp[SERVER_MAX_QMP]; /* -qmp SPEC, several */
    int nqmp;
    bool allow_remote_monitor; /* --allow-remote-monitor */
    bool monitor_stdio; /* -monitor stdio: the HMP prompt owns the terminal */
    bool monitor_mux;   /* -serial mon:stdio: Ctrl-A c switches console/monitor */
} DebugOptions;

/* True when the options ask for an interactive session. */
bool server_wanted(const DebugOptions *d);
/* Run the session under the server; returns the process exit status. */
int server_main(const SessionOptions *o, const DebugOptions *d);

#define SERVER_MAX_BREAKS 256   /* replay-break points */
#define SERVER_MAX_SAVEVM 64    /* named savevm states */
#define SERVER_MAX_FRONTENDS 16

/* What front ends are told. */
typedef enum ServerEventKind {
    SEV_STOP,       /* the machine stopped; reason: see ServerStopReason */
    SEV_RESUME,     /* the machine runs again */
    SEV_RESET,      /* a reset happened (guest: the guest asked for it) */
    SEV_POWERDOWN,  /* system_powerdown was requested (QMP POWERDOWN) */
    SEV_SHUTDOWN,   /* the machine shut down; `reason` is QEMU's ShutdownCause
                     * ("guest-shutdown", "guest-reset", "host-qmp-quit",
                     * "host-signal", "host-ui", ...) */
    SEV_REPLAY_END, /* replay: the end of the recording was reached (verified) */
    SEV_REPLAY_DIVERGED, /* replay: the machine disagrees with the recording */
} ServerEventKind;

typedef enum ServerStopReason {
    STOP_NONE = 0,
    STOP_USER,          /* `stop` from a monitor, or -S */
    STOP_DEBUG,         /* a gdb breakpoint, watchpoint, step or interrupt */
    STOP_REPLAY_BREAK,  /* a replay-break icount was reached */
    STOP_SEEK,          /* a replay-seek or loadvm arrived */
    STOP_REPLAY_END,    /* the recording's end */
    STOP_SHUTDOWN,      /* the guest exited or a shutdown was asked for */
    STOP_ERROR,         /* diverged or failed: the session is over */
} ServerStopReason;

typedef struct ServerEvent {
    ServerEventKind kind;
    ServerStopReason stop;  /* SEV_STOP */
    bool guest;             /* SEV_RESET, SEV_SHUTDOWN: the guest caused it */
    const char *reason;     /* SEV_SHUTDOWN: QEMU's cause name; else NULL */
    uint64_t icount;        /* where it happened */
} ServerEvent;

typedef void (*ServerEventFn)(void *opaque, const ServerEvent *ev);

/* --- for front ends --- */

Evloop *server_loop(Server *sv);
Session *server_session(Server *sv);
Machine *server_machine(Server *sv);
/* Register a listener for events; false when the table is full. */
bool server_listen_events(Server *sv, ServerEventFn fn, void *opaque);
void server_unlisten_events(Server *sv, void *opaque);

bool server_running(const Server *sv);
ServerStopReason server_stop_reason(const Server *sv);
/* QEMU's RunState name for query-status: "running", "paused", "debug",
 * "shutdown", "internal-error", "prelaunch" */
const char *server_status_name(const Server *sv);
uint64_t server_icount(const Server *sv);
/* The recording being written or replayed; NULL in a plain run. */
const char *server_recording_path(const Server *sv);

/* Stop the machine (no-op when stopped). Emits SEV_STOP. */
void server_stop(Server *sv, ServerStopReason why);
/* Let the machine run. Emits SEV_RESUME. False (message) when it cannot
 * run any more (shut down, replay at its end, failed). */
bool server_cont(Server *sv, char *err, size_t errlen);
/* End the session after the current call returns (QMP quit, gdb kill).
 * Recording: logged as a monitor shutdown. */
void server_quit(Server *sv);
/* system_reset / system_powerdown: run and record only (logged). */
bool server_system_reset(Server *sv, char *err, size_t errlen);
bool server_system_powerdown(Server *sv, char *err, size_t errlen);

/* replay-break: stop when icount reaches `icount` (any mode; must be ahead
 * of the current icount). Several may be set. */
bool server_break_add(Server *sv, uint64_t icount, char *err, size_t errlen);
/* Delete one (all_breaks: every one). False when there is no such break. */
bool server_break_delete(Server *sv, uint64_t icount, bool all_breaks, char *err, size_t errlen);
/* The breaks, ascending; returns how many (at most max are copied). */
size_t server_breaks(const Server *sv, uint64_t *out, size_t max);

/* Replay only: move to icount (back or forward); the machine is stopped
 * there afterwards (STOP_SEEK). */
bool server_seek(Server *sv, uint64_t icount, char *err, size_t errlen);

/* savevm / loadvm / delvm NAME. In a replay a name stands for a position
 * (the state at an icount is a pure function of the recording), so loadvm
 * seeks there, also backwards. */
bool server_savevm(Server *sv, const char *name, char *err, size_t errlen);
bool server_loadvm(Server *sv, const char *name, char *err, size_t errlen);
bool server_delvm(Server *sv, const char *name, char *err, size_t errlen);
typedef struct ServerSavedVm {
    char name[64];
    uint64_t icount;
} ServerSavedVm;
size_t server_savedvms(const Server *sv, ServerSavedVm *out, size_t max);

/* A front end that advanced or sought the session itself (gdb's step and
 * reverse execution) reports how it stopped, so the server's state and the
 * events (end of replay, shutdown, divergence) stay right. */
void server_after_advance(Server *sv, SessionStop st);
/* Front ends that hold the session open at the end of a replay (a client
 * is connected, or a monitor was asked for) */
void server_hold(Server *sv, bool on);

/* Replay: continue live from here (x-rrvm-go-live / go_live [FILE]). */
bool server_go_live(Server *sv, const char *rr_out, char *err, size_t errlen);

#endif
