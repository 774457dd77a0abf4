/*
 * blockimg.c - disk images read by the host; see blockimg.h.
 *
 * An image is a chain: the top file, raw or qcow2, and for qcow2 its
 * backing files (qcow2.c maps guest offsets within one file; this file
 * resolves the chain, reads and hashes). Bytes a qcow2 file does not hold
 * come from its backing file, and read as zeros past the backing file's
 * end or without one.
 *
 * The content hash feeds known-zero runs (holes in sparse raw files,
 * unallocated and zero qcow2 clusters) from a constant buffer without
 * reading them, and is cached in a text file keyed by the identity (real
 * path, size, mtime, inode, device) of every file in the chain.
 *
 * Invariants: a chain holds at most BLOCKIMG_MAX_CHAIN files, none twice
 * (by device and inode); every read stays within the guest-visible size;
 * the cache is only a cache: it is written whole to a temporary file and
 * renamed into place, and any failure to read or write it, or a line that
 * does not parse, only means hashing again.
 */
#include "blockimg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "host/qcow2.h"
#include "util/strbuf.h"

struct BlockImage {
    int fd;
    uint64_t size;      /* guest-visible */
    uint64_t file_size; /* at open */
    char *path;         /* as opened (a backing file: resolved against its parent's directory) */
    char *realpath;     /* for the hash cache; NULL when unknown (no caching) */
    const char *format;
    Qcow2 *qcow2;          /* NULL for raw */
    BlockImage *backing;   /* qcow2 only; NULL: unallocated reads as zeros */
    uint64_t preads;       /* raw and data-cluster reads; qcow2 counts its own */
    struct stat id;        /* at open: the file's identity for the hash cache */
};

typedef struct {
    dev_t dev;
    ino_t ino;
} FileId;

static const uint8_t QCOW2_MAGIC[4] = {'Q', 'F', 'I', 0xfb};
#define HASH_CHUNK (1u << 20)          /* data read per step while hashing */
#define CACHE_MAX_BYTES (4u << 20)     /* a bigger cache file is ignored (and replaced) */
#define CACHE_MAX_LINES 1000
#define CACHE_RACY_NS 2000000000ll     /* files modified this recently are not cached */

/* ---- opening a chain ---------------------------------------------------- */

static BlockImage *open_chain(const char *path, const char *format, FileId *chain, int depth, char *err,
                              size_t errlen);

/* The backing file's path: relative names are relative to the directory
 * of the image that names them (as QEMU resolves them). */
static char *backing_path(const char *image_path, const char *name)
{
    const char *slash = strrchr(image_path, '/');
    if (name[0] == '/' || !slash)
        return strdup(name);
    size_t dirlen = (size_t)(slash - image_path) + 1;
    char *p = malloc(dirlen + strlen(name) + 1);
    if (p) {
        memcpy(p, image_path, dirlen);
        strcpy(p + dirlen, name);
    }
    return p;
}

static bool open_backing(BlockImage *b, FileId *chain, int depth, char *err, size_t errlen)
{
    const char *name = qcow2_backing_name(b->qcow2);
    if (!name)
        return true;
    const char *fmt = qcow2_backing_format(b->qcow2);
    if (fmt && strcmp(fmt, "raw") != 0 && strcmp(fmt, "qcow2") != 0) {
        snprintf(err, errlen, "%s: backing file format '%s' is not supported (raw or qcow2)", b->path, fmt);
        return false;
    }
    if (depth + 1 >= BLOCKIMG_MAX_CHAIN) {
        snprintf(err, errlen, "%s: backing chain longer than %d files", b->path, BLOCKIMG_MAX_CHAIN);
        return false;
    }
    char *bpath = backing_path(b->path, name);
    if (!bpath) {
        snprintf(err, errlen, "%s: out of memory", b->path);
        return false;
    }
    char inner[512];
    b->backing = open_chain(bpath, fmt, chain, depth + 1, inner, sizeof inner);
    free(bpath);
    if (!b->backing) { /* the reason names the file at fault; the top file adds its own name */
        if (depth == 0)
            snprintf(err, errlen, "%s: backing file: %s", b->path, inner);
        else
            snprintf(err, errlen, "%s", inner);
        return false;
    }
    return true;
}

/* Open path as the depth-th file of a chain whose files so far are
 * chain[0..depth). */
static BlockImage *open_chain(const char *path, const char *format, FileId *chain, int depth, char *err,
                              size_t errlen)
{
    if (format && strcmp(format, "raw") != 0 && strcmp(format, "qcow2") != 0) {
        snprintf(err, errlen, "%s: unknown format '%s' (raw or qcow2)", path, format);
        return NULL;
    }
    BlockImage *b = calloc(1, sizeof *b);
    if (!b || !(b->path = strdup(path))) {
        free(b);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    b->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (b->fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(b->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        goto fail;
    }
    for (int i = 0; i < depth; i++) {
        if (chain[i].dev == st.st_dev && chain[i].ino == st.st_ino) {
            snprintf(err, errlen, "%s: backing file loop (the file is already in the chain)", path);
            goto fail;
        }
    }
    chain[depth] = (FileId){st.st_dev, st.st_ino};
    b->file_size = (uint64_t)st.st_size;
    b->id = st;
    b->realpath = realpath(path, NULL); /* NULL: no caching of its hash */
    uint8_t magic[4] = {0};
    bool is_qcow2 = pread(b->fd, magic, 4, 0) == 4 && memcmp(magic, QCOW2_MAGIC, 4) == 0;
    b->preads++;
    if ((format && strcmp(format, "qcow2") == 0) || (!format && is_qcow2)) {
        b->format = "qcow2";
        b->qcow2 = qcow2_open(b->fd, b->file_size, path, err, errlen);
        if (!b->qcow2 || !open_backing(b, chain, depth, err, errlen))
            goto fail;
        b->size = qcow2_size(b->qcow2);
    } else {
        b->format = "raw";
        b->size = b->file_size;
    }
    return b;
fail:
    blockimg_close(b);
    return NULL;
}

BlockImage *blockimg_open(const char *path, const char *format, char *err, size_t errlen)
{
    FileId chain[BLOCKIMG_MAX_CHAIN];
    return open_chain(path, format, chain, 0, err, errlen);
}

void blockimg_close(BlockImage *b)
{
    if (!b)
        return;
    blockimg_close(b->backing);
    qcow2_close(b->qcow2);
    if (b->fd >= 0)
        close(b->fd);
    free(b->realpath);
    free(b->path);
    free(b);
}

uint64_t blockimg_size(const BlockImage *b) { return b->size; }
const char *blockimg_format(const BlockImage *b) { return b->format; }

uint64_t blockimg_read_count(const BlockImage *b)
{
    uint64_t n = 0;
    for (; b; b = b->backing)
        n += b->preads + (b->qcow2 ? qcow2_pread_count(b->qcow2) : 0);
    return n;
}

/* ---- reading ------------------------------------------------------------- */

/* Bytes [off, off+n) of the file; the part past the size it had at open
 * reads as zeros (a qcow2 file's last cluster may be partly unwritten). */
static bool read_file(BlockImage *b, uint64_t off, uint8_t *buf, size_t n, char *err, size_t errlen)
{
    size_t in_file = off >= b->file_size ? 0 : b->file_size - off < n ? (size_t)(b->file_size - off) : n;
    memset(buf + in_file, 0, n - in_file);
    size_t done = 0;
    while (done < in_file) {
        b->preads++;
        ssize_t r = pread(b->fd, buf + done, in_file - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "%s: %s", b->path, r < 0 ? strerror(errno) : "file shrank under us");
            return false;
        }
        done += (size_t)r;
    }
    return true;
}

static bool read_unallocated(BlockImage *b, uint64_t off, uint8_t *buf, size_t n, char *err, size_t errlen)
{
    size_t from_backing = 0;
    if (b->backing && off < b->backing->size)
        from_backing = b->backing->size - off < n ? (size_t)(b->backing->size - off) : n;
    memset(buf + from_backing, 0, n - from_backing);
    return from_backing == 0 || blockimg_read(b->backing, off, buf, from_backing, err, errlen);
}

static bool read_qcow2(BlockImage *b, uint64_t off, uint8_t *buf, size_t n, char *err, size_t errlen)
{
    while (n > 0) {
        Qcow2Extent e;
        if (!qcow2_map(b->qcow2, off, n, &e, err, errlen))
            return false;
        size_t len = (size_t)e.len; /* <= n */
        bool ok = true;
        switch (e.kind) {
        case QCOW2_DATA: ok = read_file(b, e.host_off, buf, len, err, errlen); break;
        case QCOW2_ZERO: memset(buf, 0, len); break;
        case QCOW2_UNALLOCATED: ok = read_unallocated(b, off, buf, len, err, errlen); break;
        case QCOW2_COMPRESSED: ok = qcow2_read_compressed(b->qcow2, e.host_off, off, buf, len, err, errlen); break;
        }
        if (!ok)
            return false;
        off += len;
        buf += len;
        n -= len;
    }
    return true;
}

bool blockimg_read(BlockImage *b, uint64_t off, void *buf, size_t n, char *err, size_t errlen)
{
    if (off > b->size || n > b->size - off) {
        snprintf(err, errlen, "%s: read past the end of the image", b->path);
        return false;
    }
    if (b->qcow2)
        return read_qcow2(b, off, buf, n, err, errlen);
    return read_file(b, off, buf, n, err, errlen);
}

/* ---- hashing --------------------------------------------------------------- */

/* The run of guest bytes from off (< size, at most max of them): *zero
 * when it reads as zeros without needing to be read. */
static bool chain_extent(BlockImage *b, uint64_t off, uint64_t max, uint64_t *len, bool *zero, char *err,
                         size_t errlen)
{
    if (max > b->size - off)
        max = b->size - off;
    if (!b->qcow2) { /* a hole in a sparse file, or data (which may still be zeros) */
        off_t data = lseek(b->fd, (off_t)off, SEEK_DATA);
        if (data < 0 && errno == ENXIO) { /* only a hole up to the end */
            *zero = true, *len = max;
            return true;
        }
        if (data < 0) { /* no SEEK_DATA here: all data */
            *zero = false, *len = max;
            return true;
        }
        if ((uint64_t)data > off) {
            *zero = true, *len = (uint64_t)data - off < max ? (uint64_t)data - off : max;
            return true;
        }
        off_t hole = lseek(b->fd, (off_t)off, SEEK_HOLE);
        *zero = false;
        *len = hole > (off_t)off && (uint64_t)hole - off < max ? (uint64_t)hole - off : max;
        return true;
    }
    Qcow2Extent e;
    if (!qcow2_map(b->qcow2, off, max, &e, err, errlen))
        return false;
    *len = e.len;
    *zero = e.kind == QCOW2_ZERO;
    if (e.kind != QCOW2_UNALLOCATED)
        return true;
    if (!b->backing || off >= b->backing->size) {
        *zero = true;
        return true;
    }
    return chain_extent(b->backing, off, e.len, len, zero, err, errlen);
}

bool blockimg_hash_uncached(BlockImage *b, uint8_t out[16], char *err, size_t errlen)
{
    static const uint8_t zeros[64 << 10];
    XXH3_state_t *st = XXH3_createState();
    uint8_t *buf = malloc(HASH_CHUNK);
    bool ok = st && buf;
    if (!ok)
        snprintf(err, errlen, "%s: out of memory", b->path);
    else
        XXH3_128bits_reset(st);
    for (uint64_t off = 0; ok && off < b->size;) {
        uint64_t len;
        bool zero;
        ok = chain_extent(b, off, b->size - off, &len, &zero, err, errlen);
        for (uint64_t done = 0; ok && done < len;) {
            size_t step = zero ? sizeof zeros : HASH_CHUNK;
            if (step > len - done)
                step = (size_t)(len - done);
            if (!zero)
                ok = blockimg_read(b, off + done, buf, step, err, errlen);
            if (ok)
                XXH3_128bits_update(st, zero ? zeros : buf, step);
            done += step;
        }
        off += len;
    }
    if (ok) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
        memcpy(out, c.digest, 16);
    }
    free(buf);
    XXH3_freeState(st);
    return ok;
}

/* ---- the hash cache ---------------------------------------------------------- */

/* The cache file's path: $RRVM_CACHE_DIR, $XDG_CACHE_HOME/rrvm or
 * ~/.cache/rrvm, then /image-hashes. false when there is no home. */
static bool cache_dir(char *dir, size_t len)
{
    const char *env = getenv("RRVM_CACHE_DIR");
    if (env && *env)
        return (size_t)snprintf(dir, len, "%s", env) < len;
    env = getenv("XDG_CACHE_HOME");
    if (env && env[0] == '/')
        return (size_t)snprintf(dir, len, "%s/rrvm", env) < len;
    env = getenv("HOME");
    if (env && *env)
        return (size_t)snprintf(dir, len, "%s/.cache/rrvm", env) < len;
    return false;
}

/* mkdir -p, quietly: failure shows later as a cache that cannot be written. */
static void make_dirs(char *dir)
{
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0700);
            *p = '/';
        }
    }
    mkdir(dir, 0700);
}

/* A path as one token: bytes that would split a line or a token are %XX. */
static void put_escaped(Strbuf *sb, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '%' || c == 0x7f)
            sb_printf(sb, "%%%02X", c);
        else
            sb_append(sb, (const char *)&c, 1);
    }
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000ll + st->st_mtim.tv_nsec;
}

/* Every file of the chain is as it was at open, and was last modified
 * long enough ago: a write in the same clock tick as a hash would leave
 * the mtime unchanged, so a file modified within the last CACHE_RACY_NS
 * is hashed but not cached (as git treats "racily clean" files). */
static bool chain_settled(const BlockImage *b)
{
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) < 0)
        return false;
    int64_t now_ns = (int64_t)now.tv_sec * 1000000000ll + now.tv_nsec;
    for (; b; b = b->backing) {
        struct stat st;
        if (fstat(b->fd, &st) < 0 || st.st_size != b->id.st_size || mtime_ns(&st) != mtime_ns(&b->id) ||
            st.st_ino != b->id.st_ino || st.st_dev != b->id.st_dev || mtime_ns(&st) > now_ns - CACHE_RACY_NS)
            return false;
    }
    return true;
}

/* The key of a cache line: the top file's format, then real path, size,
 * mtime (ns), inode and device of every file in the chain, as they were
 * at open. false when a file's real path is unknown. */
static bool cache_key(const BlockImage *b, Strbuf *key)
{
    sb_puts(key, b->format);
    for (; b; b = b->backing) {
        if (!b->realpath)
            return false;
        sb_puts(key, " ");
        put_escaped(key, b->realpath);
        sb_printf(key, " %llu %lld %llu %llu", (unsigned long long)b->id.st_size, (long long)mtime_ns(&b->id),
                  (unsigned long long)b->id.st_ino, (unsigned long long)b->id.st_dev);
    }
    return !key->oom;
}

/* The whole cache file, NUL-terminated; NULL when absent or unusable. */
static char *cache_load(const char *file)
{
    FILE *f = fopen(file, "re");
    if (!f)
        return NULL;
    char *text = malloc(CACHE_MAX_BYTES + 1);
    size_t n = text ? fread(text, 1, CACHE_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (!text || n > CACHE_MAX_BYTES) {
        free(text);
        return NULL;
    }
    text[n] = 0;
    return text;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A line is "KEY HASH" with HASH 32 lower-case hex digits; the hash's
 * bytes when so, else false. */
static bool line_hash(const char *line, size_t len, uint8_t out[16])
{
    if (len < 34 || line[len - 33] != ' ')
        return false;
    const char *hex = line + len - 32;
    for (int i = 0; i < 16; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static bool cache_lookup(const char *text, const Strbuf *key, uint8_t out[16])
{
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len == key->len + 33 && memcmp(line, sb_str(key), key->len) == 0 && line_hash(line, len, out))
            return true;
        line += len + (nl != NULL);
    }
    return false;
}

/* The length of the key's first two tokens (format and top real path):
 * lines that share them are older entries for the same file. */
static size_t top_prefix_len(const char *key, size_t len)
{
    const char *sp = memchr(key, ' ', len);
    sp = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - key)) : NULL;
    return sp ? (size_t)(sp - key) + 1 : len;
}

/* Rewrite the cache with the line for key: other valid lines kept
 * (the newest CACHE_MAX_LINES - 1), older lines for the same file and
 * malformed ones dropped. */
static void cache_store(const char *dir, const char *file, const char *old, const Strbuf *key,
                        const uint8_t hash[16])
{
    size_t prefix = top_prefix_len(sb_str(key), key->len);
    size_t lines = 0;
    for (const char *p = old; p && *p; p++)
        lines += *p == '\n';
    Strbuf out;
    sb_init(&out);
    for (const char *line = old; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        uint8_t h[16];
        bool keep = lines-- < CACHE_MAX_LINES && line_hash(line, len, h) &&
                    !(len > prefix && memcmp(line, sb_str(key), prefix) == 0);
        if (keep) {
            sb_append(&out, line, len);
            sb_puts(&out, "\n");
        }
        line += len + (nl != NULL);
    }
    sb_append(&out, sb_str(key), key->len);
    sb_puts(&out, " ");
    for (int i = 0; i < 16; i++)
        sb_printf(&out, "%02x", hash[i]);
    sb_puts(&out, "\n");
    char tmp[PATH_MAX + 32];
    int fd = -1;
    if (!out.oom && (size_t)snprintf(tmp, sizeof tmp, "%s/.image-hashes.XXXXXX", dir) < sizeof tmp)
        fd = mkostemp(tmp, O_CLOEXEC);
    if (fd >= 0) {
        bool ok = write(fd, sb_str(&out), out.len) == (ssize_t)out.len;
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, file) != 0)
            unlink(tmp);
    }
    sb_free(&out);
}

bool blockimg_hash(BlockImage *b, uint8_t out[16], char *err, size_t errlen)
{
    char dir[PATH_MAX], file[PATH_MAX + 16];
    Strbuf key;
    sb_init(&key);
    bool cacheable = cache_dir(dir, sizeof dir) &&
                     (size_t)snprintf(file, sizeof file, "%s/image-hashes", dir) < sizeof file &&
                     cache_key(b, &key) && chain_settled(b);
    char *text = cacheable ? cache_load(file) : NULL;
    if (text && cache_lookup(text, &key, out)) {
        free(text);
        sb_free(&key);
        return true;
    }
    bool ok = blockimg_hash_uncached(b, out, err, errlen);
    if (ok && cacheable && chain_settled(b)) { /* not if a file changed while hashing */
        make_dirs(dir);
        cache_store(dir, file, text, &key, out);
    }
    free(text);
    sb_free(&key);
    return ok;
}
