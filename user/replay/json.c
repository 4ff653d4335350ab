// SPDX-License-Identifier: GPL-2.0
/* A small JSON reader for QEMU's VMDESCRIPTION; see json.h. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JSON_MAX_DEPTH	64

struct reader {
	struct json *j;
	const char *s;
	size_t len, pos;
	char *err;
	size_t err_len;
};

static int fail(struct reader *r, const char *what)
{
	snprintf(r->err, r->err_len, "%s", what);
	return -1;
}

static void skip_space(struct reader *r)
{
	while (r->pos < r->len && (r->s[r->pos] == ' ' || r->s[r->pos] == '\t' ||
				   r->s[r->pos] == '\n' || r->s[r->pos] == '\r'))
		r->pos++;
}

static uint32_t new_node(struct reader *r, enum json_type type)
{
	struct json *j = r->j;

	if (j->count == j->cap) {
		uint32_t cap = j->cap ? j->cap * 2 : 256;
		struct json_node *n;

		if (cap < j->cap || cap >= JSON_NONE)
			return JSON_NONE;
		n = realloc(j->nodes, cap * sizeof(*n));
		if (!n)
			return JSON_NONE;
		j->nodes = n;
		j->cap = cap;
	}
	j->nodes[j->count] = (struct json_node) {
		.type = type, .key = JSON_NONE, .child = JSON_NONE,
		.next = JSON_NONE, .str = JSON_NONE,
	};
	return j->count++;
}

static int hex4(const char *s, unsigned int *v)
{
	unsigned int i, x = 0;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		x <<= 4;
		if (c >= '0' && c <= '9')
			x |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			x |= (unsigned int)(c - 'A' + 10);
		else
			return -1;
	}
	*v = x;
	return 0;
}

/* A string at r->pos (on the quote); its decoded offset in *at. */
static int read_string(struct reader *r, uint32_t *at)
{
	struct json *j = r->j;

	r->pos++;
	*at = (uint32_t)j->strs_len;
	while (r->pos < r->len) {
		unsigned char c = (unsigned char)r->s[r->pos++];
		unsigned int u;

		if (c == '"') {
			j->strs[j->strs_len++] = '\0';
			return 0;
		}
		if (c < 0x20)
			return fail(r, "control character in string");
		if (c != '\\') {
			j->strs[j->strs_len++] = (char)c;
			continue;
		}
		if (r->pos >= r->len)
			break;
		c = (unsigned char)r->s[r->pos++];
		switch (c) {
		case '"': case '\\': case '/':
			break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			if (r->len - r->pos < 4 || hex4(r->s + r->pos, &u))
				return fail(r, "bad \\u escape");
			r->pos += 4;
			/* idstrs are ASCII; anything else is kept as '?' */
			c = u && u < 0x80 ? (unsigned char)u : '?';
			break;
		default:
			return fail(r, "bad escape");
		}
		j->strs[j->strs_len++] = (char)c;
	}
	return fail(r, "unterminated string");
}

static int read_value(struct reader *r, uint32_t *out, int depth);

static int read_container(struct reader *r, uint32_t node, bool object,
			  int depth)
{
	uint32_t last = JSON_NONE;
	char close = object ? '}' : ']';

	r->pos++;
	skip_space(r);
	if (r->pos < r->len && r->s[r->pos] == close) {
		r->pos++;
		return 0;
	}
	for (;;) {
		uint32_t key = JSON_NONE, val;

		skip_space(r);
		if (object) {
			if (r->pos >= r->len || r->s[r->pos] != '"')
				return fail(r, "expected a member name");
			if (read_string(r, &key))
				return -1;
			skip_space(r);
			if (r->pos >= r->len || r->s[r->pos] != ':')
				return fail(r, "expected ':'");
			r->pos++;
		}
		if (read_value(r, &val, depth + 1))
			return -1;
		r->j->nodes[val].key = key;
		if (last == JSON_NONE)
			r->j->nodes[node].child = val;
		else
			r->j->nodes[last].next = val;
		last = val;
		skip_space(r);
		if (r->pos >= r->len)
			return fail(r, "unterminated container");
		if (r->s[r->pos] == ',') {
			r->pos++;
			continue;
		}
		if (r->s[r->pos] == close) {
			r->pos++;
			return 0;
		}
		return fail(r, object ? "expected ',' or '}'" :
				"expected ',' or ']'");
	}
}

static int read_value(struct reader *r, uint32_t *out, int depth)
{
	const char *s;
	uint32_t n;

	if (depth > JSON_MAX_DEPTH)
		return fail(r, "nested too deep");
	skip_space(r);
	if (r->pos >= r->len)
		return fail(r, "expected a value");
	s = r->s + r->pos;
	switch (*s) {
	case '{':
	case '[':
		n = new_node(r, *s == '{' ? JSON_OBJECT : JSON_ARRAY);
		if (n == JSON_NONE)
			return fail(r, "out of memory");
		*out = n;
		return read_container(r, n, *s == '{', depth);
	case '"':
		n = new_node(r, JSON_STRING);
		if (n == JSON_NONE)
			return fail(r, "out of memory");
		*out = n;
		return read_string(r, &r->j->nodes[n].str);
	case 't':
	case 'f':
	case 'n': {
		const char *word = *s == 't' ? "true" : *s == 'f' ? "false" :
				   "null";
		size_t wl = strlen(word);

		if (r->len - r->pos < wl || memcmp(s, word, wl))
			return fail(r, "bad literal");
		n = new_node(r, *s == 'n' ? JSON_NULL : JSON_BOOL);
		if (n == JSON_NONE)
			return fail(r, "out of memory");
		r->j->nodes[n].num = *s == 't';
		r->pos += wl;
		*out = n;
		return 0;
	}
	default: {
		bool neg = *s == '-';
		uint64_t v = 0;
		size_t digits = 0;

		if (neg)
			r->pos++;
		while (r->pos < r->len && r->s[r->pos] >= '0' &&
		       r->s[r->pos] <= '9') {
			unsigned int d = (unsigned int)(r->s[r->pos++] - '0');

			if (v > (UINT64_MAX - d) / 10)
				return fail(r, "integer too large");
			v = v * 10 + d;
			digits++;
		}
		if (!digits)
			return fail(r, "unexpected character");
		if (r->pos < r->len && (r->s[r->pos] == '.' ||
					r->s[r->pos] == 'e' ||
					r->s[r->pos] == 'E'))
			return fail(r, "non-integer number");
		if (v > INT64_MAX)
			return fail(r, "integer too large");
		n = new_node(r, JSON_INT);
		if (n == JSON_NONE)
			return fail(r, "out of memory");
		r->j->nodes[n].num = neg ? -(int64_t)v : (int64_t)v;
		*out = n;
		return 0;
	}
	}
}

int json_parse(struct json *j, const char *text, size_t len, size_t *err_at,
	       char *err, size_t err_len)
{
	struct reader r = { j, text, len, 0, err, err_len };
	uint32_t root;

	memset(j, 0, sizeof(*j));
	*err_at = 0;
	/* Decoded strings never exceed the text that holds them. */
	j->strs = malloc(len + 1);
	if (!j->strs) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (read_value(&r, &root, 0))
		goto fail;
	skip_space(&r);
	if (r.pos != len) {
		fail(&r, "data after the JSON value");
		goto fail;
	}
	return 0;
fail:
	*err_at = r.pos;
	return -1;
}

void json_free(struct json *j)
{
	free(j->nodes);
	free(j->strs);
	memset(j, 0, sizeof(*j));
}

const struct json_node *json_root(const struct json *j)
{
	return j->count ? &j->nodes[0] : NULL;
}

const struct json_node *json_first(const struct json *j,
				   const struct json_node *n)
{
	if (!n || (n->type != JSON_ARRAY && n->type != JSON_OBJECT) ||
	    n->child == JSON_NONE)
		return NULL;
	return &j->nodes[n->child];
}

const struct json_node *json_next(const struct json *j,
				  const struct json_node *n)
{
	return n && n->next != JSON_NONE ? &j->nodes[n->next] : NULL;
}

const struct json_node *json_get(const struct json *j,
				 const struct json_node *obj, const char *key)
{
	const struct json_node *n;

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (n = json_first(j, obj); n; n = json_next(j, n))
		if (n->key != JSON_NONE && !strcmp(j->strs + n->key, key))
			return n;
	return NULL;
}

const char *json_str(const struct json *j, const struct json_node *obj,
		     const char *key)
{
	const struct json_node *n = json_get(j, obj, key);

	return n && n->type == JSON_STRING ? j->strs + n->str : NULL;
}

int64_t json_int(const struct json *j, const struct json_node *obj,
		 const char *key, int64_t def)
{
	const struct json_node *n = json_get(j, obj, key);

	return n && n->type == JSON_INT ? n->num : def;
}
