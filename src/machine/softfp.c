/*
 * softfp.c - bit-exact IEEE 754 binary32/binary64 arithmetic for the RISC-V
 * F and D extensions, using integer arithmetic only.
 *
 * Both formats share one implementation parameterised by a FloatFormat
 * (fraction and exponent widths); encodings travel in a uint64_t whose
 * unused high bits are zero for binary32.
 *
 * Invariants:
 *  - No host floating point: the result and flags depend only on the
 *    operand bits and the rounding mode, so record and replay agree on any
 *    host and under any compiler flags.
 *  - A finite nonzero value is handled as (sign, exp, sig) meaning
 *    (-1)^sign * sig * 2^exp with sig an integer; every operation computes
 *    either the exact result or a result whose lowest bit is a "sticky" bit
 *    far below the rounding position, and then round_pack() rounds once.
 *  - Every NaN produced is the canonical NaN; NaN payloads never propagate.
 *  - Tininess is detected after rounding, and UF is raised only for tiny
 *    and inexact results, as RISC-V requires.
 */
#include "machine/softfp.h"

#include <assert.h>

typedef unsigned __int128 u128;

/* The format-generic core is forced inline into each public entry point, so
 * every operation is compiled for one constant format (shifts and masks
 * become immediates) and the hot paths have no calls. */
#define SF_INLINE static inline __attribute__((always_inline))

typedef struct FloatFormat {
    int frac_bits; /* stored fraction bits: 23 or 52 */
    int exp_bits;  /* exponent field width: 8 or 11 */
} FloatFormat;

static const FloatFormat FMT32 = { 23, 8 };
static const FloatFormat FMT64 = { 52, 11 };

static inline int fmt_bias(const FloatFormat *f) { return (1 << (f->exp_bits - 1)) - 1; }
static inline int fmt_emin(const FloatFormat *f) { return 1 - fmt_bias(f); }
static inline int fmt_emax(const FloatFormat *f) { return fmt_bias(f); }
static inline uint64_t fmt_exp_all_ones(const FloatFormat *f) { return (1ull << f->exp_bits) - 1; }
static inline uint64_t fmt_frac_mask(const FloatFormat *f) { return (1ull << f->frac_bits) - 1; }
static inline uint64_t fmt_sign_bit(const FloatFormat *f) { return 1ull << (f->frac_bits + f->exp_bits); }

static inline uint64_t fmt_sign(const FloatFormat *f, bool sign) { return sign ? fmt_sign_bit(f) : 0; }
static inline uint64_t fmt_zero(const FloatFormat *f, bool sign) { return fmt_sign(f, sign); }

static inline uint64_t fmt_inf(const FloatFormat *f, bool sign)
{
    return fmt_sign(f, sign) | (fmt_exp_all_ones(f) << f->frac_bits);
}

static inline uint64_t fmt_max_finite(const FloatFormat *f, bool sign)
{
    return fmt_sign(f, sign) | ((fmt_exp_all_ones(f) - 1) << f->frac_bits) | fmt_frac_mask(f);
}

static inline uint64_t fmt_canonical_nan(const FloatFormat *f)
{
    return (fmt_exp_all_ones(f) << f->frac_bits) | (1ull << (f->frac_bits - 1));
}

typedef enum FloatClass {
    FC_ZERO,
    FC_SUBNORMAL,
    FC_NORMAL,
    FC_INF,
    FC_QNAN,
    FC_SNAN,
} FloatClass;

typedef struct Unpacked {
    FloatClass cls;
    bool sign;
    int exp;      /* finite nonzero: value = sig * 2^exp */
    uint64_t sig; /* finite nonzero: integer significand, hidden bit included */
} Unpacked;

SF_INLINE Unpacked unpack(const FloatFormat *f, uint64_t bits)
{
    Unpacked u = { FC_ZERO, false, 0, 0 };
    uint64_t biased = (bits >> f->frac_bits) & fmt_exp_all_ones(f);
    uint64_t frac = bits & fmt_frac_mask(f);

    assert((bits & ~(fmt_sign_bit(f) * 2 - 1)) == 0);
    u.sign = (bits & fmt_sign_bit(f)) != 0;
    if (biased == fmt_exp_all_ones(f)) {
        if (frac == 0)
            u.cls = FC_INF;
        else
            u.cls = (frac >> (f->frac_bits - 1)) ? FC_QNAN : FC_SNAN;
    } else if (biased == 0) {
        if (frac != 0) {
            u.cls = FC_SUBNORMAL;
            u.sig = frac;
            u.exp = fmt_emin(f) - f->frac_bits;
        }
    } else {
        u.cls = FC_NORMAL;
        u.sig = frac | (1ull << f->frac_bits);
        u.exp = (int)biased - fmt_bias(f) - f->frac_bits;
    }
    return u;
}

static inline bool is_nan(const Unpacked *u) { return u->cls == FC_QNAN || u->cls == FC_SNAN; }
static inline bool is_finite_nonzero(const Unpacked *u) { return u->cls == FC_SUBNORMAL || u->cls == FC_NORMAL; }

/* Index of the highest set bit; v must be nonzero. */
SF_INLINE int u128_msb(u128 v)
{
    uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;
    assert(v != 0);
    return hi ? 127 - __builtin_clzll(hi) : 63 - __builtin_clzll(lo);
}

/* Shift right by `shift`, OR-ing every bit shifted out into bit 0 (sticky),
 * so later rounding still sees that the value was inexact. */
SF_INLINE u128 shift_right_jam(u128 v, int shift)
{
    if (shift <= 0)
        return v;
    if (shift >= 128)
        return v != 0;
    return (v >> shift) | ((v & (((u128)1 << shift) - 1)) != 0);
}

/* Move the leading bit of *sig to bit `target`, adjusting *exp so that the
 * value sig * 2^exp is unchanged. Only used where the shift is leftwards. */
SF_INLINE void normalize_to(u128 *sig, int *exp, int target)
{
    int shift = target - u128_msb(*sig);
    assert(shift >= 0);
    *sig <<= shift;
    *exp -= shift;
}

/* sig / 2^shift rounded to an integer per rm; `sign` is the sign of the
 * value (matters for RDN/RUP). A shift <= 0 is an exact left shift which the
 * caller guarantees does not overflow. */
SF_INLINE u128 shift_round(u128 sig, int shift, bool sign, int rm, bool *inexact)
{
    u128 q;
    bool round_bit, sticky, up;

    if (shift <= 0) {
        *inexact = false;
        return sig << -shift;
    }
    if (shift > 128) {
        q = 0;
        round_bit = false;
        sticky = sig != 0;
    } else if (shift == 128) {
        q = 0;
        round_bit = (sig >> 127) != 0;
        sticky = (sig << 1) != 0;
    } else {
        q = sig >> shift;
        round_bit = ((sig >> (shift - 1)) & 1) != 0;
        sticky = (sig & (((u128)1 << (shift - 1)) - 1)) != 0;
    }
    *inexact = round_bit || sticky;
    switch (rm) {
    case RM_RTZ: up = false; break;
    case RM_RDN: up = sign && *inexact; break;
    case RM_RUP: up = !sign && *inexact; break;
    case RM_RMM: up = round_bit; break;
    default:
        /* RM_DYN and the reserved encodings must be resolved or rejected
         * (illegal instruction) by the caller before reaching here. */
        assert(rm == RM_RNE);
        up = round_bit && (sticky || (q & 1));
        break;
    }
    return q + up;
}

static uint64_t overflow_result(const FloatFormat *f, bool sign, int rm, uint32_t *flags)
{
    bool to_inf = rm == RM_RNE || rm == RM_RMM || (rm == RM_RDN && sign) || (rm == RM_RUP && !sign);
    *flags |= FFLAG_OF | FFLAG_NX;
    return to_inf ? fmt_inf(f, sign) : fmt_max_finite(f, sign);
}

/* Round (-1)^sign * sig * 2^exp (sig != 0; bit 0 may be a sticky bit as
 * long as it lies below the rounding position) to format f. */
SF_INLINE uint64_t round_pack(const FloatFormat *f, bool sign, int exp, u128 sig, int rm, uint32_t *flags)
{
    int msb = u128_msb(sig);
    int e = msb + exp; /* unbiased exponent of the leading bit */
    int emin = fmt_emin(f);
    bool inexact;
    u128 q;

    if (e >= emin) {
        q = shift_round(sig, msb - f->frac_bits, sign, rm, &inexact);
        if (q >> (f->frac_bits + 1)) { /* rounded up to the next power of two */
            q >>= 1;
            e++;
        }
        if (e > fmt_emax(f))
            return overflow_result(f, sign, rm, flags);
        if (inexact)
            *flags |= FFLAG_NX;
        return fmt_sign(f, sign) | ((uint64_t)(e + fmt_bias(f)) << f->frac_bits) |
               ((uint64_t)q & fmt_frac_mask(f));
    }

    /* Below the normal range: round on the subnormal grid, whose last bit
     * weighs 2^(emin - frac_bits). */
    q = shift_round(sig, emin - f->frac_bits - exp, sign, rm, &inexact);
    if (inexact) {
        /* Tiny after rounding: the value rounded to full precision with an
         * unbounded exponent is still below 2^emin. Only a value just
         * under 2^emin can round up to it. */
        bool tiny = true;
        if (e == emin - 1) {
            bool unused;
            u128 full = shift_round(sig, msb - f->frac_bits, sign, rm, &unused);
            tiny = (full >> (f->frac_bits + 1)) == 0;
        }
        *flags |= FFLAG_NX | (tiny ? FFLAG_UF : 0);
    }
    /* q == 2^frac_bits (rounded up to the smallest normal) encodes right. */
    assert(q <= ((u128)1 << f->frac_bits));
    return fmt_sign(f, sign) | (uint64_t)q;
}

/* NaN result of an operation: NV if any input was signalling. */
static uint64_t nan_result(const FloatFormat *f, bool signalling_input, uint32_t *flags)
{
    if (signalling_input)
        *flags |= FFLAG_NV;
    return fmt_canonical_nan(f);
}

static uint64_t invalid_result(const FloatFormat *f, uint32_t *flags)
{
    *flags |= FFLAG_NV;
    return fmt_canonical_nan(f);
}

/* Exact zero from adding two values of opposite sign: +0 except in RDN. */
static uint64_t exact_zero_sum(const FloatFormat *f, int rm)
{
    return fmt_zero(f, rm == RM_RDN);
}

/* Width at which add_aligned() expects its significands: 125 bits leaves
 * room for a carry, and because no operand carries more than 106
 * significant bits the low bits are zero, which makes the sticky-bit
 * alignment below exact enough (see the comment there). */
#define SUM_LEAD_BIT 124

/* (-1)^sx * mx * 2^ex + (-1)^sy * my * 2^ey, rounded once. Both mx and my
 * have their leading bit at SUM_LEAD_BIT and bits 0..1 clear. */
SF_INLINE uint64_t add_aligned(const FloatFormat *f, bool sx, int ex, u128 mx, bool sy, int ey, u128 my, int rm,
                            uint32_t *flags)
{
    u128 sum;
    int d;

    assert(u128_msb(mx) == SUM_LEAD_BIT && u128_msb(my) == SUM_LEAD_BIT);
    assert((mx & 3) == 0 && (my & 3) == 0);
    if (ex < ey || (ex == ey && mx < my)) { /* make x the larger magnitude */
        bool ts = sx; int te = ex; u128 tm = mx;
        sx = sy; ex = ey; mx = my;
        sy = ts; ey = te; my = tm;
    }
    /* When d >= 2 even a subtraction leaves the leading bit at 122 or
     * above, so rounding happens at bit 70 or higher and a sticky bit in
     * bit 0 is rounded exactly like the bits it stands for (mx has bit 0
     * clear, so the difference is odd and never looks like a tie or an
     * exact value). When d <= 1 the shift loses nothing. */
    d = ex - ey;
    my = shift_right_jam(my, d);
    if (sx == sy) {
        sum = mx + my;
    } else {
        sum = mx - my;
        if (sum == 0)
            return exact_zero_sum(f, rm);
    }
    return round_pack(f, sx, ex, sum, rm, flags);
}

SF_INLINE uint64_t fp_add(const FloatFormat *f, uint64_t a, uint64_t b, bool negate_b, int rm, uint32_t *flags)
{
    Unpacked ua = unpack(f, a), ub = unpack(f, b);
    u128 ma, mb;

    if (negate_b)
        ub.sign = !ub.sign;
    if (is_nan(&ua) || is_nan(&ub))
        return nan_result(f, ua.cls == FC_SNAN || ub.cls == FC_SNAN, flags);
    if (ua.cls == FC_INF || ub.cls == FC_INF) {
        if (ua.cls == FC_INF && ub.cls == FC_INF && ua.sign != ub.sign)
            return invalid_result(f, flags);
        return fmt_inf(f, ua.cls == FC_INF ? ua.sign : ub.sign);
    }
    if (ua.cls == FC_ZERO && ub.cls == FC_ZERO)
        return ua.sign == ub.sign ? fmt_zero(f, ua.sign) : exact_zero_sum(f, rm);
    if (ua.cls == FC_ZERO)
        return b ^ fmt_sign(f, negate_b);
    if (ub.cls == FC_ZERO)
        return a;
    ma = ua.sig;
    mb = ub.sig;
    normalize_to(&ma, &ua.exp, SUM_LEAD_BIT);
    normalize_to(&mb, &ub.exp, SUM_LEAD_BIT);
    return add_aligned(f, ua.sign, ua.exp, ma, ub.sign, ub.exp, mb, rm, flags);
}

SF_INLINE uint64_t fp_mul(const FloatFormat *f, uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    Unpacked ua = unpack(f, a), ub = unpack(f, b);
    bool sign = ua.sign != ub.sign;

    if (is_nan(&ua) || is_nan(&ub))
        return nan_result(f, ua.cls == FC_SNAN || ub.cls == FC_SNAN, flags);
    if (ua.cls == FC_INF || ub.cls == FC_INF) {
        if (ua.cls == FC_ZERO || ub.cls == FC_ZERO)
            return invalid_result(f, flags);
        return fmt_inf(f, sign);
    }
    if (ua.cls == FC_ZERO || ub.cls == FC_ZERO)
        return fmt_zero(f, sign);
    /* The product of two significands of at most 53 bits is exact. */
    return round_pack(f, sign, ua.exp + ub.exp, (u128)ua.sig * ub.sig, rm, flags);
}

SF_INLINE uint64_t fp_div(const FloatFormat *f, uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    Unpacked ua = unpack(f, a), ub = unpack(f, b);
    bool sign = ua.sign != ub.sign;
    u128 na, nb, quotient;
    uint64_t divisor;

    if (is_nan(&ua) || is_nan(&ub))
        return nan_result(f, ua.cls == FC_SNAN || ub.cls == FC_SNAN, flags);
    if (ua.cls == FC_INF)
        return ub.cls == FC_INF ? invalid_result(f, flags) : fmt_inf(f, sign);
    if (ub.cls == FC_INF)
        return fmt_zero(f, sign);
    if (ub.cls == FC_ZERO) {
        if (ua.cls == FC_ZERO)
            return invalid_result(f, flags);
        *flags |= FFLAG_DZ;
        return fmt_inf(f, sign);
    }
    if (ua.cls == FC_ZERO)
        return fmt_zero(f, sign);

    /* With both significands' leading bit at bit 63 the quotient of
     * (na << 64) / nb lies in (2^63, 2^65): at least 64 good bits, and a
     * nonzero remainder becomes the sticky bit. */
    na = ua.sig;
    nb = ub.sig;
    normalize_to(&na, &ua.exp, 63);
    normalize_to(&nb, &ub.exp, 63);
    divisor = (uint64_t)nb;
    quotient = (na << 64) / divisor;
    quotient |= ((na << 64) % divisor) != 0;
    return round_pack(f, sign, ua.exp - ub.exp - 64, quotient, rm, flags);
}

/* floor(sqrt(v)) by the digit-by-digit method; *exact says whether the
 * root had no remainder. */
static u128 u128_isqrt(u128 v, bool *exact)
{
    u128 rem = v, root = 0, bit = (u128)1 << 126;

    while (bit > rem)
        bit >>= 2;
    while (bit != 0) {
        if (rem >= root + bit) {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    *exact = rem == 0;
    return root;
}

SF_INLINE uint64_t fp_sqrt(const FloatFormat *f, uint64_t a, int rm, uint32_t *flags)
{
    Unpacked ua = unpack(f, a);
    u128 m, root;
    bool exact;
    int exp;

    if (is_nan(&ua))
        return nan_result(f, ua.cls == FC_SNAN, flags);
    if (ua.cls == FC_ZERO)
        return a; /* sqrt(-0) = -0 */
    if (ua.sign)
        return invalid_result(f, flags);
    if (ua.cls == FC_INF)
        return a;

    /* Scale the radicand to 125 or 126 bits with an even exponent, giving
     * a 63-bit root; the remainder becomes the sticky bit. */
    m = ua.sig;
    exp = ua.exp;
    normalize_to(&m, &exp, SUM_LEAD_BIT);
    if (exp & 1) {
        m <<= 1;
        exp--;
    }
    root = u128_isqrt(m, &exact);
    return round_pack(f, false, exp / 2, root | !exact, rm, flags);
}

SF_INLINE uint64_t fp_muladd(const FloatFormat *f, uint64_t a, uint64_t b, uint64_t c, bool negate_product,
                          bool negate_addend, int rm, uint32_t *flags)
{
    Unpacked ua = unpack(f, a), ub = unpack(f, b), uc = unpack(f, c);
    bool product_sign = (ua.sign != ub.sign) != negate_product;
    bool product_invalid = (ua.cls == FC_INF && ub.cls == FC_ZERO) || (ua.cls == FC_ZERO && ub.cls == FC_INF);
    u128 product, addend;
    int product_exp;

    if (negate_addend)
        uc.sign = !uc.sign;
    /* RISC-V raises NV for inf * 0 even when the addend is a quiet NaN. */
    if (is_nan(&ua) || is_nan(&ub) || is_nan(&uc))
        return nan_result(f, ua.cls == FC_SNAN || ub.cls == FC_SNAN || uc.cls == FC_SNAN || product_invalid, flags);
    if (product_invalid)
        return invalid_result(f, flags);
    if (ua.cls == FC_INF || ub.cls == FC_INF) {
        if (uc.cls == FC_INF && uc.sign != product_sign)
            return invalid_result(f, flags);
        return fmt_inf(f, product_sign);
    }
    if (uc.cls == FC_INF)
        return fmt_inf(f, uc.sign);
    if (ua.cls == FC_ZERO || ub.cls == FC_ZERO) {
        if (uc.cls == FC_ZERO)
            return uc.sign == product_sign ? fmt_zero(f, product_sign) : exact_zero_sum(f, rm);
        return c ^ fmt_sign(f, negate_addend);
    }

    product = (u128)ua.sig * ub.sig; /* exact, at most 106 bits */
    product_exp = ua.exp + ub.exp;
    if (uc.cls == FC_ZERO)
        return round_pack(f, product_sign, product_exp, product, rm, flags);
    addend = uc.sig;
    normalize_to(&product, &product_exp, SUM_LEAD_BIT);
    normalize_to(&addend, &uc.exp, SUM_LEAD_BIT);
    return add_aligned(f, product_sign, product_exp, product, uc.sign, uc.exp, addend, rm, flags);
}

/* Map a non-NaN encoding to an unsigned key whose order is the numeric
 * order, with -0 < +0. */
static uint64_t order_key(const FloatFormat *f, uint64_t bits)
{
    uint64_t all = fmt_sign_bit(f) * 2 - 1;
    return (bits & fmt_sign_bit(f)) ? ~bits & all : bits | fmt_sign_bit(f);
}

static uint64_t fp_minmax(const FloatFormat *f, uint64_t a, uint64_t b, bool want_max, uint32_t *flags)
{
    Unpacked ua = unpack(f, a), ub = unpack(f, b);

    if (ua.cls == FC_SNAN || ub.cls == FC_SNAN)
        *flags |= FFLAG_NV;
    if (is_nan(&ua) && is_nan(&ub))
        return fmt_canonical_nan(f);
    if (is_nan(&ua))
        return b;
    if (is_nan(&ub))
        return a;
    if (want_max)
        return order_key(f, a) >= order_key(f, b) ? a : b;
    return order_key(f, a) <= order_key(f, b) ? a : b;
}

/* Compare two encodings: returns -1, 0, 1, or 2 when unordered (a NaN).
 * Raises NV for signalling NaNs, or for any NaN when `signaling`. */
static int fp_compare(const FloatFormat *f, uint64_t a, uint64_t b, bool signaling, uint32_t *flags)
{
    Unpacked ua = unpack(f, a), ub = unpack(f, b);
    uint64_t ka, kb;

    if (is_nan(&ua) || is_nan(&ub)) {
        if (signaling || ua.cls == FC_SNAN || ub.cls == FC_SNAN)
            *flags |= FFLAG_NV;
        return 2;
    }
    if (ua.cls == FC_ZERO && ub.cls == FC_ZERO)
        return 0; /* +0 == -0 */
    ka = order_key(f, a);
    kb = order_key(f, b);
    return ka < kb ? -1 : ka > kb;
}

static uint32_t fp_classify(const FloatFormat *f, uint64_t a)
{
    Unpacked u = unpack(f, a);

    switch (u.cls) {
    case FC_INF: return u.sign ? 1u << 0 : 1u << 7;
    case FC_NORMAL: return u.sign ? 1u << 1 : 1u << 6;
    case FC_SUBNORMAL: return u.sign ? 1u << 2 : 1u << 5;
    case FC_ZERO: return u.sign ? 1u << 3 : 1u << 4;
    case FC_SNAN: return 1u << 8;
    case FC_QNAN: return 1u << 9;
    }
    assert(0);
    return 0;
}

/* Float to integer of `width` bits, returned as the two's complement bit
 * pattern in a uint64_t. Out of range and NaN saturate with NV only. */
static uint64_t fp_to_int(const FloatFormat *f, uint64_t a, bool is_signed, int width, int rm, uint32_t *flags)
{
    Unpacked u = unpack(f, a);
    uint64_t max_positive, max_negative_magnitude, limit;
    u128 magnitude;
    bool inexact;

    assert(width == 32 || width == 64);
    if (is_signed) {
        max_positive = (1ull << (width - 1)) - 1;
        max_negative_magnitude = 1ull << (width - 1);
    } else {
        max_positive = width == 64 ? ~0ull : (1ull << width) - 1;
        max_negative_magnitude = 0;
    }
    if (is_nan(&u)) {
        *flags |= FFLAG_NV;
        return max_positive;
    }
    if (u.cls == FC_ZERO)
        return 0;
    limit = u.sign ? max_negative_magnitude : max_positive;
    /* exp > 64 means |a| >= 2^65, out of every range; otherwise sig << exp
     * fits in 53 + 64 bits. */
    if (u.cls == FC_INF || u.exp > 64) {
        magnitude = (u128)limit + 1;
        inexact = false;
    } else {
        magnitude = shift_round(u.sig, -u.exp, u.sign, rm, &inexact);
    }
    if (magnitude > limit) {
        *flags |= FFLAG_NV;
        return u.sign ? 0 - max_negative_magnitude : max_positive;
    }
    if (inexact)
        *flags |= FFLAG_NX;
    return u.sign ? 0 - (uint64_t)magnitude : (uint64_t)magnitude;
}

static uint64_t int_to_fp(const FloatFormat *f, bool negative, uint64_t magnitude, int rm, uint32_t *flags)
{
    if (magnitude == 0)
        return fmt_zero(f, false);
    return round_pack(f, negative, 0, magnitude, rm, flags);
}

/* Conversion between formats: exact when widening, rounded when narrowing. */
static uint64_t fp_convert(const FloatFormat *to, const FloatFormat *from, uint64_t a, int rm, uint32_t *flags)
{
    Unpacked u = unpack(from, a);

    switch (u.cls) {
    case FC_SNAN:
    case FC_QNAN: return nan_result(to, u.cls == FC_SNAN, flags);
    case FC_INF: return fmt_inf(to, u.sign);
    case FC_ZERO: return fmt_zero(to, u.sign);
    case FC_SUBNORMAL:
    case FC_NORMAL: break;
    }
    assert(is_finite_nonzero(&u));
    return round_pack(to, u.sign, u.exp, u.sig, rm, flags);
}

/* ---- public binary32 interface ---- */

sf32 f32_add(sf32 a, sf32 b, int rm, uint32_t *flags) { return (sf32)fp_add(&FMT32, a, b, false, rm, flags); }
sf32 f32_sub(sf32 a, sf32 b, int rm, uint32_t *flags) { return (sf32)fp_add(&FMT32, a, b, true, rm, flags); }
sf32 f32_mul(sf32 a, sf32 b, int rm, uint32_t *flags) { return (sf32)fp_mul(&FMT32, a, b, rm, flags); }
sf32 f32_div(sf32 a, sf32 b, int rm, uint32_t *flags) { return (sf32)fp_div(&FMT32, a, b, rm, flags); }
sf32 f32_sqrt(sf32 a, int rm, uint32_t *flags) { return (sf32)fp_sqrt(&FMT32, a, rm, flags); }

sf32 f32_muladd(sf32 a, sf32 b, sf32 c, bool negate_product, bool negate_addend, int rm, uint32_t *flags)
{
    return (sf32)fp_muladd(&FMT32, a, b, c, negate_product, negate_addend, rm, flags);
}

sf32 f32_min(sf32 a, sf32 b, uint32_t *flags) { return (sf32)fp_minmax(&FMT32, a, b, false, flags); }
sf32 f32_max(sf32 a, sf32 b, uint32_t *flags) { return (sf32)fp_minmax(&FMT32, a, b, true, flags); }
bool f32_eq(sf32 a, sf32 b, uint32_t *flags) { return fp_compare(&FMT32, a, b, false, flags) == 0; }
bool f32_lt(sf32 a, sf32 b, uint32_t *flags) { return fp_compare(&FMT32, a, b, true, flags) == -1; }

bool f32_le(sf32 a, sf32 b, uint32_t *flags)
{
    int c = fp_compare(&FMT32, a, b, true, flags);
    return c == -1 || c == 0;
}

uint32_t f32_classify(sf32 a) { return fp_classify(&FMT32, a); }

/* ---- public binary64 interface ---- */

sf64 f64_add(sf64 a, sf64 b, int rm, uint32_t *flags) { return fp_add(&FMT64, a, b, false, rm, flags); }
sf64 f64_sub(sf64 a, sf64 b, int rm, uint32_t *flags) { return fp_add(&FMT64, a, b, true, rm, flags); }
sf64 f64_mul(sf64 a, sf64 b, int rm, uint32_t *flags) { return fp_mul(&FMT64, a, b, rm, flags); }
sf64 f64_div(sf64 a, sf64 b, int rm, uint32_t *flags) { return fp_div(&FMT64, a, b, rm, flags); }
sf64 f64_sqrt(sf64 a, int rm, uint32_t *flags) { return fp_sqrt(&FMT64, a, rm, flags); }

sf64 f64_muladd(sf64 a, sf64 b, sf64 c, bool negate_product, bool negate_addend, int rm, uint32_t *flags)
{
    return fp_muladd(&FMT64, a, b, c, negate_product, negate_addend, rm, flags);
}

sf64 f64_min(sf64 a, sf64 b, uint32_t *flags) { return fp_minmax(&FMT64, a, b, false, flags); }
sf64 f64_max(sf64 a, sf64 b, uint32_t *flags) { return fp_minmax(&FMT64, a, b, true, flags); }
bool f64_eq(sf64 a, sf64 b, uint32_t *flags) { return fp_compare(&FMT64, a, b, false, flags) == 0; }
bool f64_lt(sf64 a, sf64 b, uint32_t *flags) { return fp_compare(&FMT64, a, b, true, flags) == -1; }

bool f64_le(sf64 a, sf64 b, uint32_t *flags)
{
    int c = fp_compare(&FMT64, a, b, true, flags);
    return c == -1 || c == 0;
}

uint32_t f64_classify(sf64 a) { return fp_classify(&FMT64, a); }

/* ---- conversions ---- */

int32_t f32_to_i32(sf32 a, int rm, uint32_t *flags) { return (int32_t)(uint32_t)fp_to_int(&FMT32, a, true, 32, rm, flags); }
uint32_t f32_to_u32(sf32 a, int rm, uint32_t *flags) { return (uint32_t)fp_to_int(&FMT32, a, false, 32, rm, flags); }
int64_t f32_to_i64(sf32 a, int rm, uint32_t *flags) { return (int64_t)fp_to_int(&FMT32, a, true, 64, rm, flags); }
uint64_t f32_to_u64(sf32 a, int rm, uint32_t *flags) { return fp_to_int(&FMT32, a, false, 64, rm, flags); }
int32_t f64_to_i32(sf64 a, int rm, uint32_t *flags) { return (int32_t)(uint32_t)fp_to_int(&FMT64, a, true, 32, rm, flags); }
uint32_t f64_to_u32(sf64 a, int rm, uint32_t *flags) { return (uint32_t)fp_to_int(&FMT64, a, false, 32, rm, flags); }
int64_t f64_to_i64(sf64 a, int rm, uint32_t *flags) { return (int64_t)fp_to_int(&FMT64, a, true, 64, rm, flags); }
uint64_t f64_to_u64(sf64 a, int rm, uint32_t *flags) { return fp_to_int(&FMT64, a, false, 64, rm, flags); }

/* Magnitude of a signed integer without overflowing on the minimum. */
static uint64_t abs_i64(int64_t a) { return a < 0 ? 0 - (uint64_t)a : (uint64_t)a; }

sf32 i32_to_f32(int32_t a, int rm, uint32_t *flags) { return (sf32)int_to_fp(&FMT32, a < 0, abs_i64(a), rm, flags); }
sf32 u32_to_f32(uint32_t a, int rm, uint32_t *flags) { return (sf32)int_to_fp(&FMT32, false, a, rm, flags); }
sf32 i64_to_f32(int64_t a, int rm, uint32_t *flags) { return (sf32)int_to_fp(&FMT32, a < 0, abs_i64(a), rm, flags); }
sf32 u64_to_f32(uint64_t a, int rm, uint32_t *flags) { return (sf32)int_to_fp(&FMT32, false, a, rm, flags); }
sf64 i32_to_f64(int32_t a, int rm, uint32_t *flags) { return int_to_fp(&FMT64, a < 0, abs_i64(a), rm, flags); }
sf64 u32_to_f64(uint32_t a, int rm, uint32_t *flags) { return int_to_fp(&FMT64, false, a, rm, flags); }
sf64 i64_to_f64(int64_t a, int rm, uint32_t *flags) { return int_to_fp(&FMT64, a < 0, abs_i64(a), rm, flags); }
sf64 u64_to_f64(uint64_t a, int rm, uint32_t *flags) { return int_to_fp(&FMT64, false, a, rm, flags); }

sf64 f32_to_f64(sf32 a, uint32_t *flags) { return fp_convert(&FMT64, &FMT32, a, RM_RNE, flags); }
sf32 f64_to_f32(sf64 a, int rm, uint32_t *flags) { return (sf32)fp_convert(&FMT32, &FMT64, a, rm, flags); }
