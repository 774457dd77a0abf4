/*
 * qmp_fake_server.c - a stand-in for src/debug/server.c and monitor.c (and
 * the one session.h function QMP uses) so the QMP protocol can be fuzzed
 * and tested without a machine: plausible run state, icount, breaks,
 * savevm names, and the events a real server would emit, synchronously.
 *
 * Only for tests/fuzz/fuzz_qmp.c and tests/fuzz/test_qmp_protocol.c: never
 * linked with the real server (the symbols would clash).
 *
 * Invariants (checked by the harnesses through qmp_fake_*): icount never
 * goes back except by seek; breaks are ascending, distinct, ahead of the
 * icount when added; events go to every registered listener.
 */
#include <stdio.h>
#include <string.h>

#include "debug/monitor.h"
#include "debug/server.h"
#include "machine/machine.h"
#include "qmp_fake_server.h"

struct Server {
    int dummy;
};

static struct {
    Server sv;
    Evloop loop;
    Machine m;
    SessionMode mode;
    bool running, quit, shut_down;
    ServerStopReason why;
    uint64_t icount, end;
    uint64_t breaks[SERVER_MAX_BREAKS];
    size_t nbreaks;
    ServerSavedVm vms[SERVER_MAX_SAVEVM];
    size_t nvms;
    struct { ServerEventFn fn; void *opaque; } ls[SERVER_MAX_FRONTENDS];
    size_t nls;
} F;

static void fire(ServerEventKind k, ServerStopReason why, bool guest, const char *reason)
{
    ServerEvent ev = { .kind = k, .stop = why, .guest = guest, .reason = reason, .icount = F.icount };
    for (size_t i = 0; i < F.nls; i++)
        if (F.ls[i].fn)
            F.ls[i].fn(F.ls[i].opaque, &ev);
}

Server *qmp_fake_reset(SessionMode mode, int nharts)
{
    memset(&F, 0, sizeof F);
    evloop_init(&F.loop);
    F.m.nharts = nharts;
    F.mode = mode;
    F.end = mode == SESSION_REPLAY ? 1000000 : UINT64_MAX;
    F.why = STOP_USER;
    return &F.sv;
}

bool qmp_fake_quit_requested(void) { return F.quit; }
bool qmp_fake_check(void)
{
    for (size_t i = 1; i < F.nbreaks; i++)
        if (F.breaks[i - 1] >= F.breaks[i])
            return false;
    return F.nbreaks <= SERVER_MAX_BREAKS && F.nvms <= SERVER_MAX_SAVEVM && F.icount <= F.end;
}

/* The machine "runs" a while: to the next break, or the end. */
void qmp_fake_run(uint64_t n)
{
    if (!F.running)
        return;
    uint64_t to = F.end - F.icount < n ? F.end : F.icount + n;
    for (size_t i = 0; i < F.nbreaks; i++)
        if (F.breaks[i] > F.icount && F.breaks[i] <= to) {
            F.icount = F.breaks[i];
            F.running = false;
            F.why = STOP_REPLAY_BREAK;
            fire(SEV_STOP, STOP_REPLAY_BREAK, false, NULL);
            return;
        }
    F.icount = to;
    if (F.icount == F.end) {
        F.running = false;
        F.why = STOP_REPLAY_END;
        fire(SEV_STOP, STOP_REPLAY_END, false, NULL);
        fire(SEV_REPLAY_END, STOP_NONE, false, NULL);
    }
}

Evloop *server_loop(Server *sv) { return &F.loop; }
Session *server_session(Server *sv) { return (Session *)&F; }
SessionMode session_mode(const Session *s) { return F.mode; }
Machine *server_machine(Server *sv) { return &F.m; }

bool server_listen_events(Server *sv, ServerEventFn fn, void *opaque)
{
    if (F.nls == SERVER_MAX_FRONTENDS)
        return false;
    F.ls[F.nls].fn = fn;
    F.ls[F.nls++].opaque = opaque;
    return true;
}

void server_unlisten_events(Server *sv, void *opaque)
{
    for (size_t i = 0; i < F.nls; i++)
        if (F.ls[i].opaque == opaque)
            F.ls[i].fn = NULL;
}

bool server_running(const Server *sv) { return F.running; }
ServerStopReason server_stop_reason(const Server *sv) { return F.running ? STOP_NONE : F.why; }
const char *server_status_name(const Server *sv)
{
    if (F.running)
        return "running";
    return F.shut_down ? "shutdown" : F.why == STOP_DEBUG ? "debug" : "paused";
}
uint64_t server_icount(const Server *sv) { return F.icount; }
const char *server_recording_path(const Server *sv) { return F.mode == SESSION_RUN ? NULL : "fake.rr"; }

void server_stop(Server *sv, ServerStopReason why)
{
    if (!F.running)
        return;
    F.running = false;
    F.why = why;
    fire(SEV_STOP, why, false, NULL);
}

bool server_cont(Server *sv, char *err, size_t errlen)
{
    if (F.shut_down || F.icount == F.end) {
        snprintf(err, errlen, "the machine cannot run any more");
        return false;
    }
    if (!F.running) {
        F.running = true;
        fire(SEV_RESUME, STOP_NONE, false, NULL);
    }
    return true;
}

void server_quit(Server *sv)
{
    F.quit = true;
    fire(SEV_SHUTDOWN, STOP_NONE, false, "host-qmp-quit");
}

static bool live_only(char *err, size_t errlen)
{
    if (F.mode == SESSION_REPLAY)
        snprintf(err, errlen, "a replay cannot change the guest");
    return F.mode != SESSION_REPLAY;
}

bool server_system_reset(Server *sv, char *err, size_t errlen)
{
    if (!live_only(err, errlen))
        return false;
    fire(SEV_RESET, STOP_NONE, false, "host-qmp-system-reset");
    return true;
}

bool server_system_powerdown(Server *sv, char *err, size_t errlen)
{
    if (!live_only(err, errlen))
        return false;
    fire(SEV_POWERDOWN, STOP_NONE, false, NULL);
    return true;
}

bool server_break_add(Server *sv, uint64_t icount, char *err, size_t errlen)
{
    if (icount <= F.icount) {
        snprintf(err, errlen, "icount %llu is not ahead of %llu", (unsigned long long)icount,
                 (unsigned long long)F.icount);
        return false;
    }
    size_t i = 0;
    while (i < F.nbreaks && F.breaks[i] < icount)
        i++;
    if (i < F.nbreaks && F.breaks[i] == icount)
        return true;
    if (F.nbreaks == SERVER_MAX_BREAKS) {
        snprintf(err, errlen, "too many breaks");
        return false;
    }
    memmove(&F.breaks[i + 1], &F.breaks[i], (F.nbreaks - i) * sizeof F.breaks[0]);
    F.breaks[i] = icount;
    F.nbreaks++;
    return true;
}

bool server_break_delete(Server *sv, uint64_t icount, bool all_breaks, char *err, size_t errlen)
{
    if (all_breaks) {
        F.nbreaks = 0;
        return true;
    }
    for (size_t i = 0; i < F.nbreaks; i++)
        if (F.breaks[i] == icount) {
            memmove(&F.breaks[i], &F.breaks[i + 1], (F.nbreaks - i - 1) * sizeof F.breaks[0]);
            F.nbreaks--;
            return true;
        }
    snprintf(err, errlen, "no break at icount %llu", (unsigned long long)icount);
    return false;
}

size_t server_breaks(const Server *sv, uint64_t *out, size_t max)
{
    size_t n = F.nbreaks < max ? F.nbreaks : max;
    memcpy(out, F.breaks, n * sizeof *out);
    return F.nbreaks;
}

bool server_seek(Server *sv, uint64_t icount, char *err, size_t errlen)
{
    if (F.mode != SESSION_REPLAY || icount > F.end) {
        snprintf(err, errlen, F.mode != SESSION_REPLAY ? "not a replay" : "beyond the recording's end");
        return false;
    }
    F.icount = icount;
    F.running = false;
    F.why = STOP_SEEK;
    fire(SEV_STOP, STOP_SEEK, false, NULL);
    return true;
}

bool server_savevm(Server *sv, const char *name, char *err, size_t errlen)
{
    if (F.nvms == SERVER_MAX_SAVEVM || strlen(name) >= sizeof F.vms[0].name) {
        snprintf(err, errlen, "cannot save '%s'", name);
        return false;
    }
    snprintf(F.vms[F.nvms].name, sizeof F.vms[0].name, "%s", name);
    F.vms[F.nvms++].icount = F.icount;
    return true;
}

bool server_loadvm(Server *sv, const char *name, char *err, size_t errlen)
{
    for (size_t i = 0; i < F.nvms; i++)
        if (!strcmp(F.vms[i].name, name))
            return server_seek(sv, F.vms[i].icount, err, errlen);
    snprintf(err, errlen, "no snapshot '%s'", name);
    return false;
}

bool server_delvm(Server *sv, const char *name, char *err, size_t errlen)
{
    for (size_t i = 0; i < F.nvms; i++)
        if (!strcmp(F.vms[i].name, name)) {
            F.vms[i] = F.vms[--F.nvms];
            return true;
        }
    snprintf(err, errlen, "no snapshot '%s'", name);
    return false;
}

size_t server_savedvms(const Server *sv, ServerSavedVm *out, size_t max)
{
    size_t n = F.nvms < max ? F.nvms : max;
    memcpy(out, F.vms, n * sizeof *out);
    return F.nvms;
}

bool server_go_live(Server *sv, const char *rr_out, char *err, size_t errlen)
{
    if (F.mode != SESSION_REPLAY) {
        snprintf(err, errlen, "not a replay");
        return false;
    }
    F.mode = rr_out ? SESSION_RECORD : SESSION_RUN;
    F.end = UINT64_MAX;
    return true;
}

/* A few HMP commands, enough for human-monitor-command's plumbing; the
 * output includes a byte that is not UTF-8 on `x`, as a memory dump may. */
bool monitor_exec(Server *sv, const char *line, Strbuf *out)
{
    char err[128] = "";
    if (!strcmp(line, "info registers")) {
        sb_printf(out, " pc       %016llx\r\n", (unsigned long long)(0x80000000u + F.icount * 4));
        return true;
    }
    if (!strncmp(line, "savevm ", 7)) {
        if (server_savevm(sv, line + 7, err, sizeof err))
            return true;
    } else if (!strncmp(line, "loadvm ", 7)) {
        if (server_loadvm(sv, line + 7, err, sizeof err))
            return true;
    } else if (!strcmp(line, "x")) {
        sb_puts(out, "0000000080000000: \xff\xfe\r\n");
        return true;
    } else {
        snprintf(err, sizeof err, "unknown command: '%s'", line);
    }
    sb_printf(out, "%s\r\n", err);
    return false;
}
