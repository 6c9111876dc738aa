/*
 * faultctl targets: the containers an agent sees (GET /v1/containers), with what a container
 * target resolves through: id, name, runtime, main pid, network namespace, cgroups, the
 * interfaces with their addresses inside its network namespace, and the Docker Engine API
 * sockets that name them.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "cmdline.h"
#include "ctl.h"

struct targets_cfg {
	const char *agent;
	bool json;
};

static const struct ctl_opt targets_opts[] = {
	{.name = "agent",
	 .kind = CTL_OPT_STRING,
	 .arg = "ADDR",
	 .offset = offsetof(struct targets_cfg, agent),
	 .help = "the agent to ask (as the global --agent)"},
	{.name = "json",
	 .kind = CTL_OPT_FLAG,
	 .offset = offsetof(struct targets_cfg, json),
	 .help = "the agent's answer as JSON on stdout"},
	{.name = "help", .short_name = 'h', .kind = CTL_OPT_HELP},
	{0},
};

static const struct ctl_cmdline targets_cl = {
	.cmd = "faultctl targets",
	.head = "Usage: faultctl targets [--agent ADDR] [--json]\n"
		"\n"
		"List the containers running on the agent's host, as a target.container\n"
		"resolves them: id, name, runtime, main pid, network namespace inode, processes\n"
		"and cgroups, each with the interfaces and addresses inside its network\n"
		"namespace, and the Docker Engine API sockets the agent asks for names and\n"
		"compose labels (docs/containers.md).\n"
		"\n",
	.tail = "Exit status: 0 listed, 2 invalid input, 3 when the agent cannot be reached or\n"
		"refuses.\n",
	.opts = targets_opts,
};

void cmd_targets_usage(void)
{
	ctl_cmdline_usage(&targets_cl);
}

static const char *str_or(json_t *v, const char *dflt)
{
	const char *s = json_string_value(v);

	return s && *s ? s : dflt;
}

/* "    IFNAME  up|down  ADDR/LEN ADDR/LEN", one line per interface inside its namespace. */
static void print_interfaces(json_t *c)
{
	json_t *ifs = json_object_get(c, "interfaces"), *e, *a;
	size_t i, k;

	if (!ifs) {
		printf("    interfaces: %s\n",
		       str_or(json_object_get(c, "interfaces_error"), "not listed"));
		return;
	}
	json_array_foreach(ifs, i, e)
	{
		printf("    %-15s  %-4s ", str_or(json_object_get(e, "name"), "?"),
		       json_is_true(json_object_get(e, "up")) ? "up" : "down");
		json_array_foreach(json_object_get(e, "addresses"), k, a)
			printf(" %s", str_or(a, "?"));
		printf("\n");
	}
}

static void print_targets(const char *addr, json_t *resp)
{
	json_t *e, *c;
	size_t i;

	printf("agent %s\n", addr);
	json_array_foreach(json_object_get(resp, "engines"), i, e)
	{
		if (json_is_true(json_object_get(e, "up")))
			printf("engine %s: %s %s\n", str_or(json_object_get(e, "socket"), "?"),
			       str_or(json_object_get(e, "kind"), "?"),
			       str_or(json_object_get(e, "version"), ""));
		else
			printf("engine %s: not answering (%s)\n",
			       str_or(json_object_get(e, "socket"), "?"),
			       str_or(json_object_get(e, "error"), "?"));
	}
	if (!json_array_size(json_object_get(resp, "containers"))) {
		printf("no containers\n");
		return;
	}
	printf("%-12s  %-24s  %-10s  %8s  %10s  %5s  %s\n", "ID", "NAME", "RUNTIME", "PID", "NETNS",
	       "PROCS", "CGROUP");
	json_array_foreach(json_object_get(resp, "containers"), i, c)
	{
		json_t *cg = json_object_get(c, "cgroups");
		json_t *compose = json_object_get(c, "compose");
		char name[128];

		if (compose)
			snprintf(name, sizeof(name), "%s (%s/%s)",
				 str_or(json_object_get(c, "name"), "-"),
				 str_or(json_object_get(compose, "project"), ""),
				 str_or(json_object_get(compose, "service"), ""));
		else
			snprintf(name, sizeof(name), "%s", str_or(json_object_get(c, "name"), "-"));
		printf("%-12.12s  %-24s  %-10s  %8" JSON_INTEGER_FORMAT "  %10" JSON_INTEGER_FORMAT
		       "  %5" JSON_INTEGER_FORMAT "  %s\n",
		       str_or(json_object_get(c, "id"), "?"), name,
		       str_or(json_object_get(c, "runtime"), "?"),
		       json_integer_value(json_object_get(c, "main_pid")),
		       json_integer_value(json_object_get(c, "netns_inode")),
		       json_integer_value(json_object_get(c, "processes")),
		       str_or(json_object_get(cg, "unified"),
			      str_or(json_object_get(cg, "freezer"), "-")));
		/* What the agent refuses to target (docs/policy.md, Containers). */
		if (json_is_true(json_object_get(c, "agent_own")))
			printf("%-12s  never targeted: the agent's own container\n", "");
		if (json_object_get(c, "protected"))
			printf("%-12s  never targeted: %s\n", "",
			       str_or(json_object_get(c, "protected"), "?"));
		print_interfaces(c);
	}
}

int cmd_targets(const struct ctl_opts *opts, int argc, char **argv)
{
	struct targets_cfg cfg = {.agent = opts->agent, .json = opts->json};
	char err[512], buf[128];
	struct agent_addr addr;
	struct client *c = NULL;
	json_t *resp = NULL;
	int status, ret = CTL_EXIT_INFRA, first;

	first = ctl_cmdline_parse(&targets_cl, argc, argv, &cfg);
	if (first <= 0)
		return first ? CTL_EXIT_INVALID : CTL_EXIT_OK;
	if (first < argc) {
		fprintf(stderr, "faultctl targets: unexpected argument '%s'\n", argv[first]);
		return CTL_EXIT_INVALID;
	}
	if (addr_resolve(cfg.agent, &addr, err, sizeof(err))) {
		fprintf(stderr, "faultctl: %s\n", err);
		return CTL_EXIT_INVALID;
	}
	if (client_connect(&addr, &c, err, sizeof(err))) {
		fprintf(stderr, "faultctl: %s\n", err);
		return CTL_EXIT_INFRA;
	}
	if (client_call(c, "GET", "/v1/containers", NULL, &status, &resp, err, sizeof(err))) {
		fprintf(stderr, "faultctl: %s\n", err);
		goto out;
	}
	if (status != 200) {
		fprintf(stderr, "faultctl: targets: %s\n",
			client_error_message(resp, status, buf, sizeof(buf)));
		goto out;
	}
	if (cfg.json) {
		json_dumpf(resp, stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		char shown[512];

		addr_format(&addr, shown, sizeof(shown));
		print_targets(shown, resp);
	}
	ret = CTL_EXIT_OK;
out:
	json_decref(resp);
	client_close(c);
	return ret;
}
