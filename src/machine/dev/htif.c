/*
 * htif.c - HTIF tohost/fromhost device; protocol described in htif.h.
 *
 * Invariants:
 *  - tohost/fromhost hold the register values the guest sees; the RAM
 *    bytes underneath are never used while the device exists.
 *  - Every guest-supplied pointer (magic_mem, write buffers) is read with
 *    machine_phys_read(), which bounds-checks against RAM; a bad pointer
 *    yields -EFAULT, never a host fault. Console writes go out in bounded
 *    chunks, so a huge length cannot exhaust host memory.
 */
#include "machine/dev/htif.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTIF_DEV_SYSCALL 0
#define HTIF_DEV_CONSOLE 1
#define HTIF_CMD_PUTCHAR 1
#define SYS_WRITE 64
#define HTIF_ENOSYS 38
#define HTIF_EFAULT 14
#define PAYLOAD_MASK ((1ull << 48) - 1)

static uint64_t merge(uint64_t reg, uint64_t off, int size, uint64_t val)
{
    if (size >= 8)
        return val;
    uint64_t mask = ((1ull << (8 * size)) - 1) << (8 * off);
    return (reg & ~mask) | ((val << (8 * off)) & mask);
}

static bool access_ok(uint64_t off, int size)
{
    return size >= 1 && size <= 8 && off + (uint64_t)size <= 8;
}

static void console_out(Htif *h, const uint8_t *p, size_t n)
{
    if (h->m->host.console_write)
        h->m->host.console_write(h->m->host.opaque, p, n);
}

/* SYS_write(fd, buf, len): copy the guest buffer to the console. */
static int64_t sys_write(Htif *h, uint64_t fd, uint64_t buf, uint64_t len)
{
    if (fd != 1 && fd != 2)
        return -HTIF_ENOSYS;
    if (!machine_is_ram(h->m, buf, len))
        return -HTIF_EFAULT;
    uint8_t chunk[256];
    for (uint64_t done = 0; done < len;) {
        size_t n = len - done < sizeof chunk ? (size_t)(len - done) : sizeof chunk;
        if (!machine_phys_read(h->m, buf + done, chunk, n))
            return -HTIF_EFAULT;
        console_out(h, chunk, n);
        done += n;
    }
    return (int64_t)len;
}

static void syscall_proxy(Htif *h, uint64_t magic_mem)
{
    uint8_t raw[64];
    if (!machine_phys_read(h->m, magic_mem, raw, sizeof raw)) {
        h->fromhost = 1; /* answer anyway so the guest does not spin */
        return;
    }
    uint64_t args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = 0;
        for (int b = 7; b >= 0; b--)
            args[i] = args[i] << 8 | raw[8 * i + b];
    }
    int64_t ret = args[0] == SYS_WRITE ? sys_write(h, args[1], args[2], args[3]) : -HTIF_ENOSYS;
    uint8_t out[8];
    for (int b = 0; b < 8; b++)
        out[b] = (uint8_t)((uint64_t)ret >> (8 * b));
    machine_phys_write(h->m, magic_mem, out, sizeof out);
    h->fromhost = 1;
}

static void handle_tohost(Htif *h)
{
    uint64_t v = h->tohost;
    if (v == 0)
        return;
    unsigned dev = (unsigned)(v >> 56), cmd = (unsigned)(v >> 48) & 0xff;
    uint64_t payload = v & PAYLOAD_MASK;
    h->tohost = 0;
    if (dev == HTIF_DEV_SYSCALL && cmd == 0) {
        if (payload & 1) {
            h->m->exit_requested = true;
            h->m->exit_code = (int)(payload >> 1);
            h->tohost = v; /* like Spike, leave the exit value visible */
        } else {
            syscall_proxy(h, payload);
        }
    } else if (dev == HTIF_DEV_CONSOLE && cmd == HTIF_CMD_PUTCHAR) {
        uint8_t ch = (uint8_t)payload;
        console_out(h, &ch, 1);
        h->fromhost = ((uint64_t)dev << 56) | ((uint64_t)cmd << 48) | 0x100 | ch;
    }
    /* other requests (console input, block devices) are consumed unanswered */
}

bool htif_tohost_read(void *dev, uint64_t off, int size, uint64_t *val)
{
    Htif *h = dev;
    if (!access_ok(off, size))
        return false;
    *val = size >= 8 ? h->tohost : (h->tohost >> (8 * off)) & ((1ull << (8 * size)) - 1);
    return true;
}

bool htif_tohost_write(void *dev, uint64_t off, int size, uint64_t val)
{
    Htif *h = dev;
    if (!access_ok(off, size))
        return false;
    h->tohost = merge(h->tohost, off, size, val);
    if (off + (uint64_t)size == 8) /* the high word completes the command */
        handle_tohost(h);
    return true;
}

bool htif_fromhost_read(void *dev, uint64_t off, int size, uint64_t *val)
{
    Htif *h = dev;
    if (!access_ok(off, size))
        return false;
    *val = size >= 8 ? h->fromhost : (h->fromhost >> (8 * off)) & ((1ull << (8 * size)) - 1);
    return true;
}

bool htif_fromhost_write(void *dev, uint64_t off, int size, uint64_t val)
{
    Htif *h = dev;
    if (!access_ok(off, size))
        return false;
    h->fromhost = merge(h->fromhost, off, size, val);
    return true;
}

Htif *htif_new(Machine *m, uint64_t tohost_addr, uint64_t fromhost_addr, char *err, size_t errlen)
{
    if ((tohost_addr & 7) || !machine_is_ram(m, tohost_addr, 8)) {
        snprintf(err, errlen, "kernel: HTIF tohost at 0x%llx is not an aligned RAM address",
                 (unsigned long long)tohost_addr);
        return NULL;
    }
    if (fromhost_addr && ((fromhost_addr & 7) || !machine_is_ram(m, fromhost_addr, 8) ||
                          fromhost_addr == tohost_addr)) {
        snprintf(err, errlen, "kernel: HTIF fromhost at 0x%llx is not an aligned RAM address apart from tohost",
                 (unsigned long long)fromhost_addr);
        return NULL;
    }
    Htif *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->m = m;
    h->tohost_addr = tohost_addr;
    h->fromhost_addr = fromhost_addr;
    MmioRegion to = {.base = tohost_addr, .size = 8, .dev = h, .read = htif_tohost_read,
                     .write = htif_tohost_write, .name = "htif-tohost"};
    MmioRegion from = {.base = fromhost_addr, .size = 8, .dev = h, .read = htif_fromhost_read,
                       .write = htif_fromhost_write, .name = "htif-fromhost"};
    if (machine_add_mmio(m, &to) < 0 || (fromhost_addr && machine_add_mmio(m, &from) < 0)) {
        snprintf(err, errlen, "kernel: no room for the HTIF device regions");
        free(h);
        return NULL;
    }
    return h;
}

void htif_free(Htif *h) { free(h); }

void htif_save(const Htif *h, SerWriter *w)
{
    ser_put_tag(w, "HTIF", 1);
    ser_put_u64(w, h->tohost_addr);
    ser_put_u64(w, h->fromhost_addr);
    ser_put_u64(w, h->tohost);
    ser_put_u64(w, h->fromhost);
}

bool htif_load(Htif *h, SerReader *r)
{
    if (ser_get_tag(r, "HTIF") != 1)
        ser_fail(r, "HTIF state has an unknown version");
    if (ser_get_u64(r) != h->tohost_addr || ser_get_u64(r) != h->fromhost_addr)
        ser_fail(r, "HTIF state is for a different tohost/fromhost layout");
    uint64_t to = ser_get_u64(r), from = ser_get_u64(r);
    if (!ser_ok(r))
        return false;
    h->tohost = to;
    h->fromhost = from;
    return true;
}
