/*
 * Targets: the schemas of what a fault acts on (a network target with its namespace and
 * container, a container reference, a stressor's target, a process target and its selector
 * criteria) and their own rules. exp_fault.c picks one by the type's target kind.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_priv.h"
#include "faultline/netfault.h"

/* Largest integer a JSON reader that uses doubles still reads exactly. */
#define JSON_SAFE_INT ((1LL << 53) - 1)

/*
 * Of keys, ways of saying one thing, a target gives one: the first the map gives, with an
 * error on every further one (hint says what to do). NULL when it gives none.
 */
static const char *one_of(struct exp_ctx *ctx, const struct enode *map, const struct exp_object *o,
			  const struct exp_seen *seen, const char *const *keys, size_t n,
			  const char *hint)
{
	const char *first = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!exp_seen_present(o, seen, keys[i]))
			continue;
		if (first)
			exp_err_key(ctx, map, keys[i], "'%s' and '%s' cannot be combined; %s",
				    first, keys[i], hint);
		else
			first = keys[i];
	}
	return first;
}

/* count, percent or all: how many of what a target matches it hits. */
static const char *const picks[] = {"count", "percent", "all"};

static void all_false(struct exp_ctx *ctx, const struct enode *map, const struct exp_object *o,
		      const struct exp_seen *seen, bool all)
{
	if (exp_seen_valid(o, seen, "all") && !all)
		exp_err_key(ctx, map, "all",
			    "all: false selects nothing; remove it, or use count or percent");
}

/* Network target. */

static const char *const direction_names[] = {
	[NET_DIR_EGRESS] = "egress",
	[NET_DIR_INGRESS] = "ingress",
	[NET_DIR_BOTH] = "both",
};
const struct exp_enum exp_direction_enum = {direction_names, ARRAY_SIZE(direction_names)};

static const char *const protocol_names[] = {
	[NET_PROTO_ANY] = "any",
	[NET_PROTO_TCP] = "tcp",
	[NET_PROTO_UDP] = "udp",
	[NET_PROTO_ICMP] = "icmp",
};
const struct exp_enum exp_protocol_enum = {protocol_names, ARRAY_SIZE(protocol_names)};

static const struct exp_list cidr_list = {
	.elem = {.type = FT_CIDR},
	.elem_size = sizeof(struct net_cidr),
	.min_items = 1,
	.max_items = EXP_MAX_CIDRS,
};

static const struct exp_list port_list = {
	.elem = {.type = FT_RANGE, .min = 1, .max = 65535, .aux = "port"},
	.elem_size = sizeof(struct port_range),
	.min_items = 1,
	.max_items = EXP_MAX_PORTS,
};

#define NT(m) offsetof(struct net_target, m)

/*
 * netns: either a namespace file (a path such as /run/netns/NAME: FT_PATH into netns_path) or
 * {pid: N} (the namespace of that process: netns_pid). Both parse into the net_target itself.
 */
static const struct exp_field netns_pid_fields[] = {
	FLD("pid", FT_U32, FF_REQUIRED, NT(netns_pid), 1, 4194304, 0, NULL),
};

static const struct exp_object netns_pid_object = {
	.name = "netns",
	.fields = netns_pid_fields,
	.n_fields = ARRAY_SIZE(netns_pid_fields),
	.size = sizeof(struct net_target),
};

static const struct exp_field netns_path_field =
	FLD("netns", FT_PATH, 0, NT(netns_path), 0, 0, 0, NULL);

static bool netns_parse(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
			void *obj)
{
	size_t errs = diag_total(ctx->diags);

	(void)f;
	if (n->type == EN_MAP) {
		exp_obj_parse(ctx, &netns_pid_object, n, obj);
		return diag_total(ctx->diags) == errs;
	}
	if (n->type != EN_SCALAR) {
		exp_err(ctx, n,
			"expected a namespace file path (such as /run/netns/NAME) or {pid: N}, got "
			"%s",
			exp_node_what(n));
		return false;
	}
	return exp_fld_parse(ctx, &netns_path_field, n, obj);
}

static int netns_to_json(const struct exp_field *f, const void *obj, json_t **out)
{
	const struct net_target *t = obj;

	(void)f;
	*out = NULL;
	if (t->netns_path)
		*out = json_string(t->netns_path);
	else if (t->netns_pid)
		*out = json_pack("{s:I}", "pid", (json_int_t)t->netns_pid);
	else
		return 0;
	return *out ? 0 : -ENOMEM;
}

static void netns_release(const struct exp_field *f, void *obj)
{
	struct net_target *t = obj;

	(void)f;
	free(t->netns_path);
	t->netns_path = NULL;
	t->netns_pid = 0;
}

static bool netns_equal(const struct exp_field *f, const void *a, const void *b)
{
	const struct net_target *x = a, *y = b;

	(void)f;
	if (!x->netns_path != !y->netns_path)
		return false;
	return (!x->netns_path || !strcmp(x->netns_path, y->netns_path)) &&
	       x->netns_pid == y->netns_pid;
}

static const struct exp_custom netns_custom = {
	.parse = netns_parse,
	.to_json = netns_to_json,
	.release = netns_release,
	.equal = netns_equal,
};

static const struct exp_object container_object;

static const struct exp_field net_target_fields[] = {
	FLD("interface", FT_IFNAME, 0, NT(interface), 0, 0, 0, NULL),
	{.key = "netns", .type = FT_CUSTOM, .off = NT(netns_path), .aux = &netns_custom},
	FLD("container", FT_OBJECT, FF_PTR, NT(container), 0, 0, 0, &container_object),
	FLD("count", FT_U32, 0, NT(count), 1, 100000, 0, NULL),
	FLD("percent", FT_PERCENT, 0, NT(percent_ppm), 1, PCT(100), 0, NULL),
	FLD("all", FT_BOOL, 0, NT(all), 0, 0, 0, NULL),
	FLD("seed", FT_U64, 0, NT(seed), 1, JSON_SAFE_INT, 0, NULL),
	FLD("direction", FT_ENUM, FF_DEFAULT, NT(direction), 0, 0, NET_DIR_EGRESS,
	    &exp_direction_enum),
	{.key = "cidrs",
	 .type = FT_LIST,
	 .flags = FF_REQUIRED,
	 .off = NT(cidrs),
	 .off2 = NT(n_cidrs),
	 .aux = &cidr_list},
	{.key = "ports", .type = FT_LIST, .off = NT(ports), .off2 = NT(n_ports), .aux = &port_list},
	{.key = "local_ports",
	 .type = FT_LIST,
	 .off = NT(local_ports),
	 .off2 = NT(n_local_ports),
	 .aux = &port_list},
	FLD("protocol", FT_ENUM, FF_DEFAULT, NT(protocol), 0, 0, NET_PROTO_ANY, &exp_protocol_enum),
};

static void net_target_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			     const struct exp_seen *seen)
{
	const struct exp_object *o = &exp_net_target_object;
	struct net_target *t = obj;
	const char *first = NULL;
	bool netns = exp_seen_present(o, seen, "netns");
	bool ctr = exp_seen_present(o, seen, "container");

	if (t->protocol == NET_PROTO_ICMP && (t->n_ports || t->n_local_ports))
		exp_err_key(ctx, map, "protocol",
			    "icmp has no ports; remove the ports or use tcp, udp or any");
	if (netns && ctr)
		exp_err_key(ctx, map, "container",
			    "'netns' and 'container' cannot be combined; a network fault acts in "
			    "one namespace: name it by netns or by container");
	if (ctr)
		first = one_of(ctx, map, o, seen, picks, ARRAY_SIZE(picks),
			       "give one of count, percent or all");
	else
		for (size_t i = 0; i < ARRAY_SIZE(picks); i++)
			if (exp_seen_present(o, seen, picks[i]))
				exp_err_key(ctx, map, picks[i],
					    "'%s' selects among the containers a container target "
					    "matches; it needs target.container",
					    picks[i]);
	all_false(ctx, map, o, seen, t->all);
	/* A seed chooses among several containers: only where count or percent chooses. */
	if (exp_seen_present(o, seen, "seed") &&
	    !(exp_seen_present(o, seen, "count") || exp_seen_present(o, seen, "percent")))
		exp_err_key(ctx, map, "seed",
			    "'seed' chooses which of the containers a container target matches "
			    "count or percent selects; it needs target.container with count or "
			    "percent");
	/*
	 * The agent watches each of several containers for exits and drops the one that exits
	 * (agent/target_watch.c), but gives a replica that comes back nothing.
	 */
	if (first && ctr && t->container && t->container->follow_restarts)
		exp_err_key(ctx, map, first,
			    "'%s' may select several containers, whose restarts are not followed "
			    "(one that exits is dropped from the fault): remove follow_restarts, or "
			    "name one container",
			    first);
	if (!netns && !ctr && !exp_seen_present(o, seen, "interface")) {
		size_t old = exp_path_key(ctx, "interface");

		exp_err(ctx, map,
			"missing required field (it may be left out only with netns or container, "
			"where it defaults to the interface of that namespace's default route)");
		exp_path_set(ctx, old);
	}
}

const struct exp_object exp_net_target_object = {
	.name = "net_target",
	.fields = net_target_fields,
	.n_fields = ARRAY_SIZE(net_target_fields),
	.size = sizeof(struct net_target),
	.check = net_target_check,
};

/* Container of a process target. */

static const char *const runtime_names[] = {
	[CONTAINER_RUNTIME_AUTO] = "auto",     [CONTAINER_RUNTIME_DOCKER] = "docker",
	[CONTAINER_RUNTIME_PODMAN] = "podman", [CONTAINER_RUNTIME_CONTAINERD] = "containerd",
	[CONTAINER_RUNTIME_CRIO] = "cri-o",
};
static const struct exp_enum runtime_enum = {runtime_names, ARRAY_SIZE(runtime_names)};

const char *exp_container_runtime_name(int runtime)
{
	return exp_enum_name(&runtime_enum, runtime);
}

#define CC(m) offsetof(struct container_compose, m)

static const struct exp_field compose_fields[] = {
	FLD("project", FT_NAME, FF_REQUIRED, CC(project), 0, 0, 0, NULL),
	FLD("service", FT_NAME, FF_REQUIRED, CC(service), 0, 0, 0, NULL),
};

static const struct exp_object compose_object = {
	.name = "container_compose",
	.fields = compose_fields,
	.n_fields = ARRAY_SIZE(compose_fields),
	.size = sizeof(struct container_compose),
};

#define CR(m) offsetof(struct container_ref, m)

/* Every runtime names a container by 64 hex digits; 12 is the short form they all print. */
#define CONTAINER_ID_MIN 12
#define CONTAINER_ID_MAX 64

static const struct exp_field container_fields[] = {
	FLD("id", FT_STRING, 0, CR(id), 0, CONTAINER_ID_MAX, 0, NULL),
	FLD("name", FT_NAME, 0, CR(name), 0, 0, 0, NULL),
	FLD("compose", FT_OBJECT, FF_PTR, CR(compose), 0, 0, 0, &compose_object),
	FLD("runtime", FT_ENUM, FF_DEFAULT, CR(runtime), 0, 0, CONTAINER_RUNTIME_AUTO,
	    &runtime_enum),
	FLD("follow_restarts", FT_BOOL, 0, CR(follow_restarts), 0, 0, 0, NULL),
};

static void container_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			    const struct exp_seen *seen)
{
	static const char *const ways[] = {"id", "name", "compose"};
	const struct exp_object *o = &container_object;
	struct container_ref *c = obj;
	const char *first;

	first = one_of(ctx, map, o, seen, ways, ARRAY_SIZE(ways),
		       "name the container by one of id, name or compose");
	if (!first)
		exp_err(ctx, map, "needs one of id, name or compose to say which container");
	if (exp_seen_valid(o, seen, "id")) {
		size_t len = strlen(c->id), bad = strspn(c->id, "0123456789abcdef");

		if (bad < len)
			exp_err_key(ctx, map, "id",
				    "a container id is lower-case hex; '%c' at offset %zu is not",
				    c->id[bad], bad);
		else if (len < CONTAINER_ID_MIN)
			exp_err_key(ctx, map, "id",
				    "a container id prefix needs at least %d hex digits to be "
				    "unique, got %zu",
				    CONTAINER_ID_MIN, len);
	}
}

static const struct exp_object container_object = {
	.name = "container",
	.fields = container_fields,
	.n_fields = ARRAY_SIZE(container_fields),
	.size = sizeof(struct container_ref),
	.check = container_check,
};

/* Stressor target: only a container to run the workers in. */

static const struct exp_field stress_target_fields[] = {
	FLD("container", FT_OBJECT, FF_PTR | FF_REQUIRED, offsetof(struct stress_target, container),
	    0, 0, 0, &container_object),
};

const struct exp_object exp_stress_target_object = {
	.name = "stress_target",
	.fields = stress_target_fields,
	.n_fields = ARRAY_SIZE(stress_target_fields),
	.size = sizeof(struct stress_target),
};

/* Process target. */

#define PT(m) offsetof(struct proc_target, m)

static const struct exp_field proc_target_fields[] = {
	FLD("pid", FT_U32, 0, PT(pid), 1, 4194304, 0, NULL),
	FLD("name", FT_COMM, 0, PT(name), 0, 0, 0, NULL),
	FLD("cmdline", FT_REGEX, 0, PT(cmdline), 0, 0, 0, NULL),
	FLD("exe", FT_PATH, 0, PT(exe), 0, 0, 0, NULL),
	FLD("cgroup", FT_PATH, 0, PT(cgroup), 0, 0, 0, NULL),
	FLD("user", FT_USER, 0, PT(user), 0, 0, 0, NULL),
	FLD("container", FT_OBJECT, FF_PTR, PT(container), 0, 0, 0, &container_object),
	FLD("count", FT_U32, 0, PT(count), 1, 100000, 0, NULL),
	FLD("percent", FT_PERCENT, 0, PT(percent_ppm), 1, PCT(100), 0, NULL),
	FLD("all", FT_BOOL, 0, PT(all), 0, 0, 0, NULL),
	FLD("seed", FT_U64, 0, PT(seed), 1, JSON_SAFE_INT, 0, NULL),
};

static void proc_target_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			      const struct exp_seen *seen)
{
	static const char *const criteria[] = {"pid",	 "name", "cmdline",  "exe",
					       "cgroup", "user", "container"};
	const struct exp_object *o = &exp_proc_target_object;
	struct proc_target *t = obj;
	const char *first;
	bool any = false;

	for (size_t i = 0; i < ARRAY_SIZE(criteria); i++)
		any |= exp_seen_present(o, seen, criteria[i]);
	if (!any)
		exp_err(ctx, map,
			"needs at least one of pid, name, cmdline, exe, cgroup, user or container "
			"to select processes");
	first = one_of(ctx, map, o, seen, picks, ARRAY_SIZE(picks),
		       "give one of count, percent or all");
	if (!first)
		exp_err(ctx, map,
			"needs one of count, percent or all: true, to say how many of the matching "
			"processes to hit");
	all_false(ctx, map, o, seen, t->all);
}

const struct exp_object exp_proc_target_object = {
	.name = "proc_target",
	.fields = proc_target_fields,
	.n_fields = ARRAY_SIZE(proc_target_fields),
	.size = sizeof(struct proc_target),
	.check = proc_target_check,
};

/* The selector part of a process target, without how many to hit. */
const struct exp_object exp_proc_criteria_object = {
	.name = "proc_criteria",
	.fields = proc_target_fields,
	.n_fields = 6,
};
