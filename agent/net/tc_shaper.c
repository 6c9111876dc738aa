/*
 * The qdiscs the shaping faults install (see tc.h): the steered HTB shaper with its byte fifo
 * or netem leaf, netem, sch_fq for EDT latency, TBF on an IFB device, and the counters the
 * API shows for them.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/class.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/fifo.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/tc.h>

#include "nlsock.h"
#include "tc.h"
#include "tc_nl.h"

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
	if (!m || nla_put_string(m, TCA_KIND, "netem") < 0 ||
	    !(o = nla_nest_start(m, TCA_OPTIONS)) ||
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
	struct nl_msg *msg;
	int ret;

	ret = netem_build(ifindex, TC_H_ROOT, TC_FL_ROOT, n, &msg, err, size);
	if (!ret)
		ret = tc_send(msg, "adding the netem qdisc", err, size);
	return ret;
}

int tc_fq_install(int ifindex, const struct tc_fq *p, char *err, size_t size)
{
	struct nl_msg *msg;
	struct nlattr *o;

	/* Built by hand: libnl has no fq type. HORIZON_DROP 0 caps a later time, never drops. */
	msg = tc_msg(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, ifindex, TC_FL_ROOT, TC_H_ROOT);
	if (!msg || nla_put_string(msg, TCA_KIND, "fq") < 0 ||
	    !(o = nla_nest_start(msg, TCA_OPTIONS)) ||
	    nla_put_u32(msg, TCA_FQ_PLIMIT, p->limit) < 0 ||
	    nla_put_u32(msg, TCA_FQ_FLOW_PLIMIT, p->flow_limit) < 0 ||
	    nla_put_u32(msg, TCA_FQ_HORIZON, p->horizon_us) < 0 ||
	    nla_put_u8(msg, TCA_FQ_HORIZON_DROP, 0) < 0 || nla_nest_end(msg, o) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return tc_send(msg, "replacing the root qdisc with fq", err, size);
}

int tc_shaper_install(int ifindex, const struct tc_shaper *s, const struct tc_netem *netem,
		      char *err, size_t size)
{
	const char *what[] = {"replacing the root qdisc with HTB", "adding the HTB class",
			      netem ? "adding the netem leaf" : "adding the leaf fifo"};
	struct tc_htb_glob glob = {.version = TC_HTB_VERSION_MAJOR, .rate2quantum = 10};
	struct rtnl_qdisc *leaf = rtnl_qdisc_alloc();
	struct rtnl_class *c = rtnl_class_alloc();
	uint32_t direct_qlen = txqueuelen(ifindex);
	struct nl_msg *msgs[3] = {NULL, NULL, NULL};
	int errs[3], ret;
	char ack[160];
	struct nl_sock *sk = NULL;
	struct nlattr *o;
	uint64_t quantum;

	if (!leaf || !c) {
		ret = -ENOMEM;
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
	msgs[0] =
		tc_msg(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, ifindex, TC_FL_ROOT, TC_H_ROOT);
	if (!msgs[0] || nla_put_string(msgs[0], TCA_KIND, "htb") < 0 ||
	    !(o = nla_nest_start(msgs[0], TCA_OPTIONS)) ||
	    nla_put(msgs[0], TCA_HTB_INIT, sizeof(glob), &glob) < 0 ||
	    nla_put_u32(msgs[0], TCA_HTB_DIRECT_QLEN, direct_qlen) < 0 ||
	    nla_nest_end(msgs[0], o) < 0) {
		ret = -ENOMEM;
		goto out;
	}

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
		ret = rtnl_class_build_add_request(c, NLM_F_CREATE | NLM_F_EXCL, &msgs[1]);
	if (ret) {
		snprintf(err, size, "building the HTB class: %s", nl_geterror(ret));
		ret = nlsock_errno(ret);
		goto out;
	}

	if (netem) {
		/* The latency fault's class: netem holds its packets. */
		ret = netem_build(ifindex, TC_FL_CLASS, TC_FL_LEAF, netem, &msgs[2], err, size);
		if (ret)
			goto out;
	} else {
		/* Its queue, sized in bytes. */
		rtnl_tc_set_ifindex(TC_CAST(leaf), ifindex);
		rtnl_tc_set_parent(TC_CAST(leaf), TC_FL_CLASS);
		rtnl_tc_set_handle(TC_CAST(leaf), TC_FL_LEAF);
		ret = rtnl_tc_set_kind(TC_CAST(leaf), "bfifo");
		if (!ret)
			ret = rtnl_qdisc_fifo_set_limit(
				leaf, (int)(s->limit > INT32_MAX ? INT32_MAX : s->limit));
		if (!ret)
			ret = rtnl_qdisc_build_add_request(leaf, NLM_F_CREATE | NLM_F_EXCL,
							   &msgs[2]);
		if (ret) {
			snprintf(err, size, "building the leaf fifo: %s", nl_geterror(ret));
			ret = nlsock_errno(ret);
			goto out;
		}
	}
	ret = tc_sock(&sk, err, size);
	if (ret)
		goto out;
	/*
	 * The three in one datagram, in order; a refusal fails the ones after it too (their
	 * parent is missing), and the caller restores its snapshot.
	 */
	ret = nlsock_talk_batch(sk, msgs, 3, errs, ack, sizeof(ack));
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; !ret && i < 3; i++) {
		if (errs[i]) {
			ret = errs[i];
			snprintf(err, size, "%s: %s%s%s", what[i], strerror(-ret),
				 ack[0] ? ": " : "", ack);
		}
	}
	if (ret && !err[0])
		snprintf(err, size, "%s: %s", what[0], strerror(-ret));
out:
	for (int i = 0; i < 3; i++)
		nlmsg_free(msgs[i]);
	rtnl_qdisc_put(leaf);
	rtnl_class_put(c);
	nlsock_release(sk);
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
	struct nl_msg *msg;

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
	if (!msg)
		return -ENOMEM;
	return tc_send(msg, "adding the TBF qdisc", err, size);
}

/*
 * Counters of the device's root qdisc (root) or of our HTB class: both are read from a libnl
 * cache of the kernel's dump, which carries the same statistics for either.
 */
static int stats_read(int ifindex, bool root, struct tc_shaper_stats *out)
{
	struct nl_cache *cache = NULL;
	struct rtnl_tc *tc;
	struct nl_sock *sk;
	int err;

	memset(out, 0, sizeof(*out));
	err = nlsock_acquire(&sk);
	if (err)
		return err;
	err = root ? rtnl_qdisc_alloc_cache(sk, &cache)
		   : rtnl_class_alloc_cache(sk, ifindex, &cache);
	if (err) {
		err = nlsock_result(sk, err);
		goto out;
	}
	tc = root ? TC_CAST(rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_ROOT))
		  : TC_CAST(rtnl_class_get(cache, ifindex, TC_FL_CLASS));
	if (!tc) {
		err = -ENOENT;
		goto out;
	}
	out->bytes = rtnl_tc_get_stat(tc, RTNL_TC_BYTES);
	out->packets = rtnl_tc_get_stat(tc, RTNL_TC_PACKETS);
	out->drops = rtnl_tc_get_stat(tc, RTNL_TC_DROPS);
	out->overlimits = rtnl_tc_get_stat(tc, RTNL_TC_OVERLIMITS);
	out->backlog = rtnl_tc_get_stat(tc, RTNL_TC_BACKLOG);
	nl_object_put(OBJ_CAST(tc));
out:
	nl_cache_free(cache);
	nlsock_release(sk);
	return err;
}

int tc_root_stats(int ifindex, struct tc_shaper_stats *out)
{
	return stats_read(ifindex, true, out);
}

int tc_shaper_stats(int ifindex, struct tc_shaper_stats *out)
{
	return stats_read(ifindex, false, out);
}
