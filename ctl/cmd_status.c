/* faultctl status: the leases and active faults of each agent, asked in parallel. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmdline.h"
#include "ctl.h"
#include "fleet.h"

static const struct ctl_cmdline status_cl = {
	.cmd = "faultctl status",
	.head = "Usage: faultctl [--agent ADDR] [--json] status [--inventory FILE] [AGENT...]\n"
		"\n"
		"Show the leases (with the time left) and the active faults of each agent.\n"
		"AGENT is an agent or a group of the inventory, or an address (unix:///PATH).\n"
		"Without AGENT: every agent of the inventory, or the agent of --agent.\n"
		"\n",
	.tail = "Exit status: 0 when every agent answered, 2 for invalid input, 3 when an agent\n"
		"could not be reached.\n",
	.opts = ctl_fleet_opts,
	.options_first = true,
};

void cmd_status_usage(void)
{
	ctl_cmdline_usage(&status_cl);
}

struct status_result {
	json_t *leases, *faults;
};

static int status_one(struct fleet_agent *a, void *result)
{
	struct status_result *res = result;
	json_t *resp = NULL;
	char buf[128];
	int status, err;

	err = fleet_call(a, "GET", "/v1/leases", NULL, &status, &resp);
	if (err)
		return err;
	if (status != 200 || !json_is_array(json_object_get(resp, "leases")))
		goto bad;
	res->leases = json_incref(json_object_get(resp, "leases"));
	json_decref(resp);
	err = fleet_call(a, "GET", "/v1/faults", NULL, &status, &resp);
	if (err)
		return err;
	if (status != 200 || !json_is_array(json_object_get(resp, "faults")))
		goto bad;
	res->faults = json_incref(json_object_get(resp, "faults"));
	json_decref(resp);
	return 0;
bad:
	snprintf(a->err, sizeof(a->err), "%s",
		 client_error_message(resp, status, buf, sizeof(buf)));
	json_decref(resp);
	return -EREMOTE;
}

static void print_agent(const struct fleet_agent *a, const void *result)
{
	const struct status_result *r = result;
	json_t *v;
	size_t i;

	printf("%s (%s)\n", a->name, a->address);
	if (!json_array_size(r->leases))
		printf("  leases  none\n");
	json_array_foreach(r->leases, i, v)
	{
		printf("  lease   %s  ttl %" JSON_INTEGER_FORMAT
		       " ms, expires in %" JSON_INTEGER_FORMAT " ms, %" JSON_INTEGER_FORMAT
		       " fault(s)\n",
		       json_string_value(json_object_get(v, "id")),
		       json_integer_value(json_object_get(v, "ttl_ms")),
		       json_integer_value(json_object_get(v, "expires_in_ms")),
		       json_integer_value(json_object_get(v, "faults")));
	}
	if (!json_array_size(r->faults))
		printf("  faults  none\n");
	json_array_foreach(r->faults, i, v)
	{
		const char *name =
			json_string_value(json_object_get(json_object_get(v, "spec"), "name"));

		printf("  fault   %s  %s %s (%s), lease %s, applied %s\n",
		       json_string_value(json_object_get(v, "id")),
		       json_string_value(json_object_get(v, "type")), name ? name : "",
		       json_string_value(json_object_get(v, "state")),
		       json_string_value(json_object_get(v, "lease")),
		       json_string_value(json_object_get(v, "applied_at")) ?: "-");
	}
}

static bool status_ok(const struct fleet_agent *a, const void *result)
{
	const struct status_result *r = result;

	(void)a;
	return r->faults != NULL;
}

static void status_fields(json_t *o, const struct fleet_agent *a, const void *result, bool ok)
{
	const struct status_result *r = result;

	(void)a;
	if (!ok)
		return;
	json_object_set(o, "leases", r->leases);
	json_object_set(o, "faults", r->faults);
}

static void status_release(void *result)
{
	struct status_result *r = result;

	json_decref(r->leases);
	json_decref(r->faults);
}

int cmd_status(const struct ctl_opts *opts, int argc, char **argv)
{
	static const struct ctl_fleet_cmd c = {
		.cmd = "status",
		.cl = &status_cl,
		.result_size = sizeof(struct status_result),
		.call = status_one,
		.ok = status_ok,
		.fields = status_fields,
		.print = print_agent,
		.release = status_release,
	};

	return ctl_fleet_run(opts, argc, argv, &c);
}
