/*
 * Rules over the whole experiment, run once every field was read: faults must fit in the
 * run, names must be unique, references must resolve, and faults that act on the same
 * packets, processes or files at the same time must be combinable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_priv.h"
#include "faultline/netfault.h"

/*
 * Whether a problem was already reported at or under path. Rules skip what failed to
 * parse: a second message about a value that was refused says nothing new.
 */
static bool has_diag(const struct exp_ctx *ctx, const char *path)
{
	size_t len = strlen(path);

	for (size_t i = 0; i < ctx->diags->count; i++) {
		const char *p = ctx->diags->items[i].path;

		if (!strncmp(p, path, len) && (p[len] == '\0' || p[len] == '.' || p[len] == '['))
			return true;
	}
	return false;
}

static bool field_ok(const struct exp_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool field_ok(const struct exp_ctx *ctx, const char *fmt, ...)
{
	char path[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return !has_diag(ctx, path);
}

/* Report at key of the i-th item of list (e.g. faults[2].start). */
static void err_item(struct exp_ctx *ctx, const struct enode *root, const char *list, size_t i,
		     const char *key, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void err_item(struct exp_ctx *ctx, const struct enode *root, const char *list, size_t i,
		     const char *key, const char *fmt, ...)
{
	const struct enode *item = exp_node_item(exp_node_get(root, list), i);
	const struct enode *at = key ? exp_node_get(item, key) : NULL;
	size_t old = exp_path_key(ctx, list);
	va_list ap;

	exp_path_index(ctx, i);
	if (key)
		exp_path_key(ctx, key);
	va_start(ap, fmt);
	exp_verr(ctx, at ? at : item, fmt, ap);
	va_end(ap);
	exp_path_set(ctx, old);
}

static void check_names(struct exp_ctx *ctx, const struct enode *root, const char *list,
			const char *what, const void *items, size_t n, size_t size)
{
	char q[DIAG_QUOTE_SIZE];

	/* name is the first member of every named struct. */
	for (size_t i = 0; i < n; i++) {
		const char *a = *(char *const *)((const char *)items + i * size);

		for (size_t j = 0; a && j < i; j++) {
			const char *b = *(char *const *)((const char *)items + j * size);

			if (b && !strcmp(a, b)) {
				err_item(ctx, root, list, i, "name",
					 "%s name %s is already used by %s[%zu]", what,
					 diag_quote(q, a), list, j);
				break;
			}
		}
	}
}

static void check_steady_names(struct exp_ctx *ctx, const struct enode *root,
			       const struct exp_steady_state *ss)
{
	const struct enode *s = exp_node_get(root, "steady_state");
	size_t old = exp_path_key(ctx, "steady_state");

	check_names(ctx, s, "before", "check", ss->before, ss->n_before, sizeof(*ss->before));
	check_names(ctx, s, "after", "check", ss->after, ss->n_after, sizeof(*ss->after));
	exp_path_set(ctx, old);
}

static void check_agents(struct exp_ctx *ctx, const struct enode *root, const struct experiment *e)
{
	char q[DIAG_QUOTE_SIZE];

	for (size_t i = 0; i < e->n_agents; i++) {
		const struct exp_agent *a = &e->agents[i];
		const char *id = a->group ? a->group : a->name;

		if (!id)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct exp_agent *b = &e->agents[j];
			const char *other = b->group ? b->group : b->name;

			if (other && !strcmp(id, other)) {
				err_item(ctx, root, "agents", i, a->group ? "group" : "name",
					 "%s is already listed as agents[%zu]", diag_quote(q, id),
					 j);
				break;
			}
		}
		if (e->inventory || !field_ok(ctx, "agents[%zu]", i))
			continue;
		if (a->group)
			err_item(ctx, root, "agents", i, "group",
				 "group %s comes from an inventory, but the experiment names no "
				 "inventory file",
				 diag_quote(q, a->group));
		else if (!a->address)
			err_item(ctx, root, "agents", i, "name",
				 "agent %s has no address, and the experiment names no inventory "
				 "file to look it up in",
				 diag_quote(q, a->name));
	}
}

static const char *agent_id(const struct exp_agent *a)
{
	return a->group ? a->group : a->name;
}

/*
 * Names are looked up often (every agent of every fault, again for every pair of faults),
 * so the lists are sorted once and searched, which keeps a large file fast.
 */
struct agent_index {
	const struct exp_agent **by_id; /* entries with a name or group, sorted by it */
	size_t n;
};

/* A fault's agent references, sorted, and whether one of them is an inventory group. */
struct fault_agents {
	const char **names;
	size_t n;
	bool group;
};

static int agent_cmp(const void *x, const void *y)
{
	return strcmp(agent_id(*(const struct exp_agent *const *)x),
		      agent_id(*(const struct exp_agent *const *)y));
}

static int agent_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, agent_id(*(const struct exp_agent *const *)elem));
}

static int name_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static const struct exp_agent *find_agent(const struct agent_index *ix, const char *name)
{
	const struct exp_agent **a;

	if (!ix->n)
		return NULL;
	a = bsearch(name, ix->by_id, ix->n, sizeof(*ix->by_id), agent_key_cmp);
	return a ? *a : NULL;
}

static int index_agents(const struct experiment *e, struct agent_index *ix)
{
	ix->n = 0;
	ix->by_id = calloc(e->n_agents ? e->n_agents : 1, sizeof(*ix->by_id));
	if (!ix->by_id)
		return -ENOMEM;
	for (size_t i = 0; i < e->n_agents; i++) {
		if (agent_id(&e->agents[i]))
			ix->by_id[ix->n++] = &e->agents[i];
	}
	if (ix->n > 1)
		qsort(ix->by_id, ix->n, sizeof(*ix->by_id), agent_cmp);
	return 0;
}

/* Check that every agent reference of fault fi resolves, and collect them into fa. */
static void check_fault_agents(struct exp_ctx *ctx, const struct enode *root,
			       const struct experiment *e, const struct agent_index *ix, size_t fi,
			       struct fault_agents *fa)
{
	const struct fault_spec *f = &e->faults[fi];
	const struct enode *list =
		exp_node_get(exp_node_item(exp_node_get(root, "faults"), fi), "agents");
	const char **names = NULL;

	/* A broken agents list leaves nothing to resolve names against. */
	bool resolve = field_ok(ctx, "faults[%zu].agents", fi) && e->n_agents;

	if (f->n_agents) {
		fa->names = calloc(f->n_agents, sizeof(*fa->names));
		if (!fa->names) {
			ctx->nomem = true;
			return;
		}
	}
	for (size_t i = 0; i < f->n_agents; i++) {
		const struct exp_agent *a = f->agents[i] ? find_agent(ix, f->agents[i]) : NULL;
		size_t old;

		if (f->agents[i])
			fa->names[fa->n++] = f->agents[i];
		if (a && a->group)
			fa->group = true;
		/* Past DIAG_MAX, suggestions would only be computed to be dropped. */
		if (a || !f->agents[i] || !resolve || ctx->diags->dropped)
			continue;
		if (!names) {
			names = calloc(e->n_agents, sizeof(*names));
			if (!names) {
				ctx->nomem = true;
				return;
			}
			for (size_t j = 0; j < e->n_agents; j++)
				names[j] = agent_id(&e->agents[j]);
		}
		old = exp_path_key(ctx, "faults");
		exp_path_index(ctx, fi);
		exp_path_key(ctx, "agents");
		exp_path_index(ctx, i);
		exp_err_unknown(ctx, exp_node_item(list, i), "agent", f->agents[i], names,
				e->n_agents, "; it must be a name or group from 'agents'");
		exp_path_set(ctx, old);
	}
	if (fa->n > 1)
		qsort(fa->names, fa->n, sizeof(*fa->names), name_cmp);
	free(names);
}

/*
 * Whether two faults may run on a common agent. Group members are only known from the
 * inventory at run time, so a group is taken to share agents with everything.
 */
static bool agents_overlap(const struct fault_spec *fa, const struct fault_agents *a,
			   const struct fault_spec *fb, const struct fault_agents *b)
{
	size_t i = 0, j = 0;

	if (!fa->n_agents || !fb->n_agents || a->group || b->group)
		return true;
	while (i < a->n && j < b->n) {
		int c = strcmp(a->names[i], b->names[j]);

		if (!c)
			return true;
		if (c < 0)
			i++;
		else
			j++;
	}
	return false;
}

static int64_t fault_end(const struct fault_spec *f)
{
	return f->start_ns + f->duration_ns;
}

static void check_conflicts(struct exp_ctx *ctx, const struct enode *root,
			    const struct experiment *e, const bool *ok,
			    const struct fault_agents *fa)
{
	for (size_t j = 0; j < e->n_faults; j++) {
		const struct fault_spec *b = &e->faults[j];

		if (!ok[j])
			continue;
		for (size_t i = 0; i < j; i++) {
			const struct fault_spec *a = &e->faults[i];
			char what[512], from[UNITS_FMT_MAX], to[UNITS_FMT_MAX], q[DIAG_QUOTE_SIZE];
			int64_t lo, hi;

			if (!ok[i] || a->type != b->type)
				continue;
			lo = a->start_ns > b->start_ns ? a->start_ns : b->start_ns;
			hi = fault_end(a) < fault_end(b) ? fault_end(a) : fault_end(b);
			/* Instantaneous faults occupy no time, so they never overlap. */
			if (lo >= hi || !agents_overlap(a, &fa[i], b, &fa[j]))
				continue;
			if (!exp_fault_conflicts(a, b, what, sizeof(what)))
				continue;
			err_item(ctx, root, "faults", j, NULL,
				 "conflicts with fault %s (faults[%zu]): both %s from t+%s to t+%s",
				 diag_quote(q, a->name), i, what, units_fmt_duration(from, lo),
				 units_fmt_duration(to, hi));
			break;
		}
	}
}

/*
 * The network faults on one interface share its rule slots: at the start of each network
 * fault, the faults then active on the same interface of a common agent must fit together.
 * (A fault that alone needs too many is reported by the fault's own check.)
 */
static void check_rule_slots(struct exp_ctx *ctx, const struct enode *root,
			     const struct experiment *e, const bool *ok,
			     const struct fault_agents *fa)
{
	for (size_t j = 0; j < e->n_faults; j++) {
		const struct fault_spec *b = &e->faults[j];
		size_t need = exp_fault_rule_slots(b), with = 0;
		char at[UNITS_FMT_MAX], q[DIAG_QUOTE_SIZE];

		if (!ok[j] || !need || need > NETFAULT_MAX_RULES || !b->duration_ns)
			continue;
		for (size_t i = 0; i < e->n_faults; i++) {
			const struct fault_spec *a = &e->faults[i];

			if (i == j || !ok[i] || !exp_fault_rule_slots(a) ||
			    exp_fault_rule_slots(a) > NETFAULT_MAX_RULES)
				continue;
			if (a->start_ns > b->start_ns || fault_end(a) <= b->start_ns ||
			    (a->start_ns == b->start_ns && i > j))
				continue;
			if (!exp_net_same_link(&a->target.net, &b->target.net) ||
			    !agents_overlap(a, &fa[i], b, &fa[j]))
				continue;
			need += exp_fault_rule_slots(a);
			with++;
		}
		if (need > NETFAULT_MAX_RULES)
			err_item(ctx, root, "faults", j, "target",
				 "together with %zu other fault%s on interface %s at t+%s, "
				 "needs %zu rule slots; an interface has %d",
				 with, with == 1 ? "" : "s",
				 diag_quote(q, exp_net_ifname(&b->target.net)),
				 units_fmt_duration(at, b->start_ns), need, NETFAULT_MAX_RULES);
	}
}

static void check_faults(struct exp_ctx *ctx, const struct enode *root, const struct experiment *e)
{
	bool dur_ok = field_ok(ctx, "duration") && e->duration_ns > 0;
	char a[UNITS_FMT_MAX], b[UNITS_FMT_MAX];
	struct agent_index ix = {0};
	struct fault_agents *fa;
	bool *ok;

	ok = calloc(e->n_faults ? e->n_faults : 1, sizeof(*ok));
	fa = calloc(e->n_faults ? e->n_faults : 1, sizeof(*fa));
	if (!ok || !fa || index_agents(e, &ix)) {
		ctx->nomem = true;
		goto out;
	}
	for (size_t i = 0; i < e->n_faults; i++) {
		const struct fault_spec *f = &e->faults[i];
		bool timing_ok =
			f->type >= 0 && field_ok(ctx, "faults[%zu].start", i) &&
			field_ok(ctx, "faults[%zu].duration", i) &&
			field_ok(ctx, "faults[%zu].type", i) &&
			(!exp_fault_types[f->type].once || field_ok(ctx, "faults[%zu].params", i));

		ok[i] = f->type >= 0 && field_ok(ctx, "faults[%zu]", i);
		check_fault_agents(ctx, root, e, &ix, i, &fa[i]);
		if (!dur_ok || !timing_ok)
			continue;
		if (f->start_ns >= e->duration_ns)
			err_item(ctx, root, "faults", i, "start",
				 "fault starts at t+%s, when the experiment is over (it ends at "
				 "t+%s)",
				 units_fmt_duration(a, f->start_ns),
				 units_fmt_duration(b, e->duration_ns));
		else if (fault_end(f) > e->duration_ns)
			err_item(ctx, root, "faults", i, "duration",
				 "fault ends at t+%s, after the experiment ends at t+%s",
				 units_fmt_duration(a, fault_end(f)),
				 units_fmt_duration(b, e->duration_ns));
	}
	check_names(ctx, root, "faults", "fault", e->faults, e->n_faults, sizeof(*e->faults));
	if (!ctx->nomem)
		check_conflicts(ctx, root, e, ok, fa);
	if (!ctx->nomem)
		check_rule_slots(ctx, root, e, ok, fa);
out:
	for (size_t i = 0; fa && i < e->n_faults; i++)
		free(fa[i].names);
	free(fa);
	free(ok);
	free(ix.by_id);
}

static void check_guardrails(struct exp_ctx *ctx, const struct enode *root,
			     const struct experiment *e)
{
	char a[UNITS_FMT_MAX], b[UNITS_FMT_MAX];

	check_names(ctx, root, "guardrails", "guardrail", e->guardrails, e->n_guardrails,
		    sizeof(*e->guardrails));
	if (!field_ok(ctx, "duration") || !e->duration_ns)
		return;
	for (size_t i = 0; i < e->n_guardrails; i++) {
		const struct exp_guardrail *g = &e->guardrails[i];

		if (!field_ok(ctx, "guardrails[%zu].for", i) || g->for_ns < e->duration_ns)
			continue;
		err_item(ctx, root, "guardrails", i, "for",
			 "for: %s is not shorter than the experiment (%s), so this guardrail "
			 "could never fire",
			 units_fmt_duration(a, g->for_ns), units_fmt_duration(b, e->duration_ns));
	}
}

void exp_check_experiment(struct exp_ctx *ctx, const struct enode *root, struct experiment *e)
{
	char a[UNITS_FMT_MAX], b[UNITS_FMT_MAX];

	/*
	 * The rules below skip fields with problems, which they find in the list. Once
	 * problems were dropped (past DIAG_MAX) that is no longer possible, and a file that
	 * wrong gains nothing from more messages anyway.
	 */
	if (ctx->diags->dropped)
		return;

	if (field_ok(ctx, "duration") && field_ok(ctx, "safety.max_duration") &&
	    e->duration_ns > e->safety.max_duration_ns && e->duration_ns)
		exp_err_key(ctx, root, "duration",
			    "the experiment runs %s, longer than safety.max_duration %s",
			    units_fmt_duration(a, e->duration_ns),
			    units_fmt_duration(b, e->safety.max_duration_ns));
	check_agents(ctx, root, e);
	check_faults(ctx, root, e);
	check_guardrails(ctx, root, e);
	check_steady_names(ctx, root, &e->steady_state);
}
