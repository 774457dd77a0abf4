/*
 * qcow2.h - the qcow2 format (versions 2 and 3) as a map from guest
 * offsets to places in the image file. Internal to src/host: blockimg.c
 * owns the file, resolves the backing chain, reads and hashes; this module
 * only parses the header and the L1/L2 tables and inflates compressed
 * clusters.
 *
 * Invariants: everything taken from the file (table offsets and sizes,
 * cluster offsets, name lengths) is bounds-checked against the file size
 * before use; an image that cannot be read correctly is refused at open
 * with a one-line reason naming the file, and a bad table entry found
 * later fails that read with one.
 */
#ifndef RRVM_QCOW2_H
#define RRVM_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Qcow2 Qcow2;

typedef enum {
    QCOW2_UNALLOCATED, /* not in this image: the backing file's bytes, or zeros */
    QCOW2_ZERO,        /* reads as zeros (v3 zero flag) */
    QCOW2_DATA,        /* stored uncompressed at host_off, contiguous for len bytes */
    QCOW2_COMPRESSED,  /* part of one compressed cluster: qcow2_read_compressed */
} Qcow2Kind;

typedef struct {
    Qcow2Kind kind;
    uint64_t len;      /* bytes of this kind from the guest offset asked, >= 1 */
    uint64_t host_off; /* DATA: file offset of the first byte; COMPRESSED: the descriptor */
} Qcow2Extent;

/* Parse the image open at fd (file_size bytes long). path names the file
 * in messages only. NULL with the reason in err. */
Qcow2 *qcow2_open(int fd, uint64_t file_size, const char *path, char *err, size_t errlen);
void qcow2_close(Qcow2 *q);
uint64_t qcow2_size(const Qcow2 *q);
/* The backing file's name as stored (NULL: none), and its format from the
 * backing-format header extension (NULL: not given, probe it). */
const char *qcow2_backing_name(const Qcow2 *q);
const char *qcow2_backing_format(const Qcow2 *q);
/* Describe the guest bytes from off (< size), at most max (>= 1) of them:
 * a run of one kind, never longer than max or past the virtual size. */
bool qcow2_map(Qcow2 *q, uint64_t off, uint64_t max, Qcow2Extent *ext, char *err, size_t errlen);
/* Read n guest bytes at off from the compressed cluster described by desc
 * (an extent's host_off); [off, off+n) stays within that cluster. */
bool qcow2_read_compressed(Qcow2 *q, uint64_t desc, uint64_t off, uint8_t *buf, size_t n,
                           char *err, size_t errlen);
/* pread calls made so far (header, L1 and L2 tables, compressed data). */
uint64_t qcow2_pread_count(const Qcow2 *q);

#endif
