/*
 * hostsock.c - listening sockets (see hostsock.h). A TCP address other than
 * loopback is refused unless the caller allows it: a gdb stub can read and
 * write all of the guest, so it must not be reachable from the network by
 * accident (nor a monitor, which controls the whole machine). The refusal
 * names the option that overrides it.
 */
#include "hostsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int listen_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof a.sun_path) {
        snprintf(err, errlen, "unix:%s: path too long", path);
        return -1;
    }
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "unix:%s: %s", path, strerror(errno));
        return -1;
    }
    unlink(path); /* a stale socket from an earlier run */
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1) < 0) {
        snprintf(err, errlen, "unix:%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

static int listen_tcp(const char *hostport, bool allow_remote, const HostsockRemote *why,
                      char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host || !colon[1]) {
        snprintf(err, errlen, "tcp:%s: expected tcp:HOST:PORT", hostport);
        return -1;
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    if (!host[0])
        strcpy(host, "127.0.0.1");
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
    struct addrinfo *res;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "tcp:%s: %s", hostport, gai_strerror(rc));
        return -1;
    }
    if (!is_loopback(res->ai_addr) && !allow_remote) {
        snprintf(err, errlen, "tcp:%s: not a loopback address; %s (use %s to listen there anyway)",
                 hostport, why->risk, why->option);
        freeaddrinfo(res);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1) < 0) {
        snprintf(err, errlen, "tcp:%s: %s", hostport, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static const HostsockRemote debugger_remote = {
    "the debugger can read and write the whole guest", "--allow-remote-debug"
};

int hostsock_listen_for(const char *spec, bool allow_remote, const HostsockRemote *why, char *err, size_t errlen)
{
    if (strncmp(spec, "unix:", 5) == 0)
        return listen_unix(spec + 5, err, errlen);
    if (strncmp(spec, "tcp:", 4) == 0)
        return listen_tcp(spec + 4, allow_remote, why, err, errlen);
    snprintf(err, errlen, "%s: expected tcp:HOST:PORT or unix:PATH", spec);
    return -1;
}

int hostsock_listen(const char *spec, bool allow_remote, char *err, size_t errlen)
{
    return hostsock_listen_for(spec, allow_remote, &debugger_remote, err, errlen);
}

/* Connect to "unix:PATH" or "tcp:HOST:PORT" (a client chardev); the same
 * loopback rule as listening. */
int hostsock_connect_for(const char *spec, bool allow_remote, const HostsockRemote *why, char *err, size_t errlen)
{
    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        if (strlen(spec + 5) >= sizeof a.sun_path) {
            snprintf(err, errlen, "%s: path too long", spec);
            return -1;
        }
        strcpy(a.sun_path, spec + 5);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
            snprintf(err, errlen, "%s: %s", spec, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        return fd;
    }
    const char *hostport = strncmp(spec, "tcp:", 4) == 0 ? spec + 4 : NULL;
    const char *colon = hostport ? strrchr(hostport, ':') : NULL;
    char host[256];
    if (!colon || (size_t)(colon - hostport) >= sizeof host || !colon[1]) {
        snprintf(err, errlen, "%s: expected tcp:HOST:PORT or unix:PATH", spec);
        return -1;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res;
    int rc = getaddrinfo(host[0] ? host : "127.0.0.1", colon + 1, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "%s: %s", spec, gai_strerror(rc));
        return -1;
    }
    if (!is_loopback(res->ai_addr) && !allow_remote) {
        snprintf(err, errlen, "%s: not a loopback address; %s (use %s to connect there anyway)", spec, why->risk,
                 why->option);
        freeaddrinfo(res);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        snprintf(err, errlen, "%s: %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int hostsock_accept(int lfd)
{
    int fd;
    do
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on unix */
    }
    return fd;
}

bool hostsock_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}
