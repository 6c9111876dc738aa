/*
 * A run's plan (run_plan.h): the table of (fault, agent) pairs, one worker per agent with its
 * share of the table, and the check that each agent implements and can apply the fault types
 * it will be asked for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "exp.h"
#include "inventory.h"
#include "run_plan.h"
#include "run_state.h"

int run_plan_faults(struct run *r, const struct inventory *inv, char *err, size_t size)
{
	const struct experiment *e = r->e;
	size_t *idx, *per_agent, total = 0, n = 0;
	int ret = 0;

	idx = calloc(r->fleet.n ? r->fleet.n : 1, sizeof(*idx));
	per_agent = calloc(r->fleet.n ? r->fleet.n : 1, sizeof(*per_agent));
	r->workers = calloc(r->fleet.n ? r->fleet.n : 1, sizeof(*r->workers));
	if (!idx || !per_agent || !r->workers) {
		ret = -ENOMEM;
		goto out;
	}
	/*
	 * Counted first: a fault per agent on a thousand agents is a thousand pairs, not the
	 * million a table of every fault by every agent would hold.
	 */
	for (size_t fi = 0; fi < e->n_faults; fi++) {
		int k = fleet_fault_agents(&r->fleet, e, inv, fi, idx, err, size);

		if (k < 0) {
			ret = k;
			goto out;
		}
		total += (size_t)k;
		for (int j = 0; j < k; j++)
			per_agent[idx[j]]++;
	}
	r->faults = calloc(total ? total : 1, sizeof(*r->faults));
	if (!r->faults) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t fi = 0; fi < e->n_faults; fi++) {
		int k = fleet_fault_agents(&r->fleet, e, inv, fi, idx, err, size);

		for (int j = 0; j < k; j++)
			r->faults[n++] = (struct run_fault){.fault = fi, .agent = idx[j]};
	}
	r->n_faults = n;
	for (size_t ai = 0; ai < r->fleet.n; ai++) {
		struct run_worker *w = &r->workers[ai];

		w->run = r;
		w->agent = ai;
		w->rf = calloc(per_agent[ai] ? per_agent[ai] : 1, sizeof(*w->rf));
		if (!w->rf) {
			ret = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct run_worker *w = &r->workers[r->faults[i].agent];

		w->rf[w->n_rf++] = i;
	}
out:
	free(per_agent);
	free(idx);
	return ret;
}

int run_check_types(struct fleet_agent *a, void *arg)
{
	struct run *r = arg;
	size_t ai = (size_t)(a - r->fleet.agents);
	json_t *info = NULL, *types, *t;
	char buf[128];
	int status, err;
	size_t i;

	err = fleet_call(a, "GET", "/v1/info", NULL, &status, &info);
	if (err)
		return err;
	if (status != 200) {
		snprintf(a->err, sizeof(a->err), "agent info: %s",
			 client_error_message(info, status, buf, sizeof(buf)));
		json_decref(info);
		return -EREMOTE;
	}
	types = json_object_get(info, "fault_types");
	/* This agent's faults only, from its worker's list: not every pair of the fleet. */
	for (size_t k = 0; k < r->workers[ai].n_rf && !err; k++) {
		const struct fault_spec *fs = &r->e->faults[r->faults[r->workers[ai].rf[k]].fault];
		const char *type = exp_fault_type_name(fs->type);
		bool found = false;

		json_array_foreach(types, i, t)
		{
			if (strcmp(json_string_value(json_object_get(t, "name")) ?: "", type))
				continue;
			found = true;
			if (!json_is_true(json_object_get(t, "available"))) {
				snprintf(a->err, sizeof(a->err),
					 "fault '%s': %s is unavailable on this agent: %s",
					 fs->name, type,
					 json_string_value(json_object_get(t, "reason")) ?: "");
				err = -EOPNOTSUPP;
			}
		}
		if (!found && !err) {
			snprintf(a->err, sizeof(a->err),
				 "fault '%s': this agent does not implement %s", fs->name, type);
			err = -EOPNOTSUPP;
		}
	}
	json_decref(info);
	return err;
}
