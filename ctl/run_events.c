/*
 * The final figures of a run's faults. An agent reports what a fault achieved, as of its
 * revert, in the fault.reverted event it emits on its event stream (docs/api.md); a fault
 * reverted by its duration is gone from GET /v1/faults by then, and a status read earlier
 * misses whatever happened after it. So a run follows each agent's stream from before its
 * first apply until every applied fault's final event (fault.reverted, fault.completed,
 * fault.target_gone or fault.revert_failed) arrived, and reports those figures and times; a
 * fault on a container that exited and came back (fault.target_exited, fault.reapplied), and
 * one over several containers that lost one of them (fault.member_gone), gets a line in the
 * timeline for each.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exp.h"
#include "faultline/fault_status.h"
#include "run_events.h"
#include "run_state.h"

#define MS 1000000LL

static int final_state(const char *type)
{
	if (!strcmp(type, "fault.reverted"))
		return RF_REVERTED;
	if (!strcmp(type, "fault.completed"))
		return RF_COMPLETED;
	if (!strcmp(type, "fault.revert_failed"))
		return RF_REVERT_FAILED;
	if (!strcmp(type, "fault.target_gone"))
		return RF_TARGET_GONE;
	return -1;
}

/* Events of a fault that follows its container's restarts: the fault goes on after them. */
static bool restart_event(const char *type)
{
	return !strcmp(type, "fault.target_exited") || !strcmp(type, "fault.reapplied") ||
	       !strcmp(type, "fault.member_gone");
}

/*
 * A timeline line for a restart event of an applied fault of this agent. Under run->lock.
 * line is empty for a fault the run does not know (yet).
 */
static void record_restart(struct run *r, size_t agent, const json_t *ev, char *line, size_t size)
{
	const char *id = json_string_value(json_object_get(ev, "fault")) ?: "";
	const char *type = json_string_value(json_object_get(ev, "type")) ?: "";

	line[0] = '\0';
	for (size_t i = 0; i < r->n_faults; i++) {
		const struct run_fault *rf = &r->faults[i];

		if (rf->agent != agent || strcmp(rf->id, id))
			continue;
		snprintf(line, size, "%s: %s %s: %s", r->fleet.agents[agent].name,
			 r->e->faults[rf->fault].name,
			 !strcmp(type, "fault.reapplied")     ? "applied again"
			 : !strcmp(type, "fault.member_gone") ? "lost one of its containers"
							      : "lost its container",
			 json_string_value(json_object_get(ev, "reason")) ?: "no reason given");
		return;
	}
}

/* The integer counters of a status, "matched 120, dropped 12", for the timeline. */
static void counters_text(const json_t *status, char *buf, size_t size)
{
	const json_t *cnt = json_object_get(status, FL_STATUS_COUNTERS);
	const char *key;
	const json_t *v;
	size_t n = 0;

	buf[0] = '\0';
	json_object_foreach((json_t *)cnt, key, v)
	{
		if (!json_is_integer(v) || n >= size)
			continue;
		n += (size_t)snprintf(buf + n, size - n, "%s%s %" JSON_INTEGER_FORMAT,
				      n ? ", " : "", key, json_integer_value(v));
	}
}

/*
 * Match a final event to a fault of this agent and record it. Under run->lock. Returns
 * false when no applied fault of the agent has that id (yet: the worker records the id once
 * the apply's answer arrived, which may be after the event). line gets a timeline line.
 */
static bool record_final(struct run *r, size_t agent, const json_t *ev, int64_t t, char *line,
			 size_t size)
{
	const char *id = json_string_value(json_object_get(ev, "fault")) ?: "";
	const char *type = json_string_value(json_object_get(ev, "type")) ?: "";
	const json_t *st = json_object_get(ev, "status");
	int state = final_state(type);
	char figures[192];

	line[0] = '\0';
	for (size_t i = 0; i < r->n_faults; i++) {
		struct run_fault *rf = &r->faults[i];

		if (rf->agent != agent || strcmp(rf->id, id))
			continue;
		/* A failed revert may be retried; anything else is final once recorded. */
		if (rf->state != RF_APPLIED && rf->state != RF_REVERT_FAILED)
			return true;
		if (json_is_object(st)) {
			json_decref(rf->achieved);
			rf->achieved = json_incref((json_t *)st);
			rf->achieved_ns = t;
			rf->final = true;
		}
		rf->state = state;
		rf->reverted_ns = t;
		snprintf(rf->reverted_at, sizeof(rf->reverted_at), "%s",
			 json_string_value(json_object_get(ev, "time")) ?: "");
		snprintf(rf->revert_reason, sizeof(rf->revert_reason), "%s",
			 json_string_value(json_object_get(ev, "reason")) ?: "");
		counters_text(st, figures, sizeof(figures));
		snprintf(line, size, "%s: %s %s (%s)%s%s", r->fleet.agents[agent].name,
			 r->e->faults[rf->fault].name,
			 state == RF_REVERTED	   ? "reverted"
			 : state == RF_COMPLETED   ? "completed"
			 : state == RF_TARGET_GONE ? "ended, target gone"
						   : "revert FAILED",
			 rf->revert_reason[0] ? rf->revert_reason : "no reason given",
			 figures[0] ? "; final counters: " : "", figures);
		return true;
	}
	return false;
}

/* A line of agent's stream, on the fleet loop's thread (struct fleet_stream_ops). */
static void on_line(void *arg, size_t agent, json_t *ev, int64_t t)
{
	struct run *r = arg;
	struct run_watch *w = &r->watch[agent];
	const char *type = json_string_value(json_object_get(ev, "type")) ?: "";
	char line[320];
	bool matched;

	if (!ev)
		return;
	if (restart_event(type)) {
		pthread_mutex_lock(&r->lock);
		record_restart(r, agent, ev, line, sizeof(line));
		pthread_mutex_unlock(&r->lock);
		if (line[0])
			run_event(r, "%s", line);
		return;
	}
	if (final_state(type) < 0)
		return;
	pthread_mutex_lock(&r->lock);
	matched = record_final(r, agent, ev, t, line, sizeof(line));
	if (!matched) {
		json_object_set_new(ev, "_recv_ns", json_integer(t));
		json_array_append(w->pending, ev);
	}
	pthread_mutex_unlock(&r->lock);
	if (line[0])
		run_event(r, "%s", line);
}

/* A stream that ended by itself (not by stop_watches()). */
static void on_end(void *arg, size_t agent, int e)
{
	struct run *r = arg;
	struct run_watch *w = &r->watch[agent];

	pthread_mutex_lock(&r->lock);
	if (!w->stop)
		snprintf(w->err, sizeof(w->err), "the event stream ended: %s",
			 e == -EPIPE ? "the agent closed it" : strerror(-e));
	pthread_mutex_unlock(&r->lock);
}

static int open_watch(struct fleet_agent *a, void *arg)
{
	struct run *r = arg;
	struct run_watch *w = &r->watch[a - r->fleet.agents];
	int err;

	if (!a->lease[0])
		return 0;
	err = client_connect(&a->addr, &w->c, w->err, sizeof(w->err));
	if (!err)
		err = client_stream_open(w->c, "/v1/events", w->err, sizeof(w->err));
	if (err && w->c) {
		client_close(w->c);
		w->c = NULL;
	}
	return 0;
}

int run_events_start(struct run *r)
{
	const struct fleet_stream_ops ops = {.on_line = on_line, .on_end = on_end, .arg = r};
	struct client **streams;

	r->watch = calloc(r->fleet.n ? r->fleet.n : 1, sizeof(*r->watch));
	streams = calloc(r->fleet.n ? r->fleet.n : 1, sizeof(*streams));
	if (!r->watch || !streams) {
		free(streams);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->fleet.n; i++) {
		r->watch[i].run = r;
		r->watch[i].agent = i;
		r->watch[i].pending = json_array();
		if (!r->watch[i].pending) {
			free(streams);
			return -ENOMEM;
		}
	}
	/* Opened in parallel, then followed by the fleet loop: no thread per agent. */
	fleet_each(&r->fleet, open_watch, r);
	for (size_t i = 0; i < r->fleet.n; i++) {
		streams[i] = r->watch[i].c;
		r->watch[i].c = NULL;
	}
	if (!fleet_streams_follow(&r->fleet, streams, &ops))
		for (size_t i = 0; i < r->fleet.n; i++)
			r->watch[i].started = streams[i] != NULL;
	free(streams);
	for (size_t i = 0; i < r->fleet.n; i++) {
		struct run_watch *w = &r->watch[i];

		if (!w->started && r->fleet.agents[i].lease[0])
			run_event(r,
				  "%s: cannot follow its events (%s): its faults will report the "
				  "last status read, not the final one",
				  r->fleet.agents[i].name, w->err[0] ? w->err : "no fleet loop");
	}
	return 0;
}

/* Faults applied whose final event is still missing on a stream that still runs. Locked. */
static size_t missing(struct run *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_faults; i++) {
		const struct run_fault *rf = &r->faults[i];
		const struct run_watch *w = &r->watch[rf->agent];

		n += rf->state == RF_APPLIED && rf->id[0] && w->started && !w->err[0];
	}
	return n;
}

/* Match the events that came before their fault's id was known. Locked; lines for later. */
static void match_pending(struct run *r, char (*lines)[320], size_t *n_lines, size_t cap)
{
	for (size_t a = 0; a < r->fleet.n; a++) {
		struct run_watch *w = &r->watch[a];
		size_t i = 0;

		while (i < json_array_size(w->pending)) {
			json_t *ev = json_array_get(w->pending, i);
			int64_t t = json_integer_value(json_object_get(ev, "_recv_ns"));
			char line[320];

			if (!record_final(r, a, ev, t, line, sizeof(line))) {
				i++;
				continue;
			}
			if (line[0] && *n_lines < cap)
				memcpy(lines[(*n_lines)++], line, sizeof(line));
			json_array_remove(w->pending, i);
		}
	}
}

static void stop_watches(struct run *r)
{
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->fleet.n; i++)
		r->watch[i].stop = true;
	pthread_mutex_unlock(&r->lock);
	/* The loop closes them; no callback runs after this returns. */
	fleet_streams_stop(&r->fleet);
	for (size_t i = 0; i < r->fleet.n; i++)
		r->watch[i].started = false;
}

void run_events_finish(struct run *r, int64_t wait_ns)
{
	int64_t deadline = fleet_now_ns() + wait_ns;
	char lines[16][320];
	size_t n_lines = 0, left;

	if (!r->watch)
		return;
	for (;;) {
		pthread_mutex_lock(&r->lock);
		match_pending(r, lines, &n_lines, sizeof(lines) / sizeof(lines[0]));
		left = missing(r);
		pthread_mutex_unlock(&r->lock);
		for (size_t i = 0; i < n_lines; i++)
			run_event(r, "%s", lines[i]);
		n_lines = 0;
		if (!left || fleet_now_ns() >= deadline)
			break;
		nanosleep(&(struct timespec){.tv_nsec = 5 * MS}, NULL);
	}
	stop_watches(r);
	left = 0;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n_faults; i++)
		left += r->faults[i].state == RF_APPLIED && r->faults[i].id[0];
	pthread_mutex_unlock(&r->lock);
	if (left)
		run_event(r,
			  "%zu fault%s without a final event from the agent: their figures are "
			  "the last status read before the revert",
			  left, left == 1 ? "" : "s");
}

void run_events_release(struct run *r)
{
	if (!r->watch)
		return;
	stop_watches(r);
	for (size_t i = 0; i < r->fleet.n; i++)
		json_decref(r->watch[i].pending);
	free(r->watch);
	r->watch = NULL;
}
