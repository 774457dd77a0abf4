/*
 * pack.h - self-contained recordings: find the boot images a recording
 * needs (packed in it, in --image-dir, or at their recorded paths) and
 * pack them into it (`rrvm pack`), so the one file replays anywhere.
 */
#ifndef RRVM_PACK_H
#define RRVM_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

/* The contents of recorded image ri, verified against its size and hash:
 * packed in r (if r is not NULL), else image_dir/basename(path) (if
 * image_dir), else its recorded path. On failure err names every place
 * tried and why it was refused. *data is malloc'd. */
bool rlog_find_image(const RlogReader *r, const RlogImage *ri, const char *image_dir, uint8_t **data, size_t *len,
                     char *err, size_t errlen);

/* Rewrite the complete recording at path with every image packed in it
 * (atomically: a temporary file renamed over it). Returns 0, or 2 with a
 * message on stderr. */
int rlog_pack_file(const char *path, const char *image_dir, FILE *err);

#endif
