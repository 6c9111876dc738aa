/*
 * The registry of faulted interfaces (see netif.h): one struct netif per interface, opened
 * and attached by its first network fault and detached when its last one goes, and the
 * lifecycle every network fault shares on it: attach, detach, revert, free, and which fault
 * holds an interface's shaper. The rest of netif.h is in netif_exempt.c, netif_rules.c,
 * netif_status.c, netif_shaped.c, netif_cleanup.c and netif_target.c (validation: the
 * target's namespaces and interfaces).
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
#include "tc.h"

struct netif *netif_registry;
pthread_mutex_t netif_lane = PTHREAD_MUTEX_INITIALIZER;

struct netif *netif_find(const struct netns_ref *ns, int ifindex)
{
	for (struct netif *n = netif_registry; n; n = n->next)
		if (n->ifindex == ifindex && netns_ref_same(&n->ns, ns))
			return n;
	return NULL;
}

/*
 * The namespace-bound calls of the registry, each run through netns_call() so that a foreign
 * namespace's are made on a thread inside it (BPF maps and programs are not bound to one).
 */
struct nsop {
	struct netfault *nf;
	int ifindex;
	unsigned int flags;
	int *removed;
	bool *present;
	char *name;
};

static int op_attach(void *p)
{
	return netfault_attach(((struct nsop *)p)->nf);
}

static int op_detach(void *p)
{
	return netfault_detach(((struct nsop *)p)->nf);
}

static int op_check(void *p)
{
	return netfault_check_device(((struct nsop *)p)->nf);
}

static int op_close(void *p)
{
	netfault_close(((struct nsop *)p)->nf);
	return 0;
}

static int op_clsact(void *p)
{
	struct nsop *o = p;

	return tc_clsact_present(o->ifindex, o->present);
}

static int op_leftover(void *p)
{
	struct nsop *o = p;

	return netfault_cleanup_leftover(o->ifindex, o->flags, o->removed);
}

static int op_ifname(void *p)
{
	struct nsop *o = p;

	return if_indextoname((unsigned int)o->ifindex, o->name) ? 0 : -ENODEV;
}

int netif_ns_clsact_present(const struct netns_ref *ns, int ifindex, bool *present)
{
	struct nsop o = {.ifindex = ifindex, .present = present};

	return netns_call(ns, op_clsact, &o);
}

int netif_ns_cleanup_leftover(const struct netns_ref *ns, int ifindex, unsigned int flags,
			      int *removed)
{
	struct nsop o = {.ifindex = ifindex, .flags = flags, .removed = removed};

	return netns_call(ns, op_leftover, &o);
}

int netif_ns_ifname(const struct netns_ref *ns, int ifindex, char name[IF_NAMESIZE])
{
	struct nsop o = {.ifindex = ifindex, .name = name};

	return netns_call(ns, op_ifname, &o);
}

static int nf_call(const struct netns_ref *ns, int (*fn)(void *), struct netfault *nf)
{
	struct nsop o = {.nf = nf};

	return netns_call(ns, fn, &o);
}

int netif_lookup(const char *name, int *ifindex, char *err, size_t size)
{
	unsigned int idx = name ? if_nametoindex(name) : 0;

	if (!idx) {
		snprintf(err, size, "target.interface: no interface '%s' on this host",
			 name ? name : "");
		return -ENODEV;
	}
	*ifindex = (int)idx;
	return 0;
}

static void netif_free(struct netif *nif)
{
	for (struct netif **p = &netif_registry; *p; p = &(*p)->next) {
		if (*p == nif) {
			*p = nif->next;
			break;
		}
	}
	nf_call(&nif->ns, op_close, nif->nf);
	netns_ref_close(&nif->ns);
	free(nif->ex);
	free(nif);
}

/*
 * Forget the detached instances whose device is gone (or is another device now): a new
 * instance is about to be loaded, and theirs would never be attached again.
 */
static void netif_sweep(void)
{
	struct netif *n, *next;

	for (n = netif_registry; n; n = next) {
		next = n->next;
		if (n->users)
			continue;
		if (nf_call(&n->ns, op_check, n->nf)) {
			log_info("netif %s (ifindex %d): gone; its program unloaded", n->name,
				 n->ifindex);
			netif_free(n);
		}
	}
}

/*
 * Attach again an interface's instance kept loaded since its last fault went (users == 0):
 * the program is verified once per interface, not once per fault. -ESTALE (and the instance
 * freed) when the device at its index is not the one it was loaded for: the caller loads a
 * new one.
 */
static int netif_reattach(struct netif *nif, char *err, size_t size)
{
	int ret = nf_call(&nif->ns, op_check, nif->nf);

	if (ret == -ENODEV || ret == -ESTALE) {
		log_info("netif %s (ifindex %d): another device now; loading the program again",
			 nif->name, nif->ifindex);
		netif_free(nif);
		return -ESTALE;
	}
	if (!ret)
		ret = nf_call(&nif->ns, op_attach, nif->nf);
	if (ret) {
		snprintf(err, size, "%s: attaching the tc filters: %s%s", nif->name, strerror(-ret),
			 ret == -EEXIST ? " (another filter holds priority 1 handle 0xfa17)" : "");
		return ret;
	}
	log_info("netif %s (ifindex %d): attached again (program already loaded)", nif->name,
		 nif->ifindex);
	return 0;
}

/* An interface's instance being set up (nif_setup(), in its namespace), and why it failed. */
struct nif_setup {
	struct netif *nif;
	struct netfault *share; /* an instance to share (netfault_open_shared()), or NULL */
	char err[FAULT_ERR_SIZE];
};

/*
 * In the interface's namespace: load its instance, hold the exemptions every interface gets,
 * attach. The agent's own SSH session is exempted only in the agent's namespace: it cannot
 * pass through another one (a namespace the agent reaches over a veth sees it as routed
 * traffic, which the agent's own exemption on the host side already covers). Touches only
 * its own nif (and reads the installed policy), so several run side by side
 * (netns_call_many()).
 */
static int nif_setup(void *p)
{
	struct nif_setup *s = p;
	struct netif *nif = s->nif;
	const char *ssh = netns_ref_foreign(&nif->ns) ? NULL : getenv("SSH_CONNECTION");
	int ret = netfault_open_shared(nif->ifindex, s->share, &nif->nf);

	if (ret) {
		snprintf(s->err, sizeof(s->err), "%s: loading the network-fault program: %s%s",
			 nif->name, strerror(-ret),
			 ret == -EOPNOTSUPP ? " (link type not supported: Ethernet, loopback "
					      "and IP tunnels are)"
					    : "");
		return ret;
	}
	/* Exemptions before the filters exist: no packet ever sees the rules without them. */
	if (ssh && !netfault_exempt_parse_ssh(ssh, &nif->agent_ex)) {
		ret = netif_exempt_hold(nif, &nif->agent_ex);
		if (ret)
			goto fail;
		nif->agent_ssh = true;
	}
	ret = netif_exempt_hold_policy(nif);
	if (ret)
		goto fail;
	ret = netfault_attach(nif->nf);
	if (ret) {
		snprintf(s->err, sizeof(s->err), "%s: attaching the tc filters: %s%s", nif->name,
			 strerror(-ret),
			 ret == -EEXIST ? " (another filter holds priority 1 handle 0xfa17)" : "");
		goto fail;
	}
	return 0;
fail:
	if (!s->err[0])
		snprintf(s->err, sizeof(s->err), "%s: setting up exemptions: %s", nif->name,
			 strerror(-ret));
	netfault_close(nif->nf);
	nif->nf = NULL;
	return ret;
}

/* A new registry entry for ifindex in ns, not yet set up nor registered; NULL without memory. */
static struct netif *nif_new(const struct netns_ref *ns, int ifindex, const char *name)
{
	struct netif *nif = calloc(1, sizeof(*nif));

	if (!nif)
		return NULL;
	if (netns_ref_dup(ns, &nif->ns)) {
		free(nif);
		return NULL;
	}
	nif->ifindex = ifindex;
	snprintf(nif->name, sizeof(nif->name), "%s", name);
	return nif;
}

/* Free an entry that is not registered: its instance, if set up, detached and closed first. */
static void nif_discard(struct netif *nif)
{
	if (nif->nf) {
		nf_call(&nif->ns, op_detach, nif->nf);
		nf_call(&nif->ns, op_close, nif->nf);
	}
	netns_ref_close(&nif->ns);
	free(nif->ex);
	free(nif);
}

static void nif_register(struct netif *nif)
{
	nif->next = netif_registry;
	netif_registry = nif;
	log_info("netif %s (ifindex %d%s%s): attached%s", nif->name, nif->ifindex,
		 netns_ref_foreign(&nif->ns) ? ", " : "",
		 netns_ref_foreign(&nif->ns) ? nif->ns.desc : "",
		 nif->agent_ssh ? "; the agent's SSH session is exempt" : "");
}

/* Open and attach an interface's instance (nif_setup() in its namespace), and register it. */
static int netif_open(const struct netns_ref *ns, int ifindex, const char *name, struct netif **out,
		      char *err, size_t size)
{
	struct nif_setup s = {0};
	int ret;

	netif_sweep();
	s.nif = nif_new(ns, ifindex, name);
	if (!s.nif)
		return -ENOMEM;
	ret = netns_call(ns, nif_setup, &s);
	if (ret) {
		snprintf(err, size, "%s", s.err[0] ? s.err : strerror(-ret));
		nif_discard(s.nif);
		return ret;
	}
	nif_register(s.nif);
	*out = s.nif;
	return 0;
}

static int netif_release(struct netif *nif, char *err, size_t size)
{
	int ret;

	if (--nif->users > 0)
		return 0;
	ret = nf_call(&nif->ns, op_detach, nif->nf);
	if (ret) {
		/* Kept, attached, for a later revert to retry. */
		nif->users++;
		snprintf(err, size, "%s: detaching the tc filters: %s", nif->name, strerror(-ret));
		return ret;
	}
	if (netns_ref_foreign(&nif->ns)) {
		/*
		 * Not kept in another namespace: our reference (its fd) would keep that
		 * namespace alive after its container or last process is gone.
		 */
		log_info("netif %s (ifindex %d, %s): detached and unloaded", nif->name,
			 nif->ifindex, nif->ns.desc);
		netif_free(nif);
		return 0;
	}
	/*
	 * Kept loaded, detached: the next fault on this interface attaches the same program
	 * instead of loading and verifying it again. Nothing of it acts on packets meanwhile,
	 * and it goes with the agent (its file descriptors are its only references).
	 */
	nif->clsact_created = false;
	log_info("netif %s (ifindex %d): detached (program kept loaded)", nif->name, nif->ifindex);
	return 0;
}

int netif_probe(const struct agent *a, char *why, size_t size)
{
	const struct probe_result *r = &a->probe.r[PROBE_CLSACT_BPF];

	if (a->probe_err) {
		snprintf(why, size, "the mechanism probe could not run: %s",
			 strerror(-a->probe_err));
		return -EOPNOTSUPP;
	}
	if (!r->available) {
		snprintf(why, size, "needs clsact and a direct-action cls_bpf filter: %s",
			 r->reason);
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * Whether attaching each of the n members creates its interface's clsact (what crash cleanup
 * then deletes): known for an interface a fault holds already, else asked in each namespace,
 * all at once.
 */
static int members_created(struct netif_fault *nf, size_t n, bool *created, char *err, size_t size)
{
	struct netns_job *jobs = calloc(n, sizeof(*jobs));
	struct nsop *ops = calloc(n, sizeof(*ops));
	bool *present = calloc(n, sizeof(*present));
	struct netif_fault *m;
	size_t i, k = 0;
	int ret = 0;

	if (!jobs || !ops || !present) {
		ret = -ENOMEM;
		goto out;
	}
	for (m = nf, i = 0; m; m = m->next, i++) {
		struct netif *nif = netif_find(&m->ns, m->ifindex);

		if (nif && nif->users) {
			created[i] = nif->clsact_created;
			continue;
		}
		ops[i] = (struct nsop){.ifindex = m->ifindex, .present = &present[i]};
		jobs[k++] = (struct netns_job){.ns = &m->ns, .fn = op_clsact, .arg = &ops[i]};
		created[i] = true; /* set from present[i] below */
	}
	netns_call_many(jobs, k);
	for (m = nf, i = 0, k = 0; m; m = m->next, i++) {
		if (!ops[i].present)
			continue; /* known */
		if (jobs[k].ret && !ret) {
			ret = jobs[k].ret;
			snprintf(err, size, "%s%s%s: listing its qdiscs: %s",
				 netns_ref_foreign(&m->ns) ? m->ns.desc : "",
				 netns_ref_foreign(&m->ns) ? ": " : "", m->ifname, strerror(-ret));
		}
		created[i] = !present[i];
		k++;
	}
out:
	free(jobs);
	free(ops);
	free(present);
	return ret;
}

/*
 * A member's record in the journal, what crash cleanup removes: {"interface", "ifindex",
 * "clsact_created"[, "netns"]}, taken before the interface changes. 0 or -ENOMEM.
 */
static int member_record(struct netif_fault *nf, bool created, json_t **out, char *err, size_t size)
{
	json_t *rec = json_pack("{s:s, s:i, s:b}", "interface", nf->ifname, "ifindex", nf->ifindex,
				"clsact_created", created);

	if (rec && netns_ref_foreign(&nf->ns)) {
		/* How crash cleanup finds the namespace again (netns_ref_reopen()). */
		json_t *ns = netns_ref_json(&nf->ns);

		if (!ns || json_object_set_new(rec, "netns", ns)) {
			json_decref(rec);
			rec = NULL;
		}
	}
	if (!rec) {
		snprintf(err, size, "out of memory");
		return -ENOMEM;
	}
	*out = rec;
	return 0;
}

/* The member holds its (attached) interface, and the requester's SSH exemption on it. */
static int hold_member(struct netif_fault *nf, struct netif *nif, char *err, size_t size)
{
	int ret;

	nif->users++;
	nf->nif = nif;
	if (nf->peer_ssh) {
		ret = netif_exempt_hold(nif, &nf->peer_ex);
		if (ret) {
			nf->peer_ssh = false;
			snprintf(err, size, "%s: exempting the requester's SSH session: %s",
				 nf->ifname, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

struct unshare_op {
	struct netfault *nf;
	struct netfault_exempt *ex;
	size_t n_ex;
};

static int op_unshare(void *p)
{
	struct unshare_op *o = p;

	return netfault_unshare(o->nf, o->ex, o->n_ex);
}

/*
 * Before the members of head add their rules to nif's program: when that program is shared
 * with interfaces outside this fault (a fault on several containers loaded it once for all of
 * them), nif gets one of its own first, with the rules it has, so that the new rules act on
 * nif alone. A fault on every interface of the shared program adds its rules to it once.
 */
static int nif_diverge(struct netif *nif, const struct netif_fault *head, char *err, size_t size)
{
	struct unshare_op o = {.nf = nif->nf};
	int shares = netfault_shares(nif->nf), covered = 0, ret;

	if (shares <= 1)
		return 0;
	for (const struct netif_fault *m = head; m; m = m->next) {
		const struct netif *x = netif_find(&m->ns, m->ifindex);

		if (x && netfault_same_program(x->nf, nif->nf))
			covered++;
	}
	if (covered >= shares)
		return 0;
	o.ex = calloc(nif->n_ex ? nif->n_ex : 1, sizeof(*o.ex));
	if (!o.ex)
		return -ENOMEM;
	for (size_t i = 0; i < nif->n_ex; i++)
		o.ex[o.n_ex++] = nif->ex[i].ex;
	ret = netns_call(&nif->ns, op_unshare, &o);
	free(o.ex);
	if (ret)
		snprintf(err, size, "%s: loading a program of its own (its rules diverge from those "
			 "of the interfaces it shares one with): %s",
			 nif->name, strerror(-ret));
	return ret;
}

/* Hook one member on its interface (its record journaled already); head: the fault's first. */
static int attach_member(struct netif_fault *nf, const struct netif_fault *head, bool created,
			 char *err, size_t size)
{
	struct netif *nif = netif_find(&nf->ns, nf->ifindex);
	int ret;

	if (nif && nif->users) {
		ret = nif_diverge(nif, head, err, size);
		if (ret)
			return ret;
	}

	if (nif && !nif->users) {
		ret = netif_reattach(nif, err, size);
		if (ret == -ESTALE)
			nif = NULL; /* freed: load anew below */
		else if (ret)
			return ret;
		else
			nif->clsact_created = created;
	}
	if (!nif) {
		ret = netif_open(&nf->ns, nf->ifindex, nf->ifname, &nif, err, size);
		if (ret)
			return ret;
		nif->clsact_created = created;
	}
	return hold_member(nf, nif, err, size);
}

/* "DESC: " before err when the member is in another namespace and err does not say so. */
void netif_member_err(const struct netif_fault *m, char *err, size_t size)
{
	char why[FAULT_ERR_SIZE];

	if (!netns_ref_foreign(&m->ns) || !strncmp(err, m->ns.desc, strlen(m->ns.desc)))
		return;
	snprintf(why, sizeof(why), "%s", err);
	snprintf(err, size, "%s: %s", m->ns.desc, why);
}

/*
 * Run the k set-up jobs of the new instances (s: the n members' set-ups, NULL nif where the
 * member's interface has one already). The first job in another namespace loads the program;
 * every other one in another namespace attaches that same program (netfault_open_shared()):
 * verifying it is what loading costs, tens of ms each, which 50 containers' namespaces paid
 * 50 times on two CPUs. The agent's own namespace loads its own (its exemptions differ: the
 * SSH sessions). FAULTLINED_PROGRAM_PER_NAMESPACE=1 loads one per namespace (the reference of
 * bench/containers.sh).
 */
static void setup_shared(struct nif_setup *s, size_t n, struct netns_job *jobs, size_t k)
{
	const char *env = getenv("FAULTLINED_PROGRAM_PER_NAMESPACE");
	struct nif_setup *lead = NULL;
	size_t li = 0;

	if (!(env && !strcmp(env, "1"))) {
		for (li = 0; li < k; li++) {
			if (netns_ref_foreign(jobs[li].ns)) {
				lead = jobs[li].arg;
				break;
			}
		}
	}
	if (lead) {
		struct netns_job tmp;

		netns_call_many(&jobs[li], 1);
		for (size_t i = 0; i < n; i++)
			if (s[i].nif && &s[i] != lead && netns_ref_foreign(&s[i].nif->ns) &&
			    !jobs[li].ret)
				s[i].share = lead->nif->nf;
		/* The rest, the leader's job first out of the way (its ret kept). */
		tmp = jobs[0];
		jobs[0] = jobs[li];
		jobs[li] = tmp;
		if (jobs[0].ret) {
			for (size_t j = 1; j < k; j++)
				jobs[j].ret = -ECANCELED;
		} else {
			netns_call_many(&jobs[1], k - 1);
		}
		tmp = jobs[0];
		jobs[0] = jobs[li];
		jobs[li] = tmp;
		return;
	}
	netns_call_many(jobs, k);
}

/*
 * Attach the n members: those whose interface no fault holds yet get a new instance, set up
 * in every namespace at once (setup_shared(): one program load for all the other namespaces,
 * then a few netlink requests in each, side by side, which one after the other would hold the
 * event loop for seconds with dozens of containers); the others are held as for one. A failure
 * leaves the members attached so far held, for the caller's unwind; the instances that failed
 * are freed.
 */
static int attach_members(struct netif_fault *nf, size_t n, const bool *created, char *err,
			  size_t size)
{
	struct nif_setup *s = calloc(n, sizeof(*s));
	struct netns_job *jobs = calloc(n, sizeof(*jobs));
	struct netif_fault *m;
	bool skipped;
	size_t i, k = 0;
	int ret = 0;

	if (!s || !jobs) {
		free(s);
		free(jobs);
		return -ENOMEM;
	}
	netif_sweep();
	for (m = nf, i = 0; m && !ret; m = m->next, i++) {
		if (netif_find(&m->ns, m->ifindex)) {
			ret = attach_member(m, nf, created[i], err, size);
			if (ret)
				netif_member_err(m, err, size);
			continue;
		}
		s[i].nif = nif_new(&m->ns, m->ifindex, m->ifname);
		if (!s[i].nif) {
			ret = -ENOMEM;
			break;
		}
		jobs[k++] = (struct netns_job){.ns = &s[i].nif->ns, .fn = nif_setup, .arg = &s[i]};
	}
	skipped = ret != 0;
	if (!skipped)
		setup_shared(s, n, jobs, k);
	/*
	 * Every instance that was set up is registered and held, also after another member
	 * failed: the caller's unwind then detaches it with the others.
	 */
	for (m = nf, i = 0, k = 0; m; m = m->next, i++) {
		int r;

		if (!s[i].nif)
			continue;
		r = skipped ? -ECANCELED : jobs[k].ret;
		k++;
		if (r) {
			if (!ret) {
				ret = r;
				snprintf(err, size, "%s", s[i].err[0] ? s[i].err : strerror(-r));
				netif_member_err(m, err, size);
			}
			nif_discard(s[i].nif);
			continue;
		}
		nif_register(s[i].nif);
		s[i].nif->clsact_created = created[i];
		r = hold_member(m, s[i].nif, ret ? s[i].err : err, ret ? sizeof(s[i].err) : size);
		if (r && !ret)
			ret = r;
	}
	free(s);
	free(jobs);
	return ret;
}

int netif_fault_attach(struct fault *f, char *err, size_t size)
{
	struct netif_fault *nf = f->priv, *m;
	json_t *more = NULL;
	bool *created;
	size_t i, n = 0;
	int ret;

	if (!nf)
		return -EINVAL;
	if (nf->nif)
		return 0;
	for (m = nf; m; m = m->next)
		n++;
	created = calloc(n, sizeof(*created));
	if (!created)
		return -ENOMEM;
	ret = members_created(nf, n, created, err, size);
	if (ret)
		goto out;
	/*
	 * On record before any interface changes, every member's: what to remove after a
	 * crash. The first member's record is the object itself, the others' its "more_netns".
	 */
	json_decref(f->undo);
	f->undo = NULL;
	ret = member_record(nf, created[0], &f->undo, err, size);
	if (!ret && nf->next) {
		more = json_array();
		if (!more || json_object_set_new(f->undo, "more_netns", more))
			ret = -ENOMEM;
	}
	for (m = nf->next, i = 1; m && !ret; m = m->next, i++) {
		json_t *rec = NULL;

		ret = member_record(m, created[i], &rec, err, size);
		if (!ret && json_array_append_new(more, rec))
			ret = -ENOMEM;
	}
	if (ret)
		goto out;
	ret = fault_journal(f);
	if (ret) {
		snprintf(err, size, "writing the journal: %s", strerror(-ret));
		goto out;
	}
	/* All or nothing: on a failure the caller's unwind detaches the members attached. */
	if (n == 1)
		ret = attach_member(nf, nf, created[0], err, size);
	else
		ret = attach_members(nf, n, created, err, size);
out:
	free(created);
	return ret;
}

/* Release one member's interface (its rules out already). Idempotent. */
int netif_detach_member(struct fault *f, struct netif_fault *nf, char *err, size_t size)
{
	struct netif *nif = nf->nif;
	int ret;

	if (!nif)
		return 0;
	if (nf->peer_ssh) {
		netif_exempt_drop(nif, &nf->peer_ex);
		nf->peer_ssh = false;
	}
	for (int h = 0; h < NETFAULT_HOOK__COUNT; h++)
		if (nif->shaper[h] == f)
			nif->shaper[h] = NULL;
	nf->nif = NULL;
	ret = netif_release(nif, err, size);
	if (ret)
		nf->nif = nif; /* still holding it: a retry releases it */
	return ret;
}

static bool attached(const struct netif_fault *nf)
{
	for (; nf; nf = nf->next)
		if (nf->nif)
			return true;
	return false;
}

int netif_fault_detach(struct fault *f, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	int ret;

	if (!attached(nf))
		return 0;
	ret = netif_fault_remove_rules(f, err, size);
	if (!ret)
		ret = netif_fault_unsteer(f, err, size);
	if (ret)
		return ret;
	/* Every member is released even when one fails; the first error is returned. */
	for (struct netif_fault *m = nf; m; m = m->next) {
		char e[FAULT_ERR_SIZE] = "";
		int r = netif_detach_member(f, m, e, sizeof(e));

		if (r && !ret) {
			ret = r;
			snprintf(err, size, "%s%s%s", netns_ref_foreign(&m->ns) ? m->ns.desc : "",
				 netns_ref_foreign(&m->ns) ? ": " : "", e);
		}
	}
	return ret;
}

int netif_fault_revert(struct agent *a, struct fault *f, char *err, size_t size)
{
	(void)a;
	return netif_fault_detach(f, err, size);
}

void netif_fault_unwind(struct fault *f)
{
	char err[FAULT_ERR_SIZE] = "";

	if (netif_fault_detach(f, err, sizeof(err)))
		log_err("fault %s: undoing a partial apply: %s", f->id, err);
}

int netif_fault_apply_action(struct fault *f, const struct netfault_rule_spec *act, char *err,
			     size_t size)
{
	int ret = netif_fault_attach(f, err, size);

	if (!ret)
		ret = netif_fault_add_rules(f, netif_dirs(f), act, err, size);
	if (ret)
		netif_fault_unwind(f);
	return ret;
}

unsigned int netif_dirs(const struct fault *f)
{
	switch (f->spec->target.net.direction) {
	case NET_DIR_INGRESS:
		return NETFAULT_DIR_INGRESS;
	case NET_DIR_BOTH:
		return NETFAULT_DIR_BOTH;
	default:
		return NETFAULT_DIR_EGRESS;
	}
}

void netif_fault_free(struct fault *f)
{
	struct netif_fault *nf = f->priv;

	if (attached(nf)) {
		/* A fault freed while attached (agent shutdown after a failed revert). */
		char err[128];

		pthread_mutex_lock(&netif_lane);
		netif_fault_detach(f, err, sizeof(err));
		pthread_mutex_unlock(&netif_lane);
	}
	netif_members_free(nf);
	f->priv = NULL;
}

struct fault *netif_shaper_claim(struct fault *f, unsigned int dirs)
{
	struct netif_fault *nf = f->priv;

	if (!nf)
		return NULL;
	/*
	 * The fault list, not the registry: a worker thread may be changing the registry, and
	 * a fault still being applied holds no shaper there yet. A network fault's namespace
	 * and ifindex are set at its validate and never change while it lives.
	 */
	for (struct fault *o = f->agent->faults; o; o = o->next) {
		const struct netif_fault *onf = o->priv;

		if (o == f || fault_state_final(o->state) ||
		    o->type->free_priv != netif_fault_free || !onf || !(onf->shaper_dirs & dirs))
			continue;
		if (onf->ifindex == nf->ifindex && netns_ref_same(&onf->ns, &nf->ns))
			return o;
	}
	nf->shaper_dirs = dirs;
	return NULL;
}

void netif_shaper_set(struct fault *f, unsigned int dirs)
{
	struct netif_fault *nf = f->priv;

	if (!nf || !nf->nif)
		return;
	for (int h = 0; h < NETFAULT_HOOK__COUNT; h++) {
		if (dirs & (1u << h))
			nf->nif->shaper[h] = f;
		else if (nf->nif->shaper[h] == f)
			nf->nif->shaper[h] = NULL;
	}
}
