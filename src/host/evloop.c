/*
 * evloop.c - poll(2) over a small fixed table of watches (see evloop.h).
 */
#include "evloop.h"

#include <errno.h>
#include <poll.h>

void evloop_init(Evloop *l)
{
    for (int i = 0; i < EVLOOP_MAX_FDS; i++)
        l->w[i].fd = -1;
}

bool evloop_add(Evloop *l, int fd, EvloopFn fn, void *opaque)
{
    for (int i = 0; i < EVLOOP_MAX_FDS; i++)
        if (l->w[i].fd < 0) {
            l->w[i].fd = fd;
            l->w[i].on_readable = fn;
            l->w[i].opaque = opaque;
            return true;
        }
    return false;
}

void evloop_remove(Evloop *l, int fd)
{
    for (int i = 0; i < EVLOOP_MAX_FDS; i++)
        if (l->w[i].fd == fd)
            l->w[i].fd = -1;
}

int evloop_run_once(Evloop *l, int timeout_ms)
{
    struct pollfd p[EVLOOP_MAX_FDS];
    int slot[EVLOOP_MAX_FDS], n = 0;
    for (int i = 0; i < EVLOOP_MAX_FDS; i++)
        if (l->w[i].fd >= 0) {
            p[n] = (struct pollfd){ .fd = l->w[i].fd, .events = POLLIN };
            slot[n++] = i;
        }
    int r = poll(p, (nfds_t)n, timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    int ran = 0;
    for (int k = 0; k < n && r > 0; k++) {
        if (!p[k].revents)
            continue;
        int i = slot[k];
        if (l->w[i].fd != p[k].fd)
            continue; /* removed by an earlier callback */
        l->w[i].on_readable(l->w[i].opaque, p[k].fd);
        ran++;
    }
    return ran;
}
