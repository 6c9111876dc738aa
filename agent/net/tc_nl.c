/*
 * The tc message plumbing (see tc_nl.h): tc requests, dumps of a device's qdiscs, classes and
 * filters, and tc_clsact_present(), the one query that is nothing but a dump.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/gen_stats.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "nlsock.h"
#include "tc.h"
#include "tc_nl.h"

void tc_list_free(struct tc_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].opts);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void tc_fmt_handle(uint32_t h, char *buf, size_t size)
{
	if (h == TC_H_ROOT)
		snprintf(buf, size, "root");
	else if (TC_H_MIN(h))
		snprintf(buf, size, "%x:%x", TC_H_MAJ(h) >> 16, TC_H_MIN(h));
	else
		snprintf(buf, size, "%x:", TC_H_MAJ(h) >> 16);
}

struct nl_msg *tc_msg_sized(int type, int flags, int ifindex, uint32_t handle, uint32_t parent,
			    size_t size)
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

struct nl_msg *tc_msg(int type, int flags, int ifindex, uint32_t handle, uint32_t parent)
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
	o->info = tcm->tcm_info;
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

int tc_sock(struct nl_sock **sk, char *err, size_t size)
{
	int ret = nlsock_acquire(sk);

	if (ret)
		snprintf(err, size, "netlink: %s", strerror(-ret));
	return ret;
}

int tc_send(struct nl_msg *msg, const char *what, char *err, size_t size)
{
	struct nl_sock *sk;
	int ret = tc_sock(&sk, err, size);

	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	ret = nlsock_talk(sk, msg, what, err, size);
	nlsock_release(sk);
	return ret;
}

int tc_dump(struct nl_sock *sk, int type, int ifindex, uint32_t parent, struct tc_list *l)
{
	struct nl_msg *msg = tc_msg(type, NLM_F_DUMP, ifindex, 0, parent);
	int err;

	memset(l, 0, sizeof(*l));
	l->ifindex = ifindex;
	if (!msg)
		return -ENOMEM;
	err = nlsock_dump(sk, msg, collect, l);
	if (!err)
		err = l->err;
	if (err)
		tc_list_free(l);
	return err;
}

int tc_dump_shared(int type, int ifindex, uint32_t parent, struct tc_list *l)
{
	struct nl_sock *sk;
	int err;

	memset(l, 0, sizeof(*l));
	err = nlsock_acquire(&sk);
	if (err)
		return err;
	err = tc_dump(sk, type, ifindex, parent, l);
	nlsock_release(sk);
	return err;
}

int tc_clsact_present(int ifindex, bool *present)
{
	struct tc_list l;
	int err;

	*present = false;
	err = tc_dump_shared(RTM_GETQDISC, ifindex, 0, &l);
	if (err)
		return err;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].parent == TC_H_INGRESS)
			*present = true;
	tc_list_free(&l);
	return 0;
}
