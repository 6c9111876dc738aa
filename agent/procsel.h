/* Process selection for process faults: match /proc against a selector, never a protected one. */
#ifndef FL_PROCSEL_H
#define FL_PROCSEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_target;

struct proc_match {
	pid_t pid;
	unsigned long long starttime; /* /proc/PID/stat field 22: tells a recycled pid apart */
	char comm[16];
};

/*
 * Select processes matching every criterion of t, excluding protected ones: pid 1, kernel
 * threads, the agent itself, the requesting controller's process and session (peer_pid;
 * 0 when unknown), sshd and the process names in protected_names (the policy's list). Applies count/percent/all with a seeded shuffle; *seed_used is
 * the seed (t->seed, or a fresh random one) so the choice can be reproduced.
 * Returns 0 with a malloc'd array, -ESRCH when nothing matches (err says so), -EINVAL for a
 * bad selector.
 */
int procsel_select(const struct proc_target *t, pid_t peer_pid, char *const *protected_names,
		   size_t n_protected, struct proc_match **out, size_t *n_out, uint64_t *seed_used,
		   char *err, size_t err_size);

/* Read the start time of pid (0 if it is gone). */
unsigned long long procsel_starttime(pid_t pid);

/*
 * Open a pidfd for pid and make sure it is the process that started at starttime (not a
 * recycled pid). Returns the fd, or -ESRCH when that process is gone.
 */
int procsel_pidfd(pid_t pid, unsigned long long starttime);

/* Send sig through a pidfd to the process pid/starttime. 0, -ESRCH (gone) or -errno. */
int procsel_signal(pid_t pid, unsigned long long starttime, int sig);

#endif
