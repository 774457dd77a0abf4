/*
 * softfp_fast.h - the two halves of softfp.c's arithmetic, for tests.
 *
 * Each public operation of softfp.h (f64_add, f32_muladd, ...) first tries
 * a host fast path (*_fast) and falls back to the integer implementation
 * (*_slow) when the fast path declines. The fast paths use the host's
 * binary64 unit with an exact error term and decline (return
 * SOFTFP_DECLINED, leaving *flags alone) unless they can prove their result
 * and flags equal to the integer code's: so for every input either
 * *_fast(...) == SOFTFP_DECLINED or it equals *_slow(...), bits and flags.
 * tests/unit/test_softfp_fast.c and tests/fuzz/fuzz_softfp.c check that.
 *
 * binary32 arguments and results travel in the low 32 bits of a uint64_t.
 * The *_fast functions may only be called when softfp_host_fast_usable().
 */
#ifndef RRVM_SOFTFP_FAST_H
#define RRVM_SOFTFP_FAST_H

#include <string.h>

#include "machine/cpu/softfp.h"

/* Host doubles from and to their bits (tests build operands with them). */
static inline double softfp_double_of(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

static inline uint64_t softfp_bits_of(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    return bits;
}

/* No fast path returns it: wider than binary32, a NaN in binary64 (the
 * fast paths never produce NaNs). */
#define SOFTFP_DECLINED UINT64_MAX

/* The host has what the fast paths need (x86-64: FMA3, checked at run
 * time); false also when they are compiled out. */
bool softfp_host_fast_usable(void);

uint64_t f64_add_fast(uint64_t a, uint64_t b, bool negate_b, int rm, uint32_t *flags);
uint64_t f64_mul_fast(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t f64_div_fast(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t f64_sqrt_fast(uint64_t a, int rm, uint32_t *flags);
uint64_t f64_muladd_fast(uint64_t a, uint64_t b, uint64_t c, bool negate_product, bool negate_addend, int rm,
                         uint32_t *flags);
uint64_t f32_add_fast(uint64_t a, uint64_t b, bool negate_b, int rm, uint32_t *flags);
uint64_t f32_mul_fast(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t f32_div_fast(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t f32_sqrt_fast(uint64_t a, int rm, uint32_t *flags);
uint64_t f32_muladd_fast(uint64_t a, uint64_t b, uint64_t c, bool negate_product, bool negate_addend, int rm,
                         uint32_t *flags);

/* The integer implementations, exactly what the public functions compute
 * when the fast path declines. */
sf64 f64_add_slow(sf64 a, sf64 b, int rm, uint32_t *flags);
sf64 f64_sub_slow(sf64 a, sf64 b, int rm, uint32_t *flags);
sf64 f64_mul_slow(sf64 a, sf64 b, int rm, uint32_t *flags);
sf64 f64_div_slow(sf64 a, sf64 b, int rm, uint32_t *flags);
sf64 f64_sqrt_slow(sf64 a, int rm, uint32_t *flags);
sf64 f64_muladd_slow(sf64 a, sf64 b, sf64 c, bool negate_product, bool negate_addend, int rm, uint32_t *flags);
sf32 f32_add_slow(sf32 a, sf32 b, int rm, uint32_t *flags);
sf32 f32_sub_slow(sf32 a, sf32 b, int rm, uint32_t *flags);
sf32 f32_mul_slow(sf32 a, sf32 b, int rm, uint32_t *flags);
sf32 f32_div_slow(sf32 a, sf32 b, int rm, uint32_t *flags);
sf32 f32_sqrt_slow(sf32 a, int rm, uint32_t *flags);
sf32 f32_muladd_slow(sf32 a, sf32 b, sf32 c, bool negate_product, bool negate_addend, int rm, uint32_t *flags);

#endif
