/*
 * The steady-state checks of a run (before and after), each in its own thread so that slow
 * ones do not add up.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "exp.h"
#include "run_checks.h"
#include "run_state.h"

#define SEC 1000000000LL

struct check_job {
	const struct exp_check *c;
	struct run_check res; /* the thread's own: copied out once every check is done */
	int64_t deadline_ns;
	int done_fd;
	pthread_t thr;
	bool started;
};

static void *check_main(void *p)
{
	struct check_job *j = p;

	j->res.started_ns = fleet_now_ns();
	j->res.err = guard_check_run(j->c, j->deadline_ns, &j->res.reading);
	j->res.done_ns = fleet_now_ns();
	run_wake(j->done_fd);
	return NULL;
}

static int64_t probe_timeout(const struct exp_probe *p)
{
	switch (p->kind) {
	case PROBE_HTTP:
		return p->u.http.timeout_ns;
	case PROBE_PROMETHEUS:
		return p->u.prometheus.timeout_ns;
	case PROBE_COMMAND:
		return p->u.command.timeout_ns;
	case PROBE_BURN_RATE:
		return p->u.burn_rate.http ? p->u.burn_rate.http->timeout_ns
					   : p->u.burn_rate.prometheus->timeout_ns;
	}
	return 10 * SEC;
}

int run_checks_eval(const struct exp_check *c, size_t n, struct run_check *out, int sfd, int *signo)
{
	struct check_job *jobs = calloc(n ? n : 1, sizeof(*jobs));
	uint64_t done = 0;
	size_t started = 0;
	int efd;

	if (!jobs)
		return -ENOMEM;
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0) {
		free(jobs);
		return -errno;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t t = probe_timeout(&c[i].probe);

		/* A rate-based HTTP check needs its window of requests; allow for it. */
		if (c[i].probe.kind == PROBE_HTTP)
			t += c[i].probe.u.http.window_ns;
		jobs[i] = (struct check_job){.c = &c[i],
					     .res = {.name = c[i].name},
					     .deadline_ns = fleet_now_ns() + t + SEC,
					     .done_fd = -1};
		jobs[i].done_fd = efd;
		jobs[i].started = !pthread_create(&jobs[i].thr, NULL, check_main, &jobs[i]);
		if (jobs[i].started) {
			started++;
			continue;
		}
		/* Without a thread it is still evaluated, here; its wake-up is not counted. */
		jobs[i].done_fd = -1;
		check_main(&jobs[i]);
	}
	while (done < started) {
		struct pollfd pfd[2] = {{.fd = efd, .events = POLLIN},
					{.fd = sfd, .events = POLLIN}};
		uint64_t v;

		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			*signo = read(sfd, &si, sizeof(si)) == sizeof(si) ? (int)si.ssi_signo
									  : SIGINT;
			return -EINTR; /* jobs and efd stay with the threads */
		}
		if ((pfd[0].revents & POLLIN) && read(efd, &v, sizeof(v)) == sizeof(v))
			done += v;
	}
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].started)
			pthread_join(jobs[i].thr, NULL);
		out[i] = jobs[i].res;
	}
	close(efd);
	free(jobs);
	return 0;
}

bool run_check_passes(const struct exp_check *c, const struct run_check *rc)
{
	if (rc->err)
		return false;
	if (!rc->reading.valid)
		return c->on_error != EXP_ON_ERROR_ABORT;
	return rc->reading.healthy;
}
