/*
 * sifive_test.c - the finisher: lets a guest power off or reset the
 * machine (OpenSBI's and Linux's syscon-poweroff/reboot use it).
 *
 * Invariant: a write only ever sets m->exit_requested/exit_code or
 * m->reset_requested; the run loop acts on them at the next instruction
 * boundary. Only the register at offset 0 acts, for 16-bit and wider
 * writes, as in QEMU.
 */
#include "machine/dev/sifive_test.h"

#include <stdlib.h>

SifiveTest *sifive_test_new(Machine *m)
{
    SifiveTest *t = calloc(1, sizeof *t);
    if (t)
        t->m = m;
    return t;
}

void sifive_test_free(SifiveTest *t) { free(t); }

bool sifive_test_read(void *dev, uint64_t off, int size, uint64_t *val)
{
    *val = 0;
    return true;
}

bool sifive_test_write(void *dev, uint64_t off, int size, uint64_t val)
{
    SifiveTest *t = dev;
    /* OpenSBI's driver writes 16 bits, syscon regmaps 32 bits; QEMU
     * accepts both, with the exit code in the upper half of a 32-bit write */
    if (off != 0 || size < 2)
        return true;
    uint32_t v = (uint32_t)val;
    switch (v & 0xffff) {
    case SIFIVE_TEST_PASS:
        t->m->exit_requested = true;
        t->m->exit_code = 0;
        break;
    case SIFIVE_TEST_FAIL:
        t->m->exit_requested = true;
        t->m->exit_code = (int)(v >> 16);
        break;
    case SIFIVE_TEST_RESET:
        t->m->reset_requested = true;
        break;
    default:
        break;
    }
    return true;
}

void sifive_test_save(const SifiveTest *t, SerWriter *w) { ser_put_tag(w, "TEST", 1); }

bool sifive_test_load(SifiveTest *t, SerReader *r)
{
    if (ser_get_tag(r, "TEST") != 1)
        ser_fail(r, "test device state has an unknown version");
    return ser_ok(r);
}
