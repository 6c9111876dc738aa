/* The agent's process-wide state, passed to the API handlers. */
#ifndef FL_AGENT_H
#define FL_AGENT_H

#include <time.h>
#include <uv.h>

#include "probe.h"

struct server;

struct agent {
	uv_loop_t *loop;
	const char *socket_path;
	struct server *server;
	struct probe_report probe;
	int probe_err; /* 0, or -errno when the probe could not run at all */
	time_t started;
	uv_signal_t sig_term, sig_int;
	int stopping;
};

/* The API request handler (api.c), a server_handler_fn with the agent as context. */
struct peer;
struct http_msg;
#include <jansson.h>
void api_handle(void *ctx, const struct peer *peer, const struct http_msg *req, int *status,
		json_t **body);

/* The info document shared by GET /v1/info and the start-up log (api.c). */
json_t *api_info(const struct agent *a);

#endif
