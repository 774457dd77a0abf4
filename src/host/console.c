/*
 * console.c - stdio/file/none console backend with QEMU's Ctrl-A escapes:
 * Ctrl-A x quits, Ctrl-A b sends a break, Ctrl-A h prints help, Ctrl-A
 * Ctrl-A sends one Ctrl-A, Ctrl-A c switches between the guest and a
 * monitor (only when one is set; see console.h).
 * The terminal is put in raw mode only when stdin is a terminal, and always
 * restored by host_console_close().
 */
#include "console.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct termios) <= sizeof(((HostConsole *)0)->termios_save), "termios buffer");

bool host_console_open(HostConsole *c, const char *spec, bool want_input, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->in_fd = -1;
    if (!spec || strcmp(spec, "stdio") == 0) {
        c->kind = CONSOLE_STDIO;
        c->out = stdout;
    } else if (strcmp(spec, "none") == 0) {
        c->kind = CONSOLE_NONE;
        return true;
    } else if (strncmp(spec, "file:", 5) == 0) {
        c->kind = CONSOLE_FILE;
        c->out = fopen(spec + 5, "wb");
        if (!c->out) {
            snprintf(err, errlen, "-serial %s: cannot open for writing: %s", spec, strerror(errno));
            return false;
        }
        return true;
    } else {
        snprintf(err, errlen, "-serial %s: unknown backend (use stdio, none or file:PATH)", spec);
        return false;
    }
    if (want_input) {
        c->in_fd = STDIN_FILENO;
        struct termios t;
        if (isatty(c->in_fd) && tcgetattr(c->in_fd, &t) == 0) {
            memcpy(c->termios_save, &t, sizeof t);
            cfmakeraw(&t);
            if (tcsetattr(c->in_fd, TCSANOW, &t) == 0)
                c->raw = true;
        }
    }
    return true;
}

void host_console_open_escapes(HostConsole *c)
{
    struct termios t;
    if (c->in_fd >= 0 || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t) != 0)
        return;
    memcpy(c->termios_save, &t, sizeof t);
    t.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) != 0)
        return;
    c->in_fd = STDIN_FILENO;
    c->raw = true;
}

void host_console_close(HostConsole *c)
{
    host_console_flush(c);
    if (c->raw) {
        tcsetattr(c->in_fd, TCSANOW, (struct termios *)(void *)c->termios_save);
        c->raw = false;
    }
    /* rrvm's last messages start on their own line on a shared terminal
     * (only there: piped output stays byte for byte the guest's) */
    if (c->kind == CONSOLE_STDIO && c->mid_line && isatty(STDOUT_FILENO) && isatty(STDERR_FILENO)) {
        fputs("\n", stdout);
        fflush(stdout);
    }
    if (c->kind == CONSOLE_FILE && c->out)
        fclose(c->out);
    c->out = NULL;
}

void host_console_write(HostConsole *c, const uint8_t *buf, size_t n)
{
    if (c->out && n) {
        fwrite(buf, 1, n, c->out);
        c->mid_line = buf[n - 1] != '\n';
    }
}

void host_console_flush(HostConsole *c)
{
    if (c->out)
        fflush(c->out);
}

static const char help_text[] =
    "\r\nC-a h    print this help\r\n"
    "C-a x    exit emulator\r\n"
    "C-a b    send break (magic sysrq)\r\n";
static const char help_monitor[] = "C-a c    switch between console and monitor\r\n";
static const char help_ctrl_a[] = "C-a C-a  send C-a\r\n";

void host_console_set_monitor(HostConsole *c, void (*input)(void *opaque, const uint8_t *buf, size_t n),
                              void *opaque)
{
    c->monitor_input = input;
    c->monitor_opaque = opaque;
    if (!input)
        c->monitor_active = false;
}

/* Bytes for the monitor are gathered and handed over in runs. */
typedef struct MonitorRun {
    uint8_t buf[256];
    size_t n;
} MonitorRun;

static void monitor_flush(HostConsole *c, MonitorRun *run)
{
    if (run->n && c->monitor_input)
        c->monitor_input(c->monitor_opaque, run->buf, run->n);
    run->n = 0;
}

static void monitor_put(HostConsole *c, MonitorRun *run, uint8_t b)
{
    if (run->n == sizeof run->buf)
        monitor_flush(c, run);
    run->buf[run->n++] = b;
}

/* The byte after a Ctrl-A. Returns true when b is data (Ctrl-A Ctrl-A),
 * false when the escape consumed it; *stop says the read must end here. */
static bool escape_byte(HostConsole *c, MonitorRun *run, uint8_t b, bool *stop)
{
    switch (b) {
    case 'x': case 'X':
        c->quit = true;
        *stop = true;
        return false;
    case 'b': case 'B':
        if (c->monitor_active)
            return false; /* as QEMU's mux: a break goes to the focused side, and a monitor has none */
        c->break_requested = true;
        *stop = true; /* bytes typed after the break stay behind it */
        return false;
    case 'c': case 'C':
        if (c->monitor_input) {
            /* the monitor's bytes so far go before the switch */
            monitor_flush(c, run);
            c->monitor_active = !c->monitor_active;
        }
        return false;
    case 'h': case 'H': case '?':
        fputs(help_text, stderr);
        if (c->monitor_input)
            fputs(help_monitor, stderr);
        fputs(help_ctrl_a, stderr);
        return false;
    default:
        return b == 0x01;
    }
}

size_t host_console_read(HostConsole *c, uint8_t *buf, size_t max)
{
    size_t n = 0;
    MonitorRun run = { .n = 0 };
    bool stop = false;
    while (!stop && n < max && host_console_has_input(c) && !c->quit) {
        struct pollfd p = { .fd = c->in_fd, .events = POLLIN };
        if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP)))
            break;
        uint8_t b;
        ssize_t r = read(c->in_fd, &b, 1);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
            c->in_eof = true;
            break;
        }
        if (r < 0)
            break;
        if (c->escape) {
            c->escape = false;
            if (!escape_byte(c, &run, b, &stop))
                continue;
        } else if (b == 0x01) {
            c->escape = true;
            continue;
        }
        if (c->monitor_active)
            monitor_put(c, &run, b);
        else
            buf[n++] = b;
    }
    monitor_flush(c, &run);
    return n;
}

bool host_console_wait(HostConsole *c, uint64_t timeout_ns)
{
    int ms = timeout_ns == UINT64_MAX ? -1 : (int)(timeout_ns > 3600000000000ull ? 3600000 : (timeout_ns + 999999) / 1000000);
    if (!host_console_has_input(c)) {
        if (ms < 0)
            return false;
        struct timespec ts = { (time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull) };
        nanosleep(&ts, NULL);
        return false;
    }
    struct pollfd p = { .fd = c->in_fd, .events = POLLIN };
    int r = poll(&p, 1, ms);
    return r > 0;
}
