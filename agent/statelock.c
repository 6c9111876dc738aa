/*
 * The state directory's lock. Two agents on one journal would each revert the other's faults
 * as "left over from an earlier run"; a --cleanup beside a running agent would undo faults
 * that agent still holds leases for. The lock file also carries the holder's pid, for the
 * error message where the lock itself cannot name it (another pid namespace).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "statelock.h"

/* The pid written in the file by its last holder, or 0. */
static pid_t pid_in_file(int fd)
{
	char text[32];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	long v;
	char *end;

	if (n <= 0)
		return 0;
	text[n] = '\0';
	v = strtol(text, &end, 10);
	if (end == text || v <= 0 || v > INT_MAX)
		return 0;
	return (pid_t)v;
}

int statelock_acquire(const char *state_dir, int wait_ms, int *fd_out, pid_t *holder)
{
	const struct timespec step = { .tv_nsec = 50 * 1000 * 1000 };
	int waited_ms = 0;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char path[PATH_MAX], text[32];
	pid_t before;
	int fd, err, len;

	*holder = 0;
	if (snprintf(path, sizeof(path), "%s/lock", state_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	err = journal_mkdir_p(state_dir, 0700);
	if (err)
		return err;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (fcntl(fd, wait_ms < 0 ? F_SETLKW : F_SETLK, &fl)) {
		err = -errno;
		if (err == -EINTR)
			continue;
		if ((err == -EAGAIN || err == -EACCES) && waited_ms < wait_ms) {
			nanosleep(&step, NULL);
			waited_ms += 50;
			continue;
		}
		if (err == -EAGAIN || err == -EACCES) {
			struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

			/* The kernel names the holder; the file does where its pid is not ours. */
			if (!fcntl(fd, F_GETLK, &q) && q.l_type != F_UNLCK && q.l_pid > 0)
				*holder = q.l_pid;
			else
				*holder = pid_in_file(fd);
			err = -EWOULDBLOCK;
		}
		goto err_close;
	}
	errno = 0;
	before = pid_in_file(fd);
	if (before && before != getpid() && !(kill(before, 0) && errno == ESRCH))
		log_info("state lock %s: taken over from pid %d, which no longer holds it", path,
			 (int)before);
	else if (before && before != getpid())
		log_info("state lock %s: taken over from pid %d, which is gone", path, (int)before);
	len = snprintf(text, sizeof(text), "%d\n", (int)getpid());
	if (ftruncate(fd, 0)) {
		err = -errno;
		goto err_close;
	}
	if (pwrite(fd, text, len, 0) != len) {
		err = errno ? -errno : -EIO;
		goto err_close;
	}
	*fd_out = fd;
	return 0;

err_close:
	close(fd);
	return err;
}

void statelock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
