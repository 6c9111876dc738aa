/* faultctl abort: revert every fault on every agent named, all agents in parallel. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmdline.h"
#include "ctl.h"
#include "fleet.h"

static const struct ctl_cmdline abort_cl = {
	.cmd = "faultctl abort",
	.head = "Usage: faultctl [--agent ADDR] [--json] abort [--inventory FILE] [AGENT...]\n"
		"\n"
		"Revert every active fault on the agents given, all of them at the same time.\n"
		"AGENT is an agent or a group of the inventory, or an address (unix:///PATH).\n"
		"Without AGENT: every agent of the inventory, or without an inventory the agent\n"
		"of --agent / $FAULTLINE_AGENT / the default socket.\n"
		"\n",
	.tail = "Exit status: 0 when every agent confirmed, 2 for invalid input, 3 when an agent\n"
		"could not be reached or could not revert everything.\n",
	.opts = ctl_fleet_opts,
	.options_first = true,
};

void cmd_abort_usage(void)
{
	ctl_cmdline_usage(&abort_cl);
}

struct abort_result {
	int64_t took_ns;
	json_int_t reverted;
};

static int abort_one(struct fleet_agent *a, void *result)
{
	struct abort_result *res = result;
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

static bool abort_ok(const struct fleet_agent *a, const void *result)
{
	(void)result;
	return a->ctl && !a->err[0];
}

static void abort_fields(json_t *o, const struct fleet_agent *a, const void *result, bool ok)
{
	const struct abort_result *res = result;

	(void)a;
	(void)ok;
	json_object_set_new(o, "reverted", json_integer(res->reverted));
	json_object_set_new(o, "took_ms", json_real(res->took_ns / 1e6));
}

static void abort_print(const struct fleet_agent *a, const void *result)
{
	const struct abort_result *res = result;

	printf("%s: reverted %" JSON_INTEGER_FORMAT " fault%s (%.1f ms)\n", a->name, res->reverted,
	       res->reverted == 1 ? "" : "s", res->took_ns / 1e6);
}

int cmd_abort(const struct ctl_opts *opts, int argc, char **argv)
{
	static const struct ctl_fleet_cmd c = {
		.cmd = "abort",
		.cl = &abort_cl,
		.result_size = sizeof(struct abort_result),
		.call = abort_one,
		.ok = abort_ok,
		.fields = abort_fields,
		.print = abort_print,
	};

	return ctl_fleet_run(opts, argc, argv, &c);
}
