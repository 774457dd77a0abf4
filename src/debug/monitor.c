/*
 * monitor.c - the human monitor's command table (see monitor.h). A command
 * line is split into words; the first selects a row of the table (x and xp
 * carry their /FMT in it, as QEMU's), the handler gets the rest.
 *
 * Invariants: handlers read the machine directly (registers, memory through
 * mmu_debug_translate: no A/D update, no TLB fill, RAM only) and change
 * anything only through the server; output always ends with a newline.
 */
#include "monitor.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/cpu/hart.h"

#define MAX_WORDS 8

typedef struct Mon {
    Server *sv;
    Machine *m;
    Strbuf *out;
    const char *fmt; /* x/xp: what followed the '/', or "" */
} Mon;

typedef bool (*MonFn)(Mon *c, int argc, char **argv);

typedef struct MonCmd {
    const char *name;
    const char *alias;
    int min_args, max_args;
    MonFn fn;
    const char *args;
    const char *help;
} MonCmd;

static bool fail(Mon *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(Mon *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sb_printf(c->out, "%s\n", buf);
    return false;
}

/* The server's one-line error, as the command's output. */
static bool result(Mon *c, bool ok, const char *err)
{
    if (!ok)
        sb_printf(c->out, "%s\n", err);
    return ok;
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return false;
    *v = strtoull(s, &end, 0);
    return errno == 0 && *end == 0;
}

/* --- info --- */

static const char *const abi_names[32] = {
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
};

static const char *const fabi_names[32] = {
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2", "fa3", "fa4", "fa5",
    "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
};

/* As QEMU's riscv_cpu_dump_state: pc, the trap CSRs, then x and f four a line. */
static void dump_hart(Mon *c, int i)
{
    const Hart *h = c->m->harts[i];
    struct { const char *name; uint64_t v; } csrs[] = {
        { "pc", h->pc }, { "mhartid", h->mhartid }, { "mstatus", h->mstatus }, { "mip", h->mip },
        { "mie", h->mie }, { "mideleg", h->mideleg }, { "medeleg", h->medeleg }, { "mtvec", h->mtvec },
        { "stvec", h->stvec }, { "mepc", h->mepc }, { "sepc", h->sepc }, { "mcause", h->mcause },
        { "scause", h->scause }, { "mtval", h->mtval }, { "stval", h->stval }, { "mscratch", h->mscratch },
        { "sscratch", h->sscratch }, { "satp", h->satp },
    };
    if (c->m->nharts > 1)
        sb_printf(c->out, "CPU#%d\n", i);
    sb_printf(c->out, " priv     %c\n", "US?M"[h->priv & 3]);
    for (size_t k = 0; k < sizeof csrs / sizeof csrs[0]; k++)
        sb_printf(c->out, " %-8s %016" PRIx64 "\n", csrs[k].name, csrs[k].v);
    for (int r = 0; r < 32; r++) {
        char name[12];
        snprintf(name, sizeof name, "x%d/%s", r, abi_names[r]);
        sb_printf(c->out, " %-8s %016" PRIx64 "%s", name, h->x[r], r % 4 == 3 ? "\n" : "");
    }
    for (int r = 0; r < 32; r++) {
        char name[12];
        snprintf(name, sizeof name, "f%d/%s", r, fabi_names[r]);
        sb_printf(c->out, " %-8s %016" PRIx64 "%s", name, h->f[r], r % 4 == 3 ? "\n" : "");
    }
}

static bool info_registers(Mon *c, int argc, char **argv)
{
    if (argc > 0 && strcmp(argv[0], "-a") == 0) {
        for (int i = 0; i < c->m->nharts; i++)
            dump_hart(c, i);
        return true;
    }
    dump_hart(c, 0);
    return true;
}

static bool info_status(Mon *c, int argc, char **argv)
{
    const char *st = server_status_name(c->sv);
    sb_printf(c->out, "VM status: %s\n", strcmp(st, "prelaunch") == 0 ? "paused (prelaunch)" : st);
    return true;
}

static bool info_cpus(Mon *c, int argc, char **argv)
{
    for (int i = 0; i < c->m->nharts; i++)
        sb_printf(c->out, "%c CPU #%d: pc=0x%016" PRIx64 " priv=%c instret=%" PRIu64 "%s\n",
                  i == c->m->cur_hart ? '*' : ' ', i, c->m->harts[i]->pc, "US?M"[c->m->harts[i]->priv & 3],
                  c->m->harts[i]->instret, c->m->harts[i]->wfi ? " (wfi)" : "");
    return true;
}

static bool info_replay(Mon *c, int argc, char **argv)
{
    Session *s = server_session(c->sv);
    const char *path = server_recording_path(c->sv);
    switch (session_mode(s)) {
    case SESSION_REPLAY:
        sb_printf(c->out, "Replaying execution log '%s' at icount %" PRIu64 " of %" PRIu64 "\n", path ? path : "",
                  session_icount(s), session_recording_total(s));
        break;
    case SESSION_RECORD:
        sb_printf(c->out, "Recording execution log '%s' at icount %" PRIu64 "\n", path ? path : "",
                  session_icount(s));
        break;
    default:
        sb_printf(c->out, "Record/replay is not active (icount %" PRIu64 ")\n", session_icount(s));
        break;
    }
    uint64_t b[SERVER_MAX_BREAKS];
    size_t n = server_breaks(c->sv, b, SERVER_MAX_BREAKS);
    for (size_t i = 0; i < n; i++)
        sb_printf(c->out, "replay_break at icount %" PRIu64 "\n", b[i]);
    return true;
}

static bool info_snapshots(Mon *c, int argc, char **argv)
{
    ServerSavedVm v[SERVER_MAX_SAVEVM];
    size_t n = server_savedvms(c->sv, v, SERVER_MAX_SAVEVM);
    if (!n) {
        sb_puts(c->out, "There is no snapshot available.\n");
        return true;
    }
    sb_puts(c->out, "List of snapshots present on all disks:\nID        TAG               ICOUNT\n");
    for (size_t i = 0; i < n; i++)
        sb_printf(c->out, "%-9zu %-17s %" PRIu64 "\n", i + 1, v[i].name, v[i].icount);
    return true;
}

static bool info_mtree(Mon *c, int argc, char **argv)
{
    sb_puts(c->out, "address-space: memory\n");
    sb_printf(c->out, "  %016" PRIx64 "-%016" PRIx64 " (prio 0, ram): riscv.virt.ram\n", (uint64_t)RAM_BASE,
              (uint64_t)RAM_BASE + c->m->ram_size - 1);
    for (int i = 0; i < c->m->nmmio; i++) {
        const MmioRegion *r = &c->m->mmio[i];
        sb_printf(c->out, "  %016" PRIx64 "-%016" PRIx64 " (prio 0, i/o): %s\n", r->base, r->base + r->size - 1,
                  r->name ? r->name : "mmio");
    }
    return true;
}

typedef struct InfoCmd {
    const char *name;
    MonFn fn;
    const char *help;
} InfoCmd;

static const InfoCmd info_table[] = {
    { "status", info_status, "show the current VM status (running|paused)" },
    { "registers", info_registers, "show the cpu registers (-a: all harts)" },
    { "cpus", info_cpus, "show infos for each CPU" },
    { "replay", info_replay, "show record/replay information and replay breaks" },
    { "snapshots", info_snapshots, "show the saved VM states (savevm)" },
    { "mtree", info_mtree, "show memory tree" },
};

static bool cmd_info(Mon *c, int argc, char **argv)
{
    if (argc == 0) {
        for (size_t i = 0; i < sizeof info_table / sizeof info_table[0]; i++)
            sb_printf(c->out, "info %-10s -- %s\n", info_table[i].name, info_table[i].help);
        return true;
    }
    for (size_t i = 0; i < sizeof info_table / sizeof info_table[0]; i++)
        if (strcmp(argv[0], info_table[i].name) == 0)
            return info_table[i].fn(c, argc - 1, argv + 1);
    return fail(c, "info: unknown item '%s' (info lists them)", argv[0]);
}

/* --- x / xp: QEMU's /FMT = [count][format][size] --- */

typedef struct MemFmt {
    uint64_t count;
    char format; /* x d u o c */
    int size;    /* 1 2 4 8 */
} MemFmt;

static bool parse_fmt(const char *f, MemFmt *mf, char *err, size_t errlen)
{
    *mf = (MemFmt){ 1, 'x', 4 };
    bool size_given = false;
    if (isdigit((unsigned char)*f)) {
        char *end;
        mf->count = strtoull(f, &end, 10);
        f = end;
    }
    for (; *f; f++) {
        switch (*f) {
        case 'x': case 'd': case 'u': case 'o': case 'c':
            mf->format = *f;
            break;
        case 'b': mf->size = 1; size_given = true; break;
        case 'h': mf->size = 2; size_given = true; break;
        case 'w': mf->size = 4; size_given = true; break;
        case 'g': mf->size = 8; size_given = true; break;
        case 'i':
            snprintf(err, errlen, "x/i: rrvm's monitor has no disassembler (use gdb: x/4i $pc)");
            return false;
        default:
            snprintf(err, errlen, "invalid char in format: '%c'", *f);
            return false;
        }
    }
    if (mf->format == 'c' && !size_given)
        mf->size = 1;
    if (mf->count == 0 || mf->count > 65536) {
        snprintf(err, errlen, "x: count must be 1..65536");
        return false;
    }
    return true;
}

static void print_item(Mon *c, const MemFmt *mf, uint64_t v)
{
    int bits = mf->size * 8;
    switch (mf->format) {
    case 'x':
        sb_printf(c->out, " 0x%0*" PRIx64, mf->size * 2, v);
        break;
    case 'o':
        sb_printf(c->out, " %#" PRIo64, v);
        break;
    case 'u':
        sb_printf(c->out, " %" PRIu64, v);
        break;
    case 'd': {
        int64_t sv = bits == 64 ? (int64_t)v : (int64_t)(v << (64 - bits)) >> (64 - bits);
        sb_printf(c->out, " %" PRId64, sv);
        break;
    }
    case 'c':
        if (v >= 32 && v < 127)
            sb_printf(c->out, " '%c'", (int)v);
        else
            sb_printf(c->out, " '\\x%02x'", (unsigned)(v & 0xff));
        break;
    }
}

static bool dump_memory(Mon *c, int argc, char **argv, bool physical)
{
    MemFmt mf;
    char err[128];
    uint64_t addr;
    if (!parse_fmt(c->fmt, &mf, err, sizeof err))
        return fail(c, "%s", err);
    if (argc != 1 || !parse_u64(argv[0], &addr))
        return fail(c, "%s: give an address: %s/FMT ADDR", physical ? "xp" : "x", physical ? "xp" : "x");
    Hart *h = c->m->harts[0];
    int per_line = mf.format == 'c' ? 16 : 16 / mf.size;
    for (uint64_t i = 0; i < mf.count; i++) {
        uint64_t va = addr + i * (uint64_t)mf.size, pa = va;
        if (i % (uint64_t)per_line == 0)
            sb_printf(c->out, "%s%016" PRIx64 ":", i ? "\n" : "", va);
        uint8_t b[8] = { 0 };
        if ((!physical && !mmu_debug_translate(h, va, &pa)) || !machine_is_ram(c->m, pa, (uint64_t)mf.size) ||
            !machine_phys_read(c->m, pa, b, (size_t)mf.size)) {
            sb_puts(c->out, "\n");
            return fail(c, "Cannot access memory at %s 0x%" PRIx64, physical ? "physical address" : "address",
                        va);
        }
        uint64_t v = 0;
        for (int k = mf.size - 1; k >= 0; k--)
            v = v << 8 | b[k];
        print_item(c, &mf, v);
    }
    sb_puts(c->out, "\n");
    return true;
}

static bool cmd_x(Mon *c, int argc, char **argv) { return dump_memory(c, argc, argv, false); }
static bool cmd_xp(Mon *c, int argc, char **argv) { return dump_memory(c, argc, argv, true); }

/* --- run control --- */

static bool cmd_stop(Mon *c, int argc, char **argv)
{
    server_stop(c->sv, STOP_USER);
    return true;
}

static bool cmd_cont(Mon *c, int argc, char **argv)
{
    char err[256];
    return result(c, server_cont(c->sv, err, sizeof err), err);
}

static bool cmd_system_reset(Mon *c, int argc, char **argv)
{
    char err[256];
    return result(c, server_system_reset(c->sv, err, sizeof err), err);
}

static bool cmd_system_powerdown(Mon *c, int argc, char **argv)
{
    char err[256];
    return result(c, server_system_powerdown(c->sv, err, sizeof err), err);
}

static bool cmd_quit(Mon *c, int argc, char **argv)
{
    server_quit(c->sv);
    return true;
}

static bool cmd_when(Mon *c, int argc, char **argv)
{
    sb_printf(c->out, "icount %" PRIu64 "\n", server_icount(c->sv));
    return true;
}

/* --- record/replay --- */

static bool cmd_replay_break(Mon *c, int argc, char **argv)
{
    uint64_t ic;
    char err[256];
    if (!parse_u64(argv[0], &ic))
        return fail(c, "replay_break: '%s' is not an icount", argv[0]);
    return result(c, server_break_add(c->sv, ic, err, sizeof err), err);
}

static bool cmd_replay_delete_break(Mon *c, int argc, char **argv)
{
    uint64_t ic = 0;
    char err[256];
    if (argc && !parse_u64(argv[0], &ic))
        return fail(c, "replay_delete_break: '%s' is not an icount", argv[0]);
    return result(c, server_break_delete(c->sv, ic, argc == 0, err, sizeof err), err);
}

static bool cmd_replay_seek(Mon *c, int argc, char **argv)
{
    uint64_t ic;
    char err[256];
    if (!parse_u64(argv[0], &ic))
        return fail(c, "replay_seek: '%s' is not an icount", argv[0]);
    return result(c, server_seek(c->sv, ic, err, sizeof err), err);
}

static bool cmd_savevm(Mon *c, int argc, char **argv)
{
    char err[256];
    return result(c, server_savevm(c->sv, argv[0], err, sizeof err), err);
}

static bool cmd_loadvm(Mon *c, int argc, char **argv)
{
    char err[256];
    return result(c, server_loadvm(c->sv, argv[0], err, sizeof err), err);
}

static bool cmd_delvm(Mon *c, int argc, char **argv)
{
    char err[256];
    return result(c, server_delvm(c->sv, argv[0], err, sizeof err), err);
}

/* rr's spelling: numbered saved states */
static bool cmd_checkpoint(Mon *c, int argc, char **argv)
{
    char name[32], err[256];
    ServerSavedVm v[SERVER_MAX_SAVEVM];
    size_t n = server_savedvms(c->sv, v, SERVER_MAX_SAVEVM);
    int id = 1;
    for (size_t i = 0; i < n; i++) /* the next number after every numbered one */
        if (atoi(v[i].name) >= id)
            id = atoi(v[i].name) + 1;
    snprintf(name, sizeof name, "%d", id);
    if (!server_savevm(c->sv, name, err, sizeof err))
        return result(c, false, err);
    sb_printf(c->out, "Checkpoint %d at icount %" PRIu64 "\n", id, server_icount(c->sv));
    return true;
}

static bool cmd_restart(Mon *c, int argc, char **argv)
{
    char err[256];
    if (!server_loadvm(c->sv, argv[0], err, sizeof err))
        return result(c, false, err);
    sb_printf(c->out, "at icount %" PRIu64 " (gdb: `maint flush register-cache` shows the new state)\n",
              server_icount(c->sv));
    return true;
}

static bool cmd_go_live(Mon *c, int argc, char **argv)
{
    char err[256];
    if (!server_go_live(c->sv, argc ? argv[0] : NULL, err, sizeof err))
        return result(c, false, err);
    sb_printf(c->out, "live from icount %" PRIu64 "%s%s (cont to run)\n", server_icount(c->sv),
              argc ? ", recording to " : "", argc ? argv[0] : "");
    return true;
}

static bool cmd_help(Mon *c, int argc, char **argv);

static const MonCmd cmd_table[] = {
    { "help", "?", 0, 1, cmd_help, "[cmd]", "show the help" },
    { "info", NULL, 0, 2, cmd_info, "[subcommand]", "show various information about the system state" },
    { "x", NULL, 1, 1, cmd_x, "/fmt addr", "virtual memory dump starting at 'addr' (as hart 0 sees it)" },
    { "xp", NULL, 1, 1, cmd_xp, "/fmt addr", "physical memory dump starting at 'addr'" },
    { "stop", "s", 0, 0, cmd_stop, "", "stop emulation" },
    { "cont", "c", 0, 0, cmd_cont, "", "resume emulation" },
    { "system_reset", NULL, 0, 0, cmd_system_reset, "", "reset the system (logged while recording)" },
    { "system_powerdown", NULL, 0, 0, cmd_system_powerdown, "", "send system power down event" },
    { "quit", "q", 0, 0, cmd_quit, "", "quit the emulator" },
    { "when", NULL, 0, 0, cmd_when, "", "show the current icount" },
    { "replay_break", NULL, 1, 1, cmd_replay_break, "icount", "stop when icount is reached (several may be set)" },
    { "replay_delete_break", NULL, 0, 1, cmd_replay_delete_break, "[icount]",
      "delete a replay break (all without an icount)" },
    { "replay_seek", NULL, 1, 1, cmd_replay_seek, "icount", "move the replay to icount, back or forward" },
    { "savevm", NULL, 1, 1, cmd_savevm, "tag", "save the VM state as 'tag' (a replay: its position)" },
    { "loadvm", NULL, 1, 1, cmd_loadvm, "tag", "restore the VM state saved as 'tag'" },
    { "delvm", NULL, 1, 1, cmd_delvm, "tag", "delete the VM state saved as 'tag'" },
    { "checkpoint", NULL, 0, 0, cmd_checkpoint, "", "save this state as the next numbered checkpoint (as rr)" },
    { "restart", NULL, 1, 1, cmd_restart, "N", "go back (or forward) to checkpoint N (as rr)" },
    { "go_live", NULL, 0, 1, cmd_go_live, "[file.rr]", "replay: continue live from here (recording to file.rr)" },
};

#define NCMDS (sizeof cmd_table / sizeof cmd_table[0])

static bool cmd_help(Mon *c, int argc, char **argv)
{
    for (size_t i = 0; i < NCMDS; i++) {
        const MonCmd *k = &cmd_table[i];
        if (argc && strcmp(argv[0], k->name) != 0)
            continue;
        char head[64];
        snprintf(head, sizeof head, "%s%s%s %s", k->name, k->alias ? "|" : "", k->alias ? k->alias : "", k->args);
        sb_printf(c->out, "%-30s -- %s\n", head, k->help);
    }
    return true;
}

static const MonCmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < NCMDS; i++)
        if (strcmp(name, cmd_table[i].name) == 0 || (cmd_table[i].alias && strcmp(name, cmd_table[i].alias) == 0))
            return &cmd_table[i];
    return NULL;
}

bool monitor_exec(Server *sv, const char *line, Strbuf *out)
{
    char buf[1024], *words[MAX_WORDS];
    int n = 0;
    if (strlen(line) >= sizeof buf) {
        sb_puts(out, "command line too long\n");
        return false;
    }
    strcpy(buf, line);
    for (char *p = strtok(buf, " \t\r\n"); p; p = strtok(NULL, " \t\r\n")) {
        if (n == MAX_WORDS) {
            sb_puts(out, "too many arguments\n");
            return false;
        }
        words[n++] = p;
    }
    if (n == 0)
        return true;
    Mon c = { .sv = sv, .m = server_machine(sv), .out = out, .fmt = "" };
    char *slash = strchr(words[0], '/');
    if (slash) {
        *slash = 0;
        c.fmt = slash + 1;
    }
    const MonCmd *k = find_cmd(words[0]);
    if (!k || (slash && k->fn != cmd_x && k->fn != cmd_xp)) {
        sb_printf(out, "unknown command: '%s' (help lists them)\n", words[0]);
        return false;
    }
    if (n - 1 < k->min_args || n - 1 > k->max_args) {
        sb_printf(out, "%s: usage: %s %s\n", k->name, k->name, k->args);
        return false;
    }
    return k->fn(&c, n - 1, words + 1);
}
