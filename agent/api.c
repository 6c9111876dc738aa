/*
 * API routes. Each route is one row: method, path, handler. Handlers return an HTTP status
 * and a JSON body; errors use {"error": {"code": "...", "message": "..."}} (docs/api.md).
 */
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "caps.h"
#include "log.h"
#include "server.h"
#include "version.h"

struct api_route {
	const char *method;
	const char *path;
	int (*fn)(struct agent *a, const struct peer *peer, const struct http_msg *req,
		  json_t **body);
};

static json_t *api_error(const char *code, const char *message)
{
	return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
}

static json_t *mechanisms_json(const struct agent *a)
{
	json_t *arr = json_array();

	for (int i = 0; i < PROBE__COUNT; i++) {
		const struct probe_result *r = &a->probe.r[i];
		json_t *m = json_pack("{s:s, s:b, s:s}", "name", probe_name(i), "available",
				      r->available, "used_for", probe_purpose(i));

		if (a->probe_err)
			json_object_set_new(m, "reason",
					    json_sprintf("the probe could not run: %s",
							 strerror(-a->probe_err)));
		else if (!r->available)
			json_object_set_new(m, "reason", json_string(r->reason));
		json_array_append_new(arr, m);
	}
	return arr;
}

json_t *api_info(const struct agent *a)
{
	struct utsname u;
	json_t *caps = caps_to_json();

	if (uname(&u))
		memset(&u, 0, sizeof(u));
	if (!caps)
		caps = json_null();
	return json_pack("{s:s, s:s, s:i, s:s, s:{s:s, s:s, s:s, s:s}, s:o, s:o, s:I}", "agent",
			 "faultlined", "version", FL_VERSION, "pid", (int)getpid(), "socket",
			 a->socket_path, "kernel", "sysname", u.sysname, "release", u.release,
			 "version", u.version, "machine", u.machine, "capabilities", caps,
			 "mechanisms", mechanisms_json(a), "uptime_s",
			 (json_int_t)(time(NULL) - a->started));
}

static int route_info(struct agent *a, const struct peer *peer, const struct http_msg *req,
		      json_t **body)
{
	*body = api_info(a);
	return *body ? 200 : 500;
}

static const struct api_route routes[] = {
	{ "GET", "/v1/info", route_info },
};

void api_handle(void *ctx, const struct peer *peer, const struct http_msg *req, int *status,
		json_t **body)
{
	struct agent *a = ctx;
	char path[sizeof(req->target)];
	int path_known = 0;

	/* The query string is not part of the route. */
	snprintf(path, sizeof(path), "%s", req->target);
	path[strcspn(path, "?")] = '\0';
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(path, routes[i].path))
			continue;
		path_known = 1;
		if (strcmp(req->method, routes[i].method))
			continue;
		*status = routes[i].fn(a, peer, req, body);
		log_debug("api: uid %u pid %d: %s %s -> %d", (unsigned)peer->uid, (int)peer->pid,
			  req->method, req->target, *status);
		return;
	}
	*status = path_known ? 405 : 404;
	*body = api_error(path_known ? "method_not_allowed" : "not_found",
			  path_known ? "this path does not accept that method" : "no such endpoint");
	log_debug("api: uid %u pid %d: %s %s -> %d", (unsigned)peer->uid, (int)peer->pid,
		  req->method, req->target, *status);
}
