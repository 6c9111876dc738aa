/*
 * Probe drivers shared by guardrails (ctl/guard.c) and steady-state checks: HTTP requests
 * through a libcurl multi handle paced by the monotonic clock, Prometheus instant queries,
 * and commands in their own process group. Internal to faultctl.
 */
#ifndef FL_GUARD_PROBE_H
#define FL_GUARD_PROBE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "guard_eval.h"

/* CLOCK_MONOTONIC in nanoseconds: the clock of every time in guard.h and here. */
int64_t guard_now_ns(void);

/* Everything one probing thread owns. */
struct probe_ctx {
	CURLM *multi;
	int stop_fd;	     /* readable once the owner wants the thread to stop; -1: none */
	atomic_bool *stop;   /* set together with stop_fd; NULL: none */
	int64_t deadline_ns; /* nothing runs past it; INT64_MAX for guardrails */
};

int probe_ctx_init(struct probe_ctx *ctx, int stop_fd, atomic_bool *stop, int64_t deadline_ns);
void probe_ctx_fini(struct probe_ctx *ctx);
bool probe_stopping(const struct probe_ctx *ctx);

/*
 * Wait until t (monotonic) or until stopped, without spinning. Returns true when t was
 * reached, false when stopping.
 */
bool probe_sleep_until(const struct probe_ctx *ctx, int64_t t_ns);

/* How one HTTP request ended. */
struct http_result {
	int64_t t_ns;	    /* when it completed */
	int64_t latency_ns; /* from sending to completion or giving up */
	long status;	    /* HTTP status; 0 without an answer */
	bool timed_out;
	bool transport_error; /* no answer at all: refused, reset, DNS, TLS */
	char error[128];      /* libcurl's reason when there was no answer */
};

/* A stream of paced HTTP requests. */
struct http_loop {
	const char *url;
	const struct probe_tls *tls; /* NULL: system CAs, full verification */
	int method;		     /* enum http_method */
	uint64_t rate_pkm;
	int64_t timeout_ns;
	size_t max_requests; /* 0: until stopped or the deadline */
	/* Called for every completed request, in completion order. Nonzero return stops. */
	int (*on_result)(void *arg, const struct http_result *r);
	/* Called every tick_ns when set (burn rates evaluate on their interval). */
	int64_t tick_ns;
	int (*on_tick)(void *arg, int64_t now_ns);
	void *arg;
};

/* At most this many requests of one probe in flight; a tick that finds them all busy skips. */
#define PROBE_HTTP_MAX_INFLIGHT 64

/*
 * Send requests at the loop's rate until stopped, max_requests completed, the deadline or a
 * callback says so. Requests in flight when it stops are abandoned at once. Returns 0 or a
 * callback's nonzero value, or -errno when libcurl fails.
 */
int probe_http_loop(struct probe_ctx *ctx, const struct http_loop *l);

/*
 * One GET of url with a timeout, body kept (at most 4 MiB). Returns 0 with a malloc'd
 * body (NUL-terminated) and the status, or -errno with the reason in err (-ETIMEDOUT,
 * -ECONNREFUSED... mapped loosely; -ECANCELED when stopping).
 */
int probe_http_get(struct probe_ctx *ctx, const char *url, const struct probe_tls *tls,
		   int64_t timeout_ns, char **body, size_t *len, long *status, char *err,
		   size_t err_size);

/*
 * One instant query: 0 with the reading filled by guard_prom_judge-like rules left to the
 * caller: *value set; -errno with err on a probe error.
 */
int probe_prom_query(struct probe_ctx *ctx, const char *url, const struct probe_tls *tls,
		     const char *query, int64_t timeout_ns, double *value, char *err,
		     size_t err_size);

/* Run a command probe once (timeout capped by the deadline) into *out. 0 or -errno. */
int probe_command_run(struct probe_ctx *ctx, const struct probe_command *p,
		      struct guard_reading *out);

#endif
