/*
 * Prometheus metrics of the agent, served on an optional loopback HTTP listener: the
 * exposition of its state and of the counters of counters.h.
 */
#ifndef FL_METRICS_H
#define FL_METRICS_H

#include <uv.h>

struct agent;
struct metrics_server;

/* The exposition text (text/plain; version=0.0.4), malloc'd. */
char *metrics_render(const struct agent *a);

/*
 * Listen on addr ("127.0.0.1:9464" or "[::1]:9464"): loopback only, since the metrics
 * reveal what is being injected. GET /metrics answers. Returns 0 or -errno.
 */
int metrics_listen(struct agent *a, const char *addr, struct metrics_server **out);
void metrics_close(struct metrics_server *ms);

#endif
