/*
 * Network faults, user-space side: loads bpf/netfault.bpf.c for an interface (or for several,
 * sharing one loaded instance: netfault_open_shared()), hooks it on clsact ingress and egress
 * through libbpf, and keeps its rule, prefix and exemption maps.
 * Layouts shared with the BPF side: include/faultline/netfault.h. Design: docs/netfault.md.
 *
 * One struct netfault per interface: a handle on a program instance with 64 rule slots,
 * counters and exemptions, its own or shared with other interfaces (netfault_open_shared()).
 * The interface index is read in the network namespace of the calling thread. Not thread-safe: the agent calls it from its event loop only.
 * Every function returns 0 or a negative errno and logs through lib/log.h.
 */
#ifndef FL_NETFAULT_H
#define FL_NETFAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dnsname.h"
#include "faultline/netfault.h"

struct netfault;

/* An address prefix. IPv4 uses addr[0..3]; host bits past prefixlen are ignored. */
struct netfault_cidr {
	int family;		/* AF_INET or AF_INET6 (AF_UNSPEC: any address, exemptions only) */
	unsigned int prefixlen; /* 0..32 or 0..128 */
	uint8_t addr[16];	/* network byte order */
};

/*
 * A rule. Addresses and ports are seen from this host: remote is the peer (source on ingress,
 * destination on egress), local is this host. A rule with no remote (local) CIDRs matches any
 * remote (local) address; with CIDRs, only addresses in one of them (of either family). A port
 * range with port_max 0 means any port; a set range never matches packets without ports (ICMP,
 * non-first fragments). With one direction, "source/destination" maps onto local/remote.
 */
struct netfault_rule_spec {
	unsigned int dirs;	     /* NETFAULT_DIR_INGRESS and/or NETFAULT_DIR_EGRESS */
	enum netfault_action action; /* NETFAULT_ACT_* */
	uint32_t prob;		     /* LOSS, CORRUPT, DUPLICATE: netfault_prob(p) */
	struct netfault_ge ge;	     /* LOSS_GE: netfault_prob() of p, r, 1-h, 1-k */
	uint8_t proto;		     /* IPPROTO_TCP/UDP/ICMP/ICMPV6/..., 0 = any */
	uint16_t lport_min, lport_max;
	uint16_t rport_min, rport_max;
	bool fault_exempt; /* the experiment opted in: exempt flows are faulted too */
	/*
	 * SHAPE: exactly one direction. Egress: classid (skb->priority) of the root HTB class;
	 * ingress: 0 (matching packets go to the steering filter, netfault_steer_attach()).
	 */
	uint32_t classid;
	/* DELAY: egress only; dist's table must be loaded (netfault_dist_load) unless uniform. */
	uint64_t delay_ns, jitter_ns;
	uint32_t corr; /* netfault_prob() of the correlation */
	enum netfault_dist dist;
	/*
	 * DNS: egress only; the queries whose name one of the patterns matches (1 or more) and
	 * whose type is in qtypes (0 ends the list; none: every type) are answered with rcode
	 * (op ANSWER) or with dns_spoof's records (op SPOOF), or dropped (op DROP), with
	 * probability prob.
	 */
	enum netfault_dns_op dns_op;
	uint8_t dns_rcode;
	uint16_t dns_qtypes[NETFAULT_DNS_QTYPES_MAX];
	struct netfault_dns_spoof dns_spoof;
	const struct dnsname *dns_names;
	size_t n_dns_names;
	/*
	 * CLOCK_MONOTONIC nanoseconds after which the program leaves the rule's packets alone
	 * (its lease's deadline; netfault_rule_deadline() advances it); 0: none.
	 */
	uint64_t deadline_ns;
	const struct netfault_cidr *remote;
	size_t n_remote;
	const struct netfault_cidr *local;
	size_t n_local;
};

/*
 * An exempt flow: never faulted unless a rule has fault_exempt. 0 as proto or port is a
 * wildcard (with proto 0 both ports must be 0). remote.family AF_UNSPEC matches any address.
 */
struct netfault_exempt {
	uint8_t proto;
	uint16_t local_port;
	uint16_t remote_port;
	struct netfault_cidr remote;
};

/* Flags of netfault_cleanup_leftover(). */
#define NETFAULT_CLEANUP_QDISC (1u << 0) /* also delete clsact if no filter is left on it */

/* Probability p in [0, 1] as the fixed point the BPF side uses (1 -> NETFAULT_PROB_ONE). */
uint32_t netfault_prob(double p);

/* Parse "10.0.0.0/8", "2001:db8::/32", "192.0.2.1" (full length) into a CIDR. */
int netfault_cidr_parse(const char *s, struct netfault_cidr *out);

/*
 * Parse $SSH_CONNECTION ("client_ip client_port server_ip server_port") into the exemption of
 * that TCP connection.
 */
int netfault_exempt_parse_ssh(const char *ssh_connection, struct netfault_exempt *out);

/*
 * Load a program instance for the interface. Nothing is attached yet. Keep one instance per
 * interface and share it among the fault types (each rule is a slot in it): a second instance
 * attaching to the same interface replaces the first one's filters, as it would a crashed
 * agent's.
 */
int netfault_open(int ifindex, struct netfault **out);

/*
 * Another handle for the interface on peer's loaded instance (its program and maps: its
 * rules, exemptions and counters are then the peer's, in force on both interfaces), when the
 * interface has the same kind of link header; else (or with peer NULL) as netfault_open().
 * Each handle is attached, detached and closed on its own; the instance goes with the last.
 * Verifying the program is what loading costs (tens of ms): a fault in many namespaces loads
 * it once. Safe to call for several interfaces at once (the sharing count is atomic).
 */
int netfault_open_shared(int ifindex, struct netfault *peer, struct netfault **out);

/* How many handles share nf's instance (1: its own). */
int netfault_shares(const struct netfault *nf);

/* Do a and b run the same instance? */
bool netfault_same_program(const struct netfault *a, const struct netfault *b);

/*
 * Give nf an instance of its own, before its rules diverge from the interfaces it shares one
 * with: a new one is loaded with the same rules in the same slots (their counters start at
 * zero), deadlines, jitter tables and the exemptions given (what the interface holds), and,
 * when nf is attached, put in place of the shared one on both hooks (a filter replace: never
 * a moment without a program). 0 at once when nf's instance is its own; -EBUSY with a
 * steering filter. On failure nf keeps the shared instance.
 */
int netfault_unshare(struct netfault *nf, const struct netfault_exempt *ex, size_t n_ex);

/*
 * Hook the instance on the interface: create clsact if it is missing (remembered, so that
 * detach deletes only what we created) and attach both filters at NETFAULT_TC_PRIORITY /
 * NETFAULT_TC_HANDLE. A filter of ours left there by a crashed agent is replaced; anybody
 * else's filter at that priority and handle is left alone and the call fails with -EEXIST.
 */
int netfault_attach(struct netfault *nf);

/*
 * Remove our two filters (only when they still run our program), then clsact if we created it
 * and no other filter is on it. Idempotent.
 */
int netfault_detach(struct netfault *nf);

/* Detach (errors are logged) and free. Accepts NULL. */
void netfault_close(struct netfault *nf);

/*
 * Before an instance kept loaded while detached is attached again: 0 when the device at its
 * ifindex still has the link header the program was verified for, -ENODEV when the device is
 * gone, -ESTALE when another kind of device now has that index, or -errno.
 */
int netfault_check_device(const struct netfault *nf);

/*
 * Ingress shaping: add the steering filter (NETFAULT_PROG_STEER at NETFAULT_STEER_PRIORITY,
 * our handle, on the ingress hook; classic cls_bpf with a mirred action) that sends packets
 * SHAPE rules matched to the IFB device ifb_ifindex. After netfault_attach(); -EEXIST when
 * it is there already. Removed by netfault_steer_detach() (idempotent; only while it still
 * runs our program), by netfault_detach(), and after a crash by netfault_cleanup_leftover().
 */
int netfault_steer_attach(struct netfault *nf, int ifb_ifindex);
int netfault_steer_detach(struct netfault *nf);

/* Add a rule in the lowest free slot, in force at once; *slot is its id (0..63). */
int netfault_rule_add(struct netfault *nf, const struct netfault_rule_spec *spec, int *slot);

/*
 * Change a rule in place: counters are kept, the Gilbert-Elliott state when the action is.
 * Not for DNS rules (-EINVAL): remove and add them.
 */
int netfault_rule_update(struct netfault *nf, int slot, const struct netfault_rule_spec *spec);

/*
 * Move a rule's deadline (CLOCK_MONOTONIC ns, 0: none): a store into the program's mmap-ed
 * .bss after a fresh sample for the deadline clock (two BPF_PROG_TEST_RUN calls), cheap
 * enough for every lease renewal.
 */
int netfault_rule_deadline(struct netfault *nf, int slot, uint64_t deadline_ns);

/*
 * The tick (ns) of the jiffies clock the program checks deadlines with, or 0 when it uses the
 * coarse clock (include/faultline/netfault.h, NETFAULT_COARSE_SLACK_NS).
 */
uint64_t netfault_clock_tick(const struct netfault *nf);

/* Take a rule out of force and free its slot. */
int netfault_rule_remove(struct netfault *nf, int slot);

/*
 * Load a jitter distribution table (n values, 1..NETFAULT_DIST_MAX, in NETFAULT_DIST_SCALE
 * units of the jitter) for DELAY rules of that distribution. -EINVAL for uniform or a bad n.
 */
int netfault_dist_load(struct netfault *nf, enum netfault_dist dist, const int16_t *v, size_t n);

/*
 * The hash of a DNS name in wire format (lower case), as the program computes it for each
 * suffix of a query name: the key of its dns_names map.
 */
uint64_t netfault_dns_hash(const uint8_t *wire, size_t len);

/* A rule's counters, summed over the CPUs. */
int netfault_rule_counters(struct netfault *nf, int slot, struct netfault_counters *out);

/* Exempt a flow (-EEXIST when it already is), or stop exempting it (-ENOENT when it was not). */
int netfault_exempt_add(struct netfault *nf, const struct netfault_exempt *ex);
int netfault_exempt_remove(struct netfault *nf, const struct netfault_exempt *ex);

/* The program of a hook (NETFAULT_HOOK_*), for BPF_PROG_TEST_RUN and inspection; -EINVAL. */
int netfault_prog_fd(const struct netfault *nf, enum netfault_hook hook);

/*
 * Crash recovery: remove the filters at NETFAULT_TC_PRIORITY / NETFAULT_TC_HANDLE on the
 * interface's clsact hooks whose program is named NETFAULT_PROG_INGRESS / _EGRESS, and the
 * steering filter (NETFAULT_STEER_PRIORITY, ingress) when its program is NETFAULT_PROG_STEER
 * (never anything else). With NETFAULT_CLEANUP_QDISC, delete clsact too when no filter is left on it
 * (the caller knows from its journal that we created it). *removed (may be NULL) gets the
 * number of filters removed.
 */
int netfault_cleanup_leftover(int ifindex, unsigned int flags, int *removed);

#endif
