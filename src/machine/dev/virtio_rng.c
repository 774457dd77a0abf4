/*
 * virtio_rng.c - virtio entropy device: one request queue; each buffer the
 * driver posts is filled with random bytes from the host gate
 * (m->host.random_bytes: logged in record, read back in replay, a
 * counter-mode PRNG under -seed) and returned at once.
 *
 * Invariants: the device has no state beyond the transport's; the bytes a
 * request gets depend only on the gate, so a replay hands the guest exactly
 * what the recording saw, at the same icount (the QueueNotify store).
 */
#include "virtio_rng.h"

#include <stdio.h>
#include <stdlib.h>

/* bytes handed out per buffer: Linux asks for up to 64 at a time; the cap
 * keeps a hostile 1 MiB buffer from costing a 1 MiB log event */
#define RNG_MAX_PER_REQUEST 4096

static void rng_notify(VirtioDev *d, int q)
{
    VirtqElem e;
    bool pushed = false;
    while (virtq_pop(d, q, &e) == 1) {
        uint8_t buf[RNG_MAX_PER_REQUEST];
        size_t n = e.in_len < sizeof buf ? (size_t)e.in_len : sizeof buf;
        if (n)
            d->m->host.random_bytes(d->m->host.opaque, buf, n);
        size_t done = virtq_copy_to(d, &e, 0, buf, n);
        virtq_push(d, q, &e, (uint32_t)done);
        pushed = true;
    }
    if (pushed)
        virtq_notify(d, q);
}

static void rng_free(VirtioDev *d) { free(d); }

static const VirtioDevClass virtio_rng_class = {
    .name = "virtio-rng-device",
    .device_id = 4,
    .queue_notify = rng_notify,
    .free = rng_free,
};

VirtioDev *virtio_rng_create(Machine *m, int index, const MachineDeviceConfig *c, char *err, size_t errlen)
{
    (void)m;
    (void)index;
    (void)c;
    VirtioDev *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "virtio-rng-device: out of memory");
        return NULL;
    }
    virtio_dev_init(d, &virtio_rng_class, 1, 0);
    return d;
}
