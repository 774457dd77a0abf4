/*
 * test_strbuf.c - the growable text buffer behind monitor and QMP replies:
 * it stays NUL-terminated, grows past its first allocation, and clear keeps
 * it usable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/strbuf.h"

static void test_empty_reads_as_empty_string(void **state)
{
    Strbuf sb;
    sb_init(&sb);
    assert_string_equal(sb_str(&sb), "");
    assert_int_equal(sb.len, 0);
    sb_free(&sb);
}

static void test_appends_and_printf_grow(void **state)
{
    Strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "icount ");
    sb_printf(&sb, "%d", 1000);
    sb_append(&sb, "\nxyz", 2);
    assert_string_equal(sb_str(&sb), "icount 1000\nx");
    for (int i = 0; i < 1000; i++) /* far past the first 256 bytes */
        sb_printf(&sb, "%04d", i);
    assert_int_equal(sb.len, 13 + 4000);
    assert_int_equal(strlen(sb_str(&sb)), sb.len);
    assert_memory_equal(sb_str(&sb) + sb.len - 4, "0999", 4);
    assert_false(sb.oom);
    sb_free(&sb);
}

static void test_clear_keeps_it_usable(void **state)
{
    Strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "(rrvm) ");
    sb_clear(&sb);
    assert_string_equal(sb_str(&sb), "");
    sb_puts(&sb, "again");
    assert_string_equal(sb_str(&sb), "again");
    sb_free(&sb);
    assert_null(sb.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_reads_as_empty_string),
        cmocka_unit_test(test_appends_and_printf_grow),
        cmocka_unit_test(test_clear_keeps_it_usable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
