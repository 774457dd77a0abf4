/*
 * pack.c - finding a recording's images, and `rrvm pack` (see pack.h).
 *
 * Invariants:
 *  - An image is used only when its size and XXH3_128 equal the recorded
 *    ones, wherever it comes from.
 *  - Packing never loses the recording: the packed copy is written to a
 *    temporary file beside it, read back through the ordinary reader and
 *    only then renamed over the original. Only a complete recording (its
 *    END read, nothing after it) is packed, with every event re-encoded
 *    through the writer, so the result is a current-format file.
 */
#include "pack.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/hostsys.h"

/* Append "; " (after an earlier reason) and a formatted reason to err. */
static void add_reason(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_reason(char *err, size_t errlen, const char *fmt, ...)
{
    size_t used = strlen(err);
    if (used && used + 2 < errlen)
        used += (size_t)snprintf(err + used, errlen - used, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + used, errlen - used, fmt, ap);
    va_end(ap);
}

bool rlog_find_image(const RlogReader *r, const RlogImage *ri, const char *image_dir, uint8_t **data, size_t *len,
                     char *err, size_t errlen)
{
    err[0] = 0;
    char why[2048];
    int k = r ? rlog_reader_find_packed(r, ri->hash) : -1;
    if (k >= 0) {
        if (rlog_reader_unpack(r, k, data, len, why, sizeof why))
            return true;
        add_reason(err, errlen, "%s", why);
    }
    char cand[2][4096];
    int ncand = 0;
    if (image_dir) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", ri->path);
        snprintf(cand[ncand++], sizeof cand[0], "%s/%s", image_dir, basename(tmp));
    }
    snprintf(cand[ncand++], sizeof cand[0], "%s", ri->path);
    for (int c = 0; c < ncand; c++) {
        /* every candidate's reason is kept: a copy in --image-dir with the
         * wrong contents must not be skipped without a word */
        if (!host_read_file(cand[c], RLOG_MAX_IMAGE, data, len, why, sizeof why)) {
            add_reason(err, errlen, "%s", why);
            continue;
        }
        uint8_t h[16];
        rlog_hash128(*data, *len, h);
        if (*len == ri->size && memcmp(h, ri->hash, 16) == 0)
            return true;
        char want[33], got[33];
        rlog_hash_hex(ri->hash, want);
        rlog_hash_hex(h, got);
        add_reason(err, errlen,
                   "%s does not match the recording's %s image (%zu bytes, hash %s; recorded %" PRIu64
                   " bytes, hash %s)",
                   cand[c], ri->role, *len, got, ri->size, want);
        free(*data);
        *data = NULL;
        *len = 0;
    }
    return false;
}

/* Copy every event of r into w, keeping its frame boundaries. Returns the
 * reader's result: 0 at a clean end. */
static int copy_events(RlogReader *r, RlogWriter *w)
{
    RlogEvent ev;
    int rc;
    uint64_t frame = UINT64_MAX;
    while ((rc = rlog_next(r, &ev)) == 1) {
        if (ev.file_offset != frame && frame != UINT64_MAX && !rlog_flush(w))
            return 1;
        frame = ev.file_offset;
        if (!rlog_write(w, ev.icount, ev.kind, ev.payload, ev.len))
            return 1;
    }
    return rc;
}

/* Write the packed copy of the recording open in r to tmp. */
static bool write_packed(RlogReader *r, const RlogHeader *h, const char *image_dir, const char *tmp, FILE *err)
{
    char msg[8192];
    RlogWriter *w = rlog_writer_open(tmp, h, msg, sizeof msg);
    if (!w) {
        fprintf(err, "rrvm: %s\n", msg);
        return false;
    }
    bool ok = true;
    for (int i = 0; ok && i < h->nimages; i++) {
        uint8_t *data;
        size_t len;
        if (strncmp(h->images[i].role, "drive", 5) == 0) {
            /* disks can be many GiB and replay reads them in place, by
             * content hash: they stay outside (overlays are packed) */
            fprintf(err, "rrvm: pack: %s (%s) is not embedded: disk images stay outside the recording; replay "
                    "finds them at their path or in --image-dir, checked by content hash\n",
                    h->images[i].role, h->images[i].path);
            continue;
        }
        if (!rlog_find_image(r, &h->images[i], image_dir, &data, &len, msg, sizeof msg)) {
            fprintf(err, "rrvm: pack: %s image: %s%s\n", h->images[i].role, msg,
                    image_dir ? "" : " (use --image-dir DIR if the images moved)");
            ok = false;
            break;
        }
        ok = rlog_writer_pack_image(w, data, len);
        free(data);
    }
    if (ok) {
        int rc = copy_events(r, w);
        if (rc < 0)
            fprintf(err, "rrvm: pack: only a complete recording can be packed: %s\n", rlog_reader_error(r));
        ok = rc == 0;
    }
    if (ok && !rlog_flush(w))
        ok = false;
    if (!ok && rlog_writer_error(w))
        fprintf(err, "rrvm: pack: %s\n", rlog_writer_error(w));
    if (ok && !rlog_writer_sync(w))
        ok = false;
    return rlog_writer_close(w) && ok;
}

/* Read the new file back: the same events, the same images. */
static bool verify_packed(const char *tmp, FILE *err)
{
    RlogHeader h;
    char msg[1024];
    RlogReader *r = rlog_reader_open(tmp, &h, msg, sizeof msg);
    if (!r) {
        fprintf(err, "rrvm: pack: the packed copy does not read back: %s\n", msg);
        return false;
    }
    bool ok = rlog_reader_npacked(r) > 0 || h.nimages == 0;
    for (int i = 0; ok && i < h.nimages; i++)
        ok = strncmp(h.images[i].role, "drive", 5) == 0 || rlog_reader_find_packed(r, h.images[i].hash) >= 0;
    RlogEvent ev;
    int rc;
    while ((rc = rlog_next(r, &ev)) == 1)
        ;
    if (!ok || rc != 0)
        fprintf(err, "rrvm: pack: the packed copy does not read back: %s\n",
                rc ? rlog_reader_error(r) : "an image is missing");
    rlog_reader_close(r);
    rlog_header_free(&h);
    return ok && rc == 0;
}

int rlog_pack_file(const char *path, const char *image_dir, FILE *err)
{
    RlogHeader h;
    char msg[1024];
    RlogReader *r = rlog_reader_open(path, &h, msg, sizeof msg);
    if (!r) {
        fprintf(err, "rrvm: %s\n", msg);
        return 2;
    }
    if (rlog_reader_writer_pid(r) > 0) {
        fprintf(err, "rrvm: %s is still being written by process %d: pack it when it is complete\n", path,
                rlog_reader_writer_pid(r));
        rlog_reader_close(r);
        rlog_header_free(&h);
        return 2;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.packing", path);
    /* exclusive creation: a second `rrvm pack` of the same file stops here
     * (the writer's lock alone ends when verify_packed opens the file) */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(err, "rrvm: pack: cannot create %s: %s%s\n", tmp, strerror(errno),
                errno == EEXIST ? " (another rrvm pack at work? if not, remove it)" : "");
        rlog_reader_close(r);
        rlog_header_free(&h);
        return 2;
    }
    close(fd);
    bool ok = write_packed(r, &h, image_dir, tmp, err) && verify_packed(tmp, err);
    rlog_reader_close(r);
    rlog_header_free(&h);
    if (ok && rename(tmp, path) != 0) {
        fprintf(err, "rrvm: pack: cannot rename %s to %s: %s\n", tmp, path, strerror(errno));
        ok = false;
    }
    if (!ok) {
        unlink(tmp);
        return 2;
    }
    return 0;
}
