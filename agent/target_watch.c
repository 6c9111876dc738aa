/*
 * Watching the container a fault acts in (see target_watch.h): its main process as a pidfd
 * on the loop, and, for a fault that follows restarts, the look for the container that comes
 * back and the apply to it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "agent.h"
#include "container.h"
#include "exp.h"
#include "fault.h"
#include "journal.h"
#include "log.h"
#include "procfs.h"
#include "caps.h"
#include "target_watch.h"
#include "timefmt.h"

struct member_watch;

/* The pidfd of the container's main process, polled; closed with its handle. */
struct pid_poll {
	uv_poll_t h;
	int fd;
	struct target_watch *w;
	struct member_watch *m; /* the member's, over several containers; NULL: the one's */
};

/* One container of a fault over several. */
struct member_watch {
	struct fault_target t;
	struct pid_poll *poll; /* while it runs */
	bool exited;	       /* its main process exited */
	bool dropped;	       /* and it is out of the fault */
	bool drop_failed;      /* its removal failed: the fault's revert retries it */
	char exited_at[40];
	char error[FAULT_ERR_SIZE];
};

struct target_watch {
	struct fault *f; /* NULL once released */
	const struct target_watch_hooks *hooks;
	struct fault_target t;
	bool follow; /* the target's follow_restarts */
	bool gone;   /* the container exited; the fault waits for it */
	unsigned int reapplied;
	struct pid_poll *poll; /* while the container runs */
	uv_timer_t timer;      /* the look for it while gone (and a gone found at arming) */
	char exited_at[40];
	char last_error[FAULT_ERR_SIZE];
	bool stopped; /* the fault is being reverted: a look under way changes nothing */
	bool closed;  /* released and its timer closed: freed once no look is under way */
	/*
	 * The look itself (is a container of the target running?) asks the engine sockets,
	 * which may take seconds: on a worker thread, with a copy of the target's container.
	 */
	uv_work_t work;
	bool looking;
	struct container_ref ref; /* its strings are the watch's own copies */
	struct container_compose compose;
	int find_ret;
	char find_err[FAULT_ERR_SIZE];
	/* Over several containers (fault_ops.target_members): n_members, live still running. */
	struct member_watch *members;
	size_t n_members, live;
	/* The drop of one exited member, on a worker thread (the fault busy meanwhile). */
	uv_work_t drop_work;
	bool dropping;
	struct member_watch *drop_m;
	int drop_ret;
	char drop_err[FAULT_ERR_SIZE];
};

static void poll_closed(uv_handle_t *h)
{
	struct pid_poll *p = h->data;

	close(p->fd);
	free(p);
}

static void poll_drop(struct pid_poll **pp)
{
	if (!*pp)
		return;
	uv_poll_stop(&(*pp)->h);
	uv_close((uv_handle_t *)&(*pp)->h, poll_closed);
	*pp = NULL;
}

static void disarm(struct target_watch *w)
{
	poll_drop(&w->poll);
	for (size_t i = 0; i < w->n_members; i++)
		poll_drop(&w->members[i].poll);
}

/*
 * The fault's effect is gone with the container's (reverted) and its state with it: the
 * fault waits, holding nothing, with no journal record (a crash now leaves nothing to undo).
 */
static void drop_effect(struct fault *f)
{
	int err;

	if (f->type->free_priv)
		f->type->free_priv(f);
	f->priv = NULL;
	json_decref(f->undo);
	f->undo = NULL;
	json_decref(f->journaled_undo);
	f->journaled_undo = NULL;
	err = journal_remove(f->agent->journal, f->id);
	if (err && err != -ENOENT)
		log_warn("fault %s: removing its journal record: %s", f->id, strerror(-err));
}

/* End the fault: its revert is announced as fault.target_gone. f (and w) may be freed. */
static void end_gone(struct target_watch *w, const char *why)
{
	w->f->target_gone = true;
	w->hooks->end(w->f, why);
}

static void note_error(struct target_watch *w, const char *err)
{
	if (!strcmp(w->last_error, err))
		return;
	snprintf(w->last_error, sizeof(w->last_error), "%s", err);
	log_warn("fault %s: looking for %s again: %s", w->f->id, w->t.desc, err);
}

static int arm(struct target_watch *w);

/* A container of the target runs again: resolve it on the loop and apply the fault to it. */
static void apply_again(struct target_watch *w)
{
	struct fault *f = w->f;
	char err[FAULT_ERR_SIZE] = "", why[FAULT_ERR_SIZE] = "", reason[FAULT_ERR_SIZE + 96];
	int ret;

	/* Resolved anew by the fault's own target: same id, name or compose service. */
	ret = w->hooks->conflicts(f, err, sizeof(err));
	if (!ret)
		ret = f->type->validate(f->agent, f, err, sizeof(err));
	if (ret) {
		if (f->priv && f->type->free_priv)
			f->type->free_priv(f);
		f->priv = NULL;
		if (ret != -ESRCH)
			note_error(w, err);
		return;
	}
	/*
	 * On the loop (one container's namespace): with the type's lane, which waits for an
	 * off-loop apply or revert of the same kind in flight (fault_ops.lane).
	 */
	fault_lane_enter(f);
	ret = f->type->apply(f->agent, f, err, sizeof(err));
	if (ret && f->type->revert(f->agent, f, why, sizeof(why)))
		ret = -EAGAIN; /* something of the failed apply is left */
	fault_lane_leave(f);
	if (ret) {
		if (ret == -EAGAIN) {
			/* Something of the failed apply is left: the core's revert retries it. */
			log_err("fault %s: cleaning up a failed apply in %s: %s", f->id, w->t.desc,
				why);
			uv_timer_stop(&w->timer);
			snprintf(reason, sizeof(reason), "%s came back but the apply failed: %s",
				 w->t.desc, err);
			end_gone(w, reason);
			return;
		}
		drop_effect(f);
		note_error(w, err[0] ? err : strerror(-ret));
		return;
	}
	uv_timer_stop(&w->timer);
	w->gone = false;
	w->reapplied++;
	w->last_error[0] = '\0';
	/* The rules take the lease's deadline now, as at the first apply. */
	if (f->type->lease_renewed && f->lease)
		f->type->lease_renewed(f);
	ret = arm(w);
	if (ret)
		log_warn("fault %s: cannot watch %s any more: %s", f->id, w->t.desc,
			 strerror(-ret));
	snprintf(reason, sizeof(reason),
		 "%s is back (main pid %d): applied again (%u of at most %d)", w->t.desc,
		 (int)w->t.pid, w->reapplied, TARGET_FOLLOW_MAX);
	log_info("fault %s (%s): %s", f->id, f->type->name, reason);
	w->hooks->event(f, "fault.reapplied", reason);
}

/* On a worker thread: does a container of the target run? Reads only the watch's copies. */
static void find_work(uv_work_t *req)
{
	struct target_watch *w = req->data;
	struct ctr_info *v = NULL;
	size_t n = 0;

	w->find_err[0] = '\0';
	/* The agent's capabilities only, on a pool thread started before it dropped the rest. */
	if (caps_thread_sync())
		log_warn("target watch: cannot restrict a worker thread's capabilities");
	w->find_ret = ctr_resolve(&w->ref, &v, &n, w->find_err, sizeof(w->find_err));
	free(v);
}

static void watch_destroy(struct target_watch *w)
{
	free(w->members);
	free(w->ref.id);
	free(w->ref.name);
	free(w->compose.project);
	free(w->compose.service);
	free(w);
}

static void find_done(uv_work_t *req, int status)
{
	struct target_watch *w = req->data;

	(void)status;
	w->looking = false;
	if (w->closed) {
		if (!w->dropping)
			watch_destroy(w);
		return;
	}
	if (!w->f || w->stopped || !w->gone)
		return;
	if (!w->find_ret)
		apply_again(w);
	else if (w->find_ret != -ESRCH)
		note_error(w, w->find_err);
}

static void look_again(uv_timer_t *t)
{
	struct target_watch *w = t->data;

	if (w->looking)
		return;
	w->looking = true;
	w->work.data = w;
	if (uv_queue_work(w->f->agent->loop, &w->work, find_work, find_done)) {
		/* The pool refused the work (it never does once started): look on the loop. */
		w->looking = false;
		apply_again(w);
	}
}

/* The container's main process exited (or was gone when the watch was armed). */
static void gone(struct target_watch *w)
{
	struct fault *f = w->f;
	char why[FAULT_ERR_SIZE + 64], err[FAULT_ERR_SIZE] = "";
	int ret;

	disarm(w);
	timefmt_now_iso(w->exited_at, sizeof(w->exited_at));
	if (!w->follow || w->reapplied >= TARGET_FOLLOW_MAX) {
		if (w->follow)
			snprintf(why, sizeof(why),
				 "%s exited (main pid %d) after it was applied again %u times, the "
				 "limit",
				 w->t.desc, (int)w->t.pid, w->reapplied);
		else
			snprintf(why, sizeof(why), "%s exited (main pid %d)", w->t.desc,
				 (int)w->t.pid);
		log_warn("fault %s (%s): %s: the fault ends", f->id, f->type->name, why);
		end_gone(w, why);
		return;
	}
	/* What the agent holds in its namespace goes now (an fd keeps it reachable). */
	fault_lane_enter(f);
	ret = f->type->revert(f->agent, f, err, sizeof(err));
	fault_lane_leave(f);
	if (ret) {
		snprintf(why, sizeof(why), "%s exited (main pid %d); reverting: %s", w->t.desc,
			 (int)w->t.pid, err);
		end_gone(w, why);
		return;
	}
	drop_effect(f);
	w->gone = true;
	snprintf(why, sizeof(why),
		 "%s exited (main pid %d): reverted; looking for it again every %d ms while the "
		 "fault lasts",
		 w->t.desc, (int)w->t.pid, TARGET_FOLLOW_PERIOD_MS);
	log_info("fault %s (%s): %s", f->id, f->type->name, why);
	w->hooks->event(f, "fault.target_exited", why);
	uv_timer_start(&w->timer, look_again, TARGET_FOLLOW_PERIOD_MS, TARGET_FOLLOW_PERIOD_MS);
}

static void member_exited(struct target_watch *w, struct member_watch *m);

static void pid_exited(uv_poll_t *h, int status, int events)
{
	struct pid_poll *p = h->data;

	(void)status;
	(void)events;
	if (p->m)
		member_exited(p->w, p->m);
	else
		gone(p->w);
}

static void gone_later(uv_timer_t *t)
{
	gone(t->data);
}

/*
 * Hold the main process the fault's type names as a pidfd and poll it. A process already
 * gone (or a pid that is another process now) is found gone on the next loop turn, after
 * the caller is done with the fault.
 */
/*
 * Poll the main process of t (*out set), or -ESRCH when it is gone already (or its pid is
 * another process now). 0 or -errno.
 */
static int poll_pid(struct target_watch *w, struct member_watch *m, const struct fault_target *t,
		    struct pid_poll **out)
{
	struct pid_poll *p;
	int ret, fd;

	fd = pidfd_open(t->pid, 0);
	if (fd < 0)
		return errno == ESRCH ? -ESRCH : -errno;
	/* Opened after the start time was read: the same process, or gone now. */
	if (procfs_starttime(t->pid) != t->starttime) {
		close(fd);
		return -ESRCH;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	p->fd = fd;
	p->w = w;
	p->m = m;
	p->h.data = p;
	ret = uv_poll_init(w->f->agent->loop, &p->h, fd);
	if (ret) {
		close(fd);
		free(p);
		return ret;
	}
	*out = p;
	ret = uv_poll_start(&p->h, UV_READABLE, pid_exited);
	if (ret)
		poll_drop(out);
	return ret;
}

static int arm(struct target_watch *w)
{
	struct fault *f = w->f;
	int ret;

	ret = f->type->target_container(f, &w->t);
	if (ret)
		return ret;
	ret = poll_pid(w, NULL, &w->t, &w->poll);
	if (ret == -ESRCH) {
		/* Found gone on the next loop turn, after the caller is done with the fault. */
		uv_timer_start(&w->timer, gone_later, 0, 0);
		return 0;
	}
	return ret;
}

/* ---- a fault over several containers ---- */

static void start_drop(struct target_watch *w);

static void drop_work(uv_work_t *req)
{
	struct target_watch *w = req->data;
	struct fault *f = w->f;

	w->drop_err[0] = '\0';
	if (caps_thread_sync())
		log_warn("target watch: cannot restrict a worker thread's capabilities");
	fault_lane_enter(f);
	w->drop_ret = f->type->drop_member(f, w->drop_m->t.id, w->drop_err, sizeof(w->drop_err));
	fault_lane_leave(f);
}

/* Back on the loop: the member is out (announced), or its removal is left to the revert. */
static void drop_done(uv_work_t *req, int status)
{
	struct target_watch *w = req->data;
	struct member_watch *m = w->drop_m;
	struct fault *f = w->f;
	char why[FAULT_ERR_SIZE * 2 + 160];
	json_t *extra;

	(void)status;
	w->dropping = false;
	if (w->closed) {
		if (!w->looking)
			watch_destroy(w);
		return;
	}
	if (!f)
		return;
	f->busy = false;
	if (!w->drop_ret) {
		m->dropped = true;
		snprintf(why, sizeof(why),
			 "%s exited (main pid %d): dropped from the fault (its rules and program "
			 "removed from its network namespace); %zu of %zu containers still run",
			 m->t.desc, (int)m->t.pid, w->live, w->n_members);
		log_info("fault %s (%s): %s", f->id, f->type->name, why);
	} else {
		m->drop_failed = true;
		snprintf(m->error, sizeof(m->error), "%s",
			 w->drop_err[0] ? w->drop_err : strerror(-w->drop_ret));
		snprintf(why, sizeof(why),
			 "%s exited (main pid %d); removing the fault from its network namespace "
			 "failed (%s): the fault's revert retries it; %zu of %zu containers still "
			 "run",
			 m->t.desc, (int)m->t.pid, m->error, w->live, w->n_members);
		log_err("fault %s (%s): %s", f->id, f->type->name, why);
	}
	extra = json_pack("{s:s, s:s, s:i, s:b}", "container", m->t.id, "desc", m->t.desc,
			  "remaining", (int)w->live, "removed", !w->drop_ret);
	w->hooks->member_event(f, "fault.member_gone", why, extra);
	/* A revert asked for meanwhile starts now (the watch is then stopped). */
	w->hooks->resume(f);
	if (w->f && !w->stopped)
		start_drop(w);
}

/* Drop the next exited member, off the loop, if nothing else runs on the fault. */
static void start_drop(struct target_watch *w)
{
	struct fault *f = w->f;
	struct member_watch *m = NULL;

	if (w->dropping || !f || w->stopped || f->busy || f->state != FAULT_ACTIVE ||
	    f->revert_why)
		return;
	for (size_t i = 0; i < w->n_members && !m; i++)
		if (w->members[i].exited && !w->members[i].dropped && !w->members[i].drop_failed)
			m = &w->members[i];
	if (!m)
		return;
	w->dropping = true;
	w->drop_m = m;
	w->drop_work.data = w;
	f->busy = true;
	if (uv_queue_work(f->agent->loop, &w->drop_work, drop_work, drop_done)) {
		/* The pool refused the work (it never does once started): drop on the loop. */
		drop_work(&w->drop_work);
		drop_done(&w->drop_work, 0);
	}
}

/* A member's main process exited (or was gone when the watch was armed). */
static void member_exited(struct target_watch *w, struct member_watch *m)
{
	struct fault *f = w->f;
	char why[FAULT_ERR_SIZE + 96];

	if (m->exited || !f)
		return;
	poll_drop(&m->poll);
	m->exited = true;
	timefmt_now_iso(m->exited_at, sizeof(m->exited_at));
	w->live--;
	if (!w->live) {
		snprintf(why, sizeof(why), "every one of its %zu containers exited, the last %s "
			 "(main pid %d)", w->n_members, m->t.desc, (int)m->t.pid);
		log_warn("fault %s (%s): %s: the fault ends", f->id, f->type->name, why);
		end_gone(w, why);
		return;
	}
	log_info("fault %s (%s): %s exited (main pid %d); %zu of its %zu containers still run: "
		 "dropping it", f->id, f->type->name, m->t.desc, (int)m->t.pid, w->live,
		 w->n_members);
	start_drop(w);
}

static void members_gone_later(uv_timer_t *t)
{
	struct target_watch *w = t->data;

	for (size_t i = 0; i < w->n_members && w->f && !w->stopped; i++)
		if (!w->members[i].exited && !w->members[i].poll)
			member_exited(w, &w->members[i]);
}

/* Watch every member of a fault over several containers. 0, -ENOENT (not one) or -errno. */
static int arm_members(struct target_watch *w)
{
	struct fault *f = w->f;
	struct fault_target *t = NULL;
	size_t n = 0;
	bool late = false;
	int ret;

	if (!f->type->target_members || !f->type->drop_member)
		return -ENOENT;
	ret = f->type->target_members(f, &t, &n);
	if (ret)
		return ret;
	w->members = calloc(n, sizeof(*w->members));
	if (!w->members) {
		free(t);
		return -ENOMEM;
	}
	w->n_members = w->live = n;
	for (size_t i = 0; i < n && !ret; i++) {
		w->members[i].t = t[i];
		ret = poll_pid(w, &w->members[i], &w->members[i].t, &w->members[i].poll);
		if (ret == -ESRCH) {
			late = true;
			ret = 0;
		}
	}
	free(t);
	if (ret)
		return ret;
	if (late)
		uv_timer_start(&w->timer, members_gone_later, 0, 0);
	return 0;
}

static void watch_closed(uv_handle_t *h)
{
	struct target_watch *w = h->data;

	w->closed = true;
	if (!w->looking && !w->dropping)
		watch_destroy(w);
}

int target_watch_start(struct fault *f, const struct target_watch_hooks *hooks)
{
	const struct container_ref *c = exp_fault_container(f->spec);
	struct target_watch *w;
	int ret;

	if ((!f->type->target_container && !f->type->target_members) || f->watch)
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->f = f;
	w->hooks = hooks;
	w->follow = c && c->follow_restarts;
	uv_timer_init(f->agent->loop, &w->timer);
	w->timer.data = w;
	/* The target's container, copied: a look on a worker thread reads it, never the spec. */
	if (w->follow) {
		w->ref.runtime = c->runtime;
		w->ref.id = c->id ? strdup(c->id) : NULL;
		w->ref.name = c->name ? strdup(c->name) : NULL;
		if (c->compose) {
			w->compose.project = strdup(c->compose->project);
			w->compose.service = strdup(c->compose->service);
			w->ref.compose = &w->compose;
		}
		if ((c->id && !w->ref.id) || (c->name && !w->ref.name) ||
		    (c->compose && (!w->compose.project || !w->compose.service))) {
			target_watch_free(w);
			return -ENOMEM;
		}
	}
	ret = f->type->target_container ? arm(w) : -ENOENT;
	/* Not one container: several, each watched (follow_restarts is refused for them). */
	if (ret == -ENOENT && !w->follow)
		ret = arm_members(w);
	if (ret) {
		target_watch_free(w);
		return ret == -ENOENT ? 0 : ret;
	}
	f->watch = w;
	return 0;
}

bool target_watch_stop(struct target_watch *w, const char *why, char *buf, size_t size)
{
	if (!w)
		return false;
	disarm(w);
	uv_timer_stop(&w->timer);
	w->stopped = true;
	if (w->gone)
		snprintf(buf, size, "%s; %s exited at %s and did not come back", why, w->t.desc,
			 w->exited_at);
	return w->gone;
}

void target_watch_free(struct target_watch *w)
{
	if (!w)
		return;
	disarm(w);
	w->f = NULL;
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, watch_closed);
}

static json_t *members_json(const struct target_watch *w)
{
	json_t *a = json_array(), *o;

	for (size_t i = 0; a && i < w->n_members; i++) {
		const struct member_watch *m = &w->members[i];

		o = json_pack("{s:s, s:s, s:i, s:I, s:s}", "container", m->t.id, "desc", m->t.desc,
			      "pid", (int)m->t.pid, "netns", (json_int_t)m->t.netns, "state",
			      m->dropped ? "gone" : m->exited ? "exiting" : "running");
		if (o && m->exited_at[0])
			json_object_set_new(o, "exited_at", json_string(m->exited_at));
		if (o && m->error[0])
			json_object_set_new(o, "error", json_string(m->error));
		if (!o || json_array_append_new(a, o)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *target_watch_json(const struct target_watch *w)
{
	if (w->members)
		return json_pack("{s:b, s:s, s:i, s:i, s:o*}", "follow_restarts", false, "state",
				 w->live ? "running" : "gone", "containers", (int)w->n_members,
				 "remaining", (int)w->live, "members", members_json(w));

	json_t *o = json_pack("{s:s, s:s, s:i, s:I, s:b, s:s, s:i}", "container", w->t.id, "desc",
			      w->t.desc, "pid", (int)w->t.pid, "netns", (json_int_t)w->t.netns,
			      "follow_restarts", w->follow, "state", w->gone ? "gone" : "running",
			      "reapplied", (int)w->reapplied);

	if (!o)
		return NULL;
	if (w->exited_at[0])
		json_object_set_new(o, "exited_at", json_string(w->exited_at));
	if (w->last_error[0])
		json_object_set_new(o, "last_error", json_string(w->last_error));
	return o;
}
