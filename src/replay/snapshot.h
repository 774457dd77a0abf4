/*
 * snapshot.h - snapshot files: the whole machine at one instruction, on disk.
 *
 * A snapshot holds what is needed to continue from it with nothing else but
 * the boot images (kept for a guest reset, identified by content hash like a
 * recording's): the recording-style header (MachineConfig, images, host
 * options), the machine state (machine_save: harts, devices, RAM with
 * untouched pages elided, virtual time, schedule), and, when it was taken
 * while replaying, which recording and where in it (log position and an
 * opaque session blob). Format: docs/SNAPSHOT_FORMAT.md (versioned,
 * checksummed, zstd-compressed).
 *
 * Invariants:
 *  - snapshot_read never trusts a length before checking it against caps
 *    and the bytes present; a damaged, truncated or foreign file is refused
 *    with a one-line message naming the file and what is wrong.
 *  - Writing is atomic: a temporary file in the same directory renamed
 *    into place, so a crash never leaves a half-written snapshot under the
 *    final name.
 */
#ifndef RRVM_SNAPSHOT_H
#define RRVM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define SNAPSHOT_FORMAT_VERSION 1

typedef struct SnapshotInfo {
    uint32_t format_version;
    uint64_t icount;            /* the machine's icount in the snapshot */
    RlogHeader header;          /* config, images, kv; owned */
    bool from_replay;           /* taken while replaying a recording */
    uint8_t recording_id[16];   /* that recording's identity (see session) */
    RlogPos log_pos;            /* where the replay was in it */
    uint8_t *session;           /* opaque session blob, owned (may be NULL) */
    size_t session_len;
} SnapshotInfo;

/* Write `state` (a machine_save blob) with its description to path. */
bool snapshot_write(const char *path, const SnapshotInfo *info, const uint8_t *state, size_t state_len,
                    char *err, size_t errlen);
/* Read and check path; on success info and *state (malloc'd, for
 * machine_load) are the caller's to free (snapshot_info_free, free). */
bool snapshot_read(const char *path, SnapshotInfo *info, uint8_t **state, size_t *state_len, char *err,
                   size_t errlen);
/* The same over a buffer (tests, fuzzer). */
bool snapshot_read_mem(const uint8_t *buf, size_t len, const char *name, SnapshotInfo *info, uint8_t **state,
                       size_t *state_len, char *err, size_t errlen);
void snapshot_info_free(SnapshotInfo *info);

#endif
