/*
 * Network faults, user-space side (see netfault.h and docs/netfault.md): a BPF program
 * instance hooked on clsact with libbpf, rules kept in maps. This file attaches and detaches
 * the program, removes a crashed agent's leftovers and keeps the rule slots; loading and
 * sharing an instance among interfaces are in netfault_core.c, the prefix tries are in
 * netfault_trie.c (their pure table and diff in pfxtrie.c), exemptions in netfault_exempt.c,
 * counters and distribution tables in netfault_maps.c, the text parsers in netfault_parse.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/classifier.h>
#include <netlink/route/link.h>

#include "log.h"
#include "netfault_impl.h"
#include "netfault.skel.h"
#include "nlsock.h"
#include "tc_bpf.h"

#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519
#endif

static const char *const prog_names[NETFAULT_HOOK__COUNT] = {
	[NETFAULT_HOOK_INGRESS] = NETFAULT_PROG_INGRESS,
	[NETFAULT_HOOK_EGRESS] = NETFAULT_PROG_EGRESS,
};

static const char *const hook_names[NETFAULT_HOOK__COUNT] = {
	[NETFAULT_HOOK_INGRESS] = "ingress",
	[NETFAULT_HOOK_EGRESS] = "egress",
};

/* The clsact hook of a direction, as a filter's parent. */
static uint32_t hook_parent(enum netfault_hook hook)
{
	return TC_H_MAKE(TC_H_CLSACT,
			 hook == NETFAULT_HOOK_INGRESS ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
}

static int cidr_check(const struct netfault_cidr *c)
{
	if (c->family == AF_INET && c->prefixlen <= 32)
		return 0;
	if (c->family == AF_INET6 && c->prefixlen <= 128)
		return 0;
	return -EINVAL;
}

/* ---- tc hooks ---------------------------------------------------------------------------- */

/* Number of filters on the clsact ingress and egress hooks, all chains; -errno if unknown. */
static int clsact_filter_count(int ifindex, int *count)
{
	static const uint32_t parents[] = {
		TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS),
		TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS),
	};
	struct nl_sock *sk;
	int err = 0;

	*count = 0;
	err = nlsock_acquire(&sk);
	if (err)
		return err;
	for (size_t i = 0; i < sizeof(parents) / sizeof(parents[0]); i++) {
		struct nl_cache *cache;

		err = rtnl_cls_alloc_cache(sk, ifindex, parents[i], &cache);
		if (err) {
			err = nlsock_result(sk, err);
			goto out;
		}
		*count += nl_cache_nitems(cache);
		nl_cache_free(cache);
	}
out:
	nlsock_release(sk);
	return err;
}

/* Delete clsact when no filter at all is left on it. */
static int clsact_delete_if_empty(int ifindex)
{
	int err, n;

	err = clsact_filter_count(ifindex, &n);
	if (err == -ENODEV || err == -ENOENT)
		return 0; /* the device is gone, and its qdiscs with it */
	if (err) {
		log_warn("netfault: ifindex %d: cannot list the clsact filters (%s); clsact left "
			 "in place",
			 ifindex, strerror(-err));
		return err;
	}
	if (n) {
		log_info("netfault: ifindex %d: %d other filter(s) on clsact; clsact left in place",
			 ifindex, n);
		return 0;
	}
	err = tc_bpf_clsact_del(ifindex);
	if (err && err != -ENOENT && err != -EINVAL && err != -ENODEV) {
		log_warn("netfault: ifindex %d: deleting clsact: %s", ifindex, strerror(-err));
		return err;
	}
	return 0;
}

/*
 * The program of the filter at our priority and handle on a hook: its id and name. -ENOENT
 * when there is no such filter (or no clsact at all).
 */
static int our_slot_prog(int ifindex, enum netfault_hook h, __u32 *id, char name[BPF_OBJ_NAME_LEN])
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int err, fd;

	err = tc_bpf_filter_prog(ifindex, hook_parent(h), NETFAULT_TC_PRIORITY, NETFAULT_TC_HANDLE,
				 id);
	if (err)
		return err;
	fd = bpf_prog_get_fd_by_id(*id);
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err)
		err = -errno;
	close(fd);
	if (err)
		return err;
	memcpy(name, info.name, BPF_OBJ_NAME_LEN);
	name[BPF_OBJ_NAME_LEN - 1] = '\0';
	return 0;
}

static int tc_detach(int ifindex, enum netfault_hook h)
{
	return tc_bpf_filter_del(ifindex, hook_parent(h), NETFAULT_TC_PRIORITY, NETFAULT_TC_HANDLE);
}

/* Our filter's name on a hook: named as libbpf names its filters, the program's name and id. */
static void filter_name(const struct netfault *nf, enum netfault_hook h, char *buf, size_t size)
{
	snprintf(buf, size, "%s:[%u]", prog_names[h], nf->c->prog_id[h]);
}

static struct nl_msg *filter_add_msg(const struct netfault *nf, enum netfault_hook h, bool replace)
{
	return netfault_filter_msg(nf->c, nf->ifindex, h, replace);
}

struct nl_msg *netfault_filter_msg(const struct netfault_core *c, int ifindex,
				   enum netfault_hook h, bool replace)
{
	char filter[BPF_OBJ_NAME_LEN + 16];

	snprintf(filter, sizeof(filter), "%s:[%u]", prog_names[h], c->prog_id[h]);
	return tc_bpf_filter_add_msg(ifindex, hook_parent(h), NETFAULT_TC_PRIORITY,
				     NETFAULT_TC_HANDLE, netfault_core_prog_fd(c, h), filter,
				     replace);
}

/*
 * The exclusive add of our filter on a hook was answered err: -EEXIST is resolved here (a
 * leftover filter of ours is replaced; anybody else's is left alone, -EEXIST), and a failure
 * logged.
 */
static int hook_added(struct netfault *nf, enum netfault_hook h, int err)
{
	char name[BPF_OBJ_NAME_LEN], filter[BPF_OBJ_NAME_LEN + 16];
	__u32 id;

	if (err == -EEXIST) {
		err = our_slot_prog(nf->ifindex, h, &id, name);
		if (err || strcmp(name, prog_names[h])) {
			log_err("netfault: ifindex %d %s: another filter (program \"%s\") already "
				"has priority %d handle %#x; not touching it",
				nf->ifindex, hook_names[h], err ? "?" : name, NETFAULT_TC_PRIORITY,
				NETFAULT_TC_HANDLE);
			return -EEXIST;
		}
		log_info(
			"netfault: ifindex %d %s: replacing a leftover filter of ours (prog id %u)",
			nf->ifindex, hook_names[h], id);
		filter_name(nf, h, filter, sizeof(filter));
		err = tc_bpf_filter_add(nf->ifindex, hook_parent(h), NETFAULT_TC_PRIORITY,
					NETFAULT_TC_HANDLE, netfault_prog_fd(nf, h), filter, true);
	}
	if (err) {
		log_err("netfault: ifindex %d: attaching the %s filter: %s%s", nf->ifindex,
			hook_names[h], strerror(-err),
			err == -EINVAL ? " (another filter kind or protocol at our priority?)"
				       : "");
		return err;
	}
	return 0;
}

/* The program id of the filter at our priority and handle on a hook; -ENOENT if none. */
static int our_slot_prog_id(int ifindex, enum netfault_hook h, __u32 *id)
{
	return tc_bpf_filter_prog(ifindex, hook_parent(h), NETFAULT_TC_PRIORITY, NETFAULT_TC_HANDLE,
				  id);
}

/*
 * Remove our filter from a hook if it still runs our program. The program id comes from
 * netlink alone: opening a program by id to read its name needs CAP_SYS_ADMIN, which the
 * agent has given up by the time it reverts a fault, so the name is only looked up (best
 * effort) for the log line when the filter is somebody else's.
 */
static int detach_hook(struct netfault *nf, enum netfault_hook h)
{
	char name[BPF_OBJ_NAME_LEN];
	__u32 id;
	int err;

	err = our_slot_prog_id(nf->ifindex, h, &id);
	if (err == -ENOENT || err == -ENODEV)
		return 0;
	if (err) {
		log_err("netfault: ifindex %d %s: querying our filter: %s", nf->ifindex,
			hook_names[h], strerror(-err));
		return err;
	}
	if (id != nf->c->prog_id[h]) {
		if (our_slot_prog(nf->ifindex, h, &id, name))
			snprintf(name, sizeof(name), "?");
		log_warn("netfault: ifindex %d %s: the filter at our priority/handle runs prog id "
			 "%u (\"%s\"), not ours (%u); left alone",
			 nf->ifindex, hook_names[h], id, name, nf->c->prog_id[h]);
		return 0;
	}
	err = tc_detach(nf->ifindex, h);
	if (err && err != -ENOENT) {
		log_err("netfault: ifindex %d: detaching the %s filter: %s", nf->ifindex,
			hook_names[h], strerror(-err));
		return err;
	}
	return 0;
}

int netfault_attach(struct netfault *nf)
{
	struct nl_msg *msgs[1 + NETFAULT_HOOK__COUNT];
	int errs[1 + NETFAULT_HOOK__COUNT], err, first = 0;
	bool added[NETFAULT_HOOK__COUNT] = {false};

	if (nf->attached)
		return 0;
	/*
	 * clsact and both filters in one datagram: the kernel runs them in order, so the
	 * filters find clsact in place (ours or one that was there: -EEXIST).
	 */
	msgs[0] = tc_bpf_clsact_msg(true, nf->ifindex);
	for (int h = 0; h < NETFAULT_HOOK__COUNT; h++)
		msgs[1 + h] = filter_add_msg(nf, h, false);
	err = tc_bpf_batch(msgs, 1 + NETFAULT_HOOK__COUNT, errs);
	if (err) {
		/* Which requests ran is unknown: what did is looked for and undone. */
		log_err("netfault: ifindex %d: attaching: %s", nf->ifindex, strerror(-err));
		for (int h = 0; h < NETFAULT_HOOK__COUNT; h++)
			detach_hook(nf, h);
		return err;
	}
	if (errs[0] && errs[0] != -EEXIST) {
		log_err("netfault: ifindex %d: creating clsact: %s", nf->ifindex,
			strerror(-errs[0]));
		first = errs[0];
	}
	nf->created_qdisc = !errs[0];
	for (int h = 0; h < NETFAULT_HOOK__COUNT; h++) {
		err = first ? errs[1 + h] : hook_added(nf, h, errs[1 + h]);
		added[h] = !err;
		if (err && !first)
			first = err;
	}
	if (first) {
		for (int h = 0; h < NETFAULT_HOOK__COUNT; h++)
			if (added[h])
				detach_hook(nf, h);
		if (nf->created_qdisc)
			clsact_delete_if_empty(nf->ifindex);
		nf->created_qdisc = false;
		return first;
	}
	nf->attached = true;
	__atomic_add_fetch(&nf->c->attached, 1, __ATOMIC_ACQ_REL);
	log_info("netfault: ifindex %d: attached (clsact %s, priority %d handle %#x)", nf->ifindex,
		 nf->created_qdisc ? "created" : "already there", NETFAULT_TC_PRIORITY,
		 NETFAULT_TC_HANDLE);
	return 0;
}

/* ---- the steering filter ------------------------------------------------------------------ */

/* The program id of the filter at the steering priority and our handle; -ENOENT if none. */
static int steer_query(int ifindex, __u32 *id)
{
	return tc_bpf_filter_prog(ifindex, hook_parent(NETFAULT_HOOK_INGRESS),
				  NETFAULT_STEER_PRIORITY, NETFAULT_TC_HANDLE, id);
}

static int steer_delete(int ifindex)
{
	return tc_bpf_filter_del(ifindex, hook_parent(NETFAULT_HOOK_INGRESS),
				 NETFAULT_STEER_PRIORITY, NETFAULT_TC_HANDLE);
}

/* Name of a program by id; needs CAP_SYS_ADMIN (crash recovery runs before it is dropped). */
static int prog_name(__u32 id, char name[BPF_OBJ_NAME_LEN])
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id), err = 0;

	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = -errno;
	close(fd);
	if (!err) {
		memcpy(name, info.name, BPF_OBJ_NAME_LEN);
		name[BPF_OBJ_NAME_LEN - 1] = '\0';
	}
	return err;
}

int netfault_steer_attach(struct netfault *nf, int ifb_ifindex)
{
	struct tc_mirred mirred = {
		.action = TC_ACT_STOLEN,
		.eaction = TCA_EGRESS_REDIR,
		.ifindex = (__u32)ifb_ifindex,
	};
	struct tcmsg tcm = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = nf->ifindex,
		.tcm_handle = NETFAULT_TC_HANDLE,
		.tcm_parent = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS),
		.tcm_info = TC_H_MAKE((__u32)NETFAULT_STEER_PRIORITY << 16, htons(ETH_P_ALL)),
	};
	struct nlattr *opts, *acts, *act, *aopts;
	struct nl_sock *sk = NULL;
	struct nl_msg *msg;
	int err, fd = bpf_program__fd(nf->c->skel->progs.netfault_steer);

	if (!nf->attached || ifb_ifindex <= 0)
		return -EINVAL;
	if (nf->steer_prog_id)
		return -EEXIST;
	/*
	 * Built by hand: libbpf attaches direct-action filters only, which cannot carry an
	 * action. Classic cls_bpf with one mirred action: redirect to the IFB device's egress.
	 */
	msg = nlmsg_alloc_simple(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &tcm, sizeof(tcm), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(msg, TCA_KIND, "bpf") < 0 || !(opts = nla_nest_start(msg, TCA_OPTIONS)) ||
	    nla_put_u32(msg, TCA_BPF_FD, (uint32_t)fd) < 0 ||
	    nla_put_string(msg, TCA_BPF_NAME, NETFAULT_PROG_STEER) < 0 ||
	    nla_put_u32(msg, TCA_BPF_FLAGS, 0) < 0 || !(acts = nla_nest_start(msg, TCA_BPF_ACT)) ||
	    !(act = nla_nest_start(msg, 1)) || nla_put_string(msg, TCA_ACT_KIND, "mirred") < 0 ||
	    !(aopts = nla_nest_start(msg, TCA_ACT_OPTIONS)) ||
	    nla_put(msg, TCA_MIRRED_PARMS, sizeof(mirred), &mirred) < 0 ||
	    nla_nest_end(msg, aopts) < 0 || nla_nest_end(msg, act) < 0 ||
	    nla_nest_end(msg, acts) < 0 || nla_nest_end(msg, opts) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	err = nlsock_acquire(&sk);
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	err = nl_send_sync(sk, msg); /* frees msg */
	if (err)
		err = nlsock_result(sk, err);
	nlsock_release(sk);
	if (err) {
		log_err("netfault: ifindex %d: adding the steering filter (priority %#x, mirred to "
			"ifindex %d): %s%s",
			nf->ifindex, NETFAULT_STEER_PRIORITY, ifb_ifindex, strerror(-err),
			err == -EEXIST || err == -EINVAL ?
				" (another filter holds that priority and handle, or that priority "
				"with another kind)" :
				"");
		return err;
	}
	err = steer_query(nf->ifindex, &nf->steer_prog_id);
	if (err) {
		log_err("netfault: ifindex %d: reading the steering filter back: %s", nf->ifindex,
			strerror(-err));
		steer_delete(nf->ifindex);
		nf->steer_prog_id = 0;
		return err;
	}
	log_info("netfault: ifindex %d: steering filter attached (mirred to ifindex %d)",
		 nf->ifindex, ifb_ifindex);
	return 0;
}

int netfault_steer_detach(struct netfault *nf)
{
	__u32 id;
	int err;

	if (!nf->steer_prog_id)
		return 0;
	err = steer_query(nf->ifindex, &id);
	if (err == -ENOENT || err == -ENODEV) {
		nf->steer_prog_id = 0;
		return 0;
	}
	if (err)
		return err;
	if (id != nf->steer_prog_id) {
		log_warn("netfault: ifindex %d: the filter at the steering priority runs prog id %u, "
			 "not ours (%u); left alone",
			 nf->ifindex, id, nf->steer_prog_id);
		nf->steer_prog_id = 0;
		return 0;
	}
	err = steer_delete(nf->ifindex);
	if (err && err != -ENOENT) {
		log_err("netfault: ifindex %d: removing the steering filter: %s", nf->ifindex,
			strerror(-err));
		return err;
	}
	nf->steer_prog_id = 0;
	return 0;
}

/*
 * Forget every flow's last departure time: the instance outlives its faults (docs/netfault.md
 * "Lifetime"), and a DELAY rule that later takes a slot must not hold a flow until a time an
 * earlier rule of that slot set. Bounded by the map's size.
 */
static void flow_times_clear(struct netfault *nf)
{
	struct netfault_flow_key *keys = malloc(1024 * sizeof(*keys)), key;
	__u64 *values = malloc(1024 * sizeof(*values)), batch = 0;
	int fd = bpf_map__fd(nf->c->skel->maps.flow_times);
	unsigned int n = 0;

	/* In batches of 1,024 (a map full of flows: 16 calls); one by one where not supported. */
	for (int i = 0; keys && values && i < 2 * NETFAULT_MAX_FLOWS / 1024; i++) {
		__u32 count = 1024;
		int err = bpf_map_lookup_and_delete_batch(fd, i ? &batch : NULL, &batch, keys,
							  values, &count, NULL);

		if (!err)
			continue;
		if (errno == ENOENT) {
			free(keys);
			free(values);
			return;
		}
		break;
	}
	free(keys);
	free(values);
	while (n < 2 * NETFAULT_MAX_FLOWS && !bpf_map_get_next_key(fd, NULL, &key)) {
		if (bpf_map_delete_elem(fd, &key) && errno != ENOENT) {
			log_warn("netfault: ifindex %d: clearing flow times: %s", nf->ifindex,
				 strerror(errno));
			return;
		}
		n++;
	}
}

int netfault_detach(struct netfault *nf)
{
	struct nl_msg *msgs[1 + NETFAULT_HOOK__COUNT];
	int errs[1 + NETFAULT_HOOK__COUNT], hooks[NETFAULT_HOOK__COUNT];
	int err, n = 0, others = 0;
	bool qdisc;

	if (!nf->attached)
		return 0;
	err = netfault_steer_detach(nf);
	if (err)
		return err;
	/*
	 * One dump per hook says whether our filter still runs our program and what else the
	 * hook holds; then the deletes go out in one datagram, clsact's last, when we created
	 * it and nothing but ours is on it.
	 */
	for (int h = 0; h < NETFAULT_HOOK__COUNT; h++) {
		char name[BPF_OBJ_NAME_LEN];
		int count;
		__u32 id;

		err = tc_bpf_hook_scan(nf->ifindex, hook_parent(h), NETFAULT_TC_PRIORITY,
				       NETFAULT_TC_HANDLE, &id, &count);
		if (err == -ENOENT || err == -ENODEV)
			continue; /* no clsact, or no device: nothing of ours left there */
		if (err) {
			log_err("netfault: ifindex %d %s: querying our filter: %s", nf->ifindex,
				hook_names[h], strerror(-err));
			return err;
		}
		others += count;
		if (!id)
			continue;
		if (id != nf->c->prog_id[h]) {
			if (our_slot_prog(nf->ifindex, h, &id, name))
				snprintf(name, sizeof(name), "?");
			log_warn("netfault: ifindex %d %s: the filter at our priority/handle runs "
				 "prog id %u (\"%s\"), not ours (%u); left alone",
				 nf->ifindex, hook_names[h], id, name, nf->c->prog_id[h]);
			others++;
			continue;
		}
		hooks[n] = h;
		msgs[n++] = tc_bpf_filter_del_msg(nf->ifindex, hook_parent(h), NETFAULT_TC_PRIORITY,
						  NETFAULT_TC_HANDLE);
	}
	qdisc = nf->created_qdisc && !others;
	if (nf->created_qdisc && others)
		log_info("netfault: ifindex %d: %d other filter(s) on clsact; clsact left in place",
			 nf->ifindex, others);
	if (qdisc)
		msgs[n] = tc_bpf_clsact_msg(false, nf->ifindex);
	if (n + qdisc) {
		err = tc_bpf_batch(msgs, n + qdisc, errs);
		for (int i = 0; !err && i < n; i++) {
			if (errs[i] && errs[i] != -ENOENT) {
				log_err("netfault: ifindex %d: detaching the %s filter: %s",
					nf->ifindex, hook_names[hooks[i]], strerror(-errs[i]));
				err = errs[i];
			}
		}
		if (!err && qdisc && errs[n] && errs[n] != -ENOENT && errs[n] != -EINVAL &&
		    errs[n] != -ENODEV) {
			log_warn("netfault: ifindex %d: deleting clsact: %s", nf->ifindex,
				 strerror(-errs[n]));
			err = errs[n];
		}
		if (err)
			return err;
	}
	nf->attached = false;
	nf->created_qdisc = false;
	/* The flows' departure times go with the last interface the program leaves. */
	if (!__atomic_sub_fetch(&nf->c->attached, 1, __ATOMIC_ACQ_REL))
		flow_times_clear(nf);
	log_info("netfault: ifindex %d: detached", nf->ifindex);
	return 0;
}

int netfault_cleanup_leftover(int ifindex, unsigned int flags, int *removed)
{
	char name[BPF_OBJ_NAME_LEN];
	int err = 0, e, n = 0;
	__u32 id;

	if (removed)
		*removed = 0;
	if (ifindex <= 0 || (flags & ~NETFAULT_CLEANUP_QDISC))
		return -EINVAL;
	for (int h = 0; h < NETFAULT_HOOK__COUNT; h++) {
		e = our_slot_prog(ifindex, h, &id, name);
		if (e == -ENOENT)
			continue;
		if (!e && strcmp(name, prog_names[h])) {
			log_info("netfault: ifindex %d %s: the filter at our priority/handle runs "
				 "\"%s\" (prog id %u), not ours; left alone",
				 ifindex, hook_names[h], name, id);
			continue;
		}
		if (!e)
			e = tc_detach(ifindex, h);
		if (e && e != -ENOENT) {
			log_err("netfault: ifindex %d %s: removing a leftover filter: %s", ifindex,
				hook_names[h], strerror(-e));
			if (!err)
				err = e;
			continue;
		}
		if (!e) {
			log_info("netfault: ifindex %d %s: removed leftover filter (prog id %u)",
				 ifindex, hook_names[h], id);
			n++;
		}
	}
	/* The steering filter, when ingress shaping was on. */
	e = steer_query(ifindex, &id);
	if (!e) {
		e = prog_name(id, name);
		if (!e && strcmp(name, NETFAULT_PROG_STEER)) {
			log_info("netfault: ifindex %d: the filter at the steering priority runs \"%s\" "
				 "(prog id %u), not ours; left alone",
				 ifindex, name, id);
		} else if (!e) {
			e = steer_delete(ifindex);
			if (!e) {
				log_info("netfault: ifindex %d: removed leftover steering filter (prog "
					 "id %u)",
					 ifindex, id);
				n++;
			}
		}
	}
	if (e && e != -ENOENT && e != -ENODEV) {
		log_err("netfault: ifindex %d: removing a leftover steering filter: %s", ifindex,
			strerror(-e));
		if (!err)
			err = e;
	}
	if (removed)
		*removed = n;
	if (!err && (flags & NETFAULT_CLEANUP_QDISC)) {
		int count;

		/* No clsact at all: nothing to delete. */
		if (clsact_filter_count(ifindex, &count))
			return 0;
		err = clsact_delete_if_empty(ifindex);
	}
	return err;
}

/* ---- rules ------------------------------------------------------------------------------- */

static bool proto_has_ports(uint8_t proto)
{
	return proto == 0 || proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	       proto == IPPROTO_UDPLITE || proto == IPPROTO_SCTP;
}

static int cidrs_copy(const struct netfault_cidr *src, size_t n, struct netfault_cidr **out)
{
	*out = NULL;
	if (!n)
		return 0;
	if (!src || n > NETFAULT_MAX_PREFIXES)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (cidr_check(&src[i]))
			return -EINVAL;
	*out = malloc(n * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	memcpy(*out, src, n * sizeof(**out));
	return 0;
}

/* Validate a spec into a record (CIDRs copied). */
static int rec_from_spec(const struct netfault_rule_spec *spec, struct rule_rec *rec)
{
	struct netfault_rule *r = &rec->r;
	int err;

	memset(rec, 0, sizeof(*rec));
	if (!spec->dirs || (spec->dirs & ~NETFAULT_DIR_BOTH))
		return -EINVAL;
	if (spec->action < NETFAULT_ACT_LOSS || spec->action > NETFAULT_ACT__MAX)
		return -EINVAL;
	if (spec->lport_max && spec->lport_min > spec->lport_max)
		return -EINVAL;
	if (spec->rport_max && spec->rport_min > spec->rport_max)
		return -EINVAL;
	if ((spec->lport_max || spec->rport_max) && !proto_has_ports(spec->proto))
		return -EINVAL;
	if (spec->action == NETFAULT_ACT_SHAPE) {
		/* One direction: egress steers by class, ingress through the steering filter. */
		if (spec->dirs == NETFAULT_DIR_EGRESS ? !spec->classid :
		    spec->dirs == NETFAULT_DIR_INGRESS ? spec->classid != 0 :
							 true)
			return -EINVAL;
		r->classid = spec->classid;
	} else if (spec->classid) {
		return -EINVAL;
	}
	if (spec->action == NETFAULT_ACT_DELAY) {
		/* sch_fq holds egress packets only; a receive timestamp means nothing to it. */
		if (spec->dirs != NETFAULT_DIR_EGRESS || spec->dist >= NETFAULT_DIST__COUNT)
			return -EINVAL;
		r->delay_ns = spec->delay_ns;
		r->jitter_ns = spec->jitter_ns;
		r->corr = spec->corr;
		r->dist = spec->dist;
	}
	rec->dirs = spec->dirs;
	r->action = spec->action;
	r->proto = spec->proto;
	if (spec->fault_exempt)
		r->flags |= NETFAULT_RULE_NO_EXEMPT;
	if (spec->lport_max) {
		r->flags |= NETFAULT_RULE_LPORTS;
		r->lport_min = spec->lport_min;
		r->lport_max = spec->lport_max;
	}
	if (spec->rport_max) {
		r->flags |= NETFAULT_RULE_RPORTS;
		r->rport_min = spec->rport_min;
		r->rport_max = spec->rport_max;
	}
	r->prob = spec->prob;
	r->ge = spec->ge;
	if (spec->action == NETFAULT_ACT_DNS) {
		/* Queries leave: egress; the answer needs the port of the query. */
		if (spec->dirs != NETFAULT_DIR_EGRESS || !spec->n_dns_names ||
		    spec->n_dns_names > NETFAULT_MAX_DNS_NAMES ||
		    (spec->dns_op != NETFAULT_DNS_ANSWER && spec->dns_op != NETFAULT_DNS_DROP &&
		     spec->dns_op != NETFAULT_DNS_SPOOF) ||
		    spec->dns_spoof.n_a > NETFAULT_DNS_SPOOF_MAX ||
		    spec->dns_spoof.n_aaaa > NETFAULT_DNS_SPOOF_MAX)
			return -EINVAL;
		r->dns_op = spec->dns_op;
		r->dns_rcode = spec->dns_rcode;
		if (spec->dns_op == NETFAULT_DNS_SPOOF)
			r->dns_spoof = spec->dns_spoof;
		memcpy(r->dns_qtypes, spec->dns_qtypes, sizeof(r->dns_qtypes));
		rec->dns_names = malloc(spec->n_dns_names * sizeof(*rec->dns_names));
		if (!rec->dns_names)
			return -ENOMEM;
		memcpy(rec->dns_names, spec->dns_names,
		       spec->n_dns_names * sizeof(*rec->dns_names));
		rec->n_dns_names = spec->n_dns_names;
	}
	err = cidrs_copy(spec->remote, spec->n_remote, &rec->remote);
	if (err) {
		netfault_rec_free(rec);
		return err;
	}
	rec->n_remote = spec->n_remote;
	err = cidrs_copy(spec->local, spec->n_local, &rec->local);
	if (err) {
		netfault_rec_free(rec);
		return err;
	}
	rec->n_local = spec->n_local;
	return 0;
}

static int rule_write(struct netfault *nf, int slot, const struct netfault_rule *r)
{
	__u32 key = slot;

	if (bpf_map_update_elem(bpf_map__fd(nf->c->skel->maps.rules), &key, r, BPF_ANY))
		return -errno;
	return 0;
}

static int ge_reset(struct netfault *nf, int slot)
{
	struct netfault_ge_state st;
	__u32 key = slot;

	memset(&st, 0, sizeof(st));
	if (bpf_map_update_elem(bpf_map__fd(nf->c->skel->maps.ge_states), &key, &st, BPF_ANY))
		return -errno;
	return 0;
}

static int counters_reset(struct netfault *nf, int slot)
{
	int ncpu = libbpf_num_possible_cpus();
	struct netfault_counters *zero;
	__u32 key = slot;
	int err = 0;

	if (ncpu < 0)
		return ncpu;
	zero = calloc(ncpu, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(bpf_map__fd(nf->c->skel->maps.rule_stats), &key, zero, BPF_ANY))
		err = -errno;
	free(zero);
	return err;
}

/* The .bss words are read by the program on other CPUs at any time: store them whole. */
static void cfg_store(__u64 *word, __u64 value)
{
	__atomic_store_n(word, value, __ATOMIC_RELEASE);
}

static void cfg_set_bits(__u64 *word, __u64 bits, bool on)
{
	cfg_store(word, on ? (*word | bits) : (*word & ~bits));
}

/*
 * The remote ports of the DNS rules in use, as cfg.dns_ports: only packets to them are parsed
 * as DNS. Call after a DNS rule is added (before its dns_rules bit is set) or removed.
 */
static void cfg_dns_ports(struct netfault *nf)
{
	unsigned int lo = 65535, hi = 0;

	for (int s = 0; s < NETFAULT_MAX_RULES; s++) {
		const struct rule_rec *rec = &nf->c->rules[s];
		bool ports = rec->r.flags & NETFAULT_RULE_RPORTS;

		if (!rec->used || rec->r.action != NETFAULT_ACT_DNS)
			continue;
		lo = ports && rec->r.rport_min < lo ? rec->r.rport_min : ports ? lo : 0;
		hi = ports && rec->r.rport_max > hi ? rec->r.rport_max : ports ? hi : 65535;
	}
	cfg_store(&nf->c->skel->bss->cfg.dns_ports, lo <= hi ? (__u64)lo << 16 | hi : 0);
}

/* Put a rule in or out of force on each hook according to dirs. */
static void cfg_set_active(struct netfault *nf, int slot, unsigned int dirs)
{
	struct netfault_config *cfg = &nf->c->skel->bss->cfg;

	for (int h = 0; h < NETFAULT_HOOK__COUNT; h++)
		cfg_set_bits(&cfg->active[h], RULE_BIT(slot), dirs & (1u << h));
}

int netfault_rule_add(struct netfault *nf, const struct netfault_rule_spec *spec, int *slot)
{
	struct netfault_config *cfg = &nf->c->skel->bss->cfg;
	struct rule_rec rec;
	int s, err;

	for (s = 0; s < NETFAULT_MAX_RULES && nf->c->rules[s].used; s++)
		;
	if (s == NETFAULT_MAX_RULES)
		return -ENOSPC;
	err = rec_from_spec(spec, &rec);
	if (err)
		return err;
	err = rule_write(nf, s, &rec.r);
	if (!err)
		err = counters_reset(nf, s);
	if (!err)
		err = ge_reset(nf, s);
	if (err) {
		log_err("netfault: writing rule slot %d: %s", s, strerror(-err));
		netfault_rec_free(&rec);
		return err;
	}
	rec.used = true;
	nf->c->rules[s] = rec;
	err = netfault_tries_sync(nf, netfault_rec_families(&rec));
	if (err) {
		unsigned int fams = netfault_rec_families(&nf->c->rules[s]);

		netfault_rec_free(&nf->c->rules[s]);
		netfault_tries_sync(nf, fams);
		return err;
	}
	if (rec.n_dns_names) {
		err = netfault_dns_names_add(nf, s, &nf->c->rules[s]);
		if (err) {
			unsigned int fams = netfault_rec_families(&nf->c->rules[s]);

			netfault_rec_free(&nf->c->rules[s]);
			netfault_tries_sync(nf, fams);
			return err;
		}
	}
	/* Addresses, names and deadline first, the active bit last: the rule starts whole. */
	if (rec.n_dns_names)
		cfg_dns_ports(nf);
	cfg_set_bits(&cfg->dns_rules, RULE_BIT(s), rec.n_dns_names != 0);
	if (spec->deadline_ns)
		netfault_clock_sync(nf);
	cfg_store(&cfg->deadline[s], spec->deadline_ns);
	cfg_set_bits(&cfg->remote_any, RULE_BIT(s), !rec.n_remote);
	cfg_set_bits(&cfg->local_any, RULE_BIT(s), !rec.n_local);
	cfg_set_active(nf, s, rec.dirs);
	*slot = s;
	log_debug("netfault: ifindex %d: rule %d added (action %d, %zu remote / %zu local CIDRs)",
		  nf->ifindex, s, rec.r.action, rec.n_remote, rec.n_local);
	return 0;
}

int netfault_rule_update(struct netfault *nf, int slot, const struct netfault_rule_spec *spec)
{
	struct netfault_config *cfg = &nf->c->skel->bss->cfg;
	struct rule_rec rec, old;
	unsigned int fams;
	int err;

	if (slot < 0 || slot >= NETFAULT_MAX_RULES || !nf->c->rules[slot].used)
		return -ENOENT;
	if (spec->action == NETFAULT_ACT_DNS || nf->c->rules[slot].r.action == NETFAULT_ACT_DNS)
		return -EINVAL;
	err = rec_from_spec(spec, &rec);
	if (err)
		return err;
	old = nf->c->rules[slot];
	rec.used = true;
	/*
	 * Widen before narrowing: "any address" bits the new rule needs are set before its
	 * tries change, the ones it drops are cleared after.
	 */
	if (!rec.n_remote)
		cfg_set_bits(&cfg->remote_any, RULE_BIT(slot), true);
	if (!rec.n_local)
		cfg_set_bits(&cfg->local_any, RULE_BIT(slot), true);
	err = rule_write(nf, slot, &rec.r);
	if (!err && rec.r.action != old.r.action)
		err = ge_reset(nf, slot);
	if (err)
		goto restore;
	nf->c->rules[slot] = rec;
	fams = netfault_rec_families(&old) | netfault_rec_families(&rec);
	err = netfault_tries_sync(nf, fams);
	if (err) {
		nf->c->rules[slot] = old;
		netfault_tries_sync(nf, fams);
		goto restore;
	}
	if (rec.n_remote)
		cfg_set_bits(&cfg->remote_any, RULE_BIT(slot), false);
	if (rec.n_local)
		cfg_set_bits(&cfg->local_any, RULE_BIT(slot), false);
	if (spec->deadline_ns)
		netfault_clock_sync(nf);
	cfg_store(&cfg->deadline[slot], spec->deadline_ns);
	cfg_set_active(nf, slot, rec.dirs);
	free(old.remote);
	free(old.local);
	return 0;

restore:
	log_err("netfault: updating rule slot %d: %s", slot, strerror(-err));
	rule_write(nf, slot, &old.r);
	cfg_set_bits(&cfg->remote_any, RULE_BIT(slot), !old.n_remote);
	cfg_set_bits(&cfg->local_any, RULE_BIT(slot), !old.n_local);
	rec.used = false;
	netfault_rec_free(&rec);
	return err;
}

int netfault_rule_deadline(struct netfault *nf, int slot, uint64_t deadline_ns)
{
	if (slot < 0 || slot >= NETFAULT_MAX_RULES || !nf->c->rules[slot].used)
		return -ENOENT;
	if (deadline_ns)
		netfault_clock_sync(nf);
	cfg_store(&nf->c->skel->bss->cfg.deadline[slot], deadline_ns);
	return 0;
}

int netfault_rule_remove(struct netfault *nf, int slot)
{
	struct netfault_config *cfg = &nf->c->skel->bss->cfg;
	unsigned int fams;

	if (slot < 0 || slot >= NETFAULT_MAX_RULES || !nf->c->rules[slot].used)
		return -ENOENT;
	/* Out of force first; a dirty trie is rewritten in full before the slot is used again. */
	cfg_set_active(nf, slot, 0);
	cfg_set_bits(&cfg->remote_any, RULE_BIT(slot), false);
	cfg_set_bits(&cfg->local_any, RULE_BIT(slot), false);
	cfg_set_bits(&cfg->dns_rules, RULE_BIT(slot), false);
	cfg_store(&cfg->deadline[slot], 0);
	netfault_dns_names_remove(nf, slot, &nf->c->rules[slot]);
	fams = netfault_rec_families(&nf->c->rules[slot]);
	netfault_rec_free(&nf->c->rules[slot]);
	cfg_dns_ports(nf);
	return netfault_tries_sync(nf, fams);
}
