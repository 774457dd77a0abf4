/*
 * virtio_mmio.h - the virtio 1.x MMIO transport (modern, Version 2
 * registers) on the eight slots of the virt board (0x10001000 + 0x1000*i,
 * irq 1 + i), and the split-virtqueue helpers every device model uses.
 *
 * A slot without a device answers like QEMU's empty slot: MagicValue
 * "virt", Version 2, DeviceID 0, VendorID "QEMU", every other register 0,
 * writes ignored. A device model embeds VirtioDev as its first member and
 * provides a VirtioDevClass; the transport owns the common registers, the
 * queues, the interrupt status and one virtual-time timer per device.
 *
 * Invariants:
 *  - Nothing a guest writes makes the host touch memory outside guest RAM
 *    or loop without bound: every ring and descriptor is checked against
 *    RAM and the queue size, a chain visits at most queue-size descriptors
 *    (an indirect table at most its own length), no device write (a
 *    writable buffer, the used ring) may land in an avail ring, so one
 *    call into a model pops at most queue-size chains, and any violation puts
 *    the device in DEVICE_NEEDS_RESET (status bit 0x40, config interrupt)
 *    until the driver resets it; a broken device ignores notifications.
 *  - Device memory accesses go through machine_phys_read/write, so DMA
 *    marks pages dirty and drops decoded code like any store.
 *  - The transport state (registers, queue addresses and indices, the
 *    timer deadline) is saved with the device; a device's own save adds
 *    only what it keeps beyond that.
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

/* device status bits */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* transport feature bits (device-specific ones are below 24) */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* interrupt status bits */
#define VIRTIO_INT_USED 1
#define VIRTIO_INT_CONFIG 2

#define VIRTIO_MAX_QUEUES 16
#define VIRTIO_QUEUE_MAX_SIZE 256 /* QueueNumMax offered for every queue */
#define VIRTIO_CONFIG_MAX 256     /* bytes of device config space */
#define VIRTQ_MAX_SEGS 64         /* descriptors one element may have */
#define VIRTIO_DEV_NAME_MAX 32

typedef struct VirtioDev VirtioDev;

/* What a device model provides. Unused callbacks may be NULL. */
typedef struct VirtioDevClass {
    const char *name;     /* QEMU's -device name, e.g. "virtio-rng-device" */
    uint32_t device_id;   /* virtio device type (2 blk, 3 console, 4 rng) */
    uint64_t features;    /* offered device-specific feature bits */
    /* the driver kicked queue q (only while DRIVER_OK and not broken) */
    void (*queue_notify)(VirtioDev *d, int q);
    /* the driver wrote config bytes [off, off+len) (already stored) */
    void (*config_write)(VirtioDev *d, uint32_t off, uint32_t len);
    /* back to the state after creation: the transport has already cleared
     * its registers, queues and timer */
    void (*reset)(VirtioDev *d);
    /* after reset, when the whole machine resets (not the driver): what
     * the model keeps across a driver's reset goes back to creation */
    void (*machine_reset)(VirtioDev *d);
    /* the device's timer (d->timer) reached its deadline */
    void (*timer)(VirtioDev *d);
    /* device state beyond the transport's; load must fail cleanly (ser
     * sticky error) on a foreign blob, the machine rolls back */
    void (*save)(const VirtioDev *d, SerWriter *w);
    /* optional: a shorter stand-in for save's bytes in checkpoint digests,
     * which changes whenever save's would (e.g. hashes kept up to date
     * instead of a disk overlay's data); never loaded */
    void (*save_digest)(const VirtioDev *d, SerWriter *w);
    bool (*load)(VirtioDev *d, SerReader *r);
    void (*free)(VirtioDev *d);
} VirtioDevClass;

typedef struct VirtQueue {
    uint32_t num;        /* QueueNum: 0 = not configured */
    bool ready;
    uint64_t desc, avail, used; /* guest-physical ring addresses */
    uint16_t last_avail; /* next avail ring index the device consumes */
    uint16_t used_idx;   /* the device's copy of used->idx */
    uint16_t signalled_used; /* used_idx at the last interrupt (EVENT_IDX) */
    bool signalled_valid;
} VirtQueue;

struct VirtioDev {
    const VirtioDevClass *cls;
    Machine *m;
    int slot, irq;
    int nqueues;             /* set by the device model at creation */
    uint32_t config_len;     /* bytes of config[] the device defines */
    uint8_t config[VIRTIO_CONFIG_MAX]; /* device-specific config space */
    /* config[] as the model built it (taken at plug time; not state):
     * a reset restores it, whatever the driver wrote since */
    uint8_t config_at_creation[VIRTIO_CONFIG_MAX];
    /* transport registers */
    uint32_t status;
    uint32_t device_features_sel, driver_features_sel, queue_sel;
    uint64_t driver_features;
    uint32_t interrupt_status;
    uint32_t config_generation;
    VirtQueue vq[VIRTIO_MAX_QUEUES];
    MachineTimer timer;      /* armed by the device model */
    char broken[96];         /* why the device needs a reset, "" if not */
};

/* One popped chain: `nout` device-readable segments, then `nin` writable. */
typedef struct VirtqSeg {
    uint64_t addr;
    uint32_t len;
} VirtqSeg;

typedef struct VirtqElem {
    uint16_t head;
    int nout, nin;
    VirtqSeg seg[VIRTQ_MAX_SEGS];
    uint64_t out_len, in_len; /* total bytes of each direction */
} VirtqElem;

/* The board's eight slots; a slot is the MmioRegion's opaque pointer. */
typedef struct VirtioMmioSlot {
    struct VirtioMmio *v;
    int index;
} VirtioMmioSlot;

typedef struct VirtioMmio {
    VirtioDev *dev[VIRTIO_MMIO_SLOTS]; /* NULL: empty slot */
    VirtioMmioSlot slot[VIRTIO_MMIO_SLOTS];
} VirtioMmio;

VirtioMmio *virtio_mmio_new(Machine *m);
void virtio_mmio_free(VirtioMmio *v);
/* Plug `d` (fully created by its model) into slot i; registers its timer. */
bool virtio_mmio_plug(VirtioMmio *v, Machine *m, int slot, VirtioDev *d);
uint64_t virtio_mmio_slot_base(int slot);
/* MmioRegion callbacks; `dev` is &v->slot[i]. */
bool virtio_mmio_read(void *dev, uint64_t off, int size, uint64_t *val);
bool virtio_mmio_write(void *dev, uint64_t off, int size, uint64_t val);
void virtio_mmio_reset(VirtioMmio *v);
void virtio_mmio_save(const VirtioMmio *v, SerWriter *w);
/* One device's state (transport and model) in its digest form, as
 * virtio_mmio_save_digest writes it: what checkpoints compare per device. */
void virtio_mmio_save_one_digest(const VirtioDev *d, SerWriter *w);
bool virtio_mmio_load(VirtioMmio *v, SerReader *r);
/* What checkpoint digests hash: virtio_mmio_save with each device's
 * save_digest in place of its save, where it has one. */
void virtio_mmio_save_digest(const VirtioMmio *v, SerWriter *w);

/* --- for device models --- */

/* Initialise the transport part of a freshly allocated device. */
void virtio_dev_init(VirtioDev *d, const VirtioDevClass *cls, int nqueues, uint32_t config_len);
/* Take the next available chain of queue q: 1 = *e filled, 0 = none,
 * -1 = the ring or chain is invalid (the device is now broken). */
int virtq_pop(VirtioDev *d, int q, VirtqElem *e);
/* Give back the last n popped (not pushed) elements of queue q: the next
 * pops return them again (a device that found too few buffers for a
 * packet spanning several). */
void virtq_unpop(VirtioDev *d, int q, uint16_t n);
/* Return an element to the used ring with `written` bytes written. */
void virtq_push(VirtioDev *d, int q, const VirtqElem *e, uint32_t written);
/* Interrupt the driver for queue q if it wants one (EVENT_IDX or
 * NO_INTERRUPT), after one or more pushes. */
void virtq_notify(VirtioDev *d, int q);
/* Whether queue q has a chain waiting (false when not ready or broken). */
bool virtq_has_avail(VirtioDev *d, int q);
/* Copy between the element's segments and a host buffer, starting `off`
 * bytes into the readable (from) or writable (to) part; returns bytes
 * copied (short at the end of the segments). */
size_t virtq_copy_from(VirtioDev *d, const VirtqElem *e, uint64_t off, void *buf, size_t n);
size_t virtq_copy_to(VirtioDev *d, const VirtqElem *e, uint64_t off, const void *buf, size_t n);
/* The config space changed: bump ConfigGeneration, config interrupt. */
void virtio_config_changed(VirtioDev *d);
/* Put the device in DEVICE_NEEDS_RESET with a reason (printf-style). */
void virtio_dev_fail(VirtioDev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Running: DRIVER_OK with the features accepted (FEATURES_OK, which also
 * freezes them), and not broken. Without FEATURES_OK the driver's feature
 * bits were never checked against the offer, so a model must not act. */
static inline bool virtio_dev_running(const VirtioDev *d)
{
    uint32_t on = VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK;
    return (d->status & on) == on && !d->broken[0];
}
static inline bool virtio_dev_has_feature(const VirtioDev *d, int bit)
{
    return (d->driver_features >> bit) & 1;
}

#endif
