// SPDX-License-Identifier: GPL-2.0
/*
 * test_stream: szr_parse() (user/replay/stream.c) on streams built here, as
 * TAP.  A callback's errno is what szr_parse() returns; a stream with many
 * device sections, in an order other than the VMDESCRIPTION's, parses; a
 * VMDESCRIPTION whose JSON is broken makes device sections unskippable,
 * with a message that says where.
 *
 *   test_stream SEED_FULL      (user/replay/corpus/seed-full)
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "stream.h"

#define PAGE		4096
#define NR_DEVICES	20000

static int failed, nr;

static void result(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - stream: ", ok ? "ok" : "not ok", ++nr);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	failed += !ok;
}

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void be(struct buf *b, uint64_t v, int n)
{
	while (n--) {
		uint8_t c = v >> (8 * n);

		put(b, &c, 1);
	}
}

static void u8(struct buf *b, uint8_t v) { put(b, &v, 1); }

static void name(struct buf *b, const char *s)
{
	u8(b, strlen(s));
	put(b, s, strlen(s));
}

/*
 * magic, version, a ram section of one block of 4 pages (zero pages), then
 * nr_dev FULL sections "dev%u" instance i in reverse order, each with a
 * 1-byte field, EOF, and a VMDESCRIPTION listing them in order; broken: its
 * JSON cut short.
 */
static struct buf stream(unsigned int nr_dev, bool broken)
{
	struct json_object *root = json_object_new_object();
	struct json_object *devs = json_object_new_array();
	struct buf b = { 0 };
	const char *text;
	char dev[32];
	size_t len;

	be(&b, 0x5145564d, 4);
	be(&b, 3, 4);
	u8(&b, 0x01);				/* SECTION_START */
	be(&b, 1, 4);
	name(&b, "ram");
	be(&b, 0, 4);
	be(&b, 4, 4);
	be(&b, 4 * PAGE | 0x04, 8);		/* MEM_SIZE */
	name(&b, "pc.ram");
	be(&b, 4 * PAGE, 8);
	be(&b, 0x10, 8);			/* EOS */
	u8(&b, 0x03);				/* SECTION_END */
	be(&b, 1, 4);
	for (unsigned int i = 0; i < 4; i++) {
		be(&b, i * PAGE | 0x02 | (i ? 0x20 : 0), 8);
		if (!i)
			name(&b, "pc.ram");
		u8(&b, 0);
	}
	be(&b, 0x10, 8);
	for (unsigned int i = nr_dev; i-- > 0;) {
		snprintf(dev, sizeof(dev), "dev%u", i % 7);
		u8(&b, 0x04);			/* SECTION_FULL */
		be(&b, 2 + i, 4);
		name(&b, dev);
		be(&b, i, 4);			/* instance */
		be(&b, 1, 4);
		u8(&b, 0x5a);
	}
	for (unsigned int i = 0; i < nr_dev; i++) {
		struct json_object *d = json_object_new_object();
		struct json_object *fields = json_object_new_array();
		struct json_object *f = json_object_new_object();

		snprintf(dev, sizeof(dev), "dev%u", i % 7);
		json_object_object_add(d, "name", json_object_new_string(dev));
		json_object_object_add(d, "instance_id", json_object_new_int(i));
		json_object_object_add(f, "name", json_object_new_string("b"));
		json_object_object_add(f, "size", json_object_new_int(1));
		json_object_array_add(fields, f);
		json_object_object_add(d, "fields", fields);
		json_object_array_add(devs, d);
	}
	json_object_object_add(root, "page_size", json_object_new_int(PAGE));
	json_object_object_add(root, "devices", devs);
	u8(&b, 0x00);				/* EOF */
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	len = strlen(text) - (broken ? 2 : 0);
	u8(&b, 0x06);
	be(&b, len, 4);
	put(&b, text, len);
	json_object_put(root);
	return b;
}

static int blocks_fail(void *ctx, const struct szr_block *b, unsigned int n)
{
	(void)ctx, (void)b, (void)n;
	return ENOSPC;
}

int main(int argc, char **argv)
{
	static const struct szr_ops fail_ops = { .blocks = blocks_fail };
	struct szr_info *info = calloc(1, sizeof(*info));
	struct szr_error err;
	struct buf b;
	FILE *f;
	int ret;

	if (argc != 2 || !info) {
		fprintf(stderr, "usage: test_stream SEED_FULL\n");
		return 2;
	}
	printf("1..5\n");
	f = fopen(argv[1], "rb");
	b = (struct buf){ 0 };
	if (f) {
		uint8_t chunk[4096];
		size_t n;

		while ((n = fread(chunk, 1, sizeof(chunk), f)))
			put(&b, chunk, n);
		fclose(f);
	}
	ret = szr_parse(b.p, b.len, NULL, NULL, info, &err);
	result(!ret && info->nr_blocks == 2 && info->device_sections == 3,
	       "%s parses: %d blocks, %llu device sections (%s)", argv[1],
	       info->nr_blocks, (unsigned long long)info->device_sections,
	       ret ? err.msg : "ok");
	ret = szr_parse(b.p, b.len, &fail_ops, NULL, info, &err);
	result(ret == ENOSPC && strstr(err.msg, "block list"),
	       "a blocks callback's errno (ENOSPC) is what szr_parse returns: %d (%s)",
	       ret, err.msg);
	free(b.p);

	b = stream(NR_DEVICES, false);
	ret = szr_parse(b.p, b.len, NULL, NULL, info, &err);
	result(!ret && info->device_sections == NR_DEVICES,
	       "%d device sections in reverse order of the VMDESCRIPTION parse: "
	       "%llu (%s)", NR_DEVICES, (unsigned long long)info->device_sections,
	       ret ? err.msg : "ok");
	ret = szr_parse(b.p, b.len, &fail_ops, NULL, info, &err);
	result(ret == ENOSPC, "and a blocks callback's errno stops it: %d", ret);
	free(b.p);

	b = stream(3, true);
	ret = szr_parse(b.p, b.len, NULL, NULL, info, &err);
	result(ret == -1 && strstr(err.msg, "JSON is invalid at offset"),
	       "a VMDESCRIPTION cut short: device sections cannot be skipped (%s)",
	       err.msg);
	free(b.p);
	free(info);
	return failed ? 1 : 0;
}
