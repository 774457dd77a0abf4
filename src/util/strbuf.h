/*
 * strbuf.h - a growable NUL-terminated text buffer for replies built in
 * pieces (monitor output, QMP messages). Out of memory is sticky: the
 * buffer keeps what it had and sb->oom says so; appends never fail loudly.
 *
 * Invariant: sb->buf is NULL or NUL-terminated at sb->len.
 */
#ifndef RRVM_STRBUF_H
#define RRVM_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct Strbuf {
    char *buf;
    size_t len, cap;
    bool oom;
} Strbuf;

void sb_init(Strbuf *sb);
void sb_free(Strbuf *sb);
void sb_clear(Strbuf *sb);
void sb_append(Strbuf *sb, const char *s, size_t n);
void sb_puts(Strbuf *sb, const char *s);
void sb_printf(Strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far ("" when empty). */
static inline const char *sb_str(const Strbuf *sb) { return sb->buf ? sb->buf : ""; }

#endif
