/*
 * test_exact_count.c - exact instruction counting and resumable determinism
 * of machine_run(), on real machines (machine_new + board_load).
 *
 * What is checked (see machine.h, hart.h and exec.c for the invariants):
 *  - stopping machine_run() at arbitrary icounts (thousands of calls with
 *    sizes 1, 2, 3, 17, around the 64-instruction block limit, large) gives
 *    byte-identical machine_save() state and checkpoint_machine_digest() at
 *    common icounts as running straight there, on 1 to 4 harts with various
 *    scheduler quanta and icount shifts;
 *  - single-stepping (limit = icount + 1) advances icount by exactly one per
 *    call except when every hart is idle, and ends in the same state;
 *  - a budget ending inside a long straight-line block stops with icount,
 *    instret and pc exactly K instructions in, cold or with the block cached;
 *  - an exception on the 5th instruction of a block retires exactly 4
 *    (minstret read first thing in the handler is 4), for load and store
 *    access faults, ecall, ebreak, illegal and compressed instructions;
 *  - minstret writes follow the Zicsr rule (the write replaces the count of
 *    the writing instruction) while m->icount counts every instruction;
 *  - an MMIO read in the middle of a block sees the exact icount (mtime);
 *  - a timer armed (mtimecmp written) during a machine_run() call fires at
 *    the exact icount, whatever limits machine_run() was called with;
 *  - a snapshot (machine_save) loaded into a fresh machine, or back into the
 *    same one, and run on reaches the same state, also with 2 harts;
 *  - a paging guest that clears PTE A/D bits without sfence.vma reaches the
 *    same state whether or not save/load round trips and dirty resets (which
 *    flush the TLBs) break its run, on 1 to 3 harts sharing the page
 *    tables: the TLB is invisible.
 *
 * The guest code is the raw image below, loaded at 0x80000000 as a kernel
 * with no bios, so every hart starts at _start with a0 = hartid. It was
 * built from this source (prog.S) with
 *   riscv64-unknown-elf-gcc -march=rv64gc -mabi=lp64d -nostdlib -nostartfiles
 *       -static -Wl,-Ttext=0x80000000 -o prog.elf prog.S
 *   riscv64-unknown-elf-objcopy -O binary prog.elf prog.bin
 * and the OFF_* values are its symbols minus 0x80000000 (nm). Block
 * comments of the source are written (* like this *) here.
 *
 * `mix` (all harts, forever): a loop with loads/stores to a private page, an
 * amoadd and an lr/sc increment of shared counters, FP multiply/divide, a
 * minstret read, compressed and 32-bit ALU code, an ecall every 16 laps, an
 * access fault every 64, a minstret write every 128, an IPI (CLINT msip) to
 * the next hart every 8 and a WFI every 32; the timer interrupt re-arms
 * itself 3..10 ticks ahead. The single-purpose `case_*` code is entered by
 * setting pc, with rec_trap as the trap vector.
 *
 * (* Programs for tests/unit/test_exact_count.c; raw image at 0x80000000. *)
 * #define CLINT_MSIP     0x2000000
 * #define CLINT_MTIMECMP 0x2004000
 * #define CLINT_MTIME    0x200bff8
 * #define PERHART        0x80100000   (* + 0x1000 * hartid: private data *)
 * #define SHARED         0x80180000   (* [0] amoadd, [8] lr/sc, [16] nharts (set by the test) *)
 *     .text
 *     .globl _start
 * (* mix: every hart runs this forever (a0 = hartid) *)
 * _start:
 *     csrr s2, mhartid
 *     li s0, PERHART
 *     slli t0, s2, 12
 *     add s0, s0, t0
 *     li s3, SHARED
 *     ld s4, 16(s3)
 *     addi s5, s3, 8
 *     la t0, mix_trap
 *     csrw mtvec, t0
 *     li t0, 1 << 13
 *     csrs mstatus, t0
 *     li t0, CLINT_MTIME
 *     ld t1, 0(t0)
 *     addi t1, t1, 20
 *     li t0, CLINT_MTIMECMP
 *     slli t2, s2, 3
 *     add t0, t0, t2
 *     sd t1, 0(t0)
 *     li t0, (1 << 7) | (1 << 3)
 *     csrs mie, t0
 *     csrsi mstatus, 8
 * mix_loop:
 *     addi s1, s1, 1
 *     ld t1, 0(s0)
 *     add t1, t1, s1
 *     sd t1, 0(s0)
 *     li t2, 1
 *     amoadd.d zero, t2, (s3)
 * 1:  lr.d t3, (s5)
 *     addi t3, t3, 1
 *     sc.d t4, t3, (s5)
 *     bnez t4, 1b
 *     fcvt.d.l ft0, s1
 *     fmul.d ft1, ft0, ft0
 *     fdiv.d ft2, ft1, ft0
 *     fsd ft2, 8(s0)
 *     csrr t5, minstret
 *     sd t5, 16(s0)
 *     xor a1, a1, s1
 *     slli a2, a1, 3
 *     add a3, a2, s1
 *     srli a4, a3, 2
 *     or a5, a4, a1
 *     sub a6, a5, a2
 *     and a7, a6, a3
 *     c.addi a1, 1
 *     c.mv a2, a7
 *     mul a3, a2, a1
 *     sd a3, 24(s0)
 *     andi t1, s1, 15
 *     bnez t1, 2f
 *     ecall
 * 2:  andi t1, s1, 63
 *     bnez t1, 3f
 *     li t2, 1
 *     slli t2, t2, 40
 *     .option push
 *     .option norvc
 *     ld t3, 0(t2)            (* access fault, skipped by the handler *)
 *     .option pop
 * 3:  andi t1, s1, 127
 *     bnez t1, 4f
 *     csrr t2, minstret
 *     addi t2, t2, 5
 *     csrw minstret, t2
 * 4:  andi t1, s1, 7
 *     bnez t1, 5f
 *     addi t2, s2, 1
 *     blt t2, s4, 6f
 *     li t2, 0
 * 6:  slli t2, t2, 2
 *     li t3, CLINT_MSIP
 *     add t3, t3, t2
 *     li t4, 1
 *     sw t4, 0(t3)
 * 5:  andi t1, s1, 31
 *     bnez t1, mix_loop
 *     wfi
 *     j mix_loop
 *
 * (* gp counts exceptions, tp interrupts; s8-s10 are scratch *)
 *     .balign 4
 * mix_trap:
 *     csrr s8, mcause
 *     bltz s8, 1f
 *     addi gp, gp, 1
 *     csrr s9, mepc
 *     addi s9, s9, 4          (* ecall and the faulting ld are 4 bytes *)
 *     csrw mepc, s9
 *     mret
 * 1:  addi tp, tp, 1
 *     slli s8, s8, 1
 *     srli s8, s8, 1
 *     li s9, 7
 *     beq s8, s9, 2f
 *     li s9, CLINT_MSIP       (* software interrupt: clear our msip *)
 *     csrr s10, mhartid
 *     slli s10, s10, 2
 *     add s9, s9, s10
 *     sw zero, 0(s9)
 *     mret
 * 2:  li s9, CLINT_MTIME      (* timer: re-arm 3..10 ticks ahead *)
 *     ld s10, 0(s9)
 *     andi s8, tp, 7
 *     addi s8, s8, 3
 *     add s10, s10, s8
 *     li s9, CLINT_MTIMECMP
 *     csrr s8, mhartid
 *     slli s8, s8, 3
 *     add s9, s9, s8
 *     sd s10, 0(s9)
 *     mret
 *
 * (* Single-purpose cases: the test sets pc, mtvec and registers. *)
 *     .option norvc
 *     .balign 4
 *     .globl rec_trap
 * rec_trap:                   (* record and stop *)
 *     csrr a3, minstret
 *     csrr a4, mcause
 *     csrr a5, mepc
 *     csrr a6, mtval
 * spin:
 *     j spin
 *
 *     .globl case_load_fault
 * case_load_fault:            (* t1 = unmapped address *)
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     ld a2, 0(t1)
 *     addi a1, a1, 1
 *     j spin
 *
 *     .globl case_store_fault
 * case_store_fault:
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     sd a1, 8(t1)
 *     addi a1, a1, 1
 *     j spin
 *
 *     .globl case_ecall
 * case_ecall:
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     ecall
 *     addi a1, a1, 1
 *     j spin
 *
 *     .globl case_ebreak
 * case_ebreak:
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     ebreak
 *     addi a1, a1, 1
 *     j spin
 *
 *     .globl case_illegal
 * case_illegal:
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     addi a1, a1, 1
 *     .word 0
 *     addi a1, a1, 1
 *     j spin
 *
 *     .globl case_rvc_fault
 * case_rvc_fault:             (* s0 = unmapped address; 2-byte instructions *)
 *     .option rvc
 *     c.addi a1, 1
 *     c.addi a1, 1
 *     c.addi a1, 1
 *     c.addi a1, 1
 *     c.ld a2, 0(s0)
 *     c.addi a1, 1
 *     .option norvc
 *     j spin
 *
 *     .globl case_minstret
 * case_minstret:
 *     li t0, 1000
 *     csrr s1, mcycle
 *     csrw minstret, t0
 *     csrr a0, minstret
 *     csrr a1, minstret
 *     csrrw a2, minstret, t0
 *     csrr a3, minstret
 *     csrr s2, mcycle
 *     csrrwi zero, minstret, 7
 *     csrr a4, minstret
 *     csrrs a5, minstret, zero
 *     csrrsi a6, minstret, 0
 *     j spin
 *
 *     .globl case_mtime
 * case_mtime:                 (* t1 = CLINT_MTIME; reads it mid-block *)
 *     ld a1, 0(t1)
 *     addi a0, a0, 1
 *     addi a0, a0, 1
 *     ld a2, 0(t1)
 *     addi a0, a0, 1
 *     ld a3, 0(t1)
 *     j spin
 *
 *     .globl case_timer
 * case_timer:                 (* t1 = CLINT_MTIME, t2 = this hart's mtimecmp *)
 *     ld a1, 0(t1)
 *     addi a1, a1, 3
 *     sd a1, 0(t2)            (* the timer fires 3 ticks from now *)
 *     li t0, 1 << 7
 *     csrs mie, t0
 *     csrsi mstatus, 8
 * 1:  addi a0, a0, 1
 *     j 1b
 *
 *     .globl case_straight
 * case_straight:              (* 50 instructions and a jump: 51 per lap *)
 *     .rept 50
 *     addi a1, a1, 1
 *     .endr
 *     j case_straight
 *     .globl prog_end
 * prog_end:
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "machine/board.h"
#include "machine/cpu/hart.h"
#include "machine/cpu/jit.h"
#include "machine/machine.h"
#include "replay/checkpoint.h"

/* prog.bin, little-endian words */
static const uint32_t prog_words[] = {
0xf1402973, 0x041b6405, 0x04528014, 0x00c91293, 0x69859416, 0x09ce298d,
    0x0109ba03, 0x00898a93, 0x00000297, 0x0f028293, 0x30529073, 0xa0736289,
    0xc2b73002, 0x32e10200, 0x0002b303, 0x42b70351, 0x13930200, 0x929e0039,
    0x0062b023, 0x08800293, 0x3042a073, 0x30046073, 0x33030485, 0x93260004,
    0x00643023, 0xb02f4385, 0xbe2f0079, 0x0e05100a, 0x19cabeaf, 0xfe0e9be3,
    0xd224f053, 0x120070d3, 0x1a00f153, 0x00243427, 0xb0202f73, 0x01e43823,
    0x96138da5, 0x06b30035, 0xd7130096, 0x67b30026, 0x883300b7, 0x78b340c7,
    0x058500d8, 0x06b38646, 0xec1402b6, 0x00f4f313, 0x00031463, 0x00000073,
    0x03f4f313, 0x00031663, 0x13a24385, 0x0003be03, 0x07f4f313, 0x00031763,
    0xb02023f3, 0x90730395, 0xf313b023, 0x1e630074, 0x03930003, 0xc3630019,
    0x43810143, 0x0e37038a, 0x9e1e0200, 0x20234e85, 0xf31301de, 0x19e301f4,
    0x0073f403, 0xb7a91050, 0x34202c73, 0x000c4a63, 0x2cf30185, 0x0c913410,
    0x341c9073, 0x30200073, 0x0c060205, 0x001c5c13, 0x0c634c9d, 0x0cb7019c,
    0x2d730200, 0x0d0af140, 0xa0239cea, 0x0073000c, 0xccb73020, 0x3ce10200,
    0x000cbd03, 0x00727c13, 0x9d620c0d, 0x02004cb7, 0xf1402c73, 0x9ce20c0e,
    0x01acb023, 0x30200073, 0xb02026f3, 0x34202773, 0x341027f3, 0x34302873,
    0x0000006f, 0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00033603,
    0x00158593, 0xfe5ff06f, 0x00158593, 0x00158593, 0x00158593, 0x00158593,
    0x00b33423, 0x00158593, 0xfc9ff06f, 0x00158593, 0x00158593, 0x00158593,
    0x00158593, 0x00000073, 0x00158593, 0xfadff06f, 0x00158593, 0x00158593,
    0x00158593, 0x00158593, 0x00100073, 0x00158593, 0xf91ff06f, 0x00158593,
    0x00158593, 0x00158593, 0x00158593, 0x00000000, 0x00158593, 0xf75ff06f,
    0x05850585, 0x05850585, 0x05856010, 0xf65ff06f, 0x3e800293, 0xb00024f3,
    0xb0229073, 0xb0202573, 0xb02025f3, 0xb0229673, 0xb02026f3, 0xb0002973,
    0xb023d073, 0xb0202773, 0xb02027f3, 0xb0206873, 0xf31ff06f, 0x00033583,
    0x00150513, 0x00150513, 0x00033603, 0x00150513, 0x00033683, 0xf15ff06f,
    0x00033583, 0x00358593, 0x00b3b023, 0x08000293, 0x3042a073, 0x30046073,
    0x00150513, 0xffdff06f, 0x00158593, 0x00158593, 0x00158593, 0x00158593,
    0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593,
    0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593,
    0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593,
    0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593,
    0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593,
    0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593,
    0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593, 0x00158593,
    0x00158593, 0x00158593, 0x00158593, 0x00158593, 0xf39ff06f, 0x00000000,
};
#define OFF_MIX_LOOP 0x58
#define OFF_MIX_TRAP 0x110
#define OFF_REC_TRAP 0x170
#define OFF_SPIN 0x180
#define OFF_CASE_LOAD_FAULT 0x184
#define OFF_CASE_STORE_FAULT 0x1a0
#define OFF_CASE_ECALL 0x1bc
#define OFF_CASE_EBREAK 0x1d8
#define OFF_CASE_ILLEGAL 0x1f4
#define OFF_CASE_RVC_FAULT 0x210
#define OFF_CASE_MINSTRET 0x220
#define OFF_CASE_MTIME 0x254
#define OFF_CASE_TIMER 0x270
#define OFF_CASE_STRAIGHT 0x290

#define PROG_BASE RAM_BASE
#define PERHART 0x80100000ull
#define SHARED 0x80180000ull
#define TEST_RAM (4u << 20)
#define UNMAPPED (1ull << 40)
#define CLINT_MTIME 0x200bff8ull
#define CLINT_MTIMECMP 0x2004000ull
#define CSR_MTVEC 0x305

/* --- rig --- */

static uint64_t host_wallclock(void *opaque) { return 1767225600000000000ull; }
static void host_random(void *opaque, uint8_t *buf, size_t n) { memset(buf, 0x5a, n); }
static void host_console(void *opaque, const uint8_t *buf, size_t n) {}

/* The engine these tests run on: $RRVM_JIT (on, off, check), default on;
 * the test suite runs them with each. */
static void set_engine(Machine *m)
{
    const char *e = getenv("RRVM_JIT");
    int mode = !e || !*e || strcmp(e, "on") == 0 ? JIT_MODE_ON : strcmp(e, "check") == 0 ? JIT_MODE_CHECK : JIT_MODE_OFF;
    if (!machine_set_jit(m, mode))
        assert_true(machine_set_jit(m, JIT_MODE_OFF)); /* no code generator on this host */
}

/* A virt machine with the program image loaded at RAM_BASE as a raw
 * kernel (-bios none): every hart starts at _start with a0 = hartid. */
static Machine *new_machine(int nharts, int shift, uint64_t quantum)
{
    MachineConfig cfg = {.ram_size = TEST_RAM, .nharts = nharts, .icount_shift = shift, .board_virt = true,
                         .rtc_base_ns = 1767225600000000000ull, .quantum = quantum};
    MachineHostIf host = {NULL, host_wallclock, host_random, host_console};
    Machine *m = machine_new(&cfg, &host);
    assert_non_null(m);
    set_engine(m);
    uint8_t image[sizeof prog_words];
    for (size_t i = 0; i < sizeof prog_words / 4; i++)
        for (int b = 0; b < 4; b++)
            image[4 * i + (size_t)b] = (uint8_t)(prog_words[i] >> (8 * b));
    BootImages img = {.kernel = {image, sizeof image}};
    char err[256];
    if (!board_load(m, &img, err, sizeof err))
        fail_msg("board_load: %s", err);
    uint64_t n = (uint64_t)nharts;
    assert_true(machine_phys_write(m, SHARED + 16, &n, sizeof n));
    return m;
}

/* Start hart 0 at a single-purpose case with rec_trap as its trap vector. */
static Machine *new_case(uint64_t off, int shift)
{
    Machine *m = new_machine(1, shift, 0);
    Hart *h = m->harts[0];
    h->pc = PROG_BASE + off;
    h->x[11] = h->x[12] = 0; /* board_load's a1 (dtb) and a2 */
    assert_true(hart_csr_write(h, CSR_MTVEC, PROG_BASE + OFF_REC_TRAP));
    return m;
}

/* Run until m->icount == target. Idle periods (every hart in WFI) are
 * skipped to the next timer deadline, as the session layer does; that is a
 * function of the machine state alone, so it cannot break determinism. */
static void run_to(Machine *m, uint64_t target)
{
    while (m->icount < target) {
        MachineStop s = machine_run(m, target);
        assert_true(m->icount <= target);
        if (s == MSTOP_IDLE) {
            uint64_t ns = machine_idle_ns_to_deadline(m);
            assert_true(ns != UINT64_MAX);
            machine_advance_idle(m, ns);
        } else {
            assert_int_equal(s, MSTOP_LIMIT);
        }
    }
    assert_true(m->icount == target);
}

typedef struct State {
    uint8_t *bytes;
    size_t len;
    uint64_t digest;
} State;

static State state_of(const Machine *m)
{
    SerWriter w;
    ser_writer_init(&w);
    machine_save(m, &w);
    assert_false(w.oom);
    State s = {w.buf, w.len, checkpoint_machine_digest(m)};
    return s;
}

static void assert_same_state(const State *a, const State *b, uint64_t icount)
{
    if (a->digest != b->digest || a->len != b->len || memcmp(a->bytes, b->bytes, a->len) != 0) {
        size_t i = 0;
        while (i < a->len && i < b->len && a->bytes[i] == b->bytes[i])
            i++;
        fail_msg("states differ at icount %llu (digest %016llx vs %016llx, first differing byte %zu of %zu)",
                 (unsigned long long)icount, (unsigned long long)a->digest, (unsigned long long)b->digest, i,
                 a->len);
    }
}

static void assert_state_is(const Machine *m, const State *want)
{
    State s = state_of(m);
    assert_same_state(&s, want, m->icount);
    free(s.bytes);
}

/* xorshift64*: the chunk sizes are pseudo-random but the same every run */
typedef struct Rng {
    uint64_t s;
} Rng;

static uint64_t rng_next(Rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}

/* A chunk size: mostly tiny or around the 64-instruction block limit,
 * sometimes large. */
static uint64_t chunk_size(Rng *r)
{
    static const uint64_t sizes[] = {1, 1, 2, 3, 5, 7, 17, 31, 50, 51, 63, 64, 65, 100, 127, 128, 129};
    uint64_t x = rng_next(r);
    if (x % 8 == 0)
        return 1 + (x >> 8) % 5000;
    return sizes[(x >> 8) % (sizeof sizes / sizeof sizes[0])];
}

#define NCHECK 4

/* Reference: run straight to each checkpoint icount and keep its state. */
static void reference_states(int nharts, int shift, uint64_t quantum, const uint64_t *at, State *ref)
{
    Machine *m = new_machine(nharts, shift, quantum);
    for (int i = 0; i < NCHECK; i++) {
        run_to(m, at[i]);
        ref[i] = state_of(m);
    }
    machine_free(m);
}

/* Run in random chunks, comparing with the reference at every checkpoint;
 * returns the machine for further checks. */
static Machine *chunked_run(int nharts, int shift, uint64_t quantum, const uint64_t *at, const State *ref,
                            uint64_t seed, int *calls)
{
    Machine *m = new_machine(nharts, shift, quantum);
    Rng rng = {seed};
    *calls = 0;
    for (int i = 0; i < NCHECK; i++) {
        while (m->icount < at[i]) {
            uint64_t limit = m->icount + chunk_size(&rng);
            run_to(m, limit < at[i] ? limit : at[i]);
            (*calls)++;
        }
        assert_state_is(m, &ref[i]);
    }
    return m;
}

static void free_states(State *s, int n)
{
    for (int i = 0; i < n; i++)
        free(s[i].bytes);
}

/* --- chunked vs whole --- */

static void check_chunked(int nharts, int shift, uint64_t quantum, uint64_t total, uint64_t seed)
{
    uint64_t at[NCHECK] = {total / 7, total / 3 + 1, total / 2 + 17, total};
    State ref[NCHECK];
    reference_states(nharts, shift, quantum, at, ref);
    int calls;
    Machine *m = chunked_run(nharts, shift, quantum, at, ref, seed, &calls);
    assert_true(calls > (int)(total / 1000));

    /* the run exercised what it is meant to: traps, interrupts, WFI idling,
     * minstret writes, and the atomics on every hart */
    uint64_t sum_iter = 0, instret = 0;
    for (int i = 0; i < nharts; i++) {
        Hart *h = m->harts[i];
        assert_true(h->x[3] > 10);            /* gp: exceptions taken */
        assert_true(h->x[4] > 10);            /* tp: interrupts taken */
        assert_true(h->x[9] > 100);           /* s1: loop iterations */
        sum_iter += h->x[9];
        instret += h->instret;
    }
    assert_true(nharts > 1 || m->idle_ns > 0); /* on SMP all harts rarely wait at once */
    assert_true(instret != m->icount); /* minstret writes moved instret */
    /* every loop iteration does one amoadd and one lr/sc increment, after
     * its s1 increment: a hart stopped in between is at most one behind */
    uint64_t amo, lrsc;
    assert_true(machine_phys_read(m, SHARED, &amo, 8));
    assert_true(machine_phys_read(m, SHARED + 8, &lrsc, 8));
    assert_true(amo <= sum_iter && amo + (uint64_t)nharts >= sum_iter);
    assert_true(lrsc <= sum_iter && lrsc + (uint64_t)nharts >= sum_iter);
    machine_free(m);
    free_states(ref, NCHECK);
}

static void test_chunked_equals_whole(void **state)
{
    check_chunked(1, 0, 0, 1000000, 1);
    check_chunked(1, 3, 0, 200000, 2);
}

/* --- single stepping --- */

static void check_single_step(int nharts, uint64_t quantum, uint64_t total, bool expect_idle)
{
    State ref[NCHECK];
    uint64_t at[NCHECK] = {1, 777, total / 2 + 1, total};
    reference_states(nharts, 0, quantum, at, ref);

    Machine *m = new_machine(nharts, 0, quantum);
    int c = 0, idles = 0;
    while (m->icount < total) {
        uint64_t before = m->icount;
        MachineStop s = machine_run(m, before + 1);
        if (s == MSTOP_IDLE) {
            assert_true(m->icount == before);
            machine_advance_idle(m, machine_idle_ns_to_deadline(m));
            idles++;
            continue;
        }
        assert_int_equal(s, MSTOP_LIMIT);
        assert_true(m->icount == before + 1);
        if (m->icount == at[c])
            assert_state_is(m, &ref[c++]);
    }
    assert_int_equal(c, NCHECK);
    assert_true(!expect_idle || idles > 0);
    machine_free(m);
    free_states(ref, NCHECK);
}

static void test_single_step(void **state)
{
    check_single_step(1, 0, 40000, true);
    check_single_step(2, 1000, 40000, false);
    check_single_step(3, 7, 20000, false);
}

/* --- budget exactness inside a block --- */

static void test_budget_mid_block(void **state)
{
    Machine *m = new_case(OFF_CASE_STRAIGHT, 0);
    Hart *h = m->harts[0];
    const uint64_t lap = 51, start = PROG_BASE + OFF_CASE_STRAIGHT;
    /* cold: the very first run stops inside a block never decoded before */
    run_to(m, 3);
    assert_true(h->pc == start + 12 && h->x[11] == 3 && h->instret == 3);
    run_to(m, 2 * lap); /* two laps: the block is cached (and linked) */
    assert_true(h->pc == start && h->x[11] == 100);
    /* warm: start every run at the loop head with a budget of K */
    for (uint64_t k = 1; k <= lap; k++) {
        uint64_t base = m->icount, a1 = h->x[11];
        run_to(m, base + k);
        assert_true(m->icount == base + k);
        assert_true(h->instret == base + k);
        uint64_t want_pc = k == lap ? start : start + 4 * k;
        if (h->pc != want_pc)
            fail_msg("budget %llu: pc %llx, want %llx", (unsigned long long)k, (unsigned long long)h->pc,
                     (unsigned long long)want_pc);
        assert_true(h->x[11] == a1 + (k < lap ? k : lap - 1));
        run_to(m, base + lap); /* resume mid-block, back to the head */
        assert_true(h->pc == start);
        assert_true(h->x[11] == a1 + lap - 1);
    }
    machine_free(m);
}

/* --- exceptions inside a block --- */

typedef struct TrapCase {
    const char *name;
    uint64_t off;
    uint64_t cause;
    int insn_len;     /* bytes per instruction before the faulting one */
    bool tval_is_addr;
} TrapCase;

static void test_trap_mid_block(void **state)
{
    static const TrapCase cases[] = {
        {"load access fault", OFF_CASE_LOAD_FAULT, EXC_LOAD_ACCESS, 4, true},
        {"store access fault", OFF_CASE_STORE_FAULT, EXC_STORE_ACCESS, 4, true},
        {"ecall", OFF_CASE_ECALL, EXC_ECALL_M, 4, false},
        {"ebreak", OFF_CASE_EBREAK, EXC_BREAKPOINT, 4, false},
        {"illegal instruction", OFF_CASE_ILLEGAL, EXC_ILLEGAL_INSN, 4, false},
        {"compressed load fault", OFF_CASE_RVC_FAULT, EXC_LOAD_ACCESS, 2, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const TrapCase *tc = &cases[i];
        uint64_t epc = PROG_BASE + tc->off + 4 * (uint64_t)tc->insn_len;
        /* split: stop right before the faulting instruction, then step */
        for (int split = 0; split < 2; split++) {
            Machine *m = new_case(tc->off, 0);
            Hart *h = m->harts[0];
            h->x[6] = UNMAPPED; /* t1 */
            h->x[8] = UNMAPPED; /* s0 */
            if (split) {
                run_to(m, 4);
                assert_true(h->pc == epc && h->instret == 4);
                run_to(m, 5);
            } else {
                run_to(m, 5);
            }
            /* 4 retired, the 5th trapped without retiring, and the one
             * instruction retired since is the handler's minstret read */
            if (h->pc != PROG_BASE + OFF_REC_TRAP + 4 || h->x[13] != 4)
                fail_msg("%s (split %d): pc %llx minstret-in-handler %llu", tc->name, split,
                         (unsigned long long)h->pc, (unsigned long long)h->x[13]);
            assert_true(h->instret == 5 && m->icount == 5);
            assert_true(h->x[11] == 4); /* a1: the four increments, not the fifth */
            run_to(m, 8);
            assert_true(h->x[14] == tc->cause);
            assert_true(h->x[15] == epc);
            if (tc->tval_is_addr)
                assert_true(h->x[16] == UNMAPPED + (tc->cause == EXC_STORE_ACCESS ? 8 : 0));
            machine_free(m);
        }
    }
}

/* --- minstret writes --- */

static void test_minstret_write(void **state)
{
    /* Unprivileged spec, Zicsr: "If a CSR access instruction writes such a
     * CSR, the explicit write is done instead of the update from the side
     * effect. In particular, a value written to instret by one instruction
     * will be the value read by the following instruction." A read returns
     * the value before the reading instruction. */
    Machine *m = new_case(OFF_CASE_MINSTRET, 0);
    Hart *h = m->harts[0];
    run_to(m, 13);
    assert_true(h->pc == PROG_BASE + OFF_SPIN);
    assert_true(h->x[10] == 1000);      /* a0: csrr right after csrw 1000 */
    assert_true(h->x[11] == 1001);      /* a1: one more retired */
    assert_true(h->x[12] == 1002);      /* a2: csrrw reads the old value ... */
    assert_true(h->x[13] == 1000);      /* a3: ... and the write wins */
    assert_true(h->x[14] == 7);         /* a4: after csrrwi 7 */
    assert_true(h->x[15] == 8);         /* a5: csrrs with x0 does not write */
    assert_true(h->x[16] == 9);         /* a6: csrrsi with 0 does not write */
    /* mcycle is another counter: writing minstret must not move it back */
    assert_true(h->x[18] > h->x[9]);    /* s2 > s1 */
    assert_true(h->x[18] - h->x[9] <= 7);
    /* the machine's clock counts every instruction, writes or not */
    assert_true(m->icount == 13);
    assert_true(h->instret == 11);      /* 10 after a6's read, then j spin */
    machine_free(m);
}

/* --- icount as seen by MMIO in the middle of a block --- */

static void test_mtime_mid_block(void **state)
{
    /* shift 10: 1024 ns per instruction, mtime ticks every 100 ns, so every
     * instruction is visible in mtime */
    Machine *m = new_case(OFF_CASE_MTIME, 10);
    Hart *h = m->harts[0];
    h->x[6] = CLINT_MTIME;
    run_to(m, 7);
    assert_true(h->pc == PROG_BASE + OFF_SPIN);
    assert_true(h->x[11] == (0 * 1024) / 100); /* read as the 1st instruction */
    assert_true(h->x[12] == (3 * 1024) / 100); /* 4th */
    assert_true(h->x[13] == (5 * 1024) / 100); /* 6th */
    machine_free(m);
}

/* --- a timer armed while the hart runs --- */

static void test_timer_armed_mid_run(void **state)
{
    /* The hart arms its timer 3 ticks (300 instructions at shift 0) ahead
     * while machine_run() is already running it, then spins. The interrupt
     * must be taken at exactly icount 300 (the handler's first instruction
     * reads minstret = 300) however machine_run() is called: one call with
     * a far limit, or small steps. */
    static const uint64_t limits[] = {100000, 10, 1};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        Machine *m = new_case(OFF_CASE_TIMER, 0);
        Hart *h = m->harts[0];
        h->x[6] = CLINT_MTIME;
        h->x[7] = CLINT_MTIMECMP;
        while (m->icount < 2000) {
            uint64_t next = m->icount + limits[i];
            run_to(m, next < 2000 ? next : 2000);
        }
        if (h->pc != PROG_BASE + OFF_SPIN)
            fail_msg("machine_run steps of %llu: timer interrupt not taken by icount 2000 (due at 300)",
                     (unsigned long long)limits[i]);
        if (h->x[13] != 300)
            fail_msg("machine_run steps of %llu: timer interrupt taken at icount %llu, want 300",
                     (unsigned long long)limits[i], (unsigned long long)h->x[13]);
        assert_true(h->x[14] == (1ull << 63 | IRQ_MTI));
        machine_free(m);
    }
}

/* --- snapshots --- */

static void check_snapshot(int nharts, uint64_t quantum, uint64_t x, uint64_t y)
{
    Machine *a = new_machine(nharts, 0, quantum);
    run_to(a, x);
    SerWriter snap;
    ser_writer_init(&snap);
    machine_save(a, &snap);
    assert_false(snap.oom);
    run_to(a, y);
    State want = state_of(a);

    /* a fresh machine with the same config and images */
    Machine *b = new_machine(nharts, 0, quantum);
    run_to(b, 1234); /* whatever it was doing is overwritten */
    SerReader r;
    ser_reader_init(&r, snap.buf, snap.len);
    assert_true(machine_load(b, &r));
    assert_true(b->icount == x);
    run_to(b, y);
    assert_state_is(b, &want);

    /* rewinding the original machine works the same */
    ser_reader_init(&r, snap.buf, snap.len);
    assert_true(machine_load(a, &r));
    Rng rng = {nharts * 1000003ull + x};
    while (a->icount < y) {
        uint64_t limit = a->icount + chunk_size(&rng);
        run_to(a, limit < y ? limit : y);
    }
    assert_state_is(a, &want);

    free(want.bytes);
    ser_writer_free(&snap);
    machine_free(a);
    machine_free(b);
}

static void test_snapshot_round_trip(void **state)
{
    check_snapshot(1, 0, 50001, 120000);
    check_snapshot(2, 1000, 40013, 110000);
    check_snapshot(2, 0, 33333, 80000); /* default quantum: stops mid-turn */
}

/* --- several harts --- */

static void test_smp_schedule_independence(void **state)
{
    check_chunked(2, 0, 0, 500000, 11);   /* default quantum 10000 */
    check_chunked(2, 0, 97, 500000, 12);
    check_chunked(3, 1, 1000, 500000, 13);
    check_chunked(4, 0, 13, 500000, 14);
    check_chunked(4, 2, 5000, 500000, 15);
}

/* --- the TLB is invisible to a paging guest --- */

/* A paging guest (raw image at 0x80000000, started in M-mode): it builds
 * Sv39 tables, enters S and loops forever clearing A of a data page's PTE
 * and loading from the page, clearing D and storing to it, clearing A of a
 * code page's PTE and calling into it, without sfence.vma; s2/s3/s4 add up
 * the A/D bits found set again (0x40/0x80 each), s5 counts laps. Unless the
 * TLB is a pure cache of the walk, the bits come back or not depending on
 * when the TLB was last flushed, so save/load round trips and
 * machine_dirty_reset (which flush it) would change the final state.
 * Built like prog.S above (-Wl,-Ttext=0x80000000) from:
 * (* paging guest for test_exact_count.c: S-mode loop clearing PTE A/D
 *  * without sfence.vma and touching the pages (load, store, fetch) *)
 * #define PT_ROOT 0x80200000
 * #define PT_L1   0x80201000
 * #define PT_L0   0x80202000
 * #define DATA    0x80203000
 *     .text
 *     .globl _start
 * _start:
 *     la t0, trap
 *     csrw mtvec, t0
 *     li t0, PT_ROOT
 *     li t1, ((0x80000000 >> 12) << 10) | 0xcf  (* 1G identity, VRWXAD *)
 *     sd t1, 16(t0)
 *     li t1, ((PT_L1 >> 12) << 10) | 1
 *     sd t1, 8(t0)
 *     li t0, PT_L1
 *     li t1, ((PT_L0 >> 12) << 10) | 1
 *     sd t1, 0(t0)
 *     li t0, PT_L0
 *     li t1, ((DATA >> 12) << 10) | 0xc7        (* VA 0x40000000: data, VRWAD *)
 *     sd t1, 0(t0)
 *     la t1, codepage
 *     srli t1, t1, 12
 *     slli t1, t1, 10
 *     ori t1, t1, 0x49                          (* VA 0x40001000: code, VXA *)
 *     sd t1, 8(t0)
 *     li t0, -1
 *     srli t0, t0, 10
 *     csrw pmpaddr0, t0
 *     li t0, 0x1f
 *     csrw pmpcfg0, t0
 *     li t0, (8 << 60) | (PT_ROOT >> 12)
 *     csrw satp, t0
 *     sfence.vma
 *     la t0, s_main
 *     csrw mepc, t0
 *     li t0, 3 << 11
 *     csrc mstatus, t0
 *     li t0, 1 << 11
 *     csrs mstatus, t0
 *     mret
 * s_main:
 *     li s0, PT_L0
 *     li s1, 0x40000000
 *     li s6, 0x40001000
 *     li s2, 0
 *     li s3, 0
 *     li s4, 0
 *     li s5, 0
 *     li s7, ~0x40
 *     li s8, ~0x80
 * loop:
 *     ld t0, 0(s0)          (* clear A of the data page, load from it *)
 *     and t0, t0, s7
 *     sd t0, 0(s0)
 *     ld t2, 0(s1)
 *     ld t0, 0(s0)
 *     andi t0, t0, 0x40
 *     add s2, s2, t0
 *     ld t0, 0(s0)          (* clear D, store to it *)
 *     and t0, t0, s8
 *     sd t0, 0(s0)
 *     sd s5, 8(s1)
 *     ld t0, 0(s0)
 *     andi t0, t0, 0x80
 *     add s3, s3, t0
 *     ld t0, 8(s0)          (* clear A of the code page, call into it *)
 *     and t0, t0, s7
 *     sd t0, 8(s0)
 *     jalr ra, 0(s6)
 *     ld t0, 8(s0)
 *     andi t0, t0, 0x40
 *     add s4, s4, t0
 *     addi s5, s5, 1
 *     j loop
 * trap:
 *     j trap
 *     .balign 4096
 * codepage:
 *     addi a0, a0, 1
 *     ret
 */
static const uint32_t pg_words[] = {
0x00000297, 0x12a28293, 0x30529073, 0x4010029b, 0x033702d6, 0x031b2000,
    0xb8230cf3, 0x03370062, 0x031b2008, 0xb4234013, 0x02b70062, 0x829b0008,
    0x02b22012, 0x20081337, 0x8013031b, 0x0062b023, 0x000402b7, 0x1012829b,
    0x133702b6, 0x031b2008, 0xb023cc73, 0x13170062, 0x03130000, 0x5313faa3,
    0x032a00c3, 0x04936313, 0x0062b423, 0xd29352fd, 0x907300a2, 0x42fd3b02,
    0x3a029073, 0xfff0029b, 0x028512b2, 0x829302ce, 0x90732002, 0x00731802,
    0x02971200, 0x82930000, 0x90730242, 0x62893412, 0x8002829b, 0x3002b073,
    0x829b6285, 0xa0738002, 0x00733002, 0x04373020, 0x041b0004, 0x04361014,
    0x400004b7, 0x40001b37, 0x49814901, 0x4a814a01, 0xfbf00b93, 0xf7f00c13,
    0x00043283, 0x0172f2b3, 0x00543023, 0x0004b383, 0x00043283, 0x0402f293,
    0x32839916, 0xf2b30004, 0x30230182, 0xb4230054, 0x32830154, 0xf2930004,
    0x99960802, 0x00843283, 0x0172f2b3, 0x00543423, 0x000b00e7, 0x00843283,
    0x0402f293, 0x0a859a16, 0xa001bf45,
};
#define PG_CODEPAGE_OFF 0x1000
static const uint32_t pg_codepage_word = 0x80820505;

static Machine *new_paging_machine(int nharts)
{
    MachineConfig cfg = {.ram_size = TEST_RAM, .nharts = nharts, .icount_shift = 0, .board_virt = true,
                         .rtc_base_ns = 1767225600000000000ull, .quantum = 97};
    MachineHostIf host = {NULL, host_wallclock, host_random, host_console};
    Machine *m = machine_new(&cfg, &host);
    assert_non_null(m);
    set_engine(m);
    uint8_t image[PG_CODEPAGE_OFF + 4] = {0};
    memcpy(image, pg_words, sizeof pg_words);
    memcpy(image + PG_CODEPAGE_OFF, &pg_codepage_word, 4);
    BootImages img = {.kernel = {image, sizeof image}};
    char err[256];
    if (!board_load(m, &img, err, sizeof err))
        fail_msg("board_load: %s", err);
    return m;
}

/* save + load into the same machine: a full state round trip */
static void round_trip(Machine *m)
{
    SerWriter w;
    ser_writer_init(&w);
    machine_save(m, &w);
    assert_false(w.oom);
    SerReader r;
    ser_reader_init(&r, w.buf, w.len);
    assert_true(machine_load(m, &r));
    ser_writer_free(&w);
}

/* With several harts they all run the loop on the same PTEs, so one hart
 * clears bits that another has cached translations for. */
static void check_tlb_invisible(int nharts, uint64_t seed)
{
    const uint64_t total = 300000;
    Machine *a = new_paging_machine(nharts);
    run_to(a, total);
    State want = state_of(a);
    for (int i = 0; i < nharts; i++) {
        Hart *h = a->harts[i];
        uint64_t laps = h->x[21];
        assert_int_equal(h->priv, PRV_S);
        assert_true(laps > 1000 / (uint64_t)nharts);
        /* alone, the bits came back on every lap (the last may be cut
         * short); other harts may clear them in between */
        if (nharts == 1) {
            assert_true(h->x[18] / 0x40 >= laps && h->x[18] / 0x40 <= laps + 1);
            assert_true(h->x[19] / 0x80 >= laps - 1 && h->x[19] / 0x80 <= laps + 1);
            assert_true(h->x[20] / 0x40 >= laps - 1 && h->x[20] / 0x40 <= laps + 1);
        }
    }

    /* the same run broken at pseudo-random icounts by state round trips,
     * checkpoint-style dirty resets, and plain stops */
    Machine *b = new_paging_machine(nharts);
    Rng rng = {seed};
    int round_trips = 0, resets = 0;
    while (b->icount < total) {
        uint64_t limit = b->icount + chunk_size(&rng);
        run_to(b, limit < total ? limit : total);
        uint64_t x = rng_next(&rng) % 4;
        if (x == 0) {
            round_trip(b);
            round_trips++;
        } else if (x == 1) {
            machine_dirty_reset(b, DIRTY_DIGEST);
            resets++;
        }
    }
    assert_true(round_trips > 100 && resets > 100);
    assert_state_is(b, &want);
    free(want.bytes);
    machine_free(a);
    machine_free(b);
}

static void test_tlb_invisible_to_paging_guest(void **state)
{
    check_tlb_invisible(1, 77);
    check_tlb_invisible(2, 78);
    check_tlb_invisible(3, 79);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_mid_block),
        cmocka_unit_test(test_trap_mid_block),
        cmocka_unit_test(test_minstret_write),
        cmocka_unit_test(test_mtime_mid_block),
        cmocka_unit_test(test_timer_armed_mid_run),
        cmocka_unit_test(test_single_step),
        cmocka_unit_test(test_chunked_equals_whole),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_smp_schedule_independence),
        cmocka_unit_test(test_tlb_invisible_to_paging_guest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
