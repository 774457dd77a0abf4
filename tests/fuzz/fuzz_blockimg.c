/*
 * fuzz_blockimg.c - libFuzzer harness for the disk-image reader
 * (src/host/blockimg.c, src/host/qcow2.c): every byte of an image file is
 * hostile.
 *
 * Each input is written to `img` in a private temporary directory that
 * also holds `base.raw` (64 KiB of a pattern), so an input can name a
 * backing file that exists (base.raw), itself (a loop), or none. The image
 * is opened with its format probed; a refusal must give a one-line reason
 * naming the file. An opened image is read in a few ranges (the start in
 * one read and again in odd-sized pieces, which must agree; the end; a
 * range in the middle) and, when its virtual size is at most 16 MiB,
 * hashed. Nothing may crash, leak, read out of bounds or hang.
 *
 * scripts/run-fuzz-blockimg builds this file with -fsanitize=fuzzer, and
 * once more with -DFUZZ_SEED_GENERATOR, a plain program that writes small
 * valid qcow2 images (v2 and v3, 512 B to 16 KiB clusters, data, zero,
 * compressed and unallocated clusters, with and without a backing file)
 * as seeds. The seeds are built here, not by qemu-img, so the harness
 * needs no tools at run time.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include "host/blockimg.h"

#define CHECK(c)                                                                        \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "fuzz_blockimg: check failed: %s (line %d)\n", #c, __LINE__); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#define BASE_SIZE (64u << 10)

static uint8_t pattern_byte(uint64_t off) { return (uint8_t)(off * 131 + (off >> 9)); }

#ifdef FUZZ_SEED_GENERATOR

/* ---- a tiny qcow2 writer for the seeds ---------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len;
} Image;

static void put_be(Image *im, size_t off, uint64_t v, int bytes)
{
    if (off + (size_t)bytes > im->len) {
        im->p = realloc(im->p, off + (size_t)bytes);
        CHECK(im->p);
        memset(im->p + im->len, 0, off + (size_t)bytes - im->len);
        im->len = off + (size_t)bytes;
    }
    for (int i = 0; i < bytes; i++)
        im->p[off + (size_t)i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static void put_bytes(Image *im, size_t off, const void *src, size_t n)
{
    if (n == 0)
        return;
    put_be(im, off + n - 1, 0, 1); /* grow */
    memcpy(im->p + off, src, n);
}

typedef struct {
    int version;
    unsigned cluster_bits;
    uint64_t virtual_size;
    const char *backing;     /* NULL: none */
    const char *backing_fmt; /* NULL: no extension */
    bool compressed;         /* put a compressed cluster at guest cluster 2 */
} SeedSpec;

/* Layout: cluster 0 header, 1 L1, 2 L2, 3.. data, 8 and 9 refcounts. One L2 table, so the
 * virtual size is at most C * C / 8. Guest clusters: 0 data, 1 zero (v3)
 * or unallocated, 2 compressed or unallocated, 3 unallocated, 4 and 5
 * data in consecutive host clusters. */
static Image make_seed(const SeedSpec *s)
{
    Image im = {0};
    size_t c = (size_t)1 << s->cluster_bits;
    size_t hlen = s->version == 3 ? 104 : 72;
    put_bytes(&im, 0, "QFI\xfb", 4);
    put_be(&im, 4, (uint64_t)s->version, 4);
    put_be(&im, 20, s->cluster_bits, 4);
    put_be(&im, 24, s->virtual_size, 8);
    put_be(&im, 36, 1, 4);            /* l1_size */
    put_be(&im, 40, c, 8);            /* l1_table_offset */
    if (s->version == 3) {
        put_be(&im, 96, 4, 4);        /* refcount_order */
        put_be(&im, 100, hlen, 4);
    }
    size_t ext = hlen;
    if (s->backing_fmt) {
        size_t n = strlen(s->backing_fmt);
        put_be(&im, ext, 0xe2792aca, 4);
        put_be(&im, ext + 4, n, 4);
        put_bytes(&im, ext + 8, s->backing_fmt, n);
        ext += 8 + ((n + 7) & ~(size_t)7);
    }
    put_be(&im, ext, 0, 8); /* end of extensions */
    if (s->backing) {
        size_t off = ext + 8;
        put_be(&im, 8, off, 8);
        put_be(&im, 16, strlen(s->backing), 4);
        put_bytes(&im, off, s->backing, strlen(s->backing));
    }
    uint64_t copied = 1ull << 63;
    put_be(&im, c, copied | 2 * c, 8); /* L1[0] -> L2 at cluster 2 */
    size_t l2 = 2 * c;
    uint8_t *data = malloc(c);
    CHECK(data);
    /* guest cluster 0 -> host cluster 3; 4, 5 -> host 4, 5 */
    static const unsigned map[][2] = {{0, 3}, {4, 4}, {5, 5}};
    for (int i = 0; i < 3; i++) {
        for (size_t j = 0; j < c; j++)
            data[j] = pattern_byte(map[i][0] * c + j) ^ 0x5a;
        put_be(&im, l2 + 8 * map[i][0], copied | map[i][1] * c, 8);
        put_bytes(&im, map[i][1] * c, data, c);
    }
    if (s->version == 3)
        put_be(&im, l2 + 8, 1, 8); /* guest cluster 1: zero flag */
    if (s->compressed) {           /* guest cluster 2, stored unaligned after host cluster 5 */
        for (size_t j = 0; j < c; j++)
            data[j] = (uint8_t)(j / 7);
        uint8_t *z = malloc(2 * c + 64);
        CHECK(z);
        z_stream zs = {0};
        CHECK(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) == Z_OK);
        zs.next_in = data;
        zs.avail_in = (uInt)c;
        zs.next_out = z;
        zs.avail_out = (uInt)(2 * c + 64);
        CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
        size_t zlen = zs.total_out;
        deflateEnd(&zs);
        uint64_t host = 6 * c + 100;
        unsigned x = 62 - (s->cluster_bits - 8);
        uint64_t sectors = (host % 512 + zlen + 511) / 512; /* sectors touched */
        put_be(&im, l2 + 16, 1ull << 62 | (sectors - 1) << x | host, 8);
        put_bytes(&im, (size_t)host, z, zlen);
        free(z);
    }
    /* refcounts (a reader ignores them; they let qemu-img open the seeds):
     * table at host cluster 8, one block at 9, every cluster used once */
    put_be(&im, 48, 8 * c, 8);
    put_be(&im, 56, 1, 4);
    put_be(&im, 8 * c, 9 * c, 8);
    for (size_t i = 0; i < 10; i++)
        put_be(&im, 9 * c + 2 * i, 1, 2);
    put_be(&im, 10 * c - 1, 0, 1); /* the file ends after the block */
    free(data);
    return im;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SEED_DIR\n", argv[0]);
        return 2;
    }
    static const SeedSpec seeds[] = {
        {3, 9, 32 << 10, NULL, NULL, true},
        {2, 9, 32 << 10, NULL, NULL, true},
        {3, 9, 32 << 10, "base.raw", "raw", false},
        {3, 9, 20 << 10, "base.raw", NULL, true},    /* probed backing, smaller than it */
        {2, 12, 128 << 10, "base.raw", "raw", true}, /* larger than its backing file */
        {3, 12, 64 << 10, "img", "qcow2", false},    /* a loop */
        {3, 14, 512 << 10, NULL, NULL, true},
        {3, 9, 1 << 20, "base.raw", "vmdk", false},  /* an L1 too small, an unknown backing format */
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        Image im = make_seed(&seeds[i]);
        char path[4096];
        snprintf(path, sizeof path, "%s/seed-%02zu.qcow2", argv[1], i);
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(im.p, 1, im.len, f) == im.len && fclose(f) == 0);
        free(im.p);
    }
    return 0;
}

#else

static char dir[64], img_path[128];

static void cleanup(void)
{
    char p[128];
    unlink(img_path);
    snprintf(p, sizeof p, "%s/base.raw", dir);
    unlink(p);
    rmdir(dir);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/fuzz_blockimg.XXXXXX");
    CHECK(mkdtemp(dir));
    snprintf(img_path, sizeof img_path, "%s/img", dir);
    char p[128];
    snprintf(p, sizeof p, "%s/base.raw", dir);
    static uint8_t base[BASE_SIZE];
    for (size_t i = 0; i < BASE_SIZE; i++)
        base[i] = pattern_byte(i);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, base, BASE_SIZE) == BASE_SIZE && close(fd) == 0);
    atexit(cleanup);
}

static void write_input(const uint8_t *data, size_t size)
{
    int fd = open(img_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
    CHECK(close(fd) == 0);
}

static bool read_range(BlockImage *b, uint64_t off, uint8_t *buf, size_t n)
{
    char err[512] = "";
    bool ok = blockimg_read(b, off, buf, n, err, sizeof err);
    CHECK(ok || (err[0] && !strchr(err, '\n')));
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        setup();
    write_input(data, size);
    char err[512] = "";
    BlockImage *b = blockimg_open(img_path, NULL, err, sizeof err);
    if (!b) {
        CHECK(strstr(err, img_path) && !strchr(err, '\n'));
        return 0;
    }
    uint64_t vsize = blockimg_size(b);
    enum { SPAN = 96 << 10 };
    static uint8_t whole[SPAN], pieces[SPAN];
    size_t n = vsize < SPAN ? (size_t)vsize : SPAN;
    /* the start in one read and in three odd pieces: the same bytes, or both fail */
    bool ok_whole = read_range(b, 0, whole, n);
    size_t a = n / 3 + 1 < n ? n / 3 + 1 : n, c = n - a < 4099 ? n - a : 4099;
    bool ok1 = read_range(b, 0, pieces, a), ok2 = read_range(b, a, pieces + a, c);
    bool ok3 = read_range(b, a + c, pieces + a + c, n - a - c);
    bool ok_pieces = ok1 && ok2 && ok3;
    CHECK(ok_whole == ok_pieces);
    CHECK(!ok_whole || memcmp(whole, pieces, n) == 0);
    if (vsize > SPAN) {
        read_range(b, vsize - 5000 > SPAN ? vsize - 5000 : SPAN, whole, 5000 < vsize - SPAN ? 5000 : (size_t)(vsize - SPAN));
        read_range(b, vsize / 2, whole, vsize / 2 < SPAN ? (size_t)(vsize / 2) : SPAN);
    }
    uint8_t out[16];
    CHECK(!read_range(b, vsize, whole, 1)); /* past the end */
    if (vsize <= (16u << 20)) {
        bool ok = blockimg_hash_uncached(b, out, err, sizeof err);
        CHECK(ok || (err[0] && !strchr(err, '\n')));
    }
    blockimg_close(b);
    return 0;
}

#endif
