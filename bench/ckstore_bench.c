/*
 * ckstore_bench.c - how long in-memory checkpoints (src/replay/ckstore.c)
 * take to take and restore on a large guest.
 *
 * Scenario (the brief's target): a 256 MiB machine whose guest has touched
 * 200 MiB (random bytes in 51200 pages), checkpoint A; then 20 MiB (5120
 * of those pages, chosen at random) rewritten, checkpoint B. Timed, each
 * REPEAT times (minimum and median printed):
 *   take-first   the first checkpoint (copies every nonzero page)
 *   take-delta   a checkpoint after 20 MiB changed
 *   restore-back B -> A (20 MiB of pages rewritten)
 *   restore-fwd  A -> B
 *   restore-same A -> A right after restoring A (nothing to rewrite)
 * Every restore is checked: machine_save() equals the blob saved when the
 * checkpoint was taken (outside the timing), so a fast wrong restore cannot
 * pass. Pages are written through machine_phys_write, like a device would.
 *
 *   make bench-ckstore          (or build/bench/ckstore_bench [REPEAT])
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "machine/cpu/hart.h"
#include "replay/ckstore.h"

#define RAM (256ull << 20)
#define TOUCHED_PAGES ((200ull << 20) / PAGE_SIZE)
#define CHANGED_PAGES ((20ull << 20) / PAGE_SIZE)

static uint64_t host_wallclock(void *opaque) { return 0; }
static void host_random(void *opaque, uint8_t *buf, size_t n) { memset(buf, 0, n); }
static void host_console(void *opaque, const uint8_t *buf, size_t n) {}

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fill_page(Machine *m, uint64_t page, uint64_t *s)
{
    uint64_t buf[PAGE_SIZE / 8];
    for (size_t i = 0; i < PAGE_SIZE / 8; i++)
        buf[i] = rng(s);
    machine_phys_write(m, RAM_BASE + page * PAGE_SIZE, buf, PAGE_SIZE);
}

static SerWriter save(const Machine *m)
{
    SerWriter w;
    ser_writer_init(&w);
    machine_save(m, &w);
    return w;
}

static void check_equal(const Machine *m, const SerWriter *ref, const char *what)
{
    SerWriter w = save(m);
    if (w.len != ref->len || memcmp(w.buf, ref->buf, w.len) != 0) {
        fprintf(stderr, "ckstore_bench: %s: state differs from the checkpoint's\n", what);
        exit(1);
    }
    ser_writer_free(&w);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    printf("%-13s min %8.2f ms   median %8.2f ms\n", name, t[0], t[n / 2]);
}

int main(int argc, char **argv)
{
    int repeat = argc > 1 ? atoi(argv[1]) : 5;
    if (repeat < 1 || repeat > 100)
        repeat = 5;
    double t_first[100], t_delta[100], t_back[100], t_fwd[100], t_same[100];
    uint64_t s = 42;
    /* the pages touched, and the ones changed among them */
    uint64_t npages = RAM / PAGE_SIZE;
    uint64_t *perm = malloc(npages * sizeof *perm);
    for (uint64_t i = 0; i < npages; i++)
        perm[i] = i;
    for (uint64_t i = npages - 1; i > 0; i--) {
        uint64_t j = rng(&s) % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    CkStoreStats st = {0};
    for (int r = 0; r < repeat; r++) {
        MachineConfig cfg = {.ram_size = RAM, .nharts = 1, .board_virt = false};
        MachineHostIf host = {NULL, host_wallclock, host_random, host_console};
        Machine *m = machine_new(&cfg, &host);
        CkStore *cs = ckstore_new(m, 1ull << 30);
        if (!m || !cs) {
            fprintf(stderr, "ckstore_bench: out of memory\n");
            return 1;
        }
        for (uint64_t i = 0; i < TOUCHED_PAGES; i++)
            fill_page(m, perm[i], &s);
        m->icount = 1000;
        SerWriter ref_a = save(m);
        double t0 = now_ms();
        ckstore_take(cs, m, NULL, 0);
        t_first[r] = now_ms() - t0;

        for (uint64_t i = 0; i < CHANGED_PAGES; i++)
            fill_page(m, perm[rng(&s) % TOUCHED_PAGES], &s);
        m->icount = 2000;
        SerWriter ref_b = save(m);
        t0 = now_ms();
        ckstore_take(cs, m, NULL, 0);
        t_delta[r] = now_ms() - t0;

        t0 = now_ms();
        ckstore_restore(cs, m, 1000, NULL, NULL);
        t_back[r] = now_ms() - t0;
        check_equal(m, &ref_a, "restore to A");
        t0 = now_ms();
        ckstore_restore(cs, m, 1000, NULL, NULL);
        t_same[r] = now_ms() - t0;
        check_equal(m, &ref_a, "restore to A again");
        t0 = now_ms();
        ckstore_restore(cs, m, 2000, NULL, NULL);
        t_fwd[r] = now_ms() - t0;
        check_equal(m, &ref_b, "restore to B");

        ckstore_stats(cs, &st);
        ser_writer_free(&ref_a);
        ser_writer_free(&ref_b);
        ckstore_free(cs);
        machine_free(m);
    }
    printf("256 MiB guest, 200 MiB touched, 20 MiB changed between A and B; %d runs\n", repeat);
    printf("store: %llu checkpoints, %llu page copies, %.1f MiB held\n", (unsigned long long)st.count,
           (unsigned long long)st.pages, (double)st.bytes / (1 << 20));
    report("take-first", t_first, repeat);
    report("take-delta", t_delta, repeat);
    report("restore-back", t_back, repeat);
    report("restore-fwd", t_fwd, repeat);
    report("restore-same", t_same, repeat);
    free(perm);
    return 0;
}
