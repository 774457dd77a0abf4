/*
 * hmp.c - the `(rrvm)` prompt (see hmp.h). With -monitor stdio the
 * terminal stays in cooked mode (it echoes and edits lines itself); in the
 * mux the terminal is raw (the guest console's), so the prompt echoes
 * typed bytes, handles backspace and ends lines at CR or LF, as QEMU's
 * readline does.
 */
#include "hmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debug/monitor.h"
#include "util/strbuf.h"

#define HMP_LINE_MAX 1024
#define HMP_PENDING_MAX 8192

struct Hmp {
    Server *sv;
    bool mux;
    bool showing;       /* mux: the prompt has the terminal */
    bool stdin_watched; /* -monitor stdio */
    char line[HMP_LINE_MAX];
    size_t line_len;
    bool line_overflow;
    char pending[HMP_PENDING_MAX]; /* complete lines, NUL-separated */
    size_t pending_len;
};

static void put(Hmp *h, const char *s)
{
    if (!h->mux) {
        fputs(s, stdout);
        return;
    }
    for (; *s; s++) { /* raw terminal: a newline needs its carriage return */
        if (*s == '\n')
            fputc('\r', stdout);
        fputc(*s, stdout);
    }
}

static void prompt(Hmp *h)
{
    put(h, "(rrvm) ");
    fflush(stdout);
}

/* A complete line: queue it to run from the server's loop. */
static void end_line(Hmp *h)
{
    if (h->line_overflow) {
        put(h, "command line too long\n");
        prompt(h);
    } else if (h->pending_len + h->line_len + 1 <= sizeof h->pending) {
        memcpy(h->pending + h->pending_len, h->line, h->line_len);
        h->pending_len += h->line_len;
        h->pending[h->pending_len++] = 0;
    }
    h->line_len = 0;
    h->line_overflow = false;
}

static void take_bytes(Hmp *h, const uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b = buf[i];
        if (b == '\r' || b == '\n') {
            if (h->mux)
                put(h, "\n");
            end_line(h);
        } else if (b == 0x7f || b == 0x08) {
            if (h->line_len) {
                h->line_len--;
                if (h->mux)
                    fputs("\b \b", stdout);
            }
        } else if (b >= 0x20 && b < 0x7f) {
            if (h->line_len < sizeof h->line - 1)
                h->line[h->line_len++] = (char)b;
            else
                h->line_overflow = true;
            if (h->mux)
                fputc(b, stdout);
        }
    }
    if (h->mux)
        fflush(stdout);
}

static void on_mux_input(void *opaque, const uint8_t *buf, size_t n) { take_bytes(opaque, buf, n); }

static void on_stdin(void *opaque, int fd)
{
    Hmp *h = opaque;
    uint8_t buf[512];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
        return;
    if (n <= 0) { /* end of input: the prompt goes, the machine carries on */
        evloop_remove(server_loop(h->sv), fd);
        h->stdin_watched = false;
        return;
    }
    take_bytes(h, buf, (size_t)n);
}

void hmp_run_pending(Hmp *h)
{
    if (h->mux) {
        bool in_mon = session_console_in_monitor(server_session(h->sv));
        if (in_mon && !h->showing) {
            put(h, "\n");
            prompt(h);
        }
        h->showing = in_mon;
    }
    size_t off = 0;
    while (off < h->pending_len) {
        const char *line = h->pending + off;
        off += strlen(line) + 1;
        Strbuf out;
        sb_init(&out);
        monitor_exec(h->sv, line, &out);
        put(h, out.oom ? "out of memory\n" : sb_str(&out));
        sb_free(&out);
        prompt(h);
    }
    h->pending_len = 0;
}

Hmp *hmp_new(Server *sv, bool mux, char *err, size_t errlen)
{
    Hmp *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->sv = sv;
    h->mux = mux;
    if (mux) {
        session_console_set_monitor(server_session(sv), on_mux_input, h);
        return h;
    }
    if (!evloop_add(server_loop(sv), STDIN_FILENO, on_stdin, h)) {
        snprintf(err, errlen, "-monitor stdio: too many open channels");
        free(h);
        return NULL;
    }
    h->stdin_watched = true;
    put(h, "rrvm " RRVM_VERSION " monitor - type 'help' for more information\n");
    prompt(h);
    return h;
}

void hmp_free(Hmp *h)
{
    if (h->mux)
        session_console_set_monitor(server_session(h->sv), NULL, NULL);
    else if (h->stdin_watched)
        evloop_remove(server_loop(h->sv), STDIN_FILENO);
    free(h);
}
