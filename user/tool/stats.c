// SPDX-License-Identifier: GPL-2.0
/*
 * shmemzero stat / reset: the module's counters over generic netlink, and
 * shmemzerod's from the metrics file it writes.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
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

/*
 * shmemzerod's metrics file: "shmemzerod_NAME VALUE" for the totals,
 * "shmemzerod_NAME{pid="PID",comm="COMM"} VALUE" per VM; other lines are
 * skipped.
 */
#define DM_SERIES	16

struct dm_set {
	long pid;		/* 0: the totals */
	char comm[64];
	int n;
	struct { char name[48]; double v; } s[DM_SERIES];
};

struct daemon_metrics {
	const char *path;
	int err;		/* errno of reading the file, or 0 */
	time_t mtime;
	int nvm;
	struct dm_set total, *vm;
};

static struct dm_set *dm_set(struct daemon_metrics *dm, long pid, const char *comm)
{
	struct dm_set *set;

	if (!pid)
		return &dm->total;
	for (int i = 0; i < dm->nvm; i++)
		if (dm->vm[i].pid == pid)
			return &dm->vm[i];
	set = realloc(dm->vm, (dm->nvm + 1) * sizeof(*dm->vm));
	if (!set)
		return NULL;
	dm->vm = set;
	set = &dm->vm[dm->nvm++];
	memset(set, 0, sizeof(*set));
	set->pid = pid;
	snprintf(set->comm, sizeof(set->comm), "%s", comm);
	return set;
}

/* One label value after its '"': unescaped into buf; the end, or NULL. */
static const char *dm_label(const char *p, char *buf, size_t size)
{
	size_t n = 0;

	for (; *p && *p != '"'; p++) {
		char c = *p;

		if (c == '\\' && p[1]) {
			c = *++p == 'n' ? '\n' : *p;
		}
		if (n + 1 < size)
			buf[n++] = c;
	}
	buf[n] = 0;
	return *p == '"' ? p + 1 : NULL;
}

/* Parse one line into dm; false if it is not one of ours. */
static bool dm_line(struct daemon_metrics *dm, const char *line)
{
	char name[48], key[16], val[64], comm[64] = "";
	const char *p = line;
	struct dm_set *set;
	long pid = 0;
	size_t n;
	char *end;
	double v;

	if (strncmp(p, "shmemzerod_", 11))
		return false;
	p += 11;
	n = strcspn(p, "{ ");
	if (!n || n >= sizeof(name))
		return false;
	memcpy(name, p, n);
	name[n] = 0;
	p += n;
	if (*p == '{') {
		p++;
		while (*p && *p != '}') {
			n = strcspn(p, "=");
			if (n >= sizeof(key) || p[n] != '=' || p[n + 1] != '"')
				return false;
			memcpy(key, p, n);
			key[n] = 0;
			p = dm_label(p + n + 2, val, sizeof(val));
			if (!p)
				return false;
			if (!strcmp(key, "pid"))
				pid = strtol(val, NULL, 10);
			else if (!strcmp(key, "comm"))
				snprintf(comm, sizeof(comm), "%s", val);
			if (*p == ',')
				p++;
		}
		if (*p != '}' || pid <= 0)
			return false;
		p++;
	}
	if (*p != ' ')
		return false;
	v = strtod(p + 1, &end);
	if (end == p + 1 || (*end && *end != '\n'))
		return false;
	set = dm_set(dm, pid, comm);
	if (!set || set->n == DM_SERIES)
		return false;
	snprintf(set->s[set->n].name, sizeof(set->s[0].name), "%s", name);
	set->s[set->n++].v = v;
	return true;
}

static void dm_read(struct daemon_metrics *dm, const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	struct stat st;
	FILE *f;

	memset(dm, 0, sizeof(*dm));
	dm->path = path;
	f = fopen(path, "re");
	if (!f || fstat(fileno(f), &st)) {
		dm->err = errno;
		if (f)
			fclose(f);
		return;
	}
	dm->mtime = st.st_mtime;
	while (getline(&line, &cap, f) > 0)
		if (line[0] != '#')
			dm_line(dm, line);
	free(line);
	fclose(f);
}

static void dm_free(struct daemon_metrics *dm)
{
	free(dm->vm);
	dm->vm = NULL;
	dm->nvm = 0;
}

static double dm_get(const struct dm_set *set, const char *name)
{
	for (int i = 0; i < set->n; i++)
		if (!strcmp(set->s[i].name, name))
			return set->s[i].v;
	return 0;
}

static void dm_row(const char *pid, const char *name, const struct dm_set *set,
		   const char *cpu)
{
	char comm[64];

	/* a comm is any bytes: no control character reaches the terminal */
	snprintf(comm, sizeof(comm), "%s", name);
	for (char *c = comm; *c; c++)
		if (iscntrl((unsigned char)*c))
			*c = '?';
	printf("%-8s %-16s %12.0f %12.0f %9.0f %9.0f %12.0f %10.1f %8.2f\n",
	       pid, comm, dm_get(set, "pages_scanned_total"),
	       dm_get(set, "pages_freed_total"), dm_get(set, "pages_busy_total"),
	       dm_get(set, "pages_pinned_total"),
	       dm_get(set, "pages_skipped_total"),
	       dm_get(set, "bytes_returned_total") / (1 << 20), dm_get(set, cpu));
}

static void print_daemon_table(const struct daemon_metrics *dm)
{
	char pid[16];

	printf("\n");
	if (dm->err) {
		printf("shmemzerod: no metrics in %s (%s)\n", dm->path,
		       dm->err == ENOENT ? "not running?" : strerror(dm->err));
		return;
	}
	printf("shmemzerod: %s, written %.0f s ago: %.0f VMs, %.0f passes, %.2f s CPU\n",
	       dm->path, difftime(time(NULL), dm->mtime),
	       dm_get(&dm->total, "vms"), dm_get(&dm->total, "passes_total"),
	       dm_get(&dm->total, "cpu_seconds_total"));
	printf("%-8s %-16s %12s %12s %9s %9s %12s %10s %8s\n", "pid", "comm",
	       "scanned", "freed", "busy", "pinned", "skipped", "freed_MiB",
	       "cpu_s");
	for (int i = 0; i < dm->nvm; i++) {
		snprintf(pid, sizeof(pid), "%ld", dm->vm[i].pid);
		dm_row(pid, dm->vm[i].comm, &dm->vm[i], "vm_cpu_seconds_total");
	}
	dm_row("total", "", &dm->total, "cpu_seconds_total");
}

static struct json_object *dm_json_set(const struct dm_set *set)
{
	struct json_object *o = json_object_new_object();

	for (int i = 0; i < set->n; i++) {
		double v = set->s[i].v;

		json_object_object_add(o, set->s[i].name,
				       strstr(set->s[i].name, "seconds") ?
				       json_object_new_double(v) :
				       json_object_new_uint64((uint64_t)v));
	}
	return o;
}

/* {"metrics": PATH, "age_s": N, "total": {...}, "vms": [{"pid":..}]}, or null */
static struct json_object *dm_json(const struct daemon_metrics *dm)
{
	struct json_object *o, *vms;

	if (dm->err)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "metrics", json_object_new_string(dm->path));
	json_object_object_add(o, "age_s",
			       json_object_new_int64((int64_t)difftime(time(NULL), dm->mtime)));
	json_object_object_add(o, "total", dm_json_set(&dm->total));
	vms = json_object_new_array();
	for (int i = 0; i < dm->nvm; i++) {
		struct json_object *vm = dm_json_set(&dm->vm[i]);

		json_object_object_add(vm, "pid", json_object_new_int64(dm->vm[i].pid));
		json_object_object_add(vm, "comm", json_object_new_string(dm->vm[i].comm));
		json_object_array_add(vms, vm);
	}
	json_object_object_add(o, "vms", vms);
	return o;
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

static void print_json(const struct stats *st, const struct daemon_metrics *dm)
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
	json_object_object_add(obj, "daemon", dm_json(dm));
	print_json_object(obj);
}

int cmd_stat(bool json, unsigned int watch, const char *metrics)
{
	struct daemon_metrics dm;
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
		dm_read(&dm, metrics);
		if (json) {
			print_json(&st, &dm);
		} else {
			print_table(&st);
			print_daemon_table(&dm);
		}
		dm_free(&dm);
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
