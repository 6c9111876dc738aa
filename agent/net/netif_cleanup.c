/*
 * Crash cleanup of network faults (see netif.h): what a journal record left by a dead agent
 * says was changed, put back: the interface record netif_fault_attach() writes ("interface",
 * "ifindex", "clsact_created") and the shaping records of netif_shaped.c ("ingress_ifb",
 * "egress_root").
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "netif.h"
#include "netif_impl.h"
#include "tc.h"

/*
 * The namespace of the record: the agent's own without "netns"; else reopened (by its path,
 * or its process and start time) and checked to be the same inode. -ENOENT/-ESTALE with the
 * report written when it is gone: nothing of ours can be left in it.
 */
static int record_netns(const json_t *undo, struct netns_ref *ns, char *report, size_t size)
{
	const json_t *rec = json_object_get(undo, "netns");
	char why[512];
	int ret;

	netns_ref_init(ns);
	if (!rec)
		return 0;
	ret = netns_ref_reopen(rec, ns, why, sizeof(why));
	if (ret == -ENOENT || ret == -ESTALE)
		snprintf(report, size,
			 "%s: nothing left to clean (our rules there lapsed with their lease in "
			 "any case)",
			 why);
	else if (ret)
		snprintf(report, size, "%s", why);
	return ret;
}

static int cleanup_in(const struct netns_ref *ns, const json_t *undo, char *report, size_t size)
{
	const char *name = json_string_value(json_object_get(undo, "interface"));
	int ifindex = (int)json_integer_value(json_object_get(undo, "ifindex"));
	bool created = json_is_true(json_object_get(undo, "clsact_created"));
	bool had_clsact, has_clsact;
	char now[IF_NAMESIZE];
	size_t off = 0;
	int ret, removed = 0;

	if (netns_ref_foreign(ns)) {
		off = (size_t)snprintf(report, size, "%s: ", ns->desc);
		if (off >= size)
			off = 0;
		report += off;
		size -= off;
	}
	if (netif_ns_ifname(ns, ifindex, now)) {
		snprintf(report, size, "interface %s (ifindex %d) is gone, and our filters with it",
			 name, ifindex);
		return 0;
	}
	if (strcmp(now, name)) {
		snprintf(report, size,
			 "ifindex %d is now called %s, not %s as recorded: not touched (check it "
			 "by hand, then remove the journal record)",
			 ifindex, now, name);
		return -ESTALE;
	}
	if (netif_ns_clsact_present(ns, ifindex, &had_clsact))
		had_clsact = false;
	ret = netif_ns_cleanup_leftover(ns, ifindex, created ? NETFAULT_CLEANUP_QDISC : 0,
					&removed);
	if (ret) {
		snprintf(report, size, "%s: removing our filters: %s", name, strerror(-ret));
		return ret;
	}
	if (netif_ns_clsact_present(ns, ifindex, &has_clsact))
		has_clsact = true;
	snprintf(report, size, "%s: %d filter(s) of ours removed%s", name, removed,
		 had_clsact && !has_clsact ? ", clsact (ours) deleted" : "");
	return 0;
}

/*
 * The shaping records (run in the record's namespace, after cleanup_in()): the IFB device
 * named in "ingress_ifb" deleted if it is ours, the root tree of "egress_root" put back if
 * the root is still ours. Appends to report.
 */
struct shaped_op {
	const json_t *undo;
	char *report;
	size_t size;
};

static int op_shaped(void *p)
{
	struct shaped_op *o = p;
	const json_t *root = json_object_get(o->undo, "egress_root");
	const json_t *ifb = json_object_get(o->undo, "ingress_ifb");
	int ifindex = (int)json_integer_value(json_object_get(o->undo, "ifindex"));
	size_t off = strlen(o->report);
	int ret;

	if (ifb && off < o->size) {
		const char *name = json_string_value(json_object_get(ifb, "name"));
		const char *alias = json_string_value(json_object_get(ifb, "alias"));
		bool deleted = false;

		ret = name && alias ? tc_ifb_delete(name, alias, &deleted) : -EINVAL;
		off += snprintf(o->report + off, o->size - off, "; IFB device %s: %s",
				name ? name : "?",
				ret	  ? strerror(-ret)
				: deleted ? "deleted"
					  : "not there");
		if (ret)
			return ret;
	}
	if (root && off < o->size) {
		char r[256];

		ret = tc_root_restore(ifindex, root, r, sizeof(r));
		snprintf(o->report + off, o->size - off, "; %s", r);
		if (ret)
			return ret;
	}
	return 0;
}

static int cleanup(const json_t *undo, bool shaped, char *report, size_t size)
{
	const char *name = json_string_value(json_object_get(undo, "interface"));
	int ifindex = (int)json_integer_value(json_object_get(undo, "ifindex"));
	struct shaped_op o = {.undo = undo, .report = report, .size = size};
	struct netns_ref ns;
	int ret;

	if (!name || ifindex <= 0) {
		snprintf(report, size, "nothing had been attached");
		return 0;
	}
	ret = record_netns(undo, &ns, report, size);
	if (ret == -ENOENT || ret == -ESTALE)
		return 0; /* the namespace is gone, and its qdiscs and IFB device with it */
	if (ret)
		return ret;
	ret = cleanup_in(&ns, undo, report, size);
	/* A renamed interface is not touched at all (cleanup_in() said so). */
	if (!ret && shaped)
		ret = netns_call(&ns, op_shaped, &o);
	netns_ref_close(&ns);
	return ret;
}

int netif_fault_cleanup(struct agent *a, const json_t *undo, char *report, size_t size)
{
	const json_t *more = json_object_get(undo, "more_netns");
	int ret = cleanup(undo, false, report, size);
	size_t i, off;
	json_t *rec;
	int r;

	(void)a;
	/* The further namespaces of a container target that selected several: each cleaned. */
	json_array_foreach(more, i, rec)
	{
		off = strlen(report);
		if (off + 3 >= size)
			break;
		report[off++] = ';';
		report[off++] = ' ';
		report[off] = '\0';
		r = cleanup(rec, false, report + off, size - off);
		if (r && !ret)
			ret = r;
	}
	return ret;
}

int netif_shaper_cleanup(struct agent *a, const json_t *undo, char *report, size_t size)
{
	(void)a;
	return cleanup(undo, true, report, size);
}
