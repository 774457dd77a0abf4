/*
 * gate_idle.c - time that passes while every hart waits in WFI.
 *
 * Live and record wait in real time (so guest timeouts and typing behave
 * as on real hardware), up to the next timer deadline or until console
 * or chardev input arrives; the virtual time that passed is logged. Replay does not
 * wait: it adds the logged duration at once, so idle sessions replay fast.
 *
 * An interactive driver (session_set_host_wait) waits in our place, on the
 * console and its own sockets; when it has work the wait ends early and
 * session_advance yields. The log always holds the time that actually
 * passed (never the time planned), so virtual time in the replay is the
 * recording's whichever way the wait ended.
 */
#include "session_internal.h"

#include <poll.h>

#include "host/hostsys.h"
#include "machine/cpu/hart.h"

static bool machine_all_idle(const Machine *m)
{
    for (int i = 0; i < m->nharts; i++) {
        const Hart *h = m->harts[i];
        if (!h->wfi || (h->mip & h->mie))
            return false;
    }
    return true;
}

/* Sleep until a console port or a network backend has something, or
 * timeout_ns (shortened to the network's next timer). True when the
 * interactive driver's own sockets woke us (it has work). What arrived is
 * read by the gates' polls after the wait. */
static bool host_inputs_wait(Session *s, uint64_t timeout_ns)
{
    struct pollfd p[SESSION_WAIT_MAX_FDS];
    int fds[SESSION_WAIT_MAX_FDS];
    int n = gate_console_input_fds(s, fds);
    for (int i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    int net_ms = -1;
    int nn = gate_net_poll_fill(s, p + n, SESSION_WAIT_MAX_FDS - n, &net_ms);
    if (net_ms >= 0 && (uint64_t)net_ms * 1000000u < timeout_ns)
        timeout_ns = (uint64_t)net_ms * 1000000u;
    if (s->host_wait) {
        for (int i = 0; i < nn; i++)
            fds[n + i] = p[n + i].fd;
        return s->host_wait(s->host_wait_opaque, fds, n + nn, timeout_ns) == 2;
    }
    int ms = timeout_ns > 3600000000000ull ? 3600000 : (int)((timeout_ns + 999999) / 1000000);
    poll(p, (nfds_t)(n + nn), ms); /* EINTR: a signal, seen by the caller */
    return false;
}

void gate_idle_wait(Session *s)
{
    Machine *m = s->m;
    if (!machine_all_idle(m) || gate_console_deliverable(s))
        return;
    uint64_t to_deadline = machine_idle_ns_to_deadline(m);
    /* with a driver, the host (a monitor's reset or quit, gdb) can still
     * wake the machine: wait for it as long as it takes */
    if (to_deadline == UINT64_MAX && !gate_console_has_input(s) && !gate_net_active(s) && !s->host_wait) {
        session_fail(s, 1, "the guest is idle with no timer armed and no input connected: it can never wake up (icount %llu)",
                     (unsigned long long)m->icount);
        return;
    }
    uint64_t t0 = host_monotonic_ns();
    /* cap a single wait so signals and the log flush stay responsive */
    uint64_t wait = to_deadline > 100000000ull ? 100000000ull : to_deadline;
    if (host_inputs_wait(s, wait))
        s->yield_requested = true;
    uint64_t elapsed = host_monotonic_ns() - t0;
    if (elapsed > to_deadline)
        elapsed = to_deadline;
    if (elapsed == 0)
        elapsed = 1; /* always make progress */
    uint8_t b[8];
    rlog_u64_encode(elapsed, b);
    /* advance before logging: a strict checkpoint written with the event
     * must see the same state replay sees after applying it */
    machine_advance_idle(m, elapsed);
    session_log(s, RLOG_IDLE, b, 8);
}

void gate_idle_replay(Session *s, const RlogEvent *ev)
{
    Machine *m = s->m;
    uint64_t ns;
    if (!rlog_u64_decode(ev->payload, ev->len, &ns)) {
        session_diverged(s, "malformed IDLE event");
        return;
    }
    if (!machine_all_idle(m)) {
        session_diverged(s, "the recording let time pass idle here, but a hart is still running");
        return;
    }
    uint64_t to_deadline = machine_idle_ns_to_deadline(m);
    if (ns > to_deadline) {
        session_diverged(s, "the recording idles %llu ns, past the next timer deadline (%llu ns away)",
                         (unsigned long long)ns, (unsigned long long)to_deadline);
        return;
    }
    s->idle_skipped_ns += ns;
    machine_advance_idle(m, ns);
}
