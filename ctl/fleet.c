/* Agents driven in parallel: connections, leases with their renewals, the parallel revert. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "exp.h"
#include "fleet.h"
#include "inventory.h"

/* Small stacks: a fleet may hold a thousand agents, each with a few threads. */
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
	f->go_fd = -1;
	err = -pthread_mutex_init(&f->lock, NULL);
	if (err)
		return err;
	/* Renewal periods and revert deadlines are monotonic: a clock step must not move them. */
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

/* Wake every revert thread at once: the eventfd stays readable, so each poll returns. */
static void release_reverts(struct fleet *f)
{
	uint64_t one = 1;

	if (f->go_fd >= 0 && write(f->go_fd, &one, sizeof(one)) < 0) {
		/* Only a counter at 2^64-2 refuses: it is readable already. */
	}
}

static void join_threads(struct fleet *f)
{
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	/* A revert thread that never got its go ends without sending anything. */
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	release_reverts(f);
	for (size_t i = 0; i < f->n; i++) {
		struct fleet_agent *a = &f->agents[i];

		if (a->renew_started)
			pthread_join(a->renew_thr, NULL);
		if (a->revert_started)
			pthread_join(a->revert_thr, NULL);
		a->renew_started = a->revert_started = false;
	}
}

void fleet_release(struct fleet *f)
{
	if (!f->agents && !f->cap)
		goto sync;
	join_threads(f);
	for (size_t i = 0; i < f->n; i++) {
		client_close(f->agents[i].ctl);
		client_close(f->agents[i].renew);
		client_close(f->agents[i].revert);
	}
	free(f->agents);
sync:
	if (f->go_fd >= 0)
		close(f->go_fd);
	pthread_cond_destroy(&f->cond);
	pthread_cond_destroy(&f->reverted_cond);
	pthread_mutex_destroy(&f->lock);
	memset(f, 0, sizeof(*f));
	f->event_fd = -1;
	f->go_fd = -1;
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

/* Leases. */

static void *renew_main(void *p);
static void *revert_main(void *p);

static int lease_create(struct fleet_agent *a, void *arg)
{
	json_t *body, *resp = NULL;
	const char *id = NULL;
	char buf[128];
	int status, err;

	(void)arg;
	body = json_pack("{s:I}", "ttl_ms", (json_int_t)a->fleet->ttl_ms);
	if (!body)
		return -ENOMEM;
	err = fleet_call(a, "POST", "/v1/leases", body, &status, &resp);
	json_decref(body);
	if (err)
		return err;
	if (status != 201 || json_unpack(resp, "{s:{s:s}}", "lease", "id", &id) ||
	    strlen(id) >= sizeof(a->lease)) {
		snprintf(a->err, sizeof(a->err), "creating the lease: %s",
			 client_error_message(resp, status, buf, sizeof(buf)));
		json_decref(resp);
		return -EREMOTE;
	}
	snprintf(a->lease, sizeof(a->lease), "%s", id);
	json_decref(resp);
	/*
	 * The agent counts the TTL from its answer: the renewals start now, not once every
	 * other agent of the fleet has its lease too (with a thousand agents that can take
	 * longer than a short TTL).
	 */
	a->last_renew_ns = fleet_now_ns();
	err = thread_start(&a->revert_thr, revert_main, a);
	if (!err) {
		a->revert_started = true;
		err = thread_start(&a->renew_thr, renew_main, a);
	}
	if (err) {
		snprintf(a->err, sizeof(a->err), "cannot start a thread: %s", strerror(-err));
		return err;
	}
	a->renew_started = true;
	return 0;
}

static void signal_event(struct fleet *f)
{
	uint64_t one = 1;

	if (f->event_fd >= 0 && write(f->event_fd, &one, sizeof(one)) < 0) {
		/* An eventfd only fails to count past 2^64-2: the wake-up is there already. */
	}
}

static struct timespec abs_after_ms(int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* Whether fleet_revert() gave the go (set without the lock, for the revert threads). */
static bool reverting(struct fleet *f)
{
	return __atomic_load_n(&f->revert_go, __ATOMIC_ACQUIRE);
}

/*
 * Renew every TTL/3: two renewals may fail or be slow in a row before the agent gives up
 * on us. A 404 means the agent ended the lease itself (it expired, or someone reverted it)
 * and its faults are gone: the run must know at once.
 */
static void *renew_main(void *p)
{
	struct fleet_agent *a = p;
	struct fleet *f = a->fleet;
	int64_t period = f->ttl_ms / 3;
	char target[FLEET_ID_SIZE + 32];

	snprintf(target, sizeof(target), "/v1/leases/%s/renew", a->lease);
	pthread_mutex_lock(&f->lock);
	for (;;) {
		struct timespec until = abs_after_ms(period);
		char err[FLEET_ERR_SIZE] = "", buf[128];
		json_t *resp = NULL;
		int status = 0, e;

		while (!f->stop && !f->renew_stop && !reverting(f) &&
		       pthread_cond_timedwait(&f->cond, &f->lock, &until) != ETIMEDOUT)
			;
		if (f->stop || f->renew_stop || reverting(f))
			break;
		pthread_mutex_unlock(&f->lock);
		e = client_call(a->renew, "POST", target, NULL, &status, &resp, err, sizeof(err));
		if (!e && status != 200)
			snprintf(err, sizeof(err), "renewing the lease: %s",
				 client_error_message(resp, status, buf, sizeof(buf)));
		json_decref(resp);
		pthread_mutex_lock(&f->lock);
		if (!e && status == 200) {
			a->renewals++;
			a->last_renew_ns = fleet_now_ns();
			continue;
		}
		a->renew_failures++;
		snprintf(a->renew_err, sizeof(a->renew_err), "%s", err);
		if (!e && status == 404) {
			a->lease_lost = true;
			a->lease_ended = true;
			signal_event(f);
			break;
		}
		if (e && e != -ETIMEDOUT) {
			/* The connection is gone; the next attempt needs a new one. */
			struct client *c = NULL;
			int ce;

			pthread_mutex_unlock(&f->lock);
			ce = client_connect(&a->addr, &c, err, sizeof(err));
			if (!ce) {
				client_close(a->renew);
				a->renew = c;
			}
			pthread_mutex_lock(&f->lock);
			a->reconnect_err = ce;
			if (ce)
				snprintf(a->renew_err, sizeof(a->renew_err), "%s", err);
		}
		/* Past the TTL since the last good renewal the agent has reverted already. */
		if (fleet_now_ns() - a->last_renew_ns > f->ttl_ms * 1000000LL) {
			a->lease_lost = true;
			signal_event(f);
			break;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/* Wait for the go, then end the lease, which reverts every fault under it. */
static void *revert_main(void *p)
{
	struct fleet_agent *a = p;
	struct fleet *f = a->fleet;
	char target[FLEET_ID_SIZE + 16], err[FLEET_ERR_SIZE] = "", buf[128];
	json_t *resp = NULL;
	int status = 0, e;
	int64_t sent;

	snprintf(target, sizeof(target), "/v1/leases/%s", a->lease);
	/*
	 * Not on the fleet's condition variable: woken by it, a thousand threads would take the
	 * fleet lock one after the other before the last could send. The go eventfd wakes
	 * them all at once, and the flag is read without the lock.
	 */
	while (poll(&(struct pollfd){.fd = f->go_fd, .events = POLLIN}, 1, -1) < 0 &&
	       errno == EINTR)
		;
	if (!reverting(f))
		return NULL;
	sent = fleet_now_ns();
	e = client_call(a->revert, "DELETE", target, NULL, &status, &resp, err, sizeof(err));
	if (e && e != -ETIMEDOUT && e != -ENOMEM) {
		/*
		 * The prepared connection died while it waited (an agent restart, a dropped
		 * ssh session): one more try on a fresh one before giving up on this agent.
		 */
		struct client *c = NULL;

		if (!client_connect(&a->addr, &c, err, sizeof(err))) {
			client_close(a->revert);
			a->revert = c;
			err[0] = '\0';
			e = client_call(a->revert, "DELETE", target, NULL, &status, &resp, err,
					sizeof(err));
		}
	}
	if (!e && status == 404) {
		/*
		 * The agent no longer has the lease: it expired or was ended, and either way the
		 * agent reverted its faults. Confirm with the list of what is still applied.
		 */
		json_t *faults = NULL, *fl;
		size_t i, left = 0;

		json_decref(resp);
		resp = NULL;
		e = client_call(a->revert, "GET", "/v1/faults", NULL, &status, &faults, err,
				sizeof(err));
		if (!e && status == 200) {
			json_array_foreach(json_object_get(faults, "faults"), i, fl)
			{
				if (!strcmp(json_string_value(json_object_get(fl, "lease")) ?: "",
					    a->lease))
					left++;
			}
			if (left)
				snprintf(err, sizeof(err),
					 "lease gone but %zu of its faults still listed", left);
			status = left ? 500 : 200;
		}
		json_decref(faults);
	} else if (!e && status != 200) {
		snprintf(err, sizeof(err), "ending the lease: %s",
			 client_error_message(resp, status, buf, sizeof(buf)));
	}
	json_decref(resp);
	pthread_mutex_lock(&f->lock);
	a->revert_sent_ns = sent;
	a->revert_done_ns = fleet_now_ns();
	a->revert_err = e ? e : status == 200 ? 0 : -EREMOTE;
	snprintf(a->revert_msg, sizeof(a->revert_msg), "%s", err);
	a->revert_done = true;
	f->reverted++;
	/* Only fleet_revert() waits for this: the renew threads need not wake. */
	pthread_cond_signal(&f->reverted_cond);
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

size_t fleet_lease_start(struct fleet *f, int64_t ttl_ms)
{
	f->ttl_ms = ttl_ms;
	if (f->go_fd < 0) {
		f->go_fd = eventfd(0, EFD_CLOEXEC);
		if (f->go_fd < 0) {
			for (size_t i = 0; i < f->n; i++)
				snprintf(f->agents[i].err, FLEET_ERR_SIZE, "eventfd: %s",
					 strerror(errno));
			return f->n;
		}
	}
	/* Each agent's renew and revert threads start as soon as its lease exists. */
	return fleet_each(f, lease_create, NULL);
}

size_t fleet_revert(struct fleet *f)
{
	size_t expected = 0, failed = 0;
	struct timespec until;

	for (size_t i = 0; i < f->n; i++)
		expected += f->agents[i].revert_started;
	/*
	 * The revert threads wait on the eventfd, without the lock. The renew threads are not
	 * woken: they see the flag at their next renewal, or fleet_stop_renewals() ends them;
	 * a thousand of them waking now would only compete with the reverts for the CPUs.
	 */
	__atomic_store_n(&f->revert_go, true, __ATOMIC_RELEASE);
	release_reverts(f);
	pthread_mutex_lock(&f->lock);
	/* Each request has its own client timeout; this bounds the wait for all of them. */
	until = abs_after_ms(CLIENT_TIMEOUT_MS + 2000);
	while (f->reverted < expected &&
	       pthread_cond_timedwait(&f->reverted_cond, &f->lock, &until) != ETIMEDOUT)
		;
	for (size_t i = 0; i < f->n; i++) {
		struct fleet_agent *a = &f->agents[i];

		if (!a->revert_started)
			continue;
		if (!a->revert_done) {
			if (!a->revert_msg[0])
				snprintf(a->revert_msg, sizeof(a->revert_msg),
					 "no answer to the revert");
			failed++;
		} else if (a->revert_err) {
			failed++;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return failed;
}

void fleet_stop_renewals(struct fleet *f)
{
	pthread_mutex_lock(&f->lock);
	f->renew_stop = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	for (size_t i = 0; i < f->n; i++) {
		if (f->agents[i].renew_started)
			pthread_join(f->agents[i].renew_thr, NULL);
		f->agents[i].renew_started = false;
	}
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
