/*
 * blockimg.h - disk images as the host reads them: raw files and qcow2
 * (version 2 and 3, with backing files), always opened read-only. rrvm
 * never writes a base image: guest writes land in the virtio-blk device's
 * overlay, which is machine state.
 *
 * An image is identified by the hash of its guest-visible contents (the
 * virtual disk, backing chain resolved), so the same disk as raw or qcow2
 * has the same identity. Hashing a multi-GiB image is slow, so the result
 * is cached per file (path, size, mtime, inode; see blockimg_hash).
 *
 * Invariants: a malformed image is refused at open with a one-line reason
 * naming the file, or a read fails with one; nothing in an image makes the
 * reader touch memory outside its buffers or loop without bound (backing
 * chains are at most BLOCKIMG_MAX_CHAIN deep, tables are bounds-checked).
 */
#ifndef RRVM_BLOCKIMG_H
#define RRVM_BLOCKIMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOCKIMG_MAX_CHAIN 16 /* files in a chain, the top one included */

typedef struct BlockImage BlockImage;

/* Open `path` read-only. format: "raw", "qcow2", or NULL to probe (qcow2
 * by its magic, raw otherwise). NULL on error, with the reason in err. */
BlockImage *blockimg_open(const char *path, const char *format, char *err, size_t errlen);
void blockimg_close(BlockImage *b);
/* Guest-visible size in bytes. */
uint64_t blockimg_size(const BlockImage *b);
/* "raw" or "qcow2". */
const char *blockimg_format(const BlockImage *b);
/* Read guest-visible bytes [off, off+n); unallocated areas read as zero
 * (or from the backing file). false with a reason on I/O error or a read
 * past the end. */
bool blockimg_read(BlockImage *b, uint64_t off, void *buf, size_t n, char *err, size_t errlen);
/* XXH3-128 of the guest-visible contents, big-endian bytes. Cached in
 * $RRVM_CACHE_DIR or $XDG_CACHE_HOME/rrvm or ~/.cache/rrvm (a cache that
 * cannot be written only costs time), keyed by the identity at open of
 * every file in the chain; files modified in the last 2 seconds are
 * hashed but not cached. */
bool blockimg_hash(BlockImage *b, uint8_t out[16], char *err, size_t errlen);
/* The same hash, computed without reading or writing the cache. */
bool blockimg_hash_uncached(BlockImage *b, uint8_t out[16], char *err, size_t errlen);
/* pread calls made on the image and its backing files since open (a
 * cached hash makes none). */
uint64_t blockimg_read_count(const BlockImage *b);

#endif
