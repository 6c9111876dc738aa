/* Time windows: pure arithmetic on the local time the controller looked up. */
#include "exp.h"
#include "window.h"

static bool day_listed(const struct exp_window *w, int day)
{
	if (!w->n_days)
		return true;
	for (size_t i = 0; i < w->n_days; i++)
		if (w->days[i] == day)
			return true;
	return false;
}

bool window_open_at(const struct exp_window *w, int day, unsigned minute)
{
	if (w->start_min < w->end_min)
		return minute >= w->start_min && minute < w->end_min && day_listed(w, day);
	if (minute >= w->start_min)
		return day_listed(w, day);
	/* Before the end, after midnight: the window opened on the previous day. */
	return minute < w->end_min && day_listed(w, (day + 6) % 7);
}
