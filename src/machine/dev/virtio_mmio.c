/*
 * virtio_mmio.c - virtio-mmio transport and split virtqueues; see
 * virtio_mmio.h for the invariants (every guest-provided address and
 * index is checked; a violation breaks the device, never the host).
 *
 * Ring layout (virtio 1.x, split): descriptor table of num x 16 bytes
 * {u64 addr, u32 len, u16 flags, u16 next}; avail ring {u16 flags, u16
 * idx, u16 ring[num], u16 used_event}; used ring {u16 flags, u16 idx,
 * {u32 id, u32 len} ring[num], u16 avail_event}. All little-endian.
 */
#include "virtio_mmio.h"

#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/le.h"

enum {
    REG_MAGIC = 0x000,
    REG_VERSION = 0x004,
    REG_DEVICE_ID = 0x008,
    REG_VENDOR_ID = 0x00c,
    REG_DEVICE_FEATURES = 0x010,
    REG_DEVICE_FEATURES_SEL = 0x014,
    REG_DRIVER_FEATURES = 0x020,
    REG_DRIVER_FEATURES_SEL = 0x024,
    REG_QUEUE_SEL = 0x030,
    REG_QUEUE_NUM_MAX = 0x034,
    REG_QUEUE_NUM = 0x038,
    REG_QUEUE_READY = 0x044,
    REG_QUEUE_NOTIFY = 0x050,
    REG_INTERRUPT_STATUS = 0x060,
    REG_INTERRUPT_ACK = 0x064,
    REG_STATUS = 0x070,
    REG_QUEUE_DESC_LOW = 0x080,
    REG_QUEUE_DESC_HIGH = 0x084,
    REG_QUEUE_DRIVER_LOW = 0x090,
    REG_QUEUE_DRIVER_HIGH = 0x094,
    REG_QUEUE_DEVICE_LOW = 0x0a0,
    REG_QUEUE_DEVICE_HIGH = 0x0a4,
    REG_SHM_SEL = 0x0ac,
    REG_SHM_LEN_LOW = 0x0b0,
    REG_SHM_LEN_HIGH = 0x0b4,
    REG_CONFIG_GENERATION = 0x0fc,
    REG_CONFIG = 0x100,
};

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define TRANSPORT_FEATURES                                                                         \
    ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC) |                         \
     (1ull << VIRTIO_F_RING_EVENT_IDX))

VirtioMmio *virtio_mmio_new(Machine *m)
{
    (void)m;
    VirtioMmio *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    for (int i = 0; i < VIRTIO_MMIO_SLOTS; i++) {
        v->slot[i].v = v;
        v->slot[i].index = i;
    }
    return v;
}

void virtio_mmio_free(VirtioMmio *v)
{
    if (!v)
        return;
    for (int i = 0; i < VIRTIO_MMIO_SLOTS; i++)
        if (v->dev[i] && v->dev[i]->cls->free)
            v->dev[i]->cls->free(v->dev[i]);
    free(v);
}

uint64_t virtio_mmio_slot_base(int slot) { return VIRTIO_MMIO_BASE + VIRTIO_MMIO_STRIDE * (uint64_t)slot; }

static void dev_timer_fire(void *opaque)
{
    VirtioDev *d = opaque;
    if (d->cls->timer)
        d->cls->timer(d);
}

bool virtio_mmio_plug(VirtioMmio *v, Machine *m, int slot, VirtioDev *d)
{
    if (slot < 0 || slot >= VIRTIO_MMIO_SLOTS || v->dev[slot])
        return false;
    d->m = m;
    d->slot = slot;
    d->irq = VIRTIO_MMIO_FIRST_IRQ + slot;
    d->timer.fire = dev_timer_fire;
    d->timer.opaque = d;
    if (machine_timer_register(m, &d->timer) < 0)
        return false;
    memcpy(d->config_at_creation, d->config, sizeof d->config);
    v->dev[slot] = d;
    return true;
}

void virtio_dev_init(VirtioDev *d, const VirtioDevClass *cls, int nqueues, uint32_t config_len)
{
    assert(nqueues > 0 && nqueues <= VIRTIO_MAX_QUEUES && config_len <= VIRTIO_CONFIG_MAX);
    d->cls = cls;
    d->nqueues = nqueues;
    d->config_len = config_len;
    d->timer.deadline_ns = MACHINE_TIMER_OFF;
}

/* --- interrupts and errors --- */

static void update_irq(VirtioDev *d) { machine_set_irq(d->m, d->irq, d->interrupt_status != 0); }

static void raise_int(VirtioDev *d, uint32_t bits)
{
    d->interrupt_status |= bits;
    update_irq(d);
}

void virtio_config_changed(VirtioDev *d)
{
    d->config_generation++;
    if (d->status & VIRTIO_STATUS_DRIVER_OK)
        raise_int(d, VIRTIO_INT_CONFIG);
}

void virtio_dev_fail(VirtioDev *d, const char *fmt, ...)
{
    if (d->broken[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->broken, sizeof d->broken, fmt, ap);
    va_end(ap);
    if (!d->broken[0])
        strcpy(d->broken, "error");
    d->status |= VIRTIO_STATUS_NEEDS_RESET;
    machine_timer_cancel(&d->timer);
    if (d->status & VIRTIO_STATUS_DRIVER_OK)
        raise_int(d, VIRTIO_INT_CONFIG);
}

/* --- guest memory --- */

static bool ram_ok(const VirtioDev *d, uint64_t addr, uint64_t len)
{
    return machine_is_ram(d->m, addr, len);
}

static bool rd16(VirtioDev *d, uint64_t addr, uint16_t *v)
{
    uint8_t b[2];
    if (!machine_phys_read(d->m, addr, b, 2))
        return false;
    *v = get_le16(b);
    return true;
}

static void wr16(VirtioDev *d, uint64_t addr, uint16_t v)
{
    uint8_t b[2];
    put_le16(b, v);
    machine_phys_write(d->m, addr, b, 2);
}

/* --- virtqueues --- */

static VirtQueue *queue(VirtioDev *d, int q)
{
    assert(q >= 0 && q < d->nqueues);
    return &d->vq[q];
}

static uint64_t avail_bytes(const VirtQueue *vq) { return 6 + 2ull * vq->num; }
static uint64_t used_bytes(const VirtQueue *vq) { return 6 + 8ull * vq->num; }

/* Both ranges lie in RAM, so the sums cannot wrap. */
static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

/* Whether [addr, addr+len) touches the avail ring of a ready queue of d
 * (or of `also`, a queue about to become ready). The device never writes
 * there, so an avail index changes only by the driver's stores and one
 * call into a device model pops at most queue-size chains: a buffer over
 * the avail index would let a device whose answers the guest can predict
 * (blk reading back sectors the guest wrote) announce one more chain with
 * each answer and pop forever inside one QueueNotify. */
static bool hits_avail_ring(const VirtioDev *d, uint64_t addr, uint64_t len, const VirtQueue *also)
{
    for (int q = 0; q < d->nqueues; q++) {
        const VirtQueue *p = &d->vq[q];
        if ((p->ready || p == also) && overlaps(addr, len, p->avail, avail_bytes(p)))
            return true;
    }
    return false;
}

/* The rings of a ready queue lie in RAM (checked when it became ready). */
static bool queue_usable(VirtioDev *d, VirtQueue *vq) { return vq->ready && virtio_dev_running(d); }

bool virtq_has_avail(VirtioDev *d, int q)
{
    VirtQueue *vq = queue(d, q);
    uint16_t idx;
    if (!queue_usable(d, vq) || !rd16(d, vq->avail + 2, &idx))
        return false;
    return idx != vq->last_avail;
}

typedef struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
} Desc;

static bool read_desc(VirtioDev *d, uint64_t table, uint32_t i, Desc *out)
{
    uint8_t b[16];
    if (!machine_phys_read(d->m, table + 16ull * i, b, 16))
        return false;
    out->addr = get_le64(b);
    out->len = get_le32(b + 8);
    out->flags = get_le16(b + 12);
    out->next = get_le16(b + 14);
    return true;
}

/* Append one data descriptor to the element; false with the device broken. */
static bool add_seg(VirtioDev *d, VirtqElem *e, const Desc *desc)
{
    bool writable = desc->flags & VIRTQ_DESC_F_WRITE;
    if (!writable && e->nin) {
        virtio_dev_fail(d, "readable descriptor after a writable one");
        return false;
    }
    if (e->nout + e->nin >= VIRTQ_MAX_SEGS) {
        virtio_dev_fail(d, "chain longer than %d descriptors", VIRTQ_MAX_SEGS);
        return false;
    }
    if (desc->len && !ram_ok(d, desc->addr, desc->len)) {
        virtio_dev_fail(d, "descriptor buffer 0x%llx+%u outside RAM", (unsigned long long)desc->addr,
                        desc->len);
        return false;
    }
    if (writable && desc->len && hits_avail_ring(d, desc->addr, desc->len, NULL)) {
        virtio_dev_fail(d, "writable buffer 0x%llx+%u over an avail ring", (unsigned long long)desc->addr,
                        desc->len);
        return false;
    }
    e->seg[e->nout + e->nin] = (VirtqSeg){desc->addr, desc->len};
    if (writable) {
        e->nin++;
        e->in_len += desc->len;
    } else {
        e->nout++;
        e->out_len += desc->len;
    }
    return true;
}

/* Walk an indirect table of n descriptors. */
static bool walk_indirect(VirtioDev *d, VirtqElem *e, const Desc *ind)
{
    if (ind->len == 0 || ind->len % 16 || !ram_ok(d, ind->addr, ind->len)) {
        virtio_dev_fail(d, "indirect table 0x%llx+%u is misaligned or outside RAM",
                        (unsigned long long)ind->addr, ind->len);
        return false;
    }
    uint32_t n = ind->len / 16, i = 0;
    for (uint32_t visited = 0;; visited++) {
        Desc desc;
        if (visited >= n || !read_desc(d, ind->addr, i, &desc)) {
            virtio_dev_fail(d, "indirect chain loops");
            return false;
        }
        if (desc.flags & VIRTQ_DESC_F_INDIRECT) {
            virtio_dev_fail(d, "nested indirect descriptor");
            return false;
        }
        if (!add_seg(d, e, &desc))
            return false;
        if (!(desc.flags & VIRTQ_DESC_F_NEXT))
            return true;
        if (desc.next >= n) {
            virtio_dev_fail(d, "indirect next index %u beyond the table of %u", desc.next, n);
            return false;
        }
        i = desc.next;
    }
}

int virtq_pop(VirtioDev *d, int q, VirtqElem *e)
{
    VirtQueue *vq = queue(d, q);
    uint16_t avail_idx;
    if (!queue_usable(d, vq) || !rd16(d, vq->avail + 2, &avail_idx))
        return 0;
    uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
    if (pending == 0)
        return 0;
    if (pending > vq->num) {
        virtio_dev_fail(d, "queue %d: avail index moved by %u, queue holds %u", q, pending, vq->num);
        return -1;
    }
    uint16_t head;
    if (!rd16(d, vq->avail + 4 + 2ull * (vq->last_avail % vq->num), &head))
        return -1;
    if (head >= vq->num) {
        virtio_dev_fail(d, "queue %d: head %u beyond the queue size %u", q, head, vq->num);
        return -1;
    }
    memset(e, 0, offsetof(VirtqElem, seg));
    e->out_len = e->in_len = 0;
    e->head = head;
    uint32_t i = head;
    for (uint32_t visited = 0;; visited++) {
        Desc desc;
        if (visited >= vq->num || !read_desc(d, vq->desc, i, &desc)) {
            virtio_dev_fail(d, "queue %d: descriptor chain loops", q);
            return -1;
        }
        if (desc.flags & VIRTQ_DESC_F_INDIRECT) {
            if (!virtio_dev_has_feature(d, VIRTIO_F_RING_INDIRECT_DESC) ||
                (desc.flags & VIRTQ_DESC_F_NEXT) || e->nout + e->nin) {
                virtio_dev_fail(d, "queue %d: indirect descriptor not allowed here", q);
                return -1;
            }
            if (!walk_indirect(d, e, &desc))
                return -1;
            break;
        }
        if (!add_seg(d, e, &desc))
            return -1;
        if (!(desc.flags & VIRTQ_DESC_F_NEXT))
            break;
        if (desc.next >= vq->num) {
            virtio_dev_fail(d, "queue %d: next index %u beyond the queue size %u", q, desc.next, vq->num);
            return -1;
        }
        i = desc.next;
    }
    vq->last_avail++;
    if (virtio_dev_has_feature(d, VIRTIO_F_RING_EVENT_IDX)) /* avail_event: kick us for the next one */
        wr16(d, vq->used + 4 + 8ull * vq->num, vq->last_avail);
    return 1;
}

void virtq_unpop(VirtioDev *d, int q, uint16_t n)
{
    VirtQueue *vq = queue(d, q);
    vq->last_avail -= n;
    if (queue_usable(d, vq) && virtio_dev_has_feature(d, VIRTIO_F_RING_EVENT_IDX))
        wr16(d, vq->used + 4 + 8ull * vq->num, vq->last_avail);
}

void virtq_push(VirtioDev *d, int q, const VirtqElem *e, uint32_t written)
{
    VirtQueue *vq = queue(d, q);
    if (!queue_usable(d, vq))
        return;
    uint8_t b[8];
    put_le32(b, e->head);
    put_le32(b + 4, written);
    machine_phys_write(d->m, vq->used + 4 + 8ull * (vq->used_idx % vq->num), b, 8);
    vq->used_idx++;
    wr16(d, vq->used + 2, vq->used_idx);
}

void virtq_notify(VirtioDev *d, int q)
{
    VirtQueue *vq = queue(d, q);
    if (!queue_usable(d, vq))
        return;
    bool want;
    if (virtio_dev_has_feature(d, VIRTIO_F_RING_EVENT_IDX)) {
        uint16_t used_event = 0, old = vq->signalled_used, now = vq->used_idx;
        rd16(d, vq->avail + 4 + 2ull * vq->num, &used_event);
        /* vring_need_event: did used_idx pass used_event since the last one */
        want = !vq->signalled_valid || (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
        vq->signalled_used = now;
        vq->signalled_valid = true;
    } else {
        uint16_t flags = 0;
        rd16(d, vq->avail, &flags);
        want = !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
    if (want)
        raise_int(d, VIRTIO_INT_USED);
}

static size_t copy_segs(VirtioDev *d, const VirtqElem *e, bool to_guest, uint64_t off, void *buf,
                        size_t n)
{
    int first = to_guest ? e->nout : 0, count = to_guest ? e->nin : e->nout;
    size_t done = 0;
    for (int i = first; i < first + count && done < n; i++) {
        const VirtqSeg *s = &e->seg[i];
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        size_t chunk = s->len - off;
        if (chunk > n - done)
            chunk = n - done;
        bool ok = to_guest ? machine_phys_write(d->m, s->addr + off, (uint8_t *)buf + done, chunk)
                           : machine_phys_read(d->m, s->addr + off, (uint8_t *)buf + done, chunk);
        if (!ok) /* checked at pop; RAM does not move */
            break;
        done += chunk;
        off = 0;
    }
    return done;
}

size_t virtq_copy_from(VirtioDev *d, const VirtqElem *e, uint64_t off, void *buf, size_t n)
{
    return copy_segs(d, e, false, off, buf, n);
}

size_t virtq_copy_to(VirtioDev *d, const VirtqElem *e, uint64_t off, const void *buf, size_t n)
{
    return copy_segs(d, e, true, off, (void *)buf, n);
}

/* --- registers --- */

static void dev_reset(VirtioDev *d)
{
    d->status = 0;
    d->device_features_sel = d->driver_features_sel = d->queue_sel = 0;
    d->driver_features = 0;
    d->interrupt_status = 0;
    d->broken[0] = 0;
    memset(d->vq, 0, sizeof d->vq);
    machine_timer_cancel(&d->timer);
    memcpy(d->config, d->config_at_creation, sizeof d->config);
    if (d->cls->reset)
        d->cls->reset(d);
    update_irq(d);
}

static uint64_t offered_features(const VirtioDev *d) { return d->cls->features | TRANSPORT_FEATURES; }

/* FEATURES_OK: only offered features, and only the modern interface. */
static bool features_acceptable(const VirtioDev *d, uint64_t f)
{
    return !(f & ~offered_features(d)) && (f & (1ull << VIRTIO_F_VERSION_1));
}

/* Queue rings must lie in RAM, aligned as the spec requires. */
static bool queue_rings_ok(const VirtioDev *d, const VirtQueue *vq)
{
    uint64_t n = vq->num;
    if (!(n && (n & (n - 1)) == 0 && !(vq->desc & 15) && !(vq->avail & 1) && !(vq->used & 3) &&
          ram_ok(d, vq->desc, 16 * n) && ram_ok(d, vq->avail, avail_bytes(vq)) &&
          ram_ok(d, vq->used, used_bytes(vq))))
        return false;
    /* the device writes the used ring: it must not reach an avail ring
     * (see hits_avail_ring), this queue's or another ready one's */
    if (hits_avail_ring(d, vq->used, used_bytes(vq), vq))
        return false;
    for (int q = 0; q < d->nqueues; q++) {
        const VirtQueue *p = &d->vq[q];
        if (p != vq && p->ready && overlaps(p->used, used_bytes(p), vq->avail, avail_bytes(vq)))
            return false;
    }
    return true;
}

static void write_status(VirtioDev *d, uint32_t val)
{
    if (val == 0) {
        dev_reset(d);
        return;
    }
    if ((val & VIRTIO_STATUS_FEATURES_OK) && !(d->status & VIRTIO_STATUS_FEATURES_OK) &&
        !features_acceptable(d, d->driver_features))
        val &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
    d->status = (val & ~(uint32_t)VIRTIO_STATUS_NEEDS_RESET) | (d->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void set_addr_half(uint64_t *a, bool high, uint32_t val)
{
    *a = high ? (*a & 0xffffffffull) | ((uint64_t)val << 32) : (*a & ~0xffffffffull) | val;
}

static uint32_t read_reg(VirtioDev *d, uint64_t off)
{
    VirtQueue *vq = d->queue_sel < (uint32_t)d->nqueues ? &d->vq[d->queue_sel] : NULL;
    switch (off) {
    case REG_MAGIC:
        return VIRTIO_MMIO_MAGIC;
    case REG_VERSION:
        return 2;
    case REG_DEVICE_ID:
        return d->cls->device_id;
    case REG_VENDOR_ID:
        return VIRTIO_MMIO_VENDOR;
    case REG_DEVICE_FEATURES:
        return d->device_features_sel < 2 ? (uint32_t)(offered_features(d) >> (32 * d->device_features_sel)) : 0;
    case REG_QUEUE_NUM_MAX:
        return vq ? VIRTIO_QUEUE_MAX_SIZE : 0;
    case REG_QUEUE_NUM:
        return vq ? vq->num : 0;
    case REG_QUEUE_READY:
        return vq ? vq->ready : 0;
    case REG_INTERRUPT_STATUS:
        return d->interrupt_status;
    case REG_STATUS:
        return d->status;
    case REG_QUEUE_DESC_LOW:
        return vq ? (uint32_t)vq->desc : 0;
    case REG_QUEUE_DESC_HIGH:
        return vq ? (uint32_t)(vq->desc >> 32) : 0;
    case REG_QUEUE_DRIVER_LOW:
        return vq ? (uint32_t)vq->avail : 0;
    case REG_QUEUE_DRIVER_HIGH:
        return vq ? (uint32_t)(vq->avail >> 32) : 0;
    case REG_QUEUE_DEVICE_LOW:
        return vq ? (uint32_t)vq->used : 0;
    case REG_QUEUE_DEVICE_HIGH:
        return vq ? (uint32_t)(vq->used >> 32) : 0;
    case REG_SHM_LEN_LOW:
    case REG_SHM_LEN_HIGH:
        return 0xffffffffu; /* no shared memory regions */
    case REG_CONFIG_GENERATION:
        return d->config_generation;
    default:
        return 0;
    }
}

static void write_reg(VirtioDev *d, uint64_t off, uint32_t val)
{
    VirtQueue *vq = d->queue_sel < (uint32_t)d->nqueues ? &d->vq[d->queue_sel] : NULL;
    /* queue layout is fixed while a queue is ready (spec 4.2.2.2) */
    bool layout_ok = vq && !vq->ready;
    switch (off) {
    case REG_DEVICE_FEATURES_SEL:
        d->device_features_sel = val;
        break;
    case REG_DRIVER_FEATURES:
        if (d->driver_features_sel < 2 && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
            int shift = 32 * (int)d->driver_features_sel;
            d->driver_features = (d->driver_features & ~(0xffffffffull << shift)) | ((uint64_t)val << shift);
        }
        break;
    case REG_DRIVER_FEATURES_SEL:
        d->driver_features_sel = val;
        break;
    case REG_QUEUE_SEL:
        d->queue_sel = val;
        break;
    case REG_QUEUE_NUM:
        if (layout_ok)
            vq->num = val <= VIRTIO_QUEUE_MAX_SIZE ? val : 0;
        break;
    case REG_QUEUE_READY:
        if (!vq)
            break;
        if (!(val & 1)) {
            vq->ready = false;
        } else if (!vq->ready) {
            if (!queue_rings_ok(d, vq)) {
                virtio_dev_fail(d, "queue %u: ring size or addresses invalid", d->queue_sel);
                break;
            }
            vq->ready = true;
            vq->last_avail = vq->used_idx = 0;
            vq->signalled_valid = false;
        }
        break;
    case REG_QUEUE_NOTIFY:
        if (val < (uint32_t)d->nqueues && d->vq[val].ready && virtio_dev_running(d) && d->cls->queue_notify)
            d->cls->queue_notify(d, (int)val);
        break;
    case REG_INTERRUPT_ACK:
        d->interrupt_status &= ~val;
        update_irq(d);
        break;
    case REG_STATUS:
        write_status(d, val);
        break;
    case REG_QUEUE_DESC_LOW:
    case REG_QUEUE_DESC_HIGH:
        if (layout_ok)
            set_addr_half(&vq->desc, off == REG_QUEUE_DESC_HIGH, val);
        break;
    case REG_QUEUE_DRIVER_LOW:
    case REG_QUEUE_DRIVER_HIGH:
        if (layout_ok)
            set_addr_half(&vq->avail, off == REG_QUEUE_DRIVER_HIGH, val);
        break;
    case REG_QUEUE_DEVICE_LOW:
    case REG_QUEUE_DEVICE_HIGH:
        if (layout_ok)
            set_addr_half(&vq->used, off == REG_QUEUE_DEVICE_HIGH, val);
        break;
    default: /* read-only or reserved: ignored */
        break;
    }
}

bool virtio_mmio_read(void *opaque, uint64_t off, int size, uint64_t *val)
{
    const VirtioMmioSlot *s = opaque;
    VirtioDev *d = s->v->dev[s->index];
    *val = 0;
    if (off >= REG_CONFIG) {
        uint64_t c = off - REG_CONFIG;
        if (d && c + (uint64_t)size <= d->config_len)
            for (int i = 0; i < size; i++)
                *val |= (uint64_t)d->config[c + (uint64_t)i] << (8 * i);
        return true;
    }
    if (size != 4) /* registers are 32-bit; other widths read 0 */
        return true;
    if (!d) {
        if (off == REG_MAGIC)
            *val = VIRTIO_MMIO_MAGIC;
        else if (off == REG_VERSION)
            *val = 2;
        else if (off == REG_VENDOR_ID)
            *val = VIRTIO_MMIO_VENDOR;
        return true;
    }
    *val = read_reg(d, off);
    return true;
}

bool virtio_mmio_write(void *opaque, uint64_t off, int size, uint64_t val)
{
    const VirtioMmioSlot *s = opaque;
    VirtioDev *d = s->v->dev[s->index];
    if (!d)
        return true;
    if (off >= REG_CONFIG) {
        uint64_t c = off - REG_CONFIG;
        if (c + (uint64_t)size > d->config_len)
            return true;
        for (int i = 0; i < size; i++)
            d->config[c + (uint64_t)i] = (uint8_t)(val >> (8 * i));
        if (d->cls->config_write)
            d->cls->config_write(d, (uint32_t)c, (uint32_t)size);
        return true;
    }
    if (size == 4)
        write_reg(d, off, (uint32_t)val);
    return true;
}

/* A machine reset: every device as a fresh machine has it. Unlike the
 * driver's reset (status 0), which keeps ConfigGeneration counting so a
 * driver never sees an old generation come back, this one must also zero
 * it: machine_reset promises the state of a freshly built machine. */
void virtio_mmio_reset(VirtioMmio *v)
{
    for (int i = 0; i < VIRTIO_MMIO_SLOTS; i++)
        if (v->dev[i]) {
            dev_reset(v->dev[i]);
            v->dev[i]->config_generation = 0;
            if (v->dev[i]->cls->machine_reset)
                v->dev[i]->cls->machine_reset(v->dev[i]);
        }
}

/* --- state --- */

static void save_dev(const VirtioDev *d, SerWriter *w, bool digest)
{
    ser_put_u32(w, d->status);
    ser_put_u32(w, d->device_features_sel);
    ser_put_u32(w, d->driver_features_sel);
    ser_put_u32(w, d->queue_sel);
    ser_put_u64(w, d->driver_features);
    ser_put_u32(w, d->interrupt_status);
    ser_put_u32(w, d->config_generation);
    ser_put_u64(w, d->timer.deadline_ns);
    uint32_t blen = (uint32_t)strlen(d->broken);
    ser_put_u32(w, blen);
    ser_put_bytes(w, d->broken, blen);
    ser_put_bytes(w, d->config, d->config_len);
    for (int q = 0; q < d->nqueues; q++) {
        const VirtQueue *vq = &d->vq[q];
        ser_put_u32(w, vq->num);
        ser_put_u8(w, vq->ready);
        ser_put_u64(w, vq->desc);
        ser_put_u64(w, vq->avail);
        ser_put_u64(w, vq->used);
        ser_put_u16(w, vq->last_avail);
        ser_put_u16(w, vq->used_idx);
        ser_put_u16(w, vq->signalled_used);
        ser_put_u8(w, vq->signalled_valid);
    }
    if (digest && d->cls->save_digest)
        d->cls->save_digest(d, w);
    else if (d->cls->save)
        d->cls->save(d, w);
}

static void load_dev(VirtioDev *d, SerReader *r)
{
    d->status = ser_get_u32(r);
    d->device_features_sel = ser_get_u32(r);
    d->driver_features_sel = ser_get_u32(r);
    d->queue_sel = ser_get_u32(r);
    d->driver_features = ser_get_u64(r);
    d->interrupt_status = ser_get_u32(r);
    d->config_generation = ser_get_u32(r);
    d->timer.deadline_ns = ser_get_u64(r);
    uint32_t blen = ser_get_u32(r);
    if (blen >= sizeof d->broken) {
        ser_fail(r, "virtio device state: error text too long");
        return;
    }
    ser_get_bytes(r, d->broken, blen);
    d->broken[blen] = 0;
    /* virtio_dev_fail sets the reason and NEEDS_RESET together, reset
     * clears both: a state where they disagree was never saved by us */
    if (ser_ok(r) && (strlen(d->broken) != blen || !(d->status & VIRTIO_STATUS_NEEDS_RESET) != !blen))
        ser_fail(r, "virtio device state: error reason and NEEDS_RESET disagree");
    /* only raise_int sets interrupt bits; FEATURES_OK is only ever set on
     * features write_status accepted */
    if (ser_ok(r) && (d->interrupt_status & ~(uint32_t)(VIRTIO_INT_USED | VIRTIO_INT_CONFIG)))
        ser_fail(r, "virtio device state: unknown interrupt status bits");
    if (ser_ok(r) && (d->status & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(d, d->driver_features))
        ser_fail(r, "virtio device state: FEATURES_OK on features never offered");
    ser_get_bytes(r, d->config, d->config_len);
    for (int q = 0; q < d->nqueues && ser_ok(r); q++) {
        VirtQueue *vq = &d->vq[q];
        vq->num = ser_get_u32(r);
        uint8_t ready = ser_get_u8(r);
        vq->desc = ser_get_u64(r);
        vq->avail = ser_get_u64(r);
        vq->used = ser_get_u64(r);
        vq->last_avail = ser_get_u16(r);
        vq->used_idx = ser_get_u16(r);
        vq->signalled_used = ser_get_u16(r);
        uint8_t sv = ser_get_u8(r);
        if (ready > 1 || sv > 1 || vq->num > VIRTIO_QUEUE_MAX_SIZE)
            ser_fail(r, "virtio queue state is invalid");
        vq->ready = ready;
        vq->signalled_valid = sv;
    }
    /* a ready queue's rings were checked when it became ready; loaded ones
     * must pass the same check, against each other once all are in */
    for (int q = 0; q < d->nqueues && ser_ok(r); q++)
        if (d->vq[q].ready && !queue_rings_ok(d, &d->vq[q]))
            ser_fail(r, "virtio queue state has rings outside RAM or overlapping");
    if (ser_ok(r) && d->cls->load && !d->cls->load(d, r) && ser_ok(r))
        ser_fail(r, "virtio device state is invalid");
    if (ser_ok(r))
        update_irq(d);
}

void virtio_mmio_save_one_digest(const VirtioDev *d, SerWriter *w) { save_dev(d, w, true); }

static void save_all(const VirtioMmio *v, SerWriter *w, bool digest)
{
    ser_put_tag(w, "VIRT", 2);
    for (int i = 0; i < VIRTIO_MMIO_SLOTS; i++) {
        const VirtioDev *d = v->dev[i];
        const char *name = d ? d->cls->name : "";
        uint32_t n = (uint32_t)strlen(name);
        ser_put_u32(w, n);
        ser_put_bytes(w, name, n);
        if (d)
            save_dev(d, w, digest);
    }
}

void virtio_mmio_save(const VirtioMmio *v, SerWriter *w) { save_all(v, w, false); }
void virtio_mmio_save_digest(const VirtioMmio *v, SerWriter *w) { save_all(v, w, true); }

bool virtio_mmio_load(VirtioMmio *v, SerReader *r)
{
    if (ser_get_tag(r, "VIRT") != 2)
        ser_fail(r, "virtio-mmio state has an unknown version");
    for (int i = 0; i < VIRTIO_MMIO_SLOTS && ser_ok(r); i++) {
        VirtioDev *d = v->dev[i];
        const char *name = d ? d->cls->name : "";
        uint32_t n = ser_get_u32(r);
        char saved[64];
        if (n >= sizeof saved) {
            ser_fail(r, "virtio-mmio state names an unknown device");
            break;
        }
        ser_get_bytes(r, saved, n);
        saved[n] = 0;
        if (ser_ok(r) && strcmp(saved, name) != 0) {
            ser_fail(r, "virtio-mmio state is for a different set of devices");
            break;
        }
        if (d)
            load_dev(d, r);
    }
    return ser_ok(r);
}
