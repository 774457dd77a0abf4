/*
 * clint.c - CLINT: software interrupts (msip) and the machine timer.
 *
 * Invariants:
 *  - After any access or clint_update_mtip(), each hart's MIP.MTIP equals
 *    machine_mtime(m) >= mtimecmp[h] and MIP.MSIP equals msip[h] & 1.
 *  - mtimecmp resets to UINT64_MAX: the ACLINT spec leaves it unknown, and
 *    "never" keeps MTIP clear until the guest programs the timer, which is
 *    what QEMU shows the guest.
 *  - Only 32-bit and 64-bit naturally aligned accesses are accepted, like
 *    QEMU; anything else is an access fault.
 */
#include "machine/dev/clint.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "machine/cpu/hart.h"

#define MSIP_OFF 0x0000
#define MTIMECMP_OFF 0x4000
#define MTIME_OFF 0xbff8

static Hart *clint_hart(const Clint *c, int h)
{
    assert(h >= 0 && h < c->nharts && h < c->m->nharts);
    assert(c->m->harts[h]);
    return c->m->harts[h];
}

void clint_reset(Clint *c)
{
    memset(c->msip, 0, sizeof c->msip);
    for (int h = 0; h < MACHINE_MAX_HARTS; h++)
        c->mtimecmp[h] = UINT64_MAX;
}

Clint *clint_new(Machine *m, int nharts)
{
    assert(nharts >= 1 && nharts <= MACHINE_MAX_HARTS);
    Clint *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->m = m;
    c->nharts = nharts;
    clint_reset(c);
    return c;
}

void clint_free(Clint *c) { free(c); }

static void update_hart_mtip(Clint *c, int h, uint64_t now)
{
    hart_set_mip(clint_hart(c, h), MIP_MTIP, now >= c->mtimecmp[h]);
}

void clint_update_mtip(Clint *c)
{
    uint64_t now = machine_mtime(c->m);
    for (int h = 0; h < c->nharts; h++)
        update_hart_mtip(c, h, now);
}

uint64_t clint_next_deadline(const Clint *c)
{
    uint64_t next = UINT64_MAX;
    for (int h = 0; h < c->nharts; h++) {
        if (clint_hart(c, h)->mip & MIP_MTIP)
            continue;
        if (c->mtimecmp[h] < next)
            next = c->mtimecmp[h];
    }
    return next;
}

/* Read `size` bytes at byte offset `sub` (0 or 4) of a 64-bit register. */
static uint64_t read_part(uint64_t reg, uint64_t sub, int size)
{
    return size == 8 ? reg : (uint32_t)(reg >> (8 * sub));
}

static uint64_t write_part(uint64_t reg, uint64_t sub, int size, uint64_t val)
{
    if (size == 8)
        return val;
    uint64_t mask = 0xffffffffull << (8 * sub);
    return (reg & ~mask) | ((val & 0xffffffffull) << (8 * sub));
}

static bool access_ok(uint64_t off, int size)
{
    return (size == 4 || size == 8) && (off & (uint64_t)(size - 1)) == 0;
}

bool clint_read(void *dev, uint64_t off, int size, uint64_t *val)
{
    Clint *c = dev;
    if (!access_ok(off, size))
        return false;
    *val = 0;
    if (off < MSIP_OFF + 4ull * (uint64_t)c->nharts) {
        if (size == 8) { /* two msip words in one access */
            uint64_t h = off / 4;
            uint64_t hi = h + 1 < (uint64_t)c->nharts ? c->msip[h + 1] : 0;
            *val = c->msip[h] | hi << 32;
        } else {
            *val = c->msip[off / 4];
        }
    } else if (off >= MTIMECMP_OFF && off < MTIMECMP_OFF + 8ull * (uint64_t)c->nharts) {
        uint64_t h = (off - MTIMECMP_OFF) / 8;
        *val = read_part(c->mtimecmp[h], (off - MTIMECMP_OFF) % 8, size);
    } else if (off >= MTIME_OFF && off < MTIME_OFF + 8) {
        *val = read_part(machine_mtime(c->m), off - MTIME_OFF, size);
    }
    return true;
}

static void write_msip(Clint *c, uint64_t h, uint32_t v)
{
    if (h >= (uint64_t)c->nharts)
        return;
    c->msip[h] = v & 1;
    hart_set_mip(clint_hart(c, (int)h), MIP_MSIP, c->msip[h] != 0);
}

bool clint_write(void *dev, uint64_t off, int size, uint64_t val)
{
    Clint *c = dev;
    if (!access_ok(off, size))
        return false;
    if (off < MSIP_OFF + 4ull * (uint64_t)c->nharts) {
        write_msip(c, off / 4, (uint32_t)val);
        if (size == 8)
            write_msip(c, off / 4 + 1, (uint32_t)(val >> 32));
    } else if (off >= MTIMECMP_OFF && off < MTIMECMP_OFF + 8ull * (uint64_t)c->nharts) {
        uint64_t h = (off - MTIMECMP_OFF) / 8;
        c->mtimecmp[h] = write_part(c->mtimecmp[h], (off - MTIMECMP_OFF) % 8, size, val);
        c->m->timers_changed = true;
        update_hart_mtip(c, (int)h, machine_mtime(c->m));
    }
    /* mtime writes are ignored: mtime is a function of virtual time. */
    return true;
}

void clint_save(const Clint *c, SerWriter *w)
{
    ser_put_tag(w, "CLNT", 1);
    ser_put_u32(w, (uint32_t)c->nharts);
    for (int h = 0; h < c->nharts; h++) {
        ser_put_u32(w, c->msip[h]);
        ser_put_u64(w, c->mtimecmp[h]);
    }
}

bool clint_load(Clint *c, SerReader *r)
{
    if (ser_get_tag(r, "CLNT") != 1)
        ser_fail(r, "CLINT state has an unknown version");
    if (ser_get_u32(r) != (uint32_t)c->nharts)
        ser_fail(r, "CLINT state is for a different number of harts");
    for (int h = 0; h < c->nharts && ser_ok(r); h++) {
        c->msip[h] = ser_get_u32(r) & 1;
        c->mtimecmp[h] = ser_get_u64(r);
    }
    if (!ser_ok(r)) {
        clint_reset(c);
        return false;
    }
    return true;
}
