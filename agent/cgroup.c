/* cgroup v2 helpers: locating the unified hierarchy, which is not always /sys/fs/cgroup. */
#include <errno.h>
#include <stdio.h>

#include "cgroup.h"
#include "mountinfo.h"

int cgroup_v2_root(char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err;

	if (!f)
		return -errno;
	err = mountinfo_find_fstype(f, "cgroup2", buf, size);
	fclose(f);
	return err;
}
