/*
 * stress.cpu: N workers at a target duty cycle, optionally pinned, in a cgroup of their own.
 * The load achieved is measured from the cgroup's cpu.stat (usage_usec is a core file of
 * cgroup v2: it needs no cpu controller) over the time the workers have run.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>

#include "agent.h"
#include "exp.h"
#include "fault.h"
#include "log.h"
#include "policy.h"
#include "stressor.h"

static bool cpu_listed(const struct exp_cpuset *c, int cpu)
{
	return c->bits[cpu / 64] & (1ULL << (cpu % 64));
}

static bool cpus_given(const struct exp_cpuset *c)
{
	for (size_t i = 0; i < EXP_MAX_CPUS / 64; i++)
		if (c->bits[i])
			return true;
	return false;
}

static int cpu_probe(const struct agent *a, char *why, size_t size)
{
	return stressor_probe(why, size);
}

static int cpu_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_stress_cpu *p = &f->spec->params.cpu;
	cpu_set_t allowed;

	/*
	 * Thousands of busy workers starve the agent itself (its API, its lease timers) and
	 * everything else on the host: the policy caps them, per CPU the agent may use.
	 */
	if (a->policy->max_cpu_workers && p->workers > a->policy->max_cpu_workers) {
		snprintf(err, size,
			 "params.workers: %u is more than the policy's max_cpu_workers (%u); use "
			 "fewer workers or raise max_cpu_workers in the policy file",
			 (unsigned)p->workers, (unsigned)a->policy->max_cpu_workers);
		return -E2BIG;
	}
	if (!cpus_given(&p->cpus))
		return 0;
	if (sched_getaffinity(0, sizeof(allowed), &allowed)) {
		snprintf(err, size, "reading the agent's CPU affinity: %s", strerror(errno));
		return -errno;
	}
	for (int c = 0; c < EXP_MAX_CPUS; c++) {
		if (cpu_listed(&p->cpus, c) && (c >= CPU_SETSIZE || !CPU_ISSET(c, &allowed))) {
			snprintf(err, size, "params.cpus: CPU %d is not online or not allowed here "
					    "(%ld CPUs online)",
				 c, sysconf(_SC_NPROCESSORS_ONLN));
			return -EINVAL;
		}
	}
	return 0;
}

static int cpu_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_stress_cpu *p = &f->spec->params.cpu;
	char load[16];
	const char *args[] = { "cpu", load, NULL };
	struct stressor_spawn sp = { .args = args, .cpu = -1, .data_fd = -1 };
	int listed[EXP_MAX_CPUS], n_listed = 0, ret;
	struct stressor *s;

	for (int c = 0; c < EXP_MAX_CPUS; c++)
		if (cpu_listed(&p->cpus, c))
			listed[n_listed++] = c;
	snprintf(load, sizeof(load), "%u", p->load_ppm);
	ret = stressor_new(f, (int)p->workers, &s, err, size);
	if (ret)
		return ret;
	f->priv = s;
	ret = stressor_container(s, f, err, size);
	if (ret)
		goto fail;
	for (uint32_t i = 0; i < p->workers && !stressor_revert_asked(f); i++) {
		/* Pinned workers go round the listed CPUs: worker i on the (i mod n)-th. */
		sp.cpu = n_listed ? listed[i % n_listed] : -1;
		ret = stressor_start(s, f, &sp, err, size);
		if (ret)
			goto fail;
	}
	ret = stressor_wait_started(s, f, err, size);
	if (ret)
		goto fail;
	log_info("fault %s: %d cpu worker%s at %u.%02u%% in %s", f->id, s->n,
		 s->n == 1 ? "" : "s", p->load_ppm / 10000, p->load_ppm / 100 % 100, s->cgroup);
	return 0;
fail:
	stressor_abort(s, f);
	return ret;
}

static int cpu_revert(struct agent *a, struct fault *f, char *err, size_t size)
{
	return stressor_stop(f->priv, err, size);
}

static json_t *cpu_describe(const struct fault *f)
{
	const struct fault_stress_cpu *p = &f->spec->params.cpu;
	struct stressor *s = f->priv;
	uint64_t usec = 0, elapsed, self_ns = 0;
	json_t *o;

	if (!s)
		return NULL;
	o = stressor_describe(s);
	elapsed = stressor_elapsed_ns(s);
	for (int i = 0; i < s->n; i++)
		self_ns += __atomic_load_n(&s->st[i].done, __ATOMIC_RELAXED);
	json_object_set_new(o, "requested_load_pct", json_real(p->load_ppm / 10000.0));
	/* A container's workers have left the fault's cgroup: only their own count holds. */
	if (!s->n_join && !stressor_cpu_usec(s, &usec) && elapsed && s->n) {
		/* Per worker: each worker's share of one CPU, like the requested load. */
		json_object_set_new(o, "achieved_load_pct",
				    json_real(usec * 1000.0 * 100.0 / (double)elapsed / s->n));
		json_object_set_new(o, "cpu_usec", json_integer((json_int_t)usec));
		json_object_set_new(o, "load_source", json_string("cgroup cpu.stat usage_usec"));
	}
	json_object_set_new(o, "workers_cpu_usec", json_integer((json_int_t)(self_ns / 1000)));
	return o;
}

static int cpu_cleanup(struct agent *a, const json_t *undo, char *report, size_t size)
{
	return stressor_cleanup(undo, report, size);
}

static void cpu_free(struct fault *f)
{
	stressor_free(f->priv);
	f->priv = NULL;
}

static void cpu_activated(struct fault *f)
{
	stressor_watch(f->priv, f);
}

static int cpu_target(const struct fault *f, struct fault_target *t)
{
	return stressor_target_container(f->priv, t);
}

const struct fault_ops fault_stress_cpu = {
	.name = "stress.cpu",
	/* Workers drop the bounding set before they exec, which needs CAP_SETPCAP. */
	.caps = 1ULL << CAP_SETPCAP,
	.probe = cpu_probe,
	.validate = cpu_validate,
	.resolve = stressor_resolve,
	.apply = cpu_apply,
	.revert = cpu_revert,
	.describe = cpu_describe,
	.activated = cpu_activated,
	.cleanup = cpu_cleanup,
	.target_container = cpu_target,
	.free_priv = cpu_free,
	/* Starting, and killing and reaping, hundreds of workers: off the loop. */
	.off_loop = true,
	.revert_off_loop = true,
};
