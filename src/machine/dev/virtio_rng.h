/*
 * virtio_rng.h - virtio entropy device (device type 4).
 */
#ifndef RRVM_VIRTIO_RNG_H
#define RRVM_VIRTIO_RNG_H

#include "virtio_mmio.h"

VirtioDev *virtio_rng_create(Machine *m, int index, const MachineDeviceConfig *c, char *err, size_t errlen);

#endif
