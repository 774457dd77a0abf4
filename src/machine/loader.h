/*
 * loader.h - boot image loaders: ELF64 RISC-V executables and raw
 * binaries, from memory buffers into guest RAM.
 *
 * Every check is made before anything is written, so a rejected image
 * leaves RAM untouched. Errors are one line starting with `what` (the
 * image's role: "bios", "kernel"), e.g.
 *   kernel: not a RISC-V ELF (e_machine=62)
 *   kernel: ELF segment at 0x70000000 (size 0x1000) lies outside RAM (0x80000000-0x87ffffff)
 */
#ifndef RRVM_LOADER_H
#define RRVM_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/machine.h"

typedef struct ElfInfo {
    uint64_t entry;            /* physical entry point */
    uint64_t lo, hi;           /* loaded physical range [lo, hi) */
    bool has_tohost, has_fromhost;
    uint64_t tohost, fromhost; /* symbol values, when present */
} ElfInfo;

/* What an image looks like, from its magic numbers: "ELF", "Linux Image"
 * (the RISC-V boot header's "RSC\x05" at offset 56), "device tree",
 * "cpio archive", "gzip data", or "raw". For messages only: loading still
 * goes by ELF or not. */
const char *loader_image_format(const uint8_t *data, size_t len);

/* True if the buffer starts with the ELF magic. */
bool loader_is_elf(const uint8_t *data, size_t len);

/* Load an ELF executable at its segments' physical addresses.
 * kernel_translate: like QEMU's kernel loader, addresses outside RAM are
 * mapped to (addr & 0x7fffffff) + RAM_BASE (for vmlinux linked at its
 * virtual address); other images must lie in RAM as linked. */
bool loader_load_elf(Machine *m, const char *what, const uint8_t *data, size_t len,
                     bool kernel_translate, ElfInfo *info, char *err, size_t errlen);

/* Copy a raw image to RAM at `addr`. */
bool loader_load_raw(Machine *m, const char *what, const uint8_t *data, size_t len,
                     uint64_t addr, char *err, size_t errlen);

#endif
