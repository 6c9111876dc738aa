/* Process capabilities, as libcap sees them. */
#ifndef FL_CAPS_H
#define FL_CAPS_H

#include <jansson.h>

/* {"effective": ["cap_kill", ...], "permitted": [...]} or NULL on error (errno set). */
json_t *caps_to_json(void);

#endif
