// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU 7.2 migration stream parser; see stream.h.  Layout, from
 * migration/savevm.c and migration/ram.c of Debian's qemu 7.2:
 *
 *   be32 QEMU_VM_FILE_MAGIC, be32 QEMU_VM_FILE_VERSION (3)
 *   [QEMU_VM_CONFIGURATION: be32 len, machine name, subsections]
 *   sections:
 *     START/FULL: u8 type, be32 section_id, u8 len, idstr, be32 instance_id,
 *                 be32 version_id, body, [QEMU_VM_SECTION_FOOTER be32 id]
 *     PART/END:   u8 type, be32 section_id, body, [footer]
 *     COMMAND:    u8 type, be16 cmd, be16 len, len bytes
 *   QEMU_VM_EOF
 *   [QEMU_VM_VMDESCRIPTION: be32 len, JSON]
 *
 * The "ram" body is a list of be64 (offset | flags) entries up to EOS.  A
 * device body has no length on the wire; the VMDESCRIPTION at the end of
 * the file (written for scripts/analyze-migration.py) gives the size of
 * every field and lists the subsections sent, which is what is used here.
 */
#define _FILE_OFFSET_BITS 64	/* off_t: 64-bit on i386 too */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "stream.h"

#define QEMU_VM_FILE_MAGIC		0x5145564d
#define QEMU_VM_FILE_VERSION_COMPAT	0x00000002
#define QEMU_VM_FILE_VERSION		0x00000003

#define QEMU_VM_EOF			0x00
#define QEMU_VM_SECTION_START		0x01
#define QEMU_VM_SECTION_PART		0x02
#define QEMU_VM_SECTION_END		0x03
#define QEMU_VM_SECTION_FULL		0x04
#define QEMU_VM_SUBSECTION		0x05
#define QEMU_VM_VMDESCRIPTION		0x06
#define QEMU_VM_CONFIGURATION		0x07
#define QEMU_VM_COMMAND			0x08
#define QEMU_VM_SECTION_FOOTER		0x7e

#define MIG_CMD_OPEN_RETURN_PATH	1
#define MIG_CMD_PING			2

#define RAM_SAVE_FLAG_FULL		0x01	/* obsolete */
#define RAM_SAVE_FLAG_ZERO		0x02
#define RAM_SAVE_FLAG_MEM_SIZE		0x04
#define RAM_SAVE_FLAG_PAGE		0x08
#define RAM_SAVE_FLAG_EOS		0x10
#define RAM_SAVE_FLAG_CONTINUE		0x20
#define RAM_SAVE_FLAG_XBZRLE		0x40
#define RAM_SAVE_FLAG_HOOK		0x80
#define RAM_SAVE_FLAG_COMPRESS_PAGE	0x100

#define RAM_VERSION			4
#define TARGET_PAGE_BITS_DEFAULT	12	/* x86 */

struct parser {
	const uint8_t *buf;
	size_t len, pos;
	const struct szr_ops *ops;
	void *ctx;
	struct szr_info *info;
	struct szr_error *err;
	uint64_t page;
	bool ignore_shared;		/* x-ignore-shared: blocks carry an addr */
	int last_block;			/* for RAM_SAVE_FLAG_CONTINUE */
	bool ram_seen;
	uint32_t ram_section;
	/* VMDESCRIPTION: where, and the parsed JSON or why it failed */
	bool vmdesc_found;
	size_t vmdesc_at;
	struct json_object *vmdesc;	/* the whole description */
	struct json_object *devices;	/* its "devices" array */
	struct json_object *index;	/* "name/instance" -> index in devices */
	char json_err[160];
};

static int perr(struct parser *p, size_t at, const char *fmt, ...)
{
	va_list ap;

	p->err->offset = at;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Are n more bytes there?  what: for the message. */
static int need(struct parser *p, size_t n, const char *what)
{
	if (p->len - p->pos >= n)
		return 0;
	return perr(p, p->pos, "truncated: %s needs %zu bytes at offset %zu, "
		    "the stream ends at %zu", what, n, p->pos, p->len);
}

static int get8(struct parser *p, const char *what, uint8_t *v)
{
	if (need(p, 1, what))
		return -1;
	*v = p->buf[p->pos++];
	return 0;
}

static int get_be(struct parser *p, unsigned int bytes, const char *what,
		  uint64_t *v)
{
	unsigned int i;

	if (need(p, bytes, what))
		return -1;
	*v = 0;
	for (i = 0; i < bytes; i++)
		*v = *v << 8 | p->buf[p->pos++];
	return 0;
}

static int get32(struct parser *p, const char *what, uint32_t *v)
{
	uint64_t x;

	if (get_be(p, 4, what, &x))
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/* A u8 length and that many bytes, as a C string (QEMU idstrs). */
static int get_name(struct parser *p, const char *what, char name[256])
{
	uint8_t n;

	if (get8(p, what, &n) || need(p, n, what))
		return -1;
	memcpy(name, p->buf + p->pos, n);
	name[n] = '\0';
	p->pos += n;
	return 0;
}

static int callback(struct parser *p, size_t at, int ret, const char *what)
{
	if (!ret)
		return 0;
	perr(p, at, "%s failed: %s", what, strerror(ret));
	return ret;
}

/* ---- VMDESCRIPTION ------------------------------------------------------ */

/* A member of @obj of one JSON type, or NULL. */
static struct json_object *member(struct json_object *obj, const char *key,
				  enum json_type type)
{
	struct json_object *v;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* A string member's text, an integer member's value (def if none). */
static const char *member_str(struct json_object *obj, const char *key)
{
	return json_object_get_string(member(obj, key, json_type_string));
}

static int64_t member_int(struct json_object *obj, const char *key, int64_t def)
{
	struct json_object *v = member(obj, key, json_type_int);

	return v ? json_object_get_int64(v) : def;
}

/* The index's key of a device: "name/instance_id". */
static void device_key(char *key, size_t len, const char *name, long long instance)
{
	snprintf(key, len, "%.255s/%lld", name, instance);
}

/*
 * Index the devices by device_key() (the first of a name and instance
 * wins): a section finds its description in one hash lookup.
 */
static int index_devices(struct parser *p)
{
	size_t i, n = json_object_array_length(p->devices);
	char key[300];

	p->index = json_object_new_object();
	if (!p->index)
		return -1;
	for (i = 0; i < n; i++) {
		struct json_object *d = json_object_array_get_idx(p->devices, i);
		const char *name = member_str(d, "name");

		if (!name)
			continue;
		device_key(key, sizeof(key), name, member_int(d, "instance_id", -1));
		if (!json_object_object_get_ex(p->index, key, NULL) &&
		    json_object_object_add(p->index, key, json_object_new_int64(i)))
			return -1;
	}
	return 0;
}

/*
 * The file ends with u8 QEMU_VM_VMDESCRIPTION, be32 len, len bytes of JSON.
 * JSON holds no 0x06 byte, so the last match from the end is the one; the
 * scan goes back SZR_VMDESC_MAX bytes at most (QEMU's description of a
 * large machine is a few hundred KiB).
 */
static void find_vmdesc(struct parser *p)
{
	struct json_tokener *tok;
	enum json_tokener_error e;
	size_t q, stop, len;

	if (p->len < 6)
		return;
	stop = p->len - 6 > SZR_VMDESC_MAX ? p->len - 6 - SZR_VMDESC_MAX : 0;
	for (q = p->len - 6;; q--) {
		const uint8_t *b = p->buf + q;

		if (b[0] == QEMU_VM_VMDESCRIPTION && b[5] == '{' &&
		    ((uint64_t)b[1] << 24 | (uint64_t)b[2] << 16 |
		     (uint64_t)b[3] << 8 | b[4]) == p->len - q - 5) {
			p->vmdesc_found = true;
			p->vmdesc_at = q;
			break;
		}
		if (q == stop)
			return;
	}
	len = p->len - q - 5;
	tok = json_tokener_new_ex(SZR_VMDESC_DEPTH);
	if (!tok) {
		snprintf(p->json_err, sizeof(p->json_err), "out of memory");
		return;
	}
	p->vmdesc = json_tokener_parse_ex(tok, (const char *)p->buf + q + 5, (int)len);
	e = json_tokener_get_error(tok);
	if (!p->vmdesc || e != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		snprintf(p->json_err, sizeof(p->json_err),
			 "its JSON is invalid at offset %zu: %s",
			 q + 5 + json_tokener_get_parse_end(tok),
			 e == json_tokener_continue ? "unexpected end" :
			 e != json_tokener_success ? json_tokener_error_desc(e) :
			 "data after the value");
		json_object_put(p->vmdesc);
		p->vmdesc = NULL;
		json_tokener_free(tok);
		return;
	}
	json_tokener_free(tok);
	p->devices = member(p->vmdesc, "devices", json_type_array);
	if (!p->devices)
		snprintf(p->json_err, sizeof(p->json_err),
			 "it has no \"devices\" array");
	else if (index_devices(p)) {
		snprintf(p->json_err, sizeof(p->json_err), "out of memory");
		p->devices = NULL;
	}
}

/* The description of device (name, instance). */
static struct json_object *find_device(struct parser *p, const char *name,
				       uint32_t instance)
{
	struct json_object *i;
	char key[300];

	device_key(key, sizeof(key), name, instance);
	if (!json_object_object_get_ex(p->index, key, &i))
		return NULL;
	return json_object_array_get_idx(p->devices, json_object_get_int64(i));
}

/* Skip the fields and subsections vmsd describes (a device or subsection). */
static int skip_vmsd(struct parser *p, struct json_object *vmsd,
		     const char *dev, int depth)
{
	struct json_object *fields = member(vmsd, "fields", json_type_array);
	struct json_object *subs = member(vmsd, "subsections", json_type_array);
	size_t i, nf = fields ? json_object_array_length(fields) : 0;
	size_t ns = subs ? json_object_array_length(subs) : 0;

	if (depth > 32)
		return perr(p, p->pos, "device '%s': subsections nested too deep",
			    dev);
	if ((!fields && json_object_object_get_ex(vmsd, "fields", NULL)) ||
	    (!subs && json_object_object_get_ex(vmsd, "subsections", NULL)))
		return perr(p, p->pos, "device '%s': VMDESCRIPTION fields or "
			    "subsections are not arrays", dev);
	for (i = 0; i < nf; i++) {
		struct json_object *f = json_object_array_get_idx(fields, i);
		int64_t size = member_int(f, "size", -1);
		int64_t n = member_int(f, "array_len", 1);
		const char *name = member_str(f, "name");

		if (size < 0 || n < 1 || size > UINT32_MAX || n > INT32_MAX)
			return perr(p, p->pos, "device '%s': field '%s' has no "
				    "valid size in the VMDESCRIPTION", dev,
				    name ? name : "?");
		if (need(p, (size_t)(size * n), "a device field"))
			return -1;
		p->pos += (size_t)(size * n);
	}
	for (i = 0; i < ns; i++) {
		struct json_object *f = json_object_array_get_idx(subs, i);
		const char *want = member_str(f, "vmsd_name");
		size_t at = p->pos;
		char name[256];
		uint32_t version;
		uint8_t mark;

		if (!want)
			return perr(p, at, "device '%s': a subsection without "
				    "vmsd_name in the VMDESCRIPTION", dev);
		if (get8(p, "a subsection", &mark))
			return -1;
		if (mark != QEMU_VM_SUBSECTION)
			return perr(p, at, "device '%s': expected subsection "
				    "'%s' (0x05), found 0x%02x", dev, want, mark);
		if (get_name(p, "a subsection name", name) ||
		    get32(p, "a subsection version", &version))
			return -1;
		if (strcmp(name, want))
			return perr(p, at, "device '%s': subsection '%s' where "
				    "the VMDESCRIPTION says '%s'", dev, name,
				    want);
		if (skip_vmsd(p, f, dev, depth + 1))
			return -1;
	}
	return 0;
}

static int skip_device(struct parser *p, size_t at, const char *name,
		       uint32_t instance)
{
	struct json_object *d;

	if (!p->vmdesc_found)
		return perr(p, at, "device section '%s' cannot be skipped: the "
			    "stream has no VMDESCRIPTION to size it", name);
	if (!p->devices)
		return perr(p, at, "device section '%s' cannot be skipped: the "
			    "VMDESCRIPTION at offset %zu is unusable: %s",
			    name, p->vmdesc_at, p->json_err);
	d = find_device(p, name, instance);
	if (!d)
		return perr(p, at, "device section '%s' instance %u is not in "
			    "the VMDESCRIPTION", name, instance);
	return skip_vmsd(p, d, name, 0);
}

/* ---- RAM ---------------------------------------------------------------- */

static int find_block(struct parser *p, const char *name)
{
	unsigned int i;

	for (i = 0; i < p->info->nr_blocks; i++)
		if (!strcmp(p->info->blocks[i].name, name))
			return (int)i;
	return -1;
}

/* RAM_SAVE_FLAG_MEM_SIZE: blocks until their lengths add up to total. */
static int ram_blocks(struct parser *p, uint64_t total)
{
	struct szr_info *in = p->info;
	bool first = in->nr_blocks == 0;
	size_t list = p->pos - 8;

	while (total) {
		size_t at = p->pos;
		uint64_t length, addr;
		char name[256];
		int b;

		if (get_name(p, "a RAM block name", name) ||
		    get_be(p, 8, "a RAM block length", &length))
			return -1;
		if (p->ignore_shared && get_be(p, 8, "a RAM block address",
					       &addr))
			return -1;
		if (!name[0])
			return perr(p, at, "RAM block with an empty name");
		if (!length || length % p->page)
			return perr(p, at, "RAM block '%s': length %#llx is not "
				    "a positive multiple of the page size", name,
				    (unsigned long long)length);
		if (length > total)
			return perr(p, at, "RAM block '%s': length %#llx exceeds "
				    "the %#llx bytes left of the announced total",
				    name, (unsigned long long)length,
				    (unsigned long long)total);
		total -= length;
		b = find_block(p, name);
		if (!first) {
			if (b < 0 || in->blocks[b].length != length)
				return perr(p, at, "RAM block list changed at "
					    "'%s' (resizing is not supported)",
					    name);
			continue;
		}
		if (b >= 0)
			return perr(p, at, "RAM block '%s' listed twice", name);
		if (in->nr_blocks == SZR_MAX_BLOCKS)
			return perr(p, at, "more than %d RAM blocks",
				    SZR_MAX_BLOCKS);
		memcpy(in->blocks[in->nr_blocks].name, name, sizeof(name));
		in->blocks[in->nr_blocks++].length = length;
	}
	if (first && !in->nr_blocks)
		return perr(p, list, "empty RAM block list");
	if (first && p->ops->blocks)
		return callback(p, list, p->ops->blocks(p->ctx, in->blocks,
							in->nr_blocks),
				"applying the RAM block list");
	return 0;
}

/* The block a page entry names (or CONTINUE reuses). */
static int ram_block(struct parser *p, size_t at, unsigned int flags,
		     uint64_t offset)
{
	char name[256];
	int b;

	if (flags & RAM_SAVE_FLAG_CONTINUE) {
		if (p->last_block < 0)
			return perr(p, at, "RAM_SAVE_FLAG_CONTINUE with no "
				    "previous block");
		b = p->last_block;
	} else {
		if (get_name(p, "a RAM block name", name))
			return -1;
		b = find_block(p, name);
		if (b < 0)
			return perr(p, at, "page of unknown RAM block '%s'",
				    name);
		p->last_block = b;
	}
	if (offset >= p->info->blocks[b].length)
		return perr(p, at, "page offset %#llx beyond RAM block '%s' "
			    "(%#llx bytes)", (unsigned long long)offset,
			    p->info->blocks[b].name,
			    (unsigned long long)p->info->blocks[b].length);
	return b;
}

/* ram_load_precopy(): entries up to and including EOS. */
static int ram_body(struct parser *p)
{
	for (;;) {
		size_t at = p->pos;
		uint64_t word, offset;
		unsigned int flags;
		int b = -1, ret;
		uint8_t byte;

		if (get_be(p, 8, "a RAM page header", &word))
			return -1;
		flags = (unsigned int)(word & (p->page - 1));
		offset = word & ~(p->page - 1);
		if (flags & (RAM_SAVE_FLAG_ZERO | RAM_SAVE_FLAG_PAGE |
			     RAM_SAVE_FLAG_XBZRLE | RAM_SAVE_FLAG_COMPRESS_PAGE)) {
			b = ram_block(p, at, flags, offset);
			if (b < 0)
				return -1;
		}
		switch (flags & ~RAM_SAVE_FLAG_CONTINUE) {
		case RAM_SAVE_FLAG_MEM_SIZE:
			ret = ram_blocks(p, offset);
			if (ret)	/* -1, or the blocks callback's errno */
				return ret;
			break;
		case RAM_SAVE_FLAG_ZERO:
			if (get8(p, "a zero page's fill byte", &byte))
				return -1;
			if (byte)
				p->info->fill_pages++;
			else
				p->info->zero_pages++;
			ret = p->ops->fill ? p->ops->fill(p->ctx, (unsigned int)b,
							  offset, byte) : 0;
			if (callback(p, at, ret, "applying a zero page"))
				return ret;
			break;
		case RAM_SAVE_FLAG_PAGE:
			if (need(p, p->page, "a RAM page"))
				return -1;
			p->info->data_pages++;
			ret = p->ops->page ? p->ops->page(p->ctx, (unsigned int)b,
							  offset,
							  p->buf + p->pos) : 0;
			p->pos += p->page;
			if (callback(p, at, ret, "applying a RAM page"))
				return ret;
			break;
		case RAM_SAVE_FLAG_EOS:
			p->info->eos++;
			ret = p->ops->eos ? p->ops->eos(p->ctx) : 0;
			return callback(p, at, ret, "the EOS flush");
		case RAM_SAVE_FLAG_XBZRLE:
			return perr(p, at, "XBZRLE page: not supported (source "
				    "had the xbzrle capability)");
		case RAM_SAVE_FLAG_COMPRESS_PAGE:
			return perr(p, at, "compressed page: not supported "
				    "(source had the compress capability)");
		default:
			if (flags & RAM_SAVE_FLAG_HOOK)
				return perr(p, at, "RAM_SAVE_FLAG_HOOK (RDMA): "
					    "not supported");
			return perr(p, at, "unknown RAM page flags %#x", flags);
		}
	}
}

/* ---- sections ----------------------------------------------------------- */

static int footer(struct parser *p, uint32_t id)
{
	size_t at = p->pos;
	uint32_t got;

	/* Machine types since 2.4 send it; the byte cannot start a section. */
	if (p->pos >= p->len || p->buf[p->pos] != QEMU_VM_SECTION_FOOTER)
		return 0;
	p->pos++;
	if (get32(p, "a section footer", &got))
		return -1;
	if (got != id)
		return perr(p, at, "section footer for id %u, expected %u", got,
			    id);
	return 0;
}

static int configuration(struct parser *p)
{
	size_t at = p->pos;
	uint32_t len, version, count, i;
	char name[256];

	if (get32(p, "the machine name length", &len))
		return -1;
	if (len > 255)
		return perr(p, at, "machine name of %u bytes", len);
	if (need(p, len, "the machine name"))
		return -1;
	memcpy(p->info->machine, p->buf + p->pos, len);
	p->info->machine[len] = '\0';
	p->pos += len;
	while (p->pos < p->len && p->buf[p->pos] == QEMU_VM_SUBSECTION) {
		at = p->pos++;
		if (get_name(p, "a subsection name", name) ||
		    get32(p, "a subsection version", &version))
			return -1;
		if (!strcmp(name, "configuration/target-page-bits")) {
			uint32_t bits;

			if (get32(p, "target-page-bits", &bits))
				return -1;
			if (bits < 12 || bits > 16)
				return perr(p, at, "target page bits %u", bits);
			p->page = UINT64_C(1) << bits;
			p->info->page_size = (uint32_t)p->page;
		} else if (!strcmp(name, "configuration/capabilities")) {
			if (get32(p, "the capability count", &count))
				return -1;
			for (i = 0; i < count; i++) {
				if (get_name(p, "a capability", name))
					return -1;
				if (!strcmp(name, "x-ignore-shared"))
					p->ignore_shared = true;
			}
		} else if (!strcmp(name, "configuration/uuid")) {
			if (need(p, 16, "the UUID"))
				return -1;
			p->pos += 16;
		} else {
			return perr(p, at, "unknown configuration subsection "
				    "'%s'", name);
		}
	}
	return 0;
}

static int section_start(struct parser *p, uint8_t type, size_t at)
{
	uint32_t id, instance, version;
	char name[256];
	int ret;

	if (get32(p, "a section id", &id) ||
	    get_name(p, "a section name", name) ||
	    get32(p, "an instance id", &instance) ||
	    get32(p, "a version id", &version))
		return -1;
	if (!strcmp(name, "ram")) {
		if (instance != 0 || version != RAM_VERSION)
			return perr(p, at, "ram section instance %u version %u "
				    "(want 0 and %d)", instance, version,
				    RAM_VERSION);
		if (p->ram_seen && id != p->ram_section)
			return perr(p, at, "a second ram section (id %u)", id);
		p->ram_seen = true;
		p->ram_section = id;
		p->info->ram_sections++;
		ret = ram_body(p);
		if (ret)
			return ret;
	} else if (type == QEMU_VM_SECTION_FULL) {
		p->info->device_sections++;
		if (skip_device(p, at, name, instance))
			return -1;
	} else {
		return perr(p, at, "iterable section '%s' is not RAM: its "
			    "parts cannot be sized (block migration, dirty "
			    "bitmaps and VFIO are not supported)", name);
	}
	return footer(p, id);
}

static int section_part(struct parser *p, size_t at)
{
	uint32_t id;
	int ret;

	if (get32(p, "a section id", &id))
		return -1;
	if (!p->ram_seen || id != p->ram_section)
		return perr(p, at, "part of section id %u, which is not the "
			    "ram section", id);
	p->info->ram_sections++;
	ret = ram_body(p);
	return ret ? ret : footer(p, id);
}

static int command(struct parser *p, size_t at)
{
	uint64_t cmd, len;

	if (get_be(p, 2, "a command", &cmd) ||
	    get_be(p, 2, "a command length", &len))
		return -1;
	if (!(cmd == MIG_CMD_OPEN_RETURN_PATH && len == 0) &&
	    !(cmd == MIG_CMD_PING && len == 4))
		return perr(p, at, "command %u (length %u) not supported: "
			    "postcopy, COLO and packaged streams are out of "
			    "scope", (unsigned int)cmd, (unsigned int)len);
	p->info->commands++;
	if (need(p, len, "command data"))
		return -1;
	p->pos += len;
	return 0;
}

int szr_parse(const uint8_t *buf, size_t len, const struct szr_ops *ops,
	      void *ctx, struct szr_info *info, struct szr_error *err)
{
	static const struct szr_ops none;
	struct parser p = {
		.buf = buf, .len = len, .ops = ops ? ops : &none, .ctx = ctx,
		.info = info, .err = err,
		.page = UINT64_C(1) << TARGET_PAGE_BITS_DEFAULT,
		.last_block = -1,
	};
	uint32_t magic, version;
	int ret = -1;

	memset(info, 0, sizeof(*info));
	memset(err, 0, sizeof(*err));
	if (get32(&p, "the file magic", &magic))
		goto out;
	if (magic != QEMU_VM_FILE_MAGIC) {
		perr(&p, 0, "not a QEMU migration stream (magic %#010x)", magic);
		goto out;
	}
	if (get32(&p, "the file version", &version))
		goto out;
	if (version != QEMU_VM_FILE_VERSION) {
		perr(&p, 4, "stream version %u: only %d is supported%s", version,
		     QEMU_VM_FILE_VERSION, version == QEMU_VM_FILE_VERSION_COMPAT ?
		     " (v2 is obsolete)" : "");
		goto out;
	}
	info->page_size = (uint32_t)p.page;
	find_vmdesc(&p);
	if (p.devices) {
		int64_t ps = member_int(p.vmdesc, "page_size", 0);

		if (ps && (ps < 4096 || ps > 65536 || (ps & (ps - 1)))) {
			perr(&p, p.vmdesc_at, "VMDESCRIPTION page_size %lld",
			     (long long)ps);
			goto out;
		}
		if (ps)
			p.page = (uint64_t)ps;
		info->page_size = (uint32_t)p.page;
	}
	if (p.pos < len && buf[p.pos] == QEMU_VM_CONFIGURATION) {
		p.pos++;
		if (configuration(&p))
			goto out;
	}
	for (;;) {
		size_t at = p.pos;
		uint8_t type;

		if (p.vmdesc_found && at == p.vmdesc_at) {
			perr(&p, at, "VMDESCRIPTION before QEMU_VM_EOF");
			goto out;
		}
		if (get8(&p, "a section type", &type))
			goto out;
		if (type == QEMU_VM_EOF)
			break;
		switch (type) {
		case QEMU_VM_SECTION_START:
		case QEMU_VM_SECTION_FULL:
			ret = section_start(&p, type, at);
			break;
		case QEMU_VM_SECTION_PART:
		case QEMU_VM_SECTION_END:
			ret = section_part(&p, at);
			break;
		case QEMU_VM_COMMAND:
			ret = command(&p, at);
			break;
		default:
			ret = perr(&p, at, "unknown section type %#04x", type);
			break;
		}
		if (ret)
			goto out;
		ret = -1;
	}
	if (p.pos != len && (!p.vmdesc_found || p.pos != p.vmdesc_at)) {
		perr(&p, p.pos, "%zu bytes after QEMU_VM_EOF that are not a "
		     "VMDESCRIPTION", len - p.pos);
		goto out;
	}
	if (!p.ram_seen) {
		perr(&p, p.pos, "no ram section in the stream");
		goto out;
	}
	info->page_size = (uint32_t)p.page;
	info->vmdesc = p.vmdesc_found;
	info->vmdesc_offset = p.vmdesc_at;
	ret = 0;
out:
	json_object_put(p.index);
	json_object_put(p.vmdesc);
	return ret;
}
