/*
 * stress.memory: one worker allocates and touches a size or a share of total memory,
 * optionally ramping up, and stops growing before MemAvailable would fall below the
 * policy's min_free_memory. Resident memory is measured from the worker's RssAnon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>

#include "agent.h"
#include "exp.h"
#include "fault.h"
#include "log.h"
#include "policy.h"
#include "stressor.h"

struct mem_priv {
	struct stressor *s;
	uint64_t bytes, floor;
};

static uint64_t resolve(const struct units_size *sz, uint64_t total)
{
	if (sz->ppm)
		return (uint64_t)((unsigned __int128)total * sz->ppm / UNITS_PPM_ONE);
	return sz->bytes;
}

static int mem_probe(const struct agent *a, char *why, size_t size)
{
	return stressor_probe(why, size);
}

static int mem_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_stress_memory *p = &f->spec->params.memory;
	const struct policy *pol = a->policy;
	uint64_t total, avail, bytes, floor;
	struct mem_priv *m;
	int ret = stressor_meminfo(&total, &avail);

	if (ret) {
		snprintf(err, size, "reading /proc/meminfo: %s", strerror(-ret));
		return ret;
	}
	bytes = resolve(&p->size, total);
	floor = policy_min_free_bytes(pol, total);
	/* policy_check compares like kinds; a percentage against bytes is resolved here. */
	if ((pol->max_memory.bytes || pol->max_memory.ppm) &&
	    bytes > resolve(&pol->max_memory, total)) {
		snprintf(err, size, "policy: stress.memory size of %llu bytes exceeds max_memory "
				    "(%llu bytes here)",
			 (unsigned long long)bytes,
			 (unsigned long long)resolve(&pol->max_memory, total));
		return -EPERM;
	}
	if (bytes + floor > avail) {
		snprintf(err, size,
			 "params.size: %llu bytes would take MemAvailable (%llu) below the "
			 "policy's min_free_memory of %llu bytes; at most %llu bytes now",
			 (unsigned long long)bytes, (unsigned long long)avail,
			 (unsigned long long)floor,
			 (unsigned long long)(avail > floor ? avail - floor : 0));
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->bytes = bytes;
	m->floor = floor;
	f->priv = m;
	return 0;
}

static int mem_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_stress_memory *p = &f->spec->params.memory;
	struct mem_priv *m = f->priv;
	char bytes[24], ramp[24], floor[24];
	const char *args[] = { "memory", bytes, ramp, floor, NULL };
	struct stressor_spawn sp = { .args = args, .cpu = -1, .data_fd = -1 };
	int ret;

	snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)m->bytes);
	snprintf(ramp, sizeof(ramp), "%lld", (long long)p->ramp_ns);
	snprintf(floor, sizeof(floor), "%llu", (unsigned long long)m->floor);
	ret = stressor_new(f, 1, &m->s, err, size);
	if (ret)
		return ret;
	ret = stressor_container(m->s, f, err, size);
	if (!ret)
		ret = stressor_start(m->s, f, &sp, err, size);
	if (!ret)
		ret = stressor_wait_started(m->s, f, err, size);
	if (ret) {
		stressor_abort(m->s, f);
		return ret;
	}
	log_info("fault %s: memory worker growing to %s bytes (floor %s) in %s", f->id, bytes,
		 floor, m->s->cgroup);
	return 0;
}

static int mem_revert(struct agent *a, struct fault *f, char *err, size_t size)
{
	struct mem_priv *m = f->priv;

	return m ? stressor_stop(m->s, err, size) : 0;
}

static json_t *mem_describe(const struct fault *f)
{
	struct mem_priv *m = f->priv;
	const char *source = NULL;
	uint64_t rss = 0;
	json_t *o;

	if (!m || !m->s)
		return NULL;
	o = stressor_describe(m->s);
	stressor_resident(m->s, &rss, &source);
	json_object_set_new(o, "requested_bytes", json_integer((json_int_t)m->bytes));
	json_object_set_new(o, "resident_bytes", json_integer((json_int_t)rss));
	json_object_set_new(o, "resident_source", json_string(source));
	json_object_set_new(o, "touched_bytes",
			    json_integer((json_int_t)__atomic_load_n(&m->s->st[0].done,
								     __ATOMIC_RELAXED)));
	json_object_set_new(o, "min_free_memory_bytes", json_integer((json_int_t)m->floor));
	return o;
}

static int mem_cleanup(struct agent *a, const json_t *undo, char *report, size_t size)
{
	return stressor_cleanup(undo, report, size);
}

static void mem_free(struct fault *f)
{
	struct mem_priv *m = f->priv;

	if (m)
		stressor_free(m->s);
	free(m);
	f->priv = NULL;
}

static void mem_activated(struct fault *f)
{
	stressor_watch(((struct mem_priv *)f->priv)->s, f);
}

static int mem_target(const struct fault *f, struct fault_target *t)
{
	const struct mem_priv *m = f->priv;

	return stressor_target_container(m ? m->s : NULL, t);
}

const struct fault_ops fault_stress_memory = {
	.name = "stress.memory",
	/* Workers drop the bounding set before they exec, which needs CAP_SETPCAP. */
	.caps = 1ULL << CAP_SETPCAP,
	.probe = mem_probe,
	.validate = mem_validate,
	.resolve = stressor_resolve,
	.apply = mem_apply,
	.revert = mem_revert,
	.describe = mem_describe,
	.activated = mem_activated,
	.cleanup = mem_cleanup,
	.target_container = mem_target,
	.free_priv = mem_free,
	/* Starting, and killing and reaping, hundreds of workers: off the loop. */
	.off_loop = true,
	.revert_off_loop = true,
};
