/*
 * softfp.c - bit-exact IEEE 754 binary32/binary64 arithmetic for the RISC-V
 * F and D extensions, using integer arithmetic only.
 *
 * Both formats share one implementation parameterised by a FloatFormat
 * (fraction and exponent widths); encodings travel in a uint64_t whose
 * unused high bits are zero for binary32.
 *
 * Invariants:
 *  - The result and flags depend only on the operand bits and the rounding
 *    mode, so record and replay agree on any host and under any compiler
 *    flags. The reference code (everything but the "host fast paths"
 *    section) uses no host floating point. The fast paths use the host's
 *    binary64 unit only where they can prove the outcome identical to the
 *    reference's, and decline otherwise (the proofs are next to each one).
 *  - A finite nonzero value is handled as (sign, exp, sig) meaning
 *    (-1)^sign * sig * 2^exp with sig an integer; every operation computes
 *    either the exact result or a result whose lowest bit is a "sticky" bit
 *    far below the rounding position, and then round_pack() rounds once.
 *  - Every NaN produced is the canonical NaN; NaN payloads never propagate.
 *  - Tininess is detected after rounding, and UF is raised only for tiny
 *    and inexact results, as RISC-V requires.
 */
#include "machine/cpu/softfp.h"
#include "machine/cpu/softfp_fast.h"

#include <assert.h>
#include <string.h>

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

/* ==== host fast paths ====
 *
 * For operands that are normal numbers well inside the exponent range the
 * operations below use the host's binary64 arithmetic, and decide the
 * rounding direction and the inexact flag from an *exact* error term. They
 * return SOFTFP_DECLINED (an encoding no operation produces here: all bits
 * set, wider than binary32 and a NaN for binary64) whenever they cannot
 * prove their answer equal to the integer code's; the caller then runs the
 * integer code, which stays the reference.
 *
 * Assumptions about the host, and why each is enough:
 *  - IEEE 754 binary64 with +, -, *, /, sqrt and fma correctly rounded in
 *    round-to-nearest-even, the host's default mode at start-up. rrvm never
 *    changes the host rounding mode (nothing in src/ calls fesetround) and
 *    the fast paths never read or write the host's exception flags.
 *    Flush-to-zero / denormals-are-zero cannot matter: every operand and
 *    every intermediate value here is zero or a normal number (see the
 *    "granule" arguments below).
 *  - Evaluation in the nominal type (FLT_EVAL_METHOD 0, i.e. SSE2 on
 *    x86-64, not x87) and no contraction of a*b+c into an fma that we did
 *    not ask for: the Makefile builds this file with -ffp-contract=off, and
 *    host_keep() additionally pins every product that is later added, so
 *    even a contracting compiler cannot fuse it. -ffast-math disables the
 *    fast paths (checked below).
 *  - x86-64 needs the FMA3 instruction, checked at run time
 *    (softfp_host_fast_usable()); other hosts need a hardware fma
 *    (__FP_FAST_FMA).
 *    Without it the integer code runs alone.
 *
 * Common tools:
 *  - A value V "on the grid of granule G" is an integer multiple of G (a
 *    power of two). If G >= 2^-1022 then every nonzero such V has
 *    |V| >= G, so no result rounds to zero or becomes subnormal; RN(V) = 0
 *    iff V = 0, RN keeps the sign, and RN of a value on the grid is on the
 *    grid. Sums and exactly computed differences of values on the grid stay
 *    on it. This is how every "no underflow" condition is met.
 *  - directed rounding from the nearest: with r = RN(X) != X, X lies
 *    strictly between r and r's neighbour on X's side, so RTZ/RDN/RUP give
 *    either r or that neighbour, which is the encoding +-1 (encodings of
 *    one sign are monotonic in magnitude, across binade boundaries too).
 *    The windows keep r and both neighbours normal and finite.
 *  - RMM differs from RNE only on an exact tie. Division and square root
 *    never tie (below), so they serve RMM; add, mul and fma decline it.
 */

#if defined(__FAST_MATH__) || !defined(__FLT_EVAL_METHOD__) || __FLT_EVAL_METHOD__ != 0
#define SOFTFP_HOST_FAST 0
#elif defined(__x86_64__)
#define SOFTFP_HOST_FAST 1
#define HOST_TARGET __attribute__((target("fma")))
#elif defined(__FP_FAST_FMA)
#define SOFTFP_HOST_FAST 1
#define HOST_TARGET
#else
#define SOFTFP_HOST_FAST 0
#endif

/* The fast paths' bodies (host_*) are inlined into two entry points each:
 * *_fast (for tests: returns SOFTFP_DECLINED) and *_host (for the public
 * functions: goes on to the integer code with a tail call). */
#define HOST_BODY static inline __attribute__((always_inline)) HOST_TARGET
#define HOST_ENTRY __attribute__((noinline)) HOST_TARGET

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

bool softfp_host_fast_usable(void)
{
#if SOFTFP_HOST_FAST && defined(__x86_64__)
    return __builtin_cpu_supports("fma");
#else
    return SOFTFP_HOST_FAST;
#endif
}

#if SOFTFP_HOST_FAST

static inline double host_f64(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static inline uint64_t host_bits64(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline float host_f32(uint64_t bits)
{
    uint32_t b = (uint32_t)bits;
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline uint64_t host_bits32(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* An optimisation barrier: the value must exist as a rounded double here,
 * so no compiler can fuse the multiplication producing it into a later
 * addition. */
static inline double host_keep(double d)
{
#if defined(__x86_64__)
    __asm__("" : "+x"(d));
#elif defined(__aarch64__)
    __asm__("" : "+w"(d));
#else
    __asm__("" : "+m"(d));
#endif
    return d;
}

/* Unbiased exponent of a binary64 / binary32 encoding; zeros and
 * subnormals give emin - 1, infinities and NaNs emax + 1, so a window
 * check on one operand also rejects those. Sums of exponents do not:
 * operations with two or three operands check each one with exp64_ok(). */
static inline int exp64(uint64_t bits) { return (int)((bits >> 52) & 0x7ff) - 1023; }
static inline int exp32(uint64_t bits) { return (int)((bits >> 23) & 0xff) - 127; }
static inline bool exp64_ok(uint64_t bits) { return exp64(bits) >= -1022 && exp64(bits) <= 1023; }
static inline bool exp32_ok(uint64_t bits) { return exp32(bits) >= -126 && exp32(bits) <= 127; }

/* Is the exact x + y (computed as z = RN(x + y)) equal to z? Sufficient
 * test for normal-or-zero x, y, z: the exact sum lies on the grid of
 * g = ulp of the operand with the smaller exponent; were it not
 * representable it would be at least 2^53 g, so z >= 2^53 g would have an
 * exponent above both operands'. */
static inline bool host_sum_exact(double x, double y, double z)
{
    /* biased exponent fields: 0 only for zeros here (no subnormals), and a
     * zero operand or result makes the sum exact */
    uint64_t ex = (host_bits64(x) >> 52) & 0x7ff, ey = (host_bits64(y) >> 52) & 0x7ff;
    uint64_t ez = (host_bits64(z) >> 52) & 0x7ff;
    return ex == 0 || ey == 0 || ez <= (ex < ey ? ex : ey);
}

/* Sign of the exact X - r as -1, 0, +1 from a double whose sign and
 * zeroness equal it. */
static inline int host_dir(double e) { return (e > 0) - (e < 0); }

/* The directed roundings RTZ/RDN/RUP of X from r = RN(X) (an encoding of
 * the format whose sign bit is sign_bit) and dir = sign(X - r) != 0. Out
 * of line on purpose: see host_finish(). */
static __attribute__((noinline)) uint64_t host_directed(uint64_t r, uint64_t sign_bit, int dir, int rm)
{
    bool negative = (r & sign_bit) != 0;
    bool above = (dir > 0) != negative; /* |X| > |r| */
    uint64_t below = above ? r : r - 1; /* encoding just below |X| */

    assert(dir != 0);
    switch (rm) {
    case RM_RTZ: return below;
    case RM_RDN: return below + negative;
    default:
        assert(rm == RM_RUP);
        return below + !negative;
    }
}

/* Result and flags for r = RN(X) and dir = sign(X - r), rounded per rm;
 * RMM (answered as RNE) only from operations whose X is never a tie.
 * In RNE the result does not depend on dir, only NX does: keeping the
 * directed cases behind a call stops the compiler from turning this into
 * conditional moves that would put the whole error computation on the
 * result's latency path. */
static inline uint64_t host_finish(uint64_t r, uint64_t sign_bit, int dir, int rm, uint32_t *flags)
{
    *flags |= dir != 0 ? FFLAG_NX : 0;
    if (__builtin_expect(rm == RM_RNE || rm == RM_RMM || dir == 0, 1))
        return r;
    return host_directed(r, sign_bit, dir, rm);
}

/* ---- binary64 ---- */

/* a + b. Window: both exponents in [-900, 1000]. The exact sum is on the
 * grid of the smaller ulp (>= 2^-952), so nonzero results are normal, and
 * |a + b| < 2^1002 cannot overflow, even after a directed step. Error:
 * Fast2Sum (Dekker) with the larger magnitude first is exact in RN without
 * underflow. RMM declines: the sum can be a tie. */
HOST_BODY uint64_t host_f64_add(uint64_t a, uint64_t b, bool negate_b, int rm, uint32_t *flags)
{
    const uint64_t mag = ~(1ull << 63);
    int ea = exp64(a), eb = exp64(b);
    double x, y, s, t;

    if (rm == RM_RMM || ea < -900 || ea > 1000 || eb < -900 || eb > 1000)
        return SOFTFP_DECLINED;
    b ^= (uint64_t)negate_b << 63;
    if ((a & mag) >= (b & mag)) {
        x = host_f64(a);
        y = host_f64(b);
    } else {
        x = host_f64(b);
        y = host_f64(a);
    }
    s = x + y;
    t = y - (s - x); /* exact: X = s + t */
    if (s == 0) /* exact cancellation: +0, or -0 when rounding down */
        return rm == RM_RDN ? 1ull << 63 : 0;
    return host_finish(host_bits64(s), 1ull << 63, host_dir(t), rm, flags);
}

/* a * b. Window: ea + eb in [-900, 1000], so 2^-900 <= |ab| < 2^1002.
 * Error: e = fma(a, b, -p) is exactly ab - p (TwoProduct, exact while
 * ea + eb >= -1022 + 52). RMM declines (a product can tie). */
HOST_BODY uint64_t host_f64_mul(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    int e = exp64(a) + exp64(b);
    double x = host_f64(a), y = host_f64(b), p, err;

    if (rm == RM_RMM || !exp64_ok(a) || !exp64_ok(b) || e < -900 || e > 1000)
        return SOFTFP_DECLINED;
    p = host_keep(x * y);
    err = __builtin_fma(x, y, -p);
    return host_finish(host_bits64(p), 1ull << 63, host_dir(err), rm, flags);
}

/* a / b. Window: ea >= -900 and |ea - eb| <= 1000, so the quotient's
 * exponent is in [-1001, 1000]. Residual r = a - q b: q b is on the grid of
 * ulp(q) ulp(b) = 2^(eq + eb - 104) >= 2^(ea - 105) (eq >= ea - eb - 1),
 * a on a coarser grid, and |r| <= ulp(q)/2 |b| < 2^(eq + eb - 52): fewer
 * than 2^53 granules, so r is representable, and fma computes it exactly.
 * a/b - q = r/b. No tie: a midpoint has 54 significant bits with the last
 * one set; times b (odd part of <= 53 bits) it would need > 53 bits to
 * equal a. So RMM = RNE. */
HOST_BODY uint64_t host_f64_div(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    int ea = exp64(a), eb = exp64(b);
    double x = host_f64(a), y = host_f64(b), q, r;

    if (!exp64_ok(a) || !exp64_ok(b) || ea < -900 || ea - eb > 1000 || eb - ea > 1000)
        return SOFTFP_DECLINED;
    q = x / y;
    r = __builtin_fma(-q, y, x);
    return host_finish(host_bits64(q), 1ull << 63, host_dir(r) * host_dir(y), rm, flags);
}

/* sqrt(a), a > 0. Window: ea >= -900. Residual r = a - s^2 =
 * (sqrt(a) - s)(sqrt(a) + s): s^2 is on the grid 2^(2es - 104) >=
 * 2^(ea - 105), |r| < 2^(es - 53) 2^(es + 2): fewer than 2^53 granules,
 * exact. sign(r) = sign(sqrt(a) - s). No tie: a midpoint squared has >= 107
 * significant bits. So RMM = RNE. */
HOST_BODY uint64_t host_f64_sqrt(uint64_t a, int rm, uint32_t *flags)
{
    double x = host_f64(a), s, r;

    if ((a >> 63) || !exp64_ok(a) || exp64(a) < -900)
        return SOFTFP_DECLINED;
    s = __builtin_sqrt(x);
    r = __builtin_fma(-s, s, x);
    return host_finish(host_bits64(s), 1ull << 63, host_dir(r), rm, flags);
}

/* (-1)^np a b + (-1)^nc c. Window: ea + eb and ec in [-900, 1000]. Every
 * quantity below is on the grid of G = min(2^(ea+eb-104), 2^(ec-52)) >=
 * 2^-1004 (so: no underflow, RN(V) = 0 iff V = 0) and below 2^1003 (no
 * overflow, even after a directed step). r = RN(X), X = ab + c. The error
 * X - r is found, exactly in sign and zeroness, by one of two
 * decompositions, each used only when its additions are proven exact by
 * host_sum_exact():
 *  1. d = c - r exact: X - r = ab + d, and fma(a, b, d) = RN(X - r).
 *     (Typical when c dominates, or when ab and c are of similar size.)
 *  2. ph = RN(ab), pl = fma(a, b, -ph) (exactly ab - ph, TwoProduct);
 *     e = ph - r exact and u = e + c exact: X - r = u + pl, and
 *     RN(u + pl) has its sign. (Typical when ab dominates.)
 * Otherwise (heavy cancellation) the integer code runs. r = 0 means X = 0:
 * the operands are nonzero, so it is an exact cancellation, +0 or -0 in
 * RDN as in the integer code. RMM declines (X can be a tie). */
HOST_BODY uint64_t host_f64_muladd(uint64_t a, uint64_t b, uint64_t c, bool negate_product, bool negate_addend,
                                     int rm, uint32_t *flags)
{
    int ep = exp64(a) + exp64(b), ec = exp64(c);
    double x, y, z, r, d, err, ph, pl, e, u;

    if (rm == RM_RMM || !exp64_ok(a) || !exp64_ok(b) || ep < -900 || ep > 1000 || ec < -900 || ec > 1000)
        return SOFTFP_DECLINED;
    x = host_f64(a ^ ((uint64_t)negate_product << 63));
    y = host_f64(b);
    z = host_f64(c ^ ((uint64_t)negate_addend << 63));
    r = __builtin_fma(x, y, z);
    if (r == 0)
        return rm == RM_RDN ? 1ull << 63 : 0;
    d = z - r;
    if (host_sum_exact(z, -r, d)) {
        err = __builtin_fma(x, y, d);
    } else {
        ph = host_keep(x * y);
        pl = __builtin_fma(x, y, -ph);
        e = ph - r;
        u = e + z;
        if (!host_sum_exact(ph, -r, e) || !host_sum_exact(e, z, u))
            return SOFTFP_DECLINED;
        err = u + pl;
    }
    return host_finish(host_bits64(r), 1ull << 63, host_dir(err), rm, flags);
}

/* ---- binary32, computed in binary64 ---- */

/* X = s + t exactly (t = 0, or |t| <= ulp(s)/2 as left by Fast2Sum),
 * with RN32(X) a normal binary32 not next to the overflow threshold (the
 * caller's window). rf = RN32(s) is RN32(X): if t = 0 trivially; else the
 * binary32 midpoints are binary64 numbers, so none lies strictly between s
 * and X (they are closer than half an ulp of s) unless s is one, which is
 * declined. Then e = s - rf is exact (s and rf are within half a binary32
 * ulp, on s's grid) and X - rf = e + t has the sign of e when e != 0
 * (|t| < ulp(s) <= |e|), else of t. RMM is declined by the callers that can
 * tie. */
static inline uint64_t host_round_to_f32(double s, double t, int rm, uint32_t *flags)
{
    float rf = (float)s;
    double e = s - (double)rf;
    uint64_t sb = host_bits64(s);

    if (t != 0 && e != 0 && (sb & ((1ull << 29) - 1)) == 1ull << 28)
        return SOFTFP_DECLINED; /* s is a midpoint: the double rounding could be wrong */
    return host_finish(host_bits32(rf), 1u << 31, e != 0 ? host_dir(e) : host_dir(t), rm, flags);
}

/* Window: exponents in [-100, 125]: the exact sum is on the grid 2^-123
 * (normal binary32 or zero) and below 2^127 in magnitude. The double sum
 * is then rounded to binary32 by host_round_to_f32. */
HOST_BODY uint64_t host_f32_add(uint64_t a, uint64_t b, bool negate_b, int rm, uint32_t *flags)
{
    int ea = exp32(a), eb = exp32(b);
    double x, y, s, t;

    if (rm == RM_RMM || ea < -100 || ea > 125 || eb < -100 || eb > 125)
        return SOFTFP_DECLINED;
    b ^= (uint64_t)negate_b << 31;
    x = (double)host_f32(a);
    y = (double)host_f32(b);
    if (__builtin_fabs(x) < __builtin_fabs(y)) {
        double tmp = x;
        x = y;
        y = tmp;
    }
    s = x + y;
    t = y - (s - x);
    if (s == 0)
        return rm == RM_RDN ? 1u << 31 : 0;
    return host_round_to_f32(s, t, rm, flags);
}

/* Window: ea + eb in [-120, 124]. The product of two 24-bit significands
 * is exact in binary64; its binary32 rounding is normal and finite. */
HOST_BODY uint64_t host_f32_mul(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    int e = exp32(a) + exp32(b);

    if (rm == RM_RMM || !exp32_ok(a) || !exp32_ok(b) || e < -120 || e > 124)
        return SOFTFP_DECLINED;
    return host_round_to_f32((double)host_f32(a) * (double)host_f32(b), 0, rm, flags);
}

/* Window: ea - eb in [-120, 124]. q = RN32(RN64(a/b)) = RN32(a/b): double
 * rounding is innocuous for division when 53 >= 2*24 + 2 (Figueroa). The
 * residual a - q b is exact in binary64 (q b has 48 bits, the difference is
 * below ulp32(q) |b|, on the grid ulp32(q) ulp32(b)): fewer than 2^26
 * granules. No tie (as for binary64), so RMM = RNE. */
HOST_BODY uint64_t host_f32_div(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
    int d = exp32(a) - exp32(b);
    double x = (double)host_f32(a), y = (double)host_f32(b), q, r;

    if (!exp32_ok(a) || !exp32_ok(b) || d < -120 || d > 124)
        return SOFTFP_DECLINED;
    q = (double)(float)(x / y);
    r = __builtin_fma(-q, y, x);
    return host_finish(host_bits32((float)q), 1u << 31, host_dir(r) * host_dir(y), rm, flags);
}

/* Any positive normal a: sqrt(a) is in [2^-63, 2^64). s = RN32(RN64(sqrt
 * a)) = RN32(sqrt a) (double rounding innocuous for sqrt too); a - s^2 is
 * exact in binary64 (s^2 has 48 bits). No tie, so RMM = RNE. */
HOST_BODY uint64_t host_f32_sqrt(uint64_t a, int rm, uint32_t *flags)
{
    double x = (double)host_f32(a), s, r;

    if ((a >> 31) || !exp32_ok(a))
        return SOFTFP_DECLINED;
    s = (double)(float)__builtin_sqrt(x);
    r = __builtin_fma(-s, s, x);
    return host_finish(host_bits32((float)s), 1u << 31, host_dir(r), rm, flags);
}

/* Window: ea + eb in [-78, 124] and ec in [-100, 124]: X = ab + c is on
 * the grid min(2^(ea+eb-46), 2^(ec-23)) >= 2^-124 and below 2^126. ab is
 * exact in binary64, then as for f32_add. */
HOST_BODY uint64_t host_f32_muladd(uint64_t a, uint64_t b, uint64_t c, bool negate_product, bool negate_addend,
                                     int rm, uint32_t *flags)
{
    int ep = exp32(a) + exp32(b), ec = exp32(c);
    double p, z, x, y, s, t;

    if (rm == RM_RMM || !exp32_ok(a) || !exp32_ok(b) || ep < -78 || ep > 124 || ec < -100 || ec > 124)
        return SOFTFP_DECLINED;
    p = host_keep((double)host_f32(a ^ ((uint64_t)negate_product << 31)) * (double)host_f32(b));
    z = (double)host_f32(c ^ ((uint64_t)negate_addend << 31));
    if (__builtin_fabs(p) >= __builtin_fabs(z)) {
        x = p;
        y = z;
    } else {
        x = z;
        y = p;
    }
    s = x + y;
    t = y - (s - x);
    if (s == 0)
        return rm == RM_RDN ? 1u << 31 : 0;
    return host_round_to_f32(s, t, rm, flags);
}

/* ---- entry points ---- */

HOST_ENTRY uint64_t f64_add_fast(uint64_t a, uint64_t b, bool negate_b, int rm, uint32_t *flags)
{
    return host_f64_add(a, b, negate_b, rm, flags);
}

HOST_ENTRY uint64_t f64_mul_fast(uint64_t a, uint64_t b, int rm, uint32_t *flags) { return host_f64_mul(a, b, rm, flags); }
HOST_ENTRY uint64_t f64_div_fast(uint64_t a, uint64_t b, int rm, uint32_t *flags) { return host_f64_div(a, b, rm, flags); }
HOST_ENTRY uint64_t f64_sqrt_fast(uint64_t a, int rm, uint32_t *flags) { return host_f64_sqrt(a, rm, flags); }

HOST_ENTRY uint64_t f64_muladd_fast(uint64_t a, uint64_t b, uint64_t c, bool negate_product, bool negate_addend, int rm,
                                    uint32_t *flags)
{
    return host_f64_muladd(a, b, c, negate_product, negate_addend, rm, flags);
}

HOST_ENTRY uint64_t f32_add_fast(uint64_t a, uint64_t b, bool negate_b, int rm, uint32_t *flags)
{
    return host_f32_add(a, b, negate_b, rm, flags);
}

HOST_ENTRY uint64_t f32_mul_fast(uint64_t a, uint64_t b, int rm, uint32_t *flags) { return host_f32_mul(a, b, rm, flags); }
HOST_ENTRY uint64_t f32_div_fast(uint64_t a, uint64_t b, int rm, uint32_t *flags) { return host_f32_div(a, b, rm, flags); }
HOST_ENTRY uint64_t f32_sqrt_fast(uint64_t a, int rm, uint32_t *flags) { return host_f32_sqrt(a, rm, flags); }

HOST_ENTRY uint64_t f32_muladd_fast(uint64_t a, uint64_t b, uint64_t c, bool negate_product, bool negate_addend, int rm,
                                    uint32_t *flags)
{
    return host_f32_muladd(a, b, c, negate_product, negate_addend, rm, flags);
}

/* r from a fast path, or the integer code's answer when it declined */
#define HOST_OR_SLOW(r, slow_call) ((r) != SOFTFP_DECLINED ? (r) : (slow_call))

static HOST_ENTRY sf64 f64_add_host(sf64 a, sf64 b, int rm, uint32_t *flags)
{
    uint64_t r = host_f64_add(a, b, false, rm, flags);
    return HOST_OR_SLOW(r, f64_add_slow(a, b, rm, flags));
}

static HOST_ENTRY sf64 f64_sub_host(sf64 a, sf64 b, int rm, uint32_t *flags)
{
    uint64_t r = host_f64_add(a, b, true, rm, flags);
    return HOST_OR_SLOW(r, f64_sub_slow(a, b, rm, flags));
}

static HOST_ENTRY sf64 f64_mul_host(sf64 a, sf64 b, int rm, uint32_t *flags)
{
    uint64_t r = host_f64_mul(a, b, rm, flags);
    return HOST_OR_SLOW(r, f64_mul_slow(a, b, rm, flags));
}

static HOST_ENTRY sf64 f64_div_host(sf64 a, sf64 b, int rm, uint32_t *flags)
{
    uint64_t r = host_f64_div(a, b, rm, flags);
    return HOST_OR_SLOW(r, f64_div_slow(a, b, rm, flags));
}

static HOST_ENTRY sf64 f64_sqrt_host(sf64 a, int rm, uint32_t *flags)
{
    uint64_t r = host_f64_sqrt(a, rm, flags);
    return HOST_OR_SLOW(r, f64_sqrt_slow(a, rm, flags));
}

static HOST_ENTRY sf64 f64_muladd_host(sf64 a, sf64 b, sf64 c, bool negate_product, bool negate_addend, int rm,
                                       uint32_t *flags)
{
    uint64_t r = host_f64_muladd(a, b, c, negate_product, negate_addend, rm, flags);
    return HOST_OR_SLOW(r, f64_muladd_slow(a, b, c, negate_product, negate_addend, rm, flags));
}

static HOST_ENTRY sf32 f32_add_host(sf32 a, sf32 b, int rm, uint32_t *flags)
{
    uint64_t r = host_f32_add(a, b, false, rm, flags);
    return (sf32)HOST_OR_SLOW(r, f32_add_slow(a, b, rm, flags));
}

static HOST_ENTRY sf32 f32_sub_host(sf32 a, sf32 b, int rm, uint32_t *flags)
{
    uint64_t r = host_f32_add(a, b, true, rm, flags);
    return (sf32)HOST_OR_SLOW(r, f32_sub_slow(a, b, rm, flags));
}

static HOST_ENTRY sf32 f32_mul_host(sf32 a, sf32 b, int rm, uint32_t *flags)
{
    uint64_t r = host_f32_mul(a, b, rm, flags);
    return (sf32)HOST_OR_SLOW(r, f32_mul_slow(a, b, rm, flags));
}

static HOST_ENTRY sf32 f32_div_host(sf32 a, sf32 b, int rm, uint32_t *flags)
{
    uint64_t r = host_f32_div(a, b, rm, flags);
    return (sf32)HOST_OR_SLOW(r, f32_div_slow(a, b, rm, flags));
}

static HOST_ENTRY sf32 f32_sqrt_host(sf32 a, int rm, uint32_t *flags)
{
    uint64_t r = host_f32_sqrt(a, rm, flags);
    return (sf32)HOST_OR_SLOW(r, f32_sqrt_slow(a, rm, flags));
}

static HOST_ENTRY sf32 f32_muladd_host(sf32 a, sf32 b, sf32 c, bool negate_product, bool negate_addend, int rm,
                                       uint32_t *flags)
{
    uint64_t r = host_f32_muladd(a, b, c, negate_product, negate_addend, rm, flags);
    return (sf32)HOST_OR_SLOW(r, f32_muladd_slow(a, b, c, negate_product, negate_addend, rm, flags));
}

/* A public operation: the host fast path when usable (declines continue
 * in the integer code), else the integer code; both tail calls. */
#define DISPATCH(host_call, slow_call) return softfp_host_fast_usable() ? (host_call) : (slow_call)

#else /* !SOFTFP_HOST_FAST */

uint64_t f64_add_fast(uint64_t a, uint64_t b, bool negate_b, int rm, uint32_t *flags) { return SOFTFP_DECLINED; }
uint64_t f64_mul_fast(uint64_t a, uint64_t b, int rm, uint32_t *flags) { return SOFTFP_DECLINED; }
uint64_t f64_div_fast(uint64_t a, uint64_t b, int rm, uint32_t *flags) { return SOFTFP_DECLINED; }
uint64_t f64_sqrt_fast(uint64_t a, int rm, uint32_t *flags) { return SOFTFP_DECLINED; }
uint64_t f64_muladd_fast(uint64_t a, uint64_t b, uint64_t c, bool negate_product, bool negate_addend, int rm,
                         uint32_t *flags) { return SOFTFP_DECLINED; }
uint64_t f32_add_fast(uint64_t a, uint64_t b, bool negate_b, int rm, uint32_t *flags) { return SOFTFP_DECLINED; }
uint64_t f32_mul_fast(uint64_t a, uint64_t b, int rm, uint32_t *flags) { return SOFTFP_DECLINED; }
uint64_t f32_div_fast(uint64_t a, uint64_t b, int rm, uint32_t *flags) { return SOFTFP_DECLINED; }
uint64_t f32_sqrt_fast(uint64_t a, int rm, uint32_t *flags) { return SOFTFP_DECLINED; }
uint64_t f32_muladd_fast(uint64_t a, uint64_t b, uint64_t c, bool negate_product, bool negate_addend, int rm,
                         uint32_t *flags) { return SOFTFP_DECLINED; }

#define DISPATCH(host_call, slow_call) return (slow_call)

#endif

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

/* Each arithmetic operation: DISPATCH (host fast paths section) picks the
 * host fast path, which continues in the integer code (*_slow) when it
 * declines, or the integer code directly. Keeping the integer code out of
 * line (tail calls) spares the common case its register saves. */

sf32 f32_add_slow(sf32 a, sf32 b, int rm, uint32_t *flags) { return (sf32)fp_add(&FMT32, a, b, false, rm, flags); }
sf32 f32_sub_slow(sf32 a, sf32 b, int rm, uint32_t *flags) { return (sf32)fp_add(&FMT32, a, b, true, rm, flags); }
sf32 f32_mul_slow(sf32 a, sf32 b, int rm, uint32_t *flags) { return (sf32)fp_mul(&FMT32, a, b, rm, flags); }
sf32 f32_div_slow(sf32 a, sf32 b, int rm, uint32_t *flags) { return (sf32)fp_div(&FMT32, a, b, rm, flags); }
sf32 f32_sqrt_slow(sf32 a, int rm, uint32_t *flags) { return (sf32)fp_sqrt(&FMT32, a, rm, flags); }

sf32 f32_muladd_slow(sf32 a, sf32 b, sf32 c, bool negate_product, bool negate_addend, int rm, uint32_t *flags)
{
    return (sf32)fp_muladd(&FMT32, a, b, c, negate_product, negate_addend, rm, flags);
}

sf32 f32_add(sf32 a, sf32 b, int rm, uint32_t *flags)
{
    DISPATCH(f32_add_host(a, b, rm, flags), f32_add_slow(a, b, rm, flags));
}

sf32 f32_sub(sf32 a, sf32 b, int rm, uint32_t *flags)
{
    DISPATCH(f32_sub_host(a, b, rm, flags), f32_sub_slow(a, b, rm, flags));
}

sf32 f32_mul(sf32 a, sf32 b, int rm, uint32_t *flags)
{
    DISPATCH(f32_mul_host(a, b, rm, flags), f32_mul_slow(a, b, rm, flags));
}

sf32 f32_div(sf32 a, sf32 b, int rm, uint32_t *flags)
{
    DISPATCH(f32_div_host(a, b, rm, flags), f32_div_slow(a, b, rm, flags));
}

sf32 f32_sqrt(sf32 a, int rm, uint32_t *flags)
{
    DISPATCH(f32_sqrt_host(a, rm, flags), f32_sqrt_slow(a, rm, flags));
}

sf32 f32_muladd(sf32 a, sf32 b, sf32 c, bool negate_product, bool negate_addend, int rm, uint32_t *flags)
{
    DISPATCH(f32_muladd_host(a, b, c, negate_product, negate_addend, rm, flags), f32_muladd_slow(a, b, c, negate_product, negate_addend, rm, flags));
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

sf64 f64_add_slow(sf64 a, sf64 b, int rm, uint32_t *flags) { return fp_add(&FMT64, a, b, false, rm, flags); }
sf64 f64_sub_slow(sf64 a, sf64 b, int rm, uint32_t *flags) { return fp_add(&FMT64, a, b, true, rm, flags); }
sf64 f64_mul_slow(sf64 a, sf64 b, int rm, uint32_t *flags) { return fp_mul(&FMT64, a, b, rm, flags); }
sf64 f64_div_slow(sf64 a, sf64 b, int rm, uint32_t *flags) { return fp_div(&FMT64, a, b, rm, flags); }
sf64 f64_sqrt_slow(sf64 a, int rm, uint32_t *flags) { return fp_sqrt(&FMT64, a, rm, flags); }

sf64 f64_muladd_slow(sf64 a, sf64 b, sf64 c, bool negate_product, bool negate_addend, int rm, uint32_t *flags)
{
    return fp_muladd(&FMT64, a, b, c, negate_product, negate_addend, rm, flags);
}

sf64 f64_add(sf64 a, sf64 b, int rm, uint32_t *flags)
{
    DISPATCH(f64_add_host(a, b, rm, flags), f64_add_slow(a, b, rm, flags));
}

sf64 f64_sub(sf64 a, sf64 b, int rm, uint32_t *flags)
{
    DISPATCH(f64_sub_host(a, b, rm, flags), f64_sub_slow(a, b, rm, flags));
}

sf64 f64_mul(sf64 a, sf64 b, int rm, uint32_t *flags)
{
    DISPATCH(f64_mul_host(a, b, rm, flags), f64_mul_slow(a, b, rm, flags));
}

sf64 f64_div(sf64 a, sf64 b, int rm, uint32_t *flags)
{
    DISPATCH(f64_div_host(a, b, rm, flags), f64_div_slow(a, b, rm, flags));
}

sf64 f64_sqrt(sf64 a, int rm, uint32_t *flags)
{
    DISPATCH(f64_sqrt_host(a, rm, flags), f64_sqrt_slow(a, rm, flags));
}

sf64 f64_muladd(sf64 a, sf64 b, sf64 c, bool negate_product, bool negate_addend, int rm, uint32_t *flags)
{
    DISPATCH(f64_muladd_host(a, b, c, negate_product, negate_addend, rm, flags), f64_muladd_slow(a, b, c, negate_product, negate_addend, rm, flags));
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
