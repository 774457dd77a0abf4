/*
 * hostnet.c - network backends (-netdev user on libslirp, -netdev socket);
 * see hostnet.h for what they promise.
 *
 * libslirp is driven the way it asks to be: before each poll its
 * descriptors are added (slirp_pollfds_fill, which also shortens the
 * timeout to its TCP timers), after the poll it handles them
 * (slirp_pollfds_poll), and its timers are a small list checked at each
 * dispatch. Its clock is the host's monotonic clock: slirp is the outside
 * world, not part of the machine.
 */
#include "hostnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "hostsys.h"

#define MAX_TIMERS 16
#define MAX_HOSTFWD 16

typedef enum { NET_USER, NET_SOCKET_STREAM, NET_SOCKET_UDP, NET_TAP } NetKind;

typedef struct SlirpTimer {
    SlirpTimerCb cb;
    void *cb_opaque;
    int64_t expire_ms; /* -1: not armed */
    bool used;
} SlirpTimer;

typedef struct Frame {
    uint8_t *data;
    size_t len;
} Frame;

struct HostNet {
    NetKind kind;
    /* frames for the guest, oldest first */
    Frame q[HOSTNET_QUEUE_FRAMES];
    size_t q_head, q_len;
    HostNetStats st;
    /* user */
    Slirp *slirp;
    SlirpTimer timers[MAX_TIMERS];
    struct pollfd *fill_fds; /* during fill: where add_poll writes */
    int fill_max, fill_n;
    const struct pollfd *poll_fds; /* during dispatch */
    /* socket */
    int listen_fd, fd;
    struct sockaddr_in peer; /* udp: where frames go */
    uint8_t rbuf[4 + HOSTNET_MAX_FRAME];
    size_t rlen; /* stream: bytes of the frame being read */
};

/* --- the queue to the guest --- */

static void enqueue(HostNet *n, const uint8_t *frame, size_t len)
{
    if (len == 0 || len > HOSTNET_MAX_FRAME)
        return;
    if (n->q_len == HOSTNET_QUEUE_FRAMES) {
        n->st.rx_queue_drops++; /* the guest is not taking them: TCP retransmits */
        return;
    }
    uint8_t *copy = malloc(len);
    if (!copy) {
        n->st.rx_queue_drops++;
        return;
    }
    memcpy(copy, frame, len);
    Frame *f = &n->q[(n->q_head + n->q_len) % HOSTNET_QUEUE_FRAMES];
    f->data = copy;
    f->len = len;
    n->q_len++;
    n->st.rx_frames++;
    n->st.rx_bytes += len;
}

const uint8_t *hostnet_peek(HostNet *n, size_t *len)
{
    if (!n->q_len)
        return NULL;
    *len = n->q[n->q_head].len;
    return n->q[n->q_head].data;
}

void hostnet_pop(HostNet *n)
{
    if (!n->q_len)
        return;
    free(n->q[n->q_head].data);
    n->q_head = (n->q_head + 1) % HOSTNET_QUEUE_FRAMES;
    n->q_len--;
}

void hostnet_stats(const HostNet *n, HostNetStats *out) { *out = n->st; }

/* --- options --- */

static bool set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return false;
}

static bool parse_ip(const char *s, struct in_addr *a) { return inet_pton(AF_INET, s, a) == 1; }

static bool is_loopback(struct in_addr a) { return (ntohl(a.s_addr) >> 24) == 127; }

static bool parse_port(const char *s, int *port)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > 65535)
        return false;
    *port = (int)v;
    return true;
}

/* "[ADDR]:PORT" with an empty address meaning `dflt` (NULL: address 0). */
static bool parse_hostport(const char *s, const char *dflt, struct in_addr *a, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return false;
    char host[64];
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof host)
        return false;
    memcpy(host, s, hl);
    host[hl] = 0;
    if (!strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    if (!hl && !dflt) { /* no address, and none by default: 0, "unspecified" */
        a->s_addr = 0;
        return parse_port(colon + 1, port);
    }
    return parse_ip(hl ? host : dflt, a) && parse_port(colon + 1, port);
}

typedef struct Hostfwd {
    bool udp;
    struct in_addr host, guest;
    int host_port, guest_port;
} Hostfwd;

typedef struct UserOpts {
    bool restrict_;
    struct in_addr net, mask, host, dns, dhcp;
    char hostname[64];
    Hostfwd fwd[MAX_HOSTFWD];
    int nfwd;
} UserOpts;

/* hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT; an empty
 * host address is loopback (QEMU's is every address: rrvm does not open
 * ports to the network unless told to) */
static bool parse_hostfwd(const char *v, Hostfwd *f, bool allow_remote, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (!strncmp(v, "tcp:", 4))
        v += 4;
    else if (!strncmp(v, "udp:", 4)) {
        f->udp = true;
        v += 4;
    }
    const char *dash = strchr(v, '-');
    char left[96];
    if (!dash || (size_t)(dash - v) >= sizeof left)
        return set_err(err, errlen, "hostfwd=%s: takes [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT", v);
    memcpy(left, v, (size_t)(dash - v));
    left[dash - v] = 0;
    if (!parse_hostport(left, "127.0.0.1", &f->host, &f->host_port) ||
        !parse_hostport(dash + 1, NULL, &f->guest, &f->guest_port)) /* no guest address: slirp's DHCP one */
        return set_err(err, errlen, "hostfwd=%s: takes [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT", v);
    if (!is_loopback(f->host) && !allow_remote)
        return set_err(err, errlen,
                       "hostfwd=%s: %s is not a loopback address: the guest's port would be open to the network "
                       "(add --allow-remote-net to allow it)", v, inet_ntoa(f->host));
    return true;
}

static bool parse_user(const char *spec, bool allow_remote, UserOpts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    parse_ip("10.0.2.0", &o->net);
    parse_ip("255.255.255.0", &o->mask);
    parse_ip("10.0.2.2", &o->host);
    parse_ip("10.0.2.3", &o->dns);
    parse_ip("10.0.2.15", &o->dhcp);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    strtok_r(buf, ",", &save); /* "user" */
    for (char *t = strtok_r(NULL, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq)
            return set_err(err, errlen, "-netdev user: '%s' needs a value (KEY=VALUE)", t);
        *eq = 0;
        const char *k = t, *v = eq + 1;
        if (!strcmp(k, "hostfwd")) {
            if (o->nfwd == MAX_HOSTFWD)
                return set_err(err, errlen, "-netdev user: at most %d hostfwd rules", MAX_HOSTFWD);
            if (!parse_hostfwd(v, &o->fwd[o->nfwd++], allow_remote, err, errlen))
                return false;
        } else if (!strcmp(k, "restrict")) {
            if (!strcmp(v, "on") || !strcmp(v, "yes"))
                o->restrict_ = true;
            else if (strcmp(v, "off") && strcmp(v, "no"))
                return set_err(err, errlen, "-netdev user: restrict=%s: on or off", v);
        } else if (!strcmp(k, "net")) {
            char a[64];
            snprintf(a, sizeof a, "%s", v);
            char *slash = strchr(a, '/');
            int bits = 24;
            if (slash) {
                *slash = 0;
                char *end;
                long b = strtol(slash + 1, &end, 10);
                if (*end || b < 8 || b > 30)
                    return set_err(err, errlen, "-netdev user: net=%s: the prefix length must be 8..30", v);
                bits = (int)b;
            }
            if (!parse_ip(a, &o->net))
                return set_err(err, errlen, "-netdev user: net=%s: not an IPv4 address", v);
            o->mask.s_addr = htonl(~0u << (32 - bits));
            o->net.s_addr &= o->mask.s_addr;
            /* QEMU's defaults move with the network: .2 host, .3 DNS, .15 DHCP */
            o->host.s_addr = htonl(ntohl(o->net.s_addr) | 2);
            o->dns.s_addr = htonl(ntohl(o->net.s_addr) | 3);
            o->dhcp.s_addr = htonl(ntohl(o->net.s_addr) | 15);
        } else if (!strcmp(k, "host") || !strcmp(k, "dns") || !strcmp(k, "dhcpstart")) {
            struct in_addr *a = !strcmp(k, "host") ? &o->host : !strcmp(k, "dns") ? &o->dns : &o->dhcp;
            if (!parse_ip(v, a))
                return set_err(err, errlen, "-netdev user: %s=%s: not an IPv4 address", k, v);
        } else if (!strcmp(k, "hostname")) {
            snprintf(o->hostname, sizeof o->hostname, "%s", v);
        } else if (!strcmp(k, "ipv6") || !strcmp(k, "ipv4")) {
            if (strcmp(v, !strcmp(k, "ipv6") ? "off" : "on"))
                return set_err(err, errlen, "-netdev user: %s=%s: rrvm's user network is IPv4 only", k, v);
        } else {
            return set_err(err, errlen,
                           "-netdev user: unknown option '%s' (hostfwd, restrict, net, host, dns, dhcpstart, hostname)", k);
        }
    }
    uint32_t m = o->mask.s_addr;
    if ((o->host.s_addr & m) != o->net.s_addr || (o->dns.s_addr & m) != o->net.s_addr ||
        (o->dhcp.s_addr & m) != o->net.s_addr)
        return set_err(err, errlen, "-netdev user: host, dns and dhcpstart must lie in net=");
    return true;
}

typedef struct SockOpts {
    enum { SOCK_LISTEN, SOCK_CONNECT, SOCK_UDP } mode;
    struct in_addr addr, local;
    int port, local_port;
    bool has_local;
} SockOpts;

static bool parse_socket(const char *spec, bool allow_remote, SockOpts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    int modes = 0;
    strtok_r(buf, ",", &save); /* "socket" */
    for (char *t = strtok_r(NULL, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq)
            return set_err(err, errlen, "-netdev socket: '%s' needs a value (KEY=VALUE)", t);
        *eq = 0;
        const char *k = t, *v = eq + 1;
        if (!strcmp(k, "listen") || !strcmp(k, "connect") || !strcmp(k, "udp")) {
            o->mode = !strcmp(k, "listen") ? SOCK_LISTEN : !strcmp(k, "connect") ? SOCK_CONNECT : SOCK_UDP;
            modes++;
            if (!parse_hostport(v, "127.0.0.1", &o->addr, &o->port))
                return set_err(err, errlen, "-netdev socket: %s=%s: takes [ADDR]:PORT", k, v);
        } else if (!strcmp(k, "localaddr")) {
            if (!parse_hostport(v, "127.0.0.1", &o->local, &o->local_port))
                return set_err(err, errlen, "-netdev socket: localaddr=%s: takes [ADDR]:PORT", v);
            o->has_local = true;
        } else if (!strcmp(k, "mcast") || !strcmp(k, "fd")) {
            return set_err(err, errlen, "-netdev socket: %s= is not supported (listen=, connect= or udp=)", k);
        } else {
            return set_err(err, errlen, "-netdev socket: unknown option '%s' (listen, connect, udp, localaddr)", k);
        }
    }
    if (modes != 1)
        return set_err(err, errlen, "-netdev socket: give exactly one of listen=, connect=, udp=");
    if (o->mode == SOCK_UDP && !o->has_local)
        return set_err(err, errlen, "-netdev socket,udp=: needs localaddr=[ADDR]:PORT to receive on");
    struct in_addr bind_addr = o->mode == SOCK_LISTEN ? o->addr : o->local;
    if ((o->mode == SOCK_LISTEN || o->mode == SOCK_UDP) && !is_loopback(bind_addr) && !allow_remote)
        return set_err(err, errlen, "-netdev socket: %s is not a loopback address (add --allow-remote-net to listen there)",
                       inet_ntoa(bind_addr));
    return true;
}

/* Refusals quote the user's text: keep them one printable line. */
static bool refuse_one_line(char *err)
{
    for (char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
            *c = '?';
    return false;
}

static bool check_spec(const char *spec, bool allow_remote, char *err, size_t errlen);

/* tap,ifname=NAME[,script=no][,downscript=no]: an existing (or, with
 * CAP_NET_ADMIN, a new) tap interface; rrvm runs no scripts */
static bool parse_tap(const char *spec, char ifname[IFNAMSIZ], char *err, size_t errlen)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    ifname[0] = 0;
    strtok_r(buf, ",", &save); /* "tap" */
    for (char *t = strtok_r(NULL, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq)
            return set_err(err, errlen, "-netdev tap: '%s' needs a value (KEY=VALUE)", t);
        *eq = 0;
        const char *k = t, *v = eq + 1;
        if (!strcmp(k, "ifname")) {
            if (!*v || strlen(v) >= IFNAMSIZ)
                return set_err(err, errlen, "-netdev tap: ifname= takes 1 to %d characters", IFNAMSIZ - 1);
            snprintf(ifname, IFNAMSIZ, "%s", v);
        } else if (!strcmp(k, "script") || !strcmp(k, "downscript")) {
            if (strcmp(v, "no"))
                return set_err(err, errlen, "-netdev tap: %s=%s: rrvm runs no scripts (%s=no; set the "
                               "interface up yourself)", k, v, k);
        } else {
            return set_err(err, errlen, "-netdev tap: unknown option '%s' (ifname, script=no, downscript=no)", k);
        }
    }
    if (!ifname[0])
        return set_err(err, errlen, "-netdev tap: needs ifname=NAME (e.g. one made with "
                       "'ip tuntap add NAME mode tap user $USER')");
    return true;
}

static bool tap_open(HostNet *n, const char *spec, char *err, size_t errlen)
{
    char ifname[IFNAMSIZ];
    if (!parse_tap(spec, ifname, err, errlen))
        return false;
    n->kind = NET_TAP;
    n->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (n->fd < 0)
        return set_err(err, errlen, "-netdev tap: /dev/net/tun: %s", strerror(errno));
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    if (ioctl(n->fd, TUNSETIFF, &ifr) < 0)
        return set_err(err, errlen, "-netdev tap: cannot attach to %s: %s (it needs CAP_NET_ADMIN, or a tap "
                       "interface made for this user: ip tuntap add %s mode tap user $USER)", ifname,
                       strerror(errno), ifname);
    return true;
}

bool hostnet_check(const char *spec, bool allow_remote, char *err, size_t errlen)
{
    return check_spec(spec, allow_remote, err, errlen) || refuse_one_line(err);
}

static bool check_spec(const char *spec, bool allow_remote, char *err, size_t errlen)
{
    if (!strncmp(spec, "user", 4) && (spec[4] == 0 || spec[4] == ',')) {
        UserOpts o;
        return parse_user(spec, allow_remote, &o, err, errlen);
    }
    if (!strncmp(spec, "socket", 6) && (spec[6] == 0 || spec[6] == ',')) {
        SockOpts o;
        return parse_socket(spec, allow_remote, &o, err, errlen);
    }
    if (!strncmp(spec, "tap", 3) && (spec[3] == 0 || spec[3] == ',')) {
        char ifname[IFNAMSIZ];
        return parse_tap(spec, ifname, err, errlen);
    }
    return set_err(err, errlen, "-netdev %s: unknown backend (user or socket)", spec);
}

/* --- user: libslirp --- */

static ssize_t slirp_send_packet(const void *buf, size_t len, void *opaque)
{
    enqueue(opaque, buf, len);
    return (ssize_t)len;
}

static void slirp_guest_error(const char *msg, void *opaque) { (void)msg, (void)opaque; }

static int64_t slirp_clock_ns(void *opaque)
{
    (void)opaque;
    return (int64_t)host_monotonic_ns();
}

static void *slirp_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    HostNet *n = opaque;
    for (int i = 0; i < MAX_TIMERS; i++)
        if (!n->timers[i].used) {
            n->timers[i] = (SlirpTimer){cb, cb_opaque, -1, true};
            return &n->timers[i];
        }
    return NULL; /* slirp copes: that timer never fires */
}

static void slirp_timer_free(void *timer, void *opaque)
{
    (void)opaque;
    if (timer)
        ((SlirpTimer *)timer)->used = false;
}

static void slirp_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    if (timer)
        ((SlirpTimer *)timer)->expire_ms = expire_ms;
}

static void slirp_fd_noop(int fd, void *opaque) { (void)fd, (void)opaque; }
static void slirp_notify(void *opaque) { (void)opaque; }

static const SlirpCb slirp_callbacks = {
    .send_packet = slirp_send_packet,
    .guest_error = slirp_guest_error,
    .clock_get_ns = slirp_clock_ns,
    .timer_new = slirp_timer_new,
    .timer_free = slirp_timer_free,
    .timer_mod = slirp_timer_mod,
    .register_poll_fd = slirp_fd_noop,
    .unregister_poll_fd = slirp_fd_noop,
    .notify = slirp_notify,
};

static bool user_open(HostNet *n, const char *spec, bool allow_remote, char *err, size_t errlen)
{
    UserOpts o;
    if (!parse_user(spec, allow_remote, &o, err, errlen))
        return false;
    SlirpConfig cfg = {
        .version = 3,
        .restricted = o.restrict_,
        .in_enabled = true,
        .vnetwork = o.net,
        .vnetmask = o.mask,
        .vhost = o.host,
        .vhostname = o.hostname[0] ? o.hostname : NULL,
        .vdhcp_start = o.dhcp,
        .vnameserver = o.dns,
    };
    n->slirp = slirp_new(&cfg, &slirp_callbacks, n);
    if (!n->slirp)
        return set_err(err, errlen, "-netdev user: libslirp could not start");
    for (int i = 0; i < o.nfwd; i++) {
        const Hostfwd *f = &o.fwd[i];
        if (slirp_add_hostfwd(n->slirp, f->udp, f->host, f->host_port, f->guest, f->guest_port) < 0)
            return set_err(err, errlen, "-netdev user: hostfwd %s:%d: cannot listen there (port in use?)",
                           inet_ntoa(f->host), f->host_port);
    }
    return true;
}

static int add_poll(int fd, int events, void *opaque)
{
    HostNet *n = opaque;
    if (n->fill_n >= n->fill_max)
        return -1;
    short ev = 0;
    if (events & SLIRP_POLL_IN)
        ev |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        ev |= POLLPRI;
    n->fill_fds[n->fill_n] = (struct pollfd){fd, ev, 0};
    return n->fill_n++;
}

static int get_revents(int idx, void *opaque)
{
    HostNet *n = opaque;
    if (idx < 0 || idx >= n->fill_n)
        return 0;
    short r = n->poll_fds[idx].revents;
    int ev = 0;
    if (r & POLLIN)
        ev |= SLIRP_POLL_IN;
    if (r & POLLOUT)
        ev |= SLIRP_POLL_OUT;
    if (r & POLLPRI)
        ev |= SLIRP_POLL_PRI;
    if (r & POLLERR)
        ev |= SLIRP_POLL_ERR;
    if (r & POLLHUP)
        ev |= SLIRP_POLL_HUP;
    return ev;
}

static void user_timers(HostNet *n, int *timeout_ms)
{
    int64_t now = (int64_t)(host_monotonic_ns() / 1000000);
    for (int i = 0; i < MAX_TIMERS; i++) {
        SlirpTimer *t = &n->timers[i];
        if (!t->used || t->expire_ms < 0)
            continue;
        if (t->expire_ms <= now) {
            t->expire_ms = -1;
            t->cb(t->cb_opaque);
        } else if (timeout_ms && (*timeout_ms < 0 || t->expire_ms - now < *timeout_ms)) {
            *timeout_ms = (int)(t->expire_ms - now);
        }
    }
}

/* --- socket --- */

static int sock_bind(int type, struct in_addr a, int port, char *err, size_t errlen)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        set_err(err, errlen, "-netdev socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = a, .sin_port = htons((uint16_t)port)};
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || (type == SOCK_STREAM && listen(fd, 1) < 0)) {
        set_err(err, errlen, "-netdev socket: cannot listen on %s:%d: %s", inet_ntoa(a), port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static bool socket_open(HostNet *n, const char *spec, bool allow_remote, char *err, size_t errlen)
{
    SockOpts o;
    if (!parse_socket(spec, allow_remote, &o, err, errlen))
        return false;
    n->listen_fd = n->fd = -1;
    n->peer = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr = o.addr, .sin_port = htons((uint16_t)o.port)};
    if (o.mode == SOCK_UDP) {
        n->kind = NET_SOCKET_UDP;
        n->fd = sock_bind(SOCK_DGRAM, o.local, o.local_port, err, errlen);
        return n->fd >= 0;
    }
    n->kind = NET_SOCKET_STREAM;
    if (o.mode == SOCK_LISTEN) {
        n->listen_fd = sock_bind(SOCK_STREAM, o.addr, o.port, err, errlen);
        return n->listen_fd >= 0;
    }
    n->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (n->fd < 0 || connect(n->fd, (struct sockaddr *)&n->peer, sizeof n->peer) < 0)
        return set_err(err, errlen, "-netdev socket: cannot connect to %s:%d: %s", inet_ntoa(o.addr), o.port,
                       strerror(errno));
    fcntl(n->fd, F_SETFL, O_NONBLOCK);
    int one = 1;
    setsockopt(n->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return true;
}

static void stream_close(HostNet *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
    n->rlen = 0;
}

static size_t be32(const uint8_t *p)
{
    return ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
}

/* Read what is there; every complete length-prefixed frame goes to the
 * queue. A length of 0 or beyond HOSTNET_MAX_FRAME means the peer speaks
 * something else: the connection is dropped. */
static void stream_read(HostNet *n)
{
    for (;;) {
        size_t want = 4 - n->rlen;
        if (n->rlen >= 4) {
            size_t flen = be32(n->rbuf);
            if (flen == 0 || flen > HOSTNET_MAX_FRAME) {
                stream_close(n);
                return;
            }
            want = 4 + flen - n->rlen;
        }
        ssize_t r = read(n->fd, n->rbuf + n->rlen, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            stream_close(n);
            return;
        }
        n->rlen += (size_t)r;
        if (n->rlen > 4 && n->rlen == 4 + be32(n->rbuf)) {
            enqueue(n, n->rbuf + 4, n->rlen - 4);
            n->rlen = 0;
        }
    }
}

/* --- common --- */

HostNet *hostnet_new(const char *spec, bool allow_remote, char *err, size_t errlen)
{
    if (!hostnet_check(spec, allow_remote, err, errlen))
        return NULL;
    HostNet *n = calloc(1, sizeof *n);
    if (!n) {
        set_err(err, errlen, "-netdev: out of memory");
        return NULL;
    }
    n->listen_fd = n->fd = -1;
    bool ok = !strncmp(spec, "user", 4)  ? user_open(n, spec, allow_remote, err, errlen)
              : !strncmp(spec, "tap", 3) ? tap_open(n, spec, err, errlen)
                                         : socket_open(n, spec, allow_remote, err, errlen);
    if (!ok) {
        hostnet_free(n);
        return NULL;
    }
    return n;
}

void hostnet_free(HostNet *n)
{
    if (!n)
        return;
    if (n->slirp)
        slirp_cleanup(n->slirp);
    if (n->fd >= 0)
        close(n->fd);
    if (n->listen_fd >= 0)
        close(n->listen_fd);
    while (n->q_len)
        hostnet_pop(n);
    free(n);
}

void hostnet_send(HostNet *n, const uint8_t *frame, size_t len)
{
    n->st.tx_frames++;
    n->st.tx_bytes += len;
    switch (n->kind) {
    case NET_USER:
        slirp_input(n->slirp, frame, (int)len);
        break;
    case NET_SOCKET_UDP:
        sendto(n->fd, frame, len, MSG_DONTWAIT, (struct sockaddr *)&n->peer, sizeof n->peer);
        break;
    case NET_TAP:
        if (write(n->fd, frame, len) < 0) {
            /* a full or down interface drops it, as a wire would */
        }
        break;
    case NET_SOCKET_STREAM:
        if (n->fd >= 0) { /* a frame the peer cannot take now is lost, as on a wire */
            uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
            struct iovec iov[2] = {{hdr, 4}, {(void *)frame, len}};
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
            if (sendmsg(n->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
                stream_close(n);
        }
        break;
    }
}

int hostnet_poll_fill(HostNet *n, struct pollfd *fds, int max, int *timeout_ms)
{
    if (n->kind == NET_USER) {
        user_timers(n, timeout_ms);
        uint32_t t = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;
        n->fill_fds = fds;
        n->fill_max = max;
        n->fill_n = 0;
        slirp_pollfds_fill(n->slirp, &t, add_poll, n);
        *timeout_ms = t == UINT32_MAX ? -1 : (int)t;
        return n->fill_n;
    }
    int k = 0;
    if (k < max && n->fd >= 0)
        fds[k++] = (struct pollfd){n->fd, POLLIN, 0};
    else if (k < max && n->listen_fd >= 0)
        fds[k++] = (struct pollfd){n->listen_fd, POLLIN, 0};
    return k;
}

void hostnet_poll_dispatch(HostNet *n, const struct pollfd *fds, int count)
{
    if (n->kind == NET_USER) {
        n->poll_fds = fds;
        n->fill_n = count;
        slirp_pollfds_poll(n->slirp, 0, get_revents, n);
        user_timers(n, NULL);
        return;
    }
    for (int i = 0; i < count; i++) {
        if (!fds[i].revents)
            continue;
        if (fds[i].fd == n->listen_fd && n->fd < 0) {
            n->fd = accept4(n->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        } else if (fds[i].fd == n->fd && n->kind == NET_TAP) {
            ssize_t r;
            while ((r = read(n->fd, n->rbuf, HOSTNET_MAX_FRAME)) > 0)
                enqueue(n, n->rbuf, (size_t)r);
        } else if (fds[i].fd == n->fd && n->kind == NET_SOCKET_UDP) {
            ssize_t r;
            while ((r = recv(n->fd, n->rbuf, HOSTNET_MAX_FRAME, MSG_DONTWAIT)) > 0)
                enqueue(n, n->rbuf, (size_t)r);
        } else if (fds[i].fd == n->fd) {
            stream_read(n);
        }
    }
}
