/*
 * API listener. Requests are parsed by lib/http.c; each connection may carry many requests
 * (keep-alive), answered in order. Responses always carry Content-Length.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

#define CONN_MAX_BUFFER (HTTP_MAX_HEAD + HTTP_MAX_BODY)
/* What one read may add beyond a full request: the client may pipeline the next one. */
#define CONN_READ_SIZE 65536
/* A connection's buffer starts this small: most requests are a few hundred bytes. */
#define CONN_MIN_BUFFER 1024
/*
 * Give freed memory back to the kernel once the connections fell to a quarter of a peak of
 * at least this many: a burst of connections must not leave the agent's RSS at its height.
 */
#define CONN_TRIM_PEAK 64
#ifndef SERVER_MAX_STREAM_BACKLOG
#define SERVER_MAX_STREAM_BACKLOG (1u << 20)
#endif

struct server_conn {
	uv_pipe_t pipe;
	struct server *srv;
	struct peer peer;
	/*
	 * Bytes of requests not answered yet, in a buffer sized to them (cap), freed whenever
	 * it empties: an idle or half-sent connection holds only what it was sent.
	 */
	char *buf;
	size_t len, cap;
	/* Runs from a request's first byte until it is complete (request_timeout_ms). */
	uv_timer_t timer;
	int open_handles; /* pipe and timer: the connection is freed when both are closed */
	int closing;
	int streaming;
	int rejected; /* over max_conns: answered 503, read and discarded until closed */
	int refused;  /* answered an HTTP-level error: the rest of the input is discarded */
	/* A request is being answered later (server_defer); close_after is its "close". */
	int deferred;
	int deferred_close;
	void (*on_close)(void *ctx, struct server_conn *c);
	void *on_close_ctx;
	struct server_conn *next, *prev;
};

struct server {
	uv_loop_t *loop;
	uv_pipe_t listener;
	char path[108];
	ino_t ino;
	dev_t dev;
	server_handler_fn fn;
	server_reject_fn reject;
	void *ctx;
	struct server_conn *conns;
	int closing;
	uint32_t request_timeout_ms;
	uint32_t max_conns;
	uint32_t nconns;    /* connections counted against max_conns */
	uint32_t nrejected; /* over the limit, being closed */
	uint32_t peak;	    /* most connections since the last malloc_trim() */
	/* Every read lands here first: libuv hands it to one read callback at a time. */
	char rbuf[CONN_READ_SIZE];
};

struct write_req {
	uv_write_t req;
	struct server_conn *conn;
	char *data;
	int close_after;
};

static void conn_closed(uv_handle_t *h)
{
	struct server_conn *c = h->data;

	if (--c->open_handles)
		return;
	free(c->buf);
	free(c);
}

static void conn_close(struct server_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (c->on_close)
		c->on_close(c->on_close_ctx, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->rejected) {
		c->srv->nrejected--;
	} else {
		c->srv->nconns--;
		if (c->srv->peak >= CONN_TRIM_PEAK && c->srv->nconns <= c->srv->peak / 4) {
			/* glibc keeps freed heap pages otherwise; this runs once per burst. */
			malloc_trim(0);
			c->srv->peak = c->srv->nconns;
		}
	}
	uv_close((uv_handle_t *)&c->timer, conn_closed);
	uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

static void write_done(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;

	if ((status || w->close_after) && !w->conn->closing)
		conn_close(w->conn);
	free(w->data);
	free(w);
}

static int queue_write(struct server_conn *c, char *msg, size_t len, int close_after)
{
	struct write_req *w;
	uv_buf_t b;

	w = calloc(1, sizeof(*w));
	if (!w) {
		free(msg);
		conn_close(c);
		return -ENOMEM;
	}
	w->conn = c;
	w->data = msg;
	w->close_after = close_after;
	b = uv_buf_init(msg, len);
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, write_done)) {
		free(msg);
		free(w);
		conn_close(c);
		return -EPIPE;
	}
	return 0;
}

static void send_response(struct server_conn *c, int status, json_t *body, int close_after)
{
	char *text = NULL, *msg = NULL;
	size_t text_len = 0, msg_len;

	if (body) {
		text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (text) {
			text_len = strlen(text);
			/* A trailing newline makes curl and socat output readable. */
			char *t = realloc(text, text_len + 2);

			if (t) {
				text = t;
				text[text_len++] = '\n';
				text[text_len] = '\0';
			}
		}
	}
	if (http_format_response(&msg, &msg_len, status, "application/json", text, text_len,
				 close_after)) {
		free(text);
		conn_close(c);
		return;
	}
	free(text);
	queue_write(c, msg, msg_len, close_after);
}

const struct peer *server_conn_peer(const struct server_conn *conn)
{
	return &conn->peer;
}

int server_stream_start(struct server_conn *c, void (*on_close)(void *ctx, struct server_conn *c),
			void *ctx)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: application/x-ndjson\r\n"
				   "Cache-Control: no-cache\r\n"
				   "Connection: close\r\n"
				   "\r\n";
	char *msg = strdup(head);

	if (!msg)
		return -ENOMEM;
	c->streaming = 1;
	c->on_close = on_close;
	c->on_close_ctx = ctx;
	return queue_write(c, msg, sizeof(head) - 1, 0);
}

int server_stream_send(struct server_conn *c, const json_t *value)
{
	char *text;
	size_t len;

	if (c->closing)
		return -EPIPE;
	/* A subscriber that does not read must not make the agent buffer without bound. */
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > SERVER_MAX_STREAM_BACKLOG) {
		log_warn("event stream to pid %d is not being read; closing it", (int)c->peer.pid);
		conn_close(c);
		return -ENOBUFS;
	}
	text = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len] = '\n';
	return queue_write(c, text, len + 1, 0);
}

int server_defer(struct server_conn *c, void (*on_close)(void *ctx, struct server_conn *c),
		 void *ctx)
{
	if (c->closing || c->streaming || c->deferred)
		return -EINVAL;
	c->deferred = 1;
	c->on_close = on_close;
	c->on_close_ctx = ctx;
	return 0;
}

static int process(struct server_conn *c);

void server_answer(struct server_conn *c, int status, const json_t *body)
{
	if (!c->deferred || c->closing)
		return;
	c->deferred = 0;
	c->on_close = NULL;
	c->on_close_ctx = NULL;
	send_response(c, status, (json_t *)body, c->deferred_close);
	/* Requests that arrived meanwhile (pipelined) are answered now, in order. */
	if (!c->deferred_close)
		process(c);
}

static void send_error(struct server_conn *c, int status, const char *code, const char *message)
{
	json_t *body = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);

	send_response(c, status, body, 1);
	json_decref(body);
}

void server_set_reject(struct server *srv, server_reject_fn fn)
{
	srv->reject = fn;
}

/*
 * Refuse a request the handler never sees, once per connection: the owner hears of it (the
 * audit), the client gets the error and the connection closes once it is sent. m holds what
 * the parser understood (method and target may be empty).
 */
static void refuse(struct server_conn *c, const struct http_msg *m, int status, const char *code,
		   const char *message)
{
	if (c->refused)
		return;
	c->refused = 1;
	if (c->srv->reject)
		c->srv->reject(c->srv->ctx, c, m, status, code, message);
	send_error(c, status, code, message);
}

/* Answer every complete request in the buffer, in order. Returns how many were answered. */
static int process(struct server_conn *c)
{
	int answered = 0;

	while (c->len && !c->closing && !c->streaming && !c->refused && !c->deferred) {
		struct http_msg m;
		int err = http_parse_request(c->buf, c->len, &m);
		int status = 500;
		json_t *body = NULL;

		if (err == -EAGAIN) {
			if (c->len > CONN_MAX_BUFFER)
				refuse(c, &m, 413, "too_large", "request too large");
			return answered;
		}
		if (err == -EMSGSIZE) {
			refuse(c, &m, 413, "too_large", "request head or body exceeds the limit");
			return answered;
		}
		if (err == -ENOTSUP) {
			refuse(c, &m, 411, "length_required",
			       "request bodies need a Content-Length header");
			return answered;
		}
		if (err) {
			refuse(c, &m, 400, "bad_request", "malformed HTTP request");
			return answered;
		}
		c->srv->fn(c->srv->ctx, c, &m, &status, &body);
		if (c->deferred)
			c->deferred_close = m.close;
		if (status)
			send_response(c, status, body, m.close);
		json_decref(body);
		memmove(c->buf, c->buf + m.total_len, c->len - m.total_len);
		c->len -= m.total_len;
		answered++;
		if (m.close)
			return answered;
	}
	return answered;
}

/*
 * Write a short error answer now, without queueing: a client that neither sends nor reads
 * must not keep its connection alive through a pending write. Returns 0 when it all went.
 */
static int try_answer(struct server_conn *c, const char *status, const char *code,
		      const char *message)
{
	char body[256], head[160];
	uv_buf_t b[2];
	int n, m;

	n = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", code,
		     message);
	m = snprintf(head, sizeof(head),
		     "HTTP/1.1 %s\r\n"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %d\r\n"
		     "Connection: close\r\n"
		     "\r\n",
		     status, n);
	b[0] = uv_buf_init(head, m);
	b[1] = uv_buf_init(body, n);
	return uv_try_write((uv_stream_t *)&c->pipe, b, 2) == m + n ? 0 : -EAGAIN;
}

static void on_request_timeout(uv_timer_t *t)
{
	struct server_conn *c = t->data;

	if (c->closing)
		return;
	if (!c->rejected && !c->refused) {
		struct http_msg m;

		log_debug("request from pid %d not complete within %u ms (%zu bytes); closing",
			  (int)c->peer.pid, c->srv->request_timeout_ms, c->len);
		/* For the record: the method and target, if the head got that far. */
		memset(&m, 0, sizeof(m));
		if (c->len)
			(void)http_parse_request(c->buf, c->len, &m);
		c->refused = 1;
		if (c->srv->reject)
			c->srv->reject(c->srv->ctx, c, &m, 408, "request_timeout",
				       "request not complete in time");
		try_answer(c, "408 Request Timeout", "request_timeout",
			   "request not complete in time");
	}
	/* A rejected connection had its 503 at accept, and this long to read it. */
	conn_close(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct server_conn *c = h->data;

	(void)suggested;
	*buf = uv_buf_init(c->srv->rbuf, sizeof(c->srv->rbuf));
}

/* Append n bytes to the connection's buffer, growing it by doubling. 0 or -errno. */
static int conn_append(struct server_conn *c, const char *data, size_t n)
{
	size_t need = c->len + n, cap = c->cap ? c->cap : CONN_MIN_BUFFER;
	char *p;

	if (need > CONN_MAX_BUFFER + CONN_READ_SIZE)
		return -EMSGSIZE;
	while (cap < need)
		cap *= 2;
	if (cap != c->cap) {
		p = realloc(c->buf, cap);
		if (!p)
			return -ENOMEM;
		c->buf = p;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, data, n);
	c->len = need;
	return 0;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct server_conn *c = s->data;
	int err, answered;

	if (n < 0) {
		/* EOF or error: a half-sent request is dropped with the connection. */
		conn_close(c);
		return;
	}
	/*
	 * A stream only sends, a rejected connection is only being closed, and a refused
	 * request's remaining bytes are not parsed as further requests: discard.
	 */
	if (n == 0 || c->streaming || c->rejected || c->refused || c->closing)
		return;
	err = conn_append(c, buf->base, n);
	if (err) {
		struct http_msg m;

		/* One answer, then the connection closes: what else arrives is not read. */
		uv_read_stop(s);
		/* For the record: the method and target, if the head got that far. */
		memset(&m, 0, sizeof(m));
		(void)http_parse_request(c->buf, c->len, &m);
		refuse(c, &m, 413, "too_large", "request too large");
		return;
	}
	answered = process(c);
	if (c->closing)
		return;
	if (c->len == 0 || c->streaming) {
		uv_timer_stop(&c->timer);
		free(c->buf);
		c->buf = NULL;
		c->len = c->cap = 0;
	} else if (answered || !uv_is_active((uv_handle_t *)&c->timer)) {
		/* A new request began (possibly pipelined behind an answered one). */
		uv_timer_start(&c->timer, on_request_timeout, c->srv->request_timeout_ms, 0);
	}
}

/*
 * Answer 503 to a connection over the limit. The answer is written at once; the connection
 * then lingers, reading and discarding, until the client closes it or the request timeout
 * ends: closing at once could make the client's own write of its request fail (EPIPE) before
 * it reads the answer.
 */
static void reject(struct server_conn *c)
{
	struct server *srv = c->srv;
	char message[96];

	snprintf(message, sizeof(message), "the agent serves at most %u connections at once",
		 srv->max_conns);
	log_debug("connection from pid %d refused: %u connections open", (int)c->peer.pid,
		  srv->nconns);
	/* A fresh socket's buffer takes this small answer whole. */
	if (try_answer(c, "503 Service Unavailable", "too_many_connections", message) ||
	    srv->nrejected > srv->max_conns) {
		conn_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
	uv_timer_start(&c->timer, on_request_timeout, srv->request_timeout_ms, 0);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct server *srv = listener->data;
	struct server_conn *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;

	if (status < 0) {
		log_warn("accept: %s", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = srv;
	uv_pipe_init(srv->loop, &c->pipe, 0);
	c->pipe.data = c;
	uv_timer_init(srv->loop, &c->timer);
	c->timer.data = c;
	c->open_handles = 2;
	/*
	 * Over the limit: still accepted, so the client learns why (503) instead of waiting in
	 * the backlog; counted apart, and closed at once when those are as many as the limit.
	 */
	if (srv->nconns >= srv->max_conns) {
		c->rejected = 1;
		srv->nrejected++;
	} else {
		srv->nconns++;
		if (srv->nconns > srv->peak)
			srv->peak = srv->nconns;
	}
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	if (uv_accept(listener, (uv_stream_t *)&c->pipe)) {
		conn_close(c);
		return;
	}
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		log_warn("cannot read the peer's credentials; closing the connection");
		conn_close(c);
		return;
	}
	c->peer.pid = cred.pid;
	c->peer.uid = cred.uid;
	c->peer.gid = cred.gid;
	if (c->rejected) {
		reject(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
}

/* Decide what to do with an existing file at the socket path. */
static int clear_stale_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, err;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s exists and is not a socket; refusing to replace it", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	err = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (!err) {
		log_err("another agent is listening on %s", path);
		return -EADDRINUSE;
	}
	log_info("removing stale socket %s", path);
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

static int ensure_dir(const char *path)
{
	char dir[sizeof(((struct server *)0)->path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static void listener_closed(uv_handle_t *h)
{
	free(h->data);
}

int server_open(struct server **out, uv_loop_t *loop, const char *path, server_handler_fn fn,
		void *ctx)
{
	struct server *srv;
	struct group *grp;
	struct stat st;
	mode_t old_mask;
	int err;

	if (strlen(path) >= sizeof(srv->path))
		return -ENAMETOOLONG;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->fn = fn;
	srv->ctx = ctx;
	srv->request_timeout_ms = SERVER_DEFAULT_REQUEST_TIMEOUT_MS;
	srv->max_conns = SERVER_DEFAULT_MAX_CONNS;
	strcpy(srv->path, path);

	err = ensure_dir(path);
	if (err) {
		log_err("cannot create the directory of %s: %s", path, strerror(-err));
		goto err_free;
	}
	err = clear_stale_socket(path);
	if (err)
		goto err_free;
	uv_pipe_init(loop, &srv->listener, 0);
	srv->listener.data = srv;
	/* Create the socket with its final mode: no window where others could connect. */
	old_mask = umask(0117);
	err = uv_pipe_bind(&srv->listener, path);
	umask(old_mask);
	if (err) {
		log_err("cannot bind %s: %s", path, uv_strerror(err));
		goto err_close;
	}
	if (lstat(path, &st)) {
		err = -errno;
		goto err_close;
	}
	srv->ino = st.st_ino;
	srv->dev = st.st_dev;
	grp = getgrnam("faultline");
	if (grp && chown(path, 0, grp->gr_gid))
		log_warn("cannot give %s to group faultline: %s", path, strerror(errno));
	err = uv_listen((uv_stream_t *)&srv->listener, 128, on_connection);
	if (err) {
		log_err("cannot listen on %s: %s", path, uv_strerror(err));
		unlink(path);
		goto err_close;
	}
	*out = srv;
	return 0;

err_close:
	/* The handle is closed on the loop; the server is freed once libuv is done with it. */
	uv_close((uv_handle_t *)&srv->listener, listener_closed);
	return err;
err_free:
	free(srv);
	return err;
}

void server_set_limits(struct server *srv, uint32_t request_timeout_ms, uint32_t max_conns)
{
	srv->request_timeout_ms = request_timeout_ms;
	srv->max_conns = max_conns;
}

void server_close(struct server *srv)
{
	struct stat st;

	if (!srv || srv->closing)
		return;
	srv->closing = 1;
	while (srv->conns)
		conn_close(srv->conns);
	/* Remove the socket only if it is still the one we created. */
	if (!lstat(srv->path, &st) && st.st_ino == srv->ino && st.st_dev == srv->dev)
		unlink(srv->path);
	uv_close((uv_handle_t *)&srv->listener, listener_closed);
}
