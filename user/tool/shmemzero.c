// SPDX-License-Identifier: GPL-2.0
/*
 * shmemzero: operate shmem_zero on a file or on a running process's memfd
 * (a VM's guest RAM): counters, query, reclaim of all-zero pages, discard.
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64	/* off_t: 64-bit on i386 too */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <json-c/json.h>
#include <shmemzero.h>

#include "tool.h"

_Static_assert(sizeof(off_t) == 8, "file offsets past 2 GiB need a 64-bit off_t");

/* Work in steps of this much on a TTY, to show progress. */
#define STEP	(64ULL << 20)

struct opts {
	const char *file;
	const char *metrics;	/* stat: shmemzerod's metrics file */
	long pid;
	int pidfd;		/* query --pid: opened once, before /proc/PID/fd */
	int fd;
	uint64_t offset, length;
	bool has_length, json, dry_run;
	unsigned int watch;
};

static const char *prog = "shmemzero";

static void usage(FILE *f)
{
	fprintf(f,
"usage: shmemzero stat [--json] [--watch SECONDS] [--metrics FILE]\n"
"       shmemzero --version\n"
"       shmemzero reset\n"
"       shmemzero query   FILE | --pid PID [--fd N]  [--offset O] [--length L] [--json]\n"
"       shmemzero reclaim FILE | --pid PID --fd N    [--offset O] [--length L] [--dry-run] [--json]\n"
"       shmemzero discard FILE --offset O --length L [--json]\n"
"Sizes take K, M, G, T suffixes.  query --pid without --fd lists the process's\n"
"memfds and /dev/shm files.  stat also shows shmemzerod's metrics file.\n"
"Exit: 0 ok, 1 failure, 2 usage, 3 module not loaded, 4 permission\n"
"denied, 5 no such process/fd/file, 6 not a tmpfs file.  See shmemzero(8).\n");
}

static int status_of(int err)
{
	switch (err) {
	case ENOENT:
	case ENXIO:
		return EXIT_NO_MODULE;
	case EPERM:
	case EACCES:
		return EXIT_PERM;
	case ESRCH:
	case EBADF:
		return EXIT_NO_TARGET;
	case EOPNOTSUPP:
	case ENODEV:
	case ESPIPE:
	case EISDIR:
		return EXIT_NOT_TMPFS;
	default:
		return EXIT_FAIL;
	}
}

static int fail(int err, const char *what)
{
	const char *why = strerror(err);

	switch (status_of(err)) {
	case EXIT_NO_MODULE:
		why = "module shmem_zero not loaded (no /dev/shmem_zero)";
		break;
	case EXIT_NOT_TMPFS:
		why = "not a tmpfs file (memfd or /dev/shm)";
		break;
	}
	fprintf(stderr, "%s: %s: %s\n", prog, what, why);
	return status_of(err);
}

/* open_target()'s errors: a missing path is the target's, not the module's. */
static int fail_target(int err, const char *what)
{
	if (err == ENOENT || err == ENOTDIR) {
		fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(err));
		return EXIT_NO_TARGET;
	}
	return fail(err, what);
}

/*
 * The target's fd: a path, or a fd of another process (pidfd_getfd(2)).
 * A path is opened O_NONBLOCK, so that a FIFO does not wait for a writer,
 * and must be a regular file (the library checks the pidfd_getfd ones).
 * Report its errors with fail_target().
 */
static int open_target(const struct opts *o, int flags, const char **what)
{
	static char name[64];
	struct stat st;
	int pidfd, fd, err;

	if (o->file) {
		*what = o->file;
		fd = open(o->file, flags | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			return -errno;
		err = fstat(fd, &st) ? -errno :
		      S_ISREG(st.st_mode) ? 0 :
		      S_ISDIR(st.st_mode) ? -EISDIR :
		      S_ISFIFO(st.st_mode) ? -ESPIPE : -ENODEV;
		if (err) {
			close(fd);
			return err;
		}
		return fd;
	}
	snprintf(name, sizeof(name), "pid %ld fd %d", o->pid, o->fd);
	*what = name;
	pidfd = o->pidfd >= 0 ? o->pidfd : syscall(SYS_pidfd_open, (pid_t)o->pid, 0);
	if (pidfd < 0)
		return -errno;
	/* The kernel's ptrace checks (PTRACE_MODE_ATTACH_REALCREDS) decide. */
	fd = syscall(SYS_pidfd_getfd, pidfd, o->fd, 0);
	if (fd < 0)
		fd = -errno;
	if (pidfd != o->pidfd)
		close(pidfd);
	return fd;
}

/*
 * A handle on [offset, offset + length) of the target, length by default
 * up to EOF.  An empty file (or an offset at EOF) has nothing to act on:
 * *h = NULL, *length = 0, success.
 */
static int open_handle(const struct opts *o, int fd, unsigned int flags,
		       struct sz_handle **h, uint64_t *length)
{
	struct stat st;
	long page = sysconf(_SC_PAGESIZE);
	uint64_t end;

	*h = NULL;
	if (fstat(fd, &st))
		return -errno;
	end = ((uint64_t)st.st_size + page - 1) / page * page;
	if (o->has_length)
		*length = o->length;
	else
		*length = o->offset < end ? end - o->offset : 0;
	return *length ? sz_open(h, fd, o->offset, *length, flags, 0) : 0;
}

static void progress(const char *verb, uint64_t done, uint64_t total,
		     uint64_t freed_bytes)
{
	int width = 40, fill = total ? (int)(width * done / total) : width;

	fprintf(stderr, "\r%s [%.*s%*s] %3d%%  %.1f MiB freed", verb, fill,
		"########################################", width - fill, "",
		total ? (int)(100 * done / total) : 100, freed_bytes / 1048576.0);
}

/* One JSON object on a line of stdout; it takes @obj's reference. */
void print_json_object(struct json_object *obj)
{
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
}

static void json_add_u64(struct json_object *obj, const char *key, uint64_t v)
{
	json_object_object_add(obj, key, json_object_new_uint64(v));
}

static void print_counts(const char *what, const struct sz_counts *c,
			 bool json, bool dry_run)
{
	long page = sysconf(_SC_PAGESIZE);

	if (json) {
		struct json_object *obj = json_object_new_object();

		json_object_object_add(obj, "target", json_object_new_string(what));
		json_add_u64(obj, "page_size", page);
		json_add_u64(obj, "hole", c->hole);
		json_add_u64(obj, "zero", c->zero);
		json_add_u64(obj, "data", c->data);
		json_add_u64(obj, "swap", c->swap);
		json_add_u64(obj, "unwritten", c->unwritten);
		json_add_u64(obj, "freed", c->freed);
		json_add_u64(obj, "pinned", c->pinned);
		json_add_u64(obj, "busy", c->busy);
		if (dry_run) {
			json_object_object_add(obj, "dry_run", json_object_new_boolean(1));
			json_add_u64(obj, "would_free", c->zero);
		}
		print_json_object(obj);
		return;
	}
	printf("%s\n", what);
#define ROW(name, n) printf("  %-10s %12" PRIu64 " pages %10.1f MiB\n", name, \
			    n, (n) * (double)page / 1048576)
	ROW("hole", c->hole);
	ROW("zero", c->zero);
	ROW("data", c->data);
	ROW("swap", c->swap);
	ROW("unwritten", c->unwritten);
	if (c->freed || c->pinned || c->busy) {
		ROW("freed", c->freed);
		ROW("pinned", c->pinned);
		ROW("busy", c->busy);
	}
#undef ROW
}

static int query_fd(const struct opts *o, int fd, const char *what)
{
	struct sz_handle *h;
	struct sz_counts c = { 0 };
	uint64_t length;
	int ret;

	ret = open_handle(o, fd, SZ_OPEN_READONLY, &h, &length);
	if (ret)
		return fail(-ret, what);
	ret = h ? sz_query(h, 0, length, NULL, &c, sizeof(c)) : 0;
	sz_close(h);
	if (ret)
		return fail(-ret, what);
	print_counts(what, &c, o->json, false);
	return EXIT_OK;
}

struct process_query {
	const struct opts *o;
	int pidfd, found, status;
};

static int query_one(int fdnum, const char *link, void *arg)
{
	struct process_query *q = arg;
	struct opts one = *q->o;
	const char *what;
	int fd, ret;

	q->found++;
	one.fd = fdnum;
	one.pidfd = q->pidfd;
	if (!one.json)
		printf("fd %d: %s\n", one.fd, link);
	fd = open_target(&one, 0, &what);
	if (fd < 0) {
		q->status = fail_target(-fd, what);
		return 0;
	}
	/* the last failure's own status, as for one fd */
	ret = query_fd(&one, fd, what);
	if (ret)
		q->status = ret;
	close(fd);
	return 0;
}

/* query --pid without --fd: every memfd and /dev/shm file of the process. */
static int query_process(const struct opts *o)
{
	struct process_query q = { .o = o, .status = EXIT_OK };
	char dir[64];
	int ret;

	/*
	 * The process is pinned first: every fd below is taken from it by
	 * pidfd_getfd(), never from a process that reused its pid, and the
	 * listing is checked to be its own (it still ran after it).
	 */
	snprintf(dir, sizeof(dir), "/proc/%ld/fd", o->pid);
	q.pidfd = syscall(SYS_pidfd_open, (pid_t)o->pid, 0);
	if (q.pidfd < 0)
		return fail(errno, dir);
	ret = proc_shm_fds(o->pid, query_one, &q);
	if (ret) {
		close(q.pidfd);
		return fail(ret == -ENOENT ? ESRCH : -ret, dir);
	}
	if (syscall(SYS_pidfd_send_signal, q.pidfd, 0, NULL, 0))
		q.status = fail(errno, dir);	/* ESRCH: it exited meanwhile */
	close(q.pidfd);
	if (!q.found && !o->json)
		printf("pid %ld has no memfd or /dev/shm file\n", o->pid);
	return q.status;
}

static int cmd_query(const struct opts *o)
{
	const char *what;
	int fd, ret;

	if (o->pid && o->fd < 0)
		return query_process(o);
	fd = open_target(o, O_RDONLY, &what);
	if (fd < 0)
		return fail_target(-fd, what);
	ret = query_fd(o, fd, what);
	close(fd);
	return ret;
}

static int cmd_reclaim(const struct opts *o)
{
	struct sz_counts total = { 0 };
	struct sz_handle *h;
	bool tty = isatty(STDERR_FILENO);
	long page = sysconf(_SC_PAGESIZE);
	uint64_t length, off;
	const char *what;
	int fd, ret;

	/* a dry run only queries: a reader's fd, and the fallback will do */
	fd = open_target(o, o->dry_run ? O_RDONLY : O_RDWR, &what);
	if (fd < 0)
		return fail_target(-fd, what);
	ret = open_handle(o, fd, o->dry_run ? SZ_OPEN_READONLY :
			  SZ_OPEN_NO_FALLBACK, &h, &length);
	if (ret) {
		close(fd);
		return fail(-ret, what);
	}
	for (off = 0; off < length && !ret; off += STEP) {
		uint64_t len = length - off < STEP ? length - off : STEP;
		struct sz_counts c = { 0 };

		ret = o->dry_run ?
		      sz_query(h, off, len, NULL, &c, sizeof(c)) :
		      sz_reclaim(h, off, len, &c, sizeof(c));
		total.hole += c.hole;
		total.zero += c.zero;
		total.data += c.data;
		total.swap += c.swap;
		total.unwritten += c.unwritten;
		total.freed += c.freed;
		total.pinned += c.pinned;
		total.busy += c.busy;
		if (tty && length > 4 * STEP)
			progress(o->dry_run ? "dry run" : "reclaim",
				 off + len, length, total.freed * page);
	}
	if (tty && length > 4 * STEP)
		fputc('\n', stderr);
	sz_close(h);
	close(fd);
	if (ret)
		return fail(-ret, what);
	if (o->dry_run) {
		print_counts(what, &total, o->json, true);
		if (!o->json)
			printf("dry run: up to %" PRIu64 " zero pages (%.1f MiB) would be freed\n",
			       total.zero, total.zero * (double)page / 1048576);
	} else {
		print_counts(what, &total, o->json, false);
		if (!o->json)
			printf("freed %" PRIu64 " pages (%.1f MiB)\n", total.freed,
			       total.freed * (double)page / 1048576);
	}
	return EXIT_OK;
}

static int cmd_discard(const struct opts *o)
{
	struct sz_handle *h;
	struct sz_stats st;
	uint64_t length;
	const char *what;
	int fd, ret;

	fd = open_target(o, O_RDWR, &what);
	if (fd < 0)
		return fail_target(-fd, what);
	ret = open_handle(o, fd, 0, &h, &length);
	if (!ret) {
		ret = sz_add_zero(h, 0, length);
		if (!ret)
			ret = sz_flush(h);
		sz_stats(h, &st, sizeof(st));
		sz_close(h);
	}
	close(fd);
	if (ret)
		return fail(-ret, what);
	if (o->json) {
		struct json_object *obj = json_object_new_object();

		json_object_object_add(obj, "target", json_object_new_string(what));
		json_add_u64(obj, "bytes", length);
		json_add_u64(obj, "freed_pages", st.freed_pages);
		json_add_u64(obj, "hole_pages", st.hole_pages);
		print_json_object(obj);
	} else {
		printf("%s: discarded %" PRIu64 " bytes (%" PRIu64 " pages freed)\n",
		       what, length, st.freed_pages);
	}
	return EXIT_OK;
}

/*
 * At exit, as util-linux's close_stdout(): output that did not reach its
 * file (a full disk, a closed pipe's reader aside) is a failure.
 */
static void close_stdout(void)
{
	bool failed = ferror(stdout);

	errno = 0;
	if (fclose(stdout))
		failed = true;
	if (failed && errno != EPIPE) {
		fprintf(stderr, "%s: write error%s%s\n", prog, errno ? ": " : "",
			errno ? strerror(errno) : "");
		_exit(EXIT_FAIL);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", required_argument, NULL, 'w' },
		{ "pid", required_argument, NULL, 'p' },
		{ "fd", required_argument, NULL, 'f' },
		{ "offset", required_argument, NULL, 'o' },
		{ "length", required_argument, NULL, 'l' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .fd = -1, .pidfd = -1 };
	const char *cmd;
	uint64_t v;
	int c;

	atexit(close_stdout);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("shmemzero %s\n", SHMEMZERO_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = true;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'm':
			o.metrics = optarg;
			break;
		case 'w':
			if (!parse_size(optarg, &v) || !v || v > 86400)
				goto bad;
			o.watch = v;
			break;
		case 'p':
			if (!parse_size(optarg, &v) || !v || v > INT_MAX)
				goto bad;
			o.pid = v;
			break;
		case 'f':
			if (!parse_size(optarg, &v) || v > INT_MAX)
				goto bad;
			o.fd = v;
			break;
		case 'o':
			if (!parse_size(optarg, &v))
				goto bad;
			o.offset = v;
			break;
		case 'l':
			if (!parse_size(optarg, &v) || !v)
				goto bad;
			o.length = v;
			o.has_length = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		o.file = argv[optind++];
	if (optind < argc || (o.file && o.pid)) {
		fprintf(stderr, "%s: give a FILE or --pid, once\n", prog);
		return EXIT_USAGE;
	}

	if (!strcmp(cmd, "stat") && !o.file && !o.pid)
		return cmd_stat(o.json, o.watch, o.metrics ? o.metrics :
				daemon_metrics_path(DEFAULT_CONFIG));
	if (!strcmp(cmd, "reset") && !o.file && !o.pid)
		return cmd_reset();
	if (!o.file && !o.pid) {
		fprintf(stderr, "%s: %s needs a FILE or --pid\n", prog, cmd);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "query"))
		return cmd_query(&o);
	if (!strcmp(cmd, "reclaim") && (o.file || o.fd >= 0))
		return cmd_reclaim(&o);
	if (!strcmp(cmd, "discard") && o.file && o.has_length)
		return cmd_discard(&o);
	fprintf(stderr, "%s: bad command or missing argument: %s\n", prog, cmd);
	usage(stderr);
	return EXIT_USAGE;
bad:
	fprintf(stderr, "%s: bad value for an option: %s\n", prog, optarg);
	return EXIT_USAGE;
}
