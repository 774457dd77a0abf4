/*
 * session.c - drives the machine in live, record or replay mode.
 *
 * Record: run in slices; between slices poll the host (console, signals),
 * deliver inputs through the gates (which log them at the current icount),
 * wait in real time when every hart is idle, and write checkpoints as the
 * CheckpointSchedule says (checkpoint.h: a full one now and then, digests
 * between, denser after an input). Live mode is record without a file.
 *
 * Replay: the log decides where to stop. Asynchronous events (console
 * input, idle time, shutdown, checkpoints, the end) are handled when
 * m->icount reaches their icount; synchronous ones (clock reads, random
 * bytes) are consumed by the gates from inside the instruction that asks.
 * Any disagreement - the machine idles or exits where the log continues, a
 * checkpoint digest differs, the log is cut - ends the replay with a precise
 * report; replay never waits for an event that cannot come. A digest-only
 * checkpoint that differs is reported together with the next full one
 * (digest_diverged: the replay goes on to it, a bounded distance).
 *
 * Time travel (replay): in-memory checkpoints (ckstore) hold the machine
 * and the replay's position (SessPos); session_seek restores the nearest
 * one at or before the target and replays forward. Snapshots hold the same
 * on disk; a session can start from one (-loadvm, --from) and a replay can
 * go live (--go-live).
 *
 * Invariants: stopping machine_run() at extra places (record's slices,
 * replay's event icounts, targets, checkpoints) is invisible to the guest;
 * see machine.h. A checkpoint or a stop at icount N is taken before the
 * events at N are applied (consumed_here is false), so "the state at N"
 * has one meaning whatever path reached it.
 */
#include "session_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/hostsys.h"
#include "host/signals.h"
#include "machine/board.h"
#include "machine/cpu/hart.h"
#include "machine/cpu/jit.h"
#include "machine/loader.h"
#include "pack.h"
#include "snapshot.h"

#include <xxhash.h>

#define DEFAULT_CHECKPOINT_MAX_INTERVAL 100000000ull /* while no input arrives */
#define DEFAULT_FULL_CHECKPOINT_INTERVAL 5000000000ull /* full register images */
#define RECORD_SLICE 2000000ull       /* instructions between host polls */
/* with a network backend: frames (TCP's ACKs) reach the guest only between
 * slices, so poll more often (a poll costs microseconds, a slice ~1 ms) */
#define NET_SLICE 200000ull
#define FLUSH_INTERVAL_NS 500000000ull /* a frame holding an input reaches the disk this often, */
#define FLUSH_INTERVAL_ICOUNT 100000000ull /* and at least this many instructions apart; */
#define FLUSH_CKPT_INTERVAL_NS 2000000000ull /* one holding only checkpoints this often */
#define FLUSH_CKPT_INTERVAL_ICOUNT 1000000000ull /* (each frame costs ~60 bytes) */
#define MAX_IMAGE_SIZE RLOG_MAX_IMAGE

static const char *const image_role[IMG_COUNT] = { "bios", "kernel", "initrd", "dtb" };

void session_fail(Session *s, int status, const char *fmt, ...)
{
    if (s->failed)
        return;
    s->failed = true;
    s->fail_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->fail_msg, sizeof s->fail_msg, fmt, ap);
    va_end(ap);
    if (s->digest_diverged) {
        /* a digest checkpoint differed before: that is the divergence */
        char later[sizeof s->fail_msg];
        memcpy(later, s->fail_msg, sizeof later);
        snprintf(s->fail_msg, sizeof s->fail_msg, "%s\nthen, before a full checkpoint: %s", s->digest_report, later);
        if (status != 130)
            s->fail_status = STATUS_DIVERGED;
    }
    if (s->m)
        s->m->exit_requested = true; /* leave machine_run at once */
}

void session_diverged(Session *s, const char *fmt, ...)
{
    if (s->failed)
        return;
    char what[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    Machine *m = s->m;
    char pcs[512] = "";
    size_t off = 0;
    for (int i = 0; m && i < m->nharts && off < sizeof pcs; i++)
        off += (size_t)snprintf(pcs + off, sizeof pcs - off, "%shart %d pc=0x%" PRIx64, i ? ", " : "", i,
                                m->harts[i]->pc);
    session_fail(s, STATUS_DIVERGED, "replay diverged at icount %" PRIu64 " (%s): %s",
                 m ? m->icount : 0, pcs, what);
}

/* Input events, as --stats and the end-of-recording line count them: every
 * logged event but checkpoints and the end, counted where record logs them
 * and where replay consumes them, so both modes give the same number. */
static bool is_input_kind(uint32_t kind)
{
    return kind != RLOG_CHECKPOINT && kind != RLOG_END && kind != RLOG_NET_STATS;
}

/* Record with --verify=strict: a checkpoint of the state now, after an
 * asynchronous event has taken effect. */
static void strict_checkpoint(Session *s)
{
    if (s->mode != SESSION_RECORD || s->failed || !s->opt->verify_strict || !s->cps_ready)
        return;
    SerWriter w;
    ser_writer_init(&w);
    checkpoint_capture(s->m, &s->cps, &w);
    if (!rlog_write(s->writer, s->m->icount, RLOG_CHECKPOINT, w.buf, w.len))
        session_fail(s, 1, "%s: cannot write the recording: %s", s->opt->rr_path, rlog_writer_error(s->writer));
    ser_writer_free(&w);
}

void session_log(Session *s, uint32_t kind, const void *payload, size_t len)
{
    if (is_input_kind(kind) && !s->failed)
        s->events_delivered++;
    if (s->mode != SESSION_RECORD || s->failed)
        return;
    if (!rlog_write(s->writer, s->m->icount, kind, payload, len))
        session_fail(s, 1, "%s: cannot write the recording: %s", s->opt->rr_path, rlog_writer_error(s->writer));
    if (is_input_kind(kind)) {
        s->unflushed_input = true;
        checkpoint_sched_input(&s->ck_sched, s->m->icount);
    }
    /* strict: a checkpoint after every asynchronous event. Synchronous ones
     * (clock, random) are consumed in the middle of an instruction, where
     * the state is not at an instruction boundary. RESET is logged before
     * it takes effect (its own inputs follow it): its caller writes the
     * checkpoint once the machine is reset. */
    bool async = kind == RLOG_UART_RX || kind == RLOG_UART_BREAK || kind == RLOG_IDLE || kind == RLOG_SHUTDOWN ||
                 kind == RLOG_POWERDOWN || kind == RLOG_NET_RX;
    if (async)
        strict_checkpoint(s);
}

static void describe_log_end(Session *s)
{
    if (rlog_reader_truncated(s->reader))
        session_fail(s, STATUS_CUT, "replay stopped at icount %" PRIu64 ": %s", s->m->icount,
                     rlog_reader_error(s->reader));
    else
        session_fail(s, STATUS_ERROR, "replay stopped at icount %" PRIu64 ": %s", s->m->icount,
                     rlog_reader_error(s->reader));
}

bool session_take(Session *s, uint32_t kind, RlogEvent *ev)
{
    if (s->failed)
        return false;
    int r = rlog_peek(s->reader, ev);
    if (r < 0) {
        describe_log_end(s);
        return false;
    }
    if (r == 0 || ev->kind != kind || ev->icount != s->m->icount) {
        if (r == 0)
            session_diverged(s, "the guest asks for %s but the recording has ended", rlog_kind_name(kind));
        else
            session_diverged(s, "the guest asks for %s here, the recording has %s at icount %" PRIu64,
                             rlog_kind_name(kind), rlog_kind_name(ev->kind), ev->icount);
        return false;
    }
    rlog_next(s->reader, ev);
    s->events_delivered++;
    return true;
}

/* --- machine construction and guest-requested reset --- */

/* Start-up phases can take a while on a big guest: a SIGINT/SIGTERM that
 * arrives meanwhile ends the session before the next phase starts. */
static bool startup_interrupted(Session *s, const char *phase)
{
    int sig = host_signal_take();
    if (sig)
        session_fail(s, 130, "interrupted by signal %d while %s", sig, phase);
    return sig != 0;
}

/* -m beyond the host's physical RAM would only end in the OOM killer,
 * without a word: refuse it where the run's RAM is chosen (run, record), and
 * only warn in replay, which must honour the recording's size (the guest
 * may touch far less than it has). A host fact, so checked here, never in
 * the machine. */
static bool check_host_ram(Session *s, const MachineConfig *cfg)
{
    uint64_t host = host_physical_ram_bytes();
    if (!host || cfg->ram_size <= host)
        return true;
    if (s->mode == SESSION_REPLAY) {
        fprintf(stderr, "rrvm: warning: the recording's guest has %" PRIu64 " MiB of RAM (-m), more than this "
                        "host's %" PRIu64 " MiB; the replay fails if the guest touches more than the host can give\n",
                cfg->ram_size >> 20, host >> 20);
        return true;
    }
    session_fail(s, STATUS_ERROR, "-m %" PRIu64 "M is more than this host's physical RAM (%" PRIu64 " MiB)",
                 cfg->ram_size >> 20, host >> 20);
    return false;
}

/* Load the boot images into a machine that is new or just reset, and take
 * the digest baseline both record and replay start from. */
static bool boot_machine(Session *s)
{
    BootImages img = {
        .bios = { s->image[IMG_BIOS], s->image_len[IMG_BIOS] },
        .kernel = { s->image[IMG_KERNEL], s->image_len[IMG_KERNEL] },
        .initrd = { s->image[IMG_INITRD], s->image_len[IMG_INITRD] },
        .dtb = { s->image[IMG_DTB], s->image_len[IMG_DTB] },
    };
    char err[512];
    if (!board_load(s->m, &img, err, sizeof err)) {
        session_fail(s, STATUS_ERROR, "%s", err); /* a bad image */
        return false;
    }
    if (s->failed)
        return false;
    if (s->cps_ready)
        checkpoint_free(&s->cps);
    s->cps_ready = checkpoint_init(&s->cps, s->m);
    if (!s->cps_ready) {
        session_fail(s, 1, "out of memory for the checkpoint page hashes");
        return false;
    }
    return true;
}

/* One line per image, so a wrong or missing -kernel is visible at once. */
static void describe_image(const Session *s, int i)
{
    if (s->opt->quiet)
        return;
    const char *fmt = loader_image_format(s->image[i], s->image_len[i]);
    fprintf(stderr, "rrvm: %s: %s, %zu bytes, %s\n", image_role[i], s->opt->image_path[i], s->image_len[i], fmt);
    if (i == IMG_KERNEL && strcmp(fmt, "raw") == 0)
        fprintf(stderr, "rrvm: warning: the kernel has neither an ELF nor a Linux Image header; "
                        "it is loaded as raw code\n");
}

bool session_build_machine(Session *s, const MachineConfig *cfg)
{
    MachineHostIf host = {
        .opaque = s,
        .wallclock_ns = gate_clock_wall_ns,
        .random_bytes = gate_random_bytes,
        .console_write = gate_console_write,
        .net_send = gate_net_send,
        .disk_read = gate_disk_read,
        .port_write = gate_console_port_write,
    };
    assert(!s->m);
    char err[256];
    s->m = machine_create(cfg, &host, err, sizeof err);
    if (!s->m) {
        session_fail(s, 1, "cannot create the machine (-m %" PRIu64 "M, -smp %d): %s", cfg->ram_size >> 20,
                     cfg->nharts, err);
        return false;
    }
    if (!machine_set_jit(s->m, s->opt->jit_mode)) {
        session_fail(s, STATUS_ERROR, "--jit=%s: this host has no code generator (x86-64 Linux only); "
                     "use --jit=off", s->opt->jit_mode == JIT_MODE_CHECK ? "check" : "on");
        return false;
    }
    if (!gate_disk_apply_overlays(s, err, sizeof err)) {
        session_fail(s, STATUS_ERROR, "%s", err);
        return false;
    }
    return !startup_interrupted(s, "creating the machine") && boot_machine(s);
}

static bool load_images_for_run(Session *s)
{
    const SessionOptions *o = s->opt;
    for (int i = 0; i < IMG_COUNT; i++) {
        if (!o->image_path[i])
            continue;
        char err[512];
        if (!host_read_file(o->image_path[i], MAX_IMAGE_SIZE, &s->image[i], &s->image_len[i], err, sizeof err)) {
            session_fail(s, STATUS_ERROR, "%s: %s", image_role[i], err);
            return false;
        }
        describe_image(s, i);
        /* absolute paths, so a replay started elsewhere finds the images */
        char *abs = realpath(o->image_path[i], NULL);
        bool added = rlog_header_add_image(&s->header, image_role[i], abs ? abs : o->image_path[i], s->image[i],
                                           s->image_len[i]);
        free(abs);
        if (!added) {
            session_fail(s, 1, "too many images for one recording");
            return false;
        }
    }
    return true;
}

/* Replay: find each recorded image packed in the recording, in
 * --image-dir or at its path, and refuse one whose contents differ. The
 * drives too (gate_disk.c), and the overlays they start from unless the
 * machine state comes from a snapshot. */
bool session_load_images_for_replay(Session *s, bool from_snapshot)
{
    for (int k = 0; k < s->header.nimages; k++) {
        const RlogImage *ri = &s->header.images[k];
        int idx = -1;
        for (int i = 0; i < IMG_COUNT; i++)
            if (strcmp(ri->role, image_role[i]) == 0)
                idx = i;
        if (strcmp(ri->role, SNAPSHOT_ROLE) == 0)
            continue; /* the snapshot a recording starts from: find_recording_snapshot */
        if (gate_disk_is_role(ri->role))
            continue; /* below */
        if (idx < 0) {
            session_fail(s, STATUS_ERROR, "the recording uses a %s image, which this rrvm cannot load", ri->role);
            return false;
        }
        char err[8192];
        if (!rlog_find_image(s->reader, ri, s->opt->image_dir, &s->image[idx], &s->image_len[idx], err,
                             sizeof err)) {
            session_fail(s, STATUS_ERROR, "replay: %s image: %s%s", ri->role, err,
                         s->opt->image_dir ? "" : " (use --image-dir DIR if the images moved)");
            return false;
        }
    }
    char err[8192];
    if (!gate_disk_open_recorded(s, !from_snapshot, err, sizeof err)) {
        session_fail(s, STATUS_ERROR, "%s", err);
        return false;
    }
    return true;
}

/* The checkpoint due now: full or a digest, as the schedule says. */
static void write_checkpoint(Session *s)
{
    SerWriter w;
    ser_writer_init(&w);
    if (checkpoint_sched_take(&s->ck_sched, s->m->icount))
        checkpoint_capture(s->m, &s->cps, &w);
    else
        checkpoint_capture_digest(s->m, &s->cps, &w);
    if (w.oom)
        session_fail(s, 1, "out of memory for a checkpoint");
    else
        session_log(s, RLOG_CHECKPOINT, w.buf, w.len);
    ser_writer_free(&w);
}

/* Fill in a record header's checkpoint schedule from the options: given
 * --checkpoint-interval N alone, every checkpoint is full and exactly N
 * apart (fine-grained reports); otherwise the sparse defaults. */
void session_record_schedule_options(Session *s, RlogHeader *h)
{
    const SessionOptions *o = s->opt;
    bool fixed = o->checkpoint_interval != 0;
    h->checkpoint_interval = fixed ? o->checkpoint_interval
                                   : h->checkpoint_interval ? h->checkpoint_interval : DEFAULT_CHECKPOINT_INTERVAL;
    uint64_t max = o->checkpoint_max_interval ? o->checkpoint_max_interval
                   : fixed ? h->checkpoint_interval : DEFAULT_CHECKPOINT_MAX_INTERVAL;
    h->checkpoint_max_interval = max < h->checkpoint_interval ? h->checkpoint_interval : max;
    h->full_checkpoint_interval = o->full_checkpoint_interval ? o->full_checkpoint_interval
                                  : fixed ? h->checkpoint_interval : DEFAULT_FULL_CHECKPOINT_INTERVAL;
}

void session_start_checkpoint_schedule(Session *s)
{
    const RlogHeader *h = &s->header;
    uint64_t base = h->checkpoint_interval ? h->checkpoint_interval : DEFAULT_CHECKPOINT_INTERVAL;
    uint64_t max = h->checkpoint_max_interval > base ? h->checkpoint_max_interval : base;
    checkpoint_sched_start(&s->ck_sched, base, max, h->full_checkpoint_interval, s->m->icount);
}

static void maybe_flush(Session *s)
{
    host_console_flush(&s->console);
    if (s->mode != SESSION_RECORD)
        return;
    /* a frame holding an input reaches the disk within 0.5 s; one holding
     * only checkpoints may wait 2 s or 10^9 instructions: fewer frames, and
     * a recorder killed mid-run still loses at most that much of the tail */
    uint64_t now = host_monotonic_ns(), dt = now - s->last_flush_ns, di = s->m->icount - s->last_flush_icount;
    bool due = s->unflushed_input ? dt >= FLUSH_INTERVAL_NS || di >= FLUSH_INTERVAL_ICOUNT
                                  : dt >= FLUSH_CKPT_INTERVAL_NS || di >= FLUSH_CKPT_INTERVAL_ICOUNT;
    if (due) {
        s->last_flush_ns = now;
        s->last_flush_icount = s->m->icount;
        s->unflushed_input = false;
        if (!rlog_flush(s->writer))
            session_fail(s, 1, "%s: cannot write the recording: %s", s->opt->rr_path, rlog_writer_error(s->writer));
    }
}

/* In place: the Machine pointer survives, so anything holding it (a
 * debugger, a monitor, a checkpoint store) stays valid. */
static bool handle_reset(Session *s)
{
    machine_reset(s->m);
    return boot_machine(s);
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* QEMU's ShutdownCause of a guest's own exit: a halt (trap storm) is a panic */
static const char *guest_exit_reason(const Session *s)
{
    return s->m->halt_reason ? "guest-panic" : "guest-shutdown";
}

/* --- notices to a driver --- */

static void notice_send(Session *s, SessionNoticeKind kind, bool guest, const char *reason)
{
    if (!s->observer)
        return;
    SessionNotice n = { .kind = kind, .guest = guest, .reason = reason, .icount = s->m->icount };
    s->observer(s->observer_opaque, &n);
}

/* A replay's notices follow the recording's history, and a seek re-executes
 * parts of it: a notice is sent only past the last one sent. Its place in
 * the history is (icount, events_delivered, phase): both counters are part
 * of the replay's saved position (SessPos), so a point re-executed after a
 * seek has the key it had the first time, and keys grow along the history
 * (events at one icount each count one more; a guest reset comes before the
 * events at its icount, the end after them). */
void session_notice(Session *s, SessionNoticeKind kind, bool guest, const char *reason, NoticePhase phase)
{
    if (s->mode == SESSION_REPLAY) {
        uint64_t ic = s->m->icount, ev = s->events_delivered;
        bool past = !s->notice_mark_set || ic > s->notice_mark_icount ||
                    (ic == s->notice_mark_icount &&
                     (ev > s->notice_mark_events || (ev == s->notice_mark_events && (int)phase > s->notice_mark_phase)));
        if (!past)
            return;
        s->notice_mark_set = true;
        s->notice_mark_icount = ic;
        s->notice_mark_events = ev;
        s->notice_mark_phase = (int)phase;
    }
    notice_send(s, kind, guest, reason);
}

static SessionStop stop_of_failure(const Session *s)
{
    if (s->interrupted)
        return SESSION_STOP_INTERRUPTED;
    return s->fail_status == STATUS_DIVERGED ? SESSION_STOP_DIVERGED : SESSION_STOP_ERROR;
}

/* --- live and record --- */

SessionStop session_poll_host(Session *s)
{
    if (s->failed)
        return stop_of_failure(s);
    if (s->ended)
        return s->mode == SESSION_REPLAY ? SESSION_STOP_TARGET : SESSION_STOP_EXIT;
    if (s->mode != SESSION_REPLAY) {
        gate_shutdown_poll(s);
        if (!s->shutdown_cause)
            return SESSION_STOP_TARGET;
        s->ended = true;
        return SESSION_STOP_EXIT;
    }
    int sig = host_signal_take();
    if (!sig && !s->console.quit)
        return SESSION_STOP_TARGET;
    s->interrupted = true;
    if (sig)
        session_fail(s, 130, "replay interrupted by signal %d at icount %" PRIu64, sig, s->m->icount);
    else
        session_fail(s, 130, "replay stopped by Ctrl-A x at icount %" PRIu64, s->m->icount);
    return SESSION_STOP_INTERRUPTED;
}

/* Run (or record) until m->icount == target, the guest exits or the host
 * asks to stop. Host inputs are polled between slices. */
static SessionStop live_advance(Session *s, uint64_t target)
{
    /* a signal or Ctrl-A x that came while a driver held the machine
     * stopped ends the run here, not a slice later */
    if (!s->ended && !s->failed) {
        gate_shutdown_poll(s);
        if (s->shutdown_cause)
            s->ended = true;
    }
    for (;;) {
        if (s->failed)
            return stop_of_failure(s);
        if (s->ended)
            return SESSION_STOP_EXIT;
        if (s->yield_requested) {
            s->yield_requested = false; /* the idle time is logged: nothing is lost */
            return SESSION_STOP_YIELD;
        }
        if (s->m->icount >= target)
            return SESSION_STOP_TARGET;
        uint64_t limit = min_u64(s->m->icount + (gate_net_active(s) ? NET_SLICE : RECORD_SLICE), target);
        if (s->mode == SESSION_RECORD && limit > s->ck_sched.next_due)
            limit = s->ck_sched.next_due;
        MachineStop stop = machine_run(s->m, limit);
        if (s->failed)
            continue;
        if (s->mode == SESSION_RECORD && s->m->icount >= s->ck_sched.next_due)
            write_checkpoint(s);
        maybe_flush(s);
        if (stop == MSTOP_BREAK)
            return SESSION_STOP_BREAK; /* the debugger resumes us later */
        if (stop == MSTOP_EXIT) {
            s->ended = true;
            session_notice(s, SESSION_NOTICE_SHUTDOWN, true, guest_exit_reason(s), NOTICE_MACHINE);
            continue;
        }
        if (stop == MSTOP_RESET && s->no_reboot) {
            s->ended = true; /* -no-reboot: a guest reset ends the run */
            session_notice(s, SESSION_NOTICE_SHUTDOWN, true, "guest-reset", NOTICE_MACHINE);
            continue;
        }
        if (stop == MSTOP_RESET) {
            if (!handle_reset(s))
                continue;
            session_notice(s, SESSION_NOTICE_RESET, true, "guest-reset", NOTICE_MACHINE);
        }
        gate_shutdown_poll(s);
        if (s->shutdown_cause) {
            s->ended = true;
            continue;
        }
        gate_console_poll(s);
        gate_net_poll(s);
        if (stop == MSTOP_IDLE)
            gate_idle_wait(s);
    }
}

/* --- time travel: in-memory checkpoints of a replay --- */

/* automatic checkpoints while replaying: a seek then replays at most this
 * far (about 0.1 s at 100 MIPS); dirty-page deltas keep them cheap */
#define DEFAULT_CK_EVERY 10000000ull
#define SEEK_MIN_GAP 100000ull       /* near-target checkpoints stop halving here */
/* The replay's own state saved with each checkpoint (SessPos). */
void session_pos_save(const Session *s, SerWriter *w)
{
    SessPos p = {
        .log = rlog_reader_tell(s->reader),
        .events_delivered = s->events_delivered,
        .idle_skipped_ns = s->idle_skipped_ns,
        .shutdown_cause = (uint32_t)s->shutdown_cause,
        .perturbed = s->perturbed,
        .fail_status = (uint32_t)s->fail_status,
        .last_match_icount = s->last_match_icount,
        .last_event_kind = s->last_event_kind,
        .last_event_icount = s->last_event_icount,
    };
    sesspos_encode(&p, w);
}

static bool sesspos_load(Session *s, const void *blob, size_t len, RlogPos *pos)
{
    SessPos p;
    if (!sesspos_decode(blob, len, &p))
        return false;
    *pos = p.log;
    s->events_delivered = p.events_delivered;
    s->idle_skipped_ns = p.idle_skipped_ns;
    s->shutdown_cause = (int)p.shutdown_cause;
    s->perturbed = p.perturbed;
    s->fail_status = (int)p.fail_status;
    s->last_match_icount = p.last_match_icount;
    s->last_event_kind = p.last_event_kind;
    s->last_event_icount = p.last_event_icount;
    return true;
}

/* Checkpoints are taken only before the events at m->icount are applied,
 * so a checkpoint at N holds "the state at N" (see session.h). */
static void take_checkpoint(Session *s)
{
    if (!s->ckstore || s->consumed_here || s->failed)
        return;
    SerWriter w;
    ser_writer_init(&w);
    session_pos_save(s, &w);
    if (w.oom || !ckstore_take(s->ckstore, s->m, w.buf, w.len))
        session_fail(s, 1, "out of memory for in-memory checkpoints (lower --checkpoint-memory)");
    ser_writer_free(&w);
}

static void schedule_auto_checkpoint(Session *s)
{
    if (!s->ck_every)
        return;
    s->next_auto_ck = (s->m->icount / s->ck_every + 1) * s->ck_every;
}

/* Continue from the position a snapshot or checkpoint saved (SessPos). */
bool session_resume_at(Session *s, const void *blob, size_t len)
{
    RlogPos pos;
    if (!sesspos_load(s, blob, len, &pos) || !rlog_reader_seek(s->reader, &pos)) {
        session_fail(s, STATUS_ERROR, "cannot return to the recording's position at icount %" PRIu64, s->m->icount);
        return false;
    }
    s->consumed_here = false;
    s->ended = false;
    s->cps_resync = true;
    s->digest_diverged = false; /* found again if the replay passes there again */
    s->m->halt_reason = NULL;
    schedule_auto_checkpoint(s);
    return true;
}

static bool restore_checkpoint(Session *s, uint64_t target)
{
    const void *extra;
    size_t len;
    if (!ckstore_restore(s->ckstore, s->m, target, &extra, &len))
        return false;
    return session_resume_at(s, extra, len);
}

/* After a restore the recorded side's mirror (cps.rec_page_hash) describes
 * another point in time; the replay side does not: a page whose content
 * changed since the last capture is marked DIRTY_DIGEST, whoever changed it
 * (the guest, a device, the restore through machine_phys_write), so its
 * page_hash is refreshed at the next capture and every other page_hash is
 * still right. So: capture (hashes only marked pages) and set the mirror
 * equal to it. Verification then compares the full replayed RAM root hash
 * with the recorded root, which is exact: a match means RAM matches
 * (modulo hash collisions); a mismatch is reported, only the page list may
 * be less precise than on a straight replay. */
static void checkpoint_resync(Session *s)
{
    SerWriter w;
    ser_writer_init(&w);
    checkpoint_capture(s->m, &s->cps, &w);
    ser_writer_free(&w);
    memcpy(s->cps.rec_page_hash, s->cps.page_hash, s->cps.npages * sizeof *s->cps.page_hash);
    s->cps_resync = false;
}

bool session_console_muted(const Session *s)
{
    return s->mode == SESSION_REPLAY && s->m && s->m->icount < s->high_water;
}

/* --- replay --- */

static bool is_sync_kind(uint32_t kind) { return kind == RLOG_CLOCK_WALL || kind == RLOG_RANDOM; }

static void apply_perturbation(Session *s)
{
    Machine *m = s->m;
    const char *w = s->opt->perturb_what;
    fprintf(stderr, "rrvm: test perturbation: flipping %s at icount %" PRIu64 "\n", w, m->icount);
    Hart *h = m->harts[0];
    if (w[0] == 'x' && w[1] >= '0' && w[1] <= '9') {
        int r = atoi(w + 1);
        if (r > 0 && r < 32)
            h->x[r] ^= 1;
    } else if (strcmp(w, "pc") == 0) {
        h->pc ^= 4;
    } else if (strcmp(w, "mstatus") == 0) {
        h->mstatus ^= MSTATUS_SUM;
    } else if (strcmp(w, "mscratch") == 0) {
        h->mscratch ^= 1;
    } else if (strncmp(w, "net-tx:", 7) == 0) {
        gate_net_perturb_tx(s, atoi(w + 7));
    } else if (strncmp(w, "ram:", 4) == 0) {
        uint64_t a = strtoull(w + 4, NULL, 0);
        uint8_t b;
        if (machine_phys_read(m, a, &b, 1)) {
            b ^= 0xff;
            machine_phys_write(m, a, &b, 1);
        }
    }
}

static int replay_end(Session *s, const RlogEvent *ev)
{
    RlogEnd end;
    if (!rlog_end_decode(ev->payload, ev->len, &end)) {
        session_fail(s, STATUS_ERROR, "malformed END event");
        return -1;
    }
    /* The recording ended with an exit this replay has not reached yet: a
     * halt that retires nothing (trap storm) happens inside the next
     * instruction, which the run up to this icount did not start. Start it;
     * it must stop the machine without retiring. */
    bool ended_by_reset = s->no_reboot && s->m->reset_requested; /* -no-reboot */
    if (!s->m->exit_requested && !s->shutdown_cause && !ended_by_reset && end.icount == s->m->icount) {
        MachineStop stop = machine_run(s->m, s->m->icount + 1);
        if (stop != MSTOP_EXIT || s->m->icount != end.icount) {
            session_diverged(s, "the recording exited (code %d) at icount %" PRIu64 ", the replay goes on",
                             end.exit_code, end.icount);
            return -1;
        }
    }
    uint64_t digest = checkpoint_machine_digest(s->m);
    if (end.icount != s->m->icount || end.digest != digest) {
        session_diverged(s, "end of recording: recorded final icount %" PRIu64 " digest %016" PRIx64
                            ", replayed icount %" PRIu64 " digest %016" PRIx64,
                         end.icount, end.digest, s->m->icount, digest);
        return -1;
    }
    if (!s->shutdown_cause && end.exit_code != s->m->exit_code) {
        session_diverged(s, "the recording exited with code %d, the replay with %d", end.exit_code, s->m->exit_code);
        return -1;
    }
    if (s->digest_diverged) {
        s->digest_diverged = false; /* reported here */
        session_fail(s, STATUS_DIVERGED, "%s\nthe recording ends at icount %" PRIu64 " with no full checkpoint after "
                     "it, and its final digest matches: only the digest is known to differ", s->digest_report,
                     s->m->icount);
        return -1;
    }
    fprintf(stderr, "rrvm: replay: reached the end of the recording at icount %" PRIu64 " (virtual time %.6f s), final digest %016" PRIx64 " matches\n",
            s->m->icount, (double)machine_vtime_ns(s->m) / 1e9, digest);
    return 0;
}

/* The full checkpoint after a digest mismatch: fail with both reports. */
static void session_fail_after_digest(Session *s, bool same, const char *report)
{
    char first[sizeof s->digest_report];
    memcpy(first, s->digest_report, sizeof first);
    s->digest_diverged = false; /* reported here, not again by session_fail */
    if (same)
        session_fail(s, STATUS_DIVERGED, "%s\nthe next full checkpoint, at icount %" PRIu64 ", matches: "
                     "the difference did not last", first, s->m->icount);
    else
        session_fail(s, STATUS_DIVERGED, "%s\nat the next full checkpoint, %" PRIu64 " instructions later:\n%s", first,
                     s->m->icount - s->digest_diverged_icount, report);
}

static void replay_checkpoint(Session *s, const RlogEvent *ev)
{
    Machine *m = s->m;
    if (s->cps_resync)
        checkpoint_resync(s);
    const char *why;
    if (!checkpoint_payload_check(ev->payload, ev->len, &why)) {
        /* the frame's checksum held: a damaged or foreign recording, not a divergence */
        session_fail(s, STATUS_ERROR, "%s: the checkpoint at icount %" PRIu64 " is malformed: %s", s->opt->rr_path,
                     ev->icount, why);
        return;
    }
    bool digest = checkpoint_is_digest(ev->payload, ev->len);
    if (s->digest_diverged && digest)
        return; /* known to differ: on to the next full checkpoint */
    char report[8192];
    if (s->digest_diverged) {
        bool same = checkpoint_verify(m, &s->cps, ev->payload, ev->len, report, sizeof report);
        session_fail_after_digest(s, same, report);
        return;
    }
    if (checkpoint_verify(m, &s->cps, ev->payload, ev->len, report, sizeof report)) {
        s->last_match_icount = m->icount;
        return;
    }
    /* the window: the state last matched at A and differs at B, so the
     * first instruction or event that went wrong is in (A, B] */
    char window[512];
    int n = snprintf(window, sizeof window, "state last matched at icount %" PRIu64 " and differs at icount %" PRIu64
                     ": the divergence happened in that window", s->last_match_icount, m->icount);
    if (s->header.verify_strict && s->last_event_kind && n > 0 && (size_t)n < sizeof window)
        snprintf(window + n, sizeof window - (size_t)n, "; the last input event before it: %s at icount %" PRIu64,
                 rlog_kind_name(s->last_event_kind), s->last_event_icount);
    if (s->opt->on_divergence_continue) {
        fprintf(stderr, "rrvm: replay diverged at icount %" PRIu64 " (%s):\n%s\n", m->icount, window, report);
        s->fail_status = STATUS_DIVERGED;
    } else if (digest) {
        /* only a digest here: what differs is named by the next full
         * checkpoint, at most full_checkpoint_interval + max spacing on */
        size_t n_rep = strlen(report);
        while (n_rep && report[n_rep - 1] == '\n')
            report[--n_rep] = 0;
        snprintf(s->digest_report, sizeof s->digest_report,
                 "replay diverged: checkpoint at icount %" PRIu64 " differs (%s):\n%s", m->icount, window, report);
        s->digest_diverged = true;
        s->digest_diverged_icount = m->icount;
        fprintf(stderr, "rrvm: replay diverged at icount %" PRIu64 " (the state digest differs); replaying on to "
                        "the next full checkpoint to name what differs\n", m->icount);
    } else {
        session_fail(s, STATUS_DIVERGED, "replay diverged: checkpoint at icount %" PRIu64 " differs (%s):\n%s",
                     m->icount, window, report);
    }
}

/* A guest reset during a replay rebuilds the machine: its RAM is new, so
 * in-memory checkpoints must copy every page at the next take (a page the
 * old machine had written and the new one has not is not marked dirty). */
/* A guest reset in a replay. It happens in place (machine_reset marks every
 * page it zeroes, and the loader every page it writes, dirty for all
 * consumers), so the checkpoint store's view of RAM stays exact. */
static bool replay_reset(Session *s)
{
    return handle_reset(s);
}

/* Apply the asynchronous event `ev` (already taken) at m->icount. */
static void replay_apply(Session *s, const RlogEvent *ev)
{
    if (is_input_kind(ev->kind))
        s->events_delivered++;
    switch (ev->kind) {
    case RLOG_UART_RX:
        gate_console_deliver(s, ev);
        break;
    case RLOG_UART_BREAK:
        gate_console_break_replay(s, ev);
        break;
    case RLOG_NET_RX:
        gate_net_deliver(s, ev);
        break;
    case RLOG_NET_STATS:
        gate_net_verify_stats(s, ev);
        return; /* not an input */
    case RLOG_IDLE:
        gate_idle_replay(s, ev);
        break;
    case RLOG_SHUTDOWN:
        gate_shutdown_replay(s, ev);
        break;
    case RLOG_RESET:
        if (replay_reset(s))
            session_notice(s, SESSION_NOTICE_RESET, false, "host-qmp-system-reset", NOTICE_EVENT);
        break;
    case RLOG_POWERDOWN:
        /* nothing on this board acts on it: only a driver notices */
        session_notice(s, SESSION_NOTICE_POWERDOWN, false, "host-qmp-system-powerdown", NOTICE_EVENT);
        break;
    case RLOG_CHECKPOINT:
        replay_checkpoint(s, ev);
        return; /* not an input: the last input event stays */
    case RLOG_END: {
        RlogEvent after;
        if (replay_end(s, ev) != 0)
            return;
        if (rlog_peek(s->reader, &after) < 0) { /* a match is only a match when the END is the end */
            session_fail(s, STATUS_ERROR, "%s", rlog_reader_error(s->reader));
            return;
        }
        s->ended = true;
        /* the guest ended the recording (a host shutdown was noticed at its event) */
        if (!s->shutdown_cause && s->no_reboot && s->m->reset_requested)
            session_notice(s, SESSION_NOTICE_SHUTDOWN, true, "guest-reset", NOTICE_END);
        else if (!s->shutdown_cause && s->m->exit_requested)
            session_notice(s, SESSION_NOTICE_SHUTDOWN, true, guest_exit_reason(s), NOTICE_END);
        return;
    }
    default:
        session_fail(s, STATUS_ERROR, "the recording has an event of unknown kind %u at icount %" PRIu64
                                      " (made by a newer rrvm?)", ev->kind, ev->icount);
        return;
    }
    s->last_event_kind = ev->kind;
    s->last_event_icount = ev->icount;
}

/* Run the machine towards `limit` (the next event's icount), without
 * passing `target`, an automatic checkpoint, the perturbation point or the
 * high-water mark (where console output turns on again). False when the
 * replay must stop (diverged, failed). */
static bool replay_run(Session *s, const RlogEvent *ev, uint64_t limit, uint64_t target)
{
    Machine *m = s->m;
    uint64_t stop_at = min_u64(limit, m->icount + RECORD_SLICE);
    if (target > m->icount)
        stop_at = min_u64(stop_at, target);
    if (s->ckstore && s->next_auto_ck > m->icount)
        stop_at = min_u64(stop_at, s->next_auto_ck);
    if (s->high_water > m->icount)
        stop_at = min_u64(stop_at, s->high_water);
    if (!s->perturbed && s->opt->perturb_what && s->opt->perturb_icount > m->icount)
        stop_at = min_u64(stop_at, s->opt->perturb_icount);
    uint64_t before = m->icount;
    MachineStop stop = machine_run(m, stop_at);
    progress_update(&s->progress, m->icount);
    if (m->icount != before)
        s->consumed_here = false;
    if (m->icount > s->high_water)
        s->high_water = m->icount;
    host_console_flush(&s->console);
    if (s->failed)
        return false;
    if (stop == MSTOP_LIMIT && m->icount < limit)
        return true;
    if (stop == MSTOP_BREAK) {
        s->break_hit = true;
        return true;
    }
    if (stop == MSTOP_IDLE) {
        session_diverged(s, "every hart is idle, but the recording's next event is %s at icount %" PRIu64,
                         rlog_kind_name(ev->kind), ev->icount);
        return false;
    }
    /* what record writes after the guest exits: network statistics, END */
    bool closing = ev->kind == RLOG_END || ev->kind == RLOG_NET_STATS;
    if (stop == MSTOP_EXIT && !(closing && ev->icount == m->icount)) {
        session_diverged(s, "the guest exited (code %d), but the recording continues with %s at icount %" PRIu64,
                         m->exit_code, rlog_kind_name(ev->kind), ev->icount);
        return false;
    }
    if (stop == MSTOP_RESET) {
        /* record writes a checkpoint due at this icount before it resets:
         * verify it first (reset_requested stays set, so the next
         * machine_run stops here again for the reset); with -no-reboot
         * the END event is due here */
        if ((ev->kind == RLOG_CHECKPOINT && ev->icount == m->icount) || s->no_reboot)
            return true;
        if (!replay_reset(s))
            return false;
        session_notice(s, SESSION_NOTICE_RESET, true, "guest-reset", NOTICE_MACHINE);
        return true;
    }
    if (stop == MSTOP_LIMIT && is_sync_kind(ev->kind)) {
        RlogEvent again;
        if (rlog_peek(s->reader, &again) == 1 && again.file_offset == ev->file_offset &&
            again.icount == ev->icount && again.kind == ev->kind) {
            session_diverged(s, "the recording has %s at icount %" PRIu64 ", but the guest did not ask for it",
                             rlog_kind_name(ev->kind), ev->icount);
            return false;
        }
    }
    return true;
}

/* Replay until m->icount == target (before the events there are applied)
 * or, with to_event, until one input event has been applied. */
static SessionStop replay_advance(Session *s, uint64_t target, bool to_event)
{
    for (;;) {
        Machine *m = s->m;
        if (s->failed)
            return stop_of_failure(s);
        if (s->ended)
            return SESSION_STOP_END;
        if (s->break_hit) {
            s->break_hit = false;
            return SESSION_STOP_BREAK;
        }
        RlogEvent ev;
        int r = rlog_peek(s->reader, &ev);
        if (r < 0) {
            /* run up to the last complete event, then say why it ended */
            describe_log_end(s);
            continue;
        }
        if (r == 0) {
            session_fail(s, STATUS_ERROR, "the recording ends without an END event at icount %" PRIu64, m->icount);
            continue;
        }
        if (!s->perturbed && s->opt->perturb_what && m->icount >= s->opt->perturb_icount) {
            apply_perturbation(s);
            s->perturbed = true;
        }
        if (s->ckstore && m->icount >= s->next_auto_ck && !s->consumed_here) {
            take_checkpoint(s);
            schedule_auto_checkpoint(s);
        }
        if (m->icount == target && !s->consumed_here)
            return SESSION_STOP_TARGET;
        int sig = host_signal_take();
        if (sig || gate_console_replay_quit(s)) {
            char where[128];
            progress_where(&s->progress, m->icount, where, sizeof where);
            s->interrupted = true;
            if (sig)
                session_fail(s, 130, "replay interrupted by signal %d at %s", sig, where);
            else
                session_fail(s, 130, "replay stopped by Ctrl-A x at %s", where);
            continue;
        }
        uint64_t limit = is_sync_kind(ev.kind) ? ev.icount + 1 : ev.icount;
        if (m->icount < limit) {
            replay_run(s, &ev, limit, target);
            continue;
        }
        if (m->icount > ev.icount) {
            session_diverged(s, "the recording's %s event at icount %" PRIu64 " was not consumed",
                             rlog_kind_name(ev.kind), ev.icount);
            continue;
        }
        rlog_next(s->reader, &ev);
        s->consumed_here = true;
        replay_apply(s, &ev);
        if (to_event && ev.kind != RLOG_CHECKPOINT && !s->failed && !s->ended)
            return SESSION_STOP_TARGET;
    }
}

/* --- the resumable session API --- */

SessionStop session_advance(Session *s, const SessionTarget *t)
{
    Machine *m = s->m;
    if (s->failed)
        return stop_of_failure(s);
    if (s->quit_requested)
        return SESSION_STOP_EXIT;
    uint64_t target = UINT64_MAX;
    switch (t->kind) {
    case SESSION_TO_ICOUNT:
        if (t->icount < m->icount || (t->icount == m->icount && (s->consumed_here || s->mode != SESSION_REPLAY)))
            return SESSION_STOP_TARGET; /* never backwards: that is session_seek */
        target = t->icount;
        break;
    case SESSION_TO_STEP: {
        if (t->hart < 0 || t->hart >= m->nharts) {
            session_fail(s, STATUS_ERROR, "no hart %d", t->hart);
            return SESSION_STOP_ERROR;
        }
        /* one instruction at a time until that hart has retired one */
        for (uint64_t i = 0; i <= (uint64_t)m->nharts * m->cfg.quantum; i++) {
            const Hart *h = s->m->harts[t->hart];
            uint64_t instret = h->instret, pc = h->pc;
            SessionTarget one = { SESSION_TO_ICOUNT, s->m->icount + 1, 0 };
            SessionStop st = session_advance(s, &one);
            h = s->m->harts[t->hart];
            if (st != SESSION_STOP_TARGET || h->instret != instret || h->pc != pc)
                return st;
        }
        return SESSION_STOP_TARGET;
    }
    case SESSION_TO_EVENT:
    case SESSION_TO_END:
        break;
    }
    SessionStop st;
    if (s->mode == SESSION_REPLAY)
        st = replay_advance(s, target, t->kind == SESSION_TO_EVENT);
    else
        st = live_advance(s, target);
    s->at_target = st == SESSION_STOP_TARGET;
    return st;
}

SessionStop session_seek(Session *s, uint64_t target)
{
    if (s->failed)
        return stop_of_failure(s);
    if (s->quit_requested)
        return SESSION_STOP_EXIT;
    if (s->mode != SESSION_REPLAY || !s->ckstore) {
        session_fail(s, STATUS_ERROR, "seeking needs a replay with in-memory checkpoints");
        return SESSION_STOP_ERROR;
    }
    bool forward = target > s->m->icount || (target == s->m->icount && !s->consumed_here);
    uint64_t ck;
    bool have = ckstore_find(s->ckstore, target, &ck);
    if (have && (!forward || ck > s->m->icount)) {
        if (!restore_checkpoint(s, target))
            return stop_of_failure(s);
    } else if (!forward) {
        session_fail(s, STATUS_ERROR, "cannot seek to icount %" PRIu64 ": no checkpoint at or before it", target);
        return SESSION_STOP_ERROR;
    }
    /* approach the target halving the distance, leaving checkpoints behind,
     * so that further small steps backwards start close by */
    uint64_t dist = target - s->m->icount;
    for (uint64_t gap = dist / 2; gap >= SEEK_MIN_GAP; gap /= 2) {
        SessionTarget t = { SESSION_TO_ICOUNT, target - gap, 0 };
        SessionStop st = session_advance(s, &t);
        if (st != SESSION_STOP_TARGET)
            return st;
        take_checkpoint(s);
    }
    SessionTarget t = { SESSION_TO_ICOUNT, target, 0 };
    SessionStop st = session_advance(s, &t);
    /* one at the target too, unless one is close behind it already (steps
     * backwards would never use it) */
    if (st == SESSION_STOP_TARGET && (!ckstore_find(s->ckstore, target, &ck) || target - ck >= SEEK_MIN_GAP))
        take_checkpoint(s);
    return st;
}

bool session_checkpoint_here(Session *s)
{
    if (s->mode != SESSION_REPLAY || !s->ckstore || s->failed)
        return false;
    take_checkpoint(s);
    return !s->failed;
}

bool session_checkpoint_before(const Session *s, uint64_t icount, uint64_t *ck)
{
    return s->ckstore && ckstore_find(s->ckstore, icount, ck);
}

uint64_t session_icount(const Session *s) { return s->m->icount; }
Machine *session_machine(Session *s) { return s->m; }
SessionMode session_mode(const Session *s) { return s->mode; }

uint64_t session_recording_total(Session *s)
{
    if (s->rec_total || s->mode != SESSION_REPLAY || !s->reader)
        return s->rec_total;
    RlogPos here = rlog_reader_tell(s->reader);
    RlogEvent ev;
    while (rlog_next(s->reader, &ev) == 1) {
        RlogEnd end;
        if (ev.kind == RLOG_END && rlog_end_decode(ev.payload, ev.len, &end))
            s->rec_total = end.icount;
    }
    if (!s->rec_total)
        s->rec_total = rlog_reader_last_icount(s->reader);
    rlog_reader_seek(s->reader, &here);
    return s->rec_total;
}

/* --- for an interactive driver (session.h) --- */

static const char *const request_name[] = {
    [SESSION_REQ_RESET] = "system_reset",
    [SESSION_REQ_POWERDOWN] = "system_powerdown",
    [SESSION_REQ_QUIT] = "quit",
};

/* QUIT: record logs the shutdown where the machine stands, so the replay
 * ends there too (as SIGTERM does); a replay simply stops where it is,
 * with status 0 - the recording is not at fault, so its end is not
 * checked (as SIGINT, which says 130 because nobody asked politely). */
static void request_quit(Session *s)
{
    if (s->failed || s->ended || s->quit_requested)
        return; /* already over: nothing left to stop */
    if (s->mode != SESSION_REPLAY) {
        gate_shutdown_host(s, RLOG_SHUTDOWN_MONITOR);
        s->ended = true;
        return;
    }
    char where[128];
    progress_where(&s->progress, s->m->icount, where, sizeof where);
    fprintf(stderr, "rrvm: replay: quit at %s\n", where);
    s->quit_requested = true;
    /* not the recording's history: told whatever was noticed before */
    notice_send(s, SESSION_NOTICE_SHUTDOWN, false, "host-qmp-quit");
}

/* RESET and POWERDOWN in run/record, at the current icount. In the log
 * the event follows every event already at this icount, which is the
 * order they happened in and the order replay applies them. RESET is
 * logged before the reset: rebuilding the board takes inputs of its own
 * (the device tree's random bytes), which replay takes while applying the
 * RESET, so they must follow it; a strict checkpoint comes after them,
 * where replay verifies it on the reset machine. */
static void request_machine_event(Session *s, SessionRequest r)
{
    if (r == SESSION_REQ_RESET) {
        session_log(s, RLOG_RESET, NULL, 0);
        if (s->failed || !handle_reset(s))
            return;
        strict_checkpoint(s);
        session_notice(s, SESSION_NOTICE_RESET, false, "host-qmp-system-reset", NOTICE_EVENT);
    } else {
        session_log(s, RLOG_POWERDOWN, NULL, 0);
        session_notice(s, SESSION_NOTICE_POWERDOWN, false, "host-qmp-system-powerdown", NOTICE_EVENT);
    }
}

bool session_request(Session *s, SessionRequest r, char *err, size_t errlen)
{
    if ((unsigned)r > SESSION_REQ_QUIT) {
        snprintf(err, errlen, "unknown request %d", (int)r);
        return false;
    }
    if (r == SESSION_REQ_QUIT) {
        request_quit(s);
        return true;
    }
    if (s->mode == SESSION_REPLAY) {
        snprintf(err, errlen, "%s: not while replaying (the replay must stay the recording's); use go_live first",
                 request_name[r]);
        return false;
    }
    if (s->failed) {
        snprintf(err, errlen, "%s: the session has stopped: %s", request_name[r], s->fail_msg);
        return false;
    }
    if (s->ended) {
        snprintf(err, errlen, "%s: the machine has shut down (icount %" PRIu64 ")", request_name[r], s->m->icount);
        return false;
    }
    request_machine_event(s, r);
    if (s->failed) {
        snprintf(err, errlen, "%s: %s", request_name[r], s->fail_msg);
        return false;
    }
    return true;
}

void session_set_observer(Session *s, SessionNoticeFn fn, void *opaque)
{
    s->observer = fn;
    s->observer_opaque = opaque;
}

void session_set_host_wait(Session *s, SessionHostWaitFn wait, void *opaque)
{
    s->host_wait = wait;
    s->host_wait_opaque = opaque;
}

void session_console_set_monitor(Session *s, SessionMonitorInputFn input, void *opaque)
{
    host_console_set_monitor(&s->console, input, opaque);
}

bool session_console_in_monitor(const Session *s) { return s->console.monitor_active; }

int session_console_fd(const Session *s)
{
    return host_console_has_input(&s->console) ? s->console.in_fd : -1;
}

void session_console_poll(Session *s)
{
    gate_console_read_host(s);
}

/* --- setup and teardown --- */

/* Record: the output must not be one of the inputs (same inode), whatever
 * path names it. */
static bool output_is_an_input(Session *s, const char *out)
{
    struct stat so;
    if (stat(out, &so) != 0)
        return false;
    for (int i = 0; i < IMG_COUNT; i++) {
        struct stat si;
        if (s->opt->image_path[i] && stat(s->opt->image_path[i], &si) == 0 && si.st_dev == so.st_dev &&
            si.st_ino == so.st_ino) {
            session_fail(s, STATUS_ERROR, "%s is the %s image: a recording must not overwrite its own input", out,
                         image_role[i]);
            return true;
        }
    }
    for (int i = 0; i < MACHINE_MAX_DEVICES; i++) {
        const char *in[2] = { s->opt->drive[i].path, s->opt->drive[i].overlay };
        for (int k = 0; k < 2; k++) {
            struct stat si;
            if (in[k] && stat(in[k], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
                session_fail(s, STATUS_ERROR, "%s is the %s of drive %d: a recording must not overwrite it", out,
                             k ? "overlay file" : "image", i);
                return true;
            }
        }
    }
    return false;
}

/* Record: create the incomplete file, after every image loaded. */
static bool open_recording(Session *s)
{
    char tmp[4200], err[1024];
    rlog_incomplete_path(s->opt->rr_path, tmp, sizeof tmp);
    if (output_is_an_input(s, s->opt->rr_path) || output_is_an_input(s, tmp))
        return false;
    s->writer = rlog_writer_create(s->opt->rr_path, &s->header, s->opt->force, err, sizeof err);
    if (!s->writer) {
        session_fail(s, STATUS_ERROR, "%s", err);
        return false;
    }
    for (int i = 0; s->opt->pack && i < IMG_COUNT; i++) {
        if (s->image[i] && !rlog_writer_pack_image(s->writer, s->image[i], s->image_len[i])) {
            session_fail(s, 1, "%s", rlog_writer_error(s->writer));
            return false;
        }
    }
    if (!gate_disk_pack_overlays(s)) {
        session_fail(s, 1, "%s", rlog_writer_error(s->writer));
        return false;
    }
    return true;
}

/* Record: a complete recording (END written) moves into place; otherwise
 * the incomplete file stays for replay up to its last frame, unless the
 * machine never started (nothing worth keeping). */
static void close_recording(Session *s)
{
    char err[4400], tmp[4200];
    snprintf(tmp, sizeof tmp, "%s", rlog_writer_path(s->writer));
    bool flushed = rlog_flush(s->writer);
    s->log_bytes = rlog_writer_bytes(s->writer);
    if (!s->failed && flushed) {
        if (!rlog_writer_commit(s->writer, err, sizeof err))
            session_fail(s, 1, "%s", err);
    } else {
        bool closed = rlog_writer_close(s->writer) && flushed;
        if (!s->started)
            unlink(tmp);
        else if (!closed && !s->failed)
            session_fail(s, 1, "%s: cannot write the recording", tmp);
        else
            fprintf(stderr, "rrvm: the recording so far is in %s (it replays up to its last frame)\n", tmp);
    }
    s->writer = NULL;
}

static bool setup_record_header(Session *s)
{
    RlogHeader *h = &s->header;
    h->format_version = RLOG_FORMAT_VERSION;
    snprintf(h->rrvm_version, sizeof h->rrvm_version, "%s", RRVM_VERSION);
    h->cfg = s->opt->cfg;
    h->cfg.append = s->opt->cfg.append ? strdup(s->opt->cfg.append) : NULL;
    session_record_schedule_options(s, h);
    h->verify_strict = s->opt->verify_strict;
    /* host-side: how the session treats a guest reset, which replay must repeat */
    if (s->opt->no_reboot && !rlog_header_set(h, "no-reboot", "on"))
        return false;
    if (!gate_console_record_header(s)) /* which chardev each console port was on */
        return false;
    /* for `rrvm info`: when, where and how it was recorded (never read back
     * into the machine) */
    char v[256];
    snprintf(v, sizeof v, "%" PRIu64, host_wallclock_ns());
    bool ok = rlog_header_set(h, "record.date_ns", v);
    if (host_hostname(v, sizeof v))
        ok = rlog_header_set(h, "record.host", v) && ok;
    if (s->opt->cmdline)
        ok = rlog_header_set(h, "record.cmdline", s->opt->cmdline) && ok;
    return ok;
}

static void print_stats(Session *s, uint64_t wall_ns)
{
    Machine *m = s->m;
    double secs = (double)wall_ns / 1e9;
    fprintf(stderr, "instructions: %" PRIu64 "\n", m->icount);
    fprintf(stderr, "virtual time: %.6f s (idle %.6f s)\n", (double)machine_vtime_ns(m) / 1e9, (double)m->idle_ns / 1e9);
    fprintf(stderr, "wall time: %.3f s\n", secs);
    fprintf(stderr, "speed: %.1f MIPS\n", secs > 0 ? (double)m->icount / secs / 1e6 : 0.0);
    fprintf(stderr, "input events: %" PRIu64 "\n", s->events_delivered);
    if (s->mode == SESSION_REPLAY)
        fprintf(stderr, "idle time skipped: %.6f s\n", (double)s->idle_skipped_ns / 1e9);
    if (s->mode == SESSION_RECORD)
        fprintf(stderr, "log bytes: %" PRIu64 "\n", s->log_bytes);
    JitStats js;
    if (bcache_jit_stats(m, &js))
        fprintf(stderr, "jit: %" PRIu64 " blocks compiled (%" PRIu64 " instructions, %" PRIu64 " KiB of code, %" PRIu64
                " code space resets)\n", js.blocks, js.insns, js.code_bytes >> 10, js.resets);
    else
        fprintf(stderr, "jit: off\n");
}

/* Default budget of in-memory checkpoints: 1/8 of host RAM, at most 2 GiB. */
static uint64_t default_checkpoint_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    uint64_t ram = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : (4ull << 30);
    return min_u64(ram / 8, 2ull << 30);
}

static bool dump_dtb(Session *s)
{
    size_t len;
    const uint8_t *dtb = board_dtb(s->m, &len);
    FILE *f = dtb ? fopen(s->opt->dump_dtb, "wb") : NULL;
    if (!f || fwrite(dtb, 1, len, f) != len) {
        session_fail(s, 1, "--dump-dtb %s: cannot write: %s", s->opt->dump_dtb, dtb ? strerror(errno) : "no device tree");
        if (f)
            fclose(f);
        return false;
    }
    fclose(f);
    return true;
}

/* Replay: the recording (and the snapshot it starts from, if any). */
static bool open_replay(Session *s, MachineConfig *cfg)
{
    const SessionOptions *o = s->opt;
    char err[1024];
    s->reader = rlog_reader_open(o->rr_path, &s->header, err, sizeof err);
    if (!s->reader) {
        session_fail(s, STATUS_ERROR, "%s", err);
        return false;
    }
    if (!session_recording_identity(o->rr_path, s->recording_id, err, sizeof err)) {
        session_fail(s, STATUS_ERROR, "%s", err);
        return false;
    }
    if (s->header.format_version < 2) {
        /* format 1 came from rrvm 0.1, whose final digest hashed all of RAM:
         * its END check would report a divergence that is not one */
        session_fail(s, STATUS_ERROR, "%s: recording format %u was made by rrvm 0.1 and cannot be replayed by "
                     "rrvm %s (its state digests differ); rrvm info and dump still read it",
                     o->rr_path, s->header.format_version, RRVM_VERSION);
        return false;
    }
    *cfg = s->header.cfg;
    s->no_reboot = rlog_header_get(&s->header, "no-reboot") != NULL;
    if (!check_host_ram(s, cfg))
        return false;
    if (rlog_header_get(&s->header, "snapshot")) {
        /* the recording starts from a snapshot (record --from, --go-live -o) */
        char snap[4096];
        if (o->from_snapshot) {
            session_fail(s, STATUS_ERROR, "--from: this recording already starts from a snapshot");
            return false;
        }
        if (!session_find_recording_snapshot(s, snap, sizeof snap))
            return false;
        s->snap_path_buf = strdup(snap);
        return s->snap_path_buf && session_snapshot_prepare(s, s->snap_path_buf, cfg);
    }
    if (o->from_snapshot)
        return session_snapshot_prepare(s, o->from_snapshot, cfg);
    return session_load_images_for_replay(s, false);
}

/* Run/record: images from the command line or a snapshot; the log. */
static bool open_live(Session *s, MachineConfig *cfg)
{
    const SessionOptions *o = s->opt;
    s->no_reboot = o->no_reboot;
    if (!o->from_snapshot && !check_host_ram(s, cfg))
        return false;
    if (!setup_record_header(s)) {
        session_fail(s, 1, "too many host options for one recording header");
        return false;
    }
    if (o->from_snapshot ? !session_snapshot_prepare(s, o->from_snapshot, cfg) : !load_images_for_run(s))
        return false;
    char err[8192];
    if (!o->from_snapshot && !gate_disk_open_live(s, cfg, err, sizeof err)) {
        session_fail(s, STATUS_ERROR, "%s", err);
        return false;
    }
    if (o->from_snapshot && !check_host_ram(s, cfg))
        return false;
    if (s->mode == SESSION_RECORD) {
        if (!open_recording(s))
            return false;
        fprintf(stderr, "rrvm: recording to %s\n", o->rr_path);
    }
    return true;
}

Session *session_open(const SessionOptions *o, int *status)
{
    Session *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "rrvm: out of memory\n");
        *status = 1;
        return NULL;
    }
    s->opt = o;
    s->mode = o->mode;
    s->t0_ns = host_monotonic_ns();
    host_signals_install();
    char err[1024];
    MachineConfig cfg = o->cfg;
    bool ok = s->mode == SESSION_REPLAY ? open_replay(s, &cfg) : open_live(s, &cfg);
    if (ok)
        ok = gate_console_open(s, &cfg);
    if (ok && !host_console_open(&s->console, s->console_spec, s->mode != SESSION_REPLAY, err, sizeof err)) {
        session_fail(s, 1, "%s", err);
        ok = false;
    }
    if (ok && s->mode == SESSION_REPLAY && !o->stdin_taken)
        host_console_open_escapes(&s->console);
    if (ok)
        ok = gate_net_open(s);
    if (ok && startup_interrupted(s, "reading the images"))
        ok = false;
    if (ok)
        ok = s->snap_loaded ? session_snapshot_finish(s, &cfg) : session_build_machine(s, &cfg);
    session_snapshot_release(s);
    if (ok && o->dump_dtb)
        ok = dump_dtb(s);
    if (ok && s->mode != SESSION_REPLAY)
        session_start_checkpoint_schedule(s);
    if (ok && s->mode == SESSION_REPLAY && o->time_travel) {
        uint64_t budget = o->checkpoint_memory ? o->checkpoint_memory : default_checkpoint_memory();
        s->ckstore = ckstore_new(s->m, budget);
        s->ck_every = DEFAULT_CK_EVERY;
        if (!s->ckstore) {
            session_fail(s, 1, "out of memory");
            ok = false;
        } else {
            take_checkpoint(s); /* the start: every later icount is reachable */
            schedule_auto_checkpoint(s);
        }
    }
    s->last_flush_ns = host_monotonic_ns();
    s->started = ok;
    if (ok && s->mode == SESSION_REPLAY)
        progress_start(&s->progress, o->rr_path, s->m->icount, !o->quiet);
    if (!ok || s->failed) {
        *status = session_close(s);
        return NULL;
    }
    return s;
}

int session_close(Session *s)
{
    const SessionOptions *o = s->opt;
    int status = 0;
    if (s->mode == SESSION_RECORD && s->writer && !s->failed) {
        if (s->at_target && !s->shutdown_cause) {
            /* stopped at --stop-at: say so in the recording, as a monitor stop */
            uint8_t c = RLOG_SHUTDOWN_MONITOR;
            session_log(s, RLOG_SHUTDOWN, &c, 1);
            s->shutdown_cause = c;
        }
        gate_net_log_stats(s);
        RlogEnd end = {
            .icount = s->m->icount,
            .vtime_ns = machine_vtime_ns(s->m),
            .exit_code = s->m->exit_code,
            .digest = checkpoint_machine_digest(s->m),
        };
        uint8_t p[RLOG_END_PAYLOAD_LEN];
        rlog_end_encode(&end, p);
        session_log(s, RLOG_END, p, sizeof p);
    }
    if (s->mode == SESSION_REPLAY && s->digest_diverged && !s->failed) {
        /* stopped (--stop-at, a driver) between a digest mismatch and the
         * full checkpoint that would name what differs */
        s->digest_diverged = false;
        session_fail(s, STATUS_DIVERGED, "%s\nthe replay stopped at icount %" PRIu64 ", before the next full "
                     "checkpoint: only the digest is known to differ", s->digest_report, s->m ? s->m->icount : 0);
    }
    progress_finish(&s->progress);
    host_console_close(&s->console);
    gate_net_close(s);
    if (s->mode != SESSION_REPLAY && s->started && s->m) {
        char err[4400];
        if (!gate_disk_write_overlays(s, err, sizeof err))
            session_fail(s, 1, "%s", err);
    }
    gate_console_close(s);
    const char *out_path = s->go_live_path ? s->go_live_path : o->rr_path;
    if (s->writer)
        close_recording(s);
    if (s->mode == SESSION_RECORD && s->log_bytes)
        fprintf(stderr, "rrvm: recorded %" PRIu64 " instructions, %" PRIu64 " events, %" PRIu64 " bytes to %s\n",
                s->m ? s->m->icount : 0, s->events_delivered, s->log_bytes, out_path);
    if (s->failed) {
        fprintf(stderr, "rrvm: %s\n", s->fail_msg);
        status = s->fail_status ? s->fail_status : 1;
    } else if (s->m) {
        status = s->shutdown_cause || s->at_target || s->quit_requested ? 0 : s->m->exit_code;
        if (s->mode == SESSION_REPLAY && s->fail_status)
            status = s->fail_status;
    }
    if (s->m && s->m->halt_reason)
        fprintf(stderr, "rrvm: machine halted at icount %" PRIu64 " (hart pc 0x%" PRIx64 "): %s; exit status %d\n",
                s->m->icount, s->m->harts[s->m->cur_hart]->pc, s->m->halt_reason, s->m->exit_code);
    if (s->m && o->print_digest)
        fprintf(stderr, "digest: %016" PRIx64 "\n", checkpoint_machine_digest(s->m));
    if (s->m && o->print_stats) {
        print_stats(s, host_monotonic_ns() - s->t0_ns);
        if (s->ckstore) {
            CkStoreStats st;
            ckstore_stats(s->ckstore, &st);
            fprintf(stderr, "checkpoints: %" PRIu64 " holding %.1f MiB of %.1f MiB budget\n", st.count,
                    (double)st.bytes / (1 << 20), (double)st.budget / (1 << 20));
        }
    }
    if (s->reader)
        rlog_reader_close(s->reader);
    ckstore_free(s->ckstore);
    if (s->cps_ready)
        checkpoint_free(&s->cps);
    rlog_header_free(&s->header);
    machine_free(s->m);
    for (int i = 0; i < IMG_COUNT; i++)
        free(s->image[i]);
    gate_disk_close(s);
    session_snapshot_release(s);
    free(s->snap_path_buf);
    free(s);
    return status;
}

/* --goto A,B,C: visit each icount in order; the digest at N does not
 * depend on the path that reached N. */
static void visit_goto_list(Session *s)
{
    const SessionOptions *o = s->opt;
    for (size_t i = 0; i < o->goto_count && !s->failed; i++) {
        uint64_t t0 = host_monotonic_ns();
        SessionStop st = session_seek(s, o->goto_list[i]);
        uint64_t dt = host_monotonic_ns() - t0;
        if (st != SESSION_STOP_TARGET) {
            if (!s->failed)
                session_fail(s, STATUS_ERROR, "--goto %" PRIu64 ": the recording ends at icount %" PRIu64,
                             o->goto_list[i], s->m->icount);
            return;
        }
        fprintf(stderr, "icount %" PRIu64 " digest %016" PRIx64, s->m->icount, checkpoint_machine_digest(s->m));
        if (o->goto_timing)
            fprintf(stderr, " time %.3f ms", (double)dt / 1e6);
        fputc('\n', stderr);
    }
}

int session_main(const SessionOptions *o)
{
    int status;
    Session *s = session_open(o, &status);
    if (!s)
        return status;
    if (o->goto_count) {
        visit_goto_list(s);
    } else {
        SessionTarget t = { o->stop_at_set ? SESSION_TO_ICOUNT : SESSION_TO_END, o->stop_at, 0 };
        SessionStop st = session_advance(s, &t);
        if (o->stop_at_set && st == SESSION_STOP_END)
            session_fail(s, STATUS_ERROR, "--stop-at %" PRIu64 ": the recording ends at icount %" PRIu64,
                         o->stop_at, s->m->icount);
        if (st == SESSION_STOP_TARGET && o->stop_at_set && o->snapshot_out)
            session_write_snapshot(s, o->snapshot_out);
        if (st == SESSION_STOP_TARGET && o->go_live && session_go_live(s, o->go_live_out)) {
            SessionTarget end = { SESSION_TO_END, 0, 0 };
            session_advance(s, &end);
            s->at_target = false;
        }
    }
    if (o->snapshot_out && !o->stop_at_set && !s->failed)
        session_write_snapshot(s, o->snapshot_out);
    return session_close(s);
}
