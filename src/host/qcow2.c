/*
 * qcow2.c - parsing qcow2 images (QEMU's docs/interop/qcow2.txt), read
 * only; see qcow2.h.
 *
 * The header and the L1 table are read at open, L2 tables on demand into
 * a small LRU cache (so a sequential read reads each table once), and the
 * last inflated compressed cluster is kept (a sequential read of it
 * inflates it once). Refcounts and snapshots do not matter to a reader.
 *
 * Invariants: the L1 table covers the whole virtual size; a table or
 * cluster offset is used only after checking its alignment and that it
 * lies in the file; every table index derives from a guest offset below
 * the virtual size. Data that runs past the end of the file reads as
 * zeros, as in QEMU (a last cluster may be partly unwritten), but a
 * cluster that starts past it is an error.
 */
#include "qcow2.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21        /* 2 MiB, as QEMU */
#define QCOW2_MAX_L1_BYTES (32u << 20)   /* as QEMU: 2^22 entries */
#define QCOW2_MAX_BACKING_NAME 1023
#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_HEADER_LEN 104
#define QCOW2_L2_CACHE_BYTES (1u << 20)  /* per image; at least 2 tables */
#define QCOW2_L2_CACHE_MAX_SLOTS 64

/* incompatible feature bits */
#define QCOW2_INCOMPAT_DIRTY (1ull << 0)      /* refcounts may be stale: fine for a reader */
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3) /* the compression_type field is not zlib */
#define QCOW2_INCOMPAT_EXTL2 (1ull << 4)
#define QCOW2_INCOMPAT_KNOWN 0x1full

#define QCOW2_EXT_END 0x00000000u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau

#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull /* bits 9-55 of L1 and L2 entries */
#define QCOW2_L2_COMPRESSED (1ull << 62)
#define QCOW2_L2_ZERO 1ull

typedef struct {
    uint64_t host_off; /* 0: empty slot */
    uint64_t last_use;
    uint64_t *entries; /* host byte order */
} L2Slot;

struct Qcow2 {
    int fd;
    uint64_t file_size;
    char *path;
    uint32_t version;
    unsigned cluster_bits;
    uint64_t cluster_size;
    unsigned l2_bits; /* log2 of entries per L2 table */
    uint64_t size;
    uint32_t l1_entries;
    uint64_t *l1; /* host byte order */
    char *backing_name;
    char backing_format[16];

    L2Slot *l2_cache;
    unsigned l2_slots;
    uint64_t l2_clock;

    uint8_t *zin;        /* compressed bytes of one cluster (up to 2 clusters long) */
    uint8_t *zout;       /* the last inflated cluster */
    uint64_t zout_desc;  /* its descriptor; valid when zout_valid */
    bool zout_valid;

    uint64_t preads;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* Read exactly n bytes at off, which the caller checked lie in the file. */
static bool read_at(Qcow2 *q, uint64_t off, void *buf, size_t n, char *err, size_t errlen)
{
    size_t done = 0;
    while (done < n) {
        q->preads++;
        ssize_t r = pread(q->fd, (uint8_t *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "%s: %s", q->path, r < 0 ? strerror(errno) : "file shrank under us");
            return false;
        }
        done += (size_t)r;
    }
    return true;
}

static bool in_file(const Qcow2 *q, uint64_t off, uint64_t len)
{
    return off <= q->file_size && len <= q->file_size - off;
}

void qcow2_close(Qcow2 *q)
{
    if (!q)
        return;
    for (unsigned i = 0; q->l2_cache && i < q->l2_slots; i++)
        free(q->l2_cache[i].entries);
    free(q->l2_cache);
    free(q->l1);
    free(q->backing_name);
    free(q->zin);
    free(q->zout);
    free(q->path);
    free(q);
}

static Qcow2 *refuse(Qcow2 *q, char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s: %s", q->path, why);
    qcow2_close(q);
    return NULL;
}

/* Header extensions between the header and `end`: only the backing
 * format matters here (the others are for writers, or belong to features
 * refused by their incompatible bit). */
static bool parse_extensions(Qcow2 *q, uint64_t start, uint64_t end, char *err, size_t errlen)
{
    if (end > q->file_size)
        end = q->file_size; /* a short file just ends the list */
    if (start >= end)
        return true;
    size_t n = (size_t)(end - start);
    uint8_t *buf = malloc(n);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", q->path);
        return false;
    }
    bool ok = read_at(q, start, buf, n, err, errlen);
    for (size_t off = 0; ok && off + 8 <= n;) {
        uint32_t type = be32(buf + off), len = be32(buf + off + 4);
        if (type == QCOW2_EXT_END)
            break;
        if (len > n - off - 8) {
            snprintf(err, errlen, "%s: header extension 0x%08x runs past the header", q->path, type);
            ok = false;
            break;
        }
        if (type == QCOW2_EXT_BACKING_FORMAT) {
            if (len >= sizeof q->backing_format || memchr(buf + off + 8, 0, len)) {
                snprintf(err, errlen, "%s: malformed backing format extension", q->path);
                ok = false;
                break;
            }
            memcpy(q->backing_format, buf + off + 8, len);
            q->backing_format[len] = 0;
        }
        off += 8 + (((size_t)len + 7) & ~(size_t)7);
    }
    free(buf);
    return ok;
}

static bool read_backing_name(Qcow2 *q, uint64_t off, uint32_t len, char *err, size_t errlen)
{
    if (off == 0 || len == 0)
        return true;
    if (len > QCOW2_MAX_BACKING_NAME || off > q->cluster_size || !in_file(q, off, len)) {
        snprintf(err, errlen, "%s: bad backing file name (offset %llu, length %u)", q->path,
                 (unsigned long long)off, len);
        return false;
    }
    q->backing_name = calloc(1, (size_t)len + 1);
    if (!q->backing_name) {
        snprintf(err, errlen, "%s: out of memory", q->path);
        return false;
    }
    if (!read_at(q, off, q->backing_name, len, err, errlen))
        return false;
    if (strlen(q->backing_name) != len) {
        snprintf(err, errlen, "%s: backing file name contains a NUL byte", q->path);
        return false;
    }
    return true;
}

/* Checks of the fixed header fields; NULL when acceptable, else why not. */
static const char *header_problem(Qcow2 *q, const uint8_t *h, uint64_t *ext_start, char *why, size_t whylen)
{
    q->version = be32(h + 4);
    if (q->version != 2 && q->version != 3) {
        snprintf(why, whylen, "qcow2 version %u is not supported (2 or 3)", q->version);
        return why;
    }
    uint32_t cluster_bits = be32(h + 20);
    if (cluster_bits < QCOW2_MIN_CLUSTER_BITS || cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        snprintf(why, whylen, "cluster_bits %u out of range (9..21)", cluster_bits);
        return why;
    }
    q->cluster_bits = cluster_bits;
    q->cluster_size = 1ull << cluster_bits;
    q->l2_bits = cluster_bits - 3;
    if (be32(h + 32) != 0)
        return "encrypted images are not supported";
    *ext_start = QCOW2_V2_HEADER_LEN;
    if (q->version == 2)
        return NULL;
    if (q->file_size < QCOW2_V3_HEADER_LEN)
        return "truncated qcow2 header";
    uint32_t header_len = be32(h + 100);
    if (header_len < QCOW2_V3_HEADER_LEN || header_len > q->cluster_size) {
        snprintf(why, whylen, "bad header_length %u", header_len);
        return why;
    }
    *ext_start = header_len;
    uint64_t incompat = be64(h + 72);
    uint8_t compression = 0;
    if (header_len > QCOW2_V3_HEADER_LEN) {
        if (q->file_size <= QCOW2_V3_HEADER_LEN)
            return "truncated qcow2 header";
        compression = h[104];
    }
    if (incompat & QCOW2_INCOMPAT_CORRUPT)
        return "image is marked corrupt (qemu-img check -r all repairs it)";
    if (incompat & QCOW2_INCOMPAT_DATA_FILE)
        return "images with an external data file are not supported";
    if (compression != 0) {
        snprintf(why, whylen, "compression type %u is not supported (zlib only)", compression);
        return why;
    }
    if (incompat & QCOW2_INCOMPAT_EXTL2)
        return "extended L2 entries (subclusters) are not supported";
    if (incompat & ~QCOW2_INCOMPAT_KNOWN) {
        snprintf(why, whylen, "unknown incompatible features 0x%llx",
                 (unsigned long long)(incompat & ~QCOW2_INCOMPAT_KNOWN));
        return why;
    }
    return NULL;
}

/* The L1 table: it must cover the virtual size and lie in the file. */
static const char *read_l1(Qcow2 *q, const uint8_t *h, char *why, size_t whylen, char *err, size_t errlen)
{
    uint32_t l1_entries = be32(h + 36);
    uint64_t l1_off = be64(h + 40);
    unsigned l1_shift = q->cluster_bits + q->l2_bits; /* guest bytes per L1 entry: 2^(2*bits-3) */
    uint64_t needed = q->size == 0 ? 0 : ((q->size - 1) >> l1_shift) + 1;
    if ((uint64_t)l1_entries * 8 > QCOW2_MAX_L1_BYTES) {
        snprintf(why, whylen, "L1 table too large (%u entries)", l1_entries);
        return why;
    }
    if (l1_entries < needed) {
        snprintf(why, whylen, "L1 table too small for the virtual size (%u entries, %llu needed)",
                 l1_entries, (unsigned long long)needed);
        return why;
    }
    if (l1_entries == 0)
        return NULL;
    if (l1_off & (q->cluster_size - 1))
        return "L1 table offset not cluster-aligned";
    if (!in_file(q, l1_off, (uint64_t)l1_entries * 8))
        return "L1 table beyond the end of the file";
    q->l1_entries = l1_entries;
    q->l1 = malloc((size_t)l1_entries * 8);
    if (!q->l1)
        return "out of memory";
    if (!read_at(q, l1_off, q->l1, (size_t)l1_entries * 8, err, errlen))
        return "";
    for (uint32_t i = 0; i < l1_entries; i++)
        q->l1[i] = be64((const uint8_t *)&q->l1[i]);
    return NULL;
}

static bool setup_caches(Qcow2 *q)
{
    unsigned slots = (unsigned)(QCOW2_L2_CACHE_BYTES >> q->cluster_bits);
    if (slots < 2)
        slots = 2;
    if (slots > QCOW2_L2_CACHE_MAX_SLOTS)
        slots = QCOW2_L2_CACHE_MAX_SLOTS;
    q->l2_slots = slots;
    q->l2_cache = calloc(slots, sizeof *q->l2_cache);
    return q->l2_cache != NULL;
}

Qcow2 *qcow2_open(int fd, uint64_t file_size, const char *path, char *err, size_t errlen)
{
    Qcow2 *q = calloc(1, sizeof *q);
    if (!q || !(q->path = strdup(path))) {
        free(q);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    q->fd = fd;
    q->file_size = file_size;
    uint8_t h[QCOW2_V3_HEADER_LEN + 1] = {0};
    if (file_size < QCOW2_V2_HEADER_LEN)
        return refuse(q, err, errlen, "truncated qcow2 header");
    size_t hlen = file_size < sizeof h ? (size_t)file_size : sizeof h;
    if (!read_at(q, 0, h, hlen, err, errlen)) {
        qcow2_close(q);
        return NULL;
    }
    if (memcmp(h, "QFI\xfb", 4) != 0)
        return refuse(q, err, errlen, "not a qcow2 image (bad magic)");
    char why[160];
    uint64_t ext_start;
    const char *problem = header_problem(q, h, &ext_start, why, sizeof why);
    if (problem)
        return refuse(q, err, errlen, problem);
    q->size = be64(h + 24);
    problem = read_l1(q, h, why, sizeof why, err, errlen);
    if (problem && !*problem) { /* an I/O error, already in err */
        qcow2_close(q);
        return NULL;
    }
    if (problem)
        return refuse(q, err, errlen, problem);
    uint64_t backing_off = be64(h + 8);
    uint32_t backing_len = be32(h + 16);
    uint64_t ext_end = backing_off && backing_off < q->cluster_size ? backing_off : q->cluster_size;
    if (!parse_extensions(q, ext_start, ext_end, err, errlen) ||
        !read_backing_name(q, backing_off, backing_len, err, errlen)) {
        qcow2_close(q);
        return NULL;
    }
    if (!setup_caches(q))
        return refuse(q, err, errlen, "out of memory");
    return q;
}

uint64_t qcow2_size(const Qcow2 *q) { return q->size; }
const char *qcow2_backing_name(const Qcow2 *q) { return q->backing_name; }
const char *qcow2_backing_format(const Qcow2 *q) { return q->backing_format[0] ? q->backing_format : NULL; }
uint64_t qcow2_pread_count(const Qcow2 *q) { return q->preads; }

/* The L2 table at host offset l2_off, from the cache or the file. */
static const uint64_t *l2_table(Qcow2 *q, uint64_t l2_off, char *err, size_t errlen)
{
    L2Slot *victim = &q->l2_cache[0];
    for (unsigned i = 0; i < q->l2_slots; i++) {
        L2Slot *s = &q->l2_cache[i];
        if (s->host_off == l2_off) {
            s->last_use = ++q->l2_clock;
            return s->entries;
        }
        if (s->last_use < victim->last_use)
            victim = s;
    }
    if (l2_off & (q->cluster_size - 1)) {
        snprintf(err, errlen, "%s: L2 table offset 0x%llx not cluster-aligned", q->path, (unsigned long long)l2_off);
        return NULL;
    }
    if (!in_file(q, l2_off, q->cluster_size)) {
        snprintf(err, errlen, "%s: L2 table at 0x%llx beyond the end of the file", q->path,
                 (unsigned long long)l2_off);
        return NULL;
    }
    if (!victim->entries && !(victim->entries = malloc(q->cluster_size))) {
        snprintf(err, errlen, "%s: out of memory", q->path);
        return NULL;
    }
    victim->host_off = 0; /* invalid until read completely */
    if (!read_at(q, l2_off, victim->entries, (size_t)q->cluster_size, err, errlen))
        return NULL;
    size_t n = (size_t)(q->cluster_size / 8);
    for (size_t i = 0; i < n; i++)
        victim->entries[i] = be64((const uint8_t *)&victim->entries[i]);
    victim->host_off = l2_off;
    victim->last_use = ++q->l2_clock;
    return victim->entries;
}

/* What one L2 entry says about its cluster; for DATA, *host is the
 * cluster's file offset. */
static bool classify(Qcow2 *q, uint64_t e, Qcow2Kind *kind, uint64_t *host, char *err, size_t errlen)
{
    if (e & QCOW2_L2_COMPRESSED) {
        *kind = QCOW2_COMPRESSED;
        *host = e & (QCOW2_L2_COMPRESSED - 1);
        return true;
    }
    *host = e & QCOW2_OFFSET_MASK;
    if (e & QCOW2_L2_ZERO) {
        if (q->version < 3) {
            snprintf(err, errlen, "%s: zero cluster flag in a version 2 image", q->path);
            return false;
        }
        *kind = QCOW2_ZERO;
        return true;
    }
    if (*host == 0) {
        *kind = QCOW2_UNALLOCATED;
        return true;
    }
    if (*host & (q->cluster_size - 1)) {
        snprintf(err, errlen, "%s: data cluster offset 0x%llx not cluster-aligned", q->path, (unsigned long long)*host);
        return false;
    }
    if (*host >= q->file_size) {
        snprintf(err, errlen, "%s: data cluster at 0x%llx beyond the end of the file", q->path,
                 (unsigned long long)*host);
        return false;
    }
    *kind = QCOW2_DATA;
    return true;
}

bool qcow2_map(Qcow2 *q, uint64_t off, uint64_t max, Qcow2Extent *ext, char *err, size_t errlen)
{
    assert(off < q->size && max >= 1);
    if (max > q->size - off)
        max = q->size - off;
    unsigned l1_shift = q->cluster_bits + q->l2_bits;
    uint64_t l1_index = off >> l1_shift;
    assert(l1_index < q->l1_entries); /* the L1 table covers the virtual size */
    uint64_t l2_off = q->l1[l1_index] & QCOW2_OFFSET_MASK;
    uint64_t table_end = (l1_index + 1) << l1_shift; /* guest end of this L2 table's reach */
    uint64_t reach = table_end - off;
    if (l2_off == 0) {
        ext->kind = QCOW2_UNALLOCATED;
        ext->host_off = 0;
        ext->len = reach < max ? reach : max;
        return true;
    }
    const uint64_t *l2 = l2_table(q, l2_off, err, errlen);
    if (!l2)
        return false;
    uint64_t l2_mask = (1ull << q->l2_bits) - 1;
    uint64_t i = (off >> q->cluster_bits) & l2_mask;
    uint64_t in_cluster = off & (q->cluster_size - 1);
    uint64_t host;
    if (!classify(q, l2[i], &ext->kind, &host, err, errlen))
        return false;
    ext->host_off = ext->kind == QCOW2_DATA ? host + in_cluster : host;
    ext->len = q->cluster_size - in_cluster;
    if (ext->kind == QCOW2_COMPRESSED) { /* one cluster at a time */
        if (ext->len > max)
            ext->len = max;
        return true;
    }
    /* extend over following clusters of the same kind (DATA: contiguous) */
    for (uint64_t j = i + 1; ext->len < max && j <= l2_mask; j++) {
        Qcow2Kind kind;
        if (!classify(q, l2[j], &kind, &host, err, errlen))
            break; /* the bad entry fails the read that reaches it */
        if (kind != ext->kind || (kind == QCOW2_DATA && host != ext->host_off + ext->len))
            break;
        ext->len += q->cluster_size;
    }
    if (ext->len > max)
        ext->len = max;
    return true;
}

/* Inflate the cluster described by desc into q->zout. */
static bool inflate_cluster(Qcow2 *q, uint64_t desc, char *err, size_t errlen)
{
    unsigned x = 62 - (q->cluster_bits - 8); /* bits of the offset; the rest counts sectors */
    uint64_t host = desc & ((1ull << x) - 1);
    uint64_t sectors = (desc >> x) + 1;
    uint64_t csize = sectors * 512 - (host & 511);
    if (host >= q->file_size) {
        snprintf(err, errlen, "%s: compressed cluster at 0x%llx beyond the end of the file", q->path,
                 (unsigned long long)host);
        return false;
    }
    if (csize > q->file_size - host) /* the last one may end past EOF, as QEMU writes it */
        csize = q->file_size - host;
    if (!q->zin && !(q->zin = malloc((size_t)q->cluster_size * 2)))
        goto oom;
    if (!q->zout && !(q->zout = malloc((size_t)q->cluster_size)))
        goto oom;
    assert(csize <= q->cluster_size * 2);
    q->zout_valid = false;
    if (!read_at(q, host, q->zin, (size_t)csize, err, errlen))
        return false;
    z_stream zs = {0};
    if (inflateInit2(&zs, -15) != Z_OK) /* raw deflate; QEMU writes 4 KiB windows */
        goto oom;
    zs.next_in = q->zin;
    zs.avail_in = (uInt)csize;
    zs.next_out = q->zout;
    zs.avail_out = (uInt)q->cluster_size;
    int rc = inflate(&zs, Z_FINISH);
    bool full = zs.avail_out == 0;
    inflateEnd(&zs);
    /* the stored size is rounded up to sectors: trailing bytes are not an error */
    if (!((rc == Z_STREAM_END || rc == Z_BUF_ERROR) && full)) {
        snprintf(err, errlen, "%s: compressed cluster at 0x%llx does not inflate", q->path, (unsigned long long)host);
        return false;
    }
    q->zout_desc = desc;
    q->zout_valid = true;
    return true;
oom:
    snprintf(err, errlen, "%s: out of memory", q->path);
    return false;
}

bool qcow2_read_compressed(Qcow2 *q, uint64_t desc, uint64_t off, uint8_t *buf, size_t n, char *err,
                           size_t errlen)
{
    uint64_t in_cluster = off & (q->cluster_size - 1);
    assert(n <= q->cluster_size - in_cluster);
    if (!(q->zout_valid && q->zout_desc == desc) && !inflate_cluster(q, desc, err, errlen))
        return false;
    memcpy(buf, q->zout + in_cluster, n);
    return true;
}
