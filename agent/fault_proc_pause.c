/*
 * process.pause: stop the selected processes for the fault's duration and resume them on
 * revert: SIGSTOP/SIGCONT through pidfds, or the cgroup v2 freezer for a whole cgroup.
 * The journal lists every process before it is stopped, so a crashed agent's successor
 * resumes them (checking the start time, so a recycled pid is never signalled).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>

#include "agent.h"
#include "cgroup.h"
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

	if (fd < 0)
		return -errno;
	if (write(fd, val, 1) != 1)
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

static int proc_probe(const struct agent *a, char *why, size_t size)
{
	return procsel_probe(why, size);
}

static int pause_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_spec *s = f->spec;
	struct procsel_guard g;
	char path[512];

	if (s->params.pause.method != PAUSE_FREEZER)
		return 0;
	if (!s->target.proc.cgroup) {
		snprintf(err, size, "method freezer needs target.cgroup");
		return -EINVAL;
	}
	if (freezer_path(s->target.proc.cgroup, path, sizeof(path)) || access(path, W_OK)) {
		snprintf(err, size, "target.cgroup: %s has no cgroup v2 freezer here",
			 s->target.proc.cgroup);
		return -EINVAL;
	}
	/* The freezer stops the whole cgroup: it must not hold anything we protect. */
	procsel_guard_init(&g, f->peer_pid, a->policy->protected_processes,
			   a->policy->n_protected_processes);
	return procsel_cgroup_protected(s->target.proc.cgroup, &g, err, size);
}

static int pause_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_spec *s = f->spec;
	struct proc_match *m = NULL;
	struct procsel_guard g;
	uint64_t seed;
	json_t *procs;
	size_t n = 0, matched = 0;
	int ret;

	if (s->params.pause.method == PAUSE_FREEZER) {
		char path[512], cur = '0';

		ret = freezer_path(s->target.proc.cgroup, path, sizeof(path));
		if (ret)
			return ret;
		/* A cgroup frozen by someone else is theirs to thaw, not ours. */
		ret = freezer_read(path, &cur);
		if (ret) {
			snprintf(err, size, "reading %s: %s", path, strerror(-ret));
			return ret;
		}
		if (cur != '0') {
			snprintf(err, size, "target.cgroup: %s is already frozen",
				 s->target.proc.cgroup);
			return -EBUSY;
		}
		f->undo = json_pack("{s:s}", "freezer", path);
		ret = fault_journal(f);
		if (ret)
			return ret;
		ret = freezer_write(path, "1");
		if (ret)
			snprintf(err, size, "freezing %s: %s", s->target.proc.cgroup, strerror(-ret));
		return ret;
	}

	procsel_guard_init(&g, f->peer_pid, a->policy->protected_processes,
			   a->policy->n_protected_processes);
	seed = procsel_seed(&s->target.proc);
	ret = procsel_select(&s->target.proc, &g, seed, &m, &n, &matched, err, size);
	if (ret)
		return ret;
	procs = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(procs, json_pack("{s:i, s:I, s:s}", "pid", (int)m[i].pid,
						       "starttime", (json_int_t)m[i].starttime,
						       "comm", m[i].comm));
	f->undo = json_pack("{s:o, s:I, s:I}", "stopped", procs, "seed", (json_int_t)seed,
			    "matched", (json_int_t)matched);
	/* Every process is on record before the first SIGSTOP. */
	ret = fault_journal(f);
	if (ret)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int e = procsel_signal(m[i].pid, m[i].starttime, SIGSTOP);

		if (e && e != -ESRCH) {
			snprintf(err, size, "stopping pid %d: %s", (int)m[i].pid, strerror(-e));
			ret = e;
			goto out;
		}
		log_info("fault %s: stopped pid %d (%s)", f->id, (int)m[i].pid, m[i].comm);
	}
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
	int failed = 0, resumed = 0, gone = 0;

	if (!undo) {
		/* The crash came before anything was stopped. */
		snprintf(report, size, "nothing had been paused");
		return 0;
	}
	if (!json_unpack((json_t *)undo, "{s:s}", "freezer", &freezer)) {
		int e = freezer_write(freezer, "0");

		if (e && e != -ENOENT) {
			snprintf(report, size, "thawing %s: %s", freezer, strerror(-e));
			return e;
		}
		snprintf(report, size, "thawed %s", freezer);
		return 0;
	}
	procs = json_object_get(undo, "stopped");
	json_array_foreach(procs, i, p)
	{
		pid_t pid = (pid_t)json_integer_value(json_object_get(p, "pid"));
		unsigned long long st = json_integer_value(json_object_get(p, "starttime"));
		int e = procsel_signal(pid, st, SIGCONT);

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

/* The freezer's record plus whether the kernel reports the cgroup frozen (cgroup.events). */
static json_t *freezer_describe(const json_t *undo)
{
	const char *path = json_string_value(json_object_get(undo, "freezer"));
	char events[600], buf[512];
	json_t *out = json_deep_copy(undo);
	int fd, frozen = -1;
	ssize_t n;

	if (!path || !out)
		return out;
	snprintf(events, sizeof(events), "%.*s/cgroup.events",
		 (int)(strlen(path) - strlen("/cgroup.freeze")), path);
	fd = open(events, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			char *p;

			buf[n] = '\0';
			p = strstr(buf, "frozen ");
			if (p)
				frozen = p[7] == '1';
		}
		close(fd);
	}
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
		char path[64], buf[1024], state = '?';
		FILE *fp;

		if (procsel_starttime(pid) == st) {
			snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
			fp = fopen(path, "re");
			if (fp) {
				if (fgets(buf, sizeof(buf), fp) && strrchr(buf, ')'))
					state = strrchr(buf, ')')[2];
				fclose(fp);
			}
		} else {
			state = 'X';
		}
		json_array_append_new(json_object_get(out, "processes"),
				      json_pack("{s:i, s:O, s:s#}", "pid", (int)pid, "comm",
						json_object_get(p, "comm"), "state", &state, 1));
	}
	return out;
}

const struct fault_ops fault_proc_pause = {
	.name = "process.pause",
	/* Signals to any uid's processes; /proc/PID/exe of other users for exe selectors. */
	.caps = 1ULL << CAP_KILL | 1ULL << CAP_SYS_PTRACE,
	.probe = proc_probe,
	.validate = pause_validate,
	.apply = pause_apply,
	.revert = pause_revert,
	.describe = pause_describe,
	.cleanup = pause_cleanup,
	/*
	 * The /proc scan of the selector is off the loop: apply reads only the spec, the
	 * policy and /proc, and never the agent's fault list (a check against other faults
	 * belongs in validate, which runs on the loop). The revert (SIGCONT to the processes
	 * it stopped) is cheap: it stays on the loop.
	 */
	.off_loop = true,
};
