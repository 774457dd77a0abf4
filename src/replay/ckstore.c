/*
 * ckstore.c - in-memory checkpoints as dirty-page deltas (see ckstore.h).
 *
 * Representation. Checkpoints sit in an array sorted by icount. Each holds
 * its machine_save_core blob, the caller's extra blob and its delta: one
 * PageCopy per RAM page written between its "base" (the checkpoint the
 * store last took or restored before taking it) and it. Every PageCopy is
 * also linked into its page's list, newest first, so "the content of page
 * p at checkpoint k" is the first copy in p's list at or before k's icount
 * (zero when there is none), found without looking at other pages.
 *
 * Invariants:
 *  - For every checkpoint k and page p, that lookup gives p's content at
 *    k. It holds because a delta is a superset of the pages *written*
 *    (never only "changed": a page written and written back would break
 *    a checkpoint inserted later in between) since a checkpoint at or
 *    before the new one; inserting a checkpoint between two others (after
 *    a backward restore) leaves the later delta a valid superset.
 *  - The machine's RAM equals the content at the base checkpoint except on
 *    pages whose DIRTY_TIMETRAVEL bit is set or that are in `pending` (the
 *    pages a dropped base held, see truncate). No base means no
 *    checkpoints: the next take copies every nonzero page.
 *  - Thinning (dropping checkpoint i) moves i's copies of pages checkpoint
 *    i+1 lacks to i+1 (page lists keep their order) and frees the others.
 *    The oldest, the newest and the base are never dropped.
 *  - An all-zero page copy is stored as a NULL pointer (no 4 KiB block).
 */
#include "ckstore.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "machine/cpu/hart.h" /* PAGE_SIZE, PAGE_SHIFT */

typedef struct PageCopy {
    struct PageCopy *newer, *older; /* the page's list, by icount */
    uint8_t *data;                  /* PAGE_SIZE bytes; NULL: all zero */
    uint64_t icount;                /* of the checkpoint holding it */
    uint32_t page;
} PageCopy;

typedef struct Ck {
    uint64_t icount;
    uint8_t *core;
    size_t core_len;
    uint8_t *extra;
    size_t extra_len;
    PageCopy **delta;
    size_t ndelta, delta_cap;
} Ck;

struct CkStore {
    uint64_t ram_size;
    int nharts;
    size_t npages;
    uint64_t budget, bytes, pages;
    Ck *cks;
    size_t n, cap;
    PageCopy **newest; /* per page: its newest copy, NULL if none */
    uint8_t *pending;  /* per page: may differ from the base's content */
    bool any_pending;
    bool has_base;
    uint64_t base;     /* icount of the base checkpoint */
    uint8_t *mark;     /* restore: page already listed (all 0 between calls) */
    uint32_t *todo;    /* restore: pages to rewrite */
};

static const uint8_t zero_page[PAGE_SIZE];

/* What one page copy costs against the budget (block, node, delta slot). */
static uint64_t copy_cost(const PageCopy *pc)
{
    return (pc->data ? PAGE_SIZE : 0) + sizeof(PageCopy) + sizeof(PageCopy *);
}

static uint64_t ck_fixed_cost(const Ck *c)
{
    return sizeof(Ck) + c->core_len + c->extra_len;
}

static bool page_is_zero(const uint8_t *p)
{
    return p[0] == 0 && memcmp(p, p + 1, PAGE_SIZE - 1) == 0;
}

/* ------------------------------------------------------------------ */
/* checkpoint array */

/* Number of checkpoints with icount <= ic (the insertion point after ic). */
static size_t count_at_or_before(const CkStore *cs, uint64_t ic)
{
    size_t lo = 0, hi = cs->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cs->cks[mid].icount <= ic)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool find_exact(const CkStore *cs, uint64_t ic, size_t *idx)
{
    size_t k = count_at_or_before(cs, ic);
    if (k == 0 || cs->cks[k - 1].icount != ic)
        return false;
    *idx = k - 1;
    return true;
}

static bool delta_reserve(Ck *c, size_t more)
{
    if (c->ndelta + more <= c->delta_cap)
        return true;
    size_t cap = c->delta_cap ? c->delta_cap : 64;
    while (cap < c->ndelta + more)
        cap *= 2;
    PageCopy **nd = realloc(c->delta, cap * sizeof *nd);
    if (!nd)
        return false;
    c->delta = nd;
    c->delta_cap = cap;
    return true;
}

/* ------------------------------------------------------------------ */
/* page lists */

static void copy_link(CkStore *cs, PageCopy *pc)
{
    PageCopy *newer = NULL, *older = cs->newest[pc->page];
    while (older && older->icount > pc->icount) {
        newer = older;
        older = older->older;
    }
    assert(!older || older->icount < pc->icount);
    pc->newer = newer;
    pc->older = older;
    if (newer)
        newer->older = pc;
    else
        cs->newest[pc->page] = pc;
    if (older)
        older->newer = pc;
}

static void copy_unlink_free(CkStore *cs, PageCopy *pc)
{
    if (pc->newer)
        pc->newer->older = pc->older;
    else
        cs->newest[pc->page] = pc->older;
    if (pc->older)
        pc->older->newer = pc->newer;
    cs->bytes -= copy_cost(pc);
    cs->pages -= pc->data != NULL;
    free(pc->data);
    free(pc);
}

/* Content of `page` at the checkpoint at icount `ic`. */
static const uint8_t *content_at(const CkStore *cs, uint32_t page, uint64_t ic)
{
    const PageCopy *pc = cs->newest[page];
    while (pc && pc->icount > ic)
        pc = pc->older;
    return pc && pc->data ? pc->data : zero_page;
}

/* ------------------------------------------------------------------ */
/* base and pending pages */

static void pending_clear(CkStore *cs)
{
    if (cs->any_pending)
        memset(cs->pending, 0, cs->npages);
    cs->any_pending = false;
}

static void pending_add_delta(CkStore *cs, const Ck *c)
{
    for (size_t i = 0; i < c->ndelta; i++)
        cs->pending[c->delta[i]->page] = 1;
    cs->any_pending |= c->ndelta > 0;
}

/* The machine now holds exactly checkpoint `ic`'s state. */
static void set_base(CkStore *cs, Machine *m, uint64_t ic)
{
    machine_dirty_reset(m, DIRTY_TIMETRAVEL);
    pending_clear(cs);
    cs->has_base = true;
    cs->base = ic;
}

static void ck_free_contents(CkStore *cs, Ck *c)
{
    for (size_t i = 0; i < c->ndelta; i++)
        copy_unlink_free(cs, c->delta[i]);
    cs->bytes -= ck_fixed_cost(c);
    free(c->delta);
    free(c->core);
    free(c->extra);
    memset(c, 0, sizeof *c);
}

/* Drop checkpoints [from, n); the base among them moves to from-1. */
static void drop_tail(CkStore *cs, size_t from)
{
    if (from >= cs->n)
        return;
    if (cs->has_base && cs->base >= cs->cks[from].icount) {
        size_t b;
        bool found = find_exact(cs, cs->base, &b);
        assert(found);
        (void)found;
        if (from == 0) {
            cs->has_base = false;
            pending_clear(cs);
        } else {
            /* RAM = content at the dropped base; it differs from the new
             * base's content only on pages the dropped deltas hold */
            for (size_t x = from; x <= b; x++)
                pending_add_delta(cs, &cs->cks[x]);
            cs->base = cs->cks[from - 1].icount;
        }
    }
    while (cs->n > from)
        ck_free_contents(cs, &cs->cks[--cs->n]);
}

/* ------------------------------------------------------------------ */
/* taking */

static PageCopy *copy_new(const Machine *m, uint32_t page, uint64_t ic)
{
    PageCopy *pc = calloc(1, sizeof *pc);
    if (!pc)
        return NULL;
    const uint8_t *src = m->ram + ((size_t)page << PAGE_SHIFT);
    if (!page_is_zero(src)) {
        pc->data = malloc(PAGE_SIZE);
        if (!pc->data) {
            free(pc);
            return NULL;
        }
        memcpy(pc->data, src, PAGE_SIZE);
    }
    pc->page = page;
    pc->icount = ic;
    return pc;
}

/* Whether page p goes into the delta of a checkpoint taken now. Without a
 * base (first checkpoint) every nonzero page does: dirty bits cannot be
 * trusted to cover what was loaded before the store existed. */
static bool page_in_delta(const CkStore *cs, const Machine *m, size_t p)
{
    if (!cs->has_base)
        return !page_is_zero(m->ram + (p << PAGE_SHIFT));
    return (m->dirty_pages[p] & DIRTY_TIMETRAVEL) || cs->pending[p];
}

static bool fill_delta(CkStore *cs, const Machine *m, Ck *c)
{
    for (size_t p = 0; p < cs->npages; p++) {
        if (!page_in_delta(cs, m, p))
            continue;
        PageCopy *pc = copy_new(m, (uint32_t)p, c->icount);
        if (!pc || !delta_reserve(c, 1)) {
            free(pc ? pc->data : NULL);
            free(pc);
            return false;
        }
        c->delta[c->ndelta++] = pc;
    }
    return true;
}

/* Free a checkpoint that was never linked into the store. */
static void ck_discard(Ck *c)
{
    for (size_t i = 0; i < c->ndelta; i++) {
        free(c->delta[i]->data);
        free(c->delta[i]);
    }
    free(c->delta);
    free(c->core);
    free(c->extra);
}

static bool ck_build(CkStore *cs, Machine *m, const void *extra, size_t extra_len, Ck *c)
{
    memset(c, 0, sizeof *c);
    c->icount = m->icount;
    SerWriter w;
    ser_writer_init(&w);
    machine_save_core(m, &w);
    c->core = w.buf; /* ownership moves to the checkpoint */
    c->core_len = w.len;
    if (w.oom || !c->core)
        return false;
    if (extra_len) {
        c->extra = malloc(extra_len);
        if (!c->extra)
            return false;
        memcpy(c->extra, extra, extra_len);
        c->extra_len = extra_len;
    }
    return fill_delta(cs, m, c);
}

static bool ck_insert(CkStore *cs, Ck *c)
{
    if (cs->n == cs->cap) {
        size_t cap = cs->cap ? 2 * cs->cap : 16;
        Ck *nc = realloc(cs->cks, cap * sizeof *nc);
        if (!nc)
            return false;
        cs->cks = nc;
        cs->cap = cap;
    }
    size_t at = count_at_or_before(cs, c->icount);
    memmove(&cs->cks[at + 1], &cs->cks[at], (cs->n - at) * sizeof *cs->cks);
    cs->cks[at] = *c;
    cs->n++;
    cs->bytes += ck_fixed_cost(c);
    for (size_t i = 0; i < c->ndelta; i++) {
        copy_link(cs, c->delta[i]);
        cs->bytes += copy_cost(c->delta[i]);
        cs->pages += c->delta[i]->data != NULL;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* thinning */

/* The checkpoint to drop: the one whose neighbours are closest together
 * relative to its distance from `now`, so spacing grows with distance. */
static bool pick_victim(const CkStore *cs, uint64_t now, size_t *victim)
{
    bool found = false;
    double best = 0;
    for (size_t i = 1; i + 1 < cs->n; i++) {
        const Ck *c = &cs->cks[i];
        if (cs->has_base && c->icount == cs->base)
            continue;
        uint64_t dist = c->icount > now ? c->icount - now : now - c->icount;
        double gap = (double)(cs->cks[i + 1].icount - cs->cks[i - 1].icount);
        double score = gap / ((double)dist + 1.0);
        if (!found || score < best) {
            best = score;
            *victim = i;
            found = true;
        }
    }
    return found;
}

/* Drop checkpoint i (not the oldest nor the newest): its copies of pages
 * that checkpoint i+1 lacks become i+1's. */
static bool drop_merge(CkStore *cs, size_t i)
{
    assert(i > 0 && i + 1 < cs->n);
    Ck *c = &cs->cks[i], *next = &cs->cks[i + 1];
    if (!delta_reserve(next, c->ndelta))
        return false;
    for (size_t j = 0; j < c->ndelta; j++) {
        PageCopy *pc = c->delta[j];
        if (pc->newer && pc->newer->icount == next->icount) {
            copy_unlink_free(cs, pc);
        } else {
            pc->icount = next->icount; /* no copy lies between: list order holds */
            next->delta[next->ndelta++] = pc;
        }
    }
    c->ndelta = 0;
    ck_free_contents(cs, c);
    memmove(&cs->cks[i], &cs->cks[i + 1], (cs->n - i - 1) * sizeof *cs->cks);
    cs->n--;
    return true;
}

static void thin(CkStore *cs, uint64_t now)
{
    size_t v = 0;
    while (cs->bytes > cs->budget && pick_victim(cs, now, &v))
        if (!drop_merge(cs, v))
            return;
}

/* ------------------------------------------------------------------ */
/* interface */

CkStore *ckstore_new(const Machine *m, uint64_t budget_bytes)
{
    CkStore *cs = calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    cs->ram_size = m->ram_size;
    cs->nharts = m->nharts;
    cs->npages = (size_t)(m->ram_size >> PAGE_SHIFT);
    cs->budget = budget_bytes;
    size_t n = cs->npages ? cs->npages : 1;
    cs->newest = calloc(n, sizeof *cs->newest);
    cs->pending = calloc(n, 1);
    cs->mark = calloc(n, 1);
    cs->todo = calloc(n, sizeof *cs->todo);
    if (!cs->newest || !cs->pending || !cs->mark || !cs->todo) {
        ckstore_free(cs);
        return NULL;
    }
    return cs;
}

void ckstore_free(CkStore *cs)
{
    if (!cs)
        return;
    drop_tail(cs, 0);
    free(cs->cks);
    free(cs->newest);
    free(cs->pending);
    free(cs->mark);
    free(cs->todo);
    free(cs);
}

void ckstore_clear(CkStore *cs)
{
    drop_tail(cs, 0);
}

void ckstore_forget_ram(CkStore *cs)
{
    memset(cs->pending, 1, cs->npages);
    cs->any_pending = true;
}

bool ckstore_take(CkStore *cs, Machine *m, const void *extra, size_t extra_len)
{
    assert(m->ram_size == cs->ram_size && m->nharts == cs->nharts);
    uint64_t now = m->icount;
    /* before the oldest or the base: not this store's timeline */
    if (cs->n && (now < cs->cks[0].icount || (cs->has_base && now < cs->base)))
        drop_tail(cs, 0);
    size_t idx;
    if (find_exact(cs, now, &idx)) {
        set_base(cs, m, now); /* deterministic: the machine is that checkpoint */
        return true;
    }
    Ck c;
    if (!ck_build(cs, m, extra, extra_len, &c) || !ck_insert(cs, &c)) {
        ck_discard(&c); /* dirty bits untouched: nothing is lost */
        return false;
    }
    set_base(cs, m, now);
    thin(cs, now);
    return true;
}

bool ckstore_find(const CkStore *cs, uint64_t target, uint64_t *icount)
{
    size_t k = count_at_or_before(cs, target);
    if (k == 0)
        return false;
    *icount = cs->cks[k - 1].icount;
    return true;
}

static void todo_add(CkStore *cs, size_t *n, uint32_t page)
{
    if (cs->mark[page])
        return;
    cs->mark[page] = 1;
    cs->todo[(*n)++] = page;
}

/* Pages whose content may differ between the machine and checkpoint k:
 * those written since the base, pending ones, and those a delta between
 * the base and k holds. */
static size_t collect_changed(CkStore *cs, const Machine *m, size_t k)
{
    size_t n = 0, b;
    bool found = find_exact(cs, cs->base, &b);
    assert(cs->has_base && found);
    (void)found;
    size_t lo = b < k ? b : k, hi = b < k ? k : b;
    for (size_t x = lo + 1; x <= hi; x++) {
        const Ck *c = &cs->cks[x];
        for (size_t i = 0; i < c->ndelta; i++)
            todo_add(cs, &n, c->delta[i]->page);
    }
    for (size_t p = 0; p < cs->npages; p++)
        if ((m->dirty_pages[p] & DIRTY_TIMETRAVEL) || cs->pending[p])
            todo_add(cs, &n, (uint32_t)p);
    return n;
}

bool ckstore_restore(CkStore *cs, Machine *m, uint64_t target, const void **extra, size_t *extra_len)
{
    assert(m->ram_size == cs->ram_size && m->nharts == cs->nharts);
    size_t k = count_at_or_before(cs, target);
    if (k == 0)
        return false;
    k--;
    const Ck *c = &cs->cks[k];
    size_t n = collect_changed(cs, m, k);
    for (size_t i = 0; i < n; i++) {
        uint32_t p = cs->todo[i];
        cs->mark[p] = 0;
        const uint8_t *want = content_at(cs, p, c->icount);
        uint64_t off = (uint64_t)p << PAGE_SHIFT;
        /* machine_phys_write marks the page for every consumer (digests
         * re-hash it) and drops decoded code from it */
        if (memcmp(m->ram + off, want, PAGE_SIZE) != 0)
            machine_phys_write(m, RAM_BASE + off, want, PAGE_SIZE);
    }
    set_base(cs, m, c->icount);
    SerReader r;
    ser_reader_init(&r, c->core, c->core_len);
    bool ok = machine_load_core(m, &r);
    assert(ok && "a core blob saved by this machine always loads");
    (void)ok;
    if (extra)
        *extra = c->extra;
    if (extra_len)
        *extra_len = c->extra_len;
    return true;
}

void ckstore_truncate_after(CkStore *cs, uint64_t icount)
{
    drop_tail(cs, count_at_or_before(cs, icount));
}

void ckstore_stats(const CkStore *cs, CkStoreStats *out)
{
    memset(out, 0, sizeof *out);
    out->count = cs->n;
    out->bytes = cs->bytes;
    out->budget = cs->budget;
    out->pages = cs->pages;
    if (cs->n) {
        out->oldest = cs->cks[0].icount;
        out->newest = cs->cks[cs->n - 1].icount;
    }
}
