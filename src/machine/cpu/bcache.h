/*
 * bcache.h - the decoded-block cache shared by exec.c (which builds and
 * runs blocks) and bcache.c (which keeps them: lookup by physical
 * address, per-page lists for invalidation, the generation, and the JIT's
 * code space). Private to src/machine/cpu/.
 *
 * Invariants: see exec.c's header (blocks never cross a page; every RAM
 * page some block was decoded from is in m->code_pages and in no write TLB;
 * the generation moves whenever a block is invalidated or translations
 * change; invalidated blocks are freed only between blocks).
 */
#ifndef RRVM_BCACHE_H
#define RRVM_BCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/cpu/decode.h"
#include "machine/cpu/hart.h"
#include "machine/cpu/jit.h"

#define BLOCK_MAX_INSNS 64
/* Decoded code above this size is thrown away wholesale (and re-decoded
 * on demand) rather than tracked with an eviction policy. */
#define BCACHE_MAX_BYTES (64u << 20)
#define BCACHE_MIN_BUCKETS 4096u
typedef struct Block {
    uint64_t paddr;            /* physical address of the first instruction */
    const uint8_t *host;       /* host address of the first instruction */
    struct Block *hash_next;   /* bucket chain; dead-list link once invalid */
    struct Block *page_next;   /* blocks starting on the same RAM page */
    uint32_t n;                /* instructions, not counting the OP_END sentinel */
    /* Direct links to the blocks that follow when the last instruction
     * jumps ([0]: taken branch, jal, or page-internal fall-through) or
     * falls through ([1]), for targets on the same page only; valid while
     * succ_gen equals the cache generation. */
    struct Block *succ[2];
    uint64_t succ_gen;
    /* With the JIT on, insn[0].handler is the hot counter or the compiled
     * code's entry (op_hot, op_jit) and handler0 is the handler the
     * interpreter uses for insn[0]; a copy of the block must use it. */
    const void *handler0;
    uint32_t hot;              /* runs through the interpreter so far */
    JitBlock jit;
    Insn insn[];               /* n instructions + OP_END */
} Block;

struct BlockCache {
    Block **buckets;
    uint32_t nbuckets; /* power of two */
    uint32_t nblocks;
    Block **page_heads; /* per RAM page, allocated on first insert */
    uint64_t npages;
    Block *dead;        /* invalidated blocks, freed at the next safe point */
    uint64_t gen;       /* starts at 1 so a zeroed hart's jump cache is stale */
    size_t bytes;
    JitMode jit_mode;
    Jit *jit;           /* NULL while jit_mode is JIT_MODE_OFF */
    bool jit_full;      /* code space (nearly) used up: flush at the loop top */
};

/* Code space for compiled blocks; when it fills up the whole cache is
 * flushed, as for BCACHE_MAX_BYTES. */
#define JIT_CODE_BYTES (64u << 20)

/* The block starting at physical address paddr, or NULL. */
Block *bcache_find(const struct BlockCache *bc, uint64_t paddr);
/* Add a block just built (its page becomes a code page). */
void bcache_insert(Machine *m, Block *b);
/* Free invalidated blocks. Only between blocks: no hart may be running one. */
void bcache_collect(struct BlockCache *bc);
/* Decoded code cannot be allocated: there is no way on (abort). */
void bcache_out_of_memory(void) __attribute__((noreturn));
/* Bytes of decoded code a block of n instructions takes. */
static inline size_t bcache_block_bytes(uint32_t n) { return sizeof(Block) + (n + 1) * sizeof(Insn); }

#endif
