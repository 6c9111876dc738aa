/*
 * The state every part of a run shares, below the engine (run.c), the event streams
 * (run_events.c), the live view (run_view.c) and the report (run_report.c): the timeline
 * and the names and exit codes of the outcomes.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctl.h"
#include "run_state.h"

const char *run_outcome_name(int outcome)
{
	static const char *const names[] = {
		[RUN_HELD] = "held",	   [RUN_DRY_RUN] = "dry_run",
		[RUN_ABORTED] = "aborted", [RUN_NOT_RECOVERED] = "not_recovered",
		[RUN_REFUSED] = "refused", [RUN_INTERRUPTED] = "interrupted",
		[RUN_FAILED] = "failed",   [RUN_INCONCLUSIVE] = "inconclusive",
	};

	return outcome >= 0 && outcome <= RUN_INCONCLUSIVE ? names[outcome] : "failed";
}

int run_exit_code(const struct run *r)
{
	switch (r->outcome) {
	case RUN_HELD:
	case RUN_DRY_RUN:
		return CTL_EXIT_OK;
	case RUN_ABORTED:
	case RUN_NOT_RECOVERED:
		return CTL_EXIT_ABORTED;
	case RUN_REFUSED:
		return CTL_EXIT_REFUSED;
	case RUN_INTERRUPTED:
		return 128 + (r->signal ? r->signal : SIGINT);
	case RUN_INCONCLUSIVE:
		return CTL_EXIT_INCONCLUSIVE;
	default:
		return CTL_EXIT_INFRA;
	}
}

void run_event(struct run *r, const char *fmt, ...)
{
	struct run_event *ev;
	va_list ap;

	pthread_mutex_lock(&r->lock);
	if (r->n_events == r->cap_events) {
		size_t cap = r->cap_events ? r->cap_events * 2 : 64;
		struct run_event *p = realloc(r->events, cap * sizeof(*p));

		if (!p) {
			pthread_mutex_unlock(&r->lock);
			return;
		}
		r->events = p;
		r->cap_events = cap;
	}
	ev = &r->events[r->n_events++];
	ev->t_ns = fleet_now_ns();
	va_start(ap, fmt);
	vsnprintf(ev->text, sizeof(ev->text), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&r->lock);
}

void run_wake(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* Only fails when the counter is full, and then the reader is woken anyway. */
	}
}
