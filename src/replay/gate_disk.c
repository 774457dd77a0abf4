/*
 * gate_disk.c - disks: the base images behind virtio-blk devices, and the
 * overlay files (-drive ...,overlay=FILE) a run starts from and ends in.
 *
 * A base image is a deterministic input identified by its content hash
 * (blockimg_hash): the gate reads it in every mode, replay included, and
 * logs nothing. The recording lists each drive as an image (role
 * "driveN", N = device index, with its path, size and hash; its format in
 * the kv entry "driveN.format"); replay opens the same file (or the one of
 * that name in --image-dir) and refuses one whose contents changed.
 * Everything the guest wrote is in the device's overlay, machine state.
 *
 * An overlay file (docs/OVERLAY_FORMAT.md) that a run starts from is
 * listed as an image (role "overlayN") and always stored in the recording,
 * so a replay never reads the file, which the run rewrites at its end
 * (atomically: a temporary file renamed over it).
 *
 * Invariants: a drive is used only when its size and content hash are the
 * recorded ones; an overlay file is used only when its checksum holds and
 * it was made over the same base (content hash and size).
 */
#include "session_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "host/blockimg.h"
#include "host/hostsys.h"
#include "machine/board.h"
#include "machine/dev/virtio_blk.h"
#include "pack.h"

#define OVERLAY_MAGIC "RRVMOVL"  /* 8 bytes with its NUL */
#define OVERLAY_VERSION 1
#define OVERLAY_MAX_FILE (64ull << 30)
#define OVERLAY_HEAD 40 /* magic, version, cluster size, base hash, disk size */

bool gate_disk_read(void *opaque, int dev, uint64_t offset, void *buf, size_t n)
{
    Session *s = opaque;
    if (dev < 0 || dev >= MACHINE_MAX_DEVICES || !s->disk[dev])
        return false;
    char err[512];
    if (blockimg_read(s->disk[dev], offset, buf, n, err, sizeof err))
        return true;
    /* the guest sees an I/O error; say why once, as QEMU reports it */
    if (!s->disk_error_reported) {
        fprintf(stderr, "rrvm: warning: disk %d: %s (the guest gets an I/O error)\n", dev, err);
        s->disk_error_reported = true;
    }
    return false;
}

static void hex_of(const uint8_t h[16], char out[33]) { rlog_hash_hex(h, out); }

/* --- overlay files --- */

/* Check an overlay file's framing; on success *body points at the cluster
 * list (the device's overlay encoding) and base/size/path describe the
 * base it was made over. */
static bool overlay_parse(const uint8_t *buf, size_t len, uint8_t base[16], uint64_t *size, char *path,
                          size_t pathcap, const uint8_t **body, size_t *body_len, char *err, size_t errlen)
{
    if (len < OVERLAY_HEAD + 4 + 8 || memcmp(buf, OVERLAY_MAGIC, 8) != 0) {
        snprintf(err, errlen, "not an rrvm overlay file (bad magic)");
        return false;
    }
    SerReader r;
    ser_reader_init(&r, buf, len - 8);
    uint8_t magic[8];
    ser_get_bytes(&r, magic, 8);
    uint32_t version = ser_get_u32(&r), cluster = ser_get_u32(&r);
    ser_get_bytes(&r, base, 16);
    *size = ser_get_u64(&r);
    uint32_t plen = ser_get_u32(&r);
    if (version != OVERLAY_VERSION || cluster != VIRTIO_BLK_CLUSTER) {
        snprintf(err, errlen, "overlay format version %u with %u-byte clusters (this rrvm writes version %d, %u)",
                 version, cluster, OVERLAY_VERSION, VIRTIO_BLK_CLUSTER);
        return false;
    }
    if (!ser_ok(&r) || plen > len - 8 - r.pos) {
        snprintf(err, errlen, "overlay file is cut");
        return false;
    }
    snprintf(path, pathcap, "%.*s", (int)plen, (const char *)buf + r.pos);
    r.pos += plen;
    uint64_t sum = 0;
    for (int i = 0; i < 8; i++)
        sum |= (uint64_t)buf[len - 8 + i] << (8 * i);
    if (XXH3_64bits(buf, len - 8) != sum) {
        snprintf(err, errlen, "overlay file checksum mismatch (damaged)");
        return false;
    }
    *body = buf + r.pos;
    *body_len = len - 8 - r.pos;
    return true;
}

static void overlay_encode(Session *s, int i, VirtioDev *d, SerWriter *w)
{
    ser_put_bytes(w, OVERLAY_MAGIC, 8);
    ser_put_u32(w, OVERLAY_VERSION);
    ser_put_u32(w, VIRTIO_BLK_CLUSTER);
    ser_put_bytes(w, s->disk_hash[i], 16);
    ser_put_u64(w, s->m->cfg.devices[i].size);
    const char *path = s->disk_path[i] ? s->disk_path[i] : "";
    ser_put_u32(w, (uint32_t)strlen(path));
    ser_put_bytes(w, path, strlen(path));
    virtio_blk_overlay_save(d, w);
    ser_put_u64(w, XXH3_64bits(w->buf, w->len));
}

/* The starting overlay of drive i must be over this drive's base. */
static bool overlay_check_base(Session *s, int i, const char *file, char *err, size_t errlen)
{
    uint8_t base[16];
    uint64_t size;
    char path[4096], why[512];
    const uint8_t *body;
    size_t body_len;
    if (!overlay_parse(s->overlay_in[i], s->overlay_in_len[i], base, &size, path, sizeof path, &body, &body_len, why,
                       sizeof why)) {
        snprintf(err, errlen, "overlay %s: %s", file, why);
        return false;
    }
    if (memcmp(base, s->disk_hash[i], 16) != 0 || size != s->header.cfg.devices[i].size) {
        char want[33], got[33];
        hex_of(base, got);
        hex_of(s->disk_hash[i], want);
        snprintf(err, errlen, "overlay %s was made over another base image: %s (%" PRIu64 " bytes, hash %s), not %s "
                 "(%" PRIu64 " bytes, hash %s)", file, path[0] ? path : "?", size, got,
                 s->disk_path[i] ? s->disk_path[i] : "?", s->header.cfg.devices[i].size, want);
        return false;
    }
    return true;
}

/* --- opening the drives --- */

static bool add_drive_image(Session *s, int i, BlockImage *b, const char *path)
{
    RlogHeader *h = &s->header;
    char role[16], key[32];
    snprintf(role, sizeof role, "drive%d", i);
    if (h->nimages >= RLOG_MAX_IMAGES)
        return false;
    char *abs = realpath(path, NULL);
    RlogImage *im = &h->images[h->nimages];
    memset(im, 0, sizeof *im);
    snprintf(im->role, sizeof im->role, "%s", role);
    im->path = abs ? abs : strdup(path);
    if (!im->path)
        return false;
    im->size = blockimg_size(b);
    memcpy(im->hash, s->disk_hash[i], 16);
    h->nimages++;
    snprintf(key, sizeof key, "drive%d.format", i);
    return rlog_header_set(h, key, blockimg_format(b));
}

/* Run/record: open each -drive, hash it, list it in the header; read the
 * overlay file it starts from, if any. */
bool gate_disk_open_live(Session *s, const MachineConfig *cfg, char *err, size_t errlen)
{
    for (int i = 0; i < cfg->ndevices; i++) {
        const SessionDrive *dr = &s->opt->drive[i];
        if (cfg->devices[i].kind != MDEV_VIRTIO_BLK)
            continue;
        if (!dr->path) {
            snprintf(err, errlen, "virtio-blk-device %d has no -drive", i);
            return false;
        }
        char why[1024];
        BlockImage *b = blockimg_open(dr->path, dr->format, why, sizeof why);
        if (!b) {
            snprintf(err, errlen, "drive %s: %s", cfg->devices[i].id, why);
            return false;
        }
        s->disk[i] = b;
        s->disk_path[i] = strdup(dr->path);
        if (blockimg_size(b) != cfg->devices[i].size) {
            snprintf(err, errlen, "drive %s: %s changed size while starting", cfg->devices[i].id, dr->path);
            return false;
        }
        if (!blockimg_hash(b, s->disk_hash[i], why, sizeof why)) {
            snprintf(err, errlen, "drive %s: %s", cfg->devices[i].id, why);
            return false;
        }
        if (!add_drive_image(s, i, b, dr->path)) {
            snprintf(err, errlen, "too many images for one recording");
            return false;
        }
        struct stat si, so;
        if (dr->overlay && stat(dr->path, &si) == 0 && stat(dr->overlay, &so) == 0 && si.st_dev == so.st_dev &&
            si.st_ino == so.st_ino) {
            snprintf(err, errlen, "drive %s: overlay=%s is the drive's image (rrvm never writes a base image)",
                     cfg->devices[i].id, dr->overlay);
            return false;
        }
        if (!dr->overlay || access(dr->overlay, F_OK) != 0)
            continue; /* no starting overlay: the file is created at the end */
        if (!host_read_file(dr->overlay, OVERLAY_MAX_FILE, &s->overlay_in[i], &s->overlay_in_len[i], why,
                            sizeof why)) {
            snprintf(err, errlen, "drive %s: %s", cfg->devices[i].id, why);
            return false;
        }
        if (!overlay_check_base(s, i, dr->overlay, err, errlen))
            return false;
        char role[16], *abs = realpath(dr->overlay, NULL);
        snprintf(role, sizeof role, "overlay%d", i);
        bool added = rlog_header_add_image(&s->header, role, abs ? abs : dr->overlay, s->overlay_in[i],
                                           s->overlay_in_len[i]);
        free(abs);
        if (!added) {
            snprintf(err, errlen, "too many images for one recording");
            return false;
        }
    }
    return true;
}

/* Open drive i as the recording lists it: at image_dir/NAME or its path,
 * same size and content hash. */
static bool open_recorded_drive(Session *s, int i, const RlogImage *ri, char *err, size_t errlen)
{
    char key[32];
    snprintf(key, sizeof key, "drive%d.format", i);
    const char *format = rlog_header_get(&s->header, key);
    char cand[2][4096], why[1024];
    int ncand = 0;
    if (s->opt->image_dir) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", ri->path);
        snprintf(cand[ncand++], sizeof cand[0], "%s/%s", s->opt->image_dir, basename(tmp));
    }
    snprintf(cand[ncand++], sizeof cand[0], "%s", ri->path);
    err[0] = 0;
    for (int c = 0; c < ncand; c++) {
        BlockImage *b = blockimg_open(cand[c], format, why, sizeof why);
        if (!b) {
            snprintf(err, errlen, "replay: drive%d image: %s%s", i, why,
                     s->opt->image_dir ? "" : " (use --image-dir DIR if the images moved)");
            continue;
        }
        uint8_t h[16];
        if (!blockimg_hash(b, h, why, sizeof why)) {
            blockimg_close(b);
            snprintf(err, errlen, "replay: drive%d image: %s", i, why);
            continue;
        }
        if (blockimg_size(b) != ri->size || memcmp(h, ri->hash, 16) != 0) {
            char want[33], got[33];
            hex_of(h, got);
            hex_of(ri->hash, want);
            snprintf(err, errlen, "replay: drive%d image %s has changed since the recording (%" PRIu64
                     " bytes, hash %s; recorded %" PRIu64 " bytes, hash %s)", i, cand[c], blockimg_size(b), got,
                     ri->size, want);
            blockimg_close(b);
            continue;
        }
        s->disk[i] = b;
        memcpy(s->disk_hash[i], h, 16);
        s->disk_path[i] = strdup(cand[c]);
        return true;
    }
    return false;
}

/* Is role "<prefix>N" with N a device index? */
static int role_index(const char *role, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(role, prefix, n) != 0 || role[n] < '0' || role[n] > '9' || role[n + 1])
        return -1;
    return role[n] - '0' < MACHINE_MAX_DEVICES ? role[n] - '0' : -1;
}

bool gate_disk_is_role(const char *role)
{
    return role_index(role, "drive") >= 0 || role_index(role, "overlay") >= 0;
}

/* Replay, and sessions that start from a snapshot: the drives (and, unless
 * the machine state comes from a snapshot, the starting overlays) as the
 * header lists them. */
bool gate_disk_open_recorded(Session *s, bool with_overlays, char *err, size_t errlen)
{
    const RlogHeader *h = &s->header;
    for (int k = 0; k < h->nimages; k++) {
        const RlogImage *ri = &h->images[k];
        int i = role_index(ri->role, "drive");
        if (i < 0)
            continue;
        if (i >= h->cfg.ndevices || h->cfg.devices[i].kind != MDEV_VIRTIO_BLK) {
            snprintf(err, errlen, "the recording lists %s for a device that is not a disk", ri->role);
            return false;
        }
        if (!open_recorded_drive(s, i, ri, err, errlen))
            return false;
    }
    for (int i = 0; i < h->cfg.ndevices; i++) {
        if (h->cfg.devices[i].kind == MDEV_VIRTIO_BLK && !s->disk[i]) {
            snprintf(err, errlen, "the recording has a virtio-blk-device %d without its drive image", i);
            return false;
        }
    }
    for (int k = 0; with_overlays && k < h->nimages; k++) {
        const RlogImage *ri = &h->images[k];
        int i = role_index(ri->role, "overlay");
        if (i < 0)
            continue;
        char why[8192];
        if (!s->disk[i] ||
            !rlog_find_image(s->reader, ri, s->opt->image_dir, &s->overlay_in[i], &s->overlay_in_len[i], why,
                             sizeof why)) {
            snprintf(err, errlen, "replay: %s: %s", ri->role, s->disk[i] ? why : "not a disk");
            return false;
        }
        if (!overlay_check_base(s, i, ri->path, err, errlen))
            return false;
    }
    return true;
}

/* Record: store each starting overlay in the recording (replay must not
 * depend on the file, which this run rewrites). */
bool gate_disk_pack_overlays(Session *s)
{
    for (int i = 0; i < MACHINE_MAX_DEVICES; i++)
        if (s->overlay_in[i] && !rlog_writer_pack_image(s->writer, s->overlay_in[i], s->overlay_in_len[i]))
            return false;
    return true;
}

/* A freshly created machine: load the starting overlays into the disks. */
bool gate_disk_apply_overlays(Session *s, char *err, size_t errlen)
{
    for (int i = 0; i < MACHINE_MAX_DEVICES; i++) {
        if (!s->overlay_in[i])
            continue;
        VirtioDev *d = board_virtio_device(s->m, i);
        uint8_t base[16];
        uint64_t size;
        char path[4096], why[512];
        const uint8_t *body;
        size_t body_len;
        if (!d || !virtio_blk_is(d) ||
            !overlay_parse(s->overlay_in[i], s->overlay_in_len[i], base, &size, path, sizeof path, &body,
                           &body_len, why, sizeof why)) {
            snprintf(err, errlen, "drive%d: the starting overlay does not fit the machine", i);
            return false;
        }
        SerReader r;
        ser_reader_init(&r, body, body_len);
        if (!virtio_blk_overlay_load(d, &r) || r.pos != body_len) {
            snprintf(err, errlen, "drive%d: the starting overlay is invalid: %s", i,
                     r.err ? r.err : "bytes after the last cluster");
            return false;
        }
    }
    return true;
}

/* Run/record end: write each disk's final overlay to its overlay= file,
 * atomically (a temporary file beside it, then rename). */
bool gate_disk_write_overlays(Session *s, char *err, size_t errlen)
{
    for (int i = 0; s->m && i < s->m->cfg.ndevices; i++) {
        const char *file = s->opt->drive[i].overlay;
        VirtioDev *d = board_virtio_device(s->m, i);
        if (!file || !d || !virtio_blk_is(d))
            continue;
        SerWriter w;
        ser_writer_init(&w);
        overlay_encode(s, i, d, &w);
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp%d", file, (int)getpid());
        FILE *f = w.oom ? NULL : fopen(tmp, "wb");
        bool ok = f && fwrite(w.buf, 1, w.len, f) == w.len;
        ok = f && fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
        if (f && fclose(f) != 0)
            ok = false;
        if (ok && rename(tmp, file) != 0)
            ok = false;
        if (!ok) {
            snprintf(err, errlen, "overlay %s: cannot write: %s", file, w.oom ? "out of memory" : strerror(errno));
            unlink(tmp);
        }
        ser_writer_free(&w);
        if (!ok)
            return false;
    }
    return true;
}

void gate_disk_close(Session *s)
{
    for (int i = 0; i < MACHINE_MAX_DEVICES; i++) {
        if (s->disk[i])
            blockimg_close(s->disk[i]);
        s->disk[i] = NULL;
        free(s->overlay_in[i]);
        s->overlay_in[i] = NULL;
        free(s->disk_path[i]);
        s->disk_path[i] = NULL;
    }
}
