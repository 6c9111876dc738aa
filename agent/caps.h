/* Process capabilities, as libcap sees them. */
#ifndef FL_CAPS_H
#define FL_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/*
 * {"effective": ["cap_kill", ...], "permitted": [...], "raised_per_thread": [...]} of the
 * calling thread, or NULL on error (errno set). raised_per_thread: permitted but not
 * effective, raised only by the short-lived thread that needs one (caps_raise()).
 */
json_t *caps_to_json(void);

/*
 * Keep only the capabilities in keep (bits 1ULL << CAP_*) in the permitted and bounding sets,
 * and those of them not in lazy in the effective set too; drop all inheritable and ambient
 * ones, lock the securebits so uid 0 gets nothing back on exec, and set no_new_privs.
 * Capabilities are per thread: this sets the calling thread's, which threads it creates
 * afterwards inherit. Irreversible. Returns 0 or -errno.
 */
int caps_restrict(uint64_t keep, uint64_t lazy);

/*
 * Give the calling thread the restriction caps_restrict() put on another thread, when it
 * was created before that (the loop's worker pool, started early under --loop-realtime,
 * would otherwise keep every capability of root). Call it first in work that runs on a
 * worker thread; cheap once done, nothing before caps_restrict() ran. 0 or -errno.
 */
int caps_thread_sync(void);

/*
 * Raise cap (CAP_*, in the permitted set) into the calling thread's effective set, or lower it
 * out of it; no other thread's capabilities change. 0 or -errno.
 */
int caps_raise(int cap);
int caps_lower(int cap);

/* The permitted set as bits (1ULL << CAP_*); 0 when it cannot be read. */
uint64_t caps_permitted(void);

/* The effective set as bits (1ULL << CAP_*); 0 when it cannot be read. */
uint64_t caps_effective_set(void);

/* Whether cap (CAP_*) is in the effective set now. */
bool caps_effective(int cap);

/* Comma-separated names of the capabilities in set. */
void caps_names(uint64_t set, char *buf, size_t size);

#endif
