/*
 * network.bandwidth: limit the rate of matching packets.
 *
 * Egress: the device's root qdisc is replaced (one NLM_F_REPLACE, never delete-then-add) by an
 * HTB with one class at the limit; the eBPF data path steers matching packets into the class
 * by skb->priority, everything else takes HTB's unshaped direct queue. The root tree that was
 * there is recorded in the journal first and put back exactly on revert (agent/net/tc_root.c);
 * a tree that cannot be put back exactly (tc filters on it, ...) is refused, not replaced.
 *
 * Ingress: an IFB device of ours with a TBF at its root (the whole device is the target); the
 * data path marks matching packets, a steering filter with a mirred action sends them to the
 * IFB, and the IFB hands them back to the stack (include/faultline/netfault.h). TBF
 * splits GSO aggregates (GRO on receive makes 64 KiB ones) into segments before queueing, so
 * a full queue drops segments as a real bottleneck would; under an HTB class with a byte
 * fifo, dropping whole aggregates made TCP through it erratic (9.1-9.7 Mbit/s of 10 with up
 * to 1,000 retransmissions per run, against 9.57-9.68 and 0-13 with TBF).
 *
 * One limit per interface and direction (a second one is a conflict, as in experiment files).
 */
#include <errno.h>
#include <stddef.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "exp.h"
#include "fault.h"
#include "log.h"
#include "netif.h"
#include "tc.h"

/* Defaults when the fault does not say: 10 ms of traffic at the limit as burst, 100 ms as queue. */
#define BURST_MIN 3028u	       /* two full Ethernet frames */
#define LIMIT_MIN (128u << 10) /* above one 64 KiB GSO packet, which a smaller fifo would drop */
#define LIMIT_MAX (64u << 20)

/* The shaped record first, where netif_shaped_of() finds it. */
struct bw_state {
	struct netif_shaped sh; /* egress: HTB at the root; ingress: IFB with TBF */
	struct tc_shaper shaper;
};
_Static_assert(offsetof(struct bw_state, sh) == 0, "netif_shaped_of() reads sh at nf->ext");

static void bw_free(void *p)
{
	struct bw_state *bw = p;

	if (bw)
		netif_shaped_release(&bw->sh);
	free(bw);
}

static struct bw_state *bw_of(const struct fault *f)
{
	return (struct bw_state *)netif_shaped_of(f);
}

static int bw_probe(const struct agent *a, char *why, size_t size)
{
	int ret = netif_probe(a, why, size);

	if (ret)
		return ret;
	if (!a->probe.r[PROBE_HTB].available) {
		snprintf(why, size, "needs sch_htb: %s", a->probe.r[PROBE_HTB].reason);
		return -EOPNOTSUPP;
	}
	return 0;
}

static uint64_t clamp64(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

struct frame_op {
	const char *ifname;
	uint32_t max;
};

/* The largest frame the interface sends: its MTU plus an Ethernet header and a VLAN tag. */
static int op_max_frame(void *p)
{
	struct frame_op *o = p;
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint32_t mtu = 1500;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->ifname);
	if (fd >= 0 && !ioctl(fd, SIOCGIFMTU, &ifr) && ifr.ifr_mtu > 0)
		mtu = (uint32_t)ifr.ifr_mtu;
	if (fd >= 0)
		close(fd);
	o->max = mtu + 18;
	return 0;
}

/* Asked in the interface's namespace: the socket the ioctl goes through must be there. */
static uint32_t max_frame(const struct netif_fault *nf)
{
	struct frame_op o = {.ifname = nf->ifname, .max = 1500 + 18};

	netns_call(&nf->ns, op_max_frame, &o);
	return o.max;
}

static int bw_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_net_bandwidth *p = &f->spec->params.bandwidth;
	unsigned int dirs;
	struct bw_state *bw;
	struct netif_fault *nf;
	struct fault *other;
	uint32_t frame;
	int ret;

	ret = netif_fault_validate(a, f, err, size);
	if (ret)
		return ret;
	nf = f->priv;
	dirs = netif_dirs(f);
	if ((dirs & NETFAULT_DIR_INGRESS) && !a->probe.r[PROBE_IFB].available) {
		snprintf(err, size, "direction ingress needs IFB devices: %s",
			 a->probe.r[PROBE_IFB].reason);
		return -EOPNOTSUPP;
	}
	other = netif_shaper_claim(f, dirs);
	if (other) {
		snprintf(err, size,
			 "interface %s already has a qdisc of fault %s (%s) in this direction; two "
			 "bandwidth limits, or a limit and a latency, cannot share it",
			 nf->ifname, other->id, other->type->name);
		return -EBUSY;
	}
	bw = calloc(1, sizeof(*bw));
	if (!bw)
		return -ENOMEM;
	nf->ext = bw;
	nf->ext_free = bw_free;
	bw->shaper.rate = p->rate_bps / 8;
	bw->shaper.burst =
		(uint32_t)(p->burst_bytes ? clamp64(p->burst_bytes, 1, UINT32_MAX)
					  : clamp64(bw->shaper.rate / 100, BURST_MIN, UINT32_MAX));
	bw->shaper.limit =
		(uint32_t)(p->limit_bytes ? clamp64(p->limit_bytes, 1, UINT32_MAX)
					  : clamp64(bw->shaper.rate / 10, LIMIT_MIN, LIMIT_MAX));
	/* A bucket smaller than a frame would never let that frame through (TBF drops it). */
	frame = max_frame(nf);
	if (bw->shaper.burst < frame)
		bw->shaper.burst = frame;
	if (dirs & NETFAULT_DIR_EGRESS)
		return netif_shaped_snapshot(f, &bw->sh, err, size);
	return 0;
}

static int bw_apply_egress(struct fault *f, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	struct bw_state *bw = bw_of(f);
	struct netfault_rule_spec act = {.action = NETFAULT_ACT_SHAPE, .classid = TC_FL_CLASS};
	int ret;

	ret = netif_shaped_record_root(f, &bw->sh, err, size);
	if (ret)
		return ret;
	ret = tc_shaper_install(nf->ifindex, &bw->shaper, NULL, err, size);
	if (ret)
		return ret;
	log_info("fault %s: %s: replaced %s with the shaper (HTB %x:, %llu bytes/s)", f->id,
		 nf->ifname, bw->sh.replaced, TC_FL_MAJOR, (unsigned long long)bw->shaper.rate);
	return netif_fault_add_rules(f, NETFAULT_DIR_EGRESS, &act, err, size);
}

static int bw_apply_ingress(struct fault *f, char *err, size_t size)
{
	struct netif_fault *nf = f->priv;
	struct bw_state *bw = bw_of(f);
	int ret;

	ret = netif_shaped_create_ifb(f, &bw->sh, "shaper", err, size);
	if (!ret)
		ret = tc_tbf_install(bw->sh.ifb_ifindex, &bw->shaper, err, size);
	if (!ret)
		ret = netif_shaped_steer(f, &bw->sh, err, size);
	if (!ret)
		log_info("fault %s: %s ingress shaped through %s (%llu bytes/s)", f->id, nf->ifname,
			 bw->sh.ifb, (unsigned long long)bw->shaper.rate);
	return ret;
}

static int bw_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	(void)a;
	return netif_shaped_apply(f, bw_apply_egress, bw_apply_ingress, err, size);
}

static json_t *bw_describe(const struct fault *f)
{
	const struct netif_fault *nf = f->priv;
	const struct bw_state *bw = bw_of(f);
	json_t *out = netif_fault_status(f);

	if (!out || !bw)
		return out;
	json_object_set_new(out, "rate_bytes_per_s", json_integer((json_int_t)bw->shaper.rate));
	json_object_set_new(out, "burst_bytes", json_integer(bw->shaper.burst));
	json_object_set_new(out, "limit_bytes", json_integer(bw->shaper.limit));
	if (bw->sh.root_replaced)
		json_object_set_new(out, "egress",
				    json_pack("{s:s, s:o}", "replaced", bw->sh.replaced, "shaper",
					      netif_shaped_stats(f, nf->ifindex, false, true)));
	if (bw->sh.ifb_created)
		json_object_set_new(
			out, "ingress",
			json_pack("{s:s, s:o}", "ifb", bw->sh.ifb, "shaper",
				  netif_shaped_stats(f, bw->sh.ifb_ifindex, true, true)));
	return out;
}

const struct fault_ops fault_net_bandwidth = {
	NETIF_SHAPED_OPS("network.bandwidth"),
	.probe = bw_probe,
	.validate = bw_validate,
	.apply = bw_apply,
	.describe = bw_describe,
};
