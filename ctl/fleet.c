/*
 * Agents driven in parallel: who they are, their connections, fleet_each(), and what a lost
 * lease means. The leases' renewals, the revert and the event streams: fleet_loop.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exp.h"
#include "fleet.h"
#include "inventory.h"

/* Small stacks: fleet_each() gives every ssh:// agent of a fleet (up to 1,024) a thread. */
#define FLEET_STACK (256 * 1024)

int64_t fleet_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int fleet_init(struct fleet *f)
{
	pthread_condattr_t ca;
	int err;

	memset(f, 0, sizeof(*f));
	f->event_fd = -1;
	f->epoll_fd = -1;
	f->wake_fd = -1;
	err = -pthread_mutex_init(&f->lock, NULL);
	if (err)
		return err;
	/* The waits for the loop are bounded on the monotonic clock: a clock step must not move them. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	err = -pthread_cond_init(&f->cond, &ca);
	if (!err) {
		err = -pthread_cond_init(&f->reverted_cond, &ca);
		if (err)
			pthread_cond_destroy(&f->cond);
	}
	pthread_condattr_destroy(&ca);
	if (err) {
		pthread_mutex_destroy(&f->lock);
		return err;
	}
	return 0;
}

void fleet_release(struct fleet *f)
{
	fleet_loop_end(f);
	if (!f->agents && !f->cap)
		goto sync;
	for (size_t i = 0; i < f->n; i++) {
		client_close(f->agents[i].ctl);
		client_close(f->agents[i].renew);
		client_close(f->agents[i].revert);
	}
	free(f->agents);
sync:
	pthread_cond_destroy(&f->cond);
	pthread_cond_destroy(&f->reverted_cond);
	pthread_mutex_destroy(&f->lock);
	memset(f, 0, sizeof(*f));
	f->event_fd = -1;
	f->epoll_fd = -1;
	f->wake_fd = -1;
}

int fleet_add(struct fleet *f, const char *name, const char *address, char *err, size_t err_size)
{
	struct fleet_agent *a;
	int e;

	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(f->agents[i].name, name))
			continue;
		if (strcmp(f->agents[i].address, address)) {
			snprintf(err, err_size, "agent '%s' is given two addresses: %s and %s",
				 name, f->agents[i].address, address);
			return -EINVAL;
		}
		return 0;
	}
	if (strlen(name) >= FLEET_NAME_SIZE || strlen(address) >= FLEET_ADDR_SIZE) {
		snprintf(err, err_size, "agent '%.64s': name or address too long", name);
		return -EINVAL;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct fleet_agent *p = realloc(f->agents, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		f->agents = p;
		f->cap = cap;
		/* The threads keep a pointer to their fleet, never to a moved agent. */
	}
	a = &f->agents[f->n];
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->address, sizeof(a->address), "%s", address);
	e = addr_parse(address, &a->addr, err, err_size);
	if (e)
		return e;
	a->fleet = f;
	f->n++;
	return 0;
}

int fleet_from_experiment(struct fleet *f, const struct experiment *e, const struct inventory *inv,
			  char *err, size_t err_size)
{
	for (size_t i = 0; i < e->n_agents; i++) {
		const struct exp_agent *ea = &e->agents[i];
		const struct inv_group *g;
		const struct inv_agent *ia;
		int r;

		if (ea->address) {
			r = fleet_add(f, ea->name, ea->address, err, err_size);
			if (r)
				return r;
			continue;
		}
		if (!inv) {
			snprintf(err, err_size,
				 "agents[%zu]: '%s' needs an inventory (--inventory or "
				 "'inventory:')",
				 i, ea->name ? ea->name : ea->group);
			return -EINVAL;
		}
		if (ea->name) {
			ia = inv_agent_find(inv, ea->name);
			if (!ia) {
				snprintf(err, err_size,
					 "agents[%zu]: the inventory has no agent '%s'%s", i,
					 ea->name,
					 inv_group_find(inv, ea->name)
						 ? " (it is a group: write 'group:')"
						 : "");
				return -EINVAL;
			}
			r = fleet_add(f, ia->name, ia->address, err, err_size);
			if (r)
				return r;
			continue;
		}
		g = inv_group_find(inv, ea->group);
		if (!g) {
			snprintf(err, err_size, "agents[%zu]: the inventory has no group '%s'%s", i,
				 ea->group,
				 inv_agent_find(inv, ea->group) ? " (it is an agent: write 'name:')"
								: "");
			return -EINVAL;
		}
		for (size_t m = 0; m < g->n_members; m++) {
			ia = inv_agent_find(inv, g->members[m]);
			r = ia ? fleet_add(f, ia->name, ia->address, err, err_size) : -EINVAL;
			if (r)
				return r;
		}
	}
	return 0;
}

static ssize_t find_agent(const struct fleet *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->agents[i].name, name))
			return (ssize_t)i;
	return -1;
}

static size_t add_index(size_t *idx, size_t n, size_t v)
{
	for (size_t i = 0; i < n; i++)
		if (idx[i] == v)
			return n;
	idx[n] = v;
	return n + 1;
}

int fleet_fault_agents(const struct fleet *f, const struct experiment *e,
		       const struct inventory *inv, size_t fault, size_t *idx, char *err,
		       size_t err_size)
{
	const struct fault_spec *fs = &e->faults[fault];
	size_t n = 0;

	if (!fs->n_agents) {
		for (size_t i = 0; i < f->n; i++)
			idx[n++] = i;
		return (int)n;
	}
	for (size_t i = 0; i < fs->n_agents; i++) {
		const struct inv_group *g;
		ssize_t a = find_agent(f, fs->agents[i]);

		if (a >= 0) {
			n = add_index(idx, n, (size_t)a);
			continue;
		}
		g = inv_group_find(inv, fs->agents[i]);
		if (!g) {
			snprintf(err, err_size, "faults[%zu].agents[%zu]: no agent or group '%s'",
				 fault, i, fs->agents[i]);
			return -EINVAL;
		}
		for (size_t m = 0; m < g->n_members; m++) {
			a = find_agent(f, g->members[m]);
			if (a < 0) {
				snprintf(err, err_size,
					 "faults[%zu].agents[%zu]: group '%s' member '%s' is not "
					 "an agent of the experiment",
					 fault, i, g->name, g->members[m]);
				return -EINVAL;
			}
			n = add_index(idx, n, (size_t)a);
		}
	}
	return (int)n;
}

/* Parallel execution. */

/*
 * How many threads fleet_each() runs for local agents (unix://): they share this machine's
 * CPUs, so more requests in flight than this only add thread start-ups and switches (with
 * 1,000 agents, a thread each cost more system time than the requests). ssh:// agents get
 * a thread each: their calls wait on a remote host, not on our CPUs.
 */
#define FLEET_EACH_LOCAL_THREADS 32

struct each_pool {
	struct fleet *f;
	int (*fn)(struct fleet_agent *a, void *arg);
	void *arg;
	size_t next; /* the next agent to take, atomically */
	int *ret;
};

static void *each_main(void *p)
{
	struct each_pool *pl = p;

	for (;;) {
		size_t i = __atomic_fetch_add(&pl->next, 1, __ATOMIC_RELAXED);

		if (i >= pl->f->n)
			return NULL;
		pl->ret[i] = pl->fn(&pl->f->agents[i], pl->arg);
	}
}

static int thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int err;

	err = -pthread_attr_init(&attr);
	if (err)
		return err;
	pthread_attr_setstacksize(&attr, FLEET_STACK);
	err = -pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return err;
}

size_t fleet_each(struct fleet *f, int (*fn)(struct fleet_agent *a, void *arg), void *arg)
{
	struct each_pool pl = {.f = f, .fn = fn, .arg = arg};
	size_t n_thr = f->n < FLEET_EACH_LOCAL_THREADS ? f->n : FLEET_EACH_LOCAL_THREADS;
	size_t started = 0, failed = 0;
	pthread_t *thr;

	for (size_t i = 0; i < f->n && n_thr < f->n; i++)
		if (f->agents[i].addr.transport == AGENT_SSH)
			n_thr = f->n;
	pl.ret = calloc(f->n ? f->n : 1, sizeof(*pl.ret));
	thr = calloc(n_thr ? n_thr : 1, sizeof(*thr));
	if (!pl.ret || !thr) {
		free(pl.ret);
		free(thr);
		for (size_t i = 0; i < f->n; i++)
			snprintf(f->agents[i].err, FLEET_ERR_SIZE, "out of memory");
		return f->n;
	}
	/* One agent alone needs no thread; without any thread, the agents are still done. */
	for (size_t t = 0; n_thr > 1 && t < n_thr; t++)
		if (!thread_start(&thr[started], each_main, &pl))
			started++;
	if (!started)
		each_main(&pl);
	for (size_t t = 0; t < started; t++)
		pthread_join(thr[t], NULL);
	for (size_t i = 0; i < f->n; i++)
		failed += pl.ret[i] != 0;
	free(pl.ret);
	free(thr);
	return failed;
}

/* Connections. */

static int connect_one(struct fleet_agent *a, void *arg)
{
	bool for_run = *(bool *)arg;
	int err;

	if (!a->ctl) {
		err = client_connect(&a->addr, &a->ctl, a->err, sizeof(a->err));
		if (err)
			return err;
	}
	if (!for_run)
		return 0;
	if (!a->renew) {
		err = client_connect(&a->addr, &a->renew, a->err, sizeof(a->err));
		if (err)
			return err;
	}
	if (!a->revert) {
		err = client_connect(&a->addr, &a->revert, a->err, sizeof(a->err));
		if (err)
			return err;
	}
	return 0;
}

size_t fleet_connect(struct fleet *f, bool for_run)
{
	return fleet_each(f, connect_one, &for_run);
}

int fleet_call(struct fleet_agent *a, const char *method, const char *target, const json_t *body,
	       int *status, json_t **resp)
{
	*resp = NULL;
	if (!a->ctl) {
		if (!a->err[0])
			snprintf(a->err, sizeof(a->err), "not connected");
		return -ENOTCONN;
	}
	return client_call(a->ctl, method, target, body, status, resp, a->err, sizeof(a->err));
}

bool fleet_lease_lost(struct fleet *f, size_t *which)
{
	bool lost = false;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n && !lost; i++) {
		if (f->agents[i].lease_lost) {
			lost = true;
			if (which)
				*which = i;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return lost;
}

void fleet_lease_lost_reason(struct fleet *f, size_t i, char *buf, size_t size)
{
	struct fleet_agent *a = &f->agents[i];
	const char *what;
	char when[48];
	struct timespec wall;
	struct tm tm;
	int64_t lapse_ns, wall_ns;
	size_t n;

	pthread_mutex_lock(&f->lock);
	if (a->lease_ended) {
		snprintf(buf, size,
			 "agent %s lost its lease (%.300s): the agent no longer knows it (it "
			 "expired, another client ended it, or the agent restarted and recovered), "
			 "so its faults were reverted",
			 a->name, a->renew_err);
		pthread_mutex_unlock(&f->lock);
		return;
	}
	/*
	 * The agent set the lease's deadline when it answered our last good renewal, before we
	 * read the answer: it lapses at the latest TTL after that (its network rules in the
	 * kernel, the rest by the agent or, if it died, by its watchdog: docs/api.md).
	 */
	lapse_ns = a->last_renew_ns + f->ttl_ms * 1000000LL;
	if (a->reconnect_err == -ECONNREFUSED)
		what = "the agent died (nothing listens on its socket)";
	else if (a->reconnect_err == -ENOENT)
		what = "the agent stopped (its socket is gone)";
	else
		what = "the agent has been unreachable since then";
	clock_gettime(CLOCK_REALTIME, &wall);
	wall_ns = (int64_t)wall.tv_sec * 1000000000LL + wall.tv_nsec - (fleet_now_ns() - lapse_ns);
	wall.tv_sec = wall_ns / 1000000000LL;
	gmtime_r(&wall.tv_sec, &tm);
	n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03lldZ",
		 (long long)(wall_ns % 1000000000LL) / 1000000);
	snprintf(buf, size,
		 "agent %s lost its lease (%.300s): %s; its faults stop when the lease lapses, at "
		 "%s at the latest (the last renewal + the %lld ms TTL)",
		 a->name, a->renew_err, what, when, (long long)f->ttl_ms);
	pthread_mutex_unlock(&f->lock);
}

int fleet_from_words(struct fleet *f, const struct inventory *inv, char **words, size_t n,
		     const char *default_addr, char *err, size_t err_size)
{
	int r;

	if (!n && inv) {
		for (size_t i = 0; i < inv->n_agents; i++) {
			r = fleet_add(f, inv->agents[i].name, inv->agents[i].address, err,
				      err_size);
			if (r)
				return r;
		}
		return 0;
	}
	if (!n) {
		const char *env = getenv(AGENT_ENV);
		const char *text = default_addr	 ? default_addr
				   : env && *env ? env
						 : "unix://" AGENT_DEFAULT_SOCKET;

		return fleet_add(f, text, text, err, err_size);
	}
	for (size_t i = 0; i < n; i++) {
		const struct inv_agent *ia = inv_agent_find(inv, words[i]);
		const struct inv_group *g = inv_group_find(inv, words[i]);

		if (strstr(words[i], "://")) {
			r = fleet_add(f, words[i], words[i], err, err_size);
		} else if (ia) {
			r = fleet_add(f, ia->name, ia->address, err, err_size);
		} else if (g) {
			r = 0;
			for (size_t m = 0; !r && m < g->n_members; m++) {
				ia = inv_agent_find(inv, g->members[m]);
				r = ia ? fleet_add(f, ia->name, ia->address, err, err_size)
				       : -EINVAL;
			}
		} else {
			snprintf(err, err_size, "'%s' is %s", words[i],
				 inv ? "neither an agent nor a group of the inventory, nor an "
				       "address"
				     : "not an address (unix:///PATH); names need --inventory");
			r = -EINVAL;
		}
		if (r)
			return r;
	}
	return 0;
}
