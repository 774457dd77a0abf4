/*
 * machine.h - the emulated machine: harts, RAM, devices and virtual time.
 *
 * The machine is a pure function of its initial state and the inputs the
 * replay layer hands it. It never reads the host: every host value it needs
 * (wall clock, random bytes) is asked of `m->host`, the gate the replay layer
 * installs, and every asynchronous input (a UART byte, an idle period, a
 * shutdown request) is pushed in by the replay layer between calls to
 * machine_run(), at an exact instruction count.
 *
 * Invariants:
 *  - m->icount is the number of instructions retired by all harts together;
 *    it only grows, one per retired instruction.
 *  - Virtual time in ns = (m->icount << cfg.icount_shift) + m->idle_ns.
 *  - The round-robin schedule (cur_hart, quantum_left) is machine state, so
 *    stopping machine_run() at any icount and resuming it executes exactly
 *    the same instruction sequence as not stopping.
 *  - An interrupt is taken at the first instruction boundary at which it is
 *    pending and enabled; this never depends on how code is split in blocks.
 */
#ifndef RRVM_MACHINE_H
#define RRVM_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/ser.h"

#define MACHINE_MAX_HARTS 8
#define MACHINE_MAX_MMIO 32
#define RAM_BASE 0x80000000ull

/* consumers of the dirty-page map (bits of m->dirty_pages[]) */
#define DIRTY_DIGEST 0x01     /* checkpoint digests (replay/checkpoint.c) */
#define DIRTY_TIMETRAVEL 0x02 /* in-memory checkpoints for seeking */
/* Not a consumer: sticky "this page may be nonzero". Set with every other
 * bit by every write, never cleared by machine_dirty_reset; cleared only
 * where the machine itself zeroes the page (machine_reset, machine_load).
 * So a page whose dirty byte is 0 is all zero, and work that must look at
 * RAM (saving, digests) visits only the pages the guest touched. */
#define DIRTY_WRITTEN 0x80
#define DIRTY_ALL 0xff

/* bits of m->pt_pages[] (mmu.c keeps them) */
#define PT_WALKED 0x01       /* a TLB entry may derive from a PTE on this page */
#define PT_WRITE_MAPPED 0x02 /* a write TLB entry may map this page */

typedef struct Machine Machine;
typedef struct Hart Hart;

/* A device plugged into a virtio-mmio slot. The board fills slots in
 * QEMU's order: the first device takes the highest slot (0x10008000), so
 * Linux names it first (vda, hvc0). Host resources (disk images, chardev
 * backends) are not here: the replay layer opens them and serves them
 * through MachineHostIf, by device index. */
#define MACHINE_MAX_DEVICES 8
#define MACHINE_DEV_ID_MAX 32
#define MACHINE_MAX_CONSOLE_PORTS 7 /* 2 queues each + 2 control queues = 16 */
#define MACHINE_PORT_NAME_MAX 32
typedef enum MachineDeviceKind {
    MDEV_NONE = 0,
    MDEV_VIRTIO_BLK = 1,
    MDEV_VIRTIO_RNG = 2,
    MDEV_VIRTIO_CONSOLE = 3, /* virtio-serial-device with virtconsole ports */
    MDEV_VIRTIO_NET = 4,
    MDEV_KIND_COUNT
} MachineDeviceKind;
typedef struct MachineDeviceConfig {
    int kind;                        /* MachineDeviceKind */
    char id[MACHINE_DEV_ID_MAX];     /* the user's id (drive=, chardev=), may be "" */
    uint64_t size;                   /* blk: capacity in bytes (multiple of 512) */
    bool readonly;                   /* blk: VIRTIO_BLK_F_RO */
    uint32_t nports;                 /* console: virtconsole ports (1..) */
    /* console: each port's name= (guest-visible: PORT_NAME), "" for none */
    char port_name[MACHINE_MAX_CONSOLE_PORTS][MACHINE_PORT_NAME_MAX];
    uint8_t mac[6];                  /* net */
} MachineDeviceConfig;

/* Everything that defines the machine; saved in a recording's header so a
 * replay needs no command line. Strings are owned by the config. */
typedef struct MachineConfig {
    uint64_t ram_size;      /* bytes */
    int nharts;             /* 1..MACHINE_MAX_HARTS */
    int icount_shift;       /* one instruction = 2^shift ns of virtual time */
    bool board_virt;        /* false: minimal bare-metal board (issue 2) */
    char *append;           /* kernel command line, may be NULL */
    uint64_t rtc_base_ns;   /* goldfish RTC: wall-clock ns at virtual time 0 */
    bool rtc_clock_host;    /* -rtc clock=host: RTC asks the gate for wall time */
    uint64_t quantum;       /* instructions per hart per round-robin turn */
    int ndevices;           /* virtio devices, in command-line order */
    MachineDeviceConfig devices[MACHINE_MAX_DEVICES];
} MachineConfig;

/* The gate through which the machine asks the host for values. Installed by
 * the replay layer (record: read the host and log; replay: read the log). */
typedef struct MachineHostIf {
    void *opaque;
    /* wall-clock time in ns since the Unix epoch (RTC with clock=host) */
    uint64_t (*wallclock_ns)(void *opaque);
    /* `n` random bytes (device-tree rng-seed, entropy devices) */
    void (*random_bytes)(void *opaque, uint8_t *buf, size_t n);
    /* guest console output; not an input, never logged */
    void (*console_write)(void *opaque, const uint8_t *buf, size_t n);
    /* Read the base image of disk device `dev` (index into cfg.devices):
     * a deterministic input identified by its content hash, never logged.
     * false: host I/O error (the guest sees an I/O error). */
    bool (*disk_read)(void *opaque, int dev, uint64_t offset, void *buf, size_t n);
    /* Output of port `port` of character device `dev` (virtio console);
     * not an input, never logged. */
    void (*port_write)(void *opaque, int dev, int port, const uint8_t *buf, size_t n);
    /* An Ethernet frame the guest sent on network device `dev`; not an
     * input, never logged (its digest is device state). */
    void (*net_send)(void *opaque, int dev, const uint8_t *frame, size_t n);
} MachineHostIf;

/* A virtual-time timer owned by a device (generic: any device may have
 * one). Registered once, at board creation, in a fixed order; the deadline
 * is device state (the owner saves and loads it). When virtual time
 * reaches the deadline, the machine disarms the timer and calls fire()
 * between instructions - exactly at the deadline's icount, or at the end of
 * the idle period that reaches it. Timers fire in registration order. */
#define MACHINE_TIMER_OFF UINT64_MAX
#define MACHINE_MAX_TIMERS 16
typedef struct MachineTimer {
    uint64_t deadline_ns; /* virtual ns, MACHINE_TIMER_OFF: disarmed */
    void (*fire)(void *opaque);
    void *opaque;
    /* When every hart idles and this timer has the next deadline, virtual
     * time jumps to it inside machine_run: no host wait, no log entry (a
     * device's own completion, e.g. disk I/O, is not a host input). */
    bool idle_skip;
} MachineTimer;

/* A memory-mapped device region. Accesses are naturally sized 1/2/4/8 bytes
 * and lie within [base, base+size). Returning false from read/write raises
 * an access fault in the hart. */
typedef struct MmioRegion {
    uint64_t base, size;
    void *dev;
    bool (*read)(void *dev, uint64_t off, int size, uint64_t *val);
    bool (*write)(void *dev, uint64_t off, int size, uint64_t val);
    const char *name;
} MmioRegion;

/* Why machine_run() returned. */
typedef enum MachineStop {
    MSTOP_LIMIT = 0,    /* m->icount reached the requested limit */
    MSTOP_IDLE = 1,     /* every hart waits in WFI with nothing pending */
    MSTOP_EXIT = 2,     /* guest powered off / test device / HTIF exit */
    MSTOP_RESET = 3,    /* guest requested a reset */
    MSTOP_BREAK = 4,    /* a debugger breakpoint: m->dbg.hit_hart is about to
                         * execute an instruction at a breakpoint pc */
} MachineStop;

/* Debugger breakpoints (src/debug sets them). Not machine state: never
 * saved, never written into guest memory, and with none set the engine
 * runs exactly as without a debugger. A hart about to execute an
 * instruction whose virtual pc is in bp[] stops machine_run with
 * MSTOP_BREAK before executing it (hit_hart says which). skip_hart/skip_pc
 * let the debugger resume from a breakpoint: that hart's next instruction
 * is not stopped at if it is at skip_pc. */
#define MACHINE_MAX_BREAKPOINTS 64
#define MACHINE_MAX_WATCHPOINTS 16
/* watchpoint kinds (bits) */
#define WATCH_WRITE 1
#define WATCH_READ 2
typedef struct MachineDebug {
    uint64_t bp[MACHINE_MAX_BREAKPOINTS];
    int nbp;
    /* Watchpoints on virtual addresses, as the accessing hart sees them:
     * their pages never enter the TLB of the watched kind (the caller
     * flushes the TLBs when arming), and a RAM access in the slow path
     * that overlaps one stops the hart after that instruction
     * (hit_hart, watch_hit). */
    struct { uint64_t addr, len; int kind; } watch[MACHINE_MAX_WATCHPOINTS];
    int nwatch;
    int watch_hit;      /* index into watch[] of the last hit, -1: none */
    uint64_t watch_hit_addr;
    int skip_hart;      /* -1: none */
    uint64_t skip_pc;
    int hit_hart;       /* -1: no breakpoint hit */
} MachineDebug;

/* No breakpoints or watchpoints: the machine runs free (seeks, steps). */
static inline void machine_debug_disarm(MachineDebug *d)
{
    d->nbp = 0;
    d->nwatch = 0;
    d->skip_hart = -1;
    d->hit_hart = -1;
}

struct Uart16550;
struct Clint;
struct Plic;
struct GoldfishRtc;
struct SifiveTest;
struct Htif;

struct Machine {
    MachineConfig cfg;
    MachineHostIf host;

    uint8_t *ram;           /* cfg.ram_size bytes mapped at RAM_BASE */
    uint64_t ram_size;
    /* one byte per 4 KiB RAM page: nonzero when decoded code came from it */
    uint8_t *code_pages;
    /* one byte per 4 KiB RAM page, one bit per consumer (DIRTY_DIGEST,
     * DIRTY_TIMETRAVEL): a bit is set when the page may have been written
     * since that consumer last reset it (write-TLB fill, slow-path store,
     * device or loader write all set DIRTY_ALL). machine_dirty_reset(m, bits)
     * clears those bits and drops write TLBs so that the next write to any
     * page marks it again. Consumers never see each other's resets.
     * Invariant: dirty_pages[i] == 0 implies page i is all zero (see
     * DIRTY_WRITTEN); a fresh machine has no page marked. */
    uint8_t *dirty_pages;
    /* one byte per 4 KiB RAM page, PT_* bits: which pages cached
     * translations were read from (see mmu.c) */
    uint8_t *pt_pages;

    Hart *harts[MACHINE_MAX_HARTS];
    int nharts;

    MmioRegion mmio[MACHINE_MAX_MMIO];
    int nmmio;
    MachineTimer *timers[MACHINE_MAX_TIMERS];
    int ntimers;

    /* devices (NULL when absent on this board) */
    struct Uart16550 *uart;
    struct Clint *clint;
    struct Plic *plic;
    struct GoldfishRtc *rtc;
    struct SifiveTest *test;
    struct Htif *htif;
    struct Board *board;    /* board.c private: virtio slots, device tree */

    /* virtual time and scheduling (serialised) */
    uint64_t icount;
    uint64_t idle_ns;
    int cur_hart;
    uint64_t quantum_left;

    /* exit request from the guest */
    bool exit_requested;
    int exit_code;
    bool reset_requested;
    /* set when a guest write moved a timer deadline (mtimecmp, RTC alarm):
     * hart_run returns at the end of that instruction so machine_run can
     * recompute how far it may run. Transient, never saved: machine_run
     * clears it before computing the next deadline. */
    bool timers_changed;
    /* why the machine stopped itself (not the guest's choice), e.g. a trap
     * storm that would otherwise hang the host; static string or NULL */
    const char *halt_reason;

    /* shared decoded-block cache, owned by the cpu code */
    struct BlockCache *bcache;

    MachineDebug dbg;   /* debugger breakpoints; not state, never saved */
};

/* Lifecycle. machine_new() builds the board described by cfg (devices,
 * harts in reset state) but loads nothing; see board.h for loading. */
Machine *machine_new(const MachineConfig *cfg, const MachineHostIf *host);
/* The same, with the reason for a NULL in err (one line). */
Machine *machine_create(const MachineConfig *cfg, const MachineHostIf *host, char *err, size_t errlen);
void machine_free(Machine *m);
/* Execution engine, a JitMode (machine/cpu/jit.h). Not machine state: what
 * the guest sees is the same in every mode. False when the host has no code
 * generator for a mode other than JIT_MODE_OFF (the mode is then off). */
bool machine_set_jit(Machine *m, int mode);
/* Guest-requested reset, in place (the Machine pointer stays valid): every
 * hart and device back to its reset state, every written RAM page back to
 * zero (marked dirty for every consumer), schedule and exit flags as in a
 * fresh machine, caches dropped. icount and idle_ns go on. The caller then
 * loads the boot images again (board_load), exactly as after machine_new, so
 * the result is the state a fresh machine with this icount would have. */
void machine_reset(Machine *m);
int machine_add_mmio(Machine *m, const MmioRegion *r);
/* Device timers (see MachineTimer). register: -1 when the table is full. */
int machine_timer_register(Machine *m, MachineTimer *t);
/* Arm `t` for virtual time deadline_ns (now or past: fires at the next
 * instruction boundary); makes the running hart return so the scheduler
 * sees the new deadline. */
void machine_timer_arm(Machine *m, MachineTimer *t, uint64_t deadline_ns);
static inline void machine_timer_cancel(MachineTimer *t) { t->deadline_ns = MACHINE_TIMER_OFF; }
const MmioRegion *machine_find_mmio(const Machine *m, uint64_t paddr);

/* Run harts round-robin until m->icount == icount_limit or another stop
 * reason. Never overshoots the limit. */
MachineStop machine_run(Machine *m, uint64_t icount_limit);

/* Virtual time. */
static inline uint64_t machine_vtime_ns(const Machine *m)
{
    return (m->icount << m->cfg.icount_shift) + m->idle_ns;
}
/* The icount at which the next timer deadline (any hart's mtimecmp) is
 * reached, or UINT64_MAX if none is armed. */
uint64_t machine_next_deadline_icount(const Machine *m);
/* mtime (CLINT, `time` CSR): a 10 MHz timebase derived from virtual time. */
#define MTIME_HZ 10000000ull
static inline uint64_t machine_mtime(const Machine *m)
{
    return machine_vtime_ns(m) / (1000000000ull / MTIME_HZ);
}
/* Virtual ns until the next timer deadline while all harts are idle, or
 * UINT64_MAX when nothing is armed. */
uint64_t machine_idle_ns_to_deadline(const Machine *m);
/* Let `ns` of virtual time pass with every hart idle; updates timers. */
void machine_advance_idle(Machine *m, uint64_t ns);
/* Re-evaluate time-dependent interrupt lines (mtip) for all harts. */
void machine_update_timers(Machine *m);

/* Physical memory helpers for loaders and devices (bounds-checked). */
bool machine_phys_write(Machine *m, uint64_t paddr, const void *src, size_t n);
bool machine_phys_read(Machine *m, uint64_t paddr, void *dst, size_t n);
static inline bool machine_is_ram(const Machine *m, uint64_t paddr, uint64_t n)
{
    return paddr >= RAM_BASE && n <= m->ram_size && paddr - RAM_BASE <= m->ram_size - n;
}

/* Mark [paddr, paddr+n) dirty (loader, DMA). */
void machine_mark_dirty(Machine *m, uint64_t paddr, uint64_t n);
/* Start a new dirty interval for the consumers in `bits`: clear those bits
 * of dirty_pages, drop every write TLB. */
void machine_dirty_reset(Machine *m, uint8_t bits);
/* The first RAM page index >= from whose dirty byte has any of `bits`, or
 * the number of RAM pages if none: how code that must visit written pages
 * skips the untouched ones (8 bytes of the map at a time). */
size_t machine_next_marked(const Machine *m, size_t from, uint8_t bits);

/* Interrupt line from a device to the PLIC (or ignored on boards without). */
void machine_set_irq(Machine *m, int irq, bool level);

/* State. Save/load cover harts, RAM, devices, virtual time, schedule.
 * The _core variants leave RAM out (in-memory checkpoints keep RAM as page
 * deltas of their own); loading flushes every cache (decoded blocks, TLBs).
 * machine_save writes RAM as the list of nonzero pages (found through the
 * dirty map, so its cost follows what the guest touched, not -m).
 * Loading is all or nothing: on any error (cut, damaged or foreign blob)
 * it returns false with the reason in r->err and the machine exactly as it
 * was (machine_save output byte-identical). machine_load changes only the
 * RAM pages that differ in kind (written on either side) and marks them
 * dirty for every consumer. */
void machine_save(const Machine *m, SerWriter *w);
bool machine_load(Machine *m, SerReader *r);
void machine_save_core(const Machine *m, SerWriter *w);
bool machine_load_core(Machine *m, SerReader *r);

#endif
