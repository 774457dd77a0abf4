/*
 * test_softfp_fast.c - softfp.c's host fast paths against its integer code.
 *
 * For every case the integer implementation (*_slow, the reference, itself
 * checked against the host in test_softfp.c) and the fast path (*_fast)
 * run on the same operands and rounding mode; when the fast path does not
 * decline, its result bits and flags must be identical, and the public
 * function (fast path, else integer code) must always equal the reference.
 * A declining fast path must leave the flags alone.
 *
 * Operands: random bit patterns; random normal numbers near 1 and across
 * the whole exponent range, with full, short and all-ones significands;
 * exponents at the edges of the fast paths' windows and of the format's
 * range (for products and quotients, the sum or difference of exponents at
 * an edge); and constructed hard cases: sums and products that are exact
 * ties or one unit off, quotients and square roots within a rounding
 * error of a midpoint, exact quotients and squares, and fused multiply-adds
 * whose addend cancels the product or lands the sum on a tie. Every case
 * runs in all five rounding modes.
 *
 * The default run does about eight million checks; SOFTFP_FAST_SCALE=N runs
 * N times as many (different operands). The generator has a fixed seed per
 * scale, so runs repeat.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/cpu/softfp.h"
#include "machine/cpu/softfp_fast.h"

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_SQRT, OP_MADD, OP_MSUB, OP_NMSUB, OP_NMADD, OP_COUNT };

static const char *const op_names[OP_COUNT] = { "add", "sub", "mul", "div", "sqrt", "madd", "msub", "nmsub", "nmadd" };

typedef struct Rng {
    uint64_t s;
} Rng;

/* splitmix64 */
static uint64_t rng_next(Rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int rng_range(Rng *r, int lo, int hi) { return lo + (int)(rng_next(r) % (uint64_t)(hi - lo + 1)); }

typedef struct Stats {
    uint64_t checks, fast;
} Stats;

/* A format: precision and exponent range. */
typedef struct Fmt {
    bool is64;
    int frac_bits, bias;
} Fmt;

static const Fmt F64 = { true, 52, 1023 };
static const Fmt F32 = { false, 23, 127 };

#define d_of softfp_double_of
#define bits_d softfp_bits_of

static float f_of(uint64_t b)
{
    uint32_t u = (uint32_t)b;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t bits_f(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* value <-> encoding in the format, through double (exact for binary32) */
static double val(const Fmt *f, uint64_t b) { return f->is64 ? d_of(b) : (double)f_of(b); }
static uint64_t enc(const Fmt *f, double v) { return f->is64 ? bits_d(v) : bits_f((float)v); }

/* A normal number with unbiased exponent e (clamped to the normal range)
 * and a significand of one of several shapes. */
static uint64_t gen_normal(const Fmt *f, Rng *r, int e)
{
    uint64_t frac_mask = (1ull << f->frac_bits) - 1, frac;
    int emax = f->bias, emin = 1 - f->bias;

    if (e < emin)
        e = emin;
    if (e > emax)
        e = emax;
    switch (rng_next(r) % 6) {
    case 0: frac = rng_next(r) >> rng_range(r, 0, 63); break;                      /* leading zeros */
    case 1: frac = rng_next(r) << rng_range(r, 0, f->frac_bits); break;            /* short significand */
    case 2: frac = frac_mask; break;                                                 /* all ones */
    case 3: frac = (rng_next(r) & rng_next(r) & rng_next(r)) << rng_range(r, 0, 30); /* sparse */ break;
    default: frac = rng_next(r); break;
    }
    frac &= frac_mask;
    return ((uint64_t)(rng_next(r) & 1) << (f->frac_bits + (f->is64 ? 11 : 8))) |
           ((uint64_t)(e + f->bias) << f->frac_bits) | frac;
}

static uint64_t gen_bits(const Fmt *f, Rng *r) { return f->is64 ? rng_next(r) : rng_next(r) >> 32; }

/* An exponent near an interesting edge of the format or of the windows. */
static int gen_edge_exp(const Fmt *f, Rng *r)
{
    static const int edges64[] = { -1022, -1000, -970, -918, -900, -52, 0, 52, 500, 1000, 1023 };
    static const int edges32[] = { -126, -124, -120, -100, -78, -23, 0, 23, 64, 124, 127 };
    const int *edges = f->is64 ? edges64 : edges32;
    return edges[rng_next(r) % 11] + rng_range(r, -4, 4);
}

static uint64_t neg(const Fmt *f, uint64_t b) { return b ^ (1ull << (f->is64 ? 63 : 31)); }

/* ---- running one case ---- */

static uint64_t run_slow(const Fmt *f, int op, uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *fl)
{
    bool np = op == OP_NMSUB || op == OP_NMADD, nc = op == OP_MSUB || op == OP_NMADD;
    if (f->is64) {
        switch (op) {
        case OP_ADD: return f64_add_slow(a, b, rm, fl);
        case OP_SUB: return f64_sub_slow(a, b, rm, fl);
        case OP_MUL: return f64_mul_slow(a, b, rm, fl);
        case OP_DIV: return f64_div_slow(a, b, rm, fl);
        case OP_SQRT: return f64_sqrt_slow(a, rm, fl);
        default: return f64_muladd_slow(a, b, c, np, nc, rm, fl);
        }
    }
    switch (op) {
    case OP_ADD: return f32_add_slow((sf32)a, (sf32)b, rm, fl);
    case OP_SUB: return f32_sub_slow((sf32)a, (sf32)b, rm, fl);
    case OP_MUL: return f32_mul_slow((sf32)a, (sf32)b, rm, fl);
    case OP_DIV: return f32_div_slow((sf32)a, (sf32)b, rm, fl);
    case OP_SQRT: return f32_sqrt_slow((sf32)a, rm, fl);
    default: return f32_muladd_slow((sf32)a, (sf32)b, (sf32)c, np, nc, rm, fl);
    }
}

static uint64_t run_fast(const Fmt *f, int op, uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *fl)
{
    bool np = op == OP_NMSUB || op == OP_NMADD, nc = op == OP_MSUB || op == OP_NMADD;
    if (f->is64) {
        switch (op) {
        case OP_ADD: return f64_add_fast(a, b, false, rm, fl);
        case OP_SUB: return f64_add_fast(a, b, true, rm, fl);
        case OP_MUL: return f64_mul_fast(a, b, rm, fl);
        case OP_DIV: return f64_div_fast(a, b, rm, fl);
        case OP_SQRT: return f64_sqrt_fast(a, rm, fl);
        default: return f64_muladd_fast(a, b, c, np, nc, rm, fl);
        }
    }
    switch (op) {
    case OP_ADD: return f32_add_fast(a, b, false, rm, fl);
    case OP_SUB: return f32_add_fast(a, b, true, rm, fl);
    case OP_MUL: return f32_mul_fast(a, b, rm, fl);
    case OP_DIV: return f32_div_fast(a, b, rm, fl);
    case OP_SQRT: return f32_sqrt_fast(a, rm, fl);
    default: return f32_muladd_fast(a, b, c, np, nc, rm, fl);
    }
}

static uint64_t run_public(const Fmt *f, int op, uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *fl)
{
    bool np = op == OP_NMSUB || op == OP_NMADD, nc = op == OP_MSUB || op == OP_NMADD;
    if (f->is64) {
        switch (op) {
        case OP_ADD: return f64_add(a, b, rm, fl);
        case OP_SUB: return f64_sub(a, b, rm, fl);
        case OP_MUL: return f64_mul(a, b, rm, fl);
        case OP_DIV: return f64_div(a, b, rm, fl);
        case OP_SQRT: return f64_sqrt(a, rm, fl);
        default: return f64_muladd(a, b, c, np, nc, rm, fl);
        }
    }
    switch (op) {
    case OP_ADD: return f32_add((sf32)a, (sf32)b, rm, fl);
    case OP_SUB: return f32_sub((sf32)a, (sf32)b, rm, fl);
    case OP_MUL: return f32_mul((sf32)a, (sf32)b, rm, fl);
    case OP_DIV: return f32_div((sf32)a, (sf32)b, rm, fl);
    case OP_SQRT: return f32_sqrt((sf32)a, rm, fl);
    default: return f32_muladd((sf32)a, (sf32)b, (sf32)c, np, nc, rm, fl);
    }
}

/* One case in all five rounding modes. */
static void check_case(const Fmt *f, int op, uint64_t a, uint64_t b, uint64_t c, Stats *st)
{
    for (int rm = RM_RNE; rm <= RM_RMM; rm++) {
        uint32_t fs = 0, ff = 0, fp = 0;
        uint64_t s = run_slow(f, op, a, b, c, rm, &fs);
        uint64_t x = softfp_host_fast_usable() ? run_fast(f, op, a, b, c, rm, &ff) : SOFTFP_DECLINED;
        uint64_t p = run_public(f, op, a, b, c, rm, &fp);

        st->checks++;
        if (x != SOFTFP_DECLINED)
            st->fast++;
        if ((x != SOFTFP_DECLINED && (x != s || ff != fs)) || (x == SOFTFP_DECLINED && ff != 0) || p != s ||
            fp != fs) {
            fail_msg("f%d %s rm=%d a=%#llx b=%#llx c=%#llx: slow %#llx/%#x fast %#llx/%#x public %#llx/%#x",
                     f->is64 ? 64 : 32, op_names[op], rm, (unsigned long long)a, (unsigned long long)b,
                     (unsigned long long)c, (unsigned long long)s, fs, (unsigned long long)x, ff,
                     (unsigned long long)p, fp);
        }
    }
}

/* ---- constructed hard cases ---- */

/* ulp of the normal encoding x, as a double */
static double ulp_of(const Fmt *f, uint64_t x)
{
    int e = (int)((x >> f->frac_bits) & (f->is64 ? 0x7ff : 0xff)) - f->bias;
    return ldexp(1.0, e - f->frac_bits);
}

/* b such that a + b is a tie or next to one: (k + 1/2 +- tiny) ulp(a) */
static uint64_t tie_addend(const Fmt *f, Rng *r, uint64_t a)
{
    double u = ulp_of(f, a), k = (double)rng_range(r, -3, 3), off = 0;
    if (rng_next(r) & 1)
        off = ldexp((rng_next(r) & 1) ? 1.0 : -1.0, -rng_range(r, 1, f->frac_bits + 2));
    return enc(f, (k + 0.5 + off) * u);
}

/* b making a * b (nearly) a tie: 1.5, 1 + 2^-j, 1 + 2^-j + 2^-i, scaled */
static uint64_t tie_factor(const Fmt *f, Rng *r)
{
    int j = rng_range(r, 1, f->frac_bits + 1), i = rng_range(r, 1, f->frac_bits + 1);
    double m;
    switch (rng_next(r) % 3) {
    case 0: m = 1.5; break;
    case 1: m = 1 + ldexp(1, -j); break;
    default: m = 1 + ldexp(1, -j) + ldexp(1, -i); break;
    }
    return enc(f, ldexp((rng_next(r) & 1) ? -m : m, rng_range(r, -20, 20)));
}

/* a such that a / b is within a rounding error of a midpoint: a = RN(m b)
 * for a midpoint m = q + ulp(q)/2, computed with one rounding. */
static uint64_t near_tie_dividend(const Fmt *f, Rng *r, uint64_t b)
{
    uint64_t q = gen_normal(f, r, rng_range(r, -8, 8));
    double qv = val(f, q), h = ulp_of(f, q) / 2, bv = val(f, b);
    if (f->is64)
        return bits_d(fma(qv, bv, h * bv));
    return bits_f((float)(qv * bv + h * bv)); /* exact in double, one rounding to float */
}

/* a near the square of a midpoint, or an exact square */
static uint64_t near_tie_square(const Fmt *f, Rng *r)
{
    uint64_t s = gen_normal(f, r, rng_range(r, -8, 8)) & ~(1ull << (f->is64 ? 63 : 31));
    double sv = val(f, s), h = ulp_of(f, s) / 2;
    if (rng_next(r) & 1) { /* exact square of a short significand */
        double t = ldexp(floor(ldexp(sv, f->frac_bits / 2 - 2)), -(f->frac_bits / 2 - 2));
        return enc(f, t * t);
    }
    if (f->is64)
        return bits_d(fma(sv, sv, fma(2 * h, sv, h * h)));
    return bits_f((float)((sv + h) * (sv + h))); /* exact in double */
}

/* c for a*b + c: cancellation, ties, or one unit around a tie */
static uint64_t fma_addend(const Fmt *f, Rng *r, uint64_t a, uint64_t b)
{
    double av = val(f, a), bv = val(f, b), ph, pl, u;
    uint64_t phb;

    if (f->is64) {
        ph = av * bv;
        pl = fma(av, bv, -ph);
    } else {
        double p = av * bv; /* exact */
        ph = (double)(float)p;
        pl = p - ph;
    }
    phb = enc(f, ph);
    if (isinf(ph) || ph == 0 || ((phb >> f->frac_bits) & (f->is64 ? 0x7ff : 0xff)) == 0)
        return gen_normal(f, r, rng_range(r, -20, 20));
    u = ulp_of(f, phb);
    switch (rng_next(r) % 6) {
    case 0: return enc(f, -ph);                                       /* X = pl */
    case 1: return enc(f, -ph + u * rng_range(r, -4, 4));             /* cancellation */
    case 2: return enc(f, u / 2 - pl);                                /* tie above ph */
    case 3: return enc(f, -u / 2 - pl + u * rng_range(r, -1, 1));     /* ties around */
    case 4: return enc(f, (u / 2 - pl) * (1 + ldexp(1, -rng_range(r, 1, 30)))); /* near tie */
    default: return neg(f, gen_normal(f, r, (int)((phb >> f->frac_bits) & (f->is64 ? 0x7ff : 0xff)) - f->bias +
                                                rng_range(r, -60, 60)));
    }
}

/* ---- generating cases per operation ---- */

static void gen_operands(const Fmt *f, Rng *r, int op, uint64_t *a, uint64_t *b, uint64_t *c)
{
    int kind = (int)(rng_next(r) % 8), emax = f->bias;

    *a = gen_normal(f, r, rng_range(r, -10, 10));
    *b = gen_normal(f, r, rng_range(r, -10, 10));
    *c = gen_normal(f, r, rng_range(r, -10, 10));
    switch (kind) {
    case 0: /* raw bits: NaNs, infinities, zeros, subnormals */
        *a = gen_bits(f, r);
        *b = gen_bits(f, r);
        *c = gen_bits(f, r);
        break;
    case 1: /* anywhere in the normal range */
        *a = gen_normal(f, r, rng_range(r, 1 - emax, emax));
        *b = gen_normal(f, r, rng_range(r, 1 - emax, emax));
        *c = gen_normal(f, r, rng_range(r, 1 - emax, emax));
        break;
    case 2: { /* edges: each exponent, or the sum / difference of two */
        int t = gen_edge_exp(f, r), ea = rng_range(r, -emax / 2, emax / 2);
        *a = gen_normal(f, r, ea);
        if (op == OP_MUL || op >= OP_MADD)
            *b = gen_normal(f, r, t - ea);
        else if (op == OP_DIV)
            *b = gen_normal(f, r, ea - t);
        else
            *a = gen_normal(f, r, t);
        if (op == OP_ADD || op == OP_SUB)
            *b = gen_normal(f, r, gen_edge_exp(f, r));
        *c = gen_normal(f, r, rng_next(r) & 1 ? gen_edge_exp(f, r) : t + rng_range(r, -60, 60));
        break;
    }
    case 3: /* same or adjacent exponents: cancellation */
        *b = gen_normal(f, r, (int)((*a >> f->frac_bits) & (f->is64 ? 0x7ff : 0xff)) - f->bias + rng_range(r, -1, 1));
        break;
    default: /* constructed hard cases */
        switch (op) {
        case OP_ADD:
        case OP_SUB: *b = tie_addend(f, r, *a); break;
        case OP_MUL: *b = tie_factor(f, r); break;
        case OP_DIV: *a = near_tie_dividend(f, r, *b); break;
        case OP_SQRT: *a = near_tie_square(f, r); break;
        default:
            if (rng_next(r) & 1)
                *b = tie_factor(f, r);
            *c = fma_addend(f, r, *a, *b);
            break;
        }
        break;
    }
}

static uint64_t scale(void)
{
    const char *s = getenv("SOFTFP_FAST_SCALE");
    long v = s ? strtol(s, NULL, 10) : 1;
    return v > 0 ? (uint64_t)v : 1;
}

static void run_op(const Fmt *f, int op, uint64_t cases)
{
    Rng r = { 0x5eed0000ull + (uint64_t)op * 977 + (f->is64 ? 1 : 0) + scale() * 0x100000001ull };
    Stats st = { 0, 0 };

    for (uint64_t i = 0; i < cases; i++) {
        uint64_t a, b, c;
        gen_operands(f, &r, op, &a, &b, &c);
        check_case(f, op, a, b, c, &st);
    }
    printf("  f%d %-5s %9llu checks, fast path taken in %5.1f%%\n", f->is64 ? 64 : 32, op_names[op],
           (unsigned long long)st.checks, 100.0 * (double)st.fast / (double)st.checks);
    if (softfp_host_fast_usable())
        assert_true(st.fast > 0);
}

#define CASES_PER_OP 90000

static void test_f64_fast_equals_slow(void **state)
{
    for (int op = 0; op < OP_COUNT; op++)
        run_op(&F64, op, CASES_PER_OP * scale());
}

static void test_f32_fast_equals_slow(void **state)
{
    for (int op = 0; op < OP_COUNT; op++)
        run_op(&F32, op, CASES_PER_OP * scale());
}

/* Hand-picked cases: exact cancellation signs, the smallest window edges,
 * RMM declines where a tie is possible. */
static void test_known_cases(void **state)
{
    Stats st = { 0, 0 };
    uint32_t fl = 0;

    /* 1 - 1 = +0, but -0 in RDN, in both formats and in fma */
    check_case(&F64, OP_SUB, 0x3ff0000000000000ull, 0x3ff0000000000000ull, 0, &st);
    check_case(&F32, OP_SUB, 0x3f800000u, 0x3f800000u, 0, &st);
    check_case(&F64, OP_MSUB, 0x4000000000000000ull, 0x3ff8000000000000ull, 0x4008000000000000ull, &st);
    check_case(&F32, OP_MSUB, 0x40000000u, 0x3fc00000u, 0x40400000u, &st);
    assert_int_equal(f64_sub(0x3ff0000000000000ull, 0x3ff0000000000000ull, RM_RDN, &fl), 0x8000000000000000ull);
    /* 1 + 2^-53 is a tie: RNE 1, RMM 1 + 2^-52 */
    check_case(&F64, OP_ADD, 0x3ff0000000000000ull, 0x3ca0000000000000ull, 0, &st);
    fl = 0;
    assert_int_equal(f64_add(0x3ff0000000000000ull, 0x3ca0000000000000ull, RM_RMM, &fl), 0x3ff0000000000001ull);
    assert_int_equal(fl, FFLAG_NX);
    /* sqrt(2), 1/3, max * 1, min normal / 2 */
    check_case(&F64, OP_SQRT, 0x4000000000000000ull, 0, 0, &st);
    check_case(&F64, OP_DIV, 0x3ff0000000000000ull, 0x4008000000000000ull, 0, &st);
    check_case(&F64, OP_MUL, 0x7fefffffffffffffull, 0x3ff0000000000000ull, 0, &st);
    check_case(&F64, OP_DIV, 0x0010000000000000ull, 0x4000000000000000ull, 0, &st);
    check_case(&F32, OP_DIV, 0x00800000u, 0x40000000u, 0, &st);
    /* inf and zero operands never pass a window (exponent sums could) */
    check_case(&F64, OP_MUL, 0x7ff0000000000000ull, 0, 0, &st);
    check_case(&F64, OP_DIV, 0x7ff0000000000000ull, 0x4100000000000000ull, 0, &st);
    check_case(&F64, OP_DIV, 0x3000000000000000ull, 0, 0, &st);
    check_case(&F64, OP_SQRT, 0x7ff0000000000000ull, 0, 0, &st);
    check_case(&F32, OP_MUL, 0x7f800000u, 0, 0, &st);
    check_case(&F32, OP_SQRT, 0x7f800000u, 0, 0, &st);
    check_case(&F64, OP_MADD, 0x7ff0000000000000ull, 0, 0x3ff0000000000000ull, &st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_cases),
        cmocka_unit_test(test_f64_fast_equals_slow),
        cmocka_unit_test(test_f32_fast_equals_slow),
    };
    printf("host fast paths %s\n", softfp_host_fast_usable() ? "usable" : "not usable: checking the fallback only");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
