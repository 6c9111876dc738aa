/* Capabilities: reporting for `agent info`, the drop after start-up, raising per thread. */
#include <errno.h>
#include <stdio.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <linux/securebits.h>

#include "caps.h"

/* Whether v is set in flag of caps (a failed query reads as not set). */
static bool cap_has(cap_t caps, cap_value_t v, cap_flag_t flag)
{
	cap_flag_value_t val = CAP_CLEAR;

	return !cap_get_flag(caps, v, flag, &val) && val == CAP_SET;
}

/*
 * Names of the capabilities set in flag; with lazy, only those not effective as well (the
 * permitted ones raised per thread when needed).
 */
static json_t *cap_names(cap_t caps, cap_flag_t flag, bool lazy)
{
	json_t *arr = json_array();

	for (cap_value_t v = 0; arr && v <= CAP_LAST_CAP; v++) {
		char *name;

		if (!cap_has(caps, v, flag) || (lazy && cap_has(caps, v, CAP_EFFECTIVE)))
			continue;
		name = cap_to_name(v);
		if (!name)
			continue;
		json_array_append_new(arr, json_string(name));
		cap_free(name);
	}
	return arr;
}

json_t *caps_to_json(void)
{
	cap_t caps = cap_get_proc();
	json_t *obj;

	if (!caps)
		return NULL;
	obj = json_pack("{s:o, s:o, s:o}", "effective", cap_names(caps, CAP_EFFECTIVE, false),
			"permitted", cap_names(caps, CAP_PERMITTED, false), "raised_per_thread",
			cap_names(caps, CAP_PERMITTED, true));
	cap_free(caps);
	if (!obj)
		errno = ENOMEM;
	return obj;
}

/* What caps_restrict() kept, once it has run (written before restricted is set). */
static uint64_t restricted_keep, restricted_lazy;
static bool restricted;

int caps_restrict(uint64_t keep, uint64_t lazy)
{
	cap_value_t vals[CAP_LAST_CAP + 1], eff[CAP_LAST_CAP + 1];
	int n = 0, n_eff = 0, err = 0;
	cap_t caps;

	/*
	 * Securebits first (needs CAP_SETPCAP, which we are about to give up): without them,
	 * uid 0 would regain every capability on exec.
	 */
	if (prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_SETUID_FIXUP |
					     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_NOROOT |
					     SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
					     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED))
		return -errno;
	for (cap_value_t v = 0; v <= CAP_LAST_CAP; v++) {
		if (keep & (1ULL << v)) {
			vals[n++] = v;
			if (!(lazy & (1ULL << v)))
				eff[n_eff++] = v;
			continue;
		}
		if (CAP_IS_SUPPORTED(v) && cap_drop_bound(v) && errno != EINVAL)
			return -errno;
	}
	if (cap_reset_ambient() && errno != EINVAL)
		return -errno;
	caps = cap_init();
	if (!caps)
		return -errno;
	if ((n_eff && cap_set_flag(caps, CAP_EFFECTIVE, n_eff, eff, CAP_SET)) ||
	    (n && cap_set_flag(caps, CAP_PERMITTED, n, vals, CAP_SET)) || cap_set_proc(caps))
		err = -errno;
	cap_free(caps);
	if (!err && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		err = -errno;
	if (!err) {
		/* For the threads that started before (caps_thread_sync()). */
		restricted_keep = keep;
		restricted_lazy = lazy;
		__atomic_store_n(&restricted, true, __ATOMIC_RELEASE);
	}
	return err;
}

int caps_thread_sync(void)
{
	static __thread bool synced;
	int err;

	if (synced || !__atomic_load_n(&restricted, __ATOMIC_ACQUIRE))
		return 0;
	/* Created after the restriction, this thread inherited it: nothing more to drop. */
	if (!(caps_permitted() & ~restricted_keep)) {
		synced = true;
		return 0;
	}
	err = caps_restrict(restricted_keep, restricted_lazy);
	if (!err)
		synced = true;
	return err;
}

/* cap_set_proc() without libpsx sets the calling thread's capabilities only. */
static int set_effective(int cap, cap_flag_value_t val)
{
	cap_value_t v = cap;
	cap_t caps = cap_get_proc();
	int err = 0;

	if (!caps)
		return -errno;
	if (cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, val) || cap_set_proc(caps))
		err = -errno;
	cap_free(caps);
	return err;
}

int caps_raise(int cap)
{
	return set_effective(cap, CAP_SET);
}

int caps_lower(int cap)
{
	return set_effective(cap, CAP_CLEAR);
}

static uint64_t flag_bits(cap_flag_t flag)
{
	cap_t caps = cap_get_proc();
	uint64_t set = 0;

	if (!caps)
		return 0;
	for (cap_value_t v = 0; v <= CAP_LAST_CAP && v < 64; v++) {
		cap_flag_value_t val = CAP_CLEAR;

		if (!cap_get_flag(caps, v, flag, &val) && val == CAP_SET)
			set |= 1ULL << v;
	}
	cap_free(caps);
	return set;
}

uint64_t caps_permitted(void)
{
	return flag_bits(CAP_PERMITTED);
}

uint64_t caps_effective_set(void)
{
	return flag_bits(CAP_EFFECTIVE);
}

bool caps_effective(int cap)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t val = CAP_CLEAR;

	if (!caps)
		return false;
	cap_get_flag(caps, cap, CAP_EFFECTIVE, &val);
	cap_free(caps);
	return val == CAP_SET;
}

/* Names of the capabilities in a bit set, for logs. */
void caps_names(uint64_t set, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (cap_value_t v = 0; v <= CAP_LAST_CAP && off < size; v++) {
		char *name;

		if (!(set & (1ULL << v)))
			continue;
		name = cap_to_name(v);
		off += snprintf(buf + off, size - off, "%s%s", off ? "," : "", name ? name : "?");
		cap_free(name);
	}
}
