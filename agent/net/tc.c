/*
 * Traffic control over rtnetlink (see tc.h). The root-tree snapshot keeps each qdisc and class
 * as the kernel dumped it (handle, parent, kind and the raw TCA_OPTIONS bytes), and the restore
 * sends those bytes back: what the kernel dumps is what its change functions read, so the
 * recreated tree dumps the same, which is what `tc qdisc show` prints. Kinds are allowed only
 * where that round trip has been checked (docs/network-faults.md); anything else in the tree
 * (filters, size tables, rate estimators) makes the snapshot refuse rather than lose it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/gen_stats.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/class.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/fifo.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/tc.h>

#include "log.h"
#include "tc.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* The HTB version the kernel accepts in TCA_HTB_INIT (HTB_VER >> 16 in sch_htb.c). */
#define HTB_VERSION_MAJOR 3

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

/* One qdisc or class as dumped. */
struct tc_obj {
	uint32_t handle, parent;
	char kind[32];
	uint8_t *opts;
	size_t opts_len;
	bool stab, estimator, offloaded;
};

struct tc_list {
	struct tc_obj *v;
	size_t n;
	int ifindex;
	int err;
};

static void list_free(struct tc_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].opts);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void fmt_handle(uint32_t h, char *buf, size_t size)
{
	if (h == TC_H_ROOT)
		snprintf(buf, size, "root");
	else if (TC_H_MIN(h))
		snprintf(buf, size, "%x:%x", TC_H_MAJ(h) >> 16, TC_H_MIN(h));
	else
		snprintf(buf, size, "%x:", TC_H_MAJ(h) >> 16);
}

/* ---- netlink plumbing -------------------------------------------------------------------- */

static int nlerr_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:
		return 0;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_RANGE:
		return -ERANGE;
	default:
		return -EIO;
	}
}

static int sock_open(struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1, err;

	*out = NULL;
	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err) {
		nl_socket_free(sk);
		return nlerr_to_errno(err);
	}
	/* The kernel's own words on a refusal, without a copy of our request in the reply. */
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	*out = sk;
	return 0;
}

struct talk {
	int err; /* -errno from the kernel */
	bool done;
	char msg[160]; /* extended ack message */
};

static int talk_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct talk *t = arg;

	(void)nla;
	t->err = e->error;
	t->done = true;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		size_t off = NLMSG_HDRLEN + sizeof(*e);
		struct nlattr *a;
		int rem;

		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		if (off < nlh->nlmsg_len) {
			nla_for_each_attr(a, (struct nlattr *)((char *)nlh + NLMSG_ALIGN(off)),
					  (int)(nlh->nlmsg_len - NLMSG_ALIGN(off)), rem)
			{
				if (nla_type(a) == NLMSGERR_ATTR_MSG)
					nla_strlcpy(t->msg, a, sizeof(t->msg));
			}
		}
	}
	return NL_STOP;
}

static int talk_ack(struct nl_msg *msg, void *arg)
{
	struct talk *t = arg;

	(void)msg;
	t->done = true;
	return NL_STOP;
}

/*
 * Send a request and wait for the kernel's answer. Returns 0 or -errno; err (may be NULL) gets
 * "what: reason" with the kernel's extended ack message when there is one. Frees msg.
 */
static int talk(struct nl_sock *sk, struct nl_msg *msg, const char *what, char *err, size_t size)
{
	struct talk t = {0};
	int ret;

	nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, talk_error, &t);
	nl_socket_modify_cb(sk, NL_CB_ACK, NL_CB_CUSTOM, talk_ack, &t);
	ret = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (ret < 0) {
		t.err = nlerr_to_errno(ret);
	} else {
		/* Bounded: the kernel answers every request with exactly one ack or error. */
		for (int i = 0; i < 64 && !t.done; i++) {
			ret = nl_recvmsgs_default(sk);
			if (ret < 0 && !t.done) {
				t.err = nlerr_to_errno(ret);
				break;
			}
		}
	}
	nl_socket_modify_err_cb(sk, NL_CB_DEFAULT, NULL, NULL);
	nl_socket_modify_cb(sk, NL_CB_ACK, NL_CB_DEFAULT, NULL, NULL);
	if (t.err && err)
		snprintf(err, size, "%s: %s%s%s", what, strerror(-t.err), t.msg[0] ? ": " : "",
			 t.msg);
	return t.err;
}

/* A tc request; size 0 is libnl's default buffer (a page), else at least that many bytes. */
static struct nl_msg *tc_msg_sized(int type, int flags, int ifindex, uint32_t handle,
				   uint32_t parent, size_t size)
{
	struct tcmsg tcm = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = ifindex,
		.tcm_handle = handle,
		.tcm_parent = parent,
	};
	struct nl_msg *msg = size ? nlmsg_alloc_size(size) : nlmsg_alloc();

	if (msg && !nlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, type, 0, flags)) {
		nlmsg_free(msg);
		return NULL;
	}
	if (msg && nlmsg_append(msg, &tcm, sizeof(tcm), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static struct nl_msg *tc_msg(int type, int flags, int ifindex, uint32_t handle, uint32_t parent)
{
	return tc_msg_sized(type, flags, ifindex, handle, parent, 0);
}

static int parse_obj(struct nl_msg *msg, struct tc_obj *o, int *ifindex)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct tcmsg *tcm = nlmsg_data(nlh);
	struct nlattr *tb[TCA_MAX + 1];

	memset(o, 0, sizeof(*o));
	if (nlmsg_parse(nlh, sizeof(*tcm), tb, TCA_MAX, NULL) < 0)
		return -EINVAL;
	*ifindex = tcm->tcm_ifindex;
	o->handle = tcm->tcm_handle;
	o->parent = tcm->tcm_parent;
	if (tb[TCA_KIND])
		nla_strlcpy(o->kind, tb[TCA_KIND], sizeof(o->kind));
	o->stab = tb[TCA_STAB] != NULL;
	o->offloaded = tb[TCA_HW_OFFLOAD] && nla_get_u8(tb[TCA_HW_OFFLOAD]);
	if (tb[TCA_STATS2]) {
		struct nlattr *st[TCA_STATS_MAX + 1];

		if (!nla_parse_nested(st, TCA_STATS_MAX, tb[TCA_STATS2], NULL))
			o->estimator = st[TCA_STATS_RATE_EST] || st[TCA_STATS_RATE_EST64];
	}
	if (tb[TCA_OPTIONS] && nla_len(tb[TCA_OPTIONS]) > 0) {
		o->opts_len = nla_len(tb[TCA_OPTIONS]);
		o->opts = malloc(o->opts_len);
		if (!o->opts)
			return -ENOMEM;
		memcpy(o->opts, nla_data(tb[TCA_OPTIONS]), o->opts_len);
	}
	return 0;
}

static int collect(struct nl_msg *msg, void *arg)
{
	struct tc_list *l = arg;
	struct tc_obj o, *tmp;
	int ifindex, err;

	err = parse_obj(msg, &o, &ifindex);
	if (err) {
		l->err = err;
		return NL_SKIP;
	}
	if (ifindex != l->ifindex) {
		free(o.opts);
		return NL_OK;
	}
	tmp = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	if (!tmp) {
		free(o.opts);
		l->err = -ENOMEM;
		return NL_SKIP;
	}
	l->v = tmp;
	l->v[l->n++] = o;
	return NL_OK;
}

/* Dump qdiscs, classes (of ifindex) or filters (of ifindex under parent) into l. */
static int dump(struct nl_sock *sk, int type, int ifindex, uint32_t parent, struct tc_list *l)
{
	struct nl_msg *msg = tc_msg(type, NLM_F_DUMP, ifindex, 0, parent);
	int err;

	memset(l, 0, sizeof(*l));
	l->ifindex = ifindex;
	if (!msg)
		return -ENOMEM;
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, collect, l);
	err = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (err >= 0)
		err = nl_recvmsgs_default(sk);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
	if (err < 0)
		err = nlerr_to_errno(err);
	else
		err = l->err;
	if (err)
		list_free(l);
	return err;
}

/* ---- root tree --------------------------------------------------------------------------- */

/* Qdiscs of the root tree (not ingress/clsact) and their classes. */
struct tree {
	struct tc_list q, c;
	const struct tc_obj *root;
};

static void tree_free(struct tree *t)
{
	list_free(&t->q);
	list_free(&t->c);
	t->root = NULL;
}

static bool in_ingress(uint32_t handle, uint32_t parent)
{
	return parent == TC_H_INGRESS || TC_H_MAJ(handle) == TC_H_MAJ(TC_H_INGRESS);
}

static int tree_read(struct nl_sock *sk, int ifindex, struct tree *t)
{
	int err;
	size_t j;

	memset(t, 0, sizeof(*t));
	err = dump(sk, RTM_GETQDISC, ifindex, 0, &t->q);
	if (!err)
		err = dump(sk, RTM_GETTCLASS, ifindex, 0, &t->c);
	if (err) {
		tree_free(t);
		return err;
	}
	for (size_t i = j = 0; i < t->q.n; i++) {
		if (in_ingress(t->q.v[i].handle, t->q.v[i].parent)) {
			free(t->q.v[i].opts);
			continue;
		}
		t->q.v[j++] = t->q.v[i];
	}
	t->q.n = j;
	for (size_t i = j = 0; i < t->c.n; i++) {
		if (in_ingress(t->c.v[i].handle, t->c.v[i].parent)) {
			free(t->c.v[i].opts);
			continue;
		}
		t->c.v[j++] = t->c.v[i];
	}
	t->c.n = j;
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

			g->version = HTB_VERSION_MAJOR;
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

		fmt_handle(q->handle, h, sizeof(h));
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
		err = dump(sk, RTM_GETTFILTER, ifindex, parent, &f);
		if (err == -EINVAL || err == -EOPNOTSUPP || err == -ENOENT)
			continue; /* classless, or no filter block */
		if (err) {
			snprintf(why, size, "listing the tc filters under it: %s", strerror(-err));
			return err;
		}
		if (f.n) {
			fmt_handle(parent, h, sizeof(h));
			snprintf(why, size,
				 "it has tc filters (%s on %s); faultline cannot recreate filters "
				 "exactly, so it does not replace a root that has them",
				 f.v[0].kind, h);
			list_free(&f);
			return -EBUSY;
		}
		list_free(&f);
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
	err = sock_open(&sk);
	if (err) {
		snprintf(why, size, "netlink: %s", strerror(-err));
		return err;
	}
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
	nl_socket_free(sk);
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
	fmt_handle((uint32_t)handle, h, sizeof(h));
	snprintf(buf, size, "root qdisc %s %s", kind ? kind : "?", h);
}

int tc_root_is_ours(int ifindex, bool *ours)
{
	struct nl_sock *sk;
	struct tree t;
	int err;

	*ours = false;
	err = sock_open(&sk);
	if (err)
		return err;
	err = tree_read(sk, ifindex, &t);
	if (!err) {
		*ours = root_ours(t.root->handle, t.root->kind);
		tree_free(&t);
	}
	nl_socket_free(sk);
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

	fmt_handle(handle, h, sizeof(h));
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
	return talk(sk, msg, what, err, size);
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
	ret = sock_open(&sk);
	if (ret) {
		snprintf(report, size, "netlink: %s", strerror(-ret));
		return ret;
	}
	ret = tree_read(sk, ifindex, &t);
	if (ret) {
		snprintf(report, size, "reading the root qdisc: %s", strerror(-ret));
		goto out;
	}
	if (!root_ours(t.root->handle, t.root->kind)) {
		char h[16];

		fmt_handle(t.root->handle, h, sizeof(h));
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
		ret = talk(sk, msg, what, err, sizeof(err));
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
	nl_socket_free(sk);
	return ret;
}

/* ---- the shaper -------------------------------------------------------------------------- */

/* The device's transmit queue length, or 0 when unknown. */
static uint32_t txqueuelen(int ifindex)
{
	struct ifreq ifr = {0};
	uint32_t qlen = 0;
	int fd;

	if (!if_indextoname((unsigned int)ifindex, ifr.ifr_name))
		return 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (!ioctl(fd, SIOCGIFTXQLEN, &ifr) && ifr.ifr_qlen > 0)
		qlen = (uint32_t)ifr.ifr_qlen;
	close(fd);
	return qlen;
}

/*
 * A netem qdisc, built by hand: TCA_OPTIONS holds struct tc_netem_qopt followed by netem's
 * own attributes, its length covering both (iproute2's layout). Not libnl's rtnl_netem_*:
 * libnl 3.7 adds the length of those trailing attributes to the message twice, so the kernel
 * finds that many bytes past the options ("8196 bytes leftover after parsing attributes" with
 * a distribution table) and libnl sends bytes from beyond its buffer. The delay also goes as
 * TCA_NETEM_LATENCY64 (ns), which the 32-bit tick field of the struct cannot hold past 274 s.
 */
static int netem_build(int ifindex, uint32_t parent, uint32_t handle, const struct tc_netem *n,
		       struct nl_msg **msg, char *err, size_t size)
{
	uint64_t delay_ns = (uint64_t)n->delay_us * 1000, jitter_ns = (uint64_t)n->jitter_us * 1000;
	struct tc_netem_qopt qopt = {
		.limit = n->limit,
		/* psched ticks are 64 ns; the 64-bit attributes below carry the exact values. */
		.latency = delay_ns >> 6 > UINT32_MAX ? UINT32_MAX : (uint32_t)(delay_ns >> 6),
		.jitter = jitter_ns >> 6 > UINT32_MAX ? UINT32_MAX : (uint32_t)(jitter_ns >> 6),
	};
	struct tc_netem_corr corr = {.delay_corr = n->corr};
	struct nl_msg *m;
	struct nlattr *o;

	*msg = NULL;
	/* Room for the distribution table (8 KiB for iproute2's), which a page cannot hold. */
	m = tc_msg_sized(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, ifindex, handle, parent,
			 4096 + n->n_dist * sizeof(*n->dist));
	if (!m || nla_put_string(m, TCA_KIND, "netem") < 0 || !(o = nla_nest_start(m, TCA_OPTIONS)) ||
	    nlmsg_append(m, &qopt, sizeof(qopt), NLMSG_ALIGNTO) < 0 ||
	    (n->corr && nla_put(m, TCA_NETEM_CORR, sizeof(corr), &corr) < 0) ||
	    (n->n_dist &&
	     nla_put(m, TCA_NETEM_DELAY_DIST, (int)(n->n_dist * sizeof(*n->dist)), n->dist) < 0) ||
	    nla_put_s64(m, TCA_NETEM_LATENCY64, (int64_t)delay_ns) < 0 ||
	    (jitter_ns && nla_put_s64(m, TCA_NETEM_JITTER64, (int64_t)jitter_ns) < 0) ||
	    nla_nest_end(m, o) < 0) {
		nlmsg_free(m);
		snprintf(err, size, "building the netem qdisc: out of memory");
		return -ENOMEM;
	}
	*msg = m;
	return 0;
}

int tc_netem_install(int ifindex, const struct tc_netem *n, char *err, size_t size)
{
	struct nl_sock *sk;
	struct nl_msg *msg;
	int ret;

	ret = sock_open(&sk);
	if (ret) {
		snprintf(err, size, "netlink: %s", strerror(-ret));
		return ret;
	}
	ret = netem_build(ifindex, TC_H_ROOT, TC_FL_ROOT, n, &msg, err, size);
	if (!ret)
		ret = talk(sk, msg, "adding the netem qdisc", err, size);
	nl_socket_free(sk);
	return ret;
}

int tc_fq_install(int ifindex, const struct tc_fq *p, char *err, size_t size)
{
	struct nl_sock *sk;
	struct nl_msg *msg;
	struct nlattr *o;
	int ret;

	ret = sock_open(&sk);
	if (ret) {
		snprintf(err, size, "netlink: %s", strerror(-ret));
		return ret;
	}
	/* Built by hand: libnl has no fq type. HORIZON_DROP 0 caps a later time, never drops. */
	msg = tc_msg(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, ifindex, TC_FL_ROOT, TC_H_ROOT);
	if (!msg || nla_put_string(msg, TCA_KIND, "fq") < 0 ||
	    !(o = nla_nest_start(msg, TCA_OPTIONS)) ||
	    nla_put_u32(msg, TCA_FQ_PLIMIT, p->limit) < 0 ||
	    nla_put_u32(msg, TCA_FQ_FLOW_PLIMIT, p->flow_limit) < 0 ||
	    nla_put_u32(msg, TCA_FQ_HORIZON, p->horizon_us) < 0 ||
	    nla_put_u8(msg, TCA_FQ_HORIZON_DROP, 0) < 0 || nla_nest_end(msg, o) < 0) {
		nlmsg_free(msg);
		nl_socket_free(sk);
		return -ENOMEM;
	}
	ret = talk(sk, msg, "replacing the root qdisc with fq", err, size);
	nl_socket_free(sk);
	return ret;
}

int tc_shaper_install(int ifindex, const struct tc_shaper *s, const struct tc_netem *netem,
		      char *err, size_t size)
{
	struct tc_htb_glob glob = {.version = HTB_VERSION_MAJOR, .rate2quantum = 10};
	struct rtnl_qdisc *leaf = rtnl_qdisc_alloc();
	struct rtnl_class *c = rtnl_class_alloc();
	uint32_t direct_qlen = txqueuelen(ifindex);
	struct nl_sock *sk = NULL;
	struct nl_msg *msg;
	struct nlattr *o;
	uint64_t quantum;
	int ret;

	if (!leaf || !c) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sock_open(&sk);
	if (ret) {
		snprintf(err, size, "netlink: %s", strerror(-ret));
		goto out;
	}
	/*
	 * Root HTB, built by hand for TCA_HTB_DIRECT_QLEN (libnl has no setter). Unclassified
	 * packets go to the default class: with defcls 0 there is none, so they take HTB's direct
	 * queue, which is not shaped. Its length defaults to txqueuelen, which is 0 on some
	 * virtual devices (HTB then allows 2 packets): at least 1,000, so that untargeted traffic
	 * is not dropped where the old root queued it.
	 */
	if (direct_qlen < 1000)
		direct_qlen = 1000;
	msg = tc_msg(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, ifindex, TC_FL_ROOT, TC_H_ROOT);
	if (!msg || nla_put_string(msg, TCA_KIND, "htb") < 0 ||
	    !(o = nla_nest_start(msg, TCA_OPTIONS)) ||
	    nla_put(msg, TCA_HTB_INIT, sizeof(glob), &glob) < 0 ||
	    nla_put_u32(msg, TCA_HTB_DIRECT_QLEN, direct_qlen) < 0 || nla_nest_end(msg, o) < 0) {
		nlmsg_free(msg);
		ret = -ENOMEM;
		goto out;
	}
	ret = talk(sk, msg, "replacing the root qdisc with HTB", err, size);
	if (ret)
		goto out;

	/* One class: rate = ceil, so it never borrows; quantum within HTB's sane range. */
	rtnl_tc_set_ifindex(TC_CAST(c), ifindex);
	rtnl_tc_set_parent(TC_CAST(c), TC_FL_ROOT);
	rtnl_tc_set_handle(TC_CAST(c), TC_FL_CLASS);
	quantum = s->rate / 10;
	quantum = quantum < 1600 ? 1600 : quantum > 200000 ? 200000 : quantum;
	ret = rtnl_tc_set_kind(TC_CAST(c), "htb");
	if (!ret)
		ret = rtnl_htb_set_rate64(c, s->rate);
	if (!ret)
		ret = rtnl_htb_set_ceil64(c, s->rate);
	if (!ret)
		ret = rtnl_htb_set_rbuffer(c, s->burst);
	if (!ret)
		ret = rtnl_htb_set_cbuffer(c, s->burst);
	if (!ret)
		ret = rtnl_htb_set_quantum(c, (uint32_t)quantum);
	if (!ret)
		ret = rtnl_class_build_add_request(c, NLM_F_CREATE | NLM_F_EXCL, &msg);
	if (ret) {
		snprintf(err, size, "building the HTB class: %s", nl_geterror(ret));
		ret = nlerr_to_errno(ret);
		goto out;
	}
	ret = talk(sk, msg, "adding the HTB class", err, size);
	if (ret)
		goto out;

	if (netem) {
		/* The latency fault's class: netem holds its packets. */
		ret = netem_build(ifindex, TC_FL_CLASS, TC_FL_LEAF, netem, &msg, err, size);
		if (!ret)
			ret = talk(sk, msg, "adding the netem leaf", err, size);
		goto out;
	}
	/* Its queue, sized in bytes. */
	rtnl_tc_set_ifindex(TC_CAST(leaf), ifindex);
	rtnl_tc_set_parent(TC_CAST(leaf), TC_FL_CLASS);
	rtnl_tc_set_handle(TC_CAST(leaf), TC_FL_LEAF);
	ret = rtnl_tc_set_kind(TC_CAST(leaf), "bfifo");
	if (!ret)
		ret = rtnl_qdisc_fifo_set_limit(leaf,
						(int)(s->limit > INT32_MAX ? INT32_MAX : s->limit));
	if (!ret)
		ret = rtnl_qdisc_build_add_request(leaf, NLM_F_CREATE | NLM_F_EXCL, &msg);
	if (ret) {
		snprintf(err, size, "building the leaf fifo: %s", nl_geterror(ret));
		ret = nlerr_to_errno(ret);
		goto out;
	}
	ret = talk(sk, msg, "adding the leaf fifo", err, size);
out:
	rtnl_qdisc_put(leaf);
	rtnl_class_put(c);
	nl_socket_free(sk);
	return ret;
}

int tc_tbf_install(int ifindex, const struct tc_shaper *s, char *err, size_t size)
{
	struct tc_tbf_qopt opt = {
		.rate =
			{
				.rate = s->rate > UINT32_MAX ? UINT32_MAX : (uint32_t)s->rate,
				/* Not "unaware": the kernel computes transmit times itself, no rate
				   table. */
				.linklayer = TC_LINKLAYER_ETHERNET,
			},
		.limit = s->limit,
	};
	struct nl_sock *sk;
	struct nl_msg *msg;
	int ret;

	ret = sock_open(&sk);
	if (ret) {
		snprintf(err, size, "netlink: %s", strerror(-ret));
		return ret;
	}
	/* Built by hand: libnl's TBF takes a 32-bit signed rate; TCA_TBF_RATE64 goes further. */
	msg = tc_msg(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, ifindex, TC_FL_ROOT, TC_H_ROOT);
	if (msg) {
		struct nlattr *o;

		if (nla_put_string(msg, TCA_KIND, "tbf") < 0 ||
		    !(o = nla_nest_start(msg, TCA_OPTIONS)) ||
		    nla_put(msg, TCA_TBF_PARMS, sizeof(opt), &opt) < 0 ||
		    (s->rate > UINT32_MAX && nla_put_u64(msg, TCA_TBF_RATE64, s->rate) < 0) ||
		    nla_put_u32(msg, TCA_TBF_BURST, s->burst) < 0 || nla_nest_end(msg, o) < 0) {
			nlmsg_free(msg);
			msg = NULL;
		}
	}
	if (!msg) {
		nl_socket_free(sk);
		return -ENOMEM;
	}
	ret = talk(sk, msg, "adding the TBF qdisc", err, size);
	nl_socket_free(sk);
	return ret;
}

static void stats_of(struct rtnl_tc *tc, struct tc_shaper_stats *out)
{
	out->bytes = rtnl_tc_get_stat(tc, RTNL_TC_BYTES);
	out->packets = rtnl_tc_get_stat(tc, RTNL_TC_PACKETS);
	out->drops = rtnl_tc_get_stat(tc, RTNL_TC_DROPS);
	out->overlimits = rtnl_tc_get_stat(tc, RTNL_TC_OVERLIMITS);
	out->backlog = rtnl_tc_get_stat(tc, RTNL_TC_BACKLOG);
}

int tc_root_stats(int ifindex, struct tc_shaper_stats *out)
{
	struct nl_cache *cache = NULL;
	struct rtnl_qdisc *q;
	struct nl_sock *sk;
	int err;

	memset(out, 0, sizeof(*out));
	err = sock_open(&sk);
	if (err)
		return err;
	err = rtnl_qdisc_alloc_cache(sk, &cache);
	if (err) {
		err = nlerr_to_errno(err);
		goto out;
	}
	q = rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_ROOT);
	if (!q) {
		err = -ENOENT;
		goto out;
	}
	stats_of(TC_CAST(q), out);
	rtnl_qdisc_put(q);
out:
	nl_cache_free(cache);
	nl_socket_free(sk);
	return err;
}

int tc_shaper_stats(int ifindex, struct tc_shaper_stats *out)
{
	struct nl_cache *cache = NULL;
	struct rtnl_class *c;
	struct nl_sock *sk;
	int err;

	memset(out, 0, sizeof(*out));
	err = sock_open(&sk);
	if (err)
		return err;
	err = rtnl_class_alloc_cache(sk, ifindex, &cache);
	if (err) {
		err = nlerr_to_errno(err);
		goto out;
	}
	c = rtnl_class_get(cache, ifindex, TC_FL_CLASS);
	if (!c) {
		err = -ENOENT;
		goto out;
	}
	stats_of(TC_CAST(c), out);
	rtnl_class_put(c);
out:
	nl_cache_free(cache);
	nl_socket_free(sk);
	return err;
}

int tc_clsact_present(int ifindex, bool *present)
{
	struct nl_sock *sk;
	struct tc_list l;
	int err;

	*present = false;
	err = sock_open(&sk);
	if (err)
		return err;
	err = dump(sk, RTM_GETQDISC, ifindex, 0, &l);
	if (!err) {
		for (size_t i = 0; i < l.n; i++)
			if (l.v[i].parent == TC_H_INGRESS)
				*present = true;
		list_free(&l);
	}
	nl_socket_free(sk);
	return err;
}

/* ---- IFB devices ------------------------------------------------------------------------- */

int tc_ifb_create(const char *name, const char *alias, int *ifindex, char *err, size_t size)
{
	struct rtnl_link *l = rtnl_link_alloc(), *got = NULL, *chg = rtnl_link_alloc();
	struct nl_sock *sk = NULL;
	struct nl_msg *msg;
	char what[64];
	int ret;

	*ifindex = 0;
	if (!l || !chg) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sock_open(&sk);
	if (ret) {
		snprintf(err, size, "netlink: %s", strerror(-ret));
		goto out;
	}
	rtnl_link_set_name(l, name);
	ret = rtnl_link_set_type(l, "ifb");
	if (!ret)
		ret = rtnl_link_build_add_request(l, NLM_F_CREATE | NLM_F_EXCL, &msg);
	if (ret) {
		snprintf(err, size, "building the IFB device: %s", nl_geterror(ret));
		ret = nlerr_to_errno(ret);
		goto out;
	}
	snprintf(what, sizeof(what), "creating IFB device %s", name);
	ret = talk(sk, msg, what, err, size);
	if (ret)
		goto out;
	ret = rtnl_link_get_kernel(sk, 0, name, &got);
	if (ret) {
		ret = nlerr_to_errno(ret);
		snprintf(err, size, "reading IFB device %s back: %s", name, strerror(-ret));
		goto out;
	}
	*ifindex = rtnl_link_get_ifindex(got);
	/* Tagged as ours (crash recovery deletes only a tagged IFB) and up. */
	rtnl_link_set_ifalias(chg, alias);
	rtnl_link_set_flags(chg, IFF_UP);
	ret = rtnl_link_build_change_request(got, chg, 0, &msg);
	if (ret) {
		snprintf(err, size, "building the IFB change: %s", nl_geterror(ret));
		ret = nlerr_to_errno(ret);
		goto out;
	}
	snprintf(what, sizeof(what), "bringing IFB device %s up", name);
	ret = talk(sk, msg, what, err, size);
out:
	/* We created it (NLM_F_EXCL) but could not finish: take it away again. */
	if (ret && *ifindex && rtnl_link_build_delete_request(got, &msg) == 0)
		talk(sk, msg, "deleting the half-made IFB device", NULL, 0);
	if (ret)
		*ifindex = 0;
	rtnl_link_put(l);
	rtnl_link_put(chg);
	rtnl_link_put(got);
	nl_socket_free(sk);
	return ret;
}

int tc_ifb_delete(const char *name, const char *alias, bool *deleted)
{
	struct rtnl_link *l = NULL;
	struct nl_sock *sk;
	struct nl_msg *msg;
	const char *a, *type;
	int ret;

	*deleted = false;
	ret = sock_open(&sk);
	if (ret)
		return ret;
	ret = rtnl_link_get_kernel(sk, 0, name, &l);
	if (ret) {
		ret = nlerr_to_errno(ret);
		if (ret == -ENODEV || ret == -ENOENT)
			ret = 0; /* already gone */
		goto out;
	}
	type = rtnl_link_get_type(l);
	a = rtnl_link_get_ifalias(l);
	/*
	 * Ours: tagged with our alias, or, as a crash between tc_ifb_create()'s two requests
	 * leaves it, an untagged IFB device of the recorded name that was never brought up.
	 */
	if (!type || strcmp(type, "ifb") ||
	    (a && *a ? strcmp(a, alias) != 0 : (rtnl_link_get_flags(l) & IFF_UP) != 0)) {
		log_warn("tc: device %s is not our IFB device (kind %s, alias \"%s\"): left alone",
			 name, type ? type : "?", a ? a : "");
		goto out;
	}
	ret = rtnl_link_build_delete_request(l, &msg);
	if (ret) {
		ret = nlerr_to_errno(ret);
		goto out;
	}
	ret = talk(sk, msg, "deleting the IFB device", NULL, 0);
	if (ret == -ENODEV)
		ret = 0;
	else if (!ret)
		*deleted = true;
out:
	rtnl_link_put(l);
	nl_socket_free(sk);
	return ret;
}
