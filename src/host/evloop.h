/*
 * evloop.h - a small poll(2) event loop: file descriptors with a callback
 * each, and one wait with a timeout. The gdb stub uses it (and the QMP
 * monitor will): the session runs the machine in slices and calls
 * evloop_run_once(l, 0) between them; while nothing runs it sleeps in
 * evloop_run_once(l, -1), never busy-waiting.
 *
 * Invariant: a callback may add or remove watches (its own too); removal
 * during dispatch takes effect at once (the slot is skipped).
 */
#ifndef RRVM_EVLOOP_H
#define RRVM_EVLOOP_H

#include <stdbool.h>

#define EVLOOP_MAX_FDS 16

typedef void (*EvloopFn)(void *opaque, int fd);

typedef struct Evloop {
    struct {
        int fd; /* -1: free slot */
        EvloopFn on_readable;
        void *opaque;
    } w[EVLOOP_MAX_FDS];
} Evloop;

void evloop_init(Evloop *l);
/* Call fn when fd is readable (or hung up). False when the table is full. */
bool evloop_add(Evloop *l, int fd, EvloopFn fn, void *opaque);
void evloop_remove(Evloop *l, int fd);
/* Wait up to timeout_ms (-1: forever, 0: just look) and dispatch. Returns
 * the number of callbacks run, -1 on a poll error other than EINTR. */
int evloop_run_once(Evloop *l, int timeout_ms);

#endif
