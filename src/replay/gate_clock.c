/*
 * gate_clock.c - wall-clock reads (goldfish RTC with -rtc clock=host).
 * Record logs the host time read by the instruction at the current icount;
 * replay returns the logged value for that same instruction.
 */
#include "session_internal.h"

#include "host/hostsys.h"

uint64_t gate_clock_wall_ns(void *opaque)
{
    Session *s = opaque;
    uint8_t b[8];
    if (s->mode == SESSION_REPLAY) {
        RlogEvent ev;
        uint64_t v = 0;
        if (session_take(s, RLOG_CLOCK_WALL, &ev) && !rlog_u64_decode(ev.payload, ev.len, &v))
            session_diverged(s, "malformed CLOCK_WALL event");
        return v;
    }
    uint64_t ns = host_wallclock_ns();
    rlog_u64_encode(ns, b);
    session_log(s, RLOG_CLOCK_WALL, b, 8);
    return ns;
}
