/*
 * chardev.h - host character devices as QEMU's -chardev spells them:
 * null, stdio, file,path=, pipe,path= (PATH.in/PATH.out, or PATH),
 * socket (path= unix, or host=,port= TCP; server=on|off, wait=on|off),
 * pty. A host backend: only the replay layer's console gate reads it
 * (and logs what it reads); in a replay only the output side is opened.
 *
 * chardev_parse is pure (no I/O): it turns the option text into a
 * ChardevSpec or a one-line reason, so the command line can refuse bad
 * options before anything is opened, and the fuzzer can drive it.
 *
 * Invariants: nothing here blocks the emulator once opened - reads and
 * writes are non-blocking; output a slow peer does not take is buffered
 * (CHARDEV_OUT_MAX) and then dropped (output is not an input: dropping it
 * changes nothing the guest sees). A TCP host that is not loopback is
 * refused unless the caller allows it. stdio is not handled here: the
 * session's HostConsole (Ctrl-A escapes) owns the terminal.
 */
#ifndef RRVM_CHARDEV_H
#define RRVM_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHARDEV_ID_MAX 32
#define CHARDEV_PATH_MAX 1024
#define CHARDEV_OUT_MAX (256u << 10) /* buffered output before dropping */

typedef enum ChardevKind {
    CHARDEV_NULL,
    CHARDEV_STDIO,
    CHARDEV_FILE,
    CHARDEV_PIPE,
    CHARDEV_SOCKET,
    CHARDEV_PTY,
} ChardevKind;

typedef struct ChardevSpec {
    ChardevKind kind;
    char id[CHARDEV_ID_MAX];
    char path[CHARDEV_PATH_MAX]; /* file, pipe, unix socket */
    char host[256];              /* tcp socket ("" for unix) */
    char port[16];
    bool server;                 /* socket: listen (default off, as QEMU) */
    bool wait;                   /* socket server: wait for a client before starting (default on) */
    bool append;                 /* file: append instead of truncating */
} ChardevSpec;

/* Parse "KIND,id=ID[,KEY=VALUE...]". False with a one-line reason. */
bool chardev_parse(const char *arg, ChardevSpec *spec, char *err, size_t errlen);
const char *chardev_kind_name(ChardevKind k);

typedef struct Chardev {
    ChardevSpec spec;
    bool want_input;   /* false: output only (replay) */
    int in_fd;         /* read side (-1: none or not connected) */
    int out_fd;        /* write side (-1: none or not connected) */
    int listen_fd;     /* socket server */
    int pty_slave;     /* kept open so the master never hangs up */
    bool in_eof;       /* input ended (client socket closed, pipe EOF) */
    uint8_t *out_buf;  /* output not yet taken by the peer */
    size_t out_len;
    uint64_t dropped;  /* output bytes dropped (peer too slow or absent) */
    bool warned;
} Chardev;

/* Open the backend. want_input false: the output side only (a replay);
 * socket and pty are refused then (they would accept input). */
bool chardev_open(Chardev *c, const ChardevSpec *spec, bool want_input, bool allow_remote, char *err,
                  size_t errlen);
void chardev_close(Chardev *c);
/* Up to max bytes of input without blocking (accepts a waiting client on
 * a server socket first). 0 when none. */
size_t chardev_read(Chardev *c, uint8_t *buf, size_t max);
/* Queue output and write what the peer takes now. */
void chardev_write(Chardev *c, const uint8_t *buf, size_t n);
/* Write buffered output the peer takes now (between machine slices). */
void chardev_flush(Chardev *c);
/* The fds whose readability means input (or a client) may be waiting;
 * returns the count (at most 2). */
int chardev_input_fds(const Chardev *c, int *fds);

#endif
