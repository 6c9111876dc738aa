/* The fault types this agent implements: one row each. */
#include <stddef.h>
#include <string.h>

#include "fault.h"

extern const struct fault_ops fault_proc_pause;

const struct fault_ops *const fault_ops_all[] = {
	&fault_proc_pause,
	NULL,
};

const struct fault_ops *fault_ops_find(const char *name)
{
	for (size_t i = 0; name && fault_ops_all[i]; i++)
		if (!strcmp(fault_ops_all[i]->name, name))
			return fault_ops_all[i];
	return NULL;
}
