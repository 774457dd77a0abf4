/*
 * checkpoint.c - state digests for divergence detection; see checkpoint.h
 * for the invariants and docs/LOG_FORMAT.md for the payload layout.
 *
 * Hart state is read from the struct fields directly (never through the
 * CSR access functions, which apply privilege checks and side effects) and
 * flattened into a fixed, named list of 64-bit values: the payload carries
 * the raw values so a report can say "a0 (x10) recorded 0x5 replayed 0x6".
 *
 * Page hashes are kept XORed with the zero page's hash, so the zero page is
 * stored as 0: the tables start calloc'd and untouched, and only pages the
 * machine marks written (m->dirty_pages, see DIRTY_WRITTEN) are ever hashed
 * or stored. Cost follows what the guest touched, not -m (the root hash
 * still streams the whole table: 8 bytes per page, no RAM read).
 *
 * Verification captures the replayed state with the same code that
 * captured the recorded one, parses both payloads with the same parser, and
 * compares the parsed forms: there is one encoder and one decoder. A digest
 * is the XXH3_64 of that encoder's output with an empty page list, so it
 * covers exactly what a full checkpoint compares.
 */
#include "checkpoint.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "machine/board.h"
#include "machine/cpu/hart.h"
#include "varint.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.c hashes arrays of uint64_t as little-endian bytes"
#endif

#define CKPT_MAX_DEVICES 64
#define CKPT_MAX_DEVICE_NAME 64

/* ------------------------------------------------------------------ */
/* the named hart fields */

static const char *const XREG_ABI[32] = {
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0",
    "a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5",
    "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
};
static const char *const FREG_ABI[32] = {
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0",
    "fa1", "fa2", "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5",
    "fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
};

/* uint64_t CSR fields of struct Hart, in payload order */
typedef struct CsrField {
    const char *name;
    size_t offset;
} CsrField;

#define CSR(f) {#f, offsetof(Hart, f)}
static const CsrField CSR_FIELDS[] = {
    CSR(instret), CSR(mstatus), CSR(misa), CSR(medeleg), CSR(mideleg), CSR(mie), CSR(mip),
    CSR(mtvec), CSR(mscratch), CSR(mepc), CSR(mcause), CSR(mtval), CSR(mcounteren),
    CSR(mcountinhibit), CSR(menvcfg), {"pmpcfg0", offsetof(Hart, pmpcfg[0])},
    {"pmpcfg2", offsetof(Hart, pmpcfg[1])}, CSR(stvec), CSR(sscratch), CSR(sepc),
    CSR(scause), CSR(stval), CSR(satp), CSR(scounteren), CSR(senvcfg), CSR(mhartid),
};
#undef CSR
#define NUM_CSR_FIELDS (sizeof CSR_FIELDS / sizeof CSR_FIELDS[0])

/* Field layout: pc, priv, x1..x31, f0..f31, fflags, frm, CSR_FIELDS,
 * pmpaddr0..15, reservation address, reservation valid, wfi. */
enum {
    F_PC = 0,
    F_PRIV = 1,
    F_X1 = 2,
    F_F0 = F_X1 + 31,
    F_FFLAGS = F_F0 + 32,
    F_FRM,
    F_CSR0,
    F_PMPADDR0 = F_CSR0 + (int)NUM_CSR_FIELDS,
    F_RESV_ADDR = F_PMPADDR0 + NUM_PMP,
    F_RESV_VALID,
    F_WFI,
    HART_NFIELDS
};

/* The count is part of checkpoint format 1 (docs/LOG_FORMAT.md). A new
 * architectural field in struct Hart means a new format. The per-instruction
 * scratch fields (suppress_instret, exc_cause, exc_tval) and the TLBs are not
 * state between instructions and are left out. */
_Static_assert(HART_NFIELDS == 112, "hart field list changed: bump CHECKPOINT_FORMAT");

static void hart_fields(const Hart *h, uint64_t v[HART_NFIELDS])
{
    v[F_PC] = h->pc;
    v[F_PRIV] = (uint64_t)h->priv;
    for (int i = 1; i < 32; i++)
        v[F_X1 + i - 1] = h->x[i];
    for (int i = 0; i < 32; i++)
        v[F_F0 + i] = h->f[i];
    v[F_FFLAGS] = h->fflags;
    v[F_FRM] = h->frm;
    for (size_t i = 0; i < NUM_CSR_FIELDS; i++) {
        uint64_t val;
        memcpy(&val, (const uint8_t *)h + CSR_FIELDS[i].offset, sizeof val);
        v[F_CSR0 + i] = val;
    }
    for (int i = 0; i < NUM_PMP; i++)
        v[F_PMPADDR0 + i] = h->pmpaddr[i];
    v[F_RESV_ADDR] = h->resv_addr;
    v[F_RESV_VALID] = h->resv_valid;
    v[F_WFI] = h->wfi;
}

static void field_name(int i, char *buf, size_t cap)
{
    if (i == F_PC)
        snprintf(buf, cap, "pc");
    else if (i == F_PRIV)
        snprintf(buf, cap, "privilege");
    else if (i < F_F0)
        snprintf(buf, cap, "%s (x%d)", XREG_ABI[i - F_X1 + 1], i - F_X1 + 1);
    else if (i < F_FFLAGS)
        snprintf(buf, cap, "%s (f%d)", FREG_ABI[i - F_F0], i - F_F0);
    else if (i == F_FFLAGS)
        snprintf(buf, cap, "fflags");
    else if (i == F_FRM)
        snprintf(buf, cap, "frm");
    else if (i < F_PMPADDR0)
        snprintf(buf, cap, "%s", CSR_FIELDS[i - F_CSR0].name);
    else if (i < F_RESV_ADDR)
        snprintf(buf, cap, "pmpaddr%d", i - F_PMPADDR0);
    else if (i == F_RESV_ADDR)
        snprintf(buf, cap, "reservation address");
    else if (i == F_RESV_VALID)
        snprintf(buf, cap, "reservation valid");
    else
        snprintf(buf, cap, "wfi");
}

/* ------------------------------------------------------------------ */
/* payload parsing */

typedef struct CkptDevice {
    const uint8_t *name;
    size_t name_len;
    uint64_t hash;
} CkptDevice;

/* A parsed payload; pointers refer into the payload bytes. */
typedef struct CkptView {
    uint64_t icount, idle_ns, cur_hart, quantum_left;
    uint32_t nharts;
    uint64_t hart[MACHINE_MAX_HARTS][HART_NFIELDS];
    uint32_t ndev;
    CkptDevice dev[CKPT_MAX_DEVICES];
    uint64_t npages;
    uint64_t nchanged;
    const uint8_t *changes, *changes_end; /* (index delta, hash) pairs */
    uint64_t ram_root;
} CkptView;

typedef struct PCur {
    const uint8_t *p, *end;
    const char *why;
} PCur;

static uint64_t pc_varint(PCur *c)
{
    uint64_t v = 0;
    if (!c->why && !varint_get(&c->p, c->end, &v))
        c->why = "a number is cut or overlong";
    return c->why ? 0 : v;
}

static uint64_t pc_u64(PCur *c)
{
    if (c->why)
        return 0;
    if (c->end - c->p < 8) {
        c->why = "it is cut short";
        return 0;
    }
    uint64_t v;
    memcpy(&v, c->p, 8);
    c->p += 8;
    return v;
}

/* Walk the (index delta, hash) list; calls fn for each page when fn != NULL.
 * Indices are strictly increasing and below npages, or `why` is set. */
static bool walk_changes(const uint8_t *p, const uint8_t *end, uint64_t nchanged, uint64_t npages,
                         void (*fn)(void *ctx, uint64_t page, uint64_t hash), void *ctx, const char **why)
{
    PCur c = {p, end, NULL};
    uint64_t next = 0; /* lowest index the next entry may name */
    for (uint64_t i = 0; i < nchanged && !c.why; i++) {
        uint64_t delta = pc_varint(&c);
        uint64_t hash = pc_u64(&c);
        if (c.why)
            break;
        if (delta >= npages || next > npages - 1 - delta) {
            c.why = "a RAM page index is out of range";
            break;
        }
        uint64_t page = next + delta;
        if (fn)
            fn(ctx, page, hash);
        next = page + 1;
    }
    if (!c.why && c.p != end)
        c.why = "the RAM page list has trailing bytes";
    *why = c.why;
    return !c.why;
}

static bool parse_payload(const uint8_t *payload, size_t len, CkptView *v, const char **why)
{
    PCur c = {payload, payload + len, NULL};
    memset(v, 0, sizeof *v);
    if (len == 0 || payload[0] != CHECKPOINT_FORMAT) {
        *why = len ? "it has an unknown checkpoint format number" : "it is empty";
        return false;
    }
    c.p++;
    v->icount = pc_varint(&c);
    v->idle_ns = pc_varint(&c);
    v->cur_hart = pc_varint(&c);
    v->quantum_left = pc_varint(&c);
    uint64_t nharts = pc_varint(&c);
    uint64_t nfields = pc_varint(&c);
    if (!c.why && (nharts > MACHINE_MAX_HARTS))
        c.why = "its hart count is out of range";
    if (!c.why && nfields != HART_NFIELDS)
        c.why = "its hart field count differs from this rrvm's";
    if (c.why) {
        *why = c.why;
        return false;
    }
    v->nharts = (uint32_t)nharts;
    for (uint32_t h = 0; h < v->nharts; h++)
        for (int i = 0; i < HART_NFIELDS; i++)
            v->hart[h][i] = pc_u64(&c);
    uint64_t ndev = pc_varint(&c);
    if (!c.why && ndev > CKPT_MAX_DEVICES)
        c.why = "its device count is out of range";
    for (uint64_t d = 0; d < ndev && !c.why; d++) {
        uint64_t nlen = pc_varint(&c);
        if (!c.why && (nlen > CKPT_MAX_DEVICE_NAME || nlen > (uint64_t)(c.end - c.p))) {
            c.why = "a device name is too long";
            break;
        }
        if (c.why)
            break;
        v->dev[d].name = c.p;
        v->dev[d].name_len = (size_t)nlen;
        c.p += nlen;
        v->dev[d].hash = pc_u64(&c);
    }
    v->ndev = (uint32_t)(c.why ? 0 : ndev);
    v->npages = pc_varint(&c);
    v->nchanged = pc_varint(&c);
    if (!c.why && v->nchanged > v->npages)
        c.why = "it lists more changed pages than RAM has";
    /* the page list sits between here and the trailing 8-byte root */
    if (!c.why && c.end - c.p < 8)
        c.why = "it is cut short";
    if (c.why) {
        *why = c.why;
        return false;
    }
    v->changes = c.p;
    v->changes_end = c.end - 8;
    memcpy(&v->ram_root, c.end - 8, 8);
    return walk_changes(v->changes, v->changes_end, v->nchanged, v->npages, NULL, NULL, why);
}

/* ------------------------------------------------------------------ */
/* page hashes */

static uint64_t zero_page_hash(void)
{
    static const uint8_t zero_page[PAGE_SIZE];
    return XXH3_64bits(zero_page, sizeof zero_page);
}

static uint64_t page_hash_of(const Machine *m, size_t i)
{
    return XXH3_64bits(m->ram + (i << PAGE_SHIFT), PAGE_SIZE);
}

/* XXH3_64 over the real page hashes (table entries XOR zero_hash), as if
 * over one array of npages uint64_t: the payload's root. */
static uint64_t root_hash(const uint64_t *table, size_t npages, uint64_t zero_hash)
{
    enum { CHUNK = 512 };
    uint64_t buf[CHUNK];
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        abort(); /* 600 bytes: failing here means the host is out of memory */
    XXH3_64bits_reset(st);
    for (size_t i = 0; i < npages; i += CHUNK) {
        size_t n = npages - i < CHUNK ? npages - i : CHUNK;
        for (size_t k = 0; k < n; k++)
            buf[k] = table[i + k] ^ zero_hash;
        XXH3_64bits_update(st, buf, n * sizeof *buf);
    }
    uint64_t root = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return root;
}

/* ------------------------------------------------------------------ */
/* capture */

bool checkpoint_init(CheckpointState *cs, Machine *m)
{
    memset(cs, 0, sizeof *cs);
    cs->npages = (size_t)(m->ram_size >> PAGE_SHIFT);
    cs->zero_hash = zero_page_hash();
    size_t n = cs->npages ? cs->npages : 1;
    cs->page_hash = calloc(n, sizeof *cs->page_hash);
    cs->rec_page_hash = calloc(n, sizeof *cs->rec_page_hash);
    cs->since_full = calloc(n, 1);
    if (!cs->page_hash || !cs->rec_page_hash || !cs->since_full) {
        checkpoint_free(cs);
        return false;
    }
    /* unmarked pages are zero, which the calloc'd tables already say */
    for (size_t i = machine_next_marked(m, 0, DIRTY_ALL); i < cs->npages; i = machine_next_marked(m, i + 1, DIRTY_ALL)) {
        cs->page_hash[i] = page_hash_of(m, i) ^ cs->zero_hash;
        cs->rec_page_hash[i] = cs->page_hash[i];
    }
    machine_dirty_reset(m, DIRTY_DIGEST);
    return true;
}

void checkpoint_free(CheckpointState *cs)
{
    free(cs->page_hash);
    free(cs->rec_page_hash);
    free(cs->since_full);
    memset(cs, 0, sizeof *cs);
}

typedef struct DevCollect {
    SerWriter *w;
    uint32_t count;
} DevCollect;

static void collect_device(void *ctx, const char *name, const uint8_t *p, size_t n)
{
    DevCollect *dc = ctx;
    size_t nlen = strlen(name);
    assert(nlen <= CKPT_MAX_DEVICE_NAME);
    varint_put(dc->w, nlen);
    ser_put_bytes(dc->w, name, nlen);
    ser_put_u64(dc->w, XXH3_64bits(p, n));
    dc->count++;
}

/* Re-hash the pages written since the last capture, note those whose hash
 * changed in since_full, and start a new dirty interval. */
static void rehash_dirty_pages(Machine *m, CheckpointState *cs)
{
    for (size_t i = machine_next_marked(m, 0, DIRTY_DIGEST); i < cs->npages;
         i = machine_next_marked(m, i + 1, DIRTY_DIGEST)) {
        uint64_t hash = page_hash_of(m, i) ^ cs->zero_hash;
        if (hash == cs->page_hash[i])
            continue;
        cs->page_hash[i] = hash;
        cs->since_full[i] = 1;
    }
    machine_dirty_reset(m, DIRTY_DIGEST);
}

/* The pages changed since the last full capture, as (index delta, hash)
 * pairs into `list`; clears since_full. Returns their number. */
static uint64_t take_page_list(CheckpointState *cs, SerWriter *list)
{
    uint64_t n = 0, next = 0;
    const uint8_t *p = cs->since_full, *end = cs->since_full + cs->npages;
    while ((p = memchr(p, 1, (size_t)(end - p))) != NULL) {
        size_t i = (size_t)(p - cs->since_full);
        varint_put(list, i - next);
        ser_put_u64(list, cs->page_hash[i] ^ cs->zero_hash);
        cs->since_full[i] = 0;
        next = i + 1;
        n++;
        p++;
    }
    return n;
}

/* A format-1 payload of the current state; with_pages false gives the
 * empty page list a digest is taken over. Pages must be re-hashed first. */
static void encode_full(Machine *m, CheckpointState *cs, SerWriter *out, bool with_pages)
{
    ser_put_u8(out, CHECKPOINT_FORMAT);
    varint_put(out, m->icount);
    varint_put(out, m->idle_ns);
    varint_put(out, (uint64_t)m->cur_hart);
    varint_put(out, m->quantum_left);
    varint_put(out, (uint64_t)m->nharts);
    varint_put(out, HART_NFIELDS);
    for (int h = 0; h < m->nharts; h++) {
        uint64_t v[HART_NFIELDS];
        hart_fields(m->harts[h], v);
        for (int i = 0; i < HART_NFIELDS; i++)
            ser_put_u64(out, v[i]);
    }

    SerWriter tmp;
    ser_writer_init(&tmp);
    DevCollect dc = {&tmp, 0};
    (cs->foreach_device ? cs->foreach_device : board_foreach_device_state)(m, collect_device, &dc);
    assert(dc.count <= CKPT_MAX_DEVICES);
    varint_put(out, dc.count);
    ser_put_bytes(out, tmp.buf, tmp.len);

    tmp.len = 0;
    uint64_t nchanged = with_pages ? take_page_list(cs, &tmp) : 0;
    varint_put(out, cs->npages);
    varint_put(out, nchanged);
    ser_put_bytes(out, tmp.buf, tmp.len);
    ser_put_u64(out, root_hash(cs->page_hash, cs->npages, cs->zero_hash));
    ser_writer_free(&tmp);
}

void checkpoint_capture(Machine *m, CheckpointState *cs, SerWriter *out)
{
    assert(cs->page_hash && cs->npages == (size_t)(m->ram_size >> PAGE_SHIFT));
    rehash_dirty_pages(m, cs);
    encode_full(m, cs, out, true);
}

void checkpoint_capture_digest(Machine *m, CheckpointState *cs, SerWriter *out)
{
    assert(cs->page_hash && cs->npages == (size_t)(m->ram_size >> PAGE_SHIFT));
    rehash_dirty_pages(m, cs);
    SerWriter full;
    ser_writer_init(&full);
    encode_full(m, cs, &full, false);
    ser_put_u8(out, CHECKPOINT_FORMAT_DIGEST);
    ser_put_u64(out, full.oom ? 0 : XXH3_64bits(full.buf, full.len));
    if (full.oom)
        out->oom = true; /* the caller reports it */
    ser_writer_free(&full);
}

bool checkpoint_is_digest(const uint8_t *payload, size_t len)
{
    return len >= 1 && payload[0] == CHECKPOINT_FORMAT_DIGEST;
}

/* ------------------------------------------------------------------ */
/* schedule */

void checkpoint_sched_start(CheckpointSchedule *sc, uint64_t base, uint64_t max, uint64_t full, uint64_t icount)
{
    assert(base >= 1 && max >= base);
    sc->base = base;
    sc->max = max;
    sc->full = full;
    sc->spacing = base;
    sc->next_due = icount + base;
    sc->next_full = icount + full;
}

void checkpoint_sched_input(CheckpointSchedule *sc, uint64_t icount)
{
    sc->spacing = sc->base;
    if (sc->next_due > icount + sc->base)
        sc->next_due = icount + sc->base;
}

bool checkpoint_sched_take(CheckpointSchedule *sc, uint64_t icount)
{
    assert(icount >= sc->next_due);
    bool full = icount >= sc->next_full;
    if (full)
        sc->next_full = icount + sc->full;
    sc->next_due = icount + sc->spacing;
    sc->spacing = sc->spacing > sc->max / 2 ? sc->max : sc->spacing * 2;
    assert(sc->spacing >= sc->base && sc->spacing <= sc->max && sc->next_due > icount);
    return full;
}

/* ------------------------------------------------------------------ */
/* verification */

typedef struct Report {
    char *buf;
    size_t cap, len;
} Report;

static void rep(Report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rep(Report *r, const char *fmt, ...)
{
    if (r->cap == 0 || r->len >= r->cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf + r->len, r->cap - r->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= r->cap - r->len) {
        r->len = r->cap - 1;
        /* mark the cut so a reader knows the report is incomplete */
        if (r->cap > 5)
            memcpy(r->buf + r->cap - 5, "...\n", 5);
    } else {
        r->len += (size_t)n;
    }
}

static void set_rec_page(void *ctx, uint64_t page, uint64_t hash)
{
    CheckpointState *cs = ctx;
    cs->rec_page_hash[page] = hash ^ cs->zero_hash;
}

static void report_ram(Report *r, const CheckpointState *cs)
{
    enum { MAX_RANGES = 16 };
    size_t nranges = 0, npages = 0;
    for (size_t i = 0; i < cs->npages;) {
        if (cs->rec_page_hash[i] == cs->page_hash[i]) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < cs->npages && cs->rec_page_hash[j] != cs->page_hash[j])
            j++;
        if (nranges < MAX_RANGES)
            rep(r, "RAM differs: 0x%" PRIx64 "-0x%" PRIx64 " (%zu page%s)\n",
                (uint64_t)(RAM_BASE + ((uint64_t)i << PAGE_SHIFT)),
                (uint64_t)(RAM_BASE + ((uint64_t)j << PAGE_SHIFT) - 1), j - i,
                j - i == 1 ? "" : "s");
        nranges++;
        npages += j - i;
        i = j;
    }
    if (nranges > MAX_RANGES)
        rep(r, "RAM differs in %zu more ranges (%zu pages in all)\n", nranges - MAX_RANGES, npages);
}

static bool compare_views(const CkptView *rec, const CkptView *rep_v, const CheckpointState *cs,
                          bool rec_chain_ok, Report *r)
{
    bool same = true;
    rep(r, "divergence at checkpoint, icount %" PRIu64 ":\n", rec->icount);
#define SCALAR(field, label)                                                      \
    if (rec->field != rep_v->field) {                                             \
        rep(r, "%s recorded %" PRIu64 " replayed %" PRIu64 "\n", label,           \
            (uint64_t)rec->field, (uint64_t)rep_v->field);                        \
        same = false;                                                             \
    }
    SCALAR(icount, "icount")
    SCALAR(idle_ns, "idle time (ns)")
    SCALAR(cur_hart, "scheduled hart")
    SCALAR(quantum_left, "quantum left")
    SCALAR(nharts, "hart count")
#undef SCALAR
    uint32_t nh = rec->nharts < rep_v->nharts ? rec->nharts : rep_v->nharts;
    for (uint32_t h = 0; h < nh; h++) {
        rep(r, "hart %u: pc recorded 0x%" PRIx64 " replayed 0x%" PRIx64 "\n", h, rec->hart[h][F_PC],
            rep_v->hart[h][F_PC]);
        for (int i = 0; i < HART_NFIELDS; i++) {
            if (rec->hart[h][i] == rep_v->hart[h][i])
                continue;
            same = false;
            if (i == F_PC)
                continue;
            char name[32];
            field_name(i, name, sizeof name);
            rep(r, "hart %u: %s recorded 0x%" PRIx64 " replayed 0x%" PRIx64 "\n", h, name, rec->hart[h][i],
                rep_v->hart[h][i]);
        }
    }
    bool dev_lists_match = rec->ndev == rep_v->ndev;
    for (uint32_t d = 0; dev_lists_match && d < rec->ndev; d++)
        dev_lists_match = rec->dev[d].name_len == rep_v->dev[d].name_len &&
                          memcmp(rec->dev[d].name, rep_v->dev[d].name, rec->dev[d].name_len) == 0;
    if (!dev_lists_match) {
        rep(r, "device list differs (recorded %u devices, replayed %u)\n", rec->ndev, rep_v->ndev);
        same = false;
    } else {
        for (uint32_t d = 0; d < rec->ndev; d++) {
            if (rec->dev[d].hash != rep_v->dev[d].hash) {
                rep(r, "device %.*s: state differs\n", (int)rec->dev[d].name_len, (const char *)rec->dev[d].name);
                same = false;
            }
        }
    }
    if (rec->npages != rep_v->npages) {
        rep(r, "RAM size differs: recorded %" PRIu64 " pages, replayed %" PRIu64 "\n", rec->npages,
            rep_v->npages);
        same = false;
    } else if (rec->ram_root != rep_v->ram_root || !rec_chain_ok) {
        same = false;
        if (!rec_chain_ok)
            rep(r, "RAM: the recorded page hashes do not add up to the recorded root "
                   "(a checkpoint was skipped or the replay started elsewhere)\n");
        report_ram(r, cs);
    }
    return same;
}

static bool digest_of_payload(const uint8_t *payload, size_t len, uint64_t *digest, const char **why)
{
    if (len != CHECKPOINT_DIGEST_LEN) {
        *why = "a digest checkpoint must hold 9 bytes";
        return false;
    }
    memcpy(digest, payload + 1, 8);
    return true;
}

static bool verify_digest(Machine *m, CheckpointState *cs, const uint8_t *payload, size_t len, Report *r)
{
    uint64_t rec, rpl;
    const char *why = NULL;
    if (!digest_of_payload(payload, len, &rec, &why)) {
        rep(r, "recorded checkpoint payload is malformed: %s\n", why);
        return false;
    }
    SerWriter w;
    ser_writer_init(&w);
    checkpoint_capture_digest(m, cs, &w);
    bool captured = !w.oom && w.len == CHECKPOINT_DIGEST_LEN;
    if (captured)
        memcpy(&rpl, w.buf + 1, 8);
    ser_writer_free(&w);
    if (!captured) {
        rep(r, "replayed checkpoint could not be captured: out of memory\n");
        return false;
    }
    if (rec == rpl)
        return true;
    rep(r, "divergence at checkpoint, icount %" PRIu64 ":\n", m->icount);
    rep(r, "state digest recorded %016" PRIx64 " replayed %016" PRIx64
           " (a digest checkpoint: which register, device or page differs is not recorded here)\n", rec, rpl);
    return false;
}

bool checkpoint_verify(Machine *m, CheckpointState *cs, const uint8_t *payload, size_t len,
                       char *report, size_t cap)
{
    Report r = {report, cap, 0};
    if (cap)
        report[0] = 0;
    if (checkpoint_is_digest(payload, len)) {
        bool same = verify_digest(m, cs, payload, len, &r);
        if (same && cap)
            report[0] = 0;
        return same;
    }
    CkptView *rec = malloc(sizeof *rec), *rpl = malloc(sizeof *rpl);
    SerWriter w;
    ser_writer_init(&w);
    bool same = false;
    const char *why = NULL;
    if (!rec || !rpl) {
        rep(&r, "checkpoint verification: out of memory\n");
        goto out;
    }
    if (!parse_payload(payload, len, rec, &why)) {
        rep(&r, "recorded checkpoint payload is malformed: %s\n", why);
        goto out;
    }
    if (rec->npages != cs->npages) {
        rep(&r, "recorded checkpoint describes %" PRIu64 " RAM pages but this machine has %zu\n", rec->npages,
            cs->npages);
        goto out;
    }
    checkpoint_capture(m, cs, &w);
    if (w.oom || !parse_payload(w.buf, w.len, rpl, &why)) {
        rep(&r, "replayed checkpoint could not be captured: %s\n", w.oom ? "out of memory" : why);
        goto out;
    }
    /* advance the mirror of the recorded page hashes */
    walk_changes(rec->changes, rec->changes_end, rec->nchanged, rec->npages, set_rec_page, cs, &why);
    bool chain_ok = root_hash(cs->rec_page_hash, cs->npages, cs->zero_hash) == rec->ram_root;
    same = compare_views(rec, rpl, cs, chain_ok, &r);
    if (same && cap)
        report[0] = 0;
out:
    free(rec);
    free(rpl);
    ser_writer_free(&w);
    return same;
}

bool checkpoint_payload_check(const uint8_t *payload, size_t len, const char **why)
{
    *why = NULL;
    if (checkpoint_is_digest(payload, len)) {
        uint64_t d;
        return digest_of_payload(payload, len, &d, why);
    }
    CkptView *v = malloc(sizeof *v);
    if (!v) {
        *why = "out of memory";
        return false;
    }
    bool ok = parse_payload(payload, len, v, why);
    free(v);
    return ok;
}

bool checkpoint_summary(const uint8_t *payload, size_t len, char *out, size_t cap)
{
    Report r = {out, cap, 0};
    if (cap)
        out[0] = 0;
    const char *why = NULL;
    if (checkpoint_is_digest(payload, len)) {
        uint64_t d;
        if (!digest_of_payload(payload, len, &d, &why)) {
            rep(&r, "malformed checkpoint: %s", why);
            return false;
        }
        rep(&r, "digest=%016" PRIx64, d);
        return true;
    }
    CkptView *v = malloc(sizeof *v);
    if (!v) {
        rep(&r, "out of memory");
        return false;
    }
    bool ok = parse_payload(payload, len, v, &why);
    if (!ok) {
        rep(&r, "malformed checkpoint: %s", why);
    } else {
        rep(&r, "icount=%" PRIu64, v->icount);
        for (uint32_t h = 0; h < v->nharts; h++)
            rep(&r, " pc%u=0x%" PRIx64, h, v->hart[h][F_PC]);
        rep(&r, " pages_changed=%" PRIu64 " ram_root=%016" PRIx64 " devices=%u", v->nchanged, v->ram_root, v->ndev);
    }
    free(v);
    return ok;
}

/* ------------------------------------------------------------------ */
/* whole-machine digest */

static void digest_device(void *ctx, const char *name, const uint8_t *p, size_t n)
{
    XXH3_state_t *st = ctx;
    uint64_t len = n;
    XXH3_64bits_update(st, name, strlen(name) + 1);
    XXH3_64bits_update(st, &len, sizeof len);
    XXH3_64bits_update(st, p, n);
}

uint64_t checkpoint_machine_digest(const Machine *m)
{
    return checkpoint_machine_digest_iter(m, board_foreach_device_state);
}

uint64_t checkpoint_machine_digest_iter(const Machine *m, CheckpointDeviceIter foreach_device)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        abort(); /* 600 bytes: failing here means the host is out of memory */
    XXH3_64bits_reset(st);
    uint64_t sched[5] = {m->icount, m->idle_ns, (uint64_t)m->cur_hart, m->quantum_left, (uint64_t)m->nharts};
    XXH3_64bits_update(st, sched, sizeof sched);
    for (int h = 0; h < m->nharts; h++) {
        uint64_t v[HART_NFIELDS];
        hart_fields(m->harts[h], v);
        XXH3_64bits_update(st, v, sizeof v);
    }
    /* RAM as (page index, page hash) for every nonzero page: only marked
     * pages can be nonzero, and a marked page that is zero again is left
     * out like an untouched one, so the digest depends on contents only */
    uint64_t npages = m->ram_size >> PAGE_SHIFT, zero_hash = zero_page_hash();
    XXH3_64bits_update(st, &npages, sizeof npages);
    for (uint64_t i = machine_next_marked(m, 0, DIRTY_ALL); i < npages;
         i = machine_next_marked(m, (size_t)i + 1, DIRTY_ALL)) {
        uint64_t ph[2] = {i, page_hash_of(m, (size_t)i)};
        if (ph[1] != zero_hash)
            XXH3_64bits_update(st, ph, sizeof ph);
    }
    foreach_device(m, digest_device, st);
    uint64_t d = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return d;
}
