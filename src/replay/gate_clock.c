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
        if (!session_take(s, RLOG_CLOCK_WALL, &ev) || ev.len != 8)
            return 0;
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
            v = v << 8 | ev.payload[i];
        return v;
    }
    uint64_t ns = host_wallclock_ns();
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(ns >> (8 * i));
    session_log(s, RLOG_CLOCK_WALL, b, 8);
    return ns;
}
