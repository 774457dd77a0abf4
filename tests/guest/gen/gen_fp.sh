#!/bin/sh
# Regenerate the frozen FP table in tests/guest/fp.c: build fp.c with
# -DFP_GENERATE, run it on QEMU (the SoftFloat reference) and splice its
# output between the GENERATED markers. Run from the repository root.
set -e
out=$(mktemp -d)
riscv64-unknown-elf-gcc -march=rv64gc -mabi=lp64d -mcmodel=medany -static -nostdlib \
    -nostartfiles -O1 -T tests/guest/link.ld -Itests/guest -DFP_GENERATE \
    -o "$out/fpgen.elf" tests/guest/fp.c tests/guest/libcrt.S tests/guest/libio.c \
    tests/guest/libtrap.c -lgcc
timeout 300 qemu-system-riscv64 -M virt -bios none -nographic -m 128M \
    -kernel "$out/fpgen.elf" > "$out/raw.txt"
/usr/bin/python3 - "$out/raw.txt" tests/guest/fp.c <<'PY'
import sys, re
names = re.findall(r'X\((\w+), f_', open(sys.argv[2]).read())
rows, op = [], None
for line in open(sys.argv[1]):
    line = line.rstrip('\r\n')
    if line.startswith('@'):
        op = names[int(line[1:])]
        rows.append('    /* %s */' % op)
    elif line.startswith('    {OP_,'):
        rows.append(line.replace('{OP_,', '{OP_%s,' % op))
src = open(sys.argv[2]).read()
begin = src.index('static const FpCase fp_cases[] = {\n', src.index('---- GENERATED')) + len('static const FpCase fp_cases[] = {\n')
end = src.index('};\n/* ---- END GENERATED', begin)
open(sys.argv[2], 'w').write(src[:begin] + '\n'.join(rows) + '\n' + src[end:])
PY
rm -rf "$out"
