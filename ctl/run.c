/*
 * The run engine of `faultctl run` (and of each step of `faultctl gameday`): check the
 * steady state, apply an experiment's faults on schedule on every agent under renewed
 * leases, watch the guardrails, revert (at the end, on a breach, on Ctrl-C), then wait for
 * the steady state to come back and build the report. The command line is cmd_run.c.
 *
 * Threads: the main thread owns the run loop (signals, breaches, lost leases, the live
 * view); a crew of at most RUN_CREWS threads applies the faults of the local agents at their
 * start offsets, each agent's on its control connection (an ssh:// agent has a crew thread
 * of its own: its calls wait on another host); the fleet loop renews every lease, follows
 * every event stream and sends the revert (fleet_loop.c); the guard set has one thread per
 * guardrail. SIGINT and SIGTERM are blocked in every
 * thread and read from a signalfd by the run loop.
 *
 * Which agent applies which fault, and whether it can: run_plan.c; the crew: run_crew.c.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "exp.h"
#include "inventory.h"
#include "run.h"
#include "run_checks.h"
#include "run_crew.h"
#include "run_events.h"
#include "run_plan.h"
#include "run_report.h"
#include "run_state.h"
#include "run_view.h"

#define MS 1000000LL
#define SEC 1000000000LL

/* The revert: every agent at once, then what each confirmed. */
static void revert_all(struct run *r, const char *why)
{
	size_t failed;

	/*
	 * Workers stop scheduling at once (they are joined later, off the abort's path): one
	 * that wakes sees the flag. They are woken only once the reverts are out: a thousand
	 * of them waking first would take the CPUs from the reverts.
	 */
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_mutex_unlock(&r->lock);
	r->abort_go_ns = fleet_now_ns();
	failed = fleet_revert(&r->fleet);
	pthread_mutex_lock(&r->lock);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	r->revert_ok = !failed;
	r->reverted_ns = 0;
	for (size_t i = 0; i < r->fleet.n; i++) {
		const struct fleet_agent *a = &r->fleet.agents[i];

		if (a->revert_done_ns > r->reverted_ns)
			r->reverted_ns = a->revert_done_ns;
	}
	if (!r->reverted_ns)
		r->reverted_ns = fleet_now_ns();
	for (size_t i = 0; i < r->fleet.n; i++) {
		const struct fleet_agent *a = &r->fleet.agents[i];

		if (!a->revert_started)
			continue;
		if (a->revert_done && !a->revert_err)
			run_event(r, "%s: reverted everything (%s), confirmed after %.1f ms",
				  a->name, why, (a->revert_done_ns - r->abort_go_ns) / 1e6);
		else
			run_event(r, "%s: revert FAILED (%s): %s; the lease expires within %lld ms",
				  a->name, why, a->revert_msg, (long long)r->fleet.ttl_ms);
	}
	fleet_stop_renewals(&r->fleet);
}

/* The run loop: until the end, a breach, a signal, a lost lease or a failed apply. */
static void run_loop(struct run *r, int sfd, int gfd)
{
	int64_t end = r->t0_ns + r->e->duration_ns;
	int64_t cap = r->t0_ns + r->e->safety.max_duration_ns;

	if (cap < end)
		end = cap;
	for (;;) {
		struct pollfd pfd[3] = {
			{.fd = sfd, .events = POLLIN},
			{.fd = r->event_fd, .events = POLLIN},
			{.fd = gfd, .events = POLLIN},
		};
		int64_t now = fleet_now_ns(), left = end - now;
		int timeout = (int)((left + MS - 1) / MS);
		int refresh = r->tty ? 250 : 1000;
		bool failed = false;
		size_t which;

		if (left <= 0) {
			r->outcome = RUN_HELD;
			return;
		}
		if (timeout > refresh)
			timeout = refresh;
		if (poll(pfd, 3, timeout) < 0 && errno != EINTR) {
			snprintf(r->reason, sizeof(r->reason), "poll: %s", strerror(errno));
			r->outcome = RUN_FAILED;
			return;
		}
		if (pfd[2].revents & POLLIN && r->guards &&
		    guardset_breached(r->guards, &r->breach) >= 0) {
			/* Revert first; everything else can wait until the faults are gone. */
			r->breached = true;
			r->outcome = RUN_ABORTED;
			return;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				r->signal = (int)si.ssi_signo;
			snprintf(r->reason, sizeof(r->reason), "interrupted by %s",
				 r->signal == SIGTERM ? "SIGTERM" : "SIGINT");
			r->outcome = RUN_INTERRUPTED;
			return;
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t v;

			if (read(r->event_fd, &v, sizeof(v)) < 0) {
				/* Nonblocking and already drained: the checks below still run. */
			}
		}
		if (fleet_lease_lost(&r->fleet, &which)) {
			fleet_lease_lost_reason(&r->fleet, which, r->reason, sizeof(r->reason));
			r->outcome = RUN_FAILED;
			return;
		}
		pthread_mutex_lock(&r->lock);
		for (size_t i = 0; i < r->n_faults && !failed; i++) {
			if (r->faults[i].state != RF_FAILED)
				continue;
			snprintf(r->reason, sizeof(r->reason), "agent %s: fault '%s': %.300s",
				 r->fleet.agents[r->faults[i].agent].name,
				 r->e->faults[r->faults[i].fault].name, r->faults[i].err);
			failed = true;
		}
		pthread_mutex_unlock(&r->lock);
		if (failed) {
			r->outcome = RUN_FAILED;
			return;
		}
		run_view_update(r, false);
	}
}

/*
 * Ctrl-C while waiting for the recovery. The faults are gone already, so only the waiting
 * stops; a run that a guardrail aborted or that failed keeps that outcome.
 */
static void recovery_interrupted(struct run *r)
{
	const char *sig = r->signal == SIGTERM ? "SIGTERM" : "SIGINT";

	run_event(r, "interrupted by %s while waiting for the steady state to recover", sig);
	if (r->outcome != RUN_HELD)
		return;
	r->outcome = RUN_INTERRUPTED;
	snprintf(r->reason, sizeof(r->reason),
		 "interrupted by %s while waiting for the steady state to recover", sig);
}

/* After the revert: the after-checks, repeated until they pass together or time runs out. */
static int recover(struct run *r, int sfd)
{
	const struct exp_steady_state *ss = &r->e->steady_state;
	int64_t deadline = r->reverted_ns + ss->recovery_timeout_ns;

	if (!ss->n_after) {
		r->recovered = true;
		return 0;
	}
	r->after = calloc(ss->n_after, sizeof(*r->after));
	if (!r->after)
		return -ENOMEM;
	r->n_after = ss->n_after;
	for (size_t i = 0; i < ss->n_after; i++)
		r->after[i].name = ss->after[i].name;
	for (;;) {
		bool all = true;
		int err = run_checks_eval(ss->after, ss->n_after, r->after, sfd, &r->signal);

		if (err == -EINTR) {
			r->checks_abandoned = true;
			recovery_interrupted(r);
			return 0;
		}
		if (err)
			return err;
		r->after_rounds++;
		for (size_t i = 0; i < ss->n_after; i++)
			all &= run_check_passes(&ss->after[i], &r->after[i]);
		if (all) {
			/*
			 * Back from the start of the probes that first passed together, not
			 * from when their readings ended (an HTTP check's burst takes time).
			 */
			r->recovered = true;
			r->recovered_ns = r->reverted_ns;
			for (size_t i = 0; i < ss->n_after; i++)
				if (r->after[i].started_ns > r->recovered_ns)
					r->recovered_ns = r->after[i].started_ns;
			run_event(r,
				  "steady state back after %.0f ms (%zu round%s of after-checks)",
				  (r->recovered_ns - r->reverted_ns) / 1e6, r->after_rounds,
				  r->after_rounds == 1 ? "" : "s");
			return 0;
		}
		if (fleet_now_ns() + 250 * MS > deadline) {
			run_event(r, "steady state NOT back within the recovery timeout (%.0f s)",
				  ss->recovery_timeout_ns / 1e9);
			return 0;
		}
		run_view_update(r, false);
		/* The faults are gone already; Ctrl-C here only stops the waiting. */
		if (poll(&(struct pollfd){.fd = sfd, .events = POLLIN}, 1, 250) > 0) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				r->signal = (int)si.ssi_signo;
			recovery_interrupted(r);
			return 0;
		}
	}
}

static void run_release(struct run *r)
{
	guardset_stop(r->guards);
	run_events_release(r);
	for (size_t i = 0; r->workers && i < r->fleet.n; i++)
		free(r->workers[i].rf);
	for (size_t i = 0; r->crews && i < r->n_crews; i++)
		free(r->crews[i].workers);
	free(r->crews);
	fleet_release(&r->fleet);
	for (size_t i = 0; i < r->n_faults; i++) {
		json_decref(r->faults[i].applied);
		json_decref(r->faults[i].achieved);
	}
	free(r->workers);
	free(r->faults);
	free(r->before);
	free(r->after);
	free(r->guard_final);
	free(r->events);
	if (r->event_fd >= 0)
		close(r->event_fd);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
}

static void fail(struct run *r, int outcome, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct run *r, int outcome, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	r->outcome = outcome;
	run_event(r, "%s", r->reason);
}

static void save_guards(struct run *r)
{
	size_t n = guardset_count(r->guards);

	r->guards_end_ns = fleet_now_ns();
	r->guard_final = calloc(n ? n : 1, sizeof(*r->guard_final));
	if (!r->guard_final)
		return;
	for (size_t i = 0; i < n; i++)
		guardset_status(r->guards, i, &r->guard_final[i]);
	r->n_guards = n;
}

/*
 * The pre-flight, before anything is applied: the before-checks and one reading of every
 * guardrail, all at once. An unhealthy before-check refuses the run, and so does a
 * guardrail that cannot be read (whatever its on_error: a run it cannot watch has no
 * verdict). Returns 0 to go on, or -1 with r->outcome set.
 */
static int preflight_all(struct run *r, int sfd)
{
	const struct experiment *e = r->e;
	size_t nb = e->steady_state.n_before, ng = e->n_guardrails, n = nb + ng;
	struct run_check *res;
	struct exp_check *c;
	int err;

	if (!n)
		return 0;
	/* Guardrails are probed as checks are: once (an HTTP one with a short burst). */
	c = calloc(n, sizeof(*c));
	res = calloc(n, sizeof(*res));
	if (!c || !res) {
		free(c);
		free(res);
		fail(r, RUN_FAILED, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < nb; i++)
		c[i] = e->steady_state.before[i];
	for (size_t i = 0; i < ng; i++)
		c[nb + i] = (struct exp_check){.name = e->guardrails[i].name,
					       .probe = e->guardrails[i].probe,
					       .on_error = EXP_ON_ERROR_ABORT};
	for (size_t i = 0; i < n; i++)
		res[i].name = c[i].name;
	err = run_checks_eval(c, n, res, sfd, &r->signal);
	if (err == -EINTR) {
		/* c stays allocated: check threads still running may read it until exit. */
		free(res);
		r->checks_abandoned = true;
		fail(r, RUN_INTERRUPTED,
		     "interrupted by %s during the before-checks; nothing was applied",
		     r->signal == SIGTERM ? "SIGTERM" : "SIGINT");
		return -1;
	}
	free(c);
	if (err) {
		free(res);
		fail(r, RUN_FAILED, "cannot run the before-checks: %s", strerror(-err));
		return -1;
	}
	/* One allocation, freed through r->before: the pre-flight readings follow the checks. */
	r->before = res;
	r->n_before = nb;
	r->preflight = res + nb;
	r->n_preflight = ng;
	for (size_t i = 0; i < nb; i++) {
		const struct run_check *k = &r->before[i];

		if (run_check_passes(&e->steady_state.before[i], k)) {
			run_event(r, "before-check %s: %s", k->name,
				  k->err ? strerror(-k->err) : k->reading.summary);
			continue;
		}
		fail(r, RUN_REFUSED, "steady state is not healthy before the run: check '%s': %s",
		     k->name, k->err ? strerror(-k->err) : k->reading.summary);
		return -1;
	}
	for (size_t i = 0; i < ng; i++) {
		const struct run_check *k = &r->preflight[i];

		if (!k->err && k->reading.valid) {
			run_event(r, "pre-flight guardrail %s: %s", k->name, k->reading.summary);
			continue;
		}
		fail(r, RUN_REFUSED,
		     "guardrail '%s' cannot be read before the run: %s; nothing was applied",
		     k->name, k->err ? strerror(-k->err) : k->reading.summary);
		return -1;
	}
	return 0;
}

/*
 * A run that held according to guardrails that could not watch it has no verdict: one
 * guardrail without a valid reading over its watch, or blind for more than
 * GUARD_BLIND_MAX_PCT of it, makes it inconclusive. So does a breach decided on a probe
 * error (on_error: abort): the run was rightly stopped, but nothing was measured.
 */
static void judge_coverage(struct run *r)
{
	char why[200];

	if (r->breached && !r->breach.breach.valid) {
		r->outcome = RUN_INCONCLUSIVE;
		snprintf(r->reason, sizeof(r->reason),
			 "guardrail '%s' could not be read (on_error: abort): %s; every fault "
			 "was reverted, nothing was measured",
			 r->breach.name, r->breach.breach.summary);
		run_event(r, "inconclusive: %s", r->reason);
		return;
	}
	if (r->outcome != RUN_HELD)
		return;
	for (size_t i = 0; i < r->n_guards; i++) {
		const struct guard_status *st = &r->guard_final[i];

		if (!guard_coverage_inconclusive(&st->cov, r->guards_end_ns, GUARD_BLIND_MAX_PCT,
						 why, sizeof(why)))
			continue;
		r->outcome = RUN_INCONCLUSIVE;
		snprintf(r->reason, sizeof(r->reason), "guardrail '%s' could not watch the run: %s",
			 st->name, why);
		run_event(r, "inconclusive: %s", r->reason);
		return;
	}
}

/* The run fails with the first agent's error the fleet recorded. */
static void fail_first_agent(struct run *r)
{
	for (size_t i = 0; i < r->fleet.n; i++)
		if (r->fleet.agents[i].err[0]) {
			fail(r, RUN_FAILED, "agent %s: %s", r->fleet.agents[i].name,
			     r->fleet.agents[i].err);
			return;
		}
}

/*
 * Connect to every agent, check that each supports its faults, and run the pre-flight.
 * Returns 0 to go on, or -1 with r->outcome set (a dry run ends here too).
 */
static int connect_all(struct run *r, int sfd)
{
	const struct experiment *e = r->e;
	size_t failed;

	run_event(r, "connecting to %zu agent%s", r->fleet.n, r->fleet.n == 1 ? "" : "s");
	failed = fleet_connect(&r->fleet, !e->safety.dry_run);
	failed += fleet_each(&r->fleet, run_check_types, r);
	if (failed) {
		fail_first_agent(r);
		return -1;
	}
	if (preflight_all(r, sfd))
		return -1;
	if (e->safety.dry_run) {
		fail(r, RUN_DRY_RUN,
		     "dry run: every agent answered and supports its faults; nothing applied");
		return -1;
	}
	return 0;
}

/*
 * The leases, the event streams and the guardrails (their wake fd in *gfd, -1 without
 * guardrails). Returns 0, or -1 with r->outcome set and everything reverted.
 */
static int start_watch(struct run *r, int *gfd)
{
	const struct experiment *e = r->e;
	int err;

	*gfd = -1;
	r->fleet.event_fd = r->event_fd;
	if (fleet_lease_start(&r->fleet, e->safety.lease_ttl_ns / MS)) {
		fail_first_agent(r);
		revert_all(r, "lease setup failed");
		return -1;
	}
	if (run_events_start(r)) {
		fail(r, RUN_FAILED, "out of memory");
		revert_all(r, "out of memory");
		return -1;
	}
	if (!e->n_guardrails)
		return 0;
	*gfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*gfd < 0 || (err = guardset_start(e->guardrails, e->n_guardrails, *gfd, &r->guards))) {
		fail(r, RUN_FAILED, "cannot start the guardrails: %s",
		     strerror(*gfd < 0 ? errno : -err));
		revert_all(r, "guardrails failed to start");
		if (*gfd >= 0)
			close(*gfd);
		*gfd = -1;
		return -1;
	}
	return 0;
}

/* The crews' threads; false (r->outcome set) if one cannot start. */
static bool start_workers(struct run *r)
{
	char why[128];

	if (run_crew_start(r, why, sizeof(why))) {
		fail(r, RUN_FAILED, "%s", why);
		return false;
	}
	return true;
}

/*
 * The end of the injection, however it came: revert everything, stop the workers and the
 * guardrails, judge what they saw, and fail the run when a revert was not confirmed.
 */
static void end_injection(struct run *r)
{
	if (r->breached) {
		revert_all(r, "guardrail breached");
		run_event(r,
			  "guardrail %s BREACHED: %s; all agents reverted %.1f ms after the "
			  "breaching sample",
			  r->breach.name, r->breach.breach.summary,
			  (r->reverted_ns - r->breach.breach.time_ns) / 1e6);
		snprintf(r->reason, sizeof(r->reason), "guardrail '%s' breached: %s",
			 r->breach.name, r->breach.breach.summary);
	} else {
		if (r->outcome != RUN_HELD)
			run_event(r, "aborting: %s", r->reason);
		revert_all(r, r->outcome == RUN_HELD ? "end of the run" : "abort");
	}
	run_crew_stop(r);
	if (r->guards) {
		save_guards(r);
		guardset_stop(r->guards);
		r->guards = NULL;
		judge_coverage(r);
	}
	if (!r->revert_ok && r->outcome != RUN_INTERRUPTED) {
		if (r->outcome == RUN_HELD)
			snprintf(r->reason, sizeof(r->reason),
				 "an agent did not confirm the revert; its lease expires within "
				 "%lld ms",
				 (long long)r->fleet.ttl_ms);
		r->outcome = RUN_FAILED;
	}
}

/*
 * The final figures after the recovery, which must start at once. The agents emitted their
 * final events before answering the revert, so there is rarely anything to wait.
 */
static void finish_recovery(struct run *r, int sfd)
{
	const struct experiment *e = r->e;
	int err;

	if (r->outcome == RUN_INTERRUPTED) {
		run_events_finish(r, 2 * SEC);
		return;
	}
	err = recover(r, sfd);
	run_events_finish(r, 2 * SEC);
	if (err) {
		fail(r, RUN_FAILED, "out of memory");
		return;
	}
	/*
	 * After-checks that failed are a verdict of their own, even over blind guardrails; a
	 * breach that was only a probe error stays inconclusive.
	 */
	if ((r->outcome == RUN_HELD || (r->outcome == RUN_INCONCLUSIVE && !r->breached)) &&
	    !r->recovered) {
		r->outcome = RUN_NOT_RECOVERED;
		snprintf(r->reason, sizeof(r->reason),
			 "the steady state did not come back within %.0f s",
			 e->steady_state.recovery_timeout_ns / 1e9);
	}
}

/* Everything from connecting to the after-checks. Sets r->outcome. */
static void run_experiment(struct run *r, int sfd)
{
	const struct experiment *e = r->e;
	int gfd;

	if (connect_all(r, sfd))
		return;
	if (start_watch(r, &gfd))
		return;
	r->t0_ns = fleet_now_ns();
	clock_gettime(CLOCK_REALTIME, &r->t0_real);
	run_event(r, "run started: %zu fault%s on %zu agent%s for %.0f s, leases of %lld ms",
		  r->n_faults, r->n_faults == 1 ? "" : "s", r->fleet.n, r->fleet.n == 1 ? "" : "s",
		  e->duration_ns / 1e9, (long long)r->fleet.ttl_ms);
	if (start_workers(r))
		run_loop(r, sfd, gfd);
	r->end_ns = fleet_now_ns();
	end_injection(r);
	if (gfd >= 0)
		close(gfd);
	finish_recovery(r, sfd);
}

int run_signals(void)
{
	sigset_t mask;
	int sfd, err;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	err = -pthread_sigmask(SIG_BLOCK, &mask, NULL);
	if (err)
		return err;
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return -errno;
	return sfd;
}

int run_resolve(const struct experiment *e, const struct inventory *inv, char *err, size_t size)
{
	struct run r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.e = e;
	r.event_fd = -1;
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	rc = fleet_init(&r.fleet);
	if (!rc)
		rc = fleet_from_experiment(&r.fleet, e, inv, err, size);
	if (!rc)
		rc = run_plan_faults(&r, inv, err, size);
	if (rc == -ENOMEM)
		snprintf(err, size, "out of memory");
	run_release(&r);
	return rc;
}

int run_execute(const struct run_spec *s, struct run_result *res)
{
	const struct experiment *e = s->e;
	char err[FLEET_ERR_SIZE];
	pthread_condattr_t ca;
	struct run r;
	int ret, rc;

	memset(res, 0, sizeof(*res));
	memset(&r, 0, sizeof(r));
	r.e = e;
	r.file = s->file;
	r.event_fd = -1;
	r.outcome = RUN_FAILED;
	r.view = s->view;
	r.tty = isatty(fileno(r.view));
	pthread_mutex_init(&r.lock, NULL);
	/* Workers sleep until monotonic deadlines: a wall-clock jump must not move them. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r.cond, &ca);
	pthread_condattr_destroy(&ca);
	if (fleet_init(&r.fleet)) {
		ret = CTL_EXIT_INFRA;
		goto out;
	}
	rc = fleet_from_experiment(&r.fleet, e, s->inv, err, sizeof(err));
	if (!rc)
		rc = run_plan_faults(&r, s->inv, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s: %s: %s\n", s->cmd, s->file,
			rc == -ENOMEM ? "out of memory" : err);
		ret = rc == -ENOMEM ? CTL_EXIT_INFRA : CTL_EXIT_INVALID;
		goto out;
	}
	if (e->duration_ns > e->safety.max_duration_ns) {
		/* The loader refuses this already; the run never relies on that alone. */
		fprintf(stderr, "%s: %s: duration exceeds safety.max_duration\n", s->cmd,
			s->file);
		ret = CTL_EXIT_INVALID;
		goto out;
	}
	if (e->safety.window) {
		bool open;

		rc = run_window_open(e->safety.window, "safety.window", &open, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "%s: %s: %s\n", s->cmd, s->file,
				rc == -ENOMEM ? "out of memory" : err);
			ret = rc == -ENOMEM ? CTL_EXIT_INFRA : CTL_EXIT_INVALID;
			goto out;
		}
		if (!open) {
			fail(&r, RUN_REFUSED, "refusing to start: %s", err);
			goto report;
		}
	}
	r.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r.event_fd < 0) {
		fail(&r, RUN_FAILED, "cannot create an eventfd: %s", strerror(errno));
		goto report;
	}
	/* The clock starts here for runs that end before their start; a run resets it. */
	r.t0_ns = fleet_now_ns();
	clock_gettime(CLOCK_REALTIME, &r.t0_real);
	run_experiment(&r, s->sfd);
report:
	if (!r.t0_ns) {
		r.t0_ns = fleet_now_ns();
		clock_gettime(CLOCK_REALTIME, &r.t0_real);
	}
	if (!r.end_ns)
		r.end_ns = fleet_now_ns();
	/* A run refused or failed before its faults' start never applies them. */
	for (size_t i = 0; i < r.n_faults; i++)
		if (r.faults[i].state == RF_PENDING)
			r.faults[i].state = RF_SKIPPED;
	run_view_update(&r, true);
	ret = run_exit_code(&r);
	res->report = run_report_json(&r);
	if (!res->report) {
		fprintf(stderr, "%s: out of memory building the report\n", s->cmd);
		if (ret == CTL_EXIT_OK)
			ret = CTL_EXIT_INFRA;
	}
out:
	run_release(&r);
	res->abandoned = r.checks_abandoned;
	res->signal = r.signal;
	return ret;
}
