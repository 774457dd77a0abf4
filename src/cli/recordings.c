/*
 * recordings.c - the default recording directory and the names in it; see
 * recordings.h. Only the cli uses this: the session gets plain paths.
 *
 * Invariant: a name is never reused while a complete or incomplete
 * recording holds it (a second recorder racing for the same name is
 * stopped by the writer's lock on the incomplete file).
 */
#include "recordings.h"

#include <errno.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/log.h"
#include "replay/pack.h"

#define LATEST "latest"
#define MAX_NUMBER 100000

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* $RRVM_DIR, else $HOME/.local/share/rrvm; created (with parents) if asked. */
static bool default_dir(bool create, char *out, size_t cap, char *err, size_t errlen)
{
    const char *env = getenv("RRVM_DIR"), *home = getenv("HOME");
    if (env && *env)
        snprintf(out, cap, "%s", env);
    else if (home && *home)
        snprintf(out, cap, "%s/.local/share/rrvm", home);
    else {
        snprintf(err, errlen, "no recording directory: set RRVM_DIR or HOME, or give a file");
        return false;
    }
    if (!create)
        return true;
    for (char *p = out + 1;; p++) { /* mkdir -p */
        char c = *p;
        if (c != '/' && c != 0)
            continue;
        *p = 0;
        int rc = mkdir(out, 0755);
        *p = c;
        if (rc != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create the recording directory: %s", out, strerror(errno));
            return false;
        }
        if (c == 0)
            return true;
    }
}

/* Point DIR/latest at name, atomically (a new link renamed over the old). */
static void set_latest(const char *dir, const char *name)
{
    char link[4096], tmp[4200];
    snprintf(link, sizeof link, "%s/" LATEST, dir);
    snprintf(tmp, sizeof tmp, "%s/." LATEST ".%d", dir, (int)getpid());
    unlink(tmp);
    if (symlink(name, tmp) != 0 || rename(tmp, link) != 0) {
        fprintf(stderr, "rrvm: warning: cannot update %s: %s\n", link, strerror(errno));
        unlink(tmp);
    }
}

bool recordings_new_output(const char *image_path, char *out, size_t cap, char *err, size_t errlen)
{
    char dir[4096], base[1024], tmp[4200];
    if (!default_dir(true, dir, sizeof dir, err, errlen))
        return false;
    snprintf(tmp, sizeof tmp, "%s", image_path ? image_path : "rrvm");
    snprintf(base, sizeof base, "%s", basename(tmp));
    for (int n = 0; n < MAX_NUMBER; n++) {
        snprintf(out, cap, "%s/%s-%d.rr", dir, base, n);
        rlog_incomplete_path(out, tmp, sizeof tmp);
        if (exists(out) || exists(tmp))
            continue;
        snprintf(tmp, sizeof tmp, "%s-%d.rr", base, n);
        set_latest(dir, tmp);
        return true;
    }
    snprintf(err, errlen, "%s: no free name for %s-N.rr", dir, base);
    return false;
}

bool recordings_resolve(const char *arg, char *out, size_t cap, char *err, size_t errlen)
{
    char tmp[4200];
    if (arg) {
        snprintf(out, cap, "%s", arg);
    } else {
        char dir[4096], link[4200], target[4096];
        if (!default_dir(false, dir, sizeof dir, err, errlen))
            return false;
        snprintf(link, sizeof link, "%s/" LATEST, dir);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n < 0) {
            snprintf(err, errlen, "no recording given, and there is no %s (record one first)", link);
            return false;
        }
        target[n] = 0;
        if (target[0] == '/')
            snprintf(out, cap, "%s", target);
        else
            snprintf(out, cap, "%s/%s", dir, target);
    }
    rlog_incomplete_path(out, tmp, sizeof tmp);
    if (!exists(out) && exists(tmp)) {
        /* latest points at a recording in progress or cut: read that */
        fprintf(stderr, "rrvm: %s is not complete: reading %s\n", out, tmp);
        snprintf(out, cap, "%s", tmp);
    }
    return true;
}

static bool parse_kinds(const char *list, RlogDumpFilter *f)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (f->nkinds >= (int)(sizeof f->kinds / sizeof f->kinds[0]) || !rlog_kind_from_name(tok, &f->kinds[f->nkinds])) {
            fprintf(stderr, "rrvm dump: --kind: unknown event kind '%s' (names as dump prints them, e.g. UART_RX)\n", tok);
            return false;
        }
        f->nkinds++;
    }
    return f->nkinds > 0;
}

static bool parse_icount(const char *opt, const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    *out = strtoull(v, &end, 0);
    if (errno || end == v || *end || *v == '-') {
        fprintf(stderr, "rrvm dump: %s takes an instruction count\n", opt);
        return false;
    }
    return true;
}

int recordings_info_or_dump(const char *cmd, int argc, char **argv)
{
    bool dump = strcmp(cmd, "dump") == 0;
    RlogDumpFilter f = { .to = UINT64_MAX };
    const char *file = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool has_arg = i + 1 < argc;
        if (dump && strcmp(a, "--kind") == 0 && has_arg) {
            if (!parse_kinds(argv[++i], &f))
                return 2;
        } else if (dump && strcmp(a, "--from") == 0 && has_arg) {
            if (!parse_icount(a, argv[++i], &f.from))
                return 2;
        } else if (dump && strcmp(a, "--to") == 0 && has_arg) {
            if (!parse_icount(a, argv[++i], &f.to))
                return 2;
        } else if (dump && strcmp(a, "--no-idle") == 0) {
            f.no_idle = true;
        } else if (a[0] != '-' && !file) {
            file = a;
        } else {
            fprintf(stderr, "usage: rrvm %s [FILE.rr]%s\n", cmd,
                    dump ? " [--kind K[,K]] [--from ICOUNT] [--to ICOUNT] [--no-idle]" : "");
            return 2;
        }
    }
    char path[4096], err[4600];
    if (!recordings_resolve(file, path, sizeof path, err, sizeof err)) {
        fprintf(stderr, "rrvm %s: %s\n", cmd, err);
        return 2;
    }
    return dump ? rlog_print_dump_filtered(path, &f, stdout, stderr) : rlog_print_info(path, stdout, stderr);
}

int recordings_pack(int argc, char **argv)
{
    const char *file = NULL, *image_dir = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--image-dir") == 0 && i + 1 < argc) {
            image_dir = argv[++i];
        } else if (argv[i][0] != '-' && !file) {
            file = argv[i];
        } else {
            fprintf(stderr, "usage: rrvm pack [FILE.rr] [--image-dir DIR]\n");
            return 2;
        }
    }
    char path[4096], err[4600];
    if (!recordings_resolve(file, path, sizeof path, err, sizeof err)) {
        fprintf(stderr, "rrvm pack: %s\n", err);
        return 2;
    }
    return rlog_pack_file(path, image_dir, stderr);
}

char *recordings_cmdline(const char *cmd, int argc, char **argv)
{
    size_t cap = strlen(cmd) + 8;
    for (int i = 0; i < argc; i++)
        cap += 4 * strlen(argv[i]) + 3;
    char *s = malloc(cap), *p = s;
    if (!s)
        return NULL;
    p += sprintf(p, "rrvm %s", cmd);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool plain = *a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%") ==
                               strlen(a);
        *p++ = ' ';
        if (plain) {
            p += sprintf(p, "%s", a);
            continue;
        }
        *p++ = '\'';
        for (; *a; a++) {
            if (*a == '\'')
                p += sprintf(p, "'\\''");
            else
                *p++ = *a;
        }
        *p++ = '\'';
    }
    *p = 0;
    return s;
}
