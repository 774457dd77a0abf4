/*
 * pcap.h - writing captured Ethernet frames as a classic pcap file
 * (libpcap format 2.4, LINKTYPE_ETHERNET), readable by tcpdump -r and
 * Wireshark. The caller gives each frame's timestamp: rrvm passes the
 * guest's virtual time, so a recording's capture and its replay's are the
 * same file.
 */
#ifndef RRVM_PCAP_H
#define RRVM_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Pcap Pcap;

/* Create (truncate) path and write the file header; NULL with a reason. */
Pcap *pcap_open(const char *path, char *err, size_t errlen);
/* Append one frame; false after a write error (reported once by close). */
bool pcap_write(Pcap *p, uint64_t time_ns, const uint8_t *frame, size_t len);
/* Flush and close; false (with the reason) if any write failed. */
bool pcap_close(Pcap *p, char *err, size_t errlen);

#endif
