/*
 * fuzz_chardev.c - libFuzzer harness for the -chardev option parser
 * (src/host/chardev.c: chardev_parse), which takes whatever text a user or
 * a script puts on the command line. Parsing does no I/O, so every input
 * is safe to try.
 *
 * Checks: no out-of-bounds access; a refusal is one line starting with
 * "-chardev" and leaves no half-filled spec behind that a caller could
 * use; an accepted spec is well formed (known kind, a valid id, every
 * string terminated, the fields its kind needs present, a socket with a
 * unix path or a TCP port but not both); parsing is a pure function (the
 * same text twice gives the same spec, byte for byte).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "host/chardev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool terminated(const char *s, size_t cap) { return memchr(s, 0, cap) != NULL; }

static void check_spec(const ChardevSpec *s)
{
    assert(s->kind >= CHARDEV_NULL && s->kind <= CHARDEV_PTY);
    assert(terminated(s->id, sizeof s->id) && terminated(s->path, sizeof s->path));
    assert(terminated(s->host, sizeof s->host) && terminated(s->port, sizeof s->port));
    assert(s->id[0] && ((s->id[0] >= 'a' && s->id[0] <= 'z') || (s->id[0] >= 'A' && s->id[0] <= 'Z')));
    assert(!strchr(s->id, ','));
    if (s->kind == CHARDEV_FILE || s->kind == CHARDEV_PIPE)
        assert(s->path[0]);
    if (s->kind == CHARDEV_SOCKET) {
        assert(!s->path[0] != !s->port[0]);
        assert(s->path[0] || s->host[0]); /* TCP: a host, loopback by default */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0; /* a command-line argument ends at its NUL */
    ChardevSpec a, b;
    char err[512], err2[512];
    err[0] = err2[0] = 0;
    bool ok = chardev_parse(text, &a, err, sizeof err);
    bool ok2 = chardev_parse(text, &b, err2, sizeof err2);
    assert(ok == ok2);
    if (ok) {
        check_spec(&a);
        assert(memcmp(&a, &b, sizeof a) == 0);
    } else {
        assert(err[0] && !strchr(err, '\n'));
        assert(strncmp(err, "-chardev", 8) == 0);
        assert(strcmp(err, err2) == 0);
    }
    free(text);
    return 0;
}
