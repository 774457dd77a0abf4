/*
 * decode.c - RV64GC instruction decoder (RV64I, M, A, F, D, C, Zicsr,
 * Zifencei).
 *
 * decode_insn() fills an `Insn` from the instruction bits alone; it knows
 * nothing about privilege, mstatus or memory, so a decoded block stays
 * valid for as long as the bytes it came from do. Checks that depend on
 * hart state (FS off, dynamic rounding mode, privilege of xRET/WFI/CSRs)
 * happen when the instruction executes.
 *
 * Reserved encodings decode to OP_ILLEGAL, including the RVC ones the spec
 * reserves (all-zero word, c.addi4spn with a zero immediate, c.lwsp/c.ldsp
 * with rd = 0, c.jr with rs1 = 0, c.addi16sp/c.lui with a zero immediate,
 * c.addiw with rd = 0) and static rounding modes 5 and 6.
 */
#include "machine/cpu/decode.h"

#include <assert.h>
#include <stddef.h>

static inline uint32_t field(uint32_t x, int hi, int lo)
{
    return (x >> lo) & ((1u << (hi - lo + 1)) - 1);
}

/* Sign-extend the low `nbits` bits of x. */
static inline int32_t sext(uint32_t x, int nbits)
{
    return (int32_t)(x << (32 - nbits)) >> (32 - nbits);
}

static inline int32_t imm_i(uint32_t b) { return (int32_t)b >> 20; }
static inline int32_t imm_s(uint32_t b) { return sext(field(b, 31, 25) << 5 | field(b, 11, 7), 12); }
static inline int32_t imm_b(uint32_t b)
{
    uint32_t v = field(b, 31, 31) << 12 | field(b, 7, 7) << 11 | field(b, 30, 25) << 5 | field(b, 11, 8) << 1;
    return sext(v, 13);
}
static inline int32_t imm_j(uint32_t b)
{
    uint32_t v = field(b, 31, 31) << 20 | field(b, 19, 12) << 12 | field(b, 20, 20) << 11 | field(b, 30, 21) << 1;
    return sext(v, 21);
}

bool op_only_writes_rd(int op)
{
    switch (op) {
    case OP_LUI: case OP_AUIPC:
    case OP_ADDI: case OP_SLTI: case OP_SLTIU: case OP_XORI: case OP_ORI: case OP_ANDI:
    case OP_SLLI: case OP_SRLI: case OP_SRAI:
    case OP_ADD: case OP_SUB: case OP_SLL: case OP_SLT: case OP_SLTU: case OP_XOR:
    case OP_SRL: case OP_SRA: case OP_OR: case OP_AND:
    case OP_ADDIW: case OP_SLLIW: case OP_SRLIW: case OP_SRAIW:
    case OP_ADDW: case OP_SUBW: case OP_SLLW: case OP_SRLW: case OP_SRAW:
    case OP_MUL: case OP_MULH: case OP_MULHSU: case OP_MULHU: case OP_DIV: case OP_DIVU:
    case OP_REM: case OP_REMU: case OP_MULW: case OP_DIVW: case OP_DIVUW: case OP_REMW: case OP_REMUW:
        return true;
    default:
        return false;
    }
}

/* Static rounding modes 5 and 6 are reserved; 7 (dynamic) is checked at
 * run time against frm. */
static int fp_rm_op(uint32_t b, int op)
{
    uint32_t rm = field(b, 14, 12);
    return (rm == 5 || rm == 6) ? OP_ILLEGAL : op;
}

static int decode_op_fp(uint32_t b)
{
    uint32_t f7 = field(b, 31, 25), f3 = field(b, 14, 12), rs2 = field(b, 24, 20);
    uint32_t fmt = f7 & 3;
    bool dbl = fmt == 1;
    if (fmt > 1)
        return OP_ILLEGAL; /* H and Q are not implemented */
    switch (f7 >> 2) {
    case 0x00: return fp_rm_op(b, dbl ? OP_FADD_D : OP_FADD_S);
    case 0x01: return fp_rm_op(b, dbl ? OP_FSUB_D : OP_FSUB_S);
    case 0x02: return fp_rm_op(b, dbl ? OP_FMUL_D : OP_FMUL_S);
    case 0x03: return fp_rm_op(b, dbl ? OP_FDIV_D : OP_FDIV_S);
    case 0x0b:
        if (rs2 != 0)
            return OP_ILLEGAL;
        return fp_rm_op(b, dbl ? OP_FSQRT_D : OP_FSQRT_S);
    case 0x04:
        switch (f3) {
        case 0: return dbl ? OP_FSGNJ_D : OP_FSGNJ_S;
        case 1: return dbl ? OP_FSGNJN_D : OP_FSGNJN_S;
        case 2: return dbl ? OP_FSGNJX_D : OP_FSGNJX_S;
        default: return OP_ILLEGAL;
        }
    case 0x05:
        switch (f3) {
        case 0: return dbl ? OP_FMIN_D : OP_FMIN_S;
        case 1: return dbl ? OP_FMAX_D : OP_FMAX_S;
        default: return OP_ILLEGAL;
        }
    case 0x08:
        if (!dbl && rs2 == 1)
            return fp_rm_op(b, OP_FCVT_S_D);
        if (dbl && rs2 == 0)
            return fp_rm_op(b, OP_FCVT_D_S);
        return OP_ILLEGAL;
    case 0x14:
        switch (f3) {
        case 0: return dbl ? OP_FLE_D : OP_FLE_S;
        case 1: return dbl ? OP_FLT_D : OP_FLT_S;
        case 2: return dbl ? OP_FEQ_D : OP_FEQ_S;
        default: return OP_ILLEGAL;
        }
    case 0x18: {
        static const uint16_t to_int[2][4] = {
            { OP_FCVT_W_S, OP_FCVT_WU_S, OP_FCVT_L_S, OP_FCVT_LU_S },
            { OP_FCVT_W_D, OP_FCVT_WU_D, OP_FCVT_L_D, OP_FCVT_LU_D },
        };
        return rs2 < 4 ? fp_rm_op(b, to_int[dbl][rs2]) : OP_ILLEGAL;
    }
    case 0x1a: {
        static const uint16_t from_int[2][4] = {
            { OP_FCVT_S_W, OP_FCVT_S_WU, OP_FCVT_S_L, OP_FCVT_S_LU },
            { OP_FCVT_D_W, OP_FCVT_D_WU, OP_FCVT_D_L, OP_FCVT_D_LU },
        };
        return rs2 < 4 ? fp_rm_op(b, from_int[dbl][rs2]) : OP_ILLEGAL;
    }
    case 0x1c:
        if (rs2 != 0)
            return OP_ILLEGAL;
        if (f3 == 0)
            return dbl ? OP_FMV_X_D : OP_FMV_X_W;
        if (f3 == 1)
            return dbl ? OP_FCLASS_D : OP_FCLASS_S;
        return OP_ILLEGAL;
    case 0x1e:
        if (rs2 != 0 || f3 != 0)
            return OP_ILLEGAL;
        return dbl ? OP_FMV_D_X : OP_FMV_W_X;
    default:
        return OP_ILLEGAL;
    }
}

static int decode_amo(uint32_t b)
{
    static const uint16_t amo_w[32] = {
        [0x00] = OP_AMOADD_W, [0x01] = OP_AMOSWAP_W, [0x02] = OP_LR_W, [0x03] = OP_SC_W,
        [0x04] = OP_AMOXOR_W, [0x08] = OP_AMOOR_W, [0x0c] = OP_AMOAND_W,
        [0x10] = OP_AMOMIN_W, [0x14] = OP_AMOMAX_W, [0x18] = OP_AMOMINU_W, [0x1c] = OP_AMOMAXU_W,
    };
    static const uint16_t amo_d[32] = {
        [0x00] = OP_AMOADD_D, [0x01] = OP_AMOSWAP_D, [0x02] = OP_LR_D, [0x03] = OP_SC_D,
        [0x04] = OP_AMOXOR_D, [0x08] = OP_AMOOR_D, [0x0c] = OP_AMOAND_D,
        [0x10] = OP_AMOMIN_D, [0x14] = OP_AMOMAX_D, [0x18] = OP_AMOMINU_D, [0x1c] = OP_AMOMAXU_D,
    };
    uint32_t f3 = field(b, 14, 12), f5 = field(b, 31, 27);
    int op;
    if (f3 == 2)
        op = amo_w[f5];
    else if (f3 == 3)
        op = amo_d[f5];
    else
        return OP_ILLEGAL;
    /* OP_ILLEGAL is 0, so holes in the tables are illegal */
    if ((op == OP_LR_W || op == OP_LR_D) && field(b, 24, 20) != 0)
        return OP_ILLEGAL;
    return op;
}

static int decode_system(uint32_t b)
{
    uint32_t f3 = field(b, 14, 12);
    switch (f3) {
    case 0:
        switch (b) {
        case 0x00000073: return OP_ECALL;
        case 0x00100073: return OP_EBREAK;
        case 0x30200073: return OP_MRET;
        case 0x10200073: return OP_SRET;
        case 0x10500073: return OP_WFI;
        default:
            if (field(b, 31, 25) == 0x09 && field(b, 11, 7) == 0)
                return OP_SFENCE_VMA;
            return OP_ILLEGAL;
        }
    case 1: return OP_CSRRW;
    case 2: return OP_CSRRS;
    case 3: return OP_CSRRC;
    case 5: return OP_CSRRWI;
    case 6: return OP_CSRRSI;
    case 7: return OP_CSRRCI;
    default: return OP_ILLEGAL;
    }
}

static void decode32(uint32_t b, Insn *d)
{
    uint32_t f3 = field(b, 14, 12), f7 = field(b, 31, 25);
    int op = OP_ILLEGAL;
    int32_t imm = 0;

    switch (field(b, 6, 0)) {
    case 0x03: { /* LOAD */
        static const uint16_t loads[8] = { OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU, OP_ILLEGAL };
        op = loads[f3];
        imm = imm_i(b);
        break;
    }
    case 0x07: /* LOAD-FP */
        op = f3 == 2 ? OP_FLW : f3 == 3 ? OP_FLD : OP_ILLEGAL;
        imm = imm_i(b);
        break;
    case 0x0f: /* MISC-MEM: any fence variant is a no-op for us */
        op = f3 == 0 ? OP_FENCE : f3 == 1 ? OP_FENCE_I : OP_ILLEGAL;
        break;
    case 0x13: /* OP-IMM */
        imm = imm_i(b);
        switch (f3) {
        case 0: op = OP_ADDI; break;
        case 2: op = OP_SLTI; break;
        case 3: op = OP_SLTIU; break;
        case 4: op = OP_XORI; break;
        case 6: op = OP_ORI; break;
        case 7: op = OP_ANDI; break;
        case 1:
            op = field(b, 31, 26) == 0 ? OP_SLLI : OP_ILLEGAL;
            imm = field(b, 25, 20);
            break;
        case 5:
            op = field(b, 31, 26) == 0 ? OP_SRLI : field(b, 31, 26) == 0x10 ? OP_SRAI : OP_ILLEGAL;
            imm = field(b, 25, 20);
            break;
        }
        break;
    case 0x17: /* AUIPC */
        op = OP_AUIPC;
        imm = (int32_t)(b & 0xfffff000u);
        break;
    case 0x1b: /* OP-IMM-32 */
        imm = imm_i(b);
        switch (f3) {
        case 0: op = OP_ADDIW; break;
        case 1:
            op = f7 == 0 ? OP_SLLIW : OP_ILLEGAL;
            imm = field(b, 24, 20);
            break;
        case 5:
            op = f7 == 0 ? OP_SRLIW : f7 == 0x20 ? OP_SRAIW : OP_ILLEGAL;
            imm = field(b, 24, 20);
            break;
        }
        break;
    case 0x23: { /* STORE */
        static const uint16_t stores[8] = { OP_SB, OP_SH, OP_SW, OP_SD };
        op = stores[f3];
        imm = imm_s(b);
        break;
    }
    case 0x27: /* STORE-FP */
        op = f3 == 2 ? OP_FSW : f3 == 3 ? OP_FSD : OP_ILLEGAL;
        imm = imm_s(b);
        break;
    case 0x2f: /* AMO */
        op = decode_amo(b);
        break;
    case 0x33: /* OP */
        if (f7 == 0x00) {
            static const uint16_t ops[8] = { OP_ADD, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_OR, OP_AND };
            op = ops[f3];
        } else if (f7 == 0x20) {
            op = f3 == 0 ? OP_SUB : f3 == 5 ? OP_SRA : OP_ILLEGAL;
        } else if (f7 == 0x01) {
            static const uint16_t ops[8] = { OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU };
            op = ops[f3];
        }
        break;
    case 0x37: /* LUI */
        op = OP_LUI;
        imm = (int32_t)(b & 0xfffff000u);
        break;
    case 0x3b: /* OP-32 */
        if (f7 == 0x00) {
            op = f3 == 0 ? OP_ADDW : f3 == 1 ? OP_SLLW : f3 == 5 ? OP_SRLW : OP_ILLEGAL;
        } else if (f7 == 0x20) {
            op = f3 == 0 ? OP_SUBW : f3 == 5 ? OP_SRAW : OP_ILLEGAL;
        } else if (f7 == 0x01) {
            static const uint16_t ops[8] = { OP_MULW, OP_ILLEGAL, OP_ILLEGAL, OP_ILLEGAL,
                                             OP_DIVW, OP_DIVUW, OP_REMW, OP_REMUW };
            op = ops[f3];
        }
        break;
    case 0x43: case 0x47: case 0x4b: case 0x4f: { /* FMADD FMSUB FNMSUB FNMADD */
        static const uint16_t fma[2][4] = {
            { OP_FMADD_S, OP_FMSUB_S, OP_FNMSUB_S, OP_FNMADD_S },
            { OP_FMADD_D, OP_FMSUB_D, OP_FNMSUB_D, OP_FNMADD_D },
        };
        uint32_t fmt = field(b, 26, 25);
        if (fmt <= 1)
            op = fp_rm_op(b, fma[fmt][field(b, 3, 2)]);
        break;
    }
    case 0x53: /* OP-FP */
        op = decode_op_fp(b);
        break;
    case 0x63: { /* BRANCH */
        static const uint16_t br[8] = { OP_BEQ, OP_BNE, OP_ILLEGAL, OP_ILLEGAL, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU };
        op = br[f3];
        imm = imm_b(b);
        break;
    }
    case 0x67: /* JALR */
        op = f3 == 0 ? OP_JALR : OP_ILLEGAL;
        imm = imm_i(b);
        break;
    case 0x6f: /* JAL */
        op = OP_JAL;
        imm = imm_j(b);
        break;
    case 0x73: /* SYSTEM */
        op = decode_system(b);
        if (op >= OP_CSRRW && op <= OP_CSRRCI)
            imm = field(b, 31, 20);
        break;
    default:
        break;
    }

    d->op = (uint16_t)op;
    d->rd = (uint8_t)field(b, 11, 7);
    d->rs1 = (uint8_t)field(b, 19, 15);
    d->rs2 = (uint8_t)field(b, 24, 20);
    d->rs3 = (uint8_t)field(b, 31, 27);
    d->imm = imm;
    d->raw = b;
}

static void set16(Insn *d, int op, int rd, int rs1, int rs2, int32_t imm)
{
    d->op = (uint16_t)op;
    d->rd = (uint8_t)rd;
    d->rs1 = (uint8_t)rs1;
    d->rs2 = (uint8_t)rs2;
    d->imm = imm;
}

static void decode16(uint32_t c, Insn *d)
{
    int rd = (int)field(c, 11, 7), rs2 = (int)field(c, 6, 2);
    int rdp = 8 + (int)field(c, 4, 2), rs1p = 8 + (int)field(c, 9, 7);
    int32_t imm6 = sext(field(c, 12, 12) << 5 | field(c, 6, 2), 6);
    uint32_t shamt = field(c, 12, 12) << 5 | field(c, 6, 2);
    /* offsets shared by several forms */
    uint32_t off_d = field(c, 12, 10) << 3 | field(c, 6, 5) << 6;               /* c.ld c.fld c.sd c.fsd */
    uint32_t off_w = field(c, 12, 10) << 3 | field(c, 6, 6) << 2 | field(c, 5, 5) << 6; /* c.lw c.sw */
    uint32_t off_dsp = field(c, 12, 12) << 5 | field(c, 6, 5) << 3 | field(c, 4, 2) << 6; /* c.ldsp c.fldsp */
    uint32_t off_sdsp = field(c, 12, 10) << 3 | field(c, 9, 7) << 6;            /* c.sdsp c.fsdsp */

    set16(d, OP_ILLEGAL, 0, 0, 0, 0);
    d->rs3 = 0;
    d->raw = c & 0xffff;

    switch ((c & 3) << 3 | field(c, 15, 13)) {
    /* quadrant 0 */
    case 000: {
        uint32_t nz = field(c, 12, 11) << 4 | field(c, 10, 7) << 6 | field(c, 6, 6) << 2 | field(c, 5, 5) << 3;
        if (nz != 0) /* also catches the all-zero instruction */
            set16(d, OP_ADDI, rdp, 2, 0, (int32_t)nz);
        break;
    }
    case 001: set16(d, OP_FLD, rdp, rs1p, 0, (int32_t)off_d); break;
    case 002: set16(d, OP_LW, rdp, rs1p, 0, (int32_t)off_w); break;
    case 003: set16(d, OP_LD, rdp, rs1p, 0, (int32_t)off_d); break;
    case 004: break; /* reserved (Zcb not implemented) */
    case 005: set16(d, OP_FSD, 0, rs1p, rdp, (int32_t)off_d); break;
    case 006: set16(d, OP_SW, 0, rs1p, rdp, (int32_t)off_w); break;
    case 007: set16(d, OP_SD, 0, rs1p, rdp, (int32_t)off_d); break;

    /* quadrant 1 */
    case 010: set16(d, OP_ADDI, rd, rd, 0, imm6); break; /* c.addi, c.nop */
    case 011:
        if (rd != 0)
            set16(d, OP_ADDIW, rd, rd, 0, imm6);
        break;
    case 012: set16(d, OP_ADDI, rd, 0, 0, imm6); break; /* c.li */
    case 013:
        if (rd == 2) {
            uint32_t v = field(c, 12, 12) << 9 | field(c, 6, 6) << 4 | field(c, 5, 5) << 6 |
                         field(c, 4, 3) << 7 | field(c, 2, 2) << 5;
            if (v != 0)
                set16(d, OP_ADDI, 2, 2, 0, sext(v, 10));
        } else {
            uint32_t v = field(c, 12, 12) << 17 | field(c, 6, 2) << 12;
            if (v != 0)
                set16(d, OP_LUI, rd, 0, 0, sext(v, 18));
        }
        break;
    case 014:
        switch (field(c, 11, 10)) {
        case 0: set16(d, OP_SRLI, rs1p, rs1p, 0, (int32_t)shamt); break;
        case 1: set16(d, OP_SRAI, rs1p, rs1p, 0, (int32_t)shamt); break;
        case 2: set16(d, OP_ANDI, rs1p, rs1p, 0, imm6); break;
        case 3: {
            static const uint16_t ops[2][4] = {
                { OP_SUB, OP_XOR, OP_OR, OP_AND },
                { OP_SUBW, OP_ADDW, OP_ILLEGAL, OP_ILLEGAL },
            };
            int op = ops[field(c, 12, 12)][field(c, 6, 5)];
            if (op != OP_ILLEGAL)
                set16(d, op, rs1p, rs1p, rdp, 0);
            break;
        }
        }
        break;
    case 015: {
        uint32_t v = field(c, 12, 12) << 11 | field(c, 11, 11) << 4 | field(c, 10, 9) << 8 |
                     field(c, 8, 8) << 10 | field(c, 7, 7) << 6 | field(c, 6, 6) << 7 |
                     field(c, 5, 3) << 1 | field(c, 2, 2) << 5;
        set16(d, OP_JAL, 0, 0, 0, sext(v, 12));
        break;
    }
    case 016: case 017: {
        uint32_t v = field(c, 12, 12) << 8 | field(c, 11, 10) << 3 | field(c, 6, 5) << 6 |
                     field(c, 4, 3) << 1 | field(c, 2, 2) << 5;
        set16(d, field(c, 13, 13) ? OP_BNE : OP_BEQ, 0, rs1p, 0, sext(v, 9));
        break;
    }

    /* quadrant 2 */
    case 020: set16(d, OP_SLLI, rd, rd, 0, (int32_t)shamt); break;
    case 021: set16(d, OP_FLD, rd, 2, 0, (int32_t)off_dsp); break;
    case 022:
        if (rd != 0)
            set16(d, OP_LW, rd, 2, 0,
                  (int32_t)(field(c, 12, 12) << 5 | field(c, 6, 4) << 2 | field(c, 3, 2) << 6));
        break;
    case 023:
        if (rd != 0)
            set16(d, OP_LD, rd, 2, 0, (int32_t)off_dsp);
        break;
    case 024:
        if (!field(c, 12, 12)) {
            if (rs2 == 0) {
                if (rd != 0)
                    set16(d, OP_JALR, 0, rd, 0, 0); /* c.jr */
            } else {
                set16(d, OP_ADD, rd, 0, rs2, 0); /* c.mv */
            }
        } else {
            if (rs2 == 0) {
                if (rd == 0)
                    set16(d, OP_EBREAK, 0, 0, 0, 0);
                else
                    set16(d, OP_JALR, 1, rd, 0, 0); /* c.jalr */
            } else {
                set16(d, OP_ADD, rd, rd, rs2, 0);
            }
        }
        break;
    case 025: set16(d, OP_FSD, 0, 2, rs2, (int32_t)off_sdsp); break;
    case 026: set16(d, OP_SW, 0, 2, rs2, (int32_t)(field(c, 12, 9) << 2 | field(c, 8, 7) << 6)); break;
    case 027: set16(d, OP_SD, 0, 2, rs2, (int32_t)off_sdsp); break;
    default:
        assert(0 && "quadrant 3 is not compressed");
        break;
    }
}

void decode_insn(uint32_t bits, Insn *out)
{
    if ((bits & 3) == 3)
        decode32(bits, out);
    else
        decode16(bits & 0xffff, out);
    out->pc_off = 0;
    out->handler = NULL;
    if (out->rd == 0 && op_only_writes_rd(out->op))
        out->op = OP_NOP;
}

bool op_ends_block(int op)
{
    switch (op) {
    case OP_ILLEGAL: case OP_END:
    case OP_JAL: case OP_JALR:
    case OP_BEQ: case OP_BNE: case OP_BLT: case OP_BGE: case OP_BLTU: case OP_BGEU:
    case OP_FENCE_I: case OP_ECALL: case OP_EBREAK: case OP_MRET: case OP_SRET:
    case OP_WFI: case OP_SFENCE_VMA:
    case OP_CSRRW: case OP_CSRRS: case OP_CSRRC: case OP_CSRRWI: case OP_CSRRSI: case OP_CSRRCI:
        return true;
    default:
        return false;
    }
}

static const char *const op_names[OP_COUNT] = {
#define DECODE_OP_NAME(name) #name,
    DECODE_OPS(DECODE_OP_NAME)
#undef DECODE_OP_NAME
};

const char *op_name(int op)
{
    if (op < 0 || op >= OP_COUNT)
        return "?";
    return op_names[op];
}
