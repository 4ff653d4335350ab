// SPDX-License-Identifier: GPL-2.0
/* What shmemzero(8) and shmemzerod(8) share. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

/* A byte count: a number with an optional K, M, G or T (powers of 1024). */
bool parse_size(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long n;
	int shift = 0;

	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 'T': case 't': shift += 10; /* fall through */
	case 'G': case 'g': shift += 10; /* fall through */
	case 'M': case 'm': shift += 10; /* fall through */
	case 'K': case 'k': shift += 10; end++; break;
	}
	if (*end || (shift && n > (UINT64_MAX >> shift)))
		return false;
	*v = (uint64_t)n << shift;
	return true;
}

static char *trim(char *s)
{
	char *end;

	s += strspn(s, " \t");
	for (end = s + strlen(s); end > s && isspace((unsigned char)end[-1]);)
		*--end = 0;
	return s;
}

int conf_split(char *line, char **key, char **val)
{
	char *eq;

	line[strcspn(line, "#\n")] = 0;
	*key = trim(line);
	if (!**key)
		return 0;
	eq = strchr(*key, '=');
	if (!eq)
		return -1;
	*eq = 0;
	*key = trim(*key);
	*val = trim(eq + 1);
	return 1;
}

const char *daemon_metrics_path(const char *config)
{
	static char path[PATH_MAX];
	char *line = NULL, *key, *val;
	size_t cap = 0;
	FILE *f = fopen(config, "re");

	snprintf(path, sizeof(path), "%s", DEFAULT_METRICS);
	while (f && getline(&line, &cap, f) > 0)
		if (conf_split(line, &key, &val) > 0 && !strcmp(key, "metrics") &&
		    *val == '/')
			snprintf(path, sizeof(path), "%s", val);
	free(line);
	if (f)
		fclose(f);
	return path;
}

int proc_shm_fds(pid_t pid, int (*fn)(int fd, const char *link, void *arg),
		 void *arg)
{
	char dir[32], path[32 + 256], link[PATH_MAX];
	struct dirent *d;
	int ret = 0;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	dp = opendir(dir);
	if (!dp)
		return -errno;
	while (!ret) {
		ssize_t n;

		/* an error ends the listing as its end does: tell them apart */
		errno = 0;
		d = readdir(dp);
		if (!d) {
			ret = -errno;
			break;
		}
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;	/* closed meanwhile */
		link[n] = 0;
		if (!strncmp(link, "/memfd:", 7) || !strncmp(link, "/dev/shm/", 9))
			ret = fn(atoi(d->d_name), link, arg);
	}
	closedir(dp);
	return ret;
}
