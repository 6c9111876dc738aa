/* The agent's own scheduling: the loop thread's priority, the session autogroup's nice level. */
#ifndef FL_PRIORITY_H
#define FL_PRIORITY_H

#include <uv.h>

/*
 * Run the calling thread (the event loop's) at SCHED_RR priority prio, not inherited by
 * what it creates, once the loop's worker threads exist (it starts them). 0 or -errno.
 */
int priority_loop_realtime(uv_loop_t *loop, int prio);

/*
 * Give the agent's session autogroup (CONFIG_SCHED_AUTOGROUP: the kernel schedules the
 * processes of the root cpu cgroup in one group per session) the nice level nice, the
 * weight that group weighs against other sessions and the stressors' group. Only when the
 * agent leads its session (as every systemd service does): otherwise the group is the
 * session it was started from, and nothing is changed. 0, -ESRCH when the agent does not
 * lead its session, -ENOENT without autogroups, or -errno (-EPERM without CAP_SYS_NICE).
 */
int priority_autogroup_nice(int nice);

#endif
