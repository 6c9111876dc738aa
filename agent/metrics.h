/* Prometheus metrics of the agent, served on an optional loopback HTTP listener. */
#ifndef FL_METRICS_H
#define FL_METRICS_H

#include <stdint.h>

#include <uv.h>

#include "exp.h"

struct agent;
struct metrics_server;

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
void metrics_count(struct metrics *m, enum metrics_counter c, int type);

/* The exposition text (text/plain; version=0.0.4), malloc'd. */
char *metrics_render(const struct agent *a);

/*
 * Listen on addr ("127.0.0.1:9464" or "[::1]:9464"): loopback only, since the metrics
 * reveal what is being injected. GET /metrics answers. Returns 0 or -errno.
 */
int metrics_listen(struct agent *a, const char *addr, struct metrics_server **out);
void metrics_close(struct metrics_server *ms);

#endif
