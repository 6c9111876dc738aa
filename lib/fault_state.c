/* Fault lifecycle transitions as a table: one place says what may follow what. */
#include "fault_state.h"

static const char *const names[FAULT_STATE__COUNT] = {
	[FAULT_VALIDATED] = "validated",
	[FAULT_APPLYING] = "applying",
	[FAULT_ACTIVE] = "active",
	[FAULT_REVERTING] = "reverting",
	[FAULT_REVERTED] = "reverted",
	[FAULT_APPLY_FAILED] = "apply_failed",
	[FAULT_REVERT_FAILED] = "revert_failed",
	[FAULT_COMPLETED] = "completed",
};

/* allowed[from] is a bit set of the states that may follow. */
static const unsigned allowed[FAULT_STATE__COUNT] = {
	[FAULT_VALIDATED] = 1u << FAULT_APPLYING,
	[FAULT_APPLYING] = 1u << FAULT_ACTIVE | 1u << FAULT_APPLY_FAILED,
	[FAULT_ACTIVE] = 1u << FAULT_REVERTING | 1u << FAULT_COMPLETED,
	[FAULT_REVERTING] = 1u << FAULT_REVERTED | 1u << FAULT_REVERT_FAILED,
	[FAULT_REVERT_FAILED] = 1u << FAULT_REVERTING,
};

const char *fault_state_name(enum fault_state s)
{
	return (unsigned)s < FAULT_STATE__COUNT ? names[s] : "invalid";
}

bool fault_state_can(enum fault_state from, enum fault_state to)
{
	if ((unsigned)from >= FAULT_STATE__COUNT || (unsigned)to >= FAULT_STATE__COUNT)
		return false;
	return allowed[from] & (1u << to);
}

bool fault_state_live(enum fault_state s)
{
	return s == FAULT_APPLYING || s == FAULT_ACTIVE || s == FAULT_REVERTING ||
	       s == FAULT_REVERT_FAILED;
}

bool fault_state_final(enum fault_state s)
{
	return s == FAULT_REVERTED || s == FAULT_APPLY_FAILED || s == FAULT_COMPLETED;
}
