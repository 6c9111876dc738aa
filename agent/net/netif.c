/*
 * Network faults on interfaces (see netif.h): the registry of faulted interfaces, their
 * exemptions, and what the rule-based fault types share.
 *
 * An interface is attached by its first fault and detached when its last one goes. Its
 * exemptions are reference-counted, because the same flow can be protected for several
 * reasons (the agent's own SSH session, a requester's, the policy) and must stay protected
 * until the last of them goes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "core.h"
#include "exp.h"
#include "fault.h"
#include "log.h"
#include "netif.h"
#include "policy.h"
#include "tc.h"

/* How far netif_ssh_connection() walks up from the requester. */
#define SSH_WALK_MAX 64
/* Exemption entries the policy may use per interface (the map holds NETFAULT_MAX_EXEMPT). */
#define POLICY_EXEMPT_MAX (NETFAULT_MAX_EXEMPT / 2)

struct exempt_ref {
	struct netfault_exempt ex;
	int refs;
};

struct netif {
	int ifindex;
	char name[IF_NAMESIZE];
	struct netfault *nf;
	bool clsact_created;
	int users; /* faults holding it; 0: detached, its program kept loaded for the next one */
	bool agent_ssh; /* the agent's own $SSH_CONNECTION is held */
	struct netfault_exempt agent_ex;
	struct exempt_ref *ex;
	size_t n_ex;
	struct fault *shaper[NETFAULT_HOOK__COUNT];
	struct netif *next;
};

static struct netif *netifs;

/* The policy's exemptions, held on every attached interface, and the policy they are from. */
static struct netfault_exempt *policy_ex;
static size_t n_policy_ex;
static const struct policy *policy_synced;

/* ---- exemptions -------------------------------------------------------------------------- */

/* Host bits past the prefix cleared, so that equal flows compare equal. */
static void exempt_norm(struct netfault_exempt *ex)
{
	unsigned int plen = ex->remote.prefixlen;

	for (unsigned int i = 0; i < sizeof(ex->remote.addr); i++) {
		unsigned int keep = plen >= 8 * (i + 1) ? 8 : plen > 8 * i ? plen - 8 * i : 0;

		ex->remote.addr[i] &= (uint8_t)(0xff00 >> keep);
	}
}

static bool exempt_eq(const struct netfault_exempt *a, const struct netfault_exempt *b)
{
	return a->proto == b->proto && a->local_port == b->local_port &&
	       a->remote_port == b->remote_port && a->remote.family == b->remote.family &&
	       a->remote.prefixlen == b->remote.prefixlen &&
	       !memcmp(a->remote.addr, b->remote.addr, sizeof(a->remote.addr));
}

static void exempt_fmt(const struct netfault_exempt *ex, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN] = "any";
	const char *proto = ex->proto == IPPROTO_TCP   ? "tcp"
			    : ex->proto == IPPROTO_UDP ? "udp"
			    : ex->proto		       ? "ip"
						       : "any";

	if (ex->remote.family != AF_UNSPEC)
		inet_ntop(ex->remote.family, ex->remote.addr, addr, sizeof(addr));
	snprintf(buf, size, "%s local port %u, peer %s/%u port %u", proto, ex->local_port, addr,
		 ex->remote.family == AF_UNSPEC ? 0 : ex->remote.prefixlen, ex->remote_port);
}

static int exempt_hold(struct netif *nif, const struct netfault_exempt *in)
{
	struct netfault_exempt ex = *in;
	struct exempt_ref *tmp;
	int err;

	exempt_norm(&ex);
	for (size_t i = 0; i < nif->n_ex; i++) {
		if (exempt_eq(&nif->ex[i].ex, &ex)) {
			nif->ex[i].refs++;
			return 0;
		}
	}
	tmp = realloc(nif->ex, (nif->n_ex + 1) * sizeof(*nif->ex));
	if (!tmp)
		return -ENOMEM;
	nif->ex = tmp;
	err = netfault_exempt_add(nif->nf, &ex);
	if (err && err != -EEXIST)
		return err;
	nif->ex[nif->n_ex].ex = ex;
	nif->ex[nif->n_ex].refs = 1;
	nif->n_ex++;
	return 0;
}

static void exempt_drop(struct netif *nif, const struct netfault_exempt *in)
{
	struct netfault_exempt ex = *in;

	exempt_norm(&ex);
	for (size_t i = 0; i < nif->n_ex; i++) {
		if (!exempt_eq(&nif->ex[i].ex, &ex))
			continue;
		if (--nif->ex[i].refs > 0)
			return;
		if (netfault_exempt_remove(nif->nf, &ex))
			log_warn("netif %s: removing an exemption failed", nif->name);
		nif->ex[i] = nif->ex[--nif->n_ex];
		return;
	}
}

/* ---- the requester's SSH session --------------------------------------------------------- */

/* comm, parent and start time (clock ticks after boot) of a process. */
static int proc_stat(pid_t pid, char *comm, size_t size, pid_t *ppid, unsigned long long *starttime)
{
	char path[64], buf[512], *lp, *rp;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	lp = strchr(buf, '(');
	rp = strrchr(buf, ')');
	if (!lp || !rp || rp < lp)
		return -EIO;
	snprintf(comm, size, "%.*s", (int)(rp - lp - 1), lp + 1);
	/* Fields 3 (state), 4 (ppid) and 22 (starttime) of proc(5). */
	if (sscanf(rp + 1,
		   " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d "
		   "%llu",
		   ppid, starttime) != 2)
		return -EIO;
	return 0;
}

/* $key from a process's environment; -ENOENT when absent. */
static int proc_env(pid_t pid, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key), len = 0, cap = 65536;
	char path[64], *buf = malloc(cap + 1);
	int fd, err = -ENOENT;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* Bounded: an environment is at most a few hundred KiB; we read the first 64 KiB. */
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	if (n < 0 && len == 0)
		err = -errno;
	close(fd);
	buf[len] = '\0';
	for (size_t off = 0; off < len; off += strlen(buf + off) + 1) {
		if (!strncmp(buf + off, key, klen) && buf[off + klen] == '=') {
			snprintf(out, size, "%s", buf + off + klen + 1);
			err = 0;
			break;
		}
	}
out:
	free(buf);
	return err;
}

/*
 * The last requester's answer: a controller applies many faults over one connection, and
 * the session a process runs in does not change while it lives (a reparented process keeps
 * its environment and its connection), so the walk up its ancestors is done once per
 * process (pid and start time), not once per fault.
 */
static struct {
	pid_t pid;
	unsigned long long starttime;
	int err; /* 0 or -ENOENT: the only answers kept */
	pid_t found;
	char conn[256];
} ssh_last;

int netif_ssh_connection(pid_t pid, char *conn, size_t size, pid_t *found)
{
	unsigned long long start = 0, st;
	pid_t first = pid;
	int last_err = -ENOENT;

	for (int depth = 0; depth < SSH_WALK_MAX && pid > 1; depth++) {
		char comm[32];
		pid_t ppid;
		int err;

		if (proc_stat(pid, comm, sizeof(comm), &ppid, &st))
			break;
		if (!depth) {
			start = st;
			if (ssh_last.pid == first && ssh_last.starttime == start) {
				if (ssh_last.err)
					return ssh_last.err;
				snprintf(conn, size, "%s", ssh_last.conn);
				*found = ssh_last.found;
				return 0;
			}
		}
		/* sshd itself has no $SSH_CONNECTION; its children (the session) have. */
		if (!strncmp(comm, "sshd", 4))
			break;
		err = proc_env(pid, "SSH_CONNECTION", conn, size);
		if (!err) {
			*found = pid;
			if (strlen(conn) < sizeof(ssh_last.conn)) {
				ssh_last.pid = first;
				ssh_last.starttime = start;
				ssh_last.err = 0;
				ssh_last.found = pid;
				snprintf(ssh_last.conn, sizeof(ssh_last.conn), "%s", conn);
			}
			return 0;
		}
		if (err != -ENOENT)
			last_err = err;
		pid = ppid;
	}
	if (last_err == -ENOENT && start) {
		ssh_last.pid = first;
		ssh_last.starttime = start;
		ssh_last.err = -ENOENT;
	}
	return last_err;
}

/* ---- the registry ------------------------------------------------------------------------ */

static struct netif *netif_find(int ifindex)
{
	for (struct netif *n = netifs; n; n = n->next)
		if (n->ifindex == ifindex)
			return n;
	return NULL;
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
	for (struct netif **p = &netifs; *p; p = &(*p)->next) {
		if (*p == nif) {
			*p = nif->next;
			break;
		}
	}
	netfault_close(nif->nf);
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

	for (n = netifs; n; n = next) {
		next = n->next;
		if (n->users)
			continue;
		if (netfault_check_device(n->nf)) {
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
	int ret = netfault_check_device(nif->nf);

	if (ret == -ENODEV || ret == -ESTALE) {
		log_info("netif %s (ifindex %d): another device now; loading the program again",
			 nif->name, nif->ifindex);
		netif_free(nif);
		return -ESTALE;
	}
	if (!ret)
		ret = netfault_attach(nif->nf);
	if (ret) {
		snprintf(err, size, "%s: attaching the tc filters: %s%s", nif->name, strerror(-ret),
			 ret == -EEXIST ? " (another filter holds priority 1 handle 0xfa17)" : "");
		return ret;
	}
	log_info("netif %s (ifindex %d): attached again (program already loaded)", nif->name,
		 nif->ifindex);
	return 0;
}

/* Open and attach an interface's instance, with the exemptions every interface gets. */
static int netif_open(int ifindex, const char *name, struct netif **out, char *err, size_t size)
{
	struct netif *nif;
	const char *ssh = getenv("SSH_CONNECTION");
	int ret;

	netif_sweep();
	nif = calloc(1, sizeof(*nif));
	if (!nif)
		return -ENOMEM;
	nif->ifindex = ifindex;
	snprintf(nif->name, sizeof(nif->name), "%s", name);
	ret = netfault_open(ifindex, &nif->nf);
	if (ret) {
		snprintf(err, size, "%s: loading the network-fault program: %s%s", name,
			 strerror(-ret),
			 ret == -EOPNOTSUPP ? " (link type not supported: Ethernet, loopback "
					      "and IP tunnels are)"
					    : "");
		free(nif);
		return ret;
	}
	/* Exemptions before the filters exist: no packet ever sees the rules without them. */
	if (ssh && !netfault_exempt_parse_ssh(ssh, &nif->agent_ex)) {
		ret = exempt_hold(nif, &nif->agent_ex);
		if (ret)
			goto fail;
		nif->agent_ssh = true;
	}
	for (size_t i = 0; i < n_policy_ex; i++) {
		ret = exempt_hold(nif, &policy_ex[i]);
		if (ret)
			goto fail;
	}
	ret = netfault_attach(nif->nf);
	if (ret) {
		snprintf(err, size, "%s: attaching the tc filters: %s%s", name, strerror(-ret),
			 ret == -EEXIST ? " (another filter holds priority 1 handle 0xfa17)" : "");
		goto fail;
	}
	nif->next = netifs;
	netifs = nif;
	*out = nif;
	log_info("netif %s (ifindex %d): attached%s", name, ifindex,
		 nif->agent_ssh ? "; the agent's SSH session is exempt" : "");
	return 0;
fail:
	if (!err[0])
		snprintf(err, size, "%s: setting up exemptions: %s", name, strerror(-ret));
	netfault_close(nif->nf);
	free(nif->ex);
	free(nif);
	return ret;
}

static int netif_release(struct netif *nif, char *err, size_t size)
{
	int ret;

	if (--nif->users > 0)
		return 0;
	ret = netfault_detach(nif->nf);
	if (ret) {
		/* Kept, attached, for a later revert to retry. */
		nif->users++;
		snprintf(err, size, "%s: detaching the tc filters: %s", nif->name, strerror(-ret));
		return ret;
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

int netif_set_policy(const struct policy *p, char *err, size_t size)
{
	struct netfault_exempt *v = NULL, *old = policy_ex;
	size_t n = 0, need = 0, n_old = n_policy_ex;

	if (p) {
		need = p->n_protected_cidrs;
		for (size_t i = 0; i < p->n_protected_ports; i++)
			need += 4 *
				((size_t)p->protected_ports[i].hi - p->protected_ports[i].lo + 1);
	}
	if (need > POLICY_EXEMPT_MAX) {
		snprintf(err, size,
			 "the policy's protected CIDRs and ports need %zu exemption entries (each "
			 "port takes 4: TCP and UDP, local and peer); an interface has room for %d",
			 need, POLICY_EXEMPT_MAX);
		return -E2BIG;
	}
	if (need && !(v = calloc(need, sizeof(*v))))
		return -ENOMEM;
	for (size_t i = 0; p && i < p->n_protected_cidrs; i++) {
		const struct net_cidr *c = &p->protected_cidrs[i];

		v[n].remote.family = c->family;
		v[n].remote.prefixlen = c->prefix;
		memcpy(v[n].remote.addr, c->addr, sizeof(v[n].remote.addr));
		n++;
	}
	for (size_t i = 0; p && i < p->n_protected_ports; i++) {
		for (unsigned int port = p->protected_ports[i].lo; port <= p->protected_ports[i].hi;
		     port++) {
			static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP};

			for (int k = 0; k < 2; k++) {
				v[n].proto = protos[k];
				v[n++].local_port = (uint16_t)port;
				v[n].proto = protos[k];
				v[n++].remote_port = (uint16_t)port;
			}
		}
	}
	/* New ones held before old ones dropped: a flow in both stays protected throughout. */
	for (struct netif *nif = netifs; nif; nif = nif->next) {
		for (size_t i = 0; i < n; i++) {
			int ret = exempt_hold(nif, &v[i]);

			if (ret) {
				snprintf(err, size, "%s: adding a policy exemption: %s", nif->name,
					 strerror(-ret));
				for (size_t k = 0; k < i; k++)
					exempt_drop(nif, &v[k]);
				for (struct netif *m = netifs; m != nif; m = m->next)
					for (size_t k = 0; k < n; k++)
						exempt_drop(m, &v[k]);
				free(v);
				return ret;
			}
		}
	}
	for (struct netif *nif = netifs; nif; nif = nif->next)
		for (size_t i = 0; i < n_old; i++)
			exempt_drop(nif, &old[i]);
	free(old);
	policy_ex = v;
	n_policy_ex = n;
	policy_synced = p;
	log_info("netif: policy protects %zu CIDR(s) and %zu port range(s) on every faulted "
		 "interface",
		 p ? p->n_protected_cidrs : 0, p ? p->n_protected_ports : 0);
	return 0;
}

/* ---- rule-based faults ------------------------------------------------------------------- */

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

static size_t ranges_or_one(size_t n)
{
	return n ? n : 1;
}

static void nf_free_priv(struct netif_fault *nf)
{
	if (nf && nf->ext_free)
		nf->ext_free(nf->ext);
	free(nf);
}

int netif_fault_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct net_target *t = &f->spec->target.net;
	struct netif_fault *nf;
	char conn[160], why[256];
	pid_t found = 0;
	int ret, ifindex;

	/* The agent's policy, installed before the first interface is attached (and again
	 * when the agent has loaded another one since). */
	if (a->policy != policy_synced) {
		ret = netif_set_policy(a->policy, err, size);
		if (ret)
			return ret;
	}
	ret = netif_lookup(t->interface, &ifindex, err, size);
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
	nf->ifindex = ifindex;
	snprintf(nf->ifname, sizeof(nf->ifname), "%s", t->interface);
	/*
	 * The requester's SSH session, found now while it is connected. A fault object cannot
	 * opt out of this (only an experiment's safety.protect_control_channel can, and the
	 * controller enforces that by not asking), so API faults always protect it.
	 */
	if (f->peer_pid > 0) {
		ret = netif_ssh_connection(f->peer_pid, conn, sizeof(conn), &found);
		if (!ret) {
			if (netfault_exempt_parse_ssh(conn, &nf->peer_ex)) {
				log_warn("fault %s: requester pid %d: cannot parse SSH_CONNECTION "
					 "\"%s\"; its session is not exempt",
					 f->id, (int)found, conn);
			} else {
				nf->peer_ssh = true;
				exempt_fmt(&nf->peer_ex, nf->peer_desc, sizeof(nf->peer_desc));
				log_info("fault %s: the requester's SSH session (pid %d: %s) is "
					 "exempt",
					 f->id, (int)found, conn);
			}
		} else if (ret != -ENOENT) {
			log_warn("fault %s: cannot read the environment of the requester (pid %d) "
				 "or its parents: %s; an SSH session it runs in is not exempt",
				 f->id, (int)f->peer_pid, strerror(-ret));
		}
	}
	f->priv = nf;
	return 0;
}

int netif_fault_attach(struct fault *f, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	struct netif *nif;
	bool clsact = false, created;
	int ret;

	if (!nf)
		return -EINVAL;
	if (nf->nif)
		return 0;
	nif = netif_find(nf->ifindex);
	if (nif && nif->users) {
		created = nif->clsact_created;
	} else {
		ret = tc_clsact_present(nf->ifindex, &clsact);
		if (ret) {
			snprintf(err, size, "%s: listing its qdiscs: %s", nf->ifname,
				 strerror(-ret));
			return ret;
		}
		created = !clsact;
	}
	/* On record before the interface changes: what to remove after a crash. */
	json_decref(f->undo);
	f->undo = json_pack("{s:s, s:i, s:b}", "interface", nf->ifname, "ifindex", nf->ifindex,
			    "clsact_created", created);
	if (!f->undo)
		return -ENOMEM;
	ret = fault_journal(f);
	if (ret) {
		snprintf(err, size, "writing the journal: %s", strerror(-ret));
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
		ret = netif_open(nf->ifindex, nf->ifname, &nif, err, size);
		if (ret)
			return ret;
		nif->clsact_created = created;
	}
	nif->users++;
	nf->nif = nif;
	if (nf->peer_ssh) {
		ret = exempt_hold(nif, &nf->peer_ex);
		if (ret) {
			nf->peer_ssh = false;
			snprintf(err, size, "%s: exempting the requester's SSH session: %s",
				 nf->ifname, strerror(-ret));
			return ret;
		}
	}
	return 0;
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

static const char *dirs_name(unsigned int dirs)
{
	return dirs == NETFAULT_DIR_BOTH     ? "both"
	       : dirs == NETFAULT_DIR_EGRESS ? "egress"
					     : "ingress";
}

int netif_fault_add_rules(struct fault *f, unsigned int dirs, const struct netif_action *act,
			  char *err, size_t size)
{
	const struct net_target *t = &f->spec->target.net;
	struct netif_fault *nf = f->priv;
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
				struct netfault_rule_spec spec = {
					.dirs = dirs,
					.action = act->action,
					.prob = act->prob,
					.ge = act->ge,
					.proto = l4_proto(t->protocol, family),
					.classid = act->classid,
					.delay_ns = act->delay_ns,
					.jitter_ns = act->jitter_ns,
					.corr = act->corr,
					.dist = act->dist,
					/* The kernel lets the rule lapse with its lease. */
					.deadline_ns = f->lease ? f->lease->deadline_ns : 0,
					.remote = cidrs,
					.n_remote = n,
				};
				int slot;

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
	log_info("fault %s: %zu rule(s) on %s %s", f->id, nf->n_slots - n_before, nf->ifname,
		 dirs_name(dirs));
	return 0;
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

int netif_fault_steer(struct fault *f, int ifb_ifindex, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	int ret;

	if (!nf || !nf->nif)
		return -EINVAL;
	ret = netfault_steer_attach(nf->nif->nf, ifb_ifindex);
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
	int ret;

	if (!nf || !nf->nif || !nf->steering)
		return 0;
	ret = netfault_steer_detach(nf->nif->nf);
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
	struct netif_fault *nf = f->priv;

	if (!nf || !nf->nif || !f->lease)
		return;
	for (size_t i = 0; i < nf->n_slots; i++) {
		int e = netfault_rule_deadline(nf->nif->nf, nf->slots[i], f->lease->deadline_ns);

		if (e)
			log_warn("fault %s: %s: moving the deadline of rule %d: %s", f->id,
				 nf->ifname, nf->slots[i], strerror(-e));
	}
}

int netif_fault_remove_rules(struct fault *f, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	int ret = 0;

	if (!nf || !nf->nif)
		return 0;
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

int netif_fault_detach(struct fault *f, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	struct netif *nif;
	int ret;

	if (!nf || !nf->nif)
		return 0;
	ret = netif_fault_remove_rules(f, err, size);
	if (!ret)
		ret = netif_fault_unsteer(f, err, size);
	if (ret)
		return ret;
	nif = nf->nif;
	if (nf->peer_ssh) {
		exempt_drop(nif, &nf->peer_ex);
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

int netif_fault_apply_action(struct fault *f, const struct netif_action *act, char *err,
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
	/* The interface's addresses in the agent's network namespace, as the rules see them. */
	if (!getifaddrs(&ifa)) {
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

json_t *netif_fault_status(const struct fault *f)
{
	const struct netif_fault *nf = f->priv;
	struct netfault_counters sum = {0};
	json_t *rules, *prot, *out;

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
		json_array_append_new(
			rules,
			json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "slot", nf->slots[i],
				  "direction", dirs_name(nf->slot_dirs[i]), "matched",
				  (json_int_t)c.matched, "dropped", (json_int_t)c.dropped,
				  "corrupted", (json_int_t)c.corrupted, "duplicated",
				  (json_int_t)c.duplicated, "exempted", (json_int_t)c.exempted,
				  "delayed", (json_int_t)c.delayed));
	}
	if (nf->nif && nf->nif->agent_ssh) {
		char d[96];

		exempt_fmt(&nf->nif->agent_ex, d, sizeof(d));
		json_array_append_new(
			prot, json_pack("{s:s, s:s}", "why", "the agent's SSH session", "flow", d));
	}
	if (nf->peer_ssh)
		json_array_append_new(prot,
				      json_pack("{s:s, s:s}", "why", "the requester's SSH session",
						"flow", nf->peer_desc));
	if (n_policy_ex)
		json_array_append_new(prot, json_pack("{s:s, s:I}", "why", "policy", "entries",
						      (json_int_t)n_policy_ex));
	out = json_pack("{s:s, s:i, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o}", "interface",
			nf->ifname, "ifindex", nf->ifindex, "rules", rules, "counters", "matched",
			(json_int_t)sum.matched, "dropped", (json_int_t)sum.dropped, "corrupted",
			(json_int_t)sum.corrupted, "duplicated", (json_int_t)sum.duplicated,
			"exempted", (json_int_t)sum.exempted, "delayed", (json_int_t)sum.delayed,
			"protected", prot);
	return out;
}

int netif_fault_cleanup(struct agent *a, const json_t *undo, char *report, size_t size)
{
	const char *name = json_string_value(json_object_get(undo, "interface"));
	int ifindex = (int)json_integer_value(json_object_get(undo, "ifindex"));
	bool created = json_is_true(json_object_get(undo, "clsact_created"));
	bool had_clsact, has_clsact;
	char now[IF_NAMESIZE];
	int ret, removed = 0;

	(void)a;
	if (!name || ifindex <= 0) {
		snprintf(report, size, "nothing had been attached");
		return 0;
	}
	if (!if_indextoname((unsigned int)ifindex, now)) {
		snprintf(report, size, "interface %s (ifindex %d) is gone, and our filters with it",
			 name, ifindex);
		return 0;
	}
	if (strcmp(now, name)) {
		snprintf(report, size,
			 "ifindex %d is now called %s, not %s as recorded: not touched (check it "
			 "by hand, then remove the journal record)",
			 ifindex, now, name);
		return -ESTALE;
	}
	if (tc_clsact_present(ifindex, &had_clsact))
		had_clsact = false;
	ret = netfault_cleanup_leftover(ifindex, created ? NETFAULT_CLEANUP_QDISC : 0, &removed);
	if (ret) {
		snprintf(report, size, "%s: removing our filters: %s", name, strerror(-ret));
		return ret;
	}
	if (tc_clsact_present(ifindex, &has_clsact))
		has_clsact = true;
	snprintf(report, size, "%s: %d filter(s) of ours removed%s", name, removed,
		 had_clsact && !has_clsact ? ", clsact (ours) deleted" : "");
	return 0;
}

int netif_shaper_cleanup(struct agent *a, const json_t *undo, char *report, size_t size)
{
	const json_t *root = json_object_get(undo, "egress_root");
	const json_t *ifb = json_object_get(undo, "ingress_ifb");
	int ifindex = (int)json_integer_value(json_object_get(undo, "ifindex"));
	size_t off;
	int ret;

	ret = netif_fault_cleanup(a, undo, report, size);
	if (ret || ifindex <= 0)
		return ret; /* a renamed interface is not touched at all */
	off = strlen(report);
	if (ifb && off < size) {
		const char *name = json_string_value(json_object_get(ifb, "name"));
		const char *alias = json_string_value(json_object_get(ifb, "alias"));
		bool deleted = false;

		ret = name && alias ? tc_ifb_delete(name, alias, &deleted) : -EINVAL;
		off += snprintf(report + off, size - off, "; IFB device %s: %s", name ? name : "?",
				ret	  ? strerror(-ret)
				: deleted ? "deleted"
					  : "not there");
		if (ret)
			return ret;
	}
	if (root && off < size) {
		char r[256];

		ret = tc_root_restore(ifindex, root, r, sizeof(r));
		snprintf(report + off, size - off, "; %s", r);
		if (ret)
			return ret;
	}
	return 0;
}

int netif_shaped_snapshot(struct fault *f, struct netif_shaped *s, char *err, size_t size)
{
	const struct netif_fault *nf = f->priv;
	char why[256];
	int ret;

	/* Refuse now, before anything changes, a root we could not put back. */
	ret = tc_root_snapshot(nf->ifindex, &s->root, why, sizeof(why));
	if (ret) {
		snprintf(err, size, "target.interface: %s: %s", nf->ifname, why);
		return ret;
	}
	tc_root_describe(s->root, s->replaced, sizeof(s->replaced));
	return 0;
}

int netif_shaped_record_root(struct fault *f, struct netif_shaped *s, char *err, size_t size)
{
	int ret;

	/* The tree we replace is on record before we replace it. */
	json_object_set(f->undo, "egress_root", s->root);
	ret = fault_journal(f);
	if (ret) {
		snprintf(err, size, "writing the journal: %s", strerror(-ret));
		return ret;
	}
	s->root_replaced = true;
	return 0;
}

int netif_shaped_create_ifb(struct fault *f, struct netif_shaped *s, const char *purpose, char *err,
			    size_t size)
{
	const struct netif_fault *nf = f->priv;
	int ret;

	snprintf(s->ifb, sizeof(s->ifb), "flifb%d", nf->ifindex);
	snprintf(s->ifb_alias, sizeof(s->ifb_alias), "faultline ingress %s of %s", purpose,
		 nf->ifname);
	json_object_set_new(f->undo, "ingress_ifb",
			    json_pack("{s:s, s:s}", "name", s->ifb, "alias", s->ifb_alias));
	ret = fault_journal(f);
	if (ret) {
		snprintf(err, size, "writing the journal: %s", strerror(-ret));
		return ret;
	}
	ret = tc_ifb_create(s->ifb, s->ifb_alias, &s->ifb_ifindex, err, size);
	if (ret == -EEXIST)
		snprintf(err, size,
			 "device %s exists already (a leftover? run faultlined --cleanup)", s->ifb);
	if (ret)
		return ret;
	s->ifb_created = true;
	return 0;
}

int netif_shaped_undo(struct fault *f, struct netif_shaped *s, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	char report[320];
	int ret;

	/* Rules and steering off first: nothing is stamped or steered into a qdisc going away. */
	ret = netif_fault_remove_rules(f, err, size);
	if (!ret)
		ret = netif_fault_unsteer(f, err, size);
	if (ret)
		return ret;
	if (s && s->ifb_created) {
		bool deleted;

		ret = tc_ifb_delete(s->ifb, s->ifb_alias, &deleted);
		if (ret) {
			snprintf(err, size, "deleting IFB device %s: %s", s->ifb, strerror(-ret));
			return ret;
		}
		s->ifb_created = false;
		log_info("fault %s: IFB device %s deleted", f->id, s->ifb);
	}
	if (s && s->root_replaced) {
		ret = tc_root_restore(nf->ifindex, s->root, report, sizeof(report));
		if (ret) {
			/* The report may be longer than the caller's buffer: what does not
			 * fit there goes to the log whole, so nothing of it is lost. */
			if (snprintf(err, size, "%s: %s", nf->ifname, report) >= (int)size)
				log_err("fault %s: %s: %s", f->id, nf->ifname, report);
			return ret;
		}
		s->root_replaced = false;
		log_info("fault %s: %s: %s", f->id, nf->ifname, report);
	}
	return netif_fault_detach(f, err, size);
}

json_t *netif_shaped_stats(int ifindex, bool root, bool overlimits)
{
	struct tc_shaper_stats st;
	json_t *o;

	if (root ? tc_root_stats(ifindex, &st) : tc_shaper_stats(ifindex, &st))
		return json_null();
	o = json_pack("{s:I, s:I, s:I}", "bytes", (json_int_t)st.bytes, "packets",
		      (json_int_t)st.packets, "drops", (json_int_t)st.drops);
	if (o && overlimits)
		json_object_set_new(o, "overlimits", json_integer((json_int_t)st.overlimits));
	if (o)
		json_object_set_new(o, "backlog_bytes", json_integer((json_int_t)st.backlog));
	return o ? o : json_null();
}

void netif_shaped_unwind(struct fault *f, struct netif_shaped *s)
{
	char err[FAULT_ERR_SIZE] = "";

	if (netif_shaped_undo(f, s, err, sizeof(err)))
		log_err("fault %s: undoing a partial apply: %s", f->id, err);
}

void netif_shaped_release(struct netif_shaped *s)
{
	if (s) {
		json_decref(s->root);
		s->root = NULL;
	}
}

void netif_fault_free(struct fault *f)
{
	struct netif_fault *nf = f->priv;

	if (nf && nf->nif) {
		/* A fault freed while attached (agent shutdown after a failed revert). */
		char err[128];

		netif_fault_detach(f, err, sizeof(err));
	}
	nf_free_priv(nf);
	f->priv = NULL;
}

struct fault *netif_shaper_owner(const struct fault *f, unsigned int dirs)
{
	const struct netif_fault *nf = f->priv;
	const struct netif *nif = nf ? netif_find(nf->ifindex) : NULL;

	for (int h = 0; nif && h < NETFAULT_HOOK__COUNT; h++)
		if ((dirs & (1u << h)) && nif->shaper[h] && nif->shaper[h] != f)
			return nif->shaper[h];
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
