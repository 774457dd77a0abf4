/*
 * guest/sh.c - /bin/sh of rrvm's Linux test guest: a tiny builtin-only shell.
 *
 * Static, no libc: built against the kernel's nolibc like guest/init.c.
 * /init execs it on the console when the kernel command line has demo=1, so
 * it usually runs as PID 1 and must never exit: "exit", "poweroff" and EOF
 * all power the machine off.
 *
 * Prompt "rrvm# "; one command per line, words split on blanks, no quoting,
 * no pipes, no programs: builtins only
 *   echo ARGS | cat FILE... | ls [DIR] | date | poweroff | exit | help
 * anything else prints "sh: CMD: not found".
 *
 * Input is taken byte by byte, so it works on a canonical tty (the kernel
 * does the editing) as well as on a raw one or a pipe: CR or LF ends a line,
 * DEL/BS erase one character, overlong lines are rejected, NUL and other
 * control bytes are dropped.
 *
 * Invariants: the line buffer is never overrun; every file descriptor opened
 * by a builtin is closed before the next prompt; cat stops after CAT_MAX
 * bytes per file so endless files (/dev/zero) cannot wedge the shell.
 */
#include <linux/reboot.h>
#include <linux/rtc.h>

#ifndef CLOCK_REALTIME
#define CLOCK_REALTIME 0
#endif
#ifndef DT_DIR
#define DT_DIR 4
#endif

#define LINE_MAX_LEN 256
#define MAX_ARGS 32
#define CAT_MAX (1UL << 20)
#define LS_MAX_NAMES 256
#define LS_NAME_BYTES 8192

static void out(const char *s)
{
	write(1, s, strlen(s));
}

static void out_dec(unsigned long v)
{
	char tmp[24];
	int n = sizeof(tmp);

	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	write(1, tmp + n, sizeof(tmp) - (size_t)n);
}

static void out_dec_pad(unsigned long v, int width)
{
	char tmp[24];
	int n = sizeof(tmp);

	while (n > 0 && (v || width > 0)) {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
		width--;
	}
	write(1, tmp + n, sizeof(tmp) - (size_t)n);
}

static const char *errno_text(int err)
{
	switch (err) {
	case ENOENT: return "No such file or directory";
	case EACCES: return "Permission denied";
	case EISDIR: return "Is a directory";
	case ENOTDIR: return "Not a directory";
	case ENODEV: return "No such device";
	case ENXIO: return "No such device or address";
	case EINVAL: return "Invalid argument";
	case EAGAIN: return "Resource temporarily unavailable";
	case EIO: return "Input/output error";
	case EPERM: return "Operation not permitted";
	case EBUSY: return "Device or resource busy";
	default: return NULL;
	}
}

/* "sh: WHAT: ARG: reason\n" */
static void complain(const char *what, const char *arg, int err)
{
	const char *text = errno_text(err);

	out("sh: ");
	out(what);
	out(": ");
	out(arg);
	out(": ");
	if (text) {
		out(text);
	} else {
		out("errno ");
		out_dec((unsigned long)err);
	}
	out("\n");
}

static void cmd_poweroff(void)
{
	out("sh: poweroff\n");
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	complain("poweroff", "reboot", errno);
	/* PID 1 must not exit; anything else may */
	if (getpid() != 1)
		exit(1);
	for (;;)
		msleep(1000);
}

static void cmd_echo(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (i > 1)
			out(" ");
		out(argv[i]);
	}
	out("\n");
}

static void cmd_cat(int argc, char **argv)
{
	char buf[512];
	int i, fd, n;

	if (argc < 2) {
		out("usage: cat FILE...\n");
		return;
	}
	for (i = 1; i < argc; i++) {
		unsigned long total = 0;

		fd = open(argv[i], O_RDONLY, 0);
		if (fd < 0) {
			complain("cat", argv[i], errno);
			continue;
		}
		while (total < CAT_MAX) {
			n = read(fd, buf, sizeof(buf));
			if (n < 0) {
				complain("cat", argv[i], errno);
				break;
			}
			if (n == 0)
				break;
			write(1, buf, (size_t)n);
			total += (unsigned long)n;
		}
		if (total >= CAT_MAX) {
			out("\nsh: cat: ");
			out(argv[i]);
			out(": stopped after 1 MiB\n");
		}
		close(fd);
	}
}

/* One name per line, sorted, directories with a trailing '/'. */
static void cmd_ls(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	char dents[1024];
	char names[LS_NAME_BYTES];
	char *name_at[LS_MAX_NAMES];
	int fd, n, off, count = 0, used = 0, truncated = 0, i, j;

	if (argc > 2) {
		out("usage: ls [DIR]\n");
		return;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0) {
		complain("ls", dir, errno);
		return;
	}
	for (;;) {
		n = getdents64(fd, (struct linux_dirent64 *)dents, sizeof(dents));
		if (n < 0) {
			complain("ls", dir, errno);
			break;
		}
		if (n == 0)
			break;
		for (off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(dents + off);
			int len = (int)strlen(d->d_name);

			if (d->d_reclen == 0)
				break;
			off += d->d_reclen;
			if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
				continue;
			/* name + optional '/' + NUL */
			if (count == LS_MAX_NAMES || used + len + 2 > LS_NAME_BYTES) {
				truncated = 1;
				continue;
			}
			name_at[count++] = names + used;
			memcpy(names + used, d->d_name, (size_t)len);
			used += len;
			if (d->d_type == DT_DIR)
				names[used++] = '/';
			names[used++] = 0;
		}
	}
	close(fd);
	/* insertion sort: getdents order depends on the filesystem */
	for (i = 1; i < count; i++) {
		char *v = name_at[i];

		for (j = i; j > 0 && strcmp(name_at[j - 1], v) > 0; j--)
			name_at[j] = name_at[j - 1];
		name_at[j] = v;
	}
	for (i = 0; i < count; i++) {
		out(name_at[i]);
		out("\n");
	}
	if (truncated)
		out("sh: ls: too many entries, list truncated\n");
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil_from_days(long days, long *y, unsigned *m, unsigned *d)
{
	long z = days + 719468;
	long era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned long doe = (unsigned long)(z - era * 146097);
	unsigned long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned long mp = (5 * doy + 2) / 153;

	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = (long)yoe + era * 400 + (*m <= 2);
}

/* RTC time like /init prints it; CLOCK_REALTIME if there is no RTC. */
static void cmd_date(void)
{
	struct rtc_time tm;
	struct timespec ts;
	int fd, ok = 0;

	fd = open("/dev/rtc0", O_RDONLY, 0);
	if (fd >= 0) {
		ok = ioctl(fd, RTC_RD_TIME, &tm) == 0;
		close(fd);
	}
	if (!ok) {
		long y, secs;
		unsigned m, d;

		if (my_syscall2(__NR_clock_gettime, CLOCK_REALTIME, &ts) < 0 || ts.tv_sec < 0) {
			out("sh: date: no RTC and no clock\n");
			return;
		}
		secs = (long)ts.tv_sec;
		civil_from_days(secs / 86400, &y, &m, &d);
		tm.tm_year = (int)(y - 1900);
		tm.tm_mon = (int)m - 1;
		tm.tm_mday = (int)d;
		tm.tm_hour = (int)(secs % 86400 / 3600);
		tm.tm_min = (int)(secs % 3600 / 60);
		tm.tm_sec = (int)(secs % 60);
	}
	out_dec_pad((unsigned long)(tm.tm_year + 1900), 4);
	out("-");
	out_dec_pad((unsigned long)(tm.tm_mon + 1), 2);
	out("-");
	out_dec_pad((unsigned long)tm.tm_mday, 2);
	out(" ");
	out_dec_pad((unsigned long)tm.tm_hour, 2);
	out(":");
	out_dec_pad((unsigned long)tm.tm_min, 2);
	out(":");
	out_dec_pad((unsigned long)tm.tm_sec, 2);
	out(ok ? " UTC\n" : " UTC (CLOCK_REALTIME)\n");
}

static void cmd_help(void)
{
	out("builtins: echo ARGS | cat FILE... | ls [DIR] | date | poweroff | exit | help\n");
}

/* Split line in place on blanks; returns argc. */
static int split_words(char *line, char **argv)
{
	int argc = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (argc == MAX_ARGS)
			return -1;
		argv[argc++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = 0;
	}
	argv[argc] = NULL;
	return argc;
}

static void run_line(char *line)
{
	char *argv[MAX_ARGS + 1];
	int argc = split_words(line, argv);

	if (argc < 0) {
		out("sh: too many words\n");
		return;
	}
	if (argc == 0)
		return;
	if (strcmp(argv[0], "echo") == 0)
		cmd_echo(argc, argv);
	else if (strcmp(argv[0], "cat") == 0)
		cmd_cat(argc, argv);
	else if (strcmp(argv[0], "ls") == 0)
		cmd_ls(argc, argv);
	else if (strcmp(argv[0], "date") == 0)
		cmd_date();
	else if (strcmp(argv[0], "help") == 0)
		cmd_help();
	else if (strcmp(argv[0], "poweroff") == 0 || strcmp(argv[0], "exit") == 0)
		cmd_poweroff();
	else {
		out("sh: ");
		out(argv[0]);
		out(": not found\n");
	}
}

int main(int argc, char **argv)
{
	char line[LINE_MAX_LEN + 1];
	char in[128];
	int len = 0, overlong = 0, n, i;
	char prev = 0;

	out("rrvm sh: type 'help' for the builtins\n");
	out("rrvm# ");
	for (;;) {
		n = read(0, in, sizeof(in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			out("\nsh: end of input\n");
			cmd_poweroff();
		}
		for (i = 0; i < n; i++) {
			char c = in[i];
			char before = prev;

			prev = c;
			if (c == '\n' || c == '\r') {
				/* CR LF from a raw terminal must not run an empty second line */
				if (c == '\n' && before == '\r')
					continue;
				line[len] = 0;
				if (overlong)
					out("sh: line too long\n");
				else
					run_line(line);
				len = 0;
				overlong = 0;
				out("rrvm# ");
			} else if (c == 0x7f || c == 0x08) {
				if (len > 0)
					len--;
			} else if ((unsigned char)c < 32) {
				/* other control bytes (NUL, ESC, ...) are ignored */
			} else if (len < LINE_MAX_LEN) {
				line[len++] = c;
			} else {
				overlong = 1;
			}
		}
	}
	return 0;
}
