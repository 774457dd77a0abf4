/*
 * fdt.c - device tree generation with libfdt's sequential-write API.
 *
 * Invariants:
 *  - The tree describes exactly the devices present on the machine (m->plic,
 *    m->rtc, ... non-NULL), at the addresses and interrupts board.c gives
 *    them, so the guest never probes a missing device.
 *  - Phandles are fixed numbers (no dependence on build order): the PLIC is
 *    PH_PLIC, the test device PH_TEST, hart h's interrupt controller
 *    PH_CPU_INTC + h.
 *  - The only host input is the rng-seed, taken through m->host.
 */
#include "machine/fdt.h"

#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/dev/clint.h"
#include "machine/dev/goldfish_rtc.h"
#include "machine/cpu/hart.h"
#include "machine/dev/plic.h"
#include "machine/dev/sifive_test.h"
#include "machine/dev/uart16550.h"
#include "machine/dev/virtio_mmio.h"

#define PH_PLIC 1
#define PH_TEST 2
#define PH_CPU_INTC 16
#define FDT_BUF_SIZE (64 * 1024)

/* A property of 32-bit cells given in host order. */
static int prop_cells(void *fdt, const char *name, const uint32_t *cells, int n)
{
    fdt32_t be[64];
    if (n > 64)
        return -FDT_ERR_NOSPACE;
    for (int i = 0; i < n; i++)
        be[i] = cpu_to_fdt32(cells[i]);
    return fdt_property(fdt, name, be, (int)(n * sizeof be[0]));
}

/* reg = <addr size> with #address-cells = #size-cells = 2 */
static int prop_reg(void *fdt, uint64_t addr, uint64_t size)
{
    uint32_t c[4] = {(uint32_t)(addr >> 32), (uint32_t)addr, (uint32_t)(size >> 32), (uint32_t)size};
    return prop_cells(fdt, "reg", c, 4);
}

#define PROP_STRLIST(fdt, name, lit) fdt_property((fdt), (name), (lit), sizeof(lit))

/* Each helper returns 0 or a negative libfdt error; `err` collects the first. */
static int add_cpus(void *fdt, const Machine *m)
{
    int err = 0;
    err |= fdt_begin_node(fdt, "cpus");
    err |= fdt_property_u32(fdt, "#address-cells", 1);
    err |= fdt_property_u32(fdt, "#size-cells", 0);
    err |= fdt_property_u32(fdt, "timebase-frequency", (uint32_t)MTIME_HZ);
    for (int h = 0; h < m->cfg.nharts; h++) {
        char name[32];
        snprintf(name, sizeof name, "cpu@%d", h);
        err |= fdt_begin_node(fdt, name);
        err |= fdt_property_string(fdt, "device_type", "cpu");
        err |= fdt_property_u32(fdt, "reg", (uint32_t)h);
        err |= fdt_property_string(fdt, "status", "okay");
        err |= fdt_property_string(fdt, "compatible", "riscv");
        err |= fdt_property_string(fdt, "riscv,isa", "rv64imafdc");
        err |= fdt_property_string(fdt, "mmu-type", "riscv,sv48");
        err |= fdt_begin_node(fdt, "interrupt-controller");
        err |= fdt_property_u32(fdt, "#address-cells", 0);
        err |= fdt_property_u32(fdt, "#interrupt-cells", 1);
        err |= fdt_property(fdt, "interrupt-controller", NULL, 0);
        err |= fdt_property_string(fdt, "compatible", "riscv,cpu-intc");
        err |= fdt_property_u32(fdt, "phandle", (uint32_t)(PH_CPU_INTC + h));
        err |= fdt_end_node(fdt);
        err |= fdt_end_node(fdt);
    }
    err |= fdt_end_node(fdt);
    return err;
}

/* interrupts-extended = <&intc_h irq_a &intc_h irq_b ...> for every hart */
static int prop_hart_irqs(void *fdt, const Machine *m, uint32_t irq_a, uint32_t irq_b)
{
    uint32_t cells[4 * MACHINE_MAX_HARTS];
    int n = 0;
    for (int h = 0; h < m->cfg.nharts; h++) {
        cells[n++] = (uint32_t)(PH_CPU_INTC + h);
        cells[n++] = irq_a;
        cells[n++] = (uint32_t)(PH_CPU_INTC + h);
        cells[n++] = irq_b;
    }
    return prop_cells(fdt, "interrupts-extended", cells, n);
}

static int prop_irq(void *fdt, const Machine *m, uint32_t irq)
{
    if (!m->plic)
        return 0; /* no interrupt controller for device lines on this board */
    int err = fdt_property_u32(fdt, "interrupts", irq);
    err |= fdt_property_u32(fdt, "interrupt-parent", PH_PLIC);
    return err;
}

static int add_soc(void *fdt, const Machine *m)
{
    int err = 0;
    char name[64];
    err |= fdt_begin_node(fdt, "soc");
    err |= fdt_property_u32(fdt, "#address-cells", 2);
    err |= fdt_property_u32(fdt, "#size-cells", 2);
    err |= fdt_property_string(fdt, "compatible", "simple-bus");
    err |= fdt_property(fdt, "ranges", NULL, 0);

    if (m->test) {
        snprintf(name, sizeof name, "test@%llx", (unsigned long long)SIFIVE_TEST_BASE);
        err |= fdt_begin_node(fdt, name);
        err |= PROP_STRLIST(fdt, "compatible", "sifive,test1\0sifive,test0\0syscon");
        err |= prop_reg(fdt, SIFIVE_TEST_BASE, SIFIVE_TEST_SIZE);
        err |= fdt_property_u32(fdt, "phandle", PH_TEST);
        err |= fdt_end_node(fdt);
    }
    if (m->rtc) {
        snprintf(name, sizeof name, "rtc@%llx", (unsigned long long)GOLDFISH_RTC_BASE);
        err |= fdt_begin_node(fdt, name);
        err |= fdt_property_string(fdt, "compatible", "google,goldfish-rtc");
        err |= prop_reg(fdt, GOLDFISH_RTC_BASE, GOLDFISH_RTC_SIZE);
        err |= prop_irq(fdt, m, (uint32_t)m->rtc->irq);
        err |= fdt_end_node(fdt);
    }
    if (m->clint) {
        snprintf(name, sizeof name, "clint@%llx", (unsigned long long)CLINT_BASE);
        err |= fdt_begin_node(fdt, name);
        err |= PROP_STRLIST(fdt, "compatible", "sifive,clint0\0riscv,clint0");
        err |= prop_reg(fdt, CLINT_BASE, CLINT_SIZE);
        err |= prop_hart_irqs(fdt, m, IRQ_MSI, IRQ_MTI);
        err |= fdt_end_node(fdt);
    }
    if (m->plic) {
        snprintf(name, sizeof name, "plic@%llx", (unsigned long long)PLIC_BASE);
        err |= fdt_begin_node(fdt, name);
        err |= PROP_STRLIST(fdt, "compatible", "sifive,plic-1.0.0\0riscv,plic0");
        err |= prop_reg(fdt, PLIC_BASE, PLIC_SIZE);
        err |= fdt_property_u32(fdt, "#address-cells", 0);
        err |= fdt_property_u32(fdt, "#interrupt-cells", 1);
        err |= fdt_property(fdt, "interrupt-controller", NULL, 0);
        err |= fdt_property_u32(fdt, "riscv,ndev", PLIC_NDEV);
        err |= prop_hart_irqs(fdt, m, IRQ_MEI, IRQ_SEI);
        err |= fdt_property_u32(fdt, "phandle", PH_PLIC);
        err |= fdt_end_node(fdt);
    }
    if (m->uart) {
        snprintf(name, sizeof name, "serial@%llx", (unsigned long long)UART16550_BASE);
        err |= fdt_begin_node(fdt, name);
        err |= fdt_property_string(fdt, "compatible", "ns16550a");
        err |= prop_reg(fdt, UART16550_BASE, UART16550_MMIO_SIZE);
        err |= fdt_property_u32(fdt, "clock-frequency", DEVTREE_UART_CLOCK_HZ);
        err |= prop_irq(fdt, m, (uint32_t)m->uart->irq);
        err |= fdt_end_node(fdt);
    }
    if (m->plic) { /* the virtio slots exist exactly on the virt board */
        /* highest address first, as QEMU's tree: Linux probes in tree order,
         * so the first device (highest slot) is vda / hvc0 with several */
        for (int i = VIRTIO_MMIO_SLOTS - 1; i >= 0; i--) {
            uint64_t base = VIRTIO_MMIO_BASE + VIRTIO_MMIO_STRIDE * (uint64_t)i;
            snprintf(name, sizeof name, "virtio_mmio@%llx", (unsigned long long)base);
            err |= fdt_begin_node(fdt, name);
            err |= fdt_property_string(fdt, "compatible", "virtio,mmio");
            err |= prop_reg(fdt, base, VIRTIO_MMIO_STRIDE);
            err |= prop_irq(fdt, m, (uint32_t)(VIRTIO_MMIO_FIRST_IRQ + i));
            err |= fdt_end_node(fdt);
        }
    }
    err |= fdt_end_node(fdt);
    return err;
}

static int add_syscon_node(void *fdt, const char *name, const char *compat, uint32_t value)
{
    int err = fdt_begin_node(fdt, name);
    err |= fdt_property_string(fdt, "compatible", compat);
    err |= fdt_property_u32(fdt, "regmap", PH_TEST);
    err |= fdt_property_u32(fdt, "offset", 0);
    err |= fdt_property_u32(fdt, "value", value);
    err |= fdt_end_node(fdt);
    return err;
}

static int add_chosen(void *fdt, Machine *m, bool with_initrd)
{
    int err = fdt_begin_node(fdt, "chosen");
    if (m->cfg.append)
        err |= fdt_property_string(fdt, "bootargs", m->cfg.append);
    if (m->uart)
        err |= fdt_property_string(fdt, "stdout-path", "/soc/serial@10000000");
    if (with_initrd) {
        err |= fdt_property_u64(fdt, "linux,initrd-start", 0);
        err |= fdt_property_u64(fdt, "linux,initrd-end", 0);
    }
    if (m->host.random_bytes) {
        uint8_t seed[DEVTREE_RNG_SEED_BYTES];
        m->host.random_bytes(m->host.opaque, seed, sizeof seed);
        err |= fdt_property(fdt, "rng-seed", seed, sizeof seed);
    }
    err |= fdt_end_node(fdt);
    return err;
}

/* The command line fits (a precise message instead of a libfdt failure). */
static bool bootargs_fit(const Machine *m, char *err, size_t errlen)
{
    size_t n = m->cfg.append ? strlen(m->cfg.append) : 0;
    if (n <= DEVTREE_MAX_BOOTARGS)
        return true;
    snprintf(err, errlen, "device tree: the kernel command line (-append) is %zu bytes, longer than the limit of %d "
             "(Linux on RISC-V reads at most %d)", n, DEVTREE_MAX_BOOTARGS, DEVTREE_LINUX_BOOTARGS);
    return false;
}

uint8_t *devtree_build(Machine *m, bool with_initrd, size_t *len, char *err, size_t errlen)
{
    if (!bootargs_fit(m, err, errlen))
        return NULL;
    uint8_t *buf = malloc(FDT_BUF_SIZE);
    if (!buf) {
        snprintf(err, errlen, "device tree: out of memory");
        return NULL;
    }
    void *fdt = buf;
    /* libfdt errors are negative numbers: OR-ing every result leaves rc
     * nonzero if any call failed. */
    int rc = fdt_create(fdt, FDT_BUF_SIZE);
    rc |= fdt_finish_reservemap(fdt);
    rc |= fdt_begin_node(fdt, "");
    rc |= fdt_property_u32(fdt, "#address-cells", 2);
    rc |= fdt_property_u32(fdt, "#size-cells", 2);
    if (m->plic) {
        rc |= fdt_property_string(fdt, "compatible", "riscv-virtio");
        rc |= fdt_property_string(fdt, "model", "riscv-virtio,qemu");
    } else {
        rc |= fdt_property_string(fdt, "compatible", "rrvm,bare");
        rc |= fdt_property_string(fdt, "model", "rrvm bare-metal board");
    }
    rc |= add_chosen(fdt, m, with_initrd);
    char name[64];
    snprintf(name, sizeof name, "memory@%llx", (unsigned long long)RAM_BASE);
    rc |= fdt_begin_node(fdt, name);
    rc |= fdt_property_string(fdt, "device_type", "memory");
    rc |= prop_reg(fdt, RAM_BASE, m->ram_size);
    rc |= fdt_end_node(fdt);
    rc |= add_cpus(fdt, m);
    rc |= add_soc(fdt, m);
    if (m->test) {
        rc |= add_syscon_node(fdt, "poweroff", "syscon-poweroff", SIFIVE_TEST_PASS);
        rc |= add_syscon_node(fdt, "reboot", "syscon-reboot", SIFIVE_TEST_RESET);
    }
    rc |= fdt_end_node(fdt);
    rc |= fdt_finish(fdt);
    if (rc != 0 || fdt_check_header(fdt) != 0) {
        snprintf(err, errlen, "device tree: generation failed");
        free(buf);
        return NULL;
    }
    *len = fdt_totalsize(fdt);
    return buf;
}

uint8_t *devtree_from_user(const Machine *m, const uint8_t *dtb, size_t dtb_len, bool with_initrd,
                           size_t *len, char *err, size_t errlen)
{
    /* fdt_check_full walks the whole structure block, so nothing later
     * trusts an unchecked offset from the user's file. */
    if (!dtb || dtb_len < sizeof(struct fdt_header) || fdt_check_header(dtb) != 0 ||
        fdt_totalsize(dtb) > dtb_len || fdt_check_full(dtb, dtb_len) != 0) {
        snprintf(err, errlen, "dtb: not a valid device tree blob");
        return NULL;
    }
    if (!bootargs_fit(m, err, errlen))
        return NULL;
    size_t extra = 1024 + (m->cfg.append ? strlen(m->cfg.append) : 0);
    size_t cap = fdt_totalsize(dtb) + extra;
    if (cap > INT32_MAX) {
        snprintf(err, errlen, "dtb: device tree blob is too large");
        return NULL;
    }
    uint8_t *buf = malloc(cap);
    if (!buf) {
        snprintf(err, errlen, "dtb: out of memory");
        return NULL;
    }
    int rc = fdt_open_into(dtb, buf, (int)cap);
    int chosen = rc == 0 ? fdt_path_offset(buf, "/chosen") : rc;
    if (rc == 0 && chosen == -FDT_ERR_NOTFOUND)
        chosen = fdt_add_subnode(buf, 0, "chosen");
    if (rc != 0 || chosen < 0) {
        snprintf(err, errlen, "dtb: malformed device tree (%s)", fdt_strerror(rc ? rc : chosen));
        free(buf);
        return NULL;
    }
    if (m->cfg.append)
        rc |= fdt_setprop_string(buf, chosen, "bootargs", m->cfg.append);
    if (with_initrd) {
        rc |= fdt_setprop_u64(buf, chosen, "linux,initrd-start", 0);
        rc |= fdt_setprop_u64(buf, chosen, "linux,initrd-end", 0);
    }
    rc |= fdt_pack(buf);
    if (rc != 0) {
        snprintf(err, errlen, "dtb: could not update /chosen");
        free(buf);
        return NULL;
    }
    *len = fdt_totalsize(buf);
    return buf;
}

bool devtree_set_initrd(uint8_t *dtb, uint64_t start, uint64_t end)
{
    int chosen = fdt_path_offset(dtb, "/chosen");
    if (chosen < 0)
        return false;
    return fdt_setprop_inplace_u64(dtb, chosen, "linux,initrd-start", start) == 0 &&
           fdt_setprop_inplace_u64(dtb, chosen, "linux,initrd-end", end) == 0;
}
