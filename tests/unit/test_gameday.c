/* Game-day plans: valid plans load with defaults; each class of problem gets its position. */
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
#include "exp.h"
#include "gameday.h"
#include "helpers.h"
#include "window.h"

TH_LOADER(load, struct gameday, gd_load_buf, gd_free)

/* Load doc and compare everything printed with want. */
static void expect(const char *doc, const char *want)
{
	th_expect_problems(load, "plan.yaml", doc, want);
}

static void test_valid(void **state)
{
	static const char doc[] =
		"version: 1\n"
		"name: lab-gameday\n"
		"description: Two lab experiments.\n"
		"inventory: inv.yaml\n"
		"window: {days: [mon, tue], start: \"09:00\", end: \"17:30\", timezone: UTC}\n"
		"steps:\n"
		"  - experiment: a.yaml\n"
		"  - experiment: /abs/b.yaml\n"
		"    pause_before: 1m30s\n"
		"    pause_after: 500ms\n"
		"    confirm: true\n"
		"    on_failure: continue\n";
	struct gameday *g = NULL;
	struct diag_list dl;

	(void)state;
	assert_int_equal(diag_init(&dl, "plan.yaml"), 0);
	assert_int_equal(gd_load_buf(doc, strlen(doc), &g, &dl), 0);
	assert_int_equal(diag_total(&dl), 0);
	assert_string_equal(g->name, "lab-gameday");
	assert_string_equal(g->inventory, "inv.yaml");
	assert_non_null(g->window);
	assert_int_equal(g->window->n_days, 2);
	assert_int_equal(g->window->start_min, 9 * 60);
	assert_int_equal(g->window->end_min, 17 * 60 + 30);
	assert_int_equal(g->n_steps, 2);
	assert_string_equal(g->steps[0].experiment, "a.yaml");
	assert_int_equal(g->steps[0].pause_before_ns, 0);
	assert_int_equal(g->steps[0].pause_after_ns, 0);
	assert_false(g->steps[0].confirm);
	assert_int_equal(g->steps[0].on_failure, GD_STOP);
	assert_int_equal(g->steps[1].pause_before_ns, 90000000000LL);
	assert_int_equal(g->steps[1].pause_after_ns, 500000000LL);
	assert_true(g->steps[1].confirm);
	assert_int_equal(g->steps[1].on_failure, GD_CONTINUE);
	assert_string_equal(gd_on_failure_name(GD_CONTINUE), "continue");
	gd_free(g);
	gd_free(NULL);
	diag_clear(&dl);

	/* JSON is read as YAML flow syntax; no window means any time. */
	static const char json[] = "{\"version\": 1, \"name\": \"j\", \"steps\": "
				   "[{\"experiment\": \"x.json\"}]}";
	assert_int_equal(diag_init(&dl, "plan.json"), 0);
	assert_int_equal(gd_load_buf(json, strlen(json), &g, &dl), 0);
	assert_null(g->window);
	assert_null(g->inventory);
	gd_free(g);
	diag_clear(&dl);
}

static void test_errors(void **state)
{
	(void)state;
	expect("name: x\nsteps: [{experiment: a.yaml}]\n",
	       "plan.yaml:1:1: version: missing required field\n");
	expect("version: 2\nname: x\nsteps: [{experiment: a.yaml}]\n",
	       "plan.yaml:1:10: version: unsupported game-day plan version 2; this build reads "
	       "version 1\n");
	expect("version: 1\nname: x\nstep: [{experiment: a.yaml}]\n",
	       "plan.yaml:1:1: steps: missing required field\n"
	       "plan.yaml:3:1: step: unknown key; did you mean 'steps'?\n");
	expect("version: 1\nname: x\nsteps: []\n", "plan.yaml:3:8: steps: must not be empty\n");
	expect("version: 1\n"
	       "name: x\n"
	       "steps:\n"
	       "  - experiment: a.yaml\n"
	       "    pause_befor: 1s\n"
	       "    pause_after: 1x\n"
	       "    confirm: yes\n"
	       "    on_failure: ignore\n"
	       "  - {}\n",
	       "plan.yaml:5:5: steps[0].pause_befor: unknown key; did you mean 'pause_before'?\n"
	       "plan.yaml:6:18: steps[0].pause_after: duration '1x' has unknown unit 'x' (use "
	       "ns, us, ms, s, m, h or d)\n"
	       "plan.yaml:7:14: steps[0].confirm: expected true or false, got a string\n"
	       "plan.yaml:8:17: steps[0].on_failure: invalid value 'ignore'; expected one of: "
	       "stop, continue\n"
	       "plan.yaml:9:5: steps[1].experiment: missing required field\n");
	expect("version: 1\n"
	       "name: x\n"
	       "window: {start: \"10:00\", end: \"10:00\", timezone: UTC, day: [mon]}\n"
	       "steps: [{experiment: a.yaml, pause_after: 25h}]\n",
	       "plan.yaml:3:31: window.end: the window is empty: start and end are both 10:00\n"
	       "plan.yaml:3:55: window.day: unknown key; did you mean 'days'?\n"
	       "plan.yaml:4:43: steps[0].pause_after: 1d1h is out of range (0s to 1d)\n");
}

static void test_path(void **state)
{
	char *p;

	(void)state;
	p = gd_path("plans/day.yaml", "exp/a.yaml");
	assert_string_equal(p, "plans/exp/a.yaml");
	free(p);
	p = gd_path("day.yaml", "a.yaml");
	assert_string_equal(p, "a.yaml");
	free(p);
	p = gd_path("/etc/day.yaml", "/srv/a.yaml");
	assert_string_equal(p, "/srv/a.yaml");
	free(p);
}

/*
 * The lab's example plan loads, and so does every experiment it names, relative to the plan.
 * It has no window (the demo runs it at any hour), and confirmations that --yes answers.
 */
static void test_example(void **state)
{
	static const char plan[] = FL_SOURCE_DIR "/experiments/gameday-lab.yaml";
	struct gameday *g = NULL;
	struct diag_list dl;
	char *buf;
	FILE *f;
	long n;

	(void)state;
	assert_int_equal(diag_init(&dl, plan), 0);
	assert_int_equal(gd_load_file(plan, &g, &dl), 0);
	assert_int_equal(g->n_steps, 4);
	assert_null(g->window);
	for (size_t i = 0; i < g->n_steps; i++) {
		struct experiment *e = NULL;
		char *path = gd_path(plan, g->steps[i].experiment);

		assert_non_null(path);
		assert_int_equal(exp_load_file(path, &e, &dl), 0);
		assert_true(g->steps[i].confirm);
		exp_free(e);
		free(path);
	}
	assert_int_equal(diag_total(&dl), 0);
	gd_free(g);
	diag_clear(&dl);

	/* faultctl validate tells the two kinds of file apart. */
	f = fopen(plan, "r");
	assert_non_null(f);
	buf = calloc(1, 65536);
	assert_non_null(buf);
	n = (long)fread(buf, 1, 65535, f);
	fclose(f);
	assert_true(n > 0);
	assert_true(gd_is_plan(buf, (size_t)n));
	free(buf);
	assert_false(gd_is_plan("version: 1\nsteps: []\nfaults: []\n", 31));
	assert_false(gd_is_plan("[steps]", 7));
	assert_false(gd_is_plan("steps: [", 8));
	assert_int_equal(diag_init(&dl, plan), 0);
	assert_int_equal(gd_validate_file(plan, &dl), 0);
	diag_clear(&dl);
	assert_int_equal(diag_init(&dl, "x"), 0);
	assert_int_equal(gd_validate_file(FL_SOURCE_DIR "/experiments/lab-backend-loss.yaml", &dl),
			 0);
	diag_clear(&dl);
}

/*
 * The windowed example plan: Tuesday to Thursday 10:00-15:00 in Berlin, a step that lets the
 * day go on after a failure; each experiment loads, and the first one's own window is open
 * whenever the plan's is (the plan's comment says so), minute by minute over a week.
 */
static void test_example_window(void **state)
{
	static const char plan[] = FL_SOURCE_DIR "/experiments/gameday-checkout.yaml";
	struct experiment *e[2] = {NULL, NULL};
	struct gameday *g = NULL;
	struct diag_list dl;
	unsigned open = 0;

	(void)state;
	assert_int_equal(diag_init(&dl, plan), 0);
	assert_int_equal(gd_load_file(plan, &g, &dl), 0);
	assert_int_equal(g->n_steps, 2);
	assert_non_null(g->window);
	assert_string_equal(g->window->timezone, "Europe/Berlin");
	assert_int_equal(g->steps[0].on_failure, GD_CONTINUE);
	assert_int_equal(g->steps[1].on_failure, GD_STOP);
	for (size_t i = 0; i < g->n_steps; i++) {
		char *path = gd_path(plan, g->steps[i].experiment);

		assert_non_null(path);
		assert_int_equal(exp_load_file(path, &e[i], &dl), 0);
		assert_true(g->steps[i].confirm);
		free(path);
	}
	assert_int_equal(diag_total(&dl), 0);
	/* Monday is day 0. */
	assert_false(window_open_at(g->window, 0, 12 * 60));
	assert_true(window_open_at(g->window, 1, 10 * 60));
	assert_false(window_open_at(g->window, 1, 9 * 60 + 59));
	assert_true(window_open_at(g->window, 3, 14 * 60 + 59));
	assert_false(window_open_at(g->window, 3, 15 * 60));
	assert_false(window_open_at(g->window, 4, 12 * 60));
	assert_non_null(e[0]->safety.window);
	assert_string_equal(e[0]->safety.window->timezone, g->window->timezone);
	for (int day = 0; day < 7; day++) {
		for (unsigned m = 0; m < 24 * 60; m++) {
			if (!window_open_at(g->window, day, m))
				continue;
			open++;
			assert_true(window_open_at(e[0]->safety.window, day, m));
		}
	}
	assert_int_equal(open, 3 * 5 * 60);
	exp_free(e[0]);
	exp_free(e[1]);
	gd_free(g);
	diag_clear(&dl);
}

static void test_unreadable(void **state)
{
	struct gameday *g = NULL;
	struct diag_list dl;

	(void)state;
	assert_int_equal(diag_init(&dl, "/nonexistent/plan.yaml"), 0);
	assert_int_equal(gd_load_file("/nonexistent/plan.yaml", &g, &dl), -ENOENT);
	assert_null(g);
	th_assert_printed(&dl, NULL, "/nonexistent/plan.yaml: No such file or directory\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_example_window),
		cmocka_unit_test(test_unreadable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
