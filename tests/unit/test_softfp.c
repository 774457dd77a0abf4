/*
 * test_softfp.c - checks src/machine/softfp.c bit-for-bit against the host.
 *
 * The oracle is the x86-64 SSE unit and libm: IEEE-correct for
 * add/sub/mul/div/sqrt/fma and conversions in the four IEEE rounding modes
 * (selected with fesetround, flags read with fetestexcept), and x86 detects
 * tininess after rounding just like RISC-V. Every host operation reads its
 * operands from volatile variables and writes a volatile result, so the
 * compiler can neither fold it nor move it across the fenv calls.
 *
 * Where RISC-V differs from the host the test computes the expectation
 * itself: canonical NaNs (only "is NaN" is compared, ours must be
 * canonical), NV for inf*0+qNaN in fused multiply-add, float->int
 * saturation, fmin/fmax, compare flags.
 *
 * RMM has no host mode. The exact result is a tie exactly when the
 * operation computed in a wider format with round-to-odd (truncate, then
 * set the last bit if inexact) is a midpoint of the target format; then RMM
 * equals rounding away from zero (RUP/RDN by sign), otherwise RNE. Wide
 * formats: double for binary32, __float128 (libgcc honours the host
 * rounding mode and flags) for binary64. sqrt never produces a tie.
 *
 * All random operands come from a fixed-seed generator, so runs repeat.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "machine/cpu/softfp.h"

typedef unsigned __int128 u128;

enum {
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_SQRT,
    OP_MADD, /* a*b + c */
    OP_MSUB, /* a*b - c */
    OP_NMSUB, /* -(a*b) + c */
    OP_NMADD, /* -(a*b) - c */
    OP_COUNT
};

static const char *const op_names[OP_COUNT] = { "add", "sub", "mul", "div", "sqrt", "madd", "msub", "nmsub", "nmadd" };

static bool op_is_fma(int op) { return op >= OP_MADD; }

static const int host_modes[4] = { FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD };

/* ---- bit helpers ---- */

static float f32_of(uint32_t bits) { float f; memcpy(&f, &bits, 4); return f; }
static double f64_of(uint64_t bits) { double d; memcpy(&d, &bits, 8); return d; }
static uint32_t bits_f32(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }
static uint64_t bits_f64(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }

static bool is_nan_bits(bool is64, uint64_t v)
{
    if (is64)
        return (v & 0x7ff0000000000000ull) == 0x7ff0000000000000ull && (v & 0xfffffffffffffull);
    return (v & 0x7f800000u) == 0x7f800000u && (v & 0x7fffffu);
}

static bool is_snan_bits(bool is64, uint64_t v)
{
    return is_nan_bits(is64, v) && !(v & (is64 ? 0x0008000000000000ull : 0x00400000u));
}

static bool is_inf_bits(bool is64, uint64_t v)
{
    return is64 ? (v & ~(1ull << 63)) == 0x7ff0000000000000ull : (v & 0x7fffffffu) == 0x7f800000u;
}

static bool is_zero_bits(bool is64, uint64_t v)
{
    return is64 ? (v & ~(1ull << 63)) == 0 : (v & 0x7fffffffu) == 0;
}

static uint64_t canonical_nan(bool is64) { return is64 ? F64_CANONICAL_NAN : F32_CANONICAL_NAN; }
static uint64_t sign_bit(bool is64) { return is64 ? 1ull << 63 : 1ull << 31; }

static int u128_ctz(u128 v)
{
    uint64_t lo = (uint64_t)v;
    return lo ? __builtin_ctzll(lo) : 64 + __builtin_ctzll((uint64_t)(v >> 64));
}

static int u128_msb(u128 v)
{
    uint64_t hi = (uint64_t)(v >> 64);
    return hi ? 127 - __builtin_clzll(hi) : 63 - __builtin_clzll((uint64_t)v);
}

/* Whether sig * 2^exp (sig != 0) lies exactly halfway between two
 * neighbours of a format with precision p and minimum exponent emin. */
static bool is_midpoint(u128 sig, int exp, int p, int emin)
{
    int lead = u128_msb(sig) + exp;
    int lsb = (lead < emin ? emin : lead) - (p - 1);
    return u128_ctz(sig) + exp == lsb - 1;
}

/* Decode a finite nonzero double / __float128 into sig * 2^exp. */
static bool decode_f64(uint64_t b, u128 *sig, int *exp, bool *negative)
{
    int biased = (int)((b >> 52) & 0x7ff);
    uint64_t frac = b & 0xfffffffffffffull;
    *negative = b >> 63;
    if (biased == 0x7ff || (biased == 0 && frac == 0))
        return false;
    *sig = biased ? frac | (1ull << 52) : frac;
    *exp = (biased ? biased : 1) - 1075;
    return true;
}

static bool decode_f128(__float128 q, u128 *sig, int *exp, bool *negative)
{
    u128 b;
    int biased;
    u128 frac;
    memcpy(&b, &q, 16);
    biased = (int)((b >> 112) & 0x7fff);
    frac = b & (((u128)1 << 112) - 1);
    *negative = (b >> 127) != 0;
    if (biased == 0x7fff || (biased == 0 && frac == 0))
        return false;
    *sig = biased ? frac | ((u128)1 << 112) : frac;
    *exp = (biased ? biased : 1) - 16383 - 112;
    return true;
}

/* ---- host oracle ---- */

static uint32_t host_flags(void)
{
    int e = fetestexcept(FE_ALL_EXCEPT);
    return ((e & FE_INEXACT) ? FFLAG_NX : 0) | ((e & FE_UNDERFLOW) ? FFLAG_UF : 0) |
           ((e & FE_OVERFLOW) ? FFLAG_OF : 0) | ((e & FE_DIVBYZERO) ? FFLAG_DZ : 0) |
           ((e & FE_INVALID) ? FFLAG_NV : 0);
}

static void host_begin(int fe_mode)
{
    fesetround(fe_mode);
    feclearexcept(FE_ALL_EXCEPT);
}

static uint32_t host_end(void)
{
    uint32_t fl = host_flags();
    fesetround(FE_TONEAREST);
    return fl;
}

static uint64_t host_op(bool is64, int op, uint64_t a, uint64_t b, uint64_t c, int fe_mode, uint32_t *flags)
{
    uint64_t result;
    if (is64) {
        volatile double va = f64_of(a), vb = f64_of(b), vc = f64_of(c), r = 0;
        host_begin(fe_mode);
        switch (op) {
        case OP_ADD: r = va + vb; break;
        case OP_SUB: r = va - vb; break;
        case OP_MUL: r = va * vb; break;
        case OP_DIV: r = va / vb; break;
        case OP_SQRT: r = sqrt(va); break;
        case OP_MADD: r = fma(va, vb, vc); break;
        case OP_MSUB: r = fma(va, vb, -vc); break;
        case OP_NMSUB: r = fma(-va, vb, vc); break;
        case OP_NMADD: r = fma(-va, vb, -vc); break;
        }
        *flags = host_end();
        result = bits_f64(r);
    } else {
        volatile float va = f32_of((uint32_t)a), vb = f32_of((uint32_t)b), vc = f32_of((uint32_t)c), r = 0;
        host_begin(fe_mode);
        switch (op) {
        case OP_ADD: r = va + vb; break;
        case OP_SUB: r = va - vb; break;
        case OP_MUL: r = va * vb; break;
        case OP_DIV: r = va / vb; break;
        case OP_SQRT: r = sqrtf(va); break;
        case OP_MADD: r = fmaf(va, vb, vc); break;
        case OP_MSUB: r = fmaf(va, vb, -vc); break;
        case OP_NMSUB: r = fmaf(-va, vb, vc); break;
        case OP_NMADD: r = fmaf(-va, vb, -vc); break;
        }
        *flags = host_end();
        result = bits_f32(r);
    }
    return result;
}

/* Is the exact result of the operation a tie for the target format? Uses
 * round-to-odd in a format at least two bits wider. */
static bool exact_result_is_tie(bool is64, int op, uint64_t a, uint64_t b, uint64_t c, bool *negative)
{
    u128 sig;
    int exp;
    bool inexact, finite;

    if (is64) {
        volatile __float128 qa = f64_of(a), qb = f64_of(b), qc = f64_of(c), r = 0;
        __float128 rr;
        if (op == OP_SQRT)
            return false; /* a square root is never a midpoint */
        host_begin(FE_TOWARDZERO);
        switch (op) {
        case OP_ADD: r = qa + qb; break;
        case OP_SUB: r = qa - qb; break;
        case OP_MUL: r = qa * qb; break;
        case OP_DIV: r = qa / qb; break;
        /* the product of two doubles is exact in binary128 */
        case OP_MADD: r = qa * qb + qc; break;
        case OP_MSUB: r = qa * qb - qc; break;
        case OP_NMSUB: r = -(qa * qb) + qc; break;
        case OP_NMADD: r = -(qa * qb) - qc; break;
        }
        inexact = (host_end() & FFLAG_NX) != 0;
        rr = r;
        finite = decode_f128(rr, &sig, &exp, negative);
        if (finite && inexact)
            sig |= 1; /* round to odd; the lowest bit has weight 2^exp */
        return finite && is_midpoint(sig, exp, 53, -1022);
    } else {
        volatile double da = f32_of((uint32_t)a), db = f32_of((uint32_t)b), dc = f32_of((uint32_t)c), r = 0;
        host_begin(FE_TOWARDZERO);
        switch (op) {
        case OP_ADD: r = da + db; break;
        case OP_SUB: r = da - db; break;
        case OP_MUL: r = da * db; break;
        case OP_DIV: r = da / db; break;
        case OP_SQRT: r = sqrt(da); break;
        case OP_MADD: r = fma(da, db, dc); break;
        case OP_MSUB: r = fma(da, db, -dc); break;
        case OP_NMSUB: r = fma(-da, db, dc); break;
        case OP_NMADD: r = fma(-da, db, -dc); break;
        }
        inexact = (host_end() & FFLAG_NX) != 0;
        finite = decode_f64(bits_f64(r), &sig, &exp, negative);
        if (finite && inexact)
            sig |= 1;
        return finite && is_midpoint(sig, exp, 24, -126);
    }
}

static uint64_t expected_op(bool is64, int op, uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags)
{
    bool negative;
    if (op_is_fma(op) && ((is_inf_bits(is64, a) && is_zero_bits(is64, b)) ||
                          (is_zero_bits(is64, a) && is_inf_bits(is64, b)))) {
        *flags = FFLAG_NV; /* RISC-V: even when c is a quiet NaN */
        return canonical_nan(is64);
    }
    if (rm == RM_RMM) {
        if (exact_result_is_tie(is64, op, a, b, c, &negative))
            return host_op(is64, op, a, b, c, negative ? FE_DOWNWARD : FE_UPWARD, flags);
        return host_op(is64, op, a, b, c, FE_TONEAREST, flags);
    }
    return host_op(is64, op, a, b, c, host_modes[rm], flags);
}

static uint64_t soft_op(bool is64, int op, uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *flags)
{
    if (is64) {
        switch (op) {
        case OP_ADD: return f64_add(a, b, rm, flags);
        case OP_SUB: return f64_sub(a, b, rm, flags);
        case OP_MUL: return f64_mul(a, b, rm, flags);
        case OP_DIV: return f64_div(a, b, rm, flags);
        case OP_SQRT: return f64_sqrt(a, rm, flags);
        case OP_MADD: return f64_muladd(a, b, c, false, false, rm, flags);
        case OP_MSUB: return f64_muladd(a, b, c, false, true, rm, flags);
        case OP_NMSUB: return f64_muladd(a, b, c, true, false, rm, flags);
        case OP_NMADD: return f64_muladd(a, b, c, true, true, rm, flags);
        }
    } else {
        uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b, c32 = (uint32_t)c;
        switch (op) {
        case OP_ADD: return f32_add(a32, b32, rm, flags);
        case OP_SUB: return f32_sub(a32, b32, rm, flags);
        case OP_MUL: return f32_mul(a32, b32, rm, flags);
        case OP_DIV: return f32_div(a32, b32, rm, flags);
        case OP_SQRT: return f32_sqrt(a32, rm, flags);
        case OP_MADD: return f32_muladd(a32, b32, c32, false, false, rm, flags);
        case OP_MSUB: return f32_muladd(a32, b32, c32, false, true, rm, flags);
        case OP_NMSUB: return f32_muladd(a32, b32, c32, true, false, rm, flags);
        case OP_NMADD: return f32_muladd(a32, b32, c32, true, true, rm, flags);
        }
    }
    fail_msg("bad op %d", op);
    return 0;
}

/* ---- checking ---- */

typedef struct Checker {
    long checks;
    long failures;
} Checker;

/* Compare one result exactly (integers, booleans, fclass masks). */
static void check_exact(Checker *ck, const char *what, bool is64, uint64_t a, uint64_t b, uint64_t c, int rm,
                        uint64_t got, uint32_t got_flags, uint64_t want, uint32_t want_flags)
{
    bool ok = got == want;
    ck->checks++;
    if (ok && got_flags == want_flags)
        return;
    if (ck->failures++ < 20)
        print_message("MISMATCH %s%s rm=%d a=%llx b=%llx c=%llx: got %llx flags %x, want %llx flags %x\n", what,
                      is64 ? "64" : "32", rm, (unsigned long long)a, (unsigned long long)b, (unsigned long long)c,
                      (unsigned long long)got, got_flags, (unsigned long long)want, want_flags);
}

/* Compare a float result; an expected NaN only requires our canonical NaN. */
static void check_result(Checker *ck, const char *what, bool is64, uint64_t a, uint64_t b, uint64_t c, int rm,
                         uint64_t got, uint32_t got_flags, uint64_t want, uint32_t want_flags)
{
    if (is_nan_bits(is64, want) && got == canonical_nan(is64))
        want = got;
    check_exact(ck, what, is64, a, b, c, rm, got, got_flags, want, want_flags);
}

static void check_op(Checker *ck, bool is64, int op, uint64_t a, uint64_t b, uint64_t c)
{
    for (int rm = RM_RNE; rm <= RM_RMM; rm++) {
        uint32_t got_flags = 0, want_flags = 0;
        uint64_t got = soft_op(is64, op, a, b, c, rm, &got_flags);
        uint64_t want = expected_op(is64, op, a, b, c, rm, &want_flags);
        check_result(ck, op_names[op], is64, a, b, c, rm, got, got_flags, want, want_flags);
    }
}

static void finish(Checker *ck, const char *name)
{
    print_message("%s: %ld checks, %ld failures\n", name, ck->checks, ck->failures);
    assert_int_equal(ck->failures, 0);
}

/* ---- operand sets ---- */

static const uint32_t special32[] = {
    0x00000000, 0x00000001, 0x00000002, 0x00000003, 0x007fffff, 0x00400000, 0x00800000, 0x00800001,
    0x00ffffff, 0x33000000, 0x33800000, 0x34000000, 0x3effffff, 0x3f000000, 0x3f800000, 0x3f800001,
    0x3fc00000, 0x3fffffff, 0x40000000, 0x40200000, 0x40400000, 0x3eaaaaab, 0x4b000000, 0x4b7fffff,
    0x4b800000, 0x4b800001, 0x4effffff, 0x4f000000, 0x4f800000, 0x5f000000, 0x5f800000, 0x1f800000,
    0x7effffff, 0x7f000000, 0x7f7fffff, 0x7f800000, 0x7fc00000, 0x7fc00001, 0x7f800001, 0x7fa00000,
};

static const uint64_t special64[] = {
    0x0000000000000000, 0x0000000000000001, 0x0000000000000002, 0x0000000000000003, 0x000fffffffffffff,
    0x0008000000000000, 0x0010000000000000, 0x0010000000000001, 0x001fffffffffffff, 0x3c90000000000000,
    0x3ca0000000000000, 0x3cb0000000000000, 0x3fdfffffffffffff, 0x3fe0000000000000, 0x3ff0000000000000,
    0x3ff0000000000001, 0x3ff8000000000000, 0x3fffffffffffffff, 0x4000000000000000, 0x4004000000000000,
    0x4008000000000000, 0x3fd5555555555555, 0x4330000000000000, 0x433fffffffffffff, 0x4340000000000000,
    0x4340000000000001, 0x41dfffffffc00000, 0x41e0000000000000, 0x41f0000000000000, 0x43e0000000000000,
    0x43f0000000000000, 0x43dfffffffffffff, 0x3bf0000000000000, 0x7fefffffffffffff, 0x7fe0000000000000,
    0x7fdfffffffffffff, 0x7ff0000000000000, 0x7ff8000000000000, 0x7ff8000000000001, 0x7ff0000000000001,
    0x7ff4000000000000, 0x36a0000000000000, 0x47efffffe0000000, 0x3810000000000000,
};

#define N32 (sizeof special32 / sizeof special32[0])
#define N64 (sizeof special64 / sizeof special64[0])

/* Both signs of every special value. */
static uint64_t special(bool is64, size_t i)
{
    size_t n = is64 ? N64 : N32;
    uint64_t v = is64 ? special64[i % n] : special32[i % n];
    return i >= n ? v | sign_bit(is64) : v;
}

static size_t special_count(bool is64) { return 2 * (is64 ? N64 : N32); }

typedef struct Rng {
    uint64_t state;
} Rng;

static uint64_t rng_next(Rng *r)
{
    r->state ^= r->state >> 12;
    r->state ^= r->state << 25;
    r->state ^= r->state >> 27;
    return r->state * 0x2545f4914f6cdd1dull;
}

/* A random encoding biased towards the interesting regions: subnormals,
 * the edges of the exponent range, values near 1, few-bit significands
 * (exact results and ties), all-ones significands, specials. */
static uint64_t random_float(Rng *r, bool is64, int center_exp)
{
    int frac_bits = is64 ? 52 : 23, exp_bits = is64 ? 11 : 8;
    int exp_max = (1 << exp_bits) - 1, bias = exp_max >> 1;
    uint64_t frac_mask = (1ull << frac_bits) - 1;
    uint64_t x = rng_next(r), frac = rng_next(r);
    int exp;

    switch (x & 15) {
    case 0: exp = 0; break;
    case 1: exp = 1 + (int)((x >> 8) % 3); break;
    case 2: exp = exp_max - 1 - (int)((x >> 8) % 3); break;
    case 3: exp = (x >> 8) & 7 ? (int)((x >> 16) % exp_max) : exp_max; break;
    case 4: case 5: case 6: exp = bias - 8 + (int)((x >> 8) % 17); break;
    case 7: case 8: case 9: case 10:
        if (center_exp >= 0) {
            exp = center_exp - 3 + (int)((x >> 8) % 7) - (int)((x >> 12) % 2) * (int)((x >> 16) % 60);
            break;
        }
        /* fall through */
    default: exp = (int)((x >> 8) % exp_max); break;
    }
    if (exp < 0)
        exp = 0;
    if (exp > exp_max)
        exp = exp_max;
    switch ((x >> 32) & 7) {
    case 0: frac &= ~(frac_mask >> ((x >> 40) % (unsigned)frac_bits)); break; /* few leading bits */
    case 1: frac = frac_mask; break;
    case 2: frac &= rng_next(r); break;
    case 3: frac |= rng_next(r); break;
    case 4: frac = (x >> 40) & 1 ? 1ull << ((x >> 48) % (unsigned)frac_bits) : 0; break;
    default: break;
    }
    return ((uint64_t)(x >> 63) << (frac_bits + exp_bits)) | ((uint64_t)exp << frac_bits) | (frac & frac_mask);
}

static int biased_exp(bool is64, uint64_t v) { return is64 ? (int)((v >> 52) & 0x7ff) : (int)((v >> 23) & 0xff); }

/* ---- arithmetic tests ---- */

static void run_specials(Checker *ck, bool is64)
{
    size_t n = special_count(is64);
    for (int op = OP_ADD; op <= OP_SQRT; op++)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < (op == OP_SQRT ? 1 : n); j++)
                check_op(ck, is64, op, special(is64, i), special(is64, j), 0);
    /* fma over a subset: every 3rd special, all variants spread over the cube */
    for (size_t i = 0; i < n; i += 3)
        for (size_t j = 1; j < n; j += 3)
            for (size_t k = 0; k < n; k += 2)
                check_op(ck, is64, OP_MADD + (int)((i + j + k) % 4), special(is64, i), special(is64, j),
                         special(is64, k));
}

static void run_random(Checker *ck, bool is64, int op, int count, uint64_t seed)
{
    Rng r = { seed };
    int bias = is64 ? 1023 : 127;
    for (int n = 0; n < count; n++) {
        uint64_t a = random_float(&r, is64, -1), b, c = 0;
        uint64_t pick = rng_next(&r);
        if (op == OP_ADD || op == OP_SUB) {
            b = random_float(&r, is64, biased_exp(is64, a)); /* nearby exponents: cancellation */
            if ((pick & 7) == 0)
                b = (a ^ (rng_next(&r) & 0xff)) ^ (pick & 8 ? sign_bit(is64) : 0);
        } else if (op == OP_DIV) {
            b = random_float(&r, is64, -1);
            if ((pick & 3) == 0) /* quotient close to the subnormal boundary */
                b = random_float(&r, is64, biased_exp(is64, a) + bias - 1);
        } else {
            b = random_float(&r, is64, -1);
        }
        if (op_is_fma(op)) {
            int pe = biased_exp(is64, a) + biased_exp(is64, b) - bias;
            c = random_float(&r, is64, (pick & 3) ? pe : -1);
        }
        check_op(ck, is64, op, a, b, c);
    }
}

enum { RANDOM_PER_OP = 20000 };

static void test_arith_specials32(void **state) { Checker ck = { 0, 0 }; run_specials(&ck, false); finish(&ck, "specials32"); }
static void test_arith_specials64(void **state) { Checker ck = { 0, 0 }; run_specials(&ck, true); finish(&ck, "specials64"); }

static void test_arith_random32(void **state)
{
    Checker ck = { 0, 0 };
    for (int op = 0; op < OP_COUNT; op++)
        run_random(&ck, false, op, RANDOM_PER_OP, 0x9e3779b97f4a7c15ull + (uint64_t)op);
    finish(&ck, "random32");
}

static void test_arith_random64(void **state)
{
    Checker ck = { 0, 0 };
    for (int op = 0; op < OP_COUNT; op++)
        run_random(&ck, true, op, RANDOM_PER_OP, 0xd1b54a32d192ed03ull + (uint64_t)op);
    finish(&ck, "random64");
}

/* ---- hand-derived cases (RMM ties, zero signs, RISC-V specific NaN rules) ---- */

typedef struct Case32 {
    int op, rm;
    uint32_t a, b, c, want, flags;
} Case32;

static const Case32 hand32[] = {
    /* RMM: 1 + 2^-24 is a tie between 1 and 1+2^-23 */
    { OP_ADD, RM_RMM, 0x3f800000, 0x33800000, 0, 0x3f800001, FFLAG_NX },
    { OP_ADD, RM_RNE, 0x3f800000, 0x33800000, 0, 0x3f800000, FFLAG_NX },
    { OP_ADD, RM_RMM, 0xbf800000, 0xb3800000, 0, 0xbf800001, FFLAG_NX },
    /* tie between 0 and the smallest subnormal: RNE -> 0, RMM -> away */
    { OP_MUL, RM_RNE, 0x00000001, 0x3f000000, 0, 0x00000000, FFLAG_NX | FFLAG_UF },
    { OP_MUL, RM_RMM, 0x00000001, 0x3f000000, 0, 0x00000001, FFLAG_NX | FFLAG_UF },
    { OP_MUL, RM_RMM, 0x80000001, 0x3f000000, 0, 0x80000001, FFLAG_NX | FFLAG_UF },
    { OP_MUL, RM_RMM, 0x00000003, 0x3f000000, 0, 0x00000002, FFLAG_NX | FFLAG_UF },
    /* overflow: max*2 saturates per mode */
    { OP_MUL, RM_RMM, 0x7f7fffff, 0x40000000, 0, 0x7f800000, FFLAG_OF | FFLAG_NX },
    { OP_MUL, RM_RTZ, 0x7f7fffff, 0x40000000, 0, 0x7f7fffff, FFLAG_OF | FFLAG_NX },
    { OP_MUL, RM_RDN, 0x7f7fffff, 0x40000000, 0, 0x7f7fffff, FFLAG_OF | FFLAG_NX },
    { OP_MUL, RM_RUP, 0xff7fffff, 0x40000000, 0, 0xff7fffff, FFLAG_OF | FFLAG_NX },
    { OP_MUL, RM_RDN, 0xff7fffff, 0x40000000, 0, 0xff800000, FFLAG_OF | FFLAG_NX },
    /* tininess after rounding: 2^-126 - 2^-151 rounds to 2^-126 even with an
     * unbounded exponent (a tie at 24 bits, to even), so it is not tiny... */
    { OP_MADD, RM_RNE, 0x9a000000, 0x19800000, 0x00800000, 0x00800000, FFLAG_NX },
    { OP_MADD, RM_RUP, 0x9a000000, 0x19800000, 0x00800000, 0x00800000, FFLAG_NX },
    { OP_MADD, RM_RTZ, 0x9a000000, 0x19800000, 0x00800000, 0x007fffff, FFLAG_NX | FFLAG_UF },
    { OP_MADD, RM_RDN, 0x9a000000, 0x19800000, 0x00800000, 0x007fffff, FFLAG_NX | FFLAG_UF },
    /* ...but 2^-126 - 2^-150 is exact at 24 bits, hence tiny, though it
     * also rounds to 2^-126 */
    { OP_MUL, RM_RNE, 0x00ffffff, 0x3f000000, 0, 0x00800000, FFLAG_NX | FFLAG_UF },
    /* exact tiny result: no UF */
    { OP_MUL, RM_RNE, 0x00000002, 0x3f000000, 0, 0x00000001, 0 },
    /* exact zero signs */
    { OP_ADD, RM_RNE, 0x3f800000, 0xbf800000, 0, 0x00000000, 0 },
    { OP_ADD, RM_RDN, 0x3f800000, 0xbf800000, 0, 0x80000000, 0 },
    { OP_ADD, RM_RMM, 0x3f800000, 0xbf800000, 0, 0x00000000, 0 },
    { OP_ADD, RM_RNE, 0x80000000, 0x80000000, 0, 0x80000000, 0 },
    { OP_ADD, RM_RUP, 0x80000000, 0x00000000, 0, 0x00000000, 0 },
    { OP_ADD, RM_RDN, 0x80000000, 0x00000000, 0, 0x80000000, 0 },
    { OP_MADD, RM_RNE, 0x3f800000, 0x3f800000, 0xbf800000, 0x00000000, 0 },
    { OP_MADD, RM_RDN, 0x3f800000, 0x3f800000, 0xbf800000, 0x80000000, 0 },
    { OP_MADD, RM_RNE, 0x00000000, 0x3f800000, 0x80000000, 0x00000000, 0 },
    { OP_MADD, RM_RDN, 0x00000000, 0x3f800000, 0x80000000, 0x80000000, 0 },
    { OP_MADD, RM_RNE, 0x80000000, 0x3f800000, 0x80000000, 0x80000000, 0 },
    { OP_NMADD, RM_RNE, 0x00000000, 0x3f800000, 0x00000000, 0x80000000, 0 },
    { OP_MSUB, RM_RNE, 0x00000000, 0x3f800000, 0x00000000, 0x00000000, 0 },
    /* product underflows to nothing but still decides the rounding */
    { OP_MADD, RM_RDN, 0x00000001, 0x80000001, 0x3f800000, 0x3f7fffff, FFLAG_NX },
    { OP_MADD, RM_RUP, 0x00000001, 0x00000001, 0x3f800000, 0x3f800001, FFLAG_NX },
    { OP_MADD, RM_RNE, 0x00000001, 0x00000001, 0x3f800000, 0x3f800000, FFLAG_NX },
    /* inf * 0 + qNaN: NV on RISC-V */
    { OP_MADD, RM_RNE, 0x7f800000, 0x00000000, 0x7fc00000, F32_CANONICAL_NAN, FFLAG_NV },
    { OP_MADD, RM_RNE, 0x00000000, 0xff800000, 0x3f800000, F32_CANONICAL_NAN, FFLAG_NV },
    { OP_MADD, RM_RNE, 0x7f800000, 0x3f800000, 0xff800000, F32_CANONICAL_NAN, FFLAG_NV },
    { OP_MADD, RM_RNE, 0x7fc00000, 0x3f800000, 0x3f800000, F32_CANONICAL_NAN, 0 },
    { OP_MADD, RM_RNE, 0x7fc00000, 0x3f800000, 0x7f800001, F32_CANONICAL_NAN, FFLAG_NV },
    /* sqrt */
    { OP_SQRT, RM_RNE, 0x80000000, 0, 0, 0x80000000, 0 },
    { OP_SQRT, RM_RNE, 0xbf800000, 0, 0, F32_CANONICAL_NAN, FFLAG_NV },
    { OP_SQRT, RM_RNE, 0xff800000, 0, 0, F32_CANONICAL_NAN, FFLAG_NV },
    { OP_SQRT, RM_RNE, 0xffc00000, 0, 0, F32_CANONICAL_NAN, 0 },
    { OP_SQRT, RM_RNE, 0x7f800001, 0, 0, F32_CANONICAL_NAN, FFLAG_NV },
    { OP_SQRT, RM_RNE, 0x7f800000, 0, 0, 0x7f800000, 0 },
    { OP_SQRT, RM_RNE, 0x40800000, 0, 0, 0x40000000, 0 },
    { OP_SQRT, RM_RNE, 0x00000001, 0, 0, 0x1a3504f3, FFLAG_NX },
    /* division */
    { OP_DIV, RM_RNE, 0x3f800000, 0x00000000, 0, 0x7f800000, FFLAG_DZ },
    { OP_DIV, RM_RNE, 0x3f800000, 0x80000000, 0, 0xff800000, FFLAG_DZ },
    { OP_DIV, RM_RNE, 0x7f800000, 0x00000000, 0, 0x7f800000, 0 },
    { OP_DIV, RM_RNE, 0x00000000, 0x00000000, 0, F32_CANONICAL_NAN, FFLAG_NV },
    { OP_DIV, RM_RNE, 0x7f800000, 0xff800000, 0, F32_CANONICAL_NAN, FFLAG_NV },
    { OP_DIV, RM_RMM, 0x00000003, 0x40000000, 0, 0x00000002, FFLAG_NX | FFLAG_UF },
    { OP_DIV, RM_RMM, 0x00000005, 0x40000000, 0, 0x00000003, FFLAG_NX | FFLAG_UF },
    { OP_DIV, RM_RNE, 0x00000005, 0x40000000, 0, 0x00000002, FFLAG_NX | FFLAG_UF },
    /* qNaN inputs propagate quietly as the canonical NaN */
    { OP_ADD, RM_RNE, 0xffc12345, 0x3f800000, 0, F32_CANONICAL_NAN, 0 },
    { OP_ADD, RM_RNE, 0x7f812345, 0x3f800000, 0, F32_CANONICAL_NAN, FFLAG_NV },
    { OP_SUB, RM_RNE, 0x7f800000, 0x7f800000, 0, F32_CANONICAL_NAN, FFLAG_NV },
};

static void test_hand_cases(void **state)
{
    Checker ck = { 0, 0 };
    for (size_t i = 0; i < sizeof hand32 / sizeof hand32[0]; i++) {
        const Case32 *t = &hand32[i];
        uint32_t flags = 0;
        uint64_t got = soft_op(false, t->op, t->a, t->b, t->c, t->rm, &flags);
        check_result(&ck, op_names[t->op], false, t->a, t->b, t->c, t->rm, got, flags, t->want, t->flags);
        /* the oracle used by the bulk tests must agree with the hand value */
        {
            uint32_t want_flags = 0;
            uint64_t want = expected_op(false, t->op, t->a, t->b, t->c, t->rm, &want_flags);
            if (is_nan_bits(false, want))
                want = F32_CANONICAL_NAN;
            check_result(&ck, "oracle-", false, t->a, t->b, t->c, t->rm, want, want_flags, t->want, t->flags);
        }
    }
    /* binary64 spot checks */
    {
        uint32_t fl = 0;
        assert_true(f64_add(0x3ff0000000000000ull, 0x3ca0000000000000ull, RM_RMM, &fl) == 0x3ff0000000000001ull);
        assert_int_equal(fl, FFLAG_NX);
        fl = 0;
        assert_true(f64_mul(0x0000000000000001ull, 0x3fe0000000000000ull, RM_RMM, &fl) == 1);
        assert_int_equal(fl, FFLAG_NX | FFLAG_UF);
        fl = 0;
        assert_true(f64_muladd(0x7ff0000000000000ull, 0, F64_CANONICAL_NAN, false, false, RM_RNE, &fl) ==
                    F64_CANONICAL_NAN);
        assert_int_equal(fl, FFLAG_NV);
        fl = 0;
        assert_true(f64_sqrt(0x8000000000000000ull, RM_RNE, &fl) == 0x8000000000000000ull);
        assert_int_equal(fl, 0);
        fl = 0;
        assert_true(f64_sub(0x4000000000000000ull, 0x4000000000000000ull, RM_RDN, &fl) == 0x8000000000000000ull);
        assert_int_equal(fl, 0);
    }
    finish(&ck, "hand");
}

/* ---- min/max, compares, classify ---- */

/* Reference fmin/fmax written from the spec using host comparisons. */
static uint64_t ref_minmax(bool is64, uint64_t a, uint64_t b, bool want_max, uint32_t *flags)
{
    bool an = is_nan_bits(is64, a), bn = is_nan_bits(is64, b);
    double da = is64 ? f64_of(a) : f32_of((uint32_t)a), db = is64 ? f64_of(b) : f32_of((uint32_t)b);
    *flags = (is_snan_bits(is64, a) || is_snan_bits(is64, b)) ? FFLAG_NV : 0;
    if (an && bn)
        return canonical_nan(is64);
    if (an)
        return b;
    if (bn)
        return a;
    if (da == db) /* equal, or zeros of either sign: -0 is the smaller */
        return (!!(a & sign_bit(is64)) != want_max) ? a : b;
    return (da < db) != want_max ? a : b;
}

static void check_compares(Checker *ck, bool is64, uint64_t a, uint64_t b)
{
    bool an = is_nan_bits(is64, a), bn = is_nan_bits(is64, b);
    bool any_snan = is_snan_bits(is64, a) || is_snan_bits(is64, b);
    double da = is64 ? f64_of(a) : f32_of((uint32_t)a), db = is64 ? f64_of(b) : f32_of((uint32_t)b);
    uint32_t fl;
    uint64_t got, want;
    uint32_t want_fl;

    for (int is_max = 0; is_max < 2; is_max++) {
        fl = 0;
        if (is_max)
            got = is64 ? f64_max(a, b, &fl) : f32_max((uint32_t)a, (uint32_t)b, &fl);
        else
            got = is64 ? f64_min(a, b, &fl) : f32_min((uint32_t)a, (uint32_t)b, &fl);
        want = ref_minmax(is64, a, b, is_max, &want_fl);
        check_exact(ck, is_max ? "max" : "min", is64, a, b, 0, 0, got, fl, want, want_fl);
    }
    fl = 0;
    got = is64 ? f64_eq(a, b, &fl) : f32_eq((uint32_t)a, (uint32_t)b, &fl);
    check_exact(ck, "eq", is64, a, b, 0, 0, got, fl, !an && !bn && da == db, any_snan ? FFLAG_NV : 0);
    fl = 0;
    got = is64 ? f64_lt(a, b, &fl) : f32_lt((uint32_t)a, (uint32_t)b, &fl);
    check_exact(ck, "lt", is64, a, b, 0, 0, got, fl, !an && !bn && da < db, (an || bn) ? FFLAG_NV : 0);
    fl = 0;
    got = is64 ? f64_le(a, b, &fl) : f32_le((uint32_t)a, (uint32_t)b, &fl);
    check_exact(ck, "le", is64, a, b, 0, 0, got, fl, !an && !bn && da <= db, (an || bn) ? FFLAG_NV : 0);
}

static uint32_t ref_classify(bool is64, uint64_t v)
{
    double d = is64 ? f64_of(v) : f32_of((uint32_t)v);
    bool neg = (v & sign_bit(is64)) != 0;
    if (is_nan_bits(is64, v))
        return is_snan_bits(is64, v) ? 1u << 8 : 1u << 9;
    switch (is64 ? fpclassify(d) : fpclassify(f32_of((uint32_t)v))) {
    case FP_INFINITE: return neg ? 1u << 0 : 1u << 7;
    case FP_NORMAL: return neg ? 1u << 1 : 1u << 6;
    case FP_SUBNORMAL: return neg ? 1u << 2 : 1u << 5;
    default: return neg ? 1u << 3 : 1u << 4;
    }
}

static void test_compare_minmax_classify(void **state)
{
    Checker ck = { 0, 0 };
    for (int is64 = 0; is64 < 2; is64++) {
        Rng r = { 0x1234567 + (uint64_t)is64 };
        size_t n = special_count(is64);
        for (size_t i = 0; i < n; i++) {
            uint64_t a = special(is64, i);
            uint32_t cls = is64 ? f64_classify(a) : f32_classify((uint32_t)a);
            check_exact(&ck, "classify", is64, a, 0, 0, 0, cls, 0, ref_classify(is64, a), 0);
            for (size_t j = 0; j < n; j++)
                check_compares(&ck, is64, a, special(is64, j));
        }
        for (int k = 0; k < 20000; k++) {
            uint64_t a = random_float(&r, is64, -1);
            uint64_t b = (k & 3) ? random_float(&r, is64, biased_exp(is64, a)) : a ^ (rng_next(&r) & 3);
            uint32_t cls = is64 ? f64_classify(a) : f32_classify((uint32_t)a);
            check_exact(&ck, "classify", is64, a, 0, 0, 0, cls, 0, ref_classify(is64, a), 0);
            check_compares(&ck, is64, a, b);
        }
    }
    /* fclass bit layout, spelled out */
    assert_int_equal(f32_classify(0xff800000), 0x001);
    assert_int_equal(f32_classify(0xbf800000), 0x002);
    assert_int_equal(f32_classify(0x807fffff), 0x004);
    assert_int_equal(f32_classify(0x80000000), 0x008);
    assert_int_equal(f32_classify(0x00000000), 0x010);
    assert_int_equal(f32_classify(0x00000001), 0x020);
    assert_int_equal(f32_classify(0x7f7fffff), 0x040);
    assert_int_equal(f32_classify(0x7f800000), 0x080);
    assert_int_equal(f32_classify(0x7f800001), 0x100);
    assert_int_equal(f32_classify(0x7fc00000), 0x200);
    assert_int_equal(f64_classify(0xfff8000000000000ull), 0x200);
    assert_int_equal(f64_classify(0x7ff0000000000001ull), 0x100);
    {
        uint32_t fl = 0;
        assert_int_equal(f32_min(0x00000000, 0x80000000, &fl), 0x80000000);
        assert_int_equal(f32_max(0x80000000, 0x00000000, &fl), 0x00000000);
        assert_int_equal(fl, 0);
        assert_int_equal(f32_min(0x7f800001, 0x3f800000, &fl), 0x3f800000);
        assert_int_equal(fl, FFLAG_NV);
        fl = 0;
        assert_int_equal(f32_max(0x7fc00000, 0xffc00000, &fl), F32_CANONICAL_NAN);
        assert_int_equal(fl, 0);
    }
    finish(&ck, "compare/minmax/classify");
}

/* ---- conversions ---- */

typedef struct IntFmt {
    bool is_signed;
    int width;
} IntFmt;

static const IntFmt int_fmts[4] = { { true, 32 }, { false, 32 }, { true, 64 }, { false, 64 } };

/* Expected float->int result as a sign-extended 64-bit pattern. */
static uint64_t ref_to_int(double x, IntFmt t, int rm, uint32_t *flags)
{
    double hi = ldexp(1.0, t.is_signed ? t.width - 1 : t.width); /* exclusive */
    double lo = t.is_signed ? -hi : 0.0;
    uint64_t max_bits = t.is_signed ? (t.width == 64 ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX)
                                    : (t.width == 64 ? UINT64_MAX : (uint64_t)UINT32_MAX);
    uint64_t min_bits = t.is_signed ? (uint64_t)(t.width == 64 ? INT64_MIN : (int64_t)INT32_MIN) : 0;
    /* Called through a volatile pointer: gcc's inline expansion of rint()
     * rounds |x| and restores the sign, which is wrong for RDN/RUP. */
    double (*volatile libm_rint)(double) = rint;
    volatile double vx = x, r;

    *flags = 0;
    if (isnan(x)) {
        *flags = FFLAG_NV;
        return max_bits;
    }
    if (rm == RM_RMM) {
        double t0 = trunc(x);
        if (fabs(x - t0) == 0.5)
            r = t0 + copysign(1.0, x);
        else {
            host_begin(FE_TONEAREST);
            r = libm_rint(vx);
            host_end();
        }
    } else {
        host_begin(host_modes[rm]);
        r = libm_rint(vx);
        host_end();
    }
    if (r >= hi) {
        *flags = FFLAG_NV;
        return max_bits;
    }
    if (r < lo) {
        *flags = FFLAG_NV;
        return min_bits;
    }
    if (r != x)
        *flags = FFLAG_NX;
    return t.is_signed ? (uint64_t)(int64_t)r : (uint64_t)r;
}

static uint64_t soft_to_int(bool is64, uint64_t a, IntFmt t, int rm, uint32_t *flags)
{
    if (t.width == 32 && t.is_signed)
        return (uint64_t)(int64_t)(is64 ? f64_to_i32(a, rm, flags) : f32_to_i32((uint32_t)a, rm, flags));
    if (t.width == 32)
        return is64 ? f64_to_u32(a, rm, flags) : f32_to_u32((uint32_t)a, rm, flags);
    if (t.is_signed)
        return (uint64_t)(is64 ? f64_to_i64(a, rm, flags) : f32_to_i64((uint32_t)a, rm, flags));
    return is64 ? f64_to_u64(a, rm, flags) : f32_to_u64((uint32_t)a, rm, flags);
}

static void check_to_int(Checker *ck, bool is64, uint64_t a)
{
    double x = is64 ? f64_of(a) : f32_of((uint32_t)a);
    for (int k = 0; k < 4; k++)
        for (int rm = RM_RNE; rm <= RM_RMM; rm++) {
            uint32_t fl = 0, want_fl;
            uint64_t got = soft_to_int(is64, a, int_fmts[k], rm, &fl);
            uint64_t want = ref_to_int(x, int_fmts[k], rm, &want_fl);
            check_exact(ck, int_fmts[k].is_signed ? (int_fmts[k].width == 32 ? "to_i32-" : "to_i64-")
                                                   : (int_fmts[k].width == 32 ? "to_u32-" : "to_u64-"),
                         is64, a, 0, 0, rm, got, fl, want, want_fl);
        }
}

/* Integer -> float via the host; for RMM decide ties in integer arithmetic. */
static uint64_t host_from_int(bool to64, IntFmt t, uint64_t v, int fe_mode, uint32_t *flags)
{
    volatile int64_t vi = (int64_t)v;
    volatile uint64_t vu = v;
    volatile double d = 0;
    volatile float f = 0;
    if (v == 0) { /* clang converts u64 0 to -0.0 in RDN (x - x), RISC-V gives +0 */
        *flags = 0;
        return 0;
    }
    host_begin(fe_mode);
    if (to64)
        d = t.is_signed ? (t.width == 32 ? (double)(int32_t)vi : (double)vi)
                        : (t.width == 32 ? (double)(uint32_t)vu : (double)vu);
    else
        f = t.is_signed ? (t.width == 32 ? (float)(int32_t)vi : (float)vi)
                        : (t.width == 32 ? (float)(uint32_t)vu : (float)vu);
    *flags = host_end();
    return to64 ? bits_f64(d) : bits_f32(f);
}

static void check_from_int(Checker *ck, bool to64, IntFmt t, uint64_t v)
{
    int p = to64 ? 53 : 24;
    bool negative = t.is_signed && (t.width == 32 ? (int32_t)v < 0 : (int64_t)v < 0);
    uint64_t mag = t.width == 32 ? (t.is_signed ? (uint64_t)(negative ? -(int64_t)(int32_t)v : (int32_t)v) : (uint32_t)v)
                                 : (negative ? 0 - v : v);
    bool tie = false;
    if (mag != 0 && 63 - __builtin_clzll(mag) >= p) {
        int shift = 63 - __builtin_clzll(mag) - (p - 1);
        tie = (mag & ((1ull << shift) - 1)) == 1ull << (shift - 1);
    }
    for (int rm = RM_RNE; rm <= RM_RMM; rm++) {
        uint32_t fl = 0, want_fl;
        uint64_t got;
        int fe_mode = rm == RM_RMM ? (tie ? (negative ? FE_DOWNWARD : FE_UPWARD) : FE_TONEAREST) : host_modes[rm];
        uint64_t want = host_from_int(to64, t, v, fe_mode, &want_fl);
        if (to64)
            got = t.is_signed ? (t.width == 32 ? i32_to_f64((int32_t)v, rm, &fl) : i64_to_f64((int64_t)v, rm, &fl))
                              : (t.width == 32 ? u32_to_f64((uint32_t)v, rm, &fl) : u64_to_f64(v, rm, &fl));
        else
            got = t.is_signed ? (t.width == 32 ? i32_to_f32((int32_t)v, rm, &fl) : i64_to_f32((int64_t)v, rm, &fl))
                              : (t.width == 32 ? u32_to_f32((uint32_t)v, rm, &fl) : u64_to_f32(v, rm, &fl));
        check_result(ck, "from_int-", to64, v, (uint64_t)t.width, t.is_signed, rm, got, fl, want, want_fl);
    }
}

static void check_f32_f64(Checker *ck, uint32_t a32, uint64_t a64)
{
    uint32_t fl = 0, want_fl;
    volatile float vf = f32_of(a32);
    volatile double vd = f64_of(a64), wd;
    volatile float wf;
    uint64_t got;

    /* widening: exact, one mode */
    got = f32_to_f64(a32, &fl);
    host_begin(FE_TONEAREST);
    wd = vf;
    want_fl = host_end();
    check_result(ck, "f32_to_f", true, a32, 0, 0, 0, got, fl, bits_f64(wd), want_fl);

    for (int rm = RM_RNE; rm <= RM_RMM; rm++) {
        int fe_mode = host_modes[rm < 4 ? rm : 0];
        if (rm == RM_RMM) {
            u128 sig;
            int exp;
            bool negative;
            if (decode_f64(a64, &sig, &exp, &negative) && is_midpoint(sig, exp, 24, -126))
                fe_mode = negative ? FE_DOWNWARD : FE_UPWARD;
        }
        fl = 0;
        got = f64_to_f32(a64, rm, &fl);
        host_begin(fe_mode);
        wf = vd;
        want_fl = host_end();
        check_result(ck, "f64_to_f", false, a64, 0, 0, rm, got, fl, bits_f32(wf), want_fl);
    }
}

static void test_conversions(void **state)
{
    Checker ck = { 0, 0 };
    Rng r = { 0xabcdef12345ull };
    static const uint64_t ints[] = {
        0, 1, 2, 3, 0x7fffffff, 0x80000000, 0x80000001, 0xffffffff, 0x100000000ull, 0xffffff, 0x1000000, 0x1000001,
        0x1000003, 0x2000002, 0x2000006, 0x7fffffffffffffffull, 0x8000000000000000ull, 0x8000000000000001ull,
        0xffffffffffffffffull, 0x20000000000001ull, 0x20000000000003ull, 0x40000000000002ull, 0xfffffffffffff800ull,
        0xfffffffffffffc00ull, 0xffffff7fffffffffull, 0xffffff8000000000ull, 0x7fffffbfffffffffull,
    };

    for (int is64 = 0; is64 < 2; is64++) {
        for (size_t i = 0; i < special_count(is64); i++)
            check_to_int(&ck, is64, special(is64, i));
        for (int k = 0; k < 15000; k++) {
            /* magnitudes mostly in the interesting range 2^-2 .. 2^66 */
            uint64_t a = random_float(&r, is64, (is64 ? 1023 : 127) + (int)(rng_next(&r) % 66));
            check_to_int(&ck, is64, a);
        }
        for (int k = 0; k < 4; k++) {
            for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
                check_from_int(&ck, is64, int_fmts[k], ints[i]);
                check_from_int(&ck, is64, int_fmts[k], 0 - ints[i]);
            }
            for (int j = 0; j < 5000; j++) {
                uint64_t v = rng_next(&r);
                v >>= rng_next(&r) % 64;
                if (j & 1)
                    v &= ~(rng_next(&r) >> (rng_next(&r) % 64)); /* sparse low bits: ties */
                check_from_int(&ck, is64, int_fmts[k], (j & 2) ? 0 - v : v);
            }
        }
    }

    for (size_t i = 0; i < special_count(false); i++)
        check_f32_f64(&ck, (uint32_t)special(false, i), special(true, i % special_count(true)));
    for (int k = 0; k < 30000; k++) {
        uint64_t a64 = random_float(&r, true, 1023 - 127 + (int)(rng_next(&r) % 300) - 24);
        if (k % 8 == 0)
            a64 &= ~0x1fffffffull | (rng_next(&r) & 0x10000000); /* ties at binary32 precision */
        check_f32_f64(&ck, (uint32_t)random_float(&r, false, -1), a64);
    }

    /* float -> int saturation table (RISC-V unprivileged spec, fcvt) */
    {
        uint32_t fl = 0;
        assert_int_equal(f32_to_i32(0x7fc00000, RM_RNE, &fl), INT32_MAX); assert_int_equal(fl, FFLAG_NV);
        fl = 0; assert_int_equal(f32_to_i32(0xffc00000, RM_RNE, &fl), INT32_MAX); assert_int_equal(fl, FFLAG_NV);
        fl = 0; assert_int_equal(f32_to_i32(0xff800000, RM_RNE, &fl), INT32_MIN); assert_int_equal(fl, FFLAG_NV);
        fl = 0; assert_int_equal(f32_to_i32(0x7f800000, RM_RNE, &fl), INT32_MAX); assert_int_equal(fl, FFLAG_NV);
        fl = 0; assert_int_equal(f32_to_u32(0xff800000, RM_RNE, &fl), 0); assert_int_equal(fl, FFLAG_NV);
        fl = 0; assert_int_equal(f32_to_u32(0x7fc00000, RM_RNE, &fl), UINT32_MAX); assert_int_equal(fl, FFLAG_NV);
        fl = 0; assert_true(f64_to_u64(0x7ff8000000000000ull, RM_RNE, &fl) == UINT64_MAX); assert_int_equal(fl, FFLAG_NV);
        fl = 0; assert_true(f64_to_i64(0xc3e0000000000000ull, RM_RNE, &fl) == INT64_MIN); assert_int_equal(fl, 0);
        fl = 0; assert_true(f64_to_i64(0x43e0000000000000ull, RM_RNE, &fl) == INT64_MAX); assert_int_equal(fl, FFLAG_NV);
        /* -0.3 -> unsigned: rounds to 0 (NX only) except RDN which gives -1 (NV) */
        fl = 0; assert_int_equal(f32_to_u32(0xbe99999a, RM_RTZ, &fl), 0); assert_int_equal(fl, FFLAG_NX);
        fl = 0; assert_int_equal(f32_to_u32(0xbe99999a, RM_RDN, &fl), 0); assert_int_equal(fl, FFLAG_NV);
        fl = 0; assert_int_equal(f32_to_u32(0xbf800000, RM_RTZ, &fl), 0); assert_int_equal(fl, FFLAG_NV);
        fl = 0; assert_int_equal(f32_to_u32(0x80000000, RM_RTZ, &fl), 0); assert_int_equal(fl, 0);
        /* RMM ties away from zero */
        fl = 0; assert_int_equal(f32_to_i32(0x40200000, RM_RMM, &fl), 3); assert_int_equal(fl, FFLAG_NX);
        fl = 0; assert_int_equal(f32_to_i32(0xc0200000, RM_RMM, &fl), -3); assert_int_equal(fl, FFLAG_NX);
        fl = 0; assert_int_equal(f32_to_i32(0x40200000, RM_RNE, &fl), 2); assert_int_equal(fl, FFLAG_NX);
        fl = 0; assert_int_equal(f32_to_u32(0xbf000000, RM_RMM, &fl), 0); assert_int_equal(fl, FFLAG_NV);
        fl = 0; assert_int_equal(f32_to_u32(0xbf000000, RM_RNE, &fl), 0); assert_int_equal(fl, FFLAG_NX);
        fl = 0; assert_int_equal(i32_to_f32(0x1000001, RM_RMM, &fl), 0x4b800001); assert_int_equal(fl, FFLAG_NX);
        fl = 0; assert_int_equal(i32_to_f32(0x1000001, RM_RNE, &fl), 0x4b800000); assert_int_equal(fl, FFLAG_NX);
        fl = 0; assert_true(f32_to_f64(0x7f800001, &fl) == F64_CANONICAL_NAN); assert_int_equal(fl, FFLAG_NV);
        fl = 0; assert_true(f32_to_f64(0xffc00001, &fl) == F64_CANONICAL_NAN); assert_int_equal(fl, 0);
        fl = 0; assert_int_equal(f64_to_f32(0x7ff0000000000001ull, RM_RNE, &fl), F32_CANONICAL_NAN); assert_int_equal(fl, FFLAG_NV);
        fl = 0; assert_int_equal(f64_to_f32(0x3690000000000000ull, RM_RMM, &fl), 1); assert_int_equal(fl, FFLAG_NX | FFLAG_UF);
        fl = 0; assert_int_equal(f64_to_f32(0x3690000000000000ull, RM_RNE, &fl), 0); assert_int_equal(fl, FFLAG_NX | FFLAG_UF);
    }
    finish(&ck, "conversions");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_cases),
        cmocka_unit_test(test_arith_specials32),
        cmocka_unit_test(test_arith_specials64),
        cmocka_unit_test(test_arith_random32),
        cmocka_unit_test(test_arith_random64),
        cmocka_unit_test(test_compare_minmax_classify),
        cmocka_unit_test(test_conversions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
