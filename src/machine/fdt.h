/*
 * fdt.h - device tree blobs for the boards: generated from the devices
 * that exist on the machine (QEMU virt's layout and properties), or a
 * user-supplied blob with /chosen updated.
 *
 * Functions are prefixed devtree_ to stay clear of libfdt's fdt_ names.
 */
#ifndef RRVM_FDT_H
#define RRVM_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/machine.h"

#define DEVTREE_UART_CLOCK_HZ 3686400
#define DEVTREE_RNG_SEED_BYTES 64
/* The longest kernel command line the device tree takes (bootargs). Linux
 * on RISC-V reads at most COMMAND_LINE_SIZE - 1 = 1023 bytes of it. */
#define DEVTREE_MAX_BOOTARGS 16384
#define DEVTREE_LINUX_BOOTARGS 1023

/* Generate the tree for m's board. When with_initrd, /chosen gets
 * linux,initrd-start/-end (64-bit, value 0) for devtree_set_initrd().
 * The bootargs come from m->cfg.append; rng-seed from m->host.random_bytes.
 * Returns a malloc'ed blob (*len bytes) or NULL with err set. */
uint8_t *devtree_build(Machine *m, bool with_initrd, size_t *len, char *err, size_t errlen);

/* Validate a user blob and return a malloc'ed copy whose /chosen has the
 * bootargs of m->cfg.append (if any) and, when with_initrd, placeholder
 * initrd properties. NULL with err set when the blob is invalid. */
uint8_t *devtree_from_user(const Machine *m, const uint8_t *dtb, size_t dtb_len, bool with_initrd,
                           size_t *len, char *err, size_t errlen);

/* Fill in the initrd placeholders (the blob's size does not change). */
bool devtree_set_initrd(uint8_t *dtb, uint64_t start, uint64_t end);

#endif
