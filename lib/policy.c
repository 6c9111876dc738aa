/* Policy file: parsed with the experiment loader's field tables, checked per fault. */
#include <errno.h>
#include <fnmatch.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "exp_priv.h"
#include "policy.h"

static const struct exp_list type_list = {
	.elem = { .type = FT_STRING, .max = 64 },
	.elem_size = sizeof(char *),
	.min_items = 1,
	.max_items = FAULT_TYPE_COUNT,
};

static const struct exp_list comm_list = {
	.elem = { .type = FT_COMM },
	.elem_size = sizeof(char *),
	.min_items = 1,
	.max_items = 1024,
};

static const struct exp_list cidr_list = {
	.elem = { .type = FT_CIDR },
	.elem_size = sizeof(struct net_cidr),
	.min_items = 1,
	.max_items = EXP_MAX_CIDRS,
};

static const struct exp_list port_list = {
	.elem = { .type = FT_RANGE, .min = 1, .max = 65535, .aux = "port" },
	.elem_size = sizeof(struct port_range),
	.min_items = 1,
	.max_items = EXP_MAX_PORTS,
};

#define PCR(m) offsetof(struct policy_container_rule, m)

/* A container name as runtimes allow it (at most 128 characters), or a glob of one. */
#define POLICY_CTR_NAME_MAX 128
/* A label key and its value ("com.example.tier=db"). */
#define POLICY_CTR_LABEL_MAX 512

static const struct exp_field ctr_rule_fields[] = {
	FLD("name", FT_STRING, 0, PCR(name), 0, POLICY_CTR_NAME_MAX, 0, NULL),
	FLD("label", FT_STRING, 0, PCR(label), 0, POLICY_CTR_LABEL_MAX, 0, NULL),
};

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* Label keys as Docker and Kubernetes write them: "com.example.tier", "app.kubernetes.io/name". */
static bool label_key_char(char c)
{
	return name_char(c) || c == '/';
}

/* Exactly one of name and label; each in the form the matcher reads (policy.h). */
static void ctr_rule_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			   const struct exp_seen *seen)
{
	struct policy_container_rule *r = obj;
	const char *eq;
	size_t i;

	if (r->name && r->label) {
		exp_err_key(ctx, map, "label",
			    "'name' and 'label' cannot be combined; one key per entry");
		return;
	}
	if (!r->name && !r->label) {
		/* Keys that are all unknown or invalid are reported already. */
		if (!map->n)
			exp_err(ctx, map,
				"needs 'name' (a container name or a glob such as 'db-*') or "
				"'label' ('key' or 'key=value')");
		return;
	}
	if (r->name) {
		for (i = 0; r->name[i]; i++)
			if (!name_char(r->name[i]) && r->name[i] != '*' && r->name[i] != '?')
				break;
		if (r->name[i])
			exp_err_key(ctx, map, "name",
				    "'%c' at offset %zu: a container name has letters, digits, "
				    "'_', '.' and '-', and a pattern '*' and '?' besides",
				    r->name[i], i);
		return;
	}
	eq = strchr(r->label, '=');
	for (i = 0; r->label + i != eq && r->label[i]; i++)
		if (!label_key_char(r->label[i]))
			break;
	if (!i)
		exp_err_key(ctx, map, "label",
			    "the label key is empty; write 'key' or 'key=value'");
	else if (r->label + i != eq && r->label[i])
		exp_err_key(ctx, map, "label",
			    "'%c' at offset %zu: a label key has letters, digits, '_', '.', '-' "
			    "and '/' (write 'key' or 'key=value')",
			    r->label[i], i);
	else if (eq && !eq[1])
		exp_err_key(ctx, map, "label",
			    "the value after '=' is empty; write '%.*s' for the label with any value",
			    (int)(eq - r->label), r->label);
}

static const struct exp_object ctr_rule_object = {
	.name = "policy_protected_container",
	.fields = ctr_rule_fields,
	.n_fields = ARRAY_SIZE(ctr_rule_fields),
	.size = sizeof(struct policy_container_rule),
	.check = ctr_rule_check,
};

static const struct exp_list ctr_rule_list = {
	.elem = { .type = FT_OBJECT, .aux = &ctr_rule_object },
	.elem_size = sizeof(struct policy_container_rule),
	.min_items = 1,
	.max_items = 1024,
};

/*
 * The largest caps a policy file may set: a selector hitting more than a few thousand
 * processes is a host-wide outage, not a fault; stress.cpu never accepts more than 4096.
 */
#define POLICY_MAX_PROCESSES_LIMIT 100000
#define POLICY_MAX_CPU_WORKERS_LIMIT 4096
#define POLICY_MAX_CONTAINERS_LIMIT 10000

#define PO(m) offsetof(struct policy, m)

static const struct exp_field policy_fields[] = {
	{ .key = "allow_types", .type = FT_LIST, .flags = FF_UNIQUE, .off = PO(allow_types),
	  .off2 = PO(n_allow_types), .aux = &type_list },
	FLD("max_loss", FT_PERCENT, 0, PO(max_loss_ppm), 1, PCT(100), 0, NULL),
	FLD("max_latency", FT_DURATION, 0, PO(max_latency_ns), MS, DAY, 0, NULL),
	FLD("max_duration", FT_DURATION, 0, PO(max_duration_ns), MS, 7 * DAY, 0, NULL),
	FLD("max_memory", FT_SIZE, FF_RELATIVE, PO(max_memory), MIB, 64 * 1024 * 1024 * MIB, 0,
	    NULL),
	FLD("min_free_memory", FT_SIZE, FF_RELATIVE, PO(min_free_memory), MIB,
	    64 * 1024 * 1024 * MIB, 0, NULL),
	{ .key = "protected_processes", .type = FT_LIST, .off = PO(protected_processes),
	  .off2 = PO(n_protected_processes), .aux = &comm_list },
	{ .key = "protected_cidrs", .type = FT_LIST, .off = PO(protected_cidrs),
	  .off2 = PO(n_protected_cidrs), .aux = &cidr_list },
	{ .key = "protected_ports", .type = FT_LIST, .off = PO(protected_ports),
	  .off2 = PO(n_protected_ports), .aux = &port_list },
	FLD("max_processes_per_fault", FT_U32, FF_DEFAULT, PO(max_processes_per_fault), 1,
	    POLICY_MAX_PROCESSES_LIMIT, POLICY_DEFAULT_MAX_PROCESSES, NULL),
	/* No table default: the default depends on the host (policy_default_cpu_workers). */
	FLD("max_cpu_workers", FT_U32, 0, PO(max_cpu_workers), 1, POLICY_MAX_CPU_WORKERS_LIMIT, 0,
	    NULL),
	{ .key = "protected_containers", .type = FT_LIST, .off = PO(protected_containers),
	  .off2 = PO(n_protected_containers), .aux = &ctr_rule_list },
	FLD("max_containers_per_fault", FT_U32, FF_DEFAULT, PO(max_containers_per_fault), 1,
	    POLICY_MAX_CONTAINERS_LIMIT, POLICY_DEFAULT_MAX_CONTAINERS, NULL),
};

/* Names in allow_types must be fault types, reported like the loader reports a bad type. */
static void policy_obj_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			     const struct exp_seen *seen)
{
	const struct enode *list = exp_node_get(map, "allow_types");
	const char *names[FAULT_TYPE_COUNT];
	struct policy *p = obj;
	int t;

	for (int k = 0; k < FAULT_TYPE_COUNT; k++)
		names[k] = exp_fault_type_name(k);
	for (size_t i = 0; i < p->n_allow_types; i++) {
		size_t old;

		if (!exp_fault_type_lookup(p->allow_types[i], &t))
			continue;
		old = exp_path_key(ctx, "allow_types");
		exp_path_index(ctx, i);
		exp_err_unknown(ctx, exp_node_item(list, i), "fault type", p->allow_types[i], names,
				FAULT_TYPE_COUNT, "");
		exp_path_set(ctx, old);
	}
}

static const struct exp_object policy_object = {
	.name = "policy",
	.fields = policy_fields,
	.n_fields = ARRAY_SIZE(policy_fields),
	.size = sizeof(struct policy),
	.check = policy_obj_check,
};

uint32_t policy_default_cpu_workers(void)
{
	cpu_set_t set;
	int n = 0;

	if (!sched_getaffinity(0, sizeof(set), &set))
		n = CPU_COUNT(&set);
	if (n < 1)
		n = 1;
	return POLICY_DEFAULT_CPU_WORKERS_PER_CPU * (uint32_t)n;
}

int policy_default(struct policy **out)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	exp_obj_init(&policy_object, p);
	p->max_cpu_workers = policy_default_cpu_workers();
	*out = p;
	return 0;
}

int policy_load_buf(const char *buf, size_t len, struct policy **out, struct diag_list *diags)
{
	int err = exp_doc_load(&policy_object, buf, len, (void **)out, diags);

	if (!err && !(*out)->max_cpu_workers)
		(*out)->max_cpu_workers = policy_default_cpu_workers();
	return err;
}

int policy_load_file(const char *path, struct policy **out, struct diag_list *diags)
{
	char *buf = NULL;
	size_t len = 0;
	int err;

	*out = NULL;
	err = exp_read_file(path, &buf, &len);
	if (err) {
		if (err != -ENOENT && diag_add(diags, 0, 0, "", "%s", strerror(-err)))
			return -ENOMEM;
		return err;
	}
	err = policy_load_buf(buf, len, out, diags);
	free(buf);
	return err;
}

void policy_free(struct policy *p)
{
	exp_doc_free(&policy_object, p);
}

int policy_to_json(const struct policy *p, json_t **out)
{
	return exp_obj_to_json(&policy_object, p, out);
}

uint64_t policy_min_free_bytes(const struct policy *p, uint64_t total_bytes)
{
	const struct units_size *m = &p->min_free_memory;
	uint32_t ppm = m->ppm;

	if (m->bytes)
		return m->bytes;
	if (!ppm)
		ppm = POLICY_DEFAULT_MIN_FREE_PPM;
	/* 128-bit product: total_bytes * ppm overflows 64 bits beyond 18 TB. */
	return (uint64_t)((unsigned __int128)total_bytes * ppm / UNITS_PPM_ONE);
}

bool policy_container_protected(const struct policy *p, const char *name, const json_t *labels,
				char *why, size_t size)
{
	for (size_t i = 0; i < p->n_protected_containers; i++) {
		const struct policy_container_rule *r = &p->protected_containers[i];
		const char *eq, *v;
		size_t klen;
		char key[POLICY_CTR_LABEL_MAX + 1];

		if (r->name) {
			if (!name || !*name || fnmatch(r->name, name, 0))
				continue;
			snprintf(why, size, "protected_containers[%zu] (name '%s')", i, r->name);
			return true;
		}
		eq = strchr(r->label, '=');
		klen = eq ? (size_t)(eq - r->label) : strlen(r->label);
		snprintf(key, sizeof(key), "%.*s", (int)klen, r->label);
		v = json_string_value(json_object_get(labels, key));
		if (!v || (eq && strcmp(v, eq + 1)))
			continue;
		snprintf(why, size, "protected_containers[%zu] (label %s)", i, r->label);
		return true;
	}
	return false;
}

static void fmt_ppm(char *buf, size_t size, uint32_t ppm)
{
	snprintf(buf, size, "%g%%", ppm / 10000.0);
}

/* Whether two prefixes share any address. */
static bool cidr_overlap(const struct net_cidr *a, const struct net_cidr *b)
{
	unsigned bits = a->prefix < b->prefix ? a->prefix : b->prefix;

	if (a->family != b->family)
		return false;
	for (unsigned i = 0; i < bits; i++) {
		unsigned byte = i / 8, mask = 0x80 >> (i % 8);

		if ((a->addr[byte] & mask) != (b->addr[byte] & mask))
			return false;
	}
	return true;
}

static bool ranges_overlap(const struct port_range *a, size_t na, const struct port_range *b,
			   size_t nb, uint16_t *port)
{
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (a[i].lo <= b[j].hi && b[j].lo <= a[i].hi) {
				*port = a[i].lo > b[j].lo ? a[i].lo : b[j].lo;
				return true;
			}
	return false;
}

static uint32_t loss_of(const struct fault_spec *f)
{
	const struct fault_net_loss *l = &f->params.loss;
	uint64_t p, r;

	if (f->type == FAULT_NET_PARTITION)
		return UNITS_PPM_ONE;
	if (f->type != FAULT_NET_LOSS)
		return 0;
	if (l->model == LOSS_RANDOM)
		return l->probability_ppm;
	/* Gilbert-Elliott: the stationary loss ratio (1-k)*r/(p+r) + (1-h)*p/(p+r). */
	p = l->p_ppm;
	r = l->r_ppm;
	if (!p && !r)
		return l->one_minus_k_ppm;
	return (uint32_t)(((uint64_t)l->one_minus_k_ppm * r + (uint64_t)l->one_minus_h_ppm * p) /
			  (p + r));
}

int policy_check(const struct policy *p, const struct fault_spec *f, char *err, size_t size)
{
	const char *type = exp_fault_type_name(f->type);
	char a[32], b[32];

	if (p->n_allow_types) {
		bool ok = false;

		for (size_t i = 0; i < p->n_allow_types; i++)
			ok |= !strcmp(p->allow_types[i], type);
		if (!ok) {
			snprintf(err, size, "policy: fault type %s is not in allow_types", type);
			return -EPERM;
		}
	}
	if (p->max_duration_ns) {
		if (!f->duration_ns && !exp_fault_once(f)) {
			snprintf(err, size,
				 "policy: max_duration is set, so the fault needs a duration");
			return -EPERM;
		}
		if (f->duration_ns > p->max_duration_ns) {
			snprintf(err, size, "policy: duration %lld ms exceeds max_duration %lld ms",
				 (long long)(f->duration_ns / MS), (long long)(p->max_duration_ns / MS));
			return -EPERM;
		}
	}
	if (p->max_loss_ppm && loss_of(f) > p->max_loss_ppm) {
		fmt_ppm(a, sizeof(a), loss_of(f));
		fmt_ppm(b, sizeof(b), p->max_loss_ppm);
		snprintf(err, size, "policy: %s of %s exceeds max_loss %s",
			 f->type == FAULT_NET_PARTITION ? "a partition's loss" : "loss", a, b);
		return -EPERM;
	}
	if (p->max_latency_ns && f->type == FAULT_NET_LATENCY &&
	    f->params.latency.delay_ns + f->params.latency.jitter_ns > p->max_latency_ns) {
		snprintf(err, size, "policy: delay + jitter of %lld ms exceeds max_latency %lld ms",
			 (long long)((f->params.latency.delay_ns + f->params.latency.jitter_ns) / MS),
			 (long long)(p->max_latency_ns / MS));
		return -EPERM;
	}
	if (f->type == FAULT_STRESS_MEMORY && (p->max_memory.bytes || p->max_memory.ppm)) {
		const struct units_size *m = &f->params.memory.size, *lim = &p->max_memory;
		bool over;

		/* Sizes are compared in the same kind only; mixed kinds are resolved by the type. */
		if (!!m->ppm == !!lim->ppm)
			over = m->ppm ? m->ppm > lim->ppm : m->bytes > lim->bytes;
		else
			over = false;
		if (over) {
			snprintf(err, size, "policy: stress.memory size exceeds max_memory");
			return -EPERM;
		}
	}
	if (exp_fault_target_kind(f->type) == FAULT_TARGET_NET) {
		const struct net_target *t = &f->target.net;
		uint16_t port;

		for (size_t i = 0; i < t->n_cidrs; i++)
			for (size_t j = 0; j < p->n_protected_cidrs; j++)
				if (cidr_overlap(&t->cidrs[i], &p->protected_cidrs[j])) {
					snprintf(err, size,
						 "policy: target.cidrs[%zu] overlaps protected_cidrs[%zu]",
						 i, j);
					return -EPERM;
				}
		if (ranges_overlap(t->ports, t->n_ports, p->protected_ports, p->n_protected_ports,
				   &port) ||
		    ranges_overlap(t->local_ports, t->n_local_ports, p->protected_ports,
				   p->n_protected_ports, &port)) {
			snprintf(err, size, "policy: the fault's ports include protected port %u",
				 port);
			return -EPERM;
		}
	}
	if (exp_fault_target_kind(f->type) == FAULT_TARGET_PROC && f->target.proc.name) {
		for (size_t i = 0; i < p->n_protected_processes; i++)
			if (!strcmp(p->protected_processes[i], f->target.proc.name)) {
				snprintf(err, size, "policy: process '%s' is protected",
					 f->target.proc.name);
				return -EPERM;
			}
	}
	return 0;
}
