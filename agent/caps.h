/* Process capabilities, as libcap sees them. */
#ifndef FL_CAPS_H
#define FL_CAPS_H

#include <stdint.h>

#include <jansson.h>

/* {"effective": ["cap_kill", ...], "permitted": [...]} or NULL on error (errno set). */
json_t *caps_to_json(void);

/*
 * Keep only the capabilities in keep (bits 1ULL << CAP_*) in the effective, permitted and
 * bounding sets, drop all inheritable and ambient ones, lock the securebits so uid 0 gets
 * nothing back on exec, and set no_new_privs. Irreversible. Returns 0 or -errno.
 */
int caps_restrict(uint64_t keep);

/* Comma-separated names of the capabilities in set. */
void caps_names(uint64_t set, char *buf, size_t size);

#endif
