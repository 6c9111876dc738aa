/* faultctl check: evaluate an experiment's steady-state checks once, now. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cmdline.h"
#include "ctl.h"
#include "diag.h"
#include "exp.h"
#include "guard.h"
#include "units.h"

/* What the command line sets, over the defaults cmd_check() puts in. */
struct check_cmdline {
	const char *phase;
	int64_t timeout_ns;
	bool json;
};

static const char *const phases[] = {"before", "after", NULL};

static const struct ctl_opt check_opts[] = {
	{.name = "phase",
	 .kind = CTL_OPT_CHOICE,
	 .arg = "before|after",
	 .offset = offsetof(struct check_cmdline, phase),
	 .help = "which list of steady_state to evaluate (default before)",
	 .choices = phases},
	{.name = "timeout",
	 .kind = CTL_OPT_DURATION,
	 .arg = "DURATION",
	 .offset = offsetof(struct check_cmdline, timeout_ns),
	 .help = "bound on each check (default 30s); a check that has no\n"
		 "answer by then is a probe error"},
	{.name = "json",
	 .kind = CTL_OPT_FLAG,
	 .offset = offsetof(struct check_cmdline, json),
	 .help = "one JSON document on stdout: {\"phase\", \"passed\",\n"
		 "\"checks\": [{\"name\", \"passed\", \"on_error\", \"reading\"}]}"},
	{.name = "help", .short_name = 'h', .kind = CTL_OPT_HELP},
	{0},
};

static const struct ctl_cmdline check_cmdline = {
	.cmd = "faultctl check",
	.head = "Usage: faultctl [--json] check FILE [--phase before|after] [--timeout DURATION]\n"
		"                [--json]\n"
		"\n"
		"Evaluate the steady-state checks of an experiment file once, now, all of them\n"
		"concurrently, and print one line per check: its name, pass or FAIL, and what\n"
		"was measured. Nothing is injected and no agent is contacted.\n"
		"\n",
	.tail = "How each probe is evaluated once (an HTTP check sends a short burst of requests\n"
		"at its rate) is described in docs/guardrails.md. A check whose probe cannot run\n"
		"fails under on_error abort (the default) and passes with a warning under warn or\n"
		"silently under ignore.\n"
		"\n"
		"Exit status: 0 every check passed (or there are none), 1 a check found the "
		"system\n"
		"unhealthy, 2 invalid input, 3 no check found it unhealthy but one could not be\n"
		"evaluated (probe error under on_error abort) or faultctl itself failed.\n",
	.opts = check_opts,
};

void cmd_check_usage(void)
{
	ctl_cmdline_usage(&check_cmdline);
}

struct check_job {
	const struct exp_check *c;
	int64_t deadline_ns;
	struct guard_reading r;
	int err;
	pthread_t thread;
	bool started;
};

static void *check_main(void *arg)
{
	struct check_job *j = arg;

	j->err = guard_check_run(j->c, j->deadline_ns, &j->r);
	return NULL;
}

static const char *on_error_name(int v)
{
	return v == EXP_ON_ERROR_WARN ? "warn" : v == EXP_ON_ERROR_IGNORE ? "ignore" : "abort";
}

static int load(const char *path, const struct ctl_opts *opts, struct experiment **e)
{
	struct diag_list dl;
	int err;

	if (diag_init(&dl, path))
		return -ENOMEM;
	err = exp_load_file(path, e, &dl);
	if (err && err != -ENOMEM)
		diag_print(stderr, &dl);
	diag_clear(&dl);
	return err;
}

int cmd_check(const struct ctl_opts *opts, int argc, char **argv)
{
	struct check_cmdline args = {
		.phase = "before", .timeout_ns = 30LL * UNITS_NSEC_PER_SEC, .json = opts->json};
	const char *phase;
	int64_t timeout_ns;
	bool json, any_unhealthy = false, any_error = false, infra = false;
	struct experiment *e = NULL;
	struct check_job *jobs = NULL;
	const struct exp_check *checks;
	json_t *arr = NULL, *doc;
	size_t n;
	int c, err, ret;

	c = ctl_cmdline_parse(&check_cmdline, argc, argv, &args);
	if (c <= 0)
		return c ? CTL_EXIT_INVALID : CTL_EXIT_OK;
	phase = args.phase;
	timeout_ns = args.timeout_ns;
	json = args.json;
	if (argc - c != 1) {
		fprintf(stderr, "faultctl check: expected exactly one experiment file\n");
		return CTL_EXIT_INVALID;
	}
	err = load(argv[c], opts, &e);
	if (err == -ENOMEM)
		goto nomem;
	if (err)
		return CTL_EXIT_INVALID;
	if (!strcmp(phase, "before")) {
		checks = e->steady_state.before;
		n = e->steady_state.n_before;
	} else {
		checks = e->steady_state.after;
		n = e->steady_state.n_after;
	}
	if (!n && !json)
		fprintf(stderr, "faultctl check: %s: no '%s' steady-state checks\n", argv[c],
			phase);
	jobs = calloc(n ? n : 1, sizeof(*jobs));
	if (!jobs)
		goto nomem;
	/* Concurrently, so the whole command is bounded by one timeout, not n of them. */
	for (size_t i = 0; i < n; i++) {
		jobs[i].c = &checks[i];
		jobs[i].deadline_ns = guard_now_ns() + timeout_ns;
		err = pthread_create(&jobs[i].thread, NULL, check_main, &jobs[i]);
		if (err) {
			/* Run it here instead: slower, but still bounded by its deadline. */
			check_main(&jobs[i]);
			continue;
		}
		jobs[i].started = true;
	}
	for (size_t i = 0; i < n; i++)
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
	if (json) {
		arr = json_array();
		if (!arr)
			goto nomem;
	}
	for (size_t i = 0; i < n; i++) {
		struct check_job *j = &jobs[i];
		bool passed;

		if (j->err) {
			infra = true;
			fprintf(stderr, "faultctl check: %s: %s\n", j->c->name, strerror(-j->err));
			guard_reading_error(&j->r, guard_now_ns(), "faultctl failed: %s",
					    strerror(-j->err));
		}
		passed = !j->err && guard_check_passed(&j->r, j->c->on_error);
		if (!passed && j->r.valid)
			any_unhealthy = true;
		else if (!passed)
			any_error = true;
		if (json) {
			json_t *r = guard_reading_json(&j->r), *o;

			o = r ? json_pack("{s:s, s:b, s:s, s:o}", "name", j->c->name, "passed",
					  passed, "on_error", on_error_name(j->c->on_error),
					  "reading", r)
			      : NULL;
			if (!o || json_array_append_new(arr, o))
				goto nomem;
			continue;
		}
		printf("%s: %s: %s: %s\n", phase, j->c->name,
		       passed ? (j->r.valid ? "pass" : "pass (probe error, on_error not abort)")
			      : (j->r.valid ? "FAIL" : "FAIL (probe error)"),
		       j->r.summary);
		if (!j->r.valid && j->c->on_error == EXP_ON_ERROR_WARN)
			fprintf(stderr, "faultctl check: warning: %s: probe cannot run: %s\n",
				j->c->name, j->r.summary);
	}
	ret = any_unhealthy	     ? CTL_EXIT_ABORTED
	      : (any_error || infra) ? CTL_EXIT_INFRA
				     : CTL_EXIT_OK;
	if (json) {
		doc = json_pack("{s:s, s:b, s:o}", "phase", phase, "passed", ret == CTL_EXIT_OK,
				"checks", arr);
		arr = NULL;
		if (!doc)
			goto nomem;
		json_dumpf(doc, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(doc);
	}
	free(jobs);
	exp_free(e);
	return ret;
nomem:
	json_decref(arr);
	free(jobs);
	exp_free(e);
	fprintf(stderr, "faultctl check: out of memory\n");
	return CTL_EXIT_INFRA;
}
