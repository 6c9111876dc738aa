/*
 * faultctl agent info: what an agent is, runs on, may do, and which mechanisms and fault types
 * work there.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "ctl.h"

void cmd_agent_usage(void)
{
	printf("Usage: faultctl [--agent ADDR] [--json] agent info\n"
	       "\n"
	       "Ask the agent for its version, the kernel it runs on, its effective capabilities\n"
	       "which fault mechanisms this kernel supports and which fault types the agent can\n"
	       "apply (with the reason when not: a missing mechanism or capability).\n");
}

/* A comma-separated list wrapped under its label, so long capability sets stay readable. */
static void print_list(const char *label, json_t *arr)
{
	size_t i, col = 14;
	json_t *v;

	printf("%-14s", label);
	if (!json_is_array(arr) || !json_array_size(arr)) {
		printf("(none)\n");
		return;
	}
	json_array_foreach(arr, i, v)
	{
		const char *s = json_string_value(v);
		size_t n = strlen(s) + (i ? 1 : 0);

		if (i && col + n > 96) {
			printf(",\n%14s", "");
			col = 14;
			n--;
		} else if (i) {
			printf(",");
		}
		printf("%s", s);
		col += n;
	}
	printf("\n");
}

static void print_info(const char *addr, json_t *info)
{
	json_t *kernel = json_object_get(info, "kernel");
	json_t *caps = json_object_get(info, "capabilities");
	json_t *mechs = json_object_get(info, "mechanisms");
	json_t *m;
	size_t i;

	printf("%-14s%s\n", "agent", addr);
	printf("%-14s%s\n", "version", json_string_value(json_object_get(info, "version")));
	printf("%-14s%" JSON_INTEGER_FORMAT "\n", "pid",
	       json_integer_value(json_object_get(info, "pid")));
	printf("%-14s%s %s %s\n", "kernel", json_string_value(json_object_get(kernel, "sysname")),
	       json_string_value(json_object_get(kernel, "release")),
	       json_string_value(json_object_get(kernel, "machine")));
	print_list("capabilities", json_object_get(caps, "effective"));
	printf("mechanisms\n");
	json_array_foreach(mechs, i, m)
	{
		int ok = json_is_true(json_object_get(m, "available"));

		printf("  %-16s%-13s%s\n", json_string_value(json_object_get(m, "name")),
		       ok ? "available" : "unavailable",
		       ok ? json_string_value(json_object_get(m, "used_for")) :
			    json_string_value(json_object_get(m, "reason")));
	}
	printf("fault types\n");
	json_array_foreach(json_object_get(info, "fault_types"), i, m)
	{
		int ok = json_is_true(json_object_get(m, "available"));

		printf("  %-22s%s%s%s\n", json_string_value(json_object_get(m, "name")),
		       ok ? "available" : "unavailable", ok ? "" : "  ",
		       ok ? "" : json_string_value(json_object_get(m, "reason")) ?: "");
	}
}

int cmd_agent(const struct ctl_opts *opts, int argc, char **argv)
{
	char err[512], buf[128];
	struct agent_addr addr;
	struct client *c = NULL;
	json_t *resp = NULL;
	int status, ret = CTL_EXIT_INFRA;

	if (argc != 2 || strcmp(argv[1], "info")) {
		fprintf(stderr, "faultctl agent: expected 'info'%s%s\n", argc > 1 ? ", got " : "",
			argc > 1 ? argv[1] : "");
		return CTL_EXIT_INVALID;
	}
	if (addr_resolve(opts->agent, &addr, err, sizeof(err))) {
		fprintf(stderr, "faultctl: %s\n", err);
		return CTL_EXIT_INVALID;
	}
	if (client_connect(&addr, &c, err, sizeof(err))) {
		fprintf(stderr, "faultctl: %s\n", err);
		return CTL_EXIT_INFRA;
	}
	if (client_call(c, "GET", "/v1/info", NULL, &status, &resp, err, sizeof(err))) {
		fprintf(stderr, "faultctl: %s\n", err);
		goto out;
	}
	if (status != 200) {
		fprintf(stderr, "faultctl: agent info: %s\n",
			client_error_message(resp, status, buf, sizeof(buf)));
		goto out;
	}
	if (opts->json) {
		json_dumpf(resp, stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		char shown[512];

		addr_format(&addr, shown, sizeof(shown));
		print_info(shown, resp);
	}
	ret = CTL_EXIT_OK;
out:
	json_decref(resp);
	client_close(c);
	return ret;
}
