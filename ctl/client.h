/* faultctl's connection to one agent: HTTP/1.1 requests with JSON bodies. */
#ifndef FL_CLIENT_H
#define FL_CLIENT_H

#include <jansson.h>

#include "addr.h"

#ifndef CLIENT_TIMEOUT_MS
#define CLIENT_TIMEOUT_MS 10000
#endif

struct client;

/* Connect to the agent. Returns 0 or -errno; err explains a failure for the user. */
int client_connect(const struct agent_addr *addr, struct client **out, char *err, size_t err_size);

/*
 * Send one request (body may be NULL) and wait for the answer. On 0, *status is the HTTP
 * status and *resp the parsed JSON body (NULL if empty), which the caller must json_decref().
 */
int client_call(struct client *c, const char *method, const char *target, const json_t *body,
		int *status, json_t **resp, char *err, size_t err_size);

void client_close(struct client *c);

/* "message" of an {"error": {...}} body, or a fallback naming the status. */
const char *client_error_message(const json_t *resp, int status, char *buf, size_t size);

#endif
