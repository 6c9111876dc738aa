/*
 * Faults: the table of fault types (one row each: name, target kind, params schema and checks
 * from exp_params.c, rules, conflict test from exp_conflict.c), the type-specific target rules
 * (process.pause, network.dns), and the single-fault parser and serialiser that the agent's API
 * shares with the experiment loader. Target schemas: exp_target.c; rule slot counts:
 * exp_slots.c.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "exp_conflict.h"
#include "exp_params.h"
#include "exp_priv.h"
#include "faultline/netfault.h"

/* Two pauses of the very same selection would thaw each other's processes. */
static bool pause_conflicts(const struct fault_spec *a, const struct fault_spec *b, char *what,
			    size_t size)
{
	if (!exp_obj_equal(&exp_proc_criteria_object, &a->target.proc, &b->target.proc))
		return false;
	snprintf(what, size, "pause the same processes (identical selectors)");
	return true;
}

/* Target rules of process.pause. */

static void push_target(struct exp_ctx *ctx, const struct enode *map, const char *key,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void push_target(struct exp_ctx *ctx, const struct enode *map, const char *key,
			const char *fmt, ...)
{
	const struct enode *target = exp_node_get(map, "target");
	const struct enode *v = key ? exp_node_get(target, key) : NULL;
	size_t old = exp_path_key(ctx, "target");
	va_list ap;

	if (key)
		exp_path_key(ctx, key);
	va_start(ap, fmt);
	exp_verr(ctx, v ? v : target ? target : map, fmt, ap);
	va_end(ap);
	exp_path_set(ctx, old);
}

/*
 * The freezer stops a whole cgroup: criteria that pick single processes, or a count, would
 * read as a smaller blast radius than the one the fault has.
 */
static void pause_check(struct exp_ctx *ctx, const struct enode *map, struct fault_spec *f)
{
	const struct proc_target *t = &f->target.proc;
	const struct {
		const char *key;
		bool given;
	} narrow[] = {
		{"pid", t->pid != 0},
		{"name", t->name != NULL},
		{"cmdline", t->cmdline != NULL},
		{"exe", t->exe != NULL},
		{"user", t->user != NULL},
		{"count", t->count != 0},
		{"percent", t->percent_ppm != 0},
		{"seed", t->seed != 0},
	};

	if (f->params.pause.method != PAUSE_FREEZER || !exp_node_get(map, "target"))
		return;
	if (!t->cgroup && !t->container)
		push_target(ctx, map, NULL,
			    "method freezer freezes a whole cgroup: it needs target.cgroup or "
			    "target.container");
	if (t->cgroup && t->container)
		push_target(ctx, map, "container",
			    "method freezer freezes one cgroup: give target.cgroup or "
			    "target.container, not both");
	for (size_t i = 0; i < ARRAY_SIZE(narrow); i++)
		if (narrow[i].given)
			push_target(
				ctx, map, narrow[i].key,
				"method freezer freezes the whole cgroup: the target takes only "
				"cgroup or container, and all: true ('%s' would not narrow it; "
				"use method sigstop to pick processes)",
				narrow[i].key);
}

/*
 * network.dns: the target names the resolvers (cidrs, IPv4 or IPv6) and their port (53 unless
 * given); the queries are faulted on their way out, over UDP (answered or dropped) and TCP
 * (dropped).
 */
static void dns_target_check(struct exp_ctx *ctx, const struct enode *map, struct fault_spec *f)
{
	struct net_target *t = &f->target.net;

	if (!exp_node_get(map, "target"))
		return;
	if (t->direction != NET_DIR_EGRESS)
		push_target(ctx, map, "direction",
			    "network.dns faults the queries the target sends: direction must be "
			    "egress");
	if (t->protocol == NET_PROTO_ICMP)
		push_target(ctx, map, "protocol",
			    "DNS runs over udp and tcp: use udp, tcp or any (the default)");
	if (!t->n_ports) {
		t->ports = calloc(1, sizeof(*t->ports));
		if (!t->ports) {
			push_target(ctx, map, "ports", "out of memory");
			return;
		}
		t->ports[0].lo = t->ports[0].hi = 53;
		t->n_ports = 1;
	}
}

/*
 * The fault types, indexed by enum fault_type. Adding one: docs/adding-a-fault-type.md (an
 * enum value, a params struct and object, a row here, and the agent's ops).
 */
const struct fault_type_desc exp_fault_types[FAULT_TYPE_COUNT] = {
	[FAULT_NET_LATENCY] = {.name = "network.latency",
			       .target = FAULT_TARGET_NET,
			       .default_direction = NET_DIR_EGRESS,
			       .rules_per_direction = true,
			       .params = &exp_params_latency,
			       .conflicts = exp_conflict_packets},
	[FAULT_NET_LOSS] = {.name = "network.loss",
			    .target = FAULT_TARGET_NET,
			    .default_direction = NET_DIR_EGRESS,
			    .params = &exp_params_loss,
			    .conflicts = exp_conflict_packets},
	[FAULT_NET_CORRUPTION] =
		{.name = "network.corruption",
		 .target = FAULT_TARGET_NET,
		 .default_direction = NET_DIR_EGRESS,
		 .params = &exp_params_corruption,
		 .conflicts = exp_conflict_packets,
		 .effect = "flips one bit after the IP header of the chosen packets, "
			   "like a wire error: the receiver's checksum drops them, so "
			   "TCP retransmits and UDP datagrams are lost, and no "
			   "application sees changed bytes (a packet whose checksum "
			   "is still to be computed, local TCP/UDP with checksum "
			   "offload, is dropped instead of flipped, which is what the "
			   "receiver would do with it)"},
	[FAULT_NET_DUPLICATION] = {.name = "network.duplication",
				   .target = FAULT_TARGET_NET,
				   .default_direction = NET_DIR_EGRESS,
				   .params = &exp_params_duplication,
				   .conflicts = exp_conflict_packets},
	/* Dropping is idempotent, so overlapping partitions combine. */
	[FAULT_NET_PARTITION] = {.name = "network.partition",
				 .target = FAULT_TARGET_NET,
				 .default_direction = NET_DIR_BOTH,
				 .params = &exp_params_partition},
	[FAULT_NET_BANDWIDTH] = {.name = "network.bandwidth",
				 .target = FAULT_TARGET_NET,
				 .default_direction = NET_DIR_EGRESS,
				 .rules_per_direction = true,
				 .params = &exp_params_bandwidth,
				 .conflicts = exp_conflict_bandwidth},
	[FAULT_NET_DNS] = {.name = "network.dns",
			   .target = FAULT_TARGET_NET,
			   .default_direction = NET_DIR_EGRESS,
			   .params = &exp_params_dns,
			   .check = dns_target_check,
			   .conflicts = exp_conflict_dns,
			   .effect = "answers the matching queries at once in the data path, "
				     "the query never reaching the resolver (nxdomain, servfail, "
				     "refused; spoof: NOERROR with the a/aaaa records for A/AAAA "
				     "queries, no record for other types) or drops them (drop); "
				     "queries over TCP are dropped"},
	[FAULT_PROC_KILL] = {.name = "process.kill",
			     .target = FAULT_TARGET_PROC,
			     .once = exp_params_kill_once,
			     .params = &exp_params_kill,
			     .check = exp_params_kill_check},
	[FAULT_PROC_PAUSE] = {.name = "process.pause",
			      .target = FAULT_TARGET_PROC,
			      .params = &exp_params_pause,
			      .check = pause_check,
			      .conflicts = pause_conflicts},
	/* Stressors add up, except those that fight over one file. */
	[FAULT_STRESS_CPU] = {.name = "stress.cpu",
			      .target = FAULT_TARGET_STRESS,
			      .params = &exp_params_cpu},
	[FAULT_STRESS_MEMORY] = {.name = "stress.memory",
				 .target = FAULT_TARGET_STRESS,
				 .params = &exp_params_memory,
				 .check = exp_params_memory_check},
	[FAULT_STRESS_DISK_FILL] = {.name = "stress.disk_fill",
				    .target = FAULT_TARGET_STRESS,
				    .params = &exp_params_disk_fill,
				    .conflicts = exp_conflict_disk_fill},
	[FAULT_STRESS_IO] = {.name = "stress.io",
			     .target = FAULT_TARGET_STRESS,
			     .params = &exp_params_io,
			     .conflicts = exp_conflict_io},
	[FAULT_STRESS_FDS] = {.name = "stress.fds",
			      .target = FAULT_TARGET_NONE,
			      .params = &exp_params_fds},
};

const char *exp_fault_type_name(int type)
{
	if (type < 0 || type >= FAULT_TYPE_COUNT)
		return "?";
	return exp_fault_types[type].name;
}

bool exp_fault_once(const struct fault_spec *f)
{
	if (f->type < 0 || f->type >= FAULT_TYPE_COUNT || !exp_fault_types[f->type].once)
		return false;
	return exp_fault_types[f->type].once(f);
}

const char *exp_fault_effect(int type)
{
	if (type < 0 || type >= FAULT_TYPE_COUNT)
		return NULL;
	return exp_fault_types[type].effect;
}

enum fault_target_kind exp_fault_target_kind(int type)
{
	if (type < 0 || type >= FAULT_TYPE_COUNT)
		return FAULT_TARGET_NONE;
	return exp_fault_types[type].target;
}

int exp_fault_type_lookup(const char *name, int *type)
{
	for (int i = 0; i < FAULT_TYPE_COUNT; i++) {
		if (!strcmp(exp_fault_types[i].name, name)) {
			*type = i;
			return 0;
		}
	}
	return -ENOENT;
}

/* The fault object: type, target and params are custom because their schema is the type's. */

static void type_init(const struct exp_field *f, void *obj)
{
	((struct fault_spec *)obj)->type = -1;
}

static bool type_parse(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
		       void *obj)
{
	const char *names[FAULT_TYPE_COUNT];
	char list[560];
	size_t o = 0;

	if (n->type != EN_SCALAR || n->scalar != ES_STRING) {
		exp_err(ctx, n, "expected a fault type such as 'network.latency', got %s",
			exp_node_what(n));
		return false;
	}
	if (!exp_fault_type_lookup(n->str, &((struct fault_spec *)obj)->type))
		return true;
	o = (size_t)snprintf(list, sizeof(list), " (known types: ");
	for (int i = 0; i < FAULT_TYPE_COUNT; i++) {
		names[i] = exp_fault_types[i].name;
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", names[i]);
	}
	snprintf(list + o, sizeof(list) - o, ")");
	exp_err_unknown(ctx, n, "fault type", n->str, names, FAULT_TYPE_COUNT, list);
	return false;
}

static int type_to_json(const struct exp_field *f, const void *obj, json_t **out)
{
	*out = json_string(exp_fault_type_name(((const struct fault_spec *)obj)->type));
	return *out ? 0 : -ENOMEM;
}

static void nothing_release(const struct exp_field *f, void *obj)
{
}

static bool type_equal(const struct exp_field *f, const void *a, const void *b)
{
	return ((const struct fault_spec *)a)->type == ((const struct fault_spec *)b)->type;
}

static const struct exp_custom type_custom = {
	.init = type_init,
	.parse = type_parse,
	.to_json = type_to_json,
	.release = nothing_release,
	.equal = type_equal,
};

static const struct exp_object *target_object(int type)
{
	switch (exp_fault_target_kind(type)) {
	case FAULT_TARGET_NET:
		return &exp_net_target_object;
	case FAULT_TARGET_PROC:
		return &exp_proc_target_object;
	case FAULT_TARGET_STRESS:
		return &exp_stress_target_object;
	default:
		return NULL;
	}
}

static bool target_parse(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
			 void *obj)
{
	struct fault_spec *fs = obj;
	const struct exp_object *o;
	size_t errs = diag_total(ctx->diags);

	if (fs->type < 0)
		return false; /* Without a known type there is no schema to check against. */
	o = target_object(fs->type);
	if (!o) {
		exp_err(ctx, n, "%s faults take no target", exp_fault_type_name(fs->type));
		return false;
	}
	exp_obj_init(o, &fs->target);
	if (o == &exp_net_target_object)
		fs->target.net.direction = exp_fault_types[fs->type].default_direction;
	exp_obj_parse(ctx, o, n, &fs->target);
	return diag_total(ctx->diags) == errs;
}

/* The target object of a fault that has one: a stressor's is optional. */
static const struct exp_object *target_given(const struct fault_spec *fs)
{
	const struct exp_object *o = target_object(fs->type);

	if (o == &exp_stress_target_object && !fs->target.stress.container)
		return NULL;
	return o;
}

static int target_to_json(const struct exp_field *f, const void *obj, json_t **out)
{
	const struct fault_spec *fs = obj;
	const struct exp_object *o = target_given(fs);

	*out = NULL;
	return o ? exp_obj_to_json(o, &fs->target, out) : 0;
}

static void target_release(const struct exp_field *f, void *obj)
{
	struct fault_spec *fs = obj;
	const struct exp_object *o = target_given(fs);

	if (o)
		exp_obj_release(o, &fs->target);
}

static bool target_equal(const struct exp_field *f, const void *a, const void *b)
{
	const struct fault_spec *x = a, *y = b;
	const struct exp_object *o = target_given(x);

	return x->type == y->type && o == target_given(y) &&
	       (!o || exp_obj_equal(o, &x->target, &y->target));
}

static const struct exp_object *target_schema(size_t i)
{
	static const struct exp_object *const objs[] = {
		&exp_net_target_object, &exp_proc_target_object, &exp_stress_target_object};

	return i < ARRAY_SIZE(objs) ? objs[i] : NULL;
}

static const struct exp_custom target_custom = {
	.parse = target_parse,
	.to_json = target_to_json,
	.release = target_release,
	.equal = target_equal,
	.schema = target_schema,
};

static bool params_parse(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
			 void *obj)
{
	struct fault_spec *fs = obj;
	const struct exp_object *o = exp_params_object(fs->type);
	size_t errs = diag_total(ctx->diags);

	if (!o)
		return false;
	if (!o->n_fields && n->type == EN_MAP && n->n) {
		exp_err(ctx, n, "%s takes no params", exp_fault_type_name(fs->type));
		return false;
	}
	exp_obj_init(o, &fs->params);
	exp_obj_parse(ctx, o, n, &fs->params);
	return diag_total(ctx->diags) == errs;
}

static int params_to_json(const struct exp_field *f, const void *obj, json_t **out)
{
	const struct fault_spec *fs = obj;
	const struct exp_object *o = exp_params_object(fs->type);
	int r;

	*out = NULL;
	if (!o || !o->n_fields)
		return 0;
	r = exp_obj_to_json(o, &fs->params, out);
	if (!r && !json_object_size(*out)) {
		json_decref(*out);
		*out = NULL;
	}
	return r;
}

static void params_release(const struct exp_field *f, void *obj)
{
	struct fault_spec *fs = obj;
	const struct exp_object *o = exp_params_object(fs->type);

	if (o)
		exp_obj_release(o, &fs->params);
}

static bool params_equal(const struct exp_field *f, const void *a, const void *b)
{
	const struct fault_spec *x = a, *y = b;
	const struct exp_object *o = exp_params_object(x->type);

	return x->type == y->type && (!o || exp_obj_equal(o, &x->params, &y->params));
}

static const struct exp_object *params_schema(size_t i)
{
	return i < FAULT_TYPE_COUNT ? exp_fault_types[i].params : NULL;
}

static const struct exp_custom params_custom = {
	.parse = params_parse,
	.to_json = params_to_json,
	.release = params_release,
	.equal = params_equal,
	.schema = params_schema,
};

static const struct exp_list name_list = {
	.elem = {.type = FT_NAME},
	.elem_size = sizeof(char *),
	.min_items = 1,
	.max_items = EXP_MAX_AGENTS,
};

#define FS(m) offsetof(struct fault_spec, m)

static const struct exp_field fault_fields[] = {
	FLD("name", FT_NAME, FF_REQUIRED, FS(name), 0, 0, 0, NULL),
	FLD("type", FT_CUSTOM, FF_REQUIRED, 0, 0, 0, 0, &type_custom),
	{.key = "agents",
	 .type = FT_LIST,
	 .flags = FF_UNIQUE,
	 .off = FS(agents),
	 .off2 = FS(n_agents),
	 .aux = &name_list},
	FLD("start", FT_DURATION, FF_DEFAULT, FS(start_ns), 0, 7 * DAY, 0, NULL),
	FLD("duration", FT_DURATION, 0, FS(duration_ns), MS, 7 * DAY, 0, NULL),
	FLD("target", FT_CUSTOM, 0, 0, 0, 0, 0, &target_custom),
	FLD("params", FT_CUSTOM, 0, 0, 0, 0, 0, &params_custom),
};

static bool has_required(const struct exp_object *o)
{
	for (size_t i = 0; i < o->n_fields; i++) {
		if (o->fields[i].flags & FF_REQUIRED)
			return true;
	}
	return false;
}

const struct container_ref *exp_fault_container(const struct fault_spec *f)
{
	switch (exp_fault_target_kind(f->type)) {
	case FAULT_TARGET_NET:
		return f->target.net.container;
	case FAULT_TARGET_PROC:
		return f->target.proc.container;
	case FAULT_TARGET_STRESS:
		return f->target.stress.container;
	default:
		return NULL;
	}
}

/*
 * Only a network fault follows its container's restarts: it holds nothing in the container
 * but its rules in the namespace, which it can put there again. A process fault's signals and
 * a stressor's workers are not carried over to a new container.
 */
static void follow_check(struct exp_ctx *ctx, const struct enode *map, const struct fault_spec *f)
{
	const struct container_ref *c = exp_fault_container(f);
	const struct enode *target = exp_node_get(map, "target");
	size_t old;

	if (!c || !c->follow_restarts || exp_fault_target_kind(f->type) == FAULT_TARGET_NET)
		return;
	old = exp_path_key(ctx, "target");
	exp_path_key(ctx, "container");
	exp_err_key(ctx, exp_node_get(target, "container"), "follow_restarts",
		    "only network faults follow a container's restarts; a %s is not carried "
		    "over to a new container: remove follow_restarts",
		    exp_fault_type_name(f->type));
	exp_path_set(ctx, old);
}

static void fault_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			const struct exp_seen *seen)
{
	const struct exp_object *o = &exp_fault_object;
	struct fault_spec *f = obj;
	const struct fault_type_desc *d;

	if (f->type < 0)
		return;
	d = &exp_fault_types[f->type];
	/* A stressor without a target runs on the agent's host. */
	if ((d->target == FAULT_TARGET_NET || d->target == FAULT_TARGET_PROC) &&
	    !exp_seen_present(o, seen, "target"))
		exp_err_key(ctx, map, "target", "missing required field");
	if (!exp_seen_present(o, seen, "params")) {
		exp_obj_init(d->params, &f->params);
		if (has_required(d->params))
			exp_err_key(ctx, map, "params", "missing required field");
	}
	if (d->once) {
		bool repeats = !d->once(f);

		if (repeats && !exp_seen_present(o, seen, "duration"))
			exp_err_key(ctx, map, "duration",
				    "missing required field (a %s with an interval repeats for a "
				    "duration)",
				    d->name);
		if (!repeats && exp_seen_present(o, seen, "duration"))
			exp_err_key(ctx, map, "duration",
				    "a %s without interval signals once; remove the duration or "
				    "set params.interval",
				    d->name);
	} else if (!exp_seen_present(o, seen, "duration")) {
		exp_err_key(ctx, map, "duration", "missing required field");
	}
	if (d->check)
		d->check(ctx, map, f);
	follow_check(ctx, map, f);
	if (d->target == FAULT_TARGET_NET && exp_seen_valid(o, seen, "target")) {
		char why[256];

		if (exp_fault_rule_slots_check(f, why, sizeof(why)))
			exp_err_key(ctx, map, "target", "%s", why);
	}
}

const struct exp_object exp_fault_object = {
	.name = "fault",
	.fields = fault_fields,
	.n_fields = ARRAY_SIZE(fault_fields),
	.size = sizeof(struct fault_spec),
	.check = fault_check,
};

/* Public single-fault API. */

int exp_fault_parse(const char *buf, size_t len, struct fault_spec **out, struct diag_list *diags)
{
	return exp_doc_load(&exp_fault_object, buf, len, (void **)out, diags);
}

void exp_fault_free(struct fault_spec *f)
{
	exp_doc_free(&exp_fault_object, f);
}

int exp_fault_to_json(const struct fault_spec *f, json_t **out)
{
	return exp_obj_to_json(&exp_fault_object, f, out);
}

bool exp_fault_equal(const struct fault_spec *a, const struct fault_spec *b)
{
	return exp_obj_equal(&exp_fault_object, a, b);
}

bool exp_fault_conflicts(const struct fault_spec *a, const struct fault_spec *b, char *what,
			 size_t size)
{
	if (a->type != b->type || a->type < 0 || a->type >= FAULT_TYPE_COUNT ||
	    !exp_fault_types[a->type].conflicts)
		return false;
	return exp_fault_types[a->type].conflicts(a, b, what, size);
}
