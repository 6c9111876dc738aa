/*
 * process.pause: stop the selected processes for the fault's duration and resume them on
 * revert: SIGSTOP/SIGCONT through pidfds, or the cgroup v2 freezer for a whole cgroup, or a
 * container's cgroup (its v1 freezer on v1 and hybrid hosts, where runtimes freeze it too).
 * The journal lists every process before it is stopped, so a crashed agent's successor
 * resumes them (checking the start time, so a recycled pid is never signalled).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include "procfs.h"
#include "agent.h"
#include "cgroup.h"
#include "container.h"
#include "exp.h"
#include "fault.h"
#include "log.h"
#include "policy.h"
#include "procsel.h"

static int freezer_path(const char *cgroup, char *buf, size_t size)
{
	char root[256];
	int err = cgroup_v2_root(root, sizeof(root));

	if (err)
		return err;
	if ((size_t)snprintf(buf, size, "%s%s/cgroup.freeze", root, cgroup) >= size)
		return -ENAMETOOLONG;
	return 0;
}

static int freezer_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	size_t len = strlen(val);

	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

static int freezer_read(const char *path, char *val)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, val, 1);
	if (n < 0)
		err = -errno;
	else if (n != 1)
		err = -EIO;
	close(fd);
	return err;
}

/*
 * What other pauses hold when this one is validated (on the loop, where the fault list may be
 * read): a process is never stopped by two signal pauses at once, because the first one's
 * SIGCONT would resume it while the second still claims it stopped.
 */
struct pause_held {
	pid_t pid;
	unsigned long long starttime;
	char fault[24];
	char name[64];
};

struct pause_priv {
	struct pause_held *held;
	size_t n;
	/* A container's freezer, resolved by validate: its control file and the container. */
	char freezer[CTR_PATH_MAX + 300];
	bool freezer_v1; /* freezer.state (FROZEN/THAWED), else cgroup.freeze (1/0) */
	char container[CTR_ID_LEN + 1];
	/*
	 * The one container the pause acts in (the freezer's, or the one whose processes a
	 * signal pause stopped), watched for its exit (target_watch.h); ctr.id "" when none.
	 */
	struct fault_target ctr;
};

static void ctr_target(struct fault_target *t, const struct ctr_info *c)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", c->id);
	snprintf(t->desc, sizeof(t->desc), "container %s (%.12s)", c->name[0] ? c->name : c->id,
		 c->id);
	t->pid = c->main_pid;
	t->starttime = c->main_start;
	t->netns = c->netns;
}

/* Whether a freezer control file is a v1 freezer.state (a container's), not cgroup.freeze. */
static bool freezer_is_v1(const char *path)
{
	static const char v1[] = "/freezer.state";
	size_t l = strlen(path);

	return l >= sizeof(v1) - 1 && !strcmp(path + l - (sizeof(v1) - 1), v1);
}

/* A v1 freezer.state: FROZEN, FREEZING or THAWED, without the newline. */
static int freezer_state(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		err = -errno;
	else {
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
	}
	close(fd);
	return err;
}

/*
 * Whether the kernel reports the freezer's cgroup frozen: 1, 0 (not yet: a task still runs
 * towards a point where it can stop), or -errno. A v1 freezer.state says FROZEN once every
 * task is, FREEZING until then; on v2 it is cgroup.events' "frozen" next to cgroup.freeze.
 */
static int freezer_frozen(const char *path)
{
	char events[CTR_PATH_MAX + 320], buf[512], *p;
	int fd, err;
	ssize_t n;

	if (freezer_is_v1(path)) {
		err = freezer_state(path, buf, sizeof(buf));
		return err ? err : !strcmp(buf, "FROZEN");
	}
	if ((size_t)snprintf(events, sizeof(events), "%.*s/cgroup.events",
			     (int)(strlen(path) - strlen("/cgroup.freeze")), path) >= sizeof(events))
		return -ENAMETOOLONG;
	fd = open(events, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	buf[n] = '\0';
	p = strstr(buf, "frozen ");
	return p ? p[7] == '1' : -EIO;
}

/* How long apply waits for the kernel to report the cgroup frozen, in steps of 2 ms. */
#define FREEZE_WAIT_MS 5000

/*
 * After the write that asks for the freeze: until every task has stopped, so the answer to
 * the apply means paused, not asked to pause (bounded: a task in uninterruptible sleep, on a
 * dead NFS server say, holds the cgroup in FREEZING; the apply still succeeds, the freeze
 * stays asked for, and the status says frozen: false until the kernel gets there).
 */
static void freezer_wait_frozen(const char *path)
{
	const struct timespec step = {.tv_nsec = 2 * 1000000L};

	for (int i = 0; i < FREEZE_WAIT_MS / 2; i++) {
		if (freezer_frozen(path))
			return; /* frozen, or nothing to read any more: the status will say */
		nanosleep(&step, NULL);
	}
	log_warn("%s: not frozen after %d s (a task in uninterruptible sleep?); the freeze "
		 "stays asked for",
		 path, FREEZE_WAIT_MS / 1000);
}

/*
 * The freezer of the one container target.container names: its v1 freezer hierarchy's
 * freezer.state where the host has one (runtimes freeze containers there on v1 and hybrid
 * hosts: `podman pause` reads the same state), else its unified cgroup's cgroup.freeze.
 * Nothing in it may be protected, and it counts against max_processes_per_fault.
 */
static int container_freezer(struct agent *a, struct fault *f, struct pause_priv *p, char *err,
			     size_t size)
{
	const struct fault_spec *s = f->spec;
	struct ctr_info *c = NULL;
	struct procsel_guard g;
	char root[256];
	int ret;

	ret = ctr_resolve_one(s->target.proc.container, "method freezer freezes one container",
			      "use method sigstop, or name one by id", &c, err, size);
	if (ret)
		return ret;
	memcpy(p->container, c[0].id, sizeof(p->container));
	ctr_target(&p->ctr, &c[0]);
	if (c[0].cg.freezer[0] && !ctr_freezer_v1_root(root, sizeof(root))) {
		snprintf(p->freezer, sizeof(p->freezer), "%s%s/freezer.state", root,
			 c[0].cg.freezer);
		p->freezer_v1 = true;
	} else if (c[0].cg.v2[0] && !cgroup_v2_root(root, sizeof(root))) {
		snprintf(p->freezer, sizeof(p->freezer), "%s%s/cgroup.freeze", root, c[0].cg.v2);
	} else {
		snprintf(err, size, "target.container: %.12s has no freezer cgroup here", c[0].id);
		ret = -EINVAL;
		goto out;
	}
	if (access(p->freezer, W_OK)) {
		ret = -errno;
		snprintf(err, size, "target.container: %.12s: %s: %s", c[0].id, p->freezer,
			 strerror(-ret));
		ret = -EINVAL;
		goto out;
	}
	/* Every process of the container is frozen: none may be protected, the cap holds. */
	procsel_guard_init(&g, f->peer_pid, a->policy);
	ret = procsel_container_guard(s->target.proc.container, &g, "frozen", err, size);
out:
	free(c);
	return ret;
}

/*
 * The state letter of /proc/PID/stat ('R', 'S', 'T' stopped, 't' traced, ...) of the process
 * pid that started at starttime; 'X' when that process is gone.
 */
static char proc_state(pid_t pid, unsigned long long starttime)
{
	char path[64], buf[1024], state = 'X', *close_paren;
	FILE *fp;

	if (procfs_starttime(pid) != starttime)
		return 'X';
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "re");
	if (!fp)
		return 'X';
	/* The comm may hold ')' itself: the state follows the last one. */
	if (fgets(buf, sizeof(buf), fp)) {
		close_paren = strrchr(buf, ')');
		if (close_paren && close_paren[1] == ' ' && close_paren[2])
			state = close_paren[2];
	}
	fclose(fp);
	return state;
}

/* Stopped by a signal (T) or by a tracer (t): not ours to stop, nor to resume. */
static bool state_stopped(char state)
{
	return state == 'T' || state == 't';
}

static int held_collect(const struct agent *a, const struct fault *f, struct pause_priv *p,
			char *err, size_t size)
{
	for (const struct fault *o = a->faults; o; o = o->next) {
		json_t *procs, *e;
		size_t i;

		if (o == f || o->type != f->type || fault_state_final(o->state))
			continue;
		/*
		 * A pause still being applied on a worker thread writes its undo record there:
		 * what it stops is not known (nor safe to read) until it is active. Refused, as a
		 * conflict the client may retry a moment later, rather than risk two pauses over
		 * one process.
		 */
		if (o->busy) {
			snprintf(err, size,
				 "process.pause %s is still being applied; what it stops is known "
				 "once it is active: retry then",
				 o->id);
			return -EBUSY;
		}
		procs = json_object_get(o->undo, "stopped");
		json_array_foreach(procs, i, e)
		{
			struct pause_held *h, *grown;

			/* One it found stopped is not held by it: its revert leaves it alone. */
			if (json_is_true(json_object_get(e, "already_stopped")))
				continue;
			grown = realloc(p->held, (p->n + 1) * sizeof(*p->held));
			if (!grown)
				return -ENOMEM;
			p->held = grown;
			h = &p->held[p->n++];
			h->pid = (pid_t)json_integer_value(json_object_get(e, "pid"));
			h->starttime = json_integer_value(json_object_get(e, "starttime"));
			snprintf(h->fault, sizeof(h->fault), "%s", o->id);
			snprintf(h->name, sizeof(h->name), "%s",
				 o->spec->name ? o->spec->name : "");
		}
	}
	return 0;
}

static const struct pause_held *held_find(const struct pause_priv *p, const struct proc_match *m)
{
	for (size_t i = 0; p && i < p->n; i++)
		if (p->held[i].pid == m->pid && p->held[i].starttime == m->starttime)
			return &p->held[i];
	return NULL;
}

static int proc_probe(const struct agent *a, char *why, size_t size)
{
	return procsel_probe(why, size);
}

static int pause_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_spec *s = f->spec;
	struct procsel_guard g;
	char path[512];

	if (s->params.pause.method != PAUSE_FREEZER) {
		struct pause_priv *p = calloc(1, sizeof(*p));
		int ret;

		if (!p)
			return -ENOMEM;
		f->priv = p;
		ret = held_collect(a, f, p, err, size);
		if (ret && ret != -EBUSY)
			snprintf(err, size, "listing what other pauses hold: %s", strerror(-ret));
		return ret;
	}
	if (s->target.proc.container) {
		struct pause_priv *p = calloc(1, sizeof(*p));

		if (!p)
			return -ENOMEM;
		f->priv = p;
		return container_freezer(a, f, p, err, size);
	}
	if (!s->target.proc.cgroup) {
		snprintf(err, size, "method freezer needs target.cgroup or target.container");
		return -EINVAL;
	}
	if (freezer_path(s->target.proc.cgroup, path, sizeof(path)) || access(path, W_OK)) {
		snprintf(err, size, "target.cgroup: %s has no cgroup v2 freezer here",
			 s->target.proc.cgroup);
		return -EINVAL;
	}
	/* The freezer stops the whole cgroup: it must not hold anything we protect. */
	procsel_guard_init(&g, f->peer_pid, a->policy);
	return procsel_cgroup_protected(s->target.proc.cgroup, &g, err, size);
}

/*
 * Freeze the cgroup whose freezer file is path (v1 freezer.state or v2 cgroup.freeze): the
 * undo record (taken over, journalled first), then the write. A cgroup someone else froze
 * (podman pause) is theirs to thaw, not ours: refused. field and name say which target in
 * the messages.
 */
static int freeze(struct fault *f, const char *path, bool v1, json_t *undo, const char *field,
		  const char *name, char *err, size_t size)
{
	char cur = 0;
	int ret;

	ret = freezer_read(path, &cur);
	if (ret) {
		snprintf(err, size, "reading %s: %s", path, strerror(-ret));
		json_decref(undo);
		return ret;
	}
	/* THAWED or 0: anything else is frozen already. */
	if (cur != (v1 ? 'T' : '0')) {
		snprintf(err, size, "%s: %s is already frozen", field, name);
		json_decref(undo);
		return -EBUSY;
	}
	f->undo = undo;
	ret = fault_journal(f);
	if (ret)
		return ret;
	ret = freezer_write(path, v1 ? "FROZEN" : "1");
	if (ret)
		snprintf(err, size, "freezing %s: %s", name, strerror(-ret));
	else
		freezer_wait_frozen(path);
	return ret;
}

/* method freezer: the container's cgroup (found by validate) or target.cgroup. */
static int pause_freeze(struct fault *f, char *err, size_t size)
{
	const struct fault_spec *s = f->spec;
	const struct pause_priv *p = f->priv;
	char path[512], name[32];
	int ret;

	if (s->target.proc.container) {
		snprintf(name, sizeof(name), "container %.12s", p->container);
		return freeze(
			f, p->freezer, p->freezer_v1,
			json_pack("{s:s, s:s}", "freezer", p->freezer, "container", p->container),
			"target.container", name, err, size);
	}
	ret = freezer_path(s->target.proc.cgroup, path, sizeof(path));
	if (ret)
		return ret;
	return freeze(f, path, false, json_pack("{s:s}", "freezer", path), "target.cgroup",
		      s->target.proc.cgroup, err, size);
}

/*
 * The undo record of a signal pause: every selected process with its start time, and
 * whether it was stopped before the fault. A process stopped before (by job control, a
 * debugger, an operator) stays as it was found: not stopped again, and not resumed by the
 * revert.
 */
static json_t *stop_record(const struct proc_match *m, size_t n, uint64_t seed, size_t matched)
{
	json_t *procs = json_array();

	for (size_t i = 0; i < n; i++) {
		bool was = state_stopped(proc_state(m[i].pid, m[i].starttime));

		json_array_append_new(procs, json_pack("{s:i, s:I, s:s, s:b}", "pid", (int)m[i].pid,
						       "starttime", (json_int_t)m[i].starttime,
						       "comm", m[i].comm, "already_stopped", was));
	}
	return json_pack("{s:o, s:I, s:I}", "stopped", procs, "seed", (json_int_t)seed, "matched",
			 (json_int_t)matched);
}

/* SIGSTOP to every process of the journalled record that was not stopped already. */
static int stop_all(struct fault *f, const struct proc_match *m, size_t n, char *err, size_t size)
{
	const json_t *procs = json_object_get(f->undo, "stopped");

	for (size_t i = 0; i < n; i++) {
		int e;

		if (json_is_true(json_object_get(json_array_get(procs, i), "already_stopped"))) {
			log_info("fault %s: pid %d (%s) was already stopped; left as it is", f->id,
				 (int)m[i].pid, m[i].comm);
			continue;
		}
		e = procsel_signal(m[i].pid, m[i].starttime, SIGSTOP);
		if (e && e != -ESRCH) {
			snprintf(err, size, "stopping pid %d: %s", (int)m[i].pid, strerror(-e));
			return e;
		}
		log_info("fault %s: stopped pid %d (%s)", f->id, (int)m[i].pid, m[i].comm);
	}
	return 0;
}

static int pause_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_spec *s = f->spec;
	struct pause_priv *p = f->priv;
	struct proc_match *m = NULL;
	struct ctr_info *c = NULL;
	struct procsel_guard g;
	uint64_t seed;
	size_t n = 0, matched = 0, n_ctrs = 0;
	int ret;

	if (s->params.pause.method == PAUSE_FREEZER)
		return pause_freeze(f, err, size);
	procsel_guard_init(&g, f->peer_pid, a->policy);
	seed = procsel_seed(&s->target.proc);
	ret = procsel_select_ctrs(&s->target.proc, &g, seed, &m, &n, &matched, &c, &n_ctrs, err,
				  size);
	if (ret)
		return ret;
	/* Processes of one container: that container is watched (of several: none is). */
	if (n_ctrs == 1 && p)
		ctr_target(&p->ctr, &c[0]);
	free(c);
	/* Refused before anything is stopped when another pause holds one of them. */
	for (size_t i = 0; i < n; i++) {
		const struct pause_held *h = held_find(f->priv, &m[i]);

		if (h) {
			snprintf(err, size,
				 "pid %d (%s) is already paused by fault %s ('%s'); a process is "
				 "paused by one fault at a time",
				 (int)m[i].pid, m[i].comm, h->fault, h->name);
			ret = -EBUSY;
			goto out;
		}
	}
	f->undo = stop_record(m, n, seed, matched);
	/* Every process is on record before the first SIGSTOP. */
	ret = fault_journal(f);
	if (!ret)
		ret = stop_all(f, m, n, err, size);
out:
	free(m);
	return ret;
}

/* Resume what an undo record lists; shared by revert and crash cleanup. */
static int resume(const json_t *undo, char *report, size_t size)
{
	const char *freezer = NULL;
	json_t *procs, *p;
	size_t i, off = 0;
	int failed = 0, resumed = 0, gone = 0, left = 0;

	if (!undo) {
		/* The crash came before anything was stopped. */
		snprintf(report, size, "nothing had been paused");
		return 0;
	}
	if (!json_unpack((json_t *)undo, "{s:s}", "freezer", &freezer)) {
		/* A container's v1 freezer.state takes words; cgroup.freeze takes 0 and 1. */
		int e = freezer_write(freezer, freezer_is_v1(freezer) ? "THAWED" : "0");

		if (e && e != -ENOENT) {
			snprintf(report, size, "thawing %s: %s", freezer, strerror(-e));
			return e;
		}
		/* Its container exited and the runtime removed the cgroup: nothing is frozen. */
		if (e == -ENOENT)
			snprintf(report, size,
				 "%s is gone (its cgroup was removed, its container with it): "
				 "nothing left frozen",
				 freezer);
		else
			snprintf(report, size, "thawed %s", freezer);
		return 0;
	}
	procs = json_object_get(undo, "stopped");
	json_array_foreach(procs, i, p)
	{
		pid_t pid = (pid_t)json_integer_value(json_object_get(p, "pid"));
		unsigned long long st = json_integer_value(json_object_get(p, "starttime"));
		int e;

		if (json_is_true(json_object_get(p, "already_stopped"))) {
			left++;
			continue;
		}
		e = procsel_signal(pid, st, SIGCONT);
		if (e == -ESRCH)
			gone++;
		else if (e)
			failed++;
		else
			resumed++;
	}
	off = snprintf(report, size, "resumed %d process%s", resumed, resumed == 1 ? "" : "es");
	if (gone && off < size)
		off += snprintf(report + off, size - off, ", %d already gone", gone);
	if (left && off < size)
		off += snprintf(report + off, size - off,
				", %d left stopped (stopped before the fault)", left);
	if (failed && off < size)
		snprintf(report + off, size - off, ", %d could not be resumed", failed);
	return failed ? -EIO : 0;
}

static int pause_revert(struct agent *a, struct fault *f, char *err, size_t size)
{
	char report[256];
	int ret = resume(f->undo, report, sizeof(report));

	if (ret)
		snprintf(err, size, "%s", report);
	else
		log_info("fault %s: %s", f->id, report);
	return ret;
}

static int pause_cleanup(struct agent *a, const json_t *undo, char *report, size_t size)
{
	return resume(undo, report, size);
}

/* The freezer's record plus whether the kernel reports the cgroup frozen. */
static json_t *freezer_describe(const json_t *undo)
{
	const char *path = json_string_value(json_object_get(undo, "freezer"));
	json_t *out = json_deep_copy(undo);
	int frozen;

	if (!path || !out)
		return out;
	frozen = freezer_frozen(path);
	if (frozen >= 0)
		json_object_set_new(out, "frozen", json_boolean(frozen));
	return out;
}

static json_t *pause_describe(const struct fault *f)
{
	json_t *procs = json_object_get(f->undo, "stopped"), *out, *p;
	size_t i;

	if (!procs)
		return freezer_describe(f->undo);
	out = json_pack("{s:[], s:O, s:O}", "processes", "seed", json_object_get(f->undo, "seed"),
			"matched", json_object_get(f->undo, "matched"));
	json_array_foreach(procs, i, p)
	{
		pid_t pid = (pid_t)json_integer_value(json_object_get(p, "pid"));
		unsigned long long st = json_integer_value(json_object_get(p, "starttime"));
		char state = proc_state(pid, st);

		json_array_append_new(
			json_object_get(out, "processes"),
			json_pack("{s:i, s:O, s:s#, s:b}", "pid", (int)pid, "comm",
				  json_object_get(p, "comm"), "state", &state, 1, "already_stopped",
				  json_is_true(json_object_get(p, "already_stopped"))));
	}
	return out;
}

/* The container the pause acts in, watched for its exit (target_watch.h); -ENOENT: none. */
static int pause_target(const struct fault *f, struct fault_target *t)
{
	const struct pause_priv *p = f->priv;

	if (!p || !p->ctr.id[0] || !p->ctr.pid)
		return -ENOENT;
	*t = p->ctr;
	return 0;
}

/* A pid selector reads one /proc entry, no scan: not worth a worker thread. */
static bool pause_on_loop(const struct fault *f)
{
	const struct proc_target *t = &f->spec->target.proc;

	return f->spec->params.pause.method != PAUSE_FREEZER && t->pid;
}

static void pause_free(struct fault *f)
{
	struct pause_priv *p = f->priv;

	if (p)
		free(p->held);
	free(p);
	f->priv = NULL;
}

const struct fault_ops fault_proc_pause = {
	.name = "process.pause",
	/* Signals to any uid's processes; /proc/PID/exe of other users for exe selectors. */
	.caps = 1ULL << CAP_KILL | 1ULL << CAP_SYS_PTRACE,
	.probe = proc_probe,
	.validate = pause_validate,
	.apply = pause_apply,
	.revert = pause_revert,
	.resolve = fault_proc_resolve,
	.describe = pause_describe,
	.cleanup = pause_cleanup,
	.free_priv = pause_free,
	.target_container = pause_target,
	/*
	 * The /proc scan of the selector is off the loop: apply reads only the spec, the
	 * policy and /proc, and never the agent's fault list (a check against other faults
	 * belongs in validate, which runs on the loop). The revert (SIGCONT to the processes
	 * it stopped) is cheap: it stays on the loop. So does the apply for a pid selector.
	 */
	.off_loop = true,
	.apply_on_loop = pause_on_loop,
};
