/*
 * fuzz_virtio.c - libFuzzer harness for the virtio-mmio transport and every
 * virtio device model the board knows (board.c's virtio_models[]): a hostile
 * driver, without a hart, drives them through a small bytecode.
 *
 * Each input builds a virt machine (1 hart, 1 MiB of RAM) holding one device
 * of every kind board_device_name() knows, in an order the first input byte
 * rotates (so each kind visits several slots), with guard pages around RAM
 * where the address space allows. Then it runs ops until the input ends:
 *
 *   op  operands                          what
 *   0   slot reg val32                    MMIO register write (4 bytes)
 *   1   slot reg size                     MMIO register read, any width
 *   2   addr16 len8 bytes...              arbitrary bytes into guest RAM
 *   3   slot q                            QueueNotify
 *   4   ns16                              virtual time passes (device timers)
 *   5   -                                 machine_save, load, save: identical
 *   6   slot                              device reset (status 0)
 *   7   slot feat q log2num               a well-formed driver init
 *   8   slot q idx addr16 len16 flags next   one descriptor, in the queue's
 *                                            table or the indirect area,
 *                                            pointing anywhere or into
 *                                            the queue's own rings
 *   13  pos16 xor8                        save, corrupt one byte of the
 *                                         virtio state, load: refused and
 *                                         unchanged, or accepted and then
 *                                         fuzzed on
 *   9   slot q head                       offer a chain (avail ring, idx++)
 *   10  slot off size val32               config space write
 *   11  slot                              read and ack the interrupt status
 *   12  slot q ev16                       used_event (EVENT_IDX) / avail flags
 *
 * After every op: the host did not crash or touch memory outside RAM (ASan,
 * guard pages), NEEDS_RESET is set exactly when the device has a reason, a
 * ready queue's rings lie in RAM, each device's PLIC line is high exactly
 * when its interrupt status is nonzero, and an op in which only devices
 * write guest memory left every ready avail ring as it was. At the end a machine reset
 * must give the device state of a freshly built machine.
 *
 * A device kind that needs configuration (disk size, ports) gets it from
 * kind_setup[]; adding a kind to the board adds it here with no change, or
 * with one line there. scripts/run-fuzz-virtio builds this file twice: the
 * harness, and with -DFUZZ_SEED_GENERATOR a writer of well-formed driver
 * sequences as seeds.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "machine/board.h"
#include "machine/dev/plic.h"
#include "machine/dev/virtio_console.h"
#include "machine/dev/virtio_mmio.h"
#include "machine/dev/virtio_net.h"
#include "machine/machine.h"
#include "util/le.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_virtio: check failed: %s (line %d)\n", #c, __LINE__);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define RAM_SIZE (1ull << 20)
#define RAM_END (RAM_BASE + RAM_SIZE)
#define GUARD 0x10000ull
/* the driver's memory: rings per (slot, queue), indirect tables, buffers */
#define RINGS (RAM_BASE + 0x10000)
#define RING_STRIDE 0x3000ull /* desc 4 KiB, avail 4 KiB, used 4 KiB */
#define DRIVER_QUEUES 4       /* queues per device the driver ops reach */
#define INDIRECT (RAM_BASE + 0x70000)
#define BUFFERS (RAM_BASE + 0x80000)

enum { OP_WRITE_REG, OP_READ_REG, OP_WRITE_RAM, OP_NOTIFY, OP_ADVANCE, OP_SAVE_LOAD, OP_RESET,
       OP_DRIVER_INIT, OP_DESC, OP_OFFER, OP_CONFIG_WRITE, OP_ACK, OP_EVENT, OP_LOAD_CORRUPT,
       OP_HOST_INPUT, OP_COUNT };

/* --- device kinds --- */

/* Configuration a kind needs beyond its kind number; one line per kind
 * that needs any. Kinds the board does not know are skipped. */
static void setup_blk(MachineDeviceConfig *c) { c->size = 64 * 512; }
static void setup_console(MachineDeviceConfig *c) { c->nports = 2; }
static const struct {
    int kind;
    void (*setup)(MachineDeviceConfig *c);
} kind_setup[] = {
    {MDEV_VIRTIO_BLK, setup_blk},
    {MDEV_VIRTIO_CONSOLE, setup_console},
};

static void setup_kind(MachineDeviceConfig *c)
{
    for (size_t i = 0; i < sizeof kind_setup / sizeof kind_setup[0]; i++)
        if (kind_setup[i].kind == c->kind)
            kind_setup[i].setup(c);
}

/* Every kind the board can create, in kind order. */
static int known_kinds(int *kinds)
{
    int n = 0;
    for (int k = MDEV_NONE + 1; k < MDEV_KIND_COUNT && n < MACHINE_MAX_DEVICES; k++)
        if (board_device_name(k))
            kinds[n++] = k;
    return n;
}

/* --- host stubs: deterministic, never failing --- */

static uint32_t rng_calls;
static uint64_t host_wallclock(void *opaque) { return 1767225600000000000ull; }
static void host_random(void *opaque, uint8_t *buf, size_t n)
{
    rng_calls++;
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(rng_calls * 13 + i * 7);
}
static void host_console(void *opaque, const uint8_t *buf, size_t n) {}
static bool host_disk_read(void *opaque, int dev, uint64_t offset, void *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)buf)[i] = (uint8_t)((offset + i) * 3 + (uint64_t)dev);
    return true;
}
static void host_port_write(void *opaque, int dev, int port, const uint8_t *buf, size_t n) {}
static void host_net_send(void *opaque, int dev, const uint8_t *frame, size_t n) {}

/* --- the machine under test --- */

typedef struct DriverQueue {
    uint32_t num;       /* 0: not set up by OP_DRIVER_INIT */
    uint16_t avail_idx; /* the driver's shadow of avail->idx */
} DriverQueue;

typedef struct Rig {
    Machine *m;
    int ndev;
    int slot_of[MACHINE_MAX_DEVICES]; /* device index -> slot */
    DriverQueue dq[VIRTIO_MMIO_SLOTS][DRIVER_QUEUES];
    void *guard[2];
} Rig;

static Machine *build(const int *kinds, int n)
{
    MachineConfig cfg = {.ram_size = RAM_SIZE, .nharts = 1, .board_virt = true, .quantum = 1000};
    cfg.ndevices = n;
    for (int i = 0; i < n; i++) {
        cfg.devices[i].kind = kinds[i];
        setup_kind(&cfg.devices[i]);
    }
    MachineHostIf host = {.wallclock_ns = host_wallclock, .random_bytes = host_random,
                          .console_write = host_console, .disk_read = host_disk_read,
                          .port_write = host_port_write, .net_send = host_net_send};
    Machine *m = machine_new(&cfg, &host);
    CHECK(m);
    return m;
}

/* PROT_NONE pages right before and after RAM, where nothing is mapped:
 * a host access just outside RAM faults instead of going unnoticed (ASan
 * does not guard mmap'd memory). */
static void *guard_at(void *addr)
{
    void *p = mmap(addr, GUARD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    return p == addr ? p : NULL;
}

static void rig_open(Rig *g, uint8_t rotate)
{
    int kinds[MACHINE_MAX_DEVICES], order[MACHINE_MAX_DEVICES];
    int n = known_kinds(kinds);
    CHECK(n > 0);
    memset(g, 0, sizeof *g);
    for (int i = 0; i < n; i++)
        order[i] = kinds[(i + rotate) % n];
    g->m = build(order, n);
    g->ndev = n;
    for (int i = 0; i < n; i++)
        g->slot_of[i] = board_device_slot(i);
    g->guard[0] = guard_at(g->m->ram - GUARD);
    g->guard[1] = guard_at(g->m->ram + RAM_SIZE);
}

static void rig_close(Rig *g)
{
    for (int i = 0; i < 2; i++)
        if (g->guard[i])
            munmap(g->guard[i], GUARD);
    machine_free(g->m);
}

static VirtioDev *dev_at(Rig *g, int slot)
{
    const MmioRegion *r = machine_find_mmio(g->m, virtio_mmio_slot_base(slot));
    CHECK(r);
    const VirtioMmioSlot *s = r->dev;
    return s->v->dev[s->index];
}

static void reg_write(Rig *g, int slot, uint64_t off, int size, uint64_t val)
{
    const MmioRegion *r = machine_find_mmio(g->m, virtio_mmio_slot_base(slot));
    CHECK(r && r->write(r->dev, off, size, val));
}

static uint64_t reg_read(Rig *g, int slot, uint64_t off, int size)
{
    const MmioRegion *r = machine_find_mmio(g->m, virtio_mmio_slot_base(slot));
    uint64_t v = 0;
    CHECK(r && r->read(r->dev, off, size, &v));
    return v;
}

static void put16(Rig *g, uint64_t addr, uint16_t v)
{
    uint8_t b[2];
    put_le16(b, v);
    machine_phys_write(g->m, addr, b, 2);
}

static uint64_t desc_table(int slot, int q) { return RINGS + RING_STRIDE * (uint64_t)(slot * DRIVER_QUEUES + q); }
static uint64_t avail_ring(int slot, int q) { return desc_table(slot, q) + 0x1000; }
static uint64_t used_ring(int slot, int q) { return desc_table(slot, q) + 0x2000; }

/* --- the input --- */

typedef struct Input {
    const uint8_t *p;
    size_t n;
} Input;

static bool more(const Input *in) { return in->n > 0; }
static uint8_t u8(Input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}
static uint16_t u16(Input *in) { return (uint16_t)(u8(in) | u8(in) << 8); }
static uint32_t u32(Input *in) { return (uint32_t)u16(in) | (uint32_t)u16(in) << 16; }

/* Mostly slots with a device, sometimes an empty one. */
static int pick_slot(Rig *g, uint8_t b)
{
    if (b >= 0xf0)
        return b & 7;
    return g->slot_of[b % g->ndev];
}

/* Guest addresses: mostly the driver's areas, some at and past the edges. */
static uint64_t pick_addr(uint16_t v)
{
    uint64_t low = v & 0xfff;
    switch (v >> 12) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7:
        return BUFFERS + (uint64_t)(v & 0x7fff) * 16 % (RAM_END - BUFFERS);
    case 8: case 9:
        return RAM_BASE + ((uint64_t)(v & 0x1fff) << 7); /* anywhere, rings included */
    case 10:
        return RAM_END - low; /* across the end */
    case 11:
        return RAM_BASE - low; /* across the start */
    case 12:
        return 0 - low; /* wrapping */
    case 13:
        return VIRTIO_MMIO_BASE + low * 8; /* device registers */
    case 14:
        return INDIRECT + low * 16;
    default:
        return low << 32 | low;
    }
}

static uint32_t pick_len(uint16_t v)
{
    if (v & 0x8000)
        return (uint32_t)(v & 0x7fff) << 17; /* huge */
    return v & 0x1fff;
}

static uint64_t offered(Rig *g, int slot)
{
    reg_write(g, slot, 0x014, 4, 0);
    uint64_t lo = reg_read(g, slot, 0x010, 4);
    reg_write(g, slot, 0x014, 4, 1);
    return lo | reg_read(g, slot, 0x010, 4) << 32;
}

/* The Linux driver's sequence, queues 0..nq-1 at the driver's ring areas. */
static void driver_init(Rig *g, int slot, uint8_t feat, uint8_t nq, uint8_t log2num)
{
    reg_write(g, slot, 0x070, 4, 0);
    reg_write(g, slot, 0x070, 4, 1);
    reg_write(g, slot, 0x070, 4, 3);
    uint64_t f = offered(g, slot);
    if (!(feat & 1))
        f &= ~(1ull << VIRTIO_F_RING_INDIRECT_DESC);
    if (!(feat & 2))
        f &= ~(1ull << VIRTIO_F_RING_EVENT_IDX);
    if (feat & 4)
        f &= (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC) |
             (1ull << VIRTIO_F_RING_EVENT_IDX); /* no device features */
    if (feat & 8)
        f |= 1ull << (feat >> 4); /* perhaps one never offered */
    reg_write(g, slot, 0x024, 4, 0);
    reg_write(g, slot, 0x020, 4, (uint32_t)f);
    reg_write(g, slot, 0x024, 4, 1);
    reg_write(g, slot, 0x020, 4, (uint32_t)(f >> 32));
    reg_write(g, slot, 0x070, 4, 0xb);
    for (int q = 0; q < DRIVER_QUEUES; q++)
        g->dq[slot][q].num = 0;
    for (int q = 0; q < nq % (DRIVER_QUEUES + 1); q++) {
        reg_write(g, slot, 0x030, 4, (uint64_t)q);
        uint32_t max = (uint32_t)reg_read(g, slot, 0x034, 4);
        if (!max)
            break;
        uint32_t num = 1u << (log2num % 9);
        while (num > max)
            num >>= 1;
        static const uint8_t zero[RING_STRIDE];
        machine_phys_write(g->m, desc_table(slot, q), zero, sizeof zero);
        reg_write(g, slot, 0x038, 4, num);
        reg_write(g, slot, 0x080, 4, (uint32_t)desc_table(slot, q));
        reg_write(g, slot, 0x084, 4, 0);
        reg_write(g, slot, 0x090, 4, (uint32_t)avail_ring(slot, q));
        reg_write(g, slot, 0x094, 4, 0);
        reg_write(g, slot, 0x0a0, 4, (uint32_t)used_ring(slot, q));
        reg_write(g, slot, 0x0a4, 4, 0);
        reg_write(g, slot, 0x044, 4, 1);
        g->dq[slot][q] = (DriverQueue){num, 0};
    }
    reg_write(g, slot, 0x070, 4, 0xf);
}

static void op_desc(Rig *g, Input *in)
{
    int slot = pick_slot(g, u8(in));
    int q = u8(in) % DRIVER_QUEUES;
    uint8_t idx = u8(in);
    uint16_t a16 = u16(in);
    uint32_t len = pick_len(u16(in));
    uint8_t flags = u8(in), next = u8(in);
    /* flag 0x20: an address inside this queue's own rings */
    uint64_t addr = (flags & 0x20) ? desc_table(slot, q) + a16 % RING_STRIDE : pick_addr(a16);
    uint8_t b[16];
    put_le64(b, addr);
    put_le32(b + 8, len);
    put_le16(b + 12, flags & 7);
    put_le16(b + 14, (flags & 0x80) ? 0xff00u | next : next);
    /* flag 0x40: into the indirect area instead of the queue's table */
    uint64_t at = (flags & 0x40) ? INDIRECT + 16ull * idx : desc_table(slot, q) + 16ull * idx;
    machine_phys_write(g->m, at, b, 16);
}

static void op_offer(Rig *g, Input *in)
{
    int slot = pick_slot(g, u8(in));
    int q = u8(in) % DRIVER_QUEUES;
    uint16_t head = u8(in);
    DriverQueue *dq = &g->dq[slot][q];
    uint32_t num = dq->num ? dq->num : 8;
    put16(g, avail_ring(slot, q) + 4 + 2ull * (dq->avail_idx % num), head);
    dq->avail_idx++;
    put16(g, avail_ring(slot, q) + 2, dq->avail_idx);
}

static void op_event(Rig *g, Input *in)
{
    int slot = pick_slot(g, u8(in));
    uint8_t sel = u8(in);
    int q = sel % DRIVER_QUEUES;
    uint16_t ev = u16(in);
    DriverQueue *dq = &g->dq[slot][q];
    if (sel & 0x80) /* avail flags: NO_INTERRUPT */
        put16(g, avail_ring(slot, q), ev & 1);
    else
        put16(g, avail_ring(slot, q) + 4 + 2ull * (dq->num ? dq->num : 8), ev);
}

/* --- host input: what the replay layer's gates hand a device between
 * slices; one function per kind that takes any --- */

/* a frame of any length (malformed ones too: shorter than an Ethernet
 * header, longer than any frame) with fuzz bytes, repeated */
static void input_net(Rig *g, VirtioDev *d, Input *in)
{
    static uint8_t frame[VIRTIO_NET_MAX_FRAME + 64];
    uint8_t sel = u8(in);
    size_t len = sel & 1 ? u16(in) : (size_t)u8(in) * 8u;
    if (sel == 0xff)
        len = VIRTIO_NET_MAX_FRAME + 1 + u8(in) % 32;
    size_t fill = 0;
    while (fill < 64 && more(in))
        frame[fill++] = u8(in);
    for (size_t i = fill; i < len; i++)
        frame[i] = fill ? frame[i % fill] : (uint8_t)i;
    if (virtio_net_can_receive(d) || sel & 2)
        virtio_net_receive(d, frame, len);
    (void)g;
}

static void input_console(Rig *g, VirtioDev *d, Input *in)
{
    uint8_t buf[256];
    int port = u8(in) % 4; /* ports beyond the device's: refused */
    size_t n = u8(in);
    for (size_t i = 0; i < n; i++)
        buf[i] = u8(in);
    if (port < 2 && (virtio_console_can_receive(d, port) || n & 1))
        CHECK(virtio_console_receive(d, port, buf, n) <= n);
    (void)g;
}

static const struct {
    int kind;
    void (*input)(Rig *g, VirtioDev *d, Input *in);
} host_inputs[] = {
    {MDEV_VIRTIO_NET, input_net},
    {MDEV_VIRTIO_CONSOLE, input_console},
};

static void op_host_input(Rig *g, Input *in)
{
    int idx = u8(in) % g->ndev;
    VirtioDev *d = board_virtio_device(g->m, idx);
    for (size_t i = 0; d && i < sizeof host_inputs / sizeof host_inputs[0]; i++)
        if (host_inputs[i].kind == g->m->cfg.devices[idx].kind)
            host_inputs[i].input(g, d, in);
}

static void op_write_ram(Rig *g, Input *in)
{
    uint64_t addr = pick_addr(u16(in));
    uint8_t len = u8(in);
    uint8_t buf[256];
    size_t n = 0;
    while (n < len && more(in))
        buf[n++] = u8(in);
    machine_phys_write(g->m, addr, buf, n); /* refused outside RAM */
}

static void save_blob(Machine *m, SerWriter *w)
{
    ser_writer_init(w);
    machine_save(m, w);
    CHECK(!w->oom);
}

/* A save loads back and saves to the same bytes. */
static void op_save_load(Rig *g)
{
    SerWriter a, b;
    save_blob(g->m, &a);
    SerReader r;
    ser_reader_init(&r, a.buf, a.len);
    if (!machine_load(g->m, &r)) {
        fprintf(stderr, "fuzz_virtio: a saved state does not load: %s\n", r.err);
        abort();
    }
    save_blob(g->m, &b);
    CHECK(a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0);
    ser_writer_free(&a);
    ser_writer_free(&b);
}

/* A saved state with one byte changed in the virtio part (from its tag
 * on): machine_load either refuses it, leaving the machine byte-identical,
 * or accepts it, and then the state saves and loads to the same bytes and
 * must keep every invariant under the ops that follow. */
static void op_load_corrupt(Rig *g, Input *in)
{
    uint16_t pos = u16(in);
    uint8_t x = u8(in);
    SerWriter a, b;
    save_blob(g->m, &a);
    const uint8_t *tag = memmem(a.buf, a.len, "VIRT", 4);
    CHECK(tag);
    size_t base = (size_t)(tag - a.buf), at = base + pos % (a.len - base);
    uint8_t *bad = malloc(a.len);
    CHECK(bad);
    memcpy(bad, a.buf, a.len);
    bad[at] ^= x ? x : 1;
    SerReader r;
    ser_reader_init(&r, bad, a.len);
    bool ok = machine_load(g->m, &r);
    save_blob(g->m, &b);
    if (!ok)
        CHECK(r.err && a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0);
    free(bad);
    ser_writer_free(&a);
    ser_writer_free(&b);
    if (ok)
        op_save_load(g);
}

static const int sizes[4] = {1, 2, 4, 8};

static void run_op(Rig *g, Input *in)
{
    uint8_t op = u8(in) % OP_COUNT;
    switch (op) {
    case OP_WRITE_REG: {
        int slot = pick_slot(g, u8(in));
        uint64_t off = 4ull * (u8(in) & 0x3f);
        reg_write(g, slot, off, 4, u32(in));
        break;
    }
    case OP_READ_REG: {
        int slot = pick_slot(g, u8(in));
        uint8_t o = u8(in);
        int size = sizes[u8(in) & 3];
        uint64_t off = ((uint64_t)o * 4) & ~(uint64_t)(size - 1); /* registers and config */
        reg_read(g, slot, off, size);
        break;
    }
    case OP_WRITE_RAM:
        op_write_ram(g, in);
        break;
    case OP_NOTIFY: {
        int slot = pick_slot(g, u8(in));
        uint8_t q = u8(in);
        reg_write(g, slot, 0x050, 4, q < 0xf0 ? q % DRIVER_QUEUES : 0xffffff00u | q);
        break;
    }
    case OP_ADVANCE:
        machine_advance_idle(g->m, (uint64_t)u16(in) * 1000);
        break;
    case OP_SAVE_LOAD:
        op_save_load(g);
        break;
    case OP_RESET:
        reg_write(g, pick_slot(g, u8(in)), 0x070, 4, 0);
        break;
    case OP_DRIVER_INIT: {
        int slot = pick_slot(g, u8(in));
        uint8_t feat = u8(in), nq = u8(in), log2num = u8(in);
        driver_init(g, slot, feat, nq, log2num);
        break;
    }
    case OP_DESC:
        op_desc(g, in);
        break;
    case OP_OFFER:
        op_offer(g, in);
        break;
    case OP_CONFIG_WRITE: {
        int slot = pick_slot(g, u8(in));
        uint8_t o = u8(in);
        int size = sizes[u8(in) & 3];
        uint64_t off = (0x100 + (uint64_t)o) & ~(uint64_t)(size - 1);
        uint32_t v = u32(in);
        if (o & 0x80)
            reg_read(g, slot, off, size);
        else
            reg_write(g, slot, off, size, v);
        break;
    }
    case OP_ACK: {
        int slot = pick_slot(g, u8(in));
        reg_write(g, slot, 0x064, 4, reg_read(g, slot, 0x060, 4));
        break;
    }
    case OP_EVENT:
        op_event(g, in);
        break;
    case OP_LOAD_CORRUPT:
        op_load_corrupt(g, in);
        break;
    case OP_HOST_INPUT:
        op_host_input(g, in);
        break;
    }
}

/* The avail rings of ready queues, copied before an op in which only the
 * device writes guest memory: it must never write there (so one call
 * into a device pops at most queue-size chains). */
typedef struct AvailCopy {
    int n;
    uint64_t addr[VIRTIO_MMIO_SLOTS * VIRTIO_MAX_QUEUES];
    uint32_t len[VIRTIO_MMIO_SLOTS * VIRTIO_MAX_QUEUES];
    uint8_t bytes[VIRTIO_MMIO_SLOTS * VIRTIO_MAX_QUEUES][6 + 2 * VIRTIO_QUEUE_MAX_SIZE];
} AvailCopy;

static void copy_avail_rings(Rig *g, AvailCopy *c)
{
    c->n = 0;
    for (int slot = 0; slot < VIRTIO_MMIO_SLOTS; slot++) {
        VirtioDev *d = dev_at(g, slot);
        for (int q = 0; d && q < d->nqueues; q++) {
            if (!d->vq[q].ready)
                continue;
            c->addr[c->n] = d->vq[q].avail;
            c->len[c->n] = 6 + 2 * d->vq[q].num;
            CHECK(machine_phys_read(g->m, c->addr[c->n], c->bytes[c->n], c->len[c->n]));
            c->n++;
        }
    }
}

static void check_avail_rings(Rig *g, const AvailCopy *c)
{
    uint8_t now[6 + 2 * VIRTIO_QUEUE_MAX_SIZE];
    for (int i = 0; i < c->n; i++) {
        CHECK(machine_phys_read(g->m, c->addr[i], now, c->len[i]));
        CHECK(memcmp(now, c->bytes[i], c->len[i]) == 0);
    }
}

/* Ops in which the harness itself writes guest memory. */
static bool driver_writes_ram(uint8_t op)
{
    return op == OP_WRITE_RAM || op == OP_DESC || op == OP_OFFER || op == OP_EVENT || op == OP_DRIVER_INIT ||
           op == OP_LOAD_CORRUPT; /* the blob may hold RAM after the devices */
}

/* What must hold after every op. */
static void check_invariants(Rig *g)
{
    for (int slot = 0; slot < VIRTIO_MMIO_SLOTS; slot++) {
        VirtioDev *d = dev_at(g, slot);
        if (!d)
            continue;
        CHECK(!!(d->status & VIRTIO_STATUS_NEEDS_RESET) == !!d->broken[0]);
        bool line = (g->m->plic->level[d->irq / 32] >> (d->irq % 32)) & 1;
        CHECK(line == (d->interrupt_status != 0));
        CHECK(!(d->interrupt_status & ~(uint32_t)(VIRTIO_INT_USED | VIRTIO_INT_CONFIG)));
        for (int q = 0; q < d->nqueues; q++) {
            const VirtQueue *vq = &d->vq[q];
            if (!vq->ready)
                continue;
            CHECK(vq->num && !(vq->num & (vq->num - 1)) && vq->num <= VIRTIO_QUEUE_MAX_SIZE);
            CHECK(machine_is_ram(g->m, vq->desc, 16ull * vq->num));
            CHECK(machine_is_ram(g->m, vq->avail, 6 + 2ull * vq->num));
            CHECK(machine_is_ram(g->m, vq->used, 6 + 8ull * vq->num));
        }
    }
}

/* After a machine reset the devices are as on a fresh machine; the fresh
 * device state of each device order is built once. */
static void check_reset_is_fresh(Rig *g, uint8_t rotate)
{
    static SerWriter fresh[MACHINE_MAX_DEVICES];
    static bool have[MACHINE_MAX_DEVICES];
    int key = rotate % g->ndev;
    if (!have[key]) {
        Rig f;
        rig_open(&f, rotate);
        ser_writer_init(&fresh[key]);
        board_save_devices(f.m, &fresh[key]);
        CHECK(!fresh[key].oom);
        rig_close(&f);
        have[key] = true;
    }
    machine_reset(g->m);
    SerWriter a;
    ser_writer_init(&a);
    board_save_devices(g->m, &a);
    CHECK(a.len == fresh[key].len && memcmp(a.buf, fresh[key].buf, a.len) == 0);
    ser_writer_free(&a);
}

static void run_input(const uint8_t *data, size_t size)
{
    Input in = {data, size};
    uint8_t rotate = u8(&in);
    Rig g;
    rig_open(&g, rotate);
    check_invariants(&g);
    static AvailCopy avail;
    while (more(&in)) {
        bool device_only = !driver_writes_ram(in.p[0] % OP_COUNT);
        if (device_only)
            copy_avail_rings(&g, &avail);
        run_op(&g, &in);
        check_invariants(&g);
        if (device_only)
            check_avail_rings(&g, &avail);
    }
    check_reset_is_fresh(&g, rotate);
    rig_close(&g);
}

#ifndef FUZZ_SEED_GENERATOR

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_input(data, size);
    return 0;
}

#else

/* Seeds: well-formed driver sequences on each device, written as ops. */
typedef struct Seed {
    uint8_t b[1024];
    size_t n;
} Seed;

static void emit(Seed *s, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        s->b[s->n++] = (uint8_t)va_arg(ap, int);
    va_end(ap);
}

/* one writable descriptor of `len` bytes at buffer area + 16*k */
static void emit_desc(Seed *s, int dev, int q, int idx, int k, int len, int flags, int next)
{
    emit(s, 10, OP_DESC, dev, q, idx, k & 0xff, (k >> 8) & 0x7f, len & 0xff, (len >> 8) & 0x1f, flags, next);
}

static void write_seed(const char *dir, int i, const Seed *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%02d.bin", dir, i);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(s->b, 1, s->n, f) == s->n && fclose(f) == 0);
    run_input(s->b, s->n); /* every seed must pass the harness */
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    int kinds[MACHINE_MAX_DEVICES];
    int n = known_kinds(kinds), count = 0;
    for (int dev = 0; dev < n; dev++) {
        Seed s = {.n = 0};
        /* direct chains: one readable + one writable, then a single one */
        emit(&s, 1, dev);
        emit(&s, 5, OP_DRIVER_INIT, dev, 0x03, 4, 3);
        emit_desc(&s, dev, 0, 0, 0, 16, 1, 1);
        emit_desc(&s, dev, 0, 1, 4, 512, 2, 0);
        emit(&s, 4, OP_OFFER, dev, 0, 0);
        emit(&s, 3, OP_NOTIFY, dev, 0);
        emit_desc(&s, dev, 0, 2, 64, 64, 2, 0);
        emit(&s, 4, OP_OFFER, dev, 0, 2);
        emit(&s, 3, OP_NOTIFY, dev, 0);
        emit(&s, 3, OP_ADVANCE, 0x10, 0x27);
        emit(&s, 2, OP_ACK, dev);
        emit(&s, 1, OP_SAVE_LOAD);
        emit(&s, 4, OP_OFFER, dev, 1, 0);
        emit(&s, 3, OP_NOTIFY, dev, 1);
        emit(&s, 3, OP_ADVANCE, 0xff, 0xff);
        write_seed(argv[1], count++, &s);

        /* an indirect table of a readable header and two writable parts */
        s.n = 0;
        emit(&s, 1, dev);
        emit(&s, 5, OP_DRIVER_INIT, dev, 0x03, 2, 4);
        emit_desc(&s, dev, 0, 0, 0, 16, 0x41, 1);
        emit_desc(&s, dev, 0, 1, 8, 256, 0x43, 2);
        emit_desc(&s, dev, 0, 2, 32, 1, 0x42, 0);
        emit(&s, 10, OP_DESC, dev, 0, 5, 0x00, 0xe0, 48, 0, 4, 0); /* INDIRECT, table at 0 */
        emit(&s, 4, OP_OFFER, dev, 0, 5);
        emit(&s, 5, OP_EVENT, dev, 0, 1, 0);
        emit(&s, 3, OP_NOTIFY, dev, 0);
        emit(&s, 1, OP_SAVE_LOAD);
        emit(&s, 2, OP_RESET, dev);
        emit(&s, 1, OP_SAVE_LOAD);
        write_seed(argv[1], count++, &s);

        /* a hostile one: a loop, then a reset and a good request */
        s.n = 0;
        emit(&s, 1, dev);
        emit(&s, 5, OP_DRIVER_INIT, dev, 0x01, 1, 3);
        emit_desc(&s, dev, 0, 0, 0, 8, 3, 1);
        emit_desc(&s, dev, 0, 1, 0, 8, 3, 0);
        emit(&s, 4, OP_OFFER, dev, 0, 0);
        emit(&s, 3, OP_NOTIFY, dev, 0);
        emit(&s, 1, OP_SAVE_LOAD);
        emit(&s, 5, OP_DRIVER_INIT, dev, 0x01, 1, 3);
        emit_desc(&s, dev, 0, 0, 0, 8, 2, 0);
        emit(&s, 4, OP_OFFER, dev, 0, 0);
        emit(&s, 3, OP_NOTIFY, dev, 0);
        emit(&s, 7, OP_WRITE_REG, dev, 0x070 / 4, 0, 0, 0, 0); /* status 0 */
        write_seed(argv[1], count++, &s);

        /* a writable buffer over the queue's avail index, then a state
         * with a corrupted byte */
        s.n = 0;
        emit(&s, 1, dev);
        emit(&s, 5, OP_DRIVER_INIT, dev, 0x03, 1, 3);
        emit(&s, 10, OP_DESC, dev, 0, 0, 0x02, 0x10, 2, 0, 0x22, 0); /* rings + 0x1002 */
        emit(&s, 4, OP_OFFER, dev, 0, 0);
        emit(&s, 3, OP_NOTIFY, dev, 0);
        emit(&s, 4, OP_LOAD_CORRUPT, 0x30, 0, 0x40);
        emit(&s, 4, OP_LOAD_CORRUPT, 0x08, 0, 0x01);
        write_seed(argv[1], count++, &s);
    }
    printf("%d seeds, %d device kinds, %u random-byte requests served\n", count, n, rng_calls);
    return 0;
}

#endif
