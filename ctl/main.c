/* faultctl: the faultline controller CLI. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "ctl.h"
#include "log.h"
#include "version.h"

/* One row per subcommand; adding a subcommand is one file and one row. */
static const struct ctl_cmd commands[] = {
	{"agent", cmd_agent, "talk to an agent: agent info", cmd_agent_usage},
	{"validate", cmd_validate, "check experiment files, report every problem",
	 cmd_validate_usage},
	{"plan", cmd_plan, "dry run: timeline, guardrails and lease of an experiment",
	 cmd_plan_usage},
	{"check", cmd_check, "evaluate an experiment's steady-state checks once, now",
	 cmd_check_usage},
	{"guard", cmd_guard, "watch an experiment's guardrails without injecting anything",
	 cmd_guard_usage},
	{"run", cmd_run, "run an experiment: faults, guardrails, auto-abort, reports",
	 cmd_run_usage},
	{"gameday", cmd_gameday, "run a game-day plan: experiments in order, one combined report",
	 cmd_gameday_usage},
	{"abort", cmd_abort, "revert every fault on agents of an inventory, in parallel",
	 cmd_abort_usage},
	{"status", cmd_status, "leases and active faults of each agent", cmd_status_usage},
	{"targets", cmd_targets, "containers an agent sees, as container targets resolve them",
	 cmd_targets_usage},
	/* Hidden from the list (summary NULL): the remote end of ssh://, docs/transport.md. */
	{"dial-stdio", cmd_dial_stdio, NULL, cmd_dial_stdio_usage},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The global options, before the command; the command's own come after its name. */
struct global {
	struct ctl_opts opts;
	int verbose;
	bool help, version;
};

#define GL(m) offsetof(struct global, m)

static const struct ctl_opt global_opts[] = {
	{.name = "agent",
	 .kind = CTL_OPT_STRING,
	 .arg = "ADDR",
	 .offset = GL(opts.agent),
	 .help = "agent address: unix:///PATH or\n"
		 "ssh://[user@]host[:port][/PATH] (default: $FAULTLINE_AGENT,\n"
		 "else unix:///run/faultline/agent.sock)"},
	{.name = "json",
	 .kind = CTL_OPT_FLAG,
	 .offset = GL(opts.json),
	 .help = "machine-readable JSON on stdout"},
	{.name = "verbose",
	 .short_name = 'v',
	 .kind = CTL_OPT_COUNT,
	 .offset = GL(verbose),
	 .help = "more log output on stderr (-vv: debug)"},
	{.name = "help",
	 .short_name = 'h',
	 .kind = CTL_OPT_FLAG,
	 .offset = GL(help),
	 .help = "this help; 'faultctl COMMAND --help' for a command"},
	{.name = "version",
	 .kind = CTL_OPT_FLAG,
	 .offset = GL(version),
	 .help = "print the version"},
	{0},
};

/* The commands' list and the exit status follow the options (usage()). */
static const struct ctl_cmdline global_cl = {
	.cmd = "faultctl",
	.head = "Usage: faultctl [--agent ADDR] [--json] COMMAND [ARGS...]\n"
		"\n"
		"Global options:\n",
	.opts = global_opts,
	/* '+': the first operand is the command, and the rest belongs to it. */
	.options_first = true,
};

static void usage(FILE *f)
{
	ctl_cmdline_print(f, &global_cl);
	fprintf(f, "\nCommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (commands[i].summary)
			fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nExit status: 0 ok, 1 aborted by a guardrail, 2 invalid input,\n"
		   "3 agent or infrastructure error, 4 run refused to start (docs/faultctl.md).\n");
}

int main(int argc, char **argv)
{
	struct global g = {0};
	int first;

	first = ctl_cmdline_parse(&global_cl, argc, argv, &g);
	if (first < 0)
		return CTL_EXIT_INVALID;
	if (g.help) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	if (g.version) {
		printf("faultctl %s\n", FL_VERSION);
		return CTL_EXIT_OK;
	}
	log_setup("faultctl",
		  g.verbose ? (g.verbose > 1 ? LOG_LVL_DEBUG : LOG_LVL_INFO) : LOG_LVL_WARN,
		  LOG_STYLE_HUMAN);
	if (first >= argc) {
		usage(stderr);
		return CTL_EXIT_INVALID;
	}
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(argv[first], commands[i].name))
			continue;
		if (argc - first > 1 &&
		    (!strcmp(argv[first + 1], "--help") || !strcmp(argv[first + 1], "-h"))) {
			commands[i].usage();
			return CTL_EXIT_OK;
		}
		/* Subcommands parse their own options from a fresh getopt state. */
		return commands[i].run(&g.opts, argc - first, argv + first);
	}
	fprintf(stderr, "faultctl: unknown command '%s'\n\n", argv[first]);
	usage(stderr);
	return CTL_EXIT_INVALID;
}
