/* SPDX-License-Identifier: GPL-2.0 */
/*
 * io_uring through liburing for the kselftests: a registered buffer is a
 * long-term pin (FOLL_PIN | FOLL_LONGTERM) of a mapping's pages, and
 * READ_FIXED / WRITE_FIXED on it are a device's DMA into / out of them.
 * Include after shmem_zero_util.h.
 */
#ifndef SHMEM_ZERO_RING_H
#define SHMEM_ZERO_RING_H

#include <liburing.h>

struct ring {
	struct io_uring uring;
	bool open;
};

#define URING_SYSCTL	"/proc/sys/kernel/io_uring_disabled"

/* A ring of four entries: 0 or an errno. */
static inline int ring_open(struct ring *r)
{
	char old[16];
	int e;

	memset(r, 0, sizeof(*r));
	e = -io_uring_queue_init(4, &r->uring, 0);
	if (e == EPERM && file_read(URING_SYSCTL, old, sizeof(old)) &&
	    strcmp(old, "0") && file_write(URING_SYSCTL, "0")) {
		/* io_uring_disabled (6.6+) only gates ring creation */
		e = -io_uring_queue_init(4, &r->uring, 0);
		file_write(URING_SYSCTL, old);
	}
	r->open = !e;
	return e;
}

/* Also of a ring never opened (zeroed) or closed already. */
static inline void ring_close(struct ring *r)
{
	if (!r->open)
		return;
	r->open = false;
	io_uring_queue_exit(&r->uring);
}

/* [addr, addr + len) becomes fixed buffer 0: every page pinned (faulted in). */
static inline int ring_pin(struct ring *r, void *addr, size_t len)
{
	struct iovec iov = { addr, len };

	return -io_uring_register_buffers(&r->uring, &iov, 1);
}

static inline int ring_unpin(struct ring *r)
{
	return -io_uring_unregister_buffers(&r->uring);
}

/*
 * One IORING_OP_READ_FIXED (file -> buffer 0: the "device" writes the pinned
 * pages), IORING_OP_WRITE_FIXED (buffer 0 -> file: what the device sees) or
 * IORING_OP_NOP, synchronously: the completion's res (bytes or -errno).
 */
static inline int ring_rw(struct ring *r, int op, int fd, void *buf, unsigned int len,
			  uint64_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
	struct io_uring_cqe *cqe;
	int res;

	if (!sqe)
		return -EBUSY;
	if (op == IORING_OP_READ_FIXED)
		io_uring_prep_read_fixed(sqe, fd, buf, len, off, 0);
	else if (op == IORING_OP_WRITE_FIXED)
		io_uring_prep_write_fixed(sqe, fd, buf, len, off, 0);
	else
		io_uring_prep_nop(sqe);
	res = io_uring_submit_and_wait(&r->uring, 1);
	if (res < 0)
		return res;
	res = io_uring_peek_cqe(&r->uring, &cqe);
	if (res < 0)
		return res;
	res = cqe->res;
	io_uring_cqe_seen(&r->uring, cqe);
	return res;
}

#endif /* SHMEM_ZERO_RING_H */
