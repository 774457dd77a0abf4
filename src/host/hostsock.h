/*
 * hostsock.h - listening sockets for debuggers and monitors:
 * "tcp:HOST:PORT" (loopback only unless allow_remote) or "unix:PATH".
 */
#ifndef RRVM_HOSTSOCK_H
#define RRVM_HOSTSOCK_H

#include <stdbool.h>
#include <stddef.h>

/* Listen on spec; returns the fd, or -1 with a one-line reason in err. */
int hostsock_listen(const char *spec, bool allow_remote, char *err, size_t errlen);
/* Accept one connection (blocking); -1 on error. */
int hostsock_accept(int lfd);
/* Write all of buf (the peer may be slow); false on error. */
bool hostsock_write_all(int fd, const void *buf, size_t n);

#endif
