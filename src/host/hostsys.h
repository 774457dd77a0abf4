/*
 * hostsys.h - the other host inputs: wall clock, monotonic clock, random
 * bytes, whole-file reads, and content hashes of images. Only the replay
 * layer's gates and the cli call these; the machine never does.
 */
#ifndef RRVM_HOSTSYS_H
#define RRVM_HOSTSYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint64_t host_wallclock_ns(void);
uint64_t host_monotonic_ns(void);
/* The host's physical RAM in bytes (0 if unknown). */
uint64_t host_physical_ram_bytes(void);
void host_random_bytes(uint8_t *buf, size_t n);
/* Read a whole file (at most max_size bytes). Returns false with a message. */
bool host_read_file(const char *path, uint64_t max_size, uint8_t **data, size_t *len, char *err, size_t errlen);
/* The host's name (for a recording's description); false if unknown. */
bool host_hostname(char *buf, size_t cap);
/* XXH3-128 of a buffer, big-endian bytes. */
void host_hash128(const void *data, size_t len, uint8_t out[16]);

#endif
