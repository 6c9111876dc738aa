/*
 * faultctl run: the command line. The run itself (steady state, faults under leases,
 * guardrails, revert, recovery) is run_execute() in run.c.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"
#include "ctl.h"
#include "exp.h"
#include "inventory.h"
#include "report.h"
#include "run.h"
#include "run_cmdline.h"

static const struct ctl_opt run_opts[] = {
	{.name = "inventory",
	 .short_name = 'i',
	 .kind = CTL_OPT_STRING,
	 .arg = "FILE",
	 .offset = offsetof(struct run_cmdline, inventory),
	 .help = "agents and groups by name (default: the experiment's\n"
		 "'inventory', relative to the experiment file)"},
	{.name = "report-json",
	 .kind = CTL_OPT_STRING,
	 .arg = "FILE",
	 .offset = offsetof(struct run_cmdline, report_json),
	 .help = "the report as JSON (docs/report.schema.json)"},
	{.name = "junit",
	 .kind = CTL_OPT_STRING,
	 .arg = "FILE",
	 .offset = offsetof(struct run_cmdline, junit),
	 .help = "the report as JUnit XML, one test case per check,\n"
		 "guardrail and the hypothesis"},
	{.name = "markdown",
	 .kind = CTL_OPT_STRING,
	 .arg = "FILE",
	 .offset = offsetof(struct run_cmdline, markdown),
	 .help = "a summary for game-day write-ups"},
	{.name = "json",
	 .kind = CTL_OPT_NOTE,
	 .arg = "(global)",
	 .help = "the JSON report on stdout; the live view goes to stderr"},
	{.name = "help", .short_name = 'h', .kind = CTL_OPT_HELP},
	{0},
};

static const struct ctl_cmdline run_cl = {
	.cmd = "faultctl run",
	.head = "Usage: faultctl [--json] run FILE [--inventory FILE] [--report-json FILE]\n"
		"                [--junit FILE] [--markdown FILE]\n"
		"\n"
		"Run an experiment: check the steady state, create a lease on every agent and\n"
		"renew it, apply every fault at its start offset, watch the guardrails and revert\n"
		"everything at once on a breach, at the end or on Ctrl-C; then run the after\n"
		"checks until they pass or recovery_timeout passes, and report.\n"
		"\n",
	.tail = "Exit status: 0 the hypothesis held (or dry run), 1 aborted by a guardrail or the\n"
		"steady state did not recover, 2 invalid input, 3 agent or infrastructure error,\n"
		"or inconclusive (the guardrails could not be read for most of the run),\n"
		"4 refused to start (steady state unhealthy, a guardrail unreadable before the\n"
		"run, outside the allowed window), 130/143 interrupted by SIGINT/SIGTERM\n"
		"(everything reverted).\n",
	.opts = run_opts,
};

void cmd_run_usage(void)
{
	ctl_cmdline_usage(&run_cl);
}

static const struct run_cmdline_spec run_cmdline = {
	.cl = &run_cl,
	.operand = "experiment file",
	.write_junit = report_write_junit,
	.write_markdown = report_write_markdown,
};

int cmd_run(const struct ctl_opts *opts, int argc, char **argv)
{
	struct inventory *inv = NULL;
	struct experiment *e = NULL;
	struct run_result res = {0};
	struct run_cmdline o;
	int sfd, ret, rc;

	rc = run_cmdline_parse(&run_cmdline, argc, argv, &o);
	if (rc)
		return rc > 0 ? CTL_EXIT_OK : CTL_EXIT_INVALID;
	rc = run_load(o.file, o.inventory, &e, &inv);
	if (rc) {
		exp_free(e);
		return rc == -ENOMEM ? CTL_EXIT_INFRA : CTL_EXIT_INVALID;
	}
	/* Before any thread exists, so that every thread inherits the mask. */
	sfd = run_signals();
	if (sfd < 0) {
		fprintf(stderr, "faultctl run: cannot set up signals: %s\n", strerror(-sfd));
		ret = CTL_EXIT_INFRA;
		goto out;
	}
	ret = run_execute(&(struct run_spec){.e = e,
					     .inv = inv,
					     .file = o.file,
					     .view = opts->json ? stderr : stdout,
					     .sfd = sfd,
					     .cmd = "faultctl run"},
			  &res);
	if (res.report && run_cmdline_write(&run_cmdline, &o, res.report, opts->json) &&
	    ret == CTL_EXIT_OK)
		ret = CTL_EXIT_INFRA;
	json_decref(res.report);
	close(sfd);
out:
	inv_free(inv);
	/* Checks abandoned on a signal may still read their probes until the process exits. */
	if (!res.abandoned)
		exp_free(e);
	return ret;
}
