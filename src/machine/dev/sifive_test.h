/*
 * sifive_test.h - SiFive test/finisher device at 0x100000.
 *
 * A 16- or 32-bit write of 0x5555 requests power-off with exit code 0,
 * (code << 16) | 0x3333 power-off with `code`, 0x7777 a reset; any other
 * value is ignored. Reads return 0. The device has no state.
 */
#ifndef RRVM_SIFIVE_TEST_H
#define RRVM_SIFIVE_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/machine.h"

#define SIFIVE_TEST_BASE 0x100000ull
#define SIFIVE_TEST_SIZE 0x1000ull
#define SIFIVE_TEST_FAIL 0x3333
#define SIFIVE_TEST_PASS 0x5555
#define SIFIVE_TEST_RESET 0x7777

typedef struct SifiveTest {
    Machine *m;
} SifiveTest;

SifiveTest *sifive_test_new(Machine *m);
void sifive_test_free(SifiveTest *t);
bool sifive_test_read(void *dev, uint64_t off, int size, uint64_t *val);
bool sifive_test_write(void *dev, uint64_t off, int size, uint64_t val);
void sifive_test_save(const SifiveTest *t, SerWriter *w);
bool sifive_test_load(SifiveTest *t, SerReader *r);

#endif
