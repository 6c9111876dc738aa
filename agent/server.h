/* The agent's API listener: HTTP/1.1 with JSON bodies on a Unix socket, on the libuv loop. */
#ifndef FL_SERVER_H
#define FL_SERVER_H

#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <uv.h>

#include "http.h"

struct server;
struct server_conn;

/* Who is on the other end of a connection (SO_PEERCRED), captured at accept time. */
struct peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/*
 * Handle one request. Set *status to an HTTP status and *body to a JSON value the server
 * takes ownership of (NULL for no body), or call server_stream_start() or server_defer()
 * and set *status to 0.
 */
typedef void (*server_handler_fn)(void *ctx, struct server_conn *conn, const struct http_msg *req,
				  int *status, json_t **body);

/*
 * Hear of a request the server refused itself before the handler (malformed, too large, no
 * Content-Length): req holds what was parsed (method and target may be empty), status, code
 * and message are the error answered.
 */
typedef void (*server_reject_fn)(void *ctx, struct server_conn *conn, const struct http_msg *req,
				 int status, const char *code, const char *message);

const struct peer *server_conn_peer(const struct server_conn *conn);

/*
 * Turn the connection into a stream of JSON lines: answers 200 application/x-ndjson without
 * a length (the stream ends when either side closes). on_close runs once when the connection
 * goes away, so the owner can forget it. Returns 0 or -errno.
 */
int server_stream_start(struct server_conn *conn, void (*on_close)(void *ctx, struct server_conn *c),
			void *ctx);

/*
 * Answer the current request later: the handler calls this and sets *status to 0; the
 * connection reads on but answers nothing more until server_answer(). on_close runs once
 * if the connection goes away first, so the owner forgets it. Returns 0 or -errno.
 */
int server_defer(struct server_conn *conn, void (*on_close)(void *ctx, struct server_conn *c),
		 void *ctx);

/* Send the answer of a deferred request (body is not taken over), then serve the next. */
void server_answer(struct server_conn *conn, int status, const json_t *body);

/* Send one JSON value as a line on a stream. Returns 0 or -errno (the stream is then closed). */
int server_stream_send(struct server_conn *conn, const json_t *value);

/*
 * Listen on path: creates its directory (0755) when missing, replaces a stale socket but
 * refuses to start when another agent answers there or the path is not a socket.
 * The socket gets mode 0660. Returns 0 or -errno.
 */
int server_open(struct server **out, uv_loop_t *loop, const char *path, server_handler_fn fn,
		void *ctx);

/* Call fn (with the handler's ctx) for each HTTP-level refusal. */
void server_set_reject(struct server *srv, server_reject_fn fn);

/* faultlined --request-timeout and --max-connections. */
#define SERVER_DEFAULT_REQUEST_TIMEOUT_MS 10000
#define SERVER_DEFAULT_MAX_CONNS 256

/*
 * A request (head and body) must be complete within request_timeout_ms of its first byte,
 * or the connection is answered 408 and closed (an idle connection between requests is
 * not timed: faultctl keeps its connections for a whole run). Beyond max_conns connections
 * at once, a new one is answered 503 and closed.
 */
void server_set_limits(struct server *srv, uint32_t request_timeout_ms, uint32_t max_conns);

/* Stop listening, close every connection and remove the socket file (if still ours). */
void server_close(struct server *srv);

#endif
