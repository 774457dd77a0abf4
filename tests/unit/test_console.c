/*
 * test_console.c - the host console's Ctrl-A escapes and its mux with a
 * monitor (-serial mon:stdio): input comes from a pipe standing in for
 * stdin; what the guest would get is what host_console_read returns, what
 * the monitor gets is what its input function was given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "host/console.h"

typedef struct Monitor {
    char got[256];
    size_t n;
    int calls;
} Monitor;

static void monitor_input(void *opaque, const uint8_t *buf, size_t n)
{
    Monitor *mon = opaque;
    assert_true(mon->n + n < sizeof mon->got);
    memcpy(mon->got + mon->n, buf, n);
    mon->n += n;
    mon->calls++;
}

/* A console reading the read end of a pipe that holds `typed`, then EOF. */
static void open_fed(HostConsole *c, const char *typed)
{
    char err[256];
    int p[2];
    assert_true(host_console_open(c, "none", false, err, sizeof err));
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], typed, strlen(typed)), (ssize_t)strlen(typed));
    close(p[1]);
    c->in_fd = p[0];
}

/* Everything the guest would get, reading until the input is exhausted. */
static size_t read_all(HostConsole *c, char *out, size_t cap)
{
    size_t n = 0, r;
    while ((r = host_console_read(c, (uint8_t *)out + n, cap - 1 - n)) > 0 || host_console_has_input(c))
        n += r;
    out[n] = 0;
    return n;
}

static void close_fed(HostConsole *c)
{
    close(c->in_fd);
    c->in_fd = -1;
    host_console_close(c);
}

static void test_mux_splits_guest_and_monitor(void **state)
{
    (void)state;
    HostConsole c;
    Monitor mon = { .n = 0 };
    open_fed(&c, "ab\x01" "cxy\x01" "cz");
    host_console_set_monitor(&c, monitor_input, &mon);
    char got[64];
    read_all(&c, got, sizeof got);
    assert_string_equal(got, "abz");
    assert_int_equal(mon.n, 2);
    assert_memory_equal(mon.got, "xy", 2);
    assert_false(c.monitor_active);
    assert_false(c.quit);
    close_fed(&c);
}

static void test_ctrl_a_c_ignored_without_monitor(void **state)
{
    (void)state;
    HostConsole c;
    open_fed(&c, "ab\x01" "cxy\x01\x01" "z");
    char got[64];
    read_all(&c, got, sizeof got);
    assert_string_equal(got, "abxy\x01z");
    assert_false(c.monitor_active);
    close_fed(&c);
}

static void test_monitor_keeps_escapes(void **state)
{
    (void)state;
    HostConsole c;
    Monitor mon = { .n = 0 };
    /* in the monitor: Ctrl-A Ctrl-A is a Ctrl-A for the monitor, Ctrl-A b
     * sends no break (the monitor has the console), Ctrl-A x still quits */
    open_fed(&c, "\x01" "cq\x01\x01\x01" "bw\x01" "xafter");
    host_console_set_monitor(&c, monitor_input, &mon);
    char got[64];
    size_t n = host_console_read(&c, (uint8_t *)got, sizeof got);
    assert_int_equal(n, 0);
    assert_true(c.quit);
    assert_true(c.monitor_active);
    assert_false(c.break_requested);
    assert_int_equal(mon.n, 3);
    assert_memory_equal(mon.got, "q\x01w", 3);
    /* taking the monitor away gives the console back to the guest */
    host_console_set_monitor(&c, NULL, NULL);
    assert_false(c.monitor_active);
    close_fed(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mux_splits_guest_and_monitor),
        cmocka_unit_test(test_ctrl_a_c_ignored_without_monitor),
        cmocka_unit_test(test_monitor_keeps_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
