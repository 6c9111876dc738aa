/*
 * The live view of a run. On a terminal: a screen redrawn a few times a second with the
 * timeline, the active faults, each guardrail's latest value against its threshold and the
 * time left. Otherwise (CI logs, pipes): plain timestamped lines, the timeline as it
 * happens and the guardrails every few seconds, so that logs stay readable and greppable.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "exp.h"
#include "run_state.h"
#include "run_view.h"

#define SEC 1000000000LL
#define VIEW_EVENTS 12		  /* timeline lines kept on a terminal screen */
#define PLAIN_GUARDS_NS (5 * SEC) /* guardrail lines in plain output */

static void stamp(const struct run *r, int64_t t, char *buf, size_t size)
{
	double s = r->t0_ns ? (double)(t - r->t0_ns) / 1e9 : 0;

	snprintf(buf, size, "[%s%.3fs]", s < 0 ? "-" : "+", fabs(s));
}

static void guard_line(FILE *f, const struct guard_status *st)
{
	const struct guard_reading *g = &st->last;
	char thr[32] = "";

	if (!isnan(g->threshold))
		snprintf(thr, sizeof(thr), " (threshold %g)", g->threshold);
	if (!g->time_ns)
		fprintf(f, "guardrail %-20s waiting for the first sample\n", st->name);
	else
		fprintf(f, "guardrail %-20s %-9s value %g%s: %s%s\n", st->name,
			st->breached ? "BREACHED"
			: !g->valid  ? "ERROR"
			: g->healthy ? "ok"
				     : "UNHEALTHY",
			g->value, thr, g->summary, st->unhealthy_since_ns ? " (debouncing)" : "");
}

static void draw_screen(struct run *r, bool final)
{
	const struct experiment *e = r->e;
	int64_t now = fleet_now_ns();
	int64_t left = r->t0_ns ? r->t0_ns + e->duration_ns - now : e->duration_ns;
	FILE *f = r->view;
	size_t first;

	if (!final)
		fprintf(f, "\033[H\033[2J");
	fprintf(f, "faultctl run %s: %s\n", r->file, e->name);
	if (!final)
		fprintf(f, "elapsed %.1f s, left %.1f s of %.0f s\n",
			r->t0_ns ? (now - r->t0_ns) / 1e9 : 0.0, left > 0 ? left / 1e9 : 0.0,
			e->duration_ns / 1e9);
	if (!final)
		fprintf(f, "\nactive faults\n");
	pthread_mutex_lock(&r->lock);
	size_t n = 0;

	for (size_t i = 0; i < r->n_faults; i++) {
		const struct run_fault *rf = &r->faults[i];
		const struct fault_spec *fs = &e->faults[rf->fault];

		if (rf->state != RF_APPLIED || (rf->ends_ns && rf->ends_ns <= now) || final)
			continue;
		fprintf(f, "  %-20s %-18s on %-16s %s", fs->name, exp_fault_type_name(fs->type),
			r->fleet.agents[rf->agent].name, rf->id);
		if (rf->ends_ns)
			fprintf(f, ", %.1f s left", (rf->ends_ns - now) / 1e9);
		fprintf(f, "\n");
		n++;
	}
	if (!n && !final)
		fprintf(f, "  (none)\n");
	pthread_mutex_unlock(&r->lock);
	if (final && r->n_guards) {
		fprintf(f, "\n");
		for (size_t i = 0; i < r->n_guards; i++)
			guard_line(f, &r->guard_final[i]);
	} else if (r->guards) {
		fprintf(f, "\n");
		for (size_t i = 0; i < guardset_count(r->guards); i++) {
			struct guard_status st;

			if (!guardset_status(r->guards, i, &st))
				guard_line(f, &st);
		}
	}
	fprintf(f, "\ntimeline\n");
	pthread_mutex_lock(&r->lock);
	first = r->n_events > VIEW_EVENTS && !final ? r->n_events - VIEW_EVENTS : 0;
	for (size_t i = first; i < r->n_events; i++) {
		char ts[32];

		stamp(r, r->events[i].t_ns, ts, sizeof(ts));
		fprintf(f, "  %s %s\n", ts, r->events[i].text);
	}
	r->shown_events = r->n_events;
	pthread_mutex_unlock(&r->lock);
	fflush(f);
}

static void plain_lines(struct run *r, bool final)
{
	static int64_t last_guards;
	int64_t now = fleet_now_ns();
	char ts[32];

	pthread_mutex_lock(&r->lock);
	for (; r->shown_events < r->n_events; r->shown_events++) {
		stamp(r, r->events[r->shown_events].t_ns, ts, sizeof(ts));
		fprintf(r->view, "%s %s\n", ts, r->events[r->shown_events].text);
	}
	pthread_mutex_unlock(&r->lock);
	if (r->guards && !final && now - last_guards >= PLAIN_GUARDS_NS) {
		last_guards = now;
		for (size_t i = 0; i < guardset_count(r->guards); i++) {
			struct guard_status st;

			if (guardset_status(r->guards, i, &st))
				continue;
			stamp(r, now, ts, sizeof(ts));
			fprintf(r->view, "%s ", ts);
			guard_line(r->view, &st);
		}
	}
	fflush(r->view);
}

void run_view_update(struct run *r, bool final)
{
	if (r->tty)
		draw_screen(r, final);
	else
		plain_lines(r, final);
	if (final)
		fprintf(r->view, "%s: %s%s%s\n", run_outcome_name(r->outcome),
			r->outcome == RUN_HELD ? "the hypothesis held" : "",
			r->reason[0] && r->outcome == RUN_HELD ? "; " : "", r->reason);
}
