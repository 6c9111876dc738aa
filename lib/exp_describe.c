/*
 * Descriptions of a fault's target and parameters for plans and reports (exp_describe_target(),
 * exp_describe_params()): one line of text each, from the parsed spec alone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "exp_params.h"
#include "exp_priv.h"
#include "faultline/netfault.h"

/* Descriptions for plans. */

/* At most this many addresses are spelled out in a plan line; the rest are counted. */
#define PLAN_CIDRS 4

static size_t put_ranges(char *buf, size_t size, size_t o, const struct port_range *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		o = exp_put_range(buf, size, o, i, r[i].lo, r[i].hi);
	return o;
}

/*
 * " in container id X", "inside container 'N'", ... with the runtime unless auto, and whether
 * the fault follows the container's restarts.
 */
static size_t put_container(char *buf, size_t size, size_t o, const char *pre,
			    const struct container_ref *c)
{
	if (c->id)
		o = exp_put(buf, size, o, "%s container id %s", pre, c->id);
	else if (c->name)
		o = exp_put(buf, size, o, "%s container '%s'", pre, c->name);
	else
		o = exp_put(buf, size, o, "%s compose service %s/%s", pre, c->compose->project,
			    c->compose->service);
	if (c->runtime != CONTAINER_RUNTIME_AUTO)
		o = exp_put(buf, size, o, " (%s)", exp_container_runtime_name(c->runtime));
	if (c->follow_restarts)
		o = exp_put(buf, size, o, ", following its restarts");
	return o;
}

void exp_describe_target(const struct fault_spec *f, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	switch (exp_fault_target_kind(f->type)) {
	case FAULT_TARGET_NET: {
		const struct net_target *t = &f->target.net;
		char c[64];

		o = exp_put(buf, size, o, "%s %s", exp_net_ifname(t),
			    exp_enum_name(&exp_direction_enum, t->direction));
		if (t->netns_path)
			o = exp_put(buf, size, o, " in netns %s", t->netns_path);
		else if (t->netns_pid)
			o = exp_put(buf, size, o, " in the netns of pid %u",
				    (unsigned int)t->netns_pid);
		else if (t->container)
			o = put_container(buf, size, o, " in", t->container);
		if (t->all)
			o = exp_put(buf, size, o, ", every matching container");
		else if (t->count)
			o = exp_put(buf, size, o, ", %u of the matching containers",
				    (unsigned int)t->count);
		else if (t->percent_ppm)
			o = exp_put(buf, size, o, ", %g%% of the matching containers",
				    t->percent_ppm / 1e4);
		if (t->seed && (t->count || t->percent_ppm))
			o = exp_put(buf, size, o, " (seed %llu)", (unsigned long long)t->seed);
		if (t->protocol != NET_PROTO_ANY)
			o = exp_put(buf, size, o, " %s",
				    exp_enum_name(&exp_protocol_enum, t->protocol));
		o = exp_put(buf, size, o, ", peers ");
		for (size_t i = 0; i < t->n_cidrs && i < PLAN_CIDRS; i++) {
			struct exp_field cf = {.type = FT_CIDR};

			exp_fld_format(&cf, &t->cidrs[i], c, sizeof(c));
			o = exp_put(buf, size, o, "%s%s", i ? " " : "", c);
		}
		if (t->n_cidrs > PLAN_CIDRS)
			o = exp_put(buf, size, o, " and %zu more", t->n_cidrs - PLAN_CIDRS);
		if (t->n_ports) {
			o = exp_put(buf, size, o, ", peer ports ");
			o = put_ranges(buf, size, o, t->ports, t->n_ports);
		}
		if (t->n_local_ports) {
			o = exp_put(buf, size, o, ", local ports ");
			put_ranges(buf, size, o, t->local_ports, t->n_local_ports);
		}
		break;
	}
	case FAULT_TARGET_PROC: {
		const struct proc_target *t = &f->target.proc;
		const struct exp_object *po = &exp_proc_target_object;
		bool with = false;
		char v[512];

		if (t->all)
			o = exp_put(buf, size, o, "all processes");
		else if (t->percent_ppm)
			o = exp_put(buf, size, o, "%s of the processes",
				    units_fmt_percent(v, t->percent_ppm));
		else
			o = exp_put(buf, size, o, "%u process%s", t->count,
				    t->count == 1 ? "" : "es");
		for (size_t i = 0; i < 6; i++) {
			const struct exp_field *pf = &po->fields[i];

			if (pf->type == FT_U32 ? !t->pid
					       : !*(char *const *)((const char *)t + pf->off))
				continue;
			exp_fld_format(pf, t, v, sizeof(v));
			o = exp_put(buf, size, o, "%s %s=", with ? "" : " with", pf->key);
			with = true;
			if (pf->type == FT_U32) {
				o = exp_put(buf, size, o, "%s", v);
				continue;
			}
			o = exp_put(buf, size, o, "'");
			for (const char *c = v; *c; c++)
				o = exp_put(buf, size, o,
					    (unsigned char)*c < ' ' ? "\\x%02x" : "%c",
					    (unsigned char)*c);
			o = exp_put(buf, size, o, "'");
		}
		if (t->container)
			o = put_container(buf, size, o, " in", t->container);
		if (t->seed)
			exp_put(buf, size, o, " (seed %llu)", (unsigned long long)t->seed);
		break;
	}
	case FAULT_TARGET_STRESS:
		if (f->target.stress.container) {
			put_container(buf, size, o, "inside", f->target.stress.container);
			break;
		}
		/* fall through */
	default:
		exp_put(buf, size, o, "the agent's host");
		break;
	}
}

void exp_describe_params(const struct fault_spec *f, char *buf, size_t size)
{
	const struct exp_object *o = exp_params_object(f->type);
	json_t *j = NULL;
	size_t n = 0;

	buf[0] = '\0';
	if (!o)
		return;
	/* The JSON form already holds exactly the fields worth showing, in table order. */
	if (exp_obj_to_json(o, &f->params, &j))
		return;
	for (size_t i = 0; i < o->n_fields; i++) {
		char v[512];

		if (!json_object_get(j, o->fields[i].key))
			continue;
		exp_fld_format(&o->fields[i], &f->params, v, sizeof(v));
		n = exp_put(buf, size, n, "%s%s %s", n ? ", " : "", o->fields[i].key, v);
	}
	json_decref(j);
}
