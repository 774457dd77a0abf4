/*
 * test_decode.c - unit tests of the RV64GC decoder (decode.c).
 *
 * The table of valid encodings was produced with the GNU assembler
 * (riscv64-unknown-elf-as -march=rv64gc) from the listed source line, so
 * the expected fields are checked against an independent encoder. It
 * covers every 32-bit operation and every RVC instruction form of RV64GC.
 * The illegal encodings are hand-assembled reserved forms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "machine/cpu/decode.h"

typedef struct Case {
    uint32_t bits;
    int op;
    int rd, rs1, rs2, rs3; /* -1: not checked */
    int64_t imm;
    bool check_imm;
    const char *asm_text;
} Case;

static const Case valid_cases[] = {
    { 0x12345537u, OP_LUI, 10, -1, -1, -1, 305418240, true, "lui a0, 0x12345" },
    { 0xfffff537u, OP_LUI, 10, -1, -1, -1, -4096, true, "lui a0, 0xfffff" },
    { 0x80000297u, OP_AUIPC, 5, -1, -1, -1, -2147483648, true, "auipc t0, 0x80000" },
    { 0x001000efu, OP_JAL, 1, -1, -1, -1, 2048, true, "jal ra, .+2048" },
    { 0xffdff06fu, OP_JAL, 0, -1, -1, -1, -4, true, "jal zero, .-4" },
    { 0x010780e7u, OP_JALR, 1, 15, -1, -1, 16, true, "jalr ra, 16(a5)" },
    { 0x00b50463u, OP_BEQ, -1, 10, 11, -1, 8, true, "beq a0, a1, .+8" },
    { 0x80b51063u, OP_BNE, -1, 10, 11, -1, -4096, true, "bne a0, a1, .-4096" },
    { 0x7e944fe3u, OP_BLT, -1, 8, 9, -1, 4094, true, "blt s0, s1, .+4094" },
    { 0xfe62dfe3u, OP_BGE, -1, 5, 6, -1, -2, true, "bge t0, t1, .-2" },
    { 0x00d66863u, OP_BLTU, -1, 12, 13, -1, 16, true, "bltu a2, a3, .+16" },
    { 0x02f77063u, OP_BGEU, -1, 14, 15, -1, 32, true, "bgeu a4, a5, .+32" },
    { 0xfff10503u, OP_LB, 10, 2, -1, -1, -1, true, "lb a0, -1(sp)" },
    { 0x7ff11503u, OP_LH, 10, 2, -1, -1, 2047, true, "lh a0, 2047(sp)" },
    { 0x80012503u, OP_LW, 10, 2, -1, -1, -2048, true, "lw a0, -2048(sp)" },
    { 0x0089b903u, OP_LD, 18, 19, -1, -1, 8, true, "ld s2, 8(s3)" },
    { 0x0015c503u, OP_LBU, 10, 11, -1, -1, 1, true, "lbu a0, 1(a1)" },
    { 0x0025d503u, OP_LHU, 10, 11, -1, -1, 2, true, "lhu a0, 2(a1)" },
    { 0x0045e503u, OP_LWU, 10, 11, -1, -1, 4, true, "lwu a0, 4(a1)" },
    { 0xfea58fa3u, OP_SB, -1, 11, 10, -1, -1, true, "sb a0, -1(a1)" },
    { 0x00a59123u, OP_SH, -1, 11, 10, -1, 2, true, "sh a0, 2(a1)" },
    { 0x80a5a023u, OP_SW, -1, 11, 10, -1, -2048, true, "sw a0, -2048(a1)" },
    { 0x7fff3fa3u, OP_SD, -1, 30, 31, -1, 2047, true, "sd t6, 2047(t5)" },
    { 0xfff58513u, OP_ADDI, 10, 11, -1, -1, -1, true, "addi a0, a1, -1" },
    { 0x00558013u, OP_NOP, -1, -1, -1, -1, 0, false, "addi zero, a1, 5" },
    { 0x0075a513u, OP_SLTI, 10, 11, -1, -1, 7, true, "slti a0, a1, 7" },
    { 0xfff5b513u, OP_SLTIU, 10, 11, -1, -1, -1, true, "sltiu a0, a1, -1" },
    { 0x7ff5c513u, OP_XORI, 10, 11, -1, -1, 2047, true, "xori a0, a1, 0x7ff" },
    { 0x0035e513u, OP_ORI, 10, 11, -1, -1, 3, true, "ori a0, a1, 3" },
    { 0xff05f513u, OP_ANDI, 10, 11, -1, -1, -16, true, "andi a0, a1, -16" },
    { 0x03f59513u, OP_SLLI, 10, 11, -1, -1, 63, true, "slli a0, a1, 63" },
    { 0x0205d513u, OP_SRLI, 10, 11, -1, -1, 32, true, "srli a0, a1, 32" },
    { 0x4015d513u, OP_SRAI, 10, 11, -1, -1, 1, true, "srai a0, a1, 1" },
    { 0x00c58533u, OP_ADD, 10, 11, 12, -1, 0, false, "add a0, a1, a2" },
    { 0x40c58533u, OP_SUB, 10, 11, 12, -1, 0, false, "sub a0, a1, a2" },
    { 0x00c59533u, OP_SLL, 10, 11, 12, -1, 0, false, "sll a0, a1, a2" },
    { 0x00c5a533u, OP_SLT, 10, 11, 12, -1, 0, false, "slt a0, a1, a2" },
    { 0x00c5b533u, OP_SLTU, 10, 11, 12, -1, 0, false, "sltu a0, a1, a2" },
    { 0x00c5c533u, OP_XOR, 10, 11, 12, -1, 0, false, "xor a0, a1, a2" },
    { 0x00c5d533u, OP_SRL, 10, 11, 12, -1, 0, false, "srl a0, a1, a2" },
    { 0x40c5d533u, OP_SRA, 10, 11, 12, -1, 0, false, "sra a0, a1, a2" },
    { 0x00c5e533u, OP_OR, 10, 11, 12, -1, 0, false, "or a0, a1, a2" },
    { 0x00c5f533u, OP_AND, 10, 11, 12, -1, 0, false, "and a0, a1, a2" },
    { 0xffb5851bu, OP_ADDIW, 10, 11, -1, -1, -5, true, "addiw a0, a1, -5" },
    { 0x01f5951bu, OP_SLLIW, 10, 11, -1, -1, 31, true, "slliw a0, a1, 31" },
    { 0x0035d51bu, OP_SRLIW, 10, 11, -1, -1, 3, true, "srliw a0, a1, 3" },
    { 0x4045d51bu, OP_SRAIW, 10, 11, -1, -1, 4, true, "sraiw a0, a1, 4" },
    { 0x00c5853bu, OP_ADDW, 10, 11, 12, -1, 0, false, "addw a0, a1, a2" },
    { 0x40c5853bu, OP_SUBW, 10, 11, 12, -1, 0, false, "subw a0, a1, a2" },
    { 0x00c5953bu, OP_SLLW, 10, 11, 12, -1, 0, false, "sllw a0, a1, a2" },
    { 0x00c5d53bu, OP_SRLW, 10, 11, 12, -1, 0, false, "srlw a0, a1, a2" },
    { 0x40c5d53bu, OP_SRAW, 10, 11, 12, -1, 0, false, "sraw a0, a1, a2" },
    { 0x02c58533u, OP_MUL, 10, 11, 12, -1, 0, false, "mul a0, a1, a2" },
    { 0x02c59533u, OP_MULH, 10, 11, 12, -1, 0, false, "mulh a0, a1, a2" },
    { 0x02c5a533u, OP_MULHSU, 10, 11, 12, -1, 0, false, "mulhsu a0, a1, a2" },
    { 0x02c5b533u, OP_MULHU, 10, 11, 12, -1, 0, false, "mulhu a0, a1, a2" },
    { 0x02c5c533u, OP_DIV, 10, 11, 12, -1, 0, false, "div a0, a1, a2" },
    { 0x02c5d533u, OP_DIVU, 10, 11, 12, -1, 0, false, "divu a0, a1, a2" },
    { 0x02c5e533u, OP_REM, 10, 11, 12, -1, 0, false, "rem a0, a1, a2" },
    { 0x02c5f533u, OP_REMU, 10, 11, 12, -1, 0, false, "remu a0, a1, a2" },
    { 0x02c5853bu, OP_MULW, 10, 11, 12, -1, 0, false, "mulw a0, a1, a2" },
    { 0x02c5c53bu, OP_DIVW, 10, 11, 12, -1, 0, false, "divw a0, a1, a2" },
    { 0x02c5d53bu, OP_DIVUW, 10, 11, 12, -1, 0, false, "divuw a0, a1, a2" },
    { 0x02c5e53bu, OP_REMW, 10, 11, 12, -1, 0, false, "remw a0, a1, a2" },
    { 0x02c5f53bu, OP_REMUW, 10, 11, 12, -1, 0, false, "remuw a0, a1, a2" },
    { 0x0330000fu, OP_FENCE, -1, -1, -1, -1, 0, false, "fence rw, rw" },
    { 0x0000100fu, OP_FENCE_I, -1, -1, -1, -1, 0, false, "fence.i" },
    { 0x00000073u, OP_ECALL, -1, -1, -1, -1, 0, false, "ecall" },
    { 0x00100073u, OP_EBREAK, -1, -1, -1, -1, 0, false, "ebreak" },
    { 0x30200073u, OP_MRET, -1, -1, -1, -1, 0, false, "mret" },
    { 0x10200073u, OP_SRET, -1, -1, -1, -1, 0, false, "sret" },
    { 0x10500073u, OP_WFI, -1, -1, -1, -1, 0, false, "wfi" },
    { 0x12b50073u, OP_SFENCE_VMA, -1, 10, 11, -1, 0, false, "sfence.vma a0, a1" },
    { 0x30059573u, OP_CSRRW, 10, 11, -1, -1, 768, true, "csrrw a0, mstatus, a1" },
    { 0x34102573u, OP_CSRRS, 10, 0, -1, -1, 833, true, "csrrs a0, mepc, zero" },
    { 0x1005b073u, OP_CSRRC, 0, 11, -1, -1, 256, true, "csrrc zero, sstatus, a1" },
    { 0x7c0fd573u, OP_CSRRWI, 10, 31, -1, -1, 1984, true, "csrrwi a0, 0x7c0, 31" },
    { 0xc000e573u, OP_CSRRSI, 10, 1, -1, -1, 3072, true, "csrrsi a0, cycle, 1" },
    { 0xfff17573u, OP_CSRRCI, 10, 2, -1, -1, 4095, true, "csrrci a0, 0xfff, 2" },
    { 0x1005a52fu, OP_LR_W, 10, 11, -1, -1, 0, false, "lr.w a0, (a1)" },
    { 0x1ec5a52fu, OP_SC_W, 10, 11, 12, -1, 0, false, "sc.w.aqrl a0, a2, (a1)" },
    { 0x08c5a52fu, OP_AMOSWAP_W, 10, 11, 12, -1, 0, false, "amoswap.w a0, a2, (a1)" },
    { 0x00c5a52fu, OP_AMOADD_W, 10, 11, 12, -1, 0, false, "amoadd.w a0, a2, (a1)" },
    { 0x20c5a52fu, OP_AMOXOR_W, 10, 11, 12, -1, 0, false, "amoxor.w a0, a2, (a1)" },
    { 0x60c5a52fu, OP_AMOAND_W, 10, 11, 12, -1, 0, false, "amoand.w a0, a2, (a1)" },
    { 0x40c5a52fu, OP_AMOOR_W, 10, 11, 12, -1, 0, false, "amoor.w a0, a2, (a1)" },
    { 0x80c5a52fu, OP_AMOMIN_W, 10, 11, 12, -1, 0, false, "amomin.w a0, a2, (a1)" },
    { 0xa0c5a52fu, OP_AMOMAX_W, 10, 11, 12, -1, 0, false, "amomax.w a0, a2, (a1)" },
    { 0xc0c5a52fu, OP_AMOMINU_W, 10, 11, 12, -1, 0, false, "amominu.w a0, a2, (a1)" },
    { 0xe0c5a52fu, OP_AMOMAXU_W, 10, 11, 12, -1, 0, false, "amomaxu.w a0, a2, (a1)" },
    { 0x1405b52fu, OP_LR_D, 10, 11, -1, -1, 0, false, "lr.d.aq a0, (a1)" },
    { 0x18c5b52fu, OP_SC_D, 10, 11, 12, -1, 0, false, "sc.d a0, a2, (a1)" },
    { 0x08c5b52fu, OP_AMOSWAP_D, 10, 11, 12, -1, 0, false, "amoswap.d a0, a2, (a1)" },
    { 0x00c5b52fu, OP_AMOADD_D, 10, 11, 12, -1, 0, false, "amoadd.d a0, a2, (a1)" },
    { 0x20c5b52fu, OP_AMOXOR_D, 10, 11, 12, -1, 0, false, "amoxor.d a0, a2, (a1)" },
    { 0x60c5b52fu, OP_AMOAND_D, 10, 11, 12, -1, 0, false, "amoand.d a0, a2, (a1)" },
    { 0x40c5b52fu, OP_AMOOR_D, 10, 11, 12, -1, 0, false, "amoor.d a0, a2, (a1)" },
    { 0x80c5b52fu, OP_AMOMIN_D, 10, 11, 12, -1, 0, false, "amomin.d a0, a2, (a1)" },
    { 0xa0c5b52fu, OP_AMOMAX_D, 10, 11, 12, -1, 0, false, "amomax.d a0, a2, (a1)" },
    { 0xc0c5b52fu, OP_AMOMINU_D, 10, 11, 12, -1, 0, false, "amominu.d a0, a2, (a1)" },
    { 0xe0c5b52fu, OP_AMOMAXU_D, 10, 11, 12, -1, 0, false, "amomaxu.d a0, a2, (a1)" },
    { 0x00c5a507u, OP_FLW, 10, 11, -1, -1, 12, true, "flw fa0, 12(a1)" },
    { 0xff85b507u, OP_FLD, 10, 11, -1, -1, -8, true, "fld fa0, -8(a1)" },
    { 0x00c5a627u, OP_FSW, -1, 11, 12, -1, 12, true, "fsw fa2, 12(a1)" },
    { 0xfec5bc27u, OP_FSD, -1, 11, 12, -1, -8, true, "fsd fa2, -8(a1)" },
    { 0x68c5f543u, OP_FMADD_S, 10, 11, 12, 13, 0, false, "fmadd.s fa0, fa1, fa2, fa3" },
    { 0x68c5f547u, OP_FMSUB_S, 10, 11, 12, 13, 0, false, "fmsub.s fa0, fa1, fa2, fa3" },
    { 0x68c5f54bu, OP_FNMSUB_S, 10, 11, 12, 13, 0, false, "fnmsub.s fa0, fa1, fa2, fa3" },
    { 0x68c5954fu, OP_FNMADD_S, 10, 11, 12, 13, 0, false, "fnmadd.s fa0, fa1, fa2, fa3, rtz" },
    { 0x6ac5f543u, OP_FMADD_D, 10, 11, 12, 13, 0, false, "fmadd.d fa0, fa1, fa2, fa3" },
    { 0x6ac5f547u, OP_FMSUB_D, 10, 11, 12, 13, 0, false, "fmsub.d fa0, fa1, fa2, fa3" },
    { 0x6ac5f54bu, OP_FNMSUB_D, 10, 11, 12, 13, 0, false, "fnmsub.d fa0, fa1, fa2, fa3" },
    { 0x6ac5f54fu, OP_FNMADD_D, 10, 11, 12, 13, 0, false, "fnmadd.d fa0, fa1, fa2, fa3" },
    { 0x00c5f553u, OP_FADD_S, 10, 11, 12, -1, 0, false, "fadd.s fa0, fa1, fa2" },
    { 0x08c58553u, OP_FSUB_S, 10, 11, 12, -1, 0, false, "fsub.s fa0, fa1, fa2, rne" },
    { 0x10c5f553u, OP_FMUL_S, 10, 11, 12, -1, 0, false, "fmul.s fa0, fa1, fa2" },
    { 0x18c5f553u, OP_FDIV_S, 10, 11, 12, -1, 0, false, "fdiv.s fa0, fa1, fa2" },
    { 0x5805f553u, OP_FSQRT_S, 10, 11, -1, -1, 0, false, "fsqrt.s fa0, fa1" },
    { 0x20c58553u, OP_FSGNJ_S, 10, 11, 12, -1, 0, false, "fsgnj.s fa0, fa1, fa2" },
    { 0x20c59553u, OP_FSGNJN_S, 10, 11, 12, -1, 0, false, "fsgnjn.s fa0, fa1, fa2" },
    { 0x20c5a553u, OP_FSGNJX_S, 10, 11, 12, -1, 0, false, "fsgnjx.s fa0, fa1, fa2" },
    { 0x28c58553u, OP_FMIN_S, 10, 11, 12, -1, 0, false, "fmin.s fa0, fa1, fa2" },
    { 0x28c59553u, OP_FMAX_S, 10, 11, 12, -1, 0, false, "fmax.s fa0, fa1, fa2" },
    { 0xc0059553u, OP_FCVT_W_S, 10, 11, -1, -1, 0, false, "fcvt.w.s a0, fa1, rtz" },
    { 0xc015f553u, OP_FCVT_WU_S, 10, 11, -1, -1, 0, false, "fcvt.wu.s a0, fa1" },
    { 0xc025f553u, OP_FCVT_L_S, 10, 11, -1, -1, 0, false, "fcvt.l.s a0, fa1" },
    { 0xc035f553u, OP_FCVT_LU_S, 10, 11, -1, -1, 0, false, "fcvt.lu.s a0, fa1" },
    { 0xa0c5a553u, OP_FEQ_S, 10, 11, 12, -1, 0, false, "feq.s a0, fa1, fa2" },
    { 0xa0c59553u, OP_FLT_S, 10, 11, 12, -1, 0, false, "flt.s a0, fa1, fa2" },
    { 0xa0c58553u, OP_FLE_S, 10, 11, 12, -1, 0, false, "fle.s a0, fa1, fa2" },
    { 0xe0059553u, OP_FCLASS_S, 10, 11, -1, -1, 0, false, "fclass.s a0, fa1" },
    { 0xd005f553u, OP_FCVT_S_W, 10, 11, -1, -1, 0, false, "fcvt.s.w fa0, a1" },
    { 0xd015f553u, OP_FCVT_S_WU, 10, 11, -1, -1, 0, false, "fcvt.s.wu fa0, a1" },
    { 0xd025f553u, OP_FCVT_S_L, 10, 11, -1, -1, 0, false, "fcvt.s.l fa0, a1" },
    { 0xd035f553u, OP_FCVT_S_LU, 10, 11, -1, -1, 0, false, "fcvt.s.lu fa0, a1" },
    { 0x02c5f553u, OP_FADD_D, 10, 11, 12, -1, 0, false, "fadd.d fa0, fa1, fa2" },
    { 0x0ac58553u, OP_FSUB_D, 10, 11, 12, -1, 0, false, "fsub.d fa0, fa1, fa2, rne" },
    { 0x12c5f553u, OP_FMUL_D, 10, 11, 12, -1, 0, false, "fmul.d fa0, fa1, fa2" },
    { 0x1ac5f553u, OP_FDIV_D, 10, 11, 12, -1, 0, false, "fdiv.d fa0, fa1, fa2" },
    { 0x5a05f553u, OP_FSQRT_D, 10, 11, -1, -1, 0, false, "fsqrt.d fa0, fa1" },
    { 0x22c58553u, OP_FSGNJ_D, 10, 11, 12, -1, 0, false, "fsgnj.d fa0, fa1, fa2" },
    { 0x22c59553u, OP_FSGNJN_D, 10, 11, 12, -1, 0, false, "fsgnjn.d fa0, fa1, fa2" },
    { 0x22c5a553u, OP_FSGNJX_D, 10, 11, 12, -1, 0, false, "fsgnjx.d fa0, fa1, fa2" },
    { 0x2ac58553u, OP_FMIN_D, 10, 11, 12, -1, 0, false, "fmin.d fa0, fa1, fa2" },
    { 0x2ac59553u, OP_FMAX_D, 10, 11, 12, -1, 0, false, "fmax.d fa0, fa1, fa2" },
    { 0xc2059553u, OP_FCVT_W_D, 10, 11, -1, -1, 0, false, "fcvt.w.d a0, fa1, rtz" },
    { 0xc215f553u, OP_FCVT_WU_D, 10, 11, -1, -1, 0, false, "fcvt.wu.d a0, fa1" },
    { 0xc225f553u, OP_FCVT_L_D, 10, 11, -1, -1, 0, false, "fcvt.l.d a0, fa1" },
    { 0xc235f553u, OP_FCVT_LU_D, 10, 11, -1, -1, 0, false, "fcvt.lu.d a0, fa1" },
    { 0xa2c5a553u, OP_FEQ_D, 10, 11, 12, -1, 0, false, "feq.d a0, fa1, fa2" },
    { 0xa2c59553u, OP_FLT_D, 10, 11, 12, -1, 0, false, "flt.d a0, fa1, fa2" },
    { 0xa2c58553u, OP_FLE_D, 10, 11, 12, -1, 0, false, "fle.d a0, fa1, fa2" },
    { 0xe2059553u, OP_FCLASS_D, 10, 11, -1, -1, 0, false, "fclass.d a0, fa1" },
    { 0xd2058553u, OP_FCVT_D_W, 10, 11, -1, -1, 0, false, "fcvt.d.w fa0, a1" },
    { 0xd2158553u, OP_FCVT_D_WU, 10, 11, -1, -1, 0, false, "fcvt.d.wu fa0, a1" },
    { 0xd225f553u, OP_FCVT_D_L, 10, 11, -1, -1, 0, false, "fcvt.d.l fa0, a1" },
    { 0xd235f553u, OP_FCVT_D_LU, 10, 11, -1, -1, 0, false, "fcvt.d.lu fa0, a1" },
    { 0xe0058553u, OP_FMV_X_W, 10, 11, -1, -1, 0, false, "fmv.x.w a0, fa1" },
    { 0xf0058553u, OP_FMV_W_X, 10, 11, -1, -1, 0, false, "fmv.w.x fa0, a1" },
    { 0xe2058553u, OP_FMV_X_D, 10, 11, -1, -1, 0, false, "fmv.x.d a0, fa1" },
    { 0xf2058553u, OP_FMV_D_X, 10, 11, -1, -1, 0, false, "fmv.d.x fa0, a1" },
    { 0x4015f553u, OP_FCVT_S_D, 10, 11, -1, -1, 0, false, "fcvt.s.d fa0, fa1" },
    { 0x42058553u, OP_FCVT_D_S, 10, 11, -1, -1, 0, false, "fcvt.d.s fa0, fa1" },
    { 0x00001fe8u, OP_ADDI, 10, 2, -1, -1, 1020, true, "c.addi4spn a0, sp, 1020" },
    { 0x00000044u, OP_ADDI, 9, 2, -1, -1, 4, true, "c.addi4spn s1, sp, 4" },
    { 0x00003de8u, OP_FLD, 10, 11, -1, -1, 248, true, "c.fld fa0, 248(a1)" },
    { 0x00005de8u, OP_LW, 10, 11, -1, -1, 124, true, "c.lw a0, 124(a1)" },
    { 0x000043c0u, OP_LW, 8, 15, -1, -1, 4, true, "c.lw s0, 4(a5)" },
    { 0x00007de8u, OP_LD, 10, 11, -1, -1, 248, true, "c.ld a0, 248(a1)" },
    { 0x0000a590u, OP_FSD, -1, 11, 12, -1, 8, true, "c.fsd fa2, 8(a1)" },
    { 0x0000c1b0u, OP_SW, -1, 11, 12, -1, 64, true, "c.sw a2, 64(a1)" },
    { 0x0000e1d0u, OP_SD, -1, 11, 12, -1, 128, true, "c.sd a2, 128(a1)" },
    { 0x00000001u, OP_NOP, -1, -1, -1, -1, 0, false, "c.nop" },
    { 0x00001501u, OP_ADDI, 10, 10, -1, -1, -32, true, "c.addi a0, -32" },
    { 0x00000ffdu, OP_ADDI, 31, 31, -1, -1, 31, true, "c.addi t6, 31" },
    { 0x0000357du, OP_ADDIW, 10, 10, -1, -1, -1, true, "c.addiw a0, -1" },
    { 0x00005781u, OP_ADDI, 15, 0, -1, -1, -32, true, "c.li a5, -32" },
    { 0x00007101u, OP_ADDI, 2, 2, -1, -1, -512, true, "c.addi16sp sp, -512" },
    { 0x0000617du, OP_ADDI, 2, 2, -1, -1, 496, true, "c.addi16sp sp, 496" },
    { 0x0000657du, OP_LUI, 10, -1, -1, -1, 126976, true, "c.lui a0, 0x1f" },
    { 0x00007501u, OP_LUI, 10, -1, -1, -1, -131072, true, "c.lui a0, 0xfffe0" },
    { 0x0000917du, OP_SRLI, 10, 10, -1, -1, 63, true, "c.srli a0, 63" },
    { 0x00009481u, OP_SRAI, 9, 9, -1, -1, 32, true, "c.srai s1, 32" },
    { 0x0000997du, OP_ANDI, 10, 10, -1, -1, -1, true, "c.andi a0, -1" },
    { 0x00008d0du, OP_SUB, 10, 10, 11, -1, 0, false, "c.sub a0, a1" },
    { 0x00008d2du, OP_XOR, 10, 10, 11, -1, 0, false, "c.xor a0, a1" },
    { 0x00008d4du, OP_OR, 10, 10, 11, -1, 0, false, "c.or a0, a1" },
    { 0x00008d6du, OP_AND, 10, 10, 11, -1, 0, false, "c.and a0, a1" },
    { 0x00009d0du, OP_SUBW, 10, 10, 11, -1, 0, false, "c.subw a0, a1" },
    { 0x00009d2du, OP_ADDW, 10, 10, 11, -1, 0, false, "c.addw a0, a1" },
    { 0x0000b001u, OP_JAL, 0, -1, -1, -1, -2048, true, "c.j .-2048" },
    { 0x0000affdu, OP_JAL, 0, -1, -1, -1, 2046, true, "c.j .+2046" },
    { 0x0000d101u, OP_BEQ, -1, 10, 0, -1, -256, true, "c.beqz a0, .-256" },
    { 0x0000ecfdu, OP_BNE, -1, 9, 0, -1, 254, true, "c.bnez s1, .+254" },
    { 0x0000157eu, OP_SLLI, 10, 10, -1, -1, 63, true, "c.slli a0, 63" },
    { 0x0000357eu, OP_FLD, 10, 2, -1, -1, 504, true, "c.fldsp fa0, 504(sp)" },
    { 0x0000557eu, OP_LW, 10, 2, -1, -1, 252, true, "c.lwsp a0, 252(sp)" },
    { 0x000070feu, OP_LD, 1, 2, -1, -1, 504, true, "c.ldsp ra, 504(sp)" },
    { 0x00008082u, OP_JALR, 0, 1, -1, -1, 0, true, "c.jr ra" },
    { 0x0000852eu, OP_ADD, 10, 0, 11, -1, 0, false, "c.mv a0, a1" },
    { 0x00009002u, OP_EBREAK, -1, -1, -1, -1, 0, false, "c.ebreak" },
    { 0x00009782u, OP_JALR, 1, 15, -1, -1, 0, true, "c.jalr a5" },
    { 0x0000952eu, OP_ADD, 10, 10, 11, -1, 0, false, "c.add a0, a1" },
    { 0x0000bfaau, OP_FSD, -1, 2, 10, -1, 504, true, "c.fsdsp fa0, 504(sp)" },
    { 0x0000dfaau, OP_SW, -1, 2, 10, -1, 252, true, "c.swsp a0, 252(sp)" },
    { 0x0000ff86u, OP_SD, -1, 2, 1, -1, 504, true, "c.sdsp ra, 504(sp)" },
};

static void check_case(const Case *c)
{
    Insn d;
    decode_insn(c->bits, &d);
    if (d.op != c->op) {
        print_error("%s (0x%08x): op %s, expected %s\n", c->asm_text, c->bits, op_name(d.op), op_name(c->op));
        fail();
    }
    if ((c->rd >= 0 && d.rd != c->rd) || (c->rs1 >= 0 && d.rs1 != c->rs1) ||
        (c->rs2 >= 0 && d.rs2 != c->rs2) || (c->rs3 >= 0 && d.rs3 != c->rs3)) {
        print_error("%s (0x%08x): rd %d rs1 %d rs2 %d rs3 %d\n", c->asm_text, c->bits, d.rd, d.rs1, d.rs2, d.rs3);
        fail();
    }
    if (c->check_imm && d.imm != c->imm) {
        print_error("%s (0x%08x): imm %d, expected %lld\n", c->asm_text, c->bits, d.imm, (long long)c->imm);
        fail();
    }
    uint32_t expect_raw = (c->bits & 3) == 3 ? c->bits : (c->bits & 0xffff);
    assert_int_equal(d.raw, expect_raw);
}

static void test_valid_encodings(void **state)
{
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++)
        check_case(&valid_cases[i]);
}

/* Every operation the decoder can produce appears in the table, so a
 * missing or misrouted op shows up as a failure here. */
static void test_table_covers_all_ops(void **state)
{
    bool seen[OP_COUNT] = { false };
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++)
        seen[valid_cases[i].op] = true;
    for (int op = 0; op < OP_COUNT; op++) {
        if (op == OP_ILLEGAL || op == OP_END)
            continue;
        if (!seen[op]) {
            print_error("no test case for %s\n", op_name(op));
            fail();
        }
    }
}

static const struct {
    uint32_t bits;
    const char *why;
} illegal_cases[] = {
    { 0x00000000u, "all-zero word (c.addi4spn, imm 0)" },
    { 0x0000u, "all-zero halfword" },
    { 0xffffffffu, "all ones" },
    { 0x0004u, "c.addi4spn with imm 0, rd' != 0" },
    { 0x8000u, "quadrant 0 funct3 100 (reserved)" },
    { 0x2001u, "c.addiw rd=0" },
    { 0x6101u, "c.addi16sp imm 0" },
    { 0x6501u, "c.lui imm 0" },
    { 0x9c41u, "c.subw/c.addw reserved slot (funct2 10)" },
    { 0x9c61u, "c.subw/c.addw reserved slot (funct2 11)" },
    { 0x4002u, "c.lwsp rd=0" },
    { 0x6002u, "c.ldsp rd=0" },
    { 0x8002u, "c.jr rs1=0" },
    { 0x0205151bu, "slliw with shamt[5]=1" },
    { 0x0205551bu, "srliw with shamt[5]=1" },
    { 0x8005151bu, "slliw with bad funct7" },
    { 0x80051513u, "slli with bad funct6" },
    { 0x1015a52fu, "lr.w with rs2 != 0" },
    { 0x2800202fu, "AMO funct5 00101" },
    { 0x0000002fu, "AMO funct3 000" },
    { 0x00c5d553u, "fadd.s rm=5" },
    { 0x00c5e553u, "fadd.s rm=6" },
    { 0x04c58553u, "fadd.h (fmt 2)" },
    { 0x06c58553u, "fadd.q (fmt 3)" },
    { 0x5805d553u, "fsqrt.s rm=5" },
    { 0x58158553u, "fsqrt.s rs2 != 0" },
    { 0x20c5b553u, "fsgnj.s funct3 3" },
    { 0xc0458553u, "fcvt.w.s rs2=4" },
    { 0xe0159553u, "fmv.x.w rs2 != 0" },
    { 0x40258553u, "fcvt.s.d with rs2=2" },
    { 0x5205d543u, "fmadd.s rm=5" },
    { 0x0000200fu, "MISC-MEM funct3 2" },
    { 0x00004073u, "SYSTEM funct3 4" },
    { 0x000000f3u, "ecall with rd != 0" },
    { 0x30208073u, "mret with rs1 != 0" },
    { 0x12000073u | (1u << 7), "sfence.vma with rd != 0" },
    { 0x00007003u, "load funct3 7" },
    { 0x00004023u, "store funct3 4" },
    { 0x00002063u, "branch funct3 2" },
    { 0x00001067u, "jalr funct3 1" },
    { 0x40001033u, "OP funct7 0x20 funct3 1" },
    { 0x02001033u | (1u << 26), "OP funct7 0x21" },
    { 0x0200103bu, "OP-32 M funct3 1" },
    { 0x00001007u, "LOAD-FP funct3 1" },
    { 0x0000000bu, "custom-0 opcode" },
    { 0x0000001fu, "48-bit encoding prefix" },
};

static void test_illegal_encodings(void **state)
{
    for (size_t i = 0; i < sizeof illegal_cases / sizeof illegal_cases[0]; i++) {
        Insn d;
        uint32_t bits = illegal_cases[i].bits;
        decode_insn(bits, &d);
        if (d.op != OP_ILLEGAL) {
            print_error("0x%08x (%s) decoded as %s\n", bits, illegal_cases[i].why, op_name(d.op));
            fail();
        }
        /* tval for an illegal instruction: 16 bits for a compressed one */
        assert_int_equal(d.raw, (bits & 3) == 3 ? bits : (bits & 0xffff));
    }
}

static void test_compressed_ignores_upper_half(void **state)
{
    Insn a, b;
    decode_insn(0x852eu, &a);              /* c.mv a0, a1 */
    decode_insn(0xdead0000u | 0x852eu, &b);
    assert_int_equal(a.op, b.op);
    assert_int_equal(a.raw, b.raw);
    assert_int_equal(b.raw, 0x852e);
    decode_insn(0xffff4002u, &b);          /* c.lwsp x0 -> illegal */
    assert_int_equal(b.op, OP_ILLEGAL);
    assert_int_equal(b.raw, 0x4002);
}

static void test_x0_destination_is_nop(void **state)
{
    Insn d;
    decode_insn(0x00b50033u, &d); /* add zero, a0, a1 */
    assert_int_equal(d.op, OP_NOP);
    decode_insn(0x00000037u | (5u << 12), &d); /* lui zero, 5 */
    assert_int_equal(d.op, OP_NOP);
    decode_insn(0x4501u, &d); /* c.li a0, 0: a real write */
    assert_int_equal(d.op, OP_ADDI);
    /* loads to x0 keep their side effects (faults, MMIO) */
    decode_insn(0x00052003u, &d); /* lw zero, 0(a0) */
    assert_int_equal(d.op, OP_LW);
    assert_int_equal(d.rd, 0);
    /* so do CSR reads and jumps */
    decode_insn(0x30002073u, &d); /* csrrs zero, mstatus, zero */
    assert_int_equal(d.op, OP_CSRRS);
    decode_insn(0x0000006fu, &d); /* jal zero, . */
    assert_int_equal(d.op, OP_JAL);
}

static void test_block_enders(void **state)
{
    static const int enders[] = {
        OP_ILLEGAL, OP_END, OP_JAL, OP_JALR, OP_BEQ, OP_BNE, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU,
        OP_FENCE_I, OP_ECALL, OP_EBREAK, OP_MRET, OP_SRET, OP_WFI, OP_SFENCE_VMA,
        OP_CSRRW, OP_CSRRS, OP_CSRRC, OP_CSRRWI, OP_CSRRSI, OP_CSRRCI,
    };
    int count = 0;
    for (int op = 0; op < OP_COUNT; op++)
        count += op_ends_block(op);
    assert_int_equal(count, (int)(sizeof enders / sizeof enders[0]));
    for (size_t i = 0; i < sizeof enders / sizeof enders[0]; i++)
        assert_true(op_ends_block(enders[i]));
    assert_false(op_ends_block(OP_ADD));
    assert_false(op_ends_block(OP_SW));
    assert_false(op_ends_block(OP_FENCE));
    assert_false(op_ends_block(OP_AMOADD_W));
}

static void test_op_names(void **state)
{
    assert_string_equal(op_name(OP_ADDI), "ADDI");
    assert_string_equal(op_name(OP_FCVT_D_S), "FCVT_D_S");
    assert_string_equal(op_name(-1), "?");
    assert_string_equal(op_name(OP_COUNT), "?");
}

/* Exhaustive over the 16-bit space and a deterministic sample of the
 * 32-bit one: the decoder never produces out-of-range fields. */
static void test_fields_in_range(void **state)
{
    Insn d;
    for (uint32_t c = 0; c < 0x10000; c++) {
        if ((c & 3) == 3)
            continue;
        decode_insn(c, &d);
        assert_true(d.op < OP_COUNT);
        assert_true(d.rd < 32 && d.rs1 < 32 && d.rs2 < 32 && d.rs3 < 32);
        assert_int_equal(d.raw, c);
    }
    uint32_t s = 0x12345678u;
    for (int i = 0; i < 1000000; i++) {
        s = s * 1664525u + 1013904223u;
        uint32_t bits = s | 3;
        decode_insn(bits, &d);
        assert_true(d.op < OP_COUNT);
        assert_true(d.rd < 32 && d.rs1 < 32 && d.rs2 < 32 && d.rs3 < 32);
        if (d.op >= OP_CSRRW && d.op <= OP_CSRRCI)
            assert_int_equal(d.imm, (int32_t)(bits >> 20));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_encodings),
        cmocka_unit_test(test_table_covers_all_ops),
        cmocka_unit_test(test_illegal_encodings),
        cmocka_unit_test(test_compressed_ignores_upper_half),
        cmocka_unit_test(test_x0_destination_is_nop),
        cmocka_unit_test(test_block_enders),
        cmocka_unit_test(test_op_names),
        cmocka_unit_test(test_fields_in_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
