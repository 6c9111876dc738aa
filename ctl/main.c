/* faultctl: the faultline controller CLI. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "version.h"

/* One row per subcommand; adding a subcommand is one file and one row. */
static const struct ctl_cmd commands[] = {
	{ "agent", cmd_agent, "talk to an agent: agent info", cmd_agent_usage },
	{ "validate", cmd_validate, "check experiment files, report every problem",
	  cmd_validate_usage },
	{ "plan", cmd_plan, "dry run: timeline, guardrails and lease of an experiment",
	  cmd_plan_usage },
	{ "check", cmd_check, "evaluate an experiment's steady-state checks once, now",
	  cmd_check_usage },
	{ "guard", cmd_guard, "watch an experiment's guardrails without injecting anything",
	  cmd_guard_usage },
	{ "run", cmd_run, "run an experiment: faults, guardrails, auto-abort, reports",
	  cmd_run_usage },
	{ "gameday", cmd_gameday, "run a game-day plan: experiments in order, one combined report",
	  cmd_gameday_usage },
	{ "abort", cmd_abort, "revert every fault on agents of an inventory, in parallel",
	  cmd_abort_usage },
	{ "status", cmd_status, "leases and active faults of each agent", cmd_status_usage },
	{ "targets", cmd_targets, "containers an agent sees, as container targets resolve them",
	  cmd_targets_usage },
	/* Hidden from the list (summary NULL): the remote end of ssh://, docs/transport.md. */
	{ "dial-stdio", cmd_dial_stdio, NULL, cmd_dial_stdio_usage },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: faultctl [--agent ADDR] [--json] COMMAND [ARGS...]\n"
		   "\n"
		   "Global options:\n"
		   "  --agent ADDR   agent address: unix:///PATH or\n"
		   "                 ssh://[user@]host[:port][/PATH] (default: $FAULTLINE_AGENT,\n"
		   "                 else unix:///run/faultline/agent.sock)\n"
		   "  --json         machine-readable JSON on stdout\n"
		   "  -v, --verbose  more log output on stderr\n"
		   "  -h, --help     this help; 'faultctl COMMAND --help' for a command\n"
		   "  --version      print the version\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (commands[i].summary)
			fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nExit status: 0 ok, 1 aborted by a guardrail, 2 invalid input,\n"
		   "3 agent or infrastructure error, 4 run refused to start (docs/faultctl.md).\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct ctl_opts opts = { 0 };
	enum log_level lvl = LOG_LVL_WARN;
	int c;

	/* '+' stops at the first non-option: the rest belongs to the subcommand. */
	while ((c = getopt_long(argc, argv, "+vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			opts.agent = optarg;
			break;
		case 'j':
			opts.json = true;
			break;
		case 'v':
			lvl = lvl == LOG_LVL_WARN ? LOG_LVL_INFO : LOG_LVL_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("faultctl %s\n", FL_VERSION);
			return CTL_EXIT_OK;
		default:
			usage(stderr);
			return CTL_EXIT_INVALID;
		}
	}
	log_setup("faultctl", lvl, LOG_STYLE_HUMAN);
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_INVALID;
	}
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(argv[optind], commands[i].name))
			continue;
		if (argc - optind > 1 &&
		    (!strcmp(argv[optind + 1], "--help") || !strcmp(argv[optind + 1], "-h"))) {
			commands[i].usage();
			return CTL_EXIT_OK;
		}
		/* Subcommands parse their own options from a fresh getopt state. */
		argc -= optind;
		argv += optind;
		optind = 0;
		return commands[i].run(&opts, argc, argv);
	}
	fprintf(stderr, "faultctl: unknown command '%s'\n\n", argv[optind]);
	usage(stderr);
	return CTL_EXIT_INVALID;
}
