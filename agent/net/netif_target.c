/*
 * A network fault's target resolved at validation (see netif.h): the namespaces a netns or
 * container target names, the interface in each (the target's, else the one of the
 * namespace's default route), and the requester's SSH session to exempt.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "core.h"
#include "exp.h"
#include "fault.h"
#include "log.h"
#include "netif.h"
#include "netif_impl.h"

/* In a foreign namespace: the ifindex of the interface named name. */
struct ifindex_op {
	const char *name;
	int ifindex;
};

static int op_ifindex(void *p)
{
	struct ifindex_op *o = p;
	unsigned int idx = if_nametoindex(o->name);

	if (!idx)
		return -ENODEV;
	o->ifindex = (int)idx;
	return 0;
}

void netif_members_free(struct netif_fault *nf)
{
	while (nf) {
		struct netif_fault *next = nf->next;

		if (nf->ext_free)
			nf->ext_free(nf->ext);
		netns_ref_close(&nf->ns);
		free(nf);
		nf = next;
	}
}

/*
 * The interface in nf->ns (opened): the target's, else the one of the namespace's default
 * route. nf->ifindex and nf->ifname set; -ENODEV (422) when there is none.
 */
static int member_interface(const struct net_target *t, struct netif_fault *nf, char *err,
			    size_t size)
{
	struct ifindex_op o = {.name = nf->ifname};
	int ret;

	if (!t->interface) {
		ret = netns_default_ifname(&nf->ns, nf->ifname, sizeof(nf->ifname), err, size);
		if (ret)
			return ret == -ENOENT ? -ENODEV : ret;
	} else {
		snprintf(nf->ifname, sizeof(nf->ifname), "%s", t->interface);
	}
	if (!netns_ref_foreign(&nf->ns))
		return netif_lookup(nf->ifname, &nf->ifindex, err, size);
	ret = netns_call(&nf->ns, op_ifindex, &o);
	if (ret == -ENODEV)
		snprintf(err, size, "target.interface: no interface '%s' in %s", nf->ifname,
			 nf->ns.desc);
	else if (ret)
		snprintf(err, size, "target.interface: looking '%s' up in %s: %s", nf->ifname,
			 nf->ns.desc, strerror(-ret));
	nf->ifindex = o.ifindex;
	return ret;
}

/* In the member's namespace: its interface (the default route's when none is named) and ifindex. */
static int op_member_iface(void *p)
{
	struct netif_fault *nf = p;
	unsigned int idx;

	if (!nf->ifname[0]) {
		int ret = netns_default_ifname_here(nf->ifname, sizeof(nf->ifname));

		if (ret)
			return ret; /* -ENOENT: it has no default route */
	}
	idx = if_nametoindex(nf->ifname);
	if (!idx)
		return -ENODEV;
	nf->ifindex = (int)idx;
	return 0;
}

/*
 * member_interface() of every member at once (op_member_iface() through netns_call_many()),
 * with the same messages; the first member that fails names the error.
 */
static int members_interfaces(const struct net_target *t, struct netif_fault *nf, size_t n,
			      char *err, size_t size)
{
	struct netns_job *jobs = calloc(n, sizeof(*jobs));
	struct netif_fault *m;
	size_t i;
	int ret = 0;

	if (!jobs)
		return -ENOMEM;
	for (m = nf, i = 0; m; m = m->next, i++) {
		if (t->interface)
			snprintf(m->ifname, sizeof(m->ifname), "%s", t->interface);
		jobs[i] = (struct netns_job){.ns = &m->ns, .fn = op_member_iface, .arg = m};
	}
	netns_call_many(jobs, n);
	for (m = nf, i = 0; m && !ret; m = m->next, i++) {
		const char *where = m->ns.desc[0] ? m->ns.desc : "the agent's network namespace";

		ret = jobs[i].ret;
		if (ret == -ENOENT && !t->interface) {
			snprintf(err, size,
				 "target.interface: %s has no default route to take the interface "
				 "from; name the interface",
				 where);
			ret = -ENODEV;
		} else if (ret == -ENODEV) {
			snprintf(err, size, "target.interface: no interface '%s' in %s", m->ifname,
				 where);
		} else if (ret == -ENOENT) {
			snprintf(err, size, "target.interface: reading the routes of %s: %s", where,
				 strerror(-ret));
		} else if (ret) {
			snprintf(err, size, "target.interface: looking '%s' up in %s: %s",
				 m->ifname, where, strerror(-ret));
		}
	}
	free(jobs);
	return ret;
}

/*
 * The namespaces and interfaces of the target: nf->ns opened with its interface, and one more
 * member chained on nf->next for each further container a container target selects.
 * Errors are the API's: -EINVAL/-ENODEV/-ESRCH/-E2BIG (422), -EPERM (403: the agent's own
 * container), -EOPNOTSUPP (503: no CAP_SYS_ADMIN).
 */
static int target_interface(struct fault *f, struct netif_fault *nf, char *err, size_t size)
{
	const struct net_target *t = &f->spec->target.net;
	struct netif_fault **tail = &nf->next, *m = nf;
	struct netns_ref *refs = NULL;
	size_t n = 0, i;
	int ret;

	ret = netns_refs_open(t, &refs, &n, &nf->pick, err, size);
	/* -EPERM: the agent's own container (403); -E2BIG: over max_containers_per_fault. */
	if (ret == -EOPNOTSUPP || ret == -ENOMEM || ret == -ESRCH || ret == -EINVAL ||
	    ret == -EPERM || ret == -E2BIG)
		return ret;
	if (ret)
		return -ESRCH; /* a file or process that is not there: nothing to act in */
	/* The shaping types keep one namespace's qdiscs and IFB device (netif_shaped.c). */
	if (n > 1 && (f->spec->type == FAULT_NET_BANDWIDTH || f->spec->type == FAULT_NET_LATENCY)) {
		snprintf(err, size,
			 "target.container: %s acts in one network namespace, and %zu are "
			 "selected: name one container (the rule-based types, network.loss, "
			 "corruption, duplication and partition, act in several)",
			 f->spec->type == FAULT_NET_LATENCY ? "network.latency"
							    : "network.bandwidth",
			 n);
		netns_refs_close(refs, n);
		return -EINVAL;
	}
	for (i = 0; i < n && !ret; i++) {
		if (i) {
			m = calloc(1, sizeof(*m));
			if (!m) {
				ret = -ENOMEM;
				break;
			}
			*tail = m;
			tail = &m->next;
		}
		/* The reference (its fd) moves to the member. */
		m->ns = refs[i];
		netns_ref_init(&refs[i]);
	}
	netns_refs_close(refs, n);
	if (!ret)
		ret = n == 1 ? member_interface(t, nf, err, size)
			     : members_interfaces(t, nf, n, err, size);
	if (!ret && n > 1)
		log_info("fault %s: the target selects %zu containers' network namespaces", f->id,
			 n);
	if (!ret && nf->pick.matched)
		log_info("fault %s: %zu of %zu matching containers chosen with seed %llu%s", f->id,
			 nf->pick.selected, nf->pick.matched, (unsigned long long)nf->pick.seed,
			 nf->pick.seeded ? " (the target's)" : "");
	return ret;
}

/*
 * The requester's SSH session, found now while it is connected. A fault object cannot opt out
 * of this (only an experiment's safety.protect_control_channel can, and the controller
 * enforces that by not asking), so API faults always protect it. Only in the agent's
 * namespace: the session's packets do not cross another one.
 */
static void find_peer_ssh(struct fault *f, struct netif_fault *nf)
{
	char conn[160];
	pid_t found = 0;
	int ret;

	if (f->peer_pid <= 0 || netns_ref_foreign(&nf->ns))
		return;
	ret = netif_ssh_connection(f->peer_pid, conn, sizeof(conn), &found);
	if (!ret) {
		if (netfault_exempt_parse_ssh(conn, &nf->peer_ex)) {
			log_warn("fault %s: requester pid %d: cannot parse SSH_CONNECTION "
				 "\"%s\"; its session is not exempt",
				 f->id, (int)found, conn);
		} else {
			nf->peer_ssh = true;
			netif_exempt_fmt(&nf->peer_ex, nf->peer_desc, sizeof(nf->peer_desc));
			log_info("fault %s: the requester's SSH session (pid %d: %s) is exempt",
				 f->id, (int)found, conn);
		}
	} else if (ret != -ENOENT) {
		log_warn("fault %s: cannot read the environment of the requester (pid %d) or its "
			 "parents: %s; an SSH session it runs in is not exempt",
			 f->id, (int)f->peer_pid, strerror(-ret));
	}
}

int netif_fault_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	struct netif_fault *nf;
	char why[256];
	int ret;

	/* The agent's policy, installed before the first interface is attached (and again
	 * when the agent has loaded another one since). */
	ret = netif_policy_sync(a->policy, err, size);
	if (ret)
		return ret;
	/* The validator's count and message (lib/exp_fault.c), so both say the same. */
	if (exp_fault_rule_slots_check(f->spec, why, sizeof(why))) {
		snprintf(err, size, "target: %s", why);
		return -EINVAL;
	}
	nf = calloc(1, sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	netns_ref_init(&nf->ns);
	ret = target_interface(f, nf, err, size);
	if (ret) {
		netif_members_free(nf);
		return ret;
	}
	for (struct netif_fault *m = nf; m; m = m->next)
		find_peer_ssh(f, m);
	f->priv = nf;
	return 0;
}
