/*
 * fpu_ops.c - semantics of the F and D computational instructions
 * (everything in OP_FP_FIRST..OP_FP_LAST; FP loads and stores live in
 * exec.c with the other memory accesses).
 *
 * All arithmetic goes through softfp.h, never the host FPU, so results and
 * flags are the same on every host.
 *
 * Invariants kept:
 *  - A single-precision operand read from an f register that is not
 *    properly NaN-boxed (upper 32 bits not all ones) reads as the canonical
 *    NaN; fmv.x.w reads the raw low bits, as the spec says.
 *  - A single-precision result is written NaN-boxed.
 *  - Writing an f register, or raising a flag not yet set in fflags, sets
 *    mstatus.FS to Dirty (SD is computed by csr.c on read, never stored).
 *  - An illegal instruction (FS off, invalid dynamic rounding mode) changes
 *    nothing.
 */
#include <assert.h>

#include "machine/cpu/decode.h"
#include "machine/cpu/hart.h"
#include "machine/cpu/softfp.h"

static inline sf32 unbox_s(uint64_t v)
{
    return (v >> 32) == 0xffffffffu ? (sf32)v : F32_CANONICAL_NAN;
}

static inline void write_s(Hart *h, int rd, sf32 v)
{
    h->f[rd] = 0xffffffff00000000ull | v;
    h->mstatus |= MSTATUS_FS_DIRTY;
}

static inline void write_d(Hart *h, int rd, sf64 v)
{
    h->f[rd] = v;
    h->mstatus |= MSTATUS_FS_DIRTY;
}

static inline void write_x(Hart *h, int rd, uint64_t v)
{
    h->x[rd] = v;
    h->x[0] = 0;
}

static bool op_uses_rm(int op)
{
    switch (op) {
    case OP_FMADD_S: case OP_FMSUB_S: case OP_FNMSUB_S: case OP_FNMADD_S:
    case OP_FADD_S: case OP_FSUB_S: case OP_FMUL_S: case OP_FDIV_S: case OP_FSQRT_S:
    case OP_FCVT_W_S: case OP_FCVT_WU_S: case OP_FCVT_L_S: case OP_FCVT_LU_S:
    case OP_FCVT_S_W: case OP_FCVT_S_WU: case OP_FCVT_S_L: case OP_FCVT_S_LU:
    case OP_FMADD_D: case OP_FMSUB_D: case OP_FNMSUB_D: case OP_FNMADD_D:
    case OP_FADD_D: case OP_FSUB_D: case OP_FMUL_D: case OP_FDIV_D: case OP_FSQRT_D:
    case OP_FCVT_W_D: case OP_FCVT_WU_D: case OP_FCVT_L_D: case OP_FCVT_LU_D:
    case OP_FCVT_D_W: case OP_FCVT_D_WU: case OP_FCVT_D_L: case OP_FCVT_D_LU:
    case OP_FCVT_S_D: case OP_FCVT_D_S:
        return true;
    default:
        return false;
    }
}

#define SIGN32 0x80000000u
#define SIGN64 0x8000000000000000ull

bool fpu_exec(Hart *h, const Insn *in)
{
    if ((h->mstatus & MSTATUS_FS) == 0)
        return false;

    int rm = 0;
    if (op_uses_rm(in->op)) {
        rm = (int)((in->raw >> 12) & 7);
        if (rm == RM_DYN)
            rm = (int)h->frm;
        if (rm > RM_RMM)
            return false;
    }

    const uint64_t *f = h->f;
    uint64_t xs1 = h->x[in->rs1];
    int rd = in->rd;
    /* operands in both widths; unused ones cost a few register moves */
    sf32 s1 = unbox_s(f[in->rs1]), s2 = unbox_s(f[in->rs2]), s3 = unbox_s(f[in->rs3]);
    sf64 d1 = f[in->rs1], d2 = f[in->rs2], d3 = f[in->rs3];
    uint32_t flags = 0;

    switch (in->op) {
    /* single precision */
    case OP_FMADD_S: write_s(h, rd, f32_muladd(s1, s2, s3, false, false, rm, &flags)); break;
    case OP_FMSUB_S: write_s(h, rd, f32_muladd(s1, s2, s3, false, true, rm, &flags)); break;
    case OP_FNMSUB_S: write_s(h, rd, f32_muladd(s1, s2, s3, true, false, rm, &flags)); break;
    case OP_FNMADD_S: write_s(h, rd, f32_muladd(s1, s2, s3, true, true, rm, &flags)); break;
    case OP_FADD_S: write_s(h, rd, f32_add(s1, s2, rm, &flags)); break;
    case OP_FSUB_S: write_s(h, rd, f32_sub(s1, s2, rm, &flags)); break;
    case OP_FMUL_S: write_s(h, rd, f32_mul(s1, s2, rm, &flags)); break;
    case OP_FDIV_S: write_s(h, rd, f32_div(s1, s2, rm, &flags)); break;
    case OP_FSQRT_S: write_s(h, rd, f32_sqrt(s1, rm, &flags)); break;
    case OP_FSGNJ_S: write_s(h, rd, (s1 & ~SIGN32) | (s2 & SIGN32)); break;
    case OP_FSGNJN_S: write_s(h, rd, (s1 & ~SIGN32) | (~s2 & SIGN32)); break;
    case OP_FSGNJX_S: write_s(h, rd, s1 ^ (s2 & SIGN32)); break;
    case OP_FMIN_S: write_s(h, rd, f32_min(s1, s2, &flags)); break;
    case OP_FMAX_S: write_s(h, rd, f32_max(s1, s2, &flags)); break;
    case OP_FCVT_W_S: write_x(h, rd, (uint64_t)(int64_t)f32_to_i32(s1, rm, &flags)); break;
    case OP_FCVT_WU_S: write_x(h, rd, (uint64_t)(int64_t)(int32_t)f32_to_u32(s1, rm, &flags)); break;
    case OP_FCVT_L_S: write_x(h, rd, (uint64_t)f32_to_i64(s1, rm, &flags)); break;
    case OP_FCVT_LU_S: write_x(h, rd, f32_to_u64(s1, rm, &flags)); break;
    case OP_FMV_X_W: write_x(h, rd, (uint64_t)(int64_t)(int32_t)(uint32_t)f[in->rs1]); break;
    case OP_FEQ_S: write_x(h, rd, f32_eq(s1, s2, &flags)); break;
    case OP_FLT_S: write_x(h, rd, f32_lt(s1, s2, &flags)); break;
    case OP_FLE_S: write_x(h, rd, f32_le(s1, s2, &flags)); break;
    case OP_FCLASS_S: write_x(h, rd, f32_classify(s1)); break;
    case OP_FCVT_S_W: write_s(h, rd, i32_to_f32((int32_t)xs1, rm, &flags)); break;
    case OP_FCVT_S_WU: write_s(h, rd, u32_to_f32((uint32_t)xs1, rm, &flags)); break;
    case OP_FCVT_S_L: write_s(h, rd, i64_to_f32((int64_t)xs1, rm, &flags)); break;
    case OP_FCVT_S_LU: write_s(h, rd, u64_to_f32(xs1, rm, &flags)); break;
    case OP_FMV_W_X: write_s(h, rd, (uint32_t)xs1); break;

    /* double precision */
    case OP_FMADD_D: write_d(h, rd, f64_muladd(d1, d2, d3, false, false, rm, &flags)); break;
    case OP_FMSUB_D: write_d(h, rd, f64_muladd(d1, d2, d3, false, true, rm, &flags)); break;
    case OP_FNMSUB_D: write_d(h, rd, f64_muladd(d1, d2, d3, true, false, rm, &flags)); break;
    case OP_FNMADD_D: write_d(h, rd, f64_muladd(d1, d2, d3, true, true, rm, &flags)); break;
    case OP_FADD_D: write_d(h, rd, f64_add(d1, d2, rm, &flags)); break;
    case OP_FSUB_D: write_d(h, rd, f64_sub(d1, d2, rm, &flags)); break;
    case OP_FMUL_D: write_d(h, rd, f64_mul(d1, d2, rm, &flags)); break;
    case OP_FDIV_D: write_d(h, rd, f64_div(d1, d2, rm, &flags)); break;
    case OP_FSQRT_D: write_d(h, rd, f64_sqrt(d1, rm, &flags)); break;
    case OP_FSGNJ_D: write_d(h, rd, (d1 & ~SIGN64) | (d2 & SIGN64)); break;
    case OP_FSGNJN_D: write_d(h, rd, (d1 & ~SIGN64) | (~d2 & SIGN64)); break;
    case OP_FSGNJX_D: write_d(h, rd, d1 ^ (d2 & SIGN64)); break;
    case OP_FMIN_D: write_d(h, rd, f64_min(d1, d2, &flags)); break;
    case OP_FMAX_D: write_d(h, rd, f64_max(d1, d2, &flags)); break;
    case OP_FCVT_W_D: write_x(h, rd, (uint64_t)(int64_t)f64_to_i32(d1, rm, &flags)); break;
    case OP_FCVT_WU_D: write_x(h, rd, (uint64_t)(int64_t)(int32_t)f64_to_u32(d1, rm, &flags)); break;
    case OP_FCVT_L_D: write_x(h, rd, (uint64_t)f64_to_i64(d1, rm, &flags)); break;
    case OP_FCVT_LU_D: write_x(h, rd, f64_to_u64(d1, rm, &flags)); break;
    case OP_FMV_X_D: write_x(h, rd, d1); break;
    case OP_FEQ_D: write_x(h, rd, f64_eq(d1, d2, &flags)); break;
    case OP_FLT_D: write_x(h, rd, f64_lt(d1, d2, &flags)); break;
    case OP_FLE_D: write_x(h, rd, f64_le(d1, d2, &flags)); break;
    case OP_FCLASS_D: write_x(h, rd, f64_classify(d1)); break;
    case OP_FCVT_D_W: write_d(h, rd, i32_to_f64((int32_t)xs1, rm, &flags)); break;
    case OP_FCVT_D_WU: write_d(h, rd, u32_to_f64((uint32_t)xs1, rm, &flags)); break;
    case OP_FCVT_D_L: write_d(h, rd, i64_to_f64((int64_t)xs1, rm, &flags)); break;
    case OP_FCVT_D_LU: write_d(h, rd, u64_to_f64(xs1, rm, &flags)); break;
    case OP_FMV_D_X: write_d(h, rd, xs1); break;

    case OP_FCVT_S_D: write_s(h, rd, f64_to_f32(d1, rm, &flags)); break;
    case OP_FCVT_D_S: write_d(h, rd, f32_to_f64(s1, &flags)); break;

    default:
        /* exec.c only sends F/D computational ops here */
        assert(0 && "fpu_exec: not an FP op");
        return false;
    }

    flags &= 0x1f;
    if (flags & ~h->fflags) {
        h->fflags |= flags;
        h->mstatus |= MSTATUS_FS_DIRTY;
    }
    return true;
}
