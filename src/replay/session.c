/*
 * session.c - drives the machine in live, record or replay mode.
 *
 * Record: run in slices; between slices poll the host (console, signals),
 * deliver inputs through the gates (which log them at the current icount),
 * wait in real time when every hart is idle, and write a checkpoint every
 * `checkpoint_interval` instructions. Live mode is record without a file.
 *
 * Replay: the log decides where to stop. Asynchronous events (console
 * input, idle time, shutdown, checkpoints, the end) are handled when
 * m->icount reaches their icount; synchronous ones (clock reads, random
 * bytes) are consumed by the gates from inside the instruction that asks.
 * Any disagreement - the machine idles or exits where the log continues, a
 * checkpoint digest differs, the log is cut - ends the replay with a precise
 * report; replay never waits for an event that cannot come.
 *
 * Invariant: stopping machine_run() at extra places (record's slices,
 * replay's event icounts) is invisible to the guest; see machine.h.
 */
#include "session_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/hostsys.h"
#include "host/signals.h"
#include "machine/board.h"
#include "machine/hart.h"
#include "machine/loader.h"
#include "pack.h"

#define DEFAULT_CHECKPOINT_INTERVAL 10000000ull
#define RECORD_SLICE 2000000ull       /* instructions between host polls */
#define FLUSH_INTERVAL_NS 500000000ull /* log frames reach the disk this often, */
#define FLUSH_INTERVAL_ICOUNT 100000000ull /* and at least this many instructions apart */
#define MAX_IMAGE_SIZE RLOG_MAX_IMAGE

static const char *const image_role[IMG_COUNT] = { "bios", "kernel", "initrd", "dtb" };

/* exit statuses of replay failures (the guest's own code otherwise) */
enum { STATUS_ERROR = 2, STATUS_DIVERGED = 3, STATUS_CUT = 4 };

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
static bool is_input_kind(uint32_t kind) { return kind != RLOG_CHECKPOINT && kind != RLOG_END; }

void session_log(Session *s, uint32_t kind, const void *payload, size_t len)
{
    if (is_input_kind(kind) && !s->failed)
        s->events_delivered++;
    if (s->mode != SESSION_RECORD || s->failed)
        return;
    if (!rlog_write(s->writer, s->m->icount, kind, payload, len))
        session_fail(s, 1, "%s: cannot write the recording: %s", s->opt->rr_path, rlog_writer_error(s->writer));
    /* strict: a checkpoint after every asynchronous event. Synchronous ones
     * (clock, random) are consumed in the middle of an instruction, where
     * the state is not at an instruction boundary. */
    bool async = kind == RLOG_UART_RX || kind == RLOG_UART_BREAK || kind == RLOG_IDLE || kind == RLOG_SHUTDOWN || kind == RLOG_RESET;
    if (s->opt->verify_strict && async && s->cps_ready) {
        SerWriter w;
        ser_writer_init(&w);
        checkpoint_capture(s->m, &s->cps, &w);
        if (!rlog_write(s->writer, s->m->icount, RLOG_CHECKPOINT, w.buf, w.len))
            session_fail(s, 1, "%s: cannot write the recording: %s", s->opt->rr_path,
                         rlog_writer_error(s->writer));
        ser_writer_free(&w);
    }
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

static bool build_machine(Session *s, const MachineConfig *cfg)
{
    MachineHostIf host = {
        .opaque = s,
        .wallclock_ns = gate_clock_wall_ns,
        .random_bytes = gate_random_bytes,
        .console_write = gate_console_write,
    };
    assert(!s->m);
    s->m = machine_new(cfg, &host);
    if (!s->m) {
        session_fail(s, 1, "cannot create the machine (-m %" PRIu64 "M, -smp %d): invalid configuration or out of memory",
                     cfg->ram_size >> 20, cfg->nharts);
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
        bool added = s->mode != SESSION_RECORD ||
                     rlog_header_add_image(&s->header, image_role[i], abs ? abs : o->image_path[i], s->image[i],
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
 * --image-dir or at its path, and refuse one whose contents differ. */
static bool load_images_for_replay(Session *s)
{
    for (int k = 0; k < s->header.nimages; k++) {
        const RlogImage *ri = &s->header.images[k];
        int idx = -1;
        for (int i = 0; i < IMG_COUNT; i++)
            if (strcmp(ri->role, image_role[i]) == 0)
                idx = i;
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
    return true;
}

static void write_checkpoint(Session *s)
{
    SerWriter w;
    ser_writer_init(&w);
    checkpoint_capture(s->m, &s->cps, &w);
    session_log(s, RLOG_CHECKPOINT, w.buf, w.len);
    ser_writer_free(&w);
}

static void maybe_flush(Session *s)
{
    host_console_flush(&s->console);
    if (s->mode != SESSION_RECORD)
        return;
    uint64_t now = host_monotonic_ns();
    if (now - s->last_flush_ns >= FLUSH_INTERVAL_NS || s->m->icount - s->last_flush_icount >= FLUSH_INTERVAL_ICOUNT) {
        s->last_flush_ns = now;
        s->last_flush_icount = s->m->icount;
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

/* --- live and record --- */

static void run_live(Session *s)
{
    uint64_t interval = s->opt->checkpoint_interval ? s->opt->checkpoint_interval : DEFAULT_CHECKPOINT_INTERVAL;
    s->next_checkpoint = s->m->icount + interval;
    for (;;) {
        uint64_t limit = s->m->icount + RECORD_SLICE;
        if (s->mode == SESSION_RECORD && limit > s->next_checkpoint)
            limit = s->next_checkpoint;
        MachineStop stop = machine_run(s->m, limit);
        if (s->failed)
            return;
        if (s->mode == SESSION_RECORD && s->m->icount >= s->next_checkpoint) {
            write_checkpoint(s);
            s->next_checkpoint = s->m->icount + interval;
        }
        maybe_flush(s);
        if (stop == MSTOP_EXIT)
            return;
        if (stop == MSTOP_RESET && (s->no_reboot || !handle_reset(s)))
            return;
        gate_shutdown_poll(s);
        if (s->shutdown_cause)
            return;
        gate_console_poll(s);
        if (stop == MSTOP_IDLE)
            gate_idle_wait(s);
        if (s->failed)
            return;
    }
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
    fprintf(stderr, "rrvm: replay: reached the end of the recording at icount %" PRIu64 " (virtual time %.6f s), final digest %016" PRIx64 " matches\n",
            s->m->icount, (double)machine_vtime_ns(s->m) / 1e9, digest);
    return 0;
}

static void run_replay(Session *s)
{
    Machine *m;
    bool perturbed = s->opt->perturb_what == NULL;
    for (;;) {
        m = s->m;
        if (s->failed)
            return;
        RlogEvent ev;
        int r = rlog_peek(s->reader, &ev);
        if (r < 0) {
            /* run up to the last complete event, then say why it ended */
            describe_log_end(s);
            return;
        }
        if (r == 0) {
            session_fail(s, STATUS_ERROR, "the recording ends without an END event at icount %" PRIu64, m->icount);
            return;
        }
        uint64_t limit = is_sync_kind(ev.kind) ? ev.icount + 1 : ev.icount;
        if (!perturbed && s->opt->perturb_icount <= limit) {
            if (m->icount < s->opt->perturb_icount) {
                machine_run(m, s->opt->perturb_icount);
                host_console_flush(&s->console);
                continue;
            }
            apply_perturbation(s);
            perturbed = true;
        }
        int sig = host_signal_take();
        if (sig || gate_console_replay_quit(s)) {
            char where[128];
            progress_where(&s->progress, m->icount, where, sizeof where);
            if (sig)
                session_fail(s, 130, "replay interrupted by signal %d at %s", sig, where);
            else
                session_fail(s, 130, "replay stopped by Ctrl-A x at %s", where);
            return;
        }
        if (m->icount < limit) {
            /* run in slices so that a signal can stop a long replay */
            uint64_t slice_end = m->icount + RECORD_SLICE;
            MachineStop stop = machine_run(m, limit < slice_end ? limit : slice_end);
            progress_update(&s->progress, m->icount);
            if (stop == MSTOP_LIMIT && m->icount < limit) {
                host_console_flush(&s->console);
                continue;
            }
            host_console_flush(&s->console);
            if (s->failed)
                return;
            if (stop == MSTOP_IDLE) {
                session_diverged(s, "every hart is idle, but the recording's next event is %s at icount %" PRIu64,
                                 rlog_kind_name(ev.kind), ev.icount);
                return;
            }
            if (stop == MSTOP_EXIT && !(ev.kind == RLOG_END && ev.icount == m->icount)) {
                session_diverged(s, "the guest exited (code %d), but the recording continues with %s at icount %" PRIu64,
                                 m->exit_code, rlog_kind_name(ev.kind), ev.icount);
                return;
            }
            if (stop == MSTOP_RESET) {
                /* record writes a checkpoint due at this icount before it
                 * resets: verify it first (reset_requested stays set, so
                 * the next machine_run stops here again for the reset) */
                if (ev.kind == RLOG_CHECKPOINT && ev.icount == m->icount)
                    continue;
                if (!s->no_reboot && !handle_reset(s))
                    return;
                continue; /* -no-reboot: the END event is due here */
            }
            if (stop == MSTOP_LIMIT && is_sync_kind(ev.kind)) {
                RlogEvent again;
                if (rlog_peek(s->reader, &again) == 1 && again.file_offset == ev.file_offset &&
                    again.icount == ev.icount && again.kind == ev.kind) {
                    session_diverged(s, "the recording has %s at icount %" PRIu64 ", but the guest did not ask for it",
                                     rlog_kind_name(ev.kind), ev.icount);
                    return;
                }
            }
            continue;
        }
        if (m->icount > ev.icount) {
            session_diverged(s, "the recording's %s event at icount %" PRIu64 " was not consumed",
                             rlog_kind_name(ev.kind), ev.icount);
            return;
        }
        rlog_next(s->reader, &ev);
        if (is_input_kind(ev.kind))
            s->events_delivered++;
        switch (ev.kind) {
        case RLOG_UART_RX:
            gate_console_deliver(s, &ev);
            break;
        case RLOG_UART_BREAK:
            gate_console_break_replay(s, &ev);
            break;
        case RLOG_IDLE:
            gate_idle_replay(s, &ev);
            break;
        case RLOG_SHUTDOWN:
            gate_shutdown_replay(s, &ev);
            break;
        case RLOG_RESET:
            handle_reset(s);
            break;
        case RLOG_CHECKPOINT: {
            char report[8192];
            if (!checkpoint_verify(m, &s->cps, ev.payload, ev.len, report, sizeof report)) {
                if (s->opt->on_divergence_continue) {
                    fprintf(stderr, "rrvm: replay diverged at icount %" PRIu64 ":\n%s\n", m->icount, report);
                    s->fail_status = STATUS_DIVERGED;
                } else {
                    session_fail(s, STATUS_DIVERGED, "replay diverged: checkpoint at icount %" PRIu64 " differs:\n%s",
                                 m->icount, report);
                    return;
                }
            }
            break;
        }
        case RLOG_END:
            if (replay_end(s, &ev) == 0 && rlog_peek(s->reader, &ev) < 0)
                /* a match is only a match when the END is the end */
                session_fail(s, STATUS_ERROR, "%s", rlog_reader_error(s->reader));
            return;
        default:
            session_fail(s, STATUS_ERROR, "the recording has an event of unknown kind %u at icount %" PRIu64
                                          " (made by a newer rrvm?)", ev.kind, ev.icount);
            return;
        }
    }
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
    h->checkpoint_interval = s->opt->checkpoint_interval ? s->opt->checkpoint_interval : DEFAULT_CHECKPOINT_INTERVAL;
    h->verify_strict = s->opt->verify_strict;
    /* host-side: how the session treats a guest reset, which replay must repeat */
    if (s->opt->no_reboot && !rlog_header_set(h, "no-reboot", "on"))
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
}

int session_main(const SessionOptions *o)
{
    Session *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "rrvm: out of memory\n");
        return 1;
    }
    s->opt = o;
    s->mode = o->mode;
    char err[1024];
    int status = 0;
    uint64_t t0 = host_monotonic_ns();
    host_signals_install();

    MachineConfig cfg = o->cfg;
    if (s->mode == SESSION_REPLAY) {
        s->reader = rlog_reader_open(o->rr_path, &s->header, err, sizeof err);
        if (!s->reader) {
            fprintf(stderr, "rrvm: %s\n", err);
            free(s);
            return STATUS_ERROR;
        }
        cfg = s->header.cfg;
        s->no_reboot = rlog_header_get(&s->header, "no-reboot") != NULL;
        if (!check_host_ram(s, &cfg) || !load_images_for_replay(s))
            goto out;
    } else {
        s->no_reboot = o->no_reboot;
        if (!check_host_ram(s, &cfg))
            goto out;
        if (s->mode == SESSION_RECORD)
            setup_record_header(s);
        if (!load_images_for_run(s))
            goto out;
        if (s->mode == SESSION_RECORD && !open_recording(s))
            goto out;
        if (s->mode == SESSION_RECORD)
            fprintf(stderr, "rrvm: recording to %s\n", o->rr_path);
    }
    if (startup_interrupted(s, "reading the images"))
        goto out;
    if (!host_console_open(&s->console, o->serial, s->mode != SESSION_REPLAY, err, sizeof err)) {
        session_fail(s, 1, "%s", err);
        goto out;
    }
    if (s->mode == SESSION_REPLAY)
        host_console_open_escapes(&s->console);
    if (!build_machine(s, &cfg) || startup_interrupted(s, "loading the machine"))
        goto out;
    if (o->dump_dtb) {
        size_t len;
        const uint8_t *dtb = board_dtb(s->m, &len);
        FILE *f = dtb ? fopen(o->dump_dtb, "wb") : NULL;
        if (!f || fwrite(dtb, 1, len, f) != len) {
            session_fail(s, 1, "--dump-dtb %s: cannot write: %s", o->dump_dtb, dtb ? strerror(errno) : "no device tree");
            if (f)
                fclose(f);
            goto out;
        }
        fclose(f);
    }

    s->last_flush_ns = host_monotonic_ns();
    s->started = true;
    if (s->mode == SESSION_REPLAY) {
        progress_start(&s->progress, o->rr_path, s->m->icount, !o->quiet);
        run_replay(s);
    }
    else
        run_live(s);

    if (s->mode == SESSION_RECORD && !s->failed) {
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

out:
    progress_finish(&s->progress);
    host_console_close(&s->console);
    if (s->writer)
        close_recording(s);
    if (s->mode == SESSION_RECORD && s->log_bytes)
        fprintf(stderr, "rrvm: recorded %" PRIu64 " instructions, %" PRIu64 " events, %" PRIu64 " bytes to %s\n",
                s->m ? s->m->icount : 0, s->events_delivered, s->log_bytes, o->rr_path);
    if (s->failed) {
        fprintf(stderr, "rrvm: %s\n", s->fail_msg);
        status = s->fail_status ? s->fail_status : 1;
    } else if (s->m) {
        status = s->shutdown_cause ? 0 : s->m->exit_code;
        if (s->mode == SESSION_REPLAY && s->fail_status)
            status = s->fail_status;
    }
    if (s->m && s->m->halt_reason)
        fprintf(stderr, "rrvm: machine halted at icount %" PRIu64 " (hart pc 0x%" PRIx64 "): %s; exit status %d\n",
                s->m->icount, s->m->harts[s->m->cur_hart]->pc, s->m->halt_reason, s->m->exit_code);
    if (s->m && (o->print_digest))
        fprintf(stderr, "digest: %016" PRIx64 "\n", checkpoint_machine_digest(s->m));
    if (s->m && o->print_stats)
        print_stats(s, host_monotonic_ns() - t0);
    if (s->reader)
        rlog_reader_close(s->reader);
    if (s->cps_ready)
        checkpoint_free(&s->cps);
    rlog_header_free(&s->header);
    machine_free(s->m);
    for (int i = 0; i < IMG_COUNT; i++)
        free(s->image[i]);
    free(s);
    return status;
}
