/*
 * Audit log (docs/api.md, "Audit log"): one JSON line per change and per refusal, with the
 * peer's identity; read-only requests summarised per client and interval.
 */
#ifndef FL_AUDIT_H
#define FL_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "server.h"

struct audit;

/* Open (append, 0600, creating its directory) the audit log at path. 0 or -errno. */
int audit_open(const char *path, struct audit **out);
/* Flush the read summary (if any is still counting) and close. NULL is fine. */
void audit_close(struct audit *au);

/*
 * Open the audit log's path again (creating it) and write there from now on: after logrotate
 * moved the file away (SIGHUP). On failure the old file stays in use. 0 or -errno.
 */
int audit_reopen(struct audit *au);

/* Default interval of the read summaries (faultlined --audit-summary-interval). */
#define AUDIT_SUMMARY_INTERVAL_MS 60000

/*
 * Summarise read-only requests per interval_ms of the wall clock (0: no summaries, every
 * request on a line of its own): a timer on loop writes each interval's lines at its end.
 * Returns 0 or -errno.
 */
int audit_summary_start(struct audit *au, uv_loop_t *loop, uint64_t interval_ms);

/* Write the summary of the interval so far and release the timer (for a stopping loop). */
void audit_summary_stop(struct audit *au);

/*
 * Record one request on a line of its own: who (uid, gid, pid), what (method and target when
 * the request line was understood, body up to 4 KiB), the status answered and, for a refusal,
 * reason (one of the AUDIT_REASON_* words, NULL when allowed) and message (the answer's error
 * message, or NULL). One write(2) per line so lines never interleave.
 */
void audit_record(struct audit *au, const struct peer *peer, const struct http_msg *req, int status,
		  const char *reason, const char *message);

/*
 * Count one allowed read-only request to path (its target without the query) in the
 * client's summary of the current interval; without summaries it is recorded like any other.
 */
void audit_record_read(struct audit *au, const struct peer *peer, const struct http_msg *req,
		       const char *path, int status);

/* The reasons of refusals (the "reason" field). */
#define AUDIT_REASON_AUTH "auth"	       /* neither root nor in the faultline group */
#define AUDIT_REASON_POLICY "policy"	       /* the agent's policy forbids the fault */
#define AUDIT_REASON_INVALID "invalid"	       /* a well-formed request the agent cannot accept */
#define AUDIT_REASON_NOT_FOUND "not_found"     /* no such endpoint, lease or fault */
#define AUDIT_REASON_CONFLICT "conflict"       /* clashes with an active fault */
#define AUDIT_REASON_UNAVAILABLE "unavailable" /* the mechanism is missing on this host */
#define AUDIT_REASON_TOO_LARGE "too_large"     /* head or body over the limits */
#define AUDIT_REASON_MALFORMED "malformed"     /* not a request the HTTP parser accepts */
#define AUDIT_REASON_TIMEOUT "timeout"	       /* the request was not complete in time (408) */

#endif
