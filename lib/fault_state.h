/* The fault lifecycle, one state machine shared by every fault type. */
#ifndef FL_FAULT_STATE_H
#define FL_FAULT_STATE_H

#include <stdbool.h>

/*
 *   validated --apply--> applying --ok--> active --revert--> reverting --ok--> reverted
 *                           |               |                   |
 *                           |               +--done--> completed +--error--> revert_failed
 *                           |                                                    |
 *                           +--error--> apply_failed                              |
 *                                  reverting <--retry (revert, cleanup)----------+
 *
 * completed is an instantaneous fault (a one-shot process.kill) whose whole effect was the
 * apply: there is nothing to revert. apply_failed, reverted and completed are final;
 * revert_failed keeps its journal record so a later revert-all, shutdown or
 * `faultlined --cleanup` retries it.
 */
enum fault_state {
	FAULT_VALIDATED,
	FAULT_APPLYING,
	FAULT_ACTIVE,
	FAULT_REVERTING,
	FAULT_REVERTED,
	FAULT_APPLY_FAILED,
	FAULT_REVERT_FAILED,
	FAULT_COMPLETED,
	FAULT_STATE__COUNT,
};

const char *fault_state_name(enum fault_state s);

/* Whether from -> to is a transition of the lifecycle above. */
bool fault_state_can(enum fault_state from, enum fault_state to);

/* Whether a fault in this state may still have an effect on the system (needs a revert). */
bool fault_state_live(enum fault_state s);

/* Final states: nothing more will happen to the fault. */
bool fault_state_final(enum fault_state s);

#endif
