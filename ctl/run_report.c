/*
 * The JSON report of a run (schema: docs/report.schema.json), built once from the run's
 * state. The JUnit XML file and the Markdown summary are rendered from that JSON
 * (report.c), so the three can never tell different stories.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exp.h"
#include "run_report.h"
#include "run_state.h"
#include "timefmt.h"
#include "version.h"

#define MS 1000000LL
#define REPORT_VERSION 1

static json_t *num_or_null(double v)
{
	return isnan(v) || isinf(v) ? json_null() : json_real(v);
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

/* Milliseconds since the start, or null for a time that never came. */
static json_t *ms_or_null(const struct run *r, int64_t t)
{
	return t ? json_real(round(run_ms(r, t) * 1000) / 1000) : json_null();
}

static json_t *reading_json(const struct run *r, const struct guard_reading *g)
{
	if (!g->time_ns)
		return json_null();
	return json_pack("{s:o, s:b, s:b, s:o, s:o, s:s}", "time_ms", ms_or_null(r, g->time_ns),
			 "valid", g->valid, "healthy", g->valid && g->healthy, "value",
			 g->valid ? num_or_null(g->value) : json_null(), "threshold",
			 num_or_null(g->threshold), "summary", g->summary);
}

static json_t *check_json(const struct run *r, const struct run_check *c, bool ok)
{
	return json_pack("{s:s, s:b, s:o, s:o, s:f}", "name", c->name, "ok", ok, "error",
			 c->err ? json_string(strerror(-c->err)) : json_null(), "reading",
			 reading_json(r, &c->reading), "took_ms",
			 (c->done_ns - c->started_ns) / 1e6);
}

static json_t *checks_json(const struct run *r, const struct run_check *c, size_t n,
			   const struct exp_check *spec)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++) {
		bool ok =
			!c[i].err && (c[i].reading.valid ? c[i].reading.healthy
							 : spec[i].on_error != EXP_ON_ERROR_ABORT);

		json_array_append_new(arr, check_json(r, &c[i], ok));
	}
	return arr;
}

static const char *fault_state_text(int s)
{
	static const char *const names[] = {
		[RF_PENDING] = "pending",
		[RF_APPLIED] = "applied",
		[RF_FAILED] = "failed",
		[RF_SKIPPED] = "skipped",
		[RF_REVERTED] = "reverted",
		[RF_COMPLETED] = "completed",
		[RF_REVERT_FAILED] = "revert_failed",
		[RF_TARGET_GONE] = "target_gone",
	};

	return names[s];
}

/*
 * What a fault hit on its agent, from the status the agent returned (the latest one, else
 * the one of the apply answer): the processes signalled or stopped (pid, comm), the cgroup a
 * freezer froze, or the interface a network fault used. JSON null for a fault that hits no
 * named thing (a stressor) or that was never applied; NULL when memory ran out.
 */
static json_t *matched_json(const struct run_fault *rf)
{
	const json_t *st = rf->achieved ? rf->achieved : json_object_get(rf->applied, "status");
	const json_t *list = json_object_get(st, "recent"), *p;
	json_t *procs, *o;
	size_t i;

	if (!json_is_object(st))
		return json_null();
	if (json_is_string(json_object_get(st, "interface")))
		return json_pack("{s:O, s:O}", "interface", json_object_get(st, "interface"),
				 "ifindex", json_object_get(st, "ifindex"));
	if (json_is_string(json_object_get(st, "freezer")))
		return json_pack("{s:O}", "freezer", json_object_get(st, "freezer"));
	if (!json_is_array(list))
		list = json_object_get(st, "processes");
	if (!json_is_array(list))
		return json_null();
	procs = json_array();
	o = json_pack("{s:o}", "processes", procs);
	if (!o)
		return NULL;
	/* A kill lists each signal (its rounds may hit one pid more than once): one entry each. */
	json_array_foreach(list, i, p)
	{
		const json_t *q;
		size_t j;
		bool seen = false;

		json_array_foreach(procs, j, q) seen |=
			json_equal(json_object_get(q, "pid"), json_object_get(p, "pid"));
		if (!seen)
			json_array_append_new(procs, json_pack("{s:O, s:O}", "pid",
							       json_object_get(p, "pid"), "comm",
							       json_object_get(p, "comm")));
	}
	if (json_is_integer(json_object_get(st, "matched")))
		json_object_set(o, "selector_matched", json_object_get(st, "matched"));
	return o;
}

/*
 * Workers a stressor lost while active (the agent's status "degraded", docs/api.md), as of
 * the last status read; an empty list for a fault that lost none or has no workers.
 */
static json_t *degraded_of(const json_t *achieved)
{
	json_t *d = json_object_get(achieved, "degraded");

	return json_is_array(d) ? json_deep_copy(d) : json_array();
}

static json_t *faults_json(struct run *r)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; arr && i < r->n_faults; i++) {
		const struct run_fault *rf = &r->faults[i];
		const struct fault_spec *fs = &r->e->faults[rf->fault];
		json_t *spec = NULL, *o;

		exp_fault_to_json(fs, &spec);
		o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
			      "name", fs->name, "type", exp_fault_type_name(fs->type), "agent",
			      r->fleet.agents[rf->agent].name, "start_ms",
			      (json_int_t)(fs->start_ns / MS), "duration_ms",
			      (json_int_t)(fs->duration_ns / MS), "state",
			      fault_state_text(rf->state), "id", str_or_null(rf->id), "applied_ms",
			      ms_or_null(r, rf->applied_ns), "requested", spec ? spec : json_null(),
			      "achieved", rf->achieved ? json_incref(rf->achieved) : json_null(),
			      "achieved_ms", ms_or_null(r, rf->achieved_ns), "error",
			      str_or_null(rf->err));
		/* Whether achieved is the agent's final status, and the fault's own revert. */
		if (o &&
		    (json_object_set_new(o, "achieved_final", json_boolean(rf->final)) ||
		     json_object_set_new(o, "reverted_ms", ms_or_null(r, rf->reverted_ns)) ||
		     json_object_set_new(o, "reverted_at", str_or_null(rf->reverted_at)) ||
		     json_object_set_new(o, "revert_reason", str_or_null(rf->revert_reason)))) {
			json_decref(o);
			o = NULL;
		}
		if (o) {
			json_t *m = matched_json(rf);

			json_object_set_new(o, "matched", m ? m : json_null());
			json_object_set_new(o, "degraded", degraded_of(rf->achieved));
		}
		json_array_append_new(arr, o);
	}
	pthread_mutex_unlock(&r->lock);
	return arr;
}

static json_t *agents_json(struct run *r)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&r->fleet.lock);
	for (size_t i = 0; arr && i < r->fleet.n; i++) {
		const struct fleet_agent *a = &r->fleet.agents[i];
		json_t *rev = json_null();

		if (a->revert_started || a->revert_done)
			rev = json_pack(
				"{s:b, s:o, s:o, s:o}", "ok", a->revert_done && !a->revert_err,
				"sent_ms", ms_or_null(r, a->revert_sent_ns), "confirmed_ms",
				a->revert_done && !a->revert_err ? ms_or_null(r, a->revert_done_ns)
								 : json_null(),
				"error", str_or_null(a->revert_msg));
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:o, s:I, s:I, s:b, s:o, s:o}", "name", a->name,
				       "address", a->address, "lease", str_or_null(a->lease),
				       "renewals", (json_int_t)a->renewals, "renew_failures",
				       (json_int_t)a->renew_failures, "lease_lost", a->lease_lost,
				       "error", str_or_null(a->err[0] ? a->err : a->renew_err),
				       "revert", rev));
	}
	pthread_mutex_unlock(&r->fleet.lock);
	return arr;
}

static const char *on_error_name(int v)
{
	return v == EXP_ON_ERROR_WARN ? "warn" : v == EXP_ON_ERROR_IGNORE ? "ignore" : "abort";
}

/* How well a guardrail watched the run (docs/guardrails.md): into o. 0 or -ENOMEM. */
static int coverage_json(const struct run *r, const struct guard_status *st, json_t *o)
{
	const struct guard_coverage *c = st ? &st->cov : NULL;
	char why[200];
	bool inc = c && guard_coverage_inconclusive(c, r->guards_end_ns, GUARD_BLIND_MAX_PCT, why,
						    sizeof(why));

	if (!o)
		return -ENOMEM;
	if (json_object_set_new(o, "valid_readings", json_integer(c ? (json_int_t)c->valid : 0)) ||
	    json_object_set_new(o, "watched_ms",
				c ? json_real((r->guards_end_ns - c->start_ns) / 1e6)
				  : json_null()) ||
	    json_object_set_new(o, "blind_ms",
				c ? json_real(guard_coverage_blind_ns(c, r->guards_end_ns) / 1e6)
				  : json_null()) ||
	    json_object_set_new(o, "inconclusive", json_boolean(inc)) ||
	    json_object_set_new(o, "inconclusive_reason", inc ? json_string(why) : json_null()))
		return -ENOMEM;
	return 0;
}

static json_t *guardrails_json(const struct run *r)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < r->e->n_guardrails; i++) {
		const struct exp_guardrail *g = &r->e->guardrails[i];
		const struct guard_status *st = i < r->n_guards ? &r->guard_final[i] : NULL;
		json_t *o;

		o = json_pack("{s:s, s:I, s:s, s:b, s:I, s:I, s:o, s:o, s:o}", "name", g->name,
			      "for_ms", (json_int_t)(g->for_ns / MS), "on_error",
			      on_error_name(g->on_error), "breached", st && st->breached, "samples",
			      (json_int_t)(st ? st->samples : 0), "errors",
			      (json_int_t)(st ? st->errors : 0), "last",
			      st ? reading_json(r, &st->last) : json_null(), "breach",
			      st && st->breached ? reading_json(r, &st->breach) : json_null(),
			      "preflight",
			      i < r->n_preflight ? reading_json(r, &r->preflight[i].reading)
						 : json_null());
		if (coverage_json(r, st, o)) {
			json_decref(o);
			o = NULL;
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *abort_json(struct run *r)
{
	const struct guard_reading *b = &r->breach.breach;
	json_t *agents;

	if (!r->breached)
		return json_null();
	agents = json_array();
	pthread_mutex_lock(&r->fleet.lock);
	for (size_t i = 0; agents && i < r->fleet.n; i++) {
		const struct fleet_agent *a = &r->fleet.agents[i];
		bool ok = a->revert_done && !a->revert_err;

		if (!a->revert_started)
			continue;
		json_array_append_new(
			agents,
			json_pack("{s:s, s:b, s:o, s:o}", "name", a->name, "ok", ok, "confirmed_ms",
				  ok ? ms_or_null(r, a->revert_done_ns) : json_null(),
				  "breach_to_confirmed_ms",
				  ok ? json_real((a->revert_done_ns - b->time_ns) / 1e6)
				     : json_null()));
	}
	pthread_mutex_unlock(&r->fleet.lock);
	return json_pack(
		"{s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:f, s:f, s:b, s:o}", "guardrail",
		r->breach.name, "value", b->valid ? num_or_null(b->value) : json_null(),
		"threshold", num_or_null(b->threshold), "summary", b->summary, "sample_ms",
		ms_or_null(r, b->time_ns), "decided_ms", ms_or_null(r, r->breach.breach_ns),
		"revert_sent_ms", ms_or_null(r, r->abort_go_ns), "all_reverted_ms",
		ms_or_null(r, r->reverted_ns), "breach_to_reverted_ms",
		(r->reverted_ns - b->time_ns) / 1e6, "decision_to_reverted_ms",
		(r->reverted_ns - r->breach.breach_ns) / 1e6, "all_confirmed", r->revert_ok,
		"agents", agents);
}

static json_t *timeline_json(struct run *r)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; arr && i < r->n_events; i++)
		json_array_append_new(arr,
				      json_pack("{s:f, s:s}", "t_ms", run_ms(r, r->events[i].t_ns),
						"text", r->events[i].text));
	pthread_mutex_unlock(&r->lock);
	return arr;
}

static const char *verdict(const struct run *r)
{
	switch (r->outcome) {
	case RUN_HELD:
		if (!r->e->steady_state.n_after)
			return "The hypothesis held: no guardrail breached (no after-checks "
			       "were defined).";
		return "The hypothesis held: no guardrail breached and the steady state was "
		       "healthy after the run.";
	case RUN_DRY_RUN:
		return "Dry run: agents and checks were verified; no fault was applied.";
	case RUN_ABORTED:
		return "The hypothesis did not hold: a guardrail breached and the run was "
		       "aborted.";
	case RUN_NOT_RECOVERED:
		return "The hypothesis did not hold: the steady state did not come back within "
		       "the recovery timeout.";
	case RUN_REFUSED:
		return "Not run: the preconditions (steady state, time window) were not met.";
	case RUN_INTERRUPTED:
		return "Interrupted by the operator; every fault was reverted.";
	case RUN_INCONCLUSIVE:
		return "Inconclusive: the guardrails could not watch the run, so there is no "
		       "verdict on the hypothesis.";
	default:
		return "Inconclusive: an agent or faultctl failed; see the reason.";
	}
}

json_t *run_report_json(struct run *r)
{
	const struct experiment *e = r->e;
	const struct exp_steady_state *ss = &e->steady_state;
	char started[64];
	json_t *rep;

	timefmt_ts_iso(&r->t0_real, started, sizeof(started));
	rep = json_pack("{s:i, s:s, s:{s:s, s:s, s:s, s:o}, s:s, s:i, s:s, s:s, s:b, s:s, s:I, "
			"s:f, s:I, s:I}",
			"report_version", REPORT_VERSION, "tool", "faultctl " FL_VERSION,
			"experiment", "name", e->name, "file", r->file, "hypothesis", e->hypothesis,
			"description", str_or_null(e->description), "outcome",
			run_outcome_name(r->outcome), "exit_code", run_exit_code(r), "reason",
			r->reason, "verdict", verdict(r), "dry_run", e->safety.dry_run,
			"started_at", started, "duration_ms", (json_int_t)(e->duration_ns / MS),
			"elapsed_ms", run_ms(r, r->end_ns), "max_duration_ms",
			(json_int_t)(e->safety.max_duration_ns / MS), "lease_ttl_ms",
			(json_int_t)(e->safety.lease_ttl_ns / MS));
	if (!rep)
		return NULL;
	json_object_set_new(rep, "agents", agents_json(r));
	json_object_set_new(rep, "faults", faults_json(r));
	json_object_set_new(rep, "guardrails", guardrails_json(r));
	json_object_set_new(
		rep, "steady_state",
		json_pack(
			"{s:o, s:o, s:I, s:I, s:b, s:o}", "before",
			checks_json(r, r->before, r->n_before, ss->before), "after",
			checks_json(r, r->after, r->n_after, ss->after), "after_rounds",
			(json_int_t)r->after_rounds, "recovery_timeout_ms",
			(json_int_t)(ss->recovery_timeout_ns / MS), "recovered",
			r->recovered && r->reverted_ns, "recovery_ms",
			r->recovered && r->reverted_ns
				? json_real(((r->recovered_ns ? r->recovered_ns : r->reverted_ns) -
					     r->reverted_ns) /
					    1e6)
				: json_null()));
	json_object_set_new(rep, "all_reverted_ms", ms_or_null(r, r->reverted_ns));
	json_object_set_new(rep, "abort", abort_json(r));
	json_object_set_new(rep, "timeline", timeline_json(r));
	return rep;
}
