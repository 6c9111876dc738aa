/*
 * The watchdog process (watchdog.h). The agent writes fixed-size messages into a pipe (one
 * write of less than PIPE_BUF each, so never torn); the watchdog polls that pipe and a pidfd
 * of the agent, with a timeout at the next lease deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include "agent.h"
#include "caps.h"
#include "fault.h"
#include "journal.h"
#include "log.h"
#include "watchdog.h"

enum wd_op {
	WD_RENEW = 1, /* lease, deadline_ns */
	WD_END,	      /* lease */
	WD_STOP,      /* clean stop: exit without cleaning up */
};

struct wd_msg {
	uint32_t op; /* enum wd_op */
	uint32_t pad;
	uint64_t deadline_ns;
	char lease[24];
};

/* One live lease as the watchdog knows it. */
struct wd_lease {
	char id[24];
	uint64_t deadline_ns;
};

/* The agent's side: the pipe's write end (-1: no watchdog) and the watchdog's pid. */
static int wd_fd = -1;
static pid_t wd_child;
static bool wd_warned;

pid_t watchdog_pid(void)
{
	return wd_fd >= 0 ? wd_child : 0;
}

static void send_msg(const struct wd_msg *m)
{
	ssize_t n;

	if (wd_fd < 0)
		return;
	n = write(wd_fd, m, sizeof(*m));
	if (n == (ssize_t)sizeof(*m))
		return;
	/* A full pipe means the watchdog stopped reading; it still cleans up if we die. */
	if (!wd_warned)
		log_warn("watchdog (pid %d): cannot pass it a lease deadline: %s", (int)wd_child,
			 n < 0 ? strerror(errno) : "short write");
	wd_warned = true;
}

void watchdog_lease(const char *lease_id, uint64_t deadline_ns)
{
	struct wd_msg m = {.op = WD_RENEW, .deadline_ns = deadline_ns};

	snprintf(m.lease, sizeof(m.lease), "%s", lease_id);
	send_msg(&m);
}

void watchdog_lease_end(const char *lease_id)
{
	struct wd_msg m = {.op = WD_END};

	snprintf(m.lease, sizeof(m.lease), "%s", lease_id);
	send_msg(&m);
}

void watchdog_stop(void)
{
	struct wd_msg m = {.op = WD_STOP};
	const struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};

	if (wd_fd < 0)
		return;
	send_msg(&m);
	close(wd_fd);
	wd_fd = -1;
	/* It exits at once; reap it so that nothing of the agent is left behind (bounded). */
	for (int i = 0; i < 300; i++) {
		pid_t r = waitpid(wd_child, NULL, WNOHANG);

		if (r == wd_child || (r < 0 && errno != EINTR))
			return;
		nanosleep(&pause, NULL);
	}
	log_warn("watchdog (pid %d) did not exit within 3 s of the stop", (int)wd_child);
}

/* ---- the watchdog process ---- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The state letter of a process (R, S, T, t, D, Z, ...), or 0 when it cannot be read. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * Keep what the journal's cleanup needs: the fault types' capabilities, CAP_SYS_ADMIN (our
 * leftover filters are recognised by opening their programs by id, as at the agent's start)
 * and CAP_DAC_OVERRIDE (cgroups in a tree not writable by uid 0 as such); CAP_KILL for a hung
 * agent. Everything else goes, as in the agent.
 */
static void restrict_caps(void)
{
	uint64_t keep = 1ULL << CAP_KILL | 1ULL << CAP_SYS_ADMIN | 1ULL << CAP_DAC_OVERRIDE;
	int err;

	if (getuid() != 0)
		return;
	for (size_t i = 0; fault_ops_all[i]; i++)
		keep |= fault_ops_all[i]->caps | fault_ops_all[i]->caps_optional;
	keep &= caps_permitted();
	/* Its cleanup opens programs by id and enters namespaces itself: all stay effective. */
	err = caps_restrict(keep, 0);
	if (err)
		log_warn("watchdog: cannot restrict its capabilities: %s; running with the agent's",
			 strerror(-err));
}

/* Set by watchdog_start() before the fork: the child's way to undo the journal. */
static watchdog_recover_fn wd_recover;

/* Undo what the journal lists, as faultlined --cleanup does. The exit status of the watchdog. */
static int cleanup(const struct agent *snap, pid_t agent, const char *why)
{
	struct agent wa = *snap;
	char path[300];
	json_t *report = NULL;
	int err, failures = 0;

	log_warn("watchdog: %s: undoing what its journal lists", why);
	snprintf(path, sizeof(path), "%s/journal", snap->state_dir);
	/* A descriptor of our own: the agent's was shared with it and died with it. */
	wa.journal = NULL;
	err = journal_open(path, &wa.journal);
	if (!err) {
		/* Dead, or killed by us: its log is a dead writer's even if its exit lags. */
		journal_writer_gone(wa.journal, agent);
		err = wd_recover(&wa, &report, &failures);
	}
	if (err) {
		log_err("watchdog: cannot read the journal %s: %s; the next start or faultlined "
			"--cleanup undoes it",
			path, strerror(-err));
		journal_close(wa.journal);
		return 1;
	}
	log_warn("watchdog: %zu record%s undone, %d failed%s", json_array_size(report) - failures,
		 json_array_size(report) - failures == 1 ? "" : "s", failures,
		 failures ? " (kept for the next start or faultlined --cleanup)" : "");
	json_decref(report);
	journal_close(wa.journal);
	return failures ? 1 : 0;
}

/* Wait (bounded) for the pidfd to report the agent's exit. */
static void wait_exit(int pidfd, int timeout_ms)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};

	while (poll(&p, 1, timeout_ms) < 0 && errno == EINTR)
		;
}

static struct wd_lease *lease_find(struct wd_lease *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].id, id))
			return &v[i];
	return NULL;
}

/*
 * Apply one message. 1 on a clean stop, 0 otherwise; a lease table that cannot grow is
 * reported once and the lease left to the journal cleanup at the agent's death.
 */
static int handle(struct wd_msg *m, struct wd_lease **v, size_t *n, size_t *cap)
{
	struct wd_lease *l;

	m->lease[sizeof(m->lease) - 1] = '\0';
	switch (m->op) {
	case WD_STOP:
		return 1;
	case WD_RENEW:
		l = lease_find(*v, *n, m->lease);
		if (!l) {
			if (*n == *cap) {
				size_t nc = *cap ? *cap * 2 : 16;
				struct wd_lease *p = realloc(*v, nc * sizeof(*p));

				if (!p) {
					log_err("watchdog: out of memory for lease %s", m->lease);
					return 0;
				}
				*v = p;
				*cap = nc;
			}
			l = &(*v)[(*n)++];
			snprintf(l->id, sizeof(l->id), "%s", m->lease);
		}
		l->deadline_ns = m->deadline_ns;
		return 0;
	case WD_END:
		l = lease_find(*v, *n, m->lease);
		if (l)
			*l = (*v)[--*n];
		return 0;
	}
	return 0;
}

static int watchdog_main(const struct agent *a, pid_t agent, int rfd)
{
	struct wd_lease *leases = NULL;
	size_t n = 0, cap = 0;
	char why[200];
	int pidfd, ret;

	prctl(PR_SET_NAME, WATCHDOG_COMM);
	/*
	 * Whoever stops the agent stops it (the agent then says so through the pipe): a SIGTERM
	 * to the whole process group or unit must not take the watchdog along before it knows.
	 */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	pidfd = (int)syscall(SYS_pidfd_open, agent, 0);
	/*
	 * Nothing the agent opened stays open here: its API socket must refuse connections once
	 * it is gone, its state lock must be free for the next agent. The pipe goes to fd 3, the
	 * pidfd to 4, stdin/stdout/stderr (the log) stay.
	 */
	if (dup2(rfd, 3) < 0 || (pidfd >= 0 && dup2(pidfd, 4) < 0)) {
		log_err("watchdog: %s", strerror(errno));
		return 1;
	}
	rfd = 3;
	pidfd = pidfd >= 0 ? 4 : -1;
	syscall(SYS_close_range, pidfd >= 0 ? 5 : 4, ~0U, 0);
	restrict_caps();
	if (pidfd < 0 || getppid() != agent)
		return cleanup(a, agent, "the agent exited before its watchdog started");
	log_info("watchdog (pid %d) watching agent %d", (int)getpid(), (int)agent);

	for (;;) {
		struct pollfd p[2] = {{.fd = rfd, .events = POLLIN},
				      {.fd = pidfd, .events = POLLIN}};
		uint64_t now = mono_ns(), first = UINT64_MAX;
		int timeout = -1;

		for (size_t i = 0; i < n; i++)
			if (leases[i].deadline_ns < first)
				first = leases[i].deadline_ns;
		if (first != UINT64_MAX) {
			uint64_t due = first + WATCHDOG_GRACE_STOPPED_MS * 1000000ULL;

			/* Past the first grace: look again every 20 ms until the second. */
			timeout = due > now ? (int)((due - now + 999999) / 1000000) : 20;
		}
		ret = poll(p, 2, timeout);
		if (ret < 0 && errno != EINTR) {
			snprintf(why, sizeof(why), "poll: %s", strerror(errno));
			break;
		}
		if (ret > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			struct wd_msg m;
			ssize_t r = read(rfd, &m, sizeof(m));

			if (r == (ssize_t)sizeof(m)) {
				if (handle(&m, &leases, &n, &cap)) {
					free(leases);
					return 0;
				}
				continue; /* drain the pipe before judging deadlines */
			}
			if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
				/* The agent's end closed without a stop: it is exiting. */
				wait_exit(pidfd, 1000);
				snprintf(why, sizeof(why), "agent %d died without a clean stop",
					 (int)agent);
				break;
			}
		}
		if (ret > 0 && (p[1].revents & POLLIN)) {
			snprintf(why, sizeof(why), "agent %d died without a clean stop",
				 (int)agent);
			break;
		}
		now = mono_ns();
		for (size_t i = 0; i < n; i++) {
			char st = proc_state(agent);
			uint64_t grace = (st == 'T' || st == 't') ? WATCHDOG_GRACE_STOPPED_MS
								  : WATCHDOG_GRACE_RUNNING_MS;

			if (now < leases[i].deadline_ns + grace * 1000000ULL)
				continue;
			snprintf(why, sizeof(why),
				 "lease %s is %llu ms past its deadline and agent %d (state %c) "
				 "has not ended it: killing the agent",
				 leases[i].id,
				 (unsigned long long)((now - leases[i].deadline_ns) / 1000000),
				 (int)agent, st ? st : '?');
			log_err("watchdog: %s", why);
			if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) &&
			    errno != ESRCH)
				log_err("watchdog: SIGKILL to agent %d: %s", (int)agent,
					strerror(errno));
			wait_exit(pidfd, 5000);
			goto out;
		}
	}
out:
	free(leases);
	return cleanup(a, agent, why);
}

int watchdog_start(const struct agent *a, watchdog_recover_fn recover)
{
	int p[2], err;
	pid_t agent = getpid(), pid;

	wd_recover = recover;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	/* Never block the agent's loop: a full pipe loses a renewal, not the agent's time. */
	if (fcntl(p[1], F_SETFL, O_NONBLOCK)) {
		err = -errno;
		goto fail;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto fail;
	}
	if (pid == 0) {
		close(p[1]);
		_exit(watchdog_main(a, agent, p[0]));
	}
	close(p[0]);
	wd_fd = p[1];
	wd_child = pid;
	return 0;

fail:
	close(p[0]);
	close(p[1]);
	return err;
}
