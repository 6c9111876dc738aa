/*
 * The conflict tests of the fault types, as the type table in exp_fault.c names them: two
 * faults conflict when they would fight over the same packets, shaper or file. One test serves
 * every packet-rule type; the network tests compare interfaces, directions, protocols, port
 * ranges and address intervals; network.dns also its name patterns and query types.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsname.h"
#include "exp_conflict.h"
#include "exp_priv.h"

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

/* Link, protocol, addresses and ports all overlap. */
static bool targets_overlap(const struct net_target *a, const struct net_target *b)
{
	if (!same_link(a, b))
		return false;
	if (a->protocol != b->protocol && a->protocol != NET_PROTO_ANY &&
	    b->protocol != NET_PROTO_ANY)
		return false;
	return ports_overlap(a->ports, a->n_ports, b->ports, b->n_ports) &&
	       ports_overlap(a->local_ports, a->n_local_ports, b->local_ports, b->n_local_ports) &&
	       cidrs_overlap(a, b);
}

/* Same packets: link, protocol, addresses and ports all overlap. */
static bool same_packets(const struct fault_spec *fa, const struct fault_spec *fb, const char *verb,
			 char *what, size_t size)
{
	const struct net_target *a = &fa->target.net, *b = &fb->target.net;

	if (!targets_overlap(a, b))
		return false;
	snprintf(what, size, "%s on %s %s for overlapping addresses and ports", verb,
		 exp_net_ifname(a), shared_dir(a, b));
	return true;
}

/* What a packet-rule type does to the packets two faults would both claim. */
static const char *const packet_verbs[FAULT_TYPE_COUNT] = {
	[FAULT_NET_LATENCY] = "add latency",
	[FAULT_NET_LOSS] = "drop packets",
	[FAULT_NET_CORRUPTION] = "corrupt packets",
	[FAULT_NET_DUPLICATION] = "duplicate packets",
};

bool exp_conflict_packets(const struct fault_spec *a, const struct fault_spec *b, char *what,
			  size_t size)
{
	return same_packets(a, b, packet_verbs[a->type] ?: "act on packets", what, size);
}

/* One shaper per interface and direction: two limits cannot both hold. */
bool exp_conflict_bandwidth(const struct fault_spec *a, const struct fault_spec *b, char *what,
			    size_t size)
{
	if (!same_link(&a->target.net, &b->target.net))
		return false;
	snprintf(what, size, "limit bandwidth on %s %s", exp_net_ifname(&a->target.net),
		 shared_dir(&a->target.net, &b->target.net));
	return true;
}

bool exp_conflict_disk_fill(const struct fault_spec *a, const struct fault_spec *b, char *what,
			    size_t size)
{
	if (!a->params.disk_fill.path || !b->params.disk_fill.path ||
	    strcmp(a->params.disk_fill.path, b->params.disk_fill.path))
		return false;
	snprintf(what, size, "fill %s", a->params.disk_fill.path);
	return true;
}

bool exp_conflict_io(const struct fault_spec *a, const struct fault_spec *b, char *what,
		     size_t size)
{
	if (!a->params.io.path || !b->params.io.path ||
	    strcmp(a->params.io.path, b->params.io.path))
		return false;
	snprintf(what, size, "write to %s", a->params.io.path);
	return true;
}

/* Whether name x is y or below it: y's labels end x's, from a label boundary of x. */
static bool at_or_below(const struct dnsname *x, const struct dnsname *y)
{
	size_t skip, at = 0;

	if (y->len > x->len)
		return false;
	skip = x->len - y->len;
	while (at < skip)
		at += x->wire[at] + 1;
	return at == skip && !memcmp(x->wire + skip, y->wire, y->len);
}

/*
 * Whether one query name can match both patterns: two exact names that are the same, an exact
 * name strictly below a suffix pattern's domain, two suffix patterns one of whose domains is
 * (or is below) the other's.
 */
static bool names_overlap(const struct dnsname *a, const struct dnsname *b)
{
	if (!a->suffix && !b->suffix)
		return a->len == b->len && !memcmp(a->wire, b->wire, a->len);
	if (!a->suffix)
		return at_or_below(a, b) && a->len != b->len;
	if (!b->suffix)
		return at_or_below(b, a) && a->len != b->len;
	return at_or_below(a, b) || at_or_below(b, a);
}

/* No qtypes given means every type. */
static bool qtypes_overlap(const struct fault_net_dns *a, const struct fault_net_dns *b)
{
	if (!a->n_qtypes || !b->n_qtypes)
		return true;
	for (size_t i = 0; i < a->n_qtypes; i++)
		for (size_t j = 0; j < b->n_qtypes; j++)
			if (a->qtypes[i] == b->qtypes[j])
				return true;
	return false;
}

/* The patterns of a fault, parsed (they were validated: one that no longer parses is skipped). */
static struct dnsname *parse_names(const struct fault_net_dns *d)
{
	struct dnsname *n = calloc(d->n_names ? d->n_names : 1, sizeof(*n));
	char why[8];

	if (!n)
		return NULL;
	for (size_t i = 0; i < d->n_names; i++)
		if (dnsname_parse(d->names[i], &n[i], why, sizeof(why)))
			n[i].len = 0;
	return n;
}

/*
 * Two network.dns faults whose queries meet (link, resolvers, ports, protocol) and whose
 * patterns and query types can select one query: the data path answers a query by one rule, so
 * which action a name gets would depend on the rules' order. Names the first such pair of
 * patterns.
 */
bool exp_conflict_dns(const struct fault_spec *fa, const struct fault_spec *fb, char *what,
		      size_t size)
{
	const struct fault_net_dns *a = &fa->params.dns, *b = &fb->params.dns;
	struct dnsname *na, *nb;
	bool found = false;

	if (!targets_overlap(&fa->target.net, &fb->target.net) || !qtypes_overlap(a, b))
		return false;
	na = parse_names(a);
	nb = parse_names(b);
	if (!na || !nb) {
		/* Without memory, assume the worst rather than miss a conflict. */
		snprintf(what, size, "fault DNS queries on %s", exp_net_ifname(&fa->target.net));
		found = true;
		goto out;
	}
	for (size_t i = 0; i < a->n_names && !found; i++) {
		for (size_t j = 0; j < b->n_names && !found; j++) {
			if (!na[i].len || !nb[j].len || !names_overlap(&na[i], &nb[j]))
				continue;
			if (!strcmp(a->names[i], b->names[j]))
				snprintf(what, size, "fault DNS queries for '%s'", a->names[i]);
			else
				snprintf(what, size,
					 "fault DNS queries for names that match both '%s' and "
					 "'%s'",
					 a->names[i], b->names[j]);
			found = true;
		}
	}
	if (found) {
		size_t len = strlen(what);

		if (len < size)
			snprintf(what + len, size - len, "%s on %s to overlapping resolvers",
				 a->n_qtypes && b->n_qtypes ? " (overlapping qtypes)" : "",
				 exp_net_ifname(&fa->target.net));
	}
out:
	free(na);
	free(nb);
	return found;
}
