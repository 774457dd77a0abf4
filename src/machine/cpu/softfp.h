/*
 * softfp.h - IEEE 754-2008 binary32/binary64 arithmetic in software, with
 * the RISC-V F/D rules (canonical NaN results, fcvt saturation, fmin/fmax
 * per the 2019 spec, tininess detected after rounding).
 *
 * Results never depend on the host FPU, compiler flags or host CPU: the
 * reference implementation uses integer arithmetic only. add, sub, mul,
 * div, sqrt and muladd first try a fast path on the host's IEEE binary64
 * unit that returns a result only when it is provably identical, bits and
 * flags, to the integer code's (see softfp.c, "host fast paths", and
 * softfp_fast.h); it relies on the host's default round-to-nearest mode,
 * which rrvm never changes. Every operation takes the RISC-V
 * rounding mode (RM_RNE..RM_RMM, never RM_DYN) and ORs the exception flags
 * it raises into *flags (FFLAG_* bits, as in fcsr.fflags).
 */
#ifndef RRVM_SOFTFP_H
#define RRVM_SOFTFP_H

#include <stdbool.h>
#include <stdint.h>

enum { RM_RNE = 0, RM_RTZ = 1, RM_RDN = 2, RM_RUP = 3, RM_RMM = 4, RM_DYN = 7 };
enum { FFLAG_NX = 1, FFLAG_UF = 2, FFLAG_OF = 4, FFLAG_DZ = 8, FFLAG_NV = 16 };

#define F32_CANONICAL_NAN 0x7fc00000u
#define F64_CANONICAL_NAN 0x7ff8000000000000ull

typedef uint32_t sf32;
typedef uint64_t sf64;

sf32 f32_add(sf32 a, sf32 b, int rm, uint32_t *flags);
sf32 f32_sub(sf32 a, sf32 b, int rm, uint32_t *flags);
sf32 f32_mul(sf32 a, sf32 b, int rm, uint32_t *flags);
sf32 f32_div(sf32 a, sf32 b, int rm, uint32_t *flags);
sf32 f32_sqrt(sf32 a, int rm, uint32_t *flags);
/* (a*b)+c with one rounding; negate_product / negate_addend give
 * fmsub (0,1), fnmsub (1,0), fnmadd (1,1) */
sf32 f32_muladd(sf32 a, sf32 b, sf32 c, bool negate_product, bool negate_addend, int rm, uint32_t *flags);
sf32 f32_min(sf32 a, sf32 b, uint32_t *flags);
sf32 f32_max(sf32 a, sf32 b, uint32_t *flags);
bool f32_eq(sf32 a, sf32 b, uint32_t *flags); /* quiet */
bool f32_lt(sf32 a, sf32 b, uint32_t *flags); /* signaling */
bool f32_le(sf32 a, sf32 b, uint32_t *flags); /* signaling */
uint32_t f32_classify(sf32 a);                /* fclass.s result bits */

sf64 f64_add(sf64 a, sf64 b, int rm, uint32_t *flags);
sf64 f64_sub(sf64 a, sf64 b, int rm, uint32_t *flags);
sf64 f64_mul(sf64 a, sf64 b, int rm, uint32_t *flags);
sf64 f64_div(sf64 a, sf64 b, int rm, uint32_t *flags);
sf64 f64_sqrt(sf64 a, int rm, uint32_t *flags);
sf64 f64_muladd(sf64 a, sf64 b, sf64 c, bool negate_product, bool negate_addend, int rm, uint32_t *flags);
sf64 f64_min(sf64 a, sf64 b, uint32_t *flags);
sf64 f64_max(sf64 a, sf64 b, uint32_t *flags);
bool f64_eq(sf64 a, sf64 b, uint32_t *flags);
bool f64_lt(sf64 a, sf64 b, uint32_t *flags);
bool f64_le(sf64 a, sf64 b, uint32_t *flags);
uint32_t f64_classify(sf64 a);

/* Conversions. Float->int saturate per RISC-V (NaN -> max positive) and
 * raise NV on out-of-range/NaN, NX on inexact in range. */
int32_t f32_to_i32(sf32 a, int rm, uint32_t *flags);
uint32_t f32_to_u32(sf32 a, int rm, uint32_t *flags);
int64_t f32_to_i64(sf32 a, int rm, uint32_t *flags);
uint64_t f32_to_u64(sf32 a, int rm, uint32_t *flags);
int32_t f64_to_i32(sf64 a, int rm, uint32_t *flags);
uint32_t f64_to_u32(sf64 a, int rm, uint32_t *flags);
int64_t f64_to_i64(sf64 a, int rm, uint32_t *flags);
uint64_t f64_to_u64(sf64 a, int rm, uint32_t *flags);
sf32 i32_to_f32(int32_t a, int rm, uint32_t *flags);
sf32 u32_to_f32(uint32_t a, int rm, uint32_t *flags);
sf32 i64_to_f32(int64_t a, int rm, uint32_t *flags);
sf32 u64_to_f32(uint64_t a, int rm, uint32_t *flags);
sf64 i32_to_f64(int32_t a, int rm, uint32_t *flags);
sf64 u32_to_f64(uint32_t a, int rm, uint32_t *flags);
sf64 i64_to_f64(int64_t a, int rm, uint32_t *flags);
sf64 u64_to_f64(uint64_t a, int rm, uint32_t *flags);
sf64 f32_to_f64(sf32 a, uint32_t *flags); /* exact; sNaN -> NV, canonical NaN */
sf32 f64_to_f32(sf64 a, int rm, uint32_t *flags);

#endif
