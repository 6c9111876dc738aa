/*
 * The fault types this agent implements: one row each, indexed by lib's enum fault_type
 * (lib/exp.h), so the type a parsed spec names is its ops without a search. The row after
 * the last type is NULL, so the table can be walked like a list; tests/unit/test_fault_types.c
 * checks that every type of lib has a row here, named as lib names it, and the other way round.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "caps.h"
#include "exp.h"
#include "fault.h"

extern const struct fault_ops fault_proc_kill;
extern const struct fault_ops fault_proc_pause;
extern const struct fault_ops fault_net_loss;
extern const struct fault_ops fault_net_corruption;
extern const struct fault_ops fault_net_duplication;
extern const struct fault_ops fault_net_partition;
extern const struct fault_ops fault_net_bandwidth;
extern const struct fault_ops fault_net_dns;
extern const struct fault_ops fault_net_latency;
extern const struct fault_ops fault_stress_cpu;
extern const struct fault_ops fault_stress_memory;
extern const struct fault_ops fault_stress_disk_fill;
extern const struct fault_ops fault_stress_io;
extern const struct fault_ops fault_stress_fds;

const struct fault_ops *const fault_ops_all[FAULT_TYPE_COUNT + 1] = {
	[FAULT_NET_LATENCY] = &fault_net_latency,
	[FAULT_NET_LOSS] = &fault_net_loss,
	[FAULT_NET_CORRUPTION] = &fault_net_corruption,
	[FAULT_NET_DUPLICATION] = &fault_net_duplication,
	[FAULT_NET_PARTITION] = &fault_net_partition,
	[FAULT_NET_BANDWIDTH] = &fault_net_bandwidth,
	[FAULT_NET_DNS] = &fault_net_dns,
	[FAULT_PROC_KILL] = &fault_proc_kill,
	[FAULT_PROC_PAUSE] = &fault_proc_pause,
	[FAULT_STRESS_CPU] = &fault_stress_cpu,
	[FAULT_STRESS_MEMORY] = &fault_stress_memory,
	[FAULT_STRESS_DISK_FILL] = &fault_stress_disk_fill,
	[FAULT_STRESS_IO] = &fault_stress_io,
	[FAULT_STRESS_FDS] = &fault_stress_fds,
	[FAULT_TYPE_COUNT] = NULL,
};

const struct fault_ops *fault_ops_of(int type)
{
	if (type < 0 || type >= FAULT_TYPE_COUNT)
		return NULL;
	return fault_ops_all[type];
}

const struct fault_ops *fault_ops_by_name(const char *name)
{
	int type;

	if (!name || exp_fault_type_lookup(name, &type))
		return NULL;
	return fault_ops_of(type);
}

int fault_type_available(const struct agent *a, const struct fault_ops *t, char *why, size_t size)
{
	uint64_t missing = t->caps & ~a->caps_held;
	int err;

	why[0] = '\0';
	if (missing) {
		char names[512];

		/* Named as in capabilities(7) and the docs, not as libcap prints them. */
		caps_names(missing, names, sizeof(names));
		for (char *p = names; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		snprintf(why, size,
			 "needs %s, which the agent does not hold (not in its bounding or "
			 "permitted set at start-up)",
			 names);
		return -EOPNOTSUPP;
	}
	if (!t->probe)
		return 0;
	err = t->probe(a, why, size);
	if (err && !why[0])
		snprintf(why, size, "%s", strerror(-err));
	return err;
}
