/*
 * The report renderers (ctl/report.c): JUnit XML and Markdown from a run's JSON report and
 * from a game day's, compared byte for byte with the files faultctl wrote for the same
 * report. Fixtures in tests/unit/data/report/: NAME.json, a report as `faultctl run` or
 * `faultctl gameday` wrote it in an integration test (temporary directories renamed
 * /tmp/fl), with NAME.junit.xml and NAME.md, what the renderers made of it.
 *
 * After a deliberate change to the renderers, FL_REPORT_REGEN=1 rewrites the expected
 * files instead of comparing (then review the diff before committing it).
 */
#include <errno.h>
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

#include "helpers.h"
#include "report.h"

#define DATA FL_SOURCE_DIR "/tests/unit/data/report/"

static json_t *load(const char *name)
{
	char path[512];
	json_error_t err;
	json_t *rep;

	snprintf(path, sizeof(path), DATA "%s.json", name);
	rep = json_load_file(path, 0, &err);
	if (!rep)
		fail_msg("%s:%d:%d: %s", path, err.line, err.column, err.text);
	return rep;
}

/* A file name in a fresh private directory, removed by cleanup(). */
struct scratch {
	char dir[64];
	char path[96];
};

static void scratch_init(struct scratch *s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/fl-test-report.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/out", s->dir);
}

static void scratch_cleanup(struct scratch *s)
{
	unlink(s->path);
	rmdir(s->dir);
}

typedef int (*render_fn)(const json_t *rep, const char *path);

/* Render rep with fn and compare with the expected file NAME.suffix. */
static void check_render(const json_t *rep, render_fn fn, const char *name, const char *suffix)
{
	char want_path[512];
	struct scratch s;
	char *got, *want;

	snprintf(want_path, sizeof(want_path), DATA "%s%s", name, suffix);
	scratch_init(&s);
	assert_int_equal(fn(rep, s.path), 0);
	got = th_slurp(s.path);
	scratch_cleanup(&s);
	assert_non_null(got);
	if (getenv("FL_REPORT_REGEN")) {
		FILE *f = fopen(want_path, "we");

		assert_non_null(f);
		assert_int_equal(fputs(got, f) >= 0, 1);
		assert_int_equal(fclose(f), 0);
	}
	want = th_slurp(want_path);
	if (!want)
		fail_msg("%s: %s", want_path, strerror(errno));
	if (strcmp(got, want)) {
		fprintf(stderr, "--- %s, expected:\n%s--- rendered:\n%s---\n", want_path, want,
			got);
		fail_msg("%s: the rendering differs", want_path);
	}
	free(got);
	free(want);
}

/* Every fixture: its JUnit, its Markdown, and the JSON written back as it was read. */
static void check_fixture(const char *name, render_fn junit, render_fn markdown)
{
	json_t *rep = load(name);

	check_render(rep, junit, name, ".junit.xml");
	check_render(rep, markdown, name, ".md");
	check_render(rep, report_write_json, name, ".json");
	json_decref(rep);
}

static void check_run(const char *name)
{
	check_fixture(name, report_write_junit, report_write_markdown);
}

static void check_gameday(const char *name)
{
	check_fixture(name, report_write_gameday_junit, report_write_gameday_markdown);
}

static void test_run_held(void **state)
{
	(void)state;
	check_run("run-held");
}

static void test_run_aborted(void **state)
{
	(void)state;
	check_run("run-aborted");
}

static void test_run_not_recovered(void **state)
{
	(void)state;
	check_run("run-not-recovered");
}

static void test_run_refused(void **state)
{
	(void)state;
	check_run("run-refused");
}

static void test_run_dry_run(void **state)
{
	(void)state;
	check_run("run-dry-run");
}

static void test_run_inconclusive(void **state)
{
	(void)state;
	check_run("run-inconclusive");
}

static void test_run_agent_down(void **state)
{
	(void)state;
	check_run("run-agent-down");
}

static void test_run_final_status(void **state)
{
	(void)state;
	check_run("run-final-status");
}

/* A fault whose container exited: state target_gone, a JUnit property naming it. */
static void test_run_target_gone(void **state)
{
	(void)state;
	check_run("run-target-gone");
}

static void test_gameday_continue(void **state)
{
	(void)state;
	check_gameday("gameday-continue");
}

static void test_gameday_stop(void **state)
{
	(void)state;
	check_gameday("gameday-stop");
}

static void test_gameday_inconclusive(void **state)
{
	(void)state;
	check_gameday("gameday-inconclusive");
}

static void test_gameday_refused(void **state)
{
	(void)state;
	check_gameday("gameday-refused");
}

/*
 * Text from the experiment goes into XML attributes and Markdown tables: markup in it is
 * escaped, and a control character XML cannot carry becomes U+FFFD.
 */
static void test_escaping(void **state)
{
	json_t *rep = load("run-held"), *ex = json_object_get(rep, "experiment");
	struct scratch s;
	char *out;

	(void)state;
	assert_non_null(ex);
	assert_int_equal(json_object_set_new(ex, "name", json_string("a<b>&\"c|d\x01")), 0);
	scratch_init(&s);
	assert_int_equal(report_write_junit(rep, s.path), 0);
	out = th_slurp(s.path);
	assert_non_null(out);
	assert_non_null(strstr(out, "a&lt;b&gt;&amp;&quot;c|d&#xfffd;"));
	assert_null(strstr(out, "a<b>"));
	free(out);
	assert_int_equal(report_write_markdown(rep, s.path), 0);
	out = th_slurp(s.path);
	assert_non_null(out);
	assert_non_null(strstr(out, "Experiment `a<b>&\"c|d\x01`"));
	free(out);
	scratch_cleanup(&s);
	json_decref(rep);
}

/* A file that cannot be created is an error, -errno, with nothing written. */
static void test_unwritable(void **state)
{
	static const char path[] = "/nonexistent-fl-dir/out";
	json_t *rep = load("run-held"), *gd = load("gameday-stop");

	(void)state;
	assert_int_equal(report_write_junit(rep, path), -ENOENT);
	assert_int_equal(report_write_markdown(rep, path), -ENOENT);
	assert_int_equal(report_write_json(rep, path), -ENOENT);
	assert_int_equal(report_write_gameday_junit(gd, path), -ENOENT);
	assert_int_equal(report_write_gameday_markdown(gd, path), -ENOENT);
	json_decref(gd);
	json_decref(rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_held),
		cmocka_unit_test(test_run_aborted),
		cmocka_unit_test(test_run_not_recovered),
		cmocka_unit_test(test_run_refused),
		cmocka_unit_test(test_run_dry_run),
		cmocka_unit_test(test_run_inconclusive),
		cmocka_unit_test(test_run_agent_down),
		cmocka_unit_test(test_run_final_status),
		cmocka_unit_test(test_run_target_gone),
		cmocka_unit_test(test_gameday_continue),
		cmocka_unit_test(test_gameday_stop),
		cmocka_unit_test(test_gameday_inconclusive),
		cmocka_unit_test(test_gameday_refused),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_unwritable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
