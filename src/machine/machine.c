/*
 * machine.c - the machine container: RAM, MMIO dispatch table, virtual time
 * and the deterministic round-robin hart scheduler.
 *
 * Invariants (see machine.h for the full list):
 *  - machine_run() never retires an instruction past its limit and never
 *    lets a hart run past the next timer deadline, so timer interrupts
 *    become pending at exactly the icount the virtual clock says.
 *  - The scheduler state (cur_hart, quantum_left) only changes as a function
 *    of retired instructions and hart state, never of where the caller
 *    chose to stop: stopping and resuming is invisible to the guest.
 *  - A hart's LR/SC reservation is dropped when its turn ends, which breaks
 *    every reservation that another hart's stores could have invalidated.
 *  - Nothing here visits every RAM page's contents: a page whose dirty byte
 *    is 0 is zero (DIRTY_WRITTEN), so reset, save and load look only at
 *    marked pages and cost what the guest touched, whatever -m says.
 *  - machine_load is all or nothing: the core state is rolled back from a
 *    copy saved first, and RAM is only written once the whole blob parsed.
 */
#include "machine/machine.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "machine/board.h"
#include "machine/dev/clint.h"
#include "machine/dev/goldfish_rtc.h"
#include "machine/cpu/hart.h"
#include "machine/dev/plic.h"

#define DEFAULT_QUANTUM 10000

static void *alloc_zeroed(size_t n)
{
    /* mmap gives zero pages lazily: a 4 GiB guest costs nothing until used */
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

Machine *machine_new(const MachineConfig *cfg, const MachineHostIf *host)
{
    char err[256];
    return machine_create(cfg, host, err, sizeof err);
}

Machine *machine_create(const MachineConfig *cfg, const MachineHostIf *host, char *err, size_t errlen)
{
    snprintf(err, errlen, "invalid configuration or out of memory");
    if (cfg->nharts < 1 || cfg->nharts > MACHINE_MAX_HARTS || cfg->ram_size < PAGE_SIZE ||
        cfg->ram_size % PAGE_SIZE || cfg->icount_shift < 0 || cfg->icount_shift > 10)
        return NULL;
    Machine *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cfg = *cfg;
    m->dbg.skip_hart = m->dbg.hit_hart = m->dbg.watch_hit = -1;
    m->cfg.append = cfg->append ? strdup(cfg->append) : NULL;
    if (!m->cfg.quantum)
        m->cfg.quantum = DEFAULT_QUANTUM;
    m->host = *host;
    m->ram_size = cfg->ram_size;
    m->ram = alloc_zeroed(m->ram_size);
    size_t npages = m->ram_size >> PAGE_SHIFT;
    m->code_pages = calloc(npages, 1);
    m->dirty_pages = calloc(npages, 1);
    m->pt_pages = calloc(npages, 1);
    m->bcache = bcache_new();
    if (!m->ram || !m->code_pages || !m->dirty_pages || !m->pt_pages || !m->bcache) {
        machine_free(m);
        return NULL;
    }
    /* no page is marked: RAM is all zero, and untouched pages stay untouched */
    m->nharts = cfg->nharts;
    for (int i = 0; i < m->nharts; i++) {
        m->harts[i] = hart_new(m, (uint64_t)i);
        if (!m->harts[i]) {
            machine_free(m);
            return NULL;
        }
    }
    m->quantum_left = m->cfg.quantum;
    if (!board_init(m, err, errlen)) {
        machine_free(m);
        return NULL;
    }
    return m;
}

bool machine_set_jit(Machine *m, int mode)
{
    if (bcache_set_jit(m, mode))
        return true;
    bcache_set_jit(m, 0);
    return false;
}

void machine_free(Machine *m)
{
    if (!m)
        return;
    board_free(m);
    for (int i = 0; i < m->nharts; i++)
        if (m->harts[i])
            hart_free(m->harts[i]);
    if (m->bcache)
        bcache_free(m->bcache);
    if (m->ram)
        munmap(m->ram, m->ram_size);
    free(m->code_pages);
    free(m->dirty_pages);
    free(m->pt_pages);
    free(m->cfg.append);
    free(m);
}

int machine_add_mmio(Machine *m, const MmioRegion *r)
{
    if (m->nmmio >= MACHINE_MAX_MMIO || r->size == 0)
        return -1;
    for (int i = 0; i < m->nmmio; i++) {
        const MmioRegion *o = &m->mmio[i];
        /* overlapping device regions would make dispatch order-dependent */
        if (r->base < o->base + o->size && o->base < r->base + r->size)
            return -1;
    }
    m->mmio[m->nmmio++] = *r;
    return 0;
}

int machine_timer_register(Machine *m, MachineTimer *t)
{
    if (m->ntimers >= MACHINE_MAX_TIMERS)
        return -1;
    t->deadline_ns = MACHINE_TIMER_OFF;
    m->timers[m->ntimers++] = t;
    return 0;
}

void machine_timer_arm(Machine *m, MachineTimer *t, uint64_t deadline_ns)
{
    t->deadline_ns = deadline_ns;
    m->timers_changed = true;
}

const MmioRegion *machine_find_mmio(const Machine *m, uint64_t paddr)
{
    for (int i = 0; i < m->nmmio; i++) {
        const MmioRegion *r = &m->mmio[i];
        if (paddr - r->base < r->size)
            return r;
    }
    return NULL;
}

/* --- virtual time --- */

/* The virtual time (ns) of the next timer event: a hart's mtimecmp or the
 * RTC alarm; UINT64_MAX when none is armed. */
static uint64_t next_deadline_vtime_ns(const Machine *m)
{
    uint64_t best = UINT64_MAX;
    if (m->clint) {
        uint64_t cmp = clint_next_deadline(m->clint);
        uint64_t tick_ns = 1000000000ull / MTIME_HZ;
        if (cmp != UINT64_MAX && cmp <= UINT64_MAX / tick_ns)
            best = cmp * tick_ns;
    }
    if (m->rtc) {
        uint64_t alarm = goldfish_rtc_next_deadline_ns(m->rtc);
        if (alarm < best)
            best = alarm;
    }
    for (int i = 0; i < m->ntimers; i++)
        if (m->timers[i]->deadline_ns < best)
            best = m->timers[i]->deadline_ns;
    return best;
}

uint64_t machine_next_deadline_icount(const Machine *m)
{
    uint64_t ns = next_deadline_vtime_ns(m);
    if (ns == UINT64_MAX)
        return UINT64_MAX;
    if (ns <= m->idle_ns)
        return m->icount;
    uint64_t busy_ns = ns - m->idle_ns;
    uint64_t shift = (uint64_t)m->cfg.icount_shift;
    uint64_t ic = (busy_ns >> shift) + ((busy_ns & ((1ull << shift) - 1)) != 0);
    return ic < m->icount ? m->icount : ic;
}

uint64_t machine_idle_ns_to_deadline(const Machine *m)
{
    uint64_t ns = next_deadline_vtime_ns(m), now = machine_vtime_ns(m);
    if (ns == UINT64_MAX)
        return UINT64_MAX;
    return ns > now ? ns - now : 0;
}

void machine_update_timers(Machine *m)
{
    if (m->clint)
        clint_update_mtip(m->clint);
    if (m->rtc)
        goldfish_rtc_update(m->rtc);
    /* device timers, in registration order; a fire may re-arm (its own or
     * another timer) only for a later time, or for now (then the next call
     * fires it: machine_run asks again before running) */
    uint64_t now = machine_vtime_ns(m);
    for (int i = 0; i < m->ntimers; i++) {
        MachineTimer *t = m->timers[i];
        if (t->deadline_ns <= now) {
            t->deadline_ns = MACHINE_TIMER_OFF;
            t->fire(t->opaque);
        }
    }
}

void machine_advance_idle(Machine *m, uint64_t ns)
{
    m->idle_ns += ns;
    machine_update_timers(m);
}

/* --- scheduler --- */

static bool hart_runnable(const Hart *h)
{
    return !h->wfi || (h->mip & h->mie) != 0;
}

static void next_hart(Machine *m)
{
    m->harts[m->cur_hart]->resv_valid = false;
    m->cur_hart = (m->cur_hart + 1) % m->nharts;
    m->quantum_left = m->cfg.quantum;
}

/* Every hart idles: the virtual ns to jump if the next deadline is an
 * idle_skip timer's (a device completing its own work), else UINT64_MAX
 * (the host decides how long idle time lasts: gate_idle). */
static uint64_t idle_skip_ns(const Machine *m)
{
    uint64_t next = next_deadline_vtime_ns(m), now = machine_vtime_ns(m);
    for (int i = 0; next != UINT64_MAX && i < m->ntimers; i++)
        if (m->timers[i]->idle_skip && m->timers[i]->deadline_ns == next)
            return next > now ? next - now : 0;
    return UINT64_MAX;
}

MachineStop machine_run(Machine *m, uint64_t icount_limit)
{
    for (;;) {
        if (m->exit_requested)
            return MSTOP_EXIT;
        if (m->reset_requested)
            return MSTOP_RESET;
        if (m->icount >= icount_limit)
            return MSTOP_LIMIT;
        m->timers_changed = false;
        uint64_t deadline = machine_next_deadline_icount(m);
        /* a device timer may re-arm for now (work left at this instant):
         * it fires again before any instruction runs */
        for (int rounds = 0; deadline <= m->icount; rounds++) {
            assert(rounds < 1000);
            machine_update_timers(m);
            deadline = machine_next_deadline_icount(m);
        }
        m->timers_changed = false;
        bool any = false;
        for (int i = 0; i < m->nharts; i++)
            any |= hart_runnable(m->harts[i]);
        if (!any) {
            uint64_t skip = idle_skip_ns(m);
            if (skip == UINT64_MAX)
                return MSTOP_IDLE;
            machine_advance_idle(m, skip);
            continue;
        }
        Hart *h = m->harts[m->cur_hart];
        if (!hart_runnable(h)) {
            next_hart(m);
            continue;
        }
        uint64_t budget = m->quantum_left;
        if (icount_limit - m->icount < budget)
            budget = icount_limit - m->icount;
        if (deadline - m->icount < budget)
            budget = deadline - m->icount;
        uint64_t before = m->icount;
        uint64_t n = hart_run(h, budget);
        assert(n <= budget && m->icount == before + n);
        (void)before;
        m->quantum_left -= n;
        if (m->quantum_left == 0 || h->wfi)
            next_hart(m);
        /* after the turn bookkeeping, so the state equals a stop by limit
         * at this icount (a breakpoint stop never ends a turn) */
        if (m->dbg.hit_hart >= 0)
            return MSTOP_BREAK;
    }
}

/* --- physical memory --- */

static void invalidate_code(Machine *m, uint64_t paddr, uint64_t n)
{
    if (n == 0)
        return;
    uint64_t first = (paddr - RAM_BASE) >> PAGE_SHIFT;
    uint64_t last = (paddr + n - 1 - RAM_BASE) >> PAGE_SHIFT;
    for (uint64_t p = first; p <= last; p++) {
        m->dirty_pages[p] = DIRTY_ALL;
        if (m->code_pages[p])
            bcache_invalidate_page(m, RAM_BASE + (p << PAGE_SHIFT));
        if (m->pt_pages[p] & PT_WALKED)
            mmu_pt_page_written(m);
    }
}

bool machine_phys_write(Machine *m, uint64_t paddr, const void *src, size_t n)
{
    if (!machine_is_ram(m, paddr, n))
        return false;
    memcpy(m->ram + (paddr - RAM_BASE), src, n);
    invalidate_code(m, paddr, n);
    return true;
}

bool machine_phys_read(Machine *m, uint64_t paddr, void *dst, size_t n)
{
    if (!machine_is_ram(m, paddr, n))
        return false;
    memcpy(dst, m->ram + (paddr - RAM_BASE), n);
    return true;
}

void machine_mark_dirty(Machine *m, uint64_t paddr, uint64_t n)
{
    if (machine_is_ram(m, paddr, n))
        invalidate_code(m, paddr, n);
}

size_t machine_next_marked(const Machine *m, size_t from, uint8_t bits)
{
    size_t npages = m->ram_size >> PAGE_SHIFT, i = from;
    const uint8_t *d = m->dirty_pages;
    uint64_t mask = 0x0101010101010101ull * bits;
    for (; i < npages && (i & 7); i++)
        if (d[i] & bits)
            return i;
    for (; i + 8 <= npages; i += 8) {
        uint64_t w;
        memcpy(&w, d + i, 8);
        if (w & mask)
            break;
    }
    for (; i < npages; i++)
        if (d[i] & bits)
            return i;
    return npages;
}

void machine_dirty_reset(Machine *m, uint8_t bits)
{
    size_t npages = m->ram_size >> PAGE_SHIFT;
    bits &= (uint8_t)~DIRTY_WRITTEN; /* not a consumer's bit: see machine.h */
    /* write only marked bytes: the map of an untouched RAM stays unbacked */
    for (size_t i = machine_next_marked(m, 0, bits); i < npages; i = machine_next_marked(m, i + 1, bits))
        m->dirty_pages[i] &= (uint8_t)~bits;
    /* write TLB entries let stores bypass dirty marking: drop them all */
    for (int i = 0; i < m->nharts; i++)
        mmu_tlb_flush(m->harts[i]);
}

void machine_set_irq(Machine *m, int irq, bool level)
{
    if (m->plic)
        plic_set_irq(m->plic, irq, level);
}

/* --- RAM pages: zeroing and the nonzero-page list --- */

static bool page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    for (size_t i = 0; i < PAGE_SIZE / 8; i++)
        if (w[i])
            return false;
    return true;
}

/* Give pages [first, first+n) back to the host as zero pages. The content
 * changed, so every consumer sees them dirty; DIRTY_WRITTEN is cleared
 * because they are known to be zero again. */
static void zero_pages(Machine *m, size_t first, size_t n)
{
    uint8_t *p = m->ram + (first << PAGE_SHIFT);
    size_t len = n << PAGE_SHIFT;
    /* MADV_DONTNEED on a private anonymous mapping reads back as zeros and
     * frees the memory; fall back to memset where the host refuses (a host
     * page larger than ours) */
    if (madvise(p, len, MADV_DONTNEED) != 0)
        memset(p, 0, len);
    for (size_t i = first; i < first + n; i++) {
        m->dirty_pages[i] = (uint8_t)(DIRTY_ALL & ~DIRTY_WRITTEN);
        if (m->code_pages[i])
            bcache_invalidate_page(m, RAM_BASE + ((uint64_t)i << PAGE_SHIFT));
    }
}

/* Zero every marked page, in runs (one madvise per run). */
static void zero_written_pages(Machine *m)
{
    /* any marked page, not only DIRTY_WRITTEN ones: code that writes RAM
     * behind the machine's back may set only its own bit */
    size_t npages = m->ram_size >> PAGE_SHIFT;
    for (size_t i = machine_next_marked(m, 0, DIRTY_ALL); i < npages;) {
        size_t j = i;
        while (j < npages && m->dirty_pages[j])
            j++;
        zero_pages(m, i, j - i);
        i = machine_next_marked(m, j, DIRTY_ALL);
    }
}

void machine_reset(Machine *m)
{
    zero_written_pages(m);
    bcache_flush(m);
    for (int i = 0; i < m->nharts; i++)
        hart_reset(m->harts[i], RAM_BASE);
    board_reset_devices(m);
    /* schedule and exit state as machine_new leaves them */
    m->cur_hart = 0;
    m->quantum_left = m->cfg.quantum;
    m->exit_requested = false;
    m->exit_code = 0;
    m->reset_requested = false;
    m->timers_changed = false;
    m->halt_reason = NULL;
}

/* --- state --- */

/* Version 2: RAM is a list of nonzero pages (version 1 held all of it). */
#define MACH_STATE_VERSION 2

void machine_save_core(const Machine *m, SerWriter *w)
{
    ser_put_tag(w, "MACH", MACH_STATE_VERSION);
    ser_put_u64(w, m->ram_size);
    ser_put_u32(w, (uint32_t)m->nharts);
    ser_put_u64(w, m->icount);
    ser_put_u64(w, m->idle_ns);
    ser_put_u32(w, (uint32_t)m->cur_hart);
    ser_put_u64(w, m->quantum_left);
    ser_put_u8(w, m->exit_requested);
    ser_put_u32(w, (uint32_t)m->exit_code);
    ser_put_u8(w, m->reset_requested);
    for (int i = 0; i < m->nharts; i++)
        hart_save(m->harts[i], w);
    board_save_devices(m, w);
}

/* RAM: u64 count, then count x (u64 page index, PAGE_SIZE bytes), indices
 * strictly increasing. Only marked pages can be nonzero; zero ones are
 * left out, so the blob of a machine is a function of its contents. */
void machine_save(const Machine *m, SerWriter *w)
{
    machine_save_core(m, w);
    size_t npages = m->ram_size >> PAGE_SHIFT;
    size_t count_at = w->len;
    ser_put_u64(w, 0); /* patched below */
    uint64_t count = 0;
    for (size_t i = machine_next_marked(m, 0, DIRTY_ALL); i < npages; i = machine_next_marked(m, i + 1, DIRTY_ALL)) {
        const uint8_t *p = m->ram + (i << PAGE_SHIFT);
        if (page_is_zero(p))
            continue;
        ser_put_u64(w, i);
        ser_put_bytes(w, p, PAGE_SIZE);
        count++;
    }
    if (!w->oom)
        for (int b = 0; b < 8; b++)
            w->buf[count_at + (size_t)b] = (uint8_t)(count >> (8 * b));
}

/* Load the core without any care for failure: the caller rolls back. */
static bool load_core_unguarded(Machine *m, SerReader *r)
{
    if (ser_get_tag(r, "MACH") != MACH_STATE_VERSION && ser_ok(r))
        ser_fail(r, "machine state has an unknown version");
    if (!ser_ok(r))
        return false;
    if (ser_get_u64(r) != m->ram_size || ser_get_u32(r) != (uint32_t)m->nharts) {
        ser_fail(r, "state was saved from a machine with different RAM size or hart count");
        return false;
    }
    m->icount = ser_get_u64(r);
    m->idle_ns = ser_get_u64(r);
    uint32_t cur = ser_get_u32(r);
    m->quantum_left = ser_get_u64(r);
    uint8_t exit_requested = ser_get_u8(r);
    m->exit_code = (int)ser_get_u32(r);
    uint8_t reset_requested = ser_get_u8(r);
    if (exit_requested > 1 || reset_requested > 1)
        ser_fail(r, "machine state has a bad boolean");
    if (cur >= (uint32_t)m->nharts || m->quantum_left == 0 || m->quantum_left > m->cfg.quantum)
        ser_fail(r, "machine state has an invalid schedule");
    m->exit_requested = exit_requested;
    m->reset_requested = reset_requested;
    m->cur_hart = ser_ok(r) ? (int)cur : 0;
    for (int i = 0; i < m->nharts && ser_ok(r); i++)
        hart_load(m->harts[i], r);
    if (ser_ok(r))
        board_load_devices(m, r);
    return ser_ok(r);
}

static void flush_caches(Machine *m)
{
    /* decoded blocks and TLBs are caches of state that just changed */
    bcache_flush(m);
    for (int i = 0; i < m->nharts; i++)
        mmu_tlb_flush(m->harts[i]);
}

/* Check the RAM page list at r's position without changing anything; on
 * success *count is its length and r is unchanged. */
static bool check_ram_list(const Machine *m, SerReader *r, uint64_t *count)
{
    SerReader peek = *r;
    uint64_t n = ser_get_u64(&peek), npages = m->ram_size >> PAGE_SHIFT;
    uint64_t left = peek.len - peek.pos;
    if (ser_ok(&peek) && (n > npages || n > left / (8 + PAGE_SIZE)))
        ser_fail(&peek, n > npages ? "RAM page list is longer than RAM" : "RAM page list is cut short");
    uint64_t next = 0;
    for (uint64_t k = 0; k < n && ser_ok(&peek); k++) {
        uint64_t idx = ser_get_u64(&peek);
        if (idx < next || idx >= npages)
            ser_fail(&peek, "RAM page list has an index out of order or out of range");
        peek.pos += PAGE_SIZE; /* in bounds: checked against `left` above */
        next = idx + 1;
    }
    if (!ser_ok(&peek)) {
        ser_fail(r, peek.err);
        return false;
    }
    *count = n;
    return true;
}

/* Apply a checked page list: listed pages are copied in, every other
 * marked page is zeroed; a page unmarked here and absent from the list is
 * zero on both sides and is not touched. */
static void load_ram_list(Machine *m, SerReader *r, uint64_t count)
{
    size_t npages = m->ram_size >> PAGE_SHIFT, i = 0;
    (void)ser_get_u64(r);
    for (uint64_t k = 0; k <= count; k++) {
        size_t idx = k < count ? (size_t)ser_get_u64(r) : npages;
        while ((i = machine_next_marked(m, i, DIRTY_ALL)) < idx) {
            size_t j = i;
            while (j < idx && m->dirty_pages[j])
                j++;
            zero_pages(m, i, j - i);
            i = j;
        }
        if (k == count)
            break;
        ser_get_bytes(r, m->ram + (idx << PAGE_SHIFT), PAGE_SIZE);
        m->dirty_pages[idx] = DIRTY_ALL;
        i = idx + 1;
    }
    assert(ser_ok(r));
}

/* Load the core, and the RAM list when `with_ram`; all or nothing. */
static bool load_atomic(Machine *m, SerReader *r, bool with_ram)
{
    SerWriter backup;
    ser_writer_init(&backup);
    machine_save_core(m, &backup);
    if (backup.oom) {
        ser_writer_free(&backup);
        ser_fail(r, "out of memory");
        return false;
    }
    uint64_t count = 0;
    bool ok = load_core_unguarded(m, r) && (!with_ram || check_ram_list(m, r, &count));
    if (!ok) {
        SerReader back;
        ser_reader_init(&back, backup.buf, backup.len);
        bool restored = load_core_unguarded(m, &back);
        assert(restored && back.pos == back.len); /* our own save always loads */
        (void)restored;
    } else if (with_ram) {
        load_ram_list(m, r, count);
    }
    ser_writer_free(&backup);
    flush_caches(m);
    return ok;
}

bool machine_load_core(Machine *m, SerReader *r)
{
    return load_atomic(m, r, false);
}

bool machine_load(Machine *m, SerReader *r)
{
    return load_atomic(m, r, true);
}
