/*
 * test_blockimg.c - the disk-image reader against QEMU's own tools: images
 * made with qemu-img/qemu-io (raw; qcow2 v2 and v3, 512 B/64 KiB/2 MiB
 * clusters, zero clusters, compressed clusters, a chain of three with
 * relative backing names, a top larger or smaller than its backing file)
 * must read byte for byte as `qemu-img convert -O raw` of them, in reads
 * that cross cluster boundaries, and hash like that raw file. The hash
 * cache answers a second time without reading and is invalidated when a
 * backing file changes. Broken images (truncated, tables past the end of
 * the file, bad cluster_bits, loops, encryption, unsupported features) are
 * refused with a reason naming the file, or fail the read that meets them.
 *
 * Every file lives in a fresh temporary directory, and RRVM_CACHE_DIR
 * points into it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host/blockimg.h"

static char dir[256]; /* the temporary directory of this run */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[4300];
    snprintf(full, sizeof full, "cd '%s' && (%s) >/dev/null 2>&1", dir, cmd);
    int rc = system(full);
    if (rc != 0)
        fail_msg("command failed (%d): %s", rc, cmd);
}

static char *path_of(const char *name)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

static BlockImage *open_ok(const char *name, const char *format)
{
    char err[512] = "";
    BlockImage *b = blockimg_open(path_of(name), format, err, sizeof err);
    if (!b)
        fail_msg("open %s: %s", name, err);
    return b;
}

/* Open must fail, with a reason naming `names` (the file at fault). */
static void open_refused(const char *name, const char *names, const char *reason)
{
    char err[512] = "";
    BlockImage *b = blockimg_open(path_of(name), NULL, err, sizeof err);
    if (b)
        fail_msg("%s opened, expected refusal (%s)", name, reason);
    if (!strstr(err, names) || !strstr(err, reason))
        fail_msg("reason for %s does not name %s or say '%s': %s", name, names, reason, err);
    if (strchr(err, '\n'))
        fail_msg("reason is not one line: %s", err);
}

static uint8_t *read_all(BlockImage *b)
{
    uint64_t size = blockimg_size(b);
    uint8_t *buf = malloc(size ? size : 1);
    assert_non_null(buf);
    char err[512];
    if (!blockimg_read(b, 0, buf, size, err, sizeof err))
        fail_msg("read: %s", err);
    return buf;
}

/* Every byte of `name` as read through blockimg equals the same byte of
 * raw file `raw_name`: one read of everything, then odd-sized reads that
 * straddle clusters of every size tested. The hashes are equal too. */
static void assert_same_as_raw(const char *name, const char *raw_name)
{
    BlockImage *img = open_ok(name, NULL), *raw = open_ok(raw_name, "raw");
    assert_int_equal(blockimg_size(img), blockimg_size(raw));
    uint64_t size = blockimg_size(img);
    uint8_t *want = read_all(raw), *got = read_all(img);
    assert_memory_equal(got, want, size);
    char err[512];
    size_t step = 100003; /* prime: every read starts at a different offset within a cluster */
    uint8_t *chunk = malloc(step);
    for (uint64_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? (size_t)(size - off) : step;
        if (!blockimg_read(img, off, chunk, n, err, sizeof err))
            fail_msg("read %s at %llu: %s", name, (unsigned long long)off, err);
        assert_memory_equal(chunk, want + off, n);
    }
    static const uint64_t boundaries[] = {512, 65536, 2 << 20};
    for (int i = 0; i < 3; i++) {
        for (uint64_t edge = boundaries[i]; edge + 700 < size; edge += boundaries[i] * 7) {
            if (!blockimg_read(img, edge - 300, chunk, 1000, err, sizeof err))
                fail_msg("read %s at %llu: %s", name, (unsigned long long)edge - 300, err);
            assert_memory_equal(chunk, want + edge - 300, 1000);
        }
    }
    uint8_t h1[16], h2[16];
    assert_true(blockimg_hash_uncached(img, h1, err, sizeof err));
    assert_true(blockimg_hash_uncached(raw, h2, err, sizeof err));
    assert_memory_equal(h1, h2, 16);
    free(chunk);
    free(want);
    free(got);
    blockimg_close(img);
    blockimg_close(raw);
}

/* Writes at odd offsets that straddle 512 B, 64 KiB and 2 MiB clusters. */
#define PATTERN                                                                                  \
    "-c 'write -P 0xab 0 64k' -c 'write -P 0x11 100001 70000' -c 'write -P 0x22 2097000 3000' " \
    "-c 'write -P 0x33 5000000 1000000' -c 'write -P 0x44 8387000 1000'"

static void make_qcow2(const char *name, const char *opts)
{
    sh("qemu-img create -f qcow2 -o %s %s 8M && qemu-io -f qcow2 " PATTERN " %s", opts, name, name);
}

static void test_raw_reads_and_refuses_past_end(void **state)
{
    sh("qemu-img create -f raw r.raw 8M && qemu-io -f raw " PATTERN " r.raw && cp r.raw r2.raw");
    BlockImage *b = open_ok("r.raw", NULL);
    assert_string_equal(blockimg_format(b), "raw");
    assert_int_equal(blockimg_size(b), 8 << 20);
    uint8_t buf[16];
    char err[512];
    assert_false(blockimg_read(b, (8 << 20) - 8, buf, 16, err, sizeof err));
    assert_non_null(strstr(err, "r.raw"));
    blockimg_close(b);
    assert_same_as_raw("r.raw", "r2.raw");
}

static void test_qcow2_versions_and_cluster_sizes(void **state)
{
    static const char *compat[] = {"0.10", "1.1"};
    static const char *clusters[] = {"512", "64k", "2M"};
    for (int v = 0; v < 2; v++) {
        for (int c = 0; c < 3; c++) {
            char opts[64];
            snprintf(opts, sizeof opts, "compat=%s,cluster_size=%s", compat[v], clusters[c]);
            make_qcow2("q.qcow2", opts);
            sh("qemu-img convert -O raw q.qcow2 q.raw");
            BlockImage *b = open_ok("q.qcow2", NULL);
            assert_string_equal(blockimg_format(b), "qcow2");
            blockimg_close(b);
            assert_same_as_raw("q.qcow2", "q.raw");
        }
    }
}

static void test_zero_clusters(void **state)
{
    make_qcow2("z.qcow2", "compat=1.1,cluster_size=64k");
    /* whole clusters become zero clusters; the partial one is written as zeros */
    sh("qemu-io -f qcow2 -c 'write -z 0 128k' -c 'write -z 5111808 65536' -c 'write -z 100 200' z.qcow2");
    sh("qemu-img convert -O raw z.qcow2 z.raw");
    assert_same_as_raw("z.qcow2", "z.raw");
    /* unallocated zero clusters (write -z -u) over a backing file hide it */
    sh("qemu-img create -f qcow2 -b z.qcow2 -F qcow2 zt.qcow2 && qemu-io -f qcow2 -c 'write -z 4915200 262144' zt.qcow2");
    sh("qemu-img convert -O raw zt.qcow2 zt.raw");
    assert_same_as_raw("zt.qcow2", "zt.raw");
}

static void test_compressed_clusters(void **state)
{
    sh("qemu-img create -f raw c.raw 8M && qemu-io -f raw " PATTERN " c.raw");
    sh("head -c 300000 /dev/urandom | dd of=c.raw bs=1 seek=3000000 conv=notrunc"); /* incompressible */
    sh("qemu-img convert -c -O qcow2 -o compat=1.1 c.raw c3.qcow2");
    sh("qemu-img convert -c -O qcow2 -o compat=0.10,cluster_size=4k c.raw c2.qcow2");
    sh("qemu-img convert -c -O qcow2 -o cluster_size=2M c.raw c4.qcow2");
    assert_same_as_raw("c3.qcow2", "c.raw");
    assert_same_as_raw("c2.qcow2", "c.raw");
    assert_same_as_raw("c4.qcow2", "c.raw");
}

static void test_backing_chain_of_three_with_relative_names(void **state)
{
    sh("mkdir -p chain && cd chain && qemu-img create -f qcow2 base.qcow2 8M && qemu-io -f qcow2 " PATTERN
       " base.qcow2 && qemu-img create -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2 && qemu-io -f qcow2 -c "
       "'write -P 0x55 60000 10000' -c 'write -z 5100000 200000' mid.qcow2 && qemu-img create -f qcow2 -b "
       "mid.qcow2 -F qcow2 -o cluster_size=4k top.qcow2 && qemu-io -f qcow2 -c 'write -P 0x66 65000 1000' "
       "top.qcow2 && qemu-img convert -O raw top.qcow2 ../flat.raw");
    /* the names are relative to each image's directory, not to ours */
    assert_int_equal(chdir("/"), 0);
    assert_same_as_raw("chain/top.qcow2", "flat.raw");
    assert_int_equal(chdir(dir), 0); /* and a relative path to the top image */
    char err[512];
    BlockImage *b = blockimg_open("chain/top.qcow2", NULL, err, sizeof err);
    if (!b)
        fail_msg("open chain/top.qcow2 from its parent directory: %s", err);
    blockimg_close(b);
    /* without the backing-format extension the backing file is probed */
    sh("cd chain && cp top.qcow2 probe.qcow2 && python3 -c \"import sys; d=open('probe.qcow2','rb').read(); "
       "i=d.index(bytes.fromhex('e2792aca')); open('probe.qcow2','r+b').write(d[:i]+b'\\x12\\x34\\x56\\x78'+d[i+4:])\"");
    assert_same_as_raw("chain/probe.qcow2", "flat.raw");
}

static void test_virtual_size_larger_and_smaller_than_backing(void **state)
{
    sh("qemu-img create -f raw small.raw 1M && qemu-io -f raw -c 'write -P 0x77 0 1M' small.raw");
    sh("qemu-img create -f qcow2 -b small.raw -F raw big.qcow2 4M && "
       "qemu-io -f qcow2 -c 'write -P 0x88 1040000 20000' big.qcow2 && qemu-img convert -O raw big.qcow2 big.raw");
    assert_same_as_raw("big.qcow2", "big.raw");
    BlockImage *b = open_ok("big.qcow2", NULL);
    uint8_t buf[100];
    char err[512];
    assert_true(blockimg_read(b, 3 << 20, buf, sizeof buf, err, sizeof err)); /* past the backing file */
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0);
    blockimg_close(b);
    sh("qemu-img create -f qcow2 -b small.raw -F raw shrunk.qcow2 300k && qemu-img convert -O raw shrunk.qcow2 shrunk.raw");
    assert_same_as_raw("shrunk.qcow2", "shrunk.raw");
}

/* pread calls for reading the whole image 4 KiB at a time */
static uint64_t preads_of_sequential_read(const char *name)
{
    BlockImage *b = open_ok(name, NULL);
    uint64_t before = blockimg_read_count(b);
    uint8_t buf[4096];
    char err[512];
    for (uint64_t off = 0; off < blockimg_size(b); off += sizeof buf)
        if (!blockimg_read(b, off, buf, sizeof buf, err, sizeof err))
            fail_msg("read %s: %s", name, err);
    uint64_t n = blockimg_read_count(b) - before;
    blockimg_close(b);
    return n;
}

static void test_sequential_reads_reuse_tables_and_clusters(void **state)
{
    /* 8 MiB of data, 128 clusters of 64 KiB under one L2 table: 2048
     * data reads and the table once (not once per read) */
    sh("qemu-img create -f qcow2 seq.qcow2 8M && qemu-io -f qcow2 -c 'write -P 0x21 0 8M' seq.qcow2");
    assert_int_equal(preads_of_sequential_read("seq.qcow2"), 2048 + 1);
    /* compressed: each cluster read and inflated once, not 16 times */
    sh("qemu-img convert -c -O qcow2 seq.qcow2 seqc.qcow2");
    assert_true(preads_of_sequential_read("seqc.qcow2") <= 128 + 1);
    /* 512-byte clusters: 64 entries per table, 256 tables, more than the cache holds */
    sh("qemu-img convert -O qcow2 -o cluster_size=512 seq.qcow2 seq512.qcow2");
    assert_true(preads_of_sequential_read("seq512.qcow2") <= 2048 + 256);
}

static void test_hash_of_sparse_8g_is_fast_and_matches_raw(void **state)
{
    sh("qemu-img create -f qcow2 sparse.qcow2 8G && qemu-io -f qcow2 -c 'write -P 0x99 5G 64k' sparse.qcow2");
    sh("truncate -s 8G sparse.raw && qemu-io -f raw -c 'write -P 0x99 5G 64k' sparse.raw");
    char err[512];
    uint8_t hq[16], hr[16];
    BlockImage *q = open_ok("sparse.qcow2", NULL), *r = open_ok("sparse.raw", NULL);
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_true(blockimg_hash_uncached(q, hq, err, sizeof err));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(blockimg_hash_uncached(r, hr, err, sizeof err));
    clock_gettime(CLOCK_MONOTONIC, &t2);
    double sq = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double sr = (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9;
    printf("hash of a sparse 8 GiB image: qcow2 %.2f s, raw %.2f s\n", sq, sr);
    assert_memory_equal(hq, hr, 16);
    assert_true(sq < 20); /* ~1 s of XXH3 over zeros; generous for a loaded CI host */
    blockimg_close(q);
    blockimg_close(r);
}

static void hash_cached(const char *name, uint8_t out[16], bool *read_anything)
{
    BlockImage *b = open_ok(name, NULL);
    uint64_t before = blockimg_read_count(b);
    char err[512];
    if (!blockimg_hash(b, out, err, sizeof err))
        fail_msg("hash %s: %s", name, err);
    *read_anything = blockimg_read_count(b) != before;
    blockimg_close(b);
}

static void test_hash_cache_hits_and_invalidates(void **state)
{
    sh("qemu-img create -f raw hb.raw 2M && qemu-io -f raw -c 'write -P 0x12 0 2M' hb.raw && "
       "qemu-img create -f qcow2 -b hb.raw -F raw ht.qcow2 && qemu-io -f qcow2 -c 'write -P 0x34 4k 4k' ht.qcow2");
    /* a file modified in the last seconds is not cached (its mtime could
     * still hide a write): hashed twice */
    uint8_t h1[16], h2[16], h3[16];
    bool read;
    hash_cached("ht.qcow2", h1, &read);
    assert_true(read);
    hash_cached("ht.qcow2", h2, &read);
    assert_true(read);
    sh("touch -d '1 hour ago' hb.raw ht.qcow2");
    hash_cached("ht.qcow2", h1, &read);
    assert_true(read);
    hash_cached("ht.qcow2", h2, &read);
    assert_false(read); /* answered by the cache */
    assert_memory_equal(h1, h2, 16);
    /* a corrupt line in the cache is ignored, the good ones still count */
    sh("printf 'garbage line\\n/x 1 2 3 4 zz\\n' >> cache/image-hashes");
    hash_cached("ht.qcow2", h2, &read);
    assert_false(read);
    /* the backing file's mtime changes: hashed again (same content, same hash) */
    struct timespec times[2] = {{0, UTIME_OMIT}, {1234567890, 5}};
    assert_int_equal(utimensat(AT_FDCWD, path_of("hb.raw"), times, 0), 0);
    hash_cached("ht.qcow2", h3, &read);
    assert_true(read);
    assert_memory_equal(h1, h3, 16);
    hash_cached("ht.qcow2", h3, &read);
    assert_false(read);
    /* its content changes: a different hash */
    sh("qemu-io -f raw -c 'write -P 0x13 1M 512' hb.raw && touch -d '1 hour ago' hb.raw"); /* not under ht's one cluster */
    hash_cached("ht.qcow2", h3, &read);
    assert_true(read);
    assert_memory_not_equal(h1, h3, 16);
    /* one line per top file: the stale ones were replaced */
    sh("test $(grep -c ht.qcow2 cache/image-hashes) = 1 && ! grep -q garbage cache/image-hashes");
    /* an unwritable cache only costs time */
    sh("rm -rf cache && touch cache");
    hash_cached("ht.qcow2", h2, &read);
    assert_true(read);
    assert_memory_equal(h2, h3, 16);
    sh("rm -f cache");
}

/* ---- broken images -------------------------------------------------------- */

static void patch(const char *name, uint64_t off, uint64_t value, int bytes)
{
    uint8_t be[8];
    for (int i = 0; i < bytes; i++)
        be[i] = (uint8_t)(value >> (8 * (bytes - 1 - i)));
    int fd = open(path_of(name), O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, be, (size_t)bytes, (off_t)off), bytes);
    close(fd);
}

static uint64_t peek64(const char *name, uint64_t off)
{
    uint8_t be[8];
    int fd = open(path_of(name), O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, be, 8, (off_t)off), 8);
    close(fd);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | be[i];
    return v;
}

static void fresh(const char *name) { make_qcow2(name, "compat=1.1,cluster_size=64k"); }

static void test_refuses_broken_headers(void **state)
{
    fresh("bad.qcow2");
    sh("truncate -s 50 bad.qcow2");
    open_refused("bad.qcow2", "bad.qcow2", "truncated");

    fresh("bad.qcow2");
    patch("bad.qcow2", 40, 1ull << 40, 8); /* l1_table_offset */
    open_refused("bad.qcow2", "bad.qcow2", "L1 table beyond the end");

    fresh("bad.qcow2");
    patch("bad.qcow2", 36, 0, 4); /* l1_size */
    open_refused("bad.qcow2", "bad.qcow2", "L1 table too small");

    fresh("bad.qcow2");
    patch("bad.qcow2", 20, 40, 4); /* cluster_bits */
    open_refused("bad.qcow2", "bad.qcow2", "cluster_bits");

    fresh("bad.qcow2");
    patch("bad.qcow2", 20, 8, 4);
    open_refused("bad.qcow2", "bad.qcow2", "cluster_bits");

    fresh("bad.qcow2");
    patch("bad.qcow2", 4, 4, 4); /* version */
    open_refused("bad.qcow2", "bad.qcow2", "version 4");

    fresh("bad.qcow2");
    patch("bad.qcow2", 32, 1, 4); /* crypt_method: AES */
    open_refused("bad.qcow2", "bad.qcow2", "encrypted");

    fresh("bad.qcow2");
    patch("bad.qcow2", 100, 90, 4); /* header_length */
    open_refused("bad.qcow2", "bad.qcow2", "header_length");

    fresh("bad.qcow2");
    patch("bad.qcow2", 8, 70000, 8); /* the backing name is not in the first cluster */
    patch("bad.qcow2", 16, 1000, 4);
    open_refused("bad.qcow2", "bad.qcow2", "backing file name");
}

static void test_refuses_unsupported_features(void **state)
{
    static const struct {
        uint64_t bits;
        const char *reason;
    } features[] = {
        {1 << 1, "corrupt"}, {1 << 2, "external data file"}, {1 << 4, "extended L2"}, {1 << 9, "unknown incompatible"},
    };
    for (size_t i = 0; i < sizeof features / sizeof features[0]; i++) {
        fresh("feat.qcow2");
        patch("feat.qcow2", 72, features[i].bits, 8);
        open_refused("feat.qcow2", "feat.qcow2", features[i].reason);
    }
    sh("qemu-img create -f qcow2 -o compression_type=zstd zstd.qcow2 1M");
    open_refused("zstd.qcow2", "zstd.qcow2", "compression type 1");

    /* dirty (refcounts not flushed) is fine to read */
    fresh("dirty.qcow2");
    sh("qemu-img convert -O raw dirty.qcow2 dirty.raw");
    patch("dirty.qcow2", 72, 1, 8);
    assert_same_as_raw("dirty.qcow2", "dirty.raw");
}

static void test_bad_table_entries_fail_the_read(void **state)
{
    char err[512];
    uint8_t buf[4096];
    /* an L2 entry pointing past the end of the file */
    fresh("l2.qcow2");
    uint64_t l1_off = peek64("l2.qcow2", 40);
    uint64_t l2_off = peek64("l2.qcow2", l1_off) & 0x00fffffffffffe00ull;
    patch("l2.qcow2", l2_off, (1ull << 63) | (1ull << 40), 8);
    BlockImage *b = open_ok("l2.qcow2", NULL);
    assert_false(blockimg_read(b, 0, buf, sizeof buf, err, sizeof err));
    assert_non_null(strstr(err, "l2.qcow2"));
    assert_non_null(strstr(err, "beyond the end"));
    assert_true(blockimg_read(b, 1 << 20, buf, sizeof buf, err, sizeof err)); /* other clusters still read */
    uint8_t h[16];
    assert_false(blockimg_hash_uncached(b, h, err, sizeof err));
    blockimg_close(b);

    /* an unaligned data cluster */
    patch("l2.qcow2", l2_off, (1ull << 63) | 0x10200, 8);
    b = open_ok("l2.qcow2", NULL);
    assert_false(blockimg_read(b, 0, buf, sizeof buf, err, sizeof err));
    assert_non_null(strstr(err, "not cluster-aligned"));
    blockimg_close(b);

    /* an L1 entry pointing past the end of the file */
    fresh("l1.qcow2");
    l1_off = peek64("l1.qcow2", 40);
    patch("l1.qcow2", l1_off, (1ull << 63) | (1ull << 40), 8);
    b = open_ok("l1.qcow2", NULL);
    assert_false(blockimg_read(b, 0, buf, sizeof buf, err, sizeof err));
    assert_non_null(strstr(err, "L2 table"));
    blockimg_close(b);

    /* a zero flag in a version 2 image */
    make_qcow2("v2.qcow2", "compat=0.10");
    l1_off = peek64("v2.qcow2", 40);
    l2_off = peek64("v2.qcow2", l1_off) & 0x00fffffffffffe00ull;
    patch("v2.qcow2", l2_off, peek64("v2.qcow2", l2_off) | 1, 8);
    b = open_ok("v2.qcow2", NULL);
    assert_false(blockimg_read(b, 0, buf, sizeof buf, err, sizeof err));
    assert_non_null(strstr(err, "version 2"));
    blockimg_close(b);

    /* a compressed cluster that does not inflate */
    sh("qemu-img create -f raw cz.raw 1M && qemu-io -f raw -c 'write -P 0x5a 0 64k' cz.raw && "
       "qemu-img convert -c -O qcow2 cz.raw cz.qcow2");
    l1_off = peek64("cz.qcow2", 40);
    l2_off = peek64("cz.qcow2", l1_off) & 0x00fffffffffffe00ull;
    uint64_t desc = peek64("cz.qcow2", l2_off) & ((1ull << 54) - 1); /* x = 62 - (16 - 8) */
    patch("cz.qcow2", desc, 0xffffffffffffffffull, 8);
    b = open_ok("cz.qcow2", NULL);
    assert_false(blockimg_read(b, 0, buf, sizeof buf, err, sizeof err));
    assert_non_null(strstr(err, "cz.qcow2"));
    blockimg_close(b);
}

static void test_refuses_backing_loops_and_deep_chains(void **state)
{
    sh("qemu-img create -f qcow2 la.qcow2 1M && qemu-img create -f qcow2 -b la.qcow2 -F qcow2 lb.qcow2 && "
       "qemu-img rebase -u -b lb.qcow2 -F qcow2 la.qcow2");
    open_refused("lb.qcow2", "lb.qcow2", "loop");
    sh("qemu-img create -f qcow2 self.qcow2 1M && qemu-img rebase -u -b self.qcow2 -F qcow2 self.qcow2");
    open_refused("self.qcow2", "self.qcow2", "loop");

    sh("qemu-img create -f qcow2 d0.qcow2 1M && for i in $(seq 1 %d); do "
       "qemu-img create -f qcow2 -b d$((i-1)).qcow2 -F qcow2 d$i.qcow2 || exit 1; done", BLOCKIMG_MAX_CHAIN);
    char name[32];
    snprintf(name, sizeof name, "d%d.qcow2", BLOCKIMG_MAX_CHAIN - 1); /* 16 files: fine */
    blockimg_close(open_ok(name, NULL));
    snprintf(name, sizeof name, "d%d.qcow2", BLOCKIMG_MAX_CHAIN); /* 17: refused */
    open_refused(name, name, "backing chain longer");

    sh("qemu-img create -f qcow2 -b nowhere.qcow2 -F qcow2 -u orphan.qcow2 1M");
    open_refused("orphan.qcow2", "nowhere.qcow2", "No such file");
    sh("qemu-img create -f qcow2 -b d0.qcow2 -F vmdk -u vm.qcow2 1M");
    open_refused("vm.qcow2", "vm.qcow2", "'vmdk'");
}

static int setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/test_blockimg.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    char cache[300];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    setenv("RRVM_CACHE_DIR", cache, 1);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_reads_and_refuses_past_end),
        cmocka_unit_test(test_qcow2_versions_and_cluster_sizes),
        cmocka_unit_test(test_zero_clusters),
        cmocka_unit_test(test_compressed_clusters),
        cmocka_unit_test(test_backing_chain_of_three_with_relative_names),
        cmocka_unit_test(test_virtual_size_larger_and_smaller_than_backing),
        cmocka_unit_test(test_sequential_reads_reuse_tables_and_clusters),
        cmocka_unit_test(test_hash_of_sparse_8g_is_fast_and_matches_raw),
        cmocka_unit_test(test_hash_cache_hits_and_invalidates),
        cmocka_unit_test(test_refuses_broken_headers),
        cmocka_unit_test(test_refuses_unsupported_features),
        cmocka_unit_test(test_bad_table_entries_fail_the_read),
        cmocka_unit_test(test_refuses_backing_loops_and_deep_chains),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
