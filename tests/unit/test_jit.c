/*
 * test_jit.c - the compiled-code engine (jit_x86.c, entered from exec.c;
 * blocks kept by bcache.c) against the interpreter: same
 * results, exact instruction budgets inside compiled blocks, and
 * --jit-check catching a block compiled wrongly (a deliberate bug from
 * jit_test_miscompile) with the interpreter's state left in place.
 *
 * The wider check is elsewhere: every test suite runs with $RRVM_JIT=on,
 * off and check (see the Makefile), and fuzz_hart runs checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/board.h"
#include "machine/cpu/hart.h"
#include "machine/cpu/jit.h"
#include "machine/machine.h"

/*
 *   li t1, 1000; li t0, 0; li t2, 0
 * loop:
 *   addi t0, t0, 1; add t2, t2, t0; blt t0, t1, loop
 *   li t3, 0x100000; li t4, 0x5555; sw t4, 0(t3)    # sifive test device: exit 0
 * 1: j 1b
 */
static const uint32_t prog_words[] = {
    0x3e800313, 0x00000293, 0x00000393, 0x00128293, 0x005383b3, 0xfe62cce3,
    0x00100e37, 0x00005eb7, 0x555e8e9b, 0x01de2023, 0x0000006f,
};
#define PROG_INSNS (3 + 3 * 1000 + 4) /* to the store that exits, included */

static uint64_t host_wallclock(void *opaque) { (void)opaque; return 1767225600000000000ull; }
static void host_random(void *opaque, uint8_t *buf, size_t n) { (void)opaque; memset(buf, 0x5a, n); }
static void host_console(void *opaque, const uint8_t *buf, size_t n) { (void)opaque; (void)buf; (void)n; }

static Machine *new_machine(int mode)
{
    MachineConfig cfg = {.ram_size = 16u << 20, .nharts = 1, .icount_shift = 0, .board_virt = true,
                         .rtc_base_ns = 1767225600000000000ull, .quantum = 1000};
    MachineHostIf host = {.wallclock_ns = host_wallclock, .random_bytes = host_random, .console_write = host_console};
    Machine *m = machine_new(&cfg, &host);
    assert_non_null(m);
    if (!machine_set_jit(m, mode))
        skip(); /* no code generator on this host */
    uint8_t image[sizeof prog_words];
    memcpy(image, prog_words, sizeof image); /* little-endian host */
    BootImages img = {.kernel = {image, sizeof image}};
    char err[256];
    if (!board_load(m, &img, err, sizeof err))
        fail_msg("board_load: %s", err);
    return m;
}

/* Run to the guest's exit in steps of at most `step` instructions. */
static MachineStop run_steps(Machine *m, uint64_t step)
{
    MachineStop s = MSTOP_LIMIT;
    while (s == MSTOP_LIMIT && m->icount < 100000) {
        uint64_t target = m->icount + step;
        s = machine_run(m, target);
        assert_true(m->icount <= target);
        if (s == MSTOP_LIMIT)
            assert_int_equal(m->icount, target); /* exact, also inside compiled blocks */
    }
    return s;
}

static void test_engines_agree(void **state)
{
    (void)state;
    static const int modes[] = {JIT_MODE_OFF, JIT_MODE_ON, JIT_MODE_CHECK};
    for (size_t i = 0; i < 3; i++) {
        Machine *m = new_machine(modes[i]);
        assert_int_equal(run_steps(m, 100000), MSTOP_EXIT);
        assert_int_equal(m->exit_code, 0);
        assert_int_equal(m->icount, PROG_INSNS);
        assert_int_equal(m->harts[0]->x[5], 1000);
        assert_int_equal(m->harts[0]->x[7], 500500);
        machine_free(m);
    }
}

/* Budgets that end inside the loop's block at every offset: compiled code
 * runs only whole blocks, the interpreter the rest. */
static void test_exact_budgets(void **state)
{
    (void)state;
    for (uint64_t step = 1; step <= 7; step++) {
        Machine *m = new_machine(JIT_MODE_ON);
        assert_int_equal(run_steps(m, step), MSTOP_EXIT);
        assert_int_equal(m->icount, PROG_INSNS);
        assert_int_equal(m->harts[0]->x[7], 500500);
        machine_free(m);
    }
}

/* Stop at icount N with the JIT and without: the same registers. */
static void test_stop_mid_loop(void **state)
{
    (void)state;
    for (uint64_t stop = 3; stop < 200; stop += 13) {
        Machine *a = new_machine(JIT_MODE_ON), *b = new_machine(JIT_MODE_OFF);
        /* warm up: blocks get hot and compiled before the stop */
        machine_run(a, stop);
        machine_run(b, stop);
        assert_int_equal(a->icount, stop);
        assert_int_equal(b->icount, stop);
        assert_memory_equal(a->harts[0]->x, b->harts[0]->x, sizeof a->harts[0]->x);
        assert_int_equal(a->harts[0]->pc, b->harts[0]->pc);
        machine_free(a);
        machine_free(b);
    }
}

static void test_check_catches_miscompile(void **state)
{
    (void)state;
    Machine *m = new_machine(JIT_MODE_CHECK);
    bcache_jit_test_miscompile(m, OP_ADD);
    assert_int_equal(run_steps(m, 100000), MSTOP_EXIT);
    assert_int_equal(m->exit_code, 125);
    assert_non_null(m->halt_reason);
    assert_non_null(strstr(m->halt_reason, "--jit-check"));
    /* it stopped at the first run of the bad block, with the interpreter's
     * (right) result in place: t0 = 1, t2 = 1 */
    assert_int_equal(m->harts[0]->x[5], 1);
    assert_int_equal(m->harts[0]->x[7], 1);
    machine_free(m);

    /* the same bug without the checker goes unnoticed: why the checker exists */
    m = new_machine(JIT_MODE_ON);
    bcache_jit_test_miscompile(m, OP_ADD);
    assert_int_equal(run_steps(m, 100000), MSTOP_EXIT);
    assert_int_equal(m->exit_code, 0);
    assert_int_not_equal(m->harts[0]->x[7], 500500);
    machine_free(m);
}

/* A code space that fills up after a few blocks: the block cache is
 * flushed and everything compiled again, many times over, and the guest
 * sees nothing of it. */
static void test_code_space_runs_out(void **state)
{
    (void)state;
    Machine *m = new_machine(JIT_MODE_OFF);
    assert_true(bcache_jit_test_code_space(m, (64 << 10) + 256)); /* full after one block */
    assert_int_equal(run_steps(m, 50), MSTOP_EXIT);
    assert_int_equal(m->exit_code, 0);
    assert_int_equal(m->icount, PROG_INSNS);
    assert_int_equal(m->harts[0]->x[7], 500500);
    JitStats js;
    assert_true(bcache_jit_stats(m, &js));
    assert_true(js.resets >= 2);
    assert_true(js.blocks >= js.resets); /* each reset dropped compiled code */
    machine_free(m);
}

/* W^X: the code space is mapped twice, writable and executable, and no
 * mapping of this process is both. */
static void test_code_never_writable_and_executable(void **state)
{
    (void)state;
    Machine *m = new_machine(JIT_MODE_ON);
    assert_int_equal(run_steps(m, 100000), MSTOP_EXIT);
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        skip();
    char line[512];
    int views = 0;
    while (fgets(line, sizeof line, f)) {
        char perms[8] = "";
        assert_int_equal(sscanf(line, "%*s %7s", perms), 1);
        assert_false(perms[1] == 'w' && perms[2] == 'x');
        if (strstr(line, "rrvm-jit"))
            views += perms[2] == 'x' ? 1 : perms[1] == 'w' ? 10 : 100;
    }
    fclose(f);
    assert_int_equal(views, 11); /* one executable view, one writable view */
    machine_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engines_agree),
        cmocka_unit_test(test_exact_budgets),
        cmocka_unit_test(test_stop_mid_loop),
        cmocka_unit_test(test_check_catches_miscompile),
        cmocka_unit_test(test_code_never_writable_and_executable),
        cmocka_unit_test(test_code_space_runs_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
