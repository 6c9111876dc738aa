/* Inventory files: valid documents load; every class of problem gets its position and path. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diag.h"
#include "helpers.h"
#include "inventory.h"

TH_LOADER(load, struct inventory, inv_load_buf, inv_free)

/* Load doc and compare everything printed with want. */
static void expect(const char *doc, const char *want)
{
	th_expect_problems(load, "inv.yaml", doc, want);
}

static void test_valid(void **state)
{
	static const char doc[] = "version: 1\n"
				  "agents:\n"
				  "  - {name: web-1, address: \"unix:///run/fl/web-1.sock\"}\n"
				  "  - name: web-2\n"
				  "    address: ssh://ops@192.0.2.12:2222\n"
				  "  - {name: db-1, address: \"ssh://[2001:db8::1]\"}\n"
				  "groups:\n"
				  "  - {name: web, members: [web-1, web-2]}\n"
				  "  - {name: all, members: [web-1, web-2, db-1]}\n";
	struct inventory *inv = NULL;
	const struct inv_group *g;
	struct diag_list dl;

	(void)state;
	assert_int_equal(diag_init(&dl, "inv.yaml"), 0);
	assert_int_equal(inv_load_buf(doc, strlen(doc), &inv, &dl), 0);
	assert_int_equal(diag_total(&dl), 0);
	assert_int_equal(inv->n_agents, 3);
	assert_string_equal(inv_agent_find(inv, "web-2")->address, "ssh://ops@192.0.2.12:2222");
	assert_null(inv_agent_find(inv, "web"));
	g = inv_group_find(inv, "web");
	assert_non_null(g);
	assert_int_equal(g->n_members, 2);
	assert_string_equal(g->members[1], "web-2");
	assert_null(inv_group_find(inv, "web-1"));
	inv_free(inv);
	inv_free(NULL);
	diag_clear(&dl);
}

static void test_shape_errors(void **state)
{
	(void)state;
	expect("agents: [{name: a, address: \"unix:///a\"}]\n",
	       "inv.yaml:1:1: version: missing required field\n");
	expect("version: 2\nagents: [{name: a, address: \"unix:///a\"}]\n",
	       "inv.yaml:1:10: version: unsupported inventory version 2; this build reads "
	       "version 1\n");
	expect("version: 1\nagents:\n  - {name: a, adress: \"unix:///a\"}\n",
	       "inv.yaml:3:5: agents[0].address: missing required field\n"
	       "inv.yaml:3:15: agents[0].adress: unknown key; did you mean 'address'?\n");
	expect("version: 1\nagents:\n  - {name: a, address: \"http://x\"}\n",
	       "inv.yaml:3:24: agents[0].address: invalid agent address 'http://x': expected "
	       "unix:///PATH or ssh://[USER@]HOST[:PORT][/PATH]\n");
	expect("version: 1\nagents: []\n", "inv.yaml:2:9: agents: must not be empty\n");
}

static void test_cross_checks(void **state)
{
	(void)state;
	expect("version: 1\n"
	       "agents:\n"
	       "  - {name: a, address: \"unix:///a\"}\n"
	       "  - {name: a, address: \"unix:///b\"}\n",
	       "inv.yaml:4:12: agents[1].name: 'a' is already listed as agents[0]\n");
	expect("version: 1\n"
	       "agents:\n"
	       "  - {name: web-1, address: \"unix:///a\"}\n"
	       "groups:\n"
	       "  - {name: web, members: [web-1, web-2]}\n"
	       "  - {name: web-1, members: [web-1]}\n"
	       "  - {name: web, members: [wbe-1]}\n",
	       "inv.yaml:5:34: groups[0].members[1]: unknown agent 'web-2'; did you mean "
	       "'web-1'?\n"
	       "inv.yaml:6:12: groups[1].name: 'web-1' is also the name of an agent; a group "
	       "needs a name of its own\n"
	       "inv.yaml:7:12: groups[2].name: 'web' is already listed as groups[0]\n"
	       "inv.yaml:7:27: groups[2].members[0]: unknown agent 'wbe-1'; did you mean "
	       "'web-1'?\n");
	expect("version: 1\n"
	       "agents:\n"
	       "  - {name: a, address: \"unix:///a\"}\n"
	       "groups:\n"
	       "  - {name: g, members: [a, a]}\n",
	       "inv.yaml:5:28: groups[0].members[1]: 'a' is listed twice\n");
}

static void test_unreadable(void **state)
{
	struct inventory *inv = NULL;
	struct diag_list dl;

	(void)state;
	assert_int_equal(diag_init(&dl, "/nonexistent/inv.yaml"), 0);
	assert_int_equal(inv_load_file("/nonexistent/inv.yaml", &inv, &dl), -ENOENT);
	assert_null(inv);
	th_assert_printed(&dl, NULL, "/nonexistent/inv.yaml: No such file or directory\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_shape_errors),
		cmocka_unit_test(test_cross_checks),
		cmocka_unit_test(test_unreadable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
