/*
 * faultctl plan: the dry run of one experiment file; changes nothing. Without --resolve it
 * contacts nothing; with --resolve it asks each agent what every fault would hit now
 * (POST /v1/resolve, read-only on the agent).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "ctl.h"
#include "diag.h"
#include "exp.h"
#include "fleet.h"
#include "inventory.h"
#include "run.h"

/* What the command line sets. */
struct plan_cmdline {
	const char *inventory;
	bool resolve;
};

static const struct ctl_opt plan_opts[] = {
	{.name = "help", .short_name = 'h', .kind = CTL_OPT_HELP},
	{.name = "resolve",
	 .short_name = 'r',
	 .kind = CTL_OPT_FLAG,
	 .offset = offsetof(struct plan_cmdline, resolve),
	 .help = "ask each agent of the experiment, without applying anything,\n"
		 "what every fault would hit now: processes (pid, comm, user,\n"
		 "cgroup), interfaces and their addresses, and why a fault\n"
		 "would be refused (policy cap, protected, nothing matched,\n"
		 "no such interface)"},
	{.name = "inventory",
	 .short_name = 'i',
	 .kind = CTL_OPT_STRING,
	 .arg = "FILE",
	 .offset = offsetof(struct plan_cmdline, inventory),
	 .help = "agents and groups by name (default: the experiment's\n"
		 "'inventory', relative to the experiment file)"},
	{0},
};

static const struct ctl_cmdline plan_cl = {
	.cmd = "faultctl plan",
	.head = "Usage: faultctl [--json] plan [--resolve [--inventory FILE]] FILE\n"
		"\n"
		"Validate an experiment file and print what running it would do: the timeline of\n"
		"faults applied and reverted on which agents and targets, the guardrails with "
		"their\n"
		"thresholds, the lease and the steady-state checks. Nothing is applied and no "
		"agent\n"
		"is contacted. With --json the plan is one JSON document on stdout.\n"
		"\n",
	.tail = "Exit status: 0 with a plan (with --resolve: every fault would be applied), 2 "
		"when\n"
		"the file is invalid or unreadable, 3 when an agent cannot be asked, 4 when an\n"
		"agent would refuse a fault.\n",
	.opts = plan_opts,
	.help_col = 21,
	.options_first = true,
};

void cmd_plan_usage(void)
{
	ctl_cmdline_usage(&plan_cl);
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

/*
 * A network target's namespace(s): the one of a netns or container target, each selected
 * container's when it selects several, and how count or percent chose them (with the seed).
 */
static void plan_print_netns(const json_t *t)
{
	const json_t *ns = json_object_get(t, "netns"), *sel = json_object_get(t, "selection"), *m;
	size_t j;

	if (ns && !json_object_get(t, "containers"))
		printf("    in %s (netns %lld)\n",
		       json_string_value(json_object_get(ns, "desc")) ?: "?",
		       (long long)json_integer_value(json_object_get(ns, "inode")));
	json_array_foreach(json_object_get(t, "containers"), j, m)
	{
		const json_t *mns = json_object_get(m, "netns");

		printf("    in %s (netns %lld), interface %s\n",
		       json_string_value(json_object_get(mns, "desc")) ?: "?",
		       (long long)json_integer_value(json_object_get(mns, "inode")),
		       json_string_value(json_object_get(m, "interface")) ?: "?");
	}
	if (sel)
		printf("    %lld of %lld matching containers, seed %lld%s%s%s\n",
		       (long long)json_integer_value(json_object_get(sel, "selected")),
		       (long long)json_integer_value(json_object_get(sel, "matched")),
		       (long long)json_integer_value(json_object_get(sel, "seed")),
		       json_object_get(sel, "choice") ? " (" : "",
		       json_string_value(json_object_get(sel, "choice")) ?: "",
		       json_object_get(sel, "choice") ? ")" : "");
}

/* One agent's answer, as plain text: each fault and what it would hit. */
static void print_resolved(const json_t *agent)
{
	const json_t *f, *p;
	size_t i, j;

	printf("agent %s (%s)\n", json_string_value(json_object_get(agent, "name")),
	       json_string_value(json_object_get(agent, "address")));
	if (!json_is_true(json_object_get(agent, "ok"))) {
		printf("  cannot ask it: %s\n", json_string_value(json_object_get(agent, "error")));
		return;
	}
	json_array_foreach(json_object_get(agent, "faults"), i, f)
	{
		const json_t *t = json_object_get(f, "target"),
			     *ref = json_object_get(f, "refused");

		printf("  fault %s (%s): %s\n", json_string_value(json_object_get(f, "name")),
		       json_string_value(json_object_get(f, "type")),
		       ref ? "WOULD BE REFUSED" : "would apply");
		if (ref) {
			const json_t *probs = json_object_get(ref, "problems");

			printf("    refused (%d %s): %s\n",
			       (int)json_integer_value(json_object_get(ref, "status")),
			       json_string_value(json_object_get(ref, "code")),
			       json_string_value(json_object_get(ref, "message")));
			json_array_foreach(probs, j, p) printf(
				"      %s: %s\n", json_string_value(json_object_get(p, "path")),
				json_string_value(json_object_get(p, "message")));
		}
		if (!t)
			continue;
		if (json_object_get(t, "interface")) {
			const json_t *a;
			size_t k;

			printf("    interface %s (index %d, %s), addresses:",
			       json_string_value(json_object_get(t, "interface")),
			       (int)json_integer_value(json_object_get(t, "ifindex")),
			       json_is_true(json_object_get(t, "up")) ? "up" : "down");
			json_array_foreach(json_object_get(t, "addresses"), k, a)
				printf(" %s", json_string_value(a));
			printf("%s\n",
			       json_array_size(json_object_get(t, "addresses")) ? "" : " none");
			plan_print_netns(t);
			continue;
		}
		/* A container target: the containers it resolved to, before their processes. */
		json_array_foreach(json_object_get(t, "containers"), j, p)
			printf("    container %.12s %s (%s), main pid %d, netns %lld\n",
			       json_string_value(json_object_get(p, "id")) ?: "?",
			       json_string_value(json_object_get(p, "name")) ?: "-",
			       json_string_value(json_object_get(p, "runtime")) ?: "?",
			       (int)json_integer_value(json_object_get(p, "main_pid")),
			       (long long)json_integer_value(json_object_get(p, "netns_inode")));
		/* A stressor's container target: the container alone, no process is hit. */
		if (!json_object_get(t, "matched"))
			continue;
		printf("    %d process%s match (and %d protected), %d would be hit%s%s%s\n",
		       (int)json_integer_value(json_object_get(t, "matched")),
		       json_integer_value(json_object_get(t, "matched")) == 1 ? "" : "es",
		       (int)json_integer_value(json_object_get(t, "protected_matches")),
		       (int)json_integer_value(json_object_get(t, "would_hit")),
		       json_object_get(t, "choice") ? " (" : "",
		       json_object_get(t, "choice")
			       ? json_string_value(json_object_get(t, "choice"))
			       : "",
		       json_object_get(t, "choice") ? ")" : "");
		json_array_foreach(json_object_get(t, "processes"), j, p)
			printf("      pid %-8d %-16s user %-12s cgroup %s%s\n",
			       (int)json_integer_value(json_object_get(p, "pid")),
			       json_string_value(json_object_get(p, "comm")),
			       json_string_value(json_object_get(p, "user")) ?: "?",
			       json_string_value(json_object_get(p, "cgroup")) ?: "?",
			       json_is_false(json_object_get(p, "chosen")) ? " (not chosen)" : "");
		json_array_foreach(json_object_get(t, "protected"), j, p)
			printf("      pid %-8d %-16s user %-12s protected: %s\n",
			       (int)json_integer_value(json_object_get(p, "pid")),
			       json_string_value(json_object_get(p, "comm")),
			       json_string_value(json_object_get(p, "user")) ?: "?",
			       json_string_value(json_object_get(p, "why")));
		if (json_object_get(t, "truncated"))
			printf("      (lists cut at %d)\n",
			       (int)json_integer_value(json_object_get(t, "truncated")));
	}
}

/* POST /v1/resolve to one agent with the faults it would run. 0, -ENOMEM, -EREMOTE. */
static int resolve_agent(struct fleet *fl, const struct experiment *e, const struct inventory *inv,
			 size_t ai, size_t *idx, json_t *entry, bool *refused)
{
	struct fleet_agent *a = &fl->agents[ai];
	json_t *faults = json_array(), *body, *resp = NULL, *res, *r;
	char err[FLEET_ERR_SIZE], buf[128];
	int status, ret;
	size_t i;

	body = json_pack("{s:o}", "faults", faults);
	if (!body)
		return -ENOMEM;
	for (size_t fi = 0; fi < e->n_faults; fi++) {
		int k = fleet_fault_agents(fl, e, inv, fi, idx, err, sizeof(err));
		json_t *fj;

		if (k < 0) {
			json_object_set_new(entry, "error", json_string(err));
			json_decref(body);
			return -EINVAL;
		}
		for (int j = 0; j < k; j++) {
			if (idx[j] != ai)
				continue;
			if (exp_fault_to_json(&e->faults[fi], &fj)) {
				json_decref(body);
				return -ENOMEM;
			}
			/* As run applies it: where and when are the controller's. */
			json_object_del(fj, "agents");
			json_object_del(fj, "start");
			json_array_append_new(faults, fj);
		}
	}
	if (!json_array_size(faults)) {
		json_object_set_new(entry, "faults", json_array());
		json_decref(body);
		return 0;
	}
	ret = fleet_call(a, "POST", "/v1/resolve", body, &status, &resp);
	json_decref(body);
	if (ret) {
		json_object_set_new(entry, "error", json_string(a->err));
		return -EREMOTE;
	}
	res = json_object_get(resp, "faults");
	if (status != 200 || !json_is_array(res)) {
		json_object_set_new(
			entry, "error",
			json_string(client_error_message(resp, status, buf, sizeof(buf))));
		json_decref(resp);
		return -EREMOTE;
	}
	json_array_foreach(res, i, r) if (json_object_get(r, "refused")) *refused = true;
	json_object_set(entry, "faults", res);
	json_decref(resp);
	return 0;
}

static int plan_resolve(const struct ctl_opts *opts, const char *file, const char *inv_path)
{
	struct experiment *e = NULL;
	struct inventory *inv = NULL;
	bool refused = false, unreachable = false;
	char err[FLEET_ERR_SIZE];
	json_t *agents = NULL, *doc = NULL;
	size_t *idx = NULL;
	struct fleet fl;
	int rc, ret = CTL_EXIT_INFRA;

	memset(&fl, 0, sizeof(fl));
	rc = run_load(file, inv_path, &e, &inv);
	if (rc) {
		ret = rc == -ENOMEM ? CTL_EXIT_INFRA : CTL_EXIT_INVALID;
		goto out;
	}
	rc = fleet_init(&fl);
	if (!rc)
		rc = fleet_from_experiment(&fl, e, inv, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "faultctl plan: %s\n", rc == -ENOMEM ? "out of memory" : err);
		ret = rc == -ENOMEM ? CTL_EXIT_INFRA : CTL_EXIT_INVALID;
		goto out;
	}
	/* Failures are per agent (a->err): the others are still asked. */
	fleet_connect(&fl, false);
	idx = calloc(fl.n ? fl.n : 1, sizeof(*idx));
	agents = json_array();
	if (!idx || !agents)
		goto nomem;
	for (size_t ai = 0; ai < fl.n; ai++) {
		struct fleet_agent *a = &fl.agents[ai];
		json_t *entry = json_pack("{s:s, s:s}", "name", a->name, "address", a->address);

		if (!entry || json_array_append_new(agents, entry))
			goto nomem;
		if (!a->ctl) {
			json_object_set_new(entry, "error", json_string(a->err));
			rc = -EREMOTE;
		} else {
			rc = resolve_agent(&fl, e, inv, ai, idx, entry, &refused);
		}
		if (rc == -ENOMEM)
			goto nomem;
		if (rc == -EINVAL) {
			fprintf(stderr, "faultctl plan: %s\n",
				json_string_value(json_object_get(entry, "error")));
			ret = CTL_EXIT_INVALID;
			goto out;
		}
		unreachable |= rc != 0;
		json_object_set_new(entry, "ok", json_boolean(!rc));
	}
	doc = json_pack("{s:s, s:b, s:O}", "experiment", e->name, "would_apply",
			!refused && !unreachable, "agents", agents);
	if (!doc)
		goto nomem;
	if (opts->json) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		size_t i;
		json_t *a;

		printf("What the faults of %s would hit now (nothing was applied):\n", file);
		json_array_foreach(agents, i, a) print_resolved(a);
	}
	if (fflush(stdout))
		ret = CTL_EXIT_INFRA;
	else if (unreachable)
		ret = CTL_EXIT_INFRA;
	else
		ret = refused ? CTL_EXIT_REFUSED : CTL_EXIT_OK;
	goto out;
nomem:
	fprintf(stderr, "faultctl plan: out of memory\n");
	ret = CTL_EXIT_INFRA;
out:
	json_decref(doc);
	json_decref(agents);
	free(idx);
	fleet_release(&fl);
	inv_free(inv);
	exp_free(e);
	return ret;
}

int cmd_plan(const struct ctl_opts *opts, int argc, char **argv)
{
	struct plan_cmdline args = {0};
	struct experiment *e = NULL;
	struct diag_list dl;
	json_t *plan;
	int c, err, ret;

	c = ctl_cmdline_parse(&plan_cl, argc, argv, &args);
	if (c <= 0)
		return c ? CTL_EXIT_INVALID : CTL_EXIT_OK;
	if (argc - c != 1) {
		fprintf(stderr, "faultctl plan: expected exactly one experiment file\n");
		return CTL_EXIT_INVALID;
	}
	if (args.inventory && !args.resolve) {
		fprintf(stderr, "faultctl plan: --inventory is only used with --resolve\n");
		return CTL_EXIT_INVALID;
	}
	if (args.resolve)
		return plan_resolve(opts, argv[c], args.inventory);
	if (diag_init(&dl, argv[c]))
		goto nomem;
	err = exp_load_file(argv[c], &e, &dl);
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
		err = exp_plan_render(stdout, e, argv[c]);
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
