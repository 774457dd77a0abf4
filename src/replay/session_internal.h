/*
 * session_internal.h - the Session struct shared by session.c,
 * session_snapshot.c and the gates (one file per host input source: gate_clock.c, gate_random.c,
 * gate_console.c, gate_idle.c, gate_shutdown.c, gate_disk.c).
 *
 * Gate contract: in SESSION_RUN a gate reads the host; in SESSION_RECORD it
 * reads the host and logs the value with the current icount; in
 * SESSION_REPLAY it never touches the host and delivers the logged value.
 * A gate that finds the log disagreeing with the machine calls
 * session_diverged(), which stops the machine at once; it never waits.
 */
#ifndef RRVM_SESSION_INTERNAL_H
#define RRVM_SESSION_INTERNAL_H

#include <poll.h>
#include <stdarg.h>

#include "checkpoint.h"
#include "ckstore.h"
#include "host/chardev.h"
#include "host/console.h"
#include "log.h"
#include "progress.h"
#include "session.h"
#include "snapshot.h"

/* One input of the guest's consoles (gate_console.c). Port numbers are
 * the recording's: 0 = the UART, then every virtconsole port in
 * cfg.devices order (device by device, port by port), from 1. */
typedef struct ConsolePort {
    int dev, port;           /* dev -1: the UART; else cfg.devices index, port in it */
    char chardev_id[CHARDEV_ID_MAX]; /* "" when it has none */
    Chardev *chr;            /* its backend; NULL: see on_console */
    bool on_console;         /* its bytes are the HostConsole's (stdio, -serial) */
    uint8_t pending[4096];   /* accepted from the host, not yet taken by the device */
    size_t pending_len;
} ConsolePort;

struct Session {
    const SessionOptions *opt;
    SessionMode mode;
    Machine *m;
    HostConsole console;
    RlogWriter *writer;  /* record */
    RlogReader *reader;  /* replay */
    RlogHeader header;
    CheckpointState cps;
    bool cps_ready;
    CheckpointSchedule ck_sched; /* record: when the next log checkpoint is due */
    bool unflushed_input;        /* record: the open frame holds an input event */
    uint64_t last_flush_ns;
    uint64_t last_flush_icount;
    bool started; /* the machine was built and the run began */
    /* console ports and character devices (gate_console.c) */
    ConsolePort *ports;      /* nports of them; ports[0] is the UART */
    int nports;
    Chardev chardevs[SESSION_MAX_CHARDEVS];
    int nchardevs;
    const char *console_spec; /* what the HostConsole opens (-serial, or per the ports) */
    /* shutdown */
    int shutdown_cause; /* 0 none, else RLOG_SHUTDOWN_* */
    bool no_reboot;     /* -no-reboot (replay: from the recording's header) */
    /* failure state: set once, first message wins */
    bool failed;
    int fail_status;
    char fail_msg[4096];
    /* images kept for reset */
    uint8_t *image[IMG_COUNT];
    size_t image_len[IMG_COUNT];
    uint64_t seed_counter; /* -seed: bytes handed out so far */
    /* disks (gate_disk.c), by device index */
    struct BlockImage *disk[MACHINE_MAX_DEVICES];
    uint8_t disk_hash[MACHINE_MAX_DEVICES][16];
    char *disk_path[MACHINE_MAX_DEVICES];
    uint8_t *overlay_in[MACHINE_MAX_DEVICES]; /* the overlay file a disk starts from */
    size_t overlay_in_len[MACHINE_MAX_DEVICES];
    bool disk_error_reported;
    /* statistics */
    uint64_t events_delivered;
    uint64_t idle_skipped_ns;
    uint64_t log_bytes; /* size of the finished recording */
    Progress progress;  /* replay's progress line */
    uint64_t t0_ns;     /* host time at open, for --stats */
    /* replay position (saved with each in-memory checkpoint, see
     * session.c's SessPos) */
    bool consumed_here;     /* an async event at m->icount was applied */
    bool perturbed;         /* --test-perturb done */
    bool ended;             /* the END event was verified */
    bool interrupted;
    bool break_hit;         /* machine_run stopped at a debugger breakpoint */
    uint64_t last_match_icount; /* last checkpoint (or start) that matched */
    /* a digest checkpoint differed: the replay goes on to the next full
     * checkpoint to name what differs, then fails with both reports */
    bool digest_diverged;
    uint64_t digest_diverged_icount;
    char digest_report[1024];
    uint32_t last_event_kind;   /* last asynchronous event applied */
    uint64_t last_event_icount;
    /* time travel */
    CkStore *ckstore;       /* replay with time_travel; NULL otherwise */
    uint64_t ck_every;      /* automatic checkpoint spacing */
    uint64_t next_auto_ck;
    bool cps_resync;        /* a restore happened: re-hash before verifying */
    uint64_t high_water;    /* highest icount reached: console output below it was already shown */
    uint64_t rec_total;     /* the recording's final icount, 0 = unknown */
    uint8_t recording_id[16];
    uint64_t start_icount;  /* icount of the snapshot the session started from */
    bool at_target;         /* the last advance stopped at its target */
    /* the snapshot being opened (between snapshot_prepare and _finish) */
    bool snap_loaded;
    bool building_for_snapshot; /* gate_random gives zeros, logs nothing */
    SnapshotInfo snap_info;
    uint8_t *snap_state;
    size_t snap_state_len;
    const char *snap_path;
    uint8_t *snap_blob;     /* the snapshot's bytes when found packed */
    size_t snap_blob_len;
    char *snap_path_buf;
    const char *go_live_path; /* --go-live -o: the new recording */
    /* networking: each virtio-net device's backend (run/record; NULL in
     * a replay: no backend is opened), and the --net-dump capture */
    struct HostNet *net[MACHINE_MAX_DEVICES];
    int net_nfds[MACHINE_MAX_DEVICES]; /* poll entries each added at the last fill */
    struct Pcap *pcap;
    /* an interactive driver (session.h) */
    SessionNoticeFn observer;
    void *observer_opaque;
    SessionHostWaitFn host_wait;
    void *host_wait_opaque;
    bool yield_requested;   /* the host-wait hook said the driver has work */
    bool quit_requested;    /* replay: a driver's QUIT ended the session */
    /* replay: the last notice sent, as (icount, events_delivered, phase),
     * which grows along the recording's history; a seek re-executing it
     * sends nothing that is not past this mark */
    bool notice_mark_set;
    uint64_t notice_mark_icount, notice_mark_events;
    int notice_mark_phase;
};

/* Where in the handling of an icount a notice arises, for ordering notices
 * at the same icount: the machine's own (a guest reset, before the events
 * at that icount), a log event's, the end of the recording. */
typedef enum NoticePhase { NOTICE_MACHINE = 0, NOTICE_EVENT = 1, NOTICE_END = 2 } NoticePhase;
/* Tell the driver (session_set_observer); in replay only the first time
 * this point of the recording's history is reached. */
void session_notice(Session *s, SessionNoticeKind kind, bool guest, const char *reason, NoticePhase phase);

/* The replay's position, saved with in-memory checkpoints and snapshots
 * (sesspos.c). */
typedef struct SessPos {
    RlogPos log;
    uint64_t events_delivered;
    uint64_t idle_skipped_ns;
    uint32_t shutdown_cause;
    bool perturbed;
    uint32_t fail_status; /* 0, or 3 after --on-divergence=continue */
    uint64_t last_match_icount;
    uint32_t last_event_kind; /* 0: none yet */
    uint64_t last_event_icount;
} SessPos;
void sesspos_encode(const SessPos *p, SerWriter *w);
/* False when buf is not a SessPos this rrvm can have written. */
bool sesspos_decode(const void *buf, size_t len, SessPos *p);

/* Stop the session with an error: prints nothing yet; session_main reports. */
void session_fail(Session *s, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The log disagrees with the machine: a divergence. */
void session_diverged(Session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record: append an event at the current icount (no-op in run mode). */
/* Console output is shown once: not again while a seek re-executes. */
bool session_console_muted(const Session *s);
void session_log(Session *s, uint32_t kind, const void *payload, size_t len);
/* Replay: take the next event, which must be `kind` at the current icount.
 * Returns false (and diverges) otherwise. */
bool session_take(Session *s, uint32_t kind, RlogEvent *ev);

/* gates */
/* Shared by session.c and session_snapshot.c. */
#define MAX_SNAPSHOT_SIZE (64ull << 30)
#define DEFAULT_CHECKPOINT_INTERVAL 10000000ull /* log checkpoints: after an input */
/* a recording made from a snapshot lists it among its images under this
 * role, so `rrvm pack` embeds it and replay finds it like an image */
#define SNAPSHOT_ROLE "snapshot"
/* exit statuses of replay failures (the guest's own code otherwise) */
enum { STATUS_ERROR = 2, STATUS_DIVERGED = 3, STATUS_CUT = 4 };
bool session_recording_identity(const char *path, uint8_t id[16], char *err, size_t errlen);
bool session_snapshot_prepare(Session *s, const char *path, MachineConfig *cfg);
bool session_snapshot_finish(Session *s, MachineConfig *cfg);
void session_snapshot_release(Session *s);
bool session_find_recording_snapshot(Session *s, char *out, size_t outlen);
bool session_build_machine(Session *s, const MachineConfig *cfg);
void session_record_schedule_options(Session *s, RlogHeader *h);
void session_pos_save(const Session *s, SerWriter *w);
void session_start_checkpoint_schedule(Session *s);
bool session_resume_at(Session *s, const void *blob, size_t len);
bool session_load_images_for_replay(Session *s, bool from_snapshot);

uint64_t gate_clock_wall_ns(void *opaque);
void gate_random_bytes(void *opaque, uint8_t *buf, size_t n);
void gate_console_write(void *opaque, const uint8_t *buf, size_t n);
void gate_console_port_write(void *opaque, int dev, int port, const uint8_t *buf, size_t n);
/* The ports of cfg and their backends (-chardev; in a replay output only,
 * routed by the recording's port table); false with the session failed.
 * Record: the port table goes into the header first (record_header). */
bool gate_console_record_header(Session *s);
bool gate_console_open(Session *s, const MachineConfig *cfg);
void gate_console_close(Session *s);
/* Input waiting that a device can take now (the idle wait must not sleep). */
bool gate_console_deliverable(Session *s);
/* Wait up to timeout_ns for host input on any console or chardev (run,
 * record); true when the driver's hook says it has work. */
/* The console ports' input fds worth waiting on (at most
 * SESSION_CONSOLE_MAX_FDS); gate_idle.c waits on them and the network's. */
int gate_console_input_fds(Session *s, int *fds);
/* Some input could still come (a console, a chardev, a listening socket). */
bool gate_console_has_input(Session *s);
void gate_console_poll(Session *s);               /* run/record */
/* network (gate_net.c) */
#define GATE_NET_MAX_FDS 64
bool gate_net_open(Session *s);                   /* backends (run/record), capture */
void gate_net_close(Session *s);
void gate_net_send(void *opaque, int dev, const uint8_t *frame, size_t n);
int gate_net_poll_fill(Session *s, struct pollfd *fds, int max, int *timeout_ms);
void gate_net_poll_dispatch(Session *s, const struct pollfd *fds, int count);
void gate_net_poll(Session *s);                   /* run/record: frames into the guest */
bool gate_net_active(const Session *s);           /* a backend is open */
void gate_net_deliver(Session *s, const RlogEvent *ev); /* replay */
void gate_net_log_stats(Session *s);              /* record: before END */
void gate_net_verify_stats(Session *s, const RlogEvent *ev); /* replay */
void gate_net_perturb_tx(Session *s, int dev);    /* --test-perturb net-tx:N */
/* Read typed input now: guest-bound bytes into pending_in (run, record) or
 * dropped (replay); monitor bytes go to the monitor on the way. */
void gate_console_read_host(Session *s);
void gate_console_deliver(Session *s, const RlogEvent *ev); /* replay */
void gate_console_break_replay(Session *s, const RlogEvent *ev); /* replay */
bool gate_console_replay_quit(Session *s); /* replay: Ctrl-A x typed? */
void gate_idle_wait(Session *s);                  /* run/record */
void gate_idle_replay(Session *s, const RlogEvent *ev);
void gate_shutdown_poll(Session *s);              /* run/record */
void gate_shutdown_host(Session *s, int cause);   /* run/record: log and end */
void gate_shutdown_replay(Session *s, const RlogEvent *ev);
bool gate_disk_read(void *opaque, int dev, uint64_t offset, void *buf, size_t n);
bool gate_disk_open_live(Session *s, const MachineConfig *cfg, char *err, size_t errlen);
bool gate_disk_open_recorded(Session *s, bool with_overlays, char *err, size_t errlen);
bool gate_disk_is_role(const char *role);
bool gate_disk_pack_overlays(Session *s);
bool gate_disk_apply_overlays(Session *s, char *err, size_t errlen);
bool gate_disk_write_overlays(Session *s, char *err, size_t errlen);
void gate_disk_close(Session *s);

#endif
