/*
 * A stressor's workers watched and described: a timer on the agent's loop reports every
 * worker that died (once each, as a fault.degraded event and in the fault's status), and
 * stressor_describe() gives the workers' states for the fault's status; the accounting the
 * types report (elapsed time, CPU used, resident memory, the host's memory) is read here too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "agent.h"
#include "core.h"
#include "events.h"
#include "fault.h"
#include "log.h"
#include "stressor.h"

/* oom_kill of the cgroup's memory.events (cgroup v2 with the memory controller), or -1. */
static long long oom_kills(const struct stressor *s)
{
	char path[600], key[32];
	long long v, found = -1;
	FILE *fp;

	/* A container's workers meet its OOM killer: counted in its memory cgroup. */
	if (s->oom_file)
		snprintf(path, sizeof(path), "%s", s->oom_file);
	else
		snprintf(path, sizeof(path), "%s/memory.events", s->cgroup);
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	while (fscanf(fp, "%31s %lld", key, &v) == 2)
		if (!strcmp(key, "oom_kill"))
			found = v;
	fclose(fp);
	return found;
}

/* Report every worker that died since the last look: once each, event and status. */
static void watch_check(struct stressor *s)
{
	struct fault *f = s->fault;
	long long ooms = -2;

	if (!s->watch || s->stopping)
		return;
	stressor_alive(s);
	for (int i = 0; i < s->n; i++) {
		int wst = s->wstatus[i];
		char reason[400], sig[32];
		json_t *entry, *fields;

		if (wst == -1 || s->reported[i])
			continue;
		s->reported[i] = true;
		if (WIFSIGNALED(wst)) {
			const char *abbrev = sigabbrev_np(WTERMSIG(wst));

			if (ooms == -2)
				ooms = oom_kills(s);
			snprintf(sig, sizeof(sig), "SIG%s", abbrev ? abbrev : "?");
			snprintf(reason, sizeof(reason), "worker %d (pid %d) was killed by %s%s", i,
				 (int)s->pids[i], sig,
				 ooms <= 0 ? ""
				 : s->oom_file
					 ? " (the container's memory cgroup counts OOM kills: "
					   "its memory limit was reached)"
					 : " (the cgroup's memory.events counts OOM kills)");
			entry = json_pack("{s:i, s:i, s:i, s:s, s:s}", "worker", i, "pid",
					  (int)s->pids[i], "signal", WTERMSIG(wst), "signal_name",
					  sig, "reason", reason);
			if (entry && ooms > 0 && WTERMSIG(wst) == SIGKILL)
				json_object_set_new(entry, "oom_killed", json_true());
		} else {
			const struct stressor_status *st = &s->st[i];

			snprintf(reason, sizeof(reason),
				 "worker %d (pid %d) exited with status %d%s%.*s", i,
				 (int)s->pids[i], WEXITSTATUS(wst), st->msg[0] ? ": " : "",
				 (int)strnlen(st->msg, sizeof(st->msg)), st->msg);
			entry = json_pack("{s:i, s:i, s:i, s:s}", "worker", i, "pid",
					  (int)s->pids[i], "exit_status", WEXITSTATUS(wst),
					  "reason", reason);
		}
		if (!entry)
			continue;
		log_warn("fault %s degraded: %s", f->id, reason);
		fields = json_pack("{s:s, s:s, s:s, s:s}", "fault", f->id, "fault_type",
				   f->type->name, "lease", f->lease ? f->lease->id : "", "state",
				   fault_state_name(f->state));
		if (fields) {
			json_object_update(fields, entry);
			events_emit(f->agent->events, "fault.degraded", fields);
		}
		json_array_append_new(s->degraded, entry);
	}
}

static void watch_tick(uv_timer_t *t)
{
	watch_check(t->data);
}

int stressor_watch(struct stressor *s, struct fault *f)
{
	int ret;

	if (s->watch || s->stopping)
		return 0;
	s->reported = calloc(s->n ? s->n : 1, sizeof(*s->reported));
	s->degraded = json_array();
	s->watch = malloc(sizeof(*s->watch));
	if (!s->reported || !s->degraded || !s->watch) {
		free(s->watch);
		s->watch = NULL;
		log_err("fault %s: cannot watch its workers: %s", f->id, strerror(ENOMEM));
		return -ENOMEM;
	}
	s->fault = f;
	ret = uv_timer_init(f->agent->loop, s->watch);
	if (ret) {
		free(s->watch);
		s->watch = NULL;
		log_err("fault %s: cannot watch its workers: %s", f->id, uv_strerror(ret));
		return -ENOMEM;
	}
	s->watch->data = s;
	uv_timer_start(s->watch, watch_tick, STRESSOR_WATCH_MS, STRESSOR_WATCH_MS);
	/* A worker that died between the apply and now is reported at once. */
	watch_check(s);
	return 0;
}

static const char *state_name(uint32_t s)
{
	static const char *const names[] = { "starting", "running", "holding", "limited",
					     "failed" };

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

json_t *stressor_describe(struct stressor *s)
{
	json_t *o, *workers;
	int alive;

	watch_check(s);
	alive = stressor_alive(s);

	workers = json_array();
	for (int i = 0; workers && i < s->n; i++) {
		struct stressor_status *st = &s->st[i];
		uint32_t state = __atomic_load_n(&st->state, __ATOMIC_ACQUIRE);
		json_t *w = json_pack("{s:i, s:s}", "pid", (int)s->pids[i], "state",
				      s->wstatus[i] != -1 && state != STRESSOR_FAILED ?
					      "exited" :
					      state_name(state));

		if (w && st->msg[0])
			json_object_set_new(w, "message", json_stringn(st->msg, strnlen(st->msg,
								 sizeof(st->msg))));
		json_array_append_new(workers, w);
	}
	o = json_pack("{s:s, s:i, s:i, s:I, s:o}", "cgroup", s->cgroup, "workers", s->n,
		      "workers_alive", alive, "elapsed_ms",
		      (json_int_t)(stressor_elapsed_ns(s) / 1000000), "worker_states",
		      workers ? workers : json_array());
	if (o && s->n_join)
		json_object_set_new(o, "container", stressor_container_json(s));
	/* Workers lost while the fault was active, oldest first (an empty list: none). */
	if (o)
		json_object_set_new(o, "degraded",
				    s->degraded ? json_deep_copy(s->degraded) : json_array());
	return o;
}

uint64_t stressor_elapsed_ns(const struct stressor *s)
{
	uint64_t start = (uint64_t)s->started.tv_sec * 1000000000ULL + (uint64_t)s->started.tv_nsec;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return s->n ? (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec - start : 0;
}

int stressor_cpu_usec(const struct stressor *s, uint64_t *usec)
{
	char path[600];
	unsigned long long v;
	int ret = -ENOENT;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/cpu.stat", s->cgroup);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	if (fscanf(fp, "usage_usec %llu", &v) == 1) {
		*usec = v;
		ret = 0;
	}
	fclose(fp);
	return ret;
}

/* A "Key:   N kB" line of /proc/PID/status or /proc/meminfo, in bytes. */
int stressor_kb_field(const char *path, const char *key, uint64_t *bytes)
{
	char line[256];
	size_t klen = strlen(key);
	unsigned long long v;
	int ret = -ENOENT;
	FILE *fp = fopen(path, "re");

	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		if (!strncmp(line, key, klen) && line[klen] == ':' &&
		    sscanf(line + klen + 1, "%llu", &v) == 1) {
			*bytes = v * 1024;
			ret = 0;
			break;
		}
	}
	fclose(fp);
	return ret;
}

int stressor_meminfo(uint64_t *total, uint64_t *avail)
{
	int ret = stressor_kb_field("/proc/meminfo", "MemTotal", total);

	return ret ? ret : stressor_kb_field("/proc/meminfo", "MemAvailable", avail);
}
