/*
 * session.h - one run of the machine in a given mode: live (`rrvm run`),
 * record (`rrvm record`) or replay (`rrvm replay`). The session owns the
 * machine, the host backends and the log, and it is the only place where
 * host inputs reach the machine (through the gates in gate_*.c).
 */
#ifndef RRVM_SESSION_H
#define RRVM_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/machine.h"

#define RRVM_VERSION "0.1.0"

typedef enum SessionMode { SESSION_RUN, SESSION_RECORD, SESSION_REPLAY } SessionMode;

enum { IMG_BIOS = 0, IMG_KERNEL, IMG_INITRD, IMG_DTB, IMG_COUNT };

typedef struct SessionOptions {
    SessionMode mode;
    const char *rr_path;        /* record: output; replay: input */
    bool force;                 /* record: replace an existing rr_path */
    bool pack;                  /* record: store the images in the recording */
    const char *cmdline;        /* record: the command line, kept in the recording */
    const char *serial;         /* "stdio" (default), "none", "file:PATH" */
    const char *image_dir;      /* replay: where to look for moved images */
    const char *dump_dtb;       /* write the device tree here */
    bool print_digest;          /* "digest: <hex>" on stderr at exit */
    bool print_stats;           /* instructions, time, MIPS on stderr */
    uint64_t checkpoint_interval; /* instructions between checkpoints */
    bool verify_strict;         /* a checkpoint after every event */
    bool on_divergence_continue;
    bool no_reboot;             /* -no-reboot: a guest reset ends the run (exit 0);
                                 * record stores it, replay reads it back */
    bool quiet;                 /* --quiet: no progress bar */
    /* -seed N: random bytes come from a PRNG seeded with N instead of the
     * host (as QEMU's -seed); still logged, so replay is unaffected */
    bool seed_set;
    uint64_t seed;
    MachineConfig cfg;          /* run/record */
    const char *image_path[IMG_COUNT]; /* run/record; NULL = absent */
    /* test only: flip state during replay at an icount ("x5", "pc",
     * "mstatus", "ram:0x80001000") to exercise divergence reports */
    uint64_t perturb_icount;
    const char *perturb_what;
} SessionOptions;

/* Runs the session; returns the process exit status. */
int session_main(const SessionOptions *o);

#endif
