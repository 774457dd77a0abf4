/*
 * libtest.h - support library for the bare-metal guest tests.
 *
 * Every test is one program that runs in M-mode from _start (libcrt.S),
 * calls test_begin(name), performs checks with CHECK()/check_eq(), and
 * returns test_end() from main: exit code 0 when every check passed, else
 * the number of failures (capped at 255). Output goes to the NS16550A UART:
 * "FAIL <name>: <what> got=0x.. exp=0x.." per failed check, then
 * "PASS <name> (N checks)" or "FAIL <name>: F of N checks failed".
 *
 * Traps: libcrt.S installs an M-mode trap vector that saves all registers in
 * a TrapFrame on a dedicated stack (mscratch) and calls m_trap_handler().
 * A test can take over with m_trap_hook; otherwise exceptions are recorded in
 * m_last and the faulting instruction is skipped, interrupts are recorded and
 * disabled in mie. The S-mode vector (s_trap_entry, sscratch) works the same
 * way with s_trap_hook/s_last.
 *
 * lower_call(priv, fn, arg, sp) runs fn(arg) in S or U mode (via mret) and
 * returns its a0 once fn returns: the return address is a trampoline doing
 * `ecall` with a7 = LOWER_EXIT_MAGIC, which the handlers recognise.
 */
#ifndef LIBTEST_H
#define LIBTEST_H

/* freestanding: no libc headers (riscv64-unknown-elf has no newlib here) */
typedef __SIZE_TYPE__ size_t;

typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef int i32;

/* --- devices of the minimal board / QEMU virt --- */
#define UART_BASE 0x10000000ul
#define TEST_DEV_BASE 0x100000ul
#define CLINT_BASE 0x2000000ul
#define CLINT_MSIP (CLINT_BASE + 0x0)
#define CLINT_MTIMECMP (CLINT_BASE + 0x4000)
#define CLINT_MTIME (CLINT_BASE + 0xbff8)

#define LOWER_EXIT_MAGIC 0x5e5e0001ul

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#define MSTATUS_SIE (1ul << 1)
#define MSTATUS_MIE (1ul << 3)
#define MSTATUS_SPIE (1ul << 5)
#define MSTATUS_MPIE (1ul << 7)
#define MSTATUS_SPP (1ul << 8)
#define MSTATUS_MPP (3ul << 11)
#define MSTATUS_FS (3ul << 13)
#define MSTATUS_MPRV (1ul << 17)
#define MSTATUS_SUM (1ul << 18)
#define MSTATUS_MXR (1ul << 19)

#define CAUSE_INTR (1ul << 63)

#define csr_read(csr) ({ u64 _v; __asm__ volatile("csrr %0, " #csr : "=r"(_v) :: "memory"); _v; })
#define csr_write(csr, val) __asm__ volatile("csrw " #csr ", %0" :: "rK"((u64)(val)) : "memory")
#define csr_set(csr, val) __asm__ volatile("csrs " #csr ", %0" :: "rK"((u64)(val)) : "memory")
#define csr_clear(csr, val) __asm__ volatile("csrc " #csr ", %0" :: "rK"((u64)(val)) : "memory")
#define csr_swap(csr, val) ({ u64 _v; __asm__ volatile("csrrw %0, " #csr ", %1" : "=r"(_v) : "rK"((u64)(val)) : "memory"); _v; })

static inline void mmio_write32(u64 addr, u32 v) { *(volatile u32 *)addr = v; }
static inline u32 mmio_read32(u64 addr) { return *(volatile u32 *)addr; }
static inline void mmio_write64(u64 addr, u64 v) { *(volatile u64 *)addr = v; }
static inline u64 mmio_read64(u64 addr) { return *(volatile u64 *)addr; }

/* --- output (libio.c) --- */
void putchar_uart(int c);
void puts_uart(const char *s);      /* no newline added */
void print_hex(u64 v);              /* 0x%016lx */
void print_dec(i64 v);
/* Minimal printf: %s %c %d %u %x %lx %ld %lu, optional zero-pad width
 * (%016lx) and 'l'. */
void tprintf(const char *fmt, ...);
__attribute__((noreturn)) void exit(int code);

/* --- checks (libio.c) --- */
void test_begin(const char *name);
/* Record a check: prints a FAIL line when got != exp. Returns got == exp. */
int check_eq(const char *what, u64 got, u64 exp);
/* Same with a numeric index appended to `what` (for table-driven checks). */
int check_eq_idx(const char *what, int idx, u64 got, u64 exp);
/* Record a boolean check. */
int check_true(const char *what, int ok);
int test_end(void); /* prints the summary line; returns the exit code */
extern unsigned test_checks, test_failures;

#define CHECK(what, got, exp) check_eq((what), (u64)(got), (u64)(exp))

/* --- traps (libcrt.S + libtrap.c) --- */
typedef struct TrapFrame {
    u64 x[32]; /* x[2] is the interrupted sp; x[0] unused */
} TrapFrame;

typedef struct TrapRecord {
    u64 cause, epc, tval;
    u64 status;    /* mstatus/sstatus as seen in the handler */
    unsigned count; /* traps taken by the default handler so far */
} TrapRecord;

/* volatile: trap handlers update them behind the compiler's back */
extern volatile TrapRecord m_last, s_last;
/* Return nonzero when the trap was handled (the handler may change mepc
 * or frame registers); zero falls back to the default behaviour. */
extern int (*m_trap_hook)(TrapFrame *f, u64 cause, u64 epc, u64 tval);
extern int (*s_trap_hook)(TrapFrame *f, u64 cause, u64 epc, u64 tval);
/* Added to the trampoline address handed to lower code as its return
 * address and subtracted from out-of-image epcs before reading the trapping
 * instruction: lets U-mode code run from a user alias of the image. */
extern u64 lower_alias_offset;

void m_trap_entry(void);
void s_trap_entry(void);
/* Run fn(arg) at privilege `priv` (PRV_S or PRV_U) with stack pointer sp
 * (0: a region below the caller's stack). Returns fn's return value. */
u64 lower_call(int priv, u64 fn, u64 arg, u64 sp);
/* Length in bytes (2 or 4) of the instruction at `pc` (an address readable
 * by the current mode, alias offset already removed). */
int insn_length_at(u64 pc);
void trap_records_reset(void);

extern char __image_start[], __image_end[], __bss_start[], __bss_end[];

/* Page tables and test pages for the paging tests: zeroed 4 KiB pages
 * handed out upwards from `next` (each test starts it above __image_end). */
typedef struct PagePool {
    u64 next;
} PagePool;

static inline u64 page_pool_alloc(PagePool *pool)
{
    u64 p = pool->next;
    pool->next += 4096;
    for (int i = 0; i < 512; i++)
        ((volatile u64 *)p)[i] = 0;
    return p;
}

/* A leaf or pointer PTE for physical address pa with the given flag bits. */
static inline u64 pte(u64 pa, u64 flags) { return (pa >> 12) << 10 | flags; }

/* --- several harts (libcrt.S) --- */
/* Parked harts 1..7 run secondary_entry(a0 at entry) on their own stacks
 * once hart 0 stores it here (then a fence) and sends each an IPI (CLINT
 * msip). They start with mie = 0 and their msip cleared. */
extern void (*volatile secondary_entry)(u64 a0);
extern u64 boot_a0; /* hart 0's a0 at entry */

#endif
