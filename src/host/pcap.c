/*
 * pcap.c - classic pcap writer; see pcap.h. All fields little-endian (the
 * magic tells readers the byte order), snap length 65535: frames longer
 * than that are cut, their original length kept in the record.
 */
#include "pcap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/le.h"

#define PCAP_MAGIC 0xa1b2c3d4u
#define PCAP_SNAPLEN 65535u
#define LINKTYPE_ETHERNET 1u

struct Pcap {
    FILE *f;
    char *path;
    int err; /* first errno of a failed write, 0: none */
};

static void put(Pcap *p, const void *buf, size_t n)
{
    if (!p->err && fwrite(buf, 1, n, p->f) != n)
        p->err = errno ? errno : EIO;
}

Pcap *pcap_open(const char *path, char *err, size_t errlen)
{
    Pcap *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path))) {
        free(p);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    p->f = fopen(path, "wb");
    if (!p->f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(p->path);
        free(p);
        return NULL;
    }
    uint8_t h[24] = {0};
    put_le32(h, PCAP_MAGIC);
    put_le16(h + 4, 2); /* version 2.4 */
    put_le16(h + 6, 4);
    put_le32(h + 16, PCAP_SNAPLEN);
    put_le32(h + 20, LINKTYPE_ETHERNET);
    put(p, h, sizeof h);
    return p;
}

bool pcap_write(Pcap *p, uint64_t time_ns, const uint8_t *frame, size_t len)
{
    uint32_t incl = len > PCAP_SNAPLEN ? PCAP_SNAPLEN : (uint32_t)len;
    uint8_t r[16];
    put_le32(r, (uint32_t)(time_ns / 1000000000u));
    put_le32(r + 4, (uint32_t)(time_ns % 1000000000u / 1000u));
    put_le32(r + 8, incl);
    put_le32(r + 12, (uint32_t)len);
    put(p, r, sizeof r);
    put(p, frame, incl);
    return !p->err;
}

bool pcap_close(Pcap *p, char *err, size_t errlen)
{
    if (!p)
        return true;
    if (fclose(p->f) != 0 && !p->err)
        p->err = errno ? errno : EIO;
    bool ok = !p->err;
    if (!ok)
        snprintf(err, errlen, "%s: %s", p->path, strerror(p->err));
    free(p->path);
    free(p);
    return ok;
}
