/*
 * log.h - the recording ("run.rr"): a header that describes the machine and
 * its boot images, then every nondeterministic input as an event stamped
 * with the instruction count at which it was consumed.
 *
 * The byte format is specified in docs/LOG_FORMAT.md. In short:
 *   file header (magic, version, length, body, xxh64)
 *   frame*  (40-byte checksummed frame header + one zstd frame of events)
 *   event = varint kind, varint icount delta, varint length, payload
 *
 * Invariants:
 *  - Event kind numbers are part of the format and never change meaning;
 *    they are written as numbers, not enum positions.
 *  - Event icounts never decrease (the writer asserts it, the reader checks).
 *  - Every frame on disk is complete and self-contained: a reader can decode
 *    it without any earlier frame, and a writer killed at any moment leaves
 *    a file whose complete frames are all readable.
 *  - The reader never trusts a length it has not bounded: it allocates only
 *    after a frame header's checksum holds and its sizes are within caps and
 *    within the bytes actually present.
 *  - Frames are numbered 0, 1, 2, ... (format 2): a missing, repeated or
 *    swapped frame is damage, found before any of its events is returned.
 *  - The reader works on a private in-memory copy of the file, so a file
 *    truncated or rewritten during a replay cannot crash it.
 */
#ifndef RRVM_LOG_H
#define RRVM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "machine/machine.h"

#define RLOG_FORMAT_VERSION 5 /* 5: digest checkpoints and the checkpoint schedule;
                                * 4: console port names; 3: the header lists virtio devices;
                                * 2: frames carry a sequence number; 1 still read */
#define RLOG_INCOMPLETE_SUFFIX ".incomplete" /* a recording being written, or cut */

/* Event kinds: fixed numbers, documented in docs/LOG_FORMAT.md. */
#define RLOG_UART_RX 1        /* u8 port, then the received bytes */
#define RLOG_CLOCK_WALL 2     /* u64 LE: wall-clock ns since the Unix epoch */
#define RLOG_RANDOM 3         /* the random bytes handed to the guest */
#define RLOG_IDLE 4           /* u64 LE: ns of virtual time spent idle */
#define RLOG_SHUTDOWN 5       /* u8 cause (RLOG_SHUTDOWN_*) */
#define RLOG_RESET 6          /* empty: host-requested reset */
#define RLOG_UART_BREAK 7     /* u8 port: a break condition on the line */
#define RLOG_POWERDOWN 8      /* empty: host system_powerdown (guest-invisible here) */
#define RLOG_CHECKPOINT 16    /* state digest, see checkpoint.h */
#define RLOG_END 17           /* RlogEnd, see rlog_end_encode() */
#define RLOG_NET_RX 32        /* reserved */
#define RLOG_BLOCK_COMPLETE 33 /* reserved */
#define RLOG_INPUT 34         /* reserved */
#define RLOG_AUDIO_IN 35      /* reserved */
#define RLOG_NET_STATS 36     /* u8 device, then u64 LE tx_frames, tx_bytes, rx_frames,
                               * rx_bytes, tx_digest: a network card's traffic, written
                               * before END; not an input (replay verifies it) */
#define RLOG_NET_STATS_LEN 41

#define RLOG_SHUTDOWN_QUIT_KEY 1
#define RLOG_SHUTDOWN_SIGINT 2
#define RLOG_SHUTDOWN_SIGTERM 3
#define RLOG_SHUTDOWN_MONITOR 4

/* Limits: a writer refuses, a reader treats as corruption, anything larger. */
#define RLOG_MAX_PAYLOAD (16u << 20)        /* one event's payload */
#define RLOG_MAX_FRAME (64u << 20)          /* one frame, compressed or not */
#define RLOG_FRAME_TARGET (64u << 10)       /* a frame is cut past this size */
#define RLOG_MAX_HEADER (1u << 20)          /* file header body */
#define RLOG_MAX_IMAGES 16
#define RLOG_MAX_KV 32
#define RLOG_MAX_FILE (16ull << 30)        /* a whole recording (read into memory) */
#define RLOG_MAX_IMAGE (4ull << 30)        /* one boot image, packed or not */

typedef struct RlogImage {
    char role[16];    /* "bios", "kernel", "initrd", "dtb", "disk", ... */
    char *path;       /* as given on the command line; owned */
    uint64_t size;
    uint8_t hash[16]; /* XXH3_128 of the contents, canonical (big-endian) */
} RlogImage;

typedef struct RlogHeader {
    uint32_t format_version;
    char rrvm_version[32];
    MachineConfig cfg;       /* cfg.append owned (may be NULL) */
    RlogImage images[RLOG_MAX_IMAGES];
    int nimages;
    uint64_t checkpoint_interval; /* instructions between checkpoints, 0 = none; format 5:
                                   * the spacing after an input */
    bool verify_strict;
    /* format 5 (older files: both = checkpoint_interval, every checkpoint full) */
    uint64_t checkpoint_max_interval;  /* spacing while no input arrives */
    uint64_t full_checkpoint_interval; /* a full checkpoint at least this often */
    char *kv[RLOG_MAX_KV][2];     /* host-side options, owned: {key, value} */
    int nkv;
} RlogHeader;

/* Header helpers. A zeroed RlogHeader is a valid empty header. */
void rlog_header_free(RlogHeader *h);
const char *rlog_header_get(const RlogHeader *h, const char *key);
/* Add (or replace) a key/value; false when the table is full. */
bool rlog_header_set(RlogHeader *h, const char *key, const char *value);
/* Add an image, hashing its contents; false when the table is full or the
 * role does not fit in 15 characters. */
bool rlog_header_add_image(RlogHeader *h, const char *role, const char *path,
                           const void *data, size_t len);
/* XXH3_128 of data in canonical byte order; hex is 33 bytes. */
void rlog_hash128(const void *data, size_t len, uint8_t out[16]);
void rlog_hash_hex(const uint8_t hash[16], char hex[33]);

/* The header body as the file header holds it (docs/LOG_FORMAT.md), for
 * other files that embed a recording-style header (snapshots). encode:
 * false with err when h is not representable. decode: false with a static
 * reason in *why (h then empty); on success h is the caller's to free. */
bool rlog_header_encode(const RlogHeader *h, SerWriter *w, char *err, size_t errlen);
bool rlog_header_decode(const uint8_t *body, size_t len, RlogHeader *h, const char **why);

/* --- writing --- */
typedef struct RlogWriter RlogWriter;
/* Create (or empty) path and write the header, holding an exclusive fcntl
 * lock on it until close, so that a second writer is refused and readers
 * can tell a recording in progress from a cut one. */
RlogWriter *rlog_writer_open(const char *path, const RlogHeader *h, char *err, size_t errlen);
/* The safe way to record: write path + RLOG_INCOMPLETE_SUFFIX (refusing an
 * existing path, or an existing incomplete file, unless force), and move it
 * to path only in rlog_writer_commit. A writer killed, or closed without a
 * commit, leaves the incomplete file, which replays up to its last frame. */
RlogWriter *rlog_writer_create(const char *path, const RlogHeader *h, bool force, char *err, size_t errlen);
/* Store an image's contents in the recording (zstd), so that it replays
 * with nothing else; only before the first event. Contents already packed
 * (the same hash) are not stored again. */
bool rlog_writer_pack_image(RlogWriter *w, const void *data, size_t len);
/* Flush and fsync. */
bool rlog_writer_sync(RlogWriter *w);
/* Flush, sync, move into place, close and free (also on failure). */
bool rlog_writer_commit(RlogWriter *w, char *err, size_t errlen);
/* The file being written (the incomplete one for rlog_writer_create). */
const char *rlog_writer_path(const RlogWriter *w);
void rlog_incomplete_path(const char *path, char *out, size_t cap);
/* Append one event; `icount` must not be below the previous event's (asserted).
 * Returns false on an I/O error or an oversized payload (see
 * rlog_writer_error); the writer then refuses further events. */
bool rlog_write(RlogWriter *w, uint64_t icount, uint32_t kind, const void *payload, size_t len);
/* Write buffered events as a complete frame (no-op when none are buffered). */
bool rlog_flush(RlogWriter *w);
/* Flush, close and free. Returns false if anything failed along the way. */
bool rlog_writer_close(RlogWriter *w);
const char *rlog_writer_error(const RlogWriter *w);
/* Bytes written to the file so far (complete frames only). */
uint64_t rlog_writer_bytes(const RlogWriter *w);

/* --- reading --- */
typedef struct RlogEvent {
    uint64_t icount;
    uint32_t kind;
    const uint8_t *payload; /* valid until the next rlog_next/rlog_peek/close */
    size_t len;
    uint64_t file_offset;   /* of the frame that holds the event */
} RlogEvent;

typedef struct RlogReader RlogReader;
/* Open and check the header. On failure returns NULL with a one-line
 * message in err, prefixed with the path. h_out is filled on success and
 * then owned by the caller (rlog_header_free). */
RlogReader *rlog_reader_open(const char *path, RlogHeader *h_out, char *err, size_t errlen);
/* Same over a caller-owned buffer, which must outlive the reader. */
RlogReader *rlog_reader_open_mem(const uint8_t *buf, size_t len, RlogHeader *h_out,
                                 char *err, size_t errlen);
/* 1: an event; 0: clean end (the END event was read and nothing follows);
 * -1: corruption or a cut recording, see rlog_reader_error(). Sticky. */
int rlog_next(RlogReader *r, RlogEvent *ev);
/* Like rlog_next but the event stays to be returned by the next call. */
int rlog_peek(RlogReader *r, RlogEvent *ev);
const char *rlog_reader_error(const RlogReader *r);
/* The error is a recording cut short (killed while recording), not damage:
 * every event before it is trustworthy. */
bool rlog_reader_truncated(const RlogReader *r);
/* icount of the last event returned (0 before any). */
uint64_t rlog_reader_last_icount(const RlogReader *r);
/* A reading position: where the next rlog_peek/rlog_next reads. Valid
 * only for the reader (file) it was taken from; seeking lets a replay go
 * back to an earlier point (in-memory checkpoints, snapshots). */
typedef struct RlogPos {
    uint64_t frame_offset; /* file offset of the frame holding the next event */
    uint64_t event_index;  /* events of that frame before the next one */
    uint64_t last_icount;  /* rlog_reader_last_icount() there */
} RlogPos;
RlogPos rlog_reader_tell(const RlogReader *r);
/* Return to a position from rlog_reader_tell; clears an error or end
 * state. False (reader state unspecified) when pos is not valid. */
bool rlog_reader_seek(RlogReader *r, const RlogPos *pos);
/* Total bytes of the recording. */
uint64_t rlog_reader_size(const RlogReader *r);
/* The process still writing the file (it holds the writer's lock), or 0. */
int rlog_reader_writer_pid(const RlogReader *r);
/* Images packed in the recording (`rrvm pack`, `record --pack`). */
typedef struct RlogPacked {
    uint8_t hash[16]; /* XXH3_128 of the contents, as RlogImage.hash */
    uint64_t size;    /* of the contents */
    uint64_t stored;  /* compressed bytes in the file */
} RlogPacked;
int rlog_reader_npacked(const RlogReader *r);
const RlogPacked *rlog_reader_packed(const RlogReader *r, int i);
/* Index of the packed image with this hash, or -1. */
int rlog_reader_find_packed(const RlogReader *r, const uint8_t hash[16]);
/* Decompress packed image i into a new buffer (the caller frees it),
 * checking its checksum and content hash. */
bool rlog_reader_unpack(const RlogReader *r, int i, uint8_t **data, size_t *len, char *err, size_t errlen);
void rlog_reader_close(RlogReader *r);

/* Kind names ("UART_RX", ...); "UNKNOWN" for numbers this rrvm does not know. */
const char *rlog_kind_name(uint32_t kind);
bool rlog_kind_known(uint32_t kind);

/* --- payload helpers for fixed-layout kinds --- */
typedef struct RlogEnd {
    uint64_t icount;    /* final instruction count */
    uint64_t vtime_ns;  /* final virtual time */
    int32_t exit_code;
    uint64_t digest;    /* checkpoint_machine_digest() at the end */
} RlogEnd;
#define RLOG_END_PAYLOAD_LEN 28
void rlog_end_encode(const RlogEnd *e, uint8_t out[RLOG_END_PAYLOAD_LEN]);
/* Accepts longer payloads (later fields appended by future versions). */
bool rlog_end_decode(const uint8_t *p, size_t len, RlogEnd *e);
void rlog_u64_encode(uint64_t v, uint8_t out[8]); /* CLOCK_WALL, IDLE */
bool rlog_u64_decode(const uint8_t *p, size_t len, uint64_t *v);

/* --- log_info.c: `rrvm info` and `rrvm dump`; return the exit status
 * (0 also for a cut recording, after a warning on err; 2 for an unreadable
 * or corrupt one, as replay). The _mem variants serve tests and the fuzzer. */
int rlog_print_info(const char *path, FILE *out, FILE *err);
int rlog_print_dump(const char *path, FILE *out, FILE *err);
/* `rrvm dump --kind K,.. --from N --to N --no-idle` */
typedef struct RlogDumpFilter {
    uint32_t kinds[16]; /* only these kinds (none listed: all) */
    int nkinds;
    uint64_t from, to;  /* icount range, inclusive */
    bool no_idle;       /* leave out IDLE events */
} RlogDumpFilter;
int rlog_print_dump_filtered(const char *path, const RlogDumpFilter *f, FILE *out, FILE *err);
/* "UART_RX" (any case) -> 1; false for names this rrvm does not know. */
bool rlog_kind_from_name(const char *name, uint32_t *kind);
int rlog_print_info_mem(const uint8_t *buf, size_t len, FILE *out, FILE *err);
int rlog_print_dump_mem(const uint8_t *buf, size_t len, FILE *out, FILE *err);

#endif
