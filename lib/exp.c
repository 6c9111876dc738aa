/*
 * The experiment document: top-level keys, agents, safety settings and steady state, plus
 * loading from a buffer or a file, serialising and freeing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exp_priv.h"

/* Agents. */

#define AG(m) offsetof(struct exp_agent, m)

static const struct exp_field agent_fields[] = {
	FLD("name", FT_NAME, 0, AG(name), 0, 0, 0, NULL),
	FLD("address", FT_ADDRESS, 0, AG(address), 0, 0, 0, NULL),
	FLD("group", FT_NAME, 0, AG(group), 0, 0, 0, NULL),
};

static const struct exp_object agent_object;

static void agent_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			const struct exp_seen *seen)
{
	const struct exp_object *o = &agent_object;
	bool group = exp_seen_present(o, seen, "group");

	if (group && (exp_seen_present(o, seen, "name") || exp_seen_present(o, seen, "address")))
		exp_err_key(ctx, map, "group",
			    "an entry is either an agent (name, optional address) or an inventory "
			    "group, not both");
	else if (!group && !exp_seen_present(o, seen, "name"))
		exp_err(ctx, map, "needs a name (with an optional address) or an inventory group");
}

static const struct exp_object agent_object = {
	.name = "agent",
	.fields = agent_fields,
	.n_fields = ARRAY_SIZE(agent_fields),
	.size = sizeof(struct exp_agent),
	.check = agent_check,
};

static const struct exp_list agent_list = {
	.elem = {.type = FT_OBJECT, .aux = &agent_object},
	.elem_size = sizeof(struct exp_agent),
	.min_items = 1,
	.max_items = EXP_MAX_AGENTS,
};

/* Safety. */

static const char *const weekday_names[] = {
	[EXP_MON] = "mon", [EXP_TUE] = "tue", [EXP_WED] = "wed", [EXP_THU] = "thu",
	[EXP_FRI] = "fri", [EXP_SAT] = "sat", [EXP_SUN] = "sun",
};
const struct exp_enum exp_weekday_enum = {weekday_names, ARRAY_SIZE(weekday_names)};

static const struct exp_list day_list = {
	.elem = {.type = FT_ENUM, .aux = &exp_weekday_enum},
	.elem_size = sizeof(int),
	.min_items = 1,
	.max_items = 7,
};

#define WI(m) offsetof(struct exp_window, m)

static const struct exp_field window_fields[] = {
	{.key = "days",
	 .type = FT_LIST,
	 .flags = FF_UNIQUE,
	 .off = WI(days),
	 .off2 = WI(n_days),
	 .aux = &day_list},
	FLD("start", FT_TIME, FF_REQUIRED, WI(start_min), 0, 0, 0, NULL),
	FLD("end", FT_TIME, FF_REQUIRED, WI(end_min), 0, 0, 0, NULL),
	FLD("timezone", FT_TZ, FF_REQUIRED, WI(timezone), 0, 0, 0, NULL),
};

static void window_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			 const struct exp_seen *seen)
{
	const struct exp_object *o = &exp_window_object;
	struct exp_window *w = obj;

	if (exp_seen_valid(o, seen, "start") && exp_seen_valid(o, seen, "end") &&
	    w->start_min == w->end_min)
		exp_err_key(ctx, map, "end",
			    "the window is empty: start and end are both %02u:%02u",
			    w->end_min / 60, w->end_min % 60);
}

const struct exp_object exp_window_object = {
	.name = "window",
	.fields = window_fields,
	.n_fields = ARRAY_SIZE(window_fields),
	.size = sizeof(struct exp_window),
	.check = window_check,
};

#define SA(m) offsetof(struct exp_safety, m)

static const struct exp_field safety_fields[] = {
	FLD("lease_ttl", FT_DURATION, FF_DEFAULT, SA(lease_ttl_ns), SEC, 5 * MIN, 5 * SEC, NULL),
	FLD("max_duration", FT_DURATION, FF_DEFAULT, SA(max_duration_ns), SEC, 7 * DAY, HOUR, NULL),
	FLD("window", FT_OBJECT, FF_PTR, SA(window), 0, 0, 0, &exp_window_object),
	FLD("dry_run", FT_BOOL, FF_DEFAULT, SA(dry_run), 0, 0, 0, NULL),
	FLD("protect_control_channel", FT_BOOL, FF_DEFAULT, SA(protect_control_channel), 0, 0, 1,
	    NULL),
};

static const struct exp_object safety_object = {
	.name = "safety",
	.fields = safety_fields,
	.n_fields = ARRAY_SIZE(safety_fields),
	.size = sizeof(struct exp_safety),
};

/* Steady state. */

static const struct exp_list check_list = {
	.elem = {.type = FT_OBJECT, .aux = &exp_check_object},
	.elem_size = sizeof(struct exp_check),
	.min_items = 1,
	.max_items = EXP_MAX_PROBES,
};

#define SS(m) offsetof(struct exp_steady_state, m)

static const struct exp_field steady_fields[] = {
	{.key = "before",
	 .type = FT_LIST,
	 .off = SS(before),
	 .off2 = SS(n_before),
	 .aux = &check_list},
	{.key = "after",
	 .type = FT_LIST,
	 .off = SS(after),
	 .off2 = SS(n_after),
	 .aux = &check_list},
	FLD("recovery_timeout", FT_DURATION, FF_DEFAULT, SS(recovery_timeout_ns), 0, HOUR, MIN,
	    NULL),
};

static const struct exp_object steady_object = {
	.name = "steady_state",
	.fields = steady_fields,
	.n_fields = ARRAY_SIZE(steady_fields),
	.size = sizeof(struct exp_steady_state),
};

/* The experiment. */

static const struct exp_list guardrail_list = {
	.elem = {.type = FT_OBJECT, .aux = &exp_guardrail_object},
	.elem_size = sizeof(struct exp_guardrail),
	.min_items = 1,
	.max_items = EXP_MAX_PROBES,
};

static const struct exp_list fault_list = {
	.elem = {.type = FT_OBJECT, .aux = &exp_fault_object},
	.elem_size = sizeof(struct fault_spec),
	.min_items = 1,
	.max_items = EXP_MAX_FAULTS,
};

#define EX(m) offsetof(struct experiment, m)

static const struct exp_field experiment_fields[] = {
	FLD("version", FT_U32, FF_REQUIRED, EX(version), 0, UINT32_MAX, 0, NULL),
	FLD("name", FT_NAME, FF_REQUIRED, EX(name), 0, 0, 0, NULL),
	FLD("description", FT_STRING, 0, EX(description), 0, 4096, 0, NULL),
	FLD("hypothesis", FT_STRING, FF_REQUIRED, EX(hypothesis), 0, 1024, 0, NULL),
	FLD("inventory", FT_STRING, 0, EX(inventory), 0, 4095, 0, NULL),
	{.key = "agents",
	 .type = FT_LIST,
	 .flags = FF_REQUIRED,
	 .off = EX(agents),
	 .off2 = EX(n_agents),
	 .aux = &agent_list},
	FLD("duration", FT_DURATION, FF_REQUIRED, EX(duration_ns), SEC, 7 * DAY, 0, NULL),
	FLD("safety", FT_OBJECT, 0, EX(safety), 0, 0, 0, &safety_object),
	FLD("steady_state", FT_OBJECT, 0, EX(steady_state), 0, 0, 0, &steady_object),
	{.key = "guardrails",
	 .type = FT_LIST,
	 .off = EX(guardrails),
	 .off2 = EX(n_guardrails),
	 .aux = &guardrail_list},
	{.key = "faults",
	 .type = FT_LIST,
	 .flags = FF_REQUIRED,
	 .off = EX(faults),
	 .off2 = EX(n_faults),
	 .aux = &fault_list},
};

static void experiment_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			     const struct exp_seen *seen)
{
	struct experiment *e = obj;

	if (exp_seen_valid(&exp_experiment_object, seen, "version") &&
	    e->version != EXP_FORMAT_VERSION)
		exp_err_key(ctx, map, "version",
			    "unsupported format version %u; this build reads version %d",
			    e->version, EXP_FORMAT_VERSION);
	/* The rules over the whole experiment read the faults, so they need memory to be. */
	if (!ctx->nomem)
		exp_check_experiment(ctx, map, e);
}

const struct exp_object exp_experiment_object = {
	.name = "experiment",
	.fields = experiment_fields,
	.n_fields = ARRAY_SIZE(experiment_fields),
	.size = sizeof(struct experiment),
	.check = experiment_check,
};

int exp_load_buf(const char *buf, size_t len, struct experiment **out, struct diag_list *diags)
{
	return exp_doc_load(&exp_experiment_object, buf, len, (void **)out, diags);
}

/* Read at most EXP_MAX_DOC_SIZE + 1 bytes: enough to tell the loader the file is too big. */
int exp_read_file(const char *path, char **buf, size_t *len)
{
	size_t cap = 64 * 1024, n = 0;
	char *b = NULL, *nb;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r;

		if (!b || n == cap) {
			if (b)
				cap *= 2;
			if (cap > EXP_MAX_DOC_SIZE + 1)
				cap = EXP_MAX_DOC_SIZE + 1;
			nb = realloc(b, cap);
			if (!nb) {
				err = -ENOMEM;
				goto fail;
			}
			b = nb;
		}
		if (n == cap)
			break;
		r = read(fd, b + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*buf = b;
	*len = n;
	return 0;
fail:
	close(fd);
	free(b);
	return err;
}

int exp_doc_load(const struct exp_object *obj, const char *buf, size_t len, void **out,
		 struct diag_list *diags)
{
	size_t errs = diag_total(diags);
	struct exp_ctx ctx;
	struct enode *root;
	void *doc = NULL;
	int err = 0;

	*out = NULL;
	exp_ctx_init(&ctx, diags);
	root = exp_tree_build(&ctx, buf, len);
	if (root) {
		doc = calloc(1, obj->size);
		if (!doc) {
			ctx.nomem = true;
		} else {
			exp_obj_init(obj, doc);
			exp_obj_parse(&ctx, obj, root, doc);
		}
	}
	if (ctx.nomem || diags->err)
		err = -ENOMEM;
	else if (diag_total(diags) != errs || !root)
		err = -EINVAL;
	exp_ctx_release(&ctx);
	if (err) {
		if (doc)
			exp_obj_release(obj, doc);
		free(doc);
		return err;
	}
	*out = doc;
	return 0;
}

int exp_read_file_diag(const char *path, char **buf, size_t *len, struct diag_list *diags)
{
	int err = exp_read_file(path, buf, len);

	if (err && diag_add(diags, 0, 0, "", "%s", strerror(-err)))
		return -ENOMEM;
	return err;
}

int exp_doc_load_file(const struct exp_object *obj, const char *path, void **out,
		      struct diag_list *diags)
{
	char *buf = NULL;
	size_t len = 0;
	int err;

	*out = NULL;
	err = exp_read_file_diag(path, &buf, &len, diags);
	if (err)
		return err;
	if (exp_path_is_json(path))
		err = exp_json_check(buf, len, diags);
	if (!err)
		err = exp_doc_load(obj, buf, len, out, diags);
	free(buf);
	return err;
}

void exp_doc_free(const struct exp_object *obj, void *doc)
{
	if (!doc)
		return;
	exp_obj_release(obj, doc);
	free(doc);
}

int exp_load_file(const char *path, struct experiment **out, struct diag_list *diags)
{
	return exp_doc_load_file(&exp_experiment_object, path, (void **)out, diags);
}

void exp_free(struct experiment *e)
{
	exp_doc_free(&exp_experiment_object, e);
}

int exp_to_json(const struct experiment *e, json_t **out)
{
	return exp_obj_to_json(&exp_experiment_object, e, out);
}
