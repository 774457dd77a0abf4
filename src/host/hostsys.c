/*
 * hostsys.c - host clock, randomness, file and hash helpers (see hostsys.h).
 */
#include "hostsys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

uint64_t host_wallclock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t host_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t host_physical_ram_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

void host_random_bytes(uint8_t *buf, size_t n)
{
    while (n > 0) {
        ssize_t r = getrandom(buf, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* getrandom cannot fail on Linux >= 3.17 with these flags;
             * fall back to something rather than hang */
            for (size_t i = 0; i < n; i++)
                buf[i] = (uint8_t)(host_monotonic_ns() >> (i % 8));
            return;
        }
        buf += r;
        n -= (size_t)r;
    }
}

bool host_read_file(const char *path, uint64_t max_size, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return false;
    }
    if ((uint64_t)st.st_size > max_size) {
        snprintf(err, errlen, "%s: too large (%llu bytes, limit %llu)", path,
                 (unsigned long long)st.st_size, (unsigned long long)max_size);
        close(fd);
        return false;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return false;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "%s: read error: %s", path, r < 0 ? strerror(errno) : "file shrank");
            free(buf);
            close(fd);
            return false;
        }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *len = n;
    return true;
}

bool host_hostname(char *buf, size_t cap)
{
    if (cap == 0 || gethostname(buf, cap) != 0)
        return false;
    buf[cap - 1] = 0;
    return buf[0] != 0;
}

void host_hash128(const void *data, size_t len, uint8_t out[16])
{
    XXH128_hash_t h = XXH3_128bits(data, len);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    memcpy(out, c.digest, 16);
}
