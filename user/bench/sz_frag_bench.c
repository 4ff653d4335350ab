// SPDX-License-Identifier: GPL-2.0
/*
 * DISCARD against punch-hole on a fragmented vector: a 1 GiB memfd with every
 * other page holding data, and NR single-page ranges at random pages (fixed
 * seed, half of them holes, half data).  The peers: fallocate() per range
 * as given, and the best a program can do alone (sort and coalesce,
 * SEEK_DATA past holes, one punch per run).  Each method gets a fresh,
 * identical file; reports wall time, Shmem and file blocks after, and
 * checks contents.  Repetitions after the first run the methods in a random
 * order.
 *
 * Usage: sz_frag_bench [--json] [NR_RANGES] [REPEATS] [DATA_STEP]
 * DATA_STEP: every DATA_STEP-th page holds data (default 2; 0: empty file).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/shmem_zero.h>

#include "bench.h"

#define FILE_SIZE	(1UL << 30)

static long page;
static int data_step = 2;	/* every data_step-th page holds data; 0: none */

static int make_file(void)
{
	int fd = memfd_create("frag", 0);
	char *buf = malloc(page);

	if (fd < 0 || ftruncate(fd, FILE_SIZE) || !buf)
		exit(2);
	memset(buf, 0x5a, page);
	for (unsigned long off = 0; data_step && off < FILE_SIZE;
	     off += data_step * page)
		if (pwrite(fd, buf, page, off) != page)
			exit(2);
	free(buf);
	return fd;
}

/* Pages of the ranges that still hold data: must be 0. */
static long wrong_pages(int fd, const struct shmem_zero_range *r, long nr)
{
	char *buf = malloc(page), *zero = calloc(1, page);
	long bad = 0;

	for (long i = 0; i < nr; i++)
		if (pread(fd, buf, page, r[i].offset) != page ||
		    memcmp(buf, zero, page))
			bad++;
	free(buf);
	free(zero);
	return bad;
}

static void report(const char *name, int rep, long syscalls, double t,
		   long shmem0, int fd, const struct shmem_zero_range *r,
		   long nr)
{
	long shmem = shmem_kb() - shmem0, wrong = wrong_pages(fd, r, nr);
	struct stat st;

	fstat(fd, &st);
	say("%-22s %9.1f ms %8.0f ns/range  Shmem %+7ld kB  file %5lld MiB  wrong %ld\n",
	    name, t * 1e3, t * 1e9 / nr, shmem, (long long)st.st_blocks * 512 >> 20,
	    wrong);
	json("frag", J_STR, "method", name, J_I64, "data_step", (int64_t)data_step,
	     J_I64, "ranges", (int64_t)nr, J_I64, "rep", (int64_t)rep,
	     J_DBL, "ms", t * 1e3, J_DBL, "ns_per_range", t * 1e9 / nr,
	     J_I64, "syscalls", (int64_t)syscalls, J_I64, "shmem_kb", (int64_t)shmem,
	     J_I64, "alloc_kb", (int64_t)st.st_blocks / 2,
	     J_I64, "wrong_pages", (int64_t)wrong, J_END);
}

static int cmp_range(const void *a, const void *b)
{
	const struct shmem_zero_range *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/*
 * The best userspace peer: sort and coalesce the ranges, then per run
 * SEEK_DATA to skip what is a hole already, and one punch from the first
 * data to the end of the run.  Returns its syscalls, -1 on error.
 */
static long sorted_punch(int fd, const struct shmem_zero_range *r, long nr)
{
	struct shmem_zero_range *v = malloc(nr * sizeof(*v));
	long n = 0, syscalls = 0;

	if (!v)
		return -1;
	memcpy(v, r, nr * sizeof(*v));
	qsort(v, nr, sizeof(*v), cmp_range);
	for (long i = 0; i < nr; i++) {
		if (n && v[i].offset <= v[n - 1].offset + v[n - 1].length) {
			uint64_t end = v[i].offset + v[i].length;

			if (end > v[n - 1].offset + v[n - 1].length)
				v[n - 1].length = end - v[n - 1].offset;
		} else {
			v[n++] = v[i];
		}
	}
	for (long i = 0, data = -1; i < n; i++) {
		uint64_t end = v[i].offset + v[i].length;

		/*
		 * The last SEEK_DATA found no data in [its start, data): a run
		 * that ends there is a hole already, no syscall.
		 */
		if (data < 0 || (uint64_t)data < v[i].offset) {
			data = lseek(fd, v[i].offset, SEEK_DATA);
			syscalls++;
			if (data < 0 && errno == ENXIO)
				break;		/* no data from here to EOF */
			if (data < 0) {
				free(v);
				return -1;
			}
		}
		if ((uint64_t)data >= end)
			continue;
		syscalls++;
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, data,
			      end - data)) {
			free(v);
			return -1;
		}
		data = -1;	/* what follows the punch is not known */
	}
	free(v);
	return syscalls;
}

enum { M_FALLOCATE, M_SORTED, M_IOCTL, NR_METHODS };

static int run_method(int m, int rep, int dev, const struct shmem_zero_range *r,
		      long nr)
{
	struct shmem_zero_args a = { .size = sizeof(a),
		.mode = SHMEM_ZERO_MODE_DISCARD,
		.ranges = (uintptr_t)r, .nr_ranges = nr };
	int fd = make_file();
	long s0 = shmem_kb(), syscalls = 0;
	double t = now();

	switch (m) {
	case M_FALLOCATE:
		for (long i = 0; i < nr; i++)
			if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      r[i].offset, r[i].length))
				return 2;
		syscalls = nr;
		break;
	case M_SORTED:
		syscalls = sorted_punch(fd, r, nr);
		if (syscalls < 0)
			return 2;
		break;
	default:
		a.fd = fd;
		if (ioctl(dev, SHMEM_ZERO_IOC_RANGES, &a)) {
			perror("SHMEM_ZERO_IOC_RANGES");
			return 2;
		}
		syscalls = 1;
		break;
	}
	t = now() - t;
	report(m == M_FALLOCATE ? "fallocate per range" :
	       m == M_SORTED ? "sorted, SEEK_DATA, punch" : "shmem_zero one ioctl",
	       rep, syscalls, t, s0, fd, r, nr);
	if (m == M_IOCTL)
		say("%-22s holes %llu freed %llu\n", "", a.hole_pages, a.freed_pages);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int arg = bench_args(argc, argv);
	long nr = argc > arg ? atol(argv[arg]) : 100000;
	int reps = argc > arg + 1 ? atoi(argv[arg + 1]) : 1;

	if (argc > arg + 2)
		data_step = atoi(argv[arg + 2]);
	struct shmem_zero_range *r = calloc(nr, sizeof(*r));
	long pages;
	int dev;

	page = sysconf(_SC_PAGESIZE);
	pages = FILE_SIZE / page;
	srandom(42);
	for (long i = 0; i < nr; i++) {
		r[i].offset = (random() % pages) * page;
		r[i].length = page;
	}
	dev = bench_dev();
	say("1 GiB memfd, data every %d pages (0: none); %ld random single-page ranges\n",
	    data_step, nr);
	for (int rep = 0; rep < reps; rep++) {
		int order[NR_METHODS] = { M_FALLOCATE, M_SORTED, M_IOCTL };

		/* After the first repetition, in a random order (fixed seed). */
		for (int i = NR_METHODS - 1; rep && i > 0; i--) {
			int j = random() % (i + 1), x = order[i];

			order[i] = order[j];
			order[j] = x;
		}
		for (int i = 0; i < NR_METHODS; i++)
			if (run_method(order[i], rep, dev, r, nr))
				return 2;
	}
	return 0;
}
