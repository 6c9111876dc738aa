/*
 * The agent's process-wide counters, kept in struct agent and bumped by the core; exposed by
 * metrics.c. A header of their own so that struct agent (agent.h) does not depend on the
 * metrics endpoint that reads it.
 */
#ifndef FL_COUNTERS_H
#define FL_COUNTERS_H

#include <stdint.h>

#include "exp.h"

enum metrics_counter {
	MET_APPLIES,
	MET_APPLY_FAILURES,
	MET_REVERTS,
	MET_REVERT_FAILURES,
	MET__PER_TYPE, /* counters above are kept per fault type */
};

/* Process-wide counters, bumped by the core. */
struct metrics {
	uint64_t per_type[MET__PER_TYPE][FAULT_TYPE_COUNT]; /* by enum fault_type */
	uint64_t lease_expiries;
	uint64_t requests_refused; /* auth or policy */
	uint64_t requests;
};

/* Count one event for a fault of type (enum fault_type). */
static inline void metrics_count(struct metrics *m, enum metrics_counter c, int type)
{
	if (type >= 0 && type < FAULT_TYPE_COUNT && c < MET__PER_TYPE)
		m->per_type[c][type]++;
}

#endif
