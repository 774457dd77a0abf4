/*
 * gdb_stub.c - the GDB remote serial protocol (see gdb_stub.h): framing,
 * acks and checksums, the target description, registers and memory of the
 * harts (threads 1..N), breakpoints, and resume requests for the driver.
 *
 * Invariants: see gdb_stub.h. Parsing is bounds-checked throughout; a
 * packet that does not parse gets "E01" (or the empty reply when gdb may
 * fall back to something else), never a crash.
 */
#include "gdb_stub.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/cpu/hart.h"

enum { RX_IDLE, RX_DATA, RX_ESC, RX_CSUM1, RX_CSUM2 };

/* gdb's RISC-V register numbers: x0-x31, pc, f0-f31, then 65 + CSR
 * number, and the privilege mode after the CSRs. */
#define REG_PC 32
#define REG_F0 33
#define REG_CSR0 65
#define REG_PRIV (REG_CSR0 + 4096)

/* The CSRs the target description offers (gdb names them). */
static const struct { const char *name; int csr; } csr_table[] = {
    {"sstatus", 0x100}, {"sie", 0x104}, {"stvec", 0x105}, {"scounteren", 0x106},
    {"sscratch", 0x140}, {"sepc", 0x141}, {"scause", 0x142}, {"stval", 0x143}, {"sip", 0x144},
    {"satp", 0x180},
    {"mstatus", 0x300}, {"misa", 0x301}, {"medeleg", 0x302}, {"mideleg", 0x303}, {"mie", 0x304},
    {"mtvec", 0x305}, {"mcounteren", 0x306}, {"mscratch", 0x340}, {"mepc", 0x341}, {"mcause", 0x342},
    {"mtval", 0x343}, {"mip", 0x344}, {"mhartid", 0xf14},
    {"cycle", 0xc00}, {"time", 0xc01}, {"instret", 0xc02},
};
#define NCSRS (sizeof csr_table / sizeof csr_table[0])

static const char *const xnames[32] = {
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
};

/* --- output --- */

static void out_bytes(GdbStub *g, const char *p, size_t n)
{
    if (g->out_len + n > g->out_cap) {
        size_t cap = g->out_cap ? g->out_cap : 1024;
        while (cap < g->out_len + n)
            cap *= 2;
        char *o = realloc(g->out, cap);
        if (!o)
            abort(); /* out of memory for a reply of at most a few KiB */
        g->out = o;
        g->out_cap = cap;
    }
    memcpy(g->out + g->out_len, p, n);
    g->out_len += n;
}

void gdb_stub_send(GdbStub *g, const char *payload)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t sum = 0;
    for (const char *p = payload; *p; p++)
        sum = (uint8_t)(sum + (uint8_t)*p);
    out_bytes(g, "$", 1);
    out_bytes(g, payload, strlen(payload));
    char tail[3] = { '#', hex[sum >> 4], hex[sum & 15] };
    out_bytes(g, tail, 3);
}

void gdb_stub_out_consumed(GdbStub *g) { g->out_len = 0; }

static void hex_encode(char *dst, const uint8_t *src, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = hex[src[i] >> 4];
        dst[2 * i + 1] = hex[src[i] & 15];
    }
    dst[2 * n] = 0;
}

void gdb_stub_console(GdbStub *g, const char *text)
{
    size_t n = strlen(text);
    while (n) {
        size_t k = n > 1000 ? 1000 : n;
        char buf[2 + 2000 + 1];
        buf[0] = 'O';
        hex_encode(buf + 1, (const uint8_t *)text, k);
        gdb_stub_send(g, buf);
        text += k;
        n -= k;
    }
}

void gdb_stub_stopped(GdbStub *g, int hart, const char *extra)
{
    char buf[256];
    if (hart < 0 || hart >= g->m->nharts)
        hart = 0;
    g->g_hart = hart;
    snprintf(buf, sizeof buf, "T05thread:%x;%s", hart + 1, extra ? extra : "");
    gdb_stub_send(g, buf);
}

/* --- parsing helpers --- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A hex number at *p (at least one digit, at most 16); advances *p. */
static bool parse_hex(const char **p, uint64_t *v)
{
    uint64_t x = 0;
    int n = 0;
    while (hexval(**p) >= 0) {
        if (++n > 16)
            return false;
        x = x << 4 | (uint64_t)hexval(**p);
        (*p)++;
    }
    *v = x;
    return n > 0;
}

static bool expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

static bool hex_decode(uint8_t *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int a = hexval(src[2 * i]), b = a >= 0 ? hexval(src[2 * i + 1]) : -1;
        if (b < 0)
            return false;
        dst[i] = (uint8_t)(a << 4 | b);
    }
    return true;
}

/* A thread id: "-1" (all), "0" (any) or hart index + 1. -1 = all/any. */
static bool parse_thread(const char **p, const Machine *m, int *hart)
{
    if ((*p)[0] == '-' && (*p)[1] == '1') {
        *p += 2;
        *hart = -1;
        return true;
    }
    uint64_t id;
    if (!parse_hex(p, &id) || id > (uint64_t)m->nharts)
        return false;
    *hart = id == 0 ? -1 : (int)id - 1;
    return true;
}

/* --- registers --- */

static Hart *ghart(GdbStub *g)
{
    if (g->g_hart < 0 || g->g_hart >= g->m->nharts)
        g->g_hart = 0;
    return g->m->harts[g->g_hart];
}

/* Read a CSR as M-mode with the FPU on would, without changing anything. */
static bool csr_peek(Hart *h, int csr, uint64_t *v)
{
    int priv = h->priv;
    uint64_t mstatus = h->mstatus;
    h->priv = PRV_M;
    h->mstatus |= MSTATUS_FS;
    bool ok = hart_csr_read(h, csr, v);
    h->priv = priv;
    h->mstatus = mstatus;
    return ok;
}

/* Register `r` of h: its size in bytes (0: no such register). */
static int reg_read(Hart *h, uint64_t r, uint64_t *v)
{
    if (r < 32) {
        *v = h->x[r];
        return 8;
    }
    if (r == REG_PC) {
        *v = h->pc;
        return 8;
    }
    if (r >= REG_F0 && r < REG_F0 + 32) {
        *v = h->f[r - REG_F0];
        return 8;
    }
    if (r == REG_PRIV) {
        *v = (uint64_t)h->priv;
        return 8;
    }
    if (r >= REG_CSR0 && r < REG_CSR0 + 4096) {
        int csr = (int)(r - REG_CSR0);
        if (!csr_peek(h, csr, v))
            return 0;
        return csr <= 3 ? 4 : 8; /* fflags, frm, fcsr are 32 bits */
    }
    return 0;
}

static bool reg_write(Hart *h, uint64_t r, uint64_t v)
{
    if (r < 32) {
        if (r)
            h->x[r] = v;
        return true;
    }
    if (r == REG_PC) {
        h->pc = v;
        return true;
    }
    if (r >= REG_F0 && r < REG_F0 + 32) {
        h->f[r - REG_F0] = v;
        return true;
    }
    if (r >= REG_CSR0 && r < REG_CSR0 + 4096) {
        int priv = h->priv;
        h->priv = PRV_M;
        bool ok = hart_csr_write(h, (int)(r - REG_CSR0), v);
        h->priv = priv;
        mmu_update_ctx(h);
        return ok;
    }
    return false;
}

static void reg_hex(char *dst, uint64_t v, int size)
{
    uint8_t b[8];
    for (int i = 0; i < size; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    hex_encode(dst, b, (size_t)size);
}

static void cmd_read_all(GdbStub *g, const char *a)
{
    (void)a;
    Hart *h = ghart(g);
    char buf[33 * 16 + 1];
    for (int r = 0; r <= REG_PC; r++) {
        uint64_t v;
        reg_read(h, (uint64_t)r, &v);
        reg_hex(buf + 16 * r, v, 8);
    }
    gdb_stub_send(g, buf);
}

static bool refuse_in_replay(GdbStub *g)
{
    if (g->replay)
        gdb_stub_send(g, "E01"); /* changing the guest would leave the recording */
    return g->replay;
}

static uint64_t le_value(const uint8_t *b, int size)
{
    uint64_t v = 0;
    for (int i = size - 1; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

static void cmd_write_all(GdbStub *g, const char *a)
{
    if (refuse_in_replay(g))
        return;
    Hart *h = ghart(g);
    size_t n = strlen(a) / 16;
    if (n > 33 || strlen(a) % 16) {
        gdb_stub_send(g, "E01");
        return;
    }
    uint8_t b[8];
    for (size_t r = 0; r < n; r++) {
        if (!hex_decode(b, a + 16 * r, 8)) {
            gdb_stub_send(g, "E01");
            return;
        }
        reg_write(h, r, le_value(b, 8));
    }
    gdb_stub_send(g, "OK");
}

static void cmd_read_reg(GdbStub *g, const char *a)
{
    uint64_t r, v;
    int size;
    if (!parse_hex(&a, &r) || *a || !(size = reg_read(ghart(g), r, &v))) {
        gdb_stub_send(g, "E01");
        return;
    }
    char buf[17];
    reg_hex(buf, v, size);
    gdb_stub_send(g, buf);
}

static void cmd_write_reg(GdbStub *g, const char *a)
{
    if (refuse_in_replay(g))
        return;
    uint64_t r, v;
    uint8_t b[8] = { 0 };
    size_t n;
    if (!parse_hex(&a, &r) || !expect(&a, '=') || (n = strlen(a)) == 0 || n > 16 || n % 2 ||
        !hex_decode(b, a, n / 2) || !reg_read(ghart(g), r, &v) || !reg_write(ghart(g), r, le_value(b, 8))) {
        gdb_stub_send(g, "E01");
        return;
    }
    gdb_stub_send(g, "OK");
}

/* --- memory: as the current hart sees it, RAM only, no side effects --- */

/* Host pointer to up to *n bytes at vaddr within one page, or NULL. */
static uint8_t *mem_ptr(GdbStub *g, uint64_t va, size_t *n)
{
    uint64_t pa;
    if (!mmu_debug_translate(ghart(g), va, &pa))
        return NULL;
    size_t in_page = (size_t)(PAGE_SIZE - (va & (PAGE_SIZE - 1)));
    if (*n > in_page)
        *n = in_page;
    if (!machine_is_ram(g->m, pa, *n) || machine_find_mmio(g->m, pa))
        return NULL;
    return g->m->ram + (pa - RAM_BASE);
}

static bool parse_addr_len(const char **a, uint64_t *addr, uint64_t *len)
{
    return parse_hex(a, addr) && expect(a, ',') && parse_hex(a, len);
}

static void cmd_read_mem(GdbStub *g, const char *a)
{
    uint64_t addr, len;
    if (!parse_addr_len(&a, &addr, &len) || *a) {
        gdb_stub_send(g, "E01");
        return;
    }
    if (len > (GDB_PACKET_SIZE - 4) / 2)
        len = (GDB_PACKET_SIZE - 4) / 2;
    uint8_t data[GDB_PACKET_SIZE / 2];
    size_t got = 0;
    while (got < len) {
        size_t n = (size_t)(len - got);
        const uint8_t *p = mem_ptr(g, addr + got, &n);
        if (!p)
            break;
        memcpy(data + got, p, n);
        got += n;
    }
    if (got == 0 && len > 0) {
        gdb_stub_send(g, "E14"); /* EFAULT */
        return;
    }
    char buf[GDB_PACKET_SIZE + 1];
    hex_encode(buf, data, got);
    gdb_stub_send(g, buf);
}

static bool write_mem(GdbStub *g, uint64_t addr, const uint8_t *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t n = len - done;
        uint8_t *p = mem_ptr(g, addr + done, &n);
        if (!p)
            return false;
        uint64_t pa = RAM_BASE + (uint64_t)(p - g->m->ram);
        machine_phys_write(g->m, pa, data + done, n); /* drops stale code and translations */
        done += n;
    }
    return true;
}

static void cmd_write_mem(GdbStub *g, const char *a)
{
    if (refuse_in_replay(g))
        return;
    uint64_t addr, len;
    uint8_t data[GDB_PACKET_SIZE / 2];
    if (!parse_addr_len(&a, &addr, &len) || !expect(&a, ':') || len > sizeof data ||
        strlen(a) != 2 * len || !hex_decode(data, a, (size_t)len) || !write_mem(g, addr, data, (size_t)len)) {
        gdb_stub_send(g, "E01");
        return;
    }
    gdb_stub_send(g, "OK");
}

/* X: binary data (escapes already removed by the framing: see below). */
static void cmd_write_bin(GdbStub *g, const char *a)
{
    if (refuse_in_replay(g))
        return;
    uint64_t addr, len;
    const char *start = a;
    if (!parse_addr_len(&a, &addr, &len) || !expect(&a, ':') || len > GDB_PACKET_SIZE ||
        (size_t)(a - start) + len + 1 != g->pkt_len || !write_mem(g, addr, (const uint8_t *)a, (size_t)len)) {
        gdb_stub_send(g, "E01");
        return;
    }
    gdb_stub_send(g, "OK");
}

/* --- breakpoints (never written into guest memory) --- */

static void cmd_breakpoint(GdbStub *g, const char *a, bool insert)
{
    uint64_t type, addr, kind;
    if (!parse_hex(&a, &type) || !expect(&a, ',') || !parse_hex(&a, &addr) || !expect(&a, ',') ||
        !parse_hex(&a, &kind)) {
        gdb_stub_send(g, "E01");
        return;
    }
    if (type > 4) {
        gdb_stub_send(g, "");
        return;
    }
    if (type >= 2) {
        static const int kinds[5] = { 0, 0, WATCH_WRITE, WATCH_READ, WATCH_READ | WATCH_WRITE };
        if (kind == 0 || kind > PAGE_SIZE || (insert && g->nwatch == MACHINE_MAX_WATCHPOINTS)) {
            gdb_stub_send(g, "E01");
            return;
        }
        if (insert) {
            g->watch[g->nwatch].addr = addr;
            g->watch[g->nwatch].len = kind;
            g->watch[g->nwatch++].kind = kinds[type];
        } else {
            for (int i = 0; i < g->nwatch; i++)
                if (g->watch[i].addr == addr && g->watch[i].len == kind && g->watch[i].kind == kinds[type]) {
                    g->watch[i] = g->watch[--g->nwatch];
                    break;
                }
        }
        gdb_stub_send(g, "OK");
        return;
    }
    if (insert) {
        if (g->nbp == GDB_MAX_BREAKPOINTS) {
            gdb_stub_send(g, "E01");
            return;
        }
        g->bp[g->nbp++] = addr;
    } else {
        for (int i = 0; i < g->nbp; i++)
            if (g->bp[i] == addr) {
                g->bp[i] = g->bp[--g->nbp];
                break;
            }
    }
    gdb_stub_send(g, "OK");
}

static void cmd_Z(GdbStub *g, const char *a) { cmd_breakpoint(g, a, true); }
static void cmd_z(GdbStub *g, const char *a) { cmd_breakpoint(g, a, false); }

/* --- threads --- */

static void cmd_set_thread(GdbStub *g, const char *a)
{
    char op = *a++;
    int hart;
    if ((op != 'g' && op != 'c') || !parse_thread(&a, g->m, &hart) || *a) {
        gdb_stub_send(g, "E01");
        return;
    }
    if (op == 'g' && hart >= 0)
        g->g_hart = hart;
    if (op == 'c')
        g->c_hart = hart;
    gdb_stub_send(g, "OK");
}

static void cmd_thread_alive(GdbStub *g, const char *a)
{
    int hart;
    gdb_stub_send(g, parse_thread(&a, g->m, &hart) && !*a && hart >= 0 ? "OK" : "E01");
}

static void cmd_thread_info_first(GdbStub *g, const char *a)
{
    (void)a;
    char buf[8 * MACHINE_MAX_HARTS + 2] = "m";
    for (int i = 0; i < g->m->nharts; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%x", i ? "," : "", i + 1);
    gdb_stub_send(g, buf);
}

static void cmd_thread_info_next(GdbStub *g, const char *a) { (void)a; gdb_stub_send(g, "l"); }

static void cmd_current_thread(GdbStub *g, const char *a)
{
    (void)a;
    char buf[32];
    snprintf(buf, sizeof buf, "QC%x", ghart(g) == g->m->harts[g->g_hart] ? g->g_hart + 1 : 1);
    gdb_stub_send(g, buf);
}

static void cmd_thread_extra(GdbStub *g, const char *a)
{
    int hart;
    if (!parse_thread(&a, g->m, &hart) || *a || hart < 0) {
        gdb_stub_send(g, "E01");
        return;
    }
    static const char *const privs[4] = { "U", "S", "?", "M" };
    const Hart *h = g->m->harts[hart];
    char text[64], buf[129];
    snprintf(text, sizeof text, "hart %d, %s-mode%s", hart, privs[h->priv & 3], h->wfi ? ", wfi" : "");
    hex_encode(buf, (const uint8_t *)text, strlen(text));
    gdb_stub_send(g, buf);
}

/* --- target description --- */

static size_t build_target_xml(char *buf, size_t cap)
{
    size_t n = 0;
#define ADD(...) (n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__))
    ADD("<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\"><target>"
        "<architecture>riscv:rv64</architecture>"
        "<feature name=\"org.gnu.gdb.riscv.cpu\">");
    for (int i = 0; i < 32; i++)
        ADD("<reg name=\"%s\" bitsize=\"64\" type=\"%s\" regnum=\"%d\"/>", xnames[i],
            i == 1 ? "code_ptr" : i == 2 || i == 8 ? "data_ptr" : "int", i);
    ADD("<reg name=\"pc\" bitsize=\"64\" type=\"code_ptr\" regnum=\"%d\"/></feature>", REG_PC);
    ADD("<feature name=\"org.gnu.gdb.riscv.fpu\">");
    for (int i = 0; i < 32; i++)
        ADD("<reg name=\"f%d\" bitsize=\"64\" type=\"ieee_double\" regnum=\"%d\"/>", i, REG_F0 + i);
    static const char *const fcsrs[3] = { "fflags", "frm", "fcsr" };
    for (int i = 0; i < 3; i++)
        ADD("<reg name=\"%s\" bitsize=\"32\" type=\"int\" regnum=\"%d\"/>", fcsrs[i], REG_CSR0 + 1 + i);
    ADD("</feature><feature name=\"org.gnu.gdb.riscv.csr\">");
    for (size_t i = 0; i < NCSRS; i++)
        ADD("<reg name=\"%s\" bitsize=\"64\" type=\"int\" regnum=\"%d\"/>", csr_table[i].name,
            REG_CSR0 + csr_table[i].csr);
    ADD("</feature><feature name=\"org.gnu.gdb.riscv.virtual\">"
        "<reg name=\"priv\" bitsize=\"64\" type=\"int\" regnum=\"%d\"/></feature></target>", REG_PRIV);
#undef ADD
    return n;
}

static void cmd_xfer_features(GdbStub *g, const char *a)
{
    static const char annex[] = "target.xml:";
    uint64_t off, len;
    if (strncmp(a, annex, sizeof annex - 1) != 0) {
        gdb_stub_send(g, "E00");
        return;
    }
    a += sizeof annex - 1;
    if (!parse_addr_len(&a, &off, &len) || *a) {
        gdb_stub_send(g, "E01");
        return;
    }
    static char xml[16384];
    size_t total = build_target_xml(xml, sizeof xml);
    if (total >= sizeof xml)
        abort(); /* the description is fixed: it always fits */
    if (len > GDB_PACKET_SIZE - 8)
        len = GDB_PACKET_SIZE - 8;
    char buf[GDB_PACKET_SIZE];
    if (off >= total) {
        gdb_stub_send(g, "l");
        return;
    }
    size_t k = (size_t)(total - off < len ? total - off : len);
    buf[0] = off + k >= total ? 'l' : 'm';
    memcpy(buf + 1, xml + off, k);
    buf[1 + k] = 0;
    gdb_stub_send(g, buf);
}

/* --- general queries --- */

static void cmd_supported(GdbStub *g, const char *a)
{
    (void)a;
    char buf[256];
    snprintf(buf, sizeof buf, "PacketSize=%x;qXfer:features:read+;QStartNoAckMode+;vContSupported+%s",
             GDB_PACKET_SIZE, g->replay ? ";ReverseStep+;ReverseContinue+" : "");
    gdb_stub_send(g, buf);
}

static void cmd_no_ack(GdbStub *g, const char *a)
{
    (void)a;
    gdb_stub_send(g, "OK");
    g->noack = true; /* after the OK, which gdb still acks */
}

static void cmd_attached(GdbStub *g, const char *a) { (void)a; gdb_stub_send(g, "1"); }
static void cmd_halt_reason(GdbStub *g, const char *a) { (void)a; gdb_stub_stopped(g, g->g_hart, NULL); }

static void cmd_monitor(GdbStub *g, const char *a)
{
    size_t n = strlen(a) / 2;
    char cmd[GDB_PACKET_SIZE / 2 + 1];
    if (strlen(a) % 2 || !hex_decode((uint8_t *)cmd, a, n) || memchr(cmd, 0, n)) {
        gdb_stub_send(g, "E01");
        return;
    }
    cmd[n] = 0;
    if (g->monitor)
        g->monitor(g->monitor_opaque, g, cmd);
    else
        gdb_stub_console(g, "no monitor commands here\n");
    gdb_stub_send(g, "OK");
}

/* --- resuming --- */

static void request(GdbStub *g, GdbResume r, int hart)
{
    g->resume = r;
    g->resume_hart = hart >= 0 && hart < g->m->nharts ? hart : g->g_hart;
}

/* c [addr] / s [addr]: resuming at another address is not supported */
static void cmd_continue(GdbStub *g, const char *a)
{
    if (*a) {
        gdb_stub_send(g, "E01");
        return;
    }
    request(g, GDB_RESUME_CONTINUE, g->c_hart);
}

static void cmd_step(GdbStub *g, const char *a)
{
    if (*a) {
        gdb_stub_send(g, "E01");
        return;
    }
    request(g, GDB_RESUME_STEP, g->c_hart);
}

static void cmd_vcont_query(GdbStub *g, const char *a) { (void)a; gdb_stub_send(g, "vCont;c;C;s;S"); }

/* vCont;ACTION[:THREAD][;ACTION...]: a step of one hart wins over continue
 * (the other harts run round-robin while it steps, as they always do). */
static void cmd_vcont(GdbStub *g, const char *a)
{
    bool cont = false, step = false;
    int step_hart = g->g_hart;
    while (*a == ';') {
        a++;
        char act = *a++;
        if (act == 'C' || act == 'S') { /* the signal is ignored: there is no process */
            uint64_t sig;
            if (!parse_hex(&a, &sig)) {
                gdb_stub_send(g, "E01");
                return;
            }
            act = act == 'C' ? 'c' : 's';
        }
        if (act != 'c' && act != 's') {
            gdb_stub_send(g, "E01");
            return;
        }
        int hart = -1;
        if (*a == ':') {
            a++;
            if (!parse_thread(&a, g->m, &hart)) {
                gdb_stub_send(g, "E01");
                return;
            }
        }
        if (act == 's' && !step) {
            step = true;
            if (hart >= 0)
                step_hart = hart;
        }
        cont |= act == 'c';
    }
    if (*a || (!cont && !step)) {
        gdb_stub_send(g, "E01");
        return;
    }
    request(g, step ? GDB_RESUME_STEP : GDB_RESUME_CONTINUE, step_hart);
}

static void cmd_reverse(GdbStub *g, const char *a)
{
    if (!g->replay || (*a != 's' && *a != 'c') || a[1]) {
        gdb_stub_send(g, g->replay ? "E01" : "");
        return;
    }
    request(g, *a == 's' ? GDB_RESUME_RSTEP : GDB_RESUME_RCONTINUE, g->g_hart);
}

static void cmd_detach(GdbStub *g, const char *a)
{
    (void)a;
    gdb_stub_send(g, "OK");
    request(g, GDB_RESUME_DETACH, -1);
}

static void cmd_kill(GdbStub *g, const char *a) { (void)a; request(g, GDB_RESUME_KILL, -1); }
static void cmd_vkill(GdbStub *g, const char *a)
{
    (void)a;
    gdb_stub_send(g, "OK");
    request(g, GDB_RESUME_KILL, -1);
}

/* --- dispatch: the first row whose prefix starts the packet --- */

static const struct {
    const char *prefix;
    void (*fn)(GdbStub *g, const char *args);
} commands[] = {
    {"qSupported", cmd_supported},
    {"qXfer:features:read:", cmd_xfer_features},
    {"QStartNoAckMode", cmd_no_ack},
    {"qfThreadInfo", cmd_thread_info_first},
    {"qsThreadInfo", cmd_thread_info_next},
    {"qThreadExtraInfo,", cmd_thread_extra},
    {"qAttached", cmd_attached},
    {"qRcmd,", cmd_monitor},
    {"qC", cmd_current_thread},
    {"vCont?", cmd_vcont_query},
    {"vCont", cmd_vcont},
    {"vKill", cmd_vkill},
    {"?", cmd_halt_reason},
    {"g", cmd_read_all},
    {"G", cmd_write_all},
    {"p", cmd_read_reg},
    {"P", cmd_write_reg},
    {"m", cmd_read_mem},
    {"M", cmd_write_mem},
    {"X", cmd_write_bin},
    {"Z", cmd_Z},
    {"z", cmd_z},
    {"H", cmd_set_thread},
    {"T", cmd_thread_alive},
    {"c", cmd_continue},
    {"s", cmd_step},
    {"b", cmd_reverse},
    {"D", cmd_detach},
    {"k", cmd_kill},
};

static void dispatch(GdbStub *g)
{
    g->pkt[g->pkt_len] = 0;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        size_t n = strlen(commands[i].prefix);
        if (strncmp(g->pkt, commands[i].prefix, n) == 0) {
            commands[i].fn(g, g->pkt + n);
            return;
        }
    }
    gdb_stub_send(g, ""); /* unsupported: gdb falls back */
}

/* --- framing: $data#cs, '}' escapes, '+'/'-' acks, 0x03 interrupts --- */

static void packet_done(GdbStub *g)
{
    bool ok = g->noack || g->sum == g->csum;
    if (!g->noack)
        out_bytes(g, ok ? "+" : "-", 1);
    if (!ok)
        return; /* gdb sends it again */
    /* only X carries binary data; a NUL elsewhere is malformed */
    if (g->pkt_overflow || (g->pkt[0] != 'X' && memchr(g->pkt, 0, g->pkt_len)))
        gdb_stub_send(g, "E01");
    else
        dispatch(g);
}

static void rx_byte(GdbStub *g, uint8_t c)
{
    switch (g->rx_state) {
    case RX_IDLE:
        if (c == '$') {
            g->rx_state = RX_DATA;
            g->pkt_len = 0;
            g->pkt_overflow = false;
            g->sum = 0;
        } else if (c == 0x03) {
            g->interrupt = true;
        }
        return; /* acks and noise between packets are ignored */
    case RX_DATA:
    case RX_ESC:
        if (c == '#' && g->rx_state == RX_DATA) {
            g->rx_state = RX_CSUM1;
            return;
        }
        g->sum = (uint8_t)(g->sum + c);
        if (g->rx_state == RX_DATA && c == '}') {
            g->rx_state = RX_ESC;
            return;
        }
        if (g->rx_state == RX_ESC) {
            c ^= 0x20;
            g->rx_state = RX_DATA;
        }
        if (g->pkt_len < GDB_PACKET_SIZE)
            g->pkt[g->pkt_len++] = (char)c;
        else
            g->pkt_overflow = true;
        return;
    case RX_CSUM1:
    case RX_CSUM2: {
        int v = hexval(c);
        if (v < 0) {
            g->csum = (uint8_t)~g->sum; /* a bad checksum digit: reject */
            g->rx_state = RX_IDLE;
            packet_done(g);
            return;
        }
        if (g->rx_state == RX_CSUM1) {
            g->csum = (uint8_t)(v << 4);
            g->rx_state = RX_CSUM2;
            return;
        }
        g->csum |= (uint8_t)v;
        g->rx_state = RX_IDLE;
        packet_done(g);
        return;
    }
    }
}

void gdb_stub_input(GdbStub *g, const uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rx_byte(g, buf[i]);
}

void gdb_stub_init(GdbStub *g, Machine *m, bool replay)
{
    memset(g, 0, sizeof *g);
    g->m = m;
    g->replay = replay;
    g->c_hart = -1;
}

void gdb_stub_free(GdbStub *g)
{
    free(g->out);
    g->out = NULL;
    g->out_len = g->out_cap = 0;
}
