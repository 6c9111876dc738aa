/* faultctl: subcommand interface and options shared by every subcommand. */
#ifndef FL_CTL_H
#define FL_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "cmdline.h"

/* Exit codes of faultctl, documented in docs/faultctl.md. */
enum ctl_exit {
	CTL_EXIT_OK = 0,      /* success; for run: the hypothesis held */
	CTL_EXIT_ABORTED = 1, /* run aborted by a guardrail */
	CTL_EXIT_INVALID = 2, /* invalid input: command line or experiment file */
	CTL_EXIT_INFRA = 3,   /* agent or infrastructure error */
	/* run: no verdict, the guardrails could not watch it; shares 3: neither held nor not */
	CTL_EXIT_INCONCLUSIVE = 3,
	CTL_EXIT_REFUSED = 4, /* run refused to start: steady state unhealthy, outside window */
};

struct ctl_opts {
	const char *agent; /* --agent, or NULL for $FAULTLINE_AGENT / the default */
	bool json;         /* --json: machine-readable output on stdout */
};

/*
 * A subcommand gets its own argv (argv[0] is the subcommand name) after the global options
 * were consumed, and returns an enum ctl_exit value.
 */
struct ctl_cmd {
	const char *name;
	int (*run)(const struct ctl_opts *opts, int argc, char **argv);
	const char *summary; /* NULL: hidden from the list (documented elsewhere) */
	void (*usage)(void);
};

int cmd_agent(const struct ctl_opts *opts, int argc, char **argv);
void cmd_agent_usage(void);
int cmd_targets(const struct ctl_opts *opts, int argc, char **argv);
void cmd_targets_usage(void);
int cmd_validate(const struct ctl_opts *opts, int argc, char **argv);
void cmd_validate_usage(void);
int cmd_plan(const struct ctl_opts *opts, int argc, char **argv);
void cmd_plan_usage(void);
int cmd_check(const struct ctl_opts *opts, int argc, char **argv);
void cmd_check_usage(void);
int cmd_guard(const struct ctl_opts *opts, int argc, char **argv);
void cmd_guard_usage(void);
int cmd_run(const struct ctl_opts *opts, int argc, char **argv);
void cmd_run_usage(void);
int cmd_gameday(const struct ctl_opts *opts, int argc, char **argv);
void cmd_gameday_usage(void);
int cmd_abort(const struct ctl_opts *opts, int argc, char **argv);
void cmd_abort_usage(void);
int cmd_status(const struct ctl_opts *opts, int argc, char **argv);
void cmd_status_usage(void);

struct fleet;
struct fleet_agent;

/*
 * For abort and status: load the inventory (if given) and resolve the agents the words
 * name into f (initialised here; release it whatever the outcome). Returns an exit code.
 */
int ctl_fleet_setup(const struct ctl_opts *opts, const char *cmd, const char *inv_path,
		    char **words, size_t n, struct fleet *f);

/*
 * A command that asks every agent it names one thing, all agents in parallel (fleet_cmd.c):
 * `faultctl CMD [--inventory FILE] [AGENT...]`. Each agent gets a zeroed result of
 * result_size bytes that call() fills in the agent's thread. Then, per agent in order, an
 * entry {name, address, ok, fields()..., error (when not ok)} of the JSON document
 * {"ok", "agents"} that --json prints, or else print() for an agent that is ok and
 * "faultctl CMD: AGENT: error" on stderr for one that is not.
 */
struct ctl_fleet_cmd {
	const char *cmd; /* "abort" */
	/* Its usage and messages' prefix; its options are ctl_fleet_opts (and so go first). */
	const struct ctl_cmdline *cl;
	size_t result_size;
	int (*call)(struct fleet_agent *a, void *result); /* 0 or -errno with a->err set */
	bool (*ok)(const struct fleet_agent *a, const void *result);
	void (*fields)(json_t *entry, const struct fleet_agent *a, const void *result, bool ok);
	void (*print)(const struct fleet_agent *a, const void *result);
	void (*release)(void *result); /* NULL: nothing to free */
};

/* What the options of such a command set. */
struct ctl_fleet_args {
	const char *inventory; /* --inventory FILE */
};

/* The options of such a command, into a struct ctl_fleet_args. */
extern const struct ctl_opt ctl_fleet_opts[];

/* Run such a command on its own argv. Returns an exit code: 3 when an agent failed. */
int ctl_fleet_run(const struct ctl_opts *opts, int argc, char **argv,
		  const struct ctl_fleet_cmd *c);
int cmd_dial_stdio(const struct ctl_opts *opts, int argc, char **argv);
void cmd_dial_stdio_usage(void);

#endif
