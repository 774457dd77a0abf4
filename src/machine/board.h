/*
 * board.h - board construction and boot-image loading.
 *
 * Two boards: the minimal bare-metal board (RAM, NS16550A UART, SiFive test
 * device, CLINT; HTIF when the ELF has `tohost`) and QEMU's `virt` layout
 * (adds PLIC, goldfish RTC, virtio-mmio slots, a generated device tree and
 * the OpenSBI fw_dynamic handoff).
 *
 * Images arrive as byte buffers: the machine never opens files. The caller
 * (cli/replay) reads and hashes them.
 */
#ifndef RRVM_BOARD_H
#define RRVM_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "machine/machine.h"

typedef struct BootImage {
    const uint8_t *data; /* NULL when absent */
    size_t len;
} BootImage;

typedef struct BootImages {
    BootImage bios;   /* firmware at RAM_BASE (ELF or raw); absent = -bios none */
    BootImage kernel; /* ELF (loaded at its addresses) or raw Image */
    BootImage initrd;
    BootImage dtb;    /* user-supplied device tree replaces the generated one */
} BootImages;

/* Create and register the board's devices; called by machine_new(). */
bool board_init(Machine *m, char *err, size_t errlen);
void board_free(Machine *m);
/* Load images, build the device tree, and set every hart's reset pc and
 * a0/a1/a2 as QEMU's virt board does. On error fills err (one line naming
 * the image and the problem) and returns false. */
bool board_load(Machine *m, const BootImages *img, char *err, size_t errlen);
/* Write the generated (or supplied) device tree blob; NULL if none. */
const uint8_t *board_dtb(const Machine *m, size_t *len);

/* Virtio device models by kind (MachineDeviceKind) and QEMU -device name;
 * NULL / MDEV_NONE when unknown. board_device_slot: the virtio-mmio slot
 * of cfg.devices[index]. */
const char *board_device_name(int kind);
int board_device_kind(const char *name);
int board_device_slot(int index);
/* The model of cfg.devices[index] (for the replay layer's input gates), or
 * NULL when there is none. */
struct VirtioDev *board_device(Machine *m, int index);

/* Put every device back in its reset state (guest-requested reset). */
void board_reset_devices(Machine *m);

/* Device state, in a fixed order (used by machine_save/load and digests). */
void board_save_devices(const Machine *m, SerWriter *w);
bool board_load_devices(Machine *m, SerReader *r);
/* Digest one named device state at a time for divergence reports:
 * calls fn(name, bytes, len) for every device in a fixed order. */
void board_foreach_device_state(const Machine *m,
                                void (*fn)(void *ctx, const char *name, const uint8_t *p, size_t n),
                                void *ctx);

#endif
