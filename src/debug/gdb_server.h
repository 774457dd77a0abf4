/*
 * gdb_server.h - `-s`, `-gdb DEV`, `-S`: run a session under a gdb stub.
 * The debug layer sits between the command line and the replay layer: it
 * drives the session through its public API only (session_open/advance/
 * seek/close) and the machine's breakpoint table (m->dbg).
 */
#ifndef RRVM_GDB_SERVER_H
#define RRVM_GDB_SERVER_H

#include <stdbool.h>

#include "replay/session.h"

typedef struct DebugOptions {
    const char *gdb;    /* "tcp:HOST:PORT" or "unix:PATH"; NULL: no stub */
    bool wait;          /* -S: do not start the guest before gdb says so */
    bool allow_remote;  /* --allow-remote-debug: a non-loopback TCP address */
    bool launch_gdb;    /* replay --gdb: start gdb-multiarch attached (as rr replay) */
    const char *symbols; /* --symbols FILE: the ELF gdb loads symbols from */
} DebugOptions;

/* Runs the session with the stub; returns the process exit status. */
int gdb_server_main(const SessionOptions *o, const DebugOptions *d);

#endif
