/*
 * process.kill: send a signal to the selected processes, once or every interval for the
 * fault's duration (Chaos Monkey style: each round selects again among the current matches,
 * so a restarted worker is hit again). Signals go through pidfds checked against the start
 * time (procsel_signal), so a recycled pid is never hit. Each round chooses with
 * pick_round_seed(seed, round); every kill is an event with its round and the fault's seed,
 * so giving that seed again reproduces the run against the same processes.
 *
 * A signal cannot be undone: revert only stops the rounds, and a crashed agent's rounds stop
 * with it. The journal records each round before its signals, so cleanup can say honestly
 * what had been done.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>

#include "agent.h"
#include "core.h"
#include "events.h"
#include "exp.h"
#include "fault.h"
#include "log.h"
#include "pick.h"
#include "policy.h"
#include "procsel.h"
#include "timefmt.h"

/* Kills kept in the status (the newest); the events have every one. */
#ifndef KILL_STATUS_MAX
#define KILL_STATUS_MAX 256
#endif

struct kill_priv {
	struct fault *f;
	struct procsel_guard guard;
	uint64_t seed;
	int signal;
	char signal_name[16];
	uint64_t interval_ns;	 /* 0: once */
	uint64_t rounds_planned; /* rounds at 0, interval, 2 interval, ... before the end */
	uint64_t round;		 /* rounds started */
	uint64_t start_ms; /* uv_hrtime() of round 0, in ms (the apply may run off the loop) */
	uint64_t kills, gone, missed, failed;
	uint64_t matched;	/* matches in the last round that found any, before the choice */
	uint64_t kills_dropped; /* older kills no longer in recent */
	json_t *recent;		/* the newest kills: {round, pid, comm, time} */
	uv_timer_t timer;
	bool timer_inited, timer_started;
	/*
	 * Round 0 runs in apply, on a worker thread (fault_ops.off_loop): its events wait here
	 * ([type, fields] pairs) until kill_after_apply() emits them on the loop.
	 */
	json_t *deferred;
	/* "round N: " and a round's error (FAULT_ERR_SIZE), whole. */
	char last_error[FAULT_ERR_SIZE + 32];
};

static void signal_name(int sig, char *buf, size_t size)
{
	const char *abbrev = sigabbrev_np(sig);

	/* Real-time signals have no abbreviation: SIGRTMIN+n as kill -l writes them. */
	if (abbrev)
		snprintf(buf, size, "SIG%s", abbrev);
	else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, size, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, size, "%d", sig);
}

static const char *lease_id(const struct fault *f)
{
	return f->lease_id;
}

static void emit(struct kill_priv *p, const char *type, json_t *fields)
{
	struct fault *f = p->f;

	json_t *common = json_pack("{s:s, s:s, s:s, s:I, s:i, s:s}", "fault", f->id, "fault_type",
				   f->type->name, "lease", lease_id(f), "seed", (json_int_t)p->seed,
				   "signal", p->signal, "signal_name", p->signal_name);

	if (fields && common)
		json_object_update_missing(fields, common);
	json_decref(common);
	if (p->deferred) {
		/* Off the loop: the event stream is the loop's. */
		json_array_append_new(p->deferred, json_pack("[s, o?]", type, fields));
		return;
	}
	events_emit(f->agent->events, type, fields);
}

/* The undo record: what has been done so far, written before each round's signals. */
static int journal_round(struct kill_priv *p, const struct proc_match *m, size_t n)
{
	json_t *targets = json_array(), *undo;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(targets, json_pack("{s:i, s:I, s:s}", "pid", (int)m[i].pid,
							 "starttime", (json_int_t)m[i].starttime,
							 "comm", m[i].comm));
	undo = json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "signal", p->signal,
			 "signal_name", p->signal_name, "seed", (json_int_t)p->seed, "interval_ms",
			 (json_int_t)(p->interval_ns / 1000000), "rounds_planned",
			 (json_int_t)p->rounds_planned, "round", (json_int_t)p->round,
			 "kills_before", (json_int_t)p->kills, "targets", targets);
	if (!undo)
		return -ENOMEM;
	json_decref(p->f->undo);
	p->f->undo = undo;
	return fault_journal(p->f);
}

static void record_kill(struct kill_priv *p, const struct proc_match *m)
{
	char when[40];
	json_t *k;

	timefmt_now_iso(when, sizeof(when));
	k = json_pack("{s:I, s:i, s:s, s:s}", "round", (json_int_t)p->round, "pid", (int)m->pid,
		      "comm", m->comm, "time", when);
	if (json_array_size(p->recent) >= KILL_STATUS_MAX) {
		json_array_remove(p->recent, 0);
		p->kills_dropped++;
	}
	json_array_append_new(p->recent, k);
	p->kills++;
	log_info("fault %s: round %llu: sent %s to pid %d (%s)", p->f->id,
		 (unsigned long long)p->round, p->signal_name, (int)m->pid, m->comm);
	emit(p, "process.killed",
	     json_pack("{s:I, s:i, s:s, s:I}", "round", (json_int_t)p->round, "pid", (int)m->pid,
		       "comm", m->comm, "starttime", (json_int_t)m->starttime));
}

/*
 * One round: select, journal, signal. Round 0 runs inside apply, where any failure fails the
 * fault (err filled in); later rounds record a failure in the events and go on.
 */
static int kill_round(struct kill_priv *p, char *err, size_t size)
{
	const struct fault_spec *s = p->f->spec;
	struct proc_match *m = NULL;
	size_t n = 0, matched = 0, signalled = 0;
	int ret;

	ret = procsel_select(&s->target.proc, &p->guard, pick_round_seed(p->seed, p->round), &m, &n,
			     &matched, err, size);
	if (ret)
		return ret;
	p->matched = matched;
	/* Before any signal, the record says which processes this round targets. */
	ret = journal_round(p, m, n);
	if (ret) {
		snprintf(err, size, "cannot write the journal record: %s", strerror(-ret));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int e = procsel_signal(m[i].pid, m[i].starttime, p->signal);

		if (e == -ESRCH) {
			/* Exited (or its pid reused) since the selection: not ours to hit. */
			p->gone++;
			continue;
		}
		if (e) {
			p->failed++;
			snprintf(err, size, "signalling pid %d (%s): %s", (int)m[i].pid, m[i].comm,
				 strerror(-e));
			ret = e;
			continue;
		}
		signalled++;
		record_kill(p, &m[i]);
	}
	if (!ret && !signalled) {
		snprintf(err, size, "every selected process exited before it could be signalled");
		ret = -ESRCH;
	}
out:
	free(m);
	return ret;
}

static void round_due(uv_timer_t *t);

/* Arm the next round at start + round * interval, so a late round does not shift the rest. */
static void schedule(struct kill_priv *p)
{
	uint64_t due, now;

	if (!p->interval_ns || p->round >= p->rounds_planned)
		return;
	due = p->start_ms + p->round * p->interval_ns / 1000000;
	now = uv_hrtime() / 1000000;
	uv_timer_start(&p->timer, round_due, due > now ? due - now : 0, 0);
	p->timer_started = true;
}

static void round_due(uv_timer_t *t)
{
	struct kill_priv *p = t->data;
	char err[FAULT_ERR_SIZE] = "";
	int ret;

	if (p->f->state != FAULT_ACTIVE)
		return;
	ret = kill_round(p, err, sizeof(err));
	if (ret) {
		/* Chaos Monkey style: a round that finds nobody (all restarting) is not the end. */
		if (ret == -ESRCH)
			p->missed++;
		snprintf(p->last_error, sizeof(p->last_error), "round %llu: %s",
			 (unsigned long long)p->round, err);
		log_warn("fault %s: %s", p->f->id, p->last_error);
		emit(p, ret == -ESRCH ? "process.kill_missed" : "process.kill_failed",
		     json_pack("{s:I, s:s}", "round", (json_int_t)p->round, "reason", err));
	}
	p->round++;
	schedule(p);
}

static int proc_probe(const struct agent *a, char *why, size_t size)
{
	return procsel_probe(why, size);
}

static int kill_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_spec *s = f->spec;

	/* The loader guarantees these; the agent does not rely on it. */
	if (s->params.kill.interval_ns && !f->duration_ms) {
		snprintf(err, size, "duration: a process.kill with an interval needs a duration");
		return -EINVAL;
	}
	if (!s->params.kill.interval_ns && f->duration_ms) {
		snprintf(err, size, "duration: a process.kill without interval signals once");
		return -EINVAL;
	}
	return 0;
}

static int kill_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_spec *s = f->spec;
	struct kill_priv *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	p->recent = json_array();
	if (!p->recent) {
		free(p);
		return -ENOMEM;
	}
	p->f = f;
	f->priv = p;
	/* Events wait for the loop (kill_after_apply()), also when this runs on it. */
	p->deferred = json_array();
	if (!p->deferred)
		return -ENOMEM;
	procsel_guard_init(&p->guard, f->peer_pid, a->policy);
	p->seed = procsel_seed(&s->target.proc);
	p->signal = s->params.kill.signal;
	signal_name(p->signal, p->signal_name, sizeof(p->signal_name));
	p->interval_ns = (uint64_t)s->params.kill.interval_ns;
	/* Rounds k with k * interval < duration: the last one before the duration ends. */
	p->rounds_planned =
		p->interval_ns ? ((uint64_t)s->duration_ns + p->interval_ns - 1) / p->interval_ns
			       : 1;
	p->start_ms = uv_hrtime() / 1000000;
	ret = kill_round(p, err, size);
	if (ret)
		return ret;
	p->round = 1;
	if (!p->interval_ns)
		f->completed = true;
	return 0;
}

/*
 * On the loop once the apply ended: the timer (freed with the fault), round 0's events in
 * their order, and, for an active interval fault, the next round armed.
 */
static void kill_after_apply(struct fault *f, int ret)
{
	struct kill_priv *p = f->priv;
	json_t *ev = p ? p->deferred : NULL, *item;
	size_t i;

	if (!p)
		return;
	uv_timer_init(f->agent->loop, &p->timer);
	p->timer.data = p;
	p->timer_inited = true;
	p->deferred = NULL;
	json_array_foreach(ev, i, item)
		events_emit(f->agent->events, json_string_value(json_array_get(item, 0)),
			    json_incref(json_array_get(item, 1)));
	json_decref(ev);
	if (!ret && !f->completed)
		schedule(p);
}

static bool kill_on_loop(const struct fault *f)
{
	return f->spec->target.proc.pid != 0;
}

static int kill_revert(struct agent *a, struct fault *f, char *err, size_t size)
{
	struct kill_priv *p = f->priv;

	if (!p)
		return 0;
	/* What was killed stays killed; reverting only stops further rounds. */
	if (p->timer_started)
		uv_timer_stop(&p->timer);
	log_info("fault %s: stopped after %llu of %llu round%s, %llu kill%s", f->id,
		 (unsigned long long)p->round, (unsigned long long)p->rounds_planned,
		 p->rounds_planned == 1 ? "" : "s", (unsigned long long)p->kills,
		 p->kills == 1 ? "" : "s");
	return 0;
}

static json_t *kill_describe(const struct fault *f)
{
	const struct kill_priv *p = f->priv;
	json_t *o;

	if (!p)
		return NULL;
	o = json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:O}", "signal", p->signal,
		      "signal_name", p->signal_name, "seed", (json_int_t)p->seed, "rounds",
		      (json_int_t)p->round, "rounds_planned", (json_int_t)p->rounds_planned,
		      "kills", (json_int_t)p->kills, "gone", (json_int_t)p->gone, "missed_rounds",
		      (json_int_t)p->missed, "failed", (json_int_t)p->failed, "recent", p->recent);
	if (!o)
		return NULL;
	if (p->interval_ns)
		json_object_set_new(o, "interval_ms",
				    json_integer((json_int_t)(p->interval_ns / 1000000)));
	json_object_set_new(o, "matched", json_integer((json_int_t)p->matched));
	if (p->kills_dropped)
		json_object_set_new(o, "recent_dropped",
				    json_integer((json_int_t)p->kills_dropped));
	if (p->last_error[0])
		json_object_set_new(o, "last_error", json_string(p->last_error));
	return o;
}

/*
 * A crashed agent's rounds died with it: there is nothing to stop and nothing a signal
 * left that could be undone. Say what the record shows had been done.
 */
static int kill_cleanup(struct agent *a, const json_t *undo, char *report, size_t size)
{
	json_int_t round = 0, planned = 0, kills = 0, interval = 0;
	const char *sig = "?";
	json_t *targets;
	size_t off;

	if (!undo) {
		snprintf(report, size, "no process had been signalled; nothing to undo");
		return 0;
	}
	json_unpack((json_t *)undo, "{s?s, s?I, s?I, s?I, s?I}", "signal_name", &sig, "round",
		    &round, "rounds_planned", &planned, "kills_before", &kills, "interval_ms",
		    &interval);
	targets = json_object_get(undo, "targets");
	if (interval)
		off = snprintf(report, size,
			       "%s every %lld ms ended by the agent's crash in round %lld of %lld "
			       "(%lld kill%s before it); nothing repeats after a crash",
			       sig, (long long)interval, (long long)round + 1, (long long)planned,
			       (long long)kills, kills == 1 ? "" : "s");
	else
		off = snprintf(report, size, "one-shot %s interrupted by the agent's crash", sig);
	if (off < size)
		snprintf(report + off, size - off,
			 "; the last round targeted %zu process%s, which may have been signalled; "
			 "signals cannot be undone",
			 json_array_size(targets), json_array_size(targets) == 1 ? "" : "es");
	return 0;
}

static void kill_timer_closed(uv_handle_t *h)
{
	struct kill_priv *p = h->data;

	json_decref(p->recent);
	free(p);
}

static void kill_free_priv(struct fault *f)
{
	struct kill_priv *p = f->priv;

	if (!p)
		return;
	f->priv = NULL;
	json_decref(p->deferred);
	p->deferred = NULL;
	if (!p->timer_inited) {
		/* An apply that never reached the loop's after_apply: no handle to close. */
		json_decref(p->recent);
		free(p);
		return;
	}
	/* The timer handle is libuv's until its close callback: free the rest there. */
	uv_close((uv_handle_t *)&p->timer, kill_timer_closed);
}

const struct fault_ops fault_proc_kill = {
	.name = "process.kill",
	/* Signals to any uid's processes; /proc/PID/exe of other users for exe selectors. */
	.caps = 1ULL << CAP_KILL | 1ULL << CAP_SYS_PTRACE,
	.probe = proc_probe,
	.validate = kill_validate,
	.apply = kill_apply,
	.revert = kill_revert,
	.resolve = fault_proc_resolve,
	.describe = kill_describe,
	.cleanup = kill_cleanup,
	.free_priv = kill_free_priv,
	.after_apply = kill_after_apply,
	/* The /proc scan of a selector off the loop; a pid selector reads one entry: on it. */
	.off_loop = true,
	.apply_on_loop = kill_on_loop,
};
