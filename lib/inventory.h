/* Inventory files: the agents of a fleet by name, with their addresses, and named groups. */
#ifndef FL_INVENTORY_H
#define FL_INVENTORY_H

#include <stddef.h>

#include "diag.h"

#define INV_FORMAT_VERSION 1
#define INV_MAX_AGENTS 1024 /* same as EXP_MAX_AGENTS: a run drives at most this many */
#define INV_MAX_GROUPS 256

struct inv_agent {
	char *name;
	char *address; /* unix:///path or ssh://[user@]host[:port] */
};

struct inv_group {
	char *name;
	char **members; /* agent names of this inventory, without repeats */
	size_t n_members;
};

struct inventory {
	unsigned version;
	struct inv_agent *agents;
	size_t n_agents;
	struct inv_group *groups;
	size_t n_groups;
};

/*
 * Load and validate an inventory (YAML or JSON) with the experiment loader's positioned
 * diagnostics: unknown keys, bad addresses, duplicate names, group members that are not
 * agents of the inventory, groups named like agents. Returns 0 with *out set, -EINVAL with
 * diags, -ENOMEM, or the -errno of an unreadable file (also reported in diags).
 */
int inv_load_buf(const char *buf, size_t len, struct inventory **out, struct diag_list *diags);
int inv_load_file(const char *path, struct inventory **out, struct diag_list *diags);

/* Free an inventory. Accepts NULL. */
void inv_free(struct inventory *inv);

/* Look an agent or a group up by name; NULL when there is none. */
const struct inv_agent *inv_agent_find(const struct inventory *inv, const char *name);
const struct inv_group *inv_group_find(const struct inventory *inv, const char *name);

#endif
