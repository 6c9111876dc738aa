/*
 * Network faults on interfaces: the per-interface registry (one struct netfault, one program
 * instance with 64 rule slots, shared by every network fault on the interface: opened and
 * attached by the first, detached when the last is reverted), the exemptions that keep the
 * control channel and the policy's protected peers out of every fault, and the machinery the
 * rule-based fault types share (fault_net_*.c): target -> rules, journal, counters, crash
 * cleanup. docs/network-faults.md describes the whole. The public interface of six files:
 *   netif.c          the registry and every fault's lifecycle on it: lookup, probe, validate,
 *                    attach, detach, revert, unwind, apply_action, free, the shaper's owner
 *   netif_exempt.c   exemptions: the policy's (netif_set_policy), the requester's SSH
 *                    session (netif_ssh_connection), reference-counted per interface
 *   netif_rules.c    target -> rules, their deadlines, the jitter table, steering, removal
 *   netif_status.c   resolve and status (the counters of the fault's rules)
 *   netif_shaped.c   the shaping faults' root tree and IFB records, their undo and counters
 *   netif_cleanup.c  crash cleanup of those records
 * netif_impl.h is what they share behind this header.
 */
#ifndef FL_NETIF_H
#define FL_NETIF_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <linux/capability.h>

#include "netfault.h"
#include "netns.h"

struct agent;
struct fault;
struct fault_target;
struct netif;
struct policy;

/*
 * The capabilities every network fault needs after start-up: CAP_NET_ADMIN for tc and
 * rtnetlink, CAP_BPF to load the programs and use their maps, CAP_SYS_PTRACE to read the
 * requester's /proc/PID/environ (a controller with more capabilities than the agent keeps is
 * otherwise out of reach). Not CAP_PERFMON: bpf/netfault.bpf.c passes the verifier without
 * it; not CAP_SYS_ADMIN: agent/net/netfault.c detaches by program id, never opening programs.
 */
#define NETIF_CAPS (1ULL << CAP_NET_ADMIN | 1ULL << CAP_BPF | 1ULL << CAP_SYS_PTRACE)

/*
 * What a fault type makes its rules do is a struct netfault_rule_spec (netfault.h) with only
 * its action members set (action, prob, ge, classid, delay_ns, jitter_ns, corr, dist, dns_*):
 * netif_fault_add_rules() sets the match members (dirs, proto, ports, addresses, deadline,
 * fault_exempt) from the fault's target, whatever act holds there.
 */

/*
 * The part of every network fault's f->priv that this module manages. Types that need more
 * hang it on ext (freed with ext_free).
 */
struct netif_fault {
	struct netns_ref ns; /* the namespace the interface is in (fd -1: the agent's own) */
	struct netif *nif;   /* NULL until attached */
	int ifindex;
	char ifname[16];
	int slots[NETFAULT_MAX_RULES]; /* rule slots this fault holds */
	unsigned int slot_dirs[NETFAULT_MAX_RULES];
	size_t n_slots;
	size_t add_from; /* n_slots when the last netif_fault_add_rules() began */
	bool peer_ssh; /* the requester's SSH session is exempted */
	bool steering; /* holds the interface's steering filter */
	/*
	 * The directions (NETFAULT_DIR_*) whose shaper this fault holds or will hold once
	 * applied, claimed at validate (netif_shaper_claim()); the first member's only.
	 */
	unsigned int shaper_dirs;
	struct netfault_exempt peer_ex;
	char peer_desc[96];
	void *ext;
	void (*ext_free)(void *ext);
	/*
	 * The same fault in the next selected container's namespace, when a container target
	 * selects several (count, percent, all): each member has its own ns, interface, rules
	 * and exemption; ext, the steering and the shaper role are the first member's only
	 * (the shaping types act in one namespace). NULL: none.
	 */
	struct netif_fault *next;
	/* The first member's: how a container target's count or percent chose the members. */
	struct netns_pick pick;
};

/*
 * The first member before m (head: the fault's first) whose interface runs the same program
 * instance as m's (netfault_open_shared()): its rules are m's. NULL when there is none.
 */
const struct netif_fault *netif_fault_program_peer(const struct netif_fault *head,
						   const struct netif_fault *m);

/*
 * The ifindex of an interface in the agent's network namespace. -ENODEV with err
 * "target.interface: no interface 'X' on this host".
 */
int netif_lookup(const char *name, int *ifindex, char *err, size_t size);

/*
 * CAP_SYS_ADMIN: kept when the host has it (caps_optional of every network type), needed
 * only to setns() into the namespace of a netns or container target; without it such targets
 * are refused (netns_ref_open()).
 */
#define NETIF_CAPS_NETNS (1ULL << CAP_SYS_ADMIN)

/* fault_ops.probe of the rule-based types: the clsact + cls_bpf mechanism. */
int netif_probe(const struct agent *a, char *why, size_t size);

/*
 * validate for every network fault: the namespace a netns or container target names is
 * opened (nf->ns), the interface exists there (default: the one of its default route), the target
 * fits in the rule slots (exp_fault_rule_slots_check(), the count `faultctl validate` and `plan`
 * check too), and the requester's SSH session is found (walking up from f->peer_pid to sshd). Sets
 * f->priv.
 */
int netif_fault_validate(struct agent *a, struct fault *f, char *err, size_t size);

/*
 * resolve for every network fault (after netif_fault_validate): the interface, whether it is
 * up, its addresses, the peers and ports the rules would match and the requester's SSH
 * session that stays exempt. Changes nothing. 0 or -ENOMEM.
 */
int netif_fault_resolve(struct agent *a, struct fault *f, json_t **out, char *err, size_t size);

/*
 * Hook the fault on its interface: journal {"interface", "ifindex", "clsact_created"} in
 * f->undo, then open and attach the interface's instance if it is not yet, and hold the
 * requester's SSH exemption on it.
 */
int netif_fault_attach(struct fault *f, char *err, size_t size);

/*
 * Add the rules the fault's target translates into, in the given directions, each doing act's
 * action (its match members are not read).
 */
int netif_fault_add_rules(struct fault *f, unsigned int dirs, const struct netfault_rule_spec *act,
			  char *err, size_t size);

/*
 * Load a jitter distribution table into the interface's program (DELAY rules of that
 * distribution read it). Tables are per interface and distribution, the same for every fault
 * (they come from the same file), so loading one again is harmless.
 */
int netif_fault_dist_load(struct fault *f, enum netfault_dist dist, const int16_t *v, size_t n,
			  char *err, size_t size);

/*
 * Ingress shaping: the interface's steering filter, sending what SHAPE rules match to the IFB
 * device ifb_ifindex; held by this fault (one per interface). netif_fault_unsteer() removes
 * it (idempotent; netif_fault_detach() does too).
 */
int netif_fault_steer(struct fault *f, int ifb_ifindex, char *err, size_t size);
int netif_fault_unsteer(struct fault *f, char *err, size_t size);

/*
 * fault_ops.lease_renewed of every network type: the rules' deadlines follow the lease's
 * (f->lease->deadline_ns), so the program lets them lapse on its own if the agent dies.
 */
void netif_fault_lease_renewed(struct fault *f);

/* Take the fault's rules out (idempotent). */
int netif_fault_remove_rules(struct fault *f, char *err, size_t size);

/* Rules out, exemption dropped, interface released (detached if it was the last). Idempotent. */
int netif_fault_detach(struct fault *f, char *err, size_t size);

/* fault_ops.revert of the rule-based types: netif_fault_detach(). */
int netif_fault_revert(struct agent *a, struct fault *f, char *err, size_t size);

/* Undo a partial apply (errors are logged; the caller's revert retries). */
void netif_fault_unwind(struct fault *f);

/*
 * fault_ops.apply of the rule-based types, given the rule's action: netif_fault_attach(), then
 * netif_fault_add_rules() in the fault's directions; a failure is unwound.
 */
int netif_fault_apply_action(struct fault *f, const struct netfault_rule_spec *act, char *err,
			     size_t size);

/* netif_fault_apply_action() with an action that takes only a probability (in ppm). */
int netif_fault_apply_prob(struct fault *f, enum netfault_action action, uint32_t probability_ppm,
			   char *err, size_t size);

/*
 * fault_ops.validate of a probability type whose correlation the eBPF data path cannot draw:
 * a correlation is refused, naming what ("duplication"); else netif_fault_validate().
 */
int netif_fault_validate_uncorrelated(struct agent *a, struct fault *f, uint32_t correlation_ppm,
				      const char *what, char *err, size_t size);

/* The fault's directions as NETFAULT_DIR_* bits. */
unsigned int netif_dirs(const struct fault *f);

/* The interface and the counters of the fault's rules, for describe(). */
json_t *netif_fault_status(const struct fault *f);

/*
 * Crash cleanup of the interface part of an undo record: after checking that the ifindex
 * still has the recorded name, remove our filters (and clsact, when we created it and nothing
 * else is on it). A gone interface is clean. Appends to report.
 */
int netif_fault_cleanup(struct agent *a, const json_t *undo, char *report, size_t size);

/*
 * Crash cleanup of the types that replace a root qdisc or add an IFB device (bandwidth,
 * latency): netif_fault_cleanup(), then, in the same namespace (the record's "netns"), the IFB
 * device named in "ingress_ifb" if it is ours and the root tree recorded in "egress_root" put
 * back if the root is still ours.
 */
int netif_shaper_cleanup(struct agent *a, const json_t *undo, char *report, size_t size);

/*
 * What a shaping fault (bandwidth, latency) changes besides its rules: the egress root tree it
 * replaces (recorded at validate, journaled as "egress_root" before the replace, put back
 * exactly on undo: agent/net/tc_root.c) and the IFB device of ours that ingress goes through
 * (journaled as "ingress_ifb" before it is created). Embedded in the type's state (nf->ext);
 * crash cleanup of the same record is netif_shaper_cleanup().
 */
struct netif_shaped {
	json_t *root;	    /* egress: the recorded root tree (also in f->undo) */
	bool root_replaced; /* egress: our qdisc may be at the root */
	char replaced[96];  /* the recorded root, described for logs and the status */
	char ifb[16];	    /* ingress: our IFB device */
	char ifb_alias[64];
	int ifb_ifindex;
	bool ifb_created;
};

/*
 * validate: record the interface's root (read in its namespace), refusing (err) one that
 * could not be put back.
 */
int netif_shaped_snapshot(struct fault *f, struct netif_shaped *s, char *err, size_t size);

/*
 * apply, egress, right before the type replaces the root: journal the recorded root, then
 * count the root as ours (root_replaced) for undo. 0 or -errno with err.
 */
int netif_shaped_record_root(struct fault *f, struct netif_shaped *s, char *err, size_t size);

/*
 * apply, ingress (from a step: in the interface's namespace, where the device is created):
 * journal, then create the IFB device flifbIFINDEX, aliased "faultline ingress
 * PURPOSE of IFNAME" (what crash cleanup checks before deleting it). 0 or -errno with err.
 */
int netif_shaped_create_ifb(struct fault *f, struct netif_shaped *s, const char *purpose, char *err,
			    size_t size);

/*
 * Put back what apply changed (netif_shaped_of(f)), idempotent: rules and steering off first
 * (nothing is sent to a qdisc going away), the IFB device deleted and the root put back in the
 * interface's namespace, the interface released.
 */
int netif_shaped_undo(struct fault *f, char *err, size_t size);

/*
 * Counters of our root qdisc (root) or of our HTB class on ifindex (in the namespace of f's
 * interface), for describe(): bytes, packets, drops, backlog_bytes, and overlimits when asked;
 * JSON null when unreadable.
 */
json_t *netif_shaped_stats(const struct fault *f, int ifindex, bool root, bool overlimits);

/* After a failed apply: netif_shaped_undo(), its error logged (the core's revert retries). */
void netif_shaped_unwind(struct fault *f);

/* The struct netif_shaped that starts the type's state (nf->ext), or NULL. */
struct netif_shaped *netif_shaped_of(const struct fault *f);

/*
 * One direction's part of a shaping fault's apply, run in the namespace of the interface (on
 * a thread that entered it, for a netns or container target), so that the qdiscs it installs
 * and the IFB device it creates are there; 0 or -errno with err.
 */
typedef int netif_shaped_step(struct fault *f, char *err, size_t size);

/*
 * fault_ops.apply of the shaping types: netif_fault_attach(), the fault marked as its
 * interface's shaper, then egress and ingress in the fault's directions; a failure is unwound.
 * Their state (nf->ext) starts with its struct netif_shaped.
 */
int netif_shaped_apply(struct fault *f, netif_shaped_step *egress, netif_shaped_step *ingress,
		       char *err, size_t size);

/*
 * apply, ingress, once the IFB device has its qdisc: the interface's matching packets steered
 * into it and the fault's ingress rules added with the shape action.
 */
int netif_shaped_steer(struct fault *f, struct netif_shaped *s, char *err, size_t size);

/* fault_ops.revert of the shaping types: netif_shaped_undo() of netif_shaped_of(f). */
int netif_shaped_revert(struct agent *a, struct fault *f, char *err, size_t size);

/* Release what s holds (not s itself); NULL is fine. */
void netif_shaped_release(struct netif_shaped *s);

/*
 * fault_ops.target_container of the rule-based types: the container the fault's namespace
 * was opened for (its id, main process and namespace inode); -ENOENT for any other target.
 */
int netif_fault_target_container(const struct fault *f, struct fault_target *t);

/*
 * fault_ops.target_members of the rule-based types: the containers of a fault over several
 * (one per member); -ENOENT for a fault in one namespace or over namespaces not containers'.
 */
int netif_fault_target_members(const struct fault *f, struct fault_target **out, size_t *n);

/*
 * fault_ops.drop_member of the rule-based types, under netif_lane: the member in container id
 * taken out of the fault. Its rules are removed from its interface's program unless another
 * member's interface runs the same program (a fault over several containers loads one for
 * all: its rules stay, for the others), its requester exemption dropped, its interface
 * released (the program detached there, the shared program's reference dropped), its
 * namespace reference closed, and the journal record rewritten without it ("more_netns", or
 * the first member's record replaced by the next one's) and synced. -ENOENT: no such
 * member; -EBUSY: it is the last one.
 */
int netif_fault_drop_member(struct fault *f, const char *id, char *err, size_t size);

/* fault_ops.free_priv of every network fault. */
void netif_fault_free(struct fault *f);

/*
 * The fault_ops members every rule-based network type (loss, corruption, duplication,
 * partition, dns) shares: its name, the capabilities, the clsact probe and the rule
 * lifecycle (revert, resolve, status, crash cleanup, lease renewal, free, the watch of a
 * fault over several containers: target_members, drop_member). Such a type's
 * table is {NETIF_RULE_OPS("network.x"), .validate = ..., .apply = ...}, plus
 * .target_container = netif_fault_target_container when it follows a container's restarts.
 * The shaping types (latency, bandwidth) probe, revert, describe and clean up differently.
 * Every network type applies and reverts off the loop, one at a time under netif_lane
 * (below): dozens of namespaces take seconds.
 */
#define NETIF_RULE_OPS(type_name)                                                           \
	.name = (type_name), .caps = NETIF_CAPS, .caps_optional = NETIF_CAPS_NETNS,         \
	.probe = netif_probe, .revert = netif_fault_revert, .resolve = netif_fault_resolve, \
	.describe = netif_fault_status, .cleanup = netif_fault_cleanup,                     \
	.free_priv = netif_fault_free, .lease_renewed = netif_fault_lease_renewed,          \
	.target_members = netif_fault_target_members,                                       \
	.drop_member = netif_fault_drop_member, .off_loop = true, .revert_off_loop = true,  \
	.lane = &netif_lane

/*
 * The fault_ops members the shaping types (latency, bandwidth) share: name, capabilities,
 * revert of the recorded root and IFB (netif_shaped_revert), crash cleanup of the same record
 * (netif_shaper_cleanup) and the rule lifecycle; such a type's table is
 * {NETIF_SHAPED_OPS("network.x"), .probe = ..., .validate = ..., .apply = ..., .describe = ...}.
 * It follows a container's restarts (target_container) and, as every network type, applies
 * and reverts off the loop, one at a time under netif_lane: dozens of namespaces take seconds.
 */
#define NETIF_SHAPED_OPS(type_name)                                                 \
	.name = (type_name), .caps = NETIF_CAPS, .caps_optional = NETIF_CAPS_NETNS, \
	.revert = netif_shaped_revert, .resolve = netif_fault_resolve,              \
	.cleanup = netif_shaper_cleanup, .free_priv = netif_fault_free,             \
	.lease_renewed = netif_fault_lease_renewed,                                 \
	.target_container = netif_fault_target_container, .off_loop = true,         \
	.revert_off_loop = true, .lane = &netif_lane

/*
 * The lane of every network type (fault_ops.lane): held around each apply and revert (on a
 * worker thread of the loop's pool, where they run), by a policy change, and by a revert
 * that frees an attached fault. The registry, the exemptions and the interfaces' rule slots
 * change only under it. What the loop reads without it: a fault's own interface while it
 * holds it (describe, lease_renewed), the fault list (netif_shaper_claim()).
 */
extern pthread_mutex_t netif_lane;

/*
 * validate of a shaping type: another live fault (active, or still being applied) that holds
 * or claims the shaper of f's interface in any of these directions, or NULL, and then f
 * claims them (nf->shaper_dirs). Reads the agent's fault list on the loop, not the registry.
 */
struct fault *netif_shaper_claim(struct fault *f, unsigned int dirs);

/* Mark f as the shaper of its interface in dirs (0 to clear). */
void netif_shaper_set(struct fault *f, unsigned int dirs);

/*
 * The policy's protected peers (protected_cidrs: every protocol and port) and ports
 * (protected_ports, TCP and UDP, as local or remote port) become exemptions on every
 * interface attached now and later. Replaces the previous policy's; NULL clears. 0, or
 * -E2BIG with err when they need more exemption entries than an interface has room for.
 * netif_fault_validate() calls it with a->policy whenever that is not the policy installed
 * last; call it directly to apply a reloaded policy to active faults at once.
 */
int netif_set_policy(const struct policy *p, char *err, size_t size);

/*
 * The SSH session of a process or of its nearest ancestor below sshd: $SSH_CONNECTION from
 * /proc/PID/environ. 0 with conn set; -ENOENT when there is none.
 */
int netif_ssh_connection(pid_t pid, char *conn, size_t size, pid_t *found);

#endif
