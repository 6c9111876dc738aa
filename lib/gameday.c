/*
 * Game-day plans. They are read with the experiment loader's tree and field tables, so they
 * get the same strictness (unknown keys with suggestions, types, limits) and the same
 * positioned messages; the window is the experiment's own window object.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_priv.h"
#include "gameday.h"

static const char *const on_failure_names[] = {
	[GD_STOP] = "stop",
	[GD_CONTINUE] = "continue",
};
static const struct exp_enum on_failure_enum = {on_failure_names, ARRAY_SIZE(on_failure_names)};

const char *gd_on_failure_name(int v)
{
	return exp_enum_name(&on_failure_enum, v);
}

#define ST(m) offsetof(struct gd_step, m)

static const struct exp_field step_fields[] = {
	FLD("experiment", FT_STRING, FF_REQUIRED, ST(experiment), 0, 4095, 0, NULL),
	FLD("pause_before", FT_DURATION, FF_DEFAULT, ST(pause_before_ns), 0, 24 * HOUR, 0, NULL),
	FLD("pause_after", FT_DURATION, FF_DEFAULT, ST(pause_after_ns), 0, 24 * HOUR, 0, NULL),
	FLD("confirm", FT_BOOL, FF_DEFAULT, ST(confirm), 0, 0, 0, NULL),
	FLD("on_failure", FT_ENUM, FF_DEFAULT, ST(on_failure), 0, 0, GD_STOP, &on_failure_enum),
};

static const struct exp_object step_object = {
	.name = "gameday_step",
	.fields = step_fields,
	.n_fields = ARRAY_SIZE(step_fields),
	.size = sizeof(struct gd_step),
};

static const struct exp_list step_list = {
	.elem = {.type = FT_OBJECT, .aux = &step_object},
	.elem_size = sizeof(struct gd_step),
	.min_items = 1,
	.max_items = GD_MAX_STEPS,
};

#define GD(m) offsetof(struct gameday, m)

static const struct exp_field gameday_fields[] = {
	FLD("version", FT_U32, FF_REQUIRED, GD(version), 0, UINT32_MAX, 0, NULL),
	FLD("name", FT_NAME, FF_REQUIRED, GD(name), 0, 0, 0, NULL),
	FLD("description", FT_STRING, 0, GD(description), 0, 4096, 0, NULL),
	FLD("inventory", FT_STRING, 0, GD(inventory), 0, 4095, 0, NULL),
	FLD("window", FT_OBJECT, FF_PTR, GD(window), 0, 0, 0, &exp_window_object),
	{.key = "steps",
	 .type = FT_LIST,
	 .flags = FF_REQUIRED,
	 .off = GD(steps),
	 .off2 = GD(n_steps),
	 .aux = &step_list},
};

static void gameday_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			  const struct exp_seen *seen);

static const struct exp_object gameday_object = {
	.name = "gameday",
	.fields = gameday_fields,
	.n_fields = ARRAY_SIZE(gameday_fields),
	.size = sizeof(struct gameday),
	.check = gameday_check,
};

static void gameday_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			  const struct exp_seen *seen)
{
	struct gameday *g = obj;

	if (exp_seen_valid(&gameday_object, seen, "version") && g->version != GD_FORMAT_VERSION)
		exp_err_key(ctx, map, "version",
			    "unsupported game-day plan version %u; this build reads version %d",
			    g->version, GD_FORMAT_VERSION);
}

int gd_load_buf(const char *buf, size_t len, struct gameday **out, struct diag_list *diags)
{
	return exp_doc_load(&gameday_object, buf, len, (void **)out, diags);
}

int gd_load_file(const char *path, struct gameday **out, struct diag_list *diags)
{
	return exp_doc_load_file(&gameday_object, path, (void **)out, diags);
}

void gd_free(struct gameday *g)
{
	exp_doc_free(&gameday_object, g);
}

bool gd_is_plan(const char *buf, size_t len)
{
	struct diag_list scratch;
	const struct enode *root;
	struct exp_ctx ctx;
	bool plan;

	if (diag_init(&scratch, ""))
		return false;
	exp_ctx_init(&ctx, &scratch);
	root = exp_tree_build(&ctx, buf, len);
	plan = root && root->type == EN_MAP && exp_node_key(root, "steps") &&
	       !exp_node_key(root, "faults");
	exp_ctx_release(&ctx);
	diag_clear(&scratch);
	return plan;
}

int gd_validate_file(const char *path, struct diag_list *diags)
{
	struct experiment *e = NULL;
	struct gameday *g = NULL;
	char *buf = NULL;
	size_t len = 0;
	int err;

	err = exp_read_file(path, &buf, &len);
	if (err) {
		if (diag_add(diags, 0, 0, "", "%s", strerror(-err)))
			return -ENOMEM;
		return err;
	}
	/* A JSON file must be strict JSON before its content is checked. */
	if (exp_path_is_json(path) && exp_json_check(buf, len, diags))
		err = diags->err ? -ENOMEM : -EINVAL;
	else if (gd_is_plan(buf, len))
		err = gd_load_buf(buf, len, &g, diags);
	else
		err = exp_load_buf(buf, len, &e, diags);
	free(buf);
	gd_free(g);
	exp_free(e);
	return err;
}

char *gd_path(const char *plan_file, const char *path)
{
	const char *slash = strrchr(plan_file, '/');
	char *p;

	if (path[0] == '/' || !slash)
		return strdup(path);
	if (asprintf(&p, "%.*s/%s", (int)(slash - plan_file), plan_file, path) < 0)
		return NULL;
	return p;
}
