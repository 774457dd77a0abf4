/*
 * fuzz_softfp.c - libFuzzer harness for softfp.c's host fast paths: for
 * operand bits and a rounding mode taken from the input, every fast path
 * that does not decline must give exactly the integer code's result bits
 * and flags (softfp_fast.h), a declining one must leave the flags alone,
 * and the public function must equal the integer code.
 *
 * Input: byte 0 picks the operation (add, sub, mul, div, sqrt, and the
 * four fused multiply-adds) and the format, byte 1 the rounding mode
 * (RNE..RMM) and how the operands are built, then up to three 8-byte
 * operands (missing bytes are zero). Besides raw bits, the operands can
 * be derived from one another, so random mutations reach the interesting
 * places: b close to a (cancellation), b a small multiple of half an ulp
 * of a (ties in a sum), c cancelling the product a*b to within a few
 * units (the fused multiply-add's hardest cases), exponents moved into
 * the fast paths' windows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/cpu/softfp.h"
#include "machine/cpu/softfp_fast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_SQRT, OP_MADD, OP_MSUB, OP_NMSUB, OP_NMADD, OP_COUNT };

typedef struct Case {
    bool is64;
    int op, rm;
    uint64_t a, b, c;
} Case;

static uint64_t load64(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8 && i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#define d_of softfp_double_of
#define bits_d softfp_bits_of

/* Operand shaping, on binary64 bits (binary32 operands are the high half
 * shaped the same way and then narrowed by dropping low fraction bits and
 * rebiasing, which keeps the relations approximately). */
static void shape(Case *k, int how, uint64_t extra)
{
    int delta = (int)(extra & 0xff) - 128;
    switch (how) {
    case 0: break;                                      /* raw bits */
    case 1: k->b = k->a + (uint64_t)(int64_t)delta;     /* b next to a */ break;
    case 2: {                                           /* b = (k + 1/2) ulp(a) */
        int e = (int)((k->a >> 52) & 0x7ff);
        double u = ldexp(1.0, e - 1075);
        k->b = bits_d((delta / 8 + 0.5) * u) ^ (k->b & (1ull << 63));
        break;
    }
    case 3: {                                           /* c cancels a*b */
        double x = d_of(k->a), y = d_of(k->b), p = x * y, l = fma(x, y, -p);
        int e = (int)((bits_d(p) >> 52) & 0x7ff);
        k->c = bits_d(-p + (double)(delta >> 2) * ldexp(1.0, e - 1076) - ((extra >> 8) & 1 ? l : 0));
        break;
    }
    case 4: {                                           /* c = half ulp of a*b minus its low part */
        double x = d_of(k->a), y = d_of(k->b), p = x * y, l = fma(x, y, -p);
        int e = (int)((bits_d(p) >> 52) & 0x7ff);
        k->c = bits_d((double)(delta >> 4) * ldexp(1.0, e - 1076) - l);
        break;
    }
    default:                                            /* exponents near 1 */
        k->a = (k->a & 0x800fffffffffffffull) | ((uint64_t)(1023 + (delta >> 3)) << 52);
        k->b = (k->b & 0x800fffffffffffffull) | ((uint64_t)(1023 - (delta >> 4)) << 52);
        break;
    }
}

static uint64_t to32(uint64_t d)
{
    /* binary64 bits -> binary32 bits keeping sign, exponent offset from
     * the bias, and the top fraction bits; the special exponents stay
     * special */
    uint64_t sign = (d >> 63) << 31, frac = (d >> 29) & 0x7fffff;
    int e = (int)((d >> 52) & 0x7ff);
    int e32 = e == 0 ? 0 : e == 0x7ff ? 0xff : e - 1023 + 127;
    if (e32 < 0)
        e32 = 0;
    if (e32 > 0xff)
        e32 = 0xff;
    return sign | ((uint64_t)e32 << 23) | frac;
}

static uint64_t run(const Case *k, int which, uint32_t *fl)
{
    bool np = k->op == OP_NMSUB || k->op == OP_NMADD, nc = k->op == OP_MSUB || k->op == OP_NMADD;
    uint64_t a = k->a, b = k->b, c = k->c;
    int rm = k->rm;

    if (which == 0) { /* integer code */
        if (k->is64) {
            switch (k->op) {
            case OP_ADD: return f64_add_slow(a, b, rm, fl);
            case OP_SUB: return f64_sub_slow(a, b, rm, fl);
            case OP_MUL: return f64_mul_slow(a, b, rm, fl);
            case OP_DIV: return f64_div_slow(a, b, rm, fl);
            case OP_SQRT: return f64_sqrt_slow(a, rm, fl);
            default: return f64_muladd_slow(a, b, c, np, nc, rm, fl);
            }
        }
        switch (k->op) {
        case OP_ADD: return f32_add_slow((sf32)a, (sf32)b, rm, fl);
        case OP_SUB: return f32_sub_slow((sf32)a, (sf32)b, rm, fl);
        case OP_MUL: return f32_mul_slow((sf32)a, (sf32)b, rm, fl);
        case OP_DIV: return f32_div_slow((sf32)a, (sf32)b, rm, fl);
        case OP_SQRT: return f32_sqrt_slow((sf32)a, rm, fl);
        default: return f32_muladd_slow((sf32)a, (sf32)b, (sf32)c, np, nc, rm, fl);
        }
    }
    if (which == 1) { /* fast path */
        if (k->is64) {
            switch (k->op) {
            case OP_ADD: return f64_add_fast(a, b, false, rm, fl);
            case OP_SUB: return f64_add_fast(a, b, true, rm, fl);
            case OP_MUL: return f64_mul_fast(a, b, rm, fl);
            case OP_DIV: return f64_div_fast(a, b, rm, fl);
            case OP_SQRT: return f64_sqrt_fast(a, rm, fl);
            default: return f64_muladd_fast(a, b, c, np, nc, rm, fl);
            }
        }
        switch (k->op) {
        case OP_ADD: return f32_add_fast(a, b, false, rm, fl);
        case OP_SUB: return f32_add_fast(a, b, true, rm, fl);
        case OP_MUL: return f32_mul_fast(a, b, rm, fl);
        case OP_DIV: return f32_div_fast(a, b, rm, fl);
        case OP_SQRT: return f32_sqrt_fast(a, rm, fl);
        default: return f32_muladd_fast(a, b, c, np, nc, rm, fl);
        }
    }
    if (k->is64) { /* public */
        switch (k->op) {
        case OP_ADD: return f64_add(a, b, rm, fl);
        case OP_SUB: return f64_sub(a, b, rm, fl);
        case OP_MUL: return f64_mul(a, b, rm, fl);
        case OP_DIV: return f64_div(a, b, rm, fl);
        case OP_SQRT: return f64_sqrt(a, rm, fl);
        default: return f64_muladd(a, b, c, np, nc, rm, fl);
        }
    }
    switch (k->op) {
    case OP_ADD: return f32_add((sf32)a, (sf32)b, rm, fl);
    case OP_SUB: return f32_sub((sf32)a, (sf32)b, rm, fl);
    case OP_MUL: return f32_mul((sf32)a, (sf32)b, rm, fl);
    case OP_DIV: return f32_div((sf32)a, (sf32)b, rm, fl);
    case OP_SQRT: return f32_sqrt((sf32)a, rm, fl);
    default: return f32_muladd((sf32)a, (sf32)b, (sf32)c, np, nc, rm, fl);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Case k;
    uint32_t fs = 0, ff = 0, fp = 0;
    uint64_t s, x, p;

    if (size < 2)
        return 0;
    k.op = data[0] % OP_COUNT;
    k.is64 = (data[0] / OP_COUNT) % 2 == 0;
    k.rm = data[1] % 5;
    k.a = load64(data + 2, size - 2);
    k.b = size > 10 ? load64(data + 10, size - 10) : 0;
    k.c = size > 18 ? load64(data + 18, size - 18) : 0;
    shape(&k, (data[1] / 5) % 6, size > 26 ? load64(data + 26, size - 26) : data[1]);
    if (!k.is64) {
        k.a = to32(k.a);
        k.b = to32(k.b);
        k.c = to32(k.c);
    }

    s = run(&k, 0, &fs);
    x = softfp_host_fast_usable() ? run(&k, 1, &ff) : SOFTFP_DECLINED;
    p = run(&k, 2, &fp);
    if ((x != SOFTFP_DECLINED && (x != s || ff != fs)) || (x == SOFTFP_DECLINED && ff != 0) || p != s || fp != fs) {
        fprintf(stderr, "MISMATCH f%d op=%d rm=%d a=%#llx b=%#llx c=%#llx: slow %#llx/%#x fast %#llx/%#x public %#llx/%#x\n",
                k.is64 ? 64 : 32, k.op, k.rm, (unsigned long long)k.a, (unsigned long long)k.b,
                (unsigned long long)k.c, (unsigned long long)s, fs, (unsigned long long)x, ff,
                (unsigned long long)p, fp);
        abort();
    }
    return 0;
}
