/*
 * A device's root qdisc tree, recorded and put back exactly (see tc.h): the snapshot a
 * shaping fault takes before it replaces the root, its description, and the restore.
 *
 * The snapshot keeps each qdisc and class as the kernel dumped it (handle, parent, kind and
 * the raw TCA_OPTIONS bytes), and the restore sends those bytes back: what the kernel dumps is
 * what its change functions read, so the recreated tree dumps the same, which is what
 * `tc qdisc show` prints. Kinds are allowed only where that round trip has been checked
 * (docs/network-faults.md); anything else in the tree (filters, size tables, rate estimators)
 * makes the snapshot refuse rather than lose it.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "log.h"
#include "nlsock.h"
#include "tc.h"
#include "tc_nl.h"

/* Qdisc kinds whose dump -> recreate round trip gives back the same tree. */
static const char *const restorable_kinds[] = {
	"htb", "tbf", "pfifo", "bfifo", "pfifo_head_drop", "pfifo_fast", "noqueue", "mq", "fq",
};

/* Is this root one of ours: the shaper's HTB or the EDT fq, at our handle? */
static bool root_ours(uint32_t handle, const char *kind)
{
	return handle == TC_FL_ROOT && (!strcmp(kind, "htb") || !strcmp(kind, "fq"));
}

/* Kinds whose classes are created with the qdisc itself (not by RTM_NEWTCLASS). */
static bool implicit_classes(const char *kind)
{
	return strcmp(kind, "htb") != 0;
}

/* Qdiscs of the root tree (not ingress/clsact) and their classes. */
struct tree {
	struct tc_list q, c;
	const struct tc_obj *root;
};

static void tree_free(struct tree *t)
{
	tc_list_free(&t->q);
	tc_list_free(&t->c);
	t->root = NULL;
}

static bool in_ingress(uint32_t handle, uint32_t parent)
{
	return parent == TC_H_INGRESS || TC_H_MAJ(handle) == TC_H_MAJ(TC_H_INGRESS);
}

/* Keep only the objects of the root tree: the ingress (or clsact) qdisc is not ours to record. */
static void drop_ingress(struct tc_list *l)
{
	size_t j = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (in_ingress(l->v[i].handle, l->v[i].parent)) {
			free(l->v[i].opts);
			continue;
		}
		l->v[j++] = l->v[i];
	}
	l->n = j;
}

static int tree_read(struct nl_sock *sk, int ifindex, struct tree *t)
{
	int err;

	memset(t, 0, sizeof(*t));
	err = tc_dump(sk, RTM_GETQDISC, ifindex, 0, &t->q);
	if (!err)
		err = tc_dump(sk, RTM_GETTCLASS, ifindex, 0, &t->c);
	if (err) {
		tree_free(t);
		return err;
	}
	drop_ingress(&t->q);
	drop_ingress(&t->c);
	for (size_t i = 0; i < t->q.n; i++)
		if (t->q.v[i].parent == TC_H_ROOT)
			t->root = &t->q.v[i];
	if (!t->root) {
		tree_free(t);
		return -ENOENT;
	}
	return 0;
}

/*
 * Where a dump differs from what the kernel reads back, store what it reads: HTB dumps its
 * version as HTB_VER (major << 16 | minor) but accepts only the major, and its direct-packet
 * counter, which it ignores on input, would make equal trees compare unequal.
 */
static void normalise_opts(const char *kind, bool is_class, uint8_t *opts, size_t len)
{
	struct nlattr *a;
	int rem;

	if (is_class || strcmp(kind, "htb") || !opts)
		return;
	nla_for_each_attr(a, (struct nlattr *)opts, (int)len, rem)
	{
		if (nla_type(a) == TCA_HTB_INIT && nla_len(a) >= (int)sizeof(struct tc_htb_glob)) {
			struct tc_htb_glob *g = nla_data(a);

			g->version = TC_HTB_VERSION_MAJOR;
			g->direct_pkts = 0;
		}
	}
}

static json_t *obj_json(const struct tc_obj *o, bool is_class)
{
	json_t *j = json_pack("{s:I, s:I, s:s}", "handle", (json_int_t)o->handle, "parent",
			      (json_int_t)o->parent, "kind", o->kind);
	char *hex;

	if (!j || !o->opts_len)
		return j;
	hex = malloc(2 * o->opts_len + 1);
	if (!hex) {
		json_decref(j);
		return NULL;
	}
	normalise_opts(o->kind, is_class, o->opts, o->opts_len);
	for (size_t i = 0; i < o->opts_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", o->opts[i]);
	json_object_set_new(j, "options", json_string(hex));
	free(hex);
	return j;
}

static int obj_cmp(const void *a, const void *b)
{
	const struct tc_obj *x = a, *y = b;

	if (x->handle != y->handle)
		return x->handle < y->handle ? -1 : 1;
	return x->parent < y->parent ? -1 : x->parent > y->parent;
}

/* The tree as journal JSON: {"default": false, "qdiscs": [...], "classes": [...]}. */
static json_t *tree_json(struct tree *t)
{
	json_t *qs = json_array(), *cs = json_array(), *out;

	if (!qs || !cs) {
		json_decref(qs);
		json_decref(cs);
		return NULL;
	}
	/* Sorted, so two snapshots of the same tree are equal JSON whatever the dump order. */
	qsort(t->q.v, t->q.n, sizeof(*t->q.v), obj_cmp);
	qsort(t->c.v, t->c.n, sizeof(*t->c.v), obj_cmp);
	for (size_t i = 0; i < t->q.n; i++) {
		if (t->q.v[i].parent == TC_H_ROOT)
			t->root = &t->q.v[i];
		json_array_append_new(qs, obj_json(&t->q.v[i], false));
	}
	for (size_t i = 0; i < t->c.n; i++)
		json_array_append_new(cs, obj_json(&t->c.v[i], true));
	out = json_pack("{s:b, s:s, s:I, s:o, s:o}", "default", t->root->handle == 0, "root_kind",
			t->root->kind, "root_handle", (json_int_t)t->root->handle, "qdiscs", qs,
			"classes", cs);
	return out;
}

static bool kind_restorable(const char *kind)
{
	for (size_t i = 0; i < sizeof(restorable_kinds) / sizeof(restorable_kinds[0]); i++)
		if (!strcmp(kind, restorable_kinds[i]))
			return true;
	return false;
}

/* Why this tree cannot be restored exactly, or 0. */
static int tree_check(struct nl_sock *sk, int ifindex, const struct tree *t, char *why, size_t size)
{
	bool dflt = t->root->handle == 0;
	char h[16];

	for (size_t i = 0; i < t->q.n; i++) {
		const struct tc_obj *q = &t->q.v[i];

		tc_fmt_handle(q->handle, h, sizeof(h));
		if (TC_H_MAJ(q->handle) == TC_FL_ROOT || TC_H_MAJ(q->handle) == TC_FL_LEAF) {
			snprintf(why, size,
				 "qdisc %s %s uses a handle of faultline's shaper (a leftover of a "
				 "crashed agent? run faultlined --cleanup)",
				 q->kind, h);
			return -EBUSY;
		}
		if (!kind_restorable(q->kind)) {
			snprintf(why, size,
				 "its qdisc %s %s is of a kind faultline cannot recreate exactly "
				 "(it can: htb, tbf, pfifo, bfifo, pfifo_head_drop, pfifo_fast, "
				 "noqueue, mq, fq)",
				 q->kind, h);
			return -EBUSY;
		}
		if (q->stab || q->estimator || q->offloaded) {
			snprintf(why, size, "its qdisc %s %s has %s, which cannot be read back",
				 q->kind, h,
				 q->stab	? "a size table (stab)"
				 : q->estimator ? "a rate estimator"
						: "hardware offload");
			return -EBUSY;
		}
		if (dflt && q->handle) {
			snprintf(why, size,
				 "its default root has a non-default child qdisc %s %s, which "
				 "cannot "
				 "be recreated under a default root",
				 q->kind, h);
			return -EBUSY;
		}
	}
	if (dflt)
		return 0; /* the kernel's defaults carry no filters */
	/* Filters on any qdisc or class of the tree would be lost with it. */
	for (size_t i = 0; i < t->q.n + t->c.n; i++) {
		uint32_t parent = i < t->q.n ? t->q.v[i].handle : t->c.v[i - t->q.n].handle;
		struct tc_list f;
		int err;

		if (!parent)
			continue;
		err = tc_dump(sk, RTM_GETTFILTER, ifindex, parent, &f);
		if (err == -EINVAL || err == -EOPNOTSUPP || err == -ENOENT)
			continue; /* classless, or no filter block */
		if (err) {
			snprintf(why, size, "listing the tc filters under it: %s", strerror(-err));
			return err;
		}
		if (f.n) {
			tc_fmt_handle(parent, h, sizeof(h));
			snprintf(why, size,
				 "it has tc filters (%s on %s); faultline cannot recreate filters "
				 "exactly, so it does not replace a root that has them",
				 f.v[0].kind, h);
			tc_list_free(&f);
			return -EBUSY;
		}
		tc_list_free(&f);
	}
	return 0;
}

int tc_root_snapshot(int ifindex, json_t **out, char *why, size_t size)
{
	struct nl_sock *sk;
	struct tree t;
	char reason[200] = "";
	int err;

	*out = NULL;
	err = tc_sock(&sk, why, size);
	if (err)
		return err;
	err = tree_read(sk, ifindex, &t);
	if (err) {
		snprintf(why, size, "reading the qdiscs of ifindex %d: %s", ifindex,
			 strerror(-err));
		goto out;
	}
	err = tree_check(sk, ifindex, &t, reason, sizeof(reason));
	if (err) {
		snprintf(why, size, "the root qdisc tree cannot be restored exactly afterwards: %s",
			 reason);
		goto out_tree;
	}
	*out = tree_json(&t);
	if (!*out)
		err = -ENOMEM;
out_tree:
	tree_free(&t);
out:
	nlsock_release(sk);
	return err;
}

void tc_root_describe(const json_t *snap, char *buf, size_t size)
{
	const char *kind = json_string_value(json_object_get(snap, "root_kind"));
	json_int_t handle = json_integer_value(json_object_get(snap, "root_handle"));
	char h[16];

	if (json_is_true(json_object_get(snap, "default"))) {
		snprintf(buf, size, "the default root qdisc (%s)", kind ? kind : "?");
		return;
	}
	tc_fmt_handle((uint32_t)handle, h, sizeof(h));
	snprintf(buf, size, "root qdisc %s %s", kind ? kind : "?", h);
}

int tc_root_is_ours(int ifindex, bool *ours)
{
	struct nl_sock *sk;
	struct tree t;
	int err;

	*ours = false;
	err = nlsock_acquire(&sk);
	if (err)
		return err;
	err = tree_read(sk, ifindex, &t);
	if (!err) {
		*ours = root_ours(t.root->handle, t.root->kind);
		tree_free(&t);
	}
	nlsock_release(sk);
	return err;
}

static int hex_decode(const char *hex, uint8_t **out, size_t *len)
{
	size_t n = hex ? strlen(hex) : 0;

	*out = NULL;
	*len = 0;
	if (!n)
		return 0;
	if (n % 2)
		return -EINVAL;
	*out = malloc(n / 2);
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1) {
			free(*out);
			*out = NULL;
			return -EINVAL;
		}
		(*out)[i] = (uint8_t)b;
	}
	*len = n / 2;
	return 0;
}

/* Send one recorded qdisc or class back to the kernel. */
static int replay(struct nl_sock *sk, int ifindex, int type, int flags, const json_t *o, char *err,
		  size_t size)
{
	const char *kind = json_string_value(json_object_get(o, "kind"));
	uint32_t handle = (uint32_t)json_integer_value(json_object_get(o, "handle"));
	uint32_t parent = (uint32_t)json_integer_value(json_object_get(o, "parent"));
	char what[96], h[16];

	/* A top class is dumped with parent "root"; created, it names its qdisc, as tc does. */
	if (type == RTM_NEWTCLASS && parent == TC_H_ROOT)
		parent = TC_H_MAJ(handle);
	struct nl_msg *msg;
	uint8_t *opts;
	size_t len;
	int ret;

	tc_fmt_handle(handle, h, sizeof(h));
	snprintf(what, sizeof(what), "recreating %s %s %s",
		 type == RTM_NEWQDISC ? "qdisc" : "class", kind ? kind : "?", h);
	if (!kind) {
		snprintf(err, size, "%s: the record has no kind", what);
		return -EINVAL;
	}
	ret = hex_decode(json_string_value(json_object_get(o, "options")), &opts, &len);
	if (ret) {
		snprintf(err, size, "%s: bad options in the record", what);
		return ret;
	}
	normalise_opts(kind, type == RTM_NEWTCLASS, opts, len);
	msg = tc_msg(type, flags, ifindex, handle, parent);
	if (!msg || nla_put_string(msg, TCA_KIND, kind) < 0 ||
	    (len && nla_put(msg, TCA_OPTIONS, (int)len, opts) < 0)) {
		nlmsg_free(msg);
		free(opts);
		return -ENOMEM;
	}
	free(opts);
	return nlsock_talk(sk, msg, what, err, size);
}

/* A copy of a recorded tree with normalise_opts() applied (records of older agents too). */
static json_t *snap_normalised(const json_t *snap)
{
	json_t *copy = json_deep_copy(snap);
	static const char *const lists[] = {"qdiscs", "classes"};

	for (int l = 0; copy && l < 2; l++) {
		json_t *arr = json_object_get(copy, lists[l]), *o;
		size_t i;

		json_array_foreach(arr, i, o)
		{
			const char *kind = json_string_value(json_object_get(o, "kind"));
			struct tc_obj obj = {0};

			if (!kind || hex_decode(json_string_value(json_object_get(o, "options")),
						&obj.opts, &obj.opts_len))
				continue;
			snprintf(obj.kind, sizeof(obj.kind), "%s", kind);
			obj.handle = (uint32_t)json_integer_value(json_object_get(o, "handle"));
			obj.parent = (uint32_t)json_integer_value(json_object_get(o, "parent"));
			json_array_set_new(arr, i, obj_json(&obj, l == 1));
			free(obj.opts);
		}
	}
	return copy;
}

static bool handle_done(const uint32_t *done, size_t n, uint32_t h)
{
	for (size_t i = 0; i < n; i++)
		if (done[i] == h)
			return true;
	return false;
}

/* Recreate a recorded non-default tree in place of ours: root first, then top-down. */
static int replay_tree(struct nl_sock *sk, int ifindex, const json_t *snap, char *err, size_t size)
{
	const json_t *qs = json_object_get(snap, "qdiscs"), *cs = json_object_get(snap, "classes");
	size_t nq = json_array_size(qs), nc = json_array_size(cs), n_done = 0, i;
	uint32_t *done = calloc(nq + nc + 1, sizeof(*done));
	bool *sent = calloc(nq + nc + 1, sizeof(*sent));
	int ret = 0, progress = 1;

	if (!done || !sent) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nq; i++) {
		const json_t *q = json_array_get(qs, i);

		if (json_integer_value(json_object_get(q, "parent")) != TC_H_ROOT)
			continue;
		/* One replace at the root: ours goes and the recorded one is in, atomically. */
		ret = replay(sk, ifindex, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, q, err, size);
		if (ret)
			goto out;
		done[n_done++] = (uint32_t)json_integer_value(json_object_get(q, "handle"));
		sent[i] = true;
	}
	if (!n_done) {
		snprintf(err, size, "the record has no root qdisc");
		ret = -EINVAL;
		goto out;
	}
	/* Qdiscs with handle 0 are created by their parent (mq's per-queue children). */
	for (i = 0; i < nq; i++)
		if (!json_integer_value(json_object_get(json_array_get(qs, i), "handle")))
			sent[i] = true;
	/* Each pass creates what has its parent in place; the tree is at most nq + nc deep. */
	for (size_t pass = 0; progress && pass <= nq + nc; pass++) {
		progress = 0;
		for (i = 0; i < nc; i++) {
			const json_t *c = json_array_get(cs, i);
			uint32_t h = (uint32_t)json_integer_value(json_object_get(c, "handle"));
			uint32_t p = (uint32_t)json_integer_value(json_object_get(c, "parent"));
			const char *qkind = NULL;

			/* A top class is dumped with parent "root"; it hangs off its qdisc. */
			if (p == TC_H_ROOT)
				p = TC_H_MAJ(h);
			if (sent[nq + i] || !handle_done(done, n_done, TC_H_MAJ(h)) ||
			    !handle_done(done, n_done, p))
				continue;
			for (size_t k = 0; k < nq; k++) {
				const json_t *q = json_array_get(qs, k);

				if (json_integer_value(json_object_get(q, "handle")) == TC_H_MAJ(h))
					qkind = json_string_value(json_object_get(q, "kind"));
			}
			if (qkind && !implicit_classes(qkind)) {
				ret = replay(sk, ifindex, RTM_NEWTCLASS, NLM_F_CREATE | NLM_F_EXCL,
					     c, err, size);
				if (ret)
					goto out;
			}
			sent[nq + i] = true;
			done[n_done++] = h;
			progress = 1;
		}
		for (i = 0; i < nq; i++) {
			const json_t *q = json_array_get(qs, i);
			uint32_t p = (uint32_t)json_integer_value(json_object_get(q, "parent"));

			if (sent[i] || !handle_done(done, n_done, p))
				continue;
			ret = replay(sk, ifindex, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, q, err,
				     size);
			if (ret)
				goto out;
			sent[i] = true;
			done[n_done++] = (uint32_t)json_integer_value(json_object_get(q, "handle"));
			progress = 1;
		}
	}
	for (i = 0; i < nq + nc; i++) {
		if (!sent[i]) {
			snprintf(err, size,
				 "the record's tree is not connected (a parent is missing)");
			ret = -EINVAL;
			break;
		}
	}
out:
	free(done);
	free(sent);
	return ret;
}

static bool ifindex_exists(int ifindex)
{
	char name[IF_NAMESIZE];

	return if_indextoname((unsigned int)ifindex, name) != NULL;
}

int tc_root_restore(int ifindex, const json_t *snap, char *report, size_t size)
{
	char what[96], err[256] = "", was[64];
	struct nl_sock *sk;
	struct tree t;
	json_t *now, *want;
	int ret;

	tc_root_describe(snap, was, sizeof(was));
	if (!ifindex_exists(ifindex)) {
		snprintf(report, size, "the device is gone, and our root qdisc with it");
		return 0;
	}
	ret = tc_sock(&sk, report, size);
	if (ret)
		return ret;
	ret = tree_read(sk, ifindex, &t);
	if (ret) {
		snprintf(report, size, "reading the root qdisc: %s", strerror(-ret));
		goto out;
	}
	if (!root_ours(t.root->handle, t.root->kind)) {
		char h[16];

		tc_fmt_handle(t.root->handle, h, sizeof(h));
		snprintf(report, size,
			 "the root qdisc is %s %s, not our shaper any more (replaced since): left "
			 "alone, %s not restored",
			 t.root->kind, h, was);
		tree_free(&t);
		goto out;
	}
	tree_free(&t);
	if (json_is_true(json_object_get(snap, "default"))) {
		/* Deleting ours makes the kernel graft its default root in the same operation. */
		struct nl_msg *msg = tc_msg(RTM_DELQDISC, 0, ifindex, TC_FL_ROOT, TC_H_ROOT);

		if (!msg) {
			ret = -ENOMEM;
			goto out;
		}
		snprintf(what, sizeof(what), "removing our root qdisc");
		ret = nlsock_talk(sk, msg, what, err, sizeof(err));
	} else {
		ret = replay_tree(sk, ifindex, snap, err, sizeof(err));
	}
	if (ret) {
		snprintf(report, size, "restoring %s: %s", was, err);
		goto out;
	}
	/* Check the result against the record. */
	ret = tree_read(sk, ifindex, &t);
	if (ret) {
		snprintf(report, size, "reading the restored root qdisc: %s", strerror(-ret));
		goto out;
	}
	now = tree_json(&t);
	tree_free(&t);
	if (!now) {
		ret = -ENOMEM;
		goto out;
	}
	want = snap_normalised(snap);
	if (!want) {
		json_decref(now);
		ret = -ENOMEM;
		goto out;
	}
	if (json_is_true(json_object_get(snap, "default"))
		    ? !json_is_true(json_object_get(now, "default")) ||
			      !json_equal(json_object_get(now, "root_kind"),
					  json_object_get(snap, "root_kind"))
		    : !json_equal(now, want)) {
		char *a = json_dumps(snap, JSON_COMPACT), *b = json_dumps(now, JSON_COMPACT);

		log_err("tc: ifindex %d: restored root tree differs from the record: was %s, is %s",
			ifindex, a ? a : "?", b ? b : "?");
		free(a);
		free(b);
		snprintf(report, size,
			 "restored %s, but the result differs from the record (see "
			 "the log)",
			 was);
		ret = -EIO;
	} else {
		snprintf(report, size, "restored %s", was);
	}
	json_decref(now);
	json_decref(want);
out:
	nlsock_release(sk);
	return ret;
}
