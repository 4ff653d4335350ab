// SPDX-License-Identifier: GPL-2.0
/*
 * shmem_zero_demo: the zero pages of a simulated migration stream, applied to
 * a memfd-backed destination the way stock QEMU does it and with the
 * alternatives.
 *
 * A 1 GiB source memfd holds data in 1 % of its pages (random, fixed seed).
 * The "stream" is every page in order: data pages are copied into the
 * destination through its shared mapping, zero pages are applied by
 *
 *   stock     QEMU's ram_handle_zero(): buffer_is_zero() on the destination
 *             page, read through the mapping (which allocates a tmpfs page
 *             for a hole), then memset() only if it was not zero;
 *   fallocate fallocate(PUNCH_HOLE | KEEP_SIZE) per contiguous zero run;
 *   ioctl     every zero run of the stream collected into one vector and
 *             applied by one SHMEM_ZERO_IOC_RANGES DISCARD call.
 *
 * Each runs on a fresh (empty) destination memfd and on a stale one that was
 * pre-filled with 0xAA, as a destination reused after a failed migration.
 * Printed per run: the time to apply the stream, the Shmem growth in
 * /proc/meminfo, the destination's allocated size (st_blocks), and whether
 * its contents (read back with pread, which never allocates) are exactly the
 * source's.  Exit status 0 iff every destination is correct.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/shmem_zero.h>

#define PG		4096UL
#define SIZE		(1UL << 30)
#define NPAGES		(SIZE / PG)
#define DATA_PERMILLE	10		/* 1 % */
#define SEED		0x5eedf00dULL

enum method { STOCK, FALLOC, IOCTL, NR_METHODS };

static const char *const method_name[NR_METHODS] = {
	[STOCK]  = "stock: buffer_is_zero + memset",
	[FALLOC] = "fallocate(PUNCH_HOLE) per run",
	[IOCTL]  = "DISCARD ioctl, one vector",
};

struct run {
	uint64_t first, n;	/* pages */
};

static uint8_t *is_data;		/* per page */
static struct run *runs;		/* zero runs of the stream */
static uint64_t nr_runs, nr_data;
static char *src;			/* source mapping */
static int devfd = -1;

static void die(const char *what)
{
	fprintf(stderr, "shmem_zero_demo: %s: %s\n", what, strerror(errno));
	exit(2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long shmem_kb(void)
{
	char line[256];
	long long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);

	/* fold per-cpu counter deltas in first (root only, best effort) */
	if (fd >= 0) {
		if (write(fd, "1\n", 2) < 0) {
			/* transiently negative counters: ignore */
		}
		close(fd);
	}
	if (!f)
		die("/proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Shmem: %lld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

static double alloc_mib(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		die("fstat");
	return st.st_blocks * 512.0 / (1 << 20);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* Non-zero contents of data page p. */
static void data_fill(void *page, uint64_t p)
{
	uint64_t *q = page;

	for (unsigned int i = 0; i < PG / 8; i++)
		q[i] = (0xA5ULL << 56) | (p << 9) | i;
}

/* QEMU's buffer_is_zero(), plainly: any non-zero word ends the scan. */
static bool buffer_is_zero(const void *buf, size_t len)
{
	const uint64_t *q = buf;

	for (size_t i = 0; i < len / 8; i++)
		if (q[i])
			return false;
	return true;
}

static int new_memfd(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		die("memfd_create");
	if (ftruncate(fd, SIZE))
		die("ftruncate");
	return fd;
}

static void setup_source(void)
{
	uint64_t seed = SEED, want = NPAGES * DATA_PERMILLE / 1000, p;
	int fd = new_memfd("source");

	src = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	is_data = calloc(NPAGES, 1);
	runs = calloc(NPAGES / 2 + 1, sizeof(*runs));
	if (src == MAP_FAILED || !is_data || !runs)
		die("source");
	close(fd);
	while (nr_data < want) {
		p = rnd(&seed) % NPAGES;
		if (!is_data[p]) {
			is_data[p] = 1;
			data_fill(src + p * PG, p);
			nr_data++;
		}
	}
	for (p = 0; p < NPAGES; p++) {
		if (is_data[p])
			continue;
		if (nr_runs && runs[nr_runs - 1].first + runs[nr_runs - 1].n == p)
			runs[nr_runs - 1].n++;
		else
			runs[nr_runs++] = (struct run){ p, 1 };
	}
}

/* One DISCARD for all zero runs (chunked at SHMEM_ZERO_MAX_RANGES). */
static int discard_runs(int fd)
{
	struct shmem_zero_range *v = calloc(nr_runs, sizeof(*v));
	uint64_t done = 0;

	if (!v)
		return -ENOMEM;
	for (uint64_t i = 0; i < nr_runs; i++)
		v[i] = (struct shmem_zero_range){ runs[i].first * PG, runs[i].n * PG };
	while (done < nr_runs) {
		uint64_t nr = nr_runs - done;
		struct shmem_zero_args a = {
			.size = sizeof(a), .fd = fd, .mode = SHMEM_ZERO_MODE_DISCARD,
			.ranges = (uintptr_t)(v + done),
			.nr_ranges = nr > SHMEM_ZERO_MAX_RANGES ? SHMEM_ZERO_MAX_RANGES : nr,
		};

		if (ioctl(devfd, SHMEM_ZERO_IOC_RANGES, &a) == 0) {
			done += a.nr_ranges;
		} else if (errno == EINTR) {
			/* resume: skip the done ranges and the done head */
			done += a.ranges_done;
			if (a.bytes_done > 0 && done < nr_runs) {
				uint64_t head = a.bytes_done;

				for (uint64_t i = 0; i < a.ranges_done; i++)
					head -= v[done - a.ranges_done + i].length;
				v[done].offset += head;
				v[done].length -= head;
			}
		} else {
			int e = errno;

			free(v);
			return -e;
		}
	}
	free(v);
	return 0;
}

/* Apply the stream to dst with method m.  Returns 0 or -errno. */
static int apply_stream(int fd, char *dst, enum method m)
{
	uint64_t r = 0;

	for (uint64_t p = 0; p < NPAGES; p++) {
		if (is_data[p]) {
			memcpy(dst + p * PG, src + p * PG, PG);
			continue;
		}
		switch (m) {
		case STOCK:
			if (!buffer_is_zero(dst + p * PG, PG))
				memset(dst + p * PG, 0, PG);
			break;
		case FALLOC:
			/* at the first page of each run */
			if (r < nr_runs && runs[r].first == p) {
				if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					      p * PG, runs[r].n * PG))
					return -errno;
				r++;
			}
			break;
		default:
			break;		/* collected: one call at the end */
		}
	}
	return m == IOCTL ? discard_runs(fd) : 0;
}

/* Pages whose contents differ from the source's. */
static uint64_t wrong_pages(int fd)
{
	static char buf[256 * PG] __attribute__((aligned(4096)));
	uint64_t wrong = 0;

	for (uint64_t p = 0; p < NPAGES; p += 256) {
		if (pread(fd, buf, sizeof(buf), p * PG) != (ssize_t)sizeof(buf))
			die("pread");
		for (uint64_t i = 0; i < 256; i++) {
			const char *want = src + (p + i) * PG;

			if (is_data[p + i] ? memcmp(buf + i * PG, want, PG) :
			    !buffer_is_zero(buf + i * PG, PG))
				wrong++;
		}
	}
	return wrong;
}

static bool run_one(bool stale, enum method m)
{
	long long shm0, shm1;
	double t0, t1;
	uint64_t wrong;
	char result[48];
	int fd, err;
	char *dst;

	fd = new_memfd("destination");
	dst = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (dst == MAP_FAILED)
		die("mmap destination");
	if (stale)
		memset(dst, 0xAA, SIZE);

	printf("%-12s %-32s ", stale ? "stale (0xAA)" : "fresh", method_name[m]);
	fflush(stdout);
	if (m == IOCTL && devfd < 0) {
		printf("%s\n", "skipped: no " SHMEM_ZERO_DEVICE);
		munmap(dst, SIZE);
		close(fd);
		return false;
	}
	shm0 = shmem_kb();
	t0 = now();
	err = apply_stream(fd, dst, m);
	t1 = now();
	shm1 = shmem_kb();
	if (err) {
		printf("failed: %s\n", strerror(-err));
		munmap(dst, SIZE);
		close(fd);
		return false;
	}
	wrong = wrong_pages(fd);
	if (wrong)
		snprintf(result, sizeof(result), "%" PRIu64 " wrong pages", wrong);
	else
		snprintf(result, sizeof(result), "contents: OK");
	printf("%8.3f s %+10.1f MiB %10.1f MiB   %s\n", t1 - t0,
	       (shm1 - shm0) / 1024.0, alloc_mib(fd), result);
	munmap(dst, SIZE);
	close(fd);
	return !wrong;
}

int main(void)
{
	bool ok = true;

	devfd = open(SHMEM_ZERO_DEVICE, O_RDWR | O_CLOEXEC);
	if (devfd < 0)
		fprintf(stderr, "shmem_zero_demo: %s: %s (module not loaded?)\n",
			SHMEM_ZERO_DEVICE, strerror(errno));
	setup_source();
	printf("source: 1 GiB memfd, %" PRIu64 " data pages (1 %%, seed %#llx), "
	       "%" PRIu64 " zero pages in %" PRIu64 " runs\n\n",
	       nr_data, (unsigned long long)SEED, NPAGES - nr_data, nr_runs);
	printf("%-12s %-32s %10s %14s %14s   %s\n", "destination", "zero pages applied by",
	       "time", "Shmem delta", "file alloc", "check (pread)");
	for (int stale = 0; stale < 2; stale++)
		for (int m = 0; m < NR_METHODS; m++)
			ok &= run_one(stale, m);
	printf("\n%s\n", ok ? "all destinations correct" : "SOME DESTINATIONS WRONG");
	return ok ? 0 : 1;
}
