/* The agent's process-wide state, passed to the API handlers and the fault types. */
#ifndef FL_AGENT_H
#define FL_AGENT_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "counters.h"
#include "probe.h"

struct metrics_server;
struct server;
struct server_conn;
struct http_msg;
struct journal;
struct audit;
struct events;
struct fault;
struct lease;
struct policy;

#define AGENT_DEFAULT_STATE_DIR "/var/lib/faultline"
#define AGENT_DEFAULT_AUDIT_LOG "/var/log/faultline/audit.log"
#define AGENT_DEFAULT_NICE -10 /* --nice */

struct agent {
	uv_loop_t *loop;
	const char *socket_path;
	const char *state_dir; /* journal lives in STATE_DIR/journal */
	const char *audit_path;
	const char *policy_path;
	struct policy *policy; /* never NULL once started: the file's, or the built-in one */
	uint64_t lease_ttl_ms; /* default TTL of new leases */
	gid_t group;	       /* the faultline group, or (gid_t)-1 when it does not exist */
	struct server *server;
	struct journal *journal;
	struct audit *audit;
	struct events *events;
	struct fault *faults;
	struct lease *leases;
	struct metrics metrics;
	struct metrics_server *metrics_server;
	struct probe_report probe;
	int probe_err; /* 0, or -errno when the probe could not run at all */
	/*
	 * The capabilities the agent holds once start-up is done (its effective set then, bits
	 * 1ULL << CAP_*): what fault_type_available() checks each type's needs against.
	 */
	uint64_t caps_held;
	time_t started;
	uv_signal_t sig_term, sig_int;
	/* SIGHUP reopens the audit log; SIGUSR1 and SIGUSR2 are logged and otherwise ignored. */
	uv_signal_t sig_hup, sig_usr1, sig_usr2;
	int lock_fd; /* STATE_DIR/lock (statelock.h), held for the agent's life; -1 before */
	int stopping;
};

/* The API request handler (api.c), a server_handler_fn with the agent as context. */
void api_handle(void *ctx, struct server_conn *conn, const struct http_msg *req, int *status,
		json_t **body);

/* The server's HTTP-level refusals, audited (api.c); a server_reject_fn. */
void api_reject(void *ctx, struct server_conn *conn, const struct http_msg *req, int status,
		const char *code, const char *message);

/* The info document shared by GET /v1/info and the start-up log (api.c). */
json_t *api_info(const struct agent *a);

#endif
