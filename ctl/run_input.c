/*
 * A run's input as `faultctl run`, `plan` and `gameday` read it: the experiment with its
 * inventory (relative to the experiment file), and whether its window is open now.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "exp.h"
#include "inventory.h"
#include "run.h"
#include "window.h"

/* The inventory path an experiment names is relative to the experiment file. */
static char *inventory_path(const char *exp_file, const char *inv)
{
	const char *slash = strrchr(exp_file, '/');
	char *p;

	if (inv[0] == '/' || !slash)
		return strdup(inv);
	if (asprintf(&p, "%.*s/%s", (int)(slash - exp_file), exp_file, inv) < 0)
		return NULL;
	return p;
}

int run_load(const char *file, const char *inventory, struct experiment **e, struct inventory **inv)
{
	struct diag_list dl;
	char *path = NULL;
	int err;

	*e = NULL;
	*inv = NULL;
	if (diag_init(&dl, file))
		return -ENOMEM;
	err = exp_load_file(file, e, &dl);
	if (err) {
		diag_print(stderr, &dl);
		diag_clear(&dl);
		return err == -ENOMEM ? err : -EINVAL;
	}
	diag_clear(&dl);
	if (inventory)
		path = strdup(inventory);
	else if ((*e)->inventory)
		path = inventory_path(file, (*e)->inventory);
	else
		return 0;
	if (!path || diag_init(&dl, path)) {
		free(path);
		return -ENOMEM;
	}
	err = inv_load_file(path, inv, &dl);
	free(path);
	if (err) {
		diag_print(stderr, &dl);
		diag_clear(&dl);
		return err == -ENOMEM ? err : -EINVAL;
	}
	diag_clear(&dl);
	return 0;
}

int run_window_open(const struct exp_window *w, const char *field, bool *open, char *why,
		    size_t size)
{
	char path[PATH_MAX], *saved = NULL;
	const char *tz = getenv("TZ");
	time_t now = time(NULL);
	unsigned minute;
	struct tm tm;
	int day;

	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", w->timezone);
	if (strcmp(w->timezone, "UTC") && access(path, R_OK)) {
		snprintf(why, size, "%s.timezone: unknown time zone '%.64s' (no %.200s)", field,
			 w->timezone, path);
		return -ENOENT;
	}
	if (tz && !(saved = strdup(tz)))
		return -ENOMEM;
	setenv("TZ", w->timezone, 1);
	tzset();
	localtime_r(&now, &tm);
	if (saved) {
		setenv("TZ", saved, 1);
		free(saved);
	} else {
		unsetenv("TZ");
	}
	tzset();
	minute = (unsigned)(tm.tm_hour * 60 + tm.tm_min);
	day = (tm.tm_wday + 6) % 7; /* enum exp_weekday counts from Monday */
	*open = window_open_at(w, day, minute);
	snprintf(why, size,
		 "outside the allowed window (%02u:%02u-%02u:%02u %s%s): it is %02d:%02d on %s",
		 w->start_min / 60, w->start_min % 60, w->end_min / 60, w->end_min % 60,
		 w->timezone, w->n_days ? " on the listed days" : "", tm.tm_hour, tm.tm_min,
		 (const char *const[]){"Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
				       "Saturday", "Sunday"}[day]);
	return 0;
}
