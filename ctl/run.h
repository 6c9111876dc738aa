/*
 * The run engine (run.c): load an experiment and its inventory, resolve its agents, and run
 * it, the whole of `faultctl run` after its command line and of each step of a game day.
 */
#ifndef FL_RUN_H
#define FL_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct experiment;
struct inventory;
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

#endif
