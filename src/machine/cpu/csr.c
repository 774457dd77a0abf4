/*
 * csr.c - control and status registers of one hart (Zicsr, privileged
 * architecture 1.12 subset for an RV64GC+S+U machine without H, Sstc,
 * Sscofpmf, Svnapot, Svpbmt or debug triggers).
 *
 * hart_csr_read/hart_csr_write decide legality (privilege from CSR number
 * bits 9:8, read-only from bits 11:10 == 3, counter-enable gating, FS, TVM)
 * and apply WARL legalisation, so every stored field always holds a legal
 * value. hart_csr_state_valid() checks exactly those invariants for state
 * that arrives from a snapshot.
 *
 * Invariants kept:
 *  - h->mstatus holds only writable bits plus UXL = SXL = 2; SD is computed
 *    on read. MPP is never 2.
 *  - mideleg only has SSIP/STIP/SEIP; medeleg never has bit 11.
 *  - mtvec/stvec mode is 0 or 1; mepc/sepc bit 0 is clear.
 *  - satp mode is Bare, Sv39 or Sv48.
 *  - A locked PMP entry (and the address of the entry below a locked TOR
 *    entry) never changes.
 *  - Any change that alters translation for every address space (MXR,
 *    PMP) flushes the software TLB; a satp write switches its address space
 *    (mmu_satp_changed); changes of MPRV/MPP/SUM switch the TLB context set.
 */
#include <assert.h>

#include "machine/cpu/hart.h"

enum {
    CSR_FFLAGS = 0x001, CSR_FRM = 0x002, CSR_FCSR = 0x003,
    CSR_CYCLE = 0xc00, CSR_TIME = 0xc01, CSR_INSTRET = 0xc02,
    CSR_HPMCOUNTER3 = 0xc03, CSR_HPMCOUNTER31 = 0xc1f,

    CSR_SSTATUS = 0x100, CSR_SIE = 0x104, CSR_STVEC = 0x105, CSR_SCOUNTEREN = 0x106,
    CSR_SENVCFG = 0x10a, CSR_SSCRATCH = 0x140, CSR_SEPC = 0x141, CSR_SCAUSE = 0x142,
    CSR_STVAL = 0x143, CSR_SIP = 0x144, CSR_SATP = 0x180,

    CSR_MVENDORID = 0xf11, CSR_MARCHID = 0xf12, CSR_MIMPID = 0xf13, CSR_MHARTID = 0xf14,
    CSR_MCONFIGPTR = 0xf15,
    CSR_MSTATUS = 0x300, CSR_MISA = 0x301, CSR_MEDELEG = 0x302, CSR_MIDELEG = 0x303,
    CSR_MIE = 0x304, CSR_MTVEC = 0x305, CSR_MCOUNTEREN = 0x306, CSR_MENVCFG = 0x30a,
    CSR_MCOUNTINHIBIT = 0x320, CSR_MHPMEVENT3 = 0x323, CSR_MHPMEVENT31 = 0x33f,
    CSR_MSCRATCH = 0x340, CSR_MEPC = 0x341, CSR_MCAUSE = 0x342, CSR_MTVAL = 0x343,
    CSR_MIP = 0x344,
    CSR_PMPCFG0 = 0x3a0, CSR_PMPCFG15 = 0x3af, CSR_PMPADDR0 = 0x3b0, CSR_PMPADDR63 = 0x3ef,
    CSR_MCYCLE = 0xb00, CSR_MINSTRET = 0xb02,
    CSR_MHPMCOUNTER3 = 0xb03, CSR_MHPMCOUNTER31 = 0xb1f,
    CSR_TSELECT = 0x7a0, CSR_TDATA1 = 0x7a1, CSR_TDATA2 = 0x7a2, CSR_TDATA3 = 0x7a3,
};

#define MISA_VALUE HART_MISA
#define XLEN64_FIELDS MSTATUS_XLEN64

#define MSTATUS_WRITABLE                                                              \
    (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP | \
     MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW |   \
     MSTATUS_TSR)
#define SSTATUS_WRITABLE \
    (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR)
#define SSTATUS_READABLE \
    (SSTATUS_WRITABLE | MSTATUS_XS | MSTATUS_UXL | MSTATUS_SD)

/* Exceptions that may be delegated to S: all defined ones but ecall-from-M. */
#define MEDELEG_WRITABLE                                                              \
    ((1ull << EXC_INSN_MISALIGNED) | (1ull << EXC_INSN_ACCESS) |                       \
     (1ull << EXC_ILLEGAL_INSN) | (1ull << EXC_BREAKPOINT) |                           \
     (1ull << EXC_LOAD_MISALIGNED) | (1ull << EXC_LOAD_ACCESS) |                       \
     (1ull << EXC_STORE_MISALIGNED) | (1ull << EXC_STORE_ACCESS) |                     \
     (1ull << EXC_ECALL_U) | (1ull << EXC_ECALL_S) | (1ull << EXC_INSN_PAGE_FAULT) |   \
     (1ull << EXC_LOAD_PAGE_FAULT) | (1ull << EXC_STORE_PAGE_FAULT))
#define S_INTERRUPTS (MIP_SSIP | MIP_STIP | MIP_SEIP)
#define ALL_INTERRUPTS (S_INTERRUPTS | MIP_MSIP | MIP_MTIP | MIP_MEIP)
#define MIP_WRITABLE S_INTERRUPTS /* M timer/soft/external are wired to devices */

#define ENVCFG_FIOM 1ull /* the only implemented xenvcfg bit (no Zicbo*, Svpbmt, Sstc) */

#define SATP_MODE_SHIFT 60
#define SATP_MODE_BARE 0ull
#define SATP_MODE_SV39 8ull
#define SATP_MODE_SV48 9ull
#define SATP_ASID_MASK (0xffffull << 44)
#define SATP_PPN_MASK ((1ull << 44) - 1)

#define PMP_R 0x01
#define PMP_W 0x02
#define PMP_X 0x04
#define PMP_A 0x18
#define PMP_A_TOR 0x08
#define PMP_L 0x80
#define PMPCFG_LEGAL_BITS (PMP_R | PMP_W | PMP_X | PMP_A | PMP_L)
#define PMPADDR_MASK ((1ull << 54) - 1) /* 56-bit physical addresses */

static uint64_t mstatus_read(const Hart *h)
{
    uint64_t v = h->mstatus;
    if ((v & MSTATUS_FS) == MSTATUS_FS || (v & MSTATUS_XS) == MSTATUS_XS)
        v |= MSTATUS_SD;
    return v;
}

/* Store a new mstatus value (already restricted to the bits the writer may
 * change, merged with the old value) and keep translation state coherent. */
static void mstatus_set(Hart *h, uint64_t v)
{
    uint64_t old = h->mstatus;
    v &= MSTATUS_WRITABLE;
    if (((v & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT) == 2)
        v = (v & ~MSTATUS_MPP) | (old & MSTATUS_MPP); /* reserved: keep the old value */
    v |= XLEN64_FIELDS;
    h->mstatus = v;
    uint64_t changed = old ^ v;
    if (changed & MSTATUS_MXR)
        mmu_tlb_flush(h); /* MXR widens read permission in every context */
    if (changed & (MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_SUM))
        mmu_update_ctx(h);
}

static uint64_t legal_tvec(uint64_t v)
{
    /* modes >= 2 are reserved: fall back to direct mode */
    if ((v & 3) >= 2)
        v &= ~3ull;
    return v;
}

static bool satp_mode_supported(uint64_t mode)
{
    return mode == SATP_MODE_BARE || mode == SATP_MODE_SV39 || mode == SATP_MODE_SV48;
}

static unsigned pmpcfg_byte(const Hart *h, int i)
{
    return (unsigned)(h->pmpcfg[i / 8] >> (8 * (i % 8))) & 0xff;
}

static bool pmpaddr_locked(const Hart *h, int i)
{
    if (pmpcfg_byte(h, i) & PMP_L)
        return true;
    if (i + 1 < NUM_PMP) {
        unsigned next = pmpcfg_byte(h, i + 1);
        if ((next & PMP_L) && (next & PMP_A) == PMP_A_TOR)
            return true;
    }
    return false;
}

static unsigned legal_pmpcfg(unsigned b)
{
    b &= PMPCFG_LEGAL_BITS;
    if ((b & (PMP_R | PMP_W)) == PMP_W)
        b &= ~(unsigned)PMP_W; /* R=0 W=1 is reserved */
    return b;
}

static void pmpcfg_write(Hart *h, int reg, uint64_t val)
{
    uint64_t nv = 0;
    for (int j = 0; j < 8; j++) {
        int i = reg * 8 + j;
        unsigned old = pmpcfg_byte(h, i);
        unsigned b = (old & PMP_L) ? old : legal_pmpcfg((unsigned)(val >> (8 * j)) & 0xff);
        nv |= (uint64_t)b << (8 * j);
    }
    if (nv != h->pmpcfg[reg]) {
        h->pmpcfg[reg] = nv;
        mmu_tlb_flush(h);
    }
}

/* Counter access from S/U: mcounteren gates S and U, scounteren gates U. */
static bool counter_enabled(const Hart *h, int csr)
{
    uint64_t bit = 1ull << (csr & 31);
    if (h->priv < PRV_M && !(h->mcounteren & bit))
        return false;
    if (h->priv < PRV_S && !(h->scounteren & bit))
        return false;
    return true;
}

static bool fp_enabled(const Hart *h) { return (h->mstatus & MSTATUS_FS) != 0; }

static uint64_t sie_mask(const Hart *h) { return h->mideleg & S_INTERRUPTS; }

bool hart_csr_read(Hart *h, int csr, uint64_t *val)
{
    assert(csr >= 0 && csr < 4096);
    if (h->priv < ((csr >> 8) & 3))
        return false;
    uint64_t v;
    switch (csr) {
    case CSR_FFLAGS:
        if (!fp_enabled(h))
            return false;
        v = h->fflags;
        break;
    case CSR_FRM:
        if (!fp_enabled(h))
            return false;
        v = h->frm;
        break;
    case CSR_FCSR:
        if (!fp_enabled(h))
            return false;
        v = (h->frm << 5) | h->fflags;
        break;
    case CSR_CYCLE:
        if (!counter_enabled(h, csr))
            return false;
        v = h->instret + h->mcycle_offset;
        break;
    case CSR_TIME:
        if (!counter_enabled(h, csr))
            return false;
        v = machine_mtime(h->m);
        break;
    case CSR_INSTRET:
        if (!counter_enabled(h, csr))
            return false;
        v = h->instret;
        break;

    case CSR_SSTATUS: v = mstatus_read(h) & SSTATUS_READABLE; break;
    case CSR_SIE: v = h->mie & sie_mask(h); break;
    case CSR_SIP: v = h->mip & sie_mask(h); break;
    case CSR_STVEC: v = h->stvec; break;
    case CSR_SCOUNTEREN: v = h->scounteren; break;
    case CSR_SENVCFG: v = h->senvcfg; break;
    case CSR_SSCRATCH: v = h->sscratch; break;
    case CSR_SEPC: v = h->sepc; break;
    case CSR_SCAUSE: v = h->scause; break;
    case CSR_STVAL: v = h->stval; break;
    case CSR_SATP:
        if (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM))
            return false;
        v = h->satp;
        break;

    case CSR_MVENDORID:
    case CSR_MARCHID:
    case CSR_MIMPID:
    case CSR_MCONFIGPTR: v = 0; break;
    case CSR_MHARTID: v = h->mhartid; break;
    case CSR_MSTATUS: v = mstatus_read(h); break;
    case CSR_MISA: v = h->misa; break;
    case CSR_MEDELEG: v = h->medeleg; break;
    case CSR_MIDELEG: v = h->mideleg; break;
    case CSR_MIE: v = h->mie; break;
    case CSR_MIP: v = h->mip; break;
    case CSR_MTVEC: v = h->mtvec; break;
    case CSR_MCOUNTEREN: v = h->mcounteren; break;
    case CSR_MENVCFG: v = h->menvcfg; break;
    case CSR_MCOUNTINHIBIT: v = h->mcountinhibit; break;
    case CSR_MSCRATCH: v = h->mscratch; break;
    case CSR_MEPC: v = h->mepc; break;
    case CSR_MCAUSE: v = h->mcause; break;
    case CSR_MTVAL: v = h->mtval; break;
    case CSR_MCYCLE: v = h->instret + h->mcycle_offset; break;
    case CSR_MINSTRET: v = h->instret; break;
    case CSR_TSELECT:
    case CSR_TDATA1:
    case CSR_TDATA2:
    case CSR_TDATA3: v = 0; break; /* no triggers: tdata1.type = 0 */

    default:
        if (csr >= CSR_HPMCOUNTER3 && csr <= CSR_HPMCOUNTER31) {
            if (!counter_enabled(h, csr))
                return false;
            v = 0;
        } else if ((csr >= CSR_MHPMCOUNTER3 && csr <= CSR_MHPMCOUNTER31) ||
                   (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31)) {
            v = 0;
        } else if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
            int reg = csr - CSR_PMPCFG0;
            if (reg & 1)
                return false; /* odd pmpcfg registers do not exist on RV64 */
            v = reg / 2 < NUM_PMP / 8 ? h->pmpcfg[reg / 2] : 0;
        } else if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
            int i = csr - CSR_PMPADDR0;
            v = i < NUM_PMP ? h->pmpaddr[i] : 0;
        } else {
            return false;
        }
    }
    *val = v;
    return true;
}

bool hart_csr_write(Hart *h, int csr, uint64_t val)
{
    assert(csr >= 0 && csr < 4096);
    if (h->priv < ((csr >> 8) & 3))
        return false;
    if (((csr >> 10) & 3) == 3)
        return false; /* read-only CSR */
    switch (csr) {
    case CSR_FFLAGS:
        if (!fp_enabled(h))
            return false;
        h->fflags = val & 0x1f;
        h->mstatus |= MSTATUS_FS_DIRTY;
        break;
    case CSR_FRM:
        if (!fp_enabled(h))
            return false;
        h->frm = val & 7;
        h->mstatus |= MSTATUS_FS_DIRTY;
        break;
    case CSR_FCSR:
        if (!fp_enabled(h))
            return false;
        h->fflags = val & 0x1f;
        h->frm = (val >> 5) & 7;
        h->mstatus |= MSTATUS_FS_DIRTY;
        break;

    case CSR_SSTATUS:
        mstatus_set(h, (h->mstatus & ~SSTATUS_WRITABLE) | (val & SSTATUS_WRITABLE));
        break;
    case CSR_SIE: {
        uint64_t mask = sie_mask(h);
        h->mie = (h->mie & ~mask) | (val & mask);
        break;
    }
    case CSR_SIP: {
        uint64_t mask = sie_mask(h) & MIP_SSIP;
        h->mip = (h->mip & ~mask) | (val & mask);
        break;
    }
    case CSR_STVEC: h->stvec = legal_tvec(val); break;
    case CSR_SCOUNTEREN: h->scounteren = val & 0xffffffffull; break;
    case CSR_SENVCFG: h->senvcfg = val & ENVCFG_FIOM; break;
    case CSR_SSCRATCH: h->sscratch = val; break;
    case CSR_SEPC: h->sepc = val & ~1ull; break;
    case CSR_SCAUSE: h->scause = val; break;
    case CSR_STVAL: h->stval = val; break;
    case CSR_SATP: {
        if (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM))
            return false;
        uint64_t mode = val >> SATP_MODE_SHIFT;
        if (!satp_mode_supported(mode))
            break; /* WARL: an unsupported mode leaves satp unchanged */
        h->satp = val & ((0xfull << SATP_MODE_SHIFT) | SATP_ASID_MASK | SATP_PPN_MASK);
        mmu_satp_changed(h);
        break;
    }

    case CSR_MSTATUS: mstatus_set(h, val); break;
    case CSR_MISA: break; /* fixed extension set */
    case CSR_MEDELEG: h->medeleg = val & MEDELEG_WRITABLE; break;
    case CSR_MIDELEG: h->mideleg = val & S_INTERRUPTS; break;
    case CSR_MIE: h->mie = val & ALL_INTERRUPTS; break;
    case CSR_MIP: h->mip = (h->mip & ~MIP_WRITABLE) | (val & MIP_WRITABLE); break;
    case CSR_MTVEC: h->mtvec = legal_tvec(val); break;
    case CSR_MCOUNTEREN: h->mcounteren = val & 0xffffffffull; break;
    case CSR_MENVCFG: h->menvcfg = val & ENVCFG_FIOM; break;
    case CSR_MCOUNTINHIBIT: break; /* counters cannot be inhibited: all bits read 0 */
    case CSR_MSCRATCH: h->mscratch = val; break;
    case CSR_MEPC: h->mepc = val & ~1ull; break;
    case CSR_MCAUSE: h->mcause = val; break;
    case CSR_MTVAL: h->mtval = val; break;
    case CSR_MCYCLE: h->mcycle_offset = val - h->instret; break;
    case CSR_MINSTRET:
        /* keep mcycle unchanged while instret jumps */
        h->mcycle_offset += h->instret - val;
        h->instret = val;
        h->suppress_instret = true;
        break;
    case CSR_TSELECT:
    case CSR_TDATA1:
    case CSR_TDATA2:
    case CSR_TDATA3: break;

    default:
        if ((csr >= CSR_MHPMCOUNTER3 && csr <= CSR_MHPMCOUNTER31) ||
            (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31)) {
            break;
        } else if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
            int reg = csr - CSR_PMPCFG0;
            if (reg & 1)
                return false;
            if (reg / 2 < NUM_PMP / 8)
                pmpcfg_write(h, reg / 2, val);
        } else if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
            int i = csr - CSR_PMPADDR0;
            if (i < NUM_PMP && !pmpaddr_locked(h, i) && h->pmpaddr[i] != (val & PMPADDR_MASK)) {
                h->pmpaddr[i] = val & PMPADDR_MASK;
                mmu_tlb_flush(h);
            }
        } else {
            return false;
        }
    }
    return true;
}

bool hart_csr_state_valid(const Hart *h, const char **why)
{
#define CHECK(cond, msg)        \
    do {                        \
        if (!(cond)) {          \
            *why = msg;         \
            return false;       \
        }                       \
    } while (0)
    CHECK(h->priv == PRV_U || h->priv == PRV_S || h->priv == PRV_M, "hart: bad privilege level");
    CHECK(h->fflags <= 0x1f && h->frm <= 7, "hart: bad fcsr");
    CHECK((h->mstatus & ~MSTATUS_WRITABLE) == XLEN64_FIELDS, "hart: bad mstatus");
    CHECK(((h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT) != 2, "hart: bad mstatus.MPP");
    CHECK(h->misa == MISA_VALUE, "hart: bad misa");
    CHECK((h->medeleg & ~MEDELEG_WRITABLE) == 0, "hart: bad medeleg");
    CHECK((h->mideleg & ~S_INTERRUPTS) == 0, "hart: bad mideleg");
    CHECK((h->mie & ~ALL_INTERRUPTS) == 0 && (h->mip & ~ALL_INTERRUPTS) == 0,
          "hart: bad mie/mip");
    CHECK(legal_tvec(h->mtvec) == h->mtvec && legal_tvec(h->stvec) == h->stvec,
          "hart: bad mtvec/stvec");
    CHECK(!(h->mepc & 1) && !(h->sepc & 1), "hart: bad mepc/sepc");
    CHECK(h->mcounteren <= 0xffffffffull && h->scounteren <= 0xffffffffull,
          "hart: bad counteren");
    CHECK(h->mcountinhibit == 0, "hart: bad mcountinhibit");
    CHECK((h->menvcfg & ~ENVCFG_FIOM) == 0 && (h->senvcfg & ~ENVCFG_FIOM) == 0,
          "hart: bad envcfg");
    CHECK(satp_mode_supported(h->satp >> SATP_MODE_SHIFT) &&
              (h->satp & ~((0xfull << SATP_MODE_SHIFT) | SATP_ASID_MASK | SATP_PPN_MASK)) == 0,
          "hart: bad satp");
    for (int i = 0; i < NUM_PMP; i++) {
        unsigned b = pmpcfg_byte(h, i);
        CHECK(legal_pmpcfg(b) == b, "hart: bad pmpcfg");
        CHECK((h->pmpaddr[i] & ~PMPADDR_MASK) == 0, "hart: bad pmpaddr");
    }
#undef CHECK
    return true;
}
