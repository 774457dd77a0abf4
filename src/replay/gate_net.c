/*
 * gate_net.c - network frames: the gate between -netdev backends and the
 * guest's virtio-net cards.
 *
 * Run/record: between slices the backends do their host I/O (libslirp's
 * sockets and timers, a socket netdev), and every frame waiting for the
 * guest is handed to its card as soon as the card has receive buffers;
 * record logs it (RLOG_NET_RX: u8 device index, then the frame) at the
 * icount the card took it. Frames the guest sends go to the backend. A
 * replay opens no backend: logged frames are delivered at their icount and
 * sent frames go nowhere - except, in every mode, into the --net-dump pcap
 * capture, stamped with virtual time so record and replay write the same
 * file.
 *
 * Invariant: a frame is logged only once the card took it (a frame the
 * backend dropped, or that waits in its queue, costs the log nothing).
 */
#include "session_internal.h"

#include <inttypes.h>
#include <string.h>

#include "host/hostnet.h"
#include "host/pcap.h"
#include "machine/board.h"
#include "machine/dev/virtio_net.h"

bool gate_net_open(Session *s)
{
    const SessionOptions *o = s->opt;
    if (o->net_dump) {
        char err[512];
        s->pcap = pcap_open(o->net_dump, err, sizeof err);
        if (!s->pcap) {
            session_fail(s, 1, "--net-dump %s", err);
            return false;
        }
    }
    if (s->mode == SESSION_REPLAY)
        return true; /* the recording holds every frame the guest received */
    for (int i = 0; i < MACHINE_MAX_DEVICES; i++) {
        if (!o->netdev_spec[i])
            continue;
        char err[512];
        s->net[i] = hostnet_new(o->netdev_spec[i], o->allow_remote_net, err, sizeof err);
        if (!s->net[i]) {
            session_fail(s, 1, "%s", err);
            return false;
        }
    }
    return true;
}

void gate_net_close(Session *s)
{
    for (int i = 0; i < MACHINE_MAX_DEVICES; i++) {
        hostnet_free(s->net[i]);
        s->net[i] = NULL;
    }
    char err[512];
    if (s->pcap && !pcap_close(s->pcap, err, sizeof err))
        fprintf(stderr, "rrvm: --net-dump %s\n", err);
    s->pcap = NULL;
}

static void capture(Session *s, const uint8_t *frame, size_t n)
{
    if (s->pcap)
        pcap_write(s->pcap, machine_vtime_ns(s->m), frame, n);
}

void gate_net_send(void *opaque, int dev, const uint8_t *frame, size_t n)
{
    Session *s = opaque;
    capture(s, frame, n);
    if (dev >= 0 && dev < MACHINE_MAX_DEVICES && s->net[dev])
        hostnet_send(s->net[dev], frame, n);
}

int gate_net_poll_fill(Session *s, struct pollfd *fds, int max, int *timeout_ms)
{
    int n = 0;
    for (int i = 0; i < MACHINE_MAX_DEVICES; i++) {
        s->net_nfds[i] = s->net[i] ? hostnet_poll_fill(s->net[i], fds + n, max - n, timeout_ms) : 0;
        n += s->net_nfds[i];
    }
    return n;
}

void gate_net_poll_dispatch(Session *s, const struct pollfd *fds, int count)
{
    /* each backend gets back the entries it added at the last fill */
    int n = 0;
    for (int i = 0; i < MACHINE_MAX_DEVICES; i++) {
        if (!s->net[i])
            continue;
        int k = s->net_nfds[i] <= count - n ? s->net_nfds[i] : count - n;
        hostnet_poll_dispatch(s->net[i], fds + n, k);
        n += k;
    }
}

bool gate_net_active(const Session *s)
{
    for (int i = 0; i < MACHINE_MAX_DEVICES; i++)
        if (s->net[i])
            return true;
    return false;
}

/* Host I/O without waiting, then frames into the cards that can take them. */
void gate_net_poll(Session *s)
{
    if (!gate_net_active(s))
        return;
    struct pollfd fds[GATE_NET_MAX_FDS];
    int timeout = 0, n = gate_net_poll_fill(s, fds, GATE_NET_MAX_FDS, &timeout);
    if (n > 0 && poll(fds, (nfds_t)n, 0) < 0)
        n = 0;
    gate_net_poll_dispatch(s, fds, n); /* also runs due timers */
    uint8_t payload[1 + HOSTNET_MAX_FRAME];
    for (int i = 0; i < MACHINE_MAX_DEVICES; i++) {
        VirtioDev *d = s->net[i] ? board_virtio_device(s->m, i) : NULL;
        size_t len;
        const uint8_t *frame;
        while (d && (frame = hostnet_peek(s->net[i], &len)) != NULL && virtio_net_can_receive(d)) {
            if (!virtio_net_receive(d, frame, len))
                break; /* not enough buffers posted yet: later */
            capture(s, frame, len);
            payload[0] = (uint8_t)i;
            memcpy(payload + 1, frame, len);
            session_log(s, RLOG_NET_RX, payload, 1 + len);
            hostnet_pop(s->net[i]);
        }
    }
}

void gate_net_deliver(Session *s, const RlogEvent *ev)
{
    int dev = ev->len >= 1 ? ev->payload[0] : -1;
    VirtioDev *d = dev >= 0 && dev < s->m->cfg.ndevices && s->m->cfg.devices[dev].kind == MDEV_VIRTIO_NET
                       ? board_virtio_device(s->m, dev)
                       : NULL;
    if (!d) {
        session_diverged(s, "a network frame for device %d, which is not a network card", dev);
        return;
    }
    const uint8_t *frame = ev->payload + 1;
    size_t len = ev->len - 1;
    if (!virtio_net_receive(d, frame, len)) {
        session_diverged(s, "the recording delivers a %zu-byte frame to virtio-net-device %d here, "
                            "but the guest has not posted receive buffers for it", len, dev);
        return;
    }
    capture(s, frame, len);
}

static bool is_net_device(const Machine *m, int dev)
{
    return dev >= 0 && dev < m->cfg.ndevices && m->cfg.devices[dev].kind == MDEV_VIRTIO_NET;
}

static void stats_encode(int dev, const VirtioNetStats *st, uint8_t p[RLOG_NET_STATS_LEN])
{
    uint64_t v[5] = {st->tx_frames, st->tx_bytes, st->rx_frames, st->rx_bytes, st->tx_digest};
    p[0] = (uint8_t)dev;
    for (int i = 0; i < 5; i++)
        for (int b = 0; b < 8; b++)
            p[1 + 8 * i + b] = (uint8_t)(v[i] >> (8 * b));
}

void gate_net_log_stats(Session *s)
{
    for (int i = 0; i < s->m->cfg.ndevices; i++) {
        VirtioDev *d = is_net_device(s->m, i) ? board_virtio_device(s->m, i) : NULL;
        if (!d)
            continue;
        VirtioNetStats st;
        virtio_net_stats(d, &st);
        uint8_t p[RLOG_NET_STATS_LEN];
        stats_encode(i, &st, p);
        session_log(s, RLOG_NET_STATS, p, sizeof p);
    }
}

void gate_net_verify_stats(Session *s, const RlogEvent *ev)
{
    int dev = ev->len == RLOG_NET_STATS_LEN ? ev->payload[0] : -1;
    VirtioDev *d = is_net_device(s->m, dev) ? board_virtio_device(s->m, dev) : NULL;
    if (!d) {
        session_diverged(s, "malformed NET_STATS event, or for a device that is not a network card");
        return;
    }
    VirtioNetStats st;
    virtio_net_stats(d, &st);
    uint8_t mine[RLOG_NET_STATS_LEN];
    stats_encode(dev, &st, mine);
    if (memcmp(mine, ev->payload, sizeof mine) != 0)
        session_diverged(s, "virtio-net-device@%llx (device %d): the guest sent %" PRIu64 " frames (%" PRIu64
                            " bytes, digest %016" PRIx64 ") and received %" PRIu64 "; the recording differs",
                         (unsigned long long)(0x10001000ull + 0x1000ull * (uint64_t)board_device_slot(dev)), dev,
                         st.tx_frames, st.tx_bytes, st.tx_digest, st.rx_frames);
}

void gate_net_perturb_tx(Session *s, int dev)
{
    VirtioDev *d = is_net_device(s->m, dev) ? board_virtio_device(s->m, dev) : NULL;
    if (d)
        virtio_net_test_corrupt_next_tx(d);
}
