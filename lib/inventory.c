/*
 * Inventory files. They are read with the experiment loader's tree and field tables, so
 * they get the same strictness (unknown keys, types, limits) and the same positioned
 * messages; the checks across entries (unique names, known members) are here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exp_priv.h"
#include "inventory.h"

#define IA(m) offsetof(struct inv_agent, m)

static const struct exp_field inv_agent_fields[] = {
	FLD("name", FT_NAME, FF_REQUIRED, IA(name), 0, 0, 0, NULL),
	FLD("address", FT_ADDRESS, FF_REQUIRED, IA(address), 0, 0, 0, NULL),
};

static const struct exp_object inv_agent_object = {
	.name = "inventory_agent",
	.fields = inv_agent_fields,
	.n_fields = ARRAY_SIZE(inv_agent_fields),
	.size = sizeof(struct inv_agent),
};

static const struct exp_list inv_agent_list = {
	.elem = {.type = FT_OBJECT, .aux = &inv_agent_object},
	.elem_size = sizeof(struct inv_agent),
	.min_items = 1,
	.max_items = INV_MAX_AGENTS,
};

static const struct exp_list member_list = {
	.elem = {.type = FT_NAME},
	.elem_size = sizeof(char *),
	.min_items = 1,
	.max_items = INV_MAX_AGENTS,
};

#define IG(m) offsetof(struct inv_group, m)

static const struct exp_field inv_group_fields[] = {
	FLD("name", FT_NAME, FF_REQUIRED, IG(name), 0, 0, 0, NULL),
	{.key = "members",
	 .type = FT_LIST,
	 .flags = FF_REQUIRED | FF_UNIQUE,
	 .off = IG(members),
	 .off2 = IG(n_members),
	 .aux = &member_list},
};

static const struct exp_object inv_group_object = {
	.name = "inventory_group",
	.fields = inv_group_fields,
	.n_fields = ARRAY_SIZE(inv_group_fields),
	.size = sizeof(struct inv_group),
};

static const struct exp_list inv_group_list = {
	.elem = {.type = FT_OBJECT, .aux = &inv_group_object},
	.elem_size = sizeof(struct inv_group),
	.min_items = 1,
	.max_items = INV_MAX_GROUPS,
};

#define IV(m) offsetof(struct inventory, m)

static const struct exp_field inventory_fields[] = {
	FLD("version", FT_U32, FF_REQUIRED, IV(version), 0, UINT32_MAX, 0, NULL),
	{.key = "agents",
	 .type = FT_LIST,
	 .flags = FF_REQUIRED,
	 .off = IV(agents),
	 .off2 = IV(n_agents),
	 .aux = &inv_agent_list},
	{.key = "groups",
	 .type = FT_LIST,
	 .off = IV(groups),
	 .off2 = IV(n_groups),
	 .aux = &inv_group_list},
};

static void inventory_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			    const struct exp_seen *seen);

static const struct exp_object inventory_object = {
	.name = "inventory",
	.fields = inventory_fields,
	.n_fields = ARRAY_SIZE(inventory_fields),
	.size = sizeof(struct inventory),
	.check = inventory_check,
};

/* Report msg at list[i].key (or at list[i] when the key is absent). */
static void err_at(struct exp_ctx *ctx, const struct enode *root, const char *list, size_t i,
		   const char *key, const char *msg)
{
	const struct enode *item = exp_node_item(exp_node_get(root, list), i);
	const struct enode *val = key ? exp_node_get(item, key) : NULL;
	size_t old = exp_path_key(ctx, list);

	exp_path_index(ctx, i);
	if (key)
		exp_path_key(ctx, key);
	exp_err(ctx, val ? val : item, "%s", msg);
	exp_path_set(ctx, old);
}

static void check_names(struct exp_ctx *ctx, const struct enode *root, struct inventory *inv)
{
	char q[DIAG_QUOTE_SIZE], msg[DIAG_QUOTE_SIZE + 96];

	for (size_t i = 0; i < inv->n_agents; i++) {
		for (size_t j = 0; inv->agents[i].name && j < i; j++) {
			if (!inv->agents[j].name ||
			    strcmp(inv->agents[i].name, inv->agents[j].name))
				continue;
			snprintf(msg, sizeof(msg), "%s is already listed as agents[%zu]",
				 diag_quote(q, inv->agents[i].name), j);
			err_at(ctx, root, "agents", i, "name", msg);
			break;
		}
	}
	for (size_t i = 0; i < inv->n_groups; i++) {
		const char *name = inv->groups[i].name;

		if (!name)
			continue;
		for (size_t j = 0; j < i; j++) {
			if (!inv->groups[j].name || strcmp(name, inv->groups[j].name))
				continue;
			snprintf(msg, sizeof(msg), "%s is already listed as groups[%zu]",
				 diag_quote(q, name), j);
			err_at(ctx, root, "groups", i, "name", msg);
			break;
		}
		/* Experiments name agents and groups in one list, so one name means one thing. */
		if (inv_agent_find(inv, name)) {
			snprintf(msg, sizeof(msg),
				 "%s is also the name of an agent; a group needs a name of its own",
				 diag_quote(q, name));
			err_at(ctx, root, "groups", i, "name", msg);
		}
	}
}

static void check_members(struct exp_ctx *ctx, const struct enode *root, struct inventory *inv)
{
	const char **names = NULL;

	for (size_t i = 0; i < inv->n_groups; i++) {
		const struct inv_group *g = &inv->groups[i];
		const struct enode *list =
			exp_node_get(exp_node_item(exp_node_get(root, "groups"), i), "members");

		for (size_t m = 0; m < g->n_members; m++) {
			size_t old;

			if (!g->members[m] || inv_agent_find(inv, g->members[m]))
				continue;
			if (!names) {
				names = calloc(inv->n_agents ? inv->n_agents : 1, sizeof(*names));
				if (!names) {
					ctx->nomem = true;
					return;
				}
				for (size_t a = 0; a < inv->n_agents; a++)
					names[a] = inv->agents[a].name ? inv->agents[a].name : "";
			}
			old = exp_path_key(ctx, "groups");
			exp_path_index(ctx, i);
			exp_path_key(ctx, "members");
			exp_path_index(ctx, m);
			exp_err_unknown(ctx, exp_node_item(list, m), "agent", g->members[m], names,
					inv->n_agents,
					"; members must be agents of this inventory");
			exp_path_set(ctx, old);
		}
	}
	free(names);
}

static void inventory_check(struct exp_ctx *ctx, const struct enode *map, void *obj,
			    const struct exp_seen *seen)
{
	struct inventory *inv = obj;

	if (exp_seen_valid(&inventory_object, seen, "version") &&
	    inv->version != INV_FORMAT_VERSION) {
		exp_err_key(ctx, map, "version",
			    "unsupported inventory version %u; this build reads version %d",
			    inv->version, INV_FORMAT_VERSION);
		return;
	}
	/* Cross-entry checks only make sense over lists that were read whole. */
	if (!exp_seen_valid(&inventory_object, seen, "agents"))
		return;
	check_names(ctx, map, inv);
	if (!exp_seen_present(&inventory_object, seen, "groups") ||
	    exp_seen_valid(&inventory_object, seen, "groups"))
		check_members(ctx, map, inv);
}

int inv_load_buf(const char *buf, size_t len, struct inventory **out, struct diag_list *diags)
{
	return exp_doc_load(&inventory_object, buf, len, (void **)out, diags);
}

int inv_load_file(const char *path, struct inventory **out, struct diag_list *diags)
{
	return exp_doc_load_file(&inventory_object, path, (void **)out, diags);
}

void inv_free(struct inventory *inv)
{
	exp_doc_free(&inventory_object, inv);
}

const struct inv_agent *inv_agent_find(const struct inventory *inv, const char *name)
{
	for (size_t i = 0; inv && i < inv->n_agents; i++)
		if (inv->agents[i].name && !strcmp(inv->agents[i].name, name))
			return &inv->agents[i];
	return NULL;
}

const struct inv_group *inv_group_find(const struct inventory *inv, const char *name)
{
	for (size_t i = 0; inv && i < inv->n_groups; i++)
		if (inv->groups[i].name && !strcmp(inv->groups[i].name, name))
			return &inv->groups[i];
	return NULL;
}
