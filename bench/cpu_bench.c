/*
 * cpu_bench.c - CPU-bound bare-metal benchmark for rrvm and QEMU.
 *
 * Each of ITERS rounds (default 800, about 2.5 M instructions each, so about
 * 2 billion in all; override with -DITERS=N) runs four kernels: integer mixing with multiplies and
 * divides, memory (a pointer-chasing walk over a 256 KiB permutation, a
 * sequential sum, a 64 KiB word copy), branches made unpredictable by an
 * LCG, and a double-precision mix (fmadd-able expressions, divide, sqrt).
 * It prints "checksum=0x..." (identical on every correct emulator) and
 * "insns=N", the minstret delta over the kernels (exact on rrvm and on QEMU
 * with -icount; host cycles on plain QEMU), then exits 0.
 * Runs in M-mode with the tests' start-up code (tests/guest/libcrt.S).
 */
#include "libtest.h"

#ifndef ITERS
#define ITERS 800
#endif

#define NWALK 32768      /* 256 KiB of u64 */
#define NCOPY 8192       /* 64 KiB per buffer */

static u64 walk[NWALK];
static u64 copy_src[NCOPY], copy_dst[NCOPY];

static u64 lcg_next(u64 *s)
{
    *s = *s * 6364136223846793005ul + 1442695040888963407ul;
    return *s;
}

static void setup(void)
{
    u64 s = 1;
    /* a single-cycle random permutation (Sattolo's algorithm) */
    for (u64 i = 0; i < NWALK; i++)
        walk[i] = i;
    for (u64 i = NWALK - 1; i > 0; i--) {
        u64 j = (lcg_next(&s) >> 33) % i;
        u64 t = walk[i];
        walk[i] = walk[j];
        walk[j] = t;
    }
    for (u64 i = 0; i < NCOPY; i++)
        copy_src[i] = lcg_next(&s);
}

static u64 kernel_int(u64 x, int n)
{
    for (int i = 1; i <= n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = x * 0x9e3779b97f4a7c15ul + (u64)i;
        if ((i & 15) == 0)
            x += x / (u64)(i | 3) + (u64)((long)x % 1000003);
        x = (x << 5 | x >> 59) - (u64)(unsigned)x;
    }
    return x;
}

static u64 kernel_mem(u64 seed)
{
    u64 idx = seed % NWALK, sum = 0;
    for (int i = 0; i < NWALK / 2; i++) {
        idx = walk[idx];
        sum += idx;
    }
    for (int i = 0; i < NWALK; i += 2)
        sum += walk[i] ^ walk[i + 1];
    volatile u64 *d = copy_dst;
    for (int i = 0; i < NCOPY; i++)
        d[i] = copy_src[i] + sum;
    copy_src[seed % NCOPY] ^= sum;
    return sum ^ copy_dst[(seed >> 3) % NCOPY];
}

static u64 kernel_branch(u64 s, int n)
{
    u64 a = 0, b = 1, c = 2;
    for (int i = 0; i < n; i++) {
        u64 r = lcg_next(&s) >> 29;
        if (r & 1)
            a += r;
        else
            b ^= r;
        switch ((r >> 3) & 7) {
        case 0: c += a; break;
        case 1: c ^= b; break;
        case 2: c -= r; break;
        case 3: c = c * 3 + 1; break;
        case 4: if (r & 0x100) c >>= 1; break;
        case 5: c += (a < b); break;
        default: c ^= r << 7; break;
        }
    }
    return a ^ b ^ c;
}

static double fsqrt(double v)
{
    double r;
    __asm__("fsqrt.d %0, %1" : "=f"(r) : "f"(v));
    return r;
}

static double kernel_fp(double x, int n)
{
    double y = 1.5, z = 0.25, acc = 0;
    for (int i = 0; i < n; i++) {
        x = x * 0.999999 + 0.5;
        y = fsqrt(y + x * 0.001);
        z = z / 1.000001 + y * x;
        if (z > 1e6)
            z *= 1e-6;
        acc += z * 1e-3 - y;
    }
    return acc + x;
}

static u64 bits(double d)
{
    union { double d; u64 u; } v = {d};
    return v.u;
}

int main(void)
{
    setup();
    u64 check = 0x12345678ul, fp_bits = 0;
    double fx = 0.125;
    u64 i0 = csr_read(minstret);
    for (int it = 0; it < ITERS; it++) {
        check = kernel_int(check, 60000);
        check ^= kernel_mem(check);
        check += kernel_branch(check, 50000);
        fx = kernel_fp(fx, 20000);
        fp_bits ^= bits(fx) + (u64)it;
        fx = fx - (double)(long)fx + 0.125;   /* keep it bounded */
    }
    u64 i1 = csr_read(minstret);
    tprintf("checksum=0x%016lx\n", check ^ fp_bits);
    tprintf("insns=%lu\n", i1 - i0);
    return 0;
}
