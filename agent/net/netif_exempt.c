/*
 * Exemptions (see netif.h): the flows no network fault may touch, held on every attached
 * interface and reference-counted, because the same flow can be protected for several
 * reasons (the agent's own SSH session, a requester's, the policy) and must stay protected
 * until the last of them goes; the policy's protected CIDRs and ports as exemptions; and the
 * requester's SSH session, found by walking up its process tree.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "netif.h"
#include "netif_impl.h"
#include "procfs.h"
#include "policy.h"

/* How far netif_ssh_connection() walks up from the requester. */
#define SSH_WALK_MAX 64
/* Exemption entries the policy may use per interface (the map holds NETFAULT_MAX_EXEMPT). */
#define POLICY_EXEMPT_MAX (NETFAULT_MAX_EXEMPT / 2)

/* The policy's exemptions, held on every attached interface, and the policy they are from. */
static struct netfault_exempt *policy_ex;
static size_t n_policy_ex;
static const struct policy *policy_synced;

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

void netif_exempt_fmt(const struct netfault_exempt *ex, char *buf, size_t size)
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

int netif_exempt_hold(struct netif *nif, const struct netfault_exempt *in)
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

/*
 * Does another interface running nif's program (netfault_open_shared()) hold the exemption?
 * Then it stays in the program's map.
 */
static bool shared_hold(const struct netif *nif, const struct netfault_exempt *ex)
{
	if (netfault_shares(nif->nf) <= 1)
		return false;
	for (const struct netif *o = netif_registry; o; o = o->next) {
		if (o == nif || !netfault_same_program(o->nf, nif->nf))
			continue;
		for (size_t i = 0; i < o->n_ex; i++)
			if (o->ex[i].refs > 0 && exempt_eq(&o->ex[i].ex, ex))
				return true;
	}
	return false;
}

void netif_exempt_drop(struct netif *nif, const struct netfault_exempt *in)
{
	struct netfault_exempt ex = *in;

	exempt_norm(&ex);
	for (size_t i = 0; i < nif->n_ex; i++) {
		if (!exempt_eq(&nif->ex[i].ex, &ex))
			continue;
		if (--nif->ex[i].refs > 0)
			return;
		if (shared_hold(nif, &ex)) {
			nif->ex[i] = nif->ex[--nif->n_ex];
			return;
		}
		if (netfault_exempt_remove(nif->nf, &ex))
			log_warn("netif %s: removing an exemption failed", nif->name);
		nif->ex[i] = nif->ex[--nif->n_ex];
		return;
	}
}

int netif_exempt_hold_policy(struct netif *nif)
{
	for (size_t i = 0; i < n_policy_ex; i++) {
		int ret = netif_exempt_hold(nif, &policy_ex[i]);

		if (ret)
			return ret;
	}
	return 0;
}

size_t netif_policy_exempt_count(void)
{
	return n_policy_ex;
}

int netif_policy_sync(const struct policy *p, char *err, size_t size)
{
	return p == policy_synced ? 0 : netif_set_policy(p, err, size);
}

/* netif_set_policy() with the lane held: no apply or revert is changing the registry. */
static int set_policy(const struct policy *p, char *err, size_t size)
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
	for (struct netif *nif = netif_registry; nif; nif = nif->next) {
		for (size_t i = 0; i < n; i++) {
			int ret = netif_exempt_hold(nif, &v[i]);

			if (ret) {
				snprintf(err, size, "%s: adding a policy exemption: %s", nif->name,
					 strerror(-ret));
				for (size_t k = 0; k < i; k++)
					netif_exempt_drop(nif, &v[k]);
				for (struct netif *m = netif_registry; m != nif; m = m->next)
					for (size_t k = 0; k < n; k++)
						netif_exempt_drop(m, &v[k]);
				free(v);
				return ret;
			}
		}
	}
	for (struct netif *nif = netif_registry; nif; nif = nif->next)
		for (size_t i = 0; i < n_old; i++)
			netif_exempt_drop(nif, &old[i]);
	free(old);
	policy_ex = v;
	n_policy_ex = n;
	policy_synced = p;
	log_info("netif: policy protects %zu CIDR(s) and %zu port range(s) on every faulted "
		 "interface",
		 p ? p->n_protected_cidrs : 0, p ? p->n_protected_ports : 0);
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
	unsigned long long start = 0;
	pid_t first = pid;
	int last_err = -ENOENT;

	for (int depth = 0; depth < SSH_WALK_MAX && pid > 1; depth++) {
		struct procfs_stat ps;
		int err;

		if (procfs_stat(pid, &ps))
			break;
		if (!depth) {
			start = ps.starttime;
			if (ssh_last.pid == first && ssh_last.starttime == start) {
				if (ssh_last.err)
					return ssh_last.err;
				snprintf(conn, size, "%s", ssh_last.conn);
				*found = ssh_last.found;
				return 0;
			}
		}
		/* sshd itself has no $SSH_CONNECTION; its children (the session) have. */
		if (!strncmp(ps.comm, "sshd", 4))
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
		pid = ps.ppid;
	}
	if (last_err == -ENOENT && start) {
		ssh_last.pid = first;
		ssh_last.starttime = start;
		ssh_last.err = -ENOENT;
	}
	return last_err;
}

int netif_set_policy(const struct policy *p, char *err, size_t size)
{
	int ret;

	/* Waits for a network apply in flight: only when the agent loaded another policy. */
	pthread_mutex_lock(&netif_lane);
	ret = set_policy(p, err, size);
	pthread_mutex_unlock(&netif_lane);
	return ret;
}
