/*
 * virtio_mmio.c - virtio-mmio slots; see virtio_mmio.h.
 *
 * Invariant: an empty slot is stateless; a slot with a backend owns no
 * state either - the backend's device holds it and saves it. The saved
 * form records which slots hold which backend so a snapshot never loads
 * into a differently populated board.
 */
#include "machine/dev/virtio_mmio.h"

#include <stdlib.h>
#include <string.h>

enum { REG_MAGIC = 0x000, REG_VERSION = 0x004, REG_DEVICE_ID = 0x008, REG_VENDOR_ID = 0x00c };

VirtioMmio *virtio_mmio_new(Machine *m)
{
    VirtioMmio *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    for (int i = 0; i < VIRTIO_MMIO_SLOTS; i++) {
        v->slot[i].m = m;
        v->slot[i].base = VIRTIO_MMIO_BASE + VIRTIO_MMIO_STRIDE * (uint64_t)i;
        v->slot[i].irq = VIRTIO_MMIO_FIRST_IRQ + i;
    }
    return v;
}

void virtio_mmio_free(VirtioMmio *v) { free(v); }

bool virtio_mmio_read(void *dev, uint64_t off, int size, uint64_t *val)
{
    VirtioMmioSlot *s = dev;
    if (s->backend)
        return s->backend->read(s->device, off, size, val);
    switch (off) {
    case REG_MAGIC:
        *val = VIRTIO_MMIO_MAGIC;
        break;
    case REG_VERSION:
        *val = 2;
        break;
    case REG_VENDOR_ID:
        *val = VIRTIO_MMIO_VENDOR;
        break;
    default: /* includes DeviceID: 0 = no device */
        *val = 0;
        break;
    }
    return true;
}

bool virtio_mmio_write(void *dev, uint64_t off, int size, uint64_t val)
{
    VirtioMmioSlot *s = dev;
    if (s->backend)
        return s->backend->write(s->device, off, size, val);
    return true;
}

void virtio_mmio_save(const VirtioMmio *v, SerWriter *w)
{
    ser_put_tag(w, "VIRT", 1);
    for (int i = 0; i < VIRTIO_MMIO_SLOTS; i++) {
        const VirtioMmioSlot *s = &v->slot[i];
        const char *name = s->backend ? s->backend->name : "";
        uint32_t n = (uint32_t)strlen(name);
        ser_put_u32(w, n);
        ser_put_bytes(w, name, n);
        if (s->backend && s->backend->save)
            s->backend->save(s->device, w);
    }
}

bool virtio_mmio_load(VirtioMmio *v, SerReader *r)
{
    if (ser_get_tag(r, "VIRT") != 1)
        ser_fail(r, "virtio-mmio state has an unknown version");
    for (int i = 0; i < VIRTIO_MMIO_SLOTS && ser_ok(r); i++) {
        VirtioMmioSlot *s = &v->slot[i];
        const char *name = s->backend ? s->backend->name : "";
        uint32_t n = ser_get_u32(r);
        char saved[64];
        if (n >= sizeof saved) {
            ser_fail(r, "virtio-mmio state names an unknown device");
            break;
        }
        ser_get_bytes(r, saved, n);
        saved[n] = 0;
        if (strcmp(saved, name) != 0) {
            ser_fail(r, "virtio-mmio state is for a different set of devices");
            break;
        }
        if (s->backend && s->backend->load && !s->backend->load(s->device, r))
            ser_fail(r, "virtio device state is invalid");
    }
    return ser_ok(r);
}
