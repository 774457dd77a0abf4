/*
 * args.h - what the `rrvm` command-line parser shares between its files:
 * the parse state (Parse), the option-handler type, and the handlers that
 * live outside main.c (args_devices.c: -device, -drive, -object, -netdev,
 * -nic).
 *
 * Invariants: a handler either applies its argument to Parse and returns
 * true, or writes one line to p->err (args_fail) and returns false; the
 * caller prints it and exits with status 2. Nothing here touches the host
 * beyond reading files the user named (images, to size them).
 */
#ifndef RRVM_CLI_ARGS_H
#define RRVM_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "debug/server.h"
#include "host/chardev.h"
#include "replay/session.h"

#define MAX_RNG_OBJECTS 8
#define MAX_DRIVES MACHINE_MAX_DEVICES

/* One -drive: if=virtio drives become a device at once, if=none ones wait
 * for -device virtio-blk-device,drive=ID. */
typedef struct ParseDrive {
    char id[MACHINE_DEV_ID_MAX];
    char file[4096];
    char format[8];    /* "raw", "qcow2", "" = probe */
    char overlay[4096]; /* "" = none */
    bool readonly;
    uint64_t size;
    bool used;         /* a device took it */
} ParseDrive;

/* the commands an option applies to */
enum { C_RUN = 1, C_RECORD = 2, C_REPLAY = 4, C_LIVE = C_RUN | C_RECORD, C_ALL = 7 };

typedef struct Parse {
    SessionOptions o;
    unsigned cmd; /* C_RUN, C_RECORD or C_REPLAY */
    bool bios_none;
    bool rtc_base_given;
    char rr_path_buf[4096]; /* the recording's path when rrvm chose it */
    uint64_t *gotos;        /* --goto list, owned */
    DebugOptions dbg;       /* -s, -gdb, -S */
    char rng_objects[MAX_RNG_OBJECTS][MACHINE_DEV_ID_MAX]; /* -object rng-random ids */
    int nrng_objects;
    struct { char id[MACHINE_DEV_ID_MAX]; char *spec; } netdevs[MACHINE_MAX_DEVICES]; /* -netdev */
    int nnetdevs;
    ParseDrive drives[MAX_DRIVES];
    int ndrives;
    char chardev_ids[SESSION_MAX_CHARDEVS][CHARDEV_ID_MAX]; /* of -chardev, in order */
    int nports;             /* console ports so far (the UART is port 0) */
    char port_ids[SESSION_MAX_PORTS][CHARDEV_ID_MAX]; /* o.port_chardev points here */
    char err[512];
} Parse;

/* An option handler: applies `arg` (NULL for options without one), or
 * writes a one-line reason to p->err and returns false. */
typedef bool (*OptFn)(Parse *p, const char *arg);

typedef struct OptDef {
    const char *name;
    const char *arg;  /* argument name for help; NULL: takes none */
    unsigned cmds;    /* C_* mask of the commands that take it */
    bool machine;     /* defines the machine: replay refuses it */
    OptFn fn;
    const char *help; /* NULL: accepted but not listed (QEMU habits, tests) */
} OptDef;

/* Write the reason for a refusal into p->err; returns false. */
bool args_fail(Parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Split a comma-separated argument into at most maxtok tokens (in buf). */
int args_split_commas(const char *arg, char *buf, size_t buflen, char **tok, int maxtok);

/* args_devices.c */
bool opt_object(Parse *p, const char *arg);
bool opt_drive(Parse *p, const char *arg);
bool opt_device(Parse *p, const char *arg);
bool opt_netdev(Parse *p, const char *arg);
bool opt_nic(Parse *p, const char *arg);
bool opt_net_dump(Parse *p, const char *arg);
bool opt_allow_remote_net(Parse *p, const char *arg);
/* After parsing: give each network card its -netdev; every -netdev must be
 * used. False with p->err set. */
bool args_connect_netdevs(Parse *p);

#endif
