/*
 * hostnet.h - network backends as QEMU's -netdev: where the frames a guest
 * network card sends go, and where the frames it receives come from.
 *
 *   user    user-mode networking on libslirp (10.0.2.0/24, gateway and
 *           host 10.0.2.2, DNS 10.0.2.3, DHCP from 10.0.2.15), hostfwd
 *   tap     the host's tap interface ifname= (existing, or made with
 *           CAP_NET_ADMIN; rrvm runs no up/down scripts)
 *   socket  frames over a socket to another emulator: listen=/connect=
 *           (TCP, each frame prefixed by its length as a 32-bit big-endian
 *           number, as QEMU) or udp= (one datagram per frame)
 *
 * A backend is host state, never machine state: its timers and sockets
 * live in the host's poll loop (hostnet_poll_fill / hostnet_poll_dispatch)
 * and frames it produces wait in a bounded queue until the replay layer's
 * network gate hands them to the guest (hostnet_peek / hostnet_pop), which
 * logs them. In a replay no backend is created at all.
 *
 * Invariants: every socket a backend listens on binds loopback unless the
 * options name another address and allow_remote was given; the receive
 * queue holds at most HOSTNET_QUEUE_FRAMES frames (beyond that the oldest
 * wait and new ones are dropped, before the gate: a dropped frame never
 * reaches the log, so replay is unaffected).
 */
#ifndef RRVM_HOSTNET_H
#define RRVM_HOSTNET_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOSTNET_QUEUE_FRAMES 1024
#define HOSTNET_MAX_FRAME 65536

typedef struct HostNet HostNet;

/* Create the backend that `spec` (the -netdev argument after the id was
 * taken out: "user,hostfwd=..." or "socket,listen=...") describes. NULL
 * with a one-line reason on a bad option or a host failure. */
HostNet *hostnet_new(const char *spec, bool allow_remote, char *err, size_t errlen);
void hostnet_free(HostNet *n);
/* Check `spec` without creating anything (the CLI refuses bad options
 * before any machine exists). */
bool hostnet_check(const char *spec, bool allow_remote, char *err, size_t errlen);

/* A frame the guest sent: to the outside world. */
void hostnet_send(HostNet *n, const uint8_t *frame, size_t len);

/* The oldest frame waiting for the guest (NULL: none) and dropping it. */
const uint8_t *hostnet_peek(HostNet *n, size_t *len);
void hostnet_pop(HostNet *n);

/* Poll loop integration: add the backend's descriptors to fds (at most
 * max; returns how many) and lower *timeout_ms to its next timer; after
 * poll, handle what happened on those entries. */
int hostnet_poll_fill(HostNet *n, struct pollfd *fds, int max, int *timeout_ms);
void hostnet_poll_dispatch(HostNet *n, const struct pollfd *fds, int count);

/* Frames and bytes that went each way, and frames dropped because the
 * queue to the guest was full. */
typedef struct HostNetStats {
    uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes, rx_queue_drops;
} HostNetStats;
void hostnet_stats(const HostNet *n, HostNetStats *out);

#endif
