/* The fault types this agent implements: one row each. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "caps.h"
#include "fault.h"

extern const struct fault_ops fault_proc_kill;
extern const struct fault_ops fault_proc_pause;
extern const struct fault_ops fault_net_loss;
extern const struct fault_ops fault_net_corruption;
extern const struct fault_ops fault_net_duplication;
extern const struct fault_ops fault_net_partition;
extern const struct fault_ops fault_net_bandwidth;
extern const struct fault_ops fault_net_latency;
extern const struct fault_ops fault_stress_cpu;
extern const struct fault_ops fault_stress_memory;
extern const struct fault_ops fault_stress_disk_fill;
extern const struct fault_ops fault_stress_io;
extern const struct fault_ops fault_stress_fds;

const struct fault_ops *const fault_ops_all[] = {
	&fault_proc_kill,
	&fault_proc_pause,
	&fault_net_loss,
	&fault_net_corruption,
	&fault_net_duplication,
	&fault_net_partition,
	&fault_net_bandwidth,
	&fault_net_latency,
	&fault_stress_cpu,
	&fault_stress_memory,
	&fault_stress_disk_fill,
	&fault_stress_io,
	&fault_stress_fds,
	NULL,
};

const struct fault_ops *fault_ops_find(const char *name)
{
	for (size_t i = 0; name && fault_ops_all[i]; i++)
		if (!strcmp(fault_ops_all[i]->name, name))
			return fault_ops_all[i];
	return NULL;
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
