/*
 * varint.h - unsigned LEB128 integers for the recording format.
 *
 * Seven value bits per byte, least significant group first, high bit set on
 * every byte but the last. A 64-bit value takes at most 10 bytes.
 *
 * Invariants: varint_get() never reads at or past `end`, and rejects
 * encodings longer than 10 bytes or whose value does not fit in 64 bits, so
 * a hostile input can neither overrun a buffer nor wrap a value silently.
 */
#ifndef RRVM_VARINT_H
#define RRVM_VARINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/ser.h"

#define VARINT_MAX_BYTES 10

/* Encode v into out (at least VARINT_MAX_BYTES); returns the byte count. */
static inline size_t varint_encode(uint64_t v, uint8_t *out)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static inline size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline void varint_put(SerWriter *w, uint64_t v)
{
    uint8_t b[VARINT_MAX_BYTES];
    ser_put_bytes(w, b, varint_encode(v, b));
}

/* Decode one varint at *p (not reading at or past end). On success stores
 * the value, advances *p and returns true; on a truncated or overlong
 * encoding returns false and leaves *p unchanged. */
static inline bool varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    const uint8_t *q = *p;
    uint64_t val = 0;
    for (int i = 0; i < VARINT_MAX_BYTES; i++) {
        if (q >= end)
            return false;
        uint8_t b = *q++;
        /* the tenth byte may only carry the single remaining bit */
        if (i == VARINT_MAX_BYTES - 1 && b > 1)
            return false;
        val |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = val;
            *p = q;
            return true;
        }
    }
    return false;
}

#endif
