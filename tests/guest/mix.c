/*
 * mix.c - ordinary compiled C, the way real programs exercise the CPU:
 * CRC-32 (the standard check value of "123456789" and of a generated
 * buffer), sorting an LCG sequence, a recursive function, FNV-1a hashing,
 * 64-bit division chains, and a small double-precision matrix computation
 * built from exactly representable values (so fused multiply-add
 * contraction cannot change the bits), plus a harmonic sum whose exact bits
 * depend on correctly rounded division and addition in program order.
 *
 * Expected values marked "host" were produced by compiling this same file
 * on x86-64 with -DMIX_HOST (gcc -O2 -ffp-contract=off) and are frozen here.
 */
#ifdef MIX_HOST
#include <stdio.h>
typedef unsigned long u64;
typedef unsigned int u32;
#else
#include "libtest.h"
#endif

static u32 crc32(const unsigned char *p, u64 n)
{
    u32 crc = 0xffffffffu;
    for (u64 i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
    return ~crc;
}

static u64 lcg_state;
static u64 lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005ul + 1442695040888963407ul;
    return lcg_state >> 17;
}

#define NSORT 2000
static u64 sort_buf[NSORT];

static void heap_sift(u64 *a, long start, long end)
{
    long root = start;
    while (2 * root + 1 <= end) {
        long child = 2 * root + 1, swap = root;
        if (a[swap] < a[child])
            swap = child;
        if (child + 1 <= end && a[swap] < a[child + 1])
            swap = child + 1;
        if (swap == root)
            return;
        u64 t = a[root];
        a[root] = a[swap];
        a[swap] = t;
        root = swap;
    }
}

static void heap_sort(u64 *a, long n)
{
    for (long start = (n - 2) / 2; start >= 0; start--)
        heap_sift(a, start, n - 1);
    for (long end = n - 1; end > 0; end--) {
        u64 t = a[0];
        a[0] = a[end];
        a[end] = t;
        heap_sift(a, 0, end - 1);
    }
}

static u64 fib(u64 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static u64 fnv1a(const unsigned char *p, u64 n)
{
    u64 h = 0xcbf29ce484222325ul;
    for (u64 i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ul;
    }
    return h;
}

static u64 div_chain(void)
{
    u64 acc = 0xfedcba9876543210ul, sum = 0;
    for (u64 d = 3; d < 200; d += 7) {
        sum += acc / d + acc % d;
        acc = acc * 31 + (u64)((long)acc / -(long)d);
    }
    return sum ^ acc;
}

#define MN 12
static double ma[MN][MN], mb[MN][MN], mc[MN][MN];

static double matrix(void)
{
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++) {
            ma[i][j] = (double)((i * 7 + j * 3) % 11 - 5) / 4.0;
            mb[i][j] = (double)((i * 5 + j * 9) % 13 - 6) * 2.0;
        }
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++) {
            double s = 0;
            for (int k = 0; k < MN; k++)
                s += ma[i][k] * mb[k][j];
            mc[i][j] = s;
        }
    double tr = 0;
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++)
            tr += mc[i][j] * (double)(i == j ? 3 : (i + j) % 3 - 1);
    return tr;
}

static double harmonic(int n)
{
    double s = 0;
    for (int k = 1; k <= n; k++)
        s += 1.0 / (double)k;
    return s;
}

static unsigned char gen_buf[4096];

typedef struct Results {
    u64 crc_check, crc_buf, sort_first, sort_mid, sort_last, sort_sorted, fib25, fnv, divs;
    double mat, harm;
} Results;

static void compute(Results *r)
{
    r->crc_check = crc32((const unsigned char *)"123456789", 9);
    lcg_state = 42;
    for (int i = 0; i < 4096; i++)
        gen_buf[i] = (unsigned char)lcg();
    r->crc_buf = crc32(gen_buf, sizeof gen_buf);
    for (int i = 0; i < NSORT; i++)
        sort_buf[i] = lcg();
    heap_sort(sort_buf, NSORT);
    r->sort_first = sort_buf[0];
    r->sort_mid = sort_buf[NSORT / 2];
    r->sort_last = sort_buf[NSORT - 1];
    r->sort_sorted = 1;
    for (int i = 1; i < NSORT; i++)
        r->sort_sorted &= sort_buf[i - 1] <= sort_buf[i];
    r->fib25 = fib(25);
    r->fnv = fnv1a(gen_buf, sizeof gen_buf);
    r->divs = div_chain();
    r->mat = matrix();
    r->harm = harmonic(1000);
}

static u64 bits(double d)
{
    union { double d; u64 u; } v = {d};
    return v.u;
}

#ifdef MIX_HOST
int main(void)
{
    Results r;
    compute(&r);
    printf("crc_buf 0x%lx\nsort 0x%lx 0x%lx 0x%lx %lu\nfnv 0x%lx\ndivs 0x%lx\nmat 0x%lx\nharm 0x%lx\n",
           r.crc_buf, r.sort_first, r.sort_mid, r.sort_last, r.sort_sorted, r.fnv, r.divs,
           bits(r.mat), bits(r.harm));
    return 0;
}
#else
int main(void)
{
    Results r;
    test_begin("mix");
    compute(&r);
    CHECK("crc32(\"123456789\") standard check value", r.crc_check, 0xcbf43926u);
    CHECK("crc32 of LCG buffer (host)", r.crc_buf, 0x852a0588u);
    CHECK("heap sort: sorted", r.sort_sorted, 1);
    CHECK("heap sort: first (host)", r.sort_first, 0x8bdd4aed3ul);
    CHECK("heap sort: middle (host)", r.sort_mid, 0x3fbd47f10cc1ul);
    CHECK("heap sort: last (host)", r.sort_last, 0x7fef1db032adul);
    CHECK("fib(25)", r.fib25, 75025);
    CHECK("fnv1a (host)", r.fnv, 0x633cb6538c4a2260ul);
    CHECK("division chain (host)", r.divs, 0xcd15b2f35f89bf79ul);
    CHECK("matrix trace bits (host)", bits(r.mat), 0x4082200000000000ul);
    CHECK("harmonic(1000) bits (host)", bits(r.harm), 0x401df11f45f4e618ul);
    return test_end();
}
#endif
