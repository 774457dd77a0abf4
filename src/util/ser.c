/*
 * ser.c - bounded binary (de)serialisation; see ser.h for the invariants.
 */
#include "ser.h"

#include <stdlib.h>
#include <string.h>

void ser_writer_init(SerWriter *w) { memset(w, 0, sizeof *w); }

void ser_writer_free(SerWriter *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static bool ser_reserve(SerWriter *w, size_t n)
{
    if (w->oom)
        return false;
    if (w->len + n <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n)
        cap *= 2;
    uint8_t *nb = realloc(w->buf, cap);
    if (!nb) {
        w->oom = true;
        return false;
    }
    w->buf = nb;
    w->cap = cap;
    return true;
}

void ser_put_bytes(SerWriter *w, const void *p, size_t n)
{
    if (n == 0 || !ser_reserve(w, n))
        return;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void ser_put_u8(SerWriter *w, uint8_t v) { ser_put_bytes(w, &v, 1); }

void ser_put_u16(SerWriter *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    ser_put_bytes(w, b, 2);
}

void ser_put_u32(SerWriter *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    ser_put_bytes(w, b, 4);
}

void ser_put_u64(SerWriter *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    ser_put_bytes(w, b, 8);
}

void ser_put_tag(SerWriter *w, const char tag[4], uint32_t version)
{
    ser_put_bytes(w, tag, 4);
    ser_put_u32(w, version);
}

void ser_reader_init(SerReader *r, const void *buf, size_t len)
{
    r->buf = buf;
    r->len = len;
    r->pos = 0;
    r->err = NULL;
}

void ser_fail(SerReader *r, const char *why)
{
    if (!r->err)
        r->err = why;
}

void ser_get_bytes(SerReader *r, void *p, size_t n)
{
    if (r->err || n > r->len - r->pos) {
        ser_fail(r, "state data is truncated");
        memset(p, 0, n);
        return;
    }
    memcpy(p, r->buf + r->pos, n);
    r->pos += n;
}

uint8_t ser_get_u8(SerReader *r)
{
    uint8_t v;
    ser_get_bytes(r, &v, 1);
    return v;
}

uint16_t ser_get_u16(SerReader *r)
{
    uint8_t b[2];
    ser_get_bytes(r, b, 2);
    return (uint16_t)(b[0] | b[1] << 8);
}

uint32_t ser_get_u32(SerReader *r)
{
    uint8_t b[4];
    ser_get_bytes(r, b, 4);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

uint64_t ser_get_u64(SerReader *r)
{
    uint8_t b[8];
    ser_get_bytes(r, b, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

uint32_t ser_get_tag(SerReader *r, const char tag[4])
{
    char t[4];
    ser_get_bytes(r, t, 4);
    uint32_t ver = ser_get_u32(r);
    if (!r->err && memcmp(t, tag, 4) != 0)
        ser_fail(r, "state section tag mismatch");
    return ver;
}
