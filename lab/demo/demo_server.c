/*
 * The HTTP side of faultline-demo on libuv. Every connection carries one request and is closed
 * after the answer, so each buffer is bounded by one request head (plus a small body) and no
 * connection outlives its timers. In service mode a request to "/" makes one call to the
 * backend, bounded by --backend-timeout-ms from the name's lookup (when the backend URL names
 * it) through connect to the last byte. A named backend is resolved at every call, with no
 * cache: getaddrinfo on libuv's thread pool, through the C library's resolver and
 * /etc/resolv.conf, so a name that stops resolving fails the very next call (502, counted as
 * dns_error) and one that resolves again serves the next call after that.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "demo.h"
#include "http.h"
#include "log.h"

/* A request head and a small body; larger requests get 413 or 431. */
#define CONN_BUF (HTTP_MAX_HEAD + 4096)
/* A backend answer is copied to the client: keep it small and bounded. */
#define UPSTREAM_BUF (64 * 1024)

struct server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_signal_t sig_term, sig_int;
	const struct demo_config *cfg;
	struct demo_metrics metrics;
};

struct upstream;

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer; /* request timeout, the backend-mode delay, then the linger bound */
	uv_shutdown_t sreq;
	struct server *srv;
	struct upstream *up;
	uint64_t start_ns;
	char buf[CONN_BUF];
	size_t len;
	int open_handles;
	int closing;
	int answered;
};

struct upstream {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t creq;
	uv_write_t wreq;
	uv_getaddrinfo_t gai; /* a named backend: the lookup, pending while looking_up */
	int looking_up;
	struct server *srv;
	struct conn *conn; /* NULL once the client went away */
	uint64_t start_ns;
	char *req;
	char *buf;
	size_t len;
	int open_handles;
	int closing;
};

struct write_req {
	uv_write_t req;
	struct conn *conn;
	char *data;
};

static double since(uint64_t start_ns)
{
	return (double)(uv_hrtime() - start_ns) / 1e9;
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->open_handles == 0)
		free(c);
}

static void upstream_finish(struct upstream *u, enum demo_backend_result r, int status,
			    const char *body, size_t body_len);

static void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	c->srv->metrics.conns_active--;
	/* The backend call may still run: it is told, and then answers nobody. */
	if (c->up)
		c->up->conn = NULL;
	c->up = NULL;
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void linger_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	*buf = uv_buf_init(c->buf, sizeof(c->buf));
}

static void linger_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	if (n < 0)
		conn_close(s->data);
}

static void linger_timeout(uv_timer_t *t)
{
	conn_close(t->data);
}

static void shutdown_done(uv_shutdown_t *req, int status)
{
	if (status)
		conn_close(req->data);
}

/*
 * Closing a socket with unread input makes the kernel send a reset, which can destroy the
 * answer before the client read it (an oversized request is exactly that case). So after
 * the answer: half-close, discard what the client still sends until it closes, for at most
 * a second.
 */
static void write_done(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct conn *c = w->conn;

	free(w->data);
	free(w);
	if (status || c->closing) {
		conn_close(c);
		return;
	}
	c->sreq.data = c;
	if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, shutdown_done) ||
	    uv_read_start((uv_stream_t *)&c->tcp, linger_alloc, linger_read)) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, linger_timeout, 1000, 0);
}

/*
 * Answer and close. Counted answers go into the request metrics; scrapes and health checks
 * do not, so that the load the lab generates is what the counters show.
 */
static void conn_answer(struct conn *c, int status, const char *ctype, const char *body,
			size_t body_len, int counted)
{
	struct write_req *w;
	char *msg = NULL;
	size_t len;
	uv_buf_t b;

	if (c->closing || c->answered)
		return;
	c->answered = 1;
	uv_timer_stop(&c->timer);
	uv_read_stop((uv_stream_t *)&c->tcp);
	if (counted)
		demo_metrics_count(&c->srv->metrics, status, since(c->start_ns));
	w = calloc(1, sizeof(*w));
	if (!w || http_format_response(&msg, &len, status, ctype, body, body_len, true)) {
		free(w);
		conn_close(c);
		return;
	}
	w->conn = c;
	w->data = msg;
	b = uv_buf_init(msg, len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_done)) {
		free(msg);
		free(w);
		conn_close(c);
	}
}

static void conn_answer_text(struct conn *c, int status, const char *text, int counted)
{
	conn_answer(c, status, "text/plain", text, strlen(text), counted);
}

/* Drop one reference of u: its two handles and, while it runs, the name's lookup. */
static void upstream_unref(struct upstream *u)
{
	if (--u->open_handles == 0) {
		free(u->req);
		free(u->buf);
		free(u);
	}
}

static void upstream_handle_closed(uv_handle_t *h)
{
	upstream_unref(h->data);
}

static void upstream_finish(struct upstream *u, enum demo_backend_result r, int status,
			    const char *body, size_t body_len)
{
	struct conn *c = u->conn;
	char text[96];

	if (u->closing)
		return;
	u->closing = 1;
	u->srv->metrics.backend[r]++;
	demo_hist_observe(&u->srv->metrics.backend_latency, since(u->start_ns));
	if (c) {
		c->up = NULL;
		switch (r) {
		case DEMO_BACKEND_OK:
			conn_answer(c, 200, "text/plain", body, body_len, 1);
			break;
		case DEMO_BACKEND_TIMEOUT:
			conn_answer_text(c, 504, "backend timed out\n", 1);
			break;
		case DEMO_BACKEND_HTTP_ERROR:
			snprintf(text, sizeof(text), "backend answered %d\n", status);
			conn_answer_text(c, 502, text, 1);
			break;
		case DEMO_BACKEND_DNS_ERROR:
			/* status is the lookup's libuv error */
			snprintf(text, sizeof(text), "backend name %s did not resolve: %s\n",
				 u->srv->cfg->backend.name, uv_strerror(status));
			conn_answer_text(c, 502, text, 1);
			break;
		default:
			conn_answer_text(c, 502, "backend unreachable or not HTTP\n", 1);
			break;
		}
	}
	/* A lookup that has not started yet is cancelled; a running one ends on its own (the
	 * resolver's own timeouts bound it) and its callback then only drops its reference. */
	if (u->looking_up)
		uv_cancel((uv_req_t *)&u->gai);
	uv_close((uv_handle_t *)&u->tcp, upstream_handle_closed);
	uv_close((uv_handle_t *)&u->timer, upstream_handle_closed);
}

static void upstream_timeout(uv_timer_t *t)
{
	upstream_finish(t->data, DEMO_BACKEND_TIMEOUT, 0, NULL, 0);
}

static void upstream_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct upstream *u = h->data;

	*buf = uv_buf_init(u->buf + u->len, UPSTREAM_BUF - u->len);
}

static void upstream_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct upstream *u = s->data;
	struct http_msg m;
	int eof = n == UV_EOF, err;

	if (n < 0 && !eof) {
		upstream_finish(u, DEMO_BACKEND_CONN_ERROR, 0, NULL, 0);
		return;
	}
	if (n > 0)
		u->len += n;
	if (!u->len && eof) {
		upstream_finish(u, DEMO_BACKEND_CONN_ERROR, 0, NULL, 0);
		return;
	}
	err = http_parse_response(u->buf, u->len, eof, &m);
	if (err == -EAGAIN && u->len < UPSTREAM_BUF)
		return;
	if (err) {
		upstream_finish(u, DEMO_BACKEND_BAD_RESPONSE, 0, NULL, 0);
		return;
	}
	if (m.status >= 200 && m.status < 300)
		upstream_finish(u, DEMO_BACKEND_OK, m.status, m.body, m.body_len);
	else
		upstream_finish(u, DEMO_BACKEND_HTTP_ERROR, m.status, NULL, 0);
}

static void upstream_written(uv_write_t *req, int status)
{
	struct upstream *u = req->data;

	if (status && !u->closing)
		upstream_finish(u, DEMO_BACKEND_CONN_ERROR, 0, NULL, 0);
}

static void upstream_connected(uv_connect_t *req, int status)
{
	struct upstream *u = req->data;
	uv_buf_t b;

	if (u->closing)
		return;
	if (status) {
		upstream_finish(u, DEMO_BACKEND_CONN_ERROR, 0, NULL, 0);
		return;
	}
	b = uv_buf_init(u->req, strlen(u->req));
	u->wreq.data = u;
	if (uv_write(&u->wreq, (uv_stream_t *)&u->tcp, &b, 1, upstream_written) ||
	    uv_read_start((uv_stream_t *)&u->tcp, upstream_alloc, upstream_read))
		upstream_finish(u, DEMO_BACKEND_CONN_ERROR, 0, NULL, 0);
}

static void upstream_connect(struct upstream *u, const struct sockaddr *sa)
{
	int err = uv_tcp_connect(&u->creq, &u->tcp, sa, upstream_connected);

	if (err)
		upstream_finish(u, DEMO_BACKEND_CONN_ERROR, err, NULL, 0);
}

static void upstream_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct upstream *u = req->data;

	u->looking_up = 0;
	if (!u->closing) {
		if (status || !res)
			upstream_finish(u, DEMO_BACKEND_DNS_ERROR, status ? status : UV_EAI_NONAME,
					NULL, 0);
		else
			upstream_connect(u, res->ai_addr);
	}
	uv_freeaddrinfo(res);
	upstream_unref(u);
}

/* Start the backend call for c; on failure to even start, c is answered 500. */
static void upstream_start(struct conn *c)
{
	struct server *srv = c->srv;
	const struct demo_endpoint *be = &srv->cfg->backend;
	struct upstream *u;

	u = calloc(1, sizeof(*u));
	if (!u || !(u->buf = malloc(UPSTREAM_BUF)) ||
	    asprintf(&u->req,
		     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: faultline-demo\r\n"
		     "Connection: close\r\n\r\n",
		     be->path, be->host) < 0) {
		if (u)
			free(u->buf);
		free(u);
		conn_answer_text(c, 500, "out of memory\n", 1);
		return;
	}
	u->srv = srv;
	u->conn = c;
	u->start_ns = uv_hrtime();
	c->up = u;
	uv_tcp_init(srv->loop, &u->tcp);
	uv_timer_init(srv->loop, &u->timer);
	u->tcp.data = u->timer.data = u->creq.data = u;
	u->open_handles = 2;
	uv_timer_start(&u->timer, upstream_timeout, srv->cfg->backend_timeout_ms, 0);
	if (be->name[0]) {
		struct addrinfo hints = {
			.ai_family = AF_UNSPEC,
			.ai_socktype = SOCK_STREAM,
			.ai_flags = AI_NUMERICSERV,
		};
		int err;

		u->gai.data = u;
		u->open_handles++;
		u->looking_up = 1;
		err = uv_getaddrinfo(srv->loop, &u->gai, upstream_resolved, be->name, be->port_text,
				     &hints);
		if (err) {
			u->looking_up = 0;
			u->open_handles--;
			upstream_finish(u, DEMO_BACKEND_DNS_ERROR, err, NULL, 0);
		}
		return;
	}
	upstream_connect(u, (const struct sockaddr *)&be->ss);
}

static void backend_delay_done(uv_timer_t *t)
{
	conn_answer_text(t->data, 200, "backend ok\n", 1);
}

static void conn_route(struct conn *c, const struct http_msg *m)
{
	struct server *srv = c->srv;
	size_t plen = strcspn(m->target, "?");
	char *text;

	if (plen == 8 && !strncmp(m->target, "/metrics", 8)) {
		if (strcmp(m->method, "GET")) {
			conn_answer_text(c, 405, "only GET\n", 0);
			return;
		}
		text = demo_metrics_render(&srv->metrics, !srv->cfg->backend_mode);
		if (!text) {
			conn_answer_text(c, 500, "out of memory\n", 0);
			return;
		}
		conn_answer(c, 200, "text/plain; version=0.0.4", text, strlen(text), 0);
		free(text);
		return;
	}
	if (plen == 8 && !strncmp(m->target, "/healthz", 8)) {
		conn_answer_text(c, 200, "ok\n", 0);
		return;
	}
	if (plen != 1) {
		conn_answer_text(c, 404, "only / is served here (and /metrics, /healthz)\n", 1);
		return;
	}
	if (strcmp(m->method, "GET")) {
		conn_answer_text(c, 405, "only GET\n", 1);
		return;
	}
	if (!srv->cfg->backend_mode) {
		uv_timer_stop(&c->timer);
		uv_read_stop((uv_stream_t *)&c->tcp);
		upstream_start(c);
		return;
	}
	if (srv->cfg->delay_ms) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		uv_timer_start(&c->timer, backend_delay_done, srv->cfg->delay_ms, 0);
		return;
	}
	conn_answer_text(c, 200, "backend ok\n", 1);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	*buf = uv_buf_init(c->buf + c->len, sizeof(c->buf) - c->len);
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	struct http_msg m;
	int err;

	if (n < 0) {
		/* The client went away (or reset) before a whole request: nothing to answer. */
		conn_close(c);
		return;
	}
	c->len += n;
	err = http_parse_request(c->buf, c->len, &m);
	if (err == -EAGAIN && c->len < sizeof(c->buf))
		return;
	if (err == -EAGAIN || err == -EMSGSIZE) {
		/* Over the buffer: a too large head, or a body we will not hold. */
		if (memmem(c->buf, c->len, "\r\n\r\n", 4) || memmem(c->buf, c->len, "\n\n", 2))
			conn_answer_text(c, 413, "request too large\n", 1);
		else
			conn_answer_text(c, 431, "request head too large\n", 1);
		return;
	}
	if (err == -ENOTSUP) {
		conn_answer_text(c, 411, "chunked requests are not accepted\n", 1);
		return;
	}
	if (err) {
		conn_answer_text(c, 400, "malformed request\n", 1);
		return;
	}
	conn_route(c, &m);
}

static void conn_timeout(uv_timer_t *t)
{
	struct conn *c = t->data;

	/* An incomplete request: answer 408 if it sent anything, else just close. */
	if (c->len)
		conn_answer_text(c, 408, "request not complete in time\n", 1);
	else
		conn_close(c);
}

static void on_connection(uv_stream_t *l, int status)
{
	struct server *srv = l->data;
	struct conn *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = srv;
	c->start_ns = uv_hrtime();
	uv_tcp_init(srv->loop, &c->tcp);
	uv_timer_init(srv->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->open_handles = 2;
	srv->metrics.conns_active++;
	if (uv_accept(l, (uv_stream_t *)&c->tcp)) {
		conn_close(c);
		return;
	}
	if (srv->metrics.conns_active > srv->cfg->max_connections) {
		srv->metrics.conns_rejected++;
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, conn_timeout, srv->cfg->request_timeout_ms, 0);
	if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read))
		conn_close(c);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;

	log_info("%s: stopping", strsignal(signum));
	uv_stop(srv->loop);
}

int demo_serve(const struct demo_config *cfg)
{
	static struct server srv;
	int err;

	srv.loop = uv_default_loop();
	srv.cfg = cfg;
	srv.metrics.role = cfg->backend_mode ? "backend" : "service";
	uv_tcp_init(srv.loop, &srv.listener);
	srv.listener.data = &srv;
	err = uv_tcp_bind(&srv.listener, (const struct sockaddr *)&cfg->listen.ss, 0);
	if (!err)
		err = uv_listen((uv_stream_t *)&srv.listener, 128, on_connection);
	if (err) {
		log_err("cannot listen on %s: %s", cfg->listen.host, uv_strerror(err));
		return err;
	}
	uv_signal_init(srv.loop, &srv.sig_term);
	uv_signal_init(srv.loop, &srv.sig_int);
	srv.sig_term.data = srv.sig_int.data = &srv;
	uv_signal_start(&srv.sig_term, on_signal, SIGTERM);
	uv_signal_start(&srv.sig_int, on_signal, SIGINT);
	if (cfg->backend_mode)
		log_info("backend listening on http://%s/ (delay %u ms)", cfg->listen.host,
			 cfg->delay_ms);
	else
		log_info("service listening on http://%s/, backend http://%s%s (timeout %u ms%s)",
			 cfg->listen.host, cfg->backend.host, cfg->backend.path,
			 cfg->backend_timeout_ms,
			 cfg->backend.name[0] ? ", name resolved at every call" : "");
	uv_run(srv.loop, UV_RUN_DEFAULT);
	/* Stopped by a signal: the process exits, which closes every socket at once. */
	return 0;
}
