/*
 * Crash recovery: undo what the journal lists, record by record, through each fault type's
 * cleanup (the code of a start after a crash, of faultlined --cleanup and of the watchdog
 * when the agent dies; agent/core.h core_recover()).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "agent.h"
#include "core.h"
#include "fault.h"
#include "journal.h"
#include "log.h"

struct recover_ctx {
	struct agent *a;
	json_t *report;
	int failures;
};

static void recover_one(void *ctx, const char *key, json_t *rec, const char *problem)
{
	struct recover_ctx *rc = ctx;
	char report[512] = "";
	const struct fault_ops *type;
	const char *type_name = NULL;
	json_t *undo;
	int err;

	if (!rec) {
		rc->failures++;
		log_err("recovery: %s", problem);
		json_array_append_new(rc->report, json_pack("{s:s, s:b, s:s}", "fault", key, "ok",
							    0, "error", problem));
		return;
	}
	json_unpack(rec, "{s:s}", "type", &type_name);
	undo = json_object_get(rec, "undo");
	type = fault_ops_by_name(type_name);
	if (!type) {
		rc->failures++;
		snprintf(report, sizeof(report), "unknown fault type '%s'; record kept",
			 type_name ? type_name : "(none)");
		log_err("recovery: fault %s: %s", key, report);
		json_array_append_new(rc->report, json_pack("{s:s, s:b, s:s}", "fault", key, "ok",
							    0, "error", report));
		return;
	}
	err = type->cleanup(rc->a, json_is_object(undo) ? undo : NULL, report, sizeof(report));
	if (err) {
		rc->failures++;
		log_err("recovery: fault %s (%s): cleanup failed: %s; record kept", key, type->name,
			report[0] ? report : strerror(-err));
		json_array_append_new(rc->report, json_pack("{s:s, s:s, s:b, s:s}", "fault", key,
							    "type", type->name, "ok", 0, "error",
							    report[0] ? report : strerror(-err)));
		return;
	}
	journal_remove(rc->a->journal, key);
	log_info("recovery: fault %s (%s): %s", key, type->name, report);
	json_array_append_new(rc->report, json_pack("{s:s, s:s, s:b, s:s}", "fault", key, "type",
						    type->name, "ok", 1, "cleaned", report));
}

int core_recover(struct agent *a, json_t **report, int *failures)
{
	struct recover_ctx rc = {.a = a, .report = json_array()};
	int n, lock;

	/* A dead agent's watchdog may be undoing the same records right now: one at a time. */
	lock = journal_lock(a->journal, CORE_RECOVER_WAIT_MS);
	if (lock < 0) {
		json_decref(rc.report);
		return lock;
	}
	n = journal_foreach(a->journal, recover_one, &rc);
	journal_unlock(lock);
	if (n < 0) {
		json_decref(rc.report);
		return n;
	}
	*failures = rc.failures;
	*report = rc.report;
	return 0;
}
