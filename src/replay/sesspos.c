/*
 * sesspos.c - the replay's own position (SessPos), saved with every
 * in-memory checkpoint and in snapshots taken while replaying: where the
 * log is and the counters that go with it.
 *
 * Invariant: decoding never trusts its input (a snapshot file is
 * untrusted): every field is read through a bounded SerReader and checked
 * against the values the session can produce; anything else is refused.
 * The log position itself is checked later by rlog_reader_seek.
 */
#include "session_internal.h"

#define SESSPOS_VERSION 1

void sesspos_encode(const SessPos *p, SerWriter *w)
{
    ser_put_tag(w, "SPOS", SESSPOS_VERSION);
    ser_put_u64(w, p->log.frame_offset);
    ser_put_u64(w, p->log.event_index);
    ser_put_u64(w, p->log.last_icount);
    ser_put_u64(w, p->events_delivered);
    ser_put_u64(w, p->idle_skipped_ns);
    ser_put_u32(w, p->shutdown_cause);
    ser_put_u8(w, p->perturbed);
    ser_put_u32(w, p->fail_status);
    ser_put_u64(w, p->last_match_icount);
    ser_put_u32(w, p->last_event_kind);
    ser_put_u64(w, p->last_event_icount);
}

bool sesspos_decode(const void *buf, size_t len, SessPos *p)
{
    SerReader r;
    ser_reader_init(&r, buf, len);
    if (ser_get_tag(&r, "SPOS") != SESSPOS_VERSION)
        ser_fail(&r, "session position of another version");
    p->log.frame_offset = ser_get_u64(&r);
    p->log.event_index = ser_get_u64(&r);
    p->log.last_icount = ser_get_u64(&r);
    p->events_delivered = ser_get_u64(&r);
    p->idle_skipped_ns = ser_get_u64(&r);
    p->shutdown_cause = ser_get_u32(&r);
    uint8_t perturbed = ser_get_u8(&r);
    p->perturbed = perturbed != 0;
    p->fail_status = ser_get_u32(&r);
    p->last_match_icount = ser_get_u64(&r);
    p->last_event_kind = ser_get_u32(&r);
    p->last_event_icount = ser_get_u64(&r);
    if (!ser_ok(&r) || r.pos != r.len)
        return false;
    /* only what a session can have saved */
    return perturbed <= 1 && p->shutdown_cause <= RLOG_SHUTDOWN_MONITOR &&
           (p->fail_status == 0 || p->fail_status == 3) && (p->last_event_kind == 0 || rlog_kind_known(p->last_event_kind)) &&
           p->last_event_icount <= p->log.last_icount;
}
