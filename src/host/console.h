/*
 * console.h - the host side of the guest console: stdio (raw terminal mode,
 * QEMU-style Ctrl-A escapes), an output file, or nothing.
 *
 * This is a host backend: it is only ever read by the replay layer's
 * console gate, which logs what it reads. In replay the input side is
 * disconnected and only the output side is used.
 *
 * Mux (QEMU's -serial mon:stdio): with a monitor input function set,
 * Ctrl-A c gives the console to the monitor and back. While the monitor
 * has it, typed bytes go to monitor_input and never to the guest (so they
 * are never logged); escapes still work (Ctrl-A x quits). The console knows
 * nothing of sessions or monitors: a function pointer and its opaque.
 */
#ifndef RRVM_HOST_CONSOLE_H
#define RRVM_HOST_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ConsoleKind { CONSOLE_STDIO, CONSOLE_FILE, CONSOLE_NONE } ConsoleKind;

typedef struct HostConsole {
    ConsoleKind kind;
    FILE *out;          /* where guest output goes (stdout or a file) */
    int in_fd;          /* -1 when input is disconnected */
    bool raw;           /* terminal switched to raw mode (restore on close) */
    bool escape;        /* previous input byte was Ctrl-A */
    bool in_eof;        /* input reached end of file */
    bool quit;          /* user asked to quit (Ctrl-A x) */
    bool break_requested; /* Ctrl-A b: send a break; the gate clears it */
    bool mid_line;      /* the last byte written was not '\n' */
    /* mux: NULL = no monitor (Ctrl-A c ignored) */
    void (*monitor_input)(void *opaque, const uint8_t *buf, size_t n);
    void *monitor_opaque;
    bool monitor_active; /* Ctrl-A c gave the console to the monitor */
    uint8_t termios_save[256]; /* struct termios, opaque here */
} HostConsole;

/* spec: "stdio", "none", "file:PATH". Returns false with a message. */
bool host_console_open(HostConsole *c, const char *spec, bool want_input, char *err, size_t errlen);
/* Replay: read a terminal on stdin for Ctrl-A escapes only (Ctrl-A x
 * sets quit; other bytes are dropped, never fed to the guest). The terminal
 * loses echo and line buffering but keeps Ctrl-C as SIGINT. No-op when
 * stdin is not a terminal. */
void host_console_open_escapes(HostConsole *c);
void host_console_close(HostConsole *c);
void host_console_write(HostConsole *c, const uint8_t *buf, size_t n);
void host_console_flush(HostConsole *c);
/* Read up to max guest-bound bytes without blocking, after Ctrl-A escape
 * processing. Returns the count (0 if none). Bytes typed while the monitor
 * has the console are handed to monitor_input instead. */
size_t host_console_read(HostConsole *c, uint8_t *buf, size_t max);
/* Wait up to timeout_ns (UINT64_MAX = forever) for input. Returns true if
 * input may be readable. */
bool host_console_wait(HostConsole *c, uint64_t timeout_ns);
/* Share the console with a monitor (NULL: no monitor, and the console goes
 * back to the guest). host_console_open clears it: set it after opening. */
void host_console_set_monitor(HostConsole *c, void (*input)(void *opaque, const uint8_t *buf, size_t n),
                              void *opaque);
static inline bool host_console_has_input(const HostConsole *c) { return c->in_fd >= 0 && !c->in_eof; }

#endif
