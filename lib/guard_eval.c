/*
 * Guardrail arithmetic: windows, percentiles, burn rates, verdicts and the debounce. No
 * system calls and no clocks: every time comes from the caller, so tests are exact.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "guard_eval.h"
#include "units.h"

#define MS 1000000LL

void guard_reading_error(struct guard_reading *r, int64_t t_ns, const char *fmt, ...)
{
	va_list ap;

	memset(r, 0, sizeof(*r));
	r->time_ns = t_ns;
	r->valid = false;
	r->value = NAN;
	r->threshold = NAN;
	va_start(ap, fmt);
	vsnprintf(r->summary, sizeof(r->summary), fmt, ap);
	va_end(ap);
}

/* Append to a summary without overflowing it; truncation is acceptable for people. */
static void sum_add(struct guard_reading *r, size_t *o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void sum_add(struct guard_reading *r, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*o >= sizeof(r->summary) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->summary + *o, sizeof(r->summary) - *o, fmt, ap);
	va_end(ap);
	if (n > 0)
		*o += (size_t)n;
	if (*o > sizeof(r->summary) - 1)
		*o = sizeof(r->summary) - 1;
}

/* A duration for summaries: "120ms", "1.5s". */
static const char *fmt_ms(char *buf, size_t size, int64_t ns)
{
	if (ns < 1000 * MS)
		snprintf(buf, size, "%.3gms", (double)ns / MS);
	else
		snprintf(buf, size, "%.4gs", (double)ns / 1e9);
	return buf;
}

/* HTTP samples. */

bool guard_status_expected(const struct status_range *r, size_t n, long status)
{
	if (!n)
		return status >= 200 && status <= 299;
	for (size_t i = 0; i < n; i++)
		if (status >= r[i].lo && status <= r[i].hi)
			return true;
	return false;
}

int guard_window_init(struct guard_window *w, int64_t span_ns)
{
	memset(w, 0, sizeof(*w));
	w->span_ns = span_ns;
	w->root = -1;
	w->free_list = -1;
	w->rng = 0x9e3779b9u;
	return 0;
}

void guard_window_free(struct guard_window *w)
{
	if (!w)
		return;
	free(w->s);
	free(w->nodes);
	memset(w, 0, sizeof(*w));
	w->root = -1;
	w->free_list = -1;
}

/* The order-statistic tree. Recursion depth is the treap's height: O(log n) expected. */

static uint32_t ost_size(const struct guard_window *w, int32_t t)
{
	return t < 0 ? 0 : w->nodes[t].size;
}

static void ost_update(struct guard_window *w, int32_t t)
{
	w->nodes[t].size = 1 + ost_size(w, w->nodes[t].l) + ost_size(w, w->nodes[t].r);
}

/* Split t into keys < key (*a) and keys >= key (*b). */
static void ost_split(struct guard_window *w, int32_t t, int64_t key, int32_t *a, int32_t *b)
{
	int32_t x, y;

	if (t < 0) {
		*a = *b = -1;
		return;
	}
	if (w->nodes[t].key < key) {
		ost_split(w, w->nodes[t].r, key, &x, &y);
		w->nodes[t].r = x;
		*a = t;
		*b = y;
	} else {
		ost_split(w, w->nodes[t].l, key, &x, &y);
		w->nodes[t].l = y;
		*a = x;
		*b = t;
	}
	ost_update(w, t);
}

/* Merge two trees where every key of a is at most every key of b. */
static int32_t ost_merge(struct guard_window *w, int32_t a, int32_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	if (w->nodes[a].prio > w->nodes[b].prio) {
		w->nodes[a].r = ost_merge(w, w->nodes[a].r, b);
		ost_update(w, a);
		return a;
	}
	w->nodes[b].l = ost_merge(w, a, w->nodes[b].l);
	ost_update(w, b);
	return b;
}

/* Remove the smallest node of t, returning the new root. */
static int32_t ost_drop_min(struct guard_window *w, int32_t t)
{
	int32_t r;

	if (w->nodes[t].l < 0) {
		r = w->nodes[t].r;
		w->nodes[t].l = w->free_list;
		w->free_list = t;
		return r;
	}
	w->nodes[t].l = ost_drop_min(w, w->nodes[t].l);
	ost_update(w, t);
	return t;
}

/* Make sure one node can be taken without allocating. */
static int ost_reserve(struct guard_window *w)
{
	struct guard_ost_node *nn;
	size_t ncap;

	if (w->free_list >= 0 || w->n_nodes < w->nodes_cap)
		return 0;
	ncap = w->nodes_cap ? w->nodes_cap * 2 : 64;
	if (ncap > INT32_MAX)
		return -ENOMEM;
	nn = realloc(w->nodes, ncap * sizeof(*nn));
	if (!nn)
		return -ENOMEM;
	w->nodes = nn;
	w->nodes_cap = ncap;
	return 0;
}

static void ost_insert(struct guard_window *w, int64_t key)
{
	int32_t n, a, b;

	if (w->free_list >= 0) {
		n = w->free_list;
		w->free_list = w->nodes[n].l;
	} else {
		n = (int32_t)w->n_nodes++;
	}
	/* xorshift32: any fixed sequence of priorities balances a treap in expectation. */
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 17;
	w->rng ^= w->rng << 5;
	w->nodes[n] =
		(struct guard_ost_node){.key = key, .prio = w->rng, .size = 1, .l = -1, .r = -1};
	ost_split(w, w->root, key, &a, &b);
	w->root = ost_merge(w, ost_merge(w, a, n), b);
}

/* Remove one node with this key, which must be present: equal keys are interchangeable. */
static void ost_erase(struct guard_window *w, int64_t key)
{
	int32_t a, b;

	ost_split(w, w->root, key, &a, &b);
	w->root = ost_merge(w, a, b < 0 ? b : ost_drop_min(w, b));
}

/* The k-th smallest key, counting from 0; k < size. */
static int64_t ost_kth(const struct guard_window *w, size_t k)
{
	int32_t t = w->root;

	while (t >= 0) {
		size_t ls = ost_size(w, w->nodes[t].l);

		if (k < ls) {
			t = w->nodes[t].l;
		} else if (k == ls) {
			return w->nodes[t].key;
		} else {
			k -= ls + 1;
			t = w->nodes[t].r;
		}
	}
	return 0;
}

static struct guard_sample *win_at(const struct guard_window *w, size_t i)
{
	return &w->s[(w->head + i) % w->cap];
}

void guard_window_expire(struct guard_window *w, int64_t now_ns)
{
	while (w->len && win_at(w, 0)->t_ns <= now_ns - w->span_ns) {
		if (win_at(w, 0)->ok)
			w->n_ok--;
		ost_erase(w, win_at(w, 0)->latency_ns);
		w->head = (w->head + 1) % w->cap;
		w->len--;
	}
	if (!w->len)
		w->head = 0;
}

static int win_grow(struct guard_window *w)
{
	size_t ncap = w->cap ? w->cap * 2 : 64;
	struct guard_sample *ns;

	ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	/* Unroll the ring so the oldest sample is at 0 again. */
	for (size_t i = 0; i < w->len; i++)
		ns[i] = *win_at(w, i);
	free(w->s);
	w->s = ns;
	w->cap = ncap;
	w->head = 0;
	return 0;
}

int guard_window_add(struct guard_window *w, const struct guard_sample *s)
{
	int err;

	guard_window_expire(w, s->t_ns);
	/* Allocate everything first, so a failure leaves the window as it was. */
	if (w->len == w->cap) {
		err = win_grow(w);
		if (err)
			return err;
	}
	err = ost_reserve(w);
	if (err)
		return err;
	w->s[(w->head + w->len) % w->cap] = *s;
	w->len++;
	if (s->ok)
		w->n_ok++;
	ost_insert(w, s->latency_ns);
	return 0;
}

static void swap64(int64_t *a, int64_t *b)
{
	int64_t t = *a;

	*a = *b;
	*b = t;
}

/* Hoare-style quickselect: after it, v[k] is the k-th smallest. Median-of-three pivots. */
static int64_t select_kth(int64_t *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, i, j;
		int64_t pivot;

		if (v[mid] < v[lo])
			swap64(&v[mid], &v[lo]);
		if (v[hi] < v[lo])
			swap64(&v[hi], &v[lo]);
		if (v[hi] < v[mid])
			swap64(&v[hi], &v[mid]);
		pivot = v[mid];
		i = lo;
		j = hi;
		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				swap64(&v[i], &v[j]);
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return v[k];
	}
	return v[k];
}

size_t guard_percentile_rank(size_t n, unsigned pct)
{
	/* Nearest rank: the ceil(pct/100 * n)-th smallest value, counting from 1. */
	size_t rank = ((size_t)pct * n + 99) / 100;

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return rank;
}

int64_t guard_percentile(int64_t *v, size_t n, unsigned pct)
{
	return select_kth(v, n, guard_percentile_rank(n, pct) - 1);
}

int guard_window_stats(struct guard_window *w, int64_t now_ns, struct guard_http_stats *out)
{
	guard_window_expire(w, now_ns);
	memset(out, 0, sizeof(*out));
	out->n = w->len;
	out->ok = w->n_ok;
	if (!w->len)
		return 0;
	out->p50_ns = ost_kth(w, guard_percentile_rank(w->len, 50) - 1);
	out->p95_ns = ost_kth(w, guard_percentile_rank(w->len, 95) - 1);
	out->p99_ns = ost_kth(w, guard_percentile_rank(w->len, 99) - 1);
	return 0;
}

void guard_http_judge(const struct probe_http *p, const struct guard_http_stats *st, int64_t t_ns,
		      struct guard_reading *out)
{
	static const char *const pname[3] = {"p50", "p95", "p99"};
	const int64_t got[3] = {st->p50_ns, st->p95_ns, st->p99_ns};
	int64_t lim[3] = {0, 0, 0};
	bool decided = false, fail;
	char a[32], b[32], w[UNITS_FMT_MAX];
	size_t o = 0;

	memset(out, 0, sizeof(*out));
	out->time_ns = t_ns;
	out->valid = true;
	out->healthy = true;
	out->value = NAN;
	out->threshold = NAN;
	if (p->max_latency) {
		lim[0] = p->max_latency->p50_ns;
		lim[1] = p->max_latency->p95_ns;
		lim[2] = p->max_latency->p99_ns;
	}
	if (p->min_success_ppm) {
		double ratio = (double)st->ok / (double)st->n;

		/* Exact in integers: ok / n >= min / 1e6. */
		fail = (uint64_t)st->ok * UNITS_PPM_ONE < (uint64_t)p->min_success_ppm * st->n;
		out->healthy &= !fail;
		out->value = ratio;
		out->threshold = p->min_success_ppm / 1e6;
		decided = fail;
		sum_add(out, &o, "success %.4g%% %s %.4g%%", ratio * 100,
			fail ? "<" : ">=", p->min_success_ppm / 1e4);
	}
	for (int i = 0; i < 3; i++) {
		if (!lim[i])
			continue;
		fail = got[i] > lim[i];
		out->healthy &= !fail;
		/* The headline is the first failing condition, else the first condition. */
		if ((fail && !decided) || isnan(out->value)) {
			out->value = got[i] / 1e9;
			out->threshold = lim[i] / 1e9;
			decided |= fail;
		}
		sum_add(out, &o, "%s%s %s %s %s", o ? ", " : "", pname[i],
			fmt_ms(a, sizeof(a), got[i]),
			fail ? ">" : "<=", fmt_ms(b, sizeof(b), lim[i]));
	}
	sum_add(out, &o, " over %s (%zu request%s)", units_fmt_duration(w, p->window_ns), st->n,
		st->n == 1 ? "" : "s");
}

/* Error counters. */

void guard_counter_init(struct guard_counter *c, int64_t window_ns, int64_t origin_ns)
{
	memset(c, 0, sizeof(*c));
	c->origin_ns = origin_ns;
	c->width_ns = (window_ns + GUARD_COUNTER_BUCKETS - 1) / GUARD_COUNTER_BUCKETS;
	if (c->width_ns < 1)
		c->width_ns = 1;
	for (size_t i = 0; i < GUARD_COUNTER_BUCKETS + 1; i++)
		c->b[i].index = -1;
}

static int64_t bucket_of(const struct guard_counter *c, int64_t t_ns)
{
	return t_ns <= c->origin_ns ? 0 : (t_ns - c->origin_ns) / c->width_ns;
}

void guard_counter_add(struct guard_counter *c, int64_t t_ns, bool bad)
{
	int64_t idx = bucket_of(c, t_ns);
	size_t slot = (size_t)(idx % (GUARD_COUNTER_BUCKETS + 1));

	if (c->b[slot].index != idx) {
		c->b[slot].index = idx;
		c->b[slot].total = 0;
		c->b[slot].bad = 0;
	}
	c->b[slot].total++;
	c->b[slot].bad += bad;
}

void guard_counter_sum(const struct guard_counter *c, int64_t now_ns, uint64_t *total,
		       uint64_t *bad)
{
	int64_t now = bucket_of(c, now_ns);

	*total = 0;
	*bad = 0;
	for (size_t i = 0; i < GUARD_COUNTER_BUCKETS + 1; i++) {
		if (c->b[i].index < 0 || c->b[i].index > now ||
		    c->b[i].index < now - GUARD_COUNTER_BUCKETS)
			continue;
		*total += c->b[i].total;
		*bad += c->b[i].bad;
	}
}

double guard_burn(double error_ratio, uint32_t objective_ppm)
{
	return error_ratio * UNITS_PPM_ONE / (double)(UNITS_PPM_ONE - objective_ppm);
}

void guard_burn_judge(const struct probe_burn_rate *b, const double *ratios, int64_t t_ns,
		      struct guard_reading *out)
{
	double best = INFINITY;
	size_t o = 0, head = 0;
	bool all_exceed = true, found_ok = false;
	char w[UNITS_FMT_MAX];

	memset(out, 0, sizeof(*out));
	out->time_ns = t_ns;
	out->valid = true;
	for (size_t i = 0; i < b->n_windows; i++) {
		double burn = guard_burn(ratios[i], b->objective_ppm);
		double max = b->windows[i].max_burn_milli / 1000.0;
		bool exceeds = burn > max;

		all_exceed &= exceeds;
		if (!exceeds && !found_ok) {
			found_ok = true;
			head = i;
		} else if (exceeds && !found_ok && burn / max < best) {
			best = burn / max;
			head = i;
		}
		sum_add(out, &o, "%sburn %.4gx %s %.4gx over %s", i ? ", " : "", burn,
			exceeds ? ">" : "<=", max, units_fmt_duration(w, b->windows[i].window_ns));
	}
	out->healthy = !all_exceed;
	out->value = guard_burn(ratios[head], b->objective_ppm);
	out->threshold = b->windows[head].max_burn_milli / 1000.0;
	sum_add(out, &o, " (objective %.4g%%)", b->objective_ppm / 1e4);
}

/* Prometheus. */

bool guard_cmp(int op, double a, double b)
{
	switch (op) {
	case CMP_LT:
		return a < b;
	case CMP_LE:
		return a <= b;
	case CMP_GT:
		return a > b;
	case CMP_GE:
		return a >= b;
	case CMP_EQ:
		return a == b;
	case CMP_NE:
		return a != b;
	}
	return false;
}

const char *guard_cmp_name(int op)
{
	static const char *const names[] = {
		[CMP_LT] = "<",	 [CMP_LE] = "<=", [CMP_GT] = ">",
		[CMP_GE] = ">=", [CMP_EQ] = "==", [CMP_NE] = "!=",
	};

	return op >= 0 && op <= CMP_NE ? names[op] : "?";
}

/* A sample value is [time, "text"]; Prometheus writes numbers as text, NaN and ±Inf too. */
static int prom_sample_value(json_t *pair, double *value, char *err, size_t err_size)
{
	const char *s = json_string_value(json_array_get(pair, 1));
	char *end;

	if (!json_is_array(pair) || json_array_size(pair) != 2 || !s) {
		snprintf(err, err_size, "malformed sample in the answer");
		return -EINVAL;
	}
	errno = 0;
	*value = strtod(s, &end);
	if (end == s || *end) {
		snprintf(err, err_size, "sample value '%.40s' is not a number", s);
		return -EINVAL;
	}
	return 0;
}

int guard_prom_parse(const char *body, size_t len, double *value, char *err, size_t err_size)
{
	json_error_t jerr;
	json_t *doc, *data, *result;
	const char *status, *type;
	int ret = -EINVAL;

	doc = json_loadb(body, len, 0, &jerr);
	if (!doc) {
		snprintf(err, err_size, "answer is not JSON: %s", jerr.text);
		return -EINVAL;
	}
	status = json_string_value(json_object_get(doc, "status"));
	if (!status || strcmp(status, "success")) {
		const char *e = json_string_value(json_object_get(doc, "error"));

		snprintf(err, err_size, "query failed: %.160s", e ? e : "no status 'success'");
		goto out;
	}
	data = json_object_get(doc, "data");
	type = json_string_value(json_object_get(data, "resultType"));
	result = json_object_get(data, "result");
	if (!type || !result) {
		snprintf(err, err_size, "answer has no data.resultType or data.result");
		goto out;
	}
	if (!strcmp(type, "scalar")) {
		ret = prom_sample_value(result, value, err, err_size);
	} else if (!strcmp(type, "vector")) {
		size_t n = json_array_size(result);

		if (!json_is_array(result)) {
			snprintf(err, err_size, "vector result is not a list");
		} else if (!n) {
			snprintf(err, err_size, "query returned an empty result");
			ret = -ENODATA;
		} else if (n > 1) {
			snprintf(err, err_size, "query returned %zu series; expected one", n);
		} else {
			ret = prom_sample_value(json_object_get(json_array_get(result, 0), "value"),
						value, err, err_size);
		}
	} else {
		snprintf(err, err_size, "query returned a %.20s; expected a scalar or one series",
			 type);
	}
out:
	json_decref(doc);
	return ret;
}

void guard_prom_judge(const struct probe_prometheus *p, double value, int64_t t_ns,
		      struct guard_reading *out)
{
	bool ok;

	if (isnan(value)) {
		guard_reading_error(out, t_ns, "query returned NaN");
		return;
	}
	ok = guard_cmp(p->op, value, p->threshold);
	memset(out, 0, sizeof(*out));
	out->time_ns = t_ns;
	out->valid = true;
	out->healthy = ok;
	out->value = value;
	out->threshold = p->threshold;
	snprintf(out->summary, sizeof(out->summary), "query %.6g%s %s %.6g", value,
		 ok ? "" : ", not", guard_cmp_name(p->op), p->threshold);
}

static bool url_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int guard_prom_url(const char *base, const char *query, char **out)
{
	static const char path[] = "/api/v1/query?query=";
	size_t blen = strlen(base), o;
	char *u;

	while (blen && base[blen - 1] == '/')
		blen--;
	u = malloc(blen + sizeof(path) + 3 * strlen(query));
	if (!u)
		return -ENOMEM;
	memcpy(u, base, blen);
	o = blen;
	memcpy(u + o, path, sizeof(path) - 1);
	o += sizeof(path) - 1;
	for (const unsigned char *q = (const unsigned char *)query; *q; q++) {
		if (url_unreserved(*q)) {
			u[o++] = (char)*q;
		} else {
			o += (size_t)sprintf(u + o, "%%%02X", *q);
		}
	}
	u[o] = '\0';
	*out = u;
	return 0;
}

char *guard_prom_duration(char *buf, size_t size, int64_t ns)
{
	static const struct {
		const char *name;
		int64_t ms;
	} units[] = {
		{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
	};
	int64_t ms = (ns + MS - 1) / MS;
	size_t o = 0;

	buf[0] = '\0';
	if (ms <= 0) {
		snprintf(buf, size, "0s");
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && o < size; i++) {
		if (ms < units[i].ms)
			continue;
		o += (size_t)snprintf(buf + o, size - o, "%lld%s", (long long)(ms / units[i].ms),
				      units[i].name);
		ms %= units[i].ms;
	}
	return buf;
}

int guard_burn_query(const char *tmpl, int64_t window_ns, char **out)
{
	static const char var[] = "$window";
	char w[64], *q;
	size_t n = 0, wl, o = 0;
	const char *p;

	guard_prom_duration(w, sizeof(w), window_ns);
	wl = strlen(w);
	for (p = strstr(tmpl, var); p; p = strstr(p + 1, var))
		n++;
	q = malloc(strlen(tmpl) + n * wl + 1);
	if (!q)
		return -ENOMEM;
	for (p = tmpl; *p;) {
		if (!strncmp(p, var, sizeof(var) - 1)) {
			memcpy(q + o, w, wl);
			o += wl;
			p += sizeof(var) - 1;
		} else {
			q[o++] = *p++;
		}
	}
	q[o] = '\0';
	*out = q;
	return 0;
}

/* Commands. */

void guard_cmd_judge(const struct probe_command *p, int outcome, int code, int64_t elapsed_ns,
		     const char *output, int64_t t_ns, struct guard_reading *out)
{
	char d[32], t[32];
	size_t o = 0;

	memset(out, 0, sizeof(*out));
	out->time_ns = t_ns;
	out->valid = true;
	out->threshold = p->expect_exit;
	switch (outcome) {
	case GUARD_CMD_EXITED:
		out->healthy = (uint32_t)code == p->expect_exit;
		out->value = code;
		sum_add(out, &o, "exit %d %s %u after %s", code,
			out->healthy ? "==" : "!=", p->expect_exit,
			fmt_ms(d, sizeof(d), elapsed_ns));
		break;
	case GUARD_CMD_SIGNALED:
		out->healthy = false;
		out->value = NAN;
		sum_add(out, &o, "killed by signal %d after %s; expected exit %u", code,
			fmt_ms(d, sizeof(d), elapsed_ns), p->expect_exit);
		break;
	default:
		out->healthy = false;
		out->value = NAN;
		sum_add(out, &o, "timed out after %s, process group killed",
			fmt_ms(t, sizeof(t), p->timeout_ns));
		break;
	}
	if (output && *output)
		sum_add(out, &o, ": %s", output);
}

/* The debounce. */

void guard_debounce_init(struct guard_debounce *d, int64_t for_ns, int on_error)
{
	memset(d, 0, sizeof(*d));
	d->for_ns = for_ns;
	d->on_error = on_error;
}

enum guard_event guard_debounce_feed(struct guard_debounce *d, const struct guard_reading *r)
{
	bool bad;
	enum guard_event ev = GUARD_EV_NONE;

	if (!r->valid) {
		if (!d->erroring && d->on_error == EXP_ON_ERROR_WARN)
			ev = GUARD_EV_WARN;
		d->erroring = true;
		if (d->on_error != EXP_ON_ERROR_ABORT)
			return d->breached ? GUARD_EV_NONE : ev;
		bad = true;
	} else {
		d->erroring = false;
		bad = !r->healthy;
	}
	if (!bad) {
		d->unhealthy_since_ns = 0;
		return ev;
	}
	if (!d->unhealthy_since_ns)
		d->unhealthy_since_ns = r->time_ns;
	if (d->breached)
		return GUARD_EV_NONE;
	if (r->time_ns - d->unhealthy_since_ns >= d->for_ns) {
		d->breached = true;
		return GUARD_EV_BREACH;
	}
	return ev;
}

bool guard_check_passed(const struct guard_reading *r, int on_error)
{
	if (r->valid)
		return r->healthy;
	return on_error != EXP_ON_ERROR_ABORT;
}

void guard_coverage_init(struct guard_coverage *c, int64_t start_ns)
{
	memset(c, 0, sizeof(*c));
	c->start_ns = c->last_ns = start_ns;
	c->seeing = true;
}

void guard_coverage_feed(struct guard_coverage *c, const struct guard_reading *r)
{
	int64_t t = r->time_ns;

	if (t > c->last_ns) {
		if (!c->seeing)
			c->blind_ns += t - c->last_ns;
		c->last_ns = t;
	}
	c->seeing = r->valid;
	if (t < c->start_ns)
		return;
	if (r->valid)
		c->valid++;
	else
		c->invalid++;
}

int64_t guard_coverage_blind_ns(const struct guard_coverage *c, int64_t end_ns)
{
	int64_t blind = c->blind_ns;

	if (!c->seeing && end_ns > c->last_ns)
		blind += end_ns - c->last_ns;
	return blind;
}

bool guard_coverage_inconclusive(const struct guard_coverage *c, int64_t end_ns, unsigned max_pct,
				 char *why, size_t size)
{
	int64_t span = end_ns - c->start_ns, blind = guard_coverage_blind_ns(c, end_ns);

	if (!c->valid) {
		if (why)
			snprintf(why, size, "no valid reading in %.1f s (%llu invalid)",
				 (double)span / 1e9, (unsigned long long)c->invalid);
		return true;
	}
	/* blind * 100 > span * max_pct, without overflow for any span below 292 years. */
	if (span > 0 && (double)blind * 100.0 > (double)span * max_pct) {
		if (why)
			snprintf(why, size,
				 "blind for %.1f s of %.1f s (%.0f%%, more than %u%%): %llu "
				 "invalid readings, %llu valid",
				 (double)blind / 1e9, (double)span / 1e9, 100.0 * blind / span,
				 max_pct, (unsigned long long)c->invalid,
				 (unsigned long long)c->valid);
		return true;
	}
	return false;
}
