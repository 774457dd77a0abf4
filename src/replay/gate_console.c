/*
 * gate_console.c - the guest console: output to the host backend (not an
 * input, never logged) and input bytes into the UART. Input is taken from
 * the host only as fast as the UART FIFO accepts it, so no byte is lost
 * (unlike a 16-byte FIFO overrun); each delivered byte run is logged with
 * the icount at which the UART received it. A break (Ctrl-A b) follows the
 * bytes typed before it, and is logged as its own event (UART_BREAK).
 * Bytes typed for a monitor sharing the console (Ctrl-A c) leave in
 * host/console.c and never reach the guest or the log.
 */
#include "session_internal.h"

#include <string.h>

#include "machine/dev/uart16550.h"

void gate_console_write(void *opaque, const uint8_t *buf, size_t n)
{
    Session *s = opaque;
    if (session_console_muted(s))
        return;
    progress_before_output(&s->progress, buf, n);
    host_console_write(&s->console, buf, n);
}

void gate_console_read_host(Session *s)
{
    if (s->mode == SESSION_REPLAY) {
        uint8_t scratch[256];
        while (host_console_has_input(&s->console) && host_console_read(&s->console, scratch, sizeof scratch) > 0)
            ; /* typed bytes are not guest input in a replay */
        return;
    }
    if (s->pending_len < sizeof s->pending_in)
        s->pending_len += host_console_read(&s->console, s->pending_in + s->pending_len,
                                            sizeof s->pending_in - s->pending_len);
}

void gate_console_poll(Session *s)
{
    Machine *m = s->m;
    gate_console_read_host(s);
    if (m->uart && s->console.break_requested && s->pending_len == 0 && uart16550_can_receive(m->uart)) {
        uint8_t port = 0;
        s->console.break_requested = false;
        uart16550_break(m->uart);
        session_log(s, RLOG_UART_BREAK, &port, 1);
    }
    if (!m->uart || s->pending_len == 0)
        return;
    uint8_t payload[1 + 64];
    size_t n = 0;
    payload[0] = 0; /* port 0: the only UART */
    while (n < s->pending_len && n < 64 && uart16550_can_receive(m->uart)) {
        uart16550_receive(m->uart, s->pending_in[n]);
        payload[1 + n] = s->pending_in[n];
        n++;
    }
    if (n == 0)
        return;
    session_log(s, RLOG_UART_RX, payload, 1 + n);
    memmove(s->pending_in, s->pending_in + n, s->pending_len - n);
    s->pending_len -= n;
}

bool gate_console_replay_quit(Session *s)
{
    if (!host_console_has_input(&s->console))
        return false;
    gate_console_read_host(s);
    return s->console.quit;
}

void gate_console_break_replay(Session *s, const RlogEvent *ev)
{
    Machine *m = s->m;
    if (ev->len != 1 || ev->payload[0] != 0 || !m->uart) {
        session_diverged(s, "console break event for a port this machine does not have");
        return;
    }
    if (!uart16550_can_receive(m->uart)) {
        session_diverged(s, "the UART receive FIFO is full where the recording delivered a break");
        return;
    }
    uart16550_break(m->uart);
}

void gate_console_deliver(Session *s, const RlogEvent *ev)
{
    Machine *m = s->m;
    if (ev->len < 1 || ev->payload[0] != 0 || !m->uart) {
        session_diverged(s, "console input event for a port this machine does not have");
        return;
    }
    for (size_t i = 1; i < ev->len; i++) {
        if (!uart16550_can_receive(m->uart)) {
            session_diverged(s, "the UART receive FIFO is full where the recording delivered input");
            return;
        }
        uart16550_receive(m->uart, ev->payload[i]);
    }
}
