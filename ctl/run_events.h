/*
 * The agents' event streams followed during a run, for the final status of every fault
 * (run_events.c).
 */
#ifndef FL_RUN_EVENTS_H
#define FL_RUN_EVENTS_H

#include <stdint.h>

struct run;

/*
 * Follow every leased agent's event stream (a connection each, opened before any fault is
 * applied). An agent whose stream cannot be opened gets a timeline line; its faults then
 * report the last status read instead of the final one. Returns 0 or -ENOMEM.
 */
int run_events_start(struct run *r);

/*
 * After the revert: wait, at most wait_ns, for the final event of every fault that was
 * applied, record each one's final status and time, then stop following the streams.
 */
void run_events_finish(struct run *r, int64_t wait_ns);

/* Stop following and free; accepts a run that never started it. */
void run_events_release(struct run *r);

#endif
