/* Audit log: one JSON line per API request, accepted or refused, with the peer's identity. */
#ifndef FL_AUDIT_H
#define FL_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

struct audit;

/* Open (append, 0600, creating its directory) the audit log at path. 0 or -errno. */
int audit_open(const char *path, struct audit **out);
void audit_close(struct audit *au);

/*
 * Open the audit log's path again (creating it) and write there from now on: after logrotate
 * moved the file away (SIGHUP). On failure the old file stays in use. 0 or -errno.
 */
int audit_reopen(struct audit *au);

/*
 * Record one request: who (uid, gid, pid), what (method, target, body up to 4 KiB), the
 * decision and the status answered. One write(2) per line so lines never interleave.
 */
void audit_record(struct audit *au, const struct peer *peer, const struct http_msg *req,
		  bool allowed, int status, const char *why);

#endif
