/* Agent events: a numbered history and live subscribers (GET /v1/events). */
#ifndef FL_EVENTS_H
#define FL_EVENTS_H

#include <jansson.h>
#include <stdint.h>

#include "server.h"

#ifndef EVENTS_HISTORY
#define EVENTS_HISTORY 1024
#endif

struct events;

struct events *events_new(void);
void events_free(struct events *ev);

/*
 * Emit an event of the given type; fields (stolen, may be NULL) are merged into
 * {"seq": N, "time": "...", "type": type}. Logged at info level and sent to every subscriber.
 */
void events_emit(struct events *ev, const char *type, json_t *fields);

/* Subscribe a connection: replays history after seq `since` (0 = none), then streams live. */
int events_subscribe(struct events *ev, struct server_conn *conn, uint64_t since);

/* The retained history after seq `since`, as a JSON array (new reference). */
json_t *events_history(const struct events *ev, uint64_t since);

#endif
