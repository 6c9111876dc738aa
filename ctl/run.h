/*
 * One `faultctl run`: the state the orchestration (cmd_run.c), the live view (run_view.c)
 * and the reports (report.c) share. Times are CLOCK_MONOTONIC nanoseconds (fleet_now_ns())
 * unless a field says otherwise; reports show them as milliseconds since the run started.
 */
#ifndef FL_RUN_H
#define FL_RUN_H

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
	/* Confirmed by the agent's final event (fault.reverted, .completed, .revert_failed). */
	RF_REVERTED,
	RF_COMPLETED, /* a one-shot fault: its whole effect was the apply */
	RF_REVERT_FAILED,
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
 * its own, for the final status of every fault (run_events.c).
 */
struct run_watch {
	struct run *run;
	size_t agent;
	struct client *c;
	pthread_t thr;
	bool started;
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

struct run_worker {
	struct run *run;
	size_t agent;
	size_t *rf; /* indexes into run->faults, in start order */
	size_t n_rf;
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
	struct run_worker *workers;

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

/* Append a line to the timeline (thread-safe). */
void run_event(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The live view: redraw (terminal) or print new timeline lines (otherwise). */
void run_view_update(struct run *r, bool final);

/*
 * Follow every leased agent's event stream (a connection each, opened before any fault is
 * applied). An agent whose stream cannot be opened gets a timeline line; its faults then
 * report the last status read instead of the final one. Returns 0 or -ENOMEM.
 */
int run_events_start(struct run *r);

/*
 * After the revert: wait, at most wait_ns, for the final event of every fault that was
 * applied, record each one's final status and time, then stop following the streams.
 */
void run_events_finish(struct run *r, int64_t wait_ns);

/* Stop following and free; accepts a run that never started it. */
void run_events_release(struct run *r);

/* The exit code of an outcome (and a signal for RUN_INTERRUPTED). */
int run_exit_code(const struct run *r);

/* The report as JSON (docs/report.schema.json). New reference, or NULL on -ENOMEM. */
json_t *run_report_json(struct run *r);

/* Write the report as JUnit XML or as Markdown. Returns 0 or -errno. */
int report_write_junit(const json_t *report, const char *path);
int report_write_markdown(const json_t *report, const char *path);
int report_write_json(const json_t *report, const char *path);

/*
 * A game day's combined report (docs/gameday.schema.json; each step carries its run report)
 * as JUnit XML, one <testsuite> per step, or as one Markdown write-up with a summary table
 * and a section per step. Returns 0 or -errno.
 */
int report_write_gameday_junit(const json_t *gameday, const char *path);
int report_write_gameday_markdown(const json_t *gameday, const char *path);

/*
 * The command line of `faultctl run` and `faultctl gameday` (run_cmdline.c): one file
 * operand, the report files and --help, and each command's own options.
 */
struct run_cmdline {
	const char *file;      /* the operand: the experiment or plan file */
	const char *inventory; /* --inventory FILE (RUN_OPT_INVENTORY) */
	const char *report_json, *junit, *markdown;
	bool yes;  /* --yes (RUN_OPT_YES) */
	bool json; /* --json after the command (RUN_OPT_JSON), as the global option */
};

/* The options a command accepts besides the report files and --help. */
enum run_cmdline_flags {
	RUN_OPT_INVENTORY = 1 << 0,
	RUN_OPT_YES = 1 << 1,
	RUN_OPT_JSON = 1 << 2,
};

struct run_cmdline_spec {
	const char *cmd;     /* prefix of messages, "faultctl run" */
	const char *operand; /* what the one operand is, "experiment file" */
	unsigned flags;	     /* enum run_cmdline_flags */
	void (*usage)(void);
	/* The command's JUnit and Markdown writers (the JSON one is report_write_json()). */
	int (*write_junit)(const json_t *report, const char *path);
	int (*write_markdown)(const json_t *report, const char *path);
};

/*
 * Parse the command's own argv (argv[0] is the command's name; options may follow the
 * operand). Returns 0, 1 after printing the usage for --help, or -EINVAL after a message on
 * stderr.
 */
int run_cmdline_parse(const struct run_cmdline_spec *s, int argc, char **argv,
		      struct run_cmdline *o);

/*
 * Write rep to every report file o names and, with json, to stdout. A file that cannot be
 * written is reported on stderr and the others are still written. Returns 0 or the -errno
 * of the last failure.
 */
int run_cmdline_write(const struct run_cmdline_spec *s, const struct run_cmdline *o,
		      const json_t *rep, bool json);

struct exp_window;

/*
 * Load an experiment and its inventory as `faultctl run` does: inventory is the file given
 * on the command line (or NULL for the experiment's own `inventory:`, relative to it).
 * Diagnostics go to stderr as file:line:column: path: message. Returns 0, -EINVAL or -ENOMEM;
 * free *e and *inv whatever the outcome.
 */
int run_load(const char *file, const char *inventory, struct experiment **e,
	     struct inventory **inv);

/*
 * Resolve the experiment's agents and each fault's agents (names, groups, the inventory)
 * without contacting anyone. Returns 0, or -EINVAL/-ENOMEM with err set.
 */
int run_resolve(const struct experiment *e, const struct inventory *inv, char *err, size_t size);

/*
 * Whether now is inside the window, in the window's time zone. A window that runs across
 * midnight belongs to the day it started on. -ENOENT for a time zone this host does not
 * know (why says so, naming field.timezone): the caller cannot tell, so it must not guess.
 * Otherwise why explains a closed window.
 */
int run_window_open(const struct exp_window *w, const char *field, bool *open, char *why,
		    size_t size);

/*
 * Block SIGINT and SIGTERM in the calling thread (call it before any thread exists, so
 * that every thread inherits the mask) and return a nonblocking signalfd for them, or -errno.
 */
int run_signals(void);

/* One loaded experiment to run. */
struct run_spec {
	const struct experiment *e;
	const struct inventory *inv; /* NULL: no inventory */
	const char *file;	     /* the experiment file, as messages and reports name it */
	FILE *view;		     /* the live view */
	int sfd;		     /* from run_signals(): SIGINT/SIGTERM revert and end the run */
	const char *cmd;	     /* prefix of messages on stderr, "faultctl run" */
};

/* What run_execute() hands back besides the exit code. */
struct run_result {
	json_t *report; /* the JSON report; NULL when the input was invalid or memory ran out */
	bool abandoned; /* check threads cut short by a signal may still read the experiment,
			 * which then must stay allocated until the process exits */
	int signal;	/* SIGINT or SIGTERM received during the run (also while waiting for
			 * the recovery of an aborted run, which keeps its outcome), or 0 */
};

/*
 * Run one experiment, the whole of `faultctl run` after loading: window, agents,
 * before-checks, faults on schedule under leases, guardrails, revert, after-checks. The
 * reasons of failures without a report are on stderr. Returns the run's exit code.
 */
int run_execute(const struct run_spec *s, struct run_result *res);

/* Milliseconds since the run started, for reports. */
static inline double run_ms(const struct run *r, int64_t t_ns)
{
	return (double)(t_ns - r->t0_ns) / 1e6;
}

#endif
