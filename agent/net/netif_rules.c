/*
 * What a network fault's target becomes in the interface's program (see netif.h): one rule
 * per (remote port range, local port range) and family where the protocol needs it, with the
 * fault type's action; and what a fault changes on its rules later: deadlines that follow the
 * lease, the jitter table, the ingress steering filter, removal.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core.h"
#include "exp.h"
#include "fault.h"
#include "log.h"
#include "netif.h"
#include "netif_impl.h"

static size_t ranges_or_one(size_t n)
{
	return n ? n : 1;
}

static uint8_t l4_proto(int protocol, int family)
{
	switch (protocol) {
	case NET_PROTO_TCP:
		return IPPROTO_TCP;
	case NET_PROTO_UDP:
		return IPPROTO_UDP;
	case NET_PROTO_ICMP:
		return family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	default:
		return 0;
	}
}

const char *netif_dirs_name(unsigned int dirs)
{
	return dirs == NETFAULT_DIR_BOTH     ? "both"
	       : dirs == NETFAULT_DIR_EGRESS ? "egress"
					     : "ingress";
}

/* netif_fault_add_rules() for one member (one namespace's interface). */
static int add_rules_in(struct fault *f, struct netif_fault *nf, unsigned int dirs,
			const struct netfault_rule_spec *act, char *err, size_t size)
{
	const struct net_target *t = &f->spec->target.net;
	struct netfault_cidr *cidrs;
	size_t n_before;
	int ret = 0;

	if (!nf || !nf->nif)
		return -EINVAL;
	n_before = nf->n_slots;
	cidrs = calloc(t->n_cidrs ? t->n_cidrs : 1, sizeof(*cidrs));
	if (!cidrs)
		return -ENOMEM;
	/* ICMP is a different protocol number per family: one pass per family then. */
	for (int pass = 0; pass < 2 && !ret; pass++) {
		int family = t->protocol != NET_PROTO_ICMP ? AF_UNSPEC
			     : pass == 0		   ? AF_INET
							   : AF_INET6;
		size_t n = 0;

		if (pass == 1 && t->protocol != NET_PROTO_ICMP)
			break;
		for (size_t i = 0; i < t->n_cidrs; i++) {
			if (family != AF_UNSPEC && t->cidrs[i].family != family)
				continue;
			cidrs[n].family = t->cidrs[i].family;
			cidrs[n].prefixlen = t->cidrs[i].prefix;
			memcpy(cidrs[n].addr, t->cidrs[i].addr, sizeof(cidrs[n].addr));
			n++;
		}
		if (!n && t->n_cidrs)
			continue;
		for (size_t p = 0; p < ranges_or_one(t->n_ports) && !ret; p++) {
			for (size_t l = 0; l < ranges_or_one(t->n_local_ports) && !ret; l++) {
				struct netfault_rule_spec spec = *act;
				int slot;

				/* act's action; the match is the target's. */
				spec.dirs = dirs;
				spec.proto = l4_proto(t->protocol, family);
				spec.lport_min = spec.lport_max = 0;
				spec.rport_min = spec.rport_max = 0;
				spec.fault_exempt = false;
				/* The kernel lets the rule lapse with its lease. */
				spec.deadline_ns = fault_lease_deadline_ns(f);
				spec.remote = cidrs;
				spec.n_remote = n;
				spec.local = NULL;
				spec.n_local = 0;
				if (t->n_ports) {
					spec.rport_min = t->ports[p].lo;
					spec.rport_max = t->ports[p].hi;
				}
				if (t->n_local_ports) {
					spec.lport_min = t->local_ports[l].lo;
					spec.lport_max = t->local_ports[l].hi;
				}
				ret = netfault_rule_add(nf->nif->nf, &spec, &slot);
				if (ret == -ENOSPC) {
					snprintf(err, size,
						 "%s: no free rule slot (the %d slots of the "
						 "interface are in use by other faults)",
						 nf->ifname, NETFAULT_MAX_RULES);
					ret = -EBUSY;
				} else if (ret) {
					snprintf(err, size, "%s: adding a rule: %s", nf->ifname,
						 strerror(-ret));
				} else {
					nf->slot_dirs[nf->n_slots] = dirs;
					nf->slots[nf->n_slots++] = slot;
				}
			}
		}
	}
	free(cidrs);
	if (ret) {
		/* This call's rules go again; earlier calls' stay for the caller's unwinding. */
		while (nf->n_slots > n_before)
			netfault_rule_remove(nf->nif->nf, nf->slots[--nf->n_slots]);
		return ret;
	}
	log_info("fault %s: %zu rule(s) on %s %s%s%s", f->id, nf->n_slots - n_before, nf->ifname,
		 netif_dirs_name(dirs), netns_ref_foreign(&nf->ns) ? " in " : "",
		 netns_ref_foreign(&nf->ns) ? nf->ns.desc : "");
	return 0;
}

const struct netif_fault *netif_fault_program_peer(const struct netif_fault *head,
						   const struct netif_fault *m)
{
	for (; head && head != m; head = head->next)
		if (head->nif && m->nif && netfault_same_program(head->nif->nf, m->nif->nf))
			return head;
	return NULL;
}

/*
 * A member whose interface runs the program of an earlier member (netfault_open_shared()):
 * the rules that member added in this call are in force here too; the same slots are noted.
 */
static void share_rules(struct netif_fault *nf, const struct netif_fault *peer, size_t from)
{
	for (size_t i = from; i < peer->n_slots; i++) {
		nf->slot_dirs[nf->n_slots] = peer->slot_dirs[i];
		nf->slots[nf->n_slots++] = peer->slots[i];
	}
}

int netif_fault_add_rules(struct fault *f, unsigned int dirs, const struct netfault_rule_spec *act,
			  char *err, size_t size)
{
	int ret = f->priv ? 0 : -EINVAL;

	/* A failure leaves the members before it with their rules, for the caller's unwinding. */
	for (struct netif_fault *nf = f->priv; nf && !ret; nf = nf->next) {
		const struct netif_fault *peer = netif_fault_program_peer(f->priv, nf);

		nf->add_from = nf->n_slots;
		if (peer)
			share_rules(nf, peer, peer->add_from);
		else
			ret = add_rules_in(f, nf, dirs, act, err, size);
	}
	return ret;
}

int netif_fault_dist_load(struct fault *f, enum netfault_dist dist, const int16_t *v, size_t n,
			  char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	int ret;

	if (!nf || !nf->nif)
		return -EINVAL;
	ret = netfault_dist_load(nf->nif->nf, dist, v, n);
	if (ret)
		snprintf(err, size, "%s: loading the jitter distribution table: %s", nf->ifname,
			 strerror(-ret));
	return ret;
}

/* The steering filter is a tc filter on the interface: added and removed in its namespace. */
struct steer_op {
	struct netfault *nf;
	int ifb_ifindex;
};

static int op_steer(void *p)
{
	struct steer_op *o = p;

	return netfault_steer_attach(o->nf, o->ifb_ifindex);
}

static int op_unsteer(void *p)
{
	return netfault_steer_detach(((struct steer_op *)p)->nf);
}

int netif_fault_steer(struct fault *f, int ifb_ifindex, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	struct steer_op o;
	int ret;

	if (!nf || !nf->nif)
		return -EINVAL;
	o = (struct steer_op){.nf = nf->nif->nf, .ifb_ifindex = ifb_ifindex};
	ret = netns_call(&nf->ns, op_steer, &o);
	if (ret) {
		snprintf(err, size,
			 "%s: adding the ingress steering filter (mirred to the IFB "
			 "device): %s",
			 nf->ifname, strerror(-ret));
		return ret;
	}
	nf->steering = true;
	return 0;
}

int netif_fault_unsteer(struct fault *f, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	struct steer_op o = {0};
	int ret;

	if (!nf || !nf->nif || !nf->steering)
		return 0;
	o.nf = nf->nif->nf;
	ret = netns_call(&nf->ns, op_unsteer, &o);
	if (ret) {
		snprintf(err, size, "%s: removing the ingress steering filter: %s", nf->ifname,
			 strerror(-ret));
		return ret;
	}
	nf->steering = false;
	return 0;
}

void netif_fault_lease_renewed(struct fault *f)
{
	if (!f->lease)
		return;
	for (struct netif_fault *nf = f->priv; nf; nf = nf->next) {
		for (size_t i = 0; nf->nif && i < nf->n_slots; i++) {
			int e = netfault_rule_deadline(nf->nif->nf, nf->slots[i],
						       f->lease->deadline_ns);

			if (e)
				log_warn("fault %s: %s: moving the deadline of rule %d: %s", f->id,
					 nf->ifname, nf->slots[i], strerror(-e));
		}
	}
}

int netif_member_remove_rules(struct netif_fault *nf, char *err, size_t size)
{
	int ret = 0;

	while (nf->n_slots) {
		int e = netfault_rule_remove(nf->nif->nf, nf->slots[nf->n_slots - 1]);

		if (e && e != -ENOENT) {
			snprintf(err, size, "%s: removing rule %d: %s", nf->ifname,
				 nf->slots[nf->n_slots - 1], strerror(-e));
			ret = e;
			break;
		}
		nf->n_slots--;
	}
	return ret;
}

int netif_fault_remove_rules(struct fault *f, char *err, size_t size)
{
	int ret = 0;

	for (struct netif_fault *nf = f->priv; nf && !ret; nf = nf->next) {
		if (!nf->nif)
			continue;
		/* Rules in a program an earlier member shares went out with that member's. */
		if (netif_fault_program_peer(f->priv, nf))
			nf->n_slots = 0;
		else
			ret = netif_member_remove_rules(nf, err, size);
	}
	return ret;
}

int netif_fault_apply_prob(struct fault *f, enum netfault_action action, uint32_t probability_ppm,
			   char *err, size_t size)
{
	struct netfault_rule_spec act = {.action = action,
					 .prob = netfault_prob(probability_ppm / 1e6)};

	return netif_fault_apply_action(f, &act, err, size);
}

int netif_fault_validate_uncorrelated(struct agent *a, struct fault *f, uint32_t correlation_ppm,
				      const char *what, char *err, size_t size)
{
	if (correlation_ppm) {
		snprintf(err, size,
			 "params.correlation: correlated %s is not supported by the eBPF data "
			 "path; leave it out",
			 what);
		return -EINVAL;
	}
	return netif_fault_validate(a, f, err, size);
}
