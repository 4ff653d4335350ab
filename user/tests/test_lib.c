// SPDX-License-Identifier: GPL-2.0
/*
 * libshmemzero tests on real memfds: a TAP plan "1..N" (every check this
 * invocation means to run), then one line per check, "ok - NAME" /
 * "not ok - NAME" (details before it as "# " lines).  Each test runs on every
 * path: the fallback always, the module path when /dev/shmem_zero takes
 * memfds, else "ok - NAME # SKIP why" (--require-module makes its absence
 * a failure).
 *
 * Usage: test_lib [--require-module] [--no-module] [--quick]
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64	/* the 4 GiB test, in the -m32 build too */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/swap.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/fs.h>

#include "shmemzero.h"

static size_t pg;
static int failures;
static bool quick;

static int results;
/* Set by a test that cannot run here: main() reports it skipped, and why. */
static const char *skip_why;

static void vresult(bool good, const char *suffix, const char *fmt, va_list ap)
{
	printf("%s - ", good ? "ok" : "not ok");
	vprintf(fmt, ap);
	if (good && suffix)
		printf(" # %s", suffix);
	putchar('\n');
	fflush(stdout);
	failures += !good;
	results++;
}

static void result(bool good, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vresult(good, NULL, fmt, ap);
	va_end(ap);
}

/* A check that did not run: "ok - NAME # SKIP why". */
static void skipped(const char *why, const char *fmt, ...)
{
	char suffix[160];
	va_list ap;

	snprintf(suffix, sizeof(suffix), "SKIP %s", why);
	va_start(ap, fmt);
	vresult(true, suffix, fmt, ap);
	va_end(ap);
}

/* Details of a failed check, printed before its "not ok" line. */
static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		diag("%s:%d: %s", __FILE__, __LINE__, #cond);		\
		diag(__VA_ARGS__);					\
		return false;						\
	}								\
} while (0)

/* A memfd of npages pages, every byte fill (or sparse if fill < 0). */
static int new_memfd(size_t npages, int fill)
{
	int fd = memfd_create("sz-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	unsigned char *buf = malloc(pg);
	size_t i;

	if (fd < 0 || !buf || ftruncate(fd, (off_t)npages * (off_t)pg)) {
		perror("memfd");
		exit(2);
	}
	if (fill >= 0) {
		memset(buf, fill, pg);
		for (i = 0; i < npages; i++)
			if (pwrite(fd, buf, pg, (off_t)(i * pg)) != (ssize_t)pg)
				exit(2);
	}
	free(buf);
	return fd;
}

static long blocks_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : (long)st.st_blocks;
}

/* Index of the first byte where the file differs from want, or -1. */
static long differs(int fd, uint64_t off, const unsigned char *want,
		    size_t len)
{
	unsigned char *buf = malloc(len);
	long at = -1;
	size_t i;

	if (!buf || pread(fd, buf, len, (off_t)off) != (ssize_t)len) {
		free(buf);
		return 0;
	}
	for (i = 0; i < len; i++)
		if (buf[i] != want[i]) {
			at = (long)i;
			break;
		}
	free(buf);
	return at;
}


/* Is the page at byte offset @off all @byte? */
static bool page_at_is(int fd, uint64_t off, int byte)
{
	unsigned char *buf = malloc(pg);
	bool same = buf && pread(fd, buf, pg, (off_t)off) == (ssize_t)pg;
	size_t i;

	for (i = 0; same && i < pg; i++)
		same = buf[i] == byte;
	free(buf);
	return same;
}

static bool page_is(int fd, size_t page, int byte)
{
	return page_at_is(fd, (uint64_t)page * pg, byte);
}

static struct sz_stats stats_of(struct sz_handle *h)
{
	struct sz_stats st;

	sz_stats(h, &st, sizeof(st));
	return st;
}

/* ---- the paths ---------------------------------------------------------- */

struct path {
	const char *name;
	unsigned int flags;
};

static const struct path fallback = { "fallback", SZ_OPEN_FALLBACK };
static const struct path module = { "module", SZ_OPEN_NO_FALLBACK };

static struct sz_handle *open_h(const struct path *p, int fd, uint64_t off,
				uint64_t len, unsigned int flags,
				unsigned int batch)
{
	struct sz_handle *h;
	int ret = sz_open(&h, fd, off, len, p->flags | flags, batch);

	if (ret) {
		diag("sz_open(%s): %s", p->name, strerror(-ret));
		return NULL;
	}
	return h;
}

/* ---- tests -------------------------------------------------------------- */

static bool t_open_errors(const struct path *p)
{
	struct sz_handle *h;
	int fd = new_memfd(4, -1), pfd[2], ro, wo;
	char name[64];
	bool good = true;

	CHECK(sz_open(&h, fd, 1, pg, p->flags, 0) == -EINVAL, "unaligned");
	CHECK(sz_open(&h, fd, 0, 0, p->flags, 0) == -EINVAL, "empty");
	CHECK(sz_open(&h, -1, 0, pg, p->flags, 0) == -EINVAL, "fd -1");
	CHECK(sz_open(&h, fd, 0, pg, SZ_OPEN_FALLBACK | SZ_OPEN_NO_FALLBACK,
		      0) == -EINVAL, "contradicting flags");
	CHECK(sz_open(&h, fd, 0, pg, 1u << 20, 0) == -EINVAL, "unknown flag");
	CHECK(pipe(pfd) == 0, "pipe");
	CHECK(sz_open(&h, pfd[1], 0, pg, p->flags, 0) == -ESPIPE, "pipe");
	snprintf(name, sizeof(name), "/proc/self/fd/%d", fd);
	ro = open(name, O_RDONLY);
	CHECK(sz_open(&h, ro, 0, pg, p->flags, 0) == -EBADF, "read-only fd");
	wo = open(name, O_WRONLY);
	CHECK(sz_open(&h, wo, 0, pg, p->flags | SZ_OPEN_ZERO_IN_PLACE, 0) == -EBADF,
	      "write-only fd, zero in place (the module needs to read too)");
	close(wo);
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0, "seal");
	CHECK(sz_open(&h, fd, 0, pg, p->flags, 0) == -EPERM, "sealed memfd");
	close(pfd[0]);
	close(pfd[1]);
	close(ro);
	close(fd);

	fd = new_memfd(4, -1);
	h = open_h(p, fd, pg, 2 * pg, 0, 0);
	CHECK(h, "open");
	CHECK(sz_path(h) == (p == &module ? SZ_PATH_IOCTL : SZ_PATH_FALLBACK),
	      "path %d", sz_path(h));
	CHECK(sz_add_zero(h, 0, 100) == -EINVAL, "unaligned length");
	CHECK(sz_add_zero(h, 2 * pg, pg) == -EINVAL, "past the region");
	CHECK(sz_add_zero(h, pg, 2 * pg) == -EINVAL, "straddles the end");
	CHECK(sz_add_zero(h, UINT64_MAX - pg + 1, pg) == -EINVAL, "overflow");
	CHECK(sz_before_write(h, 2 * pg - 1, 2) == -EINVAL, "write past end");
	CHECK(sz_query(h, 0, 3 * pg, NULL, NULL, 0) == -EINVAL, "query past");
	CHECK(sz_close(h) == 0, "close");
	CHECK(sz_close(NULL) == 0, "close NULL");
	close(fd);
	return good;
}

/* Adjacent, overlapping and out-of-order adds become few runs. */
static bool t_coalesce(const struct path *p)
{
	int fd = new_memfd(64, 0xaa);
	struct sz_handle *h = open_h(p, fd, 0, 64 * pg, 0, 0);
	struct sz_stats st;
	long before = blocks_of(fd);
	size_t i;

	CHECK(h, "open");
	for (i = 0; i < 8; i++)				/* one run: 0-7 */
		CHECK(!sz_add_zero(h, i * pg, pg), "add");
	CHECK(!sz_add_zero(h, 2 * pg, 4 * pg), "overlap inside");
	CHECK(!sz_add_zero(h, 20 * pg, 2 * pg), "second run 20-21");
	CHECK(!sz_add_zero(h, 12 * pg, 2 * pg), "third run 12-13");
	CHECK(!sz_add_zero(h, 30 * pg, 2 * pg), "fourth run 30-31");
	st = stats_of(h);
	CHECK(st.pending_runs == 4, "pending %lu", (unsigned long)st.pending_runs);
	CHECK(!sz_add_zero(h, 14 * pg, 6 * pg), "bridge 14-19 joins 12-21");
	CHECK(!sz_add_zero(h, 6 * pg, 7 * pg), "6-12 joins 0-21");
	st = stats_of(h);
	CHECK(st.pending_runs == 2 && st.pending_bytes == 24 * pg,
	      "pending %lu runs %lu bytes", (unsigned long)st.pending_runs,
	      (unsigned long)st.pending_bytes);
	CHECK(st.add_calls == 14 && st.coalesced == 10, "adds %lu merged %lu",
	      (unsigned long)st.add_calls, (unsigned long)st.coalesced);
	CHECK(!sz_flush(h), "flush");
	st = stats_of(h);
	CHECK(st.applied_runs == 2 && st.flushes == 1 && st.pending_runs == 0,
	      "applied %lu", (unsigned long)st.applied_runs);
	if (p == &module)
		CHECK(st.ioctls == 2, "one ioctl (+ probe): %lu",
		      (unsigned long)st.ioctls);
	else
		CHECK(st.fallocates == 2, "one punch per run: %lu",
		      (unsigned long)st.fallocates);
	for (i = 0; i < 64; i++)
		CHECK(page_is(fd, i, i < 22 || (i >= 30 && i < 32) ? 0 : 0xaa),
		      "page %zu", i);
	CHECK(blocks_of(fd) == before - (long)(24 * pg / 512),
	      "blocks %ld -> %ld", before, blocks_of(fd));
	CHECK(!sz_close(h), "close");
	close(fd);
	return true;
}

/* A batch of N runs is applied when the N-th run is queued, not before. */
static bool t_batch(const struct path *p)
{
	const unsigned int batch = 16;
	int fd = new_memfd(4 * batch, 0x11);
	struct sz_handle *h = open_h(p, fd, 0, 4 * batch * pg, 0, batch);
	struct sz_stats st;
	unsigned int i;

	CHECK(h, "open");
	for (i = 0; i < batch - 1; i++)
		CHECK(!sz_add_zero(h, 2 * i * pg, pg), "add %u", i);
	st = stats_of(h);
	CHECK(st.flushes == 0 && st.pending_runs == batch - 1,
	      "flushed early: %lu", (unsigned long)st.flushes);
	CHECK(page_is(fd, 0, 0x11), "nothing applied yet");
	CHECK(!sz_add_zero(h, 2 * i * pg, pg), "add the last");
	st = stats_of(h);
	CHECK(st.flushes == 1 && st.pending_runs == 0 &&
	      st.applied_runs == batch, "flushes %lu pending %lu",
	      (unsigned long)st.flushes, (unsigned long)st.pending_runs);
	if (p == &module)
		CHECK(st.ioctls == 2, "one ioctl per batch: %lu",
		      (unsigned long)st.ioctls);
	for (i = 0; i < 2 * batch; i++)
		CHECK(page_is(fd, i, i % 2 ? 0x11 : 0), "page %u", i);
	/* An add merging into a pending run does not count toward the batch. */
	for (i = 0; i < 3 * batch; i++)
		CHECK(!sz_add_zero(h, (batch + i / 3) * pg, pg), "merge %u", i);
	st = stats_of(h);
	CHECK(st.flushes == 1 && st.pending_runs == 1, "pending %lu",
	      (unsigned long)st.pending_runs);
	CHECK(!sz_close(h), "close flushes");
	CHECK(page_is(fd, 2 * batch - 1, 0), "applied by close");
	close(fd);
	return true;
}

/* A vector above SHMEM_ZERO_MAX_RANGES (2^20) goes in two ioctls. */
static bool t_split(const struct path *p)
{
	/* 64-bit products: 2n pages are 8 GiB, past a 32-bit size_t */
	const uint64_t n = (1u << 20) + 3, pg64 = pg;
	int fd = new_memfd(2 * n, -1);
	struct sz_handle *h = open_h(p, fd, 0, 2 * n * pg64, 0, n);
	struct sz_stats st;
	uint64_t i;

	CHECK(h, "open");
	CHECK(pwrite(fd, "x", 1, (off_t)((2 * n - 2) * pg64)) == 1, "data");
	for (i = 0; i < n - 1; i++)
		CHECK(!sz_add_zero(h, 2 * i * pg64, pg), "add %llu",
		      (unsigned long long)i);
	st = stats_of(h);
	CHECK(st.flushes == 0, "no flush yet");
	CHECK(!sz_add_zero(h, 2 * i * pg64, pg), "add the last");
	st = stats_of(h);
	CHECK(st.flushes == 1 && st.ioctls == 3 && st.applied_runs == n,
	      "ioctls %lu (want probe + 2) applied %lu",
	      (unsigned long)st.ioctls, (unsigned long)st.applied_runs);
	CHECK(page_is(fd, 2 * n - 2, 0), "last range applied");
	CHECK(!sz_close(h), "close");
	close(fd);
	return true;
}

/* Hazard (a): a queued zero must never wipe data written after it. */
static bool t_zero_then_data(const struct path *p)
{
	int fd = new_memfd(8, 0xee);
	struct sz_handle *h = open_h(p, fd, 0, 8 * pg, 0, 0);
	struct sz_stats st;
	unsigned char *buf = malloc(pg);

	CHECK(h, "open");
	memset(buf, 0x5a, pg);
	CHECK(!sz_add_zero(h, 0, 8 * pg), "zero 0-7");
	CHECK(!sz_before_write(h, 3 * pg, pg), "before write");
	CHECK(pwrite(fd, buf, pg, (off_t)(3 * pg)) == (ssize_t)pg, "write");
	st = stats_of(h);
	CHECK(st.trimmed_bytes == pg && st.pending_runs == 2 &&
	      st.early_flushes == 0, "trimmed %lu runs %lu",
	      (unsigned long)st.trimmed_bytes, (unsigned long)st.pending_runs);
	CHECK(!sz_flush(h), "flush");
	for (size_t i = 0; i < 8; i++)
		CHECK(page_is(fd, i, i == 3 ? 0x5a : 0), "page %zu", i);
	free(buf);
	sz_close(h);
	close(fd);
	return true;
}

static bool t_data_then_zero(const struct path *p)
{
	int fd = new_memfd(8, -1);
	struct sz_handle *h = open_h(p, fd, 0, 8 * pg, 0, 0);
	unsigned char *m = mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE,
				MAP_SHARED, fd, 0);

	CHECK(h && m != MAP_FAILED, "open");
	CHECK(!sz_before_write(h, 2 * pg, 2 * pg), "before write");
	memset(m + 2 * pg, 0x77, 2 * pg);
	CHECK(!sz_add_zero(h, 3 * pg, pg), "then zero page 3");
	CHECK(!sz_flush(h), "flush");
	CHECK(page_is(fd, 2, 0x77) && page_is(fd, 3, 0), "2 data, 3 zero");
	CHECK(m[3 * pg] == 0 && m[2 * pg] == 0x77, "through the mapping");
	/* zero, data, zero on one page: zero wins */
	CHECK(!sz_add_zero(h, 5 * pg, pg), "zero 5");
	CHECK(!sz_before_write(h, 5 * pg, pg), "before write 5");
	memset(m + 5 * pg, 0x66, pg);
	CHECK(!sz_add_zero(h, 5 * pg, pg), "zero 5 again");
	CHECK(!sz_flush(h), "flush");
	CHECK(page_is(fd, 5, 0), "zero, data, zero reads zero");
	munmap(m, 8 * pg);
	sz_close(h);
	close(fd);
	return true;
}

/* Writes covering pending pages in part, or a run's middle, or several. */
static bool t_partial_overlaps(const struct path *p)
{
	int fd = new_memfd(16, 0xcc);
	struct sz_handle *h = open_h(p, fd, 0, 16 * pg, 0, 0);
	unsigned char *want = malloc(16 * pg), *buf = malloc(2 * pg);
	struct sz_stats st;
	long at;

	CHECK(h && want && buf, "open");
	memset(want, 0xcc, 16 * pg);
	memset(buf, 0x42, 2 * pg);
	/* pending: 1-6 and 9-12 */
	CHECK(!sz_add_zero(h, pg, 6 * pg), "zero 1-6");
	CHECK(!sz_add_zero(h, 9 * pg, 4 * pg), "zero 9-12");
	memset(want + pg, 0, 6 * pg);
	memset(want + 9 * pg, 0, 4 * pg);
	/* 100 bytes inside page 2: page 2 must read zero around them */
	CHECK(!sz_before_write(h, 2 * pg + 100, 100), "small write");
	CHECK(pwrite(fd, buf, 100, (off_t)(2 * pg + 100)) == 100, "write");
	memset(want + 2 * pg + 100, 0x42, 100);
	st = stats_of(h);
	CHECK(st.early_flushes == 1, "partial page: run applied now (%lu)",
	      (unsigned long)st.early_flushes);
	/* a page-and-a-bit across 10/11/12: 11 whole, 10 and 12 in part */
	CHECK(!sz_before_write(h, 10 * pg + 8, pg + 16), "straddling write");
	CHECK(pwrite(fd, buf, pg + 16, (off_t)(10 * pg + 8)) ==
	      (ssize_t)(pg + 16), "write");
	memset(want + 10 * pg + 8, 0x42, pg + 16);
	/* whole pages 5-10 across a gap (7, 8 never pending) */
	CHECK(!sz_add_zero(h, 4 * pg, 3 * pg), "zero 4-6 again");
	memset(want + 4 * pg, 0, 3 * pg);
	CHECK(!sz_before_write(h, 5 * pg, 2 * pg), "write 5-6");
	CHECK(pwrite(fd, buf, 2 * pg, (off_t)(5 * pg)) == (ssize_t)(2 * pg),
	      "write");
	memset(want + 5 * pg, 0x42, 2 * pg);
	CHECK(!sz_flush(h), "flush");
	at = differs(fd, 0, want, 16 * pg);
	CHECK(at < 0, "contents differ at byte %ld (page %ld)", at,
	      at / (long)pg);
	free(want);
	free(buf);
	sz_close(h);
	close(fd);
	return true;
}

/* Without sz_before_write() the queued zero wipes the write: the hazard. */
static bool t_hazard_without_before_write(const struct path *p)
{
	int fd = new_memfd(4, -1);
	struct sz_handle *h = open_h(p, fd, 0, 4 * pg, 0, 0);
	unsigned char buf[64];

	CHECK(h, "open");
	memset(buf, 0x99, sizeof(buf));
	CHECK(!sz_add_zero(h, pg, pg), "zero 1");
	CHECK(pwrite(fd, buf, sizeof(buf), (off_t)pg) == sizeof(buf), "write");
	CHECK(!sz_flush(h), "flush");
	CHECK(page_is(fd, 1, 0), "write lost, as expected without the call");
	sz_close(h);
	close(fd);
	return true;
}

/* Random operations against a byte model, with a small batch. */
static bool random_ops(const struct path *p, unsigned int seed, int fd,
		       uint64_t base, size_t npages, unsigned char *model,
		       unsigned int ops)
{
	struct sz_handle *h = open_h(p, fd, base, npages * pg, 0, 7);
	unsigned char *buf = malloc(4 * pg);
	unsigned char *m = mmap(NULL, npages * pg, PROT_READ | PROT_WRITE,
				MAP_SHARED, fd, (off_t)base);
	unsigned int i;
	long at;

	CHECK(h && buf && m != MAP_FAILED, "setup");
	srandom(seed);
	for (i = 0; i < ops; i++) {
		unsigned int op = (unsigned int)random() % 16;
		size_t first = (size_t)random() % npages;
		size_t n = 1 + (size_t)random() % 6;

		if (first + n > npages)
			n = npages - first;
		if (op < 6) {
			CHECK(!sz_add_zero(h, first * pg, n * pg), "add");
			memset(model + first * pg, 0, n * pg);
		} else if (op < 8) {
			/* up to 8 runs of n pages, any order, repeats too */
			uint64_t offs[8];
			size_t k = 1 + (size_t)random() % 8, j;

			n = 1 + (size_t)random() % 3;
			for (j = 0; j < k; j++) {
				offs[j] = (uint64_t)random() % (npages - n + 1) * pg;
				memset(model + offs[j], 0, n * pg);
			}
			CHECK(sz_add_zero_v(h, offs, k, n * pg) == (ssize_t)k,
			      "add_v");
		} else if (op >= 12 && op < 14) {
			/* writes of len bytes at up to 4 offsets, in order */
			uint64_t offs[4];
			size_t k = 1 + (size_t)random() % 4, j;
			size_t len = 1 + (size_t)random() % (2 * pg);
			unsigned char v = (unsigned char)(1 + random() % 255);

			for (j = 0; j < k; j++)
				offs[j] = (uint64_t)random() % (npages * pg - len + 1);
			CHECK(sz_before_write_v(h, offs, k, len) == (ssize_t)k,
			      "before_write_v");
			memset(buf, v, len);
			for (j = 0; j < k; j++) {
				memcpy(m + offs[j], buf, len);
				memcpy(model + offs[j], buf, len);
			}
		} else if (op < 14) {
			/* any byte range, up to 3 pages, via write or mapping */
			uint64_t off = first * pg + (size_t)random() % pg;
			size_t len = 1 + (size_t)random() % (3 * pg);
			unsigned char v = (unsigned char)(1 + random() % 255);

			if (off + len > npages * pg)
				len = npages * pg - off;
			CHECK(!sz_before_write(h, off, len), "before_write");
			memset(buf, v, len);
			if (op & 1)
				memcpy(m + off, buf, len);
			else
				CHECK(pwrite(fd, buf, len, (off_t)(base + off))
				      == (ssize_t)len, "pwrite");
			memcpy(model + off, buf, len);
		} else if (op == 14) {
			CHECK(!sz_flush_range(h, first * pg, n * pg), "range");
			at = differs(fd, base + first * pg, model + first * pg,
				     n * pg);
			CHECK(at < 0, "op %u: flushed range differs at %ld",
			      i, at);
		} else {
			CHECK(!sz_flush(h), "flush");
			at = differs(fd, base, model, npages * pg);
			CHECK(at < 0, "op %u: differs at byte %ld", i, at);
		}
	}
	CHECK(!sz_close(h), "close");
	at = differs(fd, base, model, npages * pg);
	CHECK(at < 0, "final: differs at byte %ld", at);
	munmap(m, npages * pg);
	free(buf);
	return true;
}

static bool t_random(const struct path *p)
{
	const size_t npages = 128;
	unsigned char *model = malloc(npages * pg);
	/* the region starts 3 pages into the file: offsets are relative */
	int fd = new_memfd(npages + 5, 0x3c);
	bool good;

	memset(model, 0x3c, npages * pg);
	good = random_ops(p, 1234, fd, 3 * pg, npages, model,
			  quick ? 2000 : 20000);
	good = good && page_is(fd, 2, 0x3c) && page_is(fd, npages + 3, 0x3c);
	free(model);
	close(fd);
	return good;
}

/*
 * A memfd with every page class; the classes the path can see.  noread:
 * SZ_OPEN_QUERY_NOREAD, where zero and data pages are both RESIDENT (that
 * page 1, all zero, is not ZERO shows it was not read).
 */
static bool query_classes(const struct path *p, bool noread)
{
	const size_t n = 12;
	int fd = new_memfd(n, -1);
	unsigned char *buf = calloc(1, pg);
	uint8_t map[16];
	struct sz_counts c, w;
	struct sz_handle *h;
	uint8_t want[12] = {
		SZ_PAGE_HOLE, SZ_PAGE_ZERO, SZ_PAGE_DATA, SZ_PAGE_HOLE,
		SZ_PAGE_UNWRITTEN, SZ_PAGE_DATA, SZ_PAGE_ZERO, SZ_PAGE_HOLE,
		SZ_PAGE_HOLE, SZ_PAGE_DATA, SZ_PAGE_HOLE, SZ_PAGE_HOLE,
	};
	size_t i;

	CHECK(pwrite(fd, buf, pg, (off_t)pg) == (ssize_t)pg, "zero page 1");
	CHECK(pwrite(fd, buf, pg, (off_t)(6 * pg)) == (ssize_t)pg, "zero 6");
	buf[pg - 1] = 1;
	CHECK(pwrite(fd, buf, pg, (off_t)(2 * pg)) == (ssize_t)pg, "data 2");
	CHECK(pwrite(fd, buf, pg, (off_t)(5 * pg)) == (ssize_t)pg, "data 5");
	CHECK(pwrite(fd, buf, pg, (off_t)(9 * pg)) == (ssize_t)pg, "data 9");
	CHECK(!fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)(4 * pg), (off_t)pg),
	      "fallocate 4");
	CHECK(!ftruncate(fd, (off_t)(n - 1) * (off_t)pg), "page 11 past EOF");
	/* mincore() and SEEK_DATA see a fallocated page as a hole. */
	if (p != &module)
		want[4] = SZ_PAGE_HOLE;
	for (i = 0; noread && i < n; i++)
		if (want[i] == SZ_PAGE_ZERO || want[i] == SZ_PAGE_DATA)
			want[i] = SZ_PAGE_RESIDENT;
	h = open_h(p, fd, 0, n * pg, noread ? SZ_OPEN_QUERY_NOREAD : 0, 0);
	CHECK(h, "open");
	/* page 9 is data, but a pending zero for it is applied first */
	CHECK(!sz_add_zero(h, 9 * pg, pg), "pending zero on 9");
	want[9] = SZ_PAGE_HOLE;
	memset(map, 0xff, sizeof(map));
	CHECK(!sz_query(h, 0, n * pg, map, &c, sizeof(c)), "query");
	for (i = 0; i < n; i++)
		CHECK(map[i] == want[i], "page %zu: class %u, want %u", i,
		      map[i], want[i]);
	CHECK(map[n] == 0xff, "map overrun");
	memset(&w, 0, sizeof(w));
	for (i = 0; i < n; i++) {
		w.hole += want[i] == SZ_PAGE_HOLE;
		w.zero += want[i] == SZ_PAGE_ZERO;
		w.data += want[i] == SZ_PAGE_DATA || want[i] == SZ_PAGE_RESIDENT;
		w.unwritten += want[i] == SZ_PAGE_UNWRITTEN;
	}
	CHECK(c.hole == w.hole && c.zero == w.zero && c.data == w.data &&
	      c.unwritten == w.unwritten && c.swap == 0,
	      "counts h%lu z%lu d%lu u%lu", (unsigned long)c.hole,
	      (unsigned long)c.zero, (unsigned long)c.data,
	      (unsigned long)c.unwritten);
	/* a sub-range, counts only: pages 2-5 */
	CHECK(!sz_query(h, 2 * pg, 4 * pg, NULL, &c, sizeof(c)), "sub-range");
	CHECK(c.data == 2 && c.hole + c.unwritten == 2, "sub-range counts");
	sz_close(h);
	close(fd);
	free(buf);
	return true;
}

static bool t_query(const struct path *p)
{
	return query_classes(p, false);
}

static bool t_query_noread(const struct path *p)
{
	return query_classes(p, true);
}

/* Querying a fully resident file page by page costs O(1) syscalls each. */
static bool t_query_resident_cost(const struct path *p)
{
	const size_t n = quick ? 2048 : 16384;
	int fd = new_memfd(n, 0x01);
	struct sz_handle *h = open_h(p, fd, 0, n * pg, 0, 0);
	struct sz_counts c;
	uint64_t before, data = 0;
	size_t i;

	CHECK(h, "open");
	before = stats_of(h).syscalls;
	for (i = 0; i < n; i += 8) {
		CHECK(!sz_query(h, i * pg, 8 * pg, NULL, &c, sizeof(c)), "query");
		data += c.data;
	}
	CHECK(data == n, "data pages %lu", (unsigned long)data);
	CHECK(stats_of(h).syscalls - before <= 5 * (n / 8),
	      "%lu syscalls for %zu queries",
	      (unsigned long)(stats_of(h).syscalls - before), n / 8);
	sz_close(h);
	close(fd);
	return true;
}

/* ZERO_IN_PLACE: data cleared, memory kept, holes stay holes. */
static bool t_zero_in_place(const struct path *p)
{
	int fd = new_memfd(8, 0x21);
	struct sz_handle *h;
	long before;

	CHECK(!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)(6 * pg), (off_t)(2 * pg)), "holes 6-7");
	before = blocks_of(fd);
	h = open_h(p, fd, 0, 8 * pg, SZ_OPEN_ZERO_IN_PLACE, 0);
	CHECK(h, "open");
	CHECK(!sz_add_zero(h, 2 * pg, 6 * pg), "zero 2-7");
	CHECK(!sz_before_write(h, 3 * pg, pg), "keep 3");
	CHECK(pwrite(fd, "abc", 3, (off_t)(3 * pg)) == 3, "write");
	CHECK(!sz_flush(h), "flush");
	CHECK(page_is(fd, 1, 0x21) && page_is(fd, 2, 0) && page_is(fd, 4, 0) &&
	      page_is(fd, 5, 0) && page_is(fd, 6, 0), "contents");
	CHECK(blocks_of(fd) == before, "blocks %ld -> %ld", before,
	      blocks_of(fd));
	CHECK(stats_of(h).zeroed_pages == 3, "zeroed %lu",
	      (unsigned long)stats_of(h).zeroed_pages);
	sz_close(h);
	close(fd);
	return true;
}

/*
 * Pages written a moment ago may sit in a per-CPU LRU batch that holds a
 * reference (RECLAIM counts them busy); mlock()+munlock() on every CPU
 * drains those batches.
 */
static void lru_drain(void)
{
	static char page[65536] __attribute__((aligned(65536)));
	cpu_set_t old, one;
	int cpu;

	if (sched_getaffinity(0, sizeof(old), &old))
		return;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &old))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			continue;
		page[0] = 1;
		if (!mlock(page, pg))
			munlock(page, pg);
	}
	sched_setaffinity(0, sizeof(old), &old);
}

static bool t_reclaim(const struct path *p)
{
	int fd = new_memfd(8, 0);
	struct sz_handle *h = open_h(p, fd, 0, 8 * pg, 0, 0);
	struct sz_counts c;
	long before = blocks_of(fd);
	int ret;

	CHECK(h, "open");
	CHECK(pwrite(fd, "x", 1, (off_t)(2 * pg)) == 1, "data 2");
	lru_drain();
	ret = sz_reclaim(h, 0, 8 * pg, &c, sizeof(c));
	if (p != &module) {
		CHECK(ret == -EOPNOTSUPP, "fallback reclaim: %d", ret);
	} else {
		CHECK(ret == 0, "reclaim: %s", strerror(-ret));
		CHECK(c.freed + c.busy == 7 && c.data == 1 && c.freed,
		      "freed %lu busy %lu", (unsigned long)c.freed,
		      (unsigned long)c.busy);
		CHECK(blocks_of(fd) == before - (long)(c.freed * pg / 512),
		      "blocks %ld -> %ld", before, blocks_of(fd));
		CHECK(page_is(fd, 0, 0) && !page_is(fd, 2, 0), "contents");
	}
	sz_close(h);
	close(fd);
	return true;
}

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

/*
 * Signals interrupt the ioctl; the library resumes where it stopped.  The
 * timer ticks every millisecond: at 200 us a TCG guest's ioctl, entered
 * with the next tick already pending, made no progress 1000 times in a row
 * and the library gave up with EINTR, its livelock guard (SZ_EINTR_MAX).
 * The timer is stopped before any check, so that a failure here does not
 * leave SIGALRM interrupting the tests after it (their waitpid()).
 */
static bool t_eintr(const struct path *p)
{
	const size_t n = quick ? 8192 : 32768;
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	uint64_t restarts = 0;
	int attempt;

	sigaction(SIGALRM, &sa, NULL);
	/* The fallback's calls do not fail with EINTR: one round is enough. */
	for (attempt = 0; attempt < (p == &module ? 5 : 1) && !restarts;
	     attempt++) {
		int fd = new_memfd(n, 0x5f);
		struct sz_handle *h = open_h(p, fd, 0, n * pg, 0, n);
		struct sz_counts c;
		uint8_t *map = malloc(n);
		size_t i;
		int ret, qret;

		CHECK(h && map, "open");
		for (i = 0; i < n; i += 2)
			CHECK(!sz_add_zero(h, i * pg, pg), "add");
		setitimer(ITIMER_REAL, &it, NULL);
		ret = sz_flush(h);
		qret = ret ? ret : sz_query(h, 0, n * pg, map, &c, sizeof(c));
		setitimer(ITIMER_REAL, &off, NULL);
		CHECK(ret == 0, "flush: %s (%lu restarts)", strerror(-ret),
		      (unsigned long)stats_of(h).eintr_restarts);
		CHECK(qret == 0, "query: %s", strerror(-qret));
		CHECK(c.hole == n / 2 && c.data == n / 2, "query counts");
		for (i = 0; i < n; i++)
			CHECK(map[i] == (i % 2 ? SZ_PAGE_DATA : SZ_PAGE_HOLE),
			      "map[%zu] = %u", i, map[i]);
		restarts = stats_of(h).eintr_restarts;
		free(map);
		sz_close(h);
		close(fd);
	}
	if (p == &module)
		CHECK(restarts > 0, "no EINTR seen in 5 attempts (%d ticks)",
		      (int)ticks);
	return true;
}

/* The same operations through both paths: same bytes, same memory. */
static bool t_paths_agree(void)
{
	const size_t npages = 256;
	unsigned char *m1 = malloc(npages * pg), *m2 = malloc(npages * pg);
	int f1 = new_memfd(npages, 0x77), f2 = new_memfd(npages, 0x77);
	unsigned int ops = quick ? 1000 : 5000;
	uint8_t q1[256], q2[256];
	struct sz_handle *h1, *h2;
	long at;

	memset(m1, 0x77, npages * pg);
	memset(m2, 0x77, npages * pg);
	CHECK(random_ops(&module, 99, f1, 0, npages, m1, ops), "module ops");
	CHECK(random_ops(&fallback, 99, f2, 0, npages, m2, ops),
	      "fallback ops");
	CHECK(!memcmp(m1, m2, npages * pg), "models agree");
	at = differs(f1, 0, m2, npages * pg);
	CHECK(at < 0, "contents differ at %ld", at);
	CHECK(blocks_of(f1) == blocks_of(f2), "blocks %ld vs %ld",
	      blocks_of(f1), blocks_of(f2));
	h1 = open_h(&module, f1, 0, npages * pg, 0, 0);
	h2 = open_h(&fallback, f2, 0, npages * pg, 0, 0);
	CHECK(h1 && h2, "open");
	CHECK(!sz_query(h1, 0, npages * pg, q1, NULL, 0) &&
	      !sz_query(h2, 0, npages * pg, q2, NULL, 0), "query");
	CHECK(!memcmp(q1, q2, npages), "query maps agree");
	sz_close(h1);
	sz_close(h2);
	close(f1);
	close(f2);
	free(m1);
	free(m2);
	return true;
}

/* The device refuses a file that is not tmpfs: the library falls back. */

/*
 * Offsets past 4 GiB: a 32-bit off_t would truncate them (a punch of the
 * page at 4 GiB + one page becomes a punch of page 1).  The host tests also
 * build and run this with -m32.
 */
static bool t_large_offset(const struct path *p)
{
	const uint64_t far = (4ULL << 30) + pg;
	int fd = memfd_create("sz-test", MFD_CLOEXEC);
	unsigned char *buf = malloc(pg);
	struct sz_handle *h;

	CHECK(fd >= 0 && buf, "memfd");
	CHECK(!ftruncate(fd, (off_t)(far + pg)), "size");
	memset(buf, 0x5a, pg);
	CHECK(pwrite(fd, buf, pg, (off_t)pg) == (ssize_t)pg, "write page 1");
	CHECK(pwrite(fd, buf, pg, (off_t)far) == (ssize_t)pg, "write far");
	free(buf);
	h = open_h(p, fd, 0, far + pg, 0, 0);
	CHECK(h, "open");
	CHECK(sz_add_zero(h, far, pg) == 0, "queue");
	CHECK(sz_flush(h) == 0, "flush");
	sz_close(h);
	CHECK(page_at_is(fd, far, 0), "the page at 4 GiB + 1 page reads zero");
	CHECK(page_at_is(fd, pg, 0x5a), "page 1 keeps its data");
	close(fd);
	return true;
}

/* The handle has its own fd: the caller's number, closed and reused, is not. */
static bool t_fd_reuse(const struct path *p)
{
	int a = new_memfd(2, 0x31), b;
	struct sz_handle *h = open_h(p, a, 0, 2 * pg, 0, 0);

	CHECK(h, "open");
	CHECK(!sz_add_zero(h, 0, pg), "queue page 0");
	close(a);
	b = new_memfd(2, 0x32);
	CHECK(b == a, "the new memfd got fd %d, not %d", b, a);
	CHECK(!sz_flush(h), "flush");
	CHECK(page_is(b, 0, 0x32) && page_is(b, 1, 0x32),
	      "the file that reused the fd number is untouched");
	sz_close(h);
	close(b);
	return true;
}

/* Run fn in a child; its exit status 0 is success. */
static bool in_child(bool (*fn)(struct sz_handle *h, int fd),
		     struct sz_handle *h, int fd)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn(h, fd) ? 0 : 1);
	return pid > 0 && waitpid(pid, &status, 0) == pid &&
	       WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool child_closes(struct sz_handle *h, int fd)
{
	return sz_flush(h) == -ECHILD && sz_flush_range(h, 0, pg) == -ECHILD &&
	       sz_close(h) == -ECHILD && page_is(fd, 0, 0x41);
}

static bool child_frees(struct sz_handle *h, int fd)
{
	sz_free(h);
	return page_is(fd, 0, 0x41);
}

/*
 * fork(): the child's flush, flush_range and close apply nothing of the
 * parent's pending runs (-ECHILD), nor does sz_free(); the parent's do.
 */
static bool t_fork(const struct path *p)
{
	int fd = new_memfd(2, 0x41);
	struct sz_handle *h = open_h(p, fd, 0, 2 * pg, 0, 0);

	CHECK(h, "open");
	CHECK(!sz_add_zero(h, 0, pg), "queue page 0");
	CHECK(in_child(child_closes, h, fd),
	      "in a child: flush, flush_range, close fail with ECHILD, page 0 kept");
	CHECK(in_child(child_frees, h, fd), "in a child: sz_free(), page 0 kept");
	CHECK(page_is(fd, 0, 0x41), "page 0 still holds data");
	CHECK(!sz_flush(h), "the parent's flush");
	CHECK(page_is(fd, 0, 0) && page_is(fd, 1, 0x41), "the parent's run applied");
	sz_close(h);
	close(fd);
	return true;
}

/*
 * Zero in place past RLIMIT_FSIZE: the fallback's pwrite() of page 2 is
 * short (it stops at the limit), the rest fails with EFBIG, and that is the
 * error (not an errno left from an earlier call).  The module writes
 * through the page cache, not write(2): no limit, every page zeroed.
 */
static bool t_zero_in_place_limit(const struct path *p)
{
	int fd = new_memfd(4, 0x51), ret;
	struct sz_handle *h = open_h(p, fd, 0, 4 * pg, SZ_OPEN_ZERO_IN_PLACE, 0);
	struct rlimit old, lim;
	void (*sig)(int);

	CHECK(h, "open");
	CHECK(!getrlimit(RLIMIT_FSIZE, &old), "getrlimit");
	lim = (struct rlimit){ 2 * pg + 100, old.rlim_max };
	sig = signal(SIGXFSZ, SIG_IGN);
	CHECK(!sz_add_zero(h, 0, 4 * pg), "queue");
	CHECK(!setrlimit(RLIMIT_FSIZE, &lim), "setrlimit");
	errno = ENOTTY;		/* what a stale errno would say */
	ret = sz_flush(h);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, sig);
	if (sz_path(h) == SZ_PATH_IOCTL) {
		CHECK(ret == 0, "flush: %s", strerror(-ret));
		CHECK(page_is(fd, 2, 0) && page_is(fd, 3, 0), "pages 2-3 zeroed");
	} else {
		CHECK(ret == -EFBIG, "flush: %s, want EFBIG", strerror(-ret));
		CHECK(page_is(fd, 0, 0) && page_is(fd, 1, 0), "pages 0-1 zeroed");
		CHECK(page_is(fd, 3, 0x51), "page 3 untouched");
	}
	sz_free(h);
	close(fd);
	return true;
}

/*
 * A persistent flush error (the file write-sealed after sz_open()): the run
 * that fills the batch is queued and the error returned; later runs are
 * refused with it and the queue stays at batch runs.
 */
static bool t_queue_cap(const struct path *p)
{
	int fd = new_memfd(64, 0x61), ret;
	struct sz_handle *h = open_h(p, fd, 0, 64 * pg, 0, 4);

	CHECK(h, "open");
	CHECK(!fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), "F_SEAL_WRITE");
	for (int i = 0; i < 3; i++)
		CHECK(!sz_add_zero(h, 2 * i * pg, pg), "queue run %d", i);
	ret = sz_add_zero(h, 6 * pg, pg);
	CHECK(ret == -EPERM, "the 4th run's flush: %s, want EPERM", strerror(-ret));
	CHECK(stats_of(h).pending_runs == 4, "pending %lu, want 4 (the 4th queued)",
	      (unsigned long)stats_of(h).pending_runs);
	for (int i = 4; i < 30; i++) {
		ret = sz_add_zero(h, 2 * i * pg, pg);
		CHECK(ret == -EPERM, "run %d: %s, want EPERM", i, strerror(-ret));
	}
	CHECK(stats_of(h).pending_runs == 4, "pending %lu after 26 refused runs, want 4",
	      (unsigned long)stats_of(h).pending_runs);
	CHECK(!sz_add_zero(h, 7 * pg, pg), "a run that merges with a pending one");
	{
		/* 8: extends 6-7; 9: too; 40: a new run, refused; 10: untouched */
		uint64_t v[4] = { 8 * pg, 9 * pg, 40 * pg, 10 * pg };
		struct sz_stats st;

		ret = (int)sz_add_zero_v(h, v, 4, pg);
		st = stats_of(h);
		CHECK(ret == 2, "vector: %d taken, want 2", ret);
		CHECK(st.pending_runs == 4 && st.pending_bytes == 7 * pg,
		      "vector: pending %lu runs, %lu pages, want 4 and 7",
		      (unsigned long)st.pending_runs,
		      (unsigned long)(st.pending_bytes / pg));
		ret = (int)sz_add_zero_v(h, v + 2, 2, pg);
		CHECK(ret == -EPERM, "vector from there: %s, want EPERM",
		      strerror(-ret));
	}
	CHECK(page_is(fd, 0, 0x61), "nothing applied");
	sz_free(h);
	close(fd);
	return true;
}

/* hugetlbfs is refused at open (its unit is a huge page), on every path. */
static bool t_hugetlbfs_refused(const struct path *p)
{
	int fd = memfd_create("sz-test-huge", MFD_CLOEXEC | MFD_HUGETLB), ret;
	struct sz_handle *h;

	CHECK(fd >= 0, "memfd_create(MFD_HUGETLB): %s", strerror(errno));
	CHECK(!ftruncate(fd, 4 << 20), "size");
	ret = sz_open(&h, fd, 0, pg, p->flags, 0);
	CHECK(ret == -EOPNOTSUPP, "sz_open: %s, want EOPNOTSUPP", strerror(-ret));
	ret = sz_open(&h, fd, 0, 2 << 20, p->flags | SZ_OPEN_READONLY, 0);
	CHECK(ret == -EOPNOTSUPP, "sz_open read-only: %s, want EOPNOTSUPP",
	      strerror(-ret));
	close(fd);
	return true;
}

static bool ramfs_child(struct sz_handle *unused, int unused_fd)
{
	char dir[] = "/tmp/sz-ramfs-XXXXXX", path[64];
	struct sz_handle *h;
	bool good = false;
	int fd = -1;

	(void)unused, (void)unused_fd;
	if (!mkdtemp(dir))
		return false;
	if (unshare(CLONE_NEWNS) && unshare(CLONE_NEWUSER | CLONE_NEWNS)) {
		diag("unshare: %s", strerror(errno));
		goto out;
	}
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) ||
	    mount("sz", dir, "ramfs", 0, NULL)) {
		diag("mount ramfs: %s", strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 4 * pg))
		goto out;
	for (int i = 0; i < 4; i++)
		if (pwrite(fd, "\x71", 1, (off_t)(i * pg + 7)) != 1)
			goto out;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)pg) !=
	    -1 || errno != EOPNOTSUPP) {
		diag("ramfs punches holes here: the test proves nothing");
		goto out;
	}
	if (sz_open(&h, fd, 0, 4 * pg, 0, 0) || sz_add_zero(h, pg, 2 * pg) ||
	    sz_flush(h) || sz_add_zero(h, 3 * pg, pg) || sz_close(h)) {
		diag("sz_open/add/flush/close failed");
		goto out;
	}
	good = !page_is(fd, 0, 0) && page_is(fd, 1, 0) && page_is(fd, 2, 0) &&
	       page_is(fd, 3, 0);
out:
	if (fd >= 0)
		close(fd);
	umount(dir);
	rmdir(dir);
	return good;
}

/*
 * A file system that cannot punch holes (ramfs, mounted in a private mount
 * namespace): the fallback writes zeros, the runs read as zero.
 */
static bool t_no_punch(const struct path *p)
{
	(void)p;
	CHECK(in_child(ramfs_child, NULL, -1),
	      "ramfs: the runs read as zero, the other page keeps its byte");
	return true;
}

/*
 * An active swap file: ext2 on a loop device over a file in /tmp, in a mount
 * namespace of its own, 4 MiB written (no holes) with a swap header written
 * here. sz_open() for changes is ETXTBSY with the module and without it: the
 * library's own check, before the device's (selftests: swap_file_refused);
 * without it the fallback took the file and fallocate() refused it only at
 * the first flush. Root, in the VM.
 */
static bool swapfile_child(struct sz_handle *unused, int unused_fd)
{
	static const unsigned int flags[] = { SZ_OPEN_NO_FALLBACK, SZ_OPEN_FALLBACK, 0 };
	char dir[] = "/tmp/sz-swapfs-XXXXXX", img[64], sw[64], cmd[512], loop[64] = "";
	const size_t size = 4 << 20;
	unsigned char *buf = calloc(1, size);
	bool good = false, mounted = false, on = false;
	struct sz_handle *h;
	int fd = -1, ret;
	FILE *f;

	(void)unused, (void)unused_fd;
	if (!buf || !mkdtemp(dir))
		return false;
	snprintf(img, sizeof(img), "%s.img", dir);
	snprintf(sw, sizeof(sw), "%s/swap", dir);
	if (unshare(CLONE_NEWNS) || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		diag("mount namespace: %s", strerror(errno));
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "truncate -s 16M %s && mkfs.ext2 -qF %s >/dev/null && "
		 "losetup -f --show %s", img, img, img);
	f = popen(cmd, "r");
	if (f && !fgets(loop, sizeof(loop), f))
		loop[0] = 0;
	if (!f || pclose(f) != 0 || !*loop) {
		diag("%s: failed", cmd);
		goto out;
	}
	loop[strcspn(loop, "\n")] = 0;
	if (mount(loop, dir, "ext4", 0, NULL)) {
		diag("mount %s (ext2 by the ext4 driver): %s", loop, strerror(errno));
		goto out;
	}
	mounted = true;
	*(uint32_t *)(buf + 1024) = 1;			/* version */
	*(uint32_t *)(buf + 1028) = size / pg - 1;	/* last_page */
	memcpy(buf + pg - 10, "SWAPSPACE2", 10);
	fd = open(sw, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || pwrite(fd, buf, size, 0) != (ssize_t)size || fsync(fd)) {
		diag("write %s: %s", sw, strerror(errno));
		goto out;
	}
	if (swapon(sw, 0)) {
		diag("swapon %s: %s", sw, strerror(errno));
		goto out;
	}
	on = true;
	good = true;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		ret = sz_open(&h, fd, 0, size, flags[i], 0);
		if (!ret)
			sz_free(h);
		if (ret != -ETXTBSY) {
			diag("sz_open(%#x) of an active swap file: %s, want ETXTBSY",
			     flags[i], strerror(-ret));
			good = false;
		}
	}
	/* What it reads is not the library's to refuse. */
	ret = sz_open(&h, fd, 0, size, SZ_OPEN_FALLBACK | SZ_OPEN_READONLY, 0);
	if (!ret)
		sz_free(h);
	if (ret) {
		diag("read-only sz_open of a swap file: %s", strerror(-ret));
		good = false;
	}
out:
	if (on && swapoff(sw))
		good = false;
	if (fd >= 0)
		close(fd);
	if (mounted && umount(dir))
		good = false;
	if (*loop) {
		snprintf(cmd, sizeof(cmd), "losetup -d %s", loop);
		if (system(cmd))
			good = false;
	}
	unlink(img);
	rmdir(dir);
	free(buf);
	return good;
}

static bool t_swap_file(const struct path *p)
{
	(void)p;
	if (system("modprobe -q loop; modprobe -q ext4; test -e /dev/loop-control && "
		   "grep -qw ext4 /proc/filesystems")) {
		skip_why = "kernel without loop devices or ext4 (CONFIG_BLK_DEV_LOOP, CONFIG_EXT4_FS)";
		return true;
	}
	CHECK(in_child(swapfile_child, NULL, -1),
	      "an active swap file: ETXTBSY at sz_open() on both paths");
	return true;
}

/*
 * Refused alike on both paths: an append-only or immutable file at
 * sz_open() (EPERM), RECLAIM on a memfd sealed against writes (EPERM).
 */
static bool t_refused_alike(const struct path *p)
{
	static const int attrs[] = { FS_APPEND_FL, FS_IMMUTABLE_FL };
	int fd = new_memfd(2, 0x11), ret, attr[2];	/* an int; _IOW says long */
	struct sz_handle *h;

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		attr[0] = attrs[i], attr[1] = 0;
		CHECK(!ioctl(fd, FS_IOC_SETFLAGS, attr), "FS_IOC_SETFLAGS %#x: %s",
		      attrs[i], strerror(errno));
		ret = sz_open(&h, fd, 0, 2 * pg, p->flags, 0);
		attr[0] = 0;
		CHECK(!ioctl(fd, FS_IOC_SETFLAGS, attr), "clear the flags");
		if (!ret)
			sz_free(h);
		CHECK(ret == -EPERM, "file flag %#x: sz_open %s, want EPERM", attrs[i],
		      strerror(-ret));
	}
	CHECK(!fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), "F_SEAL_WRITE");
	h = open_h(p, fd, 0, 2 * pg, SZ_OPEN_READONLY, 0);
	CHECK(h, "read-only handle");
	ret = sz_reclaim(h, 0, 2 * pg, NULL, 0);
	sz_close(h);
	CHECK(ret == -EPERM, "RECLAIM of a write-sealed memfd: %s, want EPERM",
	      strerror(-ret));
	close(fd);
	return true;
}

/*
 * Two handles on one file, as QEMU's multifd threads: each queues zero runs
 * and writes pages the other never touches between two flushes; after both
 * flush, every write is there and every zero run reads zero.  (A page
 * pending in one handle and written through the other would be wiped: the
 * rule in libshmemzero(3).)
 */
static bool t_two_handles(const struct path *p)
{
	int fd = new_memfd(64, 0x77);
	struct sz_handle *a = open_h(p, fd, 0, 64 * pg, 0, 0);
	struct sz_handle *b = open_h(p, fd, 0, 64 * pg, 0, 0);
	unsigned char *buf = malloc(pg);

	CHECK(a && b && buf, "open two handles");
	for (int round = 0; round < 4; round++) {
		/* a owns the even pages this round, b the odd ones */
		for (int i = 0; i < 64; i++) {
			struct sz_handle *h = (i % 2) ? b : a;
			bool zero = (i / 2 + round) % 3 == 0;

			if (zero) {
				CHECK(!sz_add_zero(h, i * pg, pg), "queue %d", i);
			} else {
				CHECK(!sz_before_write(h, i * pg, pg), "before write %d", i);
				memset(buf, 0x10 + round, pg);
				CHECK(pwrite(fd, buf, pg, (off_t)(i * pg)) == (ssize_t)pg,
				      "write %d", i);
			}
		}
		CHECK(!sz_flush(a) && !sz_flush(b), "flush both");
		for (int i = 0; i < 64; i++) {
			bool zero = (i / 2 + round) % 3 == 0;

			CHECK(page_is(fd, i, zero ? 0 : 0x10 + round),
			      "round %d page %d: want %s", round, i, zero ? "zero" : "the write");
		}
	}
	sz_close(a);
	sz_close(b);
	free(buf);
	close(fd);
	return true;
}

/*
 * Zero in place of a page that EOF cuts: the bytes before EOF read zero
 * and the file keeps its size (the module zeroes the page cache, it does
 * not write(2) past EOF).
 */
static bool t_zero_in_place_eof(const struct path *p)
{
	int fd = new_memfd(2, 0x23);
	struct sz_handle *h;
	unsigned char *buf = malloc(pg);
	struct stat st;

	CHECK(buf, "malloc");
	CHECK(!ftruncate(fd, (off_t)(pg + pg / 2)), "size 1.5 pages");
	h = open_h(p, fd, 0, 2 * pg, SZ_OPEN_ZERO_IN_PLACE, 0);
	CHECK(h, "open");
	CHECK(!sz_add_zero(h, 0, 2 * pg), "queue both pages");
	CHECK(!sz_flush(h), "flush");
	sz_close(h);
	CHECK(!fstat(fd, &st) && st.st_size == (off_t)(pg + pg / 2),
	      "size %lld, want %lld", (long long)st.st_size, (long long)(pg + pg / 2));
	CHECK(pread(fd, buf, pg, (off_t)pg) == (ssize_t)(pg / 2), "read the tail");
	for (size_t i = 0; i < pg / 2; i++)
		CHECK(!buf[i], "byte %zu of the tail is %#x", i, buf[i]);
	CHECK(page_is(fd, 0, 0), "page 0 zeroed");
	free(buf);
	close(fd);
	return true;
}

/* The vector forms: n runs taken in order; the first bad one ends it. */
static bool t_vector(const struct path *p)
{
	int fd = new_memfd(16, 0x5a);
	struct sz_handle *h = open_h(p, fd, 0, 8 * pg, 0, 0);
	uint64_t offs[4] = { 2 * pg, 4 * pg, 3 * pg, 5 * pg };
	struct sz_stats st;
	size_t i;

	CHECK(h, "open");
	CHECK(sz_add_zero_v(h, offs, 0, pg) == 0, "n 0");
	CHECK(sz_add_zero_v(h, NULL, 1, pg) == -EINVAL, "NULL vector");
	CHECK(sz_add_zero_v(h, offs, 4, 0) == -EINVAL, "length 0");
	offs[0] = 1;
	CHECK(sz_add_zero_v(h, offs, 4, pg) == -EINVAL, "first unaligned");
	CHECK(stats_of(h).pending_runs == 0, "nothing queued");
	offs[0] = 2 * pg;
	offs[2] = 8 * pg;			/* past the region */
	CHECK(sz_add_zero_v(h, offs, 4, pg) == 2, "short count at the third");
	st = stats_of(h);
	CHECK(st.pending_runs == 2 && st.pending_bytes == 2 * pg &&
	      st.add_calls == 2, "runs 2 and 4 only: %lu runs, %lu bytes",
	      (unsigned long)st.pending_runs, (unsigned long)st.pending_bytes);
	CHECK(sz_add_zero_v(h, offs + 2, 2, pg) == -EINVAL,
	      "from there: its error");
	offs[2] = 3 * pg;			/* 2, 3, 4 and 5: one run */
	CHECK(sz_add_zero_v(h, offs + 2, 2, pg) == 2, "the rest");
	CHECK(stats_of(h).pending_runs == 1, "one run 2-5");
	/* a write of page 3: dropped from the run; page 8 is outside */
	offs[0] = 3 * pg;
	offs[1] = 8 * pg;
	CHECK(sz_before_write_v(h, offs, 2, pg) == 1, "short count at page 8");
	st = stats_of(h);
	CHECK(st.trimmed_bytes == pg && st.pending_runs == 2,
	      "page 3 trimmed: %lu bytes, %lu runs",
	      (unsigned long)st.trimmed_bytes, (unsigned long)st.pending_runs);
	CHECK(sz_before_write_v(h, offs + 1, 1, pg) == -EINVAL, "its error");
	CHECK(pwrite(fd, "\x77", 1, (off_t)(3 * pg)) == 1, "write page 3");
	/* 2 bytes inside page 5: its run (4-5) is applied now */
	offs[0] = 5 * pg + 10;
	CHECK(sz_before_write_v(h, offs, 1, 2) == 1, "partial write");
	st = stats_of(h);
	CHECK(st.early_flushes == 1 && st.pending_runs == 1,
	      "run 4-5 applied early: %lu, %lu pending",
	      (unsigned long)st.early_flushes, (unsigned long)st.pending_runs);
	CHECK(pwrite(fd, "\x11\x11", 2, (off_t)(5 * pg + 10)) == 2, "write 5");
	CHECK(!sz_flush(h), "flush");
	for (i = 0; i < 8; i++) {
		unsigned char b[2];

		if (i == 3 || i == 5) {
			CHECK(pread(fd, b, 1, (off_t)(i * pg)) == 1 &&
			      b[0] == (i == 3 ? 0x77 : 0) &&
			      pread(fd, b + 1, 1, (off_t)(i * pg + 10)) == 1 &&
			      b[1] == (i == 3 ? 0x5a : 0x11),
			      "page %zu: %#x %#x", i, b[0], b[1]);
			continue;
		}
		CHECK(page_is(fd, i, i == 2 || i == 4 ? 0 : 0x5a),
		      "page %zu", i);
	}
	CHECK(!sz_close(h), "close");
	h = open_h(p, fd, 0, 8 * pg, SZ_OPEN_READONLY, 0);
	CHECK(h && sz_add_zero_v(h, offs, 1, pg) == -EBADF, "read-only handle");
	sz_close(h);
	close(fd);
	return true;
}

#ifdef SZ_TEST_SO
#include <dlfcn.h>
#include <libgen.h>

/*
 * A program linked against 0.1 (sz_stats@SHMEMZERO_0.1 etc.): its structs
 * end in 8 reserved counters, which the library writes as zeros, and
 * nothing past them.
 */
static bool old_abi(const struct path *p, int fd)
{
	char exe[4096], so[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int (*open01)(struct sz_handle **, int, uint64_t, uint64_t,
		      unsigned int, unsigned int);
	int (*add01)(struct sz_handle *, uint64_t, uint64_t);
	int (*close01)(struct sz_handle *);
	void (*stats01)(const struct sz_handle *, void *);
	int (*query01)(struct sz_handle *, uint64_t, uint64_t, uint8_t *,
		       void *);
	uint64_t buf[64];
	struct sz_handle *h;
	void *lib;
	size_t i;

	CHECK(n > 0, "readlink");
	exe[n] = 0;
	snprintf(so, sizeof(so), "%s/%s", dirname(exe), SZ_TEST_SO);
	lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	CHECK(lib, "dlopen %s: %s", so, dlerror());
	open01 = dlvsym(lib, "sz_open", "SHMEMZERO_0.1");
	add01 = dlvsym(lib, "sz_add_zero", "SHMEMZERO_0.1");
	close01 = dlvsym(lib, "sz_close", "SHMEMZERO_0.1");
	stats01 = dlvsym(lib, "sz_stats", "SHMEMZERO_0.1");
	query01 = dlvsym(lib, "sz_query", "SHMEMZERO_0.1");
	CHECK(open01 && add01 && close01 && stats01 && query01, "0.1 symbols");
	CHECK(dlvsym(lib, "sz_stats", "SHMEMZERO_0.3") != (void *)stats01,
	      "0.3 has its own sz_stats");
	CHECK(!open01(&h, fd, 0, 4 * pg, p->flags, 0), "open (0.1)");
	CHECK(!add01(h, pg, pg), "add (0.1)");
	memset(buf, 0xee, sizeof(buf));
	stats01(h, buf);
	CHECK(buf[0] == 1 && buf[3] == 1 && buf[4] == pg,
	      "0.1 stats: add_calls 1, pending 1 run of a page");
	for (i = SZ_STATS_SIZE_VER0 / 8; i < SZ_STATS_SIZE_VER0 / 8 + 8; i++)
		CHECK(buf[i] == 0, "0.1 stats: reserved[%zu] zero",
		      i - SZ_STATS_SIZE_VER0 / 8);
	CHECK(buf[i] == 0xeeeeeeeeeeeeeeeeULL, "0.1 stats: nothing past");
	memset(buf, 0xee, sizeof(buf));
	CHECK(!query01(h, 0, 4 * pg, NULL, buf), "query (0.1)");
	CHECK(buf[0] == (p == &module ? 1 : 1) && buf[0] + buf[1] + buf[2] +
	      buf[3] + buf[4] == 4, "0.1 counts: 4 pages, page 1 a hole");
	for (i = SZ_COUNTS_SIZE_VER0 / 8; i < SZ_COUNTS_SIZE_VER0 / 8 + 8; i++)
		CHECK(buf[i] == 0, "0.1 counts: reserved zero");
	CHECK(buf[i] == 0xeeeeeeeeeeeeeeeeULL, "0.1 counts: nothing past");
	CHECK(!close01(h), "close (0.1)");
	dlclose(lib);
	return true;
}
#endif

/* sz_stats(), sz_query() and sz_reclaim() take the size of their struct. */
static bool t_struct_sizes(const struct path *p)
{
	int fd = new_memfd(4, 0);
	struct sz_handle *h = open_h(p, fd, 0, 4 * pg, 0, 0);
	uint64_t buf[64];
	struct sz_counts c;
	size_t i, big = sizeof(buf) - 8;	/* a newer caller's struct */

	CHECK(h, "open");
	CHECK(sizeof(struct sz_stats) == SZ_STATS_SIZE_VER0 &&
	      sizeof(struct sz_counts) == SZ_COUNTS_SIZE_VER0, "VER0 sizes");
	CHECK(!sz_add_zero(h, pg, pg), "add");
	memset(buf, 0xee, sizeof(buf));
	CHECK(sz_stats(h, (void *)buf, SZ_STATS_SIZE_VER0 - 8) == -EINVAL &&
	      buf[0] == 0xeeeeeeeeeeeeeeeeULL, "stats: too small, untouched");
	CHECK(sz_stats(NULL, (void *)buf, sizeof(buf)) == -EINVAL, "NULL h");
	CHECK(!sz_stats(h, (void *)buf, big), "stats: a bigger struct");
	CHECK(buf[0] == 1 && buf[3] == 1, "stats: add_calls 1, 1 pending");
	for (i = SZ_STATS_SIZE_VER0 / 8; i < big / 8; i++)
		CHECK(buf[i] == 0, "stats: unknown field %zu zeroed", i);
	CHECK(buf[big / 8] == 0xeeeeeeeeeeeeeeeeULL, "stats: nothing past");
	CHECK(sz_query(h, 0, 4 * pg, NULL, &c, SZ_COUNTS_SIZE_VER0 - 1) ==
	      -EINVAL, "query: counts too small");
	CHECK(stats_of(h).pending_runs == 1, "a refused query applies nothing");
	memset(buf, 0xee, sizeof(buf));
	CHECK(!sz_query(h, 0, 4 * pg, NULL, (void *)buf, big), "query: bigger");
	CHECK(buf[0] == 1 && buf[1] == 3, "query: 1 hole (pending applied), "
	      "3 zero pages: hole %lu zero %lu", (unsigned long)buf[0],
	      (unsigned long)buf[1]);
	for (i = SZ_COUNTS_SIZE_VER0 / 8; i < big / 8; i++)
		CHECK(buf[i] == 0, "query: unknown field %zu zeroed", i);
	CHECK(buf[big / 8] == 0xeeeeeeeeeeeeeeeeULL, "query: nothing past");
	CHECK(sz_query(h, 0, 4 * pg, NULL, NULL, 0) == 0, "query: no counts");
	CHECK(sz_reclaim(h, 0, 4 * pg, &c, 8) == -EINVAL,
	      "reclaim: counts too small");
	CHECK(!sz_close(h), "close");
#ifdef SZ_TEST_SO
	if (!old_abi(p, fd))
		return false;
#endif
	close(fd);
	return true;
}

static bool t_refused_fd(void)
{
	char name[] = "/var/tmp/sz-test-XXXXXX";
	struct sz_handle *h;
	int fd = mkstemp(name), ret;

	CHECK(fd >= 0, "mkstemp");
	unlink(name);
	CHECK(!ftruncate(fd, (off_t)(4 * pg)), "size");
	ret = sz_open(&h, fd, 0, 4 * pg, SZ_OPEN_NO_FALLBACK, 0);
	CHECK(ret == -EOPNOTSUPP, "no fallback: %s", strerror(-ret));
	ret = sz_open(&h, fd, 0, 4 * pg, 0, 0);
	CHECK(ret == 0 && sz_path(h) == SZ_PATH_FALLBACK, "auto: %d", ret);
	sz_close(h);
	close(fd);
	return true;
}

static bool t_auto_path(bool have_module)
{
	struct sz_handle *h;
	int fd = new_memfd(1, -1);
	int ret = sz_open(&h, fd, 0, pg, 0, 0);

	CHECK(ret == 0, "open: %s", strerror(-ret));
	CHECK(sz_path(h) == (have_module ? SZ_PATH_IOCTL : SZ_PATH_FALLBACK),
	      "path %d", sz_path(h));
	sz_close(h);
	if (!have_module) {
		ret = sz_open(&h, fd, 0, pg, SZ_OPEN_NO_FALLBACK, 0);
		CHECK(ret == -ENOENT || ret == -ENODEV || ret == -ENXIO,
		      "no module, no fallback: %s", strerror(-ret));
	}
	close(fd);
	return true;
}

struct lib_test {
	const char *name;
	bool (*fn)(const struct path *p);
	bool module_only;
};

/* One test on one path: "ok", "not ok", or skipped with its skip_why. */
static void run_test(const struct lib_test *t, const struct path *p, const char *path)
{
	bool good = t->fn(p);

	if (skip_why)
		skipped(skip_why, "lib %s: %s", path, t->name);
	else
		result(good, "lib %s: %s", path, t->name);
	skip_why = NULL;
}

int main(int argc, char **argv)
{
	static const struct lib_test tests[] = {
		{ "open and argument errors", t_open_errors, false },
		{ "coalescing adjacent, overlapping, out-of-order runs",
		  t_coalesce, false },
		{ "batch boundary: applied when the N-th run is queued",
		  t_batch, false },
		{ "vector above SHMEM_ZERO_MAX_RANGES split in two ioctls",
		  t_split, true },
		{ "hazard (a) zero then data: write kept", t_zero_then_data,
		  false },
		{ "hazard (a) data then zero, zero-data-zero", t_data_then_zero,
		  false },
		{ "hazard (a) partial-page and straddling writes",
		  t_partial_overlaps, false },
		{ "hazard (a) without sz_before_write the write is lost",
		  t_hazard_without_before_write, false },
		{ "random operations match a byte model", t_random, false },
		{ "query map of every page class", t_query, false },
		{ "query without reading (SZ_OPEN_QUERY_NOREAD)", t_query_noread,
		  false },
		{ "query of a resident file costs O(1) syscalls per call",
		  t_query_resident_cost, false },
		{ "zero-in-place mode keeps memory", t_zero_in_place, false },
		{ "reclaim (module) / EOPNOTSUPP (fallback)", t_reclaim, false },
		{ "EINTR resumes flush and query", t_eintr, false },
		{ "offsets past 4 GiB", t_large_offset, false },
		{ "the caller's fd closed and its number reused", t_fd_reuse, false },
		{ "fork: the child applies none of the parent's runs", t_fork, false },
		{ "zero in place past RLIMIT_FSIZE: EFBIG, not a stale errno",
		  t_zero_in_place_limit, false },
		{ "a persistent flush error: the queue stays at batch runs",
		  t_queue_cap, false },
		{ "hugetlbfs refused at open", t_hugetlbfs_refused, false },
		{ "a file system that cannot punch: zeros written", t_no_punch,
		  false },
		{ "append-only, immutable, write-sealed: refused alike",
		  t_refused_alike, false },
		{ "an active swap file: ETXTBSY at open, module and fallback",
		  t_swap_file, true },
		{ "two handles, disjoint pages between flushes (multifd)",
		  t_two_handles, false },
		{ "zero in place of a page cut by EOF keeps the size",
		  t_zero_in_place_eof, false },
		{ "vector forms: taken in order, a short count at a bad run",
		  t_vector, false },
		{ "sz_stats/query/reclaim take the struct size; 0.1 ABI kept",
		  t_struct_sizes, false },
	};
	const size_t nr_tests = sizeof(tests) / sizeof(tests[0]);
	bool require = false, no_module = false, have_module;
	const char *no_mod_why;
	struct sz_handle *h;
	size_t i;
	int fd, plan;

	for (i = 1; i < (size_t)argc; i++) {
		if (!strcmp(argv[i], "--require-module"))
			require = true;
		else if (!strcmp(argv[i], "--no-module"))
			no_module = true;
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else {
			fprintf(stderr, "usage: %s [--require-module] "
				"[--no-module] [--quick]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pg = (size_t)sysconf(_SC_PAGESIZE);
	fd = new_memfd(1, -1);
	have_module = !no_module &&
		      sz_open(&h, fd, 0, pg, SZ_OPEN_NO_FALLBACK, 0) == 0;
	if (have_module)
		sz_close(h);
	close(fd);
	no_mod_why = no_module ? "--no-module" :
		     "no module: /dev/shmem_zero does not take memfds here";

	/*
	 * The plan: every check below, run or skipped, so that one that never
	 * reports (a crash) counts as a failure.
	 */
	plan = require + 1 + 2;
	for (i = 0; i < nr_tests; i++)
		plan += 1 + !tests[i].module_only;
	printf("1..%d\n", plan);

	if (require)
		result(have_module, "lib: module path available");
	result(t_auto_path(have_module), "lib: automatic path is %s",
	       have_module ? "the module" : "the fallback");
	for (i = 0; i < nr_tests; i++) {
		if (!tests[i].module_only)
			run_test(&tests[i], &fallback, "fallback");
		if (have_module)
			run_test(&tests[i], &module, "module");
		else
			skipped(no_mod_why, "lib module: %s", tests[i].name);
	}
	if (have_module) {
		result(t_paths_agree(),
		       "lib: module and fallback give identical contents and memory");
		result(t_refused_fd(),
		       "lib: device refuses a non-tmpfs fd, auto path falls back");
	} else {
		skipped(no_mod_why,
			"lib: module and fallback give identical contents and memory");
		skipped(no_mod_why,
			"lib: device refuses a non-tmpfs fd, auto path falls back");
	}
	if (results != plan) {
		printf("# test_lib: plan %d but %d results\n", plan, results);
		return 1;
	}
	return failures ? 1 : 0;
}
