/* cgroup helpers for the agent: where the v2 hierarchy and v1 controllers are mounted. */
#ifndef FL_AGENT_CGROUP_H
#define FL_AGENT_CGROUP_H

#include <stddef.h>

/* Mount point of the cgroup v2 hierarchy (e.g. /sys/fs/cgroup/unified). 0 or -errno. */
int cgroup_v2_root(char *buf, size_t size);

/*
 * Mount point of the cgroup v1 hierarchy that holds controller (e.g. /sys/fs/cgroup/cpu on
 * a hybrid layout). 0, or -ENOENT when the controller is not on a v1 hierarchy.
 */
int cgroup_v1_root(const char *controller, char *buf, size_t size);

#endif
