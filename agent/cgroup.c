/*
 * cgroup helpers: locating the unified hierarchy, which is not always /sys/fs/cgroup, and
 * the v1 hierarchies of a hybrid layout.
 */
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

int cgroup_v1_root(const char *controller, char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err;

	if (!f)
		return -errno;
	err = mountinfo_find_cgroup1(f, controller, buf, size);
	fclose(f);
	return err;
}
