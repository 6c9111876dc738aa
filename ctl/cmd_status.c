/* faultctl status: the leases and active faults of each agent, asked in parallel. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "fleet.h"

void cmd_status_usage(void)
{
	printf("Usage: faultctl [--agent ADDR] [--json] status [--inventory FILE] [AGENT...]\n"
	       "\n"
	       "Show the leases (with the time left) and the active faults of each agent.\n"
	       "AGENT is an agent or a group of the inventory, or an address (unix:///PATH).\n"
	       "Without AGENT: every agent of the inventory, or the agent of --agent.\n"
	       "\n"
	       "Exit status: 0 when every agent answered, 2 for invalid input, 3 when an agent\n"
	       "could not be reached.\n");
}

struct status_result {
	json_t *leases, *faults;
};

static int status_one(struct fleet_agent *a, void *arg)
{
	struct status_result *res = (struct status_result *)arg + (a - a->fleet->agents);
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

static void print_agent(const struct fleet_agent *a, const struct status_result *r)
{
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

int cmd_status(const struct ctl_opts *opts, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"inventory", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct status_result *res = NULL;
	const char *inv_path = NULL;
	json_t *doc = NULL, *arr;
	size_t failed;
	struct fleet f;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+i:h", longopts, NULL)) != -1) {
		if (c == 'i') {
			inv_path = optarg;
			continue;
		}
		if (c == 'h') {
			cmd_status_usage();
			return CTL_EXIT_OK;
		}
		fprintf(stderr, "faultctl status: try 'faultctl status --help'\n");
		return CTL_EXIT_INVALID;
	}
	ret = ctl_fleet_setup(opts, "status", inv_path, argv + optind, (size_t)(argc - optind), &f);
	if (ret)
		goto out;
	res = calloc(f.n ? f.n : 1, sizeof(*res));
	if (!res) {
		ret = CTL_EXIT_INFRA;
		goto out;
	}
	fleet_connect(&f, false);
	failed = fleet_each(&f, status_one, res);
	arr = json_array();
	doc = json_pack("{s:b, s:o}", "ok", !failed, "agents", arr);
	for (size_t i = 0; i < f.n; i++) {
		const struct fleet_agent *a = &f.agents[i];
		bool ok = res[i].faults != NULL;
		json_t *o = json_pack("{s:s, s:s, s:b}", "name", a->name, "address", a->address,
				      "ok", ok);

		if (o && ok) {
			json_object_set(o, "leases", res[i].leases);
			json_object_set(o, "faults", res[i].faults);
		} else if (o) {
			json_object_set_new(o, "error", json_string(a->err));
		}
		json_array_append_new(arr, o);
		if (opts->json)
			continue;
		if (ok)
			print_agent(a, &res[i]);
		else
			fprintf(stderr, "faultctl status: %s: %s\n", a->name, a->err);
	}
	if (opts->json && doc) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		printf("\n");
	}
	ret = failed ? CTL_EXIT_INFRA : CTL_EXIT_OK;
out:
	for (size_t i = 0; res && i < f.n; i++) {
		json_decref(res[i].leases);
		json_decref(res[i].faults);
	}
	json_decref(doc);
	free(res);
	fleet_release(&f);
	return ret;
}
