/*
 * What the API shows of a network fault (see netif.h): resolve (the interface, its
 * addresses, the peers and ports the rules would match) and the status with the counters of
 * the fault's rules and what stays protected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "exp.h"
#include "fault.h"
#include "faultline/fault_status.h"
#include "netif.h"
#include "netif_impl.h"

/* "198.51.100.0/24" for a CIDR of the target. */
static json_t *cidr_json(const struct net_cidr *c)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->addr, a, sizeof(a)))
		return json_string("?");
	return json_sprintf("%s/%u", a, (unsigned)c->prefix);
}

static json_t *ranges_json(const struct port_range *r, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(
			arr, r[i].lo == r[i].hi
				     ? json_sprintf("%u", (unsigned)r[i].lo)
				     : json_sprintf("%u-%u", (unsigned)r[i].lo, (unsigned)r[i].hi));
	return arr;
}

/* "netns": {"inode", "desc"} of a fault acting in another namespace than the agent's. */
static void put_netns(json_t *o, const struct netif_fault *nf)
{
	if (netns_ref_foreign(&nf->ns))
		json_object_set_new(o, "netns",
				    json_pack("{s:I, s:s}", "inode", (json_int_t)nf->ns.ino, "desc",
					      nf->ns.desc));
}

/* The interface's addresses in its network namespace, as the rules see them, and whether up. */
static bool put_addrs(const struct netif_fault *nf, json_t *addrs)
{
	json_t *ifs = NULL, *e, *a;
	bool up = false;
	size_t i, k;

	if (netns_ifaces_json(&nf->ns, &ifs))
		return false;
	json_array_foreach(ifs, i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "name")), nf->ifname))
			continue;
		up = json_is_true(json_object_get(e, "up"));
		/* "ADDR/LEN": the address alone here. */
		json_array_foreach(json_object_get(e, "addresses"), k, a)
		{
			const char *s = json_string_value(a);

			json_array_append_new(addrs, json_stringn(s, strcspn(s, "/")));
		}
	}
	json_decref(ifs);
	return up;
}

/*
 * "containers": one entry per member of a fault whose container target selected several:
 * {"container", "netns", "interface", "ifindex"} and what more() adds to it.
 */
static void put_members(json_t *o, const struct netif_fault *nf,
			void (*more)(json_t *m, const struct netif_fault *nf, void *arg), void *arg)
{
	json_t *v;

	if (!nf->next)
		return;
	v = json_array();
	for (; v && nf; nf = nf->next) {
		json_t *m = json_pack("{s:s, s:s, s:i}", "container", nf->ns.container, "interface",
				      nf->ifname, "ifindex", nf->ifindex);

		if (!m)
			continue;
		put_netns(m, nf);
		more(m, nf, arg);
		json_array_append_new(v, m);
	}
	json_object_set_new(o, "containers", v);
}

/*
 * "selection": how a container target's count or percent chose among the matching
 * containers: {"matched", "selected", "seed", "seeded", "choice"}. At apply (status) the seed
 * is the one used, the target's or a random one: giving it as target.seed chooses the same
 * containers among the same matches. At resolve without a seed it is only this resolve's.
 */
static void put_pick(json_t *o, const struct netif_fault *nf, bool at_resolve)
{
	const struct netns_pick *p = &nf->pick;
	const char *how;
	json_t *s;

	if (!p->matched)
		return;
	s = json_pack("{s:I, s:I, s:I, s:b}", "matched", (json_int_t)p->matched, "selected",
		      (json_int_t)p->selected, "seed", (json_int_t)p->seed, "seeded", p->seeded);
	if (!s)
		return;
	if (p->seeded)
		how = "chosen with the given seed";
	else if (at_resolve)
		how = "chosen at random when applied (the ones listed are this resolve's choice; "
		      "give target.seed to fix it)";
	else
		how = "chosen at random with this seed";
	if (p->selected < p->matched)
		json_object_set_new(s, "choice",
				    json_sprintf("%zu of %zu, %s", p->selected, p->matched, how));
	json_object_set_new(o, "selection", s);
}

static void resolve_more(json_t *m, const struct netif_fault *nf, void *arg)
{
	json_t *addrs = json_array();

	(void)arg;
	json_object_set_new(m, "up", json_boolean(put_addrs(nf, addrs)));
	json_object_set_new(m, "addresses", addrs);
}

int netif_fault_resolve(struct agent *a, struct fault *f, json_t **out, char *err, size_t size)
{
	static const char *const dirs[] = {"egress", "ingress", "both"};
	const struct net_target *t = &f->spec->target.net;
	const struct netif_fault *nf = f->priv;
	json_t *o, *addrs, *peers;

	(void)a;
	addrs = json_array();
	peers = json_array();
	o = json_pack("{s:s, s:i, s:o, s:s, s:o, s:o, s:o}", "interface", nf->ifname, "ifindex",
		      nf->ifindex, "addresses", addrs, "direction",
		      t->direction >= 0 && t->direction < 3 ? dirs[t->direction] : "?", "peers",
		      peers, "ports", ranges_json(t->ports, t->n_ports), "local_ports",
		      ranges_json(t->local_ports, t->n_local_ports));
	if (!o) {
		snprintf(err, size, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n_cidrs; i++)
		json_array_append_new(peers, cidr_json(&t->cidrs[i]));
	put_netns(o, nf);
	json_object_set_new(o, "up", json_boolean(put_addrs(nf, addrs)));
	if (nf->peer_ssh)
		json_object_set_new(o, "exempt_requester_ssh", json_string(nf->peer_desc));
	put_members(o, nf, resolve_more, NULL);
	put_pick(o, nf, true);
	*out = o;
	return 0;
}

/* A rule's or a fault's counters; with dns, also those only network.dns has. */
static json_t *counters_json(const struct netfault_counters *c, bool dns)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", FL_COUNTER_MATCHED,
			 (json_int_t)c->matched, FL_COUNTER_DROPPED, (json_int_t)c->dropped,
			 FL_COUNTER_CORRUPTED, (json_int_t)c->corrupted, FL_COUNTER_DUPLICATED,
			 (json_int_t)c->duplicated, FL_COUNTER_EXEMPTED, (json_int_t)c->exempted,
			 FL_COUNTER_DELAYED, (json_int_t)c->delayed);

	if (o && dns) {
		json_object_set_new(o, FL_COUNTER_QUERIES, json_integer((json_int_t)c->queries));
		json_object_set_new(o, FL_COUNTER_ANSWERED, json_integer((json_int_t)c->answered));
	}
	return o;
}

static void counters_add(struct netfault_counters *sum, const struct netfault_counters *c)
{
	sum->matched += c->matched;
	sum->dropped += c->dropped;
	sum->corrupted += c->corrupted;
	sum->duplicated += c->duplicated;
	sum->exempted += c->exempted;
	sum->delayed += c->delayed;
	sum->queries += c->queries;
	sum->answered += c->answered;
}

/*
 * The member's rules appended to rules (NULL: none), each with its namespace's inode when
 * tag (a fault in several), their counters summed into sum.
 */
static void member_rules(const struct netif_fault *nf, json_t *rules, bool tag, bool dns,
			 struct netfault_counters *sum)
{
	for (size_t i = 0; nf->nif && i < nf->n_slots; i++) {
		struct netfault_counters c;
		json_t *r;

		if (netfault_rule_counters(nf->nif->nf, nf->slots[i], &c))
			continue;
		counters_add(sum, &c);
		if (!rules)
			continue;
		r = counters_json(&c, dns);
		if (!r)
			continue;
		json_object_set_new(r, "slot", json_integer(nf->slots[i]));
		json_object_set_new(r, "direction", json_string(netif_dirs_name(nf->slot_dirs[i])));
		if (tag)
			json_object_set_new(r, "netns_inode", json_integer((json_int_t)nf->ns.ino));
		json_array_append_new(rules, r);
	}
}

static void status_more(json_t *m, const struct netif_fault *nf, void *arg)
{
	struct netfault_counters c = {0};
	bool dns = *(const bool *)arg;

	member_rules(nf, NULL, false, dns, &c);
	json_object_set_new(m, FL_STATUS_COUNTERS, counters_json(&c, dns));
	/*
	 * Its interface runs a program loaded once for several namespaces: the counters are
	 * those of all the interfaces running it (docs/netfault.md, "One program, many
	 * namespaces").
	 */
	if (nf->nif && netfault_shares(nf->nif->nf) > 1)
		json_object_set_new(m, "program_shared_by",
				    json_integer(netfault_shares(nf->nif->nf)));
}

json_t *netif_fault_status(const struct fault *f)
{
	const struct netif_fault *nf = f->priv;
	bool dns = f->spec && f->spec->type == FAULT_NET_DNS;
	struct netfault_counters sum = {0};
	json_t *rules, *prot, *out;

	if (!nf)
		return NULL;
	rules = json_array();
	prot = json_array();
	/*
	 * Every member's rules; the counters are the sum over all namespaces, each program
	 * counted once (members sharing one have the same counters: those of all of them).
	 */
	for (const struct netif_fault *m = nf; m; m = m->next) {
		struct netfault_counters dup = {0};

		member_rules(m, rules, nf->next != NULL, dns,
			     netif_fault_program_peer(nf, m) ? &dup : &sum);
	}
	if (nf->nif && nf->nif->agent_ssh) {
		char d[96];

		netif_exempt_fmt(&nf->nif->agent_ex, d, sizeof(d));
		json_array_append_new(
			prot, json_pack("{s:s, s:s}", "why", "the agent's SSH session", "flow", d));
	}
	if (nf->peer_ssh)
		json_array_append_new(prot,
				      json_pack("{s:s, s:s}", "why", "the requester's SSH session",
						"flow", nf->peer_desc));
	if (netif_policy_exempt_count())
		json_array_append_new(prot, json_pack("{s:s, s:I}", "why", "policy", "entries",
						      (json_int_t)netif_policy_exempt_count()));
	out = json_pack("{s:s, s:i, s:o, s:o, s:o}", "interface", nf->ifname, "ifindex",
			nf->ifindex, FL_STATUS_RULES, rules, FL_STATUS_COUNTERS,
			counters_json(&sum, dns), "protected", prot);
	if (out) {
		put_netns(out, nf);
		put_members(out, nf, status_more, &dns);
		put_pick(out, nf, false);
	}
	return out;
}
