/*
 * What the API shows of a network fault (see netif.h): resolve (the interface, its
 * addresses, the peers and ports the rules would match) and the status with the counters of
 * the fault's rules and what stays protected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
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

static int op_getifaddrs(void *p)
{
	return getifaddrs(p) ? -errno : 0;
}

/* "netns": {"inode", "desc"} of a fault acting in another namespace than the agent's. */
static void put_netns(json_t *o, const struct netif_fault *nf)
{
	if (netns_ref_foreign(&nf->ns))
		json_object_set_new(o, "netns",
				    json_pack("{s:I, s:s}", "inode", (json_int_t)nf->ns.ino, "desc",
					      nf->ns.desc));
}

int netif_fault_resolve(struct agent *a, struct fault *f, json_t **out, char *err, size_t size)
{
	static const char *const dirs[] = {"egress", "ingress", "both"};
	const struct net_target *t = &f->spec->target.net;
	const struct netif_fault *nf = f->priv;
	struct ifaddrs *ifa = NULL;
	json_t *o, *addrs, *peers;
	bool up = false;

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
	/* The interface's addresses in its network namespace, as the rules see them. */
	put_netns(o, nf);
	if (!netns_call(&nf->ns, op_getifaddrs, &ifa)) {
		for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
			char buf[INET6_ADDRSTRLEN];
			const void *addr;
			int fam;

			if (strcmp(i->ifa_name, nf->ifname))
				continue;
			up |= !!(i->ifa_flags & IFF_UP);
			if (!i->ifa_addr)
				continue;
			fam = i->ifa_addr->sa_family;
			if (fam == AF_INET)
				addr = &((const struct sockaddr_in *)i->ifa_addr)->sin_addr;
			else if (fam == AF_INET6)
				addr = &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			else
				continue;
			if (inet_ntop(fam, addr, buf, sizeof(buf)))
				json_array_append_new(addrs, json_string(buf));
		}
		freeifaddrs(ifa);
	}
	json_object_set_new(o, "up", json_boolean(up));
	if (nf->peer_ssh)
		json_object_set_new(o, "exempt_requester_ssh", json_string(nf->peer_desc));
	*out = o;
	return 0;
}

/* The counters only network.dns has. */
static void dns_counters(json_t *o, const struct netfault_counters *c)
{
	json_object_set_new(o, FL_COUNTER_QUERIES, json_integer((json_int_t)c->queries));
	json_object_set_new(o, FL_COUNTER_ANSWERED, json_integer((json_int_t)c->answered));
}

json_t *netif_fault_status(const struct fault *f)
{
	const struct netif_fault *nf = f->priv;
	bool dns = f->spec && f->spec->type == FAULT_NET_DNS;
	struct netfault_counters sum = {0};
	json_t *rules, *prot, *out, *rule;

	if (!nf)
		return NULL;
	rules = json_array();
	prot = json_array();
	for (size_t i = 0; nf->nif && i < nf->n_slots; i++) {
		struct netfault_counters c;

		if (netfault_rule_counters(nf->nif->nf, nf->slots[i], &c))
			continue;
		sum.matched += c.matched;
		sum.dropped += c.dropped;
		sum.corrupted += c.corrupted;
		sum.duplicated += c.duplicated;
		sum.exempted += c.exempted;
		sum.delayed += c.delayed;
		sum.queries += c.queries;
		sum.answered += c.answered;
		rule = json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "slot", nf->slots[i],
				 "direction", netif_dirs_name(nf->slot_dirs[i]), FL_COUNTER_MATCHED,
				 (json_int_t)c.matched, FL_COUNTER_DROPPED, (json_int_t)c.dropped,
				 FL_COUNTER_CORRUPTED, (json_int_t)c.corrupted,
				 FL_COUNTER_DUPLICATED, (json_int_t)c.duplicated,
				 FL_COUNTER_EXEMPTED, (json_int_t)c.exempted, FL_COUNTER_DELAYED,
				 (json_int_t)c.delayed);
		if (dns)
			dns_counters(rule, &c);
		json_array_append_new(rules, rule);
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
	out = json_pack("{s:s, s:i, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o}", "interface",
			nf->ifname, "ifindex", nf->ifindex, FL_STATUS_RULES, rules,
			FL_STATUS_COUNTERS, FL_COUNTER_MATCHED, (json_int_t)sum.matched,
			FL_COUNTER_DROPPED, (json_int_t)sum.dropped, FL_COUNTER_CORRUPTED,
			(json_int_t)sum.corrupted, FL_COUNTER_DUPLICATED,
			(json_int_t)sum.duplicated, FL_COUNTER_EXEMPTED, (json_int_t)sum.exempted,
			FL_COUNTER_DELAYED, (json_int_t)sum.delayed, "protected", prot);
	if (out)
		put_netns(out, nf);
	if (out && dns)
		dns_counters(json_object_get(out, FL_STATUS_COUNTERS), &sum);
	return out;
}
