/*
 * log.c - writer and reader of recordings; the byte format is specified in
 * docs/LOG_FORMAT.md and summarised in log.h.
 *
 * Invariants:
 *  - The writer only ever appends whole frames with one write(2) sequence,
 *    so a writer killed at any time leaves zero or one incomplete frame at
 *    the end of the file, never a hole.
 *  - The reader checks every length against a fixed cap and against the
 *    bytes present before using it; it allocates only after a frame's
 *    header checksum holds. A frame is decoded and validated completely
 *    before its first event is returned, so a damaged frame yields no event.
 *  - Reader errors are sticky and come in two classes: "cut" (the file
 *    ends early: every event returned so far is valid) and "corrupt".
 *
 * Fuzzing builds (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) compute but do
 * not enforce checksums, so the fuzzer can reach the decoders behind them.
 */
#include "util/le.h"
#include "log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "varint.h"

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CHECKSUMS_ENFORCED 0
#else
#define CHECKSUMS_ENFORCED 1
#endif

static const uint8_t FILE_MAGIC[8] = {'R', 'R', 'V', 'M', 'L', 'O', 'G', 0};
static const uint8_t FRAME_MAGIC[4] = {'R', 'R', 'V', 'F'};
static const uint8_t IMAGE_MAGIC[4] = {'R', 'R', 'V', 'I'};
#define IMAGE_HEADER_LEN 56
#define IMAGE_CODEC_ZSTD 1
#define IMAGE_ZSTD_LEVEL 9
#define FILE_PREFIX_LEN 16  /* magic, version, body length */
#define FRAME_HEADER_LEN 48 /* version 2: with the frame's sequence number */
#define FRAME_HEADER_LEN_V1 40
#define ZSTD_LEVEL 3





static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ */
/* kinds, hashes, small payloads */

const char *rlog_kind_name(uint32_t kind)
{
    switch (kind) {
    case RLOG_UART_RX: return "UART_RX";
    case RLOG_CLOCK_WALL: return "CLOCK_WALL";
    case RLOG_RANDOM: return "RANDOM";
    case RLOG_IDLE: return "IDLE";
    case RLOG_SHUTDOWN: return "SHUTDOWN";
    case RLOG_RESET: return "RESET";
    case RLOG_UART_BREAK: return "UART_BREAK";
    case RLOG_POWERDOWN: return "POWERDOWN";
    case RLOG_CHECKPOINT: return "CHECKPOINT";
    case RLOG_END: return "END";
    case RLOG_NET_RX: return "NET_RX";
    case RLOG_BLOCK_COMPLETE: return "BLOCK_COMPLETE";
    case RLOG_INPUT: return "INPUT";
    case RLOG_AUDIO_IN: return "AUDIO_IN";
    case RLOG_NET_STATS: return "NET_STATS";
    default: return "UNKNOWN";
    }
}

bool rlog_kind_known(uint32_t kind) { return strcmp(rlog_kind_name(kind), "UNKNOWN") != 0; }

void rlog_hash128(const void *data, size_t len, uint8_t out[16])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
    memcpy(out, c.digest, 16);
}

void rlog_hash_hex(const uint8_t hash[16], char hex[33])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[hash[i] >> 4];
        hex[2 * i + 1] = digits[hash[i] & 15];
    }
    hex[32] = 0;
}

void rlog_u64_encode(uint64_t v, uint8_t out[8]) { put_le64(out, v); }

bool rlog_u64_decode(const uint8_t *p, size_t len, uint64_t *v)
{
    if (len != 8)
        return false;
    *v = get_le64(p);
    return true;
}

void rlog_end_encode(const RlogEnd *e, uint8_t out[RLOG_END_PAYLOAD_LEN])
{
    put_le64(out, e->icount);
    put_le64(out + 8, e->vtime_ns);
    put_le32(out + 16, (uint32_t)e->exit_code);
    put_le64(out + 20, e->digest);
}

bool rlog_end_decode(const uint8_t *p, size_t len, RlogEnd *e)
{
    if (len < RLOG_END_PAYLOAD_LEN)
        return false;
    e->icount = get_le64(p);
    e->vtime_ns = get_le64(p + 8);
    e->exit_code = (int32_t)get_le32(p + 16);
    e->digest = get_le64(p + 20);
    return true;
}

/* ------------------------------------------------------------------ */
/* header */

void rlog_header_free(RlogHeader *h)
{
    if (!h)
        return;
    free(h->cfg.append);
    for (int i = 0; i < h->nimages && i < RLOG_MAX_IMAGES; i++)
        free(h->images[i].path);
    for (int i = 0; i < h->nkv && i < RLOG_MAX_KV; i++) {
        free(h->kv[i][0]);
        free(h->kv[i][1]);
    }
    memset(h, 0, sizeof *h);
}

const char *rlog_header_get(const RlogHeader *h, const char *key)
{
    for (int i = 0; i < h->nkv; i++)
        if (strcmp(h->kv[i][0], key) == 0)
            return h->kv[i][1];
    return NULL;
}

bool rlog_header_set(RlogHeader *h, const char *key, const char *value)
{
    for (int i = 0; i < h->nkv; i++) {
        if (strcmp(h->kv[i][0], key) == 0) {
            char *v = strdup(value);
            if (!v)
                return false;
            free(h->kv[i][1]);
            h->kv[i][1] = v;
            return true;
        }
    }
    if (h->nkv >= RLOG_MAX_KV)
        return false;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return false;
    }
    h->kv[h->nkv][0] = k;
    h->kv[h->nkv][1] = v;
    h->nkv++;
    return true;
}

bool rlog_header_add_image(RlogHeader *h, const char *role, const char *path,
                           const void *data, size_t len)
{
    if (h->nimages >= RLOG_MAX_IMAGES || strlen(role) >= sizeof h->images[0].role)
        return false;
    char *p = strdup(path);
    if (!p)
        return false;
    RlogImage *im = &h->images[h->nimages++];
    memset(im, 0, sizeof *im);
    strcpy(im->role, role);
    im->path = p;
    im->size = len;
    rlog_hash128(data, len, im->hash);
    return true;
}

static void put_str(SerWriter *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    ser_put_u32(w, (uint32_t)n);
    ser_put_bytes(w, s, n);
}

/* Serialise the header body; false (with err) if h is not representable. */
static bool header_encode(const RlogHeader *h, SerWriter *w, char *err, size_t errlen)
{
    if (h->nimages < 0 || h->nimages > RLOG_MAX_IMAGES || h->nkv < 0 || h->nkv > RLOG_MAX_KV) {
        set_err(err, errlen, "recording header: too many images or options");
        return false;
    }
    if (!memchr(h->rrvm_version, 0, sizeof h->rrvm_version)) {
        set_err(err, errlen, "recording header: rrvm version string too long");
        return false;
    }
    const MachineConfig *c = &h->cfg;
    /* refuse what the reader would refuse, so every written file reads back */
    if (c->nharts < 1 || c->nharts > MACHINE_MAX_HARTS || c->ram_size == 0 || c->ram_size % 4096 ||
        c->icount_shift < 0 || c->icount_shift > 63) {
        set_err(err, errlen, "recording header: invalid machine configuration");
        return false;
    }
    put_str(w, h->rrvm_version);
    ser_put_u64(w, c->ram_size);
    ser_put_u32(w, (uint32_t)c->nharts);
    ser_put_u32(w, (uint32_t)c->icount_shift);
    ser_put_u8(w, c->board_virt);
    ser_put_u8(w, c->append != NULL);
    put_str(w, c->append);
    ser_put_u64(w, c->rtc_base_ns);
    ser_put_u8(w, c->rtc_clock_host);
    ser_put_u64(w, c->quantum);
    ser_put_u64(w, h->checkpoint_interval);
    ser_put_u8(w, h->verify_strict);
    ser_put_u32(w, (uint32_t)h->nimages);
    for (int i = 0; i < h->nimages; i++) {
        const RlogImage *im = &h->images[i];
        if (!memchr(im->role, 0, sizeof im->role) || !im->path) {
            set_err(err, errlen, "recording header: image %d has no path or an overlong role", i);
            return false;
        }
        put_str(w, im->role);
        put_str(w, im->path);
        ser_put_u64(w, im->size);
        ser_put_bytes(w, im->hash, 16);
    }
    ser_put_u32(w, (uint32_t)h->nkv);
    for (int i = 0; i < h->nkv; i++) {
        if (!h->kv[i][0] || !h->kv[i][1]) {
            set_err(err, errlen, "recording header: option %d has no key or value", i);
            return false;
        }
        put_str(w, h->kv[i][0]);
        put_str(w, h->kv[i][1]);
    }
    /* format 3: the virtio devices (absent in older files: none) */
    if (c->ndevices < 0 || c->ndevices > MACHINE_MAX_DEVICES) {
        set_err(err, errlen, "recording header: too many devices");
        return false;
    }
    ser_put_u32(w, (uint32_t)c->ndevices);
    for (int i = 0; i < c->ndevices; i++) {
        const MachineDeviceConfig *d = &c->devices[i];
        if (!memchr(d->id, 0, sizeof d->id)) {
            set_err(err, errlen, "recording header: device %d has an overlong id", i);
            return false;
        }
        ser_put_u32(w, (uint32_t)d->kind);
        put_str(w, d->id);
        ser_put_u64(w, d->size);
        ser_put_u8(w, d->readonly);
        ser_put_u32(w, d->nports);
        ser_put_bytes(w, d->mac, sizeof d->mac);
    }
    /* format 4: every console port's name, device by device (guest-visible) */
    for (int i = 0; i < c->ndevices; i++)
        for (uint32_t p = 0; c->devices[i].kind == MDEV_VIRTIO_CONSOLE && p < c->devices[i].nports; p++) {
            const char *name = p < MACHINE_MAX_CONSOLE_PORTS ? c->devices[i].port_name[p] : "";
            if (!memchr(name, 0, MACHINE_PORT_NAME_MAX)) {
                set_err(err, errlen, "recording header: device %d has an overlong port name", i);
                return false;
            }
            put_str(w, name);
        }
    /* format 5: the checkpoint schedule */
    ser_put_u64(w, h->checkpoint_max_interval < h->checkpoint_interval ? h->checkpoint_interval
                                                                        : h->checkpoint_max_interval);
    ser_put_u64(w, h->full_checkpoint_interval);
    if (w->oom || w->len > RLOG_MAX_HEADER) {
        set_err(err, errlen, "recording header: too large or out of memory");
        return false;
    }
    return true;
}

/* Bounded cursor over the header body; the first problem sticks in `why`. */
typedef struct Cursor {
    const uint8_t *p, *end;
    const char *why;
} Cursor;

static bool cur_take(Cursor *c, size_t n, const uint8_t **out)
{
    if (c->why)
        return false;
    if ((size_t)(c->end - c->p) < n) {
        c->why = "field runs past the end of the header";
        return false;
    }
    *out = c->p;
    c->p += n;
    return true;
}

static uint8_t cur_u8(Cursor *c)
{
    const uint8_t *p;
    return cur_take(c, 1, &p) ? p[0] : 0;
}

static uint32_t cur_u32(Cursor *c)
{
    const uint8_t *p;
    return cur_take(c, 4, &p) ? get_le32(p) : 0;
}

static uint64_t cur_u64(Cursor *c)
{
    const uint8_t *p;
    return cur_take(c, 8, &p) ? get_le64(p) : 0;
}

static bool cur_bool(Cursor *c)
{
    uint8_t v = cur_u8(c);
    if (v > 1 && !c->why)
        c->why = "boolean field is neither 0 nor 1";
    return v == 1;
}

/* A length-prefixed string into a fresh heap copy (NULL on error). */
static char *cur_str(Cursor *c)
{
    uint32_t n = cur_u32(c);
    const uint8_t *p;
    if (!cur_take(c, n, &p))
        return NULL;
    if (memchr(p, 0, n)) {
        c->why = "string contains a NUL byte";
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        c->why = "out of memory";
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* A string into a fixed array of `cap` bytes (including the NUL). */
static void cur_str_fixed(Cursor *c, char *dst, size_t cap)
{
    char *s = cur_str(c);
    if (!s)
        return;
    if (strlen(s) >= cap)
        c->why = "string field too long";
    else
        strcpy(dst, s);
    free(s);
}

static bool header_decode(const uint8_t *body, size_t len, uint32_t version, RlogHeader *h, const char **why)
{
    Cursor c = {body, body + len, NULL};
    memset(h, 0, sizeof *h);
    h->format_version = version;
    cur_str_fixed(&c, h->rrvm_version, sizeof h->rrvm_version);
    MachineConfig *cfg = &h->cfg;
    cfg->ram_size = cur_u64(&c);
    uint32_t nharts = cur_u32(&c);
    uint32_t shift = cur_u32(&c);
    cfg->board_virt = cur_bool(&c);
    bool has_append = cur_bool(&c);
    char *append = cur_str(&c);
    if (has_append)
        cfg->append = append;
    else
        free(append);
    cfg->rtc_base_ns = cur_u64(&c);
    cfg->rtc_clock_host = cur_bool(&c);
    cfg->quantum = cur_u64(&c);
    h->checkpoint_interval = cur_u64(&c);
    h->verify_strict = cur_bool(&c);
    if (!c.why) {
        if (nharts < 1 || nharts > MACHINE_MAX_HARTS)
            c.why = "hart count out of range";
        else if (cfg->ram_size == 0 || cfg->ram_size % 4096)
            c.why = "RAM size is not a nonzero multiple of 4 KiB";
        else if (shift > 63)
            c.why = "icount shift out of range";
    }
    cfg->nharts = (int)(nharts <= MACHINE_MAX_HARTS ? nharts : 0);
    cfg->icount_shift = (int)(shift <= 63 ? shift : 0);

    uint32_t nimages = cur_u32(&c);
    if (!c.why && nimages > RLOG_MAX_IMAGES)
        c.why = "too many images";
    for (uint32_t i = 0; !c.why && i < nimages; i++) {
        RlogImage *im = &h->images[i];
        cur_str_fixed(&c, im->role, sizeof im->role);
        im->path = cur_str(&c);
        h->nimages = (int)i + 1; /* so rlog_header_free sees the path */
        im->size = cur_u64(&c);
        const uint8_t *p;
        if (cur_take(&c, 16, &p))
            memcpy(im->hash, p, 16);
    }
    uint32_t nkv = cur_u32(&c);
    if (!c.why && nkv > RLOG_MAX_KV)
        c.why = "too many options";
    for (uint32_t i = 0; !c.why && i < nkv; i++) {
        h->kv[i][0] = cur_str(&c);
        h->kv[i][1] = cur_str(&c);
        h->nkv = (int)i + 1;
    }
    if (!c.why && c.p != c.end) { /* format 3: devices */
        uint32_t ndev = cur_u32(&c);
        if (!c.why && ndev > MACHINE_MAX_DEVICES)
            c.why = "too many devices";
        for (uint32_t i = 0; !c.why && i < ndev; i++) {
            MachineDeviceConfig *d = &cfg->devices[i];
            uint32_t kind = cur_u32(&c);
            cur_str_fixed(&c, d->id, sizeof d->id);
            d->size = cur_u64(&c);
            d->readonly = cur_bool(&c);
            d->nports = cur_u32(&c);
            const uint8_t *p;
            if (cur_take(&c, sizeof d->mac, &p))
                memcpy(d->mac, p, sizeof d->mac);
            if (!c.why && (kind == MDEV_NONE || kind >= MDEV_KIND_COUNT))
                c.why = "unknown device kind";
            d->kind = (int)kind;
            cfg->ndevices = (int)i + 1;
        }
    }
    for (int i = 0; !c.why && c.p != c.end && i < cfg->ndevices; i++) { /* format 4: port names */
        MachineDeviceConfig *d = &cfg->devices[i];
        if (d->kind == MDEV_VIRTIO_CONSOLE && d->nports > MACHINE_MAX_CONSOLE_PORTS)
            c.why = "too many console ports";
        for (uint32_t p = 0; !c.why && d->kind == MDEV_VIRTIO_CONSOLE && p < d->nports; p++)
            cur_str_fixed(&c, d->port_name[p], sizeof d->port_name[p]);
    }
    /* format 5: the checkpoint schedule (absent: every checkpoint full, at
     * a fixed interval; a snapshot made by an older rrvm has none either) */
    h->checkpoint_max_interval = h->checkpoint_interval;
    h->full_checkpoint_interval = h->checkpoint_interval;
    if (!c.why && c.p != c.end) {
        h->checkpoint_max_interval = cur_u64(&c);
        h->full_checkpoint_interval = cur_u64(&c);
        if (!c.why && h->checkpoint_max_interval < h->checkpoint_interval)
            c.why = "the checkpoint spacing exceeds its maximum";
    }
    if (!c.why && c.p != c.end)
        c.why = "unexpected bytes after the last field";
    if (c.why) {
        *why = c.why;
        rlog_header_free(h);
        return false;
    }
    return true;
}

bool rlog_header_encode(const RlogHeader *h, SerWriter *w, char *err, size_t errlen)
{
    return header_encode(h, w, err, errlen);
}

bool rlog_header_decode(const uint8_t *body, size_t len, RlogHeader *h, const char **why)
{
    return header_decode(body, len, RLOG_FORMAT_VERSION, h, why);
}

/* ------------------------------------------------------------------ */
/* writer */

struct RlogWriter {
    int fd;
    SerWriter events;          /* encoded events of the open frame */
    uint32_t nevents;
    uint64_t frame_first_icount;
    uint64_t prev_icount;      /* of the previous event written (any frame) */
    bool any_event;
    ZSTD_CCtx *cctx;
    uint8_t *out;              /* frame header + compressed bytes */
    size_t out_cap;
    uint64_t bytes;            /* written to the file */
    uint64_t seq;              /* sequence number of the next frame */
    uint8_t packed[RLOG_MAX_IMAGES][16]; /* hashes of the images packed so far */
    int npacked;
    bool failed;
    char err[1024];
    char *path;       /* the file being written; owned */
    char *final_path; /* rlog_writer_create: where it goes when complete; owned */
    bool force;       /* rlog_writer_create: replace an existing final_path */
};

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

static void writer_fail(RlogWriter *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void writer_fail(RlogWriter *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    w->failed = true;
    int n = snprintf(w->err, sizeof w->err, "%s: ", w->path);
    if (n < 0 || (size_t)n >= sizeof w->err)
        n = (int)sizeof w->err - 1; /* a path longer than the message buffer */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err + n, sizeof w->err - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Another process's lock on fd (a recorder at work): its pid, else 0. */
static int lock_holder(int fd)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(fd, F_GETLK, &fl) != 0 || fl.l_type == F_UNLCK)
        return 0;
    return fl.l_pid > 0 ? fl.l_pid : -1;
}

/* Open path for writing under an exclusive lock (which a second recorder,
 * and readers, can see), then empty it. The lock goes with the fd. */
static int open_locked(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        set_err(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int pid = lock_holder(fd);
        if (pid > 0)
            set_err(err, errlen, "%s is being written by process %d (another rrvm record)", path, pid);
        else
            set_err(err, errlen, "%s: cannot lock: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (ftruncate(fd, 0) != 0) {
        set_err(err, errlen, "%s: cannot truncate: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

RlogWriter *rlog_writer_open(const char *path, const RlogHeader *h, char *err, size_t errlen)
{
    SerWriter body;
    ser_writer_init(&body);
    if (!header_encode(h, &body, err, errlen)) {
        ser_writer_free(&body);
        return NULL;
    }
    RlogWriter *w = calloc(1, sizeof *w);
    uint8_t *hdr = malloc(FILE_PREFIX_LEN + body.len + 8);
    if (!w || !hdr) {
        set_err(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    w->fd = -1;
    w->path = strdup(path);
    w->cctx = ZSTD_createCCtx();
    if (!w->cctx || !w->path) {
        set_err(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    memcpy(hdr, FILE_MAGIC, 8);
    put_le32(hdr + 8, RLOG_FORMAT_VERSION);
    put_le32(hdr + 12, (uint32_t)body.len);
    if (body.len)
        memcpy(hdr + FILE_PREFIX_LEN, body.buf, body.len);
    size_t hlen = FILE_PREFIX_LEN + body.len;
    put_le64(hdr + hlen, XXH64(hdr, hlen, 0));
    hlen += 8;

    w->fd = open_locked(path, err, errlen);
    if (w->fd < 0)
        goto fail;
    if (!write_all(w->fd, hdr, hlen)) {
        set_err(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        goto fail;
    }
    w->bytes = hlen;
    free(hdr);
    ser_writer_free(&body);
    ser_writer_init(&w->events);
    return w;
fail:
    if (w) {
        if (w->fd >= 0)
            close(w->fd);
        ZSTD_freeCCtx(w->cctx);
        free(w->path);
        free(w);
    }
    free(hdr);
    ser_writer_free(&body);
    return NULL;
}

void rlog_incomplete_path(const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", path, RLOG_INCOMPLETE_SUFFIX);
}

RlogWriter *rlog_writer_create(const char *path, const RlogHeader *h, bool force, char *err, size_t errlen)
{
    struct stat st;
    if (!force && lstat(path, &st) == 0) {
        set_err(err, errlen, "%s already exists (use --force to replace it)", path);
        return NULL;
    }
    char tmp[4096];
    rlog_incomplete_path(path, tmp, sizeof tmp);
    if (strlen(tmp) >= sizeof tmp - 1) {
        set_err(err, errlen, "%s: path too long", path);
        return NULL;
    }
    int old = force ? -1 : open(tmp, O_RDONLY | O_CLOEXEC);
    if (old >= 0) {
        /* never lose a recording: a cut one left by a killed recorder stays */
        int pid = lock_holder(old);
        close(old);
        if (pid > 0)
            set_err(err, errlen, "%s is being written by process %d (another rrvm record)", tmp, pid);
        else
            set_err(err, errlen, "%s exists (a recording that was cut short; replay it, remove it, "
                    "or use --force)", tmp);
        return NULL;
    }
    RlogWriter *w = rlog_writer_open(tmp, h, err, errlen);
    if (!w)
        return NULL;
    w->final_path = strdup(path);
    w->force = force;
    if (!w->final_path) {
        set_err(err, errlen, "%s: out of memory", path);
        rlog_writer_close(w);
        unlink(tmp);
        return NULL;
    }
    return w;
}

const char *rlog_writer_path(const RlogWriter *w) { return w->path; }

bool rlog_writer_sync(RlogWriter *w)
{
    if (!rlog_flush(w))
        return false;
    if (fsync(w->fd) != 0) {
        writer_fail(w, "cannot sync: %s", strerror(errno));
        return false;
    }
    return true;
}

bool rlog_writer_commit(RlogWriter *w, char *err, size_t errlen)
{
    assert(w->final_path);
    bool ok = rlog_writer_sync(w);
    if (!ok) {
        set_err(err, errlen, "%s", w->err);
        rlog_writer_close(w);
        return false;
    }
    /* while we still hold the lock: without --force, link() refuses to
     * replace a file that appeared meanwhile */
    int rc = w->force ? rename(w->path, w->final_path) : link(w->path, w->final_path);
    if (rc != 0) {
        set_err(err, errlen, "%s: cannot move the recording into place (%s); it is complete in %s",
                w->final_path, strerror(errno), w->path);
        rlog_writer_close(w);
        return false;
    }
    if (!w->force)
        unlink(w->path);
    return rlog_writer_close(w);
}

bool rlog_flush(RlogWriter *w)
{
    if (w->failed)
        return false;
    if (w->nevents == 0)
        return true;
    if (w->events.oom) {
        writer_fail(w, "out of memory buffering events");
        return false;
    }
    size_t bound = ZSTD_compressBound(w->events.len);
    if (w->out_cap < FRAME_HEADER_LEN + bound) {
        uint8_t *nb = realloc(w->out, FRAME_HEADER_LEN + bound);
        if (!nb) {
            writer_fail(w, "out of memory compressing events");
            return false;
        }
        w->out = nb;
        w->out_cap = FRAME_HEADER_LEN + bound;
    }
    size_t clen = ZSTD_compressCCtx(w->cctx, w->out + FRAME_HEADER_LEN, bound, w->events.buf,
                                    w->events.len, ZSTD_LEVEL);
    if (ZSTD_isError(clen)) {
        writer_fail(w, "cannot compress: %s", ZSTD_getErrorName(clen));
        return false;
    }
    /* rlog_write keeps the frame below the cap; zstd's bound keeps clen near it */
    assert(w->events.len <= RLOG_MAX_FRAME && clen <= RLOG_MAX_FRAME);
    uint8_t *fh = w->out;
    memcpy(fh, FRAME_MAGIC, 4);
    put_le32(fh + 4, (uint32_t)clen);
    put_le32(fh + 8, (uint32_t)w->events.len);
    put_le32(fh + 12, w->nevents);
    put_le64(fh + 16, w->frame_first_icount);
    put_le64(fh + 24, XXH64(w->out + FRAME_HEADER_LEN, clen, 0));
    put_le64(fh + 32, w->seq);
    put_le64(fh + 40, XXH64(fh, 40, 0));
    if (!write_all(w->fd, w->out, FRAME_HEADER_LEN + clen)) {
        writer_fail(w, "cannot write: %s", strerror(errno));
        return false;
    }
    w->bytes += FRAME_HEADER_LEN + clen;
    w->seq++;
    w->events.len = 0;
    w->nevents = 0;
    return true;
}

bool rlog_writer_pack_image(RlogWriter *w, const void *data, size_t len)
{
    assert(w->seq == 0 && w->nevents == 0); /* images precede the first frame */
    if (w->failed)
        return false;
    uint8_t hash[16];
    rlog_hash128(data, len, hash);
    for (int i = 0; i < w->npacked; i++)
        if (memcmp(w->packed[i], hash, 16) == 0)
            return true; /* the same contents in another role: stored once */
    if (w->npacked >= RLOG_MAX_IMAGES || len > RLOG_MAX_IMAGE) {
        writer_fail(w, "cannot pack an image of %zu bytes (at most %d images of %llu bytes)", len, RLOG_MAX_IMAGES,
                    (unsigned long long)RLOG_MAX_IMAGE);
        return false;
    }
    size_t bound = ZSTD_compressBound(len);
    uint8_t *buf = malloc(IMAGE_HEADER_LEN + bound);
    if (!buf) {
        writer_fail(w, "out of memory packing an image of %zu bytes", len);
        return false;
    }
    size_t clen = ZSTD_compress(buf + IMAGE_HEADER_LEN, bound, data, len, IMAGE_ZSTD_LEVEL);
    if (ZSTD_isError(clen)) {
        writer_fail(w, "cannot compress an image: %s", ZSTD_getErrorName(clen));
        free(buf);
        return false;
    }
    memcpy(buf, IMAGE_MAGIC, 4);
    put_le32(buf + 4, IMAGE_CODEC_ZSTD);
    put_le64(buf + 8, clen);
    put_le64(buf + 16, len);
    memcpy(buf + 24, hash, 16);
    put_le64(buf + 40, XXH64(buf + IMAGE_HEADER_LEN, clen, 0));
    put_le64(buf + 48, XXH64(buf, 48, 0));
    bool ok = write_all(w->fd, buf, IMAGE_HEADER_LEN + clen);
    free(buf);
    if (!ok) {
        writer_fail(w, "cannot write: %s", strerror(errno));
        return false;
    }
    w->bytes += IMAGE_HEADER_LEN + clen;
    memcpy(w->packed[w->npacked++], hash, 16);
    return true;
}

bool rlog_write(RlogWriter *w, uint64_t icount, uint32_t kind, const void *payload, size_t len)
{
    assert(!w->any_event || icount >= w->prev_icount);
    assert(payload || len == 0);
    if (w->failed)
        return false;
    if (len > RLOG_MAX_PAYLOAD) {
        writer_fail(w, "%s event payload of %zu bytes exceeds the %u byte limit", rlog_kind_name(kind),
                    len, RLOG_MAX_PAYLOAD);
        return false;
    }
    if (w->nevents == 0) {
        /* a frame is self-contained: its deltas start from its own base */
        w->frame_first_icount = icount;
        w->prev_icount = icount;
    }
    varint_put(&w->events, kind);
    varint_put(&w->events, icount - w->prev_icount);
    varint_put(&w->events, len);
    ser_put_bytes(&w->events, payload, len);
    if (w->events.oom) {
        writer_fail(w, "out of memory buffering events");
        return false;
    }
    w->prev_icount = icount;
    w->any_event = true;
    w->nevents++;
    if (w->events.len >= RLOG_FRAME_TARGET)
        return rlog_flush(w);
    return true;
}

bool rlog_writer_close(RlogWriter *w)
{
    if (!w)
        return true;
    bool ok = rlog_flush(w);
    if (close(w->fd) != 0 && !w->failed) {
        writer_fail(w, "cannot close: %s", strerror(errno));
        ok = false;
    }
    ZSTD_freeCCtx(w->cctx);
    ser_writer_free(&w->events);
    free(w->out);
    free(w->path);
    free(w->final_path);
    free(w);
    return ok;
}

const char *rlog_writer_error(const RlogWriter *w) { return w->failed ? w->err : NULL; }

uint64_t rlog_writer_bytes(const RlogWriter *w) { return w->bytes; }

/* ------------------------------------------------------------------ */
/* reader */

enum { RS_OK, RS_END, RS_ERROR };

struct RlogReader {
    const uint8_t *data; /* the whole recording */
    size_t size;
    uint8_t *owned;      /* the file's bytes read into memory, or NULL */
    char *name;          /* path, for messages; owned */
    uint32_t version;    /* format version of the file */
    size_t frame_hlen;   /* frame header length for that version */
    int writer_pid;      /* a recorder still writes the file (its lock), or 0 */
    RlogPacked packed[RLOG_MAX_IMAGES]; /* images stored in the file */
    uint64_t packed_off[RLOG_MAX_IMAGES]; /* where their compressed bytes start */
    int npacked;

    uint64_t next_frame; /* file offset of the next frame to load */
    uint64_t data_start; /* file offset of the first frame */
    ZSTD_DCtx *dctx;
    uint8_t *frame;      /* decompressed events of the current frame */
    size_t frame_cap, frame_len, frame_pos;
    uint32_t frame_left; /* events of the current frame not yet decoded */
    uint32_t frame_count; /* events in the current frame */
    uint64_t frame_off;
    uint64_t decoded_icount; /* icount of the last event decoded */
    uint64_t next_seq;   /* sequence number the next frame must carry */
    bool seq_known;      /* false right after a seek: take the frame's */
    bool saw_end;        /* an END event was decoded */

    bool have_peek;
    RlogEvent peeked;
    uint64_t last_icount; /* of the last event returned */

    int state;
    bool truncated;
    char err[1024];
};

static int reader_fail(RlogReader *r, bool truncated, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int reader_fail(RlogReader *r, bool truncated, const char *fmt, ...)
{
    if (r->state == RS_ERROR)
        return -1;
    int n = snprintf(r->err, sizeof r->err, "%s: ", r->name);
    if (n < 0 || (size_t)n >= sizeof r->err)
        n = (int)sizeof r->err - 1; /* a path longer than the message buffer */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + n, sizeof r->err - (size_t)n, fmt, ap);
    va_end(ap);
    r->state = RS_ERROR;
    r->truncated = truncated;
    return -1;
}

/* Parse one event at frame_pos (bounds-checked even though the frame was
 * validated, so a logic slip cannot read out of bounds). */
static bool decode_event(RlogReader *r, uint64_t prev_icount, RlogEvent *ev, const char **why)
{
    const uint8_t *p = r->frame + r->frame_pos, *end = r->frame + r->frame_len;
    uint64_t kind, delta, len;
    if (!varint_get(&p, end, &kind) || !varint_get(&p, end, &delta) || !varint_get(&p, end, &len)) {
        *why = "an event header is cut or overlong";
        return false;
    }
    if (kind > UINT32_MAX) {
        *why = "an event kind is out of range";
        return false;
    }
    if (delta > UINT64_MAX - prev_icount) {
        *why = "an event icount overflows";
        return false;
    }
    if (len > (uint64_t)(end - p) || len > RLOG_MAX_PAYLOAD) {
        *why = "an event payload runs past the end of its frame";
        return false;
    }
    ev->kind = (uint32_t)kind;
    ev->icount = prev_icount + delta;
    ev->payload = p;
    ev->len = (size_t)len;
    ev->file_offset = r->frame_off;
    r->frame_pos = (size_t)(p + len - r->frame);
    return true;
}

/* Why a recording ends early: the recorder is still at work, or was stopped. */
static const char *cut_reason(const RlogReader *r, char *buf, size_t cap)
{
    if (r->writer_pid > 0)
        snprintf(buf, cap, "the recording is still being written by process %d", r->writer_pid);
    else
        snprintf(buf, cap, "the recording was cut (killed while recording?)");
    return buf;
}

/* Load, check and validate the frame at r->next_frame.
 * Returns 1 when a frame is ready, 0 at a clean end, -1 on error. */
static int load_frame(RlogReader *r)
{
    uint64_t off = r->next_frame;
    size_t left = r->size - (size_t)off;
    const size_t hlen = r->frame_hlen;
    char reason[128];
    if (left == 0) {
        if (r->saw_end)
            return 0;
        return reader_fail(r, true, "recording ends at byte %llu after icount %llu without an END event: %s",
                           (unsigned long long)off, (unsigned long long)r->decoded_icount,
                           cut_reason(r, reason, sizeof reason));
    }
    if (r->saw_end)
        return reader_fail(r, false, "%zu byte%s follow%s the END event at byte %llu: the recording is corrupt",
                           left, left == 1 ? "" : "s", left == 1 ? "s" : "", (unsigned long long)off);
    const uint8_t *fh = r->data + off;
    if (left < hlen)
        goto cut;
    if (memcmp(fh, FRAME_MAGIC, 4) != 0)
        return reader_fail(r, false, "frame at byte %llu has a bad magic: the recording is corrupt",
                           (unsigned long long)off);
    if (CHECKSUMS_ENFORCED && XXH64(fh, hlen - 8, 0) != get_le64(fh + hlen - 8))
        return reader_fail(r, false, "frame at byte %llu fails its checksum (frame header)",
                           (unsigned long long)off);
    uint32_t clen = get_le32(fh + 4), ulen = get_le32(fh + 8), count = get_le32(fh + 12);
    uint64_t first = get_le64(fh + 16);
    /* version 1 frames carry no sequence number: take them as they come */
    uint64_t seq = hlen == FRAME_HEADER_LEN ? get_le64(fh + 32) : r->next_seq;
    if (!r->seq_known)
        r->next_seq = seq;
    if (seq != r->next_seq)
        return reader_fail(r, false, "frame at byte %llu is frame number %llu where frame number %llu should be: "
                           "a frame is missing or out of order, the recording is corrupt",
                           (unsigned long long)off, (unsigned long long)seq, (unsigned long long)r->next_seq);
    const char *why = NULL;
    if (clen == 0 || clen > RLOG_MAX_FRAME || ulen > RLOG_MAX_FRAME)
        why = "its sizes are out of range";
    else if (count == 0 || count > ulen / 3)
        why = "its event count does not fit its size"; /* an event is >= 3 bytes */
    else if (first < r->decoded_icount)
        why = "its icount goes backwards";
    if (why)
        return reader_fail(r, false, "frame at byte %llu is malformed: %s", (unsigned long long)off, why);
    if (left - hlen < clen)
        goto cut;
    const uint8_t *cdata = fh + hlen;
    if (CHECKSUMS_ENFORCED && XXH64(cdata, clen, 0) != get_le64(fh + 24))
        return reader_fail(r, false, "frame at byte %llu fails its checksum", (unsigned long long)off);
    /* the zstd frame must be exactly one frame declaring the same size */
    unsigned long long content = ZSTD_getFrameContentSize(cdata, clen);
    if (content != ulen || ZSTD_findFrameCompressedSize(cdata, clen) != clen)
        return reader_fail(r, false, "frame at byte %llu is malformed: its zstd data does not match its header",
                           (unsigned long long)off);
    if (r->frame_cap < ulen) {
        uint8_t *nb = realloc(r->frame, ulen);
        if (!nb)
            return reader_fail(r, false, "out of memory for a frame of %u bytes", ulen);
        r->frame = nb;
        r->frame_cap = ulen;
    }
    size_t got = ZSTD_decompressDCtx(r->dctx, r->frame, ulen, cdata, clen);
    if (ZSTD_isError(got) || got != ulen)
        return reader_fail(r, false, "frame at byte %llu does not decompress: %s", (unsigned long long)off,
                           ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong size");

    /* validate every event before handing out the first */
    r->frame_off = off;
    r->frame_len = ulen;
    r->frame_pos = 0;
    uint64_t icount = first;
    bool end_seen = false;
    for (uint32_t i = 0; i < count; i++) {
        RlogEvent ev;
        if (end_seen) {
            why = "events follow the END event";
            break;
        }
        if (!decode_event(r, icount, &ev, &why))
            break;
        icount = ev.icount;
        end_seen = ev.kind == RLOG_END;
    }
    if (!why && r->frame_pos != ulen)
        why = "bytes follow its last event";
    if (why)
        return reader_fail(r, false, "frame at byte %llu is malformed: %s", (unsigned long long)off, why);
    r->frame_pos = 0;
    r->frame_left = count;
    r->frame_count = count;
    r->decoded_icount = first;
    r->next_frame = off + hlen + clen;
    r->next_seq = seq + 1;
    r->seq_known = true;
    return 1;
cut:
    return reader_fail(r, true, "recording ends at byte %llu (incomplete frame after icount %llu): %s",
                       (unsigned long long)off, (unsigned long long)r->decoded_icount,
                       cut_reason(r, reason, sizeof reason));
}

static int fetch_event(RlogReader *r, RlogEvent *ev)
{
    if (r->state == RS_ERROR)
        return -1;
    if (r->state == RS_END)
        return 0;
    while (r->frame_left == 0) {
        int rc = load_frame(r);
        if (rc <= 0) {
            if (rc == 0)
                r->state = RS_END;
            return rc;
        }
    }
    const char *why = NULL;
    bool ok = decode_event(r, r->decoded_icount, ev, &why);
    assert(ok); /* load_frame validated this very event */
    if (!ok)
        return reader_fail(r, false, "frame at byte %llu is malformed: %s", (unsigned long long)r->frame_off, why);
    r->frame_left--;
    r->decoded_icount = ev->icount;
    if (ev->kind == RLOG_END)
        r->saw_end = true;
    return 1;
}

int rlog_peek(RlogReader *r, RlogEvent *ev)
{
    if (!r->have_peek) {
        int rc = fetch_event(r, &r->peeked);
        if (rc <= 0)
            return rc;
        r->have_peek = true;
    }
    *ev = r->peeked;
    return 1;
}

int rlog_next(RlogReader *r, RlogEvent *ev)
{
    int rc = rlog_peek(r, ev);
    if (rc == 1) {
        r->have_peek = false;
        r->last_icount = ev->icount;
    }
    return rc;
}

RlogPos rlog_reader_tell(const RlogReader *r)
{
    RlogPos p = { .last_icount = r->last_icount };
    uint32_t decoded = r->frame_count - r->frame_left; /* of the current frame */
    if (r->have_peek) {
        /* the peeked event is the next one: it is the last decoded */
        assert(decoded > 0);
        p.frame_offset = r->frame_off;
        p.event_index = decoded - 1;
    } else if (r->frame_left > 0) {
        p.frame_offset = r->frame_off;
        p.event_index = decoded;
    } else {
        p.frame_offset = r->next_frame;
        p.event_index = 0;
    }
    return p;
}

bool rlog_reader_seek(RlogReader *r, const RlogPos *pos)
{
    if (pos->frame_offset < r->data_start || pos->frame_offset > r->size)
        return false;
    /* forget everything about the current position, then decode forward */
    r->state = RS_OK;
    r->truncated = false;
    r->err[0] = 0;
    r->have_peek = false;
    r->saw_end = false;
    r->frame_left = r->frame_count = 0;
    r->decoded_icount = 0;
    r->seq_known = false; /* pos came from rlog_reader_tell: trust its frame's number */
    r->next_frame = pos->frame_offset;
    r->last_icount = pos->last_icount;
    if (pos->event_index == 0)
        return true; /* loaded lazily by the next fetch, errors reported there */
    if (load_frame(r) != 1 || pos->event_index >= r->frame_count)
        return false;
    for (uint64_t i = 0; i < pos->event_index; i++) {
        RlogEvent ev;
        if (fetch_event(r, &ev) != 1)
            return false;
    }
    return true;
}

const char *rlog_reader_error(const RlogReader *r) { return r->state == RS_ERROR ? r->err : NULL; }
bool rlog_reader_truncated(const RlogReader *r) { return r->state == RS_ERROR && r->truncated; }
uint64_t rlog_reader_last_icount(const RlogReader *r) { return r->last_icount; }
uint64_t rlog_reader_size(const RlogReader *r) { return r->size; }
int rlog_reader_writer_pid(const RlogReader *r) { return r->writer_pid; }

void rlog_reader_close(RlogReader *r)
{
    if (!r)
        return;
    free(r->owned);
    free(r->frame);
    ZSTD_freeDCtx(r->dctx);
    free(r->name);
    free(r);
}

/* Format 2: the packed images between the header and the first frame.
 * Their headers are checked here; their contents when unpacked. */
static bool scan_packed_images(RlogReader *r, size_t off, char *err, size_t errlen)
{
    char reason[128];
    while (r->version >= 2 && r->size - off >= 4 && memcmp(r->data + off, IMAGE_MAGIC, 4) == 0) {
        const uint8_t *b = r->data + off;
        if (r->size - off < IMAGE_HEADER_LEN)
            goto cut;
        if (CHECKSUMS_ENFORCED && XXH64(b, 48, 0) != get_le64(b + 48)) {
            set_err(err, errlen, "%s: packed image at byte %zu fails its checksum (image header): the recording is "
                    "corrupt", r->name, off);
            return false;
        }
        uint64_t clen = get_le64(b + 8), ulen = get_le64(b + 16);
        const char *why = NULL;
        if (get_le32(b + 4) != IMAGE_CODEC_ZSTD)
            why = "unknown compression";
        else if (r->npacked >= RLOG_MAX_IMAGES)
            why = "too many packed images";
        else if (clen == 0 || ulen > RLOG_MAX_IMAGE)
            why = "its sizes are out of range";
        if (why) {
            set_err(err, errlen, "%s: packed image at byte %zu is malformed: %s", r->name, off, why);
            return false;
        }
        if (r->size - off - IMAGE_HEADER_LEN < clen)
            goto cut;
        RlogPacked *p = &r->packed[r->npacked];
        memcpy(p->hash, b + 24, 16);
        p->size = ulen;
        p->stored = clen;
        r->packed_off[r->npacked++] = off + IMAGE_HEADER_LEN;
        off += IMAGE_HEADER_LEN + (size_t)clen;
    }
    r->data_start = off;
    return true;
cut:
    set_err(err, errlen, "%s: recording is cut inside its packed images (%zu bytes): %s", r->name, r->size,
            cut_reason(r, reason, sizeof reason));
    return false;
}

int rlog_reader_npacked(const RlogReader *r) { return r->npacked; }
const RlogPacked *rlog_reader_packed(const RlogReader *r, int i) { return i >= 0 && i < r->npacked ? &r->packed[i] : NULL; }

int rlog_reader_find_packed(const RlogReader *r, const uint8_t hash[16])
{
    for (int i = 0; i < r->npacked; i++)
        if (memcmp(r->packed[i].hash, hash, 16) == 0)
            return i;
    return -1;
}

bool rlog_reader_unpack(const RlogReader *r, int i, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    *data = NULL;
    *len = 0;
    assert(i >= 0 && i < r->npacked);
    const RlogPacked *p = &r->packed[i];
    const uint8_t *c = r->data + r->packed_off[i];
    size_t clen = (size_t)p->stored;
    uint64_t off = r->packed_off[i] - IMAGE_HEADER_LEN;
    if (CHECKSUMS_ENFORCED && XXH64(c, clen, 0) != get_le64(c - IMAGE_HEADER_LEN + 40)) {
        set_err(err, errlen, "%s: packed image at byte %llu fails its checksum", r->name, (unsigned long long)off);
        return false;
    }
    if (ZSTD_getFrameContentSize(c, clen) != p->size || ZSTD_findFrameCompressedSize(c, clen) != clen) {
        set_err(err, errlen, "%s: packed image at byte %llu is malformed: its zstd data does not match its header",
                r->name, (unsigned long long)off);
        return false;
    }
    uint8_t *buf = malloc(p->size ? (size_t)p->size : 1);
    if (!buf) {
        set_err(err, errlen, "%s: out of memory for a packed image of %llu bytes", r->name,
                (unsigned long long)p->size);
        return false;
    }
    size_t got = ZSTD_decompress(buf, (size_t)p->size, c, clen);
    uint8_t h[16];
    if (!ZSTD_isError(got) && got == p->size)
        rlog_hash128(buf, got, h);
    if (ZSTD_isError(got) || got != p->size || (CHECKSUMS_ENFORCED && memcmp(h, p->hash, 16) != 0)) {
        set_err(err, errlen, "%s: packed image at byte %llu is damaged: %s", r->name, (unsigned long long)off,
                ZSTD_isError(got) ? ZSTD_getErrorName(got) : "its contents do not match its hash");
        free(buf);
        return false;
    }
    *data = buf;
    *len = got;
    return true;
}

/* Check the file header of r->data and decode it into h. */
static bool reader_start(RlogReader *r, RlogHeader *h, char *err, size_t errlen)
{
    const uint8_t *d = r->data;
    size_t n = r->size;
    const char *name = r->name;
    char reason[128];
    if (n < 8 && (n == 0 || memcmp(d, FILE_MAGIC, n) == 0)) {
        set_err(err, errlen, "%s: recording is cut inside its header (%zu bytes): %s", name, n,
                cut_reason(r, reason, sizeof reason));
        return false;
    }
    if (n < 8 || memcmp(d, FILE_MAGIC, 8) != 0) {
        set_err(err, errlen, "%s: not an rrvm recording (bad magic)", name);
        return false;
    }
    r->version = n >= 12 ? get_le32(d + 8) : RLOG_FORMAT_VERSION;
    if (r->version < 1 || r->version > RLOG_FORMAT_VERSION) {
        set_err(err, errlen, "%s: recording format version %u is not supported by this rrvm (supports 1 to %d)",
                name, r->version, RLOG_FORMAT_VERSION);
        return false;
    }
    r->frame_hlen = r->version == 1 ? FRAME_HEADER_LEN_V1 : FRAME_HEADER_LEN;
    uint32_t blen = n >= FILE_PREFIX_LEN ? get_le32(d + 12) : 0;
    if (blen > RLOG_MAX_HEADER) {
        set_err(err, errlen, "%s: recording header length %u is absurd (limit %u): the recording is corrupt",
                name, blen, RLOG_MAX_HEADER);
        return false;
    }
    if (n < FILE_PREFIX_LEN || n - FILE_PREFIX_LEN < (size_t)blen + 8) {
        set_err(err, errlen, "%s: recording is cut inside its header (%zu bytes): %s", name, n,
                cut_reason(r, reason, sizeof reason));
        return false;
    }
    size_t hlen = FILE_PREFIX_LEN + blen;
    if (CHECKSUMS_ENFORCED && XXH64(d, hlen, 0) != get_le64(d + hlen)) {
        set_err(err, errlen, "%s: recording header fails its checksum: the recording is corrupt", name);
        return false;
    }
    const char *why = NULL;
    if (!header_decode(d + FILE_PREFIX_LEN, blen, r->version, h, &why)) {
        set_err(err, errlen, "%s: recording header is malformed: %s", name, why);
        return false;
    }
    if (!scan_packed_images(r, hlen + 8, err, errlen)) {
        rlog_header_free(h);
        return false;
    }
    r->next_frame = r->data_start;
    r->next_seq = 0;
    r->seq_known = true; /* the first frame is number 0 */
    return true;
}

static RlogReader *reader_new(const char *name)
{
    RlogReader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->name = strdup(name);
    r->dctx = ZSTD_createDCtx();
    if (!r->dctx || !r->name) {
        ZSTD_freeDCtx(r->dctx);
        free(r->name);
        free(r);
        return NULL;
    }
    return r;
}

RlogReader *rlog_reader_open_mem(const uint8_t *buf, size_t len, RlogHeader *h_out, char *err, size_t errlen)
{
    RlogReader *r = reader_new("(recording in memory)");
    if (!r) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    r->data = buf && len ? buf : (const uint8_t *)"";
    r->size = buf ? len : 0;
    if (!reader_start(r, h_out, err, errlen)) {
        rlog_reader_close(r);
        return NULL;
    }
    return r;
}

/* Read the whole regular file into memory: a recording is small, and a
 * copy cannot change (or vanish, as a truncated mapping would) under the
 * replay. A file that shrinks while read is taken as it was then. */
static bool read_whole(int fd, size_t size, RlogReader *r)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return false;
    size_t len = 0;
    while (len < size) {
        ssize_t k = read(fd, buf + len, size - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            free(buf);
            return false;
        }
        if (k == 0)
            break;
        len += (size_t)k;
    }
    r->owned = buf;
    r->data = buf;
    r->size = len;
    return true;
}

RlogReader *rlog_reader_open(const char *path, RlogHeader *h_out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block the open */
    if (fd < 0) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s: not a regular file (a recording is a file)", path);
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > RLOG_MAX_FILE) {
        set_err(err, errlen, "%s: %llu bytes is more than a recording may have (%llu GiB)", path,
                (unsigned long long)st.st_size, (unsigned long long)(RLOG_MAX_FILE >> 30));
        close(fd);
        return NULL;
    }
    RlogReader *r = reader_new(path);
    if (!r) {
        close(fd);
        set_err(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    r->writer_pid = lock_holder(fd);
    if (!read_whole(fd, (size_t)st.st_size, r)) {
        set_err(err, errlen, "%s: cannot read: %s", path, errno ? strerror(errno) : "out of memory");
        close(fd);
        rlog_reader_close(r);
        return NULL;
    }
    close(fd);
    if (!reader_start(r, h_out, err, errlen)) {
        rlog_reader_close(r);
        return NULL;
    }
    return r;
}
