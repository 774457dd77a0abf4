/*
 * hmp.h - the human monitor's prompt: `-monitor stdio` (the terminal is the
 * monitor's; the serial console goes elsewhere) or `-serial mon:stdio`
 * (QEMU's mux: Ctrl-A c switches the terminal between the guest console and
 * the `(rrvm)` prompt). Commands are monitor.c's.
 *
 * Invariant: typed bytes are only buffered where they arrive (possibly
 * inside session_advance); complete lines run from the server's loop
 * (hmp_run_pending), never re-entrantly.
 */
#ifndef RRVM_HMP_H
#define RRVM_HMP_H

#include <stdbool.h>
#include <stddef.h>

#include "debug/server.h"

typedef struct Hmp Hmp;

Hmp *hmp_new(Server *sv, bool mux, char *err, size_t errlen);
/* Run the command lines typed so far; show the prompt when the mux just
 * switched to the monitor. */
void hmp_run_pending(Hmp *h);
void hmp_free(Hmp *h);

#endif
