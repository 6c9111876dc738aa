/*
 * POST /v1/resolve: what a fault would hit now, without applying it. The fault goes through
 * the same checks as an apply (the type's validate, the conflict rule) on a fault object of
 * its own that is never journaled, listed or applied, then through the type's resolve op.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "exp.h"
#include "fault.h"
#include "policy.h"
#include "procsel.h"

int fault_proc_resolve(struct agent *a, struct fault *f, json_t **out, char *err, size_t size)
{
	const struct fault_spec *s = f->spec;
	struct proc_target whole;
	struct procsel_guard g;

	procsel_guard_init(&g, f->peer_pid, a->policy);
	/* The freezer stops every process of its cgroup or container, whatever else it says. */
	if (s->type == FAULT_PROC_PAUSE && s->params.pause.method == PAUSE_FREEZER) {
		memset(&whole, 0, sizeof(whole));
		whole.cgroup = s->target.proc.cgroup;
		whole.container = s->target.proc.container;
		whole.all = true;
		return procsel_resolve(&whole, &g, out, err, size);
	}
	return procsel_resolve(&s->target.proc, &g, out, err, size);
}

/* The conflict rule of core_fault_apply(), against every fault in place. */
static int conflicts(const struct agent *a, const struct fault *f, char *err, size_t size)
{
	for (const struct fault *o = a->faults; o; o = o->next) {
		char what[512];

		if (fault_state_final(o->state))
			continue;
		if (!exp_fault_conflicts(o->spec, f->spec, what, sizeof(what)))
			continue;
		snprintf(err, size, "conflicts with active fault %s ('%s'): both %s", o->id,
			 o->spec->name ? o->spec->name : "", what);
		return -EBUSY;
	}
	return 0;
}

int fault_resolve(struct agent *a, const struct fault_ops *type, struct fault_spec *spec,
		  pid_t peer_pid, json_t **out, char *err, size_t size)
{
	struct fault f;
	int ret;

	*out = NULL;
	memset(&f, 0, sizeof(f));
	snprintf(f.id, sizeof(f.id), "resolve");
	f.agent = a;
	f.type = type;
	f.spec = spec;
	f.peer_pid = peer_pid;
	f.duration_ms = spec->duration_ns > 0 ? (uint64_t)(spec->duration_ns / 1000000) : 0;
	f.state = FAULT_VALIDATED;
	ret = conflicts(a, &f, err, size);
	if (!ret && type->validate)
		ret = type->validate(a, &f, err, size);
	if (!ret && type->resolve)
		ret = type->resolve(a, &f, out, err, size);
	/* validate may have set priv (an interface lookup): nothing else was made. */
	if (f.priv && type->free_priv)
		type->free_priv(&f);
	return ret;
}
