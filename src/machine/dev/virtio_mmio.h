/*
 * virtio_mmio.h - the eight virtio-mmio transport slots of the virt board
 * (0x10001000 + 0x1000*i, irq 1 + i).
 *
 * A slot without a backend answers like QEMU's empty slot: MagicValue
 * "virt", Version 2, DeviceID 0 (no device), VendorID "QEMU", every other
 * register 0, writes ignored. A device is plugged in by setting
 * slot->backend/slot->device before the guest runs; the slot then forwards
 * every access and the state save/load to the backend.
 */
#ifndef RRVM_VIRTIO_MMIO_H
#define RRVM_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/machine.h"

#define VIRTIO_MMIO_BASE 0x10001000ull
#define VIRTIO_MMIO_STRIDE 0x1000ull
#define VIRTIO_MMIO_SLOTS 8
#define VIRTIO_MMIO_FIRST_IRQ 1

#define VIRTIO_MMIO_MAGIC 0x74726976u  /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x554d4551u /* "QEMU" */

/* What a device model provides to sit behind a slot. `off` is relative to
 * the slot base; the backend raises its interrupt with
 * machine_set_irq(m, slot->irq, level). */
typedef struct VirtioMmioBackend {
    const char *name;
    bool (*read)(void *device, uint64_t off, int size, uint64_t *val);
    bool (*write)(void *device, uint64_t off, int size, uint64_t val);
    void (*save)(const void *device, SerWriter *w);
    bool (*load)(void *device, SerReader *r);
} VirtioMmioBackend;

typedef struct VirtioMmioSlot {
    Machine *m;
    uint64_t base;
    int irq;
    const VirtioMmioBackend *backend; /* NULL: empty slot */
    void *device;
} VirtioMmioSlot;

typedef struct VirtioMmio {
    VirtioMmioSlot slot[VIRTIO_MMIO_SLOTS];
} VirtioMmio;

VirtioMmio *virtio_mmio_new(Machine *m);
void virtio_mmio_free(VirtioMmio *v);
/* MmioRegion callbacks; `dev` is a VirtioMmioSlot. */
bool virtio_mmio_read(void *dev, uint64_t off, int size, uint64_t *val);
bool virtio_mmio_write(void *dev, uint64_t off, int size, uint64_t val);
void virtio_mmio_save(const VirtioMmio *v, SerWriter *w);
bool virtio_mmio_load(VirtioMmio *v, SerReader *r);

#endif
