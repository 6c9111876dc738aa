/* Capability reporting for `faultctl agent info`. */
#include <errno.h>
#include <sys/capability.h>

#include "caps.h"

static json_t *flag_set(cap_t caps, cap_flag_t flag)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (cap_value_t v = 0; v <= CAP_LAST_CAP; v++) {
		cap_flag_value_t val = CAP_CLEAR;
		char *name;

		if (cap_get_flag(caps, v, flag, &val) || val != CAP_SET)
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
	obj = json_pack("{s:o, s:o}", "effective", flag_set(caps, CAP_EFFECTIVE), "permitted",
			flag_set(caps, CAP_PERMITTED));
	cap_free(caps);
	if (!obj)
		errno = ENOMEM;
	return obj;
}
