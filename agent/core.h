/* The agent core: leases, the fault registry and lifecycle, journal and crash recovery. */
#ifndef FL_CORE_H
#define FL_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "fault.h"

#define LEASE_TTL_DEFAULT_MS 5000
#define LEASE_TTL_MIN_MS 100
#define LEASE_TTL_MAX_MS (3600 * 1000)

/* A dead-man's switch: every fault belongs to one; when it is not renewed in time, every
 * fault under it is reverted. */
struct lease {
	char id[24];
	uint64_t ttl_ms;
	uint64_t deadline; /* loop time (ms) at which it expires */
	/*
	 * The same deadline in CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns()'s clock): what
	 * the network faults' BPF rules and the watchdog enforce when the agent cannot.
	 */
	uint64_t deadline_ns;
	uv_timer_t timer;
	struct agent *agent;
	struct lease *next;
	int closing;
};

/*
 * How long recovery waits for another process undoing the same journal (the watchdog of an
 * agent that died) before it gives up with -ETIMEDOUT.
 */
#define CORE_RECOVER_WAIT_MS 60000

/*
 * Read the journal and undo what a previous run left. *report (new reference) lists it.
 * Holds the journal's recovery lock meanwhile (journal_lock()).
 */
int core_recover(struct agent *a, json_t **report, int *failures);

int core_lease_new(struct agent *a, uint64_t ttl_ms, struct lease **out);
struct lease *core_lease_find(struct agent *a, const char *id);
void core_lease_renew(struct lease *l);
/* End a lease: revert its faults (why is logged and put in the events) and forget it. */
int core_lease_end(struct lease *l, const char *why);

/* Several reverts done: failed is how many of them failed. */
typedef void (*core_done_fn)(void *ctx, int failed);

/*
 * core_lease_end(), and when some of its faults revert off the loop, returns -EINPROGRESS
 * and calls done once they have all ended (never when it returns anything else).
 * *after_apply (may be NULL) counts the faults still being applied, whose revert follows
 * their apply: done does not wait for those.
 */
int core_lease_end_then(struct lease *l, const char *why, core_done_fn done, void *ctx,
			int *after_apply);
json_t *core_lease_json(const struct lease *l);

/*
 * How an off-loop apply ends, called on the loop: ret 0 or the apply's -errno with err
 * filled in. f stays valid only until control returns to the event loop: long enough to
 * answer with core_fault_json(). On success its state says what is true by then: active,
 * completed, or reverted / revert_failed when a revert was asked for during the apply
 * (f->revert_why says why).
 */
typedef void (*core_applied_fn)(struct fault *f, int ret, const char *err, void *ctx);

/*
 * Take a parsed fault (spec and spec_json are taken over, also on failure) through
 * validate -> apply under lease l. On success *out is the active fault, or a fault that
 * completed at once (state completed, e.g. a one-shot process.kill): that one is no longer
 * listed and stays valid only until control returns to the event loop, long enough to
 * answer with core_fault_json(). On failure returns
 * -errno with err filled in; -EINVAL/-EOPNOTSUPP/-EPERM mean the request was refused and
 * nothing was changed.
 *
 * Validation always runs here, on the loop. When the type applies off the loop
 * (fault_ops.off_loop) and applied is given, the apply runs on a worker thread: the call
 * returns -EINPROGRESS with *out the fault, listed in state applying, and applied(ctx)
 * follows on the loop when it is done.
 */
int core_fault_apply(struct agent *a, struct lease *l, const struct fault_ops *type,
		     struct fault_spec *spec, json_t *spec_json, uint64_t duration_ms,
		     pid_t peer_pid, core_applied_fn applied, void *ctx, struct fault **out,
		     char *err, size_t err_size);

struct fault *core_fault_find(struct agent *a, const char *id);
/*
 * Revert one fault and forget it. 0, or -errno when the revert failed (fault kept), or
 * -EINPROGRESS when the revert goes on off the loop (fault_ops.revert_off_loop;
 * fault.reverted or fault.revert_failed follows), or when a worker thread is still applying
 * the fault: the revert then starts as soon as the apply completes.
 */
int core_fault_revert(struct fault *f, const char *why);

/* How an off-loop revert ended, on the loop; f is valid until control returns to it. */
typedef void (*core_reverted_fn)(struct fault *f, int ret, void *ctx);

/*
 * core_fault_revert(), and when the revert runs on a worker thread (revert_off_loop:
 * killing hundreds of workers takes a while), returns -EINPROGRESS with the fault in state
 * reverting and calls cb when it is done. Never calls cb when it returns anything else.
 */
int core_fault_revert_then(struct fault *f, const char *why, core_reverted_fn cb, void *ctx);
/*
 * Revert every live fault (those still being applied: right after their apply; off-loop
 * types: on a worker thread). Returns the number that failed to revert here and now.
 */
int core_revert_all(struct agent *a, const char *why);

/* core_revert_all(), answered like core_lease_end_then(): failed count, or -EINPROGRESS. */
int core_revert_all_then(struct agent *a, const char *why, core_done_fn done, void *ctx,
			 int *after_apply);
json_t *core_fault_json(const struct fault *f);
json_t *core_faults_json(const struct agent *a);

/* Release what the core holds (after core_revert_all). */
void core_free(struct agent *a);

#endif
