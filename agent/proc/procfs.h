/* Small /proc readers shared by the agent's process selector, containers and stressors. */
#ifndef FL_AGENT_PROCFS_H
#define FL_AGENT_PROCFS_H

#include <stddef.h>
#include <sys/types.h>

/* The fields of /proc/PID/stat the agent uses (proc(5) numbers them 2, 3, 4, 6, 9, 22). */
struct procfs_stat {
	char comm[16];
	char state;
	pid_t ppid;
	pid_t sid;
	unsigned long flags;
	unsigned long long starttime;
};

/*
 * Read a small file (a /proc entry) into buf, NUL-terminated, at most size - 1 bytes; its
 * length to *len when len is not NULL. 0 or -errno.
 */
int procfs_read_file(const char *path, char *buf, size_t size, size_t *len);

/* /proc/PID/stat of pid into *st. 0, -ESRCH (gone) or -EIO (unreadable). */
int procfs_stat(pid_t pid, struct procfs_stat *st);

/* The start time of pid in clock ticks after boot (0 if it is gone). */
unsigned long long procfs_starttime(pid_t pid);

#endif
