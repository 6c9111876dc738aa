/* Event history ring and subscriber list. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "log.h"
#include "timefmt.h"

struct subscriber {
	struct server_conn *conn;
	struct subscriber *next;
};

struct events {
	json_t *ring[EVENTS_HISTORY];
	uint64_t seq; /* seq of the newest event; event seq s lives at ring[s % EVENTS_HISTORY] */
	struct subscriber *subs;
};

struct events *events_new(void)
{
	return calloc(1, sizeof(struct events));
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	for (int i = 0; i < EVENTS_HISTORY; i++)
		json_decref(ev->ring[i]);
	while (ev->subs) {
		struct subscriber *s = ev->subs;

		ev->subs = s->next;
		free(s);
	}
	free(ev);
}

void events_emit(struct events *ev, const char *type, json_t *fields)
{
	char when[40], *text;
	json_t *e;
	struct subscriber *s, *next;

	timefmt_now_iso(when, sizeof(when));
	e = json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)(ev->seq + 1), "time", when, "type",
		      type);
	if (!e) {
		json_decref(fields);
		return;
	}
	if (fields) {
		json_object_update_missing(e, fields);
		json_decref(fields);
	}
	ev->seq++;
	json_decref(ev->ring[ev->seq % EVENTS_HISTORY]);
	ev->ring[ev->seq % EVENTS_HISTORY] = e;
	text = json_dumps(e, JSON_COMPACT);
	log_info("event %s", text ? text : type);
	free(text);
	/* server_stream_send may close a slow subscriber, which unsubscribes it: iterate safely. */
	for (s = ev->subs; s; s = next) {
		next = s->next;
		server_stream_send(s->conn, e);
	}
}

json_t *events_history(const struct events *ev, uint64_t since)
{
	json_t *arr = json_array();
	uint64_t first = ev->seq > EVENTS_HISTORY ? ev->seq - EVENTS_HISTORY + 1 : 1;

	if (since + 1 > first)
		first = since + 1;
	for (uint64_t s = first; s <= ev->seq; s++)
		json_array_append(arr, ev->ring[s % EVENTS_HISTORY]);
	return arr;
}

static void unsubscribe(void *ctx, struct server_conn *conn)
{
	struct events *ev = ctx;

	for (struct subscriber **p = &ev->subs; *p; p = &(*p)->next) {
		if ((*p)->conn == conn) {
			struct subscriber *s = *p;

			*p = s->next;
			free(s);
			return;
		}
	}
}

int events_subscribe(struct events *ev, struct server_conn *conn, bool replay, uint64_t since)
{
	struct subscriber *s = calloc(1, sizeof(*s));
	json_t *hist, *e;
	size_t i;
	int err;

	if (!s)
		return -ENOMEM;
	err = server_stream_start(conn, unsubscribe, ev);
	if (err) {
		free(s);
		return err;
	}
	s->conn = conn;
	s->next = ev->subs;
	ev->subs = s;
	if (replay) {
		hist = events_history(ev, since);
		json_array_foreach(hist, i, e)
		{
			if (server_stream_send(conn, e))
				break;
		}
		json_decref(hist);
	}
	return 0;
}
