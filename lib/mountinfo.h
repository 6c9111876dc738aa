/* /proc/self/mountinfo parsing: where is a file system of a given type mounted. */
#ifndef FL_MOUNTINFO_H
#define FL_MOUNTINFO_H

#include <stdio.h>
#include <stddef.h>

/*
 * Find the first mount of file-system type fstype in a mountinfo stream and copy its mount
 * point (with \ooo escapes decoded) into mnt. Returns 0, -ENOENT when there is none, or
 * -ENAMETOOLONG when mnt is too small.
 */
int mountinfo_find_fstype(FILE *f, const char *fstype, char *mnt, size_t size);

/*
 * Find the first cgroup v1 hierarchy (file-system type "cgroup") whose super options name
 * controller (e.g. "cpu" in "rw,cpu" or "rw,cpu,cpuacct") and copy its mount point into mnt.
 * Same returns as mountinfo_find_fstype().
 */
int mountinfo_find_cgroup1(FILE *f, const char *controller, char *mnt, size_t size);

/*
 * Find the first mount of file-system type fstype whose root is root (e.g. a network
 * namespace bound to a file: type "nsfs", root "net:[4026532173]") and copy its mount point
 * into mnt. Same returns as mountinfo_find_fstype().
 */
int mountinfo_find_root(FILE *f, const char *fstype, const char *root, char *mnt, size_t size);

#endif
