/*
 * guest/init.c - /init of rrvm's Linux test guest (runs as PID 1).
 *
 * Static, no libc: built against the kernel's own nolibc by
 * scripts/build-guest (-include tools/include/nolibc/nolibc.h -nostdlib).
 *
 * It exercises what the emulator must get right and prints one line per
 * result, every line starting with "INIT: " so harnesses can grep for them:
 *   1. mounts proc, sysfs, devtmpfs; banner + uname
 *   2. number of online CPUs                      INIT: cpus=N
 *   3. RTC (goldfish) and CLOCK_REALTIME          INIT: rtc=YYYY-MM-DD HH:MM:SS
 *   4. 16 random bytes (hwrng, else getrandom)    INIT: random=<32 hex>
 *   5. CPU-bound hash loop                        INIT: checksum=<16 hex> loops=N
 *   6. disk=1: mount /dev/vda (ext2), checksum /mnt/hello.txt, write
 *      /mnt/written.txt                            INIT: disk: ...
 *      ddbench=MB: sequential read/write of /dev/vda  INIT: dd: ...
 *      vcon=1: a line in and out of /dev/hvc0       INIT: vcon: <line>
 *      net=1: eth0 10.0.2.15/24; httpport=N: GET / from 10.0.2.2:N,
 *      checksum the body; echoport=N: answer one TCP line; netrx=N /
 *      nettx=N,nettxmb=M: bulk transfers for the bench   INIT: net: ...
 *   7. one console line with a poll() timeout     INIT: echo: <line>
 *   8. demo=1: exec /bin/sh; else power off        INIT: poweroff
 *
 * Kernel command line knobs (unknown key=value words reach init as env vars):
 *   loops=N       hash-loop iterations (default 1000000)
 *   rdtimeout=MS  console wait in ms (default 3000, 0 = just check)
 *   demo=1        start the shell instead of powering off
 *   disk=1, ddbench=MB, vcon=1, vcontimeout=MS, net=1, httpport=N,
 *   echoport=N, nettimeout=MS, netrx=N, nettx=N, nettxmb=M  (see step 6)
 *
 * Invariants: every output line is assembled in a buffer and written with a
 * single write(), so kernel messages cannot split it; init never exits (PID 1
 * exiting panics the kernel), it powers off or waits forever.
 */
#include <linux/in.h>
#include <linux/reboot.h>
#include <linux/sockios.h>
#include <linux/rtc.h>
#include <linux/utsname.h>

/* what <sys/socket.h> and <net/if.h> would give (nolibc has neither) */
#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef SOCK_STREAM
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#endif
#ifndef SOL_SOCKET
#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define SO_ERROR 4
#endif
#ifndef SOCK_NONBLOCK
#define SOCK_NONBLOCK 04000
#endif

/* nettimeout=MS: how long a connection or an accept may take */
static unsigned long net_timeout_ms = 20000;
#define IFF_UP 0x1
#define IFF_RUNNING 0x40
struct ifreq {
	char ifr_name[16];
	union {
		struct sockaddr_in ifr_addr;
		short ifr_flags;
		char pad[24];
	};
};

#ifndef CLOCK_REALTIME
#define CLOCK_REALTIME 0
#endif
#ifndef GRND_NONBLOCK
#define GRND_NONBLOCK 0x0001
#endif

#define DEFAULT_LOOPS 1000000UL
#define DEFAULT_RDTIMEOUT_MS 3000UL
#define HWRNG_MAX_TRIES 200 /* x 10 ms: give a slow virtio-rng 2 s */

/* One output line, written with one write(); overlong content is cut. */
typedef struct Line {
	char buf[320];
	unsigned len;
} Line;

static void line_str(Line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = *s++;
}

static void line_char(Line *l, char c)
{
	if (l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = c;
}

static void line_dec(Line *l, unsigned long v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		line_char(l, tmp[--n]);
}

/* zero-padded to at least 'width' digits */
static void line_dec_pad(Line *l, unsigned long v, int width)
{
	unsigned long p = 1;
	int digits = 1;

	while (digits < width || v / p >= 10) {
		p *= 10;
		digits++;
	}
	for (; p; p /= 10)
		line_char(l, (char)('0' + (v / p) % 10));
}

static void line_hex_bytes(Line *l, const unsigned char *b, int n)
{
	static const char hx[] = "0123456789abcdef";
	int i;

	for (i = 0; i < n; i++) {
		line_char(l, hx[b[i] >> 4]);
		line_char(l, hx[b[i] & 15]);
	}
}

static void line_hex64(Line *l, unsigned long v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (56 - 8 * i));
	line_hex_bytes(l, b, 8);
}

static void line_emit(Line *l)
{
	l->buf[l->len++] = '\n';
	write(1, l->buf, l->len);
	l->len = 0;
}

/* "INIT: <a><b>\n" */
static void say2(const char *a, const char *b)
{
	Line l = { .len = 0 };

	line_str(&l, "INIT: ");
	line_str(&l, a);
	line_str(&l, b);
	line_emit(&l);
}

/* "INIT: <what> failed: errno=N" */
static void say_errno(const char *what, int err)
{
	Line l = { .len = 0 };

	line_str(&l, "INIT: ");
	line_str(&l, what);
	line_str(&l, " failed: errno=");
	line_dec(&l, (unsigned long)err);
	line_emit(&l);
}

/*
 * nolibc 6.1's getenv() needs a user-defined 'environ'; look at main()'s
 * envp instead.
 */
static const char *env_get(char **envp, const char *name)
{
	int i, j;

	for (i = 0; envp && envp[i]; i++) {
		for (j = 0; name[j] && name[j] == envp[i][j]; j++)
			;
		if (!name[j] && envp[i][j] == '=')
			return &envp[i][j + 1];
	}
	return NULL;
}

/* Decimal knob from the environment; anything but plain digits (or a value
 * above 'max') is reported and replaced by the default. */
static unsigned long env_number(char **envp, const char *name, unsigned long dflt,
				unsigned long max)
{
	const char *s = env_get(envp, name);
	const char *p;
	unsigned long v = 0;

	if (!s)
		return dflt;
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (v > (max - (unsigned long)(*p - '0')) / 10)
			break;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (p == s || *p) {
		Line l = { .len = 0 };

		line_str(&l, "INIT: ignoring bad ");
		line_str(&l, name);
		line_str(&l, "=");
		line_str(&l, s);
		line_str(&l, ", using ");
		line_dec(&l, dflt);
		line_emit(&l);
		return dflt;
	}
	return v;
}

static void do_mounts(void)
{
	/* the directories are in the cpio; mkdir only matters for other rootfs */
	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	mkdir("/dev", 0755);
	if (mount("proc", "/proc", "proc", 0, NULL) < 0)
		say_errno("mount /proc", errno);
	if (mount("sysfs", "/sys", "sysfs", 0, NULL) < 0)
		say_errno("mount /sys", errno);
	/* EBUSY: the kernel already mounted it (DEVTMPFS_MOUNT with a disk root) */
	if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) < 0 && errno != EBUSY)
		say_errno("mount /dev", errno);
}

static void do_banner(void)
{
	struct new_utsname u;
	Line l = { .len = 0 };

	say2("rrvm guest init", "");
	if (my_syscall1(__NR_uname, &u) < 0) {
		say_errno("uname", errno);
		return;
	}
	line_str(&l, "INIT: uname=");
	line_str(&l, u.sysname);
	line_char(&l, ' ');
	line_str(&l, u.release);
	line_char(&l, ' ');
	line_str(&l, u.machine);
	line_emit(&l);
}

/* Read a small file into buf (NUL-terminated); returns length or -1. */
static int read_small_file(const char *path, char *buf, int size)
{
	int fd, n, got = 0;

	fd = open(path, O_RDONLY, 0);
	if (fd < 0)
		return -1;
	while (got < size - 1) {
		n = read(fd, buf + got, (size_t)(size - 1 - got));
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = 0;
	return got;
}

/* Count CPUs in a sysfs cpu list such as "0-3,5\n"; -1 if malformed. */
static int count_cpu_list(const char *s)
{
	int count = 0;

	while (*s && *s != '\n') {
		long lo = 0, hi;

		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9' && lo < 100000)
			lo = lo * 10 + (*s++ - '0');
		hi = lo;
		if (*s == '-') {
			s++;
			if (*s < '0' || *s > '9')
				return -1;
			hi = 0;
			while (*s >= '0' && *s <= '9' && hi < 100000)
				hi = hi * 10 + (*s++ - '0');
		}
		if (hi < lo)
			return -1;
		count += (int)(hi - lo + 1);
		if (*s == ',')
			s++;
	}
	return count;
}

/* Fallback: number of "processor" lines in /proc/cpuinfo. */
static int count_cpuinfo(void)
{
	static const char key[] = "processor";
	char buf[8192];
	int n, i, count = 0;

	n = read_small_file("/proc/cpuinfo", buf, sizeof(buf));
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if ((i == 0 || buf[i - 1] == '\n') &&
		    strncmp(buf + i, key, sizeof(key) - 1) == 0)
			count++;
	}
	return count;
}

static void do_cpus(void)
{
	char buf[256];
	int n = -1;
	Line l = { .len = 0 };

	if (read_small_file("/sys/devices/system/cpu/online", buf, sizeof(buf)) > 0)
		n = count_cpu_list(buf);
	if (n <= 0)
		n = count_cpuinfo();
	if (n <= 0) {
		say2("cpus=unknown", "");
		return;
	}
	line_str(&l, "INIT: cpus=");
	line_dec(&l, (unsigned long)n);
	line_emit(&l);
}

static void do_rtc(void)
{
	struct rtc_time tm;
	struct timespec ts;
	Line l = { .len = 0 };
	int fd;

	line_str(&l, "INIT: rtc=");
	fd = open("/dev/rtc0", O_RDONLY, 0);
	if (fd < 0) {
		line_str(&l, "unavailable (open /dev/rtc0: errno=");
		line_dec(&l, (unsigned long)errno);
		line_char(&l, ')');
	} else if (ioctl(fd, RTC_RD_TIME, &tm) < 0) {
		line_str(&l, "unavailable (RTC_RD_TIME: errno=");
		line_dec(&l, (unsigned long)errno);
		line_char(&l, ')');
	} else {
		line_dec_pad(&l, (unsigned long)(tm.tm_year + 1900), 4);
		line_char(&l, '-');
		line_dec_pad(&l, (unsigned long)(tm.tm_mon + 1), 2);
		line_char(&l, '-');
		line_dec_pad(&l, (unsigned long)tm.tm_mday, 2);
		line_char(&l, ' ');
		line_dec_pad(&l, (unsigned long)tm.tm_hour, 2);
		line_char(&l, ':');
		line_dec_pad(&l, (unsigned long)tm.tm_min, 2);
		line_char(&l, ':');
		line_dec_pad(&l, (unsigned long)tm.tm_sec, 2);
	}
	if (fd >= 0)
		close(fd);
	line_emit(&l);

	/* nolibc 6.1 has no clock_gettime() wrapper */
	line_str(&l, "INIT: realtime=");
	if (my_syscall2(__NR_clock_gettime, CLOCK_REALTIME, &ts) < 0)
		line_str(&l, "unavailable");
	else
		line_dec(&l, (unsigned long)ts.tv_sec);
	line_emit(&l);
}

/*
 * 16 bytes from /dev/hwrng. The node exists whenever HW_RANDOM is built in,
 * but reads fail with ENODEV without a backend (no virtio-rng device). Read
 * non-blocking and retry for a bounded time so a silent device cannot hang
 * init. Returns 0, or the errno of the failure.
 */
static int read_hwrng(unsigned char *buf, int size)
{
	int fd, n, got = 0, tries = 0, err = 0;

	fd = open("/dev/hwrng", O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return errno;
	while (got < size) {
		n = read(fd, buf + got, (size_t)(size - got));
		if (n > 0) {
			got += n;
		} else if (n < 0 && errno == EAGAIN && ++tries < HWRNG_MAX_TRIES) {
			msleep(10);
		} else {
			err = n < 0 ? errno : EIO;
			break;
		}
	}
	close(fd);
	return err;
}

static void do_random(void)
{
	unsigned char buf[16];
	int hw_err, gr_err = 0;
	long r;
	Line l = { .len = 0 };

	hw_err = read_hwrng(buf, sizeof(buf));
	if (hw_err == 0) {
		say2("random-source=hwrng", "");
	} else {
		r = my_syscall3(__NR_getrandom, buf, sizeof(buf), GRND_NONBLOCK);
		if (r == (long)sizeof(buf))
			say2("random-source=getrandom", "");
		else
			gr_err = r < 0 ? (int)-r : EIO;
	}
	line_str(&l, "INIT: random=");
	if (hw_err == 0 || gr_err == 0) {
		line_hex_bytes(&l, buf, sizeof(buf));
	} else {
		line_str(&l, "unavailable (hwrng: errno=");
		line_dec(&l, (unsigned long)hw_err);
		line_str(&l, ", getrandom: errno=");
		line_dec(&l, (unsigned long)gr_err);
		line_char(&l, ')');
	}
	line_emit(&l);
}

/*
 * A deterministic CPU-bound loop (FNV-style multiply + xorshift, ~7
 * instructions per iteration). loops=1000000 gives 98dcba858a2791ff.
 */
static void do_checksum(unsigned long loops)
{
	unsigned long h = 0xcbf29ce484222325UL;
	unsigned long i;
	Line l = { .len = 0 };

	for (i = 0; i < loops; i++) {
		h ^= i;
		h *= 0x100000001b3UL;
		h ^= h >> 29;
	}
	line_str(&l, "INIT: checksum=");
	line_hex64(&l, h);
	line_str(&l, " loops=");
	line_dec(&l, loops);
	line_emit(&l);
}

/*
 * Read one line from fd (a tty in canonical mode: each read returns at most
 * that line) and say it after `prefix`, control characters as '?'; the
 * first part of an overlong line is kept, the rest drained.
 */
static void say_line_from(int fd, const char *prefix)
{
	char buf[200];
	int n, len = 0, i;
	Line l = { .len = 0 };

	for (;;) {
		char c[64];

		n = read(fd, c, sizeof(c));
		if (n <= 0)
			break;
		for (i = 0; i < n && len < (int)sizeof(buf); i++)
			buf[len++] = c[i];
		if (c[n - 1] == '\n')
			break;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	line_str(&l, prefix);
	for (i = 0; i < len; i++)
		line_char(&l, buf[i] >= 32 && buf[i] < 127 ? buf[i] : '?');
	line_emit(&l);
}

/*
 * Wait up to timeout_ms for one console line. The console is in canonical
 * mode, so poll() reports input only once a whole line (or EOF) is there and
 * read() returns at most that line; the rest stays queued for /bin/sh.
 */
static void do_console(unsigned long timeout_ms)
{
	struct pollfd pfd = { .fd = 0, .events = POLLIN, .revents = 0 };
	int r;

	say2("type a line:", "");
	r = poll(&pfd, 1, (int)timeout_ms);
	if (r < 0) {
		say_errno("poll(console)", errno);
		return;
	}
	if (r == 0 || !(pfd.revents & POLLIN)) {
		say2("no input (timeout)", "");
		return;
	}
	say_line_from(0, "INIT: echo: ");
}

/* FNV-1a 64 over a buffer, continuing from h (start: 0xcbf29ce484222325) */
static unsigned long fnv1a(unsigned long h, const unsigned char *p, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3UL;
	}
	return h;
}

/* Read a whole small file; returns its length or -errno. */
static int read_small(const char *path, char *buf, int cap)
{
	int fd = open(path, O_RDONLY, 0), len = 0, n;

	if (fd < 0)
		return -errno;
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += n;
	close(fd);
	return len;
}

/*
 * disk=1: mount the first virtio disk (ext2) on /mnt, print the size and
 * FNV-1a 64 of /mnt/hello.txt, report /mnt/written.txt if an earlier boot
 * left one, then write it again ("boot N", N one more than before), fsync
 * and unmount. A read-only disk is mounted read-only and not written.
 */
static void do_disk(void)
{
	static char buf[65536];
	unsigned long h = 0xcbf29ce484222325UL, boot = 1;
	int fd, n, len, ro = 0, i;
	Line l = { .len = 0 };

	mkdir("/mnt", 0755);
	if (mount("/dev/vda", "/mnt", "ext2", 0, NULL) < 0) {
		if (errno != EROFS && errno != EACCES) {
			say_errno("mount /dev/vda", errno);
			return;
		}
		if (mount("/dev/vda", "/mnt", "ext2", MS_RDONLY, NULL) < 0) {
			say_errno("mount /dev/vda read-only", errno);
			return;
		}
		ro = 1;
	}
	fd = open("/mnt/hello.txt", O_RDONLY, 0);
	if (fd < 0) {
		say_errno("open /mnt/hello.txt", errno);
	} else {
		len = 0;
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			h = fnv1a(h, (unsigned char *)buf, n);
			len += n;
		}
		close(fd);
		line_str(&l, "INIT: disk: hello.txt bytes=");
		line_dec(&l, (unsigned long)len);
		line_str(&l, " fnv=");
		line_hex64(&l, h);
		line_emit(&l);
	}
	len = read_small("/mnt/written.txt", buf, 200);
	if (len > 0) {
		while (len > 0 && buf[len - 1] == '\n')
			len--;
		line_str(&l, "INIT: disk: found written.txt: ");
		for (i = 0; i < len; i++)
			line_char(&l, buf[i] >= 32 && buf[i] < 127 ? buf[i] : '?');
		line_emit(&l);
		for (i = 0; i < len && (buf[i] < '0' || buf[i] > '9'); i++)
			;
		for (boot = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++)
			boot = boot * 10 + (unsigned long)(buf[i] - '0');
		boot++;
	}
	if (!ro) {
		fd = open("/mnt/written.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			say_errno("create /mnt/written.txt", errno);
		} else {
			line_str(&l, "written by the rrvm guest, boot ");
			line_dec(&l, boot);
			line_char(&l, '\n');
			if (write(fd, l.buf, l.len) != (ssize_t)l.len || fsync(fd) < 0)
				say_errno("write /mnt/written.txt", errno);
			close(fd);
			l.len = 0;
			line_str(&l, "INIT: disk: wrote written.txt (boot ");
			line_dec(&l, boot);
			line_char(&l, ')');
			line_emit(&l);
		}
	} else {
		say2("disk: read-only, nothing written", "");
	}
	if (umount2("/mnt", 0) < 0)
		say_errno("umount /mnt", errno);
	else
		say2("disk: unmounted", "");
}

/*
 * ddbench=MB: read MB MiB from /dev/vda in 1 MiB blocks, then write MB MiB
 * to it and fsync; a line before and after each, so a harness can time the
 * phases on the host clock (guest time is virtual).
 */
static void do_ddbench(unsigned long mb)
{
	static unsigned char blk[1 << 20];
	unsigned long h = 0xcbf29ce484222325UL, i;
	int fd = open("/dev/vda", O_RDWR, 0);
	Line l = { .len = 0 };

	if (fd < 0) {
		say_errno("open /dev/vda", errno);
		return;
	}
	say2("dd: read start", "");
	for (i = 0; i < mb; i++) {
		if (read(fd, blk, sizeof(blk)) != (ssize_t)sizeof(blk)) {
			say_errno("dd read", errno);
			break;
		}
		h = fnv1a(h, blk, 64);
	}
	line_str(&l, "INIT: dd: read done mb=");
	line_dec(&l, i);
	line_str(&l, " fnv=");
	line_hex64(&l, h);
	line_emit(&l);
	lseek(fd, 0, SEEK_SET);
	for (i = 0; i < sizeof(blk); i++)
		blk[i] = (unsigned char)(i * 7);
	say2("dd: write start", "");
	for (i = 0; i < mb; i++) {
		if (write(fd, blk, sizeof(blk)) != (ssize_t)sizeof(blk)) {
			say_errno("dd write", errno);
			break;
		}
	}
	if (fsync(fd) < 0)
		say_errno("dd fsync", errno);
	close(fd);
	line_str(&l, "INIT: dd: write done mb=");
	line_dec(&l, i);
	line_emit(&l);
}

/*
 * vcon=1: say hello on the first virtio console (/dev/hvc0), then wait up
 * to vcontimeout ms for one line from it and echo it on the serial console.
 */
static void do_vcon(unsigned long timeout_ms)
{
	static const char hello[] = "hello from hvc0\n";
	struct pollfd pfd = { .fd = -1, .events = POLLIN, .revents = 0 };
	int fd, r, i;

	/* on one hart, hvc0 may be registered by a kernel worker that has
	 * not run yet when init gets here: retry for a while */
	for (i = 0; (fd = open("/dev/hvc0", O_RDWR | O_NOCTTY, 0)) < 0 && errno == ENOENT &&
		    (unsigned long)i * 10 < timeout_ms; i++)
		msleep(10);
	if (fd < 0) {
		say_errno("open /dev/hvc0", errno);
		return;
	}
	if (write(fd, hello, sizeof(hello) - 1) != (ssize_t)(sizeof(hello) - 1))
		say_errno("write /dev/hvc0", errno);
	say2("vcon: waiting for a line on hvc0", "");
	pfd.fd = fd;
	r = poll(&pfd, 1, (int)timeout_ms);
	if (r <= 0 || !(pfd.revents & POLLIN)) {
		say2("vcon: no input (timeout)", "");
		close(fd);
		return;
	}
	say_line_from(fd, "INIT: vcon: ");
	close(fd);
}

/* --- net=1: a little TCP/IP through eth0 (raw syscalls: nolibc has none) --- */

static int sys_socket3(int domain, int type, int proto)
{
	long r = my_syscall3(__NR_socket, domain, type, proto);

	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

static int sys_sockaddr_call(long nr, int fd, const struct sockaddr_in *sa)
{
	long r = my_syscall3(nr, fd, sa, sizeof(*sa));

	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

static int sys_int2(long nr, int a, long b)
{
	long r = my_syscall2(nr, a, b);

	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

static void ifreq_addr(struct ifreq *ifr, unsigned int ip_be)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr->ifr_addr;

	memset(ifr, 0, sizeof(*ifr));
	memcpy(ifr->ifr_name, "eth0", 5);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = ip_be;
}

static unsigned int ip4(int a, int b, int c, int d)
{
	/* network byte order on a little-endian CPU */
	return (unsigned int)(a | b << 8 | c << 16 | (unsigned int)d << 24);
}

static unsigned short port_be(unsigned long port)
{
	return (unsigned short)(((port & 0xff) << 8) | ((port >> 8) & 0xff));
}

/* eth0 up as 10.0.2.15/24, slirp's default guest address */
static int net_configure(void)
{
	struct ifreq ifr;
	int fd = sys_socket3(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0) {
		say_errno("socket", errno);
		return -1;
	}
	ifreq_addr(&ifr, ip4(10, 0, 2, 15));
	if (ioctl(fd, SIOCSIFADDR, &ifr) < 0)
		say_errno("SIOCSIFADDR eth0", errno);
	ifreq_addr(&ifr, ip4(255, 255, 255, 0));
	if (ioctl(fd, SIOCSIFNETMASK, &ifr) < 0)
		say_errno("SIOCSIFNETMASK eth0", errno);
	ifreq_addr(&ifr, 0);
	ifr.ifr_flags = IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
		say_errno("SIOCSIFFLAGS eth0", errno);
		close(fd);
		return -1;
	}
	close(fd);
	say2("net: eth0 up 10.0.2.15/24", "");
	return 0;
}

static int net_connect_host(unsigned long port);

/* GET / from 10.0.2.2:port (the host, through slirp); checksum the body */
static void net_http(unsigned long port)
{
	static char buf[1 << 16];
	static const char req[] = "GET / HTTP/1.0\r\nHost: 10.0.2.2\r\n\r\n";
	unsigned long h = 0xcbf29ce484222325UL, body = 0;
	int fd, n, state = 0, i;
	Line l = { .len = 0 };

	fd = net_connect_host(port);
	if (fd < 0)
		return;
	write(fd, req, sizeof(req) - 1);
	/* the body starts after the first blank line (state 4 = \r\n\r\n seen) */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (state < 4) {
				char want = (state & 1) ? '\n' : '\r';

				state = buf[i] == want ? state + 1 : (buf[i] == '\r' ? 1 : 0);
				continue;
			}
			h ^= (unsigned char)buf[i];
			h *= 0x100000001b3UL;
			body++;
		}
	}
	close(fd);
	line_str(&l, "INIT: net: http bytes=");
	line_dec(&l, body);
	line_str(&l, " fnv=");
	line_hex64(&l, h);
	line_emit(&l);
}

/* Connect to the host (10.0.2.2:port); -1 with the reason said. */
static int net_connect_host(unsigned long port)
{
	struct sockaddr_in sa;
	struct pollfd pfd = { .fd = -1, .events = POLLOUT, .revents = 0 };
	int fd = sys_socket3(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), soerr = 0;
	unsigned int len = sizeof(soerr);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = port_be(port);
	sa.sin_addr.s_addr = ip4(10, 0, 2, 2);
	/* non-blocking, so an unreachable host fails after nettimeout ms */
	if (fd >= 0 && sys_sockaddr_call(__NR_connect, fd, &sa) < 0 && errno == EINPROGRESS) {
		pfd.fd = fd;
		if (poll(&pfd, 1, (int)net_timeout_ms) <= 0)
			errno = ETIMEDOUT;
		else if (my_syscall5(__NR_getsockopt, fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr)
			errno = soerr;
		else
			errno = 0;
	} else if (fd >= 0) {
		errno = 0;
	}
	if (fd < 0 || errno) {
		say_errno("net: connect 10.0.2.2", errno);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	my_syscall3(__NR_fcntl, fd, 4 /* F_SETFL */, 0); /* blocking again */
	return fd;
}

/* netrx=PORT: read from the host until it closes (throughput bench) */
static void net_rx(unsigned long port)
{
	static char buf[1 << 16];
	unsigned long total = 0;
	int fd = net_connect_host(port), n;
	Line l = { .len = 0 };

	if (fd < 0)
		return;
	say2("net: rx start", "");
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (unsigned long)n;
	close(fd);
	line_str(&l, "INIT: net: rx done bytes=");
	line_dec(&l, total);
	line_emit(&l);
}

/* nettx=PORT, nettxmb=N: send N MiB to the host (throughput bench) */
static void net_tx(unsigned long port, unsigned long mb)
{
	static char buf[1 << 16];
	unsigned long total = 0, i;
	int fd = net_connect_host(port), n;
	Line l = { .len = 0 };

	if (fd < 0)
		return;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('a' + i % 26);
	say2("net: tx start", "");
	while (total < (mb << 20) && (n = write(fd, buf, sizeof(buf))) > 0)
		total += (unsigned long)n;
	close(fd);
	line_str(&l, "INIT: net: tx done bytes=");
	line_dec(&l, total);
	line_emit(&l);
}

/* accept one connection on port, read a line, answer "echo: <line>" */
static void net_echo(unsigned long port, unsigned long timeout_ms)
{
	struct sockaddr_in sa;
	struct pollfd pfd = { .fd = -1, .events = POLLIN, .revents = 0 };
	char buf[200], out[220];
	int lfd, fd, n, len = 0, one = 1, i;
	Line l = { .len = 0 };

	lfd = sys_socket3(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = port_be(port);
	my_syscall5(__NR_setsockopt, lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || sys_sockaddr_call(__NR_bind, lfd, &sa) < 0 || sys_int2(__NR_listen, lfd, 1) < 0) {
		say_errno("net: listen", errno);
		return;
	}
	line_str(&l, "INIT: net: echo listening on ");
	line_dec(&l, port);
	line_emit(&l);
	pfd.fd = lfd;
	if (poll(&pfd, 1, (int)timeout_ms) <= 0) {
		say2("net: echo: no connection (timeout)", "");
		close(lfd);
		return;
	}
	fd = (int)my_syscall3(__NR_accept, lfd, 0, 0);
	if (fd < 0) {
		say_errno("net: accept", -fd);
		close(lfd);
		return;
	}
	while (len < (int)sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0) {
		len += n;
		if (buf[len - 1] == '\n')
			break;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	memcpy(out, "echo: ", 6);
	memcpy(out + 6, buf, len);
	out[6 + len] = '\n';
	write(fd, out, 7 + len);
	close(fd);
	close(lfd);
	line_str(&l, "INIT: net: echoed ");
	for (i = 0; i < len; i++)
		line_char(&l, buf[i] >= 32 && buf[i] < 127 ? buf[i] : '?');
	line_emit(&l);
}

static void power_off(void)
{
	say2("poweroff", "");
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	say_errno("reboot(POWER_OFF)", errno);
	for (;;)
		msleep(1000);
}

int main(int argc, char **argv, char **envp)
{
	unsigned long loops, rdtimeout, demo;

	do_mounts();
	do_banner();
	loops = env_number(envp, "loops", DEFAULT_LOOPS, ~0UL);
	rdtimeout = env_number(envp, "rdtimeout", DEFAULT_RDTIMEOUT_MS, 0x7fffffffUL);
	demo = env_number(envp, "demo", 0, 1);
	do_cpus();
	do_rtc();
	do_random();
	do_checksum(loops);
	if (env_number(envp, "disk", 0, 1))
		do_disk();
	if (env_number(envp, "ddbench", 0, 4096))
		do_ddbench(env_number(envp, "ddbench", 0, 4096));
	if (env_number(envp, "vcon", 0, 1))
		do_vcon(env_number(envp, "vcontimeout", 10000, 0x7fffffffUL));
	net_timeout_ms = env_number(envp, "nettimeout", 20000, 0x7fffffffUL);
	if (env_number(envp, "net", 0, 1) && net_configure() == 0) {
		if (env_number(envp, "httpport", 0, 65535))
			net_http(env_number(envp, "httpport", 0, 65535));
		if (env_number(envp, "netrx", 0, 65535))
			net_rx(env_number(envp, "netrx", 0, 65535));
		if (env_number(envp, "nettx", 0, 65535))
			net_tx(env_number(envp, "nettx", 0, 65535), env_number(envp, "nettxmb", 16, 4096));
		if (env_number(envp, "echoport", 0, 65535))
			net_echo(env_number(envp, "echoport", 0, 65535),
				 env_number(envp, "nettimeout", 20000, 0x7fffffffUL));
	}
	do_console(rdtimeout);
	if (demo) {
		char *sh_argv[] = { "sh", NULL };

		say2("starting /bin/sh (demo=1)", "");
		execve("/bin/sh", sh_argv, envp);
		say_errno("exec /bin/sh", errno);
	}
	power_off();
	return 0;
}
