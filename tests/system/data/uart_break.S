# Waits for a break on the UART (Ctrl-A b on rrvm's console), then checks
# what a 16550 shows: LSR.BI with LSR.DR, a zero byte in RBR, BI reported by
# one LSR read only. Prints "BREAK OK" (exit 0) or "BREAK FAIL" (exit 1).
.globl _start
_start:
  li t0, 0x10000000
  li t1, 1
  sb t1, 2(t0)            # FCR: FIFOs on
wait:
  lbu t2, 5(t0)           # LSR
  andi t3, t2, 0x10       # BI
  beqz t3, wait
  andi t3, t2, 0x01       # DR with it
  beqz t3, fail
  lbu t2, 5(t0)           # BI again: must be gone
  andi t3, t2, 0x10
  bnez t3, fail
  lbu t4, 0(t0)           # the break's byte
  bnez t4, fail
  la a0, ok
  li a1, 0x5555           # sifive test: pass
  j out
fail:
  la a0, bad
  li a1, 0x13333          # sifive test: fail, code 1
out:
  lbu t1, 0(a0)
  beqz t1, done
  sb t1, 0(t0)
  addi a0, a0, 1
  j out
done:
  li t0, 0x100000
  sw a1, 0(t0)
1: j 1b
ok: .asciz "BREAK OK\n"
bad: .asciz "BREAK FAIL\n"
