/*
 * checkpoint.h - digests of machine state, recorded periodically so a
 * replay that drifts from its recording is caught at the first checkpoint
 * after the drift, with a report naming what differs.
 *
 * A full checkpoint payload (RLOG_CHECKPOINT event, checkpoint format 1,
 * docs/LOG_FORMAT.md) holds raw hart registers and CSRs, one XXH3_64 per
 * device state, and the RAM as incremental per-page hashes: the pages whose
 * hash changed since the previous full checkpoint, plus a root hash over
 * all page hashes. A digest checkpoint (format 2) holds only the XXH3_64 of
 * the full payload the same state would have with an empty page list: it
 * detects a divergence as surely (up to 2^-64), but cannot name what
 * differs; the next full checkpoint does.
 *
 * CheckpointSchedule decides, on the recording side, when the next
 * checkpoint is due and whether it is full: checkpoints come `base`
 * instructions after an input, then twice as far apart each time up to
 * `max` while no input arrives; one is full when `full` instructions have
 * passed since the last full one.
 *
 * Invariants:
 *  - cs->page_hash[i] ^ cs->zero_hash is the XXH3_64 of RAM page i as of
 *    the last checkpoint_init/capture (so a zero page is stored as 0 and
 *    the tables of an untouched RAM stay unbacked), and every page written
 *    since has its DIRTY_DIGEST bit set (the machine guarantees the latter;
 *    capture re-hashes exactly those pages and then clears the bits).
 *  - Nothing here reads a page whose m->dirty_pages byte is 0: such a page
 *    is zero (DIRTY_WRITTEN in machine.h), whose hash is known in advance.
 *  - On the replay side cs->rec_page_hash mirrors the recorded side's page
 *    hashes, advanced by each verified payload; so recorded and replayed RAM
 *    can be compared page by page without the recording holding all pages.
 *  - Both sides must call checkpoint_init at the same point (after the boot
 *    images are loaded, before the first instruction).
 *  - cs->since_full[i] is 1 iff page i's hash changed at some capture since
 *    the last full capture (or init): a full payload lists exactly those
 *    pages, so the replay's mirror stays exact across digest checkpoints.
 *  - Schedule: base <= spacing <= max, next_due > the icount of the last
 *    checkpoint taken, and next_due <= (last input's icount) + base.
 */
#ifndef RRVM_CHECKPOINT_H
#define RRVM_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/machine.h"
#include "../util/ser.h"

#define CHECKPOINT_FORMAT 1        /* full: registers, devices, page list */
#define CHECKPOINT_FORMAT_DIGEST 2 /* a 64-bit digest of the same state */
#define CHECKPOINT_DIGEST_LEN 9    /* its payload: format byte, u64 digest */

typedef void (*CheckpointDeviceFn)(void *ctx, const char *name, const uint8_t *p, size_t n);
typedef void (*CheckpointDeviceIter)(const Machine *m, CheckpointDeviceFn fn, void *ctx);

typedef struct CheckpointState {
    uint64_t *page_hash;     /* per RAM page, XXH3_64 ^ zero_hash, as of the last capture */
    uint64_t *rec_page_hash; /* replay side: the recording's page hashes, ^ zero_hash */
    uint8_t *since_full;     /* per RAM page: hash changed since the last full capture */
    uint64_t zero_hash;      /* XXH3_64 of a zero page */
    size_t npages;
    /* how device states are enumerated: board_foreach_device_state, unless
     * a unit test substitutes its own */
    CheckpointDeviceIter foreach_device;
} CheckpointState;

/* Hash every written RAM page (the baseline both sides share; unwritten
 * pages are zero) and start a new dirty interval. False on out of memory. */
bool checkpoint_init(CheckpointState *cs, Machine *m);
void checkpoint_free(CheckpointState *cs);

/* Append a full checkpoint payload for the current state to `out`;
 * re-hashes dirty pages and resets the dirty interval (machine_dirty_reset). */
void checkpoint_capture(Machine *m, CheckpointState *cs, SerWriter *out);
/* The same for a digest payload (CHECKPOINT_DIGEST_LEN bytes). */
void checkpoint_capture_digest(Machine *m, CheckpointState *cs, SerWriter *out);
/* True when a payload is a digest checkpoint (format 2), false otherwise
 * (a full one, or malformed). */
bool checkpoint_is_digest(const uint8_t *payload, size_t len);
/* True when a payload is well formed (either format); otherwise false with
 * the reason in *why. */
bool checkpoint_payload_check(const uint8_t *payload, size_t len, const char **why);

/* Capture the replayed state and compare it with a recorded payload. True
 * when identical. Otherwise false with a multi-line report (each line ends
 * in '\n'): the icount, every hart's pc, every differing register or CSR by
 * name with both values, differing RAM page ranges, differing devices (a
 * full payload); both digests (a digest payload); or a one-line reason when
 * the payload is malformed. */
bool checkpoint_verify(Machine *m, CheckpointState *cs, const uint8_t *payload, size_t len,
                       char *report, size_t cap);

/* One-line description of a payload for `rrvm dump` ("icount=... pc=...");
 * false (with a reason in out) if malformed. */
bool checkpoint_summary(const uint8_t *payload, size_t len, char *out, size_t cap);

/* When the recording side takes its checkpoints (see the top of this file). */
typedef struct CheckpointSchedule {
    uint64_t base, max, full; /* instructions; full <= base: every one is full */
    uint64_t spacing;         /* after the next checkpoint taken */
    uint64_t next_due;        /* icount at which the next checkpoint is due */
    uint64_t next_full;       /* a checkpoint at or after this icount is full */
} CheckpointSchedule;

/* Start at `icount`; base >= 1, max >= base. */
void checkpoint_sched_start(CheckpointSchedule *sc, uint64_t base, uint64_t max, uint64_t full, uint64_t icount);
/* An input was logged at `icount`: a checkpoint is due at most base later. */
void checkpoint_sched_input(CheckpointSchedule *sc, uint64_t icount);
/* A checkpoint is taken at `icount` (>= next_due): true when it must be a
 * full one; schedules the next. */
bool checkpoint_sched_take(CheckpointSchedule *sc, uint64_t icount);

/* XXH3_64 over the schedule, all hart state, the (index, XXH3_64) of every
 * nonzero RAM page and all device state: the `--digest` of a run and the
 * digest in the END event. Reads only the pages the guest wrote. */
uint64_t checkpoint_machine_digest(const Machine *m);
/* Same with another device enumeration (unit tests). */
uint64_t checkpoint_machine_digest_iter(const Machine *m, CheckpointDeviceIter foreach_device);

#endif
