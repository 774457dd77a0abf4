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
#include "machine/cpu/softfp.h"

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

/* round_pack() for results that are subnormal, or overflow, or come close
 * (the leading bit's exponent outside [emin, emax]). */
static uint64_t __attribute__((noinline)) round_pack_slow(const FloatFormat *f, bool sign, int exp, u128 sig, int rm, uint32_t *flags)
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

/* Round (-1)^sign * sig * 2^exp (sig != 0; bit 0 may be a sticky bit as
 * long as it lies below the rounding position) to format f.
 *
 * The common case, a normal result, is done on 64 bits: sig is moved so its
 * leading bit is bit 63, with everything shifted out jammed into bit 0.
 * That keeps at least 11 bits below the rounding position, so the jammed
 * bit never changes the rounding. */
SF_INLINE uint64_t round_pack(const FloatFormat *f, bool sign, int exp, u128 sig, int rm, uint32_t *flags)
{
    uint64_t hi = (uint64_t)(sig >> 64), lo = (uint64_t)sig, s;
    int msb, e;

    if (hi) {
        int lz = __builtin_clzll(hi);
        msb = 127 - lz;
        s = (lz ? (hi << lz) | (lo >> (64 - lz)) : hi) | ((lo << lz) != 0);
    } else {
        int lz = __builtin_clzll(lo);
        assert(lo != 0);
        msb = 63 - lz;
        s = lo << lz;
    }
    e = msb + exp;
    if (__builtin_expect(e >= fmt_emin(f) && e <= fmt_emax(f), 1)) {
        const int shift = 63 - f->frac_bits;
        const uint64_t half = 1ull << (shift - 1);
        uint64_t q = s >> shift, rest = s & ((half << 1) - 1);
        bool up;

        switch (rm) {
        case RM_RTZ: up = false; break;
        case RM_RDN: up = sign && rest; break;
        case RM_RUP: up = !sign && rest; break;
        case RM_RMM: up = rest >= half; break;
        default:
            assert(rm == RM_RNE);
            up = rest > half || (rest == half && (q & 1));
            break;
        }
        if (rest)
            *flags |= FFLAG_NX;
        q += up;
        if (q >> (f->frac_bits + 1)) { /* rounded up to the next power of two */
            q >>= 1;
            if (++e > fmt_emax(f)) /* overflow: NX is set either way */
                return round_pack_slow(f, sign, exp, sig, rm, flags);
        }
        return fmt_sign(f, sign) | ((uint64_t)(e + fmt_bias(f)) << f->frac_bits) | (q & fmt_frac_mask(f));
    }
    return round_pack_slow(f, sign, exp, sig, rm, flags);
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

    assert((mx >> SUM_LEAD_BIT) == 1 && (my >> SUM_LEAD_BIT) == 1);
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

/* ---- fast paths: every operand a normal number ----
 * They compute exactly what the general code below computes, skipping the
 * classification; results that are not normal still go through
 * round_pack()'s general case. */

SF_INLINE bool fmt_is_normal(const FloatFormat *f, uint64_t bits)
{
    uint64_t biased = (bits >> f->frac_bits) & fmt_exp_all_ones(f);
    return biased - 1 < fmt_exp_all_ones(f) - 1; /* neither 0 nor all ones */
}

SF_INLINE int fmt_biased_exp(const FloatFormat *f, uint64_t bits)
{
    return (int)((bits >> f->frac_bits) & fmt_exp_all_ones(f));
}

SF_INLINE uint64_t fmt_normal_sig(const FloatFormat *f, uint64_t bits)
{
    return (bits & fmt_frac_mask(f)) | (1ull << f->frac_bits);
}

SF_INLINE bool fmt_sign_of(const FloatFormat *f, uint64_t bits)
{
    return (bits & fmt_sign_bit(f)) != 0;
}

/* a + (-1)^negate_b * b for normal a and b, on 64 bits: the significands
 * sit with their leading bit at 62 (a carry fits above), at least 10
 * zero bits below. The smaller one is shifted right with the lost bits
 * jammed into bit 0: when the shift is 2 or more the result keeps its
 * leading bit at 61 or above, so the jammed bit lies below the rounding
 * position's round bit and rounds like the bits it stands for; shifts of
 * 0 or 1 lose nothing. (The same argument as add_aligned's.) */
SF_INLINE uint64_t add_normal(const FloatFormat *f, uint64_t a, uint64_t b, bool negate_b, int rm, uint32_t *flags)
{
    const int up = 62 - f->frac_bits;
    bool sa = fmt_sign_of(f, a), sb = fmt_sign_of(f, b) != negate_b;
    int ea = fmt_biased_exp(f, a), eb = fmt_biased_exp(f, b), d;
    uint64_t ma = fmt_normal_sig(f, a) << up, mb = fmt_normal_sig(f, b) << up, sum;

    if (ea < eb || (ea == eb && ma < mb)) { /* make a the larger magnitude */
        bool ts = sa; int te = ea; uint64_t tm = ma;
        sa = sb; ea = eb; ma = mb;
        sb = ts; eb = te; mb = tm;
    }
    d = ea - eb;
    if (d >= 64)
        mb = 1;
    else if (d > 0)
        mb = (mb >> d) | ((mb << (64 - d)) != 0);
    if (sa == sb) {
        sum = ma + mb;
    } else {
        sum = ma - mb;
        if (sum == 0)
            return exact_zero_sum(f, rm);
    }
    return round_pack(f, sa, ea - fmt_bias(f) - f->frac_bits - up, sum, rm, flags);
}

/* Fused multiply-add for normal a, b, c, exactly and with at most one
 * sticky shift. The product p = ma * mb (2fb+1 or 2fb+2 bits) is placed
 * with its leading bit at 124 or 125 of a 128-bit word (its low 124-2fb
 * bits zero), the addend with its leading bit at 124 (its low 124-fb bits
 * zero). Whichever has the larger weight stays put and the other moves
 * right by the weight difference; thanks to those zero bits the shift is
 * exact, an integer left shift of the 64-bit significand, unless the
 * smaller operand lies more than 124-2fb (product) or 124-fb (addend)
 * binades below. Only then are bits jammed into bit 0, and then the
 * larger operand's leading bit is at 124 or above and the smaller one is
 * below 2^106, so the sum or difference keeps its leading bit at 123 or
 * above and the jammed bit rounds like the bits it stands for (see
 * add_aligned). The sum fits: both parts are below 2^126. */
SF_INLINE uint64_t muladd_normal(const FloatFormat *f, uint64_t a, uint64_t b, uint64_t c, bool negate_product,
                                 bool negate_addend, int rm, uint32_t *flags)
{
    const int fb = f->frac_bits, norm = fmt_bias(f) + fb;
    const int pzero = SUM_LEAD_BIT - 2 * fb, czero = SUM_LEAD_BIT - fb; /* zero low bits of P and C */
    bool ps = (fmt_sign_of(f, a) != fmt_sign_of(f, b)) != negate_product;
    bool cs = fmt_sign_of(f, c) != negate_addend;
    uint64_t mc = fmt_normal_sig(f, c);
    u128 p = (u128)fmt_normal_sig(f, a) * fmt_normal_sig(f, b);
    /* weight of P's bit 0 minus weight of C's bit 0 (both placed as above) */
    int d = fmt_biased_exp(f, a) + fmt_biased_exp(f, b) - fmt_biased_exp(f, c) - norm + fb;
    u128 big, small, r;
    bool sign;
    int exp;

    if (d >= 0) { /* product's frame: the addend moves right by d */
        big = p << pzero;
        if (d <= czero)
            small = (u128)mc << (czero - d);
        else
            small = d - czero >= 64 ? 1 : (mc >> (d - czero)) | ((mc << (64 - (d - czero))) != 0);
        sign = ps;
        exp = fmt_biased_exp(f, a) + fmt_biased_exp(f, b) - 2 * norm - pzero;
    } else { /* addend's frame: the product moves right by -d */
        int e = -d;
        big = (u128)mc << czero;
        if (e <= pzero)
            small = p << (pzero - e);
        else if (e - pzero >= 128)
            small = 1;
        else
            small = (p >> (e - pzero)) | ((p << (128 - (e - pzero))) != 0);
        sign = cs;
        exp = fmt_biased_exp(f, c) - norm - czero;
    }
    if (ps == cs) {
        r = big + small;
    } else {
        r = big - small;
        if ((int64_t)(uint64_t)(r >> 64) < 0) { /* |small| was the larger (d = 0 or -1 only) */
            r = -r;
            sign = !sign;
        } else if (r == 0) {
            return exact_zero_sum(f, rm);
        }
    }
    return round_pack(f, sign, exp, r, rm, flags);
}

SF_INLINE uint64_t fp_add(const FloatFormat *f, uint64_t a, uint64_t b, bool negate_b, int rm, uint32_t *flags)
{
    Unpacked ua, ub;
    u128 ma, mb;

    if (__builtin_expect(fmt_is_normal(f, a) && fmt_is_normal(f, b), 1))
        return add_normal(f, a, b, negate_b, rm, flags);
    ua = unpack(f, a);
    ub = unpack(f, b);
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

/* (hi * 2^64) / d and its remainder, for hi < d (so the quotient fits).
 * x86-64 has this as one instruction; elsewhere the compiler's 128-bit
 * division does the same. Integer arithmetic either way. */
SF_INLINE uint64_t div128by64(uint64_t hi, uint64_t d, uint64_t *rem)
{
    assert(hi < d);
#if defined(__x86_64__)
    uint64_t q, r;
    __asm__("divq %4" : "=a"(q), "=d"(r) : "a"((uint64_t)0), "d"(hi), "rm"(d) : "cc");
    *rem = r;
    return q;
#else
    u128 n = (u128)hi << 64;
    *rem = (uint64_t)(n % d);
    return (uint64_t)(n / d);
#endif
}

SF_INLINE uint64_t fp_div(const FloatFormat *f, uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    Unpacked ua = unpack(f, a), ub = unpack(f, b);
    bool sign = ua.sign != ub.sign;
    u128 na, nb;
    uint64_t quotient, remainder;

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

    /* With the dividend's leading bit at bit 62 and the divisor's at bit
     * 63 the quotient of (na << 64) / nb lies in (2^62, 2^64): at least 63
     * good bits in one 128-by-64-bit division, and a nonzero remainder
     * becomes the sticky bit. */
    na = ua.sig;
    nb = ub.sig;
    normalize_to(&na, &ua.exp, 62);
    normalize_to(&nb, &ub.exp, 63);
    quotient = div128by64((uint64_t)na, (uint64_t)nb, &remainder);
    return round_pack(f, sign, ua.exp - ub.exp - 64, quotient | (remainder != 0), rm, flags);
}

/* Seeds for the reciprocal square root: entry i is 2^15 / sqrt(x) at the
 * midpoint x = (2i + 129) / 512 of [(i + 64) / 256, (i + 65) / 256),
 * truncated (computed with exact integer square roots). Good to about 8
 * bits; the result is made exact by the remainder check anyway. */
static const uint16_t rsqrt_seed[192] = {
    65281, 64781, 64292, 63814, 63346, 62889, 62441, 62003, 61574, 61154, 60742, 60338,
    59943, 59555, 59174, 58801, 58434, 58075, 57722, 57375, 57035, 56700, 56371, 56048,
    55731, 55418, 55111, 54809, 54512, 54220, 53932, 53649, 53371, 53096, 52826, 52560,
    52298, 52039, 51785, 51534, 51287, 51043, 50803, 50566, 50333, 50102, 49875, 49651,
    49430, 49212, 48996, 48784, 48574, 48367, 48162, 47960, 47761, 47564, 47369, 47177,
    46987, 46800, 46614, 46431, 46250, 46071, 45894, 45720, 45547, 45376, 45207, 45040,
    44874, 44711, 44549, 44389, 44231, 44074, 43920, 43766, 43615, 43464, 43316, 43169,
    43023, 42879, 42736, 42595, 42455, 42317, 42179, 42044, 41909, 41776, 41644, 41513,
    41383, 41255, 41128, 41002, 40877, 40754, 40631, 40510, 40389, 40270, 40152, 40034,
    39918, 39803, 39689, 39575, 39463, 39352, 39241, 39132, 39023, 38916, 38809, 38703,
    38598, 38494, 38391, 38288, 38186, 38085, 37985, 37886, 37788, 37690, 37593, 37497,
    37401, 37306, 37212, 37119, 37026, 36934, 36843, 36752, 36662, 36573, 36484, 36396,
    36309, 36222, 36136, 36050, 35965, 35881, 35797, 35714, 35632, 35550, 35468, 35387,
    35307, 35227, 35148, 35069, 34991, 34913, 34836, 34759, 34683, 34608, 34533, 34458,
    34384, 34310, 34237, 34164, 34092, 34020, 33948, 33877, 33807, 33737, 33667, 33598,
    33529, 33461, 33393, 33325, 33258, 33192, 33125, 33059, 32994, 32929, 32864, 32800,
};

/* High 64 bits of the signed 128-bit product a * b. */
static inline int64_t mul_hi_s64(int64_t a, int64_t b)
{
    return (int64_t)(((__int128)a * b) >> 64);
}

/* floor(sqrt(m)) for m in [2^108, 2^110); *exact says whether the root had
 * no remainder. Let x = (m >> 46) / 2^64 in [1/4, 1). From the table's
 * y ~ 1/sqrt(x), Goldschmidt's iteration refines g ~ sqrt(x) and
 * h ~ 1/(2 sqrt(x)) together (2.62 fixed point; g may start just above 1):
 * r = 1/2 - g h (0.64), g += g r, h += h r; good bits 8, 16, 32, about
 * 58. So sqrt(m) ~ g / 2^7
 * to within a few units, and the remainder m - root^2 then walks the root
 * to the exact floor, one addition per unit. Only multiplies, no
 * division. */
static uint64_t isqrt110(u128 m, bool *exact)
{
    uint64_t a = (uint64_t)(m >> 46), y, r;
    int64_t g, hh, res;
    __int128 rem;

    assert(m >> 108 != 0 && m >> 110 == 0);
    y = (uint64_t)rsqrt_seed[(a >> 56) - 64] << 47;     /* 1/sqrt(x) < 2, 2.62 */
    g = (int64_t)(((u128)a * y) >> 64);                 /* x y, 2.62 */
    hh = (int64_t)(y >> 1);                             /* y / 2, 1.62 */
    for (int i = 0; i < 3; i++) {
        res = (int64_t)((1ull << 63) - ((uint64_t)mul_hi_s64(g, hh) << 4));
        g += mul_hi_s64(g, res);
        hh += mul_hi_s64(hh, res);
    }
    r = (uint64_t)g >> 7;
    rem = (__int128)(m - (u128)r * r); /* |rem| < 2^64: r is close */
    while (rem < 0) {                  /* (r-1)^2 = r^2 - (2r - 1) */
        rem += 2 * (__int128)r - 1;
        r--;
    }
    while (rem > 2 * (__int128)r) {    /* (r+1)^2 = r^2 + 2r + 1 <= m */
        r++;
        rem -= 2 * (__int128)r - 1;
    }
    *exact = rem == 0;
    return r;
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

    /* Scale the radicand to 109 or 110 bits with an even exponent, giving
     * a 55-bit root (two bits below binary64's precision); the remainder
     * becomes the sticky bit. */
    m = ua.sig;
    exp = ua.exp;
    normalize_to(&m, &exp, 108);
    if (exp & 1) {
        m <<= 1;
        exp--;
    }
    root = isqrt110(m, &exact);
    return round_pack(f, false, exp / 2, root | !exact, rm, flags);
}

SF_INLINE uint64_t fp_muladd(const FloatFormat *f, uint64_t a, uint64_t b, uint64_t c, bool negate_product,
                          bool negate_addend, int rm, uint32_t *flags)
{
    Unpacked ua, ub, uc;
    bool product_sign, product_invalid;
    u128 product, addend;
    int product_exp;

    if (__builtin_expect(fmt_is_normal(f, a) && fmt_is_normal(f, b) && fmt_is_normal(f, c), 1))
        return muladd_normal(f, a, b, c, negate_product, negate_addend, rm, flags);
    ua = unpack(f, a);
    ub = unpack(f, b);
    uc = unpack(f, c);
    product_sign = (ua.sign != ub.sign) != negate_product;
    product_invalid = (ua.cls == FC_INF && ub.cls == FC_ZERO) || (ua.cls == FC_ZERO && ub.cls == FC_INF);

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
