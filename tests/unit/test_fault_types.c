/*
 * A fault type is one thing: the agent's table (agent/fault_types.c) against lib's
 * (lib/exp_fault.c). Every type lib parses has agent ops, named as lib names it, at its
 * enum value; every ops the agent defines (each `const struct fault_ops NAME = {` in
 * agent/) sits in that table at a lib type; and the ops fit the type's target kind (the
 * room they live in, the capabilities and callbacks their kind needs). Without this test a
 * missing row shows only at run time, as a 501 for one type.
 *
 * Links the agent's library; not built in unit-only (sanitizer) builds, which have no agent.
 */
#include <dlfcn.h>
#include <glob.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/capability.h>

#include "exp.h"
#include "fault.h"
#include "helpers.h"
#include "netif.h"
#include "stressor.h"

static void test_every_lib_type_has_ops(void **state)
{
	for (int t = 0; t < FAULT_TYPE_COUNT; t++) {
		const char *name = exp_fault_type_name(t);
		const struct fault_ops *ops = fault_ops_of(t);

		if (!ops)
			fail_msg("lib's type %s (enum value %d) has no row in agent/fault_types.c",
				 name, t);
		if (strcmp(ops->name, name))
			fail_msg("agent/fault_types.c: the row of %s holds ops named '%s'", name,
				 ops->name);
		assert_ptr_equal(fault_ops_all[t], ops);
		assert_ptr_equal(fault_ops_by_name(name), ops);
	}
	/* The end marker that lets the table be walked as a list. */
	assert_null(fault_ops_all[FAULT_TYPE_COUNT]);
	assert_null(fault_ops_of(-1));
	assert_null(fault_ops_of(FAULT_TYPE_COUNT));
	assert_null(fault_ops_by_name("network.nope"));
	assert_null(fault_ops_by_name(NULL));
}

/* The callbacks the core calls without looking (core.c, the recovery at start-up). */
static void test_ops_have_the_required_callbacks(void **state)
{
	for (int t = 0; t < FAULT_TYPE_COUNT; t++) {
		const struct fault_ops *ops = fault_ops_all[t];

		assert_non_null(ops);
		if (!ops->validate || !ops->apply || !ops->revert || !ops->describe ||
		    !ops->cleanup || !ops->free_priv)
			fail_msg("%s lacks one of validate, apply, revert, describe, cleanup, "
				 "free_priv",
				 ops->name);
		for (int u = 0; u < t; u++)
			if (fault_ops_all[u] == ops)
				fail_msg("one ops (%s) in two rows, %s and %s", ops->name,
					 exp_fault_type_name(u), exp_fault_type_name(t));
	}
}

/* The room (agent/net/, agent/proc/, agent/stress/) the types of a target kind live in. */
static const char *room_of(enum fault_target_kind k)
{
	switch (k) {
	case FAULT_TARGET_NET:
		return "/agent/net/";
	case FAULT_TARGET_PROC:
		return "/agent/proc/";
	default:
		return "/agent/stress/";
	}
}

/*
 * The other way round: every ops object defined in the agent's sources is a row of the table,
 * at a type whose target kind is the room its file is in. The objects are found by their
 * symbol (the test is linked with exported symbols), so one defined but left out of the
 * table, or named after no lib type, fails here.
 */
static void test_every_agent_ops_is_a_lib_type(void **state)
{
	static const char *const patterns[] = {FL_SOURCE_DIR "/agent/*.c",
					       FL_SOURCE_DIR "/agent/*/*.c"};
	bool seen[FAULT_TYPE_COUNT] = {false};
	size_t found = 0;
	regex_t re;

	assert_int_equal(regcomp(&re, "^const struct fault_ops ([A-Za-z_0-9]+) = \\{",
				 REG_EXTENDED | REG_NEWLINE),
			 0);
	for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
		glob_t g;

		if (glob(patterns[p], 0, NULL, &g))
			continue;
		for (size_t i = 0; i < g.gl_pathc; i++) {
			const char *path = g.gl_pathv[i];
			char *text = th_slurp(path), *at;
			regmatch_t m[2];

			if (!text)
				fail_msg("cannot read %s", path);
			for (at = text; !regexec(&re, at, 2, m, 0); at += m[0].rm_eo) {
				char sym[128];
				const struct fault_ops *ops;
				int t = -1;

				snprintf(sym, sizeof(sym), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
					 at + m[1].rm_so);
				ops = dlsym(RTLD_DEFAULT, sym);
				for (int k = 0; ops && k < FAULT_TYPE_COUNT; k++)
					if (fault_ops_all[k] == ops)
						t = k;
				if (t < 0)
					fail_msg(
						"%s: %s is not in agent/fault_types.c (no lib type "
						"has it as its row)",
						path, sym);
				if (!strstr(path, room_of(exp_fault_target_kind(t))))
					fail_msg("%s: %s is a %s fault, whose files live in %s",
						 path, sym, exp_fault_type_name(t),
						 room_of(exp_fault_target_kind(t)));
				assert_false(seen[t]);
				seen[t] = true;
				found++;
			}
			free(text);
		}
		globfree(&g);
	}
	regfree(&re);
	assert_int_equal(found, FAULT_TYPE_COUNT);
}

/* The first part of the names of the types of a target kind. */
static const char *prefix_of(enum fault_target_kind k)
{
	switch (k) {
	case FAULT_TARGET_NET:
		return "network.";
	case FAULT_TARGET_PROC:
		return "process.";
	default:
		return "stress.";
	}
}

/*
 * What a type's target kind asks of its ops: its name's prefix, and more. Network faults change an
 * interface (CAP_NET_ADMIN), say what they would hit (resolve), carry a renewed lease to the
 * kernel's rules, and apply and revert off the loop one at a time (under netif_lane: they share the
 * interface registry). Process faults select
 * with the process resolver and signal (CAP_KILL). Stressors may take a container target, which
 * they resolve with the stressors' resolver (the container, refused as an apply would be); the
 * others have no target: nothing to resolve. Neither has a kernel-side deadline.
 */
static void test_ops_fit_the_target_kind(void **state)
{
	for (int t = 0; t < FAULT_TYPE_COUNT; t++) {
		const struct fault_ops *ops = fault_ops_all[t];

		assert_non_null(ops);
		/* The name says the kind: docs/api.md and the tests select types by prefix. */
		if (strncmp(ops->name, prefix_of(exp_fault_target_kind(t)),
			    strlen(prefix_of(exp_fault_target_kind(t)))))
			fail_msg("%s: a type of this target kind is named %s*", ops->name,
				 prefix_of(exp_fault_target_kind(t)));
		/* The core holds a lane only around off-loop work (and its rare on-loop runs). */
		if (ops->lane && (!ops->off_loop || !ops->revert_off_loop))
			fail_msg("%s has a lane: it applies and reverts off the loop", ops->name);
		switch (exp_fault_target_kind(t)) {
		case FAULT_TARGET_NET:
			if (!(ops->caps & 1ULL << CAP_NET_ADMIN) || !ops->resolve ||
			    !ops->lease_renewed || !ops->off_loop || !ops->revert_off_loop ||
			    ops->lane != &netif_lane)
				fail_msg("%s is a network fault: it needs CAP_NET_ADMIN, resolve "
					 "and lease_renewed, and applies and reverts off the loop "
					 "under netif_lane",
					 ops->name);
			break;
		case FAULT_TARGET_PROC:
			if (!(ops->caps & 1ULL << CAP_KILL) || ops->resolve != fault_proc_resolve)
				fail_msg("%s is a process fault: it needs CAP_KILL and resolves "
					 "with "
					 "fault_proc_resolve",
					 ops->name);
			break;
		case FAULT_TARGET_STRESS:
			if (ops->resolve != stressor_resolve || ops->lease_renewed)
				fail_msg("%s may run in a container: it resolves with "
					 "stressor_resolve, and has no kernel-side deadline",
					 ops->name);
			break;
		default:
			if (ops->resolve || ops->lease_renewed)
				fail_msg("%s has no target: it has nothing to resolve and no "
					 "kernel-side deadline",
					 ops->name);
			break;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_lib_type_has_ops),
		cmocka_unit_test(test_ops_have_the_required_callbacks),
		cmocka_unit_test(test_every_agent_ops_is_a_lib_type),
		cmocka_unit_test(test_ops_fit_the_target_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
