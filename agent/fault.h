/*
 * Faults in the agent: the fault-type interface every type implements, and the fault object
 * the core drives through the lifecycle of lib/fault_state.h. A fault type is one file beside
 * the mechanism it uses (agent/net/fault_net_*.c, agent/proc/fault_proc_*.c,
 * agent/stress/fault_stress_*.c) plus one row in agent/fault_types.c; docs/adding-a-fault-type.md
 * lists the rest (lib's parser, schema, docs, tests).
 */
#ifndef FL_FAULT_H
#define FL_FAULT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "exp.h"
#include "fault_state.h"

struct agent;
struct fault;
struct lease;
struct fault_spec;

#define FAULT_ERR_SIZE 256

struct target_watch;

/* The container an applied fault acts in, as its type found it: what the core watches. */
struct fault_target {
	char id[72];		      /* the container's full id */
	char desc[160];		      /* "container web (0123456789ab)", for messages */
	pid_t pid;		      /* its main process */
	unsigned long long starttime; /* of pid: tells a recycled pid apart */
	uint64_t netns;		      /* inode of its network namespace, 0: not known */
};

struct fault_ops {
	/*
	 * As in experiment files, e.g. "network.loss": the name lib gives the type this ops
	 * sits at in fault_ops_all (exp_fault_type_name()); tests/unit/test_fault_types.c
	 * checks they agree.
	 */
	const char *name;
	/*
	 * Capabilities apply/revert need, bits (1ULL << CAP_*): a type whose caps the agent does
	 * not hold after start-up is unavailable (fault_type_available()).
	 */
	uint64_t caps;
	/* Kept when the host has them, but the type works without (and says so when it matters). */
	uint64_t caps_optional;
	/* Is the mechanism there on this host? 0, or -errno with why filled in. */
	int (*probe)(const struct agent *a, char *why, size_t size);
	/* Host-specific checks of a parsed spec (interface exists, ...); may set f->priv. */
	int (*validate)(struct agent *a, struct fault *f, char *err, size_t size);
	/*
	 * Make the fault take effect. Before each change to the system, record in f->undo what
	 * to remove and call fault_journal(f), so a crash at any point can be cleaned up.
	 * On failure undo any partial work before returning -errno.
	 */
	int (*apply)(struct agent *a, struct fault *f, char *err, size_t size);
	/* (An instantaneous fault sets f->completed in apply; see struct fault.) */
	/* Undo the fault completely. Idempotent. */
	int (*revert)(struct agent *a, struct fault *f, char *err, size_t size);
	/*
	 * Optional, for POST /v1/resolve: what the fault would hit now (processes, interface),
	 * called after validate succeeded and changing nothing. 0 when an apply would go ahead,
	 * or -errno with err saying why it would be refused; *out (a new reference, may be
	 * NULL) in both cases.
	 */
	int (*resolve)(struct agent *a, struct fault *f, json_t **out, char *err, size_t size);
	/* Live details for the API (counters, achieved values); new reference or NULL. */
	json_t *(*describe)(const struct fault *f);
	/*
	 * Optional: called on the loop once the fault is active (not for one that completed
	 * in its apply), where a type starts the timers that watch its effect.
	 */
	void (*activated)(struct fault *f);
	/*
	 * Optional: called on the loop as soon as an apply has ended (ret: 0 or its -errno),
	 * whether it ran there or on a worker thread, before the fault.applied (or
	 * fault.apply_failed) event and before anything else sees the fault: where an off-loop
	 * type does what its apply could not do off the loop (emit the events of what it did,
	 * arm its timers). Also before activated.
	 */
	void (*after_apply)(struct fault *f, int ret);
	/*
	 * Crash recovery: undo what a journal undo record describes, from a previous agent run.
	 * Must be idempotent and remove only what is provably ours. report says what was done.
	 */
	int (*cleanup)(struct agent *a, const json_t *undo, char *report, size_t size);
	/*
	 * Optional: the container the applied fault acts in, for the core to watch
	 * (agent/target_watch.c): when its main process exits, the fault ends as target_gone,
	 * or, with the target's follow_restarts, its effect is reverted and the fault applied
	 * again (free_priv, validate, apply on the same fault) to the container that comes
	 * back. A type that has this must take f->priv == NULL in revert, describe and
	 * lease_renewed (the fault waiting for its container). 0 with *t filled, -ENOENT when
	 * the fault acts in no container.
	 */
	int (*target_container)(const struct fault *f, struct fault_target *t);
	/*
	 * Optional: the containers a fault over several (count, percent, all) acts in, one per
	 * member still in it, for the core to watch each (agent/target_watch.c): *out is
	 * malloc'd. 0, or -ENOENT when the fault is not over several containers.
	 */
	int (*target_members)(const struct fault *f, struct fault_target **out, size_t *n);
	/*
	 * With target_members: take the member in the container whose full id is id out of
	 * the active fault (that container exited; the others keep the fault): what the fault
	 * holds in its namespace removed and the journal record rewritten without it. Called
	 * like revert (on a worker thread under the type's lane when revert_off_loop, the
	 * fault busy meanwhile); never for the last member. 0 or -errno with err.
	 */
	int (*drop_member)(struct fault *f, const char *id, char *err, size_t size);
	/* Release f->priv. */
	void (*free_priv)(struct fault *f);
	/*
	 * The fault's lease was renewed (f->lease->deadline_ns moved): carry the deadline to
	 * where the kernel enforces it without the agent (network rules). Optional.
	 */
	void (*lease_renewed)(struct fault *f);
	/*
	 * apply (and the revert that cleans up a failed apply) may run on a worker thread of
	 * the loop's pool, so a slow apply (hundreds of stressor workers, a /proc scan) never
	 * delays the API or a lease timer. Such a type's apply touches only its fault (priv,
	 * undo, through fault_journal), the system and read-only agent state (policy); never
	 * uv handles, timers, events, metrics or the agent's fault and lease lists. Types
	 * that need the loop for part of their work do it in after_apply (process.kill's
	 * events and timers); those that share state across faults name a lane (the network
	 * types' interface registry).
	 */
	bool off_loop;
	/*
	 * Optional, with off_loop: true when this fault's apply is cheap (nothing to scan: a
	 * selector naming one pid), so it runs on the loop and skips the two thread hand-offs,
	 * which cost more than the apply itself on a busy machine.
	 */
	bool (*apply_on_loop)(const struct fault *f);
	/*
	 * revert runs on a worker thread too (same rules): for types whose revert is slow
	 * (killing and reaping hundreds of workers). A cheap revert stays on the loop, where a
	 * lease's expiry does it at once instead of queueing for a thread.
	 */
	bool revert_off_loop;
	/*
	 * Optional, with off_loop and revert_off_loop: the lock of state the type's faults
	 * share (the network types' interface registry, agent/net/netif.c). The core holds it
	 * around every apply and revert of such a type, on a worker thread or (rarely: a
	 * container the fault follows came back, the pool refused the work) on the loop, so
	 * their work runs one at a time and never sees another's half-made state. What the
	 * loop does meanwhile (describe, lease_renewed, validate) must not need it: those
	 * touch only the fault's own state, or what is written under the lock by the loop
	 * itself (fault_lane_enter()).
	 */
	pthread_mutex_t *lane;
};

struct fault {
	char id[24];
	const struct fault_ops *type;
	struct fault_spec *spec; /* typed spec, owned */
	json_t *spec_json;	 /* canonical JSON of the spec, owned */
	struct lease *lease;
	/*
	 * The lease's deadline (CLOCK_MONOTONIC ns), kept by the core (atomically: an off-loop
	 * apply reads it while the loop renews the lease): what rules the kernel enforces
	 * lapse at. Read it with fault_lease_deadline_ns(); it stays after the lease ended.
	 */
	uint64_t lease_deadline_ns;
	/*
	 * The lease's id, kept by the fault: what the journal and events name even after the
	 * lease is gone, and what an off-loop apply journals without touching the lease.
	 */
	char lease_id[24];
	enum fault_state state;
	char error[FAULT_ERR_SIZE];
	uint64_t duration_ms; /* 0: until reverted or the lease ends */
	uv_timer_t duration_timer;
	char applied_at[40], reverted_at[40];
	json_t *undo;		/* what to undo, journaled; owned by the fault */
	json_t *journaled_undo; /* a copy of undo as last journaled (NULL: no record yet) */
	/*
	 * Set by apply when the fault's whole effect is done (a one-shot signal): the core
	 * then completes it at once instead of keeping it active with nothing to revert.
	 */
	bool completed;
	void *priv;
	pid_t peer_pid; /* the controller process that asked for it (protected from it) */
	/*
	 * An off-loop apply, revert or member drop (fault_ops.drop_member) in flight: while
	 * set, a worker thread owns priv, undo and journal_spec, and the loop neither
	 * describes, reverts nor frees the fault. A revert asked for meanwhile (lease end,
	 * DELETE, shutdown) is kept in revert_why and started as soon as that work completes.
	 */
	bool busy;
	char *revert_why;
	/*
	 * Set (atomically) with revert_why during an off-loop apply, for the worker thread to
	 * read: an apply that is waiting for something (a stressor's workers to start) may
	 * stop waiting, leave what it did undone by its revert, and return.
	 */
	bool revert_asked;
	json_t *revert_last; /* describe() taken before an off-loop revert, for its event */
	void (*reverted)(struct fault *f, int ret, void *ctx);
	void *reverted_ctx;
	json_t *journal_spec; /* a private copy of spec_json for fault_journal() on any thread */
	uv_work_t work;
	int work_ret;
	char work_err[FAULT_ERR_SIZE];
	void (*applied)(struct fault *f, int ret, const char *err, void *ctx);
	void *applied_ctx;
	/* Its container, watched while the fault lasts (target_watch.h); NULL: none. */
	struct target_watch *watch;
	/* Its container exited: the revert that ends it is announced as fault.target_gone. */
	bool target_gone;
	struct agent *agent;
	struct fault *next;
};

/*
 * The table of fault types (agent/fault_types.c), indexed by lib's enum fault_type; the row
 * at FAULT_TYPE_COUNT is NULL, so `for (i = 0; fault_ops_all[i]; i++)` walks every type.
 */
extern const struct fault_ops *const fault_ops_all[FAULT_TYPE_COUNT + 1];

/*
 * The ops of a type of lib's enum fault_type; NULL for a value out of range (or a missing
 * row, which unit.fault_types fails on).
 */
const struct fault_ops *fault_ops_of(int type);

/*
 * The ops of a type by its name, where a name is the input (a journal record of an earlier
 * run): through lib's name -> enum mapping, so it answers exactly the names lib parses.
 * NULL for a name lib does not know.
 */
const struct fault_ops *fault_ops_by_name(const char *name);

/*
 * Can the agent apply faults of this type? Its capabilities first (against a->caps_held, the
 * agent's effective set after start-up), then its mechanism probe. 0, or -EOPNOTSUPP (or the
 * probe's -errno) with why filled in: the missing capabilities by name, or the probe's reason.
 */
int fault_type_available(const struct agent *a, const struct fault_ops *t, char *why, size_t size);

/*
 * POST /v1/resolve for one parsed fault of an available type: validate (and the conflict rule)
 * then the type's resolve, on a fault object that is never applied, journaled or listed.
 * 0 with *out (what it would hit, may be NULL) when an apply would go ahead; -errno with err
 * (and *out when the type could say what it found) when it would be refused.
 */
int fault_resolve(struct agent *a, const struct fault_ops *type, struct fault_spec *spec,
		  pid_t peer_pid, json_t **out, char *err, size_t size);

/* resolve for process faults (agent/proc/resolve.c): the processes the selector matches now. */
int fault_proc_resolve(struct agent *a, struct fault *f, json_t **out, char *err, size_t size);

/* The lease's deadline as last renewed (fault.lease_deadline_ns), from any thread. */
uint64_t fault_lease_deadline_ns(const struct fault *f);

/*
 * Take (and release) the lock of f's type (fault_ops.lane; nothing without one), on the loop
 * where it changes what the type's off-loop work shares: it waits for such work in flight.
 */
void fault_lane_enter(const struct fault *f);
void fault_lane_leave(const struct fault *f);

/* Journal the fault's current undo record (called by types from apply). 0 or -errno. */
int fault_journal(struct fault *f);

#endif
