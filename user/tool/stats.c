// SPDX-License-Identifier: GPL-2.0
/* shmemzero stat / reset: the module's counters over generic netlink. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <json-c/json.h>
#include <linux/shmem_zero.h>

#include "tool.h"

#define NR_MODES	(SHMEM_ZERO_MODE_ZERO_IN_PLACE + 1)
#define NR_PAGES	(SHMEM_ZERO_A_BUSY_PAGES - SHMEM_ZERO_A_HOLE_PAGES + 1)
#define NR_ERRORS	32

struct stats {
	uint64_t mode[NR_MODES][SHMEM_ZERO_A_MODE_MAX + 1];
	uint64_t pages[NR_PAGES];
	struct { uint32_t err; uint64_t count; } errors[NR_ERRORS];
	int nr_errors;
};

static const char *const mode_names[NR_MODES] = {
	"discard", "query", "reclaim", "zero_in_place",
};
static const char *const page_names[NR_PAGES] = {
	"hole_pages", "zero_pages", "data_pages", "unwritten_pages",
	"swap_pages", "freed_pages", "zeroed_pages", "pinned_pages",
	"busy_pages",
};
static const char *const mode_stat_names[SHMEM_ZERO_A_MODE_MAX + 1] = {
	[SHMEM_ZERO_A_MODE_CALLS] = "calls",
	[SHMEM_ZERO_A_MODE_FAILED] = "failed",
	[SHMEM_ZERO_A_MODE_RANGES] = "ranges",
	[SHMEM_ZERO_A_MODE_BYTES] = "bytes",
	[SHMEM_ZERO_A_MODE_TIME_NS] = "time_ns",
};

/* Attribute types and lengths are checked by libnl before they are read. */
static struct nla_policy top_policy[SHMEM_ZERO_A_MAX + 1] = {
	[SHMEM_ZERO_A_MODE] = { .type = NLA_NESTED },
	[SHMEM_ZERO_A_ERROR] = { .type = NLA_NESTED },
	[SHMEM_ZERO_A_HOLE_PAGES ... SHMEM_ZERO_A_BUSY_PAGES] = { .type = NLA_U64 },
};
static struct nla_policy mode_policy[SHMEM_ZERO_A_MODE_MAX + 1] = {
	[SHMEM_ZERO_A_MODE_ID] = { .type = NLA_U32 },
	[SHMEM_ZERO_A_MODE_CALLS ... SHMEM_ZERO_A_MODE_TIME_NS] = { .type = NLA_U64 },
};
static struct nla_policy error_policy[SHMEM_ZERO_A_ERROR_MAX + 1] = {
	[SHMEM_ZERO_A_ERROR_ERRNO] = { .type = NLA_U32 },
	[SHMEM_ZERO_A_ERROR_COUNT] = { .type = NLA_U64 },
};

/* "EINTR", or the number for an errno glibc has no name for; "other" for 0. */
static const char *errno_name(uint32_t err, char *buf, size_t len)
{
	const char *name = err ? strerrorname_np(err) : "other";

	if (name)
		return name;
	snprintf(buf, len, "%u", err);
	return buf;
}

/* Exit status for a libnl error. */
static int nl_status(int err)
{
	switch (err) {
	case -NLE_PERM:
		return EXIT_PERM;
	case -NLE_OBJ_NOTFOUND:
		return EXIT_NO_MODULE;
	default:
		return EXIT_FAIL;
	}
}

static int connect_family(struct nl_sock **sk, int *family)
{
	int ret;

	*sk = nl_socket_alloc();
	if (!*sk)
		return -NLE_NOMEM;
	ret = genl_connect(*sk);
	if (!ret) {
		*family = genl_ctrl_resolve(*sk, SHMEM_ZERO_GENL_NAME);
		if (*family >= 0)
			return 0;
		ret = *family;
	}
	nl_socket_free(*sk);
	return ret;
}

static int parse_reply(struct nl_msg *msg, void *arg)
{
	struct stats *st = arg;
	struct nlattr *a[SHMEM_ZERO_A_MAX + 1], *nest;
	int rem, i;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, a, SHMEM_ZERO_A_MAX, top_policy))
		return NL_SKIP;
	for (i = 0; i < NR_PAGES; i++)
		if (a[SHMEM_ZERO_A_HOLE_PAGES + i])
			st->pages[i] = nla_get_u64(a[SHMEM_ZERO_A_HOLE_PAGES + i]);
	nla_for_each_attr(nest, genlmsg_attrdata(nlmsg_data(nlmsg_hdr(msg)), 0),
			  genlmsg_attrlen(nlmsg_data(nlmsg_hdr(msg)), 0), rem) {
		struct nlattr *m[SHMEM_ZERO_A_MODE_MAX + 1];
		struct nlattr *e[SHMEM_ZERO_A_ERROR_MAX + 1];
		uint32_t id;

		if (nla_type(nest) == SHMEM_ZERO_A_MODE &&
		    !nla_parse_nested(m, SHMEM_ZERO_A_MODE_MAX, nest, mode_policy) &&
		    m[SHMEM_ZERO_A_MODE_ID] &&
		    (id = nla_get_u32(m[SHMEM_ZERO_A_MODE_ID])) < NR_MODES) {
			for (i = SHMEM_ZERO_A_MODE_CALLS; i <= SHMEM_ZERO_A_MODE_MAX; i++)
				if (m[i])
					st->mode[id][i] = nla_get_u64(m[i]);
		} else if (nla_type(nest) == SHMEM_ZERO_A_ERROR &&
			   !nla_parse_nested(e, SHMEM_ZERO_A_ERROR_MAX, nest, error_policy) &&
			   e[SHMEM_ZERO_A_ERROR_ERRNO] && e[SHMEM_ZERO_A_ERROR_COUNT] &&
			   st->nr_errors < NR_ERRORS) {
			st->errors[st->nr_errors].err =
				nla_get_u32(e[SHMEM_ZERO_A_ERROR_ERRNO]);
			st->errors[st->nr_errors++].count =
				nla_get_u64(e[SHMEM_ZERO_A_ERROR_COUNT]);
		}
	}
	return NL_OK;
}

/* One request; for GET_STATS the reply is parsed into *st. */
static int request(int cmd, struct stats *st)
{
	struct nl_sock *sk;
	struct nl_msg *msg;
	int family, ret;

	ret = connect_family(&sk, &family);
	if (ret)
		return ret;
	msg = nlmsg_alloc();
	if (!msg) {
		ret = -NLE_NOMEM;
		goto out;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
			 NLM_F_ACK, cmd, SHMEM_ZERO_GENL_VERSION)) {
		ret = -NLE_NOMEM;
		goto free;
	}
	if (st) {
		memset(st, 0, sizeof(*st));
		nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, parse_reply, st);
	}
	ret = nl_send_auto(sk, msg);
	if (ret >= 0)
		ret = nl_wait_for_ack(sk);
free:
	nlmsg_free(msg);
out:
	nl_socket_free(sk);
	return ret;
}

static void print_table(const struct stats *st)
{
	char name[16];
	int i;

	printf("%-14s %12s %8s %14s %16s %12s\n",
	       "mode", "calls", "failed", "ranges", "bytes", "time_ms");
	for (i = 0; i < NR_MODES; i++)
		printf("%-14s %12" PRIu64 " %8" PRIu64 " %14" PRIu64 " %16" PRIu64
		       " %12.1f\n", mode_names[i],
		       st->mode[i][SHMEM_ZERO_A_MODE_CALLS],
		       st->mode[i][SHMEM_ZERO_A_MODE_FAILED],
		       st->mode[i][SHMEM_ZERO_A_MODE_RANGES],
		       st->mode[i][SHMEM_ZERO_A_MODE_BYTES],
		       st->mode[i][SHMEM_ZERO_A_MODE_TIME_NS] / 1e6);
	printf("\n");
	for (i = 0; i < NR_PAGES; i++)
		printf("%-16s %14" PRIu64 "  (%.1f MiB)\n", page_names[i],
		       st->pages[i], st->pages[i] * (double)getpagesize() / (1 << 20));
	for (i = 0; i < st->nr_errors; i++)
		printf("errors %-9s %14" PRIu64 "\n",
		       errno_name(st->errors[i].err, name, sizeof(name)),
		       st->errors[i].count);
}

static void print_json(const struct stats *st)
{
	struct json_object *obj = json_object_new_object(), *modes, *pages, *errors;
	char name[16];
	int i, j;

	modes = json_object_new_object();
	for (i = 0; i < NR_MODES; i++) {
		struct json_object *m = json_object_new_object();

		for (j = SHMEM_ZERO_A_MODE_CALLS; j <= SHMEM_ZERO_A_MODE_MAX; j++)
			json_object_object_add(m, mode_stat_names[j],
					       json_object_new_uint64(st->mode[i][j]));
		json_object_object_add(modes, mode_names[i], m);
	}
	json_object_object_add(obj, "modes", modes);
	pages = json_object_new_object();
	for (i = 0; i < NR_PAGES; i++)
		json_object_object_add(pages, page_names[i],
				       json_object_new_uint64(st->pages[i]));
	json_object_object_add(obj, "pages", pages);
	json_object_object_add(obj, "page_size", json_object_new_int(getpagesize()));
	errors = json_object_new_object();
	for (i = 0; i < st->nr_errors; i++)
		json_object_object_add(errors,
				       errno_name(st->errors[i].err, name, sizeof(name)),
				       json_object_new_uint64(st->errors[i].count));
	json_object_object_add(obj, "errors", errors);
	print_json_object(obj);
}

int cmd_stat(bool json, unsigned int watch)
{
	struct stats st;
	int ret;

	for (;;) {
		ret = request(SHMEM_ZERO_CMD_GET_STATS, &st);
		if (ret < 0) {
			fprintf(stderr, "shmemzero: reading counters: %s\n",
				ret == -NLE_PERM ? "permission denied (needs CAP_NET_ADMIN)" :
				ret == -NLE_OBJ_NOTFOUND ?
				"module shmem_zero not loaded" : nl_geterror(ret));
			return nl_status(ret);
		}
		if (json)
			print_json(&st);
		else
			print_table(&st);
		if (!watch)
			return EXIT_OK;
		fflush(stdout);
		sleep(watch);
		if (!json)
			printf("\n");
	}
}

int cmd_reset(void)
{
	int ret = request(SHMEM_ZERO_CMD_RESET_STATS, NULL);

	if (ret < 0) {
		fprintf(stderr, "shmemzero: reset: %s\n",
			ret == -NLE_PERM ? "permission denied (needs CAP_NET_ADMIN)" :
			ret == -NLE_OBJ_NOTFOUND ? "module shmem_zero not loaded" :
			nl_geterror(ret));
		return nl_status(ret);
	}
	return EXIT_OK;
}
