/*
 * faultctl's connection to one agent: HTTP/1.1 requests with JSON bodies, over the agent's
 * Unix socket (unix://) or through the system ssh client and `faultctl dial-stdio` on the
 * remote host (ssh://, docs/transport.md). One struct client is used by one thread at a time,
 * either blocking (client_call, client_stream_open) or from an event loop that waits on its
 * socket itself (client_start, client_finish, client_stream_read: fleet_loop.c).
 */
#ifndef FL_CLIENT_H
#define FL_CLIENT_H

#include <jansson.h>

#include "addr.h"

#ifndef CLIENT_TIMEOUT_MS
#define CLIENT_TIMEOUT_MS 10000
#endif

/* The ssh program to run for ssh:// (a path or a name on $PATH, not a command line). */
#define CLIENT_SSH_ENV "FAULTLINE_SSH"
/*
 * The faultctl command to run on the remote host for ssh://: words separated by blanks, each
 * passed as one argument (default: "faultctl" on the remote $PATH).
 */
#define CLIENT_REMOTE_FAULTCTL_ENV "FAULTLINE_REMOTE_FAULTCTL"

struct client;

/*
 * Connect to the agent. Returns 0 or -errno; err explains a failure for the user. For ssh://
 * this starts ssh: failures of the ssh session itself (authentication, a missing remote
 * faultctl or agent socket) surface in the first client_call, with ssh's own stderr.
 */
int client_connect(const struct agent_addr *addr, struct client **out, char *err, size_t err_size);

/*
 * Send one request (body may be NULL) and wait for the answer, at most CLIENT_TIMEOUT_MS. On
 * 0, *status is the HTTP status and *resp the parsed JSON body (NULL if empty), which the
 * caller must json_decref().
 */
int client_call(struct client *c, const char *method, const char *target, const json_t *body,
		int *status, json_t **resp, char *err, size_t err_size);

/*
 * Turn the connection into a stream of JSON lines (GET /v1/events): send GET target and
 * wait, at most CLIENT_TIMEOUT_MS, for the 200 head, after which the agent sends every new
 * event on it. Returns 0, -EREMOTE for another status, or -errno; err explains.
 */
int client_stream_open(struct client *c, const char *target, char *err, size_t err_size);

/*
 * Non-blocking use from an event loop. client_fd() is the socket to wait on (both
 * transports). client_start() queues a request and sends what the socket takes without
 * waiting: 0 when all of it went, -EAGAIN when the rest waits for the socket to be writable
 * (then client_flush(), which returns the same), or -errno with err set. client_finish()
 * reads what the socket has, without waiting: 0 with *status and *resp as client_call(),
 * -EAGAIN while the answer is incomplete, or -errno with err set (-EPIPE: closed early;
 * -EBADMSG: malformed or not JSON). The caller bounds the wait itself.
 */
int client_fd(const struct client *c);
int client_start(struct client *c, const char *method, const char *target, const json_t *body,
		 char *err, size_t err_size);
int client_flush(struct client *c, char *err, size_t err_size);
int client_finish(struct client *c, int *status, json_t **resp, char *err, size_t err_size);

/*
 * A stream (after client_stream_open()) from an event loop: client_stream_read() reads what
 * the socket has without waiting (0, -EPIPE once the agent closed it, or -errno), and
 * client_stream_take() returns the next whole line read so far: 0 with *line (a new
 * reference; NULL for a line that is not JSON) or -EAGAIN when there is none.
 */
int client_stream_read(struct client *c);
int client_stream_take(struct client *c, json_t **line);

/*
 * For ssh://, append to a failure message what ssh said and its exit status if it has
 * ended, without waiting for it (nothing for unix://).
 */
void client_explain(struct client *c, char *err, size_t err_size);

/* Close the connection; for ssh:// also end the ssh process (bounded wait) and reap it. */
void client_close(struct client *c);

/* "message" of an {"error": {...}} body, or a fallback naming the status. */
const char *client_error_message(const json_t *resp, int status, char *buf, size_t size);

/*
 * A connected stream socket to a local agent socket, close-on-exec, or -errno with a message
 * in err (with a hint for the common causes). Used by client_connect and faultctl dial-stdio.
 */
int client_unix_socket(const char *path, char *err, size_t err_size);

#endif
