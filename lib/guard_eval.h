/*
 * Guardrail arithmetic without system calls: sliding windows of HTTP samples with exact
 * percentiles, bucketed error counters for burn rates, the verdicts of each probe kind, the
 * `for:` debounce and `on_error` policy as a state machine, and Prometheus answers. The
 * probe drivers (ctl/guard.c) feed it times and results; unit tests feed it numbers.
 * docs/guardrails.md describes the same rules for people.
 */
#ifndef FL_GUARD_EVAL_H
#define FL_GUARD_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exp.h"

#define GUARD_SUMMARY_SIZE 256

/* One evaluation of a probe's conditions. */
struct guard_reading {
	int64_t time_ns;  /* when the sample that decided it was taken */
	bool valid;	  /* false: the probe could not be evaluated; summary says why */
	bool healthy;	  /* meaningful only when valid */
	double value;	  /* the headline figure (success ratio, query result, burn rate...) */
	double threshold; /* what value is compared with; NAN where there is none */
	/* For people: "success 99.2% >= 99.0%, p99 120ms <= 300ms over 10s (42 requests)". */
	char summary[GUARD_SUMMARY_SIZE];
};

/* Fill r as a probe error at time t with a printf-style reason. */
void guard_reading_error(struct guard_reading *r, int64_t t_ns, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* HTTP samples. */

/* Whether an HTTP status counts as success; no ranges means 200-299. */
bool guard_status_expected(const struct status_range *r, size_t n, long status);

struct guard_sample {
	int64_t t_ns;	    /* when the request completed */
	int64_t latency_ns; /* from sending to the end of the answer, or to giving up */
	bool ok;	    /* expected status within the timeout */
};

/* A node of the window's order-statistic tree (a treap keyed by latency). */
struct guard_ost_node {
	int64_t key;
	uint32_t prio, size; /* heap priority; nodes in this subtree */
	int32_t l, r;	     /* children, indices into the node pool; -1: none */
};

/*
 * The requests that completed in (now - span, now], in completion order, and their
 * latencies in an order-statistic tree, so adding, forgetting and every percentile cost
 * O(log n). Memory grows with what the window holds (a ring and a node pool that double),
 * never with how long the probe runs.
 */
struct guard_window {
	int64_t span_ns;
	struct guard_sample *s;
	size_t cap, head, len; /* ring: oldest at head */
	size_t n_ok;
	struct guard_ost_node *nodes;
	size_t n_nodes, nodes_cap; /* pool: used slots, allocated slots */
	int32_t root, free_list;   /* -1: none; free nodes are chained through l */
	uint32_t rng;		   /* xorshift state for priorities: deterministic */
};

struct guard_http_stats {
	size_t n, ok;
	int64_t p50_ns, p95_ns, p99_ns; /* nearest rank; 0 when n == 0 */
};

int guard_window_init(struct guard_window *w, int64_t span_ns);
void guard_window_free(struct guard_window *w);

/* Add a sample (times must not go backwards) and forget what left the window. 0 or -ENOMEM. */
int guard_window_add(struct guard_window *w, const struct guard_sample *s);

/* Forget samples completed at or before now - span. */
void guard_window_expire(struct guard_window *w, int64_t now_ns);

/*
 * Statistics over the window as of now: count, successes and the exact nearest-rank
 * percentiles of the latencies of every sample (the smallest latency such that at least
 * p% of the samples took no longer). Returns 0 (kept for callers that check).
 */
int guard_window_stats(struct guard_window *w, int64_t now_ns, struct guard_http_stats *out);

/* The 1-based rank of the nearest-rank percentile pct (1..100) among n > 0 values. */
size_t guard_percentile_rank(size_t n, unsigned pct);

/* Nearest-rank percentile (1..100) of v[0..n-1], n > 0, by selection; reorders v. */
int64_t guard_percentile(int64_t *v, size_t n, unsigned pct);

/* The HTTP probe's verdict on window statistics (n > 0) at time t. */
void guard_http_judge(const struct probe_http *p, const struct guard_http_stats *st, int64_t t_ns,
		      struct guard_reading *out);

/* Error counters for burn rates. */

#define GUARD_COUNTER_BUCKETS 60

/*
 * Requests and failures over a window, counted in GUARD_COUNTER_BUCKETS buckets of
 * window / GUARD_COUNTER_BUCKETS (rounded up) plus the current one, so the count reaches
 * back between one window and one window plus a bucket. Fixed size whatever the window.
 */
struct guard_counter {
	int64_t origin_ns, width_ns;
	struct {
		int64_t index; /* absolute bucket number; -1: empty */
		uint64_t total, bad;
	} b[GUARD_COUNTER_BUCKETS + 1];
};

void guard_counter_init(struct guard_counter *c, int64_t window_ns, int64_t origin_ns);
/* Count one request completed at t (t >= origin). */
void guard_counter_add(struct guard_counter *c, int64_t t_ns, bool bad);
/* Requests and failures in the window ending at now. */
void guard_counter_sum(const struct guard_counter *c, int64_t now_ns, uint64_t *total,
		       uint64_t *bad);

/* Burn rate of an error ratio against an objective: ratio / (1 - objective). */
double guard_burn(double error_ratio, uint32_t objective_ppm);

/*
 * The burn-rate verdict: ratios[i] is the error ratio over b->windows[i]. Unhealthy when
 * every window's burn rate exceeds its max_burn. The headline is the window that decided:
 * when unhealthy the one closest to its limit, when healthy the first one within it.
 */
void guard_burn_judge(const struct probe_burn_rate *b, const double *ratios, int64_t t_ns,
		      struct guard_reading *out);

/* Prometheus. */

/* a OP b for enum cmp_op. */
bool guard_cmp(int op, double a, double b);
const char *guard_cmp_name(int op);

/*
 * The value of an instant-query answer (/api/v1/query JSON). Returns 0 with *value set;
 * -ENODATA for an empty vector; -EINVAL for anything else that is not one number (an error
 * status, several series, a matrix, unparsable JSON), with the reason in err.
 */
int guard_prom_parse(const char *body, size_t len, double *value, char *err, size_t err_size);

/* The Prometheus probe's verdict on a query result at time t. NaN is a probe error. */
void guard_prom_judge(const struct probe_prometheus *p, double value, int64_t t_ns,
		      struct guard_reading *out);

/*
 * URL of an instant query: BASE/api/v1/query?query=ESCAPED (one '/' between base and path).
 * Returns 0 with a malloc'd *out, or -ENOMEM.
 */
int guard_prom_url(const char *base, const char *query, char **out);

/* A window as a Prometheus duration ("5m", "1h30m", "1m30s500ms"); sub-ms rounds up. */
char *guard_prom_duration(char *buf, size_t size, int64_t ns);

/* The query with every "$window" replaced by the window. 0 with malloc'd *out, or -ENOMEM. */
int guard_burn_query(const char *tmpl, int64_t window_ns, char **out);

/* Commands. */

enum guard_cmd_outcome {
	GUARD_CMD_EXITED,    /* code is the exit status */
	GUARD_CMD_SIGNALED,  /* code is the signal */
	GUARD_CMD_TIMED_OUT, /* killed after the timeout */
};

void guard_cmd_judge(const struct probe_command *p, int outcome, int code, int64_t elapsed_ns,
		     const char *output, int64_t t_ns, struct guard_reading *out);

/* The `for:` debounce and the `on_error` policy. */

enum guard_event {
	GUARD_EV_NONE,
	GUARD_EV_WARN,	 /* on_error warn: the probe just started failing to run */
	GUARD_EV_BREACH, /* the guardrail is breached from now on */
};

/*
 * States: healthy (unhealthy_since_ns == 0), unhealthy since a time, breached (latched).
 * A valid healthy reading returns to healthy; a valid unhealthy reading starts or continues
 * the unhealthy streak and breaches once the streak has lasted for_ns (at once with for 0).
 * An invalid reading counts as unhealthy under on_error abort; under warn and ignore it
 * changes nothing (it neither proves health nor extends a streak into a breach).
 */
struct guard_debounce {
	int64_t for_ns;
	int on_error; /* enum exp_on_error */
	int64_t unhealthy_since_ns;
	bool erroring; /* the last reading was invalid */
	bool breached;
};

void guard_debounce_init(struct guard_debounce *d, int64_t for_ns, int on_error);
/* Feed one reading (time_ns > 0, non-decreasing). */
enum guard_event guard_debounce_feed(struct guard_debounce *d, const struct guard_reading *r);

/* Whether a steady-state check passes with this reading under its on_error policy. */
bool guard_check_passed(const struct guard_reading *r, int on_error);

/* Coverage: whether a guardrail actually watched the run. */

/*
 * A run whose guardrail could not be read for more than this share of the time it was
 * watched is inconclusive (docs/guardrails.md): what happened while it was blind is unknown.
 */
#define GUARD_BLIND_MAX_PCT 50

/*
 * The time a guardrail spent blind over its watch, from the readings in time order. The
 * guardrail is blind from an invalid reading until the next valid one; before its first
 * reading it counts as seeing, because the pre-flight reading just before the watch began
 * was valid (a run whose pre-flight reading is invalid never starts).
 */
struct guard_coverage {
	int64_t start_ns; /* the watch began */
	int64_t last_ns;  /* the latest reading fed, or start_ns */
	bool seeing;	  /* the latest reading was valid (true before the first) */
	uint64_t valid, invalid;
	int64_t blind_ns; /* blind time up to last_ns */
};

void guard_coverage_init(struct guard_coverage *c, int64_t start_ns);
/* Feed one reading; readings before start_ns only set whether the guardrail sees. */
void guard_coverage_feed(struct guard_coverage *c, const struct guard_reading *r);
/* The blind time from start_ns to end_ns (end_ns >= the latest reading). */
int64_t guard_coverage_blind_ns(const struct guard_coverage *c, int64_t end_ns);

/*
 * Whether a watch that ended at end_ns decides nothing: no valid reading at all, or blind
 * for more than max_pct percent of it. why (may be NULL) says which, for people.
 */
bool guard_coverage_inconclusive(const struct guard_coverage *c, int64_t end_ns, unsigned max_pct,
				 char *why, size_t size);

#endif
