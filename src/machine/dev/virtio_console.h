/*
 * virtio_console.h - virtio console (device type 3) as QEMU's
 * virtio-serial-device with virtconsole ports: VIRTIO_CONSOLE_F_MULTIPORT,
 * the control queues, and MachineDeviceConfig.nports console ports
 * (1..VCON_MAX_PORTS; port 0 is the first, /dev/hvc0 in Linux).
 *
 * Output a guest writes to a port leaves through m->host.port_write (not
 * an input, never logged). Input enters only from the replay layer,
 * between machine_run slices: virtio_console_receive puts bytes into the
 * guest's posted receive buffers and says how many it took; the rest
 * stays with the caller.
 */
#ifndef RRVM_VIRTIO_CONSOLE_H
#define RRVM_VIRTIO_CONSOLE_H

#include "virtio_mmio.h"

/* 2 queues per port plus 2 control queues within VIRTIO_MAX_QUEUES */
#define VCON_MAX_PORTS ((VIRTIO_MAX_QUEUES - 2) / 2)
_Static_assert(VCON_MAX_PORTS == MACHINE_MAX_CONSOLE_PORTS, "machine.h's port limit is the device's");

VirtioDev *virtio_console_create(Machine *m, int index, const MachineDeviceConfig *c, char *err, size_t errlen);
/* d is a virtio console (the caller may hold any VirtioDev) */
bool virtio_console_is(const VirtioDev *d);
/* The guest has the port open and has posted a receive buffer. */
bool virtio_console_can_receive(VirtioDev *d, int port);
/* Copy up to n bytes into the port's posted receive buffers; returns how
 * many were taken (0 when it cannot receive). Interrupts the guest. */
size_t virtio_console_receive(VirtioDev *d, int port, const uint8_t *buf, size_t n);

#endif
