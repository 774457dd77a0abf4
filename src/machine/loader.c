/*
 * loader.c - ELF64 and raw image loaders (see loader.h).
 *
 * Invariants:
 *  - Every offset, size and address read from the image is checked for
 *    overflow and against the buffer or RAM before use; fields are read
 *    byte by byte as little-endian, so neither host endianness nor
 *    alignment of the buffer matters.
 *  - Validation completes before the first byte is written to RAM.
 *  - The program header count is capped (ELF_MAX_PHNUM) so the pairwise
 *    overlap check stays cheap on hostile input.
 *  - A segment part outside RAM is dropped, as QEMU drops it, only when the
 *    file bytes it holds are the ELF/program headers or zero padding (what
 *    `ld -Ttext=0x80000000` puts in a first PT_LOAD starting below RAM);
 *    anything else outside RAM is an error, never silently lost.
 */
#include "machine/loader.h"

#include <stdio.h>
#include <string.h>

#define EHDR_SIZE 64
#define PHDR_SIZE 56
#define SHDR_SIZE 64
#define SYM_SIZE 24
#define ET_EXEC 2
#define EM_RISCV 243
#define PT_LOAD 1
#define SHT_SYMTAB 2
#define SHN_UNDEF 0
#define ELF_MAX_PHNUM 1024

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* [off, off+n) lies within a buffer of `total` bytes. */
static bool within(uint64_t off, uint64_t n, uint64_t total) { return off <= total && n <= total - off; }

static unsigned long long ull(uint64_t v) { return (unsigned long long)v; }

static uint64_t ram_last(const Machine *m) { return RAM_BASE + m->ram_size - 1; }

bool loader_is_elf(const uint8_t *data, size_t len)
{
    return data && len >= 4 && memcmp(data, "\x7f" "ELF", 4) == 0;
}

const char *loader_image_format(const uint8_t *data, size_t len)
{
    static const struct { size_t off; const char *magic; size_t n; const char *name; } formats[] = {
        {0, "\x7f" "ELF", 4, "ELF"},
        {56, "RSC\x05", 4, "Linux Image"},
        {0, "\xd0\x0d\xfe\xed", 4, "device tree"},
        {0, "070701", 6, "cpio archive"},
        {0, "\x1f\x8b", 2, "gzip data"},
    };
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (data && len >= formats[i].off + formats[i].n &&
            memcmp(data + formats[i].off, formats[i].magic, formats[i].n) == 0)
            return formats[i].name;
    return "raw";
}

static uint64_t translate(const Machine *m, bool kernel_translate, uint64_t addr, uint64_t n)
{
    if (kernel_translate && !machine_is_ram(m, addr, n))
        return (addr & 0x7fffffffull) + RAM_BASE;
    return addr;
}

typedef struct Segment {
    uint64_t offset, filesz, memsz, addr;
} Segment;

/* Find `tohost`/`fromhost` in .symtab. A file without section headers or
 * without a symbol table simply has neither. */
static bool find_symbols(const uint8_t *data, size_t len, const char *what, ElfInfo *info,
                         char *err, size_t errlen)
{
    uint64_t shoff = rd64(data + 40);
    uint16_t shentsize = rd16(data + 58), shnum = rd16(data + 60);
    if (shoff == 0 || shnum == 0)
        return true;
    if (shentsize != SHDR_SIZE || !within(shoff, (uint64_t)shnum * SHDR_SIZE, len)) {
        snprintf(err, errlen, "%s: ELF section headers lie outside the file", what);
        return false;
    }
    for (unsigned i = 0; i < shnum; i++) {
        const uint8_t *sh = data + shoff + (uint64_t)i * SHDR_SIZE;
        if (rd32(sh + 4) != SHT_SYMTAB)
            continue;
        uint64_t symoff = rd64(sh + 24), symsize = rd64(sh + 32), entsize = rd64(sh + 56);
        uint32_t link = rd32(sh + 40);
        if (entsize != SYM_SIZE || !within(symoff, symsize, len) || link >= shnum) {
            snprintf(err, errlen, "%s: ELF symbol table is malformed", what);
            return false;
        }
        const uint8_t *strsh = data + shoff + (uint64_t)link * SHDR_SIZE;
        uint64_t stroff = rd64(strsh + 24), strsize = rd64(strsh + 32);
        if (!within(stroff, strsize, len)) {
            snprintf(err, errlen, "%s: ELF string table lies outside the file", what);
            return false;
        }
        const char *strtab = (const char *)data + stroff;
        for (uint64_t s = 0; s < symsize / SYM_SIZE; s++) {
            const uint8_t *sym = data + symoff + s * SYM_SIZE;
            uint32_t name = rd32(sym);
            if (rd16(sym + 6) == SHN_UNDEF || name >= strsize)
                continue;
            const char *nm = strtab + name;
            size_t maxlen = (size_t)(strsize - name);
            uint64_t value = rd64(sym + 8);
            if (strnlen(nm, maxlen) == 6 && memcmp(nm, "tohost", 6) == 0) {
                info->has_tohost = true;
                info->tohost = value;
            } else if (strnlen(nm, maxlen) == 8 && memcmp(nm, "fromhost", 8) == 0) {
                info->has_fromhost = true;
                info->fromhost = value;
            }
        }
        break; /* ELF allows a single SHT_SYMTAB */
    }
    return true;
}

/* The file bytes [off, off+n) are the ELF and program headers (below
 * hdr_end) or zeros. The caller has checked they lie in the file. */
static bool header_or_padding(const uint8_t *data, uint64_t hdr_end, uint64_t off, uint64_t n)
{
    for (uint64_t i = off < hdr_end ? hdr_end : off; i < off + n; i++)
        if (data[i])
            return false;
    return true;
}

/* A segment that starts below RAM (or lies wholly outside it) and holds
 * only headers there: keep the part in RAM (*skip when there is none).
 * Returns false when the segment does not have that shape. */
static bool clip_header_part(const Machine *m, const uint8_t *data, uint64_t hdr_end, Segment *s, bool *skip)
{
    uint64_t ram_hi = RAM_BASE + m->ram_size;
    *skip = false;
    if (s->memsz > UINT64_MAX - s->addr)
        return false;
    uint64_t end = s->addr + s->memsz;
    if (end <= RAM_BASE || s->addr >= ram_hi) {
        *skip = s->filesz == s->memsz && header_or_padding(data, hdr_end, s->offset, s->filesz);
        return *skip;
    }
    if (s->addr >= RAM_BASE || end > ram_hi)
        return false;
    uint64_t head = RAM_BASE - s->addr;
    if (head > s->filesz || !header_or_padding(data, hdr_end, s->offset, head))
        return false;
    s->addr = RAM_BASE;
    s->offset += head;
    s->filesz -= head;
    s->memsz -= head;
    return true;
}

static bool write_segment(Machine *m, const uint8_t *data, const Segment *s)
{
    static const uint8_t zeros[4096];
    if (s->filesz && !machine_phys_write(m, s->addr, data + s->offset, (size_t)s->filesz))
        return false;
    for (uint64_t done = s->filesz; done < s->memsz;) {
        uint64_t n = s->memsz - done < sizeof zeros ? s->memsz - done : sizeof zeros;
        if (!machine_phys_write(m, s->addr + done, zeros, (size_t)n))
            return false;
        done += n;
    }
    return true;
}

bool loader_load_elf(Machine *m, const char *what, const uint8_t *data, size_t len,
                     bool kernel_translate, ElfInfo *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    if (!loader_is_elf(data, len)) {
        snprintf(err, errlen, "%s: not an ELF file", what);
        return false;
    }
    if (len < EHDR_SIZE) {
        snprintf(err, errlen, "%s: truncated ELF header (%zu bytes)", what, len);
        return false;
    }
    if (data[4] != 2) {
        snprintf(err, errlen, "%s: not a 64-bit ELF (class %u)", what, data[4]);
        return false;
    }
    if (data[5] != 1) {
        snprintf(err, errlen, "%s: not a little-endian ELF", what);
        return false;
    }
    uint16_t type = rd16(data + 16), machine = rd16(data + 18);
    if (machine != EM_RISCV) {
        snprintf(err, errlen, "%s: not a RISC-V ELF (e_machine=%u)", what, machine);
        return false;
    }
    if (type != ET_EXEC) {
        snprintf(err, errlen, "%s: not an executable ELF (e_type=%u)", what, type);
        return false;
    }
    uint64_t entry = rd64(data + 24), phoff = rd64(data + 32);
    uint16_t phentsize = rd16(data + 54), phnum = rd16(data + 56);
    if (phnum == 0) {
        snprintf(err, errlen, "%s: ELF has no program headers", what);
        return false;
    }
    if (phnum > ELF_MAX_PHNUM) {
        snprintf(err, errlen, "%s: ELF has too many program headers (%u)", what, phnum);
        return false;
    }
    if (phentsize != PHDR_SIZE || !within(phoff, (uint64_t)phnum * PHDR_SIZE, len)) {
        snprintf(err, errlen, "%s: ELF program headers lie outside the file (truncated?)", what);
        return false;
    }

    Segment seg[ELF_MAX_PHNUM];
    int nseg = 0;
    uint64_t hdr_end = phoff + (uint64_t)phnum * PHDR_SIZE;
    if (hdr_end < EHDR_SIZE)
        hdr_end = EHDR_SIZE;
    info->lo = UINT64_MAX;
    info->hi = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = data + phoff + (uint64_t)i * PHDR_SIZE;
        if (rd32(ph) != PT_LOAD)
            continue;
        Segment s = {.offset = rd64(ph + 8), .filesz = rd64(ph + 32), .memsz = rd64(ph + 40)};
        uint64_t paddr = rd64(ph + 24);
        if (s.memsz == 0)
            continue;
        if (s.filesz > s.memsz) {
            snprintf(err, errlen, "%s: ELF segment at 0x%llx has file size 0x%llx above its memory size 0x%llx",
                     what, ull(paddr), ull(s.filesz), ull(s.memsz));
            return false;
        }
        if (!within(s.offset, s.filesz, len)) {
            snprintf(err, errlen, "%s: ELF segment at 0x%llx (file offset 0x%llx, size 0x%llx) lies outside the file (truncated?)",
                     what, ull(paddr), ull(s.offset), ull(s.filesz));
            return false;
        }
        /* in RAM as linked; else moved like QEMU's kernel loader (vmlinux);
         * else with its header-only part outside RAM dropped */
        s.addr = translate(m, kernel_translate, paddr, s.memsz);
        bool skip = false;
        if (!machine_is_ram(m, s.addr, s.memsz) || !machine_is_ram(m, paddr, 1)) {
            Segment c = s;
            c.addr = paddr;
            if (clip_header_part(m, data, hdr_end, &c, &skip))
                s = c;
        }
        if (skip)
            continue;
        if (!machine_is_ram(m, s.addr, s.memsz)) {
            snprintf(err, errlen, "%s: ELF segment at 0x%llx (size 0x%llx) lies outside RAM (0x%llx-0x%llx)",
                     what, ull(paddr), ull(s.memsz), ull(RAM_BASE), ull(ram_last(m)));
            return false;
        }
        for (int j = 0; j < nseg; j++) {
            if (s.addr < seg[j].addr + seg[j].memsz && seg[j].addr < s.addr + s.memsz) {
                snprintf(err, errlen, "%s: ELF segments at 0x%llx and 0x%llx overlap",
                         what, ull(seg[j].addr), ull(s.addr));
                return false;
            }
        }
        seg[nseg++] = s;
        if (s.addr < info->lo)
            info->lo = s.addr;
        if (s.addr + s.memsz > info->hi)
            info->hi = s.addr + s.memsz;
    }
    if (nseg == 0) {
        snprintf(err, errlen, "%s: ELF has no loadable segments", what);
        return false;
    }
    info->entry = translate(m, kernel_translate, entry, 4);
    if (!machine_is_ram(m, info->entry, 2)) {
        snprintf(err, errlen, "%s: ELF entry point 0x%llx lies outside RAM (0x%llx-0x%llx)",
                 what, ull(entry), ull(RAM_BASE), ull(ram_last(m)));
        return false;
    }
    if (!find_symbols(data, len, what, info, err, errlen))
        return false;

    for (int i = 0; i < nseg; i++) {
        if (!write_segment(m, data, &seg[i])) {
            snprintf(err, errlen, "%s: could not write ELF segment at 0x%llx", what, ull(seg[i].addr));
            return false;
        }
    }
    return true;
}

bool loader_load_raw(Machine *m, const char *what, const uint8_t *data, size_t len,
                     uint64_t addr, char *err, size_t errlen)
{
    if (!data || len == 0) {
        snprintf(err, errlen, "%s: image is empty", what);
        return false;
    }
    if (!machine_is_ram(m, addr, len)) {
        snprintf(err, errlen, "%s: image of %zu bytes at 0x%llx does not fit in RAM (0x%llx-0x%llx)",
                 what, len, ull(addr), ull(RAM_BASE), ull(ram_last(m)));
        return false;
    }
    if (!machine_phys_write(m, addr, data, len)) {
        snprintf(err, errlen, "%s: could not write image at 0x%llx", what, ull(addr));
        return false;
    }
    return true;
}
