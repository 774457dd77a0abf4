/*
 * gate_random.c - random bytes (device-tree rng-seed, later entropy
 * devices). Record logs the bytes the host gave; replay returns them.
 */
#include "session_internal.h"

#include <string.h>

#include <xxhash.h>

#include "host/hostsys.h"

/* -seed N: a counter-mode PRNG, so the same seed gives the same bytes on
 * every host */
static void seeded_bytes(Session *s, uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t block = s->seed_counter / 8;
        uint64_t v = XXH64(&block, sizeof block, s->opt->seed);
        buf[i] = (uint8_t)(v >> (8 * (s->seed_counter % 8)));
        s->seed_counter++;
    }
}

void gate_random_bytes(void *opaque, uint8_t *buf, size_t n)
{
    Session *s = opaque;
    if (s->building_for_snapshot) {
        /* the board is built only to be overwritten by a snapshot's state:
         * these bytes never reach the guest, so neither side logs them */
        memset(buf, 0, n);
        return;
    }
    if (s->mode == SESSION_REPLAY) {
        RlogEvent ev;
        memset(buf, 0, n);
        if (!session_take(s, RLOG_RANDOM, &ev))
            return;
        if (ev.len != n) {
            session_diverged(s, "the guest asked for %zu random bytes, the recording has %zu", n, ev.len);
            return;
        }
        memcpy(buf, ev.payload, n);
        return;
    }
    if (s->opt->seed_set)
        seeded_bytes(s, buf, n);
    else
        host_random_bytes(buf, n);
    session_log(s, RLOG_RANDOM, buf, n);
}
