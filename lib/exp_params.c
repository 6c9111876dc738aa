/*
 * The params of each fault type: one schema object per type (fields, units, ranges and the
 * checks between fields), as the type table in exp_fault.c names them. The checks that need
 * the whole fault (target and params together) stay beside the table.
 */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

#include "dnsname.h"
#include "exp_params.h"
#include "exp_priv.h"
#include "faultline/netfault.h"

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

static void latency_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			  const struct exp_seen *seen)
{
	const struct exp_object *o = &exp_params_latency;
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

const struct exp_object exp_params_latency = {
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

static void loss_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
		       const struct exp_seen *seen)
{
	static const char *const random_keys[] = {"probability", "correlation"};
	static const char *const ge_keys[] = {"p", "r", "1-h", "1-k"};
	const struct exp_object *o = &exp_params_loss;
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

const struct exp_object exp_params_loss = {
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

const struct exp_object exp_params_corruption = {
	.name = "params.network.corruption",
	.fields = prob_fields,
	.n_fields = ARRAY_SIZE(prob_fields),
};

const struct exp_object exp_params_duplication = {
	.name = "params.network.duplication",
	.fields = prob_fields,
	.n_fields = ARRAY_SIZE(prob_fields),
};

const struct exp_object exp_params_partition = {
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

const struct exp_object exp_params_bandwidth = {
	.name = "params.network.bandwidth",
	.fields = bandwidth_fields,
	.n_fields = ARRAY_SIZE(bandwidth_fields),
};

static const char *const dns_action_names[] = {
	[DNS_ACTION_NXDOMAIN] = "nxdomain", [DNS_ACTION_SERVFAIL] = "servfail",
	[DNS_ACTION_REFUSED] = "refused",   [DNS_ACTION_DROP] = "drop",
	[DNS_ACTION_SPOOF] = "spoof",
};
static const struct exp_enum dns_action_enum = {dns_action_names, ARRAY_SIZE(dns_action_names)};

static const char *const dns_qtype_names[] = {
	[DNS_QTYPE_A] = "A",	     [DNS_QTYPE_NS] = "NS",	  [DNS_QTYPE_CNAME] = "CNAME",
	[DNS_QTYPE_SOA] = "SOA",     [DNS_QTYPE_PTR] = "PTR",	  [DNS_QTYPE_MX] = "MX",
	[DNS_QTYPE_TXT] = "TXT",     [DNS_QTYPE_AAAA] = "AAAA",	  [DNS_QTYPE_SRV] = "SRV",
	[DNS_QTYPE_NAPTR] = "NAPTR", [DNS_QTYPE_DS] = "DS",	  [DNS_QTYPE_DNSKEY] = "DNSKEY",
	[DNS_QTYPE_SVCB] = "SVCB",   [DNS_QTYPE_HTTPS] = "HTTPS", [DNS_QTYPE_ANY] = "ANY",
	[DNS_QTYPE_CAA] = "CAA",
};
static const struct exp_enum dns_qtype_enum = {dns_qtype_names, ARRAY_SIZE(dns_qtype_names)};

static const struct exp_list dns_name_list = {
	.elem = {.type = FT_STRING, .max = 512},
	.elem_size = sizeof(char *),
	.min_items = 1,
	.max_items = EXP_MAX_DNS_NAMES,
};

static const struct exp_list dns_qtype_list = {
	.elem = {.type = FT_ENUM, .aux = &dns_qtype_enum},
	.elem_size = sizeof(int),
	.min_items = 1,
	.max_items = DNS_QTYPE_COUNT,
};

_Static_assert(EXP_MAX_DNS_SPOOF == NETFAULT_DNS_SPOOF_MAX &&
		       EXP_MAX_DNS_TTL == NETFAULT_DNS_TTL_MAX,
	       "spoof limits: the format's and the data path's");

static const struct exp_list dns_addr_list = {
	.elem = {.type = FT_CIDR},
	.elem_size = sizeof(struct net_cidr),
	.min_items = 1,
	.max_items = EXP_MAX_DNS_SPOOF,
};

#define DNS(m) offsetof(struct fault_net_dns, m)

static const struct exp_field dns_fields[] = {
	{.key = "names",
	 .type = FT_LIST,
	 .flags = FF_REQUIRED,
	 .off = DNS(names),
	 .off2 = DNS(n_names),
	 .aux = &dns_name_list},
	{.key = "qtypes",
	 .type = FT_LIST,
	 .flags = FF_UNIQUE,
	 .off = DNS(qtypes),
	 .off2 = DNS(n_qtypes),
	 .aux = &dns_qtype_list},
	FLD("action", FT_ENUM, FF_REQUIRED, DNS(action), 0, 0, 0, &dns_action_enum),
	FLD("probability", FT_PERCENT, FF_DEFAULT, DNS(probability_ppm), 1, PCT(100), PCT(100),
	    NULL),
	{.key = "a", .type = FT_LIST, .off = DNS(a), .off2 = DNS(n_a), .aux = &dns_addr_list},
	{.key = "aaaa",
	 .type = FT_LIST,
	 .off = DNS(aaaa),
	 .off2 = DNS(n_aaaa),
	 .aux = &dns_addr_list},
	/* Not FF_DEFAULT: only spoof takes it (dns_check() sets the default, 60 s). */
	FLD("ttl", FT_U32, 0, DNS(ttl), 1, EXP_MAX_DNS_TTL, 0, NULL),
};

/*
 * The addresses of a or aaaa (parsed as CIDRs): each one address of the family (no prefix
 * length, or the full one: the format's own output writes /32 and /128).
 */
static void dns_addrs_check(struct exp_ctx *ctx, const struct enode *map, const char *key,
			    const struct net_cidr *addrs, size_t n, int family)
{
	const struct enode *list = exp_node_get(map, key);

	for (size_t i = 0; i < n; i++) {
		const struct enode *item = exp_node_item(list, i);
		const char *why = NULL;
		size_t old;

		if (addrs[i].family != family)
			why = family == AF_INET ? "a holds IPv4 addresses: put IPv6 ones in aaaa"
						: "aaaa holds IPv6 addresses: put IPv4 ones in a";
		else if (addrs[i].prefix != (family == AF_INET ? 32 : 128))
			why = "one address, not a network: remove the prefix length";
		if (!why)
			continue;
		old = exp_path_key(ctx, key);
		exp_path_index(ctx, i);
		exp_err(ctx, item, "%s", why);
		exp_path_set(ctx, old);
	}
}

static void dns_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
		      const struct exp_seen *seen)
{
	const struct exp_object *o = &exp_params_dns;
	struct fault_net_dns *p = obj;
	char why[300];

	if (exp_seen_valid(o, seen, "names")) {
		const struct enode *list = exp_node_get(map, "names");

		for (size_t i = 0; i < p->n_names; i++) {
			struct dnsname n;
			size_t old;

			if (!dnsname_parse(p->names[i], &n, why, sizeof(why)))
				continue;
			old = exp_path_key(ctx, "names");
			exp_path_index(ctx, i);
			exp_err(ctx, exp_node_item(list, i), "%s", why);
			exp_path_set(ctx, old);
		}
	}
	if (!exp_seen_valid(o, seen, "action"))
		return;
	if (p->action != DNS_ACTION_SPOOF) {
		static const char *const spoof_only[] = {"a", "aaaa", "ttl"};

		for (size_t i = 0; i < ARRAY_SIZE(spoof_only); i++)
			if (exp_seen_present(o, seen, spoof_only[i]))
				exp_err_key(ctx, map, spoof_only[i],
					    "only action spoof answers with records: remove %s "
					    "or use action spoof",
					    spoof_only[i]);
		return;
	}
	if (!p->ttl)
		p->ttl = EXP_DNS_TTL_DEFAULT;
	if (!exp_seen_present(o, seen, "a") && !exp_seen_present(o, seen, "aaaa"))
		exp_err_key(ctx, map, "action",
			    "spoof needs the addresses to answer with: a (IPv4), aaaa (IPv6) or "
			    "both");
	if (exp_seen_valid(o, seen, "a"))
		dns_addrs_check(ctx, map, "a", p->a, p->n_a, AF_INET);
	if (exp_seen_valid(o, seen, "aaaa"))
		dns_addrs_check(ctx, map, "aaaa", p->aaaa, p->n_aaaa, AF_INET6);
}

const struct exp_object exp_params_dns = {
	.name = "params.network.dns",
	.fields = dns_fields,
	.n_fields = ARRAY_SIZE(dns_fields),
	.check = dns_check,
};

#define KILL(m) offsetof(struct fault_proc_kill, m)

static const struct exp_field kill_fields[] = {
	FLD("signal", FT_SIGNAL, FF_DEFAULT, KILL(signal), 0, 0, 9 /* SIGKILL */, NULL),
	FLD("interval", FT_DURATION, 0, KILL(interval_ns), 100 * MS, DAY, 0, NULL),
};

const struct exp_object exp_params_kill = {
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

const struct exp_object exp_params_pause = {
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

const struct exp_object exp_params_cpu = {
	.name = "params.stress.cpu",
	.fields = cpu_fields,
	.n_fields = ARRAY_SIZE(cpu_fields),
};

#define MEM(m) offsetof(struct fault_stress_memory, m)

static const struct exp_field memory_fields[] = {
	FLD("size", FT_SIZE, FF_REQUIRED | FF_RELATIVE, MEM(size), MIB, 64 * TIB, 0, NULL),
	FLD("ramp", FT_DURATION, 0, MEM(ramp_ns), SEC, DAY, 0, NULL),
};

const struct exp_object exp_params_memory = {
	.name = "params.stress.memory",
	.fields = memory_fields,
	.n_fields = ARRAY_SIZE(memory_fields),
};

#define DF(m) offsetof(struct fault_stress_disk_fill, m)

static const struct exp_field disk_fill_fields[] = {
	FLD("path", FT_PATH, FF_REQUIRED, DF(path), 0, 0, 0, NULL),
	FLD("size", FT_SIZE, FF_REQUIRED | FF_RELATIVE, DF(size), MIB, PIB, 0, NULL),
};

const struct exp_object exp_params_disk_fill = {
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

const struct exp_object exp_params_io = {
	.name = "params.stress.io",
	.fields = io_fields,
	.n_fields = ARRAY_SIZE(io_fields),
};

static const struct exp_field fds_fields[] = {
	FLD("count", FT_U32, FF_REQUIRED, offsetof(struct fault_stress_fds, count), 1, 10000000, 0,
	    NULL),
};

const struct exp_object exp_params_fds = {
	.name = "params.stress.fds",
	.fields = fds_fields,
	.n_fields = ARRAY_SIZE(fds_fields),
};

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

void exp_params_kill_check(struct exp_ctx *ctx, const struct enode *map, struct fault_spec *f)
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

void exp_params_memory_check(struct exp_ctx *ctx, const struct enode *map, struct fault_spec *f)
{
	char a[UNITS_FMT_MAX], b[UNITS_FMT_MAX];
	int64_t ramp = f->params.memory.ramp_ns;

	if (ramp && f->duration_ns && ramp >= f->duration_ns)
		push_params(ctx, map, "ramp", "ramp %s is not shorter than the fault's duration %s",
			    units_fmt_duration(a, ramp), units_fmt_duration(b, f->duration_ns));
}

/* process.kill signals once unless it has an interval, when it repeats for its duration. */
bool exp_params_kill_once(const struct fault_spec *f)
{
	return !f->params.kill.interval_ns;
}
