/* The crew of `faultctl run`: the threads that apply the local agents' faults (run_crew.c). */
#ifndef FL_RUN_CREW_H
#define FL_RUN_CREW_H

#include <stddef.h>

#include "run_state.h"

/*
 * Deal the agents with faults to apply to the crews and start their threads. 0, or -errno
 * with err ("out of memory", "cannot start a thread: ..."); the threads started so far are
 * marked started, for run_crew_stop().
 */
int run_crew_start(struct run *r, char *err, size_t size);

/* Tell the crews the run is over (r->stop) and join the threads that were started. */
void run_crew_stop(struct run *r);

#endif
