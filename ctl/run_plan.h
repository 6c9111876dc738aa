/*
 * A run's plan (run_plan.c): which agent applies which fault, and whether it can.
 */
#ifndef FL_RUN_PLAN_H
#define FL_RUN_PLAN_H

#include <stddef.h>

struct fleet_agent;
struct inventory;
struct run;

/*
 * Fill r->faults with the run's (fault, agent) pairs, counted first so a fault on a thousand
 * agents is a thousand pairs, and r->workers with one worker per agent listing its pairs. An
 * error naming the fault that selects no valid agent goes to err. 0 or -errno.
 */
int run_plan_faults(struct run *r, const struct inventory *inv, char *err, size_t size);

/*
 * A fleet_each() callback (arg: the run): read the agent's /v1/info and check that it
 * implements and can apply every fault type of its worker's pairs; the reason goes to a->err.
 * 0, -EREMOTE when the agent answers with an error, -EOPNOTSUPP for a missing type.
 */
int run_check_types(struct fleet_agent *a, void *arg);

#endif
