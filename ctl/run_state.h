/*
 * One `faultctl run`: the state the engine (run.c), the event streams (run_events.c), the
 * live view (run_view.c) and the JSON report (run_report.c) share, and the timeline and
 * outcome helpers on it (run_state.c). Times are CLOCK_MONOTONIC nanoseconds
 * (fleet_now_ns()) unless a field says otherwise; reports show them as milliseconds since
 * the run started.
 */
#ifndef FL_RUN_STATE_H
#define FL_RUN_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "fleet.h"
#include "guard.h"

struct experiment;
struct inventory;

/* How a run ended. Each maps to one exit code (run_exit_code()). */
enum run_outcome {
	RUN_HELD,	   /* every guardrail held and the steady state came back: exit 0 */
	RUN_DRY_RUN,	   /* safety.dry_run: checked, nothing applied: exit 0 */
	RUN_ABORTED,	   /* a guardrail breached; everything reverted: exit 1 */
	RUN_NOT_RECOVERED, /* ran through, but the after-checks failed: exit 1 */
	RUN_REFUSED,	   /* not started: steady state unhealthy or outside the window: 4 */
	RUN_INTERRUPTED,   /* SIGINT or SIGTERM; everything reverted: 130 or 143 */
	RUN_FAILED,	   /* an agent or faultctl itself failed: exit 3 */
	RUN_INCONCLUSIVE,  /* the guardrails could not watch the run: no verdict, exit 3 */
};

const char *run_outcome_name(int outcome);

enum run_fault_state {
	RF_PENDING,
	RF_APPLIED,
	RF_FAILED,
	RF_SKIPPED, /* the run ended or aborted before its start */
	/*
	 * Confirmed by the agent's final event (fault.reverted, .completed, .revert_failed,
	 * .target_gone).
	 */
	RF_REVERTED,
	RF_COMPLETED, /* a one-shot fault: its whole effect was the apply */
	RF_REVERT_FAILED,
	RF_TARGET_GONE, /* its container exited (and did not come back): reverted, ended */
};

/* One fault of the experiment on one of its agents. */
struct run_fault {
	size_t fault; /* index into e->faults */
	size_t agent; /* index into fleet.agents */
	int state;    /* enum run_fault_state */
	char id[FLEET_ID_SIZE];
	int64_t applied_ns;
	int64_t ends_ns;  /* when the agent reverts it by its duration */
	json_t *applied;  /* the agent's fault object when applied */
	json_t *achieved; /* its latest status ("status" of the fault object) */
	int64_t achieved_ns;
	bool final;		 /* achieved is the agent's final status, from its final event */
	int64_t reverted_ns;	 /* when faultctl received the final event */
	char reverted_at[40];	 /* the agent's own time of it (ISO 8601, UTC) */
	char revert_reason[128]; /* why the agent reverted it ("its duration ended"...) */
	char err[FLEET_ERR_SIZE];
};

/*
 * Each agent's event stream (GET /v1/events) followed during the run, on a connection of
 * its own that the fleet loop reads, for the final status of every fault (run_events.c).
 */
struct run_watch {
	struct run *run;
	size_t agent;
	struct client *c; /* while it is opened; then the fleet loop's */
	bool started;	  /* the fleet loop follows it */
	bool stop;	 /* under run->lock */
	json_t *pending; /* final events not matched to a fault yet, under run->lock */
	char err[FLEET_ERR_SIZE];
};

/* One steady-state check evaluation as reported. */
struct run_check {
	const char *name;
	struct guard_reading reading;
	int64_t started_ns, done_ns;
	int err; /* a failure of faultctl itself, -errno */
};

/* One agent's faults to apply (run_plan.c). */
struct run_worker {
	struct run *run;
	size_t agent;
	size_t *rf; /* indexes into run->faults, in start order */
	size_t n_rf;
};

/*
 * A thread that applies the faults of some agents, each on its agent's control connection,
 * in the order of their start offsets (run.c): local agents share a few of them, an ssh://
 * agent has one of its own.
 */
struct run_crew {
	struct run *run;
	size_t *workers; /* indexes into run->workers */
	size_t n_workers;
	pthread_t thr;
	bool started;
};

struct run_event {
	int64_t t_ns;
	char text[320];
};

struct run {
	const struct experiment *e;
	const char *file;
	struct fleet fleet;
	struct run_fault *faults;
	size_t n_faults;
	struct run_worker *workers; /* per agent */
	struct run_crew *crews;
	size_t n_crews;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;    /* workers end: the run is over or aborting */
	int event_fd; /* written by workers on an apply failure, by the fleet on a lost lease */

	int64_t t0_ns;		 /* the run's start: faults' start offsets count from here */
	struct timespec t0_real; /* the same moment, wall clock */
	int64_t end_ns;		 /* when the run ended (normally or aborted) */
	int outcome;		 /* enum run_outcome */
	char reason[FLEET_ERR_SIZE];
	int signal; /* the signal that interrupted it, or 0 */

	struct guardset *guards;
	struct guard_status *guard_final; /* per guardrail, taken when the guard set stopped */
	size_t n_guards;
	int64_t guards_end_ns;	     /* when guard_final was taken: the end of their watch */
	struct run_check *preflight; /* one reading of each guardrail before anything applied */
	size_t n_preflight;
	struct run_watch *watch; /* per agent; NULL until the leases exist */

	struct run_check *before, *after;
	size_t n_before, n_after;
	size_t after_rounds;
	bool checks_abandoned; /* a signal ended the wait for check threads still running */
	bool recovered;
	int64_t reverted_ns;  /* every agent confirmed the revert */
	int64_t recovered_ns; /* start of the after-check probes that first passed together */

	/* The abort, when a guardrail breached. */
	bool breached;
	struct guard_status breach;
	int64_t abort_go_ns; /* revert requests released */
	bool revert_ok;

	struct run_event *events; /* the timeline, under lock */
	size_t n_events, cap_events, shown_events;

	/* Live view. */
	FILE *view;
	bool tty;
};

/* Wake the reader of an eventfd (the run loop, the checks' wait); fd -1: nobody. */
void run_wake(int fd);

/* Append a line to the timeline (thread-safe). */
void run_event(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit code of an outcome (and a signal for RUN_INTERRUPTED). */
int run_exit_code(const struct run *r);

/* Milliseconds since the run started, for reports. */
static inline double run_ms(const struct run *r, int64_t t_ns)
{
	return (double)(t_ns - r->t0_ns) / 1e6;
}

#endif
