/* Unit tests for the fault lifecycle table: every allowed and every forbidden transition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "fault_state.h"

static void transitions(void **state)
{
	/* The whole table, spelled out: a change to the lifecycle must change this test. */
	static const struct {
		enum fault_state from, to;
	} ok[] = {
		{ FAULT_VALIDATED, FAULT_APPLYING },   { FAULT_APPLYING, FAULT_ACTIVE },
		{ FAULT_APPLYING, FAULT_APPLY_FAILED }, { FAULT_ACTIVE, FAULT_REVERTING },
		{ FAULT_REVERTING, FAULT_REVERTED },   { FAULT_REVERTING, FAULT_REVERT_FAILED },
		{ FAULT_REVERT_FAILED, FAULT_REVERTING }, { FAULT_ACTIVE, FAULT_COMPLETED },
	};
	int n_ok = 0;

	for (int from = 0; from < FAULT_STATE__COUNT; from++) {
		for (int to = 0; to < FAULT_STATE__COUNT; to++) {
			bool want = false;

			for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
				if (ok[i].from == (enum fault_state)from &&
				    ok[i].to == (enum fault_state)to)
					want = true;
			if (fault_state_can(from, to) != want)
				fail_msg("%s -> %s: expected %s", fault_state_name(from),
					 fault_state_name(to), want ? "allowed" : "forbidden");
			n_ok += want;
		}
	}
	assert_int_equal(n_ok, 8);
	assert_false(fault_state_can(FAULT_STATE__COUNT, FAULT_ACTIVE));
	assert_false(fault_state_can(-1, FAULT_ACTIVE));
}

static void classes(void **state)
{
	assert_true(fault_state_live(FAULT_ACTIVE));
	assert_true(fault_state_live(FAULT_APPLYING));
	assert_true(fault_state_live(FAULT_REVERTING));
	assert_true(fault_state_live(FAULT_REVERT_FAILED));
	assert_false(fault_state_live(FAULT_VALIDATED));
	assert_false(fault_state_live(FAULT_REVERTED));
	assert_false(fault_state_live(FAULT_APPLY_FAILED));
	assert_false(fault_state_live(FAULT_COMPLETED));
	assert_true(fault_state_final(FAULT_REVERTED));
	assert_true(fault_state_final(FAULT_APPLY_FAILED));
	assert_false(fault_state_final(FAULT_REVERT_FAILED));
	assert_true(fault_state_final(FAULT_COMPLETED));
	assert_string_equal(fault_state_name(FAULT_COMPLETED), "completed");
	assert_string_equal(fault_state_name(FAULT_REVERT_FAILED), "revert_failed");
	assert_string_equal(fault_state_name(FAULT_STATE__COUNT), "invalid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transitions),
		cmocka_unit_test(classes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
