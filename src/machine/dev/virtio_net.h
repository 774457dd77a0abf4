/*
 * virtio_net.h - virtio network card (device type 1): one receive and one
 * transmit queue, MAC and link status in config space, mergeable receive
 * buffers. No checksum or segmentation offloads: the guest computes every
 * checksum itself, so what it sends depends on nothing but its own state.
 */
#ifndef RRVM_VIRTIO_NET_H
#define RRVM_VIRTIO_NET_H

#include "virtio_mmio.h"

/* Frames longer than this (Ethernet header + payload) are dropped: no
 * segmentation offload is offered, so the guest never sends one and a
 * backend's jumbo frame could not reach it anyway. */
#define VIRTIO_NET_MAX_FRAME 65535

VirtioDev *virtio_net_create(Machine *m, int index, const MachineDeviceConfig *c, char *err, size_t errlen);

/* Receiving, for the replay layer's network gate, between machine_run
 * slices: whether the driver has posted receive buffers, and delivering one
 * frame. receive returns false (nothing consumed, nothing changed) when the
 * posted buffers cannot hold the frame yet; the caller keeps it and tries
 * again later. A frame longer than VIRTIO_NET_MAX_FRAME or shorter than an
 * Ethernet header is dropped (true) and counted. */
bool virtio_net_can_receive(VirtioDev *d);
bool virtio_net_receive(VirtioDev *d, const uint8_t *frame, size_t len);

/* Traffic counters (device state, saved and digested with it). */
typedef struct VirtioNetStats {
    uint64_t tx_frames, tx_bytes, rx_frames, rx_bytes, rx_dropped, tx_dropped;
    uint64_t tx_digest; /* XXH64 chain over every frame sent, in order */
} VirtioNetStats;
void virtio_net_stats(const VirtioDev *d, VirtioNetStats *out);
/* Test only (replay --test-perturb net-tx:N): the next frame the guest
 * sends leaves with one byte flipped, as if the guest had sent something
 * else. Not state. */
void virtio_net_test_corrupt_next_tx(VirtioDev *d);

#endif
