/*
 * A netfault instance's life (see netfault.h): the loaded program and its maps (struct
 * netfault_core), and the handles that attach it to interfaces. A core is verified once and
 * may be attached to many interfaces in many network namespaces (a tc filter takes any
 * program fd, wherever it was loaded): netfault_open_shared() hands out another handle on
 * it, and netfault_unshare() gives one interface a core of its own, with the same rules,
 * when its rules are about to diverge from the others'.
 */
#include <errno.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netlink/route/link.h>

#include "log.h"
#include "netfault_impl.h"
#include "netfault.skel.h"
#include "nlsock.h"
#include "tc_bpf.h"

#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519
#endif

/* Bytes before the network header on this device, as the tc hook sees the packet. */
int netfault_device_l2_len(int ifindex, __u32 *l2_len)
{
	struct rtnl_link *link = NULL;
	struct nl_sock *sk;
	unsigned int type;
	int err;

	err = nlsock_acquire(&sk);
	if (err)
		return err;
	err = rtnl_link_get_kernel(sk, ifindex, NULL, &link);
	if (err) {
		err = nlsock_result(sk, err);
		goto out;
	}
	type = rtnl_link_get_arptype(link);
	switch (type) {
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK:
		*l2_len = 14;
		break;
	case ARPHRD_NONE:
	case ARPHRD_RAWIP:
	case ARPHRD_TUNNEL:
	case ARPHRD_TUNNEL6:
	case ARPHRD_SIT:
		*l2_len = 0;
		break;
	default:
		log_err("netfault: ifindex %d: link type %u is not supported (Ethernet, loopback "
			"and headerless IP devices are)",
			ifindex, type);
		err = -EOPNOTSUPP;
	}
out:
	rtnl_link_put(link);
	nlsock_release(sk);
	return err;
}

int netfault_core_prog_fd(const struct netfault_core *c, enum netfault_hook hook)
{
	if (!c || !c->skel)
		return -EINVAL;
	if (hook == NETFAULT_HOOK_INGRESS)
		return bpf_program__fd(c->skel->progs.netfault_in);
	if (hook == NETFAULT_HOOK_EGRESS)
		return bpf_program__fd(c->skel->progs.netfault_out);
	return -EINVAL;
}

int netfault_prog_fd(const struct netfault *nf, enum netfault_hook hook)
{
	return nf ? netfault_core_prog_fd(nf->c, hook) : -EINVAL;
}

int netfault_core_load(__u32 l2_len, struct netfault_core **out)
{
	struct netfault_core *c = calloc(1, sizeof(*c));
	int err;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->skel = netfault_bpf__open();
	if (!c->skel) {
		err = -errno;
		log_err("netfault: opening the BPF object: %s", strerror(-err));
		goto fail;
	}
	c->skel->rodata->l2_len = l2_len;
	c->l2_len = l2_len;
	err = netfault_bpf__load(c->skel);
	if (err) {
		log_err("netfault: loading the BPF programs: %s", strerror(-err));
		goto fail;
	}
	for (int h = 0; h < NETFAULT_HOOK__COUNT; h++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(netfault_core_prog_fd(c, h), &info, &len)) {
			err = -errno;
			log_err("netfault: reading program info: %s", strerror(-err));
			goto fail;
		}
		c->prog_id[h] = info.id;
	}
	*out = c;
	return 0;
fail:
	netfault_bpf__destroy(c->skel);
	free(c);
	return err;
}

void netfault_rec_free(struct rule_rec *rec)
{
	free(rec->remote);
	free(rec->local);
	free(rec->dns_names);
	memset(rec, 0, sizeof(*rec));
}

void netfault_core_put(struct netfault_core *c)
{
	if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	netfault_bpf__destroy(c->skel);
	for (int i = 0; i < NETFAULT_MAX_RULES; i++)
		netfault_rec_free(&c->rules[i]);
	for (int f = 0; f < 2; f++)
		free(c->tables[f].v);
	free(c);
}

int netfault_open_shared(int ifindex, struct netfault *peer, struct netfault **out)
{
	struct netfault *nf;
	__u32 l2_len = 0;
	int err;

	*out = NULL;
	if (ifindex <= 0)
		return -EINVAL;
	err = netfault_device_l2_len(ifindex, &l2_len);
	if (err) {
		log_err("netfault: ifindex %d: %s", ifindex, strerror(-err));
		return err;
	}
	nf = calloc(1, sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	nf->ifindex = ifindex;
	if (peer && peer->c->l2_len == l2_len) {
		nf->c = peer->c;
	} else {
		if (peer)
			log_info("netfault: ifindex %d: another link header than the shared "
				 "program's; loading one of its own",
				 ifindex);
		err = netfault_core_load(l2_len, &nf->c);
		if (err) {
			free(nf);
			return err;
		}
	}
	__atomic_add_fetch(&nf->c->refs, 1, __ATOMIC_ACQ_REL);
	*out = nf;
	return 0;
}

int netfault_open(int ifindex, struct netfault **out)
{
	return netfault_open_shared(ifindex, NULL, out);
}

bool netfault_same_program(const struct netfault *a, const struct netfault *b)
{
	return a && b && a->c == b->c;
}

int netfault_shares(const struct netfault *nf)
{
	return nf ? __atomic_load_n(&nf->c->refs, __ATOMIC_ACQUIRE) : 0;
}

int netfault_check_device(const struct netfault *nf)
{
	__u32 l2_len = 0;
	int err = netfault_device_l2_len(nf->ifindex, &l2_len);

	if (err == -EOPNOTSUPP)
		return -ESTALE;
	if (err)
		return err;
	return l2_len == nf->c->l2_len ? 0 : -ESTALE;
}

void netfault_close(struct netfault *nf)
{
	int err;

	if (!nf)
		return;
	err = netfault_detach(nf);
	if (err)
		log_err("netfault: ifindex %d: detaching on close: %s", nf->ifindex,
			strerror(-err));
	netfault_core_put(nf->c);
	free(nf);
}

/*
 * What user space writes into a core, for netfault_unshare() to copy: the maps below and the
 * .bss. A new map, or a new load-time knob, must be looked at there first.
 */
_Static_assert(sizeof(((struct netfault_bpf *)0)->maps) == 14 * sizeof(struct bpf_map *),
	       "a map was added to bpf/netfault.bpf.c: copy what user space writes into it in "
	       "netfault_unshare() (core_copy()), then update this count");
_Static_assert(sizeof(*((struct netfault_bpf *)0)->rodata) == sizeof(__u32),
	       "a load-time knob was added: netfault_core_load() must set it alike for a copy");

/*
 * src's rules, in the same slots, and the jitter tables, into the empty core of nf. Not
 * copied: counters, Gilbert-Elliott states and flow departure times (they start over), the
 * per-CPU packet scratch (its random generator seeds itself on first use). The prefix tries
 * and their hash tables (prefixes_h4/h6) are rebuilt from the copied rules by
 * netfault_tries_sync(); the .bss (their lengths, the lease clock's base and tick) is copied
 * whole afterwards by netfault_unshare().
 */
static int core_copy(struct netfault *nf, const struct netfault_core *src)
{
	struct netfault_core *c = nf->c;
	int rules_fd = bpf_map__fd(c->skel->maps.rules);
	int dist_src = bpf_map__fd(src->skel->maps.dist_tables);
	int dist_dst = bpf_map__fd(c->skel->maps.dist_tables);
	struct netfault_dist_table t;
	int err;

	for (__u32 k = 0; k < NETFAULT_DIST__COUNT; k++)
		if (!bpf_map_lookup_elem(dist_src, &k, &t) &&
		    bpf_map_update_elem(dist_dst, &k, &t, BPF_ANY))
			return -errno;
	for (int s = 0; s < NETFAULT_MAX_RULES; s++) {
		const struct rule_rec *from = &src->rules[s];
		struct rule_rec *to = &c->rules[s];
		__u32 key = s;

		if (!from->used)
			continue;
		*to = *from;
		to->remote = NULL;
		to->local = NULL;
		to->dns_names = NULL;
		if ((from->n_remote &&
		     !(to->remote = malloc(from->n_remote * sizeof(*to->remote)))) ||
		    (from->n_local && !(to->local = malloc(from->n_local * sizeof(*to->local)))) ||
		    (from->n_dns_names &&
		     !(to->dns_names = malloc(from->n_dns_names * sizeof(*to->dns_names))))) {
			netfault_rec_free(to);
			return -ENOMEM;
		}
		if (from->n_remote)
			memcpy(to->remote, from->remote, from->n_remote * sizeof(*to->remote));
		if (from->n_local)
			memcpy(to->local, from->local, from->n_local * sizeof(*to->local));
		if (from->n_dns_names)
			memcpy(to->dns_names, from->dns_names,
			       from->n_dns_names * sizeof(*to->dns_names));
		if (bpf_map_update_elem(rules_fd, &key, &to->r, BPF_ANY))
			return -errno;
		if (to->n_dns_names) {
			err = netfault_dns_names_add(nf, s, to);
			if (err)
				return err;
		}
	}
	return netfault_tries_sync(nf, 3);
}

int netfault_unshare(struct netfault *nf, const struct netfault_exempt *ex, size_t n_ex)
{
	struct netfault_core *old = nf->c, *c;
	struct netfault tmp = {.ifindex = nf->ifindex};
	struct nl_msg *msgs[NETFAULT_HOOK__COUNT];
	int errs[NETFAULT_HOOK__COUNT], err;
	__u32 shapes;

	if (netfault_shares(nf) <= 1)
		return 0;
	if (nf->steer_prog_id)
		return -EBUSY; /* the shaping types act in one namespace: never shared */
	err = netfault_core_load(old->l2_len, &c);
	if (err)
		return err;
	c->refs = 1;
	tmp.c = c;
	/* Exemptions, rules, tries and names into the maps, then the .bss. */
	for (size_t i = 0; i < n_ex && !err; i++) {
		err = netfault_exempt_add(&tmp, &ex[i]);
		if (err == -EEXIST)
			err = 0;
	}
	if (!err)
		err = core_copy(&tmp, old);
	if (err)
		goto fail;
	/*
	 * The .bss (cfg: active bits, deadlines, the inline tables) whole: the program only
	 * reads it, and the new one is attached only after this.
	 */
	shapes = c->skel->bss->cfg.exempt_shapes; /* of the exemptions given */
	memcpy(c->skel->bss, old->skel->bss, sizeof(*c->skel->bss));
	c->skel->bss->cfg.exempt_shapes = shapes;
	if (nf->attached) {
		/* Each hook's filter replaced in place: no packet goes by without a program. */
		for (int h = 0; h < NETFAULT_HOOK__COUNT; h++)
			msgs[h] = netfault_filter_msg(c, nf->ifindex, h, true);
		err = tc_bpf_batch(msgs, NETFAULT_HOOK__COUNT, errs);
		for (int h = 0; !err && h < NETFAULT_HOOK__COUNT; h++)
			err = errs[h];
		if (err) {
			/* Back to the shared program where a hook took the new one. */
			for (int h = 0; h < NETFAULT_HOOK__COUNT; h++)
				msgs[h] = netfault_filter_msg(old, nf->ifindex, h, true);
			tc_bpf_batch(msgs, NETFAULT_HOOK__COUNT, errs);
			log_err("netfault: ifindex %d: attaching its own program: %s", nf->ifindex,
				strerror(-err));
			goto fail;
		}
		c->attached = 1;
		__atomic_sub_fetch(&old->attached, 1, __ATOMIC_ACQ_REL);
	}
	nf->c = c;
	netfault_core_put(old);
	log_info("netfault: ifindex %d: program of its own now (its rules diverge from the "
		 "interfaces it shared one with)",
		 nf->ifindex);
	return 0;
fail:
	netfault_core_put(c);
	return err;
}
