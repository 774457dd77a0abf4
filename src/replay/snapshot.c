/*
 * snapshot.c - snapshot files (snapshot.h); the byte format is specified in
 * docs/SNAPSHOT_FORMAT.md.
 *
 * Layout: a 32-byte prefix (magic "RRVMSNAP", format version, section
 * count, total file length, xxh64 of the prefix), then the sections HEAD
 * (recording-style header), POSN (icount, replay position), SESS (session
 * blob) and STAT (machine_save blob, zstd), in that order, each a 32-byte
 * section header (id, encoding, stored and raw length, xxh64 of the
 * header's first 24 bytes and the stored bytes) followed by its bytes.
 *
 * Invariants:
 *  - The reader checks, in this order, the magic, the version (so a file
 *    of another version gets a message with both numbers, whatever its
 *    layout), the prefix checksum, then the file length against the bytes
 *    present (truncation and trailing data are told apart), then each
 *    section's lengths against caps and the bytes left before its checksum
 *    and before allocating anything.
 *  - Every message names the file and falls in one class: "not an rrvm
 *    snapshot", "format version", "truncated at byte N", "trailing data",
 *    "damaged" (checksums and inconsistent content), or an I/O error.
 *  - The writer builds the whole file in memory and writes it to a
 *    temporary file in the destination directory, fsyncs it, renames it
 *    into place and fsyncs the directory: the final name only ever holds a
 *    complete snapshot.
 *
 * Fuzzing builds (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) compute but do
 * not enforce checksums, so the fuzzer reaches the decoders behind them,
 * and cap the machine state lower so a forged length cannot exhaust memory.
 */
#include "util/le.h"
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CHECKSUMS_ENFORCED 0
#define STATE_CAP (64ull << 20)
#else
#define CHECKSUMS_ENFORCED 1
#define STATE_CAP (64ull << 30) /* 64 GiB of machine state */
#endif

static const uint8_t SNAP_MAGIC[8] = {'R', 'R', 'V', 'M', 'S', 'N', 'A', 'P'};
#define PREFIX_LEN 32
#define SECTION_HEADER_LEN 32
#define NSECTIONS 4
#define POSN_LEN 49
#define SESSION_CAP (64ull << 20)
#define CORE_SLACK (64ull << 20) /* machine state beyond RAM: harts, devices */
#define ZSTD_LEVEL 3

enum { ENC_RAW = 0, ENC_ZSTD = 1 };

/* Sections in file order; each appears exactly once. */
typedef struct SectionKind {
    char id[5];
    uint32_t encoding; /* what the writer uses */
} SectionKind;
static const SectionKind SECTIONS[NSECTIONS] = {
    {"HEAD", ENC_RAW},
    {"POSN", ENC_RAW},
    {"SESS", ENC_RAW},
    {"STAT", ENC_ZSTD},
};
enum { SEC_HEAD, SEC_POSN, SEC_SESS, SEC_STAT };





static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Section checksum: the section header's first 24 bytes, then the data. */
static uint64_t section_hash(const uint8_t *hdr, const uint8_t *data, uint64_t len)
{
    XXH64_state_t *st = XXH64_createState();
    if (!st)
        return 0;
    XXH64_reset(st, 0);
    XXH64_update(st, hdr, 24);
    XXH64_update(st, data, (size_t)len);
    uint64_t h = XXH64_digest(st);
    XXH64_freeState(st);
    return h;
}

/* ------------------------------------------------------------------ */
/* writing */

static void put_section(SerWriter *w, int kind, const uint8_t *stored, size_t stored_len, size_t raw_len)
{
    uint8_t hdr[SECTION_HEADER_LEN];
    memcpy(hdr, SECTIONS[kind].id, 4);
    put_le32(hdr + 4, SECTIONS[kind].encoding);
    put_le64(hdr + 8, stored_len);
    put_le64(hdr + 16, raw_len);
    put_le64(hdr + 24, section_hash(hdr, stored, stored_len));
    ser_put_bytes(w, hdr, sizeof hdr);
    ser_put_bytes(w, stored, stored_len);
}

static void encode_posn(const SnapshotInfo *info, uint8_t out[POSN_LEN])
{
    put_le64(out, info->icount);
    out[8] = info->from_replay;
    memcpy(out + 9, info->recording_id, 16);
    put_le64(out + 25, info->log_pos.frame_offset);
    put_le64(out + 33, info->log_pos.event_index);
    put_le64(out + 41, info->log_pos.last_icount);
}

/* The whole file in w; false with err. */
static bool snapshot_encode(const SnapshotInfo *info, const uint8_t *state, size_t state_len, SerWriter *w,
                            char *err, size_t errlen)
{
    if (state_len > STATE_CAP || info->session_len > SESSION_CAP || (info->session_len && !info->session)) {
        set_err(err, errlen, "snapshot: machine state or session blob too large");
        return false;
    }
    SerWriter head;
    ser_writer_init(&head);
    if (!rlog_header_encode(&info->header, &head, err, errlen)) {
        ser_writer_free(&head);
        return false;
    }
    size_t bound = ZSTD_compressBound(state_len);
    uint8_t *z = malloc(bound ? bound : 1);
    size_t zlen = z ? ZSTD_compress(z, bound, state, state_len, ZSTD_LEVEL) : 0;
    if (!z || ZSTD_isError(zlen)) {
        set_err(err, errlen, "snapshot: cannot compress the machine state");
        free(z);
        ser_writer_free(&head);
        return false;
    }
    uint8_t prefix[PREFIX_LEN] = {0};
    ser_put_bytes(w, prefix, sizeof prefix); /* filled in below */
    uint8_t posn[POSN_LEN];
    encode_posn(info, posn);
    put_section(w, SEC_HEAD, head.buf, head.len, head.len);
    put_section(w, SEC_POSN, posn, sizeof posn, sizeof posn);
    put_section(w, SEC_SESS, info->session, info->session_len, info->session_len);
    put_section(w, SEC_STAT, z, zlen, state_len);
    free(z);
    ser_writer_free(&head);
    if (w->oom) {
        set_err(err, errlen, "snapshot: out of memory");
        return false;
    }
    memcpy(w->buf, SNAP_MAGIC, 8);
    put_le32(w->buf + 8, SNAPSHOT_FORMAT_VERSION);
    put_le32(w->buf + 12, NSECTIONS);
    put_le64(w->buf + 16, w->len);
    put_le64(w->buf + 24, XXH64(w->buf, 24, 0));
    return true;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* Make the rename durable: fsync the directory holding path. */
static void sync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

static bool write_atomically(const char *path, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    char *dcopy = strdup(path), *bcopy = strdup(path); /* dirname, basename modify */
    char *tmp = NULL;
    if (!dcopy || !bcopy || asprintf(&tmp, "%s/.%s.tmpXXXXXX", dirname(dcopy), basename(bcopy)) < 0) {
        free(dcopy);
        free(bcopy);
        set_err(err, errlen, "%s: out of memory", path);
        return false;
    }
    free(dcopy);
    free(bcopy);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        set_err(err, errlen, "%s: cannot create a temporary file: %s", path, strerror(errno));
        free(tmp);
        return false;
    }
    bool ok = write_all(fd, buf, len) && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) != 0) {
        saved = errno;
        ok = false;
    }
    if (!ok) {
        set_err(err, errlen, "%s: cannot write the snapshot: %s", path, strerror(saved));
        unlink(tmp);
    } else {
        sync_dir_of(path);
    }
    free(tmp);
    return ok;
}

bool snapshot_write(const char *path, const SnapshotInfo *info, const uint8_t *state, size_t state_len,
                    char *err, size_t errlen)
{
    SerWriter w;
    ser_writer_init(&w);
    char why[512];
    bool ok = snapshot_encode(info, state, state_len, &w, why, sizeof why);
    if (!ok)
        set_err(err, errlen, "%s: %s", path, why);
    else
        ok = write_atomically(path, w.buf, w.len, err, errlen);
    ser_writer_free(&w);
    return ok;
}

/* ------------------------------------------------------------------ */
/* reading */

typedef struct Section {
    const uint8_t *stored;
    uint64_t stored_len, raw_len;
    uint32_t encoding;
} Section;

/* Check the prefix; the file's length is then known to be exact. */
static bool check_prefix(const uint8_t *buf, size_t len, const char *name, char *err, size_t errlen)
{
    if (len == 0) {
        set_err(err, errlen, "%s: truncated at byte 0 (empty file)", name);
        return false;
    }
    size_t n = len < 8 ? len : 8;
    if (memcmp(buf, SNAP_MAGIC, n) != 0) {
        set_err(err, errlen, "%s: not an rrvm snapshot (bad magic)", name);
        return false;
    }
    if (len < 12) {
        set_err(err, errlen, "%s: truncated at byte %zu (in the file prefix)", name, len);
        return false;
    }
    uint32_t version = get_le32(buf + 8);
    if (version != SNAPSHOT_FORMAT_VERSION) {
        set_err(err, errlen, "%s: snapshot format version %u, this rrvm reads version %u only (%s)", name,
                version, SNAPSHOT_FORMAT_VERSION,
                version > SNAPSHOT_FORMAT_VERSION ? "made by a newer rrvm" : "made by an older rrvm");
        return false;
    }
    if (len < PREFIX_LEN) {
        set_err(err, errlen, "%s: truncated at byte %zu (in the file prefix)", name, len);
        return false;
    }
    if (CHECKSUMS_ENFORCED && XXH64(buf, 24, 0) != get_le64(buf + 24)) {
        set_err(err, errlen, "%s: damaged snapshot (file prefix checksum mismatch)", name);
        return false;
    }
    uint64_t total = get_le64(buf + 16);
    if (get_le32(buf + 12) != NSECTIONS) {
        set_err(err, errlen, "%s: damaged snapshot (%u sections, expected %u)", name, get_le32(buf + 12),
                NSECTIONS);
        return false;
    }
    if (total > len) {
        set_err(err, errlen, "%s: truncated at byte %zu (the snapshot is %llu bytes)", name, len,
                (unsigned long long)total);
        return false;
    }
    if (total < len) {
        set_err(err, errlen, "%s: trailing data after byte %llu (the file has %zu bytes)", name,
                (unsigned long long)total, len);
        return false;
    }
    return true;
}

/* The section of kind `k` at *off; lengths bounded by the bytes present
 * and by caps before anything else is trusted. */
static bool read_section(const uint8_t *buf, size_t len, size_t *off, int k, Section *s, const char *name,
                         char *err, size_t errlen)
{
    const char *id = SECTIONS[k].id;
    if (len - *off < SECTION_HEADER_LEN) {
        set_err(err, errlen, "%s: damaged snapshot (section %s header runs past the end)", name, id);
        return false;
    }
    const uint8_t *h = buf + *off;
    s->encoding = get_le32(h + 4);
    s->stored_len = get_le64(h + 8);
    s->raw_len = get_le64(h + 16);
    s->stored = h + SECTION_HEADER_LEN;
    size_t left = len - *off - SECTION_HEADER_LEN;
    if (s->stored_len > left) {
        set_err(err, errlen, "%s: damaged snapshot (section %s: %llu bytes, %zu left in the file)", name, id,
                (unsigned long long)s->stored_len, left);
        return false;
    }
    if (CHECKSUMS_ENFORCED && section_hash(h, s->stored, s->stored_len) != get_le64(h + 24)) {
        set_err(err, errlen, "%s: damaged snapshot (section %s checksum mismatch)", name, id);
        return false;
    }
    if (memcmp(h, id, 4) != 0) {
        set_err(err, errlen, "%s: damaged snapshot (section %s expected, found another)", name, id);
        return false;
    }
    if (s->encoding != ENC_RAW && s->encoding != ENC_ZSTD) {
        set_err(err, errlen, "%s: damaged snapshot (section %s: unknown encoding %u)", name, id, s->encoding);
        return false;
    }
    if (s->encoding == ENC_RAW && s->raw_len != s->stored_len) {
        set_err(err, errlen, "%s: damaged snapshot (section %s: raw length differs from stored)", name, id);
        return false;
    }
    *off += SECTION_HEADER_LEN + (size_t)s->stored_len;
    return true;
}

/* The section's bytes, decompressed into a fresh buffer of raw_len bytes
 * (the caller checked raw_len against its cap). NULL with err. */
static uint8_t *section_bytes(const Section *s, const char *id, const char *name, char *err, size_t errlen)
{
    uint8_t *out = malloc(s->raw_len ? (size_t)s->raw_len : 1);
    if (!out) {
        set_err(err, errlen, "%s: out of memory for section %s (%llu bytes)", name, id,
                (unsigned long long)s->raw_len);
        return NULL;
    }
    if (s->encoding == ENC_RAW) {
        memcpy(out, s->stored, (size_t)s->raw_len);
        return out;
    }
    size_t n = ZSTD_decompress(out, (size_t)s->raw_len, s->stored, (size_t)s->stored_len);
    if (ZSTD_isError(n) || n != s->raw_len) {
        set_err(err, errlen, "%s: damaged snapshot (section %s does not decompress to %llu bytes)", name, id,
                (unsigned long long)s->raw_len);
        free(out);
        return NULL;
    }
    return out;
}

static bool decode_posn(const uint8_t *p, SnapshotInfo *info)
{
    if (p[8] > 1)
        return false;
    info->icount = get_le64(p);
    info->from_replay = p[8];
    memcpy(info->recording_id, p + 9, 16);
    info->log_pos.frame_offset = get_le64(p + 25);
    info->log_pos.event_index = get_le64(p + 33);
    info->log_pos.last_icount = get_le64(p + 41);
    return true;
}

/* Decode the sections into info and *state; the file prefix holds. */
static bool decode_sections(const uint8_t *buf, size_t len, const char *name, SnapshotInfo *info,
                            uint8_t **state, size_t *state_len, char *err, size_t errlen)
{
    Section s[NSECTIONS];
    size_t off = PREFIX_LEN;
    for (int k = 0; k < NSECTIONS; k++)
        if (!read_section(buf, len, &off, k, &s[k], name, err, errlen))
            return false;
    if (off != len) {
        set_err(err, errlen, "%s: damaged snapshot (%zu bytes after the last section)", name, len - off);
        return false;
    }
    if (s[SEC_HEAD].raw_len > RLOG_MAX_HEADER || s[SEC_POSN].raw_len != POSN_LEN ||
        s[SEC_SESS].raw_len > SESSION_CAP || s[SEC_STAT].raw_len > STATE_CAP) {
        set_err(err, errlen, "%s: damaged snapshot (a section's size is beyond its limit)", name);
        return false;
    }
    uint8_t *head = section_bytes(&s[SEC_HEAD], "HEAD", name, err, errlen);
    if (!head)
        return false;
    const char *why = NULL;
    bool ok = rlog_header_decode(head, (size_t)s[SEC_HEAD].raw_len, &info->header, &why);
    free(head);
    if (!ok) {
        set_err(err, errlen, "%s: damaged snapshot (header: %s)", name, why);
        return false;
    }
    /* the state holds RAM (zero pages may be elided) and harts, devices */
    if (s[SEC_STAT].raw_len > info->header.cfg.ram_size + CORE_SLACK) {
        set_err(err, errlen, "%s: damaged snapshot (machine state of %llu bytes for %llu bytes of RAM)", name,
                (unsigned long long)s[SEC_STAT].raw_len, (unsigned long long)info->header.cfg.ram_size);
        return false;
    }
    uint8_t *posn = section_bytes(&s[SEC_POSN], "POSN", name, err, errlen);
    if (!posn)
        return false;
    ok = decode_posn(posn, info);
    free(posn);
    if (!ok) {
        set_err(err, errlen, "%s: damaged snapshot (position: boolean field is neither 0 nor 1)", name);
        return false;
    }
    if (s[SEC_SESS].raw_len) {
        info->session = section_bytes(&s[SEC_SESS], "SESS", name, err, errlen);
        if (!info->session)
            return false;
        info->session_len = (size_t)s[SEC_SESS].raw_len;
    }
    *state = section_bytes(&s[SEC_STAT], "STAT", name, err, errlen);
    if (!*state)
        return false;
    *state_len = (size_t)s[SEC_STAT].raw_len;
    return true;
}

bool snapshot_read_mem(const uint8_t *buf, size_t len, const char *name, SnapshotInfo *info, uint8_t **state,
                       size_t *state_len, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    *state = NULL;
    *state_len = 0;
    if (!check_prefix(buf, len, name, err, errlen))
        return false;
    info->format_version = SNAPSHOT_FORMAT_VERSION;
    if (!decode_sections(buf, len, name, info, state, state_len, err, errlen)) {
        snapshot_info_free(info);
        free(*state);
        *state = NULL;
        *state_len = 0;
        return false;
    }
    return true;
}

bool snapshot_read(const char *path, SnapshotInfo *info, uint8_t **state, size_t *state_len, char *err,
                   size_t errlen)
{
    memset(info, 0, sizeof *info);
    *state = NULL;
    *state_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s: not a regular file", path);
        close(fd);
        return false;
    }
    if ((uint64_t)st.st_size > STATE_CAP + SESSION_CAP + (2u << 20)) {
        set_err(err, errlen, "%s: damaged snapshot (%llu bytes is beyond any snapshot's size)", path,
                (unsigned long long)st.st_size);
        close(fd);
        return false;
    }
    /* read, not mmap: a file cut while we read must not raise SIGBUS */
    size_t len = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(len ? len : 1);
    int ioerr = 0;
    while (buf && got < len) {
        ssize_t k = read(fd, buf + got, len - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            ioerr = errno;
        if (k <= 0)
            break; /* cut while reading: judged as a short file below */
        got += (size_t)k;
    }
    close(fd);
    if (!buf || ioerr) {
        set_err(err, errlen, "%s: cannot read: %s", path, buf ? strerror(ioerr) : "out of memory");
        free(buf);
        return false;
    }
    bool ok = snapshot_read_mem(buf, got, path, info, state, state_len, err, errlen);
    free(buf);
    return ok;
}

void snapshot_info_free(SnapshotInfo *info)
{
    rlog_header_free(&info->header);
    free(info->session);
    info->session = NULL;
    info->session_len = 0;
}
