/*
 * Traffic control over rtnetlink (libnl), for the shaping faults (network.bandwidth,
 * network.latency): the public interface of four files of agent/net/,
 *   tc_root.c    an exact snapshot and restore of a device's root qdisc tree,
 *   tc_shaper.c  the qdiscs the faults install (HTB shaper, netem, fq, TBF) and their counters,
 *   tc_ifb.c     IFB devices for ingress shaping,
 *   tc_nl.c      the tc requests and dumps they share (tc_nl.h) and tc_clsact_present().
 * Every function returns 0 or a negative errno; where an err/why buffer is given it says what
 * failed in words (with the kernel's extended ack message when it sent one). Requests go
 * through the agent's one rtnetlink socket (nlsock.h), which serialises callers.
 */
#ifndef FL_TC_H
#define FL_TC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * Handles of what faultline installs: the HTB at the root of the shaped device (or of the
 * IFB device), its one class, and the class's leaf fifo. The shaping rule of the eBPF data
 * path sets skb->priority to TC_FL_CLASS on egress, which HTB reads as the class.
 */
#define TC_FL_MAJOR 0xfa17u
#define TC_FL_ROOT (TC_FL_MAJOR << 16)
#define TC_FL_CLASS (TC_FL_ROOT | 1u)
#define TC_FL_LEAF ((TC_FL_MAJOR + 1u) << 16)

/* What a shaper does to the traffic sent through it. Rates are bytes per second. */
struct tc_shaper {
	uint64_t rate;	/* bytes/s, also the ceiling: the class never borrows */
	uint32_t burst; /* bytes it may send at line rate after idling */
	uint32_t limit; /* bytes queued before it drops */
};

/* A netem qdisc for network.latency (microseconds; corr is netem's fixed point). */
struct tc_netem {
	uint32_t limit; /* packets */
	uint32_t delay_us, jitter_us;
	uint32_t corr;	     /* delay correlation, 0 = none */
	const int16_t *dist; /* distribution table, NULL for uniform */
	size_t n_dist;
};

/* sch_fq for EDT latency: queue limits in packets, horizon in microseconds (capped, not dropped).
 */
struct tc_fq {
	uint32_t limit, flow_limit;
	uint32_t horizon_us;
};

/* Counters of the shaper's class (what the API shows as achieved values). */
struct tc_shaper_stats {
	uint64_t bytes, packets, drops, overlimits, backlog;
};

/* ---- tc_root.c: the root qdisc tree ---- */

/*
 * Record the root qdisc tree of a device so that tc_root_restore() can put it back exactly:
 * *out is JSON for the journal. The default root (the kernel's own, handle 0:) is recorded as
 * such. Returns -EBUSY with why when the tree holds something that cannot be recreated
 * exactly (tc filters, a size table, a rate estimator, an offloaded or unknown qdisc kind, a
 * handle of ours), so that the caller refuses instead of replacing it.
 */
int tc_root_snapshot(int ifindex, json_t **out, char *why, size_t size);

/* A short description of a snapshot for people: "the default root (noqueue)", "tbf 1:". */
void tc_root_describe(const json_t *snap, char *buf, size_t size);

/* Is the root qdisc of the device ours (the shaper's HTB, or the EDT fq)? */
int tc_root_is_ours(int ifindex, bool *ours);

/*
 * Put a snapshot back in place of our shaper, only when the root is still ours (otherwise
 * someone replaced it since: it is left alone and report says so). A recorded default root
 * comes back by deleting ours, which makes the kernel graft its default in the same
 * operation; any other root is recreated with NLM_F_REPLACE, then its classes and child
 * qdiscs. The result is compared with the snapshot; a difference is an error (-EIO).
 * A device that no longer exists has nothing to restore (0, reported).
 */
int tc_root_restore(int ifindex, const json_t *snap, char *report, size_t size);

/* ---- tc_shaper.c: the qdiscs of the shaping faults ---- */

/*
 * Install the steered shaper at the root of a device in one replace (NLM_F_REPLACE: no moment
 * without a root qdisc): an HTB whose class TC_FL_CLASS has the rate, with a byte fifo as its
 * leaf; packets not steered into the class take HTB's direct queue, unshaped. Then the class
 * and leaf. On failure the root is left as it was after the replace: the caller restores its
 * snapshot.
 */
int tc_shaper_install(int ifindex, const struct tc_shaper *s, const struct tc_netem *netem,
		      char *err, size_t size);

/*
 * With netem set, tc_shaper_install() gives the class a netem leaf instead of the byte fifo
 * (network.latency's netem path). tc_netem_install() puts netem at the root of a device of
 * ours (the IFB device of ingress latency).
 */
int tc_netem_install(int ifindex, const struct tc_netem *n, char *err, size_t size);

/*
 * Replace the root of a device with sch_fq at our handle (TC_FL_ROOT) in one NLM_F_REPLACE,
 * for EDT latency: fq sends each packet at its skb->tstamp. Restored like the shaper.
 */
int tc_fq_install(int ifindex, const struct tc_fq *p, char *err, size_t size);

/*
 * A TBF at the root of a device of ours (the IFB device: everything on it is to be shaped).
 * TBF splits GSO packets larger than its burst into segments before queueing them, so a
 * full queue drops single segments, as a real bottleneck would, not 64 KiB aggregates.
 */
int tc_tbf_install(int ifindex, const struct tc_shaper *s, char *err, size_t size);

/* Counters of the root qdisc of a device (the IFB's TBF). */
int tc_root_stats(int ifindex, struct tc_shaper_stats *out);

/* Counters of our HTB class on a device (the shaper's). */
int tc_shaper_stats(int ifindex, struct tc_shaper_stats *out);

/* ---- tc_nl.c: queries that are a dump ---- */

/* Is there a clsact (or ingress) qdisc on the device? */
int tc_clsact_present(int ifindex, bool *present);

/* ---- tc_ifb.c: IFB devices ---- */

/*
 * Create an IFB device with this name, tagged with alias (IFLA_IFALIAS) so that crash
 * recovery can tell it is ours, and bring it up. -EEXIST when the name is taken.
 */
int tc_ifb_create(const char *name, const char *alias, int *ifindex, char *err, size_t size);

/*
 * Delete the device called name if it is an IFB device tagged with alias, or an untagged IFB
 * device that is down (what a crash inside tc_ifb_create() leaves: the caller journaled the
 * name first); *deleted says whether it did. A missing device is not an error; one that is
 * not ours is left alone.
 */
int tc_ifb_delete(const char *name, const char *alias, bool *deleted);

#endif
