/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small JSON reader for QEMU's VMDESCRIPTION: objects, arrays, strings,
 * integers, true/false/null.  Nodes live in one array and link by index.
 */
#ifndef SZR_JSON_H
#define SZR_JSON_H

#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_INT, JSON_STRING, JSON_ARRAY,
		 JSON_OBJECT };

#define JSON_NONE	UINT32_MAX

struct json_node {
	enum json_type type;
	uint32_t key;		/* object members: offset of the key in strs */
	uint32_t child;		/* arrays, objects: first element */
	uint32_t next;		/* next element of the parent */
	int64_t num;		/* integers and booleans */
	uint32_t str;		/* strings: offset in strs (NUL-terminated) */
};

struct json {
	struct json_node *nodes;
	uint32_t count, cap;
	char *strs;		/* decoded strings, one after the other */
	size_t strs_len;
};

/*
 * Parse text[0, len).  0, or -1 with *err_at (byte offset in text) and a
 * message in err.  json_free() in both cases.
 */
int json_parse(struct json *j, const char *text, size_t len, size_t *err_at,
	       char *err, size_t err_len);
void json_free(struct json *j);

/* The root node, a member of an object, an element: NULL if none. */
const struct json_node *json_root(const struct json *j);
const struct json_node *json_get(const struct json *j,
				 const struct json_node *obj, const char *key);
const struct json_node *json_first(const struct json *j,
				   const struct json_node *n);
const struct json_node *json_next(const struct json *j,
				  const struct json_node *n);
/* A string member's text, an integer member's value (def if missing). */
const char *json_str(const struct json *j, const struct json_node *obj,
		     const char *key);
int64_t json_int(const struct json *j, const struct json_node *obj,
		 const char *key, int64_t def);

#endif /* SZR_JSON_H */
