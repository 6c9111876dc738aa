/*
 * The fleet loop (fleet.h): one thread drives every agent's lease renewals, the revert of
 * the whole fleet and the agents' event streams, on non-blocking sockets in one epoll set,
 * whatever the count of agents. A thousand agents used to cost three thousand threads (a
 * renew, a revert and a stream thread each) that the agents' own CPUs had to schedule; the
 * loop costs one, and an abort sends every revert from it back to back before it reads any
 * answer.
 *
 * Commands come from other threads as flags set under the fleet lock and a write to wake_fd;
 * what the rest of faultctl reads (renewal counts, lost leases, revert results) is written
 * under the lock. The per-request state (struct fleet_req) and the streams are the loop's own.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"

#define MS 1000000LL
#define NEVER INT64_MAX
#define MAX_EVENTS 256

enum { RQ_IDLE, RQ_SENDING, RQ_WAITING, RQ_DONE };
enum { PHASE_END, PHASE_LIST };
/* What an epoll event is for: the agent's index and which of its sockets. */
enum { TAG_RENEW, TAG_REVERT, TAG_STREAM };
#define TAG(i, kind) ((uint64_t)(i) << 2 | (kind))
#define TAG_WAKE UINT64_MAX

struct loop {
	struct fleet *f;
	int64_t next_ns; /* the earliest renewal or request deadline */
	bool renewing;	 /* renewals go on: neither stopped nor the revert's go */
	bool go;	 /* the revert's go came */
};

static void soon(struct loop *l, int64_t t)
{
	if (t < l->next_ns)
		l->next_ns = t;
}

static void signal_event(struct fleet *f)
{
	uint64_t one = 1;

	if (f->event_fd >= 0 && write(f->event_fd, &one, sizeof(one)) < 0) {
		/* An eventfd only fails to count past 2^64-2: the wake-up is there already. */
	}
}

/* Hand the loop a command set under the lock (held); with wait, until it took it. */
static void command(struct fleet *f, bool wait)
{
	uint64_t seq = ++f->cmd_seq, one = 1;

	if (write(f->wake_fd, &one, sizeof(one)) < 0) {
		/* As signal_event(): a counter that full is readable already. */
	}
	while (wait && f->done_seq < seq && !f->loop_exited)
		pthread_cond_wait(&f->cond, &f->lock);
}

static int arm(struct loop *l, struct client *c, uint64_t tag, bool *armed, bool out)
{
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u64 = tag};

	if (epoll_ctl(l->f->epoll_fd, *armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, client_fd(c), &ev))
		return -errno;
	*armed = true;
	return 0;
}

static void disarm(struct loop *l, struct client *c, bool *armed)
{
	if (*armed && c)
		epoll_ctl(l->f->epoll_fd, EPOLL_CTL_DEL, client_fd(c), NULL);
	*armed = false;
}

/* Start a request on c and wait for its answer in the loop. 0, or -errno with err set. */
static int send_req(struct loop *l, size_t i, int kind, struct client *c, struct fleet_req *rq,
		    const char *method, const char *target, char *err, size_t size)
{
	int e = client_start(c, method, target, NULL, err, size), ae;

	if (e && e != -EAGAIN)
		return e;
	ae = arm(l, c, TAG(i, kind), &rq->armed, e == -EAGAIN);
	if (ae) {
		snprintf(err, size, "epoll_ctl: %s", strerror(-ae));
		return ae;
	}
	rq->state = e == -EAGAIN ? RQ_SENDING : RQ_WAITING;
	rq->deadline_ns = fleet_now_ns() + CLIENT_TIMEOUT_MS * MS;
	soon(l, rq->deadline_ns);
	return 0;
}

/* A new connection in place of *c (closed), for a request to retry on. 0 or -errno. */
static int reconnect(struct loop *l, struct fleet_agent *a, struct client **c, bool *armed,
		     char *err, size_t size)
{
	struct client *nc = NULL;
	int e;

	disarm(l, *c, armed);
	e = client_connect(&a->addr, &nc, err, size);
	if (e)
		return e;
	client_close(*c);
	*c = nc;
	return 0;
}

/* Renewals. */

static void renew_send(struct loop *l, size_t i);

/*
 * A renewal's answer, or its failure (e). A 404 means the agent ended the lease itself (it
 * expired, or someone reverted it) and its faults are gone: the run must know at once. Two
 * renewals may fail or be slow in a row before the agent gives up on us.
 */
static void renew_result(struct loop *l, size_t i, int e, int status, const json_t *resp,
			 const char *cerr)
{
	struct fleet *f = l->f;
	struct fleet_agent *a = &f->agents[i];
	int64_t now = fleet_now_ns(), period = f->ttl_ms * MS / 3;
	char err[FLEET_ERR_SIZE], buf[128];

	disarm(l, a->renew, &a->renew_rq.armed);
	a->renew_rq.state = RQ_IDLE;
	if (!e && status != 200)
		snprintf(err, sizeof(err), "renewing the lease: %s",
			 client_error_message(resp, status, buf, sizeof(buf)));
	else
		snprintf(err, sizeof(err), "%s", cerr);
	pthread_mutex_lock(&f->lock);
	if (!e && status == 200) {
		a->renewals++;
		a->last_renew_ns = now;
		pthread_mutex_unlock(&f->lock);
		a->renew_due_ns = now + period;
		soon(l, a->renew_due_ns);
		return;
	}
	a->renew_failures++;
	snprintf(a->renew_err, sizeof(a->renew_err), "%s", err);
	if (!e && status == 404) {
		a->lease_lost = true;
		a->lease_ended = true;
		signal_event(f);
		pthread_mutex_unlock(&f->lock);
		a->renew_due_ns = NEVER;
		return;
	}
	pthread_mutex_unlock(&f->lock);
	if (e) {
		/*
		 * The connection is gone, or holds an answer that came too late: the next
		 * attempt needs a new one.
		 */
		int ce = reconnect(l, a, &a->renew, &a->renew_rq.armed, err, sizeof(err));

		pthread_mutex_lock(&f->lock);
		a->reconnect_err = ce;
		if (ce)
			snprintf(a->renew_err, sizeof(a->renew_err), "%s", err);
		pthread_mutex_unlock(&f->lock);
	}
	/* Past the TTL since the last good renewal the agent has reverted already. */
	pthread_mutex_lock(&f->lock);
	if (now - a->last_renew_ns > f->ttl_ms * MS) {
		a->lease_lost = true;
		signal_event(f);
		a->renew_due_ns = NEVER;
	} else {
		a->renew_due_ns = now + period;
	}
	pthread_mutex_unlock(&f->lock);
	soon(l, a->renew_due_ns);
}

static void renew_send(struct loop *l, size_t i)
{
	struct fleet_agent *a = &l->f->agents[i];
	char target[FLEET_ID_SIZE + 32], err[FLEET_ERR_SIZE] = "";
	int e;

	snprintf(target, sizeof(target), "/v1/leases/%s/renew", a->lease);
	e = send_req(l, i, TAG_RENEW, a->renew, &a->renew_rq, "POST", target, err, sizeof(err));
	if (e)
		renew_result(l, i, e, 0, NULL, err);
}

/* The revert. */

static void revert_done(struct loop *l, size_t i, int err, const char *msg)
{
	struct fleet *f = l->f;
	struct fleet_agent *a = &f->agents[i];

	disarm(l, a->revert, &a->revert_rq.armed);
	a->revert_rq.state = RQ_DONE;
	pthread_mutex_lock(&f->lock);
	a->revert_sent_ns = a->revert_rq.sent_ns;
	a->revert_done_ns = fleet_now_ns();
	a->revert_err = err;
	snprintf(a->revert_msg, sizeof(a->revert_msg), "%s", msg);
	a->revert_done = true;
	f->reverted++;
	/* Only fleet_revert() waits for this. */
	pthread_cond_signal(&f->reverted_cond);
	pthread_mutex_unlock(&f->lock);
}

/* Send the DELETE that ends the lease (which reverts every fault under it). 0 or -errno. */
static int revert_end(struct loop *l, size_t i, char *err, size_t size)
{
	struct fleet_agent *a = &l->f->agents[i];
	char target[FLEET_ID_SIZE + 16];

	snprintf(target, sizeof(target), "/v1/leases/%s", a->lease);
	a->revert_rq.phase = PHASE_END;
	return send_req(l, i, TAG_REVERT, a->revert, &a->revert_rq, "DELETE", target, err, size);
}

/*
 * A failed revert request (e) gets one more try on a fresh connection, once per agent: the
 * prepared one may have died while it waited (an agent restart, a dropped ssh session).
 * Returns 0 when the retry is on its way, or the error to report.
 */
static int revert_retry(struct loop *l, size_t i, int e, char *err, size_t size)
{
	struct fleet_agent *a = &l->f->agents[i];

	if (e == -ETIMEDOUT || e == -ENOMEM || a->revert_rq.retried)
		return e;
	a->revert_rq.retried = true;
	err[0] = '\0';
	e = reconnect(l, a, &a->revert, &a->revert_rq.armed, err, size);
	return e ? e : revert_end(l, i, err, size);
}

static void revert_send(struct loop *l, size_t i)
{
	char err[FLEET_ERR_SIZE] = "";
	int e;

	l->f->agents[i].revert_rq.sent_ns = fleet_now_ns();
	e = revert_end(l, i, err, sizeof(err));
	if (e)
		e = revert_retry(l, i, e, err, sizeof(err));
	if (e)
		revert_done(l, i, e, err);
}

static void revert_result(struct loop *l, size_t i, int e, int status, const json_t *resp,
			  const char *cerr)
{
	struct fleet_agent *a = &l->f->agents[i];
	char err[FLEET_ERR_SIZE], buf[128];
	const json_t *fl;
	size_t k, left = 0;

	snprintf(err, sizeof(err), "%s", cerr);
	disarm(l, a->revert, &a->revert_rq.armed);
	a->revert_rq.state = RQ_IDLE;
	if (a->revert_rq.phase == PHASE_LIST) {
		if (e) {
			revert_done(l, i, e, err);
			return;
		}
		if (status != 200) {
			snprintf(err, sizeof(err), "listing the faults left: %s",
				 client_error_message(resp, status, buf, sizeof(buf)));
			revert_done(l, i, -EREMOTE, err);
			return;
		}
		json_array_foreach(json_object_get(resp, "faults"), k, fl)
		{
			if (!strcmp(json_string_value(json_object_get(fl, "lease")) ?: "",
				    a->lease))
				left++;
		}
		if (left)
			snprintf(err, sizeof(err), "lease gone but %zu of its faults still listed",
				 left);
		revert_done(l, i, left ? -EREMOTE : 0, left ? err : "");
		return;
	}
	if (e) {
		e = revert_retry(l, i, e, err, sizeof(err));
		if (e)
			revert_done(l, i, e, err);
		return;
	}
	if (!e && status == 404) {
		/*
		 * The agent no longer has the lease: it expired or was ended, and either way the
		 * agent reverted its faults. Confirm with the list of what is still applied.
		 */
		a->revert_rq.phase = PHASE_LIST;
		err[0] = '\0';
		e = send_req(l, i, TAG_REVERT, a->revert, &a->revert_rq, "GET", "/v1/faults", err,
			     sizeof(err));
		if (e)
			revert_done(l, i, e, err);
		return;
	}
	if (!e && status != 200)
		snprintf(err, sizeof(err), "ending the lease: %s",
			 client_error_message(resp, status, buf, sizeof(buf)));
	revert_done(l, i, status == 200 ? 0 : -EREMOTE, status == 200 ? "" : err);
}

/* Streams. */

static void stream_close(struct loop *l, struct fleet_agent *a)
{
	disarm(l, a->stream, &a->stream_armed);
	client_close(a->stream);
	a->stream = NULL;
}

/* Hand every whole line read so far to the callback; then, when e says so, end the stream. */
static void stream_lines(struct loop *l, size_t i, int e)
{
	struct fleet *f = l->f;
	struct fleet_agent *a = &f->agents[i];
	json_t *line;
	int64_t t = fleet_now_ns();

	while (!client_stream_take(a->stream, &line)) {
		if (f->stream_ops.on_line)
			f->stream_ops.on_line(f->stream_ops.arg, i, line, t);
		json_decref(line);
	}
	if (!e)
		return;
	stream_close(l, a);
	if (f->stream_ops.on_end)
		f->stream_ops.on_end(f->stream_ops.arg, i, e);
}

/* Events on an agent's socket. */

static void on_io(struct loop *l, uint64_t tag, uint32_t events)
{
	struct fleet *f = l->f;
	size_t i = (size_t)(tag >> 2);
	int kind = (int)(tag & 3);
	struct fleet_agent *a;
	struct fleet_req *rq;
	struct client *c;
	char err[FLEET_ERR_SIZE] = "";
	json_t *resp = NULL;
	int status = 0, e;

	if (i >= f->n)
		return;
	a = &f->agents[i];
	if (kind == TAG_STREAM) {
		if (a->stream)
			stream_lines(l, i, client_stream_read(a->stream));
		return;
	}
	rq = kind == TAG_RENEW ? &a->renew_rq : &a->revert_rq;
	c = kind == TAG_RENEW ? a->renew : a->revert;
	if (rq->state == RQ_SENDING) {
		e = client_flush(c, err, sizeof(err));
		if (e == -EAGAIN)
			return;
		if (!e) {
			rq->state = RQ_WAITING;
			e = arm(l, c, tag, &rq->armed, false);
			if (e)
				snprintf(err, sizeof(err), "epoll_ctl: %s", strerror(-e));
		}
		if (e)
			goto result;
		if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			return;
	}
	if (rq->state != RQ_WAITING) {
		/* An answer nobody waits for any more (a renewal after the stop). */
		disarm(l, c, &rq->armed);
		return;
	}
	e = client_finish(c, &status, &resp, err, sizeof(err));
	if (e == -EAGAIN)
		return;
result:
	if (kind == TAG_RENEW)
		renew_result(l, i, e, status, resp, err);
	else
		revert_result(l, i, e, status, resp, err);
	json_decref(resp);
}

/* A request past its deadline fails as a blocking call would have. */
static void timed_out(struct loop *l, size_t i, int kind)
{
	struct fleet_agent *a = &l->f->agents[i];
	struct client *c = kind == TAG_RENEW ? a->renew : a->revert;
	char err[FLEET_ERR_SIZE];

	snprintf(err, sizeof(err), "reading the agent's answer from %.400s: no answer within %d ms",
		 a->address, CLIENT_TIMEOUT_MS);
	client_explain(c, err, sizeof(err));
	if (kind == TAG_RENEW)
		renew_result(l, i, -ETIMEDOUT, 0, NULL, err);
	else
		revert_result(l, i, -ETIMEDOUT, 0, NULL, err);
}

/* Renewals that are due and requests past their deadline; l->next_ns becomes the next. */
static void scan(struct loop *l)
{
	struct fleet *f = l->f;
	int64_t now = fleet_now_ns();

	l->next_ns = NEVER;
	for (size_t i = 0; i < f->n; i++) {
		struct fleet_agent *a = &f->agents[i];
		struct fleet_req *rq = &a->renew_rq;

		if (rq->state == RQ_SENDING || rq->state == RQ_WAITING) {
			if (now >= rq->deadline_ns)
				timed_out(l, i, TAG_RENEW);
			else
				soon(l, rq->deadline_ns);
		} else if (l->renewing && a->in_loop && a->renew_due_ns != NEVER) {
			if (now >= a->renew_due_ns)
				renew_send(l, i);
			else
				soon(l, a->renew_due_ns);
		}
		rq = &a->revert_rq;
		if (rq->state == RQ_SENDING || rq->state == RQ_WAITING) {
			if (now >= rq->deadline_ns)
				timed_out(l, i, TAG_REVERT);
			else
				soon(l, rq->deadline_ns);
		}
	}
}

/* The commands, under the lock. Returns false for the stop. */
static bool commands(struct loop *l)
{
	struct fleet *f = l->f;
	bool go, streams_new, streams_stop, renewing;
	uint64_t seq, v;
	int64_t period = f->ttl_ms * MS / 3;

	if (read(f->wake_fd, &v, sizeof(v)) < 0) {
		/* Nonblocking and already drained. */
	}
	pthread_mutex_lock(&f->lock);
	if (f->stop) {
		pthread_mutex_unlock(&f->lock);
		return false;
	}
	seq = f->cmd_seq;
	go = __atomic_load_n(&f->revert_go, __ATOMIC_ACQUIRE);
	renewing = !f->renew_stop && !go;
	streams_new = f->streams_new;
	streams_stop = f->streams_stop;
	f->streams_new = false;
	/* Leases created since: the first renewal is a period after the agent's answer. */
	for (size_t i = 0; i < f->n; i++) {
		struct fleet_agent *a = &f->agents[i];

		if (a->renew_started && !a->in_loop) {
			a->in_loop = true;
			a->renew_due_ns = a->last_renew_ns + period;
			soon(l, a->renew_due_ns);
		}
	}
	pthread_mutex_unlock(&f->lock);
	/* The reverts go out first: nothing else is as urgent. */
	if (go)
		for (size_t i = 0; i < f->n; i++)
			if (f->agents[i].revert_started && f->agents[i].revert_rq.state == RQ_IDLE)
				revert_send(l, i);
	l->go = go;
	if (l->renewing && !renewing) {
		/* Renewals in flight are abandoned: their answers are no longer read. */
		for (size_t i = 0; i < f->n; i++) {
			struct fleet_agent *a = &f->agents[i];

			disarm(l, a->renew, &a->renew_rq.armed);
			a->renew_rq.state = RQ_IDLE;
		}
	}
	l->renewing = renewing;
	for (size_t i = 0; i < f->n; i++) {
		struct fleet_agent *a = &f->agents[i];
		int e;

		if (!a->stream)
			continue;
		if (streams_stop) {
			stream_close(l, a);
			continue;
		}
		if (!streams_new || a->stream_armed)
			continue;
		e = arm(l, a->stream, TAG(i, TAG_STREAM), &a->stream_armed, false);
		/* Lines that came with the stream's head are in its buffer already. */
		stream_lines(l, i, e);
	}
	pthread_mutex_lock(&f->lock);
	f->done_seq = seq;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return true;
}

static void *loop_main(void *p)
{
	struct loop l = {.f = p, .next_ns = NEVER, .renewing = true};
	struct epoll_event ev[MAX_EVENTS];
	bool woken = true;

	for (;;) {
		int64_t now, left;
		int n, timeout;

		if (woken && !commands(&l))
			break;
		woken = false;
		now = fleet_now_ns();
		if (now >= l.next_ns)
			scan(&l);
		left = l.next_ns == NEVER ? 0 : l.next_ns - fleet_now_ns();
		if (l.next_ns == NEVER)
			timeout = -1;
		else if (left <= 0)
			timeout = 0;
		else
			timeout = left / MS >= INT_MAX ? INT_MAX : (int)((left + MS - 1) / MS);
		n = epoll_wait(l.f->epoll_fd, ev, MAX_EVENTS, timeout);
		if (n < 0 && errno != EINTR)
			break;
		for (int k = 0; k < n; k++) {
			if (ev[k].data.u64 == TAG_WAKE)
				woken = true;
			else
				on_io(&l, ev[k].data.u64, ev[k].events);
		}
	}
	pthread_mutex_lock(&l.f->lock);
	l.f->loop_exited = true;
	pthread_cond_broadcast(&l.f->cond);
	pthread_mutex_unlock(&l.f->lock);
	return NULL;
}

int fleet_loop_start(struct fleet *f)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_WAKE};
	int err;

	if (f->loop_started)
		return 0;
	f->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (f->epoll_fd < 0)
		return -errno;
	f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->wake_fd < 0) {
		err = -errno;
		goto close_epoll;
	}
	if (epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, f->wake_fd, &ev)) {
		err = -errno;
		goto close_wake;
	}
	err = -pthread_create(&f->loop_thr, NULL, loop_main, f);
	if (err)
		goto close_wake;
	f->loop_started = true;
	return 0;

close_wake:
	close(f->wake_fd);
	f->wake_fd = -1;
close_epoll:
	close(f->epoll_fd);
	f->epoll_fd = -1;
	return err;
}

void fleet_loop_end(struct fleet *f)
{
	/* Its fds and streams exist only while it runs (a zeroed fleet has none). */
	if (!f->loop_started)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	command(f, false);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->loop_thr, NULL);
	f->loop_started = false;
	for (size_t i = 0; i < f->n; i++) {
		client_close(f->agents[i].stream);
		f->agents[i].stream = NULL;
	}
	close(f->wake_fd);
	close(f->epoll_fd);
	f->wake_fd = f->epoll_fd = -1;
}

/* Leases (fleet.h). */

static int lease_create(struct fleet_agent *a, void *arg)
{
	struct fleet *f = a->fleet;
	json_t *body, *resp = NULL;
	const char *id = NULL;
	char buf[128];
	int status, err;

	(void)arg;
	body = json_pack("{s:I}", "ttl_ms", (json_int_t)f->ttl_ms);
	if (!body)
		return -ENOMEM;
	err = fleet_call(a, "POST", "/v1/leases", body, &status, &resp);
	json_decref(body);
	if (err)
		return err;
	if (status != 201 || json_unpack(resp, "{s:{s:s}}", "lease", "id", &id) ||
	    strlen(id) >= sizeof(a->lease)) {
		snprintf(a->err, sizeof(a->err), "creating the lease: %s",
			 client_error_message(resp, status, buf, sizeof(buf)));
		json_decref(resp);
		return -EREMOTE;
	}
	/*
	 * The agent counts the TTL from its answer: the renewals start now, not once every
	 * other agent of the fleet has its lease too (with a thousand agents that can take
	 * longer than a short TTL).
	 */
	pthread_mutex_lock(&f->lock);
	snprintf(a->lease, sizeof(a->lease), "%s", id);
	a->last_renew_ns = fleet_now_ns();
	a->renew_started = a->revert_started = true;
	command(f, false);
	pthread_mutex_unlock(&f->lock);
	json_decref(resp);
	return 0;
}

size_t fleet_lease_start(struct fleet *f, int64_t ttl_ms)
{
	int err;

	f->ttl_ms = ttl_ms;
	err = fleet_loop_start(f);
	if (err) {
		for (size_t i = 0; i < f->n; i++)
			snprintf(f->agents[i].err, FLEET_ERR_SIZE,
				 "cannot start the fleet loop: %s", strerror(-err));
		return f->n;
	}
	return fleet_each(f, lease_create, NULL);
}

static struct timespec abs_after_ms(int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

size_t fleet_revert(struct fleet *f)
{
	size_t expected = 0, failed = 0;
	struct timespec until;

	if (!f->loop_started)
		return 0;
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n; i++)
		expected += f->agents[i].revert_started;
	__atomic_store_n(&f->revert_go, true, __ATOMIC_RELEASE);
	command(f, false);
	/* Each request has its own deadline in the loop; this bounds the wait for all. */
	until = abs_after_ms(CLIENT_TIMEOUT_MS + 2000);
	while (f->reverted < expected &&
	       pthread_cond_timedwait(&f->reverted_cond, &f->lock, &until) != ETIMEDOUT)
		;
	for (size_t i = 0; i < f->n; i++) {
		struct fleet_agent *a = &f->agents[i];

		if (!a->revert_started)
			continue;
		if (!a->revert_done) {
			if (!a->revert_msg[0])
				snprintf(a->revert_msg, sizeof(a->revert_msg),
					 "no answer to the revert");
			failed++;
		} else if (a->revert_err) {
			failed++;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return failed;
}

void fleet_stop_renewals(struct fleet *f)
{
	if (!f->loop_started)
		return;
	pthread_mutex_lock(&f->lock);
	f->renew_stop = true;
	command(f, true);
	pthread_mutex_unlock(&f->lock);
}

int fleet_streams_follow(struct fleet *f, struct client **streams,
			 const struct fleet_stream_ops *ops)
{
	if (!f->loop_started) {
		for (size_t i = 0; i < f->n; i++)
			client_close(streams[i]);
		return -EINVAL;
	}
	pthread_mutex_lock(&f->lock);
	f->stream_ops = *ops;
	for (size_t i = 0; i < f->n; i++)
		if (streams[i])
			f->agents[i].stream = streams[i];
	f->streams_new = true;
	command(f, false);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

void fleet_streams_stop(struct fleet *f)
{
	if (!f->loop_started)
		return;
	pthread_mutex_lock(&f->lock);
	f->streams_stop = true;
	command(f, true);
	pthread_mutex_unlock(&f->lock);
}
