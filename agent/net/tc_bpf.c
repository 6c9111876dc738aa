/* clsact and cls_bpf filters on the agent's rtnetlink socket (see tc_bpf.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "nlsock.h"
#include "tc_bpf.h"
#include "tc_nl.h"

/* Send a built request on the shared socket and wait for its ack. Frees msg. */
static int talk(struct nl_msg *msg)
{
	struct nl_sock *sk;
	int err = nlsock_acquire(&sk);

	if (err) {
		nlmsg_free(msg);
		return err;
	}
	err = nlsock_talk(sk, msg, NULL, NULL, 0);
	nlsock_release(sk);
	return err;
}

/* talk() a request a builder returned: NULL is -ENOMEM. */
static int talk_built(struct nl_msg *msg)
{
	return msg ? talk(msg) : -ENOMEM;
}

int tc_bpf_batch(struct nl_msg **msgs, size_t n, int *errs)
{
	struct nl_sock *sk;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++)
		if (!msgs[i])
			err = -ENOMEM;
	if (!err)
		err = nlsock_acquire(&sk);
	if (err) {
		for (size_t i = 0; i < n; i++) {
			nlmsg_free(msgs[i]);
			errs[i] = err;
		}
		return err;
	}
	err = nlsock_talk_batch(sk, msgs, n, errs, NULL, 0);
	nlsock_release(sk);
	return err;
}

struct nl_msg *tc_bpf_clsact_msg(bool add, int ifindex)
{
	struct nl_msg *msg =
		tc_msg(add ? RTM_NEWQDISC : RTM_DELQDISC, add ? NLM_F_CREATE | NLM_F_EXCL : 0,
		       ifindex, TC_H_MAKE(TC_H_CLSACT, 0), TC_H_CLSACT);

	if (msg && nla_put_string(msg, TCA_KIND, "clsact") < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

int tc_bpf_clsact_add(int ifindex)
{
	return talk_built(tc_bpf_clsact_msg(true, ifindex));
}

int tc_bpf_clsact_del(int ifindex)
{
	return talk_built(tc_bpf_clsact_msg(false, ifindex));
}

/* A filter request at parent, prio, handle, protocol all, kind bpf; NULL without memory. */
static struct nl_msg *filter_msg(int type, int flags, int ifindex, uint32_t parent, uint16_t prio,
				 uint32_t handle)
{
	struct nl_msg *msg = tc_msg(type, flags, ifindex, handle, parent);
	struct tcmsg *tcm;

	if (!msg)
		return NULL;
	tcm = nlmsg_data(nlmsg_hdr(msg));
	tcm->tcm_info = TC_H_MAKE((uint32_t)prio << 16, htons(ETH_P_ALL));
	if (nla_put_string(msg, TCA_KIND, "bpf") < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

struct nl_msg *tc_bpf_filter_add_msg(int ifindex, uint32_t parent, uint16_t prio, uint32_t handle,
				     int prog_fd, const char *name, bool replace)
{
	struct nl_msg *msg =
		filter_msg(RTM_NEWTFILTER, NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL),
			   ifindex, parent, prio, handle);
	struct nlattr *opts;

	if (!msg)
		return NULL;
	if (!(opts = nla_nest_start(msg, TCA_OPTIONS)) ||
	    nla_put_u32(msg, TCA_BPF_FD, (uint32_t)prog_fd) < 0 ||
	    nla_put_string(msg, TCA_BPF_NAME, name) < 0 ||
	    nla_put_u32(msg, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT) < 0 ||
	    nla_nest_end(msg, opts) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

int tc_bpf_filter_add(int ifindex, uint32_t parent, uint16_t prio, uint32_t handle, int prog_fd,
		      const char *name, bool replace)
{
	return talk_built(
		tc_bpf_filter_add_msg(ifindex, parent, prio, handle, prog_fd, name, replace));
}

struct nl_msg *tc_bpf_filter_del_msg(int ifindex, uint32_t parent, uint16_t prio, uint32_t handle)
{
	return filter_msg(RTM_DELTFILTER, 0, ifindex, parent, prio, handle);
}

int tc_bpf_filter_del(int ifindex, uint32_t parent, uint16_t prio, uint32_t handle)
{
	return talk_built(tc_bpf_filter_del_msg(ifindex, parent, prio, handle));
}

/* TCA_BPF_ID of a cls_bpf filter's options; 0 when it has none. */
static uint32_t bpf_id(const struct tc_obj *o)
{
	struct nlattr *tb[TCA_BPF_MAX + 1];

	if (!o->opts ||
	    nla_parse(tb, TCA_BPF_MAX, (struct nlattr *)o->opts, (int)o->opts_len, NULL) < 0 ||
	    !tb[TCA_BPF_ID])
		return 0;
	return nla_get_u32(tb[TCA_BPF_ID]);
}

int tc_bpf_filter_prog(int ifindex, uint32_t parent, uint16_t prio, uint32_t handle,
		       uint32_t *prog_id)
{
	int others, err = tc_bpf_hook_scan(ifindex, parent, prio, handle, prog_id, &others);

	if (!err && !*prog_id)
		err = -ENOENT;
	return err;
}

int tc_bpf_hook_scan(int ifindex, uint32_t parent, uint16_t prio, uint32_t handle,
		     uint32_t *prog_id, int *others)
{
	struct tc_list l;
	int err;

	*prog_id = 0;
	*others = 0;
	/*
	 * A dump of the hook's filters, few in practice: the shared socket's dump reader waits
	 * for the end of a dump, which a single get's answer does not send.
	 */
	err = tc_dump_shared(RTM_GETTFILTER, ifindex, parent, &l);
	if (err)
		return err == -EINVAL ? -ENOENT : err;
	for (size_t i = 0; i < l.n; i++) {
		const struct tc_obj *o = &l.v[i];
		bool at_prio = TC_H_MAJ(o->info) >> 16 == prio;

		if (at_prio && o->handle == handle && !strcmp(o->kind, "bpf") && !*prog_id)
			*prog_id = bpf_id(o);
		else if (!at_prio || o->handle)
			(*others)++; /* the dump's line for a priority itself has handle 0 */
	}
	tc_list_free(&l);
	return 0;
}
