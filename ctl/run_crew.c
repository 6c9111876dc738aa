/*
 * The crew of `faultctl run`: threads that apply each fault of the local agents at its start
 * offset, on the agent's control connection, and read its status back before it ends; at
 * most RUN_CREWS threads for the local agents, one of its own for each ssh:// agent (its
 * calls wait on another host). The run loop and the revert: run.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "exp.h"
#include "run_crew.h"
#include "run_events.h"
#include "run_state.h"

#define MS 1000000LL
#define SEC 1000000000LL
/*
 * How often a worker reads its active faults' status back for the report: every 250 ms,
 * but the fleet as a whole at most RUN_REFRESH_MAX_RATE times a second, so that a thousand
 * agents sharing a machine are not kept busy answering status reads (the final status
 * comes from their events anyway).
 */
#define RUN_REFRESH_NS (250 * MS)
#define RUN_REFRESH_MAX_RATE 400
/*
 * Threads that apply the faults of local agents: they share this machine's CPUs with the
 * agents, so more applies in flight only add thread start-ups and switches.
 */
#define RUN_CREWS 32

/* Workers: apply each fault of one agent at its offset, read its status before it ends. */

static int64_t fault_margin(int64_t duration)
{
	int64_t m = duration / 5;

	return m < 500 * MS ? m : 500 * MS;
}

/* Sleep until t (monotonic ns) or until the run stops. Returns false when stopped. */
static bool wait_until(struct run *r, int64_t t)
{
	bool go;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		int64_t now = fleet_now_ns();
		struct timespec ts;

		if (now >= t)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (t - now) / SEC;
		ts.tv_nsec += (t - now) % SEC;
		if (ts.tv_nsec >= SEC) {
			ts.tv_sec++;
			ts.tv_nsec -= SEC;
		}
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	go = !r->stop;
	pthread_mutex_unlock(&r->lock);
	return go;
}

static int apply_fault(struct run *r, struct fleet_agent *a, struct run_fault *rf)
{
	const struct fault_spec *fs = &r->e->faults[rf->fault];
	json_t *body = NULL, *resp = NULL, *fo;
	char target[FLEET_ID_SIZE + 32], buf[128];
	const char *id;
	int status, err;

	err = exp_fault_to_json(fs, &body);
	if (err)
		return err;
	/* The agent applies at once, for the duration; where and when are the controller's. */
	json_object_del(body, "agents");
	json_object_del(body, "start");
	snprintf(target, sizeof(target), "/v1/leases/%s/faults", a->lease);
	err = fleet_call(a, "POST", target, body, &status, &resp);
	json_decref(body);
	if (err) {
		snprintf(rf->err, sizeof(rf->err), "%s", a->err);
		return err;
	}
	fo = json_object_get(resp, "fault");
	id = json_string_value(json_object_get(fo, "id"));
	if (status != 201 || !id) {
		json_t *probs = json_object_get(json_object_get(resp, "error"), "problems");
		const char *first =
			json_string_value(json_object_get(json_array_get(probs, 0), "message"));

		snprintf(rf->err, sizeof(rf->err), "%s%s%s",
			 client_error_message(resp, status, buf, sizeof(buf)), first ? ": " : "",
			 first ? first : "");
		json_decref(resp);
		return -EREMOTE;
	}
	pthread_mutex_lock(&r->lock);
	snprintf(rf->id, sizeof(rf->id), "%s", id);
	rf->applied = json_incref(fo);
	rf->achieved = json_incref(json_object_get(fo, "status"));
	rf->achieved_ns = rf->applied_ns = fleet_now_ns();
	rf->ends_ns = fs->duration_ns ? rf->applied_ns + fs->duration_ns : 0;
	rf->state = RF_APPLIED;
	pthread_mutex_unlock(&r->lock);
	json_decref(resp);
	return 0;
}

/* Read what the agent achieved (its fault status) while the fault is still active. */
static void snapshot_fault(struct run *r, struct fleet_agent *a, struct run_fault *rf)
{
	char target[FLEET_ID_SIZE + 16];
	json_t *resp = NULL, *st;
	int status;

	snprintf(target, sizeof(target), "/v1/faults/%s", rf->id);
	if (fleet_call(a, "GET", target, NULL, &status, &resp) || status != 200) {
		json_decref(resp);
		return;
	}
	st = json_object_get(json_object_get(resp, "fault"), "status");
	pthread_mutex_lock(&r->lock);
	/* A reading answered before the revert must not replace the final status. */
	if (st && !rf->final) {
		json_decref(rf->achieved);
		rf->achieved = json_incref(st);
		rf->achieved_ns = fleet_now_ns();
	}
	pthread_mutex_unlock(&r->lock);
	json_decref(resp);
}

/*
 * Wait until t, reading the status of the crew's active faults every RUN_REFRESH_NS on the
 * way, so that a run aborted in the middle still reports what the faults achieved up to a
 * moment before. The abort itself never waits for this: it has its own connections.
 */
static bool wait_refreshing(struct run_crew *c, int64_t t)
{
	struct run *r = c->run;
	int64_t period = (int64_t)r->fleet.n * SEC / RUN_REFRESH_MAX_RATE;

	if (period < RUN_REFRESH_NS)
		period = RUN_REFRESH_NS;
	for (;;) {
		int64_t now = fleet_now_ns(), next = now + period;

		if (!wait_until(r, next < t ? next : t))
			return false;
		if (next >= t)
			return true;
		for (size_t k = 0; k < c->n_workers; k++) {
			const struct run_worker *w = &r->workers[c->workers[k]];

			for (size_t i = 0; i < w->n_rf; i++) {
				struct run_fault *rf = &r->faults[w->rf[i]];
				const struct fault_spec *fs = &r->e->faults[rf->fault];

				now = fleet_now_ns();
				if (rf->state == RF_APPLIED && fs->duration_ns &&
				    rf->ends_ns - fault_margin(fs->duration_ns) > now)
					snapshot_fault(r, &r->fleet.agents[rf->agent], rf);
			}
		}
	}
}

struct action {
	int64_t at;
	size_t rf;
	bool snapshot;
};

static int action_cmp(const void *x, const void *y)
{
	const struct action *a = x, *b = y;

	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	/* At the same moment, apply before reading, then in the experiment's order of faults. */
	if (a->snapshot != b->snapshot)
		return (int)a->snapshot - (int)b->snapshot;
	return a->rf < b->rf ? -1 : a->rf > b->rf;
}

static void *crew_main(void *p)
{
	struct run_crew *c = p;
	struct run *r = c->run;
	struct action *acts;
	size_t n = 0, total = 0;

	for (size_t k = 0; k < c->n_workers; k++)
		total += r->workers[c->workers[k]].n_rf;
	acts = calloc(total * 2 + 1, sizeof(*acts));
	if (!acts) {
		struct run_fault *rf = &r->faults[r->workers[c->workers[0]].rf[0]];

		pthread_mutex_lock(&r->lock);
		snprintf(rf->err, FLEET_ERR_SIZE, "out of memory");
		rf->state = RF_FAILED;
		pthread_mutex_unlock(&r->lock);
		run_wake(r->event_fd);
		return NULL;
	}
	for (size_t k = 0; k < c->n_workers; k++) {
		const struct run_worker *w = &r->workers[c->workers[k]];

		for (size_t i = 0; i < w->n_rf; i++) {
			const struct fault_spec *fs = &r->e->faults[r->faults[w->rf[i]].fault];

			acts[n++] = (struct action){r->t0_ns + fs->start_ns, w->rf[i], false};
			if (fs->duration_ns)
				acts[n++] =
					(struct action){r->t0_ns + fs->start_ns + fs->duration_ns -
								fault_margin(fs->duration_ns),
							w->rf[i], true};
		}
	}
	qsort(acts, n, sizeof(*acts), action_cmp);
	for (size_t i = 0; i < n; i++) {
		struct run_fault *rf = &r->faults[acts[i].rf];
		const struct fault_spec *fs = &r->e->faults[rf->fault];
		struct fleet_agent *a = &r->fleet.agents[rf->agent];

		if (!wait_refreshing(c, acts[i].at))
			break;
		if (acts[i].snapshot) {
			if (rf->state == RF_APPLIED)
				snapshot_fault(r, a, rf);
			continue;
		}
		if (apply_fault(r, a, rf)) {
			bool stopping;

			/*
			 * An apply that crossed the abort's revert on the wire finds the lease
			 * gone: that is the abort working, not a failure of the fault.
			 */
			pthread_mutex_lock(&r->lock);
			stopping = r->stop;
			rf->state = stopping ? RF_SKIPPED : RF_FAILED;
			pthread_mutex_unlock(&r->lock);
			if (stopping)
				break;
			run_event(r, "%s: applying %s (%s) failed: %s", a->name, fs->name,
				  exp_fault_type_name(fs->type), rf->err);
			run_wake(r->event_fd);
			break;
		}
		run_event(r, "%s: applied %s (%s) as %s%s", a->name, fs->name,
			  exp_fault_type_name(fs->type), rf->id,
			  fs->duration_ns ? "" : ", one-shot");
	}
	pthread_mutex_lock(&r->lock);
	for (size_t k = 0; k < c->n_workers; k++) {
		const struct run_worker *w = &r->workers[c->workers[k]];

		for (size_t i = 0; i < w->n_rf; i++)
			if (r->faults[w->rf[i]].state == RF_PENDING)
				r->faults[w->rf[i]].state = RF_SKIPPED;
	}
	pthread_mutex_unlock(&r->lock);
	free(acts);
	return NULL;
}

void run_crew_stop(struct run *r)
{
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < r->n_crews; i++) {
		if (r->crews[i].started)
			pthread_join(r->crews[i].thr, NULL);
		r->crews[i].started = false;
	}
}

/*
 * The crews: the local agents with faults to apply dealt round-robin to at most RUN_CREWS
 * threads, each ssh:// agent a thread of its own. Returns 0 or -ENOMEM.
 */
static int plan_crews(struct run *r)
{
	size_t local = 0, ssh = 0, n_local, next = 0;

	for (size_t i = 0; i < r->fleet.n; i++) {
		if (!r->workers[i].n_rf)
			continue;
		if (r->fleet.agents[i].addr.transport == AGENT_SSH)
			ssh++;
		else
			local++;
	}
	n_local = local < RUN_CREWS ? local : RUN_CREWS;
	r->crews = calloc(n_local + ssh + 1, sizeof(*r->crews));
	if (!r->crews)
		return -ENOMEM;
	r->n_crews = n_local + ssh;
	for (size_t k = 0; k < r->n_crews; k++) {
		r->crews[k].run = r;
		r->crews[k].workers =
			calloc(k < n_local ? local / n_local + 1 : 1, sizeof(*r->crews[k].workers));
		if (!r->crews[k].workers)
			return -ENOMEM;
	}
	for (size_t i = 0, s = n_local; i < r->fleet.n; i++) {
		struct run_crew *c;

		if (!r->workers[i].n_rf)
			continue;
		if (r->fleet.agents[i].addr.transport == AGENT_SSH) {
			c = &r->crews[s++];
		} else {
			c = &r->crews[next];
			next = (next + 1) % n_local;
		}
		c->workers[c->n_workers++] = i;
	}
	return 0;
}

/* The crews' threads; false (r->outcome set) if one cannot start. */

int run_crew_start(struct run *r, char *err, size_t size)
{
	int ret;

	if (plan_crews(r)) {
		snprintf(err, size, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n_crews; i++) {
		struct run_crew *c = &r->crews[i];

		ret = -pthread_create(&c->thr, NULL, crew_main, c);
		if (ret) {
			snprintf(err, size, "cannot start a thread: %s", strerror(-ret));
			return ret;
		}
		c->started = true;
	}
	return 0;
}
