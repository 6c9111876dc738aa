/*
 * The steady-state checks of a run (run_checks.c).
 */
#ifndef FL_RUN_CHECKS_H
#define FL_RUN_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

struct exp_check;
struct run_check;

/*
 * Evaluate every check c[0..n) once, concurrently, into out. A check can take its whole window
 * (an HTTP check at 1/s over 5m), so SIGINT/SIGTERM on sfd end the wait at once: then the
 * threads are left to finish on their own (they only read the experiment, which must then
 * stay allocated, and write their own job) and *signo is set. Returns 0, -EINTR or -ENOMEM.
 */
int run_checks_eval(const struct exp_check *c, size_t n, struct run_check *out, int sfd,
		    int *signo);

/* Whether a check result lets the run go on; a probe error follows the check's on_error. */
bool run_check_passes(const struct exp_check *c, const struct run_check *rc);

#endif
