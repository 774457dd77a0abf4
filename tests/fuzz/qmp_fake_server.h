/*
 * qmp_fake_server.h - controls of the fake server (qmp_fake_server.c) that
 * the QMP fuzzer and protocol test link instead of src/debug/server.c.
 */
#ifndef RRVM_QMP_FAKE_SERVER_H
#define RRVM_QMP_FAKE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "debug/server.h"

/* Fresh state: stopped at icount 0, no breaks, no listeners. */
Server *qmp_fake_reset(SessionMode mode, int nharts);
/* Run up to n instructions if running (stops at breaks and the end). */
void qmp_fake_run(uint64_t n);
bool qmp_fake_quit_requested(void);
/* The fake's own invariants hold. */
bool qmp_fake_check(void);

#endif
