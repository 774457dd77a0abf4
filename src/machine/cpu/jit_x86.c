/*
 * jit_x86.c - x86-64 code generation for decoded blocks (see jit.h).
 *
 * A template emitter: each RISC-V operation becomes a fixed sequence of
 * host instructions working on the guest registers in memory (h->x[],
 * h->f[]), with no register allocation across instructions. Semantics
 * that are not a few host instructions (division, mulhsu, every F/D
 * computation) are calls to C functions, the same ones the interpreter
 * uses or with its exact expressions, so there is one definition of them.
 *
 * Host registers while generated code runs (all callee-saved, so C
 * helpers keep them):
 *   rbx = &h->x[0]     r12 = h            rbp = the JitCtx
 *   r13 = read TLB set r14 = write TLB set r15 = instructions left
 * rax, rcx, rdx, rsi, rdi are scratch within one guest instruction.
 *
 * Invariants:
 *  - The stack is 16-byte aligned inside block code (jit_enter's frame),
 *    so helpers can be called directly.
 *  - Every exit that leaves a block early passes through a per-instruction
 *    stub that gives the unrun instructions back to r15 and names the
 *    instruction; nothing of that instruction has been written.
 *  - x[0] is never written (the decoder turns register writes to x0 into
 *    NOP, and loads into x0 only skip the write); it reads as 0 from
 *    memory because nothing ever stores to it.
 *  - The code space is one memory file mapped twice: writable (where code
 *    is emitted and links are patched) and executable (where it runs),
 *    never both, so a guest that finds a way to write host memory cannot
 *    write code that runs. It is filled from the start and reset only as a
 *    whole (jit_reset). Emitted code and its bookkeeping use the writable
 *    view's addresses; only JitBlock.code and the entry point are
 *    executable-view addresses (rel32 displacements are the same in both).
 */
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "machine/cpu/hart.h"
#include "machine/cpu/jit.h"
#include "machine/cpu/rvops.h"
#include "machine/cpu/softfp.h"

#if defined(__x86_64__) && defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* Emitter                                                                */

enum { RAX = 0, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
enum { CC_B = 2, CC_AE = 3, CC_E = 4, CC_NE = 5, CC_L = 0xC, CC_GE = 0xD };

/* Operands kept in fixed host registers (see the file comment). */
#define XBASE RBX
#define HREG R12
#define CTX RBP
#define TLBR R13
#define TLBW R14
#define LEFT R15

struct Jit {
    JitLayout layout;
    int miscompile_op; /* jit_test_miscompile(); 0 (OP_ILLEGAL): none */
    JitStats stats;
    uint8_t *mem;       /* writable view */
    uint8_t *exec;      /* executable view of the same pages */
    size_t size, used;
    void (*enter)(JitCtx *ctx, Hart *h, void *code);
    uint8_t *epilogue;
};

typedef struct Emit {
    uint8_t *p, *end;
    bool overflow;
} Emit;

typedef struct Mem {
    int base, index, scale; /* index < 0: none */
    int32_t disp;
} Mem;

static Mem mem_at(int base, int32_t disp) { return (Mem){ base, -1, 1, disp }; }

static void b1(Emit *e, uint8_t v)
{
    if (e->p < e->end)
        *e->p++ = v;
    else
        e->overflow = true;
}

static void b4(Emit *e, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b1(e, (uint8_t)(v >> (8 * i)));
}

static void b8(Emit *e, uint64_t v)
{
    b4(e, (uint32_t)v);
    b4(e, (uint32_t)(v >> 32));
}

#define unlikely_test(x) __builtin_expect(!!(x), 0)

static bool fits8(int64_t v) { return v >= -128 && v <= 127; }
static bool fits32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

/* Opcodes are written most significant byte first: 0x0FAF is 0F AF. */
static void opcode(Emit *e, uint32_t opc)
{
    if (opc > 0xffff)
        b1(e, (uint8_t)(opc >> 16));
    if (opc > 0xff)
        b1(e, (uint8_t)(opc >> 8));
    b1(e, (uint8_t)opc);
}

static void rex(Emit *e, bool w, int reg, int index, int base, bool force)
{
    uint8_t r = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg >> 3) & 1) << 2 | ((index >> 3) & 1) << 1 | ((base >> 3) & 1));
    if (r != 0x40 || force)
        b1(e, r);
}

/* op reg, r/m (register direct) */
static void op_rr(Emit *e, bool w, uint32_t opc, int reg, int rm)
{
    rex(e, w, reg, 0, rm, false);
    opcode(e, opc);
    b1(e, (uint8_t)(0xC0 | (reg & 7) << 3 | (rm & 7)));
}

/* op reg, [mem] */
static void op_rm(Emit *e, bool w, uint32_t opc, int reg, Mem m)
{
    rex(e, w, reg, m.index < 0 ? 0 : m.index, m.base, false);
    opcode(e, opc);
    int mod = (m.disp == 0 && (m.base & 7) != 5) ? 0 : fits8(m.disp) ? 1 : 2;
    if (m.index < 0 && (m.base & 7) != 4) {
        b1(e, (uint8_t)(mod << 6 | (reg & 7) << 3 | (m.base & 7)));
    } else {
        int ss = m.scale == 8 ? 3 : m.scale == 4 ? 2 : m.scale == 2 ? 1 : 0;
        assert(m.index != RSP);
        b1(e, (uint8_t)(mod << 6 | (reg & 7) << 3 | 4));
        b1(e, (uint8_t)(ss << 6 | ((m.index < 0 ? 4 : m.index) & 7) << 3 | (m.base & 7)));
    }
    if (mod == 1)
        b1(e, (uint8_t)m.disp);
    else if (mod == 2)
        b4(e, (uint32_t)m.disp);
}

static Mem xreg(int g) { return mem_at(XBASE, 8 * g); }
static Mem freg(int g) { return mem_at(HREG, (int32_t)(offsetof(Hart, f) + 8 * (size_t)g)); }
static Mem hfield(size_t off) { return mem_at(HREG, (int32_t)off); }
static Mem cfield(size_t off) { return mem_at(CTX, (int32_t)off); }

static void mov_load(Emit *e, int reg, Mem m) { op_rm(e, true, 0x8B, reg, m); }
static void mov_store(Emit *e, Mem m, int reg) { op_rm(e, true, 0x89, reg, m); }
static void mov_rr(Emit *e, int dst, int src) { op_rr(e, true, 0x89, src, dst); }

static void mov_imm(Emit *e, int reg, uint64_t v)
{
    if (v <= UINT32_MAX) { /* mov r32, imm32 zero-extends */
        rex(e, false, 0, 0, reg, false);
        b1(e, (uint8_t)(0xB8 + (reg & 7)));
        b4(e, (uint32_t)v);
    } else if (fits32((int64_t)v)) {
        op_rr(e, true, 0xC7, 0, reg);
        b4(e, (uint32_t)v);
    } else {
        rex(e, true, 0, 0, reg, false);
        b1(e, (uint8_t)(0xB8 + (reg & 7)));
        b8(e, v);
    }
}

/* ALU group 1 (/digit: add 0, or 1, and 4, sub 5, xor 6, cmp 7) with an
 * immediate, on a register. */
static void alu_ri(Emit *e, bool w, int digit, int reg, int64_t imm)
{
    assert(fits32(imm));
    if (fits8(imm)) {
        op_rr(e, w, 0x83, digit, reg);
        b1(e, (uint8_t)imm);
    } else {
        op_rr(e, w, 0x81, digit, reg);
        b4(e, (uint32_t)imm);
    }
}

static void alu_mi(Emit *e, bool w, int digit, Mem m, int32_t imm)
{
    if (fits8(imm)) {
        op_rm(e, w, 0x83, digit, m);
        b1(e, (uint8_t)imm);
    } else {
        op_rm(e, w, 0x81, digit, m);
        b4(e, (uint32_t)imm);
    }
}

/* reg += v for any 64-bit v (rcx is clobbered when v needs 64 bits) */
static void add_imm64(Emit *e, int reg, int64_t v)
{
    if (v == 0)
        return;
    if (fits32(v)) {
        alu_ri(e, true, 0, reg, v);
    } else {
        assert(reg != RCX);
        mov_imm(e, RCX, (uint64_t)v);
        op_rr(e, true, 0x01, RCX, reg);
    }
}

static void shift_ri(Emit *e, bool w, int digit, int reg, int amount)
{
    op_rr(e, w, 0xC1, digit, reg);
    b1(e, (uint8_t)amount);
}

static void movsxd(Emit *e, int dst, int src) { op_rr(e, true, 0x63, dst, src); }

/* setcc al; movzx eax, al */
static void setcc_rax(Emit *e, int cc)
{
    op_rr(e, false, 0x0F90 | (uint32_t)cc, 0, RAX);
    op_rr(e, false, 0x0FB6, RAX, RAX);
}

/* Forward jumps: the rel32's position, patched by `bind`. */
static uint8_t *jcc_fwd(Emit *e, int cc)
{
    b1(e, 0x0F);
    b1(e, (uint8_t)(0x80 | cc));
    uint8_t *at = e->p;
    b4(e, 0);
    return at;
}

static uint8_t *jmp_fwd(Emit *e)
{
    b1(e, 0xE9);
    uint8_t *at = e->p;
    b4(e, 0);
    return at;
}

static void patch_rel32(uint8_t *at, const uint8_t *target)
{
    int32_t rel = (int32_t)(target - (at + 4));
    memcpy(at, &rel, 4);
}

static void bind(Emit *e, uint8_t *at)
{
    if (at && !e->overflow)
        patch_rel32(at, e->p);
}

static void jmp_to(Emit *e, const uint8_t *target)
{
    uint8_t *at = jmp_fwd(e);
    if (!e->overflow)
        patch_rel32(at, target);
}

static void call_abs(Emit *e, const void *fn)
{
    mov_imm(e, RAX, (uint64_t)(uintptr_t)fn);
    op_rr(e, false, 0xFF, 2, RAX); /* call rax */
}

/* ---------------------------------------------------------------------- */
/* Helpers called from generated code: the interpreter's expressions      */

/* Generated code calls these with the System V ABI; the semantics are
 * rvops.h's, shared with the interpreter. */
static uint64_t h_mulhsu(uint64_t a, uint64_t b) { return rv_mulhsu(a, b); }
static uint64_t h_div(uint64_t a, uint64_t d) { return rv_div(a, d); }
static uint64_t h_divu(uint64_t a, uint64_t d) { return rv_divu(a, d); }
static uint64_t h_rem(uint64_t a, uint64_t d) { return rv_rem(a, d); }
static uint64_t h_remu(uint64_t a, uint64_t d) { return rv_remu(a, d); }
static uint64_t h_divw(uint64_t a, uint64_t d) { return rv_divw(a, d); }
static uint64_t h_divuw(uint64_t a, uint64_t d) { return rv_divuw(a, d); }
static uint64_t h_remw(uint64_t a, uint64_t d) { return rv_remw(a, d); }
static uint64_t h_remuw(uint64_t a, uint64_t d) { return rv_remuw(a, d); }

/* The fused multiply-adds with their signs fixed (five arguments: all in
 * registers). */
static sf64 h_fmadd_d(sf64 a, sf64 b, sf64 c, int rm, uint32_t *fl) { return f64_muladd(a, b, c, false, false, rm, fl); }
static sf64 h_fmsub_d(sf64 a, sf64 b, sf64 c, int rm, uint32_t *fl) { return f64_muladd(a, b, c, false, true, rm, fl); }
static sf64 h_fnmsub_d(sf64 a, sf64 b, sf64 c, int rm, uint32_t *fl) { return f64_muladd(a, b, c, true, false, rm, fl); }
static sf64 h_fnmadd_d(sf64 a, sf64 b, sf64 c, int rm, uint32_t *fl) { return f64_muladd(a, b, c, true, true, rm, fl); }
static sf64 h_fsqrt_d(sf64 a, sf64 unused, int rm, uint32_t *fl) { (void)unused; return f64_sqrt(a, rm, fl); }

/* The double-precision arithmetic ops generated code calls directly (the
 * interpreter's op_fadd_d..op_fnmadd_d, FP_ARITH_D): operands, rounding
 * mode, h->fflags to accrue into; nargs f registers are read. */
typedef struct FpArith {
    uint8_t op, nargs;
    const void *fn;
} FpArith;

static const FpArith *fp_arith(int op)
{
    static const FpArith table[] = {
        { OP_FADD_D, 2, (const void *)f64_add }, { OP_FSUB_D, 2, (const void *)f64_sub },
        { OP_FMUL_D, 2, (const void *)f64_mul }, { OP_FDIV_D, 2, (const void *)f64_div },
        { OP_FSQRT_D, 2, (const void *)h_fsqrt_d },
        { OP_FMADD_D, 3, (const void *)h_fmadd_d }, { OP_FMSUB_D, 3, (const void *)h_fmsub_d },
        { OP_FNMSUB_D, 3, (const void *)h_fnmsub_d }, { OP_FNMADD_D, 3, (const void *)h_fnmadd_d },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].op == op)
            return &table[i];
    return NULL;
}

/* Check mode: remember a store before it happens. */
static void h_journal(JitCtx *ctx, uint8_t *host, uint64_t val, uint32_t size)
{
    assert(ctx->njournal < JIT_JOURNAL_MAX);
    __typeof__(&ctx->journal[0]) j = &ctx->journal[ctx->njournal++];
    j->host = host;
    j->size = size;
    j->old = 0;
    memcpy(&j->old, host, size);
    j->new_ = size == 8 ? val : val & ((1ull << (8 * size)) - 1);
}

typedef uint64_t (*BinFn)(uint64_t, uint64_t);

static BinFn binary_helper(int op)
{
    switch (op) {
    case OP_MULHSU: return h_mulhsu;
    case OP_DIV: return h_div;
    case OP_DIVU: return h_divu;
    case OP_REM: return h_rem;
    case OP_REMU: return h_remu;
    case OP_DIVW: return h_divw;
    case OP_DIVUW: return h_divuw;
    case OP_REMW: return h_remw;
    case OP_REMUW: return h_remuw;
    default: return NULL;
    }
}

/* ---------------------------------------------------------------------- */
/* Guest register cache                                                   */

/* Within one block, guest registers live in host registers from the pool
 * below (all caller-saved, so a helper call drops them). The cache is
 * written back ("flushed") before every instruction that can exit, before
 * every helper call and before control leaves the block, so exits never
 * have anything to write back and memory is the truth at every exit. */
static const int8_t reg_pool[] = { RSI, RDI, R8, R9, R10, R11 };
#define NPOOL ((int)(sizeof reg_pool / sizeof reg_pool[0]))

typedef struct RegCache {
    int8_t guest[NPOOL];  /* guest register in pool slot i, -1: free */
    bool dirty[NPOOL];    /* newer than h->x[] */
    uint32_t used[NPOOL]; /* last use, for eviction */
    uint32_t clock;
} RegCache;

typedef struct Compile {
    Emit e;
    Jit *j;
    const Insn *insn;
    uint32_t n;
    unsigned page_off;
    void *tag;
    bool check;
    JitBlock *jb;
    RegCache rc;
    /* pending jumps to the exit stub of instruction k */
    struct { uint8_t *at; uint32_t k; } fix[4 * 64 + 8];
    int nfix;
} Compile;

static void rc_reset(RegCache *rc)
{
    memset(rc, 0, sizeof *rc);
    for (int i = 0; i < NPOOL; i++)
        rc->guest[i] = -1;
}

static int rc_slot_of(const RegCache *rc, int g)
{
    for (int i = 0; i < NPOOL; i++)
        if (rc->guest[i] == g)
            return i;
    return -1;
}

static void rc_flush(Compile *c)
{
    for (int i = 0; i < NPOOL; i++)
        if (c->rc.guest[i] >= 0 && c->rc.dirty[i]) {
            mov_store(&c->e, xreg(c->rc.guest[i]), reg_pool[i]);
            c->rc.dirty[i] = false;
        }
}

/* After a helper call: caller-saved registers are gone (flushed before). */
static void rc_forget(Compile *c)
{
    for (int i = 0; i < NPOOL; i++)
        assert(c->rc.guest[i] < 0 || !c->rc.dirty[i]);
    rc_reset(&c->rc);
}

/* A pool slot for guest g, not one of the host registers in `keep` (a
 * bit mask of host register numbers); writes back what it evicts. */
static int rc_alloc(Compile *c, int g, unsigned keep)
{
    RegCache *rc = &c->rc;
    int best = -1;
    for (int i = 0; i < NPOOL; i++) {
        if (keep & (1u << reg_pool[i]))
            continue;
        if (rc->guest[i] < 0) {
            best = i;
            break;
        }
        if (best < 0 || rc->used[i] < rc->used[best])
            best = i;
    }
    assert(best >= 0);
    if (rc->guest[best] >= 0 && rc->dirty[best])
        mov_store(&c->e, xreg(rc->guest[best]), reg_pool[best]);
    rc->guest[best] = (int8_t)g;
    rc->dirty[best] = false;
    rc->used[best] = ++rc->clock;
    return best;
}

/* Host register holding guest register g (loaded if needed). */
static int rc_get(Compile *c, int g, unsigned keep)
{
    int i = rc_slot_of(&c->rc, g);
    if (i < 0) {
        i = rc_alloc(c, g, keep);
        mov_load(&c->e, reg_pool[i], xreg(g));
    }
    c->rc.used[i] = ++c->rc.clock;
    return reg_pool[i];
}

/* Host register that will hold a new value of guest register g. */
static int rc_def(Compile *c, int g, unsigned keep)
{
    assert(g != 0);
    int i = rc_slot_of(&c->rc, g);
    if (i < 0)
        i = rc_alloc(c, g, keep);
    c->rc.dirty[i] = true;
    c->rc.used[i] = ++c->rc.clock;
    return reg_pool[i];
}

#define BIT(r) (1u << (r))

/* ---------------------------------------------------------------------- */
/* Block compiler                                                         */

static void exit_to_insn(Compile *c, uint8_t *at, uint32_t k)
{
    if (!at)
        return;
    if (c->nfix >= (int)(sizeof c->fix / sizeof c->fix[0])) {
        c->e.overflow = true;
        return;
    }
    c->fix[c->nfix].at = at;
    c->fix[c->nfix].k = k;
    c->nfix++;
}

/* Common tail of every exit: name the block and the reason. */
static void exit_tail(Compile *c, int reason)
{
    Emit *e = &c->e;
    op_rm(e, false, 0xC7, 0, cfield(offsetof(JitCtx, exit_reason)));
    b4(e, (uint32_t)reason);
    mov_imm(e, RAX, (uint64_t)(uintptr_t)c->tag);
    mov_store(e, cfield(offsetof(JitCtx, exit_block)), RAX);
    jmp_to(e, c->j->epilogue);
}

/* The stub for "instruction k is the interpreter's": give back what did
 * not run (the block's length was taken at entry). */
static void emit_insn_stub(Compile *c, uint32_t k)
{
    Emit *e = &c->e;
    if (c->n - k)
        alu_ri(e, true, 0, LEFT, (int64_t)(c->n - k));
    op_rm(e, false, 0xC7, 0, cfield(offsetof(JitCtx, exit_k)));
    b4(e, k);
    exit_tail(c, JIT_EXIT_INSN);
}

/* A DONE exit to the virtual address in rdx through succ slot `slot`. */
static void emit_done(Compile *c, int slot)
{
    Emit *e = &c->e;
    mov_store(e, cfield(offsetof(JitCtx, next_pc)), RDX);
    op_rm(e, false, 0xC7, 0, cfield(offsetof(JitCtx, slot)));
    b4(e, (uint32_t)slot);
    exit_tail(c, JIT_EXIT_DONE);
}

/* Control goes to the virtual address in rdx, through succ slot `slot`
 * (-1: an indirect jump): found in the exec TLB and the hart's jump cache
 * as exec.c's `chain` would, a compiled block there is entered directly
 * (ctx->vpage follows it); anything else is a DONE exit. The cache must
 * be flushed (the pool registers are scratch here). */
static void emit_lookup(Compile *c, int slot)
{
    Emit *e = &c->e;
    const JitLayout *L = &c->j->layout;
    uint8_t *fail[6];
    int nf = 0;
    if (!c->check) {
        mov_rr(e, RAX, RDX);
        shift_ri(e, true, 5, RAX, PAGE_SHIFT);                        /* rax = vpage */
        op_rr(e, false, 0x0FB6, RCX, RAX);                            /* movzx ecx, al */
        op_rm(e, true, 0x8D, RCX, (Mem){ RCX, RCX, 2, 0 });           /* rcx *= 3 */
        mov_load(e, RSI, cfield(offsetof(JitCtx, tlb_exec)));
        op_rm(e, true, 0x3B, RAX, (Mem){ RSI, RCX, 8, (int32_t)offsetof(TlbEntry, vpage) });
        fail[nf++] = jcc_fwd(e, CC_NE);
        mov_load(e, RDI, (Mem){ RSI, RCX, 8, (int32_t)offsetof(TlbEntry, addend) });
        op_rr(e, true, 0x01, RDX, RDI);                               /* rdi = host address */
        op_rr(e, false, 0x8B, RAX, RDX);                              /* eax = edx */
        shift_ri(e, false, 5, RAX, 1);
        alu_ri(e, false, 4, RAX, HART_JCACHE_SIZE - 1);
        shift_ri(e, false, 4, RAX, 4);                                /* * sizeof entry */
        _Static_assert(sizeof(((Hart *)0)->jc[0]) == 16, "jump cache entries are 16 bytes");
        op_rm(e, true, 0x8D, RAX, (Mem){ HREG, RAX, 1, (int32_t)offsetof(Hart, jc) });
        op_rm(e, true, 0x3B, RDX, mem_at(RAX, 0));                    /* vpc */
        fail[nf++] = jcc_fwd(e, CC_NE);
        mov_load(e, RAX, mem_at(RAX, 8));                             /* block */
        op_rr(e, true, 0x85, RAX, RAX);
        fail[nf++] = jcc_fwd(e, CC_E);
        op_rm(e, true, 0x3B, RDI, mem_at(RAX, (int32_t)L->block_host));
        fail[nf++] = jcc_fwd(e, CC_NE);
        mov_load(e, RAX, mem_at(RAX, (int32_t)L->block_code));
        op_rr(e, true, 0x85, RAX, RAX);
        fail[nf++] = jcc_fwd(e, CC_E);
        mov_rr(e, RCX, RDX);
        alu_ri(e, true, 4, RCX, -(int64_t)PAGE_SIZE);
        mov_store(e, cfield(offsetof(JitCtx, vpage)), RCX);
        op_rr(e, false, 0xFF, 4, RAX);                                /* jmp rax */
    }
    for (int i = 0; i < nf; i++)
        bind(e, fail[i]);
    emit_done(c, slot);
}

/* Control leaves the block for page offset `target` (absolute pc =
 * vpage + target) through succ slot `slot`; with a link site when the
 * target is on this page. The register cache must be flushed; rax is free. */
static void emit_leave(Compile *c, int slot, int64_t target)
{
    Emit *e = &c->e;
    if (slot >= 0 && target >= 0 && target < (int64_t)PAGE_SIZE && (target & 1) == 0) {
        /* mov rax, imm64: the generation the link was made in, patched with
         * the jump (0 until then: generations start at 1) */
        rex(e, true, 0, 0, RAX, false);
        b1(e, 0xB8);
        uint8_t *gen_imm = e->p;
        b8(e, 0);
        if (!e->overflow)
            c->jb->link_gen_imm[slot] = gen_imm;
        op_rm(e, true, 0x3B, RAX, cfield(offsetof(JitCtx, gen))); /* cmp rax, [gen] */
        uint8_t *to_done = jcc_fwd(e, CC_NE);
        uint8_t *site = jmp_fwd(e);
        if (!e->overflow)
            c->jb->link_site[slot] = site;
        bind(e, to_done);
        bind(e, site);
        /* not linked yet: exit, so that exec.c links it (a lookup here would
         * keep it from ever seeing this exit) */
        mov_load(e, RDX, cfield(offsetof(JitCtx, vpage)));
        add_imm64(e, RDX, target);
        emit_done(c, slot);
        return;
    }
    mov_load(e, RDX, cfield(offsetof(JitCtx, vpage)));
    add_imm64(e, RDX, target);
    emit_lookup(c, slot);
}

/* rax = x[rs1] + imm, then the TLB probe of `set` for an aligned `size`
 * access: on success rax is the host address. Exits to instruction k
 * otherwise. Clobbers rcx, rdx. The cache must be flushed. */
static void emit_tlb(Compile *c, uint32_t k, int set, int size)
{
    Emit *e = &c->e;
    const Insn *in = &c->insn[k];
    int base = rc_get(c, in->rs1, 0);
    op_rm(e, true, 0x8D, RAX, mem_at(base, in->imm)); /* lea rax, [base+imm] */
    if (size > 1) {
        b1(e, 0xA8); /* test al, size-1 */
        b1(e, (uint8_t)(size - 1));
        exit_to_insn(c, jcc_fwd(e, CC_NE), k);
    }
    _Static_assert(TLB_SIZE == 256, "the probe indexes the TLB with one byte");
    _Static_assert(sizeof(TlbEntry) == 24, "the probe scales the index by 3*8");
    mov_rr(e, RDX, RAX);
    shift_ri(e, true, 5, RDX, PAGE_SHIFT);                     /* shr rdx, 12 */
    op_rr(e, false, 0x0FB6, RCX, RDX);                           /* movzx ecx, dl */
    op_rm(e, true, 0x8D, RCX, (Mem){ RCX, RCX, 2, 0 });          /* lea rcx, [rcx+rcx*2] */
    op_rm(e, true, 0x3B, RDX, (Mem){ set, RCX, 8, (int32_t)offsetof(TlbEntry, vpage) });
    exit_to_insn(c, jcc_fwd(e, CC_NE), k);
    op_rm(e, true, 0x03, RAX, (Mem){ set, RCX, 8, (int32_t)offsetof(TlbEntry, addend) });
}

static void emit_require_fs(Compile *c, uint32_t k)
{
    Emit *e = &c->e;
    op_rm(e, true, 0xF7, 0, hfield(offsetof(Hart, mstatus))); /* test [mstatus], FS */
    b4(e, (uint32_t)MSTATUS_FS);
    exit_to_insn(c, jcc_fwd(e, CC_E), k);
}

static void emit_load(Compile *c, uint32_t k)
{
    Emit *e = &c->e;
    const Insn *in = &c->insn[k];
    static const struct { uint8_t op; uint8_t size; bool w; uint32_t opc; } loads[] = {
        { OP_LB, 1, true, 0x0FBE }, { OP_LH, 2, true, 0x0FBF }, { OP_LW, 4, true, 0x63 },
        { OP_LD, 8, true, 0x8B }, { OP_LBU, 1, false, 0x0FB6 }, { OP_LHU, 2, false, 0x0FB7 },
        { OP_LWU, 4, false, 0x8B }, { OP_FLW, 4, false, 0x8B }, { OP_FLD, 8, true, 0x8B },
    };
    size_t i = 0;
    while (loads[i].op != in->op)
        i++;
    bool fp = in->op == OP_FLW || in->op == OP_FLD;
    rc_flush(c);
    if (fp)
        emit_require_fs(c, k);
    emit_tlb(c, k, TLBR, loads[i].size);
    if (!fp) {
        if (in->rd) {
            int d = rc_def(c, in->rd, 0);
            op_rm(e, loads[i].w, loads[i].opc, d, mem_at(RAX, 0));
        } else {
            op_rm(e, loads[i].w, loads[i].opc, RDX, mem_at(RAX, 0));
        }
        return;
    }
    op_rm(e, loads[i].w, loads[i].opc, RDX, mem_at(RAX, 0));
    if (in->op == OP_FLW) {
        mov_imm(e, RCX, 0xffffffff00000000ull);
        op_rr(e, true, 0x09, RCX, RDX); /* or rdx, rcx: NaN-box */
    }
    mov_store(e, freg(in->rd), RDX);
    alu_mi(e, true, 1, hfield(offsetof(Hart, mstatus)), (int32_t)MSTATUS_FS_DIRTY);
}

static void emit_store(Compile *c, uint32_t k)
{
    Emit *e = &c->e;
    const Insn *in = &c->insn[k];
    int size = in->op == OP_SB ? 1 : in->op == OP_SH ? 2 : (in->op == OP_SW || in->op == OP_FSW) ? 4 : 8;
    bool fp = in->op == OP_FSW || in->op == OP_FSD;
    rc_flush(c);
    if (fp)
        emit_require_fs(c, k);
    emit_tlb(c, k, TLBW, size);
    if (fp)
        mov_load(e, RDX, freg(in->rs2));
    else
        mov_rr(e, RDX, rc_get(c, in->rs2, 0));
    if (c->check) {
        b1(e, 0x50); /* push rax */
        b1(e, 0x52); /* push rdx */
        mov_rr(e, RSI, RAX);
        mov_rr(e, RDI, CTX);
        mov_imm(e, RCX, (uint64_t)size);
        call_abs(e, (const void *)h_journal);
        b1(e, 0x5A); /* pop rdx */
        b1(e, 0x58); /* pop rax */
        rc_forget(c);
    }
    switch (size) {
    case 1: op_rm(e, false, 0x88, RDX, mem_at(RAX, 0)); break;
    case 2: b1(e, 0x66); op_rm(e, false, 0x89, RDX, mem_at(RAX, 0)); break;
    case 4: op_rm(e, false, 0x89, RDX, mem_at(RAX, 0)); break;
    default: op_rm(e, true, 0x89, RDX, mem_at(RAX, 0)); break;
    }
}

/* The register-register ALU ops: rd = rs1 OP rs2. False if `op` is not
 * one (nothing emitted). */
static bool emit_alu_rr(Compile *c, const Insn *in)
{
    Emit *e = &c->e;
    static const struct { uint8_t op; bool w32; uint32_t opc; } simple[] = {
        { OP_ADD, false, 0x03 }, { OP_SUB, false, 0x2B }, { OP_AND, false, 0x23 },
        { OP_OR, false, 0x0B }, { OP_XOR, false, 0x33 }, { OP_MUL, false, 0x0FAF },
        { OP_ADDW, true, 0x03 }, { OP_SUBW, true, 0x2B }, { OP_MULW, true, 0x0FAF },
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (simple[i].op != in->op)
            continue;
        int a = rc_get(c, in->rs1, 0);
        int b = rc_get(c, in->rs2, BIT(a));
        int d = rc_def(c, in->rd, BIT(a) | BIT(b));
        op_rr(e, !simple[i].w32, 0x8B, RAX, a);
        op_rr(e, !simple[i].w32, simple[i].opc, RAX, b);
        if (simple[i].w32)
            movsxd(e, d, RAX);
        else
            mov_rr(e, d, RAX);
        return true;
    }
    BinFn fn = binary_helper(in->op);
    if (fn) {
        /* arguments from memory: the pool registers are the argument registers */
        rc_flush(c);
        mov_load(e, RDI, xreg(in->rs1));
        mov_load(e, RSI, xreg(in->rs2));
        call_abs(e, (const void *)fn);
        rc_forget(c);
        mov_rr(e, rc_def(c, in->rd, 0), RAX);
        return true;
    }
    int a, b, d;
    switch (in->op) {
    case OP_SLT: case OP_SLTU:
        a = rc_get(c, in->rs1, 0);
        b = rc_get(c, in->rs2, BIT(a));
        d = rc_def(c, in->rd, BIT(a) | BIT(b));
        op_rr(e, true, 0x39, b, a); /* cmp a, b */
        setcc_rax(e, in->op == OP_SLT ? CC_L : CC_B);
        mov_rr(e, d, RAX);
        return true;
    case OP_SLL: case OP_SRL: case OP_SRA: case OP_SLLW: case OP_SRLW: case OP_SRAW: {
        /* x86 masks the count by 63 (by 31 for 32-bit operands), as RISC-V does */
        bool w32 = in->op == OP_SLLW || in->op == OP_SRLW || in->op == OP_SRAW;
        int digit = (in->op == OP_SLL || in->op == OP_SLLW) ? 4 : (in->op == OP_SRL || in->op == OP_SRLW) ? 5 : 7;
        a = rc_get(c, in->rs1, 0);
        b = rc_get(c, in->rs2, BIT(a));
        d = rc_def(c, in->rd, BIT(a) | BIT(b));
        mov_rr(e, RCX, b);
        op_rr(e, !w32, 0x8B, RAX, a);
        op_rr(e, !w32, 0xD3, digit, RAX);
        if (w32)
            movsxd(e, d, RAX);
        else
            mov_rr(e, d, RAX);
        return true;
    }
    case OP_MULH: case OP_MULHU:
        a = rc_get(c, in->rs1, 0);
        b = rc_get(c, in->rs2, BIT(a));
        d = rc_def(c, in->rd, BIT(a) | BIT(b));
        mov_rr(e, RAX, a);
        op_rr(e, true, 0xF7, in->op == OP_MULH ? 5 : 4, b); /* rdx:rax = rax * b */
        mov_rr(e, d, RDX);
        return true;
    default:
        return false;
    }
}

/* The register-immediate ALU ops and lui: rd = rs1 OP imm. */
static bool emit_alu_ri(Compile *c, const Insn *in)
{
    Emit *e = &c->e;
    int a, d;
    switch (in->op) {
    case OP_LUI:
        mov_imm(e, rc_def(c, in->rd, 0), (uint64_t)(int64_t)in->imm);
        return true;
    case OP_ADDI:
        a = rc_get(c, in->rs1, 0);
        d = rc_def(c, in->rd, BIT(a));
        op_rm(e, true, 0x8D, d, mem_at(a, in->imm)); /* lea d, [a+imm] */
        return true;
    case OP_XORI: case OP_ORI: case OP_ANDI: {
        int digit = in->op == OP_XORI ? 6 : in->op == OP_ORI ? 1 : 4;
        a = rc_get(c, in->rs1, 0);
        d = rc_def(c, in->rd, BIT(a));
        mov_rr(e, RAX, a);
        alu_ri(e, true, digit, RAX, in->imm);
        mov_rr(e, d, RAX);
        return true;
    }
    case OP_SLTI: case OP_SLTIU:
        a = rc_get(c, in->rs1, 0);
        d = rc_def(c, in->rd, BIT(a));
        alu_ri(e, true, 7, a, in->imm); /* cmp a, imm */
        setcc_rax(e, in->op == OP_SLTI ? CC_L : CC_B);
        mov_rr(e, d, RAX);
        return true;
    case OP_SLLI: case OP_SRLI: case OP_SRAI: {
        int digit = in->op == OP_SLLI ? 4 : in->op == OP_SRLI ? 5 : 7;
        a = rc_get(c, in->rs1, 0);
        d = rc_def(c, in->rd, BIT(a));
        mov_rr(e, RAX, a);
        if (in->imm)
            shift_ri(e, true, digit, RAX, in->imm);
        mov_rr(e, d, RAX);
        return true;
    }
    case OP_ADDIW:
        a = rc_get(c, in->rs1, 0);
        d = rc_def(c, in->rd, BIT(a));
        op_rm(e, false, 0x8D, RAX, mem_at(a, in->imm)); /* lea eax, [a+imm] */
        movsxd(e, d, RAX);
        return true;
    case OP_SLLIW: case OP_SRLIW: case OP_SRAIW: {
        int digit = in->op == OP_SLLIW ? 4 : in->op == OP_SRLIW ? 5 : 7;
        a = rc_get(c, in->rs1, 0);
        d = rc_def(c, in->rd, BIT(a));
        op_rr(e, false, 0x8B, RAX, a);
        if (in->imm)
            shift_ri(e, false, digit, RAX, in->imm);
        movsxd(e, d, RAX);
        return true;
    }
    default:
        return false;
    }
}

static void emit_branch(Compile *c, uint32_t k)
{
    Emit *e = &c->e;
    const Insn *in = &c->insn[k];
    int cc = 0;
    switch (in->op) {
    case OP_BEQ: cc = CC_E; break;
    case OP_BNE: cc = CC_NE; break;
    case OP_BLT: cc = CC_L; break;
    case OP_BGE: cc = CC_GE; break;
    case OP_BLTU: cc = CC_B; break;
    case OP_BGEU: cc = CC_AE; break;
    default: assert(0);
    }
    int a = rc_get(c, in->rs1, 0);
    int b = rc_get(c, in->rs2, BIT(a));
    rc_flush(c);
    op_rr(e, true, 0x39, b, a); /* cmp a, b */
    uint8_t *taken = jcc_fwd(e, cc);
    emit_leave(c, 1, (int64_t)c->page_off + c->insn[k + 1].pc_off);
    bind(e, taken);
    emit_leave(c, 0, (int64_t)c->page_off + in->pc_off + in->imm);
}

/* rd = the virtual address of page offset `off` (a link register) */
static void emit_link_reg(Compile *c, int rd, int64_t off)
{
    if (!rd)
        return;
    int d = rc_def(c, rd, 0);
    mov_load(&c->e, d, cfield(offsetof(JitCtx, vpage)));
    add_imm64(&c->e, d, off);
}

/* Whether emit_insn compiles this operation. */
static bool op_compiled(int op)
{
    switch (op) {
    case OP_NOP: case OP_FENCE: case OP_JAL: case OP_JALR:
    case OP_BEQ: case OP_BNE: case OP_BLT: case OP_BGE: case OP_BLTU: case OP_BGEU:
    case OP_LB: case OP_LH: case OP_LW: case OP_LD: case OP_LBU: case OP_LHU: case OP_LWU:
    case OP_FLW: case OP_FLD: case OP_SB: case OP_SH: case OP_SW: case OP_SD: case OP_FSW: case OP_FSD:
        return true;
    default:
        return op_only_writes_rd(op) || (op >= OP_FP_FIRST && op <= OP_FP_LAST);
    }
}

/* Emit instruction k (op_compiled(op) holds). */
static void emit_insn(Compile *c, uint32_t k)
{
    Emit *e = &c->e;
    const Insn *in = &c->insn[k];
    int64_t here = (int64_t)c->page_off + in->pc_off;
    int64_t next = (int64_t)c->page_off + c->insn[k + 1].pc_off;
    switch (in->op) {
    case OP_NOP: case OP_FENCE:
        return;
    case OP_AUIPC:
        emit_link_reg(c, in->rd, here + in->imm);
        return;
    case OP_JAL:
        emit_link_reg(c, in->rd, next);
        rc_flush(c);
        emit_leave(c, 0, here + in->imm);
        return;
    case OP_JALR: {
        int t = rc_get(c, in->rs1, 0);
        op_rm(e, true, 0x8D, RDX, mem_at(t, in->imm)); /* lea rdx, [t+imm] */
        alu_ri(e, true, 4, RDX, -2);
        emit_link_reg(c, in->rd, next);
        rc_flush(c);
        emit_lookup(c, -1);
        return;
    }
    case OP_BEQ: case OP_BNE: case OP_BLT: case OP_BGE: case OP_BLTU: case OP_BGEU:
        emit_branch(c, k);
        return;
    case OP_LB: case OP_LH: case OP_LW: case OP_LD: case OP_LBU: case OP_LHU: case OP_LWU:
    case OP_FLW: case OP_FLD:
        emit_load(c, k);
        return;
    case OP_SB: case OP_SH: case OP_SW: case OP_SD: case OP_FSW: case OP_FSD:
        emit_store(c, k);
        return;
    default:
        break;
    }
    const FpArith *fa = fp_arith(in->op);
    int static_rm = (int)((in->raw >> 12) & 7);
    if (fa && (static_rm <= RM_RMM || static_rm == RM_DYN)) {
        /* as the interpreter's FP_ARITH_D: FS off or an invalid dynamic
         * rounding mode leave it to the interpreter (illegal) */
        static const int argreg[3] = { RDI, RSI, RDX };
        int rm_reg = fa->nargs == 3 ? RCX : RDX, fl_reg = fa->nargs == 3 ? R8 : RCX;
        rc_flush(c);
        emit_require_fs(c, k);
        if (static_rm == RM_DYN) {
            op_rm(e, false, 0x8B, RAX, hfield(offsetof(Hart, frm)));
            alu_ri(e, false, 7, RAX, RM_RMM);
            exit_to_insn(c, jcc_fwd(e, 0x7 /* above */), k);
            op_rr(e, false, 0x8B, rm_reg, RAX);
        } else {
            mov_imm(e, rm_reg, (uint64_t)static_rm);
        }
        const uint8_t srcs[3] = { in->rs1, in->rs2, in->rs3 };
        for (int i = 0; i < fa->nargs; i++)
            mov_load(e, argreg[i], freg(srcs[i]));
        op_rm(e, true, 0x8D, fl_reg, hfield(offsetof(Hart, fflags)));
        call_abs(e, fa->fn);
        rc_forget(c);
        mov_store(e, freg(in->rd), RAX);
        alu_mi(e, true, 1, hfield(offsetof(Hart, mstatus)), (int32_t)MSTATUS_FS_DIRTY);
        return;
    }
    if (in->op >= OP_FP_FIRST && in->op <= OP_FP_LAST) {
        /* fpu_exec reads and writes x[] in memory, and changes nothing
         * when it refuses (FS off, bad rm) */
        rc_flush(c);
        mov_rr(e, RDI, HREG);
        mov_imm(e, RSI, (uint64_t)(uintptr_t)in);
        call_abs(e, (const void *)fpu_exec);
        rc_forget(c);
        b1(e, 0x84); /* test al, al */
        b1(e, 0xC0);
        exit_to_insn(c, jcc_fwd(e, CC_E), k);
        return;
    }
    assert(in->rd != 0);
    if (!emit_alu_rr(c, in) && !emit_alu_ri(c, in))
        assert(0 && "op_compiled and emit_insn disagree");
    if (unlikely_test(c->j->miscompile_op == in->op))
        alu_ri(e, true, 0, rc_def(c, in->rd, 0), 1); /* the deliberate bug */
}

bool jit_compile(Jit *j, const Insn *insn, uint32_t n, unsigned page_off, void *tag, bool check,
                 JitBlock *jb)
{
    if (!j || n == 0 || !op_compiled(insn[0].op))
        return false;
    Compile *c = calloc(1, sizeof *c);
    if (!c)
        return false;
    c->j = j;
    c->insn = insn;
    c->n = n;
    c->page_off = page_off;
    c->tag = tag;
    c->check = check;
    c->jb = jb;
    rc_reset(&c->rc);
    jb->link_site[0] = jb->link_site[1] = NULL;
    jb->link_gen_imm[0] = jb->link_gen_imm[1] = NULL;
    jb->link_gen[0] = jb->link_gen[1] = 0;
    Emit *e = &c->e;
    uint8_t *start = j->mem + j->used;
    e->p = start;
    e->end = j->mem + j->size;

    /* entry: run only if the whole block fits in the budget */
    alu_ri(e, true, 7, LEFT, n);
    uint8_t *no_room = jcc_fwd(e, CC_B);
    alu_ri(e, true, 5, LEFT, n);
    uint32_t k = 0;
    bool ended = false;
    while (k < n && op_compiled(insn[k].op)) {
        emit_insn(c, k);
        if (op_ends_block(insn[k++].op)) {
            ended = true;
            break;
        }
    }
    if (!ended) {
        rc_flush(c);
        if (k == n) /* ran off the block's end: page end or size limit */
            emit_leave(c, 0, (int64_t)page_off + insn[n].pc_off);
        else
            exit_to_insn(c, jmp_fwd(e), k);
    }
    uint32_t ncompiled = k;
    /* stubs */
    bind(e, no_room);
    exit_tail(c, JIT_EXIT_BUDGET);
    uint8_t *stub_at[65] = { 0 };
    for (int i = 0; i < c->nfix && !e->overflow; i++) {
        uint32_t sk = c->fix[i].k;
        assert(sk <= 64);
        if (!stub_at[sk]) {
            stub_at[sk] = e->p;
            emit_insn_stub(c, sk);
        }
        if (!e->overflow)
            patch_rel32(c->fix[i].at, stub_at[sk]);
    }
    bool ok = !e->overflow;
    if (ok) {
        jb->code = j->exec + (start - j->mem);
        jb->ninsns = ncompiled;
        j->stats.blocks++;
        j->stats.insns += ncompiled;
        j->stats.code_bytes += (uint64_t)(e->p - start);
        j->used = (size_t)(e->p - j->mem);
        j->used = (j->used + 15) & ~(size_t)15;
    } else {
        jb->link_site[0] = jb->link_site[1] = NULL;
        jb->link_gen_imm[0] = jb->link_gen_imm[1] = NULL;
        j->used = j->size; /* full: exec.c flushes at its next safe point */
    }
    free(c);
    return ok;
}

void jit_test_miscompile(Jit *j, int op)
{
    if (j)
        j->miscompile_op = op;
}

void jit_link(Jit *j, JitBlock *from, int slot, const JitBlock *to, uint64_t gen)
{
    assert(slot == 0 || slot == 1);
    if (!from->link_site[slot] || !to->code)
        return;
    /* to->code is in the executable view; the site is in the writable one */
    patch_rel32(from->link_site[slot], j->mem + ((const uint8_t *)to->code - j->exec));
    memcpy(from->link_gen_imm[slot], &gen, 8);
    from->link_gen[slot] = gen;
}

void jit_run(Jit *j, JitCtx *ctx, Hart *h, const JitBlock *jb)
{
    assert(jb->code);
    ctx->njournal = 0;
    j->enter(ctx, h, jb->code);
}

/* jit_enter(ctx, h, code) and the epilogue every exit jumps to. */
static void emit_trampoline(Jit *j)
{
    Emit e = { j->mem, j->mem + j->size, false };
    static const int saved[] = { RBX, RBP, R12, R13, R14, R15 };
    for (int i = 0; i < 6; i++) {
        rex(&e, false, 0, 0, saved[i], false);
        b1(&e, (uint8_t)(0x50 + (saved[i] & 7))); /* push */
    }
    alu_ri(&e, true, 5, RSP, 8); /* sub rsp, 8: 16-byte aligned for calls */
    mov_rr(&e, CTX, RDI);
    mov_rr(&e, HREG, RSI);
    op_rm(&e, true, 0x8D, XBASE, mem_at(RSI, (int32_t)offsetof(Hart, x)));
    mov_load(&e, TLBR, cfield(offsetof(JitCtx, tlb_read)));
    mov_load(&e, TLBW, cfield(offsetof(JitCtx, tlb_write)));
    mov_load(&e, LEFT, cfield(offsetof(JitCtx, left)));
    op_rr(&e, false, 0xFF, 4, RDX); /* jmp rdx */
    j->epilogue = e.p;
    mov_store(&e, cfield(offsetof(JitCtx, left)), LEFT);
    alu_ri(&e, true, 0, RSP, 8);
    for (int i = 5; i >= 0; i--) {
        rex(&e, false, 0, 0, saved[i], false);
        b1(&e, (uint8_t)(0x58 + (saved[i] & 7))); /* pop */
    }
    b1(&e, 0xC3);
    assert(!e.overflow);
    j->enter = (void (*)(JitCtx *, Hart *, void *))(void *)j->exec;
    j->used = ((size_t)(e.p - j->mem) + 15) & ~(size_t)15;
}

bool jit_available(void) { return true; }

Jit *jit_new(size_t bytes, const JitLayout *layout)
{
    Jit *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->layout = *layout;
    int fd = memfd_create("rrvm-jit", MFD_CLOEXEC);
    if (fd < 0) {
        free(j);
        return NULL;
    }
    void *mem = MAP_FAILED, *exec = MAP_FAILED;
    if (ftruncate(fd, (off_t)bytes) == 0) {
        mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        exec = mmap(NULL, bytes, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    }
    close(fd);
    if (mem == MAP_FAILED || exec == MAP_FAILED) {
        if (mem != MAP_FAILED)
            munmap(mem, bytes);
        if (exec != MAP_FAILED)
            munmap(exec, bytes);
        free(j);
        return NULL;
    }
    j->mem = mem;
    j->exec = exec;
    j->size = bytes;
    emit_trampoline(j);
    return j;
}

void jit_free(Jit *j)
{
    if (!j)
        return;
    munmap(j->mem, j->size);
    munmap(j->exec, j->size);
    free(j);
}

void jit_reset(Jit *j)
{
    if (!j)
        return;
    if (j->stats.blocks)
        j->stats.resets++;
    emit_trampoline(j);
}

void jit_stats(const Jit *j, JitStats *out)
{
    *out = j->stats;
}

bool jit_full(const Jit *j)
{
    /* room for the largest block: 64 instructions of at most ~120 bytes,
     * plus their stubs */
    return j && j->size - j->used < 64 * 1024;
}

#else /* no code generator for this host: the interpreter runs everything */

bool jit_available(void) { return false; }
Jit *jit_new(size_t bytes, const JitLayout *layout) { (void)bytes; (void)layout; return NULL; }
void jit_free(Jit *j) { (void)j; }
void jit_reset(Jit *j) { (void)j; }
bool jit_full(const Jit *j) { (void)j; return false; }
bool jit_compile(Jit *j, const Insn *insn, uint32_t n, unsigned page_off, void *tag, bool check, JitBlock *jb)
{
    (void)j; (void)insn; (void)n; (void)page_off; (void)tag; (void)check; (void)jb;
    return false;
}
void jit_test_miscompile(Jit *j, int op) { (void)j; (void)op; }
void jit_stats(const Jit *j, JitStats *out) { (void)j; memset(out, 0, sizeof *out); }
void jit_link(Jit *j, JitBlock *from, int slot, const JitBlock *to, uint64_t gen)
{
    (void)j;
    (void)from; (void)slot; (void)to; (void)gen;
}
void jit_run(Jit *j, JitCtx *ctx, struct Hart *h, const JitBlock *jb)
{
    (void)j; (void)ctx; (void)h; (void)jb;
    abort();
}

#endif
