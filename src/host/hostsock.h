/*
 * hostsock.h - listening sockets for debuggers and monitors:
 * "tcp:HOST:PORT" (loopback only unless allow_remote) or "unix:PATH"; and
 * the client side of the same, for socket chardevs.
 */
#ifndef RRVM_HOSTSOCK_H
#define RRVM_HOSTSOCK_H

#include <stdbool.h>
#include <stddef.h>

/* Listen on spec; returns the fd, or -1 with a one-line reason in err.
 * A refused remote address is explained as a debugger's (--allow-remote-debug). */
int hostsock_listen(const char *spec, bool allow_remote, char *err, size_t errlen);

/* What a refusal of a non-loopback address says: the risk, the option. */
typedef struct HostsockRemote {
    const char *risk;   /* "the monitor controls the whole machine" */
    const char *option; /* "--allow-remote-monitor" */
} HostsockRemote;
int hostsock_listen_for(const char *spec, bool allow_remote, const HostsockRemote *why, char *err, size_t errlen);
/* Connect to spec (same forms and loopback rule); the fd, or -1 with err. */
int hostsock_connect_for(const char *spec, bool allow_remote, const HostsockRemote *why, char *err, size_t errlen);
/* Accept one connection (blocking); -1 on error. */
int hostsock_accept(int lfd);
/* Write all of buf (the peer may be slow); false on error. */
bool hostsock_write_all(int fd, const void *buf, size_t n);

#endif
