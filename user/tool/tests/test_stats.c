// SPDX-License-Identifier: GPL-2.0
/*
 * The GET_STATS reply parser of shmemzero(8) (stats.c's parse_reply()) on
 * replies built here with libnl: a well-formed one, and ones whose lengths
 * or attributes are wrong, which must be dropped, never read past; and the
 * reader of shmemzerod's metrics file (dm_read()) on files written here.
 * No module and no socket: the host suite runs it. TAP on stdout.
 */
#include "../stats.c"

#include <stdlib.h>

#define FAMILY	0x20

static int tests, failed;

static void ok(bool pass, const char *name)
{
	printf("%sok %d - shmemzero netlink: %s\n", pass ? "" : "not ", ++tests, name);
	failed += !pass;
}

void print_json_object(struct json_object *obj)
{
	json_object_put(obj);
}

static struct nl_msg *reply(void)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, FAMILY, 0, 0,
				 SHMEM_ZERO_CMD_GET_STATS, SHMEM_ZERO_GENL_VERSION)) {
		fprintf(stderr, "test_stats: out of memory\n");
		exit(1);
	}
	return msg;
}

/* A mode nest; calls_len 8 is right, 4 a short attribute. */
static void put_mode(struct nl_msg *msg, uint32_t id, uint64_t calls, int calls_len)
{
	struct nlattr *n = nla_nest_start(msg, SHMEM_ZERO_A_MODE);

	nla_put_u32(msg, SHMEM_ZERO_A_MODE_ID, id);
	nla_put(msg, SHMEM_ZERO_A_MODE_CALLS, calls_len, &calls);
	nla_put_u64(msg, SHMEM_ZERO_A_MODE_BYTES, calls * 4096);
	nla_nest_end(msg, n);
}

static void put_error(struct nl_msg *msg, uint32_t err, uint64_t count, bool with_count)
{
	struct nlattr *n = nla_nest_start(msg, SHMEM_ZERO_A_ERROR);

	nla_put_u32(msg, SHMEM_ZERO_A_ERROR_ERRNO, err);
	if (with_count)
		nla_put_u64(msg, SHMEM_ZERO_A_ERROR_COUNT, count);
	nla_nest_end(msg, n);
}

static int parse(struct nl_msg *msg, struct stats *st)
{
	int ret;

	memset(st, 0, sizeof(*st));
	ret = parse_reply(msg, st);
	nlmsg_free(msg);
	return ret;
}

static bool all_zero(const struct stats *st)
{
	static const struct stats zero;

	return !memcmp(st, &zero, sizeof(zero));
}

/* shmemzerod's metrics as it writes them, with lines to skip among them. */
static void test_daemon_metrics(void)
{
	char path[] = "/tmp/test_stats.XXXXXX";
	struct daemon_metrics dm;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		perror("test_stats: mkstemp");
		exit(1);
	}
	fputs("# HELP shmemzerod_pages_freed_total All-zero pages freed.\n"
	      "# TYPE shmemzerod_pages_freed_total counter\n"
	      "shmemzerod_pages_freed_total 300\n"
	      "shmemzerod_pages_freed_total{pid=\"10\",comm=\"qemu-system-x86\"} 100\n"
	      "shmemzerod_pages_freed_total{pid=\"11\",comm=\"a\\\"b\\\\c\\nd\"} 200\n"
	      "shmemzerod_vm_cpu_seconds_total{pid=\"10\",comm=\"qemu-system-x86\"} 1.5\n"
	      "shmemzerod_cpu_seconds_total 2.25\n"
	      "shmemzerod_vms 2\n"
	      "other_metric 5\n"
	      "shmemzerod_bad{pid=\"12\",comm=\"x} 1\n"
	      "shmemzerod_bad{pid=\"-1\"} 1\n"
	      "shmemzerod_bad 1x\n"
	      "shmemzerod_bad{pid=\"13\"}\n"
	      "shmemzerod_", f);
	fclose(f);
	dm_read(&dm, path);
	ok(!dm.err && dm.nvm == 2 && dm.total.n == 3 &&
	   dm_get(&dm.total, "pages_freed_total") == 300 &&
	   dm_get(&dm.total, "cpu_seconds_total") == 2.25 &&
	   dm_get(&dm.total, "vms") == 2 &&
	   dm.vm[0].pid == 10 && !strcmp(dm.vm[0].comm, "qemu-system-x86") &&
	   dm_get(&dm.vm[0], "pages_freed_total") == 100 &&
	   dm_get(&dm.vm[0], "vm_cpu_seconds_total") == 1.5,
	   "daemon metrics: totals and per-VM series read, other lines skipped");
	ok(dm.nvm == 2 && dm.vm[1].pid == 11 && !strcmp(dm.vm[1].comm, "a\"b\\c\nd") &&
	   dm_get(&dm.vm[1], "pages_freed_total") == 200,
	   "daemon metrics: a comm with quote, backslash and newline unescaped");
	dm_free(&dm);
	unlink(path);
	dm_read(&dm, path);
	ok(dm.err == ENOENT && !dm.nvm && !dm_json(&dm),
	   "daemon metrics: no file: ENOENT, and null in --json");
}

int main(void)
{
	struct stats st;
	struct nl_msg *msg;
	uint32_t short_u64 = 7;
	char buf[16];
	bool pass;
	int i;

	printf("1..11\n");

	/* Every attribute in place. */
	msg = reply();
	for (i = 0; i < NR_PAGES; i++)
		nla_put_u64(msg, SHMEM_ZERO_A_HOLE_PAGES + i, 1000 + i);
	put_mode(msg, SHMEM_ZERO_MODE_QUERY, 5, 8);
	put_mode(msg, SHMEM_ZERO_MODE_ZERO_IN_PLACE, 9, 8);
	put_error(msg, EINTR, 3, true);
	put_error(msg, 0, 2, true);
	pass = parse(msg, &st) == NL_OK && st.nr_errors == 2 &&
	       st.mode[SHMEM_ZERO_MODE_QUERY][SHMEM_ZERO_A_MODE_CALLS] == 5 &&
	       st.mode[SHMEM_ZERO_MODE_QUERY][SHMEM_ZERO_A_MODE_BYTES] == 5 * 4096 &&
	       st.mode[SHMEM_ZERO_MODE_ZERO_IN_PLACE][SHMEM_ZERO_A_MODE_CALLS] == 9 &&
	       st.mode[SHMEM_ZERO_MODE_DISCARD][SHMEM_ZERO_A_MODE_CALLS] == 0 &&
	       st.errors[0].err == EINTR && st.errors[0].count == 3 &&
	       st.errors[1].err == 0 && st.errors[1].count == 2;
	for (i = 0; i < NR_PAGES; i++)
		pass &= st.pages[i] == 1000ULL + i;
	ok(pass, "a well-formed reply: every counter read");

	/* A page counter 4 bytes long: the policy (NLA_U64) drops the reply. */
	msg = reply();
	nla_put_u64(msg, SHMEM_ZERO_A_HOLE_PAGES, 1);
	nla_put(msg, SHMEM_ZERO_A_ZERO_PAGES, sizeof(short_u64), &short_u64);
	put_mode(msg, SHMEM_ZERO_MODE_QUERY, 5, 8);
	ok(parse(msg, &st) == NL_SKIP && all_zero(&st),
	   "a 4-byte u64 page counter: the reply is skipped, nothing read");

	/* A short counter inside one mode nest: that nest alone is dropped. */
	msg = reply();
	put_mode(msg, SHMEM_ZERO_MODE_DISCARD, 6, 4);
	put_mode(msg, SHMEM_ZERO_MODE_RECLAIM, 8, 8);
	pass = parse(msg, &st) == NL_OK;
	ok(pass && st.mode[SHMEM_ZERO_MODE_DISCARD][SHMEM_ZERO_A_MODE_CALLS] == 0 &&
	   st.mode[SHMEM_ZERO_MODE_DISCARD][SHMEM_ZERO_A_MODE_BYTES] == 0 &&
	   st.mode[SHMEM_ZERO_MODE_RECLAIM][SHMEM_ZERO_A_MODE_CALLS] == 8,
	   "a 4-byte u64 in a mode nest: that mode dropped, the next one read");

	/* A mode this tool does not know (a newer module): ignored. */
	msg = reply();
	put_mode(msg, NR_MODES, 4, 8);
	put_mode(msg, UINT32_MAX, 4, 8);
	ok(parse(msg, &st) == NL_OK && all_zero(&st),
	   "mode ids past the last known one: ignored, no write past the table");

	/* An error nest without its count, and a short errno. */
	msg = reply();
	put_error(msg, EPERM, 1, false);
	{
		struct nlattr *n = nla_nest_start(msg, SHMEM_ZERO_A_ERROR);
		uint16_t e = EBUSY;

		nla_put(msg, SHMEM_ZERO_A_ERROR_ERRNO, sizeof(e), &e);
		nla_put_u64(msg, SHMEM_ZERO_A_ERROR_COUNT, 1);
		nla_nest_end(msg, n);
	}
	put_error(msg, EFAULT, 4, true);
	ok(parse(msg, &st) == NL_OK && st.nr_errors == 1 && st.errors[0].err == EFAULT &&
	   st.errors[0].count == 4,
	   "an error nest without a count, one with a 2-byte errno: both dropped");

	/* More errnos than the table holds: the first NR_ERRORS kept. */
	msg = reply();
	for (i = 1; i <= NR_ERRORS + 8; i++)
		put_error(msg, i, i, true);
	ok(parse(msg, &st) == NL_OK && st.nr_errors == NR_ERRORS &&
	   st.errors[NR_ERRORS - 1].err == NR_ERRORS,
	   "40 error nests: the table keeps 32, nothing written past it");

	/* A truncated message: nlmsg_len says more than the attributes hold. */
	msg = reply();
	nla_put_u64(msg, SHMEM_ZERO_A_HOLE_PAGES, 1);
	nlmsg_hdr(msg)->nlmsg_len -= 4;
	parse(msg, &st);
	ok(all_zero(&st), "an attribute cut short by the message length: not read");

	/* errno names: glibc's, "other" for 0, the number when glibc has none. */
	ok(!strcmp(errno_name(EINTR, buf, sizeof(buf)), "EINTR") &&
	   !strcmp(errno_name(0, buf, sizeof(buf)), "other") &&
	   !strcmp(errno_name(4000, buf, sizeof(buf)), "4000"),
	   "errno names: EINTR, other for 0, 4000 for an errno without a name");

	test_daemon_metrics();
	return failed ? 1 : 0;
}
