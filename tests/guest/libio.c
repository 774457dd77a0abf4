/*
 * libio.c - UART output, exit through the SiFive test device, and the check
 * bookkeeping shared by all guest tests.
 *
 * Invariants: output is polled (LSR.THRE before each byte), so it works with
 * interrupts off and in any mode that can reach the UART; the exit code is
 * 0 only when no check failed.
 */
#include <stdarg.h>
#include "libtest.h"

unsigned test_checks, test_failures;
static const char *test_name = "?";

void putchar_uart(int c)
{
    volatile unsigned char *uart = (volatile unsigned char *)UART_BASE;
    while (!(uart[5] & 0x20))
        ;
    uart[0] = (unsigned char)c;
}

void puts_uart(const char *s)
{
    while (*s)
        putchar_uart(*s++);
}

static void print_unsigned(u64 v, unsigned base, int width, char pad)
{
    char buf[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (n < width--)
        putchar_uart(pad);
    while (n)
        putchar_uart(buf[--n]);
}

void print_hex(u64 v)
{
    puts_uart("0x");
    print_unsigned(v, 16, 16, '0');
}

void print_dec(i64 v)
{
    if (v < 0) {
        putchar_uart('-');
        print_unsigned(-(u64)v, 10, 0, ' ');
    } else {
        print_unsigned((u64)v, 10, 0, ' ');
    }
}

void tprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putchar_uart(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, is_long = 0;
        if (*fmt == '0')
            pad = '0';
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            is_long = 1;
            fmt++;
        }
        switch (*fmt) {
        case 's': puts_uart(va_arg(ap, const char *)); break;
        case 'c': putchar_uart(va_arg(ap, int)); break;
        case 'd': {
            i64 v = is_long ? va_arg(ap, i64) : va_arg(ap, int);
            if (v < 0) {
                putchar_uart('-');
                print_unsigned(-(u64)v, 10, width, pad);
            } else {
                print_unsigned((u64)v, 10, width, pad);
            }
            break;
        }
        case 'u': print_unsigned(is_long ? va_arg(ap, u64) : va_arg(ap, unsigned), 10, width, pad); break;
        case 'x': print_unsigned(is_long ? va_arg(ap, u64) : va_arg(ap, unsigned), 16, width, pad); break;
        case '%': putchar_uart('%'); break;
        case 0: fmt--; break;
        default: putchar_uart('%'); putchar_uart(*fmt); break;
        }
    }
    va_end(ap);
}

void exit(int code)
{
    volatile u32 *test = (volatile u32 *)TEST_DEV_BASE;
    if (code == 0)
        *test = 0x5555;
    else
        *test = ((u32)(code & 0xffff) << 16) | 0x3333;
    for (;;)
        __asm__ volatile("wfi");
}

void test_begin(const char *name)
{
    test_name = name;
    test_checks = 0;
    test_failures = 0;
}

int check_eq(const char *what, u64 got, u64 exp)
{
    test_checks++;
    if (got == exp)
        return 1;
    test_failures++;
    tprintf("FAIL %s: %s got=0x%016lx exp=0x%016lx\n", test_name, what, got, exp);
    return 0;
}

int check_eq_idx(const char *what, int idx, u64 got, u64 exp)
{
    test_checks++;
    if (got == exp)
        return 1;
    test_failures++;
    tprintf("FAIL %s: %s[%d] got=0x%016lx exp=0x%016lx\n", test_name, what, idx, got, exp);
    return 0;
}

int check_true(const char *what, int ok)
{
    test_checks++;
    if (ok)
        return 1;
    test_failures++;
    tprintf("FAIL %s: %s\n", test_name, what);
    return 0;
}

int test_end(void)
{
    if (test_failures == 0)
        tprintf("PASS %s (%u checks)\n", test_name, test_checks);
    else
        tprintf("FAIL %s: %u of %u checks failed\n", test_name, test_failures, test_checks);
    return test_failures > 255 ? 255 : (int)test_failures;
}
