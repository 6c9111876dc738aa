/*
 * Network namespaces of network-fault targets (see netns.h): opening the one a target names,
 * running namespace-bound operations on a thread that entered it, and the journal record
 * crash cleanup finds it again by.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/nsfs.h>

#include "caps.h"
#include "container.h"
#include "exp.h"
#include "log.h"
#include "mountinfo.h"
#include "netns.h"
#include "nlsock.h"
#include "pick.h"
#include "procfs.h"
#include "procsel.h"

void netns_ref_init(struct netns_ref *ns)
{
	memset(ns, 0, sizeof(*ns));
	ns->fd = -1;
}

void netns_ref_close(struct netns_ref *ns)
{
	if (ns->fd >= 0)
		close(ns->fd);
	ns->fd = -1;
}

static int self_netns(uint64_t *dev, uint64_t *ino)
{
	struct stat st;

	if (stat("/proc/thread-self/ns/net", &st))
		return -errno;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

/*
 * Open path as a network namespace into ns. A namespace file is a nsfs inode; anything else
 * (a plain file, another kind of namespace) is refused, so setns() later cannot fail on it.
 */
static int open_ns_file(const char *path, const char *field, struct netns_ref *ns, char *err,
			size_t size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;

		snprintf(err, size, "%s: cannot open %s: %s", field, path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) || ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		snprintf(err, size, "%s: %s is not a network namespace", field, path);
		close(fd);
		return -EINVAL;
	}
	ns->fd = fd;
	ns->dev = st.st_dev;
	ns->ino = st.st_ino;
	return 0;
}

/* The namespace of process pid, checked to be the process that started at starttime. */
static int open_pid_ns(pid_t pid, unsigned long long starttime, const char *field,
		       struct netns_ref *ns, char *err, size_t size)
{
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	ret = open_ns_file(path, field, ns, err, size);
	if (ret == -ENOENT)
		snprintf(err, size, "%s: no process %d", field, (int)pid);
	if (ret)
		return ret;
	/* The pid was not recycled between reading its start time and opening its namespace. */
	if (starttime && procfs_starttime(pid) != starttime) {
		netns_ref_close(ns);
		snprintf(err, size, "%s: process %d is gone (its pid is another process now)",
			 field, (int)pid);
		return -ENOENT;
	}
	ns->pid = pid;
	ns->starttime = starttime;
	return 0;
}

/* The namespace of a resolved container's main process, named after the container. */
static int open_ctr(const struct ctr_info *c, struct netns_ref *ns, char *err, size_t size)
{
	int ret = open_pid_ns(c->main_pid, c->main_start, "target.container", ns, err, size);

	if (!ret) {
		snprintf(ns->container, sizeof(ns->container), "%s", c->id);
		snprintf(ns->cgroup, sizeof(ns->cgroup), "%s", c->cg.v2[0] ? c->cg.v2 : c->cg.freezer);
		snprintf(ns->desc, sizeof(ns->desc), "container %s (%.12s)",
			 c->name[0] ? c->name : c->id, c->id);
	}
	return ret;
}

static int open_container(const struct container_ref *ref, struct netns_ref *ns, char *err,
			  size_t size)
{
	struct ctr_info *v = NULL;
	char why[512];
	int ret = ctr_resolve_one(ref,
				  "without count, percent or all a network fault acts in one "
				  "container's network namespace",
				  "add target.all: true, target.count or target.percent to act in "
				  "each of several, or name one container by id or name",
				  &v, why, sizeof(why));

	if (ret) {
		/* ctr_resolve_one() names the field itself for most refusals, not all. */
		snprintf(err, size, "%s%s", strncmp(why, "target.", 7) ? "target.container: " : "",
			 why);
		return ret;
	}
	ret = open_ctr(&v[0], ns, err, size);
	free(v);
	return ret;
}

/*
 * The start of every open: ns initialised with the agent's own namespace's identity, and
 * entering another one refused without CAP_SYS_ADMIN (never faked).
 */
static int open_begin(const struct net_target *t, struct netns_ref *ns, char *err, size_t size)
{
	int ret;

	netns_ref_init(ns);
	ret = self_netns(&ns->dev, &ns->ino);
	if (ret) {
		snprintf(err, size, "reading the agent's own network namespace: %s",
			 strerror(-ret));
		return ret;
	}
	/*
	 * Refused before anything is opened: entering another namespace is never faked. The
	 * capability is permitted, raised only by the thread that enters (netns.c's setns).
	 */
	if (exp_net_in_netns(t) && !(caps_permitted() & 1ULL << CAP_SYS_ADMIN)) {
		snprintf(err, size,
			 "target.%s: acting in another network namespace needs CAP_SYS_ADMIN "
			 "(setns), which the agent does not hold",
			 t->container ? "container" : "netns");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* A namespace that turns out to be the agent's own (dev, ino) is handled as the agent's own. */
static void own_if_same(struct netns_ref *ns, uint64_t dev, uint64_t ino)
{
	if (ns->dev == dev && ns->ino == ino) {
		if (ns->desc[0])
			log_info("%s is the agent's own network namespace", ns->desc);
		netns_ref_close(ns);
	}
}

int netns_ref_open(const struct net_target *t, struct netns_ref *ns, char *err, size_t size)
{
	uint64_t dev = 0, ino = 0;
	int ret;

	ret = open_begin(t, ns, err, size);
	if (ret || !exp_net_in_netns(t))
		return ret;
	dev = ns->dev;
	ino = ns->ino;
	if (t->netns_path) {
		ret = open_ns_file(t->netns_path, "target.netns", ns, err, size);
		if (!ret) {
			snprintf(ns->path, sizeof(ns->path), "%s", t->netns_path);
			snprintf(ns->desc, sizeof(ns->desc), "netns %s", t->netns_path);
		}
	} else if (t->netns_pid) {
		unsigned long long st = procfs_starttime((pid_t)t->netns_pid);

		if (!st) {
			snprintf(err, size, "target.netns.pid: no process %u",
				 (unsigned int)t->netns_pid);
			return -ENOENT;
		}
		ret = open_pid_ns((pid_t)t->netns_pid, st, "target.netns.pid", ns, err, size);
		if (!ret)
			snprintf(ns->desc, sizeof(ns->desc), "netns of pid %u",
				 (unsigned int)t->netns_pid);
	} else {
		ret = open_container(t->container, ns, err, size);
	}
	if (!ret)
		own_if_same(ns, dev, ino);
	return ret;
}

void netns_refs_close(struct netns_ref *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		netns_ref_close(&v[i]);
	free(v);
}

/*
 * Open the selected containers' namespaces into v, each once: containers that share one (a
 * pod, or --network ns:PATH given to several) get one fault there, not one per container.
 */
static int open_selected(const struct net_target *t, const struct ctr_info *c, size_t n,
			 struct netns_ref *v, size_t *n_out, struct netns_pick *pick, char *err,
			 size_t size)
{
	size_t want = pick_how_many(n, t->count, t->percent_ppm, t->all), *idx;
	/* c is in id order: the same seed and the same matches give the same choice. */
	uint64_t seed = t->seed ? t->seed : procsel_random_seed();
	struct netns_ref self;
	int ret;

	*n_out = 0;
	idx = calloc(n, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	pick_choose(n, want, seed, idx);
	if (pick) {
		pick->matched = n;
		pick->selected = want;
		pick->seed = seed;
		pick->seeded = t->seed != 0;
	}
	ret = open_begin(t, &self, err, size);
	for (size_t i = 0; i < want && !ret; i++) {
		struct netns_ref *ns = &v[*n_out];
		bool dup = false;

		ret = open_begin(t, ns, err, size);
		if (!ret)
			ret = open_ctr(&c[idx[i]], ns, err, size);
		if (ret)
			break;
		own_if_same(ns, self.dev, self.ino);
		for (size_t k = 0; k < *n_out && !dup; k++)
			dup = netns_ref_same(&v[k], ns);
		if (dup) {
			log_info("%s shares its network namespace with a container selected before",
				 ns->desc);
			netns_ref_close(ns);
			continue;
		}
		(*n_out)++;
	}
	free(idx);
	return ret;
}

int netns_refs_open(const struct net_target *t, struct netns_ref **out, size_t *n,
		    struct netns_pick *pick, char *err, size_t size)
{
	struct ctr_info *c = NULL;
	struct netns_ref *v;
	size_t n_ctr = 0;
	char why[512];
	int ret;

	*out = NULL;
	*n = 0;
	if (pick)
		memset(pick, 0, sizeof(*pick));
	if (!t->container || !(t->all || t->count || t->percent_ppm)) {
		v = calloc(1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		ret = netns_ref_open(t, v, err, size);
		if (ret) {
			free(v);
			return ret;
		}
		*out = v;
		*n = 1;
		return 0;
	}
	ret = ctr_resolve(t->container, &c, &n_ctr, why, sizeof(why));
	if (ret) {
		snprintf(err, size, "target.container: %s", why);
		return ret;
	}
	v = calloc(n_ctr, sizeof(*v));
	if (!v) {
		free(c);
		return -ENOMEM;
	}
	ret = open_selected(t, c, n_ctr, v, n, pick, err, size);
	free(c);
	if (ret) {
		netns_refs_close(v, *n);
		*n = 0;
		return ret;
	}
	*out = v;
	return 0;
}

int netns_ref_dup(const struct netns_ref *src, struct netns_ref *dst)
{
	*dst = *src;
	if (src->fd < 0)
		return 0;
	dst->fd = fcntl(src->fd, F_DUPFD_CLOEXEC, 0);
	return dst->fd < 0 ? -errno : 0;
}

struct call {
	const struct netns_ref *ns;
	int (*fn)(void *);
	void *arg;
	int ret;
};

static void *call_thread(void *p)
{
	struct call *c = p;

	bool raised = false;
	int err;

	/*
	 * CAP_SYS_ADMIN is permitted but not effective after start-up (main.c): this thread
	 * alone raises it, for setns() only, and drops it again before it does anything in the
	 * namespace. Capabilities are per thread: no other thread holds it meanwhile. (Before
	 * the drop, at start-up recovery, it is effective already and stays so.)
	 */
	if (!caps_effective(CAP_SYS_ADMIN)) {
		err = caps_raise(CAP_SYS_ADMIN);
		if (err) {
			c->ret = err;
			log_err("entering %s: raising CAP_SYS_ADMIN: %s", c->ns->desc,
				strerror(-err));
			return NULL;
		}
		raised = true;
	}
	/* Only this thread changes namespace; it ends right after, so no one else runs here. */
	err = setns(c->ns->fd, CLONE_NEWNET) ? -errno : 0;
	if (raised && caps_lower(CAP_SYS_ADMIN)) {
		/* Never run anything with it still raised. */
		c->ret = -EPERM;
		log_err("entering %s: cannot drop CAP_SYS_ADMIN again: %s", c->ns->desc,
			strerror(errno));
		return NULL;
	}
	if (err) {
		c->ret = err;
		log_err("entering %s: %s", c->ns->desc, strerror(-err));
		return NULL;
	}
	c->ret = c->fn(c->arg);
	/*
	 * The shared rtnetlink socket, if fn connected it here, belongs to this namespace and
	 * would keep it alive (a container's, after the container exits): dropped now, the next
	 * user connects one in its own namespace.
	 */
	nlsock_close();
	return NULL;
}

/*
 * Is the calling thread in ns already? Then a call from inside netns_call() (a shaping
 * fault's step, which runs in the namespace as a whole) runs at once, not on a further thread.
 */
static bool in_ns(const struct netns_ref *ns)
{
	uint64_t dev = 0, ino = 0;

	return !self_netns(&dev, &ino) && dev == ns->dev && ino == ns->ino;
}

int netns_call(const struct netns_ref *ns, int (*fn)(void *), void *arg)
{
	struct call c = {.ns = ns, .fn = fn, .arg = arg};
	pthread_t th;
	int ret;

	if (ns->fd < 0 || in_ns(ns))
		return fn(arg);
	ret = pthread_create(&th, NULL, call_thread, &c);
	if (ret)
		return -ret;
	pthread_join(th, NULL);
	return c.ret;
}

int netns_call_many(struct netns_job *jobs, size_t n)
{
	struct call *c = calloc(n ? n : 1, sizeof(*c));
	pthread_t *th = calloc(n ? n : 1, sizeof(*th));
	bool *started = calloc(n ? n : 1, sizeof(*started));
	int ret = 0;

	if (!c || !th || !started) {
		free(c);
		free(th);
		free(started);
		return -ENOMEM;
	}
	/*
	 * Every foreign job on a thread of its own, all at once: the jobs wait for a CPU and do
	 * their system calls side by side instead of one after the other.
	 */
	for (size_t i = 0; i < n; i++) {
		c[i] = (struct call){.ns = jobs[i].ns, .fn = jobs[i].fn, .arg = jobs[i].arg};
		if (jobs[i].ns->fd < 0)
			continue;
		jobs[i].ret = -pthread_create(&th[i], NULL, call_thread, &c[i]);
		started[i] = !jobs[i].ret;
	}
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].ns->fd < 0)
			jobs[i].ret = jobs[i].fn(jobs[i].arg);
	}
	for (size_t i = 0; i < n; i++) {
		if (started[i]) {
			pthread_join(th[i], NULL);
			jobs[i].ret = c[i].ret;
		}
		if (jobs[i].ret && !ret)
			ret = jobs[i].ret;
	}
	free(c);
	free(th);
	free(started);
	return ret;
}

struct dflt {
	char *name;
	size_t size;
};

/* /proc/thread-self/net/route: "Iface Destination Gateway Flags ... Mask ..." in hex. */
static int dflt_v4(struct dflt *d)
{
	FILE *f = fopen("/proc/thread-self/net/route", "re");
	char line[256], ifn[IF_NAMESIZE + 1];
	unsigned int dst, gw, flags, mask;
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%16s %x %x %x %*s %*s %*s %x", ifn, &dst, &gw, &flags, &mask) !=
		    5)
			continue; /* the header */
		if (dst == 0 && mask == 0 && (flags & 1 /* RTF_UP */)) {
			snprintf(d->name, d->size, "%s", ifn);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* /proc/thread-self/net/ipv6_route: "dst plen src plen nexthop metric ref use flags iface". */
static int dflt_v6(struct dflt *d)
{
	FILE *f = fopen("/proc/thread-self/net/ipv6_route", "re");
	char line[256], dst[33], ifn[IF_NAMESIZE + 1];
	unsigned int plen, flags;
	int ret = -ENOENT;

	if (!f)
		return errno == ENOENT ? -ENOENT : -errno; /* no IPv6 in this kernel */
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%32s %x %*s %*s %*s %*s %*s %*s %x %16s", dst, &plen, &flags,
			   ifn) != 4)
			continue;
		if (plen == 0 && !strcmp(dst, "00000000000000000000000000000000") && (flags & 1) &&
		    strcmp(ifn, "lo")) {
			snprintf(d->name, d->size, "%s", ifn);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static int dflt_find(void *p)
{
	int ret = dflt_v4(p);

	return ret == -ENOENT ? dflt_v6(p) : ret;
}

int netns_default_ifname_here(char *name, size_t size)
{
	struct dflt d = {name, size};

	return dflt_find(&d);
}

int netns_default_ifname(const struct netns_ref *ns, char *name, size_t size, char *err,
			 size_t esize)
{
	struct dflt d = {name, size};
	int ret = netns_call(ns, dflt_find, &d);

	if (ret == -ENOENT)
		snprintf(err, esize,
			 "target.interface: %s has no default route to take the interface from; "
			 "name the interface",
			 ns->desc[0] ? ns->desc : "the agent's network namespace");
	else if (ret)
		snprintf(err, esize, "target.interface: reading the routes of %s: %s",
			 ns->desc[0] ? ns->desc : "the agent's network namespace", strerror(-ret));
	return ret;
}

json_t *netns_ref_json(const struct netns_ref *ns)
{
	json_t *o;

	if (ns->fd < 0)
		return NULL;
	o = json_pack("{s:I, s:I, s:s}", "inode", (json_int_t)ns->ino, "dev", (json_int_t)ns->dev,
		      "desc", ns->desc);
	if (!o)
		return NULL;
	if (ns->path[0])
		json_object_set_new(o, "path", json_string(ns->path));
	if (ns->pid)
		json_object_set_new(o, "pid", json_integer(ns->pid));
	if (ns->starttime)
		json_object_set_new(o, "starttime", json_integer((json_int_t)ns->starttime));
	if (ns->container[0])
		json_object_set_new(o, "container", json_string(ns->container));
	if (ns->cgroup[0])
		json_object_set_new(o, "cgroup", json_string(ns->cgroup));
	return o;
}

/* The namespace bound to a file somewhere (ip netns, a runtime's /run/netns/...), by inode. */
static int reopen_bound(uint64_t ino, uint64_t dev, struct netns_ref *ns)
{
	char root[48], mnt[256], err[512];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret;

	if (!f)
		return -errno;
	snprintf(root, sizeof(root), "net:[%" PRIu64 "]", ino);
	ret = mountinfo_find_root(f, "nsfs", root, mnt, sizeof(mnt));
	fclose(f);
	if (ret)
		return ret;
	ret = open_ns_file(mnt, "netns", ns, err, sizeof(err));
	if (ret)
		return ret;
	if (ns->ino != ino || ns->dev != dev) {
		netns_ref_close(ns);
		return -ENOENT;
	}
	snprintf(ns->path, sizeof(ns->path), "%s", mnt);
	return 0;
}

/*
 * The journaled process is gone: find the namespace again by the container's id (the
 * container restarted, or another of its processes runs) or by a file it is bound to. 0 with
 * ns open and why saying how; -ENOENT with why empty, or saying the container is gone.
 */
static int reopen_elsewhere(const json_t *rec, uint64_t ino, uint64_t dev, struct netns_ref *ns,
			    char *why, size_t size)
{
	const char *id = json_string_value(json_object_get(rec, "container"));
	struct container_ref ref = {.id = (char *)id};
	struct ctr_info *v = NULL;
	char err[512];
	size_t n = 0;

	why[0] = '\0';
	if (id && !ctr_resolve(&ref, &v, &n, err, sizeof(err)) && n == 1 &&
	    !open_pid_ns(v[0].main_pid, v[0].main_start, "netns", ns, err, sizeof(err))) {
		if (ns->ino == ino && ns->dev == dev) {
			log_info("%s: found again by the container's id (main pid %d now)",
				 ns->desc, (int)v[0].main_pid);
			free(v);
			return 0;
		}
		netns_ref_close(ns);
	}
	free(v);
	if (!reopen_bound(ino, dev, ns)) {
		log_info("%s: found again at %s", ns->desc, ns->path);
		return 0;
	}
	if (id)
		snprintf(why, size,
			 "%s (inode %" PRIu64 "): the container %.12s is gone (no process of it "
			 "runs in that namespace and no file holds it), and the namespace with "
			 "what we added there",
			 ns->desc, ino, id);
	return -ENOENT;
}

int netns_ref_reopen(const json_t *rec, struct netns_ref *ns, char *why, size_t size)
{
	const char *path = json_string_value(json_object_get(rec, "path"));
	const char *desc = json_string_value(json_object_get(rec, "desc"));
	uint64_t ino = (uint64_t)json_integer_value(json_object_get(rec, "inode"));
	uint64_t dev = (uint64_t)json_integer_value(json_object_get(rec, "dev"));
	pid_t pid = (pid_t)json_integer_value(json_object_get(rec, "pid"));
	unsigned long long st =
		(unsigned long long)json_integer_value(json_object_get(rec, "starttime"));
	char err[512];
	int ret;

	netns_ref_init(ns);
	snprintf(ns->desc, sizeof(ns->desc), "%s", desc ? desc : "network namespace");
	if (path) {
		ret = open_ns_file(path, "netns", ns, err, sizeof(err));
		if (ret) {
			snprintf(why, size,
				 "%s (inode %" PRIu64 ") cannot be reopened: %s; the namespace is "
				 "gone unless something else holds it",
				 ns->desc, ino, err);
			return ret == -EINVAL ? -ESTALE : -ENOENT;
		}
		snprintf(ns->path, sizeof(ns->path), "%s", path);
	} else if (pid > 0) {
		ret = open_pid_ns(pid, st, "netns", ns, err, sizeof(err));
		if (ret)
			ret = reopen_elsewhere(rec, ino, dev, ns, why, size);
		if (ret == -ENOENT && !why[0])
			snprintf(why, size,
				 "%s (inode %" PRIu64
				 "): its process %d is gone, and the namespace "
				 "with it unless something else holds it",
				 ns->desc, ino, (int)pid);
		if (ret)
			return ret;
	} else {
		snprintf(why, size, "the journal names no way to reopen the namespace");
		return -EINVAL;
	}
	if (ns->ino != ino || ns->dev != dev) {
		snprintf(why, size,
			 "%s is another namespace now (inode %" PRIu64 ", journaled %" PRIu64
			 "): the one we used is gone",
			 ns->desc, ns->ino, ino);
		netns_ref_close(ns);
		return -ESTALE;
	}
	return 0;
}

/* getifaddrs() in the namespace, into an array of {"name", "up", "addresses": [ADDR/LEN]}. */
static int ifaces_in(void *p)
{
	json_t *v = p;
	struct ifaddrs *ifa = NULL;

	if (getifaddrs(&ifa))
		return -errno;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr, *mask = i->ifa_netmask;
		char buf[INET6_ADDRSTRLEN + 8];
		json_t *e = NULL, *addrs;
		size_t k;
		int len = 0;

		json_array_foreach(v, k, e)
		{
			if (!strcmp(json_string_value(json_object_get(e, "name")), i->ifa_name))
				break;
			e = NULL;
		}
		if (!e) {
			e = json_pack("{s:s, s:b, s:[]}", "name", i->ifa_name, "up",
				      !!(i->ifa_flags & IFF_UP), "addresses");
			if (!e || json_array_append_new(v, e))
				break;
		}
		if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
			continue;
		/* The prefix length is the number of bits set in the netmask. */
		if (mask && mask->sa_family == sa->sa_family) {
			const uint8_t *m =
				sa->sa_family == AF_INET
					? (const uint8_t *)&((const struct sockaddr_in *)mask)
						  ->sin_addr
					: ((const struct sockaddr_in6 *)mask)->sin6_addr.s6_addr;

			for (int b = 0; b < (sa->sa_family == AF_INET ? 4 : 16); b++)
				len += __builtin_popcount(m[b]);
		}
		if (!inet_ntop(
			    sa->sa_family,
			    sa->sa_family == AF_INET
				    ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
				    : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr,
			    buf, INET6_ADDRSTRLEN))
			continue;
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "/%d", len);
		addrs = json_object_get(e, "addresses");
		json_array_append_new(addrs, json_string(buf));
	}
	freeifaddrs(ifa);
	return 0;
}

int netns_ifaces_json(const struct netns_ref *ns, json_t **out)
{
	json_t *v = json_array();
	int ret;

	if (!v)
		return -ENOMEM;
	ret = netns_call(ns, ifaces_in, v);
	if (ret) {
		json_decref(v);
		return ret;
	}
	*out = v;
	return 0;
}

int netns_pid_ifaces_json(pid_t pid, unsigned long long starttime, json_t **out, char *err,
			  size_t size)
{
	struct netns_ref ns;
	uint64_t dev = 0, ino = 0;
	int ret;

	ret = self_netns(&dev, &ino);
	if (ret) {
		snprintf(err, size, "reading the agent's own network namespace: %s",
			 strerror(-ret));
		return ret;
	}
	netns_ref_init(&ns);
	ret = open_pid_ns(pid, starttime, "netns", &ns, err, size);
	if (ret)
		return ret;
	own_if_same(&ns, dev, ino);
	if (netns_ref_foreign(&ns) && !(caps_permitted() & 1ULL << CAP_SYS_ADMIN)) {
		netns_ref_close(&ns);
		snprintf(err, size, "entering its network namespace needs CAP_SYS_ADMIN (setns)");
		return -EOPNOTSUPP;
	}
	ret = netns_ifaces_json(&ns, out);
	netns_ref_close(&ns);
	if (ret)
		snprintf(err, size, "listing its interfaces: %s", strerror(-ret));
	return ret;
}
