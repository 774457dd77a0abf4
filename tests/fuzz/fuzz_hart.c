/*
 * fuzz_hart.c - libFuzzer harness proving that a hostile guest cannot hurt
 * the host: whatever instructions, page tables, CSR values and device
 * accesses a guest makes, the emulator must not crash, read or write host
 * memory out of bounds, hang, or break its own invariants.
 *
 * One input describes one small machine (1 MiB of RAM, 1-2 harts, bare or
 * virt board) and its starting state:
 *   - a header of fuzz bytes chooses the board, the scheduler quantum, and per
 *     hart the privilege (M/S/U), the paging mode (Bare/Sv39/Sv48 over page
 *     tables built below, or a raw satp), mstatus, delegation, interrupt
 *     enables, trap vectors, PMP and the start pc. CSRs are set through
 *     hart_csr_write() in M-mode, so they go through the same WARL rules as
 *     guest writes and the state stays one the guest could have reached;
 *   - general registers start as "interesting" values (device bases such as
 *     UART 0x10000000, CLINT 0x2000000, PLIC 0xc000000, test 0x100000,
 *     RAM addresses, raw 64-bit fuzz values), so random loads and stores
 *     reach device registers and page-table entries often;
 *   - page tables in the top pages of RAM identity-map RAM (per-page
 *     R/W/X/U/A/D flags from the fuzz input) and the device gigapage, and
 *     then take fuzz-chosen raw PTE patches (reserved bits, misaligned
 *     superpages, pointers out of RAM);
 *   - the rest of the input is code, tiled over the rest of RAM so that
 *     trap vectors and jumps land on fuzz instructions.
 *
 * Trap vectors come in two flavours, chosen by a header bit:
 *   - hostile: mtvec/stvec/medeleg/mideleg are fuzz values pointing at fuzz
 *     code. A guest whose trap handler itself faults retires no instruction
 *     ever; the emulator must still return from machine_run() (else libFuzzer
 *     reports a timeout: a guest that freezes the host);
 *   - safe: every trap goes to a small M-mode handler (and S-mode handler,
 *     should M-mode fuzz code delegate) that skips the trapping instruction
 *     and returns, so long runs of fuzz code execute in S/U mode with paging
 *     instead of spinning in one trap.
 *
 * The machine then runs a bounded instruction budget; MSTOP_IDLE advances
 * idle time to the next timer deadline (a bounded number of times). After the
 * run these invariants are asserted:
 *   - m->icount never exceeds the budget;
 *   - every hart has x0 == 0, priv in {U, S, M}, and CSR state that the WARL
 *     rules allow (hart_csr_state_valid);
 *   - machine_save -> machine_load into a fresh machine -> machine_save gives
 *     the same bytes, and both machines then run the same further budget to
 *     the same state again (decoded-block caches and TLBs are not state);
 *   - a saved state with one fuzz-chosen corrupted byte either fails to load
 *     or loads into a machine that still runs within the invariants.
 *
 * The budget bounds every input's run time, so guest infinite loops cannot
 * hang the fuzzer. Host callbacks return constants and discard console
 * output: the machine never touches the host.
 *
 * Built and run by scripts/run-fuzz-hart (see tests/fuzz/README.md).
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/dev/clint.h"
#include "machine/dev/goldfish_rtc.h"
#include "machine/cpu/hart.h"
#include "machine/cpu/jit.h"
#include "machine/machine.h"
#include "machine/dev/plic.h"
#include "machine/dev/sifive_test.h"
#include "machine/dev/uart16550.h"
#include "machine/dev/virtio_mmio.h"
#include "util/ser.h"

#define FUZZ_RAM_SIZE (1ull << 20)
#define FUZZ_BUDGET 20000ull    /* instructions in the first run */
#define FUZZ_BUDGET2 5000ull    /* further instructions after save/load */
#define FUZZ_MAX_IDLE_WAKEUPS 16 /* idle periods skipped per run */

/* Page-table pages at the top of RAM (page numbers within RAM). */
#define PT_FIRST_PAGE 0xf0u
#define PT_L2 0xf0u   /* Sv39 root; level-2 table under the Sv48 root */
#define PT_L1 0xf1u   /* covers VA 2 GiB..3 GiB (RAM) */
#define PT_L0 0xf2u   /* 4 KiB pages of RAM */
#define PT_L3 0xf3u   /* Sv48 root */
#define PT_NPAGES 4u
#define HANDLER_PAGE 0xefu /* safe trap handlers: M at +0, S at +0x100 */

/* CSR numbers (privileged spec). */
enum {
    FZ_SSTATUS = 0x100, FZ_SIE = 0x104, FZ_STVEC = 0x105, FZ_SCOUNTEREN = 0x106, FZ_SIP = 0x144,
    FZ_SATP = 0x180, FZ_MSTATUS = 0x300, FZ_MEDELEG = 0x302, FZ_MIDELEG = 0x303, FZ_MIE = 0x304,
    FZ_MTVEC = 0x305, FZ_MCOUNTEREN = 0x306, FZ_MENVCFG = 0x30a, FZ_MEPC = 0x341, FZ_MIP = 0x344,
    FZ_SEPC = 0x141, FZ_PMPCFG0 = 0x3a0, FZ_PMPADDR0 = 0x3b0,
};

/* PTE bits. */
enum { PTE_V = 1, PTE_R = 2, PTE_W = 4, PTE_X = 8, PTE_U = 16, PTE_G = 32, PTE_A = 64, PTE_D = 128 };

/* Instruction encoders (RV64 base formats). */
static uint32_t enc_i(int op, int f3, int rd, int rs1, int imm)
{
    return ((uint32_t)imm & 0xfff) << 20 | (uint32_t)rs1 << 15 | (uint32_t)f3 << 12 | (uint32_t)rd << 7 | (uint32_t)op;
}

/* Reads fuzz bytes in order; past the end every read returns zero, so the
 * header always parses and short inputs mean "defaults". */
typedef struct FuzzCursor {
    const uint8_t *p;
    size_t len, pos;
} FuzzCursor;

static uint8_t fz_u8(FuzzCursor *c) { return c->pos < c->len ? c->p[c->pos++] : 0; }

static uint64_t fz_u64(FuzzCursor *c, int nbytes)
{
    uint64_t v = 0;
    for (int i = 0; i < nbytes; i++)
        v |= (uint64_t)fz_u8(c) << (8 * i);
    return v;
}

/* --- host interface: constants in, output discarded --- */

static uint64_t host_wallclock(void *opaque) { return 1767225600ull * 1000000000ull; }
static void host_random(void *opaque, uint8_t *buf, size_t n) { memset(buf, 0xa5, n); }
static void host_console(void *opaque, const uint8_t *buf, size_t n) {}

static const MachineHostIf fuzz_host = {
    .opaque = NULL,
    .wallclock_ns = host_wallclock,
    .random_bytes = host_random,
    .console_write = host_console,
};

/* --- initial state --- */

/* A value for a general register: mostly addresses worth touching. */
static uint64_t interesting_value(FuzzCursor *c)
{
    uint8_t sel = fz_u8(c);
    uint64_t small = (uint64_t)(sel >> 5) << 3; /* 0..56: an offset into a register bank */
    switch (sel & 31) {
    case 0: return 0;
    case 1: return RAM_BASE + ((uint64_t)fz_u8(c) << 12);            /* a RAM page */
    case 2: return RAM_BASE + fz_u64(c, 3) % FUZZ_RAM_SIZE;           /* any RAM byte */
    case 3: return RAM_BASE + ((uint64_t)PT_FIRST_PAGE << 12) + (fz_u64(c, 2) & 0x3ff8); /* a PTE */
    case 4: return UART16550_BASE + (sel >> 5);
    case 5: return CLINT_BASE + small;                                /* msip */
    case 6: return CLINT_BASE + 0x4000 + small;                       /* mtimecmp */
    case 7: return CLINT_BASE + 0xbff8;                               /* mtime */
    case 8: return PLIC_BASE + (fz_u64(c, 3) & 0x3ffffc);             /* any PLIC register */
    case 9: return PLIC_BASE + 0x200000 + ((uint64_t)(sel >> 5) << 12); /* threshold/claim */
    case 10: return SIFIVE_TEST_BASE;
    case 11: return GOLDFISH_RTC_BASE + small;
    case 12: return VIRTIO_MMIO_BASE + ((uint64_t)(sel >> 5) << 12) + (fz_u8(c) & 0xfc);
    case 13: return UINT64_MAX;
    case 14: return (uint64_t)1 << (fz_u8(c) & 63);
    case 15: return RAM_BASE + FUZZ_RAM_SIZE - small;                 /* end of RAM */
    case 16: return 0x80000000ull - small;                            /* just below RAM */
    case 17: return 0xffffffc000000000ull + ((uint64_t)fz_u8(c) << 12); /* Sv39 upper half */
    default: return fz_u64(c, 8);
    }
}

/* PTE mapping physical page `ppn` with leaf `flags`. */
static uint64_t pte(uint64_t ppn, uint64_t flags) { return (ppn << 10) | flags; }

static void pt_write(Machine *m, unsigned page, unsigned idx, uint64_t val)
{
    uint64_t pa = RAM_BASE + ((uint64_t)page << PAGE_SHIFT) + 8ull * (idx & 511);
    bool ok = machine_phys_write(m, pa, &val, sizeof val);
    assert(ok);
    (void)ok;
}

/* Identity map of RAM (4 KiB pages) and of the low gigabyte of devices
 * (one gigapage), with fuzz flags, then raw fuzz patches. */
static void build_page_tables(Machine *m, FuzzCursor *c, bool hostile_vectors)
{
    uint64_t ram_ppn = RAM_BASE >> PAGE_SHIFT;
    uint8_t dev_flags = fz_u8(c);
    uint8_t ram_flags = fz_u8(c);
    uint64_t table = PTE_V;
    /* Sv48 root -> Sv39 root; Sv39 root: gigapage 0 = devices, 2 = RAM */
    pt_write(m, PT_L3, 0, pte(ram_ppn + PT_L2, table));
    pt_write(m, PT_L2, 0, pte(0, dev_flags | PTE_V));
    pt_write(m, PT_L2, 2, pte(ram_ppn + PT_L1, table));
    pt_write(m, PT_L1, 0, pte(ram_ppn + PT_L0, table));
    for (unsigned i = 0; i < FUZZ_RAM_SIZE >> PAGE_SHIFT; i++)
        pt_write(m, PT_L0, i, pte(ram_ppn + i, ram_flags | PTE_V));
    /* per-page flag overrides, e.g. a U page among S pages */
    unsigned n = fz_u8(c) % 32;
    for (unsigned i = 0; i < n; i++) {
        uint8_t page = fz_u8(c);
        uint8_t flags = fz_u8(c);
        pt_write(m, PT_L0, page, pte(ram_ppn + page, flags));
    }
    /* raw PTEs anywhere in the four tables */
    n = fz_u8(c) % 16;
    for (unsigned i = 0; i < n; i++) {
        uint16_t where = (uint16_t)fz_u64(c, 2);
        pt_write(m, PT_FIRST_PAGE + ((where >> 9) & (PT_NPAGES - 1)), where & 511, fz_u64(c, 8));
    }
    /* the S handler must stay fetchable (and not writable) in S-mode */
    if (!hostile_vectors)
        pt_write(m, PT_L0, HANDLER_PAGE, pte(ram_ppn + HANDLER_PAGE, PTE_V | PTE_R | PTE_X | PTE_A));
}

static uint64_t pick_satp(FuzzCursor *c)
{
    uint8_t sel = fz_u8(c);
    uint64_t asid = fz_u64(c, 2);
    uint64_t ram_ppn = RAM_BASE >> PAGE_SHIFT;
    switch (sel & 3) {
    case 0: return 0;                                                   /* Bare */
    case 1: return (8ull << 60) | (asid << 44) | (ram_ppn + PT_L2);     /* Sv39 */
    case 2: return (9ull << 60) | (asid << 44) | (ram_ppn + PT_L3);     /* Sv48 */
    default: return fz_u64(c, 8);                                       /* raw, WARL */
    }
}

/* Set one hart's state from the fuzz input. CSR writes are made in M-mode
 * (legal for every CSR) and then the privilege is lowered. */
static void setup_hart(Hart *h, FuzzCursor *c, bool hostile_vectors)
{
    static const int privs[3] = {PRV_U, PRV_S, PRV_M};
    int priv = privs[fz_u8(c) % 3];
    assert(h->priv == PRV_M);
    (void)hart_csr_write(h, FZ_MSTATUS, fz_u64(c, 8));
    uint64_t medeleg = fz_u64(c, 2), mideleg = fz_u64(c, 2);
    uint64_t mtvec = RAM_BASE + fz_u64(c, 3) % FUZZ_RAM_SIZE;
    uint64_t stvec = RAM_BASE + fz_u64(c, 3) % FUZZ_RAM_SIZE;
    if (!hostile_vectors) {
        /* every trap reaches the M handler, which always makes progress */
        medeleg = mideleg = 0;
        mtvec = RAM_BASE + ((uint64_t)HANDLER_PAGE << PAGE_SHIFT);
        stvec = mtvec + 0x100;
    }
    (void)hart_csr_write(h, FZ_MEDELEG, medeleg);
    (void)hart_csr_write(h, FZ_MIDELEG, mideleg);
    (void)hart_csr_write(h, FZ_MTVEC, mtvec);
    (void)hart_csr_write(h, FZ_STVEC, stvec);
    (void)hart_csr_write(h, FZ_MIE, fz_u64(c, 2));
    (void)hart_csr_write(h, FZ_MIP, fz_u64(c, 2));
    (void)hart_csr_write(h, FZ_MEPC, RAM_BASE + fz_u64(c, 3) % FUZZ_RAM_SIZE);
    (void)hart_csr_write(h, FZ_SEPC, RAM_BASE + fz_u64(c, 3) % FUZZ_RAM_SIZE);
    (void)hart_csr_write(h, FZ_MCOUNTEREN, fz_u8(c));
    (void)hart_csr_write(h, FZ_SCOUNTEREN, fz_u8(c));
    (void)hart_csr_write(h, FZ_MENVCFG, fz_u8(c));
    /* PMP: usually one entry granting S/U everything, sometimes raw values
     * (never locked with safe vectors: a lock could deny M the handler) */
    uint8_t pmp = fz_u8(c);
    if (pmp < 0xc0) {
        (void)hart_csr_write(h, FZ_PMPADDR0, UINT64_MAX >> 10);
        (void)hart_csr_write(h, FZ_PMPCFG0, 0x1f); /* NAPOT, RWX */
    } else {
        for (int i = 0; i < 4; i++)
            (void)hart_csr_write(h, FZ_PMPADDR0 + i, fz_u64(c, 8));
        uint64_t cfg = fz_u64(c, 4);
        if (!hostile_vectors)
            cfg &= ~0x80808080ull;
        (void)hart_csr_write(h, FZ_PMPCFG0, cfg);
    }
    (void)hart_csr_write(h, FZ_SATP, pick_satp(c));
    for (int i = 1; i < 32; i++)
        h->x[i] = interesting_value(c);
    h->pc = RAM_BASE + (fz_u64(c, 2) & ~1ull);
    h->priv = priv;
    mmu_update_ctx(h);
}

/* The safe trap handlers: skip the trapping instruction (xepc += 4) and
 * return. Each trap retires four instructions, so the budget always runs
 * out. They clobber t6, which fuzz code may use as it likes. */
static void load_handlers(Machine *m)
{
    uint64_t base = RAM_BASE + ((uint64_t)HANDLER_PAGE << PAGE_SHIFT);
    const uint32_t mh[4] = {
        enc_i(0x73, 2, 31, 0, FZ_MEPC),  /* csrr t6, mepc */
        enc_i(0x13, 0, 31, 31, 4),       /* addi t6, t6, 4 */
        enc_i(0x73, 1, 0, 31, FZ_MEPC),  /* csrw mepc, t6 */
        0x30200073,                      /* mret */
    };
    const uint32_t sh[4] = {
        enc_i(0x73, 2, 31, 0, FZ_SEPC),
        enc_i(0x13, 0, 31, 31, 4),
        enc_i(0x73, 1, 0, 31, FZ_SEPC),
        0x10200073,                      /* sret */
    };
    bool ok = machine_phys_write(m, base, mh, sizeof mh) && machine_phys_write(m, base + 0x100, sh, sizeof sh);
    assert(ok);
    (void)ok;
}

/* Fill RAM below the handler and page tables with the code bytes, repeated. */
static void load_code(Machine *m, const uint8_t *code, size_t n)
{
    if (n == 0)
        return;
    uint64_t end = (uint64_t)HANDLER_PAGE << PAGE_SHIFT;
    for (uint64_t off = 0; off < end; off += n) {
        size_t chunk = end - off < n ? (size_t)(end - off) : n;
        bool ok = machine_phys_write(m, RAM_BASE + off, code, chunk);
        assert(ok);
        (void)ok;
    }
}

/* --- running and checking --- */

/* Run until `limit` retired instructions, exit/reset, or an idle machine
 * with no timer to wake it. Idle periods are skipped like the replay layer
 * does, a bounded number of times. */
static void run_bounded(Machine *m, uint64_t limit)
{
    for (int wakeups = 0;;) {
        MachineStop why = machine_run(m, limit);
        assert(m->icount <= limit);
        if (why != MSTOP_IDLE)
            return;
        uint64_t ns = machine_idle_ns_to_deadline(m);
        if (ns == UINT64_MAX || ++wakeups > FUZZ_MAX_IDLE_WAKEUPS)
            return;
        uint64_t before = m->idle_ns;
        machine_advance_idle(m, ns);
        assert(m->idle_ns == before + ns);
    }
}

static void check_invariants(const Machine *m, uint64_t limit)
{
    assert(m->icount <= limit);
    for (int i = 0; i < m->nharts; i++) {
        const Hart *h = m->harts[i];
        assert(h->x[0] == 0);
        assert(h->priv == PRV_U || h->priv == PRV_S || h->priv == PRV_M);
        const char *why = NULL;
        if (!hart_csr_state_valid(h, &why)) {
            fprintf(stderr, "hart %d: CSR state not WARL-legal after run: %s\n", i, why ? why : "?");
            abort();
        }
    }
}

static void save(const Machine *m, SerWriter *w)
{
    ser_writer_init(w);
    machine_save(m, w);
    assert(!w->oom);
}

static void assert_same_state(const SerWriter *a, const SerWriter *b, const char *what)
{
    if (a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0)
        return;
    size_t first = 0;
    while (first < a->len && first < b->len && a->buf[first] == b->buf[first])
        first++;
    fprintf(stderr, "%s: saved states differ (lengths %zu and %zu, first difference at byte %zu)\n",
            what, a->len, b->len, first);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* --jit-check stops the machine with exit code 125 at the first block
 * whose compiled code disagrees with the interpreter (reported on stderr). */
static void assert_no_jit_mismatch(const Machine *m)
{
    if (m->exit_requested && m->exit_code == 125 && m->halt_reason && strstr(m->halt_reason, "--jit-check"))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzCursor c = {data, size, 0};
    uint8_t board = fz_u8(&c);
    MachineConfig cfg = {
        .ram_size = FUZZ_RAM_SIZE,
        .nharts = 1 + (board & 1),
        .icount_shift = (board >> 1) & 3,
        .board_virt = (board & 8) != 0,
        .append = NULL,
        .rtc_base_ns = 1767225600ull * 1000000000ull,
        .rtc_clock_host = (board & 16) != 0,
        .quantum = 1 + fz_u64(&c, 2) % 1000,
    };
    Machine *m = machine_new(&cfg, &fuzz_host);
    assert(m);
    /* the first machine runs every block compiled and checked against the
     * interpreter (a mismatch aborts, below); its copy m2 interprets only,
     * and the two must still end in the same state */
    machine_set_jit(m, JIT_MODE_CHECK);
    bool hostile_vectors = (board & 32) != 0;
    for (int i = 0; i < m->nharts; i++)
        setup_hart(m->harts[i], &c, hostile_vectors);
    uint64_t corrupt_sel = fz_u64(&c, 2);
    uint8_t corrupt_xor = fz_u8(&c) | 1;
    build_page_tables(m, &c, hostile_vectors);
    if (!hostile_vectors)
        load_handlers(m);
    load_code(m, data + c.pos, size - c.pos);
    check_invariants(m, 0);

    run_bounded(m, FUZZ_BUDGET);
    assert_no_jit_mismatch(m);
    check_invariants(m, FUZZ_BUDGET);

    /* save -> load into a fresh machine -> save gives the same bytes */
    SerWriter s1, s2;
    save(m, &s1);
    Machine *m2 = machine_new(&cfg, &fuzz_host);
    assert(m2);
    machine_set_jit(m2, JIT_MODE_OFF);
    SerReader r;
    ser_reader_init(&r, s1.buf, s1.len);
    if (!machine_load(m2, &r)) {
        fprintf(stderr, "machine_load rejected a state machine_save wrote: %s\n", r.err ? r.err : "?");
        abort();
    }
    assert(r.pos == r.len);
    save(m2, &s2);
    assert_same_state(&s1, &s2, "save/load round trip");
    ser_writer_free(&s2);

    /* the restored machine continues exactly like the original */
    uint64_t limit2 = m->icount + FUZZ_BUDGET2;
    run_bounded(m, limit2);
    assert_no_jit_mismatch(m);
    run_bounded(m2, limit2);
    check_invariants(m, limit2);
    check_invariants(m2, limit2);
    SerWriter a, b;
    save(m, &a);
    save(m2, &b);
    assert_same_state(&a, &b, "run after save/load");
    ser_writer_free(&a);
    ser_writer_free(&b);
    machine_free(m2);
    machine_free(m);

    /* a corrupted snapshot (one byte anywhere: RAM pages are saved only
     * when touched, so the state may be shorter than RAM) loads or fails
     * cleanly; if it loads, the machine stays within the invariants */
    assert(s1.len > 0);
    s1.buf[corrupt_sel % s1.len] ^= corrupt_xor;
    Machine *m3 = machine_new(&cfg, &fuzz_host);
    assert(m3);
    machine_set_jit(m3, JIT_MODE_ON);
    ser_reader_init(&r, s1.buf, s1.len);
    if (machine_load(m3, &r)) {
        uint64_t limit3 = m3->icount + FUZZ_BUDGET2;
        if (limit3 > m3->icount) { /* a corrupted icount may sit at the top */
            run_bounded(m3, limit3);
            check_invariants(m3, limit3);
        }
    }
    machine_free(m3);
    ser_writer_free(&s1);
    return 0;
}

#ifdef FUZZ_SEED_GENERATOR
/*
 * Seed corpus generator (scripts/run-fuzz-hart builds this file a second
 * time with -DFUZZ_SEED_GENERATOR): writes a few inputs whose headers select
 * M, S (Sv39) and U (Sv48) mode and two harts on the virt board, with code
 * that touches every register as an address, CSRs, traps, xRET, WFI and
 * AMOs. All use the safe trap vectors; mutation finds the hostile ones. Each seed is also run through LLVMFuzzerTestOneInput once, so the
 * generator doubles as a smoke test without libFuzzer.
 */
typedef struct SeedBuf {
    uint8_t b[8192];
    size_t n;
} SeedBuf;

static void put(SeedBuf *s, uint64_t v, int nbytes)
{
    for (int i = 0; i < nbytes && s->n < sizeof s->b; i++)
        s->b[s->n++] = (uint8_t)(v >> (8 * i));
}

static uint32_t enc_s(int f3, int rs1, int rs2, int imm)
{
    uint32_t u = (uint32_t)imm & 0xfff;
    return (u >> 5) << 25 | (uint32_t)rs2 << 20 | (uint32_t)rs1 << 15 | (uint32_t)f3 << 12 | (u & 31) << 7 | 0x23;
}

static uint32_t enc_amo(int funct5, int rd, int rs1, int rs2)
{
    return (uint32_t)funct5 << 27 | (uint32_t)rs2 << 20 | (uint32_t)rs1 << 15 | 3u << 12 | (uint32_t)rd << 7 | 0x2f;
}

/* One hart's header. Register selectors are chosen from the cases of
 * interesting_value() that read no further bytes. */
static void put_hart(SeedBuf *s, int priv_sel, uint64_t mstatus, int satp_sel, uint8_t seed)
{
    static const uint8_t regsel[] = {4, 5, 6, 7, 9, 10, 11, 13, 15, 16, 0};
    put(s, (uint64_t)priv_sel, 1);
    put(s, mstatus, 8);
    put(s, 0xb1ff, 2);                 /* medeleg: most exceptions to S */
    put(s, 0x222, 2);                  /* mideleg: S interrupts */
    put(s, 0x100u * seed, 3);          /* mtvec (hostile vectors only) */
    put(s, 0x200u * seed + 0x40, 3);   /* stvec (hostile vectors only) */
    put(s, 0xaaa, 2);                  /* mie */
    put(s, 0, 2);                      /* mip */
    put(s, 0x80, 3);                   /* mepc */
    put(s, 0xc0, 3);                   /* sepc */
    put(s, 7, 1);
    put(s, 7, 1);
    put(s, 0, 1);
    put(s, 0, 1);                      /* PMP: grant all */
    put(s, (uint64_t)satp_sel, 1);
    put(s, seed, 2);                   /* asid */
    for (int i = 1; i < 32; i++)
        put(s, regsel[(i + seed) % sizeof regsel] | (uint64_t)((i & 7) << 5), 1);
    put(s, 0, 2);                      /* pc offset */
}

static void put_code(SeedBuf *s)
{
    for (int r = 1; r < 32; r++) {
        put(s, enc_i(0x03, 2, 5, r, 0), 4);     /* lw t0, 0(r) */
        put(s, enc_s(2, r, 6, 4), 4);           /* sw t1, 4(r) */
        put(s, enc_i(0x03, 3, 7, r, 8), 4);     /* ld t2, 8(r) */
        put(s, enc_s(3, r, r, 0), 4);           /* sd r, 0(r) */
    }
    /* floating point on register values: fmv.d.x f1/f2, then sqrt, div,
     * fused multiply-add and conversion, double and single */
    put(s, 0xf2000053u | 5u << 15 | 1u << 7, 4);
    put(s, 0xf2000053u | 6u << 15 | 2u << 7, 4);
    put(s, 0x5a000053u | 1u << 15 | 7u << 12 | 3u << 7, 4);            /* fsqrt.d f3, f1 */
    put(s, 0x1a000053u | 2u << 20 | 1u << 15 | 7u << 12 | 4u << 7, 4); /* fdiv.d f4, f1, f2 */
    put(s, 3u << 27 | 1u << 25 | 2u << 20 | 1u << 15 | 7u << 12 | 5u << 7 | 0x43, 4); /* fmadd.d */
    put(s, 0xc2200053u | 4u << 15 | 7u << 12 | 7u << 7, 4);            /* fcvt.l.d t2, f4 */
    put(s, 0x58000053u | 2u << 15 | 7u << 12 | 6u << 7, 4);            /* fsqrt.s f6, f2 */
    put(s, enc_amo(0, 5, 10, 11), 4);           /* amoadd.d */
    put(s, enc_amo(2, 5, 12, 0), 4);            /* lr.d */
    put(s, enc_amo(3, 6, 12, 5), 4);            /* sc.d */
    put(s, enc_i(0x73, 1, 5, 7, 0x180), 4);     /* csrrw t0, satp, t2 */
    put(s, 0x12000073, 4);                      /* sfence.vma */
    put(s, 0x0000100f, 4);                      /* fence.i */
    put(s, enc_i(0x73, 2, 5, 0, 0x300), 4);     /* csrr t0, mstatus */
    put(s, enc_i(0x73, 2, 5, 0, 0xc01), 4);     /* rdtime t0 */
    put(s, 0x10500073, 4);                      /* wfi */
    put(s, 0x00000073, 4);                      /* ecall */
    put(s, 0x10200073, 4);                      /* sret */
    put(s, 0x30200073, 4);                      /* mret */
    put(s, 0x00100073, 4);                      /* ebreak */
}

static int write_seed(const char *dir, const char *name, const SeedBuf *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        return 1;
    }
    LLVMFuzzerTestOneInput(s->b, s->n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    static const struct {
        const char *name;
        uint8_t board;
        int priv_sel, satp_sel;
        uint64_t mstatus;
        uint8_t ram_flags;
    } seeds[] = {
        {"m-bare", 0, 2, 0, 0x1800 | 0x2000, 0xcf},                /* M, MPP=M, FS on */
        {"s-sv39", 8, 1, 1, 0x40000 | 0x800 | 0x2000, 0xcf},       /* S, SUM, virt */
        {"u-sv48", 8, 0, 2, 0x2000, 0xdf},                        /* U pages */
        {"smp-virt", 9, 1, 1, 0x20000 | 0x800 | 0x2000, 0xcf},     /* 2 harts, MPRV */
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        SeedBuf *s = calloc(1, sizeof *s);
        if (!s)
            return 1;
        put(s, seeds[i].board, 1);
        put(s, 97, 2); /* quantum */
        int nharts = 1 + (seeds[i].board & 1);
        for (int h = 0; h < nharts; h++)
            put_hart(s, seeds[i].priv_sel, seeds[i].mstatus, seeds[i].satp_sel, (uint8_t)(h + 1));
        put(s, 0x1234, 2); /* corrupted byte position */
        put(s, 0x40, 1);   /* corruption xor */
        put(s, 0xcf, 1);   /* device gigapage: RWX A D, not U */
        put(s, seeds[i].ram_flags, 1);
        put(s, 2, 1);      /* two per-page overrides */
        put(s, 0x10, 1);
        put(s, 0x0f, 1);
        put(s, 0x20, 1);
        put(s, 0xdf, 1);
        put(s, 1, 1);      /* one raw PTE: a misaligned megapage */
        put(s, 0x0000 | 5, 2);
        put(s, (0x80000001ull << 10) | 0xcf, 8);
        put_code(s);
        rc |= write_seed(argv[1], seeds[i].name, s);
        free(s);
    }
    return rc;
}
#endif
