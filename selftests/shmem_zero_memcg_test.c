// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for /dev/shmem_zero: memory cgroup accounting (memcg.*) and
 * behaviour under injected allocation failures (fault.*, leak.*).  The
 * contract is kmod/include/uapi/linux/shmem_zero.h and
 * Documentation/shmem_zero.rst.
 *
 * memcg.*: sz.memcg_uncharged (shmem_zero_reclaim_test.c) checks the
 * caller's own memory.current within 256 pages.  These tests measure
 * exactly, and in other cgroups than the caller's:
 *
 * - The test process (the monitor) stays in the root cgroup, which charges
 *   nothing (try_charge() and the kmem accounting return early for the
 *   root memcg).  Forked workers, moved into cgroups A and B, fill the
 *   file and make the calls; they talk to the monitor through shared
 *   memory and futexes only, and run every code path once (a QUERY over
 *   the same vector) before the measurement, so that their stack, the
 *   vector and the map are faulted in and charged before it.
 *
 * - memory.current counts the per-CPU charge stock (memcg_stock: charges
 *   are taken MEMCG_CHARGE_BATCH = 64 pages at a time, the surplus kept
 *   per CPU) and that stock goes back to the counter whenever another
 *   cgroup's charge or kmem uncharge passes that CPU: an RCU callback
 *   freeing an object of a cgroup an earlier test removed is enough (seen
 *   as -16 pages with nothing freed, before the drain below).  So before
 *   each baseline a third worker, in C, charges a slab object and a page
 *   on every CPU (stock_drain()): no CPU caches A or B after that.
 *
 * - Freeing a folio uncharges it with page_counter_uncharge() straight
 *   (uncharge_batch(), 6.1 and 6.12), not through the stock.  The one
 *   kernel object charged to A that a call could free is an xarray node
 *   of the file (the page cache xarray is XA_FLAGS_ACCOUNT), whose kmem
 *   uncharge would go through the stocks after an RCU grace period; so
 *   one page in 16 (an xarray node has 64 slots, 16 with CONFIG_BASE_SMALL
 *   as on the sz-debug kernel) is data outside the ranges, and no node is
 *   freed.
 *
 *   Then memory.current drops by exactly freed_pages * PAGE_SIZE, and so do
 *   memory.stat shmem and file; anon, kernel, pagetables and
 *   memory.swap.current do not move, nor does any counter of the caller's
 *   cgroup when it is not the file's.  QUERY and ZERO_IN_PLACE move
 *   nothing at all.
 *
 * - memory.stat is rstat: per-CPU deltas are folded in by a flush.  Reading
 *   memory.stat flushes only past a threshold (6.1: 64 updates per online
 *   CPU pending system-wide; 6.12: the same per memcg), else it may be up
 *   to 2 s old (flush_memcg_stats_dwork).  Reading the cgroup's cpu.stat
 *   calls cgroup_rstat_flush() on it (cgroup_base_stat_cputime_show()),
 *   which flushes every controller of the subtree, memcg included: the
 *   tests read cpu.stat before memory.stat.  What memory.stat said before
 *   that forced flush is logged.
 *
 * fault.*: with failslab and fail_page_alloc (CONFIG_FAULT_INJECTION), every
 * allocation the calling task makes inside the ioctl is failed in turn:
 * /proc/thread-self/fail-nth = k fails exactly the k-th fault-injection
 * check of the task (fault.*.nth_sweep, k = 1, 2, ... until a call ends
 * with the k-th never reached), and the debugfs attributes with
 * task-filter=Y, probability=100, times=1 and a growing space fail the
 * allocation where the budget runs out, with make-it-fail set only around
 * the ioctl (fault.*.space_sweep).  A call must then fail with ENOMEM or
 * succeed; either way the reported prefix must be consistent with the page
 * counters, every page outside it unchanged (QUERY classes and contents)
 * and every page inside it what the mode makes of it.  The hits are
 * counted exactly: fail-nth reads 0 once the failure was injected, and
 * `times` drops from 1 to 0.  verbose=0: no dmesg line per failure (1
 * would print one, rate-limited; 2 a stack dump, for SZ_FI_VERBOSE=2 to
 * show where each failure landed; __GFP_NOWARN allocations print nothing).
 *
 * Runs as root in the test VM.  What a test changes (cgroups, the shmem THP
 * knob, fault-injection knobs, a zram swap device, debugfs) is restored by
 * the fixture teardown.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>

#include <linux/futex.h>

#include "shmem_zero_harness.h"
#include "shmem_zero_util.h"

#define RECLAIM		SHMEM_ZERO_MODE_RECLAIM
#define ZIP		SHMEM_ZERO_MODE_ZERO_IN_PLACE
#define C_HOLE		SHMEM_ZERO_PAGE_HOLE
#define C_ZERO		SHMEM_ZERO_PAGE_ZERO
#define C_DATA		SHMEM_ZERO_PAGE_DATA
#define C_SWAP		SHMEM_ZERO_PAGE_SWAP
#define C_UNWR		SHMEM_ZERO_PAGE_UNWRITTEN
#define C_RES		SHMEM_ZERO_PAGE_RESIDENT
#define NCLS		6

/* Layout tags: 0 a zero page (written), T_HOLE, T_UNWR, else data tag. */
#define T_HOLE		UINT64_MAX
#define T_UNWR		(UINT64_MAX - 1)

#define LOGA(what, a) TH_LOG("%s: done %llu/%llu B, hole %llu zero %llu data %llu " \
	"unwritten %llu swap %llu freed %llu zeroed %llu pinned %llu busy %llu", \
	what, (unsigned long long)(a).ranges_done, (unsigned long long)(a).bytes_done, \
	(unsigned long long)(a).hole_pages, (unsigned long long)(a).zero_pages, \
	(unsigned long long)(a).data_pages, (unsigned long long)(a).unwritten_pages, \
	(unsigned long long)(a).swap_pages, (unsigned long long)(a).freed_pages, \
	(unsigned long long)(a).zeroed_pages, (unsigned long long)(a).pinned_pages, \
	(unsigned long long)(a).busy_pages)

/*
 * SZ_FILTER=WORD in the environment runs only the tests whose
 * "fixture[.variant].test" name contains WORD (the 6.1 harness has no
 * filter of its own); the others skip.
 */
#define FILTER(vname) do {						\
	const char *_f = getenv("SZ_FILTER");				\
	char _n[160];							\
									\
	snprintf(_n, sizeof(_n), "%s.%s%s%s", _metadata->fixture->name,	\
		 (vname) ? (vname) : "", (vname) ? "." : "", _metadata->name); \
	if (_f && !strstr(_n, _f))					\
		SKIP(return, "not in SZ_FILTER=%s", _f);		\
} while (0)

/* What a page of tag @t reads as. */
static inline uint64_t content(uint64_t t)
{
	return t == T_HOLE || t == T_UNWR ? 0 : t;
}

/* The QUERY class a page of tag @t has when written as the layout says. */
static inline uint8_t tag_class(uint64_t t)
{
	return t == T_HOLE ? C_HOLE : t == T_UNWR ? C_UNWR : t ? C_DATA : C_ZERO;
}

/* Pages [first, first + n) as tags[] says: written, fallocated or left. */
static int layout_fill(int fd, const uint64_t *tags, uint64_t first, uint64_t n)
{
	static char pg[PG] __attribute__((aligned(4096)));

	for (uint64_t p = first; p < first + n; p++) {
		if (tags[p] == T_HOLE)
			continue;
		if (tags[p] == T_UNWR) {
			if (fallocate(fd, 0, p * PG, PG))
				return -1;
			continue;
		}
		page_fill(pg, tags[p]);
		if (pwrite(fd, pg, PG, p * PG) != (ssize_t)PG)
			return -1;
	}
	return 0;
}

/* QUERY map of pages [first, first + n). */
static int qmap(int dev, int fd, uint64_t first, uint64_t n, uint8_t *map)
{
	struct shmem_zero_range r = { first * PG, n * PG };
	struct shmem_zero_args a;

	return sz_call(dev, fd, QUERY, &r, 1, map, n, &a);
}

/* ------------------------------------------------------------------ */
/* Workers: forked processes in a cgroup, driven through shared memory  */
/* ------------------------------------------------------------------ */

enum { W_FILL = 1, W_CALL, W_DRAIN, W_EXIT };

struct wjob {
	_Atomic uint32_t seq;		/* the monitor posts command seq */
	_Atomic uint32_t ack;		/* the worker finished command ack */
	int cmd;
	int ret;			/* errno of the command, 0 */
	int fd, dev;
	const uint64_t *tags;		/* W_FILL: in shared memory */
	uint64_t n;
	struct shmem_zero_args a;	/* W_CALL: in and out */
};

static long futex(_Atomic uint32_t *w, int op, uint32_t val, long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	return syscall(SYS_futex, w, op, val, ms ? &ts : NULL, NULL, 0);
}

/*
 * On every CPU in turn, charge this task's cgroup a slab object (a struct
 * file) and a page (an anonymous one): each CPU's objcg stock and charge
 * stock then cache this cgroup, and whatever they held for another cgroup
 * went back to its counters (drain_obj_stock(), drain_stock()).
 */
static int stock_drain(void)
{
	cpu_set_t old, one;
	char *m;
	int fd;

	if (sched_getaffinity(0, sizeof(old), &old))
		return errno;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &old))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			continue;
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
		m = mmap(NULL, PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m != MAP_FAILED) {
			m[0] = 1;
			munmap(m, PG);
		}
	}
	return sched_setaffinity(0, sizeof(old), &old) ? errno : 0;
}

static void __attribute__((noreturn)) worker_loop(struct wjob *j)
{
	uint32_t seen = 0, s;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		s = atomic_load(&j->seq);
		if (s == seen) {
			futex(&j->seq, FUTEX_WAIT, s, 0);
			continue;
		}
		seen = s;
		switch (j->cmd) {
		case W_FILL:
			j->ret = layout_fill(j->fd, j->tags, 0, j->n) ? errno : 0;
			break;
		case W_CALL:
			j->ret = sz(j->dev, &j->a);
			break;
		case W_DRAIN:
			j->ret = stock_drain();
			break;
		default:
			_exit(0);
		}
		atomic_store(&j->ack, s);
		futex(&j->ack, FUTEX_WAKE, INT_MAX, 0);
	}
}

/* A worker in cgroup directory @cg, or -1. */
static pid_t w_spawn(struct wjob *j, const char *cg)
{
	char path[256], buf[32];
	pid_t pid;

	atomic_store(&j->seq, 0);
	atomic_store(&j->ack, 0);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid)
		worker_loop(j);
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (!file_write(path, buf)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

/* Run @cmd in the worker; its errno, or a negative errno of our own. */
static int w_run(struct wjob *j, pid_t pid, int cmd)
{
	uint32_t s = atomic_load(&j->seq) + 1, a;

	j->cmd = cmd;
	j->ret = -EINPROGRESS;
	atomic_store(&j->seq, s);
	futex(&j->seq, FUTEX_WAKE, INT_MAX, 0);
	for (int t = 0; (a = atomic_load(&j->ack)) != s; t++) {
		if (t > 3000)				/* 300 s */
			return -ETIMEDOUT;
		futex(&j->ack, FUTEX_WAIT, a, 100);
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -ECHILD;
	}
	return j->ret;
}

static void w_stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

/* ------------------------------------------------------------------ */
/* memcg: what the calls charge and uncharge, exactly                   */
/* ------------------------------------------------------------------ */

#define CG_ROOT		"/sys/fs/cgroup"
#define MC_N		4096ULL		/* 16 MiB */
/* slots of an xarray node: 64, or 16 with CONFIG_BASE_SMALL (sz-debug) */
#define MC_NODE		16ULL
#define MC_NR		(MC_N / MC_NODE)
#define MC_QN		(1ULL << 18)	/* QUERY: 1 GiB, sparse */
#define MC_QX		64ULL		/* and 64 pages past its EOF */
#define MC_QEVERY	1024ULL		/* one data, zero, fallocated page each */

struct mshared {
	struct wjob job[3];		/* A's, B's, C's (the drainer) */
	struct shmem_zero_range v[MC_NR];
	uint64_t tags[MC_QN];
	uint8_t map[MC_QN + MC_QX];
};

/* The counters of a memcg, in bytes; -1 where the kernel has none. */
struct mcs {
	long long current, swap, anon, file, kernel, shmem, pagetables;
};

static bool cg_ll(const char *cg, const char *name, long long *v)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "%s/%s", cg, name);
	if (!file_read(path, buf, sizeof(buf)))
		return false;
	*v = strtoll(buf, NULL, 10);
	return true;
}

/*
 * @flush: read cpu.stat first, which runs cgroup_rstat_flush() on the
 * cgroup: memory.stat is then exact, not up to 2 s old.
 */
static bool cg_stat(const char *cg, bool flush, struct mcs *s)
{
	char path[256], line[256], key[64];
	long long v;
	FILE *f;

	*s = (struct mcs){ -1, -1, -1, -1, -1, -1, -1 };
	if (flush) {
		snprintf(path, sizeof(path), "%s/cpu.stat", cg);
		if (!file_read(path, line, sizeof(line)))
			return false;
	}
	snprintf(path, sizeof(path), "%s/memory.stat", cg);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %lld", key, &v) != 2)
			continue;
		if (!strcmp(key, "anon"))
			s->anon = v;
		else if (!strcmp(key, "file"))
			s->file = v;
		else if (!strcmp(key, "kernel"))
			s->kernel = v;
		else if (!strcmp(key, "shmem"))
			s->shmem = v;
		else if (!strcmp(key, "pagetables"))
			s->pagetables = v;
	}
	fclose(f);
	if (!cg_ll(cg, "memory.swap.current", &s->swap))
		s->swap = -1;
	return cg_ll(cg, "memory.current", &s->current);
}

#define MCS_FMT "current %lld swap %lld anon %lld file %lld kernel %lld shmem %lld pagetables %lld"
#define MCS_ARGS(s) (s).current, (s).swap, (s).anon, (s).file, (s).kernel, \
	(s).shmem, (s).pagetables

/* Every counter of @x changed by the byte counts given, exactly. */
#define EXPECT_MCS_DELTA(x0, x1, dcur, dfile, dshmem, what) do {	\
	EXPECT_EQ((long long)(dcur), (x1).current - (x0).current);	\
	EXPECT_EQ((long long)(dfile), (x1).file - (x0).file);		\
	EXPECT_EQ((long long)(dshmem), (x1).shmem - (x0).shmem);	\
	EXPECT_EQ(0, (x1).anon - (x0).anon);				\
	EXPECT_EQ(0, (x1).kernel - (x0).kernel);			\
	EXPECT_EQ(0, (x1).pagetables - (x0).pagetables);		\
	EXPECT_EQ(0, (x1).swap - (x0).swap);				\
	if ((x1).current - (x0).current != (long long)(dcur) ||		\
	    (x1).shmem - (x0).shmem != (long long)(dshmem)) {		\
		TH_LOG("%s before: " MCS_FMT, what, MCS_ARGS(x0));	\
		TH_LOG("%s after:  " MCS_FMT, what, MCS_ARGS(x1));	\
	}								\
} while (0)

FIXTURE(memcg) {
	int dev;
	char root[64], a[128], b[128], c[128];
	char old_cg[512];
	char thp_old[16];
	bool mounted, added_memory, made_a, made_b, made_c, moved, thp_changed;
	struct mshared *sh;
	pid_t pid[3];
	char why[160];
};

FIXTURE_SETUP(memcg)
{
	char path[256], buf[512];
	FILE *f;

	ASSERT_EQ(PG, (unsigned long long)sysconf(_SC_PAGESIZE));
	self->dev = open_dev();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SHMEM_ZERO_DEVICE, strerror(errno));
	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	/* faulted in here, in the root cgroup: charged to nobody */
	memset(self->sh, 0, sizeof(*self->sh));

	strcpy(self->root, CG_ROOT);
	if (access(CG_ROOT "/cgroup.controllers", F_OK)) {
		if (mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL)) {
			snprintf(self->why, sizeof(self->why), "mount cgroup2 on %s: %s",
				 CG_ROOT, strerror(errno));
			return;
		}
		self->mounted = true;
	}
	if (!file_read(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) ||
	    !strstr(buf, "memory")) {
		snprintf(self->why, sizeof(self->why),
			 "no memory controller in %s/cgroup.controllers", CG_ROOT);
		return;
	}
	if (!file_read(CG_ROOT "/cgroup.subtree_control", buf, sizeof(buf)))
		buf[0] = 0;
	if (!strstr(buf, "memory")) {
		if (!file_write(CG_ROOT "/cgroup.subtree_control", "+memory")) {
			snprintf(self->why, sizeof(self->why), "+memory in %s: %s",
				 CG_ROOT "/cgroup.subtree_control", strerror(errno));
			return;
		}
		self->added_memory = true;
	}
	/* The monitor charges nothing only in the root cgroup: go there. */
	f = fopen("/proc/self/cgroup", "re");
	ASSERT_NE(NULL, f);
	while (fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, "0::", 3)) {
			buf[strcspn(buf, "\n")] = 0;
			snprintf(self->old_cg, sizeof(self->old_cg), "%s", buf + 3);
		}
	fclose(f);
	if (strcmp(self->old_cg, "/")) {
		snprintf(buf, sizeof(buf), "%d", (int)getpid());
		ASSERT_TRUE(file_write(CG_ROOT "/cgroup.procs", buf))
			TH_LOG("moving to the root cgroup: %s", strerror(errno));
		self->moved = true;
	}
	snprintf(self->a, sizeof(self->a), "%s/sz-memcg-%d-a", CG_ROOT, (int)getpid());
	snprintf(self->b, sizeof(self->b), "%s/sz-memcg-%d-b", CG_ROOT, (int)getpid());
	ASSERT_EQ(0, mkdir(self->a, 0755)) TH_LOG("mkdir %s: %s", self->a, strerror(errno));
	self->made_a = true;
	ASSERT_EQ(0, mkdir(self->b, 0755)) TH_LOG("mkdir %s: %s", self->b, strerror(errno));
	self->made_b = true;
	snprintf(self->c, sizeof(self->c), "%s/sz-memcg-%d-c", CG_ROOT, (int)getpid());
	ASSERT_EQ(0, mkdir(self->c, 0755)) TH_LOG("mkdir %s: %s", self->c, strerror(errno));
	self->made_c = true;
	snprintf(path, sizeof(path), "%s/memory.current", self->a);
	ASSERT_EQ(0, access(path, F_OK));

	/* Small folios: the xarray node argument above is about them. */
	if (sysfs_choice(THP_SYSFS, self->thp_old, sizeof(self->thp_old)) &&
	    strcmp(self->thp_old, "never") && strcmp(self->thp_old, "deny"))
		self->thp_changed = file_write(THP_SYSFS, "never");
}

FIXTURE_TEARDOWN(memcg)
{
	char buf[600], pid[32];

	for (int i = 0; i < 3; i++)
		w_stop(&self->pid[i]);
	for (int i = 0; i < 100; i++) {
		if (self->made_a && !rmdir(self->a))
			self->made_a = false;
		if (self->made_b && !rmdir(self->b))
			self->made_b = false;
		if (self->made_c && !rmdir(self->c))
			self->made_c = false;
		if (!self->made_a && !self->made_b && !self->made_c)
			break;
		usleep(10000);
	}
	if (self->made_a || self->made_b || self->made_c)
		TH_LOG("could not remove %s, %s or %s", self->a, self->b, self->c);
	if (self->moved) {
		snprintf(buf, sizeof(buf), "%s%s/cgroup.procs", CG_ROOT, self->old_cg);
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		file_write(buf, pid);
	}
	if (self->added_memory && !self->made_a && !self->made_b && !self->made_c)
		file_write(CG_ROOT "/cgroup.subtree_control", "-memory");
	if (self->mounted && !self->made_a && !self->made_b && !self->made_c)
		umount(CG_ROOT);
	if (self->thp_changed)
		file_write(THP_SYSFS, self->thp_old);
	if (self->sh && self->sh != MAP_FAILED)
		munmap(self->sh, sizeof(*self->sh));
	close(self->dev);
}

#define MEMCG_SKIP() do {						\
	FILTER((const char *)NULL);					\
	if (self->why[0])						\
		SKIP(return, "%s", self->why);				\
} while (0)

/*
 * Empty every per-CPU stock of A and B (see stock_drain()) with a worker
 * in C: then nothing of theirs is cached on any CPU, and no later drain,
 * whoever triggers it (an RCU callback freeing an object of a removed
 * cgroup of an earlier test, say), can move their memory.current.
 */
static void mc_drain(struct __test_metadata *_metadata, FIXTURE_DATA(memcg) *self)
{
	if (!self->pid[2]) {
		self->pid[2] = w_spawn(&self->sh->job[2], self->c);
		ASSERT_LT(0, self->pid[2]);
	}
	ASSERT_EQ(0, w_run(&self->sh->job[2], self->pid[2], W_DRAIN));
}

/*
 * MC_N pages in 16-page groups, within one xarray leaf node each: page 0 of
 * each group is data and in no range (it keeps the node); the other 15 are
 * holes, zero, data or fallocated at random, and form range g of the
 * vector.  cnt[class] counts the pages of each class in the ranges.
 */
static void mc_layout(struct mshared *sh, uint64_t cnt[NCLS])
{
	uint64_t seed = 0x5eed0fa11ULL;

	memset(cnt, 0, NCLS * sizeof(cnt[0]));
	for (uint64_t p = 0; p < MC_N; p++) {
		uint64_t r = rnd(&seed) % 8;

		if (p % MC_NODE == 0) {
			sh->tags[p] = 1 + p;
			continue;
		}
		sh->tags[p] = r < 2 ? T_HOLE : r < 5 ? 0 : r < 7 ? 1 + p : T_UNWR;
		cnt[tag_class(sh->tags[p])]++;
	}
	for (uint64_t g = 0; g < MC_NR; g++)
		sh->v[g] = (struct shmem_zero_range){ (g * MC_NODE + 1) * PG,
						      (MC_NODE - 1) * PG };
}

/* Contents after @mode over the ranges of mc_layout(). */
static uint64_t *mc_want(const struct mshared *sh, uint32_t mode)
{
	uint64_t *w = malloc(MC_N * sizeof(*w));

	for (uint64_t p = 0; w && p < MC_N; p++)
		w[p] = (mode == DISCARD || mode == ZIP) && p % MC_NODE ? 0 :
			content(sh->tags[p]);
	return w;
}

/*
 * A worker in A fills the file; the caller, the same worker or one in B,
 * runs @mode over the vector.  A's counters drop by exactly what the call
 * freed; B's (the caller's, when it is not A) do not move.
 */
static void mc_uncharge(struct __test_metadata *_metadata,
			FIXTURE_DATA(memcg) *self, uint32_t mode, bool other)
{
	struct mshared *sh = self->sh;
	struct wjob *fj = &sh->job[0], *cj = &sh->job[other];
	pid_t cpid;
	uint64_t cnt[NCLS], freed, *want;
	struct mcs a0, a1, al, b0, b1;
	long long fb;
	int fd;

	MEMCG_SKIP();
	mc_layout(sh, cnt);
	fd = memfd("memcg", MC_N * PG, 0);
	ASSERT_LE(0, fd);
	self->pid[0] = w_spawn(fj, self->a);
	ASSERT_LT(0, self->pid[0]);
	if (other) {
		self->pid[1] = w_spawn(&sh->job[1], self->b);
		ASSERT_LT(0, self->pid[1]);
	}
	cpid = self->pid[other];
	fj->fd = fd;
	fj->dev = cj->dev = self->dev;
	fj->tags = sh->tags;
	fj->n = MC_N;
	ASSERT_EQ(0, w_run(fj, self->pid[0], W_FILL));
	/* the caller's first pass: faults in the vector and its stack */
	args_init(&cj->a, fd, QUERY, sh->v, MC_NR);
	ASSERT_EQ(0, w_run(cj, cpid, W_CALL));
	lru_flush();
	mc_drain(_metadata, self);

	ASSERT_TRUE(cg_stat(self->a, true, &a0));
	ASSERT_TRUE(cg_stat(self->b, true, &b0));
	args_init(&cj->a, fd, mode, sh->v, MC_NR);
	ASSERT_EQ(0, w_run(cj, cpid, W_CALL));
	ASSERT_TRUE(cg_stat(self->a, false, &al));
	ASSERT_TRUE(cg_stat(self->a, true, &a1));
	ASSERT_TRUE(cg_stat(self->b, true, &b1));

	EXPECT_EQ(MC_NR, cj->a.ranges_done);
	EXPECT_EQ(MC_NR * (MC_NODE - 1) * PG, cj->a.bytes_done);
	EXPECT_EQ(cnt[C_HOLE], cj->a.hole_pages);
	if (mode == DISCARD) {
		freed = cnt[C_ZERO] + cnt[C_DATA] + cnt[C_UNWR];
		EXPECT_EQ(0ULL, cj->a.data_pages);
		EXPECT_EQ(0ULL, cj->a.unwritten_pages);
	} else {
		freed = cnt[C_ZERO];
		EXPECT_EQ(cnt[C_DATA], cj->a.data_pages);
		EXPECT_EQ(cnt[C_UNWR], cj->a.unwritten_pages);
	}
	EXPECT_EQ(freed, cj->a.freed_pages);
	EXPECT_EQ(0ULL, cj->a.busy_pages);
	TH_LOG("%s from %s: freed %llu pages; A's memory.current %lld -> %lld, "
	       "shmem %lld -> %lld (%lld before the cpu.stat flush)",
	       mode == DISCARD ? "DISCARD" : "RECLAIM", other ? "B" : "A",
	       (unsigned long long)cj->a.freed_pages, a0.current, a1.current,
	       a0.shmem, a1.shmem, al.shmem);
	/* exact, with the counter the call reports */
	freed = cj->a.freed_pages * PG;
	EXPECT_MCS_DELTA(a0, a1, -(long long)freed, -(long long)freed,
			 -(long long)freed, "A");
	if (other)
		EXPECT_MCS_DELTA(b0, b1, 0, 0, 0, "B");

	want = mc_want(sh, mode);
	ASSERT_NE(NULL, want);
	EXPECT_EQ(0, bad_pages(fd, 0, MC_N, 0, want, &fb))
		TH_LOG("first wrong page %lld", fb);
	free(want);
	close(fd);
}

/* DISCARD in the cgroup that was charged: exactly the freed pages leave it. */
TEST_F(memcg, discard_uncharges_exactly)
{
	mc_uncharge(_metadata, self, DISCARD, false);
}

/* RECLAIM likewise: exactly its freed_pages (the zero pages) leave A. */
TEST_F(memcg, reclaim_uncharges_exactly)
{
	mc_uncharge(_metadata, self, RECLAIM, false);
}

/*
 * A caller in B discards pages that A was charged for: A's counters drop
 * (the folio's memcg is uncharged, not the caller's), B's do not move.
 */
TEST_F(memcg, discard_from_other_cgroup)
{
	mc_uncharge(_metadata, self, DISCARD, true);
}

TEST_F(memcg, reclaim_from_other_cgroup)
{
	mc_uncharge(_metadata, self, RECLAIM, true);
}

/*
 * QUERY allocates nothing: over a sparse 1 GiB file (768 resident pages)
 * and 64 pages past its EOF, with and without a map, with and without
 * NOREAD, run from the cgroup that owns the file, it leaves every counter
 * of that cgroup where it was, and st_blocks too.
 */
TEST_F(memcg, query_charges_nothing)
{
	struct mshared *sh = self->sh;
	struct wjob *j = &sh->job[0];
	const uint64_t nres = MC_QN / MC_QEVERY;
	const struct shmem_zero_range v[2] = {
		{ 0, MC_QN * PG }, { MC_QN * PG, MC_QX * PG },
	};
	const struct { bool map; uint32_t flags; } calls[] = {
		{ true, 0 }, { false, 0 }, { true, SHMEM_ZERO_QUERY_NOREAD },
		{ false, SHMEM_ZERO_QUERY_NOREAD },
	};
	struct mcs a0, a1;
	long long b0;
	int fd;

	MEMCG_SKIP();
	memcpy(sh->v, v, sizeof(v));
	for (uint64_t p = 0; p < MC_QN; p++)
		sh->tags[p] = p % MC_QEVERY == 0 ? 1 + p : p % MC_QEVERY == 1 ? 0 :
			p % MC_QEVERY == 2 ? T_UNWR : T_HOLE;
	fd = memfd("memcg-query", MC_QN * PG, 0);
	ASSERT_LE(0, fd);
	self->pid[0] = w_spawn(j, self->a);
	ASSERT_LT(0, self->pid[0]);
	j->fd = fd;
	j->dev = self->dev;
	j->tags = sh->tags;
	j->n = MC_QN;
	ASSERT_EQ(0, w_run(j, self->pid[0], W_FILL));
	/* the first pass faults the map in (and is not measured) */
	args_init(&j->a, fd, QUERY, sh->v, 2);
	j->a.map = (uintptr_t)sh->map;
	j->a.map_len = sizeof(sh->map);
	ASSERT_EQ(0, w_run(j, self->pid[0], W_CALL));
	b0 = blocks(fd);
	EXPECT_EQ(BLK(3 * nres), b0);
	mc_drain(_metadata, self);

	ASSERT_TRUE(cg_stat(self->a, true, &a0));
	for (unsigned int i = 0; i < ARRAY_SIZE(calls); i++) {
		bool nr = calls[i].flags;

		args_init(&j->a, fd, QUERY, sh->v, 2);
		j->a.flags = calls[i].flags;
		if (calls[i].map) {
			j->a.map = (uintptr_t)sh->map;
			j->a.map_len = sizeof(sh->map);
		}
		ASSERT_EQ(0, w_run(j, self->pid[0], W_CALL));
		EXPECT_EQ(MC_QN - 3 * nres + MC_QX, j->a.hole_pages);
		EXPECT_EQ(nr ? 0 : nres, j->a.zero_pages);
		EXPECT_EQ(nr ? 2 * nres : nres, j->a.data_pages);
		EXPECT_EQ(nres, j->a.unwritten_pages);
		EXPECT_EQ(0ULL, j->a.swap_pages + j->a.freed_pages + j->a.zeroed_pages);
		if (calls[i].map) {
			EXPECT_EQ(nr ? C_RES : C_DATA, sh->map[0]);
			EXPECT_EQ(nr ? C_RES : C_ZERO, sh->map[1]);
			EXPECT_EQ(C_UNWR, sh->map[2]);
			EXPECT_EQ(C_HOLE, sh->map[3]);
			EXPECT_EQ(C_HOLE, sh->map[MC_QN + MC_QX - 1]);
		}
		ASSERT_TRUE(cg_stat(self->a, true, &a1));
		TH_LOG("QUERY%s%s: A's memory.current %lld -> %lld, shmem %lld -> %lld",
		       calls[i].map ? " map" : "", nr ? " NOREAD" : "",
		       a0.current, a1.current, a0.shmem, a1.shmem);
		EXPECT_MCS_DELTA(a0, a1, 0, 0, 0, "A");
		EXPECT_EQ(b0, blocks(fd));
		a0 = a1;
	}
	close(fd);
}

/*
 * ZERO_IN_PLACE allocates nothing and frees nothing: clearing data pages
 * in place, skipping holes and fallocated pages, moves no counter of the
 * cgroup (the caller's and the file's).
 */
TEST_F(memcg, zero_in_place_charges_nothing)
{
	struct mshared *sh = self->sh;
	struct wjob *j = &sh->job[0];
	uint64_t cnt[NCLS], *want;
	struct mcs a0, a1;
	long long fb;
	int fd;

	MEMCG_SKIP();
	mc_layout(sh, cnt);
	fd = memfd("memcg-zip", MC_N * PG, 0);
	ASSERT_LE(0, fd);
	self->pid[0] = w_spawn(j, self->a);
	ASSERT_LT(0, self->pid[0]);
	j->fd = fd;
	j->dev = self->dev;
	j->tags = sh->tags;
	j->n = MC_N;
	ASSERT_EQ(0, w_run(j, self->pid[0], W_FILL));
	args_init(&j->a, fd, QUERY, sh->v, MC_NR);
	ASSERT_EQ(0, w_run(j, self->pid[0], W_CALL));
	lru_flush();
	mc_drain(_metadata, self);

	ASSERT_TRUE(cg_stat(self->a, true, &a0));
	args_init(&j->a, fd, ZIP, sh->v, MC_NR);
	ASSERT_EQ(0, w_run(j, self->pid[0], W_CALL));
	ASSERT_TRUE(cg_stat(self->a, true, &a1));
	EXPECT_EQ(cnt[C_HOLE], j->a.hole_pages);
	EXPECT_EQ(cnt[C_ZERO], j->a.zero_pages);
	EXPECT_EQ(cnt[C_DATA], j->a.zeroed_pages);
	EXPECT_EQ(cnt[C_UNWR], j->a.unwritten_pages);
	EXPECT_EQ(0ULL, j->a.freed_pages + j->a.data_pages + j->a.busy_pages);
	TH_LOG("ZERO_IN_PLACE: cleared %llu pages; A's memory.current %lld -> %lld, shmem %lld -> %lld",
	       (unsigned long long)j->a.zeroed_pages, a0.current, a1.current,
	       a0.shmem, a1.shmem);
	EXPECT_MCS_DELTA(a0, a1, 0, 0, 0, "A");
	want = mc_want(sh, ZIP);
	ASSERT_NE(NULL, want);
	EXPECT_EQ(0, bad_pages(fd, 0, MC_N, 0, want, &fb))
		TH_LOG("first wrong page %lld", fb);
	free(want);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* Fault injection: every allocation of the call fails in turn          */
/* ------------------------------------------------------------------ */

#define FI_SKIP		"kernel without CONFIG_FAILSLAB/FAIL_PAGE_ALLOC (the sz-debug kernel runs them)"
#define DBGFS		"/sys/kernel/debug"
#define F_N		1024ULL		/* 4 MiB */
#define F_MAPPED	64ULL		/* [64, 256) mapped, resident */
#define F_SWAP		192ULL		/* [192, 256) paged out */
#define F_SMALL		256ULL		/* [256, 512) holes */
#define F_THP		512ULL		/* [512, 1024) one huge folio, with THP */
#define F_MAXK		200		/* sweep bound: a call makes far fewer */

/* Unsorted, disjoint; two cut the huge folio (DISCARD must split it). */
static const struct shmem_zero_range f_vec[] = {
	{ 0 * PG, 40 * PG }, { 40 * PG, 160 * PG }, { 540 * PG, 60 * PG },
	{ 200 * PG, 56 * PG }, { 256 * PG, 256 * PG }, { 960 * PG, 64 * PG },
};
#define F_NR		ARRAY_SIZE(f_vec)
#define F_VPAGES	636ULL

static uint64_t f_tag(uint64_t p)
{
	if (p < F_MAPPED) {
		switch (p % 5) {
		case 0:
			return T_HOLE;
		case 1:
			return 0;
		case 3:
			return T_UNWR;
		default:
			return 0x100 + p;
		}
	}
	if (p < F_SMALL)
		return p & 1 ? 0x100 + p : 0;
	if (p < F_THP)
		return T_HOLE;
	if (p < 528 || (p >= 596 && p < 604) || (p >= 1000 && p < 1008))
		return 0x100 + p;
	return 0;
}

static const char *const fi_attr[] = { "failslab", "fail_page_alloc" };
static const char *const fi_knob[] = {
	"probability", "interval", "times", "space", "verbose", "task-filter",
	"ignore-gfp-wait", "cache-filter", "ignore-gfp-highmem", "min-order",
};
#define FI_NA	2
#define FI_NK	ARRAY_SIZE(fi_knob)

static bool fi_set(int attr, const char *knob, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), DBGFS "/%s/%s", fi_attr[attr], knob);
	return file_write(path, val);
}

static long long fi_get(int attr, const char *knob)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), DBGFS "/%s/%s", fi_attr[attr], knob);
	return file_read(path, buf, sizeof(buf)) ? strtoll(buf, NULL, 10) : -2;
}

static bool proc_set(int fd, long long v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld", v);

	return pwrite(fd, buf, n, 0) == n;
}

static long long proc_get(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtoll(buf, NULL, 10);
}

struct fstate {
	int fd;
	char *m;			/* [0, F_SMALL) mapped, during the call */
	bool huge;			/* [F_THP, F_N) was one huge folio */
	uint8_t before[F_N], after[F_N];
	uint8_t out[F_VPAGES];		/* the call's QUERY map */
};

FIXTURE(fault) {
	int dev, nth, mif;
	bool ok, dbg_mounted, thp_ok, thp_changed, have_swap, swapon_by_us;
	bool saved_ok[FI_NA][FI_NK];
	char saved[FI_NA][FI_NK][32];
	char thp_old[16];
	struct fstate st;
	uint64_t tags[F_N];
};

FIXTURE_VARIANT(fault) {
	const char *id;			/* the harness's name of the variant */
	const char *name;
	uint32_t mode, flags;
	bool map;
};

FIXTURE_VARIANT_ADD(fault, discard) { "discard", "DISCARD", DISCARD, 0, false };
FIXTURE_VARIANT_ADD(fault, query_map) { "query_map", "QUERY map", QUERY, 0, true };
FIXTURE_VARIANT_ADD(fault, query_nomap) { "query_nomap", "QUERY", QUERY, 0, false };
FIXTURE_VARIANT_ADD(fault, query_noread_map) {
	"query_noread_map", "QUERY NOREAD map", QUERY, SHMEM_ZERO_QUERY_NOREAD, true };
FIXTURE_VARIANT_ADD(fault, reclaim) { "reclaim", "RECLAIM", RECLAIM, 0, false };
FIXTURE_VARIANT_ADD(fault, zero_in_place) {
	"zero_in_place", "ZERO_IN_PLACE", ZIP, 0, false };

FIXTURE_SETUP(fault)
{
	/* failslab/fail_page_alloc only for the fail-nth or make-it-fail task */
	static const char *const base[][2] = {
		{ "probability", "0" }, { "interval", "1" }, { "times", "1" },
		{ "space", "0" }, { "verbose", "0" }, { "task-filter", "Y" },
		{ "ignore-gfp-wait", "N" }, { "cache-filter", "N" },
		{ "ignore-gfp-highmem", "N" }, { "min-order", "0" },
	};

	self->nth = self->mif = self->st.fd = -1;
	self->dev = open_dev();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SHMEM_ZERO_DEVICE, strerror(errno));
	for (uint64_t p = 0; p < F_N; p++)
		self->tags[p] = f_tag(p);
	if (sysfs_choice(THP_SYSFS, self->thp_old, sizeof(self->thp_old))) {
		self->thp_ok = file_write(THP_SYSFS, "never");
		self->thp_changed = self->thp_ok;
	}
	self->have_swap = swap_active();
	if (!self->have_swap)
		self->have_swap = self->swapon_by_us = zram_swapon();

	if (access(DBGFS "/failslab", F_OK) &&
	    !mount("debugfs", DBGFS, "debugfs", 0, NULL))
		self->dbg_mounted = true;
	if (access(DBGFS "/failslab", F_OK) || access(DBGFS "/fail_page_alloc", F_OK))
		return;
	self->nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	self->mif = open("/proc/thread-self/make-it-fail", O_RDWR | O_CLOEXEC);
	if (self->nth < 0 || self->mif < 0)
		return;
	for (int a = 0; a < FI_NA; a++)
		for (unsigned int k = 0; k < FI_NK; k++) {
			char path[128];

			snprintf(path, sizeof(path), DBGFS "/%s/%s", fi_attr[a], fi_knob[k]);
			self->saved_ok[a][k] = file_read(path, self->saved[a][k],
							 sizeof(self->saved[a][k]));
		}
	for (int a = 0; a < FI_NA; a++)
		for (unsigned int k = 0; k < ARRAY_SIZE(base); k++) {
			char path[128];

			snprintf(path, sizeof(path), DBGFS "/%s/%s", fi_attr[a], base[k][0]);
			if (access(path, F_OK))
				continue;	/* cache-filter, ignore-gfp-highmem, min-order */
			ASSERT_TRUE(file_write(path, base[k][1]))
				TH_LOG("%s = %s: %s", path, base[k][1], strerror(errno));
		}
	/* to see where each failure lands: SZ_FI_VERBOSE=2, a stack each */
	if (getenv("SZ_FI_VERBOSE"))
		for (int a = 0; a < FI_NA; a++)
			fi_set(a, "verbose", getenv("SZ_FI_VERBOSE"));
	self->ok = true;
}

static void f_free(struct fstate *st)
{
	if (st->m && st->m != MAP_FAILED)
		munmap(st->m, F_SMALL * PG);
	st->m = NULL;
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}

FIXTURE_TEARDOWN(fault)
{
	if (self->nth >= 0) {
		proc_set(self->nth, 0);
		close(self->nth);
	}
	if (self->mif >= 0) {
		proc_set(self->mif, 0);
		close(self->mif);
	}
	f_free(&self->st);
	for (int a = 0; a < FI_NA; a++)
		for (unsigned int k = 0; k < FI_NK; k++)
			if (self->saved_ok[a][k])
				fi_set(a, fi_knob[k], self->saved[a][k]);
	if (self->thp_changed)
		file_write(THP_SYSFS, self->thp_old);
	if (self->swapon_by_us) {
		swapoff("/dev/zram0");
		file_write("/sys/block/zram0/reset", "1");
	}
	if (self->dbg_mounted)
		umount(DBGFS);
	close(self->dev);
}

/*
 * A fresh file: [0, 64) holes, zero, data and fallocated pages; [64, 256)
 * zero and data pages, mapped here (so DISCARD and RECLAIM unmap them),
 * [192, 256) paged out where there is swap; [256, 512) holes; [512, 1024)
 * zero with data runs, a huge folio where shmem THP can be turned on.
 * Its QUERY classes in st->before.
 */
static int f_make(FIXTURE_DATA(fault) *self, struct fstate *st)
{
	volatile char sink;
	long long h0 = 0, h1;
	int rc;

	st->fd = memfd("fault", F_N * PG, 0);
	if (st->fd < 0 || layout_fill(st->fd, self->tags, 0, F_THP))
		return -1;
	if (self->thp_ok) {
		h0 = meminfo_kb("ShmemHugePages");
		file_write(THP_SYSFS, "always");
	}
	rc = layout_fill(st->fd, self->tags, F_THP, F_N - F_THP);
	if (self->thp_ok) {
		file_write(THP_SYSFS, "never");
		h1 = meminfo_kb("ShmemHugePages");
		st->huge = h1 - h0 >= (long long)((F_N - F_THP) * PG / KB);
	}
	if (rc)
		return -1;
	st->m = mmap(NULL, F_SMALL * PG, PROT_READ, MAP_SHARED, st->fd, 0);
	if (st->m == MAP_FAILED)
		return -1;
	for (uint64_t p = F_MAPPED; p < F_SMALL; p++)
		sink = st->m[p * PG];
	(void)sink;
	if (self->have_swap)
		madvise(st->m + F_SWAP * PG, (F_SMALL - F_SWAP) * PG, MADV_PAGEOUT);
	lru_flush();
	return qmap(self->dev, st->fd, 0, F_N, st->before);
}

/*
 * The outcome of one call, whatever it returned: a clean errno, a
 * consistent prefix, nothing changed outside it, the mode's effect inside.
 */
static void f_check(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
		    const FIXTURE_VARIANT(fault) *variant, int ret,
		    const struct shmem_zero_args *a)
{
	struct fstate *st = &self->st;
	uint64_t c[NCLS] = { 0 }, np = 0, full = 0, head = 0, i = 0;
	uint64_t freed = 0, kept = 0, resid = 0, bad_in = 0, bad_out = 0, sum;
	bool inp[F_N] = { false };
	uint64_t want[F_N];
	long long fb;

	EXPECT_TRUE(ret == 0 || ret == ENOMEM)
		TH_LOG("%s: errno %d (%s)", variant->name, ret, strerror(ret));
	/* the completed prefix: ranges [0, ranges_done) and a page-aligned head */
	ASSERT_LE(a->ranges_done, F_NR) LOGA("prefix", *a);
	for (uint64_t r = 0; r < a->ranges_done; r++)
		full += f_vec[r].length;
	ASSERT_LE(full, a->bytes_done) LOGA("prefix", *a);
	head = a->bytes_done - full;
	ASSERT_EQ(0ULL, head % PG) LOGA("prefix", *a);
	if (a->ranges_done == F_NR) {
		ASSERT_EQ(0ULL, head) LOGA("prefix", *a);
	} else {
		ASSERT_LT(head, f_vec[a->ranges_done].length) LOGA("prefix", *a);
	}
	if (ret == 0) {
		EXPECT_EQ(F_NR, a->ranges_done) LOGA("success", *a);
	}
	for (uint64_t r = 0; r <= a->ranges_done && r < F_NR; r++) {
		uint64_t len = r < a->ranges_done ? f_vec[r].length : head;

		for (uint64_t p = f_vec[r].offset / PG; p < (f_vec[r].offset + len) / PG; p++) {
			inp[p] = true;
			c[st->before[p]]++;
			np++;
		}
	}

	ASSERT_EQ(0, qmap(self->dev, st->fd, 0, F_N, st->after));
	for (uint64_t p = 0; p < F_N; p++) {
		uint8_t b = st->before[p], f = st->after[p];
		bool ok;

		if (!inp[p] || variant->mode == QUERY) {
			bad_out += b != f;
			continue;
		}
		switch (variant->mode) {
		case DISCARD:
			ok = f == C_HOLE || (f == C_ZERO && p >= F_THP && b != C_HOLE);
			freed += f == C_HOLE && b != C_HOLE && b != C_SWAP;
			resid += f == C_ZERO;
			break;
		case RECLAIM:
			ok = f == b || (b == C_ZERO && f == C_HOLE);
			freed += b == C_ZERO && f == C_HOLE;
			kept += b == C_ZERO && f == C_ZERO;
			break;
		default:	/* ZIP */
			ok = f == (b == C_DATA ? C_ZERO : b == C_SWAP ? C_HOLE : b);
			break;
		}
		if (ok)
			continue;
		if (!bad_in++)
			TH_LOG("%s: page %llu was class %d, is %d", variant->name,
			       (unsigned long long)p, b, f);
	}
	EXPECT_EQ(0ULL, bad_out) TH_LOG("%s: pages outside the prefix changed class", variant->name);
	EXPECT_EQ(0ULL, bad_in);

	sum = a->hole_pages + a->zero_pages + a->data_pages + a->unwritten_pages +
	      a->swap_pages + a->freed_pages + a->zeroed_pages + a->pinned_pages +
	      a->busy_pages;
	EXPECT_EQ(np, sum) LOGA("counters against the prefix", *a);
	EXPECT_EQ(c[C_HOLE], a->hole_pages);
	EXPECT_EQ(c[C_SWAP], a->swap_pages);
	switch (variant->mode) {
	case DISCARD:
		EXPECT_EQ(freed, a->freed_pages);
		EXPECT_EQ(resid, a->zeroed_pages);
		EXPECT_EQ(0ULL, a->pinned_pages);
		break;
	case QUERY:
		EXPECT_EQ(c[C_UNWR], a->unwritten_pages);
		if (variant->flags) {
			EXPECT_EQ(c[C_ZERO] + c[C_DATA], a->data_pages);
		} else {
			EXPECT_EQ(c[C_ZERO], a->zero_pages);
			EXPECT_EQ(c[C_DATA], a->data_pages);
		}
		break;
	case RECLAIM:
		EXPECT_EQ(c[C_DATA], a->data_pages);
		EXPECT_EQ(c[C_UNWR], a->unwritten_pages);
		EXPECT_EQ(freed, a->freed_pages);
		EXPECT_EQ(kept, a->busy_pages + a->pinned_pages);
		break;
	default:
		EXPECT_EQ(c[C_ZERO], a->zero_pages);
		EXPECT_EQ(c[C_DATA], a->zeroed_pages);
		EXPECT_EQ(c[C_UNWR], a->unwritten_pages);
		EXPECT_EQ(0ULL, a->busy_pages + a->data_pages);
		break;
	}

	/* the map holds the prefix, in vector order; nothing at all on ENOMEM */
	if (variant->map) {
		uint64_t wrong = 0;

		for (uint64_t r = 0; r < F_NR; r++)
			for (uint64_t p = f_vec[r].offset / PG;
			     p < (f_vec[r].offset + f_vec[r].length) / PG; p++, i++) {
				uint8_t b = st->before[p];

				if (i < np)
					wrong += st->out[i] != (variant->flags &&
						(b == C_ZERO || b == C_DATA) ? C_RES : b);
				else if (ret == ENOMEM && !np)
					wrong += st->out[i] != 0xee;
			}
		EXPECT_EQ(0ULL, wrong) TH_LOG("%s: map entries wrong", variant->name);
	}

	/* contents last: pread brings swapped pages back */
	for (uint64_t p = 0; p < F_N; p++)
		want[p] = inp[p] && (variant->mode == DISCARD || variant->mode == ZIP) ?
			0 : content(self->tags[p]);
	EXPECT_EQ(0, bad_pages(st->fd, 0, F_N, 0, want, &fb))
		TH_LOG("%s: page %lld lost or wrong", variant->name, fb);
}

enum { F_NONE, F_NTH, F_SPACE };

/*
 * Every kernel runs the call once without a failure, through the same
 * checks; without fault injection the sweep then skips (SKIP would turn a
 * failed check into a pass: not after one).
 */
#define F_SKIP_UNLESS_FI() do {						\
	if (!self->ok) {						\
		if (_metadata->passed)					\
			SKIP(return, FI_SKIP);				\
		return;							\
	}								\
} while (0)

/*
 * One call of the variant's mode on a fresh file.  F_NTH: fail the @arg-th
 * fault-injection check of this task; F_SPACE: attribute @attr with space
 * @arg, for this task only while it is in the ioctl.  *hit: the failure
 * was injected (fail-nth reached 0, or times went from 1 to 0).
 */
static int f_call(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
		  const FIXTURE_VARIANT(fault) *variant, int how, int attr,
		  long long arg, bool *hit, struct shmem_zero_args *a)
{
	struct fstate *st = &self->st;
	char val[32];
	int ret;

	ASSERT_EQ(0, f_make(self, st)) TH_LOG("building the file: %s", strerror(errno));
	args_init(a, st->fd, variant->mode, f_vec, F_NR);
	a->flags = variant->flags;
	if (variant->map) {
		a->map = (uintptr_t)st->out;
		a->map_len = F_VPAGES;
	}
	args_poison_out(a);
	memset(st->out, 0xee, sizeof(st->out));
	*hit = false;

	if (how == F_NTH) {
		ASSERT_TRUE(proc_set(self->nth, arg));
		ret = sz(self->dev, a);
		*hit = proc_get(self->nth) == 0;
		if (!*hit)
			proc_set(self->nth, 0);
	} else if (how == F_SPACE) {
		snprintf(val, sizeof(val), "%lld", arg);
		ASSERT_TRUE(fi_set(attr, "space", val));
		ASSERT_TRUE(fi_set(attr, "times", "1"));
		ASSERT_TRUE(fi_set(attr, "probability", "100"));
		ASSERT_TRUE(proc_set(self->mif, 1));
		ret = sz(self->dev, a);
		proc_set(self->mif, 0);
		*hit = fi_get(attr, "times") == 0;
		fi_set(attr, "probability", "0");
		fi_set(attr, "times", "1");
	} else {
		ret = sz(self->dev, a);
	}
	f_check(_metadata, self, variant, ret, a);
	f_free(st);
	return ret;
}

struct fsum {
	unsigned int hits, enomem, done, other;
};

static void f_tally(struct __test_metadata *_metadata, const char *what,
		    struct fsum *s, int ret, const struct shmem_zero_args *a,
		    const struct shmem_zero_args *ref)
{
	s->hits++;
	if (ret == ENOMEM) {
		s->enomem++;
		return;
	}
	s->done++;
	if (!ret && memcmp(&a->ranges_done, &ref->ranges_done, NOUT * sizeof(__u64))) {
		s->other++;
		LOGA(what, *a);
	}
}

/* Fail the k-th allocation of the call, for k = 1, 2, ... */
TEST_F_TIMEOUT(fault, nth_sweep, 1200)
{
	struct shmem_zero_args a, ref;
	struct fsum s = { 0 };
	bool hit;
	int k, ret;

	FILTER(variant->id);
	ASSERT_EQ(0, f_call(_metadata, self, variant, F_NONE, 0, 0, &hit, &ref));
	LOGA(variant->name, ref);
	TH_LOG("layout: [512, 1024) %s; [192, 256) %s", self->st.huge ?
	       "one huge folio" : "small folios (no shmem THP)",
	       self->have_swap ? "paged out" : "resident (no swap)");
	F_SKIP_UNLESS_FI();
	for (k = 1; k <= F_MAXK; k++) {
		char what[64];

		ret = f_call(_metadata, self, variant, F_NTH, 0, k, &hit, &a);
		if (!hit) {
			EXPECT_EQ(0, ret);
			break;
		}
		snprintf(what, sizeof(what), "%s, allocation %d failed", variant->name, k);
		f_tally(_metadata, what, &s, ret, &a, &ref);
	}
	EXPECT_GE(F_MAXK, k) TH_LOG("more than %d fault-injection points in one call", F_MAXK);
	TH_LOG("%s: %d fault-injection points in the call; %u hits: %u ENOMEM, "
	       "%u completed (%u with other counters than without a failure)%s%s",
	       variant->name, k - 1, s.hits, s.enomem, s.done, s.other,
	       self->have_swap ? "" : "; no swap", self->st.huge ? "" : "; no huge folio");
}

/*
 * failslab, then fail_page_alloc: probability 100, times 1, task-filter,
 * make-it-fail around the ioctl only; space = 1, 1 + unit, 1 + 2 unit ...
 * (unit: a 4 KiB object; a page) lets the first allocations through and
 * fails the one where the budget runs out, until none does.
 */
TEST_F_TIMEOUT(fault, space_sweep, 1200)
{
	static const long long unit[FI_NA] = { 4096, 1 };
	struct shmem_zero_args a, ref;
	bool hit;
	int ret;

	FILTER(variant->id);
	ASSERT_EQ(0, f_call(_metadata, self, variant, F_NONE, 0, 0, &hit, &ref));
	F_SKIP_UNLESS_FI();
	for (int at = 0; at < FI_NA; at++) {
		struct fsum s = { 0 };
		int m;

		for (m = 0; m <= F_MAXK; m++) {
			char what[64];

			ret = f_call(_metadata, self, variant, F_SPACE, at,
				     1 + m * unit[at], &hit, &a);
			if (!hit) {
				EXPECT_EQ(0, ret);
				break;
			}
			snprintf(what, sizeof(what), "%s, %s space %lld", variant->name,
				 fi_attr[at], 1 + m * unit[at]);
			f_tally(_metadata, what, &s, ret, &a, &ref);
		}
		EXPECT_GE(F_MAXK, m);
		TH_LOG("%s, %s: %u hits: %u ENOMEM, %u completed (%u with other counters)",
		       variant->name, fi_attr[at], s.hits, s.enomem, s.done, s.other);
	}
}

/* ------------------------------------------------------------------ */
/* kmemleak: nothing the module allocated is left unreferenced          */
/* ------------------------------------------------------------------ */

FIXTURE(leak) {
	bool mounted;
};

FIXTURE_SETUP(leak)
{
	if (access(DBGFS "/kmemleak", F_OK) &&
	    !mount("debugfs", DBGFS, "debugfs", 0, NULL))
		self->mounted = true;
}

FIXTURE_TEARDOWN(leak)
{
	if (self->mounted)
		umount(DBGFS);
}

/*
 * Runs after the fault sweeps: kmemleak (the sz-debug kernel has it, without
 * the automatic scan) reports objects allocated from the module and no
 * longer referenced, older than 5 s.
 */
TEST_F_TIMEOUT(leak, none_from_module, 900)
{
	static char buf[1 << 16];
	unsigned int reports = 0, ours = 0;
	char *s;
	ssize_t n;
	size_t len = 0;
	int fd;

	FILTER((const char *)NULL);
	if (access(DBGFS "/kmemleak", F_OK))
		SKIP(return, "kernel without CONFIG_DEBUG_KMEMLEAK (the sz-debug kernel has it)");
	sleep(6);
	for (int i = 0; i < 2; i++)
		if (!file_write(DBGFS "/kmemleak", "scan"))
			SKIP(return, "kmemleak scan: %s (disabled?)", strerror(errno));
	fd = open(DBGFS "/kmemleak", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	while (len < sizeof(buf) - 1 &&
	       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	buf[len] = 0;
	close(fd);
	for (s = buf; (s = strstr(s, "unreferenced object")); s++)
		reports++;
	for (s = buf; (s = strstr(s, "[shmem_zero]")); s++)
		ours++;
	TH_LOG("kmemleak: %u unreferenced objects reported, %u lines name shmem_zero",
	       reports, ours);
	EXPECT_EQ(0U, ours) TH_LOG("%.4000s", buf);
}

TEST_HARNESS_MAIN
