/* SPDX-License-Identifier: MIT */
/*
 * uring-probe: try io_uring the plain way (io_uring_queue_init and one NOP).
 * Prints "io_uring: ok" and exits 0 when it works, or "io_uring: <error>"
 * and exits 1 when it does not (under no-io-uring: Operation not permitted).
 */
#include <liburing.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_queue_init(4, &ring, 0);
	if (ret < 0) {
		printf("io_uring: %s\n", strerror(-ret));
		return 1;
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_nop(sqe);
	ret = io_uring_submit_and_wait(&ring, 1);
	if (ret >= 0)
		ret = io_uring_wait_cqe(&ring, &cqe);
	io_uring_queue_exit(&ring);
	if (ret < 0) {
		printf("io_uring: %s\n", strerror(-ret));
		return 1;
	}
	printf("io_uring: ok\n");
	return 0;
}
