/*
 * goldfish_rtc.h - Google goldfish RTC at 0x101000, irq 11 (virt board).
 *
 * RTC time (ns since the epoch) = clock + offset, where clock is
 *   cfg.rtc_clock_host ? host wall clock (asked through m->host) :
 *                        cfg.rtc_base_ns + machine_vtime_ns(m),
 * and offset is what the guest added by setting the time.
 *
 * Alarms run on virtual time in both modes: arming an alarm that lies
 * `d` ns in the RTC's future schedules it at virtual time now + d, so
 * firing never needs the host clock and is deterministic.
 */
#ifndef RRVM_GOLDFISH_RTC_H
#define RRVM_GOLDFISH_RTC_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/machine.h"

#define GOLDFISH_RTC_BASE 0x101000ull
#define GOLDFISH_RTC_SIZE 0x1000ull
#define GOLDFISH_RTC_IRQ 11

typedef struct GoldfishRtc {
    Machine *m;
    int irq;
    uint64_t offset_ns;        /* guest-set adjustment, modulo 2^64 */
    uint64_t alarm_ns;         /* ALARM_HIGH:ALARM_LOW as last written */
    uint64_t alarm_vtime_ns;   /* virtual time at which the alarm fires */
    uint32_t time_high_latch;  /* TIME_HIGH as latched by a TIME_LOW read */
    bool alarm_running;
    bool irq_enabled;
    bool irq_pending;
} GoldfishRtc;

GoldfishRtc *goldfish_rtc_new(Machine *m, int irq);
void goldfish_rtc_free(GoldfishRtc *r);
void goldfish_rtc_reset(GoldfishRtc *r);
bool goldfish_rtc_read(void *dev, uint64_t off, int size, uint64_t *val);
bool goldfish_rtc_write(void *dev, uint64_t off, int size, uint64_t val);
/* Fire the alarm if virtual time has reached it; machine_update_timers()
 * calls this. */
void goldfish_rtc_update(GoldfishRtc *r);
/* Virtual time (ns) at which the armed alarm fires, or UINT64_MAX; lets
 * an all-idle machine sleep until the alarm. */
uint64_t goldfish_rtc_next_deadline_ns(const GoldfishRtc *r);
void goldfish_rtc_save(const GoldfishRtc *r, SerWriter *w);
bool goldfish_rtc_load(GoldfishRtc *r, SerReader *rd);

#endif
