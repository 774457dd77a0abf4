/*
 * session.h - one run of the machine in a given mode: live (`rrvm run`),
 * record (`rrvm record`) or replay (`rrvm replay`). The session owns the
 * machine, the host backends and the log, and it is the only place where
 * host inputs reach the machine (through the gates in gate_*.c).
 *
 * The session is resumable: session_open builds it, session_advance runs it
 * to a target and returns why it stopped, session_seek (replay) moves to any
 * icount backwards or forwards, session_close reports and frees. This is
 * the API of the debug layer (gdb stub, monitor); session_main is a driver
 * for the command line on top of it.
 *
 * Invariant: "the state at icount N" of a replay is the state when N
 * instructions have retired and none of the recording's asynchronous
 * events at N (input, idle time, checkpoint) has been applied yet; a seek,
 * a --stop-at and an in-memory checkpoint all mean that state, so a digest
 * at N does not depend on the path that reached N.
 */
#ifndef RRVM_SESSION_H
#define RRVM_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/machine.h"

#define RRVM_VERSION "0.2.0"

typedef enum SessionMode { SESSION_RUN, SESSION_RECORD, SESSION_REPLAY } SessionMode;

enum { IMG_BIOS = 0, IMG_KERNEL, IMG_INITRD, IMG_DTB, IMG_COUNT };

/* A disk's host side (run/record), by device index: the base image and
 * the overlay file (-drive ...,overlay=FILE). */
typedef struct SessionDrive {
    const char *path;    /* NULL: not a disk */
    const char *format;  /* "raw", "qcow2", NULL: probe */
    const char *overlay; /* NULL: none */
} SessionDrive;

/* console ports: the UART (0) and virtconsole ports (1..); -chardev options */
#define SESSION_MAX_PORTS 32
#define SESSION_MAX_CHARDEVS 16

typedef struct SessionOptions {
    SessionMode mode;
    const char *rr_path;        /* record: output; replay: input */
    bool force;                 /* record: replace an existing rr_path */
    bool pack;                  /* record: store the images in the recording */
    const char *cmdline;        /* record: the command line, kept in the recording */
    const char *serial;         /* "stdio" (default), "none", "file:PATH" */
    const char *image_dir;      /* replay: where to look for moved images */
    const char *dump_dtb;       /* write the device tree here */
    bool print_digest;          /* "digest: <hex>" on stderr at exit */
    bool print_stats;           /* instructions, time, MIPS on stderr */
    uint64_t checkpoint_interval; /* record: checkpoint spacing after an input; given alone,
                                   * fixed spacing and every checkpoint full (0 = default) */
    uint64_t checkpoint_max_interval;  /* record: spacing while no input arrives (0 = default) */
    uint64_t full_checkpoint_interval; /* record: a full checkpoint this often (0 = default) */
    bool verify_strict;         /* a checkpoint after every event */
    bool on_divergence_continue;
    bool no_reboot;             /* -no-reboot: a guest reset ends the run (exit 0);
                                 * record stores it, replay reads it back */
    bool quiet;                 /* --quiet: no progress bar */
    int jit_mode;               /* --jit: JitMode (machine/cpu/jit.h); never recorded */
    bool stdin_taken;           /* -monitor stdio, replay --gdb: the terminal is taken;
                                 * a replay reads no Ctrl-A keys from it */
    /* -seed N: random bytes come from a PRNG seeded with N instead of the
     * host (as QEMU's -seed); still logged, so replay is unaffected */
    bool seed_set;
    uint64_t seed;
    /* -chardev (host-side: never in MachineConfig). Run/record: the
     * backends; replay: where outputs go, by the recording's chardev ids. */
    const char *chardev[SESSION_MAX_CHARDEVS];
    int nchardevs;
    const char *port_chardev[SESSION_MAX_PORTS]; /* run/record: chardev id per console
                                                  * port (0: -serial chardev:ID), or NULL */
    bool allow_remote_chardev;  /* a socket chardev may use a non-loopback host */
    MachineConfig cfg;          /* run/record */
    const char *image_path[IMG_COUNT]; /* run/record; NULL = absent */
    SessionDrive drive[MACHINE_MAX_DEVICES]; /* run/record, by cfg.devices index */
    /* test only: flip state during replay at an icount ("x5", "pc",
     * "mstatus", "ram:0x80001000") to exercise divergence reports */
    uint64_t perturb_icount;
    const char *perturb_what;
    /* time travel (replay), stopping and snapshots (all modes) */
    bool stop_at_set;            /* --stop-at N: stop there (exit 0) */
    uint64_t stop_at;
    const uint64_t *goto_list;   /* --goto A,B,C: visit in order, print digests */
    size_t goto_count;
    bool goto_timing;            /* print the wall time of each visit */
    bool time_travel;            /* keep in-memory checkpoints (seeking) */
    uint64_t checkpoint_memory;  /* their budget in bytes; 0 = default */
    const char *snapshot_out;    /* --snapshot-out: at --stop-at or at exit */
    const char *from_snapshot;   /* run -loadvm / record --from / replay --from */
    const char *snapshot_dir;    /* replay: where to look for a recording's snapshot */
    /* networking: the -netdev backend of each virtio-net device (indexed
     * like cfg.devices; NULL for other devices), --allow-remote-net, and
     * --net-dump FILE.pcap (any mode) */
    const char *netdev_spec[MACHINE_MAX_DEVICES];
    bool allow_remote_net;
    const char *net_dump;
    bool go_live;                /* replay: after --stop-at, continue live */
    const char *go_live_out;     /* replay --go-live -o G.rr: record what follows */
} SessionOptions;

typedef struct Session Session;

/* Why session_advance returned. */
typedef enum SessionStop {
    SESSION_STOP_TARGET = 0,   /* reached the target */
    SESSION_STOP_END,          /* replay: end of the recording, verified */
    SESSION_STOP_EXIT,         /* run/record: the guest exited or was shut down */
    SESSION_STOP_DIVERGED,     /* replay: the machine disagrees with the log */
    SESSION_STOP_ERROR,        /* bad recording, I/O error, out of memory */
    SESSION_STOP_INTERRUPTED,  /* SIGINT/SIGTERM (replay) */
    SESSION_STOP_BREAK,        /* a debugger breakpoint (m->dbg.hit_hart) */
    SESSION_STOP_YIELD,        /* run/record: the host-wait hook said the
                                * driver has work (see session_set_host_wait) */
} SessionStop;

typedef enum SessionTargetKind {
    SESSION_TO_ICOUNT,  /* run until icount == target.icount */
    SESSION_TO_EVENT,   /* replay: until the next asynchronous event is applied */
    SESSION_TO_STEP,    /* until hart target.hart retires one instruction */
    SESSION_TO_END,     /* until the end (or another stop reason) */
} SessionTargetKind;

typedef struct SessionTarget {
    SessionTargetKind kind;
    uint64_t icount;
    int hart;
} SessionTarget;

/* Build the session (images, log, machine). NULL on failure, after printing
 * a one-line `rrvm:` message; *status is then the exit status. */
Session *session_open(const SessionOptions *o, int *status);
SessionStop session_advance(Session *s, const SessionTarget *t);
/* Replay with time_travel: move to `icount` (earlier or later). Returns
 * SESSION_STOP_TARGET when there, else why not (END: the recording ends
 * before it). */
SessionStop session_seek(Session *s, uint64_t icount);
/* Replay with time travel: keep an in-memory checkpoint of the state at
 * the current icount (a later seek here restores it instead of re-running;
 * false only when out of memory), and the icount of the latest checkpoint
 * at or before `icount` (false: none). */
bool session_checkpoint_here(Session *s);
bool session_checkpoint_before(const Session *s, uint64_t icount, uint64_t *ck);
uint64_t session_icount(const Session *s);
Machine *session_machine(Session *s);
SessionMode session_mode(const Session *s);
/* Replay: the recording's final icount (scans the log once). */
uint64_t session_recording_total(Session *s);
/* Write a snapshot of the current state; false (message printed) on error. */
bool session_write_snapshot(Session *s, const char *path);
/* Replay stopped at a target: from here on take host inputs (console,
 * signals) and, when rr_out is given, record what follows into a new
 * recording that starts from a snapshot of this state. */
bool session_go_live(Session *s, const char *rr_out);
/* --- for an interactive driver (src/debug/server.c) --- */

/* Host-requested machine events. Run and record: carried out at the current
 * icount (record logs them: RLOG_RESET, RLOG_POWERDOWN, RLOG_SHUTDOWN with
 * cause RLOG_SHUTDOWN_MONITOR) so a replay repeats them. Replay: RESET and
 * POWERDOWN are refused (false, one line in err). QUIT ends the session in
 * every mode: the next session_advance returns SESSION_STOP_EXIT and
 * session_close returns 0 (a replay stops where it stands; the recording's
 * end is not checked). Once the session has ended (guest exit, shutdown,
 * failure), RESET and POWERDOWN are refused and QUIT does nothing. Only
 * between session_advance calls, never from inside one. */
typedef enum SessionRequest { SESSION_REQ_RESET, SESSION_REQ_POWERDOWN, SESSION_REQ_QUIT } SessionRequest;
bool session_request(Session *s, SessionRequest r, char *err, size_t errlen);

/* What the session tells its driver as it happens, in every mode (a replay
 * notices what the recording did at the same icount). */
typedef enum SessionNoticeKind {
    SESSION_NOTICE_RESET,     /* guest: the guest asked; else the host */
    SESSION_NOTICE_POWERDOWN, /* host system_powerdown (no device on this board
                               * acts on it, as on QEMU's RISC-V virt) */
    SESSION_NOTICE_SHUTDOWN,  /* reason: QEMU's ShutdownCause name */
} SessionNoticeKind;
typedef struct SessionNotice {
    SessionNoticeKind kind;
    bool guest;
    const char *reason; /* "guest-shutdown", "guest-reset", "guest-panic",
                         * "host-qmp-quit", "host-qmp-system-reset",
                         * "host-signal", "host-ui"; POWERDOWN:
                         * "host-qmp-system-powerdown". Never NULL. */
    uint64_t icount;
} SessionNotice;
/* A replay tells each point of the recording's history once: a seek that
 * re-executes it tells nothing again. QUIT in a replay is told at once. */
typedef void (*SessionNoticeFn)(void *opaque, const SessionNotice *n);
void session_set_observer(Session *s, SessionNoticeFn fn, void *opaque);

/* Run/record: while every hart is idle the session waits for the host.
 * With a hook set, it calls wait(opaque, fds, nfds, timeout_ns) instead of
 * waiting on the host inputs (console, chardevs: fds) alone: return 0 on
 * timeout, 1 when such input
 * may be readable, 2 when the driver has work (its own sockets are
 * readable): session_advance then returns SESSION_STOP_YIELD at once. The
 * time that actually passed is logged as idle time either way. With a
 * hook, a guest idle with no timer armed and no console waits for the
 * driver (without one, the session fails: nothing could wake it). The
 * hook must not call back into the session. */
#define SESSION_CONSOLE_MAX_FDS (1 + 2 * SESSION_MAX_CHARDEVS)
#define SESSION_WAIT_MAX_FDS (SESSION_CONSOLE_MAX_FDS + 64) /* + network backends */
typedef int (*SessionHostWaitFn)(void *opaque, const int *fds, int nfds, uint64_t timeout_ns);
void session_set_host_wait(Session *s, SessionHostWaitFn wait, void *opaque);

/* The console shared with a human monitor (-serial mon:stdio; Ctrl-A c
 * switches, as QEMU's mux). While the monitor has the console, typed bytes
 * go to input(opaque, buf, n) and not to the guest (nor to the recording).
 * input() is called from inside session_advance and session_console_poll:
 * it must only buffer. In a replay typed input is read only from a
 * terminal (as for Ctrl-A x); survives session_go_live. */
typedef void (*SessionMonitorInputFn)(void *opaque, const uint8_t *buf, size_t n);
void session_console_set_monitor(Session *s, SessionMonitorInputFn input, void *opaque);
/* True while Ctrl-A c has given the console to the monitor. */
bool session_console_in_monitor(const Session *s);
/* The fd of typed console input (stdin), or -1 when none is read. */
int session_console_fd(const Session *s);
/* Read typed input now (the driver's loop, while the machine is stopped):
 * Ctrl-A escapes are processed; guest-bound bytes wait for the guest (run,
 * record: logged when the UART takes them) or are dropped (replay). */
void session_console_poll(Session *s);

/* The driver's loop while the machine is stopped: a SIGINT/SIGTERM or
 * Ctrl-A x that arrived ends the session as it would while running (record
 * logs the shutdown at this icount; a replay ends interrupted). Returns
 * SESSION_STOP_EXIT or SESSION_STOP_INTERRUPTED then, else
 * SESSION_STOP_TARGET. */
SessionStop session_poll_host(Session *s);

/* Report (errors, halt, --digest, --stats), free, return the exit status. */
int session_close(Session *s);

/* Runs the session; returns the process exit status. */
int session_main(const SessionOptions *o);

#endif
