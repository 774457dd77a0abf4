/*
 * progress.h - the progress line of a long replay: on a terminal, one line
 * on stderr (icount / total, percent, MIPS, time left), redrawn at most
 * four times a second; nothing when stderr is not a terminal or --quiet.
 *
 * The total is the icount of the recording's END event, found by a second
 * reader scanning the log (no machine work, only decompression); a cut
 * recording has none and the line shows the icount alone.
 *
 * It only reads the host's monotonic clock and writes stderr: it never
 * touches the machine, so it cannot change what the guest sees.
 */
#ifndef RRVM_PROGRESS_H
#define RRVM_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Progress {
    bool enabled;        /* draw the line */
    bool drawn;          /* the line is on the screen now */
    bool guest_mid_line; /* the guest's last console byte was not '\n' */
    bool total_known;    /* scanned, and the recording has an END */
    bool scanned;
    const char *rr_path;
    uint64_t total;      /* icount at the recording's END */
    uint64_t t0_ns, last_draw_ns, start_icount;
} Progress;

/* enabled: the caller wants a bar (not --quiet); it is drawn only when
 * stderr is a terminal. */
void progress_start(Progress *p, const char *rr_path, uint64_t icount, bool enabled);
/* Redraw if a quarter second has passed since the last time. */
void progress_update(Progress *p, uint64_t icount);
/* Guest console output is about to be written: erase the line first. */
void progress_before_output(Progress *p, const uint8_t *buf, size_t n);
/* Erase the line (at the end, before rrvm's last messages). */
void progress_finish(Progress *p);
/* "icount N of T (P%)" or "icount N" when the total is unknown; scans the
 * recording now if progress_start did not. */
void progress_where(Progress *p, uint64_t icount, char *buf, size_t len);

#endif
