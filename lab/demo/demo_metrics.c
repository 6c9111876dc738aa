/* Counters and histograms of faultline-demo in the Prometheus text format; no I/O here. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "demo.h"

const double demo_hist_bounds[DEMO_HIST_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static const int codes[DEMO_CODES] = {200, 400, 404, 405, 408, 411, 413, 431, 500, 502, 503, 504};

static const char *const backend_results[DEMO_BACKEND__COUNT] = {
	[DEMO_BACKEND_OK] = "ok",
	[DEMO_BACKEND_HTTP_ERROR] = "http_error",
	[DEMO_BACKEND_CONN_ERROR] = "connect_error",
	[DEMO_BACKEND_TIMEOUT] = "timeout",
	[DEMO_BACKEND_BAD_RESPONSE] = "bad_response",
	[DEMO_BACKEND_DNS_ERROR] = "dns_error",
};

void demo_hist_observe(struct demo_hist *h, double seconds)
{
	int i;

	for (i = 0; i < DEMO_HIST_BUCKETS; i++)
		if (seconds <= demo_hist_bounds[i])
			break;
	h->counts[i]++;
	h->count++;
	h->sum += seconds;
}

void demo_metrics_count(struct demo_metrics *m, int status, double seconds)
{
	int i;

	for (i = 0; i < DEMO_CODES; i++)
		if (codes[i] == status)
			break;
	m->requests[i]++;
	demo_hist_observe(&m->latency, seconds);
}

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *np;
	int n;

	if (b->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += n;
			return;
		}
		np = realloc(b->p, b->cap * 2 + n);
		if (!np) {
			b->err = 1;
			return;
		}
		b->p = np;
		b->cap = b->cap * 2 + n;
	}
}

/* Prometheus wants cumulative buckets, each "le" counting everything at or below it. */
static void render_hist(struct sbuf *b, const char *name, const char *help, const char *role,
			const struct demo_hist *h)
{
	uint64_t cum = 0;

	sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (int i = 0; i < DEMO_HIST_BUCKETS; i++) {
		cum += h->counts[i];
		sb_printf(b, "%s_bucket{role=\"%s\",le=\"%g\"} %llu\n", name, role,
			  demo_hist_bounds[i], (unsigned long long)cum);
	}
	cum += h->counts[DEMO_HIST_BUCKETS];
	sb_printf(b, "%s_bucket{role=\"%s\",le=\"+Inf\"} %llu\n", name, role,
		  (unsigned long long)cum);
	sb_printf(b, "%s_sum{role=\"%s\"} %.9g\n%s_count{role=\"%s\"} %llu\n", name, role, h->sum,
		  name, role, (unsigned long long)h->count);
}

char *demo_metrics_render(const struct demo_metrics *m, int with_backend)
{
	struct sbuf b = {.p = malloc(4096), .cap = 4096};

	if (!b.p)
		return NULL;
	b.p[0] = '\0';
	sb_printf(&b, "# HELP demo_requests_total Requests answered, by status code (scrapes of "
		      "/metrics and /healthz are not counted).\n"
		      "# TYPE demo_requests_total counter\n");
	for (int i = 0; i <= DEMO_CODES; i++) {
		if (i < DEMO_CODES)
			sb_printf(&b, "demo_requests_total{role=\"%s\",code=\"%d\"} %llu\n",
				  m->role, codes[i], (unsigned long long)m->requests[i]);
		else
			sb_printf(&b, "demo_requests_total{role=\"%s\",code=\"other\"} %llu\n",
				  m->role, (unsigned long long)m->requests[i]);
	}
	render_hist(&b, "demo_request_duration_seconds",
		    "Time from accepting a connection to sending the answer.", m->role,
		    &m->latency);
	if (with_backend) {
		sb_printf(&b,
			  "# HELP demo_backend_requests_total Calls to the backend, by result.\n"
			  "# TYPE demo_backend_requests_total counter\n");
		for (int i = 0; i < DEMO_BACKEND__COUNT; i++)
			sb_printf(&b,
				  "demo_backend_requests_total{role=\"%s\",result=\"%s\"} %llu\n",
				  m->role, backend_results[i], (unsigned long long)m->backend[i]);
		render_hist(&b, "demo_backend_duration_seconds",
			    "Duration of backend calls, connect to last byte.", m->role,
			    &m->backend_latency);
	}
	sb_printf(&b,
		  "# HELP demo_connections_rejected_total Connections closed at once because "
		  "--max-connections were open.\n"
		  "# TYPE demo_connections_rejected_total counter\n"
		  "demo_connections_rejected_total{role=\"%s\"} %llu\n"
		  "# HELP demo_connections_active Connections open now.\n"
		  "# TYPE demo_connections_active gauge\n"
		  "demo_connections_active{role=\"%s\"} %llu\n",
		  m->role, (unsigned long long)m->conns_rejected, m->role,
		  (unsigned long long)m->conns_active);
	if (b.err) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
