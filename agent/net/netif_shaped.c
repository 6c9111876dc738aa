/*
 * What the shaping faults (bandwidth, latency) change besides their rules (see netif.h,
 * struct netif_shaped): the egress root tree they replace, recorded at validate and journaled
 * as "egress_root" before the replace, and the IFB device of ours that ingress goes through,
 * journaled as "ingress_ifb" before it is created; their undo and their counters.
 * netif_cleanup.c reads the same records after a crash. Everything that touches a qdisc or
 * a device runs in the interface's network namespace (netns_call()): a step of apply as a
 * whole, the root's snapshot, the undo and the counters; so with a netns or container target
 * the qdiscs and the IFB device are created, counted and removed in that namespace, never in
 * the agent's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fault.h"
#include "log.h"
#include "netif.h"
#include "tc.h"

struct step_op {
	struct fault *f;
	netif_shaped_step *step;
	char *err;
	size_t size;
};

static int op_step(void *p)
{
	struct step_op *o = p;

	return o->step(o->f, o->err, o->size);
}

/*
 * Run a step in the namespace of the fault's interface. The loop thread waits for it, so
 * the step may journal and use the fault as on the loop thread; the BPF maps its rules go to
 * are not bound to a namespace.
 */
static int in_netns(struct fault *f, netif_shaped_step *step, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	struct step_op o = {.f = f, .step = step, .err = err, .size = size};
	int ret;

	err[0] = '\0';
	ret = netns_call(&nf->ns, op_step, &o);
	if (ret && !err[0])
		snprintf(err, size, "entering %s: %s", nf->ns.desc, strerror(-ret));
	return ret;
}

struct snap_op {
	int ifindex;
	json_t **root;
	char *why;
	size_t size;
};

static int op_snapshot(void *p)
{
	struct snap_op *o = p;

	return tc_root_snapshot(o->ifindex, o->root, o->why, o->size);
}

int netif_shaped_snapshot(struct fault *f, struct netif_shaped *s, char *err, size_t size)
{
	const struct netif_fault *nf = f->priv;
	char why[256];
	struct snap_op o = {
		.ifindex = nf->ifindex, .root = &s->root, .why = why, .size = sizeof(why)};
	int ret;

	/* Refuse now, before anything changes, a root we could not put back. */
	why[0] = '\0';
	ret = netns_call(&nf->ns, op_snapshot, &o);
	if (ret && !why[0])
		snprintf(why, sizeof(why), "entering %s: %s", nf->ns.desc, strerror(-ret));
	if (ret) {
		snprintf(err, size, "target.interface: %s: %s", nf->ifname, why);
		return ret;
	}
	tc_root_describe(s->root, s->replaced, sizeof(s->replaced));
	return 0;
}

int netif_shaped_record_root(struct fault *f, struct netif_shaped *s, char *err, size_t size)
{
	int ret;

	/* The tree we replace is on record before we replace it. */
	json_object_set(f->undo, "egress_root", s->root);
	ret = fault_journal(f);
	if (ret) {
		snprintf(err, size, "writing the journal: %s", strerror(-ret));
		return ret;
	}
	s->root_replaced = true;
	return 0;
}

int netif_shaped_create_ifb(struct fault *f, struct netif_shaped *s, const char *purpose, char *err,
			    size_t size)
{
	const struct netif_fault *nf = f->priv;
	int ret;

	snprintf(s->ifb, sizeof(s->ifb), "flifb%d", nf->ifindex);
	snprintf(s->ifb_alias, sizeof(s->ifb_alias), "faultline ingress %s of %s", purpose,
		 nf->ifname);
	json_object_set_new(f->undo, "ingress_ifb",
			    json_pack("{s:s, s:s}", "name", s->ifb, "alias", s->ifb_alias));
	ret = fault_journal(f);
	if (ret) {
		snprintf(err, size, "writing the journal: %s", strerror(-ret));
		return ret;
	}
	ret = tc_ifb_create(s->ifb, s->ifb_alias, &s->ifb_ifindex, err, size);
	if (ret == -EEXIST)
		snprintf(err, size,
			 "device %s exists already (a leftover? run faultlined --cleanup)", s->ifb);
	if (ret)
		return ret;
	s->ifb_created = true;
	return 0;
}

/* The undo's qdisc part (run in the interface's namespace): our IFB deleted, the root put back. */
static int undo_qdiscs(struct fault *f, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	struct netif_shaped *s = netif_shaped_of(f);
	char report[320];
	int ret;

	if (s->ifb_created) {
		bool deleted;

		ret = tc_ifb_delete(s->ifb, s->ifb_alias, &deleted);
		if (ret) {
			snprintf(err, size, "deleting IFB device %s: %s", s->ifb, strerror(-ret));
			return ret;
		}
		s->ifb_created = false;
		log_info("fault %s: IFB device %s deleted", f->id, s->ifb);
	}
	if (s->root_replaced) {
		ret = tc_root_restore(nf->ifindex, s->root, report, sizeof(report));
		if (ret) {
			/* The report may be longer than the caller's buffer: what does not
			 * fit there goes to the log whole, so nothing of it is lost. */
			if (snprintf(err, size, "%s: %s", nf->ifname, report) >= (int)size)
				log_err("fault %s: %s: %s", f->id, nf->ifname, report);
			return ret;
		}
		s->root_replaced = false;
		log_info("fault %s: %s: %s", f->id, nf->ifname, report);
	}
	return 0;
}

int netif_shaped_undo(struct fault *f, char *err, size_t size)
{
	int ret;

	/* Rules and steering off first: nothing is stamped or steered into a qdisc going away. */
	ret = netif_fault_remove_rules(f, err, size);
	if (!ret)
		ret = netif_fault_unsteer(f, err, size);
	if (!ret && netif_shaped_of(f))
		ret = in_netns(f, undo_qdiscs, err, size);
	if (ret)
		return ret;
	return netif_fault_detach(f, err, size);
}

struct stats_op {
	int ifindex;
	bool root;
	struct tc_shaper_stats *st;
};

static int op_stats(void *p)
{
	struct stats_op *o = p;

	return o->root ? tc_root_stats(o->ifindex, o->st) : tc_shaper_stats(o->ifindex, o->st);
}

json_t *netif_shaped_stats(const struct fault *f, int ifindex, bool root, bool overlimits)
{
	const struct netif_fault *nf = f->priv;
	struct tc_shaper_stats st;
	struct stats_op op = {.ifindex = ifindex, .root = root, .st = &st};
	json_t *o;

	if (!nf || netns_call(&nf->ns, op_stats, &op))
		return json_null();
	o = json_pack("{s:I, s:I, s:I}", "bytes", (json_int_t)st.bytes, "packets",
		      (json_int_t)st.packets, "drops", (json_int_t)st.drops);
	if (o && overlimits)
		json_object_set_new(o, "overlimits", json_integer((json_int_t)st.overlimits));
	if (o)
		json_object_set_new(o, "backlog_bytes", json_integer((json_int_t)st.backlog));
	return o ? o : json_null();
}

void netif_shaped_unwind(struct fault *f)
{
	char err[FAULT_ERR_SIZE] = "";

	if (netif_shaped_undo(f, err, sizeof(err)))
		log_err("fault %s: undoing a partial apply: %s", f->id, err);
}

struct netif_shaped *netif_shaped_of(const struct fault *f)
{
	const struct netif_fault *nf = f->priv;

	return nf ? nf->ext : NULL;
}

int netif_shaped_apply(struct fault *f, netif_shaped_step *egress, netif_shaped_step *ingress,
		       char *err, size_t size)
{
	unsigned int dirs = netif_dirs(f);
	int ret;

	ret = netif_fault_attach(f, err, size);
	if (ret)
		goto fail;
	netif_shaper_set(f, dirs);
	if (dirs & NETFAULT_DIR_EGRESS) {
		ret = in_netns(f, egress, err, size);
		if (ret)
			goto fail;
	}
	if (dirs & NETFAULT_DIR_INGRESS) {
		ret = in_netns(f, ingress, err, size);
		if (ret)
			goto fail;
	}
	return 0;
fail:
	netif_shaped_unwind(f);
	return ret;
}

int netif_shaped_steer(struct fault *f, struct netif_shaped *s, char *err, size_t size)
{
	struct netfault_rule_spec act = {.action = NETFAULT_ACT_SHAPE};
	int ret;

	ret = netif_fault_steer(f, s->ifb_ifindex, err, size);
	if (ret)
		return ret;
	return netif_fault_add_rules(f, NETFAULT_DIR_INGRESS, &act, err, size);
}

int netif_shaped_revert(struct agent *a, struct fault *f, char *err, size_t size)
{
	(void)a;
	return netif_shaped_undo(f, err, size);
}

void netif_shaped_release(struct netif_shaped *s)
{
	if (s) {
		json_decref(s->root);
		s->root = NULL;
	}
}
