/*
 * rvc.c - compressed instructions. The functions under test are written in
 * file-scope assembly using explicit c.* mnemonics between the labels
 * rvc_begin and rvc_end; the test first checks that every parcel there is
 * 16 bits wide (so the assembler really emitted RVC), then calls each
 * function and compares with known answers. Covers c.addi4spn, c.addi16sp,
 * c.lwsp/c.ldsp/c.swsp/c.sdsp, c.lw/c.ld/c.sw/c.sd, c.li, c.lui, c.addi,
 * c.addiw, c.slli/c.srli/c.srai, c.andi, c.mv/c.add/c.sub/c.xor/c.or/c.and,
 * c.addw/c.subw, c.j, c.jr, c.jalr (link = pc + 2), c.beqz/c.bnez, c.nop.
 * (c.jal exists only on RV32; c.ebreak is covered by the traps test.)
 */
#include "libtest.h"

#define FN(name) ".globl " #name "\n" #name ":\n"

__asm__(
    ".text\n"
    ".option push\n"
    ".option rvc\n"
    ".balign 4\n"
    FN(rvc_begin)
    FN(t_addi4spn)          /* a0 = sp + 1020 - sp */
    "c.addi4spn a0, sp, 1020\n"
    "c.mv a1, sp\n"
    "c.sub a0, a1\n"
    "c.jr ra\n"
    FN(t_addi4spn_small)
    "c.addi4spn a0, sp, 4\n"
    "c.mv a1, sp\n"
    "c.sub a0, a1\n"
    "c.jr ra\n"
    FN(t_addi16sp)          /* returns old_sp - (sp after -512 + 496) = 16 */
    "c.mv a1, sp\n"
    "c.addi16sp sp, -512\n"
    "c.addi16sp sp, 496\n"
    "c.mv a0, sp\n"
    "c.addi16sp sp, 16\n"
    "c.sub a1, a0\n"
    "c.mv a0, a1\n"
    "c.jr ra\n"
    FN(t_sdsp_ldsp)         /* (x) -> x via the stack */
    "c.addi16sp sp, -32\n"
    "c.sdsp a0, 24(sp)\n"
    "c.li a0, 0\n"
    "c.ldsp a0, 24(sp)\n"
    "c.addi16sp sp, 32\n"
    "c.jr ra\n"
    FN(t_swsp_lwsp)         /* (x) -> sext32(x) */
    "c.addi16sp sp, -32\n"
    "c.swsp a0, 12(sp)\n"
    "c.li a0, 0\n"
    "c.lwsp a0, 12(sp)\n"
    "c.addi16sp sp, 32\n"
    "c.jr ra\n"
    FN(t_sw_lw)             /* (x) -> sext32(x) via c.sw/c.lw off a1 */
    "c.addi16sp sp, -32\n"
    "c.mv a1, sp\n"
    "c.sw a0, 20(a1)\n"
    "c.li a0, 0\n"
    "c.lw a0, 20(a1)\n"
    "c.addi16sp sp, 32\n"
    "c.jr ra\n"
    FN(t_sd_ld)             /* (x) -> x via c.sd/c.ld off s1 (saved in a5) */
    "c.mv a5, s1\n"
    "c.addi16sp sp, -32\n"
    "c.mv s1, sp\n"
    "c.sd a0, 16(s1)\n"
    "c.li a0, 0\n"
    "c.ld a0, 16(s1)\n"
    "c.addi16sp sp, 32\n"
    "c.mv s1, a5\n"
    "c.jr ra\n"
    FN(t_li_m32)
    "c.li a0, -32\n"
    "c.jr ra\n"
    FN(t_li_31)
    "c.li a0, 31\n"
    "c.jr ra\n"
    FN(t_lui_neg)
    "c.lui a0, 0xfffe0\n"
    "c.jr ra\n"
    FN(t_lui_31)
    "c.lui a0, 31\n"
    "c.jr ra\n"
    FN(t_addi)              /* x - 32 + 31 */
    "c.addi a0, -32\n"
    "c.addi a0, 31\n"
    "c.jr ra\n"
    FN(t_addiw1)            /* sext32(x + 1) */
    "c.addiw a0, 1\n"
    "c.jr ra\n"
    FN(t_addiw0)            /* sext.w */
    "c.addiw a0, 0\n"
    "c.jr ra\n"
    FN(t_slli63)
    "c.slli a0, 63\n"
    "c.jr ra\n"
    FN(t_slli1)
    "c.slli a0, 1\n"
    "c.jr ra\n"
    FN(t_srli32)
    "c.srli a0, 32\n"
    "c.jr ra\n"
    FN(t_srli1)
    "c.srli a0, 1\n"
    "c.jr ra\n"
    FN(t_srai63)
    "c.srai a0, 63\n"
    "c.jr ra\n"
    FN(t_srai4)
    "c.srai a0, 4\n"
    "c.jr ra\n"
    FN(t_andi_m32)
    "c.andi a0, -32\n"
    "c.jr ra\n"
    FN(t_andi15)
    "c.andi a0, 15\n"
    "c.jr ra\n"
    FN(t_add)
    "c.add a0, a1\n"
    "c.jr ra\n"
    FN(t_sub)
    "c.sub a0, a1\n"
    "c.jr ra\n"
    FN(t_xor)
    "c.xor a0, a1\n"
    "c.jr ra\n"
    FN(t_or)
    "c.or a0, a1\n"
    "c.jr ra\n"
    FN(t_and)
    "c.and a0, a1\n"
    "c.jr ra\n"
    FN(t_addw)
    "c.addw a0, a1\n"
    "c.jr ra\n"
    FN(t_subw)
    "c.subw a0, a1\n"
    "c.jr ra\n"
    FN(t_mv)
    "c.mv a0, a1\n"
    "c.jr ra\n"
    FN(t_j)                 /* 1 if c.j skipped the c.li */
    "c.li a0, 1\n"
    "c.j 1f\n"
    "c.li a0, 2\n"
    "c.nop\n"
    "1: c.nop\n"
    "c.jr ra\n"
    FN(t_j_back)            /* backward c.j loop: 5 iterations adding 3 */
    "c.li a1, 5\n"
    "c.li a0, 0\n"
    "1: c.addi a0, 3\n"
    "c.addi a1, -1\n"
    "c.beqz a1, 2f\n"
    "c.j 1b\n"
    "2: c.jr ra\n"
    FN(t_beqz)              /* (x) -> x == 0 */
    "c.li a1, 1\n"
    "c.beqz a0, 1f\n"
    "c.li a1, 0\n"
    "1: c.mv a0, a1\n"
    "c.jr ra\n"
    FN(t_bnez)              /* (x) -> x != 0 */
    "c.li a1, 1\n"
    "c.bnez a0, 1f\n"
    "c.li a1, 0\n"
    "1: c.mv a0, a1\n"
    "c.jr ra\n"
    FN(t_getra)             /* returns its own return address */
    "c.mv a0, ra\n"
    "c.jr ra\n"
    FN(t_jalr)              /* (fn) -> link value seen by fn */
    "c.mv a5, ra\n"
    "c.jalr a0\n"
    FN(t_jalr_after)
    "c.mv ra, a5\n"
    "c.jr ra\n"
    FN(t_jr)                /* (target): tail-jumps, target returns to caller */
    "c.jr a0\n"
    FN(t_jr_target)
    "c.li a0, 7\n"
    "c.jr ra\n"
    FN(rvc_end)
    ".option pop\n");

extern char rvc_begin[], rvc_end[], t_jalr_after[], t_jr_target[], t_getra[];
u64 t_addi4spn(void), t_addi4spn_small(void), t_addi16sp(void);
u64 t_sdsp_ldsp(u64), t_swsp_lwsp(u64), t_sw_lw(u64), t_sd_ld(u64);
u64 t_li_m32(void), t_li_31(void), t_lui_neg(void), t_lui_31(void);
u64 t_addi(u64), t_addiw1(u64), t_addiw0(u64), t_slli63(u64), t_slli1(u64);
u64 t_srli32(u64), t_srli1(u64), t_srai63(u64), t_srai4(u64);
u64 t_andi_m32(u64), t_andi15(u64);
u64 t_add(u64, u64), t_sub(u64, u64), t_xor(u64, u64), t_or(u64, u64), t_and(u64, u64);
u64 t_addw(u64, u64), t_subw(u64, u64), t_mv(u64, u64);
u64 t_j(void), t_j_back(void), t_beqz(u64), t_bnez(u64), t_jalr(u64), t_jr(u64);

int main(void)
{
    test_begin("rvc");
    int wide = 0;
    for (unsigned short *p = (unsigned short *)rvc_begin; p < (unsigned short *)rvc_end; p++)
        wide += (*p & 3) == 3;
    CHECK("32-bit parcels in the RVC block", wide, 0);
    /* 123 = the number of c.* instructions in the block above */
    CHECK("rvc block size", rvc_end - rvc_begin, 2 * 123);

    CHECK("c.addi4spn 1020", t_addi4spn(), 1020);
    CHECK("c.addi4spn 4", t_addi4spn_small(), 4);
    CHECK("c.addi16sp -512/+496/+16", t_addi16sp(), 16);
    CHECK("c.sdsp/c.ldsp", t_sdsp_ldsp(0x8123456789abcdeful), 0x8123456789abcdeful);
    CHECK("c.swsp/c.lwsp sign-extends", t_swsp_lwsp(0x1234567887654321ul), 0xffffffff87654321ul);
    CHECK("c.swsp/c.lwsp positive", t_swsp_lwsp(0xffffffff07654321ul), 0x07654321ul);
    CHECK("c.sw/c.lw sign-extends", t_sw_lw(0x00000000fedcba98ul), 0xfffffffffedcba98ul);
    CHECK("c.sd/c.ld", t_sd_ld(0xfedcba9876543210ul), 0xfedcba9876543210ul);
    CHECK("c.li -32", t_li_m32(), 0xffffffffffffffe0ul);
    CHECK("c.li 31", t_li_31(), 31);
    CHECK("c.lui 0xfffe0", t_lui_neg(), 0xfffffffffffe0000ul);
    CHECK("c.lui 31", t_lui_31(), 0x1f000);
    CHECK("c.addi -32, 31", t_addi(100), 99);
    CHECK("c.addi wraps", t_addi(0), ~0ul);
    CHECK("c.addiw overflow", t_addiw1(0x7fffffff), 0xffffffff80000000ul);
    CHECK("c.addiw ignores upper", t_addiw1(0x12345678fffffffful), 0);
    CHECK("c.addiw 0 = sext.w", t_addiw0(0xaaaaaaaa80000000ul), 0xffffffff80000000ul);
    CHECK("c.slli 63", t_slli63(3), 0x8000000000000000ul);
    CHECK("c.slli 1", t_slli1(0xc000000000000001ul), 0x8000000000000002ul);
    CHECK("c.srli 32", t_srli32(0x8000000100000000ul), 0x80000001ul);
    CHECK("c.srli 1", t_srli1(0x8000000000000001ul), 0x4000000000000000ul);
    CHECK("c.srai 63", t_srai63(0x8000000000000000ul), ~0ul);
    CHECK("c.srai 63 positive", t_srai63(0x7ffffffffffffffful), 0);
    CHECK("c.srai 4", t_srai4(0x8000000000000010ul), 0xf800000000000001ul);
    CHECK("c.andi -32", t_andi_m32(0x123456789abcdefful), 0x123456789abcdee0ul);
    CHECK("c.andi 15", t_andi15(0x123456789abcdefful), 0xf);
    CHECK("c.add", t_add(0xfffffffffffffffful, 2), 1);
    CHECK("c.sub", t_sub(1, 2), ~0ul);
    CHECK("c.xor", t_xor(0xff00ff00ff00ff00ul, 0x0ff00ff00ff00ff0ul), 0xf0f0f0f0f0f0f0f0ul);
    CHECK("c.or", t_or(0xff00000000000000ul, 0x1ul), 0xff00000000000001ul);
    CHECK("c.and", t_and(0xff00ff00ff00ff00ul, 0x0ff00ff00ff00ff0ul), 0x0f000f000f000f00ul);
    CHECK("c.addw overflow", t_addw(0x7fffffff, 1), 0xffffffff80000000ul);
    CHECK("c.addw ignores upper", t_addw(0xffffffff00000001ul, 0x100000001ul), 2);
    CHECK("c.subw", t_subw(0x80000000ul, 1), 0x7fffffff);
    CHECK("c.subw negative", t_subw(0, 1), ~0ul);
    CHECK("c.mv", t_mv(0, 0xabcdef0123456789ul), 0xabcdef0123456789ul);
    CHECK("c.j forward", t_j(), 1);
    CHECK("c.j backward loop", t_j_back(), 15);
    CHECK("c.beqz taken", t_beqz(0), 1);
    CHECK("c.beqz not taken", t_beqz(1), 0);
    CHECK("c.beqz not taken (sign bit)", t_beqz(1ul << 63), 0);
    CHECK("c.bnez taken", t_bnez(1ul << 63), 1);
    CHECK("c.bnez not taken", t_bnez(0), 0);
    CHECK("c.jalr link = pc + 2", t_jalr((u64)t_getra), (u64)t_jalr_after);
    CHECK("c.jr", t_jr((u64)t_jr_target), 7);
    return test_end();
}
