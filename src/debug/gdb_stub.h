/*
 * gdb_stub.h - the GDB remote serial protocol, independent of sockets and of
 * how the machine is driven: bytes in (gdb_stub_input), reply bytes out
 * (g->out), and a resume request (g->resume) for the driver (gdb_server.c)
 * to carry out with the session API. The fuzzer drives it directly.
 *
 * Invariants:
 *  - Reading never changes what the guest sees: registers come from the
 *    hart structs, memory through mmu_debug_translate (no A/D update, no
 *    TLB fill) and only from RAM (never a device read).
 *  - Breakpoints live in g->bp, never in guest memory; the driver arms
 *    them in m->dbg only while the guest runs forward.
 *  - In replay, anything that would change the guest (G, P, M, X) is
 *    refused with an error: the replay must stay the recording's.
 *  - Every input, however malformed or long, gets at most one reply and
 *    leaves the stub usable.
 */
#ifndef RRVM_GDB_STUB_H
#define RRVM_GDB_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/machine.h"

#define GDB_PACKET_SIZE 4096 /* advertised PacketSize; longer packets get E01 */
#define GDB_MAX_BREAKPOINTS MACHINE_MAX_BREAKPOINTS

typedef enum GdbResume {
    GDB_RESUME_NONE = 0,
    GDB_RESUME_CONTINUE,  /* c, vCont;c */
    GDB_RESUME_STEP,      /* s, vCont;s: one instruction on resume_hart */
    GDB_RESUME_RSTEP,     /* bs (replay) */
    GDB_RESUME_RCONTINUE, /* bc (replay) */
    GDB_RESUME_KILL,      /* k, vKill */
    GDB_RESUME_DETACH,    /* D */
} GdbResume;

typedef struct GdbStub GdbStub;

/* qRcmd ("monitor ..."): the driver's commands; reply text goes through
 * gdb_stub_console. */
typedef void (*GdbMonitorFn)(void *opaque, GdbStub *g, const char *cmd);

struct GdbStub {
    Machine *m;
    bool replay;        /* reverse execution offered, writes refused */
    bool noack;         /* QStartNoAckMode accepted */
    /* input framing */
    int rx_state;
    char pkt[GDB_PACKET_SIZE + 1];
    size_t pkt_len;
    bool pkt_overflow;
    uint8_t sum, csum;
    /* reply bytes for the driver to send */
    char *out;
    size_t out_len, out_cap;
    /* harts as threads: index of the hart for g/p/m (H g) and step (H c) */
    int g_hart;
    int c_hart;         /* -1: any */
    uint64_t bp[GDB_MAX_BREAKPOINTS];
    int nbp;
    /* Z2 write, Z3 read, Z4 access watchpoints: kind is WATCH_* bits */
    struct { uint64_t addr, len; int kind; } watch[MACHINE_MAX_WATCHPOINTS];
    int nwatch;
    /* what the driver must do next; GDB_RESUME_NONE while stopped */
    GdbResume resume;
    int resume_hart;
    bool interrupt;     /* 0x03 arrived */
    GdbMonitorFn monitor;
    void *monitor_opaque;
};

void gdb_stub_init(GdbStub *g, Machine *m, bool replay);
void gdb_stub_free(GdbStub *g);
/* Feed bytes from gdb; replies are appended to g->out. */
void gdb_stub_input(GdbStub *g, const uint8_t *buf, size_t n);
/* Send a packet (framed, with checksum). */
void gdb_stub_send(GdbStub *g, const char *payload);
/* Text for gdb's console (an O packet), e.g. from a monitor command. */
void gdb_stub_console(GdbStub *g, const char *text);
/* The stop reply for hart `hart` with an extra "reason:value;" or NULL. */
void gdb_stub_stopped(GdbStub *g, int hart, const char *extra);
/* Drop the sent bytes. */
void gdb_stub_out_consumed(GdbStub *g);

#endif
