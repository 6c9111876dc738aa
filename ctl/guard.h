/*
 * Guardrails and steady-state checks: the probes of an experiment (HTTP, Prometheus, command,
 * error-budget burn rate) evaluated live by faultctl.
 *
 * A guard set runs every guardrail of a run concurrently, each in its own thread at its own
 * rate, and decides breaches itself (the guardrail's `for:` debounce and its `on_error`
 * policy), so the run loop only has to wait on wake_fd and revert when told. Steady-state
 * checks are single evaluations that the run repeats until they pass or time out.
 *
 * Times are CLOCK_MONOTONIC nanoseconds (guard_now_ns()) unless a field says otherwise.
 */
#ifndef FL_GUARD_H
#define FL_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "guard_eval.h"
#include "guard_probe.h"

struct exp_probe;
struct exp_guardrail;
struct exp_check;
struct guardset;

/* struct guard_reading, the verdict of one evaluation, is in guard_eval.h (pure code). */

/* A guardrail's state as the run sees it. */
struct guard_status {
	const char *name;	     /* the guardrail's name; owned by the experiment */
	struct guard_reading last;   /* latest reading; last.time_ns == 0 before the first */
	int64_t unhealthy_since_ns;  /* 0 while healthy */
	uint64_t samples, errors;    /* readings taken, readings that were not valid */
	bool breached;		     /* the run must abort; latched once set */
	struct guard_reading breach; /* the reading that breached it (valid or not) */
	int64_t breach_ns;	     /* when the guard set decided the breach */
	struct guard_coverage cov;   /* since the guard set started: blind time, valid readings */
};

/*
 * Start evaluating n guardrails, each in its own thread. When a guardrail becomes breached
 * the guard set writes 1 to wake_fd (an eventfd; -1 for none) at once. The guardrails must
 * outlive the guard set. Returns 0 or -errno.
 */
int guardset_start(const struct exp_guardrail *g, size_t n, int wake_fd, struct guardset **out);

/* Number of guardrails in the set. */
size_t guardset_count(const struct guardset *s);

/* A consistent snapshot of guardrail i. Returns 0 or -EINVAL. */
int guardset_status(struct guardset *s, size_t i, struct guard_status *out);

/* The index of the first guardrail breached (in breach time order), or -1 when none is. */
int guardset_breached(struct guardset *s, struct guard_status *out);

/*
 * Stop every thread and free the set. Accepts NULL. Bounded by the probes' timeouts, and in
 * practice within milliseconds: HTTP transfers in flight are abandoned and running command
 * probes are killed with their process group.
 */
void guardset_stop(struct guardset *s);

/*
 * Evaluate one steady-state check once, returning by deadline_ns at the latest. 0 with *out
 * filled (healthy or not, valid or not), or -errno for a failure of faultctl itself.
 * Whether the check passes under its on_error policy: guard_check_passed(out, c->on_error).
 * docs/guardrails.md says how each probe kind is evaluated once (HTTP: a short burst).
 */
int guard_check_run(const struct exp_check *c, int64_t deadline_ns, struct guard_reading *out);

/* A reading or a status as JSON, for reports. New reference, or NULL on -ENOMEM. */
json_t *guard_reading_json(const struct guard_reading *r);
json_t *guard_status_json(const struct guard_status *st);

#endif
