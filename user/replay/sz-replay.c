// SPDX-License-Identifier: GPL-2.0
/*
 * sz-replay: apply the RAM of a QEMU migration stream file to a memfd the
 * way the QEMU destination does (ram_load_precopy()), with a choice of
 * zero-page strategies, and measure each:
 *
 *   stock             buffer_is_zero() through the shared mapping, memset()
 *                     if not zero (QEMU 7.2): reading a hole allocates it
 *   madvise-dontneed  MADV_DONTNEED per zero page (the posted seed patch):
 *                     WRONG on shared memory, the page cache keeps the bytes
 *   punch             fallocate(PUNCH_HOLE | KEEP_SIZE) per zero run
 *   madv-remove       MADV_REMOVE per zero run
 *   seek-data         per run: skip it if SEEK_DATA finds no data, else punch
 *   mincore           per run: skip it if mincore() finds nothing resident,
 *                     else punch (blind to swapped-out pages)
 *   lib               libshmemzero on /dev/shmem_zero (one handle per block)
 *   lib-fallback      libshmemzero forced onto its fallback
 *   lib-runs          libshmemzero on the module, but zero pages coalesced
 *                     into runs here and queued once per run: what the
 *                     library costs without its per-page call
 *   skip              leave zero pages alone (upstream multifd does this for
 *                     a page's first arrival): the floor, parsing included;
 *                     WRONG on a destination that held data
 *
 * The stream is a recorded file, or a synthetic one (synth.h) handed to the
 * same callbacks, e.g. a 1 TiB block with 0.01 % of its pages holding data.
 * All blocks go into one memfd, one after the other.  A zero run is a
 * stream-order sequence of zero pages at adjacent offsets; a data page that
 * lands in a pending run flushes it first (hazard (a)), EOS flushes.
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64	/* off_t: 64-bit on i386 too */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <json-c/json.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "shmemzero.h"
#include "stream.h"
#include "synth.h"

_Static_assert(sizeof(off_t) == 8, "file offsets past 2 GiB need a 64-bit off_t");

enum strategy {
	STOCK, DONTNEED, PUNCH, MADV_REMOVE_RUN, SEEK_DATA_RUN, MINCORE_RUN,
	LIB, LIB_FALLBACK, LIB_RUNS, SKIP, NR_STRATEGIES
};

static const struct {
	const char *name;
	bool correct;		/* leaves the source's bytes on any destination */
	bool runs;		/* coalesces zero runs itself */
} strategies[NR_STRATEGIES] = {
	[STOCK]		  = { "stock", true, false },
	[DONTNEED]	  = { "madvise-dontneed", false, false },
	[PUNCH]		  = { "punch", true, true },
	[MADV_REMOVE_RUN] = { "madv-remove", true, true },
	[SEEK_DATA_RUN]	  = { "seek-data", true, true },
	[MINCORE_RUN]	  = { "mincore", true, true },
	[LIB]		  = { "lib", true, false },
	[LIB_FALLBACK]	  = { "lib-fallback", true, false },
	[LIB_RUNS]	  = { "lib-runs", true, true },
	[SKIP]		  = { "skip", false, false },
};

struct replay {
	enum strategy s;
	int prefill;			/* byte, or -1 */
	uint64_t page;
	const struct szr_info *layout;
	int fd;
	uint8_t *map;
	uint64_t size, off[SZR_MAX_BLOCKS];
	/* per-run strategies: the pending run, in file offsets */
	bool pending;
	uint64_t pstart, pend;
	unsigned char *vec;
	size_t vec_len;
	/* lib */
	struct sz_handle *h[SZR_MAX_BLOCKS];
	unsigned int batch;
	uint64_t lib_base_syscalls;
	/* measures */
	uint64_t syscalls;
	uint64_t zero_ticks, zero_t0;
	bool in_zero;
	uint64_t zero_runs, last_zero;	/* zero streaks at adjacent pages */
	char error[256];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The zero-page timers run at every zero streak and data page: a CPU tick
 * counter, converted with the run's wall time.  Under TCG the guest's
 * clocksource is the HPET and clock_gettime() a ~1 us syscall, more than
 * a SEEK_DATA over a hole: it would hide what is measured.
 */
static inline uint64_t ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __rdtsc();
#else
	return (uint64_t)(now() * 1e9);
#endif
}

/* A "Key:  N kB" line of a /proc file, in kB; -1 if missing. */
static long proc_kb(const char *path, const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long kb = -1;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			kb = strtol(line + kl + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return kb;
}

static long meminfo_kb(const char *key)
{
	return proc_kb("/proc/meminfo", key);
}

static bool is_zero(const uint8_t *p, size_t len)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i])
			return false;
	return true;
}

static int fail(struct replay *r, int err, const char *what)
{
	if (!r->error[0])
		snprintf(r->error, sizeof(r->error), "%s: %s", what,
			 strerror(err));
	return err;
}

/* Time spent on zero pages: streaks of them are timed as one interval. */
static void zero_begin(struct replay *r)
{
	if (!r->in_zero) {
		r->zero_t0 = ticks();
		r->in_zero = true;
	}
}

static void zero_end(struct replay *r)
{
	if (r->in_zero) {
		r->zero_ticks += ticks() - r->zero_t0;
		r->in_zero = false;
	}
}

/* ---- per-run strategies ------------------------------------------------- */

static int punch(struct replay *r, uint64_t start, uint64_t end)
{
	r->syscalls++;
	if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)start, (off_t)(end - start)))
		return fail(r, errno, "fallocate");
	return 0;
}

/* Queue a run in the library, block by block. */
static int queue_run(struct replay *r, uint64_t start, uint64_t end)
{
	unsigned int b;
	int ret;

	for (b = 0; b < r->layout->nr_blocks && start < end; b++) {
		uint64_t bend = r->off[b] + r->layout->blocks[b].length;
		uint64_t e = end < bend ? end : bend;

		if (start >= bend)
			continue;
		ret = sz_add_zero(r->h[b], start - r->off[b], e - start);
		if (ret)
			return fail(r, -ret, "sz_add_zero");
		start = e;
	}
	return 0;
}

static int apply_run(struct replay *r, uint64_t start, uint64_t end)
{
	size_t i, n = (end - start) / r->page;
	off_t data;

	switch (r->s) {
	case LIB_RUNS:
		return queue_run(r, start, end);
	case PUNCH:
		return punch(r, start, end);
	case MADV_REMOVE_RUN:
		r->syscalls++;
		if (madvise(r->map + start, end - start, MADV_REMOVE))
			return fail(r, errno, "madvise(MADV_REMOVE)");
		return 0;
	case SEEK_DATA_RUN:
		r->syscalls++;
		data = lseek(r->fd, (off_t)start, SEEK_DATA);
		if (data < 0 && errno != ENXIO)
			return fail(r, errno, "lseek(SEEK_DATA)");
		if (data < 0 || (uint64_t)data >= end)
			return 0;			/* all hole */
		return punch(r, (uint64_t)data, end);
	case MINCORE_RUN:
		if (n > r->vec_len) {
			unsigned char *v = realloc(r->vec, n);

			if (!v)
				return fail(r, ENOMEM, "mincore vector");
			r->vec = v;
			r->vec_len = n;
		}
		r->syscalls++;
		if (mincore(r->map + start, end - start, r->vec))
			return fail(r, errno, "mincore");
		for (i = 0; i < n && !(r->vec[i] & 1); i++)
			;
		return i < n ? punch(r, start + i * r->page, end) : 0;
	default:
		return 0;
	}
}

static int flush_pending(struct replay *r)
{
	if (!r->pending)
		return 0;
	r->pending = false;
	return apply_run(r, r->pstart, r->pend);
}

/* ---- the strategies' three operations ----------------------------------- */

static int zero_page(struct replay *r, unsigned int b, uint64_t off)
{
	uint64_t fo = r->off[b] + off;
	uint8_t *host = r->map + fo;
	int ret;

	switch (r->s) {
	case SKIP:
		return 0;
	case STOCK:
		if (!is_zero(host, r->page))
			memset(host, 0, r->page);
		return 0;
	case DONTNEED:
		r->syscalls++;
		if (madvise(host, r->page, MADV_DONTNEED) == 0)
			return 0;
		if (!is_zero(host, r->page))	/* the patch's fallback */
			memset(host, 0, r->page);
		return 0;
	case LIB:
	case LIB_FALLBACK:
		ret = sz_add_zero(r->h[b], off, r->page);
		return ret ? fail(r, -ret, "sz_add_zero") : 0;
	default:
		if (r->pending && fo == r->pend) {
			r->pend += r->page;
			return 0;
		}
		ret = flush_pending(r);
		r->pending = true;
		r->pstart = fo;
		r->pend = fo + r->page;
		return ret;
	}
}

static int before_write(struct replay *r, unsigned int b, uint64_t off)
{
	uint64_t fo = r->off[b] + off;
	int ret;

	if (r->s != LIB && r->s != LIB_FALLBACK && r->s != LIB_RUNS) {
		if (r->pending && fo >= r->pstart && fo < r->pend)
			return flush_pending(r);
		return 0;
	}
	if (r->s == LIB_RUNS && r->pending && fo >= r->pstart && fo < r->pend &&
	    (ret = flush_pending(r)))
		return ret;
	ret = sz_before_write(r->h[b], off, r->page);
	return ret ? fail(r, -ret, "sz_before_write") : 0;
}

static int flush(struct replay *r)
{
	unsigned int b;
	int ret;

	ret = flush_pending(r);
	if (ret || (r->s != LIB && r->s != LIB_FALLBACK && r->s != LIB_RUNS))
		return ret;
	for (b = 0; b < r->layout->nr_blocks; b++) {
		ret = sz_flush(r->h[b]);
		if (ret)
			return fail(r, -ret, "sz_flush");
	}
	return 0;
}

/* ---- parser callbacks --------------------------------------------------- */

static int on_blocks(void *ctx, const struct szr_block *blocks, unsigned int n)
{
	struct replay *r = ctx;
	unsigned int i;

	/* The layout was taken from a first pass: it must be the same. */
	if (n != r->layout->nr_blocks)
		return EINVAL;
	for (i = 0; i < n; i++)
		if (blocks[i].length != r->layout->blocks[i].length)
			return EINVAL;
	return 0;
}

static int write_page(struct replay *r, unsigned int b, uint64_t off,
		      const uint8_t *data, int byte)
{
	uint64_t t;
	int ret;

	zero_end(r);
	t = ticks();
	ret = before_write(r, b, off);
	r->zero_ticks += ticks() - t;
	if (ret)
		return ret;
	if (data)
		memcpy(r->map + r->off[b] + off, data, r->page);
	else
		memset(r->map + r->off[b] + off, byte, r->page);
	return 0;
}

static int on_page(void *ctx, unsigned int b, uint64_t off, const uint8_t *d)
{
	return write_page(ctx, b, off, d, 0);
}

static int on_fill(void *ctx, unsigned int b, uint64_t off, uint8_t byte)
{
	struct replay *r = ctx;

	if (byte)		/* ram_handle_compressed(): memset(ch) */
		return write_page(r, b, off, NULL, byte);
	zero_begin(r);
	if (r->off[b] + off != r->last_zero + r->page || !r->zero_runs)
		r->zero_runs++;
	r->last_zero = r->off[b] + off;
	return zero_page(r, b, off);
}

static int on_eos(void *ctx)
{
	struct replay *r = ctx;
	uint64_t t;
	int ret;

	zero_end(r);
	t = ticks();
	ret = flush(r);		/* hazards (b) and (c): before the sync */
	r->zero_ticks += ticks() - t;
	return ret;
}

/* ---- a run -------------------------------------------------------------- */

struct result {
	double zero_ms, total_ms;
	uint64_t syscalls, faults, zero_runs;
	long shmem_kb, alloc_kb, huge_kb, anon_kb;
	uint64_t compared, wrong, stale;
	const char *path;
	char error[400];
};

/* What a run replays: a stream file, or a synthetic stream. */
struct input {
	const uint8_t *stream;
	size_t stream_len;
	const struct szr_synth *synth;
	const uint8_t *src;		/* the source's image of src_block */
	int src_block;
};


static int prefill_dest(struct replay *r)
{
	const size_t chunk = 1 << 20;
	uint8_t *buf = malloc(chunk);
	uint64_t off;

	if (!buf)
		return ENOMEM;
	memset(buf, r->prefill, chunk);
	for (off = 0; off < r->size; off += chunk) {
		size_t n = r->size - off < chunk ? r->size - off : chunk;

		if (pwrite(r->fd, buf, n, (off_t)off) != (ssize_t)n) {
			free(buf);
			return errno ? errno : EIO;
		}
	}
	free(buf);
	return 0;
}

/* Pages of block b that differ from the source image; stale: still prefill. */
static int compare(struct replay *r, unsigned int b, const uint8_t *src,
		   struct result *res)
{
	const size_t chunk = 256 * r->page;
	uint64_t len = r->layout->blocks[b].length, off, p;
	uint8_t *buf = malloc(chunk), *fill = malloc(r->page);

	if (!buf || !fill) {
		free(buf);
		free(fill);
		return ENOMEM;
	}
	memset(fill, r->prefill < 0 ? 0 : r->prefill, r->page);
	for (off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		/* pread() of a tmpfs hole reads zeros without allocating */
		if (pread(r->fd, buf, n, (off_t)(r->off[b] + off)) != (ssize_t)n) {
			free(buf);
			free(fill);
			return errno ? errno : EIO;
		}
		for (p = 0; p < n; p += r->page) {
			if (!memcmp(buf + p, src + off + p, r->page))
				continue;
			res->wrong++;
			if (r->prefill >= 0 && !memcmp(buf + p, fill, r->page))
				res->stale++;
		}
	}
	res->compared += len / r->page;
	free(buf);
	free(fill);
	return 0;
}

static bool stale_page(const struct replay *r, const uint8_t *p)
{
	uint64_t i;

	if (r->prefill < 0)
		return false;
	for (i = 0; i < r->page; i++)
		if (p[i] != r->prefill)
			return false;
	return true;
}

/*
 * A synthetic stream: each data page must hold its contents, every other
 * page read as zero.  Beyond the data pages only what the file has
 * allocated (SEEK_DATA) is read, so a sparse 1 TiB destination costs its
 * data, not its size.
 */
static int synth_compare(struct replay *r, const struct szr_synth *sy,
			 struct result *res)
{
	const size_t chunk = 256 * r->page;
	uint8_t *buf = malloc(chunk), *want = malloc(r->page);
	uint64_t i, next = 0, pos = 0, p;
	off_t data, hole;
	int ret = 0;

	if (!buf || !want) {
		ret = ENOMEM;
		goto out;
	}
	for (i = 0; i < sy->nr_data; i++) {
		szr_synth_fill(sy, sy->data[i], want);
		if (pread(r->fd, buf, r->page, (off_t)(sy->data[i] * r->page)) !=
		    (ssize_t)r->page) {
			ret = errno ? errno : EIO;
			goto out;
		}
		if (memcmp(buf, want, r->page)) {
			res->wrong++;
			res->stale += stale_page(r, buf);
		}
	}
	while (pos < sy->size) {
		data = lseek(r->fd, (off_t)pos, SEEK_DATA);
		if (data < 0) {
			ret = errno == ENXIO ? 0 : errno;
			break;
		}
		hole = lseek(r->fd, data, SEEK_HOLE);
		if (hole < 0) {
			ret = errno;
			break;
		}
		for (pos = (uint64_t)data; pos < (uint64_t)hole; pos += chunk) {
			size_t n = (uint64_t)hole - pos < chunk ?
				   (uint64_t)hole - pos : chunk;

			if (pread(r->fd, buf, n, (off_t)pos) != (ssize_t)n) {
				ret = errno ? errno : EIO;
				goto out;
			}
			for (p = 0; p < n; p += r->page) {
				uint64_t idx = (pos + p) / r->page;

				while (next < sy->nr_data && sy->data[next] < idx)
					next++;
				if ((next < sy->nr_data && sy->data[next] == idx) ||
				    is_zero(buf + p, r->page))
					continue;	/* data: checked above */
				res->wrong++;
				res->stale += stale_page(r, buf + p);
			}
		}
		pos = (uint64_t)hole;
	}
	res->compared += sy->size / r->page;
out:
	free(buf);
	free(want);
	return ret;
}

static void run_one(enum strategy s, int prefill, const struct input *in,
		    const struct szr_info *layout, unsigned int batch,
		    struct result *res)
{
	static const struct szr_ops ops = {
		.blocks = on_blocks, .page = on_page, .fill = on_fill,
		.eos = on_eos,
	};
	struct replay r = {
		.s = s, .prefill = prefill, .page = layout->page_size,
		.layout = layout, .fd = -1, .batch = batch,
	};
	struct szr_info info;
	struct szr_error err;
	struct rusage ru0, ru1;
	long shmem0, huge0, anon0;
	struct stat st;
	unsigned int b;
	uint64_t tk0;
	double t0;
	int ret;

	memset(res, 0, sizeof(*res));
	for (b = 0; b < layout->nr_blocks; b++) {
		r.off[b] = r.size;
		r.size += layout->blocks[b].length;
	}
	shmem0 = meminfo_kb("Shmem");
	huge0 = meminfo_kb("ShmemHugePages");
	anon0 = proc_kb("/proc/self/status", "RssAnon");
	/* The destination is mapped whole, as QEMU maps guest RAM. */
	if (r.size > SIZE_MAX) {
		fail(&r, EFBIG, "a RAM larger than this address space");
		goto out;
	}
	r.fd = memfd_create("sz-replay-dest", MFD_CLOEXEC);
	if (r.fd < 0 || ftruncate(r.fd, (off_t)r.size)) {
		fail(&r, errno, "memfd");
		goto out;
	}
	if (prefill >= 0 && (ret = prefill_dest(&r))) {
		fail(&r, ret, "pre-fill");
		goto out;
	}
	r.map = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
	if (r.map == MAP_FAILED) {
		r.map = NULL;
		fail(&r, errno, "mmap");
		goto out;
	}
	if (s == LIB || s == LIB_FALLBACK || s == LIB_RUNS) {
		unsigned int flags = s != LIB_FALLBACK ? SZ_OPEN_NO_FALLBACK :
						SZ_OPEN_FALLBACK;

		for (b = 0; b < layout->nr_blocks; b++) {
			struct sz_stats lst;

			ret = sz_open(&r.h[b], r.fd, r.off[b],
				      layout->blocks[b].length, flags, batch);
			if (ret) {
				fail(&r, -ret, s != LIB_FALLBACK ?
				     "sz_open (is shmem_zero.ko loaded?)" :
				     "sz_open");
				goto out;
			}
			sz_stats(r.h[b], &lst, sizeof(lst));
			r.lib_base_syscalls += lst.syscalls;
		}
		res->path = sz_path(r.h[0]) == SZ_PATH_IOCTL ? "ioctl" :
							       "fallback";
	}

	getrusage(RUSAGE_SELF, &ru0);
	t0 = now();
	tk0 = ticks();
	if (in->synth)
		ret = szr_synth_emit(in->synth, &ops, &r, &info, &err);
	else
		ret = szr_parse(in->stream, in->stream_len, &ops, &r, &info,
				&err);
	if (!ret)
		on_eos(&r);		/* nothing may stay queued */
	zero_end(&r);
	res->total_ms = (now() - t0) * 1e3;
	tk0 = ticks() - tk0;
	getrusage(RUSAGE_SELF, &ru1);
	if (ret) {
		snprintf(res->error, sizeof(res->error), "offset %" PRIu64
			 ": %s", err.offset, r.error[0] ? r.error : err.msg);
		goto out;
	}
	if (r.error[0])
		goto out;
	res->zero_ms = tk0 ? res->total_ms * (double)r.zero_ticks / (double)tk0 :
			     0;
	res->zero_runs = r.zero_runs;
	res->syscalls = r.syscalls;
	for (b = 0; b < layout->nr_blocks && r.h[b]; b++) {
		struct sz_stats lst;

		sz_stats(r.h[b], &lst, sizeof(lst));
		res->syscalls += lst.syscalls;
	}
	res->syscalls -= r.lib_base_syscalls;	/* open and probe */
	res->faults = (uint64_t)(ru1.ru_minflt - ru0.ru_minflt);
	res->shmem_kb = meminfo_kb("Shmem") - shmem0;
	res->huge_kb = meminfo_kb("ShmemHugePages") - huge0;
	res->anon_kb = proc_kb("/proc/self/status", "RssAnon") - anon0;
	res->alloc_kb = fstat(r.fd, &st) ? -1 : (long)(st.st_blocks / 2);
	if (in->synth)
		ret = synth_compare(&r, in->synth, res);
	else if (in->src)
		ret = compare(&r, (unsigned int)in->src_block, in->src, res);
	else
		ret = 0;
	if (ret)
		fail(&r, ret, "compare");
out:
	if (r.error[0] && !res->error[0])
		snprintf(res->error, sizeof(res->error), "%s", r.error);
	for (b = 0; b < layout->nr_blocks; b++)
		sz_close(r.h[b]);
	free(r.vec);
	if (r.map)
		munmap(r.map, r.size);
	if (r.fd >= 0)
		close(r.fd);
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: sz-replay [OPTIONS] STREAM\n"
"       sz-replay [OPTIONS] --synthetic SIZE,PERCENT\n"
"Apply the RAM of a QEMU 7.2 migration stream file to a memfd as the QEMU\n"
"destination does, once per strategy and pre-fill, and measure each run.\n"
"\n"
"  --synthetic SIZE,PERCENT  no file: one block of SIZE (K/M/G/T suffix)\n"
"                    with PERCENT of its pages (random, fixed seed) holding\n"
"                    data, the rest zero pages; contents are checked\n"
"  --seed N          of the synthetic data pages (default 1)\n"
"  --repeat N        run every strategy and pre-fill N times (default 1);\n"
"                    after the first, in an order shuffled by --seed\n"
"  --strategy LIST   comma-separated, or \"all\" (default): stock,\n"
"                    madvise-dontneed, punch, madv-remove, seek-data,\n"
"                    mincore, lib, lib-fallback, lib-runs, skip\n"
"  --prefill BYTE    pre-fill the destination with BYTE (0-255) first, as\n"
"                    a reused destination; \"none\": empty; repeatable\n"
"  --source FILE     the source's memory image of one block: count wrong\n"
"                    pages (stale: still the pre-fill bytes)\n"
"  --source-block N  the block FILE holds (default: the largest)\n"
"  --batch N         libshmemzero batch (runs per ioctl; default 4096)\n"
"  --json            one JSON object per run (with its repetition)\n"
"  --info            parse only, print the stream's summary\n"
"\n"
"Exit: 0 ok; 1 error (malformed stream: message with the byte offset);\n"
"2 usage; 3 a strategy that should be correct left wrong pages.\n");
}

static uint8_t *map_file(const char *name, size_t *len)
{
	int fd = open(name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *p;

	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "sz-replay: %s: %s\n", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {	/* mapped whole: i386 */
		fprintf(stderr, "sz-replay: %s: %s\n", name, strerror(EFBIG));
		close(fd);
		return NULL;
	}
	*len = (size_t)st.st_size;
	if (!*len) {		/* the parser says what is missing */
		close(fd);
		return (uint8_t *)"";
	}
	p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "sz-replay: %s: %s\n", name, strerror(errno));
		return NULL;
	}
	return p;
}

static int parse_strategies(const char *arg, bool *want)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int i, ret = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		bool found = false;

		for (i = 0; i < NR_STRATEGIES; i++)
			if (!strcmp(tok, "all") || !strcmp(tok, strategies[i].name)) {
				want[i] = true;
				found = true;
			}
		if (!found) {
			fprintf(stderr, "sz-replay: unknown strategy '%s'\n", tok);
			ret = -1;
		}
	}
	free(copy);
	return ret;
}

/* xorshift64: the order of the strategies in repetitions after the first. */
static uint64_t shuffle_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void print_info(const struct szr_info *in)
{
	unsigned int b;

	printf("machine %s, page size %u, %u RAM blocks:\n", in->machine,
	       in->page_size, in->nr_blocks);
	for (b = 0; b < in->nr_blocks; b++)
		printf("  %-24s %12" PRIu64 " bytes\n", in->blocks[b].name,
		       in->blocks[b].length);
	printf("pages: %" PRIu64 " data, %" PRIu64 " zero, %" PRIu64
	       " filled; %" PRIu64 " ram sections, %" PRIu64 " EOS, %" PRIu64
	       " device sections, %" PRIu64 " commands; VMDESCRIPTION %s\n",
	       in->data_pages, in->zero_pages, in->fill_pages, in->ram_sections,
	       in->eos, in->device_sections, in->commands,
	       in->vmdesc ? "present" : "absent");
}

static void json_add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

static void print_json(enum strategy s, const char *pf, unsigned int rep,
		       const struct result *res, const struct szr_info *layout,
		       bool checked)
{
	struct json_object *o = json_object_new_object();

	json_add(o, "strategy", json_object_new_string(strategies[s].name));
	json_add(o, "prefill", json_object_new_string(pf));
	json_add(o, "rep", json_object_new_uint64(rep));
	json_add(o, "expected_correct", json_object_new_boolean(strategies[s].correct));
	if (res->error[0]) {
		json_add(o, "error", json_object_new_string(res->error));
		goto print;
	}
	json_add(o, "zero_ms", json_object_new_double(res->zero_ms));
	json_add(o, "total_ms", json_object_new_double(res->total_ms));
	json_add(o, "syscalls", json_object_new_uint64(res->syscalls));
	json_add(o, "minor_faults", json_object_new_uint64(res->faults));
	json_add(o, "shmem_kb", json_object_new_int64(res->shmem_kb));
	json_add(o, "alloc_kb", json_object_new_int64(res->alloc_kb));
	json_add(o, "zero_pages", json_object_new_uint64(layout->zero_pages));
	json_add(o, "data_pages", json_object_new_uint64(layout->data_pages));
	json_add(o, "zero_runs", json_object_new_uint64(res->zero_runs));
	json_add(o, "shmem_huge_kb", json_object_new_int64(res->huge_kb));
	json_add(o, "anon_kb", json_object_new_int64(res->anon_kb));
	if (res->path)
		json_add(o, "lib_path", json_object_new_string(res->path));
	if (checked) {
		json_add(o, "compared_pages", json_object_new_uint64(res->compared));
		json_add(o, "wrong_pages", json_object_new_uint64(res->wrong));
		json_add(o, "stale_pages", json_object_new_uint64(res->stale));
	}
print:
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* One line (a JSON object with json) per run. */
static void print_run(enum strategy s, int prefill, unsigned int rep,
		      const struct result *res, const struct szr_info *layout,
		      bool json, bool checked)
{
	char pf[8];

	snprintf(pf, sizeof(pf), prefill < 0 ? "none" : "0x%02x", prefill);
	if (json) {
		print_json(s, pf, rep, res, layout, checked);
		return;
	}
	if (res->error[0]) {
		printf("%-17s %7s error: %s\n", strategies[s].name, pf,
		       res->error);
		return;
	}
	printf("%-17s %7s %10.2f %10.2f %9" PRIu64 " %8" PRIu64 " %10.1f "
	       "%10.1f", strategies[s].name, pf, res->zero_ms, res->total_ms,
	       res->syscalls, res->faults, res->shmem_kb / 1024.0,
	       res->alloc_kb / 1024.0);
	if (checked)
		printf(" %" PRIu64 "/%" PRIu64 " (%" PRIu64 ")%s", res->wrong,
		       res->compared, res->stale,
		       !res->wrong || strategies[s].correct ? "" :
		       s == DONTNEED ? " expected: MADV_DONTNEED keeps the "
		       "shmem page cache" : " expected: stale bytes never zeroed");
	printf("\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "strategy", required_argument, NULL, 's' },
		{ "prefill", required_argument, NULL, 'p' },
		{ "source", required_argument, NULL, 'S' },
		{ "source-block", required_argument, NULL, 'B' },
		{ "batch", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "info", no_argument, NULL, 'i' },
		{ "synthetic", required_argument, NULL, 'y' },
		{ "seed", required_argument, NULL, 'e' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool want[NR_STRATEGIES] = { false }, any = false, json = false;
	bool info_only = false;
	int prefills[16], nr_prefills = 0, src_block = -1, status = 0, c, i, k;
	const char *source = NULL, *source_block = NULL, *synthetic = NULL;
	unsigned int batch = 0, repeat = 1, rep;
	uint64_t seed = 1, shuf;
	size_t src_len = 0;
	struct szr_synth synth;
	struct input in = { .src_block = -1 };
	struct szr_info layout;
	struct szr_error err;
	unsigned int b;
	char *end;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_strategies(optarg, want))
				return 2;
			break;
		case 'p':
			if (nr_prefills == 16)
				return 2;
			if (!strcmp(optarg, "none")) {
				prefills[nr_prefills++] = -1;
				break;
			}
			errno = 0;
			k = (int)strtol(optarg, &end, 0);
			if (errno || *end || k < 0 || k > 255) {
				fprintf(stderr, "sz-replay: bad byte '%s'\n",
					optarg);
				return 2;
			}
			prefills[nr_prefills++] = k;
			break;
		case 'S':
			source = optarg;
			break;
		case 'B':
			source_block = optarg;
			break;
		case 'b':
			batch = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'j':
			json = true;
			break;
		case 'i':
			info_only = true;
			break;
		case 'y':
			synthetic = optarg;
			break;
		case 'e':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'r':
			repeat = (unsigned int)strtoul(optarg, NULL, 0);
			if (!repeat)
				repeat = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - (synthetic ? 0 : 1) || (synthetic && source)) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < NR_STRATEGIES; i++)
		any |= want[i];
	if (!any)
		for (i = 0; i < NR_STRATEGIES; i++)
			want[i] = true;
	if (!nr_prefills)
		prefills[nr_prefills++] = -1;

	if (synthetic) {
		long page = sysconf(_SC_PAGESIZE);

		if (szr_synth_init(&synth, synthetic, seed, (uint32_t)page))
			return 2;
		in.synth = &synth;
		szr_synth_emit(&synth, NULL, NULL, &layout, &err);
	} else {
		in.stream = map_file(argv[optind], &in.stream_len);
		if (!in.stream)
			return 1;
		/* First pass: validate, and learn the blocks to lay them out. */
		if (szr_parse(in.stream, in.stream_len, NULL, NULL, &layout,
			      &err)) {
			fprintf(stderr, "sz-replay: %s: offset %" PRIu64 ": %s\n",
				argv[optind], err.offset, err.msg);
			return 1;
		}
	}
	if (info_only) {
		print_info(&layout);
		return 0;
	}
	if (source) {
		for (b = 0; b < layout.nr_blocks; b++)
			if (source_block ?
			    !strcmp(layout.blocks[b].name, source_block) :
			    (src_block < 0 || layout.blocks[b].length >
			     layout.blocks[src_block].length))
				src_block = (int)b;
		if (src_block < 0) {
			fprintf(stderr, "sz-replay: no RAM block '%s'\n",
				source_block);
			return 1;
		}
		in.src = map_file(source, &src_len);
		in.src_block = src_block;
		if (!in.src)
			return 1;
		if (src_len != layout.blocks[src_block].length) {
			fprintf(stderr, "sz-replay: %s has %zu bytes, block "
				"'%s' %" PRIu64 "\n", source, src_len,
				layout.blocks[src_block].name,
				layout.blocks[src_block].length);
			return 1;
		}
	}
	if (!json)
		printf("%-17s %7s %10s %10s %9s %8s %10s %10s %s\n", "strategy",
		       "prefill", "zero_ms", "total_ms", "syscalls", "faults",
		       "shmem_MiB", "alloc_MiB", in.src || in.synth ?
		       "wrong/compared (stale)" : "");
	shuf = seed * 0x9e3779b97f4a7c15ULL | 1;
	for (rep = 0; rep < repeat; rep++)
		for (k = 0; k < nr_prefills; k++) {
			unsigned int order[NR_STRATEGIES], n;

			/*
			 * The first repetition in the listed order, the later
			 * ones shuffled (seeded, repeatable): no strategy
			 * always runs first, on a cold cache.
			 */
			for (n = 0; n < NR_STRATEGIES; n++)
				order[n] = n;
			for (n = NR_STRATEGIES - 1; rep && n > 0; n--) {
				unsigned int r = (unsigned int)(shuffle_next(&shuf) % (n + 1));
				unsigned int t = order[n];

				order[n] = order[r];
				order[r] = t;
			}
			for (n = 0; n < NR_STRATEGIES; n++) {
				struct result res;

				i = (int)order[n];
				if (!want[i])
					continue;
				run_one((enum strategy)i, prefills[k], &in,
					&layout, batch, &res);
				if (res.error[0])
					status = 1;
				else if (strategies[i].correct && res.wrong &&
					 !status)
					status = 3;
				print_run((enum strategy)i, prefills[k], rep,
					  &res, &layout, json,
					  in.src || in.synth);
			}
		}
	if (synthetic)
		szr_synth_free(&synth);
	fflush(stdout);
	return status;
}
