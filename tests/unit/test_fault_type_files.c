/*
 * The files docs/adding-a-fault-type.md says every new fault type touches, besides the code
 * and the schema (unit.fault_types, unit.exp_schema) and the examples (unit.exp_examples):
 * each names every type of lib's table, so a type added without them fails here, naming the
 * file to edit.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exp.h"
#include "helpers.h"

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.';
}

/* Whether text has before, the whole name (not a part of a longer one), then after. */
static bool mentions(const char *text, const char *before, const char *name, const char *after)
{
	size_t nb = strlen(before), nn = strlen(name), na = strlen(after);

	for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
		if ((size_t)(p - text) < nb || strncmp(p - nb, before, nb) ||
		    strncmp(p + nn, after, na))
			continue;
		if (!nb && p > text && name_char(p[-1]))
			continue;
		if (!na && name_char(p[nn]))
			continue;
		return true;
	}
	return false;
}

/* Every type named in the file at path as before NAME after. */
static void every_type_in(const char *path, const char *before, const char *after,
			  const char *where)
{
	char *text = th_slurp(path);
	int missing = 0;

	if (!text)
		fail_msg("cannot read %s", path);
	for (int t = 0; t < FAULT_TYPE_COUNT; t++) {
		if (mentions(text, before, exp_fault_type_name(t), after))
			continue;
		fprintf(stderr, "%s does not name %s (%s)\n", path, exp_fault_type_name(t), where);
		missing++;
	}
	free(text);
	assert_int_equal(missing, 0);
}

static void test_experiment_format(void **state)
{
	every_type_in(FL_SOURCE_DIR "/docs/experiment-format.md", "\n| `", "` |",
		      "a row of the \"Fault types\" table");
}

static void test_man_page(void **state)
{
	every_type_in(FL_SOURCE_DIR "/man/faultline-experiment.5", "\n.Cm ", "",
		      "the \"Fault types\" list");
}

static void test_fuzz_dictionary(void **state)
{
	every_type_in(FL_SOURCE_DIR "/tests/fuzz/exp.dict", "\"", "\"", "a dictionary entry");
}

static void test_crash_test(void **state)
{
	every_type_in(FL_SOURCE_DIR "/tests/integration/test_crash_anywhere.sh", "", "",
		      "an entry of FAULTS");
}

/* The check itself: a name inside a longer one, or without its markup, is not a mention. */
static void test_mentions(void **state)
{
	assert_true(mentions("x\n| `stress.io` | none", "\n| `", "stress.io", "` |"));
	assert_false(mentions("x\n| `stress.iops` | none", "\n| `", "stress.io", "` |"));
	assert_false(mentions("stress.io_rate", "", "stress.io", ""));
	assert_false(mentions("xstress.io", "", "stress.io", ""));
	assert_true(mentions("type stress.io, ", "", "stress.io", ""));
	assert_false(mentions("\n.Cm network.lossy ,", "\n.Cm ", "network.loss", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mentions),   cmocka_unit_test(test_experiment_format),
		cmocka_unit_test(test_man_page),   cmocka_unit_test(test_fuzz_dictionary),
		cmocka_unit_test(test_crash_test),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
