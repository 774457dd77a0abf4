# Linked with plain `-nostdlib -Ttext=0x80000000` (no linker script): ld
# puts the ELF headers in the first PT_LOAD, one page below RAM. Prints
# "TTEXT" and exits through the SiFive test device.
.globl _start
_start:
  li t0, 0x10000000
  la t2, msg
1: lbu t1, 0(t2)
  beqz t1, 2f
  sb t1, 0(t0)
  addi t2, t2, 1
  j 1b
2: li t0, 0x100000
  li t1, 0x5555
  sw t1, 0(t0)
3: j 3b
msg: .asciz "TTEXT\n"
