/*
 * mmu.c - address translation (Bare, Sv39, Sv48), PMP checks, the software
 * TLB and the slow paths of loads, stores and instruction fetch.
 *
 * The software TLB maps a virtual page straight to a host pointer into RAM.
 * It is split in context sets (see TLB_CTX_* in hart.h) so that a trap or
 * xRET only switches sets instead of flushing; h->tlb_ctx[acc] names the set
 * matching the current effective privilege of each access kind. The sets
 * are kept per address space (TlbSpace in hart.h, keyed by the whole satp
 * value), so a satp write only switches spaces, and sfence.vma flushes only
 * the spaces and the page its operands name. An entry holds one 4 KiB
 * virtual page even when a superpage maps it; sfence.vma with an address
 * also drops every entry that may come from a superpage containing that
 * address (the space's superpage range, below), as the spec's leaf
 * invalidation requires.
 *
 * The TLB is a pure cache of the page walk: flushing it at any moment
 * (sfence.vma, a checkpoint, a state load) never changes what the guest
 * sees. Without that, a hit would skip the walk's A/D update after the
 * guest cleared A or D without sfence.vma (as Linux does), and a flush
 * would make the guest's memory depend on when checkpoints were taken.
 *
 * Invariants kept:
 *  - An entry exists only for a page that is entirely RAM, overlapped by no
 *    MMIO region, and entirely allowed by PMP for its access kind and the
 *    privilege of its set; so a fast-path access behaves exactly like the
 *    slow path would.
 *  - "Every TLB" below means every keyed address space of every hart:
 *    the entries of an inactive space are as live as the active one's
 *    (they are used again on a switch back) and obey every rule here.
 *  - Every page holding a PTE that the walk of a live entry read has
 *    PT_WALKED set in m->pt_pages (set at fill). A write to such a page by
 *    anything but the walker's own A/D update (slow-path store, AMO/SC,
 *    device or loader write) calls mmu_pt_page_written(), which empties
 *    every TLB of every hart, clears m->pt_pages and moves the block cache
 *    generation (so no jump-cache entry, block link or running block
 *    outlives the translation). So an entry exists only while walking again
 *    would give the same result and write nothing: A was set in memory, and
 *    for a write entry D too. Marks may be stale (set with no entry behind
 *    them): that only costs speed.
 *  - No write entry maps a page with PT_WALKED: stores to page tables
 *    always take the slow path. PT_WRITE_MAPPED is set on a page whenever a
 *    write entry is made for it and cleared only when no write entry can
 *    map it any more, so dropping a page's write entries
 *    (mmu_tlb_drop_write_page, for a new code or page-table page) searches
 *    the write TLBs only when that bit is set.
 *  - A write entry exists only if the leaf PTE's D bit was set when it was
 *    filled, the page is not in m->code_pages, and m->dirty_pages was set
 *    for the page when it was filled.
 *  - Every store the slow path does to RAM (data or PTE A/D update) marks
 *    the page dirty and invalidates decoded code on it (machine_mark_dirty).
 *  - Guest-controlled values (PTEs, satp, pmpaddr) never cause a host
 *    access outside m->ram: every physical access is bounds-checked.
 */
#include <assert.h>
#include <string.h>

#include "machine/cpu/hart.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "guest memory is accessed with host loads: little-endian host required");

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)
#define PTE_PPN_SHIFT 10
#define PTE_PPN_MASK ((1ull << 44) - 1)
/* N (Svnapot), PBMT (Svpbmt) and the reserved bits: none implemented */
#define PTE_RESERVED (0x3ffull << 54)

#define SATP_PPN_MASK ((1ull << 44) - 1)

#define PMP_R 0x01
#define PMP_W 0x02
#define PMP_X 0x04
#define PMP_A 0x18
#define PMP_A_OFF 0x00
#define PMP_A_TOR 0x08
#define PMP_A_NA4 0x10
#define PMP_L 0x80

static bool fail(Hart *h, uint64_t cause, uint64_t tval)
{
    h->exc_cause = cause;
    h->exc_tval = tval;
    return false;
}

static uint64_t page_fault_cause(int acc)
{
    return acc == ACC_EXEC ? EXC_INSN_PAGE_FAULT
           : acc == ACC_WRITE ? EXC_STORE_PAGE_FAULT
                              : EXC_LOAD_PAGE_FAULT;
}

static uint64_t access_fault_cause(int acc)
{
    return acc == ACC_EXEC ? EXC_INSN_ACCESS : acc == ACC_WRITE ? EXC_STORE_ACCESS : EXC_LOAD_ACCESS;
}

/* Privilege loads and stores are checked with (MPRV selects MPP). */
static int data_priv(const Hart *h)
{
    if (h->mstatus & MSTATUS_MPRV)
        return (int)((h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
    return h->priv;
}

static int effective_priv(const Hart *h, int acc)
{
    return acc == ACC_EXEC ? h->priv : data_priv(h);
}

static uint8_t ctx_for(int priv, bool sum)
{
    switch (priv) {
    case PRV_U: return TLB_CTX_U;
    case PRV_S: return sum ? TLB_CTX_S_SUM : TLB_CTX_S;
    default: assert(priv == PRV_M); return TLB_CTX_M;
    }
}

void mmu_update_ctx(Hart *h)
{
    h->tlb_ctx[ACC_EXEC] = ctx_for(h->priv, false); /* SUM never matters for fetch */
    uint8_t d = ctx_for(data_priv(h), (h->mstatus & MSTATUS_SUM) != 0);
    h->tlb_ctx[ACC_READ] = d;
    h->tlb_ctx[ACC_WRITE] = d;
}

/* --- TLB address spaces --- */

#define SATP_ASID_SHIFT 44
#define SATP_ASID_BITS 0xffffull

static TlbSpace *active_space(Hart *h) { return &h->tlb_space[h->tlb_cur]; }

static uint64_t space_asid(const TlbSpace *s) { return (s->satp >> SATP_ASID_SHIFT) & SATP_ASID_BITS; }

/* Remove every entry of space s (it keeps its key). */
static void space_empty(TlbSpace *s)
{
    for (int c = 0; c < TLB_NCTX; c++)
        for (int a = 0; a < 3; a++)
            for (int i = 0; i < TLB_SIZE; i++)
                s->sets[c][a][i].vpage = UINT64_MAX;
    s->super_lo = UINT64_MAX;
    s->super_hi = 0;
    s->super_level = 0;
}

/* Drop every entry of keyed space s: the active space is emptied, another
 * one is freed (emptied when it gets a key again). */
static void space_flush(Hart *h, TlbSpace *s)
{
    assert(s->keyed);
    if (s == active_space(h))
        space_empty(s);
    else
        s->keyed = false;
}

/* Remove the entries of s for virtual pages lo..hi, in every set. */
static void space_drop_range(TlbSpace *s, uint64_t lo, uint64_t hi)
{
    for (int c = 0; c < TLB_NCTX; c++)
        for (int a = 0; a < 3; a++)
            for (int i = 0; i < TLB_SIZE; i++) {
                TlbEntry *e = &s->sets[c][a][i];
                if (e->vpage >= lo && e->vpage <= hi)
                    e->vpage = UINT64_MAX;
            }
}

/* Remove what s may cache about the leaf PTE mapping virtual page vpage:
 * its own entries, and those of any superpage containing it. */
static void space_flush_page(TlbSpace *s, uint64_t vpage)
{
    for (int c = 0; c < TLB_NCTX; c++)
        for (int a = 0; a < 3; a++) {
            TlbEntry *e = &s->sets[c][a][vpage & (TLB_SIZE - 1)];
            if (e->vpage == vpage)
                e->vpage = UINT64_MAX;
        }
    if (s->super_lo > s->super_hi)
        return;
    /* a superpage of level <= super_level containing vpage lies in this
     * aligned region, and its entries in [super_lo, super_hi] */
    uint64_t span = 1ull << (9 * s->super_level);
    uint64_t lo = vpage & ~(span - 1), hi = lo + span - 1;
    if (lo <= s->super_hi && s->super_lo <= hi)
        space_drop_range(s, lo, hi);
}

static void space_activate(Hart *h, int i)
{
    assert(h->tlb_space[i].keyed && h->tlb_space[i].satp == h->satp);
    h->tlb_cur = (uint8_t)i;
    h->tlb = h->tlb_space[i].sets;
    h->tlb_space[i].last_used = ++h->tlb_clock;
}

void mmu_tlb_flush(Hart *h)
{
    assert(h->tlb_space);
    for (int i = 0; i < TLB_NSPACES; i++)
        h->tlb_space[i].keyed = false;
    TlbSpace *s = active_space(h);
    space_empty(s);
    s->keyed = true;
    s->satp = h->satp;
    space_activate(h, h->tlb_cur);
}

void mmu_sfence_vma(Hart *h, int rs1, uint64_t vaddr, int rs2, uint64_t asid)
{
    if (rs1 == 0 && rs2 == 0) {
        mmu_tlb_flush(h);
        return;
    }
    for (int i = 0; i < TLB_NSPACES; i++) {
        TlbSpace *s = &h->tlb_space[i];
        if (!s->keyed || (rs2 != 0 && space_asid(s) != (asid & SATP_ASID_BITS)))
            continue;
        if (rs1 == 0)
            space_flush(h, s);
        else
            space_flush_page(s, vaddr >> PAGE_SHIFT);
    }
}

/* The space to give a new key: a free one, else the least recently used
 * (never the active one while there is another). */
static int space_victim(const Hart *h)
{
    int best = -1;
    for (int i = 0; i < TLB_NSPACES; i++) {
        const TlbSpace *s = &h->tlb_space[i];
        if (!s->keyed)
            return i;
        if (best < 0 || s->last_used < h->tlb_space[best].last_used)
            best = i;
    }
    return best;
}

void mmu_satp_changed(Hart *h)
{
    if (active_space(h)->satp == h->satp)
        return;
    for (int i = 0; i < TLB_NSPACES; i++)
        if (h->tlb_space[i].keyed && h->tlb_space[i].satp == h->satp) {
            space_activate(h, i);
            return;
        }
    int v = space_victim(h);
    TlbSpace *s = &h->tlb_space[v];
    space_empty(s);
    s->keyed = true;
    s->satp = h->satp;
    space_activate(h, v);
}

void mmu_tlb_drop_write_page(Machine *m, uint64_t ppage)
{
    assert((ppage & (PAGE_SIZE - 1)) == 0);
    assert(machine_is_ram(m, ppage, PAGE_SIZE));
    uint8_t *mark = &m->pt_pages[(ppage - RAM_BASE) >> PAGE_SHIFT];
    if (!(*mark & PT_WRITE_MAPPED))
        return; /* no write entry maps the page */
    for (int n = 0; n < m->nharts; n++) {
        Hart *h = m->harts[n];
        for (int k = 0; k < TLB_NSPACES; k++) {
            TlbSpace *s = &h->tlb_space[k];
            if (!s->keyed)
                continue;
            for (int c = 0; c < TLB_NCTX; c++)
                for (int i = 0; i < TLB_SIZE; i++) {
                    TlbEntry *e = &s->sets[c][ACC_WRITE][i];
                    if (e->vpage != UINT64_MAX && e->ppage == ppage)
                        e->vpage = UINT64_MAX;
                }
        }
    }
    *mark &= (uint8_t)~PT_WRITE_MAPPED;
}

/* --- page-table pages --- */

void mmu_pt_page_written(Machine *m)
{
    for (int n = 0; n < m->nharts; n++)
        mmu_tlb_flush(m->harts[n]);
    memset(m->pt_pages, 0, m->ram_size >> PAGE_SHIFT);
    bcache_translation_changed(m);
}

/* A cached translation is about to depend on the PTEs on RAM page `ppage`. */
static void pt_page_mark(Machine *m, uint64_t ppage)
{
    uint8_t *b = &m->pt_pages[(ppage - RAM_BASE) >> PAGE_SHIFT];
    if (*b & PT_WALKED)
        return;
    if (*b & PT_WRITE_MAPPED)
        mmu_tlb_drop_write_page(m, ppage);
    *b = PT_WALKED;
}

/* --- PMP --- */

static unsigned pmpcfg_byte(const Hart *h, int i)
{
    return (unsigned)(h->pmpcfg[i / 8] >> (8 * (i % 8))) & 0xff;
}

/* Address range [lo, hi) matched by active entry i; empty when lo >= hi. */
static void pmp_range(const Hart *h, int i, unsigned cfg, uint64_t *lo, uint64_t *hi)
{
    uint64_t a = h->pmpaddr[i];
    switch (cfg & PMP_A) {
    case PMP_A_TOR:
        *lo = i > 0 ? h->pmpaddr[i - 1] << 2 : 0;
        *hi = a << 2;
        break;
    case PMP_A_NA4:
        *lo = a << 2;
        *hi = *lo + 4;
        break;
    default: { /* NAPOT: trailing ones of pmpaddr encode the size */
        int t = __builtin_ctzll(~a); /* pmpaddr has 54 bits, so t <= 54 */
        uint64_t ones = (1ull << t) - 1;
        *lo = (a & ~ones) << 2;
        *hi = *lo + (1ull << (t + 3));
        break;
    }
    }
}

/* May an access of `len` bytes at physical `pa` (no wrap-around) of kind
 * `acc` be done at privilege `priv`? The lowest-numbered entry matching any
 * byte decides, and it must match all of them. */
static bool pmp_allows(const Hart *h, uint64_t pa, uint64_t len, int acc, int priv)
{
    assert(len > 0 && pa + len - 1 >= pa);
    uint64_t last = pa + len - 1;
    for (int i = 0; i < NUM_PMP; i++) {
        unsigned cfg = pmpcfg_byte(h, i);
        if ((cfg & PMP_A) == PMP_A_OFF)
            continue;
        uint64_t lo, hi;
        pmp_range(h, i, cfg, &lo, &hi);
        if (lo >= hi || last < lo || pa > hi - 1)
            continue;
        if (pa < lo || last > hi - 1)
            return false; /* partial match */
        if (priv == PRV_M && !(cfg & PMP_L))
            return true;
        unsigned need = acc == ACC_EXEC ? PMP_X : acc == ACC_WRITE ? PMP_W : PMP_R;
        return (cfg & need) != 0;
    }
    /* no match: M succeeds; S/U fail because PMP entries are implemented */
    return priv == PRV_M;
}

/* --- translation --- */

static bool page_has_mmio(const Machine *m, uint64_t ppage)
{
    for (int i = 0; i < m->nmmio; i++) {
        const MmioRegion *r = &m->mmio[i];
        if (r->size && r->base <= ppage + PAGE_SIZE - 1 && ppage <= r->base + r->size - 1)
            return true;
    }
    return false;
}

/* A page-table entry location the walker may access: plain RAM only. */
static bool pte_addr_ok(Hart *h, uint64_t pte_addr, int acc)
{
    return machine_is_ram(h->m, pte_addr, 8) && !machine_find_mmio(h->m, pte_addr) &&
           pmp_allows(h, pte_addr, 8, acc, PRV_S);
}

/* The RAM pages holding the PTEs a walk read (at most one per level). */
typedef struct Walk {
    int n;
    int level; /* of the leaf: 0 for a 4 KiB page or no translation */
    uint64_t pte_page[4];
} Walk;

/* `peek` (debugger reads): no A/D update, and any valid readable or
 * executable leaf translates whatever its U bit (a debugger looks at user
 * and kernel memory alike). */
static bool translate_walk(Hart *h, uint64_t va, int acc, int priv, uint64_t *pa, Walk *walk, bool peek)
{
    walk->n = 0;
    walk->level = 0;
    uint64_t mode = h->satp >> 60;
    if (priv == PRV_M || mode == 0) {
        *pa = va;
        return true;
    }
    assert(mode == 8 || mode == 9);
    int levels = mode == 8 ? 3 : 4;
    int va_bits = PAGE_SHIFT + 9 * levels;
    /* canonical: bits 63..va_bits-1 all equal */
    if ((uint64_t)((int64_t)(va << (64 - va_bits)) >> (64 - va_bits)) != va)
        return fail(h, page_fault_cause(acc), va);

    Machine *m = h->m;
    uint64_t table = (h->satp & SATP_PPN_MASK) << PAGE_SHIFT;
    for (int level = levels - 1; level >= 0; level--) {
        uint64_t pte_addr = table + ((va >> (PAGE_SHIFT + 9 * level)) & 511) * 8;
        if (!pte_addr_ok(h, pte_addr, ACC_READ))
            return fail(h, access_fault_cause(acc), va);
        uint64_t pte;
        memcpy(&pte, m->ram + (pte_addr - RAM_BASE), 8);
        walk->pte_page[walk->n++] = pte_addr & ~(PAGE_SIZE - 1);
        if ((pte & PTE_RESERVED) || !(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)))
            return fail(h, page_fault_cause(acc), va);
        uint64_t ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK;
        if (!(pte & (PTE_R | PTE_X))) {
            /* pointer to the next level */
            if (level == 0)
                return fail(h, page_fault_cause(acc), va);
            table = ppn << PAGE_SHIFT;
            continue;
        }

        /* leaf */
        if (ppn & ((1ull << (9 * level)) - 1))
            return fail(h, page_fault_cause(acc), va); /* misaligned superpage */
        if (peek) {
            if (!(pte & (PTE_R | PTE_X)))
                return fail(h, page_fault_cause(acc), va);
        } else if (priv == PRV_U) {
            if (!(pte & PTE_U))
                return fail(h, page_fault_cause(acc), va);
        } else if (pte & PTE_U) {
            /* S may read/write user pages only with SUM, never execute them */
            if (acc == ACC_EXEC || !(h->mstatus & MSTATUS_SUM))
                return fail(h, page_fault_cause(acc), va);
        }
        bool ok = peek ? true
                  : acc == ACC_EXEC  ? (pte & PTE_X) != 0
                  : acc == ACC_WRITE ? (pte & PTE_W) != 0
                                     : (pte & PTE_R) || ((h->mstatus & MSTATUS_MXR) && (pte & PTE_X));
        if (!ok)
            return fail(h, page_fault_cause(acc), va);

        uint64_t need = PTE_A | (acc == ACC_WRITE ? PTE_D : 0);
        if ((pte & need) != need && !peek) {
            /* hardware A/D update: the PTE store is an implicit S-mode write */
            if (!pmp_allows(h, pte_addr, 8, ACC_WRITE, PRV_S))
                return fail(h, access_fault_cause(acc), va);
            pte |= need;
            memcpy(m->ram + (pte_addr - RAM_BASE), &pte, 8);
            /* not machine_mark_dirty: setting A/D changes no translation,
             * so TLB entries read from this page stay exact */
            uint64_t pn = (pte_addr - RAM_BASE) >> PAGE_SHIFT;
            m->dirty_pages[pn] = DIRTY_ALL;
            if (m->code_pages[pn])
                bcache_invalidate_page(m, pte_addr & ~(PAGE_SIZE - 1));
        }
        uint64_t offset_mask = (1ull << (PAGE_SHIFT + 9 * level)) - 1;
        *pa = (ppn << PAGE_SHIFT) | (va & offset_mask);
        walk->level = level;
        return true;
    }
    assert(!"unreachable: the level-0 PTE is always a leaf or a fault");
    return false;
}

static bool translate(Hart *h, uint64_t va, int acc, int priv, uint64_t *pa, Walk *walk)
{
    return translate_walk(h, va, acc, priv, pa, walk, false);
}

bool mmu_debug_translate(Hart *h, uint64_t vaddr, uint64_t *paddr)
{
    uint64_t cause = h->exc_cause, tval = h->exc_tval;
    Walk walk;
    bool ok = translate_walk(h, vaddr, ACC_READ, h->priv, paddr, &walk, true);
    h->exc_cause = cause;
    h->exc_tval = tval;
    return ok;
}

bool mmu_translate(Hart *h, uint64_t vaddr, int acc, uint64_t *paddr)
{
    assert(acc == ACC_READ || acc == ACC_WRITE || acc == ACC_EXEC);
    Walk walk;
    return translate(h, vaddr, acc, effective_priv(h, acc), paddr, &walk);
}

/* Cache the translation va -> pa (for access kind acc, done at `priv`,
 * the privilege of the current set, by `walk`) when the whole page is
 * eligible. For a store, the caller fills after storing: if the store hit
 * a PTE of this very walk, the data page is one of the walk's pages and
 * gets no write entry. */
/* The first debugger watchpoint of a kind in `kinds` overlapping
 * [va, va+len), or -1. */
static int watch_find(const Machine *m, uint64_t va, uint64_t len, int kinds)
{
    for (int i = 0; i < m->dbg.nwatch; i++)
        if ((m->dbg.watch[i].kind & kinds) && va < m->dbg.watch[i].addr + m->dbg.watch[i].len &&
            m->dbg.watch[i].addr < va + len)
            return i;
    return -1;
}

static int watch_kind_of(int acc) { return acc == ACC_WRITE ? WATCH_WRITE : WATCH_READ; }

/* A RAM access of this hart hit a watchpoint: it stops after this
 * instruction (exec.c ends the block on m->dbg.hit_hart). */
static void watch_check(Hart *h, uint64_t va, uint64_t len, int acc)
{
    Machine *m = h->m;
    int w;
    if (!m->dbg.nwatch || (w = watch_find(m, va, len, watch_kind_of(acc))) < 0)
        return;
    for (int k = 0; k < m->nharts; k++)
        if (m->harts[k] == h)
            m->dbg.hit_hart = k;
    m->dbg.watch_hit = w;
    m->dbg.watch_hit_addr = va > m->dbg.watch[w].addr ? va : m->dbg.watch[w].addr;
}

static void tlb_fill(Hart *h, int acc, int priv, uint64_t va, uint64_t pa, const Walk *walk)
{
    Machine *m = h->m;
    if (m->dbg.nwatch && acc != ACC_EXEC &&
        watch_find(m, va & ~(PAGE_SIZE - 1), PAGE_SIZE, watch_kind_of(acc)) >= 0)
        return; /* watched: every access takes the slow path */
    uint64_t ppage = pa & ~(PAGE_SIZE - 1);
    if (!machine_is_ram(m, ppage, PAGE_SIZE) || page_has_mmio(m, ppage) ||
        !pmp_allows(h, ppage, PAGE_SIZE, acc, priv))
        return;
    for (int i = 0; i < walk->n; i++)
        pt_page_mark(m, walk->pte_page[i]);
    uint64_t page_index = (ppage - RAM_BASE) >> PAGE_SHIFT;
    if (acc == ACC_WRITE) {
        if (m->code_pages[page_index] || (m->pt_pages[page_index] & PT_WALKED))
            return;
        /* stores through this entry bypass dirty marking: mark now */
        m->dirty_pages[page_index] = DIRTY_ALL;
        m->pt_pages[page_index] |= PT_WRITE_MAPPED;
    }
    uint64_t vpage = va >> PAGE_SHIFT;
    TlbSpace *s = active_space(h);
    assert(s->keyed && s->satp == h->satp && h->tlb == s->sets);
    if (walk->level > 0) {
        if (vpage < s->super_lo)
            s->super_lo = vpage;
        if (vpage > s->super_hi)
            s->super_hi = vpage;
        if (walk->level > s->super_level)
            s->super_level = walk->level;
    }
    TlbEntry *e = &h->tlb[h->tlb_ctx[acc]][acc][vpage & (TLB_SIZE - 1)];
    e->vpage = vpage;
    e->addend = (uintptr_t)(m->ram + (ppage - RAM_BASE)) - (uintptr_t)(vpage << PAGE_SHIFT);
    e->ppage = ppage;
}

static uint64_t size_mask(int size) { return size == 8 ? UINT64_MAX : (1ull << (8 * size)) - 1; }

/* Misaligned RAM access emulated byte by byte. Every byte is translated and
 * checked before any is touched, so a fault leaves memory unchanged; faults
 * report the original address. A byte in MMIO gives a misaligned fault. */
static bool misaligned_access(Hart *h, uint64_t va, int size, int acc, uint64_t *val)
{
    Machine *m = h->m;
    int priv = data_priv(h);
    uint64_t pa[8];
    Walk walk;
    for (int i = 0; i < size; i++) {
        if (!translate(h, va + i, acc, priv, &pa[i], &walk))
            return fail(h, h->exc_cause, va);
        if (machine_find_mmio(m, pa[i]))
            return fail(h, acc == ACC_WRITE ? EXC_STORE_MISALIGNED : EXC_LOAD_MISALIGNED, va);
        if (!machine_is_ram(m, pa[i], 1) || !pmp_allows(h, pa[i], 1, acc, priv))
            return fail(h, access_fault_cause(acc), va);
    }
    if (acc == ACC_WRITE) {
        for (int i = 0; i < size; i++) {
            m->ram[pa[i] - RAM_BASE] = (uint8_t)(*val >> (8 * i));
            machine_mark_dirty(m, pa[i], 1);
        }
    } else {
        uint64_t v = 0;
        for (int i = 0; i < size; i++)
            v |= (uint64_t)m->ram[pa[i] - RAM_BASE] << (8 * i);
        *val = v;
    }
    return true;
}

/* Device access at physical pa; r contains pa. */
static bool mmio_access(Hart *h, const MmioRegion *r, uint64_t va, uint64_t pa, int size, int acc,
                        int priv, uint64_t *val)
{
    if (pa - r->base + (uint64_t)size > r->size || !pmp_allows(h, pa, size, acc, priv))
        return fail(h, access_fault_cause(acc), va);
    if (acc == ACC_WRITE) {
        if (!r->write(r->dev, pa - r->base, size, *val & size_mask(size)))
            return fail(h, EXC_STORE_ACCESS, va);
    } else {
        uint64_t v = 0;
        if (!r->read(r->dev, pa - r->base, size, &v))
            return fail(h, EXC_LOAD_ACCESS, va);
        *val = v & size_mask(size);
    }
    return true;
}

static bool access_slow(Hart *h, uint64_t va, int size, int acc, uint64_t *val, bool *was_mmio)
{
    assert(size == 1 || size == 2 || size == 4 || size == 8);
    Machine *m = h->m;
    *was_mmio = false;
    if (va & (size - 1))
        return misaligned_access(h, va, size, acc, val);
    int priv = data_priv(h);
    uint64_t pa;
    Walk walk;
    if (!translate(h, va, acc, priv, &pa, &walk))
        return false;
    const MmioRegion *r = machine_find_mmio(m, pa);
    if (r) {
        *was_mmio = true;
        return mmio_access(h, r, va, pa, size, acc, priv, val);
    }
    if (!machine_is_ram(m, pa, size) || !pmp_allows(h, pa, size, acc, priv))
        return fail(h, access_fault_cause(acc), va);
    uint8_t *host = m->ram + (pa - RAM_BASE);
    if (acc == ACC_WRITE) {
        memcpy(host, val, size); /* little-endian: low bytes first */
        machine_mark_dirty(m, pa, size);
    } else {
        uint64_t v = 0;
        memcpy(&v, host, size);
        *val = v;
    }
    watch_check(h, va, (uint64_t)size, acc);
    tlb_fill(h, acc, priv, va, pa, &walk);
    return true;
}

bool mmu_load_slow(Hart *h, uint64_t vaddr, int size, uint64_t *val, bool *was_mmio)
{
    return access_slow(h, vaddr, size, ACC_READ, val, was_mmio);
}

bool mmu_store_slow(Hart *h, uint64_t vaddr, int size, uint64_t val, bool *was_mmio)
{
    return access_slow(h, vaddr, size, ACC_WRITE, &val, was_mmio);
}

uint8_t *mmu_ram_ptr(Hart *h, uint64_t vaddr, int size, int acc, uint64_t *paddr)
{
    assert(size == 4 || size == 8);
    assert(!(vaddr & (uint64_t)(size - 1)));
    Machine *m = h->m;
    int priv = effective_priv(h, acc);
    uint64_t pa;
    Walk walk;
    if (!translate(h, vaddr, acc, priv, &pa, &walk))
        return NULL;
    if (!machine_is_ram(m, pa, size) || machine_find_mmio(m, pa) ||
        !pmp_allows(h, pa, size, acc, priv)) {
        fail(h, access_fault_cause(acc), vaddr);
        return NULL;
    }
    *paddr = pa;
    watch_check(h, vaddr, (uint64_t)size, acc);
    return m->ram + (pa - RAM_BASE);
}

const uint8_t *mmu_fetch_page(Hart *h, uint64_t vaddr, uint64_t *paddr)
{
    Machine *m = h->m;
    uint64_t pa;
    Walk walk;
    if (!translate(h, vaddr, ACC_EXEC, h->priv, &pa, &walk))
        return NULL;
    uint64_t ppage = pa & ~(PAGE_SIZE - 1);
    /* code runs from RAM only; the whole page must be executable since the
     * caller decodes anywhere in it */
    if (!machine_is_ram(m, ppage, PAGE_SIZE) || machine_find_mmio(m, pa) ||
        !pmp_allows(h, ppage, PAGE_SIZE, ACC_EXEC, h->priv)) {
        fail(h, EXC_INSN_ACCESS, vaddr);
        return NULL;
    }
    tlb_fill(h, ACC_EXEC, h->priv, vaddr, pa, &walk);
    *paddr = pa;
    return m->ram + (ppage - RAM_BASE);
}
