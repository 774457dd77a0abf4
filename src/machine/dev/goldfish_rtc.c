/*
 * goldfish_rtc.c - goldfish RTC as Linux's rtc-goldfish driver uses it.
 *
 * Registers (32-bit): TIME_LOW 0x00 (reading it latches TIME_HIGH),
 * TIME_HIGH 0x04, ALARM_LOW 0x08 (writing it arms the alarm), ALARM_HIGH
 * 0x0c, IRQ_ENABLED 0x10, CLEAR_ALARM 0x14, ALARM_STATUS 0x18,
 * CLEAR_INTERRUPT 0x1c. Writing TIME_HIGH then TIME_LOW sets the time
 * (QEMU semantics: each half write adjusts the offset).
 *
 * Invariants:
 *  - The interrupt line is irq_pending && irq_enabled, driven after every
 *    change.
 *  - alarm_running implies alarm_vtime_ns is the virtual time at which
 *    goldfish_rtc_update() will fire it; firing clears alarm_running and
 *    sets irq_pending.
 *  - The host clock is asked only when the guest reads or sets the time or
 *    arms an alarm (and only with clock=host), so recordings log nothing
 *    while the RTC is idle.
 */
#include "machine/dev/goldfish_rtc.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

enum {
    RTC_TIME_LOW = 0x00, RTC_TIME_HIGH = 0x04, RTC_ALARM_LOW = 0x08,
    RTC_ALARM_HIGH = 0x0c, RTC_IRQ_ENABLED = 0x10, RTC_CLEAR_ALARM = 0x14,
    RTC_ALARM_STATUS = 0x18, RTC_CLEAR_INTERRUPT = 0x1c,
};

static uint64_t clock_ns(const GoldfishRtc *r)
{
    const Machine *m = r->m;
    if (m->cfg.rtc_clock_host && m->host.wallclock_ns)
        return m->host.wallclock_ns(m->host.opaque);
    return m->cfg.rtc_base_ns + machine_vtime_ns(m);
}

static uint64_t rtc_now(const GoldfishRtc *r) { return clock_ns(r) + r->offset_ns; }

static void update_irq(GoldfishRtc *r)
{
    machine_set_irq(r->m, r->irq, r->irq_pending && r->irq_enabled);
}

void goldfish_rtc_reset(GoldfishRtc *r)
{
    r->offset_ns = 0;
    r->alarm_ns = 0;
    r->alarm_vtime_ns = 0;
    r->time_high_latch = 0;
    r->alarm_running = false;
    r->irq_enabled = false;
    r->irq_pending = false;
}

GoldfishRtc *goldfish_rtc_new(Machine *m, int irq)
{
    GoldfishRtc *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->m = m;
    r->irq = irq;
    goldfish_rtc_reset(r);
    return r;
}

void goldfish_rtc_free(GoldfishRtc *r) { free(r); }

static void fire_alarm(GoldfishRtc *r)
{
    r->alarm_running = false;
    r->irq_pending = true;
}

static void arm_alarm(GoldfishRtc *r)
{
    uint64_t now = rtc_now(r);
    if (r->alarm_ns <= now) {
        fire_alarm(r);
        return;
    }
    uint64_t vnow = machine_vtime_ns(r->m), delta = r->alarm_ns - now;
    r->alarm_vtime_ns = delta > UINT64_MAX - vnow ? UINT64_MAX : vnow + delta;
    r->alarm_running = true;
    r->m->timers_changed = true;
}

void goldfish_rtc_update(GoldfishRtc *r)
{
    if (r->alarm_running && machine_vtime_ns(r->m) >= r->alarm_vtime_ns) {
        fire_alarm(r);
        update_irq(r);
    }
}

uint64_t goldfish_rtc_next_deadline_ns(const GoldfishRtc *r)
{
    return r->alarm_running ? r->alarm_vtime_ns : UINT64_MAX;
}

bool goldfish_rtc_read(void *dev, uint64_t off, int size, uint64_t *val)
{
    GoldfishRtc *r = dev;
    if (size != 4 || (off & 3))
        return false;
    goldfish_rtc_update(r);
    uint64_t v = 0;
    switch (off) {
    case RTC_TIME_LOW: {
        uint64_t now = rtc_now(r);
        r->time_high_latch = (uint32_t)(now >> 32);
        v = (uint32_t)now;
        break;
    }
    case RTC_TIME_HIGH:
        v = r->time_high_latch;
        break;
    case RTC_ALARM_LOW:
        v = (uint32_t)r->alarm_ns;
        break;
    case RTC_ALARM_HIGH:
        v = r->alarm_ns >> 32;
        break;
    case RTC_IRQ_ENABLED:
        v = r->irq_enabled;
        break;
    case RTC_ALARM_STATUS:
        v = r->alarm_running;
        break;
    default:
        break;
    }
    *val = v;
    return true;
}

/* Set one 32-bit half of the current time by moving the offset. */
static void set_time_half(GoldfishRtc *r, bool high, uint32_t v)
{
    uint64_t now = rtc_now(r);
    uint64_t want = high ? ((uint64_t)v << 32) | (uint32_t)now
                         : (now & 0xffffffff00000000ull) | v;
    r->offset_ns += want - now;
}

bool goldfish_rtc_write(void *dev, uint64_t off, int size, uint64_t val)
{
    GoldfishRtc *r = dev;
    if (size != 4 || (off & 3))
        return false;
    uint32_t v = (uint32_t)val;
    goldfish_rtc_update(r);
    switch (off) {
    case RTC_TIME_LOW:
        set_time_half(r, false, v);
        break;
    case RTC_TIME_HIGH:
        set_time_half(r, true, v);
        break;
    case RTC_ALARM_LOW:
        r->alarm_ns = (r->alarm_ns & 0xffffffff00000000ull) | v;
        arm_alarm(r);
        break;
    case RTC_ALARM_HIGH:
        r->alarm_ns = ((uint64_t)v << 32) | (uint32_t)r->alarm_ns;
        break;
    case RTC_IRQ_ENABLED:
        r->irq_enabled = v & 1;
        break;
    case RTC_CLEAR_ALARM:
        r->alarm_running = false;
        break;
    case RTC_CLEAR_INTERRUPT:
        r->irq_pending = false;
        break;
    default:
        break;
    }
    update_irq(r);
    return true;
}

void goldfish_rtc_save(const GoldfishRtc *r, SerWriter *w)
{
    ser_put_tag(w, "GRTC", 1);
    ser_put_u64(w, r->offset_ns);
    ser_put_u64(w, r->alarm_ns);
    ser_put_u64(w, r->alarm_vtime_ns);
    ser_put_u32(w, r->time_high_latch);
    ser_put_u8(w, r->alarm_running);
    ser_put_u8(w, r->irq_enabled);
    ser_put_u8(w, r->irq_pending);
}

bool goldfish_rtc_load(GoldfishRtc *r, SerReader *rd)
{
    if (ser_get_tag(rd, "GRTC") != 1)
        ser_fail(rd, "RTC state has an unknown version");
    r->offset_ns = ser_get_u64(rd);
    r->alarm_ns = ser_get_u64(rd);
    r->alarm_vtime_ns = ser_get_u64(rd);
    r->time_high_latch = ser_get_u32(rd);
    r->alarm_running = ser_get_u8(rd) != 0;
    r->irq_enabled = ser_get_u8(rd) != 0;
    r->irq_pending = ser_get_u8(rd) != 0;
    if (!ser_ok(rd)) {
        goldfish_rtc_reset(r);
        return false;
    }
    return true;
}
