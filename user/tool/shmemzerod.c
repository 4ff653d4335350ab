// SPDX-License-Identifier: GPL-2.0
/*
 * shmemzerod: give back the all-zero pages of running VMs' tmpfs memory.
 *
 * Discovery: every interval, the processes selected by executable name
 * (a glob on the basename of /proc/PID/exe), cgroup (a prefix of the
 * cgroup v2 path) or pid; their fds on memfds and /dev/shm files are taken
 * with pidfd_getfd(2), so the kernel's ptrace rules decide what this
 * daemon may touch.  A file shared by several processes is scanned once.
 * A file its process has closed and unmapped (a memory backend unplugged)
 * is closed at the next pass: this daemon's copy would keep its memory.
 *
 * Scanning: each file in windows of `window` bytes, one sz_reclaim() each
 * (the module's RECLAIM: race-free against writers and pinners), at most
 * pages_per_second pages a second and cpu_percent of one core, measured
 * with CLOCK_THREAD_CPUTIME_ID: after each window the daemon sleeps until
 * both limits hold again.
 *
 * Back-off: a window scanned before is looked at first with a QUERY that
 * reads no page (SZ_OPEN_QUERY_NOREAD).  One whose pages were allocated
 * again since its last look (the guest writes there) or that had nothing
 * to free is skipped for 1, 3, 7 ... passes (up to 2^backoff_max - 1, and
 * then reclaimed anyway); one that gave pages back and stayed quiet is
 * rescanned each pass.  A process whose pause file
 * (pause_file, or pause_file.PID) exists is skipped: touch it around a
 * migration.
 *
 * Metrics: per VM and in total, in Prometheus text exposition, written to
 * `metrics` (default DEFAULT_METRICS; a temporary file renamed over it)
 * after each pass, every 10 s within one, and at exit; shmemzero stat
 * shows them.
 * Logs go to stderr (journald under systemd).  SIGHUP rereads the
 * configuration; SIGTERM and SIGINT end the daemon after the window being
 * scanned.  See shmemzerod(8).
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <linux/shmem_zero.h>
#include <shmemzero.h>

#include "tool.h"

#define MAX_SEL		32
#define METRICS_EVERY	10	/* seconds: metrics also within a pass */

struct config {
	char *exe[MAX_SEL];		/* globs on the executable's name */
	char *cgroup[MAX_SEL];		/* cgroup v2 path prefixes */
	long pid[MAX_SEL];
	int n_exe, n_cgroup, n_pid;
	uint64_t pages_per_second;
	double cpu_percent;
	uint64_t window;		/* bytes */
	double interval;		/* seconds between passes */
	unsigned int backoff_max;
	char *metrics, *pause_file;
};

struct window {
	uint64_t left;		/* allocated pages after the last scan */
	bool scanned;
	uint8_t level;		/* back-off: skip 2^level - 1 passes */
	uint32_t skip;
};

struct counters {
	uint64_t scanned, freed, busy, pinned, skipped;
	uint64_t written;	/* windows QUERY found allocated into */
	double cpu;		/* seconds */
};

struct file {
	struct file *next;
	dev_t dev;
	ino_t ino;
	int fd;
	char *name;		/* its /proc/PID/fd link when taken */
	bool held;		/* open or mapped by its process (vm_files) */
	struct sz_handle *h;
	uint64_t size;		/* page aligned */
	size_t nwin;
	struct window *win;
};

struct vm {
	struct vm *next;
	pid_t pid;
	int pidfd;
	char comm[32];
	bool seen, denied;
	struct file *files;
	struct counters c;
};

static const char *prog = "shmemzerod";
static struct config cfg;
static struct vm *vms;
static struct counters gone;	/* of VMs that have exited */
static uint64_t passes;
static long page;
static double budget_debt;	/* seconds to sleep for the CPU budget */
static double rate_start, rate_pages;
static double cpu_start, metrics_at;	/* thread CPU at start; last write */
static bool verbose, metrics_warned;

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	return now_s(CLOCK_THREAD_CPUTIME_ID);
}

/* ---- configuration ---- */

static void config_free(struct config *c)
{
	for (int i = 0; i < c->n_exe; i++)
		free(c->exe[i]);
	for (int i = 0; i < c->n_cgroup; i++)
		free(c->cgroup[i]);
	free(c->metrics);
	free(c->pause_file);
	memset(c, 0, sizeof(*c));
}

/* A plain number (parse_size() for byte counts). */
static bool parse_num(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && end != s && !*end && *s != '-';
}

/* "key = value" lines, '#' comments.  Returns 0, or prints and -EINVAL. */
static int config_load(const char *path, struct config *c)
{
	char *line = NULL, *key, *val, *end;
	size_t cap = 0;
	unsigned int no = 0;
	int ret = 0;
	FILE *f;

	memset(c, 0, sizeof(*c));
	c->pages_per_second = 25600;	/* 100 MiB/s of 4 KiB pages */
	c->cpu_percent = 5;
	c->window = 2 << 20;
	c->interval = 60;
	c->backoff_max = 6;
	f = fopen(path, "re");
	if (!f) {
		say("%s: %s", path, strerror(errno));
		return -errno;
	}
	while (getline(&line, &cap, f) > 0) {
		uint64_t v;
		bool ok = true;
		int kind = conf_split(line, &key, &val);

		no++;
		if (!kind)
			continue;
		if (kind < 0) {
			say("%s:%u: expected key = value", path, no);
			ret = -EINVAL;
			continue;
		}
		if (!strcmp(key, "exe") && c->n_exe < MAX_SEL && *val) {
			c->exe[c->n_exe++] = strdup(val);
		} else if (!strcmp(key, "cgroup") && c->n_cgroup < MAX_SEL && *val == '/') {
			c->cgroup[c->n_cgroup++] = strdup(val);
		} else if (!strcmp(key, "pid") && c->n_pid < MAX_SEL) {
			ok = parse_num(val, &v) && v > 0 && v <= INT_MAX;
			if (ok)
				c->pid[c->n_pid++] = (long)v;
		} else if (!strcmp(key, "pages_per_second")) {
			ok = parse_num(val, &v) && v > 0;
			c->pages_per_second = v;
		} else if (!strcmp(key, "cpu_percent")) {
			c->cpu_percent = strtod(val, &end);
			ok = *val && !*end && c->cpu_percent > 0 && c->cpu_percent <= 100;
		} else if (!strcmp(key, "window")) {
			ok = parse_size(val, &v) && v >= (uint64_t)page &&
			     v % page == 0 && v <= (1ULL << 30);
			c->window = v;
		} else if (!strcmp(key, "interval")) {
			c->interval = strtod(val, &end);
			ok = *val && !*end && c->interval >= 0.1;
		} else if (!strcmp(key, "backoff_max")) {
			ok = parse_num(val, &v) && v <= 20;
			c->backoff_max = v;
		} else if (!strcmp(key, "metrics") && *val == '/') {
			free(c->metrics);
			c->metrics = strdup(val);
		} else if (!strcmp(key, "pause_file") && *val == '/') {
			free(c->pause_file);
			c->pause_file = strdup(val);
		} else {
			ok = false;
		}
		if (!ok) {
			say("%s:%u: bad setting '%s = %s'", path, no, key, val);
			ret = -EINVAL;
		}
	}
	free(line);
	fclose(f);
	if (!c->n_exe && !c->n_cgroup && !c->n_pid)
		c->exe[c->n_exe++] = strdup("qemu-system-*");
	if (!c->metrics)
		c->metrics = strdup(DEFAULT_METRICS);
	if (ret)
		config_free(c);
	return ret;
}

/* ---- discovery ---- */

static bool read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, size, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = 0;
	return ok;
}

static bool selected(pid_t pid)
{
	char path[64], buf[PATH_MAX], *base;
	ssize_t n;

	for (int i = 0; i < cfg.n_pid; i++)
		if (cfg.pid[i] == pid)
			return true;
	if (cfg.n_exe) {
		snprintf(path, sizeof(path), "/proc/%d/exe", pid);
		n = readlink(path, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = 0;
			if (n > 10 && !strcmp(buf + n - 10, " (deleted)"))
				buf[n - 10] = 0;
			base = strrchr(buf, '/');
			base = base ? base + 1 : buf;
			for (int i = 0; i < cfg.n_exe; i++)
				if (!fnmatch(cfg.exe[i], base, 0))
					return true;
		}
	}
	if (cfg.n_cgroup) {
		/* the unified hierarchy's line: "0::/machine.slice/..." */
		snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
		FILE *f = fopen(path, "re");

		if (!f)
			return false;
		while (fgets(buf, sizeof(buf), f)) {
			buf[strcspn(buf, "\n")] = 0;
			if (strncmp(buf, "0::", 3))
				continue;
			for (int i = 0; i < cfg.n_cgroup; i++) {
				size_t l = strlen(cfg.cgroup[i]);

				if (!strncmp(buf + 3, cfg.cgroup[i], l) &&
				    (buf[3 + l] == 0 || buf[3 + l] == '/' ||
				     cfg.cgroup[i][l - 1] == '/')) {
					fclose(f);
					return true;
				}
			}
		}
		fclose(f);
	}
	return false;
}

static struct file *vm_file(const struct vm *v, dev_t dev, ino_t ino)
{
	for (struct file *f = v->files; f; f = f->next)
		if (f->dev == dev && f->ino == ino)
			return f;
	return NULL;
}

static struct file *file_find(dev_t dev, ino_t ino)
{
	struct file *f = NULL;

	for (struct vm *v = vms; v && !f; v = v->next)
		f = vm_file(v, dev, ino);
	return f;
}

/*
 * Whether a file that v has open is watched already, by v or by another
 * process; if by v, v still holds it (vm_files()).
 */
static bool file_known(struct vm *v, const struct stat *st)
{
	struct file *f = vm_file(v, st->st_dev, st->st_ino);

	if (f)
		f->held = true;
	return f || file_find(st->st_dev, st->st_ino);
}

static void file_close(struct file *f)
{
	sz_close(f->h);
	close(f->fd);
	free(f->name);
	free(f->win);
	free(f);
}

/* (Re)open the handle over the whole file if its size changed. */
static int file_sync(struct file *f)
{
	struct stat st;
	uint64_t size;
	int ret;

	if (fstat(f->fd, &st))
		return -errno;
	size = ((uint64_t)st.st_size + page - 1) / page * page;
	if (f->h && size == f->size)
		return 0;
	sz_close(f->h);
	f->h = NULL;
	free(f->win);
	f->win = NULL;
	f->size = size;
	f->nwin = (size + cfg.window - 1) / cfg.window;
	if (!size)
		return 0;
	f->win = calloc(f->nwin, sizeof(*f->win));
	if (!f->win)
		return -ENOMEM;
	ret = sz_open(&f->h, f->fd, 0, size,
		      SZ_OPEN_NO_FALLBACK | SZ_OPEN_QUERY_NOREAD, 0);
	if (ret)
		f->h = NULL;
	return ret;
}

static int take_file(int fdnum, const char *link, void *arg)
{
	struct vm *v = arg;
	char path[64];
	struct stat st;
	struct file *f;
	int fd, ret;

	/* known already (this VM's, or another's): no need to take it again */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", v->pid, fdnum);
	if (!stat(path, &st) && file_known(v, &st))
		return 0;
	/* the kernel's ptrace check (PTRACE_MODE_ATTACH_REALCREDS) */
	fd = syscall(SYS_pidfd_getfd, v->pidfd, fdnum, 0);
	if (fd < 0) {
		if (!v->denied)
			say("pid %d (%s): fd %d: %s", v->pid, v->comm, fdnum,
			    strerror(errno));
		if (errno == EPERM || errno == EACCES)
			v->denied = true;
		return 0;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || file_known(v, &st)) {
		close(fd);
		return 0;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return 0;
	}
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->name = strdup(link);
	f->held = true;
	ret = file_sync(f);
	if (ret) {
		/* not tmpfs, or opened read-only: not ours to scan */
		if (verbose)
			say("pid %d (%s): %s: %s", v->pid, v->comm, link,
			    strerror(-ret));
		file_close(f);
		return 0;
	}
	say("pid %d (%s): watching %s (%" PRIu64 " MiB)", v->pid, v->comm,
	    link, f->size >> 20);
	f->next = v->files;
	v->files = f;
	return 0;
}

/*
 * Mark the files of v that its process maps: QEMU may close a memory
 * backend's fd and keep it mapped.  /proc/PID/maps, not map_files/, which
 * wants CAP_SYS_ADMIN (the unit has CAP_SYS_PTRACE alone); a line's device
 * and inode are the file's st_dev and st_ino.  0, or -errno; -ESRCH if
 * it lists no mapping at all: the process is exiting (its mm is gone), or
 * its main thread has exited.
 */
static int vm_mapped(struct vm *v)
{
	char path[64], *line = NULL;
	unsigned int maj, min;
	unsigned long long ino;
	size_t cap = 0;
	bool any = false;
	int ret = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/maps", v->pid);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	errno = 0;
	while (getline(&line, &cap, fp) > 0) {
		any = true;
		/* start-end perms offset major:minor inode [path] */
		if (sscanf(line, "%*x-%*x %*s %*x %x:%x %llu", &maj, &min, &ino) != 3)
			continue;
		for (struct file *f = v->files; f; f = f->next)
			if (f->ino == ino && major(f->dev) == maj &&
			    minor(f->dev) == min)
				f->held = true;
	}
	if (ferror(fp))
		ret = errno ? -errno : -EIO;
	else if (!any)
		ret = -ESRCH;
	free(line);
	fclose(fp);
	return ret;
}

/*
 * Take the process's tmpfs fds that no VM has yet (pidfd_getfd), and close
 * the files that it holds no more, neither open nor mapped: a memory
 * backend unplugged, or just closed.  Our copy would keep the whole file
 * in memory until the process exits.
 *
 * Dropped only after full listings of /proc/PID/fd, then /proc/PID/maps
 * (when a file was not open), that both read without error and while the
 * process still lived (its pidfd): a failed or partial listing (the process
 * exiting, EACCES) drops nothing.  An exiting process lists no fd once its
 * files are gone, but it lost its mm before them: its maps, read after
 * the fds, list nothing, and vm_mapped() fails.
 *
 * A file is named by st_dev and st_ino, compared with what the process has
 * open (stat of /proc/PID/fd/N) and what it maps.  While our fd holds the
 * inode the pair names no other file: tmpfs does not give a live inode's
 * number to another (short of the 32-bit numbers of an inode32 mount
 * wrapping, where a clash can only keep a file, never drop one).
 *
 * The two listings are not one snapshot of the process, but a file that
 * moves from its fd to a mapping (mmap, then close) is seen open by the
 * first.  What can be missed is a file held by neither at that moment, an
 * fd in flight in a unix socket, say: it is dropped, and taken again once
 * it is an fd again; a file dropped while still in use is only no longer
 * scanned.  Closing our copy never touches the process's memory.  A file
 * shared with another selected process is that process's to take once it
 * is dropped here.
 */
static void vm_files(struct vm *v)
{
	struct file **pp, *f;
	int ret;

	for (f = v->files; f; f = f->next)
		f->held = false;
	ret = proc_shm_fds(v->pid, take_file, v);
	if (ret && ret != -ENOENT && !v->denied)
		say("pid %d (%s): /proc/%d/fd: %s", v->pid, v->comm, v->pid,
		    strerror(-ret));
	if (ret == -EACCES || ret == -EPERM)
		v->denied = true;
	if (ret)
		return;
	for (f = v->files; f && f->held; f = f->next)
		;
	if (!f)
		return;		/* all open still (QEMU keeps its fds) */
	if (vm_mapped(v))
		return;
	/* our process's listings, not those of one that reused its pid */
	if (syscall(SYS_pidfd_send_signal, v->pidfd, 0, NULL, 0) && errno != EPERM)
		return;
	for (pp = &v->files; (f = *pp);) {
		char *name = f->name;
		uint64_t size = f->size;

		if (f->held) {
			pp = &f->next;
			continue;
		}
		*pp = f->next;
		f->name = NULL;
		file_close(f);
		/* logged once closed: ours the last reference, it is freed */
		say("pid %d (%s): dropped %s (%" PRIu64 " MiB), no longer open or mapped",
		    v->pid, v->comm, name ? name : "?", size >> 20);
		free(name);
	}
}

static void counters_add(struct counters *to, const struct counters *c)
{
	to->scanned += c->scanned;
	to->freed += c->freed;
	to->busy += c->busy;
	to->pinned += c->pinned;
	to->skipped += c->skipped;
	to->written += c->written;
	to->cpu += c->cpu;
}

static void vm_drop(struct vm **pp)
{
	struct vm *v = *pp;

	*pp = v->next;
	while (v->files) {
		struct file *f = v->files;

		v->files = f->next;
		file_close(f);
	}
	counters_add(&gone, &v->c);
	close(v->pidfd);
	free(v);
}

/* Add the selected processes, drop those that exited or left the selection. */
static void discover(void)
{
	struct dirent *d;
	struct vm **pp, *v;
	DIR *dp = opendir("/proc");

	for (v = vms; v; v = v->next)
		v->seen = false;
	while (dp && (d = readdir(dp))) {
		char path[64];
		pid_t pid;

		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		pid = atoi(d->d_name);
		if (pid == getpid() || !selected(pid))
			continue;
		for (v = vms; v && v->pid != pid; v = v->next)
			;
		if (!v) {
			int pidfd = syscall(SYS_pidfd_open, pid, 0);

			if (pidfd < 0)
				continue;
			v = calloc(1, sizeof(*v));
			if (!v) {
				close(pidfd);
				continue;
			}
			v->pid = pid;
			v->pidfd = pidfd;
			snprintf(path, sizeof(path), "/proc/%d/comm", pid);
			if (!read_line(path, v->comm, sizeof(v->comm)))
				strcpy(v->comm, "?");
			v->next = vms;
			vms = v;
			say("pid %d (%s): selected", pid, v->comm);
		} else {
			/* A process selected before its exec (a VM that a
			 * launcher starts in its cgroup) takes its new name:
			 * the metrics' comm label follows it.
			 */
			char comm[sizeof(v->comm)];

			snprintf(path, sizeof(path), "/proc/%d/comm", pid);
			if (read_line(path, comm, sizeof(comm)) &&
			    strcmp(comm, v->comm)) {
				say("pid %d (%s): now %s", pid, v->comm, comm);
				strcpy(v->comm, comm);
			}
		}
		v->seen = true;
		/* fds it opened since, files it let go of; the pidfd pins
		 * this very process
		 */
		vm_files(v);
	}
	if (dp)
		closedir(dp);
	for (pp = &vms; *pp;) {
		bool alive;

		v = *pp;
		/* pidfd_send_signal(0): ESRCH once the process has exited
		 * (EPERM: alive, and not ours to signal)
		 */
		alive = !syscall(SYS_pidfd_send_signal, v->pidfd, 0, NULL, 0) ||
			errno == EPERM;
		if (v->seen && alive) {
			pp = &v->next;
			continue;
		}
		say("pid %d (%s): %s", v->pid, v->comm,
		    alive ? "no longer selected" : "exited");
		vm_drop(pp);
	}
}

/* ---- scanning ---- */

static volatile sig_atomic_t got_hup, got_term;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

/* Sleep for s seconds, or until a signal asks for something. */
static void nap(double s)
{
	struct timespec ts;

	while (s > 0 && !got_term && !got_hup) {
		double t0 = now_s(CLOCK_MONOTONIC);

		ts.tv_sec = (time_t)s;
		ts.tv_nsec = (long)((s - ts.tv_sec) * 1e9);
		if (!nanosleep(&ts, NULL))
			return;
		s -= now_s(CLOCK_MONOTONIC) - t0;
	}
}

/*
 * After using cpu seconds on pages: sleep so that the CPU used stays
 * within cpu_percent of the time, and the pages within pages_per_second.
 */
static void throttle(double cpu, uint64_t pages)
{
	double rate_wait, now = now_s(CLOCK_MONOTONIC);

	budget_debt += cpu * (100 / cfg.cpu_percent - 1);
	rate_pages += pages;
	rate_wait = rate_start + rate_pages / cfg.pages_per_second - now;
	if (rate_wait < -1) {		/* idle a while: no credit saved up */
		rate_start = now;
		rate_pages = 0;
		rate_wait = 0;
	}
	if (budget_debt < 0.01 && rate_wait < 0.01)
		return;
	if (rate_wait > budget_debt) {
		nap(rate_wait);
		budget_debt = 0;
	} else {
		double t0 = now_s(CLOCK_MONOTONIC);

		nap(budget_debt);
		budget_debt -= now_s(CLOCK_MONOTONIC) - t0;
		if (budget_debt < 0)
			budget_debt = 0;
	}
}

static bool paused(const struct vm *v)
{
	char path[PATH_MAX];

	if (!cfg.pause_file)
		return false;
	if (!access(cfg.pause_file, F_OK))
		return true;
	snprintf(path, sizeof(path), "%s.%d", cfg.pause_file, v->pid);
	return !access(path, F_OK);
}

static void write_metrics(void);

static void scan_file(struct vm *v, struct file *f)
{
	if (file_sync(f) || !f->h)
		return;
	for (size_t i = 0; i < f->nwin && !got_term && !got_hup; i++) {
		struct window *w = &f->win[i];
		uint64_t off = i * cfg.window;
		uint64_t len = f->size - off < cfg.window ? f->size - off : cfg.window;
		struct sz_counts c = { 0 };
		uint64_t pages = len / page, allocated;
		double cpu0 = cpu_now(), cpu;
		int ret;

		if (w->skip) {
			w->skip--;
			v->c.skipped += pages;
			continue;
		}
		/*
		 * A window scanned before is looked at first with a QUERY that
		 * reads no page, only the page cache.  Pages allocated since
		 * its last look mean the guest writes here now: freeing its
		 * zero pages again would only have them faulted back in.  Back
		 * off without reading it, unless the back-off is at its
		 * longest: then reclaim anyway, so that every window is read
		 * at least every 2^backoff_max passes.
		 */
		if (w->scanned && w->level < cfg.backoff_max) {
			ret = sz_query(f->h, off, len, NULL, &c, sizeof(c));
			allocated = pages - c.hole;
			if (!ret && allocated > w->left) {
				w->level++;
				w->skip = (1u << w->level) - 1;
				w->left = allocated;
				v->c.skipped += pages;
				v->c.written++;
				cpu = cpu_now() - cpu0;
				v->c.cpu += cpu;
				throttle(cpu, 0);
				continue;
			}
			memset(&c, 0, sizeof(c));
		}
		ret = sz_reclaim(f->h, off, len, &c, sizeof(c));
		cpu = cpu_now() - cpu0;
		v->c.cpu += cpu;
		if (ret) {
			/* EINTR: a signal (SIGHUP, SIGTERM) to act on now */
			if (ret != -EINTR)
				say("pid %d (%s): reclaim at %" PRIu64 ": %s", v->pid,
				    v->comm, off, strerror(-ret));
			throttle(cpu, pages);
			return;
		}
		v->c.scanned += pages;
		v->c.freed += c.freed;
		v->c.busy += c.busy;
		v->c.pinned += c.pinned;
		allocated = pages - c.hole;
		/*
		 * Pages allocated since the last scan left w->left: the guest
		 * writes here.  Nothing to free: nothing to gain soon.  Either
		 * way back off, longer each time; a window that gave pages
		 * back and stayed quiet is scanned again next pass.
		 */
		if ((w->scanned && allocated > w->left) || !c.zero) {
			if (w->level < cfg.backoff_max)
				w->level++;
		} else {
			w->level = 0;
		}
		w->skip = (1u << w->level) - 1;
		w->left = allocated - c.freed;
		w->scanned = true;
		throttle(cpu, pages);
		/* a pass over large VMs on a small budget takes long */
		if (now_s(CLOCK_MONOTONIC) - metrics_at >= METRICS_EVERY)
			write_metrics();
	}
}

static void scan_pass(void)
{
	for (struct vm *v = vms; v && !got_term && !got_hup; v = v->next) {
		if (paused(v))
			continue;
		for (struct file *f = v->files; f && !got_term && !got_hup; f = f->next)
			scan_file(v, f);
	}
	passes++;
}

/* ---- metrics ---- */

static void metric(FILE *f, const char *name, const char *help, const char *type)
{
	fprintf(f, "# HELP shmemzerod_%s %s\n# TYPE shmemzerod_%s %s\n", name,
		help, name, type);
}

/* A label value as the text exposition format wants it: \\, \" and \n. */
static void label(FILE *f, const char *name, const char *s)
{
	fprintf(f, "%s=\"", name);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* {pid="1234",comm="qemu-system-x86"} */
static void vm_labels(FILE *f, const struct vm *v)
{
	fprintf(f, "{pid=\"%d\",", v->pid);
	label(f, "comm", v->comm);
	fputc('}', f);
}

/* Report a failure to write the metrics once, until a write succeeds. */
static void metrics_failed(const char *path)
{
	if (!metrics_warned)
		say("%s: %s", path, strerror(errno));
	metrics_warned = true;
}

static void write_metrics(void)
{
	double cpu_total = cpu_now() - cpu_start;
	static const struct {
		const char *name, *help;
		size_t off;
		bool bytes;
	} m[] = {
		{ "pages_scanned_total", "Pages examined by RECLAIM.",
		  offsetof(struct counters, scanned), false },
		{ "pages_freed_total", "All-zero pages freed.",
		  offsetof(struct counters, freed), false },
		{ "bytes_returned_total", "Bytes of the freed pages.",
		  offsetof(struct counters, freed), true },
		{ "pages_busy_total", "Zero pages kept: locked, mapped or written meanwhile.",
		  offsetof(struct counters, busy), false },
		{ "pages_pinned_total", "Zero pages kept: pinned (DMA, udmabuf, vhost).",
		  offsetof(struct counters, pinned), false },
		{ "pages_skipped_total", "Pages of windows skipped by the back-off.",
		  offsetof(struct counters, skipped), false },
		{ "windows_written_total",
		  "Windows allocated into since their last look: backed off unread.",
		  offsetof(struct counters, written), false },
	};
	char tmp[PATH_MAX];
	struct counters all = gone;
	FILE *f;
	int n = 0;

	metrics_at = now_s(CLOCK_MONOTONIC);
	if (!cfg.metrics)
		return;
	/* the default's directory (the unit's RuntimeDirectory=) */
	if (!strcmp(cfg.metrics, DEFAULT_METRICS))
		mkdir(DEFAULT_METRICS_DIR, 0755);
	snprintf(tmp, sizeof(tmp), "%s.tmp", cfg.metrics);
	f = fopen(tmp, "we");
	if (!f) {
		metrics_failed(tmp);
		return;
	}
	for (struct vm *v = vms; v; v = v->next) {
		n++;
		counters_add(&all, &v->c);
	}
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		uint64_t mul = m[i].bytes ? (uint64_t)page : 1;

		metric(f, m[i].name, m[i].help, "counter");
		fprintf(f, "shmemzerod_%s %" PRIu64 "\n", m[i].name,
			*(uint64_t *)((char *)&all + m[i].off) * mul);
		for (struct vm *v = vms; v; v = v->next) {
			fprintf(f, "shmemzerod_%s", m[i].name);
			vm_labels(f, v);
			fprintf(f, " %" PRIu64 "\n",
				*(uint64_t *)((char *)&v->c + m[i].off) * mul);
		}
	}
	metric(f, "vm_cpu_seconds_total", "CPU spent on each VM's pages.", "counter");
	for (struct vm *v = vms; v; v = v->next) {
		fputs("shmemzerod_vm_cpu_seconds_total", f);
		vm_labels(f, v);
		fprintf(f, " %.6f\n", v->c.cpu);
	}
	metric(f, "cpu_seconds_total", "CPU used by the daemon's thread.", "counter");
	fprintf(f, "shmemzerod_cpu_seconds_total %.6f\n", cpu_total);
	metric(f, "vms", "Processes watched now.", "gauge");
	fprintf(f, "shmemzerod_vms %d\n", n);
	metric(f, "passes_total", "Passes over every watched file.", "counter");
	fprintf(f, "shmemzerod_passes_total %" PRIu64 "\n", passes);
	if (fflush(f) || ferror(f) || fsync(fileno(f))) {
		metrics_failed(tmp);
		fclose(f);
		unlink(tmp);
		return;
	}
	fclose(f);
	if (rename(tmp, cfg.metrics)) {
		metrics_failed(cfg.metrics);
		unlink(tmp);
		return;
	}
	metrics_warned = false;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: shmemzerod [--config FILE] [--once] [--verbose]\n"
"  --config FILE  settings (default " DEFAULT_CONFIG ")\n"
"  --once         one pass over every selected process, then exit\n"
"Exit: 0 ok, 1 failure, 2 usage or configuration, 3 module not loaded.\n"
"See shmemzerod(8).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, '1' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	const char *config = DEFAULT_CONFIG;
	struct sigaction sa = { .sa_handler = on_signal };
	bool once = false;
	int o;

	page = sysconf(_SC_PAGESIZE);
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case '1': once = true; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V': printf("shmemzerod %s\n", SHMEMZERO_VERSION); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (config_load(config, &cfg))
		return EXIT_USAGE;
	if (access(SHMEM_ZERO_DEVICE, F_OK)) {
		say("module shmem_zero not loaded (no " SHMEM_ZERO_DEVICE
		    "): modprobe shmem_zero");
		return EXIT_NO_MODULE;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	cpu_start = cpu_now();
	rate_start = now_s(CLOCK_MONOTONIC);
	say("started: %d exe, %d cgroup, %d pid selectors; %" PRIu64
	    " pages/s, %.1f%% CPU, windows of %" PRIu64 " KiB, a pass every %.1f s",
	    cfg.n_exe, cfg.n_cgroup, cfg.n_pid, cfg.pages_per_second,
	    cfg.cpu_percent, cfg.window >> 10, cfg.interval);
	while (!got_term) {
		double t0 = now_s(CLOCK_MONOTONIC), cpu0 = cpu_now();

		if (got_hup) {
			struct config c;

			got_hup = 0;
			if (config_load(config, &c)) {
				say("%s: not reloaded, the old settings stay", config);
			} else {
				/* windows are sized by the old settings: reopen */
				while (vms)
					vm_drop(&vms);
				config_free(&cfg);
				cfg = c;
				say("%s: reloaded", config);
			}
		}
		discover();
		throttle(cpu_now() - cpu0, 0);
		scan_pass();
		cpu0 = cpu_now();
		write_metrics();
		throttle(cpu_now() - cpu0, 0);
		if (once)
			break;
		nap(cfg.interval - (now_s(CLOCK_MONOTONIC) - t0));
	}
	write_metrics();
	say("%s after %" PRIu64 " passes: %.2f s of CPU", got_term ? "stopped" : "done",
	    passes, cpu_now() - cpu_start);
	while (vms)
		vm_drop(&vms);
	config_free(&cfg);
	return EXIT_OK;
}
