/*
 * The agent's own scheduling: the event loop's thread at a real-time priority, the agent's
 * session autogroup at a nice level (faultlined --loop-realtime, --nice).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "priority.h"

static void pool_noop(uv_work_t *w)
{
	(void)w;
}

static void pool_noop_done(uv_work_t *w, int status)
{
	(void)status;
	free(w);
}

int priority_loop_realtime(uv_loop_t *loop, int prio)
{
	struct sched_param sp = {.sched_priority = prio};
	uv_work_t *w = calloc(1, sizeof(*w));
	int err;

	/*
	 * The worker threads first, so they inherit the agent's nice level and ordinary
	 * policy: the pool is created by the first work item, from this thread, and with
	 * SCHED_RESET_ON_FORK a thread created later would start at nice 0.
	 */
	if (!w)
		return -ENOMEM;
	err = uv_queue_work(loop, w, pool_noop, pool_noop_done);
	if (err) {
		free(w);
		return err;
	}
	/*
	 * This thread only (the tid), and never inherited: a process or thread it creates
	 * starts with the ordinary policy (SCHED_RESET_ON_FORK).
	 */
	if (syscall(SYS_sched_setscheduler, (pid_t)syscall(SYS_gettid),
		    SCHED_RR | SCHED_RESET_ON_FORK, &sp))
		return -errno;
	return 0;
}

int priority_autogroup_nice(int nice)
{
	char val[16];
	int fd, len, err = 0;
	ssize_t w;

	if (getsid(0) != getpid())
		return -ESRCH;
	fd = open("/proc/self/autogroup", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/*
	 * The nice level of each thread weighs only inside this group: without this, the
	 * group of an agent at nice -10 weighs as much as any session at nice 0, and on a
	 * host loaded by other sessions (or by the stressors' own group) the event loop
	 * waited tens of milliseconds for a CPU at each wakeup (measured).
	 */
	len = snprintf(val, sizeof(val), "%d", nice);
	w = write(fd, val, (size_t)len);
	if (w != len)
		err = w < 0 ? -errno : -EIO;
	close(fd);
	return err;
}
