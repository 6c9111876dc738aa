/* The fault types this agent implements: one row each. */
#include <stddef.h>
#include <string.h>

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
