/*
 * test_loader.c - unit tests for the ELF/raw loaders, device tree
 * generation and board_load(): rejection of truncated, non-RISC-V and
 * outside-RAM images with their messages, tohost/fromhost lookup, QEMU
 * virt boot placement (fw_dynamic_info, initrd, dtb), a user dtb, and a
 * tiny hand-assembled program run from an ELF to its sifive-test exit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libfdt.h>

#include "machine/board.h"
#include "machine/fdt.h"
#include "machine/cpu/hart.h"
#include "machine/loader.h"
#include "machine/machine.h"

#define RAM_SIZE (16ull << 20)

typedef struct Fix {
    Machine *m;
    char out[256];
    size_t out_len;
    char err[256];
} Fix;

static void console_write(void *opaque, const uint8_t *buf, size_t n)
{
    Fix *f = opaque;
    for (size_t i = 0; i < n && f->out_len + 1 < sizeof f->out; i++)
        f->out[f->out_len++] = (char)buf[i];
}

static void random_bytes(void *opaque, uint8_t *buf, size_t n) { memset(buf, 0xa5, n); }

static Fix *make_fix(bool virt, uint64_t ram, int nharts, const char *append)
{
    Fix *f = calloc(1, sizeof *f);
    MachineConfig cfg = {.ram_size = ram, .nharts = nharts, .icount_shift = 0, .board_virt = virt,
                         .quantum = 100, .append = (char *)append}; /* machine_new copies it */
    MachineHostIf host = {.opaque = f, .random_bytes = random_bytes, .console_write = console_write};
    f->m = machine_new(&cfg, &host);
    assert_non_null(f->m);
    return f;
}

static int setup(void **state)
{
    *state = make_fix(true, RAM_SIZE, 2, "console=ttyS0");
    return 0;
}

static int teardown(void **state)
{
    Fix *f = *state;
    machine_free(f->m);
    free(f);
    return 0;
}

/* --- a little ELF writer --- */

typedef struct Seg {
    uint64_t paddr, memsz;
    const void *data;
    uint64_t filesz;
} Seg;

typedef struct Elf {
    uint8_t *buf;
    size_t len;
} Elf;

static void put(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ELF with the given segments and, when tohost != 0, a symbol table
 * defining tohost and fromhost = tohost + 64. */
static Elf make_elf(uint16_t machine, uint64_t entry, const Seg *segs, int nsegs, uint64_t tohost)
{
    static const char strtab[] = "\0tohost\0fromhost\0";
    size_t phoff = 64, data_off = phoff + 56 * (size_t)nsegs, off = data_off;
    for (int i = 0; i < nsegs; i++)
        off += segs[i].filesz;
    size_t sym_off = off, nsyms = tohost ? 3 : 0;
    size_t str_off = sym_off + 24 * nsyms;
    size_t sh_off = (str_off + sizeof strtab + 7) & ~(size_t)7;
    int nsh = tohost ? 3 : 0;
    Elf e = {.len = tohost ? sh_off + 64 * (size_t)nsh : off};
    e.buf = calloc(1, e.len);
    uint8_t *h = e.buf;
    memcpy(h, "\x7f" "ELF", 4);
    h[4] = 2, h[5] = 1, h[6] = 1;
    put(h + 16, 2, 2); /* ET_EXEC */
    put(h + 18, machine, 2);
    put(h + 20, 1, 4);
    put(h + 24, entry, 8);
    put(h + 32, phoff, 8);
    put(h + 40, tohost ? sh_off : 0, 8);
    put(h + 52, 64, 2);
    put(h + 54, 56, 2);
    put(h + 56, (uint64_t)nsegs, 2);
    put(h + 58, 64, 2);
    put(h + 60, (uint64_t)nsh, 2);
    size_t d = data_off;
    for (int i = 0; i < nsegs; i++) {
        uint8_t *ph = h + phoff + 56 * (size_t)i;
        put(ph, 1, 4); /* PT_LOAD */
        put(ph + 4, 7, 4);
        put(ph + 8, d, 8);
        put(ph + 16, segs[i].paddr, 8);
        put(ph + 24, segs[i].paddr, 8);
        put(ph + 32, segs[i].filesz, 8);
        put(ph + 40, segs[i].memsz, 8);
        memcpy(h + d, segs[i].data, segs[i].filesz);
        d += segs[i].filesz;
    }
    if (tohost) {
        uint8_t *s = h + sym_off;
        put(s + 24 + 0, 1, 4);  /* "tohost" */
        put(s + 24 + 6, 1, 2);  /* defined in section 1 */
        put(s + 24 + 8, tohost, 8);
        put(s + 48 + 0, 8, 4);  /* "fromhost" */
        put(s + 48 + 6, 1, 2);
        put(s + 48 + 8, tohost + 64, 8);
        memcpy(h + str_off, strtab, sizeof strtab);
        uint8_t *sh1 = h + sh_off + 64, *sh2 = h + sh_off + 128;
        put(sh1 + 4, 2, 4); /* SHT_SYMTAB */
        put(sh1 + 24, sym_off, 8);
        put(sh1 + 32, 24 * nsyms, 8);
        put(sh1 + 40, 2, 4); /* link: strtab */
        put(sh1 + 56, 24, 8);
        put(sh2 + 4, 3, 4); /* SHT_STRTAB */
        put(sh2 + 24, str_off, 8);
        put(sh2 + 32, sizeof strtab, 8);
    }
    return e;
}

/* Program: print 'H' on the UART, then sifive-test exit code 0. */
static const uint32_t hello_prog[] = {
    0x100003b7, /* lui  t2, 0x10000       */
    0x04800e13, /* li   t3, 'H'           */
    0x01c38023, /* sb   t3, 0(t2)         */
    0x001002b7, /* lui  t0, 0x100         */
    0x00005337, /* lui  t1, 0x5           */
    0x55530313, /* addi t1, t1, 0x555     */
    0x0062a023, /* sw   t1, 0(t0)         */
    0x0000006f, /* j    .                 */
};

static Elf hello_elf(uint64_t tohost)
{
    Seg s[2] = {{RAM_BASE, sizeof hello_prog, hello_prog, sizeof hello_prog},
                {RAM_BASE + 0x1000, 0x2000, "data", 4}};
    return make_elf(243, RAM_BASE, s, 2, tohost);
}

static uint64_t ram_u64(Machine *m, uint64_t addr)
{
    uint64_t v = 0;
    assert_true(machine_phys_read(m, addr, &v, 8));
    return v;
}

/* --- loader --- */

static void test_elf_load_ok(void **state)
{
    Fix *f = *state;
    Elf e = hello_elf(RAM_BASE + 0x2000);
    memset(f->m->ram + 0x1000, 0xff, 0x2000); /* bss must be cleared */
    ElfInfo info;
    assert_true(loader_load_elf(f->m, "kernel", e.buf, e.len, false, &info, f->err, sizeof f->err));
    assert_int_equal(info.entry, RAM_BASE);
    assert_int_equal(info.lo, RAM_BASE);
    assert_int_equal(info.hi, RAM_BASE + 0x3000);
    assert_memory_equal(f->m->ram, hello_prog, sizeof hello_prog);
    assert_memory_equal(f->m->ram + 0x1000, "data", 4);
    assert_int_equal(f->m->ram[0x1004], 0);
    assert_int_equal(f->m->ram[0x2fff], 0);
    assert_true(info.has_tohost);
    assert_int_equal(info.tohost, RAM_BASE + 0x2000);
    assert_true(info.has_fromhost);
    assert_int_equal(info.fromhost, RAM_BASE + 0x2040);
    free(e.buf);
}

static void expect_elf_error(Fix *f, const uint8_t *buf, size_t len, const char *msg)
{
    ElfInfo info;
    f->err[0] = 0;
    assert_false(loader_load_elf(f->m, "kernel", buf, len, false, &info, f->err, sizeof f->err));
    if (!strstr(f->err, msg))
        fail_msg("error \"%s\" does not contain \"%s\"", f->err, msg);
}

static void test_elf_rejects(void **state)
{
    Fix *f = *state;
    Elf e = hello_elf(0);
    expect_elf_error(f, e.buf, 40, "kernel: truncated ELF header (40 bytes)");
    expect_elf_error(f, e.buf, 100, "program headers lie outside the file");
    expect_elf_error(f, e.buf, e.len - 1, "lies outside the file");
    free(e.buf);

    Seg s = {RAM_BASE, 4, "abcd", 4};
    e = make_elf(62, RAM_BASE, &s, 1, 0);
    expect_elf_error(f, e.buf, e.len, "kernel: not a RISC-V ELF (e_machine=62)");
    e.buf[4] = 1;
    expect_elf_error(f, e.buf, e.len, "not a 64-bit ELF");
    free(e.buf);

    Seg low = {0x70000000, 0x1000, "abcd", 4};
    e = make_elf(243, RAM_BASE, &low, 1, 0);
    expect_elf_error(f, e.buf, e.len,
                     "kernel: ELF segment at 0x70000000 (size 0x1000) lies outside RAM (0x80000000-0x80ffffff)");
    free(e.buf);

    Seg high = {RAM_BASE + RAM_SIZE - 2, 4, "abcd", 4};
    e = make_elf(243, RAM_BASE, &high, 1, 0);
    expect_elf_error(f, e.buf, e.len, "lies outside RAM");
    free(e.buf);

    Seg wrap = {UINT64_MAX - 1, 4, "abcd", 4};
    e = make_elf(243, RAM_BASE, &wrap, 1, 0);
    expect_elf_error(f, e.buf, e.len, "lies outside RAM");
    free(e.buf);

    Seg overlap[2] = {{RAM_BASE, 0x100, "abcd", 4}, {RAM_BASE + 0xf0, 0x100, "efgh", 4}};
    e = make_elf(243, RAM_BASE, overlap, 2, 0);
    expect_elf_error(f, e.buf, e.len, "overlap");
    free(e.buf);

    Seg ok = {RAM_BASE, 4, "abcd", 4};
    e = make_elf(243, 0x1000, &ok, 1, 0);
    expect_elf_error(f, e.buf, e.len, "entry point 0x1000 lies outside RAM");
    free(e.buf);

    /* file size above memory size, huge file offset */
    e = make_elf(243, RAM_BASE, &ok, 1, 0);
    put(e.buf + 64 + 40, 2, 8);
    expect_elf_error(f, e.buf, e.len, "above its memory size");
    put(e.buf + 64 + 40, 4, 8);
    put(e.buf + 64 + 8, UINT64_MAX - 1, 8);
    expect_elf_error(f, e.buf, e.len, "lies outside the file");
    free(e.buf);

    /* section headers pointing past the end */
    e = hello_elf(RAM_BASE + 0x2000);
    put(e.buf + 40, e.len - 10, 8);
    expect_elf_error(f, e.buf, e.len, "section headers lie outside the file");
    free(e.buf);

    /* nothing is written to RAM by a rejected image */
    for (size_t i = 0; i < 64; i++)
        assert_int_equal(f->m->ram[i], 0);
}

/* `ld -Ttext=0x80000000` output: one PT_LOAD from file offset 0 at
 * RAM_BASE - 0x1000, its part below RAM holding only the ELF headers and
 * zero padding. The part in RAM loads (as QEMU does); the headers are
 * dropped. Anything else below RAM is still refused. */
static Elf header_page_elf(void)
{
    size_t hdr = 64 + 56, blob_len = 0x1000 - hdr + sizeof hello_prog;
    uint8_t *blob = calloc(1, blob_len);
    memcpy(blob + 0x1000 - hdr, hello_prog, sizeof hello_prog);
    Seg s = {RAM_BASE - 0x1000, blob_len, blob, blob_len};
    Elf e = make_elf(243, RAM_BASE, &s, 1, 0);
    free(blob);
    uint8_t *ph = e.buf + 64;
    put(ph + 8, 0, 8);                /* from the start of the file */
    put(ph + 32, e.len, 8);
    put(ph + 40, e.len, 8);
    return e;
}

static void test_elf_header_page_below_ram(void **state)
{
    Fix *f = *state;
    Elf e = header_page_elf();
    assert_int_equal(e.len, 0x1000 + sizeof hello_prog);
    ElfInfo info;
    assert_true(loader_load_elf(f->m, "kernel", e.buf, e.len, true, &info, f->err, sizeof f->err));
    assert_int_equal(info.entry, RAM_BASE);
    assert_int_equal(info.lo, RAM_BASE);
    assert_int_equal(info.hi, RAM_BASE + sizeof hello_prog);
    assert_memory_equal(f->m->ram, hello_prog, sizeof hello_prog);

    e.buf[0x800] = 1; /* not a header, not padding: would be lost */
    memset(f->m->ram, 0, 64);
    expect_elf_error(f, e.buf, e.len, "lies outside RAM");
    free(e.buf);
}

/* Random corruption never crashes the loader (run under ASan/UBSan). */
static void test_elf_fuzz(void **state)
{
    Fix *f = *state;
    Elf e = hello_elf(RAM_BASE + 0x2000);
    uint8_t *copy = malloc(e.len);
    uint32_t seed = 12345;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(copy, e.buf, e.len);
        for (int k = 0; k < 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % e.len;
            seed = seed * 1103515245u + 12345u;
            copy[pos] = (uint8_t)(seed >> 16);
        }
        seed = seed * 1103515245u + 12345u;
        size_t len = (iter % 5 == 0) ? (seed >> 8) % e.len : e.len;
        ElfInfo info;
        (void)loader_load_elf(f->m, "kernel", copy, len, iter & 1, &info, f->err, sizeof f->err);
    }
    free(copy);
    free(e.buf);
}

static void test_raw_load(void **state)
{
    Fix *f = *state;
    assert_true(loader_load_raw(f->m, "bios", (const uint8_t *)"raw!", 4, RAM_BASE + 8, f->err, sizeof f->err));
    assert_memory_equal(f->m->ram + 8, "raw!", 4);
    assert_false(loader_load_raw(f->m, "bios", (const uint8_t *)"raw!", 4, RAM_BASE + RAM_SIZE - 2,
                                 f->err, sizeof f->err));
    assert_non_null(strstr(f->err, "bios: image of 4 bytes at 0x80fffffe does not fit in RAM"));
}

/* --- board_load --- */

static const void *dtb_in_ram(Machine *m, uint64_t addr)
{
    const void *fdt = m->ram + (addr - RAM_BASE);
    assert_int_equal(fdt_check_header(fdt), 0);
    return fdt;
}

static void test_boot_bios_none_elf(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    Elf e = hello_elf(0);
    BootImages img = {.kernel = {e.buf, e.len}};
    assert_true(board_load(m, &img, f->err, sizeof f->err));
    for (int h = 0; h < 2; h++) {
        assert_int_equal(m->harts[h]->pc, RAM_BASE);
        assert_int_equal(m->harts[h]->priv, PRV_M);
        assert_int_equal(m->harts[h]->x[10], (uint64_t)h);
    }
    uint64_t dtb = m->harts[0]->x[11];
    assert_int_equal(dtb, m->harts[1]->x[11]);
    assert_int_equal(dtb % (2 << 20), 0);
    assert_true(dtb + 0x100000 <= RAM_BASE + RAM_SIZE);
    const void *fdt = dtb_in_ram(m, dtb);
    size_t len;
    const uint8_t *blob = board_dtb(m, &len);
    assert_non_null(blob);
    assert_int_equal(len, fdt_totalsize(fdt));
    assert_memory_equal(blob, fdt, len);

    static const char *const nodes[] = {
        "/cpus/cpu@0/interrupt-controller", "/cpus/cpu@1", "/memory@80000000",
        "/soc/clint@2000000", "/soc/plic@c000000", "/soc/serial@10000000", "/soc/rtc@101000",
        "/soc/test@100000", "/soc/virtio_mmio@10001000", "/soc/virtio_mmio@10008000",
        "/poweroff", "/reboot", "/chosen",
    };
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++)
        if (fdt_path_offset(fdt, nodes[i]) < 0)
            fail_msg("node %s missing", nodes[i]);
    int chosen = fdt_path_offset(fdt, "/chosen");
    assert_string_equal(fdt_getprop(fdt, chosen, "bootargs", NULL), "console=ttyS0");
    assert_string_equal(fdt_getprop(fdt, chosen, "stdout-path", NULL), "/soc/serial@10000000");
    int plen;
    assert_non_null(fdt_getprop(fdt, chosen, "rng-seed", &plen));
    assert_int_equal(plen, 64);
    assert_null(fdt_getprop(fdt, chosen, "linux,initrd-start", NULL));
    int cpus = fdt_path_offset(fdt, "/cpus");
    assert_int_equal(fdt32_to_cpu(*(const fdt32_t *)fdt_getprop(fdt, cpus, "timebase-frequency", NULL)),
                     10000000);
    int plic = fdt_path_offset(fdt, "/soc/plic@c000000");
    assert_non_null(fdt_getprop(fdt, plic, "interrupts-extended", &plen));
    assert_int_equal(plen, 2 * 4 * 4); /* 2 harts x (M ext, S ext) x 2 cells */
    int mem = fdt_path_offset(fdt, "/memory@80000000");
    const fdt32_t *reg = fdt_getprop(fdt, mem, "reg", &plen);
    assert_int_equal(plen, 16);
    assert_int_equal(fdt32_to_cpu(reg[3]), RAM_SIZE);
    assert_null(m->htif);
    free(e.buf);

    /* run it: 'H' on the UART, then the test device exits with 0 */
    MachineStop stop = machine_run(m, 1000);
    assert_int_equal(stop, MSTOP_EXIT);
    assert_int_equal(m->exit_code, 0);
    assert_true(f->out_len >= 1);
    assert_int_equal(f->out[0], 'H');
}

static void test_boot_htif(void **state)
{
    Fix *f = *state;
    Elf e = hello_elf(RAM_BASE + 0x2000);
    BootImages img = {.kernel = {e.buf, e.len}};
    assert_true(board_load(f->m, &img, f->err, sizeof f->err));
    assert_non_null(f->m->htif);
    assert_non_null(machine_find_mmio(f->m, RAM_BASE + 0x2000));
    assert_non_null(machine_find_mmio(f->m, RAM_BASE + 0x2040));
    /* loading the same images again (a reset) keeps the device */
    assert_true(board_load(f->m, &img, f->err, sizeof f->err));
    free(e.buf);
}

static void test_boot_fw_dynamic(void **state)
{
    Fix *f = *state;
    Machine *m = f->m;
    uint8_t *bios = calloc(1, 0x30000), *kernel = calloc(1, 0x100000), *initrd = malloc(0x12345);
    memcpy(bios, "BIOS", 4);
    memcpy(kernel, "KERN", 4);
    memset(initrd, 0x5a, 0x12345);
    BootImages img = {.bios = {bios, 0x30000}, .kernel = {kernel, 0x100000}, .initrd = {initrd, 0x12345}};
    assert_true(board_load(m, &img, f->err, sizeof f->err));
    Hart *h = m->harts[1];
    assert_int_equal(h->pc, RAM_BASE);
    assert_int_equal(h->x[10], 1);
    assert_memory_equal(m->ram, "BIOS", 4);
    assert_memory_equal(m->ram + 0x200000, "KERN", 4);
    uint64_t info = h->x[12], dtb = h->x[11];
    assert_int_equal(info % 8, 0);
    assert_true(info >= RAM_BASE && info + 48 <= dtb);
    assert_int_equal(ram_u64(m, info + 0), 0x4942534f);
    assert_int_equal(ram_u64(m, info + 8), 2);
    assert_int_equal(ram_u64(m, info + 16), 0x80200000);
    assert_int_equal(ram_u64(m, info + 24), 1);
    assert_int_equal(ram_u64(m, info + 32), 0);
    assert_int_equal(ram_u64(m, info + 40), 0);
    /* initrd recorded in /chosen, page aligned, between kernel and info */
    const void *fdt = dtb_in_ram(m, dtb);
    int chosen = fdt_path_offset(fdt, "/chosen");
    const void *s = fdt_getprop(fdt, chosen, "linux,initrd-start", NULL);
    const void *e = fdt_getprop(fdt, chosen, "linux,initrd-end", NULL);
    assert_non_null(s);
    assert_non_null(e);
    fdt64_t be_start, be_end; /* properties are only 4-byte aligned */
    memcpy(&be_start, s, 8);
    memcpy(&be_end, e, 8);
    uint64_t start = fdt64_to_cpu(be_start), end = fdt64_to_cpu(be_end);
    assert_int_equal(end - start, 0x12345);
    assert_int_equal(start % 4096, 0);
    assert_true(start >= RAM_BASE + 0x300000 && end <= info);
    assert_memory_equal(m->ram + (start - RAM_BASE), initrd, 0x12345);
    free(bios);
    free(kernel);
    free(initrd);
}

static void test_boot_errors(void **state)
{
    Fix *f = *state;
    BootImages none = {0};
    assert_false(board_load(f->m, &none, f->err, sizeof f->err));
    assert_non_null(strstr(f->err, "nothing to boot"));

    uint8_t *big = calloc(1, RAM_SIZE + 1);
    BootImages too_big = {.kernel = {big, RAM_SIZE + 1}};
    assert_false(board_load(f->m, &too_big, f->err, sizeof f->err));
    assert_non_null(strstr(f->err, "kernel: image of 16777217 bytes is larger than RAM"));

    /* kernel fits, but not with the initrd and the device tree */
    BootImages crowded = {.bios = {big, 0x1000}, .kernel = {big, 0xc00000}, .initrd = {big, 0x200000}};
    assert_false(board_load(f->m, &crowded, f->err, sizeof f->err));
    assert_non_null(strstr(f->err, "RAM too small"));

    BootImages bad_dtb = {.kernel = {big, 0x1000}, .dtb = {(const uint8_t *)"not a dtb at all", 16}};
    assert_false(board_load(f->m, &bad_dtb, f->err, sizeof f->err));
    assert_string_equal(f->err, "dtb: not a valid device tree blob");

    BootImages no_kernel = {.bios = {big, 0x1000}, .initrd = {big, 0x1000}};
    assert_false(board_load(f->m, &no_kernel, f->err, sizeof f->err));

    Seg x86 = {RAM_BASE, 4, "abcd", 4};
    Elf e = make_elf(62, RAM_BASE, &x86, 1, 0);
    BootImages wrong = {.kernel = {e.buf, e.len}};
    assert_false(board_load(f->m, &wrong, f->err, sizeof f->err));
    assert_string_equal(f->err, "kernel: not a RISC-V ELF (e_machine=62)");
    free(e.buf);
    free(big);
}

static void test_boot_user_dtb(void **state)
{
    Fix *f = *state;
    /* a user tree: take a generated one, drop /chosen's content */
    Fix *g = make_fix(true, RAM_SIZE, 1, NULL);
    size_t len;
    uint8_t *user = devtree_build(g->m, false, &len, f->err, sizeof f->err);
    assert_non_null(user);
    uint8_t kernel[16] = {0};
    uint8_t initrd[100];
    memset(initrd, 1, sizeof initrd);
    BootImages img = {.kernel = {kernel, sizeof kernel}, .initrd = {initrd, sizeof initrd},
                      .dtb = {user, len}};
    assert_true(board_load(f->m, &img, f->err, sizeof f->err));
    const void *fdt = dtb_in_ram(f->m, f->m->harts[0]->x[11]);
    int chosen = fdt_path_offset(fdt, "/chosen");
    assert_string_equal(fdt_getprop(fdt, chosen, "bootargs", NULL), "console=ttyS0");
    assert_non_null(fdt_getprop(fdt, chosen, "linux,initrd-start", NULL));
    /* the user's tree has one cpu even though the machine has two */
    assert_true(fdt_path_offset(fdt, "/cpus/cpu@1") < 0);
    free(user);
    machine_free(g->m);
    free(g);
}

/* Corrupted user device trees are refused or used, never a crash. */
static void test_user_dtb_fuzz(void **state)
{
    Fix *f = *state;
    size_t len;
    uint8_t *good = devtree_build(f->m, true, &len, f->err, sizeof f->err);
    assert_non_null(good);
    uint8_t *copy = malloc(len);
    uint32_t seed = 777;
    for (int iter = 0; iter < 2000; iter++) {
        memcpy(copy, good, len);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % (iter % 3 == 0 ? 40 : len); /* often the header */
            seed = seed * 1103515245u + 12345u;
            copy[pos] = (uint8_t)(seed >> 16);
        }
        size_t out_len;
        uint8_t *out = devtree_from_user(f->m, copy, len, iter & 1, &out_len, f->err, sizeof f->err);
        if (out) {
            assert_int_equal(fdt_check_header(out), 0);
            if (iter & 1)
                (void)devtree_set_initrd(out, 1, 2);
            free(out);
        }
    }
    free(copy);
    free(good);
}

static void test_bare_board_dtb(void **state)
{
    Fix *f = make_fix(false, 1 << 20, 1, NULL); /* 1 MiB: tight placement */
    Elf e = hello_elf(0);
    BootImages img = {.kernel = {e.buf, e.len}};
    assert_true(board_load(f->m, &img, f->err, sizeof f->err));
    uint64_t dtb = f->m->harts[0]->x[11];
    assert_true(dtb >= RAM_BASE + 0x3000 && dtb < RAM_BASE + (1 << 20));
    const void *fdt = dtb_in_ram(f->m, dtb);
    assert_true(fdt_path_offset(fdt, "/soc/plic@c000000") < 0);
    assert_true(fdt_path_offset(fdt, "/soc/rtc@101000") < 0);
    assert_true(fdt_path_offset(fdt, "/soc/virtio_mmio@10001000") < 0);
    int uart = fdt_path_offset(fdt, "/soc/serial@10000000");
    assert_true(uart >= 0);
    assert_null(fdt_getprop(fdt, uart, "interrupts", NULL));
    assert_true(fdt_path_offset(fdt, "/soc/clint@2000000") >= 0);
    assert_int_equal(machine_run(f->m, 1000), MSTOP_EXIT);
    assert_int_equal(f->out[0], 'H');
    free(e.buf);
    machine_free(f->m);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_elf_load_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elf_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elf_header_page_below_ram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elf_fuzz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boot_bios_none_elf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boot_htif, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boot_fw_dynamic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boot_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boot_user_dtb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_dtb_fuzz, setup, teardown),
        cmocka_unit_test(test_bare_board_dtb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
