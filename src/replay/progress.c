/*
 * progress.c - the replay progress line (see progress.h).
 *
 * Invariants: the line is drawn only while the guest's console is at the
 * start of a line, and erased before any guest output and before rrvm's
 * final messages, so it never mixes with either; redraws are rate-limited
 * (PROGRESS_REDRAW_NS) so a fast replay does not spend its time on stderr.
 */
#include "progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "host/hostsys.h"
#include "log.h"

#define PROGRESS_REDRAW_NS 250000000ull
#define BAR_WIDTH 24

/* The recording's END icount, read by a second reader of the same file. */
static void scan_total(Progress *p)
{
    p->scanned = true;
    if (!p->rr_path)
        return;
    RlogHeader h;
    char err[256];
    RlogReader *r = rlog_reader_open(p->rr_path, &h, err, sizeof err);
    if (!r)
        return;
    RlogEvent ev;
    while (rlog_next(r, &ev) == 1) {
        RlogEnd end;
        if (ev.kind == RLOG_END && rlog_end_decode(ev.payload, ev.len, &end)) {
            p->total = end.icount;
            p->total_known = true;
        }
    }
    rlog_reader_close(r);
    rlog_header_free(&h);
}

void progress_start(Progress *p, const char *rr_path, uint64_t icount, bool enabled)
{
    *p = (Progress){.rr_path = rr_path, .start_icount = icount};
    p->enabled = enabled && isatty(STDERR_FILENO);
    p->t0_ns = p->last_draw_ns = host_monotonic_ns();
    if (p->enabled)
        scan_total(p);
}

static void erase(Progress *p)
{
    if (!p->drawn)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->drawn = false;
}

static void draw(Progress *p, uint64_t icount, uint64_t now)
{
    double secs = (double)(now - p->t0_ns) / 1e9;
    double ips = secs > 0 ? (double)(icount - p->start_icount) / secs : 0;
    char bar[BAR_WIDTH + 1];
    if (p->total_known && p->total > 0) {
        uint64_t done = icount < p->total ? icount : p->total;
        int fill = (int)((double)done / (double)p->total * BAR_WIDTH);
        for (int i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
        bar[BAR_WIDTH] = 0;
        double left = ips > 0 ? (double)(p->total - done) / ips : 0;
        fprintf(stderr, "\r[%s] %" PRIu64 " / %" PRIu64 " %3d%% %7.1f MIPS %3d:%02d left\033[K", bar, done, p->total,
                (int)(100.0 * (double)done / (double)p->total), ips / 1e6, (int)left / 60, (int)left % 60);
    } else {
        fprintf(stderr, "\rreplay: %" PRIu64 " instructions %7.1f MIPS (total unknown)\033[K", icount, ips / 1e6);
    }
    fflush(stderr);
    p->drawn = true;
}

void progress_update(Progress *p, uint64_t icount)
{
    if (!p->enabled || p->guest_mid_line)
        return;
    uint64_t now = host_monotonic_ns();
    if (now - p->last_draw_ns < PROGRESS_REDRAW_NS)
        return;
    p->last_draw_ns = now;
    draw(p, icount, now);
}

void progress_before_output(Progress *p, const uint8_t *buf, size_t n)
{
    if (!p->enabled || n == 0)
        return;
    erase(p);
    p->guest_mid_line = buf[n - 1] != '\n';
}

void progress_finish(Progress *p)
{
    erase(p);
    p->enabled = false;
}

void progress_where(Progress *p, uint64_t icount, char *buf, size_t len)
{
    if (!p->scanned)
        scan_total(p);
    if (p->total_known && p->total > 0)
        snprintf(buf, len, "icount %" PRIu64 " of %" PRIu64 " (%.1f%%)", icount, p->total,
                 100.0 * (double)icount / (double)p->total);
    else
        snprintf(buf, len, "icount %" PRIu64, icount);
}
