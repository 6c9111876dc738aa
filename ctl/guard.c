/*
 * Guard sets and steady-state checks. Every guardrail runs in its own thread with its own
 * libcurl multi handle; readings go through the pure debounce (lib/guard_eval.c) under the
 * set's lock, and a breach is signalled on wake_fd the moment it is decided.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "exp.h"
#include "guard.h"
#include "guard_probe.h"
#include "log.h"
#include "units.h"

/* A steady-state HTTP check sends at most this many requests (see docs/guardrails.md). */
#define CHECK_HTTP_REQUESTS 10

struct guard_worker {
	struct guardset *set;
	const struct exp_guardrail *g;
	pthread_t thread;
	bool started;
	struct guard_debounce deb; /* under set->lock */
	struct guard_status st;	   /* under set->lock */
};

struct guardset {
	pthread_mutex_t lock;
	int stop_fd; /* eventfd, written once by guardset_stop() */
	atomic_bool stop;
	int wake_fd;
	size_t n;
	struct guard_worker *w;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* libcurl's global set-up is not safe against concurrent use, so do it once, early. */
static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int curl_ready(void)
{
	pthread_once(&curl_once, curl_init_once);
	return curl_init_rc == CURLE_OK ? 0 : -ENOMEM;
}

/* Where a probe's readings go: a guardrail's debounce, or a check's single answer. */
struct sink {
	struct guard_worker *w; /* NULL for checks */
	struct guard_reading *out;
};

static void emit(struct sink *s, const struct guard_reading *r)
{
	struct guard_worker *w = s->w;
	enum guard_event ev;
	bool breach = false;

	if (!w) {
		*s->out = *r;
		return;
	}
	pthread_mutex_lock(&w->set->lock);
	w->st.last = *r;
	w->st.samples++;
	w->st.errors += !r->valid;
	guard_coverage_feed(&w->st.cov, r);
	ev = guard_debounce_feed(&w->deb, r);
	w->st.unhealthy_since_ns = w->deb.unhealthy_since_ns;
	if (ev == GUARD_EV_BREACH) {
		w->st.breached = true;
		w->st.breach = *r;
		w->st.breach_ns = guard_now_ns();
		breach = true;
	}
	pthread_mutex_unlock(&w->set->lock);
	if (breach && w->set->wake_fd >= 0) {
		uint64_t one = 1;

		/* An eventfd write only fails when the counter would overflow: already woken. */
		if (write(w->set->wake_fd, &one, sizeof(one)) < 0)
			log_debug("guardrail %s: wake_fd: %s", w->g->name, strerror(errno));
	}
	if (breach)
		log_info("guardrail %s breached: %s", w->g->name, r->summary);
	else if (ev == GUARD_EV_WARN)
		log_warn("guardrail %s: probe cannot run: %s", w->g->name, r->summary);
}

/* HTTP probe. */

struct http_probe_state {
	const struct probe_http *p;
	struct sink *sink;
	struct guard_window win;
	bool check;		 /* a check: one reading at the end, not one per request */
	size_t transport_errors; /* checks only */
	char last_error[128];
};

static int http_probe_result(void *arg, const struct http_result *res)
{
	struct http_probe_state *s = arg;
	struct guard_sample smp = {.t_ns = res->t_ns, .latency_ns = res->latency_ns};
	struct guard_http_stats st;
	struct guard_reading r;
	int err;

	if (res->transport_error) {
		snprintf(s->last_error, sizeof(s->last_error), "%.127s", res->error);
		s->transport_errors++;
		if (!s->check) {
			guard_reading_error(&r, res->t_ns, "no answer from %.80s: %s", s->p->url,
					    res->error);
			emit(s->sink, &r);
		}
		return 0;
	}
	smp.ok = !res->timed_out &&
		 guard_status_expected(s->p->expect_status, s->p->n_expect_status, res->status);
	err = guard_window_add(&s->win, &smp);
	if (err)
		return err;
	if (s->check)
		return 0;
	err = guard_window_stats(&s->win, res->t_ns, &st);
	if (err)
		return err;
	guard_http_judge(s->p, &st, res->t_ns, &r);
	emit(s->sink, &r);
	return 0;
}

static int run_http(struct probe_ctx *ctx, const struct probe_http *p, struct sink *sink,
		    bool check)
{
	struct http_probe_state s = {.p = p, .sink = sink, .check = check};
	struct http_loop l = {
		.url = p->url,
		.tls = p->tls,
		.method = p->method,
		.rate_pkm = p->rate_pkm,
		.timeout_ns = p->timeout_ns,
		.on_result = http_probe_result,
		.arg = &s,
	};
	struct guard_http_stats st;
	struct guard_reading r;
	int64_t now;
	int err;

	/* A check keeps every sample of its burst: the burst fits the window by design. */
	guard_window_init(&s.win, check ? INT64_MAX / 2 : p->window_ns);
	if (check) {
		uint64_t fit = (uint64_t)(p->window_ns /
					  (60LL * 1000 * 1000000000LL / (int64_t)p->rate_pkm));

		l.max_requests = fit < 1		     ? 1
				 : fit > CHECK_HTTP_REQUESTS ? CHECK_HTTP_REQUESTS
							     : fit;
	}
	err = probe_http_loop(ctx, &l);
	if (err || !check)
		goto out;
	now = guard_now_ns();
	if (s.transport_errors) {
		guard_reading_error(&r, now, "%zu of %zu requests got no answer from %.80s: %s",
				    s.transport_errors, s.transport_errors + s.win.len, p->url,
				    s.last_error);
	} else if (!s.win.len) {
		guard_reading_error(&r, now, "no request completed before the deadline");
	} else {
		err = guard_window_stats(&s.win, now, &st);
		if (err)
			goto out;
		guard_http_judge(p, &st, now, &r);
	}
	emit(sink, &r);
out:
	guard_window_free(&s.win);
	return err;
}

/* Prometheus probe. */

static int prom_once(struct probe_ctx *ctx, const struct probe_prometheus *p, struct sink *sink)
{
	char err[GUARD_SUMMARY_SIZE];
	struct guard_reading r;
	double v;
	int ret;

	ret = probe_prom_query(ctx, p->url, p->tls, p->query, p->timeout_ns, &v, err, sizeof(err));
	if (ret == -ECANCELED)
		return 0;
	if (ret == -ENOMEM)
		return ret;
	if (ret)
		guard_reading_error(&r, guard_now_ns(), "%s", err);
	else
		guard_prom_judge(p, v, guard_now_ns(), &r);
	emit(sink, &r);
	return 0;
}

/* Command probe. */

static int command_once(struct probe_ctx *ctx, const struct probe_command *p, struct sink *sink)
{
	struct guard_reading r;
	int err;

	err = probe_command_run(ctx, p, &r);
	if (err)
		return err;
	if (probe_stopping(ctx))
		return 0;
	emit(sink, &r);
	return 0;
}

/* Repeat a one-shot probe every interval, on a schedule from the monotonic clock. */
static int every(struct probe_ctx *ctx, int64_t interval_ns,
		 int (*once)(struct probe_ctx *, const void *, struct sink *), const void *p,
		 struct sink *sink)
{
	int64_t next = guard_now_ns();
	int err;

	while (probe_sleep_until(ctx, next)) {
		err = once(ctx, p, sink);
		if (err)
			return err;
		next += interval_ns;
		if (next <= guard_now_ns())
			next = guard_now_ns() + interval_ns;
	}
	return 0;
}

static int prom_once_v(struct probe_ctx *ctx, const void *p, struct sink *sink)
{
	return prom_once(ctx, p, sink);
}

static int command_once_v(struct probe_ctx *ctx, const void *p, struct sink *sink)
{
	return command_once(ctx, p, sink);
}

/* Burn rate. */

struct burn_state {
	const struct probe_burn_rate *b;
	struct sink *sink;
	struct guard_counter *ctr; /* one per window */
	size_t transport_errors;   /* since the last evaluation */
	char last_error[128];
	uint64_t check_total, check_bad; /* checks: the burst */
	bool check;
};

static int burn_http_result(void *arg, const struct http_result *res)
{
	struct burn_state *s = arg;
	const struct burn_http_source *h = s->b->http;
	bool bad;

	if (res->transport_error) {
		s->transport_errors++;
		snprintf(s->last_error, sizeof(s->last_error), "%.127s", res->error);
		return 0;
	}
	bad = res->timed_out ||
	      !guard_status_expected(h->expect_status, h->n_expect_status, res->status);
	s->check_total++;
	s->check_bad += bad;
	for (size_t i = 0; i < s->b->n_windows && !s->check; i++)
		guard_counter_add(&s->ctr[i], res->t_ns, bad);
	return 0;
}

static void burn_evaluate(struct burn_state *s, int64_t now)
{
	double ratios[8];
	struct guard_reading r;
	char w[UNITS_FMT_MAX];

	if (s->transport_errors) {
		guard_reading_error(&r, now, "%zu requests got no answer from %.80s: %s",
				    s->transport_errors, s->b->http->url, s->last_error);
		s->transport_errors = 0;
		emit(s->sink, &r);
		return;
	}
	for (size_t i = 0; i < s->b->n_windows; i++) {
		uint64_t total, bad;

		if (s->check) {
			total = s->check_total;
			bad = s->check_bad;
		} else {
			guard_counter_sum(&s->ctr[i], now, &total, &bad);
		}
		if (!total) {
			guard_reading_error(&r, now, "no request completed in the %s window",
					    units_fmt_duration(w, s->b->windows[i].window_ns));
			emit(s->sink, &r);
			return;
		}
		ratios[i] = (double)bad / (double)total;
	}
	guard_burn_judge(s->b, ratios, now, &r);
	emit(s->sink, &r);
}

static int burn_tick(void *arg, int64_t now)
{
	burn_evaluate(arg, now);
	return 0;
}

static int burn_prom_once(struct probe_ctx *ctx, const struct probe_burn_rate *b, struct sink *sink)
{
	double ratios[8];
	struct guard_reading r;
	char err[GUARD_SUMMARY_SIZE], w[UNITS_FMT_MAX];
	int ret = 0;

	for (size_t i = 0; i < b->n_windows; i++) {
		char *q = NULL;

		ret = guard_burn_query(b->prometheus->query, b->windows[i].window_ns, &q);
		if (ret)
			return ret;
		ret = probe_prom_query(ctx, b->prometheus->url, b->prometheus->tls, q,
				       b->prometheus->timeout_ns, &ratios[i], err, sizeof(err));
		free(q);
		if (ret == -ECANCELED)
			return 0;
		if (ret == -ENOMEM)
			return ret;
		if (!ret && isnan(ratios[i])) {
			snprintf(err, sizeof(err), "query returned NaN (no requests?)");
			ret = -EINVAL;
		}
		if (ret) {
			guard_reading_error(&r, guard_now_ns(), "%s window: %s",
					    units_fmt_duration(w, b->windows[i].window_ns), err);
			emit(sink, &r);
			return 0;
		}
	}
	guard_burn_judge(b, ratios, guard_now_ns(), &r);
	emit(sink, &r);
	return 0;
}

static int burn_prom_once_v(struct probe_ctx *ctx, const void *p, struct sink *sink)
{
	return burn_prom_once(ctx, p, sink);
}

static int run_burn_http(struct probe_ctx *ctx, const struct probe_burn_rate *b, struct sink *sink,
			 bool check)
{
	struct burn_state s = {.b = b, .sink = sink, .check = check};
	struct guard_counter ctr[8];
	struct http_loop l = {
		.url = b->http->url,
		.tls = b->http->tls,
		.method = b->http->method,
		.rate_pkm = b->http->rate_pkm,
		.timeout_ns = b->http->timeout_ns,
		.on_result = burn_http_result,
		.arg = &s,
	};
	int64_t now = guard_now_ns();
	int err;

	if (b->n_windows > 8)
		return -EINVAL;
	for (size_t i = 0; i < b->n_windows; i++)
		guard_counter_init(&ctr[i], b->windows[i].window_ns, now);
	s.ctr = ctr;
	if (check) {
		l.max_requests = CHECK_HTTP_REQUESTS;
	} else {
		l.tick_ns = b->interval_ns;
		l.on_tick = burn_tick;
	}
	err = probe_http_loop(ctx, &l);
	if (!err && check)
		burn_evaluate(&s, guard_now_ns());
	return err;
}

/* Run a probe: continuously for a guardrail, once for a check. */
static int probe_run(struct probe_ctx *ctx, const struct exp_probe *p, struct sink *sink,
		     bool check)
{
	switch (p->kind) {
	case PROBE_HTTP:
		return run_http(ctx, &p->u.http, sink, check);
	case PROBE_PROMETHEUS:
		if (check)
			return prom_once(ctx, &p->u.prometheus, sink);
		return every(ctx, p->u.prometheus.interval_ns, prom_once_v, &p->u.prometheus, sink);
	case PROBE_COMMAND:
		if (check)
			return command_once(ctx, &p->u.command, sink);
		return every(ctx, p->u.command.interval_ns, command_once_v, &p->u.command, sink);
	case PROBE_BURN_RATE:
		if (p->u.burn_rate.http)
			return run_burn_http(ctx, &p->u.burn_rate, sink, check);
		if (check)
			return burn_prom_once(ctx, &p->u.burn_rate, sink);
		return every(ctx, p->u.burn_rate.interval_ns, burn_prom_once_v, &p->u.burn_rate,
			     sink);
	}
	return -EINVAL;
}

/* Guard sets. */

static void *worker_main(void *arg)
{
	struct guard_worker *w = arg;
	struct sink sink = {.w = w};
	struct probe_ctx ctx;
	struct guard_reading r;
	int err;

	err = probe_ctx_init(&ctx, w->set->stop_fd, &w->set->stop, INT64_MAX);
	if (!err)
		err = probe_run(&ctx, &w->g->probe, &sink, false);
	probe_ctx_fini(&ctx);
	if (err && !atomic_load(&w->set->stop)) {
		/* faultctl itself failed: the guardrail is blind, which is a breach under
		 * abort and a warning otherwise, like any probe that cannot run.
		 */
		guard_reading_error(&r, guard_now_ns(), "guardrail stopped: %s", strerror(-err));
		log_err("guardrail %s: %s", w->g->name, r.summary);
		pthread_mutex_lock(&w->set->lock);
		w->deb.for_ns = 0;
		pthread_mutex_unlock(&w->set->lock);
		emit(&sink, &r);
	}
	return NULL;
}

int guardset_start(const struct exp_guardrail *g, size_t n, int wake_fd, struct guardset **out)
{
	struct guardset *s;
	int err;

	err = curl_ready();
	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->w = calloc(n ? n : 1, sizeof(*s->w));
	if (!s->w) {
		free(s);
		return -ENOMEM;
	}
	s->n = n;
	s->wake_fd = wake_fd;
	atomic_init(&s->stop, false);
	pthread_mutex_init(&s->lock, NULL);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		err = -errno;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct guard_worker *w = &s->w[i];

		guard_coverage_init(&w->st.cov, guard_now_ns());
		w->set = s;
		w->g = &g[i];
		w->st.name = g[i].name;
		guard_debounce_init(&w->deb, g[i].for_ns, g[i].on_error);
	}
	for (size_t i = 0; i < n; i++) {
		err = -pthread_create(&s->w[i].thread, NULL, worker_main, &s->w[i]);
		if (err)
			goto fail;
		s->w[i].started = true;
	}
	*out = s;
	return 0;
fail:
	guardset_stop(s);
	return err;
}

size_t guardset_count(const struct guardset *s)
{
	return s->n;
}

int guardset_status(struct guardset *s, size_t i, struct guard_status *out)
{
	if (i >= s->n)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	*out = s->w[i].st;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int guardset_breached(struct guardset *s, struct guard_status *out)
{
	int first = -1;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n; i++) {
		const struct guard_status *st = &s->w[i].st;

		if (st->breached && (first < 0 || st->breach_ns < s->w[first].st.breach_ns))
			first = (int)i;
	}
	if (first >= 0 && out)
		*out = s->w[first].st;
	pthread_mutex_unlock(&s->lock);
	return first;
}

void guardset_stop(struct guardset *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	atomic_store(&s->stop, true);
	/* Every thread polls stop_fd: HTTP transfers are abandoned, commands killed. */
	if (s->stop_fd >= 0 && write(s->stop_fd, &one, sizeof(one)) < 0)
		log_debug("guard set: stop_fd: %s", strerror(errno));
	for (size_t i = 0; i < s->n; i++)
		if (s->w[i].started)
			pthread_join(s->w[i].thread, NULL);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_mutex_destroy(&s->lock);
	free(s->w);
	free(s);
}

/* Checks. */

int guard_check_run(const struct exp_check *c, int64_t deadline_ns, struct guard_reading *out)
{
	struct sink sink = {.out = out};
	struct probe_ctx ctx;
	int err;

	err = curl_ready();
	if (err)
		return err;
	guard_reading_error(out, guard_now_ns(), "no reading before the deadline");
	if (deadline_ns <= guard_now_ns())
		return 0;
	err = probe_ctx_init(&ctx, -1, NULL, deadline_ns);
	if (err)
		return err;
	err = probe_run(&ctx, &c->probe, &sink, true);
	probe_ctx_fini(&ctx);
	return err;
}

/* JSON. */

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

json_t *guard_reading_json(const struct guard_reading *r)
{
	return json_pack("{s:I, s:b, s:b, s:o, s:o, s:s}", "time_ns", (json_int_t)r->time_ns,
			 "valid", r->valid, "healthy", r->valid && r->healthy, "value",
			 num_or_null(r->value), "threshold", num_or_null(r->threshold), "summary",
			 r->summary);
}

json_t *guard_status_json(const struct guard_status *st)
{
	json_t *o, *last = NULL;

	if (st->last.time_ns) {
		last = guard_reading_json(&st->last);
		if (!last)
			return NULL;
	}
	o = json_pack("{s:s, s:I, s:I, s:b, s:o, s:I}", "name", st->name ? st->name : "", "samples",
		      (json_int_t)st->samples, "errors", (json_int_t)st->errors, "breached",
		      st->breached, "last", last ? last : json_null(), "unhealthy_since_ns",
		      (json_int_t)st->unhealthy_since_ns);
	if (!o)
		return NULL;
	if (st->breached) {
		json_t *b = guard_reading_json(&st->breach);

		if (!b || json_object_set_new(o, "breach", b) ||
		    json_object_set_new(o, "breach_ns", json_integer(st->breach_ns))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}
