/*
 * fuzz_gdb.c - libFuzzer harness for the gdb stub's packet parser and
 * dispatcher (src/debug/gdb_stub.c): arbitrary bytes from a "debugger"
 * against a small 2-hart machine, live or replay, with or without Sv39
 * translation (page tables in RAM the input itself may write with M/X).
 *
 * Checks: no crash, leak or undefined behaviour whatever the bytes; every
 * reply is a well-formed packet with a correct checksum; in replay mode
 * no input changes the machine (RAM and hart 0's registers compare equal).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug/gdb_stub.h"
#include "machine/cpu/hart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RAM (1u << 20)

static uint64_t no_clock(void *o) { (void)o; return 0; }
static void no_random(void *o, uint8_t *b, size_t n) { (void)o; memset(b, 0, n); }
static void no_console(void *o, const uint8_t *b, size_t n) { (void)o; (void)b; (void)n; }
static const MachineHostIf host = { NULL, no_clock, no_random, no_console };

static int hexv(int c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

/* Every "$...#xx" the stub produced has the right checksum. */
static void check_replies(const char *out, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (out[i] == '+' || out[i] == '-') {
            i++;
            continue;
        }
        assert(out[i] == '$');
        uint8_t sum = 0;
        for (i++; i < n && out[i] != '#'; i++)
            sum = (uint8_t)(sum + (uint8_t)out[i]);
        assert(i + 2 < n);
        assert(sum == (uint8_t)(hexv(out[i + 1]) << 4 | hexv(out[i + 2])));
        i += 3;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    MachineConfig cfg = { .ram_size = FUZZ_RAM, .nharts = 2, .quantum = 100 };
    Machine *m = machine_new(&cfg, &host);
    assert(m);
    for (int i = 0; i < m->nharts; i++)
        hart_reset(m->harts[i], RAM_BASE);
    if (mode & 2) { /* Sv39, root table at the start of RAM, S-mode */
        m->harts[0]->satp = (8ull << 60) | (RAM_BASE >> PAGE_SHIFT);
        m->harts[0]->priv = PRV_S;
        mmu_update_ctx(m->harts[0]);
        /* a gigapage identity map of RAM so something translates */
        uint64_t pte = ((RAM_BASE >> PAGE_SHIFT) << 10) | 0xcf;
        memcpy(m->ram + 8 * ((RAM_BASE >> 30) & 511), &pte, 8);
    }
    GdbStub g;
    gdb_stub_init(&g, m, (mode & 1) != 0);
    uint8_t *ram_before = NULL;
    Hart h0;
    if (g.replay) {
        ram_before = malloc(FUZZ_RAM);
        assert(ram_before);
        memcpy(ram_before, m->ram, FUZZ_RAM);
        memcpy(&h0, m->harts[0], offsetof(Hart, tlb));
    }
    /* feed in a few chunks, as reads from a socket would split it */
    size_t pos = 1, chunk = 1 + (mode >> 4);
    while (pos < size) {
        size_t n = size - pos < chunk ? size - pos : chunk;
        gdb_stub_input(&g, data + pos, n);
        pos += n;
        chunk = chunk * 3 + 1;
        g.resume = GDB_RESUME_NONE;
    }
    check_replies(g.out, g.out_len);
    if (g.replay) {
        assert(memcmp(ram_before, m->ram, FUZZ_RAM) == 0);
        assert(memcmp(&h0, m->harts[0], offsetof(Hart, tlb)) == 0);
        free(ram_before);
    }
    gdb_stub_free(&g);
    machine_free(m);
    return 0;
}
