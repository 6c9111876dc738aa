/*
 * The network namespace a network fault acts in when its target names one (netns: a namespace
 * file or {pid: N}; container: its main process's), and the way the agent works in it: every
 * namespace-bound operation (interface lookup, clsact, tc filters, rtnetlink) runs on a
 * short-lived thread of its own that setns()'d into the namespace, never on the loop thread,
 * and nothing is executed inside the container. setns(CLONE_NEWNET) needs CAP_SYS_ADMIN (in
 * the user namespace that owns the target namespace); opening /proc/PID/ns/net of another
 * user's process needs CAP_SYS_PTRACE. BPF maps and programs are not bound to a namespace:
 * rules, exemptions and counters are used from the loop thread as for the agent's own.
 */
#ifndef FL_NETNS_H
#define FL_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "ctr_cgroup.h"

struct net_target;

/* A namespace a fault acts in. fd -1: the agent's own. */
struct netns_ref {
	int fd;			      /* O_RDONLY on the namespace file, -1: the agent's own */
	uint64_t dev, ino;	      /* the namespace's identity (of the agent's own too) */
	char path[256];		      /* netns: a path; "" otherwise */
	pid_t pid;		      /* {pid} or the container's main process; 0 otherwise */
	unsigned long long starttime; /* of pid: tells a recycled pid apart after a crash */
	char container[72];	      /* the container's id, "" for netns targets */
	char cgroup[CTR_PATH_MAX];    /* the container's cgroup (v2, else v1 freezer), journaled */
	char desc[160];		      /* for messages: "netns /run/netns/x", "container web" */
};

/* An empty reference: the agent's own namespace, nothing open. */
void netns_ref_init(struct netns_ref *ns);

/*
 * Open the namespace the target names (netns or container; the agent's own when it names
 * none, or names the agent's own). 0, or -errno with err naming the field: -ENOENT (no such
 * file or process), -ESRCH (no such container), -EINVAL (not a network namespace, several
 * containers matching without count, percent or all), -EOPNOTSUPP (the agent lacks CAP_SYS_ADMIN to
 * enter it: never faked).
 */
int netns_ref_open(const struct net_target *t, struct netns_ref *ns, char *err, size_t size);

/* How a container target's count or percent chose (netns_refs_open()). */
struct netns_pick {
	size_t matched;	 /* containers that matched; 0: no choice was made */
	size_t selected; /* chosen among them (before namespaces shared were merged) */
	uint64_t seed;	 /* the seed of the choice: the target's, or a random one */
	bool seeded;	 /* the target gave it */
};

/*
 * Open every namespace the target names: netns_ref_open()'s one, or with a container target
 * that has count, percent or all, one per selected container (chosen among the matches with
 * lib/pick.h among the matches in id order, with the target's seed or a random one, said in
 * *pick when not NULL; a namespace several of them share, once). 0 with a malloc'd array of *n >= 1
 * (netns_refs_close() it), or -errno with err as netns_ref_open().
 */
int netns_refs_open(const struct net_target *t, struct netns_ref **out, size_t *n,
		    struct netns_pick *pick, char *err, size_t size);

/* Close each of n references and free the array (NULL is fine). */
void netns_refs_close(struct netns_ref *v, size_t n);

/* A second reference to the same namespace (its own fd). 0 or -errno. */
int netns_ref_dup(const struct netns_ref *src, struct netns_ref *dst);

/* Close the fd (idempotent). */
void netns_ref_close(struct netns_ref *ns);

/* Is it another namespace than the agent's? */
static inline bool netns_ref_foreign(const struct netns_ref *ns)
{
	return ns->fd >= 0;
}

/* Same namespace? */
static inline bool netns_ref_same(const struct netns_ref *a, const struct netns_ref *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/*
 * Run fn(arg) in the namespace: directly for the agent's own (or when the calling thread is in
 * ns already), else on a new thread that setns()'d into ns first (joined before this returns,
 * so fn may use the caller's data: nothing else runs on it meanwhile). fn's return value, or -errno
 * when the thread could not be started or could not enter the namespace.
 */
int netns_call(const struct netns_ref *ns, int (*fn)(void *), void *arg);

/* A job of netns_call_many(): fn(arg) in ns; ret its return value or -errno. */
struct netns_job {
	const struct netns_ref *ns;
	int (*fn)(void *);
	void *arg;
	int ret;
};

/*
 * netns_call() of every job at once: each foreign one on a thread of its own (started
 * together, joined before this returns), the agent's own ones on the caller's. The jobs must
 * not touch what another job or the event loop uses (each its own interface and memory).
 * Each job's ret set; returns the first job's error in order, 0 when all succeeded, or
 * -ENOMEM (no job ran).
 */
int netns_call_many(struct netns_job *jobs, size_t n);

/* The default route's interface (as netns_default_ifname()) of the calling thread's namespace. */
int netns_default_ifname_here(char *name, size_t size);

/*
 * The interface holding the namespace's default route (IPv4 first, then IPv6), read in the
 * namespace. 0, or -ENOENT with err when it has none.
 */
int netns_default_ifname(const struct netns_ref *ns, char *name, size_t size, char *err,
			 size_t esize);

/*
 * The journal's record of a foreign namespace, what crash cleanup reopens it by:
 * {"inode", "dev", "path"} or {"inode", "dev", "pid", "starttime"[, "container", "cgroup"]}.
 * NULL for the agent's own (or without memory).
 */
json_t *netns_ref_json(const struct netns_ref *ns);

/*
 * Reopen a journaled namespace: 0 with ns open; -ENOENT (the file, the process or the
 * process that started at that time is gone) or -ESTALE (the path or process now holds
 * another namespace), with why saying so: either way nothing of ours is left in the one we
 * used (a namespace that still exists stays reachable through its file or process). When
 * the journaled process is gone, the namespace (checked by inode) is looked for through the
 * container's id (the container restarted: its main process now) and through a file it is
 * bound to (/proc/self/mountinfo: ip netns, a runtime's /run/netns/...).
 */
int netns_ref_reopen(const json_t *rec, struct netns_ref *ns, char *why, size_t size);

/*
 * The interfaces of the namespace, read in it: an array of {"name", "up", "addresses":
 * ["ADDR/PREFIXLEN", ...]} in *out. 0 or -errno.
 */
int netns_ifaces_json(const struct netns_ref *ns, json_t **out);

/*
 * netns_ifaces_json() of the namespace of process pid (checked to be the process that started
 * at starttime): 0, or -errno with err saying why (the process is gone, the agent lacks
 * CAP_SYS_ADMIN to enter a foreign namespace).
 */
int netns_pid_ifaces_json(pid_t pid, unsigned long long starttime, json_t **out, char *err,
			  size_t size);

#endif
