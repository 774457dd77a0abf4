/*
 * main.c - the `rrvm` command line: run, record, replay, info, dump.
 *
 * Machine options follow QEMU's spelling (-m, -smp, -bios, -kernel,
 * -initrd, -append, -dtb, -icount shift=N, -rtc, -serial) so that command
 * lines carry over. This file only parses; session.c does the work.
 * Everything that defines the machine ends up in MachineConfig, which a
 * recording stores, so `rrvm replay` takes no machine options.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/hostsys.h"
#include "replay/log.h"
#include "replay/session.h"

#define DEFAULT_BIOS "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
#define DEFAULT_QUANTUM 10000
#define DEFAULT_SHIFT 0

static void usage(FILE *f)
{
    fputs("usage: rrvm run    [machine options] [--digest] [--stats]\n"
          "       rrvm record -o FILE.rr [machine options] [--checkpoint-interval N] [--verify=strict]\n"
          "       rrvm replay FILE.rr [--image-dir DIR] [-serial SPEC] [--on-divergence=stop|continue]\n"
          "                           [--digest] [--stats]\n"
          "                           [--stop-at N [--snapshot-out S.snap] [--go-live [-o G.rr]]]\n"
          "                           [--goto N1,N2,... [--goto-timing]] [--checkpoint-memory SIZE]\n"
          "                           [--from S.snap] [--snapshot-dir DIR]\n"
          "       rrvm run -loadvm S.snap | rrvm record --from S.snap -o FILE.rr   continue from a snapshot\n"
          "       (run and record also take --stop-at N and --snapshot-out S.snap)\n"
          "       rrvm info FILE.rr      configuration, images, events by source, sizes\n"
          "       rrvm dump FILE.rr      one line per event\n"
          "\n"
          "machine options (as QEMU's):\n"
          "  -M virt|bare          board: QEMU virt layout (default) or minimal bare-metal board\n"
          "  -m SIZE               RAM size, e.g. 256M, 1G (default 256M)\n"
          "  -smp N                harts, 1-8 (default 1)\n"
          "  -icount shift=N       one instruction = 2^N ns of virtual time (default 0)\n"
          "  -bios FILE|none       firmware at 0x80000000 (default: Debian's OpenSBI fw_dynamic.bin)\n"
          "  -kernel FILE          kernel Image or ELF; with -bios none an ELF started in M-mode\n"
          "  -initrd FILE          initial ramdisk\n"
          "  -append STRING        kernel command line\n"
          "  -dtb FILE             use this device tree instead of the generated one\n"
          "  --dump-dtb FILE       write the device tree the guest gets\n"
          "  -rtc base=utc|DATETIME[,clock=vm|host]\n"
          "                        RTC start (default utc, i.e. now) and clock source (default vm:\n"
          "                        derived from virtual time; host reads the wall clock each time)\n"
          "  -seed N               random bytes for the guest (rng-seed) from a PRNG seeded with N,\n"
          "                        not the host: two runs with the same seed are identical\n"
          "  -serial stdio|none|file:PATH   console backend (default stdio; Ctrl-A x quits, Ctrl-A h helps)\n"
          "  --digest              print 'digest: <hex>' of the final machine state on stderr\n"
          "  --stats               print instruction count, virtual/wall time and speed on stderr\n",
          f);
}

static bool parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    uint64_t mul = 1ull << 20; /* plain numbers are MiB, as in QEMU */
    if (*end == 'k' || *end == 'K')
        mul = 1ull << 10, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1ull << 20, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1ull << 30, end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || v == 0 || v > (1ull << 44) / mul)
        return false;
    *out = v * mul;
    return true;
}

static bool parse_datetime(const char *s, uint64_t *ns)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) {
        memset(&tm, 0, sizeof tm);
        end = strptime(s, "%Y-%m-%d", &tm);
    }
    if (!end || *end)
        return false;
    time_t t = timegm(&tm);
    if (t < 0)
        return false;
    *ns = (uint64_t)t * 1000000000ull;
    return true;
}

static bool parse_rtc(const char *arg, MachineConfig *cfg, char *err, size_t errlen)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (strncmp(tok, "base=", 5) == 0) {
            const char *v = tok + 5;
            if (strcmp(v, "utc") == 0 || strcmp(v, "localtime") == 0)
                cfg->rtc_base_ns = host_wallclock_ns(); /* stored in the recording's config */
            else if (!parse_datetime(v, &cfg->rtc_base_ns)) {
                snprintf(err, errlen, "-rtc: bad base '%s' (use utc or YYYY-MM-DDTHH:MM:SS)", v);
                return false;
            }
        } else if (strcmp(tok, "clock=vm") == 0) {
            cfg->rtc_clock_host = false;
        } else if (strcmp(tok, "clock=host") == 0 || strcmp(tok, "clock=rt") == 0) {
            cfg->rtc_clock_host = true;
        } else if (strncmp(tok, "driftfix=", 9) == 0) {
            /* accepted for QEMU compatibility; nothing to fix with virtual time */
        } else {
            snprintf(err, errlen, "-rtc: unknown option '%s'", tok);
            return false;
        }
    }
    return true;
}

static bool parse_icount(const char *arg, MachineConfig *cfg, char *err, size_t errlen)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        const char *v = strncmp(tok, "shift=", 6) == 0 ? tok + 6 : tok;
        char *end;
        long n = strtol(v, &end, 10);
        if (end == v || *end || n < 0 || n > 10) {
            snprintf(err, errlen, "-icount: '%s' is not supported (use shift=N with N from 0 to 10; "
                                  "rrvm's virtual time is always exact, there is no 'auto')", tok);
            return false;
        }
        cfg->icount_shift = (int)n;
    }
    return true;
}

/* --- time travel and snapshot options (small and self-contained) --- */

typedef struct TimeTravelArgs {
    uint64_t *gotos;
    size_t ngotos;
    bool bad;
} TimeTravelArgs;

static bool parse_icount_arg(const char *opt, const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    *out = strtoull(v, &end, 0);
    if (errno || end == v || *end || v[0] == '-') {
        fprintf(stderr, "rrvm: %s takes an instruction count, not '%s'\n", opt, v);
        return false;
    }
    return true;
}

static bool parse_goto_list(const char *v, TimeTravelArgs *tt)
{
    char *copy = strdup(v);
    size_t n = 1;
    for (const char *p = v; *p; p++)
        n += *p == ',';
    tt->gotos = calloc(n, sizeof *tt->gotos);
    bool ok = copy && tt->gotos;
    for (char *tok = ok ? strtok(copy, ",") : NULL; tok && ok; tok = strtok(NULL, ","))
        ok = parse_icount_arg("--goto", tok, &tt->gotos[tt->ngotos++]);
    free(copy);
    return ok && tt->ngotos > 0;
}

/* Returns 1 when argv[*i] was one of these options (tt->bad on error). */
static int parse_time_travel_option(SessionOptions *o, TimeTravelArgs *tt, int argc, char **argv, int *i,
                                    SessionMode mode)
{
    const char *a = argv[*i];
    bool replay = mode == SESSION_REPLAY;
    bool takes_arg = strcmp(a, "--stop-at") == 0 || strcmp(a, "--snapshot-out") == 0 ||
                     (replay && (strcmp(a, "--goto") == 0 || strcmp(a, "--checkpoint-memory") == 0 ||
                                 strcmp(a, "--snapshot-dir") == 0 || strcmp(a, "-o") == 0)) ||
                     (strcmp(a, "--from") == 0 && mode != SESSION_RUN) ||
                     (strcmp(a, "-loadvm") == 0 && mode != SESSION_REPLAY);
    bool flag = replay && (strcmp(a, "--go-live") == 0 || strcmp(a, "--goto-timing") == 0);
    if (!takes_arg && !flag)
        return 0;
    if (takes_arg && *i + 1 >= argc) {
        fprintf(stderr, "rrvm: option %s needs an argument\n", a);
        tt->bad = true;
        return 1;
    }
    const char *v = takes_arg ? argv[++*i] : NULL;
    if (strcmp(a, "--stop-at") == 0) {
        o->stop_at_set = true;
        tt->bad = !parse_icount_arg(a, v, &o->stop_at);
    } else if (strcmp(a, "--snapshot-out") == 0) {
        o->snapshot_out = v;
    } else if (strcmp(a, "--goto") == 0) {
        tt->bad = !parse_goto_list(v, tt);
        o->goto_list = tt->gotos;
        o->goto_count = tt->ngotos;
        o->time_travel = true;
    } else if (strcmp(a, "--checkpoint-memory") == 0) {
        if (!parse_size(v, &o->checkpoint_memory)) {
            fprintf(stderr, "rrvm: --checkpoint-memory %s: not a size (e.g. 512M, 2G)\n", v);
            tt->bad = true;
        }
    } else if (strcmp(a, "--snapshot-dir") == 0) {
        o->snapshot_dir = v;
    } else if (strcmp(a, "-o") == 0) {
        o->go_live_out = v;
    } else if (strcmp(a, "--from") == 0 || strcmp(a, "-loadvm") == 0) {
        o->from_snapshot = v;
    } else if (strcmp(a, "--go-live") == 0) {
        o->go_live = true;
    } else if (strcmp(a, "--goto-timing") == 0) {
        o->goto_timing = true;
    }
    return 1;
}

static int machine_command(SessionMode mode, int argc, char **argv, TimeTravelArgs *tt)
{
    SessionOptions o;
    memset(&o, 0, sizeof o);
    o.mode = mode;
    o.serial = "stdio";
    o.cfg.ram_size = 256ull << 20;
    o.cfg.nharts = 1;
    o.cfg.icount_shift = DEFAULT_SHIFT;
    o.cfg.board_virt = true;
    o.cfg.quantum = DEFAULT_QUANTUM;
    o.cfg.rtc_base_ns = host_wallclock_ns();
    bool bios_none = false, bios_given = false;
    char err[512];
    int i = 0;
    if (mode == SESSION_REPLAY) {
        if (argc < 1 || argv[0][0] == '-') {
            fprintf(stderr, "rrvm replay: which recording? usage: rrvm replay FILE.rr [options]\n");
            return 2;
        }
        o.rr_path = argv[i++];
    }
#define NEED_ARG()                                                                 \
    do {                                                                           \
        if (i + 1 >= argc) {                                                       \
            fprintf(stderr, "rrvm: option %s needs an argument\n", a);             \
            return 2;                                                              \
        }                                                                          \
    } while (0)
    for (; i < argc; i++) {
        const char *a = argv[i];
        bool machine_opt = true;
        if (strcmp(a, "-serial") == 0) {
            NEED_ARG();
            o.serial = argv[++i];
            machine_opt = false;
        } else if (strcmp(a, "--digest") == 0) {
            o.print_digest = true;
            machine_opt = false;
        } else if (strcmp(a, "--stats") == 0) {
            o.print_stats = true;
            machine_opt = false;
        } else if (strcmp(a, "-seed") == 0 && mode != SESSION_REPLAY) {
            NEED_ARG();
            char *end;
            o.seed = strtoull(argv[++i], &end, 0);
            if (*end) {
                fprintf(stderr, "rrvm: -seed takes a number\n");
                return 2;
            }
            o.seed_set = true;
            machine_opt = false;
        } else if (strcmp(a, "--dump-dtb") == 0) {
            NEED_ARG();
            o.dump_dtb = argv[++i];
            machine_opt = false;
        } else if (strcmp(a, "--image-dir") == 0 && mode == SESSION_REPLAY) {
            NEED_ARG();
            o.image_dir = argv[++i];
            machine_opt = false;
        } else if (strncmp(a, "--on-divergence=", 16) == 0 && mode == SESSION_REPLAY) {
            if (strcmp(a + 16, "continue") == 0)
                o.on_divergence_continue = true;
            else if (strcmp(a + 16, "stop") != 0) {
                fprintf(stderr, "rrvm: --on-divergence takes stop or continue\n");
                return 2;
            }
            machine_opt = false;
        } else if (strncmp(a, "--test-perturb=", 15) == 0 && mode == SESSION_REPLAY) {
            /* test only: ICOUNT:WHAT, e.g. 5000000:x5 or 5000000:ram:0x80100000 */
            char *end;
            o.perturb_icount = strtoull(a + 15, &end, 0);
            if (*end != ':') {
                fprintf(stderr, "rrvm: --test-perturb=ICOUNT:WHAT\n");
                return 2;
            }
            o.perturb_what = end + 1;
            machine_opt = false;
        } else if (parse_time_travel_option(&o, tt, argc, argv, &i, mode) != 0) {
            if (tt->bad)
                return 2;
            machine_opt = false;
        } else if (strcmp(a, "-o") == 0 && mode == SESSION_RECORD) {
            NEED_ARG();
            o.rr_path = argv[++i];
            machine_opt = false;
        } else if (strcmp(a, "--checkpoint-interval") == 0 && mode == SESSION_RECORD) {
            NEED_ARG();
            char *end;
            o.checkpoint_interval = strtoull(argv[++i], &end, 0);
            if (*end || o.checkpoint_interval == 0) {
                fprintf(stderr, "rrvm: --checkpoint-interval takes a positive instruction count\n");
                return 2;
            }
            machine_opt = false;
        } else if (strcmp(a, "--verify=strict") == 0 && mode == SESSION_RECORD) {
            o.verify_strict = true;
            machine_opt = false;
        } else if (strcmp(a, "--verify=normal") == 0 && mode == SESSION_RECORD) {
            machine_opt = false;
        }
        if (!machine_opt)
            continue;
        if (mode == SESSION_REPLAY) {
            fprintf(stderr, "rrvm replay: option %s is not accepted: the recording holds the machine configuration\n", a);
            return 2;
        }
        if (strcmp(a, "-M") == 0 || strcmp(a, "-machine") == 0) {
            NEED_ARG();
            const char *v = argv[++i];
            if (strcmp(v, "virt") == 0)
                o.cfg.board_virt = true;
            else if (strcmp(v, "bare") == 0)
                o.cfg.board_virt = false;
            else {
                fprintf(stderr, "rrvm: unknown machine '%s' (virt or bare)\n", v);
                return 2;
            }
        } else if (strcmp(a, "-m") == 0) {
            NEED_ARG();
            if (!parse_size(argv[++i], &o.cfg.ram_size) || o.cfg.ram_size % 4096 || o.cfg.ram_size < (1ull << 20)) {
                fprintf(stderr, "rrvm: -m %s: not a valid RAM size (e.g. 256M, 1G; at least 1M)\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "-smp") == 0) {
            NEED_ARG();
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (strncmp(end, ",", 1) == 0)
                end += strlen(end); /* ignore topology suffixes */
            if (*end || n < 1 || n > MACHINE_MAX_HARTS) {
                fprintf(stderr, "rrvm: -smp %s: the number of harts must be 1 to %d\n", argv[i], MACHINE_MAX_HARTS);
                return 2;
            }
            o.cfg.nharts = (int)n;
        } else if (strcmp(a, "-icount") == 0) {
            NEED_ARG();
            if (!parse_icount(argv[++i], &o.cfg, err, sizeof err)) {
                fprintf(stderr, "rrvm: %s\n", err);
                return 2;
            }
        } else if (strcmp(a, "-rtc") == 0) {
            NEED_ARG();
            if (!parse_rtc(argv[++i], &o.cfg, err, sizeof err)) {
                fprintf(stderr, "rrvm: %s\n", err);
                return 2;
            }
        } else if (strcmp(a, "-bios") == 0) {
            NEED_ARG();
            bios_given = true;
            if (strcmp(argv[++i], "none") == 0)
                bios_none = true;
            else if (strcmp(argv[i], "default") != 0)
                o.image_path[IMG_BIOS] = argv[i];
        } else if (strcmp(a, "-kernel") == 0) {
            NEED_ARG();
            o.image_path[IMG_KERNEL] = argv[++i];
        } else if (strcmp(a, "-initrd") == 0) {
            NEED_ARG();
            o.image_path[IMG_INITRD] = argv[++i];
        } else if (strcmp(a, "-dtb") == 0) {
            NEED_ARG();
            o.image_path[IMG_DTB] = argv[++i];
        } else if (strcmp(a, "-append") == 0) {
            NEED_ARG();
            o.cfg.append = argv[++i];
        } else if (strcmp(a, "-nographic") == 0 || strcmp(a, "-display") == 0) {
            if (strcmp(a, "-display") == 0)
                i++;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "rrvm: unknown option '%s' (rrvm --help lists them)\n", a);
            return 2;
        }
    }
    (void)bios_given;
    if (o.go_live && !o.stop_at_set) {
        fprintf(stderr, "rrvm replay: --go-live needs --stop-at N (where to leave the recording)\n");
        return 2;
    }
    if (o.go_live_out && !o.go_live) {
        fprintf(stderr, "rrvm replay: -o is for --go-live (record what follows into a new recording)\n");
        return 2;
    }
    if (o.goto_count && (o.stop_at_set || o.go_live)) {
        fprintf(stderr, "rrvm replay: --goto does not combine with --stop-at or --go-live\n");
        return 2;
    }
    if (mode == SESSION_RECORD && !o.rr_path) {
        fprintf(stderr, "rrvm record: where to? use -o FILE.rr\n");
        return 2;
    }
    if (mode != SESSION_REPLAY && o.from_snapshot) {
        return session_main(&o); /* the snapshot holds the machine */
    }
    if (mode != SESSION_REPLAY) {
        if (!o.image_path[IMG_KERNEL] && !o.image_path[IMG_BIOS] && bios_none) {
            fprintf(stderr, "rrvm: nothing to run: give -kernel FILE (and/or -bios FILE)\n");
            return 2;
        }
        if (!bios_none && !o.image_path[IMG_BIOS])
            o.image_path[IMG_BIOS] = DEFAULT_BIOS;
        if (!o.image_path[IMG_KERNEL] && !o.image_path[IMG_BIOS]) {
            fprintf(stderr, "rrvm: nothing to run: give -kernel FILE\n");
            return 2;
        }
    }
    return session_main(&o);
}

static int cmd_machine(SessionMode mode, int argc, char **argv)
{
    TimeTravelArgs tt = { 0 };
    int status = machine_command(mode, argc, argv, &tt);
    free(tt.gotos);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cmd_machine(SESSION_RUN, argc - 2, argv + 2);
    if (strcmp(cmd, "record") == 0)
        return cmd_machine(SESSION_RECORD, argc - 2, argv + 2);
    if (strcmp(cmd, "replay") == 0)
        return cmd_machine(SESSION_REPLAY, argc - 2, argv + 2);
    if (strcmp(cmd, "info") == 0 || strcmp(cmd, "dump") == 0) {
        if (argc != 3) {
            fprintf(stderr, "usage: rrvm %s FILE.rr\n", cmd);
            return 2;
        }
        return strcmp(cmd, "info") == 0 ? rlog_print_info(argv[2], stdout, stderr)
                                         : rlog_print_dump(argv[2], stdout, stderr);
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "rrvm: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
