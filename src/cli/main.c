/*
 * main.c - the `rrvm` command line: run, record, replay, info, dump, pack, help.
 *
 * Machine options follow QEMU's spelling (-m, -smp, -M, -bios, -kernel,
 * -initrd, -append, -dtb, -icount shift=N, -rtc, -serial, -no-reboot) so
 * that command lines carry over; options QEMU users type by habit either
 * mean the same here (-nographic, -display none, -monitor none, -net none)
 * or are refused with the reason (-cpu, -enable-kvm, -accel). This file
 * only parses (the device options in args_devices.c, the shared parse
 * state in args.h); session.c does the work.
 *
 * Invariants: every option lives in one row of option_table (name, the
 * commands that take it, whether it defines the machine, its help text),
 * so per-command help and the parser cannot drift apart. Everything that
 * defines the machine ends up in MachineConfig (or the recording's header),
 * which a recording stores, so `rrvm replay` refuses machine options. Every
 * usage error is one line starting with `rrvm:` and exits with status 2.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/recordings.h"
#include "debug/server.h"
#include "host/hostnet.h"
#include "host/blockimg.h"
#include "host/chardev.h"
#include "host/hostsys.h"
#include "machine/cpu/jit.h"          /* JitMode */
#include "machine/dev/virtio_console.h" /* VCON_MAX_PORTS */
#include "machine/fdt.h"
#include "replay/log.h"
#include "replay/session.h"

#define DEFAULT_BIOS "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
#define DEFAULT_QUANTUM 10000
#define DEFAULT_SHIFT 0
#define STATUS_USAGE 2
/* The largest -m: 1 TiB. RAM is mapped lazily, so the limit is about what
 * the guest address map and the per-page bookkeeping (digests, dirty and
 * code maps) stay sensible for, not about the host. */
#define RAM_MAX (1ull << 40)
#define RAM_MIN (1ull << 20)
/* -seed without -rtc base=: the RTC starts here (2026-01-01T00:00:00Z), so
 * a seeded run reads no host input at all */
#define SEEDED_RTC_BASE_NS (1767225600ull * 1000000000ull)

#include "cli/args.h"

bool args_fail(Parse *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    return false;
}

/* --- value parsers --- */

/* A size as QEMU's -m takes it: a whole number with an optional suffix
 * k/K, m/M, g/G, t/T (optionally followed by B); a plain number is MiB. */
static bool parse_size(const char *s, uint64_t *out)
{
    static const struct { char c; unsigned shift; } units[] = {
        {'k', 10}, {'m', 20}, {'g', 30}, {'t', 40},
    };
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return false;
    unsigned shift = 20;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (*end == units[i].c || *end == units[i].c - 'a' + 'A') {
            shift = units[i].shift;
            end++;
            break;
        }
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || v > (UINT64_MAX >> shift))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

/* A decimal count with nothing else (no sign, no suffix). */
static bool parse_count(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
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

/* Splits "a,b=c,..." into tokens in buf; returns the count. */
int args_split_commas(const char *arg, char *buf, size_t buflen, char **tok, int maxtok)
{
    snprintf(buf, buflen, "%s", arg);
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t && n < maxtok; t = strtok_r(NULL, ",", &save))
        tok[n++] = t;
    return n;
}

/* --- machine options --- */

static bool opt_machine(Parse *p, const char *arg)
{
    char buf[512], *tok[16];
    int n = args_split_commas(arg, buf, sizeof buf, tok, 16);
    for (int i = 0; i < n; i++) {
        const char *t = tok[i];
        const char *type = strncmp(t, "type=", 5) == 0 ? t + 5 : (i == 0 && !strchr(t, '=')) ? t : NULL;
        if (type) {
            if (strcmp(type, "virt") == 0)
                p->o.cfg.board_virt = true;
            else if (strcmp(type, "bare") == 0)
                p->o.cfg.board_virt = false;
            else if (strcmp(type, "help") == 0 || strcmp(type, "?") == 0)
                return args_fail(p, "-machine: supported machines: virt (QEMU's virt layout, default), bare (minimal board)");
            else
                return args_fail(p, "-machine: unknown machine '%s' (virt or bare)", type);
        } else if (strncmp(t, "dumpdtb=", 8) == 0) {
            p->o.dump_dtb = arg + (t - buf) + 8; /* into argv: buf is local (and cut at commas) */
        } else if (strcmp(t, "aclint=off") == 0 || strcmp(t, "aia=none") == 0 || strcmp(t, "acpi=off") == 0 ||
                   strcmp(t, "usb=off") == 0 || strcmp(t, "graphics=off") == 0) {
            /* what rrvm's virt is anyway */
        } else if (strncmp(t, "aclint=", 7) == 0 || strncmp(t, "aia=", 4) == 0 || strncmp(t, "acpi=", 5) == 0) {
            return args_fail(p, "-machine %s: not supported (rrvm's virt has a CLINT and a PLIC, no ACLINT, AIA or ACPI)", t);
        } else if (strncmp(t, "accel=", 6) == 0) {
            return args_fail(p, "-machine %s: rrvm has no accelerators: it emulates every instruction to count it exactly", t);
        } else {
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)strcspn(t, "="), t);
            return args_fail(p, "-machine: unknown property '%s' (known: dumpdtb=FILE, aclint=off, aia=none, acpi=off)", key);
        }
    }
    return true;
}

static bool opt_memory(Parse *p, const char *arg)
{
    const char *v = strncmp(arg, "size=", 5) == 0 ? arg + 5 : arg;
    uint64_t size;
    if (!parse_size(v, &size))
        return args_fail(p, "-m %s: not a size (a number of MiB, or with a suffix k, M, G, T: 256M, 2G)", arg);
    if (size < RAM_MIN || size > RAM_MAX)
        return args_fail(p, "-m %s: RAM must be between 1 MiB and 1 TiB", arg);
    if (size % 4096)
        return args_fail(p, "-m %s: RAM must be a multiple of 4 KiB", arg);
    p->o.cfg.ram_size = size;
    return true;
}

/* -smp [cpus=]N[,sockets=S,cores=C,threads=T,maxcpus=M]. The topology is
 * checked for consistency but does not change the machine: harts are
 * numbered 0..N-1 and the device tree has no cpu-map, as on QEMU's virt
 * without those options. */
static bool opt_smp(Parse *p, const char *arg)
{
    static const char *const keys[] = {"cpus", "sockets", "cores", "threads", "maxcpus"};
    uint64_t val[5] = {0, 0, 0, 0, 0};
    char buf[256], *tok[8];
    int n = args_split_commas(arg, buf, sizeof buf, tok, 8);
    if (n == 0)
        return args_fail(p, "-smp: give the number of harts, 1 to %d", MACHINE_MAX_HARTS);
    for (int i = 0; i < n; i++) {
        int k = -1;
        const char *v = tok[i];
        if (i == 0 && !strchr(v, '='))
            k = 0;
        for (int j = 0; k < 0 && j < 5; j++) {
            size_t l = strlen(keys[j]);
            if (strncmp(v, keys[j], l) == 0 && v[l] == '=')
                k = j, v += l + 1;
        }
        if (k < 0)
            return args_fail(p, "-smp %s: unknown part '%s' (cpus=, sockets=, cores=, threads=, maxcpus=)", arg, tok[i]);
        if (!parse_count(v, &val[k]) || val[k] == 0)
            return args_fail(p, "-smp %s: %s must be a positive number; the number of harts is 1 to %d", arg, keys[k],
                        MACHINE_MAX_HARTS);
    }
    uint64_t topo = 1;
    bool has_topo = false;
    for (int j = 1; j <= 3; j++)
        if (val[j])
            topo *= val[j], has_topo = true;
    uint64_t cpus = val[0] ? val[0] : val[4] ? val[4] : has_topo ? topo : 1;
    uint64_t maxcpus = val[4] ? val[4] : cpus;
    if (maxcpus != cpus)
        return args_fail(p, "-smp %s: maxcpus (%" PRIu64 ") must equal cpus (%" PRIu64 "): rrvm has no CPU hotplug", arg,
                    maxcpus, cpus);
    if (has_topo && topo != cpus)
        return args_fail(p, "-smp %s: sockets * cores * threads = %" PRIu64 " does not match cpus = %" PRIu64, arg, topo,
                    cpus);
    if (cpus > MACHINE_MAX_HARTS)
        return args_fail(p, "-smp %s: the number of harts must be 1 to %d", arg, MACHINE_MAX_HARTS);
    p->o.cfg.nharts = (int)cpus;
    return true;
}

static bool opt_icount(Parse *p, const char *arg)
{
    char buf[512], *tok[16];
    int n = args_split_commas(arg, buf, sizeof buf, tok, 16);
    const char *rr = NULL, *rrfile = "FILE.rr";
    for (int i = 0; i < n; i++) {
        if (strncmp(tok[i], "rr=", 3) == 0)
            rr = tok[i] + 3;
        else if (strncmp(tok[i], "rrfile=", 7) == 0)
            rrfile = tok[i] + 7;
    }
    if (rr && strcmp(rr, "record") == 0)
        return args_fail(p, "-icount rr=record: rrvm records with its own command; use: rrvm record -o %s [machine options]",
                    rrfile);
    if (rr && strcmp(rr, "replay") == 0)
        return args_fail(p, "-icount rr=replay: rrvm replays with its own command; use: rrvm replay %s", rrfile);
    for (int i = 0; i < n; i++) {
        const char *t = tok[i];
        if (strcmp(t, "rr=off") == 0 || strncmp(t, "rrfile=", 7) == 0 || strcmp(t, "sleep=on") == 0 ||
            strcmp(t, "sleep=off") == 0 || strcmp(t, "align=off") == 0)
            continue; /* what rrvm does anyway */
        const char *v = strncmp(t, "shift=", 6) == 0 ? t + 6 : t;
        uint64_t shift;
        if (!parse_count(v, &shift) || shift > 10)
            return args_fail(p, "-icount: '%s' is not supported (use shift=N with N from 0 to 10; "
                           "rrvm's virtual time is always exact, there is no 'auto')", t);
        p->o.cfg.icount_shift = (int)shift;
    }
    return true;
}

static bool opt_rtc(Parse *p, const char *arg)
{
    char buf[512], *tok[16];
    int n = args_split_commas(arg, buf, sizeof buf, tok, 16);
    for (int i = 0; i < n; i++) {
        const char *t = tok[i];
        if (strncmp(t, "base=", 5) == 0) {
            const char *v = t + 5;
            p->rtc_base_given = true;
            if (strcmp(v, "utc") == 0 || strcmp(v, "localtime") == 0)
                p->o.cfg.rtc_base_ns = host_wallclock_ns(); /* stored in the recording's config */
            else if (!parse_datetime(v, &p->o.cfg.rtc_base_ns))
                return args_fail(p, "-rtc: bad base '%s' (use utc or YYYY-MM-DDTHH:MM:SS)", v);
        } else if (strcmp(t, "clock=vm") == 0) {
            p->o.cfg.rtc_clock_host = false;
        } else if (strcmp(t, "clock=host") == 0 || strcmp(t, "clock=rt") == 0) {
            p->o.cfg.rtc_clock_host = true;
        } else if (strncmp(t, "driftfix=", 9) == 0) {
            /* accepted for QEMU compatibility; nothing to fix with virtual time */
        } else {
            return args_fail(p, "-rtc: unknown option '%s'", t);
        }
    }
    return true;
}

static bool opt_bios(Parse *p, const char *arg)
{
    p->bios_none = strcmp(arg, "none") == 0;
    p->o.image_path[IMG_BIOS] = p->bios_none || strcmp(arg, "default") == 0 ? NULL : arg;
    return true;
}

static bool opt_kernel(Parse *p, const char *arg) { p->o.image_path[IMG_KERNEL] = arg; return true; }
static bool opt_initrd(Parse *p, const char *arg) { p->o.image_path[IMG_INITRD] = arg; return true; }
static bool opt_dtb(Parse *p, const char *arg) { p->o.image_path[IMG_DTB] = arg; return true; }
static bool opt_append(Parse *p, const char *arg)
{
    size_t n = strlen(arg);
    if (n > DEVTREE_MAX_BOOTARGS)
        return args_fail(p, "-append: the kernel command line is %zu bytes, longer than the limit of %d "
                       "(Linux on RISC-V reads at most %d)", n, DEVTREE_MAX_BOOTARGS, DEVTREE_LINUX_BOOTARGS);
    p->o.cfg.append = (char *)arg;
    return true;
}
static bool opt_no_reboot(Parse *p, const char *arg) { (void)arg; p->o.no_reboot = true; return true; }

static bool opt_seed(Parse *p, const char *arg)
{
    char *end;
    errno = 0;
    p->o.seed = strtoull(arg, &end, 0);
    if (errno || end == arg || *end || arg[0] == '-')
        return args_fail(p, "-seed %s: takes a number", arg);
    p->o.seed_set = true;
    return true;
}

/* --- habits from QEMU: the same meaning here, or a reason why not --- */

static bool opt_noop(Parse *p, const char *arg) { (void)p, (void)arg; return true; }

static bool opt_display(Parse *p, const char *arg)
{
    if (strcmp(arg, "none") == 0 || strncmp(arg, "none,", 5) == 0)
        return true;
    return args_fail(p, "-display %s: rrvm has no display; its console is the serial port on stdio "
                   "(-display none and -nographic are accepted)", arg);
}

static bool opt_monitor(Parse *p, const char *arg)
{
    if (strcmp(arg, "none") == 0)
        return true;
    if (strcmp(arg, "stdio") == 0) {
        p->dbg.monitor_stdio = true;
        return true;
    }
    return args_fail(p, "-monitor %s: rrvm's human monitor is on stdio (-monitor stdio, or -serial mon:stdio and "
                   "Ctrl-A c); for a socket use QMP: -qmp unix:PATH,server=on,wait=off", arg);
}

static bool opt_net(Parse *p, const char *arg)
{
    if (strcmp(arg, "none") == 0)
        return true;
    return args_fail(p, "-net %s: the legacy -net syntax is not supported; use -nic user[,...] or "
                "-netdev user,id=ID -device virtio-net-device,netdev=ID", arg);
}

static bool opt_cpu(Parse *p, const char *arg)
{
    return args_fail(p, "-cpu %s: rrvm emulates one CPU, RV64GC (rv64imafdc with Sv39/Sv48), with exact "
                   "instruction counting; there is no CPU model to choose", arg);
}

static bool opt_accel(Parse *p, const char *arg)
{
    if (arg && (strcmp(arg, "tcg") == 0 || strncmp(arg, "tcg,", 4) == 0))
        return true; /* an emulator is what rrvm is */
    return args_fail(p, "%s%s%s: rrvm cannot use hardware acceleration: record/replay needs every instruction "
                   "emulated and counted exactly", arg ? "-accel " : "-enable-kvm", arg ? arg : "", "");
}

/* --- session options --- */

static bool opt_chardev(Parse *p, const char *arg)
{
    ChardevSpec spec;
    if (!chardev_parse(arg, &spec, p->err, sizeof p->err))
        return false;
    if (p->o.nchardevs == SESSION_MAX_CHARDEVS)
        return args_fail(p, "-chardev %s: at most %d chardevs", arg, SESSION_MAX_CHARDEVS);
    for (int i = 0; i < p->o.nchardevs; i++)
        if (strcmp(p->chardev_ids[i], spec.id) == 0)
            return args_fail(p, "-chardev %s: duplicate id '%s'", arg, spec.id);
    snprintf(p->chardev_ids[p->o.nchardevs], CHARDEV_ID_MAX, "%s", spec.id);
    p->o.chardev[p->o.nchardevs++] = arg;
    return true;
}

static bool opt_allow_remote_chardev(Parse *p, const char *arg)
{
    (void)arg;
    p->o.allow_remote_chardev = true;
    return true;
}

static bool opt_serial(Parse *p, const char *arg)
{
    if (strncmp(arg, "chardev:", 8) == 0) {
        if (p->cmd == C_REPLAY)
            return args_fail(p, "-serial %s: in a replay, redirect the UART's output with -chardev ...,id=ID "
                           "(the id it was recorded with)", arg);
        if (!arg[8])
            return args_fail(p, "-serial chardev:ID: give the id of a -chardev");
        snprintf(p->port_ids[0], CHARDEV_ID_MAX, "%s", arg + 8);
        p->o.port_chardev[0] = p->port_ids[0];
        return true;
    }
    if (strncmp(arg, "mon:", 4) == 0) {
        if (strcmp(arg + 4, "stdio") != 0)
            return args_fail(p, "-serial %s: the monitor can share only stdio (-serial mon:stdio)", arg);
        p->dbg.monitor_mux = true;
        arg += 4;
    }
    p->o.serial = arg;
    return true;
}

static bool opt_digest(Parse *p, const char *arg) { (void)arg; p->o.print_digest = true; return true; }
static bool opt_stats(Parse *p, const char *arg) { (void)arg; p->o.print_stats = true; return true; }
static bool opt_quiet(Parse *p, const char *arg) { (void)arg; p->o.quiet = true; return true; }
static bool opt_dump_dtb(Parse *p, const char *arg) { p->o.dump_dtb = arg; return true; }
/* -o: record's output; in a replay, where --go-live records what follows */
static bool opt_output(Parse *p, const char *arg)
{
    if (p->cmd == C_REPLAY)
        p->o.go_live_out = arg;
    else
        p->o.rr_path = arg;
    return true;
}
static bool opt_force(Parse *p, const char *arg) { (void)arg; p->o.force = true; return true; }
static bool opt_pack(Parse *p, const char *arg) { (void)arg; p->o.pack = true; return true; }

static bool opt_image_dir(Parse *p, const char *arg)
{
    struct stat st;
    if (stat(arg, &st) != 0)
        return args_fail(p, "--image-dir %s: %s", arg, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return args_fail(p, "--image-dir %s: not a directory", arg);
    p->o.image_dir = arg;
    return true;
}

static bool opt_on_divergence(Parse *p, const char *arg)
{
    if (strcmp(arg, "continue") == 0)
        p->o.on_divergence_continue = true;
    else if (strcmp(arg, "stop") == 0)
        p->o.on_divergence_continue = false;
    else
        return args_fail(p, "--on-divergence=%s: takes stop or continue", arg);
    return true;
}

/* --jit: the execution engine. Not part of a recording: a recording made
 * with any engine replays with any other. */
static bool parse_jit_mode(const char *arg, int *mode)
{
    static const char *const names[] = {[JIT_MODE_OFF] = "off", [JIT_MODE_ON] = "on", [JIT_MODE_CHECK] = "check"};
    for (int i = 0; i < 3; i++)
        if (strcmp(arg, names[i]) == 0) {
            *mode = i;
            return true;
        }
    return false;
}

static bool opt_jit(Parse *p, const char *arg)
{
    if (!parse_jit_mode(arg, &p->o.jit_mode))
        return args_fail(p, "--jit=%s: takes on, off or check", arg);
    return true;
}

static bool opt_no_jit(Parse *p, const char *arg) { (void)arg; p->o.jit_mode = JIT_MODE_OFF; return true; }

static bool opt_checkpoint_interval(Parse *p, const char *arg)
{
    if (!parse_count(arg, &p->o.checkpoint_interval) || p->o.checkpoint_interval == 0)
        return args_fail(p, "--checkpoint-interval %s: takes a positive instruction count, e.g. 10000000", arg);
    return true;
}

static bool opt_checkpoint_max_interval(Parse *p, const char *arg)
{
    if (!parse_count(arg, &p->o.checkpoint_max_interval) || p->o.checkpoint_max_interval == 0)
        return args_fail(p, "--checkpoint-max-interval %s: takes a positive instruction count, e.g. 100000000", arg);
    return true;
}

static bool opt_full_checkpoint_interval(Parse *p, const char *arg)
{
    if (!parse_count(arg, &p->o.full_checkpoint_interval) || p->o.full_checkpoint_interval == 0)
        return args_fail(p, "--full-checkpoint-interval %s: takes a positive instruction count, e.g. 1000000000", arg);
    return true;
}

/* `rrvm info` prints "verify strict" or "verify lenient"; both read back */
static bool opt_verify(Parse *p, const char *arg)
{
    if (strcmp(arg, "strict") == 0)
        p->o.verify_strict = true;
    else if (strcmp(arg, "lenient") == 0 || strcmp(arg, "normal") == 0)
        p->o.verify_strict = false;
    else
        return args_fail(p, "--verify=%s: takes strict (a checkpoint after every input event) or lenient", arg);
    return true;
}

static bool opt_test_perturb(Parse *p, const char *arg)
{
    /* test only: ICOUNT:WHAT, e.g. 5000000:x5 or 5000000:ram:0x80100000 */
    char *end;
    p->o.perturb_icount = strtoull(arg, &end, 0);
    if (*end != ':')
        return args_fail(p, "--test-perturb=ICOUNT:WHAT");
    p->o.perturb_what = end + 1;
    return true;
}

/* --- time travel and snapshots --- */

static bool parse_icount_arg(Parse *p, const char *opt, const char *v, uint64_t *out)
{
    if (!parse_count(v, out))
        return args_fail(p, "%s takes an instruction count, not '%s'", opt, v);
    return true;
}

static bool opt_stop_at(Parse *p, const char *arg)
{
    p->o.stop_at_set = true;
    return parse_icount_arg(p, "--stop-at", arg, &p->o.stop_at);
}

static bool opt_goto(Parse *p, const char *arg)
{
    size_t n = 1;
    for (const char *c = arg; *c; c++)
        n += *c == ',';
    free(p->gotos);
    p->gotos = calloc(n, sizeof *p->gotos);
    char *copy = strdup(arg);
    if (!p->gotos || !copy) {
        free(copy);
        return args_fail(p, "out of memory");
    }
    size_t k = 0;
    bool ok = true;
    for (char *tok = strtok(copy, ","); tok && ok; tok = strtok(NULL, ","))
        ok = parse_icount_arg(p, "--goto", tok, &p->gotos[k++]);
    free(copy);
    if (ok && k == 0)
        ok = args_fail(p, "--goto takes a list of instruction counts, e.g. 1000,500,2000");
    p->o.goto_list = p->gotos;
    p->o.goto_count = k;
    p->o.time_travel = true;
    return ok;
}

static bool opt_goto_timing(Parse *p, const char *arg) { (void)arg; p->o.goto_timing = true; return true; }
static bool opt_snapshot_out(Parse *p, const char *arg) { p->o.snapshot_out = arg; return true; }
static bool opt_snapshot_dir(Parse *p, const char *arg) { p->o.snapshot_dir = arg; return true; }
static bool opt_from_snapshot(Parse *p, const char *arg) { p->o.from_snapshot = arg; return true; }
static bool opt_go_live(Parse *p, const char *arg) { (void)arg; p->o.go_live = true; return true; }

static bool opt_checkpoint_memory(Parse *p, const char *arg)
{
    if (!parse_size(arg, &p->o.checkpoint_memory))
        return args_fail(p, "--checkpoint-memory %s: not a size (e.g. 512M, 2G)", arg);
    return true;
}

/* --- debugging --- */

static bool opt_gdb_default(Parse *p, const char *arg) { (void)arg; p->dbg.gdb = "tcp:127.0.0.1:1234"; return true; }
static bool opt_gdb(Parse *p, const char *arg)
{
    if (strncmp(arg, "tcp:", 4) != 0 && strncmp(arg, "unix:", 5) != 0)
        return args_fail(p, "-gdb %s: takes tcp:HOST:PORT or unix:PATH", arg);
    p->dbg.gdb = arg;
    return true;
}
static bool opt_wait_gdb(Parse *p, const char *arg) { (void)arg; p->dbg.wait = true; return true; }
static bool opt_allow_remote(Parse *p, const char *arg) { (void)arg; p->dbg.allow_remote = true; return true; }
static bool opt_launch_gdb(Parse *p, const char *arg) { (void)arg; p->dbg.launch_gdb = true; return true; }
static bool opt_symbols(Parse *p, const char *arg) { p->dbg.symbols = arg; return true; }
static bool opt_qmp(Parse *p, const char *arg)
{
    if (p->dbg.nqmp == SERVER_MAX_QMP)
        return args_fail(p, "-qmp %s: at most %d QMP sockets", arg, SERVER_MAX_QMP);
    if (strncmp(arg, "tcp:", 4) != 0 && strncmp(arg, "unix:", 5) != 0)
        return args_fail(p, "-qmp %s: takes unix:PATH,server=on,wait=off or tcp:HOST:PORT,server=on,wait=off", arg);
    p->dbg.qmp[p->dbg.nqmp++] = arg;
    return true;
}
static bool opt_allow_remote_monitor(Parse *p, const char *arg)
{
    (void)arg;
    p->dbg.allow_remote_monitor = true;
    return true;
}

static const OptDef option_table[] = {
    /* machine */
    {"-M", "virt|bare[,PROP=V]", C_ALL, true, opt_machine,
     "board: QEMU virt layout (default) or minimal bare-metal board;\n"
     "properties: dumpdtb=FILE, aclint=off, aia=none, acpi=off"},
    {"-machine", "virt|bare[,PROP=V]", C_ALL, true, opt_machine, NULL},
    {"-m", "SIZE", C_ALL, true, opt_memory,
     "RAM size: MiB, or with a suffix k, M, G, T (default 256M, 1M to 1T)"},
    {"-smp", "[cpus=]N[,sockets=..]", C_ALL, true, opt_smp,
     "harts, 1-8 (default 1); sockets*cores*threads must equal N"},
    {"-icount", "shift=N", C_ALL, true, opt_icount, "one instruction = 2^N ns of virtual time (default 0)"},
    {"-bios", "FILE|none", C_ALL, true, opt_bios, "firmware at 0x80000000 (default: Debian's OpenSBI fw_dynamic.bin)"},
    {"-kernel", "FILE", C_ALL, true, opt_kernel, "kernel Image or ELF; with -bios none an ELF started in M-mode"},
    {"-initrd", "FILE", C_ALL, true, opt_initrd, "initial ramdisk"},
    {"-append", "STRING", C_ALL, true, opt_append, "kernel command line"},
    {"-dtb", "FILE", C_ALL, true, opt_dtb, "use this device tree instead of the generated one"},
    {"-rtc", "base=utc|DATETIME[,clock=vm|host]", C_ALL, true, opt_rtc,
     "RTC start (default utc, i.e. now; with -seed 2026-01-01) and clock\n"
     "source (vm: from virtual time, default; host: read the wall clock)"},
    {"-seed", "N", C_ALL, true, opt_seed,
     "no host input in a plain run: the guest's random bytes come from a\n"
     "PRNG seeded with N, and the RTC starts at a fixed date (unless -rtc base=)"},
    {"-no-reboot", NULL, C_ALL, true, opt_no_reboot, "a guest reset ends the run (exit status 0), as in QEMU"},
    /* QEMU habits */
    {"-nographic", NULL, C_ALL, false, opt_noop, "accepted: rrvm's console is always the serial port"},
    {"-display", "none", C_ALL, false, opt_display, "accepted: rrvm has no display"},
    {"-monitor", "stdio|none", C_ALL, false, opt_monitor,
     "the human monitor (HMP) on the terminal: info, x, stop, cont, replay_break,\n"
     "replay_seek, savevm, loadvm, ... (give the console -serial none or file:PATH)"},
    {"-device", "NAME[,PROP=V...]", C_ALL, true, opt_device,
     "a virtio device in the next free virtio-mmio slot (the first takes the\n"
     "highest, as QEMU): virtio-rng-device[,rng=ID], virtio-blk-device,drive=ID,\n"
     "virtio-net-device,netdev=ID[,mac=M], virtio-serial-device;\n"
     "virtconsole[,chardev=ID][,name=N] adds a console port to the last\n"
     "virtio-serial-device (the first is hvc0; up to 7)"},
    {"-drive", "file=IMG[,format=raw|qcow2][,if=virtio|none][,id=ID][,readonly=on][,snapshot=on][,overlay=FILE]",
     C_ALL, true, opt_drive,
     "a disk (virtio-blk): if=virtio (default here; QEMU's default is ide) adds the\n"
     "device at once, if=none waits for -device virtio-blk-device,drive=ID. The image\n"
     "is never written: writes go to an overlay in the machine state (snapshot=on is\n"
     "always so); overlay=FILE starts from FILE if it exists and saves the final one there"},
    {"-object", "rng-random,id=ID[,filename=/dev/urandom]", C_ALL, true, opt_object,
     "an entropy source for -device virtio-rng-device,rng=ID (bytes are logged)"},
    {"-netdev", "user|socket|tap,id=ID[,...]", C_LIVE, false, opt_netdev,
     "a network backend: user (libslirp: 10.0.2.0/24, host 10.0.2.2;\n"
     "hostfwd=tcp:127.0.0.1:HPORT-:GPORT, restrict=on, net=, host=, dns=) or\n"
     "socket (listen=|connect=|udp=[ADDR]:PORT) or tap (ifname=, script=no);\n"
     "replay opens none"},
    {"-nic", "user|socket[,...][,mac=M]|none", C_ALL, true, opt_nic,
     "a virtio-net-device with its -netdev in one option"},
    {"-net", "none", C_ALL, true, opt_net, NULL},
    {"--net-dump", "FILE.pcap", C_ALL, false, opt_net_dump,
     "write every frame in and out of the guest's network cards to a pcap file\n"
     "(timestamps are virtual time: a replay writes the recording's file)"},
    {"--allow-remote-net", NULL, C_LIVE, false, opt_allow_remote_net,
     "let hostfwd= and -netdev socket listen on a non-loopback address"},
    {"-cpu", "MODEL", C_ALL, true, opt_cpu, NULL},
    {"-enable-kvm", NULL, C_ALL, true, opt_accel, NULL},
    {"-accel", "ACCEL", C_ALL, true, opt_accel, NULL},
    /* session */
    {"-serial", "stdio|none|file:PATH|chardev:ID", C_ALL, false, opt_serial,
     "console backend (default stdio; Ctrl-A x quits, Ctrl-A b sends a break,\n"
     "Ctrl-A h helps); mon:stdio shares the terminal with the monitor (Ctrl-A c)"},
    {"-chardev", "KIND,id=ID[,PROP=V...]", C_ALL, false, opt_chardev,
     "a host character device, as QEMU's: null, stdio, file,path=F[,append=on],\n"
     "pipe,path=P (P.in/P.out, or P), socket,path=S|host=H,port=N[,server=on|off,\n"
     "wait=on|off], pty (its path is printed). Replay opens no input: there it only\n"
     "redirects the output of the port recorded on chardev ID"},
    {"--allow-remote-chardev", NULL, C_LIVE, false, opt_allow_remote_chardev,
     "let a socket chardev use a non-loopback host (anyone there can type into the guest)"},
    {"-o", "FILE.rr", C_RECORD | C_REPLAY, false, opt_output,
     "where to write the recording (default: $RRVM_DIR or ~/.local/share/rrvm/NAME-N.rr, with a\n"
     "'latest' link); an existing file is not replaced without --force"},
    {"--force", NULL, C_RECORD, false, opt_force, "replace an existing recording once the new one is complete"},
    {"--pack", NULL, C_RECORD, false, opt_pack, "embed the images in the recording (see rrvm pack)"},
    {"--checkpoint-interval", "N", C_RECORD, false, opt_checkpoint_interval,
     "checkpoint spacing after an input (default 10000000); given alone: every checkpoint\n"
     "full and exactly N apart"},
    {"--checkpoint-max-interval", "N", C_RECORD, false, opt_checkpoint_max_interval,
     "checkpoint spacing while no input arrives, doubling up to N (default 100000000)"},
    {"--full-checkpoint-interval", "N", C_RECORD, false, opt_full_checkpoint_interval,
     "a full checkpoint (registers, devices, pages) this often, digests between (default 5*10^9)"},
    {"--verify", "strict|lenient", C_RECORD, false, opt_verify,
     "strict: a checkpoint after every input event too (default lenient)"},
    {"--image-dir", "DIR", C_REPLAY, false, opt_image_dir, "look for the recording's images here first"},
    {"--on-divergence", "stop|continue", C_REPLAY, false, opt_on_divergence,
     "after a checkpoint mismatch: stop (default) or report and go on"},
    {"--stop-at", "N", C_ALL, false, opt_stop_at, "stop at icount N (replay: before the input events due there)"},
    {"--snapshot-out", "S.snap", C_ALL, false, opt_snapshot_out, "write a snapshot at --stop-at, or at the end"},
    {"-loadvm", "S.snap", C_LIVE, false, opt_from_snapshot,
     "continue from a snapshot (it holds the machine: no machine options)"},
    {"--from", "S.snap", C_RECORD | C_REPLAY, false, opt_from_snapshot,
     "record: start from a snapshot; replay: start at a snapshot taken from\nthis recording"},
    {"--goto", "N1,N2,...", C_REPLAY, false, opt_goto,
     "visit these icounts in order (backwards too); print 'icount N digest H'"},
    {"--goto-timing", NULL, C_REPLAY, false, opt_goto_timing, NULL},
    {"--checkpoint-memory", "SIZE", C_REPLAY, false, opt_checkpoint_memory,
     "memory for in-memory checkpoints (default min(1/8 of RAM, 2G))"},
    {"--snapshot-dir", "DIR", C_REPLAY, false, opt_snapshot_dir,
     "where to find the snapshot a recording starts from"},
    {"--go-live", NULL, C_REPLAY, false, opt_go_live,
     "after --stop-at N, continue live (host input connected); with -o G.rr\nrecord what follows"},
    {"--test-perturb", "ICOUNT:WHAT", C_REPLAY, false, opt_test_perturb, NULL},
    /* debugging */
    {"-s", NULL, C_ALL, false, opt_gdb_default, "gdb stub on tcp:127.0.0.1:1234 (as -gdb tcp:127.0.0.1:1234)"},
    {"-gdb", "tcp:HOST:PORT|unix:PATH", C_ALL, false, opt_gdb,
     "gdb stub (harts are threads; replay: reverse-stepi, reverse-continue)"},
    {"-S", NULL, C_ALL, false, opt_wait_gdb, "start stopped: wait for gdb or a monitor to continue"},
    {"-qmp", "unix:PATH|tcp:HOST:PORT,server=on,wait=off", C_ALL, false, opt_qmp,
     "QMP monitor socket (QEMU's protocol; several allowed): replay-break,\n"
     "replay-seek, query-replay, stop, cont, human-monitor-command, ..."},
    {"--allow-remote-monitor", NULL, C_ALL, false, opt_allow_remote_monitor,
     "let -qmp listen on a non-loopback address (anyone there controls the machine)"},
    {"--allow-remote-debug", NULL, C_ALL, false, opt_allow_remote,
     "let -gdb listen on a non-loopback address (anyone there can read and write the guest)"},
    {"--gdb", NULL, C_REPLAY, false, opt_launch_gdb, "start gdb-multiarch attached to the replay (as rr replay)"},
    {"--symbols", "FILE", C_REPLAY, false, opt_symbols, "with --gdb: the ELF (vmlinux) gdb takes symbols from"},
    {"--dump-dtb", "FILE", C_ALL, false, opt_dump_dtb, "write the device tree the guest gets"},
    {"--digest", NULL, C_ALL, false, opt_digest, "print 'digest: <hex>' of the final machine state on stderr"},
    {"--stats", NULL, C_ALL, false, opt_stats, "print instruction count, virtual/wall time, speed on stderr"},
    {"--quiet", NULL, C_ALL, false, opt_quiet, "no progress bar during a replay"},
    {"--jit", "on|off|check", C_ALL, false, opt_jit,
     "execution engine: compile hot code for the host (on, the default where the host\n"
     "is x86-64), interpret only (off), or compile everything and check each block\n"
     "against the interpreter (check: slow; stops with status 125 at a difference).\n"
     "$RRVM_JIT sets the default. Recordings do not depend on it"},
    {"--no-jit", NULL, C_ALL, false, opt_no_jit, "the same as --jit=off"},
};
#define NOPTIONS (sizeof option_table / sizeof option_table[0])

typedef struct CmdDef {
    const char *name;
    unsigned bit; /* C_* for the commands that take options, else 0 */
    const char *synopsis;
    const char *summary;
} CmdDef;

static const CmdDef command_table[] = {
    {"run", C_RUN, "rrvm run [options]", "run a guest (no recording)"},
    {"record", C_RECORD, "rrvm record [-o FILE.rr] [options]", "run a guest and record its inputs"},
    {"replay", C_REPLAY, "rrvm replay [FILE.rr] [options]",
     "re-execute a recording (default: the latest); the recording holds the machine configuration"},
    {"info", 0, "rrvm info [FILE.rr]", "configuration, images, events by source, sizes, status"},
    {"dump", 0, "rrvm dump [FILE.rr] [--kind K[,K]] [--from ICOUNT] [--to ICOUNT] [--no-idle]",
     "one line per event: icount, virtual time, kind, payload"},
    {"pack", 0, "rrvm pack [FILE.rr] [--image-dir DIR]",
     "embed the recording's images in it, so the one file replays anywhere"},
    {"help", 0, "rrvm help [COMMAND]", "this text, or a command's options"},
};
#define NCOMMANDS (sizeof command_table / sizeof command_table[0])

static const CmdDef *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(command_table[i].name, name) == 0)
            return &command_table[i];
    return NULL;
}

#define HELP_WIDTH 80
#define HELP_COLUMN 27 /* where help text starts */

/* Prints `left` and then `text` word-wrapped into the help column. */
static void print_wrapped(FILE *f, const char *left, const char *text)
{
    int col = fprintf(f, "  %s", left);
    if (col > HELP_COLUMN - 1) {
        fputc('\n', f);
        col = 0;
    }
    bool line_start = true;
    for (const char *w = text; *w;) {
        w += strspn(w, " \n");
        size_t n = strcspn(w, " \n");
        if (n == 0)
            break;
        if (!line_start && col + 1 + (int)n > HELP_WIDTH) {
            fputc('\n', f);
            col = 0;
            line_start = true;
        }
        if (line_start) {
            col += fprintf(f, "%*s", HELP_COLUMN - col, "");
            line_start = false;
        } else {
            fputc(' ', f);
            col++;
        }
        col += fprintf(f, "%.*s", (int)n, w);
        w += n;
    }
    fputc('\n', f);
}

static void print_option(FILE *f, const OptDef *d)
{
    char left[64];
    snprintf(left, sizeof left, "%s%s%s", d->name, d->arg ? (d->name[1] == '-' ? "=" : " ") : "",
             d->arg ? d->arg : "");
    print_wrapped(f, left, d->help);
}

static void command_usage(FILE *f, const CmdDef *c)
{
    fprintf(f, "usage: %s\n%s\n", c->synopsis, c->summary);
    if (!c->bit)
        return;
    for (int machine = 1; machine >= 0; machine--) {
        if (c->bit == C_REPLAY && machine)
            continue;
        fprintf(f, "\n%s:\n", machine ? "machine options (as QEMU's)" : "options");
        for (size_t i = 0; i < NOPTIONS; i++) {
            const OptDef *d = &option_table[i];
            bool group = d->machine || d->fn == opt_noop || d->fn == opt_display || d->fn == opt_monitor;
            if (d->help && (d->cmds & c->bit) && group == (bool)machine &&
                !(c->bit == C_REPLAY && d->machine))
                print_option(f, d);
        }
    }
    if (c->bit == C_REPLAY)
        fprintf(f, "\nMachine options are not accepted: the recording holds the machine configuration.\n");
}

static void usage(FILE *f)
{
    fputs("usage: rrvm COMMAND [options]\n"
          "(rrvm help COMMAND or rrvm COMMAND --help lists a command's options)\n\n", f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        print_wrapped(f, command_table[i].synopsis, command_table[i].summary);
    fputs("\nExit status: the guest's; 2 bad usage, recording or image; 3 replay diverged;\n"
          "4 recording cut short. rrvm --version prints the version.\n", f);
}

/* Finds the row for `a`; QEMU takes -opt and --opt alike, and options
 * with an argument also as --opt=VALUE. *inline_arg is set for that form. */
static const OptDef *find_option(const char *a, const char **inline_arg)
{
    *inline_arg = NULL;
    char name[64];
    size_t n = strcspn(a, "=");
    if (n >= sizeof name)
        return NULL;
    snprintf(name, sizeof name, "%.*s", (int)n, a);
    for (int pass = 0; pass < 2; pass++) {
        /* pass 1: the other number of dashes */
        const char *want = name;
        char alt[66];
        if (pass == 1) {
            if (name[0] != '-')
                return NULL;
            if (name[1] == '-')
                want = name + 1;
            else
                snprintf(alt, sizeof alt, "-%s", name), want = alt;
        }
        for (size_t i = 0; i < NOPTIONS; i++) {
            if (strcmp(option_table[i].name, want) != 0)
                continue;
            if (a[n] == '=') {
                if (!option_table[i].arg)
                    return NULL;
                *inline_arg = a + n + 1;
            }
            return &option_table[i];
        }
    }
    return NULL;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("rrvm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return STATUS_USAGE;
}

static const char *cmd_name(unsigned bit)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (command_table[i].bit == bit)
            return command_table[i].name;
    return "?";
}

/* "rrvm run and rrvm record", from the command table; buf holds it */
static const char *commands_of(unsigned cmds, char *buf, size_t cap)
{
    size_t off = 0;
    int n = 0, total = 0;
    for (size_t i = 0; i < NCOMMANDS; i++)
        total += command_table[i].bit && (cmds & command_table[i].bit);
    buf[0] = 0;
    for (size_t i = 0; i < NCOMMANDS && off < cap; i++) {
        if (!command_table[i].bit || !(cmds & command_table[i].bit))
            continue;
        const char *sep = n == 0 ? "" : n == total - 1 ? " and " : ", ";
        off += (size_t)snprintf(buf + off, cap - off, "%srrvm %s", sep, command_table[i].name);
        n++;
    }
    return buf;
}

static bool is_help(const char *a) { return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "-help") == 0; }

/* Parses argv (after the command name) into p->o; returns -1 to go on, or
 * the exit status. */
static int parse_args(Parse *p, const CmdDef *c, int argc, char **argv)
{
    int i = 0;
    for (int k = 0; k < argc; k++) {
        if (is_help(argv[k])) {
            command_usage(stdout, c);
            return 0;
        }
    }
    if (p->cmd == C_REPLAY) {
        /* no file: the latest recording of the default directory */
        char err[4600];
        if (!recordings_resolve(argc >= 1 && argv[0][0] != '-' ? argv[i++] : NULL, p->rr_path_buf,
                                sizeof p->rr_path_buf, err, sizeof err))
            return usage_error("replay: %s", err);
        p->o.rr_path = p->rr_path_buf;
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == 0) {
            if (p->cmd == C_REPLAY)
                return usage_error("replay: one recording at a time ('%s' is a second file after '%s')", a,
                                   p->o.rr_path);
            return usage_error("%s: unexpected argument '%s' (options start with '-'; rrvm %s --help lists them)",
                               cmd_name(p->cmd), a, cmd_name(p->cmd));
        }
        const char *arg;
        const OptDef *d = find_option(a, &arg);
        if (!d)
            return usage_error("%s: unknown option %s (rrvm %s --help lists them)", cmd_name(p->cmd), a,
                               cmd_name(p->cmd));
        if (p->cmd == C_REPLAY && d->machine)
            return usage_error("replay: option %s is not accepted: the recording holds the machine configuration", a);
        char cmds[64];
        if (!(d->cmds & p->cmd))
            return usage_error("%s: option %s is for %s", cmd_name(p->cmd), d->name,
                               commands_of(d->cmds, cmds, sizeof cmds));
        if (d->arg && !arg) {
            if (i + 1 >= argc)
                return usage_error("option %s needs an argument (%s)", a, d->arg);
            arg = argv[++i];
        }
        if (!d->fn(p, arg))
            return usage_error("%s", p->err);
    }
    return -1;
}

/* Every virtio-serial-device has a port; every port's chardev exists and
 * serves that port alone. -1: fine; else the exit status. */
static int check_console_ports(Parse *p)
{
    const MachineConfig *c = &p->o.cfg;
    for (int i = 0; i < c->ndevices; i++)
        if (c->devices[i].kind == MDEV_VIRTIO_CONSOLE && c->devices[i].nports == 0)
            return usage_error("-device virtio-serial-device: no port; add -device virtconsole,chardev=ID after it");
    for (int k = 0; k <= p->nports; k++) {
        const char *id = p->o.port_chardev[k];
        if (!id)
            continue;
        bool known = false;
        for (int i = 0; i < p->o.nchardevs; i++)
            known |= strcmp(p->chardev_ids[i], id) == 0;
        if (!known)
            return usage_error("%s%s: no -chardev with id=%s", k ? "-device virtconsole,chardev=" : "-serial chardev:", id, id);
        for (int j = 0; j < k; j++)
            if (p->o.port_chardev[j] && strcmp(p->o.port_chardev[j], id) == 0)
                return usage_error("chardev '%s' is already in use (one console port per chardev)", id);
    }
    return -1;
}

/* Defaults that depend on what was given, and what must be present. */
static int finish_args(Parse *p)
{
    SessionOptions *o = &p->o;
    if (p->dbg.monitor_stdio && (p->dbg.monitor_mux || strcmp(o->serial, "stdio") == 0))
        return usage_error("-monitor stdio: stdio is the serial console too; use -serial mon:stdio "
                           "(Ctrl-A c switches) or give the console -serial none|file:PATH");
    if (server_wanted(&p->dbg) && (o->stop_at_set || o->goto_count || o->go_live))
        return usage_error("--stop-at, --goto and --go-live are for a plain session; with a debugger or "
                           "monitor use replay_break, replay_seek and go_live");
    if (o->go_live && !o->stop_at_set)
        return usage_error("replay: --go-live needs --stop-at N (where to leave the recording)");
    if (o->go_live_out && !o->go_live)
        return usage_error("replay: -o is for --go-live (record what follows into a new recording)");
    if (o->goto_count && (o->stop_at_set || o->go_live))
        return usage_error("replay: --goto does not combine with --stop-at or --go-live");
    if (p->cmd == C_REPLAY)
        return -1;
    if (!args_connect_netdevs(p))
        return usage_error("%s", p->err);
    int st = check_console_ports(p);
    if (st >= 0)
        return st;
    if (o->from_snapshot) {
        /* the snapshot holds the machine and names its images */
        if (o->image_path[IMG_KERNEL] || o->image_path[IMG_INITRD] || o->image_path[IMG_DTB] ||
            o->image_path[IMG_BIOS] || p->bios_none)
            return usage_error("%s: a snapshot holds the machine: give no images with -loadvm/--from",
                               cmd_name(p->cmd));
        if (p->cmd == C_RECORD && !o->rr_path) {
            char err[4600];
            if (!recordings_new_output(o->from_snapshot, p->rr_path_buf, sizeof p->rr_path_buf, err, sizeof err))
                return usage_error("record: %s", err);
            o->rr_path = p->rr_path_buf;
        }
        return -1;
    }
    if (o->seed_set && !p->rtc_base_given)
        o->cfg.rtc_base_ns = SEEDED_RTC_BASE_NS;
    if (!p->bios_none && !o->image_path[IMG_BIOS])
        o->image_path[IMG_BIOS] = DEFAULT_BIOS;
    if (!o->image_path[IMG_KERNEL] && !o->image_path[IMG_BIOS])
        return usage_error("nothing to run: give -kernel FILE (and/or -bios FILE)");
    if (!o->image_path[IMG_KERNEL] && !o->quiet)
        fprintf(stderr, "rrvm: warning: no -kernel: the firmware has nothing to start after it\n");
    if (p->cmd == C_RECORD && !o->rr_path) {
        /* no -o: the default directory, NAME-N.rr after the kernel */
        char err[4600];
        const char *name = o->image_path[IMG_KERNEL] ? o->image_path[IMG_KERNEL] : o->image_path[IMG_BIOS];
        if (!recordings_new_output(name, p->rr_path_buf, sizeof p->rr_path_buf, err, sizeof err))
            return usage_error("record: %s", err);
        o->rr_path = p->rr_path_buf;
    }
    return -1;
}

static int cmd_machine(const CmdDef *c, int argc, char **argv)
{
    static const SessionMode modes[] = {[C_RUN] = SESSION_RUN, [C_RECORD] = SESSION_RECORD,
                                        [C_REPLAY] = SESSION_REPLAY};
    Parse p;
    memset(&p, 0, sizeof p);
    p.cmd = c->bit;
    p.o.mode = modes[c->bit];
    p.o.serial = "stdio";
    p.o.cfg.ram_size = 256ull << 20;
    p.o.cfg.nharts = 1;
    p.o.cfg.icount_shift = DEFAULT_SHIFT;
    p.o.cfg.board_virt = true;
    p.o.cfg.quantum = DEFAULT_QUANTUM;
    p.o.cfg.rtc_base_ns = host_wallclock_ns();
    p.o.jit_mode = jit_available() ? JIT_MODE_ON : JIT_MODE_OFF;
    const char *jit_env = getenv("RRVM_JIT");
    if (jit_env && *jit_env && !parse_jit_mode(jit_env, &p.o.jit_mode)) {
        fprintf(stderr, "rrvm: RRVM_JIT=%s: takes on, off or check\n", jit_env);
        return STATUS_USAGE;
    }
    int status = parse_args(&p, c, argc, argv);
    if (status < 0)
        status = finish_args(&p);
    if (status < 0) {
        char *cmdline = p.cmd == C_RECORD ? recordings_cmdline("record", argc, argv) : NULL;
        p.o.cmdline = cmdline;
        if (p.dbg.wait && !server_wanted(&p.dbg))
            p.dbg.gdb = "tcp:127.0.0.1:1234"; /* -S alone: QEMU waits for a monitor; we wait for gdb */
        status = server_wanted(&p.dbg) ? server_main(&p.o, &p.dbg) : session_main(&p.o);
        free(cmdline);
    }
    free(p.gotos);
    return status;
}

static int cmd_file(const CmdDef *c, int argc, char **argv)
{
    for (int k = 0; k < argc; k++)
        if (is_help(argv[k])) {
            command_usage(stdout, c);
            return 0;
        }
    if (strcmp(c->name, "pack") == 0)
        return recordings_pack(argc, argv);
    return recordings_info_or_dump(c->name, argc, argv);
}

static int cmd_help(int argc, char **argv)
{
    if (argc == 0) {
        usage(stdout);
        return 0;
    }
    const CmdDef *c = find_command(argv[0]);
    if (!c || argc > 1)
        return usage_error("help: unknown command '%s' (run, record, replay, info, dump, pack)", argv[0]);
    command_usage(stdout, c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return STATUS_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-version") == 0 || strcmp(cmd, "version") == 0) {
        printf("rrvm %s (RV64GC record/replay emulator; recording format %d)\n", RRVM_VERSION, RLOG_FORMAT_VERSION);
        return 0;
    }
    if (is_help(cmd))
        return cmd_help(0, NULL);
    const CmdDef *c = find_command(cmd);
    if (!c) {
        if (cmd[0] == '-')
            return usage_error("give a command first: rrvm run|record|replay|info|dump|pack ... (rrvm help)");
        return usage_error("unknown command '%s' (rrvm help lists them)", cmd);
    }
    if (strcmp(c->name, "help") == 0)
        return cmd_help(argc - 2, argv + 2);
    if (c->bit)
        return cmd_machine(c, argc - 2, argv + 2);
    return cmd_file(c, argc - 2, argv + 2);
}
