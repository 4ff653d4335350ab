/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SHMEMZERO_TOOL_H
#define SHMEMZERO_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit statuses, also in shmemzero(8). */
enum {
	EXIT_OK		= 0,
	EXIT_FAIL	= 1,	/* anything else */
	EXIT_USAGE	= 2,
	EXIT_NO_MODULE	= 3,	/* /dev/shmem_zero or its netlink family missing */
	EXIT_PERM	= 4,	/* permission denied */
	EXIT_NO_TARGET	= 5,	/* no such process, fd or file */
	EXIT_NOT_TMPFS	= 6,	/* the file is not on tmpfs */
};

#define DEFAULT_CONFIG	"/etc/shmem-zero/shmemzerod.conf"
#define DEFAULT_METRICS_DIR	"/run/shmem-zero"
#define DEFAULT_METRICS	DEFAULT_METRICS_DIR "/shmemzerod.prom"

struct json_object;

int cmd_stat(bool json, unsigned int watch, const char *metrics);
void print_json_object(struct json_object *obj);
int cmd_reset(void);
bool parse_size(const char *s, uint64_t *v);

/*
 * A line of shmemzerod.conf, "key = value" with '#' comments, split in
 * place: 1 with *key and *val set, 0 for a blank line, -1 without '='.
 */
int conf_split(char *line, char **key, char **val);

/* The metrics file shmemzerod writes with this configuration file. */
const char *daemon_metrics_path(const char *config);

/*
 * fn(fd, link, arg) for each fd of pid on a memfd or a /dev/shm file, as
 * /proc/PID/fd lists them, until fn returns nonzero; that value, or 0, or
 * -errno if the listing cannot be read, or fails part way (the caller
 * must not take a missing fd for a closed one then).
 */
int proc_shm_fds(pid_t pid, int (*fn)(int fd, const char *link, void *arg),
		 void *arg);

#endif
