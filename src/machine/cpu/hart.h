/*
 * hart.h - one RISC-V RV64GC hart: architectural state and the interface
 * between the execution engine (decode.c, exec.c, fpu_ops.c) and the
 * privileged architecture (csr.c, trap.c, mmu.c, hart.c).
 *
 * Invariants:
 *  - x[0] reads as zero after every instruction.
 *  - f[] holds NaN-boxed values: a single occupies the low 32 bits with the
 *    upper 32 bits all ones.
 *  - instret counts retired instructions exactly; a trapping instruction
 *    does not retire; a CSR write to minstret suppresses that instruction's
 *    own increment. m->icount advances by the same amount.
 *  - TLB entries (of every keyed address space, not only the active one)
 *    only ever map RAM pages; device pages always take the slow path.
 *    Write TLB entries never map a page in m->code_pages or a page with
 *    PT_WALKED in m->pt_pages; no entry of a kind maps a virtual page with
 *    a debugger watchpoint of that kind (m->dbg). The TLBs are a pure
 *    cache of the page walk (mmu.c): flushing them, or not, never changes
 *    what the guest sees.
 */
#ifndef RRVM_HART_H
#define RRVM_HART_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/machine.h"

enum { PRV_U = 0, PRV_S = 1, PRV_M = 3 };

/* Exception causes (mcause with interrupt bit clear). */
enum {
    EXC_INSN_MISALIGNED = 0,
    EXC_INSN_ACCESS = 1,
    EXC_ILLEGAL_INSN = 2,
    EXC_BREAKPOINT = 3,
    EXC_LOAD_MISALIGNED = 4,
    EXC_LOAD_ACCESS = 5,
    EXC_STORE_MISALIGNED = 6,
    EXC_STORE_ACCESS = 7,
    EXC_ECALL_U = 8,
    EXC_ECALL_S = 9,
    EXC_ECALL_M = 11,
    EXC_INSN_PAGE_FAULT = 12,
    EXC_LOAD_PAGE_FAULT = 13,
    EXC_STORE_PAGE_FAULT = 15,
};

/* Interrupt numbers (bit positions in mip/mie). */
enum { IRQ_SSI = 1, IRQ_MSI = 3, IRQ_STI = 5, IRQ_MTI = 7, IRQ_SEI = 9, IRQ_MEI = 11 };
#define MIP_SSIP (1ull << IRQ_SSI)
#define MIP_MSIP (1ull << IRQ_MSI)
#define MIP_STIP (1ull << IRQ_STI)
#define MIP_MTIP (1ull << IRQ_MTI)
#define MIP_SEIP (1ull << IRQ_SEI)
#define MIP_MEIP (1ull << IRQ_MEI)

/* mstatus fields (sstatus is the S-visible subset). */
#define MSTATUS_SIE (1ull << 1)
#define MSTATUS_MIE (1ull << 3)
#define MSTATUS_SPIE (1ull << 5)
#define MSTATUS_UBE (1ull << 6)
#define MSTATUS_MPIE (1ull << 7)
#define MSTATUS_SPP (1ull << 8)
#define MSTATUS_MPP_SHIFT 11
#define MSTATUS_MPP (3ull << 11)
#define MSTATUS_FS_SHIFT 13
#define MSTATUS_FS (3ull << 13)
#define MSTATUS_FS_DIRTY (3ull << 13)
#define MSTATUS_XS (3ull << 15)
#define MSTATUS_MPRV (1ull << 17)
#define MSTATUS_SUM (1ull << 18)
#define MSTATUS_MXR (1ull << 19)
#define MSTATUS_TVM (1ull << 20)
#define MSTATUS_TW (1ull << 21)
#define MSTATUS_TSR (1ull << 22)
#define MSTATUS_UXL (3ull << 32)
#define MSTATUS_SXL (3ull << 34)
#define MSTATUS_SD (1ull << 63)
/* UXL = SXL = 2 (64-bit), read-only: always set in h->mstatus */
#define MSTATUS_XLEN64 ((2ull << 32) | (2ull << 34))
/* misa: RV64 IMAFDC + S + U; writes are ignored */
#define HART_MISA 0x800000000014112dull

/* Memory access kinds for translation. */
enum { ACC_READ = 0, ACC_WRITE = 1, ACC_EXEC = 2 };

#define TLB_SIZE 256 /* per access kind, direct mapped, power of two */
#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)

typedef struct TlbEntry {
    uint64_t vpage;   /* vaddr >> PAGE_SHIFT, or UINT64_MAX when invalid */
    uintptr_t addend; /* host pointer = vaddr + addend */
    uint64_t ppage;   /* physical page address (for code-page bookkeeping) */
} TlbEntry;

/* Software TLB contexts. An entry is tagged only by its virtual page, so
 * entries are kept in separate sets per translation context: the effective
 * privilege, and for S-mode data accesses the value of mstatus.SUM. Traps,
 * xRET and MPRV/MPP/SUM changes then only switch sets (h->tlb_ctx[acc], kept
 * up to date by mmu_update_ctx()). MXR and PMP changes flush everything
 * (mmu_tlb_flush). */
enum { TLB_CTX_U = 0, TLB_CTX_S = 1, TLB_CTX_S_SUM = 2, TLB_CTX_M = 3, TLB_NCTX = 4 };

/* TLB address spaces. The sets of all contexts are kept per satp value
 * (mode, ASID and root together: the key), for up to TLB_NSPACES values,
 * so a satp write that switches to a recently used address space keeps its
 * entries instead of flushing (mmu_satp_changed). sfence.vma flushes only
 * what its operands name (mmu_sfence_vma). h->tlb points at the sets of
 * the active space, so h->tlb[ctx][acc] is the set the fast paths use.
 * Neither moves the block cache generation: both are instructions that end
 * their block (the loop top then reloads its set pointers), a jump-cache
 * entry is used only after the exec TLB (or a walk) maps its pc to the
 * block, and block links only join blocks on the page of a block reached
 * that way (exec.c).
 *
 * Invariants (mmu.c keeps them):
 *  - h->tlb == h->tlb_space[h->tlb_cur].sets, that space is keyed and its
 *    key is h->satp.
 *  - A keyed space holds only entries filled while satp had its key (and
 *    the current MXR and PMP); they are as exact as those of the active
 *    space (see mmu.c) and every invariant of TLB entries holds for them.
 *  - A space that is not keyed is free: its contents are garbage, never
 *    looked up or searched, and emptied before it gets a key.
 *  - Every entry that a superpage (level > 0 leaf) walk filled in a space
 *    has its vpage in [super_lo, super_hi], and the leaf level was at most
 *    super_level. */
#define TLB_NSPACES 4
typedef struct TlbSpace {
    TlbEntry sets[TLB_NCTX][3][TLB_SIZE]; /* [TLB_CTX_*][ACC_READ/WRITE/EXEC] */
    uint64_t satp;      /* the key, when `keyed` */
    uint64_t last_used; /* h->tlb_clock when last made active (LRU choice) */
    uint64_t super_lo, super_hi; /* lo > hi: no superpage entries */
    int super_level;
    bool keyed;
} TlbSpace;

#define NUM_PMP 16

struct Hart {
    uint64_t x[32];
    uint64_t f[32];
    uint64_t pc;
    int priv;
    uint32_t fflags; /* accrued exception flags, 5 bits */
    uint32_t frm;    /* dynamic rounding mode, 3 bits */

    /* machine-mode CSRs */
    uint64_t mstatus; /* sstatus is a view of this; SD is never stored, reads compute it */
    uint64_t misa;
    uint64_t medeleg, mideleg;
    uint64_t mie, mip; /* sie/sip are views */
    uint64_t mtvec, mscratch, mepc, mcause, mtval;
    uint64_t mcounteren, mcountinhibit, menvcfg;
    uint64_t pmpcfg[NUM_PMP / 8];  /* RV64: pmpcfg0, pmpcfg2 */
    uint64_t pmpaddr[NUM_PMP];
    /* supervisor CSRs */
    uint64_t stvec, sscratch, sepc, scause, stval, satp, scounteren, senvcfg;

    uint64_t instret; /* minstret; mcycle reads the same (deterministic) */
    uint64_t mcycle_offset; /* mcycle = instret + mcycle_offset (mcycle writes) */
    uint64_t mhartid;

    /* LR/SC: reservation set (physical address, 8-byte granule) */
    uint64_t resv_addr;
    bool resv_valid;

    bool wfi;             /* stalled in WFI until an interrupt is pending */
    bool suppress_instret; /* set by a minstret write during this insn */

    /* pending exception raised by a helper during the current instruction */
    uint64_t exc_cause, exc_tval;

    /* software TLBs: not architectural, never saved, flushed on load.
     * h->tlb[ctx][acc] is the set of the active address space (TlbSpace,
     * above) for context ctx and access kind acc. */
    TlbEntry (*tlb)[3][TLB_SIZE];
    /* set in use for each access kind; whoever changes h->priv or
     * mstatus.MPRV/MPP/SUM must call mmu_update_ctx() (trap.c, csr.c do) */
    uint8_t tlb_ctx[3];
    uint8_t tlb_cur;        /* index of the active space in tlb_space */
    uint64_t tlb_clock;     /* counts space activations (LRU stamps) */
    TlbSpace *tlb_space;    /* TLB_NSPACES, allocated with the hart */

    /* exec engine private (exec.c): jump cache from a virtual pc to its
     * decoded block. Not architectural and never saved: an entry is used
     * only while jc_gen equals the block cache generation and the exec TLB
     * still maps the pc to the block's physical address. */
#define HART_JCACHE_SIZE 1024
    struct { uint64_t vpc; struct Block *block; } jc[HART_JCACHE_SIZE];
    uint64_t jc_gen;

    Machine *m;
};

/* --- hart.c --- */
Hart *hart_new(Machine *m, uint64_t hartid);
void hart_free(Hart *h);
void hart_reset(Hart *h, uint64_t pc);
void hart_save(const Hart *h, SerWriter *w);
bool hart_load(Hart *h, SerReader *r);

/* --- exec.c: run until `budget` instructions retired or the hart stalls
 * (WFI), the machine requests exit/reset, or a guest write moved a timer
 * deadline (m->timers_changed). Returns instructions retired; also
 * adds them to h->instret (unless suppressed) and h->m->icount. Checks for
 * pending interrupts before the first instruction. */
uint64_t hart_run(Hart *h, uint64_t budget);

/* --- trap.c --- */
/* Enter the trap handler for an exception (cause < 64) or an interrupt
 * (cause | 1<<63) with the given tval; h->pc must be the epc. */
void hart_trap(Hart *h, uint64_t cause, uint64_t tval);
/* If an interrupt is pending and enabled, take it (and clear h->wfi); returns
 * true if a trap was taken. Also clears h->wfi when any interrupt is pending
 * in mip & mie, even if globally disabled (WFI wake-up rule). */
bool hart_check_interrupts(Hart *h);
void hart_mret(Hart *h);
void hart_sret(Hart *h);
/* Set or clear bits of mip driven by devices (MEIP, SEIP, MTIP, MSIP). */
void hart_set_mip(Hart *h, uint64_t mask, bool level);

/* --- csr.c --- return false if the access is illegal (raises nothing;
 * the caller raises EXC_ILLEGAL_INSN). */
bool hart_csr_read(Hart *h, int csr, uint64_t *val);
bool hart_csr_write(Hart *h, int csr, uint64_t val);
/* True if every CSR field holds a value the WARL rules could have produced
 * (used to validate loaded state); otherwise sets *why. */
bool hart_csr_state_valid(const Hart *h, const char **why);

/* --- mmu.c --- */
/* Translate a virtual address for `acc` in the current effective privilege
 * (MPRV aware for loads/stores). On failure returns false and sets
 * h->exc_cause/exc_tval to the page fault or access fault. */
bool mmu_translate(Hart *h, uint64_t vaddr, int acc, uint64_t *paddr);
/* For a debugger: translate as the hart sees data at its privilege
 * (ignoring U/SUM/MXR limits) with no side effect at all: no A/D update,
 * no TLB fill, no exception state left behind. */
bool mmu_debug_translate(Hart *h, uint64_t vaddr, uint64_t *paddr);
/* Slow paths: translate, check PMP, dispatch to RAM (filling the TLB) or
 * MMIO. Misaligned accesses are emulated (split into byte accesses) when
 * they do not cross into MMIO, see docs. On failure they return false with
 * h->exc_cause/exc_tval set. *was_mmio is set when a device was accessed. */
/* Loads return the value zero-extended (the caller sign-extends). A fault on
 * any byte of a misaligned access reports tval = vaddr and, for stores,
 * writes nothing. AMOs/LR/SC do not come here: they check alignment
 * themselves (they are not emulated) and use mmu_ram_ptr. */
bool mmu_load_slow(Hart *h, uint64_t vaddr, int size, uint64_t *val, bool *was_mmio);
bool mmu_store_slow(Hart *h, uint64_t vaddr, int size, uint64_t val, bool *was_mmio);
/* For AMOs and LR/SC (aligned, never MMIO; exec.c's atomic_ptr is the only
 * caller besides tests): translate for `acc` (ACC_READ for LR, a load;
 * ACC_WRITE for AMOs and SC, stores), require
 * `size` bytes of plain RAM allowed by PMP, and return the host pointer (and
 * *paddr), or NULL with the page/access fault set. Fills no TLB entry and
 * marks nothing dirty: the caller writes and then calls machine_mark_dirty. */
uint8_t *mmu_ram_ptr(Hart *h, uint64_t vaddr, int size, int acc, uint64_t *paddr);
/* Fetch: host pointer to the 4 KiB page containing vaddr for execution, or
 * NULL with exc set. *paddr receives the physical address of vaddr. */
const uint8_t *mmu_fetch_page(Hart *h, uint64_t vaddr, uint64_t *paddr);
/* Empty every TLB set of every address space of this hart; afterwards
 * only the active space is keyed (by h->satp). */
void mmu_tlb_flush(Hart *h);
/* sfence.vma: rs1/rs2 are the register numbers (x0 means "all"), vaddr and
 * asid their values. Flushes the entries for vaddr's page (rs1 != 0) or all
 * entries (rs1 == 0) of every address space (rs2 == 0) or of those whose
 * ASID is asid (rs2 != 0). Global mappings need no flush for rs2 != 0, so
 * only spaces with that ASID are touched. */
void mmu_sfence_vma(Hart *h, int rs1, uint64_t vaddr, int rs2, uint64_t asid);
/* h->satp was written: make the space keyed by the new value active,
 * taking the least recently used space (emptied) if none is. */
void mmu_satp_changed(Hart *h);
/* Recompute h->tlb_ctx after a change of priv or mstatus.MPRV/MPP/SUM. */
void mmu_update_ctx(Hart *h);
/* A guest-visible write (not the walker's A/D update) hit a page with
 * PT_WALKED in m->pt_pages: some cached translation may be stale. Empties
 * every TLB of every hart, clears m->pt_pages and moves the block cache
 * generation (bcache_translation_changed), so the instruction doing the
 * write ends its block. machine.c calls it for every RAM write it sees;
 * exec.c for AMO/SC stores. */
void mmu_pt_page_written(Machine *m);
/* Drop any write-TLB entry (in every hart) mapping physical page `ppage`
 * (a physical address, multiple of PAGE_SIZE). The exec engine calls it when
 * it starts decoding code from a page (and sets m->code_pages). */
void mmu_tlb_drop_write_page(Machine *m, uint64_t ppage);

/* Fast path used by exec.c: host pointer for an aligned access, or NULL. */
static inline uint8_t *hart_tlb_lookup(Hart *h, int acc, uint64_t vaddr)
{
    uint64_t vpage = vaddr >> PAGE_SHIFT;
    TlbEntry *e = &h->tlb[h->tlb_ctx[acc]][acc][vpage & (TLB_SIZE - 1)];
    if (e->vpage == vpage)
        return (uint8_t *)(uintptr_t)(vaddr + e->addend);
    return NULL;
}

/* --- block cache (exec.c): invalidate decoded code on a physical page. */
void bcache_invalidate_page(Machine *m, uint64_t ppage);
void bcache_flush(Machine *m);
/* Execution engine (jit.h JitMode): JIT_MODE_OFF interprets everything;
 * ON compiles hot blocks; CHECK compiles every block and runs each also in
 * the interpreter, stopping the machine at the first difference. Flushes
 * the block cache. False when this host has no code generator. */
bool bcache_set_jit(Machine *m, int mode);
/* The JIT's counters; false when the JIT is off. */
struct JitStats;
bool bcache_jit_stats(const Machine *m, struct JitStats *out);
/* Tests only: the JIT on with a code space of `bytes` (the default is 64
 * MiB), so that running out of it and starting over can be tested. */
bool bcache_jit_test_code_space(Machine *m, size_t bytes);
/* Tests only: see jit_test_miscompile. */
void bcache_jit_test_miscompile(Machine *m, int op);
/* Translations changed behind the TLB's back: move the cache generation, so
 * no jump-cache entry or block link (which skip the exec TLB) is used again
 * and a store in the running block ends it. Decoded blocks stay. */
void bcache_translation_changed(Machine *m);
struct BlockCache *bcache_new(void);
void bcache_free(struct BlockCache *bc);

/* Helpers shared by exec and trap code. */
static inline bool hart_exc_pending(const Hart *h) { return h->exc_cause != UINT64_MAX; }

#endif
