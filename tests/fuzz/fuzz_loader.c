/*
 * fuzz_loader.c - libFuzzer harness for the boot image loaders: every byte
 * of a -kernel/-bios file is hostile.
 *
 * Each input is an image. It goes through loader_image_format() (the
 * format named on stderr), loader_load_elf() with and without the kernel
 * address translation (including the header-only part below RAM that is
 * dropped, as for `ld -Ttext=0x80000000` output), into a 64 KiB machine. The loader must never crash, read out of bounds or write
 * outside RAM; a refused image leaves RAM untouched (checked here).
 *
 * scripts/run-fuzz-loader builds this file with -fsanitize=fuzzer, and
 * once more with -DFUZZ_SEED_GENERATOR, a plain program that writes small
 * valid ELF images (one like ld's -Ttext output among them) as seeds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/loader.h"
#include "machine/machine.h"

#define FUZZ_RAM (64u << 10) /* small: every input clears and checks it */

static Machine *new_machine(void)
{
    MachineConfig cfg = {.ram_size = FUZZ_RAM, .nharts = 1, .board_virt = false, .quantum = 100};
    MachineHostIf host = {0};
    return machine_new(&cfg, &host);
}

#ifndef FUZZ_SEED_GENERATOR
static bool ram_is_zero(const Machine *m)
{
    for (size_t i = 0; i < FUZZ_RAM; i++)
        if (m->ram[i])
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static Machine *m;
    if (!m)
        m = new_machine();
    if (!m)
        abort();
    const char *fmt = loader_image_format(data, len);
    if (!fmt || !*fmt)
        abort();
    for (int translate = 0; translate < 2; translate++) {
        memset(m->ram, 0, FUZZ_RAM);
        ElfInfo info;
        char err[256];
        if (loader_load_elf(m, "kernel", data, len, translate, &info, err, sizeof err)) {
            if (info.lo < RAM_BASE || info.hi > RAM_BASE + FUZZ_RAM || info.lo > info.hi ||
                info.entry < RAM_BASE || info.entry >= RAM_BASE + FUZZ_RAM)
                abort();
        } else if (strncmp(err, "kernel: ", 8) != 0 || !ram_is_zero(m)) {
            abort(); /* one prefixed line, and nothing written */
        }
    }
    return 0;
}
#else
static void put(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* An ELF with one PT_LOAD of `code` at paddr; from_zero: the segment
 * starts at file offset 0 a page below paddr, as ld -Ttext makes it. */
static size_t make_elf(uint8_t *buf, uint64_t paddr, bool from_zero)
{
    static const uint8_t code[] = {0x13, 0, 0, 0, 0x6f, 0, 0, 0}; /* nop; j . */
    size_t code_off = from_zero ? 0x1000 : 120, len = code_off + sizeof code;
    memset(buf, 0, len);
    memcpy(buf, "\x7f" "ELF", 4);
    buf[4] = 2, buf[5] = 1, buf[6] = 1;
    put(buf + 16, 2, 2);
    put(buf + 18, 243, 2);
    put(buf + 20, 1, 4);
    put(buf + 24, paddr, 8);
    put(buf + 32, 64, 8);
    put(buf + 52, 64, 2);
    put(buf + 54, 56, 2);
    put(buf + 56, 1, 2);
    uint8_t *ph = buf + 64;
    put(ph, 1, 4);
    put(ph + 4, 5, 4);
    put(ph + 8, from_zero ? 0 : code_off, 8);
    uint64_t start = from_zero ? paddr - 0x1000 : paddr;
    put(ph + 16, start, 8);
    put(ph + 24, start, 8);
    put(ph + 32, from_zero ? len : sizeof code, 8);
    put(ph + 40, from_zero ? len : sizeof code, 8);
    memcpy(buf + code_off, code, sizeof code);
    return len;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    static uint8_t buf[0x2000];
    const struct { const char *name; uint64_t paddr; bool from_zero; } seeds[] = {
        {"plain.elf", RAM_BASE, false},
        {"ttext.elf", RAM_BASE, true},
        {"high.elf", RAM_BASE + 0x8000, true},
        {"vmlinux-like.elf", 0xffffffff80000000ull, false},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        size_t len = make_elf(buf, seeds[i].paddr, seeds[i].from_zero);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], seeds[i].name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, len, f) != len)
            return 1;
        fclose(f);
    }
    return 0;
}
#endif
