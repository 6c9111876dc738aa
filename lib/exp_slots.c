/*
 * Rule slots of network faults: the one count the agent (agent/net/netif.c) and the
 * validator both use. A network fault takes one BPF rule per ICMP family, peer-port range,
 * local-port range and, for the types with an action per direction, direction.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>

#include "exp_priv.h"
#include "faultline/netfault.h"

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
