/*
 * gate_shutdown.c - host-initiated shutdown (Ctrl-A x, SIGINT, SIGTERM, a
 * monitor's quit). The request and its cause are logged at the icount
 * where the machine stopped, so a replay ends at the same point and says
 * why; a driver is told (SESSION_NOTICE_SHUTDOWN) in both, at that icount.
 */
#include "session_internal.h"

#include <signal.h>
#include <stdio.h>

#include "host/signals.h"

static const char *cause_name(int cause)
{
    switch (cause) {
    case RLOG_SHUTDOWN_QUIT_KEY: return "console quit key (Ctrl-A x)";
    case RLOG_SHUTDOWN_SIGINT: return "SIGINT";
    case RLOG_SHUTDOWN_SIGTERM: return "SIGTERM";
    case RLOG_SHUTDOWN_MONITOR: return "monitor quit";
    default: return "unknown cause";
    }
}

/* QEMU's ShutdownCause names, for a driver's SHUTDOWN event */
static const char *cause_reason(int cause)
{
    switch (cause) {
    case RLOG_SHUTDOWN_QUIT_KEY: return "host-ui";
    case RLOG_SHUTDOWN_SIGINT:
    case RLOG_SHUTDOWN_SIGTERM: return "host-signal";
    case RLOG_SHUTDOWN_MONITOR: return "host-qmp-quit";
    default: return "host-error";
    }
}

void gate_shutdown_host(Session *s, int cause)
{
    uint8_t c = (uint8_t)cause;
    session_log(s, RLOG_SHUTDOWN, &c, 1);
    s->shutdown_cause = cause;
    fprintf(stderr, "rrvm: shutdown requested by %s at icount %llu\n", cause_name(cause),
            (unsigned long long)s->m->icount);
    session_notice(s, SESSION_NOTICE_SHUTDOWN, false, cause_reason(cause), NOTICE_EVENT);
}

void gate_shutdown_poll(Session *s)
{
    int sig = host_signal_take();
    int cause = 0;
    if (sig == SIGINT)
        cause = RLOG_SHUTDOWN_SIGINT;
    else if (sig == SIGTERM)
        cause = RLOG_SHUTDOWN_SIGTERM;
    else if (s->console.quit)
        cause = RLOG_SHUTDOWN_QUIT_KEY;
    if (cause)
        gate_shutdown_host(s, cause);
}

void gate_shutdown_replay(Session *s, const RlogEvent *ev)
{
    int cause = ev->len == 1 ? ev->payload[0] : 0;
    s->shutdown_cause = cause ? cause : RLOG_SHUTDOWN_QUIT_KEY;
    fprintf(stderr, "rrvm: replay: the recording was stopped by %s at icount %llu\n", cause_name(cause),
            (unsigned long long)s->m->icount);
    session_notice(s, SESSION_NOTICE_SHUTDOWN, false, cause_reason(s->shutdown_cause), NOTICE_EVENT);
}
