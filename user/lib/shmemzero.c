// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libshmemzero: handles, the pending batch, and applying it.
 *
 * Pending runs are kept sorted, disjoint and never adjacent, in file
 * offsets, so a flush hands them to the kernel as they are and a write
 * finds the runs it overlaps by binary search.
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64	/* off_t casts of file offsets: 32-bit hosts */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>

#include "internal.h"

#define SZ_DEFAULT_BATCH	4096u
/* Consecutive EINTRs without progress before giving up with -EINTR. */
#define SZ_EINTR_MAX		1000

_Static_assert((int)SZ_PAGE_HOLE == (int)SHMEM_ZERO_PAGE_HOLE &&
	       (int)SZ_PAGE_ZERO == (int)SHMEM_ZERO_PAGE_ZERO &&
	       (int)SZ_PAGE_DATA == (int)SHMEM_ZERO_PAGE_DATA &&
	       (int)SZ_PAGE_SWAP == (int)SHMEM_ZERO_PAGE_SWAP &&
	       (int)SZ_PAGE_UNWRITTEN == (int)SHMEM_ZERO_PAGE_UNWRITTEN,
	       "page classes follow the uAPI");

static uint64_t end_of(const struct shmem_zero_range *r)
{
	return r->offset + r->length;
}

bool sz__range_ok(const struct sz_handle *h, uint64_t off, uint64_t len,
		 bool aligned)
{
	if (len > h->size || off > h->size - len)
		return false;
	return !aligned || ((off | len) & (h->page - 1)) == 0;
}

bool sz__refused(int err)
{
	/* No such ioctl, not tmpfs, not a regular file. */
	return err == ENOTTY || err == EOPNOTSUPP || err == ENODEV;
}

/* Add the output counters of one call to the running totals. */
static void sum_outputs(struct shmem_zero_args *to,
			const struct shmem_zero_args *c)
{
	to->hole_pages += c->hole_pages;
	to->zero_pages += c->zero_pages;
	to->data_pages += c->data_pages;
	to->unwritten_pages += c->unwritten_pages;
	to->swap_pages += c->swap_pages;
	to->freed_pages += c->freed_pages;
	to->zeroed_pages += c->zeroed_pages;
	to->pinned_pages += c->pinned_pages;
	to->busy_pages += c->busy_pages;
}

/*
 * One logical call over args->ranges: on EINTR the kernel reports the done
 * prefix (ranges_done whole ranges, then a page-aligned head of the next
 * one in bytes_done) and the call resumes right after it.  The caller's
 * vector is not modified: a partly done range resumes from a copy.
 */
int sz__ioctl_resume(struct sz_handle *h, struct shmem_zero_args *args)
{
	const struct shmem_zero_range *r = (void *)(uintptr_t)args->ranges;
	uint64_t n = args->nr_ranges, i = 0, skip = 0, pages = 0;
	struct shmem_zero_range rest;
	int stalls = 0;

	memset(&args->ranges_done, 0,
	       sizeof(*args) - offsetof(struct shmem_zero_args, ranges_done));
	while (i < n) {
		/* Inputs only: an older kernel refuses non-zero unknown bytes. */
		struct shmem_zero_args call = {
			.size = args->size, .fd = args->fd, .mode = args->mode,
			.flags = args->flags,
		};
		uint64_t whole = 0, k;
		int ret, err;

		if (skip) {
			rest.offset = r[i].offset + skip;
			rest.length = r[i].length - skip;
			call.ranges = (uintptr_t)&rest;
			call.nr_ranges = 1;
		} else {
			call.ranges = (uintptr_t)(r + i);
			call.nr_ranges = n - i;
		}
		if (args->map) {
			call.map = args->map + pages;
			call.map_len = args->map_len - pages;
		}
		ret = ioctl(h->dev, SHMEM_ZERO_IOC_RANGES, &call);
		err = errno;
		h->st.syscalls++;
		h->st.ioctls++;
		sum_outputs(args, &call);
		args->bytes_done += call.bytes_done;
		pages += call.bytes_done / h->page;
		if (ret == 0 && !skip) {
			args->ranges_done = n;
			return 0;
		}
		if (ret == 0) {		/* the resumed range is done */
			args->ranges_done = ++i;
			skip = 0;
			stalls = 0;
			continue;
		}
		if (err != EINTR)
			goto fail;
		h->st.eintr_restarts++;
		stalls = call.bytes_done ? 0 : stalls + 1;
		if (stalls > SZ_EINTR_MAX)
			goto fail;
		if (skip) {
			skip += call.bytes_done;
		} else {
			for (k = 0; k < call.ranges_done; k++)
				whole += r[i + k].length;
			i += call.ranges_done;
			skip = call.bytes_done - whole;
		}
		if (i < n && skip == r[i].length) {
			i++;
			skip = 0;
		}
		args->ranges_done = i;
		continue;
fail:
		if (skip && call.ranges_done)
			i++;
		else if (!skip)
			i += call.ranges_done;
		args->ranges_done = i;
		return -err;
	}
	return 0;
}

/* ---- fallback ---------------------------------------------------------- */

bool sz__all_zero(const unsigned char *p, size_t len)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i])
			return false;
	return true;
}

ssize_t sz__pread_full(struct sz_handle *h, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(h->fd, (char *)buf + got, len - got,
				  (off_t)(off + got));

		h->st.syscalls++;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)	/* EOF */
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

#define SZ_IO_PAGES	64

/*
 * @len zero bytes (at most a page) at @off: a short write goes on, EINTR
 * is retried.
 */
static int write_zeros(struct sz_handle *h, uint64_t off, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = pwrite(h->fd, h->zero + done, len - done,
				   (off_t)(off + done));

		h->st.syscalls++;
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		done += (size_t)w;
	}
	return 0;
}

/*
 * ZERO_IN_PLACE without the module: SEEK_DATA skips holes (cheap on tmpfs),
 * pread() reads the rest (holes read as zero without being allocated), and
 * only non-zero pages are overwritten.  Swapped pages are read back.  The
 * buffers are the handle's, allocated on first use.
 */
static int zero_in_place(struct sz_handle *h, uint64_t pos, uint64_t end)
{
	size_t chunk = SZ_IO_PAGES * h->page;
	int ret;

	if (!h->io)
		h->io = malloc(chunk);
	if (!h->zero)
		h->zero = calloc(1, h->page);
	if (!h->io || !h->zero)
		return -ENOMEM;
	while (pos < end) {
		off_t data = lseek(h->fd, (off_t)pos, SEEK_DATA);
		uint64_t n, got, p;
		ssize_t r;

		h->st.syscalls++;
		if (data < 0)
			return errno == ENXIO ? 0 : -errno;
		pos = (uint64_t)data & ~(h->page - 1);
		if (pos >= end)
			break;
		n = end - pos < chunk ? end - pos : chunk;
		/* short at EOF: there is nothing past it to clear */
		r = sz__pread_full(h, h->io, n, pos);
		if (r < 0)
			return (int)r;
		got = (uint64_t)r;
		/*
		 * A page that EOF cuts: only its bytes before EOF are looked at
		 * and written (the rest of the buffer is zeroed, not stale), so
		 * the file keeps its size, as with the module.
		 */
		memset(h->io + got, 0, (got + h->page - 1) / h->page * h->page - got);
		for (p = 0; p < got; p += h->page) {
			if (sz__all_zero(h->io + p, h->page))
				continue;
			ret = write_zeros(h, pos + p,
					  got - p < h->page ? got - p : h->page);
			if (ret)
				return ret;
			h->st.zeroed_pages++;
		}
		if (got < n)
			break;
		pos += n;
	}
	return 0;
}

static int fallback_apply(struct sz_handle *h, const struct shmem_zero_range *r)
{
	int ret;

	if (h->mode == SHMEM_ZERO_MODE_ZERO_IN_PLACE || h->no_punch)
		return zero_in_place(h, r->offset, end_of(r));
	do {
		ret = fallocate(h->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)r->offset, (off_t)r->length);
		h->st.syscalls++;
		h->st.fallocates++;
	} while (ret && errno == EINTR);
	/*
	 * A filesystem that cannot punch holes (ramfs, ...): the runs must
	 * still read as zero, so write zeros over their data from now on;
	 * the memory stays allocated.
	 */
	if (ret && errno == EOPNOTSUPP) {
		h->no_punch = true;
		return zero_in_place(h, r->offset, end_of(r));
	}
	return ret ? -errno : 0;
}

/* ---- applying runs ----------------------------------------------------- */

static void use_fallback(struct sz_handle *h)
{
	if (h->dev >= 0)
		close(h->dev);
	h->dev = -1;
	h->path = SZ_PATH_FALLBACK;
}

/* Apply r[0, n) in order; *done: how many are complete. */
static int apply_runs(struct sz_handle *h, const struct shmem_zero_range *r,
		      size_t n, size_t *done)
{
	size_t i;
	int ret = 0;

	*done = 0;
	/* A forked child does not apply its parent's runs (sz_free() them). */
	if (n && getpid() != h->owner)
		return -ECHILD;
	while (*done < n) {
		size_t first = *done;

		if (h->path == SZ_PATH_IOCTL) {
			size_t nr = n - first < SHMEM_ZERO_MAX_RANGES ?
				    n - first : SHMEM_ZERO_MAX_RANGES;
			struct shmem_zero_args a = {
				.size = sizeof(a), .fd = h->fd, .mode = h->mode,
				.ranges = (uintptr_t)(r + first), .nr_ranges = nr,
			};

			ret = sz__ioctl_resume(h, &a);
			h->st.hole_pages += a.hole_pages;
			h->st.freed_pages += a.freed_pages;
			h->st.zeroed_pages += a.zeroed_pages;
			h->st.swap_pages += a.swap_pages;
			h->st.pinned_pages += a.pinned_pages;
			*done += a.ranges_done;
			if (ret && sz__refused(-ret) && !a.bytes_done &&
			    !(h->flags & SZ_OPEN_NO_FALLBACK)) {
				use_fallback(h);	/* the module went away */
				ret = 0;
			}
		} else {
			ret = fallback_apply(h, &r[first]);
			if (!ret)
				(*done)++;
		}
		for (i = first; i < *done; i++) {
			h->st.applied_runs++;
			h->st.applied_bytes += r[i].length;
		}
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- the pending batch ------------------------------------------------- */

/* Index of the first pending run that ends after off (at off if adjacent). */
static size_t first_ending_after(const struct sz_handle *h, uint64_t off,
				 bool adjacent)
{
	size_t lo = 0, hi = h->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t end = end_of(&h->runs[mid]);

		if (end < off || (end == off && !adjacent))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void remove_runs(struct sz_handle *h, size_t i, size_t count)
{
	memmove(&h->runs[i], &h->runs[i + count],
		(h->nr - i - count) * sizeof(*h->runs));
	h->nr -= count;
}

static int reserve(struct sz_handle *h, size_t need)
{
	size_t cap = h->cap ? h->cap * 2 : 64;
	struct shmem_zero_range *runs;

	if (need <= h->cap)
		return 0;
	if (cap < need)
		cap = need;
	if (cap > h->batch + 1 && need <= h->batch + 1)
		cap = h->batch + 1;
	runs = realloc(h->runs, cap * sizeof(*runs));
	if (!runs)
		return -ENOMEM;
	h->runs = runs;
	h->cap = cap;
	return 0;
}

/* Apply now the pending runs overlapping [a, b) (file offsets). */
static int flush_overlap(struct sz_handle *h, uint64_t a, uint64_t b)
{
	size_t i = first_ending_after(h, a, false), j = i, done;
	int ret;

	while (j < h->nr && h->runs[j].offset < b)
		j++;
	if (i == j)
		return 0;
	ret = apply_runs(h, &h->runs[i], j - i, &done);
	h->st.early_flushes += done;
	remove_runs(h, i, done);
	return ret;
}

/* Drop [a, b) (page aligned, file offsets) from the pending runs. */
static int trim(struct sz_handle *h, uint64_t a, uint64_t b)
{
	size_t i = first_ending_after(h, a, false);

	while (i < h->nr && h->runs[i].offset < b) {
		struct shmem_zero_range *r = &h->runs[i];
		uint64_t rs = r->offset, re = end_of(r);

		if (rs < a && re > b) {			/* split in two */
			if (reserve(h, h->nr + 1))
				return flush_overlap(h, a, b);
			r = &h->runs[i];
			memmove(r + 2, r + 1, (h->nr - i - 1) * sizeof(*r));
			h->nr++;
			r->length = a - rs;
			r[1].offset = b;
			r[1].length = re - b;
			h->st.trimmed_bytes += b - a;
			return 0;
		}
		if (rs < a) {				/* keep the head */
			r->length = a - rs;
			h->st.trimmed_bytes += re - a;
			i++;
		} else if (re > b) {			/* keep the tail */
			r->offset = b;
			r->length = re - b;
			h->st.trimmed_bytes += b - rs;
			return 0;
		} else {				/* covered whole */
			h->st.trimmed_bytes += re - rs;
			remove_runs(h, i, 1);
		}
	}
	return 0;
}

/*
 * Queue [s, e) (file offsets, page aligned), which does not start where the
 * last pending run ends (the callers extend that one themselves): 0, or
 * -errno with *queued telling whether the run is pending (the batch it
 * filled failed) or not (the queue was full of runs that still cannot be
 * applied).
 */
static int add_run(struct sz_handle *h, uint64_t s, uint64_t e, bool *queued)
{
	size_t i, j;
	int ret;

	*queued = false;
	h->st.add_calls++;
	h->st.add_bytes += e - s;
	i = first_ending_after(h, s, true);
	for (j = i; j < h->nr && h->runs[j].offset <= e; j++)
		;
	/*
	 * A full queue is one an earlier flush could not apply: try again,
	 * and queue nothing if that fails, so it never grows past batch.
	 */
	if (i == j && h->nr >= h->batch) {
		ret = sz_flush(h);
		if (ret)
			return ret;
		i = j = 0;
	}
	if (i == j) {
		if (reserve(h, h->nr + 1)) {
			/* No memory for the batch: apply what is queued. */
			ret = sz_flush(h);
			if (ret)
				return ret;
			if (reserve(h, 1))
				return -ENOMEM;
			i = 0;
		}
		memmove(&h->runs[i + 1], &h->runs[i],
			(h->nr - i) * sizeof(*h->runs));
		h->runs[i].offset = s;
		h->runs[i].length = e - s;
		h->nr++;
	} else {
		struct shmem_zero_range *r = &h->runs[i];
		uint64_t last = end_of(&h->runs[j - 1]);

		if (r->offset < s)
			s = r->offset;
		if (last > e)
			e = last;
		r->offset = s;
		r->length = e - s;
		remove_runs(h, i + 1, j - i - 1);
		h->st.coalesced++;
	}
	*queued = true;
	return h->nr >= h->batch ? sz_flush(h) : 0;
}

SZ_EXPORT int sz_add_zero(struct sz_handle *h, uint64_t offset,
			  uint64_t length)
{
	uint64_t s;
	bool queued;

	if (!h || !length || !sz__range_ok(h, offset, length, true))
		return -EINVAL;
	if (h->flags & SZ_OPEN_READONLY)
		return -EBADF;
	s = h->base + offset;
	/* Stream order: the run extends the last pending run. */
	if (h->nr && s == end_of(&h->runs[h->nr - 1])) {
		h->runs[h->nr - 1].length += length;
		h->st.add_calls++;
		h->st.add_bytes += length;
		h->st.coalesced++;
		return 0;
	}
	return add_run(h, s, s + length, &queued);
}

SZ_EXPORT ssize_t sz_add_zero_v(struct sz_handle *h, const uint64_t *offsets,
				size_t n, uint64_t length)
{
	uint64_t mask, max, base, end, extended = 0;
	struct shmem_zero_range *last;
	size_t i;
	bool queued;
	int ret = 0;

	if (!h || (n && !offsets) || n > SSIZE_MAX)
		return -EINVAL;
	if (h->flags & SZ_OPEN_READONLY)
		return n ? -EBADF : 0;
	if (!n)
		return 0;
	if (!length || !sz__range_ok(h, 0, length, true))
		return -EINVAL;
	/* In locals: the stores to the last run cannot alias them. */
	mask = h->page - 1;
	max = h->size - length;
	base = h->base;
	last = h->nr ? &h->runs[h->nr - 1] : NULL;
	end = last ? end_of(last) : UINT64_MAX;
	for (i = 0; i < n; i++) {
		uint64_t s = base + offsets[i];

		/* sz__range_ok(), length already checked */
		if ((offsets[i] & mask) || offsets[i] > max) {
			ret = -EINVAL;
			break;
		}
		/* Stream order, the common case: the last run grows. */
		if (s == end) {
			end += length;
			extended++;
			continue;
		}
		if (last)
			last->length = end - last->offset;
		ret = add_run(h, s, s + length, &queued);
		/* add_run() may have moved or applied the runs */
		last = h->nr ? &h->runs[h->nr - 1] : NULL;
		end = last ? end_of(last) : UINT64_MAX;
		/* A batch that failed stays pending: its error comes later. */
		if (ret && !queued)
			break;
		ret = 0;
	}
	if (last)
		last->length = end - last->offset;
	h->st.add_calls += extended;
	h->st.add_bytes += extended * length;
	h->st.coalesced += extended;
	return i ? (ssize_t)i : ret;
}

/* sz_before_write() of a checked range. */
static int before_write(struct sz_handle *h, uint64_t offset, uint64_t length)
{
	uint64_t s, e, mask, head, tail;
	int ret = 0;

	if (!length || !h->nr)
		return 0;
	mask = h->page - 1;
	s = h->base + offset;
	e = s + length;
	head = s & ~mask;		/* page holding the first byte */
	tail = (e - 1) & ~mask;		/* page holding the last byte */
	/* Pages written in part must read zero around the write: apply. */
	if (s & mask)
		ret = flush_overlap(h, head, head + h->page);
	if (!ret && (e & mask) && (tail != head || !(s & mask)))
		ret = flush_overlap(h, tail, tail + h->page);
	if (ret)
		return ret;
	/* Pages written whole: the write supersedes the zero. */
	s = (s + mask) & ~mask;
	e &= ~mask;
	return s < e ? trim(h, s, e) : 0;
}

SZ_EXPORT int sz_before_write(struct sz_handle *h, uint64_t offset,
			      uint64_t length)
{
	if (!h || !sz__range_ok(h, offset, length, false))
		return -EINVAL;
	return before_write(h, offset, length);
}

SZ_EXPORT ssize_t sz_before_write_v(struct sz_handle *h,
				    const uint64_t *offsets, size_t n,
				    uint64_t length)
{
	size_t i;
	int ret = 0;

	if (!h || (n && !offsets) || n > SSIZE_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!sz__range_ok(h, offsets[i], length, false))
			ret = -EINVAL;
		else
			ret = before_write(h, offsets[i], length);
		if (ret)
			break;
	}
	return i ? (ssize_t)i : ret;
}

SZ_EXPORT int sz_flush_range(struct sz_handle *h, uint64_t offset,
			     uint64_t length)
{
	if (!h || !sz__range_ok(h, offset, length, false))
		return -EINVAL;
	if (!length)
		return 0;
	return flush_overlap(h, h->base + offset, h->base + offset + length);
}

SZ_EXPORT int sz_flush(struct sz_handle *h)
{
	size_t done;
	int ret;

	if (!h)
		return -EINVAL;
	if (!h->nr)
		return 0;
	h->st.flushes++;
	ret = apply_runs(h, h->runs, h->nr, &done);
	remove_runs(h, 0, done);
	return ret;
}

/* ---- handles ----------------------------------------------------------- */

/* An empty vector: tells whether the module takes this fd in this mode. */
/* An empty call of the handle's mode, or of mode with flags. */
static int probe(struct sz_handle *h, unsigned int mode, unsigned int flags)
{
	struct shmem_zero_args a = {
		.size = sizeof(a), .fd = h->fd, .mode = mode, .flags = flags,
	};
	int ret;

	do {
		ret = ioctl(h->dev, SHMEM_ZERO_IOC_RANGES, &a);
		h->st.syscalls++;
		h->st.ioctls++;
	} while (ret && errno == EINTR);
	return ret ? -errno : 0;
}

/*
 * Whether st is an active swap file, by /proc/swaps: the device refuses one
 * (ETXTBSY) at sz_open()'s probe, and fallocate() would at the first flush.
 * Names there are escaped (seq_file: space, tab, newline and backslash as
 * \ooo); a line not read whole is skipped, and a name this mount namespace
 * cannot resolve, or no /proc, is no swap file here.
 */
static bool is_swap_file(const struct stat *st)
{
	char *line = NULL, *name = NULL;
	bool found = false;
	size_t cap = 0;
	struct stat sw;
	ssize_t len;
	FILE *f;

	f = fopen("/proc/swaps", "re");
	if (!f)
		return false;
	for (int nr = 0; !found && (len = getline(&line, &cap, f)) > 0; nr++) {
		size_t n = 0;

		if (!nr || line[len - 1] != '\n')	/* the header; a cut line */
			continue;
		free(name);
		name = malloc((size_t)len);
		if (!name)
			break;
		for (const char *c = line; *c != ' ' && *c != '\t' && *c != '\n'; c++) {
			if (c[0] == '\\' && c[1] >= '0' && c[1] <= '3' &&
			    c[2] >= '0' && c[2] <= '7' && c[3] >= '0' && c[3] <= '7') {
				name[n++] = (char)((c[1] - '0') << 6 | (c[2] - '0') << 3 |
						   (c[3] - '0'));
				c += 3;
			} else {
				name[n++] = *c;
			}
		}
		name[n] = 0;
		found = name[0] == '/' && !stat(name, &sw) && S_ISREG(sw.st_mode) &&
			sw.st_dev == st->st_dev && sw.st_ino == st->st_ino;
	}
	free(name);
	free(line);
	fclose(f);
	return found;
}

/*
 * The checks the module makes, so that both paths fail alike; a read-only
 * handle needs only a readable fd, a zero-in-place one a readable and
 * writable fd (the module's ZERO_IN_PLACE tells which pages were zero).
 */
static int check_fd(int fd, bool readonly, bool zero_in_place)
{
	bool reads = readonly || zero_in_place;
	struct statfs sfs;
	struct stat st;
	int fl, seals, attr[2] = { 0 };	/* the kernel's int; _IOR says long */

	if (fstat(fd, &st))
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if ((fl & O_PATH) || (reads && (fl & O_ACCMODE) == O_WRONLY) ||
	    (!readonly && (fl & O_ACCMODE) == O_RDONLY))
		return -EBADF;
	if (S_ISFIFO(st.st_mode))
		return -ESPIPE;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -ENODEV;
	/*
	 * hugetlbfs is discarded, read and mapped in huge pages; runs, maps
	 * and the fallback here are in base pages.  Refused, not misaligned.
	 */
	if (fstatfs(fd, &sfs))
		return -errno;
	if ((unsigned long)sfs.f_type == HUGETLBFS_MAGIC)
		return -EOPNOTSUPP;
	if (readonly)
		return 0;
	/* Append-only and immutable files: the device refuses them too. */
	if (!ioctl(fd, FS_IOC_GETFLAGS, attr) &&
	    (attr[0] & (FS_APPEND_FL | FS_IMMUTABLE_FL)))
		return -EPERM;
	/* Sealed memfds refuse changes; F_GET_SEALS fails on other files. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals > 0 && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
		return -EPERM;
	/* tmpfs has no swap files: memfds do not read /proc/swaps */
	if ((unsigned long)sfs.f_type != TMPFS_MAGIC && is_swap_file(&st))
		return -ETXTBSY;
	return 0;
}

SZ_EXPORT int sz_open(struct sz_handle **hp, int fd, uint64_t fd_offset,
		      uint64_t length, unsigned int flags, unsigned int batch)
{
	const unsigned int known = SZ_OPEN_FALLBACK | SZ_OPEN_NO_FALLBACK |
				   SZ_OPEN_ZERO_IN_PLACE | SZ_OPEN_READONLY |
				   SZ_OPEN_QUERY_NOREAD;
	bool readonly = flags & SZ_OPEN_READONLY;
	long page = sysconf(_SC_PAGESIZE);
	struct sz_handle *h;
	int ret;

	if (!hp)
		return -EINVAL;
	*hp = NULL;
	if (fd < 0 || (flags & ~known) || page <= 0 ||
	    ((flags & SZ_OPEN_FALLBACK) && (flags & SZ_OPEN_NO_FALLBACK)) ||
	    (readonly && (flags & SZ_OPEN_ZERO_IN_PLACE)))
		return -EINVAL;
	if (!length || ((fd_offset | length) & ((uint64_t)page - 1)) ||
	    fd_offset > LLONG_MAX || length > LLONG_MAX - fd_offset)
		return -EINVAL;
	ret = check_fd(fd, readonly, flags & SZ_OPEN_ZERO_IN_PLACE);
	if (ret)
		return ret;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	/* Our own fd: the caller's number may be closed and reused. */
	h->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (h->fd < 0) {
		ret = -errno;
		free(h);
		return ret;
	}
	h->owner = getpid();
	h->dev = -1;
	h->path = SZ_PATH_FALLBACK;
	h->flags = flags;
	h->mode = readonly ? SHMEM_ZERO_MODE_QUERY :
		  flags & SZ_OPEN_ZERO_IN_PLACE ?
		  SHMEM_ZERO_MODE_ZERO_IN_PLACE : SHMEM_ZERO_MODE_DISCARD;
	h->base = fd_offset;
	h->size = length;
	h->page = (uint64_t)page;
	h->batch = batch ? batch : SZ_DEFAULT_BATCH;
	if (!(flags & SZ_OPEN_FALLBACK)) {
		h->dev = open(SHMEM_ZERO_DEVICE, O_RDWR | O_CLOEXEC);
		h->st.syscalls++;
		ret = h->dev < 0 ? -errno : probe(h, h->mode, 0);
		/* EINVAL on an empty vector: a module without this mode. */
		if (ret == 0)
			h->path = SZ_PATH_IOCTL;
		else if (h->dev >= 0 && !sz__refused(-ret) && ret != -EINVAL)
			goto fail;	/* EPERM (sealed), ETXTBSY: both paths */
		else if (flags & SZ_OPEN_NO_FALLBACK)
			goto fail;
		else
			use_fallback(h);
	}
	/* EINVAL: a module before the flag; sz_query() goes user space */
	if (h->path == SZ_PATH_IOCTL && (flags & SZ_OPEN_QUERY_NOREAD))
		h->query_noread = !probe(h, SHMEM_ZERO_MODE_QUERY,
					 SHMEM_ZERO_QUERY_NOREAD);
	*hp = h;
	return 0;
fail:
	if (h->dev >= 0)
		close(h->dev);
	close(h->fd);
	free(h);
	return ret;
}

SZ_EXPORT void sz_free(struct sz_handle *h)
{
	if (!h)
		return;
	if (h->dev >= 0)
		close(h->dev);
	close(h->fd);
	free(h->runs);
	free(h->io);
	free(h->zero);
	free(h);
}

SZ_EXPORT int sz_close(struct sz_handle *h)
{
	int ret;

	if (!h)
		return 0;
	ret = sz_flush(h);
	sz_free(h);
	return ret;
}

SZ_EXPORT int sz_path(const struct sz_handle *h)
{
	return h ? h->path : -EINVAL;
}

/*
 * Copy src (ssize bytes) to a caller's struct of size bytes, as the kernel's
 * copy_struct_to_user(): the prefix an older caller knows, and zeros for
 * the fields of a newer caller that this library does not know.
 */
void sz__copy_out(void *dst, size_t size, const void *src, size_t ssize)
{
	memcpy(dst, src, size < ssize ? size : ssize);
	if (size > ssize)
		memset((char *)dst + ssize, 0, size - ssize);
}

SZ_EXPORT int sz_stats_v03(const struct sz_handle *h, struct sz_stats *st,
			   size_t size)
{
	struct sz_stats t;
	size_t i;

	if (!h || !st || size < SZ_STATS_SIZE_VER0)
		return -EINVAL;
	t = h->st;
	t.pending_runs = h->nr;
	t.pending_bytes = 0;
	for (i = 0; i < h->nr; i++)
		t.pending_bytes += h->runs[i].length;
	sz__copy_out(st, size, &t, sizeof(t));
	return 0;
}
SZ_SYMVER(sz_stats_v03, sz_stats@@SHMEMZERO_0.3);

/* 0.1: no size; the struct then ended in 8 reserved counters. */
SZ_EXPORT void sz_stats_v01(const struct sz_handle *h, struct sz_stats *st)
{
	if (h && st)
		sz_stats_v03(h, st, SZ_STATS_SIZE_VER0 + 8 * sizeof(uint64_t));
}
SZ_SYMVER(sz_stats_v01, sz_stats@SHMEMZERO_0.1);
