/*
 * qmp.h - the QEMU Machine Protocol (QMP) over unix or TCP sockets: QEMU's
 * -qmp option, so QEMU's tools (qmp-shell, libvirt-style scripts, the
 * qemu.qmp Python library) drive rrvm as they drive QEMU. The commands act
 * through the interactive server (server.h) and the human monitor
 * (monitor.h); server events become QMP events.
 *
 * Invariants:
 *  - QMP never touches the machine itself: every command goes through
 *    server_* or monitor_exec, so their rules (logging while recording,
 *    refusal in a replay) hold here too.
 *  - Every complete JSON value received gets exactly one reply (a return
 *    or an error); a bad one never ends the connection.
 *  - Events go only to clients that completed capabilities negotiation.
 *  - A client that hangs up or stops reading is dropped alone; the other
 *    clients and the machine go on.
 */
#ifndef RRVM_QMP_H
#define RRVM_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "debug/server.h"
#include "util/strbuf.h"

typedef struct QmpServer QmpServer;

/* Parse a QEMU -qmp spec and listen: "unix:PATH,server=on,wait=off",
 * "tcp:HOST:PORT,server=on,wait=off", and QEMU's older "server,nowait"
 * spelling. Non-loopback tcp refused unless allow_remote (the message
 * mentions --allow-remote-monitor). wait=on (or "server" without nowait):
 * qmp_server_add blocks until one client connects (as QEMU). Several calls
 * = several listeners. NULL / false on error with one line in err, which
 * does not repeat the spec (the caller prints "-qmp SPEC: err"). */
QmpServer *qmp_server_new(Server *sv);
bool qmp_server_add(QmpServer *q, const char *spec, bool allow_remote, char *err, size_t errlen);
/* Closes everything, unlinks the unix sockets it created. */
void qmp_server_free(QmpServer *q);

/* --- for tests and fuzzing: a connection without a socket ---
 * qmp_conn_open makes a connection whose greeting is already in its
 * output; qmp_conn_input feeds it bytes as a socket read would (any
 * split); replies and events accumulate in qmp_conn_output until the
 * caller clears it. */
#define QMP_MAX_MESSAGE (1u << 20) /* bytes of one JSON value, at most */

typedef struct QmpConn QmpConn;
QmpConn *qmp_conn_open(QmpServer *q);
void qmp_conn_input(QmpConn *c, const uint8_t *buf, size_t n);
Strbuf *qmp_conn_output(QmpConn *c);
void qmp_conn_close(QmpConn *c);

#endif
