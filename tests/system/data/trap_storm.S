# A hostile guest: mtvec points at unmapped memory, then an illegal
# instruction. Every exception re-faults; rrvm must stop, not hang.
.globl _start
_start:
  li t0, 0x12345000
  csrw mtvec, t0
  .word 0
