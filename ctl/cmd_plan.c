/* faultctl plan: the dry run of one experiment file; changes nothing, contacts nothing. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "diag.h"
#include "exp.h"

void cmd_plan_usage(void)
{
	printf("Usage: faultctl [--json] plan FILE\n"
	       "\n"
	       "Validate an experiment file and print what running it would do: the timeline of\n"
	       "faults applied and reverted on which agents and targets, the guardrails with "
	       "their\n"
	       "thresholds, the lease and the steady-state checks. Nothing is applied and no "
	       "agent\n"
	       "is contacted. With --json the plan is one JSON document on stdout.\n"
	       "\n"
	       "Exit status: 0 with a plan, 2 when the file is invalid or unreadable.\n");
}

static int print_problems(const struct ctl_opts *opts, struct diag_list *dl)
{
	json_t *diags, *doc;

	if (!opts->json) {
		diag_print(stderr, dl);
		return CTL_EXIT_INVALID;
	}
	if (diag_to_json(dl, &diags))
		return CTL_EXIT_INFRA;
	doc = json_pack("{s:b, s:o}", "valid", 0, "diagnostics", diags);
	if (!doc)
		return CTL_EXIT_INFRA;
	json_dumpf(doc, stdout, JSON_INDENT(2));
	printf("\n");
	json_decref(doc);
	return CTL_EXIT_INVALID;
}

int cmd_plan(const struct ctl_opts *opts, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct experiment *e = NULL;
	struct diag_list dl;
	json_t *plan;
	int c, err, ret;

	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (c == 'h') {
			cmd_plan_usage();
			return CTL_EXIT_OK;
		}
		fprintf(stderr, "faultctl plan: try 'faultctl plan --help'\n");
		return CTL_EXIT_INVALID;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "faultctl plan: expected exactly one experiment file\n");
		return CTL_EXIT_INVALID;
	}
	if (diag_init(&dl, argv[optind]))
		goto nomem;
	err = exp_load_file(argv[optind], &e, &dl);
	if (err == -ENOMEM) {
		diag_clear(&dl);
		goto nomem;
	}
	if (err) {
		ret = print_problems(opts, &dl);
		diag_clear(&dl);
		return ret;
	}
	diag_clear(&dl);
	if (opts->json) {
		err = exp_plan_json(e, &plan);
		if (!err) {
			json_dumpf(plan, stdout, JSON_INDENT(2));
			printf("\n");
			json_decref(plan);
		}
	} else {
		err = exp_plan_render(stdout, e, argv[optind]);
	}
	exp_free(e);
	if (err == -ENOMEM)
		goto nomem;
	if (err) {
		fprintf(stderr, "faultctl plan: cannot write the plan: %s\n", strerror(-err));
		return CTL_EXIT_INFRA;
	}
	return fflush(stdout) ? CTL_EXIT_INFRA : CTL_EXIT_OK;
nomem:
	fprintf(stderr, "faultctl plan: out of memory\n");
	return CTL_EXIT_INFRA;
}
