/* cgroup v2 helpers for the agent. */
#ifndef FL_AGENT_CGROUP_H
#define FL_AGENT_CGROUP_H

#include <stddef.h>

/* Mount point of the cgroup v2 hierarchy (e.g. /sys/fs/cgroup/unified). 0 or -errno. */
int cgroup_v2_root(char *buf, size_t size);

#endif
