/*
 * ckstore.h - in-memory checkpoints of a machine, for seeking in a replay.
 *
 * A checkpoint is the machine's state without RAM (machine_save_core) plus
 * the RAM pages written since the previous checkpoint in time order (a
 * dirty-page delta, found through the DIRTY_TIMETRAVEL bit of
 * m->dirty_pages), plus an opaque blob of the caller's (the replay
 * session's position: log offset, counters). A page that no checkpoint
 * holds is the zero page, so a guest that touched little costs little,
 * whatever -m says.
 *
 * Invariants:
 *  - Restoring a checkpoint leaves the machine exactly as it was when the
 *    checkpoint was taken: machine_save() output is byte-identical, so the
 *    guest cannot tell (caches are flushed; they are invisible).
 *  - Checkpoints are kept sorted by icount and at most one per icount.
 *    Restoring one never invalidates the others (replay is deterministic:
 *    later checkpoints are still the future of the restored state).
 *  - Memory held stays within the budget given to ckstore_new (page copies
 *    and core blobs counted), by thinning: checkpoints far from the current
 *    position are dropped first, so spacing grows roughly geometrically
 *    with the distance from the current icount (as rr does). The oldest
 *    checkpoint is never dropped, so every target at or after it stays
 *    reachable; nor are the newest and the one last taken or restored, so
 *    the store exceeds the budget only when those alone do.
 *  - The store does not keep a pointer to the machine between calls; the
 *    machine passed must be the same one (same RAM size and hart count).
 */
#ifndef RRVM_CKSTORE_H
#define RRVM_CKSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/machine.h"

typedef struct CkStore CkStore;

typedef struct CkStoreStats {
    uint64_t count;        /* checkpoints held */
    uint64_t bytes;        /* memory held: page copies + core + extra blobs */
    uint64_t budget;       /* the budget given to ckstore_new */
    uint64_t pages;        /* page copies held */
    uint64_t oldest, newest; /* icounts of the first and last checkpoint */
} CkStoreStats;

/* An empty store. budget_bytes: memory the store may hold (at least enough
 * for one checkpoint is always allowed). */
CkStore *ckstore_new(const Machine *m, uint64_t budget_bytes);
void ckstore_free(CkStore *cs);

/* Take a checkpoint of m at m->icount, copying `extra` in. RAM costs only
 * the pages written since the store last took or restored a checkpoint
 * (then DIRTY_TIMETRAVEL is reset). A checkpoint at an icount the store
 * already holds is not taken again (true). False only when out of memory. */
bool ckstore_take(CkStore *cs, Machine *m, const void *extra, size_t extra_len);

/* The icount of the latest checkpoint at or before `target`; false if none. */
bool ckstore_find(const CkStore *cs, uint64_t target, uint64_t *icount);

/* Restore m to the latest checkpoint at or before `target`: harts, devices,
 * RAM, virtual time, schedule. Restored pages are marked DIRTY_DIGEST (the
 * digest code re-hashes them) and their decoded blocks dropped. *extra and
 * *extra_len receive the blob given to ckstore_take (valid until the next
 * call on the store). False if no checkpoint is at or before target (m
 * unchanged). */
bool ckstore_restore(CkStore *cs, Machine *m, uint64_t target, const void **extra, size_t *extra_len);

/* Drop every checkpoint after `icount` (the future changed: going live). */
void ckstore_truncate_after(CkStore *cs, uint64_t icount);

void ckstore_stats(const CkStore *cs, CkStoreStats *out);

/* Drop every checkpoint. Needed when the machine's state came from
 * somewhere else (machine_load of a snapshot): the store's deltas only
 * describe the timeline it saw. The next take copies every nonzero page. */
void ckstore_clear(CkStore *cs);

/* The machine's RAM changed in a way its dirty map may not show, on the
 * same timeline (a guest reset that rebuilt the Machine: same RAM size and
 * harts, fresh RAM): the next take or restore treats every page as
 * changed. Checkpoints are kept. */
void ckstore_forget_ram(CkStore *cs);

#endif
