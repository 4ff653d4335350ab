// SPDX-License-Identifier: GPL-2.0
/*
 * shmem_zero_fuzz: a fuzzer for SHMEM_ZERO_IOC_RANGES on /dev/shmem_zero.
 *
 *   shmem_zero_fuzz [--calls N] [--seconds S] [--seed X] [--threads T]
 *                   [--long] [--quiet]
 *
 * --threads fuzzing threads (default 2) mix four kinds of call:
 *
 * - structured calls: every mode (and invalid ones) and flag bit, struct
 *   sizes 0..PAGE_SIZE+64 with mostly zero tails, every kind of fd (tmpfs
 *   files, sealed, append-only and immutable memfds, read-only, O_WRONLY
 *   and O_PATH fds, pipes, a socket, directories, procfs files, a hugetlb
 *   memfd, a file on another filesystem, the device itself, closed and
 *   negative numbers, and "volatile" numbers that the chaos threads dup2
 *   other files onto); vectors random, overlapping, huge (a read-only
 *   template of SHMEM_ZERO_MAX_RANGES ranges), above the maximum,
 *   unaligned, wrapping u64, in unmapped, read-only, PROT_NONE,
 *   userfaultfd-registered (UFFD_FEATURE_SIGBUS: the kernel's accesses
 *   fail with EFAULT, nothing blocks) or shared file memory, or running off
 *   the end of a mapping; QUERY maps too small, read-only, aliasing the
 *   vector or a shared mapping of a file, or running into a guard page.
 *   Where the outcome is determined by the arguments (a stable fd, no
 *   concurrent rewrite), the errno is predicted from the Documentation's
 *   table, in the module's order of checks, and must match.
 * - calls on the shadow file: a memfd whose every page's content and
 *   residency (hole, resident, fallocated, or "hole or X") the fuzzer
 *   models, also past EOF.  No chaos thread touches it.  After every call
 *   on it the file is read back whole and compared: after a failed call
 *   only the reported prefix (ranges_done + bytes_done) may have changed,
 *   as the mode allows; after a successful one the model, advanced by a
 *   page-by-page simulation of the call, must hold.  st_blocks, the page
 *   counters and the QUERY map are checked against the simulation too.
 *   Its calls use bad vectors as well (bad ranges after good ones, EFAULT
 *   mid-vector, too small maps), its other fds, TOCTOU rewrites limited
 *   to known alternatives, seals added during a call, signals (EINTR) and
 *   a userfaultfd MISSING registration over part of it (EBUSY).
 * - random bytes as the argument struct;
 * - random ioctl numbers on the device (ENOTTY).
 *
 * Alongside: a TOCTOU thread rewrites vectors and maps and flips their
 * protection while calls run; a file chaos thread truncates, fallocates,
 * punches, writes, chmods, chattrs and seals other files (recreating
 * sealed ones) and dup2s files of another kind onto, or closes, the fd
 * numbers the calls use; a mapping chaos thread maps, unmaps, mremaps and
 * touches those files, registers userfaultfds on them and forks children
 * that touch the mappings and exit; a signal thread interrupts calls.
 *
 * Everything that could block is bounded: userfaultfds are SIGBUS-mode,
 * children are killed after 10 s, a watchdog signals a call that runs for
 * KICK_S and reports one that runs for HANG_S as hung.  The result is TAP,
 * with '# ' lines giving the calls per class, mode and fd kind and the
 * errno histogram; mismatches are printed with the seed and the call's
 * parameters.  The run fails if --seconds passes before --calls calls;
 * with --long, --seconds is a time box (which --calls, if given, may end
 * sooner), and only a run of fewer than LONG_MIN_CALLS calls (a fuzzer that
 * hardly ran) fails: the line says whether --calls was reached.
 *
 * With shmem THP or swap enabled the shadow file's residency is not
 * modelled (only contents are checked).  SZF_DEBUG=1 checks the whole
 * shadow model with a QUERY after every change, SZF_DEBUG=2 prints the CPU
 * time of each thread.
 */
#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <linux/futex.h>
#include <linux/magic.h>
#include <linux/userfaultfd.h>

#include "kselftest.h"
#include "shmem_zero_util.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(x)	(sizeof(x) / sizeof((x)[0]))
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif
#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC	0x958458f6
#endif
/* <linux/fs.h> does not mix with the libc headers: its values */
#define SZF_IOC_GETFLAGS	_IOR('f', 1, long)
#define SZF_IOC_SETFLAGS	_IOW('f', 2, long)
#define SZF_IMMUTABLE_FL	0x00000010
#define SZF_APPEND_FL		0x00000020

#define VER0		SHMEM_ZERO_ARGS_SIZE_VER0
#define VER1		SHMEM_ZERO_ARGS_SIZE_VER1
#define MAXR		((uint64_t)SHMEM_ZERO_MAX_RANGES)
#define LONG_MIN_CALLS	10000	/* --long: a run of fewer proves little */
#define RSZ		sizeof(struct shmem_zero_range)
#define CHUNK		(PG / RSZ)	/* ranges the module copies at a time */
#define USER_MAX	((1ULL << 47) - PG)	/* x86-64 TASK_SIZE_MAX */
#define END_MAX		((1ULL << 51) - 1)	/* last page end <= LLONG_MAX */
#define UNKNOWN		UINT64_MAX

#define INTENT_MAX	4096	/* ranges a vector built here holds */
#define ARGS_PAGES	2
#define VEC_PAGES	(INTENT_MAX * RSZ / PG)
#define MAP_PAGES	64
#define UFFD_PAGES	4
#define MASK_MAX	(MAP_PAGES * PG)	/* map bytes a simulation follows */

#define SH_MIN		32	/* shadow file: EOF in [SH_MIN, SH_MAX] pages */
#define SH_MAX		128
#define SH_NPG		(SH_MAX + 16)	/* pages modelled, past EOF included */

#define NVOL		8	/* volatile fd numbers, dup2'ed by chaos */
#define VOL_BASE	700
#define CLOSED_BASE	900	/* [900, 950): never opened */
#define NSLOTS		8	/* mapping slots of the chaos region */
#define SLOT_BYTES	(4 * MIB)
#define CF_MAX_PAGES	1024
#define MAX_KIDS	4

#define MAX_THREADS	16
#define KICK_S		30	/* a call this long is signalled */
#define HANG_S		120	/* and one this long reported as hung */

/* ------------------------------------------------------------------ */
/* Options, global state, statistics                                    */
/* ------------------------------------------------------------------ */

static uint64_t opt_calls = 1000000, opt_seed;
static double opt_seconds = -1;
static int opt_threads = 2;
static bool opt_long, opt_quiet, opt_calls_set;
static int opt_debug;	/* SZF_DEBUG: 1 resolve after every change, 2 CPU times */

static int dev = -1;
static bool is_root, thp_possible, swap_on;
static uint64_t hp_size;		/* huge page size, 0: no hugetlb */
static bool hp_split_ok;		/* a hugetlb VMA may be split */
static long hp_saved = -1;		/* nr_hugepages to restore */
static int uffd = -1;
static double t_start;

static atomic_bool stop_fuzz, stop_all;
static _Atomic uint64_t calls_issued, calls_done;

/* Documented errnos (Documentation/shmem_zero.rst, ENOTTY: other numbers). */
enum {
	E_OK, E_INVAL, E_2BIG, E_FAULT, E_BADF, E_PERM, E_BUSY, E_TXTBSY,
	E_ACCES, E_SPIPE, E_ISDIR, E_NODEV, E_OPNOTSUPP, E_INTR, E_NOMEM,
	E_NOTTY, E_NR
};

static const int doc_errno[E_NR] = {
	0, EINVAL, E2BIG, EFAULT, EBADF, EPERM, EBUSY, ETXTBSY,
	EACCES, ESPIPE, EISDIR, ENODEV, EOPNOTSUPP, EINTR, ENOMEM, ENOTTY,
};

#define EB(x)		(1U << (x))

static int eidx(int err)
{
	for (int i = 0; i < E_NR; i++)
		if (doc_errno[i] == err)
			return i;
	return -1;
}

static const char *ename(int err)
{
	const char *s = err ? strerrorname_np(err) : "success";

	return s ? s : "errno?";
}

/* The TAP lines. */
enum {
	CK_CALLS, CK_NOCHANGE, CK_MODEL, CK_DOC, CK_PRED, CK_OUT, CK_HANG,
	CK_NR
};

static const char *const ck_name[CK_NR] = {
	"calls completed",
	"nothing changed after failed calls on the shadow file",
	"model holds after successful calls",
	"every errno is one the Documentation lists",
	"errno as the Documentation predicts where the arguments decide it",
	"output fields and maps consistent",
	"no call hung, every child reaped",
};

static _Atomic uint64_t ck_fail[CK_NR], ck_checks[CK_NR], ck_printed[CK_NR];

/* Call classes. */
enum { CL_STRUCT, CL_SHADOW, CL_RANDARGS, CL_RANDCMD, CL_NR };
static const char *const cl_name[CL_NR] = {
	"structured", "shadow", "random args", "random cmd",
};

enum {
	K_SHADOW, K_SHADOW_RO, K_SHADOW_WO, K_SHADOW_PATH,
	K_MEMFD, K_SHMFILE, K_SEAL_W, K_SEAL_FW, K_SEAL_SIZE, K_RDONLY,
	K_WRONLY, K_OPATH, K_PIPE_R, K_PIPE_W, K_SOCKET, K_DIR, K_PROC,
	K_PROC_RW, K_HUGETLB, K_DEV, K_APPEND, K_IMMUTABLE, K_OTHERFS,
	K_CLOSED, K_NEG, K_BIGFD, K_VOLATILE, K_CHAOS, K_RANDOM, K_NR
};

/* What the module's checks see of a file (sz_check_file()). */
enum cls { C_TMPFS, C_HUGETLB, C_FIFO, C_DIR, C_NODEV, C_OTHERFS, C_BADF };

struct kind {
	const char *name;
	int fd;			/* -1: not available */
	bool r, w;		/* FMODE_READ, FMODE_WRITE */
	enum cls cls;
	bool wsealed;		/* F_SEAL_WRITE or F_SEAL_FUTURE_WRITE */
	bool noch;		/* append-only or immutable */
	bool special;		/* fd made up per call (closed, negative...) */
	uint64_t pages;		/* size, to aim ranges at */
	unsigned int weight;	/* structured calls: relative frequency */
};

static struct kind kinds[K_NR] = {
	[K_SHADOW]	= { "shadow", -1, true, true, C_TMPFS },
	[K_SHADOW_RO]	= { "shadow O_RDONLY", -1, true, false, C_TMPFS },
	[K_SHADOW_WO]	= { "shadow O_WRONLY", -1, false, true, C_TMPFS },
	[K_SHADOW_PATH]	= { "shadow O_PATH", -1, false, false, C_BADF },
	[K_MEMFD]	= { "memfd", -1, true, true, C_TMPFS, .weight = 14 },
	[K_SHMFILE]	= { "/dev/shm file", -1, true, true, C_TMPFS, .weight = 8 },
	[K_SEAL_W]	= { "memfd F_SEAL_WRITE", -1, true, true, C_TMPFS,
			    .wsealed = true, .weight = 3 },
	[K_SEAL_FW]	= { "memfd F_SEAL_FUTURE_WRITE", -1, true, true, C_TMPFS,
			    .wsealed = true, .weight = 3 },
	[K_SEAL_SIZE]	= { "memfd size seals", -1, true, true, C_TMPFS,
			    .weight = 3 },
	[K_RDONLY]	= { "memfd O_RDONLY", -1, true, false, C_TMPFS, .weight = 4 },
	[K_WRONLY]	= { "memfd O_WRONLY", -1, false, true, C_TMPFS, .weight = 4 },
	[K_OPATH]	= { "memfd O_PATH", -1, false, false, C_BADF, .weight = 2 },
	[K_PIPE_R]	= { "pipe read end", -1, true, false, C_FIFO, .weight = 2 },
	[K_PIPE_W]	= { "pipe write end", -1, false, true, C_FIFO, .weight = 2 },
	[K_SOCKET]	= { "socket", -1, true, true, C_NODEV, .weight = 2 },
	[K_DIR]		= { "directory", -1, true, false, C_DIR, .weight = 2 },
	[K_PROC]	= { "procfs O_RDONLY", -1, true, false, C_OTHERFS,
			    .weight = 2 },
	[K_PROC_RW]	= { "procfs O_RDWR", -1, true, true, C_OTHERFS, .weight = 2 },
	[K_HUGETLB]	= { "hugetlb memfd", -1, true, true, C_HUGETLB, .weight = 5 },
	[K_DEV]		= { "the device", -1, true, true, C_NODEV, .weight = 2 },
	[K_APPEND]	= { "append-only memfd", -1, true, true, C_TMPFS,
			    .noch = true, .weight = 2 },
	[K_IMMUTABLE]	= { "immutable memfd", -1, true, true, C_TMPFS,
			    .noch = true, .weight = 2 },
	[K_OTHERFS]	= { "file on another fs", -1, true, true, C_OTHERFS,
			    .weight = 3 },
	[K_CLOSED]	= { "closed fd", -1, .cls = C_BADF, .special = true,
			    .weight = 2 },
	[K_NEG]		= { "negative fd", -1, .cls = C_BADF, .special = true,
			    .weight = 2 },
	[K_BIGFD]	= { "huge fd number", -1, .cls = C_BADF, .special = true,
			    .weight = 1 },
	[K_VOLATILE]	= { "volatile (chaos dup2)", -1, .special = true,
			    .weight = 16 },
	[K_CHAOS]	= { "chaos file", -1, .special = true, .weight = 10 },
	[K_RANDOM]	= { "random bytes", -1, .special = true },
};

static const char *const mode_name[5] = {
	"DISCARD", "QUERY", "RECLAIM", "ZERO_IN_PLACE", "invalid",
};

static _Atomic uint64_t st_class[CL_NR], st_mode[5], st_kind[K_NR], st_kind_ok[K_NR];
static _Atomic uint64_t st_err[256], st_err_other;
static _Atomic uint64_t st_toctou, st_bursts, st_signals, st_forks;
static _Atomic uint64_t st_kids_signaled, st_kids_sigbus, st_chaos_ops;
static _Atomic uint64_t st_seals, st_redup;
static _Atomic uint64_t st_sh_calls, st_sh_failed, st_sh_resolves;
static _Atomic uint64_t st_sh_rebuilds, st_sh_prefix, st_template, st_template_ok;
static _Atomic uint64_t st_predicted, st_max_call_ns;

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

#define inc(x)		atomic_fetch_add_explicit(&(x), 1, memory_order_relaxed)

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t pick(uint64_t *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

/* True with probability @pm per mille. */
static bool chance(uint64_t *s, unsigned int pm)
{
	return pick(s, 1000) < pm;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static void *reserve(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap %zu: %s\n", len, strerror(errno));
	return p;
}

static void set_prot(void *p, size_t len, int prot)
{
	if (mprotect(p, len, prot))
		ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));
}

/* pread/pwrite/fallocate/ftruncate, retried on EINTR and short transfers. */
static bool xpread(int fd, void *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf = (char *)buf + n;
		len -= n;
		off += n;
	}
	return true;
}

static bool xpwrite(int fd, const void *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf = (const char *)buf + n;
		len -= n;
		off += n;
	}
	return true;
}

static int xfallocate(int fd, int mode, off_t off, off_t len)
{
	int ret;

	do {
		ret = fallocate(fd, mode, off, len);
	} while (ret && errno == EINTR);
	return ret;
}

static int xftruncate(int fd, off_t len)
{
	int ret;

	do {
		ret = ftruncate(fd, len);
	} while (ret && errno == EINTR);
	return ret;
}

static long long read_ll(const char *path)
{
	char buf[64];

	return file_read(path, buf, sizeof(buf)) ? strtoll(buf, NULL, 10) : -1;
}

static void block_usr1(bool block)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

static void on_usr1(int sig)
{
	(void)sig;
}

/*
 * Writes to memory that chaos may truncate or unmap under us (shared file
 * mappings) go through guarded_copy(): SIGBUS or SIGSEGV there returns
 * false instead of killing the fuzzer.  Anywhere else they still kill it.
 */
static __thread void *guard_jmp;	/* a sigjmp_buf, when armed */

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	void *j = guard_jmp;

	(void)si;
	(void)uc;
	if (j) {
		guard_jmp = NULL;
		siglongjmp(*(sigjmp_buf *)j, 1);
	}
	signal(sig, SIG_DFL);	/* a real crash: fault again, and die */
}

static bool guarded_copy(void *dst, const void *src, size_t n)
{
	sigjmp_buf jb;

	if (sigsetjmp(jb, 1))
		return false;
	guard_jmp = jb;
	memcpy(dst, src, n);
	__asm__ __volatile__("" ::: "memory");
	guard_jmp = NULL;
	return true;
}

static long futex(_Atomic uint32_t *w, int op, uint32_t val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* Per-thread state and the call record                                 */
/* ------------------------------------------------------------------ */

/* Where the argument struct, the vector or the map lives. */
enum {
	P_RW,		/* own memory, read-write, a guard page after it */
	P_END,		/* own memory, running into the guard page */
	P_RO,		/* a read-only page */
	P_NONE,		/* a PROT_NONE page */
	P_LOW,		/* below mmap_min_addr: never mapped */
	P_KERNEL,	/* a kernel or non-canonical address */
	P_NULL,
	P_UFFD,		/* registered with a SIGBUS-mode userfaultfd */
	P_TEMPLATE,	/* vector: the huge read-only template */
	P_ALIAS,	/* map: the vector */
	P_FILE,		/* a shared mapping of a chaos file */
	P_RANDOM,
	P_NR
};

static const char *const place_name[P_NR] = {
	"rw", "rw-end", "ro", "none", "low", "kernel", "null", "uffd",
	"template", "alias-vec", "filemap", "random",
};

/* TOCTOU job types. */
enum { TT_NONE, TT_FLIP, TT_PROT, TT_SEAL, TT_WILD };
static const char *const tt_name[] = { "none", "flip", "prot", "seal", "wild" };

enum { TJ_IDLE, TJ_READY, TJ_BUSY };

struct tjob {
	_Atomic int state;
	int type;
	struct shmem_zero_range *vec;	/* own RW memory */
	uint64_t nr;			/* entries it may rewrite */
	uint64_t idx;			/* TT_FLIP: the entry flipped */
	struct shmem_zero_range alt[4];	/* TT_FLIP: its values */
	int nalt;
	uint8_t *prot;			/* TT_PROT, TT_WILD: pages toggled */
	size_t prot_len;
	uint8_t *map;			/* TT_WILD: scribbled */
	uint64_t map_len;
	int seal_fd;			/* TT_SEAL */
	bool sealed;
	_Atomic uint64_t bursts;
};

struct call {
	uint64_t seq;
	int cls, kind;
	int cf;				/* K_CHAOS: the chaos file, else -1 */
	unsigned long cmd;
	struct shmem_zero_args *ap;
	int aplace;
	uint64_t areadable;		/* bytes readable at ap */
	bool awritable;
	uint32_t size, mode, flags;
	int fd;
	uint64_t nr;
	int vplace;
	uint64_t vaddr, vreadable;	/* UNKNOWN: cannot tell */
	const struct shmem_zero_range *kv;	/* the vector as built */
	uint64_t kv_n;			/* entries of kv known (<= nr) */
	int mplace;
	uint64_t maddr, map_len, mwritable;
	uint64_t sentinel;		/* map bytes set to 0xEE before */
	int toctou;
	bool len_varies;		/* TT_FLIP with another length */
	uint64_t tidx;
	struct shmem_zero_range alt[4];
	int nalt;
	bool no_signal;
	/* result */
	int err;
	uint64_t out[NOUT];
	uint64_t ns;
};

struct tctx {
	int id;
	pthread_t th;
	uint64_t rng;
	uint8_t *args_area, *map_area, *ro_page, *uffd_area, *none_page;
	struct shmem_zero_range *vec_area;
	uint8_t *pagebuf;		/* SH_NPG pages */
	uint8_t *mask;			/* MASK_MAX: allowed map classes */
	struct shmem_zero_range want[INTENT_MAX];
	struct tjob job;
	struct call cur;
	_Atomic uint64_t in_call;	/* ns the current ioctl began, or 0 */
	atomic_bool no_signal;
	uint64_t seq;
	bool hang_reported;
};

static struct tctx *thr[MAX_THREADS];

/* The huge template: MAXR valid ranges, a page of bad ones, a guard. */
static struct shmem_zero_range *tmpl;
#define TMPL_MIN_NS	1000000000ULL	/* starts 10 x max(this, last call) apart */
static _Atomic uint64_t tmpl_start_ns, tmpl_next_ns;
static atomic_bool tmpl_busy;

/* ------------------------------------------------------------------ */
/* Reporting                                                            */
/* ------------------------------------------------------------------ */

static void print_call(const struct call *c)
{
	const uint64_t *o = c->out;

	printf("#   %s call %llu: kind '%s' fd %d cmd %#lx args@%s size %u mode %u flags %#x\n",
	       cl_name[c->cls], (unsigned long long)c->seq, kinds[c->kind].name,
	       c->fd, c->cmd, place_name[c->aplace], c->size, c->mode, c->flags);
	printf("#   nr_ranges %llu vector@%s %#llx (readable %lld) map@%s %#llx map_len %llu toctou %s%s\n",
	       (unsigned long long)c->nr, place_name[c->vplace],
	       (unsigned long long)c->vaddr,
	       c->vreadable == UNKNOWN ? -1LL : (long long)c->vreadable,
	       place_name[c->mplace], (unsigned long long)c->maddr,
	       (unsigned long long)c->map_len, tt_name[c->toctou],
	       c->toctou == TT_FLIP ? " (see alternatives)" : "");
	printf("#   -> %s; out: ranges_done %llu bytes_done %#llx hole %llu zero %llu data %llu unwritten %llu swap %llu freed %llu zeroed %llu pinned %llu busy %llu\n",
	       ename(c->err), (unsigned long long)o[0], (unsigned long long)o[1],
	       (unsigned long long)o[2], (unsigned long long)o[3],
	       (unsigned long long)o[4], (unsigned long long)o[5],
	       (unsigned long long)o[6], (unsigned long long)o[7],
	       (unsigned long long)o[8], (unsigned long long)o[9],
	       (unsigned long long)o[10]);
	for (uint64_t i = 0; c->kv && i < c->kv_n && i < 12; i++)
		printf("#   range %llu: offset %#llx length %#llx\n",
		       (unsigned long long)i,
		       (unsigned long long)c->kv[i].offset,
		       (unsigned long long)c->kv[i].length);
	if (c->kv && c->kv_n > 12)
		printf("#   ... %llu ranges\n", (unsigned long long)c->kv_n);
	for (int i = 0; c->toctou == TT_FLIP && i < c->nalt; i++)
		printf("#   range %llu alternative %d: offset %#llx length %#llx\n",
		       (unsigned long long)c->tidx, i,
		       (unsigned long long)c->alt[i].offset,
		       (unsigned long long)c->alt[i].length);
}

/* A failed check: counted; the first few of each kind are printed. */
static void report(int ck, const struct tctx *t, const struct call *c,
		   const char *fmt, ...)
{
	va_list ap;

	inc(ck_fail[ck]);
	if (atomic_fetch_add(&ck_printed[ck], 1) >= 10)
		return;
	pthread_mutex_lock(&print_lock);
	printf("# FAIL [%s] seed %#llx thread %d: ", ck_name[ck],
	       (unsigned long long)opt_seed, t ? t->id : -1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (c)
		print_call(c);
	pthread_mutex_unlock(&print_lock);
}

static void note(const char *fmt, ...)
{
	va_list ap;

	if (opt_quiet)
		return;
	pthread_mutex_lock(&print_lock);
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&print_lock);
}

/* ------------------------------------------------------------------ */
/* Ranges                                                               */
/* ------------------------------------------------------------------ */

/* The module's sz_check_range(). */
static bool range_ok(const struct shmem_zero_range *r, uint64_t align)
{
	if (!r->length || r->offset % align || r->length % align)
		return false;
	return r->offset <= LLONG_MAX && r->length <= LLONG_MAX - r->offset;
}

/*
 * A valid range for a file of @pages pages, aligned to @al pages: mostly
 * near the file, sometimes the whole of it, far away, up to the last page
 * below 2^63, or anywhere in [0, 2^63).
 */
static void gen_good(uint64_t *s, uint64_t pages, uint64_t al, bool huge,
		     struct shmem_zero_range *r)
{
	uint64_t off, len, c = pick(s, huge ? 100 : 91);

	if (c < 55) {
		off = pick(s, pages + 8);
		len = 1 + pick(s, 16);
	} else if (c < 72) {
		off = pick(s, pages + 8);
		len = 1 + pick(s, pages + 8);
	} else if (c < 80) {
		off = 0;
		len = pages + 1 + pick(s, 64);
	} else if (c < 86) {
		off = pick(s, 1ULL << 40);
		len = 1 + pick(s, 1ULL << 20);
	} else if (c < 91) {
		len = 1 + pick(s, 8);
		off = END_MAX - len - pick(s, 4);
	} else if (c < 95) {
		off = pick(s, 64);
		len = END_MAX - off;
	} else {
		off = pick(s, END_MAX);
		len = 1 + pick(s, END_MAX - off);
	}
	if (al > 1) {
		off = off / al * al;
		len = (len + al - 1) / al * al;
		while (off + len > END_MAX) {
			if (off >= al)
				off -= al;
			else
				len -= al;
		}
	}
	r->offset = off * PG;
	r->length = len * PG;
}

/* An invalid range (or, for the random case, most likely invalid). */
static void gen_bad(uint64_t *s, struct shmem_zero_range *r)
{
	uint64_t k = 1 + pick(s, 4);

	switch (pick(s, 9)) {
	case 0:		/* unaligned offset */
		r->offset = pick(s, 64) * PG + 1 + pick(s, PG - 1);
		r->length = (1 + pick(s, 8)) * PG;
		break;
	case 1:		/* unaligned length */
		r->offset = pick(s, 64) * PG;
		r->length = (1 + pick(s, 8)) * PG - 1 - pick(s, PG - 1);
		break;
	case 2:		/* empty */
		r->offset = pick(s, 64) * PG;
		r->length = 0;
		break;
	case 3:		/* ends past LLONG_MAX */
		r->offset = (1ULL << 63) - k * PG;
		r->length = (k + pick(s, 4)) * PG;
		break;
	case 4:		/* starts at or past 2^63 */
		r->offset = (1ULL << 63) + pick(s, 1ULL << 40) * PG;
		r->length = (1 + pick(s, 8)) * PG;
		break;
	case 5:		/* wraps u64 */
		r->offset = 0 - k * PG;
		r->length = (k + pick(s, 4)) * PG;
		break;
	case 6:		/* length wraps */
		r->offset = pick(s, 64) * PG;
		r->length = 0 - k * PG;
		break;
	case 7:
		r->offset = 0;
		r->length = 1ULL << 63;
		break;
	default:
		r->offset = rnd(s);
		r->length = rnd(s);
		break;
	}
}

static uint64_t gen_nr(uint64_t *s, bool shadow)
{
	uint64_t r = pick(s, 1000);

	if (r < 40)
		return 0;
	if (r < 450)
		return 1 + pick(s, 4);
	if (r < 750)
		return 5 + pick(s, 60);
	if (r < 900)
		return 65 + pick(s, shadow ? 190 : 960);
	if (r < 975)	/* crosses the module's chunks of 256 */
		return CHUNK + 1 + pick(s, shadow ? 400 : INTENT_MAX - CHUNK - 1);
	if (r < 990 && !shadow)	/* above the maximum: never read */
		return MAXR + 1 + (rnd(s) >> pick(s, 64));
	/* huge: the template, or past the vector area (EFAULT) */
	return chance(s, 500) ? MAXR : MAXR - pick(s, 4 * CHUNK);
}

/*
 * Fill t->want[0, min(n, INTENT_MAX)) with good ranges; if @bad, put 1-3
 * bad ones in: first, last, at a chunk boundary or anywhere.
 */
static void gen_vector(struct tctx *t, uint64_t n, uint64_t pages, uint64_t al,
		       bool bad)
{
	uint64_t *s = &t->rng, m = min64(n, INTENT_MAX);
	bool huge = chance(s, 300);

	for (uint64_t i = 0; i < m; i++)
		gen_good(s, pages, al, huge, &t->want[i]);
	for (int k = bad && m ? 1 + pick(s, 3) : 0; k > 0; k--) {
		uint64_t pos;

		switch (pick(s, 4)) {
		case 0:
			pos = m - 1;
			break;
		case 1:
			pos = 0;
			break;
		case 2:
			pos = min64(m - 1, CHUNK - 1 + pick(s, 2));
			break;
		default:
			pos = pick(s, m);
			break;
		}
		gen_bad(s, &t->want[pos]);
	}
}

/* Pages of @n ranges, saturated at UINT64_MAX (as the module counts). */
static uint64_t vec_pages(const struct shmem_zero_range *v, uint64_t n)
{
	uint64_t pages = 0;

	for (uint64_t i = 0; i < n; i++)
		pages = sat_add(pages, v[i].length / PG);
	return pages;
}

/* ------------------------------------------------------------------ */
/* The chaos region: shared mappings of chaos files, in fixed slots      */
/* ------------------------------------------------------------------ */

struct slot {
	uint8_t *base;		/* SLOT_BYTES, reserved PROT_NONE when unused */
	atomic_bool mapped;
	uint64_t len, off;	/* mapped bytes, at file offset off */
	int cf;			/* chaos file mapped */
	bool writable, uffd;
};

static uint8_t *chaos_region;
static struct slot slots[NSLOTS];

/*
 * A slot's address, for vectors and maps: mapped or not, racing chaos;
 * one that maps chaos file @cf if there is one (the call's own file).
 */
static uint8_t *slot_addr(uint64_t *s, uint64_t *len, int cf)
{
	uint64_t first = pick(s, NSLOTS), l;
	struct slot *sl = &slots[first];

	for (uint64_t i = 0; cf >= 0 && i < NSLOTS; i++) {
		struct slot *x = &slots[(first + i) % NSLOTS];

		if (atomic_load(&x->mapped) && x->cf == cf) {
			sl = x;
			break;
		}
	}
	l = atomic_load(&sl->mapped) ? sl->len : PG;
	uint64_t off = pick(s, l / PG) * PG;

	*len = l - off;
	return sl->base + off;
}

/* ------------------------------------------------------------------ */
/* Building a call                                                      */
/* ------------------------------------------------------------------ */

/* Is [addr, addr + len) access_ok()?  1 yes, 0 no, -1 too close to tell. */
static int access_state(uint64_t addr, uint64_t len)
{
	uint64_t sum = addr + len;

	if (sum < addr)
		return 0;
	if (sum <= USER_MAX - PG)
		return 1;
	if (sum > USER_MAX + PG)
		return 0;
	return -1;
}

static uint64_t kernel_addr(uint64_t *s)
{
	switch (pick(s, 3)) {
	case 0:
		return 0xffff888000000000ULL + pick(s, 1ULL << 30);
	case 1:
		return (1ULL << 47) + pick(s, 1ULL << 40);	/* non-canonical */
	default:
		return ~0ULL - pick(s, PG);
	}
}

/* Where the vector goes: t->want is copied there when it is own memory. */
static void place_vector(struct tctx *t, struct call *c, int place)
{
	uint64_t *s = &t->rng, m = min64(c->nr, INTENT_MAX), k, x, len;
	uint8_t *end = (uint8_t *)t->vec_area + VEC_PAGES * PG;

	c->vplace = place;
	c->kv = t->want;
	c->kv_n = m;
	switch (place) {
	case P_RW:
		x = chance(s, 100) ? 1 + pick(s, RSZ - 1) : 0;	/* misaligned */
		c->vaddr = (uintptr_t)t->vec_area + x;
		c->vreadable = VEC_PAGES * PG - x;
		m = min64(m, c->vreadable / RSZ);
		c->kv_n = m;
		memcpy((void *)(uintptr_t)c->vaddr, t->want, m * RSZ);
		break;
	case P_END:		/* the first k entries readable */
		k = pick(s, m);
		c->vaddr = (uintptr_t)(end - k * RSZ);
		memcpy((void *)(uintptr_t)c->vaddr, t->want, k * RSZ);
		c->vreadable = k * RSZ;
		c->kv_n = k;
		break;
	case P_RO:
		k = min64(m, PG / RSZ);
		set_prot(t->ro_page, PG, PROT_READ | PROT_WRITE);
		memcpy(t->ro_page, t->want, k * RSZ);
		set_prot(t->ro_page, PG, PROT_READ);
		c->vaddr = (uintptr_t)t->ro_page;
		c->vreadable = PG;
		c->kv_n = k;
		break;
	case P_TEMPLATE:
		x = pick(s, CHUNK + 1);
		c->kv = tmpl + x;
		c->kv_n = min64(c->nr, MAXR + CHUNK - x);
		c->vaddr = (uintptr_t)c->kv;
		c->vreadable = (MAXR + CHUNK - x) * RSZ;
		break;
	case P_FILE:
		c->vaddr = (uintptr_t)slot_addr(s, &len, c->cf);
		guarded_copy((void *)(uintptr_t)c->vaddr, t->want,
			     min64(m * RSZ, len));
		c->vreadable = UNKNOWN;
		break;
	default:
		c->kv_n = 0;
		c->vreadable = 0;
		switch (place) {
		case P_NONE:
			c->vaddr = (uintptr_t)t->none_page + pick(s, PG / RSZ) * RSZ;
			break;
		case P_LOW:
			c->vaddr = PG * (1 + pick(s, 14)) + pick(s, PG);
			break;
		case P_KERNEL:
			c->vaddr = kernel_addr(s);
			break;
		case P_UFFD:
			c->vaddr = (uintptr_t)t->uffd_area + pick(s, UFFD_PAGES * PG);
			break;
		case P_RANDOM:
			c->vaddr = rnd(s);
			c->vreadable = UNKNOWN;
			break;
		default:
			c->vaddr = 0;
			break;
		}
	}
}

static int pick_vplace(uint64_t *s, bool shadow)
{
	uint64_t r = pick(s, 1000);

	if (r < 830)
		return P_RW;
	if (r < 870)
		return P_END;
	if (r < 870)
		return P_RO;
	if (r < 895)
		return P_NONE;
	if (r < 915)
		return P_UFFD;
	if (r < 930)
		return P_LOW;
	if (r < 945)
		return P_KERNEL;
	if (r < 955)
		return P_NULL;
	return shadow ? P_RW : P_FILE;
}

/* Where the QUERY map goes (also passed, and ignored, for other modes). */
static void place_map(struct tctx *t, struct call *c, int place,
		      uint64_t pages)
{
	uint64_t *s = &t->rng, x, len, area = MAP_PAGES * PG;

	c->mplace = place;
	c->mwritable = 0;
	c->sentinel = 0;
	switch (place) {
	case P_RW:
		x = chance(s, 200) ? pick(s, PG) : 0;
		c->maddr = (uintptr_t)t->map_area + x;
		c->mwritable = area - x;
		break;
	case P_END:
		x = pick(s, min64(pages, area) + 1);
		c->maddr = (uintptr_t)t->map_area + area - x;
		c->mwritable = x;
		break;
	case P_RO:
		c->maddr = (uintptr_t)t->ro_page + pick(s, PG);
		break;
	case P_NONE:
		c->maddr = (uintptr_t)t->none_page + pick(s, PG);
		break;
	case P_LOW:
		c->maddr = PG * (1 + pick(s, 14)) + pick(s, PG);
		break;
	case P_KERNEL:
		c->maddr = kernel_addr(s);
		break;
	case P_UFFD:
		c->maddr = (uintptr_t)t->uffd_area + pick(s, UFFD_PAGES * PG);
		break;
	case P_ALIAS:
		c->maddr = c->vaddr;
		c->mwritable = UNKNOWN;
		break;
	case P_FILE:
		c->maddr = (uintptr_t)slot_addr(s, &len, c->cf);
		c->mwritable = UNKNOWN;
		break;
	default:
		c->maddr = 0;
		break;
	}
	/* map_len: exact, roomy, one short or less, huge, or what there is */
	x = pick(s, 100);
	if (x < 40)
		c->map_len = pages;
	else if (x < 65)
		c->map_len = sat_add(pages, pick(s, 64));
	else if (x < 73)
		c->map_len = pages ? pages - 1 - pick(s, min64(pages, 16)) : 0;
	else if (x < 81)
		c->map_len = 1ULL << pick(s, 64);
	else if (x < 90)
		c->map_len = c->mwritable != UNKNOWN && c->mwritable ?
			     c->mwritable : pages;
	else if (x < 95)
		c->map_len = rnd(s);
	else
		c->map_len = min64(pages, area);
	if (c->map_len > pages && pages != UNKNOWN &&
	    (place == P_KERNEL || place == P_FILE))
		c->map_len = pages;
	if ((place == P_RW || place == P_END) && c->mwritable) {
		c->sentinel = min64(c->mwritable,
				    pages == UNKNOWN ? PG : sat_add(pages, 64));
		memset((void *)(uintptr_t)c->maddr, 0xEE, c->sentinel);
	}
}

static int pick_mplace(uint64_t *s, int vplace, bool shadow)
{
	uint64_t r = pick(s, 1000);

	if (r < 250)
		return P_NULL;
	if (r < 650)
		return P_RW;
	if (r < 760)
		return P_END;
	if (r < 810)
		return P_RO;
	if (r < 840)
		return P_NONE;
	if (r < 870)
		return P_UFFD;
	if (r < 885)
		return P_LOW;
	if (r < 905)
		return P_KERNEL;
	if (r < 950 && vplace == P_RW && !shadow)
		return P_ALIAS;
	return shadow ? P_RW : P_FILE;
}

/* struct size: mostly VER1, sometimes VER0 or bigger with zero tails. */
static uint32_t pick_size(uint64_t *s, bool *tail_nonzero)
{
	uint64_t r = pick(s, 1000);

	*tail_nonzero = false;
	if (r < 750)
		return VER1;
	if (r < 830)
		return VER0;
	if (r < 900)
		return VER0 + pick(s, PG - VER0 + 1);
	if (r < 930) {
		*tail_nonzero = true;
		return VER1 + 1 + pick(s, PG - VER1);
	}
	if (r < 960)
		return pick(s, VER0);
	if (r < 980)
		return PG + 1 + pick(s, 64);
	return VER0 + 1 + pick(s, VER1 - VER0 - 1);
}

/* Write the argument struct where c->aplace says. */
static void place_args(struct tctx *t, struct call *c, bool tail_nonzero)
{
	uint64_t *s = &t->rng, k;
	uint8_t *p;
	struct shmem_zero_args a;

	memset(&a, 0, sizeof(a));
	a.size = c->size;
	a.fd = c->fd;
	a.mode = c->mode;
	a.flags = c->flags;
	a.ranges = c->vaddr;
	a.nr_ranges = c->nr;
	a.map = c->maddr;
	a.map_len = c->map_len;
	args_poison_out(&a);
	c->awritable = false;
	switch (c->aplace) {
	case P_RW:
		p = t->args_area;
		memset(p, 0, ARGS_PAGES * PG);
		memcpy(p, &a, sizeof(a));
		if (tail_nonzero)
			p[VER1 + pick(s, c->size - VER1)] = 1 + pick(s, 255);
		c->areadable = ARGS_PAGES * PG;
		c->awritable = true;
		break;
	case P_END:	/* straddles into the guard page */
		k = pick(s, min64(c->size, ARGS_PAGES * PG) + 1);
		p = t->args_area + ARGS_PAGES * PG - k;
		memset(p, 0, k);
		memcpy(p, &a, min64(k, sizeof(a)));
		if (tail_nonzero && k > VER1 && pick(s, 2))
			p[VER1 + pick(s, k - VER1)] = 1 + pick(s, 255);
		c->areadable = k;
		c->awritable = true;
		break;
	case P_RO:
		p = t->ro_page;
		set_prot(p, PG, PROT_READ | PROT_WRITE);
		memset(p, 0, PG);
		memcpy(p, &a, sizeof(a));
		if (tail_nonzero && c->size <= PG)
			p[VER1 + pick(s, c->size - VER1)] = 1 + pick(s, 255);
		set_prot(p, PG, PROT_READ);
		c->areadable = PG;
		break;
	case P_UFFD:
		p = t->uffd_area + pick(s, PG);
		c->areadable = 0;
		break;
	case P_KERNEL:
		p = (uint8_t *)(uintptr_t)kernel_addr(s);
		c->areadable = 0;
		break;
	case P_LOW:
		p = (uint8_t *)(uintptr_t)(PG * (1 + pick(s, 14)));
		c->areadable = 0;
		break;
	default:
		p = NULL;
		c->areadable = 0;
		break;
	}
	c->ap = (struct shmem_zero_args *)p;
}

static int pick_aplace(uint64_t *s, bool ro_ok)
{
	uint64_t r = pick(s, 1000);

	if (r < 950)
		return P_RW;
	if (r < 970)
		return P_END;
	if (r < 980 && ro_ok)
		return P_RO;
	if (r < 985)
		return P_UFFD;
	if (r < 990)
		return P_KERNEL;
	if (r < 995)
		return P_LOW;
	return P_NULL;
}

/* ------------------------------------------------------------------ */
/* Predicting the errno                                                 */
/* ------------------------------------------------------------------ */

struct pred {
	bool known;		/* allow is the complete answer */
	uint32_t allow;		/* EB() of acceptable results */
	bool nocopy;		/* failed before the output fields are written */
	bool early;		/* failed before pass 2: outputs all zero */
	bool pass2;		/* reaches pass 2 (may change the file) */
	uint64_t pages;		/* the vector's pages, saturated */
};

static void pr_end(struct pred *p, int e, bool nocopy, bool early)
{
	p->known = true;
	p->allow = EB(e) | EB(E_NOMEM);
	p->nocopy = nocopy;
	p->early = early;
}

/*
 * The module's order of checks (sz_ioctl_ranges(), sz_check_file(),
 * sz_pass(), sz_run()) against the Documentation's table.  @k: the fd's
 * kind, NULL if it cannot be told; @ebusy: a userfaultfd MISSING
 * registration may cover the pages.
 */
static void predict(const struct call *c, const struct kind *k, bool ebusy,
		    struct pred *p)
{
	const uint8_t *ab = (const uint8_t *)c->ap;
	bool query = c->mode == SHMEM_ZERO_MODE_QUERY;
	uint64_t usize = c->size, align = PG, pages = 0;

	memset(p, 0, sizeof(*p));
	if (c->areadable < 4)
		return pr_end(p, E_FAULT, true, true);
	if (usize < VER0)
		return pr_end(p, E_INVAL, true, true);
	if (usize > PG)
		return pr_end(p, E_2BIG, true, true);
	if (usize > VER1) {
		for (uint64_t i = VER1; i < min64(usize, c->areadable); i++)
			if (ab[i])
				return pr_end(p, E_2BIG, true, true);
	}
	if (c->areadable < usize)
		return pr_end(p, E_FAULT, true, true);
	/* from here on the output fields are written back */
	if (!c->awritable) {
		/* written back to read-only memory: whatever happened */
		p->known = true;
		p->allow = EB(E_FAULT) | EB(E_NOMEM);
		return;
	}
	if (c->mode > SHMEM_ZERO_MODE_ZERO_IN_PLACE || c->nr > MAXR ||
	    (c->flags && (c->flags != SHMEM_ZERO_QUERY_NOREAD || !query)))
		return pr_end(p, E_INVAL, false, true);
	if (query && c->maddr) {
		int a = access_state(c->maddr, c->map_len);

		if (a < 0)
			return;		/* unknown */
		if (!a)
			return pr_end(p, E_FAULT, false, true);
	}
	if (!k)
		return;
	if (k->cls == C_BADF)
		return pr_end(p, E_BADF, false, true);
	if ((!k->r && c->mode != SHMEM_ZERO_MODE_DISCARD) || (!k->w && !query))
		return pr_end(p, E_BADF, false, true);
	if (!query && k->noch)
		return pr_end(p, E_PERM, false, true);
	switch (k->cls) {
	case C_FIFO:
		return pr_end(p, E_SPIPE, false, true);
	case C_DIR:
		return pr_end(p, E_ISDIR, false, true);
	case C_NODEV:
		return pr_end(p, E_NODEV, false, true);
	case C_OTHERFS:
		return pr_end(p, E_OPNOTSUPP, false, true);
	case C_HUGETLB:
		if (c->mode != SHMEM_ZERO_MODE_DISCARD)
			return pr_end(p, E_OPNOTSUPP, false, true);
		align = hp_size;
		break;
	default:
		break;
	}
	/* pass 1: a chunk at a time, copied, then checked */
	if (c->nr && c->vreadable == UNKNOWN)
		return;
	for (uint64_t first = 0; first < c->nr; first += CHUNK) {
		uint64_t n = min64(CHUNK, c->nr - first);

		if ((first + n) * RSZ > c->vreadable)
			return pr_end(p, E_FAULT, false, true);
		for (uint64_t i = first; i < first + n; i++) {
			struct shmem_zero_range r;

			memcpy(&r, (const void *)(uintptr_t)(c->vaddr + i * RSZ),
			       RSZ);
			if (!range_ok(&r, align))
				return pr_end(p, E_INVAL, false, true);
			pages = sat_add(pages, r.length / PG);
		}
	}
	p->pages = pages;
	if (query && c->maddr && pages > c->map_len)
		return pr_end(p, E_INVAL, false, true);
	if (!query && k->wsealed)
		return pr_end(p, E_PERM, false, true);
	p->known = true;
	p->pass2 = true;
	p->allow = EB(E_OK) | EB(E_INTR) | EB(E_NOMEM);
	if (query && c->maddr) {
		if (c->mwritable == UNKNOWN)
			p->allow |= EB(E_INVAL) | EB(E_FAULT);
		else if (pages > c->mwritable)
			p->allow = EB(E_FAULT) | EB(E_INTR) | EB(E_NOMEM);
	}
	/* ZERO_IN_PLACE stops with EBUSY only before dropping swap */
	if (ebusy && (c->mode == SHMEM_ZERO_MODE_DISCARD ||
		      c->mode == SHMEM_ZERO_MODE_RECLAIM || swap_on))
		p->allow |= EB(E_BUSY);
}

/* ------------------------------------------------------------------ */
/* Issuing a call, and the checks every call gets                       */
/* ------------------------------------------------------------------ */

static void do_ioctl(struct tctx *t, struct call *c)
{
	uint64_t t0 = now_ns(), ns, max;
	long ret;

	c->seq = ++t->seq;
	t->cur = *c;
	atomic_store(&t->in_call, t0);
	ret = ioctl(dev, c->cmd, c->ap);
	c->err = ret < 0 ? errno : 0;
	atomic_store(&t->in_call, 0);
	ns = now_ns() - t0;
	c->ns = ns;
	max = atomic_load(&st_max_call_ns);
	while (ns > max && !atomic_compare_exchange_weak(&st_max_call_ns, &max, ns))
		;
	if (ret > 0)
		report(CK_DOC, t, c, "ioctl returned %ld", ret);
	if (c->awritable && c->areadable >= VER1)
		memcpy(c->out, outs(c->ap), sizeof(c->out));
	else
		memset(c->out, 0xff, sizeof(c->out));
	inc(st_class[c->cls]);
	inc(st_mode[c->mode > 3 ? 4 : c->mode]);
	inc(st_kind[c->kind]);
	if (!c->err)
		inc(st_kind_ok[c->kind]);
	if (c->err < (int)ARRAY_SIZE(st_err))
		inc(st_err[c->err]);
	else
		inc(st_err_other);
	inc(calls_done);
}

static void check_errno(struct tctx *t, const struct call *c,
			const struct pred *p)
{
	int i = eidx(c->err);
	uint32_t a;

	inc(ck_checks[CK_DOC]);
	if (i < 0) {
		report(CK_DOC, t, c, "errno %d (%s) is not in the Documentation's list",
		       c->err, ename(c->err));
		return;
	}
	if (!p || !p->known)
		return;
	inc(ck_checks[CK_PRED]);
	inc(st_predicted);
	if (p->allow & EB(i))
		return;
	char buf[256];
	size_t n = 0;

	buf[0] = 0;
	for (a = p->allow, i = 0; a && i < E_NR; i++)
		if (a & EB(i))
			n += snprintf(buf + n, sizeof(buf) - n, " %s",
				      ename(doc_errno[i]));
	report(CK_PRED, t, c, "got %s, expected one of:%s", ename(c->err), buf);
}

/*
 * The output fields and the map, for calls whose args are in own memory:
 * untouched when the call failed before writing them back; all zero when
 * it failed before pass 2; a progress report within the vector; counters
 * that add up to no more pages than the prefix; a QUERY map written only
 * below the vector's page count, with classes that agree with the counters.
 */
static void check_outputs(struct tctx *t, const struct call *c,
			  const struct pred *p)
{
	const uint64_t *o = c->out;
	uint64_t wb = min64(c->size, VER1), rd = o[0], sum = 0, total = 0;
	/*
	 * What the kernel read is c->kv only in memory no other thread
	 * writes: not a chaos file's mapping (P_FILE), which the file chaos
	 * thread writes, punches and truncates during the call.
	 */
	bool exact_vec = c->kv && c->kv_n == c->nr && c->toctou != TT_FLIP &&
			 c->toctou != TT_WILD && c->mplace != P_ALIAS &&
			 c->vplace != P_FILE;
	bool query = c->mode == SHMEM_ZERO_MODE_QUERY;
	uint8_t *map = (uint8_t *)(uintptr_t)c->maddr;

	if (c->aplace != P_RW)
		return;
	inc(ck_checks[CK_OUT]);
	if (p->known && p->nocopy) {
		for (int i = 0; i < NOUT; i++)
			if (o[i] != GARBAGE) {
				report(CK_OUT, t, c,
				       "output field %d written although the call failed on its size/args",
				       i);
				return;
			}
		goto map;
	}
	if (!p->known && (c->err == EINVAL || c->err == E2BIG || c->err == EFAULT) &&
	    rd == GARBAGE)
		return;		/* not written back, presumably */
	for (int i = 0; i < NOUT; i++) {
		size_t end = offsetof(struct shmem_zero_args, ranges_done) + 8 * (i + 1);

		if (end - 8 >= wb && o[i] != GARBAGE)
			report(CK_OUT, t, c, "output field %d written past size %u", i, c->size);
	}
	if (rd > c->nr || (c->err && c->nr && rd >= c->nr) || (!c->err && rd != c->nr))
		report(CK_OUT, t, c, "ranges_done %llu of %llu with %s",
		       (unsigned long long)rd, (unsigned long long)c->nr,
		       ename(c->err));
	if (p->known && p->early) {
		for (int i = 0; i < NOUT && 48 + 8 * (i + 1) <= (int)wb; i++)
			if (o[i]) {
				report(CK_OUT, t, c,
				       "output field %d not zero after a failure before pass 2",
				       i);
				break;
			}
	}
	if (exact_vec && rd <= c->nr && wb == VER1) {
		uint64_t bytes = 0, head, prefix;

		for (uint64_t i = 0; i < rd; i++)
			bytes += c->kv[i].length;
		head = o[1] - bytes;
		if (head % PG || (head && (rd == c->nr || head >= c->kv[rd].length))) {
			report(CK_OUT, t, c, "bytes_done %#llx: head %#llx of range %llu",
			       (unsigned long long)o[1], (unsigned long long)head,
			       (unsigned long long)rd);
		} else {
			prefix = sat_add(vec_pages(c->kv, rd), head / PG);
			total = vec_pages(c->kv, c->nr);
			for (int i = 2; i < NOUT; i++)
				sum = sat_add(sum, o[i]);
			if (sum > prefix)
				report(CK_OUT, t, c, "counters add up to %llu pages, more than the %llu of the reported prefix",
				       (unsigned long long)sum,
				       (unsigned long long)prefix);
			if (!c->err && query && c->kind != K_VOLATILE &&
			    kinds[c->kind].cls == C_TMPFS && sum != total)
				report(CK_OUT, t, c, "QUERY counters add up to %llu pages of %llu",
				       (unsigned long long)sum,
				       (unsigned long long)total);
		}
	}
map:
	if (!c->sentinel || c->toctou == TT_WILD)
		return;
	if (!query || (p->known && (p->early || p->nocopy))) {
		for (uint64_t i = 0; i < c->sentinel; i++)
			if (map[i] != 0xEE) {
				report(CK_OUT, t, c, "map byte %llu written (%#x) by a call that must not write it",
				       (unsigned long long)i, map[i]);
				return;
			}
		return;
	}
	if (!exact_vec || !p->known)
		return;
	total = p->pages;
	uint64_t hist[6] = { 0 }, lim = min64(total, c->sentinel);

	for (uint64_t i = 0; i < lim; i++) {
		if (map[i] == 0xEE && (c->err || i >= c->mwritable))
			continue;
		if (map[i] > SHMEM_ZERO_PAGE_RESIDENT ||
		    (map[i] == SHMEM_ZERO_PAGE_RESIDENT && !c->flags) ||
		    (map[i] == SHMEM_ZERO_PAGE_ZERO && c->flags)) {
			report(CK_OUT, t, c, "map byte %llu is %#x",
			       (unsigned long long)i, map[i]);
			return;
		}
		hist[map[i]]++;
	}
	for (uint64_t i = total; i < c->sentinel; i++)
		if (map[i] != 0xEE) {
			report(CK_OUT, t, c, "map byte %llu written (%#x), past the vector's %llu pages",
			       (unsigned long long)i, map[i],
			       (unsigned long long)total);
			return;
		}
	if (!c->err && total <= c->sentinel && c->kind != K_VOLATILE &&
	    kinds[c->kind].cls == C_TMPFS &&
	    (hist[SHMEM_ZERO_PAGE_HOLE] != o[2] || hist[SHMEM_ZERO_PAGE_ZERO] != o[3] ||
	     hist[SHMEM_ZERO_PAGE_DATA] + hist[SHMEM_ZERO_PAGE_RESIDENT] != o[4] ||
	     hist[SHMEM_ZERO_PAGE_UNWRITTEN] != o[5] || hist[SHMEM_ZERO_PAGE_SWAP] != o[6]))
		report(CK_OUT, t, c, "map classes (hole %llu zero %llu data %llu unwritten %llu swap %llu resident %llu) do not match the counters",
		       (unsigned long long)hist[0], (unsigned long long)hist[1],
		       (unsigned long long)hist[2], (unsigned long long)hist[4],
		       (unsigned long long)hist[3], (unsigned long long)hist[5]);
}

/* ------------------------------------------------------------------ */
/* The shadow file                                                      */
/* ------------------------------------------------------------------ */

/*
 * Page states.  S_UNK: a hole, or sh.alt[] (S_RES with zero content, or
 * S_UNW): what a call may or may not have removed.  Pages past EOF are
 * only ever holes or S_UNW (fallocate(FALLOC_FL_KEEP_SIZE)).
 */
enum { S_HOLE, S_RES, S_UNW, S_UNK };

static struct {
	pthread_mutex_t lock;
	int fd, ro, wo, path;	/* fixed numbers, never handed to chaos */
	uint64_t eof;		/* pages */
	uint64_t tag[SH_NPG];	/* content: page_fill(tag); 0: zeros */
	uint8_t st[SH_NPG], alt[SH_NPG];
	uint64_t next_tag;
	uint64_t why[SH_NPG];	/* what last set the state, for reports */
	bool umap_on;		/* pages [ua, ub) mapped, uffd MISSING */
	uint64_t ua, ub;
	uint8_t *umap_area;	/* SH_NPG pages reserved for that mapping */
	bool loose;		/* THP or swap: contents only */
	uint64_t fulls;
} sh = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Output field indices (outs()). */
enum {
	O_RD, O_BD, O_HOLE, O_ZERO, O_DATA, O_UNW, O_SWAP, O_FREED, O_ZEROED,
	O_PINNED, O_BUSY
};

#define OB(x)	(1U << (x))
#define CB(x)	(1U << (x))	/* a map class */

static void sh_bounds(const uint8_t *st, uint64_t *lo, uint64_t *hi)
{
	*lo = *hi = 0;
	for (int p = 0; p < SH_NPG; p++) {
		if (st[p] == S_RES || st[p] == S_UNW)
			*lo += PG / 512;
		if (st[p] != S_HOLE)
			*hi += PG / 512;
	}
}

/* History of a page's state, for reports: what set it, in which call. */
enum {
	H_INIT = 1, H_WRITE, H_PUNCH, H_FALLOC, H_TRUNC, H_RESOLVE, H_CALL,
	H_BLOCKS, H_MAP, H_RECLAIM, H_REBUILD
};

static const char *const h_name[] = {
	"?", "init", "write", "punch", "fallocate", "truncate", "resolve",
	"call", "st_blocks", "map", "reclaim counters", "rebuild",
};

static void hist(uint64_t p, int what, uint64_t seq)
{
	sh.why[p] = seq << 8 | what;
}

static uint64_t sh_unk(void)
{
	uint64_t n = 0;

	for (int p = 0; p < SH_NPG; p++)
		n += sh.st[p] == S_UNK;
	return n;
}

/* The QUERY classes a page in state @st may show. */
static unsigned int sh_classes(uint64_t p, uint8_t st, uint8_t alt,
			       uint64_t tag, bool noread, uint64_t eof)
{
	unsigned int m = 0;

	if (p >= eof)
		return CB(SHMEM_ZERO_PAGE_HOLE);
	if (st == S_UNK) {
		m = CB(SHMEM_ZERO_PAGE_HOLE);
		st = alt;
	}
	if (st == S_HOLE)
		return m | CB(SHMEM_ZERO_PAGE_HOLE);
	if (st == S_UNW)
		return m | CB(SHMEM_ZERO_PAGE_UNWRITTEN);
	if (noread)
		return m | CB(SHMEM_ZERO_PAGE_RESIDENT);
	return m | (tag ? CB(SHMEM_ZERO_PAGE_DATA) : CB(SHMEM_ZERO_PAGE_ZERO));
}

/*
 * A page-by-page simulation of a call on the shadow model: what each page
 * it visits becomes and which counters it may add to, as bounds.
 */
struct sim {
	uint64_t lo[NOUT], hi[NOUT], sum_lo, sum_hi;
	uint8_t st[SH_NPG], alt[SH_NPG], vis[SH_NPG], made_unk[SH_NPG];
	uint64_t tag[SH_NPG];
	uint8_t *mask;		/* QUERY: allowed classes per map byte */
	uint16_t *mpage;	/* and the page it is for (0xffff: none) */
	uint64_t mpos, mcap;
	bool uffd_hit;		/* DISCARD removed an entry under sh.umap */
};

static void sim_init(struct sim *s, struct tctx *t)
{
	memset(s->lo, 0, sizeof(s->lo));
	memset(s->hi, 0, sizeof(s->hi));
	s->sum_lo = 0;
	s->sum_hi = 0;
	memcpy(s->st, sh.st, sizeof(s->st));
	memcpy(s->alt, sh.alt, sizeof(s->alt));
	memcpy(s->tag, sh.tag, sizeof(s->tag));
	memset(s->vis, 0, sizeof(s->vis));
	memset(s->made_unk, 0, sizeof(s->made_unk));
	s->mask = t->mask;
	s->mpage = (uint16_t *)(t->mask + MASK_MAX);
	s->mpos = 0;
	s->mcap = MASK_MAX;
	s->uffd_hit = false;
}

static void sim_count(struct sim *s, unsigned int set, bool may_none, uint64_t n)
{
	bool one = __builtin_popcount(set) == 1 && !may_none;

	for (int i = 0; i < NOUT; i++) {
		if (!(set & OB(i)))
			continue;
		if (one)
			s->lo[i] += n;
		s->hi[i] += n;
	}
	if (!may_none)
		s->sum_lo += n;
	s->sum_hi += n;
}

static void sim_page(struct sim *s, uint32_t mode, bool noread, uint64_t p)
{
	uint8_t x = s->st[p], a = s->alt[p];
	bool in = p < sh.eof, none = false;
	unsigned int set = 0;

	switch (mode) {
	case SHMEM_ZERO_MODE_QUERY:
		if (s->mpos < s->mcap) {
			s->mask[s->mpos] = sh_classes(p, x, a, s->tag[p], noread,
						      sh.eof);
			s->mpage[s->mpos] = p;
		}
		s->mpos++;
		if (!in)
			set = OB(O_HOLE);
		else if (x == S_HOLE)
			set = OB(O_HOLE);
		else if (x == S_UNW)
			set = OB(O_UNW);
		else if (x == S_RES)
			set = noread || s->tag[p] ? OB(O_DATA) : OB(O_ZERO);
		else
			set = OB(O_HOLE) | (a == S_UNW ? OB(O_UNW) :
					    noread ? OB(O_DATA) : OB(O_ZERO));
		break;
	case SHMEM_ZERO_MODE_DISCARD:
		s->vis[p] = 1;
		if (x == S_HOLE) {
			if (!in)
				return;
			set = OB(O_HOLE);
		} else if (x == S_UNK) {
			set = OB(O_FREED) | (in ? OB(O_HOLE) : 0);
			none = !in;
		} else {
			set = OB(O_FREED);
			if (sh.umap_on && p >= sh.ua && p < sh.ub)
				s->uffd_hit = true;
		}
		s->st[p] = S_HOLE;
		s->tag[p] = 0;
		break;
	case SHMEM_ZERO_MODE_RECLAIM:
		if (!in)
			return;
		s->vis[p] = 1;
		if (x == S_HOLE) {
			set = OB(O_HOLE);
		} else if (x == S_UNW) {
			set = OB(O_UNW);
		} else if (x == S_RES && s->tag[p]) {
			set = OB(O_DATA);
		} else if (x == S_RES) {
			set = OB(O_FREED) | OB(O_BUSY);
			s->st[p] = S_UNK;
			s->alt[p] = S_RES;
			s->made_unk[p] = 1;
		} else {
			set = OB(O_HOLE) | (a == S_UNW ? OB(O_UNW) :
					    OB(O_FREED) | OB(O_BUSY));
		}
		break;
	default:	/* ZERO_IN_PLACE */
		if (!in)
			return;
		s->vis[p] = 1;
		if (x == S_HOLE) {
			set = OB(O_HOLE);
		} else if (x == S_UNW) {
			set = OB(O_UNW);
		} else if (x == S_RES && s->tag[p]) {
			set = OB(O_ZEROED);
			s->tag[p] = 0;
		} else if (x == S_RES) {
			set = OB(O_ZERO);
		} else {
			set = OB(O_HOLE) | (a == S_UNW ? OB(O_UNW) : OB(O_ZERO));
		}
		break;
	}
	sim_count(s, set, none, 1);
}

/* One range, or the done head of one: the pages past the model are holes. */
static void sim_piece(struct sim *s, uint32_t mode, bool noread, uint64_t off,
		      uint64_t len)
{
	uint64_t first = off / PG, n = len / PG, in = 0;

	if (first < SH_NPG) {
		in = min64(n, SH_NPG - first);
		for (uint64_t p = first; p < first + in; p++)
			sim_page(s, mode, noread, p);
	}
	if (mode != SHMEM_ZERO_MODE_QUERY || n == in)
		return;
	n -= in;
	sim_count(s, OB(O_HOLE), false, n);
	in = s->mpos < s->mcap ? min64(n, s->mcap - s->mpos) : 0;
	for (uint64_t i = 0; i < in; i++) {
		s->mask[s->mpos] = CB(SHMEM_ZERO_PAGE_HOLE);
		s->mpage[s->mpos++] = 0xffff;
	}
	s->mpos = sat_add(s->mpos, n - in);
}

static void mark(uint8_t *set, const struct shmem_zero_range *r, uint64_t len)
{
	uint64_t first = r->offset / PG, n = len / PG;

	for (uint64_t p = first; p < SH_NPG && p < first + n; p++)
		set[p] = 1;
}

/* Build a model file in @fd; unknown pages become holes. */
static bool sh_write_model(struct tctx *t, int fd)
{
	if (xftruncate(fd, 0) || xftruncate(fd, sh.eof * PG))
		return false;
	for (uint64_t p = 0; p < SH_NPG; p++) {
		if (sh.st[p] == S_UNK || (p >= sh.eof && sh.st[p] == S_RES)) {
			sh.st[p] = S_HOLE;
			sh.tag[p] = 0;
			hist(p, H_REBUILD, 0);
		}
		if (sh.st[p] == S_RES) {
			page_fill(t->pagebuf, sh.tag[p]);
			if (!xpwrite(fd, t->pagebuf, PG, p * PG))
				return false;
		} else if (sh.st[p] == S_UNW) {
			if (xfallocate(fd, FALLOC_FL_KEEP_SIZE, p * PG, PG))
				return false;
		}
	}
	return true;
}

static void umap_off(void)
{
	if (!sh.umap_on)
		return;
	if (mmap(sh.umap_area, SH_NPG * PG, PROT_NONE, MAP_PRIVATE |
		 MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		ksft_exit_fail_msg("umap: %s\n", strerror(errno));
	sh.umap_on = false;
}

/*
 * A mapping (through the O_RDONLY fd: not a writable mapping, so it does
 * not stop F_SEAL_WRITE) of pages [ua, ub), registered for missing faults:
 * DISCARD must stop with EBUSY before it removes a page there.  Never
 * touched.
 */
static void umap_on(uint64_t *s)
{
	struct uffdio_register reg;
	void *p;

	if (uffd < 0 || sh.umap_on)
		return;
	sh.ua = pick(s, SH_NPG - 1);
	sh.ub = sh.ua + 1 + pick(s, min64(16, SH_NPG - sh.ua));
	p = mmap(sh.umap_area + sh.ua * PG, (sh.ub - sh.ua) * PG, PROT_READ,
		 MAP_SHARED | MAP_FIXED, sh.ro, sh.ua * PG);
	if (p == MAP_FAILED)
		ksft_exit_fail_msg("umap mmap: %s\n", strerror(errno));
	sh.umap_on = true;
	reg.range.start = (uintptr_t)p;
	reg.range.len = (sh.ub - sh.ua) * PG;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		umap_off();
}

static int dup_at(int fd, int num)
{
	if (dup3(fd, num, O_CLOEXEC) != num)
		ksft_exit_fail_msg("dup3 %d: %s\n", num, strerror(errno));
	return num;
}

static void sh_reopen(void)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", sh.fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	dup_at(fd, sh.ro);
	close(fd);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	dup_at(fd, sh.wo);
	close(fd);
	fd = open(path, O_PATH | O_CLOEXEC);
	dup_at(fd, sh.path);
	close(fd);
}

/* A new memfd written from the model, at the same fd numbers. */
static void sh_rebuild(struct tctx *t)
{
	int fd = memfd_create("szf-shadow", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || !sh_write_model(t, fd))
		ksft_exit_fail_msg("shadow rebuild: %s\n", strerror(errno));
	umap_off();
	dup_at(fd, sh.fd);
	close(fd);
	sh_reopen();
	inc(st_sh_rebuilds);
}

/*
 * A QUERY of every modelled page, checked against the model; it tells the
 * unknown pages apart.
 */
static void sh_resolve(struct tctx *t)
{
	struct shmem_zero_range r = { 0, SH_NPG * PG };
	struct shmem_zero_args a;
	uint8_t *map = t->map_area;
	int bad = 0;

	if (sh.loose)		/* large folios: the classes are not modelled */
		return;
	args_init(&a, sh.fd, SHMEM_ZERO_MODE_QUERY, &r, 1);
	a.map = (uintptr_t)map;
	a.map_len = SH_NPG;
	inc(st_sh_resolves);
	inc(ck_checks[CK_MODEL]);
	if (ioctl(dev, SHMEM_ZERO_IOC_RANGES, &a)) {
		report(CK_MODEL, t, NULL, "QUERY of the whole shadow file: %s",
		       ename(errno));
		return;
	}
	for (uint64_t p = 0; p < SH_NPG; p++) {
		unsigned int m = sh_classes(p, sh.st[p], sh.alt[p], sh.tag[p],
					    false, sh.eof);

		if (map[p] > 5 || !(m & CB(map[p]))) {
			if (!bad++)
				report(CK_MODEL, t, NULL, "QUERY map of the shadow file: page %llu is %u, the model has state %u (alt %u) tag %#llx, set by %s %llu (EOF %llu)",
				       (unsigned long long)p, map[p], sh.st[p],
				       sh.alt[p], (unsigned long long)sh.tag[p],
				       h_name[sh.why[p] & 0xff],
				       (unsigned long long)(sh.why[p] >> 8),
				       (unsigned long long)sh.eof);
			continue;
		}
		if (sh.st[p] == S_UNK && p < sh.eof) {
			sh.st[p] = map[p] == SHMEM_ZERO_PAGE_HOLE ? S_HOLE :
				   map[p] == SHMEM_ZERO_PAGE_UNWRITTEN ? S_UNW : S_RES;
			hist(p, H_RESOLVE, t->seq);
		}
	}
	if (bad)
		sh_rebuild(t);
}

/* A few changes to the shadow file, through the model. */
static void sh_reseed(struct tctx *t)
{
	uint64_t *s = &t->rng, a, n, p;
	bool ok = true;

	for (int ops = 1 + pick(s, 4); ops > 0 && ok; ops--) {
		a = pick(s, SH_NPG);
		n = 1 + pick(s, min64(16, SH_NPG - a));
		switch (pick(s, 9)) {
		case 0:
		case 1:
		case 2:		/* data, or zeros, written */
			if (a >= sh.eof)
				break;
			n = min64(n, sh.eof - a);
			for (p = a; p < a + n; p++) {
				sh.st[p] = S_RES;
				sh.tag[p] = pick(s, 4) ? ++sh.next_tag : 0;
				hist(p, H_WRITE, t->seq);
				page_fill(t->pagebuf + (p - a) * PG, sh.tag[p]);
			}
			ok = xpwrite(sh.fd, t->pagebuf, n * PG, a * PG);
			break;
		case 3:		/* punched */
			ok = !xfallocate(sh.fd, FALLOC_FL_PUNCH_HOLE |
					 FALLOC_FL_KEEP_SIZE, a * PG, n * PG);
			for (p = a; p < a + n; p++) {
				sh.st[p] = S_HOLE;
				sh.tag[p] = 0;
				hist(p, H_PUNCH, t->seq);
			}
			break;
		case 4:
			/*
			 * fallocated: holes become unwritten; pages an earlier
			 * fallocate left unwritten are cleared and so become
			 * resident zero (shmem_get_folio_gfp(), SGP_FALLOC).
			 */
			for (p = a; p < a + n; p++)
				if (sh.st[p] == S_UNK)
					break;
			if (p < a + n)
				break;
			ok = !xfallocate(sh.fd, a + n > sh.eof ? FALLOC_FL_KEEP_SIZE : 0,
					 a * PG, n * PG);
			for (p = a; p < a + n; p++) {
				if (sh.st[p] == S_RES)
					continue;
				sh.st[p] = sh.st[p] == S_UNW ? S_RES : S_UNW;
				hist(p, H_FALLOC, t->seq);
			}
			break;
		case 5:		/* truncated: everything past the new EOF goes */
			n = SH_MIN + pick(s, SH_MAX - SH_MIN + 1);
			ok = !xftruncate(sh.fd, n * PG);
			/* also at the same size: blocks past EOF go */
			for (p = n; p < SH_NPG && n <= sh.eof; p++) {
				sh.st[p] = S_HOLE;
				sh.tag[p] = 0;
				hist(p, H_TRUNC, t->seq);
			}
			sh.eof = n;
			break;
		case 6:
			if (sh.umap_on)
				umap_off();
			else
				umap_on(s);
			break;
		default:
			sh_resolve(t);
			break;
		}
		if (opt_debug & 1)
			sh_resolve(t);
	}
	if (!ok) {
		report(CK_MODEL, t, NULL, "changing the shadow file: %s",
		       strerror(errno));
		sh_rebuild(t);
	}
}

static void sh_init(struct tctx *t)
{
	uint64_t *s = &t->rng;

	sh.umap_area = reserve((SH_NPG + 1) * PG);
	sh.fd = 600;
	sh.ro = 601;
	sh.wo = 602;
	sh.path = 603;
	sh.eof = SH_MIN + pick(s, SH_MAX - SH_MIN + 1);
	for (uint64_t p = 0; p < SH_NPG; p++) {
		uint64_t r = pick(s, 100);

		sh.st[p] = S_HOLE;
		if (p >= sh.eof) {
			if (r < 30)
				sh.st[p] = S_UNW;
		} else if (r < 40) {
			sh.st[p] = S_RES;
			sh.tag[p] = ++sh.next_tag;
		} else if (r < 55) {
			sh.st[p] = S_RES;
		} else if (r < 65) {
			sh.st[p] = S_UNW;
		}
		hist(p, H_INIT, 0);
	}
	sh_rebuild(t);
	kinds[K_SHADOW].fd = sh.fd;
	kinds[K_SHADOW_RO].fd = sh.ro;
	kinds[K_SHADOW_WO].fd = sh.wo;
	kinds[K_SHADOW_PATH].fd = sh.path;
	kinds[K_SHADOW].pages = SH_NPG;
	sh.loose = thp_possible || swap_on;
}

static bool is_shadow_fd(int fd)
{
	return fd >= 600 && fd <= 603;
}

/*
 * After a call on the shadow file: read it back and hold it against the
 * model.  A failed call may have changed only its reported prefix, a
 * successful one all of its vector, each as its mode does (DISCARD and
 * ZERO_IN_PLACE zero pages, RECLAIM and QUERY change no content); pages
 * outside read back their old content.  Without concurrent rewrites of the
 * vector, a simulation of the prefix gives the contents exactly, bounds
 * for st_blocks and every counter, and the QUERY map's classes.
 */
static void sh_check(struct tctx *t, struct call *c, const struct pred *p)
{
	static __thread struct sim sim;
	static __thread uint8_t S[SH_NPG], M[SH_NPG];
	const uint64_t *o = c->out;
	uint32_t mode = c->mode;
	bool ok = !c->err, noread = c->flags & SHMEM_ZERO_QUERY_NOREAD;
	bool changes = mode == SHMEM_ZERO_MODE_DISCARD ||
		       mode == SHMEM_ZERO_MODE_ZERO_IN_PLACE;
	bool outs_known = c->awritable && c->areadable >= VER1;
	bool exact = !sh.loose && c->toctou != TT_FLIP, conservative = false;
	int ck = ok ? CK_MODEL : CK_NOCHANGE, bad = 0;
	uint64_t d = 0, head = 0, lo, hi, blocks_now, sum = 0;
	struct stat stb;

	inc(st_sh_calls);
	if (!ok)
		inc(st_sh_failed);
	inc(ck_checks[ck]);
	if (mode > SHMEM_ZERO_MODE_ZERO_IN_PLACE) {
		if (ok)
			report(ck, t, c, "an invalid mode succeeded");
		mode = SHMEM_ZERO_MODE_QUERY;	/* nothing may change */
	}
	if (p->known && (p->nocopy || (!outs_known && p->early))) {
		d = 0;		/* nothing ran */
	} else if (outs_known && !ok && o[O_RD] == GARBAGE && o[O_BD] == GARBAGE) {
		d = 0;		/* not written back: failed before it ran */
	} else if (!outs_known) {
		conservative = true;
	} else {
		uint64_t bytes = 0;

		d = o[O_RD];
		if (d > c->nr || (ok && d != c->nr) || d > c->kv_n) {
			report(ck, t, c, "ranges_done %llu of %llu (%llu readable)",
			       (unsigned long long)d, (unsigned long long)c->nr,
			       (unsigned long long)c->kv_n);
			conservative = true;
		} else if (c->len_varies) {
			conservative = true;	/* QUERY: no content changes */
		} else {
			for (uint64_t i = 0; i < d; i++)
				bytes += c->kv[i].length;
			head = o[O_BD] - bytes;
			if (head % PG || (head && (d == c->nr ||
						   head >= c->kv[d].length))) {
				report(ck, t, c, "bytes_done %#llx: a head of %#llx in range %llu",
				       (unsigned long long)o[O_BD],
				       (unsigned long long)head,
				       (unsigned long long)d);
				conservative = true;
			}
		}
	}
	if (conservative) {
		exact = false;
		d = c->kv_n;
		head = 0;
	}
	if (d || head)
		inc(st_sh_prefix);

	/* The prefix: simulated exactly, or marked as may/must change. */
	sim_init(&sim, t);
	memset(S, 0, sizeof(S));
	memset(M, 0, sizeof(M));
	for (uint64_t i = 0; i <= d && i < c->kv_n; i++) {
		const struct shmem_zero_range *r = &c->kv[i];
		uint64_t len = i < d ? r->length : head;

		if (c->toctou == TT_FLIP && i == c->tidx) {
			/*
			 * Which of its values the kernel applied is not known,
			 * nor, when their lengths differ, how much of it: each
			 * may have changed, whole (the copy read back may be a
			 * length 0 the kernel never applied).
			 */
			for (int k = 0; k < c->nalt; k++) {
				uint64_t l = c->len_varies || i < d ? c->alt[k].length : len;

				if (l && range_ok(&c->alt[k], PG))
					mark(S, &c->alt[k], l);
			}
			if (len)
				mark(S, r, len);
			continue;
		}
		if (!len)
			continue;
		if (exact) {
			sim_piece(&sim, mode, noread, r->offset, len);
			continue;
		}
		mark(S, r, len);
		if (!conservative)
			mark(M, r, len);
	}

	/* Contents. */
	if (!xpread(sh.fd, t->pagebuf, sh.eof * PG, 0) || fstat(sh.fd, &stb)) {
		report(ck, t, c, "reading the shadow file back: %s", strerror(errno));
		sh_rebuild(t);
		return;
	}
	sh.fulls++;
	for (uint64_t pg = 0; pg < sh.eof; pg++) {
		const uint8_t *b = t->pagebuf + pg * PG;
		bool same = page_is(b, sh.tag[pg]), zero = same && !sh.tag[pg];
		const char *why = NULL;

		if (!same && sh.tag[pg])
			zero = page_is(b, 0);
		if (exact) {
			if (!(sim.tag[pg] == sh.tag[pg] ? same : zero))
				why = !sim.vis[pg] ? "changed outside the done prefix" :
				      sim.tag[pg] ? "changed in the done prefix by a mode that keeps it" :
				      "not zero inside the done prefix";
		} else if (!S[pg]) {
			if (!same)
				why = "changed outside the done prefix";
		} else if (changes && M[pg]) {
			if (!zero)
				why = "not zero inside the done prefix";
		} else if (changes) {
			if (!same && !zero)
				why = "neither its old content nor zero";
		} else if (!same) {
			why = "changed by a mode that changes no content";
		}
		if (!why)
			continue;
		if (bad++ < 4)
			report(ck, t, c, "shadow page %llu %s: model state %u tag %#llx (set by %s %llu), reads %#llx%s (EOF %llu pages)",
			       (unsigned long long)pg, why, sh.st[pg],
			       (unsigned long long)sh.tag[pg],
			       h_name[sh.why[pg] & 0xff],
			       (unsigned long long)(sh.why[pg] >> 8),
			       (unsigned long long)*(const uint64_t *)b,
			       zero ? " (zero)" : "", (unsigned long long)sh.eof);
	}

	/* The new model. */
	if (exact) {
		for (int pg = 0; pg < SH_NPG; pg++)
			if (sim.st[pg] != sh.st[pg] || sim.tag[pg] != sh.tag[pg])
				hist(pg, H_CALL, c->seq << 4 | mode);
		memcpy(sh.st, sim.st, sizeof(sh.st));
		memcpy(sh.alt, sim.alt, sizeof(sh.alt));
		memcpy(sh.tag, sim.tag, sizeof(sh.tag));
	} else {
		for (uint64_t pg = 0; pg < SH_NPG; pg++) {
			bool zero = pg < sh.eof && page_is(t->pagebuf + pg * PG, 0);

			if (!S[pg])
				continue;
			hist(pg, H_CALL, c->seq << 4 | mode);
			if (mode == SHMEM_ZERO_MODE_DISCARD) {
				if (M[pg] || (zero && sh.tag[pg])) {
					sh.st[pg] = S_HOLE;
					sh.tag[pg] = 0;
				} else if ((sh.st[pg] == S_RES && !sh.tag[pg]) ||
					   sh.st[pg] == S_UNW) {
					sh.alt[pg] = pg < sh.eof ? sh.st[pg] : S_UNW;
					sh.st[pg] = S_UNK;
				}
			} else if (mode == SHMEM_ZERO_MODE_ZERO_IN_PLACE) {
				if (zero)
					sh.tag[pg] = 0;
			} else if (mode == SHMEM_ZERO_MODE_RECLAIM) {
				if (pg < sh.eof && sh.st[pg] == S_RES && !sh.tag[pg]) {
					sh.st[pg] = S_UNK;
					sh.alt[pg] = S_RES;
				}
			}
		}
	}
	if (bad) {
		sh_rebuild(t);
		return;
	}
	if (sh.loose)
		return;

	/* Counters, the map, and the userfaultfd rule, from the simulation. */
	if (exact && outs_known && !(p->known && p->nocopy)) {
		int nf = c->size >= VER1 ? NOUT : O_PINNED;

		for (int i = nf; i < NOUT; i++)
			sim.sum_lo -= min64(sim.sum_lo, sim.hi[i]);
		for (int i = O_HOLE; i < nf; i++)
			sum += o[i];
		for (int i = O_HOLE; i < nf; i++) {
			if (o[i] < sim.lo[i] || o[i] > sim.hi[i]) {
				report(ck, t, c, "output field %d is %llu, the model allows [%llu, %llu]",
				       i, (unsigned long long)o[i],
				       (unsigned long long)sim.lo[i],
				       (unsigned long long)sim.hi[i]);
				break;
			}
		}
		if (sum < sim.sum_lo || sum > sim.sum_hi)
			report(ck, t, c, "counters add up to %llu, the model allows [%llu, %llu]",
			       (unsigned long long)sum,
			       (unsigned long long)sim.sum_lo,
			       (unsigned long long)sim.sum_hi);
		if (mode == SHMEM_ZERO_MODE_RECLAIM && !o[O_FREED]) {
			for (int pg = 0; pg < SH_NPG; pg++)
				if (sim.made_unk[pg]) {
					sh.st[pg] = S_RES;
					hist(pg, H_RECLAIM, c->seq);
				}
		} else if (mode == SHMEM_ZERO_MODE_RECLAIM && !o[O_BUSY] &&
			   !o[O_PINNED]) {
			for (int pg = 0; pg < SH_NPG; pg++)
				if (sim.vis[pg] && sh.st[pg] == S_UNK &&
				    sh.alt[pg] == S_RES) {
					sh.st[pg] = S_HOLE;
					hist(pg, H_RECLAIM, c->seq);
				}
		}
		if (mode == SHMEM_ZERO_MODE_DISCARD && sim.uffd_hit)
			report(CK_PRED, t, c, "DISCARD removed a page under a userfaultfd MISSING registration of pages [%llu, %llu) instead of failing with EBUSY",
			       (unsigned long long)sh.ua, (unsigned long long)sh.ub);
	}
	if (exact && c->err == EBUSY && d < c->kv_n) {
		const struct shmem_zero_range *r = &c->kv[d];
		uint64_t from = (r->offset + head) / PG, to = from + (r->length - head) / PG;

		if (!sh.umap_on || to <= sh.ua || from >= sh.ub)
			report(CK_PRED, t, c, "EBUSY, but the rest of range %llu (pages [%llu, %llu)) is not under the userfaultfd registration [%llu, %llu)%s",
			       (unsigned long long)d, (unsigned long long)from,
			       (unsigned long long)to, (unsigned long long)sh.ua,
			       (unsigned long long)sh.ub, sh.umap_on ? "" : " (none)");
	}
	if (exact && mode == SHMEM_ZERO_MODE_QUERY && c->sentinel &&
	    c->toctou == TT_NONE && !(p->known && p->nocopy)) {
		const uint8_t *map = (const uint8_t *)(uintptr_t)c->maddr;
		uint64_t n = min64(min64(sim.mpos, sim.mcap), c->sentinel);

		for (uint64_t i = 0; i < n; i++) {
			uint16_t pg = sim.mpage[i];

			if (map[i] > 5 || !(sim.mask[i] & CB(map[i]))) {
				report(ck, t, c, "map byte %llu (page %d) is %u, the model allows %#x (page set by %s %llu)",
				       (unsigned long long)i, pg == 0xffff ? -1 : pg,
				       map[i], sim.mask[i],
				       h_name[pg == 0xffff ? 0 : sh.why[pg] & 0xff],
				       (unsigned long long)(pg == 0xffff ? 0 : sh.why[pg] >> 8));
				break;
			}
			if (ok && pg != 0xffff && sh.st[pg] == S_UNK && pg < sh.eof) {
				sh.st[pg] = map[i] == SHMEM_ZERO_PAGE_HOLE ? S_HOLE :
					    map[i] == SHMEM_ZERO_PAGE_UNWRITTEN ? S_UNW : S_RES;
				hist(pg, H_MAP, c->seq);
			}
		}
	}

	/* st_blocks: within what the model allows; it may also tell UNK apart. */
	sh_bounds(sh.st, &lo, &hi);
	blocks_now = stb.st_blocks;
	if (blocks_now < lo || blocks_now > hi) {
		report(ck, t, c, "st_blocks %llu, the model allows [%llu, %llu]",
		       (unsigned long long)blocks_now, (unsigned long long)lo,
		       (unsigned long long)hi);
		sh_rebuild(t);
		return;
	}
	if (lo != hi && (blocks_now == lo || blocks_now == hi)) {
		for (int pg = 0; pg < SH_NPG; pg++)
			if (sh.st[pg] == S_UNK) {
				sh.st[pg] = blocks_now == lo ? S_HOLE : sh.alt[pg];
				hist(pg, H_BLOCKS, c->seq);
			}
	}
}

/* ------------------------------------------------------------------ */
/* TOCTOU: rewriting vectors and maps while the call runs               */
/* ------------------------------------------------------------------ */

static _Atomic uint32_t tj_gen;

static void tjob_publish(struct tctx *t, struct call *c)
{
	struct tjob *j = &t->job;
	uint64_t t0;

	if (c->toctou == TT_NONE)
		return;
	inc(st_toctou);
	atomic_store(&j->bursts, 0);
	atomic_store(&j->state, TJ_READY);
	atomic_fetch_add(&tj_gen, 1);
	futex(&tj_gen, FUTEX_WAKE_PRIVATE, 1, NULL);
	if (c->toctou == TT_SEAL)
		return;
	/* let the rewriting start first: a race won more often than not */
	t0 = now_ns();
	while (!atomic_load(&j->bursts) && now_ns() - t0 < 2000000)
		sched_yield();
}

static void tjob_retract(struct tctx *t, struct call *c)
{
	struct tjob *j = &t->job;
	int exp;

	if (c->toctou == TT_NONE)
		return;
	for (;;) {
		exp = TJ_READY;
		if (atomic_compare_exchange_strong(&j->state, &exp, TJ_IDLE))
			break;
		sched_yield();
	}
}

/* Stores the racing ioctl reads: not torn, not merged away. */
static void set_range(struct shmem_zero_range *v, const struct shmem_zero_range *r)
{
	__atomic_store_n(&v->offset, r->offset, __ATOMIC_RELAXED);
	__atomic_store_n(&v->length, r->length, __ATOMIC_RELAXED);
}

static void toggle_prot(struct tjob *j)
{
	mprotect(j->prot, j->prot_len, PROT_NONE);
	sched_yield();
	mprotect(j->prot, j->prot_len, PROT_READ | PROT_WRITE);
}

static void burst(struct tjob *j, uint64_t *s)
{
	struct shmem_zero_range r;
	uint64_t i;

	switch (j->type) {
	case TT_FLIP:
		for (int k = 0; k < 64; k++)
			set_range(&j->vec[j->idx], &j->alt[pick(s, j->nalt)]);
		break;
	case TT_PROT:
		toggle_prot(j);
		break;
	case TT_SEAL:
		if (j->sealed)
			break;
		j->sealed = true;
		sleep_us(pick(s, 2000));
		if (!fcntl(j->seal_fd, F_ADD_SEALS,
			   pick(s, 2) ? F_SEAL_WRITE : F_SEAL_FUTURE_WRITE))
			inc(st_seals);
		break;
	default:	/* TT_WILD */
		switch (pick(s, 4)) {
		case 0:
			for (int k = 0; j->nr && k < 16; k++) {
				if (pick(s, 2))
					gen_good(s, 256, 1, true, &r);
				else
					gen_bad(s, &r);
				set_range(&j->vec[pick(s, j->nr)], &r);
			}
			break;
		case 1:
			for (int k = 0; j->map_len && k < 64; k++)
				__atomic_store_n(&j->map[pick(s, j->map_len)],
						 (uint8_t)rnd(s), __ATOMIC_RELAXED);
			break;
		case 2:
			if (j->nr) {
				i = pick(s, j->nr);
				r = j->vec[i];
				r.length += PG << pick(s, 40);
				set_range(&j->vec[i], &r);
			}
			break;
		default:
			if (j->prot)
				toggle_prot(j);
			break;
		}
		break;
	}
}

static void *toctou_main(void *arg)
{
	uint64_t s = opt_seed ^ 0x70C70Cull;

	(void)arg;
	while (!atomic_load(&stop_all)) {
		uint32_t gen = atomic_load(&tj_gen);
		bool any = false;

		for (int i = 0; i < opt_threads; i++) {
			struct tjob *j = &thr[i]->job;
			int exp = TJ_READY;

			/* a bounded number of bursts per call: CPU is scarce */
			if (atomic_load(&j->bursts) >= (j->type == TT_FLIP ? 64 : 8) ||
			    !atomic_compare_exchange_strong(&j->state, &exp, TJ_BUSY))
				continue;
			any = true;
			burst(j, &s);
			inc(st_bursts);
			atomic_fetch_add(&j->bursts, 1);
			atomic_store(&j->state, TJ_READY);
		}
		if (!any) {
			struct timespec ts = { 0, 20000000 };

			futex(&tj_gen, FUTEX_WAIT_PRIVATE, gen, &ts);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The calls                                                            */
/* ------------------------------------------------------------------ */

static uint32_t pick_mode(uint64_t *s, const unsigned int w[4])
{
	uint64_t r = pick(s, 1000);

	if (r < 20)
		return pick(s, 2) ? 4 + pick(s, 8) : (uint32_t)rnd(s);
	r = pick(s, w[0] + w[1] + w[2] + w[3]);
	for (uint32_t m = 0; m < 4; m++) {
		if (r < w[m])
			return m;
		r -= w[m];
	}
	return 0;
}

static uint32_t pick_flags(uint64_t *s, uint32_t mode)
{
	uint64_t r = pick(s, 1000);

	if (r < 920)
		return mode == SHMEM_ZERO_MODE_QUERY && pick(s, 3) == 0 ?
		       SHMEM_ZERO_QUERY_NOREAD : 0;
	if (r < 970)
		return SHMEM_ZERO_QUERY_NOREAD;
	return pick(s, 2) ? 1U << pick(s, 32) : (uint32_t)rnd(s);
}

static unsigned long pick_cmd(uint64_t *s)
{
	/* the size field is not compared */
	if (chance(s, 950))
		return SHMEM_ZERO_IOC_RANGES;
	return _IOC(_IOC_READ | _IOC_WRITE, SHMEM_ZERO_IOC_MAGIC, 0x01,
		    pick(s, 1 << _IOC_SIZEBITS));
}

/*
 * The huge template: one call at a time, at most one in 10 s, and at most
 * a tenth of the time: the next starts 10 times the last one's duration
 * after it started.  (A call took 1.2 s on Debian's kernels in the VM and
 * up to 30 s on a debug kernel, where back to back they kept one of the
 * two fuzzing threads busy.)
 */
static bool template_ok(void)
{
	bool exp = false;
	uint64_t now = now_ns();

	if (now < atomic_load(&tmpl_next_ns))
		return false;
	if (!atomic_compare_exchange_strong(&tmpl_busy, &exp, true))
		return false;
	atomic_store(&tmpl_start_ns, now);
	return true;
}

static void template_done(struct tctx *t, struct call *c)
{
	uint64_t start = atomic_load(&tmpl_start_ns), took;

	if (c->vplace != P_TEMPLATE)
		return;
	took = now_ns() - start;
	inc(st_template);
	if (!c->err)
		inc(st_template_ok);
	atomic_store(&t->no_signal, false);
	atomic_store(&tmpl_next_ns, start + 10 * (took < TMPL_MIN_NS ? TMPL_MIN_NS : took));
	atomic_store(&tmpl_busy, false);
}

/* Vector (and its page count), map, args and TOCTOU job of a call. */
static void build(struct tctx *t, struct call *c, uint64_t pages, uint64_t al,
		  bool shadow)
{
	uint64_t *s = &t->rng, vpages;
	bool tail_nonzero, bad = chance(s, 150);
	int vp;

	c->nr = gen_nr(s, shadow);
	if (c->nr > INTENT_MAX && c->nr <= MAXR && template_ok()) {
		vp = P_TEMPLATE;
		c->no_signal = chance(s, 500);
		atomic_store(&t->no_signal, c->no_signal);
	} else {
		vp = c->nr > INTENT_MAX && c->nr <= MAXR ? P_RW :
		     pick_vplace(s, shadow);
	}
	if (vp != P_TEMPLATE)
		gen_vector(t, c->nr, pages, al, bad);
	place_vector(t, c, vp);
	vpages = c->kv_n == c->nr ? vec_pages(c->kv, c->kv_n) : UNKNOWN;
	place_map(t, c, vp == P_TEMPLATE && pick(s, 4) ? P_NULL :
		  pick_mplace(s, c->vplace, shadow), vpages);
	c->size = pick_size(s, &tail_nonzero);
	c->aplace = pick_aplace(s, !shadow && c->vplace != P_RO &&
				c->mplace != P_RO);
	place_args(t, c, tail_nonzero);
}

static void setup_flip(struct tctx *t, struct call *c)
{
	uint64_t *s = &t->rng;
	struct shmem_zero_range *a = c->alt, r;

	c->tidx = pick(s, c->kv_n);
	r = c->kv[c->tidx];
	a[0] = r;
	c->nalt = 1;
	if (range_ok(&r, PG)) {
		a[1] = r;
		a[1].offset = pick(s, SH_NPG) * PG;
		a[2] = r;
		if (pick(s, 2))
			a[2].offset += 1 + pick(s, PG - 1);
		else
			a[2].length = 0;
		c->nalt = 3;
		if (c->mode == SHMEM_ZERO_MODE_QUERY && r.length < (1ULL << 50)) {
			a[3] = r;
			a[3].length += (1 + pick(s, 64)) * PG;
			c->nalt = 4;
			c->len_varies = true;
		}
	} else {
		a[1].offset = pick(s, SH_NPG) * PG;
		a[1].length = PG;
		c->nalt = 2;
		c->len_varies = true;
	}
}

/* Does a range of the call reach the shadow's userfaultfd mapping? */
static bool reaches_umap(const struct call *c)
{
	if (!sh.umap_on)
		return false;
	for (uint64_t i = 0; i < c->kv_n; i++) {
		uint64_t a = c->kv[i].offset / PG, n = c->kv[i].length / PG;

		if (a < sh.ub && a + n > sh.ua)
			return true;
	}
	return c->kv_n < c->nr;
}

static void structured_call(struct tctx *t);

static const unsigned int w_shadow[4] = { 35, 25, 20, 20 };
static const unsigned int w_struct[4] = { 25, 25, 25, 25 };

static void shadow_call(struct tctx *t)
{
	uint64_t *s = &t->rng, r;
	struct call c;
	struct pred p;
	struct tjob *j = &t->job;
	int seals;

	if (pthread_mutex_trylock(&sh.lock)) {
		structured_call(t);
		return;
	}
	block_usr1(true);
	if (chance(s, 80) || (sh_unk() > 8 && chance(s, 300)))
		sh_reseed(t);
	block_usr1(false);

	memset(&c, 0, sizeof(c));
	c.cf = -1;
	c.cls = CL_SHADOW;
	r = pick(s, 100);
	c.kind = r < 85 ? K_SHADOW : r < 90 ? K_SHADOW_RO :
		 r < 95 ? K_SHADOW_WO : K_SHADOW_PATH;
	c.fd = kinds[c.kind].fd;
	c.mode = pick_mode(s, w_shadow);
	c.flags = pick_flags(s, c.mode);
	c.cmd = pick_cmd(s);
	build(t, &c, SH_NPG, 1, true);

	/* TOCTOU limited to what the check can follow */
	if (c.vplace == P_RW && c.nr && c.kv_n == c.nr && chance(s, 150)) {
		if (c.nr > CHUNK && c.vaddr % PG == 0 && chance(s, 300)) {
			c.toctou = TT_PROT;
			j->prot = (uint8_t *)(uintptr_t)c.vaddr +
				  (1 + pick(s, (c.nr - 1) / CHUNK)) * PG;
			j->prot_len = PG;
		} else if (c.mode != SHMEM_ZERO_MODE_QUERY && c.kind == K_SHADOW &&
			   chance(s, 100)) {
			c.toctou = TT_SEAL;
			j->seal_fd = sh.fd;
			j->sealed = false;
		} else {
			c.toctou = TT_FLIP;
			setup_flip(t, &c);
			j->vec = (struct shmem_zero_range *)(uintptr_t)c.vaddr;
			j->idx = c.tidx;
			memcpy(j->alt, c.alt, sizeof(j->alt));
			j->nalt = c.nalt;
		}
		j->type = c.toctou;
	}
	predict(&c, &kinds[c.kind], reaches_umap(&c) || c.toctou == TT_SEAL, &p);
	if (c.toctou == TT_FLIP && !p.nocopy)
		p.known = false;
	if (c.toctou == TT_SEAL || c.toctou == TT_PROT)
		p.allow |= EB(E_PERM) | EB(E_FAULT);

	tjob_publish(t, &c);
	do_ioctl(t, &c);
	tjob_retract(t, &c);
	template_done(t, &c);

	block_usr1(true);
	check_errno(t, &c, &p);
	if (c.toctou == TT_NONE)
		check_outputs(t, &c, &p);
	sh_check(t, &c, &p);
	seals = fcntl(sh.fd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
		sh_rebuild(t);
	if (opt_debug & 1)
		sh_resolve(t);
	block_usr1(false);
	pthread_mutex_unlock(&sh.lock);
}

static int pick_kind(uint64_t *s)
{
	static unsigned int total;
	unsigned int r;

	if (!total)
		for (int k = 0; k < K_NR; k++)
			total += kinds[k].weight;
	for (;;) {
		r = pick(s, total);
		for (int k = 0; k < K_NR; k++) {
			if (r >= kinds[k].weight) {
				r -= kinds[k].weight;
				continue;
			}
			if (kinds[k].special || kinds[k].fd >= 0)
				return k;
			break;
		}
	}
}

static int chaos_fd(uint64_t *s, int *cfi);
static bool cf_huge(int i);

static int special_fd(uint64_t *s, int kind, int *cfi)
{
	switch (kind) {
	case K_CHAOS:
		return chaos_fd(s, cfi);
	case K_CLOSED:
		return CLOSED_BASE + pick(s, 50);
	case K_NEG:
		return pick(s, 3) == 0 ? -1 : pick(s, 2) ? INT_MIN :
		       -(int)(1 + pick(s, INT_MAX));
	case K_BIGFD:
		return 1024 + pick(s, INT_MAX - 1024);
	default:
		return VOL_BASE + pick(s, NVOL);
	}
}

/* Put some data back into a stable file that calls keep emptying. */
static void refill(struct tctx *t, int kind)
{
	uint64_t *s = &t->rng, pages = kinds[kind].pages, a, n;
	int fd = kinds[kind].fd;

	if (kinds[kind].cls == C_HUGETLB) {
		xfallocate(fd, 0, pick(s, pages * PG / hp_size) * hp_size, hp_size);
		return;
	}
	if (kinds[kind].cls != C_TMPFS || !kinds[kind].w || kinds[kind].wsealed ||
	    kinds[kind].noch)
		return;
	a = pick(s, pages);
	n = 1 + pick(s, min64(16, pages - a));
	for (uint64_t i = 0; i < n; i++)
		page_fill(t->pagebuf + i * PG, pick(s, 4) ? 1 + pick(s, 1 << 20) : 0);
	xpwrite(fd, t->pagebuf, n * PG, a * PG);
}

static void structured_call(struct tctx *t)
{
	uint64_t *s = &t->rng, al = 1;
	struct call c;
	struct pred p;
	struct tjob *j = &t->job;
	const struct kind *k;

	memset(&c, 0, sizeof(c));
	c.cls = CL_STRUCT;
	c.kind = pick_kind(s);
	k = &kinds[c.kind];
	c.cf = -1;
	c.fd = k->special ? special_fd(s, c.kind, &c.cf) : k->fd;
	c.mode = pick_mode(s, w_struct);
	c.flags = pick_flags(s, c.mode);
	c.cmd = pick_cmd(s);
	if ((k->cls == C_HUGETLB || (c.cf >= 0 && cf_huge(c.cf))) &&
	    chance(s, 700))
		al = hp_size / PG;
	if (!k->special && chance(s, 30)) {
		block_usr1(true);
		refill(t, c.kind);
		block_usr1(false);
	}
	build(t, &c, k->pages ? k->pages : CF_MAX_PAGES / 4, al, false);

	if (chance(s, 80) && (c.vplace == P_RW || c.mplace == P_RW ||
			      c.mplace == P_END)) {
		c.toctou = TT_WILD;
		j->type = TT_WILD;
		j->vec = c.vplace == P_RW ? t->vec_area : NULL;
		j->nr = j->vec ? c.kv_n : 0;
		j->map = c.mplace == P_RW || c.mplace == P_END ? t->map_area : NULL;
		j->map_len = j->map ? MAP_PAGES * PG : 0;
		if (j->vec && (!j->map || pick(s, 2)))
			j->prot = (uint8_t *)t->vec_area + pick(s, VEC_PAGES) * PG;
		else
			j->prot = t->map_area + pick(s, MAP_PAGES) * PG;
		j->prot_len = PG;
	}
	/* what TOCTOU rewrites the prediction cannot follow past the fd checks */
	predict(&c, k->cls == C_BADF ? k : k->special || c.toctou != TT_NONE ?
		NULL : k, false, &p);

	tjob_publish(t, &c);
	do_ioctl(t, &c);
	tjob_retract(t, &c);
	template_done(t, &c);
	check_errno(t, &c, &p);
	check_outputs(t, &c, &p);
}

/* Is @fd one the fuzzer made?  Random bytes must not name stdout. */
static bool own_fd(int fd)
{
	if (fd < 0 || fd >= VOL_BASE)
		return true;
	if (is_shadow_fd(fd))
		return false;
	for (int k = 0; k < K_NR; k++)
		if (kinds[k].fd == fd)
			return true;
	return false;
}

static bool in_map_area(const struct tctx *t, uint64_t a)
{
	return a >= (uintptr_t)t->map_area &&
	       a < (uintptr_t)t->map_area + MAP_PAGES * PG;
}

/* Random bytes as the argument struct, or mostly random ones. */
static void randargs_call(struct tctx *t, unsigned long cmd)
{
	uint64_t *s = &t->rng, len = pick(s, PG + 65), v = pick(s, 3);
	struct shmem_zero_args *a = (struct shmem_zero_args *)t->args_area;
	uint8_t *b = t->args_area;
	struct call c;

	memset(&c, 0, sizeof(c));
	c.cf = -1;
	c.cls = CL_RANDARGS;
	c.kind = K_RANDOM;
	c.cmd = cmd ? cmd : pick_cmd(s);
	memset(b, 0, ARGS_PAGES * PG);
	for (uint64_t i = 0; i < len; i += 8) {
		uint64_t x = rnd(s);

		memcpy(b + i, &x, min64(8, len - i));
	}
	if (v) {
		a->size = pick(s, 4) ? (pick(s, 2) ? VER1 : VER0) :
			  VER0 + pick(s, PG - VER0 + 1);
		if (a->size > VER1 && pick(s, 4))
			memset(b + VER1, 0, a->size - VER1);
		a->mode = pick(s, 6);
		a->flags = pick(s, 4) ? 0 : (uint32_t)rnd(s);
		a->fd = kinds[pick_kind(s)].fd;
	}
	if (v == 1) {
		uint64_t n = pick(s, INTENT_MAX + 1);

		a->ranges = (uintptr_t)t->vec_area;
		a->nr_ranges = chance(s, 900) ? n : rnd(s) >> pick(s, 64);
		for (uint64_t i = 0; i < n; i++) {
			struct shmem_zero_range *r = &t->vec_area[i];

			r->offset = rnd(s) >> pick(s, 64);
			r->length = rnd(s) >> pick(s, 64);
			if (pick(s, 2)) {
				r->offset &= ~(PG - 1);
				r->length &= ~(PG - 1);
			}
		}
		a->map = pick(s, 3) ? (uintptr_t)t->map_area + pick(s, MAP_PAGES * PG) : 0;
		a->map_len = rnd(s) >> pick(s, 64);
	}
	if (!own_fd(a->fd))
		a->fd = kinds[K_MEMFD].fd;
	if (a->map >= 65536 && a->map < (1ULL << 47) && !in_map_area(t, a->map))
		a->map |= 1ULL << 63;
	c.ap = a;
	c.aplace = P_RANDOM;
	c.areadable = ARGS_PAGES * PG;
	if (chance(s, 100)) {	/* running into the guard page */
		uint64_t k = pick(s, min64(len, ARGS_PAGES * PG) + 1);

		memmove(b + ARGS_PAGES * PG - k, b, k);
		c.ap = (struct shmem_zero_args *)(b + ARGS_PAGES * PG - k);
		c.areadable = k;
	}
	if (c.areadable >= VER1) {
		c.size = c.ap->size;
		c.fd = c.ap->fd;
		c.mode = c.ap->mode;
		c.flags = c.ap->flags;
		c.nr = c.ap->nr_ranges;
		c.vaddr = c.ap->ranges;
		c.maddr = c.ap->map;
		c.map_len = c.ap->map_len;
	}
	do_ioctl(t, &c);
	check_errno(t, &c, NULL);
}

/* Random ioctl numbers: ENOTTY, unless the number is the one (any size). */
static void randcmd_call(struct tctx *t)
{
	uint64_t *s = &t->rng;
	unsigned int cmd, type;
	struct call c;
	struct pred p;

	do {
		switch (pick(s, 4)) {
		case 0:
			cmd = rnd(s);
			break;
		case 1:
			cmd = _IOC(pick(s, 4), SHMEM_ZERO_IOC_MAGIC, pick(s, 256),
				   pick(s, 1 << _IOC_SIZEBITS));
			break;
		case 2:
			cmd = _IOC(pick(s, 4), 0xBA, pick(s, 4),
				   pick(s, 1 << _IOC_SIZEBITS));
			break;
		default:
			cmd = SHMEM_ZERO_IOC_RANGES ^ (1U << pick(s, 32));
			break;
		}
		type = _IOC_TYPE(cmd);
		/* numbers fs/ioctl.c answers for every file */
	} while (type == 0 || type == 'T' || type == 'X' || type == 'f' ||
		 type == 0x94 || type == 0x15);
	if ((cmd & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) ==
	    (SHMEM_ZERO_IOC_RANGES & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT))) {
		randargs_call(t, cmd);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.cf = -1;
	c.cls = CL_RANDCMD;
	c.kind = K_DEV;
	c.cmd = cmd;
	c.mode = 4;
	c.ap = pick(s, 2) ? (struct shmem_zero_args *)t->args_area :
			    (struct shmem_zero_args *)(uintptr_t)rnd(s);
	c.aplace = P_RANDOM;
	do_ioctl(t, &c);
	memset(&p, 0, sizeof(p));
	p.known = true;
	p.allow = EB(E_NOTTY);
	check_errno(t, &c, &p);
}

static atomic_int fuzz_running;

static void *fuzz_main(void *arg)
{
	struct tctx *t = arg;
	uint64_t r;

	block_usr1(false);
	while (!atomic_load(&stop_fuzz)) {
		if (atomic_fetch_add(&calls_issued, 1) >= opt_calls &&
		    (!opt_long || opt_calls_set))
			break;
		r = pick(&t->rng, 100);
		if (r < 22)
			shadow_call(t);
		else if (r < 84)
			structured_call(t);
		else if (r < 94)
			randargs_call(t, 0);
		else
			randcmd_call(t);
	}
	block_usr1(true);
	if (opt_debug & 2) {
		struct rusage ru;

		getrusage(RUSAGE_THREAD, &ru);
		ksft_print_msg("cpu (szf-fuzz%d): user %.1f s, system %.1f s\n", t->id,
			       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
			       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	}
	atomic_fetch_sub(&fuzz_running, 1);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Chaos                                                                */
/* ------------------------------------------------------------------ */

enum { CF_MEMFD0, CF_MEMFD1, CF_SHM, CF_SEAL, CF_HUGE, NCF };
#define CF_BASE		650

static struct cfile {
	const char *name;
	int fd;			/* CF_BASE + i, or -1 */
	bool huge;
} cf[NCF] = {
	{ "chaos memfd", .fd = -1 }, { "chaos memfd (chattr)", .fd = -1 },
	{ "chaos /dev/shm file", .fd = -1 }, { "chaos sealing memfd", .fd = -1 },
	{ "chaos hugetlb memfd", .fd = -1 },
};

static int chaos_fd(uint64_t *s, int *cfi)
{
	for (;;) {
		int i = pick(s, NCF);

		if (cf[i].fd >= 0) {
			*cfi = i;
			return cf[i].fd;
		}
	}
}

static bool cf_huge(int i)
{
	return cf[i].huge;
}

static uint64_t cf_align(const struct cfile *f)
{
	return f->huge ? hp_size : PG;
}

static uint64_t cf_max(const struct cfile *f)
{
	return f->huge ? 4 * hp_size : CF_MAX_PAGES * PG;
}

static int new_sealing_memfd(void)
{
	int fd = memfd("szf-chaos-seal", 64 * PG, MFD_ALLOW_SEALING);

	if (fd >= 0)
		fill_pages(fd, 0, 8, 1 + getpid(), NULL);
	return fd;
}

/* A file for a volatile number: a chaos file, or any kind but the shadow. */
static int volatile_source(uint64_t *s)
{
	for (;;) {
		int k;

		if (pick(s, 10) < 6) {
			struct cfile *f = &cf[pick(s, NCF)];

			if (f->fd >= 0)
				return f->fd;
			continue;
		}
		k = pick(s, K_NR);
		if (k > K_SHADOW_PATH && !kinds[k].special && kinds[k].fd >= 0)
			return kinds[k].fd;
	}
}

static void redup(uint64_t *s)
{
	int num = VOL_BASE + pick(s, NVOL);

	if (dup3(volatile_source(s), num, O_CLOEXEC) == num)
		inc(st_redup);
}

static char chaos_buf[16 * 4096];

static void *chaos_files_main(void *arg)
{
	uint64_t s = opt_seed ^ 0xC4A05F11E5ull, off, len, al, max;
	struct cfile *f;
	int fl, seals;

	(void)arg;
	while (!atomic_load(&stop_all)) {
		sleep_us(1000 + pick(&s, 9000));
		f = &cf[pick(&s, NCF)];
		if (f->fd < 0)
			continue;
		inc(st_chaos_ops);
		al = cf_align(f);
		max = cf_max(f);
		off = pick(&s, max / al) * al;
		len = (1 + pick(&s, min64(64 * PG, max) / al)) * al;
		switch (pick(&s, 12)) {
		case 0:
			xftruncate(f->fd, pick(&s, max / al + 1) * al);
			break;
		case 1:
			xfallocate(f->fd, pick(&s, 2) ? 0 : FALLOC_FL_KEEP_SIZE,
				   off, len);
			break;
		case 2:
			xfallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   off, len);
			break;
		case 3:
			for (size_t i = 0; i < sizeof(chaos_buf); i += 8)
				*(uint64_t *)(chaos_buf + i) = pick(&s, 4) ? rnd(&s) : 0;
			xpwrite(f->fd, chaos_buf, min64(len, sizeof(chaos_buf)), off);
			break;
		case 4:
			fchmod(f->fd, pick(&s, 2) ? 06755 : 0644);
			break;
		case 5:
			f = &cf[CF_SEAL];
			seals = fcntl(f->fd, F_GET_SEALS);
			if (seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE |
						    F_SEAL_SEAL)) && pick(&s, 2)) {
				int nfd = new_sealing_memfd();

				if (nfd >= 0) {
					dup3(nfd, f->fd, O_CLOEXEC);
					close(nfd);
				}
			} else if (!fcntl(f->fd, F_ADD_SEALS, 1 << pick(&s, 5))) {
				inc(st_seals);
			}
			break;
		case 6:
		case 7:
		case 8:
			redup(&s);
			break;
		case 9:
			close(VOL_BASE + pick(&s, NVOL));
			break;
		case 10:
			f = &cf[CF_MEMFD1];
			if (ioctl(f->fd, SZF_IOC_GETFLAGS, &fl))
				break;
			if (fl & (SZF_APPEND_FL | SZF_IMMUTABLE_FL))
				fl &= ~(SZF_APPEND_FL | SZF_IMMUTABLE_FL);
			else if (pick(&s, 4) == 0)
				fl |= pick(&s, 2) ? SZF_APPEND_FL : SZF_IMMUTABLE_FL;
			ioctl(f->fd, SZF_IOC_SETFLAGS, &fl);
			break;
		default:
			memset(chaos_buf, 0, sizeof(chaos_buf));
			xpwrite(f->fd, chaos_buf, min64(len, sizeof(chaos_buf)), off);
			break;
		}
	}
	if (!ioctl(cf[CF_MEMFD1].fd, SZF_IOC_GETFLAGS, &fl)) {
		fl &= ~(SZF_APPEND_FL | SZF_IMMUTABLE_FL);
		ioctl(cf[CF_MEMFD1].fd, SZF_IOC_SETFLAGS, &fl);
	}
	return NULL;
}

/* Slot mappings: MAP_FIXED over the reservation, and back to it. */
static bool slot_reserve(struct slot *sl, bool noreplace, uint64_t off,
			 uint64_t len)
{
	void *p = mmap(sl->base + off, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		       (noreplace ? MAP_FIXED_NOREPLACE : MAP_FIXED), -1, 0);

	return p == sl->base + off;
}

static void slot_unmap(struct slot *sl)
{
	if (!slot_reserve(sl, false, 0, SLOT_BYTES))
		ksft_exit_fail_msg("slot reserve: %s\n", strerror(errno));
	atomic_store(&sl->mapped, false);
}

static void slot_map(uint64_t *s, struct slot *sl)
{
	int i = pick(s, NCF);
	struct cfile *f = &cf[i];
	uint64_t al = f->huge ? hp_size : PG, len, off;
	bool w = pick(s, 10) < 7;
	void *p;

	if (f->fd < 0 || atomic_load(&sl->mapped))
		return;
	len = (1 + pick(s, SLOT_BYTES / al)) * al;
	off = pick(s, cf_max(f) / al) * al;
	p = mmap(sl->base, len, PROT_READ | (w ? PROT_WRITE : 0),
		 MAP_SHARED | MAP_FIXED, f->fd, off);
	if (p != sl->base) {
		slot_unmap(sl);		/* a failed MAP_FIXED may have unmapped */
		return;
	}
	sl->len = len;
	sl->off = off;
	sl->cf = i;
	sl->writable = w;
	sl->uffd = false;
	if (uffd >= 0 && pick(s, 5) == 0) {
		struct uffdio_register reg = {
			.range = { (uintptr_t)p, len },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		sl->uffd = !ioctl(uffd, UFFDIO_REGISTER, &reg);
	}
	atomic_store(&sl->mapped, true);
}

static struct kid {
	pid_t pid;
	uint64_t since;
} kids[MAX_KIDS];
static int nkids;

static void reap_kids(bool all)
{
	for (int i = 0; i < nkids; i++) {
		int st;
		pid_t r = waitpid(kids[i].pid, &st, WNOHANG);

		if (r == 0 && (all || now_ns() - kids[i].since > 10000000000ULL)) {
			kill(kids[i].pid, SIGKILL);
			for (int k = 0; k < 500 && r == 0; k++) {
				sleep_us(10000);
				r = waitpid(kids[i].pid, &st, WNOHANG);
			}
			if (r == 0)
				report(CK_HANG, NULL, NULL, "child %d not reaped 5 s after SIGKILL",
				       kids[i].pid);
		}
		if (r == 0)
			continue;
		inc(ck_checks[CK_HANG]);
		if (r > 0 && WIFSIGNALED(st))
			inc(st_kids_signaled);
		if (r > 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS)
			inc(st_kids_sigbus);
		kids[i--] = kids[--nkids];
	}
}

/* A child touches the mappings it inherited, maybe unmaps one, and exits. */
static void chaos_fork(uint64_t *s)
{
	struct { uint8_t *p; uint64_t len; bool w; } snap[NSLOTS];
	uint64_t offs[NSLOTS][8];
	int n = 0, unmap = pick(s, 4) == 0;
	pid_t pid;

	if (nkids >= MAX_KIDS)
		return;
	for (int i = 0; i < NSLOTS; i++) {
		struct stat st;
		uint64_t in;

		if (!atomic_load(&slots[i].mapped) ||
		    fstat(cf[slots[i].cf].fd, &st))
			continue;
		/* mostly inside the file: past its end is SIGBUS */
		in = (uint64_t)st.st_size > slots[i].off ?
		     min64(slots[i].len, st.st_size - slots[i].off) : 1;
		snap[n].p = slots[i].base;
		snap[n].len = slots[i].len;
		snap[n].w = slots[i].writable;
		for (int k = 0; k < 8; k++)
			offs[n][k] = pick(s, pick(s, 64) ? in : slots[i].len);
		n++;
	}
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		signal(SIGBUS, SIG_DFL);
		signal(SIGSEGV, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(10);
		for (int i = 0; i < n; i++)
			for (int k = 0; k < 8; k++) {
				if (snap[i].w)
					__atomic_store_n(&snap[i].p[offs[i][k]], k + 1,
							 __ATOMIC_RELAXED);
				else
					__atomic_load_n(&snap[i].p[offs[i][k]],
							__ATOMIC_RELAXED);
			}
		if (n && unmap)
			munmap((void *)snap[0].p, snap[0].len);
		_exit(0);
	}
	kids[nkids].pid = pid;
	kids[nkids++].since = now_ns();
	inc(st_forks);
}

static void *chaos_maps_main(void *arg)
{
	uint64_t s = opt_seed ^ 0x3A95C4A05ull;
	struct slot *sl, *to;

	(void)arg;
	while (!atomic_load(&stop_all)) {
		sleep_us(1000 + pick(&s, 9000));
		reap_kids(false);
		inc(st_chaos_ops);
		sl = &slots[pick(&s, NSLOTS)];
		switch (pick(&s, 20)) {
		case 0:
		case 1:
			slot_map(&s, sl);
			break;
		case 2:
			if (atomic_load(&sl->mapped))
				slot_unmap(sl);
			break;
		case 3:		/* a real munmap, the address reserved again */
			if (!atomic_load(&sl->mapped))
				break;
			atomic_store(&sl->mapped, false);
			munmap(sl->base, sl->len);
			if (!slot_reserve(sl, true, 0, sl->len))
				ksft_exit_fail_msg("slot %p taken after munmap\n", sl->base);
			break;
		case 4:		/* moved to another slot */
			to = &slots[pick(&s, NSLOTS)];
			if (!atomic_load(&sl->mapped) || atomic_load(&to->mapped))
				break;
			if (mremap(sl->base, sl->len, sl->len,
				   MREMAP_MAYMOVE | MREMAP_FIXED, to->base) != to->base)
				break;
			atomic_store(&sl->mapped, false);
			if (!slot_reserve(sl, true, 0, sl->len))
				ksft_exit_fail_msg("slot %p taken after mremap\n", sl->base);
			to->len = sl->len;
			to->off = sl->off;
			to->cf = sl->cf;
			to->writable = sl->writable;
			to->uffd = sl->uffd;
			atomic_store(&to->mapped, true);
			break;
		case 5:		/* shrunk in place */
			if (!atomic_load(&sl->mapped) || sl->len <= hp_size ||
			    sl->len <= PG || (cf[sl->cf].huge && !hp_split_ok))
				break;
			{
				uint64_t al = cf[sl->cf].huge ? hp_size : PG;
				uint64_t nl = (1 + pick(&s, sl->len / al - 1)) * al;

				if (mremap(sl->base, sl->len, nl, 0) != sl->base)
					break;
				if (!slot_reserve(sl, true, nl, sl->len - nl))
					ksft_exit_fail_msg("slot tail taken after mremap\n");
				sl->len = nl;
			}
			break;
		case 6:
		case 7:
			if (!atomic_load(&sl->mapped) || !sl->writable)
				break;
			for (int k = 0; k < 8; k++) {
				uint64_t x = rnd(&s);

				guarded_copy(sl->base + pick(&s, sl->len - 7), &x,
					     pick(&s, 2) ? 8 : 1);
			}
			break;
		case 8:
			if (atomic_load(&sl->mapped))
				madvise(sl->base, sl->len,
					pick(&s, 2) ? MADV_DONTNEED : MADV_REMOVE);
			break;
		case 9:
			chaos_fork(&s);
			break;
		default:	/* mostly the mappings just stay a while */
			break;
		}
	}
	reap_kids(true);
	return NULL;
}

static void *signal_main(void *arg)
{
	uint64_t s = opt_seed ^ 0x5160A1ull;

	(void)arg;
	while (!atomic_load(&stop_fuzz)) {
		struct tctx *t;

		sleep_us(500 + pick(&s, 10000));
		t = thr[pick(&s, opt_threads)];
		if (atomic_load(&t->no_signal))
			continue;
		pthread_kill(t->th, SIGUSR1);
		inc(st_signals);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Setup                                                                */
/* ------------------------------------------------------------------ */

static int move_fd(int fd, int num)
{
	if (fd < 0)
		return -1;
	dup_at(fd, num);
	close(fd);
	return num;
}

static void uffd_setup(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_SIGBUS };

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)	/* not root: user-mode-only faults, the kernel's EFAULT */
		uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK |
			       UFFD_USER_MODE_ONLY);
	if (uffd >= 0 && ioctl(uffd, UFFDIO_API, &api)) {
		close(uffd);
		uffd = -1;
	}
	if (uffd < 0)
		note("no userfaultfd (%s): its placements act as PROT_NONE\n",
		     strerror(errno));
}

static void hugetlb_setup(void)
{
	const char *knob = "/proc/sys/vm/nr_hugepages";
	long long kb = kv_kb("/proc/meminfo", "Hugepagesize"), nr;
	char buf[32];
	int fd;

	if (kb <= 0)
		return;
	fd = memfd_create("szf-huge", MFD_CLOEXEC | MFD_HUGETLB);
	if (fd < 0) {
		note("no hugetlb memfd (%s): that kind is skipped\n", strerror(errno));
		return;
	}
	hp_size = kb * 1024;
	nr = is_root ? read_ll(knob) : -1;
	if (xfallocate(fd, 0, 0, hp_size) && nr >= 0) {
		snprintf(buf, sizeof(buf), "%lld\n", nr + 8);
		if (file_write(knob, buf))
			hp_saved = nr;
		if (xfallocate(fd, 0, 0, hp_size))
			note("no free huge pages: hugetlb files stay holes\n");
	}
	xftruncate(fd, 4 * hp_size);
	kinds[K_HUGETLB].fd = fd;
	/*
	 * 6.1.y's backport of "mm/hugetlb: unshare page tables during VMA
	 * split, not before" calls hugetlb_split() from __vma_adjust() before
	 * that takes i_mmap_rwsem, so hugetlb_split()'s
	 * i_mmap_assert_write_locked() warns under lockdep at every partial
	 * munmap or mremap shrink of a hugetlb VMA, with or without this
	 * module.  Whole hugetlb mappings are still mapped, moved and
	 * unmapped there; only the shrink is left out.
	 */
	{
		struct utsname u;

		hp_split_ok = uname(&u) || strncmp(u.release, "6.1.", 4);
		if (!hp_split_ok)
			note("6.1: hugetlb mappings are not shrunk (hugetlb_split warns)\n");
	}
	kinds[K_HUGETLB].pages = 4 * hp_size / PG;
}

static int data_memfd(const char *name, uint64_t pages, unsigned int flags)
{
	int fd = memfd(name, pages * PG, flags);

	if (fd >= 0)
		fill_pages(fd, 0, pages / 2, 1 + pages, NULL);
	return fd;
}

static int reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags | O_CLOEXEC);
}

static int chattr_memfd(int flag)
{
	int fd = data_memfd("szf-chattr", 32, 0), f = 0;

	if (fd < 0)
		return -1;
	if (ioctl(fd, SZF_IOC_GETFLAGS, &f) == 0) {
		f |= flag;
		if (ioctl(fd, SZF_IOC_SETFLAGS, &f) == 0)
			return fd;
	}
	close(fd);
	return -1;
}

static int tmpfs_file(const char *what)
{
	char path[96];
	struct statfs sfs;
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/shmem_zero_fuzz.%d.%s", getpid(), what);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	unlink(path);
	if (fstatfs(fd, &sfs) || sfs.f_type != TMPFS_MAGIC) {
		close(fd);
		return -1;
	}
	return fd;
}

static int otherfs_file(void)
{
	static const char *const dirs[] = { "/var/tmp", "/tmp", "." };
	char path[96];
	struct statfs sfs;

	for (unsigned int i = 0; i < ARRAY_SIZE(dirs); i++) {
		int fd;

		if (statfs(dirs[i], &sfs) || sfs.f_type == TMPFS_MAGIC ||
		    sfs.f_type == RAMFS_MAGIC)
			continue;
		snprintf(path, sizeof(path), "%s/shmem_zero_fuzz.XXXXXX", dirs[i]);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		unlink(path);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fill_pages(fd, 0, 4, 7, NULL);
		return fd;
	}
	return -1;
}

static void kinds_setup(void)
{
	int fd, p[2], sv[2];

	kinds[K_MEMFD].fd = data_memfd("szf-memfd", 256, 0);
	fd = tmpfs_file("stable");
	if (fd >= 0 && !xftruncate(fd, 256 * PG))
		fill_pages(fd, 0, 128, 77, NULL);
	kinds[K_SHMFILE].fd = fd;
	fd = data_memfd("szf-seal-w", 64, MFD_ALLOW_SEALING);
	kinds[K_SEAL_W].fd = fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) ? -1 : fd;
	fd = data_memfd("szf-seal-fw", 64, MFD_ALLOW_SEALING);
	kinds[K_SEAL_FW].fd = fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) ? -1 : fd;
	fd = data_memfd("szf-seal-size", 64, MFD_ALLOW_SEALING);
	kinds[K_SEAL_SIZE].fd = fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK |
				      F_SEAL_GROW | F_SEAL_SEAL) ? -1 : fd;
	kinds[K_RDONLY].fd = reopen(kinds[K_MEMFD].fd, O_RDONLY);
	kinds[K_WRONLY].fd = reopen(kinds[K_MEMFD].fd, O_WRONLY);
	kinds[K_OPATH].fd = reopen(kinds[K_MEMFD].fd, O_PATH);
	if (!pipe2(p, O_CLOEXEC)) {
		kinds[K_PIPE_R].fd = p[0];
		kinds[K_PIPE_W].fd = p[1];
	}
	if (!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		kinds[K_SOCKET].fd = sv[0];
	kinds[K_DIR].fd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (kinds[K_DIR].fd < 0)
		kinds[K_DIR].fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	kinds[K_PROC].fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	kinds[K_PROC_RW].fd = open("/proc/self/comm", O_RDWR | O_CLOEXEC);
	hugetlb_setup();
	kinds[K_DEV].fd = dev;
	kinds[K_APPEND].fd = chattr_memfd(SZF_APPEND_FL);
	kinds[K_IMMUTABLE].fd = chattr_memfd(SZF_IMMUTABLE_FL);
	kinds[K_OTHERFS].fd = otherfs_file();
	for (int k = K_MEMFD; k < K_NR; k++) {
		struct stat st;

		if (kinds[k].special)
			continue;
		if (kinds[k].fd < 0) {
			note("fd kind '%s' not available: skipped\n", kinds[k].name);
			continue;
		}
		if (!kinds[k].pages)
			kinds[k].pages = fstat(kinds[k].fd, &st) || !st.st_size ?
					 16 : (st.st_size + PG - 1) / PG;
	}
	if (kinds[K_RDONLY].fd >= 0)
		kinds[K_RDONLY].pages = 256;
	if (kinds[K_WRONLY].fd >= 0)
		kinds[K_WRONLY].pages = 256;
}

static void chaos_setup(uint64_t *s)
{
	uint8_t *raw = reserve(NSLOTS * SLOT_BYTES + 4 * MIB);
	int fd;

	chaos_region = (uint8_t *)(((uintptr_t)raw + 2 * MIB - 1) & ~(2 * MIB - 1));
	for (int i = 0; i < NSLOTS; i++)
		slots[i].base = chaos_region + i * SLOT_BYTES;
	cf[CF_MEMFD0].fd = move_fd(data_memfd("szf-chaos0", 256, 0), CF_BASE);
	cf[CF_MEMFD1].fd = move_fd(data_memfd("szf-chaos1", 256, 0), CF_BASE + 1);
	fd = tmpfs_file("chaos");
	if (fd >= 0)
		xftruncate(fd, 256 * PG);
	cf[CF_SHM].fd = move_fd(fd, CF_BASE + 2);
	cf[CF_SEAL].fd = move_fd(new_sealing_memfd(), CF_BASE + 3);
	if (hp_size) {
		fd = memfd_create("szf-chaos-huge", MFD_CLOEXEC | MFD_HUGETLB);
		if (fd >= 0)
			xftruncate(fd, 2 * hp_size);
		cf[CF_HUGE].fd = move_fd(fd, CF_BASE + 4);
		cf[CF_HUGE].huge = true;
	}
	for (int i = 0; i < NVOL; i++)
		dup3(volatile_source(s), VOL_BASE + i, O_CLOEXEC);
}

static void template_setup(void)
{
	size_t len = (MAXR + CHUNK) * RSZ;

	tmpl = reserve(len + PG);
	set_prot(tmpl, len, PROT_READ | PROT_WRITE);
	for (uint64_t i = 0; i < MAXR; i++) {
		tmpl[i].offset = (i * 7 % 64) * PG;
		tmpl[i].length = (1 + i % 3) * PG;
	}
	for (uint64_t i = MAXR; i < MAXR + CHUNK; i++) {
		tmpl[i].offset = 1;
		tmpl[i].length = PG;
	}
	set_prot(tmpl, len, PROT_READ);
}

static struct tctx *thread_setup(int id)
{
	size_t pages = ARGS_PAGES + 1 + VEC_PAGES + 1 + MAP_PAGES + 1 + 2 +
		       UFFD_PAGES + 1;
	struct tctx *t = calloc(1, sizeof(*t));
	uint8_t *a;

	if (!t)
		ksft_exit_fail_msg("calloc\n");
	t->id = id;
	t->rng = (opt_seed ^ (0x9E3779B97F4A7C15ULL * (id + 1))) | 1;
	a = reserve(pages * PG);
	t->args_area = a;
	set_prot(a, ARGS_PAGES * PG, PROT_READ | PROT_WRITE);
	t->none_page = a + ARGS_PAGES * PG;
	a += (ARGS_PAGES + 1) * PG;
	t->vec_area = (struct shmem_zero_range *)a;
	set_prot(a, VEC_PAGES * PG, PROT_READ | PROT_WRITE);
	a += (VEC_PAGES + 1) * PG;
	t->map_area = a;
	set_prot(a, MAP_PAGES * PG, PROT_READ | PROT_WRITE);
	a += (MAP_PAGES + 1) * PG;
	t->ro_page = a;
	set_prot(a, PG, PROT_READ);
	a += 2 * PG;
	t->uffd_area = a;
	if (uffd >= 0) {
		struct uffdio_register reg = {
			.range = { (uintptr_t)a, UFFD_PAGES * PG },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		set_prot(a, UFFD_PAGES * PG, PROT_READ | PROT_WRITE);
		if (ioctl(uffd, UFFDIO_REGISTER, &reg))
			set_prot(a, UFFD_PAGES * PG, PROT_NONE);
	}
	t->pagebuf = reserve(SH_NPG * PG);
	set_prot(t->pagebuf, SH_NPG * PG, PROT_READ | PROT_WRITE);
	t->mask = reserve(3 * MASK_MAX);
	set_prot(t->mask, 3 * MASK_MAX, PROT_READ | PROT_WRITE);
	return t;
}

/* ------------------------------------------------------------------ */
/* Main                                                                 */
/* ------------------------------------------------------------------ */

static void help(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--calls N] [--seconds S] [--seed X] [--threads T] [--long] [--quiet]\n"
		"  --calls N    calls to make (default 1000000); the run fails if the\n"
		"               deadline comes first\n"
		"  --seconds S  wall-clock limit (default 900; 1800 with --long)\n"
		"  --seed X     random seed (default: from the time; always printed)\n"
		"  --threads T  fuzzing threads (default 2, at most %d)\n"
		"  --long       fuzz for --seconds (a time box; fails only if fewer\n"
		"               than %d calls completed), or until --calls if given\n"
		"  --quiet      no progress lines and notes\n", prog, MAX_THREADS,
		LONG_MIN_CALLS);
	exit(KSFT_FAIL);
}

static void parse(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "calls", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "threads", required_argument, NULL, 't' },
		{ "long", no_argument, NULL, 'l' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			opt_calls = strtoull(optarg, &end, 0);
			if (*end)
				help(argv[0]);
			opt_calls_set = true;
			break;
		case 's':
			opt_seconds = strtod(optarg, &end);
			if (*end || opt_seconds <= 0)
				help(argv[0]);
			break;
		case 'S':
			opt_seed = strtoull(optarg, &end, 0);
			if (*end)
				help(argv[0]);
			break;
		case 't':
			opt_threads = strtol(optarg, &end, 0);
			if (*end || opt_threads < 1 || opt_threads > MAX_THREADS)
				help(argv[0]);
			break;
		case 'l':
			opt_long = true;
			break;
		case 'q':
			opt_quiet = true;
			break;
		default:
			help(argv[0]);
		}
	}
	if (optind != argc)
		help(argv[0]);
	if (opt_seconds < 0)
		opt_seconds = opt_long ? 1800 : 900;
	if (getenv("SZF_DEBUG"))
		opt_debug = strtol(getenv("SZF_DEBUG"), NULL, 0);
	if (!opt_seed)
		opt_seed = now_ns() ^ ((uint64_t)getpid() << 40);
}

static void progress(double now)
{
	uint64_t n = atomic_load(&calls_done), fails = 0;

	for (int i = 0; i < CK_NR; i++)
		fails += atomic_load(&ck_fail[i]);
	fprintf(stderr, "shmem_zero_fuzz: %.0f s: %llu calls (%.0f/s), shadow %llu (%llu failed), %llu check failures\n",
		now - t_start, (unsigned long long)n, n / (now - t_start),
		(unsigned long long)atomic_load(&st_sh_calls),
		(unsigned long long)atomic_load(&st_sh_failed),
		(unsigned long long)fails);
}

/*
 * A call running for more than KICK_S is signalled (even a template call
 * that the signal thread spares), one running for more than HANG_S
 * reported, once.
 */
static void watchdog(void)
{
	for (int i = 0; i < opt_threads; i++) {
		struct tctx *t = thr[i];
		uint64_t since = atomic_load(&t->in_call), now = now_ns();

		if (!since || now < since || now - since < KICK_S * 1000000000ULL) {
			if (!since)
				t->hang_reported = false;
			continue;
		}
		if (!t->hang_reported && now - since >= HANG_S * 1000000000ULL) {
			t->hang_reported = true;
			report(CK_HANG, t, &t->cur, "call running for %llu s",
			       (unsigned long long)((now - since) / 1000000000ULL));
		}
		pthread_kill(t->th, SIGUSR1);
	}
}

static void summary(double secs)
{
	static const char *const sep = ", ";
	char line[1024];
	size_t n;
	uint64_t calls = atomic_load(&calls_done);

	ksft_print_msg("seed %#llx (rerun with --seed %#llx)\n",
		       (unsigned long long)opt_seed, (unsigned long long)opt_seed);
	ksft_print_msg("%llu calls in %.1f s: %.1f calls/s with %d fuzzing threads\n",
		       (unsigned long long)calls, secs, calls / secs, opt_threads);
	n = 0;
	for (int i = 0; i < CL_NR; i++)
		n += snprintf(line + n, sizeof(line) - n, "%s%s %llu", i ? sep : "",
			      cl_name[i], (unsigned long long)atomic_load(&st_class[i]));
	ksft_print_msg("calls per class: %s\n", line);
	n = 0;
	for (int i = 0; i < 5; i++)
		n += snprintf(line + n, sizeof(line) - n, "%s%s %llu", i ? sep : "",
			      mode_name[i], (unsigned long long)atomic_load(&st_mode[i]));
	ksft_print_msg("calls per mode: %s\n", line);
	for (int i = 0, k = 0; i < K_NR; i = k) {
		n = 0;
		for (k = i; k < K_NR && n < 160; k++)
			n += snprintf(line + n, sizeof(line) - n, "%s%s %llu (%llu ok)",
				      k > i ? sep : "", kinds[k].name,
				      (unsigned long long)atomic_load(&st_kind[k]),
				      (unsigned long long)atomic_load(&st_kind_ok[k]));
		ksft_print_msg("calls per fd kind: %s\n", line);
	}
	ksft_print_msg("errno histogram:\n");
	for (int e = 0; e < (int)ARRAY_SIZE(st_err); e++) {
		uint64_t v = atomic_load(&st_err[e]);

		if (v)
			ksft_print_msg("  %-12s %llu%s\n", ename(e),
				       (unsigned long long)v,
				       eidx(e) < 0 ? "  (not documented)" : "");
	}
	if (atomic_load(&st_err_other))
		ksft_print_msg("  %-12s %llu  (not documented)\n", "errno >= 256",
			       (unsigned long long)atomic_load(&st_err_other));
	ksft_print_msg("successful calls: %llu\n", (unsigned long long)atomic_load(&st_err[0]));
	ksft_print_msg("shadow file: %llu calls (%llu failed, %llu with a done prefix), %llu read back whole, %llu resolving QUERYs, %llu rebuilds\n",
		       (unsigned long long)atomic_load(&st_sh_calls),
		       (unsigned long long)atomic_load(&st_sh_failed),
		       (unsigned long long)atomic_load(&st_sh_prefix),
		       (unsigned long long)sh.fulls,
		       (unsigned long long)atomic_load(&st_sh_resolves),
		       (unsigned long long)atomic_load(&st_sh_rebuilds));
	ksft_print_msg("errno predicted for %llu calls; %llu TOCTOU jobs (%llu bursts); %llu calls with %llu ranges (%llu ok); longest call %.1f ms\n",
		       (unsigned long long)atomic_load(&st_predicted),
		       (unsigned long long)atomic_load(&st_toctou),
		       (unsigned long long)atomic_load(&st_bursts),
		       (unsigned long long)atomic_load(&st_template),
		       (unsigned long long)MAXR,
		       (unsigned long long)atomic_load(&st_template_ok),
		       atomic_load(&st_max_call_ns) / 1e6);
	ksft_print_msg("chaos: %llu ops, %llu forks (%llu children killed by a signal, %llu by SIGBUS), %llu seals, %llu dup2s, %llu signals sent\n",
		       (unsigned long long)atomic_load(&st_chaos_ops),
		       (unsigned long long)atomic_load(&st_forks),
		       (unsigned long long)atomic_load(&st_kids_signaled),
		       (unsigned long long)atomic_load(&st_kids_sigbus),
		       (unsigned long long)atomic_load(&st_seals),
		       (unsigned long long)atomic_load(&st_redup),
		       (unsigned long long)atomic_load(&st_signals));
}

/* SZF_DEBUG: CPU time per thread, to see where a slow run goes. */
static void cpu_times(void)
{
	long hz = sysconf(_SC_CLK_TCK);
	char path[300], buf[512], *p;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		unsigned long ut, st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		if (!file_read(path, buf, sizeof(buf)))
			continue;
		p = strrchr(buf, ')');
		if (!p)
			continue;
		*p = 0;
		if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			   &ut, &st) == 2)
			ksft_print_msg("cpu %s): user %.1f s, system %.1f s\n",
				       strchr(buf, '('), (double)ut / hz, (double)st / hz);
	}
	if (d)
		closedir(d);
}

static bool join_within(pthread_t th, double secs, struct tctx *kick)
{
	double end = now_s() + secs;

	while (pthread_tryjoin_np(th, NULL)) {
		if (now_s() > end)
			return false;
		if (kick)
			pthread_kill(th, SIGUSR1);
		sleep_us(50000);
	}
	return true;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct sigaction sf = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO };
	struct rlimit rl = { 0, 0 };
	pthread_t th_toctou, th_sig, th_files, th_maps;
	double deadline, next = 0, now;
	bool timed_out = false, stuck = false;
	uint64_t s;
	char thp[32];

	parse(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();
	dev = open_dev();
	if (dev < 0)
		ksft_exit_skip("%s: %s (module not loaded?)\n", SHMEM_ZERO_DEVICE,
			       strerror(errno));
	ksft_set_plan(CK_NR);
	ksft_print_msg("seed %#llx\n", (unsigned long long)opt_seed);
	s = opt_seed;
	is_root = geteuid() == 0;
	setrlimit(RLIMIT_CORE, &rl);
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 1024) {
		rl.rlim_cur = rl.rlim_max < 1024 ? rl.rlim_max : 1024;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	thp_possible = sysfs_choice(THP_SYSFS, thp, sizeof(thp)) &&
		       strcmp(thp, "never") && strcmp(thp, "deny");
	swap_on = swap_active();
	if (thp_possible || swap_on)
		note("shmem THP '%s', swap %s: the shadow checks only contents\n",
		     thp_possible ? thp : "off", swap_on ? "on" : "off");

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&sf.sa_mask);
	sigaction(SIGBUS, &sf, NULL);
	sigaction(SIGSEGV, &sf, NULL);
	signal(SIGPIPE, SIG_IGN);
	block_usr1(true);	/* inherited; fuzzing threads unblock it */

	uffd_setup();
	template_setup();
	kinds_setup();
	chaos_setup(&s);
	for (int i = 0; i < opt_threads; i++)
		thr[i] = thread_setup(i);
	sh_init(thr[0]);

	t_start = now_s();
	deadline = t_start + opt_seconds;
	atomic_store(&fuzz_running, opt_threads);
	pthread_create(&th_toctou, NULL, toctou_main, NULL);
	pthread_setname_np(th_toctou, "szf-toctou");
	pthread_create(&th_files, NULL, chaos_files_main, NULL);
	pthread_setname_np(th_files, "szf-chaos-files");
	pthread_create(&th_maps, NULL, chaos_maps_main, NULL);
	pthread_setname_np(th_maps, "szf-chaos-maps");
	for (int i = 0; i < opt_threads; i++) {
		char name[16];

		pthread_create(&thr[i]->th, NULL, fuzz_main, thr[i]);
		snprintf(name, sizeof(name), "szf-fuzz%d", i);
		pthread_setname_np(thr[i]->th, name);
	}
	pthread_create(&th_sig, NULL, signal_main, NULL);
	pthread_setname_np(th_sig, "szf-signals");

	while (atomic_load(&fuzz_running) > 0) {
		sleep_us(200000);
		now = now_s();
		if (now >= deadline) {
			timed_out = !opt_long;
			break;
		}
		watchdog();
		if (!opt_quiet && now >= next) {
			if (next)
				progress(now);
			next = now + 10;
		}
	}
	atomic_store(&stop_fuzz, true);
	now = now_s();
	if (opt_debug & 2)
		cpu_times();
	if (!join_within(th_sig, 10, NULL))
		stuck = true;
	for (int i = 0; i < opt_threads; i++) {
		inc(ck_checks[CK_HANG]);
		if (join_within(thr[i]->th, HANG_S, thr[i]))
			continue;
		report(CK_HANG, thr[i], &thr[i]->cur,
		       "the call did not return within %d s of the end", HANG_S);
		stuck = true;
	}
	atomic_store(&stop_all, true);
	atomic_fetch_add(&tj_gen, 1);
	futex(&tj_gen, FUTEX_WAKE_PRIVATE, 1, NULL);
	stuck |= !join_within(th_toctou, 10, NULL) ||
		 !join_within(th_files, 30, NULL) ||
		 !join_within(th_maps, 30, NULL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (waitpid(-1, NULL, WNOHANG) == 0)
		report(CK_HANG, NULL, NULL, "a child is still running");
	if (!stuck) {
		for (int i = 0; i < NSLOTS; i++)
			slot_unmap(&slots[i]);
		for (int fd = 3; fd < 1024; fd++)
			if (fd != dev && fd != STDOUT_FILENO && fd != STDERR_FILENO)
				close(fd);
		if (hp_saved >= 0) {
			char buf[32];

			snprintf(buf, sizeof(buf), "%ld\n", hp_saved);
			file_write("/proc/sys/vm/nr_hugepages", buf);
		}
	}

	summary(now - t_start);
	if (opt_long)
		ksft_test_result(atomic_load(&calls_done) >= LONG_MIN_CALLS,
				 "%s: %llu in a time-boxed run of %.0f s (at least %d)%s\n",
				 ck_name[CK_CALLS], (unsigned long long)atomic_load(&calls_done),
				 now - t_start, LONG_MIN_CALLS,
				 !opt_calls_set ? "" : atomic_load(&calls_done) >= opt_calls ?
				 "; --calls reached" : "; --calls not reached, the box ended first");
	else if (timed_out || atomic_load(&calls_done) < opt_calls)
		ksft_test_result_fail("%s: the deadline of %.0f s came after %llu of %llu calls\n",
				      ck_name[CK_CALLS], opt_seconds,
				      (unsigned long long)atomic_load(&calls_done),
				      (unsigned long long)opt_calls);
	else
		ksft_test_result_pass("%s: %llu of %llu\n", ck_name[CK_CALLS],
				      (unsigned long long)atomic_load(&calls_done),
				      (unsigned long long)opt_calls);
	for (int i = CK_NOCHANGE; i < CK_NR; i++)
		ksft_test_result(!atomic_load(&ck_fail[i]), "%s (%llu checks, %llu failed)\n",
				 ck_name[i], (unsigned long long)atomic_load(&ck_checks[i]),
				 (unsigned long long)atomic_load(&ck_fail[i]));
	if (stuck) {
		ksft_print_msg("threads still stuck: exiting without cleanup\n");
		fflush(stdout);
		_exit(KSFT_FAIL);
	}
	ksft_finished();
	return 0;
}
