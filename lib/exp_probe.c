/*
 * Probes and what uses them: guardrails watch a probe during the run, steady-state checks
 * run one before and after. Every probe states when it is healthy, so the same probe reads
 * the same way in both places.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_priv.h"

/* Request rates are kept per 1000 minutes: 1/s is 60000. */
#define PER_SEC 60000LL
#define PER_MIN 1000LL

static const char *const method_names[] = {
	[HTTP_GET] = "GET",	    [HTTP_HEAD] = "HEAD",     [HTTP_POST] = "POST",
	[HTTP_PUT] = "PUT",	    [HTTP_DELETE] = "DELETE", [HTTP_PATCH] = "PATCH",
	[HTTP_OPTIONS] = "OPTIONS",
};
const struct exp_enum exp_method_enum = {method_names, ARRAY_SIZE(method_names)};

static const char *const on_error_names[] = {
	[EXP_ON_ERROR_ABORT] = "abort",
	[EXP_ON_ERROR_WARN] = "warn",
	[EXP_ON_ERROR_IGNORE] = "ignore",
};
const struct exp_enum exp_on_error_enum = {on_error_names, ARRAY_SIZE(on_error_names)};

static const struct exp_list status_list = {
	.elem = {.type = FT_RANGE, .min = 100, .max = 599, .aux = "status"},
	.elem_size = sizeof(struct status_range),
	.min_items = 1,
	.max_items = 64,
};

/* The time between two requests at a rate, in ns. */
static int64_t req_interval(uint64_t rate_pkm)
{
	return rate_pkm ? (int64_t)(60 * 1000 * SEC / rate_pkm) : 0;
}

/* HTTP probe. */

static const struct exp_field latency_limit_fields[] = {
	FLD("p50", FT_DURATION, 0, offsetof(struct latency_limits, p50_ns), MS, HOUR, 0, NULL),
	FLD("p95", FT_DURATION, 0, offsetof(struct latency_limits, p95_ns), MS, HOUR, 0, NULL),
	FLD("p99", FT_DURATION, 0, offsetof(struct latency_limits, p99_ns), MS, HOUR, 0, NULL),
};

static void latency_limits_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
				 const struct exp_seen *seen)
{
	if (!seen->present)
		exp_err(ctx, map, "needs at least one of p50, p95 or p99");
}

static const struct exp_object latency_limits_object = {
	.name = "max_latency",
	.fields = latency_limit_fields,
	.n_fields = ARRAY_SIZE(latency_limit_fields),
	.size = sizeof(struct latency_limits),
	.check = latency_limits_check,
};

#define TP(m) offsetof(struct probe_tls, m)

/* TLS of an https:// probe URL; shared by the HTTP and Prometheus probes and burn sources. */
static const struct exp_field tls_fields[] = {
	FLD("ca_file", FT_PATH, 0, TP(ca_file), 0, 0, 0, NULL),
	FLD("insecure_skip_verify", FT_BOOL, FF_DEFAULT, TP(insecure_skip_verify), 0, 0, 0, NULL),
};

static const struct exp_object tls_object;

static void tls_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
		      const struct exp_seen *seen)
{
	const struct probe_tls *t = obj;

	if (t->insecure_skip_verify && exp_seen_present(&tls_object, seen, "ca_file"))
		exp_err_key(ctx, map, "insecure_skip_verify",
			    "insecure_skip_verify turns off the verification that ca_file is for; "
			    "give one of them");
}

static const struct exp_object tls_object = {
	.name = "tls",
	.fields = tls_fields,
	.n_fields = ARRAY_SIZE(tls_fields),
	.size = sizeof(struct probe_tls),
	.check = tls_check,
};

#define TLS_FIELD(off) FLD("tls", FT_OBJECT, FF_PTR, (off), 0, 0, 0, &tls_object)

/* tls only means something for an https:// URL; o is the object that has both keys. */
static void check_tls_url(struct exp_ctx *ctx, const struct enode *map, const struct exp_object *o,
			  const struct exp_seen *seen, const char *url)
{
	if (exp_seen_present(o, seen, "tls") && exp_seen_valid(o, seen, "url") && url &&
	    strncmp(url, "https://", 8) != 0)
		exp_err_key(ctx, map, "tls", "tls applies to https:// URLs only; url is %s", url);
}

#define HP(m) offsetof(struct probe_http, m)

static const struct exp_field http_fields[] = {
	FLD("url", FT_URL, FF_REQUIRED, HP(url), 0, 0, 0, NULL),
	TLS_FIELD(HP(tls)),
	FLD("method", FT_ENUM, FF_DEFAULT, HP(method), 0, 0, HTTP_GET, &exp_method_enum),
	FLD("rate", FT_REQ_RATE, FF_DEFAULT, HP(rate_pkm), PER_MIN, 1000 * PER_SEC, PER_SEC, NULL),
	FLD("timeout", FT_DURATION, FF_DEFAULT, HP(timeout_ns), MS, MIN, 2 * SEC, NULL),
	{.key = "expect_status",
	 .type = FT_LIST,
	 .off = HP(expect_status),
	 .off2 = HP(n_expect_status),
	 .aux = &status_list},
	FLD("window", FT_DURATION, FF_DEFAULT, HP(window_ns), SEC, HOUR, MIN, NULL),
	FLD("min_success_ratio", FT_PERCENT, 0, HP(min_success_ppm), 1, PCT(100), 0, NULL),
	FLD("max_latency", FT_OBJECT, FF_PTR, HP(max_latency), 0, 0, 0, &latency_limits_object),
};

static const struct exp_object http_object;

/* Shared by the HTTP probe and the burn rate's HTTP source. */
static void check_rate_window(struct exp_ctx *ctx, const struct enode *map, uint64_t rate_pkm,
			      int64_t window_ns, const char *window_key)
{
	char r[UNITS_FMT_MAX], w[UNITS_FMT_MAX];

	if (rate_pkm && window_ns && req_interval(rate_pkm) > window_ns)
		exp_err_key(ctx, map, window_key,
			    "window %s holds no request at rate %s; widen the window or raise the "
			    "rate",
			    units_fmt_duration(w, window_ns), units_fmt_req_rate(r, rate_pkm));
}

static void http_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
		       const struct exp_seen *seen)
{
	const struct exp_object *o = &http_object;
	struct probe_http *p = obj;
	char a[UNITS_FMT_MAX], b[UNITS_FMT_MAX];

	check_tls_url(ctx, map, o, seen, p->url);
	if (!exp_seen_present(o, seen, "min_success_ratio") &&
	    !exp_seen_present(o, seen, "max_latency"))
		exp_err(ctx, map,
			"needs a condition: min_success_ratio, max_latency, or both, to say when "
			"the probe is healthy");
	if (exp_seen_valid(o, seen, "window") && exp_seen_valid(o, seen, "rate"))
		check_rate_window(ctx, map, p->rate_pkm, p->window_ns, "window");
	if (exp_seen_valid(o, seen, "timeout") && p->timeout_ns > p->window_ns)
		exp_err_key(ctx, map, "timeout", "timeout %s is longer than the window %s",
			    units_fmt_duration(a, p->timeout_ns),
			    units_fmt_duration(b, p->window_ns));
}

static const struct exp_object http_object = {
	.name = "http",
	.fields = http_fields,
	.n_fields = ARRAY_SIZE(http_fields),
	.size = sizeof(struct probe_http),
	.check = http_check,
};

/* Prometheus probe. */

#define PP(m) offsetof(struct probe_prometheus, m)

static const struct exp_field prometheus_fields[] = {
	FLD("url", FT_URL, FF_REQUIRED, PP(url), 0, 0, 0, NULL),
	TLS_FIELD(PP(tls)),
	FLD("query", FT_STRING, FF_REQUIRED, PP(query), 0, 4096, 0, NULL),
	{.key = "expect",
	 .type = FT_EXPECT,
	 .flags = FF_REQUIRED,
	 .off = PP(op),
	 .off2 = PP(threshold)},
	FLD("interval", FT_DURATION, FF_DEFAULT, PP(interval_ns), SEC, HOUR, 15 * SEC, NULL),
	FLD("timeout", FT_DURATION, FF_DEFAULT, PP(timeout_ns), MS, 5 * MIN, 5 * SEC, NULL),
};

/* A probe that may run longer than its interval would overlap with itself. */
static void check_timeout_interval(struct exp_ctx *ctx, const struct enode *map,
				   const struct exp_object *o, const struct exp_seen *seen,
				   int64_t timeout, int64_t interval)
{
	bool t_given = exp_seen_present(o, seen, "timeout"),
	     i_given = exp_seen_present(o, seen, "interval");
	char a[UNITS_FMT_MAX], b[UNITS_FMT_MAX];

	/* A value that failed to parse was reported already; its default proves nothing. */
	if ((t_given && !exp_seen_valid(o, seen, "timeout")) ||
	    (i_given && !exp_seen_valid(o, seen, "interval")))
		return;
	if (timeout > interval)
		exp_err_key(ctx, map, t_given ? "timeout" : "interval",
			    "timeout %s is longer than the interval %s",
			    units_fmt_duration(a, timeout), units_fmt_duration(b, interval));
}

static const struct exp_object prometheus_object;

static void prometheus_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			     const struct exp_seen *seen)
{
	struct probe_prometheus *p = obj;

	check_tls_url(ctx, map, &prometheus_object, seen, p->url);
	check_timeout_interval(ctx, map, &prometheus_object, seen, p->timeout_ns, p->interval_ns);
}

static const struct exp_object prometheus_object = {
	.name = "prometheus",
	.fields = prometheus_fields,
	.n_fields = ARRAY_SIZE(prometheus_fields),
	.size = sizeof(struct probe_prometheus),
	.check = prometheus_check,
};

/* Command probe. */

static const struct exp_list argv_list = {
	.elem = {.type = FT_STRING, .max = 4096},
	.elem_size = sizeof(char *),
	.min_items = 1,
	.max_items = 256,
};

#define CP(m) offsetof(struct probe_command, m)

static const struct exp_field command_fields[] = {
	{.key = "argv",
	 .type = FT_LIST,
	 .flags = FF_REQUIRED,
	 .off = CP(argv),
	 .off2 = CP(argc),
	 .aux = &argv_list},
	FLD("interval", FT_DURATION, FF_DEFAULT, CP(interval_ns), SEC, HOUR, 30 * SEC, NULL),
	FLD("timeout", FT_DURATION, FF_DEFAULT, CP(timeout_ns), MS, HOUR, 10 * SEC, NULL),
	FLD("expect_exit", FT_U32, FF_DEFAULT, CP(expect_exit), 0, 255, 0, NULL),
};

static const struct exp_object command_object;

static void command_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			  const struct exp_seen *seen)
{
	struct probe_command *p = obj;

	check_timeout_interval(ctx, map, &command_object, seen, p->timeout_ns, p->interval_ns);
}

static const struct exp_object command_object = {
	.name = "command",
	.fields = command_fields,
	.n_fields = ARRAY_SIZE(command_fields),
	.size = sizeof(struct probe_command),
	.check = command_check,
};

/* Burn rate. */

#define BH(m) offsetof(struct burn_http_source, m)

static const struct exp_field burn_http_fields[] = {
	FLD("url", FT_URL, FF_REQUIRED, BH(url), 0, 0, 0, NULL),
	TLS_FIELD(BH(tls)),
	FLD("method", FT_ENUM, FF_DEFAULT, BH(method), 0, 0, HTTP_GET, &exp_method_enum),
	FLD("rate", FT_REQ_RATE, FF_DEFAULT, BH(rate_pkm), PER_MIN, 1000 * PER_SEC, PER_SEC, NULL),
	FLD("timeout", FT_DURATION, FF_DEFAULT, BH(timeout_ns), MS, MIN, 2 * SEC, NULL),
	{.key = "expect_status",
	 .type = FT_LIST,
	 .off = BH(expect_status),
	 .off2 = BH(n_expect_status),
	 .aux = &status_list},
};

static const struct exp_object burn_http_object;

static void burn_http_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			    const struct exp_seen *seen)
{
	const struct burn_http_source *p = obj;

	check_tls_url(ctx, map, &burn_http_object, seen, p->url);
}

static const struct exp_object burn_http_object = {
	.name = "burn_rate.http",
	.fields = burn_http_fields,
	.n_fields = ARRAY_SIZE(burn_http_fields),
	.size = sizeof(struct burn_http_source),
	.check = burn_http_check,
};

#define BP(m) offsetof(struct burn_prom_source, m)

static const struct exp_field burn_prom_fields[] = {
	FLD("url", FT_URL, FF_REQUIRED, BP(url), 0, 0, 0, NULL),
	TLS_FIELD(BP(tls)),
	FLD("query", FT_STRING, FF_REQUIRED, BP(query), 0, 4096, 0, NULL),
	FLD("timeout", FT_DURATION, FF_DEFAULT, BP(timeout_ns), MS, 5 * MIN, 5 * SEC, NULL),
};

static const struct exp_object burn_prom_object;

static void burn_prom_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			    const struct exp_seen *seen)
{
	struct burn_prom_source *p = obj;

	check_tls_url(ctx, map, &burn_prom_object, seen, p->url);
	if (exp_seen_valid(&burn_prom_object, seen, "query") && !strstr(p->query, "$window"))
		exp_err_key(ctx, map, "query",
			    "the query must use $window (replaced by each window's duration, as "
			    "in [$window]) so that every window measures its own error ratio");
}

static const struct exp_object burn_prom_object = {
	.name = "burn_rate.prometheus",
	.fields = burn_prom_fields,
	.n_fields = ARRAY_SIZE(burn_prom_fields),
	.size = sizeof(struct burn_prom_source),
	.check = burn_prom_check,
};

static const struct exp_field burn_window_fields[] = {
	FLD("window", FT_DURATION, FF_REQUIRED, offsetof(struct burn_window, window_ns), MIN,
	    90 * DAY, 0, NULL),
	FLD("max_burn", FT_FACTOR, FF_REQUIRED, offsetof(struct burn_window, max_burn_milli), 1,
	    1000000000LL, 0, NULL),
};

static const struct exp_object burn_window_object = {
	.name = "burn_window",
	.fields = burn_window_fields,
	.n_fields = ARRAY_SIZE(burn_window_fields),
	.size = sizeof(struct burn_window),
};

static const struct exp_list burn_window_list = {
	.elem = {.type = FT_OBJECT, .aux = &burn_window_object},
	.elem_size = sizeof(struct burn_window),
	.min_items = 1,
	.max_items = 8,
};

#define BR(m) offsetof(struct probe_burn_rate, m)

static const struct exp_field burn_fields[] = {
	FLD("objective", FT_PERCENT, FF_REQUIRED, BR(objective_ppm), 1, UNITS_PPM_ONE - 1, 0, NULL),
	FLD("http", FT_OBJECT, FF_PTR, BR(http), 0, 0, 0, &burn_http_object),
	FLD("prometheus", FT_OBJECT, FF_PTR, BR(prometheus), 0, 0, 0, &burn_prom_object),
	{.key = "windows",
	 .type = FT_LIST,
	 .flags = FF_REQUIRED,
	 .off = BR(windows),
	 .off2 = BR(n_windows),
	 .aux = &burn_window_list},
	FLD("interval", FT_DURATION, FF_DEFAULT, BR(interval_ns), SEC, HOUR, 30 * SEC, NULL),
};

static const struct exp_object burn_object;

static void burn_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
		       const struct exp_seen *seen)
{
	const struct exp_object *o = &burn_object;
	struct probe_burn_rate *p = obj;
	const struct enode *wl = exp_node_get(map, "windows");
	uint64_t budget = UNITS_PPM_ONE - p->objective_ppm;

	if (!exp_seen_present(o, seen, "http") && !exp_seen_present(o, seen, "prometheus"))
		exp_err(ctx, map, "needs an error-ratio source: http or prometheus");
	if (exp_seen_present(o, seen, "http") && exp_seen_present(o, seen, "prometheus"))
		exp_err_key(ctx, map, "prometheus",
			    "give one error-ratio source, http or prometheus, not both");
	if (!exp_seen_valid(o, seen, "objective") || !exp_seen_valid(o, seen, "windows"))
		return;
	for (size_t i = 0; i < p->n_windows; i++) {
		const struct burn_window *w = &p->windows[i];
		char b[UNITS_FMT_MAX], m[UNITS_FMT_MAX], obj_s[UNITS_FMT_MAX];
		/* The highest burn possible: every request fails. */
		uint64_t max_milli = UNITS_PPM_ONE * 1000ULL / budget;
		size_t old;

		if (w->max_burn_milli < max_milli)
			continue;
		old = exp_path_key(ctx, "windows");
		exp_path_index(ctx, i);
		exp_err_key(ctx, exp_node_item(wl, i), "max_burn",
			    "burn rate %s can never be exceeded with objective %s (the most is %s, "
			    "when every request fails)",
			    units_fmt_factor(b, w->max_burn_milli),
			    units_fmt_percent(obj_s, p->objective_ppm),
			    units_fmt_factor(m, max_milli));
		exp_path_set(ctx, old);
	}
	if (p->http && exp_seen_valid(o, seen, "http")) {
		int64_t shortest = p->windows[0].window_ns;

		for (size_t i = 1; i < p->n_windows; i++) {
			if (p->windows[i].window_ns < shortest)
				shortest = p->windows[i].window_ns;
		}
		if (req_interval(p->http->rate_pkm) > shortest) {
			char r[UNITS_FMT_MAX], w[UNITS_FMT_MAX];
			size_t old = exp_path_key(ctx, "http");

			exp_err_key(ctx, exp_node_get(map, "http"), "rate",
				    "rate %s sends no request within the shortest window %s",
				    units_fmt_req_rate(r, p->http->rate_pkm),
				    units_fmt_duration(w, shortest));
			exp_path_set(ctx, old);
		}
	}
}

static const struct exp_object burn_object = {
	.name = "burn_rate",
	.fields = burn_fields,
	.n_fields = ARRAY_SIZE(burn_fields),
	.size = sizeof(struct probe_burn_rate),
	.check = burn_check,
};

/*
 * The probe keys of guardrails and checks share one union: a custom field per kind claims
 * the union, and a second kind is refused instead of overwriting the first.
 */

static const char *const probe_names[] = {
	[PROBE_NONE] = NULL,
	[PROBE_HTTP] = "http",
	[PROBE_PROMETHEUS] = "prometheus",
	[PROBE_COMMAND] = "command",
	[PROBE_BURN_RATE] = "burn_rate",
};

static struct exp_probe *probe_of(const struct exp_field *f, void *obj)
{
	return (struct exp_probe *)((char *)obj + f->off);
}

static const struct exp_probe *cprobe_of(const struct exp_field *f, const void *obj)
{
	return (const struct exp_probe *)((const char *)obj + f->off);
}

static bool probe_parse(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
			void *obj)
{
	struct exp_probe *p = probe_of(f, obj);
	const struct exp_object *o = f->aux2;
	size_t errs = diag_total(ctx->diags);

	/* need_probe() reports the extra probe, in document order. */
	if (p->kind != PROBE_NONE)
		return false;
	if (n->type != EN_MAP) {
		exp_err(ctx, n, "expected a mapping, got %s", exp_node_what(n));
		return false;
	}
	p->kind = (int)f->def;
	exp_obj_init(o, &p->u);
	exp_obj_parse(ctx, o, n, &p->u);
	return diag_total(ctx->diags) == errs;
}

static int probe_to_json(const struct exp_field *f, const void *obj, json_t **out)
{
	const struct exp_probe *p = cprobe_of(f, obj);

	*out = NULL;
	if (p->kind != f->def)
		return 0;
	return exp_obj_to_json(f->aux2, &p->u, out);
}

static void probe_release(const struct exp_field *f, void *obj)
{
	struct exp_probe *p = probe_of(f, obj);

	if (p->kind == f->def)
		exp_obj_release(f->aux2, &p->u);
}

static bool probe_equal(const struct exp_field *f, const void *a, const void *b)
{
	const struct exp_probe *x = cprobe_of(f, a), *y = cprobe_of(f, b);

	if (x->kind != y->kind)
		return false;
	return x->kind != f->def || exp_obj_equal(f->aux2, &x->u, &y->u);
}

static const struct exp_custom probe_custom = {
	.parse = probe_parse,
	.to_json = probe_to_json,
	.release = probe_release,
	.equal = probe_equal,
};

#define PROBE_FIELDS(T, M)                                                         \
	{.key = "http",                                                            \
	 .type = FT_CUSTOM,                                                        \
	 .off = offsetof(T, M),                                                    \
	 .def = PROBE_HTTP,                                                        \
	 .aux = &probe_custom,                                                     \
	 .aux2 = &http_object},                                                    \
		{.key = "prometheus",                                              \
		 .type = FT_CUSTOM,                                                \
		 .off = offsetof(T, M),                                            \
		 .def = PROBE_PROMETHEUS,                                          \
		 .aux = &probe_custom,                                             \
		 .aux2 = &prometheus_object},                                      \
		{.key = "command",                                                 \
		 .type = FT_CUSTOM,                                                \
		 .off = offsetof(T, M),                                            \
		 .def = PROBE_COMMAND,                                             \
		 .aux = &probe_custom,                                             \
		 .aux2 = &command_object},                                         \
	{                                                                          \
		.key = "burn_rate", .type = FT_CUSTOM, .off = offsetof(T, M),      \
		.def = PROBE_BURN_RATE, .aux = &probe_custom, .aux2 = &burn_object \
	}

/* The check of a guardrail's and of a check's object: exactly one probe. */
static void need_probe(struct exp_ctx *ctx, const struct enode *map, void *obj,
		       const struct exp_seen *seen)
{
	const char *first = NULL;

	for (const struct enode *k = map->first; k; k = k->next) {
		for (size_t i = 1; i < ARRAY_SIZE(probe_names); i++) {
			if (strcmp(k->str, probe_names[i]))
				continue;
			if (first)
				exp_err_key(ctx, map, k->str,
					    "only one probe per entry; '%s' is already given",
					    first);
			else
				first = probe_names[i];
		}
	}
	if (!first)
		exp_err(ctx, map, "needs a probe: one of http, prometheus, command or burn_rate");
}

#define GR(m) offsetof(struct exp_guardrail, m)

static const struct exp_field guardrail_fields[] = {
	FLD("name", FT_NAME, FF_REQUIRED, GR(name), 0, 0, 0, NULL),
	PROBE_FIELDS(struct exp_guardrail, probe),
	FLD("for", FT_DURATION, FF_DEFAULT, GR(for_ns), 0, HOUR, 0, NULL),
	FLD("on_error", FT_ENUM, FF_DEFAULT, GR(on_error), 0, 0, EXP_ON_ERROR_ABORT,
	    &exp_on_error_enum),
};

const struct exp_object exp_guardrail_object = {
	.name = "guardrail",
	.fields = guardrail_fields,
	.n_fields = ARRAY_SIZE(guardrail_fields),
	.size = sizeof(struct exp_guardrail),
	.check = need_probe,
};

#define CK(m) offsetof(struct exp_check, m)

static const struct exp_field check_fields[] = {
	FLD("name", FT_NAME, FF_REQUIRED, CK(name), 0, 0, 0, NULL),
	PROBE_FIELDS(struct exp_check, probe),
	FLD("on_error", FT_ENUM, FF_DEFAULT, CK(on_error), 0, 0, EXP_ON_ERROR_ABORT,
	    &exp_on_error_enum),
};

const struct exp_object exp_check_object = {
	.name = "check",
	.fields = check_fields,
	.n_fields = ARRAY_SIZE(check_fields),
	.size = sizeof(struct exp_check),
	.check = need_probe,
};

/* Descriptions for plans. */

/* 'text' for a plan line: whole, with only control characters escaped. */
static size_t put_quoted(char *buf, size_t size, size_t o, const char *s)
{
	o = exp_put(buf, size, o, "'");
	for (; *s; s++) {
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			o = exp_put(buf, size, o, "\\x%02x", (unsigned char)*s);
		else
			o = exp_put(buf, size, o, "%c", *s);
	}
	return exp_put(buf, size, o, "'");
}

static size_t put_status(char *buf, size_t size, size_t o, const struct status_range *s, size_t n)
{
	if (!n)
		return exp_put(buf, size, o, "200-299");
	for (size_t i = 0; i < n; i++)
		o = exp_put_range(buf, size, o, i, s[i].lo, s[i].hi);
	return o;
}

static size_t put_argv(char *buf, size_t size, size_t o, char *const *argv, size_t argc)
{
	for (size_t i = 0; i < argc; i++) {
		bool plain = argv[i][0] && !strpbrk(argv[i], " \t'\"\\$`*?[]{}()<>|&;#~");

		o = exp_put(buf, size, o, "%s", i ? " " : "");
		o = plain ? exp_put(buf, size, o, "%s", argv[i])
			  : put_quoted(buf, size, o, argv[i]);
	}
	return o;
}

void exp_describe_probe(const struct exp_probe *p, char *buf, size_t size)
{
	char a[UNITS_FMT_MAX], b[UNITS_FMT_MAX], c[UNITS_FMT_MAX];
	size_t o = 0;

	buf[0] = '\0';
	switch (p->kind) {
	case PROBE_HTTP: {
		const struct probe_http *h = &p->u.http;
		const char *sep = "";

		o = exp_put(buf, size, o, "http %s %s at %s, timeout %s, status ",
			    exp_enum_name(&exp_method_enum, h->method), h->url,
			    units_fmt_req_rate(a, h->rate_pkm),
			    units_fmt_duration(b, h->timeout_ns));
		o = put_status(buf, size, o, h->expect_status, h->n_expect_status);
		o = exp_put(buf, size, o, "; healthy while, over %s, ",
			    units_fmt_duration(c, h->window_ns));
		if (h->min_success_ppm) {
			o = exp_put(buf, size, o, "success ratio >= %s",
				    units_fmt_percent(a, h->min_success_ppm));
			sep = " and ";
		}
		if (h->max_latency) {
			const struct latency_limits *l = h->max_latency;
			const int64_t v[3] = {l->p50_ns, l->p95_ns, l->p99_ns};
			static const char *const pn[3] = {"p50", "p95", "p99"};

			for (int i = 0; i < 3; i++) {
				if (!v[i])
					continue;
				o = exp_put(buf, size, o, "%s%s <= %s", sep, pn[i],
					    units_fmt_duration(a, v[i]));
				sep = " and ";
			}
		}
		break;
	}
	case PROBE_PROMETHEUS: {
		const struct probe_prometheus *pr = &p->u.prometheus;
		char num[64];

		exp_fmt_double(num, sizeof(num), pr->threshold);
		o = exp_put(buf, size, o, "prometheus %s query ", pr->url);
		o = put_quoted(buf, size, o, pr->query);
		exp_put(buf, size, o, " every %s, timeout %s; healthy while result %s %s",
			units_fmt_duration(a, pr->interval_ns),
			units_fmt_duration(b, pr->timeout_ns), exp_enum_name(&exp_cmp_enum, pr->op),
			num);
		break;
	}
	case PROBE_COMMAND: {
		const struct probe_command *cm = &p->u.command;

		o = exp_put(buf, size, o, "command ");
		o = put_argv(buf, size, o, cm->argv, cm->argc);
		exp_put(buf, size, o, " every %s, timeout %s; healthy while it exits with %u",
			units_fmt_duration(a, cm->interval_ns),
			units_fmt_duration(b, cm->timeout_ns), cm->expect_exit);
		break;
	}
	case PROBE_BURN_RATE: {
		const struct probe_burn_rate *br = &p->u.burn_rate;

		o = exp_put(buf, size, o, "burn rate of objective %s from ",
			    units_fmt_percent(a, br->objective_ppm));
		if (br->http) {
			o = exp_put(buf, size, o, "http %s %s at %s, status ",
				    exp_enum_name(&exp_method_enum, br->http->method),
				    br->http->url, units_fmt_req_rate(b, br->http->rate_pkm));
			o = put_status(buf, size, o, br->http->expect_status,
				       br->http->n_expect_status);
		} else if (br->prometheus) {
			o = exp_put(buf, size, o, "prometheus %s query ", br->prometheus->url);
			o = put_quoted(buf, size, o, br->prometheus->query);
		}
		o = exp_put(buf, size, o, " every %s; healthy unless burn rate exceeds ",
			    units_fmt_duration(a, br->interval_ns));
		for (size_t i = 0; i < br->n_windows; i++)
			o = exp_put(buf, size, o, "%s%s over %s", i ? " and " : "",
				    units_fmt_factor(b, br->windows[i].max_burn_milli),
				    units_fmt_duration(c, br->windows[i].window_ns));
		break;
	}
	default:
		exp_put(buf, size, o, "no probe");
		break;
	}
}
