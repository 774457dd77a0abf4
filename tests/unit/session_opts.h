/*
 * session_opts.h - the SessionOptions the in-process session tests share:
 * a small virt machine, fixed seed and RTC, no console, a checkpoint every
 * 2000 instructions, recordings written over mkstemp() files.
 */
#ifndef RRVM_TEST_SESSION_OPTS_H
#define RRVM_TEST_SESSION_OPTS_H

#include <string.h>

#include "replay/session.h"

static inline void base_options(SessionOptions *o, SessionMode mode, const char *rr, const char *elf, int nharts)
{
    memset(o, 0, sizeof *o);
    o->mode = mode;
    o->rr_path = rr;
    o->force = true; /* rr is a mkstemp() file: replace it */
    o->quiet = true;
    o->serial = "none";
    o->seed_set = true;
    o->seed = 1;
    o->checkpoint_interval = 2000;
    o->cfg.ram_size = 64ull << 20;
    o->cfg.nharts = nharts;
    o->cfg.board_virt = true;
    o->cfg.quantum = 1000;
    o->cfg.rtc_base_ns = 1767225600ull * 1000000000ull;
    o->image_path[IMG_KERNEL] = elf;
}

#endif
