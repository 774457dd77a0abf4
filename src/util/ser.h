/*
 * ser.h - bounded binary (de)serialisation of machine state.
 *
 * Every device and hart saves and loads its state through these helpers so
 * snapshots, reverse execution and state digests share one byte format:
 * little-endian fixed-width integers and length-prefixed byte blobs.
 *
 * Invariants: a SerWriter never writes past its buffer (it grows a heap
 * buffer); a SerReader never reads past its end - a short or malformed
 * input sets `err` and every later read returns zeros, so load functions can
 * read unconditionally and check `ser_ok()` once at the end.
 */
#ifndef RRVM_SER_H
#define RRVM_SER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct SerWriter {
    uint8_t *buf;
    size_t len, cap;
    bool oom;
} SerWriter;

typedef struct SerReader {
    const uint8_t *buf;
    size_t len, pos;
    const char *err; /* first error, static string; NULL while ok */
} SerReader;

void ser_writer_init(SerWriter *w);
void ser_writer_free(SerWriter *w);
void ser_put_u8(SerWriter *w, uint8_t v);
void ser_put_u16(SerWriter *w, uint16_t v);
void ser_put_u32(SerWriter *w, uint32_t v);
void ser_put_u64(SerWriter *w, uint64_t v);
void ser_put_bytes(SerWriter *w, const void *p, size_t n);
/* Section tag: a 4-char name followed by a u32 version; lets load()
 * refuse state written by a different layout with a precise message. */
void ser_put_tag(SerWriter *w, const char tag[4], uint32_t version);

void ser_reader_init(SerReader *r, const void *buf, size_t len);
uint8_t ser_get_u8(SerReader *r);
uint16_t ser_get_u16(SerReader *r);
uint32_t ser_get_u32(SerReader *r);
uint64_t ser_get_u64(SerReader *r);
void ser_get_bytes(SerReader *r, void *p, size_t n);
/* Returns the version stored with `tag`, or sets an error if the tag differs. */
uint32_t ser_get_tag(SerReader *r, const char tag[4]);
static inline bool ser_ok(const SerReader *r) { return r->err == NULL; }
void ser_fail(SerReader *r, const char *why);

#endif
