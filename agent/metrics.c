/* Metrics: counters kept by the core, rendered in the Prometheus text format on demand. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "core.h"
#include "counters.h"
#include "http.h"
#include "log.h"
#include "metrics.h"

struct metrics_server {
	uv_tcp_t tcp;
	struct agent *agent;
};

struct mconn {
	uv_tcp_t tcp;
	struct agent *agent;
	char buf[HTTP_MAX_HEAD];
	size_t len;
	int closing;
};

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
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
		char *np = realloc(b->p, b->cap * 2 + n);

		if (!np) {
			b->err = 1;
			return;
		}
		b->p = np;
		b->cap = b->cap * 2 + n;
	}
}

char *metrics_render(const struct agent *a)
{
	static const struct {
		const char *name, *help;
	} per_type[MET__PER_TYPE] = {
		[MET_APPLIES] = { "faultline_fault_applies_total", "Faults applied." },
		[MET_APPLY_FAILURES] = { "faultline_fault_apply_failures_total",
					 "Faults whose apply failed (nothing left applied)." },
		[MET_REVERTS] = { "faultline_fault_reverts_total", "Faults reverted." },
		[MET_REVERT_FAILURES] = { "faultline_fault_revert_failures_total",
					  "Revert attempts that failed (the fault stays journaled)." },
	};
	struct sbuf b = { .p = malloc(4096), .cap = 4096 };
	int leases = 0;

	if (!b.p)
		return NULL;
	b.p[0] = '\0';
	sb_printf(&b, "# HELP faultline_faults_active Faults currently in effect.\n"
		      "# TYPE faultline_faults_active gauge\n");
	for (size_t i = 0; fault_ops_all[i]; i++) {
		int n = 0;

		for (const struct fault *f = a->faults; f; f = f->next)
			n += f->type == fault_ops_all[i] && fault_state_live(f->state);
		sb_printf(&b, "faultline_faults_active{type=\"%s\"} %d\n", fault_ops_all[i]->name, n);
	}
	for (int c = 0; c < MET__PER_TYPE; c++) {
		sb_printf(&b, "# HELP %s %s\n# TYPE %s counter\n", per_type[c].name, per_type[c].help,
			  per_type[c].name);
		for (size_t i = 0; fault_ops_all[i]; i++)
			sb_printf(&b, "%s{type=\"%s\"} %llu\n", per_type[c].name,
				  fault_ops_all[i]->name,
				  (unsigned long long)a->metrics.per_type[c][i]);
	}
	for (const struct lease *l = a->leases; l; l = l->next)
		leases++;
	sb_printf(&b,
		  "# HELP faultline_leases_active Leases held by controllers.\n"
		  "# TYPE faultline_leases_active gauge\nfaultline_leases_active %d\n"
		  "# HELP faultline_lease_expiries_total Leases that expired unrenewed.\n"
		  "# TYPE faultline_lease_expiries_total counter\n"
		  "faultline_lease_expiries_total %llu\n"
		  "# HELP faultline_api_requests_total API requests answered.\n"
		  "# TYPE faultline_api_requests_total counter\nfaultline_api_requests_total %llu\n"
		  "# HELP faultline_api_refusals_total API requests refused (auth or policy).\n"
		  "# TYPE faultline_api_refusals_total counter\n"
		  "faultline_api_refusals_total %llu\n",
		  leases, (unsigned long long)a->metrics.lease_expiries,
		  (unsigned long long)a->metrics.requests,
		  (unsigned long long)a->metrics.requests_refused);
	if (b.err) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static void mconn_closed(uv_handle_t *h)
{
	free(h->data);
}

static void mconn_close(struct mconn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	uv_close((uv_handle_t *)&c->tcp, mconn_closed);
}

static void mwrite_done(uv_write_t *req, int status)
{
	struct mconn *c = req->data;

	free(((char **)(req + 1))[0]);
	free(req);
	mconn_close(c);
}

static void mrespond(struct mconn *c, int status, const char *ctype, const char *body)
{
	uv_write_t *req = malloc(sizeof(*req) + sizeof(char *));
	char *msg = NULL;
	size_t len;
	uv_buf_t b;

	if (!req || http_format_response(&msg, &len, status, ctype, body, strlen(body), true)) {
		free(req);
		mconn_close(c);
		return;
	}
	req->data = c;
	((char **)(req + 1))[0] = msg;
	b = uv_buf_init(msg, len);
	if (uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, mwrite_done)) {
		free(msg);
		free(req);
		mconn_close(c);
	}
}

static void malloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct mconn *c = h->data;

	*buf = uv_buf_init(c->buf + c->len, sizeof(c->buf) - c->len);
}

static void mread_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct mconn *c = s->data;
	struct http_msg m;
	char *text;
	int err;

	if (n < 0) {
		mconn_close(c);
		return;
	}
	c->len += n;
	err = http_parse_request(c->buf, c->len, &m);
	if (err == -EAGAIN && c->len < sizeof(c->buf))
		return;
	uv_read_stop(s);
	if (err) {
		mrespond(c, 400, "text/plain", "bad request\n");
		return;
	}
	if (strcmp(m.method, "GET") || (strcmp(m.target, "/metrics") && strcmp(m.target, "/"))) {
		mrespond(c, 404, "text/plain", "only GET /metrics is served here\n");
		return;
	}
	text = metrics_render(c->agent);
	if (!text) {
		mrespond(c, 500, "text/plain", "out of memory\n");
		return;
	}
	mrespond(c, 200, "text/plain; version=0.0.4", text);
	free(text);
}

static void mon_connection(uv_stream_t *srv, int status)
{
	struct metrics_server *ms = srv->data;
	struct mconn *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->agent = ms->agent;
	uv_tcp_init(srv->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(srv, (uv_stream_t *)&c->tcp)) {
		mconn_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->tcp, malloc_cb, mread_cb);
}

static int parse_loopback(const char *addr, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -EINVAL;
	memcpy(host, addr, colon - addr);
	host[colon - addr] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		host[strlen(host) - 1] = '\0';
		if (uv_ip6_addr(host + 1, (int)port, s6) || !IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return -EADDRNOTAVAIL;
		return 0;
	}
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (uv_ip4_addr(host, (int)port, s4))
			return -EINVAL;
		if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127)
			return -EADDRNOTAVAIL;
	}
	return 0;
}

int metrics_listen(struct agent *a, const char *addr, struct metrics_server **out)
{
	struct sockaddr_storage ss = { 0 };
	struct metrics_server *ms;
	int err;

	err = parse_loopback(addr, &ss);
	if (err)
		return err;
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	ms->agent = a;
	uv_tcp_init(a->loop, &ms->tcp);
	ms->tcp.data = ms;
	err = uv_tcp_bind(&ms->tcp, (struct sockaddr *)&ss, 0);
	if (!err)
		err = uv_listen((uv_stream_t *)&ms->tcp, 64, mon_connection);
	if (err) {
		uv_close((uv_handle_t *)&ms->tcp, mconn_closed);
		return err;
	}
	*out = ms;
	return 0;
}

void metrics_close(struct metrics_server *ms)
{
	if (ms)
		uv_close((uv_handle_t *)&ms->tcp, mconn_closed);
}
