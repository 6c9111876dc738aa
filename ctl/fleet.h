/*
 * The agents of one faultctl command: resolved from an experiment, an inventory or the
 * command line, connected concurrently, and driven in parallel.
 *
 * For a run, each agent gets three connections prepared in advance: one for applying and
 * reading faults, one for its lease renewals and one kept idle for the revert, so that an
 * abort only has to send one request per agent, all at the same moment. The renewals, the
 * reverts and the agents' event streams of the whole fleet are driven by one thread, the
 * fleet loop (fleet_loop.c: epoll on non-blocking sockets, whatever the count of agents), so
 * a slow apply or probe never delays a renewal and a thousand agents cost one thread, not
 * three thousand.
 */
#ifndef FL_FLEET_H
#define FL_FLEET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "addr.h"
#include "client.h"

struct experiment;
struct inventory;

#define FLEET_NAME_SIZE 64
#define FLEET_ADDR_SIZE 512
#define FLEET_ERR_SIZE 512
#define FLEET_ID_SIZE 64

struct fleet_agent {
	char name[FLEET_NAME_SIZE];
	char address[FLEET_ADDR_SIZE]; /* as written: unix:///path, ssh://host */
	struct agent_addr addr;
	struct client *ctl;	   /* applies, reads */
	struct client *renew;	   /* lease renewals, used by the fleet loop only */
	struct client *revert;	   /* the abort's request, used by the fleet loop only */
	char lease[FLEET_ID_SIZE]; /* "" until created */

	/* Written by the fleet loop under the fleet lock. */
	uint64_t renewals, renew_failures;
	int64_t last_renew_ns;
	bool lease_lost; /* no renewal for a TTL, or the agent no longer knows the lease */
	bool lease_ended; /* lost by a 404: the agent ended the lease and reverted its faults */
	/*
	 * Why the last reconnection of the renewals failed: -ECONNREFUSED (nothing listens on
	 * the socket: the agent died), -ENOENT (the socket is gone: it stopped), another -errno,
	 * or 0 (connected, or not tried).
	 */
	int reconnect_err;
	char renew_err[FLEET_ERR_SIZE];

	/* Written by the fleet loop under the fleet lock. */
	bool revert_done;
	int revert_err; /* 0 or -errno; -EREMOTE for an HTTP error answer */
	int64_t revert_sent_ns, revert_done_ns;
	char revert_msg[FLEET_ERR_SIZE];

	char err[FLEET_ERR_SIZE]; /* why the last fleet operation failed on this agent */

	/* Set once the lease exists: the loop renews it, and reverts it on the go. */
	bool renew_started, revert_started;
	struct fleet *fleet;

	/* The fleet loop's own (fleet_loop.c); no lock. */
	struct fleet_req {
		int state;  /* idle, sending, waiting for the answer, done: fleet_loop.c */
		int phase;  /* of the revert: ending the lease, then listing what is left */
		bool armed; /* its socket is in the loop's epoll set */
		bool retried;
		int64_t sent_ns, deadline_ns;
	} renew_rq, revert_rq;
	bool in_loop;	       /* the loop knows the lease (renew_due_ns is set) */
	int64_t renew_due_ns;  /* INT64_MAX: no more renewals */
	struct client *stream; /* the event stream the loop follows, or NULL */
	bool stream_armed;
};

/*
 * What the fleet loop does with each line of the event streams it follows: on_line with the
 * parsed line (NULL when it is not JSON; the callee takes no reference) and the time it was
 * read, and on_end once when a stream ends by itself (err: -EPIPE when the agent closed it,
 * or -errno). Called on the loop's thread without the fleet lock.
 */
struct fleet_stream_ops {
	void (*on_line)(void *arg, size_t agent, json_t *line, int64_t t_ns);
	void (*on_end)(void *arg, size_t agent, int err);
	void *arg;
};

struct fleet {
	struct fleet_agent *agents;
	size_t n, cap;
	int64_t ttl_ms;
	int event_fd; /* eventfd written when a lease is lost; -1 for none */

	/* The fleet loop (fleet_loop.c). */
	pthread_t loop_thr;
	bool loop_started;
	bool loop_exited; /* under the lock: it ended (stopped, or epoll failed) */
	int epoll_fd;
	int wake_fd; /* eventfd: a command for the loop (the flags below) */
	struct fleet_stream_ops stream_ops;

	pthread_mutex_t lock;
	pthread_cond_t cond;	      /* the loop took the commands up to cmd_seq */
	pthread_cond_t reverted_cond; /* signalled by the loop as each revert is done */
	bool stop;		      /* the loop ends, without sending what it has not sent */
	bool renew_stop;	      /* no more renewals */
	bool revert_go;		      /* send every revert (atomic; set before wake_fd) */
	bool streams_new;	      /* streams handed over by fleet_streams_follow() */
	bool streams_stop;	      /* close every stream */
	uint64_t cmd_seq, done_seq;
	size_t reverted; /* reverts done */
};

/* CLOCK_MONOTONIC in nanoseconds, the clock of every time a fleet records. */
int64_t fleet_now_ns(void);

/* An empty fleet. Returns 0 or -errno. */
int fleet_init(struct fleet *f);

/* Stop every thread, close every connection, free. Accepts a zeroed fleet. */
void fleet_release(struct fleet *f);

/*
 * Add an agent by name and address; a name already present is not added twice (with a
 * different address it is an error). -EINVAL with err set for a bad address.
 */
int fleet_add(struct fleet *f, const char *name, const char *address, char *err, size_t err_size);

/*
 * Every agent of an experiment: inline ones, names from the inventory and inventory
 * groups. inv may be NULL when the experiment needs none. -EINVAL with err for a name or
 * group the inventory does not have, -ENOMEM.
 */
int fleet_from_experiment(struct fleet *f, const struct experiment *e, const struct inventory *inv,
			  char *err, size_t err_size);

/*
 * The agents a fault runs on, as indexes into f->agents: the names or groups it lists, or
 * every agent. idx must have room for f->n entries. Returns the count, or -EINVAL with err.
 */
int fleet_fault_agents(const struct fleet *f, const struct experiment *e,
		       const struct inventory *inv, size_t fault, size_t *idx, char *err,
		       size_t err_size);

/*
 * Connect every agent concurrently: the control connection, and with for_run also the
 * renewal and revert connections. Returns the number of agents that failed (their err
 * says why).
 */
size_t fleet_connect(struct fleet *f, bool for_run);

/*
 * Run fn on every agent in parallel and wait for all: local agents 32 at a time (they share
 * this machine's CPUs), ssh:// ones all at once. fn returns 0 or -errno and writes a reason
 * to a->err. Returns the number of agents where fn failed.
 */
size_t fleet_each(struct fleet *f, int (*fn)(struct fleet_agent *a, void *arg), void *arg);

/*
 * Start the fleet loop and create a lease of ttl_ms on every agent (concurrently); the loop
 * renews each every TTL/3 from the moment it exists. Returns the number of agents that
 * failed; their err says why.
 */
size_t fleet_lease_start(struct fleet *f, int64_t ttl_ms);

/*
 * Revert everything on every agent at once: the fleet loop sends DELETE /v1/leases/ID on
 * every agent's prepared connection, back to back before it reads any answer, and this
 * waits until all answered or the client timeout passed. Returns the number of agents where
 * it failed.
 */
size_t fleet_revert(struct fleet *f);

/* Stop the renewals (after a revert, or when nothing was applied). */
void fleet_stop_renewals(struct fleet *f);

/*
 * Follow agents' event streams in the fleet loop: streams[i] (opened by client_stream_open,
 * or NULL) for agent i, taken over by the fleet; ops says what to do with the lines. Only
 * once the leases exist (fleet_lease_start started the loop). Returns 0, or -EINVAL with the
 * streams closed when the loop is not running.
 */
int fleet_streams_follow(struct fleet *f, struct client **streams,
			 const struct fleet_stream_ops *ops);

/* Close every stream the loop follows and wait until it did: no callback runs after this. */
void fleet_streams_stop(struct fleet *f);

/* The loop (fleet_loop.c): started by fleet_lease_start(), ended by fleet_release(). */
int fleet_loop_start(struct fleet *f);
void fleet_loop_end(struct fleet *f);

/* Whether any agent lost its lease; *which is set to the first such agent. */
bool fleet_lease_lost(struct fleet *f, size_t *which);

/*
 * What happened to agent i's lost lease, in words that are true for what faultctl knows: the
 * agent ended it (404), or the agent is gone or unreachable and its faults stop when the
 * lease lapses, at the last good renewal + the TTL (wall clock, UTC).
 */
void fleet_lease_lost_reason(struct fleet *f, size_t i, char *buf, size_t size);

/*
 * One request on an agent's control connection. On 0, *status and *resp as client_call();
 * otherwise a->err says why.
 */
int fleet_call(struct fleet_agent *a, const char *method, const char *target, const json_t *body,
	       int *status, json_t **resp);

/*
 * The agents a command line names: each word an inventory agent, an inventory group or an
 * address (unix:///path, ssh://host); no words: every agent of the inventory, or without
 * an inventory the single default agent (default_addr, from --agent or the environment).
 * -EINVAL with err for an unknown name.
 */
int fleet_from_words(struct fleet *f, const struct inventory *inv, char **words, size_t n,
		     const char *default_addr, char *err, size_t err_size);
#endif
