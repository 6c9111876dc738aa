/*
 * The status keys of the network fault types (include/faultline/fault_status.h), named once
 * for the agent that writes them and the controller that reads them: a run report whose
 * fault status is written with the header's keys is what the Markdown renderer
 * (ctl/report.c) turns into "N packets matched, D dropped (x%)...". A renderer reading other
 * keys than the agent writes would print zeroes here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "faultline/fault_status.h"
#include "helpers.h"
#include "report.h"

#define FIXTURE FL_SOURCE_DIR "/tests/unit/data/report/run-final-status.json"

/* The Markdown of a report whose first fault achieved the given counters. */
static char *markdown_with(json_t *counters)
{
	char path[] = "/tmp/fl-fault-status-XXXXXX";
	json_error_t err;
	json_t *rep = json_load_file(FIXTURE, 0, &err);
	json_t *achieved;
	char *md;
	int fd;

	if (!rep)
		fail_msg("%s:%d:%d: %s", FIXTURE, err.line, err.column, err.text);
	achieved = json_object_get(json_array_get(json_object_get(rep, "faults"), 0), "achieved");
	assert_true(json_is_object(achieved));
	assert_int_equal(json_object_set_new(achieved, FL_STATUS_COUNTERS, counters), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(report_write_markdown(rep, path), 0);
	md = th_slurp(path);
	unlink(path);
	json_decref(rep);
	assert_non_null(md);
	return md;
}

static void test_report_reads_the_agents_counters(void **state)
{
	json_t *c =
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", FL_COUNTER_MATCHED, 200,
			  FL_COUNTER_DROPPED, 50, FL_COUNTER_CORRUPTED, 20, FL_COUNTER_DUPLICATED,
			  10, FL_COUNTER_EXEMPTED, 3, FL_COUNTER_DELAYED, 0);
	char *md = markdown_with(c);
	const char *want = "200 packets matched, 50 dropped (25.00%), 20 corrupted (10.00%), 10 "
			   "duplicated (5.00%)";

	if (!strstr(md, want))
		fail_msg("the report does not say '%s':\n%s", want, md);
	free(md);
}

/* network.dns: its queries and answers in words, matched counting queries. */
static void test_report_reads_dns_counters(void **state)
{
	json_t *c = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", FL_COUNTER_MATCHED, 40,
			      FL_COUNTER_DROPPED, 2, FL_COUNTER_CORRUPTED, 0, FL_COUNTER_DUPLICATED,
			      0, FL_COUNTER_EXEMPTED, 0, FL_COUNTER_DELAYED, 0, FL_COUNTER_QUERIES,
			      100, FL_COUNTER_ANSWERED, 38);
	char *md = markdown_with(c);
	const char *want = "100 DNS queries, 40 matched, 38 answered, 2 dropped";

	if (!strstr(md, want))
		fail_msg("the report does not say '%s':\n%s", want, md);
	free(md);
}

/* A key the header does not name is not read as one it does. */
static void test_other_keys_are_not_counters(void **state)
{
	json_t *c = json_pack("{s:I, s:I}", "packets", 200, "drops", 50);
	char *md = markdown_with(c);

	if (!strstr(md, "0 packets matched |"))
		fail_msg("counters under other keys were read:\n%s", md);
	free(md);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_reads_the_agents_counters),
		cmocka_unit_test(test_report_reads_dns_counters),
		cmocka_unit_test(test_other_keys_are_not_counters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
