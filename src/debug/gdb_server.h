/*
 * gdb_server.h - `-s`, `-gdb DEV`, `-S`, `replay --gdb`: the gdb front end
 * of the interactive server (server.h). It drives the session through its
 * public API only (session_advance/seek) and the machine's breakpoint
 * table (m->dbg).
 */
#ifndef RRVM_GDB_SERVER_H
#define RRVM_GDB_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "debug/server.h"

typedef struct GdbFront GdbFront;

/* Listen (before the session opens: --gdb takes the terminal, so it sets
 * opts->serial). NULL with one line in err on failure. */
GdbFront *gdb_front_new(Server *sv, const DebugOptions *d, SessionOptions *opts, char *err, size_t errlen);
/* The session is open: accept gdb, and with --gdb start gdb-multiarch. */
void gdb_front_start(GdbFront *f);
/* --gdb: the guest waits for the gdb we started. */
bool gdb_front_waits(const GdbFront *f);
void gdb_front_free(GdbFront *f);

#endif
