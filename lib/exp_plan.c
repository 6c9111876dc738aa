/*
 * Dry-run plans: what an experiment would do, where and when, computed from the model only.
 * Nothing here touches the system or the network, so `faultctl plan` is safe anywhere.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "exp_priv.h"

/* Plan lines: the appenders the fault and probe descriptions write with. */
size_t exp_put(char *buf, size_t size, size_t o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o >= size)
		return o;
	va_start(ap, fmt);
	n = vsnprintf(buf + o, size - o, fmt, ap);
	va_end(ap);
	return n < 0 ? o : o + (size_t)n;
}

size_t exp_put_range(char *buf, size_t size, size_t o, size_t i, unsigned lo, unsigned hi)
{
	if (lo == hi)
		return exp_put(buf, size, o, "%s%u", i ? "," : "", lo);
	return exp_put(buf, size, o, "%s%u-%u", i ? "," : "", lo, hi);
}

enum plan_action {
	PLAN_START,  /* t+0: lease taken, guardrails armed */
	PLAN_REVERT, /* before applies at the same instant, so a hand-over never stacks */
	PLAN_APPLY,
	PLAN_SIGNAL, /* a one-shot process.kill */
	PLAN_END,
};

static const char *const action_names[] = {
	[PLAN_START] = "start",	  [PLAN_REVERT] = "revert", [PLAN_APPLY] = "apply",
	[PLAN_SIGNAL] = "signal", [PLAN_END] = "end",
};

struct plan_event {
	int64_t at;
	int action;
	size_t fault; /* index into faults, for apply, revert and signal */
};

static int event_cmp(const void *x, const void *y)
{
	const struct plan_event *a = x, *b = y;

	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	if (a->action != b->action)
		return a->action < b->action ? -1 : 1;
	if (a->fault != b->fault)
		return a->fault < b->fault ? -1 : 1;
	return 0;
}

/* The timeline, sorted. Returns the number of events or -ENOMEM. */
static ssize_t build_timeline(const struct experiment *e, struct plan_event **out)
{
	struct plan_event *ev = calloc(2 * e->n_faults + 2, sizeof(*ev));
	size_t n = 0;

	*out = NULL;
	if (!ev)
		return -ENOMEM;
	ev[n++] = (struct plan_event){0, PLAN_START, 0};
	for (size_t i = 0; i < e->n_faults; i++) {
		const struct fault_spec *f = &e->faults[i];

		if (!f->duration_ns) {
			ev[n++] = (struct plan_event){f->start_ns, PLAN_SIGNAL, i};
			continue;
		}
		ev[n++] = (struct plan_event){f->start_ns, PLAN_APPLY, i};
		ev[n++] = (struct plan_event){f->start_ns + f->duration_ns, PLAN_REVERT, i};
	}
	ev[n++] = (struct plan_event){e->duration_ns, PLAN_END, 0};
	qsort(ev, n, sizeof(*ev), event_cmp);
	*out = ev;
	return (ssize_t)n;
}

static const char *agent_id(const struct exp_agent *a)
{
	return a->group ? a->group : a->name;
}

/* "web-1, web-2": the fault's agents, or every agent of the experiment. */
static void fault_agents(const struct experiment *e, const struct fault_spec *f, char *buf,
			 size_t size)
{
	size_t o = 0, n = f->n_agents ? f->n_agents : e->n_agents;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o < size; i++) {
		const char *name = f->n_agents ? f->agents[i] : agent_id(&e->agents[i]);
		int r = snprintf(buf + o, size - o, "%s%s", i ? ", " : "", name);

		if (r < 0)
			break;
		o += (size_t)r;
	}
}

/* Free text on one plan line: line breaks and tabs become spaces. */
static void print_line(FILE *out, const char *label, const char *s)
{
	fprintf(out, "%s", label);
	for (; *s; s++)
		fputc(*s == '\n' || *s == '\t' ? ' ' : *s, out);
	fputc('\n', out);
}

static void print_checks(FILE *out, const struct exp_check *c, size_t n)
{
	char desc[16384];

	if (!n)
		fprintf(out, "  none\n");
	for (size_t i = 0; i < n; i++) {
		exp_describe_probe(&c[i].probe, desc, sizeof(desc));
		fprintf(out, "  - %s: %s; on probe error: %s\n", c[i].name, desc,
			exp_enum_name(&exp_on_error_enum, c[i].on_error));
	}
}

static void print_window(FILE *out, const struct exp_window *w)
{
	if (!w) {
		fprintf(out, "any time\n");
		return;
	}
	if (!w->n_days)
		fprintf(out, "every day");
	for (size_t i = 0; i < w->n_days; i++)
		fprintf(out, "%s%s", i ? " " : "", exp_enum_name(&exp_weekday_enum, w->days[i]));
	fprintf(out, ", %02u:%02u-%02u:%02u %s%s\n", w->start_min / 60, w->start_min % 60,
		w->end_min / 60, w->end_min % 60, w->timezone,
		w->end_min < w->start_min ? " (across midnight)" : "");
}

int exp_plan_render(FILE *out, const struct experiment *e, const char *file)
{
	char a[UNITS_FMT_MAX], b[UNITS_FMT_MAX], at[UNITS_FMT_MAX + 2];
	char who[4096], target[4096], params[4096], desc[16384];
	const struct exp_safety *s = &e->safety;
	struct plan_event *ev;
	ssize_t n;

	n = build_timeline(e, &ev);
	if (n < 0)
		return (int)n;
	fprintf(out, "plan: %s (%s)\n", e->name, file);
	print_line(out, "hypothesis: ", e->hypothesis);
	fprintf(out, "duration: %s (safety cap %s)\n", units_fmt_duration(a, e->duration_ns),
		units_fmt_duration(b, s->max_duration_ns));
	fprintf(out, "lease: TTL %s; agents revert every fault on their own when it lapses\n",
		units_fmt_duration(a, s->lease_ttl_ns));
	fprintf(out, "control channel: %s\n",
		s->protect_control_channel ? "protected" : "NOT protected (opted out)");
	fprintf(out, "dry run: %s\n",
		s->dry_run ? "yes (agents only report what they would do)" : "no");
	fprintf(out, "allowed window: ");
	print_window(out, s->window);

	fprintf(out, "\nagents:\n");
	for (size_t i = 0; i < e->n_agents; i++) {
		const struct exp_agent *ag = &e->agents[i];

		fprintf(out, "  %-16s ", ag->group ? ag->group : ag->name);
		if (ag->address)
			fprintf(out, "%s\n", ag->address);
		else
			print_line(out, ag->group ? "group from inventory " : "from inventory ",
				   e->inventory);
	}

	fprintf(out, "\nsteady state before the run:\n");
	print_checks(out, e->steady_state.before, e->steady_state.n_before);

	fprintf(out, "\ntimeline:\n");
	for (ssize_t i = 0; i < n; i++) {
		const struct plan_event *p = &ev[i];
		const struct fault_spec *f = &e->faults[p->fault];

		snprintf(at, sizeof(at), "t+%s", units_fmt_duration(a, p->at));
		fprintf(out, "  %-10s %-7s ", at, action_names[p->action]);
		switch (p->action) {
		case PLAN_START:
			fprintf(out, "take the lease, arm %zu guardrail%s\n", e->n_guardrails,
				e->n_guardrails == 1 ? "" : "s");
			break;
		case PLAN_END:
			fprintf(out, "revert whatever is still applied, release the lease\n");
			break;
		case PLAN_REVERT:
			fault_agents(e, f, who, sizeof(who));
			fprintf(out, "%s on %s\n", f->name, who);
			break;
		default:
			fault_agents(e, f, who, sizeof(who));
			exp_describe_target(f, target, sizeof(target));
			exp_describe_params(f, params, sizeof(params));
			fprintf(out, "%s [%s] on %s: %s%s%s", f->name, exp_fault_type_name(f->type),
				who, target, params[0] ? "; " : "", params);
			fprintf(out, "\n");
			if (exp_fault_effect(f->type))
				print_line(out, "                     effect: ",
					   exp_fault_effect(f->type));
			break;
		}
	}

	fprintf(out,
		"\nguardrails (watched from t+0s to t+%s; a breach aborts the run and reverts "
		"every fault):\n",
		units_fmt_duration(a, e->duration_ns));
	if (!e->n_guardrails)
		fprintf(out, "  none\n");
	for (size_t i = 0; i < e->n_guardrails; i++) {
		const struct exp_guardrail *g = &e->guardrails[i];

		exp_describe_probe(&g->probe, desc, sizeof(desc));
		if (g->for_ns)
			snprintf(b, sizeof(b), "%s", units_fmt_duration(a, g->for_ns));
		fprintf(out, "  - %s: %s; breach %s%s; on probe error: %s\n", g->name, desc,
			g->for_ns ? "once unhealthy for " : "as soon as it is unhealthy",
			g->for_ns ? b : "", exp_enum_name(&exp_on_error_enum, g->on_error));
	}

	fprintf(out, "\nsteady state after the run (must pass within %s):\n",
		units_fmt_duration(a, e->steady_state.recovery_timeout_ns));
	print_checks(out, e->steady_state.after, e->steady_state.n_after);

	fprintf(out, "\nthis is a plan: nothing was applied and no agent was contacted.\n");
	free(ev);
	return ferror(out) ? -EIO : 0;
}

static int event_json(const struct experiment *e, const struct plan_event *p, json_t **out)
{
	const struct fault_spec *f = &e->faults[p->fault];
	char a[UNITS_FMT_MAX];
	json_t *o, *agents, *fj;

	*out = NULL;
	o = json_pack("{s:s, s:I, s:s}", "at", units_fmt_duration(a, p->at), "at_ns",
		      (json_int_t)p->at, "action", action_names[p->action]);
	if (!o)
		return -ENOMEM;
	if (p->action == PLAN_START || p->action == PLAN_END) {
		*out = o;
		return 0;
	}
	agents = json_array();
	if (!agents || json_object_set_new(o, "agents", agents))
		goto nomem;
	for (size_t i = 0, n = f->n_agents ? f->n_agents : e->n_agents; i < n; i++) {
		const char *name = f->n_agents ? f->agents[i] : agent_id(&e->agents[i]);

		if (json_array_append_new(agents, json_string(name)))
			goto nomem;
	}
	if (json_object_set_new(o, "fault", json_string(f->name)))
		goto nomem;
	if (p->action != PLAN_REVERT) {
		if (exp_fault_to_json(f, &fj) || json_object_set_new(o, "spec", fj))
			goto nomem;
		if (exp_fault_effect(f->type) &&
		    json_object_set_new(o, "effect", json_string(exp_fault_effect(f->type))))
			goto nomem;
	}
	*out = o;
	return 0;
nomem:
	json_decref(o);
	return -ENOMEM;
}

int exp_plan_json(const struct experiment *e, json_t **out)
{
	struct plan_event *ev;
	json_t *plan = NULL, *tl, *ej;
	ssize_t n;
	int err = -ENOMEM;

	*out = NULL;
	n = build_timeline(e, &ev);
	if (n < 0)
		return (int)n;
	plan = json_object();
	tl = json_array();
	if (!plan || !tl || json_object_set_new(plan, "timeline", tl)) {
		if (!plan)
			json_decref(tl);
		goto out;
	}
	for (ssize_t i = 0; i < n; i++) {
		json_t *j;

		err = event_json(e, &ev[i], &j);
		if (err)
			goto out;
		if (json_array_append_new(tl, j)) {
			err = -ENOMEM;
			goto out;
		}
	}
	err = exp_to_json(e, &ej);
	if (err)
		goto out;
	if (json_object_set_new(plan, "experiment", ej)) {
		err = -ENOMEM;
		goto out;
	}
	*out = plan;
	plan = NULL;
	err = 0;
out:
	json_decref(plan);
	free(ev);
	return err;
}
