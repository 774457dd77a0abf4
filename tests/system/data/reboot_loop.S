# Prints R, then asks the SiFive test device for a reset (0x7777): the
# machine reboots forever. Exercises guest-initiated reset under record/replay.
.globl _start
_start:
  li t0, 0x10000000
  li t1, 'R'
  sb t1, 0(t0)
  li t0, 0x100000
  li t1, 0x7777
  sw t1, 0(t0)
1: j 1b
