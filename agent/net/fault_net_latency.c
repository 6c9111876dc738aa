/*
 * network.latency: delay matching packets by a fixed time plus jitter (uniform, or a netem
 * distribution table: normal, pareto, paretonormal), optionally correlated, by the best
 * mechanism this kernel has, chosen per fault and direction and reported in the status:
 *
 * - egress, EDT (when the kernel has sch_fq, or params.mechanism: edt): the eBPF data path
 *   draws each matching packet's delay and stamps its departure time (skb->tstamp), never
 *   earlier than the flow's previous packet, so that a flow is not reordered; the device's
 *   root becomes one sch_fq, which sends every packet at its time (others at once). Its
 *   horizon is above the largest delay and set to cap, not drop (horizon_drop 0).
 * - egress, netem (no sch_fq, or params.mechanism: netem): the bandwidth fault's HTB root with
 *   a class whose leaf is netem (agent/net/tc_shaper.c says why not through libnl); the data
 *   path steers only matching packets into the class, everything else takes HTB's direct
 *   queue, undelayed.
 * - ingress: an IFB device of ours with netem at its root; matching packets are sent there by
 *   the bandwidth fault's steering filter (mirred), and come back delayed. sch_fq cannot be
 *   used here: it holds packets on transmit only.
 *
 * The root tree the interface had is recorded before it is replaced (one NLM_F_REPLACE, never
 * delete-then-add) and put back exactly on revert and by crash cleanup, as for bandwidth
 * (agent/net/tc_root.c). One root (or IFB) owner per interface and direction: a second latency
 * or a bandwidth fault there is a conflict. docs/network-faults.md describes the whole.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "exp.h"
#include "fault.h"
#include "log.h"
#include "netif.h"
#include "tc.h"

/*
 * Packets the delaying queue holds (netem's limit; fq's total and per-flow limits). netem's
 * default of 1,000 caps a flow at 1,000 packets per delay (20,000 packets/s at 50 ms) and drops
 * beyond; 50,000 allows 1,000,000 packets/s at 50 ms.
 */
#define LAT_QUEUE_PACKETS 50000u
/* fq's own default horizon; ours is at least this, and 1 s above the largest delay. */
#define FQ_HORIZON_MIN_US 10000000ull
#define FQ_HORIZON_MARGIN_US 1000000ull
/* netem draws the jitter as a signed 32-bit count of nanoseconds (tabledist()'s sigma). */
#define NETEM_JITTER_MAX_US 2147483ull
/* The rate of the netem path's HTB class: it must never be what holds packets back. */
#define NETEM_CLASS_RATE (100000000000ull / 8)
#define NETEM_CLASS_BURST (1u << 20)

/* Where iproute2 installs netem's distribution tables (TC_LIB_DIR in iproute2). */
static const char *const dist_dirs[] = {
	"/usr/lib/x86_64-linux-gnu/tc",
	"/usr/lib/aarch64-linux-gnu/tc",
	"/usr/lib64/tc",
	"/usr/lib/tc",
	"/usr/local/lib/tc",
};

enum lat_path {
	LAT_NONE,
	LAT_EDT,
	LAT_NETEM,
};

/* The shaped record first, where netif_shaped_of() finds it. */
struct lat_state {
	struct netif_shaped sh; /* egress: fq or HTB at the root; ingress: IFB with netem */
	enum lat_path egress;
	bool ingress;
	char egress_why[400], ingress_why[200];
	enum netfault_dist dist;
	char dist_file[128];
	int16_t *table; /* the distribution table (not for uniform) */
	size_t n_table;
	uint64_t max_delay_ns; /* delay + the largest jitter excursion */
	struct tc_fq fq;
	struct tc_netem netem;
};
_Static_assert(offsetof(struct lat_state, sh) == 0, "netif_shaped_of() reads sh at nf->ext");

static void lat_free(void *p)
{
	struct lat_state *lt = p;

	if (lt) {
		netif_shaped_release(&lt->sh);
		free(lt->table);
	}
	free(lt);
}

static struct lat_state *lat_of(const struct fault *f)
{
	return (struct lat_state *)netif_shaped_of(f);
}

static int latency_probe(const struct agent *a, char *why, size_t size)
{
	const struct probe_result *netem = &a->probe.r[PROBE_NETEM], *fq = &a->probe.r[PROBE_FQ];
	int ret = netif_probe(a, why, size);

	if (ret)
		return ret;
	if (!netem->available && !fq->available) {
		snprintf(why, size, "needs sch_netem or sch_fq: %s; %s", netem->reason, fq->reason);
		return -EOPNOTSUPP;
	}
	return 0;
}

static const char *path_name(enum lat_path p)
{
	return p == LAT_EDT ? "edt" : p == LAT_NETEM ? "netem" : "none";
}

static const char *dist_name(enum netfault_dist d)
{
	static const char *const names[] = {
		[NETFAULT_DIST_UNIFORM] = "uniform",
		[NETFAULT_DIST_NORMAL] = "normal",
		[NETFAULT_DIST_PARETO] = "pareto",
		[NETFAULT_DIST_PARETONORMAL] = "paretonormal",
	};

	return d < NETFAULT_DIST__COUNT ? names[d] : "?";
}

/*
 * Read iproute2's NAME.dist (whitespace-separated 16-bit values, # comments): the same table
 * netem gets and the eBPF path draws from, so both paths follow one distribution.
 */
static int dist_read(struct lat_state *lt, char *err, size_t size)
{
	const char *name = dist_name(lt->dist);
	FILE *fp = NULL;
	char line[512];
	int ret = 0;

	for (size_t i = 0; i < sizeof(dist_dirs) / sizeof(dist_dirs[0]) && !fp; i++) {
		snprintf(lt->dist_file, sizeof(lt->dist_file), "%s/%s.dist", dist_dirs[i], name);
		fp = fopen(lt->dist_file, "re");
	}
	if (!fp) {
		snprintf(err, size,
			 "params.distribution: %s needs netem's table %s.dist (iproute2), which is "
			 "in none of /usr/lib/*/tc, /usr/lib64/tc, /usr/lib/tc, /usr/local/lib/tc",
			 name, name);
		return -EOPNOTSUPP;
	}
	lt->table = calloc(NETFAULT_DIST_MAX, sizeof(*lt->table));
	if (!lt->table) {
		fclose(fp);
		return -ENOMEM;
	}
	while (!ret && fgets(line, sizeof(line), fp)) {
		char *p = line, *end;

		if (line[0] == '#')
			continue;
		for (;;) {
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			if (v < INT16_MIN || v > INT16_MAX || lt->n_table == NETFAULT_DIST_MAX) {
				snprintf(err, size,
					 "%s: more than %d values, or one outside 16 bits: not a "
					 "netem table",
					 lt->dist_file, NETFAULT_DIST_MAX);
				ret = -EINVAL;
				break;
			}
			lt->table[lt->n_table++] = (int16_t)v;
			p = end;
		}
	}
	fclose(fp);
	if (!ret && !lt->n_table) {
		snprintf(err, size, "%s: no values", lt->dist_file);
		ret = -EINVAL;
	}
	return ret;
}

/* The largest delay the distribution can give: fq's horizon must be above it. */
static uint64_t max_delay(const struct fault_net_latency *p, const struct lat_state *lt)
{
	int32_t top = NETFAULT_DIST_SCALE;

	if (lt->dist != NETFAULT_DIST_UNIFORM) {
		top = 0;
		for (size_t i = 0; i < lt->n_table; i++)
			if (lt->table[i] > top)
				top = lt->table[i];
	}
	return (uint64_t)p->delay_ns + (uint64_t)p->jitter_ns * (uint64_t)top / NETFAULT_DIST_SCALE;
}

/* Choose the egress path; 0 or -errno with err. */
static int choose_egress(struct agent *a, const struct fault_net_latency *p, struct lat_state *lt,
			 char *err, size_t size)
{
	const struct probe_result *netem = &a->probe.r[PROBE_NETEM], *fq = &a->probe.r[PROBE_FQ];
	const struct probe_result *htb = &a->probe.r[PROBE_HTB];
	bool netem_ok = netem->available && htb->available;

	switch (p->mechanism) {
	case LATENCY_MECH_EDT:
		if (!fq->available) {
			snprintf(err, size, "params.mechanism: edt needs sch_fq: %s", fq->reason);
			return -EOPNOTSUPP;
		}
		lt->egress = LAT_EDT;
		snprintf(lt->egress_why, sizeof(lt->egress_why), "requested (mechanism: edt)");
		return 0;
	case LATENCY_MECH_NETEM:
		if (!netem_ok) {
			snprintf(err, size,
				 "params.mechanism: netem needs sch_netem and sch_htb: %s",
				 netem->available ? htb->reason : netem->reason);
			return -EOPNOTSUPP;
		}
		lt->egress = LAT_NETEM;
		snprintf(lt->egress_why, sizeof(lt->egress_why), "requested (mechanism: netem)");
		return 0;
	default:
		break;
	}
	if (fq->available) {
		lt->egress = LAT_EDT;
		snprintf(lt->egress_why, sizeof(lt->egress_why),
			 "this kernel has sch_fq: departure times stamped by the eBPF program keep "
			 "each flow in order and need no netem queue");
		return 0;
	}
	if (!netem_ok) {
		snprintf(err, size, "needs sch_fq, or sch_netem and sch_htb: %s; %s", fq->reason,
			 netem->available ? htb->reason : netem->reason);
		return -EOPNOTSUPP;
	}
	lt->egress = LAT_NETEM;
	snprintf(lt->egress_why, sizeof(lt->egress_why),
		 "this kernel has no sch_fq (%s): netem under an HTB class that the eBPF program "
		 "steers matching packets into",
		 fq->reason);
	return 0;
}

static int latency_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_net_latency *p = &f->spec->params.latency;
	struct netif_fault *nf;
	struct lat_state *lt;
	struct fault *other;
	unsigned int dirs;
	int ret;

	ret = latency_probe(a, err, size);
	if (ret)
		return ret;
	ret = netif_fault_validate(a, f, err, size);
	if (ret)
		return ret;
	nf = f->priv;
	dirs = netif_dirs(f);
	lt = calloc(1, sizeof(*lt));
	if (!lt)
		return -ENOMEM;
	nf->ext = lt;
	nf->ext_free = lat_free;
	if ((dirs & NETFAULT_DIR_INGRESS) && p->mechanism == LATENCY_MECH_EDT) {
		snprintf(err, size,
			 "params.mechanism: edt delays egress only (sch_fq holds packets on "
			 "transmit); ingress latency goes through netem on an IFB device: use "
			 "direction egress, or mechanism auto or netem");
		return -EINVAL;
	}
	switch (p->distribution) {
	case NETEM_DIST_NORMAL:
		lt->dist = NETFAULT_DIST_NORMAL;
		break;
	case NETEM_DIST_PARETO:
		lt->dist = NETFAULT_DIST_PARETO;
		break;
	case NETEM_DIST_PARETONORMAL:
		lt->dist = NETFAULT_DIST_PARETONORMAL;
		break;
	default:
		lt->dist = NETFAULT_DIST_UNIFORM;
	}
	if (p->jitter_ns && lt->dist != NETFAULT_DIST_UNIFORM) {
		ret = dist_read(lt, err, size);
		if (ret)
			return ret;
	}
	lt->max_delay_ns = max_delay(p, lt);
	if (dirs & NETFAULT_DIR_EGRESS) {
		ret = choose_egress(a, p, lt, err, size);
		if (ret)
			return ret;
	}
	if (dirs & NETFAULT_DIR_INGRESS) {
		if (!a->probe.r[PROBE_NETEM].available || !a->probe.r[PROBE_IFB].available) {
			snprintf(err, size,
				 "direction ingress needs sch_netem and IFB devices (sch_fq cannot "
				 "delay received packets): %s",
				 a->probe.r[PROBE_NETEM].available
					 ? a->probe.r[PROBE_IFB].reason
					 : a->probe.r[PROBE_NETEM].reason);
			return -EOPNOTSUPP;
		}
		lt->ingress = true;
		snprintf(lt->ingress_why, sizeof(lt->ingress_why),
			 "sch_fq holds packets on transmit only: received packets that match are "
			 "sent through netem on an IFB device of ours (mirred) and come back "
			 "delayed");
	}
	if (lt->egress == LAT_EDT) {
		uint64_t horizon = lt->max_delay_ns / 1000 + FQ_HORIZON_MARGIN_US;

		if (horizon > UINT32_MAX) {
			snprintf(err, size,
				 "params: delay plus the largest jitter excursion (%llu ms) is "
				 "beyond "
				 "what sch_fq's horizon can hold (%u s)",
				 (unsigned long long)(lt->max_delay_ns / 1000000),
				 UINT32_MAX / 1000000);
			return -EINVAL;
		}
		lt->fq.horizon_us =
			(uint32_t)(horizon < FQ_HORIZON_MIN_US ? FQ_HORIZON_MIN_US : horizon);
		lt->fq.limit = LAT_QUEUE_PACKETS;
		lt->fq.flow_limit = LAT_QUEUE_PACKETS;
	}
	if (lt->egress == LAT_NETEM || lt->ingress) {
		if ((uint64_t)p->jitter_ns / 1000 > NETEM_JITTER_MAX_US) {
			snprintf(err, size, "params.jitter: netem takes at most %llu ms",
				 NETEM_JITTER_MAX_US / 1000);
			return -EINVAL;
		}
		lt->netem.limit = LAT_QUEUE_PACKETS;
		lt->netem.delay_us = (uint32_t)(p->delay_ns / 1000);
		lt->netem.jitter_us = (uint32_t)(p->jitter_ns / 1000);
		lt->netem.corr = p->correlation_ppm ? netfault_prob(p->correlation_ppm / 1e6) : 0;
		lt->netem.dist = lt->n_table ? lt->table : NULL;
		lt->netem.n_dist = lt->n_table;
	}
	other = netif_shaper_claim(f, dirs);
	if (other) {
		snprintf(err, size,
			 "interface %s already has a qdisc of fault %s (%s) in this direction; "
			 "latency and a bandwidth limit, or two latencies, cannot share it",
			 nf->ifname, other->id, other->type->name);
		return -EBUSY;
	}
	if (dirs & NETFAULT_DIR_EGRESS)
		return netif_shaped_snapshot(f, &lt->sh, err, size);
	return 0;
}

static int lat_action(const struct fault *f, const struct lat_state *lt,
		      struct netfault_rule_spec *act)
{
	const struct fault_net_latency *p = &f->spec->params.latency;

	memset(act, 0, sizeof(*act));
	if (lt->egress == LAT_NETEM) {
		act->action = NETFAULT_ACT_SHAPE;
		act->classid = TC_FL_CLASS;
		return 0;
	}
	act->action = NETFAULT_ACT_DELAY;
	act->delay_ns = (uint64_t)p->delay_ns;
	act->jitter_ns = (uint64_t)p->jitter_ns;
	act->corr = p->correlation_ppm ? netfault_prob(p->correlation_ppm / 1e6) : 0;
	act->dist = p->jitter_ns ? lt->dist : NETFAULT_DIST_UNIFORM;
	return 0;
}

static int apply_egress(struct fault *f, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	struct lat_state *lt = lat_of(f);
	struct netfault_rule_spec act;
	int ret;

	/* The program's table first: only the root is recorded and replaced (and undone). */
	if (lt->egress == LAT_EDT && lt->n_table && f->spec->params.latency.jitter_ns) {
		ret = netif_fault_dist_load(f, lt->dist, lt->table, lt->n_table, err, size);
		if (ret)
			return ret;
	}
	ret = netif_shaped_record_root(f, &lt->sh, err, size);
	if (ret)
		return ret;
	if (lt->egress == LAT_EDT) {
		ret = tc_fq_install(nf->ifindex, &lt->fq, err, size);
	} else {
		struct tc_shaper s = {.rate = NETEM_CLASS_RATE, .burst = NETEM_CLASS_BURST};

		ret = tc_shaper_install(nf->ifindex, &s, &lt->netem, err, size);
	}
	if (ret)
		return ret;
	log_info("fault %s: %s: replaced %s with %s", f->id, nf->ifname, lt->sh.replaced,
		 lt->egress == LAT_EDT ? "fq fa17: (EDT)" : "HTB fa17: with a netem class");
	lat_action(f, lt, &act);
	return netif_fault_add_rules(f, NETFAULT_DIR_EGRESS, &act, err, size);
}

static int apply_ingress(struct fault *f, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	struct lat_state *lt = lat_of(f);
	int ret;

	ret = netif_shaped_create_ifb(f, &lt->sh, "latency", err, size);
	if (ret)
		return ret;
	ret = tc_netem_install(lt->sh.ifb_ifindex, &lt->netem, err, size);
	if (!ret)
		ret = netif_shaped_steer(f, &lt->sh, err, size);
	if (!ret)
		log_info("fault %s: %s ingress delayed through netem on %s", f->id, nf->ifname,
			 lt->sh.ifb);
	return ret;
}

static int latency_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	(void)a;
	return netif_shaped_apply(f, apply_egress, apply_ingress, err, size);
}

static json_t *latency_describe(const struct fault *f)
{
	const struct netif_fault *nf = f->priv;
	const struct lat_state *lt = lat_of(f);
	json_t *out = netif_fault_status(f);

	if (!out || !lt)
		return out;
	json_object_set_new(out, "distribution", json_string(dist_name(lt->dist)));
	if (lt->n_table)
		json_object_set_new(out, "distribution_table", json_string(lt->dist_file));
	json_object_set_new(out, "max_delay_ns", json_integer((json_int_t)lt->max_delay_ns));
	if (lt->egress != LAT_NONE) {
		json_t *e = json_pack("{s:s, s:s, s:s}", "mechanism", path_name(lt->egress), "why",
				      lt->egress_why, "replaced", lt->sh.replaced);

		if (lt->egress == LAT_EDT) {
			json_object_set_new(
				e, "qdisc",
				json_pack("{s:s, s:i, s:i, s:I, s:b, s:o}", "kind", "fq", "limit",
					  (int)lt->fq.limit, "flow_limit", (int)lt->fq.flow_limit,
					  "horizon_us", (json_int_t)lt->fq.horizon_us,
					  "horizon_drop", false, "stats",
					  lt->sh.root_replaced
						  ? netif_shaped_stats(f, nf->ifindex, true, false)
						  : json_null()));
		} else {
			json_object_set_new(
				e, "qdisc",
				json_pack("{s:s, s:i, s:o}", "kind", "netem", "limit",
					  (int)lt->netem.limit, "class_stats",
					  lt->sh.root_replaced
						  ? netif_shaped_stats(f, nf->ifindex, false, false)
						  : json_null()));
		}
		json_object_set_new(out, "egress", e);
	}
	if (lt->ingress)
		json_object_set_new(
			out, "ingress",
			json_pack("{s:s, s:s, s:s, s:{s:s, s:i, s:o}}", "mechanism", "netem-ifb",
				  "why", lt->ingress_why, "ifb", lt->sh.ifb, "qdisc", "kind",
				  "netem", "limit", (int)lt->netem.limit, "stats",
				  lt->sh.ifb_created
					  ? netif_shaped_stats(f, lt->sh.ifb_ifindex, true, false)
					  : json_null()));
	return out;
}

const struct fault_ops fault_net_latency = {
	NETIF_SHAPED_OPS("network.latency"), .probe = latency_probe,
	.validate = latency_validate,	     .apply = latency_apply,
	.describe = latency_describe,
};
