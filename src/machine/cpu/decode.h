/*
 * decode.h - RV64GC instruction decoder: turns 16- and 32-bit encodings
 * into the compact `Insn` records that exec.c runs.
 *
 * Compressed instructions are expanded to the operation of their 32-bit
 * equivalent (c.addi -> OP_ADDI ...); `raw` keeps the original bits (16
 * significant bits for a compressed instruction) because an illegal
 * instruction trap reports them in tval.
 *
 * Invariants:
 *  - decode_insn() is a pure function of the instruction bits.
 *  - Every reserved or unsupported encoding decodes to OP_ILLEGAL.
 *  - An integer op whose only effect is writing rd decodes to OP_NOP when
 *    rd is x0, so exec.c never writes x0 for those ops.
 *  - sizeof(Insn) == 24: blocks are arrays of these and stay cache dense.
 */
#ifndef RRVM_DECODE_H
#define RRVM_DECODE_H

#include <stdbool.h>
#include <stdint.h>

/* X-macro list of operations. Keep the groups: exec.c and the unit test
 * rely on OP_FP_FIRST..OP_FP_LAST covering exactly the F/D computational
 * ops that fpu_exec() implements. */
#define DECODE_OPS(X) \
    X(ILLEGAL) X(NOP) X(END) \
    X(LUI) X(AUIPC) X(JAL) X(JALR) \
    X(BEQ) X(BNE) X(BLT) X(BGE) X(BLTU) X(BGEU) \
    X(LB) X(LH) X(LW) X(LD) X(LBU) X(LHU) X(LWU) \
    X(SB) X(SH) X(SW) X(SD) \
    X(ADDI) X(SLTI) X(SLTIU) X(XORI) X(ORI) X(ANDI) X(SLLI) X(SRLI) X(SRAI) \
    X(ADD) X(SUB) X(SLL) X(SLT) X(SLTU) X(XOR) X(SRL) X(SRA) X(OR) X(AND) \
    X(ADDIW) X(SLLIW) X(SRLIW) X(SRAIW) \
    X(ADDW) X(SUBW) X(SLLW) X(SRLW) X(SRAW) \
    X(MUL) X(MULH) X(MULHSU) X(MULHU) X(DIV) X(DIVU) X(REM) X(REMU) \
    X(MULW) X(DIVW) X(DIVUW) X(REMW) X(REMUW) \
    X(FENCE) X(FENCE_I) X(ECALL) X(EBREAK) X(MRET) X(SRET) X(WFI) X(SFENCE_VMA) \
    X(CSRRW) X(CSRRS) X(CSRRC) X(CSRRWI) X(CSRRSI) X(CSRRCI) \
    X(LR_W) X(SC_W) X(AMOSWAP_W) X(AMOADD_W) X(AMOXOR_W) X(AMOAND_W) X(AMOOR_W) \
    X(AMOMIN_W) X(AMOMAX_W) X(AMOMINU_W) X(AMOMAXU_W) \
    X(LR_D) X(SC_D) X(AMOSWAP_D) X(AMOADD_D) X(AMOXOR_D) X(AMOAND_D) X(AMOOR_D) \
    X(AMOMIN_D) X(AMOMAX_D) X(AMOMINU_D) X(AMOMAXU_D) \
    X(FLW) X(FLD) X(FSW) X(FSD) \
    X(FMADD_S) X(FMSUB_S) X(FNMSUB_S) X(FNMADD_S) \
    X(FADD_S) X(FSUB_S) X(FMUL_S) X(FDIV_S) X(FSQRT_S) \
    X(FSGNJ_S) X(FSGNJN_S) X(FSGNJX_S) X(FMIN_S) X(FMAX_S) \
    X(FCVT_W_S) X(FCVT_WU_S) X(FCVT_L_S) X(FCVT_LU_S) \
    X(FMV_X_W) X(FEQ_S) X(FLT_S) X(FLE_S) X(FCLASS_S) \
    X(FCVT_S_W) X(FCVT_S_WU) X(FCVT_S_L) X(FCVT_S_LU) X(FMV_W_X) \
    X(FMADD_D) X(FMSUB_D) X(FNMSUB_D) X(FNMADD_D) \
    X(FADD_D) X(FSUB_D) X(FMUL_D) X(FDIV_D) X(FSQRT_D) \
    X(FSGNJ_D) X(FSGNJN_D) X(FSGNJX_D) X(FMIN_D) X(FMAX_D) \
    X(FCVT_W_D) X(FCVT_WU_D) X(FCVT_L_D) X(FCVT_LU_D) \
    X(FMV_X_D) X(FEQ_D) X(FLT_D) X(FLE_D) X(FCLASS_D) \
    X(FCVT_D_W) X(FCVT_D_WU) X(FCVT_D_L) X(FCVT_D_LU) X(FMV_D_X) \
    X(FCVT_S_D) X(FCVT_D_S)

#define DECODE_OP_ENUM(name) OP_##name,
typedef enum Op { DECODE_OPS(DECODE_OP_ENUM) OP_COUNT } Op;
#undef DECODE_OP_ENUM

#define OP_FP_FIRST OP_FMADD_S
#define OP_FP_LAST OP_FCVT_D_S

/* One decoded instruction. `imm` is the sign-extended immediate (branch and
 * jump offsets relative to the instruction's pc, the shift amount for
 * shifts, the CSR number for CSR ops). pc_off is the offset of the
 * instruction from the start of its block; it and `handler` are filled in
 * by the block builder, not by the decoder. */
typedef struct Insn {
    const void *handler; /* exec.c's code for `op`; NULL from the decoder */
    uint16_t op;
    uint8_t rd, rs1, rs2, rs3;
    uint16_t pc_off;
    int32_t imm;
    uint32_t raw;
} Insn;

/* Length in bytes of the instruction whose low 16 bits are `lo`. */
static inline int insn_length(uint32_t lo) { return (lo & 3) == 3 ? 4 : 2; }

/* Decode one instruction. For a compressed instruction only the low 16
 * bits of `bits` are looked at. Fills every field but pc_off. */
void decode_insn(uint32_t bits, Insn *out);

/* True if the operation must be the last of a decoded block: control
 * transfer, system, CSR and fence.i instructions, and OP_ILLEGAL. */
bool op_ends_block(int op);

/* True for the integer ops whose only architectural effect is writing
 * x[rd] (lui, auipc and the I and M computational ops). */
bool op_only_writes_rd(int op);

/* The operation's name as spelled in the enum ("ADDI", "FCVT_D_S"), for
 * tests and debugging output; "?" when out of range. */
const char *op_name(int op);

/* Execute one F/D computational instruction (OP_FP_FIRST..OP_FP_LAST),
 * implemented in fpu_ops.c. Returns false when the instruction is illegal
 * in the current state (mstatus.FS off, or a dynamic rounding mode with
 * an invalid frm); the hart is then unchanged. */
struct Hart;
bool fpu_exec(struct Hart *h, const Insn *in);

#endif
