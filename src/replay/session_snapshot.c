/*
 * session_snapshot.c - snapshot files from a session: writing one
 * (--snapshot-out, savevm), starting a run, a recording or a replay from
 * one (-loadvm, --from), finding the snapshot a recording starts from, and
 * a replay going live (--go-live) from where it stands.
 *
 * Invariants: a snapshot is tied to the recording it was taken from by
 * that recording's identity (recording_identity); a replay refuses a
 * snapshot of another recording; loading is atomic (the machine is built
 * from the snapshot's config, then its state loaded whole, or the session
 * fails with one line and nothing half-applied).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session_internal.h"

#include "host/hostsys.h"
#include "machine/board.h"
#include "machine/cpu/hart.h"
#include "pack.h"
#include "snapshot.h"

#include <xxhash.h>

/* --- snapshots --- */

/* A recording's identity: XXH3-128 of the whole file (recordings are small
 * and immutable once written; hashing runs at memory speed), so a snapshot
 * taken while replaying it is matched to exactly that recording. */
bool session_recording_identity(const char *path, uint8_t id[16], char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    XXH3_state_t *st = XXH3_createState();
    uint8_t *buf = malloc(1 << 20);
    bool ok = f && st && buf && XXH3_128bits_reset(st) == XXH_OK;
    size_t n;
    while (ok && (n = fread(buf, 1, 1 << 20, f)) > 0)
        ok = XXH3_128bits_update(st, buf, n) == XXH_OK;
    ok = ok && !ferror(f);
    if (ok) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
        memcpy(id, c.digest, 16);
    } else {
        snprintf(err, errlen, "%s: cannot read: %s", path, f ? "read error or out of memory" : strerror(errno));
    }
    if (f)
        fclose(f);
    XXH3_freeState(st);
    free(buf);
    return ok;
}

bool session_write_snapshot(Session *s, const char *path)
{
    SnapshotInfo info;
    memset(&info, 0, sizeof info);
    info.format_version = SNAPSHOT_FORMAT_VERSION;
    info.icount = s->m->icount;
    info.header = s->header; /* borrowed, not freed here */
    SerWriter pos, state;
    ser_writer_init(&pos);
    ser_writer_init(&state);
    if (s->mode == SESSION_REPLAY && s->reader) {
        info.from_replay = true;
        memcpy(info.recording_id, s->recording_id, 16);
        info.log_pos = rlog_reader_tell(s->reader);
        session_pos_save(s, &pos);
        info.session = pos.buf;
        info.session_len = pos.len;
    }
    machine_save(s->m, &state);
    char err[1024] = "out of memory";
    bool ok = !state.oom && !pos.oom && snapshot_write(path, &info, state.buf, state.len, err, sizeof err);
    ser_writer_free(&pos);
    ser_writer_free(&state);
    if (!ok)
        session_fail(s, 1, "--snapshot-out: %s", err);
    else
        fprintf(stderr, "rrvm: snapshot at icount %" PRIu64 " written to %s\n", s->m->icount, path);
    return ok;
}

/* Read a snapshot file and its content hash. */
static bool read_snapshot(Session *s, const char *path, SnapshotInfo *info, uint8_t **state, size_t *state_len,
                          uint8_t hash[16])
{
    uint8_t *buf = s->snap_blob;
    size_t len = s->snap_blob_len;
    char err[1024];
    s->snap_blob = NULL;
    if (!buf && !host_read_file(path, MAX_SNAPSHOT_SIZE, &buf, &len, err, sizeof err)) {
        session_fail(s, STATUS_ERROR, "snapshot %s", err);
        return false;
    }
    rlog_hash128(buf, len, hash);
    bool ok = snapshot_read_mem(buf, len, path, info, state, state_len, err, sizeof err);
    free(buf);
    if (!ok)
        session_fail(s, STATUS_ERROR, "%s", err);
    return ok;
}

/* Put the snapshot's machine state into the (freshly built) machine and
 * start a new digest baseline, as the recording side did. */
static bool load_snapshot_state(Session *s, const uint8_t *state, size_t len, const char *path)
{
    SerReader r;
    ser_reader_init(&r, state, len);
    if (!machine_load(s->m, &r) || r.pos != r.len) {
        session_fail(s, STATUS_ERROR, "%s: the machine state does not load: %s", path, r.err ? r.err : "trailing bytes");
        return false;
    }
    checkpoint_free(&s->cps);
    if (!checkpoint_init(&s->cps, s->m)) {
        s->cps_ready = false;
        session_fail(s, 1, "out of memory");
        return false;
    }
    s->start_icount = s->m->icount;
    s->high_water = s->m->icount;
    s->last_match_icount = s->m->icount; /* the start state is the recorded one */
    return true;
}

/* Replay of a recording that starts from a snapshot: find it by the path
 * recorded, in --snapshot-dir or next to the recording, checked by hash. */
bool session_find_recording_snapshot(Session *s, char *out, size_t outlen)
{
    const char *want = rlog_header_get(&s->header, "snapshot");
    const char *rpath = rlog_header_get(&s->header, "snapshot_path");
    if (!want)
        return false;
    for (int k = 0; k < s->header.nimages; k++) {
        /* listed as an image: packed in the recording, or in --snapshot-dir */
        const RlogImage *ri = &s->header.images[k];
        char err[8192], hex[33];
        rlog_hash_hex(ri->hash, hex);
        if (strcmp(ri->role, SNAPSHOT_ROLE) != 0 || strcmp(hex, want) != 0)
            continue; /* an earlier snapshot of a chain of recordings */
        if (rlog_find_image(s->reader, ri, s->opt->snapshot_dir, &s->snap_blob, &s->snap_blob_len, err,
                            sizeof err)) {
            snprintf(out, outlen, "%s", ri->path);
            return true;
        }
    }
    char base[4096], dir[4096], cand[3][4096];
    snprintf(base, sizeof base, "%s", rpath ? rpath : "");
    snprintf(dir, sizeof dir, "%s", s->opt->rr_path);
    const char *b = basename(base);
    int n = 0;
    if (s->opt->snapshot_dir)
        snprintf(cand[n++], sizeof cand[0], "%s/%s", s->opt->snapshot_dir, b);
    if (rpath)
        snprintf(cand[n++], sizeof cand[0], "%s", rpath);
    snprintf(cand[n++], sizeof cand[0], "%s/%s", dirname(dir), b);
    for (int i = 0; i < n; i++) {
        uint8_t *buf;
        size_t len;
        char err[256];
        if (!host_read_file(cand[i], MAX_SNAPSHOT_SIZE, &buf, &len, err, sizeof err))
            continue;
        uint8_t h[16];
        char hex[33];
        rlog_hash128(buf, len, h);
        free(buf);
        rlog_hash_hex(h, hex);
        if (strcmp(hex, want) == 0) {
            snprintf(out, outlen, "%s", cand[i]);
            return true;
        }
    }
    session_fail(s, STATUS_ERROR, "the recording starts from snapshot %s (hash %s), which was not found%s",
                 rpath ? rpath : "?", want, s->opt->snapshot_dir ? "" : " (use --snapshot-dir DIR)");
    return false;
}

/* List the snapshot file at path among the recording's images (role
 * SNAPSHOT_ROLE), so `rrvm pack` embeds it like a boot image. */
static bool add_snapshot_image(Session *s, const char *path)
{
    uint8_t *buf;
    size_t len;
    char err[1024];
    if (!host_read_file(path, MAX_SNAPSHOT_SIZE, &buf, &len, err, sizeof err))
        return false;
    bool ok = rlog_header_add_image(&s->header, SNAPSHOT_ROLE, path, buf, len);
    free(buf);
    return ok;
}

/* The snapshot a session starts from, in two steps around opening the
 * log and the console: snapshot_prepare reads it (the header - config,
 * images - comes from it for run/record), snapshot_finish builds the
 * machine and loads the state; replay --from also resumes the log where
 * the snapshot was taken. */
bool session_snapshot_prepare(Session *s, const char *path, MachineConfig *cfg)
{
    uint8_t hash[16];
    SnapshotInfo *info = &s->snap_info;
    s->snap_path = path;
    if (!read_snapshot(s, path, info, &s->snap_state, &s->snap_state_len, hash))
        return false;
    s->snap_loaded = true;
    if (s->mode == SESSION_REPLAY && !rlog_header_get(&s->header, "snapshot")) {
        /* replay F.rr --from S.snap: S must come from F */
        if (!info->from_replay || memcmp(info->recording_id, s->recording_id, 16) != 0) {
            session_fail(s, STATUS_ERROR, "%s was not taken while replaying %s (%s); refusing it", path,
                         s->opt->rr_path, info->from_replay ? "it comes from another recording" : "it comes from a live run");
            return false;
        }
    } else if (s->mode != SESSION_REPLAY) {
        /* run/record from a snapshot: its header describes the machine */
        rlog_header_free(&s->header);
        s->header = info->header;
        memset(&info->header, 0, sizeof info->header);
        s->header.format_version = RLOG_FORMAT_VERSION;
        snprintf(s->header.rrvm_version, sizeof s->header.rrvm_version, "%s", RRVM_VERSION);
        s->header.verify_strict = s->opt->verify_strict;
        session_record_schedule_options(s, &s->header);
        char hex[33];
        rlog_hash_hex(hash, hex);
        char *abs = realpath(path, NULL);
        bool set = rlog_header_set(&s->header, "snapshot", hex) &&
                   rlog_header_set(&s->header, "snapshot_path", abs ? abs : path) &&
                   add_snapshot_image(s, abs ? abs : path);
        free(abs);
        if (!set) {
            session_fail(s, 1, "too many options for one recording");
            return false;
        }
    }
    *cfg = s->header.cfg;
    return session_load_images_for_replay(s, true);
}

bool session_snapshot_finish(Session *s, MachineConfig *cfg)
{
    const SnapshotInfo *info = &s->snap_info;
    s->building_for_snapshot = true;
    bool built = session_build_machine(s, cfg);
    s->building_for_snapshot = false;
    if (!built || !load_snapshot_state(s, s->snap_state, s->snap_state_len, s->snap_path))
        return false;
    if (s->mode == SESSION_REPLAY && !rlog_header_get(&s->header, "snapshot")) {
        if (!rlog_reader_seek(s->reader, &info->log_pos) || !session_resume_at(s, info->session, info->session_len))
            return false;
    }
    return true;
}

void session_snapshot_release(Session *s)
{
    if (s->snap_loaded)
        snapshot_info_free(&s->snap_info);
    s->snap_loaded = false;
    free(s->snap_state);
    s->snap_state = NULL;
    free(s->snap_blob);
    s->snap_blob = NULL;
}

bool session_go_live(Session *s, const char *rr_out)
{
    if (s->mode != SESSION_REPLAY || s->failed)
        return false;
    char err[1024];
    if (rr_out) {
        /* the new recording starts from a snapshot of this state, kept next to it */
        char snap[4096];
        snprintf(snap, sizeof snap, "%s.snap", rr_out);
        if (!session_write_snapshot(s, snap))
            return false;
        uint8_t *buf, h[16];
        size_t len;
        if (!host_read_file(snap, MAX_SNAPSHOT_SIZE, &buf, &len, err, sizeof err)) {
            session_fail(s, 1, "%s", err);
            return false;
        }
        rlog_hash128(buf, len, h);
        free(buf);
        char hex[33];
        rlog_hash_hex(h, hex);
        char *abs = realpath(snap, NULL);
        bool set = rlog_header_set(&s->header, "snapshot", hex) &&
                   rlog_header_set(&s->header, "snapshot_path", abs ? abs : snap) &&
                   add_snapshot_image(s, abs ? abs : snap);
        free(abs);
        s->header.verify_strict = false;
        if (!s->header.checkpoint_interval)
            s->header.checkpoint_interval = DEFAULT_CHECKPOINT_INTERVAL;
        s->writer = set ? rlog_writer_create(rr_out, &s->header, s->opt->force, err, sizeof err) : NULL;
        if (!s->writer) {
            session_fail(s, 1, "%s", set ? err : "too many options for one recording");
            return false;
        }
        s->go_live_path = rr_out;
    }
    rlog_reader_close(s->reader);
    s->reader = NULL;
    ckstore_free(s->ckstore);
    s->ckstore = NULL;
    s->mode = rr_out ? SESSION_RECORD : SESSION_RUN;
    s->high_water = 0;
    s->shutdown_cause = 0;
    HostConsole old = s->console;
    host_console_close(&s->console);
    if (!host_console_open(&s->console, s->opt->serial, true, err, sizeof err)) {
        session_fail(s, 1, "%s", err);
        return false;
    }
    /* a monitor sharing the console keeps it, and keeps the focus */
    host_console_set_monitor(&s->console, old.monitor_input, old.monitor_opaque);
    s->console.monitor_active = old.monitor_active && old.monitor_input;
    /* a new digest baseline, as the replay of the new recording will take
     * after loading the snapshot */
    checkpoint_free(&s->cps);
    if (!checkpoint_init(&s->cps, s->m)) {
        s->cps_ready = false;
        session_fail(s, 1, "out of memory");
        return false;
    }
    session_start_checkpoint_schedule(s);
    s->last_flush_ns = host_monotonic_ns();
    fprintf(stderr, "rrvm: going live at icount %" PRIu64 "%s%s\n", s->m->icount, rr_out ? ", recording to " : "",
            rr_out ? rr_out : "");
    return true;
}

