// SPDX-License-Identifier: GPL-2.0
/*
 * Module-wide counters of shmem_zero.ko: per CPU, summed on read, served by
 * the generic netlink family "shmem_zero" (GET_STATS, RESET_STATS).
 */
#include <linux/errno.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/u64_stats_sync.h>
#include <net/genetlink.h>

#include "shmem_zero.h"

#define SZ_NR_MODES	(SHMEM_ZERO_MODE_ZERO_IN_PLACE + 1)

enum { SZ_CALLS, SZ_FAILED, SZ_RANGES, SZ_BYTES, SZ_TIME_NS, SZ_NR_MODE_STATS };

/*
 * The errnos the ioctl returns, then 0 for any other.  EACCES: an LSM
 * refused (rw_verify_area()); new ones go before the 0, old ones keep their
 * places.
 */
static const int sz_errnos[] = {
	EINVAL, E2BIG, EFAULT, EBADF, EPERM, ETXTBSY, ESPIPE, EISDIR, ENODEV,
	EOPNOTSUPP, EINTR, ENOMEM, ENOTTY, EACCES, 0,
};

/* The page counters, in the order of SHMEM_ZERO_A_HOLE_PAGES.. */
#define SZ_NR_PAGE_STATS \
	(SHMEM_ZERO_A_BUSY_PAGES - SHMEM_ZERO_A_HOLE_PAGES + 1)

struct sz_counts {
	u64 mode[SZ_NR_MODES][SZ_NR_MODE_STATS];
	u64 pages[SZ_NR_PAGE_STATS];
	u64 errors[ARRAY_SIZE(sz_errnos)];
};

struct sz_pcpu_stats {
	u64_stats_t mode[SZ_NR_MODES][SZ_NR_MODE_STATS];
	u64_stats_t pages[SZ_NR_PAGE_STATS];
	u64_stats_t errors[ARRAY_SIZE(sz_errnos)];
	struct u64_stats_sync syncp;
};

static struct sz_pcpu_stats __percpu *sz_stats;

/*
 * A reset does not write other CPUs' counters (it could not do so without
 * racing with their updates): it records the sums at that moment, and reads
 * subtract them.  sz_base_lock serialises readers and resetters.
 */
static struct sz_counts sz_base;
static DEFINE_MUTEX(sz_base_lock);

static unsigned int sz_errno_index(int err)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sz_errnos) - 1; i++)
		if (sz_errnos[i] == err)
			break;
	return i;
}

void sz_stats_account(const struct shmem_zero_args *a, bool mode_valid,
		      int ret, u64 nsecs)
{
	const u64 pages[SZ_NR_PAGE_STATS] = {
		a->hole_pages, a->zero_pages, a->data_pages,
		a->unwritten_pages, a->swap_pages, a->freed_pages,
		a->zeroed_pages, a->pinned_pages, a->busy_pages,
	};
	struct sz_pcpu_stats *s = get_cpu_ptr(sz_stats);
	unsigned int i;

	u64_stats_update_begin(&s->syncp);
	if (mode_valid) {
		u64_stats_t *m = s->mode[a->mode];

		u64_stats_inc(&m[SZ_CALLS]);
		if (ret)
			u64_stats_inc(&m[SZ_FAILED]);
		u64_stats_add(&m[SZ_RANGES], a->ranges_done);
		u64_stats_add(&m[SZ_BYTES], a->bytes_done);
		u64_stats_add(&m[SZ_TIME_NS], nsecs);
	}
	for (i = 0; i < SZ_NR_PAGE_STATS; i++)
		u64_stats_add(&s->pages[i], pages[i]);
	if (ret)
		u64_stats_inc(&s->errors[sz_errno_index(-ret)]);
	u64_stats_update_end(&s->syncp);
	put_cpu_ptr(sz_stats);
}

static void sz_stats_sum(struct sz_counts *sum)
{
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const struct sz_pcpu_stats *s = per_cpu_ptr(sz_stats, cpu);
		struct sz_counts one;
		unsigned int start, i, j;

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			for (i = 0; i < SZ_NR_MODES; i++)
				for (j = 0; j < SZ_NR_MODE_STATS; j++)
					one.mode[i][j] = u64_stats_read(&s->mode[i][j]);
			for (i = 0; i < SZ_NR_PAGE_STATS; i++)
				one.pages[i] = u64_stats_read(&s->pages[i]);
			for (i = 0; i < ARRAY_SIZE(sz_errnos); i++)
				one.errors[i] = u64_stats_read(&s->errors[i]);
		} while (u64_stats_fetch_retry(&s->syncp, start));

		for (i = 0; i < SZ_NR_MODES; i++)
			for (j = 0; j < SZ_NR_MODE_STATS; j++)
				sum->mode[i][j] += one.mode[i][j];
		for (i = 0; i < SZ_NR_PAGE_STATS; i++)
			sum->pages[i] += one.pages[i];
		for (i = 0; i < ARRAY_SIZE(sz_errnos); i++)
			sum->errors[i] += one.errors[i];
	}
}

/* Sums since the last reset, as u64 words: a struct of u64s only. */
static void sz_stats_read(struct sz_counts *c)
{
	u64 *w = (u64 *)c;
	const u64 *b = (const u64 *)&sz_base;
	unsigned int i;

	sz_stats_sum(c);
	for (i = 0; i < sizeof(*c) / sizeof(u64); i++)
		w[i] -= b[i];
}

static struct genl_family sz_genl_family;

static int sz_put_mode(struct sk_buff *skb, const struct sz_counts *c, u32 mode)
{
	static const int attr[SZ_NR_MODE_STATS] = {
		[SZ_CALLS] = SHMEM_ZERO_A_MODE_CALLS,
		[SZ_FAILED] = SHMEM_ZERO_A_MODE_FAILED,
		[SZ_RANGES] = SHMEM_ZERO_A_MODE_RANGES,
		[SZ_BYTES] = SHMEM_ZERO_A_MODE_BYTES,
		[SZ_TIME_NS] = SHMEM_ZERO_A_MODE_TIME_NS,
	};
	struct nlattr *nest = nla_nest_start(skb, SHMEM_ZERO_A_MODE);
	unsigned int j;

	if (!nest || nla_put_u32(skb, SHMEM_ZERO_A_MODE_ID, mode))
		return -EMSGSIZE;
	for (j = 0; j < SZ_NR_MODE_STATS; j++)
		if (nla_put_u64_64bit(skb, attr[j], c->mode[mode][j],
				      SHMEM_ZERO_A_MODE_PAD))
			return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static int sz_put_error(struct sk_buff *skb, int err, u64 count)
{
	struct nlattr *nest = nla_nest_start(skb, SHMEM_ZERO_A_ERROR);

	if (!nest || nla_put_u32(skb, SHMEM_ZERO_A_ERROR_ERRNO, err) ||
	    nla_put_u64_64bit(skb, SHMEM_ZERO_A_ERROR_COUNT, count,
			      SHMEM_ZERO_A_ERROR_PAD))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static int sz_put_stats(struct sk_buff *skb, const struct sz_counts *c)
{
	unsigned int i;

	for (i = 0; i < SZ_NR_MODES; i++)
		if (sz_put_mode(skb, c, i))
			return -EMSGSIZE;
	for (i = 0; i < ARRAY_SIZE(sz_errnos); i++)
		if (c->errors[i] && sz_put_error(skb, sz_errnos[i], c->errors[i]))
			return -EMSGSIZE;
	for (i = 0; i < SZ_NR_PAGE_STATS; i++)
		if (nla_put_u64_64bit(skb, SHMEM_ZERO_A_HOLE_PAGES + i,
				      c->pages[i], SHMEM_ZERO_A_PAD))
			return -EMSGSIZE;
	return 0;
}

static int sz_genl_get(struct sk_buff *skb, struct genl_info *info)
{
	struct sz_counts c;
	struct sk_buff *msg;
	void *hdr;

	mutex_lock(&sz_base_lock);
	sz_stats_read(&c);
	mutex_unlock(&sz_base_lock);

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &sz_genl_family, 0,
				SHMEM_ZERO_CMD_GET_STATS);
	if (!hdr || sz_put_stats(msg, &c)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int sz_genl_reset(struct sk_buff *skb, struct genl_info *info)
{
	mutex_lock(&sz_base_lock);
	sz_stats_sum(&sz_base);
	mutex_unlock(&sz_base_lock);
	return 0;
}

/* Requests carry no attributes: strict validation rejects any. */
static const struct nla_policy sz_genl_policy[SHMEM_ZERO_A_MAX + 1] = {};

/*
 * Both commands need CAP_NET_ADMIN in the initial user namespace
 * (GENL_ADMIN_PERM: netlink_capable(), which also requires it of whoever
 * opened the socket).  The counters are module-wide, not per network
 * namespace: calls, bytes and time of every user of the device, a host-wide
 * activity and timing record that a container (the family is netnsok) or
 * an unprivileged user must not read, as they must not reset it.  An
 * administrator may read them from any network namespace.
 */
static const struct genl_small_ops sz_genl_ops[] = {
	{
		.cmd = SHMEM_ZERO_CMD_GET_STATS,
		.doit = sz_genl_get,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = SHMEM_ZERO_CMD_RESET_STATS,
		.doit = sz_genl_reset,
		.flags = GENL_ADMIN_PERM,
	},
};

static struct genl_family sz_genl_family __ro_after_init = {
	.name = SHMEM_ZERO_GENL_NAME,
	.version = SHMEM_ZERO_GENL_VERSION,
	.maxattr = SHMEM_ZERO_A_MAX,
	.policy = sz_genl_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = sz_genl_ops,
	.n_small_ops = ARRAY_SIZE(sz_genl_ops),
	.resv_start_op = 0,	/* every command validated strictly */
};

int sz_stats_init(void)
{
	int ret;
	int cpu;

	sz_stats = alloc_percpu(struct sz_pcpu_stats);
	if (!sz_stats)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(sz_stats, cpu)->syncp);
	ret = genl_register_family(&sz_genl_family);
	if (ret)
		free_percpu(sz_stats);
	return ret;
}

void sz_stats_exit(void)
{
	genl_unregister_family(&sz_genl_family);
	free_percpu(sz_stats);
}
