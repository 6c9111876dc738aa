/*
 * The core drives every fault through the lifecycle, binds it to a lease, and keeps the
 * journal in step: a record exists from before the first change to the system until the
 * revert is complete, so at any moment a crash leaves enough behind to undo the fault.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "caps.h"
#include "core.h"
#include "events.h"
#include "journal.h"
#include "log.h"
#include "target_watch.h"
#include "timefmt.h"
#include "watchdog.h"
#include "exp.h"

static void random_id(char *buf, size_t size, char prefix)
{
	unsigned char r[8];

	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		/* getrandom(2) on a booted kernel does not fail for 8 bytes; keep ids unique. */
		static unsigned long long counter;
		unsigned long long v = ((unsigned long long)getpid() << 32) ^ ++counter;

		memcpy(r, &v, sizeof(r));
	}
	snprintf(buf, size, "%c-%02x%02x%02x%02x%02x%02x%02x%02x", prefix, r[0], r[1], r[2], r[3],
		 r[4], r[5], r[6], r[7]);
}

/* ---- faults ---- */

static void set_state(struct fault *f, enum fault_state to)
{
	if (!fault_state_can(f->state, to)) {
		/* A bug, not an input problem: say so loudly, keep the stricter state. */
		log_err("fault %s: illegal transition %s -> %s", f->id, fault_state_name(f->state),
			fault_state_name(to));
		return;
	}
	log_debug("fault %s: %s -> %s", f->id, fault_state_name(f->state), fault_state_name(to));
	f->state = to;
}

/*
 * Called from apply, which may run on a worker thread (fault_ops.off_loop): it reads only
 * what the loop leaves alone while the fault is busy (its id, lease id, state, its own copy
 * of the spec, its undo record); the journal serialises the appends of different threads.
 */
int fault_journal(struct fault *f)
{
	json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:i}", "id", f->id, "type",
				f->type->name, "lease", f->lease_id, "state",
				fault_state_name(f->state), "spec", f->journal_spec, "undo",
				f->undo ? f->undo : json_null(), "agent_pid", (int)getpid());
	int err;

	if (!rec)
		return -ENOMEM;
	err = journal_write(f->agent->journal, f->id, rec);
	json_decref(rec);
	if (!err) {
		json_decref(f->journaled_undo);
		f->journaled_undo = f->undo ? json_deep_copy(f->undo) : json_null();
	}
	return err;
}

uint64_t fault_lease_deadline_ns(const struct fault *f)
{
	return __atomic_load_n(&f->lease_deadline_ns, __ATOMIC_RELAXED);
}

static void set_lease_deadline(struct fault *f, uint64_t ns)
{
	__atomic_store_n(&f->lease_deadline_ns, ns, __ATOMIC_RELAXED);
}

void fault_lane_enter(const struct fault *f)
{
	if (f->type->lane)
		pthread_mutex_lock(f->type->lane);
}

void fault_lane_leave(const struct fault *f)
{
	if (f->type->lane)
		pthread_mutex_unlock(f->type->lane);
}

/* The journal already holds the fault's undo as it is now: nothing to write (or to sync). */
static bool journal_current(const struct fault *f)
{
	if (!f->journaled_undo)
		return false;
	if (!f->undo)
		return json_is_null(f->journaled_undo);
	return json_equal(f->undo, f->journaled_undo);
}

static void fault_closed(uv_handle_t *h)
{
	struct fault *f = h->data;

	if (f->type && f->type->free_priv)
		f->type->free_priv(f);
	exp_fault_free(f->spec);
	json_decref(f->spec_json);
	json_decref(f->journal_spec);
	json_decref(f->undo);
	json_decref(f->journaled_undo);
	json_decref(f->revert_last);
	free(f->revert_why);
	free(f);
}

static void fault_destroy(struct fault *f)
{
	struct agent *a = f->agent;

	target_watch_free(f->watch);
	f->watch = NULL;
	for (struct fault **p = &a->faults; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			break;
		}
	}
	/* The timer handle is freed by libuv's close callback, then the fault with it. */
	uv_close((uv_handle_t *)&f->duration_timer, fault_closed);
}

/*
 * Live faults describe their effect; a completed one what it did (whom it signalled). Not
 * while a worker thread is applying it: the type's state is the worker's until it is done.
 */
static bool has_status(const struct fault *f)
{
	return !f->busy && (fault_state_live(f->state) || f->state == FAULT_COMPLETED);
}

json_t *core_fault_json(const struct fault *f)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:O}", "id", f->id, "type", f->type->name,
			      "state", fault_state_name(f->state), "lease", f->lease_id, "spec",
			      f->spec_json);

	if (!o)
		return NULL;
	if (f->applied_at[0])
		json_object_set_new(o, "applied_at", json_string(f->applied_at));
	if (f->reverted_at[0])
		json_object_set_new(o, "reverted_at", json_string(f->reverted_at));
	if (f->duration_ms)
		json_object_set_new(o, "duration_ms", json_integer((json_int_t)f->duration_ms));
	if (f->error[0])
		json_object_set_new(o, "error", json_string(f->error));
	if (f->watch)
		json_object_set_new(o, "container_watch", target_watch_json(f->watch));
	if (f->type->describe && has_status(f)) {
		json_t *d = f->type->describe(f);

		if (d)
			json_object_set_new(o, "status", d);
	}
	return o;
}

json_t *core_faults_json(const struct agent *a)
{
	json_t *arr = json_array();

	for (const struct fault *f = a->faults; f; f = f->next)
		json_array_append_new(arr, core_fault_json(f));
	return arr;
}

struct fault *core_fault_find(struct agent *a, const char *id)
{
	for (struct fault *f = a->faults; f; f = f->next)
		if (!strcmp(f->id, id))
			return f;
	return NULL;
}

/*
 * status: what the fault achieved, taken before a revert (stolen); NULL: described now.
 * extra: more fields of the event (stolen; NULL: none).
 */
static void emit_fault_with(struct fault *f, const char *type, const char *why, json_t *status,
			    json_t *extra)
{
	static const struct {
		const char *event;
		enum metrics_counter counter;
	} counted[] = {
		{ "fault.applied", MET_APPLIES },
		{ "fault.apply_failed", MET_APPLY_FAILURES },
		{ "fault.reverted", MET_REVERTS },
		{ "fault.target_gone", MET_REVERTS },
		{ "fault.revert_failed", MET_REVERT_FAILURES },
	};

	for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++)
		if (!strcmp(type, counted[i].event))
			metrics_count(&f->agent->metrics, counted[i].counter, f->spec->type);
	json_t *fields = json_pack("{s:s, s:s, s:s, s:s}", "fault", f->id, "fault_type",
				   f->type->name, "lease", f->lease_id, "state",
				   fault_state_name(f->state));

	if (why)
		json_object_set_new(fields, "reason", json_string(why));
	if (f->error[0])
		json_object_set_new(fields, "error", json_string(f->error));
	if (f->watch)
		json_object_set_new(fields, "container_watch", target_watch_json(f->watch));
	if (status)
		json_object_set_new(fields, "status", status);
	else if (f->type->describe && has_status(f)) {
		json_t *d = f->type->describe(f);

		if (d)
			json_object_set_new(fields, "status", d);
	}
	if (extra) {
		json_object_update(fields, extra);
		json_decref(extra);
	}
	events_emit(f->agent->events, type, fields);
}

static void emit_fault(struct fault *f, const char *type, const char *why, json_t *status)
{
	emit_fault_with(f, type, why, status, NULL);
}

/*
 * On the loop, once the type's revert returned err (its message in msg): the fault is
 * reverted and forgotten, or kept as revert_failed with its journal record for a retry.
 */
static int revert_finish(struct fault *f, int err, const char *msg, const char *why,
			 json_t *last)
{
	core_reverted_fn cb = f->reverted;

	f->reverted = NULL;
	if (err) {
		json_decref(last);
		snprintf(f->error, sizeof(f->error), "%s", msg[0] ? msg : strerror(-err));
		set_state(f, FAULT_REVERT_FAILED);
		if (!f->lease)
			/* Its lease ended meanwhile: kept for a later retry, leaseless. */
			f->lease_id[0] = '\0';
		/* The journal keeps the record: shutdown, revert-all or --cleanup retries it. */
		fault_journal(f);
		log_err("fault %s (%s): revert failed: %s", f->id, f->type->name, f->error);
		emit_fault(f, "fault.revert_failed", why, NULL);
		if (cb)
			cb(f, err, f->reverted_ctx);
		return err;
	}
	set_state(f, FAULT_REVERTED);
	timefmt_now_iso(f->reverted_at, sizeof(f->reverted_at));
	err = journal_remove(f->agent->journal, f->id);
	if (err)
		log_warn("fault %s: removing its journal record: %s", f->id, strerror(-err));
	log_info("fault %s (%s) reverted: %s", f->id, f->type->name, why);
	/* Its container exited: what the fault held is reverted, and the fault ends with it. */
	emit_fault(f, f->target_gone ? "fault.target_gone" : "fault.reverted", why, last);
	if (cb)
		cb(f, 0, f->reverted_ctx);
	fault_destroy(f);
	return 0;
}

/*
 * On a worker thread, before any fault's work: the capabilities the agent kept, also on a
 * thread of a pool started before it dropped the others (--loop-realtime). 0 or -errno.
 */
static int worker_caps(char *err, size_t size)
{
	int ret = caps_thread_sync();

	if (ret)
		snprintf(err, size, "restricting the worker thread's capabilities: %s",
			 strerror(-ret));
	return ret;
}

static void revert_work(uv_work_t *w)
{
	struct fault *f = w->data;

	f->work_err[0] = '\0';
	f->work_ret = worker_caps(f->work_err, sizeof(f->work_err));
	if (f->work_ret)
		return;
	fault_lane_enter(f);
	f->work_ret = f->type->revert(f->agent, f, f->work_err, sizeof(f->work_err));
	fault_lane_leave(f);
}

static void revert_done(uv_work_t *w, int status)
{
	struct fault *f = w->data;
	json_t *last = f->revert_last;

	if (status)
		log_err("fault %s: revert work ended with %s", f->id, uv_strerror(status));
	f->busy = false;
	f->revert_last = NULL;
	revert_finish(f, f->work_ret, f->work_err, f->revert_why, last);
}

/* Keep why for later (a revert that follows an apply, an off-loop revert's events). */
static int keep_why(struct fault *f, const char *why)
{
	char *w;

	if (f->revert_why == why)
		return 0;
	w = strdup(why);
	if (!w)
		return -ENOMEM;
	free(f->revert_why);
	f->revert_why = w;
	return 0;
}

int core_fault_revert_then(struct fault *f, const char *why, core_reverted_fn cb, void *ctx)
{
	json_t *last = NULL;
	char msg[FAULT_ERR_SIZE] = "", gone_why[FAULT_ERR_SIZE + 256];
	int err;

	if (!fault_state_live(f->state))
		return 0;
	if (f->busy) {
		/* Its apply or revert is running on a worker: a revert follows the apply. */
		if (f->state == FAULT_APPLYING && !f->revert_why) {
			err = keep_why(f, why);
			if (err)
				return err;
			log_info("fault %s (%s): revert requested (%s) while it is being applied; "
				 "it follows the apply", f->id, f->type->name, why);
			/* An apply that waits (for workers to start) may stop waiting now. */
			__atomic_store_n(&f->revert_asked, true, __ATOMIC_RELEASE);
		} else if (f->state == FAULT_ACTIVE && !f->revert_why) {
			/* A member being dropped (target_watch.c): the revert follows, with cb. */
			err = keep_why(f, why);
			if (err)
				return err;
			f->reverted = cb;
			f->reverted_ctx = ctx;
			log_info("fault %s (%s): revert requested (%s) while one of its containers "
				 "is being dropped; it follows", f->id, f->type->name, why);
		}
		return -EINPROGRESS;
	}
	if (f->state == FAULT_ACTIVE || f->state == FAULT_REVERT_FAILED)
		set_state(f, FAULT_REVERTING);
	uv_timer_stop(&f->duration_timer);
	/* Waiting for its container to come back: the window ended without it. */
	if (target_watch_stop(f->watch, why, gone_why, sizeof(gone_why))) {
		f->target_gone = true;
		why = gone_why;
	}
	f->error[0] = '\0';
	/* What the fault achieved, for the fault.reverted event: after the revert it is gone. */
	if (f->type->describe)
		last = f->type->describe(f);
	if (f->type->revert_off_loop && !keep_why(f, why)) {
		/* Killing and reaping hundreds of workers takes a while: off the loop too. */
		f->busy = true;
		f->revert_last = last;
		f->reverted = cb;
		f->reverted_ctx = ctx;
		f->work.data = f;
		err = uv_queue_work(f->agent->loop, &f->work, revert_work, revert_done);
		if (!err)
			return -EINPROGRESS;
		f->busy = false;
		f->revert_last = NULL;
		f->reverted = NULL;
		log_warn("fault %s: cannot queue its revert (%s); reverting on the loop", f->id,
			 uv_strerror(err));
	}
	fault_lane_enter(f);
	err = f->type->revert(f->agent, f, msg, sizeof(msg));
	fault_lane_leave(f);
	return revert_finish(f, err, msg, why, last);
}

int core_fault_revert(struct fault *f, const char *why)
{
	return core_fault_revert_then(f, why, NULL, NULL);
}

/*
 * Several reverts answered as one (a lease's faults, every fault): done(ctx, failed) once
 * the last off-loop revert among them has ended. left counts those still running, plus one
 * while they are being started.
 */
struct revert_group {
	int left, failed;
	core_done_fn done;
	void *ctx;
};

static void group_one(struct fault *f, int ret, void *ctx)
{
	struct revert_group *g = ctx;

	(void)f;
	if (ret)
		g->failed++;
	if (!--g->left) {
		g->done(g->ctx, g->failed);
		free(g);
	}
}

/*
 * Revert f as a member of g (NULL: on its own). 0 when it is reverted or on its way (off
 * the loop: g waits for it; after its apply: *after_apply counts it, g does not wait),
 * else the revert's -errno.
 */
static int group_revert(struct revert_group *g, struct fault *f, const char *why,
			int *after_apply)
{
	int err = core_fault_revert_then(f, why, g ? group_one : NULL, g);

	if (err != -EINPROGRESS)
		return err;
	/* After an apply or a member drop, without g's callback: g does not wait for it. */
	if (f->state == FAULT_APPLYING || (f->state == FAULT_ACTIVE && (!g || f->reverted_ctx != g)))
		(*after_apply)++;
	else if (g)
		g->left++;
	return 0;
}

/* Done starting g's reverts: -EINPROGRESS when some still run (g lives on), else failed. */
static int group_started(struct revert_group *g, int failed)
{
	if (!g)
		return failed;
	g->failed += failed;
	if (--g->left)
		return -EINPROGRESS;
	free(g);
	return failed;
}

int core_revert_all_then(struct agent *a, const char *why, core_done_fn done, void *ctx,
			 int *after_apply)
{
	struct revert_group *g = NULL;
	struct fault *f, *next;
	int failed = 0, later = 0;

	if (done) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return -ENOMEM;
		*g = (struct revert_group){ .left = 1, .done = done, .ctx = ctx };
	}
	for (f = a->faults; f; f = next) {
		next = f->next;
		if (group_revert(g, f, why, &later))
			failed++;
	}
	if (after_apply)
		*after_apply = later;
	return group_started(g, failed);
}

int core_revert_all(struct agent *a, const char *why)
{
	return core_revert_all_then(a, why, NULL, NULL, NULL);
}

static void duration_done(uv_timer_t *t)
{
	struct fault *f = t->data;

	core_fault_revert(f, "its duration ended");
}

/*
 * The experiment's conflict rule, against every fault this agent still has in place
 * (whichever controller asked for it): two pauses of the same processes, two shapers on one
 * link, two faults of one kind on the same packets cannot both hold. -EBUSY with the reason.
 */
static int check_conflicts(const struct agent *a, const struct fault *f, char *err,
			   size_t err_size)
{
	for (const struct fault *o = a->faults; o; o = o->next) {
		char what[512];

		if (o == f || fault_state_final(o->state))
			continue;
		if (!exp_fault_conflicts(o->spec, f->spec, what, sizeof(what)))
			continue;
		snprintf(err, err_size, "conflicts with active fault %s ('%s'): both %s", o->id,
			 o->spec->name ? o->spec->name : "", what);
		return -EBUSY;
	}
	return 0;
}

/*
 * The apply itself and, when it fails, the revert that makes sure nothing is left: on the
 * loop, or on a worker thread for an off_loop type. It changes neither f->state nor
 * f->error (the loop reads those meanwhile); apply_finish() does, on the loop.
 */
static int apply_run(struct fault *f, char *err, size_t err_size)
{
	char why[FAULT_ERR_SIZE] = "";
	int ret;

	/* A type's shared state (the network types' interface registry): one at a time. */
	fault_lane_enter(f);
	ret = f->type->apply(f->agent, f, err, err_size);
	if (ret) {
		if (!err[0])
			snprintf(err, err_size, "%s", strerror(-ret));
		/* apply undid its partial work; a revert makes sure of it before the record goes. */
		if (f->type->revert(f->agent, f, why, sizeof(why)))
			log_err("fault %s: cleaning up a failed apply: %s", f->id, why);
		else
			journal_remove(f->agent->journal, f->id);
	}
	fault_lane_leave(f);
	return ret;
}

static void watch_end(struct fault *f, const char *why)
{
	core_fault_revert(f, why);
}

static void watch_event(struct fault *f, const char *type, const char *why)
{
	emit_fault(f, type, why, NULL);
}

static void watch_member_event(struct fault *f, const char *type, const char *why,
			       json_t *extra)
{
	emit_fault_with(f, type, why, NULL, extra);
}

/* A member drop ended (f->busy cleared): the revert asked for meanwhile, else the lease. */
static void watch_resume(struct fault *f)
{
	core_reverted_fn cb = f->reverted;
	void *ctx = f->reverted_ctx;

	if (f->revert_why && fault_state_live(f->state)) {
		f->reverted = NULL;
		core_fault_revert_then(f, f->revert_why, cb, ctx);
		return;
	}
	/* A renewal skipped while the fault was busy: the rules take the latest deadline. */
	if (f->type->lease_renewed && f->lease && fault_state_live(f->state))
		f->type->lease_renewed(f);
}

static int watch_conflicts(struct fault *f, char *err, size_t size)
{
	return check_conflicts(f->agent, f, err, size);
}

static const struct target_watch_hooks watch_hooks = {
	.end = watch_end,
	.event = watch_event,
	.member_event = watch_member_event,
	.resume = watch_resume,
	.conflicts = watch_conflicts,
};

/*
 * On the loop, once apply_run() is done: the fault becomes active (timed, journaled,
 * announced), completed, or apply_failed (forgotten). 0 or the apply's -errno.
 */
static int apply_finish(struct fault *f, int ret, const char *err)
{
	struct agent *a = f->agent;

	/* What the type's apply left for the loop to do (its events, its timers). */
	if (f->type->after_apply)
		f->type->after_apply(f, ret);
	if (ret) {
		snprintf(f->error, sizeof(f->error), "%s", err);
		set_state(f, FAULT_APPLY_FAILED);
		log_warn("fault %s (%s): apply failed: %s", f->id, f->type->name, err);
		emit_fault(f, "fault.apply_failed", NULL, NULL);
		fault_destroy(f);
		return ret;
	}
	set_state(f, FAULT_ACTIVE);
	timefmt_now_iso(f->applied_at, sizeof(f->applied_at));
	/* The lease's latest deadline, should it have been renewed while the apply ran. */
	if (f->type->lease_renewed && f->lease && !f->completed)
		f->type->lease_renewed(f);
	if (f->completed) {
		/* Nothing stays applied, so nothing is journaled, timed or left to revert. */
		emit_fault(f, "fault.applied", NULL, NULL);
		set_state(f, FAULT_COMPLETED);
		ret = journal_remove(a->journal, f->id);
		if (ret)
			log_warn("fault %s: removing its journal record: %s", f->id, strerror(-ret));
		log_info("fault %s (%s) completed under lease %s", f->id, f->type->name,
			 f->lease_id);
		emit_fault(f, "fault.completed", "its whole effect was the apply", NULL);
		/* Forgotten now; freed by the close callback, after the caller's answer. */
		fault_destroy(f);
		return 0;
	}
	/*
	 * The type journaled every step before making it (fault_ops.apply): a record that
	 * only says "active" now would cost a sync and tell recovery nothing new. Written
	 * only when the undo changed since (a type that set it without journaling).
	 */
	if (!journal_current(f))
		fault_journal(f);
	if (f->duration_ms)
		uv_timer_start(&f->duration_timer, duration_done, f->duration_ms, 0);
	/* On the loop, once active: a type's watch over what it started (stressor workers). */
	if (f->type->activated)
		f->type->activated(f);
	/* And the core's over the container it acts in (target_watch.h). */
	ret = target_watch_start(f, &watch_hooks);
	if (ret)
		log_warn("fault %s (%s): cannot watch its container: %s; should it exit, the fault "
			 "stays until its end",
			 f->id, f->type->name, strerror(-ret));
	log_info("fault %s (%s) active under lease %s", f->id, f->type->name, f->lease_id);
	emit_fault(f, "fault.applied", NULL, NULL);
	return 0;
}

static void apply_work(uv_work_t *w)
{
	struct fault *f = w->data;

	f->work_err[0] = '\0';
	f->work_ret = worker_caps(f->work_err, sizeof(f->work_err));
	if (!f->work_ret)
		f->work_ret = apply_run(f, f->work_err, sizeof(f->work_err));
}

/*
 * Back on the loop after an off-loop apply. A revert asked for meanwhile (the lease ended
 * or was ended, DELETE, shutdown) happens now, before the caller hears of the apply, so
 * the answer says what is true: reverted (or revert_failed), not active.
 */
static void apply_done(uv_work_t *w, int status)
{
	struct fault *f = w->data;
	int ret = f->work_ret;

	/* Work items are never cancelled; a status would be a libuv bug worth a line. */
	if (status)
		log_err("fault %s: apply work ended with %s", f->id, uv_strerror(status));
	f->busy = false;
	ret = apply_finish(f, ret, f->work_err);
	if (!ret && f->revert_why && fault_state_live(f->state))
		core_fault_revert(f, f->revert_why);
	if (f->applied)
		f->applied(f, ret, f->work_err, f->applied_ctx);
}

int core_fault_apply(struct agent *a, struct lease *l, const struct fault_ops *type,
		     struct fault_spec *spec, json_t *spec_json, uint64_t duration_ms,
		     pid_t peer_pid, core_applied_fn applied, void *ctx, struct fault **out,
		     char *err, size_t err_size)
{
	struct fault *f = calloc(1, sizeof(*f));
	const struct container_ref *ctr;
	int ret;

	if (!f) {
		exp_fault_free(spec);
		json_decref(spec_json);
		return -ENOMEM;
	}
	f->agent = a;
	f->type = type;
	f->spec = spec;
	f->spec_json = spec_json;
	f->lease = l;
	set_lease_deadline(f, l->deadline_ns);
	snprintf(f->lease_id, sizeof(f->lease_id), "%s", l->id);
	f->duration_ms = duration_ms;
	f->peer_pid = peer_pid;
	f->state = FAULT_VALIDATED;
	random_id(f->id, sizeof(f->id), 'f');
	uv_timer_init(a->loop, &f->duration_timer);
	f->duration_timer.data = f;
	f->next = a->faults;
	a->faults = f;

	f->journal_spec = json_deep_copy(spec_json);
	if (!f->journal_spec) {
		ret = -ENOMEM;
		goto refused;
	}
	ret = check_conflicts(a, f, err, err_size);
	if (ret)
		goto refused;
	ctr = exp_fault_container(spec);
	if (ctr && ctr->follow_restarts && !type->target_container) {
		snprintf(err, err_size,
			 "target.container.follow_restarts: %s does not follow a container's "
			 "restarts yet",
			 type->name);
		ret = -EINVAL;
		goto refused;
	}
	if (type->validate) {
		ret = type->validate(a, f, err, err_size);
		if (ret)
			goto refused;
	}
	set_state(f, FAULT_APPLYING);
	/*
	 * No record yet: the type writes one (durably) before each change it makes
	 * (fault_ops.apply), so a crash from here on is recoverable, and an apply that changes
	 * nothing leaves nothing to recover. One synced write per step, none of them empty.
	 */
	if (type->off_loop && applied && !(type->apply_on_loop && type->apply_on_loop(f))) {
		f->busy = true;
		f->applied = applied;
		f->applied_ctx = ctx;
		f->work.data = f;
		ret = uv_queue_work(a->loop, &f->work, apply_work, apply_done);
		if (!ret) {
			log_debug("fault %s (%s): applying on a worker thread", f->id, type->name);
			*out = f;
			return -EINPROGRESS;
		}
		/* The pool refused the work (it never does once started): apply here. */
		f->busy = false;
		f->applied = NULL;
		log_warn("fault %s: cannot queue its apply (%s); applying on the loop", f->id,
			 uv_strerror(ret));
	}
	ret = apply_finish(f, apply_run(f, err, err_size), err);
	if (ret)
		return ret;
	*out = f;
	return 0;

refused:
	fault_destroy(f);
	return ret;
}

/* ---- leases ---- */

static void lease_expired(uv_timer_t *t)
{
	struct lease *l = t->data;
	char why[96];

	snprintf(why, sizeof(why), "lease %s expired (not renewed within %llu ms)", l->id,
		 (unsigned long long)l->ttl_ms);
	log_warn("%s: reverting its faults", why);
	l->agent->metrics.lease_expiries++;
	core_lease_end(l, why);
}

int core_lease_new(struct agent *a, uint64_t ttl_ms, struct lease **out)
{
	struct lease *l;

	if (ttl_ms < LEASE_TTL_MIN_MS || ttl_ms > LEASE_TTL_MAX_MS)
		return -ERANGE;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	random_id(l->id, sizeof(l->id), 'l');
	l->ttl_ms = ttl_ms;
	l->agent = a;
	uv_timer_init(a->loop, &l->timer);
	l->timer.data = l;
	l->next = a->leases;
	a->leases = l;
	core_lease_renew(l);
	events_emit(a->events, "lease.created",
		    json_pack("{s:s, s:I}", "lease", l->id, "ttl_ms", (json_int_t)ttl_ms));
	*out = l;
	return 0;
}

struct lease *core_lease_find(struct agent *a, const char *id)
{
	for (struct lease *l = a->leases; l; l = l->next)
		if (!strcmp(l->id, id) && !l->closing)
			return l;
	return NULL;
}

void core_lease_renew(struct lease *l)
{
	struct timespec ts;

	/* Loop time may lag if the loop was busy; refresh it so the TTL counts from now. */
	uv_update_time(l->agent->loop);
	l->deadline = uv_now(l->agent->loop) + l->ttl_ms;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	l->deadline_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec +
			 l->ttl_ms * 1000000ULL;
	uv_timer_start(&l->timer, lease_expired, l->ttl_ms, 0);
	/*
	 * Where the lease is enforced without us: the kernel (network rules), the watchdog.
	 * Not for a fault a worker thread is applying or reverting: its apply reads the new
	 * deadline (fault_lease_deadline_ns()) and apply_finish() pushes it once it is done,
	 * so a renewal never waits for that work.
	 */
	for (struct fault *f = l->agent->faults; f; f = f->next) {
		if (f->lease != l)
			continue;
		set_lease_deadline(f, l->deadline_ns);
		if (f->type->lease_renewed && fault_state_live(f->state) && !f->busy)
			f->type->lease_renewed(f);
	}
	watchdog_lease(l->id, l->deadline_ns);
}

json_t *core_lease_json(const struct lease *l)
{
	uint64_t now = uv_now(l->agent->loop);
	int n = 0;

	for (const struct fault *f = l->agent->faults; f; f = f->next)
		n += f->lease == l;
	return json_pack("{s:s, s:I, s:I, s:i}", "id", l->id, "ttl_ms", (json_int_t)l->ttl_ms,
			 "expires_in_ms",
			 (json_int_t)(l->deadline > now ? l->deadline - now : 0), "faults", n);
}

static void lease_closed(uv_handle_t *h)
{
	free(h->data);
}

int core_lease_end_then(struct lease *l, const char *why, core_done_fn done, void *ctx,
			int *after_apply)
{
	struct agent *a = l->agent;
	struct revert_group *g = NULL;
	struct fault *f, *next;
	int failed = 0, n = 0, later = 0;

	if (l->closing)
		return 0;
	if (done) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return -ENOMEM;
		*g = (struct revert_group){ .left = 1, .done = done, .ctx = ctx };
	}
	/* Ended in time: the watchdog need not step in, however long the reverts take. */
	watchdog_lease_end(l->id);
	for (f = a->faults; f; f = next) {
		next = f->next;
		if (f->lease != l)
			continue;
		n++;
		if (group_revert(g, f, why, &later)) {
			/* Keep the fault (and its journal record) for a later retry, leaseless. */
			f->lease_id[0] = '\0';
			failed++;
		}
		/* Still live (reverting off the loop, or applying): the lease goes now. */
		if (fault_state_live(f->state))
			f->lease = NULL;
	}
	if (after_apply)
		*after_apply = later;
	events_emit(a->events, "lease.ended",
		    json_pack("{s:s, s:s, s:i, s:i, s:i}", "lease", l->id, "reason", why, "faults",
			      n, "revert_failures", failed, "reverts_after_apply", later));
	l->closing = 1;
	for (struct lease **p = &a->leases; *p; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			break;
		}
	}
	uv_timer_stop(&l->timer);
	uv_close((uv_handle_t *)&l->timer, lease_closed);
	failed = group_started(g, failed);
	return failed > 0 ? -EIO : failed;
}

int core_lease_end(struct lease *l, const char *why)
{
	return core_lease_end_then(l, why, NULL, NULL, NULL);
}

/* ---- recovery ---- */

void core_free(struct agent *a)
{
	while (a->leases) {
		struct lease *l = a->leases;

		a->leases = l->next;
		l->closing = 1;
		uv_timer_stop(&l->timer);
		uv_close((uv_handle_t *)&l->timer, lease_closed);
	}
	/*
	 * A fault a worker thread is still applying stays: apply_done() reverts it (the revert
	 * core_revert_all() asked for) and forgets it; the work request keeps the loop running
	 * until then.
	 */
	for (struct fault *f = a->faults, *next; f; f = next) {
		next = f->next;
		if (f->busy)
			f->lease = NULL;
		else
			fault_destroy(f);
	}
}
