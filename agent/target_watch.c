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

/* The pidfd of the container's main process, polled; closed with its handle. */
struct pid_poll {
	uv_poll_t h;
	int fd;
	struct target_watch *w;
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
};

static void poll_closed(uv_handle_t *h)
{
	struct pid_poll *p = h->data;

	close(p->fd);
	free(p);
}

static void disarm(struct target_watch *w)
{
	if (!w->poll)
		return;
	uv_poll_stop(&w->poll->h);
	uv_close((uv_handle_t *)&w->poll->h, poll_closed);
	w->poll = NULL;
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

static void pid_exited(uv_poll_t *h, int status, int events)
{
	struct pid_poll *p = h->data;

	(void)status;
	(void)events;
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
static int arm(struct target_watch *w)
{
	struct fault *f = w->f;
	struct pid_poll *p;
	int ret, fd;

	ret = f->type->target_container(f, &w->t);
	if (ret)
		return ret;
	fd = pidfd_open(w->t.pid, 0);
	if (fd < 0 && errno != ESRCH)
		return -errno;
	/* Opened after the start time was read: the same process, or gone now. */
	if (fd < 0 || procfs_starttime(w->t.pid) != w->t.starttime) {
		if (fd >= 0)
			close(fd);
		uv_timer_start(&w->timer, gone_later, 0, 0);
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	p->fd = fd;
	p->w = w;
	p->h.data = p;
	ret = uv_poll_init(f->agent->loop, &p->h, fd);
	if (ret) {
		close(fd);
		free(p);
		return ret;
	}
	w->poll = p;
	ret = uv_poll_start(&p->h, UV_READABLE, pid_exited);
	if (ret)
		disarm(w);
	return ret;
}

static void watch_closed(uv_handle_t *h)
{
	struct target_watch *w = h->data;

	w->closed = true;
	if (!w->looking)
		watch_destroy(w);
}

int target_watch_start(struct fault *f, const struct target_watch_hooks *hooks)
{
	const struct container_ref *c = exp_fault_container(f->spec);
	struct target_watch *w;
	int ret;

	if (!f->type->target_container || f->watch)
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
	ret = arm(w);
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

json_t *target_watch_json(const struct target_watch *w)
{
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
