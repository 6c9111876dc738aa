/*
 * The commands that ask every agent named one thing in parallel (abort, status): the
 * command line, the agents from the inventory and the words, the fan-out, and one line per
 * agent or one JSON document with an entry per agent.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmdline.h"
#include "ctl.h"
#include "diag.h"
#include "fleet.h"
#include "inventory.h"

const struct ctl_opt ctl_fleet_opts[] = {
	{.name = "inventory",
	 .short_name = 'i',
	 .kind = CTL_OPT_STRING,
	 .arg = "FILE",
	 .offset = offsetof(struct ctl_fleet_args, inventory)},
	{.name = "help", .short_name = 'h', .kind = CTL_OPT_HELP},
	{0},
};

int ctl_fleet_setup(const struct ctl_opts *opts, const char *cmd, const char *inv_path,
		    char **words, size_t n, struct fleet *f)
{
	struct inventory *inv = NULL;
	char err[FLEET_ERR_SIZE];
	struct diag_list dl;
	int r;

	if (fleet_init(f))
		return CTL_EXIT_INFRA;
	if (inv_path) {
		if (diag_init(&dl, inv_path))
			return CTL_EXIT_INFRA;
		r = inv_load_file(inv_path, &inv, &dl);
		if (r) {
			diag_print(stderr, &dl);
			diag_clear(&dl);
			return r == -ENOMEM ? CTL_EXIT_INFRA : CTL_EXIT_INVALID;
		}
		diag_clear(&dl);
	}
	r = fleet_from_words(f, inv, words, n, opts->agent, err, sizeof(err));
	inv_free(inv);
	if (r) {
		fprintf(stderr, "faultctl %s: %s\n", cmd, r == -ENOMEM ? "out of memory" : err);
		return r == -ENOMEM ? CTL_EXIT_INFRA : CTL_EXIT_INVALID;
	}
	return CTL_EXIT_OK;
}

struct fanout {
	const struct ctl_fleet_cmd *c;
	char *results;
};

static void *result_of(const struct ctl_fleet_cmd *c, char *results, size_t i)
{
	return results + i * c->result_size;
}

/* In the agent's thread: its own slot of the results. */
static int call_one(struct fleet_agent *a, void *arg)
{
	struct fanout *fo = arg;

	return fo->c->call(a, result_of(fo->c, fo->results, (size_t)(a - a->fleet->agents)));
}

int ctl_fleet_run(const struct ctl_opts *opts, int argc, char **argv, const struct ctl_fleet_cmd *c)
{
	struct ctl_fleet_args args = {0};
	json_t *doc = NULL, *arr;
	char *results = NULL;
	size_t failed;
	struct fleet f;
	int first, ret;

	first = ctl_cmdline_parse(c->cl, argc, argv, &args);
	if (first <= 0)
		return first ? CTL_EXIT_INVALID : CTL_EXIT_OK;
	ret = ctl_fleet_setup(opts, c->cmd, args.inventory, argv + first, (size_t)(argc - first),
			      &f);
	if (ret)
		goto out;
	results = calloc(f.n ? f.n : 1, c->result_size);
	if (!results) {
		ret = CTL_EXIT_INFRA;
		goto out;
	}
	fleet_connect(&f, false);
	failed = fleet_each(&f, call_one, &(struct fanout){.c = c, .results = results});
	arr = json_array();
	doc = json_pack("{s:b, s:o}", "ok", !failed, "agents", arr);
	for (size_t i = 0; i < f.n; i++) {
		const struct fleet_agent *a = &f.agents[i];
		const void *res = result_of(c, results, i);
		bool ok = c->ok(a, res);
		json_t *o = json_pack("{s:s, s:s, s:b}", "name", a->name, "address", a->address,
				      "ok", ok);

		if (o)
			c->fields(o, a, res, ok);
		if (o && !ok)
			json_object_set_new(o, "error", json_string(a->err));
		json_array_append_new(arr, o);
		if (opts->json)
			continue;
		if (ok)
			c->print(a, res);
		else
			fprintf(stderr, "faultctl %s: %s: %s\n", c->cmd, a->name, a->err);
	}
	if (opts->json && doc) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		printf("\n");
	}
	ret = failed ? CTL_EXIT_INFRA : CTL_EXIT_OK;
out:
	for (size_t i = 0; results && c->release && i < f.n; i++)
		c->release(result_of(c, results, i));
	json_decref(doc);
	free(results);
	fleet_release(&f);
	return ret;
}
