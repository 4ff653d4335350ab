/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by shmem_zero_test.c and shmem_zero_reclaim_test.c:
 * ioctl wrappers, file and sysfs access, /proc counters, tagged page
 * contents, a zram swap device.  Everything is static inline, so a test that
 * does not use a helper does not warn about it.
 */
#ifndef SHMEM_ZERO_UTIL_H
#define SHMEM_ZERO_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/shmem_zero.h>
#include <linux/udmabuf.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB		0x0004U
#endif

#define PG		4096ULL
#define KB		1024LL
#define MIB		(1024ULL * 1024)
#define DISCARD		SHMEM_ZERO_MODE_DISCARD
#define QUERY		SHMEM_ZERO_MODE_QUERY
#define GARBAGE		0xdeadbeefcafef00dULL
#define CHUNK_PAGES	256ULL
/* st_blocks of @pages resident pages */
#define BLK(pages)	((long long)((pages) * PG / 512))
#define NOUT		11	/* output fields, ranges_done .. busy_pages */

#define THP_DIR		"/sys/kernel/mm/transparent_hugepage"
#define THP_SYSFS	THP_DIR "/shmem_enabled"

_Static_assert(sizeof(struct shmem_zero_args) == SHMEM_ZERO_ARGS_SIZE_VER1,
	       "tests are written for struct version VER1");

static inline int memfd(const char *name, uint64_t size, unsigned int flags)
{
	int fd = memfd_create(name, MFD_CLOEXEC | flags);

	if (fd < 0)
		return -1;
	if (size && ftruncate(fd, size)) {
		close(fd);
		return -1;
	}
	return fd;
}

static inline int open_dev(void)
{
	return open(SHMEM_ZERO_DEVICE, O_RDWR | O_CLOEXEC);
}

static inline void args_init(struct shmem_zero_args *a, int fd, uint32_t mode,
			     const struct shmem_zero_range *r, uint64_t nr)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->fd = fd;
	a->mode = mode;
	a->ranges = (uintptr_t)r;
	a->nr_ranges = nr;
}

/* The NOUT output fields, as an array. */
static inline __u64 *outs(struct shmem_zero_args *a)
{
	return &a->ranges_done;
}

/* Fill every output field with garbage, to see that failures write them. */
static inline void args_poison_out(struct shmem_zero_args *a)
{
	for (int i = 0; i < NOUT; i++)
		outs(a)[i] = GARBAGE;
}

/* 0 on success, else errno. */
static inline int sz(int dev, struct shmem_zero_args *a)
{
	return ioctl(dev, SHMEM_ZERO_IOC_RANGES, a) ? errno : 0;
}

static inline int sz_call(int dev, int fd, uint32_t mode,
			  const struct shmem_zero_range *r, uint64_t nr,
			  void *map, uint64_t map_len, struct shmem_zero_args *a)
{
	args_init(a, fd, mode, r, nr);
	a->map = (uintptr_t)map;
	a->map_len = map_len;
	return sz(dev, a);
}

static inline long long blocks(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : (long long)st.st_blocks;
}

static inline bool file_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok;
}

/* The first line of a small file, without its newline. */
static inline bool file_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return true;
}

/* The bracketed choice of a sysfs knob: "always [never]" gives "never". */
static inline bool sysfs_choice(const char *path, char *out, size_t len)
{
	char buf[128], *s, *e;

	if (!file_read(path, buf, sizeof(buf)))
		return false;
	s = strchr(buf, '[');
	e = s ? strchr(s, ']') : NULL;
	if (!e || (size_t)(e - s - 1) >= len)
		return false;
	memcpy(out, s + 1, e - s - 1);
	out[e - s - 1] = 0;
	return true;
}

/* The number after "key" and @sep in a /proc file, or -1. */
static inline long long kv_sep(const char *path, const char *key, char sep)
{
	size_t kl = strlen(key);
	long long v = -1;
	char line[256];
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, kl) && line[kl] == sep) {
			v = strtoll(line + kl + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* The number after "key:" in a /proc file such as meminfo or status, or -1. */
static inline long long kv_kb(const char *path, const char *key)
{
	return kv_sep(path, key, ':');
}

/* A counter of /proc/vmstat ("name value" lines), or -1. */
static inline long long vmstat(const char *key)
{
	return kv_sep("/proc/vmstat", key, ' ');
}

/*
 * /proc/meminfo, after folding the per-cpu vmstat deltas into the globals
 * (root only; best effort: EINVAL when some counter is transiently negative).
 */
static inline long long meminfo_kb(const char *key)
{
	file_write("/proc/sys/vm/stat_refresh", "1\n");
	return kv_kb("/proc/meminfo", key);
}

/*
 * Before 6.2 (SPLIT_RSS_COUNTING) a task's own page faults count in a cache
 * of its own that reaches mm->rss_stat, which /proc/PID/status reads, only
 * every 66 faults ("events") of that task: its RssShmem could lag by 65
 * pages and catch up at any later fault, the stack's or the heap's. Read
 * faults on pages of a private anonymous mapping map the shared zero page and
 * count nothing, but each is an event: 130 of them flush the cache at least
 * once and leave nothing behind it (MADV_NOHUGEPAGE: no huge zero page, and
 * no merging with a neighbour that has one). 6.2+ (a percpu_counter per mm,
 * read without its per-CPU deltas) does not need it.
 */
static inline void rss_sync_self(void)
{
	const size_t n = 130, pg = (size_t)sysconf(_SC_PAGESIZE);
	volatile char *m = mmap(NULL, n * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED) {
		perror("rss_sync_self: mmap");
		return;
	}
	madvise((void *)m, n * pg, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < n; i++)
		(void)m[i * pg];
	munmap((void *)m, n * pg);
}

/* RssShmem of a process, with this one's own cache flushed first, or -1. */
static inline long long rss_shmem_kb(pid_t pid)
{
	char path[64];

	if (pid == getpid())
		rss_sync_self();
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	return kv_kb(path, "RssShmem");
}

static inline long long llabsdiff(long long a, long long b)
{
	return a > b ? a - b : b - a;
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/*
 * Page contents: page with tag t (t != 0) holds words (0xA5 << 56) | t << 9 | i,
 * different for every page and word and never zero; tag 0 means all zero.
 */
static inline uint64_t tagw(uint64_t tag, unsigned int i)
{
	return (0xA5ULL << 56) | (tag << 9) | i;
}

static inline void page_fill(void *p, uint64_t tag)
{
	uint64_t *q = p;

	for (unsigned int i = 0; i < PG / 8; i++)
		q[i] = tag ? tagw(tag, i) : 0;
}

static inline bool page_is(const void *p, uint64_t tag)
{
	const uint64_t *q = p;

	if (!tag) {
		for (unsigned int i = 0; i < PG / 8; i++)
			if (q[i])
				return false;
		return true;
	}
	for (unsigned int i = 0; i < PG / 8; i++)
		if (q[i] != tagw(tag, i))
			return false;
	return true;
}

static char iobuf[CHUNK_PAGES * PG] __attribute__((aligned(4096)));

/*
 * Pages [first, first + n) get tags[p] when tags != NULL, else tag base + p
 * (base 0: zeros, written).
 */
static inline int fill_pages(int fd, uint64_t first, uint64_t n, uint64_t base,
			     const uint64_t *tags)
{
	for (uint64_t p = first; p < first + n; p += CHUNK_PAGES) {
		uint64_t c = first + n - p < CHUNK_PAGES ? first + n - p : CHUNK_PAGES;

		for (uint64_t i = 0; i < c; i++)
			page_fill(iobuf + i * PG,
				  tags ? tags[p + i] : base ? base + p + i : 0);
		if (pwrite(fd, iobuf, c * PG, p * PG) != (ssize_t)(c * PG))
			return -1;
	}
	return 0;
}

/*
 * Number of pages in [first, first + n) whose contents differ from the
 * expectation: tags[p] if tags, else base + p if base, else zero.
 * *first_bad gets the first such page (or -1).  -1 on read error.
 */
static inline long long bad_pages(int fd, uint64_t first, uint64_t n,
				  uint64_t base, const uint64_t *tags,
				  long long *first_bad)
{
	long long bad = 0;

	if (first_bad)
		*first_bad = -1;
	for (uint64_t p = first; p < first + n; p += CHUNK_PAGES) {
		uint64_t c = first + n - p < CHUNK_PAGES ? first + n - p : CHUNK_PAGES;

		if (pread(fd, iobuf, c * PG, p * PG) != (ssize_t)(c * PG))
			return -1;
		for (uint64_t i = 0; i < c; i++) {
			uint64_t t = tags ? tags[p + i] : base ? base + p + i : 0;

			if (!page_is(iobuf + i * PG, t)) {
				if (first_bad && *first_bad < 0)
					*first_bad = p + i;
				bad++;
			}
		}
	}
	return bad;
}

/*
 * A folio faulted in, written or read very recently may still sit in a
 * per-CPU LRU batch (lru_add, activate, mlock), and the batch holds a
 * reference: RECLAIM then rightly counts the page busy.  Tests that expect
 * every zero page freed flush those batches first.  mlock() and munlock()
 * drain the batches of the CPU they run on (mlock_fixup ->
 * mlock_vma_pages_range -> lru_add_drain; 6.1's do_mlock no longer calls
 * lru_add_drain_all), so do both on every CPU we may run on.
 */
static inline void lru_flush(void)
{
	static char page[PG] __attribute__((aligned(4096)));
	cpu_set_t old, one;

	if (sched_getaffinity(0, sizeof(old), &old))
		return;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &old))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			continue;
		page[0] = 1;
		if (!mlock(page, PG))
			munlock(page, PG);
	}
	sched_setaffinity(0, sizeof(old), &old);
}

/*
 * How this kernel's udmabuf holds a memfd's pages, asked of RECLAIM: a
 * udmabuf over UDMABUF_PROBE zero pages of a memfd of its own makes RECLAIM
 * free none of them and report all pinned (*pins: memfd_pin_folios(),
 * 6.11+) or all busy (plain page references from shmem_read_mapping_page()
 * before it); once the udmabuf is closed, RECLAIM frees them all.  @udev is
 * /dev/udmabuf.  0, or the step that failed: 1 the memfd or
 * UDMABUF_CREATE (errno), 2 RECLAIM failed or freed a page, 3 neither all
 * pinned nor all busy, 4 not all freed once closed.
 */
#define UDMABUF_PROBE	32ULL

static inline int udmabuf_holds(int dev, int udev, bool *pins)
{
	struct shmem_zero_range r = { 0, UDMABUF_PROBE * PG };
	struct udmabuf_create c = {
		.flags = UDMABUF_FLAGS_CLOEXEC, .size = UDMABUF_PROBE * PG,
	};
	struct shmem_zero_args a;
	int fd, buf, step = 1, e;

	fd = memfd("udmabuf-probe", UDMABUF_PROBE * PG, MFD_ALLOW_SEALING);
	if (fd < 0)
		return step;
	c.memfd = fd;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK))
		goto out;
	buf = ioctl(udev, UDMABUF_CREATE, &c);	/* allocates the holes */
	if (buf < 0)
		goto out;
	lru_flush();	/* no reference but the udmabuf's is extra */
	e = sz_call(dev, fd, SHMEM_ZERO_MODE_RECLAIM, &r, 1, NULL, 0, &a);
	close(buf);
	step = 2;
	if (e || a.freed_pages)
		goto out;
	*pins = a.pinned_pages == UDMABUF_PROBE;
	step = 3;
	if (!*pins && (a.pinned_pages || a.busy_pages != UDMABUF_PROBE))
		goto out;
	lru_flush();
	step = 4;
	if (sz_call(dev, fd, SHMEM_ZERO_MODE_RECLAIM, &r, 1, NULL, 0, &a) ||
	    a.freed_pages != UDMABUF_PROBE)
		goto out;
	step = 0;
out:
	close(fd);
	return step;
}

/* Some swap area is on (the header line of /proc/swaps is not all). */
static inline bool swap_active(void)
{
	char line[256];
	int lines = 0;
	FILE *f = fopen("/proc/swaps", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	return lines > 1;
}

/* A swap header (what mkswap writes) for a device or file of @pages pages. */
static inline void swap_header(void *page, uint32_t pages)
{
	memset(page, 0, PG);
	*(uint32_t *)((char *)page + 1024) = 1;			/* version */
	*(uint32_t *)((char *)page + 1028) = pages - 1;		/* last_page */
	memcpy((char *)page + PG - 10, "SWAPSPACE2", 10);
}

/* A zram swap device, with a swap header written here (no mkswap needed). */
static inline bool zram_swapon(void)
{
	static char hdr[PG];
	int fd;

	if (access("/sys/block/zram0", F_OK) &&
	    system("modprobe zram num_devices=1 >/dev/null 2>&1") != 0)
		return false;
	if (!file_write("/sys/block/zram0/disksize", "64M"))
		return false;
	for (int i = 0; i < 100 && access("/dev/zram0", F_OK); i++)
		usleep(10000);
	fd = open("/dev/zram0", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	swap_header(hdr, 64 * MIB / PG);
	if (pwrite(fd, hdr, PG, 0) != (ssize_t)PG) {
		close(fd);
		return false;
	}
	fsync(fd);
	close(fd);
	return swapon("/dev/zram0", 0) == 0;
}

/* The zram swap device of zram_swapon(), off, reset and on again, empty. */
static inline bool zram_swap_again(void)
{
	return !swapoff("/dev/zram0") && file_write("/sys/block/zram0/reset", "1") &&
	       zram_swapon();
}

#endif /* SHMEM_ZERO_UTIL_H */
