/*
 * virtio_net.c - virtio network card; see virtio_net.h.
 *
 * Transmit: a QueueNotify on the transmit queue sends every posted frame at
 * once through m->host.net_send (an output: not logged) and folds it into
 * tx_digest, device state that checkpoints digest, so a replay whose guest
 * sends something else is reported at the next checkpoint, naming this
 * device. Receive: the replay layer hands frames in between slices
 * (virtio_net_receive); in a replay they come from the log, at the icount
 * the recording delivered them.
 *
 * Invariants: a frame is delivered whole or not at all (buffers popped for
 * a frame that does not fit are given back); every header field the guest
 * sees is written by us (no stale bytes); the counters and tx_digest only
 * change as a function of guest actions and delivered frames.
 */
#include "virtio_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "util/le.h"

#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1
#define NET_HDR_LEN 12 /* struct virtio_net_hdr_v1, num_buffers included */
#define ETH_HDR_LEN 14
#define RXQ 0
#define TXQ 1
#define MAX_RX_BUFFERS 64 /* buffers one frame may span (mergeable) */

typedef struct VirtioNet {
    VirtioDev vdev; /* first: the transport's view */
    int index;      /* in cfg.devices: names the backend for net_send */
    VirtioNetStats st;
    bool corrupt_next_tx; /* test hook, not state */
    /* scratch, not state: one frame being sent, the buffers of one being
     * received */
    uint8_t tx_frame[NET_HDR_LEN + VIRTIO_NET_MAX_FRAME];
    VirtqElem rx_elems[MAX_RX_BUFFERS];
} VirtioNet;

static VirtioNet *net_of(VirtioDev *d) { return (VirtioNet *)d; }

static void tx_notify(VirtioDev *d, int q)
{
    VirtioNet *n = net_of(d);
    uint8_t *frame = n->tx_frame;
    VirtqElem e;
    bool pushed = false;
    while (virtq_pop(d, q, &e) == 1) {
        size_t len = e.out_len > sizeof n->tx_frame ? 0 : (size_t)e.out_len;
        if (len < NET_HDR_LEN + ETH_HDR_LEN || virtq_copy_from(d, &e, 0, frame, len) != len) {
            n->st.tx_dropped++;
        } else {
            uint8_t *eth = frame + NET_HDR_LEN;
            size_t elen = len - NET_HDR_LEN;
            if (n->corrupt_next_tx) {
                eth[elen - 1] ^= 0xff;
                n->corrupt_next_tx = false;
            }
            n->st.tx_frames++;
            n->st.tx_bytes += elen;
            n->st.tx_digest = XXH64(eth, elen, n->st.tx_digest);
            if (d->m->host.net_send)
                d->m->host.net_send(d->m->host.opaque, n->index, eth, elen);
        }
        virtq_push(d, q, &e, 0);
        pushed = true;
    }
    if (pushed)
        virtq_notify(d, q);
}

static void net_notify(VirtioDev *d, int q)
{
    if (q == TXQ)
        tx_notify(d, q);
    /* RXQ: new buffers; the replay layer asks can_receive between slices */
}

bool virtio_net_can_receive(VirtioDev *d) { return virtq_has_avail(d, RXQ); }

bool virtio_net_receive(VirtioDev *d, const uint8_t *frame, size_t len)
{
    VirtioNet *n = net_of(d);
    if (len < ETH_HDR_LEN || len > VIRTIO_NET_MAX_FRAME) {
        n->st.rx_dropped++;
        return true;
    }
    bool mergeable = virtio_dev_has_feature(d, VIRTIO_NET_F_MRG_RXBUF);
    VirtqElem *elems = n->rx_elems;
    uint64_t room = 0, need = NET_HDR_LEN + len;
    uint16_t nbuf = 0;
    while (room < need && nbuf < (mergeable ? MAX_RX_BUFFERS : 1)) {
        int r = virtq_pop(d, RXQ, &elems[nbuf]);
        if (r != 1)
            break;
        room += elems[nbuf].in_len;
        nbuf++;
    }
    if (room < need) {
        /* too few buffers posted yet, or the device broke: give back */
        if (nbuf && virtio_dev_running(d))
            virtq_unpop(d, RXQ, nbuf);
        if (!mergeable && nbuf && virtio_dev_running(d) && elems[0].in_len < need) {
            n->st.rx_dropped++; /* a buffer that can never hold it */
            virtq_pop(d, RXQ, &elems[0]);
            virtq_push(d, RXQ, &elems[0], 0);
            virtq_notify(d, RXQ);
            return true;
        }
        return !virtio_dev_running(d); /* a broken device drops */
    }
    uint8_t hdr[NET_HDR_LEN] = {0};
    put_le16(hdr + 10, nbuf); /* num_buffers (zero flags: no offloads) */
    uint64_t off = 0; /* into header + frame */
    for (uint16_t i = 0; i < nbuf; i++) {
        uint64_t take = elems[i].in_len < need - off ? elems[i].in_len : need - off;
        uint64_t done = 0;
        if (off < NET_HDR_LEN) { /* only the first buffer holds the header */
            uint64_t h = NET_HDR_LEN - off < take ? NET_HDR_LEN - off : take;
            virtq_copy_to(d, &elems[i], 0, hdr + off, (size_t)h);
            done = h;
        }
        if (take > done)
            virtq_copy_to(d, &elems[i], done, frame + (off + done - NET_HDR_LEN), (size_t)(take - done));
        virtq_push(d, RXQ, &elems[i], (uint32_t)take);
        off += take;
    }
    n->st.rx_frames++;
    n->st.rx_bytes += len;
    virtq_notify(d, RXQ);
    return true;
}

void virtio_net_stats(const VirtioDev *d, VirtioNetStats *out) { *out = ((const VirtioNet *)d)->st; }

void virtio_net_test_corrupt_next_tx(VirtioDev *d) { net_of(d)->corrupt_next_tx = true; }

/* The counters and the digest describe the run: a driver's reset keeps
 * them (Linux resets the card when it probes it, and may again later); a
 * machine reset starts them afresh, as a fresh machine has them. */
static void net_machine_reset(VirtioDev *d) { memset(&net_of(d)->st, 0, sizeof net_of(d)->st); }

static void net_save(const VirtioDev *d, SerWriter *w)
{
    const VirtioNetStats *st = &((const VirtioNet *)d)->st;
    ser_put_tag(w, "VNET", 1);
    ser_put_u64(w, st->tx_frames);
    ser_put_u64(w, st->tx_bytes);
    ser_put_u64(w, st->rx_frames);
    ser_put_u64(w, st->rx_bytes);
    ser_put_u64(w, st->rx_dropped);
    ser_put_u64(w, st->tx_dropped);
    ser_put_u64(w, st->tx_digest);
}

static bool net_load(VirtioDev *d, SerReader *r)
{
    VirtioNetStats *st = &net_of(d)->st;
    if (ser_get_tag(r, "VNET") != 1)
        ser_fail(r, "virtio-net state has an unknown version");
    st->tx_frames = ser_get_u64(r);
    st->tx_bytes = ser_get_u64(r);
    st->rx_frames = ser_get_u64(r);
    st->rx_bytes = ser_get_u64(r);
    st->rx_dropped = ser_get_u64(r);
    st->tx_dropped = ser_get_u64(r);
    st->tx_digest = ser_get_u64(r);
    return ser_ok(r);
}

static void net_free(VirtioDev *d) { free(net_of(d)); }

static const VirtioDevClass virtio_net_class = {
    .name = "virtio-net-device",
    .device_id = 1,
    .features = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) | (1ull << VIRTIO_NET_F_MRG_RXBUF),
    .queue_notify = net_notify,
    .machine_reset = net_machine_reset,
    .save = net_save,
    .load = net_load,
    .free = net_free,
};

VirtioDev *virtio_net_create(Machine *m, int index, const MachineDeviceConfig *c, char *err, size_t errlen)
{
    (void)m;
    VirtioNet *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "virtio-net-device: out of memory");
        return NULL;
    }
    n->index = index;
    VirtioDev *d = &n->vdev;
    /* config: mac[6], status, max_virtqueue_pairs */
    virtio_dev_init(d, &virtio_net_class, 2, 10);
    memcpy(d->config, c->mac, 6);
    put_le16(d->config + 6, VIRTIO_NET_S_LINK_UP);
    put_le16(d->config + 8, 1);
    return d;
}
