// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libshmemzero: sz_query() and sz_reclaim().
 *
 * The fallback query never uses SEEK_HOLE: on a resident file it walks
 * every page up to the next hole, which may be far past the range (on a
 * fully resident file, to EOF), so querying a file chunk by chunk would be
 * quadratic.  Residency comes from mincore() over the range only, and
 * SEEK_DATA, which is cheap across holes and stops at the first page it
 * finds, only tells holes from swapped pages among non-resident ones.
 *
 * mincore() tells the truth only to the file's owner or to whoever may
 * write it (can_do_mincore(), 5.0+); to others it says every page is
 * resident.  For them the query finds holes with SEEK_DATA alone and reads
 * what is not a hole (swapped pages are read back, and count as data or
 * zero: such a caller may not learn what is swapped, as with the module).
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64	/* off_t casts of file offsets: 32-bit hosts */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Pages classified per window: bounds the mapping and the buffers. */
#define SZ_QUERY_WINDOW		16384

static void count(struct sz_counts *c, int class, uint64_t n)
{
	switch (class) {
	case SZ_PAGE_HOLE:
		c->hole += n;
		break;
	case SZ_PAGE_ZERO:
		c->zero += n;
		break;
	case SZ_PAGE_DATA:
	case SZ_PAGE_RESIDENT:
		c->data += n;
		break;
	case SZ_PAGE_SWAP:
		c->swap += n;
		break;
	default:
		c->unwritten += n;
		break;
	}
}

/* Would mincore() on this file tell the truth (can_do_mincore())? */
static bool mincore_tells(struct sz_handle *h)
{
	char path[32];
	struct stat st;

	if (fstat(h->fd, &st))
		return false;
	if (st.st_uid == geteuid())
		return true;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", h->fd);
	return faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0;
}

/* Read pages [i, j) of the window at off into buf (zeros past EOF). */
static int read_run(struct sz_handle *h, uint64_t off, size_t i, size_t j,
		    unsigned char *buf)
{
	size_t want = (j - i) * h->page;
	ssize_t got = sz__pread_full(h, buf, want, off + i * h->page);

	if (got < 0)
		return (int)got;
	memset(buf + got, 0, want - (size_t)got);	/* past EOF */
	return 0;
}

/*
 * The window without mincore(): SEEK_DATA finds the next page that is not
 * a hole; a run read from there ends before the first zero page after its
 * first, which SEEK_DATA then tells from a hole.
 */
static int query_window_seek(struct sz_handle *h, uint64_t off, size_t npages,
			     uint8_t *map, unsigned char *buf)
{
	bool noread = h->flags & SZ_OPEN_QUERY_NOREAD;
	size_t i = 0, j, p;
	int ret;

	while (i < npages) {
		off_t data = lseek(h->fd, (off_t)(off + i * h->page), SEEK_DATA);

		h->st.syscalls++;
		if (data < 0 && errno != ENXIO)
			return -errno;
		for (; i < npages && (data < 0 ||
				      off + i * h->page < (uint64_t)data); i++)
			map[i] = SZ_PAGE_HOLE;
		if (i == npages)
			break;
		if (noread) {	/* one page, and SEEK_DATA for the next */
			map[i++] = SZ_PAGE_RESIDENT;
			continue;
		}
		j = i + 64 < npages ? i + 64 : npages;
		ret = read_run(h, off, i, j, buf);
		if (ret)
			return ret;
		map[i] = sz__all_zero(buf, h->page) ? SZ_PAGE_ZERO :
						      SZ_PAGE_DATA;
		for (p = i + 1; p < j; p++) {
			if (sz__all_zero(buf + (p - i) * h->page, h->page))
				break;
			map[p] = SZ_PAGE_DATA;
		}
		i = p;
	}
	return 0;
}

/* Classify npages pages at file offset off into map[0, npages). */
static int query_window(struct sz_handle *h, uint64_t off, size_t npages,
			uint8_t *map, unsigned char *vec, unsigned char *buf)
{
	size_t len = npages * h->page, i = 0;
	void *addr;
	int ret = 0;

	/* mincore() needs a mapping; mapping does not fault anything in. */
	addr = mmap(NULL, len, PROT_READ, MAP_SHARED, h->fd, (off_t)off);
	h->st.syscalls++;
	if (addr == MAP_FAILED)
		return errno == EACCES ? -EBADF : -errno;
	ret = mincore(addr, len, vec);
	h->st.syscalls += 2;
	if (ret)
		ret = -errno;
	munmap(addr, len);
	if (ret)
		return ret;

	while (i < npages) {
		size_t j = i;

		if (!(vec[i] & 1)) {
			/* Not resident: holes up to the next data, if any. */
			off_t data = lseek(h->fd, (off_t)(off + i * h->page),
					   SEEK_DATA);
			uint64_t stop;

			h->st.syscalls++;
			if (data < 0 && errno != ENXIO)
				return -errno;
			while (j < npages && !(vec[j] & 1))
				j++;
			stop = data < 0 ? off + j * h->page : (uint64_t)data;
			for (; i < j && off + i * h->page < stop; i++)
				map[i] = SZ_PAGE_HOLE;
			if (i < j)	/* data but not resident: swapped */
				map[i++] = SZ_PAGE_SWAP;
			continue;
		}
		/* Resident: read the run (no fault, no allocation) and look. */
		while (j < npages && (vec[j] & 1) && j - i < 64)
			j++;
		if (h->flags & SZ_OPEN_QUERY_NOREAD) {
			memset(map + i, SZ_PAGE_RESIDENT, j - i);
		} else {
			size_t p;

			ret = read_run(h, off, i, j, buf);
			if (ret)
				return ret;
			for (p = 0; p < j - i; p++)
				map[i + p] = sz__all_zero(buf + p * h->page,
							  h->page) ?
					     SZ_PAGE_ZERO : SZ_PAGE_DATA;
		}
		i = j;
	}
	return 0;
}

static int query_fallback(struct sz_handle *h, uint64_t off, uint64_t len,
			  uint8_t *map)
{
	uint64_t pages = len / h->page, done = 0;
	bool tells = mincore_tells(h);
	unsigned char *vec = malloc(SZ_QUERY_WINDOW);
	unsigned char *buf = malloc(64 * h->page);
	int ret = 0;

	if (!vec || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (done < pages) {
		size_t n = pages - done < SZ_QUERY_WINDOW ?
			   pages - done : SZ_QUERY_WINDOW;

		ret = tells ? query_window(h, off + done * h->page, n,
					   map + done, vec, buf) :
			      query_window_seek(h, off + done * h->page, n,
						map + done, buf);
		if (ret)
			break;
		done += n;
	}
out:
	free(vec);
	free(buf);
	return ret;
}

static int range_call(struct sz_handle *h, unsigned int mode,
		      unsigned int flags, uint64_t off, uint64_t len,
		      uint8_t *map, uint64_t map_len, struct shmem_zero_args *a)
{
	struct shmem_zero_range r = { .offset = off, .length = len };

	*a = (struct shmem_zero_args) {
		.size = sizeof(*a), .fd = h->fd, .mode = mode, .flags = flags,
		.ranges = (uintptr_t)&r, .nr_ranges = 1,
		.map = (uintptr_t)map, .map_len = map ? map_len : 0,
	};
	return sz__ioctl_resume(h, a);
}

/* The kernel's page counters of one call (a mode leaves the others 0). */
static void counts_from_args(struct sz_counts *c,
			     const struct shmem_zero_args *a)
{
	if (!c)
		return;
	c->hole = a->hole_pages;
	c->zero = a->zero_pages;
	c->data = a->data_pages;
	c->swap = a->swap_pages;
	c->unwritten = a->unwritten_pages;
	c->freed = a->freed_pages;
	c->pinned = a->pinned_pages;
	c->busy = a->busy_pages;
}

static int query(struct sz_handle *h, uint64_t offset, uint64_t length,
		 uint8_t *map, struct sz_counts *counts)
{
	uint64_t pages, i;
	uint8_t *own = NULL;
	int ret;

	if (!h || !length || !sz__range_ok(h, offset, length, true))
		return -EINVAL;
	pages = length / h->page;
	/* Report what a read would see: pending zeros first. */
	ret = sz_flush_range(h, offset, length);
	if (ret)
		return ret;
	if (counts)
		memset(counts, 0, sizeof(*counts));
	if (h->path == SZ_PATH_IOCTL && (h->query_noread ||
					 !(h->flags & SZ_OPEN_QUERY_NOREAD))) {
		struct shmem_zero_args a;

		ret = range_call(h, SHMEM_ZERO_MODE_QUERY,
				 h->query_noread ? SHMEM_ZERO_QUERY_NOREAD : 0,
				 h->base + offset, length, map, pages, &a);
		if (!ret || !sz__refused(-ret) || a.bytes_done) {
			counts_from_args(counts, &a);
			return ret;
		}
		/* Refused (EOPNOTSUPP...): classify in user space. */
	}
	if (!map) {
		own = malloc(pages < SZ_QUERY_WINDOW ? pages : SZ_QUERY_WINDOW);
		if (!own)
			return -ENOMEM;
	}
	for (i = 0; i < pages; ) {
		uint64_t n = map ? pages : (pages - i < SZ_QUERY_WINDOW ?
					    pages - i : SZ_QUERY_WINDOW);
		uint8_t *m = map ? map : own;
		uint64_t k;

		ret = query_fallback(h, h->base + offset + i * h->page,
				     n * h->page, m);
		if (ret)
			break;
		if (counts)
			for (k = 0; k < n; k++)
				count(counts, m[k], 1);
		i += n;
	}
	free(own);
	return ret;
}

static int reclaim(struct sz_handle *h, uint64_t offset, uint64_t length,
		   struct sz_counts *counts)
{
	struct shmem_zero_args a;
	int ret;

	if (!h || !length || !sz__range_ok(h, offset, length, true))
		return -EINVAL;
	if (counts)
		memset(counts, 0, sizeof(*counts));
	if (h->path != SZ_PATH_IOCTL) {
		/* As the module: a memfd sealed against writes refuses first. */
		int seals = fcntl(h->fd, F_GET_SEALS);

		return seals > 0 && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) ?
		       -EPERM : -EOPNOTSUPP;
	}
	ret = range_call(h, SHMEM_ZERO_MODE_RECLAIM, 0, h->base + offset,
			 length, NULL, 0, &a);
	counts_from_args(counts, &a);
	return ret;
}

/*
 * The callers' struct sz_counts is counts_size bytes (0.3): the counts are
 * made in a whole one and copied out.
 */
SZ_EXPORT int sz_query_v03(struct sz_handle *h, uint64_t offset,
			   uint64_t length, uint8_t *map,
			   struct sz_counts *counts, size_t counts_size)
{
	struct sz_counts c = { 0 };
	int ret;

	if (counts && counts_size < SZ_COUNTS_SIZE_VER0)
		return -EINVAL;
	ret = query(h, offset, length, map, counts ? &c : NULL);
	if (counts)
		sz__copy_out(counts, counts_size, &c, sizeof(c));
	return ret;
}
SZ_SYMVER(sz_query_v03, sz_query@@SHMEMZERO_0.3);

SZ_EXPORT int sz_reclaim_v03(struct sz_handle *h, uint64_t offset,
			     uint64_t length, struct sz_counts *counts,
			     size_t counts_size)
{
	struct sz_counts c = { 0 };
	int ret;

	if (counts && counts_size < SZ_COUNTS_SIZE_VER0)
		return -EINVAL;
	ret = reclaim(h, offset, length, counts ? &c : NULL);
	if (counts)
		sz__copy_out(counts, counts_size, &c, sizeof(c));
	return ret;
}
SZ_SYMVER(sz_reclaim_v03, sz_reclaim@@SHMEMZERO_0.3);

/* 0.1: no size; struct sz_counts then ended in 8 reserved counters. */
#define SZ_COUNTS_SIZE_01	(SZ_COUNTS_SIZE_VER0 + 8 * sizeof(uint64_t))

SZ_EXPORT int sz_query_v01(struct sz_handle *h, uint64_t offset,
			   uint64_t length, uint8_t *map,
			   struct sz_counts *counts)
{
	return sz_query_v03(h, offset, length, map, counts, SZ_COUNTS_SIZE_01);
}
SZ_SYMVER(sz_query_v01, sz_query@SHMEMZERO_0.1);

SZ_EXPORT int sz_reclaim_v01(struct sz_handle *h, uint64_t offset,
			     uint64_t length, struct sz_counts *counts)
{
	return sz_reclaim_v03(h, offset, length, counts, SZ_COUNTS_SIZE_01);
}
SZ_SYMVER(sz_reclaim_v01, sz_reclaim@SHMEMZERO_0.1);
