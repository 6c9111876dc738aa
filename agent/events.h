/* Agent events: a numbered history and live subscribers (GET /v1/events). */
#ifndef FL_EVENTS_H
#define FL_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
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

/*
 * Subscribe a connection: with replay, first the retained history after seq `since`
 * (since 0: all of it), then live events.
 */
int events_subscribe(struct events *ev, struct server_conn *conn, bool replay, uint64_t since);

/* The retained history after seq `since`, as a JSON array (new reference). */
json_t *events_history(const struct events *ev, uint64_t since);

#endif
