/*
 * virtio_blk.h - virtio block device (device type 2) over a read-only base
 * image and a copy-on-write overlay that is machine state.
 *
 * The base image is never written: reads come from the overlay where the
 * guest wrote, else from the base through m->host.disk_read (a
 * deterministic input identified by its content hash, never logged).
 * Writes, discards and write-zeroes land in the overlay, a sparse map of
 * 4 KiB clusters saved in cluster order with the device, so snapshots,
 * checkpoints and digests all cover it.
 */
#ifndef RRVM_VIRTIO_BLK_H
#define RRVM_VIRTIO_BLK_H

#include "virtio_mmio.h"

#define VIRTIO_BLK_CLUSTER 4096u

VirtioDev *virtio_blk_create(Machine *m, int index, const MachineDeviceConfig *c, char *err, size_t errlen);

/* Whether d is a virtio-blk device. */
bool virtio_blk_is(const VirtioDev *d);
/* The overlay alone (as the device's save holds it): u64 count, then per
 * cluster in increasing order u64 number, u8 kind (0 zero, 1 data) and
 * 4096 bytes for data. */
void virtio_blk_overlay_save(const VirtioDev *d, SerWriter *w);
/* Replace the overlay with one read from r; all or nothing (on a bad blob
 * the old overlay stays and r carries the error). */
bool virtio_blk_overlay_load(VirtioDev *d, SerReader *r);
/* Clusters held in the overlay (data and zero ones). */
uint64_t virtio_blk_overlay_clusters(const VirtioDev *d);

#endif
