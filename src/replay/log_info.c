/*
 * log_info.c - `rrvm info` (what a recording holds: machine, images, and a
 * nondeterminism audit of its events) and `rrvm dump` (one line per event).
 *
 * Both read the recording with the ordinary reader, so they report a cut or
 * corrupt recording exactly as a replay would, after printing everything
 * that could be read. Exit status: 0 for a complete or merely cut recording
 * (a warning goes to `err` for the latter), 2 when it cannot be read or is
 * corrupt (as replay's).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "checkpoint.h"
#include "log.h"
#include "varint.h"
#include "machine/board.h"

#define KIND_SLOTS 64 /* per-kind counters; kinds above share the last slot */

typedef struct KindStats {
    uint64_t count[KIND_SLOTS];
    uint64_t bytes[KIND_SLOTS]; /* encoded size: event header + payload */
    /* network traffic per device: in from NET_RX, out from NET_STATS */
    uint64_t net_in_frames[256], net_in_bytes[256], net_out_frames[256], net_out_bytes[256];
    bool net_seen[256];
} KindStats;

/* Print up to `max` bytes as a C-like quoted string. */
static void print_escaped(FILE *out, const uint8_t *p, size_t n, size_t max)
{
    fputc('"', out);
    for (size_t i = 0; i < n && i < max; i++) {
        uint8_t c = p[i];
        if (c == '\n')
            fputs("\\n", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            fputc(c, out);
        else
            fprintf(out, "\\x%02x", c);
    }
    fputc('"', out);
    if (n > max)
        fprintf(out, "... (%zu bytes)", n);
}

static void print_hex(FILE *out, const uint8_t *p, size_t n, size_t max)
{
    for (size_t i = 0; i < n && i < max; i++)
        fprintf(out, "%02x", p[i]);
    if (n > max)
        fputs("...", out);
}

/* "2026-01-02T03:04:05.123456789Z" */
static void format_wall(uint64_t ns, char *buf, size_t cap)
{
    time_t secs = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(buf, cap, "(out of range)");
        return;
    }
    char date[40];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%09" PRIu64 "Z", date, ns % 1000000000u);
}

static const char *shutdown_cause(uint8_t c)
{
    switch (c) {
    case RLOG_SHUTDOWN_QUIT_KEY: return "console quit key";
    case RLOG_SHUTDOWN_SIGINT: return "SIGINT";
    case RLOG_SHUTDOWN_SIGTERM: return "SIGTERM";
    case RLOG_SHUTDOWN_MONITOR: return "monitor quit";
    default: return "unknown cause";
    }
}

/* vtime_ns: virtual time when the event takes effect (icount << shift +
 * idle before it) */
static void print_event(FILE *out, const RlogEvent *ev, uint64_t vtime_ns)
{
    const char *name = rlog_kind_name(ev->kind);
    fprintf(out, "%14" PRIu64 " %6" PRIu64 ".%09" PRIu64 " %s", ev->icount, vtime_ns / 1000000000u,
            vtime_ns % 1000000000u, name);
    /* align the summaries; an empty RESET or POWERDOWN line gets no trailing blanks */
    int pad = 10 - (int)strlen(name);
    if (pad > 0 && !((ev->kind == RLOG_RESET || ev->kind == RLOG_POWERDOWN) && ev->len == 0))
        fprintf(out, "%*s", pad, "");
    uint64_t v;
    RlogEnd end;
    char buf[512];
    switch (ev->kind) {
    case RLOG_UART_RX:
        if (ev->len < 1)
            goto malformed;
        fprintf(out, " port %u ", ev->payload[0]);
        print_escaped(out, ev->payload + 1, ev->len - 1, 80);
        break;
    case RLOG_CLOCK_WALL:
        if (!rlog_u64_decode(ev->payload, ev->len, &v))
            goto malformed;
        format_wall(v, buf, sizeof buf);
        fprintf(out, " %s (%" PRIu64 " ns)", buf, v);
        break;
    case RLOG_RANDOM:
        fprintf(out, " %zu bytes ", ev->len);
        print_hex(out, ev->payload, ev->len, 32);
        break;
    case RLOG_IDLE:
        if (!rlog_u64_decode(ev->payload, ev->len, &v))
            goto malformed;
        fprintf(out, " %" PRIu64 " ns", v);
        break;
    case RLOG_SHUTDOWN:
        if (ev->len != 1)
            goto malformed;
        fprintf(out, " cause %u (%s)", ev->payload[0], shutdown_cause(ev->payload[0]));
        break;
    case RLOG_RESET:
    case RLOG_POWERDOWN:
        if (ev->len != 0)
            goto malformed;
        break;
    case RLOG_UART_BREAK:
        if (ev->len != 1)
            goto malformed;
        fprintf(out, " port %u", ev->payload[0]);
        break;
    case RLOG_CHECKPOINT:
        checkpoint_summary(ev->payload, ev->len, buf, sizeof buf);
        fprintf(out, " %s", buf);
        break;
    case RLOG_NET_RX:
        if (ev->len < 1)
            goto malformed;
        fprintf(out, " dev %u, %zu-byte frame ", ev->payload[0], ev->len - 1);
        print_hex(out, ev->payload + 1, ev->len - 1, 16);
        break;
    case RLOG_NET_STATS: {
        if (ev->len != RLOG_NET_STATS_LEN)
            goto malformed;
        uint64_t f[5];
        for (int i = 0; i < 5; i++)
            rlog_u64_decode(ev->payload + 1 + 8 * i, 8, &f[i]);
        fprintf(out, " dev %u: out %" PRIu64 " frames %" PRIu64 " bytes, in %" PRIu64 " frames %" PRIu64
                     " bytes, tx digest %016" PRIx64, ev->payload[0], f[0], f[1], f[2], f[3], f[4]);
        break;
    }
    case RLOG_END:
        if (!rlog_end_decode(ev->payload, ev->len, &end))
            goto malformed;
        fprintf(out, " icount=%" PRIu64 " vtime=%" PRIu64 "ns exit_code=%d digest=%016" PRIx64, end.icount,
                end.vtime_ns, end.exit_code, end.digest);
        break;
    default:
        fprintf(out, " kind %u, %zu bytes ", ev->kind, ev->len);
        print_hex(out, ev->payload, ev->len, 32);
        break;
    }
    fputc('\n', out);
    return;
malformed:
    fprintf(out, " malformed payload (%zu bytes) ", ev->len);
    print_hex(out, ev->payload, ev->len, 32);
    fputc('\n', out);
}

/* After the last event: report how the recording ended. */
static int finish(RlogReader *r, int rc, FILE *err)
{
    if (rc == 0)
        return 0;
    if (rlog_reader_truncated(r)) {
        fprintf(err, "rrvm: warning: %s\n", rlog_reader_error(r));
        return 0;
    }
    fprintf(err, "rrvm: %s\n", rlog_reader_error(r));
    return 2;
}

static bool kind_selected(const RlogDumpFilter *f, uint32_t kind)
{
    if (f->nkinds == 0)
        return !(f->no_idle && kind == RLOG_IDLE);
    for (int i = 0; i < f->nkinds; i++)
        if (f->kinds[i] == kind)
            return true;
    return false;
}

static int dump_reader(RlogReader *r, const RlogHeader *h, const RlogDumpFilter *f, FILE *out, FILE *err)
{
    static const RlogDumpFilter all = { .to = UINT64_MAX };
    if (!f)
        f = &all;
    RlogEvent ev;
    int rc;
    uint64_t idle_ns = 0, v;
    unsigned shift = (unsigned)h->cfg.icount_shift;
    while ((rc = rlog_next(r, &ev)) == 1) {
        if (ev.icount > f->to)
            break; /* icounts never decrease */
        uint64_t vtime = (shift < 64 && ev.icount <= UINT64_MAX >> shift ? ev.icount << shift : UINT64_MAX) + idle_ns;
        if (ev.icount >= f->from && kind_selected(f, ev.kind))
            print_event(out, &ev, vtime);
        if (ev.kind == RLOG_IDLE && rlog_u64_decode(ev.payload, ev.len, &v))
            idle_ns += v;
    }
    if (rc == 1)
        rc = 0; /* stopped at --to: what was asked for was read */
    return finish(r, rc, err);
}

bool rlog_kind_from_name(const char *name, uint32_t *kind)
{
    for (uint32_t k = 1; k < 64; k++) {
        if (rlog_kind_known(k) && strcasecmp(rlog_kind_name(k), name) == 0) {
            *kind = k;
            return true;
        }
    }
    return false;
}

static void print_header(const RlogHeader *h, const RlogReader *r, FILE *out)
{
    const MachineConfig *c = &h->cfg;
    fprintf(out, "format:              version %u, written by rrvm %s\n", h->format_version,
            h->rrvm_version[0] ? h->rrvm_version : "(unknown)");
    fprintf(out, "size:                %" PRIu64 " bytes\n", rlog_reader_size(r));
    fprintf(out, "board:               %s\n", c->board_virt ? "virt" : "bare-metal");
    fprintf(out, "harts:               %d\n", c->nharts);
    fprintf(out, "RAM:                 %" PRIu64 " MiB (%" PRIu64 " bytes)\n", c->ram_size >> 20, c->ram_size);
    fprintf(out, "icount shift:        %d (1 instruction = %" PRIu64 " ns)\n", c->icount_shift,
            (uint64_t)1 << c->icount_shift);
    fprintf(out, "quantum:             %" PRIu64 " instructions\n", c->quantum);
    for (int i = 0; i < c->ndevices; i++) {
        const MachineDeviceConfig *d = &c->devices[i];
        const char *name = board_device_name(d->kind);
        fprintf(out, "device %d:            %s (virtio-mmio@0x%" PRIx64 ")", i, name ? name : "unknown",
                (uint64_t)0x10001000 + 0x1000 * (uint64_t)board_device_slot(i));
        if (d->id[0])
            fprintf(out, " id=%s", d->id);
        if (d->kind == MDEV_VIRTIO_BLK)
            fprintf(out, " %" PRIu64 " bytes%s", d->size, d->readonly ? " read-only" : "");
        if (d->kind == MDEV_VIRTIO_CONSOLE) {
            fprintf(out, " %u port(s)", d->nports);
            for (uint32_t p = 0; p < d->nports && p < MACHINE_MAX_CONSOLE_PORTS; p++)
                if (d->port_name[p][0])
                    fprintf(out, ", port %u name=%s", p, d->port_name[p]);
        }
        fputc('\n', out);
    }
    char date[64];
    format_wall(c->rtc_base_ns, date, sizeof date);
    fprintf(out, "RTC:                 %s, starts at %s (%" PRIu64 " ns)\n",
            c->rtc_clock_host ? "clock=host (logged)" : "virtual", date, c->rtc_base_ns);
    fprintf(out, "append:              ");
    if (c->append)
        print_escaped(out, (const uint8_t *)c->append, strlen(c->append), 4096);
    else
        fputs("(none)", out);
    fputc('\n', out);
    if (h->checkpoint_interval && h->checkpoint_max_interval <= h->checkpoint_interval &&
        h->full_checkpoint_interval <= h->checkpoint_interval)
        fprintf(out, "checkpoints:         every %" PRIu64 " instructions, all full, verify %s\n",
                h->checkpoint_interval, h->verify_strict ? "strict" : "lenient");
    else if (h->checkpoint_interval)
        fprintf(out, "checkpoints:         %" PRIu64 " instructions after an input, else up to %" PRIu64
                " apart; full every %" PRIu64 ", digests between; verify %s\n", h->checkpoint_interval,
                h->checkpoint_max_interval, h->full_checkpoint_interval, h->verify_strict ? "strict" : "lenient");
    else
        fprintf(out, "checkpoints:         none, verify %s\n", h->verify_strict ? "strict" : "lenient");
    for (int i = 0; i < h->nkv; i++) {
        const char *k = h->kv[i][0], *v = h->kv[i][1];
        char *end;
        unsigned long long ns = strtoull(v, &end, 10);
        if (strcmp(k, "record.date_ns") == 0 && *v && !*end) {
            format_wall(ns, date, sizeof date);
            fprintf(out, "recorded:            %s\n", date);
        } else if (strcmp(k, "record.host") == 0) {
            fprintf(out, "host:                %s\n", v);
        } else if (strcmp(k, "record.cmdline") == 0) {
            fprintf(out, "command line:        %s\n", v);
        } else {
            fprintf(out, "option:              %s = %s\n", k, v);
        }
    }
    fprintf(out, "images:              %d\n", h->nimages);
    for (int i = 0; i < h->nimages; i++) {
        char hex[33];
        rlog_hash_hex(h->images[i].hash, hex);
        fprintf(out, "  %-8s %s, %" PRIu64 " bytes, xxh3-128 %s%s\n", h->images[i].role, h->images[i].path,
                h->images[i].size, hex, rlog_reader_find_packed(r, h->images[i].hash) >= 0 ? ", packed" : "");
    }
    uint64_t stored = 0;
    for (int i = 0; i < rlog_reader_npacked(r); i++)
        stored += rlog_reader_packed(r, i)->stored;
    bool disks = false; /* disk images are never packed (rrvm pack says why) */
    for (int i = 0; i < h->nimages; i++)
        disks |= strncmp(h->images[i].role, "drive", 5) == 0;
    if (rlog_reader_npacked(r))
        fprintf(out, "packed images:       %d (%" PRIu64 " bytes compressed): %s\n", rlog_reader_npacked(r), stored,
                disks ? "replays with the disk images only (read from their paths)" : "replays with nothing else");
    else
        fprintf(out, "packed images:       none (the images are read from their paths; rrvm pack embeds them)\n");
}

static int info_reader(RlogReader *r, const RlogHeader *h, const RlogDumpFilter *unused, FILE *out, FILE *err)
{
    print_header(h, r, out);

    KindStats *st = calloc(1, sizeof *st);
    if (!st) {
        fprintf(err, "rrvm: out of memory\n");
        return 1;
    }
    RlogEvent ev;
    int rc;
    uint64_t prev_icount = 0, frame = UINT64_MAX, nframes = 0, total_bytes = 0, nevents = 0;
    uint64_t idle_ns = 0, first_ckpt = 0, last_ckpt = 0, ndigests = 0;
    bool have_end = false;
    RlogEnd end = {0};
    while ((rc = rlog_next(r, &ev)) == 1) {
        if (ev.file_offset != frame) {
            /* deltas restart at each frame, from the frame's first event */
            frame = ev.file_offset;
            prev_icount = ev.icount;
            nframes++;
        }
        uint64_t bytes = varint_size(ev.kind) + varint_size(ev.icount - prev_icount) + varint_size(ev.len) + ev.len;
        prev_icount = ev.icount;
        unsigned slot = ev.kind < KIND_SLOTS ? ev.kind : KIND_SLOTS - 1;
        st->count[slot]++;
        st->bytes[slot] += bytes;
        total_bytes += bytes;
        nevents++;
        uint64_t v;
        if (ev.kind == RLOG_IDLE && rlog_u64_decode(ev.payload, ev.len, &v))
            idle_ns += v;
        if (ev.kind == RLOG_CHECKPOINT) {
            if (st->count[slot] == 1)
                first_ckpt = ev.icount;
            last_ckpt = ev.icount;
            ndigests += checkpoint_is_digest(ev.payload, ev.len);
        }
        if (ev.kind == RLOG_END && rlog_end_decode(ev.payload, ev.len, &end))
            have_end = true;
        if (ev.kind == RLOG_NET_RX && ev.len >= 1) {
            st->net_seen[ev.payload[0]] = true;
            st->net_in_frames[ev.payload[0]]++;
            st->net_in_bytes[ev.payload[0]] += ev.len - 1;
        }
        if (ev.kind == RLOG_NET_STATS && ev.len == RLOG_NET_STATS_LEN) {
            uint8_t dv = ev.payload[0];
            st->net_seen[dv] = true;
            rlog_u64_decode(ev.payload + 1, 8, &st->net_out_frames[dv]);
            rlog_u64_decode(ev.payload + 9, 8, &st->net_out_bytes[dv]);
        }
    }
    uint64_t last_icount = rlog_reader_last_icount(r);

    fprintf(out, "frames:              %" PRIu64 " (%" PRIu64 " events, %" PRIu64 " bytes uncompressed)\n",
            nframes, nevents, total_bytes);
    if (have_end) {
        fprintf(out, "instructions:        %" PRIu64 "\n", end.icount);
        fprintf(out, "virtual time:        %" PRIu64 ".%09" PRIu64 " s\n", end.vtime_ns / 1000000000u,
                end.vtime_ns % 1000000000u);
        fprintf(out, "exit code:           %d\n", end.exit_code);
        fprintf(out, "final digest:        %016" PRIx64 "\n", end.digest);
    } else {
        /* no END: estimate from the last event and the idle time logged */
        uint64_t shift = (uint64_t)h->cfg.icount_shift;
        uint64_t vt = (last_icount << shift) + idle_ns;
        fprintf(out, "instructions:        at least %" PRIu64 " (no END event)\n", last_icount);
        fprintf(out, "virtual time:        at least %" PRIu64 ".%09" PRIu64 " s\n", vt / 1000000000u,
                vt % 1000000000u);
    }
    uint64_t nckpt = st->count[RLOG_CHECKPOINT];
    if (nckpt)
        fprintf(out, "checkpoints:         %" PRIu64 " (icount %" PRIu64 " .. %" PRIu64 "; %" PRIu64 " full, %" PRIu64
                " digests)\n", nckpt, first_ckpt, last_ckpt, nckpt - ndigests, ndigests);
    else
        fprintf(out, "checkpoints:         0\n");
    for (int dv = 0; dv < 256; dv++)
        if (st->net_seen[dv])
            fprintf(out, "network device %d:    in %" PRIu64 " frames, %" PRIu64 " bytes (logged); out %" PRIu64
                         " frames, %" PRIu64 " bytes (digested, not logged)\n", dv, st->net_in_frames[dv],
                    st->net_in_bytes[dv], st->net_out_frames[dv], st->net_out_bytes[dv]);
    fprintf(out, "events by kind:      (share of event bytes = the nondeterminism audit)\n");
    fprintf(out, "  %-4s %-16s %12s %14s %7s\n", "id", "kind", "count", "bytes", "share");
    for (unsigned k = 0; k < KIND_SLOTS; k++) {
        if (!st->count[k])
            continue;
        double share = total_bytes ? 100.0 * (double)st->bytes[k] / (double)total_bytes : 0.0;
        const char *name = k == KIND_SLOTS - 1 ? "(kinds >= 63)" : rlog_kind_name(k);
        fprintf(out, "  %-4u %-16s %12" PRIu64 " %14" PRIu64 " %6.2f%%\n", k, name, st->count[k], st->bytes[k],
                share);
    }
    free(st);
    if (rc == 0)
        fprintf(out, "status:              complete\n");
    else if (rlog_reader_truncated(r) && rlog_reader_writer_pid(r) > 0)
        fprintf(out, "status:              in progress (being written by process %d)\n", rlog_reader_writer_pid(r));
    else if (rlog_reader_truncated(r))
        fprintf(out, "status:              incomplete (cut short: the recorder was killed or failed)\n");
    else
        fprintf(out, "status:              corrupt\n");
    return finish(r, rc, err);
}

typedef int (*ReaderFn)(RlogReader *r, const RlogHeader *h, const RlogDumpFilter *f, FILE *out, FILE *err);

static int run_on(RlogReader *r, RlogHeader *h, const char *err_msg, ReaderFn fn, const RlogDumpFilter *f,
                  FILE *out, FILE *err)
{
    if (!r) {
        fprintf(err, "rrvm: %s\n", err_msg);
        return 2;
    }
    int status = fn(r, h, f, out, err);
    rlog_reader_close(r);
    rlog_header_free(h);
    return status;
}


int rlog_print_info(const char *path, FILE *out, FILE *err)
{
    RlogHeader h;
    char msg[512];
    RlogReader *r = rlog_reader_open(path, &h, msg, sizeof msg);
    if (r)
        fprintf(out, "recording:           %s\n", path);
    return run_on(r, &h, msg, info_reader, NULL, out, err);
}

int rlog_print_dump(const char *path, FILE *out, FILE *err) { return rlog_print_dump_filtered(path, NULL, out, err); }

int rlog_print_dump_filtered(const char *path, const RlogDumpFilter *f, FILE *out, FILE *err)
{
    RlogHeader h;
    char msg[512];
    RlogReader *r = rlog_reader_open(path, &h, msg, sizeof msg);
    return run_on(r, &h, msg, dump_reader, f, out, err);
}

int rlog_print_info_mem(const uint8_t *buf, size_t len, FILE *out, FILE *err)
{
    RlogHeader h;
    char msg[512];
    RlogReader *r = rlog_reader_open_mem(buf, len, &h, msg, sizeof msg);
    return run_on(r, &h, msg, info_reader, NULL, out, err);
}

int rlog_print_dump_mem(const uint8_t *buf, size_t len, FILE *out, FILE *err)
{
    RlogHeader h;
    char msg[512];
    RlogReader *r = rlog_reader_open_mem(buf, len, &h, msg, sizeof msg);
    return run_on(r, &h, msg, dump_reader, NULL, out, err);
}
