/*
 * virtio_blk.c - virtio block device: one request queue; IN, OUT, FLUSH,
 * GET_ID, DISCARD and WRITE_ZEROES over a read-only base image (read
 * through m->host.disk_read) and a copy-on-write overlay of 4 KiB clusters.
 *
 * Timing: requests are popped at QueueNotify and completed in order at a
 * virtual time given by a latency model of one channel: each request takes
 * BLK_LATENCY_NS + its data bytes at BLK_BYTES_PER_NS, starting when the
 * previous one is done (or now). The device timer fires at the first
 * completion; the data moves then (base/overlay into guest memory, or
 * guest memory into the overlay), so a guest sees its data exactly at a
 * deterministic icount, and disk I/O needs no log entry at all.
 *
 * Invariants:
 *  - The base image is never written; a cluster in the overlay shadows the
 *    base entirely (an explicit zero cluster reads as zeros whatever the
 *    base holds).
 *  - The overlay and the requests in flight are device state: save writes
 *    the overlay in increasing cluster order (deterministic bytes for the
 *    same contents) and load replaces both all or nothing. hash[] always
 *    holds each data cluster's current hash, so a checkpoint digest hashes
 *    16 bytes per cluster instead of its 4 KiB (save_digest).
 *  - In-flight requests are kept in completion order with non-decreasing
 *    deadlines; the timer is armed at the first one's deadline whenever
 *    one is in flight.
 *  - A request is validated in full before it touches anything (header,
 *    status byte, direction of the buffers, length a multiple of 512,
 *    range within capacity); a bad one gets S_IOERR or S_UNSUPP, a chain
 *    without a header or a status byte breaks the device (as QEMU).
 */
#include "virtio_blk.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/le.h"

/* request types */
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_T_DISCARD 11
#define BLK_T_WRITE_ZEROES 13
/* status */
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2
/* feature bits */
#define BLK_F_SEG_MAX 2
#define BLK_F_RO 5
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH 9
#define BLK_F_DISCARD 13
#define BLK_F_WRITE_ZEROES 14
/* config space offsets */
#define CFG_CAPACITY 0
#define CFG_SEG_MAX 12
#define CFG_BLK_SIZE 20
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG 40
#define CFG_DISCARD_ALIGN 44
#define CFG_MAX_WZ_SECTORS 48
#define CFG_MAX_WZ_SEG 52
#define CFG_WZ_MAY_UNMAP 56
#define CFG_LEN 60

#define SECTOR 512u
#define HDR_LEN 16u
#define RANGE_LEN 16u             /* one discard / write-zeroes range */
#define ID_LEN 20u                /* GET_ID: the serial, zero padded */
#define SEG_MAX (VIRTQ_MAX_SEGS - 2) /* data segments besides header and status */
#define MAX_RANGE_SECTORS 0x3fffffu  /* per discard / write-zeroes range (QEMU's) */
#define MAX_RANGES 1u                /* ranges per discard / write-zeroes (QEMU's) */
#define BLK_MAX_INFLIGHT VIRTIO_QUEUE_MAX_SIZE
#define BLK_LATENCY_NS 20000ull   /* 20 us per request */
#define BLK_BYTES_PER_NS 1ull     /* 1 GB/s */
#define CHUNK (64u * 1024u)       /* data moves through a buffer this big */
#define OVL_EMPTY UINT64_MAX

/* The overlay: open addressing on the cluster number (no deletion: a
 * cluster once written stays, as data or zeros). data[i] NULL marks an
 * explicit zero cluster. Iteration for save is in sorted cluster order. */
typedef struct BlkOverlay {
    uint64_t *key;
    uint8_t **data;
    uint64_t *hash;  /* of data[i] (cluster_hash), kept current; 0 for a zero cluster */
    size_t cap, count; /* cap: a power of two, or 0 */
} BlkOverlay;

typedef struct BlkInflight {
    uint64_t done_ns;
    VirtqElem e;
} BlkInflight;

typedef struct VirtioBlk {
    VirtioDev vdev; /* first: the transport's view */
    int index;      /* into cfg.devices: the host's disk number */
    uint64_t capacity;  /* bytes, a multiple of 512 */
    bool readonly;
    char serial[ID_LEN];
    BlkOverlay ovl;
    BlkInflight *inflight; /* BLK_MAX_INFLIGHT entries, [0, ninflight) used */
    int ninflight;
    uint64_t last_done_ns; /* the channel is busy until then */
} VirtioBlk;

static VirtioBlk *blk_of(VirtioDev *d) { return (VirtioBlk *)d; }
static const VirtioBlk *cblk_of(const VirtioDev *d) { return (const VirtioBlk *)d; }

/* --- overlay --- */

/* A fast 64-bit hash of one cluster for checkpoint digests (not
 * adversarial: it only has to tell a diverged disk from a matching one). */
static uint64_t cluster_hash(const uint8_t *p)
{
    uint64_t h = 0x243f6a8885a308d3ull;
    for (size_t i = 0; i < VIRTIO_BLK_CLUSTER; i += 8) {
        h = (h ^ get_le64(p + i)) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    return h | 1; /* never 0, the zero cluster's */
}

static size_t ovl_slot(uint64_t c, size_t cap) { return (size_t)((c * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1); }

static void ovl_free(BlkOverlay *o)
{
    for (size_t i = 0; i < o->cap; i++)
        free(o->data ? o->data[i] : NULL);
    free(o->key);
    free(o->data);
    free(o->hash);
    memset(o, 0, sizeof *o);
}

/* Slot holding cluster c, or -1. */
static long ovl_find(const BlkOverlay *o, uint64_t c)
{
    if (!o->cap)
        return -1;
    for (size_t i = ovl_slot(c, o->cap);; i = (i + 1) & (o->cap - 1)) {
        if (o->key[i] == c)
            return (long)i;
        if (o->key[i] == OVL_EMPTY)
            return -1;
    }
}

static bool ovl_grow(BlkOverlay *o)
{
    size_t ncap = o->cap ? o->cap * 2 : 64;
    uint64_t *key = malloc(ncap * sizeof *key);
    uint8_t **data = calloc(ncap, sizeof *data);
    uint64_t *hash = calloc(ncap, sizeof *hash);
    if (!key || !data || !hash) {
        free(key);
        free(data);
        free(hash);
        return false;
    }
    for (size_t i = 0; i < ncap; i++)
        key[i] = OVL_EMPTY;
    for (size_t i = 0; i < o->cap; i++) {
        if (o->key[i] == OVL_EMPTY)
            continue;
        size_t j = ovl_slot(o->key[i], ncap);
        while (key[j] != OVL_EMPTY)
            j = (j + 1) & (ncap - 1);
        key[j] = o->key[i];
        data[j] = o->data[i];
        hash[j] = o->hash[i];
    }
    free(o->key);
    free(o->data);
    free(o->hash);
    o->key = key;
    o->data = data;
    o->hash = hash;
    o->cap = ncap;
    return true;
}

/* Slot of cluster c, added as a zero cluster if absent; -1: out of memory. */
static long ovl_insert(BlkOverlay *o, uint64_t c)
{
    long i = ovl_find(o, c);
    if (i >= 0)
        return i;
    if ((o->count + 1) * 2 > o->cap && !ovl_grow(o))
        return -1;
    size_t j = ovl_slot(c, o->cap);
    while (o->key[j] != OVL_EMPTY)
        j = (j + 1) & (o->cap - 1);
    o->key[j] = c;
    o->data[j] = NULL;
    o->hash[j] = 0;
    o->count++;
    return (long)j;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The overlay in cluster order: with data, or (digest) with each
 * cluster's hash instead, for checkpoint digests (17 bytes a cluster, not 4105). */
static void ovl_write(const BlkOverlay *o, SerWriter *w, bool digest)
{
    ser_put_u64(w, o->count);
    uint64_t *keys = o->count ? malloc(o->count * sizeof *keys) : NULL;
    if (o->count && !keys) {
        w->oom = true; /* the writer's sticky error: the save is refused */
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < o->cap; i++)
        if (o->key[i] != OVL_EMPTY)
            keys[n++] = o->key[i];
    assert(n == o->count);
    if (n > 1)
        qsort(keys, n, sizeof *keys, cmp_u64);
    for (size_t k = 0; k < n; k++) {
        long i = ovl_find(o, keys[k]);
        ser_put_u64(w, keys[k]);
        ser_put_u8(w, o->data[i] != NULL);
        if (digest)
            ser_put_u64(w, o->hash[i]);
        else if (o->data[i])
            ser_put_bytes(w, o->data[i], VIRTIO_BLK_CLUSTER);
    }
    free(keys);
}

/* Read an overlay into *o (empty on entry) for a disk of `capacity` bytes. */
static void ovl_load(BlkOverlay *o, SerReader *r, uint64_t capacity)
{
    uint64_t nclusters = (capacity + VIRTIO_BLK_CLUSTER - 1) / VIRTIO_BLK_CLUSTER;
    uint64_t count = ser_get_u64(r);
    if (count > nclusters) {
        ser_fail(r, "virtio-blk overlay: more clusters than the disk has");
        return;
    }
    uint64_t prev = 0;
    for (uint64_t k = 0; k < count && ser_ok(r); k++) {
        uint64_t c = ser_get_u64(r);
        uint8_t kind = ser_get_u8(r);
        if (!ser_ok(r))
            return;
        if (c >= nclusters || (k && c <= prev) || kind > 1) {
            ser_fail(r, "virtio-blk overlay: clusters out of order, out of range or of an unknown kind");
            return;
        }
        prev = c;
        long i = ovl_insert(o, c);
        uint8_t *p = kind ? malloc(VIRTIO_BLK_CLUSTER) : NULL;
        if (i < 0 || (kind && !p)) {
            free(p);
            ser_fail(r, "virtio-blk overlay: out of memory");
            return;
        }
        o->data[i] = p;
        if (p) {
            ser_get_bytes(r, p, VIRTIO_BLK_CLUSTER);
            o->hash[i] = cluster_hash(p);
        }
    }
}

/* --- data movement --- */

/* Read disk bytes [off, off+n) as the guest sees them: overlay clusters,
 * else the base (contiguous base runs in one host read). */
static bool disk_read(VirtioBlk *b, uint64_t off, uint8_t *buf, size_t n)
{
    Machine *m = b->vdev.m;
    uint64_t base_off = 0;
    size_t base_len = 0; /* a pending run of base bytes ending at off */
    uint8_t *base_buf = NULL;
    while (n) {
        uint64_t c = off / VIRTIO_BLK_CLUSTER, in = off % VIRTIO_BLK_CLUSTER;
        size_t len = VIRTIO_BLK_CLUSTER - in < n ? VIRTIO_BLK_CLUSTER - in : n;
        long i = ovl_find(&b->ovl, c);
        if (i < 0) {
            if (!base_len) {
                base_off = off;
                base_buf = buf;
            }
            base_len += len;
        } else {
            if (base_len && !m->host.disk_read(m->host.opaque, b->index, base_off, base_buf, base_len))
                return false;
            base_len = 0;
            if (b->ovl.data[i])
                memcpy(buf, b->ovl.data[i] + in, len);
            else
                memset(buf, 0, len);
        }
        off += len;
        buf += len;
        n -= len;
    }
    return !base_len || m->host.disk_read(m->host.opaque, b->index, base_off, base_buf, base_len);
}

/* Write buf (NULL: zeros) to disk bytes [off, off+n) in the overlay. A
 * partly written cluster is first filled from the base. */
static bool disk_write(VirtioBlk *b, uint64_t off, const uint8_t *buf, size_t n)
{
    while (n) {
        uint64_t c = off / VIRTIO_BLK_CLUSTER, in = off % VIRTIO_BLK_CLUSTER;
        size_t len = VIRTIO_BLK_CLUSTER - in < n ? VIRTIO_BLK_CLUSTER - in : n;
        uint64_t cstart = c * VIRTIO_BLK_CLUSTER;
        uint64_t clen = b->capacity - cstart < VIRTIO_BLK_CLUSTER ? b->capacity - cstart : VIRTIO_BLK_CLUSTER;
        bool whole = in == 0 && len == clen;
        long i = ovl_find(&b->ovl, c);
        if (whole && !buf) {
            /* an explicit zero cluster: reads as zeros whatever the base has */
            if (i < 0 && (i = ovl_insert(&b->ovl, c)) < 0)
                return false;
            free(b->ovl.data[i]);
            b->ovl.data[i] = NULL;
            b->ovl.hash[i] = 0;
        } else {
            uint8_t *p = i >= 0 ? b->ovl.data[i] : NULL;
            if (!p) {
                p = calloc(1, VIRTIO_BLK_CLUSTER);
                if (!p)
                    return false;
                /* copy-on-write: a new cluster starts as the base's */
                if (i < 0 && !whole && !disk_read(b, cstart, p, clen)) {
                    free(p);
                    return false;
                }
                if (i < 0 && (i = ovl_insert(&b->ovl, c)) < 0) {
                    free(p);
                    return false;
                }
                b->ovl.data[i] = p;
            }
            if (buf)
                memcpy(p + in, buf, len);
            else
                memset(p + in, 0, len);
            b->ovl.hash[i] = cluster_hash(p);
        }
        off += len;
        if (buf)
            buf += len;
        n -= len;
    }
    return true;
}

/* --- requests --- */

static bool range_ok(const VirtioBlk *b, uint64_t sector, uint64_t bytes)
{
    uint64_t nsec = b->capacity / SECTOR;
    return sector <= nsec && bytes / SECTOR <= nsec - sector;
}

static uint8_t do_read(VirtioBlk *b, const VirtqElem *e, uint64_t sector, uint32_t *written)
{
    uint64_t n = e->in_len - 1;
    if (e->out_len != HDR_LEN || n % SECTOR || !range_ok(b, sector, n))
        return BLK_S_IOERR;
    uint8_t buf[CHUNK];
    for (uint64_t pos = 0; pos < n; pos += CHUNK) {
        size_t len = n - pos < CHUNK ? (size_t)(n - pos) : CHUNK;
        if (!disk_read(b, sector * SECTOR + pos, buf, len))
            return BLK_S_IOERR;
        virtq_copy_to(&b->vdev, e, pos, buf, len);
        *written = (uint32_t)(pos + len);
    }
    return BLK_S_OK;
}

static uint8_t do_write(VirtioBlk *b, const VirtqElem *e, uint64_t sector)
{
    uint64_t n = e->out_len - HDR_LEN;
    if (b->readonly || e->in_len != 1 || n % SECTOR || !range_ok(b, sector, n))
        return BLK_S_IOERR;
    uint8_t buf[CHUNK];
    for (uint64_t pos = 0; pos < n; pos += CHUNK) {
        size_t len = n - pos < CHUNK ? (size_t)(n - pos) : CHUNK;
        virtq_copy_from(&b->vdev, e, HDR_LEN + pos, buf, len);
        if (!disk_write(b, sector * SECTOR + pos, buf, len))
            return BLK_S_IOERR;
    }
    return BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES: both leave zeros (a discarded range reads as
 * zeros here, which the spec allows and which keeps reads deterministic). */
static uint8_t do_zero_ranges(VirtioBlk *b, const VirtqElem *e, uint32_t type)
{
    int feature = type == BLK_T_DISCARD ? BLK_F_DISCARD : BLK_F_WRITE_ZEROES;
    if (!virtio_dev_has_feature(&b->vdev, feature))
        return BLK_S_UNSUPP;
    uint64_t n = e->out_len - HDR_LEN;
    if (b->readonly || e->in_len != 1 || n == 0 || n % RANGE_LEN || n / RANGE_LEN > MAX_RANGES)
        return BLK_S_IOERR;
    uint8_t r[RANGE_LEN * MAX_RANGES];
    virtq_copy_from(&b->vdev, e, HDR_LEN, r, (size_t)n);
    /* validate every range before zeroing any */
    for (uint64_t k = 0; k < n / RANGE_LEN; k++) {
        uint64_t sector = get_le64(r + k * RANGE_LEN);
        uint32_t nsec = get_le32(r + k * RANGE_LEN + 8), flags = get_le32(r + k * RANGE_LEN + 12);
        /* flags: bit 0 unmap, meaningful for WRITE_ZEROES only */
        if ((flags & ~1u) || (type == BLK_T_DISCARD && flags))
            return BLK_S_UNSUPP;
        if (nsec > MAX_RANGE_SECTORS || !range_ok(b, sector, (uint64_t)nsec * SECTOR))
            return BLK_S_IOERR;
    }
    for (uint64_t k = 0; k < n / RANGE_LEN; k++) {
        uint64_t sector = get_le64(r + k * RANGE_LEN);
        uint32_t nsec = get_le32(r + k * RANGE_LEN + 8);
        if (!disk_write(b, sector * SECTOR, NULL, (size_t)nsec * SECTOR))
            return BLK_S_IOERR;
    }
    return BLK_S_OK;
}

static uint8_t do_get_id(VirtioBlk *b, const VirtqElem *e, uint32_t *written)
{
    uint64_t n = e->in_len - 1 < ID_LEN ? e->in_len - 1 : ID_LEN;
    *written = (uint32_t)virtq_copy_to(&b->vdev, e, 0, b->serial, (size_t)n);
    return BLK_S_OK;
}

/* Carry out one request now and return it to the used ring. */
static void complete(VirtioBlk *b, const VirtqElem *e)
{
    uint8_t hdr[HDR_LEN];
    virtq_copy_from(&b->vdev, e, 0, hdr, sizeof hdr);
    uint32_t type = get_le32(hdr);
    uint64_t sector = get_le64(hdr + 8);
    uint32_t written = 0;
    uint8_t status;
    switch (type) {
    case BLK_T_IN:
        status = do_read(b, e, sector, &written);
        break;
    case BLK_T_OUT:
        status = do_write(b, e, sector);
        break;
    case BLK_T_FLUSH:
        /* the overlay is in memory: nothing is volatile beyond it */
        status = e->out_len == HDR_LEN ? BLK_S_OK : BLK_S_IOERR;
        break;
    case BLK_T_GET_ID:
        status = do_get_id(b, e, &written);
        break;
    case BLK_T_DISCARD:
    case BLK_T_WRITE_ZEROES:
        status = do_zero_ranges(b, e, type);
        break;
    default:
        status = BLK_S_UNSUPP;
        break;
    }
    virtq_copy_to(&b->vdev, e, e->in_len - 1, &status, 1);
    virtq_push(&b->vdev, 0, e, written + 1);
}

static uint64_t latency_ns(const VirtqElem *e)
{
    uint64_t data = e->out_len - HDR_LEN + e->in_len - 1;
    return BLK_LATENCY_NS + data / BLK_BYTES_PER_NS;
}

/* Take every waiting request (while there is room), with its deadline. */
static void pop_requests(VirtioBlk *b)
{
    VirtioDev *d = &b->vdev;
    uint64_t now = machine_vtime_ns(d->m);
    while (b->ninflight < BLK_MAX_INFLIGHT) {
        BlkInflight *f = &b->inflight[b->ninflight];
        if (virtq_pop(d, 0, &f->e) != 1)
            break;
        if (f->e.out_len < HDR_LEN || f->e.in_len < 1) {
            virtio_dev_fail(d, "virtio-blk: a request without a header or a status byte");
            return;
        }
        uint64_t start = b->last_done_ns > now ? b->last_done_ns : now;
        f->done_ns = start + latency_ns(&f->e);
        b->last_done_ns = f->done_ns;
        b->ninflight++;
    }
    if (b->ninflight)
        machine_timer_arm(d->m, &d->timer, b->inflight[0].done_ns);
}

static void blk_notify(VirtioDev *d, int q)
{
    (void)q;
    pop_requests(blk_of(d));
}

static void blk_timer(VirtioDev *d)
{
    VirtioBlk *b = blk_of(d);
    if (!virtio_dev_running(d))
        return;
    uint64_t now = machine_vtime_ns(d->m);
    int done = 0;
    while (done < b->ninflight && b->inflight[done].done_ns <= now)
        complete(b, &b->inflight[done++].e);
    memmove(b->inflight, b->inflight + done, (size_t)(b->ninflight - done) * sizeof *b->inflight);
    b->ninflight -= done;
    if (done)
        virtq_notify(d, 0);
    pop_requests(b); /* requests left waiting while the table was full */
}

static void blk_reset(VirtioDev *d)
{
    /* requests in flight are dropped; the disk's contents stay */
    VirtioBlk *b = blk_of(d);
    b->ninflight = 0;
    b->last_done_ns = 0;
}

/* --- state --- */

static void blk_write_state(const VirtioDev *d, SerWriter *w, bool digest)
{
    const VirtioBlk *b = cblk_of(d);
    ser_put_tag(w, "VBLK", 1);
    ser_put_u64(w, b->capacity);
    ser_put_u8(w, b->readonly);
    ser_put_u64(w, b->last_done_ns);
    ser_put_u32(w, (uint32_t)b->ninflight);
    for (int k = 0; k < b->ninflight; k++) {
        const BlkInflight *f = &b->inflight[k];
        ser_put_u64(w, f->done_ns);
        ser_put_u16(w, f->e.head);
        ser_put_u32(w, (uint32_t)f->e.nout);
        ser_put_u32(w, (uint32_t)f->e.nin);
        for (int i = 0; i < f->e.nout + f->e.nin; i++) {
            ser_put_u64(w, f->e.seg[i].addr);
            ser_put_u32(w, f->e.seg[i].len);
        }
    }
    ovl_write(&b->ovl, w, digest);
}

static void blk_save(const VirtioDev *d, SerWriter *w) { blk_write_state(d, w, false); }
static void blk_save_digest(const VirtioDev *d, SerWriter *w) { blk_write_state(d, w, true); }

static bool blk_load(VirtioDev *d, SerReader *r)
{
    VirtioBlk *b = blk_of(d);
    if (ser_get_tag(r, "VBLK") != 1)
        return false;
    if (ser_get_u64(r) != b->capacity || (ser_get_u8(r) != 0) != b->readonly) {
        ser_fail(r, "virtio-blk state is for a disk of another size or mode");
        return false;
    }
    uint64_t last_done = ser_get_u64(r);
    uint32_t n = ser_get_u32(r);
    if (n > BLK_MAX_INFLIGHT) {
        ser_fail(r, "virtio-blk state: too many requests in flight");
        return false;
    }
    BlkInflight *fl = calloc(BLK_MAX_INFLIGHT, sizeof *fl);
    if (!fl) {
        ser_fail(r, "virtio-blk state: out of memory");
        return false;
    }
    for (uint32_t k = 0; k < n && ser_ok(r); k++) {
        BlkInflight *f = &fl[k];
        f->done_ns = ser_get_u64(r);
        f->e.head = ser_get_u16(r);
        uint32_t nout = ser_get_u32(r), nin = ser_get_u32(r);
        if (nout > VIRTQ_MAX_SEGS || nin > VIRTQ_MAX_SEGS || nout + nin > VIRTQ_MAX_SEGS ||
            (k && f->done_ns < fl[k - 1].done_ns) || f->done_ns > last_done) {
            ser_fail(r, "virtio-blk state: a request in flight is invalid");
            break;
        }
        f->e.nout = (int)nout;
        f->e.nin = (int)nin;
        for (uint32_t i = 0; i < nout + nin; i++) {
            f->e.seg[i].addr = ser_get_u64(r);
            f->e.seg[i].len = ser_get_u32(r);
            if (i < nout)
                f->e.out_len += f->e.seg[i].len;
            else
                f->e.in_len += f->e.seg[i].len;
        }
        if (f->e.out_len < HDR_LEN || f->e.in_len < 1)
            ser_fail(r, "virtio-blk state: a request in flight is invalid");
    }
    BlkOverlay o = {0};
    if (ser_ok(r))
        ovl_load(&o, r, b->capacity);
    if (!ser_ok(r)) {
        ovl_free(&o);
        free(fl);
        return false;
    }
    ovl_free(&b->ovl);
    b->ovl = o;
    free(b->inflight);
    b->inflight = fl;
    b->ninflight = (int)n;
    b->last_done_ns = last_done;
    return true;
}

static void blk_free(VirtioDev *d)
{
    VirtioBlk *b = blk_of(d);
    ovl_free(&b->ovl);
    free(b->inflight);
    free(b);
}

#define BLK_FEATURES                                                                                          \
    ((1ull << BLK_F_SEG_MAX) | (1ull << BLK_F_BLK_SIZE) | (1ull << BLK_F_FLUSH) | (1ull << BLK_F_DISCARD) |    \
     (1ull << BLK_F_WRITE_ZEROES))

static const VirtioDevClass virtio_blk_class = {
    .name = "virtio-blk-device",
    .device_id = 2,
    .features = BLK_FEATURES,
    .queue_notify = blk_notify,
    .reset = blk_reset,
    .timer = blk_timer,
    .save = blk_save,
    .save_digest = blk_save_digest,
    .load = blk_load,
    .free = blk_free,
};

/* readonly=on: the same device offering VIRTIO_BLK_F_RO */
static const VirtioDevClass virtio_blk_ro_class = {
    .name = "virtio-blk-device",
    .device_id = 2,
    .features = BLK_FEATURES | (1ull << BLK_F_RO),
    .queue_notify = blk_notify,
    .reset = blk_reset,
    .timer = blk_timer,
    .save = blk_save,
    .save_digest = blk_save_digest,
    .load = blk_load,
    .free = blk_free,
};

bool virtio_blk_is(const VirtioDev *d) { return d->cls == &virtio_blk_class || d->cls == &virtio_blk_ro_class; }

void virtio_blk_overlay_save(const VirtioDev *d, SerWriter *w)
{
    assert(virtio_blk_is(d));
    ovl_write(&cblk_of(d)->ovl, w, false);
}

bool virtio_blk_overlay_load(VirtioDev *d, SerReader *r)
{
    assert(virtio_blk_is(d));
    VirtioBlk *b = blk_of(d);
    BlkOverlay o = {0};
    ovl_load(&o, r, b->capacity);
    if (!ser_ok(r)) {
        ovl_free(&o);
        return false;
    }
    ovl_free(&b->ovl);
    b->ovl = o;
    return true;
}

uint64_t virtio_blk_overlay_clusters(const VirtioDev *d) { return cblk_of(d)->ovl.count; }

static void config_fill(VirtioBlk *b)
{
    uint8_t *c = b->vdev.config;
    put_le64(c + CFG_CAPACITY, b->capacity / SECTOR);
    put_le32(c + CFG_SEG_MAX, SEG_MAX);
    put_le32(c + CFG_BLK_SIZE, SECTOR);
    put_le32(c + CFG_MAX_DISCARD_SECTORS, MAX_RANGE_SECTORS);
    put_le32(c + CFG_MAX_DISCARD_SEG, MAX_RANGES);
    put_le32(c + CFG_DISCARD_ALIGN, 1);
    put_le32(c + CFG_MAX_WZ_SECTORS, MAX_RANGE_SECTORS);
    put_le32(c + CFG_MAX_WZ_SEG, MAX_RANGES);
    c[CFG_WZ_MAY_UNMAP] = 1;
}

VirtioDev *virtio_blk_create(Machine *m, int index, const MachineDeviceConfig *c, char *err, size_t errlen)
{
    (void)m;
    if (c->size == 0 || c->size % SECTOR) {
        snprintf(err, errlen, "virtio-blk-device %s: a disk of %llu bytes (not a positive multiple of 512)", c->id,
                 (unsigned long long)c->size);
        return NULL;
    }
    VirtioBlk *b = calloc(1, sizeof *b);
    BlkInflight *fl = calloc(BLK_MAX_INFLIGHT, sizeof *fl);
    if (!b || !fl) {
        free(b);
        free(fl);
        snprintf(err, errlen, "virtio-blk-device: out of memory");
        return NULL;
    }
    b->inflight = fl;
    b->index = index;
    b->capacity = c->size;
    b->readonly = c->readonly;
    /* the serial is the drive id, zero padded (strncpy semantics, as QEMU) */
    memcpy(b->serial, c->id, strnlen(c->id, sizeof b->serial));
    virtio_dev_init(&b->vdev, c->readonly ? &virtio_blk_ro_class : &virtio_blk_class, 1, CFG_LEN);
    config_fill(b);
    /* completions are the device's own work: idle time up to one passes
     * without a host wait or a log entry */
    b->vdev.timer.idle_skip = true;
    return &b->vdev;
}
