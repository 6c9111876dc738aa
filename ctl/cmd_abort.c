/* faultctl abort: revert every fault on every agent named, all agents in parallel. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "diag.h"
#include "fleet.h"
#include "inventory.h"

void cmd_abort_usage(void)
{
	printf("Usage: faultctl [--agent ADDR] [--json] abort [--inventory FILE] [AGENT...]\n"
	       "\n"
	       "Revert every active fault on the agents given, all of them at the same time.\n"
	       "AGENT is an agent or a group of the inventory, or an address (unix:///PATH).\n"
	       "Without AGENT: every agent of the inventory, or without an inventory the agent\n"
	       "of --agent / $FAULTLINE_AGENT / the default socket.\n"
	       "\n"
	       "Exit status: 0 when every agent confirmed, 2 for invalid input, 3 when an agent\n"
	       "could not be reached or could not revert everything.\n");
}

struct abort_result {
	int64_t took_ns;
	json_int_t reverted;
};

static int abort_one(struct fleet_agent *a, void *arg)
{
	struct abort_result *res = (struct abort_result *)arg + (a - a->fleet->agents);
	int64_t t0 = fleet_now_ns();
	json_t *resp = NULL;
	char buf[128];
	int status, err;

	err = fleet_call(a, "DELETE", "/v1/faults", NULL, &status, &resp);
	res->took_ns = fleet_now_ns() - t0;
	if (err)
		return err;
	if (status != 200 || json_unpack(resp, "{s:I}", "reverted", &res->reverted)) {
		snprintf(a->err, sizeof(a->err), "%s",
			 client_error_message(resp, status, buf, sizeof(buf)));
		json_decref(resp);
		return -EREMOTE;
	}
	json_decref(resp);
	return 0;
}

/* Shared by abort and status: the inventory (if any) and the agents the words name. */
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

int cmd_abort(const struct ctl_opts *opts, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"inventory", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct abort_result *res = NULL;
	const char *inv_path = NULL;
	json_t *doc = NULL, *arr;
	struct fleet f;
	size_t failed = 0;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+i:h", longopts, NULL)) != -1) {
		if (c == 'i') {
			inv_path = optarg;
			continue;
		}
		if (c == 'h') {
			cmd_abort_usage();
			return CTL_EXIT_OK;
		}
		fprintf(stderr, "faultctl abort: try 'faultctl abort --help'\n");
		return CTL_EXIT_INVALID;
	}
	ret = ctl_fleet_setup(opts, "abort", inv_path, argv + optind, (size_t)(argc - optind), &f);
	if (ret)
		goto out;
	res = calloc(f.n ? f.n : 1, sizeof(*res));
	if (!res) {
		ret = CTL_EXIT_INFRA;
		goto out;
	}
	fleet_connect(&f, false);
	failed = fleet_each(&f, abort_one, res);
	arr = json_array();
	doc = json_pack("{s:b, s:o}", "ok", !failed, "agents", arr);
	for (size_t i = 0; i < f.n; i++) {
		const struct fleet_agent *a = &f.agents[i];
		bool ok = a->ctl && !a->err[0];
		json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:f}", "name", a->name, "address",
				      a->address, "ok", ok, "reverted", res[i].reverted, "took_ms",
				      res[i].took_ns / 1e6);

		if (o && !ok)
			json_object_set_new(o, "error", json_string(a->err));
		json_array_append_new(arr, o);
		if (opts->json)
			continue;
		if (ok)
			printf("%s: reverted %" JSON_INTEGER_FORMAT " fault%s (%.1f ms)\n", a->name,
			       res[i].reverted, res[i].reverted == 1 ? "" : "s",
			       res[i].took_ns / 1e6);
		else
			fprintf(stderr, "faultctl abort: %s: %s\n", a->name, a->err);
	}
	if (opts->json && doc) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		printf("\n");
	}
	ret = failed ? CTL_EXIT_INFRA : CTL_EXIT_OK;
out:
	json_decref(doc);
	free(res);
	fleet_release(&f);
	return ret;
}
