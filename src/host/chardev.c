/*
 * chardev.c - host character devices (see chardev.h): QEMU's -chardev
 * option syntax, and the non-blocking backends behind it. Sockets reuse
 * hostsock.c (same loopback rule as the gdb stub and QMP, with its own
 * override option); stdio stays with host/console.c.
 *
 * A server socket takes one client at a time, as QEMU's: when it leaves,
 * the next one is accepted. Output for a server socket that has no client
 * yet is kept (up to CHARDEV_OUT_MAX) and sent when one connects, so a
 * client that connects a little late still sees the guest's first words.
 */
#include "chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "hostsock.h"

static const char *const kind_names[] = {
    [CHARDEV_NULL] = "null", [CHARDEV_STDIO] = "stdio", [CHARDEV_FILE] = "file",
    [CHARDEV_PIPE] = "pipe", [CHARDEV_SOCKET] = "socket", [CHARDEV_PTY] = "pty",
};
#define NKINDS (sizeof kind_names / sizeof kind_names[0])

const char *chardev_kind_name(ChardevKind k) { return (unsigned)k < NKINDS ? kind_names[k] : "?"; }

/* --- parsing --- */

static bool perr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool perr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *c = err; *c; c++) /* the user's text, echoed: one line, printable */
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return false;
}

static bool parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true"))
        return *out = true, true;
    if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"))
        return *out = false, true;
    return false;
}

static bool valid_id(const char *id)
{
    if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z')))
        return false;
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '_' || *c == '.'))
            return false;
    return true;
}

static bool copy_value(char *dst, size_t cap, const char *key, const char *v, char *err, size_t errlen)
{
    if (!*v)
        return perr(err, errlen, "-chardev: %s= needs a value", key);
    if (strlen(v) >= cap)
        return perr(err, errlen, "-chardev: %s= is too long (at most %zu bytes)", key, cap - 1);
    memcpy(dst, v, strlen(v) + 1);
    return true;
}

/* One KEY=VALUE (or a bare flag) for a backend of kind k. */
static bool parse_key(ChardevSpec *s, const char *key, const char *v, bool has_value, char *err, size_t errlen)
{
    const char *kn = chardev_kind_name(s->kind);
    bool flag;
    if (!strcmp(key, "id"))
        return copy_value(s->id, sizeof s->id, key, v, err, errlen);
    if (!strcmp(key, "mux")) {
        if (has_value && parse_bool(v, &flag) && !flag)
            return true;
        return perr(err, errlen, "-chardev %s: mux is not supported (-serial mon:stdio shares the terminal with the "
                    "monitor)", kn);
    }
    if (!strcmp(key, "logfile") || !strcmp(key, "logappend"))
        return perr(err, errlen, "-chardev %s: %s is not supported (redirect the output with a file chardev)", kn, key);
    /* the socket's bare flags, as QEMU's old spelling: server, nowait */
    if (s->kind == CHARDEV_SOCKET && !has_value && (!strcmp(key, "server") || !strcmp(key, "wait"))) {
        if (key[0] == 's')
            s->server = true;
        else
            s->wait = true;
        return true;
    }
    if (s->kind == CHARDEV_SOCKET && !has_value && !strcmp(key, "nowait")) {
        s->wait = false;
        return true;
    }
    if (!has_value)
        return perr(err, errlen, "-chardev %s: '%s' needs a value (KEY=VALUE)", kn, key);
    switch (s->kind) {
    case CHARDEV_FILE:
        if (!strcmp(key, "path"))
            return copy_value(s->path, sizeof s->path, key, v, err, errlen);
        if (!strcmp(key, "append")) {
            if (!parse_bool(v, &s->append))
                return perr(err, errlen, "-chardev file: append=%s: takes on or off", v);
            return true;
        }
        return perr(err, errlen, "-chardev file: unknown property '%s' (path=, append=)", key);
    case CHARDEV_PIPE:
        if (!strcmp(key, "path"))
            return copy_value(s->path, sizeof s->path, key, v, err, errlen);
        return perr(err, errlen, "-chardev pipe: unknown property '%s' (path=)", key);
    case CHARDEV_STDIO:
        if (!strcmp(key, "signal")) /* Ctrl-C: rrvm's console escapes are Ctrl-A, either way */
            return parse_bool(v, &flag) ? true : perr(err, errlen, "-chardev stdio: signal=%s: takes on or off", v);
        return perr(err, errlen, "-chardev stdio: unknown property '%s' (signal=)", key);
    case CHARDEV_SOCKET:
        if (!strcmp(key, "path"))
            return copy_value(s->path, sizeof s->path, key, v, err, errlen);
        if (!strcmp(key, "host"))
            return copy_value(s->host, sizeof s->host, key, v, err, errlen);
        if (!strcmp(key, "port"))
            return copy_value(s->port, sizeof s->port, key, v, err, errlen);
        if (!strcmp(key, "server") || !strcmp(key, "wait")) {
            if (!parse_bool(v, key[0] == 's' ? &s->server : &s->wait))
                return perr(err, errlen, "-chardev socket: %s=%s: takes on or off", key, v);
            return true;
        }
        if (!strcmp(key, "nodelay"))
            return parse_bool(v, &flag) ? true : perr(err, errlen, "-chardev socket: nodelay=%s: takes on or off", v);
        if (!strcmp(key, "telnet") || !strcmp(key, "tn3270") || !strcmp(key, "websocket") ||
            !strcmp(key, "tls-creds") || !strcmp(key, "tls-authz") || !strcmp(key, "reconnect") ||
            !strcmp(key, "fd") || !strcmp(key, "abstract") || !strcmp(key, "tight"))
            return perr(err, errlen, "-chardev socket: %s is not supported (plain unix or TCP streams only)", key);
        return perr(err, errlen, "-chardev socket: unknown property '%s' (path=, host=, port=, server=, wait=)", key);
    case CHARDEV_NULL:
    case CHARDEV_PTY:
        return perr(err, errlen, "-chardev %s: unknown property '%s' (only id=)", kn, key);
    }
    return perr(err, errlen, "-chardev: unknown property '%s'", key);
}

/* Splits at commas, ",," standing for a comma inside a value (QEMU's
 * escape); returns the count, -1 when there are too many. */
static int split_opts(const char *arg, char *buf, size_t cap, char **tok, int maxtok)
{
    size_t o = 0;
    int n = 0;
    tok[n++] = buf;
    for (const char *p = arg; *p && o + 1 < cap; p++) {
        if (*p == ',' && p[1] == ',') {
            buf[o++] = ',';
            p++;
        } else if (*p == ',') {
            buf[o++] = 0;
            if (n == maxtok)
                return -1;
            tok[n++] = buf + o;
        } else {
            buf[o++] = *p;
        }
    }
    buf[o] = 0;
    return n;
}

bool chardev_parse(const char *arg, ChardevSpec *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->wait = true; /* QEMU's default for a server */
    char buf[2048], *tok[32];
    if (strlen(arg) >= sizeof buf)
        return perr(err, errlen, "-chardev: option text too long");
    int n = split_opts(arg, buf, sizeof buf, tok, 32);
    if (n < 0)
        return perr(err, errlen, "-chardev: too many properties");
    size_t k = 0;
    while (k < NKINDS && strcmp(tok[0], kind_names[k]) != 0)
        k++;
    if (k == NKINDS)
        return perr(err, errlen, "-chardev %.64s: unknown backend (rrvm has: null, stdio, file, pipe, socket, pty)",
                    tok[0]);
    s->kind = (ChardevKind)k;
    for (int i = 1; i < n; i++) {
        char *eq = strchr(tok[i], '=');
        if (eq)
            *eq = 0;
        if (!tok[i][0])
            return perr(err, errlen, "-chardev %s: empty property", tok[0]);
        if (!parse_key(s, tok[i], eq ? eq + 1 : "", eq != NULL, err, errlen))
            return false;
    }
    if (!s->id[0])
        return perr(err, errlen, "-chardev %s: needs id=ID", tok[0]);
    if (!valid_id(s->id))
        return perr(err, errlen, "-chardev %s: id '%s': letters, digits, '-', '_' and '.', starting with a letter",
                    tok[0], s->id);
    if ((s->kind == CHARDEV_FILE || s->kind == CHARDEV_PIPE) && !s->path[0])
        return perr(err, errlen, "-chardev %s,id=%s: needs path=PATH", tok[0], s->id);
    if (s->kind == CHARDEV_SOCKET) {
        if (s->path[0] && (s->host[0] || s->port[0]))
            return perr(err, errlen, "-chardev socket,id=%s: give path= (unix) or host=,port= (TCP), not both", s->id);
        if (!s->path[0] && !s->port[0])
            return perr(err, errlen, "-chardev socket,id=%s: needs path=PATH (unix) or port=N (TCP, with host=)", s->id);
        if (!s->path[0] && !s->host[0])
            strcpy(s->host, "127.0.0.1"); /* never every address by default */
    }
    return true;
}

/* --- the backends --- */

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static const HostsockRemote chardev_remote = {
    "anyone there can type into the guest's console", "--allow-remote-chardev"
};

static void socket_spec(const ChardevSpec *s, char *out, size_t cap)
{
    if (s->path[0])
        snprintf(out, cap, "unix:%s", s->path);
    else
        snprintf(out, cap, "tcp:%s:%s", s->host, s->port);
}

static void take_client(Chardev *c, int fd)
{
    set_nonblock(fd);
    c->in_fd = c->out_fd = fd;
    c->in_eof = false;
}

/* Wait for the first client (wait=on), as QEMU does before the guest starts. */
static bool wait_for_client(Chardev *c, const char *where, char *err, size_t errlen)
{
    fprintf(stderr, "rrvm: chardev %s: waiting for a connection on %s\n", c->spec.id, where);
    for (;;) {
        struct pollfd p = { .fd = c->listen_fd, .events = POLLIN };
        int r = poll(&p, 1, -1);
        if (r < 0 && errno == EINTR)
            return perr(err, errlen, "chardev %s: interrupted while waiting for a connection", c->spec.id);
        int fd = hostsock_accept(c->listen_fd);
        if (fd >= 0) {
            take_client(c, fd);
            return true;
        }
    }
}

static bool open_socket(Chardev *c, bool allow_remote, char *err, size_t errlen)
{
    char where[CHARDEV_PATH_MAX + 300], e[1400];
    socket_spec(&c->spec, where, sizeof where);
    if (!c->spec.server) {
        int fd = hostsock_connect_for(where, allow_remote, &chardev_remote, e, sizeof e);
        if (fd < 0)
            return perr(err, errlen, "-chardev socket,id=%s: %s", c->spec.id, e);
        take_client(c, fd);
        return true;
    }
    c->listen_fd = hostsock_listen_for(where, allow_remote, &chardev_remote, e, sizeof e);
    if (c->listen_fd < 0)
        return perr(err, errlen, "-chardev socket,id=%s: %s", c->spec.id, e);
    set_nonblock(c->listen_fd);
    return !c->spec.wait || wait_for_client(c, where, err, errlen);
}

static bool open_pty(Chardev *c, char *err, size_t errlen)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    const char *name = m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0 ? ptsname(m) : NULL;
    struct termios t;
    if (!name || tcgetattr(m, &t) != 0) {
        if (m >= 0)
            close(m);
        return perr(err, errlen, "-chardev pty,id=%s: cannot create a pty: %s", c->spec.id, strerror(errno));
    }
    cfmakeraw(&t);
    tcsetattr(m, TCSANOW, &t);
    /* our own slave fd: the master never reads EIO or polls HUP while no
     * terminal program has the pty open */
    c->pty_slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    set_nonblock(m);
    c->in_fd = c->out_fd = m;
    fprintf(stderr, "char device redirected to %s (label %s)\n", name, c->spec.id);
    return true;
}

/* QEMU: PATH.in and PATH.out, or else PATH both ways. O_RDWR: opening a
 * FIFO never blocks then, and it never reads EOF. */
static bool open_pipe(Chardev *c, char *err, size_t errlen)
{
    char in[CHARDEV_PATH_MAX + 8], out[CHARDEV_PATH_MAX + 8];
    snprintf(in, sizeof in, "%s.in", c->spec.path);
    snprintf(out, sizeof out, "%s.out", c->spec.path);
    int fo = open(out, O_RDWR | O_CLOEXEC);
    int fi = c->want_input && fo >= 0 ? open(in, O_RDWR | O_CLOEXEC) : -1;
    if (fo >= 0 && (fi >= 0 || !c->want_input)) {
        c->out_fd = fo;
        c->in_fd = fi;
    } else {
        if (fo >= 0)
            close(fo);
        int f = open(c->spec.path, O_RDWR | O_CLOEXEC);
        if (f < 0)
            return perr(err, errlen, "-chardev pipe,id=%s: cannot open %s.in/%s.out or %s: %s", c->spec.id,
                        c->spec.path, c->spec.path, c->spec.path, strerror(errno));
        c->out_fd = f;
        c->in_fd = c->want_input ? f : -1;
    }
    set_nonblock(c->out_fd);
    if (c->in_fd >= 0)
        set_nonblock(c->in_fd);
    return true;
}

bool chardev_open(Chardev *c, const ChardevSpec *spec, bool want_input, bool allow_remote, char *err,
                  size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->spec = *spec;
    c->want_input = want_input;
    c->in_fd = c->out_fd = c->listen_fd = c->pty_slave = -1;
    switch (spec->kind) {
    case CHARDEV_NULL:
    case CHARDEV_STDIO: /* the session's HostConsole */
        return true;
    case CHARDEV_FILE: {
        int fl = O_WRONLY | O_CREAT | O_CLOEXEC | (spec->append ? O_APPEND : O_TRUNC);
        c->out_fd = open(spec->path, fl, 0666);
        if (c->out_fd < 0)
            return perr(err, errlen, "-chardev file,id=%s: cannot open %s for writing: %s", spec->id, spec->path,
                        strerror(errno));
        return true;
    }
    case CHARDEV_PIPE:
        return open_pipe(c, err, errlen);
    case CHARDEV_SOCKET:
    case CHARDEV_PTY:
        if (!want_input)
            return perr(err, errlen, "-chardev %s,id=%s: not in a replay (the recording holds the input; "
                        "redirect output with file, pipe, stdio or null)", chardev_kind_name(spec->kind), spec->id);
        return spec->kind == CHARDEV_PTY ? open_pty(c, err, errlen) : open_socket(c, allow_remote, err, errlen);
    }
    return perr(err, errlen, "-chardev: unknown backend");
}

static void drop_client(Chardev *c)
{
    if (c->in_fd >= 0)
        close(c->in_fd);
    c->in_fd = c->out_fd = -1;
    if (c->listen_fd < 0)
        c->in_eof = true; /* a client socket does not reconnect */
}

static bool is_socket(const Chardev *c) { return c->spec.kind == CHARDEV_SOCKET; }

void chardev_flush(Chardev *c)
{
    while (c->out_len && c->out_fd >= 0) {
        ssize_t w = is_socket(c) ? send(c->out_fd, c->out_buf, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT)
                                 : write(c->out_fd, c->out_buf, c->out_len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w <= 0) {
            if (is_socket(c))
                drop_client(c); /* the peer went away: its output goes with it */
            else
                c->dropped += c->out_len;
            c->out_len = 0;
            return;
        }
        memmove(c->out_buf, c->out_buf + w, c->out_len - (size_t)w);
        c->out_len -= (size_t)w;
    }
}

void chardev_write(Chardev *c, const uint8_t *buf, size_t n)
{
    bool keep = c->out_fd >= 0 || (is_socket(c) && c->listen_fd >= 0); /* a client may come */
    if (!keep || !n)
        return;
    if (!c->out_buf && !(c->out_buf = malloc(CHARDEV_OUT_MAX))) {
        c->dropped += n;
        return;
    }
    size_t room = CHARDEV_OUT_MAX - c->out_len, take = n < room ? n : room;
    memcpy(c->out_buf + c->out_len, buf, take);
    c->out_len += take;
    if (take < n) {
        c->dropped += n - take;
        if (!c->warned)
            fprintf(stderr, "rrvm: chardev %s: output dropped (nobody reads it fast enough)\n", c->spec.id);
        c->warned = true;
    }
    chardev_flush(c);
}

static void try_accept(Chardev *c)
{
    if (c->listen_fd < 0 || c->in_fd >= 0)
        return;
    int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
        take_client(c, fd);
        chardev_flush(c); /* what the guest said before the client came */
    }
}

size_t chardev_read(Chardev *c, uint8_t *buf, size_t max)
{
    if (!c->want_input || !max)
        return 0;
    try_accept(c);
    if (c->in_fd < 0)
        return 0;
    ssize_t r;
    do
        r = read(c->in_fd, buf, max);
    while (r < 0 && errno == EINTR);
    if (r > 0)
        return (size_t)r;
    if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EIO)) {
        if (is_socket(c))
            drop_client(c);
        else
            c->in_eof = true;
    }
    return 0;
}

int chardev_input_fds(const Chardev *c, int *fds)
{
    int n = 0;
    if (!c->want_input || c->in_eof)
        return 0;
    if (c->in_fd >= 0)
        fds[n++] = c->in_fd;
    else if (c->listen_fd >= 0)
        fds[n++] = c->listen_fd;
    return n;
}

void chardev_close(Chardev *c)
{
    /* give a reader up to a second to take the last output */
    for (int i = 0; i < 100 && c->out_len && c->out_fd >= 0; i++) {
        struct pollfd p = { .fd = c->out_fd, .events = POLLOUT };
        if (poll(&p, 1, 10) > 0)
            chardev_flush(c);
    }
    if (c->in_fd >= 0 && c->in_fd != c->out_fd)
        close(c->in_fd);
    if (c->out_fd >= 0)
        close(c->out_fd);
    if (c->pty_slave >= 0)
        close(c->pty_slave);
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        if (c->spec.path[0] && is_socket(c))
            unlink(c->spec.path);
    }
    free(c->out_buf);
    c->in_fd = c->out_fd = c->listen_fd = c->pty_slave = -1;
    c->out_buf = NULL;
    c->out_len = 0;
}
