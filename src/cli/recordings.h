/*
 * recordings.h - where recordings live: the default directory ($RRVM_DIR or
 * ~/.local/share/rrvm), its NAME-N.rr files and `latest` link (rr's
 * convention), and which file `rrvm replay/info/dump` means.
 */
#ifndef RRVM_RECORDINGS_H
#define RRVM_RECORDINGS_H

#include <stdbool.h>
#include <stddef.h>

/* Record without -o: pick DIR/NAME-N.rr (NAME from the image's basename,
 * N the first free number, counting incomplete files as taken), create DIR,
 * point DIR/latest at it. False with a message in err. */
bool recordings_new_output(const char *image_path, char *out, size_t cap, char *err, size_t errlen);
/* The recording an argument names: arg itself; arg's incomplete file when
 * only that exists (still being written, or cut); with arg NULL, the latest
 * recording of the default directory. False with a message in err. */
bool recordings_resolve(const char *arg, char *out, size_t cap, char *err, size_t errlen);
/* `rrvm info [FILE]`, `rrvm dump [FILE] [--kind K[,K]] [--from N] [--to N]
 * [--no-idle]`: the exit status. */
int recordings_info_or_dump(const char *cmd, int argc, char **argv);
/* `rrvm pack [FILE] [--image-dir DIR]`: the exit status. */
int recordings_pack(int argc, char **argv);
/* "rrvm CMD ARG..." with shell quoting where needed; malloc'd. */
char *recordings_cmdline(const char *cmd, int argc, char **argv);

#endif
