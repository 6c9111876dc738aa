/*
 * Audit trail of the API, for the game-day record and for security review: every change and
 * every refusal on a line of its own, read-only requests counted per client and interval.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include <jansson.h>

#include "audit.h"
#include "log.h"
#include "timefmt.h"

#define AUDIT_MAX_BODY 4096
/*
 * Bounds of one interval's read summary: clients beyond AUDIT_SUMMARY_CLIENTS flush the
 * interval early (nothing is dropped), targets beyond AUDIT_SUMMARY_TARGETS are counted
 * under "targets_other".
 */
#define AUDIT_SUMMARY_CLIENTS 256
#define AUDIT_SUMMARY_TARGETS 16

struct audit_target {
	char path[96];
	uint64_t count;
};

/* The read-only requests of one client (peer uid, gid, pid) in the current interval. */
struct audit_client {
	struct peer peer;
	uint64_t count;
	uint64_t other; /* requests to targets beyond AUDIT_SUMMARY_TARGETS */
	size_t ntargets;
	struct audit_target targets[AUDIT_SUMMARY_TARGETS];
};

struct audit {
	int fd;
	char *path; /* for audit_reopen() */
	uint64_t interval_ms; /* 0: every request on a line of its own */
	uint64_t window;      /* the interval counted: wall-clock ms / interval_ms */
	uint64_t since_ms;    /* when the current counts began */
	size_t nclients, cap;
	struct audit_client *clients; /* grows to AUDIT_SUMMARY_CLIENTS entries at most */
	uv_timer_t *timer;
};

int audit_open(const char *path, struct audit **out)
{
	char dir[256];
	char *slash;
	struct audit *au;
	int err;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) && errno != EEXIST)
			return -errno;
	}
	au = calloc(1, sizeof(*au));
	if (!au)
		return -ENOMEM;
	au->path = strdup(path);
	if (!au->path) {
		free(au);
		return -ENOMEM;
	}
	au->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (au->fd < 0) {
		err = -errno;
		free(au->path);
		free(au);
		return err;
	}
	*out = au;
	return 0;
}

/* One write(2) per line, so lines of concurrent writers never interleave. Consumes line. */
static void write_line(struct audit *au, json_t *line)
{
	char *text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII);
	size_t len;

	json_decref(line);
	if (!text)
		return;
	len = strlen(text);
	text[len] = '\n';
	if (write(au->fd, text, len + 1) != (ssize_t)(len + 1))
		log_warn("audit: write failed: %s", strerror(errno));
	free(text);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Write one summary line per client counted since au->since_ms, up to until_ms, and start
 * counting afresh.
 */
static void flush_summary(struct audit *au, uint64_t until_ms)
{
	char when[TIMEFMT_ISO_SIZE], since[TIMEFMT_ISO_SIZE], until[TIMEFMT_ISO_SIZE];

	if (!au->nclients)
		return;
	timefmt_now_iso(when, sizeof(when));
	timefmt_ms_iso(au->since_ms, since, sizeof(since));
	timefmt_ms_iso(until_ms, until, sizeof(until));
	for (size_t i = 0; i < au->nclients; i++) {
		const struct audit_client *c = &au->clients[i];
		json_t *targets = json_object();
		json_t *line;

		for (size_t t = 0; targets && t < c->ntargets; t++)
			json_object_set_new(targets, c->targets[t].path,
					    json_integer((json_int_t)c->targets[t].count));
		line = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:b, s:I, s:o}", "time",
				 when, "kind", "reads", "since", since, "until", until, "uid",
				 (json_int_t)c->peer.uid, "gid", (json_int_t)c->peer.gid, "pid",
				 (json_int_t)c->peer.pid, "method", "GET", "allowed", 1, "count",
				 (json_int_t)c->count, "targets",
				 targets ? targets : json_object());
		if (!line)
			continue;
		if (c->other)
			json_object_set_new(line, "targets_other",
					    json_integer((json_int_t)c->other));
		write_line(au, line);
	}
	au->nclients = 0;
	au->since_ms = until_ms;
}

/* Flush the counts of an interval that has ended and start counting the current one. */
static void roll_window(struct audit *au, uint64_t now)
{
	uint64_t window = now / au->interval_ms;

	if (window == au->window)
		return;
	flush_summary(au, (au->window + 1) * au->interval_ms);
	au->window = window;
	au->since_ms = window * au->interval_ms;
}

static void on_timer(uv_timer_t *t);

/*
 * Fire at the next interval boundary of the wall clock. The loop's clock is monotonic, so
 * the timer may fire a little early; on_timer() then finds the interval still open and
 * waits for the rest.
 */
static void arm_timer(struct audit *au)
{
	uint64_t now = now_ms();
	uint64_t next = (now / au->interval_ms + 1) * au->interval_ms;

	uv_timer_start(au->timer, on_timer, next - now, 0);
}

static void on_timer(uv_timer_t *t)
{
	struct audit *au = t->data;

	roll_window(au, now_ms());
	arm_timer(au);
}

int audit_summary_start(struct audit *au, uv_loop_t *loop, uint64_t interval_ms)
{
	if (!au || !interval_ms)
		return 0;
	au->cap = 8;
	au->clients = calloc(au->cap, sizeof(*au->clients));
	au->timer = calloc(1, sizeof(*au->timer));
	if (!au->clients || !au->timer) {
		free(au->clients);
		free(au->timer);
		au->clients = NULL;
		au->timer = NULL;
		return -ENOMEM;
	}
	au->interval_ms = interval_ms;
	au->since_ms = now_ms();
	au->window = au->since_ms / interval_ms;
	uv_timer_init(loop, au->timer);
	au->timer->data = au;
	/* The summary must not keep a stopping agent's loop alive. */
	uv_unref((uv_handle_t *)au->timer);
	arm_timer(au);
	return 0;
}

static void timer_closed(uv_handle_t *h)
{
	free(h);
}

void audit_summary_stop(struct audit *au)
{
	if (!au || !au->interval_ms)
		return;
	flush_summary(au, now_ms());
	au->interval_ms = 0;
	uv_close((uv_handle_t *)au->timer, timer_closed);
	au->timer = NULL;
}

void audit_close(struct audit *au)
{
	if (!au)
		return;
	if (au->interval_ms)
		flush_summary(au, now_ms());
	close(au->fd);
	free(au->clients);
	free(au->path);
	free(au);
}

int audit_reopen(struct audit *au)
{
	int fd, err;

	if (!au)
		return 0;
	fd = open(au->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/*
	 * dup3 swaps the file under the same descriptor in one step: every record goes either
	 * to the old file (renamed by logrotate, still open until now) or to the new one.
	 */
	if (dup3(fd, au->fd, O_CLOEXEC) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	close(fd);
	return 0;
}

void audit_record(struct audit *au, const struct peer *peer, const struct http_msg *req, int status,
		  const char *reason, const char *message)
{
	char when[TIMEFMT_ISO_SIZE];
	json_t *line;

	if (!au)
		return;
	timefmt_now_iso(when, sizeof(when));
	line = json_pack("{s:s, s:s, s:I, s:I, s:I, s:b, s:i}", "time", when, "kind", "request",
			 "uid", (json_int_t)peer->uid, "gid", (json_int_t)peer->gid, "pid",
			 (json_int_t)peer->pid, "allowed", reason == NULL, "status", status);
	if (!line)
		return;
	/* A request refused before its request line was understood has neither. */
	if (req->method[0])
		json_object_set_new(line, "method", json_string(req->method));
	if (req->target[0])
		json_object_set_new(line, "target", json_string(req->target));
	if (reason)
		json_object_set_new(line, "reason", json_string(reason));
	if (message)
		json_object_set_new(line, "message", json_string(message));
	if (req->body_len) {
		size_t n = req->body_len < AUDIT_MAX_BODY ? req->body_len : AUDIT_MAX_BODY;
		char body[AUDIT_MAX_BODY];

		/*
		 * The body as the client sent it (truncated), so a refused request is on record
		 * too; bytes outside printable ASCII become '?' so any input yields a valid line.
		 */
		for (size_t i = 0; i < n; i++)
			body[i] =
				(req->body[i] >= 0x20 && req->body[i] < 0x7f) ? req->body[i] : '?';
		json_object_set_new(line, "body", json_stringn(body, n));
		if (n < req->body_len)
			json_object_set_new(line, "body_truncated", json_true());
	}
	write_line(au, line);
}

void audit_record_read(struct audit *au, const struct peer *peer, const struct http_msg *req,
		       const char *path, int status)
{
	struct audit_client *c = NULL;
	size_t t;

	if (!au)
		return;
	if (!au->interval_ms) {
		audit_record(au, peer, req, status, NULL, NULL);
		return;
	}
	roll_window(au, now_ms());
	for (size_t i = 0; i < au->nclients; i++) {
		const struct peer *p = &au->clients[i].peer;

		if (p->uid == peer->uid && p->gid == peer->gid && p->pid == peer->pid) {
			c = &au->clients[i];
			break;
		}
	}
	if (!c && au->nclients == au->cap && au->cap < AUDIT_SUMMARY_CLIENTS) {
		size_t cap =
			au->cap * 2 < AUDIT_SUMMARY_CLIENTS ? au->cap * 2 : AUDIT_SUMMARY_CLIENTS;
		struct audit_client *p = realloc(au->clients, cap * sizeof(*p));

		if (p) {
			au->clients = p;
			au->cap = cap;
		}
	}
	if (!c) {
		/*
		 * A full table (or no memory to grow it) is written out early rather than
		 * losing a client's count.
		 */
		if (au->nclients == au->cap)
			flush_summary(au, now_ms());
		c = &au->clients[au->nclients++];
		memset(c, 0, sizeof(*c));
		c->peer = *peer;
	}
	c->count++;
	for (t = 0; t < c->ntargets; t++)
		if (!strcmp(c->targets[t].path, path))
			break;
	if (t == c->ntargets &&
	    (t == AUDIT_SUMMARY_TARGETS || strlen(path) >= sizeof(c->targets[t].path))) {
		c->other++;
		return;
	}
	if (t == c->ntargets) {
		snprintf(c->targets[t].path, sizeof(c->targets[t].path), "%s", path);
		c->ntargets++;
	}
	c->targets[t].count++;
}
