// SPDX-License-Identifier: GPL-2.0
/*
 * Race matrix for /dev/shmem_zero: every mode (DISCARD, QUERY, RECLAIM,
 * ZERO_IN_PLACE) against every racer that changes the file, its mappings or
 * its pages while calls run:
 *
 *   truncate       ftruncate() shrinks the file and grows it back
 *   fallocate      fallocate() allocates (also past EOF) and punches holes
 *   munmap_mremap  the writers' mapping is moved, unmapped and remapped
 *                  under them
 *   fork_cow       a MAP_PRIVATE mapping with COW copies, forked
 *   seal           F_ADD_SEALS lands in the middle of a call
 *   pageout        MADV_PAGEOUT to zram swap, and swap-in
 *   collapse       MADV_COLLAPSE and khugepaged make shmem THPs
 *   io_uring       fixed buffers registered and unregistered over the file,
 *                  written by IORING_OP_READ_FIXED
 *   udmabuf        udmabufs created, written through and destroyed
 *   migrate        the kernel migrates the file's pages: soft offline
 *                  (/sys/devices/system/memory/soft_offline_page, else
 *                  MADV_SOFT_OFFLINE) of page after page, and compaction
 *                  (/proc/sys/vm/compact_memory)
 *
 * One TAP line per cell: race.<mode>.<racer>.  Each cell runs a memfd of
 * NPAGES pages for about two seconds with two writers (stores through a
 * MAP_SHARED mapping, page-sized pwrite()), the mode's calls in a loop and
 * the racer, then checks contents with pread() and the mapping, and a
 * quiescent QUERY.  SZ_RACE_SECONDS sets the time of a cell, SZ_RACE_SEED
 * varies the random choices, SZ_RACE_DEBUG=1 logs every round of the seal
 * cells.
 *
 * The page model.  Word 0 of every page is never written in the file;
 * every other word is zero but for pm[p].word, which holds pm[p].val (0:
 * the page reads all zero).  Every value written is unique (writer id and
 * a sequence number), so an old value where a new one should be is a lost
 * write.  Each page has a rwlock: whatever stores data (the writers,
 * io_uring, udmabuf) or checks the exact state of a page (a locked QUERY)
 * holds it exclusively; whatever only zeroes pages (a DISCARD or
 * ZERO_IN_PLACE call, truncation, punch-hole) holds it shared, and sets the
 * model to zero for what it zeroed.  Zeroers thus overlap each other (a
 * truncation lands between the holds of a DISCARD over the same pages) but
 * never a store, and every outcome is decidable: a page reads either its
 * last write, or zero because a zeroer that ran after it said so.  RECLAIM
 * and QUERY change nothing and take no lock (but for the locked QUERYs):
 * they race with everything.  Every store first checks that the page still
 * holds the previous one, so a write lost and overwritten in the middle of
 * a run is still seen.  Half the mapping writer's stores flip a few hot
 * pages between zero and data, and a third of the calls cover them: that is
 * where a store lands inside RECLAIM's work on the very folio (a RECLAIM
 * without its re-check after the unmap loses writes in most cells).
 *
 * Each call's result is checked: only the documented errnos, counters that
 * add up (QUERY: to the pages; the others: to the pages below EOF, which
 * the truncate racer moves, or past it for DISCARD), fields the mode does
 * not use left zero, the QUERY map agreeing with the counters and, under
 * the page locks, with the model; pages a zeroing call reports done read
 * zero, those it did not reach are untouched.
 *
 * RECLAIM's one documented exception (Documentation/shmem_zero.rst): a
 * udmabuf created, written through and destroyed entirely inside one
 * invalidate_mapping_pages() window loses that write.  In race.reclaim.udmabuf
 * a lost write is forgiven only if it is exactly that: the last write to the
 * page went through a udmabuf, into a page that was all zero before, and
 * the page reads all zero again.  They are counted and logged.
 *
 * The migrate racer.  Migration stores its destination folio in the page
 * cache locked and not yet uptodate (6.12 copies first, then stores, then
 * sets the flag; 6.1 stores before it copies): a folio being filled, not a
 * fallocated one.  The VM has one NUMA node, so move_pages() has nowhere to
 * go, and compaction of a mostly free machine soon settles: once a pass
 * has packed the movable pages, the next finds none of the file's to move.
 * The racer therefore mostly soft-offlines pages of the file, one at a
 * time: the kernel migrates each (MIGRATE_SYNC, as compaction) and takes
 * the old page out of service; and it compacts now and then.  It finds the
 * pages' PFNs in /proc/self/pagemap through a mapping of its own: a page it
 * sees at a new PFN there after a soft offline or a compaction, without
 * having faulted it again, was migrated.  Those are counted, and checked
 * against pgmigrate_success (if the kernel counts VM events); a cell where
 * no page of the file migrated fails.  No page of this file is ever fallocated, and in the QUERY and
 * ZERO_IN_PLACE cells none is ever a hole (all are written first; neither
 * mode, nor the writers, frees one), so no folio there is ever being filled
 * but by migration: there, a page reported UNWRITTEN is a failure.  On 6.12
 * the window is a few instructions, so half the calls chase the racer: they
 * look up, over and over, the page it is migrating (mig_chase()); the
 * racer and the caller run on two CPUs (mig_pin()) and the writers pause
 * more.  Even so the window is seen only while both CPUs really run at
 * once: a VM whose host is busy elsewhere may see it in no cell.
 *
 * The unload fixture (last) tries delete_module() while a DISCARD and while
 * a RECLAIM call is in flight, as mod.unload_reload of shmem_zero_test.c
 * does for QUERY, and reloads the module from $SHMEM_ZERO_KO.
 *
 * The kselftest harness of 6.1 takes no options; main() here takes
 * -f FIXTURE, -v VARIANT, -t TEST (each repeatable, a test runs if it
 * matches every kind given) and -l (list), like later harnesses.
 *
 * Runs as root in the test VM.  What a cell changes (the shmem THP knob,
 * khugepaged's scan interval, a zram swap device, kernel.io_uring_disabled
 * for the instant of io_uring_setup()) is restored by the fixture teardown,
 * but for the pages the migrate cells soft-offline: they stay out of
 * service (HardwareCorrupted in /proc/meminfo) until reboot, at most
 * MIG_SO_MAX pages (16 MiB) a cell.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/uio.h>

#include "shmem_zero_harness.h"
#include "shmem_zero_util.h"
#include "shmem_zero_ring.h"
#include "shmem_zero_module.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE	101
#endif

#define RECLAIM		SHMEM_ZERO_MODE_RECLAIM
#define ZIP		SHMEM_ZERO_MODE_ZERO_IN_PLACE
#define C_HOLE		SHMEM_ZERO_PAGE_HOLE
#define C_ZERO		SHMEM_ZERO_PAGE_ZERO
#define C_DATA		SHMEM_ZERO_PAGE_DATA
#define C_SWAP		SHMEM_ZERO_PAGE_SWAP
#define C_UNWR		SHMEM_ZERO_PAGE_UNWRITTEN
#define C_RES		SHMEM_ZERO_PAGE_RESIDENT

#define GIB		(1024ULL * MIB)
#define NPAGES		1024ULL		/* 4 MiB: two 2 MiB huge pages */
#define WORDS		(PG / 8)
#define HP_PAGES	512ULL		/* pages of a PMD-sized folio */
#define VEC_MAX		2048		/* ranges in one call (SEAL_CALL) */
#define PAST_PAGES	64ULL		/* fallocate: KEEP_SIZE blocks past EOF */
#define URING_MAX	32ULL		/* pages of one registered buffer */
#define UB_LEN		16ULL		/* pages of one udmabuf */
#define HOT_FIRST	64ULL		/* the hot pages: [HOT_FIRST, +HOT_PAGES) */
#define HOT_PAGES	16ULL
#define KHP_DIR		THP_DIR "/khugepaged"
#define SOFT_OFFLINE	"/sys/devices/system/memory/soft_offline_page"
#define COMPACT_MEMORY	"/proc/sys/vm/compact_memory"
#define MIG_SO_MAX	4096ULL		/* soft offlines a cell (pages lost) */
#define MIG_COMPACT_MS	500		/* a compaction every so often */
#define MIG_CHASE	256		/* ranges of a call that chases it */

/* ------------------------------------------------------------------ */
/* The cell                                                             */
/* ------------------------------------------------------------------ */

enum racer {
	R_TRUNCATE, R_FALLOCATE, R_MREMAP, R_FORK, R_SEAL, R_PAGEOUT,
	R_COLLAPSE, R_URING, R_UDMABUF, R_MIGRATE,
};

/* Who made a page's last write. */
enum who { W_NONE, W_MAP, W_PWRITE, W_URING, W_UDMABUF, W_FIX, W_NR };

static const char *const who_name[W_NR] = {
	"nobody", "a mapping store", "pwrite", "io_uring READ_FIXED",
	"a udmabuf store", "the setup",
};

struct pm {
	pthread_rwlock_t lk;
	uint64_t val;		/* the last value written at word (0: all zero) */
	uint32_t word;		/* where it is, or was */
	uint8_t who;		/* enum who of that write */
	bool prev_zero;		/* the page read all zero before it */
	bool beyond;		/* past EOF (the truncate racer) */
};

/* Kinds of failure, each counted with the first one's description. */
enum {
	F_LOST, F_STRAY, F_ZERO, F_KEPT, F_CLASS, F_UNWR, F_COUNT, F_ERRNO,
	F_RACER, F_SYS, F_NR
};

static const char *const f_what[F_NR] = {
	"writes lost",
	"stray non-zero words",
	"pages a zeroing call reported done that do not read zero",
	"pages changed that the call did not reach",
	"QUERY classes that contradict the page model",
	"calls that reported UNWRITTEN pages in a file never fallocated",
	"calls whose counters do not add up",
	"calls that failed with an undocumented errno",
	"racer checks failed",
	"test machinery errors",
};

struct cell {
	uint32_t mode;
	enum racer racer;
	int dev, fd;
	uint64_t n;		/* pages of the file (EOF but when truncated) */
	uint64_t wfirst, wend;	/* the writers write pages [wfirst, wend) */
	uint64_t hot;		/* pages the calls and the mapping writer favour */
	uint64_t past;		/* pages past EOF whole-file calls also cover */
	uint64_t min_eof;	/* the lowest EOF (pages) the racer sets */
	bool swap;		/* pages may be swapped out */
	double seconds;
	uint64_t seed;
	_Atomic(char *) map;	/* the writers' MAP_SHARED mapping of it all */
	struct pm *pm;
	atomic_int stop;
	atomic_int sealing;	/* seal: a write seal may be on */

	atomic_ulong writes[W_NR];
	atomic_ulong calls, freed, zeroed, pinned, busy, swapped, unwritten;
	atomic_ulong doc_loss;	/* RECLAIM x udmabuf, the documented window */
	atomic_ulong rops, rmiss;	/* racer operations; those refused */
	atomic_int rmiss_err;
	atomic_ulong fails[F_NR];
	char msg[F_NR][256];

	/* racer state */
	char *res[2];		/* munmap_mremap: two reserved address ranges */
	size_t res_len;
	atomic_ulong dontunmap_einval;
	struct ring ring;	/* io_uring */
	int src;		/* io_uring: READ_FIXED source */
	int udev;		/* udmabuf */
	atomic_ulong orphans;
	char *mig;		/* migrate: the racer's own mapping of the file */
	int pagemap, soft;	/* /proc/self/pagemap, SOFT_OFFLINE (-1: none) */
	bool soft_on;		/* soft offline works (by madvise() if soft < 0) */
	bool compact;		/* COMPACT_MEMORY is there */
	bool no_unwritten;	/* never fallocated: a folio not uptodate is locked */
	atomic_ulong mig_page;	/* the page the racer migrates now */
	unsigned long so_moved, compactions, compact_moved;
};

static void __attribute__((format(printf, 3, 4)))
fail(struct cell *c, int kind, const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&c->fails[kind], 1))
		return;
	va_start(ap, fmt);
	vsnprintf(c->msg[kind], sizeof(c->msg[kind]), fmt, ap);
	va_end(ap);
}

static inline uint64_t mval(const struct pm *pm)
{
	return __atomic_load_n(&pm->val, __ATOMIC_RELAXED);
}

static inline void mset(struct pm *pm, uint64_t v)
{
	__atomic_store_n(&pm->val, v, __ATOMIC_RELAXED);
}

static inline bool mbeyond(const struct pm *pm)
{
	return __atomic_load_n(&pm->beyond, __ATOMIC_RELAXED);
}

static inline bool zeroing(uint32_t mode)
{
	return mode == DISCARD || mode == ZIP;
}

static void lock_pages(struct cell *c, uint64_t first, uint64_t n, bool excl)
{
	for (uint64_t p = first; p < first + n && p < c->n; p++) {
		if (excl)
			pthread_rwlock_wrlock(&c->pm[p].lk);
		else
			pthread_rwlock_rdlock(&c->pm[p].lk);
	}
}

static void unlock_pages(struct cell *c, uint64_t first, uint64_t n)
{
	for (uint64_t p = first; p < first + n && p < c->n; p++)
		pthread_rwlock_unlock(&c->pm[p].lk);
}

/* A page's new state after a write by @who of @v at word @w. */
static void note(struct pm *pm, int who, uint64_t v, uint32_t w)
{
	pm->prev_zero = mval(pm) == 0;
	pm->who = who;
	pm->word = w;
	mset(pm, v);
}

/* ------------------------------------------------------------------ */
/* Page access                                                          */
/* ------------------------------------------------------------------ */

static __thread sigjmp_buf *volatile seg_jb;

static void seg_handler(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (seg_jb)
		siglongjmp(*seg_jb, sig);
	signal(sig, SIG_DFL);	/* a real crash: fault again, and die */
}

static void seg_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = seg_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/*
 * Load (or store) word @w of page @p through the writers' current mapping.
 * The munmap_mremap racer moves and unmaps it under the writers: a SIGSEGV
 * is retried through whatever mapping is published by then (every address
 * of its two regions is either reserved PROT_NONE, unmapped for an
 * instant, or maps the file at the offset the writers expect).  0, or the
 * signal (SIGBUS: never expected).
 */
static int map_access(struct cell *c, uint64_t p, uint32_t w, uint64_t *v,
		      bool store)
{
	volatile unsigned long tries = 0;
	sigjmp_buf jb;
	int sig;

	sig = sigsetjmp(jb, 1);
	if (sig) {
		seg_jb = NULL;
		if (sig != SIGSEGV || ++tries > 1000000)
			return sig;
		sched_yield();
	}
	seg_jb = &jb;
	{
		volatile uint64_t *q = (volatile uint64_t *)
			(atomic_load(&c->map) + p * PG) + w;

		if (store)
			*q = *v;
		else
			*v = *q;
	}
	seg_jb = NULL;
	return 0;
}

/* A whole page by pread(): PG bytes, 0 at EOF, -1 on error. */
static ssize_t page_read(struct cell *c, uint64_t p, void *buf)
{
	ssize_t r = pread(c->fd, buf, PG, p * PG);

	return r == (ssize_t)PG || r == 0 ? r : -1;
}

static bool all_zero(const void *buf)
{
	const uint64_t *q = buf;

	for (unsigned int i = 0; i < WORDS; i++)
		if (q[i])
			return false;
	return true;
}

/* Word @w of page @p, through the mapping (W_MAP) or pread. 0 or errno. */
static int rd(struct cell *c, int who, uint64_t p, uint32_t w, uint64_t *v)
{
	if (who == W_MAP)
		return map_access(c, p, w, v, false) ? EFAULT : 0;
	*v = 0;
	return pread(c->fd, v, 8, p * PG + w * 8) == 8 ? 0 : errno ? errno : EIO;
}

/*
 * Page @p becomes all zero but for word @w = @v (v 0: all zero): a store
 * (and the old word cleared) through the mapping, or one page of pwrite.
 * 0 or errno.
 */
static int wr(struct cell *c, int who, uint64_t p, uint32_t w, uint64_t v,
	      uint32_t old_w, uint64_t old_v)
{
	uint64_t page[WORDS] __attribute__((aligned(64)));
	uint64_t zero = 0;

	if (who == W_MAP) {
		if (v && map_access(c, p, w, &v, true))
			return EFAULT;
		if (old_v && old_w != w && map_access(c, p, old_w, &zero, true))
			return EFAULT;
		if (!v && old_v && old_w == w && map_access(c, p, w, &zero, true))
			return EFAULT;
		return 0;
	}
	memset(page, 0, sizeof(page));
	page[w] = v;
	return pwrite(c->fd, page, PG, p * PG) == (ssize_t)PG ? 0 : errno ? errno : EIO;
}

/*
 * Page @p (its lock held exclusively) does not read its last write: @got at
 * its word.  A failure, but for RECLAIM's documented udmabuf window.  The
 * page is then rewritten all zero, so that the model holds again.
 */
static void lost(struct cell *c, uint64_t p, uint64_t got)
{
	struct pm *pm = &c->pm[p];
	char buf[PG] __attribute__((aligned(64)));
	bool zero = page_read(c, p, buf) >= 0 && all_zero(buf);

	if (c->mode == RECLAIM && pm->who == W_UDMABUF && pm->prev_zero && zero) {
		atomic_fetch_add(&c->doc_loss, 1);
	} else {
		fail(c, F_LOST, "page %llu word %u reads %#llx, not %#llx written by %s%s",
		     (unsigned long long)p, pm->word, (unsigned long long)got,
		     (unsigned long long)mval(pm), who_name[pm->who],
		     zero ? " (the page reads all zero)" : "");
	}
	memset(buf, 0, sizeof(buf));
	if (pwrite(c->fd, buf, PG, p * PG) != (ssize_t)PG)
		fail(c, F_SYS, "pwrite to resync page %llu: %s",
		     (unsigned long long)p, strerror(errno));
	note(pm, W_FIX, 0, pm->word);
}

/* ------------------------------------------------------------------ */
/* Writers                                                              */
/* ------------------------------------------------------------------ */

struct writer {
	struct cell *c;
	int who;
	bool sealed;		/* seal: stopped by a write seal */
};

/* A write that failed: EPERM is expected only from pwrite after a write seal. */
static bool write_failed(struct writer *wt, uint64_t p, int e)
{
	struct cell *c = wt->c;

	if (e == EPERM && wt->who == W_PWRITE && atomic_load(&c->sealing)) {
		wt->sealed = true;
		return true;
	}
	fail(c, F_SYS, "%s of page %llu: %s", who_name[wt->who],
	     (unsigned long long)p, strerror(e));
	return true;
}

static void write_op(struct writer *wt, uint64_t *seed, uint64_t *seq)
{
	struct cell *c = wt->c;
	uint64_t p = c->wfirst + rnd(seed) % (c->wend - c->wfirst);
	uint64_t u = rnd(seed) % 100, got = 0, v;
	struct pm *pm;
	uint32_t w;
	int e;

	/*
	 * Half the mapping's stores go to a few hot pages, flipped between
	 * zero and data through PTEs that stay writable: the stores that
	 * land inside a RECLAIM's work on the very folio.
	 */
	if (c->hot && wt->who == W_MAP && u % 2) {
		p = HOT_FIRST + rnd(seed) % c->hot;
		u = 10 + rnd(seed) % 90;
	}
	pm = &c->pm[p];
	pthread_rwlock_wrlock(&pm->lk);
	if (mbeyond(pm))
		goto out;
	/* the page still holds the last write (a read also faults holes in) */
	e = rd(c, wt->who, p, pm->word, &got);
	if (e) {
		write_failed(wt, p, e);
		goto out;
	}
	if (got != mval(pm))
		lost(c, p, got);
	if (u < 10)
		goto out;
	if (u < 45) {
		/* make it all zero: RECLAIM has pages to free */
		if (!mval(pm))
			goto out;
		e = wr(c, wt->who, p, pm->word, 0, pm->word, mval(pm));
		if (e && write_failed(wt, p, e))
			goto out;
		note(pm, wt->who, 0, pm->word);
	} else {
		v = (uint64_t)wt->who << 56 | ++*seq;
		w = 1 + rnd(seed) % (WORDS - 1);
		e = wr(c, wt->who, p, w, v, pm->word, mval(pm));
		if (e && write_failed(wt, p, e))
			goto out;
		note(pm, wt->who, v, w);
	}
	atomic_fetch_add_explicit(&c->writes[wt->who], 1, memory_order_relaxed);
out:
	pthread_rwlock_unlock(&pm->lk);
}

static void *writer_fn(void *arg)
{
	struct writer *wt = arg;
	struct cell *c = wt->c;
	uint64_t seed = c->seed ^ (0x1234567ULL * wt->who), seq = 0;

	for (unsigned long i = 1; !atomic_load_explicit(&c->stop, memory_order_relaxed) &&
	     !wt->sealed; i++) {
		write_op(wt, &seed, &seq);
		/*
		 * Leave the CPUs to the calls and the racer now and then; more
		 * to the migrate racer, whose soft offlines a busy writer slows
		 * down most (it unmaps the page, the writers fault it back).
		 */
		if (i % 32 == 0)
			usleep(c->racer == R_MIGRATE ? 1000 : 100);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The mode's calls                                                     */
/* ------------------------------------------------------------------ */

struct vec {
	struct shmem_zero_range r[VEC_MAX];
	uint64_t nr, total;		/* ranges, pages */
};

static void vec_add(struct vec *v, uint64_t first, uint64_t n)
{
	v->r[v->nr++] = (struct shmem_zero_range){ first * PG, n * PG };
	v->total += n;
}

/*
 * migrate: the page the racer migrates now; for QUERY 4 * MIG_CHASE times
 * over, for ZERO_IN_PLACE MIG_CHASE times (ranges may repeat).  Migration
 * stores its destination not uptodate only for a few instructions (6.12:
 * from folio_migrate_mapping() to the flags): a call sees it only if it
 * looks the page up then.  So half the calls chase the racer, whose soft
 * offline of one page takes milliseconds, and those two modes look that
 * page up again and again (DISCARD and RECLAIM would unmap it each time:
 * slow).
 */
static void mig_chase(struct cell *c, struct vec *v)
{
	uint64_t p = atomic_load_explicit(&c->mig_page, memory_order_relaxed);
	int k = c->mode == QUERY ? 4 * MIG_CHASE : c->mode == ZIP ? MIG_CHASE : 1;

	for (int i = 0; i < k; i++)
		vec_add(v, p, 1);
}

/*
 * Random ascending, disjoint ranges: the hot pages a third of the time
 * (where the mapping writer stores most), one short range mostly, a few short
 * ones, many one-page ranges (more than a chunk of 256: several holds of
 * i_rwsem, so truncation and seals land between them), or all of it (and
 * past EOF where the racer allocates there).  In the migrate cells, half
 * the time the pages the racer migrates (mig_chase()).
 */
static void pick_ranges(struct cell *c, uint64_t *seed, struct vec *v)
{
	uint64_t u, pos, len, stride, count;

	v->nr = v->total = 0;
	if (c->racer == R_MIGRATE && rnd(seed) % 2) {
		mig_chase(c, v);
		return;
	}
	u = rnd(seed) % 100;
	if (c->hot && u % 3 == 0) {
		vec_add(v, HOT_FIRST, c->hot);
	} else if (u < 55) {
		pos = rnd(seed) % c->n;
		len = 1 + rnd(seed) % (c->n - pos < 64 ? c->n - pos : 64);
		vec_add(v, pos, len);
	} else if (u < 80) {
		pos = rnd(seed) % (c->n / 2);
		for (int i = 0, k = 2 + rnd(seed) % 7; i < k; i++) {
			pos += rnd(seed) % 32;
			len = 1 + rnd(seed) % 16;
			if (pos + len > c->n)
				break;
			vec_add(v, pos, len);
			pos += len;
		}
		if (!v->nr)
			vec_add(v, 0, 1);
	} else if (u < 92) {
		pos = rnd(seed) % (c->n / 2);
		stride = 1 + rnd(seed) % 2;
		count = 300 + rnd(seed) % 300;
		for (uint64_t i = 0; i < count && pos + i * stride < c->n; i++)
			vec_add(v, pos + i * stride, 1);
	} else {
		vec_add(v, 0, c->n + c->past);
	}
}

/* Pages of @v below page @eof. */
static uint64_t vec_below(const struct vec *v, uint64_t eof)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < v->nr; i++) {
		uint64_t f = v->r[i].offset / PG, l = f + v->r[i].length / PG;

		if (f < eof)
			n += (l < eof ? l : eof) - f;
	}
	return n;
}

static void vec_lock(struct cell *c, const struct vec *v, bool excl)
{
	for (uint64_t i = 0; i < v->nr; i++)
		lock_pages(c, v->r[i].offset / PG, v->r[i].length / PG, excl);
}

static void vec_unlock(struct cell *c, const struct vec *v)
{
	for (uint64_t i = 0; i < v->nr; i++)
		unlock_pages(c, v->r[i].offset / PG, v->r[i].length / PG);
}

static const char *mode_name(uint32_t mode)
{
	static const char *const n[] = { "DISCARD", "QUERY", "RECLAIM", "ZERO_IN_PLACE" };

	return mode < 4 ? n[mode] : "?";
}

#define ARGS_FMT "ranges_done %llu bytes_done %llu hole %llu zero %llu data %llu " \
	"unwritten %llu swap %llu freed %llu zeroed %llu pinned %llu busy %llu"
#define ARGS_ARG(a) (unsigned long long)(a)->ranges_done,			\
	(unsigned long long)(a)->bytes_done, (unsigned long long)(a)->hole_pages, \
	(unsigned long long)(a)->zero_pages, (unsigned long long)(a)->data_pages, \
	(unsigned long long)(a)->unwritten_pages, (unsigned long long)(a)->swap_pages, \
	(unsigned long long)(a)->freed_pages, (unsigned long long)(a)->zeroed_pages, \
	(unsigned long long)(a)->pinned_pages, (unsigned long long)(a)->busy_pages

/*
 * The counters of one successful call over @v add up: QUERY to every page;
 * RECLAIM and ZERO_IN_PLACE to the pages below EOF when the range began
 * (between the lowest and the highest EOF the racer sets); DISCARD to those
 * and the entries past EOF.  The fields the mode does not use are zero.
 */
static void check_counts(struct cell *c, const struct vec *v,
			 const struct shmem_zero_args *a)
{
	uint64_t lo = vec_below(v, c->min_eof), hi = vec_below(v, c->n);
	uint64_t sum = 0, unused = 0;

	switch (c->mode) {
	case DISCARD:
		sum = a->hole_pages + a->freed_pages + a->zeroed_pages +
		      a->swap_pages + a->pinned_pages;
		unused = a->zero_pages + a->data_pages + a->unwritten_pages +
			 a->busy_pages;
		hi = v->total;
		break;
	case QUERY:
		sum = a->hole_pages + a->zero_pages + a->data_pages +
		      a->unwritten_pages + a->swap_pages;
		unused = a->freed_pages + a->zeroed_pages + a->pinned_pages +
			 a->busy_pages;
		lo = hi = v->total;
		break;
	case RECLAIM:
		sum = a->hole_pages + a->data_pages + a->unwritten_pages +
		      a->swap_pages + a->freed_pages + a->pinned_pages +
		      a->busy_pages;
		unused = a->zero_pages + a->zeroed_pages;
		break;
	case ZIP:
		/* data_pages: hwpoisoned, none here */
		sum = a->hole_pages + a->zero_pages + a->zeroed_pages +
		      a->unwritten_pages + a->swap_pages + a->busy_pages;
		unused = a->freed_pages + a->pinned_pages + a->data_pages;
		break;
	}
	if (a->ranges_done != v->nr || a->bytes_done != v->total * PG ||
	    sum < lo || sum > hi || unused)
		fail(c, F_COUNT, "%s of %llu pages in %llu ranges: sum %llu, not in [%llu, %llu], "
		     "or unused fields set: " ARGS_FMT, mode_name(c->mode),
		     (unsigned long long)v->total, (unsigned long long)v->nr,
		     (unsigned long long)sum, (unsigned long long)lo,
		     (unsigned long long)hi, ARGS_ARG(a));
	/* migrate: a folio not uptodate is being migrated or written */
	if (c->no_unwritten && a->unwritten_pages)
		fail(c, F_UNWR, "%s of %llu pages in %llu ranges: %llu UNWRITTEN; " ARGS_FMT,
		     mode_name(c->mode), (unsigned long long)v->total,
		     (unsigned long long)v->nr, (unsigned long long)a->unwritten_pages,
		     ARGS_ARG(a));
	atomic_fetch_add(&c->freed, a->freed_pages);
	atomic_fetch_add(&c->zeroed, a->zeroed_pages);
	atomic_fetch_add(&c->pinned, a->pinned_pages);
	atomic_fetch_add(&c->busy, a->busy_pages);
	atomic_fetch_add(&c->swapped, a->swap_pages);
	atomic_fetch_add(&c->unwritten, a->unwritten_pages);
}

/* A class QUERY may give a page the model knows exactly (its lock held). */
static bool class_ok(const struct cell *c, const struct pm *pm, uint8_t cls)
{
	if (mbeyond(pm))
		return cls == C_HOLE;
	if (c->swap && cls == C_SWAP)
		return true;
	if (mval(pm))
		return cls == C_DATA;
	return cls == C_HOLE || cls == C_ZERO || cls == C_UNWR;
}

/* The map of a QUERY over @total pages agrees with its counters. */
static void check_map(struct cell *c, const struct shmem_zero_args *a,
		      const uint8_t *map, uint64_t total, bool noread)
{
	uint64_t cnt[8] = { 0 };
	bool ok;

	for (uint64_t i = 0; i < total; i++)
		cnt[map[i] < 6 ? map[i] : 7]++;
	if (noread)
		ok = !cnt[C_ZERO] && !cnt[C_DATA] && !cnt[7] && !a->zero_pages &&
		     cnt[C_RES] == a->data_pages;
	else
		ok = !cnt[C_RES] && !cnt[7] && cnt[C_ZERO] == a->zero_pages &&
		     cnt[C_DATA] == a->data_pages;
	ok = ok && cnt[C_HOLE] == a->hole_pages && cnt[C_UNWR] == a->unwritten_pages &&
	     cnt[C_SWAP] == a->swap_pages;
	/* past EOF (fallocate KEEP_SIZE blocks there included): holes */
	for (uint64_t p = c->n; p < total; p++)
		ok = ok && map[p] == C_HOLE;
	if (!ok)
		fail(c, F_COUNT, "QUERY%s map of %llu pages: hole %llu zero %llu data %llu "
		     "swap %llu unwritten %llu resident %llu invalid %llu; " ARGS_FMT,
		     noread ? " NOREAD" : "", (unsigned long long)total,
		     (unsigned long long)cnt[C_HOLE], (unsigned long long)cnt[C_ZERO],
		     (unsigned long long)cnt[C_DATA], (unsigned long long)cnt[C_SWAP],
		     (unsigned long long)cnt[C_UNWR], (unsigned long long)cnt[C_RES],
		     (unsigned long long)cnt[7], ARGS_ARG(a));
}

/*
 * DISCARD or ZERO_IN_PLACE over random ranges, their pages held shared:
 * afterwards the done ones read zero (or lie past EOF) and the rest did
 * not change.  ZERO_IN_PLACE may leave busy_pages (a large swap entry
 * partly in range) as they were.
 */
static void zero_call(struct cell *c, uint64_t *seed, struct vec *v)
{
	char buf[PG] __attribute__((aligned(64)));
	struct shmem_zero_args a;
	uint64_t done, k = 0, nonzero = 0;
	int e;

	pick_ranges(c, seed, v);
	vec_lock(c, v, false);
	args_init(&a, c->fd, c->mode, v->r, v->nr);
	e = sz(c->dev, &a);
	atomic_fetch_add(&c->calls, 1);
	if (e)
		fail(c, F_ERRNO, "%s of %llu ranges: %s; " ARGS_FMT, mode_name(c->mode),
		     (unsigned long long)v->nr, strerror(e), ARGS_ARG(&a));
	else
		check_counts(c, v, &a);
	done = (e ? a.bytes_done : v->total * PG) / PG;
	for (uint64_t i = 0; i < v->nr; i++) {
		/* a range repeated (migrate): its pages were just checked */
		if (i && v->r[i].offset == v->r[i - 1].offset &&
		    v->r[i].length == v->r[i - 1].length) {
			k += v->r[i].length / PG;
			continue;
		}
		for (uint64_t p = v->r[i].offset / PG; p < (v->r[i].offset + v->r[i].length) / PG;
		     p++, k++) {
			struct pm *pm = &c->pm[p];
			const uint64_t *q = (const uint64_t *)buf;
			ssize_t r;

			if (p >= c->n)
				continue;
			r = page_read(c, p, buf);
			if (r < 0) {
				fail(c, F_SYS, "pread page %llu: %s", (unsigned long long)p,
				     strerror(errno));
				continue;
			}
			if (k < done) {
				if (!r || all_zero(buf)) {
					mset(pm, 0);
					continue;
				}
				/* ZERO_IN_PLACE leaves busy_pages (large swap entries) */
				if (++nonzero > a.busy_pages)
					fail(c, F_ZERO, "%s of %llu ranges: page %llu reads %#llx at word %u "
					     "(the last write there %#llx by %s); " ARGS_FMT,
					     mode_name(c->mode), (unsigned long long)v->nr,
					     (unsigned long long)p, (unsigned long long)q[pm->word],
					     pm->word, (unsigned long long)mval(pm),
					     who_name[pm->who], ARGS_ARG(&a));
			} else if (r && q[pm->word] != mval(pm)) {
				fail(c, F_KEPT, "%s failed at page %llu of %llu: page %llu changed",
				     mode_name(c->mode), (unsigned long long)done,
				     (unsigned long long)v->total, (unsigned long long)p);
			}
		}
	}
	vec_unlock(c, v);
}

static void reclaim_call(struct cell *c, uint64_t *seed, struct vec *v)
{
	struct shmem_zero_args a;
	int e;

	pick_ranges(c, seed, v);
	args_init(&a, c->fd, RECLAIM, v->r, v->nr);
	e = sz(c->dev, &a);
	atomic_fetch_add(&c->calls, 1);
	if (e)
		fail(c, F_ERRNO, "RECLAIM of %llu ranges: %s; " ARGS_FMT,
		     (unsigned long long)v->nr, strerror(e), ARGS_ARG(&a));
	else
		check_counts(c, v, &a);
}

/*
 * QUERY: mostly of everything, unlocked, where only the counters and the
 * map can be checked against each other (now and then with
 * SHMEM_ZERO_QUERY_NOREAD); every fourth call of a few pages held
 * exclusively, where the map must agree with the model page by page.  In
 * the migrate cells every other call chases the racer (mig_chase()),
 * unlocked and NOREAD: it looks the page up, and lets it go, at once.
 */
static void query_call(struct cell *c, uint64_t *seed, struct vec *v,
		       uint8_t *map, unsigned long i)
{
	struct shmem_zero_args a;
	bool chase = c->racer == R_MIGRATE && i % 2 == 0;
	bool locked = i % 4 == 3, noread = i % 8 == 1 || chase;
	uint64_t first = 0, len = 0;
	int e;

	v->nr = v->total = 0;
	if (locked) {
		first = rnd(seed) % c->n;
		len = 1 + rnd(seed) % (c->n - first < 32 ? c->n - first : 32);
		vec_add(v, first, len);
		lock_pages(c, first, len, true);
	} else if (chase) {
		mig_chase(c, v);
	} else {
		vec_add(v, 0, c->n + c->past);
	}
	args_init(&a, c->fd, QUERY, v->r, v->nr);
	a.map = (uintptr_t)map;
	a.map_len = v->total;
	a.flags = noread ? SHMEM_ZERO_QUERY_NOREAD : 0;
	e = sz(c->dev, &a);
	atomic_fetch_add(&c->calls, 1);
	if (e) {
		fail(c, F_ERRNO, "QUERY of %llu pages: %s; " ARGS_FMT,
		     (unsigned long long)v->total, strerror(e), ARGS_ARG(&a));
	} else {
		check_counts(c, v, &a);
		if (!locked)
			check_map(c, &a, map, v->total, noread);
	}
	if (!locked)
		return;
	for (uint64_t k = 0; !e && k < len; k++) {
		const struct pm *pm = &c->pm[first + k];

		if (!class_ok(c, pm, map[k]))
			fail(c, F_CLASS, "page %llu is class %u, the model: %#llx at word %u "
			     "by %s%s", (unsigned long long)(first + k), map[k],
			     (unsigned long long)mval(pm), pm->word, who_name[pm->who],
			     mbeyond(pm) ? ", past EOF" : "");
	}
	unlock_pages(c, first, len);
}

/*
 * migrate: the racer (@k 0) on one CPU, the caller (1) on another, so that
 * a call runs while a migration does: on the same CPU, no call would look
 * the page up inside the window, a few instructions with interrupts off
 * then on.  The writers go where they can.  Best effort.
 */
static void mig_pin(int k)
{
	cpu_set_t all, one;
	int n = 0;

	if (sched_getaffinity(0, sizeof(all), &all) || CPU_COUNT(&all) < 2)
		return;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &all) || n++ != k)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		sched_setaffinity(0, sizeof(one), &one);
		return;
	}
}

static void *caller_fn(void *arg)
{
	struct cell *c = arg;
	uint64_t seed = c->seed ^ 0xca11ca11ULL;
	struct vec *v = calloc(1, sizeof(*v));
	/* a chase may repeat one page, up to VEC_MAX ranges */
	uint8_t *map = calloc(c->n + c->past + VEC_MAX, 1);

	if (!v || !map) {
		fail(c, F_SYS, "calloc");
		return NULL;
	}
	if (c->racer == R_MIGRATE)
		mig_pin(1);
	for (unsigned long i = 0; !atomic_load(&c->stop); i++) {
		switch (c->mode) {
		case QUERY:
			query_call(c, &seed, v, map, i);
			break;
		case RECLAIM:
			reclaim_call(c, &seed, v);
			break;
		default:
			zero_call(c, &seed, v);
			break;
		}
	}
	free(map);
	free(v);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Racers                                                               */
/* ------------------------------------------------------------------ */

static inline bool stopped(struct cell *c)
{
	return atomic_load_explicit(&c->stop, memory_order_relaxed);
}

/* The racer's operation was refused (EAGAIN, EBUSY...): counted, not a failure. */
static void miss(struct cell *c, int e)
{
	atomic_fetch_add(&c->rmiss, 1);
	atomic_store(&c->rmiss_err, e);
}

/*
 * Shrink the file to a random EOF and grow it back, the pages past the
 * new EOF held shared (writers keep off them; zeroing calls may be running
 * over them): they read as holes afterwards.
 */
static void *racer_truncate(void *arg)
{
	struct cell *c = arg;
	uint64_t seed = c->seed ^ 0x7e7e7eULL;

	while (!stopped(c)) {
		uint64_t k = c->min_eof + rnd(&seed) % (c->n - c->min_eof);

		lock_pages(c, k, c->n - k, false);
		for (uint64_t p = k; p < c->n; p++) {
			__atomic_store_n(&c->pm[p].beyond, true, __ATOMIC_RELAXED);
			mset(&c->pm[p], 0);
		}
		if (ftruncate(c->fd, k * PG))
			fail(c, F_SYS, "ftruncate to %llu pages: %s",
			     (unsigned long long)k, strerror(errno));
		unlock_pages(c, k, c->n - k);
		usleep(rnd(&seed) % 500);
		lock_pages(c, k, c->n - k, false);
		if (ftruncate(c->fd, c->n * PG))
			fail(c, F_SYS, "ftruncate back: %s", strerror(errno));
		for (uint64_t p = k; p < c->n; p++)
			__atomic_store_n(&c->pm[p].beyond, false, __ATOMIC_RELAXED);
		unlock_pages(c, k, c->n - k);
		atomic_fetch_add(&c->rops, 1);
	}
	return NULL;
}

/*
 * fallocate(): allocate (holes become unwritten pages, content unchanged:
 * no lock), allocate past EOF with KEEP_SIZE (what DISCARD frees and the
 * others leave), punch holes (pages held shared, zero afterwards).
 */
static void *racer_fallocate(void *arg)
{
	struct cell *c = arg;
	uint64_t seed = c->seed ^ 0xfa11ULL;

	while (!stopped(c)) {
		uint64_t u = rnd(&seed) % 100, first = rnd(&seed) % c->n, len;
		int r;

		len = 1 + rnd(&seed) % (c->n - first < 64 ? c->n - first : 64);
		if (u < 45) {
			r = fallocate(c->fd, 0, first * PG, len * PG);
		} else if (u < 60) {
			first = c->n + rnd(&seed) % c->past;
			len = 1 + rnd(&seed) % (c->n + c->past - first);
			r = fallocate(c->fd, FALLOC_FL_KEEP_SIZE, first * PG, len * PG);
		} else {
			lock_pages(c, first, len, false);
			r = fallocate(c->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      first * PG, len * PG);
			for (uint64_t p = first; !r && p < first + len; p++)
				mset(&c->pm[p], 0);
			unlock_pages(c, first, len);
		}
		if (r)
			fail(c, F_SYS, "fallocate of %llu+%llu: %s", (unsigned long long)first,
			     (unsigned long long)len, strerror(errno));
		atomic_fetch_add(&c->rops, 1);
	}
	return NULL;
}

/* munmap_mremap: reserve @a again (PROT_NONE) after the mapping left it. */
static void reserve(struct cell *c, char *a, size_t len)
{
	if (mmap(a, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		 -1, 0) != a)
		fail(c, F_SYS, "reserving %p again: %s", a, strerror(errno));
}

/*
 * The writers' mapping, in use, is moved between two reserved regions
 * (mremap, and mremap with MREMAP_DONTUNMAP followed by munmap of the
 * old one), unmapped in part and mapped again, and replaced whole by a
 * new mapping (MAP_FIXED over it).  Every address of both regions maps
 * page (addr - region) of the file, or nothing.
 */
static void *racer_mremap(void *arg)
{
	struct cell *c = arg;
	uint64_t seed = c->seed ^ 0x3e3a9ULL;
	size_t len = c->n * PG;
	int cur = 0;

	while (!stopped(c)) {
		char *a = c->res[cur], *b = c->res[!cur];
		uint64_t u = rnd(&seed) % 100, x, k;

		if (u < 30) {
			if (mremap(a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, b) != b) {
				fail(c, F_SYS, "mremap: %s", strerror(errno));
				break;
			}
			atomic_store(&c->map, b);
			reserve(c, a, len);
			cur = !cur;
		} else if (u < 50) {
			if (mremap(a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
				   b) != b) {
				if (errno != EINVAL) {
					fail(c, F_SYS, "mremap DONTUNMAP: %s", strerror(errno));
					break;
				}
				atomic_fetch_add(&c->dontunmap_einval, 1);
				continue;
			}
			/* the old VMA stays, without PTEs: stores there fault back in */
			atomic_store(&c->map, b);
			usleep(rnd(&seed) % 300);
			munmap(a, len);
			reserve(c, a, len);
			cur = !cur;
		} else if (u < 80) {
			x = rnd(&seed) % c->n;
			k = 1 + rnd(&seed) % (c->n - x < 64 ? c->n - x : 64);
			munmap(a + x * PG, k * PG);
			usleep(rnd(&seed) % 200);
			if (mmap(a + x * PG, k * PG, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_FIXED_NOREPLACE, c->fd, x * PG) != a + x * PG) {
				fail(c, F_SYS, "mapping %llu+%llu again: %s",
				     (unsigned long long)x, (unsigned long long)k, strerror(errno));
				break;
			}
		} else {
			if (mmap(a, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
				 c->fd, 0) != a) {
				fail(c, F_SYS, "replacing the mapping: %s", strerror(errno));
				break;
			}
		}
		atomic_fetch_add(&c->rops, 1);
	}
	return NULL;
}

/* Word 0 of page p of a private mapping: never written in the file. */
static inline volatile uint64_t *priv_word(char *P, uint64_t p)
{
	return (volatile uint64_t *)(P + p * PG);
}

/*
 * The forked child: the private copies it inherited hold the parent's
 * values, its own COW copies hold its values, however the file changes
 * meanwhile.  Only syscalls and plain memory here (a fork of a threaded
 * process).
 */
static void fork_child(struct cell *c, char *P, const uint64_t *priv, uint64_t seed)
{
	uint64_t mine[8], at[8];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (uint64_t p = 0; p < c->n; p++)
		if (priv[p] && *priv_word(P, p) != priv[p])
			_exit(1);
	for (int i = 0; i < 8; i++) {
		at[i] = rnd(&seed) % c->n;
		mine[i] = 0xd000000000000000ULL | (seed & 0xffffffffffffULL);
		*priv_word(P, at[i]) = mine[i];
	}
	usleep(10000 + rnd(&seed) % 20000);
	for (int i = 0; i < 8; i++) {
		bool later = false;

		for (int j = i + 1; j < 8; j++)
			later |= at[j] == at[i];
		if (!later && *priv_word(P, at[i]) != mine[i])
			_exit(2);
	}
	for (uint64_t p = 0; p < c->n; p++) {
		bool own = false;

		for (int i = 0; i < 8; i++)
			own |= at[i] == p;
		if (!own && priv[p] && *priv_word(P, p) != priv[p])
			_exit(3);
	}
	_exit(0);
}

/*
 * A MAP_PRIVATE mapping of the file: COW copies (word 0, which the file
 * never has) survive every mode as they survive punch-hole, in the parent
 * and in a forked child; a page not copied shows the file's current
 * content (checked under the page's lock).  Remapped now and then.
 */
static void *racer_fork(void *arg)
{
	struct cell *c = arg;
	uint64_t seed = c->seed ^ 0xf0f0ULL, seq = 0, *priv;
	size_t len = c->n * PG;
	char *P;

	priv = calloc(c->n, sizeof(*priv));
	P = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, c->fd, 0);
	if (!priv || P == MAP_FAILED) {
		fail(c, F_SYS, "private mapping: %s", strerror(errno));
		return NULL;
	}
	for (unsigned long round = 1; !stopped(c); round++) {
		int status;
		pid_t pid;

		for (int i = 0; i < 8; i++) {
			uint64_t p = rnd(&seed) % c->n;

			priv[p] = 0xc000000000000000ULL | ++seq;
			*priv_word(P, p) = priv[p];
		}
		pid = fork();
		if (pid < 0) {
			fail(c, F_SYS, "fork: %s", strerror(errno));
			break;
		}
		if (pid == 0)
			fork_child(c, P, priv, rnd(&seed));
		for (int i = 0; i < 16; i++) {
			uint64_t p = rnd(&seed) % c->n, got;
			struct pm *pm = &c->pm[p];

			pthread_rwlock_wrlock(&pm->lk);
			if (priv[p]) {
				if (*priv_word(P, p) != priv[p])
					fail(c, F_RACER, "private copy of page %llu lost: %#llx, not %#llx",
					     (unsigned long long)p,
					     (unsigned long long)*priv_word(P, p),
					     (unsigned long long)priv[p]);
			} else {
				got = priv_word(P, p)[pm->word];
				if (got != mval(pm) || *priv_word(P, p))
					fail(c, F_RACER, "private view of page %llu (not copied) reads "
					     "%#llx at word %u, the file %#llx by %s",
					     (unsigned long long)p, (unsigned long long)got,
					     pm->word, (unsigned long long)mval(pm),
					     who_name[pm->who]);
			}
			pthread_rwlock_unlock(&pm->lk);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			fail(c, F_RACER, "forked child: status %#x (1: inherited copy lost before, "
			     "2: its own copy lost, 3: inherited copy lost after)", status);
		if (round % 16 == 0) {
			munmap(P, len);
			memset(priv, 0, c->n * sizeof(*priv));
			P = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, c->fd, 0);
			if (P == MAP_FAILED) {
				fail(c, F_SYS, "private mapping again: %s", strerror(errno));
				break;
			}
		}
		atomic_fetch_add(&c->rops, 1);
	}
	/* the copies never reached the file: the final check finds word 0 zero */
	if (P != MAP_FAILED)
		munmap(P, len);
	free(priv);
	return NULL;
}

/*
 * MADV_PAGEOUT of random pages of the writers' mapping (read-faulted
 * first: it pages out mapped pages only) to the zram swap, then swap-in by
 * MADV_WILLNEED, by pread(), or later by the writers.
 */
static void *racer_pageout(void *arg)
{
	struct cell *c = arg;
	uint64_t seed = c->seed ^ 0x9a9eULL;
	char buf[PG] __attribute__((aligned(64)));

	while (!stopped(c)) {
		uint64_t first = rnd(&seed) % c->n, len, u = rnd(&seed) % 4;
		char *m = atomic_load(&c->map);
		volatile char sink;

		len = 1 + rnd(&seed) % (c->n - first < 64 ? c->n - first : 64);
		for (uint64_t p = first; p < first + len; p++)
			sink = m[p * PG + 8];
		(void)sink;
		if (madvise(m + first * PG, len * PG, MADV_PAGEOUT))
			fail(c, F_SYS, "MADV_PAGEOUT: %s", strerror(errno));
		first = rnd(&seed) % c->n;
		len = 1 + rnd(&seed) % (c->n - first < 64 ? c->n - first : 64);
		if (u == 0 && madvise(m + first * PG, len * PG, MADV_WILLNEED))
			fail(c, F_SYS, "MADV_WILLNEED: %s", strerror(errno));
		if (u == 1 && page_read(c, first, buf) < 0)
			fail(c, F_SYS, "pread: %s", strerror(errno));
		atomic_fetch_add(&c->rops, 1);
		/* swap-in under TCG is slow: leave the others time to run */
		usleep(2000);
	}
	return NULL;
}

/*
 * MADV_COLLAPSE of a random huge page of the writers' 2 MiB aligned,
 * MADV_HUGEPAGE mapping, after a page of it was punched (which splits a
 * THP: each collapse copies data again); khugepaged scans it meanwhile
 * too.  The last huge page is never written: read faults there map a zero
 * THP, which RECLAIM frees whole.  A refusal
 * (EAGAIN: pages busy or locked, ENOMEM) is counted, not a failure.
 */
static void *racer_collapse(void *arg)
{
	struct cell *c = arg;
	uint64_t seed = c->seed ^ 0xc0c0ULL;

	while (!stopped(c)) {
		uint64_t h = rnd(&seed) % (c->n / HP_PAGES);
		char *m = atomic_load(&c->map);
		volatile char sink;

		/* the writer-free huge page: a read fault maps a zero THP */
		if (rnd(&seed) % 3 == 0) {
			sink = m[c->wend * PG + rnd(&seed) % ((c->n - c->wend) * PG)];
			(void)sink;
		}
		/*
		 * Punch a page of it, held shared (a zeroer): the THP is split,
		 * so that the collapse below copies data again, whatever the mode.
		 */
		if (rnd(&seed) % 2) {
			uint64_t p = h * HP_PAGES + rnd(&seed) % HP_PAGES;

			lock_pages(c, p, 1, false);
			if (fallocate(c->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      p * PG, PG))
				fail(c, F_SYS, "punch of page %llu: %s",
				     (unsigned long long)p, strerror(errno));
			else
				mset(&c->pm[p], 0);
			unlock_pages(c, p, 1);
		}
		/*
		 * Map the pages first: with shmem_enabled=advise, 6.1 refuses
		 * (EINVAL) to collapse a range that has no page table.
		 */
		for (uint64_t p = 0; p < HP_PAGES; p += 8)
			sink = m[(h * HP_PAGES + p) * PG];
		(void)sink;
		if (madvise(m + h * HP_PAGES * PG, HP_PAGES * PG, MADV_COLLAPSE))
			miss(c, errno);
		else
			atomic_fetch_add(&c->rops, 1);
		usleep(1000);
	}
	return NULL;
}

/*
 * The PFN of page @p of the racer's own mapping, 0 if it is not mapped
 * there (/proc/self/pagemap: bit 63 present, bits 0-54 the PFN, which reads
 * 0 without CAP_SYS_ADMIN).
 */
static uint64_t mig_pfn(struct cell *c, uint64_t p)
{
	uint64_t e;
	off_t off = (off_t)(((uintptr_t)c->mig / PG + p) * 8);

	if (pread(c->pagemap, &e, 8, off) != 8 || !(e >> 63))
		return 0;
	return e & ((1ULL << 55) - 1);
}

/* Those of every page of the file, in @pfn. */
static void mig_pfns(struct cell *c, uint64_t *pfn)
{
	off_t off = (off_t)((uintptr_t)c->mig / PG * 8);

	if (pread(c->pagemap, pfn, c->n * 8, off) != (ssize_t)(c->n * 8)) {
		memset(pfn, 0, c->n * 8);
		return;
	}
	for (uint64_t p = 0; p < c->n; p++)
		pfn[p] = pfn[p] >> 63 ? pfn[p] & ((1ULL << 55) - 1) : 0;
}

/*
 * Soft-offline page @p of the file, at @pfn: 0 or errno.  Without
 * SOFT_OFFLINE (no CONFIG_MEMORY_HOTPLUG: the debug kernels), madvise(),
 * which logs every page it takes.
 */
static int soft_offline(struct cell *c, uint64_t p, uint64_t pfn)
{
	char a[32];
	int l;

	if (c->soft < 0)
		return madvise(c->mig + p * PG, PG, MADV_SOFT_OFFLINE) ? errno : 0;
	l = snprintf(a, sizeof(a), "%#llx", (unsigned long long)(pfn * PG));
	return pwrite(c->soft, a, l, 0) == l ? 0 : errno;
}

/*
 * The kernel migrates the file's pages: a soft offline of one random page
 * (not the hot ones more often: a page migrated lately waits in a per-CPU
 * LRU batch, and soft offline drains them all, slowly, to isolate it),
 * published in c->mig_page for the calls to chase (mig_chase()), its PFN
 * found through the racer's own mapping (a read fault there maps it, or
 * makes a hole a zero page as the writers' reads do); every MIG_COMPACT_MS
 * a compaction of all memory.  A page at a new PFN in that mapping
 * afterwards, which only this thread faults, was migrated: counted.  A
 * soft offline refused (EBUSY: the page is busy, its migration failed) is
 * counted as refused.  Soft offline takes a PFN: a page freed and reused
 * between the pagemap read and the write is the kernel's to refuse or
 * migrate ("unhandlable page", or a page of someone else moved).
 */
static void *racer_migrate(void *arg)
{
	struct cell *c = arg;
	uint64_t seed = c->seed ^ 0x319a7eULL, *before, *after;
	double next = now_s();
	unsigned long so = 0;

	before = calloc(c->n, sizeof(*before));
	after = calloc(c->n, sizeof(*after));
	if (!before || !after) {
		fail(c, F_SYS, "calloc");
		goto out;
	}
	mig_pin(0);
	while (!stopped(c)) {
		uint64_t p, pfn, now_pfn;
		int e;

		if (c->compact && now_s() >= next) {
			mig_pfns(c, before);
			if (!file_write(COMPACT_MEMORY, "1"))
				fail(c, F_SYS, "write to %s: %s", COMPACT_MEMORY, strerror(errno));
			mig_pfns(c, after);
			for (p = 0; p < c->n; p++)
				c->compact_moved += before[p] && after[p] && before[p] != after[p];
			c->compactions++;
			next = now_s() + MIG_COMPACT_MS / 1000.0;
			continue;
		}
		if (!c->soft_on || so >= MIG_SO_MAX) {
			usleep(1000);
			continue;
		}
		p = rnd(&seed) % c->n;
		atomic_store_explicit(&c->mig_page, p, memory_order_relaxed);
		(void)*(volatile char *)(c->mig + p * PG);
		pfn = mig_pfn(c, p);
		if (!pfn)
			continue;
		e = soft_offline(c, p, pfn);
		so++;
		if (e) {
			miss(c, e);
			continue;
		}
		atomic_fetch_add(&c->rops, 1);
		now_pfn = mig_pfn(c, p);
		c->so_moved += now_pfn && now_pfn != pfn;
	}
out:
	free(before);
	free(after);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* io_uring (shmem_zero_ring.h): registered buffers are long-term pins */
/* ------------------------------------------------------------------ */

/*
 * Register a random piece of the writers' mapping as a fixed buffer (a
 * long-term pin of its pages; for the zeroing modes taken with the pages
 * held, since a pin that races with DISCARD's removal is not seen, as with
 * punch-hole), let the "device" write some of its pages with READ_FIXED
 * from a memfd (pages held exclusively: the file must read it at once,
 * and the model follows), keep it pinned a while as the writers store to
 * it and the calls run, unregister.
 */
static void *racer_uring(void *arg)
{
	struct cell *c = arg;
	uint64_t seed = c->seed ^ 0x0a1aULL, seq = 0;
	char *src = malloc(URING_MAX * PG);
	uint64_t vals[URING_MAX];
	uint32_t words[URING_MAX];

	if (!src) {
		fail(c, F_SYS, "malloc");
		return NULL;
	}
	while (!stopped(c)) {
		uint64_t first = rnd(&seed) % (c->n - URING_MAX), len, b, k;
		char *m = atomic_load(&c->map);
		int e, res;

		len = 1 + rnd(&seed) % URING_MAX;
		if (zeroing(c->mode))
			lock_pages(c, first, len, true);
		e = ring_pin(&c->ring, m + first * PG, len * PG);
		if (zeroing(c->mode))
			unlock_pages(c, first, len);
		if (e) {
			fail(c, F_SYS, "IORING_REGISTER_BUFFERS: %s", strerror(e));
			break;
		}
		b = first + rnd(&seed) % len;
		k = 1 + rnd(&seed) % (first + len - b < 8 ? first + len - b : 8);
		lock_pages(c, b, k, true);
		for (uint64_t i = 0; i < k; i++) {
			struct pm *pm = &c->pm[b + i];
			uint64_t got = 0;

			if (pread(c->fd, &got, 8, (b + i) * PG + pm->word * 8) != 8)
				fail(c, F_SYS, "pread: %s", strerror(errno));
			else if (got != mval(pm))
				lost(c, b + i, got);
			memset(src + i * PG, 0, PG);
			vals[i] = (uint64_t)W_URING << 56 | ++seq;
			words[i] = 1 + rnd(&seed) % (WORDS - 1);
			((uint64_t *)(src + i * PG))[words[i]] = vals[i];
		}
		if (pwrite(c->src, src, k * PG, 0) != (ssize_t)(k * PG))
			fail(c, F_SYS, "pwrite to the source: %s", strerror(errno));
		res = ring_rw(&c->ring, IORING_OP_READ_FIXED, c->src, m + b * PG, k * PG, 0);
		if (res != (int)(k * PG))
			fail(c, F_SYS, "READ_FIXED of %llu pages: %d",
			     (unsigned long long)k, res);
		for (uint64_t i = 0; i < k && res == (int)(k * PG); i++) {
			struct pm *pm = &c->pm[b + i];
			uint64_t got = 0;

			note(pm, W_URING, vals[i], words[i]);
			atomic_fetch_add(&c->writes[W_URING], 1);
			if (pread(c->fd, &got, 8, (b + i) * PG + words[i] * 8) != 8 ||
			    got != vals[i])
				fail(c, F_RACER, "READ_FIXED into pinned page %llu: the file "
				     "reads %#llx, not %#llx", (unsigned long long)(b + i),
				     (unsigned long long)got, (unsigned long long)vals[i]);
		}
		unlock_pages(c, b, k);
		usleep(rnd(&seed) % 2000);
		e = ring_unpin(&c->ring);
		if (e) {
			fail(c, F_SYS, "IORING_UNREGISTER_BUFFERS: %s", strerror(e));
			break;
		}
		atomic_fetch_add(&c->rops, 1);
	}
	free(src);
	return NULL;
}

/*
 * udmabufs over random pieces of the file (for the zeroing modes created
 * with the pages held, as for io_uring), each checked page by page under
 * the page's lock: it maps what the file holds, and a store through it
 * (the "device"; udmabuf never marks a page dirty) is the page's new last
 * write, seen by pread() at once.  Then destroyed.
 */
static void *racer_udmabuf(void *arg)
{
	struct cell *c = arg;
	uint64_t seed = c->seed ^ 0xdabdabULL, seq = 0;
	char buf[PG] __attribute__((aligned(64)));

	while (!stopped(c)) {
		uint64_t first = rnd(&seed) % (c->n / UB_LEN) * UB_LEN;
		struct udmabuf_create uc = {
			.memfd = c->fd, .flags = UDMABUF_FLAGS_CLOEXEC,
			.offset = first * PG, .size = UB_LEN * PG,
		};
		char *b;
		int dfd;

		if (zeroing(c->mode))
			lock_pages(c, first, UB_LEN, true);
		dfd = ioctl(c->udev, UDMABUF_CREATE, &uc);
		if (zeroing(c->mode))
			unlock_pages(c, first, UB_LEN);
		if (dfd < 0) {
			fail(c, F_SYS, "UDMABUF_CREATE: %s", strerror(errno));
			break;
		}
		b = mmap(NULL, UB_LEN * PG, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
		if (b == MAP_FAILED) {
			fail(c, F_SYS, "mmap of a udmabuf: %s", strerror(errno));
			close(dfd);
			break;
		}
		for (int i = 0; i < 4; i++) {
			uint64_t p = first + rnd(&seed) % UB_LEN, v, got = 0;
			volatile uint64_t *q = (volatile uint64_t *)(b + (p - first) * PG);
			struct pm *pm = &c->pm[p];
			uint32_t w = 1 + rnd(&seed) % (WORDS - 1);

			pthread_rwlock_wrlock(&pm->lk);
			if (page_read(c, p, buf) != (ssize_t)PG) {
				fail(c, F_SYS, "pread: %s", strerror(errno));
			} else if (memcmp(buf, (const void *)q, PG)) {
				atomic_fetch_add(&c->orphans, 1);
				fail(c, F_RACER, "udmabuf page %llu differs from the file's",
				     (unsigned long long)p);
			}
			if (q[pm->word] != mval(pm))
				lost(c, p, q[pm->word]);
			v = (uint64_t)W_UDMABUF << 56 | ++seq;
			q[w] = v;
			if (mval(pm) && pm->word != w)
				q[pm->word] = 0;
			note(pm, W_UDMABUF, v, w);
			atomic_fetch_add(&c->writes[W_UDMABUF], 1);
			if (pread(c->fd, &got, 8, p * PG + w * 8) != 8 || got != v)
				fail(c, F_RACER, "store through a udmabuf to page %llu: the file "
				     "reads %#llx, not %#llx", (unsigned long long)p,
				     (unsigned long long)got, (unsigned long long)v);
			pthread_rwlock_unlock(&pm->lk);
		}
		usleep(rnd(&seed) % 1000);
		munmap(b, UB_LEN * PG);
		close(dfd);
		atomic_fetch_add(&c->rops, 1);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Fixture                                                              */
/* ------------------------------------------------------------------ */

FIXTURE(race) {
	int dev;
	char thp_old[32], khp_old[32];
	bool thp_changed, khp_changed, swapon_by_us;
};

FIXTURE_VARIANT(race) {
	uint32_t mode;
};

FIXTURE_VARIANT_ADD(race, discard) {
	.mode = SHMEM_ZERO_MODE_DISCARD,
};

FIXTURE_VARIANT_ADD(race, query) {
	.mode = SHMEM_ZERO_MODE_QUERY,
};

FIXTURE_VARIANT_ADD(race, reclaim) {
	.mode = SHMEM_ZERO_MODE_RECLAIM,
};

FIXTURE_VARIANT_ADD(race, zero_in_place) {
	.mode = SHMEM_ZERO_MODE_ZERO_IN_PLACE,
};

FIXTURE_SETUP(race)
{
	ASSERT_EQ(PG, (unsigned long long)sysconf(_SC_PAGESIZE));
	self->dev = open_dev();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SHMEM_ZERO_DEVICE, strerror(errno));
}

FIXTURE_TEARDOWN(race)
{
	if (self->thp_changed)
		file_write(THP_SYSFS, self->thp_old);
	if (self->khp_changed)
		file_write(KHP_DIR "/scan_sleep_millisecs", self->khp_old);
	if (self->swapon_by_us) {
		swapoff("/dev/zram0");
		file_write("/sys/block/zram0/reset", "1");
	}
	close(self->dev);
}

static double cell_seconds(void)
{
	const char *s = getenv("SZ_RACE_SECONDS");
	double d = s ? atof(s) : 0;

	return d > 0 ? d : 2.0;
}

static uint64_t cell_seed(uint32_t mode, enum racer r)
{
	const char *s = getenv("SZ_RACE_SEED");
	uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)mode << 40 ^ (uint64_t)r << 32;

	if (s)
		seed ^= strtoull(s, NULL, 0) * 0x2545f4914f6cdd1dULL;
	return seed ? seed : 1;
}

static struct cell *cell_new(struct __test_metadata *_metadata, int dev,
			     uint32_t mode, enum racer r, uint64_t n)
{
	struct cell *c = calloc(1, sizeof(*c));
	pthread_rwlockattr_t ra;

	ASSERT_NE(NULL, c);
	c->mode = mode;
	c->racer = r;
	c->dev = dev;
	c->n = n;
	c->wend = n;
	c->min_eof = n;
	c->seconds = cell_seconds();
	c->seed = cell_seed(mode, r);
	c->udev = c->src = c->pagemap = c->soft = -1;
	c->hot = HOT_PAGES;
	c->pm = calloc(n, sizeof(*c->pm));
	ASSERT_NE(NULL, c->pm);
	pthread_rwlockattr_init(&ra);
	for (uint64_t p = 0; p < n; p++) {
		ASSERT_EQ(0, pthread_rwlock_init(&c->pm[p].lk, &ra));
		c->pm[p].word = 1 + p % (WORDS - 1);
	}
	return c;
}

static void cell_free(struct cell *c)
{
	for (uint64_t p = 0; p < c->n; p++)
		pthread_rwlock_destroy(&c->pm[p].lk);
	free(c->pm);
	free(c);
}

/*
 * Pages [first, n): a quarter holes, a quarter written zero (resident zero
 * pages, for RECLAIM), half data, in the model too.
 */
static int cell_fill(struct cell *c, uint64_t first)
{
	uint64_t page[WORDS] __attribute__((aligned(64)));

	for (uint64_t p = first; p < c->n; p++) {
		struct pm *pm = &c->pm[p];

		if (p % 4 == 0)
			continue;
		memset(page, 0, sizeof(page));
		if (p % 4 >= 2) {
			page[pm->word] = (uint64_t)W_FIX << 56 | (p + 1);
			note(pm, W_FIX, page[pm->word], pm->word);
		}
		if (pwrite(c->fd, page, PG, p * PG) != (ssize_t)PG)
			return -1;
	}
	return 0;
}

/* A 2 MiB aligned MAP_SHARED mapping of the whole file. */
static char *map_aligned(int fd, size_t len)
{
	size_t slop = HP_PAGES * PG;
	char *r = mmap(NULL, len + slop, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	if (r == MAP_FAILED)
		return MAP_FAILED;
	a = (char *)(((uintptr_t)r + slop - 1) & ~(uintptr_t)(slop - 1));
	if (a > r)
		munmap(r, a - r);
	munmap(a + len, r + len + slop - (a + len));
	return mmap(a, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
}

/* Shmem THP on (advise, for MADV_HUGEPAGE mappings) and khugepaged awake. */
static const char *thp_setup(FIXTURE_DATA(race) *self)
{
	char cur[32];

	if (access(THP_SYSFS, F_OK))
		return "no shmem THP in this kernel (" THP_SYSFS " missing)";
	if (!sysfs_choice(THP_SYSFS, cur, sizeof(cur)))
		return "cannot read " THP_SYSFS;
	if (!strcmp(cur, "never") || !strcmp(cur, "deny")) {
		snprintf(self->thp_old, sizeof(self->thp_old), "%s", cur);
		if (!file_write(THP_SYSFS, "advise"))
			return "cannot set " THP_SYSFS " to advise";
		self->thp_changed = true;
	}
	if (file_read(KHP_DIR "/scan_sleep_millisecs", self->khp_old,
		      sizeof(self->khp_old)) &&
	    file_write(KHP_DIR "/scan_sleep_millisecs", "10"))
		self->khp_changed = true;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Final checks                                                         */
/* ------------------------------------------------------------------ */

/*
 * Quiescent: every page reads its last write and nothing else, by pread()
 * and through the mapping; a QUERY map agrees with the model.
 */
static void final_check(struct cell *c)
{
	char buf[PG] __attribute__((aligned(64)));
	struct shmem_zero_range r = { 0, c->n * PG };
	struct shmem_zero_args a;
	uint8_t *map = calloc(c->n, 1);
	char *m = atomic_load(&c->map);

	for (uint64_t p = c->wfirst; p < c->n; p++) {
		struct pm *pm = &c->pm[p];
		const uint64_t *q = (const uint64_t *)buf;
		ssize_t n = page_read(c, p, buf);

		if (n < 0) {
			fail(c, F_SYS, "pread page %llu: %s", (unsigned long long)p,
			     strerror(errno));
			continue;
		}
		if (mbeyond(pm)) {
			if (n)
				fail(c, F_STRAY, "page %llu past EOF reads", (unsigned long long)p);
			continue;
		}
		if (!n) {
			fail(c, F_SYS, "page %llu: EOF", (unsigned long long)p);
			continue;
		}
		if (q[pm->word] != mval(pm))
			lost(c, p, q[pm->word]);
		for (unsigned int i = 0; i < WORDS; i++) {
			if (i != pm->word && q[i]) {
				fail(c, F_STRAY, "page %llu word %u reads %#llx (the page's last "
				     "write %#llx at word %u by %s)", (unsigned long long)p, i,
				     (unsigned long long)q[i], (unsigned long long)mval(pm),
				     pm->word, who_name[pm->who]);
				break;
			}
		}
		if (m && page_read(c, p, buf) == (ssize_t)PG && memcmp(buf, m + p * PG, PG))
			fail(c, F_STRAY, "page %llu: the mapping and pread() disagree",
			     (unsigned long long)p);
	}
	if (!map) {
		fail(c, F_SYS, "calloc");
		return;
	}
	if (sz_call(c->dev, c->fd, QUERY, &r, 1, map, c->n, &a)) {
		fail(c, F_ERRNO, "quiescent QUERY: %s", strerror(errno));
	} else {
		for (uint64_t p = c->wfirst; p < c->n; p++)
			if (!class_ok(c, &c->pm[p], map[p]))
				fail(c, F_CLASS, "quiescent: page %llu is class %u, the model "
				     "%#llx by %s", (unsigned long long)p, map[p],
				     (unsigned long long)mval(&c->pm[p]),
				     who_name[c->pm[p].who]);
	}
	free(map);
}

static void report(struct __test_metadata *_metadata, struct cell *c)
{
	TH_LOG("%s: %lu calls: freed %lu zeroed %lu pinned %lu busy %lu swap %lu "
	       "unwritten %lu; writes: mapping %lu pwrite %lu io_uring %lu udmabuf %lu; "
	       "racer: %lu done, %lu refused (last: %s)",
	       mode_name(c->mode), (unsigned long)atomic_load(&c->calls),
	       (unsigned long)atomic_load(&c->freed), (unsigned long)atomic_load(&c->zeroed),
	       (unsigned long)atomic_load(&c->pinned), (unsigned long)atomic_load(&c->busy),
	       (unsigned long)atomic_load(&c->swapped),
	       (unsigned long)atomic_load(&c->unwritten),
	       (unsigned long)atomic_load(&c->writes[W_MAP]),
	       (unsigned long)atomic_load(&c->writes[W_PWRITE]),
	       (unsigned long)atomic_load(&c->writes[W_URING]),
	       (unsigned long)atomic_load(&c->writes[W_UDMABUF]),
	       (unsigned long)atomic_load(&c->rops), (unsigned long)atomic_load(&c->rmiss),
	       atomic_load(&c->rmiss) ? strerror(atomic_load(&c->rmiss_err)) : "-");
	if (atomic_load(&c->doc_loss))
		TH_LOG("%lu udmabuf writes lost to RECLAIM in the documented window "
		       "(udmabuf created, written and destroyed inside one "
		       "invalidate_mapping_pages())", (unsigned long)atomic_load(&c->doc_loss));
	for (int k = 0; k < F_NR; k++) {
		EXPECT_EQ(0UL, (unsigned long)atomic_load(&c->fails[k]))
			TH_LOG("%s: %lu; the first: %s", f_what[k],
			       (unsigned long)atomic_load(&c->fails[k]), c->msg[k]);
	}
}

/*
 * migrate: the racer's mapping, every page mapped; the PFNs readable; a
 * soft offline of a page of the file migrates it (the probe, not counted).
 * Without soft offline, compaction alone.  NULL, or why the cell cannot run.
 */
static const char *mig_setup(struct __test_metadata *_metadata, struct cell *c)
{
	static char why[384];
	char soft_why[256] = "";
	uint64_t pfn, pfn2 = 0;
	int e = EBUSY;

	c->compact = access(COMPACT_MEMORY, W_OK) == 0;
	c->mig = mmap(NULL, c->n * PG, PROT_READ, MAP_SHARED, c->fd, 0);
	ASSERT_NE(MAP_FAILED, c->mig);
	for (uint64_t p = 0; p < c->n; p++)
		(void)*(volatile char *)(c->mig + p * PG);
	c->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	pfn = c->pagemap >= 0 ? mig_pfn(c, 2) : 0;
	if (!pfn)
		return "/proc/self/pagemap shows no PFN (CAP_SYS_ADMIN needed)";
	c->soft = open(SOFT_OFFLINE, O_WRONLY | O_CLOEXEC);
	for (int i = 0; i < 10 && e == EBUSY; i++)
		e = soft_offline(c, 2, pfn);
	pfn2 = mig_pfn(c, 2);
	c->soft_on = !e && pfn2 && pfn2 != pfn;
	if (!c->soft_on)
		snprintf(soft_why, sizeof(soft_why),
			 "soft offline (%s) of a page of the file: %s, its PFN %#llx then %#llx%s",
			 c->soft >= 0 ? SOFT_OFFLINE : "MADV_SOFT_OFFLINE",
			 e ? strerror(e) : "success", (unsigned long long)pfn,
			 (unsigned long long)pfn2,
			 e == EOPNOTSUPP ? " (vm.enable_soft_offline is 0)" :
			 e == EINVAL ? " (no CONFIG_MEMORY_FAILURE)" : "");
	else if (c->soft < 0)
		TH_LOG("no %s (CONFIG_MEMORY_HOTPLUG): soft offline by MADV_SOFT_OFFLINE, "
		       "which the kernel logs page by page", SOFT_OFFLINE);
	if (!c->soft_on && !c->compact) {
		snprintf(why, sizeof(why), "no way to migrate the file's pages: %s; no %s "
			 "(CONFIG_COMPACTION)", soft_why, COMPACT_MEMORY);
		return why;
	}
	if (!c->soft_on)
		TH_LOG("compaction alone: %s", soft_why);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* A cell: writers, the mode's calls and one racer, for a few seconds   */
/* ------------------------------------------------------------------ */

static void run_cell(struct __test_metadata *_metadata, FIXTURE_DATA(race) *self,
		     uint32_t mode, enum racer racer)
{
	static void *(*const racer_fn[])(void *) = {
		[R_TRUNCATE] = racer_truncate, [R_FALLOCATE] = racer_fallocate,
		[R_MREMAP] = racer_mremap, [R_FORK] = racer_fork,
		[R_PAGEOUT] = racer_pageout, [R_COLLAPSE] = racer_collapse,
		[R_URING] = racer_uring, [R_UDMABUF] = racer_udmabuf,
		[R_MIGRATE] = racer_migrate,
	};
	struct writer w[2];
	/* collapse: a third huge page that no writer writes, all zero */
	uint64_t n = racer == R_COLLAPSE ? NPAGES + HP_PAGES : NPAGES;
	struct cell *c = cell_new(_metadata, self->dev, mode, racer, n);
	size_t len = n * PG;
	unsigned long cp0 = 0, cp1;
	long long po0 = 0, po1;
	long long mig0[4] = { 0 };
	static const char *const mig_key[4] = {
		"pgmigrate_success", "pgmigrate_fail", "compact_migrate_scanned",
		"compact_isolated",
	};
	const char *why;
	pthread_t th[4];
	int e;
	char *m = NULL;
	double t0;

	seg_install();
	c->fd = memfd("race", len, MFD_ALLOW_SEALING);
	ASSERT_LE(0, c->fd);
	ASSERT_EQ(0, cell_fill(c, 0));
	if (racer == R_COLLAPSE) {
		c->wend = NPAGES;
		ASSERT_EQ(0, ftruncate(c->fd, NPAGES * PG));
		ASSERT_EQ(0, ftruncate(c->fd, len));
		for (uint64_t p = NPAGES; p < n; p++)
			note(&c->pm[p], W_NONE, 0, c->pm[p].word);
	}
	if (racer == R_MIGRATE) {
		/* no hole: every folio not uptodate is one being migrated */
		char zero[PG] __attribute__((aligned(64))) = { 0 };

		for (uint64_t p = 0; p < n; p += 4)
			ASSERT_EQ((ssize_t)PG, pwrite(c->fd, zero, PG, p * PG));
		c->no_unwritten = true;
	}

	switch (racer) {
	case R_TRUNCATE:
		c->min_eof = NPAGES / 4;
		break;
	case R_FALLOCATE:
		c->past = PAST_PAGES;
		break;
	case R_MREMAP:
		/* two reserved regions; the mapping starts in the first */
		c->res_len = len;
		for (int i = 0; i < 2; i++) {
			c->res[i] = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
					 -1, 0);
			ASSERT_NE(MAP_FAILED, c->res[i]);
		}
		m = mmap(c->res[0], len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 c->fd, 0);
		ASSERT_EQ(c->res[0], m);
		break;
	case R_PAGEOUT:
		if (!swap_active()) {
			if (geteuid())
				SKIP(goto out, "no swap, and not root to add a zram one");
			self->swapon_by_us = zram_swapon();
			if (!self->swapon_by_us)
				SKIP(goto out, "no swap and no zram swap device (modprobe zram: %s)",
				     strerror(errno));
		}
		c->swap = true;
		break;
	case R_COLLAPSE:
		why = thp_setup(self);
		if (why)
			SKIP(goto out, "%s", why);
		m = map_aligned(c->fd, len);
		ASSERT_NE(MAP_FAILED, m);
		if (madvise(m, len, MADV_HUGEPAGE))
			SKIP(goto out, "MADV_HUGEPAGE on a memfd mapping: %s", strerror(errno));
		/* mapped, as the racer maps them (6.1: EINVAL without a page table) */
		for (uint64_t p = 0; p < HP_PAGES; p++)
			(void)*(volatile char *)(m + p * PG);
		for (int i = 0; i < 10; i++) {
			errno = 0;
			if (!madvise(m, HP_PAGES * PG, MADV_COLLAPSE) || errno != EAGAIN)
				break;
			usleep(10000);
		}
		if (errno)
			SKIP(goto out, "MADV_COLLAPSE of a quiescent memfd: %s%s", strerror(errno),
			     errno == EINVAL ? " (this kernel lacks MADV_COLLAPSE for shmem)" : "");
		cp0 = vmstat("thp_collapse_alloc");
		break;
	case R_URING:
		e = ring_open(&c->ring);
		if (e)
			SKIP(goto out, "io_uring_setup: %s (kernel.io_uring_disabled?)",
			     strerror(e));
		c->src = memfd("uring-src", URING_MAX * PG, 0);
		ASSERT_LE(0, c->src);
		break;
	case R_UDMABUF:
		c->udev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
		if (c->udev < 0)
			SKIP(goto out, "no /dev/udmabuf in this kernel (CONFIG_UDMABUF): %s",
			     strerror(errno));
		ASSERT_EQ(0, fcntl(c->fd, F_ADD_SEALS, F_SEAL_SHRINK));
		/*
		 * A udmabuf that takes plain page references (before
		 * memfd_pin_folios(), 6.11) also maps the file's pages by
		 * struct page in its own VMA, which truncation cannot unmap:
		 * punching a page a mapped udmabuf holds, by fallocate() as
		 * by DISCARD, trips VM_BUG_ON_FOLIO(folio_mapped()) in
		 * filemap_unaccount_folio() (a kernel bug, fixed upstream by
		 * "udmabuf: use vmf_insert_pfn and VM_PFNMAP for handling
		 * mmap").  DISCARD is not raced with such a udmabuf.
		 */
		if (c->mode == SHMEM_ZERO_MODE_DISCARD) {
			bool pins = false;

			ASSERT_EQ(0, udmabuf_holds(c->dev, c->udev, &pins));
			if (!pins)
				SKIP(goto out, "this kernel's udmabuf maps the file's pages by struct page: punching them (fallocate or DISCARD) is a kernel BUG here");
		}
		break;
	case R_MIGRATE:
		why = mig_setup(_metadata, c);
		if (why)
			SKIP(goto out, "%s", why);
		for (int i = 0; i < 4; i++)
			mig0[i] = vmstat(mig_key[i]);
		break;
	default:
		break;
	}
	if (!m) {
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
		ASSERT_NE(MAP_FAILED, m);
	}
	atomic_store(&c->map, m);
	if (racer == R_PAGEOUT) {
		/* it pages shmem out at all: else the cell tests nothing */
		struct shmem_zero_range r = { 0, len };
		struct shmem_zero_args a;
		volatile char sink;

		for (uint64_t p = 0; p < n; p++)
			sink = m[p * PG];
		(void)sink;
		po0 = vmstat("pswpout");
		ASSERT_EQ(0, madvise(m, len, MADV_PAGEOUT));
		ASSERT_EQ(0, sz_call(self->dev, c->fd, QUERY, &r, 1, NULL, 0, &a));
		if (!a.swap_pages)
			SKIP(goto out, "MADV_PAGEOUT swapped no page of a memfd out");
	}

	w[0] = (struct writer){ .c = c, .who = W_MAP };
	w[1] = (struct writer){ .c = c, .who = W_PWRITE };
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, writer_fn, &w[i]));
	ASSERT_EQ(0, pthread_create(&th[2], NULL, caller_fn, c));
	ASSERT_EQ(0, pthread_create(&th[3], NULL, racer_fn[racer], c));
	t0 = now_s();
	while (now_s() - t0 < c->seconds)
		usleep(50000);
	atomic_store(&c->stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);

	final_check(c);
	report(_metadata, c);
	/* it raced: every thread got going */
	EXPECT_LT(0UL, (unsigned long)atomic_load(&c->calls));
	EXPECT_LT(10UL, (unsigned long)atomic_load(&c->writes[W_MAP]));
	EXPECT_LT(10UL, (unsigned long)atomic_load(&c->writes[W_PWRITE]));
	if (racer != R_COLLAPSE && racer != R_MIGRATE)
		EXPECT_LT(0UL, (unsigned long)atomic_load(&c->rops));
	if (mode == RECLAIM)
		EXPECT_LT(0UL, (unsigned long)atomic_load(&c->freed));
	if (mode == DISCARD)
		EXPECT_LT(0UL, (unsigned long)atomic_load(&c->freed) +
			  atomic_load(&c->pinned) + atomic_load(&c->swapped));
	if (mode == ZIP)
		EXPECT_LT(0UL, (unsigned long)atomic_load(&c->zeroed));
	switch (racer) {
	case R_MREMAP:
		if (atomic_load(&c->dontunmap_einval))
			TH_LOG("mremap(MREMAP_DONTUNMAP) of a shared mapping: EINVAL (%lu times)",
			       (unsigned long)atomic_load(&c->dontunmap_einval));
		break;
	case R_PAGEOUT:
		po1 = vmstat("pswpout");
		if (po0 < 0) {
			/*
			 * No VM event counters (the debug kernels' tinyconfig):
			 * the calls met swap entries, so pages were out.
			 */
			TH_LOG("no pswpout in /proc/vmstat; swap entries the calls met: %lu",
			       (unsigned long)atomic_load(&c->swapped));
			EXPECT_LT(0UL, (unsigned long)atomic_load(&c->swapped));
			break;
		}
		TH_LOG("pswpout %lld, pswpin %lld", po1 - po0, vmstat("pswpin"));
		EXPECT_LT(0, po1 - po0);
		break;
	case R_COLLAPSE:
		cp1 = vmstat("thp_collapse_alloc");
		TH_LOG("MADV_COLLAPSE: %lu collapsed, %lu refused; thp_collapse_alloc +%lu "
		       "(khugepaged included); ShmemHugePages %lld kB",
		       (unsigned long)atomic_load(&c->rops),
		       (unsigned long)atomic_load(&c->rmiss), cp1 - cp0,
		       meminfo_kb("ShmemHugePages"));
		EXPECT_LT(0UL, atomic_load(&c->rops) + (cp1 - cp0))
			TH_LOG("no collapse at all: the cell raced nothing");
		break;
	case R_UDMABUF:
		EXPECT_EQ(0UL, (unsigned long)atomic_load(&c->orphans));
		break;
	case R_MIGRATE: {
		long long d[4];

		for (int i = 0; i < 4; i++)
			d[i] = vmstat(mig_key[i]) - mig0[i];
		TH_LOG("pages of the file migrated: %lu by soft offline (%lu done, %lu refused: "
		       "last %s), %lu by %lu compactions; /proc/vmstat: pgmigrate_success +%lld, "
		       "pgmigrate_fail +%lld, compact_migrate_scanned +%lld, compact_isolated +%lld%s",
		       c->so_moved, (unsigned long)atomic_load(&c->rops),
		       (unsigned long)atomic_load(&c->rmiss),
		       atomic_load(&c->rmiss) ? strerror(atomic_load(&c->rmiss_err)) : "-",
		       c->compact_moved, c->compactions, d[0], d[1], d[2], d[3],
		       mig0[0] < 0 ? " (no VM event counters: not there)" : "");
		EXPECT_LT(0UL, c->so_moved + c->compact_moved)
			TH_LOG("no page of the file migrated: the cell raced nothing");
		/* the counter saw them too (it counts every migration) */
		if (mig0[0] >= 0)
			EXPECT_LE((long long)(c->so_moved + c->compact_moved), d[0]);
		break;
	}
	default:
		break;
	}
out:
	if (c->udev >= 0)
		close(c->udev);
	if (c->src >= 0)
		close(c->src);
	if (c->pagemap >= 0)
		close(c->pagemap);
	if (c->soft >= 0)
		close(c->soft);
	if (c->mig && c->mig != MAP_FAILED)
		munmap(c->mig, len);
	ring_close(&c->ring);
	m = atomic_load(&c->map);
	if (racer == R_MREMAP) {
		munmap(c->res[0], len);
		munmap(c->res[1], len);
	} else if (m && m != MAP_FAILED) {
		munmap(m, len);
	}
	close(c->fd);
	cell_free(c);
}

/* ------------------------------------------------------------------ */
/* The seal racer: F_ADD_SEALS in the middle of a call                  */
/* ------------------------------------------------------------------ */

/*
 * Rounds, each on a new memfd: SEAL_CALL pages that one long call covers
 * (DISCARD, ZERO_IN_PLACE: as many one-page ranges, 8 chunks, so 8 holds
 * of i_rwsem; RECLAIM, QUERY: one range), SEAL_WR pages after them that
 * the writers write; a seal (F_SEAL_WRITE, F_SEAL_FUTURE_WRITE,
 * F_SEAL_SHRINK|F_SEAL_GROW in turn) added at a random moment of the call.
 *
 * The documented outcome: a write seal that lands during the call stops
 * DISCARD and ZERO_IN_PLACE at their next hold and RECLAIM before its next
 * folio, with EPERM and the done prefix in ranges_done/bytes_done; nothing
 * changes after the seal took.  So the file read just after F_ADD_SEALS
 * returned is what it holds when the call returns; the done prefix reads
 * zero and the rest is untouched; RECLAIM frees at most the one folio it
 * was at.  QUERY is never refused, SHRINK and GROW refuse nothing, and
 * after a write seal every call but QUERY is EPERM with nothing done.
 */
#define SEAL_CALL	2048ULL
#define SEAL_WR		256ULL

enum { S_WRITE, S_FUTURE_WRITE, S_SHRINK_GROW, S_KINDS };

static const char *const seal_name[S_KINDS] = {
	"F_SEAL_WRITE", "F_SEAL_FUTURE_WRITE", "F_SEAL_SHRINK|F_SEAL_GROW",
};

static const unsigned int seal_bits[S_KINDS] = {
	F_SEAL_WRITE, F_SEAL_FUTURE_WRITE, F_SEAL_SHRINK | F_SEAL_GROW,
};

struct sealer {
	struct cell *c;
	int kind;
	double delay;
	atomic_int go;		/* the call is about to start */
	bool took;		/* F_ADD_SEALS succeeded */
	double t_go, t_try, t_took;	/* call start, F_ADD_SEALS called, returned */
	int err;		/* its errno otherwise */
	unsigned long ebusy;	/* F_SEAL_WRITE: EBUSY (transient references) */
	char *snap;		/* the call's pages just after the seal took */
	uint8_t *m1;		/* RECLAIM: their QUERY map then */
};

static void *sealer_fn(void *arg)
{
	struct sealer *s = arg;
	struct cell *c = s->c;
	struct shmem_zero_range r = { 0, SEAL_CALL * PG };
	struct shmem_zero_args a;

	while (!atomic_load(&s->go))
		sched_yield();
	s->t_go = now_s();
	if (s->delay > 0)
		usleep(s->delay * 1e6);
	if (s->kind != S_SHRINK_GROW)
		atomic_store(&c->sealing, 1);
	s->t_try = now_s();
	for (int i = 0; i < 200; i++) {
		if (!fcntl(c->fd, F_ADD_SEALS, seal_bits[s->kind])) {
			s->took = true;
			s->t_took = now_s();
			break;
		}
		s->err = errno;
		if (errno != EBUSY)
			break;
		s->ebusy++;
		usleep(1000);
	}
	if (!s->took)
		return NULL;
	if (pread(c->fd, s->snap, SEAL_CALL * PG, 0) != (ssize_t)(SEAL_CALL * PG))
		fail(c, F_SYS, "pread of the snapshot: %s", strerror(errno));
	if (c->mode == RECLAIM &&
	    sz_call(c->dev, c->fd, QUERY, &r, 1, s->m1, SEAL_CALL, &a))
		fail(c, F_ERRNO, "QUERY after the seal: %s", strerror(errno));
	return NULL;
}

/* Initial content of call page p: even pages zero (resident), odd data. */
static inline uint64_t seal_tag(uint64_t round, uint64_t p)
{
	return p % 2 ? (round << 20) + p + 1 : 0;
}

struct seal_stats {
	unsigned long rounds, before, mid, after, no_seal, ebusy, waited;
	double est, max_wait;
};

/* One round; the call's outcome in *st. */
static void seal_round(struct __test_metadata *_metadata, struct cell *c,
		       struct vec *v, struct sealer *s, uint64_t round, int kind,
		       double delay, struct seal_stats *st)
{
	const uint64_t n = SEAL_CALL + SEAL_WR;
	uint64_t *tags = calloc(SEAL_CALL, sizeof(*tags)), done, freed_late = 0;
	uint8_t *m2 = calloc(SEAL_CALL, 1), *qmap = NULL;
	bool writes_sealed = kind != S_SHRINK_GROW && c->mode != QUERY;
	struct shmem_zero_range whole = { 0, SEAL_CALL * PG };
	struct writer w[2] = { { .c = c, .who = W_MAP }, { .c = c, .who = W_PWRITE } };
	struct shmem_zero_args a;
	pthread_t wt[2], stt;
	char *m = NULL;
	double t0, dt;
	int e, nw = 0;

	ASSERT_NE(NULL, tags);
	ASSERT_NE(NULL, m2);
	for (uint64_t p = 0; p < n; p++) {
		c->pm[p].val = 0;
		c->pm[p].who = W_NONE;
		c->pm[p].word = 1 + p % (WORDS - 1);
	}
	atomic_store(&c->sealing, 0);
	atomic_store(&c->stop, 0);
	c->fd = memfd("seal", n * PG, MFD_ALLOW_SEALING);
	ASSERT_LE(0, c->fd);
	for (uint64_t p = 0; p < SEAL_CALL; p++)
		tags[p] = seal_tag(round, p);
	ASSERT_EQ(0, fill_pages(c->fd, 0, SEAL_CALL, 0, tags));
	/* F_SEAL_WRITE needs no shared mapping: then only pwrite writes */
	if (kind != S_WRITE) {
		m = mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
		ASSERT_NE(MAP_FAILED, m);
	}
	atomic_store(&c->map, m);

	v->nr = v->total = 0;
	if (zeroing(c->mode)) {
		for (uint64_t p = 0; p < SEAL_CALL; p++)
			vec_add(v, p, 1);
	} else {
		vec_add(v, 0, SEAL_CALL);
	}
	if (c->mode == QUERY)
		qmap = m2;

	memset(s, 0, offsetof(struct sealer, snap));
	s->c = c;
	s->kind = kind;
	s->delay = delay;
	for (int i = m ? 0 : 1; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&wt[nw++], NULL, writer_fn, &w[i]));
	if (delay >= 0)
		ASSERT_EQ(0, pthread_create(&stt, NULL, sealer_fn, s));
	usleep(2000);

	args_init(&a, c->fd, c->mode, v->r, v->nr);
	a.map = (uintptr_t)qmap;
	a.map_len = qmap ? SEAL_CALL : 0;
	atomic_store(&s->go, 1);
	t0 = now_s();
	e = sz(c->dev, &a);
	dt = now_s() - t0;
	atomic_fetch_add(&c->calls, 1);
	if (delay >= 0)
		pthread_join(stt, NULL);
	usleep(5000);
	atomic_store(&c->stop, 1);
	for (int i = 0; i < nw; i++)
		pthread_join(wt[i], NULL);
	if (delay < 0) {
		/* the calibration round: no seal */
		st->est = dt;
		EXPECT_EQ(0, e) TH_LOG("%s without a seal: %s", mode_name(c->mode), strerror(e));
		goto out;
	}
	st->rounds++;
	st->ebusy += s->ebusy;
	atomic_fetch_add(&c->rops, s->took);
	atomic_fetch_add(&c->freed, a.freed_pages);
	atomic_fetch_add(&c->zeroed, a.zeroed_pages);
	atomic_fetch_add(&c->busy, a.busy_pages);
	atomic_fetch_add(&c->unwritten, a.unwritten_pages);
	/* how long F_ADD_SEALS waited for i_rwsem while the call ran */
	if (s->took && s->t_try - s->t_go < dt) {
		double wait = (s->t_took < s->t_go + dt ? s->t_took : s->t_go + dt) - s->t_try;

		if (wait > st->max_wait)
			st->max_wait = wait;
		st->waited++;
	}
	if (getenv("SZ_RACE_DEBUG"))
		TH_LOG("round %llu %s: delay %.1f ms, F_ADD_SEALS at %.1f..%.1f ms, call %.1f ms: "
		       "%s, %llu pages done", (unsigned long long)round, seal_name[kind],
		       delay * 1e3, (s->t_try - s->t_go) * 1e3,
		       (s->t_took - s->t_go) * 1e3, dt * 1e3, e ? strerror(e) : "ok",
		       (unsigned long long)(e ? a.bytes_done / PG : SEAL_CALL));

	/* the errno */
	if (e && !(e == EPERM && writes_sealed && s->took))
		fail(c, F_ERRNO, "%s, %s added during the call: %s; " ARGS_FMT,
		     mode_name(c->mode), seal_name[kind], strerror(e), ARGS_ARG(&a));
	if (!s->took) {
		st->no_seal++;
		if (kind != S_WRITE || s->err != EBUSY)
			fail(c, F_SYS, "F_ADD_SEALS(%s): %s", seal_name[kind], strerror(s->err));
	}
	done = e ? a.bytes_done / PG : SEAL_CALL;
	if (e == EPERM)
		(done ? st->mid++ : st->before++);
	else if (!e)
		st->after++;
	if (e == EPERM && (a.ranges_done != (zeroing(c->mode) ? done : 0) ||
			   a.bytes_done % PG))
		fail(c, F_COUNT, "%s stopped by %s: " ARGS_FMT, mode_name(c->mode),
		     seal_name[kind], ARGS_ARG(&a));
	if (!e && (a.ranges_done != v->nr || a.bytes_done != SEAL_CALL * PG))
		fail(c, F_COUNT, "%s: " ARGS_FMT, mode_name(c->mode), ARGS_ARG(&a));

	/* the call's pages: the done prefix zero (DISCARD, ZIP), the rest untouched */
	for (uint64_t p = 0; p < SEAL_CALL; p++) {
		char buf[PG] __attribute__((aligned(64)));
		bool zero = zeroing(c->mode) && p < done;

		if (page_read(c, p, buf) != (ssize_t)PG) {
			fail(c, F_SYS, "pread page %llu", (unsigned long long)p);
			break;
		}
		if (zero && !all_zero(buf))
			fail(c, F_ZERO, "%s stopped by %s after %llu pages: page %llu not zero",
			     mode_name(c->mode), seal_name[kind], (unsigned long long)done,
			     (unsigned long long)p);
		if (!zero && !page_is(buf, tags[p]))
			fail(c, F_KEPT, "%s (%s, %llu pages done): page %llu changed",
			     mode_name(c->mode), seal_name[kind], (unsigned long long)done,
			     (unsigned long long)p);
		if (s->took && writes_sealed && memcmp(buf, s->snap + p * PG, PG))
			fail(c, F_RACER, "%s: page %llu changed after %s took (%llu pages done)",
			     mode_name(c->mode), (unsigned long long)p, seal_name[kind],
			     (unsigned long long)done);
	}
	/* RECLAIM: freed nothing after a write seal but the folio it was at */
	if (c->mode == RECLAIM) {
		ASSERT_EQ(0, sz_call(c->dev, c->fd, QUERY, &whole, 1, m2, SEAL_CALL, &a));
		for (uint64_t p = 0; s->took && writes_sealed && p < SEAL_CALL; p++)
			freed_late += s->m1[p] == C_ZERO && m2[p] == C_HOLE;
		if (freed_late > 1)
			fail(c, F_RACER, "RECLAIM freed %llu pages after %s took",
			     (unsigned long long)freed_late, seal_name[kind]);
		for (uint64_t p = done; p < SEAL_CALL; p++)
			if (m2[p] == C_HOLE) {
				fail(c, F_KEPT, "RECLAIM stopped at page %llu freed page %llu",
				     (unsigned long long)done, (unsigned long long)p);
				break;
			}
	}
	if (c->mode == QUERY && !e) {
		for (uint64_t p = 0; p < SEAL_CALL; p++)
			if (qmap[p] != (tags[p] ? C_DATA : C_ZERO)) {
				fail(c, F_CLASS, "QUERY during %s: page %llu class %u",
				     seal_name[kind], (unsigned long long)p, qmap[p]);
				break;
			}
	}
	/* sealed: the next call is refused before anything, or not at all */
	if (s->took) {
		struct shmem_zero_args b;

		args_init(&b, c->fd, c->mode, v->r, v->nr);
		b.map = (uintptr_t)qmap;
		b.map_len = qmap ? SEAL_CALL : 0;
		e = sz(c->dev, &b);
		if (writes_sealed) {
			bool zero = true;

			for (int i = 0; i < NOUT; i++)
				zero &= !outs(&b)[i];
			if (e != EPERM || !zero)
				fail(c, F_ERRNO, "%s after %s: %s, " ARGS_FMT, mode_name(c->mode),
				     seal_name[kind], e ? strerror(e) : "success", ARGS_ARG(&b));
		} else if (e) {
			fail(c, F_ERRNO, "%s after %s: %s", mode_name(c->mode), seal_name[kind],
			     strerror(e));
		}
	}
	/* the writers' pages: their last writes */
	c->wfirst = SEAL_CALL;
	final_check(c);
out:
	if (m)
		munmap(m, n * PG);
	atomic_store(&c->map, NULL);
	close(c->fd);
	c->fd = -1;
	free(tags);
	free(m2);
}

static void seal_cell(struct __test_metadata *_metadata, FIXTURE_DATA(race) *self,
		      uint32_t mode)
{
	const uint64_t n = SEAL_CALL + SEAL_WR;
	struct cell *c = cell_new(_metadata, self->dev, mode, R_SEAL, n);
	struct seal_stats st = { 0 };
	struct sealer s;
	uint64_t seed;
	struct vec *v = calloc(1, sizeof(*v));
	double t0;

	ASSERT_NE(NULL, v);
	seg_install();
	c->hot = 0;
	c->wfirst = SEAL_CALL;
	seed = c->seed;
	memset(&s, 0, sizeof(s));
	s.snap = malloc(SEAL_CALL * PG);
	s.m1 = calloc(SEAL_CALL, 1);
	ASSERT_NE(NULL, s.snap);
	ASSERT_NE(NULL, s.m1);

	seal_round(_metadata, c, v, &s, 0, S_SHRINK_GROW, -1, &st);
	t0 = now_s();
	for (uint64_t r = 1;; r++) {
		int kind = (r - 1) % S_KINDS;
		double delay = st.est * 0.5 * (rnd(&seed) % 1000) / 1000.0;
		double t = now_s() - t0;

		/*
		 * The cell's time, and for the modes that write until a write
		 * seal stopped one call in the middle (at most 4 times as long:
		 * F_ADD_SEALS may wait for i_rwsem until the call ends).
		 */
		if (r > S_KINDS && t >= c->seconds &&
		    (mode == QUERY || st.mid || t >= 4 * c->seconds))
			break;

		c->wfirst = SEAL_CALL;
		seal_round(_metadata, c, v, &s, r, kind, delay, &st);
	}
	TH_LOG("%s: %lu rounds (one call %.1f ms unsealed): stopped by a write seal before "
	       "the first page %lu, in the middle %lu; completed %lu; seal not taken %lu "
	       "(F_SEAL_WRITE EBUSY %lu times); F_ADD_SEALS made while the call ran: %lu, "
	       "the longest waited %.1f ms",
	       mode_name(mode), st.rounds, st.est * 1e3, st.before, st.mid, st.after,
	       st.no_seal, st.ebusy, st.waited, st.max_wait * 1e3);
	report(_metadata, c);
	if (mode != QUERY)
		EXPECT_LT(0UL, st.mid) TH_LOG("no seal landed in the middle of a call");
	EXPECT_LT(10UL, (unsigned long)atomic_load(&c->writes[W_PWRITE]));
	free(s.snap);
	free(s.m1);
	free(v);
	cell_free(c);
}

/* ------------------------------------------------------------------ */
/* The matrix                                                           */
/* ------------------------------------------------------------------ */

TEST_F(race, truncate)
{
	run_cell(_metadata, self, variant->mode, R_TRUNCATE);
}

TEST_F(race, fallocate)
{
	run_cell(_metadata, self, variant->mode, R_FALLOCATE);
}

TEST_F(race, munmap_mremap)
{
	run_cell(_metadata, self, variant->mode, R_MREMAP);
}

TEST_F(race, fork_cow)
{
	run_cell(_metadata, self, variant->mode, R_FORK);
}

TEST_F(race, seal)
{
	seal_cell(_metadata, self, variant->mode);
}

TEST_F(race, pageout)
{
	run_cell(_metadata, self, variant->mode, R_PAGEOUT);
}

TEST_F(race, collapse)
{
	run_cell(_metadata, self, variant->mode, R_COLLAPSE);
}

TEST_F(race, io_uring)
{
	run_cell(_metadata, self, variant->mode, R_URING);
}

TEST_F(race, udmabuf)
{
	run_cell(_metadata, self, variant->mode, R_UDMABUF);
}

TEST_F(race, migrate)
{
	run_cell(_metadata, self, variant->mode, R_MIGRATE);
}

/* ------------------------------------------------------------------ */
/* Module unload with a DISCARD or a RECLAIM in flight: runs last       */
/* ------------------------------------------------------------------ */

FIXTURE(unload) {
	const char *ko;
};

FIXTURE_SETUP(unload)
{
	self->ko = getenv("SHMEM_ZERO_KO");
}

FIXTURE_TEARDOWN(unload)
{
	/* whatever happened, leave the module loaded */
	if (self->ko && !module_loaded()) {
		int e = load_module(self->ko);

		if (e)
			TH_LOG("reloading %s failed: %s", self->ko, strerror(e));
		wait_path(SHMEM_ZERO_DEVICE, true, 2000);
	}
}

#define UL_DATA		256ULL	/* data pages (DISCARD) / zero then data (RECLAIM) */

/* The file the in-flight call works on: its first pages resident. */
static void unload_fill(struct __test_metadata *_metadata, int fd, uint32_t mode)
{
	if (mode == DISCARD) {
		ASSERT_EQ(0, fill_pages(fd, 0, UL_DATA, 1, NULL));
	} else {
		ASSERT_EQ(0, fill_pages(fd, 0, UL_DATA, 0, NULL));
		ASSERT_EQ(0, fill_pages(fd, UL_DATA, UL_DATA, 1, NULL));
	}
}

/*
 * What the in-flight call did once it completed: DISCARD zeroed and freed
 * the data; RECLAIM kept the data and freed the zero pages it could.
 */
static void unload_check(struct __test_metadata *_metadata, int fd, uint32_t mode,
			 const struct busy *b)
{
	EXPECT_EQ(0, b->first_err) TH_LOG("the call in flight: %s", strerror(b->first_err));
	EXPECT_EQ(b->nr, b->first.ranges_done);
	if (mode == DISCARD) {
		EXPECT_EQ(UL_DATA, b->first.freed_pages);
		EXPECT_EQ(0, bad_pages(fd, 0, UL_DATA, 0, NULL, NULL));
		EXPECT_EQ(0, blocks(fd));
	} else {
		EXPECT_EQ(UL_DATA, b->first.data_pages);
		EXPECT_EQ(UL_DATA, b->first.freed_pages + b->first.busy_pages);
		EXPECT_LT(0ULL, b->first.freed_pages);
		EXPECT_EQ(0, bad_pages(fd, 0, UL_DATA, 0, NULL, NULL));
		EXPECT_EQ(0, bad_pages(fd, UL_DATA, UL_DATA, 1, NULL, NULL));
	}
}

static void unload_in_flight(struct __test_metadata *_metadata,
			     FIXTURE_DATA(unload) *self, uint32_t mode)
{
	const uint64_t max = SHMEM_ZERO_MAX_RANGES;
	struct shmem_zero_range *v;
	struct shmem_zero_args a;
	bool conclusive = false;
	uint64_t nr = max / 16;
	struct stat st;
	pthread_t th;
	int dev, e, hfd;
	double t0, dt;

	if (!self->ko)
		SKIP(return, "SHMEM_ZERO_KO is not set");
	ASSERT_TRUE(module_loaded());

	dev = open_dev();
	ASSERT_LE(0, dev);
	e = unload_module();
	if (e == EPERM)
		SKIP(close(dev); return, "delete_module: EPERM (needs CAP_SYS_MODULE)");
	ASSERT_TRUE(busy_errno(e)) TH_LOG("delete_module with an open fd: %s", strerror(e));

	/* 2^20 one-page ranges over a 4 GiB memfd, its first pages resident */
	hfd = memfd("inflight", 4 * GIB, 0);
	ASSERT_LE(0, hfd);
	v = mmap(NULL, max * sizeof(*v), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, v);
	for (uint64_t i = 0; i < max; i++)
		v[i] = (struct shmem_zero_range){ i * PG, PG };
	/* size the call to take a few hundred ms at least */
	for (;;) {
		unload_fill(_metadata, hfd, mode);
		t0 = now_s();
		ASSERT_EQ(0, sz_call(dev, hfd, mode, v, nr, NULL, 0, &a));
		dt = now_s() - t0;
		if (dt > 0.3 || nr == max)
			break;
		nr = nr * 4 > max ? max : nr * 4;
	}
	TH_LOG("%s of %llu ranges takes %.3f s", mode_name(mode), (unsigned long long)nr, dt);

	for (int attempt = 0; attempt < 4 && !conclusive; attempt++) {
		struct busy b = { .r = v, .nr = nr, .mode = mode, .fd = hfd };
		unsigned long s0, s1;

		unload_fill(_metadata, hfd, mode);
		lru_flush();
		b.dev = open_dev();
		ASSERT_LE(0, b.dev);
		close(dev);		/* only the thread's fd is left */
		dev = -1;
		ASSERT_EQ(0, pthread_create(&th, NULL, busy_thread, &b));
		while (!((s0 = atomic_load(&b.seq)) & 1))
			usleep(1000);
		usleep(20000);
		s0 = atomic_load(&b.seq);
		close(b.dev);		/* the call in flight holds the file */
		e = unload_module();
		s1 = atomic_load(&b.seq);
		atomic_store(&b.stop, 1);
		pthread_join(th, NULL);
		conclusive = s0 == 1 && s1 == 1;
		TH_LOG("attempt %d: first call in flight throughout: %s, delete_module: %s, "
		       "thread: %s", attempt, conclusive ? "yes" : "no",
		       e ? strerror(e) : "ok", b.err ? strerror(b.err) : "ok");
		if (conclusive) {
			EXPECT_TRUE(busy_errno(e))
				TH_LOG("module unloaded under a %s in flight", mode_name(mode));
			/* the call in flight completed; a later one saw the closed fd */
			EXPECT_NE(s0, b.fail_seq);
			EXPECT_TRUE(b.err == 0 || b.err == EBADF);
			unload_check(_metadata, hfd, mode, &b);
		}
		if (!module_loaded()) {
			ASSERT_EQ(0, load_module(self->ko));
			ASSERT_TRUE(wait_path(SHMEM_ZERO_DEVICE, true, 2000));
		}
		dev = open_dev();
		ASSERT_LE(0, dev);
	}
	ASSERT_TRUE(conclusive) TH_LOG("could not keep a %s in flight", mode_name(mode));
	munmap(v, max * sizeof(*v));
	close(hfd);

	/* everything closed: unload works, the device disappears */
	close(dev);
	e = unload_module();
	for (int i = 0; i < 100 && busy_errno(e); i++) {
		usleep(10000);
		e = unload_module();
	}
	ASSERT_EQ(0, e) TH_LOG("delete_module after close: %s", strerror(e));
	EXPECT_FALSE(module_loaded());
	EXPECT_TRUE(wait_path(SHMEM_ZERO_DEVICE, false, 2000))
		TH_LOG("%s still present after unload", SHMEM_ZERO_DEVICE);
	EXPECT_EQ(-1, open_dev());

	/* reload and use it */
	e = load_module(self->ko);
	ASSERT_EQ(0, e) TH_LOG("finit_module(%s): %s", self->ko, strerror(e));
	ASSERT_TRUE(module_loaded());
	ASSERT_TRUE(wait_path(SHMEM_ZERO_DEVICE, true, 2000));
	ASSERT_EQ(0, stat(SHMEM_ZERO_DEVICE, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	check_device_works(_metadata);
}

TEST_F(unload, discard_in_flight)
{
	unload_in_flight(_metadata, self, DISCARD);
}

TEST_F(unload, reclaim_in_flight)
{
	unload_in_flight(_metadata, self, RECLAIM);
}

/* ------------------------------------------------------------------ */
/* main: the 6.1 harness has no filters; -f, -v, -t and -l here          */
/* ------------------------------------------------------------------ */

struct names {
	const char *v[64];
	int n;
};

static bool names_match(const struct names *n, const char *name)
{
	if (!n->n)
		return true;
	for (int i = 0; i < n->n; i++)
		if (!strcmp(n->v[i], name))
			return true;
	return false;
}

/* Keep the variants and tests the options name (all when none). */
static void filter(const struct names *fx, const struct names *va, const struct names *te)
{
	struct __fixture_metadata *f;

	for (f = __fixture_list; f; f = f->next) {
		struct __fixture_variant_metadata *v, *vh = NULL, *vt = NULL, *vn;
		struct __test_metadata *t, *th = NULL, *tt = NULL, *tn;
		bool keep = names_match(fx, f->name);

		for (v = f->variant; v; v = vn) {
			vn = v->next;
			if (!names_match(va, v->name))
				continue;
			v->next = NULL;
			if (vt)
				vt->next = v;
			else
				vh = v;
			vt = v;
		}
		if (vh)
			vh->prev = vt;
		/* no variant left (or none, and one asked for): nothing runs */
		if ((f->variant && !vh) || (!f->variant && va->n))
			keep = false;
		f->variant = vh;
		for (t = f->tests; t; t = tn) {
			tn = t->next;
			if (!keep || !names_match(te, t->name))
				continue;
			t->next = NULL;
			if (tt)
				tt->next = t;
			else
				th = t;
			tt = t;
		}
		if (th)
			th->prev = tt;
		f->tests = th;
	}
}

int main(int argc, char **argv)
{
	struct names fx = { 0 }, va = { 0 }, te = { 0 };
	bool list = false;
	int opt;

	while ((opt = getopt(argc, argv, "f:v:t:lh")) != -1) {
		struct names *n = opt == 'f' ? &fx : opt == 'v' ? &va : opt == 't' ? &te : NULL;

		if (n && n->n < 64) {
			n->v[n->n++] = optarg;
		} else if (opt == 'l') {
			list = true;
		} else {
			fprintf(stderr, "usage: %s [-f FIXTURE]... [-v VARIANT]... [-t TEST]... [-l]\n",
				argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	filter(&fx, &va, &te);
	if (list) {
		for (struct __fixture_metadata *f = __fixture_list; f; f = f->next) {
			struct __fixture_variant_metadata nv = { .name = "" };

			for (struct __fixture_variant_metadata *v = f->variant ?: &nv; v;
			     v = v->next)
				for (struct __test_metadata *t = f->tests; t; t = t->next)
					printf("%s%s%s.%s\n", f->name, v->name[0] ? "." : "",
					       v->name, t->name);
		}
		return 0;
	}
	return test_harness_run(1, argv);
}
