/*
 * jit.h - the x86-64 code generator behind exec.c's decoded blocks.
 *
 * The interpreter (exec.c) stays the reference and decides everything
 * about control: which block runs, budgets, interrupts, traps, debugger
 * stops. A block that has run JIT_HOT times is handed to jit_compile(),
 * which emits host code for the longest prefix of it made of operations
 * the generator knows (integer, M, loads and stores through the TLB fast
 * path, branches and jumps, FP loads and stores, the common double-precision
 * arithmetic straight into softfp, other F/D ops through fpu_exec). exec.c
 * then enters that
 * code through jit_run() instead of dispatching the block's Insns.
 *
 * Invariants (what makes compiled code exactly as the interpreter):
 *  - Compiled code changes only x[1..31], f[], fflags, mstatus.FS and RAM
 *    through write-TLB hits, the same state the interpreter's fast paths
 *    change; it never calls out to anything that touches counters, time,
 *    devices or caches. Everything else (a TLB miss, misalignment, FS off,
 *    an illegal FP rounding mode, any op it does not know) is an exit at
 *    that instruction with nothing of it done: the interpreter runs it.
 *  - Budget: ctx->left counts the instructions still allowed; a block is
 *    entered only if its whole length fits (else it exits with
 *    JIT_EXIT_BUDGET before its first instruction), and an exit at
 *    instruction k gives back what was not run, so on return
 *    (left before - left after) is exactly the instructions retired.
 *  - Compiled blocks jump straight into each other through links made by
 *    jit_link(), between blocks of one virtual page (the same rule as
 *    exec.c's succ links), taken only while the link's recorded cache
 *    generation equals ctx->gen, so links into invalidated blocks or across
 *    translation changes are never followed; and, for other targets,
 *    through the exec TLB and the hart's jump cache, checked exactly as
 *    exec.c's `chain` checks them (the generation cannot change while
 *    compiled code runs: only instructions that exit can change it).
 *  - Nothing the guest sees depends on whether, when or how a block was
 *    compiled (tested by --jit-check, which runs every block both ways).
 *  - Generated code is never freed piecemeal: jit_reset() drops all of it,
 *    called only from bcache_flush (bcache.c: every block dead, no compiled
 *    code on the host stack).
 */
#ifndef RRVM_JIT_H
#define RRVM_JIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/cpu/decode.h"

struct Hart;
struct TlbEntry;

/* Execution engine modes (MachineExec): the interpreter alone, compiled
 * hot blocks, or compiled blocks each checked against the interpreter. */
typedef enum { JIT_MODE_OFF = 0, JIT_MODE_ON = 1, JIT_MODE_CHECK = 2 } JitMode;

/* A block is compiled after running this many times through the
 * interpreter (check mode: at once). */
#define JIT_HOT 16
/* Most stores one check-mode block can journal (a block has at most 64
 * instructions, exec.c's BLOCK_MAX_INSNS). */
#define JIT_JOURNAL_MAX 64

/* Per-block compiled code; lives in exec.c's Block. */
typedef struct JitBlock {
    void *code;              /* entry point, NULL: not compiled */
    uint8_t *link_site[2];   /* rel32 of the jump for succ slot 0/1, or NULL */
    uint8_t *link_gen_imm[2]; /* imm64 the link's generation check compares with */
    uint64_t link_gen[2];    /* cache generation the link was made in, 0: none */
    uint32_t ninsns;         /* instructions compiled (prefix of the block) */
} JitBlock;

enum { JIT_EXIT_BUDGET = 0, JIT_EXIT_INSN = 1, JIT_EXIT_DONE = 2 };

/* What jit_run() takes and gives back. Field offsets are used by the
 * generated code. */
typedef struct JitCtx {
    uint64_t left;                     /* in/out: instructions still allowed */
    const struct TlbEntry *tlb_read;   /* in: the hart's current TLB sets */
    const struct TlbEntry *tlb_write;
    uint64_t gen;                      /* in: block cache generation */
    const struct TlbEntry *tlb_exec;
    uint64_t vpage;                    /* in/out: virtual address of the page of the
                                        * block running (of exit_block on return) */
    /* out: the block where the run stopped (its exec.c tag) and how:
     *  BUDGET: that block did not fit; nothing of it ran.
     *  INSN:   instructions [0, k) of it ran; instruction k is the
     *          interpreter's (nothing of it done).
     *  DONE:   it ran completely; next_pc is where control goes, through
     *          succ slot `slot` (-1: an indirect jump). */
    void *exit_block;
    uint64_t next_pc;
    uint32_t exit_k;
    int32_t exit_reason;
    int32_t slot;
    /* check mode: stores done, in order, so they can be undone */
    uint32_t njournal;
    struct { uint8_t *host; uint64_t old, new_; uint32_t size; } journal[JIT_JOURNAL_MAX];
} JitCtx;

typedef struct Jit Jit;

/* Whether this build has a code generator for its host (x86-64 Linux):
 * the default engine is JIT_MODE_ON where it has, JIT_MODE_OFF elsewhere. */
bool jit_available(void);

/* Where generated code finds a block's fields (exec.c's Block is private
 * to it): offsets of its host address and of its JitBlock's code. */
typedef struct JitLayout {
    size_t block_host, block_code;
} JitLayout;

/* A generator with `bytes` of code space; NULL when this host cannot run
 * generated code (not x86-64, or no executable memory). */
Jit *jit_new(size_t bytes, const JitLayout *layout);
void jit_free(Jit *j);
/* Forget all generated code. Only when no block's code can run again. */
void jit_reset(Jit *j);
/* True when the code space is nearly used up: exec.c then flushes the
 * block cache (which resets the generator) at its next safe point. */
bool jit_full(const Jit *j);

/* Compile the block `insn[0..n)` (+ its OP_END sentinel at insn[n]) that
 * starts at page offset `page_off`. `tag` identifies the block in exits.
 * check: journal every store (JitCtx.journal). False (jb unchanged) when
 * not even the first instruction can be compiled or space ran out. */
bool jit_compile(Jit *j, const Insn *insn, uint32_t n, unsigned page_off, void *tag, bool check,
                 JitBlock *jb);
/* Make `from`'s exit through succ slot `slot` jump straight into `to`
 * while the cache generation is `gen`. */
void jit_link(Jit *j, JitBlock *from, int slot, const JitBlock *to, uint64_t gen);
/* What the generator has done since jit_new (for --stats). */
typedef struct JitStats {
    uint64_t blocks, insns;   /* compiled */
    uint64_t code_bytes;      /* generated, over all resets */
    uint64_t resets;          /* code space dropped (block cache flushes) */
} JitStats;
void jit_stats(const Jit *j, JitStats *out);

/* Tests of --jit-check only: compile `op` (an integer ALU op) wrongly, its
 * result off by one, from now on. */
void jit_test_miscompile(Jit *j, int op);
/* Run compiled code from block `jb` for hart h; see JitCtx. */
void jit_run(Jit *j, JitCtx *ctx, struct Hart *h, const JitBlock *jb);

#endif
