/*
 * bench_fsync: the floor of an apply + revert under "one fsync per change". The agent's
 * journal (agent/journal.c) appends a "put" record (about 430 bytes for a network.loss fault)
 * before the apply changes anything and a "del" record (32 bytes) after the revert, each
 * followed by fdatasync(2) of the log. This does the same two appends and syncs on a file in
 * DIR (give it the agent's state directory's file system), N pairs, and prints
 * "fsync MEDIAN_US P90_US" per pair. The file is removed at exit.
 *
 * Usage: bench_fsync DIR N
 * Exit status: 0, 1 when a call failed (the reason on stderr), 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

/* Append len bytes at *off and make them durable, as journal.c's wal_append() does. */
static int append_sync(int fd, const char *buf, size_t len, off_t *off)
{
	ssize_t w = pwrite(fd, buf, len, *off);

	if (w < 0)
		return -errno;
	if ((size_t)w != len)
		return -EIO;
	*off += w;
	return fdatasync(fd) ? -errno : 0;
}

int main(int argc, char **argv)
{
	char path[4096], put[430], del[32];
	double *pair;
	off_t off = 0;
	int n, fd, err = 0;

	if (argc != 3 || (n = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: bench_fsync DIR N\n");
		return 2;
	}
	if (snprintf(path, sizeof(path), "%s/bench_fsync.%d", argv[1], (int)getpid()) >=
	    (int)sizeof(path)) {
		fprintf(stderr, "bench_fsync: directory name too long\n");
		return 2;
	}
	pair = calloc(n, sizeof(*pair));
	if (!pair) {
		fprintf(stderr, "bench_fsync: out of memory\n");
		return 1;
	}
	memset(put, 'p', sizeof(put));
	put[sizeof(put) - 1] = '\n';
	memset(del, 'd', sizeof(del));
	del[sizeof(del) - 1] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "bench_fsync: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (int i = 0; !err && i < n; i++) {
		double t0 = bench_now_us();

		err = append_sync(fd, put, sizeof(put), &off);
		if (!err)
			err = append_sync(fd, del, sizeof(del), &off);
		pair[i] = bench_now_us() - t0;
	}
	close(fd);
	unlink(path);
	if (err) {
		fprintf(stderr, "bench_fsync: %s: %s\n", path, strerror(-err));
		return 1;
	}
	printf("fsync %.1f %.1f\n", bench_quantile(pair, n, 0.5), bench_quantile(pair, n, 0.9));
	return 0;
}
