/*
 * The watchdog: a small process the agent forks at start, before it drops its capabilities,
 * that outlives it. It holds a pidfd of the agent and learns every lease deadline through a
 * pipe. When the agent dies without a clean stop (SIGKILL, OOM kill, crash) it undoes what the
 * journal lists at once (core_recover(), the code of faultlined --cleanup); when the agent is
 * alive but a lease is overdue (stopped with SIGSTOP, hung), it kills the agent and does the
 * same. After a clean stop it exits. docs/api.md "Crash safety" describes the whole design.
 */
#ifndef FL_WATCHDOG_H
#define FL_WATCHDOG_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct agent;

/* The watchdog's process name (comm), for operators and tests. */
#define WATCHDOG_COMM "faultlined-wd"

/*
 * How far past a lease's deadline the watchdog lets the agent be before it kills it: a
 * stopped agent (state T) cannot end the lease at all, a running one may just be late.
 */
#define WATCHDOG_GRACE_STOPPED_MS 20
#define WATCHDOG_GRACE_RUNNING_MS 2000

/*
 * How the watchdog undoes what the journal lists (the agent's crash recovery, core_recover()):
 * passed in, so that the watchdog, which the core feeds with lease deadlines, does not call
 * back up into the core by name. 0 or -errno; *report and *failures as core_recover() says.
 */
typedef int (*watchdog_recover_fn)(struct agent *a, json_t **report, int *failures);

/*
 * Fork the watchdog of this agent (a->state_dir names the journal it cleans up, recover how).
 * Call once, with no other thread running, while the agent still has the capabilities the
 * fault types' cleanup needs: the watchdog keeps exactly those. 0 or -errno (the agent then
 * runs without).
 */
int watchdog_start(const struct agent *a, watchdog_recover_fn recover);

/* The watchdog's pid, 0 when there is none. */
pid_t watchdog_pid(void);

/* A lease got a new deadline (CLOCK_MONOTONIC ns). Never blocks; a no-op without watchdog. */
void watchdog_lease(const char *lease_id, uint64_t deadline_ns);

/* A lease ended (its faults are being reverted by the agent). */
void watchdog_lease_end(const char *lease_id);

/*
 * Clean stop: the agent reverted what it could (what failed stays in the journal for the next
 * start or ExecStopPost=). Tells the watchdog to exit without cleaning up and reaps it.
 */
void watchdog_stop(void);

#endif
