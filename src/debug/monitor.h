/*
 * monitor.h - the human monitor's commands (HMP), one table shared by every
 * way in: the HMP prompt (-monitor stdio, Ctrl-A c), QMP's
 * human-monitor-command and gdb's `monitor ...` (qRcmd).
 *
 * Commands as QEMU spells them: help, info status|registers|cpus|replay|
 * snapshots|mtree|breaks, x/xp (QEMU's /FMT: count, format x d u o c i,
 * size b h w g), stop, cont (c), system_reset, system_powerdown, quit (q),
 * replay_break, replay_delete_break, replay_seek, savevm, loadvm, delvm,
 * go_live [FILE]; and rrvm's: when (the icount).
 *
 * Invariant: a command never changes the guest except through the server
 * (server.h), so its rules (logging while recording, refusal in a replay)
 * hold for every front end.
 */
#ifndef RRVM_MONITOR_H
#define RRVM_MONITOR_H

#include "debug/server.h"
#include "util/strbuf.h"

/* Run one command line; its output (errors included) is appended to out.
 * Returns false when the command failed (the text says why). */
bool monitor_exec(Server *sv, const char *line, Strbuf *out);

#endif
