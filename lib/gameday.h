/* Game-day plans: experiment files run in order, with pauses, confirmations and a window. */
#ifndef FL_GAMEDAY_H
#define FL_GAMEDAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define GD_FORMAT_VERSION 1
#define GD_MAX_STEPS 64

struct exp_window;

/* What the game day does after a step that did not hold (aborted, failed, refused). */
enum gd_on_failure {
	GD_STOP,     /* the default: later steps are not started */
	GD_CONTINUE, /* go on with the next step */
};

struct gd_step {
	char *experiment;	 /* experiment file, relative to the plan file */
	int64_t pause_before_ns; /* wait before the step (and before its confirmation) */
	int64_t pause_after_ns;	 /* wait after it, before the next step */
	bool confirm;		 /* ask the operator before the step starts */
	int on_failure;		 /* enum gd_on_failure */
};

struct gameday {
	uint32_t version;
	char *name;
	char *description;
	char *inventory;	   /* inventory for every step, relative to the plan file */
	struct exp_window *window; /* NULL: any time */
	struct gd_step *steps;
	size_t n_steps;
};

/*
 * Load and validate a plan (YAML or JSON) with the experiment loader's positioned
 * diagnostics: unknown keys (with a suggestion), types, limits, the window as in an
 * experiment's safety.window. The experiment files themselves are not read here. Returns 0
 * with *out set, -EINVAL with diags, -ENOMEM, or the -errno of an unreadable file (also
 * reported in diags).
 */
int gd_load_buf(const char *buf, size_t len, struct gameday **out, struct diag_list *diags);
int gd_load_file(const char *path, struct gameday **out, struct diag_list *diags);

/*
 * Whether a document is a game-day plan rather than an experiment: a mapping with `steps`
 * and without `faults`, so that `faultctl validate` can check both kinds of file. A
 * document that does not parse is not a plan (the experiment loader then says why).
 */
bool gd_is_plan(const char *buf, size_t len);

/*
 * Validate a file as a plan (gd_is_plan()) or else as an experiment, for `faultctl
 * validate`. Returns 0, -EINVAL with diags, -ENOMEM, or the -errno of an unreadable file.
 */
int gd_validate_file(const char *path, struct diag_list *diags);

/* Free a plan. Accepts NULL. */
void gd_free(struct gameday *g);

/*
 * A path the plan names (a step's experiment, the inventory), resolved against the plan
 * file's directory unless it is absolute. malloc'd, or NULL on -ENOMEM.
 */
char *gd_path(const char *plan_file, const char *path);

const char *gd_on_failure_name(int v);

#endif
