/*
 * libcrt.S - start-up code and trap entry/exit for the bare-metal guest
 * tests (see libtest.h for the conventions).
 *
 * _start (M-mode, a0 = hartid): parks every hart but 0, sets the stack,
 * zeroes .bss, opens PMP entry 0 over the whole address space (QEMU and the
 * spec deny S/U accesses when PMP is implemented and no entry matches),
 * enables the FPU (mstatus.FS = Initial), installs m_trap_entry, calls main
 * and exits with its return value through the test device. boot_a0 keeps
 * hart 0's a0 at entry.
 *
 * Parked harts (mhartid 1..MAX_HARTS-1) wait in WFI with only mie.MSIE set
 * (mstatus.MIE stays clear: an IPI wakes them but traps nothing) until
 * hart 0 stores a function in secondary_entry and sends them an IPI. Then
 * each gets its own program and trap stacks (hart_stacks, HART_STACK bytes
 * each), the same PMP/FPU/trap setup as hart 0, its msip cleared and mie
 * zeroed, and calls secondary_entry(a0 at entry); it parks for good if that
 * returns. Harts beyond MAX_HARTS park for good at once. secondary_entry is
 * in .data, not .bss, so hart 0 zeroing .bss cannot race with the harts
 * polling it.
 *
 * Trap entry invariants: mscratch (sscratch) holds the top of the M (S) trap
 * stack while not in a handler; the handler swaps it with sp, so traps must
 * not nest. The TrapFrame is 32 doublewords, x[i] at 8*i, x[2] = the
 * interrupted sp; registers are reloaded from the frame on return, so a
 * handler may change them.
 */
#define FRAME_SIZE (8 * 32)
#define LOWER_EXIT_MAGIC 0x5e5e0001
#define MAX_HARTS 8
#define HART_STACK 4096
#define CLINT_MSIP 0x2000000

    .section .text.init, "ax"
    .globl _start
_start:
    csrr t0, mhartid
    bnez t0, park
    la t0, boot_a0
    sd a0, 0(t0)
    .option push
    .option norelax
    la sp, __stack_top
    .option pop
    la t0, __mtrap_stack_top
    csrw mscratch, t0
    la t0, m_trap_entry
    csrw mtvec, t0
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  li t0, -1
    srli t0, t0, 10          /* pmpaddr0: NAPOT covering everything */
    csrw pmpaddr0, t0
    li t0, 0x1f              /* NAPOT | X | W | R */
    csrw pmpcfg0, t0
    li t0, (1 << 13)         /* mstatus.FS = Initial */
    csrs mstatus, t0
    csrwi fcsr, 0
    call main
    call exit

park:
    csrr t0, mhartid
    li t1, MAX_HARTS
    bgeu t0, t1, park_forever
    li t1, 8                 /* mie.MSIE: an IPI ends the WFI */
    csrw mie, t1
1:  la t1, secondary_entry
    ld t2, 0(t1)
    bnez t2, 2f
    wfi
    j 1b
2:  fence r, rw              /* see what hart 0 wrote before publishing */
    li t1, 2 * HART_STACK
    mul t3, t0, t1
    .option push
    .option norelax
    la sp, hart_stacks
    .option pop
    add sp, sp, t3
    li t1, HART_STACK
    add sp, sp, t1           /* top of this hart's program stack */
    add t3, sp, t1           /* top of its trap stack */
    csrw mscratch, t3
    la t1, m_trap_entry
    csrw mtvec, t1
    li t1, -1
    srli t1, t1, 10
    csrw pmpaddr0, t1
    li t1, 0x1f
    csrw pmpcfg0, t1
    li t1, (1 << 13)
    csrs mstatus, t1
    csrwi fcsr, 0
    csrw mie, zero
    slli t1, t0, 2           /* clear our msip: the IPI has done its job */
    li t3, CLINT_MSIP
    add t1, t1, t3
    sw zero, 0(t1)
    jalr t2                  /* secondary_entry(a0) */
park_forever:
    csrw mie, zero
3:  wfi
    j 3b

/* Save x1, x3..x31 into the frame at sp; x2 comes from \scratch. */
.macro SAVE_REGS scratch
    sd x1, 1*8(sp)
    sd x3, 3*8(sp)
    sd x4, 4*8(sp)
    sd x5, 5*8(sp)
    sd x6, 6*8(sp)
    sd x7, 7*8(sp)
    sd x8, 8*8(sp)
    sd x9, 9*8(sp)
    sd x10, 10*8(sp)
    sd x11, 11*8(sp)
    sd x12, 12*8(sp)
    sd x13, 13*8(sp)
    sd x14, 14*8(sp)
    sd x15, 15*8(sp)
    sd x16, 16*8(sp)
    sd x17, 17*8(sp)
    sd x18, 18*8(sp)
    sd x19, 19*8(sp)
    sd x20, 20*8(sp)
    sd x21, 21*8(sp)
    sd x22, 22*8(sp)
    sd x23, 23*8(sp)
    sd x24, 24*8(sp)
    sd x25, 25*8(sp)
    sd x26, 26*8(sp)
    sd x27, 27*8(sp)
    sd x28, 28*8(sp)
    sd x29, 29*8(sp)
    sd x30, 30*8(sp)
    sd x31, 31*8(sp)
    csrr t0, \scratch
    sd t0, 2*8(sp)
.endm

/* Reload all registers from the frame; sp ends as frame x[2] and \scratch
 * gets the trap stack top back. */
.macro RESTORE_REGS scratch
    ld t0, 2*8(sp)
    csrw \scratch, t0
    ld x1, 1*8(sp)
    ld x3, 3*8(sp)
    ld x4, 4*8(sp)
    ld x5, 5*8(sp)
    ld x6, 6*8(sp)
    ld x7, 7*8(sp)
    ld x8, 8*8(sp)
    ld x9, 9*8(sp)
    ld x10, 10*8(sp)
    ld x11, 11*8(sp)
    ld x12, 12*8(sp)
    ld x13, 13*8(sp)
    ld x14, 14*8(sp)
    ld x15, 15*8(sp)
    ld x16, 16*8(sp)
    ld x17, 17*8(sp)
    ld x18, 18*8(sp)
    ld x19, 19*8(sp)
    ld x20, 20*8(sp)
    ld x21, 21*8(sp)
    ld x22, 22*8(sp)
    ld x23, 23*8(sp)
    ld x24, 24*8(sp)
    ld x25, 25*8(sp)
    ld x26, 26*8(sp)
    ld x27, 27*8(sp)
    ld x28, 28*8(sp)
    ld x29, 29*8(sp)
    ld x30, 30*8(sp)
    ld x31, 31*8(sp)
    addi sp, sp, FRAME_SIZE
    csrrw sp, \scratch, sp
.endm

    .text
    .balign 64               /* also valid as a vectored base */
    .globl m_trap_entry
m_trap_entry:
    csrrw sp, mscratch, sp
    addi sp, sp, -FRAME_SIZE
    SAVE_REGS mscratch
    mv a0, sp
    call m_trap_handler
    bnez a0, m_lower_return
    RESTORE_REGS mscratch
    mret

/* A lower-mode function returned (ecall with the magic): unwind to the
 * lower_call() that started it. The trap stack is given back first. */
m_lower_return:
    ld a0, 10*8(sp)
    addi sp, sp, FRAME_SIZE
    csrw mscratch, sp
    la t0, lower_ctx
    ld ra, 0*8(t0)
    ld sp, 1*8(t0)
    ld s0, 2*8(t0)
    ld s1, 3*8(t0)
    ld s2, 4*8(t0)
    ld s3, 5*8(t0)
    ld s4, 6*8(t0)
    ld s5, 7*8(t0)
    ld s6, 8*8(t0)
    ld s7, 9*8(t0)
    ld s8, 10*8(t0)
    ld s9, 11*8(t0)
    ld s10, 12*8(t0)
    ld s11, 13*8(t0)
    ld gp, 14*8(t0)
    ld tp, 15*8(t0)
    ret

    .balign 64
    .globl s_trap_entry
s_trap_entry:
    csrrw sp, sscratch, sp
    addi sp, sp, -FRAME_SIZE
    SAVE_REGS sscratch
    mv a0, sp
    call s_trap_handler
    bnez a0, s_forward_exit
    RESTORE_REGS sscratch
    sret

/* The lower function running in U returned while ecall-from-U is delegated
 * to S: forward the exit to M (ecall from S is never delegated). */
s_forward_exit:
    ld a0, 10*8(sp)
    li a7, LOWER_EXIT_MAGIC
    ecall
1:  j 1b

/* u64 lower_call(int priv, u64 fn, u64 arg, u64 sp) */
    .globl lower_call
lower_call:
    la t0, lower_ctx
    sd ra, 0*8(t0)
    sd sp, 1*8(t0)
    sd s0, 2*8(t0)
    sd s1, 3*8(t0)
    sd s2, 4*8(t0)
    sd s3, 5*8(t0)
    sd s4, 6*8(t0)
    sd s5, 7*8(t0)
    sd s6, 8*8(t0)
    sd s7, 9*8(t0)
    sd s8, 10*8(t0)
    sd s9, 11*8(t0)
    sd s10, 12*8(t0)
    sd s11, 13*8(t0)
    sd gp, 14*8(t0)
    sd tp, 15*8(t0)
    csrw mepc, a1
    li t0, (3 << 11)
    csrc mstatus, t0
    andi a0, a0, 3
    slli t1, a0, 11
    csrs mstatus, t1
    la ra, lower_return_trampoline
    bnez a0, 2f              /* only U code runs from the user alias */
    la t0, lower_alias_offset
    ld t0, 0(t0)
    add ra, ra, t0
2:
    bnez a3, 1f
    addi a3, sp, -1024
1:  mv sp, a3
    mv a0, a2
    mret

    .balign 4
    .globl lower_return_trampoline
lower_return_trampoline:
    li a7, LOWER_EXIT_MAGIC
    ecall
1:  j 1b

    .data
    .balign 8
    .globl secondary_entry
secondary_entry:
    .dword 0
    .globl boot_a0
boot_a0:
    .dword 0

    .bss
    .balign 8
lower_ctx:
    .space 16 * 8
    .balign 16
hart_stacks:
    .space MAX_HARTS * 2 * HART_STACK
