/*
 * gate_console.c - the guest's consoles: the UART and the virtconsole
 * ports of virtio-serial-devices. Output goes to the host backends (not an
 * input, never logged); input bytes from any backend - the terminal
 * (host/console.c, Ctrl-A escapes) or a -chardev (host/chardev.c) - pass
 * this one gate into the device.
 *
 * Ports, as the recording numbers them: 0 = the UART, then every
 * virtconsole port in cfg.devices order, device by device, port by port,
 * from 1. Each input run is logged as UART_RX(icount, port, bytes), with
 * the icount at which the device took it. Input is taken from the host
 * only as fast as the device accepts it (UART FIFO room, posted virtio
 * receive buffers of a port the guest has open): what does not fit waits
 * in the port's pending buffer, and the host is not read while that is
 * full, so no byte is ever dropped. A break (Ctrl-A b) follows the bytes
 * typed before it, and is logged as its own event (UART_BREAK). Bytes
 * typed for a monitor sharing the console (Ctrl-A c) leave in
 * host/console.c and never reach the guest or the log.
 *
 * Replay opens no input backend: -chardev options there only redirect
 * outputs, by the chardev ids the recording stores (header keys
 * `console.port.N` = ID and `chardev.ID` = the option text). Without one,
 * the UART's output goes to -serial (default stdout) and a virtconsole
 * port's output is dropped, unless it was recorded on stdio. A replay that
 * goes live keeps its chardevs output-only: only the terminal is an input.
 */
#include "session_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/evloop.h"
#include "machine/board.h"
#include "machine/dev/uart16550.h"
#include "machine/dev/virtio_console.h"

#define RX_RUN 4096 /* bytes per logged input run */

/* --- the port table --- */

static int count_ports(const MachineConfig *cfg)
{
    int n = 1;
    for (int i = 0; i < cfg->ndevices; i++)
        if (cfg->devices[i].kind == MDEV_VIRTIO_CONSOLE)
            n += (int)cfg->devices[i].nports;
    return n;
}

static bool build_ports(Session *s, const MachineConfig *cfg)
{
    int n = count_ports(cfg);
    if (n > SESSION_MAX_PORTS) {
        session_fail(s, 2, "%d console ports; rrvm takes at most %d", n - 1, SESSION_MAX_PORTS - 1);
        return false;
    }
    s->ports = calloc((size_t)n, sizeof *s->ports);
    if (!s->ports) {
        session_fail(s, 1, "out of memory");
        return false;
    }
    s->nports = n;
    s->ports[0].dev = -1;
    int k = 1;
    for (int i = 0; i < cfg->ndevices; i++)
        for (uint32_t p = 0; cfg->devices[i].kind == MDEV_VIRTIO_CONSOLE && p < cfg->devices[i].nports; p++) {
            s->ports[k].dev = i;
            s->ports[k].port = (int)p;
            k++;
        }
    return true;
}

/* The chardev ids of the ports: the command line's (run, record) or the
 * recording's (replay, and a run from a snapshot, whose header it is). */
static bool from_recording(const Session *s) { return s->mode == SESSION_REPLAY || s->opt->from_snapshot; }

static const char *port_id(const Session *s, int k)
{
    if (!from_recording(s))
        return k < SESSION_MAX_PORTS ? s->opt->port_chardev[k] : NULL;
    char key[32];
    snprintf(key, sizeof key, "console.port.%d", k);
    return rlog_header_get(&s->header, key);
}

static const char *option_with_id(const Session *s, const char *id, ChardevSpec *spec)
{
    char err[256];
    for (int i = 0; i < s->opt->nchardevs; i++)
        if (chardev_parse(s->opt->chardev[i], spec, err, sizeof err) && strcmp(spec->id, id) == 0)
            return s->opt->chardev[i];
    return NULL;
}

bool gate_console_record_header(Session *s)
{
    char key[64];
    for (int k = 0; k < SESSION_MAX_PORTS; k++) {
        const char *id = s->opt->port_chardev[k];
        if (!id)
            continue;
        ChardevSpec spec;
        const char *text = option_with_id(s, id, &spec);
        snprintf(key, sizeof key, "console.port.%d", k);
        if (!rlog_header_set(&s->header, key, id))
            return false;
        snprintf(key, sizeof key, "chardev.%s", id);
        if (text && !rlog_header_set(&s->header, key, text))
            return false;
    }
    return true;
}

/* --- opening the backends --- */

static Chardev *find_chardev(Session *s, const char *id)
{
    for (int i = 0; i < s->nchardevs; i++)
        if (strcmp(s->chardevs[i].spec.id, id) == 0)
            return &s->chardevs[i];
    return NULL;
}

static bool open_chardevs(Session *s)
{
    bool live = s->mode != SESSION_REPLAY;
    for (int i = 0; i < s->opt->nchardevs && i < SESSION_MAX_CHARDEVS; i++) {
        ChardevSpec spec;
        char err[1600];
        if (!chardev_parse(s->opt->chardev[i], &spec, err, sizeof err)) {
            session_fail(s, 2, "%s", err);
            return false;
        }
        if (find_chardev(s, spec.id)) {
            session_fail(s, 2, "-chardev: duplicate id '%s'", spec.id);
            return false;
        }
        if (!chardev_open(&s->chardevs[s->nchardevs], &spec, live, s->opt->allow_remote_chardev, err, sizeof err)) {
            session_fail(s, 2, "%s", err);
            return false;
        }
        s->nchardevs++;
    }
    return true;
}

/* The kind a recorded port's chardev had ("chardev.ID" in the header). */
static ChardevKind recorded_kind(const Session *s, const char *id)
{
    char key[64], err[256];
    ChardevSpec spec;
    snprintf(key, sizeof key, "chardev.%s", id);
    const char *text = rlog_header_get(&s->header, key);
    return text && chardev_parse(text, &spec, err, sizeof err) ? spec.kind : CHARDEV_NULL;
}

/* Connect port k to its chardev. The HostConsole serves a stdio chardev. */
static bool connect_port(Session *s, int k, const char *id)
{
    ConsolePort *p = &s->ports[k];
    Chardev *c = find_chardev(s, id);
    snprintf(p->chardev_id, sizeof p->chardev_id, "%s", id);
    if (!c && s->mode != SESSION_REPLAY) {
        session_fail(s, 2, "console port %d: no -chardev with id=%s", k, id);
        return false;
    }
    if (c && c->spec.kind == CHARDEV_STDIO)
        p->on_console = true;
    else if (c)
        p->chr = c;
    else if (k > 0 && recorded_kind(s, id) == CHARDEV_STDIO)
        p->on_console = true; /* replay: where the recording showed it */
    return true;
}

/* A replay's -chardev must name one of the recording's ports. */
static bool check_replay_ids(Session *s)
{
    for (int i = 0; i < s->nchardevs; i++) {
        bool used = false;
        for (int k = 0; k < s->nports; k++)
            used |= strcmp(s->ports[k].chardev_id, s->chardevs[i].spec.id) == 0;
        if (!used) {
            char ids[512] = "";
            for (int k = 0; k < s->nports; k++)
                if (s->ports[k].chardev_id[0])
                    snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%s", ids[0] ? ", " : "",
                             s->ports[k].chardev_id);
            session_fail(s, 2, "-chardev id=%s: the recording has no port on a chardev of that id (it has: %s)",
                         s->chardevs[i].spec.id, ids[0] ? ids : "none");
            return false;
        }
    }
    return true;
}

bool gate_console_open(Session *s, const MachineConfig *cfg)
{
    if (!build_ports(s, cfg) || !open_chardevs(s))
        return false;
    int stdio_users = 0;
    for (int k = 0; k < s->nports; k++) {
        const char *id = port_id(s, k);
        if (id && !connect_port(s, k, id))
            return false;
        stdio_users += s->ports[k].on_console;
    }
    ConsolePort *uart = &s->ports[0];
    if (!uart->chr && !uart->on_console)
        uart->on_console = true; /* the UART on -serial, as always */
    s->console_spec = s->opt->serial;
    if (s->mode == SESSION_REPLAY)
        return check_replay_ids(s);
    bool uart_chardev = uart->chardev_id[0] != 0;
    if (stdio_users > 1 || (stdio_users == 1 && !uart_chardev && strcmp(s->opt->serial, "none") != 0)) {
        session_fail(s, 2, "stdio is taken by more than one console (QEMU's rule too): give the serial console "
                     "-serial none or -serial chardev:ID, or use one chardev stdio");
        return false;
    }
    if (stdio_users && !uart_chardev)
        uart->on_console = false;  /* -serial none: the terminal is the port's */
    if (stdio_users)
        s->console_spec = "stdio"; /* the terminal, for the port on chardev stdio */
    else if (uart_chardev)
        s->console_spec = "none";  /* -serial chardev:ID: the UART is elsewhere */
    return true;
}

void gate_console_close(Session *s)
{
    for (int i = 0; i < s->nchardevs; i++)
        chardev_close(&s->chardevs[i]);
    s->nchardevs = 0;
    free(s->ports);
    s->ports = NULL;
    s->nports = 0;
}

/* --- output --- */

static void port_output(Session *s, ConsolePort *p, const uint8_t *buf, size_t n)
{
    if (session_console_muted(s))
        return;
    if (p->chr) {
        chardev_write(p->chr, buf, n);
    } else if (p->on_console) {
        progress_before_output(&s->progress, buf, n);
        host_console_write(&s->console, buf, n);
    }
}

void gate_console_write(void *opaque, const uint8_t *buf, size_t n)
{
    Session *s = opaque;
    if (s->nports)
        port_output(s, &s->ports[0], buf, n);
}

static ConsolePort *port_of(Session *s, int dev, int port)
{
    for (int k = 1; k < s->nports; k++)
        if (s->ports[k].dev == dev && s->ports[k].port == port)
            return &s->ports[k];
    return NULL;
}

void gate_console_port_write(void *opaque, int dev, int port, const uint8_t *buf, size_t n)
{
    Session *s = opaque;
    ConsolePort *p = port_of(s, dev, port);
    if (p)
        port_output(s, p, buf, n);
}

/* --- input: run and record --- */

/* The port the terminal's bytes are for (the UART, or a virtconsole port
 * on chardev stdio). */
static ConsolePort *console_port(Session *s)
{
    for (int k = s->nports - 1; k > 0; k--)
        if (s->ports[k].on_console)
            return &s->ports[k];
    return s->nports && s->ports[0].on_console ? &s->ports[0] : NULL;
}

void gate_console_read_host(Session *s)
{
    if (s->mode == SESSION_REPLAY) {
        uint8_t scratch[256];
        while (host_console_has_input(&s->console) && host_console_read(&s->console, scratch, sizeof scratch) > 0)
            ; /* typed bytes are not guest input in a replay */
        return;
    }
    ConsolePort *cp = console_port(s);
    uint8_t scratch[256];
    if (cp && cp->pending_len < sizeof cp->pending)
        cp->pending_len += host_console_read(&s->console, cp->pending + cp->pending_len,
                                             sizeof cp->pending - cp->pending_len);
    else if (!cp && host_console_has_input(&s->console))
        host_console_read(&s->console, scratch, sizeof scratch); /* escapes only */
    for (int k = 0; k < s->nports; k++) {
        ConsolePort *p = &s->ports[k];
        if (p->chr && p->pending_len < sizeof p->pending)
            p->pending_len += chardev_read(p->chr, p->pending + p->pending_len, sizeof p->pending - p->pending_len);
    }
}

static VirtioDev *port_device(Session *s, const ConsolePort *p)
{
    VirtioDev *d = board_virtio_device(s->m, p->dev);
    return virtio_console_is(d) ? d : NULL;
}

static bool port_can_receive(Session *s, const ConsolePort *p)
{
    if (p->dev < 0)
        return s->m->uart && uart16550_can_receive(s->m->uart);
    VirtioDev *d = port_device(s, p);
    return d && virtio_console_can_receive(d, p->port);
}

/* Hand what the device takes now of port k's pending bytes; log it. */
static void deliver_port(Session *s, int k)
{
    ConsolePort *p = &s->ports[k];
    uint8_t payload[1 + RX_RUN];
    size_t n = 0;
    payload[0] = (uint8_t)k;
    if (p->dev < 0) {
        Machine *m = s->m;
        while (n < p->pending_len && n < 64 && uart16550_can_receive(m->uart)) {
            uart16550_receive(m->uart, p->pending[n]);
            payload[1 + n] = p->pending[n];
            n++;
        }
    } else {
        size_t want = p->pending_len < RX_RUN ? p->pending_len : RX_RUN;
        n = virtio_console_receive(port_device(s, p), p->port, p->pending, want);
        memcpy(payload + 1, p->pending, n);
    }
    if (n == 0)
        return;
    session_log(s, RLOG_UART_RX, payload, 1 + n);
    memmove(p->pending, p->pending + n, p->pending_len - n);
    p->pending_len -= n;
}

void gate_console_poll(Session *s)
{
    Machine *m = s->m;
    gate_console_read_host(s);
    for (int i = 0; i < s->nchardevs; i++)
        chardev_flush(&s->chardevs[i]);
    ConsolePort *uart = &s->ports[0];
    if (s->console.break_requested && console_port(s) != uart)
        s->console.break_requested = false; /* the terminal is not the UART's */
    if (m->uart && s->console.break_requested && uart->pending_len == 0 && uart16550_can_receive(m->uart)) {
        uint8_t port = 0;
        s->console.break_requested = false;
        uart16550_break(m->uart);
        session_log(s, RLOG_UART_BREAK, &port, 1);
    }
    for (int k = 0; k < s->nports; k++)
        if (s->ports[k].pending_len && port_can_receive(s, &s->ports[k]))
            deliver_port(s, k);
}

bool gate_console_deliverable(Session *s)
{
    for (int k = 0; k < s->nports; k++)
        if (s->ports[k].pending_len && port_can_receive(s, &s->ports[k]))
            return true;
    return false;
}

/* The fds that may bring input now: a port's backend only while it has
 * room, so a full pending buffer does not wake the wait again and again. */
int gate_console_input_fds(Session *s, int *fds)
{
    int n = 0;
    ConsolePort *cp = console_port(s);
    if (host_console_has_input(&s->console) && (!cp || cp->pending_len < sizeof cp->pending))
        fds[n++] = s->console.in_fd;
    for (int k = 0; k < s->nports; k++)
        if (s->ports[k].chr && s->ports[k].pending_len < sizeof s->ports[k].pending)
            n += chardev_input_fds(s->ports[k].chr, fds + n);
    return n;
}

bool gate_console_has_input(Session *s)
{
    int fds[SESSION_WAIT_MAX_FDS];
    return gate_console_input_fds(s, fds) > 0;
}

bool gate_console_replay_quit(Session *s)
{
    if (!host_console_has_input(&s->console))
        return false;
    gate_console_read_host(s);
    return s->console.quit;
}

/* --- input: replay --- */

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
    int k = ev->len >= 1 ? ev->payload[0] : -1;
    if (k < 0 || k >= s->nports || (k == 0 && !m->uart)) {
        session_diverged(s, "console input event for port %d, which this machine does not have", k);
        return;
    }
    if (k > 0) {
        ConsolePort *p = &s->ports[k];
        VirtioDev *d = port_device(s, p);
        size_t n = ev->len - 1;
        if (!d || virtio_console_receive(d, p->port, ev->payload + 1, n) != n)
            session_diverged(s, "virtconsole port %d takes fewer bytes than the recording delivered", k);
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
