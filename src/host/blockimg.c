/*
 * blockimg.c - disk images read by the host; see blockimg.h.
 *
 * This first version reads raw images only; qcow2 is refused with its
 * reason. The hash is computed without a cache.
 */
#include "blockimg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

struct BlockImage {
    int fd;
    uint64_t size;
    char *path;
    const char *format;
};

static const uint8_t QCOW2_MAGIC[4] = {'Q', 'F', 'I', 0xfb};

BlockImage *blockimg_open(const char *path, const char *format, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    uint8_t magic[4] = {0};
    bool is_qcow2 = pread(fd, magic, 4, 0) == 4 && memcmp(magic, QCOW2_MAGIC, 4) == 0;
    if (format && strcmp(format, "raw") != 0 && strcmp(format, "qcow2") != 0) {
        snprintf(err, errlen, "%s: unknown format '%s' (raw or qcow2)", path, format);
        close(fd);
        return NULL;
    }
    if ((format && strcmp(format, "qcow2") == 0) || (!format && is_qcow2)) {
        snprintf(err, errlen, "%s: qcow2 images are not supported yet", path);
        close(fd);
        return NULL;
    }
    BlockImage *b = calloc(1, sizeof *b);
    if (!b || !(b->path = strdup(path))) {
        free(b);
        close(fd);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    b->fd = fd;
    b->size = (uint64_t)st.st_size;
    b->format = "raw";
    return b;
}

void blockimg_close(BlockImage *b)
{
    if (!b)
        return;
    close(b->fd);
    free(b->path);
    free(b);
}

uint64_t blockimg_size(const BlockImage *b) { return b->size; }
const char *blockimg_format(const BlockImage *b) { return b->format; }

bool blockimg_read(BlockImage *b, uint64_t off, void *buf, size_t n, char *err, size_t errlen)
{
    if (off > b->size || n > b->size - off) {
        snprintf(err, errlen, "%s: read past the end of the image", b->path);
        return false;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(b->fd, (uint8_t *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "%s: %s", b->path, r < 0 ? strerror(errno) : "file shrank under us");
            return false;
        }
        done += (size_t)r;
    }
    return true;
}

bool blockimg_hash(BlockImage *b, uint8_t out[16], char *err, size_t errlen)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st) {
        snprintf(err, errlen, "%s: out of memory", b->path);
        return false;
    }
    XXH3_128bits_reset(st);
    enum { CHUNK = 1 << 20 };
    uint8_t *buf = malloc(CHUNK);
    bool ok = buf != NULL;
    for (uint64_t off = 0; ok && off < b->size; off += CHUNK) {
        size_t n = b->size - off < CHUNK ? (size_t)(b->size - off) : CHUNK;
        ok = blockimg_read(b, off, buf, n, err, errlen);
        if (ok)
            XXH3_128bits_update(st, buf, n);
    }
    if (ok) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
        memcpy(out, c.digest, 16);
    }
    free(buf);
    XXH3_freeState(st);
    return ok;
}
