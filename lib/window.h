/* Allowed time windows of experiments (safety.window), evaluated on a given local time. */
#ifndef FL_WINDOW_H
#define FL_WINDOW_H

#include <stdbool.h>

struct exp_window;

/*
 * Whether a run may start at this local time: day counts from Monday (enum exp_weekday),
 * minute is minutes after midnight. The window includes its start and excludes its end; a
 * window whose end is before its start runs across midnight and belongs to the day it
 * starts on (mon 22:00-02:00 includes Tuesday 01:00, not Monday 01:00).
 */
bool window_open_at(const struct exp_window *w, int day, unsigned minute);

#endif
