/*
 * The container a fault acts in, watched while the fault lasts. Its main process is held as
 * a pidfd polled on the loop (no timer, no /proc scan while it runs): when it exits, the
 * container is gone. Without follow_restarts the fault then ends (reverted, announced as
 * fault.target_gone); with it, the fault's effect is reverted (fault.target_exited), the
 * container is looked for again every TARGET_FOLLOW_PERIOD_MS by the fault's own target
 * (same id, name or compose service) while the fault's window lasts, and the one that comes
 * back gets the fault again (fault.reapplied), at most TARGET_FOLLOW_MAX times.
 *
 * A fault over several containers (fault_ops.target_members: a network fault with count,
 * percent or all) has each member's main process watched the same way. When one exits, that
 * member is dropped (fault_ops.drop_member, on a worker thread under the type's lane, the
 * fault busy meanwhile; fault.member_gone with "container" and "remaining"), and the fault
 * stays on the others; when the last one exits, the fault ends as target_gone.
 */
#ifndef FL_TARGET_WATCH_H
#define FL_TARGET_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct fault;
struct target_watch;

/* How often a fault that follows restarts looks for its container while it is gone. */
#define TARGET_FOLLOW_PERIOD_MS 1000
/* How many times a fault is applied again to a container that came back. */
#define TARGET_FOLLOW_MAX 10

/* What the watch asks of the core (which owns the fault's lifecycle and its events). */
struct target_watch_hooks {
	/* End the fault: revert it, announced as fault.target_gone; f may be freed. */
	void (*end)(struct fault *f, const char *why);
	/* Announce a fault event of this type ("fault.reapplied") with why as its reason. */
	void (*event)(struct fault *f, const char *type, const char *why);
	/* The same with more fields (extra, stolen): fault.member_gone. */
	void (*member_event)(struct fault *f, const char *type, const char *why, json_t *extra);
	/*
	 * After a member drop ran off the loop (f->busy cleared): start the revert asked for
	 * meanwhile, if any (f may be freed then), else bring the lease's deadline in again.
	 */
	void (*resume)(struct fault *f);
	/*
	 * Before applying again: 0, or -EBUSY with err when a fault applied meanwhile conflicts
	 * with it (the experiment's conflict rule, as at the first apply).
	 */
	int (*conflicts)(struct fault *f, char *err, size_t size);
};

/*
 * Watch the container f's type says the active fault acts in (fault_ops.target_container;
 * nothing for a type without it or a fault in no container). On the loop, right after the
 * apply. 0 or -errno (logged: the fault stays active, unwatched). hooks must outlive it.
 */
int target_watch_start(struct fault *f, const struct target_watch_hooks *hooks);

/*
 * Stop watching (the fault is being reverted, for why). true when the container was gone at
 * that moment (a fault waiting for it to come back): the fault then ends as target_gone, and
 * buf says why with the container ("WHY; container web (0123456789ab) exited at T and did
 * not come back").
 */
bool target_watch_stop(struct target_watch *w, const char *why, char *buf, size_t size);

/* Release the watch (NULL is fine); its handles close on the loop. */
void target_watch_free(struct target_watch *w);

/*
 * For the fault's JSON and events: {"container", "desc", "pid", "netns", "follow_restarts",
 * "state": "running"|"gone"|"unwatched", "exited_at", "reapplied", "last_error"}; over several
 * containers {"follow_restarts": false, "state", "containers": N, "remaining": R, "members":
 * [{"container", "desc", "pid", "netns", "state": "running"|"exiting"|"gone", "exited_at",
 * "error"}]} ("exiting": exited, its removal under way or failed: see "error").
 */
json_t *target_watch_json(const struct target_watch *w);

#endif
