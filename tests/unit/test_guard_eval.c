/*
 * Unit tests for lib/guard_eval.c: windows and exact percentiles, burn rates, verdicts,
 * Prometheus answers and the for:/on_error state machine. Times are made up, so exact.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guard_eval.h"

#define SEC 1000000000LL
#define MS 1000000LL

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank by sorting, the definition the selection must agree with. */
static int64_t ref_percentile(const int64_t *v, size_t n, unsigned pct)
{
	int64_t *c = malloc(n * sizeof(*c));
	size_t rank = (pct * n + 99) / 100;
	int64_t r;

	assert_non_null(c);
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp64);
	r = c[(rank ? rank : 1) - 1];
	free(c);
	return r;
}

static void test_percentile_known(void **state)
{
	int64_t v[100], three[3] = {30, 10, 20}, one[1] = {7}, dup[5] = {5, 5, 5, 1, 9};

	for (int i = 0; i < 100; i++)
		v[i] = 100 - i;
	assert_int_equal(guard_percentile(v, 100, 50), 50);
	assert_int_equal(guard_percentile(v, 100, 95), 95);
	assert_int_equal(guard_percentile(v, 100, 99), 99);
	assert_int_equal(guard_percentile(v, 100, 100), 100);
	/* ceil(0.5 * 3) = 2nd smallest; ceil(0.99 * 3) = 3rd. */
	assert_int_equal(guard_percentile(three, 3, 50), 20);
	assert_int_equal(guard_percentile(three, 3, 99), 30);
	assert_int_equal(guard_percentile(one, 1, 99), 7);
	assert_int_equal(guard_percentile(dup, 5, 50), 5);
	assert_int_equal(guard_percentile(dup, 5, 99), 9);
	assert_int_equal(guard_percentile(dup, 5, 1), 1);
}

static void test_percentile_random(void **state)
{
	unsigned seed = 12345;

	for (int round = 0; round < 300; round++) {
		size_t n = 1 + (size_t)(rand_r(&seed) % 700);
		int64_t *v = malloc(n * sizeof(*v)), *w = malloc(n * sizeof(*w));
		/* Few distinct values in some rounds, to exercise runs of equal keys. */
		int mod = round % 3 ? 1000000 : 4;

		assert_non_null(v);
		assert_non_null(w);
		for (size_t i = 0; i < n; i++)
			v[i] = rand_r(&seed) % mod;
		for (unsigned pct = 1; pct <= 100; pct += 7) {
			memcpy(w, v, n * sizeof(*w));
			assert_int_equal(guard_percentile(w, n, pct), ref_percentile(v, n, pct));
		}
		free(v);
		free(w);
	}
}

static void test_status_expected(void **state)
{
	struct status_range r[2] = {{200, 200}, {301, 304}};

	assert_true(guard_status_expected(NULL, 0, 200));
	assert_true(guard_status_expected(NULL, 0, 299));
	assert_false(guard_status_expected(NULL, 0, 300));
	assert_false(guard_status_expected(NULL, 0, 199));
	assert_true(guard_status_expected(r, 2, 200));
	assert_false(guard_status_expected(r, 2, 201));
	assert_true(guard_status_expected(r, 2, 304));
	assert_false(guard_status_expected(r, 2, 305));
}

static void add(struct guard_window *w, int64_t t, int64_t lat, bool ok)
{
	struct guard_sample s = {.t_ns = t, .latency_ns = lat, .ok = ok};

	assert_int_equal(guard_window_add(w, &s), 0);
}

static void test_window_expiry(void **state)
{
	struct guard_window w;
	struct guard_http_stats st;

	guard_window_init(&w, 10 * SEC);
	add(&w, 1 * SEC, 100 * MS, true);
	add(&w, 2 * SEC, 300 * MS, false);
	add(&w, 3 * SEC, 200 * MS, true);
	assert_int_equal(guard_window_stats(&w, 5 * SEC, &st), 0);
	assert_int_equal(st.n, 3);
	assert_int_equal(st.ok, 2);
	assert_int_equal(st.p50_ns, 200 * MS);
	assert_int_equal(st.p99_ns, 300 * MS);
	/* The window is (now - span, now]: a sample exactly span old is gone. */
	assert_int_equal(guard_window_stats(&w, 11 * SEC - 1, &st), 0);
	assert_int_equal(st.n, 3);
	assert_int_equal(guard_window_stats(&w, 11 * SEC, &st), 0);
	assert_int_equal(st.n, 2);
	assert_int_equal(st.ok, 1);
	assert_int_equal(guard_window_stats(&w, 12 * SEC, &st), 0);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.ok, 1);
	assert_int_equal(st.p50_ns, 200 * MS);
	assert_int_equal(guard_window_stats(&w, 100 * SEC, &st), 0);
	assert_int_equal(st.n, 0);
	assert_int_equal(st.p99_ns, 0);
	guard_window_free(&w);
	guard_window_free(NULL);
}

/* A long run through a ring that wraps and grows: counts always match a direct count. */
static void test_window_ring(void **state)
{
	struct guard_window w;
	struct guard_http_stats st;
	static int64_t lat[5000], ts[5000];
	static bool ok[5000];
	static int64_t v[5000];
	unsigned seed = 7;
	int64_t t = 100 * SEC;

	guard_window_init(&w, 1 * SEC);
	for (int i = 0; i < 5000; i++) {
		size_t n = 0, nok = 0;

		/* Stretches of different density so the window holds 1 to 400 samples. */
		t += i % 1000 < 500 ? 2500000 : 20 * MS + (i % 7) * 30 * MS;
		ts[i] = t;
		lat[i] = rand_r(&seed) % 1000;
		ok[i] = rand_r(&seed) % 4 != 0;
		add(&w, t, lat[i], ok[i]);
		assert_int_equal(guard_window_stats(&w, t, &st), 0);
		for (int j = i; j >= 0 && ts[j] > t - 1 * SEC; j--) {
			v[n++] = lat[j];
			nok += ok[j];
		}
		assert_int_equal(st.n, n);
		assert_int_equal(st.ok, nok);
		assert_int_equal(st.p50_ns, ref_percentile(v, n, 50));
		assert_int_equal(st.p95_ns, ref_percentile(v, n, 95));
		assert_int_equal(st.p99_ns, ref_percentile(v, n, 99));
	}
	guard_window_free(&w);
}

/* A large window with many equal latencies: the tree agrees with sorting, and the size of
 * its node pool follows what the window holds, not how many samples went through it.
 */
static void test_window_large(void **state)
{
	enum { N = 120000, SPAN = 30000 };
	struct guard_window w;
	struct guard_http_stats st;
	int64_t *lat = malloc(N * sizeof(*lat)), *v = malloc(SPAN * sizeof(*v));
	unsigned seed = 99;

	assert_non_null(lat);
	assert_non_null(v);
	/* One sample per ms, a window of 30 s: 30000 samples in it once full. */
	guard_window_init(&w, SPAN * MS);
	for (int i = 0; i < N; i++) {
		int64_t t = (int64_t)(i + 1) * MS;

		lat[i] = (rand_r(&seed) % 50) * MS + (i / 40000) * 7 * MS;
		add(&w, t, lat[i], true);
		if (i % 9973)
			continue;
		assert_int_equal(guard_window_stats(&w, t, &st), 0);
		{
			size_t n = 0;

			for (int j = i; j >= 0 && (int64_t)(j + 1) * MS > t - SPAN * MS; j--)
				v[n++] = lat[j];
			assert_int_equal(st.n, n);
			assert_int_equal(st.p50_ns, ref_percentile(v, n, 50));
			assert_int_equal(st.p95_ns, ref_percentile(v, n, 95));
			assert_int_equal(st.p99_ns, ref_percentile(v, n, 99));
		}
	}
	assert_true(w.nodes_cap <= 2 * SPAN);
	assert_true(w.cap <= 2 * SPAN);
	guard_window_free(&w);
	free(lat);
	free(v);
}

static void test_http_judge(void **state)
{
	struct latency_limits lim = {.p95_ns = 500 * MS, .p99_ns = 800 * MS};
	struct probe_http p = {.url = "http://x/",
			       .window_ns = 60 * SEC,
			       .min_success_ppm = 995000,
			       .max_latency = &lim};
	struct guard_http_stats st = {
		.n = 1000, .ok = 995, .p50_ns = 10 * MS, .p95_ns = 500 * MS, .p99_ns = 800 * MS};
	struct guard_reading r;

	guard_http_judge(&p, &st, 5, &r);
	assert_true(r.valid);
	assert_true(r.healthy);
	assert_int_equal(r.time_ns, 5);
	assert_true(fabs(r.value - 0.995) < 1e-12);
	assert_true(fabs(r.threshold - 0.995) < 1e-12);
	assert_non_null(strstr(r.summary, "(1000 requests)"));
	st.ok = 994;
	guard_http_judge(&p, &st, 5, &r);
	assert_false(r.healthy);
	assert_true(fabs(r.value - 0.994) < 1e-12);
	/* Success holds, p99 does not: the headline is the failing condition. */
	st.ok = 1000;
	st.p99_ns = 800 * MS + 1;
	guard_http_judge(&p, &st, 5, &r);
	assert_false(r.healthy);
	assert_true(fabs(r.threshold - 0.8) < 1e-12);
	assert_non_null(strstr(r.summary, "p99"));
	/* Latency only. */
	p.min_success_ppm = 0;
	st.p99_ns = 100 * MS;
	guard_http_judge(&p, &st, 5, &r);
	assert_true(r.healthy);
	assert_true(fabs(r.value - 0.5) < 1e-12); /* the first given limit, p95 */
}

static void test_counter(void **state)
{
	struct guard_counter c;
	uint64_t total, bad;

	guard_counter_init(&c, 60 * SEC, 1000 * SEC);
	assert_int_equal(c.width_ns, 1 * SEC);
	guard_counter_add(&c, 1000 * SEC + 500 * MS, true);
	guard_counter_add(&c, 1010 * SEC, false);
	guard_counter_add(&c, 1010 * SEC, false);
	guard_counter_sum(&c, 1059 * SEC, &total, &bad);
	assert_int_equal(total, 3);
	assert_int_equal(bad, 1);
	/* Bucket 0 stays until bucket 61 starts: the window reaches back at most 61 s. */
	guard_counter_sum(&c, 1060 * SEC + 999 * MS, &total, &bad);
	assert_int_equal(total, 3);
	guard_counter_sum(&c, 1061 * SEC, &total, &bad);
	assert_int_equal(total, 2);
	assert_int_equal(bad, 0);
	/* A slot reused for a later bucket forgets the earlier one. */
	guard_counter_add(&c, 1061 * SEC, true);
	guard_counter_sum(&c, 1061 * SEC, &total, &bad);
	assert_int_equal(total, 3);
	assert_int_equal(bad, 1);
	guard_counter_sum(&c, 2000 * SEC, &total, &bad);
	assert_int_equal(total, 0);
	/* Many requests, many buckets: the sum equals a direct count of the last 60 s. */
	guard_counter_init(&c, 60 * SEC, 0);
	for (int64_t t = 0; t < 300 * SEC; t += 250 * MS)
		guard_counter_add(&c, t, (t / SEC) % 3 == 0);
	guard_counter_sum(&c, 300 * SEC - 1, &total, &bad);
	/* Buckets 239..299 (61 buckets of 4 requests). */
	assert_int_equal(total, 61 * 4);
	/* Failing seconds in 239..299 are 240, 243, ..., 297: twenty of them. */
	assert_int_equal(bad, 20 * 4);
}

static void test_burn(void **state)
{
	struct burn_window w[2] = {{5 * 60 * SEC, 14400}, {3600 * SEC, 14400}};
	struct probe_burn_rate b = {.objective_ppm = 999000, .windows = w, .n_windows = 2};
	double ratios[2];
	struct guard_reading r;

	assert_true(fabs(guard_burn(0.0144, 999000) - 14.4) < 1e-9);
	assert_true(fabs(guard_burn(0.01, 990000) - 1.0) < 1e-9);
	/* Both windows burn faster than 14.4x: unhealthy. */
	ratios[0] = 0.02;
	ratios[1] = 0.015;
	guard_burn_judge(&b, ratios, 9, &r);
	assert_true(r.valid);
	assert_false(r.healthy);
	assert_true(fabs(r.value - 15.0) < 1e-9); /* the window closest to its limit */
	assert_true(fabs(r.threshold - 14.4) < 1e-9);
	/* A short spike: 5m burns, 1h does not. Healthy (multi-window rule). */
	ratios[1] = 0.001;
	guard_burn_judge(&b, ratios, 9, &r);
	assert_true(r.valid);
	assert_true(r.healthy);
	assert_true(fabs(r.value - 1.0) < 1e-9);
	/* Exactly at the limit does not exceed it. */
	ratios[0] = ratios[1] = 0.0144;
	guard_burn_judge(&b, ratios, 9, &r);
	assert_true(r.healthy);
	ratios[0] = ratios[1] = 0.0145;
	guard_burn_judge(&b, ratios, 9, &r);
	assert_false(r.healthy);
	assert_non_null(strstr(r.summary, "over 1h"));
}

static void test_cmp(void **state)
{
	assert_true(guard_cmp(CMP_LT, 1, 2));
	assert_false(guard_cmp(CMP_LT, 2, 2));
	assert_true(guard_cmp(CMP_LE, 2, 2));
	assert_true(guard_cmp(CMP_GT, 3, 2));
	assert_false(guard_cmp(CMP_GT, 2, 2));
	assert_true(guard_cmp(CMP_GE, 2, 2));
	assert_true(guard_cmp(CMP_EQ, 0.5, 0.5));
	assert_false(guard_cmp(CMP_EQ, 0.5, 0.25));
	assert_true(guard_cmp(CMP_NE, 0.5, 0.25));
	assert_false(guard_cmp(CMP_LT, NAN, 1));
	assert_true(guard_cmp(CMP_LT, -INFINITY, 1));
	assert_string_equal(guard_cmp_name(CMP_GE), ">=");
}

static int parse(const char *s, double *v, char *err)
{
	return guard_prom_parse(s, strlen(s), v, err, 160);
}

static void test_prom_parse(void **state)
{
	char err[160];
	double v = 0;

	assert_int_equal(
		parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
		      "\"result\":[{\"metric\":{\"job\":\"x\"},\"value\":[1.5,\"0.25\"]}]}}",
		      &v, err),
		0);
	assert_true(v == 0.25);
	assert_int_equal(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
			       "\"result\":[1.5,\"42\"]}}",
			       &v, err),
			 0);
	assert_true(v == 42);
	assert_int_equal(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
			       "\"result\":[1.5,\"NaN\"]}}",
			       &v, err),
			 0);
	assert_true(isnan(v));
	assert_int_equal(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
			       "\"result\":[{\"metric\":{},\"value\":[1,\"+Inf\"]}]}}",
			       &v, err),
			 0);
	assert_true(isinf(v) && v > 0);
	assert_int_equal(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
			       "\"result\":[]}}",
			       &v, err),
			 -ENODATA);
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
			       "\"result\":[{\"metric\":{},\"value\":[1,\"1\"]},"
			       "{\"metric\":{},\"value\":[1,\"2\"]}]}}",
			       &v, err),
			 -EINVAL);
	assert_non_null(strstr(err, "2 series"));
	assert_int_equal(parse("{\"status\":\"error\",\"errorType\":\"bad_data\","
			       "\"error\":\"parse error at char 3\"}",
			       &v, err),
			 -EINVAL);
	assert_non_null(strstr(err, "parse error at char 3"));
	assert_int_equal(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
			       "\"result\":[]}}",
			       &v, err),
			 -EINVAL);
	assert_int_equal(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
			       "\"result\":[1.5,\"12abc\"]}}",
			       &v, err),
			 -EINVAL);
	assert_int_equal(parse("<html>", &v, err), -EINVAL);
	assert_non_null(strstr(err, "not JSON"));
}

static void test_prom_judge(void **state)
{
	struct probe_prometheus p = {.op = CMP_LT, .threshold = 500};
	struct guard_reading r;

	guard_prom_judge(&p, 200, 3, &r);
	assert_true(r.valid && r.healthy);
	assert_true(r.value == 200 && r.threshold == 500);
	guard_prom_judge(&p, 503, 3, &r);
	assert_true(r.valid && !r.healthy);
	guard_prom_judge(&p, NAN, 3, &r);
	assert_false(r.valid);
	assert_int_equal(r.time_ns, 3);
	assert_non_null(strstr(r.summary, "NaN"));
}

static void test_prom_url(void **state)
{
	char *u = NULL;

	assert_int_equal(guard_prom_url("http://127.0.0.1:9090/", "up{job=\"a b\"} > 0.5", &u), 0);
	assert_string_equal(u, "http://127.0.0.1:9090/api/v1/query?query="
			       "up%7Bjob%3D%22a%20b%22%7D%20%3E%200.5");
	free(u);
	assert_int_equal(guard_prom_url("http://h/prom", "x", &u), 0);
	assert_string_equal(u, "http://h/prom/api/v1/query?query=x");
	free(u);
}

static void test_prom_duration_and_query(void **state)
{
	char b[64], *q = NULL;

	assert_string_equal(guard_prom_duration(b, sizeof(b), 5 * 60 * SEC), "5m");
	assert_string_equal(guard_prom_duration(b, sizeof(b), 3600 * SEC), "1h");
	assert_string_equal(guard_prom_duration(b, sizeof(b), 90LL * 86400 * SEC), "90d");
	assert_string_equal(guard_prom_duration(b, sizeof(b), 90 * SEC), "1m30s");
	assert_string_equal(guard_prom_duration(b, sizeof(b), 3600 * SEC + 500 * MS), "1h500ms");
	assert_string_equal(guard_prom_duration(b, sizeof(b), 60 * SEC + 1), "1m1ms");
	assert_int_equal(
		guard_burn_query("sum(rate(e[$window]))/sum(rate(r[$window]))", 300 * SEC, &q), 0);
	assert_string_equal(q, "sum(rate(e[5m]))/sum(rate(r[5m]))");
	free(q);
	assert_int_equal(guard_burn_query("$windo$window$", 3600 * SEC, &q), 0);
	assert_string_equal(q, "$windo1h$");
	free(q);
}

static void test_cmd_judge(void **state)
{
	char *argv[] = {"true"};
	struct probe_command p = {.argv = argv, .argc = 1, .timeout_ns = 10 * SEC};
	struct guard_reading r;

	guard_cmd_judge(&p, GUARD_CMD_EXITED, 0, 5 * MS, "ok", 1, &r);
	assert_true(r.valid && r.healthy);
	assert_non_null(strstr(r.summary, ": ok"));
	guard_cmd_judge(&p, GUARD_CMD_EXITED, 1, 5 * MS, "", 1, &r);
	assert_true(r.valid && !r.healthy);
	assert_true(r.value == 1 && r.threshold == 0);
	p.expect_exit = 1;
	guard_cmd_judge(&p, GUARD_CMD_EXITED, 1, 5 * MS, NULL, 1, &r);
	assert_true(r.healthy);
	guard_cmd_judge(&p, GUARD_CMD_SIGNALED, 9, 5 * MS, NULL, 1, &r);
	assert_true(r.valid && !r.healthy);
	guard_cmd_judge(&p, GUARD_CMD_TIMED_OUT, 0, 10 * SEC, NULL, 1, &r);
	assert_true(r.valid && !r.healthy);
	assert_non_null(strstr(r.summary, "timed out after 10s"));
}

static struct guard_reading rd(int64_t t, int kind)
{
	struct guard_reading r = {.time_ns = t, .valid = kind != 2, .healthy = kind == 0};

	return r;
}

#define OK 0
#define BAD 1
#define ERR 2

static void test_debounce_for(void **state)
{
	struct guard_debounce d;
	struct guard_reading r;

	guard_debounce_init(&d, 0, EXP_ON_ERROR_ABORT);
	r = rd(1, OK);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_NONE);
	r = rd(2, BAD);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_BREACH);
	assert_true(d.breached);
	/* Latched: healthy again changes nothing, and the breach is reported once. */
	r = rd(3, OK);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_NONE);
	r = rd(4, BAD);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_NONE);
	assert_true(d.breached);

	guard_debounce_init(&d, 1 * SEC, EXP_ON_ERROR_ABORT);
	r = rd(10 * SEC, BAD);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_NONE);
	assert_int_equal(d.unhealthy_since_ns, 10 * SEC);
	r = rd(10 * SEC + 999 * MS, BAD);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_NONE);
	/* A healthy reading ends the streak. */
	r = rd(10 * SEC + 999 * MS + 1, OK);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_NONE);
	assert_int_equal(d.unhealthy_since_ns, 0);
	r = rd(11 * SEC, BAD);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_NONE);
	r = rd(12 * SEC - 1, BAD);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_NONE);
	r = rd(12 * SEC, BAD);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_BREACH);
}

static void test_debounce_on_error(void **state)
{
	struct guard_debounce d;
	struct guard_reading r;

	/* abort: errors count as unhealthy. */
	guard_debounce_init(&d, 1 * SEC, EXP_ON_ERROR_ABORT);
	r = rd(1 * SEC, ERR);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_NONE);
	r = rd(1500 * MS, BAD);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_NONE);
	r = rd(2 * SEC, ERR);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_BREACH);

	/* warn: one warning per stretch of errors; errors never breach nor reset. */
	guard_debounce_init(&d, 1 * SEC, EXP_ON_ERROR_WARN);
	r = rd(1 * SEC, ERR);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_WARN);
	r = rd(5 * SEC, ERR);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_NONE);
	assert_int_equal(d.unhealthy_since_ns, 0);
	r = rd(6 * SEC, BAD);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_NONE);
	r = rd(6500 * MS, ERR);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_WARN);
	assert_int_equal(d.unhealthy_since_ns, 6 * SEC);
	r = rd(7 * SEC, BAD);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_BREACH);

	/* ignore: errors are silent and change nothing. */
	guard_debounce_init(&d, 0, EXP_ON_ERROR_IGNORE);
	for (int i = 1; i < 100; i++) {
		r = rd(i * SEC, ERR);
		assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_NONE);
	}
	assert_false(d.breached);
	r = rd(100 * SEC, BAD);
	assert_int_equal(guard_debounce_feed(&d, &r), GUARD_EV_BREACH);
}

static void test_check_passed(void **state)
{
	struct guard_reading ok = rd(1, OK), bad = rd(1, BAD), err = rd(1, ERR);

	assert_true(guard_check_passed(&ok, EXP_ON_ERROR_ABORT));
	assert_false(guard_check_passed(&bad, EXP_ON_ERROR_IGNORE));
	assert_false(guard_check_passed(&err, EXP_ON_ERROR_ABORT));
	assert_true(guard_check_passed(&err, EXP_ON_ERROR_WARN));
	assert_true(guard_check_passed(&err, EXP_ON_ERROR_IGNORE));
}

static void test_reading_error(void **state)
{
	struct guard_reading r;
	char longer[600];

	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	guard_reading_error(&r, 42, "no answer: %s", longer);
	assert_false(r.valid);
	assert_int_equal(r.time_ns, 42);
	assert_true(isnan(r.value) && isnan(r.threshold));
	assert_int_equal(strlen(r.summary), GUARD_SUMMARY_SIZE - 1);
}

static void test_coverage(void **state)
{
	struct guard_coverage c;
	struct guard_reading r;
	char why[256];

	/* Readable throughout: never blind, conclusive. */
	guard_coverage_init(&c, 10 * SEC);
	for (int i = 0; i < 10; i++) {
		r = rd(10 * SEC + i * SEC, i % 2 ? BAD : OK);
		guard_coverage_feed(&c, &r);
	}
	assert_int_equal(guard_coverage_blind_ns(&c, 20 * SEC), 0);
	assert_false(guard_coverage_inconclusive(&c, 20 * SEC, 50, why, sizeof(why)));

	/* Dead from t+4 s to the end (t+10 s): blind 6 s of 10, more than 50%. */
	guard_coverage_init(&c, 0);
	for (int i = 0; i < 10; i++) {
		r = rd(i * SEC, i < 4 ? OK : ERR);
		guard_coverage_feed(&c, &r);
	}
	assert_int_equal(guard_coverage_blind_ns(&c, 10 * SEC), 6 * SEC);
	assert_true(guard_coverage_inconclusive(&c, 10 * SEC, 50, why, sizeof(why)));
	assert_non_null(strstr(why, "blind for 6.0 s of 10.0 s (60%, more than 50%)"));
	/* The same with a 70% share allowed is conclusive. */
	assert_false(guard_coverage_inconclusive(&c, 10 * SEC, 70, NULL, 0));

	/* Exactly half is not more than half. */
	guard_coverage_init(&c, 0);
	r = rd(1 * SEC, OK);
	guard_coverage_feed(&c, &r);
	r = rd(5 * SEC, ERR);
	guard_coverage_feed(&c, &r);
	assert_int_equal(guard_coverage_blind_ns(&c, 10 * SEC), 5 * SEC);
	assert_false(guard_coverage_inconclusive(&c, 10 * SEC, 50, NULL, 0));
	assert_true(guard_coverage_inconclusive(&c, 10 * SEC + 1, 50, NULL, 0));

	/* A recovery ends the blind stretch. */
	guard_coverage_init(&c, 0);
	r = rd(2 * SEC, ERR);
	guard_coverage_feed(&c, &r);
	r = rd(3 * SEC, OK);
	guard_coverage_feed(&c, &r);
	assert_int_equal(guard_coverage_blind_ns(&c, 10 * SEC), 1 * SEC);
	assert_int_equal(c.valid, 1);
	assert_int_equal(c.invalid, 1);

	/* No valid reading at all is inconclusive however short the blind time. */
	guard_coverage_init(&c, 0);
	assert_true(guard_coverage_inconclusive(&c, 10 * SEC, 50, why, sizeof(why)));
	assert_non_null(strstr(why, "no valid reading in 10.0 s (0 invalid)"));
	r = rd(9 * SEC, ERR);
	guard_coverage_feed(&c, &r);
	assert_int_equal(guard_coverage_blind_ns(&c, 10 * SEC), 1 * SEC);
	assert_true(guard_coverage_inconclusive(&c, 10 * SEC, 50, NULL, 0));

	/* A valid reading before the watch began sees, but is not a reading of the run. */
	guard_coverage_init(&c, 10 * SEC);
	r = rd(9 * SEC, OK);
	guard_coverage_feed(&c, &r);
	assert_int_equal(c.valid, 0);
	assert_true(guard_coverage_inconclusive(&c, 20 * SEC, 50, NULL, 0));
	/* ...and an invalid one before it makes the watch start blind. */
	guard_coverage_init(&c, 10 * SEC);
	r = rd(9 * SEC, ERR);
	guard_coverage_feed(&c, &r);
	r = rd(16 * SEC, OK);
	guard_coverage_feed(&c, &r);
	assert_int_equal(guard_coverage_blind_ns(&c, 20 * SEC), 6 * SEC);
	assert_true(guard_coverage_inconclusive(&c, 20 * SEC, 50, NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentile_known),
		cmocka_unit_test(test_percentile_random),
		cmocka_unit_test(test_status_expected),
		cmocka_unit_test(test_window_expiry),
		cmocka_unit_test(test_window_ring),
		cmocka_unit_test(test_window_large),
		cmocka_unit_test(test_http_judge),
		cmocka_unit_test(test_counter),
		cmocka_unit_test(test_burn),
		cmocka_unit_test(test_cmp),
		cmocka_unit_test(test_prom_parse),
		cmocka_unit_test(test_prom_judge),
		cmocka_unit_test(test_prom_url),
		cmocka_unit_test(test_prom_duration_and_query),
		cmocka_unit_test(test_cmd_judge),
		cmocka_unit_test(test_debounce_for),
		cmocka_unit_test(test_debounce_on_error),
		cmocka_unit_test(test_check_passed),
		cmocka_unit_test(test_reading_error),
		cmocka_unit_test(test_coverage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
