/*
 * bcache.c - the decoded-block cache: blocks hashed by the physical
 * address of their first instruction, listed per RAM page so a store to
 * code can drop every block of that page, a generation that tells jump
 * caches and block links (exec.c) and compiled-code links (jit_x86.c)
 * they may be stale, and the execution engine's mode and code space.
 *
 * Invariants: a block is in the hash and in its page's list or in neither
 * (then on the dead list, freed by bcache_collect between blocks); the
 * generation only grows; bytes counts every live block's memory; the JIT's
 * code is dropped only with every block (bcache_flush).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/cpu/bcache.h"

/* ---------------------------------------------------------------------- */
/* Block cache                                                            */

static uint32_t bucket_of(const struct BlockCache *bc, uint64_t paddr)
{
    return (uint32_t)(((paddr >> 1) * 0x9E3779B97F4A7C15ull) >> 32) & (bc->nbuckets - 1);
}

struct BlockCache *bcache_new(void)
{
    struct BlockCache *bc = calloc(1, sizeof *bc);
    if (!bc)
        return NULL;
    bc->nbuckets = BCACHE_MIN_BUCKETS;
    bc->buckets = calloc(bc->nbuckets, sizeof *bc->buckets);
    if (!bc->buckets) {
        free(bc);
        return NULL;
    }
    bc->gen = 1;
    return bc;
}

static void free_chain(Block *b)
{
    while (b) {
        Block *next = b->hash_next;
        free(b);
        b = next;
    }
}

/* Free invalidated blocks. Only call between blocks: no hart may be
 * executing one of them. */
void bcache_collect(struct BlockCache *bc)
{
    free_chain(bc->dead);
    bc->dead = NULL;
}

void bcache_free(struct BlockCache *bc)
{
    if (!bc)
        return;
    for (uint32_t i = 0; i < bc->nbuckets; i++)
        free_chain(bc->buckets[i]);
    bcache_collect(bc);
    jit_free(bc->jit);
    free(bc->buckets);
    free(bc->page_heads);
    free(bc);
}

void bcache_flush(Machine *m)
{
    struct BlockCache *bc = m->bcache;
    if (!bc)
        return;
    for (uint32_t i = 0; i < bc->nbuckets; i++) {
        Block *b = bc->buckets[i];
        while (b) {
            Block *next = b->hash_next;
            b->hash_next = bc->dead;
            bc->dead = b;
            b = next;
        }
        bc->buckets[i] = NULL;
    }
    if (bc->page_heads)
        memset(bc->page_heads, 0, bc->npages * sizeof *bc->page_heads);
    memset(m->code_pages, 0, m->ram_size >> PAGE_SHIFT);
    bc->nblocks = 0;
    bc->bytes = 0;
    bc->gen++;
    jit_reset(bc->jit);
    bc->jit_full = false;
}

bool bcache_jit_stats(const Machine *m, JitStats *out)
{
    if (m->bcache->jit_mode == JIT_MODE_OFF || !m->bcache->jit)
        return false;
    jit_stats(m->bcache->jit, out);
    return true;
}

void bcache_jit_test_miscompile(Machine *m, int op)
{
    jit_test_miscompile(m->bcache->jit, op);
}

static bool set_engine(Machine *m, int mode, size_t code_bytes)
{
    struct BlockCache *bc = m->bcache;
    if (mode != JIT_MODE_OFF && !bc->jit) {
        JitLayout layout = { offsetof(Block, host), offsetof(Block, jit) + offsetof(JitBlock, code) };
        bc->jit = jit_new(code_bytes, &layout);
        if (!bc->jit)
            return false;
    }
    bc->jit_mode = (JitMode)mode;
    bcache_flush(m); /* blocks get the handlers of the new mode */
    return true;
}

bool bcache_set_jit(Machine *m, int mode) { return set_engine(m, mode, JIT_CODE_BYTES); }

bool bcache_jit_test_code_space(Machine *m, size_t bytes)
{
    jit_free(m->bcache->jit);
    m->bcache->jit = NULL;
    return set_engine(m, JIT_MODE_ON, bytes);
}

void bcache_translation_changed(Machine *m)
{
    if (m->bcache)
        m->bcache->gen++;
}

static void hash_remove(struct BlockCache *bc, Block *b)
{
    Block **pp = &bc->buckets[bucket_of(bc, b->paddr)];
    while (*pp != b) {
        assert(*pp != NULL);
        pp = &(*pp)->hash_next;
    }
    *pp = b->hash_next;
}

void bcache_invalidate_page(Machine *m, uint64_t ppage)
{
    struct BlockCache *bc = m->bcache;
    ppage &= ~(PAGE_SIZE - 1);
    if (!machine_is_ram(m, ppage, PAGE_SIZE))
        return;
    uint64_t pn = (ppage - RAM_BASE) >> PAGE_SHIFT;
    m->code_pages[pn] = 0;
    if (!bc || !bc->page_heads || !bc->page_heads[pn])
        return;
    Block *b = bc->page_heads[pn];
    bc->page_heads[pn] = NULL;
    while (b) {
        Block *next = b->page_next;
        hash_remove(bc, b);
        bc->bytes -= bcache_block_bytes(b->n);
        bc->nblocks--;
        b->hash_next = bc->dead;
        bc->dead = b;
        b = next;
    }
    bc->gen++;
}

Block *bcache_find(const struct BlockCache *bc, uint64_t paddr)
{
    for (Block *b = bc->buckets[bucket_of(bc, paddr)]; b; b = b->hash_next)
        if (b->paddr == paddr)
            return b;
    return NULL;
}

static void bcache_grow(struct BlockCache *bc)
{
    uint32_t n = bc->nbuckets * 2;
    Block **nb = calloc(n, sizeof *nb);
    if (!nb)
        return; /* keep the longer chains: slower, still correct */
    Block **old = bc->buckets;
    uint32_t oldn = bc->nbuckets;
    bc->buckets = nb;
    bc->nbuckets = n;
    for (uint32_t i = 0; i < oldn; i++) {
        Block *b = old[i];
        while (b) {
            Block *next = b->hash_next;
            uint32_t k = bucket_of(bc, b->paddr);
            b->hash_next = nb[k];
            nb[k] = b;
            b = next;
        }
    }
    free(old);
}

void bcache_out_of_memory(void)
{
    fprintf(stderr, "rrvm: out of memory for decoded code\n");
    abort();
}

void bcache_insert(Machine *m, Block *b)
{
    struct BlockCache *bc = m->bcache;
    if (!bc->page_heads) {
        bc->npages = m->ram_size >> PAGE_SHIFT;
        bc->page_heads = calloc(bc->npages ? bc->npages : 1, sizeof *bc->page_heads);
        if (!bc->page_heads)
            bcache_out_of_memory();
    }
    uint64_t pn = (b->paddr - RAM_BASE) >> PAGE_SHIFT;
    assert(pn < bc->npages);
    if (bc->nblocks >= bc->nbuckets * 2u)
        bcache_grow(bc);
    uint32_t k = bucket_of(bc, b->paddr);
    b->hash_next = bc->buckets[k];
    bc->buckets[k] = b;
    b->page_next = bc->page_heads[pn];
    bc->page_heads[pn] = b;
    bc->nblocks++;
    bc->bytes += bcache_block_bytes(b->n);
    if (!m->code_pages[pn]) {
        m->code_pages[pn] = 1;
        mmu_tlb_drop_write_page(m, b->paddr & ~(PAGE_SIZE - 1));
    }
}

