# Independent reference model of RV64I/M ALU semantics (Python big ints),
# emits C tables for tests/guest/rv64i.c and rv64m.c.
import sys
M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
def s64(x): x &= M64; return x - (1 << 64) if x >> 63 else x
def s32(x): x &= M32; return x - (1 << 32) if x >> 31 else x
def sx32(x): return s32(x) & M64
def u64(x): return x & M64
def u32(x): return x & M32

def tdiv(a, b):  # truncating division
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q
def trem(a, b): return a - b * tdiv(a, b)

RR = {
 'add': lambda a, b: u64(a + b),
 'sub': lambda a, b: u64(a - b),
 'sll': lambda a, b: u64(a << (b & 63)),
 'srl': lambda a, b: a >> (b & 63),
 'sra': lambda a, b: u64(s64(a) >> (b & 63)),
 'slt': lambda a, b: int(s64(a) < s64(b)),
 'sltu': lambda a, b: int(a < b),
 'xor': lambda a, b: a ^ b,
 'or': lambda a, b: a | b,
 'and': lambda a, b: a & b,
 'addw': lambda a, b: sx32(a + b),
 'subw': lambda a, b: sx32(a - b),
 'sllw': lambda a, b: sx32(a << (b & 31)),
 'srlw': lambda a, b: sx32(u32(a) >> (b & 31)),
 'sraw': lambda a, b: sx32(s32(a) >> (b & 31)),
}
def div(a, b):
    if b == 0: return M64
    if s64(a) == -(1 << 63) and s64(b) == -1: return a
    return u64(tdiv(s64(a), s64(b)))
def rem(a, b):
    if b == 0: return a
    if s64(a) == -(1 << 63) and s64(b) == -1: return 0
    return u64(trem(s64(a), s64(b)))
def divw(a, b):
    a, b = s32(a), s32(b)
    if b == 0: return M64
    if a == -(1 << 31) and b == -1: return sx32(a)
    return sx32(tdiv(a, b))
def remw(a, b):
    a, b = s32(a), s32(b)
    if b == 0: return sx32(a)
    if a == -(1 << 31) and b == -1: return 0
    return sx32(trem(a, b))
RM = {
 'mul': lambda a, b: u64(a * b),
 'mulh': lambda a, b: u64((s64(a) * s64(b)) >> 64),
 'mulhsu': lambda a, b: u64((s64(a) * b) >> 64),
 'mulhu': lambda a, b: (a * b) >> 64,
 'mulw': lambda a, b: sx32(a * b),
 'div': div,
 'divu': lambda a, b: M64 if b == 0 else a // b,
 'rem': rem,
 'remu': lambda a, b: a if b == 0 else a % b,
 'divw': divw,
 'divuw': lambda a, b: M64 if u32(b) == 0 else sx32(u32(a) // u32(b)),
 'remw': remw,
 'remuw': lambda a, b: sx32(a) if u32(b) == 0 else sx32(u32(a) % u32(b)),
}
RI = {
 'addi': lambda a, i: u64(a + i),
 'slti': lambda a, i: int(s64(a) < i),
 'sltiu': lambda a, i: int(a < u64(i)),
 'xori': lambda a, i: a ^ u64(i),
 'ori': lambda a, i: a | u64(i),
 'andi': lambda a, i: a & u64(i),
 'slli': lambda a, i: u64(a << i),
 'srli': lambda a, i: a >> i,
 'srai': lambda a, i: u64(s64(a) >> i),
 'addiw': lambda a, i: sx32(a + i),
 'slliw': lambda a, i: sx32(a << i),
 'srliw': lambda a, i: sx32(u32(a) >> i),
 'sraiw': lambda a, i: sx32(s32(a) >> i),
}
BR = {
 'beq': lambda a, b: a == b, 'bne': lambda a, b: a != b,
 'blt': lambda a, b: s64(a) < s64(b), 'bge': lambda a, b: s64(a) >= s64(b),
 'bltu': lambda a, b: a < b, 'bgeu': lambda a, b: a >= b,
}
VALS = [0, 1, 2, M64, M64 - 1, 0x7fffffffffffffff, 0x8000000000000000,
        0x80000000, 0x7fffffff, 0xffffffff, 0xffffffff80000000,
        0x123456789abcdef0, 0xfedcba9876543210, 31, 32, 63, 64, 7, 0xfffffffffffffff9]
IMMS = [0, 1, -1, 2047, -2048, 0x555, -0x556]
SH64 = [0, 1, 31, 32, 63]
SH32 = [0, 1, 15, 31]

def emit_rr(ops, vals):
    for name, f in ops.items():
        print('static const Vec3 tab_%s[] = {' % name)
        for a in vals:
            for b in vals:
                print('    {0x%xul, 0x%xul, 0x%xul},' % (a, b, f(a, b)))
        print('};')


# ---- atomics: python3 gen_int.py a ----
def amo_tables():
    def mk(width):
        m = M64 if width == 64 else M32
        sg = s64 if width == 64 else s32
        ops = {
            'swap': lambda o, v: v,
            'add': lambda o, v: (o + v) & m,
            'xor': lambda o, v: o ^ v,
            'and': lambda o, v: o & v,
            'or': lambda o, v: o | v,
            'min': lambda o, v: o if sg(o) <= sg(v) else v,
            'max': lambda o, v: o if sg(o) >= sg(v) else v,
            'minu': lambda o, v: o if o <= v else v,
            'maxu': lambda o, v: o if o >= v else v,
        }
        vals = [0, 1, m, m >> 1, (m >> 1) + 1, 0x5a5a5a5a5a5a5a5a & m, 0x1234567 & m]
        suf = 'd' if width == 64 else 'w'
        for name, f in ops.items():
            print('static const Amo tab_amo%s_%s[] = {' % (name, suf))
            for o in vals:
                for v in vals:
                    ret = o if width == 64 else sx32(o)
                    print('    {0x%xul, 0x%xul, 0x%xul, 0x%xul},' % (o, v, ret, f(o, v)))
            print('};')
    mk(64)
    mk(32)


which = sys.argv[1]
if which == 'i':
    emit_rr(RR, VALS)
    print('static void check_ri_all(void)\n{')
    for name, f in RI.items():
        imms = SH64 if name in ('slli', 'srli', 'srai') else SH32 if name.endswith('iw') and name != 'addiw' else IMMS
        for a in VALS:
            for i in imms:
                print('    CHECK_RI(%s, 0x%xul, %d, 0x%xul);' % (name, a, i, f(a, i)))
    print('}')
    for name, f in BR.items():
        print('static const Vec3 tab_%s[] = {' % name)
        for a in VALS:
            for b in VALS:
                print('    {0x%xul, 0x%xul, %d},' % (a, b, int(f(a, b))))
        print('};')
elif which == 'm':
    emit_rr(RM, VALS)

elif which == 'a':
    amo_tables()
