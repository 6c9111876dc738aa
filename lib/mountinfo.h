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

#endif
