/*
 * exec.c - the execution engine: building decoded blocks and the
 * interpreter loop hart_run() (the cache that keeps the blocks is
 * bcache.c; compiled code for hot blocks is jit_x86.c).
 *
 * Code is decoded once into blocks (arrays of `Insn`, see decode.h) keyed
 * by the PHYSICAL address of their first instruction and shared by all
 * harts. A block never extends past the 4 KiB page it starts on and ends
 * at the first control transfer, system, CSR, fence.i or illegal
 * instruction, or after BLOCK_MAX_INSNS instructions. An instruction that
 * straddles a page boundary is never cached: it is fetched and decoded
 * each time it runs, so a change of either page's mapping or contents is
 * always seen.
 *
 * Each hart keeps a jump cache from virtual pc to block; an entry is used
 * only if the exec TLB still maps that pc to the block's host address, so
 * translation changes need no extra bookkeeping here.
 *
 * Invariants:
 *  - hart_run(h, budget) retires exactly min(budget, n) instructions and
 *    stops early only for WFI, an exit/reset request (including the one
 *    it makes itself for a trap storm, see TRAP_STORM_LIMIT), or a guest
 *    write that moved a timer deadline (m->timers_changed), so that
 *    machine_run never runs past a deadline armed mid-turn, or before an
 *    instruction at a debugger breakpoint (m->dbg; while any is set,
 *    blocks run unchained and cut short before a breakpoint pc, so the
 *    stop is exact whatever the block layout). Instructions
 *    are counted per block, and a block longer than the remaining budget
 *    is run from a truncated copy. A fused pair (fuse_pair) runs two
 *    instructions in one dispatch; neither can trap, and a truncated copy
 *    that ends between them runs only the first.
 *  - While an instruction executes, m->icount and h->instret count exactly
 *    the instructions retired before it whenever it can be observed: at
 *    CSR instructions, slow-path memory accesses (MMIO, page walks) and
 *    traps.
 *  - Every instruction that can make an interrupt pending and enabled
 *    (CSR, MMIO access, xRET, WFI, trap) ends its block, and interrupts are
 *    checked before every block, so they are taken at the same instruction
 *    boundary whatever the block layout.
 *  - For every RAM page some cached block was decoded from,
 *    m->code_pages[page] is set and no write TLB entry maps the page; a
 *    store to it therefore takes the slow path, which calls
 *    bcache_invalidate_page(). Invalidated blocks are moved to a dead list
 *    and freed only between blocks, so invalidating the running block is
 *    safe; the store then ends the block (the cache generation changed).
 *  - The cache generation `gen` changes whenever a block is invalidated;
 *    jump cache entries and block links from an older generation are never
 *    used.
 *  - With the JIT on (jit.h), insn[0].handler of a cached block is op_hot
 *    (counting runs) or op_jit (entering its compiled code); the
 *    interpreter's own handler for it is Block.handler0, and every copy of
 *    a block (block_prefix_copy) uses that. Compiled code runs a block only
 *    when its whole length fits the budget and returns at the instruction
 *    it cannot run, with nothing of it done, so the counts above stay exact.
 *  - Blocks chain directly into each other (JUMP) without returning to the
 *    loop top. That is exact because everything the loop top checks (mip,
 *    mie, interrupt enables, exit/reset requests, the cache generation)
 *    can only change in an instruction that ends its block through
 *    block_done, which always passes the loop top.
 */
#include <assert.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/cpu/bcache.h"
#include "machine/cpu/decode.h"
#include "machine/cpu/hart.h"
#include "machine/cpu/jit.h"
#include "machine/cpu/rvops.h"
#include "machine/cpu/softfp.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the memory fast paths assume a little-endian host"
#endif

/* A hart that takes this many exceptions in a row without retiring an
 * instruction (e.g. its trap vector is not executable) can never make
 * progress, and virtual time would stand still forever. The machine then
 * exits with TRAP_STORM_EXIT_CODE instead of hanging the host. */
#define TRAP_STORM_LIMIT 1000000u
#define TRAP_STORM_EXIT_CODE 126
/* --jit-check found compiled code that disagrees with the interpreter. */
#define JIT_MISMATCH_EXIT_CODE 125

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Fused pairs: an ALU op whose result the next instruction combines with
 * another register or an immediate (array indexing, bit fields, rotates,
 * hashing, linear congruences). The first Insn gets the fused handler,
 * which runs both and steps over the second; both Insns stay in place, so
 * every count and pc_off stays right. A truncated block copy ending
 * between the two gives the first its own handler back. Neither op can
 * trap or be observed, so running them as one is exact. Handler indexes
 * follow the Ops in the dispatch table. */
enum {
    FUSE_SLLI_ADD = OP_COUNT, /* slli rA, rs, sh; add rB, rOther, rA */
    FUSE_SLLI_XOR,            /* slli rA, rs, sh; xor rB, rOther, rA */
    FUSE_SLLI_OR,             /* slli rA, rs, sh; or rB, rOther, rA */
    FUSE_SRLI_XOR,            /* srli rA, rs, sh; xor rB, rOther, rA */
    FUSE_SRLI_OR,             /* srli rA, rs, sh; or rB, rOther, rA */
    FUSE_SRLI_ANDI,           /* srli rA, rs, sh; andi rB, rA, imm */
    FUSE_MUL_ADD,             /* mul rA, rs1, rs2; add rB, rOther, rA */
    HANDLER_HOT,              /* insn[0] of a block not compiled yet: count a run */
    HANDLER_JIT,              /* insn[0] of a compiled block: run its code */
    HANDLER_COUNT
};

/* The fused handler for first and second, or 0 if they don't fuse. For a
 * fused pair with a register-register second op, second's rs2 is made
 * first's rd (those ops commute). */
static int fuse_pair(const Insn *first, Insn *second)
{
    static const struct { uint8_t first, second; int kind; } pairs[] = {
        { OP_SLLI, OP_ADD, FUSE_SLLI_ADD }, { OP_SLLI, OP_XOR, FUSE_SLLI_XOR },
        { OP_SLLI, OP_OR, FUSE_SLLI_OR }, { OP_SRLI, OP_XOR, FUSE_SRLI_XOR },
        { OP_SRLI, OP_OR, FUSE_SRLI_OR }, { OP_SRLI, OP_ANDI, FUSE_SRLI_ANDI },
        { OP_MUL, OP_ADD, FUSE_MUL_ADD },
    };
    int kind = 0;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (pairs[i].first == first->op && pairs[i].second == second->op)
            kind = pairs[i].kind;
    if (!kind)
        return 0;
    if (second->op == OP_ANDI)
        return second->rs1 == first->rd ? kind : 0;
    /* the other operand must not be the first's result (it would read it) */
    if (second->rs1 == first->rd && second->rs2 != first->rd) {
        second->rs1 = second->rs2;
        second->rs2 = first->rd;
        return kind;
    }
    if (second->rs2 == first->rd && second->rs1 != first->rd)
        return kind;
    return 0;
}

static inline uint16_t read16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* Decode the block starting at host address `host` (physical `paddr`) and
 * insert it. Returns NULL when the first instruction straddles the end of
 * the page (the caller runs it uncached). */
static Block *block_build(Machine *m, const uint8_t *host, uint64_t paddr, const void *const *handlers)
{
    Insn tmp[BLOCK_MAX_INSNS + 1];
    const uint8_t *page = host - (paddr & (PAGE_SIZE - 1));
    unsigned start = (unsigned)(paddr & (PAGE_SIZE - 1)), off = start;
    uint32_t n = 0;

    while (n < BLOCK_MAX_INSNS && off < PAGE_SIZE) {
        uint32_t bits = read16(page + off);
        if (insn_length(bits) == 4) {
            if (off + 4 > PAGE_SIZE)
                break; /* straddles the page end: runs uncached */
            bits |= (uint32_t)read16(page + off + 2) << 16;
        }
        decode_insn(bits, &tmp[n]);
        tmp[n].handler = handlers[tmp[n].op];
        tmp[n].pc_off = (uint16_t)(off - start);
        off += (unsigned)insn_length(bits);
        if (op_ends_block(tmp[n++].op))
            break;
    }
    if (n == 0)
        return NULL;
    for (uint32_t i = 0; i + 1 < n; i++) {
        int kind = fuse_pair(&tmp[i], &tmp[i + 1]);
        if (kind) {
            tmp[i].handler = handlers[kind];
            i++;
        }
    }
    tmp[n] = (Insn){ .handler = handlers[OP_END], .op = OP_END, .pc_off = (uint16_t)(off - start) };
    const void *handler0 = tmp[0].handler;
    if (m->bcache->jit_mode != JIT_MODE_OFF)
        tmp[0].handler = handlers[HANDLER_HOT];

    Block *b = malloc(bcache_block_bytes(n));
    if (!b)
        bcache_out_of_memory();
    b->paddr = paddr;
    b->host = host;
    b->n = n;
    b->succ[0] = b->succ[1] = NULL;
    b->succ_gen = 0;
    b->handler0 = handler0;
    b->hot = 0;
    memset(&b->jit, 0, sizeof b->jit);
    memcpy(b->insn, tmp, (n + 1) * sizeof(Insn));
    bcache_insert(m, b);
    return b;
}

/* ---------------------------------------------------------------------- */
/* Helpers for the interpreter                                            */

static void take_exception(Hart *h, uint64_t cause, uint64_t tval)
{
    h->exc_cause = UINT64_MAX;
    hart_trap(h, cause, tval);
}

/* A store the hart did to RAM outside the TLB fast path (AMO, SC): keep
 * the dirty map and code cache right, and break other harts' reservations
 * on the same granule. */
static void note_ram_write(Hart *h, uint64_t paddr)
{
    Machine *m = h->m;
    uint64_t pn = (paddr - RAM_BASE) >> PAGE_SHIFT;
    m->dirty_pages[pn] = DIRTY_ALL;
    if (m->code_pages[pn])
        bcache_invalidate_page(m, paddr & ~(PAGE_SIZE - 1));
    if (m->pt_pages[pn] & PT_WALKED)
        mmu_pt_page_written(m);
    for (int i = 0; i < m->nharts; i++) {
        Hart *o = m->harts[i];
        if (o != h && o->resv_valid && (o->resv_addr & ~7ull) == (paddr & ~7ull))
            o->resv_valid = false;
    }
}

/* The one way atomics (every AMO, LR and SC) reach memory: the host
 * pointer for an aligned `size`-byte access of kind `acc` (ACC_READ for LR,
 * ACC_WRITE for AMOs and SC, whose faults are store/AMO faults), or NULL
 * with the page or access fault pending. A TLB hit needs no check: an entry
 * exists only for plain RAM that PMP allows for its kind (mmu.c); a miss
 * goes through mmu_ram_ptr (translation, PMP, RAM and not MMIO).
 * *via_tlb tells the caller that the write-TLB invariants (dirty marked,
 * no decoded code on the page) already hold. */
static uint8_t *atomic_ptr(Hart *h, uint64_t va, int size, int acc, uint64_t *pa, bool *via_tlb)
{
    uint8_t *p = hart_tlb_lookup(h, acc, va);
    *via_tlb = p != NULL;
    if (p)
        *pa = RAM_BASE + (uint64_t)(p - h->m->ram);
    else
        p = mmu_ram_ptr(h, va, size, acc, pa);
    return p;
}

static inline uint64_t sext32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)(uint32_t)v; }

/* Compute an AMO's new memory value from the old one. */
static uint64_t amo_apply(int op, uint64_t old, uint64_t src)
{
    switch (op) {
    case OP_AMOSWAP_W: case OP_AMOSWAP_D: return src;
    case OP_AMOADD_W: case OP_AMOADD_D: return old + src;
    case OP_AMOXOR_W: case OP_AMOXOR_D: return old ^ src;
    case OP_AMOAND_W: case OP_AMOAND_D: return old & src;
    case OP_AMOOR_W: case OP_AMOOR_D: return old | src;
    case OP_AMOMIN_W: return (int32_t)old < (int32_t)src ? old : src;
    case OP_AMOMAX_W: return (int32_t)old > (int32_t)src ? old : src;
    case OP_AMOMINU_W: return (uint32_t)old < (uint32_t)src ? old : src;
    case OP_AMOMAXU_W: return (uint32_t)old > (uint32_t)src ? old : src;
    case OP_AMOMIN_D: return (int64_t)old < (int64_t)src ? old : src;
    case OP_AMOMAX_D: return (int64_t)old > (int64_t)src ? old : src;
    case OP_AMOMINU_D: return old < src ? old : src;
    case OP_AMOMAXU_D: return old > src ? old : src;
    default:
        assert(0 && "not an AMO");
        return old;
    }
}

/* Size in bytes and signedness of a load or store op. */
static int mem_size(int op, bool *is_signed)
{
    *is_signed = false;
    switch (op) {
    case OP_LB: *is_signed = true; return 1;
    case OP_LH: *is_signed = true; return 2;
    case OP_LW: *is_signed = true; return 4;
    case OP_LBU: case OP_SB: return 1;
    case OP_LHU: case OP_SH: return 2;
    case OP_LWU: case OP_SW: case OP_FLW: case OP_FSW: return 4;
    case OP_LD: case OP_SD: case OP_FLD: case OP_FSD: return 8;
    default:
        assert(0 && "not a load or store");
        return 1;
    }
}

static uint64_t extend(uint64_t v, int size, bool is_signed)
{
    switch (size) {
    case 1: return is_signed ? (uint64_t)(int64_t)(int8_t)v : (uint8_t)v;
    case 2: return is_signed ? (uint64_t)(int64_t)(int16_t)v : (uint16_t)v;
    case 4: return is_signed ? sext32(v) : (uint32_t)v;
    default: return v;
    }
}

/* hart_tlb_lookup() on a TLB set the caller already picked. */
static inline uint8_t *tlb_hit(const TlbEntry *set, uint64_t vaddr)
{
    uint64_t vpage = vaddr >> PAGE_SHIFT;
    const TlbEntry *e = &set[vpage & (TLB_SIZE - 1)];
    return e->vpage == vpage ? (uint8_t *)(uintptr_t)(vaddr + e->addend) : NULL;
}

/* Debugger breakpoints (m->dbg). True when the hart must stop before
 * executing the instruction at its pc; the skip rule lets it leave the
 * breakpoint it was stopped at (consumed at the hart's next block). */
static bool debug_break_here(Hart *h)
{
    MachineDebug *d = &h->m->dbg;
    bool skip = false;
    if (d->skip_hart >= 0 && h->m->harts[d->skip_hart] == h) {
        skip = h->pc == d->skip_pc;
        d->skip_hart = -1;
    }
    if (skip)
        return false;
    for (int i = 0; i < d->nbp; i++)
        if (d->bp[i] == h->pc) {
            for (int k = 0; k < h->m->nharts; k++)
                if (h->m->harts[k] == h)
                    d->hit_hart = k;
            return true;
        }
    return false;
}

/* With breakpoints set, how many instructions of a block starting at bpc
 * may run before one at a breakpoint (never 0: the first was checked). */
static uint32_t debug_insns_before_break(const Machine *m, const Insn *insn, uint32_t n, uint64_t bpc)
{
    for (uint32_t k = 1; k < n; k++)
        for (int i = 0; i < m->dbg.nbp; i++)
            if (m->dbg.bp[i] == bpc + insn[k].pc_off)
                return k;
    return n;
}

/* Find (or decode) the block at the hart's pc. Returns NULL if fetching
 * faulted (the trap has been taken) or if the instruction straddles a page
 * boundary, in which case *cross holds it decoded, followed by OP_END. */
static Block *find_block(Hart *h, Insn cross[2], bool *crossing, const void *const *handlers)
{
    Machine *m = h->m;
    uint64_t pc = h->pc;
    *crossing = false;

    const uint8_t *hp = hart_tlb_lookup(h, ACC_EXEC, pc);
    if (unlikely(!hp)) {
        uint64_t pa;
        const uint8_t *page = mmu_fetch_page(h, pc, &pa);
        if (!page) {
            take_exception(h, h->exc_cause, h->exc_tval);
            return NULL;
        }
        hp = page + (pc & (PAGE_SIZE - 1));
    }
    assert(hp >= m->ram && hp < m->ram + m->ram_size);

    __typeof__(&h->jc[0]) je = &h->jc[(pc >> 1) & (HART_JCACHE_SIZE - 1)];
    if (likely(je->vpc == pc && je->block && je->block->host == hp))
        return je->block;

    uint64_t paddr = RAM_BASE + (uint64_t)(hp - m->ram);
    Block *b = bcache_find(m->bcache, paddr);
    if (!b)
        b = block_build(m, hp, paddr, handlers);
    if (b) {
        je->vpc = pc;
        je->block = b;
        return b;
    }

    /* The first instruction straddles the page end: fetch its upper half
     * from the next virtual page (which may fault: tval is that page). */
    uint32_t bits = read16(hp);
    const uint8_t *hp2 = hart_tlb_lookup(h, ACC_EXEC, pc + 2);
    if (!hp2) {
        uint64_t pa2;
        hp2 = mmu_fetch_page(h, pc + 2, &pa2);
        if (!hp2) {
            take_exception(h, h->exc_cause, h->exc_tval);
            return NULL;
        }
    }
    bits |= (uint32_t)read16(hp2) << 16;
    decode_insn(bits, &cross[0]);
    cross[0].handler = handlers[cross[0].op];
    cross[0].pc_off = 0;
    cross[1] = (Insn){ .handler = handlers[OP_END], .op = OP_END, .pc_off = 4 };
    *crossing = true;
    return NULL;
}

/* The machine stops itself (not the guest's choice): exit with `code`,
 * `why` for the session to report. */
static void machine_halt(Machine *m, int code, const char *why)
{
    m->exit_requested = true;
    m->exit_code = code;
    m->halt_reason = why;
}

/* ---------------------------------------------------------------------- */
/* --jit-check: every compiled block also runs in the interpreter         */

/* op_jit runs the compiled code, keeps its result here, puts the hart and
 * memory back as they were and lets the interpreter run the same
 * instructions; the loop top then compares. The interpreter's result is
 * the one that stays. */
typedef struct JitCheck {
    bool pending;
    uint64_t retired0, exp_pc;
    uint32_t count;                    /* instructions the compiled code ran */
    const Block *block;
    uint64_t pc0;
    uint64_t x[32], f[32], mstatus;    /* before the block */
    uint32_t fflags;
    uint64_t nx[32], nf[32], nmstatus; /* after the compiled code */
    uint32_t nfflags;
    uint32_t njournal;
    __typeof__(((JitCtx *)0)->journal[0]) journal[JIT_JOURNAL_MAX];
} JitCheck;

static void jit_check_save(const Hart *h, JitCheck *c)
{
    memcpy(c->x, h->x, sizeof c->x);
    memcpy(c->f, h->f, sizeof c->f);
    c->mstatus = h->mstatus;
    c->fflags = h->fflags;
}

/* After compiled code ran block b (alone: check mode links nothing and
 * gives it only b's length): keep its result, put hart and memory back.
 * Returns how many instructions it ran, which the interpreter runs next
 * (0: none, nothing to compare). */
static uint32_t jit_check_rewind(Hart *h, JitCheck *c, const JitCtx *ctx, const Block *b, uint64_t bpc,
                                 uint64_t retired)
{
    assert(ctx->exit_block == b && ctx->exit_reason != JIT_EXIT_BUDGET);
    uint32_t count = ctx->exit_reason == JIT_EXIT_INSN ? ctx->exit_k : b->n;
    uint64_t exp_pc = ctx->exit_reason == JIT_EXIT_DONE ? ctx->next_pc : bpc + b->insn[count].pc_off;
    memcpy(c->nx, h->x, sizeof c->nx);
    memcpy(c->nf, h->f, sizeof c->nf);
    c->nmstatus = h->mstatus;
    c->nfflags = h->fflags;
    for (uint32_t i = ctx->njournal; i-- > 0;)
        memcpy(ctx->journal[i].host, &ctx->journal[i].old, ctx->journal[i].size);
    c->njournal = ctx->njournal;
    memcpy(c->journal, ctx->journal, ctx->njournal * sizeof ctx->journal[0]);
    memcpy(h->x, c->x, sizeof c->x);
    memcpy(h->f, c->f, sizeof c->f);
    h->mstatus = c->mstatus;
    h->fflags = c->fflags;
    c->pending = count > 0;
    c->retired0 = retired;
    c->exp_pc = exp_pc;
    c->count = count;
    c->block = b;
    c->pc0 = bpc;
    return count;
}

static bool jit_check_compare(const Hart *h, const JitCheck *c, uint64_t nretired)
{
    char what[160] = "";
    if (nretired != c->count || h->pc != c->exp_pc)
        snprintf(what, sizeof what, "compiled: %u instructions, next pc 0x%" PRIx64 "; interpreter: %" PRIu64
                 ", next pc 0x%" PRIx64, c->count, c->exp_pc, nretired, h->pc);
    for (int i = 0; i < 32 && !what[0]; i++)
        if (h->x[i] != c->nx[i])
            snprintf(what, sizeof what, "x%d: compiled 0x%" PRIx64 ", interpreter 0x%" PRIx64, i, c->nx[i], h->x[i]);
    for (int i = 0; i < 32 && !what[0]; i++)
        if (h->f[i] != c->nf[i])
            snprintf(what, sizeof what, "f%d: compiled 0x%" PRIx64 ", interpreter 0x%" PRIx64, i, c->nf[i], h->f[i]);
    if (!what[0] && (h->mstatus != c->nmstatus || h->fflags != c->nfflags))
        snprintf(what, sizeof what, "mstatus/fflags: compiled 0x%" PRIx64 "/0x%x, interpreter 0x%" PRIx64 "/0x%x",
                 c->nmstatus, c->nfflags, h->mstatus, h->fflags);
    /* the last store to each address is what memory must hold */
    for (uint32_t i = 0; i < c->njournal && !what[0]; i++) {
        bool later = false;
        for (uint32_t k = i + 1; k < c->njournal; k++)
            later |= c->journal[k].host < c->journal[i].host + c->journal[i].size &&
                     c->journal[i].host < c->journal[k].host + c->journal[k].size;
        uint64_t now = 0;
        memcpy(&now, c->journal[i].host, c->journal[i].size);
        if (!later && now != c->journal[i].new_)
            snprintf(what, sizeof what, "store %u of %u: compiled wrote 0x%" PRIx64 ", memory holds 0x%" PRIx64, i + 1,
                     c->njournal, c->journal[i].new_, now);
    }
    if (!what[0])
        return true;
    fprintf(stderr, "rrvm: --jit-check: block at pc 0x%" PRIx64 " (physical 0x%" PRIx64 ", %u instructions, "
                    "%u compiled), icount %" PRIu64 ": %s\n",
            c->pc0, c->block->paddr, c->block->n, c->block->jit.ninsns, h->m->icount - nretired, what);
    for (uint32_t i = 0; i < c->block->n; i++)
        fprintf(stderr, "rrvm:   +%u %s rd=x%d rs1=x%d rs2=x%d imm=%d\n", c->block->insn[i].pc_off,
                op_name(c->block->insn[i].op), c->block->insn[i].rd, c->block->insn[i].rs1,
                c->block->insn[i].rs2, c->block->insn[i].imm);
    return false;
}

/* ---------------------------------------------------------------------- */
/* Instructions run outside the dispatch loop's fast paths                */

/* What hart_run does after one of the functions below: go on with the
 * block, end it after this instruction, or take the exception they left
 * in h->exc_cause/exc_tval (the instruction does not retire). The caller
 * has made pc and the counters exact (SYNC) before calling. */
typedef enum { STEP_NEXT, STEP_END_BLOCK, STEP_TRAP } StepResult;

static StepResult step_trap(Hart *h, uint64_t cause, uint64_t tval)
{
    h->exc_cause = cause;
    h->exc_tval = tval;
    return STEP_TRAP;
}

static void write_rd(Hart *h, const Insn *in, uint64_t v)
{
    h->x[in->rd] = v;
    h->x[0] = 0;
}

/* csrrw/csrrs/csrrc and their immediate forms, up to writing rd: STEP_NEXT
 * with the old value in *old, or STEP_TRAP (illegal). Retiring is the
 * caller's (a minstret write suppresses this instruction's count). */
static StepResult exec_csr(Hart *h, const Insn *in, uint64_t *old)
{
    int op = in->op, csr = in->imm;
    bool imm_form = op >= OP_CSRRWI;
    uint64_t src = imm_form ? in->rs1 : h->x[in->rs1];
    bool is_rw = op == OP_CSRRW || op == OP_CSRRWI;
    /* csrrw with rd = x0 does not read; csrrs/csrrc with rs1 = x0
     * (or uimm = 0) do not write */
    bool do_read = !is_rw || in->rd != 0;
    bool do_write = is_rw || in->rs1 != 0;
    *old = 0;
    if (do_read && !hart_csr_read(h, csr, old))
        return step_trap(h, EXC_ILLEGAL_INSN, in->raw);
    if (do_write) {
        uint64_t nv = is_rw ? src : (op == OP_CSRRS || op == OP_CSRRSI) ? *old | src : *old & ~src;
        if (!hart_csr_write(h, csr, nv)) {
            h->suppress_instret = false; /* the instruction does not retire at all */
            return step_trap(h, EXC_ILLEGAL_INSN, in->raw);
        }
    }
    return STEP_NEXT;
}

/* LR, SC and every AMO. A watchpoint hit or a change of the cache
 * generation (the store invalidated code) ends the block. */
static StepResult exec_amo(Hart *h, const Insn *in)
{
    Machine *m = h->m;
    int op = in->op;
    bool is_lr = op == OP_LR_W || op == OP_LR_D;
    bool is_sc = op == OP_SC_W || op == OP_SC_D;
    int size = op >= OP_LR_D ? 8 : 4;
    uint64_t a = h->x[in->rs1], src = h->x[in->rs2], pa;
    uint64_t gen0 = m->bcache->gen;
    if (a & (uint64_t)(size - 1))
        return step_trap(h, is_lr ? EXC_LOAD_MISALIGNED : EXC_STORE_MISALIGNED, a);
    bool via_tlb;
    uint8_t *p = atomic_ptr(h, a, size, is_lr ? ACC_READ : ACC_WRITE, &pa, &via_tlb);
    if (!p)
        return STEP_TRAP;
    uint64_t old = 0;
    memcpy(&old, p, (size_t)size);
    if (size == 4)
        old = sext32(old);
    if (is_lr) {
        h->resv_addr = pa;
        h->resv_valid = true;
        write_rd(h, in, old);
        return unlikely(m->dbg.hit_hart >= 0) ? STEP_END_BLOCK : STEP_NEXT; /* a watchpoint: stop after this */
    }
    if (is_sc) {
        bool ok = h->resv_valid && h->resv_addr == pa;
        h->resv_valid = false;
        if (!ok) {
            write_rd(h, in, 1);
            return STEP_NEXT;
        }
        memcpy(p, &src, (size_t)size);
        write_rd(h, in, 0);
    } else {
        uint64_t nv = amo_apply(op, old, src);
        memcpy(p, &nv, (size_t)size);
        write_rd(h, in, old);
    }
    if (!via_tlb || m->nharts > 1)
        note_ram_write(h, pa);
    return m->bcache->gen != gen0 || m->dbg.hit_hart >= 0 ? STEP_END_BLOCK : STEP_NEXT;
}

/* A load or store the TLB fast path did not take (miss, misaligned, MMIO,
 * watched page). A device access, a watchpoint hit or a change of the
 * cache generation ends the block. */
static StepResult exec_slow_load(Hart *h, const Insn *in)
{
    Machine *m = h->m;
    bool is_signed, was_mmio = false;
    int size = mem_size(in->op, &is_signed);
    uint64_t a = h->x[in->rs1] + (uint64_t)(int64_t)in->imm, v = 0;
    uint64_t gen0 = m->bcache->gen;
    if (!mmu_load_slow(h, a, size, &v, &was_mmio))
        return STEP_TRAP;
    v = extend(v, size, is_signed);
    if (in->op == OP_FLW) {
        h->f[in->rd] = 0xffffffff00000000ull | (uint32_t)v;
        h->mstatus |= MSTATUS_FS_DIRTY;
    } else if (in->op == OP_FLD) {
        h->f[in->rd] = v;
        h->mstatus |= MSTATUS_FS_DIRTY;
    } else {
        write_rd(h, in, v);
    }
    return was_mmio || m->bcache->gen != gen0 || m->dbg.hit_hart >= 0 ? STEP_END_BLOCK : STEP_NEXT;
}

static StepResult exec_slow_store(Hart *h, const Insn *in)
{
    Machine *m = h->m;
    bool is_signed, was_mmio = false;
    int size = mem_size(in->op, &is_signed);
    uint64_t a = h->x[in->rs1] + (uint64_t)(int64_t)in->imm;
    uint64_t v = (in->op == OP_FSW || in->op == OP_FSD) ? h->f[in->rs2] : h->x[in->rs2];
    uint64_t gen0 = m->bcache->gen;
    if (!mmu_store_slow(h, a, size, extend(v, size, false), &was_mmio))
        return STEP_TRAP;
    return was_mmio || m->bcache->gen != gen0 || m->dbg.hit_hart >= 0 ? STEP_END_BLOCK : STEP_NEXT;
}

/* The first `count` instructions of block b, runnable on their own: the
 * interpreter's own handler for the first (not op_hot/op_jit), the last
 * unfused, then an OP_END sentinel at the pc after them. */
static void block_prefix_copy(Insn *dst, const Block *b, uint32_t count, const void *const *dispatch)
{
    assert(count >= 1 && count <= b->n);
    memcpy(dst, b->insn, count * sizeof(Insn));
    dst[0].handler = b->handler0;
    dst[count - 1].handler = dispatch[dst[count - 1].op]; /* unfuse */
    dst[count] = (Insn){ .handler = dispatch[OP_END], .op = OP_END, .pc_off = b->insn[count].pc_off };
}

/* Loop-top upkeep of the block cache: flush when over budget or out of
 * code space, free invalidated blocks, forget a stale jump cache. */
static void bcache_upkeep(Machine *m, Hart *h)
{
    struct BlockCache *bc = m->bcache;
    if (unlikely(bc->bytes > BCACHE_MAX_BYTES || bc->jit_full))
        bcache_flush(m);
    if (unlikely(bc->dead != NULL))
        bcache_collect(bc);
    if (unlikely(h->jc_gen != bc->gen)) {
        memset(h->jc, 0, sizeof h->jc);
        h->jc_gen = bc->gen;
    }
}

/* ---------------------------------------------------------------------- */
/* The interpreter                                                        */

/* The interpreter's vocabulary. These macros expand inside hart_run and
 * name its locals (ip, bstart, bpc, retired, synced, cur, budget, x, h,
 * m, tlb_read, tlb_write, gen_top, slot, dispatch); they are #undef'd
 * after it. */
/* pc of the instruction at p, and of the one after it */
#define PC_OF(p) (bpc + (p)->pc_off)
#define NEXT_PC(p) (bpc + (p)[1].pc_off)
#define DISPATCH() goto *ip->handler
#define NEXT() do { ip++; DISPATCH(); } while (0)
/* retire the instructions of this block before p */
#define RETIRE_UPTO(p) do { retired += (uint64_t)((p) - bstart); bstart = (p); } while (0)
/* bring h->instret and m->icount up to date */
#define FLUSH_COUNTS() do {                        \
        uint64_t n_ = retired - synced;            \
        h->instret += n_;                          \
        m->icount += n_;                           \
        synced = retired;                          \
    } while (0)
/* make the counters and pc exact before calling out of the engine */
#define SYNC() do { RETIRE_UPTO(ip); FLUSH_COUNTS(); h->pc = PC_OF(ip); } while (0)
/* the current instruction retires and is the last of this block */
#define END_BLOCK(next_pc) do { h->pc = (next_pc); RETIRE_UPTO(ip + 1); goto block_done; } while (0)
/* the current instruction raises an exception and does not retire */
#define TRAP(cause, tval) do {                                     \
        uint64_t c_ = (cause), t_ = (tval);                        \
        SYNC();                                                    \
        take_exception(h, c_, t_);                                 \
        goto block_done;                                           \
    } while (0)
#define TRAP_PENDING() TRAP(h->exc_cause, h->exc_tval)
/* the outcome of an exec_* function (after SYNC) */
#define STEP(result) do {                                          \
        StepResult r_ = (result);                                  \
        if (r_ == STEP_TRAP)                                       \
            TRAP_PENDING();                                        \
        if (r_ == STEP_END_BLOCK)                                  \
            END_BLOCK(NEXT_PC(ip));                                \
        NEXT();                                                    \
    } while (0)
#define SETX(v) do { x[ip->rd] = (v); x[0] = 0; } while (0)
#define RS1 x[ip->rs1]
#define RS2 x[ip->rs2]
#define IMM ((uint64_t)(int64_t)ip->imm)
#define ALU(expr) do { x[ip->rd] = (expr); NEXT(); } while (0)
/* The current instruction retires, is the last of its block, and cannot
 * have changed interrupt, exit or cache state: go straight to the linked
 * successor if there is one and it fits the budget, else to `chain`.
 * Each expansion ends in its own indirect jump, which lets the host's
 * branch predictor tell guest branches apart. */
#define JUMP(next_pc, succ_slot) do {                                   \
        uint64_t t_ = (next_pc);                                        \
        RETIRE_UPTO(ip + 1);                                            \
        if ((succ_slot) >= 0 && likely(cur != NULL) &&                  \
            likely(cur->succ_gen == gen_top)) {                         \
            Block *nb_ = cur->succ[(succ_slot) < 0 ? 0 : (succ_slot)];  \
            if (likely(nb_ != NULL && nb_->n <= budget - retired)) {    \
                cur = nb_;                                              \
                bpc = t_;                                               \
                ip = bstart = nb_->insn;                                \
                DISPATCH();                                             \
            }                                                           \
        }                                                               \
        h->pc = t_;                                                     \
        slot = (succ_slot);                                             \
        goto chain;                                                     \
    } while (0)
#define BRANCH(cond) do {                                               \
        if (cond)                                                       \
            JUMP(PC_OF(ip) + IMM, 0);                                   \
        JUMP(NEXT_PC(ip), 1);                                           \
    } while (0)
#define LOAD(type) do {                                                   \
        uint64_t a_ = RS1 + IMM;                                          \
        uint8_t *p_;                                                      \
        if (likely(!(a_ & (sizeof(type) - 1))) &&                         \
            likely((p_ = tlb_hit(tlb_read, a_)) != NULL)) {    \
            type v_;                                                      \
            memcpy(&v_, p_, sizeof(type));                                \
            SETX((uint64_t)(int64_t)v_);                                  \
            NEXT();                                                       \
        }                                                                 \
        goto slow_load;                                                   \
    } while (0)
#define STORE(type, val) do {                                             \
        uint64_t a_ = RS1 + IMM;                                          \
        uint8_t *p_;                                                      \
        if (likely(!(a_ & (sizeof(type) - 1))) &&                         \
            likely((p_ = tlb_hit(tlb_write, a_)) != NULL)) {   \
            type v_ = (type)(val);                                        \
            memcpy(p_, &v_, sizeof(type));                                \
            NEXT();                                                       \
        }                                                                 \
        goto slow_store;                                                  \
    } while (0)
#define REQUIRE_FS() do { if (unlikely(!(h->mstatus & MSTATUS_FS))) goto op_illegal; } while (0)
/* Inline F/D ops, with the same rules as fpu_exec(): FS off or an invalid
 * rounding mode is illegal and changes nothing; writing an f register or
 * raising a new flag makes FS dirty. */
#define FP_RM(rm) int rm = (int)((ip->raw >> 12) & 7);                   \
        if (rm == RM_DYN)                                                 \
            rm = (int)h->frm;                                             \
        if (unlikely(rm > RM_RMM))                                        \
            goto op_illegal
#define FRS1 h->f[ip->rs1]
#define FRS2 h->f[ip->rs2]
#define FRS3 h->f[ip->rs3]
#define SETF_D(v) do { h->f[ip->rd] = (v); h->mstatus |= MSTATUS_FS_DIRTY; } while (0)
/* The arithmetic ops accrue flags straight into h->fflags (softfp only ORs
 * into *flags), and since they always write an f register FS becomes
 * dirty anyway: with FS already dirty, the common case, mstatus is only
 * read. */
#define FP_ARITH_D(expr) do {                                              \
        uint64_t fs_ = h->mstatus & MSTATUS_FS;                            \
        if (unlikely(!fs_))                                                \
            goto op_illegal;                                               \
        FP_RM(rm);                                                         \
        uint32_t *fl_ = &h->fflags;                                        \
        h->f[ip->rd] = (expr);                                             \
        if (unlikely(fs_ != MSTATUS_FS_DIRTY))                             \
            h->mstatus |= MSTATUS_FS_DIRTY;                                \
        NEXT();                                                            \
    } while (0)
/* Comparisons write an x register: FS becomes dirty only if a flag is
 * newly raised. */
#define FP_CMP_D(fn) do {                                                  \
        REQUIRE_FS();                                                      \
        uint32_t fl_ = 0;                                                  \
        uint64_t r_ = fn(FRS1, FRS2, &fl_);                                \
        SETX(r_);                                                          \
        if (unlikely(fl_ & ~h->fflags)) {                                  \
            h->fflags |= fl_;                                              \
            h->mstatus |= MSTATUS_FS_DIRTY;                                \
        }                                                                  \
        NEXT();                                                            \
    } while (0)

uint64_t hart_run(Hart *h, uint64_t budget)
{
    static const void *const dispatch[HANDLER_COUNT] = {
        [OP_ILLEGAL] = &&op_illegal, [OP_NOP] = &&op_nop, [OP_END] = &&op_end,
        [OP_LUI] = &&op_lui, [OP_AUIPC] = &&op_auipc, [OP_JAL] = &&op_jal, [OP_JALR] = &&op_jalr,
        [OP_BEQ] = &&op_beq, [OP_BNE] = &&op_bne, [OP_BLT] = &&op_blt, [OP_BGE] = &&op_bge,
        [OP_BLTU] = &&op_bltu, [OP_BGEU] = &&op_bgeu,
        [OP_LB] = &&op_lb, [OP_LH] = &&op_lh, [OP_LW] = &&op_lw, [OP_LD] = &&op_ld,
        [OP_LBU] = &&op_lbu, [OP_LHU] = &&op_lhu, [OP_LWU] = &&op_lwu,
        [OP_SB] = &&op_sb, [OP_SH] = &&op_sh, [OP_SW] = &&op_sw, [OP_SD] = &&op_sd,
        [OP_ADDI] = &&op_addi, [OP_SLTI] = &&op_slti, [OP_SLTIU] = &&op_sltiu, [OP_XORI] = &&op_xori,
        [OP_ORI] = &&op_ori, [OP_ANDI] = &&op_andi, [OP_SLLI] = &&op_slli, [OP_SRLI] = &&op_srli,
        [OP_SRAI] = &&op_srai,
        [OP_ADD] = &&op_add, [OP_SUB] = &&op_sub, [OP_SLL] = &&op_sll, [OP_SLT] = &&op_slt,
        [OP_SLTU] = &&op_sltu, [OP_XOR] = &&op_xor, [OP_SRL] = &&op_srl, [OP_SRA] = &&op_sra,
        [OP_OR] = &&op_or, [OP_AND] = &&op_and,
        [OP_ADDIW] = &&op_addiw, [OP_SLLIW] = &&op_slliw, [OP_SRLIW] = &&op_srliw, [OP_SRAIW] = &&op_sraiw,
        [OP_ADDW] = &&op_addw, [OP_SUBW] = &&op_subw, [OP_SLLW] = &&op_sllw, [OP_SRLW] = &&op_srlw,
        [OP_SRAW] = &&op_sraw,
        [OP_MUL] = &&op_mul, [OP_MULH] = &&op_mulh, [OP_MULHSU] = &&op_mulhsu, [OP_MULHU] = &&op_mulhu,
        [OP_DIV] = &&op_div, [OP_DIVU] = &&op_divu, [OP_REM] = &&op_rem, [OP_REMU] = &&op_remu,
        [OP_MULW] = &&op_mulw, [OP_DIVW] = &&op_divw, [OP_DIVUW] = &&op_divuw, [OP_REMW] = &&op_remw,
        [OP_REMUW] = &&op_remuw,
        [OP_FENCE] = &&op_nop, [OP_FENCE_I] = &&op_fence_i, [OP_ECALL] = &&op_ecall,
        [OP_EBREAK] = &&op_ebreak, [OP_MRET] = &&op_mret, [OP_SRET] = &&op_sret, [OP_WFI] = &&op_wfi,
        [OP_SFENCE_VMA] = &&op_sfence_vma,
        [OP_CSRRW] = &&op_csr, [OP_CSRRS] = &&op_csr, [OP_CSRRC] = &&op_csr,
        [OP_CSRRWI] = &&op_csr, [OP_CSRRSI] = &&op_csr, [OP_CSRRCI] = &&op_csr,
        [OP_LR_W ... OP_AMOMAXU_D] = &&op_amo,
        [OP_FLW] = &&op_flw, [OP_FLD] = &&op_fld, [OP_FSW] = &&op_fsw, [OP_FSD] = &&op_fsd,
        [OP_FP_FIRST ... OP_FMV_W_X] = &&op_fp, [OP_FSGNJN_D ... OP_FCVT_LU_D] = &&op_fp,
        [OP_FCLASS_D ... OP_FCVT_D_LU] = &&op_fp, [OP_FCVT_S_D ... OP_FP_LAST] = &&op_fp,
        /* the common double-precision ops skip fpu_exec's second dispatch */
        [OP_FADD_D] = &&op_fadd_d, [OP_FSUB_D] = &&op_fsub_d, [OP_FMUL_D] = &&op_fmul_d,
        [OP_FDIV_D] = &&op_fdiv_d, [OP_FSQRT_D] = &&op_fsqrt_d,
        [OP_FMADD_D] = &&op_fmadd_d, [OP_FMSUB_D] = &&op_fmsub_d,
        [OP_FNMSUB_D] = &&op_fnmsub_d, [OP_FNMADD_D] = &&op_fnmadd_d,
        [OP_FSGNJ_D] = &&op_fsgnj_d, [OP_FEQ_D] = &&op_feq_d, [OP_FLT_D] = &&op_flt_d,
        [OP_FLE_D] = &&op_fle_d, [OP_FMV_X_D] = &&op_fmv_x_d, [OP_FMV_D_X] = &&op_fmv_d_x,
        [FUSE_SLLI_ADD] = &&fuse_slli_add, [FUSE_SLLI_XOR] = &&fuse_slli_xor,
        [FUSE_SLLI_OR] = &&fuse_slli_or, [FUSE_SRLI_XOR] = &&fuse_srli_xor,
        [FUSE_SRLI_OR] = &&fuse_srli_or, [FUSE_SRLI_ANDI] = &&fuse_srli_andi,
        [FUSE_MUL_ADD] = &&fuse_mul_add,
        [HANDLER_HOT] = &&op_hot, [HANDLER_JIT] = &&op_jit,
    };

    Machine *m = h->m;
    struct BlockCache *bc = m->bcache;
    uint64_t *const x = h->x;
    uint64_t retired = 0; /* instructions retired by this call */
    uint64_t synced = 0;  /* how many of them are in h->instret and m->icount */
    uint64_t progress_mark = 0;   /* `retired` when the loop top last saw progress */
    uint32_t stalled_passes = 0;  /* loop passes since then: traps without progress */
    Insn scratch[BLOCK_MAX_INSNS + 1]; /* truncated copy of a block at the budget's end */
    Insn cross[2];                      /* an instruction straddling two pages */
    JitCtx jctx;                        /* compiled code's exit (op_jit) */
    JitCheck chk;                       /* --jit-check: the compiled result to compare */
    chk.pending = false;
    const bool jit_check = bc->jit_mode == JIT_MODE_CHECK;
    const uint32_t jit_hot = jit_check ? 1 : JIT_HOT;
    const Insn *ip, *bstart;
    /* The TLB sets loads and stores use. The translation context only
     * changes in instructions that end their block through block_done
     * (traps, xRET, CSR writes), so the loop top keeps these current. */
    const TlbEntry *tlb_read = NULL, *tlb_write = NULL;
    Block *cur;        /* the cached block running, NULL for a copy */
    uint64_t bpc;      /* virtual pc of the block running */
    uint64_t gen_top;  /* cache generation when the loop top last ran */
    int slot;          /* successor link the ending block exits through, -1: none */

    if (budget == 0)
        return 0;

    for (;;) {
        FLUSH_COUNTS();
        if (unlikely(chk.pending)) {
            chk.pending = false;
            if (!jit_check_compare(h, &chk, retired - chk.retired0)) {
                machine_halt(m, JIT_MISMATCH_EXIT_CODE,
                             "--jit-check: compiled code and the interpreter disagree (see above)");
                break;
            }
        }
        if (retired >= budget || m->exit_requested || m->reset_requested || m->timers_changed ||
            m->dbg.hit_hart >= 0)
            break;
        if (h->mip & h->mie)
            hart_check_interrupts(h);
        if (h->wfi)
            break;
        /* breakpoints: stop before the instruction; blocks run unlinked
         * and truncated before the next breakpoint (below) */
        bool debugging = m->dbg.nbp > 0 || m->dbg.skip_hart >= 0;
        if (unlikely(debugging) && debug_break_here(h))
            break;
        if (retired != progress_mark) {
            progress_mark = retired;
            stalled_passes = 0;
        } else if (unlikely(++stalled_passes > TRAP_STORM_LIMIT)) {
            machine_halt(m, TRAP_STORM_EXIT_CODE, "the guest is stuck taking exceptions without retiring "
                                                  "an instruction (1,000,000 in a row; trap vector unmapped?)");
            break;
        }
        bcache_upkeep(m, h);

        tlb_read = h->tlb[h->tlb_ctx[ACC_READ]][ACC_READ];
        tlb_write = h->tlb[h->tlb_ctx[ACC_WRITE]][ACC_WRITE];

        bool crossing;
        Block *b = find_block(h, cross, &crossing, dispatch);
        gen_top = bc->gen;
        bpc = h->pc;
        cur = NULL;
        if (b) {
            ip = b->insn;
            uint64_t left = budget - retired;
            if (unlikely(debugging)) {
                uint32_t k = debug_insns_before_break(m, b->insn, b->n, bpc);
                if (k < left)
                    left = k;
            }
            if (unlikely(b->n > left)) {
                block_prefix_copy(scratch, b, (uint32_t)left, dispatch);
                ip = scratch;
            } else {
                cur = debugging ? NULL : b; /* no chaining past the loop top */
            }
        } else if (crossing) {
            ip = cross;
        } else {
            continue; /* fetch fault: the trap was taken */
        }
        bstart = ip;
        DISPATCH();

    op_hot: {
        /* insn[0] of a cached block (never a copy: copies get handler0) */
        Block *hb = (Block *)(void *)((char *)ip - offsetof(Block, insn));
        if (++hb->hot >= jit_hot) {
            bool compiled = jit_compile(bc->jit, hb->insn, hb->n, (unsigned)(hb->paddr & (PAGE_SIZE - 1)), hb,
                                        jit_check, &hb->jit);
            bc->jit_full = jit_full(bc->jit);
            if (compiled) {
                hb->insn[0].handler = dispatch[HANDLER_JIT];
                goto op_jit;
            }
            hb->insn[0].handler = hb->handler0; /* interpreted from now on */
        }
        goto *hb->handler0;
    }

    op_jit: {
        Block *jb = (Block *)(void *)((char *)ip - offsetof(Block, insn));
        /* the block fits (callers check); with the debugger on (no chaining)
         * or checking, compiled code runs this one block only */
        uint64_t left0 = budget - retired;
        assert(jb->n <= left0);
        if (!cur || jit_check)
            left0 = jb->n;
        if (jit_check)
            jit_check_save(h, &chk);
        jctx.left = left0;
        jctx.tlb_read = tlb_read;
        jctx.tlb_write = tlb_write;
        jctx.tlb_exec = h->tlb[h->tlb_ctx[ACC_EXEC]][ACC_EXEC];
        jctx.gen = bc->gen;
        jctx.vpage = bpc & ~(PAGE_SIZE - 1);
        jit_run(bc->jit, &jctx, h, &jb->jit);
        uint64_t done = left0 - jctx.left;
        Block *eb = jctx.exit_block;
        bpc = jctx.vpage + (eb->paddr & (PAGE_SIZE - 1));
        if (unlikely(jit_check)) {
            /* undo, and let the interpreter run what the compiled code ran */
            uint32_t count = jit_check_rewind(h, &chk, &jctx, jb, bpc, retired);
            cur = NULL;
            if (count == 0) {
                ip = bstart = jb->insn;
                goto *jb->handler0;
            }
            block_prefix_copy(scratch, jb, count, dispatch);
            ip = bstart = scratch;
            DISPATCH();
        }
        if (cur)
            cur = eb;
        bstart = eb->insn;
        switch (jctx.exit_reason) {
        case JIT_EXIT_INSN:
            ip = eb->insn + jctx.exit_k;
            retired += done - jctx.exit_k;
            if (jctx.exit_k == 0)
                goto *eb->handler0;
            DISPATCH();
        case JIT_EXIT_DONE: {
            ip = eb->insn + eb->n - 1;
            retired += done - eb->n;
            int s_ = jctx.slot;
            if (s_ >= 0 && cur && eb->succ_gen == gen_top && eb->jit.link_gen[s_] != gen_top) {
                Block *t_ = eb->succ[s_];
                if (t_ && t_->jit.code)
                    jit_link(bc->jit, &eb->jit, s_, &t_->jit, gen_top);
            }
            JUMP(jctx.next_pc, s_);
        }
        default: /* JIT_EXIT_BUDGET: eb did not run */
            assert(done > 0); /* the first block fitted */
            retired += done;
            bstart = ip;
            h->pc = bpc;
            goto block_done;
        }
    }

    op_end:
        /* the sentinel does not retire: step back so JUMP counts right */
        ip--;
        JUMP(NEXT_PC(ip), 0);

    op_illegal:
        TRAP(EXC_ILLEGAL_INSN, ip->raw);
    op_nop:
        NEXT();

    op_lui: ALU(IMM);
    op_auipc: ALU(PC_OF(ip) + IMM);
    op_jal: {
        uint64_t target = PC_OF(ip) + IMM;
        SETX(NEXT_PC(ip));
        JUMP(target, 0);
    }
    op_jalr: {
        uint64_t target = (RS1 + IMM) & ~1ull;
        SETX(NEXT_PC(ip));
        JUMP(target, -1);
    }
    op_beq: BRANCH(RS1 == RS2);
    op_bne: BRANCH(RS1 != RS2);
    op_blt: BRANCH((int64_t)RS1 < (int64_t)RS2);
    op_bge: BRANCH((int64_t)RS1 >= (int64_t)RS2);
    op_bltu: BRANCH(RS1 < RS2);
    op_bgeu: BRANCH(RS1 >= RS2);

    op_lb: LOAD(int8_t);
    op_lh: LOAD(int16_t);
    op_lw: LOAD(int32_t);
    op_ld: LOAD(int64_t);
    op_lbu: LOAD(uint8_t);
    op_lhu: LOAD(uint16_t);
    op_lwu: LOAD(uint32_t);
    op_sb: STORE(uint8_t, RS2);
    op_sh: STORE(uint16_t, RS2);
    op_sw: STORE(uint32_t, RS2);
    op_sd: STORE(uint64_t, RS2);

    op_addi: ALU(RS1 + IMM);
    op_slti: ALU((int64_t)RS1 < (int64_t)IMM);
    op_sltiu: ALU(RS1 < IMM);
    op_xori: ALU(RS1 ^ IMM);
    op_ori: ALU(RS1 | IMM);
    op_andi: ALU(RS1 & IMM);
    op_slli: ALU(RS1 << ip->imm);
    op_srli: ALU(RS1 >> ip->imm);
    op_srai: ALU((uint64_t)((int64_t)RS1 >> ip->imm));
    op_add: ALU(RS1 + RS2);
    op_sub: ALU(RS1 - RS2);
    op_sll: ALU(RS1 << (RS2 & 63));
    op_slt: ALU((int64_t)RS1 < (int64_t)RS2);
    op_sltu: ALU(RS1 < RS2);
    op_xor: ALU(RS1 ^ RS2);
    op_srl: ALU(RS1 >> (RS2 & 63));
    op_sra: ALU((uint64_t)((int64_t)RS1 >> (RS2 & 63)));
    op_or: ALU(RS1 | RS2);
    op_and: ALU(RS1 & RS2);
    op_addiw: ALU(sext32(RS1 + IMM));
    op_slliw: ALU(sext32((uint32_t)RS1 << ip->imm));
    op_srliw: ALU(sext32((uint32_t)RS1 >> ip->imm));
    op_sraiw: ALU((uint64_t)(int64_t)((int32_t)RS1 >> ip->imm));
    op_addw: ALU(sext32(RS1 + RS2));
    op_subw: ALU(sext32(RS1 - RS2));
    op_sllw: ALU(sext32((uint32_t)RS1 << (RS2 & 31)));
    op_srlw: ALU(sext32((uint32_t)RS1 >> (RS2 & 31)));
    op_sraw: ALU((uint64_t)(int64_t)((int32_t)RS1 >> (RS2 & 31)));

    /* fused pairs (see fuse_pair): t_ is the first's result, which the
     * second reads in place of its rs2 (or rs1 for andi) */
#define FUSED(first_expr, second_expr) do {                             \
        uint64_t t_ = (first_expr);                                     \
        x[ip->rd] = t_;                                                 \
        ip++;                                                           \
        x[ip->rd] = (second_expr);                                      \
        NEXT();                                                         \
    } while (0)
    fuse_slli_add: FUSED(RS1 << ip->imm, RS1 + t_);
    fuse_slli_xor: FUSED(RS1 << ip->imm, RS1 ^ t_);
    fuse_slli_or: FUSED(RS1 << ip->imm, RS1 | t_);
    fuse_srli_xor: FUSED(RS1 >> ip->imm, RS1 ^ t_);
    fuse_srli_or: FUSED(RS1 >> ip->imm, RS1 | t_);
    fuse_srli_andi: FUSED(RS1 >> ip->imm, t_ & IMM);
    fuse_mul_add: FUSED(RS1 * RS2, RS1 + t_);
#undef FUSED

    op_mul: ALU(RS1 * RS2);
    op_mulh: ALU(rv_mulh(RS1, RS2));
    op_mulhsu: ALU(rv_mulhsu(RS1, RS2));
    op_mulhu: ALU(rv_mulhu(RS1, RS2));
    op_div: ALU(rv_div(RS1, RS2));
    op_divu: ALU(rv_divu(RS1, RS2));
    op_rem: ALU(rv_rem(RS1, RS2));
    op_remu: ALU(rv_remu(RS1, RS2));
    op_mulw: ALU(sext32(RS1 * RS2));
    op_divw: ALU(rv_divw(RS1, RS2));
    op_divuw: ALU(rv_divuw(RS1, RS2));
    op_remw: ALU(rv_remw(RS1, RS2));
    op_remuw: ALU(rv_remuw(RS1, RS2));

    op_fence_i:
        /* the block cache never holds stale code (stores invalidate
         * decoded pages), so fence.i only has to end the block */
        END_BLOCK(NEXT_PC(ip));
    op_ecall:
        TRAP(EXC_ECALL_U + (uint64_t)h->priv, 0);
    op_ebreak:
        TRAP(EXC_BREAKPOINT, PC_OF(ip));
    op_mret:
        if (h->priv != PRV_M)
            goto op_illegal;
        RETIRE_UPTO(ip + 1);
        hart_mret(h);
        goto block_done;
    op_sret:
        if (h->priv < PRV_S || (h->priv == PRV_S && (h->mstatus & MSTATUS_TSR)))
            goto op_illegal;
        RETIRE_UPTO(ip + 1);
        hart_sret(h);
        goto block_done;
    op_wfi:
        if (h->priv == PRV_U || (h->priv == PRV_S && (h->mstatus & MSTATUS_TW)))
            goto op_illegal;
        if (!(h->mip & h->mie))
            h->wfi = true;
        END_BLOCK(NEXT_PC(ip));
    op_sfence_vma:
        if (h->priv == PRV_U || (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM)))
            goto op_illegal;
        mmu_sfence_vma(h, ip->rs1, RS1, ip->rs2, RS2);
        END_BLOCK(NEXT_PC(ip));

    op_csr: {
        uint64_t old;
        SYNC();
        if (exec_csr(h, ip, &old) == STEP_TRAP)
            TRAP_PENDING();
        SETX(old);
        h->pc = NEXT_PC(ip);
        /* retire by hand: a minstret write suppresses this one's count */
        retired++;
        synced++;
        m->icount++;
        if (h->suppress_instret)
            h->suppress_instret = false;
        else
            h->instret++;
        goto block_done;
    }

    op_amo:
        SYNC();
        STEP(exec_amo(h, ip));

    op_flw: {
        REQUIRE_FS();
        uint64_t a = RS1 + IMM;
        uint8_t *p;
        if (likely(!(a & 3)) && (p = tlb_hit(tlb_read, a)) != NULL) {
            uint32_t v;
            memcpy(&v, p, 4);
            h->f[ip->rd] = 0xffffffff00000000ull | v;
            h->mstatus |= MSTATUS_FS_DIRTY;
            NEXT();
        }
        goto slow_load;
    }
    op_fld: {
        REQUIRE_FS();
        uint64_t a = RS1 + IMM;
        uint8_t *p;
        if (likely(!(a & 7)) && (p = tlb_hit(tlb_read, a)) != NULL) {
            memcpy(&h->f[ip->rd], p, 8);
            h->mstatus |= MSTATUS_FS_DIRTY;
            NEXT();
        }
        goto slow_load;
    }
    op_fsw:
        REQUIRE_FS();
        STORE(uint32_t, h->f[ip->rs2]);
    op_fsd:
        REQUIRE_FS();
        STORE(uint64_t, h->f[ip->rs2]);

    op_fadd_d: FP_ARITH_D(f64_add(FRS1, FRS2, rm, fl_));
    op_fsub_d: FP_ARITH_D(f64_sub(FRS1, FRS2, rm, fl_));
    op_fmul_d: FP_ARITH_D(f64_mul(FRS1, FRS2, rm, fl_));
    op_fdiv_d: FP_ARITH_D(f64_div(FRS1, FRS2, rm, fl_));
    op_fsqrt_d: FP_ARITH_D(f64_sqrt(FRS1, rm, fl_));
    op_fmadd_d: FP_ARITH_D(f64_muladd(FRS1, FRS2, FRS3, false, false, rm, fl_));
    op_fmsub_d: FP_ARITH_D(f64_muladd(FRS1, FRS2, FRS3, false, true, rm, fl_));
    op_fnmsub_d: FP_ARITH_D(f64_muladd(FRS1, FRS2, FRS3, true, false, rm, fl_));
    op_fnmadd_d: FP_ARITH_D(f64_muladd(FRS1, FRS2, FRS3, true, true, rm, fl_));
    op_feq_d: FP_CMP_D(f64_eq);
    op_flt_d: FP_CMP_D(f64_lt);
    op_fle_d: FP_CMP_D(f64_le);
    op_fsgnj_d: /* fmv.d when rs1 == rs2 */
        REQUIRE_FS();
        SETF_D((FRS1 & ~(1ull << 63)) | (FRS2 & (1ull << 63)));
        NEXT();
    op_fmv_x_d:
        REQUIRE_FS();
        SETX(FRS1);
        NEXT();
    op_fmv_d_x:
        REQUIRE_FS();
        SETF_D(RS1);
        NEXT();

    op_fp:
        if (unlikely(!fpu_exec(h, ip)))
            goto op_illegal;
        NEXT();

    slow_load:
        SYNC();
        STEP(exec_slow_load(h, ip));
    slow_store:
        SYNC();
        STEP(exec_slow_store(h, ip));

    chain: {
        /* A block ended by a control transfer without a direct link:
         * find the next block through the jump cache, and link it when it
         * lies on the same virtual page (same translation, so the link
         * needs no TLB check later). Anything unusual takes the loop top. */
        /* No interrupt check: one pending and enabled in mie was either
         * taken at the loop top or is masked (mstatus, privilege), and
         * unmasking it, like anything else that changes mip or mie,
         * ends its block through block_done (see the header). */
        if (unlikely(!cur || retired >= budget || bc->gen != gen_top))
            goto block_done;
        uint64_t pc = h->pc, left = budget - retired;
        Block *nb;
        {
            bool same_page = ((pc ^ bpc) >> PAGE_SHIFT) == 0;
            const uint8_t *hp;
            if (same_page)
                hp = cur->host + (int64_t)(pc - bpc); /* may be backwards */
            else if (!(hp = hart_tlb_lookup(h, ACC_EXEC, pc)))
                goto block_done;
            __typeof__(&h->jc[0]) je = &h->jc[(pc >> 1) & (HART_JCACHE_SIZE - 1)];
            nb = je->block;
            if (unlikely(je->vpc != pc || !nb || nb->host != hp || nb->n > left))
                goto block_done;
            if (slot >= 0 && same_page) {
                if (cur->succ_gen != gen_top) {
                    cur->succ[0] = cur->succ[1] = NULL;
                    cur->succ_gen = gen_top;
                }
                cur->succ[slot] = nb;
            }
        }
        cur = nb;
        bpc = pc;
        ip = bstart = nb->insn;
        DISPATCH();
    }

    block_done:
        continue;
    }
    FLUSH_COUNTS();
    return retired;

#undef PC_OF
#undef NEXT_PC
#undef DISPATCH
#undef NEXT
#undef RETIRE_UPTO
#undef SYNC
#undef FLUSH_COUNTS
#undef END_BLOCK
#undef TRAP
#undef TRAP_PENDING
#undef STEP
#undef SETX
#undef RS1
#undef RS2
#undef IMM
#undef ALU
#undef BRANCH
#undef JUMP
#undef LOAD
#undef STORE
#undef REQUIRE_FS
#undef FP_RM
#undef FRS1
#undef FRS2
#undef FRS3
#undef SETF_D
#undef FP_ARITH_D
#undef FP_CMP_D
}
