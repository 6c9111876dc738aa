/* safety.window: start inclusive, end exclusive, days, windows across midnight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "exp.h"
#include "window.h"

#define HM(h, m) ((unsigned)((h)*60 + (m)))

static void test_same_day(void **state)
{
	struct exp_window w = {.start_min = HM(9, 0), .end_min = HM(17, 30)};

	(void)state;
	assert_false(window_open_at(&w, EXP_MON, HM(8, 59)));
	assert_true(window_open_at(&w, EXP_MON, HM(9, 0)));
	assert_true(window_open_at(&w, EXP_SUN, HM(17, 29)));
	assert_false(window_open_at(&w, EXP_MON, HM(17, 30)));
	assert_false(window_open_at(&w, EXP_MON, HM(0, 0)));
}

static void test_days(void **state)
{
	int days[] = {EXP_TUE, EXP_THU};
	struct exp_window w = {
		.days = days, .n_days = 2, .start_min = HM(10, 0), .end_min = HM(11, 0)};

	(void)state;
	assert_true(window_open_at(&w, EXP_TUE, HM(10, 30)));
	assert_true(window_open_at(&w, EXP_THU, HM(10, 0)));
	assert_false(window_open_at(&w, EXP_WED, HM(10, 30)));
	assert_false(window_open_at(&w, EXP_MON, HM(10, 30)));
}

static void test_across_midnight(void **state)
{
	int days[] = {EXP_SUN};
	struct exp_window w = {
		.days = days, .n_days = 1, .start_min = HM(22, 0), .end_min = HM(2, 0)};
	struct exp_window any = {.start_min = HM(22, 0), .end_min = HM(2, 0)};

	(void)state;
	/* Sunday 22:00 to Monday 02:00: the window belongs to Sunday. */
	assert_true(window_open_at(&w, EXP_SUN, HM(22, 0)));
	assert_true(window_open_at(&w, EXP_SUN, HM(23, 59)));
	assert_true(window_open_at(&w, EXP_MON, HM(0, 0)));
	assert_true(window_open_at(&w, EXP_MON, HM(1, 59)));
	assert_false(window_open_at(&w, EXP_MON, HM(2, 0)));
	assert_false(window_open_at(&w, EXP_SUN, HM(1, 0)));  /* Saturday's night */
	assert_false(window_open_at(&w, EXP_MON, HM(22, 0))); /* Monday is not listed */
	assert_false(window_open_at(&w, EXP_SUN, HM(21, 59)));
	assert_true(window_open_at(&any, EXP_WED, HM(1, 0)));
	assert_false(window_open_at(&any, EXP_WED, HM(12, 0)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_day),
		cmocka_unit_test(test_days),
		cmocka_unit_test(test_across_midnight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
