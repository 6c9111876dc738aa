/*
 * Faults: the table of fault types (one row each: name, target kind, params schema, rules,
 * conflict test), the network and process target schemas, and the single-fault parser and
 * serialiser that the agent's API shares with the experiment loader.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "exp_priv.h"
#include "faultline/netfault.h"

#define US 1000LL
#define MS 1000000LL
#define SEC 1000000000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define PCT(x) ((int64_t)(x) * (UNITS_PPM_ONE / 100))
#define KIB 1024LL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)
#define PIB (1024 * TIB)

/* Largest integer a JSON reader that uses doubles still reads exactly. */
#define JSON_SAFE_INT ((1LL << 53) - 1)

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

static const struct exp_object net_target_object;

static void net_target_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			     const struct exp_seen *seen)
{
	const struct exp_object *o = &net_target_object;
	struct net_target *t = obj;
	bool netns = exp_seen_present(o, seen, "netns");
	bool ctr = exp_seen_present(o, seen, "container");

	if (t->protocol == NET_PROTO_ICMP && (t->n_ports || t->n_local_ports))
		exp_err_key(ctx, map, "protocol",
			    "icmp has no ports; remove the ports or use tcp, udp or any");
	if (netns && ctr)
		exp_err_key(ctx, map, "container",
			    "'netns' and 'container' cannot be combined; a network fault acts in "
			    "one namespace: name it by netns or by container");
	if (!netns && !ctr && !exp_seen_present(o, seen, "interface")) {
		size_t old = exp_path_key(ctx, "interface");

		exp_err(ctx, map,
			"missing required field (it may be left out only with netns or container, "
			"where it defaults to the interface of that namespace's default route)");
		exp_path_set(ctx, old);
	}
}

static const struct exp_object net_target_object = {
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
};

static void container_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			    const struct exp_seen *seen)
{
	static const char *const ways[] = {"id", "name", "compose"};
	const struct exp_object *o = &container_object;
	struct container_ref *c = obj;
	const char *first = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(ways); i++) {
		if (!exp_seen_present(o, seen, ways[i]))
			continue;
		if (first)
			exp_err_key(ctx, map, ways[i],
				    "'%s' and '%s' cannot be combined; name the container by one "
				    "of id, name or compose",
				    first, ways[i]);
		else
			first = ways[i];
	}
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

static const struct exp_object stress_target_object = {
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

static const struct exp_object proc_target_object;

static void proc_target_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			      const struct exp_seen *seen)
{
	static const char *const criteria[] = {"pid",	 "name", "cmdline",  "exe",
					       "cgroup", "user", "container"};
	static const char *const picks[] = {"count", "percent", "all"};
	const struct exp_object *o = &proc_target_object;
	struct proc_target *t = obj;
	const char *first = NULL;
	bool any = false;

	for (size_t i = 0; i < ARRAY_SIZE(criteria); i++)
		any |= exp_seen_present(o, seen, criteria[i]);
	if (!any)
		exp_err(ctx, map,
			"needs at least one of pid, name, cmdline, exe, cgroup, user or container "
			"to select processes");
	for (size_t i = 0; i < ARRAY_SIZE(picks); i++) {
		if (!exp_seen_present(o, seen, picks[i]))
			continue;
		if (first)
			exp_err_key(ctx, map, picks[i],
				    "'%s' and '%s' cannot be combined; give one of count, percent "
				    "or all",
				    first, picks[i]);
		else
			first = picks[i];
	}
	if (!first)
		exp_err(ctx, map,
			"needs one of count, percent or all: true, to say how many of the matching "
			"processes to hit");
	if (exp_seen_valid(o, seen, "all") && !t->all)
		exp_err_key(ctx, map, "all",
			    "all: false selects nothing; remove it, or use count or percent");
}

static const struct exp_object proc_target_object = {
	.name = "proc_target",
	.fields = proc_target_fields,
	.n_fields = ARRAY_SIZE(proc_target_fields),
	.size = sizeof(struct proc_target),
	.check = proc_target_check,
};

/* Params, one object per fault type. */

static const char *const dist_names[] = {
	[NETEM_DIST_NONE] = NULL,
	[NETEM_DIST_UNIFORM] = "uniform",
	[NETEM_DIST_NORMAL] = "normal",
	[NETEM_DIST_PARETO] = "pareto",
	[NETEM_DIST_PARETONORMAL] = "paretonormal",
};
static const struct exp_enum dist_enum = {dist_names, ARRAY_SIZE(dist_names)};

static const char *const mech_names[] = {
	[LATENCY_MECH_AUTO] = "auto",
	[LATENCY_MECH_EDT] = "edt",
	[LATENCY_MECH_NETEM] = "netem",
};
static const struct exp_enum mech_enum = {mech_names, ARRAY_SIZE(mech_names)};

#define LAT(m) offsetof(struct fault_net_latency, m)

static const struct exp_field latency_fields[] = {
	FLD("delay", FT_DURATION, FF_REQUIRED, LAT(delay_ns), US, HOUR, 0, NULL),
	FLD("jitter", FT_DURATION, 0, LAT(jitter_ns), US, HOUR, 0, NULL),
	FLD("correlation", FT_PERCENT, 0, LAT(correlation_ppm), 0, PCT(100), 0, NULL),
	FLD("distribution", FT_ENUM, 0, LAT(distribution), 0, 0, 0, &dist_enum),
	FLD("mechanism", FT_ENUM, 0, LAT(mechanism), 0, 0, 0, &mech_enum),
};

static const struct exp_object latency_object;

static void latency_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			  const struct exp_seen *seen)
{
	const struct exp_object *o = &latency_object;
	struct fault_net_latency *p = obj;
	char a[UNITS_FMT_MAX], b[UNITS_FMT_MAX];

	if (exp_seen_valid(o, seen, "jitter") && exp_seen_valid(o, seen, "delay") &&
	    p->jitter_ns > p->delay_ns)
		exp_err_key(ctx, map, "jitter", "jitter %s is larger than delay %s",
			    units_fmt_duration(a, p->jitter_ns),
			    units_fmt_duration(b, p->delay_ns));
	if (exp_seen_present(o, seen, "distribution") && !exp_seen_present(o, seen, "jitter"))
		exp_err_key(ctx, map, "distribution", "a distribution needs jitter");
	if (exp_seen_present(o, seen, "correlation") && !exp_seen_present(o, seen, "jitter"))
		exp_err_key(ctx, map, "correlation", "correlation needs jitter");
}

static const struct exp_object latency_object = {
	.name = "params.network.latency",
	.fields = latency_fields,
	.n_fields = ARRAY_SIZE(latency_fields),
	.check = latency_check,
};

static const char *const loss_model_names[] = {
	[LOSS_RANDOM] = "random",
	[LOSS_GILBERT_ELLIOTT] = "gilbert-elliott",
};
static const struct exp_enum loss_model_enum = {loss_model_names, ARRAY_SIZE(loss_model_names)};

#define LOSS(m) offsetof(struct fault_net_loss, m)

static const struct exp_field loss_fields[] = {
	FLD("model", FT_ENUM, FF_DEFAULT, LOSS(model), 0, 0, LOSS_RANDOM, &loss_model_enum),
	FLD("probability", FT_PERCENT, 0, LOSS(probability_ppm), 1, PCT(100), 0, NULL),
	FLD("correlation", FT_PERCENT, 0, LOSS(correlation_ppm), 0, PCT(100), 0, NULL),
	FLD("p", FT_PERCENT, 0, LOSS(p_ppm), 1, PCT(100), 0, NULL),
	FLD("r", FT_PERCENT, 0, LOSS(r_ppm), 1, PCT(100), 0, NULL),
	FLD("1-h", FT_PERCENT, 0, LOSS(one_minus_h_ppm), 1, PCT(100), 0, NULL),
	FLD("1-k", FT_PERCENT, 0, LOSS(one_minus_k_ppm), 0, PCT(100), 0, NULL),
};

static const struct exp_object loss_object;

static void loss_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
		       const struct exp_seen *seen)
{
	static const char *const random_keys[] = {"probability", "correlation"};
	static const char *const ge_keys[] = {"p", "r", "1-h", "1-k"};
	const struct exp_object *o = &loss_object;
	struct fault_net_loss *p = obj;
	bool ge;

	if (!exp_seen_valid(o, seen, "model") && exp_seen_present(o, seen, "model"))
		return;
	ge = p->model == LOSS_GILBERT_ELLIOTT;
	for (size_t i = 0; i < ARRAY_SIZE(random_keys); i++) {
		if (ge && exp_seen_present(o, seen, random_keys[i]))
			exp_err_key(ctx, map, random_keys[i], "only applies to model random");
	}
	for (size_t i = 0; i < ARRAY_SIZE(ge_keys); i++) {
		if (!ge && exp_seen_present(o, seen, ge_keys[i]))
			exp_err_key(ctx, map, ge_keys[i], "only applies to model gilbert-elliott");
	}
	if (!ge && !exp_seen_present(o, seen, "probability"))
		exp_err_key(ctx, map, "probability", "missing required field");
	if (ge && !exp_seen_present(o, seen, "p"))
		exp_err_key(ctx, map, "p", "missing required field");
	if (ge && !exp_seen_present(o, seen, "r"))
		exp_err_key(ctx, map, "r", "missing required field");
	/* In the bad state every packet is lost unless the file says otherwise, as in netem. */
	if (ge && !exp_seen_present(o, seen, "1-h"))
		p->one_minus_h_ppm = UNITS_PPM_ONE;
}

static const struct exp_object loss_object = {
	.name = "params.network.loss",
	.fields = loss_fields,
	.n_fields = ARRAY_SIZE(loss_fields),
	.check = loss_check,
};

#define PROB(m) offsetof(struct fault_net_prob, m)

static const struct exp_field prob_fields[] = {
	FLD("probability", FT_PERCENT, FF_REQUIRED, PROB(probability_ppm), 1, PCT(100), 0, NULL),
	FLD("correlation", FT_PERCENT, 0, PROB(correlation_ppm), 0, PCT(100), 0, NULL),
};

static const struct exp_object corruption_object = {
	.name = "params.network.corruption",
	.fields = prob_fields,
	.n_fields = ARRAY_SIZE(prob_fields),
};

static const struct exp_object duplication_object = {
	.name = "params.network.duplication",
	.fields = prob_fields,
	.n_fields = ARRAY_SIZE(prob_fields),
};

static const struct exp_object partition_object = {
	.name = "params.network.partition",
	.fields = NULL,
	.n_fields = 0,
};

#define BW(m) offsetof(struct fault_net_bandwidth, m)

static const struct exp_field bandwidth_fields[] = {
	FLD("rate", FT_RATE, FF_REQUIRED, BW(rate_bps), 1000, 100000000000LL, 0, NULL),
	FLD("burst", FT_BYTES, 0, BW(burst_bytes), 1500, GIB, 0, NULL),
	FLD("limit", FT_BYTES, 0, BW(limit_bytes), 1500, 4 * GIB, 0, NULL),
};

static const struct exp_object bandwidth_object = {
	.name = "params.network.bandwidth",
	.fields = bandwidth_fields,
	.n_fields = ARRAY_SIZE(bandwidth_fields),
};

#define KILL(m) offsetof(struct fault_proc_kill, m)

static const struct exp_field kill_fields[] = {
	FLD("signal", FT_SIGNAL, FF_DEFAULT, KILL(signal), 0, 0, 9 /* SIGKILL */, NULL),
	FLD("interval", FT_DURATION, 0, KILL(interval_ns), 100 * MS, DAY, 0, NULL),
};

static const struct exp_object kill_object = {
	.name = "params.process.kill",
	.fields = kill_fields,
	.n_fields = ARRAY_SIZE(kill_fields),
};

static const char *const pause_method_names[] = {
	[PAUSE_SIGSTOP] = "sigstop",
	[PAUSE_FREEZER] = "freezer",
};
static const struct exp_enum pause_method_enum = {pause_method_names,
						  ARRAY_SIZE(pause_method_names)};

static const struct exp_field pause_fields[] = {
	FLD("method", FT_ENUM, FF_DEFAULT, offsetof(struct fault_proc_pause, method), 0, 0,
	    PAUSE_SIGSTOP, &pause_method_enum),
};

static const struct exp_object pause_object = {
	.name = "params.process.pause",
	.fields = pause_fields,
	.n_fields = ARRAY_SIZE(pause_fields),
};

#define CPU(m) offsetof(struct fault_stress_cpu, m)

static const struct exp_field cpu_fields[] = {
	FLD("workers", FT_U32, FF_DEFAULT, CPU(workers), 1, 4096, 1, NULL),
	FLD("load", FT_PERCENT, FF_DEFAULT, CPU(load_ppm), PCT(1), PCT(100), PCT(100), NULL),
	FLD("cpus", FT_CPUSET, 0, CPU(cpus), 0, 0, 0, NULL),
};

static const struct exp_object cpu_object = {
	.name = "params.stress.cpu",
	.fields = cpu_fields,
	.n_fields = ARRAY_SIZE(cpu_fields),
};

#define MEM(m) offsetof(struct fault_stress_memory, m)

static const struct exp_field memory_fields[] = {
	FLD("size", FT_SIZE, FF_REQUIRED | FF_RELATIVE, MEM(size), MIB, 64 * TIB, 0, NULL),
	FLD("ramp", FT_DURATION, 0, MEM(ramp_ns), SEC, DAY, 0, NULL),
};

static const struct exp_object memory_object = {
	.name = "params.stress.memory",
	.fields = memory_fields,
	.n_fields = ARRAY_SIZE(memory_fields),
};

#define DF(m) offsetof(struct fault_stress_disk_fill, m)

static const struct exp_field disk_fill_fields[] = {
	FLD("path", FT_PATH, FF_REQUIRED, DF(path), 0, 0, 0, NULL),
	FLD("size", FT_SIZE, FF_REQUIRED | FF_RELATIVE, DF(size), MIB, PIB, 0, NULL),
};

static const struct exp_object disk_fill_object = {
	.name = "params.stress.disk_fill",
	.fields = disk_fill_fields,
	.n_fields = ARRAY_SIZE(disk_fill_fields),
};

#define IO(m) offsetof(struct fault_stress_io, m)

static const struct exp_field io_fields[] = {
	FLD("path", FT_PATH, FF_REQUIRED, IO(path), 0, 0, 0, NULL),
	FLD("rate", FT_BYTE_RATE, FF_REQUIRED, IO(rate_bytes), KIB, 100 * GIB, 0, NULL),
	FLD("fsync", FT_BOOL, FF_DEFAULT, IO(fsync), 0, 0, 0, NULL),
};

static const struct exp_object io_object = {
	.name = "params.stress.io",
	.fields = io_fields,
	.n_fields = ARRAY_SIZE(io_fields),
};

static const struct exp_field fds_fields[] = {
	FLD("count", FT_U32, FF_REQUIRED, offsetof(struct fault_stress_fds, count), 1, 10000000, 0,
	    NULL),
};

static const struct exp_object fds_object = {
	.name = "params.stress.fds",
	.fields = fds_fields,
	.n_fields = ARRAY_SIZE(fds_fields),
};

/* Overlap tests for conflicts. */

typedef unsigned __int128 u128;

struct ival {
	uint8_t fam;
	u128 lo, hi;
};

static int ival_cmp(const void *x, const void *y)
{
	const struct ival *a = x, *b = y;

	if (a->fam != b->fam)
		return a->fam < b->fam ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

/* Ordering by (family, end): which interval ends first. */
static bool ends_before(const struct ival *a, const struct ival *b)
{
	if (a->fam != b->fam)
		return a->fam < b->fam;
	return a->hi < b->hi;
}

/*
 * Whether any interval of a meets any of b. Both get sorted; a sweep that always drops the
 * interval ending first then finds a meeting pair in linear time.
 */
static bool ivals_overlap(struct ival *a, size_t na, struct ival *b, size_t nb)
{
	size_t i = 0, j = 0;

	qsort(a, na, sizeof(*a), ival_cmp);
	qsort(b, nb, sizeof(*b), ival_cmp);
	while (i < na && j < nb) {
		if (a[i].fam == b[j].fam && a[i].lo <= b[j].hi && b[j].lo <= a[i].hi)
			return true;
		if (ends_before(&a[i], &b[j]))
			i++;
		else
			j++;
	}
	return false;
}

static void cidr_ival(const struct net_cidr *c, struct ival *v)
{
	unsigned bits = c->family == AF_INET ? 32 : 128;
	u128 addr = 0, span;

	for (unsigned i = 0; i < bits / 8; i++)
		addr = addr << 8 | c->addr[i];
	if (c->prefix >= bits)
		span = 0;
	else if (bits - c->prefix >= 128)
		span = ~(u128)0;
	else
		span = ((u128)1 << (bits - c->prefix)) - 1;
	v->fam = c->family;
	v->lo = addr;
	v->hi = addr | span;
}

static bool cidrs_overlap(const struct net_target *a, const struct net_target *b)
{
	struct ival *x = calloc(a->n_cidrs + b->n_cidrs, sizeof(*x));
	bool r;

	if (!x)
		return true; /* Without memory, assume the worst rather than miss a conflict. */
	for (size_t i = 0; i < a->n_cidrs; i++)
		cidr_ival(&a->cidrs[i], &x[i]);
	for (size_t i = 0; i < b->n_cidrs; i++)
		cidr_ival(&b->cidrs[i], &x[a->n_cidrs + i]);
	r = ivals_overlap(x, a->n_cidrs, x + a->n_cidrs, b->n_cidrs);
	free(x);
	return r;
}

/* No ports given means every port. */
static bool ports_overlap(const struct port_range *a, size_t na, const struct port_range *b,
			  size_t nb)
{
	struct ival *x;
	bool r;

	if (!na || !nb)
		return true;
	x = calloc(na + nb, sizeof(*x));
	if (!x)
		return true;
	for (size_t i = 0; i < na; i++) {
		x[i].lo = a[i].lo;
		x[i].hi = a[i].hi;
	}
	for (size_t i = 0; i < nb; i++) {
		x[na + i].lo = b[i].lo;
		x[na + i].hi = b[i].hi;
	}
	r = ivals_overlap(x, na, x + na, nb);
	free(x);
	return r;
}

static bool dirs_overlap(int a, int b)
{
	return a == b || a == NET_DIR_BOTH || b == NET_DIR_BOTH;
}

/*
 * The same network namespace, as far as the spec says: both the agent's, the same namespace
 * file, the same process or the same container reference. Different references may still name
 * one namespace; the agent's registry, keyed by the namespace's inode, shares it then.
 */
static bool same_netns(const struct net_target *a, const struct net_target *b)
{
	const struct container_ref *x = a->container, *y = b->container;

	if (!a->netns_path != !b->netns_path || a->netns_pid != b->netns_pid || !x != !y)
		return false;
	if (a->netns_path && strcmp(a->netns_path, b->netns_path))
		return false;
	if (!x)
		return true;
	if (x->id || y->id)
		return x->id && y->id && !strcmp(x->id, y->id);
	if (x->name || y->name)
		return x->name && y->name && !strcmp(x->name, y->name);
	return !strcmp(x->compose->project, y->compose->project) &&
	       !strcmp(x->compose->service, y->compose->service);
}

/* The same interface of the same namespace (an unnamed one: its default route's, any). */
bool exp_net_same_link(const struct net_target *a, const struct net_target *b)
{
	if (!same_netns(a, b))
		return false;
	if (!a->interface || !b->interface)
		return exp_net_in_netns(a);
	return !strcmp(a->interface, b->interface);
}

const char *exp_net_ifname(const struct net_target *t)
{
	return t->interface ? t->interface : "(default-route interface)";
}

static bool same_link(const struct net_target *a, const struct net_target *b)
{
	return exp_net_same_link(a, b) && dirs_overlap(a->direction, b->direction);
}

static const char *shared_dir(const struct net_target *a, const struct net_target *b)
{
	return exp_enum_name(&exp_direction_enum,
			     a->direction == NET_DIR_BOTH ? b->direction : a->direction);
}

/* Same packets: link, protocol, addresses and ports all overlap. */
static bool same_packets(const struct fault_spec *fa, const struct fault_spec *fb, const char *verb,
			 char *what, size_t size)
{
	const struct net_target *a = &fa->target.net, *b = &fb->target.net;

	if (!same_link(a, b))
		return false;
	if (a->protocol != b->protocol && a->protocol != NET_PROTO_ANY &&
	    b->protocol != NET_PROTO_ANY)
		return false;
	if (!ports_overlap(a->ports, a->n_ports, b->ports, b->n_ports) ||
	    !ports_overlap(a->local_ports, a->n_local_ports, b->local_ports, b->n_local_ports) ||
	    !cidrs_overlap(a, b))
		return false;
	snprintf(what, size, "%s on %s %s for overlapping addresses and ports", verb,
		 exp_net_ifname(a), shared_dir(a, b));
	return true;
}

static bool latency_conflicts(const struct fault_spec *a, const struct fault_spec *b, char *what,
			      size_t size)
{
	return same_packets(a, b, "add latency", what, size);
}

static bool loss_conflicts(const struct fault_spec *a, const struct fault_spec *b, char *what,
			   size_t size)
{
	return same_packets(a, b, "drop packets", what, size);
}

static bool corruption_conflicts(const struct fault_spec *a, const struct fault_spec *b, char *what,
				 size_t size)
{
	return same_packets(a, b, "corrupt packets", what, size);
}

static bool duplication_conflicts(const struct fault_spec *a, const struct fault_spec *b,
				  char *what, size_t size)
{
	return same_packets(a, b, "duplicate packets", what, size);
}

/* One shaper per interface and direction: two limits cannot both hold. */
static bool bandwidth_conflicts(const struct fault_spec *a, const struct fault_spec *b, char *what,
				size_t size)
{
	if (!same_link(&a->target.net, &b->target.net))
		return false;
	snprintf(what, size, "limit bandwidth on %s %s", exp_net_ifname(&a->target.net),
		 shared_dir(&a->target.net, &b->target.net));
	return true;
}

static const struct exp_object *proc_criteria(void);

/* Two pauses of the very same selection would thaw each other's processes. */
static bool pause_conflicts(const struct fault_spec *a, const struct fault_spec *b, char *what,
			    size_t size)
{
	if (!exp_obj_equal(proc_criteria(), &a->target.proc, &b->target.proc))
		return false;
	snprintf(what, size, "pause the same processes (identical selectors)");
	return true;
}

static bool disk_fill_conflicts(const struct fault_spec *a, const struct fault_spec *b, char *what,
				size_t size)
{
	if (!a->params.disk_fill.path || !b->params.disk_fill.path ||
	    strcmp(a->params.disk_fill.path, b->params.disk_fill.path))
		return false;
	snprintf(what, size, "fill %s", a->params.disk_fill.path);
	return true;
}

static bool io_conflicts(const struct fault_spec *a, const struct fault_spec *b, char *what,
			 size_t size)
{
	if (!a->params.io.path || !b->params.io.path ||
	    strcmp(a->params.io.path, b->params.io.path))
		return false;
	snprintf(what, size, "write to %s", a->params.io.path);
	return true;
}

/* The selector part of a process target, without how many to hit. */
static const struct exp_object proc_criteria_object = {
	.name = "proc_criteria",
	.fields = proc_target_fields,
	.n_fields = 6,
};

static const struct exp_object *proc_criteria(void)
{
	return &proc_criteria_object;
}

/* Rules between params and timing. */

static void push_params(struct exp_ctx *ctx, const struct enode *map, const char *key,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void push_params(struct exp_ctx *ctx, const struct enode *map, const char *key,
			const char *fmt, ...)
{
	const struct enode *params = exp_node_get(map, "params");
	const struct enode *v = exp_node_get(params, key);
	size_t old = exp_path_key(ctx, "params");
	va_list ap;

	exp_path_key(ctx, key);
	va_start(ap, fmt);
	exp_verr(ctx, v ? v : map, fmt, ap);
	va_end(ap);
	exp_path_set(ctx, old);
}

static void kill_check(struct exp_ctx *ctx, const struct enode *map, struct fault_spec *f)
{
	char a[UNITS_FMT_MAX], b[UNITS_FMT_MAX];
	int64_t iv = f->params.kill.interval_ns;

	if (iv && f->duration_ns && iv > f->duration_ns)
		push_params(ctx, map, "interval",
			    "interval %s is longer than the fault's duration %s",
			    units_fmt_duration(a, iv), units_fmt_duration(b, f->duration_ns));
	/* A kill is never reverted: a stop signal would leave its targets stopped for good. */
	switch (f->params.kill.signal) {
	case SIGSTOP:
	case SIGTSTP:
	case SIGTTIN:
	case SIGTTOU:
		push_params(ctx, map, "signal",
			    "%s stops the process and a kill is never reverted; use process.pause, "
			    "which resumes it",
			    exp_signal_name(f->params.kill.signal, a, sizeof(a)));
		break;
	}
}

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

static void memory_check(struct exp_ctx *ctx, const struct enode *map, struct fault_spec *f)
{
	char a[UNITS_FMT_MAX], b[UNITS_FMT_MAX];
	int64_t ramp = f->params.memory.ramp_ns;

	if (ramp && f->duration_ns && ramp >= f->duration_ns)
		push_params(ctx, map, "ramp", "ramp %s is not shorter than the fault's duration %s",
			    units_fmt_duration(a, ramp), units_fmt_duration(b, f->duration_ns));
}

/* process.kill signals once unless it has an interval, when it repeats for its duration. */
static bool kill_once(const struct fault_spec *f)
{
	return !f->params.kill.interval_ns;
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
			       .params = &latency_object,
			       .conflicts = latency_conflicts},
	[FAULT_NET_LOSS] = {.name = "network.loss",
			    .target = FAULT_TARGET_NET,
			    .default_direction = NET_DIR_EGRESS,
			    .params = &loss_object,
			    .conflicts = loss_conflicts},
	[FAULT_NET_CORRUPTION] =
		{.name = "network.corruption",
		 .target = FAULT_TARGET_NET,
		 .default_direction = NET_DIR_EGRESS,
		 .params = &corruption_object,
		 .conflicts = corruption_conflicts,
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
				   .params = &duplication_object,
				   .conflicts = duplication_conflicts},
	/* Dropping is idempotent, so overlapping partitions combine. */
	[FAULT_NET_PARTITION] = {.name = "network.partition",
				 .target = FAULT_TARGET_NET,
				 .default_direction = NET_DIR_BOTH,
				 .params = &partition_object},
	[FAULT_NET_BANDWIDTH] = {.name = "network.bandwidth",
				 .target = FAULT_TARGET_NET,
				 .default_direction = NET_DIR_EGRESS,
				 .rules_per_direction = true,
				 .params = &bandwidth_object,
				 .conflicts = bandwidth_conflicts},
	[FAULT_PROC_KILL] = {.name = "process.kill",
			     .target = FAULT_TARGET_PROC,
			     .once = kill_once,
			     .params = &kill_object,
			     .check = kill_check},
	[FAULT_PROC_PAUSE] = {.name = "process.pause",
			      .target = FAULT_TARGET_PROC,
			      .params = &pause_object,
			      .check = pause_check,
			      .conflicts = pause_conflicts},
	/* Stressors add up, except those that fight over one file. */
	[FAULT_STRESS_CPU] = {.name = "stress.cpu",
			      .target = FAULT_TARGET_STRESS,
			      .params = &cpu_object},
	[FAULT_STRESS_MEMORY] = {.name = "stress.memory",
				 .target = FAULT_TARGET_STRESS,
				 .params = &memory_object,
				 .check = memory_check},
	[FAULT_STRESS_DISK_FILL] = {.name = "stress.disk_fill",
				    .target = FAULT_TARGET_STRESS,
				    .params = &disk_fill_object,
				    .conflicts = disk_fill_conflicts},
	[FAULT_STRESS_IO] = {.name = "stress.io",
			     .target = FAULT_TARGET_STRESS,
			     .params = &io_object,
			     .conflicts = io_conflicts},
	[FAULT_STRESS_FDS] = {.name = "stress.fds",
			      .target = FAULT_TARGET_NONE,
			      .params = &fds_object},
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
	char q[DIAG_QUOTE_SIZE], list[512];
	const char *hint;
	size_t o = 0;

	if (n->type != EN_SCALAR || n->scalar != ES_STRING) {
		exp_err(ctx, n, "expected a fault type such as 'network.latency', got %s",
			exp_node_what(n));
		return false;
	}
	if (!exp_fault_type_lookup(n->str, &((struct fault_spec *)obj)->type))
		return true;
	for (int i = 0; i < FAULT_TYPE_COUNT; i++) {
		names[i] = exp_fault_types[i].name;
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", names[i]);
	}
	hint = exp_did_you_mean(n->str, names, FAULT_TYPE_COUNT);
	if (hint)
		exp_err(ctx, n, "unknown fault type %s; did you mean '%s'?", diag_quote(q, n->str),
			hint);
	else
		exp_err(ctx, n, "unknown fault type %s (known types: %s)", diag_quote(q, n->str),
			list);
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
		return &net_target_object;
	case FAULT_TARGET_PROC:
		return &proc_target_object;
	case FAULT_TARGET_STRESS:
		return &stress_target_object;
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
	if (o == &net_target_object)
		fs->target.net.direction = exp_fault_types[fs->type].default_direction;
	exp_obj_parse(ctx, o, n, &fs->target);
	return diag_total(ctx->diags) == errs;
}

/* The target object of a fault that has one: a stressor's is optional. */
static const struct exp_object *target_given(const struct fault_spec *fs)
{
	const struct exp_object *o = target_object(fs->type);

	if (o == &stress_target_object && !fs->target.stress.container)
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
	static const struct exp_object *const objs[] = {&net_target_object, &proc_target_object,
							&stress_target_object};

	return i < ARRAY_SIZE(objs) ? objs[i] : NULL;
}

static const struct exp_custom target_custom = {
	.parse = target_parse,
	.to_json = target_to_json,
	.release = target_release,
	.equal = target_equal,
	.schema = target_schema,
};

static const struct exp_object *params_object(int type)
{
	if (type < 0 || type >= FAULT_TYPE_COUNT)
		return NULL;
	return exp_fault_types[type].params;
}

static bool params_parse(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
			 void *obj)
{
	struct fault_spec *fs = obj;
	const struct exp_object *o = params_object(fs->type);
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
	const struct exp_object *o = params_object(fs->type);
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
	const struct exp_object *o = params_object(fs->type);

	if (o)
		exp_obj_release(o, &fs->params);
}

static bool params_equal(const struct exp_field *f, const void *a, const void *b)
{
	const struct fault_spec *x = a, *y = b;
	const struct exp_object *o = params_object(x->type);

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

/* Rule slots: the one count the agent (agent/net/netif.c) and the validator both use. */

static size_t ranges_or_one(size_t n)
{
	return n ? n : 1;
}

/* ICMP is a protocol per family: one rule per family the CIDRs name (both when none). */
static size_t rule_families(const struct net_target *t)
{
	bool v4 = false, v6 = false;

	if (t->protocol != NET_PROTO_ICMP)
		return 1;
	if (!t->n_cidrs)
		return 2;
	for (size_t i = 0; i < t->n_cidrs; i++) {
		v4 |= t->cidrs[i].family == AF_INET;
		v6 |= t->cidrs[i].family == AF_INET6;
	}
	return (size_t)v4 + v6;
}

/* Bandwidth and latency add their rules once per direction (each has its own action). */
static size_t rule_directions(const struct fault_spec *f)
{
	if (exp_fault_types[f->type].rules_per_direction && f->target.net.direction == NET_DIR_BOTH)
		return 2;
	return 1;
}

size_t exp_net_rules_per_direction(const struct net_target *t)
{
	return rule_families(t) * ranges_or_one(t->n_ports) * ranges_or_one(t->n_local_ports);
}

size_t exp_fault_rule_slots(const struct fault_spec *f)
{
	if (exp_fault_target_kind(f->type) != FAULT_TARGET_NET)
		return 0;
	return exp_net_rules_per_direction(&f->target.net) * rule_directions(f);
}

int exp_fault_rule_slots_check(const struct fault_spec *f, char *err, size_t size)
{
	const struct net_target *t = &f->target.net;
	size_t need = exp_fault_rule_slots(f), o;

	if (need <= NETFAULT_MAX_RULES)
		return 0;
	/* Each factor of the product that is not 1, so the user sees what to cut. */
	o = (size_t)snprintf(err, size, "needs %zu rule slots (", need);
	if (rule_families(t) > 1 && o < size)
		o += (size_t)snprintf(err + o, size - o, "2 ICMP families x ");
	if (o < size)
		o += (size_t)snprintf(err + o, size - o, "%zu peer-port range%s",
				      ranges_or_one(t->n_ports),
				      ranges_or_one(t->n_ports) == 1 ? "" : "s");
	if (o < size)
		o += (size_t)snprintf(err + o, size - o, " x %zu local-port range%s",
				      ranges_or_one(t->n_local_ports),
				      ranges_or_one(t->n_local_ports) == 1 ? "" : "s");
	if (rule_directions(f) > 1 && o < size)
		o += (size_t)snprintf(err + o, size - o, " x 2 directions");
	if (o < size)
		snprintf(err + o, size - o, "); an interface has %d", NETFAULT_MAX_RULES);
	return -E2BIG;
}

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

/* Descriptions for plans. */

static size_t put(char *buf, size_t size, size_t o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static size_t put(char *buf, size_t size, size_t o, const char *fmt, ...)
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

/* At most this many addresses are spelled out in a plan line; the rest are counted. */
#define PLAN_CIDRS 4

static size_t put_ranges(char *buf, size_t size, size_t o, const struct port_range *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].lo == r[i].hi)
			o = put(buf, size, o, "%s%u", i ? "," : "", r[i].lo);
		else
			o = put(buf, size, o, "%s%u-%u", i ? "," : "", r[i].lo, r[i].hi);
	}
	return o;
}

/* " in container id X", "inside container 'N'", ... with the runtime unless auto. */
static size_t put_container(char *buf, size_t size, size_t o, const char *pre,
			    const struct container_ref *c)
{
	if (c->id)
		o = put(buf, size, o, "%s container id %s", pre, c->id);
	else if (c->name)
		o = put(buf, size, o, "%s container '%s'", pre, c->name);
	else
		o = put(buf, size, o, "%s compose service %s/%s", pre, c->compose->project,
			c->compose->service);
	if (c->runtime != CONTAINER_RUNTIME_AUTO)
		o = put(buf, size, o, " (%s)", exp_container_runtime_name(c->runtime));
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

		o = put(buf, size, o, "%s %s", exp_net_ifname(t),
			exp_enum_name(&exp_direction_enum, t->direction));
		if (t->netns_path)
			o = put(buf, size, o, " in netns %s", t->netns_path);
		else if (t->netns_pid)
			o = put(buf, size, o, " in the netns of pid %u",
				(unsigned int)t->netns_pid);
		else if (t->container)
			o = put_container(buf, size, o, " in", t->container);
		if (t->protocol != NET_PROTO_ANY)
			o = put(buf, size, o, " %s",
				exp_enum_name(&exp_protocol_enum, t->protocol));
		o = put(buf, size, o, ", peers ");
		for (size_t i = 0; i < t->n_cidrs && i < PLAN_CIDRS; i++) {
			struct exp_field cf = {.type = FT_CIDR};

			exp_fld_format(&cf, &t->cidrs[i], c, sizeof(c));
			o = put(buf, size, o, "%s%s", i ? " " : "", c);
		}
		if (t->n_cidrs > PLAN_CIDRS)
			o = put(buf, size, o, " and %zu more", t->n_cidrs - PLAN_CIDRS);
		if (t->n_ports) {
			o = put(buf, size, o, ", peer ports ");
			o = put_ranges(buf, size, o, t->ports, t->n_ports);
		}
		if (t->n_local_ports) {
			o = put(buf, size, o, ", local ports ");
			put_ranges(buf, size, o, t->local_ports, t->n_local_ports);
		}
		break;
	}
	case FAULT_TARGET_PROC: {
		const struct proc_target *t = &f->target.proc;
		const struct exp_object *po = &proc_target_object;
		bool with = false;
		char v[512];

		if (t->all)
			o = put(buf, size, o, "all processes");
		else if (t->percent_ppm)
			o = put(buf, size, o, "%s of the processes",
				units_fmt_percent(v, t->percent_ppm));
		else
			o = put(buf, size, o, "%u process%s", t->count, t->count == 1 ? "" : "es");
		for (size_t i = 0; i < 6; i++) {
			const struct exp_field *pf = &po->fields[i];

			if (pf->type == FT_U32 ? !t->pid
					       : !*(char *const *)((const char *)t + pf->off))
				continue;
			exp_fld_format(pf, t, v, sizeof(v));
			o = put(buf, size, o, "%s %s=", with ? "" : " with", pf->key);
			with = true;
			if (pf->type == FT_U32) {
				o = put(buf, size, o, "%s", v);
				continue;
			}
			o = put(buf, size, o, "'");
			for (const char *c = v; *c; c++)
				o = put(buf, size, o, (unsigned char)*c < ' ' ? "\\x%02x" : "%c",
					(unsigned char)*c);
			o = put(buf, size, o, "'");
		}
		if (t->container)
			o = put_container(buf, size, o, " in", t->container);
		if (t->seed)
			put(buf, size, o, " (seed %llu)", (unsigned long long)t->seed);
		break;
	}
	case FAULT_TARGET_STRESS:
		if (f->target.stress.container) {
			put_container(buf, size, o, "inside", f->target.stress.container);
			break;
		}
		/* fall through */
	default:
		put(buf, size, o, "the agent's host");
		break;
	}
}

void exp_describe_params(const struct fault_spec *f, char *buf, size_t size)
{
	const struct exp_object *o = params_object(f->type);
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
		n = put(buf, size, n, "%s%s %s", n ? ", " : "", o->fields[i].key, v);
	}
	json_decref(j);
}
