/*
 * board.c - builds the two boards and boots them like QEMU's virt machine.
 *
 * Memory map (both boards; the minimal board has only the first four):
 *   0x00100000  SiFive test/finisher      0x02000000  CLINT
 *   0x10000000  NS16550A UART (irq 10)    0x80000000  RAM
 *   0x00101000  goldfish RTC (irq 11)     0x0c000000  PLIC
 *   0x10001000  8 virtio-mmio slots (irq 1..8), stride 0x1000
 *   tohost/fromhost: HTIF, when the booted ELF defines `tohost`
 *
 * Boot layout in RAM (QEMU virt):
 *   RAM_BASE            bios (ELF at its addresses, or raw)
 *   align2M(bios end)   kernel (raw Image; an ELF loads at its addresses)
 *   ...                 initrd, page aligned, ending below the info block
 *   dtb_addr - 64       struct fw_dynamic_info (OpenSBI handoff)
 *   dtb_addr            device tree: 2 MiB aligned, at least 1 MiB below
 *                       min(RAM end, 3 GiB) so firmware can grow it in place
 * Every hart starts in M-mode with a0 = hartid, a1 = dtb_addr, a2 = info
 * address, at RAM_BASE (bios) or the kernel entry (-bios none). QEMU puts
 * these in a reset ROM at 0x1000; setting the registers is equivalent.
 *
 * Invariants: devices are created once by board_init(); their state is
 * saved, loaded, digested and reset in the one fixed order of
 * device_table(); a device's presence is part of the saved state.
 */
#include "machine/board.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/dev/clint.h"
#include "machine/fdt.h"
#include "machine/dev/goldfish_rtc.h"
#include "machine/cpu/hart.h"
#include "machine/dev/htif.h"
#include "machine/loader.h"
#include "machine/dev/plic.h"
#include "machine/dev/sifive_test.h"
#include "machine/dev/uart16550.h"
#include "machine/dev/virtio_blk.h"
#include "machine/dev/virtio_console.h"
#include "machine/dev/virtio_mmio.h"
#include "machine/dev/virtio_net.h"
#include "machine/dev/virtio_rng.h"

#define MiB (1024ull * 1024)
#define KERNEL_ALIGN (2 * MiB)
#define DTB_ALIGN (2 * MiB)
#define DTB_ROOM (1 * MiB)         /* free RAM left for firmware to grow the dtb */
#define DTB_SMALL_ROOM (64 * 1024) /* the same on boards too small for DTB_ROOM */
#define DTB_TOP_LIMIT 0xc0000000ull /* QEMU keeps the dtb below 3 GiB */
#define INITRD_ALIGN 4096ull
#define FW_INFO_SIZE 64             /* struct fw_dynamic_info, padded */
#define FW_DYNAMIC_INFO_MAGIC 0x4942534full
#define FW_DYNAMIC_INFO_VERSION 2
#define FW_DYNAMIC_NEXT_MODE_S 1

struct Board {
    VirtioMmio *virtio; /* NULL on the minimal board */
    uint8_t *dtb;
    size_t dtb_len;
    uint64_t dtb_addr, info_addr;
};

/* --- virtio device models: one line per model --- */

typedef VirtioDev *(*VirtioCreateFn)(Machine *m, int index, const MachineDeviceConfig *c, char *err,
                                     size_t errlen);
typedef struct VirtioModel {
    int kind;         /* MachineDeviceKind */
    const char *name; /* QEMU's -device name */
    VirtioCreateFn create;
} VirtioModel;

static const VirtioModel virtio_models[] = {
    {MDEV_VIRTIO_BLK, "virtio-blk-device", virtio_blk_create},
    {MDEV_VIRTIO_RNG, "virtio-rng-device", virtio_rng_create},
    {MDEV_VIRTIO_NET, "virtio-net-device", virtio_net_create},
    {MDEV_VIRTIO_CONSOLE, "virtio-serial-device", virtio_console_create},
};
#define NUM_VIRTIO_MODELS (sizeof virtio_models / sizeof virtio_models[0])

static const VirtioModel *model_of_kind(int kind)
{
    for (size_t i = 0; i < NUM_VIRTIO_MODELS; i++)
        if (virtio_models[i].kind == kind)
            return &virtio_models[i];
    return NULL;
}

const char *board_device_name(int kind)
{
    const VirtioModel *mod = model_of_kind(kind);
    return mod ? mod->name : NULL;
}

int board_device_kind(const char *name)
{
    for (size_t i = 0; i < NUM_VIRTIO_MODELS; i++)
        if (strcmp(virtio_models[i].name, name) == 0)
            return virtio_models[i].kind;
    return MDEV_NONE;
}

int board_device_slot(int index) { return VIRTIO_MMIO_SLOTS - 1 - index; }

VirtioDev *board_virtio_device(Machine *m, int index)
{
    if (!m->board || !m->board->virtio || index < 0 || index >= m->cfg.ndevices)
        return NULL;
    return m->board->virtio->dev[board_device_slot(index)];
}

/* Create cfg.devices into the slots, the first device in the highest slot
 * (QEMU: the first -device gets the lowest Linux name). */
static bool create_virtio_devices(Machine *m, char *err, size_t errlen)
{
    const MachineConfig *c = &m->cfg;
    if (c->ndevices < 0 || c->ndevices > VIRTIO_MMIO_SLOTS) {
        snprintf(err, errlen, "board: %d devices, the virt board has %d virtio slots", c->ndevices,
                 VIRTIO_MMIO_SLOTS);
        return false;
    }
    if (c->ndevices && !m->board->virtio) {
        snprintf(err, errlen, "board: virtio devices need the virt board");
        return false;
    }
    for (int i = 0; i < c->ndevices; i++) {
        const VirtioModel *mod = model_of_kind(c->devices[i].kind);
        if (!mod) {
            snprintf(err, errlen, "board: device %d has an unknown kind %d", i, c->devices[i].kind);
            return false;
        }
        VirtioDev *d = mod->create(m, i, &c->devices[i], err, errlen);
        if (!d)
            return false;
        if (!virtio_mmio_plug(m->board->virtio, m, board_device_slot(i), d)) {
            if (d->cls->free)
                d->cls->free(d);
            snprintf(err, errlen, "board: %s: no free virtio slot or timer", mod->name);
            return false;
        }
    }
    return true;
}

static uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }
static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static unsigned long long ull(uint64_t v) { return (unsigned long long)v; }

static bool add_region(Machine *m, uint64_t base, uint64_t size, void *dev,
                       bool (*rd)(void *, uint64_t, int, uint64_t *),
                       bool (*wr)(void *, uint64_t, int, uint64_t), const char *name)
{
    MmioRegion r = {.base = base, .size = size, .dev = dev, .read = rd, .write = wr, .name = name};
    return machine_add_mmio(m, &r) >= 0;
}

bool board_init(Machine *m, char *err, size_t errlen)
{
    int nharts = m->cfg.nharts;
    if (nharts < 1 || nharts > MACHINE_MAX_HARTS) {
        snprintf(err, errlen, "board: %d harts requested, supported 1..%d", nharts, MACHINE_MAX_HARTS);
        return false;
    }
    m->board = calloc(1, sizeof *m->board);
    m->uart = uart16550_new(m, UART16550_IRQ);
    m->test = sifive_test_new(m);
    m->clint = clint_new(m, nharts);
    if (m->cfg.board_virt) {
        m->plic = plic_new(m, nharts);
        m->rtc = goldfish_rtc_new(m, GOLDFISH_RTC_IRQ);
        if (m->board)
            m->board->virtio = virtio_mmio_new(m);
    }
    if (!m->board || !m->uart || !m->test || !m->clint ||
        (m->cfg.board_virt && (!m->plic || !m->rtc || !m->board->virtio))) {
        snprintf(err, errlen, "board: out of memory");
        board_free(m);
        return false;
    }
    bool ok = add_region(m, SIFIVE_TEST_BASE, SIFIVE_TEST_SIZE, m->test, sifive_test_read,
                         sifive_test_write, "test") &&
              add_region(m, CLINT_BASE, CLINT_SIZE, m->clint, clint_read, clint_write, "clint") &&
              add_region(m, UART16550_BASE, UART16550_MMIO_SIZE, m->uart, uart16550_read,
                         uart16550_write, "uart");
    if (ok && m->cfg.board_virt) {
        ok = add_region(m, GOLDFISH_RTC_BASE, GOLDFISH_RTC_SIZE, m->rtc, goldfish_rtc_read,
                        goldfish_rtc_write, "rtc") &&
             add_region(m, PLIC_BASE, PLIC_SIZE, m->plic, plic_read, plic_write, "plic");
        for (int i = 0; ok && i < VIRTIO_MMIO_SLOTS; i++) {
            VirtioMmioSlot *s = &m->board->virtio->slot[i];
            ok = add_region(m, virtio_mmio_slot_base(i), VIRTIO_MMIO_STRIDE, s, virtio_mmio_read,
                            virtio_mmio_write, "virtio-mmio");
        }
    }
    if (!ok) {
        snprintf(err, errlen, "board: too many MMIO regions");
        board_free(m);
        return false;
    }
    if (!create_virtio_devices(m, err, errlen)) {
        board_free(m);
        return false;
    }
    return true;
}

void board_free(Machine *m)
{
    uart16550_free(m->uart);
    sifive_test_free(m->test);
    clint_free(m->clint);
    plic_free(m->plic);
    goldfish_rtc_free(m->rtc);
    htif_free(m->htif);
    m->uart = NULL;
    m->test = NULL;
    m->clint = NULL;
    m->plic = NULL;
    m->rtc = NULL;
    m->htif = NULL;
    if (m->board) {
        virtio_mmio_free(m->board->virtio);
        free(m->board->dtb);
        free(m->board);
        m->board = NULL;
    }
}

void board_reset_devices(Machine *m)
{
    if (m->uart)
        uart16550_reset(m->uart);
    if (m->clint)
        clint_reset(m->clint);
    if (m->plic)
        plic_reset(m->plic);
    if (m->rtc)
        goldfish_rtc_reset(m->rtc);
    if (m->htif)
        m->htif->tohost = m->htif->fromhost = 0;
    if (m->board && m->board->virtio)
        virtio_mmio_reset(m->board->virtio);
}

const uint8_t *board_dtb(const Machine *m, size_t *len)
{
    if (!m->board || !m->board->dtb) {
        *len = 0;
        return NULL;
    }
    *len = m->board->dtb_len;
    return m->board->dtb;
}

/* Load an image that is an ELF (at its addresses) or raw (at raw_addr). */
static bool load_image(Machine *m, const char *what, const BootImage *img, uint64_t raw_addr,
                       bool kernel_translate, ElfInfo *info, char *err, size_t errlen)
{
    if (loader_is_elf(img->data, img->len))
        return loader_load_elf(m, what, img->data, img->len, kernel_translate, info, err, errlen);
    if (img->len > m->ram_size) {
        snprintf(err, errlen, "%s: image of %zu bytes is larger than RAM (%llu bytes)", what,
                 img->len, ull(m->ram_size));
        return false;
    }
    memset(info, 0, sizeof *info);
    info->entry = info->lo = raw_addr;
    info->hi = raw_addr + img->len;
    return loader_load_raw(m, what, img->data, img->len, raw_addr, err, errlen);
}

static bool setup_htif(Machine *m, const ElfInfo *info, char *err, size_t errlen)
{
    if (!info->has_tohost)
        return true;
    uint64_t from = info->has_fromhost ? info->fromhost : 0;
    if (m->htif) { /* loading again (reset): keep the device if it matches */
        if (m->htif->tohost_addr == info->tohost && m->htif->fromhost_addr == from) {
            m->htif->tohost = m->htif->fromhost = 0;
            return true;
        }
        snprintf(err, errlen, "kernel: tohost moved since the board was first loaded");
        return false;
    }
    m->htif = htif_new(m, info->tohost, from, err, errlen);
    return m->htif != NULL;
}

static bool write_fw_dynamic_info(Machine *m, uint64_t addr, uint64_t next_addr)
{
    uint64_t words[FW_INFO_SIZE / 8] = {
        FW_DYNAMIC_INFO_MAGIC, FW_DYNAMIC_INFO_VERSION, next_addr, FW_DYNAMIC_NEXT_MODE_S,
        0 /* options */, 0 /* boot_hart, as QEMU */,
    };
    uint8_t bytes[FW_INFO_SIZE];
    for (size_t i = 0; i < FW_INFO_SIZE; i++)
        bytes[i] = (uint8_t)(words[i / 8] >> (8 * (i % 8)));
    return machine_phys_write(m, addr, bytes, sizeof bytes);
}

/* Place dtb, info block and initrd top-down above `used_end`. */
static bool place_boot_data(Machine *m, uint64_t used_end, size_t dtb_len, size_t initrd_len,
                            uint64_t *dtb_addr, uint64_t *info_addr, uint64_t *initrd_addr,
                            char *err, size_t errlen)
{
    uint64_t ram_end = RAM_BASE + m->ram_size;
    uint64_t top = ram_end < DTB_TOP_LIMIT ? ram_end : DTB_TOP_LIMIT;
    /* the initrd gets one extra page of slack for its start alignment */
    uint64_t below = FW_INFO_SIZE + (initrd_len ? align_up(initrd_len, INITRD_ALIGN) + INITRD_ALIGN : 0);
    uint64_t need = used_end - RAM_BASE + below + dtb_len + DTB_SMALL_ROOM + 8;
    if (top <= used_end || need > top - RAM_BASE) {
        snprintf(err, errlen,
                 "RAM too small (-m): images, initrd and device tree need %llu KiB below 0x%llx, RAM is %llu KiB",
                 ull(need / 1024), ull(top), ull(m->ram_size / 1024));
        return false;
    }
    uint64_t room = dtb_len > DTB_ROOM ? dtb_len : DTB_ROOM;
    uint64_t addr = top - used_end >= room + below ? align_down(top - room, DTB_ALIGN) : 0;
    if (addr < used_end + below) /* small RAM: pack tightly under the top */
        addr = align_down(top - dtb_len - DTB_SMALL_ROOM, 8);
    assert(addr >= used_end + below && addr + dtb_len <= top);
    *dtb_addr = addr;
    *info_addr = addr - FW_INFO_SIZE;
    *initrd_addr = 0;
    if (initrd_len) {
        *initrd_addr = align_down(*info_addr - initrd_len, INITRD_ALIGN);
        assert(*initrd_addr >= used_end);
    }
    return true;
}

bool board_load(Machine *m, const BootImages *img, char *err, size_t errlen)
{
    struct Board *b = m->board;
    assert(b);
    bool has_bios = img->bios.data != NULL, has_kernel = img->kernel.data != NULL;
    bool has_initrd = img->initrd.data != NULL;
    if (!has_bios && !has_kernel) {
        snprintf(err, errlen, "nothing to boot: give a kernel, or a bios");
        return false;
    }
    if (has_initrd && !has_kernel) {
        snprintf(err, errlen, "initrd: an initrd needs a kernel");
        return false;
    }

    ElfInfo bios = {0}, kernel = {0};
    uint64_t start_pc = RAM_BASE, used_end = RAM_BASE, next_addr = 0;
    if (has_bios) {
        if (!load_image(m, "bios", &img->bios, RAM_BASE, false, &bios, err, errlen))
            return false;
        start_pc = bios.entry;
        used_end = bios.hi;
    }
    if (has_kernel) {
        uint64_t kernel_start = has_bios ? align_up(used_end, KERNEL_ALIGN) : RAM_BASE;
        if (kernel_start >= RAM_BASE + m->ram_size) {
            snprintf(err, errlen, "kernel: RAM too small (-m): no room after the bios (ends at 0x%llx)",
                     ull(used_end));
            return false;
        }
        if (!load_image(m, "kernel", &img->kernel, kernel_start, true, &kernel, err, errlen))
            return false;
        if (has_bios && kernel.lo < bios.hi && bios.lo < kernel.hi) {
            snprintf(err, errlen, "kernel: loaded at 0x%llx-0x%llx, overlapping the bios at 0x%llx-0x%llx",
                     ull(kernel.lo), ull(kernel.hi - 1), ull(bios.lo), ull(bios.hi - 1));
            return false;
        }
        next_addr = kernel.entry;
        if (!has_bios)
            start_pc = kernel.entry;
        if (kernel.hi > used_end)
            used_end = kernel.hi;
    }
    if (!setup_htif(m, kernel.has_tohost ? &kernel : &bios, err, errlen))
        return false;

    size_t dtb_len = 0;
    uint8_t *dtb = img->dtb.data
                       ? devtree_from_user(m, img->dtb.data, img->dtb.len, has_initrd, &dtb_len, err, errlen)
                       : devtree_build(m, has_initrd, &dtb_len, err, errlen);
    if (!dtb)
        return false;
    uint64_t dtb_addr, info_addr, initrd_addr;
    if (!place_boot_data(m, used_end, dtb_len, img->initrd.len, &dtb_addr, &info_addr, &initrd_addr,
                         err, errlen)) {
        free(dtb);
        return false;
    }
    if (has_initrd) {
        if (!loader_load_raw(m, "initrd", img->initrd.data, img->initrd.len, initrd_addr, err, errlen)) {
            free(dtb);
            return false;
        }
        if (!devtree_set_initrd(dtb, initrd_addr, initrd_addr + img->initrd.len)) {
            snprintf(err, errlen, "initrd: could not record it in the device tree");
            free(dtb);
            return false;
        }
    }
    if (!machine_phys_write(m, dtb_addr, dtb, dtb_len) ||
        !write_fw_dynamic_info(m, info_addr, next_addr)) {
        snprintf(err, errlen, "dtb: could not write it to RAM at 0x%llx", ull(dtb_addr));
        free(dtb);
        return false;
    }
    free(b->dtb);
    b->dtb = dtb;
    b->dtb_len = dtb_len;
    b->dtb_addr = dtb_addr;
    b->info_addr = info_addr;

    for (int h = 0; h < m->nharts; h++) {
        Hart *hart = m->harts[h];
        assert(hart);
        hart_reset(hart, start_pc);
        hart->x[10] = (uint64_t)h;
        hart->x[11] = dtb_addr;
        hart->x[12] = info_addr;
    }
    return true;
}

/* --- device state, in one fixed order --- */

typedef struct DeviceOps {
    const char *name;
    bool (*present)(const Machine *m);
    void (*save)(const Machine *m, SerWriter *w);
    bool (*load)(Machine *m, SerReader *r);
    /* optional: what digests hash instead of save's bytes (see
     * VirtioDevClass.save_digest) */
    void (*digest)(const Machine *m, SerWriter *w);
} DeviceOps;

static bool has_uart(const Machine *m) { return m->uart != NULL; }
static bool has_clint(const Machine *m) { return m->clint != NULL; }
static bool has_plic(const Machine *m) { return m->plic != NULL; }
static bool has_rtc(const Machine *m) { return m->rtc != NULL; }
static bool has_test(const Machine *m) { return m->test != NULL; }
static bool has_htif(const Machine *m) { return m->htif != NULL; }
static bool has_virtio(const Machine *m) { return m->board && m->board->virtio; }

static void save_uart(const Machine *m, SerWriter *w) { uart16550_save(m->uart, w); }
static void save_clint(const Machine *m, SerWriter *w) { clint_save(m->clint, w); }
static void save_plic(const Machine *m, SerWriter *w) { plic_save(m->plic, w); }
static void save_rtc(const Machine *m, SerWriter *w) { goldfish_rtc_save(m->rtc, w); }
static void save_test(const Machine *m, SerWriter *w) { sifive_test_save(m->test, w); }
static void save_htif(const Machine *m, SerWriter *w) { htif_save(m->htif, w); }
static void save_virtio(const Machine *m, SerWriter *w) { virtio_mmio_save(m->board->virtio, w); }
static void digest_virtio(const Machine *m, SerWriter *w) { virtio_mmio_save_digest(m->board->virtio, w); }

static bool load_uart(Machine *m, SerReader *r) { return uart16550_load(m->uart, r); }
static bool load_clint(Machine *m, SerReader *r) { return clint_load(m->clint, r); }
static bool load_plic(Machine *m, SerReader *r) { return plic_load(m->plic, r); }
static bool load_rtc(Machine *m, SerReader *r) { return goldfish_rtc_load(m->rtc, r); }
static bool load_test(Machine *m, SerReader *r) { return sifive_test_load(m->test, r); }
static bool load_htif(Machine *m, SerReader *r) { return htif_load(m->htif, r); }
static bool load_virtio(Machine *m, SerReader *r) { return virtio_mmio_load(m->board->virtio, r); }

static const DeviceOps device_table[] = {
    {"uart", has_uart, save_uart, load_uart, NULL},
    {"clint", has_clint, save_clint, load_clint, NULL},
    {"plic", has_plic, save_plic, load_plic, NULL},
    {"rtc", has_rtc, save_rtc, load_rtc, NULL},
    {"test", has_test, save_test, load_test, NULL},
    {"htif", has_htif, save_htif, load_htif, NULL},
    {"virtio", has_virtio, save_virtio, load_virtio, digest_virtio},
};
#define NUM_DEVICES (sizeof device_table / sizeof device_table[0])

void board_save_devices(const Machine *m, SerWriter *w)
{
    ser_put_tag(w, "DEVS", 1);
    for (size_t i = 0; i < NUM_DEVICES; i++) {
        bool present = device_table[i].present(m);
        ser_put_u8(w, present);
        if (present)
            device_table[i].save(m, w);
    }
}

bool board_load_devices(Machine *m, SerReader *r)
{
    if (ser_get_tag(r, "DEVS") != 1)
        ser_fail(r, "device state has an unknown version");
    for (size_t i = 0; i < NUM_DEVICES && ser_ok(r); i++) {
        bool present = device_table[i].present(m);
        if ((ser_get_u8(r) != 0) != present) {
            ser_fail(r, "device state is for a different board (device set differs)");
            break;
        }
        if (present)
            device_table[i].load(m, r);
    }
    return ser_ok(r);
}

void board_foreach_device_state(const Machine *m,
                                void (*fn)(void *ctx, const char *name, const uint8_t *p, size_t n),
                                void *ctx)
{
    for (size_t i = 0; i < NUM_DEVICES; i++) {
        if (!device_table[i].present(m))
            continue;
        SerWriter w;
        ser_writer_init(&w);
        (device_table[i].digest ? device_table[i].digest : device_table[i].save)(m, &w);
        fn(ctx, device_table[i].name, w.buf, w.len);
        ser_writer_free(&w);
    }
    /* each virtio device once more under its own name, so a divergence
     * report names the device (say, the network card) and not just the
     * slots as a whole; a board without devices digests as before */
    const VirtioMmio *v = m->board ? m->board->virtio : NULL;
    for (int i = 0; v && i < VIRTIO_MMIO_SLOTS; i++) {
        if (!v->dev[i])
            continue;
        SerWriter w;
        ser_writer_init(&w);
        virtio_mmio_save_one_digest(v->dev[i], &w);
        char name[64];
        snprintf(name, sizeof name, "%s@%llx", v->dev[i]->cls->name, (unsigned long long)virtio_mmio_slot_base(i));
        fn(ctx, name, w.buf, w.len);
        ser_writer_free(&w);
    }
}
